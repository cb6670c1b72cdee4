//! The analysis of the trained grids: the points grouped into grids, and per grid the
//! init-time metrics of every cell, the accuracy ridge and its slope, the predictiveness of each
//! metric, the Xavier / He / recommended initializations against the best, and the divergence
//! boundary (all computed by [`crate::analysis::study`] from the [`Theory`]).

use super::axis::{theory_metric, Axis, AxisError, HE_VARIANCE, XAVIER_VARIANCE};
use super::theory::{InitConfig, Target, Theory};
use crate::activation::{Activation, ActivationError};
use crate::analysis::compare::{self, MaeComparison, SeedCell, Target as CompareTarget};
use crate::analysis::predictors;
use crate::analysis::ridge::{Grid, RidgeOptions, Run};
use crate::analysis::slope::{seed_slope, SeedSlope};
use crate::analysis::spread::{contour_offset, ContourOffset, MetricRow};
use crate::analysis::stats;
use crate::analysis::study::{self, InitMetrics, Study, StudyOptions};
use crate::analysis::AnalysisError;
use crate::architecture::Architecture;
use crate::meanfield::init::LN_F32_MAX;
use crate::nn::train::Outcome;
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
    /// The bound for a depth the grid does not have: the median of the target metric on the
    /// ridge at every depth (`None` without a ridge point).
    pub recommender_bound: Option<f64>,
    /// Where training starts to fail at each depth (see [`divergence_boundary`]).
    pub boundary: Vec<BoundaryPoint>,
    /// Spread ratio of $\log p^L$ along the boundary (and of $\ln v$, for reference).
    pub boundary_spread_log_p: Option<f64>,
    pub boundary_spread_log_v: Option<f64>,
    /// Fewest seeds in a cell.
    pub min_seeds: usize,
    /// The ridge slope on trained cells with its seed-level interval, or why there is none.
    pub seed_slope: Option<SeedSlope>,
    pub seed_slope_error: Option<String>,
    /// Contour offset (grid steps) of every metric of [`COMPARED`], or why there is none.
    pub offsets: Vec<(String, Result<ContourOffset, String>)>,
    /// The metric comparisons against the theory's metric, per target (filled over the grid's
    /// family: every grid of the same settings but $\sigma_w^2$, pooled).
    pub comparisons: Vec<(CompareTarget, Result<MaeComparison, String>)>,
    /// The $\sigma_w^2$ values pooled in `comparisons`.
    pub compared_sw2: Vec<f64>,
    /// The overflow test of C3f.
    pub overflow: OverflowCheck,
    /// The grid's cells with their runs, for the comparisons (not exported).
    #[serde(skip)]
    pub seed_cells: Vec<SeedCell>,
    /// The axis value of $\sigma_w^2$ when the grid is one of several at different $\sigma_w^2$.
    pub sw2: f64,
    /// Cells where some run failed: (depth, axis value, the most frequent failure kind there).
    pub failures: Vec<(usize, f64, Outcome)>,
    /// Xavier and He trained at their true points (every weight variance 1, resp. 2) with the
    /// grid's settings, where the training stage trained them (claim C4a).
    pub true_points: Vec<TruePoint>,
}

/// Runs at an initialization's true point: every weight variance equal to `weight_variance`
/// ($\sigma_w^2 = \sigma_v^2$ for an FRN), at one depth.
#[derive(Clone, Debug, Serialize)]
pub struct TruePoint {
    pub depth: usize,
    /// 1 (Xavier) or 2 (He).
    pub weight_variance: f64,
    /// Test accuracy of each seed (`None`: the run failed).
    pub accuracies: Vec<Option<f64>>,
}

/// The Xavier and He true points among `pts` (rows with $\sigma_w^2 = \sigma_v^2 \in \{1, 2\}$).
fn true_points(pts: &[&TrainingRow]) -> Vec<TruePoint> {
    let mut out: Vec<TruePoint> = Vec::new();
    for p in pts {
        let w = p.sw2;
        let is_true = (w == XAVIER_VARIANCE || w == HE_VARIANCE) && (p.arch != Architecture::Full || p.sv2 == w);
        if !is_true {
            continue;
        }
        let acc = if p.outcome.failed() || p.diverged { None } else { p.test_acc };
        match out.iter_mut().find(|t| t.depth == p.depth && t.weight_variance == w) {
            Some(t) => t.accuracies.push(acc),
            None => out.push(TruePoint { depth: p.depth, weight_variance: w, accuracies: vec![acc] }),
        }
    }
    out.sort_by(|a, b| (a.depth, a.weight_variance).partial_cmp(&(b.depth, b.weight_variance)).expect("finite"));
    out
}

