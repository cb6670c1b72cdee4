//! Stage "simulations" (chapter 4): finite-width random networks against mean field.
//!
//! For each configuration (architecture, activation, variances), width $N$ and seed, one random
//! network of depth $L$ is drawn with [`crate::nn::init`] (`f64`), two inputs $x^0, x'^0 \in
//! \mathbb{R}^N$ with $|x^0|^2/N = |x'^0|^2/N = p^0$ and cosine exactly $e^0$ are propagated with
//! [`crate::nn::forward`], and Gaussian cotangents $g \sim \mathcal N(0, I_N)$ are backpropagated from
//! $x^L$ with [`crate::nn::backward`] through the *same* weights. Measured per layer:
//! $$p^l = \tfrac12\big(|x^l|^2 + |x'^l|^2\big)/N,\qquad e^l = \frac{x^l\cdot x'^l}{|x^l|\,|x'^l|},$$
//! $$\frac{\chi^l}{\chi^L} = \frac{\frac1N|\partial E/\partial x^l|^2}{\frac1N|g|^2},\qquad
//!   \frac{\chi_w^l}{\chi^L} = \frac{\frac1{N^2}\sum_{ij}(\partial E/\partial W^l_{ij})^2}{\frac1N|g|^2},$$
//! with one backward pass per input (cotangent on that input only, so $\partial E/\partial W^l$ is
//! the single-input gradient $\partial h^l\, x^{l-1\top}$ whose second moment the mean-field
//! $\chi_w^l$ describes), averaged over the two inputs. Optionally (`independent_control`) the
//! same forward pass is backpropagated through an *independent* draw of the weights, which is what
//! the gradient-independence assumption pretends happens.
//!
//! The mean-field curves come from [`crate::meanfield::recurrence`]: $p^l$, $e^l$, $\chi^l/\chi^L =
//! e^{G_L - G_l}$, $\chi^0/\chi^l = e^{G_l}$ and $\chi_w^l/\chi^L$. Every (configuration, width,
//! seed) is one cached task of [`crate::pipeline::run_tasks`], run in parallel with faer `Par::Seq`
//! inside, so results do not depend on the thread count; the tasks of one width run on a pool
//! sized to `memory_budget_gb` (a network holds its weights and gradients, $16$ bytes per
//! parameter). Criteria are in [`criteria`], fixed before the first simulation was run.

use crate::activation::Activation;
use crate::architecture::Architecture;
use crate::meanfield::recurrence::{gradient_moments, trajectory, Sampling, Spec, Variances};
use crate::nn::{self, ModelSpec, Par, Params, Tape, TapeMode};
use crate::pipeline::{run_tasks, Artifact, Claim, ClaimStatus, DataTable, Figure, Stage, StageContext, StageError};
use crate::report::figures::{LegendPos, LinePlot, Series, SeriesStyle};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Instant;

/// One simulated configuration.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SimCase {
    /// Short name used in figure names (`frn-tanh`).
    pub name: String,
    pub arch: Architecture,
    /// `tanh`, `relu`, `alpha-relu`, `erf`, `gelu`.
    pub act: String,
    #[serde(default)]
    pub alpha: Option<f64>,
    pub sw2: f64,
    /// $\sigma_v^2$ (FRN only).
    #[serde(default)]
    pub sv2: f64,
    #[serde(default)]
    pub sb2: f64,
    /// $\sigma_a^2$ (FRN only).
    #[serde(default)]
    pub sa2: f64,
}

impl SimCase {
    /// The activation (an error names a bad name or alpha).
    pub fn activation(&self) -> Result<Activation, StageError> {
        Activation::parse(&self.act, self.alpha)
            .map_err(|e| StageError::compute("simulations", format!("invalid [simulations] case '{}': {e}", self.name)))
    }

    /// `FRN tanh`, `FRN α-ReLU (α = 0.75)`.
    pub fn label(&self) -> String {
        let act = match (self.act.as_str(), self.alpha) {
            ("alpha-relu", Some(a)) => format!("α-ReLU (α = {a})"),
            ("relu", _) => "ReLU".into(),
            (a, _) => a.to_string(),
        };
        format!("{} {act}", self.arch.short())
    }

    fn variances(&self) -> Variances {
        Variances { sw2: self.sw2, sv2: self.sv2, sb2: self.sb2, sa2: self.sa2 }
    }
}

/// The profile section `[simulations]` (defaults: the quick profile).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Widths $N$ (at least 2; the scaling with $N$ is read between the smallest and the largest).
    pub widths: Vec<usize>,
    /// Depth $L$ of every network.
    pub depth: usize,
    /// Seeds $0, 1, \dots$, `seeds - 1` per (configuration, width); at least 2.
    pub seeds: usize,
    /// Squared length per coordinate of both inputs.
    pub p0: f64,
    /// Cosine of the two inputs.
    pub e0: f64,
    /// Layers at which the table compares with mean field (those $\le L$; $L$ is always added).
    pub table_depths: Vec<usize>,
    /// Also backpropagate through an independent draw of the weights (the surrogate of the
    /// gradient-independence assumption).
    pub independent_control: bool,
    /// Memory the simulations may use at once, in GB: a network of width $N$ and depth $L$ holds
    /// its weights and their gradients ($2 \times 8$ bytes per parameter, about 3.4 GB for an FRN at
    /// $N = 1024$, $L = 100$), so fewer networks than threads run at once when they are large.
    pub memory_budget_gb: f64,
    pub cases: Vec<SimCase>,
}

fn case(name: &str, arch: Architecture, act: &str, alpha: Option<f64>, sw2: f64, sv2: f64) -> SimCase {
    SimCase { name: name.into(), arch, act: act.into(), alpha, sw2, sv2, sb2: 0.0, sa2: 0.0 }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            widths: vec![256, 512],
            depth: 100,
            seeds: 8,
            p0: 1.0,
            e0: 0.5,
            table_depths: vec![10, 50, 100],
            independent_control: true,
            memory_budget_gb: 8.0,
            cases: vec![
                case("frn-tanh", Architecture::Full, "tanh", None, 1.0, 2.0),
                case("frn-relu", Architecture::Full, "relu", None, 1.0, 1.0),
                case("frn-alpha-relu", Architecture::Full, "alpha-relu", Some(0.75), 1.0, 1.0),
                case("rrn-tanh", Architecture::Reduced, "tanh", None, 1.0, 0.0),
            ],
        }
    }
}

impl Config {
    /// Checks the section; the message names the bad value and the valid range.
    pub fn validate(&self) -> Result<(), StageError> {
        let bad = |m: String| Err(StageError::compute("simulations", format!("invalid [simulations] profile section: {m}")));
        if self.widths.is_empty() || self.widths.iter().any(|&n| n < 2) {
            return bad(format!("widths = {:?} (valid: a non-empty list of widths >= 2)", self.widths));
        }
        if self.depth == 0 {
            return bad("depth = 0 (valid: depth >= 1)".into());
        }
        if self.seeds < 2 {
            return bad(format!("seeds = {} (valid: seeds >= 2, the spread needs two)", self.seeds));
        }
        if !(self.p0.is_finite() && self.p0 > 0.0) {
            return bad(format!("p0 = {} (valid: 0 < p0, finite)", self.p0));
        }
        if !(self.memory_budget_gb.is_finite() && self.memory_budget_gb > 0.0) {
            return bad(format!("memory_budget_gb = {} (valid: > 0, finite)", self.memory_budget_gb));
        }
        if !(self.e0.is_finite() && (-1.0..=1.0).contains(&self.e0)) {
            return bad(format!("e0 = {} (valid: -1 <= e0 <= 1)", self.e0));
        }
        let mut names = std::collections::BTreeSet::new();
        for c in &self.cases {
            if !names.insert(&c.name) {
                return bad(format!("case name '{}' appears twice (valid: unique names)", c.name));
            }
            c.activation()?;
            for (k, v) in [("sw2", c.sw2), ("sv2", c.sv2), ("sb2", c.sb2), ("sa2", c.sa2)] {
                if !(v.is_finite() && v >= 0.0) {
                    return bad(format!("case '{}': {k} = {v} (valid: finite and >= 0)", c.name));
                }
            }
            if c.arch == Architecture::Vanilla {
                return bad(format!("case '{}': arch = vanilla (valid: full, reduced)", c.name));
            }
        }
        Ok(())
    }

    /// The layers of the table: `table_depths` up to $L$, and $L$.
    pub fn depths(&self) -> Vec<usize> {
        let mut d: Vec<usize> = self.table_depths.iter().copied().filter(|&l| l >= 1 && l <= self.depth).collect();
        d.push(self.depth);
        d.sort_unstable();
        d.dedup();
        d
    }

