//! Ceil-mode max pooling as a burn operation with its own backward ([`PoolKernels`], autodiff
//! side in `backward.rs`): burn's operations as the default bodies, [`super::slices`] on Flex.

use burn::backend::TensorMetadata;
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Flex, backend_extension};

use super::slices;
use crate::kernels::flex::{flex, flex_like, values};

/// Max pooling over non-overlapping windows in ceil mode, with its own backward (the maximum
/// found again from the input). The default bodies are burn's operations.
#[backend_extension(Flex, Autodiff: cfg(feature = "cpu-kernels-autodiff"))]
pub trait PoolKernels: Backend {
    /// `x` `[n, c, h, w]` → `[n, c, ⌈h/ph⌉, ⌈w/pw⌉]`.
    fn modnet_max_pool(x: FloatTensor<Self>, ph: usize, pw: usize) -> FloatTensor<Self> {
        Self::max_pool2d(x, [ph, pw], [ph, pw], [0, 0], [1, 1], true)
    }

    /// The gradient for `x` from the output's gradient `dy`.
    fn modnet_max_pool_backward(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        ph: usize,
        pw: usize,
    ) -> FloatTensor<Self> {
        let pooled = Self::max_pool2d_with_indices(
            x.clone(),
            [ph, pw],
            [ph, pw],
            [0, 0],
            [1, 1],
            true,
            burn::backend::IntDType::I64,
        );
        Self::max_pool2d_with_indices_backward(
            x,
            [ph, pw],
            [ph, pw],
            [0, 0],
            [1, 1],
            true,
            dy,
            pooled.indices,
        )
        .x_grad
    }
}

fn pool_shape(x: &FlexTensor, ph: usize, pw: usize) -> slices::PoolShape {
    let [n, c, h, w] = x.shape().dims::<4>();
    slices::PoolShape {
        planes: n * c,
        h,
        w,
        ph,
        pw,
    }
}

impl PoolKernels for Flex {
    fn modnet_max_pool(x: FloatTensor<Self>, ph: usize, pw: usize) -> FloatTensor<Self> {
        let s = pool_shape(&x, ph, pw);
        let [n, c, _, _] = x.shape().dims::<4>();
        flex(slices::forward(&values(&x), &s), [n, c, s.oh(), s.ow()])
    }

    fn modnet_max_pool_backward(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        ph: usize,
        pw: usize,
    ) -> FloatTensor<Self> {
        let s = pool_shape(&x, ph, pw);
        flex_like(slices::backward(&values(&x), &values(&dy), &s), &x)
    }
}
