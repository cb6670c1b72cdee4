//! The alpha-ReLU kernels at unit variance and the arc-cosine kernels.
//!
//! $\phi_\alpha(x) = \max(x, 0)^\alpha$; $z, z'$ standard normal with correlation $c$. For variance
//! $q$ scale by $q^\alpha$: $E[\phi_\alpha(\sqrt q z)\phi_\alpha(\sqrt q z')] = q^\alpha W_\alpha(c)$.

use super::special::{gamma, hyp2f1};
use super::{check, MathError};
use std::f64::consts::PI;

/// Coefficient of $\epsilon^{3/2}$ in $J_1(1-\epsilon)$: $2\sqrt2/(3\pi)$ (docs/theory.md §3, I6).
pub const RELU_K1: f64 = 2.0 * std::f64::consts::SQRT_2 / (3.0 * PI);
/// Coefficient of $\epsilon^{5/2}$ in $J_1(1-\epsilon)$: $\sqrt2/(30\pi)$ (derived in the
/// Identities chapter from $\theta = 2\arcsin\sqrt{\epsilon/2}$).
pub const RELU_K2: f64 = std::f64::consts::SQRT_2 / (30.0 * PI);

fn check_alpha(func: &'static str, a: f64) -> Result<(), MathError> {
    check(a.is_finite() && a > -0.5, func, "alpha", a, "alpha > -1/2")
}

fn check_c(func: &'static str, c: f64) -> Result<(), MathError> {
    check(c.is_finite() && c.abs() <= 1.0, func, "c", c, "-1 <= c <= 1")
}

/// $c_\alpha = E[\phi_\alpha(z)^2] = 2^{\alpha-1}\Gamma(\alpha+\tfrac12)/\sqrt\pi$ for $\alpha > -1/2$
/// (infinite otherwise).
pub fn alpha_relu_c(a: f64) -> Result<f64, MathError> {
    check_alpha("alpha_relu_c", a)?;
    Ok(2f64.powf(a - 1.0) * gamma(a + 0.5) / PI.sqrt())
}

/// $W_\alpha(c) = E[\phi_\alpha(z)\phi_\alpha(z')]$ by the closed form of docs/theory.md §3,
/// $$W_\alpha(c) = \frac{2^\alpha}{4\pi}\Big[\Gamma(\tfrac{\alpha+1}2)^2\,{}_2F_1(-\tfrac\alpha2,-\tfrac\alpha2;\tfrac12;c^2) +
///   2c\,\Gamma(\tfrac\alpha2+1)^2\,{}_2F_1(\tfrac{1-\alpha}2,\tfrac{1-\alpha}2;\tfrac32;c^2)\Big],$$
/// $\alpha > -1/2$, $|c| \le 1$. Both series have non-negative coefficients, so for $c \ge 0$
/// there is no cancellation; for $c \to -1$ the two terms cancel ($W_\alpha(-1) = 0$) and the
/// relative accuracy degrades like $\epsilon_{\rm mach}/W_\alpha(c)$. [`alpha_relu_w`] avoids that.
pub fn alpha_relu_w_paper(a: f64, c: f64) -> Result<f64, MathError> {
    check_alpha("alpha_relu_w_paper", a)?;
    check_c("alpha_relu_w_paper", c)?;
    let z = c * c;
    let g1 = gamma(0.5 * (a + 1.0));
    let g2 = gamma(0.5 * a + 1.0);
    let f1 = hyp2f1(-0.5 * a, -0.5 * a, 0.5, z)?;
    let f2 = hyp2f1(0.5 * (1.0 - a), 0.5 * (1.0 - a), 1.5, z)?;
    Ok(2f64.powf(a) / (4.0 * PI) * (g1 * g1 * f1 + 2.0 * c * g2 * g2 * f2))
}

/// $W_\alpha(c)$ by the positive form derived from the Bessel representation (identity I5 with
/// Gradshteyn-Ryzhik 6.621.3 and Pfaff's transformation):
/// $$W_\alpha(c) = \frac{(1+c)^{\alpha+1/2}\,\Gamma(\alpha+1)^2}{2\sqrt{2\pi}\,\Gamma(\alpha+\frac32)}\,
///   {}_2F_1\big(\tfrac12,\tfrac12;\alpha+\tfrac32;\tfrac{1+c}2\big),$$
/// $\alpha > -1/2$, $-1 \le c \le 1$. Every term is positive, so it keeps full relative accuracy
/// as $c \to -1$, where $W_\alpha(c) \sim (1+c)^{\alpha+1/2}$.
pub fn alpha_relu_w_bessel_form(a: f64, c: f64) -> Result<f64, MathError> {
    check_alpha("alpha_relu_w_bessel_form", a)?;
    check_c("alpha_relu_w_bessel_form", c)?;
    if c == -1.0 {
        return Ok(0.0);
    }
    let g = gamma(a + 1.0);
    let pre = (1.0 + c).powf(a + 0.5) * g * g / (2.0 * (2.0 * PI).sqrt() * gamma(a + 1.5));
    Ok(pre * hyp2f1(0.5, 0.5, a + 1.5, 0.5 * (1.0 + c))?)
}

