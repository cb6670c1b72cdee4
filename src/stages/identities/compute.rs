//! The computation of the identities chapter: [`compute`] runs one step per identity (I1-I7),
//! each comparing independent methods row by row ([`Checker`]), and collects the rows, the
//! summary the chapter reads and the data of the figures.

mod asymptotics;
mod checker;
mod kernel_checks;
mod methods;

pub use checker::{Checker, Criterion, Row};
pub use kernel_checks::{check_derivative_fd, check_w_against_quadrature};
pub use methods::{
    c_alpha_quadrature, c_grid, central_diff8, k0_integral_quadrature, loglog_slope, tanh_v_vp, tanh_v_vp_exp_sinh,
    tanh_w, w_by_integrated_derivative, w_monte_carlo, w_polar_quadrature,
};

use super::Config;
use crate::math::kernels::alpha_relu_w;
use crate::math::MathError;
use crate::pipeline::StageError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Relative tolerance of closed form vs quadrature (I1-I5).
pub const TOL_QUAD: f64 = 1e-10;
/// Monte Carlo agreement, in standard errors.
pub const TOL_SIGMA: f64 = 4.0;
/// Relative tolerance of the finite-difference check of I4 (an 8th-order central difference
/// with step $0.02(1-|c|)$ on $|c| \le 0.9$: truncation $\lesssim 10^{-11}$, rounding
/// $\lesssim 10^{-13}$).
pub const TOL_FD: f64 = 1e-10;
/// Absolute tolerance for forms that cancel (the paper's form of W at c -> -1).
pub const TOL_ABS: f64 = 1e-14;
/// Step of the central difference of I4 relative to the distance $1 - |c|$ to the singularity.
pub const FD_STEP: f64 = 0.02;
/// The central-difference check of I4 uses $|c| \le$ this.
pub const FD_C_MAX: f64 = 0.9;
/// The exponent of I6 is fitted on $\epsilon \le$ this.
pub const EPS_FIT_MAX: f64 = 1e-2;
/// The rates of I7 are fitted on $q \ge$ this.
pub const Q_FIT_MIN: f64 = 100.0;
/// Nodes of the Gauss-Hermite rule whose failure I7 demonstrates (docs/theory.md §3, I7).
pub const GH_NODES: usize = 120;

/// The alphas of I2 (docs/theory.md §4).
pub const ALPHAS_I2: [f64; 7] = [0.55, 0.6, 0.75, 0.9, 1.0, 1.5, 2.0];
/// The alphas of I1 (the whole range alpha > -1/2 including negative ones).
pub const ALPHAS_I1: [f64; 13] = [-0.4, -0.25, 0.0, 0.25, 0.5, 0.55, 0.6, 0.75, 0.9, 1.0, 1.5, 2.0, 3.0];
/// The alphas of I5 (I2's and the integers 0, 1, 2 of the elementary closed forms).
pub const ALPHAS_I5: [f64; 9] = [0.0, 0.55, 0.6, 0.75, 0.9, 1.0, 1.5, 2.0, 2.5];
/// Correlations of the tanh W limit (I7).
pub const C_TANH: [f64; 3] = [0.2, 0.5, 0.9];
/// The alphas of the $W_\alpha$ figure.
pub const FIG_ALPHAS: [f64; 5] = [0.55, 0.75, 1.0, 1.5, 2.0];

/// Everything the stage computes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    pub rows: Vec<Row>,
    pub summary: Value,
    pub w_table: Vec<Value>,
    pub fig_wa: FigWa,
    pub fig_tanh: Vec<LogSeries>,
    pub fig_relu: Vec<(f64, f64)>,
}

/// Data of the W_alpha figure: per alpha, the closed-form curve and the K0-integral points.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FigWa {
    pub curves: Vec<(f64, Curve, Curve)>,
}

/// Points of a curve.
pub type Curve = Vec<(f64, f64)>;
/// A named log-log series with the slope of its reference line.
pub type LogSeries = (String, Curve, f64);

/// The error of identity `id` when one of its methods fails (a special function out of its
/// domain, a quadrature that does not converge): the library's error is the source.
fn failed(id: &'static str) -> impl Fn(MathError) -> StageError {
    move |e| StageError::compute(format!("identity {id}"), e)
}

