//! The paper's evaluation (Won et al.'s protocol): 16 chunks per clip, mean of the sigmoid
//! outputs, macro ROC-AUC and PR-AUC over the tags. Training's validation uses it too.

use std::path::Path;

use anyhow::Result;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use indicatif::ProgressBar;
use modnet::{ChunkPlan, EVAL_CHUNKS, ModNet};

use crate::data::{Clip, cache};
use crate::metrics::{TagMetrics, tag_metrics};

/// Binary cross-entropy on logits, averaged: `max(x,0) − x·y + log(1 + e^−|x|)` (stable, and
/// it takes soft targets).
pub fn bce_with_logits(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    let stable = logits.clone().abs().neg().exp().log1p();
    (logits.clone().clamp_min(0.0) - logits * targets + stable).mean()
}

/// Scores and metrics of a set of clips.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Evaluation {
    /// Mean BCE over the clips' chunks.
    pub loss: f64,
    /// Per-tag and macro metrics.
    pub metrics: TagMetrics,
    /// Names of the clips scored, in order.
    pub clips: Vec<String>,
    /// Clip-level probabilities, `clips × tags` row-major.
    pub scores: Vec<f32>,
    /// Clips that could not be read, with the reason.
    pub skipped: Vec<(String, String)>,
}

/// Scores `clips` with `model` (inference mode) under the 16-chunk protocol.
pub fn evaluate(
    model: &ModNet,
    clips: &[Clip],
    cache_dir: Option<&Path>,
    device: &Device,
    progress: &ProgressBar,
) -> Result<Evaluation> {
    let config = model.config();
    let n_tags = config.n_tags();
    let (mut labels, mut scores, mut names, mut skipped) = (vec![], vec![], vec![], vec![]);
    let (mut loss_sum, mut loss_n) = (0.0f64, 0usize);
    for clip in clips {
        progress.inc(1);
        let samples = match cache::load(clip, cache_dir, config.sample_rate as u32) {
            Ok(s) => s,
            Err(e) => {
                skipped.push((clip.name.clone(), format!("{e:#}")));
                continue;
            }
        };
        let plan = ChunkPlan::evaluation(samples.len(), config.chunk_samples, EVAL_CHUNKS)?;
        let logits = model.chunk_logits(&samples, &plan, EVAL_CHUNKS, device)?;
        let targets =
            Tensor::<1>::from_data(TensorData::new(clip.labels.clone(), [n_tags]), device)
                .unsqueeze_dim::<2>(0)
                .repeat_dim(0, plan.len());
        loss_sum += bce_with_logits(logits.clone(), targets).into_scalar::<f32>() as f64;
        loss_n += 1;
        let probs = sigmoid(logits).mean_dim(0);
        scores.extend(
            probs
                .into_data()
                .try_to_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?,
        );
        labels.extend(clip.labels.iter().map(|&l| if l > 0.5 { 1.0 } else { 0.0 }));
        names.push(clip.name.clone());
    }
    if names.is_empty() {
        anyhow::bail!(
            "none of the {} clips could be read (first problem: {})",
            clips.len(),
            skipped
                .first()
                .map_or("no clips given".into(), |(n, e)| format!("{n}: {e}"))
        );
    }
    Ok(Evaluation {
        loss: loss_sum / loss_n as f64,
        metrics: tag_metrics(&labels, &scores, n_tags),
        clips: names,
        scores,
        skipped,
    })
}
