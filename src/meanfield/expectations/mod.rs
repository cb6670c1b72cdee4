//! Gaussian expectations of an activation $\phi$ (docs/theory.md §3):
//!
//! $$V\phi(q) = \mathbb E[\phi(\sqrt q\,z)^2],\quad W\phi(q, \lambda) = \mathbb E[\phi(u)\phi(u')],\quad
//! V\phi'(q) = \mathbb E[\phi'(\sqrt q\,z)^2],$$
//!
//! with $z \sim N(0,1)$ and $(u, u')$ centred Gaussian, $\operatorname{Var} u = \operatorname{Var} u' = q$,
//! $\operatorname{Cov}(u, u') = \lambda = c\,q$.
//!
//! A [`Kernel`] returns them in the scale-free form the log-space recurrences need
//! ([`KernelValues`]): $\ln V\phi(q)$, the normalised kernel $J = W\phi/V\phi$ together with
//! $1 - J = \mathbb E[(\phi(u) - \phi(u'))^2] / (2 V\phi)$ (computed without cancellation when
//! $c \to 1$), and $\ln V\phi'(q)$ ($+\infty$ when the moment is infinite: $\alpha$-ReLU with
//! $\alpha \le 1/2$).
//!
//! Implementations:
//! - [`Relu`]: arc-cosine kernel (Cho & Saul 2009), $V = q/2$, $V' = 1/2$.
//! - [`AlphaRelu`]: $V = c_\alpha q^\alpha$, $W = q^\alpha W_\alpha(c)$ (hypergeometric closed form of
//!   `math::kernels`), $V' = \alpha^2 c_{\alpha-1} q^{\alpha-1}$ for $\alpha > 1/2$.
//! - [`Erf`]: $V = \frac2\pi \arcsin\frac{2q}{1+2q}$, $W = \frac2\pi\arcsin\frac{2\lambda}{\sqrt{(1+2q)(1+2q')}}$,
//!   $V' = \frac{4}{\pi\sqrt{1+4q}}$.
//! - [`Numeric`]: any $\phi$ given as a function with its derivative (tanh, GELU, user functions):
//!   composite Gauss-Legendre quadrature graded at the scale $1/\sqrt q$ of $\phi(\sqrt q z)$ and at
//!   the Gaussian scale, so it stays accurate from $q = 10^{-4}$ to $10^{8}$ and beyond (fixed
//!   Gauss-Hermite does not); $W$ through the Mehler (Hermite) expansion
//!   $J(q, c) = \sum_n b_n(q) c^n$ with $b_n = \mathbb E[\phi(\sqrt q z) He_n(z)]^2 / (n!\, V\phi(q))$, with a
//!   rigorous truncation bound, and a two-dimensional graded quadrature in the rotated variables
//!   $u = \sqrt q(m x + s y)$, $u' = \sqrt q(m x - s y)$, $m = \sqrt{(1+c)/2}$, $s = \sqrt{(1-c)/2}$,
//!   when the bound is too loose ($|c| \to 1$ at large $q$). For speed in long recurrences the
//!   quantities $\ln V$, $\ln V'$ and $b_n$ are tabulated lazily on a grid in $\ln q$ and
//!   interpolated with 8-point Lagrange interpolation (error verified in the tests).

use super::MeanFieldError;
use crate::activation::Activation;
use crate::math::kernels::{alpha_relu_c, alpha_relu_v_prime, alpha_relu_w, arccos_kernel, relu_j_one_minus};
use crate::math::quadrature::GaussLegendre;
use crate::math::special::{gamma, rgamma};
use crate::math::MathError;
use std::f64::consts::{FRAC_2_PI, PI};
use std::fmt;
use std::sync::{Arc, OnceLock};

/// Below $\ln q$ = this, numerical kernels use the small-variance limit ($\phi$ linearised at 0).
const LN_Q_TINY: f64 = -600.0;
/// Above $\ln q$ = this, $\sqrt q\,z$ is not representable: numerical kernels give up.
const LN_Q_HUGE: f64 = 690.0;
/// Gaussian cut-off of the quadratures ($P(|z| > 10) \approx 1.5 \times 10^{-23}$).
const ZMAX: f64 = 10.0;

// ---------------------------------------------------------------------------------------------
// Quadrature rules
// ---------------------------------------------------------------------------------------------

/// The Gauss-Legendre rules used here (orders 16 and 20), built once.
fn gl(n: usize) -> &'static GaussLegendre {
    static RULES: OnceLock<Vec<GaussLegendre>> = OnceLock::new();
    let rules = RULES.get_or_init(|| [16usize, 20].iter().map(|&n| GaussLegendre::new(n)).collect());
    rules.iter().find(|r| r.nodes.len() == n).expect("rule order is 16 or 20")
}