/// Runs all checks, in the order of the table: I1-I5 (the kernel identities), I6 and I7 (the
/// asymptotics), then the figure data and the summary. The configuration is checked first.
pub fn compute(cfg: &Config) -> Result<Results, StageError> {
    cfg.check()?;
    let cs = c_grid(cfg.c_points);
    let cs_inner: Vec<f64> = cs.iter().copied().filter(|c| c.abs() <= FD_C_MAX + 1e-12).collect();
    let mut rows = vec![kernel_checks::i1_c_alpha()?];
    let i2 = kernel_checks::i2_w_closed_form(&cs, cfg.mc_samples, cfg.seed)?;
    rows.extend(i2.rows);
    rows.extend(kernel_checks::i3_integer_alpha(&cs)?);
    rows.extend(kernel_checks::i4_derivative(&cs, &cs_inner));
    let i5 = kernel_checks::i5_bessel(&cs)?;
    rows.extend(i5.rows);
    let i6 = asymptotics::i6_relu_near_one(cfg.eps_points)?;
    rows.extend(i6.rows);
    let i7 = asymptotics::i7_tanh_limits(cfg.tanh_q_max)?;
    rows.extend(i7.rows);
    let fig_wa = fig_wa(&i5.k0_points);
    let mut summary = Map::new();
    summary.insert("paper_form".into(), i2.paper_form);
    summary.insert("i6".into(), i6.summary);
    summary.insert("i7".into(), i7.summary);
    summarize(cfg, &cs, &rows, &mut summary);
    Ok(Results {
        rows,
        summary: Value::Object(summary),
        w_table: i2.w_table,
        fig_wa,
        fig_tanh: i7.figure,
        fig_relu: i6.figure,
    })
}

/// The $W_\alpha$ figure: for each $\alpha$ of [`FIG_ALPHAS`] the closed form on 201 points of
/// $[-1, 1]$ and the values from the $K_0$ integral of I5 (`k0_points`: $(\alpha, c, W)$).
fn fig_wa(k0_points: &[(f64, f64, f64)]) -> FigWa {
    let mut curves = Vec::new();
    for &a in &FIG_ALPHAS {
        let curve: Vec<(f64, f64)> = (0..=200)
            .map(|i| -1.0 + 2.0 * i as f64 / 200.0)
            .map(|c| (c, alpha_relu_w(a, c).unwrap_or(f64::NAN)))
            .collect();
        let marks: Vec<(f64, f64)> = k0_points.iter().filter(|p| p.0 == a).map(|p| (p.1, p.2)).collect();
        curves.push((a, curve, marks));
    }
    FigWa { curves }
}

/// Adds the rows, their tally, the configuration and the tolerances to the summary.
fn summarize(cfg: &Config, cs: &[f64], rows: &[Row], summary: &mut Map<String, Value>) {
    let n_pass = rows.iter().filter(|r| r.pass).count();
    summary.insert("rows".into(), json!(rows));
    summary.insert("n_rows".into(), json!(rows.len()));
    summary.insert("n_pass".into(), json!(n_pass));
    summary.insert("all_pass".into(), json!(n_pass == rows.len()));
    summary.insert(
        "config".into(),
        json!({"mc_samples": cfg.mc_samples, "c_points": cfg.c_points, "seed": cfg.seed, "tanh_q_max": cfg.tanh_q_max, "eps_points": cfg.eps_points,
               "n_c": cs.len(), "c_grid": cs, "alphas_i1": ALPHAS_I1, "alphas_i2": ALPHAS_I2, "alphas_i5": ALPHAS_I5, "fig_alphas": FIG_ALPHAS}),
    );
    summary.insert(
        "tolerances".into(),
        json!({"quad": TOL_QUAD, "sigma": TOL_SIGMA, "fd": TOL_FD, "abs": TOL_ABS, "fd_step": FD_STEP, "fd_c_max": FD_C_MAX,
               "c_abs_max": cs.iter().fold(0.0f64, |m, c| m.max(c.abs()))}),
    );
    // rows by id (the first row of each id; ids are unique)
    let mut ids = Map::new();
    for r in rows {
        ids.entry(r.id.clone()).or_insert_with(|| json!(r));
    }
    summary.insert("by_id".into(), Value::Object(ids));
}
