//! `--gpu-conv`: how the model's convolutions run on a GPU — one route by name, or `auto`, which
//! times each route this device can take on the command's own work (a training step for
//! `train` and `bench`, a forward pass for the commands that tag) and keeps the fastest.

use anyhow::{Context, Result};
use burn::tensor::Device;
use modnet::GpuConvolution;
use modnet_audio::route::{self, RouteTimes};

/// What `--gpu-conv` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GpuConvChoice {
    /// This route.
    Route(GpuConvolution),
    /// The fastest route on this device, timed (CPU devices: nothing to choose).
    Auto,
}

/// What each route is, for `--help`.
fn help(route: GpuConvolution) -> &'static str {
    match route {
        GpuConvolution::Direct => {
            "burn's own convolution (without autotune: direct kernels, forward and backward)"
        }
        GpuConvolution::Unfolded => {
            "one matrix multiply over the unfolded input, gradients as matrix multiplies too"
        }
        GpuConvolution::ImplicitGemm => {
            "burn-cubecl's implicit-GEMM kernels, forward and both gradients, on tensor cores \
             (TF32 on CUDA) where the GPU has them, else burn's direct kernels"
        }
        GpuConvolution::Cudnn => {
            "NVIDIA's cuDNN, forward and both gradients (CUDA only; TF32, as PyTorch)"
        }
        GpuConvolution::PerPass => {
            "each convolution's forward pass and each gradient by whichever route above was \
             fastest for that pass and shape, timed at its first run (`bench` prints the choices)"
        }
    }
}

impl GpuConvChoice {
    /// The route to use on `device`: the one asked for (refused with a sentence where it cannot
    /// run there at all), or under `auto` the fastest as `time` measures it at `work` (what
    /// was timed is said in one line, a route left out in another; on the CPU nothing is timed
    /// and the route is irrelevant).
    pub(crate) fn resolve(
        self,
        device: &Device,
        work: &str,
        time: impl FnOnce() -> Result<Option<RouteTimes>>,
    ) -> Result<GpuConvolution> {
        let asked = match self {
            GpuConvChoice::Route(route) => Some(route),
            GpuConvChoice::Auto => None,
        };
        let flag = asked.map_or("auto", GpuConvolution::name);
        let settled =
            route::settle(asked, device, time).with_context(|| format!("--gpu-conv {flag}"))?;
        if let Some(times) = &settled.times {
            for (route, why) in &times.left_out {
                eprintln!("gpu-conv auto: {} {why}; left out", route.name());
            }
            eprintln!("{}", times.line(work));
        }
        // Off a GPU the route is irrelevant: the one asked for is kept, to be shown.
        Ok(settled.route.or(asked).unwrap_or(GpuConvolution::Direct))
    }
}

/// `--gpu-conv auto|direct|unfolded|implicit-gemm|cudnn|per-pass`, parsed into a [`GpuConvChoice`].
pub(crate) fn parser() -> impl clap::builder::TypedValueParser<Value = GpuConvChoice> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    let auto = PossibleValue::new("auto").help(
        "time each route this GPU can take on the command's own work and keep the fastest \
         (on the CPU: nothing to choose)",
    );
    let named = GpuConvolution::ALL
        .into_iter()
        .map(|route| PossibleValue::new(route.name()).help(help(route)));
    PossibleValuesParser::new(std::iter::once(auto).chain(named)).map(|flag| {
        GpuConvolution::from_name(&flag).map_or(GpuConvChoice::Auto, GpuConvChoice::Route)
    })
}
