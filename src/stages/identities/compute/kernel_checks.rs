//! Steps I1-I5: the $\alpha$-ReLU kernel identities (docs/theory.md §3 and §4), each closed form
//! checked against quadrature, Monte Carlo or finite differences.

use super::checker::{a_params, c_params, Checker, Criterion, Row};
use super::methods::{
    c_alpha_quadrature, central_diff8, k0_integral_quadrature, w_by_integrated_derivative, w_monte_carlo,
    w_polar_quadrature,
};
use super::{failed, ALPHAS_I1, ALPHAS_I2, ALPHAS_I5, FD_STEP, TOL_ABS, TOL_FD, TOL_QUAD, TOL_SIGMA};
use crate::math::kernels::{alpha_relu_c, alpha_relu_w, alpha_relu_w_paper, arccos_kernel, k0_moment, k0_moment_int};
use crate::math::MathError;
use crate::pipeline::StageError;
use rayon::prelude::*;
use serde_json::{json, Value};
use std::f64::consts::PI;

/// The statement of I2, shared by its rows.
const W_STATEMENT: &str = "$W_\\alpha(c) = \\frac{2^\\alpha}{4\\pi}\\big[\\Gamma(\\frac{\\alpha+1}2)^2 F(-\\frac\\alpha2,-\\frac\\alpha2;\\frac12;c^2) + 2c\\,\\Gamma(\\frac\\alpha2+1)^2 F(\\frac{1-\\alpha}2,\\frac{1-\\alpha}2;\\frac32;c^2)\\big]$";
/// The 2-D quadrature of I2 and I3.
const POLAR: &str = "2-D quadrature in polar coordinates (radial exp-sinh × angular tanh-sinh)";

#[allow(clippy::too_many_arguments)]
/// I2 check of a candidate closed form against the polar quadrature (the checker is a parameter
/// so tests can feed it a wrong formula).
pub fn check_w_against_quadrature<F>(
    id: &str,
    statement: &str,
    methods: &str,
    closed: F,
    alphas: &[f64],
    cs: &[f64],
    criterion: Criterion,
    tol: f64,
) -> Row
where
    F: Fn(f64, f64) -> Result<f64, MathError> + Sync,
{
    let mut ck =
        Checker::new(id, statement, format!("{}, {}", a_params(alphas), c_params(cs)), methods, criterion, tol);
    let pairs: Vec<(f64, f64)> = alphas.iter().flat_map(|&a| cs.iter().map(move |&c| (a, c))).collect();
    let vals: Vec<_> = pairs.par_iter().map(|&(a, c)| (closed(a, c), w_polar_quadrature(a, c))).collect();
    for (&(a, c), (cf, q)) in pairs.iter().zip(vals) {
        match (cf, q) {
            (Ok(cf), Ok(q)) => ck.add(cf, q, || format!("α = {a}, c = {c}")),
            (Err(e), _) | (_, Err(e)) => ck.fail(format!("α = {a}, c = {c}: {e}")),
        }
    }
    ck.finish()
}

/// I4 check of a candidate derivative identity $\frac{d}{dc}W_\alpha(c) = \mathrm{rhs}(\alpha, c)$ by an
/// 8th-order central difference of the closed form with step $h = $ `FD_STEP` $(1 - |c|)$.
pub fn check_derivative_fd<F>(id: &str, statement: &str, rhs: F, alphas: &[f64], cs: &[f64]) -> Row
where
    F: Fn(f64, f64) -> Result<f64, MathError> + Sync,
{
    let mut ck = Checker::new(
        id,
        statement,
        format!("{}, $c \\in [{}, {}]$ ({} values)", a_params(alphas), cs[0], cs[cs.len() - 1], cs.len()),
        &format!("8th-order central difference of the closed form $W_\\alpha$ (step ${FD_STEP}\\,(1 - \\max(c, -c))$) vs closed form $\\alpha^2 W_{{\\alpha-1}}$"),
        Criterion::Rel,
        TOL_FD,
    );
    for &a in alphas {
        for &c in cs {
            let h = FD_STEP * (1.0 - c.abs());
            match (central_diff8(|x| alpha_relu_w(a, x), c, h), rhs(a, c)) {
                (Ok(d), Ok(r)) => ck.add(d, r, || format!("α = {a}, c = {c}")),
                (Err(e), _) | (_, Err(e)) => ck.fail(format!("α = {a}, c = {c}: {e}")),
            }
        }
    }
    ck.finish()
}

