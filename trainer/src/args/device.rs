//! The flags of every command that runs a model: which device (`--backend`), how convolutions
//! run on a GPU (`--gpu-conv`), and which weights (`--weights`, the built-in model by default).

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use modnet::{GpuConvolution, ModNet};
use modnet_audio::backend::{Backend, device};
use modnet_audio::files::load_model;

/// Which device computes, and how convolutions run on a GPU.
#[derive(Args, Clone, Debug)]
pub(crate) struct DeviceArgs {
    /// Compute device.
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    pub(crate) backend: Backend,
    /// How convolutions run on a GPU (an experiment: see the README).
    #[arg(long, value_parser = gpu_convolution_parser(), default_value = "direct")]
    pub(crate) gpu_conv: GpuConvolution,
}

impl DeviceArgs {
    /// The device `--backend` names, or a clear error when this build or machine lacks it.
    pub(crate) fn device(&self) -> Result<burn::tensor::Device> {
        device(self.backend)
    }
}

/// The model a command runs.
#[derive(Args, Clone, Debug)]
pub(crate) struct WeightsArgs {
    /// Weights file (default: the built-in model, SincModNet distilled from an MTAT-trained
    /// teacher: the 50 MTAT tags; see MODEL_CARD.md).
    #[arg(long)]
    pub(crate) weights: Option<PathBuf>,
}

impl WeightsArgs {
    /// The model on `device`, its convolutions on a GPU as `on` says.
    pub(crate) fn load(&self, on: &DeviceArgs, device: &burn::tensor::Device) -> Result<ModNet> {
        let mut model = load_model(self.weights.as_deref(), device)?;
        model.set_gpu_convolution(on.gpu_conv);
        Ok(model)
    }
}

/// `--gpu-conv direct|unfolded|implicit-gemm`: how convolutions run on a GPU, parsed straight into the model
/// crate's setting (`modnet::GpuConvolution`, set on the model); the CPU backends ignore it.
fn gpu_convolution_parser() -> impl clap::builder::TypedValueParser<Value = GpuConvolution> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new([
        PossibleValue::new("direct").help(
            "burn's own convolution (without autotune: direct kernels, forward and backward)",
        ),
        PossibleValue::new("unfolded").help(
            "one matrix multiply over the unfolded input, gradients as matrix multiplies too: \
             an experiment until measured on a real GPU (see the README)",
        ),
        PossibleValue::new("implicit-gemm").help(
            "burn-cubecl's implicit-GEMM kernels, forward and both gradients, on tensor cores \
             (TF32 on CUDA) where the GPU has them, else burn's direct kernels: an experiment \
             until measured on a real GPU (see the README)",
        ),
    ])
    .map(|name| match name.as_str() {
        "unfolded" => GpuConvolution::Unfolded,
        "implicit-gemm" => GpuConvolution::ImplicitGemm,
        _ => GpuConvolution::Direct,
    })
}
