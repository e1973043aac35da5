//! The ResNet's 3×3 convolutions (stride 1, padding 1) by Winograd's minimal filtering
//! F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): each
//! 2×2 block of outputs ("tile") comes from a 4×4 patch of the input through 16 products
//! instead of 36, so the multiplies shrink 2.25×:
//!
//! - weights: `U = G g Gᵀ` (4×4 per output and input channel), as 16 matrices `[c_out, c_in]`;
//! - input: `V = Bᵀ d B` per 4×4 patch `d` and channel, as 16 matrices `[c_in, tiles]`;
//! - 16 matrix multiplies `M_ξ = U_ξ · V_ξ` (`[c_out, tiles]`);
//! - output: `Y = Aᵀ M A` (2×2) per tile and output channel, plus the bias.
//!
//! F(4×4, 3×3) ([`Tile::F4`]) is the same with 4×4 tiles from 6×6 patches: 36 products for 16
//! outputs (4× fewer multiplies), 36 matrix multiplies; [`Tile::for_shape`] picks it where it
//! measured faster (the page's large maps).
//!
//! Tiles go in blocks of whole tile rows, so that `V` and `M` stay in the caches. The sums are
//! those of the direct convolution reordered: results agree with it to float rounding (a few
//! units in the sixth digit on this model's layers).

use alloc::vec;
use alloc::vec::Vec;
use core::mem::MaybeUninit;

use super::shape::ConvShape;
use super::winograd_f4::{input_tiles_f4, output_tiles_f4};
use crate::kernels::gemm::{Threads, as_uninit, matmul, with_scratch, written};
use crate::kernels::trace::{Route, count};

/// The tile of Winograd's minimal filtering: `F(m×m, 3×3)` computes an `m×m` block of outputs
/// from an `(m+2)×(m+2)` patch of the input through `(m+2)²` products instead of `9m²`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tile {
    /// `F(2×2, 3×3)`: 16 products for 4 outputs (2.25× fewer multiplies); exact transforms.
    F2,
    /// `F(4×4, 3×3)`: 36 products for 16 outputs (4× fewer multiplies); transforms with
    /// fractions (¼, ⅙, 1/24), so the sums round a little more (a few units in the sixth digit
    /// on this model's layers, as F2).
    F4,
}

impl Tile {
    /// Outputs per tile side (`m`).
    fn side(self) -> usize {
        match self {
            Self::F2 => 2,
            Self::F4 => 4,
        }
    }

    /// Products per tile: `(m+2)²`.
    fn products(self) -> usize {
        (self.side() + 2) * (self.side() + 2)
    }

    /// Tiles per block, about: enough columns for gemm to run at speed, few enough that the
    /// block's transformed input and products stay in the caches.
    fn block_tiles(self) -> usize {
        match self {
            Self::F2 => 256,
            Self::F4 => 128,
        }
    }

    /// The tile for this convolution on this target: F4 in WebAssembly (4-wide SIMD, no fused
    /// multiply-add: the multiplies are the cost) on maps of 16 rows and columns or more; F2
    /// natively and on smaller maps, where F4's partial tiles and short matrix multiplies cost
    /// more than its fewer products save (this model's 10 × 38 layer: 0.4 ms by F2, 0.8 by F4).
    pub fn for_shape(s: &ConvShape) -> Self {
        if cfg!(target_arch = "wasm32") && s.h >= 16 && s.w >= 16 {
            Self::F4
        } else {
            Self::F2
        }
    }
}

/// Whether [`forward`] computes this convolution: 3×3, padding 1, and enough channels and
/// positions that the fewer multiplies pay for the transforms.
pub fn applies(s: &ConvShape) -> bool {
    s.kh == 3
        && s.kw == 3
        && s.ph == 1
        && s.pw == 1
        && s.c_in >= 8
        && s.c_out >= 8
        && s.h * s.w >= 64
}

/// `G g Gᵀ` for every (output, input) channel pair, as `(m+2)²` matrices `[c_out, c_in]`.
fn transform_weights(tile: Tile, weight: &[f32], s: &ConvShape) -> Vec<f32> {
    let (o, c) = (s.c_out, s.c_in);
    let n = tile.side() + 2;
    // The rows of G (n×3) applied to a column (a, b, d) of g.
    let g_rows = |[a, b, d]: [f32; 3]| -> [f32; 6] {
        match tile {
            // G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]].
            Tile::F2 => [a, 0.5 * (a + b + d), 0.5 * (a - b + d), d, 0.0, 0.0],
            // G = [[¼, 0, 0], [−⅙, −⅙, −⅙], [−⅙, ⅙, −⅙], [1/24, 1/12, ⅙], [1/24, −1/12, ⅙],
            // [0, 0, 1]].
            Tile::F4 => [
                a / 4.0,
                -(a + b + d) / 6.0,
                -(a - b + d) / 6.0,
                a / 24.0 + b / 12.0 + d / 6.0,
                a / 24.0 - b / 12.0 + d / 6.0,
                d,
            ],
        }
    };
    let mut u = vec![0.0f32; n * n * o * c];
    for oi in 0..o {
        for ci in 0..c {
            let g = &weight[(oi * c + ci) * 9..][..9];
            // G g: n×3, column by column.
            let mut gg = [[0.0f32; 3]; 6];
            for j in 0..3 {
                let col = g_rows([g[j], g[3 + j], g[6 + j]]);
                for i in 0..n {
                    gg[i][j] = col[i];
                }
            }
            // (G g) Gᵀ: n×n.
            for (i, row) in gg.iter().take(n).enumerate() {
                for (j, v) in g_rows(*row).into_iter().take(n).enumerate() {
                    u[((i * n + j) * o + oi) * c + ci] = v;
                }
            }
        }
    }
    u
}

