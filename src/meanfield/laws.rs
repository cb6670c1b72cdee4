//! The asymptotic laws of docs/theory.md §5, computed in code from their formulas (not from
//! the recurrences), in terms of the generic block coefficients
//! $(\alpha_q, \beta_q, \kappa, \sigma, \tau)$ of [`Blocks`]: an FRN has
//! $(\sigma_w^2, \sigma_b^2, 1, \sigma_v^2, \sigma_a^2)$ and an RRN $(1, 0, 1, \sigma_w^2, \sigma_b^2)$, which is the
//! substitution $(\sigma_v^2, \sigma_a^2, \sigma_v^2\sigma_w^2) \to (\sigma_w^2, \sigma_b^2, \sigma_w^2)$ of docs/theory.md §2.

use super::expectations::{Corr, Kernel};
use super::recurrence::Blocks;
use super::MeanFieldError;
use crate::math::kernels::{alpha_relu_c, alpha_relu_j, alpha_relu_w, RELU_K1};
use std::f64::consts::{FRAC_2_PI, PI};

/// Root of `f` in `[a, b]` by bisection (the signs at the ends must differ), to `1e-15` absolute.
pub fn bisect(f: impl Fn(f64) -> f64, mut a: f64, mut b: f64) -> Option<f64> {
    let (mut fa, fb) = (f(a), f(b));
    if fa == 0.0 {
        return Some(a);
    }
    if fb == 0.0 {
        return Some(b);
    }
    if fa.signum() == fb.signum() || fa.is_nan() || fb.is_nan() {
        return None;
    }
    for _ in 0..200 {
        let m = 0.5 * (a + b);
        if (b - a).abs() <= 1e-15 * (1.0 + m.abs()) {
            break;
        }
        let fm = f(m);
        if fm == 0.0 {
            return Some(m);
        }
        if fm.signum() == fa.signum() {
            a = m;
            fa = fm;
        } else {
            b = m;
        }
    }
    Some(0.5 * (a + b))
}

// ---------------------------------------------------------------------------------------------
// tanh residual nets
// ---------------------------------------------------------------------------------------------

/// $B = \sigma + \tau$ ($\sigma_v^2 + \sigma_a^2$ for an FRN): $p^l \sim B\,l$.
pub fn tanh_b(b: &Blocks) -> f64 {
    b.sigma + b.tau
}

/// The stable root $e^* \in [0, 1)$ of $B e = \sigma\frac2\pi\arcsin e + \tau$ ($e = 1$ is always an
/// unstable root; $e^* = 0$ when $\tau = 0$).
pub fn tanh_e_star(b: &Blocks) -> f64 {
    if b.tau == 0.0 {
        return 0.0;
    }
    let big_b = tanh_b(b);
    bisect(|e| b.sigma * FRAC_2_PI * e.asin() + b.tau - big_b * e, 0.0, 1.0 - 1e-9).unwrap_or(f64::NAN)
}

/// $d = 1 - \frac{\sigma}{B}\frac2\pi\frac{1}{\sqrt{1 - e^{*2}}}$: $|e^l - e^*| = \Theta(l^{-d})$
/// ($1 - 2/\pi$ when $\tau = 0$).
pub fn tanh_d(b: &Blocks) -> f64 {
    let e = tanh_e_star(b);
    1.0 - b.sigma / tanh_b(b) * FRAC_2_PI / (1.0 - e * e).sqrt()
}

/// $\kappa = \frac{\sigma e^*}{B}\sqrt{\frac{2}{\pi\alpha_q B}}$ ($\frac{\sigma_v^2 e^*}{B}\sqrt{2/(\pi\sigma_w^2 B)}$ for an
/// FRN): the coefficient of the $l^{-3/2}$ forcing of the linearized tanh cosine recurrence,
/// $\frac{d}{dl}(e - e^*) = -\frac{d}{l}(e - e^*) + \kappa\,l^{-3/2}$, which comes from
/// $1 - V\tanh(q) \approx \sqrt{2/(\pi q)}$ (I7) at $q^l \approx \alpha_q B\,l$. Zero when $e^* = 0$.
pub fn tanh_e_forcing(b: &Blocks) -> f64 {
    let big_b = tanh_b(b);
    b.sigma * tanh_e_star(b) / big_b * (2.0 / (PI * b.aq * big_b)).sqrt()
}

