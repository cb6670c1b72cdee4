//! The chapter's claims: docs/theory.md §6 (claims 3 and 4), split into checkable statements, one
//! function per claim id. Every criterion is fixed before the data are read and stated in the
//! ledger before the measurement. A claim is `NotTested` when no grid has the data it needs (the
//! `measured` text says what is missing), `Inconclusive` when the data cannot decide (an interval
//! too wide, too few seeds for a seed-level interval, metrics that cannot be told apart),
//! `Reproduced` or `NotReproduced` otherwise.

use super::compute::{f3, metric_tex, n_ridge, Analysis, GroupResult, HE_VARIANCE, XAVIER_VARIANCE};
use super::held_out::{HeldOutEval, HeldOutInit};
use super::Config;
use crate::activation::Activation;
use crate::analysis::compare::{MaeComparison, Versus, MIN_DISTINCT};
use crate::analysis::slope::{equivalence, Equivalence};
use crate::analysis::study::{InitEval, Study};
use crate::meanfield::init::LN_F32_MAX;
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
        c4c_depth_aware_init_validated(&g, &a.held_out),
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
    /// The grids the claims judge: the residual ones (FRN, RRN). Claims 3 and 4 are statements
    /// about residual networks; a vanilla grid is a baseline the chapter shows beside them, not
    /// evidence for or against them.
    fn new(a: &'a Analysis, cfg: &'a Config) -> Self {
        let residual = || a.groups.iter().filter(|g| g.arch != crate::architecture::Architecture::Vanilla);
        Self {
            cfg,
            all: residual().collect(),
            tanh: residual().filter(|g| g.act == Activation::Tanh).collect(),
            relu: residual().filter(|g| is_relu_like(&g.act)).collect(),
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

/// Combines per-grid verdicts: `NotReproduced` if any grid says no, `Reproduced` if every grid
/// says yes, `Inconclusive` otherwise.
fn combine(v: &[ClaimStatus]) -> ClaimStatus {
    if v.contains(&ClaimStatus::NotReproduced) {
        ClaimStatus::NotReproduced
    } else if !v.is_empty() && v.iter().all(|s| *s == ClaimStatus::Reproduced) {
        ClaimStatus::Reproduced
    } else {
        ClaimStatus::Inconclusive
    }
}

fn join(parts: Vec<String>) -> String {
    parts.join("; ")
}

/// C3a: the tanh ridge $\ln v^* = a + b \ln L$ has slope $b = -1$ ($\sigma_v^2 L$ constant): the ridge
/// on trained cells, the slope's seed-level 95% bootstrap interval, and the equivalence margin
/// `slope_margin` ([`crate::analysis::slope`]).
fn c3a_ridge_slope(g: &Groups) -> Claim {
    let cfg = g.cfg;
    let criterion = format!(
        "fixed before the data: the best $\\sigma_v^2$ at each depth is the peak of mean accuracy over the cells where every seed trained (never interpolated through a failed cell); $b$ is the least-squares slope of $\\ln \\sigma_v^{{2*}}$ on $\\ln L$ over the depths with an interior peak (at least {}); its 95% interval is the seed-level bootstrap ({} replicates, seeds resampled per depth; needs {} or more seeds per cell). Reproduced if the interval lies inside $-1 \\pm {}$, not reproduced if it excludes $-1$, inconclusive otherwise",
        cfg.min_depths, cfg.bootstrap, cfg.min_seeds, cfg.slope_margin
    );
    let tested: Vec<&GroupResult> = g.tanh.iter().copied().filter(|x| g.enough(x)).collect();
    let (measured, st) = if tested.is_empty() {
        (g.not_enough(&g.tanh, "tanh"), ClaimStatus::NotTested)
    } else {
        let mut v = Vec::new();
        let mut m = Vec::new();
        for x in &tested {
            match &x.seed_slope {
                Some(s) => {
                    let eq = equivalence(s.ci.lo, s.ci.hi, -1.0, cfg.slope_margin);
                    let few = x.min_seeds < cfg.min_seeds;
                    v.push(match (few, eq) {
                        (true, _) => ClaimStatus::Inconclusive,
                        (false, Equivalence::Equivalent) => ClaimStatus::Reproduced,
                        (false, Equivalence::Different) => ClaimStatus::NotReproduced,
                        (false, Equivalence::Undecided) => ClaimStatus::Inconclusive,
                    });
                    m.push(format!(
                        "{}: $b = {}$, 95% interval $[{}, {}]$ over depths {:?} ({} distinct replicates){}",
                        x.label,
                        f3(s.ci.estimate),
                        f3(s.ci.lo),
                        f3(s.ci.hi),
                        s.depths,
                        s.ci.distinct,
                        if few {
                            format!("; only {} seeds per cell (need {})", x.min_seeds, cfg.min_seeds)
                        } else {
                            String::new()
                        }
                    ));
                }
                None => {
                    v.push(ClaimStatus::Inconclusive);
                    m.push(format!("{}: no slope ({})", x.label, x.seed_slope_error.as_deref().unwrap_or("?")));
                }
            }
        }
        (join(m), combine(&v))
    };
    mk("C3a", "Peak accuracy of tanh resnets keeps $\\sigma_v^2 L$ constant: $\\ln \\sigma_v^{2*}$ falls with slope $-1$ in $\\ln L$", criterion, measured, st)
}

/// The contour offset of metric `key` on grid `x`, in grid steps.
fn offset(x: &GroupResult, key: &str) -> Option<f64> {
    x.offsets.iter().find(|(k, _)| k == key).and_then(|(_, o)| o.as_ref().ok()).map(|o| o.rms_steps)
}

/// C3b: the log gradient explosion is nearly constant along the tanh ridge: its contour through the
/// ridge stays within `offset_steps` grid steps of it (RMS), on a grid where the ridge moves (the
/// null $\ln\sigma_v^2$, whose contours are vertical, strays by more); the null $\ln(\sigma_v^2 L)$ is
/// reported beside it.
fn c3b_explosion_constant_on_ridge(g: &Groups) -> Claim {
    let cfg = g.cfg;
    let criterion = format!(
        "fixed before the data: the contour of $\\ln(\\chi^0/\\chi^L)$ at its lower-median value on the ridge, followed across depths, stays within {} grid step(s) of the ridge (root-mean-square offset in units of one $\\ln \\sigma_v^2$ step; unchanged by monotone transforms of the metric). Reproduced if it does and the null $\\ln \\sigma_v^2$ strays by more than that (the ridge moves at all); not reproduced if it strays by more and the null does too; inconclusive if the null also stays within it (the grid cannot tell). The null $\\ln(\\sigma_v^2 L)$ is shown for comparison",
        cfg.offset_steps
    );
    let tested: Vec<&GroupResult> =
        g.tanh.iter().copied().filter(|x| g.enough(x)).filter(|x| offset(x, "log_explosion").is_some()).collect();
    let (measured, st) = if tested.is_empty() {
        (g.not_enough(&g.tanh, "tanh"), ClaimStatus::NotTested)
    } else {
        let mut v = Vec::new();
        let mut m = Vec::new();
        for x in &tested {
            let (og, ov, ovl) =
                (offset(x, "log_explosion").expect("filtered"), offset(x, "log_v"), offset(x, "log_vl"));
            let moves = ov.is_some_and(|o| o > cfg.offset_steps);
            v.push(match (og <= cfg.offset_steps, moves) {
                (true, true) => ClaimStatus::Reproduced,
                (false, true) => ClaimStatus::NotReproduced,
                _ => ClaimStatus::Inconclusive,
            });
            m.push(format!(
                "{}: offset of $\\ln(\\chi^0/\\chi^L)$ {} steps; nulls $\\ln \\sigma_v^2$ {}, $\\ln(\\sigma_v^2 L)$ {}",
                x.label,
                f3(og),
                ov.map_or("-".into(), f3),
                ovl.map_or("-".into(), f3)
            ));
        }
        (join(m), combine(&v))
    };
    mk(
        "C3b",
        "The expected gradient explosion $\\ln(\\chi^0/\\chi^L)$ is nearly constant along the tanh accuracy ridge",
        criterion,
        measured,
        st,
    )
}

/// C3c: the log gradient explosion is the best predictor for tanh (see [`best_predictor`]).
fn c3c_explosion_predicts_tanh(g: &Groups) -> Claim {
    best_predictor(
        g,
        "C3c",
        "The gradient explosion $\\ln(\\chi^0/\\chi^L)$ is the init-time metric that best predicts training of tanh resnets",
        &g.tanh,
        "tanh",
    )
}

/// C3d: the metric expressivity $\ln s^L$ is the best predictor for ReLU and $\alpha$-ReLU (see
/// [`best_predictor`]).
fn c3d_expressivity_predicts_relu(g: &Groups) -> Claim {
    best_predictor(
        g,
        "C3d",
        "The metric expressivity $s^L$ is the init-time metric that best predicts training of ReLU and $\\alpha$-ReLU resnets",
        &g.relu,
        "ReLU or α-ReLU",
    )
}

/// The verdict of one comparison: `NotReproduced` if another metric is significantly better,
/// `Reproduced` if the reference is significantly better than every other, `Inconclusive` otherwise.
fn comparison_verdict(c: &MaeComparison) -> ClaimStatus {
    let per_metric: Vec<ClaimStatus> = (0..c.names.len())
        .filter_map(|m| c.versus(m))
        .map(|v| match v {
            Versus::Better => ClaimStatus::NotReproduced,
            Versus::Worse => ClaimStatus::Reproduced,
            Versus::Indistinguishable => ClaimStatus::Inconclusive,
        })
        .collect();
    combine(&per_metric)
}

/// C3c / C3d: the theory's metric against the four others and the nulls $\ln v$, $\ln(vL)$, scored
/// separately for trainability and for accuracy given trained, over the grid's family (every
/// $\sigma_w^2$ pooled), with seed-level intervals of the MAE differences ([`crate::analysis::compare`]).
fn best_predictor(g: &Groups, id: &str, claim: &str, gs: &[&GroupResult], what: &str) -> Claim {
    let cfg = g.cfg;
    let criterion = format!(
        "fixed before the data: two targets per cell, the failure fraction (trainability) and the mean accuracy of the runs that trained (accuracy given trained); for each, every metric's held-out error (leave one depth out, kernel regression of the target on the metric, MAE over the held-out cells), pooled over the grids that differ only in $\\sigma_w^2$; $D_m = \\mathrm{{MAE}}(\\text{{theory metric}}) - \\mathrm{{MAE}}(m)$ with a seed-level 95% bootstrap interval ({} replicates, needs {} or more seeds per cell), against the other four metrics and the nulls $\\ln v$ and $\\ln(v L)$. Not reproduced if some $D_m$ interval lies above 0 for a target; reproduced if, for some target, every interval lies below 0 and, for the other, none lies above 0; inconclusive otherwise (or with a target that cannot be scored for both)",
        cfg.bootstrap, cfg.min_seeds
    );
    let tested: Vec<&GroupResult> =
        gs.iter().copied().filter(|x| g.enough(x) && x.comparisons.iter().any(|(_, c)| c.is_ok())).collect();
    // one verdict per family (grids pooled over sigma_w^2 share one)
    let mut seen: Vec<(&serde_json::Value, Vec<f64>)> = Vec::new();
    let (measured, st) = if tested.is_empty() {
        let why = if gs.is_empty() {
            format!("no {what} grid was trained")
        } else if !gs.iter().any(|x| g.enough(x)) {
            g.not_enough(gs, what)
        } else {
            join(
                gs.iter()
                    .map(|x| {
                        let e: Vec<String> = x
                            .comparisons
                            .iter()
                            .filter_map(|(t, c)| c.as_ref().err().map(|e| format!("{}: {e}", t.label())))
                            .collect();
                        format!("{}: {}", x.label, e.join(", "))
                    })
                    .collect(),
            )
        };
        (why, ClaimStatus::NotTested)
    } else {
        let mut v = Vec::new();
        let mut m = Vec::new();
        for x in &tested {
            if seen.iter().any(|(h, s)| *h == &x.hyper && *s == x.compared_sw2) {
                continue;
            }
            seen.push((&x.hyper, x.compared_sw2.clone()));
            let axis = x.axis.latex();
            let mut per = Vec::new();
            let mut statuses = Vec::new();
            let mut few = false;
            for (t, c) in &x.comparisons {
                match c {
                    Ok(c) => {
                        few |= c.min_seeds < cfg.min_seeds;
                        statuses.push(comparison_verdict(c));
                        let diffs: Vec<String> = (0..c.names.len())
                            .filter_map(|k| {
                                c.diff[k].as_ref().map(|ci| {
                                    let flat = if ci.distinct < MIN_DISTINCT { " (no seed variability)" } else { "" };
                                    format!("{} $[{}, {}]${flat}", metric_tex(&c.names[k], axis), f3(ci.lo), f3(ci.hi))
                                })
                            })
                            .collect();
                        per.push(format!(
                            "{} ({} cells): MAE of {} {}, $D_m$: {}",
                            t.label(),
                            c.n_cells,
                            metric_tex(&c.names[c.reference], axis),
                            f3(c.mae[c.reference]),
                            diffs.join(", ")
                        ));
                    }
                    Err(e) => {
                        statuses.push(ClaimStatus::Inconclusive);
                        per.push(format!("{}: not scored ({e})", t.label()));
                    }
                }
            }
            // reproduced needs one target significantly better and the other not worse
            let st = if statuses.contains(&ClaimStatus::NotReproduced) {
                ClaimStatus::NotReproduced
            } else if statuses.contains(&ClaimStatus::Reproduced) && !few {
                ClaimStatus::Reproduced
            } else {
                ClaimStatus::Inconclusive
            };
            let st = if few && st == ClaimStatus::NotReproduced { ClaimStatus::Inconclusive } else { st };
            v.push(st);
            let sw = if x.compared_sw2.len() > 1 {
                format!(
                    "$\\sigma_w^2 \\in \\{{{}\\}}$ pooled",
                    x.compared_sw2.iter().map(|s| f3(*s)).collect::<Vec<_>>().join(", ")
                )
            } else {
                format!("only $\\sigma_w^2 = {}$: the gradient explosion and $p^L$ are nearly functions of each other on this grid", f3(x.sw2))
            };
            m.push(format!(
                "{} ({sw}{}): {}",
                x.label,
                if few { format!("; {} seeds per cell, need {}", x.min_seeds, cfg.min_seeds) } else { String::new() },
                per.join("; ")
            ));
        }
        (join(m), combine(&v))
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
        "for every grid, the held-out skill of $e^L$ ($1 - \\mathrm{{MAE}}/\\mathrm{{MAE}}_0$, $\\mathrm{{MAE}}_0$ that of a constant) is below {} times that of the best metric",
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
                    format!("{}: $e^L$ is the best metric (skill {})", x.label, f3(se))
                } else {
                    format!("{}: skill of $e^L$ {}, of {} {}", x.label, f3(se), metric_tex(&b, x.axis.latex()), f3(sb))
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        (m, status(ok))
    };
    mk("C3e", "The angular expressivity $e^L$ does not predict accuracy", criterion, measured, st)
}

/// C3f: for ReLU-type grids the failures that are overflows (`overflow_at_init`, `nonfinite`) begin
/// where the theory's $\ln p^L$ reaches the float32 limit $\ln(3.4 \times 10^{38}) = 88.72$ (for a
/// zero-bias ReLU FRN the contour $\sigma_v^2\sigma_w^2 = 2(e^{88.72/L} - 1)$).
fn c3f_relu_failure_follows_p(g: &Groups) -> Claim {
    let criterion = format!(
        "fixed before the data: per depth, the first variance whose cell has a run that overflowed (outcome `overflow_at_init` or `nonfinite`) and the first variance with theory $\\ln p^L \\ge {}$; reproduced if at every depth where either exists they are within one grid step of each other, not reproduced if at some depth they are further apart (or runs overflow where $\\ln p^L$ stays below the limit by more than a step); not tested if the grid never reaches the limit and no run overflowed. Runs that blew up (loss above a multiple of its start) are a learning-rate instability, not overflow, and are only counted",
        f3(LN_F32_MAX)
    );
    let tested: Vec<&GroupResult> =
        g.relu.iter().copied().filter(|x| x.overflow.rows.iter().any(|(_, o, p)| o.is_some() || p.is_some())).collect();
    let (measured, st) = if tested.is_empty() {
        let why = if g.relu.is_empty() {
            "no ReLU or α-ReLU grid was trained".to_string()
        } else {
            join(g.relu.iter().map(|x| format!(
                "{}: no run overflowed and the grid never reaches the limit (largest theory $\\ln p^L$ {}); {} runs blew up, {} failed otherwise",
                x.label, f3(x.overflow.max_log_p), x.overflow.n_blowup, x.overflow.n_overflow
            )).collect())
        };
        (why, ClaimStatus::NotTested)
    } else {
        let mut v = Vec::new();
        let mut m = Vec::new();
        for x in &tested {
            let step = x.overflow.step;
            let mut ok = true;
            let mut parts = Vec::new();
            for (d, o, p) in &x.overflow.rows {
                if o.is_none() && p.is_none() {
                    continue;
                }
                let agree = match (o, p) {
                    (Some(o), Some(p)) => (o.ln() - p.ln()).abs() <= step * (1.0 + 1e-9),
                    _ => false,
                };
                ok &= agree;
                parts.push(format!(
                    "$L = {d}$: first overflow at {}, limit reached at {}",
                    o.map_or("none".into(), f3),
                    p.map_or("none".into(), f3)
                ));
            }
            v.push(if ok { ClaimStatus::Reproduced } else { ClaimStatus::NotReproduced });
            m.push(format!(
                "{}: {} ({} overflowed runs, {} blow-ups)",
                x.label,
                parts.join(", "),
                x.overflow.n_overflow,
                x.overflow.n_blowup
            ));
        }
        (join(m), combine(&v))
    };
    mk(
        "C3f",
        "For ReLU-type resnets, training fails by float overflow where $p^L$ reaches the float32 limit",
        criterion,
        measured,
        st,
    )
}

/// Accuracy gap of an initialization at depth `d` of grid `x`: from its runs at the true point
/// (every weight variance `w`) when the training stage trained them, else from the grid's axis
/// point (`axis`). Returns (gap, its standard error, whether the true point was used).
fn init_gap(x: &GroupResult, d: usize, w: f64, axis: &InitEval, fail: f64) -> (f64, Option<f64>, bool) {
    match x.true_points.iter().find(|t| t.depth == d && t.weight_variance == w) {
        Some(t) => {
            let acc: Vec<f64> = t.accuracies.iter().map(|a| a.unwrap_or(fail)).collect();
            let m = acc.iter().sum::<f64>() / acc.len() as f64;
            let n_best = x.study.ridge.iter().find(|r| r.point.depth == d).map_or(1, |r| r.point.best_n);
            let se = x.study.pooled_seed_sd.map(|s| s * (1.0 / n_best as f64 + 1.0 / acc.len() as f64).sqrt());
            (axis.best_accuracy - m, se, true)
        }
        None => (axis.gap, axis.gap_se, false),
    }
}

/// C4a: Xavier and He are not optimal at depth: at the largest depth of every grid, the best
/// accuracy exceeds the Xavier and the He accuracy each by more than `gap_z` standard errors
/// (from the pooled seed sd of the fully trained cells, [`crate::analysis::ridge::Grid::pooled_seed_sd`]). Xavier and He are read at their true points (every weight variance 1, resp.
/// 2) where the training stage trained them there, otherwise at their value on the grid's axis
/// (the ledger says which).
fn c4a_xavier_he_not_optimal(g: &Groups) -> Claim {
    let cfg = g.cfg;
    let deepest = |x: &GroupResult| -> Option<(usize, InitEval, InitEval)> {
        let d = *x.study.depths.last()?;
        let xa = x.study.xavier.iter().find(|e| e.depth == d)?.clone();
        let he = x.study.he.iter().find(|e| e.depth == d)?.clone();
        Some((d, xa, he))
    };
    let gaps = |x: &GroupResult| {
        let (d, xa, he) = deepest(x).expect("filtered");
        (
            d,
            init_gap(x, d, XAVIER_VARIANCE, &xa, cfg.fail_accuracy),
            init_gap(x, d, HE_VARIANCE, &he, cfg.fail_accuracy),
        )
    };
    let tested: Vec<&GroupResult> = g
        .all
        .iter()
        .copied()
        .filter(|x| deepest(x).is_some())
        .filter(|x| {
            let (_, a, b) = gaps(x);
            a.1.is_some() && b.1.is_some()
        })
        .collect();
    let criterion = format!(
        "at the largest depth of every grid, best accuracy minus the Xavier and the He accuracy each exceed {} standard errors (from the seed sd pooled over the cells where every seed trained; a failed seed counts at the fail accuracy {}); Xavier and He trained at their true points ($\\sigma_w^2 = \\sigma_v^2 = 1$, resp. $2$) where the training stage trained them, otherwise read on the grid's axis",
        cfg.gap_z, cfg.fail_accuracy
    );
    let (measured, st) = if tested.is_empty() {
        let why = if g.all.is_empty() {
            "no grid was trained".to_string()
        } else {
            "no grid has two seeds per cell to estimate the seed noise".to_string()
        };
        (why, ClaimStatus::NotTested)
    } else {
        let sig = |(gap, se, _): (f64, Option<f64>, bool)| se.is_some_and(|se| gap > cfg.gap_z * se);
        let ok = tested.iter().all(|x| {
            let (_, a, b) = gaps(x);
            sig(a) && sig(b)
        });
        let where_ = |t: bool| if t { "true point" } else { "on the axis" };
        let m = tested
            .iter()
            .map(|x| {
                let (d, a, b) = gaps(x);
                format!(
                    "{} at $L = {d}$: gap Xavier ({}) {} (se {}), He ({}) {} (se {})",
                    x.label,
                    where_(a.2),
                    f3(a.0),
                    f3(a.1.unwrap_or(f64::NAN)),
                    where_(b.2),
                    f3(b.0),
                    f3(b.1.unwrap_or(f64::NAN))
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        (m, status(ok))
    };
    mk("C4a", "Xavier and He initializations are not optimal for deep residual networks", criterion, measured, st)
}

/// C4b: the optimal variance depends on depth, decided per grid by one test fixed in advance:
/// where the failure boundary lies inside the grid at two or more depths, whether it moves (its
/// bracketing intervals at the shallowest and the deepest such depth are disjoint: a shift of at
/// least one grid step); otherwise the ridge slope's seed-level interval (excludes 0: depends;
/// inside $0 \pm$ `slope_margin`: does not; else undecided).
fn c4b_optimum_depends_on_depth(g: &Groups) -> Claim {
    let cfg = g.cfg;
    let criterion = format!(
        "fixed before the data, one test per grid: if training fails above some variance at two or more depths, the failure boundary (between the last variance where a seed trained and the first of the range where all failed) must move: its intervals at the shallowest and the deepest of those depths are disjoint; otherwise the ridge slope's seed-level 95% interval (C3a) must exclude 0 (inside $0 \\pm {}$: does not depend; needs {} seeds per cell). Reproduced if every grid's test says it depends, not reproduced if one says it does not, inconclusive otherwise",
        cfg.slope_margin, cfg.min_seeds
    );
    let mut v = Vec::new();
    let mut m = Vec::new();
    for x in &g.all {
        if x.boundary.len() >= 2 {
            let (a, b) = (&x.boundary[0], &x.boundary[x.boundary.len() - 1]);
            let disjoint = b.v_above <= a.v_below || a.v_above <= b.v_below;
            v.push(if disjoint { ClaimStatus::Reproduced } else { ClaimStatus::NotReproduced });
            m.push(format!(
                "{}: failure boundary between {} and {} at $L = {}$, between {} and {} at $L = {}$",
                x.label,
                f3(a.v_below),
                f3(a.v_above),
                a.depth,
                f3(b.v_below),
                f3(b.v_above),
                b.depth
            ));
        } else if let Some(s) = &x.seed_slope {
            let few = x.min_seeds < cfg.min_seeds;
            let st = if few {
                ClaimStatus::Inconclusive
            } else if !s.ci.contains(0.0) {
                ClaimStatus::Reproduced
            } else if s.ci.lo > -cfg.slope_margin && s.ci.hi < cfg.slope_margin {
                ClaimStatus::NotReproduced
            } else {
                ClaimStatus::Inconclusive
            };
            v.push(st);
            m.push(format!(
                "{}: no failure boundary; ridge slope {} $[{}, {}]${}",
                x.label,
                f3(s.ci.estimate),
                f3(s.ci.lo),
                f3(s.ci.hi),
                if few { format!(" ({} seeds per cell, need {})", x.min_seeds, cfg.min_seeds) } else { String::new() }
            ));
        } else {
            m.push(format!(
                "{}: no failure boundary and no ridge slope ({})",
                x.label,
                x.seed_slope_error.as_deref().unwrap_or("?")
            ));
        }
    }
    let st = if v.is_empty() { ClaimStatus::NotTested } else { combine(&v) };
    let measured = if m.is_empty() { "no grid was trained".to_string() } else { join(m) };
    mk("C4b", "The optimal initialization variance depends on depth", criterion, measured, st)
}

/// A standard error, or "undefined" (one seed and no pooled seed sd).
fn fse(x: f64) -> String {
    if x.is_finite() {
        f3(x)
    } else {
        "undefined: one seed".into()
    }
}

/// C4c: the depth-aware initialization of `edge-of-chaos init` trains at least as well as the grid's
/// best variance, and better than Xavier and He, at depths the grid never saw. Decided from
/// [`HeldOutEval`]s; `NotTested` when the training stage has trained none.
fn c4c_depth_aware_init_validated(g: &Groups, held_out: &[HeldOutEval]) -> Claim {
    let cfg = g.cfg;
    let criterion = format!(
        "fixed before the data: at each held-out depth (between or beyond the grid's depths, never trained in the grid) four initializations are trained with every seed and the grid's settings: the recommendation (the search of `edge-of-chaos init` with the grid's target metric, bounded by the median of that metric along the grid's ridge over the grid's own depths), the grid's best variance (the best cell at the nearest grid depth in $\\ln L$), Xavier and He at their true points; failures count as accuracy {}. With $\\Delta$ the mean-accuracy difference and se its standard error (per initialization $s/\\sqrt n$, $s$ the larger of its seeds' sd and the grid's pooled seed sd of C4a): reproduced if at every held-out depth recommendation $-$ grid best $> -{}$ se and recommendation $-$ Xavier, recommendation $-$ He $> {}$ se; not reproduced if recommendation $-$ grid best $< -{}$ se or it is below Xavier or He by more than {} se anywhere; inconclusive otherwise",
        cfg.fail_accuracy, cfg.gap_z, cfg.gap_z, cfg.gap_z, cfg.gap_z
    );
    let depths: Vec<(&str, usize)> = {
        let mut d: Vec<(&str, usize)> = held_out.iter().map(|h| (h.grid.as_str(), h.depth)).collect();
        // in the chapter's order of the grids, then by depth
        let order = |id: &str| g.all.iter().position(|x| x.id == id).unwrap_or(usize::MAX);
        d.sort_by_key(|&(id, depth)| (order(id), id, depth));
        d.dedup();
        d
    };
    if depths.is_empty() {
        return mk(
            "C4c",
            "The depth-aware initialization of `edge-of-chaos init` trains at least as well as the grid's best variance, and better than Xavier and He, at depths the grid never saw",
            criterion,
            "the training stage trained no network at a held-out depth (it needs, per grid, one or two depths outside the grid trained at the recommendation, Xavier, He and the grid's best variance, all seeds)".into(),
            ClaimStatus::NotTested,
        );
    }
    let mut v = Vec::new();
    let mut m = Vec::new();
    for (grid, d) in depths {
        let get = |k: HeldOutInit| held_out.iter().find(|h| h.grid == grid && h.depth == d && h.init == k);
        let (Some(r), Some(b), Some(x), Some(h)) =
            (get(HeldOutInit::Recommended), get(HeldOutInit::GridBest), get(HeldOutInit::Xavier), get(HeldOutInit::He))
        else {
            v.push(ClaimStatus::Inconclusive);
            m.push(format!("{grid} at $L = {d}$: not every initialization was trained (no recommendation)"));
            continue;
        };
        let floor = g.all.iter().find(|x| x.id == grid).and_then(|x| x.study.pooled_seed_sd).unwrap_or(f64::NAN);
        let (mr, sr) = r.mean_se(cfg.fail_accuracy, floor);
        let z = |o: &HeldOutEval| {
            let (mo, so) = o.mean_se(cfg.fail_accuracy, floor);
            let se = (sr * sr + so * so).sqrt();
            ((mr - mo), se)
        };
        let ((db, sb), (dx, sx), (dh, sh)) = (z(b), z(x), z(h));
        let ok = db > -cfg.gap_z * sb && dx > cfg.gap_z * sx && dh > cfg.gap_z * sh;
        let bad = db < -cfg.gap_z * sb || dx < -cfg.gap_z * sx || dh < -cfg.gap_z * sh;
        v.push(if ok {
            ClaimStatus::Reproduced
        } else if bad {
            ClaimStatus::NotReproduced
        } else {
            ClaimStatus::Inconclusive
        });
        let label = g.all.iter().find(|x| x.id == grid).map_or(grid, |x| x.label.as_str());
        m.push(format!(
            "{label} at $L = {d}$: recommendation ($v = {}$) {}; $\\Delta$ vs grid best ($v = {}$) {} (se {}), vs Xavier {} (se {}), vs He {} (se {})",
            f3(r.variance),
            f3(mr),
            f3(b.variance),
            f3(db),
            fse(sb),
            f3(dx),
            fse(sx),
            f3(dh),
            fse(sh)
        ));
    }
    mk(
        "C4c",
        "The depth-aware initialization of `edge-of-chaos init` trains at least as well as the grid's best variance, and better than Xavier and He, at depths the grid never saw",
        criterion,
        join(m),
        combine(&v),
    )
}
