//! What the page and the engine worker say to each other.
//!
//! Small fields travel as serde values (serde-wasm-bindgen); audio samples and weight files
//! travel beside them as typed arrays, so that a 10-minute track is not turned into a JS
//! array of ten million numbers.

use modnet::{FilterResponses, Picture};
use serde::{Deserialize, Serialize};

/// Which engine build, and so which compute device: the page starts one, the worker runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EngineKind {
    /// burn's wgpu backend on WebGPU (the larger wasm, fetched only when asked for).
    Gpu,
    /// The CPU backend (Flex; NdArray with the `ndarray` feature).
    Cpu,
}

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
    /// Tags and pictures of one live chunk (payload: `chunk_samples` samples at the model's
    /// rate), which starts `start` samples after listening began.
    Listen { job: u32, start: u64 },
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
    /// Tags and pictures of a live chunk.
    Heard(Heard),
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
    /// Frequency responses of the sinc filterbank (0 … fs/2), filters by centre frequency.
    pub filterbank: FilterResponses,
    /// Frequency responses of the modulation filters (0 … frame rate / 2), by centre
    /// frequency; none for the max-pool baseline.
    pub modulation: Option<FilterResponses>,
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
    /// Timeline probabilities ready to draw: one row per tag, one column per chunk.
    pub timeline: Picture,
    /// A sentence when the clip had to be zero-padded.
    pub notice: Option<String>,
}

/// The front-end's view of one chunk (the paper's Fig. 5–7).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChunkPictures {
    pub job: u32,
    /// First sample of the chunk.
    pub start: usize,
    /// Filterbank output in dB, bands (low to high) × frames.
    pub filterbank: Picture,
    /// One modulation spectrogram (bands × frames) per modulation filter, ordered by centre
    /// frequency; empty for the max-pool baseline.
    pub modulation: Vec<Picture>,
    /// Centre frequency of each modulation filter in Hz, same order.
    pub modulation_centre_hz: Vec<f32>,
    /// Milliseconds taken.
    pub millis: f64,
}

/// What the model heard in one live chunk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Heard {
    pub job: u32,
    /// The chunk's probabilities, in tag order.
    pub probabilities: Vec<f32>,
    /// The front-end's pictures of the chunk (`start`: samples since listening began).
    pub pictures: ChunkPictures,
    /// Milliseconds of model time (tags and pictures).
    pub millis: f64,
}
