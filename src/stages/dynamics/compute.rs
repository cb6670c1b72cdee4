//! The computation of the dynamics chapter: the cases of the paper's summary table
//! ([`cases`]), each iterated to its depth and measured against its asymptotic laws
//! ([`run_case`], one function per law family in `compute/families.rs`), with the tolerances fixed
//! beforehand ([`TOLERANCES`]).

mod families;

use super::Config;
use crate::activation::{ActName, Activation};
use crate::architecture::Architecture;
use crate::meanfield::fit::{continuum, local_slope};
use crate::meanfield::recurrence::{trajectory, Layer, Sampling, Spec, Trajectory, Variances};
use crate::meanfield::{kernel_for, MeanFieldError};
use serde::{Deserialize, Serialize};

/// How a tolerance bounds $|{\rm measured} - {\rm theory}|$.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TolKind {
    /// $|{\rm measured} - {\rm theory}| \le t$
    Abs,
    /// $|{\rm measured} - {\rm theory}| \le t\,|{\rm theory}|$
    Rel,
}

/// A tolerance, fixed before any result was seen, with the known leading correction that
/// justifies it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Tolerance {
    pub name: &'static str,
    pub value: f64,
    pub kind: TolKind,
    pub why: &'static str,
}

const fn tol(name: &'static str, value: f64, kind: TolKind, why: &'static str) -> Tolerance {
    Tolerance { name, value, kind, why }
}

pub const EXACT: Tolerance =
    tol("exact", 1e-9, TolKind::Rel, "exact in exact arithmetic (ReLU with zero biases); only rounding over L layers");
pub const TANH_P_EXPONENT: Tolerance =
    tol("tanh_p_exponent", 0.01, TolKind::Abs, "p = B l - O(sqrt l): local slope off by O(L^-1/2) ~ 3e-3 at L = 1e5");
pub const TANH_P_CONST: Tolerance = tol("tanh_p_const", 0.01, TolKind::Rel, "local derivative of p: B + O(L^-1/2)");
pub const TANH_E_EXPONENT: Tolerance =
    tol("tanh_e_exponent", 0.02, TolKind::Abs, "O(L^-1/2) from p, plus O(abs(e - e*)) ~ L^-d nonlinearity when e* > 0");
pub const TANH_E_FIT: Tolerance = tol(
    "tanh_e_fit",
    0.01,
    TolKind::Abs,
    "fit of A l^-d + C l^-1/2 with the known C over [L/100, L]: the next term is O(l^-1), relative O(l^(d-1)) ~ 1e-3",
);
pub const TANH_GRAD_EXPONENT: Tolerance = tol(
    "tanh_grad_exponent",
    0.01,
    TolKind::Abs,
    "log chi = K sqrt L + C1 ln L + C0; increments remove C0, leave O(L^-1/2)",
);
pub const TANH_GRAD_CONST: Tolerance =
    tol("tanh_grad_const", 0.02, TolKind::Rel, "(G(L) - G(L/4))/(sqrt L - sqrt(L/4)) = K + O(ln L/sqrt L)");
pub const RELU_COS_EXPONENT: Tolerance =
    tol("relu_cos_exponent", 0.01, TolKind::Abs, "1 - e = 4/(r k l)^2 (1 + O(ln l/l))");
pub const RELU_COS_CONST: Tolerance =
    tol("relu_cos_const", 0.02, TolKind::Rel, "docs/theory.md §5: the constant is approached slowly with depth");
pub const ALPHA_P_EXPONENT: Tolerance =
    tol("alpha_p_exponent", 0.01, TolKind::Rel, "p^(1-a) = K_p l + O(ln l): slope off by O(ln L/L)");
pub const ALPHA_P_CONST: Tolerance =
    tol("alpha_p_const", 0.01, TolKind::Rel, "local derivative of p^(1-a): K_p + O(1/L)");
pub const ALPHA_GRAD_EXPONENT: Tolerance =
    tol("alpha_grad_exponent", 0.01, TolKind::Rel, "log chi = R ln L + C + O(ln L/L); increments remove C");
