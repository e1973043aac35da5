//! The page's state (signals) and the wiring between the view, the engines and the
//! microphone. The engines are [`EnginePool`]'s, a clip at the engines is a [`ClipJob`], live
//! listening is [`LiveSession`]'s (wired in `live`); no view code lives here.

use std::sync::Arc;

use js_sys::Uint8Array;
use leptos::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::File;

use crate::audio;
use crate::browser::{fetch_bytes, file_bytes, now_millis};
use crate::client::EngineClient;
use crate::clip_job::{Clip, ClipJob, TagResult};
use crate::listen::{Listening, LiveSession, Microphone};
use crate::messages::{
    BatchProbabilities, ChunkPictures, EngineKind, FromEngine, HeadsInfo, ModelInfo,
};
use crate::pool::{EnginePool, preferred_kind};
use crate::route_memory;
use modnet::{ClipTagging, SampleRate};

mod live;
mod record;
mod teach;

pub use record::{Recorded, Recording};

/// The built-in weights (the repository's `weights/`, copied next to the page by trunk).
const DEFAULT_WEIGHTS: &str = "modnet-mtat-distilled.safetensors";
/// The name the page gives the built-in weights.
pub const DEFAULT_WEIGHTS_NAME: &str = "built-in model";

/// The page's state. Components never see this whole: `App` hands each one the signals it
/// reads and callbacks into these methods.
#[derive(Clone, Copy)]
pub struct Controller {
    /// One line about what is happening.
    pub status: RwSignal<String>,
    /// The last failure, shown until the next success.
    pub error: RwSignal<Option<String>>,
    /// The compute device the engines run on ("wgpu (WebGPU)", "Flex (CPU)").
    pub device: RwSignal<Option<String>>,
    /// Why the WebGPU engine could not run, when it could not.
    gpu_note: RwSignal<Option<String>>,
    /// The loaded model.
    pub model: RwSignal<Option<ModelInfo>>,
    /// What the WebGPU engine is timing while it loads a model ("unfolded, 2 of 2").
    pub timing: RwSignal<Option<String>>,
    /// The decoded clip.
    pub clip: RwSignal<Option<Clip>>,
    /// Chunks done and to do while tagging.
    pub progress: RwSignal<Option<(usize, usize)>>,
    /// Tags of the clip.
    pub result: RwSignal<Option<TagResult>>,
    /// Pictures of the selected chunk.
    pub pictures: RwSignal<Option<ChunkPictures>>,
    /// Selected modulation filter (index in centre-frequency order).
    pub selected: RwSignal<usize>,
    /// Selected timeline chunk.
    chunk: RwSignal<usize>,
    /// Object URL of the clip's file, for the player.
    pub audio_url: RwSignal<Option<String>>,
    /// Live listening, while it runs.
    pub listening: RwSignal<Option<Listening>>,
    /// Probabilities of the last live window.
    pub live_tags: RwSignal<Option<Vec<f32>>>,
    /// The user's tags the engines run, if any.
    pub heads: RwSignal<Option<HeadsInfo>>,
    /// How teaching goes (or what was learned).
    pub teaching: RwSignal<Option<String>>,
    /// Every example taught for the heads in use, with its embeddings.
    taught: StoredValue<Vec<teach::TaughtExample>>,
    /// The job of the examples being embedded.
    teach_job: StoredValue<u32>,
    /// Examples skipped while teaching, as a sentence.
    teach_note: StoredValue<String>,
    /// The first example of the attempt being learned (dropped again if it fails).
    teach_start: StoredValue<usize>,
    /// The built-in model's background set file, once fetched (empty: it could not be).
    background: StoredValue<Option<Vec<u8>>>,
    /// A recording from the microphone under way, and those kept for the next teaching.
    pub recording: RwSignal<Option<record::Recording>>,
    pub recorded: RwSignal<Vec<record::Recorded>>,
    recorder: StoredValue<Option<Microphone>, LocalStorage>,
    record_buffer: StoredValue<Vec<f32>>,
    live: StoredValue<Option<LiveSession>, LocalStorage>,
    engines: StoredValue<EnginePool, LocalStorage>,
    tagging: StoredValue<Option<ClipJob>, LocalStorage>,
    /// The weights the engines run, to give again to a fallback engine.
    weights: StoredValue<Option<(String, Vec<u8>)>>,
    /// Weights sent and not yet confirmed.
    pending_weights: StoredValue<Option<(String, Vec<u8>)>>,
    job: StoredValue<u32>,
}

