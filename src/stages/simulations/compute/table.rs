//! Statistics over seeds (mean, spread, Student $t$ tails) and the rows of the table
//! `simulations`: every case, width, table depth and quantity against its mean-field value.

use super::super::claims::criteria;
use super::super::config::{Config, SimCase};
use super::{MeanField, RunResult, SimulationError};
use crate::activation::ActName;
use serde::{Deserialize, Serialize};

/// Mean, sample standard deviation, minimum and maximum over seeds.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Stat {
    pub mean: f64,
    pub sd: f64,
    pub min: f64,
    pub max: f64,
}

/// [`Stat`] of a sample (at least one value).
pub fn stat(xs: &[f64]) -> Stat {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 { xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    Stat {
        mean,
        sd: var.sqrt(),
        min: xs.iter().copied().fold(f64::INFINITY, f64::min),
        max: xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    }
}

/// Two-sided tail $P(|T| > t)$ of Student's $t$ distribution with $\nu$ degrees of freedom,
/// $2\int_t^\infty \frac{\Gamma((\nu+1)/2)}{\sqrt{\nu\pi}\,\Gamma(\nu/2)}(1 + x^2/\nu)^{-(\nu+1)/2}dx$, by adaptive
/// quadrature ($t \ge 0$, $\nu > 0$): the chance that a mean-field value that is exactly right still
/// falls outside $t$ standard errors of a seed mean over $\nu + 1$ Gaussian seeds.
pub fn student_t_tail(t: f64, nu: f64) -> Result<f64, SimulationError> {
    use crate::math::quadrature::{integrate, Tol};
    use crate::math::special::ln_gamma;
    if !(t >= 0.0 && nu > 0.0 && t.is_finite() && nu.is_finite()) {
        return Err(SimulationError::StudentTArgs { t, nu });
    }
    let ln_c = ln_gamma((nu + 1.0) / 2.0) - ln_gamma(nu / 2.0) - 0.5 * (nu * std::f64::consts::PI).ln();
    let f = |x: f64| (ln_c - (nu + 1.0) / 2.0 * (1.0 + x * x / nu).ln()).exp();
    let q = integrate(f, t, f64::INFINITY, Tol::new(1e-14, 1e-10))?;
    Ok(2.0 * q.value)
}

/// $\mathbb E|T|$ of Student's $t$ with $\nu > 1$ degrees of freedom,
/// $2\sqrt{\nu/\pi}\,\Gamma(\frac{\nu+1}{2})/\big((\nu-1)\Gamma(\frac\nu2)\big)$ (tends to $\sqrt{2/\pi}$): the mean number of
/// standard errors by which an exactly right value misses a seed mean.
pub fn mean_abs_t(nu: f64) -> f64 {
    use crate::math::special::ln_gamma;
    if nu <= 1.0 {
        return f64::INFINITY;
    }
    2.0 * (nu / std::f64::consts::PI).sqrt() * (ln_gamma((nu + 1.0) / 2.0) - ln_gamma(nu / 2.0)).exp() / (nu - 1.0)
}

/// The quantities compared with mean field, in table order.
pub const QUANTITIES: &[(&str, &str)] = &[
    ("p", "$p^l$"),
    ("e", "$e^l$"),
    ("grad", "$\\chi^0/\\chi^l$"),
    ("ln_grad", "$\\ln(\\chi^0/\\chi^l)$"),
    ("chi_w", "$\\chi_w^l/\\chi^L$"),
    ("grad_indep", "$\\chi^0/\\chi^l$, independent weights"),
];

/// Per-layer value of a quantity in one run (`None` where undefined).
pub(crate) fn run_value(r: &RunResult, q: &str, l: usize) -> Option<f64> {
    match q {
        "p" => Some(r.p[l]),
        "e" => Some(r.e[l]),
        "chi" => Some(r.chi[l]),
        "grad" => Some(r.chi[0] / r.chi[l]),
        "ln_grad" => Some((r.chi[0] / r.chi[l]).ln()),
        "chi_w" => (l >= 1).then(|| r.chi_w[l - 1]),
        "chi_indep" => r.chi_indep.as_ref().map(|c| c[l]),
        "grad_indep" => r.chi_indep.as_ref().map(|c| c[0] / c[l]),
        _ => None,
    }
}

pub(crate) fn mf_value(m: &MeanField, q: &str, l: usize) -> Option<f64> {
    match q {
        "p" => Some(m.p[l]),
        "e" => Some(m.e[l]),
        "chi" | "chi_indep" => Some(m.chi[l]),
        "grad" | "grad_indep" => Some(m.grad[l]),
        "ln_grad" => Some(m.grad[l].ln()),
        "chi_w" => (l >= 1).then(|| m.chi_w[l - 1]),
        _ => None,
    }
}

/// The statistic of a quantity over the runs of one (case, width) at layer `l`.
pub(crate) fn stat_at(runs: &[&RunResult], q: &str, l: usize) -> Option<Stat> {
    let xs: Option<Vec<f64>> = runs.iter().map(|r| run_value(r, q, l)).collect();
    xs.filter(|v| !v.is_empty()).map(|v| stat(&v))
}

/// One row of the table `simulations`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Row {
    pub case: String,
    pub arch: String,
    pub act: ActName,
    pub alpha: Option<f64>,
    pub width: usize,
    pub depth: usize,
    pub quantity: String,
    pub mean_field: f64,
    pub simulated_mean: f64,
    pub simulated_sd: f64,
    pub seeds: usize,
    /// $(\bar x - x_{\mathrm{MF}})/|x_{\mathrm{MF}}|$.
    pub rel_dev: f64,
    /// $\mathrm{sd}/|x_{\mathrm{MF}}|$: the seed-to-seed (per-network) relative fluctuation.
    pub rel_sd: f64,
    /// `rel_sd` times $\sqrt N$.
    pub rel_sd_sqrt_n: f64,
    /// $|\bar x - x_{\mathrm{MF}}|$ in standard errors of the seed mean.
    pub z: f64,
    /// Within `REL_TOL` or `SE_MULT` standard errors.
    pub pass: bool,
}

