//! A 2-D convolution at stride 1 with zero padding (no groups, no dilation) and its two
//! gradients as matrix multiplies, the way fast libraries compute them. Each image is copied
//! once, channels last and padded; for kernel row `ky` the unfolded image (`[kw·c_in, P]`, `P`
//! positions on the padded grid) is then a strided view of that copy, which gemm packs as it
//! reads, so nothing is unfolded in memory (an `im2col` copy was 15 % of a step):
//!
//! - forward: `y = Σ_ky W_ky · view_ky` (`[c_out, kw·c_in] × [kw·c_in, P]`), the columns past
//!   the output's width dropped;
//! - weight gradient: `dW_ky = Σₙ dy · view_kyᵀ` (`[c_out, P] × [P, kw·c_in]`);
//! - input gradient: the forward convolution of `dy` with the kernel flipped (channels swapped).
//!
//! With 64 input channels or more, each image is unfolded instead (`im2col`) and multiplied
//! once (`[c_out, c_in·kh·kw] × [c_in·kh·kw, P]`): one long multiply beats `kh` short ones.
//!
//! Plain `f32` slices in and out, batch items side by side on rayon's threads when the `rayon`
//! feature is on; the matrix multiplies are `gemm`'s (burn's Flex uses the same crate).

use alloc::vec;
use alloc::vec::Vec;
use core::mem::MaybeUninit;

use super::shape::ConvShape;
use crate::kernels::gemm::{as_uninit, matmul, per_image, with_scratch, written};
use crate::kernels::trace::{Route, count};

/// Unfolds one image `[c_in, h, w]` into `cols` `[K, P]`.
fn im2col(x: &[f32], s: &ConvShape, cols: &mut [f32]) {
    let (oh, ow, p) = (s.oh(), s.ow(), s.positions());
    for ci in 0..s.c_in {
        let plane = &x[ci * s.h * s.w..(ci + 1) * s.h * s.w];
        for ky in 0..s.kh {
            for kx in 0..s.kw {
                let row = &mut cols[((ci * s.kh + ky) * s.kw + kx) * p..][..p];
                let (first, last) = s.columns(kx);
                for oy in 0..oh {
                    let out = &mut row[oy * ow..(oy + 1) * ow];
                    let iy = oy + ky;
                    if iy < s.ph || iy >= s.h + s.ph {
                        out.fill(0.0);
                        continue;
                    }
                    let src = &plane[(iy - s.ph) * s.w..][..s.w];
                    out[..first].fill(0.0);
                    out[last..].fill(0.0);
                    let start = first + kx - s.pw;
                    out[first..last].copy_from_slice(&src[start..start + last - first]);
                }
            }
        }
    }
}

/// Folds `cols` `[K, P]` back onto one image `[c_in, h, w]`, adding.
fn col2im(cols: &[f32], s: &ConvShape, dx: &mut [f32]) {
    let (oh, ow, p) = (s.oh(), s.ow(), s.positions());
    for ci in 0..s.c_in {
        let plane = &mut dx[ci * s.h * s.w..(ci + 1) * s.h * s.w];
        for ky in 0..s.kh {
            for kx in 0..s.kw {
                let row = &cols[((ci * s.kh + ky) * s.kw + kx) * p..][..p];
                let (first, last) = s.columns(kx);
                for oy in 0..oh {
                    let iy = oy + ky;
                    if iy < s.ph || iy >= s.h + s.ph {
                        continue;
                    }
                    let dst = &mut plane[(iy - s.ph) * s.w..][..s.w];
                    let start = first + kx - s.pw;
                    let src = &row[oy * ow + first..oy * ow + last];
                    for (d, v) in dst[start..start + last - first].iter_mut().zip(src) {
                        *d += v;
                    }
                }
            }
        }
    }
}

