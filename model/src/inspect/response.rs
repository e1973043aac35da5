//! Frequency responses of the learned filters (the paper's Fig. 3 and 8), as numbers to plot:
//! magnitude in dB on a linear frequency grid, with centre frequencies and edges in Hz.

/// The points at which the page, the Python package and `trainer inspect` evaluate the learned
/// responses: the pictures' row order comes from these, so it is one number for all three.
pub const RESPONSE_POINTS: usize = 512;

use alloc::vec::Vec;
use burn::tensor::Tensor;
use core::f64::consts::PI;

use crate::error::ModelError;
use crate::model::ModNet;

/// Responses of one filterbank.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FilterResponses {
    /// Frequencies of the grid in Hz, 0 … fs/2 inclusive.
    pub freqs_hz: Vec<f32>,
    /// `20·log10|H(f)|` per filter, each of `freqs_hz.len()` values.
    pub magnitude_db: Vec<Vec<f32>>,
    /// Centre frequency per filter in Hz: the band's middle for sinc filters, the peak of the
    /// magnitude for FIR filters.
    pub centre_hz: Vec<f32>,
    /// Lower edge per filter in Hz: `f1` for sinc filters, the −3 dB point below the peak for FIR.
    pub low_hz: Vec<f32>,
    /// Upper edge per filter in Hz: `f2` for sinc filters, the −3 dB point above the peak for FIR.
    pub high_hz: Vec<f32>,
}

impl FilterResponses {
    /// Number of filters.
    pub fn len(&self) -> usize {
        self.magnitude_db.len()
    }

    /// Whether there is no filter.
    pub fn is_empty(&self) -> bool {
        self.magnitude_db.is_empty()
    }

    /// The highest finite magnitude of any filter in dB (the top of a plot), at least `floor_db`.
    pub fn peak_db(&self, floor_db: f32) -> f32 {
        self.magnitude_db
            .iter()
            .flatten()
            .copied()
            .filter(|v| v.is_finite())
            .fold(floor_db, f32::max)
    }

    /// Filter indices sorted by centre frequency (the order of the paper's figures).
    pub fn order_by_centre(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_by(|&a, &b| self.centre_hz[a].total_cmp(&self.centre_hz[b]));
        order
    }

    /// The same responses with the filters in centre-frequency order.
    pub fn ordered_by_centre(&self) -> Self {
        let order = self.order_by_centre();
        let pick = |v: &[f32]| order.iter().map(|&i| v[i]).collect();
        Self {
            freqs_hz: self.freqs_hz.clone(),
            magnitude_db: order
                .iter()
                .map(|&i| self.magnitude_db[i].clone())
                .collect(),
            centre_hz: pick(&self.centre_hz),
            low_hz: pick(&self.low_hz),
            high_hz: pick(&self.high_hz),
        }
    }

    /// Responses of sinc band-pass filters with known cut-offs.
    pub fn sinc(
        kernels: &[f32],
        kernel_len: usize,
        sample_rate: f64,
        low_hz: Vec<f32>,
        high_hz: Vec<f32>,
        n_points: usize,
    ) -> Self {
        let (freqs_hz, magnitude_db) = magnitudes(kernels, kernel_len, sample_rate, n_points);
        let centre_hz = low_hz
            .iter()
            .zip(&high_hz)
            .map(|(l, h)| 0.5 * (l + h))
            .collect();
        Self {
            freqs_hz,
            magnitude_db,
            centre_hz,
            low_hz,
            high_hz,
        }
    }

    /// Responses of free FIR filters: centre at the peak, edges at the −3 dB points.
    pub fn fir(kernels: &[f32], kernel_len: usize, sample_rate: f64, n_points: usize) -> Self {
        let (freqs_hz, magnitude_db) = magnitudes(kernels, kernel_len, sample_rate, n_points);
        let (mut centre_hz, mut low_hz, mut high_hz) = (Vec::new(), Vec::new(), Vec::new());
        for db in &magnitude_db {
            let peak = (0..db.len())
                .max_by(|&a, &b| db[a].total_cmp(&db[b]))
                .unwrap_or(0);
            let floor = db[peak] - 3.0103;
            let low = (0..peak)
                .rev()
                .find(|&i| db[i] < floor)
                .map_or(0, |i| i + 1);
            let high = (peak..db.len())
                .find(|&i| db[i] < floor)
                .map_or(db.len() - 1, |i| i - 1);
            centre_hz.push(freqs_hz[peak]);
            low_hz.push(freqs_hz[low]);
            high_hz.push(freqs_hz[high]);
        }
        Self {
            freqs_hz,
            magnitude_db,
            centre_hz,
            low_hz,
            high_hz,
        }
    }
}

