//! `Tagger(gpu_conv=...)`: how the model's convolutions run on a GPU, as the trainer's
//! `--gpu-conv` (the timing itself is `modnet_audio::route`'s, shared with the trainer).

use anyhow::Context;
use burn::tensor::Device;
use modnet::{GpuConvolution, ModNet};
use modnet_audio::route;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// `gpu_conv` read: `None` for "auto", else the route it names; anything else is refused
/// with the names it takes.
pub(crate) fn parse(gpu_conv: &str) -> PyResult<Option<GpuConvolution>> {
    if gpu_conv == "auto" {
        return Ok(None);
    }
    GpuConvolution::from_name(gpu_conv)
        .map(Some)
        .ok_or_else(|| {
            let names: Vec<String> = GpuConvolution::ALL
                .iter()
                .map(|r| format!("{:?}", r.name()))
                .collect();
            PyValueError::new_err(format!(
                "gpu_conv must be \"auto\" or a route ({}), not {gpu_conv:?}",
                names.join(", ")
            ))
        })
}

/// How a tagger's GPU runs convolutions.
#[derive(Debug, Clone, Default)]
pub(crate) struct GpuRoute {
    /// The route (none on the CPU).
    pub(crate) route: Option<GpuConvolution>,
    /// Each route's seconds per forward pass, where `auto` timed them.
    pub(crate) times: Vec<(GpuConvolution, f64)>,
}

impl GpuRoute {
    /// The times as a Python dict of milliseconds, in the order they were timed.
    pub(crate) fn times_in_ms<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let times = PyDict::new(py);
        for (route, seconds) in &self.times {
            times.set_item(route.name(), seconds * 1e3)?;
        }
        Ok(times)
    }
}

/// The route `model`'s convolutions run by on the GPU, set on it: `asked`, refused where it
/// cannot run there, or the fastest timed at a forward pass of a clip's batch; none on the
/// CPU (nothing to choose: `asked` is only checked).
pub(crate) fn choose(
    asked: Option<GpuConvolution>,
    model: &mut ModNet,
    device: &Device,
) -> anyhow::Result<GpuRoute> {
    let argument = format!("gpu_conv={:?}", asked.map_or("auto", GpuConvolution::name));
    let settled =
        route::settle(asked, device, || route::time_tagging(model, device)).context(argument)?;
    if let Some(route) = settled.route {
        model.set_gpu_convolution(route);
    }
    Ok(GpuRoute {
        route: settled.route,
        times: settled.times.map(|t| t.timed).unwrap_or_default(),
    })
}