    /// Every task in order (case, width, seed).
    pub fn tasks(&self) -> Vec<Task> {
        let mut v = Vec::new();
        for c in &self.cases {
            for &width in &self.widths {
                for seed in 0..self.seeds as u64 {
                    v.push(Task {
                        case: c.clone(),
                        width,
                        depth: self.depth,
                        seed,
                        p0: self.p0,
                        e0: self.e0,
                        independent_control: self.independent_control,
                    });
                }
            }
        }
        v
    }
}

/// Criteria, fixed before any simulation was run.
pub mod criteria {
    /// Relative tolerance of a mean-field prediction against the seed mean.
    pub const REL_TOL: f64 = 0.05;
    /// ... or this many standard errors of the seed mean, whichever is larger (the mean field is
    /// an expectation; with a few seeds the seed mean carries sampling noise of size sd/sqrt(seeds)).
    pub const SE_MULT: f64 = 3.0;
    /// FRN tanh (the paper's main case) must meet `REL_TOL` outright for $p^l$ and for
    /// $\ln(\chi^0/\chi^l)$ at the largest width.
    pub const STRICT_CASE: &str = "frn-tanh";
    /// The seed-to-seed spread must scale like $N^{\beta}$ with $\beta$ within this distance of
    /// $-1/2$ (pooled over configurations, quantities and table depths).
    pub const EXPONENT_TOL: f64 = 0.25;
}

/// The exact-expectation test of the module (ReLU FRN, zero biases): seeds, width, depth, and the
/// relative excess of the wrong growth rate it must reject. Quoted in the chapter.
pub mod exact_test {
    pub const SEEDS: u64 = 400;
    pub const WIDTH: usize = 16;
    pub const DEPTH: usize = 4;
    pub const WRONG_RATE_EXCESS: f64 = 0.05;
}

/// One simulated network: the key of a cached task.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Task {
    pub case: SimCase,
    pub width: usize,
    pub depth: usize,
    pub seed: u64,
    pub p0: f64,
    pub e0: f64,
    pub independent_control: bool,
}

/// What one network measured (index = layer $l$).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunResult {
    /// $p^l$, $l = 0..L$.
    pub p: Vec<f64>,
    /// $e^l$, $l = 0..L$.
    pub e: Vec<f64>,
    /// $\chi^l/\chi^L$, $l = 0..L$ (the last is 1).
    pub chi: Vec<f64>,
    /// $\chi_w^l/\chi^L$ of block $l = 1..L$ (index $l - 1$).
    pub chi_w: Vec<f64>,
    /// $\chi^l/\chi^L$ backpropagated through independent weights, if asked.
    pub chi_indep: Option<Vec<f64>>,
    /// Wall time of the task.
    pub seconds: f64,
}

/// Offset of the weight seed of the independent-weights control (beyond every task seed).
const CONTROL_SEED: u64 = 1 << 40;
/// ChaCha8 stream of the inputs and cotangents (the weights use stream 0 of the task seed).
const INPUT_STREAM: u64 = 7;

fn mean_sq(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The two inputs and the two cotangents of a task, from ChaCha8 stream [`INPUT_STREAM`] of the
/// seed: $x = \sqrt{N p^0}\,u$, $x' = \sqrt{N p^0}\,(e^0 u + \sqrt{1 - (e^0)^2}\,v)$ with $u, v$ the
/// Gram-Schmidt orthonormalization of two Gaussian vectors, then two $\mathcal N(0, I_N)$ cotangents.
pub fn inputs_and_cotangents(n: usize, p0: f64, e0: f64, seed: u64) -> ([Vec<f64>; 2], [Vec<f64>; 2]) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(INPUT_STREAM);
    let mut draw = || -> Vec<f64> { (0..n).map(|_| StandardNormal.sample(&mut rng)).collect() };
    let mut u = draw();
    let mut v = draw();
    let nu = dot(&u, &u).sqrt();
    u.iter_mut().for_each(|x| *x /= nu);
    let c = dot(&u, &v);
    v.iter_mut().zip(&u).for_each(|(x, y)| *x -= c * y);
    let nv = dot(&v, &v).sqrt();
    v.iter_mut().for_each(|x| *x /= nv);
    let r = (n as f64 * p0).sqrt();
    let s = (1.0 - e0 * e0).max(0.0).sqrt();
    let x: Vec<f64> = u.iter().map(|a| r * a).collect();
    let xp: Vec<f64> = u.iter().zip(&v).map(|(a, b)| r * (e0 * a + s * b)).collect();
    let g = [draw(), draw()];
    ([x, xp], g)
}

fn tape_err(e: impl std::fmt::Display) -> StageError {
    StageError::compute("simulations", format!("simulation: {e}"))
}

/// Simulates one network (see the module documentation).
pub fn simulate(task: &Task) -> Result<RunResult, StageError> {
    let t0 = Instant::now();
    let c = &task.case;
    let act = c.activation()?;
    let (n, depth) = (task.width, task.depth);
    let spec = ModelSpec::trunk(c.arch, act, n, depth, c.sw2, c.sv2, c.sb2, c.sa2);
    let params = nn::init::<f64>(&spec, task.seed).map_err(tape_err)?;
    let mut tape = Tape::<f64>::new(&spec, 2, TapeMode::Full, Par::Seq);
    let (xs, gs) = inputs_and_cotangents(n, task.p0, task.e0, task.seed);
    {
        let inp = tape.input_mut(2).map_err(tape_err)?;
        inp[..n].copy_from_slice(&xs[0]);
        inp[n..].copy_from_slice(&xs[1]);
    }
    nn::forward(&params, &mut tape).map_err(tape_err)?;
    let mut p = Vec::with_capacity(depth + 1);
    let mut e = Vec::with_capacity(depth + 1);
    for l in 0..=depth {
        let x = tape.x(l);
        let (a, b) = (&x[..n], &x[n..]);
        let (aa, bb) = (dot(a, a), dot(b, b));
        p.push(0.5 * (aa + bb) / n as f64);
        e.push(dot(a, b) / (aa * bb).sqrt());
    }
    let mut grads = Params::<f64>::zeros(&spec);
    let mut chi = vec![0.0; depth + 1];
    let mut chi_w = vec![0.0; depth];
    for (s, g) in gs.iter().enumerate() {
        {
            let og = tape.output_grad_mut().map_err(tape_err)?;
            og.fill(0.0);
            og[s * n..(s + 1) * n].copy_from_slice(g);
        }
        nn::backward(&params, &mut tape, &mut grads).map_err(tape_err)?;
        let gl = mean_sq(g);
        for (l, c) in chi.iter_mut().enumerate() {
            *c += 0.5 * mean_sq(&tape.dx(l)[s * n..(s + 1) * n]) / gl;
        }
        for (l, c) in chi_w.iter_mut().enumerate() {
            *c += 0.5 * mean_sq(grads.block(l).w) / gl;
        }
    }
    let chi_indep = if task.independent_control {
        drop(params);
        let other = nn::init::<f64>(&spec, task.seed + CONTROL_SEED).map_err(tape_err)?;
        let og = tape.output_grad_mut().map_err(tape_err)?;
        og[..n].copy_from_slice(&gs[0]);
        og[n..].copy_from_slice(&gs[1]);
        nn::backward(&other, &mut tape, &mut grads).map_err(tape_err)?;
        let gl = [mean_sq(&gs[0]), mean_sq(&gs[1])];
        Some(
            (0..=depth)
                .map(|l| {
                    let d = tape.dx(l);
                    0.5 * (mean_sq(&d[..n]) / gl[0] + mean_sq(&d[n..]) / gl[1])
                })
                .collect(),
        )
    } else {
        None
    };
    Ok(RunResult { p, e, chi, chi_w, chi_indep, seconds: t0.elapsed().as_secs_f64() })
}

/// Mean-field curves of a case (index = layer, as in [`RunResult`]).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MeanField {
    pub p: Vec<f64>,
    pub e: Vec<f64>,
    /// $\chi^l/\chi^L$.
    pub chi: Vec<f64>,
    /// $\chi^0/\chi^l = e^{G_l}$.
    pub grad: Vec<f64>,
    /// $\chi_w^l/\chi^L$, block $l = 1..L$ at index $l - 1$.
    pub chi_w: Vec<f64>,
}

