//! The computation: one simulated network ([`simulate`]), the mean-field curves of a case
//! ([`mean_field`]), the memory a network needs, and (in `compute/table.rs`) the statistics over
//! seeds and the rows of the table `simulations`.

mod table;

pub use table::*;

use super::config::{network_bytes, Config, SimCase};
use crate::activation::ActivationError;
use crate::math::MathError;
use crate::meanfield::recurrence::{gradient_moments, trajectory, Sampling, Spec};
use crate::meanfield::MeanFieldError;
use crate::nn::{self, ModelError, ModelSpec, Par, Params, Tape, TapeError, TapeMode};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Error of the simulations' computation.
#[derive(Debug, thiserror::Error)]
pub enum SimulationError {
    #[error("case '{case}': {source}")]
    Activation { case: String, source: ActivationError },
    #[error("cannot build the network: {0}")]
    Model(#[from] ModelError),
    #[error("forward or backward pass: {0}")]
    Tape(#[from] TapeError),
    #[error("case '{case}': {source}")]
    MeanField { case: String, source: MeanFieldError },
    #[error("Student t tail: t = {t}, nu = {nu} (valid: t >= 0, nu > 0, finite)")]
    StudentTArgs { t: f64, nu: f64 },
    #[error("Student t tail: {0}")]
    StudentT(#[from] MathError),
    #[error("multiple comparisons: {0}")]
    Holm(#[from] crate::analysis::AnalysisError),
}

impl SimCase {
    /// [`SimCase::activation`] with the case named in the error.
    fn phi(&self) -> Result<crate::activation::Activation, SimulationError> {
        self.activation().map_err(|source| SimulationError::Activation { case: self.name.clone(), source })
    }
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
pub(crate) const CONTROL_SEED: u64 = 1 << 40;
/// ChaCha8 stream of the inputs and cotangents (the weights use stream 0 of the task seed).
const INPUT_STREAM: u64 = 7;

pub(crate) fn mean_sq(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64
}

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
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

/// Simulates one network (see the module documentation).
pub fn simulate(task: &Task) -> Result<RunResult, SimulationError> {
    let t0 = Instant::now();
    let c = &task.case;
    let act = c.phi()?;
    let (n, depth) = (task.width, task.depth);
    let spec = ModelSpec::trunk(c.arch, act, n, depth, c.sw2, c.sv2, c.sb2, c.sa2);
    let params = nn::init::<f64>(&spec, task.seed)?;
    let mut tape = Tape::<f64>::new(&spec, 2, TapeMode::Full, Par::Seq);
    let (xs, gs) = inputs_and_cotangents(n, task.p0, task.e0, task.seed);
    {
        let inp = tape.input_mut(2)?;
        inp[..n].copy_from_slice(&xs[0]);
        inp[n..].copy_from_slice(&xs[1]);
    }
    nn::forward(&params, &mut tape)?;
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
            let og = tape.output_grad_mut()?;
            og.fill(0.0);
            og[s * n..(s + 1) * n].copy_from_slice(g);
        }
        nn::backward(&params, &mut tape, &mut grads)?;
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
        let other = nn::init::<f64>(&spec, task.seed + CONTROL_SEED)?;
        let og = tape.output_grad_mut()?;
        og[..n].copy_from_slice(&gs[0]);
        og[n..].copy_from_slice(&gs[1]);
        nn::backward(&other, &mut tape, &mut grads)?;
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
pub fn mean_field(c: &SimCase, cfg: &Config) -> Result<MeanField, SimulationError> {
    let spec = Spec { arch: c.arch, act: c.phi()?, var: c.variances(), p0: cfg.p0, e0: cfg.e0 };
    let err = |source| SimulationError::MeanField { case: c.name.clone(), source };
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

/// Peak memory of one task in bytes ([`network_bytes`]: weights and gradients in `f64`, plus the
/// tape).
pub fn task_bytes(t: &Task) -> usize {
    network_bytes(t.case.arch, t.width, t.depth)
}

/// How many tasks of `bytes` each fit `budget_gb` at once: between 1 and `jobs`.
pub fn concurrent_tasks(budget_gb: f64, bytes: usize, jobs: usize) -> usize {
    let fit = (budget_gb * 1e9 / bytes.max(1) as f64).floor();
    (fit.max(1.0) as usize).min(jobs.max(1))
}

/// Groups the runs by case and width and computes the mean fields.
pub fn group<'a>(cfg: &'a Config, pairs: &[(&'a Task, &'a RunResult)]) -> Result<Vec<CaseRuns<'a>>, SimulationError> {
    cfg.cases
        .iter()
        .map(|c| {
            let by_width = cfg
                .widths
                .iter()
                .map(|&w| {
                    (
                        w,
                        pairs
                            .iter()
                            .filter(|(t, _)| t.case.name == c.name && t.width == w)
                            .map(|(_, r)| *r)
                            .collect::<Vec<_>>(),
                    )
                })
                .filter(|(_, v)| !v.is_empty())
                .collect();
            Ok(CaseRuns { case: c, mf: mean_field(c, cfg)?, by_width })
        })
        .collect()
}