/// I1: $c_\alpha = \mathbb E[\phi_\alpha(z)^2] = 2^{\alpha-1}\Gamma(\alpha+\frac12)/\sqrt\pi$ against the
/// quadrature of $\int_0^\infty z^{2\alpha}\varphi(z)\,dz$, for every $\alpha$ of `ALPHAS_I1`.
pub(super) fn i1_c_alpha() -> Result<Row, StageError> {
    let mut ck = Checker::new(
        "I1",
        "$c_\\alpha = \\mathbb E[\\phi_\\alpha(z)^2] = 2^{\\alpha-1}\\Gamma(\\alpha+\\frac12)/\\sqrt\\pi$",
        format!("{} ", a_params(&ALPHAS_I1)),
        "closed form vs exp-sinh quadrature of $\\int_0^\\infty z^{2\\alpha}\\varphi(z)\\,dz$",
        Criterion::Rel,
        TOL_QUAD,
    );
    for &a in &ALPHAS_I1 {
        let cf = alpha_relu_c(a).map_err(failed("I1"))?;
        let q = c_alpha_quadrature(a).map_err(failed("I1"))?;
        ck.add(cf, q, || format!("α = {a}"));
    }
    Ok(ck.finish())
}

/// What I2 yields: its rows (I2a, I2b, I2c), the table of $W_\alpha(c)$ by every method, and the
/// worst errors of the paper's form (for the text).
pub(super) struct I2 {
    pub rows: Vec<Row>,
    pub w_table: Vec<Value>,
    pub paper_form: Value,
}

/// I2: the hypergeometric closed form of $W_\alpha(c)$ (and the paper's form as printed) against the
/// polar quadrature, and against Monte Carlo with `mc_samples` samples.
pub(super) fn i2_w_closed_form(cs: &[f64], mc_samples: usize, seed: u64) -> Result<I2, StageError> {
    let mut rows = vec![
        check_w_against_quadrature(
            "I2a",
            W_STATEMENT,
            &format!("closed form (paper's form for $c \\ge 0$, positive form for $c < 0$) vs {POLAR}"),
            alpha_relu_w,
            &ALPHAS_I2,
            cs,
            Criterion::Rel,
            TOL_QUAD,
        ),
        check_w_against_quadrature(
            "I2b",
            "paper's form as printed, all $c$ (cancels as $c \\to -1$)",
            &format!("paper's form vs {POLAR}"),
            alpha_relu_w_paper,
            &ALPHAS_I2,
            cs,
            Criterion::Abs,
            TOL_ABS,
        ),
    ];
    let paper = &rows[1];
    let paper_form =
        json!({"max_rel_err": paper.max_rel_err, "max_abs_err": paper.max_abs_err, "worst_rel": paper.worst_rel});
    let w_mc = w_monte_carlo(&ALPHAS_I2, cs, mc_samples, seed);
    let mut w_table = Vec::new();
    let mut ck = Checker::new(
        "I2c",
        "$W_\\alpha(c)$ closed form vs Monte Carlo",
        format!("{}, {}, $N = {}$ samples", a_params(&ALPHAS_I2), c_params(cs), mc_samples),
        "closed form vs Monte Carlo mean (seeded ChaCha8, same samples for all $\\alpha$, $c$)",
        Criterion::Sigma,
        TOL_SIGMA,
    );
    for (ci, &c) in cs.iter().enumerate() {
        for (ai, &a) in ALPHAS_I2.iter().enumerate() {
            let cf = alpha_relu_w(a, c).map_err(failed("I2c"))?;
            let paper = alpha_relu_w_paper(a, c).map_err(failed("I2c"))?;
            let (m, se) = w_mc[ci][ai];
            ck.add_se(m, cf, Some(se), || format!("α = {a}, c = {c}"));
            let polar = w_polar_quadrature(a, c).map_err(failed("I2c"))?;
            w_table.push(json!({"alpha": a, "c": c, "w_closed": cf, "w_paper_form": paper, "w_polar_quadrature": polar, "w_monte_carlo": m, "mc_std_err": se}));
        }
    }
    rows.push(ck.finish());
    Ok(I2 { rows, w_table, paper_form })
}

