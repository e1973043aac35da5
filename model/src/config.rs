//! Every choice the paper leaves open (ARCHITECTURE.md, "The model") as a configuration value,
//! and the presets.
//!
//! A [`ModNetConfig`] is serialised (JSON) into every weights file, so a file always says which
//! model it belongs to.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use burn::config::Config;

use crate::error::ModelError;
use crate::layers::frontend::{EnvelopeNorm, FrontEndConfig, Nonlinearity};
use crate::layers::modulation::{
    FirInit, FirModulationConfig, MaxPoolEnvelopeConfig, TemporalConfig,
};
use crate::layers::resnet::{ResNetConfig, ResNetWidths};
use crate::layers::sinc::SincConvConfig;
use crate::rate::SampleRate;

/// The highest sample rate a configuration may ask for.
pub const MAX_SAMPLE_RATE: usize = 192_000;
/// The longest chunk a configuration may ask for, in seconds.
pub const MAX_CHUNK_SECONDS: usize = 60;

/// The whole tagger: sinc → r1 → temporal stage → r2 → norm → ResNet → head.
#[derive(Config, Debug, PartialEq)]
pub struct ModNetConfig {
    /// Sample rate of the waveform the model takes.
    #[config(default = "SampleRate::PAPER")]
    pub sample_rate: SampleRate,
    /// Samples of one training / evaluation chunk (5 s).
    #[config(default = 80000)]
    pub chunk_samples: usize,
    /// The time-frequency sinc layer.
    #[config(default = "SincConvConfig::time_frequency()")]
    pub filterbank: SincConvConfig,
    /// Nonlinearity after the sinc layer.
    #[config(default = "Nonlinearity::Relu")]
    pub r1: Nonlinearity,
    /// Modulation filters (or the max-pool baseline).
    #[config(default = "TemporalConfig::Sinc(SincConvConfig::modulation(20))")]
    pub temporal: TemporalConfig,
    /// Nonlinearity after the modulation layer.
    #[config(default = "Nonlinearity::Square")]
    pub r2: Nonlinearity,
    /// Normalisation before the back-end.
    #[config(default = "EnvelopeNorm::Instance")]
    pub norm: EnvelopeNorm,
    /// The 2-D ResNet and its head.
    #[config(default = "ResNetConfig::new()")]
    pub resnet: ResNetConfig,
    /// Output vocabulary: one logit per tag, in this order (default: the 50 MTAT tags).
    #[config(default = "crate::tags::mtat_tags()")]
    pub tags: Vec<String>,
}

/// The names of the presets, for command lines.
pub const PRESETS: [&str; 4] = ["sincmodnet", "modnet", "maxpool-baseline", "small"];

impl ModNetConfig {
    /// The paper's SincModNet: sinc modulation bank, M = 20, stride 16, paper widths.
    pub fn sincmodnet() -> Self {
        Self::new()
    }

    /// The paper's ModNet: learnable FIR modulation bank (Hamming-grid init), M = 20, stride 16.
    pub fn modnet() -> Self {
        Self::new().with_temporal(TemporalConfig::Fir(FirModulationConfig::new()))
    }

    /// Table II's baseline: max pooling over time (128 / 128) instead of modulation filters.
    /// No r2: the max of a rectified band is already an envelope.
    pub fn maxpool_baseline() -> Self {
        Self::new()
            .with_temporal(TemporalConfig::MaxPool(MaxPoolEnvelopeConfig::new()))
            .with_r2(Nonlinearity::None)
    }

    /// A CPU-sized SincModNet for tests and demos: the paper's front-end (80 bands, 20 modulation
    /// filters) and a narrow back-end (16 ×4, 32 ×3).
    pub fn small() -> Self {
        Self::new().with_resnet(ResNetConfig::new().with_widths(ResNetWidths::Custom {
            narrow: 16,
            wide: 32,
        }))
    }

    /// A preset by name (see [`PRESETS`]).
    pub fn preset(name: &str) -> Result<Self, ModelError> {
        match name {
            "sincmodnet" => Ok(Self::sincmodnet()),
            "modnet" => Ok(Self::modnet()),
            "maxpool-baseline" | "maxpool" => Ok(Self::maxpool_baseline()),
            "small" => Ok(Self::small()),
            other => Err(ModelError::InvalidConfig(format!(
                "unknown preset '{other}' (known: {})",
                PRESETS.join(", ")
            ))),
        }
    }

    /// Number of outputs.
    pub fn n_tags(&self) -> usize {
        self.tags.len()
    }

    /// The front-end's part of the configuration.
    pub fn frontend(&self) -> FrontEndConfig {
        FrontEndConfig {
            filterbank: self.filterbank.clone(),
            r1: self.r1,
            temporal: self.temporal.clone(),
            r2: self.r2,
            norm: self.norm,
        }
    }

    /// Frames per second after the sinc layer (1600 with the paper's settings).
    pub fn frame_rate(&self) -> f64 {
        self.sample_rate.hz() as f64 / self.filterbank.stride as f64
    }

    /// Frames after the sinc layer for `samples` input samples (0 when too short).
    pub fn filterbank_frames(&self, samples: usize) -> usize {
        let k = self.filterbank.kernel_len();
        if samples < k {
            0
        } else {
            (samples - k) / self.filterbank.stride + 1
        }
    }

    /// Frames after the temporal stage for `samples` input samples (0 when too short).
    pub fn modulation_frames(&self, samples: usize) -> usize {
        let t1 = self.filterbank_frames(samples);
        let (k, s) = self.temporal.geometry();
        if t1 < k { 0 } else { (t1 - k) / s + 1 }
    }

