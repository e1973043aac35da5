//! A stride-1 convolution as one matrix multiply over the unfolded input (im2col), in burn's
//! backend operations: a route for the GPU backends (burn's cubecl runtimes: wgpu, CUDA, WebGPU
//! in the browser), taken where it is timed fastest (see [`super`]).
//!
//! Built without autotune (this project leaves it off: with fusion it computed wrong results on
//! wgpu/Vulkan, tracel-ai/burn#5257), burn's cubecl backends run a convolution as a direct
//! kernel, one thread per output value, and its weight gradient as a convolution of the input
//! by the output gradient. On an NVIDIA H200 through wgpu (Vulkan) that trained the paper preset
//! at 7.8 clips/s (batch 4) where PyTorch on the same GPU trains 264. Here every pass is a
//! matrix multiply: the output `W · cols` ([`forward`]), the weight gradient `dy · colsᵀ`
//! ([`weight_grad`]), the input gradient `Wᵀ · dy` folded back onto the input ([`input_grad`],
//! the unfolding's adjoint).
//!
//! The unfolded input holds `kh·kw` copies of the input, more than a GPU binds at once for the
//! model's larger maps (GPUs cap a buffer's binding: lavapipe at 128 MiB, browsers by default
//! too; one 5 s chunk at the paper preset's second layer unfolds to 91 MB). So it is built a
//! tile at a time, none over [`MAX_UNFOLDED_BYTES`]: a group of whole signals where a signal
//! fits, else bands of output rows of one signal, else pieces of one row ([`Tiles`]).
//!
//! The passes are written on a backend's tensors. On burn's cubecl backend they are the
//! project's convolution extension's passes for [`super::GpuConvolution::Unfolded`] (`cube.rs`),
//! whose backward calls [`input_grad`] and [`weight_grad`]; [`conv2d`] runs [`forward`] on burn
//! tensors, so that burn's autodiff differentiates its slices and multiplies where the extension
//! is not built (the web page, which never trains). Differentiated that way, each window's slice
//! sends back a gradient the size of the whole input, `kh·kw` per tile: the explicit backward
//! touches each unfolded value once.

use alloc::vec::Vec;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, TensorMetadata};
use burn::tensor::ops::PadMode;
use burn::tensor::{Slice, Tensor};
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
fn ranges(len: usize, step: usize) -> impl Iterator<Item = Range<usize>> + Clone {
    (0..len)
        .step_by(step.max(1))
        .map(move |start| start..(start + step).min(len))
}

/// One convolution's sizes: input `[n, c, h, w]`, kernels `[co, c, kh, kw]`, zero padding
/// `[ph, pw]`, output `[n, co, ho, wo]`, `k = c·kh·kw` unfolded values a position.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    x: [usize; 4],
    co: usize,
    kh: usize,
    kw: usize,
    padding: [usize; 2],
    ho: usize,
    wo: usize,
    k: usize,
}

/// The output positions of one tile: its signals, rows and columns.
#[derive(Debug, Clone)]
struct Tile {
    signals: Range<usize>,
    rows: Range<usize>,
    columns: Range<usize>,
}

impl Tile {
    fn positions(&self) -> usize {
        self.rows.len() * self.columns.len()
    }

    /// Where window `(i, j)` of this tile lies in the padded input, `c` channels.
    fn window(&self, c: usize, (i, j): (usize, usize)) -> [Slice; 4] {
        [
            self.signals.clone().into(),
            (0..c).into(),
            (self.rows.start + i..self.rows.end + i).into(),
            (self.columns.start + j..self.columns.end + j).into(),
        ]
    }

    /// Where this tile lies in the output, `co` channels.
    fn output(&self, co: usize) -> [Slice; 4] {
        [
            self.signals.clone().into(),
            (0..co).into(),
            self.rows.clone().into(),
            self.columns.clone().into(),
        ]
    }
}

