//! The tile transforms of Winograd's F(4×4, 3×3) ([`super::winograd::Tile::F4`]): 6×6 input
//! patches to 36 matrices, 36 products back to 4×4 outputs. `winograd.rs` runs them.

use alloc::vec;
use core::mem::MaybeUninit;

use super::shape::ConvShape;

/// `Bᵀ d B` of F4 for the 6×6 patches of tile rows `ty0..ty0 + rows`, into `v`
/// `[36][c_in][block]`, along rows of tiles as `winograd.rs`'s F2 `input_tiles`. Bᵀ = [[4, 0, −5, 0, 1, 0],
/// [0, −4, −4, 1, 1, 0], [0, 4, −4, −1, 1, 0], [0, −2, −1, 2, 1, 0], [0, 2, −1, −2, 1, 0],
/// [0, 4, 0, −5, 0, 1]].
pub(super) fn input_tiles_f4(
    x: &[f32],
    s: &ConvShape,
    ty0: usize,
    rows: usize,
    block: usize,
    v: &mut [f32],
) {
    let (c, h, w) = (s.c_in, s.h, s.w);
    let tiles_x = w.div_ceil(4);
    // The rows `Bᵀ d` on a padded grid: one zero on the left, zeros past the plane up to
    // 4·tiles_x + 2 (written once: only the plane's columns change below).
    let len = 4 * tiles_x + 2;
    let mut combined = vec![0.0f32; 6 * len];
    let zeros = vec![0.0f32; w];
    for ci in 0..c {
        let plane = &x[ci * h * w..(ci + 1) * h * w];
        for row in 0..rows {
            let y0 = 4 * (ty0 + row) as isize - 1;
            let input = |i: isize| -> &[f32] {
                let r = y0 + i;
                if r < 0 || r >= h as isize {
                    &zeros
                } else {
                    &plane[r as usize * w..][..w]
                }
            };
            let p: [&[f32]; 6] = core::array::from_fn(|i| input(i as isize));
            {
                let mut r = combined.chunks_mut(len).map(|r| &mut r[1..=w]);
                let (r0, r1, r2) = (r.next().unwrap(), r.next().unwrap(), r.next().unwrap());
                let (r3, r4, r5) = (r.next().unwrap(), r.next().unwrap(), r.next().unwrap());
                for q in 0..w {
                    let (d0, d1, d2, d3, d4, d5) =
                        (p[0][q], p[1][q], p[2][q], p[3][q], p[4][q], p[5][q]);
                    r0[q] = 4.0 * d0 - 5.0 * d2 + d4;
                    r1[q] = d3 + d4 - 4.0 * (d1 + d2);
                    r2[q] = d4 - d3 + 4.0 * (d1 - d2);
                    r3[q] = d4 - d2 + 2.0 * (d3 - d1);
                    r4[q] = d4 - d2 - 2.0 * (d3 - d1);
                    r5[q] = 4.0 * d1 - 5.0 * d3 + d5;
                }
            }
            let t0 = row * tiles_x;
            for (i, r) in combined.chunks(len).enumerate() {
                let at = |j: usize| ((i * 6 + j) * c + ci) * block + t0;
                let stride = at(1) - at(0);
                let mut out = v[at(0)..].chunks_mut(stride);
                let (v0, v1, v2) = (
                    out.next().unwrap(),
                    out.next().unwrap(),
                    out.next().unwrap(),
                );
                let (v3, v4) = (out.next().unwrap(), out.next().unwrap());
                let v5 = out.next().unwrap();
                for tx in 0..tiles_x {
                    let e = &r[4 * tx..4 * tx + 6];
                    let (d0, d1, d2, d3, d4, d5) = (e[0], e[1], e[2], e[3], e[4], e[5]);
                    v0[tx] = 4.0 * d0 - 5.0 * d2 + d4;
                    v1[tx] = d3 + d4 - 4.0 * (d1 + d2);
                    v2[tx] = d4 - d3 + 4.0 * (d1 - d2);
                    v3[tx] = d4 - d2 + 2.0 * (d3 - d1);
                    v4[tx] = d4 - d2 - 2.0 * (d3 - d1);
                    v5[tx] = 4.0 * d1 - 5.0 * d3 + d5;
                }
            }
        }
    }
}

/// `Aᵀ M A` (+ bias) of F4 for the tiles of tile rows `ty0..ty0 + rows`, as F2's `output_tiles`.
/// Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, −1, 2, −2, 0], [0, 1, 1, 4, 4, 0], [0, 1, −1, 8, −8, 1]].
pub(super) fn output_tiles_f4(
    m: &[f32],
    s: &ConvShape,
    bias: Option<&[f32]>,
    ty0: usize,
    rows: usize,
    block: usize,
    planes: &mut [&mut [MaybeUninit<f32>]],
) {
    let (o, h, w) = (s.c_out, s.h, s.w);
    let tiles_x = w.div_ceil(4);
    let tiles = rows * tiles_x;
    // Aᵀ M for one row of tiles (four rows of 6 per tile), then one output row (4 per tile).
    let mut am = vec![0.0f32; 24 * tiles_x];
    let mut line = vec![0.0f32; 4 * tiles_x];
    for (oi, plane) in planes.iter_mut().enumerate() {
        let b = bias.map_or(0.0, |b| b[oi]);
        for row in 0..rows {
            let t0 = row * tiles_x;
            let e = |xi: usize| &m[xi * o * block + oi * tiles + t0..][..tiles_x];
            for j in 0..6 {
                let (m0, m1, m2) = (e(j), e(6 + j), e(12 + j));
                let (m3, m4, m5) = (e(18 + j), e(24 + j), e(30 + j));
                let mut out = am
                    .chunks_mut(6 * tiles_x)
                    .map(|a| &mut a[j * tiles_x..][..tiles_x]);
                let (a0, a1) = (out.next().unwrap(), out.next().unwrap());
                let (a2, a3) = (out.next().unwrap(), out.next().unwrap());
                for tx in 0..tiles_x {
                    let (p, q) = (m1[tx] + m2[tx], m1[tx] - m2[tx]);
                    let (r, t) = (m3[tx] + m4[tx], m3[tx] - m4[tx]);
                    a0[tx] = m0[tx] + p + r;
                    a1[tx] = q + 2.0 * t;
                    a2[tx] = p + 4.0 * r;
                    a3[tx] = q + 8.0 * t + m5[tx];
                }
            }
            let oy = 4 * (ty0 + row);
            for (i, part) in am.chunks(6 * tiles_x).enumerate() {
                if oy + i >= h {
                    break;
                }
                let a: [&[f32]; 6] = core::array::from_fn(|j| &part[j * tiles_x..][..tiles_x]);
                for tx in 0..tiles_x {
                    let (p, q) = (a[1][tx] + a[2][tx], a[1][tx] - a[2][tx]);
                    let (r, t) = (a[3][tx] + a[4][tx], a[3][tx] - a[4][tx]);
                    line[4 * tx] = a[0][tx] + p + r + b;
                    line[4 * tx + 1] = q + 2.0 * t + b;
                    line[4 * tx + 2] = p + 4.0 * r + b;
                    line[4 * tx + 3] = q + 8.0 * t + a[5][tx] + b;
                }
                let first = (oy + i - 4 * ty0) * w;
                for (d, &val) in plane[first..first + w].iter_mut().zip(&line) {
                    *d = MaybeUninit::new(val);
                }
            }
        }
    }
}
