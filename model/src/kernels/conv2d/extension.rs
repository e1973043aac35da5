//! The convolution as a burn operation: a backend-extension trait (burn's own operations as the
//! default bodies), implemented for Flex on [`super::direct`]'s kernels and for burn's cubecl
//! backend on its implicit-GEMM kernels (`cube.rs`). Its autodiff side is `backward.rs`.

use burn::backend::TensorMetadata;
use burn::backend::ops::ConvOptions;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, backend_extension};
use burn::tensor::Tensor;

use super::GpuConvolution;
#[cfg(feature = "cpu-kernels")]
use {
    super::direct,
    super::shape::ConvShape,
    crate::kernels::flex::{flex, values},
    burn::backend::Flex,
    burn::backend::flex::FlexTensor,
};

/// [`ConvKernels::modnet_conv2d`] on burn tensors (the caller checked that ours runs).
pub(super) fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Tensor<1>,
    [ph, pw]: [usize; 2],
    route: GpuConvolution,
) -> Tensor<4> {
    let out = <burn::backend::Dispatch as ConvKernels>::modnet_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
        ph,
        pw,
        route,
    );
    Tensor::from_dispatch(out)
}

/// Convolutions at stride 1 with zero padding `(ph, pw)`, no groups or dilation, `route` saying
/// how a GPU runs them (the CPU ignores it; the backward keeps it). The default bodies are burn's
/// own operations; Flex overrides them with [`super::direct`]'s kernels (on `f32`
/// tensors: the wrappers in `kernels` call these only then), burn's cubecl backend with its
/// implicit-GEMM kernels (`cube.rs`).
#[backend_extension(
    Flex: cfg(feature = "cpu-kernels"),
    Cube: cfg(feature = "gpu-kernels"),
    Autodiff: cfg(any(feature = "cpu-kernels-autodiff", feature = "gpu-kernels"))
)]
pub trait ConvKernels: Backend {
    /// `x` `[n, c_in, h, w]`, `weight` `[c_out, c_in, kh, kw]`, `bias` `[c_out]` →
    /// `[n, c_out, oh, ow]`.
    fn modnet_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        ph: usize,
        pw: usize,
        _route: GpuConvolution,
    ) -> FloatTensor<Self> {
        Self::conv2d(x, weight, Some(bias), options(ph, pw))
    }

    /// The gradient of [`ConvKernels::modnet_conv2d`] for `x`, from the output's gradient `dy`.
    fn modnet_conv2d_input_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        ph: usize,
        pw: usize,
        _route: GpuConvolution,
    ) -> FloatTensor<Self> {
        Self::conv2d_x_backward(x, weight, dy, options(ph, pw))
    }

    /// The gradient for `weight`.
    fn modnet_conv2d_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        ph: usize,
        pw: usize,
        _route: GpuConvolution,
    ) -> FloatTensor<Self> {
        Self::conv2d_weight_backward(x, weight, dy, options(ph, pw))
    }

    /// The gradient for `bias`: `dy` summed over images and positions.
    fn modnet_conv2d_bias_grad(dy: FloatTensor<Self>) -> FloatTensor<Self> {
        let [n, c, h, w] = dy.shape().dims::<4>();
        let dy = Self::float_reshape(dy, [n, c, h * w].into());
        let summed = Self::float_sum_dim(Self::float_sum_dim(dy, 2), 0);
        Self::float_reshape(summed, [c].into())
    }
}

pub(super) fn options(ph: usize, pw: usize) -> ConvOptions<2> {
    ConvOptions::new([1, 1], [ph, pw], [1, 1], 1)
}

#[cfg(feature = "cpu-kernels")]
fn shape_of(x: &FlexTensor, weight: &FlexTensor, ph: usize, pw: usize) -> ConvShape {
    ConvShape::of(x.shape().dims::<4>(), weight.shape().dims::<4>(), [ph, pw])
}

#[cfg(feature = "cpu-kernels")]
impl ConvKernels for Flex {
    fn modnet_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        ph: usize,
        pw: usize,
        _route: GpuConvolution,
    ) -> FloatTensor<Self> {
        let s = shape_of(&x, &weight, ph, pw);
        let out = direct::forward(&values(&x), &values(&weight), Some(&values(&bias)), &s);
        flex(out, [s.batch, s.c_out, s.oh(), s.ow()])
    }

    fn modnet_conv2d_input_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        ph: usize,
        pw: usize,
        _route: GpuConvolution,
    ) -> FloatTensor<Self> {
        let s = shape_of(&x, &weight, ph, pw);
        flex(
            direct::input_grad(&values(&weight), &values(&dy), &s),
            [s.batch, s.c_in, s.h, s.w],
        )
    }

    fn modnet_conv2d_weight_grad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        ph: usize,
        pw: usize,
        _route: GpuConvolution,
    ) -> FloatTensor<Self> {
        let s = shape_of(&x, &weight, ph, pw);
        flex(
            direct::weight_grad(&values(&x), &values(&dy), &s),
            [s.c_out, s.c_in, s.kh, s.kw],
        )
    }
}