/// $C = \kappa/(d - \frac12)$: the coefficient of $l^{-1/2}$ in
/// $e^l - e^* = A\,l^{-d} + C\,l^{-1/2} + O(l^{-1})$, the particular solution of the forced
/// recurrence of [`tanh_e_forcing`].
pub fn tanh_e_half_coefficient(b: &Blocks) -> f64 {
    tanh_e_forcing(b) / (tanh_d(b) - 0.5)
}

/// $K$ in $\ln(\chi^0/\chi^L) \sim K\sqrt L$: $K = \frac83\,\sigma\sqrt{\alpha_q}/\sqrt{2\pi B}$
/// ($\frac83\sigma_v^2\sigma_w/\sqrt{2\pi B}$ for an FRN). From $V\tanh'(q) \sim \frac43/\sqrt{2\pi q}$ and
/// $q^l \sim \alpha_q B l$.
pub fn tanh_grad_const(b: &Blocks) -> f64 {
    8.0 / 3.0 * b.sigma * b.aq.sqrt() / (2.0 * PI * tanh_b(b)).sqrt()
}

// ---------------------------------------------------------------------------------------------
// ReLU
// ---------------------------------------------------------------------------------------------

/// $k = 2\sqrt2/(3\pi)$ of $J_1(1-\epsilon) = 1 - \epsilon + k\epsilon^{3/2} + \dots$ (docs/theory.md §3, I6).
pub const RELU_K: f64 = RELU_K1;

/// Per-layer growth rate of $p^l$ and of $\chi^0/\chi^l$ with zero biases:
/// $\ln(\kappa + \sigma\alpha_q/2)$ ($\ln(1 + \sigma_v^2\sigma_w^2/2)$ for an FRN, $\ln(\sigma_w^2/2)$ vanilla).
pub fn relu_rate(b: &Blocks) -> f64 {
    (b.kappa + b.sigma * b.aq / 2.0).ln()
}

/// $C$ in $1 - e^l \sim C/l^2$: $C = 4/(r k)^2$ with $r = \rho/(\kappa + \rho)$, $\rho = \sigma\alpha_q/2$
/// (from $1 - e' = (1 - e) - r k (1 - e)^{3/2} + \dots$).
pub fn relu_cos_const(b: &Blocks) -> f64 {
    let rho = b.sigma * b.aq / 2.0;
    let r = rho / (b.kappa + rho);
    4.0 / (r * RELU_K).powi(2)
}

// ---------------------------------------------------------------------------------------------
// alpha-ReLU, 1/2 < alpha < 1
// ---------------------------------------------------------------------------------------------

/// Exponent $1/(1 - \alpha)$ of $p^l$.
pub fn alpha_p_exponent(a: f64) -> f64 {
    1.0 / (1.0 - a)
}

/// Slope $K_p$ of $(p^l)^{1-\alpha} \sim K_p\,l$: $K_p = (1 - \alpha)c_\alpha\sigma\alpha_q^\alpha$, i.e.
/// $p^l \sim [(1-\alpha)c_\alpha\sigma_v^2\sigma_w^{2\alpha} l]^{1/(1-\alpha)}$ for an FRN.
pub fn alpha_p_slope(a: f64, b: &Blocks) -> Result<f64, MeanFieldError> {
    Ok((1.0 - a) * c_alpha(a)? * b.sigma * b.aq.powf(a))
}

