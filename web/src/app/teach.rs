//! "Teach a tag": name it, give a few examples (and counter-examples), and the page learns it in
//! the engine; download the tags as a head file, or load one (`trainer teach`, Python).

use leptos::html;
use leptos::prelude::*;
use web_sys::File;

use crate::messages::HeadsInfo;

/// What the teach button hands over: the name, the examples, the counter-examples.
pub type TeachRequest = (String, Vec<File>, Vec<File>);

fn files_of(input: Option<web_sys::HtmlInputElement>) -> Vec<File> {
    let Some(list) = input.and_then(|i| i.files()) else {
        return Vec::new();
    };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

#[component]
pub fn Teach(
    #[prop(into)] heads: Signal<Option<HeadsInfo>>,
    #[prop(into)] teaching: Signal<Option<String>>,
    on_teach: Callback<TeachRequest>,
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
                "Name a tag of your own and choose (or drop on the buttons) a few files that have it "
                "and, if you like, some that do not. The model's embeddings of them train a small classifier here in the "
                "browser; your earlier tags' examples count as counter-examples. Nothing is uploaded."
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
            <button id="teach-button" class="button" on:click=teach>"teach"</button>
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
