//! The user's own tags: small classifiers ("heads") on the model's pooled embeddings, learned
//! from a handful of examples ([`learn`]) and carried beside the model's tags wherever those
//! are (the clip protocol, the timeline, tables, the page, Python).
//!
//! A head is logistic regression on one chunk's pooled embedding (the ResNet's features before
//! the model's own head); a clip's score is the mean of its chunks' probabilities, exactly as
//! the model's tags. Heads are tied to the model they were learned on ([`BaseModel`]): the
//! embeddings of another model mean something else, so its heads are refused by name.

pub mod background;
mod calibrate;
pub mod file;
pub mod learn;
mod logistic;
#[cfg(test)]
mod tests;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use burn::tensor::Tensor;

use crate::EmbeddingLayer;
use crate::clip::protocol::ChunkBatch;
use crate::error::ModelError;
use crate::model::ModNet;

pub use background::Background;
pub use learn::{Example, TagExamples, learn_heads};

/// How the user's tags are marked where they stand beside the model's (table columns, top
/// lists): `user:piano` cannot be mistaken for the model's `piano`.
pub const USER_PREFIX: &str = "user:";
/// The longest tag name accepted (characters).
pub const MAX_NAME_CHARS: usize = 64;

/// How a head was learned, kept in its file and reported by `teach`.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadReport {
    /// Examples that have the tag.
    pub examples: usize,
    /// Examples that do not (the user's).
    pub counter_examples: usize,
    /// Clips of the model's background set that stood in for counter-examples (0: the user
    /// gave some).
    pub background: usize,
    /// Folds of the cross-validation (0: too few examples to cross-validate).
    pub folds: usize,
    /// The cross-validated ROC-AUC over examples (`None` without cross-validation): against
    /// the background set's clips when they stood in for counter-examples.
    pub cv_roc_auc: Option<f64>,
    /// The L2 penalty chosen.
    pub l2: f64,
    /// What the user should know (too few examples, no cross-validation).
    pub warnings: Vec<String>,
}

/// One user tag: `p = σ(weight · embedding + bias)` per chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct TagHead {
    /// The tag's name (without [`USER_PREFIX`]).
    pub name: String,
    /// One weight per embedding feature (raw, unstandardised features).
    pub weight: Vec<f32>,
    /// The intercept.
    pub bias: f32,
    /// The probability from which a clip is said to have the tag (best balanced accuracy in
    /// cross-validation; 0.5 without it).
    pub threshold: f32,
    /// How it was learned.
    pub report: HeadReport,
}

/// The model a set of heads was learned on: its one-line summary, and the SHA-256 of its
/// weights as [`ModNet::to_bytes`] writes them (the same weights always give the same bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseModel {
    /// [`ModNet::summary`].
    pub summary: String,
    /// Lower-case hex SHA-256 of the weights bytes.
    pub sha256: String,
}

impl BaseModel {
    /// The identity of `model`. Reads its weights back (synchronously: native backends).
    pub fn of(model: &ModNet) -> Result<Self, ModelError> {
        Ok(Self::of_weights(model.summary(), &model.to_bytes()?))
    }

    /// The identity of a model whose [`ModNet::to_bytes`] are `bytes`.
    pub fn of_weights(summary: String, bytes: &[u8]) -> Self {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(bytes);
        let sha256 = digest.iter().map(|b| format!("{b:02x}")).collect();
        Self { summary, sha256 }
    }

    /// The identity as files store it: `{"summary": …, "sha256": …}`.
    pub(crate) fn to_json(&self) -> String {
        serde_json::json!({"summary": self.summary, "sha256": self.sha256}).to_string()
    }

    /// The identity from [`BaseModel::to_json`]'s text; the error says what is missing.
    pub(crate) fn from_json(text: &str) -> Result<Self, String> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("{e}"))?;
        let field = |key: &str| {
            v.get(key)
                .and_then(serde_json::Value::as_str)
                .map(String::from)
                .ok_or_else(|| format!("has no {key}"))
        };
        Ok(Self {
            summary: field("summary")?,
            sha256: field("sha256")?,
        })
    }

    /// The first 12 hex digits, as sentences show it.
    pub fn short(&self) -> &str {
        &self.sha256[..self.sha256.len().min(12)]
    }
}

/// Heads learned together, for one base model and one embedding layer.
#[derive(Debug, Clone, PartialEq)]
pub struct TagHeads {
    /// The model whose embeddings they read.
    pub base: BaseModel,
    /// The heads, in the order their tags are reported.
    pub heads: Vec<TagHead>,
}

impl TagHeads {
    /// The layer heads read (only the pooled features: they come with the tags' own pass).
    pub const LAYER: EmbeddingLayer = EmbeddingLayer::Pooled;

    /// The tags' names.
    pub fn names(&self) -> Vec<String> {
        self.heads.iter().map(|h| h.name.clone()).collect()
    }

    /// The tags' names as they stand beside the model's ([`USER_PREFIX`]).
    pub fn marked_names(&self) -> Vec<String> {
        self.heads
            .iter()
            .map(|h| format!("{USER_PREFIX}{}", h.name))
            .collect()
    }

    /// Features each head reads.
    pub fn dim(&self) -> usize {
        self.heads.first().map_or(0, |h| h.weight.len())
    }