impl Controller {
    /// Fresh state; nothing runs until [`Controller::start`].
    pub fn new() -> Self {
        Self {
            status: RwSignal::new("starting…".into()),
            error: RwSignal::new(None),
            device: RwSignal::new(None),
            gpu_note: RwSignal::new(None),
            model: RwSignal::new(None),
            timing: RwSignal::new(None),
            clip: RwSignal::new(None),
            progress: RwSignal::new(None),
            result: RwSignal::new(None),
            pictures: RwSignal::new(None),
            selected: RwSignal::new(0),
            chunk: RwSignal::new(0),
            audio_url: RwSignal::new(None),
            listening: RwSignal::new(None),
            live_tags: RwSignal::new(None),
            heads: RwSignal::new(None),
            teaching: RwSignal::new(None),
            taught: StoredValue::new(Vec::new()),
            teach_job: StoredValue::new(0),
            teach_note: StoredValue::new(String::new()),
            teach_start: StoredValue::new(0),
            background: StoredValue::new(None),
            recording: RwSignal::new(None),
            recorded: RwSignal::new(Vec::new()),
            recorder: StoredValue::new_local(None),
            record_buffer: StoredValue::new(Vec::new()),
            live: StoredValue::new_local(None),
            engines: StoredValue::new_local(EnginePool::default()),
            tagging: StoredValue::new_local(None),
            weights: StoredValue::new(None),
            pending_weights: StoredValue::new(None),
            job: StoredValue::new(0),
        }
    }

    fn fail(self, message: String) {
        self.progress.set(None);
        self.tagging.set_value(None);
        self.error.set(Some(message));
    }

    /// Runs `f` on the first engine, which answers pictures and live windows.
    fn first_engine(self, f: impl FnOnce(&EngineClient) -> Result<(), String>) {
        if let Err(e) = self.engines.with_value(|pool| pool.first(f)) {
            self.fail(e);
        }
    }

    /// The model's (tags, rate, chunk), once one is loaded; the tags count the user's.
    fn model_shape(self) -> Option<(usize, SampleRate, usize)> {
        let user = self
            .heads
            .with_untracked(|h| h.as_ref().map_or(0, |h| h.tags.len()));
        self.model.with_untracked(|m| {
            m.as_ref()
                .map(|m| (m.tags.len() + user, m.sample_rate, m.chunk_samples))
        })
    }

    /// Starts the engines the browser can run and loads the built-in weights.
    pub fn start(self) {
        self.start_engines(preferred_kind());
        spawn_local(async move {
            match fetch_bytes(DEFAULT_WEIGHTS).await {
                Ok(bytes) => self.send_weights(DEFAULT_WEIGHTS_NAME.into(), bytes),
                Err(e) => self.fail(format!(
                    "the built-in weights could not be loaded ({e}): load a weights file exported by the trainer"
                )),
            }
        });
    }

    /// Starts the engines of `kind` (dropping the previous ones) and gives them the current
    /// weights, which tags the current clip again.
    fn start_engines(self, kind: EngineKind) {
        self.engines.set_value(EnginePool::default());
        self.tagging.set_value(None);
        self.live
            .update_value(|l| l.iter_mut().for_each(LiveSession::engine_replaced));
        self.device.set(None);
        let on_message = move |index, message| self.on_message(kind, index, message);
        let on_death = move |why| self.fall_back(kind, why);
        match EnginePool::start(kind, on_message, on_death) {
            Ok(pool) => self.engines.set_value(pool),
            Err(e) => return self.fail(e),
        }
        if let Some((name, bytes)) = self
            .pending_weights
            .get_value()
            .or_else(|| self.weights.get_value())
        {
            self.send_weights(name, bytes);
            self.resend_heads();
        }
    }

