//! One trained grid (fixed architecture, activation and hyperparameters; depth x variance x
//! seeds) analysed against init-time metrics: ridge, slope, metric spread along the ridge,
//! predictiveness of each metric, and the accuracy of fixed (Xavier, He) and depth-aware
//! initializations relative to the best.
//!
//! The metrics are supplied by the caller as a function of (depth, variance), so this module does
//! not depend on how they are computed (the stage uses the mean-field recurrences).

use super::predictors::{self, MetricScore, Obs};
use super::ridge::{self, Grid, RidgeOptions, RidgePoint, RidgeSlope, Run, SlopeOptions};
use super::AnalysisError;
use serde::{Deserialize, Serialize};

/// The candidate predictors: (key, LaTeX label). Logarithms are natural.
pub const METRICS: [(&str, &str); 5] = [
    ("log_explosion", r"\log(\chi^0/\chi^L)"),
    ("log_chi_w", r"\log(\chi_w^1/\chi_w^L)"),
    ("log_p", r"\log p^L"),
    ("log_s", r"\log s^L"),
    ("e", r"e^L"),
];

/// Init-time metrics of one configuration (natural logarithms; non-finite where undefined).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InitMetrics {
    /// $\log(\chi^0/\chi^L)$: gradient explosion of the activations.
    pub log_explosion: f64,
    /// $\log(\chi_w^1/\chi_w^L)$: ratio of weight-gradient moments of the first and last block.
    pub log_chi_w: f64,
    /// $\log p^L$: log squared length of the output.
    pub log_p: f64,
    /// $\log s^L$: log squared distance between the images of two inputs (metric expressivity).
    pub log_s: f64,
    /// $e^L$: cosine between the images of two inputs (angular expressivity).
    pub e: f64,
}

impl InitMetrics {
    /// The metric named `key` (one of [`METRICS`]).
    pub fn get(&self, key: &str) -> Option<f64> {
        Some(match key {
            "log_explosion" => self.log_explosion,
            "log_chi_w" => self.log_chi_w,
            "log_p" => self.log_p,
            "log_s" => self.log_s,
            "e" => self.e,
            _ => return None,
        })
    }

    /// All metrics NaN (configuration where the theory gives no value).
    pub fn undefined() -> Self {
        Self { log_explosion: f64::NAN, log_chi_w: f64::NAN, log_p: f64::NAN, log_s: f64::NAN, e: f64::NAN }
    }
}

/// Options of [`study`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudyOptions {
    pub ridge: RidgeOptions,
    /// Accuracy assigned to diverged runs.
    pub fail_accuracy: f64,
    /// Keep ridge points at the grid edge in the slope fit and the ridge statistics of the metrics.
    pub include_edge: bool,
    /// Confidence level of the slope interval.
    pub level: f64,
    /// Floor of the per-depth uncertainty in the weighted fit, as a fraction of the grid step in
    /// $\ln v$.
    pub sigma_floor_fraction: f64,
    /// Axis value of the Xavier initialization.
    pub xavier_v: f64,
    /// Axis value of the He initialization.
    pub he_v: f64,
    /// Multiple of the standard error of the difference beyond which an accuracy gap counts.
    pub gap_z: f64,
}

impl Default for StudyOptions {
    fn default() -> Self {
        Self {
            ridge: RidgeOptions::default(),
            fail_accuracy: 0.1,
            include_edge: false,
            level: 0.95,
            sigma_floor_fraction: 0.1,
            xavier_v: 1.0,
            he_v: 2.0,
            gap_z: 2.0,
        }
    }
}

/// One grid cell with its metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellRow {
    pub depth: usize,
    pub variance: f64,
    pub accuracy: f64,
    pub accuracy_sd: Option<f64>,
    pub n: usize,
    pub n_diverged: usize,
    pub metrics: InitMetrics,
}

/// A ridge point with the metrics at its (interpolated) variance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RidgeRow {
    #[serde(flatten)]
    pub point: RidgePoint,
    pub metrics: InitMetrics,
}

