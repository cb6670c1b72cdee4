//! How well an init-time metric $m$ (e.g. log gradient explosion, $\log s^L$, $e^L$) predicts the
//! trained accuracy over a grid of (depth, variance) cells.
//!
//! Three statistics per metric:
//! 1. **Ridge spread**: $\mathrm{sd}(m \text{ on the ridge}) / \mathrm{sd}(m \text{ over all cells})$.
//!    Small means the metric is nearly constant along the ridge, i.e. a level set of $m$ tracks the
//!    optimum across depths.
//! 2. **Peak correlation**: Spearman's $\rho$ between accuracy and $-|m - m^*|$, where $m^*$ is the
//!    median of $m$ along the ridge (high: accuracy falls off with distance from one metric value).
//! 3. **Held-out error**: leave one depth out; fit accuracy as a smooth function of $m$
//!    (Nadaraya-Watson kernel regression, Gaussian kernel, bandwidth chosen by cross-validation on
//!    the training depths) on the other depths and predict the held-out depth's cells. The
//!    statistic is the mean absolute error over all held-out cells. A metric that captures how the
//!    optimum moves with depth transfers across depths; the raw variance does not.

use super::stats;
use super::AnalysisError;
use serde::{Deserialize, Serialize};

/// One grid cell: its depth, mean accuracy and metric value.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Obs {
    pub depth: usize,
    pub accuracy: f64,
    pub metric: f64,
}

/// $\mathrm{sd}(\text{ridge}) / \mathrm{sd}(\text{grid})$ (sample standard deviations).
/// Needs two values of each and a non-constant grid.
pub fn spread_ratio(ridge_values: &[f64], grid_values: &[f64]) -> Result<f64, AnalysisError> {
    let r = stats::sample_sd(ridge_values).ok_or(AnalysisError::TooFew {
        what: "ridge spread",
        need: 2,
        got: ridge_values.len(),
    })?;
    let g = stats::sample_sd(grid_values).ok_or(AnalysisError::TooFew {
        what: "grid spread",
        need: 2,
        got: grid_values.len(),
    })?;
    if g.is_nan() || g <= 0.0 || !r.is_finite() || !g.is_finite() {
        return Err(AnalysisError::Degenerate {
            what: "spread ratio",
            why: "the metric is constant or not finite over the grid",
        });
    }
    Ok(r / g)
}

/// Spearman's $\rho$ between accuracy and $-|m - m^*|$.
pub fn peak_spearman(obs: &[Obs], m_star: f64) -> Result<f64, AnalysisError> {
    let acc: Vec<f64> = obs.iter().map(|o| o.accuracy).collect();
    let closeness: Vec<f64> = obs.iter().map(|o| -(o.metric - m_star).abs()).collect();
    stats::spearman(&acc, &closeness)
}

/// Nadaraya-Watson estimate $\hat y(x) = \sum_i K_h(x - x_i) y_i / \sum_i K_h(x - x_i)$ with the
/// Gaussian kernel $K_h(u) = e^{-u^2/(2h^2)}$, $h > 0$. Computed with the largest exponent
/// factored out, so far from the data it tends to the nearest point's value instead of 0/0.
pub fn nadaraya_watson(xs: &[f64], ys: &[f64], h: f64, x: f64) -> f64 {
    let e: Vec<f64> = xs.iter().map(|xi| -0.5 * ((x - xi) / h).powi(2)).collect();
    let emax = e.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (mut num, mut den) = (0.0, 0.0);
    for (ei, yi) in e.iter().zip(ys) {
        let k = (ei - emax).exp();
        num += k * yi;
        den += k;
    }
    num / den
}

/// Candidate bandwidths, as multiples of the training metric's standard deviation.
pub const BANDWIDTH_FACTORS: [f64; 7] = [0.02, 0.05, 0.1, 0.2, 0.35, 0.6, 1.0];