/// The metrics compared and scored: those of [`crate::analysis::study::METRICS`], then the null metrics $\ln v$ and $\ln(v L)$.
pub const COMPARED: [&str; 7] = ["log_explosion", "log_chi_w", "log_p", "log_s", "e", "log_v", "log_vl"];

/// The overflow test of one grid: per depth, where runs overflowed (`overflow_at_init` or
/// `nonfinite`) and where the theory puts $\ln p^L = \ln(\text{float32 max})$.
#[derive(Clone, Debug, Default, Serialize)]
pub struct OverflowCheck {
    /// Runs that overflowed (`overflow_at_init`, `nonfinite`) and runs that blew up.
    pub n_overflow: usize,
    pub n_blowup: usize,
    /// Largest theory $\ln p^L$ on the grid.
    pub max_log_p: f64,
    /// Per depth: (depth, first variance whose cell overflowed in some seed, first variance with
    /// theory $\ln p^L \ge 88.72$), `None` where there is none.
    pub rows: Vec<(usize, Option<f64>, Option<f64>)>,
    /// Median grid step in $\ln v$.
    pub step: f64,
}

/// The overflow check of a grid's runs against the theory's $\ln p^L$ of its cells.
fn overflow_check(pts: &[&TrainingRow], axis: &Axis, s: &Study) -> OverflowCheck {
    let near = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs());
    let is_over = |o: Outcome| matches!(o, Outcome::OverflowAtInit | Outcome::Nonfinite);
    let rows = s
        .depths
        .iter()
        .map(|&d| {
            let cells: Vec<&study::CellRow> = s.cells.iter().filter(|c| c.depth == d).collect();
            let observed = cells
                .iter()
                .find(|c| {
                    pts.iter().any(|p| p.depth == d && near(axis.value(p.sw2, p.sv2), c.variance) && is_over(p.outcome))
                })
                .map(|c| c.variance);
            let predicted = cells.iter().find(|c| c.metrics.log_p >= LN_F32_MAX).map(|c| c.variance);
            (d, observed, predicted)
        })
        .collect();
    let lv: Vec<f64> = s.variances.iter().map(|v| v.ln()).collect();
    let steps: Vec<f64> = lv.windows(2).map(|w| w[1] - w[0]).collect();
    OverflowCheck {
        n_overflow: pts.iter().filter(|p| is_over(p.outcome)).count(),
        n_blowup: pts.iter().filter(|p| p.outcome == Outcome::Blowup).count(),
        max_log_p: s.cells.iter().map(|c| c.metrics.log_p).filter(|x| x.is_finite()).fold(f64::NEG_INFINITY, f64::max),
        rows,
        step: stats::median(&steps).unwrap_or(f64::NAN),
    }
}

