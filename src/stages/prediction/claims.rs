//! The chapter's claims: docs/theory.md §6 (claims 3 and 4), split into checkable statements, one
//! function per claim id. A claim is `NotTested` when no grid has enough data for it (the
//! `measured` text says what is missing), `Reproduced` when every tested grid meets its
//! criterion, `NotReproduced` otherwise.

use super::compute::{f3, metric_label, n_ridge, Analysis, GroupResult};
use super::Config;
use crate::activation::Activation;
use crate::analysis::predictors;
use crate::analysis::study::{InitEval, Study};
use crate::pipeline::{Claim, ClaimStatus};

/// Every claim of the chapter, in the ledger's order.
pub fn claims(a: &Analysis, cfg: &Config) -> Vec<Claim> {
    let g = Groups::new(a, cfg);
    vec![
        c3a_ridge_slope(&g),
        c3b_explosion_constant_on_ridge(&g),
        c3c_explosion_predicts_tanh(&g),
        c3d_expressivity_predicts_relu(&g),
        c3e_angular_not_predictive(&g),
        c3f_relu_failure_follows_p(&g),
        c4a_xavier_he_not_optimal(&g),
        c4b_optimum_depends_on_depth(&g),
    ]
}

/// The analysed grids, by activation, with the thresholds.
struct Groups<'a> {
    cfg: &'a Config,
    all: Vec<&'a GroupResult>,
    tanh: Vec<&'a GroupResult>,
    /// ReLU and alpha-ReLU.
    relu: Vec<&'a GroupResult>,
}

impl<'a> Groups<'a> {
    fn new(a: &'a Analysis, cfg: &'a Config) -> Self {
        Self {
            cfg,
            all: a.groups.iter().collect(),
            tanh: a.groups.iter().filter(|g| g.act == Activation::Tanh).collect(),
            relu: a.groups.iter().filter(|g| is_relu_like(&g.act)).collect(),
        }
    }

    /// Whether the grid has at least `min_depths` interior ridge points.
    fn enough(&self, g: &GroupResult) -> bool {
        n_ridge(g, self.cfg) >= self.cfg.min_depths
    }