/// I3: for $\alpha = 0, 1, 2$ the arc-cosine forms ($\theta = \arccos c$)
/// $W_0 = \frac{\pi-\theta}{2\pi}$, $W_1 = \frac{\sin\theta + (\pi-\theta)\cos\theta}{2\pi}$,
/// $W_2 = \frac{3\sin\theta\cos\theta + (\pi-\theta)(1+2\cos^2\theta)}{2\pi}$ against the hypergeometric
/// closed form (I3a) and the polar quadrature (I3b).
pub(super) fn i3_integer_alpha(cs: &[f64]) -> Result<[Row; 2], StageError> {
    let ints = [0.0, 1.0, 2.0];
    let p = format!("$\\alpha \\in \\{{0, 1, 2\\}}$, {}", c_params(cs));
    let st = "$W_0 = \\frac{\\pi-\\theta}{2\\pi}$, $W_1 = \\frac{\\sin\\theta + (\\pi-\\theta)\\cos\\theta}{2\\pi}$, $W_2 = \\frac{3\\sin\\theta\\cos\\theta + (\\pi-\\theta)(1+2(\\cos\\theta)^2)}{2\\pi}$";
    let mut a1 =
        Checker::new("I3a", st, p.clone(), "arc-cosine form vs hypergeometric closed form", Criterion::Rel, TOL_QUAD);
    let mut a2 = Checker::new("I3b", st, p.clone(), &format!("arc-cosine form vs {POLAR}"), Criterion::Rel, TOL_QUAD);
    for &a in &ints {
        for &c in cs {
            let k = arccos_kernel(a as u32, c).map_err(failed("I3"))?;
            a1.add(k, alpha_relu_w(a, c).map_err(failed("I3a"))?, || format!("α = {a}, c = {c}"));
            a2.add(k, w_polar_quadrature(a, c).map_err(failed("I3b"))?, || format!("α = {a}, c = {c}"));
        }
    }
    Ok([a1.finish(), a2.finish()])
}

/// I4: $\frac{d}{dc}W_\alpha(c) = \alpha^2 W_{\alpha-1}(c)$ ($\alpha > \frac12$), integrated (I4a:
/// $W_\alpha(c) = \alpha^2\int_{-1}^c W_{\alpha-1}(t)\,dt$ on the whole grid) and by finite differences
/// (I4b, on $|c| \le$ `FD_C_MAX`, the grid `cs_inner`).
pub(super) fn i4_derivative(cs: &[f64], cs_inner: &[f64]) -> [Row; 2] {
    let st = "$\\frac{d}{dc}W_\\alpha(c) = \\alpha^2 W_{\\alpha-1}(c)$, $\\alpha > \\frac12$";
    let mut ck = Checker::new(
        "I4a",
        st,
        format!("{}, {}", a_params(&ALPHAS_I2), c_params(cs)),
        "closed form $W_\\alpha(c)$ vs $\\alpha^2\\int_{-1}^c W_{\\alpha-1}(t)\\,dt$ (tanh-sinh of the closed form $W_{\\alpha-1}$)",
        Criterion::Rel,
        TOL_QUAD,
    );
    let pairs: Vec<(f64, f64)> = ALPHAS_I2.iter().flat_map(|&a| cs.iter().map(move |&c| (a, c))).collect();
    let vals: Vec<_> = pairs.par_iter().map(|&(a, c)| (alpha_relu_w(a, c), w_by_integrated_derivative(a, c))).collect();
    for (&(a, c), (w, q)) in pairs.iter().zip(vals) {
        match (w, q) {
            (Ok(w), Ok(q)) => ck.add(q, w, || format!("α = {a}, c = {c}")),
            (Err(e), _) | (_, Err(e)) => ck.fail(format!("α = {a}, c = {c}: {e}")),
        }
    }
    let integrated = ck.finish();
    let fd = check_derivative_fd("I4b", st, |a, c| Ok(a * a * alpha_relu_w(a - 1.0, c)?), &ALPHAS_I2, cs_inner);
    [integrated, fd]
}

