//! Many tests at once: the Holm-Bonferroni step-down procedure, which controls the family-wise
//! error rate (the chance of one or more false rejections among $m$ tests) at $\alpha$ under any
//! dependence between the tests.
//!
//! Sort the p-values $p_{(1)} \le \dots \le p_{(m)}$. Reject $H_{(1)}, \dots, H_{(k)}$ where $k$ is
//! the largest index with $p_{(j)} \le \alpha/(m - j + 1)$ for every $j \le k$ (stop at the first
//! failure). Equivalently, the adjusted p-values
//! $\tilde p_{(j)} = \min\big(1, \max_{i \le j} (m - i + 1)\,p_{(i)}\big)$ are compared with $\alpha$.

use super::AnalysisError;
use serde::{Deserialize, Serialize};

/// The outcome of [`holm`], in the input's order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Holm {
    pub alpha: f64,
    /// Holm-adjusted p-values.
    pub adjusted: Vec<f64>,
    /// Whether each hypothesis is rejected ($\tilde p \le \alpha$).
    pub rejected: Vec<bool>,
}

impl Holm {
    /// Number of rejected hypotheses.
    pub fn n_rejected(&self) -> usize {
        self.rejected.iter().filter(|r| **r).count()
    }
}

/// The Holm-Bonferroni procedure on `p` at level `alpha` (see the module documentation). Needs
/// $0 < \alpha < 1$ and every p-value in $[0, 1]$.
pub fn holm(p: &[f64], alpha: f64) -> Result<Holm, AnalysisError> {
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(AnalysisError::Invalid { what: "alpha", value: alpha, why: "need 0 < alpha < 1" });
    }
    if let Some(&bad) = p.iter().find(|x| !(0.0..=1.0).contains(*x)) {
        return Err(AnalysisError::Invalid { what: "p-value", value: bad, why: "need 0 <= p <= 1" });
    }
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (j, &i) in order.iter().enumerate() {
        running = running.max(((m - j) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    let rejected = adjusted.iter().map(|a| *a <= alpha).collect();
    Ok(Holm { alpha, adjusted, rejected })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worked by hand: m = 5, alpha = 0.05, p = (0.01, 0.04, 0.03, 0.005, 0.2).
    /// Sorted: 0.005 (k=1, threshold 0.05/5 = 0.01: reject), 0.01 (0.05/4 = 0.0125: reject),
    /// 0.03 (0.05/3 = 0.0167: stop). Adjusted: 5 x 0.005 = 0.025, max(0.025, 4 x 0.01) = 0.04,
    /// max(0.04, 3 x 0.03) = 0.09, max(0.09, 2 x 0.04) = 0.09, max(0.09, 0.2) = 0.2.
    #[test]
    fn holm_by_hand() {
        let h = holm(&[0.01, 0.04, 0.03, 0.005, 0.2], 0.05).unwrap();
        assert_eq!(h.rejected, vec![true, false, false, true, false]);
        let want = [0.04, 0.09, 0.09, 0.025, 0.2];
        for (a, w) in h.adjusted.iter().zip(want) {
            assert!((a - w).abs() < 1e-12, "{a} vs {w}");
        }
        assert_eq!(h.n_rejected(), 2);
    }

    /// One small p-value among many: Bonferroni's bound for the smallest (m p <= alpha) decides it;
    /// 24 tests with the smallest at 0.0026 (a 3.05-sigma two-sided normal tail, roughly) survive
    /// only if 24 x 0.0026 = 0.0624 <= alpha, which it is not at 0.05.
    #[test]
    fn single_exceedance_among_many() {
        let mut p = vec![0.5; 24];
        p[7] = 0.0026;
        let h = holm(&p, 0.05).unwrap();
        assert_eq!(h.n_rejected(), 0);
        assert!((h.adjusted[7] - 0.0624).abs() < 1e-12);
        p[7] = 0.001;
        assert!(holm(&p, 0.05).unwrap().rejected[7]);
        assert!(holm(&[0.1, 1.5], 0.05).is_err());
        assert!(holm(&[0.1], 0.0).is_err());
        assert_eq!(holm(&[], 0.05).unwrap().n_rejected(), 0);
    }
}
