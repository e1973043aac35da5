//! What the page and the engine worker say to each other.
//!
//! Small fields travel as serde values (serde-wasm-bindgen); audio samples and weight files
//! travel beside them as typed arrays, so that a 10-minute track is not turned into a JS
//! array of ten million numbers.

use modnet::{FilterResponses, GpuConvolution, Picture, SampleRate};
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
    /// Load a weights file (payload: its bytes) and replace the current model; on a GPU, its
    /// convolutions run by the route named `gpu_conv` (the address's `?gpu-conv=`; `auto`
    /// times them again), else by the route `remembered` holds for this GPU and model (timed
    /// at an earlier visit, [`Convolutions::key`]), else by the fastest, timed there.
    Load {
        name: String,
        gpu_conv: Option<String>,
        remembered: Vec<Convolutions>,
    },
    /// Run `share` of the batches of a clip (payload: mono samples at the model's rate): the
    /// clip protocol's evaluation chunks and timeline ([`modnet::ClipTagging`]). The engine
    /// keeps the samples for [`ToEngine::Pictures`].
    Tag { job: u32, share: Share },
    /// Pictures of the chunk of the last tagged clip that starts at `start` (samples).
    Pictures { job: u32, start: usize },
    /// Tags and pictures of one live chunk (payload: `chunk_samples` samples at the model's
    /// rate), which starts `start` samples after listening began.
    Listen { job: u32, start: u64 },
    /// The pooled embeddings of one example of a tag being taught (payload: its mono samples
    /// at the model's rate): its timeline chunks, as `trainer teach` embeds a file.
    Embed { job: u32, example: usize },
    /// Learn heads from embedded examples: one `chunks × dim` row-major list per example, and
    /// per tag its name and one label per example (`modnet::heads::learn_heads`); payload, if
    /// any: the built-in model's background set file, used when it is the loaded model's.
    Learn {
        job: u32,
        examples: Vec<Vec<f32>>,
        tags: Vec<(String, Vec<Option<bool>>)>,
    },
    /// Use these heads (payload: a head file's bytes) for the user's tags from now on, or none
    /// (no payload).
    Heads { name: String },
}

/// Engine → page.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum FromEngine {
    /// The compute device is ready.
    Ready { backend: String },
    /// WebGPU was asked for and could not be had: the page falls back to the CPU engine.
    GpuUnavailable { reason: String },
    /// The WebGPU engine is timing convolution route `route`, the `index`-th (from 1) of
    /// `count`, on the model it is loading.
    TimingConvolutions {
        route: GpuConvolution,
        index: usize,
        count: usize,
    },
    /// A model was loaded.
    Model(ModelInfo),
    /// One batch of a clip's chunks, run (each as soon as it is: the page shows the clip's
    /// tags once the evaluation batches are in and fills the timeline as the rest come).
    Batch(BatchProbabilities),
    /// Pictures of one chunk.
    Pictures(ChunkPictures),
    /// Tags and pictures of a live chunk.
    Heard(Heard),
    /// One example's embeddings (`chunks × dim`, row-major).
    Embedded {
        job: u32,
        example: usize,
        embeddings: Vec<f32>,
    },
    /// Heads learned: the head file's bytes, for [`ToEngine::Heads`] and for download.
    Learned { job: u32, file: Vec<u8> },
    /// The heads in use (checked against the model), or none.
    Heads(Option<HeadsInfo>),
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
    pub sample_rate: SampleRate,
    /// Frequency responses of the sinc filterbank (0 … fs/2), filters by centre frequency.
    pub filterbank: FilterResponses,
    /// Frequency responses of the modulation filters (0 … frame rate / 2), by centre
    /// frequency; none for the max-pool baseline.
    pub modulation: Option<FilterResponses>,
    /// How its convolutions run on the GPU (none on the CPU engine).
    pub convolutions: Option<Convolutions>,
}

/// The convolution route the WebGPU engine runs, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Convolutions {
    /// The route.
    pub route: GpuConvolution,
    /// Each route this engine has, with its milliseconds per forward pass of
    /// [`modnet::TAG_BATCH`] chunks on this GPU, when they were timed (not when the address
    /// named one).
    pub timed: Vec<(GpuConvolution, f64)>,
    /// Why the address's `?gpu-conv=` was not followed, when it was not.
    pub note: Option<String>,
    /// The GPU and the model the route was chosen for: what the page remembers it by.
    pub key: String,
    /// Whether the times are an earlier visit's (the page remembered them), not this load's.
    pub earlier: bool,
}

/// The user's tags the engines run beside the model's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadsInfo {
    /// Where they came from (a file name, or "taught here").
    pub name: String,
    /// The tags' names (without the `user:` mark), in output order after the model's tags.
    pub tags: Vec<String>,
    /// Per tag, the probability from which a clip has it.
    pub thresholds: Vec<f32>,
    /// Per tag, its cross-validated ROC-AUC when it was learned, if there was one.
    pub cv_roc_auc: Vec<Option<f64>>,
    /// Per tag, what the user should know (few examples, no cross-validation).
    pub warnings: Vec<Vec<String>>,
    /// The head file, for download.
    pub file: Vec<u8>,
}

/// Which of a clip's batches an engine runs: batch `i` when `i % count == index`. Several CPU
/// engines (web workers, one thread each) share a clip this way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    pub index: usize,
    pub count: usize,
}

impl Share {
    /// Whether batch `batch` is in this share.
    pub fn has(&self, batch: usize) -> bool {
        batch % self.count.max(1) == self.index
    }
}

/// One batch's probabilities: `rows × (n_tags + user tags)`, row-major.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchProbabilities {
    pub job: u32,
    /// The batch's place in [`modnet::ClipTagging::batches`].
    pub batch: usize,
    /// Chunks in the batch.
    pub rows: usize,
    pub probabilities: Vec<f32>,
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
    /// Centre frequency of each filterbank band (row) in Hz, low to high.
    pub filterbank_centre_hz: Vec<f32>,
    /// Milliseconds taken.
    pub millis: f64,
}

/// What the model heard in one live chunk.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Heard {
    pub job: u32,
    /// The chunk's probabilities, in tag order (the model's, then the user's).
    pub probabilities: Vec<f32>,
    /// The front-end's pictures of the chunk (`start`: samples since listening began).
    pub pictures: ChunkPictures,
    /// Milliseconds of model time (tags and pictures).
    pub millis: f64,
}
