//! Forward and backward mean-field recurrences (docs/theory.md §2) of vanilla, reduced (RRN)
//! and full (FRN) residual networks.
//!
//! All three are one generic block acting on $(p, \gamma)$ of the block input:
//! $$q = \alpha_q p + \beta_q,\quad \lambda = \alpha_q\gamma + \beta_q,\qquad
//!   p' = \kappa p + \sigma V\phi(q) + \tau,\quad \gamma' = \kappa\gamma + \sigma W\phi(q, \lambda) + \tau,$$
//! $$\chi^{l-1} = \chi^l\,(\kappa + \sigma\alpha_q V\phi'(q^l)),$$
//! with $(\alpha_q, \beta_q, \kappa, \sigma, \tau)$ = $(\sigma_w^2, \sigma_b^2, 1, \sigma_v^2, \sigma_a^2)$ (FRN),
//! $(1, 0, 1, \sigma_w^2, \sigma_b^2)$ (RRN), $(1, 0, 0, \sigma_w^2, \sigma_b^2)$ (vanilla). So for RRN and
//! vanilla nets the reported $q^l, \lambda^l, c^l$ are the variance, covariance and correlation of
//! the input of $\phi$ in block $l$, i.e. $p^{l-1}, \gamma^{l-1}, e^{l-1}$.
//!
//! The state is kept as $(\ln p, e, 1 - e)$, and the update is written in ratios:
//! $$\ln p' = \operatorname{lse}(\ln\kappa + \ln p,\ \ln\sigma + \ln V,\ \ln\tau),\qquad
//!   e' = r_p e + r_v J + r_\tau,\quad 1 - e' = r_p (1 - e) + r_v (1 - J),$$
//! $r_p = \kappa p/p'$, $r_v = \sigma V/p'$, $r_\tau = \tau/p'$, with $c = (\alpha_q p e + \beta_q)/q$ and
//! $1 - c = \alpha_q p (1 - e)/q$. Nothing overflows ($\ln p^l \approx 0.7\,l$ for ReLU at
//! $\sigma_v^2\sigma_w^2 = 2$ is harmless) and $1 - e \approx 10^{-11}$ (ReLU at depth $10^6$) keeps full
//! relative precision. The gradient is accumulated forward as
//! $G_l = \ln(\chi^0/\chi^l) = \sum_{k \le l}\ln(\kappa + \sigma\alpha_q V\phi'(q^k))$, which is $+\infty$ when
//! $V\phi' = \infty$ ($\alpha$-ReLU, $\alpha \le 1/2$).
//!
//! Weight and bias gradient moments (same assumptions, relative to $\chi^L$):
//! FRN $\chi_a^l = \chi^l$, $\chi_v^l = \chi^l V\phi(q^l)$, $\chi_b^l = \sigma_v^2\chi^l V\phi'(q^l)$,
//! $\chi_w^l = \chi_b^l p^{l-1}$; RRN and vanilla ($x^l = [x^{l-1} +]\,W\phi(x^{l-1}) + b$):
//! $\chi_b^l = \chi^l$, $\chi_w^l = \chi^l V\phi(p^{l-1})$.

use super::expectations::{kernel_for, Corr, Kernel};
use super::MeanFieldError;
use crate::activation::Activation;
use crate::architecture::Architecture;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Initialization variances: $w \sim N(0, \sigma_w^2/N)$, $v \sim N(0, \sigma_v^2/N)$,
/// $b \sim N(0, \sigma_b^2)$, $a \sim N(0, \sigma_a^2)$. RRN and vanilla nets use only `sw2`, `sb2`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Variances {
    pub sw2: f64,
    pub sv2: f64,
    pub sb2: f64,
    pub sa2: f64,
}

impl Variances {
    /// Biases zero.
    pub fn weights(sw2: f64, sv2: f64) -> Self {
        Self { sw2, sv2, sb2: 0.0, sa2: 0.0 }
    }
}

/// A mean-field problem: architecture, activation, variances and the two inputs, both of
/// squared length $p^0$ per coordinate with cosine $e^0$.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    pub arch: Architecture,
    pub act: Activation,
    pub var: Variances,
    pub p0: f64,
    pub e0: f64,
}

