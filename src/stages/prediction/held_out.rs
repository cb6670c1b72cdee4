//! Claim C4c's evidence: networks trained at depths the grids never saw ("held-out" depths).
//!
//! For every grid that trained Xavier and He at their true points (an FRN grid over $\sigma_v^2$
//! at $\sigma_w^2 = 1$) and every held-out depth $L$ of the section ([`Config::held_out_depths`]) that
//! the grid does not have, four initializations are trained with every seed of the grid and the
//! grid's settings (width, rate, epochs, data):
//!
//! - **recommended**: the depth-aware recommendation of the mean-field theory at $L$ (the search
//!   of `edge-of-chaos init`, [`Theory::recommend`], with the grid's target metric: the log
//!   gradient explosion for tanh, $\ln p^L$ for ReLU-type activations). Its bound is calibrated on
//!   the grid, never on the held-out depth: the median of the target metric along the grid's
//!   ridge (the best variance per depth) over all the grid's depths;
//! - **grid best**: the best cell's variance at the grid depth nearest to $L$ (in $\ln L$; the
//!   deeper one on a tie), what a practitioner would carry over from the grid;
//! - **Xavier** ($\sigma_w^2 = \sigma_v^2 = 1$) and **He** ($\sigma_w^2 = \sigma_v^2 = 2$) at their
//!   true points.
//!
//! Planning ([`plan`]) is separate from training ([`Trainer`]): the stage trains through the
//! training stage's point cache ([`crate::stages::training::compute::train_runs`]), tests use a
//! closed form.

use super::compute::{hyper_key, Analysis, Axis, GroupResult, Theory, HE_VARIANCE, XAVIER_VARIANCE};
use super::Config;
use crate::architecture::Architecture;
use crate::pipeline::StageError;
use crate::stages::training::TrainingRow;
use serde::Serialize;

/// Trained networks at a depth the grid never saw: one initialization (the recommender's, Xavier,
/// He, or the grid's best variance carried over), all its seeds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HeldOutEval {
    /// The grid (its id) whose recommender and settings were used.
    pub grid: String,
    pub depth: usize,
    pub init: HeldOutInit,
    /// The axis value trained ($\sigma_v^2$; for Xavier and He also $\sigma_w^2$).
    pub variance: f64,
    /// The seeds trained, and the test accuracy of each (`None`: the run failed).
    pub seeds: Vec<u64>,
    pub accuracies: Vec<Option<f64>>,
}

impl HeldOutEval {
    /// Mean accuracy (failures at `fail`) and its standard error $s/\sqrt n$, where $s$ is the
    /// larger of the seeds' own sd and `floor_sd` (with a few seeds their own sd can be near 0 by
    /// chance; a `NaN` floor is no floor, and one seed without a floor gives `NaN`).
    pub fn mean_se(&self, fail: f64, floor_sd: f64) -> (f64, f64) {
        let x: Vec<f64> = self.accuracies.iter().map(|a| a.unwrap_or(fail)).collect();
        let n = x.len() as f64;
        let m = x.iter().sum::<f64>() / n;
        let own = crate::analysis::stats::sample_sd(&x).unwrap_or(f64::NAN);
        let sd = if floor_sd.is_nan() {
            own
        } else if own.is_nan() {
            floor_sd
        } else {
            own.max(floor_sd)
        };
        (m, sd / n.sqrt())
    }
}

/// Which initialization a held-out run used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HeldOutInit {
    Recommended,
    Xavier,
    He,
    /// The best variance of the grid at the nearest trained depth.
    GridBest,
}

impl HeldOutInit {
    /// The four, in the order of the chapter's table.
    pub const ALL: [HeldOutInit; 4] =
        [HeldOutInit::Recommended, HeldOutInit::GridBest, HeldOutInit::Xavier, HeldOutInit::He];
}

/// One run to train: the grid's run `template` (an index into the points) with another depth,
/// weight variances and seed.
#[derive(Clone, Debug, PartialEq)]
pub struct HeldOutRun {
    pub template: usize,
    pub depth: usize,
    pub sw2: f64,
    pub sv2: f64,
    pub seed: u64,
}

/// One planned evaluation: an initialization of a grid at a held-out depth, with a run per seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    pub grid: String,
    pub depth: usize,
    pub init: HeldOutInit,
    pub variance: f64,
    pub runs: Vec<HeldOutRun>,
}

/// Trains held-out runs.
pub trait Trainer {
    /// The test accuracy of each run (`None`: the run failed), in order.
    fn train(&self, runs: &[HeldOutRun]) -> Result<Vec<Option<f64>>, StageError>;
}

/// Whether grid `g` gets held-out evaluations: an FRN grid over $\sigma_v^2$ at $\sigma_w^2 = 1$
/// whose Xavier and He were trained at their true points.
fn eligible(g: &GroupResult) -> bool {
    g.arch == Architecture::Full
        && matches!(g.axis, Axis::Sv2 { .. })
        && g.sw2 == XAVIER_VARIANCE
        && g.true_points.iter().any(|t| t.weight_variance == XAVIER_VARIANCE)
        && g.true_points.iter().any(|t| t.weight_variance == HE_VARIANCE)
}

/// The grid depth nearest to `d` in $\ln L$ (the deeper one on a tie).
fn nearest_depth(depths: &[usize], d: usize) -> Option<usize> {
    let dist = |x: usize| ((x as f64).ln() - (d as f64).ln()).abs();
    depths.iter().copied().min_by(|&a, &b| dist(a).total_cmp(&dist(b)).then(b.cmp(&a)))
}

