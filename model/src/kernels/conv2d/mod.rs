//! The model's stride-1 convolutions (the ResNet's 3×3 ones and the front-end's polyphase
//! one-row ones), every route side by side, picked by the device the input lives on:
//!
//! - Flex: the project's CPU kernels ([`direct`], [`winograd`]), reaching burn as a backend
//!   extension (`extension.rs`, with its backward in `backward.rs`), with the `cpu-kernels`
//!   feature;
//! - burn's cubecl runtimes (wgpu, CUDA) natively, when the model's [`GpuConvolution`] is
//!   [`GpuConvolution::Unfolded`]: the unfolded form ([`unfolded`]), matrix multiplies forward
//!   and backward (through the same extension with the `gpu-kernels` feature, else through
//!   burn's autodiff); when it is [`GpuConvolution::ImplicitGemm`]: burn-cubecl's implicit-GEMM
//!   kernels on tensor cores ([`cube`], the same extension with its own backward), with the
//!   `gpu-kernels` feature; when it is [`GpuConvolution::Cudnn`] on CUDA: NVIDIA's cuDNN
//!   (`cudnn`, through the same extension), with the `cudnn` feature;
//! - elsewhere (NdArray, a GPU by default): burn's own.
//!
//! Which GPU route is fastest depends on the GPU and the model, so the programs time them on the
//! device at hand ([`GpuConvolution::candidates`]): the trainer's `--gpu-conv auto`, and the
//! web page's WebGPU engine when it loads a model (there the candidates are burn's own and the
//! unfolded form: the browser's WGSL has no cooperative matrices, and cuDNN no browser).

#[cfg(any(feature = "cpu-kernels-autodiff", feature = "gpu-kernels"))]
mod backward;
#[cfg(feature = "gpu-kernels")]
pub mod cube;
#[cfg(feature = "cudnn")]
pub mod cudnn;
#[cfg(feature = "cpu-kernels")]
pub(crate) mod direct;
#[cfg(any(feature = "cpu-kernels", feature = "gpu-kernels"))]
mod extension;
#[cfg(feature = "gpu-kernels")]
pub mod per_pass;
#[cfg_attr(not(feature = "cpu-kernels"), allow(dead_code))]
pub(crate) mod shape;
#[cfg(all(test, feature = "cpu-kernels"))]
mod tests;
pub mod unfolded;
#[cfg(feature = "cpu-kernels")]
pub(crate) mod winograd;
#[cfg(feature = "cpu-kernels")]
mod winograd_f4;

#[cfg(any(feature = "cpu-kernels", feature = "gpu-kernels"))]
pub use extension::ConvKernels;
pub use shape::ConvShape;

/// Which of the convolution's passes (ordered as a training step first runs them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pass {
    /// `y = conv(x, w) + b`.
    Forward,
    /// The input's gradient (cuDNN's "backward data").
    InputGrad,
    /// The weight's gradient (cuDNN's "backward filter").
    WeightGrad,
}

impl Pass {
    /// The pass in words, as tables print it.
    pub fn name(self) -> &'static str {
        match self {
            Pass::Forward => "forward",
            Pass::InputGrad => "input gradient",
            Pass::WeightGrad => "weight gradient",
        }
    }
}

use burn::tensor::Tensor;

/// How convolutions run on a GPU (burn's cubecl runtimes): a setting of the model
/// ([`crate::ModNet::set_gpu_convolution`]), not of its weights; the CPU backends ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum GpuConvolution {
    /// burn's own convolution (without autotune: direct kernels, forward and backward).
    #[default]
    Direct,
    /// One matrix multiply over the unfolded input ([`unfolded`]).
    Unfolded,
    /// burn-cubecl's implicit-GEMM kernels for the forward pass and both gradients, where the
    /// device has cooperative matrices (tensor cores), else burn's direct kernels (`cube.rs`;
    /// needs the `gpu-kernels` feature, without which it is [`GpuConvolution::Direct`]).
    ImplicitGemm,
    /// NVIDIA's cuDNN for the forward pass and both gradients on a CUDA device (`cudnn.rs`, the
    /// `cudnn` feature; TF32 allowed, as PyTorch does; algorithms found by timing once per
    /// shape, as PyTorch's `cudnn.benchmark`), else as [`GpuConvolution::ImplicitGemm`].
    Cudnn,
    /// Each pass of each convolution shape by the route above that was fastest for it on this
    /// device, timed at its first run ([`per_pass`]; the `gpu-kernels` feature, natively).
    PerPass,
}

impl GpuConvolution {
    /// Every route, in the order they are timed.
    pub const ALL: [GpuConvolution; 5] = [
        GpuConvolution::Direct,
        GpuConvolution::Unfolded,
        GpuConvolution::ImplicitGemm,
        GpuConvolution::Cudnn,
        GpuConvolution::PerPass,
    ];

