//! Steps I6 and I7: the asymptotics the theory rests on, the ReLU kernel near $c = 1$ and the
//! large-$q$ limits of the tanh Gaussian integrals.

use super::checker::{fmt_list, Checker, Criterion, Row};
use super::methods::{loglog_slope, tanh_v_vp, tanh_v_vp_exp_sinh, tanh_w};
use super::{failed, Curve, LogSeries, C_TANH, EPS_FIT_MAX, GH_NODES, Q_FIT_MIN, TOL_ABS};
use crate::math::kernels::{alpha_relu_j, relu_j_one_minus, RELU_K1, RELU_K2};
use crate::math::quadrature::{gauss_expectation_1d, GaussHermite};
use crate::math::MathError;
use crate::pipeline::StageError;
use rayon::prelude::*;
use serde_json::{json, Value};
use std::f64::consts::PI;

/// What a step of this file yields: its rows, its part of the summary and its figure data.
pub(super) struct Step<F> {
    pub rows: Vec<Row>,
    pub summary: Value,
    pub figure: F,
}

/// I6: $J_1(1-\epsilon) = 1 - \epsilon + k_1\epsilon^{3/2} + k_2\epsilon^{5/2} + \dots$ with
/// $k_1 = \frac{2\sqrt2}{3\pi}$, $k_2 = \frac{\sqrt2}{30\pi}$, on `n` $\ge 3$ values of $\epsilon$ log-spaced in
/// $[10^{-6}, 10^{-1}]$: the exponent of the remainder $R(\epsilon) = J_1(1-\epsilon) - 1 + \epsilon - k_1\epsilon^{3/2}$
/// (I6a), its coefficient (I6b) and the hypergeometric $J_1$ against the cancellation-free form (I6c).
/// The figure data are the points $(\epsilon, R(\epsilon)/\epsilon^{5/2})$.
pub(super) fn i6_relu_near_one(n: usize) -> Result<Step<Curve>, StageError> {
    let mut fig_relu = Vec::new();
    let eps: Vec<f64> = (0..n).map(|i| 10f64.powf(-6.0 + 5.0 * i as f64 / (n - 1) as f64)).collect();
    let mut rem = Vec::new();
    let mut ck_h = Checker::new(
        "I6c",
        "remainder $R(\\epsilon) = J_1(1-\\epsilon) - 1 + \\epsilon - k_1\\epsilon^{3/2}$ from the hypergeometric $J_1$",
        "$\\epsilon \\in [10^{-6}, 10^{-1}]$".into(),
        "$R$ from the hypergeometric closed form vs $R$ from the cancellation-free arc-cosine form",
        Criterion::Abs,
        TOL_ABS,
    );
    for &e in &eps {
        let r = relu_j_one_minus(e).map_err(failed("I6"))? - RELU_K1 * e.powf(1.5);
        let jh = alpha_relu_j(1.0, 1.0 - e).map_err(failed("I6c"))?;
        let rh = jh - (1.0 - e) - RELU_K1 * e.powf(1.5);
        ck_h.add(rh, r, || format!("ε = {e:.1e}"));
        rem.push(r);
        fig_relu.push((e, r / e.powf(2.5)));
    }
    let small: Vec<usize> = (0..n).filter(|&i| eps[i] <= EPS_FIT_MAX * (1.0 + 1e-9)).collect();
    let slope = loglog_slope(
        &small.iter().map(|&i| eps[i]).collect::<Vec<_>>(),
        &small.iter().map(|&i| rem[i]).collect::<Vec<_>>(),
    );
    let mut ck_p = Checker::new(
        "I6a",
        "$J_1(1-\\epsilon) = 1 - \\epsilon + \\frac{2\\sqrt2}{3\\pi}\\epsilon^{3/2} + O(\\epsilon^{5/2})$",
        "$\\epsilon \\in [10^{-6}, 10^{-2}]$".into(),
        "least-squares exponent of $R(\\epsilon)$ (positive) vs $5/2$",
        Criterion::Abs,
        1e-2,
    );
    ck_p.add(slope, 2.5, || format!("fitted exponent {slope:.5}"));
    let ratio_min = rem[0] / eps[0].powf(2.5);
    let mut ck_k = Checker::new(
        "I6b",
        "$R(\\epsilon)/\\epsilon^{5/2} \\to k_2 = \\frac{\\sqrt2}{30\\pi}$ (derived)",
        String::new(),
        "cancellation-free $R(\\epsilon)/\\epsilon^{5/2}$ vs derived coefficient",
        Criterion::Rel,
        1e-4,
    );
    ck_k.add(ratio_min, RELU_K2, || format!("ε = {:.0e}", eps[0]));
    let ratios: Vec<f64> = eps.iter().zip(&rem).map(|(e, r)| r / e.powf(2.5)).collect();
    let summary = json!({
        "eps_min": eps[0], "eps_max": eps[n - 1], "n": n, "fitted_exponent": slope,
        "k1": RELU_K1, "k2": RELU_K2, "eps_fit_max": EPS_FIT_MAX, "ratio_at_eps_min": ratio_min, "r_at_eps_min": rem[0],
        "ratio_min": ratios.iter().cloned().fold(f64::INFINITY, f64::min),
        "ratio_max": ratios.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
        "ratio_at_eps_max": ratios[n - 1],
    });
    let mut r6a = ck_p.finish();
    r6a.params = "$\\epsilon \\in [10^{-6}, 10^{-2}]$".into();
    let mut r6b = ck_k.finish();
    r6b.params = format!("smallest $\\epsilon$ of {n} log-spaced in $[10^{{-6}}, 10^{{-1}}]$");
    Ok(Step { rows: vec![r6a, r6b, ck_h.finish()], summary, figure: fig_relu })
}

