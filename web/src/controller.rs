//! The page's state and its conversation with the engine workers: starting them (one on WebGPU,
//! or one per core on the CPU when WebGPU is missing or fails), weights, clips, jobs. No view
//! code lives here.

use std::sync::Arc;

use js_sys::{ArrayBuffer, Reflect, Uint8Array};
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::File;

use crate::audio;
use crate::client::EngineClient;
use crate::listen::Microphone;
use crate::messages::{
    BatchProbabilities, ChunkPictures, EngineKind, FromEngine, Heard, ModelInfo, Share,
};
use modnet::{ClipTagging, LiveWindow, Picture};

/// The built-in weights (the repository's `weights/`, copied next to the page by trunk).
const DEFAULT_WEIGHTS: &str = "modnet-mtat-distilled.safetensors";
/// The name the page gives the built-in weights.
pub const DEFAULT_WEIGHTS_NAME: &str = "built-in model";

/// The most CPU engines the page runs side by side (each a worker with its own copy of the
/// model; memory grows with each).
const MAX_CPU_ENGINES: usize = 4;

/// Seconds between live tags (the window is one model chunk).
pub const LIVE_HOP_SECONDS: f64 = 1.0;
/// Seconds per block the capture worklet posts.
const LIVE_BLOCK_SECONDS: f64 = 0.1;

/// How live listening is going.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listening {
    /// Fraction of the first window heard (1 once tags flow).
    pub filled: f32,
    /// Seconds heard.
    pub seconds: f64,
    /// Seconds between windows.
    pub hop_seconds: f64,
    /// Windows tagged, and windows dropped because the engine was still busy.
    pub tagged: u64,
    pub dropped: u64,
    /// Model time of the last window (ms).
    pub model_millis: Option<f64>,
    /// From the last window's last sample to its tags on the page (ms).
    pub latency_millis: Option<f64>,
}

/// The microphone's side of live listening, kept off the reactive graph.
struct Live {
    microphone: Option<Microphone>,
    window: LiveWindow,
    /// The window at the engine: its job and when it was sent (ms, `performance.now()`).
    in_flight: Option<(u32, f64)>,
    /// Live windows sent so far (their jobs count from [`LIVE_JOBS`]).
    sent: u32,
}

/// Live windows' job numbers start here, apart from the clips' jobs.
const LIVE_JOBS: u32 = 1 << 31;

/// Tags of a clip.
#[derive(Debug, Clone)]
pub struct TagResult {
    pub job: u32,
    /// Which backend ran ("wgpu (WebGPU)", "Flex (CPU)").
    pub backend: String,
    /// Engines (workers) that shared the clip.
    pub engines: usize,
    /// From sending the clip to its tags (the evaluation chunks), in milliseconds.
    pub tags_millis: f64,
    /// From sending the clip to the whole timeline, in milliseconds; `None` while timeline
    /// chunks are still running.
    pub millis: Option<f64>,
    /// Timeline chunks run so far.
    pub timeline_done: usize,
    /// Clip probabilities (mean over the 16 evaluation chunks), in tag order.
    pub probabilities: Vec<f32>,
    /// Start of each timeline chunk in samples.
    pub timeline_starts: Vec<usize>,
    /// Timeline probabilities ready to draw: one row per tag, one column per chunk.
    pub timeline: Picture,
    /// A sentence when the clip had to be zero-padded.
    pub notice: Option<String>,
}

/// A clip at the engines: their shares of its batches coming back.
struct Tagging {
    job: u32,
    plan: ClipTagging,
    /// Each batch's probabilities, once back.
    batches: Vec<Option<Vec<f32>>>,
    /// Chunks run so far.
    done: usize,
    /// Engines sharing the clip.
    engines: usize,
    /// When the clip was sent (ms, `performance.now()`).
    sent: f64,
    /// When its tags were known (all evaluation batches back).
    tagged: Option<f64>,
}

/// A decoded clip.
#[derive(Clone)]
pub struct Clip {
    /// File name.
    pub name: String,
    /// Mono samples at the model's rate.
    pub samples: Arc<Vec<f32>>,
}

