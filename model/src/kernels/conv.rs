//! A 2-D convolution at stride 1 with zero padding (no groups, no dilation) and its two
//! gradients, the way fast libraries compute them: each image unfolded once (`im2col`, `[K, P]`
//! with `K = c_in·kh·kw` and `P` output positions), then one matrix multiply per image:
//!
//! - forward: `y = W · cols` (`[c_out, K] × [K, P]`);
//! - weight gradient: `dW = Σₙ dy · colsᵀ` (`[c_out, P] × [P, K]`);
//! - input gradient: `dcols = Wᵀ · dy` folded back (`col2im`), or the forward convolution of
//!   `dy` with the kernel flipped, whichever unfolds fewer values.
//!
//! Plain `f32` slices in and out, batch items side by side on rayon's threads when the `rayon`
//! feature is on; the matrix multiplies are `gemm`'s (burn's Flex uses the same crate).

use alloc::vec;
use alloc::vec::Vec;
use core::mem::MaybeUninit;

/// The geometry of one convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    /// Images.
    pub batch: usize,
    /// Input channels.
    pub c_in: usize,
    /// Output channels.
    pub c_out: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Zero rows above and below.
    pub ph: usize,
    /// Zero columns left and right.
    pub pw: usize,
}

impl ConvShape {
    /// Output height.
    pub fn oh(&self) -> usize {
        self.h + 2 * self.ph + 1 - self.kh
    }
    /// Output width.
    pub fn ow(&self) -> usize {
        self.w + 2 * self.pw + 1 - self.kw
    }
    /// Output positions per image.
    fn positions(&self) -> usize {
        self.oh() * self.ow()
    }
    /// Rows of the unfolded input: one per (input channel, kernel tap).
    fn taps(&self) -> usize {
        self.c_in * self.kh * self.kw
    }
    fn image(&self) -> usize {
        self.c_in * self.h * self.w
    }
    fn out_image(&self) -> usize {
        self.c_out * self.positions()
    }
    /// Whether the kernel fits the padded input.
    pub fn is_valid(&self) -> bool {
        self.kh >= 1
            && self.kw >= 1
            && self.h + 2 * self.ph >= self.kh
            && self.w + 2 * self.pw >= self.kw
    }

    /// For output column `ox` reading input column `ox + kx − pw`: the valid output columns.
    fn columns(&self, kx: usize) -> (usize, usize) {
        let ow = self.ow();
        let first = self.pw.saturating_sub(kx);
        let last = (self.w + self.pw).saturating_sub(kx).min(ow);
        (first, last.max(first))
    }
}

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

/// A row-major matrix multiply `dst (m×n) = [dst +] a · b`, each operand given by its pointer
/// and its (row, column) strides.
#[allow(clippy::too_many_arguments)]
fn matmul(
    threads: Threads,
    (m, n, k): (usize, usize, usize),
    dst: &mut [MaybeUninit<f32>],
    accumulate: bool,
    a: &[f32],
    (a_rs, a_cs): (usize, usize),
    b: &[f32],
    (b_rs, b_cs): (usize, usize),
) {
    debug_assert!(dst.len() >= m * n);
    debug_assert!(m == 0 || k == 0 || a.len() > (m - 1) * a_rs + (k - 1) * a_cs);
    debug_assert!(n == 0 || k == 0 || b.len() > (k - 1) * b_rs + (n - 1) * b_cs);
    // SAFETY: the three buffers hold every element the strides address (checked above in
    // debug builds, and by construction at each call), and `dst` does not alias `a` or `b`.
    // gemm writes every element of `dst` (reading it first only when `accumulate`, where the
    // caller has initialised it).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr().cast::<f32>(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs as isize,
            a_rs as isize,
            b.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            threads.gemm(),
        );
    }
}

/// `len` values, each written by `fill` (given the chunks of `chunk_len` to write, uninitialised):
/// no zero-filling of buffers that are written whole anyway.
fn written(
    len: usize,
    chunk_len: usize,
    fill: impl Fn(usize, &mut [MaybeUninit<f32>], Threads) + Send + Sync,
) -> Vec<f32> {
    let mut out: Vec<f32> = Vec::with_capacity(len);
    per_image(&mut out.spare_capacity_mut()[..len], chunk_len, fill);
    // SAFETY: `fill` wrote every element of every chunk (each caller writes its whole chunk:
    // by gemm without reading it, or by filling it first).
    unsafe { out.set_len(len) };
    out
}