pub const ALPHA_E_EXPONENT: Tolerance = tol("alpha_e_exponent", 0.01, TolKind::Abs, "slow: local slope = -d + O(abs(e - e*)) with abs(e - e*) ~ l^-d, d small; judged in the continuum limit at continuum_depth (validated within 1% against the recurrence), discrete gap reported");
pub const VANILLA_VALUE: Tolerance = tol(
    "vanilla_value",
    1e-8,
    TolKind::Rel,
    "exponential convergence reaches rounding level within a few hundred layers",
);
pub const VANILLA_RATE: Tolerance = tol(
    "vanilla_rate",
    2e-3,
    TolKind::Abs,
    "fit over deviations in [1e-10, 1e-3]: nonlinear corrections O(1e-3); rates by central differences",
);

/// Every tolerance, in the order of the chapter's list.
pub const TOLERANCES: &[Tolerance] = &[
    EXACT,
    TANH_P_EXPONENT,
    TANH_P_CONST,
    TANH_E_EXPONENT,
    TANH_E_FIT,
    TANH_GRAD_EXPONENT,
    TANH_GRAD_CONST,
    RELU_COS_EXPONENT,
    RELU_COS_CONST,
    ALPHA_P_EXPONENT,
    ALPHA_P_CONST,
    ALPHA_GRAD_EXPONENT,
    ALPHA_E_EXPONENT,
    VANILLA_VALUE,
    VANILLA_RATE,
];

/// Error of one case of the table.
#[derive(Debug, thiserror::Error)]
pub enum DynamicsError {
    /// The mean-field engine failed (a kernel out of range, an overflow, a root not found).
    #[error(transparent)]
    MeanField(#[from] MeanFieldError),
    /// A layer the estimators read was not kept (a depth below the configured minimum).
    #[error("layer {layer} of the recurrence of depth {depth} was not kept")]
    MissingLayer { layer: usize, depth: usize },
    /// The continuum extension did not reach two depths beyond the recurrence.
    #[error("the continuum extension from depth {depth} to {to:e} has fewer than two points")]
    ShortExtension { depth: usize, to: f64 },
}

/// What law family a case belongs to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Family {
    Tanh,
    Relu,
    Alpha(f64),
    VanillaTanh,
    VanillaRelu,
}

/// One (architecture, activation, variances) of the table.
#[derive(Clone, Debug)]
pub struct Case {
    pub label: String,
    pub spec: Spec,
    pub family: Family,
    pub depth: usize,
}

/// The cases of the table, in order.
pub fn cases(cfg: &Config) -> Vec<Case> {
    let mk = |arch, act, var, family, label: String, depth| Case {
        label,
        spec: Spec { arch, act, var, p0: cfg.p0, e0: cfg.e0 },
        family,
        depth,
    };
    let frn = Variances::weights(cfg.sw2, cfg.sv2);
    let rrn = Variances::weights(cfg.rrn_sw2, 0.0);
    let mut v = vec![
        mk(Architecture::Full, Activation::Tanh, frn, Family::Tanh, "FRN tanh".into(), cfg.depth),
        mk(
            Architecture::Full,
            Activation::Tanh,
            Variances { sa2: cfg.tanh_sa2, ..frn },
            Family::Tanh,
            format!("FRN tanh, σa² = {}", cfg.tanh_sa2),
            cfg.depth,
        ),
        mk(Architecture::Reduced, Activation::Tanh, rrn, Family::Tanh, "RRN tanh".into(), cfg.depth),
        mk(Architecture::Full, Activation::Relu, frn, Family::Relu, "FRN ReLU".into(), cfg.depth),
        mk(Architecture::Reduced, Activation::Relu, rrn, Family::Relu, "RRN ReLU".into(), cfg.depth),
    ];
    for arch in [Architecture::Full, Architecture::Reduced] {
        for &a in &cfg.alphas {
            let var = if arch == Architecture::Full { frn } else { rrn };
            v.push(mk(
                arch,
                Activation::AlphaRelu { alpha: a },
                var,
                Family::Alpha(a),
                format!("{} α-ReLU, α = {a}", arch.short()),
                cfg.depth,
            ));
        }
    }
    v.push(mk(
        Architecture::Vanilla,
        Activation::Tanh,
        Variances { sw2: cfg.vanilla_tanh_sw2, sv2: 0.0, sb2: cfg.vanilla_tanh_sb2, sa2: 0.0 },
        Family::VanillaTanh,
        "vanilla tanh".into(),
        cfg.vanilla_tanh_depth,
    ));
    v.push(mk(
        Architecture::Vanilla,
        Activation::Relu,
        Variances::weights(cfg.vanilla_relu_sw2, 0.0),
        Family::VanillaRelu,
        "vanilla ReLU".into(),
        cfg.depth,
    ));
    v
}