/// Bandwidth minimizing the cross-validated absolute error on the training set: leave one group
/// (depth) out if there are at least two groups, otherwise leave one point out. Candidates are
/// [`BANDWIDTH_FACTORS`] times the sd of `xs`; `None` if `xs` is constant.
pub fn choose_bandwidth(xs: &[f64], ys: &[f64], groups: &[usize]) -> Option<f64> {
    let sd = stats::sample_sd(xs)?;
    if sd.is_nan() || sd <= 0.0 {
        return None;
    }
    let mut distinct = groups.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let by_group = distinct.len() >= 2;
    let mut best = (f64::INFINITY, sd);
    for f in BANDWIDTH_FACTORS {
        let h = f * sd;
        let mut err = 0.0;
        for i in 0..xs.len() {
            let keep: Vec<usize> =
                (0..xs.len()).filter(|&j| if by_group { groups[j] != groups[i] } else { j != i }).collect();
            if keep.is_empty() {
                continue;
            }
            let tx: Vec<f64> = keep.iter().map(|&j| xs[j]).collect();
            let ty: Vec<f64> = keep.iter().map(|&j| ys[j]).collect();
            err += (nadaraya_watson(&tx, &ty, h, xs[i]) - ys[i]).abs();
        }
        if err < best.0 {
            best = (err, h);
        }
    }
    Some(best.1)
}

/// Leave-one-depth-out result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lodo {
    /// Mean absolute error over all held-out cells.
    pub mae: f64,
    /// (depth, MAE of that depth's cells, bandwidth used).
    pub per_depth: Vec<(usize, f64, f64)>,
    /// The same with a constant predictor (the training cells' mean accuracy), for reference.
    pub baseline_mae: f64,
    pub n: usize,
    /// Absolute error of each cell, in the order of the input.
    pub abs_errors: Vec<f64>,
}

/// Leave-one-depth-out mean absolute error of a kernel regression of accuracy on the metric
/// (see the module documentation). Needs at least two depths; non-finite metric values must have
/// been removed by the caller (see [`score_metric`]).
pub fn lodo_mae(obs: &[Obs]) -> Result<Lodo, AnalysisError> {
    let mut depths: Vec<usize> = obs.iter().map(|o| o.depth).collect();
    depths.sort_unstable();
    depths.dedup();
    if depths.len() < 2 {
        return Err(AnalysisError::TooFew { what: "leave-one-depth-out (depths)", need: 2, got: depths.len() });
    }
    if let Some(o) = obs.iter().find(|o| !o.metric.is_finite() || !o.accuracy.is_finite()) {
        return Err(AnalysisError::Invalid { what: "metric or accuracy", value: o.metric, why: "must be finite" });
    }
    let (mut abs_sum, mut base_sum, mut n) = (0.0, 0.0, 0usize);
    let mut per_depth = Vec::new();
    let mut abs_errors = vec![f64::NAN; obs.len()];
    for &d in &depths {
        let train: Vec<&Obs> = obs.iter().filter(|o| o.depth != d).collect();
        let test: Vec<(usize, &Obs)> = obs.iter().enumerate().filter(|(_, o)| o.depth == d).collect();
        let tx: Vec<f64> = train.iter().map(|o| o.metric).collect();
        let ty: Vec<f64> = train.iter().map(|o| o.accuracy).collect();
        let tg: Vec<usize> = train.iter().map(|o| o.depth).collect();
        let mean = stats::mean(&ty).expect("another depth has cells");
        let h = choose_bandwidth(&tx, &ty, &tg);
        let mut err_d = 0.0;
        for &(i, o) in &test {
            let pred = h.map_or(mean, |h| nadaraya_watson(&tx, &ty, h, o.metric));
            abs_errors[i] = (pred - o.accuracy).abs();
            err_d += abs_errors[i];
            base_sum += (mean - o.accuracy).abs();
        }
        abs_sum += err_d;
        n += test.len();
        per_depth.push((d, err_d / test.len() as f64, h.unwrap_or(f64::NAN)));
    }
    Ok(Lodo { mae: abs_sum / n as f64, per_depth, baseline_mae: base_sum / n as f64, n, abs_errors })
}