/// $W_\alpha(c) = E[\phi_\alpha(z)\phi_\alpha(z')]$, $\alpha > -1/2$, $|c| \le 1$ (callers with a
/// correlation computed in floating point should clamp it to $[-1, 1]$). Uses
/// [`alpha_relu_w_paper`] for $c \ge 0$ and [`alpha_relu_w_bessel_form`] for $c < 0$: full
/// relative accuracy on the whole range. $W_\alpha(1) = c_\alpha$, $W_\alpha(-1) = 0$ ($\alpha > 0$).
pub fn alpha_relu_w(a: f64, c: f64) -> Result<f64, MathError> {
    check_alpha("alpha_relu_w", a)?;
    check_c("alpha_relu_w", c)?;
    if c >= 0.0 {
        alpha_relu_w_paper(a, c)
    } else {
        alpha_relu_w_bessel_form(a, c)
    }
}

/// Normalised kernel $J_\alpha(c) = W_\alpha(c)/c_\alpha$, $J_\alpha(1) = 1$.
pub fn alpha_relu_j(a: f64, c: f64) -> Result<f64, MathError> {
    Ok(alpha_relu_w(a, c)? / alpha_relu_c(a)?)
}

/// $J_\alpha'(1) = \alpha^2/(2\alpha - 1)$, finite for $\alpha > 1/2$ (from I4:
/// $J_\alpha' = \alpha^2 W_{\alpha-1}/c_\alpha$ and $c_\alpha = (2\alpha-1)c_{\alpha-1}$).
pub fn alpha_relu_j_prime_at_1(a: f64) -> Result<f64, MathError> {
    check(a.is_finite() && a > 0.5, "alpha_relu_j_prime_at_1", "alpha", a, "alpha > 1/2")?;
    Ok(a * a / (2.0 * a - 1.0))
}

/// $E[\phi_\alpha'(z)^2] = \alpha^2 c_{\alpha-1}$ (so $V\phi_\alpha'(q) = \alpha^2 c_{\alpha-1} q^{\alpha-1}$),
/// finite only for $\alpha > 1/2$: for $\alpha \le 1/2$ the gradient moment is infinite and this
/// returns a domain error.
pub fn alpha_relu_v_prime(a: f64) -> Result<f64, MathError> {
    check(a.is_finite() && a > 0.5, "alpha_relu_v_prime", "alpha", a, "alpha > 1/2 (infinite otherwise)")?;
    Ok(a * a * alpha_relu_c(a - 1.0)?)
}

/// $\sin\delta - \delta\cos\delta$, cancellation-free for small $\delta$.
fn sin_minus_dcos(d: f64) -> f64 {
    if d.abs() < 0.5 {
        // sum_{k>=1} (-1)^{k+1} 2k d^{2k+1}/(2k+1)!
        let d2 = d * d;
        let mut pow = d; // d^{2k+1} / (2k+1)!
        let mut sum = 0.0;
        for k in 1..30 {
            let kf = k as f64;
            pow *= d2 / ((2.0 * kf) * (2.0 * kf + 1.0));
            let t = if k % 2 == 1 { 2.0 * kf * pow } else { -2.0 * kf * pow };
            sum += t;
            if t.abs() < 1e-18 * sum.abs() {
                break;
            }
        }
        sum
    } else {
        d.sin() - d * d.cos()
    }
}