/// Which column of the summary table a law belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Column {
    /// The length $p^l$.
    P,
    /// The cosine $e^l$.
    E,
    /// The gradient $\chi^0/\chi^L$.
    Grad,
}

/// An architecture written as the report abbreviates it (`FRN`, `RRN`, `vanilla`).
mod arch_short {
    use crate::architecture::Architecture;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(a: &Architecture, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(a.short())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Architecture, D::Error> {
        let name = String::deserialize(d)?;
        [Architecture::Full, Architecture::Reduced, Architecture::Vanilla]
            .into_iter()
            .find(|a| a.short() == name)
            .ok_or_else(|| D::Error::custom(format!("unknown architecture '{name}' (valid: FRN, RRN, vanilla)")))
    }
}

/// One checked law.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LawRow {
    /// The case (row of the summary table), e.g. "FRN tanh".
    pub label: String,
    #[serde(with = "arch_short")]
    pub arch: Architecture,
    pub act: ActName,
    pub alpha: Option<f64>,
    /// The column of the summary table.
    pub column: Column,
    /// What is measured, e.g. "exponent of $p^l$".
    pub quantity: String,
    /// The law, in LaTeX.
    pub law: String,
    pub theory: f64,
    pub measured: f64,
    /// The discrete local value where `measured` comes from the continuum limit.
    pub measured_discrete: Option<f64>,
    /// The local value in the continuum limit at `continuum_depth`, where computed.
    pub measured_continuum: Option<f64>,
    pub depth: f64,
    pub abs_diff: f64,
    pub tolerance: f64,
    pub tolerance_kind: TolKind,
    pub pass: bool,
}

/// The result of one case: its rows and the series for the figures.
#[derive(Clone, Debug)]
pub struct CaseResult {
    pub case: Case,
    pub traj: Trajectory,
    pub rows: Vec<LawRow>,
    /// Fixed point of the cosine the figures subtract ($e^*$, $c^*$, or 1 for ReLU).
    pub e_star: f64,
    /// Continuum extension (alpha-ReLU): (l, e).
    pub continuum: Vec<(f64, f64)>,
    /// Relative deviation of $e - e^*$ between continuum and discrete at $L$ (alpha-ReLU).
    pub continuum_agreement: Option<f64>,
}

/// The kept layer `l` of a trajectory.
fn layer_at(t: &Trajectory, l: usize) -> Result<&Layer, DynamicsError> {
    t.layers.iter().find(|x| x.l == l).ok_or(DynamicsError::MissingLayer { layer: l, depth: t.depth })
}

/// The layers a residual case keeps: $1, L/100, L/4, L/2, L$ and `per_decade` per decade
/// ($l = \mathrm{round}(10^{i/n})$).
fn sample_layers(depth: usize, per_decade: usize) -> Vec<usize> {
    let mut v = vec![1, depth / 100, depth / 4, depth / 2, depth];
    let n = per_decade.max(1) as f64;
    let mut i = 0.0;
    loop {
        let l = 10f64.powf(i / n).round() as usize;
        if l > depth {
            break;
        }
        v.push(l);
        i += 1.0;
    }
    v.retain(|&l| l >= 1);
    v.sort_unstable();
    v.dedup();
    v
}

