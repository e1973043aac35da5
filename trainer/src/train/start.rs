//! How a run starts: the data checked, the model new (its output biases at the labels' prior
//! when asked) or from `--init-weights`, and each tag's loss weight.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use modnet::{ModNet, ModNetConfig};

use super::settings::TrainSettings;
use crate::data::Dataset;

/// Refuses data a run cannot train on.
pub(super) fn check_data(config: &ModNetConfig, data: &Dataset) -> Result<()> {
    if data.train.is_empty() {
        bail!(
            "{} has no training clips (an evaluation-only set?)",
            data.description
        );
    }
    if data.valid.is_empty() {
        bail!("the dataset has no validation clips: the schedule and the best weights need some");
    }
    if config.tags != data.tags {
        bail!(
            "the model's tags differ from the dataset's ({} vs {})",
            config.n_tags(),
            data.tags.len()
        );
    }
    Ok(())
}

/// The mean of each tag's training labels (its frequency; soft labels count by value).
pub(super) fn label_means(data: &Dataset, tags: usize) -> Vec<f32> {
    let mut means = vec![0.0f32; tags];
    for clip in &data.train {
        means
            .iter_mut()
            .zip(&clip.labels)
            .for_each(|(m, l)| *m += l);
    }
    means
        .iter_mut()
        .for_each(|m| *m /= data.train.len().max(1) as f32);
    means
}

/// The most and the least a tag's loss weight may be ([`tag_weights`]): a tag the training
/// labels almost never hold must not dominate the loss.
const TAG_WEIGHT_RANGE: (f32, f32) = (0.2, 5.0);

/// Each tag's loss weight for frequencies `means`: (mean frequency / the tag's)^`power`,
/// clipped to [`TAG_WEIGHT_RANGE`], then scaled to a mean of 1 (the loss keeps its size, so
/// the learning rate means what it meant). None when `power` is 0.
pub fn tag_weights(means: &[f32], power: f32) -> Option<Vec<f32>> {
    if power == 0.0 || means.is_empty() {
        return None;
    }
    let mean = means.iter().sum::<f32>() / means.len() as f32;
    let (low, high) = TAG_WEIGHT_RANGE;
    let raw: Vec<f32> = means
        .iter()
        .map(|&f| (mean / f.max(1e-6)).powf(power).clamp(low, high))
        .collect();
    let scale = raw.len() as f32 / raw.iter().sum::<f32>();
    Some(raw.into_iter().map(|w| w * scale).collect())
}

/// A new model, its output biases at the training labels' prior when asked.
pub(super) fn initial_model(
    config: &ModNetConfig,
    data: &Dataset,
    settings: &TrainSettings,
    device: &Device,
) -> Result<ModNet> {
    if let Some(path) = &settings.init_weights {
        return init_weights(path, config, device);
    }
    let model = config.init(device)?;
    if !settings.prior_bias {
        return Ok(model);
    }
    Ok(model.with_tag_prior(&label_means(data, config.n_tags()))?)
}

/// The model in the weights file `path`, refused unless its configuration is `config` (the
/// one the flags describe), dropout aside, naming the settings that differ.
fn init_weights(path: &Path, config: &ModNetConfig, device: &Device) -> Result<ModNet> {
    let model = modnet_audio::files::load_weights(path, device)
        .with_context(|| format!("reading --init-weights {}", path.display()))?;
    // Dropout is a training setting, not a weight: the weights go on with the run's dropout.
    let (trained_with, dropout) = (model.config().resnet.dropout, config.resnet.dropout);
    let model = model.with_dropout(dropout)?;
    if model.config() != config {
        let (have, want) = (flat_json(model.config()), flat_json(config));
        // Both sides' keys: a setting of another variant exists on one side only.
        let keys: BTreeSet<&String> = want.keys().chain(have.keys()).collect();
        let differ: Vec<&str> = keys
            .into_iter()
            .filter(|k| have.get(*k) != want.get(*k))
            .map(|k| k.as_str())
            .collect();
        bail!(
            "--init-weights {} holds {}, not the model the flags describe ({}): they differ \
             in {}. Train with the flags the weights were made with",
            path.display(),
            model.summary(),
            config.init(&Device::flex())?.summary(),
            differ.join(", ")
        );
    }
    if trained_with != dropout {
        eprintln!(
            "--init-weights {} was trained with dropout {trained_with}; it goes on with {dropout}",
            path.display()
        );
    }
    eprintln!("starting from the weights in {}", path.display());
    Ok(model)
}

/// A configuration's settings by dotted path (`resnet.widths`), so that a difference can be
/// named where it is.
fn flat_json(config: &ModNetConfig) -> BTreeMap<String, serde_json::Value> {
    fn walk(prefix: &str, value: serde_json::Value, out: &mut BTreeMap<String, serde_json::Value>) {
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            leaf => {
                out.insert(prefix.to_string(), leaf);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(
        "",
        serde_json::to_value(config).unwrap_or_default(),
        &mut out,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::{bce_with_logits, weighted_bce_with_logits};
    use burn::tensor::{Tensor, TensorData};

    #[test]
    fn rare_tags_weigh_more_within_bounds_and_the_mean_stays_one() {
        assert_eq!(tag_weights(&[0.5, 0.01], 0.0), None);
        let means = [0.4, 0.2, 0.1, 0.001, 0.000_001];
        let w = tag_weights(&means, 0.5).unwrap();
        assert!((w.iter().sum::<f32>() / w.len() as f32 - 1.0).abs() < 1e-5);
        assert!(w.windows(2).all(|p| p[0] <= p[1]), "rarer, heavier: {w:?}");
        // The rarest two hit the upper clip: equal, and at most 25× the commonest's weight.
        assert_eq!(w[3], w[4]);
        assert!(w[4] / w[0] <= TAG_WEIGHT_RANGE.1 / TAG_WEIGHT_RANGE.0 + 1e-4);
    }

    #[test]
    fn weighted_loss_scales_each_tags_terms() {
        let device = Device::flex();
        let logits = Tensor::<2>::from_data(
            TensorData::new(vec![2.0f32, -1.0, 0.5, 3.0], [2, 2]),
            &device,
        );
        let targets = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 0.0, 0.2, 0.9], [2, 2]),
            &device,
        );
        let weights = |w: Vec<f32>| Tensor::<2>::from_data(TensorData::new(w, [1, 2]), &device);
        let plain = bce_with_logits(logits.clone(), targets.clone()).into_scalar::<f32>();
        let ones =
            weighted_bce_with_logits(logits.clone(), targets.clone(), weights(vec![1.0, 1.0]));
        assert!((ones.into_scalar::<f32>() - plain).abs() < 1e-6);
        // Only the first tag: twice its share of the plain loss.
        let first = bce_with_logits(
            logits.clone().narrow(1, 0, 1),
            targets.clone().narrow(1, 0, 1),
        )
        .into_scalar::<f32>();
        let only_first = weighted_bce_with_logits(logits, targets, weights(vec![2.0, 0.0]));
        assert!((only_first.into_scalar::<f32>() - first).abs() < 1e-6);
    }
}
