//! The temporal stage between the filterbank and the back-end: modulation filters shared by all
//! bands (ModNet's FIR bank or SincModNet's sinc bank), or the max-pool baseline.

use alloc::vec::Vec;
use burn::module::{Module, Param};
use burn::tensor::module::{conv1d, max_pool1d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use core::f64::consts::PI;

use crate::config::{FirInit, FirModulationConfig, MaxPoolEnvelopeConfig, TemporalConfig};
use crate::sinc::SincConv;

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
        let [batch, bands, frames] = input.dims();
        let Some(kernels) = self.kernels() else {
            let options = MaxPoolOptions::new([self.kernel_size()]).with_stride([self.stride()]);
            return max_pool1d(input, options).unsqueeze_dim(1);
        };
        let m = kernels.dims()[0];
        // One bank shared by all bands: fold the bands into the batch.
        let x = input.reshape([batch * bands, 1, frames]);
        let options = ConvOptions::new([self.stride()], [0], [1], 1);
        let y = conv1d(x, kernels.unsqueeze_dim(1), None, options);
        let out_frames = y.dims()[2];
        y.reshape([batch, bands, m, out_frames]).swap_dims(1, 2)
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
