//! Ceil-mode max pooling over non-overlapping windows, every route side by side: on Flex the
//! project's kernel ([`slices`]: the backward finds each window's maximum again instead of
//! keeping indices), as a burn operation (`extension.rs`, backward in `backward.rs`); burn's
//! `max_pool2d` elsewhere.

#[cfg(feature = "cpu-kernels-autodiff")]
mod backward;
#[cfg(feature = "cpu-kernels")]
mod extension;
#[cfg(feature = "cpu-kernels")]
pub(crate) mod slices;
#[cfg(all(test, feature = "cpu-kernels"))]
mod tests;

#[cfg(feature = "cpu-kernels")]
pub use extension::PoolKernels;

use burn::tensor::Tensor;

/// Max pooling over `[ph, pw]` windows at stride `[ph, pw]`, ceil mode: ours on Flex (forward
/// and backward), burn's elsewhere.
///
/// - x: `[n, c, h, w]` → `[n, c, ⌈h/ph⌉, ⌈w/pw⌉]`
pub fn max_pool(x: Tensor<4>, [ph, pw]: [usize; 2]) -> Tensor<4> {
    #[cfg(feature = "cpu-kernels")]
    if super::runs_ours(&x) {
        let out =
            <burn::backend::Dispatch as PoolKernels>::modnet_max_pool(x.into_dispatch(), ph, pw);
        return Tensor::from_dispatch(out);
    }
    let options = burn::tensor::ops::MaxPoolOptions::new([ph, pw]).with_ceil_mode(true);
    burn::tensor::module::max_pool2d(x, options)
}