/// Breakpoints on `[lo, hi]`: each `(centre, scale)` contributes `centre` and
/// `centre +- scale * 2^k` for `2^k` from 1/4 up to `wmax / scale` (geometric grading towards the
/// centre), and a uniform grid of width `wmax` covers the whole interval.
fn breakpoints(centres: &[(f64, f64)], lo: f64, hi: f64, wmax: f64) -> Vec<f64> {
    let mut pts = vec![lo, hi];
    let mut g = (lo / wmax).ceil() * wmax;
    while g < hi {
        pts.push(g);
        g += wmax;
    }
    for &(c0, t) in centres {
        if !(c0.is_finite() && t.is_finite() && t > 0.0) {
            continue;
        }
        let t = t.min(wmax);
        pts.push(c0);
        let mut d = t / 4.0;
        while d < wmax {
            pts.push(c0 - d);
            pts.push(c0 + d);
            d *= 2.0;
        }
    }
    pts.retain(|p| *p >= lo && *p <= hi);
    pts.sort_by(|a, b| a.partial_cmp(b).expect("finite breakpoints"));
    // Relative to the points themselves: at q = 1e40 the grading reaches 1e-20.
    pts.dedup_by(|a, b| (*a - *b).abs() <= 1e-14 * a.abs().max(b.abs()));
    pts
}

/// Nodes and weights of the composite `n`-point Gauss-Legendre rule on the given breakpoints.
fn composite(pts: &[f64], n: usize, out: &mut Vec<(f64, f64)>) {
    let r = gl(n);
    out.clear();
    for ab in pts.windows(2) {
        let (a, b) = (ab[0], ab[1]);
        let (h, m) = (0.5 * (b - a), 0.5 * (b + a));
        for (xi, wi) in r.nodes.iter().zip(&r.weights) {
            out.push((m + h * xi, h * wi));
        }
    }
}

/// Standard normal density.
fn gauss_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * PI).sqrt()
}

/// $\mathbb E[f(z)]$, $z \sim N(0,1)$, for $f$ with features at scale `t` around 0
/// (composite 20-point Gauss-Legendre on both half-lines, cut off at $|z| = 10$).
pub fn gauss_expect(t: f64, f: impl Fn(f64) -> f64) -> f64 {
    let mut rule = Vec::new();
    composite(&breakpoints(&[(0.0, t)], -ZMAX, ZMAX, 1.0), 20, &mut rule);
    rule.iter().map(|&(z, w)| w * gauss_pdf(z) * f(z)).sum()
}

/// $\mathbb E[F(\sqrt{q_1} z_1, \sqrt{q_2} z_2)]$ for standard normals with correlation $c$, by a
/// graded product rule in $z_1 = m x + s y$, $z_2 = m x - s y$ ($x, y$ independent,
/// $m = \sqrt{(1+c)/2}$, $s = \sqrt{(1-c)/2}$, both computed from [`Corr`] without cancellation).
/// The inner rule in $y$ is graded at the lines $z_1 = 0$ and $z_2 = 0$, where $\phi(\sqrt q z)$
/// has its features of width $1/\sqrt q$.
pub fn gauss_expect2(q1: f64, q2: f64, corr: Corr, f: impl Fn(f64, f64) -> f64) -> f64 {
    let (r1, r2) = (q1.sqrt(), q2.sqrt());
    let m = (0.5 * corr.one_plus_c()).max(0.0).sqrt();
    let s = (0.5 * corr.one_minus_c).max(0.0).sqrt();
    if s == 0.0 {
        return gauss_expect((1.0 / r1.max(r2)).min(1.0), |z| f(r1 * z, r2 * z));
    }
    if m == 0.0 {
        return gauss_expect((1.0 / r1.max(r2)).min(1.0), |z| f(r1 * z, -r2 * z));
    }
    let tx = (1.0 / (r1.max(r2) * m)).min(1.0);
    let mut outer = Vec::new();
    composite(&breakpoints(&[(0.0, tx)], -ZMAX, ZMAX, 1.0), 16, &mut outer);
    let mut inner = Vec::new();
    let (t1, t2) = ((1.0 / (r1 * s)).min(1.0), (1.0 / (r2 * s)).min(1.0));
    let mut total = 0.0;
    for &(x, wx) in &outer {
        let y0 = m * x / s;
        composite(&breakpoints(&[(-y0, t1), (y0, t2)], -ZMAX, ZMAX, 1.0), 16, &mut inner);
        let mut acc = 0.0;
        for &(y, wy) in &inner {
            acc += wy * gauss_pdf(y) * f(r1 * (m * x + s * y), r2 * (m * x - s * y));
        }
        total += wx * gauss_pdf(x) * acc;
    }
    total
}

// ---------------------------------------------------------------------------------------------
// Kernel interface
// ---------------------------------------------------------------------------------------------

/// A correlation $c \in [-1, 1]$ carried together with $1 - c$, so that $1 - c$ keeps full
/// relative precision when $c \to 1$ (the ReLU cosine reaches $1 - c \approx 10^{-12}$).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Corr {
    pub c: f64,
    pub one_minus_c: f64,
}

impl Corr {
    /// From $c$ (clamped to $[-1, 1]$).
    pub fn new(c: f64) -> Self {
        let c = c.clamp(-1.0, 1.0);
        Self { c, one_minus_c: 1.0 - c }
    }

    /// From $\delta = 1 - c$ (clamped to $[0, 2]$), exact near $c = 1$.
    pub fn from_one_minus(d: f64) -> Self {
        let d = d.clamp(0.0, 2.0);
        Self { c: 1.0 - d, one_minus_c: d }
    }

    /// $1 + c$, accurate near $c = -1$.
    pub fn one_plus_c(&self) -> f64 {
        if self.c < 0.0 {
            1.0 + self.c
        } else {
            2.0 - self.one_minus_c
        }
    }
}