/// Iterates the mean-field recurrences of a case to depth $L$.
pub fn mean_field(c: &SimCase, cfg: &Config) -> Result<MeanField, StageError> {
    let spec = Spec { arch: c.arch, act: c.activation()?, var: c.variances(), p0: cfg.p0, e0: cfg.e0 };
    let err = |e: crate::meanfield::MeanFieldError| StageError::compute("simulations", format!("mean field of '{}': {e}", c.name));
    let traj = trajectory(&spec, cfg.depth, &Sampling::Every(1)).map_err(err)?;
    let moments = gradient_moments(&traj);
    let g_l = traj.last().log_grad_explosion;
    let mut chi = vec![g_l.exp()];
    chi.extend(moments.iter().map(|m| m.ln_chi.exp()));
    Ok(MeanField {
        p: traj.layers.iter().map(|x| x.p()).collect(),
        e: traj.layers.iter().map(|x| x.e).collect(),
        grad: traj.layers.iter().map(|x| x.log_grad_explosion.exp()).collect(),
        chi_w: moments.iter().map(|m| m.ln_chi_w.exp()).collect(),
        chi,
    })
}

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
pub fn student_t_tail(t: f64, nu: f64) -> Result<f64, StageError> {
    use crate::math::quadrature::{integrate, Tol};
    use crate::math::special::ln_gamma;
    if !(t >= 0.0 && nu > 0.0 && t.is_finite() && nu.is_finite()) {
        return Err(StageError::compute("simulations", format!("student_t_tail: t = {t}, nu = {nu} (valid: t >= 0, nu > 0, finite)")));
    }
    let ln_c = ln_gamma((nu + 1.0) / 2.0) - ln_gamma(nu / 2.0) - 0.5 * (nu * std::f64::consts::PI).ln();
    let f = |x: f64| (ln_c - (nu + 1.0) / 2.0 * (1.0 + x * x / nu).ln()).exp();
    let q = integrate(f, t, f64::INFINITY, Tol::new(1e-14, 1e-10)).map_err(|e| StageError::compute("simulations", format!("student_t_tail: {e}")))?;
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
fn run_value(r: &RunResult, q: &str, l: usize) -> Option<f64> {
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

fn mf_value(m: &MeanField, q: &str, l: usize) -> Option<f64> {
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
fn stat_at(runs: &[&RunResult], q: &str, l: usize) -> Option<Stat> {
    let xs: Option<Vec<f64>> = runs.iter().map(|r| run_value(r, q, l)).collect();
    xs.filter(|v| !v.is_empty()).map(|v| stat(&v))
}

/// One row of the table `simulations`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Row {
    pub case: String,
    pub arch: String,
    pub act: String,
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
    let z = if se > 0.0 { dev.abs() / se } else if dev == 0.0 { 0.0 } else { f64::INFINITY };
    let pass = dev.abs() <= (criteria::REL_TOL * mf.abs()).max(criteria::SE_MULT * se);
    Row {
        case: c.name.clone(),
        arch: c.arch.short().into(),
        act: c.act.clone(),
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
fn exponents(rows: &[Row]) -> Vec<(String, String, usize, f64)> {
    let mut out = Vec::new();
    let (Some(lo), Some(hi)) = (rows.iter().map(|r| r.width).min(), rows.iter().map(|r| r.width).max()) else {
        return out;
    };
    if lo == hi {
        return out;
    }
    for r in rows.iter().filter(|r| r.width == lo && ["p", "e", "grad", "chi_w"].contains(&r.quantity.as_str())) {
        if let Some(h) = rows.iter().find(|x| x.width == hi && x.case == r.case && x.quantity == r.quantity && x.depth == r.depth) {
            if r.simulated_sd > 0.0 && h.simulated_sd > 0.0 {
                let beta = (h.simulated_sd / r.simulated_sd).ln() / (hi as f64 / lo as f64).ln();
                out.push((r.case.clone(), r.quantity.clone(), r.depth, beta));
            }
        }
    }
    out
}

/// The stage.
pub struct Simulations {
    cfg: Config,
}

impl Simulations {
    /// The stage for a profile section, whose values are checked here.
    pub fn new(cfg: Config) -> Result<Self, crate::pipeline::ConfigError> {
        cfg.validate().map_err(|e| crate::pipeline::Section("simulations").error("section", "(see below)", e.to_string()))?;
        Ok(Self { cfg })
    }
}

/// Version of the summary, tables and figures.
const VERSION: u32 = 5;
/// Version of one simulated network (salts the task keys).
const RUN_VERSION: u32 = 1;

fn salt() -> String {
    format!("simulations-run-v{RUN_VERSION}")
}

impl Stage for Simulations {
    fn name(&self) -> &'static str {
        "simulations"
    }
    fn version(&self) -> u32 {
        VERSION
    }
    fn deps(&self) -> &'static [&'static str] {
        &[]
    }
    fn config(&self) -> Value {
        serde_json::to_value(&self.cfg).expect("config serializes")
    }
    fn chapter(&self) -> Option<crate::pipeline::Chapter> {
        Some(crate::pipeline::Chapter { title: "Simulations", template: include_str!("../../../templates/chapters/simulations.md.j2") })
    }
    fn run(&self, ctx: &StageContext) -> Result<Artifact, StageError> {
        let cfg = &self.cfg;
        cfg.validate()?;
        let tasks = cfg.tasks();
        let t0 = Instant::now();
        // One batch per width, each on a pool sized so that its networks fit the memory budget.
        let mut results: Vec<Option<RunResult>> = vec![None; tasks.len()];
        let mut computed = 0;
        for &w in &cfg.widths {
            let idx: Vec<usize> = (0..tasks.len()).filter(|&i| tasks[i].width == w).collect();
            let batch: Vec<Task> = idx.iter().map(|&i| tasks[i].clone()).collect();
            let Some(bytes) = batch.iter().map(task_bytes).max() else { continue };
            let threads = concurrent_tasks(cfg.memory_budget_gb, bytes, ctx.jobs);
            if threads < ctx.jobs {
                ctx.progress.detail(&format!(
                    "simulations: N = {w} needs {:.2} GB per network; running {threads} at a time (memory_budget_gb = {})",
                    bytes as f64 / 1e9,
                    cfg.memory_budget_gb
                ));
            }
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .map_err(|e| StageError::compute("simulations", format!("simulations: cannot build a thread pool: {e}")))?;
            let label = format!("simulations N={w}");
            let r = pool.install(|| run_tasks(ctx, "simulations/runs", &salt(), &label, &batch, simulate))?;
            computed += r.computed;
            for (i, x) in idx.into_iter().zip(r.results) {
                results[i] = x;
            }
        }
        let wall = t0.elapsed().as_secs_f64();
        let pairs: Vec<(&Task, &RunResult)> =
            tasks.iter().zip(&results).filter_map(|(t, r)| r.as_ref().map(|r| (t, r))).collect();
        if ctx.shard.is_some() {
            ctx.progress.info(&format!("    simulations: this shard holds {} of {} networks", pairs.len(), tasks.len()));
        }
        build_artifact(cfg, &pairs, wall, computed)
    }
}

/// Peak memory of one task in bytes: weights and gradients in `f64`, plus the tape
/// ($x^l$, $h^l$, $\phi^l$, $\partial E/\partial x^l$ of two inputs per layer).
pub fn task_bytes(t: &Task) -> usize {
    let n = t.width;
    let per_block = if t.case.arch == Architecture::Full { 2 * (n * n + n) } else { n * n + n };
    let params = t.depth * per_block;
    let tape = 8 * (t.depth + 1) * n * 2;
    2 * 8 * params + 8 * tape
}

/// How many tasks of `bytes` each fit `budget_gb` at once: between 1 and `jobs`.
pub fn concurrent_tasks(budget_gb: f64, bytes: usize, jobs: usize) -> usize {
    let fit = (budget_gb * 1e9 / bytes.max(1) as f64).floor();
    (fit.max(1.0) as usize).min(jobs.max(1))
}

/// Groups the runs by case and width and computes the mean fields.
pub fn group<'a>(cfg: &'a Config, pairs: &[(&'a Task, &'a RunResult)]) -> Result<Vec<CaseRuns<'a>>, StageError> {
    cfg.cases
        .iter()
        .map(|c| {
            let by_width = cfg
                .widths
                .iter()
                .map(|&w| (w, pairs.iter().filter(|(t, _)| t.case.name == c.name && t.width == w).map(|(_, r)| *r).collect::<Vec<_>>()))
                .filter(|(_, v)| !v.is_empty())
                .collect();
            Ok(CaseRuns { case: c, mf: mean_field(c, cfg)?, by_width })
        })
        .collect()
}

fn fmt(x: f64) -> String {
    crate::report::format::num(x, 3)
}

fn pct(x: f64) -> String {
    format!("{}%", crate::report::format::num(100.0 * x, 2))
}