impl Spec {
    /// Checks the domain: variances $\ge 0$ and finite, $p^0 > 0$, $e^0 \in [-1, 1]$, $\alpha > 0$.
    pub fn validate(&self) -> Result<(), MeanFieldError> {
        for (name, x) in [("sw2", self.var.sw2), ("sv2", self.var.sv2), ("sb2", self.var.sb2), ("sa2", self.var.sa2)] {
            if !(x.is_finite() && x >= 0.0) {
                return Err(MeanFieldError::BadParameter { name, value: x, valid: "a finite variance >= 0" });
            }
        }
        if !(self.p0.is_finite() && self.p0 > 0.0) {
            return Err(MeanFieldError::BadParameter { name: "p0", value: self.p0, valid: "0 < p0, finite" });
        }
        if !(self.e0.is_finite() && (-1.0..=1.0).contains(&self.e0)) {
            return Err(MeanFieldError::BadParameter { name: "e0", value: self.e0, valid: "-1 <= e0 <= 1" });
        }
        if let Some(a) = self.act.alpha() {
            if !(a.is_finite() && a > 0.0) {
                return Err(MeanFieldError::BadParameter { name: "alpha", value: a, valid: "alpha > 0, finite" });
            }
        }
        Ok(())
    }

    /// The generic block coefficients of this architecture (module documentation).
    pub fn blocks(&self) -> Blocks {
        let v = self.var;
        match self.arch {
            Architecture::Full => Blocks { aq: v.sw2, bq: v.sb2, kappa: 1.0, sigma: v.sv2, tau: v.sa2 },
            Architecture::Reduced => Blocks { aq: 1.0, bq: 0.0, kappa: 1.0, sigma: v.sw2, tau: v.sb2 },
            Architecture::Vanilla => Blocks { aq: 1.0, bq: 0.0, kappa: 0.0, sigma: v.sw2, tau: v.sb2 },
        }
    }
}

/// Coefficients of the generic block (module documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Blocks {
    pub aq: f64,
    pub bq: f64,
    pub kappa: f64,
    pub sigma: f64,
    pub tau: f64,
}

/// What block $l \ge 1$ computed.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockValues {
    /// $\ln q^l$ (the variance fed to $\phi$).
    pub ln_q: f64,
    /// $c^l = \lambda^l/q^l$.
    pub c: f64,
    pub one_minus_c: f64,
    /// $\ln V\phi(q^l)$.
    pub ln_v: f64,
    /// $\ln V\phi'(q^l)$ ($+\infty$ if infinite).
    pub ln_vp: f64,
    /// $\ln p^{l-1}$.
    pub ln_p_prev: f64,
}

/// The mean-field state after $l$ blocks.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    pub l: usize,
    /// $\ln p^l$.
    pub ln_p: f64,
    /// $e^l = \gamma^l/p^l$.
    pub e: f64,
    /// $1 - e^l$, accurate when tiny.
    pub one_minus_e: f64,
    /// `None` at $l = 0$.
    pub block: Option<BlockValues>,
    /// $\ln(\chi^0/\chi^l)$ for a network of depth $l$; $+\infty$ when $V\phi'$ is infinite.
    pub log_grad_explosion: f64,
    /// $\ln(\chi_w^1/\chi_w^l)$; `None` at $l = 0$ or where a moment is infinite.
    pub log_chi_w: Option<f64>,
}

impl Layer {
    pub fn p(&self) -> f64 {
        self.ln_p.exp()
    }
    pub fn gamma(&self) -> f64 {
        self.ln_p.exp() * self.e
    }
    /// $\ln s^l$, $s^l = 2(p^l - \gamma^l) = 2 p^l (1 - e^l)$.
    pub fn ln_s(&self) -> f64 {
        std::f64::consts::LN_2 + self.ln_p + self.one_minus_e.ln()
    }
    pub fn s(&self) -> f64 {
        self.ln_s().exp()
    }
    pub fn q(&self) -> Option<f64> {
        self.block.map(|b| b.ln_q.exp())
    }
    pub fn lambda(&self) -> Option<f64> {
        self.block.map(|b| b.ln_q.exp() * b.c)
    }
    pub fn c(&self) -> Option<f64> {
        self.block.map(|b| b.c)
    }
}

