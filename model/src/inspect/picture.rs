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
        if out_cols == cols {
            // Nothing to pool: one pass that the compiler vectorises (the page's modulation
            // pictures, half a million values per live window).
            out.extend(values.iter().map(|v| decibels(v.abs())));
        } else {
            for row in values.chunks(cols) {
                for c in 0..out_cols {
                    // Columns [a, b) of the input fall into output column c (never empty).
                    let a = c * cols / out_cols;
                    let b = ((c + 1) * cols / out_cols).max(a + 1);
                    let mean = row[a..b].iter().map(|v| v.abs()).sum::<f32>() / (b - a) as f32;
                    out.push(decibels(mean));
                }
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

/// `10·log10(x + 10⁻¹²)` for a finite `x ≥ 0`, within 10⁻⁴ dB, without a branch or a library
/// call, so that a loop of it runs four or eight values at a time (`libm`'s `log10f` took most
/// of a live window's pictures in the page). `x = m·2ᵉ` with `m` in [√½, √2) from the float's
/// bits, then `ln m = 2·atanh((m − 1)/(m + 1))` by its series to the 7th power (|t| < 0.172).
fn decibels(x: f32) -> f32 {
    const SQRT_HALF_BITS: u32 = 0x3f35_04f3;
    let bits = (x + 1e-12).to_bits();
    let e = (bits.wrapping_sub(SQRT_HALF_BITS) as i32) >> 23;
    let m = f32::from_bits(bits.wrapping_sub((e as u32) << 23));
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let ln_m = 2.0 * t * (1.0 + t2 * (1.0 / 3.0 + t2 * (1.0 / 5.0 + t2 * (1.0 / 7.0))));
    (e as f32 * core::f32::consts::LN_2 + ln_m) * (10.0 / core::f32::consts::LN_10)
}

/// The order in which a model's filters are drawn: by centre frequency, low to high (the order
/// of the paper's figures), from the learned responses ([`crate::BankResponses`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FilterOrder {
    /// Filterbank filter indices (rows of [`crate::Inside::filterbank`]), low to high.
    pub filterbank: Vec<usize>,
    /// The filterbank's centre frequencies in that order (Hz).
    pub filterbank_centre_hz: Vec<f32>,
    /// Modulation filter indices, low to high (empty for the max-pool baseline).
    pub modulation: Vec<usize>,
    /// Their centre frequencies in that order (Hz).
    pub modulation_centre_hz: Vec<f32>,
}

impl FilterOrder {
    /// The drawing order of these responses.
    pub fn of(responses: &crate::BankResponses) -> Self {
        let filterbank = responses.filterbank.order_by_centre();
        let (modulation, modulation_centre_hz) = match &responses.modulation {
            Some(m) => {
                let order = m.order_by_centre();
                let centres = order.iter().map(|&i| m.centre_hz[i]).collect();
                (order, centres)
            }
            None => (Vec::new(), Vec::new()),
        };
        Self {
            filterbank_centre_hz: filterbank
                .iter()
                .map(|&i| responses.filterbank.centre_hz[i])
                .collect(),
            filterbank,
            modulation,
            modulation_centre_hz,
        }
    }
}

/// One chunk's pictures: the filterbank's output and one modulation picture per modulation
/// filter, rows (bands) and filters in [`FilterOrder`], power in dB.
#[derive(Debug, Clone, PartialEq)]
pub struct InsidePictures {
    /// `[bands, columns]`.
    pub filterbank: Picture,
    /// One `[bands, columns]` picture per modulation filter, low to high.
    pub modulation: Vec<Picture>,
}

impl InsidePictures {
    /// The pictures of one chunk's read-back [`crate::Inside`] values: `filterbank` is
    /// `[bands, frames]` (`filterbank_dims`), `modulation` `[filters, bands, frames]`
    /// (`modulation_dims`; empty for the baseline). Each picture is mean-pooled to at most
    /// `max_cols` columns and clipped `range_db` below its maximum ([`Picture::power_db`]).
    pub fn new(
        order: &FilterOrder,
        filterbank: &[f32],
        filterbank_dims: [usize; 2],
        modulation: &[f32],
        modulation_dims: [usize; 3],
        max_cols: usize,
        range_db: f32,
    ) -> Self {
        let [bands, frames] = filterbank_dims;
        let fb = reorder_rows(filterbank, frames, &order.filterbank);
        let filterbank = Picture::power_db(&fb, bands, frames, max_cols, range_db);
        let [filters, bands, frames] = modulation_dims;
        let per_filter = bands * frames;
        let modulation = order
            .modulation
            .iter()
            .filter(|&&i| i < filters && modulation.len() >= (i + 1) * per_filter)
            .map(|&i| {
                let one = &modulation[i * per_filter..(i + 1) * per_filter];
                let one = reorder_rows(one, frames, &order.filterbank);
                Picture::power_db(&one, bands, frames, max_cols, range_db)
            })
            .collect();
        Self {
            filterbank,
            modulation,
        }
    }
}

/// How far below a picture's maximum its values are clipped (dB): the page's, the Python
/// package's and `trainer inspect`'s pictures.
pub const PICTURE_RANGE_DB: f32 = 80.0;

/// One chunk's pictures with what a reader needs to place them: the JSON that `trainer inspect`
/// writes and the page's "values" download, so that either can be compared with the other or
/// plotted elsewhere.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PictureValues {
    /// Where the chunk starts in the audio (seconds).
    pub start_seconds: f64,
    /// How many seconds one column spans.
    pub column_seconds: f64,
    /// `[bands, columns]` in dB, bands low to high.
    pub filterbank: Picture,
    /// One `[bands, columns]` picture per modulation filter, low to high.
    pub modulation: Vec<Picture>,
    /// The filterbank's centre frequencies, row by row (Hz).
    pub filterbank_centre_hz: Vec<f32>,
    /// The modulation filters' centre frequencies, picture by picture (Hz).
    pub modulation_centre_hz: Vec<f32>,
}