/// "label quantity at l: rel. dev. (z s.e.)" of the rows outside the criterion.
fn failures_text(cfg: &Config, rs: &[&Row]) -> String {
    let v: Vec<String> = rs
        .iter()
        .filter(|r| !r.pass)
        .map(|r| format!("{} {} at l = {}: {} ({} s.e.)", label_of(cfg, &r.case), r.quantity, r.depth, pct(r.rel_dev), fmt(r.z)))
        .collect();
    if v.is_empty() {
        String::new()
    } else {
        format!("; outside: {}", v.join(", "))
    }
}

/// Summary, table, figures and claims from the runs.
pub fn build_artifact(cfg: &Config, pairs: &[(&Task, &RunResult)], wall: f64, computed: usize) -> Result<Artifact, StageError> {
    let cases = group(cfg, pairs)?;
    let rows = rows(cfg, &cases);
    let n_max = cfg.widths.iter().copied().max().unwrap_or(0);
    let n_min = cfg.widths.iter().copied().min().unwrap_or(0);
    let at_max = |q: &[&str]| -> Vec<&Row> { rows.iter().filter(|r| r.width == n_max && q.contains(&r.quantity.as_str())).collect() };

    // Forward (C2f) and gradient (C2g) checks at the largest width.
    let fwd = at_max(&["p", "e"]);
    let bwd = at_max(&["grad", "chi_w"]);
    let strict = |q: &str| -> Vec<&Row> {
        rows.iter().filter(|r| r.width == n_max && r.case == criteria::STRICT_CASE && r.quantity == q).collect()
    };
    let strict_ok = |rs: &[&Row]| rs.iter().all(|r| r.rel_dev.abs() <= criteria::REL_TOL);
    let strict_p = strict("p");
    let strict_g = strict("ln_grad");
    let fwd_ok = !fwd.is_empty() && fwd.iter().all(|r| r.pass) && strict_ok(&strict_p);
    let bwd_ok = !bwd.is_empty() && bwd.iter().all(|r| r.pass) && strict_ok(&strict_g);
    let max_abs = |rs: &[&Row]| rs.iter().map(|r| r.rel_dev.abs()).fold(0.0, f64::max);

    // Scaling with width.
    let betas = exponents(&rows);
    let beta_mean = if betas.is_empty() { f64::NAN } else { betas.iter().map(|b| b.3).sum::<f64>() / betas.len() as f64 };
    let beta_sd = if betas.len() > 1 {
        (betas.iter().map(|b| (b.3 - beta_mean).powi(2)).sum::<f64>() / (betas.len() - 1) as f64).sqrt()
    } else {
        f64::NAN
    };
    let scaling_ok = (beta_mean + 0.5).abs() <= criteria::EXPONENT_TOL;

    // Per-case summaries for the template.
    let case_summaries: Vec<Value> = cases
        .iter()
        .map(|cr| {
            let c = cr.case;
            let mine: Vec<&Row> = rows.iter().filter(|r| r.case == c.name).collect();
            let by_depth: Vec<Value> = cfg
                .depths()
                .iter()
                .flat_map(|&d| {
                    let mine = &mine;
                    QUANTITIES.iter().filter_map(move |(q, tex)| {
                        let rs: Vec<&&Row> = mine.iter().filter(|r| r.depth == d && r.quantity == *q).collect();
                        let first = rs.first()?;
                        Some(json!({
                            "depth": d, "quantity": q, "tex": tex, "mean_field": first.mean_field,
                            "widths": rs.iter().map(|r| json!({
                                "width": r.width, "rel_dev": r.rel_dev, "rel_sd": r.rel_sd,
                                "rel_sd_sqrt_n": r.rel_sd_sqrt_n, "z": r.z, "pass": r.pass,
                            })).collect::<Vec<_>>(),
                        }))
                    })
                })
                .collect();
            let l = cfg.depth;
            let get = |q: &str, w: usize| mine.iter().find(|r| r.quantity == q && r.width == w && r.depth == l).copied();
            let gia = |q: &str| get(q, n_max).map(|r| json!({"rel_dev": r.rel_dev, "z": r.z, "mean": r.simulated_mean, "sd": r.simulated_sd}));
            json!({
                "name": c.name, "label": c.label(), "arch": c.arch.short(), "act": c.act, "alpha": c.alpha,
                "sw2": c.sw2, "sv2": c.sv2, "sb2": c.sb2, "sa2": c.sa2,
                "mf_at_l": {
                    "p": cr.mf.p[l], "e": cr.mf.e[l], "grad": cr.mf.grad[l], "ln_grad": cr.mf.grad[l].ln(),
                    "chi_w_first": cr.mf.chi_w.first(), "chi_w_last": cr.mf.chi_w.last(),
                },
                "rows": by_depth,
                "n_rows": mine.len(),
                "n_pass_max_width": mine.iter().filter(|r| r.width == n_max && r.pass).count(),
                "n_rows_max_width": mine.iter().filter(|r| r.width == n_max).count(),
                "law": case_law(c),
                "single": {
                    "p_rel_sd": get("p", n_max).map(|r| r.rel_sd), "grad_rel_sd": get("grad", n_max).map(|r| r.rel_sd),
                    "e_sd": get("e", n_max).map(|r| r.simulated_sd), "ln_grad_sd": get("ln_grad", n_max).map(|r| r.simulated_sd),
                },
                "gia_same": gia("grad"), "gia_indep": gia("grad_indep"), "ln_grad": gia("ln_grad"),
                "figure": format!("simulations-{}", c.name),
            })
        })
        .collect();

    let failed: Vec<Value> = rows
        .iter()
        .filter(|r| r.width == n_max && !r.pass && r.quantity != "grad_indep" && r.quantity != "ln_grad")
        .map(|r| {
            let tex = QUANTITIES.iter().find(|q| q.0 == r.quantity).map_or(r.quantity.as_str(), |q| q.1);
            json!({"label": label_of(cfg, &r.case), "quantity": r.quantity, "tex": tex, "depth": r.depth, "rel_dev": r.rel_dev, "z": r.z})
        })
        .collect();
    let seconds: Vec<f64> = pairs.iter().map(|(_, r)| r.seconds).collect();
    let strict_rows = |rs: &[&Row]| -> Vec<Value> { rs.iter().map(|r| json!({"depth": r.depth, "rel_dev": r.rel_dev})).collect() };
    let indep_rows = at_max(&["grad_indep"]);
    let same_rows = at_max(&["grad"]);
    let mean_z = |rs: &[&Row]| if rs.is_empty() { f64::NAN } else { rs.iter().map(|r| r.z).sum::<f64>() / rs.len() as f64 };
    // Chance that an exactly right mean field falls outside SE_MULT standard errors of a seed mean
    // (Student t with seeds - 1 degrees of freedom; the 5% alternative only lowers it).
    let se_l: Vec<f64> = same_rows.iter().filter(|r| r.depth == cfg.depth).map(|r| r.rel_sd / (r.seeds as f64).sqrt()).collect();
    let rel_se_at_l = if se_l.is_empty() { f64::NAN } else { se_l.iter().sum::<f64>() / se_l.len() as f64 };
    let p_false = student_t_tail(criteria::SE_MULT, cfg.seeds as f64 - 1.0)?;
    let strict_label = label_of(cfg, criteria::STRICT_CASE);

    let claims = vec![
        Claim {
            id: "C2f".into(),
            chapter: "simulations".into(),
            claim: "The mean-field forward recurrences (p^l, e^l) describe finite-width random residual networks: they are the expectation over the weights of the per-network quantities.".into(),
            criterion: format!(
                "at the largest width N = {n_max}, every configuration and table depth: |mean over seeds - mean field| <= max({}% of the mean field, {} standard errors), and for {strict_label} |rel. dev. of p| <= {}%",
                criteria::REL_TOL * 100.0, criteria::SE_MULT, criteria::REL_TOL * 100.0
            ),
            measured: format!(
                "{} of {} checks pass ({} seeds; {} exceedances expected by chance); largest |rel. dev.|: p {}, e {}; {strict_label} p: {}{}",
                fwd.iter().filter(|r| r.pass).count(),
                fwd.len(),
                cfg.seeds,
                fmt(p_false * fwd.len() as f64),
                pct(max_abs(&at_max(&["p"]))),
                pct(max_abs(&at_max(&["e"]))),
                pct(max_abs(&strict_p)),
                failures_text(cfg, &fwd)
            ),
            status: if fwd_ok { ClaimStatus::Reproduced } else { ClaimStatus::NotReproduced },
        },
        Claim {
            id: "C2g".into(),
            chapter: "simulations".into(),
            claim: "The mean-field gradient recurrences (which assume gradient independence) match finite-width backpropagation through the same weights: chi^0/chi^l and the weight-gradient moment chi_w^l.".into(),
            criterion: format!(
                "at the largest width N = {n_max}: chi^0/chi^l and chi_w^l/chi^L within max({}%, {} standard errors) of mean field at every table depth, and for {strict_label} |rel. dev. of ln(chi^0/chi^l)| <= {}%",
                criteria::REL_TOL * 100.0, criteria::SE_MULT, criteria::REL_TOL * 100.0
            ),
            measured: format!(
                "{} of {} checks pass ({} seeds; {} exceedances expected by chance); largest |rel. dev.|: chi^0/chi^l {}, chi_w {}; {strict_label} ln(chi^0/chi^l): {}{}{}",
                bwd.iter().filter(|r| r.pass).count(),
                bwd.len(),
                cfg.seeds,
                fmt(p_false * bwd.len() as f64),
                pct(max_abs(&at_max(&["grad"]))),
                pct(max_abs(&at_max(&["chi_w"]))),
                pct(max_abs(&strict_g)),
                if indep_rows.is_empty() {
                    String::new()
                } else {
                    format!("; independent-weights control: largest |rel. dev.| of chi^0/chi^l {}, mean {} s.e. vs {} s.e. through the same weights", pct(max_abs(&indep_rows)), fmt(mean_z(&indep_rows)), fmt(mean_z(&same_rows)))
                },
                failures_text(cfg, &bwd)
            ),
            status: if bwd_ok { ClaimStatus::Reproduced } else { ClaimStatus::NotReproduced },
        },
        Claim {
            id: "C2h".into(),
            chapter: "simulations".into(),
            claim: "Mean field is the infinite-width limit: the per-network fluctuations around it shrink like 1/sqrt(N).".into(),
            criterion: format!(
                "exponent of the seed-to-seed standard deviation against width between N = {n_min} and N = {n_max}, averaged over configurations, quantities (p, e, chi^0/chi^l, chi_w) and table depths, within {} of -1/2",
                criteria::EXPONENT_TOL
            ),
            measured: format!("mean exponent {} (sd {} over {} estimates)", fmt(beta_mean), fmt(beta_sd), betas.len()),
            status: if betas.is_empty() {
                ClaimStatus::NotTested
            } else if scaling_ok {
                ClaimStatus::Reproduced
            } else {
                ClaimStatus::NotReproduced
            },
        },
    ];

    let figures = if pairs.is_empty() { vec![] } else { figures(cfg, &cases, &rows)? };
    let summary = json!({
        "config": cfg,
        "depths": cfg.depths(),
        "n_networks": pairs.len(),
        "n_computed": computed,
        "wall_seconds": wall,
        "task_seconds": seconds.iter().sum::<f64>(),
        "max_task_seconds": seconds.iter().copied().fold(0.0, f64::max),
        "n_max": n_max, "n_min": n_min,
        "exact_test": {
            "seeds": exact_test::SEEDS, "width": exact_test::WIDTH, "depth": exact_test::DEPTH,
            "wrong_rate_excess": exact_test::WRONG_RATE_EXCESS,
        },
        "control_seed_log2": CONTROL_SEED.trailing_zeros(),
        "criteria": {
            "rel_tol": criteria::REL_TOL, "se_mult": criteria::SE_MULT, "strict_case": criteria::STRICT_CASE,
            "exponent_tol": criteria::EXPONENT_TOL,
        },
        "forward": {
            "pass": fwd_ok, "n": fwd.len(), "n_pass": fwd.iter().filter(|r| r.pass).count(),
            "max_rel_p": max_abs(&at_max(&["p"])), "max_rel_e": max_abs(&at_max(&["e"])),
            "strict": strict_rows(&strict_p), "strict_max": max_abs(&strict_p), "strict_pass": strict_ok(&strict_p),
        },
        "gradient": {
            "pass": bwd_ok, "n": bwd.len(), "n_pass": bwd.iter().filter(|r| r.pass).count(),
            "max_rel_grad": max_abs(&at_max(&["grad"])), "max_rel_chi_w": max_abs(&at_max(&["chi_w"])),
            "max_rel_indep": if indep_rows.is_empty() { Value::Null } else { json!(max_abs(&indep_rows)) },
            "strict": strict_rows(&strict_g), "strict_max": max_abs(&strict_g), "strict_pass": strict_ok(&strict_g),
        },
        "false_alarm": {
            "p_one": p_false, "expected_forward": p_false * fwd.len() as f64, "expected_gradient": p_false * bwd.len() as f64,
            "dof": cfg.seeds - 1, "mean_abs_t": mean_abs_t(cfg.seeds as f64 - 1.0),
        },
        "gia": {
            "mean_z_same": mean_z(&same_rows), "mean_z_indep": mean_z(&indep_rows),
            "max_rel_same": max_abs(&same_rows), "max_rel_indep": max_abs(&indep_rows),
            "n_pass_same": same_rows.iter().filter(|r| r.pass).count(), "n_pass_indep": indep_rows.iter().filter(|r| r.pass).count(),
            "n": same_rows.len(),
            "rel_se_at_l": rel_se_at_l,
        },
        "scaling": {
            "pass": scaling_ok, "beta_mean": beta_mean, "beta_sd": beta_sd, "n": betas.len(),
            "list": betas.iter().map(|b| json!({"case": b.0, "quantity": b.1, "depth": b.2, "beta": b.3})).collect::<Vec<_>>(),
        },
        "failed": failed,
        "cases": case_summaries,
        "claims": claims,
    });
    let table_rows: Vec<Value> = rows
        .iter()
        .map(|r| serde_json::to_value(r).map_err(|e| StageError::compute("simulations", e.to_string())))
        .collect::<Result<_, _>>()?;
    Ok(Artifact {
        summary,
        tables: vec![DataTable { name: "simulations".into(), rows: table_rows, json_key: None, extra: Default::default() }],
        figures,
        claims,
    })
}

