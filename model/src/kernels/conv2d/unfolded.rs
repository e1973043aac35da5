//! A stride-1 convolution as one matrix multiply over the unfolded input (im2col), in burn's
//! tensor operations: a route for the GPU backends (burn's cubecl runtimes: wgpu, CUDA, WebGPU in
//! the browser), taken where it is timed fastest (see [`super`]).
//!
//! Built without autotune (this project leaves it off: with fusion it computed wrong results on
//! wgpu/Vulkan, tracel-ai/burn#5257), burn's cubecl backends run a convolution as a direct
//! kernel, one thread per output value, and its weight gradient as a convolution of the input
//! by the output gradient. On an NVIDIA H200 through wgpu (Vulkan) that trained the paper preset
//! at 7.8 clips/s (batch 4) where PyTorch on the same GPU trains 264. Here the convolution is
//! `W · cols`, so autodiff derives the gradients as matrix multiplies too: the weight gradient
//! `grad · colsᵀ`, the input gradient `Wᵀ · grad`, folded back onto the input by the slices'
//! backward.
//!
//! The unfolded input holds `kh·kw` copies of the input, more than a GPU binds at once for the
//! model's larger maps (GPUs cap a buffer's binding: lavapipe at 128 MiB, browsers by default
//! too; one 5 s chunk at the paper preset's second layer unfolds to 91 MB). So it is built a
//! tile at a time, none over [`MAX_UNFOLDED_BYTES`]: a group of whole signals where a signal
//! fits, else bands of output rows of one signal, else pieces of one row ([`Tiles`]).

use alloc::vec::Vec;
use burn::tensor::Tensor;
use burn::tensor::ops::PadMode;
use core::ops::Range;

/// The largest unfolded tile built at once, in bytes.
pub const MAX_UNFOLDED_BYTES: usize = 64 << 20;

/// Whether `x` lives on one of burn's cubecl runtimes (a GPU through wgpu or CUDA, or a CPU
/// Vulkan driver such as lavapipe), the devices this route is for.
///
/// burn's dispatch enum has its cubecl variant only in builds that compile a cubecl runtime,
/// so a crate that does not enable one cannot name it; the variant's name is matched instead.
pub fn on_cubecl<const D: usize>(x: &Tensor<D>) -> bool {
    let device = x.device().inner();
    alloc::format!("{:?}", device.as_dispatch()).starts_with("Cube(")
}

/// How an output of `n` signals of `ho × wo` positions is cut so that no tile's unfolded input
/// (`k` values a position) exceeds a bound: tiles of `signals` signals × `rows` rows × `columns`
/// columns, the last of each smaller where the sizes do not divide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiles {
    /// Signals a tile.
    pub signals: usize,
    /// Output rows a tile.
    pub rows: usize,
    /// Output columns a tile.
    pub columns: usize,
}

impl Tiles {
    /// Tiles of `[n, k, ho, wo]` (signals, unfolded values a position, output rows, output
    /// columns) within `max_bytes` of f32: whole signals where one fits, else whole rows, else
    /// pieces of a row (one position at least, whatever the bound); as few as the bound allows,
    /// and as even as they can be.
    pub fn within([n, k, ho, wo]: [usize; 4], max_bytes: usize) -> Tiles {
        let positions = (max_bytes / (k * 4).max(1)).max(1);
        if ho * wo <= positions {
            Tiles {
                signals: even(n, positions / (ho * wo).max(1)),
                rows: ho,
                columns: wo,
            }
        } else if wo <= positions {
            Tiles {
                signals: 1,
                rows: even(ho, positions / wo),
                columns: wo,
            }
        } else {
            Tiles {
                signals: 1,
                rows: 1,
                columns: even(wo, positions),
            }
        }
    }
}

/// The size of the fewest, most even parts of `len` no larger than `most` (at least 1).
fn even(len: usize, most: usize) -> usize {
    let parts = len.div_ceil(most.max(1)).max(1);
    len.div_ceil(parts).max(1)
}

/// `0..len` cut into ranges of `step` (the last shorter).
fn ranges(len: usize, step: usize) -> impl Iterator<Item = Range<usize>> {
    (0..len)
        .step_by(step.max(1))
        .map(move |start| start..(start + step).min(len))
}

/// `parts` joined along `dim`, without a copy where there is one part.
fn join(parts: Vec<Tensor<4>>, dim: usize) -> Tensor<4> {
    if parts.len() == 1 {
        parts.into_iter().next().expect("one part")
    } else {
        Tensor::cat(parts, dim)
    }
}

