//! A background set: pooled embeddings of clips of music of many kinds, shipped with a model,
//! that stand in for the counter-examples of a tag taught without any (one tag, a few examples
//! and nothing else): the head then learns "unlike music in general". Beside counter-examples
//! the user gave it is left out: music of the tag's kind in the set teaches against the tag
//! (`scripts/fewshot/results.md` measures both).
//!
//! File: safetensors with `embeddings` `[clips, D]` (float32), and metadata: the format
//! (`modnet.format` = `modnet-background/1`), the model whose embeddings they are
//! (`modnet.background.base`: summary and SHA-256, as head files) and where the clips came
//! from (`modnet.background.source`). `scripts/fewshot/background.py` makes the built-in
//! model's.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use safetensors::Dtype;
use safetensors::tensor::TensorView;

use super::BaseModel;
use crate::error::ModelError;
use crate::weights::{FORMAT_KEY, sorted_header};

/// The format name and version of background files.
pub const BACKGROUND_FORMAT: &str = "modnet-background/1";
const BASE_KEY: &str = "modnet.background.base";
const SOURCE_KEY: &str = "modnet.background.source";

fn error(e: impl core::fmt::Display) -> ModelError {
    ModelError::Heads(format!("not a background file: {e}"))
}

/// Embeddings of clips of no tag in particular, each a counter-example for every tag taught.
#[derive(Debug, Clone, PartialEq)]
pub struct Background {
    /// The model whose embeddings these are.
    pub base: BaseModel,
    /// Features per clip.
    pub dim: usize,
    /// Row-major `clips × dim`: one pooled embedding per clip.
    pub embeddings: Vec<f32>,
    /// Where the clips came from (one line, for reports).
    pub source: String,
}

impl Background {
    /// Clips in the set.
    pub fn clips(&self) -> usize {
        self.embeddings.len() / self.dim.max(1)
    }

    /// The set as a background file in memory (sorted header: the same set, the same bytes).
    pub fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        let data: Vec<u8> = self
            .embeddings
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let view = TensorView::new(Dtype::F32, alloc::vec![self.clips(), self.dim], &data)
            .map_err(error)?;
        let mut metadata = Default::default();
        for (key, value) in [
            (FORMAT_KEY, BACKGROUND_FORMAT.to_string()),
            (BASE_KEY, self.base.to_json()),
            (SOURCE_KEY, self.source.clone()),
        ] {
            super::file::insert(&mut metadata, key, value);
        }
        let bytes = safetensors::serialize([("embeddings".to_string(), view)], Some(metadata))
            .map_err(error)?;
        sorted_header(&bytes)
    }

    /// Reads a background file; every part is checked (a sentence, not a panic).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let file = safetensors::SafeTensors::deserialize(bytes).map_err(error)?;
        let (_, header) = safetensors::SafeTensors::read_metadata(bytes).map_err(error)?;
        let metadata = header.metadata().as_ref();
        let get = |key: &str| {
            metadata
                .and_then(|m| m.get(key))
                .ok_or_else(|| error(format!("it has no {key} metadata")))
        };
        let format = get(FORMAT_KEY)?;
        if format != BACKGROUND_FORMAT {
            return Err(error(format!(
                "its format is '{format}', and this version reads '{BACKGROUND_FORMAT}'"
            )));
        }
        let base =
            BaseModel::from_json(get(BASE_KEY)?).map_err(|e| error(format!("{BASE_KEY} {e}")))?;
        let view = file.tensor("embeddings").map_err(error)?;
        let shape = view.shape().to_vec();
        if view.dtype() != Dtype::F32 || shape.len() != 2 || shape[0] == 0 || shape[1] == 0 {
            return Err(error(format!(
                "its embeddings are {:?} {shape:?}, not float32 [clips, features]",
                view.dtype()
            )));
        }
        let embeddings = super::file::finite_f32s(view.data())
            .ok_or_else(|| error("its embeddings hold NaN or infinity"))?;
        Ok(Self {
            base,
            dim: shape[1],
            embeddings,
            source: get(SOURCE_KEY)?.clone(),
        })
    }

    /// Whether the set holds embeddings of `model` (the same weights).
    pub fn belongs_to(&self, model: &BaseModel) -> bool {
        self.base.sha256 == model.sha256
    }
}