/// The growth law of $p^l$ quoted in the chapter (zero-bias forms of Chapter 3):
/// tanh $p^l \approx B\,l$ with $B = \sigma_v^2 + \sigma_a^2$ (FRN) or $\sigma_w^2 + \sigma_b^2$ (RRN);
/// ReLU $p^l \propto r^l$ with $r = 1 + \sigma_v^2\sigma_w^2/2$ (FRN) or $1 + \sigma_w^2/2$ (RRN);
/// $\alpha$-ReLU $p^l \propto l^{1/(1-\alpha)}$.
fn case_law(c: &SimCase) -> Value {
    let full = c.arch == Architecture::Full;
    match (c.act.as_str(), c.alpha) {
        ("tanh", _) => json!({"kind": "linear", "b": if full { c.sv2 + c.sa2 } else { c.sw2 + c.sb2 }}),
        ("relu", _) => json!({"kind": "exponential", "rate": if full { 1.0 + c.sv2 * c.sw2 / 2.0 } else { 1.0 + c.sw2 / 2.0 }}),
        ("alpha-relu", Some(a)) if a < 1.0 => json!({"kind": "power", "exponent": 1.0 / (1.0 - a)}),
        _ => json!({"kind": "other"}),
    }
}

fn label_of(cfg: &Config, name: &str) -> String {
    cfg.cases.iter().find(|c| c.name == name).map(|c| c.label()).unwrap_or_else(|| name.to_string())
}

// ---------------------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------------------

const PANEL_W: u32 = 480;
const PANEL_H: u32 = 340;
/// Palette index of the mean-field curves (black).
const MF_COLOR: usize = 6;

/// Lays out SVG panels of `w x h` pixels on a grid with `cols` columns as one SVG document
/// (nested `<svg>` elements; the panels carry no ids, so nothing clashes).
pub fn compose(panels: &[String], cols: usize, w: u32, h: u32) -> String {
    let cols = cols.max(1);
    let rows = panels.len().div_ceil(cols);
    let (tw, th) = (w * cols as u32, h * rows as u32);
    let mut out = format!(
        "<svg width=\"{tw}\" height=\"{th}\" viewBox=\"0 0 {tw} {th}\" xmlns=\"http://www.w3.org/2000/svg\">\n<rect x=\"0\" y=\"0\" width=\"{tw}\" height=\"{th}\" fill=\"#FFFFFF\"/>\n"
    );
    for (i, p) in panels.iter().enumerate() {
        let start = p.find("<svg").unwrap_or(0);
        let body = p[start..].trim_end();
        let (x, y) = ((i % cols) as u32 * w, (i / cols) as u32 * h);
        out.push_str(&format!("<svg x=\"{x}\" y=\"{y}\"{}\n", &body[4..]));
    }
    out.push_str("</svg>\n");
    out
}