/// All statistics of one metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricScore {
    pub name: String,
    /// Median of the metric along the ridge.
    pub m_star: Option<f64>,
    /// See [`spread_ratio`].
    pub spread_ratio: Option<f64>,
    /// See [`peak_spearman`].
    pub spearman: Option<f64>,
    /// See [`lodo_mae`].
    pub lodo: Option<Lodo>,
    /// Cells used (finite metric).
    pub n_used: usize,
    /// Cells left out because the metric is not finite there (e.g. overflow, or an infinite
    /// gradient moment).
    pub n_excluded: usize,
    /// Held-out absolute error of each input cell (`None`: excluded, or no held-out fit).
    pub abs_errors: Vec<Option<f64>>,
}

/// Scores one metric: `obs` are the grid cells, `ridge_values` the metric at the ridge points.
/// Non-finite values are left out (counted in `n_excluded`); statistics that cannot be computed
/// are `None`.
pub fn score_metric(name: &str, obs: &[Obs], ridge_values: &[f64]) -> MetricScore {
    let keep = |o: &Obs| o.metric.is_finite() && o.accuracy.is_finite();
    let used: Vec<Obs> = obs.iter().copied().filter(keep).collect();
    let ridge: Vec<f64> = ridge_values.iter().copied().filter(|v| v.is_finite()).collect();
    let m_star = stats::median(&ridge);
    let grid: Vec<f64> = used.iter().map(|o| o.metric).collect();
    let lodo = lodo_mae(&used).ok();
    let mut abs_errors = vec![None; obs.len()];
    if let Some(l) = &lodo {
        let mut k = 0;
        for (i, o) in obs.iter().enumerate() {
            if keep(o) {
                abs_errors[i] = Some(l.abs_errors[k]);
                k += 1;
            }
        }
    }
    MetricScore {
        name: name.to_string(),
        m_star,
        spread_ratio: spread_ratio(&ridge, &grid).ok(),
        spearman: m_star.and_then(|m| peak_spearman(&used, m).ok()),
        lodo,
        n_used: used.len(),
        n_excluded: obs.len() - used.len(),
        abs_errors,
    }
}

/// Paired comparison of the held-out errors of two metrics scored on the same cells.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Paired {
    /// Cells where both have an error.
    pub n: usize,
    /// Mean of $d_i = |\epsilon^a_i| - |\epsilon^b_i|$ (positive: `a` is worse).
    pub mean_diff: f64,
    /// $t = \bar d / (s_d/\sqrt n)$.
    pub t: f64,
    /// One-sided p-value of "a is worse than b": $1 - F_{n-1}(t)$. The cells of one depth are not
    /// independent, so this is a rough guide, not an exact test.
    pub p_worse: f64,
}

/// Paired t comparison of the per-cell held-out absolute errors of `a` and `b`.
pub fn paired_comparison(a: &MetricScore, b: &MetricScore) -> Result<Paired, AnalysisError> {
    if a.abs_errors.len() != b.abs_errors.len() {
        return Err(AnalysisError::LengthMismatch {
            what: "paired comparison",
            a: a.abs_errors.len(),
            b: b.abs_errors.len(),
        });
    }
    let d: Vec<f64> = a.abs_errors.iter().zip(&b.abs_errors).filter_map(|(x, y)| Some((*x)? - (*y)?)).collect();
    let n = d.len();
    let sd = stats::sample_sd(&d).ok_or(AnalysisError::TooFew { what: "paired comparison", need: 2, got: n })?;
    let mean_diff = stats::mean(&d).expect("n >= 2");
    let (t, p_worse) = if sd > 0.0 {
        let t = mean_diff / (sd / (n as f64).sqrt());
        (t, 1.0 - stats::student_t_cdf(t, (n - 1) as f64)?)
    } else if mean_diff > 0.0 {
        (f64::INFINITY, 0.0)
    } else if mean_diff < 0.0 {
        (f64::NEG_INFINITY, 1.0)
    } else {
        (0.0, 0.5)
    };
    Ok(Paired { n, mean_diff, t, p_worse })
}

