//! The temporal stage between the filterbank and the back-end: modulation filters shared by all
//! bands (ModNet's FIR bank or SincModNet's sinc bank), or the max-pool baseline.

use alloc::vec::Vec;
use burn::module::{Module, Param};
use burn::tensor::module::max_pool1d;
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use core::f64::consts::PI;

use crate::kernels::GpuConvolution;
use crate::kernels::filterbank::{strided_filterbank_rows, symmetric_filterbank_rows};
use crate::layers::sinc::{SincConv, SincConvConfig};
use burn::config::Config;

/// How the learnable FIR modulation filters of ModNet start.
#[derive(Config, Debug, PartialEq)]
pub enum FirInit {
    /// Hamming windows of each length in `lengths`, centred at `positions` evenly spaced places
    /// across the kernel (after Tüske et al.); filter `i` takes cell `i mod (lengths × positions)`
    /// of that grid, lengths varying slowest. Windows are cut at the kernel's ends.
    HammingGrid {
        /// Window lengths in taps (the paper: 128, 64, 32, 16).
        lengths: Vec<usize>,
        /// Number of centre positions (the paper: 5).
        positions: usize,
    },
    /// PyTorch's default `Conv1d` init: uniform in ±1/sqrt(fan_in) (an ablation).
    KaimingUniform,
}

/// ModNet's modulation bank: free FIR kernels shared by every frequency band.
#[derive(Config, Debug, PartialEq)]
pub struct FirModulationConfig {
    /// Number of modulation filters M.
    #[config(default = 20)]
    pub n_filters: usize,
    /// Kernel length in frames.
    #[config(default = 128)]
    pub kernel_size: usize,
    /// Stride in frames (16 frames = 10 ms at the 1600 Hz frame rate).
    #[config(default = 16)]
    pub stride: usize,
    /// Initialisation.
    #[config(
        default = "FirInit::HammingGrid { lengths: alloc::vec![128, 64, 32, 16], positions: 5 }"
    )]
    pub init: FirInit,
    /// Scale each kernel to unit L2 norm in the forward pass (the paper's alternative to
    /// instance norm).
    #[config(default = false)]
    pub weight_norm: bool,
}

/// The max-pool baseline of Table II: max over time instead of modulation filtering.
#[derive(Config, Debug, PartialEq)]
pub struct MaxPoolEnvelopeConfig {
    /// Pooling window in frames.
    #[config(default = 128)]
    pub kernel_size: usize,
    /// Pooling stride in frames.
    #[config(default = 128)]
    pub stride: usize,
}

/// What turns the filterbank's band envelopes into the back-end's input.
#[derive(Config, Debug, PartialEq)]
pub enum TemporalConfig {
    /// ModNet: learnable FIR modulation filters.
    Fir(FirModulationConfig),
    /// SincModNet: sinc band-pass modulation filters.
    Sinc(SincConvConfig),
    /// The max-pool baseline.
    MaxPool(MaxPoolEnvelopeConfig),
}

impl TemporalConfig {
    /// Channels handed to the back-end: M modulation filters, or 1 for max pooling.
    pub fn channels(&self) -> usize {
        match self {
            Self::Fir(c) => c.n_filters,
            Self::Sinc(c) => c.n_filters,
            Self::MaxPool(_) => 1,
        }
    }

    /// (kernel length, stride) over filterbank frames.
    pub fn geometry(&self) -> (usize, usize) {
        match self {
            Self::Fir(c) => (c.kernel_size, c.stride),
            Self::Sinc(c) => (c.kernel_len(), c.stride),
            Self::MaxPool(c) => (c.kernel_size, c.stride),
        }
    }

    /// Sets the stride over filterbank frames (the paper's Fig. 4 sweep).
    pub fn with_stride(mut self, stride: usize) -> Self {
        match &mut self {
            Self::Fir(c) => c.stride = stride,
            Self::Sinc(c) => c.stride = stride,
            Self::MaxPool(c) => c.stride = stride,
        }
        self
    }
}

/// Hamming window of `len` taps (symmetric, as `np.hamming`).
fn hamming(len: usize) -> Vec<f64> {
    if len == 1 {
        return alloc::vec![1.0];
    }
    (0..len)
        .map(|n| 0.54 - 0.46 * libm::cos(2.0 * PI * n as f64 / (len - 1) as f64))
        .collect()
}

impl FirModulationConfig {
    /// The Hamming-grid kernels, `[M × kernel_size]` row-major: filter `i` takes grid cell
    /// `i mod (lengths × positions)`, a window of length `lengths[cell / positions]` centred at
    /// `(p + ½)·K/positions` with `p = cell mod positions`, cut at the kernel's ends.
    pub fn hamming_grid(&self, lengths: &[usize], positions: usize) -> Vec<f32> {
        let k = self.kernel_size;
        let cells = lengths.len() * positions;
        let mut kernels = alloc::vec![0.0f32; self.n_filters * k];
        for (i, kernel) in kernels.chunks_mut(k).enumerate() {
            let cell = i % cells;
            let len = lengths[cell / positions];
            let centre = (cell % positions) as f64 + 0.5;
            let centre = centre * k as f64 / positions as f64;
            // First tap of the window so that its midpoint sits on `centre`.
            let start = libm::round(centre - len as f64 / 2.0) as isize;
            for (j, w) in hamming(len).into_iter().enumerate() {
                let t = start + j as isize;
                if (0..k as isize).contains(&t) {
                    kernel[t as usize] = w as f32;
                }
            }
        }
        kernels
    }