fn fig_err(name: &str) -> impl Fn(crate::report::figures::FigureError) -> StageError + '_ {
    move |e| StageError::compute("simulations", format!("figure {name}: {e}"))
}

/// Mean line and min-max band over seeds of a quantity, for layers `from..=L`.
fn seed_series(runs: &[&RunResult], q: &str, from: usize, depth: usize, label: String, color: usize) -> Series {
    let mut pts = Vec::new();
    let mut band = Vec::new();
    for l in from..=depth {
        if let Some(s) = stat_at(runs, q, l) {
            pts.push((l as f64, s.mean));
            band.push((l as f64, s.min, s.max));
        }
    }
    Series::new(label, pts).band(band).color(color)
}

fn mf_series(m: &MeanField, q: &str, from: usize, depth: usize) -> Series {
    let pts = (from..=depth).filter_map(|l| mf_value(m, q, l).map(|v| (l as f64, v))).collect();
    Series::new("mean field", pts).style(SeriesStyle::Dashed).color(MF_COLOR)
}

fn case_figure(cfg: &Config, cr: &CaseRuns) -> Result<Figure, StageError> {
    let name = format!("simulations-{}", cr.case.name);
    let l = cfg.depth;
    let panel = |title: &str, ylab: &str, q: &str, from: usize, log: bool| -> Result<String, StageError> {
        let mut plot = LinePlot::new(title, "layer l", ylab).size(PANEL_W, PANEL_H).legend(LegendPos::Auto);
        if log {
            plot = plot.log_y();
        }
        for (i, (w, runs)) in cr.by_width.iter().enumerate() {
            plot.series.push(seed_series(runs, q, from, l, format!("N = {w}"), i));
        }
        plot.series.push(mf_series(&cr.mf, q, from, l));
        plot.render().map_err(fig_err(&name))
    };
    let mut panels = vec![
        panel("(a) length pˡ", "pˡ", "p", 0, true)?,
        panel("(b) cosine eˡ", "eˡ", "e", 0, false)?,
        panel("(c) gradient χˡ/χᴸ", "χˡ / χᴸ", "chi", 0, true)?,
        panel("(d) weight gradient χ_wˡ/χᴸ", "χ_wˡ / χᴸ", "chi_w", 1, true)?,
    ];
    // (e) ratio to mean field at the largest width.
    let (wmax, runs) = cr.by_width.last().expect("a case with runs");
    let mut plot = LinePlot::new(format!("(e) simulated / mean field, N = {wmax}"), "layer l", "ratio").size(PANEL_W, PANEL_H);
    let ratio = |q: &str, from: usize, label: &str, color: usize, style: SeriesStyle| -> Option<Series> {
        let mut pts = Vec::new();
        let mut band = Vec::new();
        for ll in from.max(1)..=l {
            let (Some(s), Some(m)) = (stat_at(runs, q, ll), mf_value(&cr.mf, q, ll)) else { return None };
            pts.push((ll as f64, s.mean / m));
            band.push((ll as f64, s.min / m, s.max / m));
        }
        let mut s = Series::new(label, pts).color(color).style(style);
        if style == SeriesStyle::Line && q != "chi_w" {
            s = s.band(band);
        }
        Some(s)
    };
    for (i, (q, label)) in [("p", "pˡ"), ("grad", "χ⁰/χˡ"), ("chi_w", "χ_wˡ")].iter().enumerate() {
        if let Some(s) = ratio(q, 1, label, i, SeriesStyle::Line) {
            plot.series.push(s);
        }
    }
    if let Some(s) = ratio("grad_indep", 1, "χ⁰/χˡ, indep. W", 3, SeriesStyle::Dashed) {
        plot.series.push(s);
    }
    plot = plot.hline(1.0, "");
    panels.push(plot.render().map_err(fig_err(&name))?);
    // (f) e - e_MF per width.
    let mut plot = LinePlot::new("(f) cosine minus mean field", "layer l", "eˡ − eˡ(MF)").size(PANEL_W, PANEL_H);
    for (i, (w, runs)) in cr.by_width.iter().enumerate() {
        let mut pts = Vec::new();
        let mut band = Vec::new();
        for ll in 0..=l {
            if let Some(s) = stat_at(runs, "e", ll) {
                let m = cr.mf.e[ll];
                pts.push((ll as f64, s.mean - m));
                band.push((ll as f64, s.min - m, s.max - m));
            }
        }
        plot.series.push(Series::new(format!("N = {w}"), pts).band(band).color(i));
    }
    plot = plot.hline(0.0, "");
    panels.push(plot.render().map_err(fig_err(&name))?);
    let c = cr.case;
    let var = match c.arch {
        Architecture::Full => format!("$\\sigma_w^2 = {}$, $\\sigma_v^2 = {}$, $\\sigma_b^2 = {}$, $\\sigma_a^2 = {}$", c.sw2, c.sv2, c.sb2, c.sa2),
        _ => format!("$\\sigma_w^2 = {}$, $\\sigma_b^2 = {}$", c.sw2, c.sb2),
    };
    Ok(Figure {
        name,
        caption: format!(
            "{} ({var}), depth {l}, {} seeds per width: (a) $p^l$, (b) $e^l$, (c) $\\chi^l/\\chi^L$, (d) $\\chi_w^l/\\chi^L$ against the layer; solid lines are seed means, shaded bands the range over seeds (min to max), dashed black the mean-field recurrences. (e) Seed means divided by mean field at the largest width (bands: range over seeds), with the gradient ratio $\\chi^0/\\chi^l$ also backpropagated through independently drawn weights (dashed). (f) $e^l$ minus its mean-field value.",
            c.label(),
            cfg.seeds
        ),
        svg: compose(&panels, 2, PANEL_W, PANEL_H),
    })
}

fn width_figure(cfg: &Config, cases: &[CaseRuns], rows: &[Row]) -> Result<Figure, StageError> {
    let name = "simulations-width";
    let l = cfg.depth;
    let mut panels = Vec::new();
    // (a)-(d): sqrt(N) sd / MF against the layer, per configuration: curves of different widths
    // coincide if the fluctuations scale like N^{-1/2}.
    for (k, cr) in cases.iter().enumerate() {
        let letter = (b'a' + k as u8) as char;
        let mut plot = LinePlot::new(format!("({letter}) {}", cr.case.label()), "layer l", "√N · sd / mean field")
            .log_y()
            .size(PANEL_W, PANEL_H);
        for (i, (w, runs)) in cr.by_width.iter().enumerate() {
            for (q, style, ql) in [("p", SeriesStyle::Line, "pˡ"), ("grad", SeriesStyle::Dashed, "χ⁰/χˡ")] {
                let pts: Vec<(f64, f64)> = (1..=l)
                    .filter_map(|ll| {
                        let (s, m) = (stat_at(runs, q, ll)?, mf_value(&cr.mf, q, ll)?);
                        Some((ll as f64, s.sd / m.abs() * (*w as f64).sqrt()))
                    })
                    .collect();
                plot.series.push(Series::new(format!("{ql}, N = {w}"), pts).style(style).color(i));
            }
        }
        panels.push(plot.render().map_err(fig_err(name))?);
    }
    let next = (b'a' + cases.len() as u8) as char;
    // Relative sd at depth L against width.
    let mut plot = LinePlot::new(format!("({next}) spread at depth {l} against width"), "width N", "sd / mean field")
        .log_x()
        .log_y()
        .size(PANEL_W, PANEL_H)
        .legend(LegendPos::LowerLeft);
    let (lo, hi) = (cfg.widths.iter().copied().min().unwrap_or(1) as f64, cfg.widths.iter().copied().max().unwrap_or(1) as f64);
    let mut top: f64 = 0.0;
    for (i, cr) in cases.iter().enumerate() {
        for (q, style) in [("p", SeriesStyle::LineWithMarkers), ("grad", SeriesStyle::Dashed)] {
            let pts: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| r.case == cr.case.name && r.quantity == q && r.depth == l)
                .map(|r| (r.width as f64, r.rel_sd))
                .collect();
            top = pts.iter().filter(|p| p.0 == lo).map(|p| p.1).fold(top, f64::max);
            let label = if q == "p" { cr.case.name.clone() } else { String::new() };
            plot.series.push(Series::new(label, pts).style(style).color(i));
        }
    }
    if hi > lo && top > 0.0 {
        let r: Vec<(f64, f64)> = [lo, hi].iter().map(|&x| (x, 1.5 * top * (x / lo).powf(-0.5))).collect();
        plot.series.push(Series::new("∝ N^(−1/2)", r).style(SeriesStyle::Dashed).color(MF_COLOR));
    }
    panels.push(plot.render().map_err(fig_err(name))?);
    // Exponent estimates.
    let next2 = (next as u8 + 1) as char;
    let betas = exponents(rows);
    let mut plot = LinePlot::new(format!("({next2}) exponent β of sd ∝ N^β"), "table depth l", "β").size(PANEL_W, PANEL_H);
    for (i, cr) in cases.iter().enumerate() {
        // Offset the configurations slightly along x so that their markers do not overlap.
        let dx = (i as f64 - (cases.len() as f64 - 1.0) / 2.0) * l as f64 / 80.0;
        let pts: Vec<(f64, f64)> = betas.iter().filter(|b| b.0 == cr.case.name).map(|b| (b.2 as f64 + dx, b.3)).collect();
        plot.series.push(Series::new(cr.case.name.clone(), pts).style(SeriesStyle::Markers).color(i));
    }
    plot = plot.hline(-0.5, "−1/2");
    panels.push(plot.render().map_err(fig_err(name))?);
    Ok(Figure {
        name: name.into(),
        caption: format!(
            "Fluctuations against width. ({}) For each configuration, the seed-to-seed standard deviation divided by the mean-field value and multiplied by $\\sqrt N$, against the layer, for $p^l$ (solid) and $\\chi^0/\\chi^l$ (dashed), one colour per width: with $N^{{-1/2}}$ scaling the curves of different widths coincide. ({next}) The relative standard deviation at depth {l} against width (markers: $p^L$, dashed: $\\chi^0/\\chi^L$) with a reference slope $N^{{-1/2}}$. ({next2}) The exponent estimated between the smallest and the largest width for every configuration, quantity ($p$, $e$, $\\chi^0/\\chi^l$, $\\chi_w$) and table depth; the line marks $-1/2$.",
            if cases.len() > 1 { format!("a–{}", (b'a' + cases.len() as u8 - 1) as char) } else { "a".into() }
        ),
        svg: compose(&panels, 2, PANEL_W, PANEL_H),
    })
}