/// One image `[c_in, h, w]` channels last and zero-padded: `(h + 2·ph)·(w + 2·pw) + kw` rows of
/// `c_in` values (the last `kw` rows are slack that the widest view reads, always zero). Seen
/// from row `ky·Wp`, the `kw·c_in` values after each padded position are that position's
/// kernel row for every channel: the unfolded image for kernel row `ky` is a strided view of
/// this buffer, which gemm packs directly (no `im2col` copy, `kh` accumulating multiplies).
fn channels_last(x: &[f32], s: &ConvShape, out: &mut [f32]) {
    let (wp, c) = (s.w + 2 * s.pw, s.c_in);
    out.fill(0.0);
    for ci in 0..c {
        for y in 0..s.h {
            let src = &x[(ci * s.h + y) * s.w..][..s.w];
            let row = (y + s.ph) * wp + s.pw;
            for (xx, &v) in src.iter().enumerate() {
                out[(row + xx) * c + ci] = v;
            }
        }
    }
}

/// Sizes of the channels-last image and of the output on the padded grid (`oh` rows of `Wp`
/// positions; one row of `ow` when `oh` is 1, where no column needs dropping).
fn grid(s: &ConvShape) -> (usize, usize) {
    let (hp, wp) = (s.h + 2 * s.ph, s.w + 2 * s.pw);
    let positions = if s.oh() == 1 { s.ow() } else { s.oh() * wp };
    ((hp * wp + s.kw) * s.c_in, positions)
}

/// The weights `[c_out, c_in, kh, kw]` as `kh` matrices `[c_out, kw·c_in]` (kernel column, then
/// channel: the order of the channels-last view).
fn weights_by_row(weight: &[f32], s: &ConvShape) -> Vec<f32> {
    let (c, o, kh, kw) = (s.c_in, s.c_out, s.kh, s.kw);
    let mut out = vec![0.0f32; weight.len()];
    for oi in 0..o {
        for ci in 0..c {
            for ky in 0..kh {
                for kx in 0..kw {
                    out[((ky * o + oi) * kw + kx) * c + ci] =
                        weight[((oi * c + ci) * kh + ky) * kw + kx];
                }
            }
        }
    }
    out
}

/// Whether to unfold the image (`im2col`) rather than multiply by strided views: with many
/// input channels one long multiply (`K = c_in·kh·kw`) beats `kh` shorter ones and the
/// channels-last copy (a HarmonicCNN-wide step: 1.29 s by views, 1.13 s unfolded); with few,
/// the views save the copy (the `small` step: 256 → 207 ms).
fn unfold(s: &ConvShape) -> bool {
    s.c_in >= 64 && s.kh > 1
}

/// The convolution: `x` `[batch, c_in, h, w]`, `weight` `[c_out, c_in, kh, kw]`, `bias`
/// `[c_out]` → `[batch, c_out, oh, ow]`.
pub fn forward(x: &[f32], weight: &[f32], bias: Option<&[f32]>, s: &ConvShape) -> Vec<f32> {
    if super::winograd::applies(s) {
        return super::winograd::forward(x, weight, bias, s);
    }
    if unfold(s) {
        return forward_unfolded(x, weight, bias, s);
    }
    count(Route::ConvForwardRows);
    let (image_len, positions) = grid(s);
    let (o, k, wp) = (s.c_out, s.kw * s.c_in, s.w + 2 * s.pw);
    let (oh, ow) = (s.oh(), s.ow());
    let direct = positions == oh * ow;
    let rows = weights_by_row(weight, s);
    written(s.batch * s.out_image(), s.out_image(), |n, y, threads| {
        let wide_len = if direct { 0 } else { o * positions };
        with_scratch(image_len + wide_len, |scratch| {
            let (image, wide) = scratch.split_at_mut(image_len);
            channels_last(&x[n * s.image()..(n + 1) * s.image()], s, image);
            let dst: &mut [MaybeUninit<f32>] = if direct { y } else { as_uninit(wide) };
            if let Some(bias) = bias {
                for (row, &b) in dst.chunks_mut(positions).zip(bias) {
                    row.fill(MaybeUninit::new(b));
                }
            }
            for ky in 0..s.kh {
                matmul(
                    threads,
                    (o, positions, k),
                    dst,
                    bias.is_some() || ky > 0,
                    &rows[ky * o * k..(ky + 1) * o * k],
                    (k, 1),
                    &image[ky * wp * s.c_in..],
                    (1, s.c_in),
                );
            }
            if !direct {
                // Drop the columns past `ow` of each padded row.
                for (out, wide) in y.chunks_mut(oh * ow).zip(wide.chunks(positions)) {
                    for oy in 0..oh {
                        for (d, &v) in out[oy * ow..(oy + 1) * ow].iter_mut().zip(&wide[oy * wp..])
                        {
                            *d = MaybeUninit::new(v);
                        }
                    }
                }
            }
        })
    })
}

