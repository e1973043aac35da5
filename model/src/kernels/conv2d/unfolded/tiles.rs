//! The unfolded convolution's tiles: how an output is cut into tiles whose unfolded input stays
//! within a bound ([`Tiles`]), and, on the convolution's geometry ([`ConvShape`]), one tile's
//! unfolding and its adjoint, the fold, on a backend's tensors.

use alloc::vec::Vec;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, TensorMetadata};
use burn::tensor::Slice;
use burn::tensor::ops::PadMode;
use core::ops::Range;

use super::super::shape::ConvShape;

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

/// The output positions of one tile: its signals, rows and columns.
#[derive(Debug, Clone)]
pub(super) struct Tile {
    pub(super) signals: Range<usize>,
    pub(super) rows: Range<usize>,
    pub(super) columns: Range<usize>,
}

impl Tile {
    pub(super) fn positions(&self) -> usize {
        self.rows.len() * self.columns.len()
    }

    /// Where window `(i, j)` of this tile lies in the padded input, `c` channels.
    pub(super) fn window(&self, c: usize, (i, j): (usize, usize)) -> [Slice; 4] {
        [
            self.signals.clone().into(),
            (0..c).into(),
            (self.rows.start + i..self.rows.end + i).into(),
            (self.columns.start + j..self.columns.end + j).into(),
        ]
    }

    /// Where this tile lies in the output, `co` channels.
    pub(super) fn output(&self, co: usize) -> [Slice; 4] {
        [
            self.signals.clone().into(),
            (0..co).into(),
            self.rows.clone().into(),
            self.columns.clone().into(),
        ]
    }
}

/// A convolution's geometry, checked: the shared [`ConvShape`] of `x` `[n, c, h, w]`, kernels
/// `[co, c, kh, kw]` and padding `[ph, pw]`.
///
/// # Panics
/// If the kernel is larger than the padded input, or the channels differ.
pub(super) fn checked(x: [usize; 4], weight: [usize; 4], padding: [usize; 2]) -> ConvShape {
    let ([_, c, h, w], [_, ci, kh, kw], [ph, pw]) = (x, weight, padding);
    assert_eq!(c, ci, "input channels {c}, kernel channels {ci}");
    assert!(
        h + 2 * ph >= kh && w + 2 * pw >= kw,
        "kernel {kh}×{kw} larger than the padded input"
    );
    ConvShape::of(x, weight, padding)
}

/// The unfolded form's work on a convolution's geometry.
impl ConvShape {
    /// The tiles within `max_bytes`, signals outermost.
    pub(super) fn tiles(&self, max_bytes: usize) -> impl Iterator<Item = Tile> {
        let (oh, ow) = (self.oh(), self.ow());
        let tiles = Tiles::within([self.batch, self.taps(), oh, ow], max_bytes);
        let (rows, columns) = (ranges(oh, tiles.rows), ranges(ow, tiles.columns));
        ranges(self.batch, tiles.signals).flat_map(move |signals| {
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
    pub(super) fn offsets(&self) -> impl Iterator<Item = (usize, usize)> {
        let kw = self.kw;
        (0..self.kh).flat_map(move |i| (0..kw).map(move |j| (i, j)))
    }

    pub(super) fn padded<B: Backend>(&self, x: FloatTensor<B>) -> FloatTensor<B> {
        let (ph, pw) = (self.ph, self.pw);
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
    pub(super) fn unfold<B: Backend>(
        &self,
        padded: &FloatTensor<B>,
        tile: &Tile,
    ) -> FloatTensor<B> {
        let (g, c, p) = (tile.signals.len(), self.c_in, tile.positions());
        let windows: Vec<FloatTensor<B>> = self
            .offsets()
            .map(|offset| {
                let window = B::float_slice(padded.clone(), &tile.window(c, offset));
                B::float_reshape(window, [g, c, 1, p].into())
            })
            .collect();
        B::float_reshape(B::float_cat(windows, 2), [g, self.taps(), p].into())
    }

    /// `padded_grad` plus the unfolded gradient `dcols` (`[g, c·kh·kw, positions]`) of `tile`,
    /// each value added back where the unfolding took it from.
    pub(super) fn fold<B: Backend>(
        &self,
        mut padded_grad: FloatTensor<B>,
        dcols: FloatTensor<B>,
        tile: &Tile,
    ) -> FloatTensor<B> {
        let (g, c) = (tile.signals.len(), self.c_in);
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
pub(super) fn assemble<B: Backend>(
    shape: &ConvShape,
    parts: Vec<(Tile, FloatTensor<B>)>,
    like: &FloatTensor<B>,
) -> FloatTensor<B> {
    if parts.len() == 1 {
        return parts.into_iter().next().expect("one tile").1;
    }
    let dims = [shape.batch, shape.c_out, shape.oh(), shape.ow()];
    let out = B::float_zeros(dims.into(), &like.device(), like.dtype().into());
    parts.into_iter().fold(out, |out, (tile, part)| {
        B::float_slice_assign(out, &tile.output(shape.c_out), part)
    })
}