/// An initialised buffer seen as one that gemm may overwrite.
fn as_uninit(values: &mut [f32]) -> &mut [MaybeUninit<f32>] {
    // SAFETY: same layout; only valid `f32`s are ever written through the result.
    unsafe { &mut *(values as *mut [f32] as *mut [MaybeUninit<f32>]) }
}

/// Runs `f` with a scratch buffer of `len` values whose contents are left from earlier use
/// (every caller overwrites it whole): one per thread, kept between calls, so that the unfolded
/// image (tens of MB) is neither allocated nor zeroed per call.
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    #[cfg(feature = "std")]
    {
        std::thread_local! {
            static SCRATCH: core::cell::RefCell<Vec<f32>> = const { core::cell::RefCell::new(Vec::new()) };
        }
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => {
                if scratch.len() < len {
                    scratch.resize(len, 0.0);
                }
                f(&mut scratch[..len])
            }
            // Re-entered on this thread (rayon may run another image while one waits): a fresh one.
            Err(_) => f(&mut vec![0.0f32; len]),
        })
    }
    #[cfg(not(feature = "std"))]
    f(&mut vec![0.0f32; len])
}

/// Who computes one image's matrix multiply: its own thread, or all of rayon's.
#[derive(Debug, Clone, Copy)]
enum Threads {
    One,
    #[cfg(feature = "rayon")]
    All,
}

impl Threads {
    fn gemm(self) -> gemm::Parallelism {
        match self {
            Self::One => gemm::Parallelism::None,
            #[cfg(feature = "rayon")]
            Self::All => gemm::Parallelism::Rayon(0),
        }
    }
}

/// Runs `f(image index, chunk, threads)` on each `chunk_len` chunk of `out`: with rayon at hand
/// and at least as many images as threads, images side by side; otherwise one image at a time,
/// its matrix multiplies on every thread.
fn per_image(
    out: &mut [MaybeUninit<f32>],
    chunk_len: usize,
    f: impl Fn(usize, &mut [MaybeUninit<f32>], Threads) + Send + Sync,
) {
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        if out.len() / chunk_len.max(1) >= rayon::current_num_threads() {
            out.par_chunks_mut(chunk_len)
                .enumerate()
                .for_each(|(i, c)| f(i, c, Threads::One));
        } else {
            out.chunks_mut(chunk_len)
                .enumerate()
                .for_each(|(i, c)| f(i, c, Threads::All));
        }
    }
    #[cfg(not(feature = "rayon"))]
    out.chunks_mut(chunk_len)
        .enumerate()
        .for_each(|(i, c)| f(i, c, Threads::One));
}

/// The convolution: `x` `[batch, c_in, h, w]`, `weight` `[c_out, c_in, kh, kw]`, `bias`
/// `[c_out]` → `[batch, c_out, oh, ow]`.
pub fn forward(x: &[f32], weight: &[f32], bias: Option<&[f32]>, s: &ConvShape) -> Vec<f32> {
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

/// The weight gradient `[c_out, c_in, kh, kw]` from the input `x` and the output's gradient
/// `dy` `[batch, c_out, oh, ow]`.
pub fn weight_grad(x: &[f32], dy: &[f32], s: &ConvShape) -> Vec<f32> {
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

/// The input gradient `[batch, c_in, h, w]` from the weights and the output's gradient `dy`,
/// by whichever of two forms unfolds fewer values: `dcols = Wᵀ · dy` folded back onto the image
/// (`c_in·kh·kw` rows), or the forward convolution of `dy` with the kernel flipped and its
/// channels swapped (`c_out·kh·kw` rows; needs padding below the kernel's sides).
pub fn input_grad(weight: &[f32], dy: &[f32], s: &ConvShape) -> Vec<f32> {
    if s.c_out <= s.c_in && s.ph < s.kh && s.pw < s.kw {
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

/// The bias gradient `[c_out]`: `dy` summed over images and positions.
pub fn bias_grad(dy: &[f32], s: &ConvShape) -> Vec<f32> {
    let p = s.positions();
    let mut db = vec![0.0f32; s.c_out];
    for image in dy.chunks(s.out_image()) {
        for (d, row) in db.iter_mut().zip(image.chunks(p)) {
            *d += row.iter().sum::<f32>();
        }
    }
    db
}