    /// The WebGPU engine cannot run: the CPU engines take over.
    fn fall_back(self, kind: EngineKind, why: String) {
        if kind == EngineKind::Gpu {
            self.status.set(format!(
                "WebGPU is not available ({why}); running on the CPU"
            ));
            self.gpu_note.set(Some(why));
            // Not from inside the dying engine's own callback: it is dropped on the way.
            spawn_local(async move { self.start_engines(EngineKind::Cpu) });
        } else {
            self.fail(format!("the engine stopped: {why}"));
        }
    }

    /// A message from engine `index` (0 is the first engine; the others only tag shares).
    fn on_message(self, kind: EngineKind, index: usize, message: FromEngine) {
        match message {
            // The other engines load the same weights; the first one speaks for them.
            FromEngine::Ready { .. } | FromEngine::Model(_) | FromEngine::Heads(_)
                if index != 0 => {}
            FromEngine::Ready { backend } => self.on_ready(backend),
            FromEngine::GpuUnavailable { reason } => self.fall_back(kind, reason),
            FromEngine::TimingConvolutions {
                route,
                index,
                count,
            } => self
                .timing
                .set(Some(format!("{}, {index} of {count}", route.name()))),
            FromEngine::Model(info) => self.on_model(info),
            FromEngine::Batch(batch) => self.on_batch(batch),
            FromEngine::Pictures(pictures) => {
                if pictures.job == self.job.get_value() {
                    self.pictures.set(Some(pictures));
                }
            }
            FromEngine::Heard(heard) => self.on_heard(heard),
            FromEngine::Embedded {
                job,
                example,
                embeddings,
            } => self.on_embedded(job, example, embeddings),
            FromEngine::Learned { job, file } => self.on_learned(job, file),
            FromEngine::Heads(info) => self.on_heads(info),
            FromEngine::Error { job, message } => {
                if job.is_some_and(|j| j == self.teach_job.get_value()) {
                    self.teach_failed(&message);
                }
                // A failed live window frees the engine for the next one.
                if let Some(job) = job {
                    self.live
                        .update_value(|l| l.iter_mut().for_each(|l| l.failed(job)));
                }
                // A rejected weights file leaves the previous model in place.
                self.pending_weights.set_value(None);
                self.timing.set(None);
                self.fail(message);
            }
        }
    }

    fn on_ready(self, backend: String) {
        let engines = match self.engines.with_value(EnginePool::len) {
            1 => String::new(),
            n => format!(", {n} workers"),
        };
        self.status.set(match self.gpu_note.get_untracked() {
            Some(why) => format!("ready: the model runs on {backend}{engines} (no WebGPU: {why})"),
            None => format!("ready: the model runs on {backend}{engines}"),
        });
        self.device.set(Some(backend));
    }

    fn on_model(self, info: ModelInfo) {
        if let Some(p) = self.pending_weights.get_value()
            && p.0 == info.name
        {
            self.weights.set_value(Some(p));
            self.pending_weights.set_value(None);
        }
        self.error.set(None);
        self.timing.set(None);
        if let Some(c) = &info.convolutions {
            route_memory::keep(c);
        }
        self.selected.set(0);
        // Live windows are cut for the model's chunk and rate: another model needs a new start.
        let same_input = self.model_shape().is_some_and(|(_, rate, chunk)| {
            (chunk, rate) == (info.chunk_samples, info.sample_rate)
        });
        if !same_input && self.live.with_value(Option::is_some) {
            self.stop_listening();
            self.status
                .set("the new model hears other chunks: press listen again".into());
        }
        self.model.set(Some(info));
        if self.clip.with_untracked(Option::is_some) {
            self.tag_clip();
        }
    }

    fn send_weights(self, name: String, bytes: Vec<u8>) {
        let sent = self.engines.with_value(|pool| pool.load(&name, &bytes));
        self.pending_weights.set_value(Some((name, bytes)));
        if let Err(e) = sent {
            self.fail(e);
        }
    }

