//! Tagging a decoded signal with the clip protocol, as `trainer tag` does and the Python package
//! (`python/`) calls it: one home for the numbers both report.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use burn::tensor::Device;
use modnet::{ClipTagging, ClipTags, ModNet, TagHeads};

use crate::backend::run_batches;
use crate::signal::Signal;

/// Whether a signal of `samples` gets a timeline: only when it is longer than one chunk (a
/// shorter one would be a single, padded chunk repeating the clip's tags).
pub fn has_timeline(model: &ModNet, samples: usize) -> bool {
    samples > model.config().chunk_samples
}

/// The clip's tags (16-chunk protocol) and, with `with_timeline`, one row per consecutive
/// chunk. On the CPU the clip's batches run side by side, each reading only its chunks. With
/// `heads`, the user's tags follow the model's in every row (the same protocol).
pub fn tag_signal(
    model: &ModNet,
    samples: &Signal,
    with_timeline: bool,
    heads: Option<&TagHeads>,
    device: &Device,
) -> Result<ClipTags> {
    tag_signal_until(
        model,
        samples,
        with_timeline,
        heads,
        device,
        &AtomicBool::new(false),
    )
}

/// The error of work given up because `stop` was set (Ctrl-C in Python).
#[derive(Debug)]
pub struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stopped on request")
    }
}

impl std::error::Error for Stopped {}

/// [`tag_signal`], given up with [`Stopped`] before the next batch once `stop` is set: a long
/// clip can be interrupted within one batch's time.
pub fn tag_signal_until(
    model: &ModNet,
    samples: &Signal,
    with_timeline: bool,
    heads: Option<&TagHeads>,
    device: &Device,
    stop: &AtomicBool,
) -> Result<ClipTags> {
    let config = model.config();
    let tagging = ClipTagging::new(samples.len(), config.chunk_samples, with_timeline)?;
    let batches = run_batches(device, tagging.batch_count(), |i| {
        if stop.load(Ordering::Relaxed) {
            return Err(Stopped.into());
        }
        let batch = tagging
            .read_batch(i, samples)
            .expect("index below batch_count")
            .context("reading the decoded audio back")?;
        Ok(match heads {
            Some(heads) => model.batch_probabilities_with(&batch, heads, device)?,
            None => model.batch_probabilities(&batch, device)?,
        })
    })?;
    let columns = config.n_tags() + heads.map_or(0, |h| h.heads.len());
    let tags = tagging.finish(batches, columns, config.sample_rate)?;
    // Finite weights can still overflow (a file scaled by 1e30): say so rather than print NaN.
    let finite = |p: &[f32]| p.iter().all(|v| v.is_finite());
    if !finite(&tags.probabilities) || !tags.timeline.iter().all(|row| finite(row)) {
        anyhow::bail!(
            "the model's outputs are not finite numbers (NaN or infinite): the weights are \
             damaged or do not belong to this model"
        );
    }
    Ok(tags)
}

/// The indices of the `n` most probable tags, best first.
pub fn top_tags(probabilities: &[f32], n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..probabilities.len()).collect();
    order.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]));
    order.truncate(n);
    order
}
