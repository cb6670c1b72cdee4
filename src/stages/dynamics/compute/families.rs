//! The laws of each family of the summary table, measured from the recurrence at depth $L$ with
//! local estimators between $L/4$, $L/2$ and $L$ (the tolerances say why each is accurate there).

use super::{
    extend, layer_at, row, Case, CaseResult, Column, DynamicsError, ALPHA_E_EXPONENT, ALPHA_GRAD_EXPONENT,
    ALPHA_P_CONST, ALPHA_P_EXPONENT, EXACT, RELU_COS_CONST, RELU_COS_EXPONENT, TANH_E_EXPONENT, TANH_E_FIT,
    TANH_GRAD_CONST, TANH_GRAD_EXPONENT, TANH_P_CONST, TANH_P_EXPONENT, VANILLA_RATE, VANILLA_VALUE,
};
use crate::meanfield::fit::{local_slope, ls_slope};
use crate::meanfield::kernel_for;
use crate::meanfield::laws;
use crate::meanfield::recurrence::{trajectory, Layer, Sampling, Trajectory};
use crate::stages::dynamics::Config;

/// A case's result without continuum extension.
fn result(case: &Case, traj: Trajectory, rows: Vec<super::LawRow>, e_star: f64) -> CaseResult {
    CaseResult { case: case.clone(), traj, rows, e_star, continuum: vec![], continuum_agreement: None }
}

/// The three layers the estimators read, $L/4$, $L/2$, $L$, with $L/4$ and $L/2$ as reals.
fn quarter_half_last(traj: &Trajectory) -> Result<(Layer, Layer, Layer, f64, f64), DynamicsError> {
    let depth = traj.depth;
    let (l4, l2, ll) = (*layer_at(traj, depth / 4)?, *layer_at(traj, depth / 2)?, *traj.last());
    Ok((l4, l2, ll, (depth / 4) as f64, (depth / 2) as f64))
}

/// Vanilla tanh: $p^l \to q^*$ and $e^l \to c^*$ (root-found on the kernel) at the rates of the
/// linearized maps, $\ln|p^l - q^*| \approx l\ln\rho_q$ fitted on deviations in $[10^{-10}, 10^{-3}]$,
/// and $\ln(\chi^0/\chi^L) \sim L\ln\chi_1$ from the increment between $L/2$ and $L$. Every layer is
/// kept.
pub(super) fn vanilla_tanh(case: &Case) -> Result<CaseResult, DynamicsError> {
    let depth = case.depth;
    let l_f = depth as f64;
    let traj = trajectory(&case.spec, depth, &Sampling::Every(1))?;
    let k = kernel_for(&case.spec.act)?;
    let fp = laws::vanilla_fixed_point(k.as_ref(), case.spec.var.sw2, case.spec.var.sb2)?;
    let last = traj.last();
    let dev_fit = |f: &dyn Fn(&Layer) -> f64| -> f64 {
        let pts: Vec<(f64, f64)> = traj
            .layers
            .iter()
            .filter_map(|x| {
                let d = f(x).abs();
                (d > 1e-10 && d < 1e-3).then(|| (x.l as f64, d.ln()))
            })
            .collect();
        if pts.len() >= 3 {
            ls_slope(&pts)
        } else {
            f64::NAN
        }
    };
    let half = layer_at(&traj, depth / 2)?;
    let rate_g = (last.log_grad_explosion - half.log_grad_explosion) / (depth - depth / 2) as f64;
    let rows = vec![
        row(case, Column::P, "fixed point q*", r"p^l \to q^*", fp.q_star, last.p(), &VANILLA_VALUE, l_f),
        row(
            case,
            Column::P,
            "rate of $p^l \\to q^*$ per layer",
            r"\lvert p^l - q^*\rvert \propto \rho_q^{\,l}",
            fp.ln_rate_q,
            dev_fit(&|x: &Layer| x.p() - fp.q_star),
            &VANILLA_RATE,
            l_f,
        ),
        row(case, Column::E, "fixed point c*", r"e^l \to c^*", fp.c_star, last.e, &VANILLA_VALUE, l_f),
        row(
            case,
            Column::E,
            "rate of $e^l \\to c^*$ per layer",
            r"\lvert e^l - c^*\rvert \propto \rho_c^{\,l}",
            fp.ln_rate_c,
            dev_fit(&|x: &Layer| x.e - fp.c_star),
            &VANILLA_RATE,
            l_f,
        ),
        row(
            case,
            Column::Grad,
            "rate of $\\ln(\\chi^0/\\chi^l)$ per layer",
            r"\log\frac{\chi^0}{\chi^L} \sim L\ln\chi_1",
            fp.ln_chi1,
            rate_g,
            &VANILLA_VALUE,
            l_f,
        ),
    ];
    Ok(result(case, traj, rows, fp.c_star))
}