    /// Heads learned from `examples` (`dim` features a chunk) for `tags`, on the model `base`
    /// whose own tags are `model_tags` (a user's tag may not take one of their names). The
    /// clips of `background` stand in for the counter-examples of a tag that has none, when
    /// the set is `base`'s (another model's is left out: its embeddings mean nothing here).
    pub fn learn(
        base: BaseModel,
        model_tags: &[String],
        examples: &[Example],
        dim: usize,
        tags: &[TagExamples],
        background: Option<&Background>,
    ) -> Result<Self, ModelError> {
        let names: Vec<String> = tags.iter().map(|t| t.name.clone()).collect();
        check_names(&names, model_tags)?;
        let background = background.filter(|b| b.belongs_to(&base));
        Ok(Self {
            heads: learn_heads(examples, dim, tags, background)?,
            base,
        })
    }

    /// Refuses heads that do not belong to the model `base` whose own tags are `model_tags`:
    /// learned on another model, or naming one of its tags.
    pub fn check_for(&self, base: &BaseModel, model_tags: &[String]) -> Result<(), ModelError> {
        self.check_base(base)?;
        check_names(&self.names(), model_tags)
    }

    /// Refuses heads learned on another model than `model` (by identity).
    pub fn check_base(&self, model: &BaseModel) -> Result<(), ModelError> {
        if self.base.sha256 == model.sha256 {
            return Ok(());
        }
        Err(ModelError::Heads(format!(
            "these tags were learned on another model ({}, weights {}) than the one in use ({}, \
             weights {}): a model's embeddings mean nothing to another's heads, so teach the \
             tags again with this model",
            self.base.summary,
            self.base.short(),
            model.summary,
            model.short()
        )))
    }

    /// Each head's probability for each row of `embeddings` (`rows × dim`): `rows × heads`.
    pub fn probabilities(&self, embeddings: &[f32]) -> Vec<f32> {
        let dim = self.dim().max(1);
        let mut out = Vec::with_capacity(embeddings.len() / dim * self.heads.len());
        for row in embeddings.chunks_exact(dim) {
            for head in &self.heads {
                let t: f32 = head.weight.iter().zip(row).map(|(w, x)| w * x).sum();
                out.push(logistic::sigmoid(f64::from(t + head.bias)) as f32);
            }
        }
        out
    }
}

/// Refuses a tag name a table, a file or a person could not tell apart: empty, too long,
/// with control characters or the tables' separators, spaces at its ends, the name of one of
/// the model's tags (`existing`, compared without case), or twice in `names`.
pub fn check_names(names: &[String], existing: &[String]) -> Result<(), ModelError> {
    let bad =
        |name: &str, why: &str| Err(ModelError::Heads(format!("the tag name '{name}' {why}")));
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() {
            return bad(name, "is empty");
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return bad(name, "is longer than 64 characters");
        }
        if name.trim() != name {
            return bad(name, "starts or ends with a space");
        }
        if name
            .chars()
            .any(|c| c.is_control() || matches!(c, ',' | ';' | '"' | '='))
        {
            return bad(
                name,
                "holds a control character or one of , ; \" = (the tables' separators)",
            );
        }
        if let Some(clash) = existing
            .iter()
            .find(|t| t.to_lowercase() == name.to_lowercase())
        {
            return bad(
                name,
                &format!("is the model's own tag '{clash}': name yours differently"),
            );
        }
        if names[..i]
            .iter()
            .any(|n| n.to_lowercase() == name.to_lowercase())
        {
            return bad(name, "is given twice");
        }
    }
    Ok(())
}

impl ModNet {
    /// The tags' probabilities and the pooled embeddings in one pass.
    ///
    /// - input: `[batch, samples]`
    /// - output: `[batch, n_tags]`, `[batch, width₇]`
    pub fn probabilities_and_embeddings(
        &self,
        waveform: Tensor<2>,
    ) -> Result<(Tensor<2>, Tensor<2>), ModelError> {
        self.check_waveform(&waveform)?;
        let features = self.resnet.features(self.frontend.forward(waveform));
        let logits = self.resnet.classify(features.clone());
        Ok((burn::tensor::activation::sigmoid(logits), features))
    }

    /// One batch's probabilities of the model's tags followed by `heads`' tags
    /// (`rows × (n_tags + heads)`, row-major), read back synchronously.
    pub fn batch_probabilities_with(
        &self,
        batch: &ChunkBatch,
        heads: &TagHeads,
        device: &burn::tensor::Device,
    ) -> Result<Vec<f32>, ModelError> {
        let (probabilities, embeddings) =
            self.probabilities_and_embeddings(batch.tensor(device))?;
        let [rows, dim] = embeddings.dims();
        if dim != heads.dim() {
            return Err(ModelError::Shape(format!(
                "the heads read {} features, the model gives {dim}",
                heads.dim()
            )));
        }
        let tags = crate::clip::read_back::values(probabilities)?;
        let user = heads.probabilities(&crate::clip::read_back::values(embeddings)?);
        Ok(join_rows(&tags, &user, rows))
    }
}

/// Row `i` of `a` followed by row `i` of `b`, for every row.
pub fn join_rows(a: &[f32], b: &[f32], rows: usize) -> Vec<f32> {
    let (wa, wb) = (a.len() / rows.max(1), b.len() / rows.max(1));
    let mut out = Vec::with_capacity(a.len() + b.len());
    for i in 0..rows {
        out.extend_from_slice(&a[i * wa..(i + 1) * wa]);
        out.extend_from_slice(&b[i * wb..(i + 1) * wb]);
    }
    out
}
