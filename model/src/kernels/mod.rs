//! The project's own CPU kernels, where burn's Flex is slow for this model, forward and backward:
//! the stride-1 convolutions of the ResNet (3×3) and of the front-end's polyphase filterbanks
//! ([`conv`]), batch normalisation in training with the ReLU after it ([`norm`]), ceil-mode max
//! pooling in training ([`pool`]); `gemm.rs` holds what they share.
//!
//! They reach burn as backend extensions (`extension.rs`: [`ConvKernels`], [`NormKernels`],
//! [`PoolKernels`]): Flex runs ours, the autodiff backend records our backward (`autodiff.rs`;
//! the weight gradient as matrix multiplies instead of burn's convolution whose kernel is the
//! whole feature map), and every other backend — wgpu, CUDA, NdArray — keeps burn's own
//! operations: [`conv2d`], [`batch_norm`], [`batch_norm_add_relu`] and [`max_pool`] decide by the
//! tensor's device. (The model's convolutions reach [`conv2d`] through
//! [`crate::convolution::conv2d`], which sends those on a GPU to [`crate::unfolded`] first.)

#[cfg(feature = "cpu-kernels-autodiff")]
mod autodiff;
pub mod conv;
mod extension;
pub mod filterbank;
mod gemm;
pub mod norm;
pub mod pool;
mod shape;
pub mod winograd;

pub use extension::{ConvKernels, InferenceKernels, NormKernels, PoolKernels};

use burn::backend::DispatchDevice;
use burn::tensor::{DType, Tensor};

use extension::options;

/// Keeps freed memory in the process instead of handing it back to the system (glibc only;
/// elsewhere nothing changes). Call it once at the start of a native program that trains or
/// tags on the CPU.
///
/// glibc serves every allocation over 32 MB with its own `mmap` and unmaps it when freed, so each
/// training step's activations and unfolded images (tens of MB each) come back as fresh pages:
/// page faults, zeroing by the kernel and TLB shootdowns across threads took a third of a
/// HarmonicCNN-wide training step here (2.0 → 1.3 s with this). The price: the process keeps its
/// peak heap.
pub fn keep_freed_memory() {
    #[cfg(all(feature = "rayon", target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes glibc's tuning parameters; called before threads allocate.
    unsafe {
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TOP_PAD, 256 << 20);
    }
}

/// Whether our kernels run on `t`: an `f32` tensor on Flex, with autodiff only where the
/// extension's autodiff route is built (without it, no backward could be recorded).
fn runs_ours<const D: usize>(t: &Tensor<D>) -> bool {
    matches!(t.device().inner().as_dispatch(), DispatchDevice::Flex(_))
        && (cfg!(feature = "cpu-kernels-autodiff") || !t.is_autodiff())
        && t.dtype() == DType::F32
}

/// Whether our convolution beats Flex's for this shape. Natively, always. In WebAssembly
/// (4-wide SIMD, no rayon) for Winograd's shapes (fewer multiplies) and the front-end's one-row
/// kernels (one matrix multiply per image where Flex runs one per tile of 512 positions, packing
/// the weights again each time); the ResNet's other shapes measured no faster than Flex's.
fn worth_it(x: &Tensor<4>, weight: &Tensor<4>, [ph, pw]: [usize; 2]) -> bool {
    if !cfg!(target_arch = "wasm32") {
        return true;
    }
    let shape = conv::ConvShape::of(x.dims(), weight.dims(), [ph, pw]);
    winograd::applies(&shape) || shape.kh == 1
}

/// A stride-1 convolution with zero padding `[ph, pw]` and a bias: ours on Flex, burn's
/// elsewhere.
///
/// - x: `[n, c_in, h, w]`, weight: `[c_out, c_in, kh, kw]`, bias: `[c_out]`
/// - output: `[n, c_out, h + 2·ph − kh + 1, w + 2·pw − kw + 1]`
pub fn conv2d(x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>, [ph, pw]: [usize; 2]) -> Tensor<4> {
    if !runs_ours(&x) || !worth_it(&x, &weight, [ph, pw]) {
        return burn::tensor::module::conv2d(x, weight, Some(bias), options(ph, pw));
    }
    let out = <burn::backend::Dispatch as ConvKernels>::modnet_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        ph,
        pw,
    );
    Tensor::from_dispatch(out)
}

/// Every row of `input` `[batch, rows, samples]` filtered at `stride` by `kernels` `[N, K]`,
/// which must be symmetric about their centre tap (`K` odd): in inference on Flex by
/// [`filterbank`], half the multiplies of a convolution; `None` elsewhere (the caller then
/// convolves).
///
/// - output: `[batch, N, rows, ⌊(samples − K)/stride⌋ + 1]`
pub fn symmetric_filterbank(
    input: &Tensor<3>,
    kernels: &Tensor<2>,
    stride: usize,
) -> Option<Tensor<4>> {
    let [_, _, samples] = input.dims();
    let [_, k] = kernels.dims();
    if input.is_autodiff()
        || kernels.is_autodiff()
        || !runs_ours(input)
        || !runs_ours(kernels)
        || k % 2 == 0
        || stride == 0
        || samples < k
    {
        return None;
    }
    let half = kernels.clone().narrow(1, 0, k / 2 + 1);
    let out = <burn::backend::Dispatch as InferenceKernels>::modnet_symmetric_filterbank(
        input.clone().into_dispatch(),
        half.into_dispatch(),
        stride,
    );
    Some(Tensor::from_dispatch(out))
}

