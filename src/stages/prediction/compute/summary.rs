//! What the prediction stage writes: the tables `prediction` (one row per grid and metric),
//! `ridge` (one row per grid and depth) and `held_out` (one row per network trained at a held-out
//! depth), and the summary the chapter template reads.

use super::analysis::Analysis;
use super::analysis::{GroupResult, COMPARED};
use super::axis::{HE_VARIANCE, XAVIER_VARIANCE};
use super::{metric_label, metric_tex, n_ridge};
use crate::analysis::compare::Target as CompareTarget;
use crate::analysis::predictors::MetricScore;
use crate::analysis::study::{InitEval, Study, StudyOptions, METRICS};
use crate::pipeline::{Claim, ClaimStatus, DataTable};
use crate::stages::prediction::held_out::HeldOutInit;
use crate::stages::prediction::Config;
use serde_json::{json, Value};

pub(crate) fn score_json(s: &MetricScore) -> Value {
    json!({
        "key": s.name,
        "label": METRICS.iter().find(|(k, _)| *k == s.name).map_or(r"\log v", |(_, l)| *l),
        "m_star": s.m_star,
        "spread_ratio": s.spread_ratio,
        "spearman": s.spearman,
        "lodo_mae": s.lodo.as_ref().map(|l| l.mae),
        "baseline_mae": s.lodo.as_ref().map(|l| l.baseline_mae),
        "skill": Study::skill(s).map(|x| if x.abs() < 1e-12 { 0.0 } else { x }),
        "n_used": s.n_used,
        "n_excluded": s.n_excluded,
    })
}

/// Table `prediction`: one row per grid and metric.
pub fn prediction_table(a: &Analysis) -> DataTable {
    let rows = a
        .groups
        .iter()
        .flat_map(|g| {
            g.study.scores.iter().chain(std::iter::once(&g.study.baseline_log_v)).map(move |s| {
                let mut r = score_json(s);
                r["grid"] = json!(g.id);
                r["best_by_lodo"] = json!(g.study.best_by_lodo.as_deref() == Some(s.name.as_str()));
                r["best_by_spearman"] = json!(g.study.best_by_spearman.as_deref() == Some(s.name.as_str()));
                r
            })
        })
        .map(|mut r| {
            // grid first in the CSV
            let mut o = serde_json::Map::new();
            o.insert("grid".into(), r["grid"].take());
            for (k, v) in r.as_object().expect("object") {
                if k != "grid" {
                    o.insert(k.clone(), v.clone());
                }
            }
            Value::Object(o)
        })
        .collect();
    DataTable { name: "prediction".into(), rows, json_key: None, extra: Default::default() }
}

/// Table `held_out`: one row per network trained at a held-out depth (claim C4c).
pub fn held_out_table(a: &Analysis) -> DataTable {
    let rows = a
        .held_out
        .iter()
        .flat_map(|h| {
            h.seeds.iter().zip(&h.accuracies).map(move |(seed, acc)| {
                let (sw2, sv2) = match h.init {
                    HeldOutInit::Xavier | HeldOutInit::He => (h.variance, h.variance),
                    _ => (XAVIER_VARIANCE, h.variance),
                };
                json!({
                    "grid": h.grid, "depth": h.depth, "init": h.init, "sw2": sw2, "sv2": sv2, "seed": seed,
                    "test_acc": acc, "failed": acc.is_none(),
                })
            })
        })
        .collect();
    DataTable { name: "held_out".into(), rows, json_key: None, extra: Default::default() }
}

/// The held-out evaluations as the chapter shows them: per grid and depth, every initialization's
/// mean accuracy (failures at the fail accuracy) with its standard error.
fn held_out_rows(a: &Analysis, cfg: &Config) -> Vec<Value> {
    a.held_out
        .iter()
        .map(|h| {
            let g = a.groups.iter().find(|g| g.id == h.grid);
            let (m, se) = h.mean_se(cfg.fail_accuracy, g.and_then(|g| g.study.pooled_seed_sd).unwrap_or(f64::NAN));
            let label = g.map_or(h.grid.as_str(), |g| g.label.as_str());
            json!({
                "grid": h.grid, "label": label, "depth": h.depth, "init": h.init, "variance": h.variance,
                "n": h.accuracies.len(), "n_failed": h.accuracies.iter().filter(|x| x.is_none()).count(),
                "mean": m, "se": if se.is_finite() { Some(se) } else { None },
            })
        })
        .collect()
}

/// Table `ridge`: one row per grid and depth.
pub fn ridge_table(a: &Analysis) -> DataTable {
    let mut rows = Vec::new();
    for g in &a.groups {
        for r in &g.study.ridge {
            let p = &r.point;
            let mut o = serde_json::Map::new();
            o.insert("grid".into(), json!(g.id));
            o.insert("depth".into(), json!(p.depth));
            o.insert("best_variance".into(), json!(p.variance));
            o.insert("sd_log_variance".into(), json!(p.sd_log_variance));
            o.insert("at_edge".into(), json!(p.at_edge));
            o.insert("best_cell_variance".into(), json!(p.best_cell_variance));
            o.insert("best_accuracy".into(), json!(p.best_accuracy));
            o.insert("best_accuracy_sd".into(), json!(p.best_accuracy_sd));
            for (k, _) in METRICS {
                o.insert(k.into(), json!(r.metrics.get(k)));
            }
            rows.push(Value::Object(o));
        }
    }
    DataTable { name: "ridge".into(), rows, json_key: None, extra: Default::default() }
}

