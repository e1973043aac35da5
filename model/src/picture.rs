//! Turning the model's intermediate tensors into images: power in dB, pooled along time to a
//! drawable width. The trainer's plots and the web page both draw from these.

use alloc::vec::Vec;

/// A row-major matrix of values ready to be drawn (rows = bands, columns = time).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Picture {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// `rows × cols` values.
    pub values: Vec<f32>,
}

impl Picture {
    /// Mean-pools a `rows × cols` matrix along columns to at most `max_cols` columns, then maps
    /// it to `10·log10(x + ε)` dB (`x` is a power or energy), clipped at `range_db` below the
    /// picture's maximum. Empty input gives an empty picture.
    pub fn power_db(
        values: &[f32],
        rows: usize,
        cols: usize,
        max_cols: usize,
        range_db: f32,
    ) -> Self {
        if rows == 0 || cols == 0 || values.len() != rows * cols {
            return Self {
                rows: 0,
                cols: 0,
                values: Vec::new(),
            };
        }
        let out_cols = cols.min(max_cols.max(1));
        let mut out = Vec::with_capacity(rows * out_cols);
        for row in values.chunks(cols) {
            for c in 0..out_cols {
                // Columns [a, b) of the input fall into output column c (never empty).
                let a = c * cols / out_cols;
                let b = ((c + 1) * cols / out_cols).max(a + 1);
                let mean = row[a..b].iter().map(|v| v.abs()).sum::<f32>() / (b - a) as f32;
                out.push(10.0 * libm::log10f(mean + 1e-12));
            }
        }
        let max = out.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for v in &mut out {
            *v = v.max(max - range_db);
        }
        Self {
            rows,
            cols: out_cols,
            values: out,
        }
    }

    /// Smallest and largest value (for a colour scale).
    pub fn range(&self) -> (f32, f32) {
        self.values
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            })
    }
}