/// The convolution: `x` `[batch, c_in, h, w]`, `weight` `[c_out, c_in, 3, 3]`, `bias`
/// `[c_out]` → `[batch, c_out, h, w]`, by [`Tile::for_shape`].
pub fn forward(x: &[f32], weight: &[f32], bias: Option<&[f32]>, s: &ConvShape) -> Vec<f32> {
    forward_by(Tile::for_shape(s), x, weight, bias, s)
}

/// The convolution by tiles of `tile`.
pub fn forward_by(
    tile: Tile,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    s: &ConvShape,
) -> Vec<f32> {
    debug_assert!(applies(s));
    count(Route::ConvForwardWinograd);
    let (c, o, h, w) = (s.c_in, s.c_out, s.h, s.w);
    let (side, products) = (tile.side(), tile.products());
    let (tiles_y, tiles_x) = (h.div_ceil(side), w.div_ceil(side));
    let rows_per_block = tile.block_tiles().div_ceil(tiles_x).clamp(1, tiles_y);
    let block = rows_per_block * tiles_x;
    let u = transform_weights(tile, weight, s);
    let image = c * h * w;
    let out_image = o * h * w;
    written(s.batch * out_image, out_image, |n, y, threads| {
        let x = &x[n * image..(n + 1) * image];
        // Each block's output rows in every plane: disjoint pieces, so that blocks can run side
        // by side when there are fewer images than threads (the transforms too, not only the
        // multiplies: at batch 1 they would otherwise run on one thread).
        let starts: Vec<usize> = (0..tiles_y).step_by(rows_per_block).collect();
        let mut pieces: Vec<Vec<&mut [MaybeUninit<f32>]>> =
            starts.iter().map(|_| Vec::with_capacity(o)).collect();
        for plane in y.chunks_mut(h * w) {
            let mut rest = plane;
            for (piece, &ty0) in pieces.iter_mut().zip(&starts) {
                let rows_out = (side * rows_per_block).min(h - side * ty0);
                let (mine, tail) = core::mem::take(&mut rest).split_at_mut(rows_out * w);
                piece.push(mine);
                rest = tail;
            }
        }
        let run = |ty0: usize, planes: &mut [&mut [MaybeUninit<f32>]], threads: Threads| {
            with_scratch(products * (c + o) * block, |scratch| {
                let (v, m) = scratch.split_at_mut(products * c * block);
                let rows = rows_per_block.min(tiles_y - ty0);
                let t = rows * tiles_x;
                match tile {
                    Tile::F2 => input_tiles(x, s, ty0, rows, block, v),
                    Tile::F4 => input_tiles_f4(x, s, ty0, rows, block, v),
                }
                for xi in 0..products {
                    matmul(
                        threads,
                        (o, t, c),
                        as_uninit(&mut m[xi * o * block..]),
                        false,
                        &u[xi * o * c..],
                        (c, 1),
                        &v[xi * c * block..],
                        (block, 1),
                    );
                }
                match tile {
                    Tile::F2 => output_tiles(m, s, bias, ty0, rows, block, planes),
                    Tile::F4 => output_tiles_f4(m, s, bias, ty0, rows, block, planes),
                }
            })
        };
        match threads {
            #[cfg(feature = "rayon")]
            Threads::All if starts.len() > 1 => {
                use rayon::prelude::*;
                starts
                    .par_iter()
                    .zip(pieces.par_iter_mut())
                    .for_each(|(&ty0, planes)| run(ty0, planes, Threads::One));
            }
            _ => {
                for (&ty0, planes) in starts.iter().zip(&mut pieces) {
                    run(ty0, planes, threads);
                }
            }
        }
    })
}

