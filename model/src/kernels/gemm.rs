//! What the CPU kernels share: `gemm`'s matrix multiply on strided slices, who runs it (one
//! thread per image, or all threads on one image), buffers written whole without zero-filling,
//! per-thread scratch kept between calls, and chunks of a buffer run side by side.

use alloc::vec;
use alloc::vec::Vec;
use core::mem::MaybeUninit;

/// A row-major matrix multiply `dst (m×n) = [dst +] a · b`, each operand given by its pointer
/// and its (row, column) strides.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul(
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
pub(crate) fn written(
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
pub(crate) fn as_uninit(values: &mut [f32]) -> &mut [MaybeUninit<f32>] {
    // SAFETY: same layout; only valid `f32`s are ever written through the result.
    unsafe { &mut *(values as *mut [f32] as *mut [MaybeUninit<f32>]) }
}

/// Runs `f` with a scratch buffer of `len` values whose contents are left from earlier use
/// (every caller overwrites it whole): one per thread, kept between calls, so that the unfolded
/// image (tens of MB) is neither allocated nor zeroed per call.
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
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
pub(crate) enum Threads {
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
pub(crate) fn per_image(
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

/// Runs `f(chunk index, chunk)` on every `len`-long chunk of `out`, side by side when rayon is
/// at hand (the batch norm's and pooling's planes).
pub(crate) fn for_each_chunk<T: Send>(
    out: &mut [T],
    len: usize,
    f: impl Fn(usize, &mut [T]) + Send + Sync,
) {
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        out.par_chunks_mut(len.max(1))
            .enumerate()
            .for_each(|(i, chunk)| f(i, chunk));
    }
    #[cfg(not(feature = "rayon"))]
    out.chunks_mut(len.max(1))
        .enumerate()
        .for_each(|(i, chunk)| f(i, chunk));
}