/// The kernel at one variance $q$ and correlation $c$, in the scale-free form of the log-space
/// recurrences.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KernelValues {
    /// $\ln V\phi(q)$ ($-\infty$ when $V\phi(q) = 0$).
    pub ln_v: f64,
    /// $J = W\phi(q, c q) / V\phi(q)$, in $[-1, 1]$.
    pub j: f64,
    /// $1 - J$, accurate also when it is tiny.
    pub one_minus_j: f64,
    /// $\ln V\phi'(q)$; $+\infty$ when the moment is infinite ($\alpha$-ReLU, $\alpha \le 1/2$).
    pub ln_vp: f64,
}

/// Gaussian expectations of one activation.
pub trait Kernel: Send + Sync + fmt::Debug {
    /// Short description, e.g. `tanh`.
    fn name(&self) -> String;

    /// All kernel quantities at $q = e^{\ln q}$ and correlation `corr`. `ln_q = -inf` means $q = 0$.
    fn at(&self, ln_q: f64, corr: Corr) -> Result<KernelValues, MeanFieldError>;

    /// $W\phi$ for unequal variances: $\mathbb E[\phi(u)\phi(u')]$ with $\operatorname{Var} u = q_1$,
    /// $\operatorname{Var} u' = q_2$, $\operatorname{Cov} = \lambda$ ($|\lambda| \le \sqrt{q_1 q_2}$).
    fn w2(&self, q1: f64, q2: f64, lambda: f64) -> Result<f64, MeanFieldError>;

    /// $V\phi(q)$.
    fn v(&self, q: f64) -> Result<f64, MeanFieldError> {
        Ok(self.at(q.ln(), Corr::new(1.0))?.ln_v.exp())
    }

    /// $W\phi(q, \lambda)$ with equal variances.
    fn w(&self, q: f64, lambda: f64) -> Result<f64, MeanFieldError> {
        let kv = self.at(q.ln(), Corr::new(if q > 0.0 { lambda / q } else { 1.0 }))?;
        Ok(kv.ln_v.exp() * kv.j)
    }

    /// $V\phi(q) - W\phi(q, c q) = \frac12\mathbb E[(\phi(u) - \phi(u'))^2]$, without cancellation.
    fn v_minus_w(&self, q: f64, corr: Corr) -> Result<f64, MeanFieldError> {
        let kv = self.at(q.ln(), corr)?;
        Ok(kv.ln_v.exp() * kv.one_minus_j)
    }

    /// $V\phi'(q)$ ($+\infty$ when infinite).
    fn vp(&self, q: f64) -> Result<f64, MeanFieldError> {
        Ok(self.at(q.ln(), Corr::new(1.0))?.ln_vp.exp())
    }
}

fn check_ln_q(ln_q: f64) -> Result<(), MeanFieldError> {
    if ln_q.is_nan() || ln_q == f64::INFINITY {
        return Err(MeanFieldError::BadParameter { name: "ln q", value: ln_q, valid: "q >= 0, finite" });
    }
    Ok(())
}

/// The kernel of an activation. tanh and GELU share one process-wide tabulated kernel each, so
/// repeated recurrences reuse the table.
pub fn kernel_for(act: &Activation) -> Result<Arc<dyn Kernel>, MeanFieldError> {
    static TANH: OnceLock<Arc<Numeric>> = OnceLock::new();
    static GELU: OnceLock<Arc<Numeric>> = OnceLock::new();
    Ok(match *act {
        Activation::Relu => Arc::new(Relu),
        Activation::AlphaRelu { alpha: 1.0 } => Arc::new(Relu),
        Activation::AlphaRelu { alpha } => Arc::new(AlphaRelu::new(alpha)?),
        Activation::Erf => Arc::new(Erf),
        Activation::Tanh => TANH.get_or_init(|| Arc::new(Numeric::tanh())).clone(),
        Activation::Gelu => GELU.get_or_init(|| Arc::new(Numeric::gelu())).clone(),
    })
}

// ---------------------------------------------------------------------------------------------
// ReLU
// ---------------------------------------------------------------------------------------------

/// Normalised arc-cosine kernel of ReLU and its complement, $(J_1(c), 1 - J_1(c))$ with
/// $J_1(c) = (\sin\theta + (\pi - \theta)\cos\theta)/\pi$, $\theta = \arccos c$:
/// $J_1 = 2 W_1(c)$ from `math::kernels::arccos_kernel` (accurate as $c \to -1$) and
/// $1 - J_1(1 - \delta) = \delta - (J_1(1-\delta) - (1-\delta))$ from
/// `math::kernels::relu_j_one_minus` (no cancellation as $\delta \to 0$, where
/// $1 - J_1 \approx \delta - \frac{2\sqrt2}{3\pi}\delta^{3/2}$).
pub fn relu_j(corr: Corr) -> (f64, f64) {
    let j = 2.0 * arccos_kernel(1, corr.c).expect("c is clamped to [-1, 1]");
    let omj = corr.one_minus_c - relu_j_one_minus(corr.one_minus_c).expect("1 - c is clamped to [0, 2]");
    (j, omj)
}

/// ReLU: $V = q/2$, $W = \frac{q}{2} J_1(c)$ (arc-cosine kernel), $V' = 1/2$.
#[derive(Debug, Clone, Copy)]
pub struct Relu;

