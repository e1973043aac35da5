//! Which convolution route a GPU runs, chosen by timing each route the device can take
//! ([`GpuConvolution::candidates`]) on the caller's own work and keeping the fastest: the
//! trainer's `--gpu-conv auto` (a training step, or a forward pass for the commands that tag)
//! and the Python `Tagger(gpu_conv="auto")`. The web page's engine does the same in its
//! worker, asynchronously (`web/src/engine/convolutions.rs`).

use std::time::Instant;

use anyhow::{Result, bail};
use burn::tensor::{Device, Distribution, Tensor};
use modnet::clip::read_back;
use modnet::{GpuConvolution, ModNet, TAG_BATCH};

/// The routes timed on a device, and the fastest.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteTimes {
    /// The fastest route.
    pub fastest: GpuConvolution,
    /// Each route that ran, with its best time in seconds.
    pub timed: Vec<(GpuConvolution, f64)>,
    /// Each route whose step failed or panicked, with why.
    pub left_out: Vec<(GpuConvolution, String)>,
}

impl RouteTimes {
    /// One line: each route's time per `work`, and the one kept.
    pub fn line(&self, work: &str) -> String {
        let table: Vec<String> = self
            .timed
            .iter()
            .map(|(r, s)| format!("{} {:.1} ms", r.name(), s * 1e3))
            .collect();
        format!(
            "gpu-conv auto: {} per {work} → {}",
            table.join(", "),
            self.fastest.name()
        )
    }
}

/// Times `step` by each route `device` can take — one untimed run (it compiles the route's
/// kernels), then the best of two — and gives the fastest; `None` off a GPU (nothing to
/// choose, nothing run). A route whose step fails or panics is left out; if every one does,
/// that is an error.
pub fn time_routes(
    device: &Device,
    step: impl Fn(GpuConvolution) -> Result<()>,
) -> Result<Option<RouteTimes>> {
    let routes = GpuConvolution::candidates(device);
    if routes.is_empty() {
        return Ok(None);
    }
    let (mut timed, mut left_out) = (Vec::new(), Vec::new());
    for route in routes {
        let once = || -> Result<f64> {
            step(route)?;
            let mut best = f64::INFINITY;
            for _ in 0..2 {
                let started = Instant::now();
                step(route)?;
                best = best.min(started.elapsed().as_secs_f64());
            }
            Ok(best)
        };
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(once)) {
            Ok(Ok(seconds)) => timed.push((route, seconds)),
            Ok(Err(e)) => left_out.push((route, format!("failed ({e:#})"))),
            Err(_) => left_out.push((route, "panicked".to_string())),
        }
    }
    let Some(&(fastest, _)) = timed.iter().min_by(|a, b| a.1.total_cmp(&b.1)) else {
        let why: Vec<String> = left_out
            .iter()
            .map(|(r, why)| format!("{} {why}", r.name()))
            .collect();
        bail!(
            "no convolution route ran on this device: {}",
            why.join("; ")
        );
    };
    Ok(Some(RouteTimes {
        fastest,
        timed,
        left_out,
    }))
}

/// How a GPU's convolution route was settled.
#[derive(Debug, Clone, PartialEq)]
pub struct Settled {
    /// The route; none off a GPU, where there is nothing to choose.
    pub route: Option<GpuConvolution>,
    /// The routes' times, where they were timed.
    pub times: Option<RouteTimes>,
}

/// The route asked for, refused with a sentence where it cannot run on `device` at all, or,
/// with none asked, the fastest as `time` measures it ([`time_routes`], [`time_tagging`]).
/// The callers (the trainer's `--gpu-conv`, Python's `gpu_conv=`) name their argument in the
/// error's context.
pub fn settle(
    asked: Option<GpuConvolution>,
    device: &Device,
    time: impl FnOnce() -> Result<Option<RouteTimes>>,
) -> Result<Settled> {
    if let Some(route) = asked {
        if let Some(why) = route.refusal(device) {
            bail!("{why}");
        }
        let on_gpu = !GpuConvolution::candidates(device).is_empty();
        return Ok(Settled {
            route: on_gpu.then_some(route),
            times: None,
        });
    }
    let times = time()?;
    Ok(Settled {
        route: times.as_ref().map(|t| t.fastest),
        times,
    })
}

/// What [`time_tagging`] times, in words: a forward pass of a clip's batch.
pub fn tagging_work() -> String {
    format!("forward pass of {TAG_BATCH} chunks")
}

/// [`time_routes`] at a forward pass of `model` over [`TAG_BATCH`] chunks of noise (made only
/// when something is timed).
pub fn time_tagging(model: &ModNet, device: &Device) -> Result<Option<RouteTimes>> {
    let chunk = model.config().chunk_samples;
    let x = std::cell::OnceCell::new();
    time_routes(device, |route| {
        let x = x.get_or_init(|| noise(TAG_BATCH, chunk, device));
        let mut timed = model.clone();
        timed.set_gpu_convolution(route);
        read_back::values(timed.probabilities(x.clone())?)?;
        Ok(())
    })
}

/// `batch` chunks of `samples` of noise, the input of timed runs.
pub fn noise(batch: usize, samples: usize, device: &Device) -> Tensor<2> {
    Tensor::random([batch, samples], Distribution::Uniform(-0.5, 0.5), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_timed_on_the_cpu() {
        let ran = std::cell::Cell::new(0);
        let times = time_routes(&Device::flex(), |_| {
            ran.set(ran.get() + 1);
            Ok(())
        })
        .unwrap();
        assert_eq!(times, None);
        assert_eq!(
            ran.get(),
            0,
            "no step runs where there is nothing to choose"
        );
    }

    #[test]
    fn a_route_asked_for_is_checked_not_timed() {
        let flex = Device::flex();
        let never = || -> Result<Option<RouteTimes>> { panic!("nothing is timed when asked") };
        let settled = settle(Some(GpuConvolution::Unfolded), &flex, never).unwrap();
        assert_eq!(
            settled,
            Settled {
                route: None,
                times: None
            },
            "the CPU has no route"
        );
        let refused = settle(Some(GpuConvolution::Cudnn), &flex, never).unwrap_err();
        assert!(format!("{refused}").contains("cuDNN"), "{refused}");
    }

    #[test]
    fn the_line_gives_each_route_and_the_one_kept() {
        let times = RouteTimes {
            fastest: GpuConvolution::Unfolded,
            timed: vec![
                (GpuConvolution::Direct, 0.0125),
                (GpuConvolution::Unfolded, 0.004),
            ],
            left_out: vec![(GpuConvolution::ImplicitGemm, "panicked".into())],
        };
        assert_eq!(
            times.line(&tagging_work()),
            "gpu-conv auto: direct 12.5 ms, unfolded 4.0 ms per forward pass of 4 chunks → unfolded"
        );
    }
}
