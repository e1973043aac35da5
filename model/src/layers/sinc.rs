//! SincNet's learnable band-pass filterbank (`SincConv_fast`, mravanelli/SincNet), used twice:
//! as the time-frequency layer on the waveform and as SincModNet's modulation bank on the
//! band envelopes.

use alloc::vec::Vec;
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};
use core::f64::consts::PI;

use crate::error::ModelError;
use crate::kernels::GpuConvolution;
use crate::kernels::filterbank::symmetric_filterbank;
use alloc::format;
use alloc::string::String;
use burn::config::Config;

/// How the edges of a sinc filterbank are initialised.
#[derive(Config, Debug, PartialEq, Copy)]
pub enum SincInit {
    /// SincNet's mel-spaced bands from `low_hz` up to `fs/2 − (min_low + min_band)`.
    Mel {
        /// Lowest edge in Hz (SincNet: 30).
        low_hz: f64,
    },
    /// Linearly spaced edges `linspace(low_hz, high_hz, N+1)` (SincModNet's modulation bank).
    Linear {
        /// Lowest edge in Hz.
        low_hz: f64,
        /// Highest edge in Hz.
        high_hz: f64,
    },
}

/// A bank of learnable sinc band-pass filters, exactly SincNet's `SincConv_fast`.
#[derive(Config, Debug, PartialEq)]
pub struct SincConvConfig {
    /// Number of band-pass filters.
    pub n_filters: usize,
    /// Requested kernel length; an even length is made odd by adding one, as SincNet does.
    pub kernel_size: usize,
    /// Sample rate of the input in Hz.
    pub sample_rate: f64,
    /// Convolution stride (no padding).
    pub stride: usize,
    /// Smallest low cut-off in Hz (added to `|low_hz_|`).
    pub min_low_hz: f64,
    /// Smallest bandwidth in Hz (added to `|band_hz_|`).
    pub min_band_hz: f64,
    /// Upper clamp of the high cut-off in Hz; `None` means the Nyquist frequency.
    #[config(default = "None")]
    pub max_high_hz: Option<f64>,
    /// Initial edges.
    pub init: SincInit,
}

impl SincConvConfig {
    /// The paper's time-frequency layer: 80 filters, 256 → 257 taps, stride 10 at 16 kHz,
    /// SincNet's 50 Hz minimums and mel initialisation from 30 Hz.
    pub fn time_frequency() -> Self {
        Self::new(
            80,
            256,
            16000.0,
            10,
            50.0,
            50.0,
            SincInit::Mel { low_hz: 30.0 },
        )
    }

    /// SincModNet's modulation bank: `n_filters` band-passes at the 1600 Hz frame rate,
    /// 128 → 129 taps, stride 16, linear edges 0.5…400 Hz, minimums 0.5 / 1.0 Hz, clamp 800 Hz.
    pub fn modulation(n_filters: usize) -> Self {
        Self::new(
            n_filters,
            128,
            1600.0,
            16,
            0.5,
            1.0,
            SincInit::Linear {
                low_hz: 0.5,
                high_hz: 400.0,
            },
        )
    }

    /// The kernel length actually used (odd).
    pub fn kernel_len(&self) -> usize {
        if self.kernel_size.is_multiple_of(2) {
            self.kernel_size + 1
        } else {
            self.kernel_size
        }
    }

    /// Upper clamp of the high cut-off in Hz.
    pub fn high_limit_hz(&self) -> f64 {
        self.max_high_hz.unwrap_or(self.sample_rate / 2.0)
    }