impl Kernel for Relu {
    fn name(&self) -> String {
        "relu".into()
    }
    fn at(&self, ln_q: f64, corr: Corr) -> Result<KernelValues, MeanFieldError> {
        check_ln_q(ln_q)?;
        let (j, one_minus_j) = relu_j(corr);
        Ok(KernelValues { ln_v: ln_q - std::f64::consts::LN_2, j, one_minus_j, ln_vp: -std::f64::consts::LN_2 })
    }
    fn w2(&self, q1: f64, q2: f64, lambda: f64) -> Result<f64, MeanFieldError> {
        let r = (q1 * q2).sqrt();
        if r == 0.0 {
            return Ok(0.0);
        }
        Ok(0.5 * r * relu_j(Corr::new(lambda / r)).0)
    }
}

// ---------------------------------------------------------------------------------------------
// alpha-ReLU
// ---------------------------------------------------------------------------------------------

/// $\alpha$-ReLU $\phi(x) = \max(x, 0)^\alpha$, $\alpha > 0$: $V = c_\alpha q^\alpha$,
/// $W = q^\alpha W_\alpha(c)$, $V' = \alpha^2 c_{\alpha-1} q^{\alpha - 1}$ (finite only for
/// $\alpha > 1/2$; $\ln V' = +\infty$ otherwise), with
/// $c_\alpha = 2^{\alpha-1}\Gamma(\alpha + \frac12)/\sqrt\pi$.
///
/// $W_\alpha(c)$ comes from `math::kernels::alpha_relu_w`, except for $c^2 > 1/2$ (where the
/// mean-field cosines of $\alpha$-ReLU nets live, $e^* \approx 0.99$), where the two
/// hypergeometric functions of the closed form are evaluated through the connection formula
/// DLMF 15.8.4 in $x = 1 - c^2$ (coefficients precomputed once per $\alpha$):
/// $${}_2F_1(A,A;C;z) = \frac{\Gamma(C)\Gamma(s)}{\Gamma(C-A)^2}{}_2F_1(A,A;1-s;x) +
///   x^{s}\frac{\Gamma(C)\Gamma(-s)}{\Gamma(A)^2}{}_2F_1(C-A,C-A;1+s;x),\quad s = C - 2A = \alpha + \tfrac12,$$
/// with two series of ratio at most $1/2$. This makes a recurrence of depth $10^6$ take well
/// under a second. (Not used when $\alpha + 1/2$ is an integer, the degenerate case.)
#[derive(Debug, Clone, Copy)]
pub struct AlphaRelu {
    alpha: f64,
    ln_c: f64,
    ln_vp_coef: f64,
    near_one: Option<Connection>,
}

/// Largest $\alpha$ of the $\alpha$-ReLU kernel. Checked against the all-positive form of
/// $W_\alpha$ evaluated in log space, $J_\alpha(c)$ is accurate to $10^{-11}$ (relative) on
/// $c \in [-1, 1]$ for $10^{-300} \le \alpha \le 50$; above, the connection formula loses digits
/// ($3\times10^{-7}$ at $\alpha = 64$, $7\times10^{-5}$ at 70), $\Gamma(\alpha + 1)^2$ of the form for
/// $c < 0$ overflows near $\alpha = 98$, the hypergeometric series stop converging (at $\alpha = 2000$)
/// and a huge $\alpha$ makes the terminating series of ${}_2F_1$ endless ($\alpha = 10^{308}$).
pub const MAX_ALPHA: f64 = 50.0;
/// The valid range of $\alpha$, for messages.
pub const MAX_ALPHA_VALID: &str = "0 < alpha <= 50; above 50 the alpha-ReLU kernel's closed forms lose accuracy";

/// Precomputed coefficients of the connection formula for $W_\alpha$ (see [`AlphaRelu`]).
#[derive(Debug, Clone, Copy)]
struct Connection {
    pre: f64,
    g1sq: f64,
    g2sq: f64,
    s: f64,
    /// (A, C, coefficient of the regular part, coefficient of the x^s part) for F1 and F2.
    f: [(f64, f64, f64, f64); 2],
}

/// ${}_2F_1(a, a; c; x)$ by its power series, $0 \le x \le 1/2$.
fn f21_sym(a: f64, c: f64, x: f64) -> f64 {
    let (mut term, mut sum) = (1.0f64, 1.0f64);
    for n in 0..400 {
        let nf = n as f64;
        term *= (a + nf) * (a + nf) / ((c + nf) * (nf + 1.0)) * x;
        sum += term;
        if term.abs() <= 1e-17 * sum.abs() {
            break;
        }
    }
    sum
}

impl Connection {
    fn new(a: f64) -> Option<Self> {
        let s = a + 0.5;
        if (s - s.round()).abs() < 1e-6 {
            return None;
        }
        let part = |big_a: f64, c: f64| {
            (big_a, c, gamma(c) * gamma(s) * rgamma(c - big_a).powi(2), gamma(c) * gamma(-s) * rgamma(big_a).powi(2))
        };
        Some(Self {
            pre: 2f64.powf(a) / (4.0 * PI),
            g1sq: gamma(0.5 * (a + 1.0)).powi(2),
            g2sq: gamma(0.5 * a + 1.0).powi(2),
            s,
            f: [part(-0.5 * a, 0.5), part(0.5 * (1.0 - a), 1.5)],
        })
    }

    /// $W_\alpha(c)$ for $c \ge 0$ with $x = 1 - c^2 \le 1/2$.
    fn w(&self, c: f64, x: f64) -> f64 {
        let xs = x.powf(self.s);
        let f = |(big_a, cc, k_reg, k_sing): (f64, f64, f64, f64)| {
            k_reg * f21_sym(big_a, 1.0 - self.s, x) + k_sing * xs * f21_sym(cc - big_a, 1.0 + self.s, x)
        };
        self.pre * (self.g1sq * f(self.f[0]) + 2.0 * c * self.g2sq * f(self.f[1]))
    }
}

