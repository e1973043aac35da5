//! The modulation front-end: sinc filterbank → r1 → temporal stage → r2 → norm (Table I's order).

use burn::module::Module;
use burn::nn::{InstanceNorm, InstanceNormConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use crate::layers::modulation::{Temporal, TemporalConfig};
use crate::layers::sinc::{SincConv, SincConvConfig};
use burn::config::Config;

/// The front-end's layers, as Table I orders them (the front-end fields of
/// [`crate::ModNetConfig`], which gives them with [`crate::ModNetConfig::frontend`]).
#[derive(Config, Debug, PartialEq)]
pub struct FrontEndConfig {
    /// The time-frequency sinc layer (80 × 257, stride 10 in the paper).
    pub filterbank: SincConvConfig,
    /// Nonlinearity after the filterbank.
    pub r1: Nonlinearity,
    /// The temporal stage: modulation filters or max pooling.
    pub temporal: TemporalConfig,
    /// Nonlinearity after the temporal stage.
    pub r2: Nonlinearity,
    /// Normalisation before the back-end.
    pub norm: EnvelopeNorm,
}

/// A pointwise nonlinearity (r1 after the sinc bank, r2 after the modulation bank; Table I).
#[derive(Config, Debug, PartialEq, Copy)]
pub enum Nonlinearity {
    /// Identity.
    None,
    /// Half-wave rectification.
    Relu,
    /// Squared value (the paper's "abs-squared" r2).
    Square,
    /// Absolute value.
    Abs,
}

/// Normalisation of the modulation representation before the back-end.
#[derive(Config, Debug, PartialEq, Copy)]
pub enum EnvelopeNorm {
    /// None.
    None,
    /// Instance norm: per modulation channel, per example, over (bands, time); no affine, eps 1e-5.
    Instance,
}

impl Nonlinearity {
    /// Applies the nonlinearity elementwise.
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Self::None => x,
            Self::Relu => relu(x),
            Self::Square => x.square(),
            Self::Abs => x.abs(),
        }
    }
}

/// The learnable front-end of ModNet / SincModNet / the max-pool baseline.
#[derive(Module, Debug)]
pub struct FrontEnd {
    /// The time-frequency sinc layer.
    pub filterbank: SincConv,
    /// Modulation filters or max pooling.
    pub temporal: Temporal,
    norm: Option<InstanceNorm>,
    #[module(skip)]
    r1: Nonlinearity,
    #[module(skip)]
    r2: Nonlinearity,
}

impl FrontEndConfig {
    /// Builds the front-end.
    pub fn init(&self, device: &Device) -> FrontEnd {
        let config = self;
        let norm = match config.norm {
            EnvelopeNorm::None => None,
            EnvelopeNorm::Instance => Some(
                InstanceNormConfig::new(config.temporal.channels())
                    .with_affine(false)
                    .with_epsilon(1e-5)
                    .init(device),
            ),
        };
        FrontEnd {
            filterbank: config.filterbank.init(device),
            temporal: config.temporal.init(device),
            norm,
            r1: config.r1,
            r2: config.r2,
        }
    }
}

impl FrontEnd {
    /// Sets how the front-end's convolutions run on a GPU.
    pub(crate) fn set_gpu_convolution(&mut self, gpu: crate::kernels::GpuConvolution) {
        self.filterbank.gpu_convolution = gpu;
        self.temporal.set_gpu_convolution(gpu);
    }

    /// Band envelopes: the sinc layer and r1.
    ///
    /// - input: `[batch, samples]`
    /// - output: `[batch, bands, frames]`, frames = ⌊(samples − 257)/10⌋ + 1 with the paper's layer
    pub fn filterbank(&self, waveform: Tensor<2>) -> Tensor<3> {
        self.r1
            .apply(self.filterbank.forward(waveform.unsqueeze_dim(1)))
    }

    /// The modulation representation from band envelopes: temporal stage, r2 and norm.
    ///
    /// - input: `[batch, bands, frames]`
    /// - output: `[batch, M, bands, frames']` (M = 1 for the max-pool baseline)
    pub fn modulation(&self, envelopes: Tensor<3>) -> Tensor<4> {
        let x = self.modulation_energy(envelopes);
        match &self.norm {
            Some(norm) => norm.forward(x),
            None => x,
        }
    }

    /// The modulation energies before the norm: temporal stage and r2.
    ///
    /// - input: `[batch, bands, frames]`
    /// - output: `[batch, M, bands, frames']`
    pub fn modulation_energy(&self, envelopes: Tensor<3>) -> Tensor<4> {
        self.r2.apply(self.temporal.forward(envelopes))
    }

    /// The whole front-end.
    ///
    /// - input: `[batch, samples]`
    /// - output: `[batch, M, bands, frames']`
    pub fn forward(&self, waveform: Tensor<2>) -> Tensor<4> {
        self.modulation(self.filterbank(waveform))
    }
}
