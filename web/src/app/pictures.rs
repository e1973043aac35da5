//! What the front-end sees: the selected chunk's filterbank and modulation spectrograms, and
//! the learned filters' frequency responses. A new picture of the model's inside goes here.

use leptos::html;
use leptos::prelude::*;

use super::{WIDE, redraw};
use crate::browser;
use crate::draw::{self, Axes};
use crate::messages::{ChunkPictures, ModelInfo};
use modnet::{Picture, PictureValues};

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
pub fn Pictures(
    pictures: ChunkPictures,
    model: ModelInfo,
    selected: RwSignal<usize>,
) -> impl IntoView {
    let rate = model.sample_rate;
    let start = rate.seconds(pictures.start);
    let centres = model.filterbank.centre_hz.clone();
    let axes = move |label: &str| Axes {
        x_label: label.to_string(),
        x_range: (start, start + rate.seconds(model.chunk_samples)),
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
    let values = PictureValues {
        start_seconds: start,
        column_seconds: rate.seconds(model.chunk_samples) / pictures.filterbank.cols.max(1) as f64,
        filterbank: pictures.filterbank.clone(),
        modulation: pictures.modulation.clone(),
        filterbank_centre_hz: pictures.filterbank_centre_hz.clone(),
        modulation_centre_hz: pictures.modulation_centre_hz.clone(),
    };
    let download = move |_| {
        let name = format!("pictures-at-{:.1}s.json", values.start_seconds);
        if let Err(e) = browser::download_json(&name, &values) {
            leptos::logging::warn!("the pictures' values could not be offered: {e}");
        }
    };
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
            <button id="picture-values" on:click=download title="the pictures below as numbers (dB), the format of `trainer inspect`">
                "Download the values (JSON)"
            </button>
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
pub fn FilterPlots(model: ModelInfo, #[prop(into)] selected: Signal<usize>) -> impl IntoView {
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
            <h3>{format!("Sinc filterbank: {} band-pass filters (0–{:.0} Hz)", model.filterbank.len(), model.sample_rate.hz() as f64 / 2.0)}</h3>
            <canvas id="sinc-responses" node_ref=sinc width=WIDE height=260></canvas>
            {has_modulation.then(|| view! {
                <h3>"Modulation filterbank (selected filter highlighted)"</h3>
                <canvas id="modulation-responses" node_ref=modulation width=WIDE height=260></canvas>
            })}
        </section>
    }
}
