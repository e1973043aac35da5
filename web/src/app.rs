//! The page's view (Leptos, client-side rendered): a header, the drop zone, tags, the track with
//! its timeline, the front-end's pictures and the learned filters. The state lives in
//! [`Controller`]; each component takes only the signals and callbacks it reads, and draws data
//! the worker sent ready to draw.

use leptos::html;
use leptos::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::{File, HtmlCanvasElement};

use crate::controller::{Clip, Controller, DEFAULT_WEIGHTS_NAME, Listening, TagResult};
use crate::draw::{self, Axes};
use crate::messages::{ChunkPictures, ModelInfo};
use modnet::{Picture, TagGroup};

/// How many of the best tags are highlighted.
const TOP_TAGS: usize = 5;
/// How many of the best live tags are listed.
const LIVE_TAGS: usize = 10;
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
    let tags = Signal::derive(move || {
        page.model
            .with(|m| m.as_ref().map(|m| m.tags.clone()).unwrap_or_default())
    });
    let clip_name = move || page.clip.with(|c| c.as_ref().map(|c| c.name.clone()));

    view! {
        <Header model=page.model device=page.device/>
        <DropZone on_audio on_weights/>
        <Listen listening=page.listening live_tags=page.live_tags tags on_listen/>
        <StatusLine status=page.status error=page.error progress=page.progress/>
        {move || page.result.get().map(|result| view! {
            <Results tags=tags.get_untracked() result clip_name=clip_name().unwrap_or_default()/>
        })}
        {move || {
            let clip = page.clip.get()?;
            let model = page.model.get()?;
            Some(view! { <Track clip model result=page.result audio_url=page.audio_url on_chunk/> })
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
            <Show when=built_in>
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
    }
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

/// Live listening: the button, how it goes (window filling, hop, latency, dropped windows) and
/// the best tags of the last window heard.
#[component]
fn Listen(
    #[prop(into)] listening: Signal<Option<Listening>>,
    #[prop(into)] live_tags: Signal<Option<Vec<f32>>>,
    #[prop(into)] tags: Signal<Vec<String>>,
    on_listen: Callback<bool>,
) -> impl IntoView {
    let on = move || listening.with(Option::is_some);
    let line = move || {
        listening.get().map(|l| {
            let millis = |m: Option<f64>| m.map_or("–".to_string(), |m| format!("{m:.0} ms"));
            if l.filled < 1.0 {
                format!("filling the window: {:.0} %", l.filled * 100.0)
            } else {
                format!(
                    "{:.0} s heard · tags every {:.1} s · {} windows tagged, {} dropped (engine busy) · model {} · latency {}",
                    l.seconds,
                    l.hop_seconds,
                    l.tagged,
                    l.dropped,
                    millis(l.model_millis),
                    millis(l.latency_millis)
                )
            }
        })
    };
    let rows = move || {
        let p = live_tags.get()?;
        let names = tags.get();
        let mut order: Vec<usize> = (0..p.len()).collect();
        order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
        Some(
            order
                .into_iter()
                .take(LIVE_TAGS)
                .map(|i| {
                    let (tag, value) = (names.get(i).cloned().unwrap_or_default(), p[i]);
                    let key = tag.clone();
                    view! {
                        <li class="tag" data-tag=key data-probability=value.to_string()>
                            <TagBar tag value/>
                        </li>
                    }
                })
                .collect_view(),
        )
    };
    view! {
        <section id="listen">
            <button id="listen-button" class="button" on:click=move |_| on_listen.run(!on())>
                {move || if on() { "stop listening" } else { "listen (microphone)" }}
            </button>
            <span id="listen-status"
                data-tagged=move || listening.with(|l| l.as_ref().map_or(0, |l| l.tagged))
                data-dropped=move || listening.with(|l| l.as_ref().map_or(0, |l| l.dropped))
                data-latency=move || listening.with(|l| l.as_ref().and_then(|l| l.latency_millis).unwrap_or(0.0))
            >{line}</span>
            <Show when=move || live_tags.with(Option::is_some)>
                <ol id="live-tags">{rows}</ol>
            </Show>
        </section>
    }
}

/// A tag's name, its probability as a bar, and the number (the inside of a tag's row).
#[component]
fn TagBar(tag: String, value: f32) -> impl IntoView {
    view! {
        <span class="tag-name">{tag}</span>
        <span class="bar"><span class="fill" style=format!("width: {:.1}%", value * 100.0)></span></span>
        <span class="value">{format!("{value:.3}")}</span>
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

/// Every tag as a bar, grouped as the paper's Fig. 2 (genre, instrument, vocal, mood, other),
/// the best ones highlighted; with the device and time.
#[component]
fn Results(tags: Vec<String>, result: TagResult, clip_name: String) -> impl IntoView {
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
                                <TagBar tag value/>
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
            <p
                id="run-info"
                data-backend=result.backend.clone()
                data-engines=result.engines.to_string()
                data-tags-millis=result.tags_millis.to_string()
                data-millis=result.millis.map(|m| m.to_string())
            >
                {run_info(&result, &clip_name)}
            </p>
            {result.notice.clone().map(|n| view! { <p class="note">{format!("Note: {n}.")}</p> })}
            <div id="tags">{groups}</div>
        </section>
    }
}

/// Where the clip ran and how long it took; while timeline chunks are still running, how many
/// are done.
fn run_info(result: &TagResult, clip_name: &str) -> String {
    let workers = match result.engines {
        1 => String::new(),
        n => format!(" ({n} workers)"),
    };
    let chunks = result.timeline_starts.len();
    let timeline = match result.millis {
        Some(ms) => format!("timeline in {ms:.0} ms"),
        None => format!("timeline {} / {chunks} chunks…", result.timeline_done),
    };
    format!(
        "{clip_name} on {}{workers}: tags in {:.0} ms, {timeline} (16 chunks for the clip, \
         {chunks} for the timeline)",
        result.backend, result.tags_millis
    )
}

/// The waveform, the tag timeline, the player and its cursor. A click on the timeline selects
/// that chunk (`on_chunk`) and moves playback there.
#[component]
fn Track(
    clip: Clip,
    model: ModelInfo,
    #[prop(into)] result: Signal<Option<TagResult>>,
    #[prop(into)] audio_url: Signal<Option<String>>,
    on_chunk: Callback<usize>,
) -> impl IntoView {
    let wave = NodeRef::<html::Canvas>::new();
    let timeline = NodeRef::<html::Canvas>::new();
    let audio = NodeRef::<html::Audio>::new();
    // Playback position in seconds.
    let time = RwSignal::new(0.0);
    let rate = model.sample_rate as f64;
    let chunk_seconds = model.chunk_samples as f64 / rate;
    let seconds = clip.samples.len() as f64 / rate;
    let samples = clip.samples.clone();
    redraw(wave, move |c| {
        draw::waveform(c, &samples, model.sample_rate)
    });
    let tags = model.tags.clone();
    redraw(timeline, move |c| {
        result.with(|r| {
            let Some(r) = r else { return };
            let map = &r.timeline;
            let step = (map.rows / 12).max(1);
            let axes = Axes {
                x_label: format!("time (s), one column per {chunk_seconds:.0} s chunk"),
                x_range: (0.0, map.cols as f64 * chunk_seconds),
                y_label: "tag".into(),
                y_ticks: (0..map.rows.min(tags.len()))
                    .step_by(step)
                    .map(|t| ((t as f64 + 0.5) / map.rows as f64, tags[t].clone()))
                    .collect(),
            };
            draw::heatmap(c, map, Some((0.0, 1.0)), Some(&axes));
        });
    });
    let on_timeline_click = move |ev: leptos::ev::MouseEvent| {
        let (Some(c), Some(starts)) = (
            timeline.get(),
            result.with_untracked(|r| r.as_ref().map(|r| r.timeline_starts.clone())),
        ) else {
            return;
        };
        let (x0, _, w, _) = draw::plot_area(&c, true);
        let scale = c.width() as f64 / c.get_bounding_client_rect().width().max(1.0);
        let x = ev.offset_x() as f64 * scale;
        if x < x0 || starts.is_empty() {
            return;
        }
        let chunk = ((((x - x0) / w) * starts.len() as f64) as usize).min(starts.len() - 1);
        on_chunk.run(chunk);
        if let Some(a) = audio.get_untracked() {
            a.set_current_time(starts[chunk] as f64 / rate);
        }
    };
    let cursor_left = move || {
        let (x0, w) = (draw::LEFT, WIDE as f64 - draw::LEFT - 12.0);
        let drawn = result.with(|r| {
            r.as_ref()
                .map_or(seconds, |r| r.timeline.cols as f64 * chunk_seconds)
        });
        format!(
            "left: {:.1}px",
            x0 + (time.get() / drawn.max(1e-9)).min(1.0) * w
        )
    };
    view! {
        <section id="track">
            <h2>{format!("{} — {:.1} s", clip.name, seconds)}</h2>
            <audio
                node_ref=audio
                controls
                src=move || audio_url.get().unwrap_or_default()
                on:timeupdate=move |_| {
                    if let Some(a) = audio.get_untracked() { time.set(a.current_time()); }
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

/// A picture canvas that draws itself.
#[component]
fn PictureCanvas(
    map: Picture,
    width: u32,
    height: u32,
    #[prop(optional)] axes: Option<Axes>,
    #[prop(optional, into)] class: String,
    #[prop(optional, into)] id: String,
) -> impl IntoView {
    let node = NodeRef::<html::Canvas>::new();
    redraw(node, move |canvas| {
        draw::heatmap(canvas, &map, None, axes.as_ref())
    });
    view! { <canvas node_ref=node width=width height=height class=class id=id></canvas> }
}

/// The filterbank spectrogram and the modulation spectrograms of the selected chunk; a click on
/// a thumbnail selects that modulation filter.
#[component]
fn Pictures(pictures: ChunkPictures, model: ModelInfo, selected: RwSignal<usize>) -> impl IntoView {
    let rate = model.sample_rate as f64;
    let start = pictures.start as f64 / rate;
    let centres = model.filterbank.centre_hz.clone();
    let axes = move |label: &str| Axes {
        x_label: label.to_string(),
        x_range: (start, start + model.chunk_samples as f64 / rate),
        y_label: "band centre (Hz)".into(),
        y_ticks: draw::band_ticks(&centres, 6),
    };
    let fb_axes = axes("time (s)");
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
                    class:selected=move || selected.get() == i
                    on:click=move |_| selected.set(i)
                >
                    <PictureCanvas map width=160 height=80 class="modulation-thumb"/>
                    <figcaption>{label}</figcaption>
                </figure>
            }
        })
        .collect_view();
    let modulation = pictures.modulation.clone();
    let large = move || {
        let i = selected.get().min(modulation.len().saturating_sub(1));
        modulation.get(i).cloned().map(|map| {
            let centre = mod_centres.get(i).copied().unwrap_or(0.0);
            view! {
                <h3>{format!("Modulation filter {} of {}, centre {centre:.1} Hz", i + 1, modulation.len())}</h3>
                <PictureCanvas map width=WIDE height=300 axes=axes("time (s)") id="modulation-large"/>
            }
        })
    };
    view! {
        <section id="pictures">
            <h2>{format!("Inside the front-end: chunk at {start:.1} s ({:.0} ms)", pictures.millis)}</h2>
            <h3>{format!("Sinc filterbank output ({} bands, dB)", pictures.filterbank.rows)}</h3>
            <PictureCanvas map=pictures.filterbank.clone() width=WIDE height=300 axes=fb_axes id="filterbank"/>
            {(!pictures.modulation.is_empty()).then(|| view! {
                <h3>"Modulation spectrograms, one per modulation filter (low to high centre frequency; click one)"</h3>
                <div id="modulation-grid">{thumbs}</div>
                {large}
            })}
        </section>
    }
}

/// Learned frequency responses of both banks, the selected modulation filter highlighted.
#[component]
fn FilterPlots(model: ModelInfo, #[prop(into)] selected: Signal<usize>) -> impl IntoView {
    let sinc = NodeRef::<html::Canvas>::new();
    let modulation = NodeRef::<html::Canvas>::new();
    let fb = model.filterbank.clone();
    redraw(sinc, move |c| draw::responses(c, &fb, -60.0, None));
    let has_modulation = model.modulation.is_some();
    if let Some(m) = model.modulation.clone() {
        redraw(modulation, move |c| {
            draw::responses(c, &m, -40.0, Some(selected.get()))
        });
    }
    view! {
        <section id="responses">
            <h2>"Learned filters"</h2>
            <h3>{format!("Sinc filterbank: {} band-pass filters (0–{:.0} Hz)", model.filterbank.len(), model.sample_rate as f64 / 2.0)}</h3>
            <canvas id="sinc-responses" node_ref=sinc width=WIDE height=260></canvas>
            {has_modulation.then(|| view! {
                <h3>"Modulation filterbank (selected filter highlighted)"</h3>
                <canvas id="modulation-responses" node_ref=modulation width=WIDE height=260></canvas>
            })}
        </section>
    }
}
