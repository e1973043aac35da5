//! Batch normalisation (then a ReLU, or a residual sum and a ReLU), every route side by side:
//! on Flex the project's kernels ([`slices`]: in training one operation each way, statistics in
//! two passes; in inference one pass), as burn operations (`extension.rs`, backward in
//! `backward.rs`); burn's `BatchNorm` elsewhere.

#[cfg(feature = "cpu-kernels-autodiff")]
mod backward;
#[cfg(feature = "cpu-kernels")]
mod extension;
#[cfg(feature = "cpu-kernels")]
pub(crate) mod slices;
#[cfg(all(test, feature = "cpu-kernels"))]
mod tests;

#[cfg(feature = "cpu-kernels")]
pub use extension::{NormInferenceKernels, NormKernels};

use burn::nn::BatchNorm;
use burn::tensor::Tensor;
use burn::tensor::activation::relu;

/// `bn` (then a ReLU when `relu`) on `x`: in training on Flex, one operation of ours forward
/// and backward, with the running statistics updated as burn's `BatchNorm` does; in inference
/// on Flex, one pass of ours; otherwise burn's.
///
/// - x: `[n, c, h, w]` → `[n, c, h, w]`
pub fn batch_norm(bn: &BatchNorm, x: Tensor<4>, then_relu: bool) -> Tensor<4> {
    #[cfg(feature = "cpu-kernels")]
    if super::runs_ours(&x) {
        if !x.is_autodiff() {
            return extension::inference(bn, x, None, then_relu);
        }
        // A frozen layer is burn's.
        if bn.training.is_enabled() {
            return extension::training(bn, x, then_relu);
        }
    }
    let y = bn.forward(x);
    if then_relu { relu(y) } else { y }
}

/// `max(residual + bn(x), 0)`, the end of a residual block: in inference on Flex one pass of
/// ours, otherwise [`batch_norm`] then burn's sum and ReLU.
///
/// - x, residual: `[n, c, h, w]` → `[n, c, h, w]`
pub fn batch_norm_add_relu(bn: &BatchNorm, x: Tensor<4>, residual: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "cpu-kernels")]
    if !x.is_autodiff()
        && !residual.is_autodiff()
        && super::runs_ours(&x)
        && super::runs_ours(&residual)
    {
        return extension::inference(bn, x, Some(residual), true);
    }
    relu(residual + batch_norm(bn, x, false))
}