/// $\ln(e^a + e^b + \dots)$ of the finite-or-$-\infty$ arguments.
fn lse(xs: &[f64]) -> f64 {
    let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m.is_infinite() {
        return m;
    }
    m + xs.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// $\ln(1 + e^x)$ without overflow.
fn softplus(x: f64) -> f64 {
    if x > 30.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// $k e^x$, and exactly 0 when $k = 0$ (even if $e^x$ overflows).
pub(crate) fn scaled_exp(k: f64, x: f64) -> f64 {
    if k == 0.0 {
        0.0
    } else {
        k * x.exp()
    }
}

fn ln0(x: f64) -> f64 {
    if x > 0.0 {
        x.ln()
    } else {
        f64::NEG_INFINITY
    }
}

/// The recurrence as an iterator over layers: [`Recurrence::step`] computes the next block.
pub struct Recurrence {
    spec: Spec,
    kernel: Arc<dyn Kernel>,
    blocks: Blocks,
    ln: [f64; 5], // ln of aq, bq, kappa, sigma, tau
    state: Layer,
    /// $\ln\chi_w$ of block 1 up to the common factor $\chi^L$.
    chi_w1: Option<f64>,
}

impl Recurrence {
    /// Starts at layer 0 with the kernel of `spec.act`.
    pub fn new(spec: &Spec) -> Result<Self, MeanFieldError> {
        spec.validate()?;
        Self::with_kernel(spec, kernel_for(&spec.act)?)
    }

    /// Starts at layer 0 with a given kernel (e.g. a [`super::Numeric`] built from any function);
    /// `spec.act` is then only a label.
    pub fn with_kernel(spec: &Spec, kernel: Arc<dyn Kernel>) -> Result<Self, MeanFieldError> {
        spec.validate()?;
        let b = spec.blocks();
        let state = Layer {
            l: 0,
            ln_p: spec.p0.ln(),
            e: spec.e0,
            one_minus_e: 1.0 - spec.e0,
            block: None,
            log_grad_explosion: 0.0,
            log_chi_w: None,
        };
        Ok(Self {
            spec: *spec,
            kernel,
            blocks: b,
            ln: [ln0(b.aq), ln0(b.bq), ln0(b.kappa), ln0(b.sigma), ln0(b.tau)],
            state,
            chi_w1: None,
        })
    }

    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    pub fn blocks(&self) -> Blocks {
        self.blocks
    }

    pub fn kernel(&self) -> &Arc<dyn Kernel> {
        &self.kernel
    }

    /// The current layer.
    pub fn current(&self) -> &Layer {
        &self.state
    }

    /// Advances one block and returns the new layer.
    pub fn step(&mut self) -> Result<&Layer, MeanFieldError> {
        let [ln_aq, ln_bq, ln_kappa, ln_sigma, ln_tau] = self.ln;
        let s = &self.state;
        let l = s.l + 1;
        let ln_q = lse(&[ln_aq + s.ln_p, ln_bq]);
        let corr = if ln_q == f64::NEG_INFINITY {
            Corr::new(1.0)
        } else {
            let a = (ln_aq + s.ln_p - ln_q).exp();
            let c = a * s.e + scaled_exp(self.blocks.bq, -ln_q);
            Corr { c: c.clamp(-1.0, 1.0), one_minus_c: (a * s.one_minus_e).clamp(0.0, 2.0) }
        };
        let kv = self.kernel.at(ln_q, corr)?;
        let ln_p = lse(&[ln_kappa + s.ln_p, ln_sigma + kv.ln_v, ln_tau]);
        if ln_p.is_nan() || ln_p == f64::INFINITY {
            return Err(MeanFieldError::Overflow { layer: l, what: "ln p" });
        }
        let (e, one_minus_e) = if ln_p == f64::NEG_INFINITY {
            (1.0, 0.0)
        } else {
            let rp = (ln_kappa + s.ln_p - ln_p).exp();
            let rv = (ln_sigma + kv.ln_v - ln_p).exp();
            let rt = scaled_exp(self.blocks.tau, -ln_p);
            ((rp * s.e + rv * kv.j + rt).clamp(-1.0, 1.0), (rp * s.one_minus_e + rv * kv.one_minus_j).clamp(0.0, 2.0))
        };
        // Gradient factor ln(kappa + sigma aq V'(q)).
        let x = ln_sigma + ln_aq + kv.ln_vp;
        let factor = if self.blocks.kappa > 0.0 { ln_kappa + softplus(x - ln_kappa) } else { x };
        let g = s.log_grad_explosion + factor;
        // ln chi_w^l up to the common factor chi^L.
        let chi_w = match self.spec.arch {
            Architecture::Full => ln_sigma + kv.ln_vp + s.ln_p - g,
            _ => kv.ln_v - g,
        };
        let chi_w = chi_w.is_finite().then_some(chi_w);
        if l == 1 {
            self.chi_w1 = chi_w;
        }
        let log_chi_w = match (self.chi_w1, chi_w) {
            (Some(a), Some(b)) => Some(a - b),
            _ => None,
        };
        if g.is_nan() || e.is_nan() || one_minus_e.is_nan() {
            return Err(MeanFieldError::Overflow { layer: l, what: "a mean-field quantity (NaN)" });
        }
        self.state = Layer {
            l,
            ln_p,
            e,
            one_minus_e,
            block: Some(BlockValues {
                ln_q,
                c: corr.c,
                one_minus_c: corr.one_minus_c,
                ln_v: kv.ln_v,
                ln_vp: kv.ln_vp,
                ln_p_prev: s.ln_p,
            }),
            log_grad_explosion: g,
            log_chi_w,
        };
        Ok(&self.state)
    }
}

/// Which layers a [`trajectory`] keeps.
#[derive(Clone, Debug, PartialEq)]
pub enum Sampling {
    /// Only the last layer.
    Last,
    /// Layers $0, k, 2k, \dots$ and the last.
    Every(usize),
    /// About `n` layers per decade, geometrically spaced, plus 0, 1 and the last.
    LogSpaced(usize),
    /// The given layers (those $\le$ depth).
    Layers(Vec<usize>),
}

/// The kept layers of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trajectory {
    pub spec: Spec,
    pub depth: usize,
    pub layers: Vec<Layer>,
}

impl Trajectory {
    pub fn last(&self) -> &Layer {
        self.layers.last().expect("a trajectory keeps at least its last layer")
    }
}

/// Runs the recurrence of `spec` to `depth` blocks and keeps the sampled layers.
pub fn trajectory(spec: &Spec, depth: usize, sampling: &Sampling) -> Result<Trajectory, MeanFieldError> {
    trajectory_with(Recurrence::new(spec)?, depth, sampling)
}

/// As [`trajectory`] from a prepared [`Recurrence`] (e.g. with a custom kernel).
pub fn trajectory_with(mut rec: Recurrence, depth: usize, sampling: &Sampling) -> Result<Trajectory, MeanFieldError> {
    if depth == 0 {
        return Err(MeanFieldError::BadParameter { name: "depth", value: 0.0, valid: "depth >= 1" });
    }
    let keep: Box<dyn Fn(usize) -> bool> = match sampling {
        Sampling::Last => Box::new(move |l| l == depth),
        Sampling::Every(k) => {
            let k = (*k).max(1);
            Box::new(move |l| l % k == 0 || l == depth)
        }
        Sampling::LogSpaced(n) => {
            let n = (*n).max(1) as f64;
            let mut set: Vec<usize> = vec![0, 1, depth];
            let mut i = 0.0;
            loop {
                let l = 10f64.powf(i / n).round() as usize;
                if l > depth {
                    break;
                }
                set.push(l);
                i += 1.0;
            }
            set.sort_unstable();
            set.dedup();
            Box::new(move |l| set.binary_search(&l).is_ok())
        }
        Sampling::Layers(v) => {
            let mut set = v.clone();
            set.push(depth);
            set.sort_unstable();
            set.dedup();
            Box::new(move |l| set.binary_search(&l).is_ok())
        }
    };
    let mut layers = Vec::new();
    if keep(0) {
        layers.push(*rec.current());
    }
    for _ in 0..depth {
        let layer = rec.step()?;
        if keep(layer.l) {
            layers.push(*layer);
        }
    }
    Ok(Trajectory { spec: *rec.spec(), depth, layers })
}

/// Gradient moments of block $l$ of a network of depth $L$, as natural logs relative to
/// $\chi^L$ (the gradient moment at the output); `None` for a parameter the block does not have.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradMoments {
    pub l: usize,
    /// $\ln(\chi^l/\chi^L)$.
    pub ln_chi: f64,
    pub ln_chi_a: Option<f64>,
    pub ln_chi_v: Option<f64>,
    pub ln_chi_b: f64,
    pub ln_chi_w: f64,
}