    /// Why no grid of `gs` was tested (for a claim that needs `min_depths` ridge depths).
    fn not_enough(&self, gs: &[&GroupResult], what: &str) -> String {
        if gs.is_empty() {
            format!("no {what} grid was trained")
        } else {
            gs.iter()
                .map(|g| {
                    format!(
                        "{}: {} interior ridge depths (need {})",
                        g.label,
                        n_ridge(g, self.cfg),
                        self.cfg.min_depths
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        }
    }
}

fn mk(id: &str, claim: &str, criterion: String, measured: String, status: ClaimStatus) -> Claim {
    Claim { id: id.into(), chapter: "prediction".to_string(), claim: claim.into(), criterion, measured, status }
}

fn status(b: bool) -> ClaimStatus {
    if b {
        ClaimStatus::Reproduced
    } else {
        ClaimStatus::NotReproduced
    }
}

fn is_relu_like(a: &Activation) -> bool {
    matches!(a, Activation::Relu | Activation::AlphaRelu { .. })
}

/// Held-out error of every metric, as text.
fn lodo_text(s: &Study) -> String {
    s.scores
        .iter()
        .filter_map(|m| m.lodo.as_ref().map(|l| format!("{} {}", metric_label(&m.name), f3(l.mae))))
        .collect::<Vec<_>>()
        .join(", ")
}

/// C3a: the tanh ridge $\ln v^* = a + b \ln L$ has slope $b = -1$ ($\sigma_v^2 L$ constant): the
/// 95% CI of the OLS slope contains $-1$ and excludes 0, for every tanh grid with enough depths.
fn c3a_ridge_slope(g: &Groups) -> Claim {
    let tested: Vec<&GroupResult> =
        g.tanh.iter().copied().filter(|x| g.enough(x)).filter(|x| x.study.slope.is_some()).collect();
    let criterion =
        "95% CI of the OLS slope of log(best variance) on log(depth) contains -1 and excludes 0".to_string();
    let (measured, st) = if tested.is_empty() {
        (g.not_enough(&g.tanh, "tanh"), ClaimStatus::NotTested)
    } else {
        let ok = tested.iter().all(|x| {
            let f = &x.study.slope.as_ref().expect("filtered").fit;
            f.ci_contains(-1.0) && !f.ci_contains(0.0)
        });
        let m = tested
            .iter()
            .map(|x| {
                let f = &x.study.slope.as_ref().expect("filtered").fit;
                format!(
                    "{}: slope {} [{}, {}] over {} depths",
                    x.label,
                    f3(f.slope),
                    f3(f.ci_slope[0]),
                    f3(f.ci_slope[1]),
                    f.n
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        (m, status(ok))
    };
    mk("C3a", "Peak accuracy of tanh resnets keeps sigma_v^2 * depth constant: log(best variance) falls with slope -1 in log(depth)", criterion, measured, st)
}

/// C3b: the log gradient explosion is nearly constant along the tanh ridge: its sd on the
/// ridge over its sd on the grid is below `spread_threshold`.
fn c3b_explosion_constant_on_ridge(g: &Groups) -> Claim {
    let cfg = g.cfg;
    let tested: Vec<&GroupResult> = g
        .tanh
        .iter()
        .copied()
        .filter(|x| g.enough(x))
        .filter(|x| x.study.score("log_explosion").and_then(|s| s.spread_ratio).is_some())
        .collect();
    let criterion =
        format!("sd of log gradient explosion on the ridge / its sd over the grid < {}", cfg.spread_threshold);
    let (measured, st) = if tested.is_empty() {
        (g.not_enough(&g.tanh, "tanh"), ClaimStatus::NotTested)
    } else {
        let r = |x: &GroupResult| x.study.score("log_explosion").and_then(|s| s.spread_ratio).expect("filtered");
        let ok = tested.iter().all(|x| r(x) < cfg.spread_threshold);
        let m = tested
            .iter()
            .map(|x| {
                let lv = x.study.baseline_log_v.spread_ratio;
                format!("{}: ratio {} (log variance itself: {})", x.label, f3(r(x)), lv.map_or("-".into(), f3))
            })
            .collect::<Vec<_>>()
            .join("; ");
        (m, status(ok))
    };
    mk(
        "C3b",
        "The expected gradient explosion is nearly constant along the tanh accuracy ridge",
        criterion,
        measured,
        st,
    )
}

/// C3c: the log gradient explosion best predicts tanh accuracy (see [`best_predictor`]).
fn c3c_explosion_predicts_tanh(g: &Groups) -> Claim {
    best_predictor(
        g,
        "C3c",
        "Gradient explosion is the init-time metric that best predicts the accuracy of tanh resnets",
        &g.tanh,
        "log_explosion",
        "tanh",
    )
}

/// C3d: the metric expressivity $\ln s^L$ best predicts ReLU and alpha-ReLU accuracy (see
/// [`best_predictor`]).
fn c3d_expressivity_predicts_relu(g: &Groups) -> Claim {
    best_predictor(
        g,
        "C3d",
        "Metric expressivity s^L is the init-time metric that best predicts the accuracy of ReLU and alpha-ReLU resnets",
        &g.relu,
        "log_s",
        "ReLU or alpha-ReLU",
    )
}

/// C3c / C3d: metric `want` has the lowest leave-one-depth-out MAE of accuracy, or is not worse
/// than the lowest by both more than `mae_tolerance` (relative) and at one-sided
/// $p < $ `worse_p` (paired t on per-cell errors; without a paired test, the tolerance alone).
fn best_predictor(g: &Groups, id: &str, claim: &str, gs: &[&GroupResult], want: &str, what: &str) -> Claim {
    let cfg = g.cfg;
    let tested: Vec<&GroupResult> = gs
        .iter()
        .copied()
        .filter(|x| g.enough(x))
        .filter(|x| x.study.best_by_lodo.is_some() && x.study.score(want).is_some_and(|s| s.lodo.is_some()))
        .collect();
    let criterion = format!(
        "{} has the lowest leave-one-depth-out mean absolute error (MAE) of accuracy among the five metrics, or one not worse than the lowest by both more than {}% and at one-sided p < {} (paired t on per-cell errors)",
        metric_label(want),
        100.0 * cfg.mae_tolerance,
        cfg.worse_p
    );
    let (measured, st) = if tested.is_empty() {
        (g.not_enough(gs, what), ClaimStatus::NotTested)
    } else {
        let verdict = |x: &GroupResult| -> (bool, String) {
            let best = x.study.best_by_lodo.as_deref().expect("filtered");
            if best == want {
                return (true, format!("best {}", metric_label(best)));
            }
            let (w, b) = (x.study.score(want).expect("filtered"), x.study.score(best).expect("has lodo"));
            let (lw, lb) = (w.lodo.as_ref().expect("filtered").mae, b.lodo.as_ref().expect("has lodo").mae);
            let rel = (lw - lb) / lb;
            match predictors::paired_comparison(w, b) {
                Ok(pc) => (
                    rel < cfg.mae_tolerance || pc.p_worse >= cfg.worse_p,
                    format!(
                        "best {}, {} worse by {}% (p = {})",
                        metric_label(best),
                        metric_label(want),
                        f3(100.0 * rel),
                        f3(pc.p_worse)
                    ),
                ),
                Err(e) => (
                    rel < cfg.mae_tolerance,
                    format!(
                        "best {}, {} worse by {}% (no paired test: {e})",
                        metric_label(best),
                        metric_label(want),
                        f3(100.0 * rel)
                    ),
                ),
            }
        };
        let ok = tested.iter().all(|x| verdict(x).0);
        let m = tested
            .iter()
            .map(|x| format!("{}: {} (MAE: {})", x.label, verdict(x).1, lodo_text(&x.study)))
            .collect::<Vec<_>>()
            .join("; ");
        (m, status(ok))
    };
    mk(id, claim, criterion, measured, st)
}

/// C3e: the angular expressivity $e^L$ does not predict accuracy: for every grid its held-out
/// skill (1 - MAE / MAE of a constant) is below `skill_fraction` times the best metric's.
fn c3e_angular_not_predictive(g: &Groups) -> Claim {
    let cfg = g.cfg;
    let skill = |x: &GroupResult, key: &str| x.study.score(key).and_then(Study::skill);
    let tested: Vec<&GroupResult> = g
        .all
        .iter()
        .copied()
        .filter(|x| g.enough(x))
        .filter(|x| skill(x, "e").is_some() && x.study.best_by_lodo.as_deref().and_then(|b| skill(x, b)).is_some())
        .collect();
    let criterion = format!(
        "for every grid, the held-out skill of e^L (1 - MAE / MAE of a constant) is below {} x that of the best metric",
        cfg.skill_fraction
    );
    let (measured, st) = if tested.is_empty() {
        (g.not_enough(&g.all, "trained"), ClaimStatus::NotTested)
    } else {
        let pair = |x: &GroupResult| {
            let b = x.study.best_by_lodo.as_deref().expect("filtered");
            (skill(x, "e").expect("filtered"), skill(x, b).expect("filtered"), b.to_string())
        };
        let ok = tested.iter().all(|x| {
            let (se, sb, _) = pair(x);
            se < cfg.skill_fraction * sb
        });
        let m = tested
            .iter()
            .map(|x| {
                let (se, sb, b) = pair(x);
                if b == "e" {
                    format!("{}: e^L is the best metric (skill {})", x.label, f3(se))
                } else {
                    format!("{}: skill of e^L {}, of {} {}", x.label, f3(se), metric_label(&b), f3(sb))
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        (m, status(ok))
    };
    mk("C3e", "Angular expressivity e^L does not predict accuracy", criterion, measured, st)
}

/// C3f: for ReLU-type grids the divergence boundary follows a contour of $p^L$: the sd of
/// $\ln p^L$ at the boundary over its sd on the grid is below `spread_threshold` (tested on
/// grids whose boundary lies inside the grid at `min_depths` depths or more).
fn c3f_relu_failure_follows_p(g: &Groups) -> Claim {
    let cfg = g.cfg;
    let tested: Vec<&GroupResult> = g
        .relu
        .iter()
        .copied()
        .filter(|x| x.boundary.len() >= cfg.min_depths && x.boundary_spread_log_p.is_some())
        .collect();
    let criterion = format!(
        "sd of log p^L at the divergence boundary (midpoint between the last trained and the first all-diverged variance, per depth) / its sd over the grid < {}",
        cfg.spread_threshold
    );
    let (measured, st) = if tested.is_empty() {
        let why = if g.relu.is_empty() {
            "no ReLU or alpha-ReLU grid was trained".to_string()
        } else {
            g.relu
                .iter()
                .map(|x| {
                    format!(
                        "{}: divergence boundary inside the grid at {} depths (need {})",
                        x.label,
                        x.boundary.len(),
                        cfg.min_depths
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        (why, ClaimStatus::NotTested)
    } else {
        let ok = tested.iter().all(|x| x.boundary_spread_log_p.expect("filtered") < cfg.spread_threshold);
        let m = tested
            .iter()
            .map(|x| {
                format!(
                    "{}: ratio {} over {} depths (log variance itself: {})",
                    x.label,
                    f3(x.boundary_spread_log_p.expect("filtered")),
                    x.boundary.len(),
                    x.boundary_spread_log_v.map_or("-".into(), f3)
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        (m, status(ok))
    };
    mk(
        "C3f",
        "For ReLU-type resnets the region where training fails follows a contour of p^L (overflow)",
        criterion,
        measured,
        st,
    )
}

/// C4a: Xavier and He are not optimal at depth: at the largest depth of every grid, the best
/// accuracy exceeds the Xavier and the He accuracy each by more than `gap_z` standard errors
/// (pooled seed sd; grids without two seeds per cell are not tested).
fn c4a_xavier_he_not_optimal(g: &Groups) -> Claim {
    let cfg = g.cfg;
    let deepest = |x: &GroupResult| -> Option<(usize, InitEval, InitEval)> {
        let d = *x.study.depths.last()?;
        let xa = x.study.xavier.iter().find(|e| e.depth == d)?.clone();
        let he = x.study.he.iter().find(|e| e.depth == d)?.clone();
        Some((d, xa, he))
    };
    let tested: Vec<&GroupResult> = g
        .all
        .iter()
        .copied()
        .filter(|x| deepest(x).is_some_and(|(_, xa, he)| xa.significant.is_some() && he.significant.is_some()))
        .collect();
    let criterion = format!(
        "at the largest depth of every grid, best accuracy minus the Xavier and the He accuracy each exceed {} standard errors (pooled seed sd)",
        cfg.gap_z
    );
    let (measured, st) = if tested.is_empty() {
        let why = if g.all.is_empty() {
            "no grid was trained".to_string()
        } else {
            "no grid has two seeds per cell to estimate the seed noise".to_string()
        };
        (why, ClaimStatus::NotTested)
    } else {
        let ok = tested.iter().all(|x| {
            let (_, xa, he) = deepest(x).expect("filtered");
            xa.significant == Some(true) && he.significant == Some(true)
        });
        let m = tested
            .iter()
            .map(|x| {
                let (d, xa, he) = deepest(x).expect("filtered");
                format!(
                    "{} at L = {d}: gap Xavier {} (se {}), He {} (se {})",
                    x.label,
                    f3(xa.gap),
                    f3(xa.gap_se.unwrap_or(f64::NAN)),
                    f3(he.gap),
                    f3(he.gap_se.unwrap_or(f64::NAN))
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        (m, status(ok))
    };
    mk("C4a", "Xavier and He initializations are not optimal for deep residual networks", criterion, measured, st)
}

/// C4b: the optimal variance depends on depth: for every grid with enough depths, the 95% CI of
/// the ridge slope excludes 0.
fn c4b_optimum_depends_on_depth(g: &Groups) -> Claim {
    let tested: Vec<&GroupResult> =
        g.all.iter().copied().filter(|x| g.enough(x)).filter(|x| x.study.slope.is_some()).collect();
    let criterion =
        "for every grid, the 95% CI of the slope of log(best variance) on log(depth) excludes 0".to_string();
    let (measured, st) = if tested.is_empty() {
        (g.not_enough(&g.all, "trained"), ClaimStatus::NotTested)
    } else {
        let ok = tested.iter().all(|x| !x.study.slope.as_ref().expect("filtered").fit.ci_contains(0.0));
        let m = tested
            .iter()
            .map(|x| {
                let f = &x.study.slope.as_ref().expect("filtered").fit;
                format!("{}: slope {} [{}, {}]", x.label, f3(f.slope), f3(f.ci_slope[0]), f3(f.ci_slope[1]))
            })
            .collect::<Vec<_>>()
            .join("; ");
        (m, status(ok))
    };
    mk("C4b", "The optimal initialization variance depends on depth", criterion, measured, st)
}