    /// Sends the clip to the engines, each its share of the batches (tagged again when a model
    /// arrives).
    fn tag_clip(self) {
        let (Some(clip), Some((n_tags, rate, chunk))) =
            (self.clip.get_untracked(), self.model_shape())
        else {
            return;
        };
        let job = self.job.get_value() + 1;
        self.job.set_value(job);
        self.result.set(None);
        self.pictures.set(None);
        let tagging = match ClipTagging::new(clip.samples.len(), chunk, true) {
            Ok(tagging) => tagging,
            Err(e) => return self.fail(format!("{}: {e}", clip.name)),
        };
        let engines = self.engines.with_value(EnginePool::len);
        let clip_job = ClipJob::new(job, tagging, n_tags, rate, engines, now_millis());
        self.progress.set(Some((0, clip_job.total())));
        self.tagging.set_value(Some(clip_job));
        if let Err(e) = self.engines.with_value(|pool| pool.tag(job, &clip.samples)) {
            self.fail(e);
        }
    }

    /// One batch of the clip back from an engine: the clip's tags once the evaluation batches
    /// are in, then the timeline as it fills.
    fn on_batch(self, batch: BatchProbabilities) {
        let (now, backend) = (now_millis(), self.device.get_untracked());
        let Some(Some(update)) = self.tagging.try_update_value(|t| {
            let update = t.as_mut()?.add(batch, now, backend.unwrap_or_default())?;
            if update.progress.is_none() {
                *t = None;
            }
            Some(update)
        }) else {
            return;
        };
        self.progress.set(update.progress);
        match update.result {
            Ok(Some(result)) => self.result.set(Some(result)),
            Ok(None) => {}
            Err(e) => return self.fail(e),
        }
        if update.first {
            self.show_chunk(self.chunk.get_untracked());
        }
    }

    /// Selects a timeline chunk: its pictures are computed.
    pub fn show_chunk(self, chunk: usize) {
        let Some(result) = self.result.get_untracked() else {
            return;
        };
        let chunk = chunk.min(result.timeline_starts.len().saturating_sub(1));
        self.chunk.set(chunk);
        let start = result.timeline_starts.get(chunk).copied().unwrap_or(0);
        let job = self.job.get_value();
        self.first_engine(|e| e.pictures(job, start));
    }

    /// Decodes an audio file to the model's rate and tags it.
    pub async fn open_audio(self, file: File) {
        let name = file.name();
        self.error.set(None);
        self.status.set(format!("decoding {name}…"));
        let rate = self
            .model_shape()
            .map_or(SampleRate::PAPER, |(_, rate, _)| rate);
        let bytes = match file_bytes(&file).await {
            Ok(bytes) => bytes,
            Err(e) => return self.fail(e),
        };
        let decoded = match audio::decode(bytes, rate).await {
            Ok(decoded) => decoded,
            Err(e) => {
                self.status.set(String::new());
                return self.fail(format!("{name}: {e}"));
            }
        };
        if let Some(old) = self.audio_url.get_untracked() {
            let _ = web_sys::Url::revoke_object_url(&old);
        }
        self.audio_url
            .set(web_sys::Url::create_object_url_with_blob(&file).ok());
        self.status.set(format!(
            "{name}: {:.1} s, {} channel(s), resampled to {rate} mono",
            rate.seconds(decoded.samples.len()),
            decoded.channels
        ));
        self.chunk.set(0);
        self.clip.set(Some(Clip {
            name,
            samples: Arc::new(decoded.samples),
        }));
        self.tag_clip();
    }

    /// Gives a weights file to the engines (the current model stays if it is refused).
    pub async fn open_weights(self, file: File) {
        self.error.set(None);
        match file_bytes(&file).await {
            Ok(b) => {
                self.forget_heads();
                self.send_weights(file.name(), Uint8Array::new(&b).to_vec());
            }
            Err(e) => self.fail(e),
        }
    }
}

impl Default for Controller {
    fn default() -> Self {
        Self::new()
    }
}