/// The limit $\sqrt q\,V\tanh'(q) \to \frac{4/3}{\sqrt{2\pi}}$.
fn lim_vp() -> f64 {
    (4.0 / 3.0) / (2.0 * PI).sqrt()
}

/// The tanh integrals on the grid of $q$ and their deviations from the large-$q$ limits.
struct TanhDeviations {
    /// $1 - V\tanh(q)$.
    v_dev: Vec<f64>,
    /// $\sqrt q\,V\tanh'(q) - \frac{4/3}{\sqrt{2\pi}}$.
    vp_dev: Vec<f64>,
    /// `[c][q]`: $W\tanh(q, cq) - \frac2\pi\arcsin c$ for the $c$ of `C_TANH`.
    w_dev: Vec<Vec<f64>>,
    /// The table of the summary, one entry per $q$, with the predicted deviations
    /// $1 - V\tanh \approx \sqrt{2/(\pi q)}(1 - \pi^2/(24q))$, $-\frac{4/3}{\sqrt{2\pi}}\frac{\pi^2-6}{24q}$ and
    /// $-\frac{\pi c}{6\sqrt{1-c^2}\,q}$.
    table: Vec<Value>,
}

/// Computes [`TanhDeviations`] on the grid `qs` (adaptive quadrature, in parallel).
fn tanh_deviations(qs: &[f64]) -> Result<TanhDeviations, StageError> {
    let lim_vp = lim_vp();
    let vv: Vec<Result<(f64, f64), MathError>> = qs.par_iter().map(|&q| tanh_v_vp(q)).collect();
    let qc: Vec<(f64, f64)> = qs.iter().flat_map(|&q| C_TANH.iter().map(move |&c| (q, c))).collect();
    let ww: Vec<Result<f64, MathError>> = qc.par_iter().map(|&(q, c)| tanh_w(q, c)).collect();
    let mut v_dev = Vec::new();
    let mut vp_dev = Vec::new();
    let mut w_dev = vec![Vec::new(); C_TANH.len()];
    let mut table = Vec::new();
    for (i, &q) in qs.iter().enumerate() {
        let (d, vp) = vv[i].clone().map_err(failed("I7"))?;
        v_dev.push(d);
        vp_dev.push(q.sqrt() * vp - lim_vp);
        let mut wrow = Vec::new();
        for (j, &c) in C_TANH.iter().enumerate() {
            let w = ww[i * C_TANH.len() + j].clone().map_err(failed("I7"))?;
            let dev = w - 2.0 / PI * c.asin();
            // as the summary stores it (a non-finite number is null there)
            w_dev[j].push(if dev.is_finite() { dev } else { f64::NAN });
            wrow.push(json!({"c": c, "w": w, "limit": 2.0 / PI * c.asin(), "dev": dev,
                "predicted_dev": -PI * c / (6.0 * (1.0 - c * c).sqrt() * q)}));
        }
        table.push(json!({"q": q, "v": 1.0 - d, "one_minus_v": d, "v_pred": (2.0 / (PI * q)).sqrt() * (1.0 - PI * PI / (24.0 * q)),
            "sqrt_q_vp": q.sqrt() * vp, "vp_dev": q.sqrt() * vp - lim_vp, "vp_pred_dev": -lim_vp * (PI * PI - 6.0) / (24.0 * q), "w": wrow}));
    }
    Ok(TanhDeviations { v_dev, vp_dev, w_dev, table })
}

