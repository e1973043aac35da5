//! The user's own tags for files: which files teach which tag (folders or a label CSV), their
//! embeddings, learning the heads, and a head file checked against the model in use. The
//! learning itself is the model crate's ([`modnet::heads`]), shared with the page.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use modnet::heads::{Background, BaseModel, Example, TagExamples, check_names};
use modnet::{ModNet, TagHeads};

use crate::embeddings::embed_signal;
use crate::files::{BUILTIN_BACKGROUND, read_bounded};
use crate::library;
use crate::signal::Signal;

/// The largest head file read (a thousand tags of 128 features is 0.5 MB).
pub const MAX_HEADS_BYTES: u64 = 64 << 20;

/// The heads in `path`, refused with a sentence naming the file when it is not a head file.
pub fn read_heads(path: &Path) -> Result<TagHeads> {
    let bytes = read_bounded(path, "the head file", MAX_HEADS_BYTES)?;
    TagHeads::from_bytes(&bytes).with_context(|| path.display().to_string())
}

/// The heads in `path` for `model`: [`read_heads`], then refused by name when they were
/// learned on another model or name one of `model`'s own tags.
pub fn load_heads(path: &Path, model: &ModNet) -> Result<TagHeads> {
    let heads = read_heads(path)?;
    check_heads(&heads, model).with_context(|| path.display().to_string())?;
    Ok(heads)
}

/// Refuses heads that do not belong to `model` ([`TagHeads::check_for`]).
pub fn check_heads(heads: &TagHeads, model: &ModNet) -> Result<()> {
    Ok(heads.check_for(&BaseModel::of(model)?, &model.config().tags)?)
}

/// Which files teach which tags: per file, per tag, an example (`Some(true)`), a
/// counter-example (`Some(false)`) or not used (`None`).
#[derive(Debug, Clone, Default)]
pub struct Teaching {
    /// The files, each once.
    pub files: Vec<PathBuf>,
    /// The tags, each with one label per file.
    pub tags: Vec<TagExamples>,
    /// Files named but not readable as audio (listed, skipped).
    pub skipped: Vec<String>,
}

impl Teaching {
    /// One folder of examples per tag, and optionally a folder of counter-examples for all.
    /// A tag's counter-examples are the `negatives` and the other tags' examples that are not
    /// in its own folder (with two tags or more, no negatives are needed).
    pub fn from_folders(tags: &[(String, PathBuf)], negatives: Option<&Path>) -> Result<Self> {
        let mut teaching = Self::default();
        let mut index = BTreeMap::new();
        let mut members: Vec<Vec<usize>> = Vec::new();
        let folders = tags.iter().map(|(_, dir)| dir.as_path()).chain(negatives);
        for (t, dir) in folders.enumerate() {
            if !dir.is_dir() {
                bail!("{} is not a folder", dir.display());
            }
            let inputs = library::audio_files(&[dir.to_path_buf()])?;
            teaching.skipped.extend(inputs.empty_errors());
            let mut these = Vec::new();
            for file in inputs.files {
                let key = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
                let next = teaching.files.len();
                let i = *index.entry(key).or_insert(next);
                if i == next {
                    teaching.files.push(file);
                }
                these.push(i);
            }
            if these.is_empty() && t < tags.len() {
                bail!(
                    "{} holds no audio files to teach '{}'",
                    dir.display(),
                    tags[t].0
                );
            }
            members.push(these);
        }
        let names: Vec<String> = tags.iter().map(|(n, _)| n.clone()).collect();
        check_names(&names, &[])?;
        for (t, name) in names.into_iter().enumerate() {
            let mut labels = vec![None; teaching.files.len()];
            for other in &members {
                other.iter().for_each(|&i| labels[i] = Some(false));
            }
            members[t].iter().for_each(|&i| labels[i] = Some(true));
            teaching.tags.push(TagExamples { name, labels });
        }
        Ok(teaching)
    }

