//! Learning tag heads from examples: class-balanced logistic regression with an L2 penalty on
//! standardised embeddings, the penalty and the decision threshold chosen by cross-validation
//! over whole examples (no chunk of a held-out example is ever seen by its fold's fit).

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::background::Background;
use super::calibrate::Calibration;
use super::logistic::{self, Logistic, Rows};
use super::{HeadReport, TagHead};
use crate::error::ModelError;
use crate::metrics::roc_auc;

/// One example (a file, a clip): its chunks' embeddings, `chunks × dim` row-major. A head scores
/// an example as the clip protocol does: the mean of its chunks' probabilities.
#[derive(Debug, Clone)]
pub struct Example {
    /// Row-major `chunks × dim`.
    pub chunks: Vec<f32>,
}

/// What one tag is to learn: per example, whether it has the tag (`Some(true)`), is a
/// counter-example (`Some(false)`), or is not used (`None`).
#[derive(Debug, Clone)]
pub struct TagExamples {
    /// The tag's name.
    pub name: String,
    /// One entry per example, in the order of the examples.
    pub labels: Vec<Option<bool>>,
}

/// The L2 penalties tried (on standardised features; the loss is a weighted mean). The large
/// ones matter with few examples: as the penalty grows the weights turn towards the difference
/// of the two classes' mean embeddings (a prototype classifier), which the few-shot benchmark
/// found best at 5–10 examples; smaller ones win with more (scripts/fewshot/results.md).
pub const PENALTIES: [f64; 5] = [0.1, 1.0, 10.0, 100.0, 1000.0];
/// Cross-validated ROC-AUCs this close count as equal when the penalty is chosen.
pub const SAME_AUC: f64 = 0.01;
/// The penalty used when there are too few examples to cross-validate.
pub const DEFAULT_PENALTY: f64 = 10.0;
/// Folds of the cross-validation (fewer when a class has fewer examples).
pub const FOLDS: usize = 5;
/// Fewer examples of a class than this gets a warning: the report's ROC-AUC is a rough guide.
pub const FEW_EXAMPLES: usize = 5;

/// Learns one head per tag from `examples` (`dim` features each); for a tag with no
/// counter-examples of its own, every clip of `background` (when given) is one.
pub fn learn_heads(
    examples: &[Example],
    dim: usize,
    tags: &[TagExamples],
    background: Option<&Background>,
) -> Result<Vec<TagHead>, ModelError> {
    if let Some(b) = background.filter(|b| b.dim != dim) {
        return Err(ModelError::Shape(format!(
            "the background set has {} features a clip and the examples {dim}",
            b.dim
        )));
    }
    if dim == 0 {
        return Err(ModelError::Shape("embeddings of zero features".into()));
    }
    for (i, e) in examples.iter().enumerate() {
        if e.chunks.is_empty() || e.chunks.len() % dim != 0 {
            return Err(ModelError::Shape(format!(
                "example {i} has {} values, not a whole number of {dim}-feature chunks",
                e.chunks.len()
            )));
        }
        if e.chunks.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::NonFinite);
        }
    }
    let own = examples.len();
    // The examples are copied beside the background's clips only when a tag will use them.
    let lacks_counter = |t: &TagExamples| !t.labels.contains(&Some(false));
    let all: Cow<'_, [Example]> = match background {
        Some(b) if tags.iter().any(lacks_counter) => {
            let mut all = examples.to_vec();
            all.extend(b.embeddings.chunks_exact(dim).map(|row| Example {
                chunks: row.to_vec(),
            }));
            Cow::Owned(all)
        }
        _ => Cow::Borrowed(examples),
    };
    tags.iter()
        .map(|tag| learn_head(&all, own, dim, tag))
        .collect()
}