/// $R = \alpha^2/((1-\alpha)(2\alpha-1))$ of $\chi^0/\chi^L = \Theta(L^R)$ (minimum 4 at $\alpha = 2/3$).
pub fn alpha_r(a: f64) -> f64 {
    a * a / ((1.0 - a) * (2.0 * a - 1.0))
}

fn c_alpha(a: f64) -> Result<f64, MeanFieldError> {
    alpha_relu_c(a).map_err(|e| MeanFieldError::Math(e.to_string()))
}

/// The fixed point $e^* \in (0, 1)$ of $J_\alpha$ (the stable one; $c = 1$ is unstable because
/// $J_\alpha'(1) = \alpha^2/(2\alpha-1) > 1$).
pub fn alpha_e_star(a: f64) -> Result<f64, MeanFieldError> {
    let f = |c: f64| alpha_relu_j(a, c).map(|j| j - c).unwrap_or(f64::NAN);
    bisect(f, 0.0, 1.0 - 1e-9).ok_or(MeanFieldError::BadParameter {
        name: "alpha",
        value: a,
        valid: "1/2 < alpha < 1 (J_alpha has an interior fixed point)",
    })
}

/// $J_\alpha'(c) = \alpha^2 W_{\alpha-1}(c)/c_\alpha$ (identity I4), $\alpha > 1/2$.
pub fn alpha_j_prime(a: f64, c: f64) -> Result<f64, MeanFieldError> {
    let w = alpha_relu_w(a - 1.0, c).map_err(|e| MeanFieldError::Math(e.to_string()))?;
    Ok(a * a * w / c_alpha(a)?)
}

/// $d = (1 - J_\alpha'(e^*))/(1 - \alpha)$: $|e^l - e^*| = \Theta(l^{-d})$.
pub fn alpha_d(a: f64) -> Result<f64, MeanFieldError> {
    let e = alpha_e_star(a)?;
    Ok((1.0 - alpha_j_prime(a, e)?) / (1.0 - a))
}

// ---------------------------------------------------------------------------------------------
// Vanilla nets: fixed points and exponential rates
// ---------------------------------------------------------------------------------------------

/// Fixed points and linear rates of a vanilla net ($x^l = W\phi(x^{l-1}) + b$), computed by
/// root finding on the kernel (independently of the recurrence).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VanillaFixedPoint {
    /// $q^* = \sigma_w^2 V\phi(q^*) + \sigma_b^2$.
    pub q_star: f64,
    /// $c^*$: the stable fixed point of $c \mapsto (\sigma_w^2 W\phi(q^*, c q^*) + \sigma_b^2)/q^*$ below 1.
    pub c_star: f64,
    /// $\ln|\sigma_w^2\,\partial_q V\phi(q^*)|$: rate of $|p^l - q^*|$ per layer.
    pub ln_rate_q: f64,
    /// $\ln|\partial_c\,\text{(correlation map)}(c^*)|$: rate of $|e^l - c^*|$ per layer.
    pub ln_rate_c: f64,
    /// $\ln\chi_1 = \ln(\sigma_w^2 V\phi'(q^*))$: per-layer rate of $\ln(\chi^0/\chi^l)$.
    pub ln_chi1: f64,
}

