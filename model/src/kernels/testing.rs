//! What the kernels' tests share: values back from a tensor, varied output weights, a
//! comparison at a relative tolerance, and a check that our route ran.

use alloc::vec::Vec;

use burn::tensor::{Device, Tensor};

use super::trace::{Route, runs};

/// Relative tolerance of the comparisons with burn (of the largest magnitude): our kernels sum
/// in another order than burn's, and Winograd's transforms add a few units in the sixth digit
/// (measured: at most ~2e-6 relative on these shapes; this leaves a margin of ~50×).
pub(crate) const TOLERANCE: f32 = 1e-4;

pub(crate) fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    crate::clip::read_back::values(t).unwrap()
}

/// A different weight for every output position, so that each position's gradient differs.
pub(crate) fn varied(dims: [usize; 4], device: &Device) -> Tensor<4> {
    let count = dims.iter().product::<usize>() as i64;
    Tensor::<1, burn::tensor::Int>::arange(0..count, device)
        .float()
        .reshape(dims)
        .sin()
}

pub(crate) fn assert_close(what: &str, ours: &[f32], burn: &[f32]) {
    assert_eq!(ours.len(), burn.len(), "{what}: sizes");
    let scale = burn.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    let worst = ours
        .iter()
        .zip(burn)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        worst <= TOLERANCE * scale,
        "{what}: max |ours − burn| {worst:e} on values up to {scale:e}"
    );
}

/// Runs `f` and asserts that it ran each of `routes` of ours on this thread (so that a
/// comparison with burn compared our kernel, not burn's with itself).
pub(crate) fn ran<R>(what: &str, routes: &[Route], f: impl FnOnce() -> R) -> R {
    let before: Vec<u64> = routes.iter().map(|&r| runs(r)).collect();
    let out = f();
    for (&route, before) in routes.iter().zip(before) {
        assert!(runs(route) > before, "{what}: {route:?} did not run");
    }
    out
}
