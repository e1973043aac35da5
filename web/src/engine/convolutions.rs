//! How the WebGPU engine runs the model's convolutions: the route the address names
//! (`?gpu-conv=`), or the fastest of the routes this GPU has ([`GpuConvolution::candidates`]:
//! burn's own and the unfolded form), timed on the model just loaded, as the trainer's
//! `--gpu-conv auto` does for the commands that tag, or at an earlier visit (the page remembers,
//! `crate::route_memory`). Which is faster depends on the GPU, so it is measured where the page
//! runs rather than decided here.

use super::read;
use crate::browser::now_millis;
use crate::messages::Convolutions;
use burn::tensor::{Device, Distribution, Tensor};
use modnet::{GpuConvolution, ModNet, TAG_BATCH};

/// What the page asks of the route: the address's `?gpu-conv=` (a route's name, or `auto` to
/// time them again), and the routes it remembers from earlier visits.
pub(super) struct Asked<'a> {
    pub name: Option<&'a str>,
    pub remembered: &'a [Convolutions],
}

/// The route for `model` on `device` (the GPU the browser describes as `adapter`): the one
/// `asked` names when this device has it, else the one remembered for this GPU and model, else
/// the fastest at a forward pass of [`TAG_BATCH`] chunks, timed once after an untimed pass of
/// one chunk (it compiles the route's shaders) — few runs, as a software GPU takes seconds for
/// each. `None` on the CPU (nothing to choose).
/// `timing(route, index, count)` is called as each route's timing starts.
pub(super) async fn choose(
    model: &ModNet,
    device: &Device,
    adapter: &str,
    asked: Asked<'_>,
    timing: impl Fn(GpuConvolution, usize, usize),
) -> Result<Option<Convolutions>, String> {
    let routes = GpuConvolution::candidates(device);
    if routes.is_empty() {
        return Ok(None);
    }
    // The model's summary names its front-end, widths and size, which decide the routes' speed.
    let key = format!(
        "{adapter} | {} | {} samples a chunk",
        model.summary(),
        model.config().chunk_samples
    );
    let chosen = |route, timed, note, earlier| Convolutions {
        route,
        timed,
        note,
        key: key.clone(),
        earlier,
    };
    let note = match asked
        .name
        .map(|name| (name, GpuConvolution::from_name(name)))
    {
        Some((_, Some(route))) if routes.contains(&route) => {
            return Ok(Some(chosen(route, Vec::new(), None, false)));
        }
        Some(("auto", _)) => None,
        Some((name, _)) => {
            let names: Vec<&str> = routes.iter().map(|r| r.name()).collect();
            Some(format!(
                "?gpu-conv={name} is not a route of this engine ({}): each was timed instead",
                names.join(", ")
            ))
        }
        None => {
            let earlier = asked
                .remembered
                .iter()
                .find(|c| c.key == key && routes.contains(&c.route));
            if let Some(c) = earlier {
                return Ok(Some(chosen(c.route, c.timed.clone(), None, true)));
            }
            None
        }
    };
    let chunk = model.config().chunk_samples;
    let chunks =
        |n: usize| Tensor::<2>::random([n, chunk], Distribution::Uniform(-0.5, 0.5), device);
    let (one, batch) = (chunks(1), chunks(TAG_BATCH));
    let mut timed = Vec::with_capacity(routes.len());
    let count = routes.len();
    for (index, route) in routes.into_iter().enumerate() {
        timing(route, index + 1, count);
        let mut model = model.clone();
        model.set_gpu_convolution(route);
        // The first run compiles the route's shaders; one chunk does that as well as a batch.
        forward(&model, &one).await?;
        let started = now_millis();
        forward(&model, &batch).await?;
        timed.push((route, now_millis() - started));
    }
    let route = timed
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(GpuConvolution::Direct, |(route, _)| *route);
    Ok(Some(chosen(route, timed, note, false)))
}

/// One forward pass of `x`, waited for (its probabilities read back).
async fn forward(model: &ModNet, x: &Tensor<2>) -> Result<(), String> {
    let probabilities = model.probabilities(x.clone()).map_err(|e| e.to_string())?;
    read(probabilities).await.map(drop)
}