/// One row per compared metric (the five and the nulls $\ln v$, $\ln(vL)$): its contour offset in
/// grid steps and, per target, its held-out MAE and the interval of MAE(theory metric) $-$ MAE(it).
fn predictor_rows(g: &GroupResult) -> Vec<Value> {
    let axis = g.axis.latex();
    let cmp = |t: CompareTarget| g.comparisons.iter().find(|(x, _)| *x == t).and_then(|(_, c)| c.as_ref().ok());
    let (tr, ac) = (cmp(CompareTarget::Trainability), cmp(CompareTarget::AccuracyGivenTrained));
    COMPARED
        .iter()
        .enumerate()
        .map(|(k, key)| {
            let off = g.offsets.iter().find(|(x, _)| x == key).and_then(|(_, o)| o.as_ref().ok());
            let cell = |c: Option<&crate::analysis::compare::MaeComparison>| {
                c.map(|c| {
                    json!({
                        "mae": c.mae.get(k),
                        "lo": c.diff.get(k).and_then(|d| d.as_ref()).map(|d| d.lo),
                        "hi": c.diff.get(k).and_then(|d| d.as_ref()).map(|d| d.hi),
                        "reference": c.reference == k,
                    })
                })
            };
            json!({
                "key": key,
                "tex": metric_tex(key, axis),
                "theory": *key == g.theory_metric,
                "offset": off.map(|o| o.rms_steps),
                "offset_censored": off.map_or(0, |o| o.censored.len()),
                "trainability": cell(tr),
                "accuracy": cell(ac),
            })
        })
        .collect()
}

/// One row per depth: best, Xavier, He and the recommendation side by side.
fn init_rows(s: &Study) -> Vec<Value> {
    s.depths
        .iter()
        .map(|&d| {
            let f = |v: &[InitEval]| v.iter().find(|e| e.depth == d).cloned();
            let (x, h, r) = (f(&s.xavier), f(&s.he), f(&s.recommended));
            json!({
                "depth": d,
                "best_accuracy": x.as_ref().or(h.as_ref()).map(|e| e.best_accuracy),
                "xavier_accuracy": x.as_ref().and_then(|e| e.accuracy),
                "xavier_gap": x.as_ref().map(|e| e.gap),
                "he_accuracy": h.as_ref().and_then(|e| e.accuracy),
                "he_gap": h.as_ref().map(|e| e.gap),
                "xavier_outside": x.as_ref().is_some_and(|e| e.accuracy.is_none()),
                "xavier_nearest": x.as_ref().map(|e| e.nearest_accuracy),
                "he_outside": h.as_ref().is_some_and(|e| e.accuracy.is_none()),
                "he_nearest": h.as_ref().map(|e| e.nearest_accuracy),
                "recommended_v": r.as_ref().map(|e| e.variance),
                "recommended_accuracy": r.as_ref().map(|e| e.accuracy.unwrap_or(e.nearest_accuracy)),
                "recommended_outside": r.as_ref().is_some_and(|e| e.accuracy.is_none()),
                "recommended_gap": r.as_ref().map(|e| e.gap),
            })
        })
        .collect()
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(ao), Value::Object(bo)) = (a.as_object_mut(), b) {
        ao.extend(bo);
    }
    a
}

fn eval_json(e: &InitEval) -> Value {
    json!({
        "depth": e.depth, "variance": e.variance, "accuracy": e.accuracy, "nearest_accuracy": e.nearest_accuracy,
        "nearest_variance": e.nearest_variance, "best_accuracy": e.best_accuracy, "gap": e.gap, "gap_se": e.gap_se,
        "significant": e.significant,
    })
}

