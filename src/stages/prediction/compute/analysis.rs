//! The analysis of the trained grids: the points grouped into grids, and per grid the
//! init-time metrics of every cell, the accuracy ridge and its slope, the predictiveness of each
//! metric, the Xavier / He / recommended initializations against the best, and the divergence
//! boundary (all computed by [`crate::analysis::study`] from the [`Theory`]).

use super::axis::{theory_metric, Axis, AxisError};
use super::theory::{InitConfig, Target, Theory};
use crate::activation::{Activation, ActivationError};
use crate::analysis::predictors;
use crate::analysis::ridge::{RidgeOptions, Run};
use crate::analysis::stats;
use crate::analysis::study::{self, InitMetrics, Study, StudyOptions};
use crate::analysis::AnalysisError;
use crate::architecture::Architecture;
use crate::stages::prediction::Config;
use crate::stages::training::TrainingRow;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Why a grid could not be analysed (it is listed as skipped with this reason).
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error(transparent)]
    Activation(#[from] ActivationError),
    #[error(transparent)]
    Axis(#[from] AxisError),
    #[error(transparent)]
    Study(#[from] AnalysisError),
}

/// One analysed grid.
#[derive(Clone, Debug, Serialize)]
pub struct GroupResult {
    /// Slug used in figure names, e.g. `full-tanh`.
    pub id: String,
    /// Human label, e.g. `FRN tanh`.
    pub label: String,
    pub arch: Architecture,
    pub act: Activation,
    pub axis: Axis,
    pub base: InitConfig,
    pub hyper: Value,
    pub study: Study,
    /// The metric recommended by the theory for this activation and the bound used by the
    /// recommender at each depth (the median of the metric on the ridge at the other depths).
    pub theory_metric: String,
    pub recommender_target: Target,
    pub recommender_bounds: Vec<(usize, f64)>,
    /// Where training starts to fail at each depth (see [`divergence_boundary`]).
    pub boundary: Vec<BoundaryPoint>,
    /// Spread ratio of $\log p^L$ along the boundary (and of $\ln v$, for reference).
    pub boundary_spread_log_p: Option<f64>,
    pub boundary_spread_log_v: Option<f64>,
}

/// The onset of divergence at one depth.
#[derive(Clone, Debug, Serialize)]
pub struct BoundaryPoint {
    pub depth: usize,
    /// Largest variance below the boundary where some seed trained, and the first variance
    /// above it where every seed diverged (and every larger one too).
    pub v_below: f64,
    pub v_above: f64,
    /// Geometric midpoint $\sqrt{v_\text{below} v_\text{above}}$ and the metrics there.
    pub variance: f64,
    pub metrics: InitMetrics,
}

/// Per depth, the boundary between variances where training ran and the range above it where
/// every run diverged; `None` at depths with no such range (or where everything diverged).
pub fn divergence_boundary(s: &Study) -> Vec<(usize, f64, f64)> {
    s.depths
        .iter()
        .filter_map(|&d| {
            let row: Vec<&study::CellRow> = s.cells.iter().filter(|c| c.depth == d).collect();
            let all_div = |c: &&study::CellRow| c.n_diverged == c.n;
            // first index k such that every cell from k on fully diverged
            let k = row.iter().rposition(|c| !all_div(c)).map(|i| i + 1)?;
            (k < row.len()).then(|| (d, row[k - 1].variance, row[k].variance))
        })
        .collect()
}

/// Everything the stage computed.
#[derive(Clone, Debug, Serialize)]
pub struct Analysis {
    pub p0: f64,
    pub e0: f64,
    pub groups: Vec<GroupResult>,
    /// Groups that could not be analysed, with the reason.
    pub skipped: Vec<(String, String)>,
}

fn group_label(arch: Architecture, act: &Activation) -> (String, String) {
    let (id_act, label_act) = match act {
        Activation::AlphaRelu { alpha } => {
            (format!("alpha-relu-{}", format!("{alpha}").replace('.', "p")), format!("α-ReLU (α = {alpha})"))
        }
        Activation::Relu => ("relu".into(), "ReLU".into()),
        other => (other.kind().into(), other.kind().into()),
    };
    (format!("{}-{}", arch.name(), id_act), format!("{} {}", arch.short(), label_act))
}

/// Groups the points by everything except depth, weight variances and seed. The key (also the
/// grid's `hyper` in the summary) writes `epochs` and `train_subset` as reals, as it always has.
pub fn group_points(points: &[TrainingRow]) -> Vec<(Value, Vec<&TrainingRow>)> {
    let mut groups: BTreeMap<String, (Value, Vec<&TrainingRow>)> = BTreeMap::new();
    for p in points {
        let key = json!({
            "arch": p.arch, "act": p.act, "alpha": p.alpha, "width": p.width, "sb2": p.sb2, "sa2": p.sa2,
            "lr": p.lr, "batch": p.batch, "epochs": p.epochs as f64, "train_subset": p.train_subset as f64,
        });
        groups.entry(key.to_string()).or_insert_with(|| (key, Vec::new())).1.push(p);
    }
    groups.into_values().collect()
}

/// Analyses every grid of `points` with the theory `theory` at input moments `p0`, `e0`.
pub fn analyze(points: &[TrainingRow], p0: f64, e0: f64, cfg: &Config, theory: &dyn Theory) -> Analysis {
    let mut groups = Vec::new();
    let mut skipped = Vec::new();
    let mut used_ids: Vec<String> = Vec::new();
    for (hyper, pts) in group_points(points) {
        match analyze_group(&hyper, &pts, p0, e0, cfg, theory) {
            Ok(mut g) => {
                let mut id = g.id.clone();
                let mut k = 2;
                while used_ids.contains(&id) {
                    id = format!("{}-{k}", g.id);
                    k += 1;
                }
                if id != g.id {
                    g.label = format!("{} (grid {})", g.label, k - 1);
                }
                g.id = id.clone();
                used_ids.push(id);
                groups.push(g);
            }
            Err(why) => skipped.push((hyper.to_string(), why.to_string())),
        }
    }
    Analysis { p0, e0, groups, skipped }
}

fn analyze_group(
    hyper: &Value,
    pts: &[&TrainingRow],
    p0: f64,
    e0: f64,
    cfg: &Config,
    theory: &dyn Theory,
) -> Result<GroupResult, GroupError> {
    let first = pts[0];
    let arch = first.arch;
    let act = first.act.with_alpha(first.alpha)?;
    let axis = Axis::detect(pts)?;
    let base = InitConfig { arch, act, sw2: first.sw2, sv2: first.sv2, sb2: first.sb2, sa2: first.sa2, p0, e0 };
    let at = |v: f64| {
        let (sw2, sv2) = axis.weights(v);
        InitConfig { sw2, sv2, ..base }
    };
    let runs: Vec<Run> = pts
        .iter()
        .map(|p| Run {
            depth: p.depth,
            variance: axis.value(p.sw2, p.sv2),
            seed: p.seed,
            accuracy: p.test_acc.unwrap_or(f64::NAN),
            diverged: p.diverged,
        })
        .collect();
    let mut depths: Vec<usize> = runs.iter().map(|r| r.depth).collect();
    depths.sort_unstable();
    depths.dedup();
    let mut vs: Vec<f64> = runs.iter().map(|r| r.variance).collect();
    vs.sort_by(f64::total_cmp);
    vs.dedup_by(|a, b| (*a - *b).abs() <= 1e-9 * a.abs().max(b.abs()));

    // Metrics of every cell: one recurrence per variance, sampled at every depth.
    let cell_metrics: Vec<(f64, Vec<InitMetrics>)> =
        vs.par_iter().map(|&v| (v, theory.metrics(&at(v), &depths))).collect();
    let lookup = |depth: usize, v: f64| -> InitMetrics {
        let near = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs());
        if let (Some((_, ms)), Some(k)) =
            (cell_metrics.iter().find(|(x, _)| near(*x, v)), depths.iter().position(|d| *d == depth))
        {
            return ms[k];
        }
        theory.metrics(&at(v), &[depth])[0]
    };

    let (xv, hv) = axis.xavier_he();
    let opts = StudyOptions {
        ridge: RidgeOptions { bootstrap: cfg.bootstrap, rng_seed: cfg.rng_seed },
        fail_accuracy: cfg.fail_accuracy,
        include_edge: cfg.include_edge,
        xavier_v: xv,
        he_v: hv,
        gap_z: cfg.gap_z,
        ..StudyOptions::default()
    };
    // First pass without the recommender: its bound is calibrated on the ridge.
    let pre = study::study(&runs, &lookup, None, &opts)?;
    let (tm, target) = theory_metric(&act);
    let ridge_vals: Vec<(usize, f64)> = pre
        .ridge
        .iter()
        .filter(|r| cfg.include_edge || !r.point.at_edge)
        .filter_map(|r| r.metrics.get(target.key()).filter(|m| m.is_finite()).map(|m| (r.point.depth, m)))
        .collect();
    // Leave-one-depth-out calibration: the bound at depth d is the median of the target metric on
    // the ridge at the other depths.
    let bounds: Vec<(usize, f64)> = depths
        .iter()
        .filter_map(|&d| {
            let others: Vec<f64> = ridge_vals.iter().filter(|(e, _)| *e != d).map(|(_, m)| *m).collect();
            stats::median(&others).map(|m| (d, m))
        })
        .collect();
    let recommend = |d: usize| -> Option<f64> {
        let bound = bounds.iter().find(|(e, _)| *e == d)?.1;
        let searched = theory.recommend(&base, d, target, bound)?;
        axis.axis_of_searched(arch, searched, &base)
    };
    let study = study::study(&runs, &lookup, Some(&recommend), &opts)?;
    let boundary: Vec<BoundaryPoint> = divergence_boundary(&study)
        .into_iter()
        .map(|(depth, lo, hi)| {
            let v = (lo * hi).sqrt();
            BoundaryPoint { depth, v_below: lo, v_above: hi, variance: v, metrics: theory.metrics(&at(v), &[depth])[0] }
        })
        .collect();
    let grid_log_p: Vec<f64> = study.cells.iter().map(|c| c.metrics.log_p).filter(|x| x.is_finite()).collect();
    let grid_log_v: Vec<f64> = study.cells.iter().map(|c| c.variance.ln()).collect();
    let bp: Vec<f64> = boundary.iter().map(|b| b.metrics.log_p).filter(|x| x.is_finite()).collect();
    let bv: Vec<f64> = boundary.iter().map(|b| b.variance.ln()).collect();
    let boundary_spread_log_p = predictors::spread_ratio(&bp, &grid_log_p).ok();
    let boundary_spread_log_v = predictors::spread_ratio(&bv, &grid_log_v).ok();
    let (id, label) = group_label(arch, &act);
    Ok(GroupResult {
        id,
        label,
        arch,
        act,
        axis,
        base,
        hyper: hyper.clone(),
        study,
        theory_metric: tm.into(),
        recommender_target: target,
        recommender_bounds: bounds,
        boundary,
        boundary_spread_log_p,
        boundary_spread_log_v,
    })
}
