//! The page (Leptos, client-side rendered): file drop, weights, tags, timeline and the
//! front-end's pictures. The model runs in an engine worker (see `client` and `engine`).

use std::sync::Arc;

use js_sys::{ArrayBuffer, Reflect, Uint8Array};
use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::{File, HtmlCanvasElement};

use crate::audio;
use crate::client::{EngineClient, EngineKind};
use crate::draw::{self, Axes};
use crate::messages::{ChunkPictures, FromEngine, Heatmap, ModelInfo, TagResult};
use modnet::TagGroup;

/// The built-in weights (the repository's `weights/`, copied next to the page by trunk).
const DEFAULT_WEIGHTS: &str = "modnet-mtat-distilled.safetensors";
const DEFAULT_WEIGHTS_NAME: &str = "built-in model";
/// How many of the best tags are highlighted.
const TOP_TAGS: usize = 5;
/// Canvas width of the wide plots, in pixels.
const WIDE: u32 = 900;

/// A decoded clip.
#[derive(Clone)]
struct Clip {
    name: String,
    samples: Arc<Vec<f32>>,
}

/// Everything the page shows, as signals (all `Copy`).
#[derive(Clone, Copy)]
struct Page {
    status: RwSignal<String>,
    error: RwSignal<Option<String>>,
    backend: RwSignal<Option<String>>,
    /// Why the WebGPU engine could not run, when it could not.
    gpu_note: RwSignal<Option<String>>,
    model: RwSignal<Option<ModelInfo>>,
    clip: RwSignal<Option<Clip>>,
    progress: RwSignal<Option<(usize, usize)>>,
    result: RwSignal<Option<TagResult>>,
    pictures: RwSignal<Option<ChunkPictures>>,
    /// Selected modulation filter (index in centre-frequency order).
    selected: RwSignal<usize>,
    /// Selected timeline chunk.
    chunk: RwSignal<usize>,
    audio_url: RwSignal<Option<String>>,
    /// Playback position in seconds.
    time: RwSignal<f64>,
    engine: StoredValue<Option<EngineClient>, LocalStorage>,
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

impl Page {
    fn new() -> Self {
        Self {
            status: RwSignal::new("starting…".into()),
            error: RwSignal::new(None),
            backend: RwSignal::new(None),
            gpu_note: RwSignal::new(None),
            model: RwSignal::new(None),
            clip: RwSignal::new(None),
            progress: RwSignal::new(None),
            result: RwSignal::new(None),
            pictures: RwSignal::new(None),
            selected: RwSignal::new(0),
            chunk: RwSignal::new(0),
            audio_url: RwSignal::new(None),
            time: RwSignal::new(0.0),
            engine: StoredValue::new_local(None),
            weights: StoredValue::new(None),
            pending_weights: StoredValue::new(None),
            job: StoredValue::new(0),
        }
    }

    fn fail(self, message: String) {
        self.progress.set(None);
        self.error.set(Some(message));
    }

