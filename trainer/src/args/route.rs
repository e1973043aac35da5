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

/// Every route with its flag name and what it is.
pub(crate) const ROUTES: [(&str, GpuConvolution, &str); 4] = [
    (
        "direct",
        GpuConvolution::Direct,
        "burn's own convolution (without autotune: direct kernels, forward and backward)",
    ),
    (
        "unfolded",
        GpuConvolution::Unfolded,
        "one matrix multiply over the unfolded input, gradients as matrix multiplies too",
    ),
    (
        "implicit-gemm",
        GpuConvolution::ImplicitGemm,
        "burn-cubecl's implicit-GEMM kernels, forward and both gradients, on tensor cores \
         (TF32 on CUDA) where the GPU has them, else burn's direct kernels",
    ),
    (
        "cudnn",
        GpuConvolution::Cudnn,
        "NVIDIA's cuDNN, forward and both gradients (CUDA only; TF32, as PyTorch)",
    ),
];

/// The flag name of `route`.
pub(crate) fn name(route: GpuConvolution) -> &'static str {
    ROUTES
        .iter()
        .find(|(_, r, _)| *r == route)
        .map_or("direct", |(n, _, _)| n)
}

/// The routes worth timing on `device`: none off a GPU; the implicit GEMM only where the device
/// launches it (else it is the direct kernels again); cuDNN only where it can run.
pub(crate) fn candidates(device: &Device) -> Vec<GpuConvolution> {
    if !modnet::kernels::conv2d::unfolded::on_cubecl(&burn::tensor::Tensor::<1>::zeros([1], device))
    {
        return Vec::new();
    }
    let mut routes = vec![GpuConvolution::Direct, GpuConvolution::Unfolded];
    #[cfg(any(feature = "wgpu", feature = "cuda"))]
    if modnet::kernels::conv2d::cube::implicit_gemm_on(device, burn::tensor::FloatDType::F32) {
        routes.push(GpuConvolution::ImplicitGemm);
    }
    if GpuConvolution::Cudnn.refusal(device).is_none() {
        routes.push(GpuConvolution::Cudnn);
    }
    routes
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
                    bail!("--gpu-conv {}: {why}", name(route));
                }
                return Ok(route);
            }
            GpuConvChoice::Auto => candidates(device),
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
                Ok(Err(e)) => eprintln!("gpu-conv auto: {} failed ({e:#}); left out", name(route)),
                Err(_) => eprintln!("gpu-conv auto: {} panicked; left out", name(route)),
            }
        }
        let Some(&(fastest, _)) = timed.iter().min_by(|a, b| a.1.total_cmp(&b.1)) else {
            bail!("--gpu-conv auto: no convolution route ran on this device");
        };
        let table: Vec<String> = timed
            .iter()
            .map(|(r, s)| format!("{} {:.1} ms", name(*r), s * 1e3))
            .collect();
        eprintln!(
            "gpu-conv auto: {} per {work} → {}",
            table.join(", "),
            name(fastest)
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
    let named = ROUTES
        .iter()
        .map(|(name, _, help)| PossibleValue::new(name).help(help));
    PossibleValuesParser::new(std::iter::once(auto).chain(named)).map(|flag| {
        ROUTES
            .iter()
            .find(|(name, _, _)| *name == flag)
            .map_or(GpuConvChoice::Auto, |(_, route, _)| {
                GpuConvChoice::Route(*route)
            })
    })
}