    pub(crate) fn validate(&self, what: &str) -> Result<(), ModelError> {
        let bad = |msg: String| Err(ModelError::InvalidConfig(format!("{what}: {msg}")));
        if self.n_filters == 0 || self.kernel_size < 2 || self.stride == 0 {
            return bad(format!(
                "n_filters ({}), kernel_size ({}) and stride ({}) must be positive (kernel ≥ 2)",
                self.n_filters, self.kernel_size, self.stride
            ));
        }
        let positive = |v: f64| v > 0.0; // false for NaN too
        if !positive(self.sample_rate)
            || !positive(self.min_band_hz)
            || self.min_low_hz.is_nan()
            || self.min_low_hz < 0.0
        {
            return bad(format!(
                "sample_rate ({}) and min_band_hz ({}) must be positive, min_low_hz ({}) non-negative",
                self.sample_rate, self.min_band_hz, self.min_low_hz
            ));
        }
        if self.high_limit_hz() <= self.min_low_hz {
            return bad(format!(
                "the upper clamp {} Hz is not above min_low_hz {} Hz",
                self.high_limit_hz(),
                self.min_low_hz
            ));
        }
        Ok(())
    }
}

fn to_mel(hz: f64) -> f64 {
    2595.0 * libm::log10(1.0 + hz / 700.0)
}

fn to_hz(mel: f64) -> f64 {
    700.0 * (libm::pow(10.0, mel / 2595.0) - 1.0)
}

fn linspace(start: f64, end: f64, n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => alloc::vec![start],
        _ => (0..n)
            .map(|i| start + (end - start) * i as f64 / (n - 1) as f64)
            .collect(),
    }
}

impl SincConvConfig {
    /// Initial `(low_hz_, band_hz_)` parameters, as SincNet computes them.
    pub fn initial_parameters(&self) -> (Vec<f32>, Vec<f32>) {
        let n = self.n_filters;
        let edges: Vec<f64> = match self.init {
            SincInit::Mel { low_hz } => {
                let high_hz = self.sample_rate / 2.0 - (self.min_low_hz + self.min_band_hz);
                linspace(to_mel(low_hz), to_mel(high_hz), n + 1)
                    .into_iter()
                    .map(to_hz)
                    .collect()
            }
            SincInit::Linear { low_hz, high_hz } => linspace(low_hz, high_hz, n + 1),
        };
        // SincNet's mel init stores the raw edges; the linear modulation init subtracts the
        // minimums so that the *effective* edges start at the requested places.
        let (low_offset, band_offset) = match self.init {
            SincInit::Mel { .. } => (0.0, 0.0),
            SincInit::Linear { .. } => (self.min_low_hz, self.min_band_hz),
        };
        let low = edges[..n].iter().map(|f| (f - low_offset) as f32).collect();
        let band = edges
            .windows(2)
            .map(|w| (w[1] - w[0] - band_offset) as f32)
            .collect();
        (low, band)
    }

    /// Builds the layer with its initial edges.
    pub fn init(&self, device: &Device) -> SincConv {
        let (low, band) = self.initial_parameters();
        self.init_with(low, band, device)
    }

    /// Builds the layer with the given `low_hz_` and `band_hz_` parameters (SincNet's raw
    /// values, before `|·|` and the minimums), e.g. to reproduce a reference layer.
    ///
    /// # Panics
    /// If either vector does not hold `n_filters` values.
    pub fn init_with(&self, low_hz: Vec<f32>, band_hz: Vec<f32>, device: &Device) -> SincConv {
        let n = self.n_filters;
        assert_eq!(low_hz.len(), n, "low_hz_ needs one value per filter");
        assert_eq!(band_hz.len(), n, "band_hz_ needs one value per filter");
        let k = self.kernel_len();
        let half = (k - 1) / 2;
        // SincNet's time grid n_ = 2π·m/fs for m = −H…−1 ...
        let grid: Vec<f32> = (0..half)
            .map(|i| (2.0 * PI * (i as f64 - half as f64) / self.sample_rate) as f32)
            .collect();
        // ... and half of a Hamming window on a stretched grid: n_lin = linspace(0, K/2 − 1, ⌊K/2⌋),
        // w = 0.54 − 0.46·cos(2π·n_lin/K) with K the odd length (not `hamming_window(K)`).
        let window: Vec<f32> = linspace(0.0, k as f64 / 2.0 - 1.0, k / 2)
            .into_iter()
            .map(|n| (0.54 - 0.46 * libm::cos(2.0 * PI * n / k as f64)) as f32)
            .collect();
        let row = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [1, half]), device);
        let vector = |v: Vec<f32>| Tensor::<1>::from_data(TensorData::new(v, [n]), device);
        SincConv {
            low_hz: Param::from_tensor(vector(low_hz)),
            band_hz: Param::from_tensor(vector(band_hz)),
            time_grid: row(grid),
            window: row(window),
            stride: self.stride,
            min_low_hz: self.min_low_hz,
            min_band_hz: self.min_band_hz,
            max_high_hz: self.high_limit_hz(),
            gpu_convolution: GpuConvolution::default(),
        }
    }
}

