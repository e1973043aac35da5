//! Max pooling over non-overlapping `ph × pw` windows (stride = window), ceil mode: the last
//! window in each direction may be cut by the edge. The backward recomputes each window's
//! maximum from the input (the first one where several are equal, as burn's does) instead of
//! keeping an index tensor.
//!
//! Activations are `[planes, h, w]` (`planes` = images × channels).

use alloc::vec;
use alloc::vec::Vec;

use crate::kernels::gemm::for_each_chunk;
use crate::kernels::trace::{Route, count};

/// The layout of one pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolShape {
    /// Images × channels.
    pub planes: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Window height (and vertical stride).
    pub ph: usize,
    /// Window width (and horizontal stride).
    pub pw: usize,
}

impl PoolShape {
    /// Output height.
    pub fn oh(&self) -> usize {
        self.h.div_ceil(self.ph)
    }
    /// Output width.
    pub fn ow(&self) -> usize {
        self.w.div_ceil(self.pw)
    }
}

/// Where window `(oy, ox)`'s maximum is in the input plane `x` (row-major offset).
fn argmax(x: &[f32], s: &PoolShape, oy: usize, ox: usize) -> usize {
    let (y0, x0) = (oy * s.ph, ox * s.pw);
    let (y1, x1) = ((y0 + s.ph).min(s.h), (x0 + s.pw).min(s.w));
    let mut best = y0 * s.w + x0;
    for y in y0..y1 {
        for xi in x0..x1 {
            let at = y * s.w + xi;
            // Strictly greater keeps the first of equal values; NaN wins, as it propagates.
            if x[at] > x[best] || x[at].is_nan() && !x[best].is_nan() {
                best = at;
            }
        }
    }
    best
}

/// The larger of two values, NaN winning (as in [`argmax`]).
fn larger(a: f32, b: f32) -> f32 {
    if b > a || b.is_nan() { b } else { a }
}

/// `out[i] = max_of(group i)`.
fn groups_max<'a>(
    out: &mut [f32],
    groups: impl Iterator<Item = &'a [f32]>,
    max_of: impl Fn(&[f32]) -> f32,
) {
    for (o, g) in out.iter_mut().zip(groups) {
        *o = max_of(g);
    }
}

/// The pooled planes `[planes, oh, ow]`: for each output row, the larger of its window's rows
/// element by element (contiguous, so it runs on SIMD vectors), then of each `pw`-group of that
/// row. No index is kept: training's backward finds it again. (Window by window, this took
/// 12 % of the page's CPU engine.)
pub fn forward(x: &[f32], s: &PoolShape) -> Vec<f32> {
    count(Route::MaxPoolForward);
    let (oh, ow) = (s.oh(), s.ow());
    let mut out = vec![0.0f32; s.planes * oh * ow];
    for_each_chunk(&mut out, oh * ow, |p, plane| {
        let x = &x[p * s.h * s.w..(p + 1) * s.h * s.w];
        let mut rows_max = vec![0.0f32; s.w];
        for (oy, out) in plane.chunks_mut(ow).enumerate() {
            let y0 = oy * s.ph;
            rows_max.copy_from_slice(&x[y0 * s.w..(y0 + 1) * s.w]);
            for y in y0 + 1..(y0 + s.ph).min(s.h) {
                let row = &x[y * s.w..(y + 1) * s.w];
                for (m, &v) in rows_max.iter_mut().zip(row) {
                    *m = larger(*m, v);
                }
            }
            // Whole windows by fixed-width groups (the compiler vectorises those), then the
            // window the edge cuts.
            let whole = s.w / s.pw;
            let groups = rows_max.chunks_exact(s.pw);
            let cut = groups.remainder();
            let (out_whole, out_cut) = out.split_at_mut(whole);
            match s.pw {
                2 => groups_max(out_whole, groups, |g| larger(g[0], g[1])),
                3 => groups_max(out_whole, groups, |g| larger(larger(g[0], g[1]), g[2])),
                _ => groups_max(out_whole, groups, |g| {
                    g[1..].iter().fold(g[0], |m, &v| larger(m, v))
                }),
            }
            if let Some(o) = out_cut.first_mut() {
                *o = cut[1..].iter().fold(cut[0], |m, &v| larger(m, v));
            }
        }
    });
    out
}

/// The input gradient `[planes, h, w]`: each window's output gradient goes to its maximum.
pub fn backward(x: &[f32], dy: &[f32], s: &PoolShape) -> Vec<f32> {
    count(Route::MaxPoolBackward);
    let (oh, ow) = (s.oh(), s.ow());
    let mut dx = vec![0.0f32; s.planes * s.h * s.w];
    for_each_chunk(&mut dx, s.h * s.w, |p, plane| {
        let x = &x[p * s.h * s.w..(p + 1) * s.h * s.w];
        let dy = &dy[p * oh * ow..(p + 1) * oh * ow];
        for oy in 0..oh {
            for ox in 0..ow {
                plane[argmax(x, s, oy, ox)] += dy[oy * ow + ox];
            }
        }
    });
    dx
}