impl Geometry {
    /// # Panics
    /// If the kernel is larger than the padded input, or the channels differ.
    fn of(x: [usize; 4], weight: [usize; 4], [ph, pw]: [usize; 2]) -> Geometry {
        let [_, c, h, w] = x;
        let [co, ci, kh, kw] = weight;
        assert_eq!(c, ci, "input channels {c}, kernel channels {ci}");
        assert!(
            h + 2 * ph >= kh && w + 2 * pw >= kw,
            "kernel {kh}×{kw} larger than the padded input"
        );
        Geometry {
            x,
            co,
            kh,
            kw,
            padding: [ph, pw],
            ho: h + 2 * ph - kh + 1,
            wo: w + 2 * pw - kw + 1,
            k: c * kh * kw,
        }
    }

    /// The tiles within `max_bytes`, signals outermost.
    fn tiles(&self, max_bytes: usize) -> impl Iterator<Item = Tile> {
        let n = self.x[0];
        let tiles = Tiles::within([n, self.k, self.ho, self.wo], max_bytes);
        let (rows, columns) = (ranges(self.ho, tiles.rows), ranges(self.wo, tiles.columns));
        ranges(n, tiles.signals).flat_map(move |signals| {
            let columns = columns.clone();
            rows.clone().flat_map(move |rows| {
                let signals = signals.clone();
                columns.clone().map(move |columns| Tile {
                    signals: signals.clone(),
                    rows: rows.clone(),
                    columns,
                })
            })
        })
    }

    /// Kernel offsets `(i, j)`, in the order of the unfolded rows (row-major within a channel).
    fn offsets(&self) -> impl Iterator<Item = (usize, usize)> {
        let kw = self.kw;
        (0..self.kh).flat_map(move |i| (0..kw).map(move |j| (i, j)))
    }

    fn padded<B: Backend>(&self, x: FloatTensor<B>) -> FloatTensor<B> {
        let [ph, pw] = self.padding;
        if ph == 0 && pw == 0 {
            return x;
        }
        B::float_pad(
            x,
            &[(0, 0), (0, 0), (ph, ph), (pw, pw)],
            PadMode::Constant(0.0),
        )
    }

    /// The unfolded input of `tile`: `[g, c·kh·kw, positions]`, rows in the order
    /// (channel, kernel row, kernel column), from the padded input.
    fn unfold<B: Backend>(&self, padded: &FloatTensor<B>, tile: &Tile) -> FloatTensor<B> {
        let (g, c, p) = (tile.signals.len(), self.x[1], tile.positions());
        let windows: Vec<FloatTensor<B>> = self
            .offsets()
            .map(|offset| {
                let window = B::float_slice(padded.clone(), &tile.window(c, offset));
                B::float_reshape(window, [g, c, 1, p].into())
            })
            .collect();
        B::float_reshape(B::float_cat(windows, 2), [g, self.k, p].into())
    }

    /// `padded_grad` plus the unfolded gradient `dcols` (`[g, c·kh·kw, positions]`) of `tile`,
    /// each value added back where the unfolding took it from.
    fn fold<B: Backend>(
        &self,
        mut padded_grad: FloatTensor<B>,
        dcols: FloatTensor<B>,
        tile: &Tile,
    ) -> FloatTensor<B> {
        let (g, c) = (tile.signals.len(), self.x[1]);
        let (hb, wb) = (tile.rows.len(), tile.columns.len());
        let windows = self.kh * self.kw;
        let dcols = B::float_reshape(dcols, [g, c, windows, hb * wb].into());
        for (index, offset) in self.offsets().enumerate() {
            let part = B::float_slice(
                dcols.clone(),
                &[
                    (..).into(),
                    (..).into(),
                    (index..index + 1).into(),
                    (..).into(),
                ],
            );
            let part = B::float_reshape(part, [g, c, hb, wb].into());
            let region = tile.window(c, offset);
            let sum = B::float_add(B::float_slice(padded_grad.clone(), &region), part);
            padded_grad = B::float_slice_assign(padded_grad, &region, sum);
        }
        padded_grad
    }
}

/// Tile results `(tile, [g, co, rows, columns])` put together as `[n, co, ho, wo]`.
fn assemble<B: Backend>(
    geometry: &Geometry,
    parts: Vec<(Tile, FloatTensor<B>)>,
    like: &FloatTensor<B>,
) -> FloatTensor<B> {
    if parts.len() == 1 {
        return parts.into_iter().next().expect("one tile").1;
    }
    let shape = [geometry.x[0], geometry.co, geometry.ho, geometry.wo];
    let out = B::float_zeros(shape.into(), &like.device(), like.dtype().into());
    parts.into_iter().fold(out, |out, (tile, part)| {
        B::float_slice_assign(out, &tile.output(geometry.co), part)
    })
}