/// A bank of learnable sinc band-pass filters; gradients reach `low_hz` and `band_hz` only.
#[derive(Module, Debug)]
pub struct SincConv {
    /// SincNet's `low_hz_` (Hz): the low cut-off is `min_low_hz + |low_hz|`. Shape `[N]`.
    pub low_hz: Param<Tensor<1>>,
    /// SincNet's `band_hz_` (Hz): the bandwidth before clamping is `min_band_hz + |band_hz|`.
    /// Shape `[N]`.
    pub band_hz: Param<Tensor<1>>,
    /// Constant `2π·m/fs`, m = −H…−1. Shape `[1, H]`.
    time_grid: Tensor<2>,
    /// Constant left half of the window. Shape `[1, H]`.
    window: Tensor<2>,
    /// Convolution stride.
    pub stride: usize,
    /// Smallest low cut-off (Hz).
    pub min_low_hz: f64,
    /// Smallest bandwidth (Hz).
    pub min_band_hz: f64,
    /// Upper clamp of the high cut-off (Hz).
    pub max_high_hz: f64,
    /// How its convolution runs on a GPU (a setting, not a weight: [`crate::ModNet::set_gpu_convolution`]).
    #[module(skip)]
    pub gpu_convolution: GpuConvolution,
}

impl SincConv {
    /// Number of filters N.
    pub fn n_filters(&self) -> usize {
        self.low_hz.dims()[0]
    }

    /// Kernel length K (odd).
    pub fn kernel_len(&self) -> usize {
        2 * self.time_grid.dims()[1] + 1
    }

    /// Effective cut-offs `(f1, f2)` in Hz, each of shape `[N]`.
    pub fn cutoffs(&self) -> (Tensor<1>, Tensor<1>) {
        let low = self.low_hz.val().abs().add_scalar(self.min_low_hz);
        let high = (low.clone() + self.band_hz.val().abs().add_scalar(self.min_band_hz))
            .clamp(self.min_low_hz, self.max_high_hz);
        (low, high)
    }

    /// The band-pass kernels as SincNet builds them in its forward pass.
    ///
    /// - output: `[N, K]`, unit centre tap, passband gain ≈ fs/(2B).
    pub fn kernels(&self) -> Tensor<2> {
        let (low, high) = self.cutoffs();
        let band: Tensor<2> = (high.clone() - low.clone()).unsqueeze_dim(1);
        let low: Tensor<2> = low.unsqueeze_dim(1);
        let high: Tensor<2> = high.unsqueeze_dim(1);
        let grid = self.time_grid.clone();
        let left = ((high * grid.clone()).sin() - (low * grid.clone()).sin())
            / grid.mul_scalar(0.5)
            * self.window.clone();
        let right = left.clone().flip([1]);
        let centre = band.clone().mul_scalar(2.0);
        Tensor::cat(alloc::vec![left, centre.clone(), right], 1) / centre
    }

    /// Filters a batch of signals.
    ///
    /// - input: `[batch, 1, samples]`
    /// - output: `[batch, N, frames]`, frames = ⌊(samples − K)/stride⌋ + 1 (no padding, no bias)
    pub fn forward(&self, input: Tensor<3>) -> Tensor<3> {
        // The kernels are symmetric by construction (the right half is the left one flipped).
        symmetric_filterbank(input, self.kernels(), self.stride, self.gpu_convolution)
    }
}