    /// A label CSV: a `path` column (relative to the CSV's folder) and one column per tag with
    /// 1 (has it), 0 (does not) or nothing (not used for that tag).
    pub fn from_csv(path: &Path) -> Result<Self> {
        let bytes = read_bounded(path, "the label CSV", 256 << 20)?;
        let mut reader = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(bytes.as_slice());
        let header: Vec<String> = reader
            .headers()
            .with_context(|| format!("{}: no header line", path.display()))?
            .iter()
            .map(str::to_string)
            .collect();
        let path_column = header
            .iter()
            .position(|h| h == "path")
            .with_context(|| format!("{}: the header has no `path` column", path.display()))?;
        let names: Vec<String> = header
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != path_column)
            .map(|(_, h)| h.clone())
            .collect();
        if names.is_empty() {
            bail!("{}: no tag columns beside `path`", path.display());
        }
        check_names(&names, &[]).with_context(|| format!("{}: the header", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut teaching = Self::default();
        let mut labels: Vec<Vec<Option<bool>>> = vec![Vec::new(); names.len()];
        for (line, record) in reader.records().enumerate() {
            let line = line + 2;
            let record = record.with_context(|| format!("{}: line {line}", path.display()))?;
            let file = base.join(&record[path_column]);
            let mut column = 0;
            for (i, cell) in record.iter().enumerate() {
                if i == path_column {
                    continue;
                }
                labels[column].push(match cell.trim() {
                    "1" => Some(true),
                    "0" => Some(false),
                    "" => None,
                    other => bail!(
                        "{}: line {line}, column '{}': '{other}' is not 1, 0 or empty",
                        path.display(),
                        names[column]
                    ),
                });
                column += 1;
            }
            teaching.files.push(file);
        }
        if teaching.files.is_empty() {
            bail!("{}: no rows, so no files to learn from", path.display());
        }
        teaching.tags = names
            .into_iter()
            .zip(labels)
            .map(|(name, labels)| TagExamples { name, labels })
            .collect();
        Ok(teaching)
    }

    /// Embeds every file (pooled embeddings of its timeline chunks). A file that cannot be
    /// read is added to `skipped` and left out of every tag. `progress` is called after each
    /// file.
    pub fn embed(
        mut self,
        model: &ModNet,
        device: &Device,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<Embedded> {
        let names: Vec<String> = self.tags.iter().map(|t| t.name.clone()).collect();
        check_names(&names, &model.config().tags)?;
        let rate = model.config().sample_rate;
        let mut examples = Vec::with_capacity(self.files.len());
        let mut kept = Vec::new();
        for (i, file) in self.files.iter().enumerate() {
            let embedded =
                crate::audio::decode(file, rate).and_then(|s| embed_example(model, &s, device));
            match embedded {
                Ok(example) => {
                    examples.push(example);
                    kept.push(i);
                }
                Err(e) => self.skipped.push(library::name_once(file, &e)),
            }
            progress(i + 1, self.files.len());
        }
        if examples.is_empty() {
            bail!(
                "none of the {} files could be read: {}",
                self.files.len(),
                self.skipped.join("; ")
            );
        }
        let tags = self
            .tags
            .iter()
            .map(|t| TagExamples {
                name: t.name.clone(),
                labels: kept.iter().map(|&i| t.labels[i]).collect(),
            })
            .collect();
        Ok(Embedded {
            examples,
            tags,
            dim: model.pooled_width(),
            base: BaseModel::of(model)?,
            model_tags: model.config().tags.clone(),
            skipped: self.skipped,
        })
    }
}

/// Examples embedded, ready to learn from (in memory: learning again costs no model run).
pub struct Embedded {
    /// One per readable file.
    pub examples: Vec<Example>,
    /// Labels per tag, one per example.
    pub tags: Vec<TagExamples>,
    /// Features per chunk.
    pub dim: usize,
    /// The model that embedded them, and its own tags.
    pub base: BaseModel,
    pub model_tags: Vec<String>,
    /// Files that could not be read, each with its error.
    pub skipped: Vec<String>,
}

impl Embedded {
    /// The heads, one per tag, with `background`'s clips as counter-examples of every tag
    /// (when it is this model's: [`background_for`]).
    pub fn learn(&self, background: Option<&Background>) -> Result<TagHeads> {
        Ok(TagHeads::learn(
            self.base.clone(),
            &self.model_tags,
            &self.examples,
            self.dim,
            &self.tags,
            background,
        )?)
    }
}

/// The background set of the model `base`: the built-in model has one
/// ([`BUILTIN_BACKGROUND`]); other weights have none.
pub fn background_for(base: &BaseModel) -> Result<Option<Background>> {
    let set = Background::from_bytes(BUILTIN_BACKGROUND)
        .map_err(|e| anyhow::anyhow!("the built-in background set is damaged: {e}"))?;
    Ok(set.belongs_to(base).then_some(set))
}

/// The pooled embeddings of a signal's timeline chunks, as one example.
pub fn embed_example(model: &ModNet, samples: &Signal, device: &Device) -> Result<Example> {
    let e = embed_signal(model, samples, TagHeads::LAYER, device)?;
    Ok(Example {
        chunks: e.chunks.concat(),
    })
}