/// `bn` (then a ReLU when `relu`) on `x`: in training on Flex, one operation of ours forward
/// and backward, with the running statistics updated as burn's `BatchNorm` does; in inference
/// on Flex, one pass of ours; otherwise burn's.
///
/// - x: `[n, c, h, w]` → `[n, c, h, w]`
pub fn batch_norm(bn: &burn::nn::BatchNorm, x: Tensor<4>, relu: bool) -> Tensor<4> {
    let training = x.is_autodiff() && bn.training.is_enabled();
    if !x.is_autodiff() && runs_ours(&x) {
        let [gamma, beta, mean, var] = inference_parameters(bn, &x);
        let out = <burn::backend::Dispatch as InferenceKernels>::modnet_batch_norm_inference(
            x.into_dispatch(),
            gamma,
            beta,
            mean,
            var,
            bn.epsilon,
            relu,
        );
        return Tensor::from_dispatch(out);
    }
    // A frozen layer, and other backends, are burn's.
    if !(training && runs_ours(&x)) {
        let y = bn.forward(x);
        return if relu {
            burn::tensor::activation::relu(y)
        } else {
            y
        };
    }
    let moments = <burn::backend::Dispatch as NormKernels>::modnet_channel_moments(
        x.clone().inner().into_dispatch(),
    );
    let moments = Tensor::<2>::from_inner(Tensor::from_dispatch(moments));
    let [_, c] = moments.dims();
    let (mean, var) = (
        moments.clone().narrow(0, 0, 1).reshape([c]),
        moments.clone().narrow(0, 1, 1).reshape([c]),
    );
    let momentum = bn.momentum;
    let running_mean = bn.running_mean.value_sync().to_device(&x.device());
    let running_var = bn.running_var.value_sync().to_device(&x.device());
    bn.running_mean
        .update((running_mean.mul_scalar(1.0 - momentum) + mean.mul_scalar(momentum)).detach());
    bn.running_var
        .update((running_var.mul_scalar(1.0 - momentum) + var.mul_scalar(momentum)).detach());
    let out = <burn::backend::Dispatch as NormKernels>::modnet_batch_norm(
        x.into_dispatch(),
        bn.gamma.val().into_dispatch(),
        bn.beta.val().into_dispatch(),
        moments.into_dispatch(),
        bn.epsilon,
        relu,
    );
    Tensor::from_dispatch(out)
}

/// `max(residual + bn(x), 0)`, the end of a residual block: in inference on Flex one pass of
/// ours, otherwise [`batch_norm`] then burn's sum and ReLU.
///
/// - x, residual: `[n, c, h, w]` → `[n, c, h, w]`
pub fn batch_norm_add_relu(
    bn: &burn::nn::BatchNorm,
    x: Tensor<4>,
    residual: Tensor<4>,
) -> Tensor<4> {
    if x.is_autodiff() || residual.is_autodiff() || !runs_ours(&x) || !runs_ours(&residual) {
        return burn::tensor::activation::relu(residual + batch_norm(bn, x, false));
    }
    let [gamma, beta, mean, var] = inference_parameters(bn, &x);
    let out = <burn::backend::Dispatch as InferenceKernels>::modnet_batch_norm_add_relu(
        x.into_dispatch(),
        gamma,
        beta,
        mean,
        var,
        residual.into_dispatch(),
        bn.epsilon,
    );
    Tensor::from_dispatch(out)
}

/// `bn`'s γ, β and running mean and variance, on `x`'s device, for the inference kernels.
fn inference_parameters(
    bn: &burn::nn::BatchNorm,
    x: &Tensor<4>,
) -> [burn::backend::tensor::FloatTensor<burn::backend::Dispatch>; 4] {
    let device = x.device();
    [
        bn.gamma.val(),
        bn.beta.val(),
        bn.running_mean.value().to_device(&device),
        bn.running_var.value().to_device(&device),
    ]
    .map(|t| t.into_dispatch())
}

/// Max pooling over `[ph, pw]` windows at stride `[ph, pw]`, ceil mode: ours on Flex (forward
/// and backward), burn's elsewhere.
///
/// - x: `[n, c, h, w]` → `[n, c, ⌈h/ph⌉, ⌈w/pw⌉]`
pub fn max_pool(x: Tensor<4>, [ph, pw]: [usize; 2]) -> Tensor<4> {
    if !runs_ours(&x) {
        let options = burn::tensor::ops::MaxPoolOptions::new([ph, pw]).with_ceil_mode(true);
        return burn::tensor::module::max_pool2d(x, options);
    }
    let out = <burn::backend::Dispatch as PoolKernels>::modnet_max_pool(x.into_dispatch(), ph, pw);
    Tensor::from_dispatch(out)
}