fn figures(cfg: &Config, cases: &[CaseRuns], rows: &[Row]) -> Result<Vec<Figure>, StageError> {
    let mut v = Vec::new();
    for cr in cases.iter().filter(|c| !c.by_width.is_empty()) {
        v.push(case_figure(cfg, cr)?);
    }
    v.push(width_figure(cfg, cases, rows)?);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_task(c: SimCase, width: usize, depth: usize, seed: u64) -> Task {
        Task { case: c, width, depth, seed, p0: 1.3, e0: 0.4, independent_control: true }
    }

    /// The inputs have exactly the requested length and cosine.
    #[test]
    fn inputs_have_requested_geometry() {
        let ([x, xp], _) = inputs_and_cotangents(50, 1.3, -0.35, 9);
        assert!((dot(&x, &x) / 50.0 - 1.3).abs() < 1e-12);
        assert!((dot(&xp, &xp) / 50.0 - 1.3).abs() < 1e-12);
        assert!((dot(&x, &xp) / (dot(&x, &x) * dot(&xp, &xp)).sqrt() + 0.35).abs() < 1e-12);
    }

    /// The measurement against a naive, loop-by-loop forward and backward pass written here from
    /// the model equations (SCIENCE.md 1) on the stored weights: p, e, chi, chi_w, and the control.
    #[test]
    fn measurement_matches_naive_loops() {
        for c in [
            SimCase { sb2: 0.3, sa2: 0.2, ..case("f", Architecture::Full, "tanh", None, 1.5, 0.8) },
            SimCase { sb2: 0.1, ..case("r", Architecture::Reduced, "alpha-relu", Some(0.75), 1.2, 0.0) },
        ] {
            let (n, depth, seed) = (6, 3, 4);
            let task = tiny_task(c.clone(), n, depth, seed);
            let r = simulate(&task).unwrap();
            let act = c.activation().unwrap();
            let spec = ModelSpec::trunk(c.arch, act, n, depth, c.sw2, c.sv2, c.sb2, c.sa2);
            let ([x0, x1], gs) = inputs_and_cotangents(n, task.p0, task.e0, seed);
            let matvec = |w: &[f64], x: &[f64], t: bool| -> Vec<f64> {
                (0..n).map(|i| (0..n).map(|j| if t { w[j * n + i] * x[j] } else { w[i * n + j] * x[j] }).sum()).collect()
            };
            // Forward, keeping x^l and the pre-activations z^l (h^l for FRN, x^{l-1} for RRN).
            let naive = |params: &Params<f64>, x: &[f64]| -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
                let mut xs = vec![x.to_vec()];
                let mut zs = vec![];
                let p = params;
                for l in 0..depth {
                    let b = p.block(l);
                    let xp = xs[l].clone();
                    let next: Vec<f64> = match c.arch {
                        Architecture::Full => {
                            let h: Vec<f64> = matvec(b.w, &xp, false).iter().zip(b.b).map(|(u, v)| u + v).collect();
                            let ph: Vec<f64> = h.iter().map(|&u| act.eval(u)).collect();
                            let out = matvec(b.v, &ph, false);
                            zs.push(h);
                            (0..n).map(|i| xp[i] + out[i] + b.a[i]).collect()
                        }
                        _ => {
                            let ph: Vec<f64> = xp.iter().map(|&u| act.eval(u)).collect();
                            let out = matvec(b.w, &ph, false);
                            zs.push(xp.clone());
                            (0..n).map(|i| xp[i] + out[i] + b.b[i]).collect()
                        }
                    };
                    xs.push(next);
                }
                (xs, zs)
            };
            // Backward: returns g^l for l = 0..L and the per-block mean squared dW.
            let back = |params: &Params<f64>, xs: &[Vec<f64>], zs: &[Vec<f64>], g: &[f64]| -> (Vec<Vec<f64>>, Vec<f64>) {
                let mut gl = vec![vec![]; depth + 1];
                let mut dw = vec![0.0; depth];
                gl[depth] = g.to_vec();
                for l in (1..=depth).rev() {
                    let b = params.block(l - 1);
                    let g = gl[l].clone();
                    match c.arch {
                        Architecture::Full => {
                            let vg = matvec(b.v, &g, true);
                            let dh: Vec<f64> = (0..n).map(|i| vg[i] * act.deriv(zs[l - 1][i])).collect();
                            let wd = matvec(b.w, &dh, true);
                            dw[l - 1] = (0..n).flat_map(|i| (0..n).map(move |j| (i, j))).map(|(i, j)| (dh[i] * xs[l - 1][j]).powi(2)).sum::<f64>() / (n * n) as f64;
                            gl[l - 1] = (0..n).map(|i| g[i] + wd[i]).collect();
                        }
                        _ => {
                            let ph: Vec<f64> = zs[l - 1].iter().map(|&u| act.eval(u)).collect();
                            dw[l - 1] = (0..n).flat_map(|i| (0..n).map(move |j| (i, j))).map(|(i, j)| (g[i] * ph[j]).powi(2)).sum::<f64>() / (n * n) as f64;
                            let wg = matvec(b.w, &g, true);
                            gl[l - 1] = (0..n).map(|i| g[i] + wg[i] * act.deriv(zs[l - 1][i])).collect();
                        }
                    }
                }
                (gl, dw)
            };
            let params = nn::init::<f64>(&spec, seed).unwrap();
            let (xa, za) = naive(&params, &x0);
            let (xb, zb) = naive(&params, &x1);
            let close = |a: f64, b: f64, what: &str| assert!((a - b).abs() <= 1e-11 * b.abs().max(1e-300), "{what}: {a} vs {b}");
            for l in 0..=depth {
                close(r.p[l], 0.5 * (mean_sq(&xa[l]) + mean_sq(&xb[l])), "p");
                close(r.e[l], dot(&xa[l], &xb[l]) / (dot(&xa[l], &xa[l]) * dot(&xb[l], &xb[l])).sqrt(), "e");
            }
            let (ga, dwa) = back(&params, &xa, &za, &gs[0]);
            let (gb, dwb) = back(&params, &xb, &zb, &gs[1]);
            let (na, nb) = (mean_sq(&gs[0]), mean_sq(&gs[1]));
            for l in 0..=depth {
                close(r.chi[l], 0.5 * (mean_sq(&ga[l]) / na + mean_sq(&gb[l]) / nb), "chi");
            }
            for l in 0..depth {
                close(r.chi_w[l], 0.5 * (dwa[l] / na + dwb[l] / nb), "chi_w");
            }
            let other = nn::init::<f64>(&spec, seed + CONTROL_SEED).unwrap();
            let (ga, _) = back(&other, &xa, &za, &gs[0]);
            let (gb, _) = back(&other, &xb, &zb, &gs[1]);
            let ind = r.chi_indep.as_ref().unwrap();
            for l in 0..=depth {
                close(ind[l], 0.5 * (mean_sq(&ga[l]) / na + mean_sq(&gb[l]) / nb), "chi_indep");
            }
        }
    }

    /// ReLU FRN with zero biases: given x^{l-1}, W x^{l-1} is exactly Gaussian with variance
    /// sw2 |x^{l-1}|^2/N per unit, so E[|x^l|^2/N | x^{l-1}] = (1 + sv2 sw2/2) |x^{l-1}|^2/N and
    /// E[p^L] = p^0 (1 + sv2 sw2/2)^L exactly at every width. The seed mean at small width must lie within
    /// 4 standard errors (from the observed spread) of this product, and must reject a rate
    /// `WRONG_RATE_EXCESS` too large (the test has the power to fail).
    #[test]
    fn relu_frn_mean_length_is_the_exact_product() {
        let c = case("relu", Architecture::Full, "relu", None, 1.0, 2.0);
        let (n, depth, seeds) = (exact_test::WIDTH, exact_test::DEPTH, exact_test::SEEDS);
        let ps: Vec<f64> = (0..seeds)
            .map(|s| {
                let mut t = tiny_task(c.clone(), n, depth, s);
                t.independent_control = false;
                simulate(&t).unwrap().p[depth]
            })
            .collect();
        let st = stat(&ps);
        let se = st.sd / (seeds as f64).sqrt();
        let exact = 1.3 * (1.0f64 + 2.0 / 2.0).powi(depth as i32);
        assert!((st.mean - exact).abs() <= 4.0 * se, "mean {} vs exact {exact} (se {se})", st.mean);
        let wrong = 1.3 * (1.0f64 + (1.0 + exact_test::WRONG_RATE_EXCESS) * 2.0 / 2.0).powi(depth as i32);
        assert!((st.mean - wrong).abs() > 4.0 * se, "a 5% larger rate {wrong} is not rejected (mean {}, se {se})", st.mean);
        // And the mean-field recurrence gives the same product.
        let cfg = Config { depth, p0: 1.3, e0: 0.4, ..Config::default() };
        let mf = mean_field(&c, &cfg).unwrap();
        assert!((mf.p[depth] / exact - 1.0).abs() < 1e-12);
    }

    /// A seed gives the same numbers whatever the thread count (rayon pools of 1 and 2 threads).
    #[test]
    fn same_seed_same_numbers_across_thread_counts() {
        use rayon::prelude::*;
        let cfg = Config { widths: vec![8, 12], depth: 5, seeds: 3, ..Config::default() };
        let tasks = cfg.tasks();
        let run = |threads: usize| -> Vec<RunResult> {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| tasks.par_iter().map(|t| RunResult { seconds: 0.0, ..simulate(t).unwrap() }).collect())
        };
        let (a, b) = (run(1), run(2));
        assert_eq!(a, b);
        assert_ne!(a[0], a[1], "different seeds differ");
    }

    /// A small configuration yields the table with the issue's keys, figures and claims.
    #[test]
    fn small_config_produces_complete_artifact() {
        let cfg = Config { widths: vec![8, 16], depth: 6, seeds: 3, table_depths: vec![2, 4], ..Config::default() };
        cfg.validate().unwrap();
        let tasks = cfg.tasks();
        let results: Vec<RunResult> = tasks.iter().map(|t| simulate(t).unwrap()).collect();
        let pairs: Vec<(&Task, &RunResult)> = tasks.iter().zip(&results).collect();
        let art = build_artifact(&cfg, &pairs, 0.0, tasks.len()).unwrap();
        let t = &art.tables[0];
        assert_eq!(t.name, "simulations");
        for k in ["arch", "act", "alpha", "width", "depth", "quantity", "mean_field", "simulated_mean", "simulated_sd", "seeds", "rel_dev"] {
            assert!(t.rows.iter().all(|r| r.get(k).is_some()), "{k}");
        }
        // 4 cases x 3 depths (2, 4, 6) x 6 quantities x 2 widths.
        assert_eq!(t.rows.len(), 4 * 3 * 6 * 2);
        assert_eq!(art.claims.len(), 3);
        assert_eq!(art.figures.len(), cfg.cases.len() + 1);
        for f in &art.figures {
            assert!(f.name.starts_with("simulations-") && f.svg.starts_with("<svg") && f.svg.trim_end().ends_with("</svg>"));
            crate::report::markdown::prepare_svg(&f.svg, &f.name, "x").unwrap();
        }
    }

    /// Student t tails against closed forms (nu = 1: Cauchy, 1 - (2/pi) atan t; nu = 2:
    /// 1 - t/sqrt(2 + t^2)) and the critical values of the standard t table (Abramowitz & Stegun
    /// Table 26.10: nu = 7, t = 2.998 for two-sided 0.02 and 3.499 for 0.01; nu = 15, 2.947 for 0.01;
    /// printed to 3 decimals, hence the 2e-3 relative tolerance).
    #[test]
    fn student_t_tail_matches_closed_forms_and_tables() {
        for t in [0.0, 0.5, 1.0, 3.0, 10.0] {
            let cauchy = 1.0 - 2.0 / std::f64::consts::PI * f64::atan(t);
            assert!((student_t_tail(t, 1.0).unwrap() - cauchy).abs() < 1e-9, "nu = 1, t = {t}");
            let two = 1.0 - t / (2.0 + t * t).sqrt();
            assert!((student_t_tail(t, 2.0).unwrap() - two).abs() < 1e-9, "nu = 2, t = {t}");
        }
        for (t, nu, p) in [(2.998, 7.0, 0.02), (3.499, 7.0, 0.01), (2.947, 15.0, 0.01)] {
            let got = student_t_tail(t, nu).unwrap();
            assert!((got / p - 1.0).abs() < 2e-3, "t = {t}, nu = {nu}: {got} vs {p}");
        }
        assert!(student_t_tail(-1.0, 3.0).is_err());
    }

    /// E|T| against quadrature of |t| times the density, and its Gaussian limit sqrt(2/pi).
    #[test]
    fn mean_abs_t_matches_quadrature() {
        use crate::math::quadrature::{integrate, Tol};
        for nu in [2.5, 7.0, 15.0] {
            let ln_c = crate::math::special::ln_gamma((nu + 1.0) / 2.0) - crate::math::special::ln_gamma(nu / 2.0) - 0.5 * (nu * std::f64::consts::PI).ln();
            let q = integrate(|x: f64| 2.0 * x * (ln_c - (nu + 1.0) / 2.0 * (1.0 + x * x / nu).ln()).exp(), 0.0, f64::INFINITY, Tol::new(1e-13, 1e-10)).unwrap();
            assert!((mean_abs_t(nu) / q.value - 1.0).abs() < 1e-8, "nu = {nu}");
        }
        assert!((mean_abs_t(1e7) - (2.0 / std::f64::consts::PI).sqrt()).abs() < 1e-6);
    }

    /// The memory estimate counts weights and gradients (FRN at N = 1024, L = 100: 2 x 8 bytes x
    /// 100 x 2 (1024^2 + 1024) = 3.36 GB plus the tape), and the pool size respects the budget.
    #[test]
    fn memory_budget_limits_concurrency() {
        let t = Task { ..tiny_task(case("f", Architecture::Full, "tanh", None, 1.0, 1.0), 1024, 100, 0) };
        let b = task_bytes(&t);
        assert!(b > 3_355_000_000 && b < 3_400_000_000, "{b}");
        assert_eq!(concurrent_tasks(8.0, b, 16), 2);
        assert_eq!(concurrent_tasks(1.0, b, 16), 1);
        assert_eq!(concurrent_tasks(100.0, 1000, 2), 2);
    }

    #[test]
    fn bad_config_is_rejected_with_the_value() {
        let mut cfg = Config { seeds: 1, ..Config::default() };
        assert!(cfg.validate().unwrap_err().to_string().contains("seeds = 1"));
        cfg.seeds = 2;
        cfg.widths = vec![1];
        assert!(cfg.validate().unwrap_err().to_string().contains("widths"));
        cfg.widths = vec![4];
        cfg.cases[0].sv2 = -1.0;
        assert!(cfg.validate().unwrap_err().to_string().contains("sv2 = -1"));
    }
}
