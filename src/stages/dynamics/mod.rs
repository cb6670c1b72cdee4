//! Stage "dynamics" (chapter 3): iterates the mean-field recurrences of FRNs, RRNs and vanilla
//! nets to large depth and compares them with the asymptotic laws of docs/theory.md §5
//! (the paper's summary table), checking claims 1 and 2.
//!
//! Every law is measured from the discrete recurrence at the largest depth $L$ by a local
//! estimator chosen so that its known leading correction is small there (see [`TOLERANCES`]):
//! local log-log slopes between $L/2$ and $L$, local derivatives instead of ratios to remove
//! additive constants. The one slow law (the $\alpha$-ReLU cosine, $|e^l - e^*| \sim l^{-d}$ with
//! small $d$, whose local slope carries a correction proportional to $|e^l - e^*|$) is judged on
//! the continuum limit in log-depth ([`crate::meanfield::fit::continuum`]) carried to
//! `continuum_depth`, after checking it against the discrete recurrence; the discrete gap is
//! reported beside it.
//!
//! Files: [`config`] (the profile section), [`compute`] (the cases and their laws), [`claims`]
//! (C1a-C2d), [`figures`].

pub mod claims;
pub mod compute;
pub mod config;
pub mod figures;
#[cfg(test)]
mod tests;

pub use compute::{
    cases, run_case, Case, CaseResult, Column, DynamicsError, Family, LawRow, TolKind, Tolerance, TOLERANCES,
};
pub use config::Config;

use crate::meanfield::laws;
use crate::pipeline::{Artifact, Chapter, DataTable, Stage, StageContext, StageError};
use claims::act_label;
use rayon::prelude::*;
use serde_json::{json, Value};

/// Version of the stage's computation (part of its cache key).
pub const VERSION: u32 = 5;

/// The stage.
pub struct Dynamics {
    cfg: Config,
}

impl Dynamics {
    /// The stage for a profile section, whose values are checked here.
    pub fn new(cfg: Config) -> Result<Self, crate::pipeline::ConfigError> {
        cfg.check()?;
        Ok(Self { cfg })
    }
}

impl Stage for Dynamics {
    fn name(&self) -> &'static str {
        "dynamics"
    }
    fn version(&self) -> u32 {
        VERSION
    }
    fn deps(&self) -> &'static [&'static str] {
        &[]
    }
    fn config(&self) -> Value {
        crate::pipeline::key_value(&self.cfg).expect("config serializes")
    }
    fn chapter(&self) -> Option<Chapter> {
        Some(Chapter { title: "Dynamics", template: include_str!("../../../templates/chapters/dynamics.md.j2") })
    }
    fn run(&self, ctx: &StageContext) -> Result<Artifact, StageError> {
        let cfg = &self.cfg;
        let cases = cases(cfg);
        let bar = ctx.progress.bar(cases.len() as u64, "dynamics");
        // Cases are independent: run them on the rayon pool (sized to --jobs); order is kept.
        let results = cases
            .par_iter()
            .map(|case| {
                let r = run_case(cfg, case).map_err(|e| StageError::compute(format!("case '{}'", case.label), e));
                bar.inc(1);
                r
            })
            .collect::<Result<Vec<_>, _>>()?;
        bar.finish();
        build_artifact(cfg, &results)
    }
}