impl AlphaRelu {
    /// The kernel of $\max(x, 0)^\alpha$ for $0 < \alpha \le$ [`MAX_ALPHA`].
    pub fn new(alpha: f64) -> Result<Self, MeanFieldError> {
        if !(alpha.is_finite() && alpha > 0.0 && alpha <= MAX_ALPHA) {
            return Err(MeanFieldError::BadParameter { name: "alpha", value: alpha, valid: MAX_ALPHA_VALID });
        }
        let c = alpha_relu_c(alpha).map_err(math_err)?;
        // For alpha <= 1/2, alpha_relu_v_prime is a domain error: the moment is infinite.
        let ln_vp_coef = if alpha > 0.5 { alpha_relu_v_prime(alpha).map_err(math_err)?.ln() } else { f64::INFINITY };
        Ok(Self { alpha, ln_c: c.ln(), ln_vp_coef, near_one: Connection::new(alpha) })
    }

    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// Normalised kernel $J_\alpha(c) = W_\alpha(c)/c_\alpha$ and $1 - J_\alpha(c)$.
    ///
    /// Errors: [`MeanFieldError::Math`] if the hypergeometric series of $W_\alpha$ does not
    /// converge (not seen for $\alpha \le$ [`MAX_ALPHA`], which [`AlphaRelu::new`] enforces).
    pub fn j(&self, corr: Corr) -> Result<(f64, f64), MeanFieldError> {
        let x = corr.one_minus_c * corr.one_plus_c();
        let w = match self.near_one {
            Some(conn) if corr.c > 0.0 && x <= 0.5 => conn.w(corr.c, x),
            _ => alpha_relu_w(self.alpha, corr.c).map_err(math_err)?,
        };
        let j = w * (-self.ln_c).exp();
        Ok((j, 1.0 - j))
    }
}

impl Kernel for AlphaRelu {
    fn name(&self) -> String {
        format!("alpha-relu({})", self.alpha)
    }
    fn at(&self, ln_q: f64, corr: Corr) -> Result<KernelValues, MeanFieldError> {
        check_ln_q(ln_q)?;
        let (j, one_minus_j) = self.j(corr)?;
        let ln_vp =
            if self.ln_vp_coef.is_finite() { self.ln_vp_coef + (self.alpha - 1.0) * ln_q } else { f64::INFINITY };
        Ok(KernelValues { ln_v: self.ln_c + self.alpha * ln_q, j, one_minus_j, ln_vp })
    }
    fn w2(&self, q1: f64, q2: f64, lambda: f64) -> Result<f64, MeanFieldError> {
        let r = (q1 * q2).sqrt();
        if r == 0.0 {
            return Ok(0.0);
        }
        Ok(r.powf(self.alpha) * alpha_relu_w(self.alpha, (lambda / r).clamp(-1.0, 1.0)).map_err(math_err)?)
    }
}

fn math_err(e: MathError) -> MeanFieldError {
    MeanFieldError::Math(e.to_string())
}

// ---------------------------------------------------------------------------------------------
// erf
// ---------------------------------------------------------------------------------------------

/// $\phi = \operatorname{erf}$: $W(q_1, q_2, \lambda) = \frac2\pi\arcsin\frac{2\lambda}{\sqrt{(1+2q_1)(1+2q_2)}}$,
/// so $V = \frac2\pi\arcsin\rho$ with $\rho = \frac{2q}{1+2q}$, $J = \arcsin(c\rho)/\arcsin\rho$, and
/// $V' = \frac{4}{\pi\sqrt{1 + 4q}}$. $1 - J$ uses
/// $\arcsin\rho - \arcsin(c\rho) = \arcsin\frac{\rho^2(1-c^2)}{\rho\sqrt{1-c^2\rho^2} + c\rho\sqrt{1-\rho^2}}$ ($c \ge 0$).
#[derive(Debug, Clone, Copy)]
pub struct Erf;

impl Kernel for Erf {
    fn name(&self) -> String {
        "erf".into()
    }
    fn at(&self, ln_q: f64, corr: Corr) -> Result<KernelValues, MeanFieldError> {
        check_ln_q(ln_q)?;
        if ln_q == f64::NEG_INFINITY {
            return Ok(KernelValues { ln_v: f64::NEG_INFINITY, j: 1.0, one_minus_j: 0.0, ln_vp: (4.0 / PI).ln() });
        }
        let q = ln_q.exp();
        // eps = 1 - rho = 1/(1 + 2q), accurate for every q.
        let eps = if ln_q > 700.0 { (-(ln_q + std::f64::consts::LN_2)).exp() } else { 1.0 / (1.0 + 2.0 * q) };
        let rho = 1.0 - eps;
        let asin_rho = if rho > 0.5 { PI / 2.0 - 2.0 * (0.5 * eps).sqrt().asin() } else { rho.asin() };
        let ln_v = (FRAC_2_PI * asin_rho).ln();
        let c = corr.c;
        let j = (c * rho).asin() / asin_rho;
        let one_minus_j = if c >= 0.0 {
            // sqrt(1 - rho^2) = sqrt(eps (2 - eps)); 1 - c^2 = delta (1 + c)
            let s1 = (1.0 - c * c * rho * rho).max(0.0).sqrt();
            let s2 = (eps * (2.0 - eps)).sqrt();
            let num = rho * rho * corr.one_minus_c * corr.one_plus_c();
            let den = rho * s1 + c * rho * s2;
            if den > 0.0 {
                (num / den).min(1.0).asin() / asin_rho
            } else {
                1.0 - j
            }
        } else {
            1.0 - j
        };
        let ln_vp = (4.0 / PI).ln() - 0.5 * (1.0 + 4.0 * q).ln();
        let ln_vp = if ln_q > 700.0 { (4.0 / PI).ln() - 0.5 * (ln_q + 4f64.ln()) } else { ln_vp };
        Ok(KernelValues { ln_v, j, one_minus_j, ln_vp })
    }
    fn w2(&self, q1: f64, q2: f64, lambda: f64) -> Result<f64, MeanFieldError> {
        Ok(FRAC_2_PI * (2.0 * lambda / ((1.0 + 2.0 * q1) * (1.0 + 2.0 * q2)).sqrt()).clamp(-1.0, 1.0).asin())
    }
}