/// [`VanillaFixedPoint`] for weight variance `sw2`, bias variance `sb2 > 0`. Derivatives by
/// central differences (step $10^{-5}$ relative; error $O(10^{-10})$).
pub fn vanilla_fixed_point(kernel: &dyn Kernel, sw2: f64, sb2: f64) -> Result<VanillaFixedPoint, MeanFieldError> {
    let v = |q: f64| kernel.v(q).unwrap_or(f64::NAN);
    let q_star = bisect(|q| sw2 * v(q) + sb2 - q, sb2.max(1e-12), 1e6).ok_or(MeanFieldError::BadParameter {
        name: "sw2",
        value: sw2,
        valid: "a vanilla net with a finite nonzero fixed point q*",
    })?;
    let ln_q = q_star.ln();
    let vq = v(q_star);
    let map = |c: f64| -> f64 {
        let kv = kernel.at(ln_q, Corr::new(c)).map(|k| k.j).unwrap_or(f64::NAN);
        (sw2 * vq * kv + sb2) / q_star
    };
    let c_star = bisect(|c| map(c) - c, -1.0, 1.0 - 1e-7).unwrap_or(1.0);
    let h = 1e-5;
    let dq = (v(q_star * (1.0 + h)) - v(q_star * (1.0 - h))) / (2.0 * h * q_star);
    let dc = (map(c_star + h) - map(c_star - h)) / (2.0 * h);
    let vp = kernel.vp(q_star)?;
    Ok(VanillaFixedPoint {
        q_star,
        c_star,
        ln_rate_q: (sw2 * dq).abs().ln(),
        ln_rate_c: dc.abs().ln(),
        ln_chi1: (sw2 * vp).ln(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meanfield::expectations::Erf;

    /// Published/elementary values: d = 1 - 2/pi for sa2 = 0; R(2/3) = 4 (its minimum); K for the
    /// FRN with sv2 = sw2 = 1: (8/3)/sqrt(2 pi); k = 2 sqrt 2/(3 pi).
    #[test]
    fn closed_form_constants() {
        let frn = Blocks { aq: 1.0, bq: 0.0, kappa: 1.0, sigma: 1.0, tau: 0.0 };
        assert!((tanh_d(&frn) - (1.0 - 2.0 / PI)).abs() < 1e-15);
        assert!((tanh_grad_const(&frn) - 8.0 / 3.0 / (2.0 * PI).sqrt()).abs() < 1e-15);
        assert!((alpha_r(2.0 / 3.0) - 4.0).abs() < 1e-12);
        assert!(alpha_r(0.6) > 4.0 && alpha_r(0.7) > 4.0);
        assert!((RELU_K - 0.300_105_438_719_035_5).abs() < 1e-15); // 2 sqrt(2)/(3 pi)
    }

    /// e* solves its equation; for alpha-ReLU it is a fixed point of J_alpha with J' < 1 there.
    #[test]
    fn fixed_points_solve_their_equations() {
        let b = Blocks { aq: 1.0, bq: 0.0, kappa: 1.0, sigma: 1.0, tau: 0.5 };
        let e = tanh_e_star(&b);
        assert!((1.5 * e - (FRAC_2_PI * e.asin() + 0.5)).abs() < 1e-13 && e > 0.5 && e < 0.7, "{e}");
        for a in [0.55, 0.75, 0.9] {
            let e = alpha_e_star(a).unwrap();
            assert!((alpha_relu_j(a, e).unwrap() - e).abs() < 1e-13);
            let jp = alpha_j_prime(a, e).unwrap();
            // I4 against a central difference of J.
            let h = 1e-6;
            let fd = (alpha_relu_j(a, e + h).unwrap() - alpha_relu_j(a, e - h).unwrap()) / (2.0 * h);
            assert!((jp - fd).abs() < 1e-7, "{jp} vs {fd}");
            assert!(jp < 1.0 && alpha_d(a).unwrap() > 0.0);
        }
    }

    /// Vanilla erf net: q* against the closed form of V erf, chi_1 against (4/pi)/sqrt(1 + 4 q*).
    #[test]
    fn vanilla_fixed_point_erf() {
        let (sw2, sb2) = (2.0, 0.1);
        let fp = vanilla_fixed_point(&Erf, sw2, sb2).unwrap();
        let v = FRAC_2_PI * (2.0 * fp.q_star / (1.0 + 2.0 * fp.q_star)).asin();
        assert!((sw2 * v + sb2 - fp.q_star).abs() < 1e-12);
        let chi1 = sw2 * 4.0 / PI / (1.0 + 4.0 * fp.q_star).sqrt();
        assert!((fp.ln_chi1 - chi1.ln()).abs() < 1e-12);
    }
}