/// `Bᵀ d B` for the 4×4 patches of tile rows `ty0..ty0 + rows`, into `v` `[16][c_in][block]`.
/// Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0], [0, 1, 0, −1]]. Whole tile rows at a time,
/// so that every loop runs along a row of tiles (vectorised): first the four input rows of the
/// patch combined (`Bᵀ d`), then pairs of columns (`· B`).
fn input_tiles(x: &[f32], s: &ConvShape, ty0: usize, rows: usize, block: usize, v: &mut [f32]) {
    let (c, h, w) = (s.c_in, s.h, s.w);
    let tiles_x = w.div_ceil(2);
    // The rows `Bᵀ d` on a padded grid: one zero on the left, zeros past the plane up to
    // 2·tiles_x + 2 (written once: only the plane's columns change below).
    let len = 2 * tiles_x + 2;
    let mut combined = vec![0.0f32; 4 * len];
    let zeros = vec![0.0f32; w];
    for ci in 0..c {
        let plane = &x[ci * h * w..(ci + 1) * h * w];
        for row in 0..rows {
            let y0 = 2 * (ty0 + row) as isize - 1;
            // Input row `y0 + i`, or zeros outside the plane.
            let input = |i: isize| -> &[f32] {
                let r = y0 + i;
                if r < 0 || r >= h as isize {
                    &zeros
                } else {
                    &plane[r as usize * w..][..w]
                }
            };
            let (p0, p1, p2, p3) = (input(0), input(1), input(2), input(3));
            let (r0, rest) = combined.split_at_mut(len);
            let (r1, rest) = rest.split_at_mut(len);
            let (r2, r3) = rest.split_at_mut(len);
            let (r0, r1, r2, r3) = (
                &mut r0[1..=w],
                &mut r1[1..=w],
                &mut r2[1..=w],
                &mut r3[1..=w],
            );
            for q in 0..w {
                r0[q] = p0[q] - p2[q];
                r1[q] = p1[q] + p2[q];
                r2[q] = p2[q] - p1[q];
                r3[q] = p1[q] - p3[q];
            }
            let t0 = row * tiles_x;
            for (i, r) in combined.chunks(len).enumerate() {
                let at = |j: usize| ((i * 4 + j) * c + ci) * block + t0;
                let (v0, rest) = v[at(0)..].split_at_mut(at(1) - at(0));
                let (v1, rest) = rest.split_at_mut(at(1) - at(0));
                let (v2, v3) = rest.split_at_mut(at(1) - at(0));
                for tx in 0..tiles_x {
                    let (a, b, d, e) = (r[2 * tx], r[2 * tx + 1], r[2 * tx + 2], r[2 * tx + 3]);
                    v0[tx] = a - d;
                    v1[tx] = b + d;
                    v2[tx] = d - b;
                    v3[tx] = b - e;
                }
            }
        }
    }
}

/// `Aᵀ M A` (+ bias) for the tiles of tile rows `ty0..ty0 + rows`, from `m` (16 matrices
/// `[c_out, tiles]`, `block` apart: gemm writes rows as long as the block's tiles) into
/// `planes`, each output channel's rows `2·ty0..` (`w` wide). Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]]. Along rows of tiles, as the input's.
fn output_tiles(
    m: &[f32],
    s: &ConvShape,
    bias: Option<&[f32]>,
    ty0: usize,
    rows: usize,
    block: usize,
    planes: &mut [&mut [MaybeUninit<f32>]],
) {
    let (o, h, w) = (s.c_out, s.h, s.w);
    let tiles_x = w.div_ceil(2);
    let tiles = rows * tiles_x;
    // Aᵀ M for one row of tiles (two rows of 4 per tile), then one output row (2 per tile).
    let mut am = vec![0.0f32; 8 * tiles_x];
    let mut line = vec![0.0f32; 2 * tiles_x];
    for (oi, plane) in planes.iter_mut().enumerate() {
        let b = bias.map_or(0.0, |b| b[oi]);
        for row in 0..rows {
            let t0 = row * tiles_x;
            let e = |xi: usize| &m[xi * o * block + oi * tiles + t0..][..tiles_x];
            for j in 0..4 {
                let (m0, m1, m2, m3) = (e(j), e(4 + j), e(8 + j), e(12 + j));
                let (top, bottom) = am.split_at_mut(4 * tiles_x);
                let (top, bottom) = (
                    &mut top[j * tiles_x..][..tiles_x],
                    &mut bottom[j * tiles_x..][..tiles_x],
                );
                for tx in 0..tiles_x {
                    top[tx] = m0[tx] + m1[tx] + m2[tx];
                    bottom[tx] = m1[tx] - m2[tx] - m3[tx];
                }
            }
            let oy = 2 * (ty0 + row);
            for (i, half) in am.chunks(4 * tiles_x).enumerate() {
                if oy + i >= h {
                    break;
                }
                let (a0, rest) = half.split_at(tiles_x);
                let (a1, rest) = rest.split_at(tiles_x);
                let (a2, a3) = rest.split_at(tiles_x);
                for tx in 0..tiles_x {
                    line[2 * tx] = a0[tx] + a1[tx] + a2[tx] + b;
                    line[2 * tx + 1] = a1[tx] - a2[tx] - a3[tx] + b;
                }
                let first = (oy + i - 2 * ty0) * w;
                for (d, &val) in plane[first..first + w].iter_mut().zip(&line) {
                    *d = MaybeUninit::new(val);
                }
            }
        }
    }
}