/// $2\delta + \delta\cos 2\delta - \tfrac32\sin 2\delta$, cancellation-free for small $\delta$.
fn w2_numerator(d: f64) -> f64 {
    if d.abs() < 0.3 {
        // x = 2d: sum_{k>=2} (-1)^k (k-1) x^{2k+1}/(2k+1)!
        let x = 2.0 * d;
        let x2 = x * x;
        let mut pow = x; // x^{2k+1}/(2k+1)!
        let mut sum = 0.0;
        for k in 1..30 {
            let kf = k as f64;
            pow *= x2 / ((2.0 * kf) * (2.0 * kf + 1.0));
            if k < 2 {
                continue;
            }
            let t = if k % 2 == 0 { (kf - 1.0) * pow } else { -(kf - 1.0) * pow };
            sum += t;
            if t.abs() < 1e-18 * sum.abs() {
                break;
            }
        }
        sum
    } else {
        2.0 * d + d * (2.0 * d).cos() - 1.5 * (2.0 * d).sin()
    }
}

/// Arc-cosine kernels (Cho & Saul 2009) at unit variance, $\theta = \arccos c$, $n \in \{0,1,2\}$,
/// $|c| \le 1$ (docs/theory.md §3, I3):
/// $W_0 = \frac{\pi-\theta}{2\pi}$, $W_1 = \frac{\sin\theta + (\pi-\theta)\cos\theta}{2\pi}$,
/// $W_2 = \frac{3\sin\theta\cos\theta + (\pi-\theta)(1+2\cos^2\theta)}{2\pi}$.
/// Evaluated through $\delta = \pi - \theta = \arccos(-c)$ with series for small $\delta$, so the
/// relative accuracy holds as $c \to -1$.
pub fn arccos_kernel(n: u32, c: f64) -> Result<f64, MathError> {
    check(n <= 2, "arccos_kernel", "n", n as f64, "n in {0, 1, 2}")?;
    check_c("arccos_kernel", c)?;
    let d = (-c).acos();
    let v = match n {
        0 => d,
        1 => sin_minus_dcos(d),
        _ => w2_numerator(d),
    };
    Ok(v / (2.0 * PI))
}

/// $J_1(1-\epsilon) - (1 - \epsilon) = (\sin\theta - \theta\cos\theta)/\pi$ with
/// $\theta = \arccos(1-\epsilon) = 2\arcsin\sqrt{\epsilon/2}$, $0 \le \epsilon \le 2$: the part of
/// the ReLU kernel beyond its linear term near $c = 1$, without cancellation.
pub fn relu_j_one_minus(eps: f64) -> Result<f64, MathError> {
    check(eps.is_finite() && (0.0..=2.0).contains(&eps), "relu_j_one_minus", "eps", eps, "0 <= eps <= 2")?;
    let theta = 2.0 * (0.5 * eps).sqrt().asin();
    Ok(sin_minus_dcos(theta) / PI)
}

/// The expansion of I6 truncated after `terms` terms beyond $1 - \epsilon$:
/// $J_1(1-\epsilon) \approx 1 - \epsilon + k_1\epsilon^{3/2} + k_2\epsilon^{5/2}$ with
/// $k_1 = 2\sqrt2/(3\pi)$ ([`RELU_K1`]), $k_2 = \sqrt2/(30\pi)$ ([`RELU_K2`]); `terms` in 0..=2.
pub fn relu_j_expansion(eps: f64, terms: u32) -> f64 {
    let mut v = 1.0 - eps;
    if terms >= 1 {
        v += RELU_K1 * eps.powf(1.5);
    }
    if terms >= 2 {
        v += RELU_K2 * eps.powf(2.5);
    }
    v
}

/// Closed form of the K0 moment $\int_0^\infty y^\alpha e^{cy} K_0(y)\,dy$, $\alpha > -1/2$,
/// $-1 < c < 1$ (Gradshteyn-Ryzhik 6.621.3 with $\nu = 0$, $\mu = \alpha + 1$, then Pfaff):
/// $$\sqrt{\tfrac\pi2}\,\frac{\Gamma(\alpha+1)^2}{\Gamma(\alpha+\frac32)}\,(1-c)^{-\alpha-1/2}\,
///   {}_2F_1\big(\tfrac12,\tfrac12;\alpha+\tfrac32;\tfrac{1+c}2\big).$$
pub fn k0_moment(a: f64, c: f64) -> Result<f64, MathError> {
    check_alpha("k0_moment", a)?;
    check(c.is_finite() && c.abs() < 1.0, "k0_moment", "c", c, "-1 < c < 1")?;
    let g = gamma(a + 1.0);
    Ok((0.5 * PI).sqrt() * g * g / gamma(a + 1.5)
        * (1.0 - c).powf(-a - 0.5)
        * hyp2f1(0.5, 0.5, a + 1.5, 0.5 * (1.0 + c))?)
}