/// One head from `examples`, of which those from `own` on are the background set's.
fn learn_head(
    examples: &[Example],
    own: usize,
    dim: usize,
    tag: &TagExamples,
) -> Result<TagHead, ModelError> {
    if tag.labels.len() != own {
        return Err(ModelError::Shape(format!(
            "{}: {} labels for {own} examples",
            tag.name,
            tag.labels.len(),
        )));
    }
    let negatives = tag.labels.iter().filter(|l| **l == Some(false)).count();
    // The background stands in only for a tag without counter-examples of its own: music of
    // the tag's kind in it would teach the head against the tag (the few-shot benchmark's
    // techno lost 0.12 ROC-AUC with it beside ten counter-examples).
    let background = if negatives == 0 {
        examples.len() - own
    } else {
        0
    };
    let used: Vec<(usize, bool)> = tag
        .labels
        .iter()
        .copied()
        .chain(core::iter::repeat_n(Some(false), background))
        .enumerate()
        .filter_map(|(i, l)| l.map(|l| (i, l)))
        .collect();
    let positives = used.iter().filter(|(_, l)| *l).count();
    if positives == 0 {
        return Err(ModelError::Heads(format!(
            "the tag '{}' has no examples",
            tag.name
        )));
    }
    if negatives + background == 0 {
        return Err(ModelError::Heads(format!(
            "the tag '{}' has no counter-examples: give some, or teach two tags or more (each \
             tag's examples are then the others' counter-examples); the built-in model's \
             background set would stand in, but these embeddings are another model's",
            tag.name
        )));
    }
    let scaling = Scaling::of(examples, &used, dim);
    let mut warnings = Vec::new();
    if background > 0 {
        warnings.push(format!(
            "no counter-examples of its own: learned against the model's background set \
             ({background} clips of many kinds of music), so music of this kind in it counts \
             against the tag; counter-examples of your own do better"
        ));
    }
    if positives < FEW_EXAMPLES || negatives + background < FEW_EXAMPLES {
        warnings.push(format!(
            "only {positives} examples and {negatives} counter-examples: the head is a rough \
             guess and its cross-validated ROC-AUC is noisy (10 of each or more is better)"
        ));
    }
    let folds = FOLDS.min(positives).min(negatives + background);
    let (l2, cv_roc_auc, threshold, calibration) = if folds >= 2 {
        let assignment = fold_of(&used, folds);
        let labels: Vec<f32> = used.iter().map(|(_, l)| f32::from(u8::from(*l))).collect();
        let tried: Vec<(f64, f64, Vec<Vec<f64>>)> = PENALTIES
            .iter()
            .map(|&l2| {
                let logits = out_of_fold(examples, &scaling, &used, &assignment, folds, l2);
                let scores = Calibration::IDENTITY.clip_scores(&logits);
                let scores32: Vec<f32> = scores.iter().map(|&s| s as f32).collect();
                (l2, roc_auc(&labels, &scores32).unwrap_or(0.5), logits)
            })
            .collect();
        // The largest penalty within SAME_AUC of the best: a few examples' cross-validation
        // cannot tell closer heads apart, and the smoother head generalised better.
        let top = tried.iter().fold(0.0f64, |m, t| m.max(t.1));
        let (l2, auc, logits) = tried
            .into_iter()
            .rev()
            .find(|t| t.1 >= top - SAME_AUC)
            .expect("PENALTIES is not empty");
        // Probabilities scaled to what the cross-validation found; the threshold on those.
        let calibration = Calibration::fit(&logits, &used);
        let threshold = best_threshold(&used, &calibration.clip_scores(&logits));
        (l2, Some(auc), threshold, calibration)
    } else {
        warnings.push(String::from(
            "too few examples to cross-validate: no ROC-AUC, threshold 0.5",
        ));
        (DEFAULT_PENALTY, None, 0.5, Calibration::IDENTITY)
    };
    let all: Vec<usize> = (0..used.len()).collect();
    let fitted = fit_on(examples, &scaling, &used, &all, l2);
    let (weight, bias) = scaling.unscale(&fitted);
    let (weight, bias) = calibrated(weight, bias, calibration);
    Ok(TagHead {
        name: tag.name.clone(),
        weight,
        bias,
        threshold: threshold as f32,
        report: HeadReport {
            examples: positives,
            counter_examples: negatives,
            background,
            folds: if folds >= 2 { folds } else { 0 },
            cv_roc_auc,
            l2,
            warnings,
        },
    })
}

/// The mean and spread of each feature over the used examples' chunks (each example weighing
/// as one): the fit runs on standardised features; the head stores weights on raw ones.
struct Scaling {
    mean: Vec<f64>,
    scale: Vec<f64>,
    dim: usize,
}

impl Scaling {
    fn of(examples: &[Example], used: &[(usize, bool)], dim: usize) -> Self {
        let (mut mean, mut square) = (vec![0.0; dim], vec![0.0; dim]);
        for &(i, _) in used {
            let chunks = &examples[i].chunks;
            let weight = 1.0 / (chunks.len() / dim) as f64 / used.len() as f64;
            for row in chunks.chunks_exact(dim) {
                for (k, &v) in row.iter().enumerate() {
                    mean[k] += weight * f64::from(v);
                    square[k] += weight * f64::from(v) * f64::from(v);
                }
            }
        }
        let scale = mean
            .iter()
            .zip(&square)
            .map(|(m, s)| {
                let sd = libm::sqrt((s - m * m).max(0.0));
                // A constant feature (a dead ReLU) stays at 0 rather than dividing by 0.
                if sd > 1e-6 { sd } else { 1.0 }
            })
            .collect();
        Self { mean, scale, dim }
    }

    fn row(&self, raw: &[f32], out: &mut Vec<f64>) {
        out.extend(
            raw.iter()
                .enumerate()
                .map(|(k, &v)| (f64::from(v) - self.mean[k]) / self.scale[k]),
        );
    }

