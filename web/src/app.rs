//! The page's view (Leptos, client-side rendered): a header, the drop zone, tags, the track with
//! its timeline, the front-end's pictures and the learned filters. The state lives in
//! [`Controller`]; each component takes only the signals and callbacks it reads, and draws data
//! the worker sent ready to draw.

use leptos::html;
use leptos::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::{File, HtmlCanvasElement};

use crate::controller::{Controller, DEFAULT_WEIGHTS_NAME};
use crate::messages::{Convolutions, ModelInfo};
use modnet::TAG_BATCH;

mod pictures;
mod tags;
mod teach;
mod track;

use pictures::{FilterPlots, Pictures};
use tags::{Listen, Results};
use teach::{Teach, TeachRequest};
use track::Track;

/// Canvas width of the wide plots, in pixels.
const WIDE: u32 = 900;

fn first_file(files: Option<web_sys::FileList>) -> Option<File> {
    files.and_then(|f| f.get(0))
}

/// Draws into a canvas now and again whenever a signal `draw` reads changes.
fn redraw(node: NodeRef<html::Canvas>, draw: impl Fn(&HtmlCanvasElement) + 'static) {
    Effect::new(move |_| {
        if let Some(canvas) = node.get() {
            draw(&canvas);
        }
    });
}

#[component]
pub fn App() -> impl IntoView {
    let page = Controller::new();
    page.start();
    let on_audio = Callback::new(move |file: File| spawn_local(page.open_audio(file)));
    let on_weights = Callback::new(move |file: File| spawn_local(page.open_weights(file)));
    let on_chunk = Callback::new(move |chunk: usize| page.show_chunk(chunk));
    let on_listen = Callback::new(move |on: bool| {
        if on {
            spawn_local(page.start_listening());
        } else {
            page.stop_listening();
        }
    });
    let on_teach = Callback::new(move |(name, examples, counter): TeachRequest| {
        spawn_local(page.teach(name, examples, counter))
    });
    let on_record = Callback::new(move |example: bool| spawn_local(page.toggle_recording(example)));
    let on_clear_recordings = Callback::new(move |()| page.clear_recordings());
    let on_heads_file = Callback::new(move |file: File| spawn_local(page.open_heads(file)));
    let on_download = Callback::new(move |()| page.download_heads());
    // The model's tags, then the user's (marked), in the order of every probability row.
    let tags = Signal::derive(move || {
        let mut tags = page
            .model
            .with(|m| m.as_ref().map(|m| m.tags.clone()).unwrap_or_default());
        page.heads.with(|h| {
            tags.extend(h.iter().flat_map(|h| {
                h.tags
                    .iter()
                    .map(|t| format!("{}{t}", modnet::heads::USER_PREFIX))
            }))
        });
        tags
    });
    let thresholds = move || {
        page.heads
            .with(|h| h.as_ref().map(|h| h.thresholds.clone()).unwrap_or_default())
    };
    let clip_name = move || page.clip.with(|c| c.as_ref().map(|c| c.name.clone()));

    view! {
        <Header model=page.model device=page.device timing=page.timing/>
        <DropZone on_audio on_weights/>
        <Listen listening=page.listening live_tags=page.live_tags tags on_listen/>
        <StatusLine status=page.status error=page.error progress=page.progress/>
        {move || page.result.get().map(|result| view! {
            <Results tags=tags.get_untracked() thresholds=thresholds() result
                clip_name=clip_name().unwrap_or_default()/>
        })}
        <Teach heads=page.heads teaching=page.teaching recording=page.recording
            recorded=page.recorded on_teach on_record on_clear_recordings on_heads_file on_download/>
        {move || {
            let clip = page.clip.get()?;
            let model = page.model.get()?;
            Some(view! { <Track clip model tags result=page.result audio_url=page.audio_url on_chunk/> })
        }}
        {move || {
            let pictures = page.pictures.get()?;
            let model = page.model.get_untracked()?;
            Some(view! { <Pictures pictures model selected=page.selected/> })
        }}
        {move || page.model.get().map(|model| view! { <FilterPlots model selected=page.selected/> })}
    }
}

