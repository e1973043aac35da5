//! Weighted logistic regression with an L2 penalty, fitted by Newton's method: the user's tag
//! heads are this model on standardised embeddings. With a few hundred rows of ~128 features the
//! exact Hessian is cheap, and Newton converges in a handful of steps where gradient descent
//! would need a learning rate and hundreds.

use alloc::vec;
use alloc::vec::Vec;

/// Rows to fit: `x` is `rows × dim` row-major, `y` 0/1, `c` each row's weight (> 0).
pub struct Rows<'a> {
    /// The features, `rows × dim`.
    pub x: &'a [f64],
    /// Feature count.
    pub dim: usize,
    /// Labels, 0 or 1.
    pub y: &'a [f64],
    /// Row weights.
    pub c: &'a [f64],
}

/// A fitted model: `p = σ(w·x + b)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Logistic {
    /// One weight per feature.
    pub w: Vec<f64>,
    /// The intercept (not penalised).
    pub b: f64,
}

/// The logistic function, without overflow for large |t|.
pub fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + libm::exp(-t))
    } else {
        let e = libm::exp(t);
        e / (1.0 + e)
    }
}

impl Logistic {
    /// The probability of one row.
    pub fn probability(&self, row: &[f64]) -> f64 {
        sigmoid(self.logit(row))
    }