/// The weight gradient `[c_out, c_in, kh, kw]` from the input `x` and the output's gradient
/// `dy` `[batch, c_out, oh, ow]`: per image and kernel row, `dy · viewᵀ`.
pub fn weight_grad(x: &[f32], dy: &[f32], s: &ConvShape) -> Vec<f32> {
    if unfold(s) {
        return weight_grad_unfolded(x, dy, s);
    }
    count(Route::ConvWeightGradRows);
    let (image_len, positions) = grid(s);
    let (o, c, k, wp) = (s.c_out, s.c_in, s.kw * s.c_in, s.w + 2 * s.pw);
    let (oh, ow) = (s.oh(), s.ow());
    let direct = positions == oh * ow;
    let one = o * s.c_in * s.kh * s.kw;
    // One partial sum per image (side by side), then their sum.
    let mut partial = written(s.batch * one, one, |n, dw, threads| {
        let wide_len = if direct { 0 } else { o * positions };
        with_scratch(image_len + wide_len, |scratch| {
            let (image, wide) = scratch.split_at_mut(image_len);
            channels_last(&x[n * s.image()..(n + 1) * s.image()], s, image);
            let dy = &dy[n * s.out_image()..(n + 1) * s.out_image()];
            let dy = if direct {
                dy
            } else {
                // The gradient on the padded grid, zero past `ow` (those positions are not outputs).
                wide.fill(0.0);
                for (w, d) in wide.chunks_mut(positions).zip(dy.chunks(oh * ow)) {
                    for oy in 0..oh {
                        w[oy * wp..oy * wp + ow].copy_from_slice(&d[oy * ow..(oy + 1) * ow]);
                    }
                }
                &*wide
            };
            for ky in 0..s.kh {
                matmul(
                    threads,
                    (o, k, positions),
                    &mut dw[ky * o * k..(ky + 1) * o * k],
                    false,
                    dy,
                    (positions, 1),
                    &image[ky * wp * c..],
                    (c, 1),
                );
            }
        })
    });
    let split = one.min(partial.len());
    let (first, rest) = partial.split_at_mut(split);
    for other in rest.chunks(one) {
        first.iter_mut().zip(other).for_each(|(a, b)| *a += b);
    }
    // Back from `[kh][c_out][kw·c_in]` to `[c_out, c_in, kh, kw]`.
    let mut dw = vec![0.0f32; one];
    for ky in 0..s.kh {
        for oi in 0..o {
            for kx in 0..s.kw {
                for ci in 0..c {
                    dw[((oi * c + ci) * s.kh + ky) * s.kw + kx] =
                        first[((ky * o + oi) * s.kw + kx) * c + ci];
                }
            }
        }
    }
    dw
}

/// [`forward`] by unfolding each image (`im2col`, `[c_in·kh·kw, P]`) and one matrix multiply.
fn forward_unfolded(x: &[f32], weight: &[f32], bias: Option<&[f32]>, s: &ConvShape) -> Vec<f32> {
    count(Route::ConvForwardUnfolded);
    let (p, k) = (s.positions(), s.taps());
    written(s.batch * s.out_image(), s.out_image(), |n, y, threads| {
        with_scratch(k * p, |cols| {
            im2col(&x[n * s.image()..(n + 1) * s.image()], s, cols);
            if let Some(bias) = bias {
                for (row, &b) in y.chunks_mut(p).zip(bias) {
                    row.fill(MaybeUninit::new(b));
                }
            }
            matmul(
                threads,
                (s.c_out, p, k),
                y,
                bias.is_some(),
                weight,
                (k, 1),
                cols,
                (p, 1),
            );
        })
    })
}

