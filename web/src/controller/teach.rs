//! Teaching the page your own tags: examples decoded here, embedded by the first engine, heads
//! learned there (the model crate's `heads`, as `trainer teach`), then given to every engine,
//! which tags with them beside the model's tags. Nothing leaves the browser.

use js_sys::Uint8Array;
use leptos::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::File;

use super::Controller;
use crate::audio;
use crate::browser::{download_bytes, fetch_bytes, file_bytes};
use crate::messages::HeadsInfo;

/// The name the page gives heads it learned.
const TAUGHT_HERE: &str = "your tags (taught here)";
/// The built-in model's background set (the repository's `weights/`, copied next to the page by
/// trunk): clips of many kinds of music, counter-examples of every tag taught.
const BACKGROUND: &str = "modnet-mtat-distilled-background.safetensors";
/// The name of the downloaded head file.
const DOWNLOAD_NAME: &str = "my-tags.safetensors";

/// One example given to teach: the tag it has (`None`: a counter-example for every tag) and
/// its embeddings once the engine sent them.
#[derive(Clone)]
pub(super) struct TaughtExample {
    tag: Option<String>,
    embeddings: Option<Vec<f32>>,
}

impl Controller {
    /// Teaches the tag `name` from `examples` (and `counter` examples): every example taught
    /// so far stays, so each tag's examples are the others' counter-examples.
    pub async fn teach(self, name: String, examples: Vec<File>, counter: Vec<File>) {
        let name = name.trim().to_string();
        let Some((_, rate, _)) = self.model_shape() else {
            return self.fail("no model is loaded yet".into());
        };
        let recorded = self.recorded.get_untracked();
        if name.is_empty() || (examples.is_empty() && !recorded.iter().any(|r| r.example)) {
            return self.fail("give the tag a name and at least one example".into());
        }
        let model_tags = self
            .model
            .with_untracked(|m| m.as_ref().map(|m| m.tags.clone()).unwrap_or_default());
        if let Err(e) = modnet::heads::check_names(std::slice::from_ref(&name), &model_tags) {
            self.teaching.set(Some(format!("not learned: {e}")));
            return self.fail(e.to_string());
        }
        self.error.set(None);
        let mut skipped = Vec::new();
        let mut decoded = Vec::new();
        let given = examples.iter().map(|f| (f, Some(name.clone())));
        for (file, tag) in given.chain(counter.iter().map(|f| (f, None))) {
            self.teaching
                .set(Some(format!("decoding {}…", file.name())));
            let samples = match file_bytes(file).await {
                Ok(bytes) => audio::decode(bytes, rate).await.map(|d| d.samples),
                Err(e) => Err(e),
            };
            match samples {
                Ok(samples) => decoded.push((tag, samples)),
                Err(e) => skipped.push(format!("{}: {e}", file.name())),
            }
        }
        // Recordings count as files do; they are kept until the tag is learned.
        decoded.extend(recorded.iter().map(|r| {
            let tag = r.example.then(|| name.clone());
            (tag, r.samples.to_vec())
        }));
        let job = self.job.get_value() + 1;
        self.job.set_value(job);
        self.teach_job.set_value(job);
        let first = self.taught.with_value(Vec::len);
        self.teach_start.set_value(first);
        let count = decoded.len();
        self.taught.update_value(|t| {
            t.extend(decoded.iter().map(|(tag, _)| TaughtExample {
                tag: tag.clone(),
                embeddings: None,
            }))
        });
        let note = if skipped.is_empty() {
            String::new()
        } else {
            format!(" (skipped {}: {})", skipped.len(), skipped.join("; "))
        };
        self.teaching
            .set(Some(format!("embedding {count} examples…{note}")));
        self.teach_note.set_value(note);
        for (i, (_, samples)) in decoded.iter().enumerate() {
            self.first_engine(|e| e.embed(job, first + i, samples));
        }
        if count == 0 {
            let note = self.teach_note.get_value();
            let message = format!("none of the examples could be read{note}");
            self.teach_failed(&message);
            self.fail(message);
        }
    }