/// The summary the chapter template reads.
pub fn summary(a: &Analysis, cfg: &Config, claims: &[Claim], p0_source: &str) -> Value {
    let groups: Vec<Value> = a
        .groups
        .iter()
        .map(|g| {
            let s = &g.study;
            let slope = |sl: &Option<crate::analysis::ridge::RidgeSlope>| {
                sl.as_ref().map(|sl| {
                    json!({
                        "slope": sl.fit.slope, "lo": sl.fit.ci_slope[0], "hi": sl.fit.ci_slope[1], "se": sl.fit.se_slope,
                        "n": sl.fit.n, "t": sl.fit.t_crit, "r2": sl.fit.r_squared, "intercept": sl.fit.intercept,
                        "depths_used": sl.depths_used, "depths_excluded": sl.depths_excluded,
                        "contains_minus_one": sl.fit.ci_contains(-1.0), "excludes_zero": !sl.fit.ci_contains(0.0),
                    })
                })
            };
            let ridge: Vec<Value> = s
                .ridge
                .iter()
                .map(|r| {
                    let p = &r.point;
                    json!({
                        "depth": p.depth, "variance": p.variance, "sd_log_variance": p.sd_log_variance,
                        "at_edge": p.at_edge, "best_accuracy": p.best_accuracy, "best_accuracy_sd": p.best_accuracy_sd,
                        "edge_fraction": p.bootstrap_edge_fraction, "metrics": r.metrics,
                    })
                })
                .collect();
            let (xv, hv) = g.axis.xavier_he();
            let theory_score = s.score(&g.theory_metric).map(score_json);
            let a = json!({
                "id": g.id,
                "label": g.label,
                "arch": g.arch.short(),
                "act": g.act.kind(),
                "alpha": g.act.alpha(),
                "axis": g.axis,
                "axis_tex": g.axis.latex(),
                "xavier_v": xv,
                "he_v": hv,
                "hyper": g.hyper,
                "depths": s.depths,
                "n_depths": s.depths.len(),
                "n_variances": s.variances.len(),
                "v_min": s.variances.first(),
                "v_max": s.variances.last(),
                "n_runs": s.n_runs,
                "n_cells": s.n_cells,
                "n_diverged": s.n_diverged,
                "max_seeds": s.max_seeds,
                "pooled_seed_sd": s.pooled_seed_sd,
            });
            let b = json!({
                "ridge": ridge,
                "n_ridge_interior": n_ridge(g, cfg),
                "flat_depths": s.flat_depths,
                "slope": slope(&s.slope),
                "slope_weighted": slope(&s.slope_weighted),
                "slope_error": s.slope_error,
                "scores": s.scores.iter().map(score_json).collect::<Vec<_>>(),
                "baseline": score_json(&s.baseline_log_v),
                "best_by_lodo": s.best_by_lodo,
                "best_by_lodo_label": s.best_by_lodo.as_deref().map(metric_label),
                "best_by_spearman": s.best_by_spearman,
                "best_by_spearman_label": s.best_by_spearman.as_deref().map(metric_label),
                "theory_metric": g.theory_metric,
                "theory_metric_label": metric_label(&g.theory_metric),
                "theory_score": theory_score,
                "recommender_target": g.recommender_target,
                "recommender_target_label": metric_label(g.recommender_target.key()),
                "recommender_bounds": g.recommender_bounds.iter().map(|(d, b)| json!({"depth": d, "bound": b})).collect::<Vec<_>>(),
                "xavier": s.xavier.iter().map(eval_json).collect::<Vec<_>>(),
                "he": s.he.iter().map(eval_json).collect::<Vec<_>>(),
                "recommended": s.recommended.iter().map(eval_json).collect::<Vec<_>>(),
                "init_rows": init_rows(s),
                "boundary": g.boundary.iter().map(|b| json!({"depth": b.depth, "v_below": b.v_below, "v_above": b.v_above, "variance": b.variance, "log_p": b.metrics.log_p})).collect::<Vec<_>>(),
                "predictors": predictor_rows(g),
                "compared_sw2": g.compared_sw2,
                "trainability_error": g.comparisons.iter().find(|(t, _)| *t == CompareTarget::Trainability).and_then(|(_, c)| c.as_ref().err()),
                "accuracy_error": g.comparisons.iter().find(|(t, _)| *t == CompareTarget::AccuracyGivenTrained).and_then(|(_, c)| c.as_ref().err()),
                "boundary_spread_log_p": g.boundary_spread_log_p,
                "boundary_spread_log_v": g.boundary_spread_log_v,
                "figures": {
                    "heatmap": format!("prediction-heatmap-{}", g.id),
                    "collapse": format!("prediction-collapse-{}", g.id),
                },
            });
            merge(a, b)
        })
        .collect();
    json!({
        "pixels": crate::nn::mnist::PIXELS,
        "level": StudyOptions::default().level,
        "tanh_theory_slope": -1,
        "ln_f32_max": crate::meanfield::init::LN_F32_MAX,
        "xavier_weight_variance": XAVIER_VARIANCE,
        "he_weight_variance": HE_VARIANCE,
        "p0": a.p0,
        "e0": a.e0,
        "p0_source": p0_source,
        "groups": groups,
        "n_groups": a.groups.len(),
        "skipped": a.skipped.iter().map(|(k, w)| json!({"grid": k, "why": w})).collect::<Vec<_>>(),
        "config": cfg,
        "claims": claims,
        "n_reproduced": claims.iter().filter(|c| c.status == ClaimStatus::Reproduced).count(),
        "n_not_reproduced": claims.iter().filter(|c| c.status == ClaimStatus::NotReproduced).count(),
        "n_inconclusive": claims.iter().filter(|c| c.status == ClaimStatus::Inconclusive).count(),
        "n_not_tested": claims.iter().filter(|c| c.status == ClaimStatus::NotTested).count(),
        "has_ridge_figure": a.groups.iter().any(|g| !g.study.ridge.is_empty()),
        "held_out": held_out_rows(a, cfg),
        "held_out_notes": a.held_out_notes,
    })
}
