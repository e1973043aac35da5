//! The clip's track: waveform, tag timeline, player and cursor.

use leptos::html;
use leptos::prelude::*;
use modnet::heads::USER_PREFIX;

use super::{WIDE, redraw};
use crate::clip_job::{Clip, TagResult};
use crate::draw::{self, Axes};
use crate::messages::ModelInfo;

/// The waveform, the tag timeline, the player and its cursor. A click on the timeline selects
/// that chunk (`on_chunk`) and moves playback there.
#[component]
pub fn Track(
    clip: Clip,
    model: ModelInfo,
    /// The timeline's rows: the model's tags, then the user's.
    #[prop(into)]
    tags: Signal<Vec<String>>,
    #[prop(into)] result: Signal<Option<TagResult>>,
    #[prop(into)] audio_url: Signal<Option<String>>,
    on_chunk: Callback<usize>,
) -> impl IntoView {
    let wave = NodeRef::<html::Canvas>::new();
    let timeline = NodeRef::<html::Canvas>::new();
    let audio = NodeRef::<html::Audio>::new();
    // Playback position in seconds.
    let time = RwSignal::new(0.0);
    let rate = model.sample_rate;
    let chunk_seconds = rate.seconds(model.chunk_samples);
    let seconds = rate.seconds(clip.samples.len());
    let samples = clip.samples.clone();
    redraw(wave, move |c| {
        draw::waveform(c, &samples, model.sample_rate)
    });
    redraw(timeline, move |c| {
        let tags = tags.get();
        result.with(|r| {
            let Some(r) = r else { return };
            let map = &r.timeline;
            let step = (map.rows / 12).max(1);
            let axes = Axes {
                x_label: format!("time (s), one column per {chunk_seconds:.0} s chunk"),
                x_range: (0.0, map.cols as f64 * chunk_seconds),
                y_label: "tag".into(),
                // Every user's tag is labelled; the model's every `step` rows.
                y_ticks: (0..map.rows.min(tags.len()))
                    .filter(|&t| t % step == 0 || tags[t].starts_with(USER_PREFIX))
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
            a.set_current_time(rate.seconds(starts[chunk]));
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
                <canvas id="timeline" node_ref=timeline width=WIDE height=260 on:click=on_timeline_click
                    data-rows=move || result.with(|r| r.as_ref().map(|r| r.timeline.rows))
                    data-cols=move || result.with(|r| r.as_ref().map(|r| r.timeline.cols))
                    data-values=move || result.with(|r| r.as_ref().map(|r| values_text(&r.timeline.values)))
                ></canvas>
                <div class="cursor" style=cursor_left></div>
            </div>
        </section>
    }
}

/// A picture's values as text, each as Rust prints an `f32` (the shortest that reads back
/// exactly): what the timeline drew, for the page's tests to compare with `trainer tag`.
fn values_text(values: &[f32]) -> String {
    values
        .iter()
        .map(f32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}