/// The backward moments of the kept layers $l \ge 1$ of `traj` for a network of depth
/// `traj.depth`: $\ln(\chi^l/\chi^L) = G_L - G_l$ and the weight/bias moments of the module
/// documentation. Entries are $+\infty$ where $V\phi'$ is infinite.
pub fn gradient_moments(traj: &Trajectory) -> Vec<GradMoments> {
    let g_l = traj.last().log_grad_explosion;
    let b = traj.spec.blocks();
    traj.layers
        .iter()
        .filter_map(|layer| {
            let blk = layer.block?;
            let ln_chi = if g_l.is_infinite() && layer.log_grad_explosion.is_infinite() {
                f64::INFINITY
            } else {
                g_l - layer.log_grad_explosion
            };
            Some(match traj.spec.arch {
                Architecture::Full => {
                    let ln_chi_b = ln0(b.sigma) + ln_chi + blk.ln_vp;
                    GradMoments {
                        l: layer.l,
                        ln_chi,
                        ln_chi_a: Some(ln_chi),
                        ln_chi_v: Some(ln_chi + blk.ln_v),
                        ln_chi_b,
                        ln_chi_w: ln_chi_b + blk.ln_p_prev,
                    }
                }
                _ => GradMoments {
                    l: layer.l,
                    ln_chi,
                    ln_chi_a: None,
                    ln_chi_v: None,
                    ln_chi_b: ln_chi,
                    ln_chi_w: ln_chi + blk.ln_v,
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meanfield::expectations::relu_j;
    use std::f64::consts::PI;

    fn spec(arch: Architecture, act: Activation, var: Variances, e0: f64) -> Spec {
        Spec { arch, act, var, p0: 1.0, e0 }
    }

    /// ReLU FRN with zero biases: chi^0/chi^L = (1 + sv2 sw2/2)^L exactly and
    /// p^L = p^0 (1 + sv2 sw2/2)^L, at depth 10^6 (no overflow: p^L ~ 10^{176091}).
    #[test]
    fn relu_frn_exact_products_at_depth_1e6() {
        let (sw2, sv2) = (1.3, 1.7);
        let s = spec(Architecture::Full, Activation::Relu, Variances::weights(sw2, sv2), 0.3);
        let t = trajectory(&s, 1_000_000, &Sampling::Last).unwrap();
        let rate = (1.0 + sv2 * sw2 / 2.0f64).ln();
        let last = t.last();
        assert!((last.log_grad_explosion / (1e6 * rate) - 1.0).abs() < 1e-10);
        assert!((last.ln_p / (1e6 * rate) - 1.0).abs() < 1e-10);
        // chi_w stays bounded: chi^l and p^{l-1} move in opposite directions at the same rate.
        assert!(last.log_chi_w.unwrap().abs() < 1e-6);
        assert!(last.one_minus_e > 0.0 && last.one_minus_e < 1e-9);
    }

    /// One FRN block computed by hand from the closed forms (erf: V, W, V' of docs/theory.md §3).
    #[test]
    fn one_frn_block_by_hand() {
        let var = Variances { sw2: 1.5, sv2: 0.8, sb2: 0.2, sa2: 0.1 };
        let (p0, e0) = (2.0, 0.4);
        let s = Spec { arch: Architecture::Full, act: Activation::Erf, var, p0, e0 };
        let t = trajectory(&s, 1, &Sampling::Every(1)).unwrap();
        let l1 = t.layers[1];
        let q = var.sw2 * p0 + var.sb2;
        let lam = var.sw2 * p0 * e0 + var.sb2;
        let v = 2.0 / PI * (2.0 * q / (1.0 + 2.0 * q)).asin();
        let w = 2.0 / PI * (2.0 * lam / (1.0 + 2.0 * q)).asin();
        let vp = 4.0 / PI / (1.0 + 4.0 * q).sqrt();
        let p1 = p0 + var.sv2 * v + var.sa2;
        let g1 = p0 * e0 + var.sv2 * w + var.sa2;
        assert!((l1.q().unwrap() - q).abs() < 1e-13);
        assert!((l1.lambda().unwrap() - lam).abs() < 1e-13);
        assert!((l1.p() - p1).abs() < 1e-13);
        assert!((l1.gamma() - g1).abs() < 1e-13);
        assert!((l1.s() - 2.0 * (p1 - g1)).abs() < 1e-12);
        assert!((l1.log_grad_explosion - (1.0 + var.sv2 * var.sw2 * vp).ln()).abs() < 1e-14);
        // chi_w^1/chi_w^1 = 1.
        assert_eq!(l1.log_chi_w, Some(0.0));
    }

    /// Two RRN blocks and two vanilla blocks of ReLU by hand (arc-cosine kernel).
    #[test]
    fn rrn_and_vanilla_blocks_by_hand() {
        let var = Variances { sw2: 1.2, sv2: 0.0, sb2: 0.3, sa2: 0.0 };
        let (p0, e0) = (1.5, 0.2);
        let k = |c: f64| relu_j(Corr::new(c)).0;
        // RRN: p' = p + sw2 p/2 + sb2, gamma' = gamma + sw2 (p/2) J(gamma/p) + sb2.
        let (mut p, mut g) = (p0, p0 * e0);
        let mut chi = 0.0;
        for _ in 0..2 {
            let (pn, gn) = (p + var.sw2 * p / 2.0 + var.sb2, g + var.sw2 * p / 2.0 * k(g / p) + var.sb2);
            chi += (1.0 + var.sw2 / 2.0f64).ln();
            p = pn;
            g = gn;
        }
        let t = trajectory(&spec(Architecture::Reduced, Activation::Relu, var, e0).with_p0(p0), 2, &Sampling::Last)
            .unwrap();
        assert!((t.last().p() - p).abs() < 1e-13 && (t.last().gamma() - g).abs() < 1e-13);
        assert!((t.last().log_grad_explosion - chi).abs() < 1e-14);
        // Vanilla: p' = sw2 p/2 + sb2.
        let (mut p, mut g) = (p0, p0 * e0);
        for _ in 0..2 {
            let (pn, gn) = (var.sw2 * p / 2.0 + var.sb2, var.sw2 * p / 2.0 * k(g / p) + var.sb2);
            p = pn;
            g = gn;
        }
        let t = trajectory(&spec(Architecture::Vanilla, Activation::Relu, var, e0).with_p0(p0), 2, &Sampling::Last)
            .unwrap();
        assert!((t.last().p() - p).abs() < 1e-13 && (t.last().gamma() - g).abs() < 1e-13);
        assert!((t.last().log_grad_explosion - 2.0 * (var.sw2 / 2.0f64).ln()).abs() < 1e-14);
    }

    /// Any activation given as a function: a user-defined erf (quadrature path) through
    /// `Recurrence::with_kernel` reproduces the closed-form erf recurrence.
    #[test]
    fn user_function_kernel_matches_closed_form() {
        use crate::meanfield::expectations::{Numeric, Parity};
        let var = Variances { sw2: 1.3, sv2: 0.9, sb2: 0.1, sa2: 0.05 };
        let s = spec(Architecture::Full, Activation::Erf, var, 0.3);
        let user = Numeric::new("my-erf", libm::erf, |x: f64| 2.0 / PI.sqrt() * (-x * x).exp(), Parity::None);
        let a = trajectory_with(Recurrence::with_kernel(&s, Arc::new(user)).unwrap(), 60, &Sampling::Last).unwrap();
        let b = trajectory(&s, 60, &Sampling::Last).unwrap();
        let (a, b) = (a.last(), b.last());
        assert!((a.ln_p - b.ln_p).abs() < 1e-10);
        assert!((a.e - b.e).abs() < 1e-10);
        assert!((a.log_grad_explosion - b.log_grad_explosion).abs() < 1e-9);
    }

    impl Spec {
        fn with_p0(mut self, p0: f64) -> Self {
            self.p0 = p0;
            self
        }
    }

    /// Vanilla ReLU with sw2 = 1 and no biases: p^l = 2^-l underflows f64 after ~1075 layers but
    /// not in log space; e stays finite.
    #[test]
    fn vanishing_p_stays_in_log_space() {
        let s = spec(Architecture::Vanilla, Activation::Relu, Variances::weights(1.0, 0.0), 0.5);
        let t = trajectory(&s, 5000, &Sampling::Last).unwrap();
        assert!((t.last().ln_p / (5000.0 * 0.5f64.ln()) - 1.0).abs() < 1e-12);
        assert!(t.last().e.is_finite() && t.last().one_minus_e > 0.0);
    }

    /// alpha <= 1/2: the gradient explosion is an explicit +infinity, chi_w is undefined, never NaN.
    #[test]
    fn infinite_gradient_moment_is_explicit() {
        let s = spec(Architecture::Full, Activation::AlphaRelu { alpha: 0.4 }, Variances::weights(1.0, 1.0), 0.5);
        let t = trajectory(&s, 10, &Sampling::Every(1)).unwrap();
        for l in &t.layers[1..] {
            assert_eq!(l.log_grad_explosion, f64::INFINITY);
            assert_eq!(l.log_chi_w, None);
            assert!(l.ln_p.is_finite() && l.e.is_finite());
        }
    }

    /// Gradient moments: chi_w^l = sv2 chi^l V'(q^l) p^{l-1} against the per-layer values, and
    /// ln(chi^1/chi^L) = sum of the factors of blocks 2..L.
    #[test]
    fn gradient_moments_consistent() {
        let var = Variances { sw2: 1.1, sv2: 0.9, sb2: 0.05, sa2: 0.02 };
        let s = spec(Architecture::Full, Activation::Erf, var, 0.5);
        let t = trajectory(&s, 20, &Sampling::Every(1)).unwrap();
        let m = gradient_moments(&t);
        assert_eq!(m.len(), 20);
        let mut sum = 0.0;
        for l in &t.layers[2..] {
            let q = l.q().unwrap();
            sum += (1.0 + var.sv2 * var.sw2 * 4.0 / PI / (1.0 + 4.0 * q).sqrt()).ln();
        }
        assert!((m[0].ln_chi - sum).abs() < 1e-12);
        let q1 = t.layers[1].q().unwrap();
        let vp1 = 4.0 / PI / (1.0 + 4.0 * q1).sqrt();
        assert!((m[0].ln_chi_w - (sum + (var.sv2 * vp1).ln() + 0.0)).abs() < 1e-12); // p^0 = 1
        assert!(m[19].ln_chi.abs() < 1e-15);
        // log_chi_w of the last layer is ln chi_w^1 - ln chi_w^L.
        assert!((t.last().log_chi_w.unwrap() - (m[0].ln_chi_w - m[19].ln_chi_w)).abs() < 1e-12);
    }

    #[test]
    fn bad_specs_are_rejected() {
        let ok = spec(Architecture::Full, Activation::Tanh, Variances::weights(1.0, 1.0), 0.5);
        assert!(ok.validate().is_ok());
        let mut s = ok;
        s.var.sv2 = -1.0;
        assert!(matches!(s.validate(), Err(MeanFieldError::BadParameter { name: "sv2", .. })));
        let mut s = ok;
        s.e0 = 1.5;
        assert!(s.validate().is_err());
        assert!(trajectory(&ok, 0, &Sampling::Last).is_err());
    }

    /// alpha-ReLU with alpha > 1: ln p grows geometrically and eventually leaves f64 even in log
    /// space: a typed overflow error, not NaN or a silent infinity.
    #[test]
    fn super_exponential_growth_reports_overflow() {
        let s = spec(Architecture::Full, Activation::AlphaRelu { alpha: 2.0 }, Variances::weights(1.0, 1.0), 0.5);
        let err = trajectory(&s, 100_000, &Sampling::Last).unwrap_err();
        assert!(matches!(err, MeanFieldError::Overflow { .. }), "{err}");
    }
}
