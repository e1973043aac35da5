//! The symmetric filterbank as a burn operation ([`FilterbankKernels`], inference only): burn's
//! one-dimensional convolution as the default body, [`super::symmetric`] on Flex.

use burn::backend::TensorMetadata;
use burn::backend::ops::ConvOptions;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Flex, backend_extension};

use super::symmetric;
use crate::kernels::flex::{flex, values};

/// A bank of filters symmetric about their centre tap, given by their first half, at a stride.
/// No autodiff: called only on tensors that record no graph.
#[backend_extension(Flex)]
pub trait FilterbankKernels: Backend {
    /// Every row of `x` `[n, rows, samples]` filtered at `stride` by the symmetric kernels of
    /// `2L + 1` taps whose first `L + 1` are `half` `[filters, L + 1]` →
    /// `[n, filters, rows, frames]` (no padding).
    fn modnet_symmetric_filterbank(
        x: FloatTensor<Self>,
        half: FloatTensor<Self>,
        stride: usize,
    ) -> FloatTensor<Self> {
        use burn::backend::Slice;
        let [n, rows, samples] = x.shape().dims::<3>();
        let [filters, taps] = half.shape().dims::<2>();
        let left = Self::float_slice(
            half.clone(),
            &[
                Slice::new(0, None, 1),
                Slice::new(0, Some(taps as isize - 1), 1),
            ],
        );
        let kernels = Self::float_cat(alloc::vec![half, Self::float_flip(left, &[1])], 1);
        let kernels = Self::float_reshape(kernels, [filters, 1, 2 * taps - 1].into());
        let x = Self::float_reshape(x, [n * rows, 1, samples].into());
        let options = ConvOptions::new([stride], [0], [1], 1);
        let y = Self::conv1d(x, kernels, None, options);
        let frames = y.shape().dims::<3>()[2];
        let y = Self::float_reshape(y, [n, rows, filters, frames].into());
        Self::float_permute(y, &[0, 2, 1, 3])
    }
}

impl FilterbankKernels for Flex {
    fn modnet_symmetric_filterbank(
        x: FloatTensor<Self>,
        half: FloatTensor<Self>,
        stride: usize,
    ) -> FloatTensor<Self> {
        let [batch, rows, samples] = x.shape().dims::<3>();
        let [filters, half_taps] = half.shape().dims::<2>();
        let s = symmetric::BankShape {
            batch,
            rows,
            samples,
            filters,
            half: half_taps,
            stride,
        };
        let y = symmetric::forward(&values(&x), &values(&half), &s);
        flex(y, [batch, filters, rows, s.frames()])
    }
}

/// Every row of `input` `[batch, rows, samples]` filtered at `stride` by `kernels` `[N, K]`,
/// which must be symmetric about their centre tap (`K` odd): in inference on Flex by
/// [`symmetric`], half the multiplies of a convolution; `None` elsewhere (the caller then
/// convolves).
///
/// - output: `[batch, N, rows, ⌊(samples − K)/stride⌋ + 1]`
pub(super) fn symmetric_filterbank(
    input: &burn::tensor::Tensor<3>,
    kernels: &burn::tensor::Tensor<2>,
    stride: usize,
) -> Option<burn::tensor::Tensor<4>> {
    use crate::kernels::runs_ours;
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
    let out = <burn::backend::Dispatch as FilterbankKernels>::modnet_symmetric_filterbank(
        input.clone().into_dispatch(),
        half.into_dispatch(),
        stride,
    );
    Some(burn::tensor::Tensor::from_dispatch(out))
}