/// The value of metric `key` of [`COMPARED`] at a cell.
pub fn compared_metric(key: &str, m: &InitMetrics, depth: usize, v: f64) -> f64 {
    match key {
        "log_v" => v.ln(),
        "log_vl" => (v * depth as f64).ln(),
        k => m.get(k).unwrap_or(f64::NAN),
    }
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
    /// Networks trained at depths the grids never saw (claim C4c; filled by
    /// [`crate::stages::prediction::held_out`] after the analysis; empty: C4c is not tested).
    pub held_out: Vec<crate::stages::prediction::held_out::HeldOutEval>,
    /// What could not be planned at a held-out depth (e.g. no recommendation), one line each.
    pub held_out_notes: Vec<String>,
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

/// Groups the points by everything except depth, weight variances and seed, in the order the
/// training table first lists them (the order of Chapter 5). The key (also the grid's `hyper` in
/// the summary) writes `epochs` and `train_subset` as reals, as it always has.
pub fn group_points(points: &[TrainingRow]) -> Vec<(Value, Vec<&TrainingRow>)> {
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut groups: Vec<(Value, Vec<&TrainingRow>)> = Vec::new();
    for p in points {
        let key = hyper_key(p);
        let i = *index.entry(key.to_string()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push(p);
    }
    groups
}

/// The settings a grid's runs share (everything but depth, weight variances and seed): the key
/// of [`group_points`].
pub fn hyper_key(p: &TrainingRow) -> Value {
    json!({
        "arch": p.arch, "act": p.act, "alpha": p.alpha, "width": p.width, "sb2": p.sb2, "sa2": p.sa2,
        "lr": p.lr, "batch": p.batch, "epochs": p.epochs as f64, "train_subset": p.train_subset as f64,
    })
}

/// Analyses every grid of `points` with the theory `theory` at input moments `p0`, `e0`.
pub fn analyze(points: &[TrainingRow], p0: f64, e0: f64, cfg: &Config, theory: &dyn Theory) -> Analysis {
    let mut groups = Vec::new();
    let mut skipped = Vec::new();
    let mut used_ids: Vec<String> = Vec::new();
    let mut parts: Vec<(Value, Vec<&TrainingRow>, bool, Vec<TruePoint>)> = Vec::new();
    for (hyper, pts) in group_points(points) {
        let tp = true_points(&pts);
        if matches!(Axis::detect(&pts), Err(AxisError::Independent)) {
            // several sigma_w^2 at once (e.g. tanh at 0.25, 1, 4, or He trained at its true point
            // sw2 = sv2 = 2 beside a sw2 = 1 grid): one grid per sigma_w^2; a part that holds only
            // true points of one variance is no grid (its runs serve claim C4a)
            let mut sws: Vec<f64> = pts.iter().map(|p| p.sw2).collect();
            sws.sort_by(f64::total_cmp);
            sws.dedup();
            for sw in sws {
                let part: Vec<&TrainingRow> = pts.iter().copied().filter(|p| p.sw2 == sw).collect();
                let only_true = part.iter().all(|p| p.sv2 == p.sw2 && (sw == XAVIER_VARIANCE || sw == HE_VARIANCE));
                if !only_true {
                    parts.push((hyper.clone(), part, true, tp.clone()));
                }
            }
        } else {
            parts.push((hyper, pts, false, tp));
        }
    }
    for (hyper, pts, split, tp) in parts {
        match analyze_group(&hyper, &pts, p0, e0, cfg, theory).map(|mut g| {
            if split {
                g.label = format!("{} (σw² = {})", g.label, g.sw2);
                g.id = format!("{}-sw{}", g.id, format!("{}", g.sw2).replace('.', "p"));
            }
            g.true_points = tp;
            g
        }) {
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
    family_comparisons(&mut groups, cfg);
    Analysis { p0, e0, groups, skipped, held_out: Vec::new(), held_out_notes: Vec::new() }
}

/// The metric comparisons of every grid against its theory metric, over its family (the grids
/// with the same settings but $\sigma_w^2$, pooled: the $\sigma_w^2$ variation separates the gradient
/// explosion from $p^L$).
fn family_comparisons(groups: &mut [GroupResult], cfg: &Config) {
    type Comparisons = Vec<(CompareTarget, Result<MaeComparison, String>)>;
    let results: Vec<(Comparisons, Vec<f64>)> = groups
        .iter()
        .map(|g| {
            let family: Vec<&GroupResult> =
                groups.iter().filter(|h| h.hyper == g.hyper && h.axis_kind() == g.axis_kind()).collect();
            let cells: Vec<SeedCell> = family.iter().flat_map(|h| h.seed_cells.iter().cloned()).collect();
            let mut sws: Vec<f64> = family.iter().map(|h| h.sw2).collect();
            sws.sort_by(f64::total_cmp);
            sws.dedup();
            let reference = COMPARED.iter().position(|k| *k == g.theory_metric).unwrap_or(0);
            let reps = cfg.bootstrap.max(2);
            let cmp = [CompareTarget::Trainability, CompareTarget::AccuracyGivenTrained]
                .into_iter()
                .map(|t| {
                    (
                        t,
                        compare::compare(&cells, &COMPARED, reference, t, reps, cfg.rng_seed, 0.95)
                            .map_err(|e| e.to_string()),
                    )
                })
                .collect();
            (cmp, sws)
        })
        .collect();
    for (g, (c, sws)) in groups.iter_mut().zip(results) {
        g.comparisons = c;
        g.compared_sw2 = sws;
    }
}

impl GroupResult {
    /// The kind of the grid's axis (`Sv2`, `Sw2`, `Product`), without its parameter.
    fn axis_kind(&self) -> std::mem::Discriminant<Axis> {
        std::mem::discriminant(&self.axis)
    }
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
    let recommender_bound = stats::median(&ridge_vals.iter().map(|x| x.1).collect::<Vec<_>>());
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
    let seed_cells: Vec<SeedCell> = study
        .cells
        .iter()
        .map(|c| {
            let near = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs());
            let runs = pts
                .iter()
                .filter(|p| p.depth == c.depth && near(axis.value(p.sw2, p.sv2), c.variance))
                .map(|p| (p.seed, if p.outcome.failed() || p.diverged { None } else { p.test_acc }))
                .collect();
            SeedCell {
                depth: c.depth,
                runs,
                metrics: COMPARED.iter().map(|k| compared_metric(k, &c.metrics, c.depth, c.variance)).collect(),
            }
        })
        .collect();
    let min_seeds = study.cells.iter().map(|c| c.n).min().unwrap_or(0);
    let interior: Vec<(usize, f64)> =
        study.ridge.iter().filter(|r| !r.point.at_edge).map(|r| (r.point.depth, r.point.log_variance)).collect();
    let step = {
        let lv: Vec<f64> = study.variances.iter().map(|v| v.ln()).collect();
        stats::median(&lv.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>()).unwrap_or(f64::NAN)
    };
    let offsets = COMPARED
        .iter()
        .map(|k| {
            let rows: Vec<MetricRow> = study
                .depths
                .iter()
                .map(|&d| {
                    let cs: Vec<&study::CellRow> = study.cells.iter().filter(|c| c.depth == d).collect();
                    MetricRow {
                        depth: d,
                        log_v: cs.iter().map(|c| c.variance.ln()).collect(),
                        metric: cs.iter().map(|c| compared_metric(k, &c.metrics, d, c.variance)).collect(),
                    }
                })
                .collect();
            (k.to_string(), contour_offset(&rows, &interior, step).map_err(|e| e.to_string()))
        })
        .collect();
    let (seed_slope, seed_slope_error) = if cfg.bootstrap < 2 {
        (None, Some("the bootstrap is off (bootstrap = 0)".to_string()))
    } else {
        match Grid::from_runs(&runs, cfg.fail_accuracy).and_then(|grid| {
            seed_slope(&grid, &interior.iter().map(|x| x.0).collect::<Vec<_>>(), cfg.bootstrap, cfg.rng_seed, 0.95)
        }) {
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(e.to_string())),
        }
    };
    let overflow = overflow_check(pts, &axis, &study);
    let failures = study
        .cells
        .iter()
        .filter(|c| c.n_diverged > 0)
        .filter_map(|c| {
            let near = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs());
            let kinds: Vec<Outcome> = pts
                .iter()
                .filter(|p| p.depth == c.depth && near(axis.value(p.sw2, p.sv2), c.variance) && p.outcome.failed())
                .map(|p| p.outcome)
                .collect();
            Outcome::ALL
                .into_iter()
                .filter(|o| o.failed())
                .max_by_key(|o| kinds.iter().filter(|k| *k == o).count())
                .filter(|o| kinds.contains(o))
                .map(|o| (c.depth, c.variance, o))
        })
        .collect();
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
        recommender_bound,
        boundary,
        boundary_spread_log_p,
        boundary_spread_log_v,
        min_seeds,
        seed_slope,
        seed_slope_error,
        offsets,
        comparisons: Vec::new(),
        compared_sw2: Vec::new(),
        overflow,
        seed_cells,
        sw2: first.sw2,
        failures,
        true_points: Vec::new(),
    })
}
