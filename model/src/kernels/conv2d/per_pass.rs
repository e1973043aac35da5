//! [`GpuConvolution::PerPass`]: each convolution's forward pass and each of its gradients by the
//! route that was fastest for that pass at that shape on that device. No route is fastest
//! everywhere: burn's direct kernels do well on the front-end's few channels and poorly on the
//! weight gradient of wide layers, a matrix multiply the other way round. So the first time a
//! pass of a shape runs, every route the device takes is timed on it (as PyTorch's
//! `cudnn.benchmark` times cuDNN's algorithms at a shape's first run) and the fastest is kept for
//! the rest of the process; [`choices`] lists what was timed and kept (`trainer bench` prints
//! it). A training run pays the timing once, in its first step.

use std::string::String;
use std::sync::Mutex;
use std::vec::Vec;

use super::{ConvShape, GpuConvolution, Pass};

/// One pass of one convolution shape on one device: each route's time and the route kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// The device, as its runtime names it, and the float type.
    pub device: String,
    /// The convolution.
    pub shape: ConvShape,
    /// Which pass.
    pub pass: Pass,
    /// Each route that ran, with its best time in milliseconds (a route that failed or
    /// panicked is absent), in the order they were timed.
    pub times: Vec<(GpuConvolution, f64)>,
    /// The route kept: the fastest of `times` (burn's direct kernels where none ran).
    pub route: GpuConvolution,
}

static CHOSEN: Mutex<Vec<Choice>> = Mutex::new(Vec::new());

/// Every pass timed so far in this process, in the order they were first run.
pub fn choices() -> Vec<Choice> {
    CHOSEN.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The route for `pass` of `shape` on `device`: the one kept earlier, or, at the first call for
/// them, the fastest of `routes()` as `time` measures each (milliseconds; `None` where it
/// failed), then kept. The table is not locked while timing (a pass timed twice at once is kept
/// once).
pub(super) fn route(
    device: &str,
    shape: ConvShape,
    pass: Pass,
    routes: impl FnOnce() -> Vec<GpuConvolution>,
    time: impl FnMut(GpuConvolution) -> Option<f64>,
) -> GpuConvolution {
    let same = |c: &Choice| c.device == device && c.shape == shape && c.pass == pass;
    let known = |chosen: &[Choice]| chosen.iter().find(|c| same(c)).map(|c| c.route);
    if let Some(route) = known(&CHOSEN.lock().unwrap_or_else(|e| e.into_inner())) {
        return route;
    }
    let (route, times) = fastest(&routes(), time);
    let mut chosen = CHOSEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(earlier) = known(&chosen) {
        return earlier;
    }
    chosen.push(Choice {
        device: device.into(),
        shape,
        pass,
        times,
        route,
    });
    route
}

/// The fastest of `routes` by `time` (ties: the first), with each time; burn's direct kernels
/// where no route ran.
fn fastest(
    routes: &[GpuConvolution],
    mut time: impl FnMut(GpuConvolution) -> Option<f64>,
) -> (GpuConvolution, Vec<(GpuConvolution, f64)>) {
    let times: Vec<(GpuConvolution, f64)> = routes
        .iter()
        .filter(|&&r| r != GpuConvolution::PerPass)
        .filter_map(|&r| time(r).map(|ms| (r, ms)))
        .collect();
    let route = times
        .iter()
        .fold(
            None,
            |best: Option<(GpuConvolution, f64)>, &(r, ms)| match best {
                Some((_, fastest)) if fastest <= ms => best,
                _ => Some((r, ms)),
            },
        )
        .map_or(GpuConvolution::Direct, |(r, _)| r);
    (route, times)
}

#[cfg(test)]
mod tests {
    use super::*;
    use GpuConvolution::{Cudnn, Direct, ImplicitGemm, PerPass, Unfolded};
    use std::vec;

    fn shape(c_out: usize) -> ConvShape {
        ConvShape::of([2, 3, 8, 9], [c_out, 3, 3, 3], [1, 1])
    }

    #[test]
    fn the_fastest_route_is_kept_and_failures_are_left_out() {
        let ms = |r| match r {
            Direct => Some(4.0),
            Unfolded => Some(1.5),
            ImplicitGemm => None,
            _ => Some(2.0),
        };
        let (route, times) = fastest(&[Direct, Unfolded, ImplicitGemm, Cudnn], ms);
        assert_eq!(route, Unfolded);
        assert_eq!(times, vec![(Direct, 4.0), (Unfolded, 1.5), (Cudnn, 2.0)]);
        // A tie keeps the first timed; nothing ran: burn's direct kernels.
        assert_eq!(fastest(&[Unfolded, Direct], |_| Some(1.0)).0, Unfolded);
        assert_eq!(fastest(&[Unfolded, Cudnn], |_| None), (Direct, vec![]));
    }

    #[test]
    fn per_pass_never_times_itself() {
        let mut asked = Vec::new();
        fastest(&[Direct, PerPass, Unfolded], |r| {
            asked.push(r);
            Some(1.0)
        });
        assert_eq!(asked, vec![Direct, Unfolded]);
    }

    #[test]
    fn each_pass_shape_and_device_is_timed_once() {
        let device = "per-pass test device";
        let timed = core::cell::Cell::new(0);
        let time = |r| {
            timed.set(timed.get() + 1);
            Some(if r == Unfolded { 1.0 } else { 2.0 })
        };
        let routes = || vec![Direct, Unfolded];
        let first = route(device, shape(5), Pass::WeightGrad, routes, time);
        let again = route(device, shape(5), Pass::WeightGrad, routes, time);
        assert_eq!((first, again, timed.get()), (Unfolded, Unfolded, 2));
        // Another pass, shape or device is timed anew.
        route(device, shape(5), Pass::Forward, routes, time);
        route(device, shape(6), Pass::WeightGrad, routes, time);
        route("another device", shape(5), Pass::WeightGrad, routes, time);
        assert_eq!(timed.get(), 8);
        let kept: Vec<Choice> = choices()
            .into_iter()
            .filter(|c| c.device == device)
            .collect();
        assert_eq!(kept.len(), 3);
        assert_eq!(kept[0].times, vec![(Direct, 2.0), (Unfolded, 1.0)]);
        assert!(kept.iter().all(|c| c.route == Unfolded));
    }
}
