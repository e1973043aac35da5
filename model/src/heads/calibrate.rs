//! Platt scaling: a head's chunk logits mapped by `σ(scale · logit + shift)`, the two numbers
//! fitted to the out-of-fold logits of the cross-validation. A heavily penalised head (what few
//! examples call for) outputs probabilities bunched around 0.5 however well it ranks; scaled,
//! its probabilities say how sure the cross-validation found it, and a clear example of the tag
//! reads as one. The scaled head is still `σ(w·x + b)`, so the head file is unchanged.

use alloc::vec::Vec;

use super::logistic::{self, Rows, sigmoid};

/// The penalty on the scale: small, so that examples the cross-validation separated cleanly get
/// confident probabilities, yet finite.
const PLATT_L2: f64 = 1e-3;

/// `σ(scale · logit + shift)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// Multiplies the logit (> 0: the ranking is kept).
    pub scale: f64,
    /// Added after.
    pub shift: f64,
}

impl Calibration {
    /// No change.
    pub const IDENTITY: Self = Self {
        scale: 1.0,
        shift: 0.0,
    };

    /// Fitted to each used example's out-of-fold chunk logits (`logits[m]`, example `m` of
    /// `used`), each example weighing as one and the classes equally, as the heads are fitted.
    /// Out-of-fold logits that rank the classes the wrong way keep the identity.
    pub fn fit(logits: &[Vec<f64>], used: &[(usize, bool)]) -> Self {
        let positives = used.iter().filter(|(_, l)| *l).count().max(1) as f64;
        let negatives = used.iter().filter(|(_, l)| !*l).count().max(1) as f64;
        let (mut x, mut y, mut c) = (Vec::new(), Vec::new(), Vec::new());
        for (chunks, &(_, label)) in logits.iter().zip(used) {
            let class = if label { positives } else { negatives };
            for &l in chunks {
                x.push(l);
                y.push(f64::from(u8::from(label)));
                c.push(1.0 / chunks.len() as f64 / class);
            }
        }
        // The fit sees logits of unit spread, so that the penalty means the same whatever the
        // head's own penalty made of their size.
        let total: f64 = c.iter().sum();
        let spread = libm::sqrt(x.iter().zip(&c).map(|(l, w)| w * l * l).sum::<f64>() / total);
        if !(spread > 0.0 && spread.is_finite()) {
            return Self::IDENTITY;
        }
        x.iter_mut().for_each(|l| *l /= spread);
        let rows = Rows {
            x: &x,
            dim: 1,
            y: &y,
            c: &c,
        };
        let fitted = logistic::fit(&rows, PLATT_L2, None);
        if !(fitted.w[0] > 0.0 && fitted.w[0].is_finite() && fitted.b.is_finite()) {
            return Self::IDENTITY;
        }
        Self {
            scale: fitted.w[0] / spread,
            shift: fitted.b,
        }
    }

    /// Each example's clip score: the mean of its chunks' calibrated probabilities.
    pub fn clip_scores(self, logits: &[Vec<f64>]) -> Vec<f64> {
        logits
            .iter()
            .map(|chunks| {
                let sum: f64 = chunks
                    .iter()
                    .map(|&l| sigmoid(self.scale * l + self.shift))
                    .sum();
                sum / chunks.len().max(1) as f64
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// Logits bunched near 0 that rank perfectly are spread out; the ranking is kept.
    #[test]
    fn bunched_logits_that_rank_well_are_spread() {
        let logits = vec![
            vec![0.02, 0.03],
            vec![0.04],
            vec![-0.02],
            vec![-0.03, -0.01],
        ];
        let used = [(0, true), (1, true), (2, false), (3, false)];
        let c = Calibration::fit(&logits, &used);
        assert!(c.scale > 10.0, "{c:?}");
        let scores = c.clip_scores(&logits);
        assert!(scores[0] > 0.7 && scores[1] > 0.7, "{scores:?}");
        assert!(scores[2] < 0.3 && scores[3] < 0.3, "{scores:?}");
    }

    /// Logits that rank the classes backwards are left alone.
    #[test]
    fn backwards_logits_keep_the_identity() {
        let logits = vec![vec![-1.0], vec![1.0]];
        let used = [(0, true), (1, false)];
        assert_eq!(Calibration::fit(&logits, &used), Calibration::IDENTITY);
    }
}