/// Elementary closed forms of $I_n(c) = \int_0^\infty y^n e^{cy} K_0(y)\,dy$ for $n = 0, 1, 2$,
/// $-1 < c < 1$, with $\delta = \pi - \arccos c$ (from I3 and I5: $I_n = 2\pi W_n/(1-c^2)^{n+1/2}$):
/// $I_0 = \frac{\delta}{\sqrt{1-c^2}}$, $I_1 = \frac{1}{1-c^2} + \frac{c\,\delta}{(1-c^2)^{3/2}}$,
/// $I_2 = \frac{3c}{(1-c^2)^2} + \frac{(1+2c^2)\,\delta}{(1-c^2)^{5/2}}$.
/// (Note $I_{n+1} = dI_n/dc$.) The numerators of $I_1, I_2$ are evaluated through
/// $\delta$ by series near $c = -1$, where the two terms written above cancel.
pub fn k0_moment_int(n: u32, c: f64) -> Result<f64, MathError> {
    check(n <= 2, "k0_moment_int", "n", n as f64, "n in {0, 1, 2}")?;
    check(c.is_finite() && c.abs() < 1.0, "k0_moment_int", "c", c, "-1 < c < 1")?;
    let s2 = (1.0 - c) * (1.0 + c);
    let s = s2.sqrt();
    let d = (-c).acos();
    // With c = -cos(d), s = sin(d): the numerators s + c d and 3 c s + (1 + 2c^2) d are
    // sin d - d cos d and 2d + d cos 2d - (3/2) sin 2d, evaluated by series for small d.
    Ok(match n {
        0 => d / s,
        1 => sin_minus_dcos(d) / (s2 * s),
        _ => w2_numerator(d) / (s2 * s2 * s),
    })
}