    /// The fit's weights on raw features: `w·(x − m)/s + b = (w/s)·x + (b − Σ w·m/s)`.
    fn unscale(&self, model: &Logistic) -> (Vec<f32>, f32) {
        let weight: Vec<f64> = model
            .w
            .iter()
            .zip(&self.scale)
            .map(|(w, s)| w / s)
            .collect();
        let shift: f64 = weight.iter().zip(&self.mean).map(|(w, m)| w * m).sum();
        (
            weight.iter().map(|&w| w as f32).collect(),
            (model.b - shift) as f32,
        )
    }
}

/// Fits on the used examples at positions `members`: every chunk a row, each example weighing
/// as one, the classes weighing equally.
fn fit_on(
    examples: &[Example],
    scaling: &Scaling,
    used: &[(usize, bool)],
    members: &[usize],
    l2: f64,
) -> Logistic {
    let dim = scaling.dim;
    let positives = members.iter().filter(|&&m| used[m].1).count().max(1) as f64;
    let negatives = members.iter().filter(|&&m| !used[m].1).count().max(1) as f64;
    let (mut x, mut y, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for &m in members {
        let (i, label) = used[m];
        let chunks = &examples[i].chunks;
        let count = (chunks.len() / dim) as f64;
        let class = if label { positives } else { negatives };
        for row in chunks.chunks_exact(dim) {
            scaling.row(row, &mut x);
            y.push(f64::from(u8::from(label)));
            c.push(1.0 / count / class);
        }
    }
    let rows = Rows {
        x: &x,
        dim,
        y: &y,
        c: &c,
    };
    logistic::fit(&rows, l2, None)
}

/// Each used example's fold: the classes dealt out separately (stratified), in a fixed
/// shuffled order so that examples listed by folder do not fall into folds by folder.
fn fold_of(used: &[(usize, bool)], folds: usize) -> Vec<usize> {
    let mut assignment = vec![0; used.len()];
    for class in [true, false] {
        let mut members: Vec<usize> = (0..used.len()).filter(|&m| used[m].1 == class).collect();
        // Fisher–Yates with a fixed LCG: the same examples always give the same folds.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for k in (1..members.len()).rev() {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let j = ((state >> 33) as usize) % (k + 1);
            members.swap(k, j);
        }
        for (rank, m) in members.into_iter().enumerate() {
            assignment[m] = rank % folds;
        }
    }
    assignment
}

/// Each used example's chunk logits from the fit that did not see it.
fn out_of_fold(
    examples: &[Example],
    scaling: &Scaling,
    used: &[(usize, bool)],
    assignment: &[usize],
    folds: usize,
    l2: f64,
) -> Vec<Vec<f64>> {
    let mut logits = vec![Vec::new(); used.len()];
    let mut row = Vec::with_capacity(scaling.dim);
    for fold in 0..folds {
        let train: Vec<usize> = (0..used.len()).filter(|&m| assignment[m] != fold).collect();
        let model = fit_on(examples, scaling, used, &train, l2);
        for m in (0..used.len()).filter(|&m| assignment[m] == fold) {
            for raw in examples[used[m].0].chunks.chunks_exact(scaling.dim) {
                row.clear();
                scaling.row(raw, &mut row);
                logits[m].push(model.logit(&row));
            }
        }
    }
    logits
}

/// A head's raw weights and bias with its calibration folded in.
fn calibrated(weight: Vec<f32>, bias: f32, c: Calibration) -> (Vec<f32>, f32) {
    (
        weight
            .iter()
            .map(|&w| (f64::from(w) * c.scale) as f32)
            .collect(),
        (f64::from(bias) * c.scale + c.shift) as f32,
    )
}

/// The threshold with the best balanced accuracy on the out-of-fold scores (midway between two
/// neighbouring scores), so that "has the tag" means the same for rare and common tags.
fn best_threshold(used: &[(usize, bool)], scores: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let positives = used.iter().filter(|(_, l)| *l).count() as f64;
    let negatives = used.len() as f64 - positives;
    // Everything above the cut is called positive; start with the cut below every score.
    let (mut true_positives, mut true_negatives) = (positives, 0.0);
    let mut best = (
        0.5 * (true_positives / positives + true_negatives / negatives),
        0.0,
    );
    for (rank, &m) in order.iter().enumerate() {
        if used[m].1 {
            true_positives -= 1.0;
        } else {
            true_negatives += 1.0;
        }
        let next = order.get(rank + 1).map(|&n| scores[n]);
        if next == Some(scores[m]) {
            continue; // a cut between tied scores does not exist
        }
        let balanced = 0.5 * (true_positives / positives + true_negatives / negatives);
        let cut = next.map_or(1.0, |n| 0.5 * (scores[m] + n));
        if balanced > best.0 {
            best = (balanced, cut);
        }
    }
    best.1.clamp(1e-6, 1.0 - 1e-6)
}