    /// Builds the bank.
    pub fn init(&self, device: &Device) -> FirFilterbank {
        let shape = [self.n_filters, 1, self.kernel_size];
        let weight = match &self.init {
            FirInit::HammingGrid { lengths, positions } => Tensor::from_data(
                TensorData::new(self.hamming_grid(lengths, *positions), shape),
                device,
            ),
            FirInit::KaimingUniform => {
                // PyTorch's Conv1d default: kaiming_uniform(a = √5) = U(±1/√fan_in).
                let bound = 1.0 / libm::sqrt(self.kernel_size as f64);
                Tensor::random(shape, Distribution::Uniform(-bound, bound), device)
            }
        };
        FirFilterbank {
            weight: Param::from_tensor(weight),
            stride: self.stride,
            weight_norm: self.weight_norm,
            gpu_convolution: GpuConvolution::default(),
        }
    }
}

/// ModNet's modulation bank: M free FIR kernels.
#[derive(Module, Debug)]
pub struct FirFilterbank {
    /// Kernels. Shape `[M, 1, K]`.
    pub weight: Param<Tensor<3>>,
    /// Stride in frames.
    pub stride: usize,
    /// Unit-L2-norm kernels in the forward pass.
    pub weight_norm: bool,
    /// How its convolution runs on a GPU (a setting, not a weight: [`crate::ModNet::set_gpu_convolution`]).
    #[module(skip)]
    pub gpu_convolution: GpuConvolution,
}

impl FirFilterbank {
    /// The kernels as applied (after weight normalisation, if on). Shape `[M, K]`.
    pub fn kernels(&self) -> Tensor<2> {
        let w: Tensor<2> = self.weight.val().squeeze_dim(1);
        if self.weight_norm {
            let norm = w.clone().square().sum_dim(1).add_scalar(1e-12).sqrt();
            w / norm
        } else {
            w
        }
    }
}

impl MaxPoolEnvelopeConfig {
    /// Builds the baseline stage.
    pub fn init(&self) -> MaxPoolEnvelope {
        MaxPoolEnvelope {
            kernel_size: self.kernel_size,
            stride: self.stride,
        }
    }
}

/// Table II's baseline: max over time windows of each band.
#[derive(Module, Debug)]
pub struct MaxPoolEnvelope {
    /// Window in frames.
    pub kernel_size: usize,
    /// Stride in frames.
    pub stride: usize,
}

/// The temporal stage of the front-end.
// One per model: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Temporal {
    /// ModNet.
    Fir(FirFilterbank),
    /// SincModNet.
    Sinc(SincConv),
    /// The max-pool baseline.
    MaxPool(MaxPoolEnvelope),
}

impl TemporalConfig {
    /// Builds the stage.
    pub fn init(&self, device: &Device) -> Temporal {
        match self {
            Self::Fir(c) => Temporal::Fir(c.init(device)),
            Self::Sinc(c) => Temporal::Sinc(c.init(device)),
            Self::MaxPool(c) => Temporal::MaxPool(c.init()),
        }
    }
}

impl Temporal {
    /// The modulation kernels `[M, K]` (`None` for max pooling).
    pub fn kernels(&self) -> Option<Tensor<2>> {
        match self {
            Self::Fir(bank) => Some(bank.kernels()),
            Self::Sinc(bank) => Some(bank.kernels()),
            Self::MaxPool(_) => None,
        }
    }

    /// Applies the stage to every band of a filterbank output.
    ///
    /// - input: `[batch, bands, frames]`
    /// - output: `[batch, M, bands, frames']` (M = 1 for max pooling),
    ///   frames' = ⌊(frames − K)/stride⌋ + 1
    pub fn forward(&self, input: Tensor<3>) -> Tensor<4> {
        let Some(kernels) = self.kernels() else {
            let options = MaxPoolOptions::new([self.kernel_size()]).with_stride([self.stride()]);
            return max_pool1d(input, options).unsqueeze_dim(1);
        };
        match self {
            // Sinc kernels are symmetric by construction; learned FIR ones are not.
            Self::Sinc(bank) => {
                symmetric_filterbank_rows(input, kernels, bank.stride, bank.gpu_convolution)
            }
            Self::Fir(bank) => {
                strided_filterbank_rows(input, kernels, bank.stride, bank.gpu_convolution)
            }
            Self::MaxPool(_) => unreachable!("max pooling has no kernels"),
        }
    }

    /// Sets how the stage's convolution runs on a GPU.
    pub(crate) fn set_gpu_convolution(&mut self, gpu: GpuConvolution) {
        match self {
            Self::Fir(bank) => bank.gpu_convolution = gpu,
            Self::Sinc(bank) => bank.gpu_convolution = gpu,
            Self::MaxPool(_) => {}
        }
    }

    /// Stride over filterbank frames.
    pub fn stride(&self) -> usize {
        match self {
            Self::Fir(bank) => bank.stride,
            Self::Sinc(bank) => bank.stride,
            Self::MaxPool(pool) => pool.stride,
        }
    }

    /// Kernel (window) length in frames.
    pub fn kernel_size(&self) -> usize {
        match self {
            Self::Fir(bank) => bank.weight.dims()[2],
            Self::Sinc(bank) => bank.kernel_len(),
            Self::MaxPool(pool) => pool.kernel_size,
        }
    }
}