/// The convolution, unfolded a tile of at most `max_bytes` at a time.
///
/// - x: `[n, c_in, h, w]`, weight: `[c_out, c_in, kh, kw]`, bias: `[c_out]`
/// - output: `[n, c_out, h + 2·ph − kh + 1, w + 2·pw − kw + 1]`
///
/// # Panics
/// If the kernel is larger than the padded input, or the channels differ.
pub fn forward<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    bias: Option<FloatTensor<B>>,
    padding: [usize; 2],
    max_bytes: usize,
) -> FloatTensor<B> {
    let geometry = Geometry::of(x.shape().dims(), weight.shape().dims(), padding);
    let co = geometry.co;
    let padded = geometry.padded::<B>(x);
    // [1, c_out, c·kh·kw], in the order of the unfolded rows.
    let weight = B::float_reshape(weight, [1, co, geometry.k].into());
    let parts: Vec<(Tile, FloatTensor<B>)> = geometry
        .tiles(max_bytes)
        .map(|tile| {
            let cols = geometry.unfold::<B>(&padded, &tile);
            let shape = [tile.signals.len(), co, tile.rows.len(), tile.columns.len()];
            let part = B::float_reshape(B::float_matmul(weight.clone(), cols), shape.into());
            (tile, part)
        })
        .collect();
    let out = assemble::<B>(&geometry, parts, &weight);
    match bias {
        Some(bias) => B::float_add(out, B::float_reshape(bias, [1, co, 1, 1].into())),
        None => out,
    }
}

/// The gradient of [`forward`] for `x` (of shape `x_shape`), from the output's gradient `dy`:
/// `Wᵀ · dy` a tile at a time, folded back onto the input.
///
/// - weight: `[c_out, c_in, kh, kw]`, dy: `[n, c_out, ho, wo]` → `[n, c_in, h, w]`
pub fn input_grad<B: Backend>(
    x_shape: [usize; 4],
    weight: FloatTensor<B>,
    dy: FloatTensor<B>,
    padding: [usize; 2],
    max_bytes: usize,
) -> FloatTensor<B> {
    let geometry = Geometry::of(x_shape, weight.shape().dims(), padding);
    let ([n, c, h, w], [ph, pw], co) = (x_shape, padding, geometry.co);
    // [1, c·kh·kw, c_out]
    let weight_t = B::float_transpose(B::float_reshape(weight, [1, co, geometry.k].into()));
    let padded_shape = [n, c, h + 2 * ph, w + 2 * pw];
    let zeros = B::float_zeros(padded_shape.into(), &dy.device(), dy.dtype().into());
    let padded_grad = geometry.tiles(max_bytes).fold(zeros, |padded_grad, tile| {
        let g = tile.signals.len();
        let dy_tile = B::float_slice(dy.clone(), &tile.output(co));
        let dy_tile = B::float_reshape(dy_tile, [g, co, tile.positions()].into());
        let dcols = B::float_matmul(weight_t.clone(), dy_tile);
        geometry.fold::<B>(padded_grad, dcols, &tile)
    });
    if ph == 0 && pw == 0 {
        return padded_grad;
    }
    B::float_slice(
        padded_grad,
        &[
            (..).into(),
            (..).into(),
            (ph..ph + h).into(),
            (pw..pw + w).into(),
        ],
    )
}

