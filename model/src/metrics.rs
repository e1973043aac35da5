//! Ranking metrics as scikit-learn computes them: `roc_auc_score` and
//! `average_precision_score` (step-wise AP, not the trapezoid) of one tag. Ties are grouped at
//! distinct thresholds exactly as sklearn's `_binary_clf_curve` does. The trainer's evaluation
//! and the user's tags' cross-validation ([`crate::heads`]) both score with these.

use alloc::vec::Vec;

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
