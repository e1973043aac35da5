//! The paper's evaluation metrics, as scikit-learn computes them: per-tag `roc_auc_score` and
//! `average_precision_score` (step-wise AP, not the trapezoid), averaged over tags ("macro").
//! Ties are grouped at distinct thresholds exactly as sklearn's `_binary_clf_curve` does.

pub use modnet::metrics::{Undefined, average_precision, roc_auc};

/// Per-tag and macro metrics of a set of clips.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TagMetrics {
    /// ROC-AUC per tag (`None` where a tag has only one class in this set).
    pub roc_auc: Vec<Option<f64>>,
    /// Average precision per tag (`None` where a tag has no positive example).
    pub average_precision: Vec<Option<f64>>,
    /// Mean ROC-AUC over the tags where it is defined.
    pub roc_auc_macro: f64,
    /// Mean average precision over the tags where it is defined.
    pub pr_auc_macro: f64,
    /// Tags left out of the macro means (one class only, or too few positives, in this set).
    pub undefined_tags: usize,
}

/// Computes the metrics of `scores` against `labels`, both `n_clips × n_tags` row-major.
pub fn tag_metrics(labels: &[f32], scores: &[f32], n_tags: usize) -> TagMetrics {
    tag_metrics_with(labels, scores, n_tags, 1)
}

/// As [`tag_metrics`], but a tag with fewer than `min_positives` positive clips is left out
/// too (its metrics are noise, e.g. a teacher's tag that is rarely above the threshold).
pub fn tag_metrics_with(
    labels: &[f32],
    scores: &[f32],
    n_tags: usize,
    min_positives: usize,
) -> TagMetrics {
    assert_eq!(
        labels.len(),
        scores.len(),
        "labels and scores differ in size"
    );
    let column = |m: &[f32], t: usize| {
        m.iter()
            .skip(t)
            .step_by(n_tags)
            .copied()
            .collect::<Vec<_>>()
    };
    let mut roc = Vec::with_capacity(n_tags);
    let mut ap = Vec::with_capacity(n_tags);
    for t in 0..n_tags {
        let (y, s) = (column(labels, t), column(scores, t));
        if y.iter().filter(|&&v| v > 0.5).count() < min_positives {
            roc.push(None);
            ap.push(None);
            continue;
        }
        roc.push(roc_auc(&y, &s).ok());
        ap.push(average_precision(&y, &s).ok());
    }
    let mean = |v: &[Option<f64>]| {
        let defined: Vec<f64> = v.iter().flatten().copied().collect();
        if defined.is_empty() {
            f64::NAN
        } else {
            defined.iter().sum::<f64>() / defined.len() as f64
        }
    };
    TagMetrics {
        roc_auc_macro: mean(&roc),
        pr_auc_macro: mean(&ap),
        undefined_tags: roc.iter().filter(|r| r.is_none()).count(),
        roc_auc: roc,
        average_precision: ap,
    }
}