/// A row of the table: `measured` against `theory` under tolerance `t`, which passes when
/// $|{\rm measured} - {\rm theory}| \le t$ (absolute) or $\le t\,|{\rm theory}|$ (relative) and
/// the measurement is finite.
#[allow(clippy::too_many_arguments)]
fn row(
    case: &Case,
    column: Column,
    quantity: &str,
    law: &str,
    theory: f64,
    measured: f64,
    t: &Tolerance,
    depth: f64,
) -> LawRow {
    let abs_diff = (measured - theory).abs();
    let pass = match t.kind {
        TolKind::Abs => abs_diff <= t.value,
        TolKind::Rel => abs_diff <= t.value * theory.abs(),
    };
    LawRow {
        label: case.label.clone(),
        arch: case.spec.arch,
        act: case.spec.act.into(),
        alpha: match case.family {
            Family::Alpha(a) => Some(a),
            _ => None,
        },
        column,
        quantity: quantity.into(),
        law: law.into(),
        theory,
        measured,
        measured_discrete: None,
        measured_continuum: None,
        depth,
        abs_diff,
        tolerance: t.value,
        tolerance_kind: t.kind,
        pass: pass && measured.is_finite(),
    }
}

/// The continuum limit of a residual case.
struct Extension {
    /// Relative deviation of $e - e^*$ between continuum and discrete recurrence at $L$.
    agreement: f64,
    /// The extension beyond $L$ as $(l, e)$.
    points: Vec<(f64, f64)>,
    /// The local slope of $|e - e^*|$ at its end.
    slope: f64,
}

/// The continuum limit of a residual case: checked against the discrete recurrence from
/// $L/100$ to $L$ (the relative deviation of $e - e^*$ at $L$), then carried from $L$ to `to`
/// with `steps_per_unit` Runge-Kutta steps per unit of $\ln l$, recording quarter-decades, `to`/2
/// and `to`.
fn extend(
    case: &Case,
    traj: &Trajectory,
    e_star: f64,
    steps_per_unit: usize,
    to: f64,
) -> Result<Extension, DynamicsError> {
    let b = case.spec.blocks();
    let k = kernel_for(&case.spec.act)?;
    let depth = traj.depth;
    let (l0, ll) = (layer_at(traj, depth / 100)?, traj.last());
    let check = continuum(k.as_ref(), &b, l0.l as f64, l0.ln_p, l0.e, &[depth as f64], 50)?;
    let agreement = ((check[0].e - e_star) / (ll.e - e_star) - 1.0).abs();
    let mut rec = Vec::new();
    let mut x = depth as f64 * 10f64.powf(0.25);
    while x < to / 4.0 {
        rec.push(x);
        x *= 10f64.powf(0.25);
    }
    rec.push(to / 2.0);
    rec.push(to);
    let ext = continuum(k.as_ref(), &b, depth as f64, ll.ln_p, ll.e, &rec, steps_per_unit)?;
    let n = ext.len();
    if n < 2 {
        return Err(DynamicsError::ShortExtension { depth, to });
    }
    let slope =
        local_slope((ext[n - 2].l, (ext[n - 2].e - e_star).abs()), (ext[n - 1].l, (ext[n - 1].e - e_star).abs()));
    Ok(Extension { agreement, points: ext.iter().map(|c| (c.l, c.e)).collect(), slope })
}

/// Runs one case and measures its laws.
pub fn run_case(cfg: &Config, case: &Case) -> Result<CaseResult, DynamicsError> {
    let sampled = || trajectory(&case.spec, case.depth, &Sampling::Layers(sample_layers(case.depth, cfg.per_decade)));
    match case.family {
        Family::VanillaTanh => families::vanilla_tanh(case),
        Family::Tanh => families::tanh(cfg, case, sampled()?),
        Family::Relu | Family::VanillaRelu => families::relu(case, sampled()?),
        Family::Alpha(a) => families::alpha_relu(cfg, case, sampled()?, a),
    }
}