/// Assembles the summary the chapter reads, the table of laws, the figures and the claims.
pub fn build_artifact(cfg: &Config, results: &[CaseResult]) -> Result<Artifact, StageError> {
    let rows: Vec<&LawRow> = results.iter().flat_map(|r| &r.rows).collect();
    let table_rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "arch": r.arch.short(), "act": r.act, "alpha": r.alpha, "quantity": r.quantity, "law": r.law,
                "theory": r.theory, "measured": r.measured, "measured_discrete": r.measured_discrete,
                "measured_continuum": r.measured_continuum,
                "depth": r.depth, "abs_diff": r.abs_diff, "tolerance": r.tolerance,
                "tolerance_kind": r.tolerance_kind, "pass": r.pass,
            })
        })
        .collect();
    let cases: Vec<Value> = results
        .iter()
        .map(|r| {
            let col = |c: Column| -> Vec<&LawRow> { r.rows.iter().filter(|x| x.column == c).collect() };
            json!({
                "label": r.case.label,
                "arch": r.case.spec.arch.short(),
                "act": act_label(r.case.spec.act.into(), r.case.spec.act.alpha().filter(|_| matches!(r.case.family, Family::Alpha(_)))),
                "variances": r.case.spec.var,
                "depth": r.case.depth,
                "p": col(Column::P), "e": col(Column::E), "grad": col(Column::Grad),
                "pass": r.rows.iter().all(|x| x.pass),
                "e_star": r.e_star,
                "continuum_agreement": r.continuum_agreement,
            })
        })
        .collect();
    let failed: Vec<Value> = rows
        .iter()
        .filter(|r| !r.pass)
        .map(|r| json!({"label": r.label, "arch": r.arch.short(), "act": act_label(r.act, r.alpha), "quantity": r.quantity, "theory": r.theory, "measured": r.measured, "abs_diff": r.abs_diff, "tolerance": r.tolerance, "tolerance_kind": r.tolerance_kind}))
        .collect();
    let slow: Vec<Value> = rows
        .iter()
        .filter(|r| r.measured_discrete.is_some())
        .map(|r| {
            let md = r.measured_discrete.unwrap_or(f64::NAN);
            json!({
                "arch": r.arch.short(), "alpha": r.alpha, "d": -r.theory, "discrete": md, "discrete_gap": (md - r.theory).abs(),
                "continuum": r.measured, "continuum_gap": r.abs_diff, "pass": r.pass,
            })
        })
        .collect();
    let supplementary: Vec<Value> = results
        .iter()
        .flat_map(|r| r.rows.iter().map(move |x| (r, x)))
        .filter(|(_, x)| x.measured_continuum.is_some() && x.measured_discrete.is_none())
        .map(|(r, x)| {
            json!({
                "label": r.case.label, "theory": x.theory, "d": -x.theory, "measured": x.measured, "abs_diff": x.abs_diff,
                "continuum_within_tol": (x.measured_continuum.unwrap_or(f64::NAN) - x.theory).abs() <= x.tolerance,
                "tolerance": x.tolerance,
                "continuum": x.measured_continuum, "continuum_gap": (x.measured_continuum.unwrap_or(f64::NAN) - x.theory).abs(),
                "continuum_depth": cfg.tanh_continuum_depth, "agreement": r.continuum_agreement, "e_star": r.e_star,
                "pass": x.pass,
            })
        })
        .collect();
    let agreement_max = results.iter().filter_map(|r| r.continuum_agreement).fold(0.0, f64::max);
    let tolerances: Vec<Value> =
        TOLERANCES.iter().map(|t| json!({"name": t.name, "value": t.value, "kind": t.kind, "why": t.why})).collect();

    let claims = claims::claims(results);
    let figures = figures::figures(cfg, results)?;
    let summary = json!({
        "config": cfg,
        "depth": cfg.depth,
        "n_rows": rows.len(),
        "n_pass": rows.iter().filter(|r| r.pass).count(),
        "cases": cases,
        "failed": failed,
        "slow": slow,
        "supplementary": supplementary,
        "method": {
            "hermite_order": crate::meanfield::expectations::N_HERMITE,
            "table_step": crate::meanfield::expectations::XI_STEP,
            "table_q_min": crate::meanfield::expectations::XI_MIN.exp(),
            "table_q_max": crate::meanfield::expectations::XI_MAX.exp(),
            "mehler_tol": crate::meanfield::expectations::MEHLER_TOL,
        },
        "continuum_agreement_max": agreement_max,
        "tolerances": tolerances,
        "claims": claims,
        "theory": theory_summary(cfg),
    });
    Ok(Artifact {
        summary,
        tables: vec![DataTable {
            name: "asymptotics".into(),
            rows: table_rows,
            json_key: None,
            extra: Default::default(),
        }],
        figures,
        claims,
    })
}

/// Constants of the theory quoted in the text.
fn theory_summary(cfg: &Config) -> Value {
    let frn = crate::meanfield::Blocks { aq: cfg.sw2, bq: 0.0, kappa: 1.0, sigma: cfg.sv2, tau: 0.0 };
    let alphas: Vec<Value> = cfg
        .alphas
        .iter()
        .map(|&a| {
            json!({
                "alpha": a, "r": laws::alpha_r(a), "e_star": laws::alpha_e_star(a).ok(), "d": laws::alpha_d(a).ok(),
                "p_exponent": laws::alpha_p_exponent(a),
            })
        })
        .collect();
    json!({
        "tanh_d0": 1.0 - 2.0 / std::f64::consts::PI,
        "tanh_k": laws::tanh_grad_const(&frn),
        "relu_k": laws::RELU_K,
        "relu_rate": laws::relu_rate(&frn),
        "alphas": alphas,
        "r_min": laws::alpha_r(2.0 / 3.0),
    })
}