/// Accuracy of one initialization at one depth compared with the best cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InitEval {
    pub depth: usize,
    /// Axis value of the initialization.
    pub variance: f64,
    /// Mean accuracy interpolated in $\ln v$ between cells (`None` outside the grid).
    pub accuracy: Option<f64>,
    /// Mean accuracy of the nearest cell and that cell's variance.
    pub nearest_accuracy: f64,
    pub nearest_variance: f64,
    /// Best cell's mean accuracy at this depth.
    pub best_accuracy: f64,
    /// `best_accuracy - accuracy` (or the nearest cell's accuracy outside the grid).
    pub gap: f64,
    /// Standard error of the gap from the pooled seed sd: $s\sqrt{1/n_\text{best} + 1/n_\text{near}}$.
    pub gap_se: Option<f64>,
    /// Whether `gap > gap_z * gap_se` (`None` without a seed-noise estimate).
    pub significant: Option<bool>,
}

/// Everything [`study`] finds for one grid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Study {
    pub depths: Vec<usize>,
    pub variances: Vec<f64>,
    pub n_runs: usize,
    pub n_cells: usize,
    pub n_diverged: usize,
    /// Largest number of seeds in a cell.
    pub max_seeds: usize,
    pub pooled_seed_sd: Option<f64>,
    pub cells: Vec<CellRow>,
    pub ridge: Vec<RidgeRow>,
    /// Depths whose row is flat (no ridge point).
    pub flat_depths: Vec<usize>,
    /// Ordinary least squares of $\ln v^*$ on $\ln L$.
    pub slope: Option<RidgeSlope>,
    /// The same weighted by the ridge uncertainty.
    pub slope_weighted: Option<RidgeSlope>,
    /// Why the slope could not be fitted.
    pub slope_error: Option<String>,
    /// One score per entry of [`METRICS`], in that order.
    pub scores: Vec<MetricScore>,
    /// Reference predictor: $\ln v$ itself (no theory).
    pub baseline_log_v: MetricScore,
    /// Key of the metric with the lowest held-out error / highest peak correlation.
    pub best_by_lodo: Option<String>,
    pub best_by_spearman: Option<String>,
    pub xavier: Vec<InitEval>,
    pub he: Vec<InitEval>,
    /// The depth-aware recommendation evaluated on the grid (when a recommender is given).
    pub recommended: Vec<InitEval>,
}

impl Study {
    pub fn score(&self, key: &str) -> Option<&MetricScore> {
        self.scores.iter().find(|s| s.name == key)
    }

    /// Skill of a score's held-out prediction relative to the constant predictor:
    /// $1 - \mathrm{MAE}/\mathrm{MAE}_\text{const}$.
    pub fn skill(score: &MetricScore) -> Option<f64> {
        score.lodo.as_ref().filter(|l| l.baseline_mae > 0.0).map(|l| 1.0 - l.mae / l.baseline_mae)
    }
}

fn eval_init(grid: &Grid, depth: usize, v: f64, pooled: Option<f64>, z: f64) -> Option<InitEval> {
    let row = grid.row(depth)?;
    let means = row.means();
    let (bi, best) =
        means.iter().copied().enumerate().fold((0, f64::NEG_INFINITY), |a, (i, m)| if m > a.1 { (i, m) } else { a });
    let near = row.nearest(v);
    let accuracy = row.accuracy_at(v);
    let gap = best - accuracy.unwrap_or_else(|| near.mean());
    let gap_se =
        pooled.map(|s| s * (1.0 / row.cells[bi].accuracies.len() as f64 + 1.0 / near.accuracies.len() as f64).sqrt());
    Some(InitEval {
        depth,
        variance: v,
        accuracy,
        nearest_accuracy: near.mean(),
        nearest_variance: near.variance,
        best_accuracy: best,
        gap,
        gap_se,
        significant: gap_se.map(|se| gap > z * se),
    })
}

