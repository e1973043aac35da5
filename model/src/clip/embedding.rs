//! Embeddings: what the model computes about a chunk as one vector, to feed another model or a
//! similarity search.

use burn::tensor::Tensor;

use crate::error::ModelError;
use crate::model::ModNet;

/// Which representation an embedding is taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbeddingLayer {
    /// The ResNet's pooled features before the head (width of its last layer).
    Pooled,
    /// The modulation-spectrum summary: mean energy per modulation filter and band over the
    /// chunk, in dB, before the instance norm (M × bands values, filter-major).
    Modulation,
}

impl EmbeddingLayer {
    /// Every layer, for command lines.
    pub const ALL: [Self; 2] = [Self::Pooled, Self::Modulation];

    /// The name used on command lines and in files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pooled => "pooled",
            Self::Modulation => "modulation",
        }
    }

    /// The layer called `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.name() == name)
    }

    /// The layer called `name`, or the sentence a command line or the Python package shows.
    pub fn parse(name: &str) -> Result<Self, alloc::string::String> {
        Self::from_name(name).ok_or_else(|| {
            let names: alloc::vec::Vec<&str> = Self::ALL.iter().map(|l| l.name()).collect();
            alloc::format!("'{name}' is not a layer ({})", names.join(", "))
        })
    }
}

impl ModNet {
    /// Values in a [`EmbeddingLayer::Pooled`] embedding: the last ResNet layer's width.
    pub fn pooled_width(&self) -> usize {
        self.config().resnet.widths.widths()[6]
    }

    /// Embeddings of a batch of chunks.
    ///
    /// - input: `[batch, samples]`
    /// - output: `[batch, D]`: D = the last ResNet width (`Pooled`) or M × bands (`Modulation`)
    pub fn embed(
        &self,
        waveform: Tensor<2>,
        layer: EmbeddingLayer,
    ) -> Result<Tensor<2>, ModelError> {
        self.check_waveform(&waveform)?;
        Ok(match layer {
            EmbeddingLayer::Pooled => self.resnet.features(self.frontend.forward(waveform)),
            EmbeddingLayer::Modulation => {
                let energy = self
                    .frontend
                    .modulation_energy(self.frontend.filterbank(waveform));
                // 10·log10(mean + ε): energies span many decades.
                energy
                    .mean_dim(3)
                    .flatten::<2>(1, 3)
                    .add_scalar(1e-10)
                    .log()
                    .mul_scalar(10.0 / core::f64::consts::LN_10)
            }
        })
    }
}