/// The rows of a row-major `[rows, cols]` matrix in `order`.
fn reorder_rows(values: &[f32], cols: usize, order: &[usize]) -> Vec<f32> {
    order
        .iter()
        .flat_map(|&r| values[r * cols..(r + 1) * cols].iter().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast decibels agree with `10·log10` to 10⁻⁴ dB over the range pictures meet (the
    /// floor 10⁻¹², powers of 2 on both sides of every octave edge, large values), and power_db
    /// with and without pooling gives the exact figures' pictures.
    #[test]
    fn decibels_match_log10() {
        let mut x = 0.0f32;
        let mut worst = 0.0f64;
        let mut probes = alloc::vec![0.0f32, 1e-12, 1.0, 0.5, 2.0, core::f32::consts::SQRT_2];
        // Both sides of the octave edges √½ and √2, one float apart.
        let edges: alloc::vec::Vec<f32> =
            [core::f32::consts::FRAC_1_SQRT_2, core::f32::consts::SQRT_2]
                .iter()
                .flat_map(|c| {
                    [
                        f32::from_bits(c.to_bits() - 1),
                        *c,
                        f32::from_bits(c.to_bits() + 1),
                    ]
                })
                .collect();
        for k in -80..=40 {
            let p = libm::powf(2.0, k as f32);
            probes.extend(edges.iter().map(|c| p * c));
            probes.extend([p, p * 1.9]);
        }
        for i in 0..20_000 {
            x = x * 0.999 + (i as f32 * 0.37).sin().abs() * 1e3;
            probes.push(x / (1 + i % 977) as f32);
        }
        for &p in &probes {
            let exact = 10.0 * libm::log10(p as f64 + 1e-12);
            worst = worst.max((decibels(p) as f64 - exact).abs());
        }
        assert!(worst < 1e-4, "largest error {worst} dB");

        let values: alloc::vec::Vec<f32> = (0..2 * 900).map(|i| (i as f32 * 0.01).sin()).collect();
        for max_cols in [900, 400, 7] {
            let picture = Picture::power_db(&values, 2, 900, max_cols, 80.0);
            assert_eq!((picture.rows, picture.cols), (2, max_cols.min(900)));
            let mut exact = alloc::vec::Vec::new();
            for row in values.chunks(900) {
                for c in 0..picture.cols {
                    let (a, b) = (
                        c * 900 / picture.cols,
                        ((c + 1) * 900 / picture.cols).max(c * 900 / picture.cols + 1),
                    );
                    let mean =
                        row[a..b].iter().map(|v| v.abs() as f64).sum::<f64>() / (b - a) as f64;
                    exact.push(10.0 * libm::log10(mean + 1e-12));
                }
            }
            let top = exact.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            for (got, want) in picture.values.iter().zip(&exact) {
                let want = want.max(top - 80.0);
                assert!(
                    (*got as f64 - want).abs() < 1e-3,
                    "{max_cols} columns: {got} vs {want}"
                );
            }
        }
    }
}