/// [`weight_grad`] by unfolding each image: `dW = Σₙ dy · colsᵀ`.
fn weight_grad_unfolded(x: &[f32], dy: &[f32], s: &ConvShape) -> Vec<f32> {
    count(Route::ConvWeightGradUnfolded);
    let (p, k) = (s.positions(), s.taps());
    let one = s.c_out * k;
    // One partial sum per image (side by side), then their sum.
    let mut partial = written(s.batch * one, one, |n, dw, threads| {
        with_scratch(k * p, |cols| {
            im2col(&x[n * s.image()..(n + 1) * s.image()], s, cols);
            let dy = &dy[n * s.out_image()..(n + 1) * s.out_image()];
            matmul(
                threads,
                (s.c_out, k, p),
                dw,
                false,
                dy,
                (p, 1),
                cols,
                (1, p),
            );
        })
    });
    let split = one.min(partial.len());
    let (first, rest) = partial.split_at_mut(split);
    for other in rest.chunks(one) {
        first.iter_mut().zip(other).for_each(|(a, b)| *a += b);
    }
    partial.truncate(one);
    partial
}

/// The input gradient `[batch, c_in, h, w]` from the weights and the output's gradient `dy`:
/// the forward convolution of `dy` with the kernel flipped and its channels swapped, padded by
/// `k − 1 − p`, or `dcols = Wᵀ · dy` folded back onto the image where that unfolds less (and for
/// a padding as large as the kernel, not in this model).
pub fn input_grad(weight: &[f32], dy: &[f32], s: &ConvShape) -> Vec<f32> {
    count(Route::ConvInputGrad);
    // The flipped convolution runs on `dy`'s `c_out` channels: by views when few, otherwise it
    // unfolds `c_out·kh·kw` rows per position, and folding `Wᵀ·dy` back (`c_in·kh·kw` rows)
    // is cheaper when `c_out > c_in` (the first layer of the HarmonicCNN widths, 20 → 128:
    // 362 → 201 ms).
    let flipped_unfolds = s.c_out >= 64 && s.kh > 1;
    if s.ph < s.kh && s.pw < s.kw && (!flipped_unfolds || s.c_out <= s.c_in) {
        return input_grad_flipped(weight, dy, s);
    }
    let (p, k) = (s.positions(), s.taps());
    let mut dx = vec![0.0f32; s.batch * s.image()];
    per_image(as_uninit(&mut dx), s.image(), |n, dx, threads| {
        // SAFETY: `dx` was zero-filled above: every element is an initialised f32.
        let dx = unsafe { &mut *(dx as *mut [MaybeUninit<f32>] as *mut [f32]) };
        with_scratch(k * p, |dcols| {
            let dy = &dy[n * s.out_image()..(n + 1) * s.out_image()];
            matmul(
                threads,
                (k, p, s.c_out),
                as_uninit(dcols),
                false,
                weight,
                (1, k),
                dy,
                (p, 1),
            );
            col2im(dcols, s, dx);
        })
    });
    dx
}

fn input_grad_flipped(weight: &[f32], dy: &[f32], s: &ConvShape) -> Vec<f32> {
    let (kh, kw) = (s.kh, s.kw);
    let mut flipped = vec![0.0f32; weight.len()];
    for co in 0..s.c_out {
        for ci in 0..s.c_in {
            for ky in 0..kh {
                for kx in 0..kw {
                    flipped[((ci * s.c_out + co) * kh + kh - 1 - ky) * kw + kw - 1 - kx] =
                        weight[((co * s.c_in + ci) * kh + ky) * kw + kx];
                }
            }
        }
    }
    let back = ConvShape {
        batch: s.batch,
        c_in: s.c_out,
        c_out: s.c_in,
        h: s.oh(),
        w: s.ow(),
        kh,
        kw,
        ph: kh - 1 - s.ph,
        pw: kw - 1 - s.pw,
    };
    forward(dy, &flipped, None, &back)
}