/// A stride-1 convolution with zero padding `[ph, pw]`, unfolded a tile of at most
/// [`MAX_UNFOLDED_BYTES`] at a time.
///
/// - x: `[n, c_in, h, w]`, weight: `[c_out, c_in, kh, kw]`, bias: `[c_out]`
/// - output: `[n, c_out, h + 2·ph − kh + 1, w + 2·pw − kw + 1]`
///
/// # Panics
/// If the kernel is larger than the padded input, or the channels differ.
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    padding: [usize; 2],
) -> Tensor<4> {
    conv2d_within(x, weight, bias, padding, MAX_UNFOLDED_BYTES)
}

/// [`conv2d`] with the tiles' bound in bytes given (tests give a small one, so that small
/// inputs take the tiled paths).
///
/// - x: `[n, c_in, h, w]`, weight: `[c_out, c_in, kh, kw]`, bias: `[c_out]`
/// - output: `[n, c_out, h + 2·ph − kh + 1, w + 2·pw − kw + 1]`
///
/// # Panics
/// If the kernel is larger than the padded input, or the channels differ.
pub fn conv2d_within(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    [ph, pw]: [usize; 2],
    max_bytes: usize,
) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    let [co, ci, kh, kw] = weight.dims();
    assert_eq!(c, ci, "input channels {c}, kernel channels {ci}");
    assert!(
        h + 2 * ph >= kh && w + 2 * pw >= kw,
        "kernel {kh}×{kw} larger than the padded input"
    );
    let (ho, wo) = (h + 2 * ph - kh + 1, w + 2 * pw - kw + 1);
    let k = c * kh * kw;
    let x = if ph > 0 || pw > 0 {
        x.pad([(ph, ph), (pw, pw)], PadMode::Constant(0.0))
    } else {
        x
    };
    // [1, c_out, c·kh·kw], in the order (channel, row, column) of the unfolded rows.
    let weight = weight.reshape([1, co, k]);
    let tiles = Tiles::within([n, k, ho, wo], max_bytes);
    // One tile: kh·kw shifted windows [g, c, kh·kw, rows, columns] → [g, c·kh·kw, positions].
    let tile = |signals: Range<usize>, rows: Range<usize>, columns: Range<usize>| {
        let (g, hb, wb) = (signals.len(), rows.len(), columns.len());
        let windows: Vec<Tensor<4>> = (0..kh)
            .flat_map(|i| (0..kw).map(move |j| (i, j)))
            .map(|(i, j)| {
                x.clone().slice([
                    signals.clone(),
                    0..c,
                    rows.start + i..rows.end + i,
                    columns.start + j..columns.end + j,
                ])
            })
            .collect();
        let cols = Tensor::stack::<5>(windows, 2).reshape([g, k, hb * wb]);
        weight.clone().matmul(cols).reshape([g, co, hb, wb])
    };
    let out = join(
        ranges(n, tiles.signals)
            .map(|signals| {
                let rows = ranges(ho, tiles.rows).map(|rows| {
                    let pieces = ranges(wo, tiles.columns)
                        .map(|columns| tile(signals.clone(), rows.clone(), columns));
                    join(pieces.collect(), 3)
                });
                join(rows.collect(), 2)
            })
            .collect(),
        0,
    );
    match bias {
        Some(bias) => out + bias.reshape([1, co, 1, 1]),
        None => out,
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use burn::tensor::ops::ConvOptions;
    use burn::tensor::{Device, Distribution, Tolerance};

    /// Output and the gradients of input, kernels and bias against burn's convolution, for `x`
    /// `[n, c, h, w]`, `c_out` kernels of `kh×kw` and padding `p` (relative 1e-4), unfolded in
    /// tiles of at most `max_bytes`.
    fn check(x: [usize; 4], c_out: usize, [kh, kw]: [usize; 2], p: [usize; 2], max_bytes: usize) {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random(x, Distribution::Normal(0.0, 1.0), &device);
        let w = Tensor::<4>::random(
            [c_out, x.dims()[1], kh, kw],
            Distribution::Normal(0.0, 0.3),
            &device,
        );
        let b = Tensor::<1>::random([c_out], Distribution::Normal(0.0, 1.0), &device);
        let [n, _, h, wd] = x.dims();
        let out = [n, c_out, h + 2 * p[0] + 1 - kh, wd + 2 * p[1] + 1 - kw];
        // Every output value gets its own upstream gradient.
        let target = Tensor::<4>::random(out, Distribution::Normal(0.0, 1.0), &device);
        let run = |ours: bool| {
            let (x, w, b) = (
                x.clone().require_grad(),
                w.clone().require_grad(),
                b.clone().require_grad(),
            );
            let y = if ours {
                conv2d_within(x.clone(), w.clone(), Some(b.clone()), p, max_bytes)
            } else {
                let options = ConvOptions::new([1, 1], p, [1, 1], 1);
                burn::tensor::module::conv2d(x.clone(), w.clone(), Some(b.clone()), options)
            };
            let g = (y.clone() * target.clone()).sum().backward();
            [
                y.inner(),
                x.grad(&g).unwrap(),
                w.grad(&g).unwrap(),
                b.grad(&g).unwrap().reshape([1, 1, 1, c_out]),
            ]
            .map(|t| t.into_data())
        };
        // Relative 1e-4, with an absolute floor for values that are sums of cancelling terms:
        // an output or input-gradient value sums c·kh·kw products, a kernel or bias gradient
        // n·h·w of them (540 000 in the grouped test, where the two summation orders differ by
        // up to 2e-4 on values near 0.1).
        for ((ours, theirs), (what, floor)) in run(true).iter().zip(run(false).iter()).zip([
            ("output", 1e-4),
            ("dx", 1e-4),
            ("dw", 1e-3),
            ("db", 1e-3),
        ]) {
            assert_eq!(ours.shape(), theirs.shape(), "{what}");
            ours.assert_approx_eq::<f32>(theirs, Tolerance::relative(1e-4).set_absolute(floor));
        }
    }

    #[test]
    fn resnet_3x3_equals_burn_forward_and_backward() {
        check([2, 5, 9, 13], 7, [3, 3], [1, 1], MAX_UNFOLDED_BYTES);
        check([1, 3, 4, 5], 2, [3, 3], [1, 1], MAX_UNFOLDED_BYTES);
    }

    #[test]
    fn one_row_kernels_without_padding_equal_burn() {
        // The front-end's polyphase form: [batch, stride, rows, positions], one-row kernels.
        check([3, 4, 2, 40], 6, [1, 8], [0, 0], MAX_UNFOLDED_BYTES);
    }

    #[test]
    fn groups_of_signals_equal_burn() {
        // 30 signals unfold to 4·9·120·150·4 B each, 78 MB together: more than
        // MAX_UNFOLDED_BYTES, so they are convolved in groups.
        let [n, c, h, w] = [30, 4, 120, 150];
        assert!(n * c * 9 * h * w * 4 > MAX_UNFOLDED_BYTES);
        check([n, c, h, w], 3, [3, 3], [1, 1], MAX_UNFOLDED_BYTES);
    }

    #[test]
    fn bands_of_rows_and_pieces_of_rows_equal_burn() {
        // 5·9 values a position, 4 bytes each: 900 bytes hold 5 positions (less than a row of
        // 13: pieces of 5, 5 and 3), 4 000 bytes 22 (bands of one row of 13), 10 000 bytes 55
        // (4 rows of 9 × 13 outputs: bands of 3).
        for max_bytes in [900, 4_000, 10_000] {
            check([2, 5, 9, 13], 7, [3, 3], [1, 1], max_bytes);
        }
        // The front-end's one-row kernels, a row cut into pieces.
        check([2, 4, 2, 40], 6, [1, 8], [0, 0], 4 * 32 * 7);
    }

    #[test]
    fn tiles_are_the_largest_within_the_bound() {
        let tiles = |shape, max_bytes| {
            let Tiles {
                signals,
                rows,
                columns,
            } = Tiles::within(shape, max_bytes);
            [signals, rows, columns]
        };
        // The paper preset's second layer, batch 16: 2 304 values a position, 40 × 246
        // positions (91 MB a signal; 29 rows fit the bound) → two bands of 20 rows.
        let paper = [16, 2304, 40, 246];
        assert_eq!(tiles(paper, MAX_UNFOLDED_BYTES), [1, 20, 246]);
        assert!(29 * 246 * 2304 * 4 <= MAX_UNFOLDED_BYTES);
        assert!(30 * 246 * 2304 * 4 > MAX_UNFOLDED_BYTES);
        // Its third layer (23 MB a signal): two signals a tile, whole.
        assert_eq!(tiles([16, 2304, 20, 123], MAX_UNFOLDED_BYTES), [2, 20, 123]);
        // 7 signals of which 3 fit: tiles of 3 (the last of 1).
        assert_eq!(tiles([7, 9, 2, 2], 3 * 4 * 9 * 4), [3, 2, 2]);
        // Never more signals than there are, never an empty tile.
        assert_eq!(tiles([3, 9, 2, 2], MAX_UNFOLDED_BYTES), [3, 2, 2]);
        assert_eq!(tiles([3, 9, 2, 2], 1), [1, 1, 1]);
        // A row longer than the bound: pieces of it.
        assert_eq!(tiles([1, 10, 4, 100], 400), [1, 1, 10]);
    }

    #[test]
    fn the_cpu_backends_are_not_cubecl() {
        let x = Tensor::<2>::zeros([1, 1], &Device::flex());
        assert!(!on_cubecl(&x));
        assert!(!on_cubecl(&x.autodiff()));
    }
}