    /// The fewest input samples that give one frame out of the temporal stage.
    pub fn min_samples(&self) -> usize {
        let (k, _) = self.temporal.geometry();
        self.filterbank.kernel_len() + (k - 1) * self.filterbank.stride
    }

    /// Checks ranges and the consistency of the stages; every constructor calls it.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |msg: String| Err(ModelError::InvalidConfig(msg));
        if self.sample_rate.hz() == 0 || self.chunk_samples == 0 {
            return bad(format!(
                "sample_rate ({}) and chunk_samples ({}) must be positive",
                self.sample_rate, self.chunk_samples
            ));
        }
        // Bounds that keep a file's configuration from asking for absurd memory (a chunk is
        // one batch row; a damaged or hostile file must not abort the process).
        if self.sample_rate.hz() as usize > MAX_SAMPLE_RATE {
            return bad(format!(
                "sample_rate {} is above {MAX_SAMPLE_RATE} Hz",
                self.sample_rate
            ));
        }
        if self.sample_rate.seconds(self.chunk_samples) > MAX_CHUNK_SECONDS as f64 {
            return bad(format!(
                "chunk_samples {} is longer than {MAX_CHUNK_SECONDS} s at {}",
                self.chunk_samples, self.sample_rate
            ));
        }
        if self.filterbank.n_filters > 1024
            || self.temporal.channels() > 1024
            || self.resnet.widths.widths().iter().any(|&w| w > 4096)
            || self.tags.len() > 100_000
        {
            return bad(
                "more than 1024 bands or modulation filters, 4096 channels or 100 000 tags".into(),
            );
        }
        self.filterbank.validate("filterbank")?;
        if (self.filterbank.sample_rate - self.sample_rate.hz() as f64).abs() > 1e-9 {
            return bad(format!(
                "the filterbank's sample rate {} Hz differs from the model's {} Hz",
                self.filterbank.sample_rate, self.sample_rate
            ));
        }
        let (k, s) = self.temporal.geometry();
        if k == 0 || s == 0 || self.temporal.channels() == 0 {
            return bad(
                "the temporal stage needs a positive kernel, stride and filter count".into(),
            );
        }
        match &self.temporal {
            TemporalConfig::Sinc(c) => {
                c.validate("modulation bank")?;
                if (c.sample_rate - self.frame_rate()).abs() > 1e-6 {
                    return bad(format!(
                        "the modulation bank runs at {} Hz but the filterbank gives {} frames/s",
                        c.sample_rate,
                        self.frame_rate()
                    ));
                }
            }
            TemporalConfig::Fir(c) => {
                if let FirInit::HammingGrid { lengths, positions } = &c.init
                    && (lengths.is_empty() || *positions == 0 || lengths.contains(&0))
                {
                    return bad("the Hamming-grid init needs window lengths and positions".into());
                }
            }
            TemporalConfig::MaxPool(_) => {}
        }
        if self.resnet.widths.widths().contains(&0) {
            return bad("back-end widths must be positive".into());
        }
        if !(0.0..1.0).contains(&self.resnet.dropout) {
            return bad(format!("dropout {} is not in [0, 1)", self.resnet.dropout));
        }
        if self.tags.is_empty() {
            return bad("the model needs at least one tag".into());
        }
        if self.modulation_frames(self.chunk_samples) == 0 {
            return bad(format!(
                "a chunk of {} samples is shorter than the receptive field ({} samples)",
                self.chunk_samples,
                self.min_samples()
            ));
        }
        let (height, width) = crate::layers::resnet::output_size(
            [
                self.filterbank.n_filters,
                self.modulation_frames(self.chunk_samples),
            ],
            self.resnet.ceil_mode,
        );
        if height == 0 || width == 0 {
            return bad(format!(
                "{} bands × {} frames pool down to nothing in the back-end (use ceil-mode pooling, \
                 more bands or a smaller stride)",
                self.filterbank.n_filters,
                self.modulation_frames(self.chunk_samples)
            ));
        }
        Ok(())
    }

    /// The configuration as JSON (what weights files store).
    pub fn to_json(&self) -> String {
        burn::config::config_to_json(self)
    }

    /// Reads a configuration from JSON.
    /// Configurations written before the ResNet was named `resnet` (weights format 1, older run
    /// folders) call it `backend`; they are read under the new name.
    pub fn from_json(json: &str) -> Result<Self, ModelError> {
        let json = rename_legacy_key(json);
        let config = <Self as Config>::load_binary(json.as_bytes())
            .map_err(|e| ModelError::InvalidConfig(format!("{e}")))?;
        config.validate()?;
        Ok(config)
    }
}

/// `"backend": {…}` → `"resnet": {…}` when the JSON has no `resnet` key. Only an object key
/// (a quoted name followed by a colon) is renamed; tag names are array strings.
fn rename_legacy_key(json: &str) -> alloc::borrow::Cow<'_, str> {
    let key = |name: &str| {
        let quoted = format!("\"{name}\"");
        json.match_indices(quoted.as_str())
            .find(|(at, m)| json[at + m.len()..].trim_start().starts_with(':'))
            .map(|(at, _)| at)
    };
    match (key("backend"), key("resnet")) {
        (Some(at), None) => {
            let mut renamed = String::with_capacity(json.len());
            renamed.push_str(&json[..at]);
            renamed.push_str("\"resnet\"");
            renamed.push_str(&json[at + "\"backend\"".len()..]);
            alloc::borrow::Cow::Owned(renamed)
        }
        _ => alloc::borrow::Cow::Borrowed(json),
    }
}