    /// One example's embeddings back; once all are, the heads are learned.
    pub(super) fn on_embedded(self, job: u32, example: usize, embeddings: Vec<f32>) {
        if job != self.teach_job.get_value() {
            return;
        }
        let complete = self
            .taught
            .try_update_value(|t| {
                if let Some(e) = t.get_mut(example) {
                    e.embeddings = Some(embeddings);
                }
                t.iter().all(|e| e.embeddings.is_some())
            })
            .unwrap_or(false);
        if !complete {
            return;
        }
        let taught = self.taught.get_value();
        let mut names: Vec<String> = Vec::new();
        for tag in taught.iter().filter_map(|e| e.tag.clone()) {
            if !names.contains(&tag) {
                names.push(tag);
            }
        }
        let tags = names
            .into_iter()
            .map(|name| {
                let labels = taught
                    .iter()
                    .map(|e| Some(e.tag.as_ref() == Some(&name)))
                    .collect();
                (name, labels)
            })
            .collect();
        let examples = taught.into_iter().filter_map(|e| e.embeddings).collect();
        self.teaching
            .set(Some(format!("learning…{}", self.teach_note.get_value())));
        spawn_local(async move {
            let background = self.background().await;
            let background = (!background.is_empty()).then_some(background.as_slice());
            self.first_engine(|e| e.learn(job, examples, tags, background));
        });
    }

    /// The built-in model's background set file, fetched once (empty when it cannot be: heads
    /// are then learned from the user's counter-examples alone).
    async fn background(self) -> Vec<u8> {
        if let Some(bytes) = self.background.get_value() {
            return bytes;
        }
        let bytes = fetch_bytes(BACKGROUND).await.unwrap_or_default();
        self.background.set_value(Some(bytes.clone()));
        bytes
    }

    /// Heads learned: every engine gets them.
    pub(super) fn on_learned(self, job: u32, file: Vec<u8>) {
        if job == self.teach_job.get_value() {
            self.clear_recordings();
            self.use_heads(TAUGHT_HERE.into(), Some(file));
        }
    }

    /// The engines took heads (or none): the clip is tagged again with them.
    pub(super) fn on_heads(self, info: Option<HeadsInfo>) {
        let learned = info.as_ref().map_or(String::new(), |h| {
            let auc = |a: &Option<f64>| a.map_or("no CV".into(), |a| format!("CV ROC-AUC {a:.2}"));
            let tags: Vec<String> = h
                .tags
                .iter()
                .zip(&h.cv_roc_auc)
                .map(|(t, a)| format!("{t} ({})", auc(a)))
                .collect();
            format!(
                "your tags: {}{}",
                tags.join(", "),
                self.teach_note.get_value()
            )
        });
        self.teaching.set(Some(learned));
        self.heads.set(info);
        if self.clip.with_untracked(Option::is_some) {
            self.tag_clip();
        }
    }

    /// Gives every engine a head file (or none).
    fn use_heads(self, name: String, file: Option<Vec<u8>>) {
        let sent = self
            .engines
            .with_value(|pool| pool.heads(&name, file.as_deref()));
        if let Err(e) = sent {
            self.fail(e);
        }
    }

    /// Loads a head file (from `trainer teach`, Python or this page): the engines check it
    /// against the model.
    pub async fn open_heads(self, file: File) {
        self.error.set(None);
        match file_bytes(&file).await {
            Ok(bytes) => {
                self.taught.set_value(Vec::new());
                self.teach_note.set_value(String::new());
                self.use_heads(file.name(), Some(Uint8Array::new(&bytes).to_vec()));
            }
            Err(e) => self.fail(e),
        }
    }

    /// Offers the heads in use as a file.
    pub fn download_heads(self) {
        if let Some(h) = self.heads.get_untracked()
            && let Err(e) = download_bytes(DOWNLOAD_NAME, &h.file)
        {
            self.fail(e);
        }
    }

    /// Learning failed (or an example could not be embedded): this attempt's examples are
    /// dropped, those of the tags learned before stay.
    pub(super) fn teach_failed(self, message: &str) {
        let start = self.teach_start.get_value();
        self.taught.update_value(|t| t.truncate(start));
        self.teach_job.set_value(0);
        self.teaching.set(Some(format!("not learned: {message}")));
    }

    /// A new model: the heads, the examples taught and the recordings (at its sample rate)
    /// belong to the old one.
    pub(super) fn forget_heads(self) {
        self.recorder.set_value(None);
        self.recording.set(None);
        self.clear_recordings();
        self.taught.set_value(Vec::new());
        self.teach_job.set_value(0);
        self.teaching.set(None);
        self.heads.set(None);
    }

    /// The heads in use again, for engines that started anew (they lost them).
    pub(super) fn resend_heads(self) {
        if let Some(h) = self.heads.get_untracked() {
            self.use_heads(h.name, Some(h.file));
        }
    }
}