fn make_row(c: &SimCase, width: usize, depth: usize, q: &str, mf: f64, s: Stat, seeds: usize) -> Row {
    let se = s.sd / (seeds as f64).sqrt();
    let dev = s.mean - mf;
    let z = if se > 0.0 {
        dev.abs() / se
    } else if dev == 0.0 {
        0.0
    } else {
        f64::INFINITY
    };
    let pass = dev.abs() <= (criteria::REL_TOL * mf.abs()).max(criteria::SE_MULT * se);
    Row {
        case: c.name.clone(),
        arch: c.arch.name().into(),
        act: c.act,
        alpha: c.alpha,
        width,
        depth,
        quantity: q.into(),
        mean_field: mf,
        simulated_mean: s.mean,
        simulated_sd: s.sd,
        seeds,
        rel_dev: dev / mf.abs(),
        rel_sd: s.sd / mf.abs(),
        rel_sd_sqrt_n: s.sd / mf.abs() * (width as f64).sqrt(),
        z,
        pass: pass && s.mean.is_finite(),
    }
}

/// Everything measured for one case: its mean field and its runs per width.
pub struct CaseRuns<'a> {
    pub case: &'a SimCase,
    pub mf: MeanField,
    /// (width, runs of the seeds).
    pub by_width: Vec<(usize, Vec<&'a RunResult>)>,
}

/// The table rows of every case, width, table depth and quantity.
pub fn rows(cfg: &Config, cases: &[CaseRuns]) -> Vec<Row> {
    let mut out = Vec::new();
    for cr in cases {
        for &depth in &cfg.depths() {
            for (q, _) in QUANTITIES {
                for (width, runs) in &cr.by_width {
                    let (Some(mf), Some(s)) = (mf_value(&cr.mf, q, depth), stat_at(runs, q, depth)) else { continue };
                    out.push(make_row(cr.case, *width, depth, q, mf, s, runs.len()));
                }
            }
        }
    }
    out
}

/// The scaling exponent of the seed-to-seed spread with width: for each (case, quantity, depth),
/// $\beta = \ln(\mathrm{sd}(N_{\max})/\mathrm{sd}(N_{\min}))/\ln(N_{\max}/N_{\min})$; returns the list.
pub(crate) fn exponents(rows: &[Row]) -> Vec<(String, String, usize, f64)> {
    let mut out = Vec::new();
    let (Some(lo), Some(hi)) = (rows.iter().map(|r| r.width).min(), rows.iter().map(|r| r.width).max()) else {
        return out;
    };
    if lo == hi {
        return out;
    }
    for r in rows.iter().filter(|r| r.width == lo && ["p", "e", "grad", "chi_w"].contains(&r.quantity.as_str())) {
        if let Some(h) =
            rows.iter().find(|x| x.width == hi && x.case == r.case && x.quantity == r.quantity && x.depth == r.depth)
        {
            if r.simulated_sd > 0.0 && h.simulated_sd > 0.0 {
                let beta = (h.simulated_sd / r.simulated_sd).ln() / (hi as f64 / lo as f64).ln();
                out.push((r.case.clone(), r.quantity.clone(), r.depth, beta));
            }
        }
    }
    out
}
