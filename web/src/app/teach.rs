//! "Teach a tag": name it, give a few examples (and counter-examples), and the page learns it in
//! the engine; download the tags as a head file, or load one (`trainer teach`, Python).

use leptos::html;
use leptos::prelude::*;
use web_sys::File;

use crate::controller::{Recorded, Recording};
use crate::messages::HeadsInfo;

/// What the teach button hands over: the name, the examples, the counter-examples.
pub type TeachRequest = (String, Vec<File>, Vec<File>);

fn files_of(input: Option<web_sys::HtmlInputElement>) -> Vec<File> {
    let Some(list) = input.and_then(|i| i.files()) else {
        return Vec::new();
    };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

/// "record an example" / "record a counter-example", or "stop" with the seconds heard while
/// that one records.
#[component]
fn RecordButton(
    #[prop(into)] recording: Signal<Option<Recording>>,
    example: bool,
    on_record: Callback<bool>,
) -> impl IntoView {
    let label = move || match recording.get() {
        Some(r) if r.example == example => format!("stop recording ({:.1} s)", r.seconds),
        _ if example => "record an example".into(),
        _ => "record a counter-example".into(),
    };
    let busy = move || recording.get().is_some_and(|r| r.example != example);
    view! {
        <button id=if example { "record-example" } else { "record-counter" }
            class="button secondary" disabled=busy on:click=move |_| on_record.run(example)>
            {label}
        </button>
    }
}

/// What has been recorded and not yet taught.
fn recorded_line(recorded: &[Recorded]) -> Option<String> {
    if recorded.is_empty() {
        return None;
    }
    let list = |example: bool| {
        let seconds: Vec<String> = recorded
            .iter()
            .filter(|r| r.example == example)
            .map(|r| format!("{:.1} s", r.seconds))
            .collect();
        let noun = if example {
            "example"
        } else {
            "counter-example"
        };
        let plural = if seconds.len() == 1 { "" } else { "s" };
        match seconds.is_empty() {
            true => format!("0 {noun}s"),
            false => format!("{} {noun}{plural} ({})", seconds.len(), seconds.join(", ")),
        }
    };
    Some(format!("recorded: {}, {}", list(true), list(false)))
}

#[component]
pub fn Teach(
    #[prop(into)] heads: Signal<Option<HeadsInfo>>,
    #[prop(into)] teaching: Signal<Option<String>>,
    #[prop(into)] recording: Signal<Option<Recording>>,
    #[prop(into)] recorded: Signal<Vec<Recorded>>,
    on_teach: Callback<TeachRequest>,
    on_record: Callback<bool>,
    on_clear_recordings: Callback<()>,
    on_heads_file: Callback<File>,
    on_download: Callback<()>,
) -> impl IntoView {
    let name = NodeRef::<html::Input>::new();
    let examples = NodeRef::<html::Input>::new();
    let counter = NodeRef::<html::Input>::new();
    let teach = move |_| {
        let tag = name.get().map(|n| n.value()).unwrap_or_default();
        on_teach.run((tag, files_of(examples.get()), files_of(counter.get())));
    };
    let load = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        if let Some(file) = input.files().and_then(|f| f.get(0)) {
            on_heads_file.run(file);
        }
        input.set_value("");
    };
    // Files dropped on a button become that input's files, as if chosen.
    let drop_into = move |input: NodeRef<html::Input>| {
        move |ev: leptos::ev::DragEvent| {
            ev.prevent_default();
            if let (Some(input), Some(files)) =
                (input.get(), ev.data_transfer().and_then(|d| d.files()))
            {
                input.set_files(Some(&files));
            }
        }
    };
    let allow_drop = |ev: leptos::ev::DragEvent| ev.prevent_default();
    let learned = move || {
        heads.get().map(|h| {
            let rows = h
                .tags
                .iter()
                .enumerate()
                .map(|(i, tag)| {
                    let auc = h.cv_roc_auc[i].map_or("—".to_string(), |a| format!("{a:.2}"));
                    let warnings = h.warnings[i].join(" ");
                    view! {
                        <tr data-tag=tag.clone()>
                            <td>{tag.clone()}</td>
                            <td>{auc}</td>
                            <td>{format!("{:.2}", h.thresholds[i])}</td>
                            <td class="warnings">{warnings}</td>
                        </tr>
                    }
                })
                .collect_view();
            view! {
                <table id="heads-table">
                    <tr><th>"your tag"</th><th>"CV ROC-AUC"</th><th>"threshold"</th><th></th></tr>
                    {rows}
                </table>
            }
        })
    };
    view! {
        <section id="teach">
            <h2>"Teach a tag"</h2>
            <p class="note">
                "Name a tag of your own and choose (or drop on the buttons, or record from the "
                "microphone) a few files that have it and, if you like, some that do not. The model's embeddings of them train a small classifier here in the "
                "browser; your earlier tags' examples count as counter-examples, and with none, clips "
                "of many kinds of music that come with the built-in model stand in. Nothing is "
                "uploaded."
            </p>
            <input id="teach-name" type="text" placeholder="tag name" node_ref=name/>
            <label class="button secondary" on:dragover=allow_drop on:drop=drop_into(examples)>
                "examples…"
                <input id="teach-examples" type="file" multiple accept="audio/*" node_ref=examples/>
            </label>
            <label class="button secondary" on:dragover=allow_drop on:drop=drop_into(counter)>
                "counter-examples…"
                <input id="teach-counter" type="file" multiple accept="audio/*" node_ref=counter/>
            </label>
            <RecordButton recording example=true on_record/>
            <RecordButton recording example=false on_record/>
            <button id="teach-button" class="button" on:click=teach>"teach"</button>
            {move || recorded.with(|r| recorded_line(r)).map(|line| view! {
                <p id="recorded">{line}" "
                    <button id="recorded-clear" class="button secondary"
                        on:click=move |_| on_clear_recordings.run(())>"forget them"</button>
                </p>
            })}
            <p id="teach-status">{move || teaching.get().unwrap_or_default()}</p>
            {learned}
            <button id="heads-download" class="button secondary"
                disabled=move || heads.with(Option::is_none)
                on:click=move |_| on_download.run(())>"download your tags"</button>
            <label class="button secondary">"load tags…"
                <input id="heads-input" type="file" accept=".safetensors" on:change=load/>
            </label>
        </section>
    }
}