/// `|H(f)|` in dB of each row of `kernels` (row-major, `kernel_len` taps each) at `n_points`
/// frequencies from 0 to fs/2, like `scipy.signal.freqz` on a given grid.
pub fn magnitudes(
    kernels: &[f32],
    kernel_len: usize,
    sample_rate: f64,
    n_points: usize,
) -> (Vec<f32>, Vec<Vec<f32>>) {
    let n_points = n_points.max(2);
    let freqs: Vec<f64> = (0..n_points)
        .map(|i| 0.5 * sample_rate * i as f64 / (n_points - 1) as f64)
        .collect();
    let db = kernels
        .chunks(kernel_len)
        .map(|h| {
            freqs
                .iter()
                .map(|f| {
                    let w = 2.0 * PI * f / sample_rate;
                    let (re, im) = h.iter().enumerate().fold((0.0, 0.0), |(re, im), (n, &x)| {
                        let phase = w * n as f64;
                        (
                            re + x as f64 * libm::cos(phase),
                            im - x as f64 * libm::sin(phase),
                        )
                    });
                    (10.0 * libm::log10(re * re + im * im + 1e-20)) as f32
                })
                .collect()
        })
        .collect();
    (freqs.into_iter().map(|f| f as f32).collect(), db)
}

/// Responses of both banks of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct BankResponses {
    /// The time-frequency sinc layer (0 … fs/2).
    pub filterbank: FilterResponses,
    /// The modulation bank (0 … frame rate / 2); `None` for the max-pool baseline.
    pub modulation: Option<FilterResponses>,
}

/// The filter tensors responses are computed from, read back by the caller (synchronously on
/// native backends, asynchronously in the browser) and passed to [`BankResponses::from_data`].
pub struct ResponseTensors {
    /// Time-frequency kernels `[N, K]`.
    pub filterbank_kernels: Tensor<2>,
    /// Their cut-offs `[2, N]` (f1 row, f2 row).
    pub filterbank_cutoffs: Tensor<2>,
    /// Modulation kernels `[M, Km]`, if any.
    pub modulation_kernels: Option<Tensor<2>>,
    /// Modulation cut-offs `[2, M]` for the sinc modulation bank.
    pub modulation_cutoffs: Option<Tensor<2>>,
}

fn stack_cutoffs((low, high): (Tensor<1>, Tensor<1>)) -> Tensor<2> {
    Tensor::stack(alloc::vec![low, high], 0)
}

impl ModNet {
    /// The tensors behind [`BankResponses`].
    pub fn response_tensors(&self) -> ResponseTensors {
        let temporal = &self.frontend.temporal;
        ResponseTensors {
            filterbank_kernels: self.frontend.filterbank.kernels(),
            filterbank_cutoffs: stack_cutoffs(self.frontend.filterbank.cutoffs()),
            modulation_kernels: temporal.kernels(),
            modulation_cutoffs: match temporal {
                crate::layers::modulation::Temporal::Sinc(bank) => {
                    Some(stack_cutoffs(bank.cutoffs()))
                }
                _ => None,
            },
        }
    }

    /// Frequency responses of both banks on `n_points` frequencies each (synchronous read-back).
    pub fn filter_responses(&self, n_points: usize) -> Result<BankResponses, ModelError> {
        let t = self.response_tensors();
        let read = crate::clip::read_back::values::<2>;
        let modulation = match (t.modulation_kernels, t.modulation_cutoffs) {
            (Some(k), c) => Some((read(k)?, c.map(read).transpose()?)),
            (None, _) => None,
        };
        Ok(BankResponses::from_data(
            self,
            read(t.filterbank_kernels)?,
            read(t.filterbank_cutoffs)?,
            modulation,
            n_points,
        ))
    }
}

impl BankResponses {
    /// Builds the responses from read-back data of [`ResponseTensors`] (row-major vectors).
    pub fn from_data(
        model: &ModNet,
        filterbank_kernels: Vec<f32>,
        filterbank_cutoffs: Vec<f32>,
        modulation: Option<(Vec<f32>, Option<Vec<f32>>)>,
        n_points: usize,
    ) -> Self {
        let config = model.config();
        let fb = &model.frontend.filterbank;
        let n = fb.n_filters();
        let (low, high) = filterbank_cutoffs.split_at(n);
        let filterbank = FilterResponses::sinc(
            &filterbank_kernels,
            fb.kernel_len(),
            config.sample_rate.hz() as f64,
            low.to_vec(),
            high.to_vec(),
            n_points,
        );
        let frame_rate = config.frame_rate();
        let modulation = modulation.map(|(kernels, cutoffs)| {
            let k = model.frontend.temporal.kernel_size();
            match cutoffs {
                Some(c) => {
                    let (low, high) = c.split_at(c.len() / 2);
                    FilterResponses::sinc(
                        &kernels,
                        k,
                        frame_rate,
                        low.to_vec(),
                        high.to_vec(),
                        n_points,
                    )
                }
                None => FilterResponses::fir(&kernels, k, frame_rate, n_points),
            }
        });
        Self {
            filterbank,
            modulation,
        }
    }
}