/// The gradient of [`forward`] for the kernels (of shape `weight_shape`), from the output's
/// gradient `dy`: `dy · colsᵀ` summed over tiles, the input unfolded again a tile at a time.
///
/// - x: `[n, c_in, h, w]`, dy: `[n, c_out, ho, wo]` → `[c_out, c_in, kh, kw]`
pub fn weight_grad<B: Backend>(
    x: FloatTensor<B>,
    weight_shape: [usize; 4],
    dy: FloatTensor<B>,
    padding: [usize; 2],
    max_bytes: usize,
) -> FloatTensor<B> {
    let geometry = Geometry::of(x.shape().dims(), weight_shape, padding);
    let co = geometry.co;
    let padded = geometry.padded::<B>(x);
    let sum = geometry
        .tiles(max_bytes)
        .map(|tile| {
            let g = tile.signals.len();
            let cols = geometry.unfold::<B>(&padded, &tile);
            let dy_tile = B::float_slice(dy.clone(), &tile.output(co));
            let dy_tile = B::float_reshape(dy_tile, [g, co, tile.positions()].into());
            // [g, c_out, c·kh·kw], summed over the tile's signals.
            B::float_sum_dim(B::float_matmul(dy_tile, B::float_transpose(cols)), 0)
        })
        .reduce(B::float_add)
        .expect("an output has a tile");
    B::float_reshape(sum, weight_shape.into())
}

/// A stride-1 convolution with zero padding `[ph, pw]`, unfolded a tile of at most
/// [`MAX_UNFOLDED_BYTES`] at a time, on burn tensors (differentiated by burn's autodiff).
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
pub fn conv2d_within(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    padding: [usize; 2],
    max_bytes: usize,
) -> Tensor<4> {
    Tensor::from_dispatch(forward::<burn::backend::Dispatch>(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.map(Tensor::into_dispatch),
        padding,
        max_bytes,
    ))
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

    /// The explicit gradients ([`input_grad`], [`weight_grad`], the extension's backward on a
    /// GPU) against burn's, for `x` `[n, c, h, w]`, `c_out` kernels of `kh×kw`, padding `p`,
    /// in tiles of at most `max_bytes`.
    fn check_gradients(
        x: [usize; 4],
        c_out: usize,
        [kh, kw]: [usize; 2],
        p: [usize; 2],
        max_bytes: usize,
    ) {
        type D = burn::backend::Dispatch;
        let device = Device::flex();
        let random = |shape: [usize; 4]| {
            Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device).into_dispatch()
        };
        let [n, c, h, w] = x;
        let (x, weight) = (random(x), random([c_out, c, kh, kw]));
        let dy = random([n, c_out, h + 2 * p[0] + 1 - kh, w + 2 * p[1] + 1 - kw]);
        let options = ConvOptions::new([1, 1], p, [1, 1], 1);
        let data = |t| Tensor::<4>::from_dispatch(t).into_data();
        let pairs = [
            (
                "dx",
                input_grad::<D>([n, c, h, w], weight.clone(), dy.clone(), p, max_bytes),
                <D as burn::backend::ops::ModuleOps<D>>::conv2d_x_backward(
                    x.clone(),
                    weight.clone(),
                    dy.clone(),
                    options.clone(),
                ),
            ),
            (
                "dw",
                weight_grad::<D>(x.clone(), [c_out, c, kh, kw], dy.clone(), p, max_bytes),
                <D as burn::backend::ops::ModuleOps<D>>::conv2d_weight_backward(
                    x, weight, dy, options,
                ),
            ),
        ];
        for (what, ours, theirs) in pairs {
            let (ours, theirs) = (data(ours), data(theirs));
            assert_eq!(ours.shape(), theirs.shape(), "{what}");
            ours.assert_approx_eq::<f32>(&theirs, Tolerance::relative(1e-4).set_absolute(1e-3));
        }
    }

    #[test]
    fn explicit_gradients_equal_burn_in_every_tiling() {
        // Whole, groups of signals (5·9·4 B a position, 117 positions a signal: 3 a tile of
        // 7), bands of 3 rows, pieces of rows.
        for max_bytes in [MAX_UNFOLDED_BYTES, 3 * 117 * 180, 10_000, 900] {
            check_gradients([7, 5, 9, 13], 6, [3, 3], [1, 1], max_bytes);
        }
        // Without padding, and the front-end's one-row kernels, whole and in pieces.
        check_gradients([3, 5, 9, 11], 7, [3, 3], [0, 0], 2_000);
        for max_bytes in [MAX_UNFOLDED_BYTES, 4 * 32 * 7] {
            check_gradients([2, 4, 2, 40], 6, [1, 8], [0, 0], max_bytes);
        }
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
