//! The paper's evaluation metrics, as scikit-learn computes them: per-tag `roc_auc_score` and
//! `average_precision_score` (step-wise AP, not the trapezoid), averaged over tags ("macro").
//! Ties are grouped at distinct thresholds exactly as sklearn's `_binary_clf_curve` does.

/// True and false positive counts at each distinct threshold, scores in decreasing order.
fn binary_clf_curve(labels: &[f32], scores: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    // Stable sort on descending score (sklearn uses a stable mergesort on -score).
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tps, mut fps) = (Vec::new(), Vec::new());
    let (mut tp, mut fp) = (0.0f64, 0.0f64);
    for (rank, &i) in order.iter().enumerate() {
        let positive = labels[i] > 0.5;
        if positive {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let last_of_tie = order
            .get(rank + 1)
            .is_none_or(|&next| scores[next] != scores[i]);
        if last_of_tie {
            tps.push(tp);
            fps.push(fp);
        }
    }
    (tps, fps)
}

/// Why a tag has no score: sklearn refuses these cases too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undefined {
    /// Every example is negative (or every one positive): the curve is undefined.
    OneClass,
}

/// ROC-AUC of one tag (labels 0/1; sklearn's `roc_auc_score`).
pub fn roc_auc(labels: &[f32], scores: &[f32]) -> Result<f64, Undefined> {
    let (tps, fps) = binary_clf_curve(labels, scores);
    let (p, n) = (*tps.last().unwrap_or(&0.0), *fps.last().unwrap_or(&0.0));
    if p == 0.0 || n == 0.0 {
        return Err(Undefined::OneClass);
    }
    // Trapezoid over (fpr, tpr) from (0, 0).
    let (mut area, mut x0, mut y0) = (0.0, 0.0, 0.0);
    for (tp, fp) in tps.iter().zip(&fps) {
        let (x, y) = (fp / n, tp / p);
        area += (x - x0) * (y + y0) / 2.0;
        (x0, y0) = (x, y);
    }
    Ok(area)
}

/// Average precision of one tag (sklearn's `average_precision_score`):
/// Σ (Rₙ − Rₙ₋₁)·Pₙ over distinct thresholds.
pub fn average_precision(labels: &[f32], scores: &[f32]) -> Result<f64, Undefined> {
    let (tps, fps) = binary_clf_curve(labels, scores);
    let p = *tps.last().unwrap_or(&0.0);
    if p == 0.0 {
        return Err(Undefined::OneClass);
    }
    let (mut ap, mut last_recall) = (0.0, 0.0);
    for (tp, fp) in tps.iter().zip(&fps) {
        let recall = tp / p;
        let precision = tp / (tp + fp);
        ap += (recall - last_recall) * precision;
        last_recall = recall;
    }
    Ok(ap)
}

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