/// Title, the model and the device it runs on; the built-in model's card.
#[component]
fn Header(
    #[prop(into)] model: Signal<Option<ModelInfo>>,
    #[prop(into)] device: Signal<Option<String>>,
    #[prop(into)] timing: Signal<Option<String>>,
) -> impl IntoView {
    let built_in =
        move || model.with(|m| m.as_ref().is_some_and(|m| m.name == DEFAULT_WEIGHTS_NAME));
    view! {
        <header>
            <h1>"ModNet music tagger"</h1>
            <p class="lead">
                "A music tagger with a learnable modulation front-end (Vahidi, Saitis & Fazekas, IJCNN 2021), "
                "running entirely in your browser: nothing is uploaded."
            </p>
            <p id="model-line">
                {move || model.with(|m| m.as_ref().map_or_else(
                    || "no model loaded yet".to_string(),
                    |m| format!("model: {} — {}", m.name, m.summary),
                ))}
            </p>
            <p id="backend" data-backend=move || device.get().unwrap_or_default()>
                {move || device.get().map_or_else(
                    || "starting the engine…".to_string(),
                    |d| format!("backend: {d}"),
                )}
            </p>
            {move || timing.get().map(|t| view! {
                <p id="convolutions-timing" class="note">
                    {format!("convolutions: timing the routes on this GPU ({t})…")}
                </p>
            })}
            {move || model.with(|m| m.as_ref()?.convolutions.clone()).map(|c| view! {
                <p id="convolutions" class="note" data-route=c.route.name() data-timed=timed_data(&c)
                    data-earlier=c.earlier.to_string()>
                    {convolutions_line(&c)}
                </p>
            })}
            <Show when=built_in>
                <p id="model-card" class="note">
                    "Built-in model: the paper's SincModNet front-end with a small ResNet, distilled from "
                    "two MTAT-trained teachers (musicnn's MTT_musicnn and MTT_vgg) on about 38 hours of freely "
                    "licensed game music, rendered scores and synthetic singing, so it speaks MagnaTagATune's "
                    "50 tags. It is not trained on MTAT itself, and its singing voices were all synthetic. "
                    <a href="MODEL_CARD.md">"Model card"</a>
                    " (data, teacher, agreement, limits)."
                </p>
            </Show>
        </header>
    }
}

/// One line: the WebGPU engine's convolution route, and the times that chose it.
fn convolutions_line(c: &Convolutions) -> String {
    let why = if c.timed.is_empty() {
        "asked for by the address".to_string()
    } else {
        let times: Vec<String> = c
            .timed
            .iter()
            .map(|(route, ms)| format!("{} {ms:.0} ms", route.name()))
            .collect();
        let when = if c.earlier {
            ", timed at an earlier visit: ?gpu-conv=auto in the address times them again"
        } else {
            ""
        };
        format!(
            "the fastest on this GPU per forward pass of {TAG_BATCH} chunks: {}{when}",
            times.join(", ")
        )
    };
    let note = c
        .note
        .as_ref()
        .map_or_else(String::new, |n| format!("; {n}"));
    format!("convolutions: {} ({why}){note}", c.route.name())
}

/// The times of [`convolutions_line`] for scripts: `route:ms` pairs, comma-separated.
fn timed_data(c: &Convolutions) -> String {
    let pairs: Vec<String> = c
        .timed
        .iter()
        .map(|(route, ms)| format!("{}:{ms}", route.name()))
        .collect();
    pairs.join(",")
}

/// Where files come in: drop or choose an audio file, or load weights.
#[component]
fn DropZone(on_audio: Callback<File>, on_weights: Callback<File>) -> impl IntoView {
    let dragging = RwSignal::new(false);
    let chosen = move |callback: Callback<File>| {
        move |ev: leptos::ev::Event| {
            let input: web_sys::HtmlInputElement = event_target(&ev);
            if let Some(file) = first_file(input.files()) {
                callback.run(file);
            }
            // The same file chosen again is a new choice.
            input.set_value("");
        }
    };
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        if let Some(file) = first_file(ev.data_transfer().and_then(|d| d.files())) {
            on_audio.run(file);
        }
    };
    view! {
        <section
            id="drop"
            class:dragging=move || dragging.get()
            on:dragover=move |ev: leptos::ev::DragEvent| { ev.prevent_default(); dragging.set(true); }
            on:dragleave=move |_| dragging.set(false)
            on:drop=on_drop
        >
            <p>"Drop an audio file here (wav, mp3, ogg, flac, m4a…) or "</p>
            <label class="button">"choose a file"
                <input id="audio-input" type="file" accept="audio/*" on:change=chosen(on_audio)/>
            </label>
            <label class="button secondary">"load weights…"
                <input id="weights-input" type="file" accept=".safetensors" on:change=chosen(on_weights)/>
            </label>
        </section>
    }
}

/// The status line, the error and the tagging progress.
#[component]
fn StatusLine(
    #[prop(into)] status: Signal<String>,
    #[prop(into)] error: Signal<Option<String>>,
    #[prop(into)] progress: Signal<Option<(usize, usize)>>,
) -> impl IntoView {
    view! {
        <p id="status">{move || status.get()}</p>
        <Show when=move || error.with(Option::is_some)>
            <p id="error" role="alert">{move || error.get().unwrap_or_default()}</p>
        </Show>
        <Show when=move || progress.with(Option::is_some)>
            <div id="progress">
                {move || progress.get().map(|(done, total)| view! {
                    <progress max=total value=done></progress>
                    <span>{format!(" tagging: chunk {done} of {total}")}</span>
                })}
            </div>
        </Show>
    }
}
