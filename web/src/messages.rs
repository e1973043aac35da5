//! What the page and the engine worker say to each other.
//!
//! Small fields travel as serde values (serde-wasm-bindgen); audio samples and weight files
//! travel beside them as typed arrays, so that a 10-minute track is not turned into a JS
//! array of ten million numbers.

use serde::{Deserialize, Serialize};

/// Field of a message holding its serde part.
pub const BODY: &str = "body";
/// Field of a message holding a `Float32Array` of samples or a `Uint8Array` of weights.
pub const PAYLOAD: &str = "payload";

/// Page → engine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ToEngine {
    /// Load a weights file (payload: its bytes) and replace the current model.
    Load { name: String },
    /// Tag a clip (payload: 16 kHz mono samples): clip probabilities (16-chunk protocol) and a
    /// timeline of consecutive chunks. The engine keeps the samples for [`ToEngine::Pictures`].
    Tag { job: u32 },
    /// Pictures of the chunk of the last tagged clip that starts at `start` (samples).
    Pictures { job: u32, start: usize },
}

/// Engine → page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum FromEngine {
    /// The compute device is ready.
    Ready { backend: String },
    /// WebGPU was asked for and could not be had: the page falls back to the CPU engine.
    GpuUnavailable { reason: String },
    /// A model was loaded.
    Model(ModelInfo),
    /// Work in progress on a job.
    Progress { job: u32, done: usize, total: usize },
    /// Tags of a clip.
    Tags(TagResult),
    /// Pictures of one chunk.
    Pictures(ChunkPictures),
    /// Something failed; `job` names the request when there was one.
    Error { job: Option<u32>, message: String },
}

/// The loaded model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Where the weights came from (a file name, or the built-in default).
    pub name: String,
    /// One line: kind of front-end, stride, widths, tags, parameters.
    pub summary: String,
    /// Tag vocabulary in output order.
    pub tags: Vec<String>,
    /// Samples per chunk.
    pub chunk_samples: usize,
    /// Sample rate the model expects.
    pub sample_rate: usize,
    /// Frequency responses of the sinc filterbank (0 … fs/2).
    pub filterbank: Responses,
    /// Frequency responses of the modulation filters (0 … frame rate / 2); none for the
    /// max-pool baseline.
    pub modulation: Option<Responses>,
}

/// Frequency responses of one bank, filters ordered by centre frequency.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Responses {
    /// Frequency grid in Hz.
    pub freqs_hz: Vec<f32>,
    /// Magnitude in dB per filter.
    pub magnitude_db: Vec<Vec<f32>>,
    /// Centre frequency per filter in Hz.
    pub centre_hz: Vec<f32>,
    /// Highest magnitude of any filter in dB (at least −60 dB).
    pub peak_db: f32,
}

impl From<&modnet::FilterResponses> for Responses {
    fn from(r: &modnet::FilterResponses) -> Self {
        let order = r.order_by_centre();
        Self {
            freqs_hz: r.freqs_hz.clone(),
            magnitude_db: order.iter().map(|&i| r.magnitude_db[i].clone()).collect(),
            centre_hz: order.iter().map(|&i| r.centre_hz[i]).collect(),
            peak_db: r.peak_db(-60.0),
        }
    }
}

/// Tags of a clip.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TagResult {
    pub job: u32,
    /// Which backend ran ("wgpu (WebGPU)", "Flex (CPU)").
    pub backend: String,
    /// Wall time of the model, both plans, in milliseconds.
    pub millis: f64,
    /// Clip probabilities (mean over the 16 evaluation chunks), in tag order.
    pub probabilities: Vec<f32>,
    /// Start of each timeline chunk in samples.
    pub timeline_starts: Vec<usize>,
    /// Timeline probabilities, one row of tags per chunk.
    pub timeline: Vec<Vec<f32>>,
    /// A sentence when the clip had to be zero-padded.
    pub notice: Option<String>,
}

/// A matrix in dB ready to draw (rows = bands, lowest first).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Heatmap {
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f32>,
}

impl From<modnet::Picture> for Heatmap {
    fn from(p: modnet::Picture) -> Self {
        Self {
            rows: p.rows,
            cols: p.cols,
            values: p.values,
        }
    }
}

/// The front-end's view of one chunk (the paper's Fig. 5–7).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChunkPictures {
    pub job: u32,
    /// First sample of the chunk.
    pub start: usize,
    /// Filterbank output, bands × frames.
    pub filterbank: Heatmap,
    /// One modulation spectrogram (bands × frames) per modulation filter, ordered by centre
    /// frequency; empty for the max-pool baseline.
    pub modulation: Vec<Heatmap>,
    /// Centre frequency of each modulation filter in Hz, same order.
    pub modulation_centre_hz: Vec<f32>,
    /// Milliseconds taken.
    pub millis: f64,
}