    /// The route's name, as the trainer's `--gpu-conv` and the page's `?gpu-conv=` take it.
    pub fn name(self) -> &'static str {
        match self {
            GpuConvolution::Direct => "direct",
            GpuConvolution::Unfolded => "unfolded",
            GpuConvolution::ImplicitGemm => "implicit-gemm",
            GpuConvolution::Cudnn => "cudnn",
            GpuConvolution::PerPass => "per-pass",
        }
    }

    /// The route named `name` ([`GpuConvolution::name`]).
    pub fn from_name(name: &str) -> Option<GpuConvolution> {
        Self::ALL.into_iter().find(|route| route.name() == name)
    }

    /// The routes worth timing on `device`: none off burn's cubecl runtimes (the CPU runs its
    /// own kernels whatever the route); natively with the `gpu-kernels` feature those the
    /// device runs as themselves ([`cube::routes_on`]: the implicit GEMM only where the device
    /// launches it, else it is the direct kernels again; cuDNN only where it can run) and the
    /// choice among them per pass; elsewhere (the web page) burn's own and the unfolded form.
    pub fn candidates(device: &burn::tensor::Device) -> alloc::vec::Vec<GpuConvolution> {
        #[cfg(feature = "gpu-kernels")]
        if !cfg!(target_arch = "wasm32") {
            use burn::backend::DispatchDevice;
            return match device.clone().inner().as_dispatch() {
                DispatchDevice::Cube(d) => {
                    let mut routes = cube::routes_on(d, burn::tensor::FloatDType::F32);
                    routes.push(GpuConvolution::PerPass);
                    routes
                }
                _ => alloc::vec::Vec::new(),
            };
        }
        if !unfolded::on_cubecl(&Tensor::<1>::zeros([1], device)) {
            return alloc::vec::Vec::new();
        }
        alloc::vec![GpuConvolution::Direct, GpuConvolution::Unfolded]
    }

    /// Why this route cannot run on `device` at all, in a sentence; `None` where it can. cuDNN's
    /// route is refused off CUDA or without libcudnn, the choice per pass in a build without
    /// the project's GPU kernels; the others fall back by design (the implicit GEMM to the
    /// direct kernels without cooperative matrices, every route to the CPU's kernels on the
    /// CPU).
    pub fn refusal(self, device: &burn::tensor::Device) -> Option<alloc::string::String> {
        use alloc::string::ToString;
        match self {
            GpuConvolution::Cudnn => cudnn_refusal(device),
            GpuConvolution::PerPass
                if cfg!(target_arch = "wasm32") || !cfg!(feature = "gpu-kernels") =>
            {
                Some(
                    "timing each convolution's passes needs the project's GPU kernels (native \
                     builds with wgpu or CUDA)"
                        .to_string(),
                )
            }
            _ => None,
        }
    }
}

/// [`GpuConvolution::refusal`] of cuDNN's route.
fn cudnn_refusal(device: &burn::tensor::Device) -> Option<alloc::string::String> {
    use alloc::string::ToString;
    #[cfg(feature = "cudnn")]
    {
        use burn::backend::DispatchDevice;
        match device.clone().inner().as_dispatch() {
            DispatchDevice::Cube(burn_cubecl::CubeDevice::Cuda(_)) => cudnn::available().err(),
            _ => Some(
                "cuDNN runs on NVIDIA GPUs through CUDA, and this device is not one".to_string(),
            ),
        }
    }
    #[cfg(not(feature = "cudnn"))]
    {
        let _ = device;
        Some(
            "this build has no cuDNN route (it comes with the CUDA build, the `cudnn` feature)"
                .to_string(),
        )
    }
}

/// A stride-1 convolution with zero padding `[ph, pw]`, by the route the device and `gpu` pick.
///
/// - x: `[n, c_in, h, w]`, weight: `[c_out, c_in, kh, kw]`, bias: `[c_out]`
/// - output: `[n, c_out, h + 2·ph − kh + 1, w + 2·pw − kw + 1]`
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    padding: [usize; 2],
    gpu: GpuConvolution,
) -> Tensor<4> {
    #[cfg(feature = "cpu-kernels")]
    super::trace::saw_convolution((x.dims(), weight.dims(), padding));
    #[cfg(feature = "gpu-kernels")]
    if !cfg!(target_arch = "wasm32") && gpu != GpuConvolution::Direct && unfolded::on_cubecl(&x) {
        let bias = bias.unwrap_or_else(|| Tensor::zeros([weight.dims()[0]], &weight.device()));
        return extension::conv2d(x, weight, bias, padding, gpu);
    }
    // Without the extension (the web page) the unfolded form goes through burn's autodiff.
    if gpu == GpuConvolution::Unfolded && unfolded::on_cubecl(&x) {
        return unfolded::conv2d(x, weight, bias, padding);
    }
    #[cfg(feature = "cpu-kernels")]
    if super::runs_ours(&x) && worth_it(&x, &weight, padding) {
        let bias = bias.unwrap_or_else(|| Tensor::zeros([weight.dims()[0]], &weight.device()));
        return extension::conv2d(x, weight, bias, padding, gpu);
    }
    burn::tensor::module::conv2d(
        x,
        weight,
        bias,
        burn::tensor::ops::ConvOptions::new([1, 1], padding, [1, 1], 1),
    )
}

/// Whether our convolution beats Flex's for this shape. Natively, always. In WebAssembly
/// (4-wide SIMD, no rayon) for Winograd's shapes (fewer multiplies) and the front-end's one-row
/// kernels (one matrix multiply per image where Flex runs one per tile of 512 positions, packing
/// the weights again each time); the ResNet's other shapes measured no faster than Flex's.
#[cfg(feature = "cpu-kernels")]
fn worth_it(x: &Tensor<4>, weight: &Tensor<4>, padding: [usize; 2]) -> bool {
    if !cfg!(target_arch = "wasm32") {
        return true;
    }
    let shape = shape::ConvShape::of(x.dims(), weight.dims(), padding);
    winograd::applies(&shape) || shape.kh == 1
}