/// The evaluations of every eligible grid of `a` at each of `cfg.held_out_depths` it lacks, with
/// notes on what could not be planned (a grid without a ridge, a recommendation that failed).
/// `points` are the rows the analysis read (the templates are indices into them).
pub fn plan(a: &Analysis, points: &[TrainingRow], cfg: &Config, theory: &dyn Theory) -> (Vec<Planned>, Vec<String>) {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for g in a.groups.iter().filter(|g| eligible(g)) {
        // the grid's runs at its sigma_w^2 (the template: its first one) and its seeds
        let rows: Vec<usize> =
            (0..points.len()).filter(|&i| hyper_key(&points[i]) == g.hyper && points[i].sw2 == g.sw2).collect();
        let Some(&template) = rows.first() else { continue };
        let mut seeds: Vec<u64> = rows.iter().map(|&i| points[i].seed).collect();
        seeds.sort_unstable();
        seeds.dedup();
        for &d in cfg.held_out_depths.iter().filter(|d| !g.study.depths.contains(d)) {
            let Some(near) = nearest_depth(&g.study.depths, d) else { continue };
            let best = g
                .study
                .cells
                .iter()
                .filter(|c| c.depth == near)
                .max_by(|x, y| x.accuracy.total_cmp(&y.accuracy))
                .map(|c| c.variance);
            let recommended = g.recommender_bound.and_then(|bound| {
                let searched = theory.recommend(&g.base, d, g.recommender_target, bound)?;
                g.axis.axis_of_searched(g.arch, searched, &g.base)
            });
            if recommended.is_none() {
                notes.push(format!(
                    "{} at L = {d}: no recommendation ({})",
                    g.label,
                    if g.recommender_bound.is_none() { "the grid has no ridge point" } else { "the search failed" }
                ));
            }
            let inits = [
                (HeldOutInit::Recommended, recommended.map(|v| (g.sw2, v))),
                (HeldOutInit::GridBest, best.map(|v| (g.sw2, v))),
                (HeldOutInit::Xavier, Some((XAVIER_VARIANCE, XAVIER_VARIANCE))),
                (HeldOutInit::He, Some((HE_VARIANCE, HE_VARIANCE))),
            ];
            for (init, w) in inits {
                let Some((sw2, sv2)) = w else { continue };
                let runs = seeds.iter().map(|&seed| HeldOutRun { template, depth: d, sw2, sv2, seed }).collect();
                out.push(Planned { grid: g.id.clone(), depth: d, init, variance: sv2, runs });
            }
        }
    }
    (out, notes)
}

/// Trains every planned run (in one call, so the trainer can run them in parallel) and collects
/// the accuracies per evaluation.
pub fn evaluate(planned: &[Planned], trainer: &dyn Trainer) -> Result<Vec<HeldOutEval>, StageError> {
    let runs: Vec<HeldOutRun> = planned.iter().flat_map(|p| p.runs.iter().cloned()).collect();
    let acc = trainer.train(&runs)?;
    let mut it = acc.into_iter();
    Ok(planned
        .iter()
        .map(|p| HeldOutEval {
            grid: p.grid.clone(),
            depth: p.depth,
            init: p.init,
            variance: p.variance,
            seeds: p.runs.iter().map(|r| r.seed).collect(),
            accuracies: it.by_ref().take(p.runs.len()).collect(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worked by hand: accuracies (0.9, failed, 0.8) with failures at 0.1 have mean 0.6 and sd
    /// $\sqrt{(0.3^2 + 0.5^2 + 0.2^2)/2} = \sqrt{0.19}$.
    #[test]
    fn mean_se_by_hand() {
        let e = |acc: Vec<Option<f64>>| HeldOutEval {
            grid: "g".into(),
            depth: 3,
            init: HeldOutInit::Xavier,
            variance: 1.0,
            seeds: (0..acc.len() as u64).collect(),
            accuracies: acc,
        };
        let three = e(vec![Some(0.9), None, Some(0.8)]);
        let (m, se) = three.mean_se(0.1, f64::NAN);
        assert!((m - 0.6).abs() < 1e-15 && (se - (0.19f64 / 3.0).sqrt()).abs() < 1e-15, "{m} {se}");
        assert!((three.mean_se(0.1, 0.01).1 - (0.19f64 / 3.0).sqrt()).abs() < 1e-15, "a floor below the own sd");
        assert!((three.mean_se(0.1, 1.0).1 - 1.0 / 3f64.sqrt()).abs() < 1e-15, "a floor above it");
        let one = e(vec![Some(0.9)]);
        assert!(one.mean_se(0.1, f64::NAN).1.is_nan());
        assert_eq!(one.mean_se(0.1, 0.02), (0.9, 0.02));
    }

    #[test]
    fn nearest_depth_is_nearest_in_log_depth() {
        let d = [4, 8, 16, 32, 64];
        assert_eq!(nearest_depth(&d, 24), Some(32)); // ln 24 is nearer ln 32 (0.29) than ln 16 (0.41)
        assert_eq!(nearest_depth(&d, 20), Some(16));
        assert_eq!(nearest_depth(&d, 1000), Some(64));
        assert_eq!(nearest_depth(&[], 20), None);
    }
}