/// Residual tanh: $p^l \sim B\,l$ (local slope and derivative between $L/2$ and $L$),
/// $|e^l - e^*| = \Theta(l^{-d})$ (local slope), $\log(\chi^0/\chi^L) \sim K\sqrt L$ (exponent
/// $\log_2\frac{G(L) - G(L/2)}{G(L/2) - G(L/4)}$ and constant $\frac{G(L) - G(L/4)}{\sqrt L - \sqrt{L/4}}$).
/// With $e^* > 0$ the continuum limit carried to `tanh_continuum_depth` is reported beside the
/// cosine law (not judged).
pub(super) fn tanh(cfg: &Config, case: &Case, traj: Trajectory) -> Result<CaseResult, DynamicsError> {
    let b = case.spec.blocks();
    let l_f = traj.depth as f64;
    let (l4, l2, ll, x4, x2) = quarter_half_last(&traj)?;
    let e_star = laws::tanh_e_star(&b);
    let d = laws::tanh_d(&b);
    let big_b = laws::tanh_b(&b);
    let k = laws::tanh_grad_const(&b);
    let g = |x: &Layer| x.log_grad_explosion;
    let mut rows = vec![
        row(
            case,
            Column::P,
            "exponent of $p^l$",
            r"p^l \sim B\,l",
            1.0,
            local_slope((x2, l2.p()), (l_f, ll.p())),
            &TANH_P_EXPONENT,
            l_f,
        ),
        row(
            case,
            Column::P,
            "constant $B$",
            r"p^l \sim B\,l",
            big_b,
            (ll.p() - l2.p()) / (l_f - x2),
            &TANH_P_CONST,
            l_f,
        ),
        row(
            case,
            Column::E,
            "exponent of $e^l \\to e^*$",
            r"\lvert e^l - e^*\rvert = \Theta(l^{-d})",
            -d,
            local_slope((x2, (l2.e - e_star).abs()), (l_f, (ll.e - e_star).abs())),
            &TANH_E_EXPONENT,
            l_f,
        ),
        row(
            case,
            Column::Grad,
            "exponent of $\\ln(\\chi^0/\\chi^l)$",
            r"\log\frac{\chi^0}{\chi^L} \sim K\sqrt L",
            0.5,
            ((g(&ll) - g(&l2)) / (g(&l2) - g(&l4))).log2(),
            &TANH_GRAD_EXPONENT,
            l_f,
        ),
        row(
            case,
            Column::Grad,
            "constant $K$",
            r"\log\frac{\chi^0}{\chi^L} \sim K\sqrt L",
            k,
            (g(&ll) - g(&l4)) / (l_f.sqrt() - x4.sqrt()),
            &TANH_GRAD_CONST,
            l_f,
        ),
    ];
    rows.push(tanh_e_fit_row(case, &traj, e_star, d, &b));
    if e_star > 0.0 {
        // Supplementary (not used for pass/fail): the continuum limit carried beyond L.
        let ext = extend(case, &traj, e_star, 4, cfg.tanh_continuum_depth)?;
        rows[2].measured_continuum = Some(ext.slope);
        let mut out = result(case, traj, rows, e_star);
        out.continuum = ext.points;
        out.continuum_agreement = Some(ext.agreement);
        return Ok(out);
    }
    Ok(result(case, traj, rows, e_star))
}

/// The exponent $d$ of the tanh cosine law from the fit of
/// $e^l - e^* = A\,l^{-d} + C\,l^{-1/2}$ over the kept layers in $[L/100, L]$, with the known
/// $C = \kappa/(d_\text{theory} - \frac12)$ ([`laws::tanh_e_half_coefficient`];
/// [`crate::analysis::decay`]).
fn tanh_e_fit_row(
    case: &Case,
    traj: &Trajectory,
    e_star: f64,
    d: f64,
    b: &crate::meanfield::recurrence::Blocks,
) -> super::LawRow {
    let c = laws::tanh_e_half_coefficient(b);
    let from = (traj.depth / 100).max(1);
    let (l, y): (Vec<f64>, Vec<f64>) = traj
        .layers
        .iter()
        .filter(|x| x.l >= from)
        .map(|x| (x.l as f64, x.e - e_star))
        .filter(|(_, y)| *y != 0.0)
        .unzip();
    let fit = crate::analysis::decay::fit_decay(&l, &y, c, (0.01, 1.5));
    row(
        case,
        Column::E,
        "exponent $d$ (fit with the $l^{-1/2}$ term)",
        r"e^l - e^* = A\,l^{-d} + C\,l^{-1/2}",
        d,
        fit.as_ref().map_or(f64::NAN, |f| f.d),
        &TANH_E_FIT,
        traj.depth as f64,
    )
}

