//! Which code computes the model's stride-1 convolutions (the ResNet's 3×3 ones and the
//! front-end's polyphase one-row ones), by the device the input lives on:
//!
//! - Flex: the project's CPU kernels (`kernels`, with the `cpu-kernels` feature);
//! - burn's cubecl runtimes (wgpu, CUDA) natively, when [`GpuConvolution::Unfolded`] is set:
//!   the unfolded form ([`crate::unfolded`]), matrix multiplies forward and backward;
//! - elsewhere (NdArray, a GPU by default, WebGPU in the browser): burn's own.
//!
//! The unfolded form is opt-in until it is measured on a real GPU: burn's direct kernels trained
//! the paper preset at 7.8 clips/s on an NVIDIA H200 (wgpu on Vulkan; PyTorch there: 264), and
//! the unfolded form was written against that, but the only Vulkan device it has run on is
//! lavapipe on 2 CPU cores, where it trained as fast as the direct kernels and tagged slower.

use core::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::Tensor;

use crate::unfolded;

/// How convolutions run on a GPU (burn's cubecl runtimes), for the whole process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GpuConvolution {
    /// burn's own convolution (without autotune: direct kernels, forward and backward).
    #[default]
    Direct,
    /// One matrix multiply over the unfolded input ([`crate::unfolded`]).
    Unfolded,
}

static UNFOLDED_ON_GPU: AtomicBool = AtomicBool::new(false);

/// Sets how convolutions run on a GPU from now on, in every thread.
pub fn set_gpu_convolution(route: GpuConvolution) {
    UNFOLDED_ON_GPU.store(route == GpuConvolution::Unfolded, Ordering::Relaxed);
}

/// How convolutions run on a GPU now.
pub fn gpu_convolution() -> GpuConvolution {
    if UNFOLDED_ON_GPU.load(Ordering::Relaxed) {
        GpuConvolution::Unfolded
    } else {
        GpuConvolution::Direct
    }
}

/// A stride-1 convolution with zero padding `[ph, pw]`.
///
/// - x: `[n, c_in, h, w]`, weight: `[c_out, c_in, kh, kw]`, bias: `[c_out]`
/// - output: `[n, c_out, h + 2·ph − kh + 1, w + 2·pw − kw + 1]`
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    padding: [usize; 2],
) -> Tensor<4> {
    if !cfg!(target_arch = "wasm32")
        && gpu_convolution() == GpuConvolution::Unfolded
        && unfolded::on_cubecl(&x)
        && unfolded::fits(x.dims(), weight.dims(), padding)
    {
        return unfolded::conv2d(x, weight, bias, padding);
    }
    #[cfg(feature = "cpu-kernels")]
    {
        let bias = bias.unwrap_or_else(|| Tensor::zeros([weight.dims()[0]], &weight.device()));
        crate::kernels::conv2d(x, weight, bias, padding)
    }
    #[cfg(not(feature = "cpu-kernels"))]
    burn::tensor::module::conv2d(
        x,
        weight,
        bias,
        burn::tensor::ops::ConvOptions::new([1, 1], padding, [1, 1], 1),
    )
}
