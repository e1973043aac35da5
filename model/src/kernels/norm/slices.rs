//! Batch normalisation in training mode, optionally followed by a ReLU, and its backward, in
//! two passes over the activations each way (burn's composition makes about ten, with two
//! transposed copies). Statistics per channel over images and positions, accumulated in `f64`;
//! the variance is the biased one, as burn's and PyTorch's training mode use.
//!
//! Activations are `[batch, channels, plane]` (`plane` = positions per channel and image).

use alloc::vec;
use alloc::vec::Vec;

use crate::kernels::gemm::{for_each_chunk, written};
use crate::kernels::trace::{Route, count};

/// The layout of the activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NormShape {
    /// Images.
    pub batch: usize,
    /// Channels.
    pub channels: usize,
    /// Positions per channel and image.
    pub plane: usize,
}

impl NormShape {
    fn count(&self) -> f64 {
        (self.batch * self.plane) as f64
    }
}

/// Runs `f(channel, chunk)` on every `plane`-long chunk of `out` (image-major).
fn per_plane<T: Send>(out: &mut [T], s: &NormShape, f: impl Fn(usize, &mut [T]) + Send + Sync) {
    for_each_chunk(out, s.plane, |j, chunk| f(j % s.channels, chunk));
}

/// Per channel, the sums `(Σ a, Σ b)` of `g(channel, chunk index)` over the plane-chunks of
/// every image (each chunk summed on its own, side by side when rayon is at hand).
fn channel_sums(
    s: &NormShape,
    g: impl Fn(usize, usize) -> (f64, f64) + Send + Sync,
) -> Vec<(f64, f64)> {
    let chunks = s.batch * s.channels;
    #[cfg(feature = "rayon")]
    let per_chunk: Vec<(f64, f64)> = {
        use rayon::prelude::*;
        (0..chunks)
            .into_par_iter()
            .map(|j| g(j % s.channels, j))
            .collect()
    };
    #[cfg(not(feature = "rayon"))]
    let per_chunk: Vec<(f64, f64)> = (0..chunks).map(|j| g(j % s.channels, j)).collect();
    let mut sums = vec![(0.0f64, 0.0f64); s.channels];
    for (j, (a, b)) in per_chunk.into_iter().enumerate() {
        let c = &mut sums[j % s.channels];
        c.0 += a;
        c.1 += b;
    }
    sums
}

/// Each channel's mean and biased variance.
pub fn moments(x: &[f32], s: &NormShape) -> (Vec<f32>, Vec<f32>) {
    let plane = s.plane;
    let sums = channel_sums(s, |_, j| {
        let chunk = &x[j * plane..(j + 1) * plane];
        // f32 partial sums over short runs, f64 across them: fast and accurate enough.
        chunk.chunks(256).fold((0.0f64, 0.0f64), |(a, b), run| {
            let (sa, sb) = run
                .iter()
                .fold((0.0f32, 0.0f32), |(sa, sb), &v| (sa + v, sb + v * v));
            (a + sa as f64, b + sb as f64)
        })
    });
    let n = s.count();
    sums.into_iter()
        .map(|(sum, squares)| {
            let mean = sum / n;
            (mean as f32, (squares / n - mean * mean).max(0.0) as f32)
        })
        .unzip()
}

/// Per channel, the scale and shift that normalise and apply `gamma`, `beta`.
fn affine(gamma: &[f32], beta: &[f32], mean: &[f32], var: &[f32], epsilon: f64) -> Vec<(f32, f32)> {
    (0..gamma.len())
        .map(|c| {
            let inv_std = 1.0 / (var[c] as f64 + epsilon).sqrt();
            let scale = gamma[c] as f64 * inv_std;
            (
                scale as f32,
                (beta[c] as f64 - mean[c] as f64 * scale) as f32,
            )
        })
        .collect()
}

/// `y = gamma·(x − mean)/√(var + ε) + beta`, then `max(y, 0)` when `relu`.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    var: &[f32],
    epsilon: f64,
    relu: bool,
    s: &NormShape,
) -> Vec<f32> {
    count(Route::BatchNormForward);
    let coefficients = affine(gamma, beta, mean, var, epsilon);
    let mut y = x.to_vec();
    per_plane(&mut y, s, |c, chunk| {
        let (scale, shift) = coefficients[c];
        if relu {
            chunk
                .iter_mut()
                .for_each(|v| *v = (*v * scale + shift).max(0.0));
        } else {
            chunk.iter_mut().for_each(|v| *v = *v * scale + shift);
        }
    });
    y
}