    /// The logit of one row.
    pub fn logit(&self, row: &[f64]) -> f64 {
        dot(&self.w, row) + self.b
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Mean weighted cross-entropy plus `l2/2·|w|²` (the objective Newton minimises).
fn objective(rows: &Rows, model: &Logistic, l2: f64) -> f64 {
    let total: f64 = rows.c.iter().sum();
    let mut loss = 0.0;
    for (i, row) in rows.x.chunks_exact(rows.dim).enumerate() {
        let t = dot(&model.w, row) + model.b;
        // log(1 + e^t) − y·t, stable for both signs.
        let softplus = if t > 0.0 {
            t + libm::log1p(libm::exp(-t))
        } else {
            libm::log1p(libm::exp(t))
        };
        loss += rows.c[i] * (softplus - rows.y[i] * t);
    }
    loss / total + 0.5 * l2 * dot(&model.w, &model.w)
}

/// Fits the model, starting from `start` (a previous fit warm-starts the next penalty).
pub fn fit(rows: &Rows, l2: f64, start: Option<Logistic>) -> Logistic {
    let d = rows.dim;
    let n = d + 1; // the intercept is the last parameter
    let total: f64 = rows.c.iter().sum();
    let mut model = start.unwrap_or(Logistic {
        w: vec![0.0; d],
        b: 0.0,
    });
    let mut current = objective(rows, &model, l2);
    for _ in 0..50 {
        let mut gradient = vec![0.0; n];
        let mut hessian = vec![0.0; n * n];
        for (i, row) in rows.x.chunks_exact(d).enumerate() {
            let p = model.probability(row);
            let (r, s) = (rows.c[i] * (p - rows.y[i]), rows.c[i] * p * (1.0 - p));
            for a in 0..n {
                let xa = if a < d { row[a] } else { 1.0 };
                gradient[a] += r * xa;
                if s == 0.0 {
                    continue;
                }
                let sa = s * xa;
                // Upper triangle only; mirrored below.
                for b in a..n {
                    let xb = if b < d { row[b] } else { 1.0 };
                    hessian[a * n + b] += sa * xb;
                }
            }
        }
        for a in 0..n {
            gradient[a] /= total;
            for b in a..n {
                hessian[a * n + b] /= total;
                hessian[b * n + a] = hessian[a * n + b];
            }
            if a < d {
                gradient[a] += l2 * model.w[a];
                hessian[a * n + a] += l2;
            } else {
                // A whisker of ridge on the intercept: one-class folds stay solvable.
                hessian[a * n + a] += 1e-9;
            }
        }
        let Some(step) = solve_cholesky(&mut hessian, &gradient, n) else {
            break;
        };
        // Halve the step until the objective does not rise (Newton can overshoot far out).
        let mut scale = 1.0;
        let mut accepted = false;
        for _ in 0..30 {
            let next = Logistic {
                w: model
                    .w
                    .iter()
                    .zip(&step)
                    .map(|(w, s)| w - scale * s)
                    .collect(),
                b: model.b - scale * step[d],
            };
            let value = objective(rows, &next, l2);
            if value <= current + 1e-15 {
                model = next;
                current = value;
                accepted = true;
                break;
            }
            scale *= 0.5;
        }
        let largest = step.iter().fold(0.0f64, |m, s| m.max(s.abs())) * scale;
        if !accepted || largest < 1e-8 {
            break;
        }
    }
    model
}

/// Solves `a·x = b` for a symmetric positive definite `a` (`n × n`, overwritten by its Cholesky
/// factor); `None` when it is not positive definite.
fn solve_cholesky(a: &mut [f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    for j in 0..n {
        let mut diagonal = a[j * n + j];
        for k in 0..j {
            diagonal -= a[j * n + k] * a[j * n + k];
        }
        if diagonal <= 0.0 || !diagonal.is_finite() {
            return None;
        }
        let root = libm::sqrt(diagonal);
        a[j * n + j] = root;
        for i in j + 1..n {
            let mut value = a[i * n + j];
            for k in 0..j {
                value -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = value / root;
        }
    }
    // L·z = b, then Lᵀ·x = z.
    let mut z = b.to_vec();
    for i in 0..n {
        for k in 0..i {
            z[i] -= a[i * n + k] * z[k];
        }
        z[i] /= a[i * n + i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            z[i] -= a[k * n + i] * z[k];
        }
        z[i] /= a[i * n + i];
    }
    Some(z)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At the optimum the penalised gradient is zero: checked by central differences of the
    /// objective, on rows that are not separable.
    #[test]
    fn newton_reaches_the_minimum_of_the_penalised_loss() {
        let (dim, rows) = (3, 40);
        let mut state = 12345u64;
        let mut noise = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as f64 / (1u64 << 31) as f64) - 0.5
        };
        let x: Vec<f64> = (0..rows * dim).map(|_| noise() * 4.0).collect();
        let y: Vec<f64> = x
            .chunks(dim)
            .map(|r| f64::from(r[0] - 0.5 * r[1] + noise() > 0.0))
            .collect();
        let c: Vec<f64> = (0..rows).map(|i| 1.0 + (i % 3) as f64).collect();
        let data = Rows {
            x: &x,
            dim,
            y: &y,
            c: &c,
        };
        let l2 = 0.05;
        let model = fit(&data, l2, None);
        assert!(model.w[0] > 0.5 && model.w[1] < 0.0, "{model:?}");
        let h = 1e-5;
        for k in 0..=dim {
            let shifted = |delta: f64| {
                let mut m = model.clone();
                if k < dim {
                    m.w[k] += delta;
                } else {
                    m.b += delta;
                }
                objective(&data, &m, l2)
            };
            let slope = (shifted(h) - shifted(-h)) / (2.0 * h);
            assert!(slope.abs() < 1e-6, "parameter {k}: slope {slope}");
        }
    }

    /// Separable rows stay finite (the penalty bounds the weights) and are ranked right.
    #[test]
    fn separable_rows_get_finite_weights() {
        let x = [0.0, 1.0, 2.0, 3.0];
        let y = [0.0, 0.0, 1.0, 1.0];
        let c = [1.0; 4];
        let data = Rows {
            x: &x,
            dim: 1,
            y: &y,
            c: &c,
        };
        let model = fit(&data, 0.01, None);
        assert!(model.w[0].is_finite() && model.w[0] > 1.0, "{model:?}");
        assert!(model.probability(&[0.0]) < 0.5 && model.probability(&[3.0]) > 0.5);
    }
}