    /// Starts an engine (dropping the previous one) and gives it the current weights and clip.
    fn start_engine(self, kind: EngineKind) {
        self.engine.set_value(None);
        self.backend.set(None);
        let started = EngineClient::start(
            kind,
            move |message| self.on_message(kind, message),
            move |why| self.on_death(kind, why),
        );
        match started {
            Ok(client) => self.engine.set_value(Some(client)),
            Err(e) => return self.fail(e),
        }
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

    fn on_message(self, kind: EngineKind, message: FromEngine) {
        match message {
            FromEngine::Ready { backend } => {
                let why = self.gpu_note.get_untracked();
                self.status.set(match why {
                    Some(why) => format!("ready: the model runs on {backend} (no WebGPU: {why})"),
                    None => format!("ready: the model runs on {backend}"),
                });
                self.backend.set(Some(backend));
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
                self.model.set(Some(info));
                if self.clip.with_untracked(Option::is_some) {
                    self.tag_clip();
                }
            }
            FromEngine::Progress { job, done, total } => {
                if job == self.job.get_value() {
                    self.progress.set(Some((done, total)));
                }
            }
            FromEngine::Tags(result) => {
                if result.job == self.job.get_value() {
                    self.progress.set(None);
                    self.result.set(Some(result));
                    self.show_chunk(self.chunk.get_untracked());
                }
            }
            FromEngine::Pictures(pictures) => {
                if pictures.job == self.job.get_value() {
                    self.pictures.set(Some(pictures));
                }
            }
            FromEngine::Error { message, .. } => {
                // A rejected weights file leaves the previous model in place.
                self.pending_weights.set_value(None);
                self.fail(message);
            }
        }
    }

    fn send_weights(self, name: String, bytes: Vec<u8>) {
        let sent = self
            .engine
            .with_value(|e| e.as_ref().map(|e| e.load(&name, &bytes)));
        self.pending_weights.set_value(Some((name, bytes)));
        if let Some(Err(e)) = sent {
            self.fail(e);
        }
    }

    fn tag_clip(self) {
        let Some(clip) = self.clip.get_untracked() else {
            return;
        };
        let job = self.job.get_value() + 1;
        self.job.set_value(job);
        self.result.set(None);
        self.pictures.set(None);
        self.progress.set(Some((0, 1)));
        let sent = self
            .engine
            .with_value(|e| e.as_ref().map(|e| e.tag(job, &clip.samples)));
        if let Some(Err(e)) = sent {
            self.fail(e);
        }
    }

    /// Selects a timeline chunk: its pictures are computed, playback jumps there.
    fn show_chunk(self, chunk: usize) {
        let Some(result) = self.result.get_untracked() else {
            return;
        };
        let chunk = chunk.min(result.timeline_starts.len().saturating_sub(1));
        self.chunk.set(chunk);
        let start = result.timeline_starts.get(chunk).copied().unwrap_or(0);
        let job = self.job.get_value();
        let sent = self
            .engine
            .with_value(|e| e.as_ref().map(|e| e.pictures(job, start)));
        if let Some(Err(e)) = sent {
            self.fail(e);
        }
    }

    async fn open_audio(self, file: File) {
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

    async fn open_weights(self, file: File) {
        let name = file.name();
        self.error.set(None);
        match JsFuture::from(file.array_buffer()).await {
            Ok(b) => self.send_weights(name, Uint8Array::new(&b).to_vec()),
            Err(e) => self.fail(format!("{name}: could not be read: {}", js_error(e))),
        }
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

fn first_file(files: Option<web_sys::FileList>) -> Option<File> {
    files.and_then(|f| f.get(0))
}

/// A heatmap canvas that draws itself.
#[component]
fn HeatmapCanvas(
    map: Heatmap,
    width: u32,
    height: u32,
    #[prop(optional)] axes: Option<Axes>,
    #[prop(optional)] range: Option<(f32, f32)>,
    #[prop(optional, into)] class: String,
    #[prop(optional, into)] id: String,
) -> impl IntoView {
    let node = NodeRef::<html::Canvas>::new();
    Effect::new(move |_| {
        if let Some(canvas) = node.get() {
            draw::heatmap(&canvas, &map, range, axes.as_ref());
        }
    });
    view! { <canvas node_ref=node width=width height=height class=class id=id></canvas> }
}

fn redraw(node: NodeRef<html::Canvas>, draw: impl Fn(&HtmlCanvasElement) + 'static) {
    Effect::new(move |_| {
        if let Some(canvas) = node.get() {
            draw(&canvas);
        }
    });
}

#[component]
pub fn App() -> impl IntoView {
    let page = Page::new();
    page.start_engine(if wants_gpu() {
        EngineKind::Gpu
    } else {
        EngineKind::Cpu
    });
    spawn_local(page.load_default_weights());

    let on_audio_input = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        if let Some(file) = first_file(input.files()) {
            spawn_local(page.open_audio(file));
        }
        input.set_value("");
    };
    let on_weights_input = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        if let Some(file) = first_file(input.files()) {
            spawn_local(page.open_weights(file));
        }
        input.set_value("");
    };
    let dragging = RwSignal::new(false);
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        if let Some(file) = first_file(ev.data_transfer().and_then(|d| d.files())) {
            spawn_local(page.open_audio(file));
        }
    };

    view! {
        <header>
            <h1>"ModNet music tagger"</h1>
            <p class="lead">
                "A music tagger with a learnable modulation front-end (Vahidi, Saitis & Fazekas, IJCNN 2021), "
                "running entirely in your browser: nothing is uploaded."
            </p>
            <p id="model-line">
                {move || page.model.get().map_or_else(
                    || "no model loaded yet".to_string(),
                    |m| format!("model: {} — {}", m.name, m.summary),
                )}
            </p>
            <p id="backend" data-backend=move || page.backend.get().unwrap_or_default()>
                {move || page.backend.get().map_or_else(
                    || "starting the engine…".to_string(),
                    |b| format!("backend: {b}"),
                )}
            </p>
            <Show when=move || page.model.with(|m| m.as_ref().is_some_and(|m| m.name == DEFAULT_WEIGHTS_NAME))>
                <p id="model-card" class="note">
                    "Built-in model: the paper's SincModNet front-end with a small ResNet, distilled from "
                    "an MTAT-trained teacher (musicnn's MTT_musicnn) on about 15 hours of freely licensed game "
                    "music and renders, so it speaks MagnaTagATune's 50 tags. It is not trained on MTAT itself "
                    "and knows little singing. "
                    <a href="MODEL_CARD.md">"Model card"</a>
                    " (data, teacher, agreement, limits)."
                </p>
            </Show>
        </header>

        <section
            id="drop"
            class:dragging=move || dragging.get()
            on:dragover=move |ev: leptos::ev::DragEvent| { ev.prevent_default(); dragging.set(true); }
            on:dragleave=move |_| dragging.set(false)
            on:drop=on_drop
        >
            <p>"Drop an audio file here (wav, mp3, ogg, flac, m4a…) or "</p>
            <label class="button">"choose a file"
                <input id="audio-input" type="file" accept="audio/*" on:change=on_audio_input/>
            </label>
            <label class="button secondary">"load weights…"
                <input id="weights-input" type="file" accept=".safetensors" on:change=on_weights_input/>
            </label>
        </section>

        <p id="status">{move || page.status.get()}</p>
        <Show when=move || page.error.with(Option::is_some)>
            <p id="error" role="alert">{move || page.error.get().unwrap_or_default()}</p>
        </Show>
        <Show when=move || page.progress.with(Option::is_some)>
            <div id="progress">
                {move || page.progress.get().map(|(done, total)| view! {
                    <progress max=total value=done></progress>
                    <span>{format!(" tagging: chunk {done} of {total}")}</span>
                })}
            </div>
        </Show>

        {move || page.result.get().map(|r| view! { <Results page=page result=r/> })}
        {move || page.clip.get().map(|c| view! { <Track page=page clip=c/> })}
        {move || page.pictures.get().map(|p| view! { <Pictures page=page pictures=p/> })}
        {move || page.model.get().map(|m| view! { <FilterPlots page=page model=m/> })}
    }
}

/// Every tag as a bar, grouped as the paper's Fig. 2 (genre, instrument, vocal, mood, other),
/// the best ones highlighted; with the backend and time.
#[component]
fn Results(page: Page, result: TagResult) -> impl IntoView {
    let tags = page
        .model
        .with_untracked(|m| m.as_ref().map(|m| m.tags.clone()))
        .unwrap_or_default();
    let p = &result.probabilities;
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let top: Vec<usize> = order.iter().take(TOP_TAGS).copied().collect();
    let name = |i: usize| tags.get(i).cloned().unwrap_or_else(|| format!("tag {i}"));
    let groups = TagGroup::ALL
        .into_iter()
        .filter_map(|group| {
            let members: Vec<usize> = order
                .iter()
                .copied()
                .filter(|&i| TagGroup::of(&name(i)) == group)
                .collect();
            (!members.is_empty()).then(|| {
                let rows = members
                    .into_iter()
                    .map(|i| {
                        let (tag, value) = (name(i), p[i]);
                        let key = tag.clone();
                        view! {
                            <li class="tag" class:top=top.contains(&i) data-tag=key
                                data-index=i data-probability=value.to_string()>
                                <span class="tag-name">{tag}</span>
                                <span class="bar"><span class="fill" style=format!("width: {:.1}%", value * 100.0)></span></span>
                                <span class="value">{format!("{value:.3}")}</span>
                            </li>
                        }
                    })
                    .collect_view();
                view! {
                    <div class="tag-group" data-group=group.name()>
                        <h3>{group.name()}</h3>
                        <ol>{rows}</ol>
                    </div>
                }
            })
        })
        .collect_view();
    let best = top
        .iter()
        .map(|&i| format!("{} {:.2}", name(i), p[i]))
        .collect::<Vec<_>>()
        .join(", ");
    view! {
        <section id="results">
            <h2>"Tags"</h2>
            <p id="top-tags">{format!("Top: {best}")}</p>
            <p id="run-info" data-backend=result.backend.clone() data-millis=result.millis.to_string()>
                {format!(
                    "{} on {} in {:.0} ms (16 chunks for the clip, {} for the timeline)",
                    page.clip.with_untracked(|c| c.as_ref().map(|c| c.name.clone()).unwrap_or_default()),
                    result.backend,
                    result.millis,
                    result.timeline.len()
                )}
            </p>
            {result.notice.clone().map(|n| view! { <p class="note">{format!("Note: {n}.")}</p> })}
            <div id="tags">{groups}</div>
        </section>
    }
}

/// The waveform, the tag timeline, the player and its cursor.
#[component]
fn Track(page: Page, clip: Clip) -> impl IntoView {
    let wave = NodeRef::<html::Canvas>::new();
    let timeline = NodeRef::<html::Canvas>::new();
    let audio = NodeRef::<html::Audio>::new();
    let rate = page
        .model
        .with_untracked(|m| m.as_ref().map_or(16000, |m| m.sample_rate));
    let seconds = clip.samples.len() as f64 / rate as f64;
    let samples = clip.samples.clone();
    redraw(wave, move |c| draw::waveform(c, &samples, rate));
    redraw(timeline, move |c| {
        let (Some(r), Some(m)) = (page.result.get(), page.model.get()) else {
            return;
        };
        let n_tags = m.tags.len();
        let chunks = r.timeline.len();
        // Rows = tags (first tag at the bottom), columns = chunks, probability 0…1.
        let mut values = vec![0.0; n_tags * chunks];
        for (c, row) in r.timeline.iter().enumerate() {
            for (t, p) in row.iter().enumerate().take(n_tags) {
                values[t * chunks + c] = *p;
            }
        }
        let map = Heatmap {
            rows: n_tags,
            cols: chunks,
            values,
        };
        let step = (n_tags / 12).max(1);
        let axes = Axes {
            x_label: format!(
                "time (s), one column per {:.0} s chunk",
                m.chunk_samples as f64 / rate as f64
            ),
            x_range: (0.0, (chunks * m.chunk_samples) as f64 / rate as f64),
            y_label: "tag".into(),
            y_ticks: (0..n_tags)
                .step_by(step)
                .map(|t| ((t as f64 + 0.5) / n_tags as f64, m.tags[t].clone()))
                .collect(),
        };
        draw::heatmap(c, &map, Some((0.0, 1.0)), Some(&axes));
    });
    let on_timeline_click = move |ev: leptos::ev::MouseEvent| {
        let (Some(c), Some(r)) = (timeline.get(), page.result.get_untracked()) else {
            return;
        };
        let (x0, _, w, _) = draw::plot_area(&c, true);
        let scale = c.width() as f64 / c.get_bounding_client_rect().width().max(1.0);
        let x = ev.offset_x() as f64 * scale;
        if x < x0 || r.timeline.is_empty() {
            return;
        }
        let chunk = (((x - x0) / w) * r.timeline.len() as f64) as usize;
        page.show_chunk(chunk);
        if let (Some(a), Some(m)) = (audio.get_untracked(), page.model.get_untracked()) {
            a.set_current_time(
                r.timeline_starts.get(chunk).copied().unwrap_or(0) as f64 / m.sample_rate as f64,
            );
        }
    };
    let cursor_left = move || {
        let (x0, w) = (draw::LEFT, WIDE as f64 - draw::LEFT - 12.0);
        let frame_end = page.result.with(|r| {
            r.as_ref().map_or(seconds, |r| {
                (r.timeline.len()
                    * page
                        .model
                        .with(|m| m.as_ref().map_or(1, |m| m.chunk_samples))) as f64
                    / rate as f64
            })
        });
        format!(
            "left: {:.1}px",
            x0 + (page.time.get() / frame_end.max(1e-9)).min(1.0) * w
        )
    };
    view! {
        <section id="track">
            <h2>{format!("{} — {:.1} s", clip.name, seconds)}</h2>
            <audio
                node_ref=audio
                controls
                src=move || page.audio_url.get().unwrap_or_default()
                on:timeupdate=move |_| {
                    if let Some(a) = audio.get_untracked() { page.time.set(a.current_time()); }
                }
            ></audio>
            <div class="stack">
                <canvas id="waveform" node_ref=wave width=WIDE height=140></canvas>
                <div class="cursor" style=cursor_left></div>
            </div>
            <h3>"Tag timeline (click a chunk to see its pictures)"</h3>
            <div class="stack">
                <canvas id="timeline" node_ref=timeline width=WIDE height=260 on:click=on_timeline_click></canvas>
                <div class="cursor" style=cursor_left></div>
            </div>
        </section>
    }
}

/// The filterbank spectrogram and the modulation spectrograms of the selected chunk.
#[component]
fn Pictures(page: Page, pictures: ChunkPictures) -> impl IntoView {
    let model = page.model.get_untracked();
    let rate = model.as_ref().map_or(16000, |m| m.sample_rate) as f64;
    let chunk = model.as_ref().map_or(0, |m| m.chunk_samples) as f64;
    let start = pictures.start as f64 / rate;
    let centres = model
        .as_ref()
        .map(|m| m.filterbank.centre_hz.clone())
        .unwrap_or_default();
    let axes = move |label: &str| Axes {
        x_label: label.to_string(),
        x_range: (start, start + chunk / rate),
        y_label: "band centre (Hz)".into(),
        y_ticks: draw::band_ticks(&centres, 6),
    };
    let fb_axes = axes("time (s)");
    let large_axes = axes.clone();
    let mod_centres = pictures.modulation_centre_hz.clone();
    let thumbs = pictures
        .modulation
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, map)| {
            let label = format!("{:.1} Hz", mod_centres.get(i).copied().unwrap_or(0.0));
            view! {
                <figure
                    class="thumb"
                    class:selected=move || page.selected.get() == i
                    on:click=move |_| page.selected.set(i)
                >
                    <HeatmapCanvas map=map width=160 height=80 class="modulation-thumb"/>
                    <figcaption>{label}</figcaption>
                </figure>
            }
        })
        .collect_view();
    let modulation = pictures.modulation.clone();
    let large = move || {
        let i = page.selected.get().min(modulation.len().saturating_sub(1));
        modulation.get(i).cloned().map(|map| {
            let centre = mod_centres.get(i).copied().unwrap_or(0.0);
            view! {
                <h3>{format!("Modulation filter {} of {}, centre {centre:.1} Hz", i + 1, modulation.len())}</h3>
                <HeatmapCanvas map=map width=WIDE height=300 axes=large_axes("time (s)") id="modulation-large"/>
            }
        })
    };
    view! {
        <section id="pictures">
            <h2>{format!("Inside the front-end: chunk at {start:.1} s ({:.0} ms)", pictures.millis)}</h2>
            <h3>"Sinc filterbank output (80 bands, dB)"</h3>
            <HeatmapCanvas map=pictures.filterbank.clone() width=WIDE height=300 axes=fb_axes id="filterbank"/>
            {(!pictures.modulation.is_empty()).then(|| view! {
                <h3>"Modulation spectrograms, one per modulation filter (low to high centre frequency; click one)"</h3>
                <div id="modulation-grid">{thumbs}</div>
                {large}
            })}
        </section>
    }
}

/// Learned frequency responses of both banks.
#[component]
fn FilterPlots(page: Page, model: ModelInfo) -> impl IntoView {
    let sinc = NodeRef::<html::Canvas>::new();
    let modulation = NodeRef::<html::Canvas>::new();
    let fb = model.filterbank.clone();
    redraw(sinc, move |c| draw::responses(c, &fb, -60.0, None));
    let has_modulation = model.modulation.is_some();
    if let Some(m) = model.modulation.clone() {
        redraw(modulation, move |c| {
            draw::responses(c, &m, -40.0, Some(page.selected.get()))
        });
    }
    view! {
        <section id="responses">
            <h2>"Learned filters"</h2>
            <h3>{format!("Sinc filterbank: {} band-pass filters (0–{:.0} Hz)", model.filterbank.centre_hz.len(), model.sample_rate as f64 / 2.0)}</h3>
            <canvas id="sinc-responses" node_ref=sinc width=WIDE height=260></canvas>
            {has_modulation.then(|| view! {
                <h3>"Modulation filterbank (selected filter highlighted)"</h3>
                <canvas id="modulation-responses" node_ref=modulation width=WIDE height=260></canvas>
            })}
        </section>
    }
}