/// What I5 yields: its rows (I5a, I5b, I5c) and the points $(\alpha, c, W)$ of $W_\alpha(c)$ from the
/// $K_0$ integral (markers of the $W_\alpha$ figure).
pub(super) struct I5 {
    pub rows: Vec<Row>,
    pub k0_points: Vec<(f64, f64, f64)>,
}

/// I5: the Bessel representation $W_\alpha(c) = \frac{(1-c^2)^{\alpha+1/2}}{2\pi}\int_0^\infty y^\alpha e^{cy}K_0(y)\,dy$
/// (I5a), the hypergeometric closed form of the integral (I5b) and its elementary forms for
/// $\alpha = 0, 1, 2$ (I5c), all against exp-sinh quadrature of the integral.
pub(super) fn i5_bessel(cs: &[f64]) -> Result<I5, StageError> {
    let mut k0_points: Vec<(f64, f64, f64)> = Vec::new(); // (alpha, c, W from K0 integral)
    let pairs: Vec<(f64, f64)> = ALPHAS_I5.iter().flat_map(|&a| cs.iter().map(move |&c| (a, c))).collect();
    let quad: Vec<Result<f64, MathError>> = pairs.par_iter().map(|&(a, c)| k0_integral_quadrature(a, c)).collect();
    let st = "$W_\\alpha(c) = \\frac{(1-c^2)^{\\alpha+1/2}}{2\\pi}\\int_0^\\infty y^\\alpha e^{cy}K_0(y)\\,dy$";
    let p = format!("{}, {}", a_params(&ALPHAS_I5), c_params(cs));
    let mut a = Checker::new(
        "I5a",
        st,
        p.clone(),
        "exp-sinh quadrature of the $K_0$ integral vs closed form $W_\\alpha$",
        Criterion::Rel,
        TOL_QUAD,
    );
    let mut b = Checker::new(
        "I5b",
        "$\\int_0^\\infty y^\\alpha e^{cy}K_0(y)dy = \\sqrt{\\frac\\pi2}\\frac{\\Gamma(\\alpha+1)^2}{\\Gamma(\\alpha+\\frac32)}(1-c)^{-\\alpha-\\frac12}F(\\frac12,\\frac12;\\alpha+\\frac32;\\frac{1+c}2)$",
        p,
        "exp-sinh quadrature vs hypergeometric closed form (Gradshteyn-Ryzhik 6.621.3 + Pfaff)",
        Criterion::Rel,
        TOL_QUAD,
    );
    let mut n_ck = Checker::new(
        "I5c",
        "$I_n(c) = \\int_0^\\infty y^n e^{cy}K_0(y)dy$, $n = 0, 1, 2$: elementary closed forms (section 2.5)",
        format!("$n \\in \\{{0, 1, 2\\}}$, {}", c_params(cs)),
        "exp-sinh quadrature vs derived elementary closed forms",
        Criterion::Rel,
        TOL_QUAD,
    );
    for (&(al, c), q) in pairs.iter().zip(quad) {
        let q = q.map_err(failed("I5"))?;
        let s2 = (1.0 - c) * (1.0 + c);
        let w_from_q = s2.powf(al + 0.5) / (2.0 * PI) * q;
        let w = alpha_relu_w(al, c).map_err(failed("I5a"))?;
        a.add(w_from_q, w, || format!("α = {al}, c = {c}"));
        b.add(q, k0_moment(al, c).map_err(failed("I5b"))?, || format!("α = {al}, c = {c}"));
        if al == al.round() && al <= 2.0 {
            n_ck.add(q, k0_moment_int(al as u32, c).map_err(failed("I5c"))?, || format!("n = {al}, c = {c}"));
        }
        k0_points.push((al, c, w_from_q));
    }
    Ok(I5 { rows: vec![a.finish(), b.finish(), n_ck.finish()], k0_points })
}
