//! Tags as the page lists them: the clip's (every tag as a bar, grouped, the best highlighted)
//! and live listening's.

use leptos::prelude::*;

use crate::clip_job::TagResult;
use crate::listen::Listening;
use modnet::TagGroup;
use modnet::heads::USER_PREFIX;

/// How many of the best tags are highlighted.
const TOP_TAGS: usize = 5;
/// How many of the best live tags are listed.
const LIVE_TAGS: usize = 10;

/// Live listening: the button, how it goes (window filling, hop, latency, dropped windows) and
/// the best tags of the last window heard, with all of the user's.
#[component]
pub fn Listen(
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
                    "{:.0} s heard · tags every {:.1} s · {} windows tagged, {} dropped (engine busy) · model {} (median {}, longest {}) · latency {}",
                    l.seconds,
                    l.hop_seconds,
                    l.tagged,
                    l.dropped,
                    millis(l.model_millis),
                    millis(l.model_median_millis),
                    millis(l.model_max_millis),
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
        let mine = |i: &usize| names.get(*i).is_some_and(|n| n.starts_with(USER_PREFIX));
        // The model's best tags, then every one of the user's, whatever its probability.
        let theirs: Vec<usize> = order
            .iter()
            .copied()
            .filter(|i| !mine(i))
            .take(LIVE_TAGS)
            .collect();
        let yours = (0..p.len()).filter(mine);
        Some(
            theirs
                .into_iter()
                .chain(yours)
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
                data-model-median=move || listening.with(|l| l.as_ref().and_then(|l| l.model_median_millis).unwrap_or(0.0))
                data-model-max=move || listening.with(|l| l.as_ref().and_then(|l| l.model_max_millis).unwrap_or(0.0))
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

/// Every tag as a bar, grouped as the paper's Fig. 2 (genre, instrument, vocal, mood, other),
/// the best ones highlighted; with the device and time.
#[component]
pub fn Results(
    tags: Vec<String>,
    /// The user's tags' thresholds, in order (they follow the model's tags).
    thresholds: Vec<f32>,
    result: TagResult,
    clip_name: String,
) -> impl IntoView {
    let p = &result.probabilities;
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let name = |i: usize| tags.get(i).cloned().unwrap_or_else(|| format!("tag {i}"));
    let theirs = |i: usize| !name(i).starts_with(USER_PREFIX);
    let top: Vec<usize> = order
        .iter()
        .copied()
        .filter(|&i| theirs(i))
        .take(TOP_TAGS)
        .collect();
    let first_user = p.len() - thresholds.len().min(p.len());
    let mine: Vec<usize> = (first_user..p.len()).collect();
    let yours = (!mine.is_empty()).then(|| {
        let rows = mine
            .into_iter()
            .map(|i| {
                let (tag, value) = (name(i), p[i]);
                let has_it = value >= thresholds[i - first_user];
                let key = tag.clone();
                view! {
                    <li class="tag" class:top=has_it data-tag=key data-index=i
                        data-probability=value.to_string() data-has-it=has_it.to_string()>
                        <TagBar tag value/>
                    </li>
                }
            })
            .collect_view();
        view! {
            <div class="tag-group" data-group="yours">
                <h3>"yours"</h3>
                <ol>{rows}</ol>
            </div>
        }
    });
    let groups = TagGroup::ALL
        .into_iter()
        .filter_map(|group| {
            let members: Vec<usize> = order
                .iter()
                .copied()
                .filter(|&i| theirs(i) && TagGroup::of(&name(i)) == group)
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
            <div id="tags">{yours}{groups}</div>
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
