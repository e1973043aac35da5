//! A bank of filters symmetric about their centre tap (the sinc layers' band-passes: linear
//! phase), at a stride, on every row of one-channel signals, in inference: each pair of samples
//! that meets equal taps is added first, so that half the multiplies remain.
//!
//! `y[f, r, t] = Σ_{k<L} h[f, k]·(x[r, ts + k] + x[r, ts + 2L − k]) + h[f, L]·x[r, ts + L]` for
//! kernels of `2L + 1` taps given by their first `L + 1` (`h`). The signal is first laid out by
//! stride phase (`X[r][φ][p] = x[r, p·s + φ]`), so that both samples of a pair come from
//! contiguous runs; the sums form a `[L + 1, rows·frames]` matrix, and one matrix multiply by
//! `h` writes the output in its final layout.

use alloc::vec::Vec;

use crate::kernels::gemm::{matmul, with_scratch, written};
use crate::kernels::trace::{Route, count};

/// The geometry of one symmetric filterbank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BankShape {
    /// Signals.
    pub batch: usize,
    /// Rows per signal (each filtered alike).
    pub rows: usize,
    /// Samples per row.
    pub samples: usize,
    /// Filters.
    pub filters: usize,
    /// Taps given per filter, the centre included (`L + 1`; the kernels have `2L + 1`).
    pub half: usize,
    /// Stride.
    pub stride: usize,
}

impl BankShape {
    /// Taps of the whole kernel: `2L + 1`.
    pub fn taps(&self) -> usize {
        2 * self.half - 1
    }

    /// Output frames per row: `⌊(samples − taps)/stride⌋ + 1`.
    pub fn frames(&self) -> usize {
        (self.samples - self.taps()) / self.stride + 1
    }
}

/// The filterbank: `x` `[batch, rows, samples]`, `half` `[filters, L + 1]` →
/// `[batch, filters, rows, frames]`.
///
/// # Panics
/// If `samples < 2L + 1`, `L + 1 == 0` or `stride == 0` (the callers check first).
pub fn forward(x: &[f32], half: &[f32], s: &BankShape) -> Vec<f32> {
    count(Route::SymmetricFilterbank);
    assert!(s.half > 0 && s.stride > 0 && s.samples >= s.taps(), "{s:?}");
    let (rows, frames, stride, l) = (s.rows, s.frames(), s.stride, s.half - 1);
    // Positions per phase that the frames read: up to frame − 1 + ⌈taps/stride⌉.
    let positions = frames - 1 + s.taps().div_ceil(stride);
    let columns = rows * frames;
    written(
        s.batch * s.filters * columns,
        s.filters * columns,
        |n, y, threads| {
            let signal = &x[n * rows * s.samples..(n + 1) * rows * s.samples];
            // Both buffers are written wherever they are read: scratch kept between calls, not
            // zero-filled ones per window.
            with_scratch(rows * stride * positions + s.half * columns, |scratch| {
                let (phases, sums) = scratch.split_at_mut(rows * stride * positions);
                // X[r][φ][p] = x[r, p·s + φ] (past the signal: never read by a frame).
                for (row, out) in signal
                    .chunks(s.samples)
                    .zip(phases.chunks_mut(stride * positions))
                {
                    for (i, &v) in row.iter().enumerate().take(positions * stride) {
                        out[(i % stride) * positions + i / stride] = v;
                    }
                }
                // U[k][r][t] = x[r, ts + k] + x[r, ts + 2L − k], and U[L] = x[r, ts + L].
                for (k, u) in sums.chunks_mut(columns).enumerate() {
                    let (a, b) = (k, 2 * l - k);
                    for (r, u) in u.chunks_mut(frames).enumerate() {
                        let run = |i: usize| {
                            &phases[(r * stride + i % stride) * positions + i / stride..][..frames]
                        };
                        if a == b {
                            u.copy_from_slice(run(a));
                        } else {
                            for ((u, p), q) in u.iter_mut().zip(run(a)).zip(run(b)) {
                                *u = p + q;
                            }
                        }
                    }
                }
                matmul(
                    threads,
                    (s.filters, columns, s.half),
                    y,
                    false,
                    half,
                    (s.half, 1),
                    sums,
                    (columns, 1),
                );
            });
        },
    )
}
