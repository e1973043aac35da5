//! The engine's part in teaching the user's own tags: examples embedded as `trainer teach` embeds
//! files, heads learned by the model crate, and head files checked against the loaded model.

use std::cell::RefCell;
use std::rc::Rc;

use modnet::heads::{Background, Example, TagExamples};
use modnet::{BaseModel, ChunkPlan, EmbeddingLayer, ModNet, TagHeads};

use super::{Engine, model_of, read};
use crate::messages::HeadsInfo;

/// The pooled embeddings of a clip's timeline chunks (`chunks × dim`, row-major).
pub(super) async fn embed(
    engine: &Rc<RefCell<Engine>>,
    samples: &[f32],
) -> Result<Vec<f32>, String> {
    let (model, device) = model_of(engine)?;
    modnet::clip::protocol::check_samples(samples).map_err(|e| e.to_string())?;
    let plan = ChunkPlan::timeline(samples.len(), model.config().chunk_samples)
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for i in 0..plan.batch_count() {
        let batch = plan.batch(i, samples).ok_or("no chunk to embed")?;
        let e = model
            .embed(batch.tensor(&device), EmbeddingLayer::Pooled)
            .map_err(|e| e.to_string())?;
        out.extend(read(e).await?);
    }
    Ok(out)
}

/// The loaded model and its identity.
fn model_and_base(engine: &Rc<RefCell<Engine>>) -> Result<(ModNet, BaseModel), String> {
    let (model, _) = model_of(engine)?;
    let base = engine
        .borrow()
        .base
        .clone()
        .ok_or("no model is loaded yet")?;
    Ok((model, base))
}

/// Heads learned from embedded examples, as a head file; the clips of `background` (a background
/// set file) stand in for the counter-examples of a tag without any, when it is the loaded
/// model's.
pub(super) fn learn(
    engine: &Rc<RefCell<Engine>>,
    examples: Vec<Vec<f32>>,
    tags: Vec<(String, Vec<Option<bool>>)>,
    background: Option<&[u8]>,
) -> Result<Vec<u8>, String> {
    let (model, base) = model_and_base(engine)?;
    let background = background
        .map(Background::from_bytes)
        .transpose()
        .map_err(|e| format!("the built-in model's background set: {e}"))?;
    let examples: Vec<Example> = examples
        .into_iter()
        .map(|chunks| Example { chunks })
        .collect();
    let tags: Vec<TagExamples> = tags
        .into_iter()
        .map(|(name, labels)| TagExamples { name, labels })
        .collect();
    TagHeads::learn(
        base,
        &model.config().tags,
        &examples,
        model.pooled_width(),
        &tags,
        background.as_ref(),
    )
    .and_then(|heads| heads.to_bytes())
    .map_err(|e| e.to_string())
}

/// Takes heads (a head file's bytes) for the user's tags, checked against the model, or drops
/// them (`None`).
pub(super) fn use_heads(
    engine: &Rc<RefCell<Engine>>,
    name: String,
    bytes: Option<Vec<u8>>,
) -> Result<Option<HeadsInfo>, String> {
    let Some(bytes) = bytes else {
        engine.borrow_mut().heads = None;
        return Ok(None);
    };
    let (model, base) = model_and_base(engine)?;
    let heads = TagHeads::from_bytes(&bytes)
        .and_then(|heads| heads.check_for(&base, &model.config().tags).map(|()| heads))
        .map_err(|e| format!("{name}: {e}"))?;
    let info = HeadsInfo {
        name,
        tags: heads.names(),
        thresholds: heads.heads.iter().map(|h| h.threshold).collect(),
        cv_roc_auc: heads.heads.iter().map(|h| h.report.cv_roc_auc).collect(),
        warnings: heads
            .heads
            .iter()
            .map(|h| h.report.warnings.clone())
            .collect(),
        file: bytes,
    };
    engine.borrow_mut().heads = Some(heads);
    Ok(Some(info))
}