/// Gauss-Hermite with `GH_NODES` nodes against adaptive quadrature for $V\tanh'(q)$: the failure
/// of a fixed rule once the spike of width $1/\sqrt q$ falls between its nodes.
fn gauss_hermite_demo() -> Vec<Value> {
    [1.0, 100.0, 400.0, 1e4]
        .iter()
        .map(|&q: &f64| {
            let s = q.sqrt();
            let gh = gauss_expectation_1d(|z| 1.0 / (s * z).cosh().powi(4), GH_NODES);
            let ad = tanh_v_vp(q).map(|x| x.1).unwrap_or(f64::NAN);
            json!({"q": q, "gauss_hermite": gh, "adaptive": ad, "rel_err": (gh - ad) / ad})
        })
        .collect()
}

/// I7: the large-$q$ limits of the tanh Gaussian integrals on half-decades
/// $q = 10^{k/2} \le$ `q_max`: the rates $q^{-1/2}$ of $1 - V\tanh(q)$ (I7a), $q^{-1}$ of
/// $\sqrt q\,V\tanh'(q)$ (I7c) and of $W\tanh(q, cq) \to \frac2\pi\arcsin c$ (I7e), fitted on $q \ge$
/// `Q_FIT_MIN`; the derived next-order terms at the largest $q$ (I7b, I7d, I7f); a cross-check of
/// the quadrature by an independent rule (I7g). The figure data are the deviations from the limits
/// with the predicted slopes.
pub(super) fn i7_tanh_limits(q_max: f64) -> Result<Step<Vec<LogSeries>>, StageError> {
    let kmax = (2.0 * q_max.log10()).round().max(4.0) as i32;
    let qs: Vec<f64> = (0..=kmax).map(|k| 10f64.powf(k as f64 / 2.0)).collect();
    let lim_vp = lim_vp();
    let TanhDeviations { v_dev, vp_dev, w_dev, table } = tanh_deviations(&qs)?;
    let big: Vec<usize> = (0..qs.len()).filter(|&i| qs[i] >= Q_FIT_MIN * (1.0 - 1e-9)).collect();
    let sel = |v: &[f64]| big.iter().map(|&i| v[i]).collect::<Vec<_>>();
    let qb = sel(&qs);
    let slope_v = loglog_slope(&qb, &sel(&v_dev));
    let slope_vp = loglog_slope(&qb, &sel(&vp_dev));
    let slopes_w: Vec<f64> = w_dev.iter().map(|d| loglog_slope(&qb, &sel(d))).collect();
    let qmax = qs[qs.len() - 1];
    let last = qs.len() - 1;
    let qparams = format!("$q \\in [1, 10^{{{}}}]$ (half-decades); rate fitted on $q \\ge 100$", kmax as f64 / 2.0);
    let at_qmax = format!("$q = 10^{{{}}}$", kmax as f64 / 2.0);
    let meth = "adaptive Gauss-Kronrod with breakpoints at $\\pm 4^k/\\sqrt q$";
    let mut rows = Vec::new();
    let mut r = Checker::new(
        "I7a",
        "$1 - V\\tanh(q) \\sim \\sqrt{2/(\\pi q)}$: rate $q^{-1/2}$",
        qparams.clone(),
        meth,
        Criterion::Abs,
        0.01,
    );
    r.add(slope_v, -0.5, || format!("fitted rate {slope_v:.4}"));
    rows.push(r.finish());
    let mut r = Checker::new(
        "I7b",
        "$1 - V\\tanh(q) = \\sqrt{\\frac{2}{\\pi q}}\\big(1 - \\frac{\\pi^2}{24 q}\\big) + O(q^{-5/2})$",
        at_qmax.clone(),
        meth,
        Criterion::Rel,
        1e-6,
    );
    r.add(v_dev[last], (2.0 / (PI * qmax)).sqrt() * (1.0 - PI * PI / (24.0 * qmax)), || format!("q = {qmax:e}"));
    rows.push(r.finish());
    let mut r = Checker::new(
        "I7c",
        "$\\sqrt q\\,V\\tanh'(q) \\to \\frac{4/3}{\\sqrt{2\\pi}}$: rate $q^{-1}$",
        qparams.clone(),
        meth,
        Criterion::Abs,
        0.01,
    );
    r.add(slope_vp, -1.0, || format!("fitted rate {slope_vp:.4}"));
    rows.push(r.finish());
    let mut r = Checker::new(
        "I7d",
        "$\\sqrt q\\,V\\tanh'(q) = \\frac{4/3}{\\sqrt{2\\pi}}\\big(1 - \\frac{\\pi^2-6}{24q}\\big) + O(q^{-2})$",
        at_qmax,
        meth,
        Criterion::Rel,
        1e-6,
    );
    r.add(vp_dev[last] + lim_vp, lim_vp * (1.0 - (PI * PI - 6.0) / (24.0 * qmax)), || format!("q = {qmax:e}"));
    rows.push(r.finish());
    let mut r = Checker::new(
        "I7e",
        "$W\\tanh(q, cq) \\to \\frac2\\pi\\arcsin c$: rate $q^{-1}$",
        format!("$c \\in \\{{{}\\}}$, {qparams}", fmt_list(&C_TANH)),
        &format!("nested {meth}"),
        Criterion::Abs,
        0.01,
    );
    for (j, s) in slopes_w.iter().enumerate() {
        r.add(*s, -1.0, || format!("c = {}, fitted rate {s:.4}", C_TANH[j]));
    }
    rows.push(r.finish());
    let mut r = Checker::new(
        "I7f",
        "$W\\tanh(q, cq) - \\frac2\\pi\\arcsin c = -\\frac{\\pi c}{6\\sqrt{1-c^2}\\,q} + O(q^{-2})$ (derived)",
        format!("$c \\in \\{{{}\\}}$, $q = 10^{{{}}}$", fmt_list(&C_TANH), kmax as f64 / 2.0),
        &format!("nested {meth}"),
        Criterion::Rel,
        1e-3,
    );
    for (j, &c) in C_TANH.iter().enumerate() {
        r.add(w_dev[j][last], -PI * c / (6.0 * (1.0 - c * c).sqrt() * qmax), || format!("c = {c}"));
    }
    rows.push(r.finish());
    rows.push(i7g_cross_check(qmax, kmax)?);
    let ghr = GaussHermite::new(GH_NODES);
    let gh_spacing = std::f64::consts::SQRT_2 * (ghr.nodes[GH_NODES / 2] - ghr.nodes[GH_NODES / 2 - 1]);
    let summary = json!({"q_max": qmax, "gh_spacing": gh_spacing, "gh_nodes": GH_NODES, "q_fit_min": Q_FIT_MIN, "table": table, "slope_v": slope_v, "slope_vp": slope_vp, "slopes_w": slopes_w,
           "c_tanh": C_TANH, "limit_vp": lim_vp, "gh_demo": gauss_hermite_demo()});
    let mut figure = vec![
        ("$1 - V\\tanh(q)$".to_string(), qs.iter().zip(&v_dev).map(|(q, d)| (*q, d.abs())).collect::<Vec<_>>(), -0.5),
        (
            "$|\\sqrt q V\\tanh'(q) - \\frac{4/3}{\\sqrt{2\\pi}}|$".to_string(),
            qs.iter().zip(&vp_dev).map(|(q, d)| (*q, d.abs())).collect(),
            -1.0,
        ),
    ];
    for (j, &c) in C_TANH.iter().enumerate() {
        figure.push((
            format!("$|W\\tanh(q, cq) - \\frac2\\pi \\arcsin c|$, $c = {c}$"),
            qs.iter().zip(&w_dev[j]).map(|(q, d)| (*q, d.abs())).collect(),
            -1.0,
        ));
    }
    Ok(Step { rows, summary, figure })
}

/// I7g: $1 - V\tanh(q)$ and $V\tanh'(q)$ by an independent rule (exp-sinh on the half-line, even
/// integrands, scale $1/\sqrt q$ so nodes crowd into the spike at 0) at a few $q$ up to `qmax`.
fn i7g_cross_check(qmax: f64, kmax: i32) -> Result<Row, StageError> {
    let mut r = Checker::new(
        "I7g",
        "quadrature cross-check of $1 - V\\tanh(q)$ and $V\\tanh'(q)$",
        format!("$q \\in \\{{1, 10^2, 10^4, 10^{{{}}}\\}}$", kmax as f64 / 2.0),
        "adaptive Gauss-Kronrod with breakpoints vs exp-sinh on $[0, \\infty)$",
        Criterion::Rel,
        1e-11,
    );
    for q in [1.0, 1e2, 1e4, qmax] {
        let (d, vp) = tanh_v_vp(q).map_err(failed("I7g"))?;
        let (de, vpe) = tanh_v_vp_exp_sinh(q).map_err(failed("I7g"))?;
        r.add(d, de, || format!("1 - V tanh({q:e})"));
        r.add(vp, vpe, || format!("V tanh'({q:e})"));
    }
    Ok(r.finish())
}
