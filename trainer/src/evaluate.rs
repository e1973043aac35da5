//! The paper's evaluation (Won et al.'s protocol): 16 chunks per clip, mean of the sigmoid
//! outputs, macro ROC-AUC and PR-AUC over the tags. Training's validation uses it too.

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, bail};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use indicatif::ProgressBar;
use modnet::clip::read_back;
use modnet::{ClipTagging, ModNet};

use crate::data::{Clip, cache};
use crate::metrics::{TagMetrics, tag_metrics_with};
use crate::progress::LogLines;
use modnet_audio::backend::run_batches;
use modnet_audio::files::load_weights;

/// Binary cross-entropy on logits, averaged: `max(x,0) − x·y + log(1 + e^−|x|)` (stable, and
/// it takes soft targets).
pub fn bce_with_logits(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    bce_terms(logits, targets).mean()
}

/// [`bce_with_logits`] with each tag's terms scaled by its weight (`weights` `[1, tags]`): a
/// rare tag's errors count more ([`crate::train::tag_weights`]).
pub fn weighted_bce_with_logits(
    logits: Tensor<2>,
    targets: Tensor<2>,
    weights: Tensor<2>,
) -> Tensor<1> {
    let dims = logits.dims();
    (bce_terms(logits, targets) * weights.expand(dims)).mean()
}

/// The elementwise BCE of sigmoid(logits) against targets, computed stably from the logits.
fn bce_terms(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<2> {
    let stable = logits.clone().abs().neg().exp().log1p();
    logits.clone().clamp_min(0.0) - logits * targets + stable
}

/// When a label counts as a positive for ROC-AUC / PR-AUC: hard labels (MTAT) are 0/1; soft
/// labels (a teacher's probabilities) need a stated threshold, and tags with too few positives
/// are left out of the macro means (and counted).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Positives {
    /// A label above this is a positive.
    pub threshold: f32,
    /// Tags with fewer positive clips are left out.
    pub min_count: usize,
}

impl Default for Positives {
    /// Hard labels: above 0.5, at least one positive.
    fn default() -> Self {
        Self {
            threshold: 0.5,
            min_count: 1,
        }
    }
}

/// Scores and metrics of a set of clips.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Evaluation {
    /// Mean BCE over all chunks of all clips, against the labels as given (soft or hard).
    pub loss: f64,
    /// The positive threshold and minimum count used for the metrics.
    pub positives: Positives,
    /// How often the clip's top-scored tag is among its three highest labels (agreement with a
    /// teacher's soft labels; on hard labels, whether the top tag is a true one, roughly).
    pub top1_in_label_top3: f64,
    /// Per-tag and macro metrics.
    pub metrics: TagMetrics,
    /// Names of the clips scored, in order.
    pub clips: Vec<String>,
    /// Clip-level probabilities, `clips × tags` row-major.
    pub scores: Vec<f32>,
    /// Clips that could not be read, with the reason.
    pub skipped: Vec<(String, String)>,
}

/// Evaluates the weights file `weights` on `clips` of a dataset whose vocabulary is `tags`
/// (refused when the weights were trained on other tags).
pub fn evaluate_weights(
    weights: &Path,
    tags: &[String],
    clips: &[Clip],
    cache_dir: Option<&Path>,
    device: &Device,
    positives: Positives,
) -> Result<(ModNet, Evaluation)> {
    let model = load_weights(weights, device)?;
    if model.config().tags != tags {
        bail!(
            "{} was trained on other tags than this dataset's",
            weights.display()
        );
    }
    let bar = ProgressBar::new(clips.len() as u64);
    let eval = evaluate(&model, clips, cache_dir, device, positives, &bar)?;
    bar.finish_and_clear();
    Ok((model, eval))
}

/// Scores `clips` with `model` (inference mode) under the 16-chunk protocol.
pub fn evaluate(
    model: &ModNet,
    clips: &[Clip],
    cache_dir: Option<&Path>,
    device: &Device,
    positives: Positives,
    progress: &ProgressBar,
) -> Result<Evaluation> {
    let config = model.config();
    let n_tags = config.n_tags();
    let (mut labels, mut scores, mut names, mut skipped) = (vec![], vec![], vec![], vec![]);
    let mut soft: Vec<f32> = Vec::new();
    let (mut loss_sum, mut loss_n) = (0.0f64, 0usize);
    let mut lines = LogLines::for_bar(progress, Duration::from_secs(60));
    for clip in clips {
        progress.inc(1);
        if let Some(lines) = lines.as_mut() {
            lines.tick(progress, "evaluating", "clips");
        }
        let samples = match cache::load(clip, cache_dir, config.sample_rate) {
            Ok(s) => s,
            Err(e) => {
                skipped.push((clip.name.clone(), format!("{e:#}")));
                continue;
            }
        };
        // The model crate's clip protocol (evaluation chunks only): logits for the loss against
        // the labels, their sigmoids for the clip's scores.
        let tagging = ClipTagging::new(samples.len(), config.chunk_samples, false)?;
        // One batch's probabilities and summed loss.
        let run = |index: usize| -> Result<(Vec<f32>, f64)> {
            let batch = tagging
                .batch(index, &samples)
                .expect("index below batch_count");
            let logits = model.forward(batch.tensor(device))?;
            let targets =
                Tensor::<1>::from_data(TensorData::new(clip.labels.clone(), [n_tags]), device)
                    .unsqueeze_dim::<2>(0)
                    .repeat_dim(0, batch.rows);
            let loss = bce_with_logits(logits.clone(), targets).into_scalar::<f32>() as f64;
            Ok((
                read_back::values(sigmoid(logits))?,
                loss * batch.rows as f64,
            ))
        };
        let batches = run_batches(device, tagging.batch_count(), run)?;
        let mut probabilities = Vec::with_capacity(batches.len());
        for (p, loss) in batches {
            probabilities.push(p);
            loss_sum += loss;
        }
        loss_n += tagging.total();
        scores.extend(
            tagging
                .finish(probabilities, n_tags, config.sample_rate)?
                .probabilities,
        );
        let threshold = positives.threshold;
        labels.extend(
            clip.labels
                .iter()
                .map(|&l| if l > threshold { 1.0 } else { 0.0 }),
        );
        soft.extend(&clip.labels);
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
    let agree = soft
        .chunks(n_tags)
        .zip(scores.chunks(n_tags))
        .filter(|(label, score)| {
            let best = argsort_desc(score)[0];
            argsort_desc(label)[..3.min(n_tags)].contains(&best)
        })
        .count();
    Ok(Evaluation {
        loss: loss_sum / loss_n as f64,
        positives,
        top1_in_label_top3: agree as f64 / names.len() as f64,
        metrics: tag_metrics_with(&labels, &scores, n_tags, positives.min_count),
        clips: names,
        scores,
        skipped,
    })
}

/// Indices of `v`, largest first.
fn argsort_desc(v: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..v.len()).collect();
    order.sort_by(|&a, &b| v[b].total_cmp(&v[a]));
    order
}
