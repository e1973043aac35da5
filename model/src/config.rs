//! Every choice of ../shared/reference/architecture.md as a configuration value, and the presets.
//!
//! A [`ModNetConfig`] is serialised (JSON) into every weights file, so a file always says which
//! model it belongs to.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use burn::config::Config;

use crate::error::ModelError;

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

    fn validate(&self, what: &str) -> Result<(), ModelError> {
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

/// The highest sample rate a configuration may ask for.
pub const MAX_SAMPLE_RATE: usize = 192_000;
/// The longest chunk a configuration may ask for, in seconds.
pub const MAX_CHUNK_SECONDS: usize = 60;

/// Channel widths of the seven back-end layers.
#[derive(Config, Debug, PartialEq, Copy)]
pub enum BackendWidths {
    /// The paper: "seven 2D convolutional layers, each 256 channels".
    Paper,
    /// Won et al.'s HarmonicCNN: 128 ×4 then 256 ×3.
    Hcnn,
    /// Layers 1–4 `narrow` channels, layers 5–7 `wide` (residual layers keep their width).
    Custom {
        /// Width of layers 1–4.
        narrow: usize,
        /// Width of layers 5–7.
        wide: usize,
    },
}

impl BackendWidths {
    /// The seven widths.
    pub fn widths(&self) -> [usize; 7] {
        match self {
            Self::Paper => [256; 7],
            Self::Hcnn => [128, 128, 128, 128, 256, 256, 256],
            Self::Custom { narrow, wide } => {
                [*narrow, *narrow, *narrow, *narrow, *wide, *wide, *wide]
            }
        }
    }
}

/// The 2-D ResNet back-end and the classification head.
#[derive(Config, Debug, PartialEq)]
pub struct ResNetConfig {
    /// Widths of the seven layers.
    #[config(default = "BackendWidths::Paper")]
    pub widths: BackendWidths,
    /// Ceil-mode pooling: 80 bands reach height 1 at L7 (floor mode would reach 0).
    #[config(default = true)]
    pub ceil_mode: bool,
    /// Dropout before the last linear layer.
    #[config(default = 0.5)]
    pub dropout: f64,
}

/// The whole tagger: sinc → r1 → temporal stage → r2 → norm → ResNet → head.
#[derive(Config, Debug, PartialEq)]
pub struct ModNetConfig {
    /// Sample rate of the waveform the model takes, in Hz.
    #[config(default = 16000)]
    pub sample_rate: usize,
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
    /// The back-end.
    #[config(default = "ResNetConfig::new()")]
    pub backend: ResNetConfig,
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
        Self::new().with_backend(ResNetConfig::new().with_widths(BackendWidths::Custom {
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

    /// Frames per second after the sinc layer (1600 with the paper's settings).
    pub fn frame_rate(&self) -> f64 {
        self.sample_rate as f64 / self.filterbank.stride as f64
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
        if self.sample_rate == 0 || self.chunk_samples == 0 {
            return bad(format!(
                "sample_rate ({}) and chunk_samples ({}) must be positive",
                self.sample_rate, self.chunk_samples
            ));
        }
        // Bounds that keep a file's configuration from asking for absurd memory (a chunk is
        // one batch row; a damaged or hostile file must not abort the process).
        if self.sample_rate > MAX_SAMPLE_RATE {
            return bad(format!(
                "sample_rate {} Hz is above {MAX_SAMPLE_RATE} Hz",
                self.sample_rate
            ));
        }
        if self.chunk_samples > MAX_CHUNK_SECONDS * self.sample_rate {
            return bad(format!(
                "chunk_samples {} is longer than {MAX_CHUNK_SECONDS} s at {} Hz",
                self.chunk_samples, self.sample_rate
            ));
        }
        if self.filterbank.n_filters > 1024
            || self.temporal.channels() > 1024
            || self.backend.widths.widths().iter().any(|&w| w > 4096)
            || self.tags.len() > 100_000
        {
            return bad(
                "more than 1024 bands or modulation filters, 4096 channels or 100 000 tags".into(),
            );
        }
        self.filterbank.validate("filterbank")?;
        if (self.filterbank.sample_rate - self.sample_rate as f64).abs() > 1e-9 {
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
        if self.backend.widths.widths().contains(&0) {
            return bad("back-end widths must be positive".into());
        }
        if !(0.0..1.0).contains(&self.backend.dropout) {
            return bad(format!("dropout {} is not in [0, 1)", self.backend.dropout));
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
        let (height, width) = crate::backend::output_size(
            [
                self.filterbank.n_filters,
                self.modulation_frames(self.chunk_samples),
            ],
            self.backend.ceil_mode,
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
    pub fn from_json(json: &str) -> Result<Self, ModelError> {
        let config = <Self as Config>::load_binary(json.as_bytes())
            .map_err(|e| ModelError::InvalidConfig(format!("{e}")))?;
        config.validate()?;
        Ok(config)
    }
}