/// Batch normalisation with fixed statistics (inference), plus `residual` (laid out as `x`)
/// when given, then `max(·, 0)` when `relu`: one pass instead of burn's six (sub, div, mul,
/// add, then compare and select for the ReLU), each allocating. burn's arithmetic in burn's
/// order, `(x − mean) / √(var + ε) · γ + β`, so the values are exactly those of its composition.
#[allow(clippy::too_many_arguments)]
pub fn inference(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    var: &[f32],
    epsilon: f64,
    residual: Option<&[f32]>,
    relu: bool,
    s: &NormShape,
) -> Vec<f32> {
    count(Route::BatchNormInference);
    let epsilon = epsilon as f32;
    written(x.len(), s.plane, |j, chunk, _| {
        let c = j % s.channels;
        let (mean, std, gamma, beta) = (mean[c], (var[c] + epsilon).sqrt(), gamma[c], beta[c]);
        let x = &x[j * s.plane..(j + 1) * s.plane];
        let y = |v: f32| (v - mean) / std * gamma + beta;
        let relu = |v: f32| if relu && v < 0.0 { 0.0 } else { v };
        match residual {
            Some(r) => {
                let r = &r[j * s.plane..(j + 1) * s.plane];
                for ((out, &v), &r) in chunk.iter_mut().zip(x).zip(r) {
                    out.write(relu(r + y(v)));
                }
            }
            None => {
                for (out, &v) in chunk.iter_mut().zip(x) {
                    out.write(relu(y(v)));
                }
            }
        }
    })
}

/// The gradients `(dx, dgamma, dbeta)` of [`forward`] with the batch's own statistics (the
/// training mode: `mean` and `var` depend on `x`), given the output's gradient `dy`.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    x: &[f32],
    dy: &[f32],
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    var: &[f32],
    epsilon: f64,
    relu: bool,
    s: &NormShape,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    count(Route::BatchNormBackward);
    let plane = s.plane;
    let coefficients = affine(gamma, beta, mean, var, epsilon);
    let inv_std: Vec<f32> = var
        .iter()
        .map(|&v| (1.0 / (v as f64 + epsilon).sqrt()) as f32)
        .collect();
    // The ReLU passes the gradient where its input was positive.
    let passed = |c: usize, x: f32, g: f32| -> f32 {
        let (scale, shift) = coefficients[c];
        if !relu || x * scale + shift > 0.0 {
            g
        } else {
            0.0
        }
    };
    let sums = channel_sums(s, |c, j| {
        let (xs, gs) = (
            &x[j * plane..(j + 1) * plane],
            &dy[j * plane..(j + 1) * plane],
        );
        let (m, r) = (mean[c], inv_std[c]);
        xs.chunks(256)
            .zip(gs.chunks(256))
            .fold((0.0f64, 0.0f64), |(a, b), (xr, gr)| {
                let (sa, sb) = xr
                    .iter()
                    .zip(gr)
                    .fold((0.0f32, 0.0f32), |(sa, sb), (&xv, &gv)| {
                        let g = passed(c, xv, gv);
                        (sa + g, sb + g * (xv - m) * r)
                    });
                (a + sa as f64, b + sb as f64)
            })
    });
    let n = s.count();
    let dbeta: Vec<f32> = sums.iter().map(|&(a, _)| a as f32).collect();
    let dgamma: Vec<f32> = sums.iter().map(|&(_, b)| b as f32).collect();
    let mut dx = vec![0.0f32; x.len()];
    for_each_chunk(&mut dx, plane, |j, out| {
        let c = j % s.channels;
        let (sum_g, sum_gx) = sums[c];
        let (mean_g, mean_gx) = ((sum_g / n) as f32, (sum_gx / n) as f32);
        let (m, r) = (mean[c], inv_std[c]);
        let scale = gamma[c] * r;
        let (xs, gs) = (
            &x[j * plane..(j + 1) * plane],
            &dy[j * plane..(j + 1) * plane],
        );
        for ((d, &xv), &gv) in out.iter_mut().zip(xs).zip(gs) {
            let normalised = (xv - m) * r;
            *d = scale * (passed(c, xv, gv) - mean_g - normalised * mean_gx);
        }
    });
    (dx, dgamma, dbeta)
}