mod numeric;
pub use numeric::*;

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs().max(1e-300)
    }

    /// The quadrature rule itself against exact Gaussian moments E z^4 = 3, E cos z = e^{-1/2}.
    #[test]
    fn gauss_expect_matches_exact_moments() {
        assert!(rel(gauss_expect(1.0, |z| z.powi(4)), 3.0) < 1e-13);
        assert!(rel(gauss_expect(1e-3, |z| z.cos()), (-0.5f64).exp()) < 1e-13);
        // E[z1^2 z2^2] = 1 + 2 c^2 for correlation c.
        for &c in &[-0.9, -0.3, 0.0, 0.5, 0.999] {
            let e = gauss_expect2(1.0, 1.0, Corr::new(c), |u, w| u * u * w * w);
            assert!(rel(e, 1.0 + 2.0 * c * c) < 1e-12, "c = {c}: {e}");
        }
    }

    /// Generic quadrature on erf against the closed form (docs/theory.md §3), V, V' and W,
    /// q from 1e-4 to 1e8, c across [-1, 1]; both the tabulated Mehler path and the direct path.
    #[test]
    fn numeric_erf_matches_closed_form() {
        let erf_num = Numeric::new("erf-numeric", libm::erf, |x| Activation::Erf.deriv(x), Parity::Odd);
        let erf_direct =
            Numeric::new("erf-numeric", libm::erf, |x| Activation::Erf.deriv(x), Parity::Odd).without_table();
        let cs = [-1.0, -0.999_999, -0.7, -0.2, 0.0, 1e-3, 0.3, 0.8, 0.99, 0.999_999, 1.0];
        for &q in &[1e-4, 3e-2, 0.7, 5.0, 1e2, 3e3, 1e5, 1e8] {
            let exact = Erf.at(f64::ln(q), Corr::new(1.0)).unwrap();
            for k in [&erf_num, &erf_direct] {
                let got = k.at(q.ln(), Corr::new(1.0)).unwrap();
                assert!(rel(got.ln_v.exp(), exact.ln_v.exp()) < 1e-9, "V at q = {q}");
                assert!(rel(got.ln_vp.exp(), exact.ln_vp.exp()) < 1e-9, "V' at q = {q}");
            }
            for &c in &cs {
                let corr = Corr::new(c);
                let ex = Erf.at(q.ln(), corr).unwrap();
                let got = erf_num.at(q.ln(), corr).unwrap();
                let wx = ex.j * exact.ln_v.exp();
                let wg = got.j * got.ln_v.exp();
                assert!((wg - wx).abs() <= 1e-8 * wx.abs() + 1e-13, "W at q = {q}, c = {c}: {wg} vs {wx}");
                assert!(
                    (got.one_minus_j - ex.one_minus_j).abs() <= 1e-8 * ex.one_minus_j + 1e-15,
                    "1 - J at q = {q}, c = {c}: {} vs {}",
                    got.one_minus_j,
                    ex.one_minus_j
                );
            }
        }
    }

    /// Generic quadrature (no symmetry assumed, kink at 0) on ReLU against the arc-cosine kernel.
    #[test]
    fn numeric_relu_matches_arccos_kernel() {
        let k = Numeric::new("relu-numeric", |x: f64| x.max(0.0), |x| if x > 0.0 { 1.0 } else { 0.0 }, Parity::None);
        for &q in &[1e-4, 1.0, 1e4] {
            let got = k.at(f64::ln(q), Corr::new(1.0)).unwrap();
            assert!(rel(got.ln_v.exp(), q / 2.0) < 1e-9);
            assert!(rel(got.ln_vp.exp(), 0.5) < 1e-9);
            for &c in &[-0.95, -0.5, 0.0, 0.5, 0.95] {
                let (j, omj) = relu_j(Corr::new(c));
                let g = k.at(q.ln(), Corr::new(c)).unwrap();
                assert!((g.j - j).abs() < 1e-8 * j.abs() + 1e-12, "q = {q}, c = {c}: {} vs {j}", g.j);
                assert!(rel(g.one_minus_j, omj) < 1e-8);
            }
        }
    }

    /// tanh: the tabulated kernel against independent direct quadrature (2-D for W), the limits of
    /// docs/theory.md §3, I7 at huge q, and the series V tanh(q) = q - 2 q^2 + O(q^3) at small q.
    #[test]
    fn tanh_kernel_limits_and_table() {
        let k = Numeric::tanh();
        // Large q limits: V -> 1 with 1 - V ~ 2/sqrt(2 pi q); sqrt(q) V' -> (4/3)/sqrt(2 pi);
        // W(q, c q) -> (2/pi) arcsin c (corrections O(1/q)).
        let q = 1e8;
        let kv = k.at(f64::ln(q), Corr::new(0.6)).unwrap();
        let one_minus_v = 1.0 - kv.ln_v.exp();
        assert!(rel(one_minus_v * q.sqrt(), 2.0 / (2.0 * PI).sqrt()) < 1e-3, "{one_minus_v}");
        assert!(rel(kv.ln_vp.exp() * q.sqrt(), 4.0 / 3.0 / (2.0 * PI).sqrt()) < 1e-6);
        assert!(rel(kv.j * kv.ln_v.exp(), FRAC_2_PI * 0.6f64.asin()) < 1e-6);
        // Beyond the table (q = 1e30): the grading reaches the 1e-15 scale of sech^4(sqrt(q) z).
        let kv = k.at(1e30f64.ln(), Corr::new(0.6)).unwrap();
        assert!(rel(kv.ln_vp.exp() * 1e15, 4.0 / 3.0 / (2.0 * PI).sqrt()) < 1e-9);
        assert!(rel(kv.ln_v.exp(), 1.0) < 1e-14);
        // Small q.
        let q = 1e-4;
        assert!(rel(k.v(q).unwrap(), q - 2.0 * q * q) < 1e-7);
        // Table vs direct quadrature (W by the 2-D rule, independent of the Mehler expansion).
        let direct = Numeric::tanh().without_table();
        for &q in &[0.013, 0.9, 7.3, 123.4, 4.5e4, 2.2e6] {
            let a = k.at(f64::ln(q), Corr::new(1.0)).unwrap();
            let b = direct.at(f64::ln(q), Corr::new(1.0)).unwrap();
            assert!(rel(a.ln_v.exp(), b.ln_v.exp()) < 1e-10, "V at {q}");
            assert!(rel(a.ln_vp.exp(), b.ln_vp.exp()) < 1e-10, "V' at {q}");
            let v = b.ln_v.exp();
            for &c in &[-0.8, -0.1, 0.05, 0.5, 0.9] {
                let corr = Corr::new(c);
                let t = k.at(q.ln(), corr).unwrap();
                let (jq, omjq) = direct.j_quadrature(q, v, corr);
                assert!((t.j - jq).abs() < 1e-8 * jq.abs() + 1e-13, "J at q = {q}, c = {c}: {} vs {jq}", t.j);
                assert!(rel(t.one_minus_j, omjq) < 1e-8, "1-J at q = {q}, c = {c}");
            }
        }
    }

    /// Interpolation error of the lazily built table: a sweep of 42 variances off the grid from
    /// 1e-6 to 1e11, table against a fresh integration at the same q (V, V', and J by the Mehler
    /// sum of directly computed coefficients).
    #[test]
    fn tanh_table_interpolation_error() {
        let k = Numeric::tanh();
        let direct = Numeric::tanh().without_table();
        let mut worst: f64 = 0.0;
        for i in 0..42 {
            let ln_q = (-6.0 + i as f64 * 0.4123) * std::f64::consts::LN_10;
            for &c in &[0.3, -0.6, 0.85] {
                let a = k.at(ln_q, Corr::new(c)).unwrap();
                let b = direct.at(ln_q, Corr::new(c)).unwrap();
                worst = worst
                    .max((a.ln_v - b.ln_v).abs())
                    .max((a.ln_vp - b.ln_vp).abs())
                    .max(rel(a.j, b.j))
                    .max(rel(a.one_minus_j, b.one_minus_j));
            }
        }
        assert!(worst < 1e-10, "worst interpolation error {worst}");
    }

    /// GELU: the numeric kernel at large q approaches the ReLU closed form as stated (V, W to
    /// O(q^{-3/2}), V' to O(q^{-1/2})), which justifies switching to ReLU above q = 1e20.
    #[test]
    fn gelu_large_q_matches_relu() {
        let k = kernel_for(&Activation::Gelu).unwrap();
        let q: f64 = 3e10;
        let g = k.at(q.ln(), Corr::new(0.7)).unwrap();
        let r = Relu.at(q.ln(), Corr::new(0.7)).unwrap();
        assert!((g.ln_v - r.ln_v).abs() < 1e-9);
        assert!((g.ln_vp - r.ln_vp).abs() < 3.0 / q.sqrt(), "{} vs {}", g.ln_vp, r.ln_vp);
        assert!(rel(g.j, r.j) < 1e-8);
    }

    /// Monte Carlo (seeded) against the kernels: W for tanh, GELU and 0.75-ReLU at one (q, c).
    #[test]
    fn kernels_match_monte_carlo() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let n = 400_000;
        let (q, c): (f64, f64) = (2.0, 0.4);
        let acts = [Activation::Tanh, Activation::Gelu, Activation::AlphaRelu { alpha: 0.75 }];
        let mut sums = [0.0; 3];
        let mut sq = [0.0; 3];
        for _ in 0..n {
            let z1: f64 = StandardNormal.sample(&mut rng);
            let z2: f64 = StandardNormal.sample(&mut rng);
            let (u, w) = (q.sqrt() * z1, q.sqrt() * (c * z1 + (1.0 - c * c).sqrt() * z2));
            for (i, a) in acts.iter().enumerate() {
                let x = a.eval(u) * a.eval(w);
                sums[i] += x;
                sq[i] += x * x;
            }
        }
        for (i, a) in acts.iter().enumerate() {
            let mean = sums[i] / n as f64;
            let se = ((sq[i] / n as f64 - mean * mean) / n as f64).sqrt();
            let w = kernel_for(a).unwrap().w(q, c * q).unwrap();
            assert!((w - mean).abs() < 5.0 * se, "{a}: kernel {w} vs MC {mean} +- {se}");
        }
    }

    /// ReLU arc-cosine closed form: J(1 - eps) = 1 - eps + (2 sqrt 2/(3 pi)) eps^{3/2} + O(eps^{5/2})
    /// (docs/theory.md §3, I6), and J(-1) = 0, J(0) = 1/pi.
    #[test]
    fn relu_kernel_near_endpoints() {
        for &eps in &[1e-4, 1e-8, 1e-12] {
            let (_, omj) = relu_j(Corr::from_one_minus(eps));
            let expect = eps - 2.0 * 2f64.sqrt() / (3.0 * PI) * eps.powf(1.5);
            assert!(rel(omj, expect) < 1e-3 * eps, "eps = {eps}: {omj} vs {expect}");
        }
        assert!(relu_j(Corr::new(-1.0)).0.abs() < 1e-16);
        assert!(rel(relu_j(Corr::new(0.0)).0, 1.0 / PI) < 1e-15);
    }

    /// erf's 1 - J near c = 1 from the closed form agrees with the numerically safe quadrature
    /// form (V - W)/V at a moderate q.
    #[test]
    fn erf_one_minus_j_is_accurate_near_one() {
        let q = 3.0;
        let corr = Corr::from_one_minus(1e-9);
        let ex = Erf.at(f64::ln(q), corr).unwrap();
        let d = gauss_expect2(q, q, corr, |u, w| 0.5 * (libm::erf(u) - libm::erf(w)).powi(2));
        assert!(rel(ex.one_minus_j, d / ex.ln_v.exp()) < 1e-8, "{} vs {}", ex.one_minus_j, d / ex.ln_v.exp());
    }

    /// Unequal variances: erf closed form against the generic 2-D quadrature.
    #[test]
    fn unequal_variances_erf() {
        let k = Numeric::new("erf-numeric", libm::erf, |x| Activation::Erf.deriv(x), Parity::Odd);
        for &(q1, q2, c) in &[(0.5, 30.0, 0.7), (1e3, 2.0, -0.4), (1e-2, 1e4, 0.999)] {
            let lam = c * f64::sqrt(q1 * q2);
            let a = k.w2(q1, q2, lam).unwrap();
            let b = Erf.w2(q1, q2, lam).unwrap();
            assert!(rel(a, b) < 1e-8, "({q1}, {q2}, {c}): {a} vs {b}");
        }
    }

    /// The connection-formula evaluation of W_alpha near c = 1 against math::kernels::alpha_relu_w
    /// (series + ODE continuation of 2F1: an independent method).
    #[test]
    fn alpha_relu_connection_formula_matches_math_kernels() {
        for &a in &[0.55, 0.6, 0.75, 0.9, 1.0, 1.2, 2.0, 2.7] {
            let k = AlphaRelu::new(a).unwrap();
            assert!(k.near_one.is_some());
            for &c in &[0.7072, 0.8, 0.9, 0.99, 0.999_9, 1.0 - 1e-9, 1.0] {
                let (j, _) = k.j(Corr::new(c)).unwrap();
                let expect = alpha_relu_w(a, c).unwrap() / alpha_relu_c(a).unwrap();
                assert!(rel(j, expect) < 1e-13, "a = {a}, c = {c}: {j} vs {expect}");
            }
        }
        assert!(AlphaRelu::new(1.5).unwrap().near_one.is_none());
    }

    #[test]
    fn alpha_relu_small_alpha_has_infinite_gradient_moment() {
        let k = AlphaRelu::new(0.4).unwrap();
        let kv = k.at(0.0, Corr::new(0.5)).unwrap();
        assert_eq!(kv.ln_vp, f64::INFINITY);
        assert!(AlphaRelu::new(0.0).is_err());
        assert!(AlphaRelu::new(f64::NAN).is_err());
    }

    /// Above MAX_ALPHA the kernel is refused (2000 made hyp2f1 diverge, 1e308 made it endless),
    /// and at MAX_ALPHA it still works on the whole range of c.
    #[test]
    fn alpha_relu_alpha_is_bounded() {
        for a in [50.5, 2000.0, 1e308, f64::INFINITY] {
            let e = AlphaRelu::new(a).unwrap_err();
            assert!(e.to_string().contains("0 < alpha <= 50"), "{e}");
        }
        let k = AlphaRelu::new(MAX_ALPHA).unwrap();
        for &c in &[-1.0, -0.5, -1e-300, 0.0, 0.5, 0.71, 0.9, 1.0] {
            let (j, omj) = k.j(Corr::new(c)).unwrap();
            assert!(j.is_finite() && (0.0..=1.0).contains(&j) && omj.is_finite(), "c = {c}: {j}");
        }
    }
}