/// The page's state and its conversation with the engine worker. Components never see this
/// whole: `App` hands each one the signals it reads and callbacks into these methods.
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
    live: StoredValue<Option<Live>, LocalStorage>,
    /// The engines: the first one also answers pictures and live windows.
    engines: StoredValue<Vec<EngineClient>, LocalStorage>,
    tagging: StoredValue<Option<Tagging>, LocalStorage>,
    /// The weights the engine runs, to give again to a fallback engine.
    weights: StoredValue<Option<(String, Vec<u8>)>>,
    /// Weights sent and not yet confirmed.
    pending_weights: StoredValue<Option<(String, Vec<u8>)>>,
    job: StoredValue<u32>,
}

fn js_error(e: wasm_bindgen::JsValue) -> String {
    Reflect::get(&e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
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
            clip: RwSignal::new(None),
            progress: RwSignal::new(None),
            result: RwSignal::new(None),
            pictures: RwSignal::new(None),
            selected: RwSignal::new(0),
            chunk: RwSignal::new(0),
            audio_url: RwSignal::new(None),
            listening: RwSignal::new(None),
            live_tags: RwSignal::new(None),
            live: StoredValue::new_local(None),
            engines: StoredValue::new_local(Vec::new()),
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
        if let Some(Err(e)) = self.engines.with_value(|e| e.first().map(f)) {
            self.fail(e);
        }
    }

    /// Starts the engines of `kind` (dropping the previous ones) and gives them the current
    /// weights and clip.
    fn start_engine(self, kind: EngineKind) {
        self.engines.set_value(Vec::new());
        self.tagging.set_value(None);
        // A live window sent to the old engine will never come back.
        self.live.update_value(|l| {
            if let Some(l) = l {
                l.in_flight = None;
            }
        });
        self.device.set(None);
        let count = match kind {
            EngineKind::Gpu => 1,
            EngineKind::Cpu => cpu_engines(),
        };
        let mut engines = Vec::with_capacity(count);
        for index in 0..count {
            match EngineClient::start(
                kind,
                move |message| self.on_message(kind, index, message),
                move |why| self.on_death(kind, why),
            ) {
                Ok(client) => engines.push(client),
                Err(e) => return self.fail(e),
            }
        }
        self.engines.set_value(engines);
        if let Some((name, bytes)) = self
            .pending_weights
            .get_value()
            .or_else(|| self.weights.get_value())
        {
            self.send_weights(name, bytes);
        }
    }

    fn fall_back(self, kind: EngineKind, why: String) {
        if kind == EngineKind::Gpu {
            self.status.set(format!(
                "WebGPU is not available ({why}); running on the CPU"
            ));
            self.gpu_note.set(Some(why));
            // Not from inside the dying engine's own callback: it is dropped on the way.
            spawn_local(async move { self.start_engine(EngineKind::Cpu) });
        } else {
            self.fail(format!("the engine stopped: {why}"));
        }
    }

    fn on_death(self, kind: EngineKind, why: String) {
        self.fall_back(kind, why);
    }

    /// A message from engine `index` (0 is the first engine; the others only tag shares).
    fn on_message(self, kind: EngineKind, index: usize, message: FromEngine) {
        match message {
            // The other engines load the same weights; the first one speaks for them.
            FromEngine::Ready { .. } | FromEngine::Model(_) if index != 0 => {}
            FromEngine::Ready { backend } => {
                let why = self.gpu_note.get_untracked();
                let engines = match self.engines.with_value(Vec::len) {
                    1 => String::new(),
                    n => format!(", {n} workers"),
                };
                self.status.set(match why {
                    Some(why) => {
                        format!("ready: the model runs on {backend}{engines} (no WebGPU: {why})")
                    }
                    None => format!("ready: the model runs on {backend}{engines}"),
                });
                self.device.set(Some(backend));
            }
            FromEngine::GpuUnavailable { reason } => self.fall_back(kind, reason),
            FromEngine::Model(info) => {
                if let Some(p) = self.pending_weights.get_value()
                    && p.0 == info.name
                {
                    self.weights.set_value(Some(p));
                    self.pending_weights.set_value(None);
                }
                self.error.set(None);
                self.selected.set(0);
                // Live windows are cut for the model's chunk and rate: another model needs a
                // new start.
                let same_input = self.model.with_untracked(|m| {
                    m.as_ref().is_some_and(|m| {
                        (m.chunk_samples, m.sample_rate) == (info.chunk_samples, info.sample_rate)
                    })
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
            FromEngine::Batch(batch) => self.on_batch(batch),
            FromEngine::Pictures(pictures) => {
                if pictures.job == self.job.get_value() {
                    self.pictures.set(Some(pictures));
                }
            }
            FromEngine::Heard(heard) => self.on_heard(heard),
            FromEngine::Error { job, message } => {
                // A failed live window frees the engine for the next one.
                self.live.update_value(|l| {
                    if let Some(l) = l
                        && l.in_flight.is_some_and(|(j, _)| Some(j) == job)
                    {
                        l.in_flight = None;
                    }
                });
                // A rejected weights file leaves the previous model in place.
                self.pending_weights.set_value(None);
                self.fail(message);
            }
        }
    }

    fn send_weights(self, name: String, bytes: Vec<u8>) {
        let sent = self
            .engines
            .with_value(|e| e.iter().try_for_each(|e| e.load(&name, &bytes)));
        self.pending_weights.set_value(Some((name, bytes)));
        if let Err(e) = sent {
            self.fail(e);
        }
    }

    /// Sends the clip to the engines, each its share of the batches (tagged again when a model
    /// arrives).
    fn tag_clip(self) {
        let Some(clip) = self.clip.get_untracked() else {
            return;
        };
        let Some(chunk) = self
            .model
            .with_untracked(|m| m.as_ref().map(|m| m.chunk_samples))
        else {
            return;
        };
        let job = self.job.get_value() + 1;
        self.job.set_value(job);
        self.result.set(None);
        self.pictures.set(None);
        let plan = match ClipTagging::new(clip.samples.len(), chunk, true) {
            Ok(plan) => plan,
            Err(e) => return self.fail(format!("{}: {e}", clip.name)),
        };
        let count = self.engines.with_value(Vec::len);
        self.progress.set(Some((0, plan.total())));
        self.tagging.set_value(Some(Tagging {
            job,
            batches: vec![None; plan.batch_count()],
            done: 0,
            engines: count,
            plan,
            sent: now_millis(),
            tagged: None,
        }));
        let sent = self.engines.with_value(|engines| {
            engines
                .iter()
                .enumerate()
                .try_for_each(|(index, e)| e.tag(job, &clip.samples, Share { index, count }))
        });
        if let Err(e) = sent {
            self.fail(e);
        }
    }

    /// One batch of the clip back from an engine: the clip's tags once the evaluation batches
    /// are in, then the timeline as it fills.
    fn on_batch(self, batch: BatchProbabilities) {
        let Some((n_tags, sample_rate)) = self
            .model
            .with_untracked(|m| m.as_ref().map(|m| (m.tags.len(), m.sample_rate)))
        else {
            return;
        };
        let now = now_millis();
        let update = self.tagging.try_update_value(|t| {
            let tagging = t.as_mut().filter(|t| t.job == batch.job)?;
            let slot = tagging.batches.get_mut(batch.batch)?;
            if slot.is_none() {
                tagging.done += batch.rows;
            }
            *slot = Some(batch.probabilities);
            let tags = tagging.plan.partial(&tagging.batches, n_tags, sample_rate);
            let first = matches!(tags, Ok(Some(_))) && tagging.tagged.is_none();
            if first {
                tagging.tagged = Some(now);
            }
            let complete = tagging.batches.iter().all(Option::is_some);
            let update = (
                tags,
                first,
                complete,
                (tagging.done, tagging.plan.total()),
                tagging.engines,
                tagging.tagged.map(|t| t - tagging.sent),
                now - tagging.sent,
            );
            if complete {
                *t = None;
            }
            Some(update)
        });
        let Some(Some((tags, first, complete, progress, engines, tags_millis, millis))) = update
        else {
            return;
        };
        self.progress
            .set(if complete { None } else { Some(progress) });
        let tags = match tags {
            Ok(Some(tags)) => tags,
            Ok(None) => return,
            Err(e) => return self.fail(format!("the engines' results do not fit the clip: {e}")),
        };
        self.result.set(Some(TagResult {
            job: batch.job,
            backend: self.device.get_untracked().unwrap_or_default(),
            engines,
            tags_millis: tags_millis.unwrap_or(millis),
            millis: complete.then_some(millis),
            timeline_done: tags.timeline.iter().filter(|row| !row.is_empty()).count(),
            timeline: tags.timeline_picture(),
            probabilities: tags.probabilities,
            timeline_starts: tags.timeline_starts,
            notice: tags.notice,
        }));
        if first {
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
            .model
            .with_untracked(|m| m.as_ref().map_or(16000, |m| m.sample_rate));
        let bytes = match JsFuture::from(file.array_buffer()).await {
            Ok(b) => b.unchecked_into::<ArrayBuffer>(),
            Err(e) => return self.fail(format!("{name}: could not be read: {}", js_error(e))),
        };
        match audio::decode(bytes, rate as u32).await {
            Err(e) => {
                self.status.set(String::new());
                self.fail(format!("{name}: {e}"));
            }
            Ok(decoded) => {
                if let Some(old) = self.audio_url.get_untracked() {
                    let _ = web_sys::Url::revoke_object_url(&old);
                }
                self.audio_url
                    .set(web_sys::Url::create_object_url_with_blob(&file).ok());
                self.status.set(format!(
                    "{name}: {:.1} s, {} channel(s), resampled to {rate} Hz mono",
                    decoded.samples.len() as f64 / rate as f64,
                    decoded.channels
                ));
                self.chunk.set(0);
                self.clip.set(Some(Clip {
                    name,
                    samples: Arc::new(decoded.samples),
                }));
                self.tag_clip();
            }
        }
    }

    /// Gives a weights file to the engine (the current model stays if it is refused).
    pub async fn open_weights(self, file: File) {
        let name = file.name();
        self.error.set(None);
        match JsFuture::from(file.array_buffer()).await {
            Ok(b) => self.send_weights(name, Uint8Array::new(&b).to_vec()),
            Err(e) => self.fail(format!("{name}: could not be read: {}", js_error(e))),
        }
    }

    /// Listens to the microphone: every [`LIVE_HOP_SECONDS`], the last chunk heard is tagged
    /// and pictured, unless the engine is still busy with the previous one (then that window is
    /// dropped and counted).
    pub async fn start_listening(self) {
        if self.live.with_value(Option::is_some) {
            return;
        }
        let Some((rate, chunk)) = self
            .model
            .with_untracked(|m| m.as_ref().map(|m| (m.sample_rate, m.chunk_samples)))
        else {
            return self.fail("no model is loaded yet".into());
        };
        let hop = ((LIVE_HOP_SECONDS * rate as f64) as usize).clamp(1, chunk);
        let window = match LiveWindow::new(chunk, hop) {
            Ok(w) => w,
            Err(e) => return self.fail(e.to_string()),
        };
        self.error.set(None);
        self.live.set_value(Some(Live {
            microphone: None,
            window,
            in_flight: None,
            sent: 0,
        }));
        self.listening.set(Some(Listening {
            hop_seconds: hop as f64 / rate as f64,
            ..Listening::default()
        }));
        self.status.set("asking for the microphone…".into());
        let block = ((LIVE_BLOCK_SECONDS * rate as f64) as usize).max(1);
        match Microphone::open(rate as u32, block, move |samples| self.on_block(&samples)).await {
            // Stopped while the browser was asking: the microphone goes at once.
            Ok(microphone) if self.live.with_value(Option::is_none) => drop(microphone),
            Ok(microphone) => {
                self.status.set(format!(
                    "listening at {} Hz: tags every {LIVE_HOP_SECONDS} s of the last {:.1} s",
                    microphone.rate(),
                    chunk as f64 / rate as f64
                ));
                self.live.update_value(|l| {
                    if let Some(l) = l {
                        l.microphone = Some(microphone);
                    }
                });
            }
            Err(e) => {
                self.stop_listening();
                self.status.set(String::new());
                self.fail(e);
            }
        }
    }

    /// Stops listening and releases the microphone (the last live tags stay on the page).
    pub fn stop_listening(self) {
        self.live.set_value(None);
        self.listening.set(None);
    }

    fn on_block(self, samples: &[f32]) {
        let rate =
            self.model
                .with_untracked(|m| m.as_ref().map_or(16000, |m| m.sample_rate)) as f64;
        let taken = self.live.try_update_value(|live| {
            let live = live.as_mut()?;
            live.window.push(samples);
            let chunk = live.window.take(live.in_flight.is_some());
            let stats = (
                live.window.filled(),
                live.window.heard() as f64 / rate,
                live.window.dropped(),
            );
            Some((chunk, stats))
        });
        let Some(Some((chunk, (filled, seconds, dropped)))) = taken else {
            return;
        };
        self.listening.update(|l| {
            if let Some(l) = l {
                l.filled = filled;
                l.seconds = seconds;
                l.dropped = dropped;
            }
        });
        let Some(chunk) = chunk else { return };
        let now = now_millis();
        let job = self.live.try_update_value(|l| {
            let l = l.as_mut()?;
            l.sent += 1;
            let job = LIVE_JOBS.wrapping_add(l.sent);
            l.in_flight = Some((job, now));
            Some(job)
        });
        let Some(Some(job)) = job else { return };
        self.first_engine(|e| e.listen(job, &chunk.samples, chunk.start));
    }

    fn on_heard(self, heard: Heard) {
        let sent = self.live.try_update_value(|l| {
            let l = l.as_mut()?;
            match l.in_flight {
                Some((job, sent)) if job == heard.job => {
                    l.in_flight = None;
                    Some((sent, l.window.taken()))
                }
                _ => None,
            }
        });
        // Late news from a window of a stopped session is not shown.
        let Some(Some((sent, taken))) = sent else {
            return;
        };
        self.listening.update(|l| {
            if let Some(l) = l {
                l.tagged = taken;
                l.model_millis = Some(heard.millis);
                l.latency_millis = Some(now_millis() - sent);
            }
        });
        self.live_tags.set(Some(heard.probabilities));
        self.pictures.set(Some(heard.pictures));
    }

    /// Starts the engine the browser can run and loads the built-in weights.
    pub fn start(self) {
        self.start_engine(if wants_gpu() {
            EngineKind::Gpu
        } else {
            EngineKind::Cpu
        });
        spawn_local(self.load_default_weights());
    }

    async fn load_default_weights(self) {
        let fetched = async {
            let window = web_sys::window().ok_or("no window")?;
            let response: web_sys::Response =
                JsFuture::from(window.fetch_with_str(DEFAULT_WEIGHTS))
                    .await
                    .map_err(js_error)?
                    .unchecked_into();
            if !response.ok() {
                return Err(format!("HTTP {}", response.status()));
            }
            let buffer = JsFuture::from(response.array_buffer().map_err(js_error)?)
                .await
                .map_err(js_error)?;
            Ok::<_, String>(Uint8Array::new(&buffer).to_vec())
        };
        match fetched.await {
            Ok(bytes) => self.send_weights(DEFAULT_WEIGHTS_NAME.into(), bytes),
            Err(e) => self.fail(format!(
                "the built-in weights could not be loaded ({e}): load a weights file exported by the trainer"
            )),
        }
    }
}

impl Default for Controller {
    fn default() -> Self {
        Self::new()
    }
}

fn now_millis() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or_else(js_sys::Date::now, |p| p.now())
}

/// CPU engines to run side by side: one per core the browser reports, at most
/// [`MAX_CPU_ENGINES`]; `?cpu-engines=N` in the address sets the number (1 to that maximum).
fn cpu_engines() -> usize {
    let Some(window) = web_sys::window() else {
        return 1;
    };
    let asked = window.location().search().ok().and_then(|s| {
        s.trim_start_matches('?')
            .split('&')
            .find_map(|kv| kv.strip_prefix("cpu-engines=")?.parse::<usize>().ok())
    });
    let cores = window.navigator().hardware_concurrency() as usize;
    asked.unwrap_or(cores).clamp(1, MAX_CPU_ENGINES)
}

/// Whether the browser offers WebGPU and the address does not ask for the CPU (`?backend=cpu`).
fn wants_gpu() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let forced_cpu = window
        .location()
        .search()
        .is_ok_and(|s| s.contains("backend=cpu"));
    let gpu = Reflect::get(&window.navigator(), &"gpu".into()).unwrap_or_default();
    !forced_cpu && !gpu.is_undefined() && !gpu.is_null()
}