/// Index of the metric with the lowest held-out error (ties: the first).
pub fn best_by_lodo(scores: &[MetricScore]) -> Option<usize> {
    scores
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.lodo.as_ref().map(|l| (i, l.mae)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// Index of the metric with the highest peak correlation (ties: the first).
pub fn best_by_spearman(scores: &[MetricScore]) -> Option<usize> {
    scores
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.spearman.map(|r| (i, r)))
        .fold(None, |acc: Option<(usize, f64)>, (i, r)| match acc {
            Some((_, best)) if best >= r => acc,
            _ => Some((i, r)),
        })
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_distr::{Distribution, Normal};

    #[test]
    fn spread_ratio_hand_example() {
        // ridge (1, 3): sd sqrt(2); grid (0, 2, 4, 6): sd sqrt(20/3)
        let r = spread_ratio(&[1.0, 3.0], &[0.0, 2.0, 4.0, 6.0]).unwrap();
        assert!((r - (2.0f64 / (20.0 / 3.0)).sqrt()).abs() < 1e-12);
        assert!(spread_ratio(&[1.0], &[0.0, 1.0]).is_err());
        assert!(spread_ratio(&[1.0, 2.0], &[3.0, 3.0]).is_err());
    }

    #[test]
    fn nadaraya_watson_limits() {
        let xs = [0.0, 1.0, 2.0];
        let ys = [1.0, 3.0, 5.0];
        // symmetric point between two: their average when the third is negligible
        assert!((nadaraya_watson(&xs, &ys, 0.05, 0.5) - 2.0).abs() < 1e-12);
        // tiny bandwidth: nearest neighbour; far away: the nearest end, not NaN
        assert!((nadaraya_watson(&xs, &ys, 1e-3, 1.9) - 5.0).abs() < 1e-12);
        assert!((nadaraya_watson(&xs, &ys, 0.3, 1e6) - 5.0).abs() < 1e-12);
        // huge bandwidth: the mean
        assert!((nadaraya_watson(&xs, &ys, 1e6, 0.7) - 3.0).abs() < 1e-9);
        // constant response
        assert!((nadaraya_watson(&xs, &[0.4; 3], 0.7, 0.3) - 0.4).abs() < 1e-15);
    }

    #[test]
    fn peak_spearman_hand_example() {
        // m* = 2: closeness = -(|0-2|, |1-2|, |2-2|, |3-2|) = (-2, -1, 0, -1); accuracy (0.1, 0.5, 0.9, 0.6)
        // ranks: accuracy (1, 2, 4, 3); closeness (1, 2.5, 4, 2.5): deviations (-1.5,-0.5,1.5,0.5),
        // (-1.5, 0, 1.5, 0): sum prod 4.5, ss 5 and 4.5: rho = 4.5/sqrt(22.5)
        let obs: Vec<Obs> = [(0.0, 0.1), (1.0, 0.5), (2.0, 0.9), (3.0, 0.6)]
            .iter()
            .map(|&(m, a)| Obs { depth: 1, accuracy: a, metric: m })
            .collect();
        let r = peak_spearman(&obs, 2.0).unwrap();
        assert!((r - 4.5 / 22.5f64.sqrt()).abs() < 1e-12, "{r}");
    }

    /// Accuracy depends only on metric A = ln v + ln L (so its optimum moves with depth like the
    /// tanh ridge); B is independent noise. A must beat B, and the raw variance, on every statistic.
    #[test]
    fn metric_that_determines_accuracy_ranks_first() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let noise = Normal::new(0.0, 0.01).unwrap();
        let depths = [4usize, 8, 16, 32, 64];
        let (mut a, mut b, mut lv) = (vec![], vec![], vec![]);
        let (mut ridge_a, mut ridge_b, mut ridge_lv) = (vec![], vec![], vec![]);
        for &l in &depths {
            for i in 0..15 {
                let ln_v = -4.0 + 0.5 * i as f64;
                let ma = ln_v + (l as f64).ln() - 3.0;
                let acc = 0.1 + 0.85 * (-0.5 * ma * ma).exp() + noise.sample(&mut rng);
                let mb: f64 = rng.random_range(-1.0..1.0);
                a.push(Obs { depth: l, accuracy: acc, metric: ma });
                b.push(Obs { depth: l, accuracy: acc, metric: mb });
                lv.push(Obs { depth: l, accuracy: acc, metric: ln_v });
            }
            // the ridge is where ma = 0
            ridge_a.push(0.0);
            ridge_b.push(rng.random_range(-1.0..1.0));
            ridge_lv.push(3.0 - (l as f64).ln());
        }
        let scores = vec![
            score_metric("B", &b, &ridge_b),
            score_metric("A", &a, &ridge_a),
            score_metric("log v", &lv, &ridge_lv),
        ];
        let (sb, sa, sv) = (&scores[0], &scores[1], &scores[2]);
        assert!(sa.spearman.unwrap() > 0.8, "{:?}", sa.spearman);
        assert!(sb.spearman.unwrap().abs() < 0.3, "{:?}", sb.spearman);
        let (ma, mb, mv) =
            (sa.lodo.as_ref().unwrap().mae, sb.lodo.as_ref().unwrap().mae, sv.lodo.as_ref().unwrap().mae);
        eprintln!("held-out MAE: A {ma}, B {mb}, log v {mv}; spearman A {:?} B {:?}", sa.spearman, sb.spearman);
        assert!(ma < 0.03, "A's held-out error {ma} should be near the noise level");
        assert!(ma < 0.5 * mb && ma < 0.5 * mv, "A {ma}, B {mb}, log v {mv}");
        assert!(mb > 0.8 * sb.lodo.as_ref().unwrap().baseline_mae, "noise metric is no better than a constant");
        assert_eq!(sa.spread_ratio, Some(0.0));
        assert!(sv.spread_ratio.unwrap() > 0.5);
        assert_eq!(best_by_lodo(&scores), Some(1));
        assert_eq!(best_by_spearman(&scores), Some(1));
    }

    /// d = (1, 2, 3): mean 2, sd 1, t = 2 sqrt(3), df 2; the t CDF with 2 degrees of freedom is
    /// F(t) = 1/2 + t / (2 sqrt(2 + t^2)) (closed form), so p = 1/2 - sqrt(12) / (2 sqrt(14)).
    #[test]
    fn paired_comparison_hand_example() {
        let mk = |e: Vec<Option<f64>>| MetricScore {
            name: "m".into(),
            m_star: None,
            spread_ratio: None,
            spearman: None,
            lodo: None,
            n_used: 0,
            n_excluded: 0,
            abs_errors: e,
        };
        let a = mk(vec![Some(1.5), Some(2.0), None, Some(3.5)]);
        let b = mk(vec![Some(0.5), Some(0.0), Some(9.0), Some(0.5)]);
        let r = paired_comparison(&a, &b).unwrap();
        assert_eq!(r.n, 3);
        assert!((r.mean_diff - 2.0).abs() < 1e-12 && (r.t - 12f64.sqrt()).abs() < 1e-12);
        let exact = 0.5 - 12f64.sqrt() / (2.0 * 14f64.sqrt());
        assert!((r.p_worse - exact).abs() < 1e-12, "{} vs {exact}", r.p_worse);
        let r = paired_comparison(&b, &a).unwrap();
        assert!((r.p_worse - (1.0 - exact)).abs() < 1e-12);
    }

    #[test]
    fn non_finite_metric_values_are_excluded() {
        let mut obs: Vec<Obs> =
            (0..20).map(|i| Obs { depth: 1 + i % 2, accuracy: 0.5 + 0.01 * i as f64, metric: i as f64 }).collect();
        obs[3].metric = f64::INFINITY;
        obs[4].metric = f64::NAN;
        let s = score_metric("m", &obs, &[2.0, f64::INFINITY, 6.0]);
        assert_eq!((s.n_used, s.n_excluded), (18, 2));
        assert_eq!(s.m_star, Some(4.0));
        assert!(s.lodo.is_some() && s.spearman.is_some());
        assert!(s.abs_errors[3].is_none() && s.abs_errors[4].is_none() && s.abs_errors[5].is_some());
        let one_depth: Vec<Obs> = obs.iter().copied().filter(|o| o.depth == 1 && o.metric.is_finite()).collect();
        assert!(matches!(lodo_mae(&one_depth), Err(AnalysisError::TooFew { .. })));
    }
}
