//! Learning the user's tags from Python's arguments: audio (`Tagger.teach`) or embeddings
//! already computed (`Tagger.learn_heads`), both through the model crate's `TagHeads::learn`
//! with the GIL released.

use burn::tensor::Device;
use modnet::heads::{Example, TagExamples};
use modnet::{BaseModel, ModNet, TagHeads};
use numpy::{PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::TaggingError;
use crate::heads::Heads;
use crate::input::Audio;

/// [`crate::tagger::Tagger::teach`]: each item of `examples` (tag → audio) and `negatives`
/// embedded, unreadable ones skipped with a Python warning, the heads learned.
pub(crate) fn teach(
    model: &ModNet,
    device: &Device,
    py: Python<'_>,
    examples: &Bound<'_, PyDict>,
    negatives: Option<&Bound<'_, PyAny>>,
    sample_rate: Option<&Bound<'_, PyAny>>,
    background: bool,
) -> PyResult<Heads> {
    let mut audio = Vec::new();
    let mut owners: Vec<Option<usize>> = Vec::new();
    let mut names = Vec::new();
    for (t, (name, items)) in examples.iter().enumerate() {
        names.push(name.extract::<String>()?);
        for item in items.try_iter()? {
            audio.push(Audio::from_py(&item?, sample_rate)?);
            owners.push(Some(t));
        }
    }
    if let Some(negatives) = negatives.filter(|n| !n.is_none()) {
        for item in negatives.try_iter()? {
            audio.push(Audio::from_py(&item?, sample_rate)?);
            owners.push(None);
        }
    }
    modnet::heads::check_names(&names, &model.config().tags)
        .map_err(|e| TaggingError::new_err(e.to_string()))?;
    let rate = model.config().sample_rate;
    let embedded: Vec<anyhow::Result<Example>> = py.detach(|| {
        audio
            .iter()
            .map(|a| {
                a.signal(rate)
                    .and_then(|s| modnet_audio::heads::embed_example(model, &s, device))
                    .map_err(|e| anyhow::anyhow!("{}: {e:#}", a.name()))
            })
            .collect()
    });
    let (mut kept, mut owners_kept, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    for (result, owner) in embedded.into_iter().zip(owners) {
        match result {
            Ok(example) => {
                kept.push(example);
                owners_kept.push(owner);
            }
            Err(e) => skipped.push(format!("{e:#}")),
        }
    }
    if !skipped.is_empty() {
        let warnings = py.import("warnings")?;
        warnings.call_method1(
            "warn",
            (format!(
                "skipped {} examples that cannot be read: {}",
                skipped.len(),
                skipped.join("; ")
            ),),
        )?;
    }
    let tags: Vec<TagExamples> = names
        .into_iter()
        .enumerate()
        .map(|(t, name)| TagExamples {
            name,
            labels: owners_kept.iter().map(|o| Some(*o == Some(t))).collect(),
        })
        .collect();
    learn(model, py, kept, tags, background)
}

/// [`crate::tagger::Tagger::learn_heads`]: heads from embeddings and labels.
pub(crate) fn learn_heads(
    model: &ModNet,
    py: Python<'_>,
    embeddings: &Bound<'_, PyAny>,
    labels: &Bound<'_, PyDict>,
    background: bool,
) -> PyResult<Heads> {
    let (examples, tags) = examples_from_py(embeddings, labels, model.pooled_width())?;
    learn(model, py, examples, tags, background)
}

/// Heads for `examples` and `tags` on the tagger's model, learned with the GIL released (the
/// model's background set standing in for a tag without counter-examples, when asked and the
/// model has one).
fn learn(
    model: &ModNet,
    py: Python<'_>,
    examples: Vec<Example>,
    tags: Vec<TagExamples>,
    background: bool,
) -> PyResult<Heads> {
    py.detach(|| {
        let base = BaseModel::of(model)?;
        let set = match background {
            true => modnet_audio::heads::background_for(&base)?,
            false => None,
        };
        Ok::<_, anyhow::Error>(TagHeads::learn(
            base,
            &model.config().tags,
            &examples,
            model.pooled_width(),
            &tags,
            set.as_ref(),
        )?)
    })
    .map(|heads| Heads { heads })
    .map_err(|e| TaggingError::new_err(format!("{e:#}")))
}

/// `Tagger.learn_heads`' arguments as examples and labels: `embeddings` a list of `[chunks, D]`
/// (or `[D]`) arrays, `labels` tag → one of True / False / None per example.
pub(crate) fn examples_from_py(
    embeddings: &Bound<'_, PyAny>,
    labels: &Bound<'_, PyDict>,
    dim: usize,
) -> PyResult<(Vec<Example>, Vec<TagExamples>)> {
    let np = embeddings.py().import("numpy")?;
    let mut examples = Vec::new();
    for (i, item) in embeddings.try_iter()?.enumerate() {
        let array = np.call_method1("ascontiguousarray", (item?, "float32"))?;
        let array = np.call_method1("atleast_2d", (array,))?;
        let array: PyReadonlyArray2<'_, f32> = array.extract().map_err(|_| {
            TaggingError::new_err(format!(
                "embeddings[{i}] is not a [chunks, {dim}] or [{dim}] array"
            ))
        })?;
        if array.shape()[1] != dim || array.shape()[0] == 0 {
            return Err(TaggingError::new_err(format!(
                "embeddings[{i}] is {:?}; this model's pooled embeddings have {dim} features",
                array.shape()
            )));
        }
        examples.push(Example {
            chunks: array.as_slice()?.to_vec(),
        });
    }
    let mut tags = Vec::new();
    for (name, values) in labels.iter() {
        let name: String = name.extract()?;
        let values: Vec<Option<bool>> = values.extract().map_err(|_| {
            TaggingError::new_err(format!(
                "labels['{name}'] must be a list of True, False or None, one per example"
            ))
        })?;
        if values.len() != examples.len() {
            return Err(TaggingError::new_err(format!(
                "labels['{name}'] has {} entries for {} examples",
                values.len(),
                examples.len()
            )));
        }
        tags.push(TagExamples {
            name,
            labels: values,
        });
    }
    Ok((examples, tags))
}