/// ReLU with zero biases (residual and vanilla): $p^l$ and $\chi^0/\chi^l$ grow exactly as
/// $(\kappa + \sigma\alpha_q/2)^l$, and $1 - e^l \sim \frac{4}{(r k l)^2}$ (local slope, and the constant
/// $(1 - e^L) L^2$).
pub(super) fn relu(case: &Case, traj: Trajectory) -> Result<CaseResult, DynamicsError> {
    let b = case.spec.blocks();
    let l_f = traj.depth as f64;
    let (_, l2, ll, _, x2) = quarter_half_last(&traj)?;
    let rate = laws::relu_rate(&b);
    let cc = laws::relu_cos_const(&b);
    debug_assert!(case.spec.var.sb2 == 0.0 && case.spec.var.sa2 == 0.0, "the ReLU laws are exact with zero biases");
    let rows = vec![
        row(
            case,
            Column::P,
            "growth rate of $\\ln p^l$",
            r"p^l \propto (\kappa + \sigma\alpha_q/2)^l",
            rate,
            (ll.ln_p - l2.ln_p) / (l_f - x2),
            &EXACT,
            l_f,
        ),
        row(
            case,
            Column::E,
            "exponent of $1 - e^l$",
            r"1 - e^l \sim \frac{4}{(r k l)^2}",
            -2.0,
            local_slope((x2, l2.one_minus_e), (l_f, ll.one_minus_e)),
            &RELU_COS_EXPONENT,
            l_f,
        ),
        row(
            case,
            Column::E,
            "constant $4/(rk)^2$",
            r"1 - e^l \sim \frac{4}{(r k l)^2}",
            cc,
            ll.one_minus_e * l_f * l_f,
            &RELU_COS_CONST,
            l_f,
        ),
        row(
            case,
            Column::Grad,
            "rate of $\\ln(\\chi^0/\\chi^l)$ per layer",
            r"\log\frac{\chi^0}{\chi^L} = L\ln(\kappa + \sigma\alpha_q/2)",
            rate,
            ll.log_grad_explosion / l_f,
            &EXACT,
            l_f,
        ),
    ];
    Ok(result(case, traj, rows, 1.0))
}

/// $\alpha$-ReLU, $1/2 < \alpha < 1$: $p^l \sim (K_p l)^{1/(1-\alpha)}$ (local slope of $p$, local
/// derivative of $p^{1-\alpha}$), $\chi^0/\chi^L = \Theta(L^R)$ (the increment of $\log\chi$ over a doubling
/// of $L$, over $\ln 2$), and the slow cosine law $|e^l - e^*| = \Theta(l^{-d})$ judged on the continuum
/// limit at `continuum_depth` (which must agree with the recurrence within 1% at $L$), with the
/// discrete local slope beside it.
pub(super) fn alpha_relu(cfg: &Config, case: &Case, traj: Trajectory, a: f64) -> Result<CaseResult, DynamicsError> {
    let b = case.spec.blocks();
    let l_f = traj.depth as f64;
    let (_, l2, ll, _, x2) = quarter_half_last(&traj)?;
    let e_star = laws::alpha_e_star(a)?;
    let d = laws::alpha_d(a)?;
    let kp = laws::alpha_p_slope(a, &b)?;
    let r = laws::alpha_r(a);
    let pw = |x: &Layer| ((1.0 - a) * x.ln_p).exp();
    let discrete = local_slope((x2, (l2.e - e_star).abs()), (l_f, (ll.e - e_star).abs()));
    let ext = extend(case, &traj, e_star, 20, cfg.continuum_depth)?;
    let mut e_row = row(
        case,
        Column::E,
        "exponent of $e^l \\to e^*$",
        r"\lvert e^l - e^*\rvert = \Theta(l^{-d})",
        -d,
        ext.slope,
        &ALPHA_E_EXPONENT,
        cfg.continuum_depth,
    );
    e_row.measured_discrete = Some(discrete);
    e_row.measured_continuum = Some(ext.slope);
    e_row.pass = e_row.pass && ext.agreement <= 0.01;
    let rows = vec![
        row(
            case,
            Column::P,
            "exponent of $p^l$",
            r"p^l \sim (K_p\,l)^{1/(1-\alpha)}",
            laws::alpha_p_exponent(a),
            local_slope((x2, 1.0), (l_f, (ll.ln_p - l2.ln_p).exp())),
            &ALPHA_P_EXPONENT,
            l_f,
        ),
        row(
            case,
            Column::P,
            "constant $K_p$",
            r"p^l \sim (K_p\,l)^{1/(1-\alpha)}",
            kp,
            (pw(&ll) - pw(&l2)) / (l_f - x2),
            &ALPHA_P_CONST,
            l_f,
        ),
        e_row,
        row(
            case,
            Column::Grad,
            "exponent R of chi ratio",
            r"\frac{\chi^0}{\chi^L} = \Theta(L^R)",
            r,
            (ll.log_grad_explosion - l2.log_grad_explosion) / std::f64::consts::LN_2,
            &ALPHA_GRAD_EXPONENT,
            l_f,
        ),
    ];
    let mut out = result(case, traj, rows, e_star);
    out.continuum = ext.points;
    out.continuum_agreement = Some(ext.agreement);
    Ok(out)
}