/// Analyses one grid. `metrics_at(depth, v)` gives the init-time metrics of the configuration at
/// axis value `v`; `recommend(depth)` the theory's recommended axis value, if any.
pub fn study(
    runs: &[Run],
    metrics_at: &dyn Fn(usize, f64) -> InitMetrics,
    recommend: Option<&dyn Fn(usize) -> Option<f64>>,
    opts: &StudyOptions,
) -> Result<Study, AnalysisError> {
    let grid = Grid::from_runs(runs, opts.fail_accuracy)?;
    let cells: Vec<CellRow> = grid
        .cells()
        .map(|(depth, c)| CellRow {
            depth,
            variance: c.variance,
            accuracy: c.mean(),
            accuracy_sd: c.sd(),
            n: c.accuracies.len(),
            n_diverged: c.n_diverged,
            metrics: metrics_at(depth, c.variance),
        })
        .collect();
    let mut variances: Vec<f64> = cells.iter().map(|c| c.variance).collect();
    variances.sort_by(f64::total_cmp);
    variances.dedup_by(|a, b| (*a - *b).abs() <= 1e-9 * a.abs().max(b.abs()));

    let points = ridge::ridge(&grid, &opts.ridge);
    let flat_depths: Vec<usize> = grid.depths().into_iter().filter(|d| !points.iter().any(|p| p.depth == *d)).collect();
    let ridge_rows: Vec<RidgeRow> =
        points.into_iter().map(|p| RidgeRow { metrics: metrics_at(p.depth, p.variance), point: p }).collect();

    let floor = grid.median_log_step().map_or(0.05, |s| (opts.sigma_floor_fraction * s).max(1e-6));
    let pts: Vec<RidgePoint> = ridge_rows.iter().map(|r| r.point.clone()).collect();
    let fit = |weighted| {
        ridge::ridge_slope(
            &pts,
            &SlopeOptions { weighted, include_edge: opts.include_edge, level: opts.level, sigma_floor: floor },
        )
    };
    let (slope, slope_error) = match fit(false) {
        Ok(s) => (Some(s), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let slope_weighted = fit(true).ok();

    // ridge points at the grid edge are censored (the optimum may lie beyond): left out of the
    // ridge statistics unless asked for, as in the slope fit
    let ridge_used: Vec<&RidgeRow> = ridge_rows.iter().filter(|r| opts.include_edge || !r.point.at_edge).collect();
    let obs_of = |f: &dyn Fn(&CellRow) -> f64| -> Vec<Obs> {
        cells.iter().map(|c| Obs { depth: c.depth, accuracy: c.accuracy, metric: f(c) }).collect()
    };
    let scores: Vec<MetricScore> = METRICS
        .iter()
        .map(|(key, _)| {
            let obs = obs_of(&|c| c.metrics.get(key).expect("known key"));
            let on_ridge: Vec<f64> = ridge_used.iter().map(|r| r.metrics.get(key).expect("known key")).collect();
            predictors::score_metric(key, &obs, &on_ridge)
        })
        .collect();
    let baseline_log_v = predictors::score_metric(
        "log_v",
        &obs_of(&|c| c.variance.ln()),
        &ridge_used.iter().map(|r| r.point.log_variance).collect::<Vec<_>>(),
    );
    let best_by_lodo = predictors::best_by_lodo(&scores).map(|i| scores[i].name.clone());
    let best_by_spearman = predictors::best_by_spearman(&scores).map(|i| scores[i].name.clone());

    let pooled = grid.pooled_seed_sd();
    let evals = |v_of: &dyn Fn(usize) -> Option<f64>| -> Vec<InitEval> {
        grid.depths()
            .into_iter()
            .filter_map(|d| v_of(d).and_then(|v| eval_init(&grid, d, v, pooled, opts.gap_z)))
            .collect()
    };
    let xavier = evals(&|_| Some(opts.xavier_v));
    let he = evals(&|_| Some(opts.he_v));
    let recommended = recommend.map(|r| evals(&|d| r(d).filter(|v| *v > 0.0 && v.is_finite()))).unwrap_or_default();

    Ok(Study {
        depths: grid.depths(),
        variances,
        n_runs: runs.len(),
        n_cells: cells.len(),
        n_diverged: grid.cells().map(|(_, c)| c.n_diverged).sum(),
        max_seeds: grid.cells().map(|(_, c)| c.accuracies.len()).max().unwrap_or(0),
        pooled_seed_sd: pooled,
        cells,
        ridge: ridge_rows,
        flat_depths,
        slope,
        slope_weighted,
        slope_error,
        scores,
        baseline_log_v,
        best_by_lodo,
        best_by_spearman,
        xavier,
        he,
        recommended,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    /// A tanh-like synthetic world: accuracy is a bump in u = ln(v L) (true ridge slope -1), the
    /// "explosion" metric is sqrt(v L) (a function of u, so constant on the ridge), the "p" metric
    /// is ln v (depth-blind), e^L is noise.
    fn world(depths: &[usize], seeds: u64) -> Vec<Run> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let noise = Normal::new(0.0, 0.01).unwrap();
        let mut runs = vec![];
        for &l in depths {
            for i in 0..13 {
                let v = 0.05 * 2f64.powf(0.5 * i as f64);
                for seed in 0..seeds {
                    let u = (v * l as f64 / 20.0).ln();
                    let acc = 0.1 + 0.85 * (-0.5 * u * u).exp() + noise.sample(&mut rng);
                    runs.push(Run { depth: l, variance: v, seed, accuracy: acc.clamp(0.0, 1.0), diverged: false });
                }
            }
        }
        runs
    }

    fn metrics(depth: usize, v: f64) -> InitMetrics {
        // a deterministic pseudo-random e^L
        let h = ((depth as f64 * 12.9898 + v.ln() * 78.233).sin() * 43758.5453).fract();
        InitMetrics {
            log_explosion: (v * depth as f64).sqrt(),
            log_chi_w: (v * depth as f64).sqrt() * 0.5,
            log_p: v.ln(),
            log_s: v.ln() + 0.01 * depth as f64,
            e: h,
        }
    }

    #[test]
    fn synthetic_tanh_world_is_read_correctly() {
        let runs = world(&[4, 8, 16, 32], 2);
        let rec = |d: usize| Some(20.0 / d as f64);
        let s = study(&runs, &metrics, Some(&rec), &StudyOptions::default()).unwrap();
        assert_eq!(s.depths, vec![4, 8, 16, 32]);
        assert_eq!((s.n_runs, s.n_cells, s.max_seeds), (4 * 13 * 2, 4 * 13, 2));
        let fit = &s.slope.as_ref().unwrap().fit;
        assert!(fit.ci_contains(-1.0) && !fit.ci_contains(0.0), "{fit:?}");
        let ex = s.score("log_explosion").unwrap();
        assert!(ex.spread_ratio.unwrap() < 0.1, "{:?}", ex.spread_ratio);
        assert!(s.score("log_p").unwrap().spread_ratio.unwrap() > 0.5);
        // log_chi_w is a multiple of log_explosion here, so the two tie
        assert!(matches!(s.best_by_lodo.as_deref(), Some("log_explosion" | "log_chi_w")), "{:?}", s.best_by_lodo);
        let sk_e = Study::skill(s.score("e").unwrap()).unwrap();
        let sk_x = Study::skill(ex).unwrap();
        assert!(sk_x > 0.8 && sk_e < 0.5 * sk_x, "skills: explosion {sk_x}, e {sk_e}");
        // Xavier (v = 1) is far from the optimum 20/L at L = 4 (v* = 5) and L = 32 (v* = 0.625)
        let x4 = s.xavier.iter().find(|e| e.depth == 4).unwrap();
        assert!(x4.gap > 0.2 && x4.significant == Some(true), "{x4:?}");
        // the recommendation sits on the true ridge: gap within noise
        for r in &s.recommended {
            assert!(r.gap < 0.05, "{r:?}");
        }
    }

    #[test]
    fn two_depths_give_no_slope_but_still_scores() {
        let runs = world(&[4, 16], 1);
        let s = study(&runs, &metrics, None, &StudyOptions::default()).unwrap();
        assert!(s.slope.is_none() && s.slope_error.as_deref().unwrap().contains("need at least 3"));
        assert!(s.score("log_explosion").unwrap().lodo.is_some());
        assert_eq!(s.pooled_seed_sd, None);
        assert!(s.xavier.iter().all(|e| e.significant.is_none()));
        assert!(s.recommended.is_empty());
    }
}