#[cfg(test)]
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rel(a: f64, b: f64) -> f64 {
        ((a - b) / b).abs()
    }

    #[test]
    fn c_alpha_published() {
        // c_0 = 1/2 (P(z > 0)), c_1 = E[relu^2] = 1/2, c_2 = E[z^4 1{z>0}] = 3/2.
        assert!(rel(alpha_relu_c(0.0).unwrap(), 0.5) < 1e-15);
        assert!(rel(alpha_relu_c(1.0).unwrap(), 0.5) < 1e-15);
        assert!(rel(alpha_relu_c(2.0).unwrap(), 1.5) < 1e-15);
        // c_{1/2} = E[z 1{z>0}] = 1/sqrt(2 pi).
        assert!(rel(alpha_relu_c(0.5).unwrap(), 1.0 / (2.0 * PI).sqrt()) < 1e-15);
        assert!(matches!(alpha_relu_c(-0.5), Err(MathError::Domain { .. })));
    }

    #[test]
    fn w_matches_arccos_kernels() {
        for n in 0..=2u32 {
            for i in 0..=40 {
                let c = -0.999 + 1.998 * i as f64 / 40.0;
                let w = alpha_relu_w(n as f64, c).unwrap();
                let k = arccos_kernel(n, c).unwrap();
                assert!(rel(w, k) < 5e-14, "n {n} c {c}: {w:e} vs {k:e}");
                let p = alpha_relu_w_paper(n as f64, c).unwrap();
                assert!((p - k).abs() < 1e-15 * 4.0, "paper form abs error at n {n} c {c}");
            }
        }
        // Closed values: W_1(0) = 1/(2 pi); W_0(0) = 1/4; W_2(0) = 1/(2 pi) * pi/2 = 1/4.
        assert!(rel(arccos_kernel(1, 0.0).unwrap(), 1.0 / (2.0 * PI)) < 1e-15);
        assert!(rel(arccos_kernel(0, 0.0).unwrap(), 0.25) < 1e-15);
        assert!(rel(arccos_kernel(2, 0.0).unwrap(), 0.25) < 1e-15);
    }

    #[test]
    fn w_endpoints() {
        for a in [0.3, 0.55, 1.0, 1.5, 2.0, 3.7] {
            assert!(rel(alpha_relu_w(a, 1.0).unwrap(), alpha_relu_c(a).unwrap()) < 1e-14, "a {a}");
            assert_eq!(alpha_relu_w(a, -1.0).unwrap(), 0.0);
            assert!(alpha_relu_w_paper(a, -1.0).unwrap().abs() < 4e-16 * alpha_relu_c(a).unwrap().max(1.0));
            assert!((alpha_relu_j(a, 1.0).unwrap() - 1.0).abs() < 1e-14);
        }
        assert!(matches!(alpha_relu_w(1.0, 1.0 + 1e-15), Err(MathError::Domain { .. })));
        assert!(matches!(alpha_relu_w(-0.6, 0.5), Err(MathError::Domain { .. })));
        assert!(matches!(alpha_relu_j_prime_at_1(0.5), Err(MathError::Domain { .. })));
        assert!(matches!(alpha_relu_v_prime(0.5), Err(MathError::Domain { .. })));
        assert!(matches!(arccos_kernel(3, 0.5), Err(MathError::Domain { .. })));
    }

    #[test]
    fn mpmath_reference_values() {
        // W_alpha(c) = E[max(z,0)^a max(z',0)^a] computed independently with mpmath 1.3.0 (30 digits)
        // as the angular integral 2^a Gamma(a+1)/(2 pi) int_0^L sin^a(u) sin^a(L-u) du,
        // L = pi - arccos(c) (mp.quad, tanh-sinh).
        for &(a, c, want) in &W_REFERENCE {
            let got = alpha_relu_w(a, c).unwrap();
            assert!(rel(got, want) < 1e-13, "W_{a}({c}) = {got:e} vs {want:e}");
        }
    }

    const W_REFERENCE: [(f64, f64, f64); 6] = [
        (0.55, 0.999, 0.40154938614899500762),
        (0.55, -0.999, 0.00010915767595055555717),
        (1.5, 0.9, 0.71221105857158375074),
        (1.5, -0.5, 0.045052052368636837236),
        (0.75, 0.3, 0.22648744493124422456),
        (2.0, -0.999, 7.5924049779853681545e-9),
    ];

    #[test]
    fn relu_expansion_coefficients() {
        // J_1(1-eps) - (1-eps) vs the direct arc-cosine form at moderate eps (no cancellation there).
        for eps in [0.5, 0.1, 0.01] {
            let direct = 2.0 * arccos_kernel(1, 1.0 - eps).unwrap() - (1.0 - eps);
            assert!(rel(relu_j_one_minus(eps).unwrap(), direct) < 1e-12);
        }
        // the remainder after two terms is O(eps^{7/2})
        for eps in [1e-2, 1e-3, 1e-4] {
            let r = 1.0 - eps + relu_j_one_minus(eps).unwrap() - relu_j_expansion(eps, 2);
            assert!(r.abs() < 0.01 * eps.powf(3.5) + 1e-16, "eps {eps}: {r:e}");
        }
    }

    #[test]
    fn k0_moment_forms_agree() {
        for n in 0..=2u32 {
            for c in [-0.999, -0.5, 0.0, 0.3, 0.9, 0.999] {
                let a = k0_moment(n as f64, c).unwrap();
                let b = k0_moment_int(n, c).unwrap();
                assert!(rel(a, b) < 1e-11, "n {n} c {c}: {a} vs {b}");
            }
        }
        // int_0^inf K0 = pi/2, int y K0 = 1, int y^2 K0 = pi/2 (DLMF 10.43.19).
        assert!(rel(k0_moment_int(0, 0.0).unwrap(), PI / 2.0) < 1e-15);
        assert!(rel(k0_moment_int(1, 0.0).unwrap(), 1.0) < 1e-15);
        assert!(rel(k0_moment_int(2, 0.0).unwrap(), PI / 2.0) < 1e-15);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The paper form and the Bessel-derived positive form agree wherever the paper form has
        /// no cancellation (c >= 0), and in absolute terms everywhere.
        #[test]
        fn two_closed_forms_agree(a in -0.45f64..3.0, c in -1.0f64..1.0) {
            let p = alpha_relu_w_paper(a, c).unwrap();
            let b = alpha_relu_w_bessel_form(a, c).unwrap();
            if c >= 0.0 {
                prop_assert!(rel(p, b) < 1e-13, "{p} {b}");
            }
            prop_assert!((p - b).abs() < 1e-14 * alpha_relu_c(a).unwrap().max(1.0));
        }

        /// J_alpha is increasing in c (positive definite kernel with J' = a^2 W_{a-1}/c_a > 0).
        #[test]
        fn j_is_monotone(a in 0.2f64..2.5, c in -0.99f64..0.98) {
            let j0 = alpha_relu_j(a, c).unwrap();
            let j1 = alpha_relu_j(a, c + 0.01).unwrap();
            prop_assert!(j1 > j0);
            prop_assert!(j0 <= 1.0 + 1e-15);
        }
    }
}
