//! `--gpu-conv`: how the model's convolutions run on a GPU — one route by name, or `auto`, which
//! times each route this device can take on the command's own work (a training step for
//! `train` and `bench`, a forward pass for the commands that tag) and keeps the fastest.

use std::time::Instant;

use anyhow::{Result, bail};
use burn::tensor::Device;
use modnet::GpuConvolution;

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
    }
}

impl GpuConvChoice {
    /// The route to use on `device`: the one asked for (refused with a sentence where it cannot
    /// run there at all), or under `auto` the fastest of [`candidates`] at `step` — one untimed
    /// run (it compiles the route's kernels), then the best of two timed ones. A route whose
    /// step fails or panics is left out, with a line saying so.
    pub(crate) fn resolve(
        self,
        device: &Device,
        work: &str,
        step: impl Fn(GpuConvolution) -> Result<()>,
    ) -> Result<GpuConvolution> {
        let routes = match self {
            GpuConvChoice::Route(route) => {
                if let Some(why) = route.refusal(device) {
                    bail!("--gpu-conv {}: {why}", route.name());
                }
                return Ok(route);
            }
            GpuConvChoice::Auto => GpuConvolution::candidates(device),
        };
        if routes.is_empty() {
            return Ok(GpuConvolution::Direct);
        }
        let mut timed = Vec::new();
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
                Ok(Err(e)) => eprintln!("gpu-conv auto: {} failed ({e:#}); left out", route.name()),
                Err(_) => eprintln!("gpu-conv auto: {} panicked; left out", route.name()),
            }
        }
        let Some(&(fastest, _)) = timed.iter().min_by(|a, b| a.1.total_cmp(&b.1)) else {
            bail!("--gpu-conv auto: no convolution route ran on this device");
        };
        let table: Vec<String> = timed
            .iter()
            .map(|(r, s)| format!("{} {:.1} ms", r.name(), s * 1e3))
            .collect();
        eprintln!(
            "gpu-conv auto: {} per {work} → {}",
            table.join(", "),
            fastest.name()
        );
        Ok(fastest)
    }
}

/// `--gpu-conv auto|direct|unfolded|implicit-gemm|cudnn`, parsed into a [`GpuConvChoice`].
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
