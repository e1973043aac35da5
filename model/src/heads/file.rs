//! Head files: safetensors (readable from Python with `safetensors` and numpy) holding
//! `weight` `[heads, D]`, `bias` `[heads]` and `threshold` `[heads]` (float32), with metadata:
//! the format (`modnet.format` = `modnet-heads/1`), the tag names (`modnet.heads.tags`, JSON),
//! the layer (`modnet.heads.layer`), the base model (`modnet.heads.base`: summary and SHA-256)
//! and how each head was learned (`modnet.heads.training`, JSON). The header is sorted: the
//! same heads make the same bytes.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use safetensors::Dtype;
use safetensors::tensor::TensorView;
use serde_json::{Value, json};

use super::{BaseModel, HeadReport, TagHead, TagHeads};
use crate::error::ModelError;
use crate::weights::{FORMAT_KEY, sorted_header};

/// The format name and version of head files.
pub const HEADS_FORMAT: &str = "modnet-heads/1";
const TAGS_KEY: &str = "modnet.heads.tags";
const LAYER_KEY: &str = "modnet.heads.layer";
const BASE_KEY: &str = "modnet.heads.base";
const TRAINING_KEY: &str = "modnet.heads.training";

fn error(e: impl core::fmt::Display) -> ModelError {
    ModelError::Heads(format!("not a head file: {e}"))
}

fn view(shape: Vec<usize>, data: &[u8]) -> Result<TensorView<'_>, ModelError> {
    TensorView::new(Dtype::F32, shape, data).map_err(error)
}

fn f32_bytes(values: impl Iterator<Item = f32>) -> Vec<u8> {
    values.flat_map(f32::to_le_bytes).collect()
}

impl TagHeads {
    /// The heads as a head file in memory.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        let (rows, dim) = (self.heads.len(), self.dim());
        let weight = f32_bytes(self.heads.iter().flat_map(|h| h.weight.iter().copied()));
        let bias = f32_bytes(self.heads.iter().map(|h| h.bias));
        let threshold = f32_bytes(self.heads.iter().map(|h| h.threshold));
        let tensors = [
            ("weight".to_string(), view(alloc::vec![rows, dim], &weight)?),
            ("bias".to_string(), view(alloc::vec![rows], &bias)?),
            (
                "threshold".to_string(),
                view(alloc::vec![rows], &threshold)?,
            ),
        ];
        let training: Vec<Value> = self.heads.iter().map(|h| report_json(&h.report)).collect();
        let mut metadata = Default::default();
        for (key, value) in [
            (FORMAT_KEY, HEADS_FORMAT.to_string()),
            (TAGS_KEY, json!(self.names()).to_string()),
            (LAYER_KEY, Self::LAYER.name().to_string()),
            (BASE_KEY, self.base.to_json()),
            (TRAINING_KEY, Value::Array(training).to_string()),
        ] {
            insert(&mut metadata, key, value);
        }
        let bytes = safetensors::serialize(tensors, Some(metadata)).map_err(error)?;
        sorted_header(&bytes)
    }

    /// Reads a head file; every part is checked, so a damaged file gets a sentence, not a panic.
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
        if format != HEADS_FORMAT {
            return Err(error(format!(
                "its format is '{format}', and this version reads '{HEADS_FORMAT}' (a weights \
                 file is given with --weights, heads with --heads)"
            )));
        }
        let layer = get(LAYER_KEY)?;
        if layer != Self::LAYER.name() {
            return Err(error(format!(
                "its heads read the '{layer}' layer; this version reads heads on '{}' only",
                Self::LAYER.name()
            )));
        }
        let names: Vec<String> = serde_json::from_str(get(TAGS_KEY)?)
            .map_err(|e| error(format!("{TAGS_KEY} is not a list of names ({e})")))?;
        let base =
            BaseModel::from_json(get(BASE_KEY)?).map_err(|e| error(format!("{BASE_KEY} {e}")))?;
        let training: Vec<Value> = serde_json::from_str(get(TRAINING_KEY)?).map_err(error)?;
        let rows = names.len();
        let weight = floats(&file, "weight", rows, None)?;
        let dim = weight.len() / rows.max(1);
        let bias = floats(&file, "bias", rows, Some(1))?;
        let threshold = floats(&file, "threshold", rows, Some(1))?;
        if rows == 0 || dim == 0 || training.len() != rows {
            return Err(error(format!(
                "{rows} tag names, {dim} features and {} training reports do not make heads",
                training.len()
            )));
        }
        super::check_names(&names, &[])?;
        let heads = names
            .into_iter()
            .enumerate()
            .map(|(i, name)| TagHead {
                name,
                weight: weight[i * dim..(i + 1) * dim].to_vec(),
                bias: bias[i],
                threshold: threshold[i],
                report: report_from_json(&training[i]),
            })
            .collect();
        Ok(Self { base, heads })
    }
}

pub(super) fn insert<M: Extend<(String, String)>>(map: &mut M, key: &str, value: String) {
    map.extend([(key.to_string(), value)]);
}

/// The float32 tensor `name` with `rows` rows (and `cols` columns when given), all finite.
fn floats(
    file: &safetensors::SafeTensors,
    name: &str,
    rows: usize,
    cols: Option<usize>,
) -> Result<Vec<f32>, ModelError> {
    let view = file.tensor(name).map_err(error)?;
    let shape = view.shape();
    let fits = match cols {
        Some(1) => shape == [rows],
        _ => shape.len() == 2 && shape[0] == rows,
    };
    if view.dtype() != Dtype::F32 || !fits {
        return Err(error(format!(
            "the tensor {name} is {:?} {shape:?}, not float32 with {rows} rows",
            view.dtype()
        )));
    }
    finite_f32s(view.data())
        .ok_or_else(|| error(format!("the tensor {name} holds NaN or infinity")))
}

/// Little-endian float32 values, or `None` when one is NaN or infinite.
pub(super) fn finite_f32s(data: &[u8]) -> Option<Vec<f32>> {
    let values: Vec<f32> = data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    values.iter().all(|v| v.is_finite()).then_some(values)
}

fn report_json(r: &HeadReport) -> Value {
    json!({
        "examples": r.examples,
        "counter_examples": r.counter_examples,
        "background": r.background,
        "folds": r.folds,
        "cv_roc_auc": r.cv_roc_auc,
        "l2": r.l2,
        "warnings": r.warnings,
    })
}

/// What a file says of a head's training; a part it lacks reads as zero or none (the report
/// is information, the weights are what count).
fn report_from_json(v: &Value) -> HeadReport {
    let count = |key: &str| v.get(key).and_then(Value::as_u64).unwrap_or(0) as usize;
    HeadReport {
        examples: count("examples"),
        counter_examples: count("counter_examples"),
        background: count("background"),
        folds: count("folds"),
        cv_roc_auc: v.get("cv_roc_auc").and_then(Value::as_f64),
        l2: v.get("l2").and_then(Value::as_f64).unwrap_or(0.0),
        warnings: v
            .get("warnings")
            .and_then(Value::as_array)
            .map(|w| {
                w.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
    }
}
