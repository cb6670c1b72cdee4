//! Special functions: $\Gamma$, $\ln\Gamma$, the Gauss hypergeometric function ${}_2F_1$ and the
//! modified Bessel function of the second kind $K_0$.

use super::{check, MathError};

/// Euler-Mascheroni constant $\gamma$ (DLMF 5.2.3).
pub const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// $\Gamma(x)$ (wraps `libm::tgamma`, about 1 ulp-level accuracy). Poles at $x = 0, -1, -2, \dots$
/// give $\pm\infty$ or NaN.
pub fn gamma(x: f64) -> f64 {
    libm::tgamma(x)
}

/// $\ln|\Gamma(x)|$ (wraps `libm::lgamma`); for $x > 0$ this is $\ln\Gamma(x)$.
pub fn ln_gamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// $1/\Gamma(x)$, an entire function: exactly $0$ at $x = 0, -1, -2, \dots$.
pub fn rgamma(x: f64) -> f64 {
    if x <= 0.0 && x == x.floor() {
        0.0
    } else {
        1.0 / libm::tgamma(x)
    }
}

fn is_nonpositive_integer(x: f64) -> bool {
    x <= 0.0 && x == x.floor()
}

/// Gauss hypergeometric function
/// $${}_2F_1(a, b; c; z) = \sum_{n \ge 0} \frac{(a)_n (b)_n}{(c)_n\, n!} z^n$$
/// for real $z \le 1$ (at $z = 1$ only if $c - a - b > 0$ or the series terminates), $c$ not a
/// non-positive integer. Meant for moderate parameters ($|a|, |b|, |c| \lesssim 20$).
///
/// Method, chosen so that no special case is needed when $c - a - b$ is an integer (the
/// "degenerate" case of the $z \to 1 - z$ connection formulas, e.g. $\alpha = 3/2$ in $W_\alpha$):
/// - $z < 0$: Pfaff's transformation (DLMF 15.8.1)
///   ${}_2F_1(a,b;c;z) = (1-z)^{-a}\, {}_2F_1(a, c-b; c; z/(z-1))$ maps to $0 < z/(z-1) < 1$.
/// - $0 \le z \le 1/2$: the power series; terms shrink at least like $2^{-n}$, so fewer than
///   ~70 terms reach double precision.
/// - $1/2 < z < 1$: analytic continuation along the real axis by Taylor steps of the
///   hypergeometric ODE $z(1-z)w'' + [c - (a+b+1)z]w' - ab\,w = 0$ (DLMF 15.10.1). Starting from
///   $w(1/2)$ and $w'(1/2) = \frac{ab}{c}\,{}_2F_1(a+1,b+1;c+1;1/2)$ (both by the series), each step
///   from $z_0$ has length at most $(1-z_0)/2$, half the radius of convergence of the Taylor
///   series at $z_0$ (the nearest singular point is $z = 1$), so its coefficients, given by a
///   three-term recurrence derived from the ODE, decay like $2^{-k}$. Reaching $1 - z = 10^{-12}$
///   takes ~40 steps of ~60 terms. The ODE is exact, so the result is accurate whatever the
///   local behaviour $(1-z)^{c-a-b}$ or $\ln(1-z)$ at $z = 1$; each step loses only a few ulps
///   (tests against mpmath: relative error below $10^{-14}$ up to $1 - z = 10^{-12}$).
/// - $z = 1$: Gauss's theorem (DLMF 15.4.20) $\Gamma(c)\Gamma(c-a-b)/(\Gamma(c-a)\Gamma(c-b))$.
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> Result<f64, MathError> {
    const F: &str = "hyp2f1";
    check(a.is_finite(), F, "a", a, "finite")?;
    check(b.is_finite(), F, "b", b, "finite")?;
    check(c.is_finite() && !is_nonpositive_integer(c), F, "c", c, "finite, not 0, -1, -2, ...")?;
    check(z.is_finite() && z <= 1.0, F, "z", z, "z <= 1")?;
    if z == 0.0 || a == 0.0 || b == 0.0 {
        return Ok(1.0);
    }
    if z < 0.0 {
        let w = z / (z - 1.0);
        return Ok((1.0 - z).powf(-a) * hyp2f1(a, c - b, c, w)?);
    }
    let terminating = is_nonpositive_integer(a) || is_nonpositive_integer(b);
    if terminating {
        let deg = match (is_nonpositive_integer(a), is_nonpositive_integer(b)) {
            (true, true) => (-a).min(-b),
            (true, false) => -a,
            _ => -b,
        };
        return Ok(polynomial(a, b, c, z, deg as usize));
    }
    if z == 1.0 {
        let s = c - a - b;
        check(s > 0.0, F, "c - a - b (at z = 1)", s, "> 0 for convergence at z = 1")?;
        return Ok(gauss_at_one(a, b, c));
    }
    if z <= 0.5 {
        return Ok(series(a, b, c, z)?.0);
    }
    let z0 = 0.5;
    let (w0, dw0) = series(a, b, c, z0)?;
    continue_ode(a, b, c, z0, w0, dw0, z)
}

/// $\Gamma(c)\Gamma(c-a-b) / (\Gamma(c-a)\Gamma(c-b))$ (DLMF 15.4.20), via $1/\Gamma$ so that
/// poles of the denominator give $0$.
fn gauss_at_one(a: f64, b: f64, c: f64) -> f64 {
    let s = c - a - b;
    // ln-form for the positive large parts keeps moderate overflow away.
    gamma(c) * gamma(s) * rgamma(c - a) * rgamma(c - b)
}

/// Finite sum of a terminating series of degree `deg`.
fn polynomial(a: f64, b: f64, c: f64, z: f64, deg: usize) -> f64 {
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 0..deg {
        let nf = n as f64;
        term *= (a + nf) * (b + nf) / ((c + nf) * (nf + 1.0)) * z;
        sum += term;
    }
    sum
}

/// Power series and its derivative at `z` (`|z| <= 1/2`): returns $(w, w')$.
fn series(a: f64, b: f64, c: f64, z: f64) -> Result<(f64, f64), MathError> {
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut comp = 0.0; // Kahan compensation
    let mut dsum = 0.0; // sum of n t_n z^{n-1}, computed as (n+1) t_{n+1} / z ... see below
    let mut quiet = 0;
    for n in 0..20_000usize {
        let nf = n as f64;
        let ratio = (a + nf) * (b + nf) / ((c + nf) * (nf + 1.0));
        // derivative term: d/dz t_{n+1} z^{n+1} = (n+1) t_{n+1} z^n = (n+1) * term * ratio.
        let dterm = (nf + 1.0) * term * ratio;
        term *= ratio * z;
        dsum += dterm;
        let y = term - comp;
        let t = sum + y;
        comp = (t - sum) - y;
        sum = t;
        if term.abs() <= f64::EPSILON * 0.05 * sum.abs() && (ratio * z).abs() < 1.0 {
            quiet += 1;
            if quiet >= 3 {
                return Ok((sum, dsum));
            }
        } else {
            quiet = 0;
        }
        if !sum.is_finite() {
            break;
        }
    }
    Err(MathError::NoConvergence {
        func: "hyp2f1",
        detail: format!("power series at z = {z} for a = {a}, b = {b}, c = {c}"),
    })
}

/// Integrates the hypergeometric ODE from `z0` (with values `w0`, `dw0`) to `z` in Taylor steps.
fn continue_ode(a: f64, b: f64, c: f64, mut z0: f64, mut w: f64, mut dw: f64, z: f64) -> Result<f64, MathError> {
    let abp1 = a + b + 1.0;
    for _step in 0..2000 {
        let remaining = z - z0;
        if remaining <= 0.0 {
            return Ok(w);
        }
        let hmax = 0.5 * (1.0 - z0);
        let last = remaining <= hmax;
        let h = if last { remaining } else { hmax };
        let p = z0 * (1.0 - z0);
        let q0 = c - abp1 * z0;
        let r = 1.0 - 2.0 * z0;
        // u_k = w_k h^k
        let mut u_km1 = w; // u_k for k = 0
        let mut u_k = dw * h; // u_1
        let mut sum = u_km1 + u_k;
        let mut dsum = u_k; // sum of k u_k
        let mut converged = false;
        let mut quiet = 0;
        for k in 0..1000usize {
            let kf = k as f64;
            // u_{k+2} from u_{k+1} (= u_k here) and u_k (= u_km1 here)
            let next = (-(r * kf + q0) * (kf + 1.0) * h * u_k + (kf + a) * (kf + b) * h * h * u_km1)
                / (p * (kf + 2.0) * (kf + 1.0));
            sum += next;
            dsum += (kf + 2.0) * next;
            u_km1 = u_k;
            u_k = next;
            if next.abs() <= f64::EPSILON * 0.01 * sum.abs().max(f64::MIN_POSITIVE) {
                quiet += 1;
                if quiet >= 4 {
                    converged = true;
                    break;
                }
            } else {
                quiet = 0;
            }
        }
        if !converged || !sum.is_finite() {
            return Err(MathError::NoConvergence {
                func: "hyp2f1",
                detail: format!("ODE continuation at z = {z0} for a = {a}, b = {b}, c = {c}"),
            });
        }
        w = sum;
        dw = dsum / h;
        if last {
            return Ok(w);
        }
        z0 += h;
    }
    Err(MathError::NoConvergence { func: "hyp2f1", detail: format!("too many ODE steps toward z = {z}") })
}

/// Modified Bessel function of the second kind of order zero,
/// $K_0(x) = \int_0^\infty e^{-x\cosh t}\,dt$ (DLMF 10.32.9), for $x > 0$.
/// Returns $+\infty$ at $x = 0$ and NaN for $x < 0$ or NaN. See [`bessel_k0_scaled`] for the method.
pub fn bessel_k0(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::INFINITY;
    }
    if x <= 1.0 {
        k0_series(x)
    } else if x > 745.0 {
        0.0
    } else {
        k0e_trapezoid(x) * (-x).exp()
    }
}

/// $e^x K_0(x)$ for $x > 0$ (finite for large $x$, where $K_0$ underflows).
///
/// Method: for $x \le 1$ the ascending series (DLMF 10.31.2)
/// $K_0(x) = -(\ln(x/2) + \gamma) I_0(x) + \sum_{k \ge 1} \frac{(x^2/4)^k}{(k!)^2} H_k$ with
/// $H_k = 1 + 1/2 + \dots + 1/k$, which has no cancellation there; for $x > 1$ the trapezoidal rule
/// applied to $e^x K_0(x) = \int_0^\infty e^{-x(\cosh t - 1)} dt = \int_0^\infty e^{-2x \sinh^2(t/2)} dt$.
/// The integrand is analytic in the strip $|\Im t| < \pi/2$ and decays doubly exponentially, so
/// the trapezoidal error is $O(e^{-\pi^2/h})$; for large $x$ the integrand is a Gaussian of width
/// $x^{-1/2}$, whose trapezoidal error is $O(e^{-2\pi^2/(h^2 x)})$. The step
/// $h = \min(0.2, 0.6/\sqrt{x})$ makes both below $10^{-20}$.
pub fn bessel_k0_scaled(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::INFINITY;
    }
    if x <= 1.0 {
        k0_series(x) * x.exp()
    } else {
        k0e_trapezoid(x)
    }
}

fn k0_series(x: f64) -> f64 {
    let y = 0.25 * x * x;
    let mut term = 1.0; // (y^k / (k!)^2)
    let mut i0 = 1.0;
    let mut s = 0.0;
    let mut h = 0.0;
    for k in 1..60 {
        let kf = k as f64;
        term *= y / (kf * kf);
        h += 1.0 / kf;
        i0 += term;
        s += term * h;
        if term < 1e-18 * i0 {
            break;
        }
    }
    -((0.5 * x).ln() + EULER_GAMMA) * i0 + s
}

fn k0e_trapezoid(x: f64) -> f64 {
    let h = (0.6 / x.sqrt()).min(0.2);
    let mut sum = 0.5;
    let mut k = 1;
    loop {
        let t = k as f64 * h;
        let sh = (0.5 * t).sinh();
        let term = (-2.0 * x * sh * sh).exp();
        sum += term;
        if term < 1e-18 * sum {
            break;
        }
        k += 1;
    }
    h * sum
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
    fn gamma_published_values() {
        // DLMF 5.4.6: Gamma(1/2) = sqrt(pi); Gamma(3/2) = sqrt(pi)/2; Gamma(5/2) = 3 sqrt(pi)/4.
        let sp = std::f64::consts::PI.sqrt();
        assert!(rel(gamma(0.5), sp) < 1e-15);
        assert!(rel(gamma(1.5), 0.5 * sp) < 1e-15);
        assert!(rel(gamma(2.5), 0.75 * sp) < 1e-15);
        assert!(rel(gamma(6.0), 120.0) < 1e-15);
        // A&S table 6.1: Gamma(1.25) = 0.9064024771, Gamma(1.75) = 0.9190625268.
        assert!((gamma(1.25) - 0.906_402_477_1).abs() < 1e-10);
        assert!((gamma(1.75) - 0.919_062_526_8).abs() < 1e-10);
        // mpmath 1.3.0 (40 digits): Gamma(10.1), lnGamma(0.001), lnGamma(170.5).
        assert!(rel(gamma(10.1), 454_760.751_441_585_95) < 1e-14);
        assert!(rel(ln_gamma(0.001), 6.907_178_885_383_853_7) < 1e-14);
        assert!(rel(ln_gamma(170.5), 704.004_427_734_204_67) < 1e-15);
        assert!(rel(ln_gamma(1.5), -0.120_782_237_635_245_22) < 1e-14);
        assert_eq!(rgamma(-2.0), 0.0);
        assert_eq!(rgamma(0.0), 0.0);
    }

    #[test]
    fn k0_published_values() {
        // A&S table 9.8 (and mpmath 1.3.0, 40 digits, for the trailing digits):
        // K0(0.1) = 2.4270690247, K0(0.5) = 0.9244190712, K0(1) = 0.4210244382,
        // K0(2) = 0.1138938727, e^10 K0(10) = 0.3916319344.
        let cases = [
            (0.1, 2.427_069_024_702_016_6),
            (0.5, 0.924_419_071_227_665_86),
            (1.0, 0.421_024_438_240_708_33),
            (2.0, 0.113_893_872_749_533_44),
            (2.5, 0.062_347_553_200_366_186),
            (5.0, 0.003_691_098_334_042_594_3),
            (10.0, 1.778_006_231_616_765_2e-5),
            (50.0, 3.410_167_749_789_495_5e-23),
            (1e-10, 23.141_782_445_598_869),
        ];
        for (x, k) in cases {
            assert!(rel(bessel_k0(x), k) < 3e-15, "K0({x}) = {} vs {k}", bessel_k0(x));
        }
        let scaled =
            [(10.0, 0.391_631_934_436_598_67), (700.0, 0.047_362_369_454_613_572), (2.0, 0.841_568_215_070_771_42)];
        for (x, k) in scaled {
            assert!(rel(bessel_k0_scaled(x), k) < 3e-15, "e^x K0({x}) = {} vs {k}", bessel_k0_scaled(x));
        }
        assert!(bessel_k0(-1.0).is_nan());
        assert_eq!(bessel_k0(0.0), f64::INFINITY);
    }

    #[test]
    fn k0_continuous_across_method_switch() {
        let below = bessel_k0(1.0);
        let above = bessel_k0(1.0 + 1e-12);
        assert!(rel(below, above) < 1e-11);
    }

    #[test]
    fn hyp2f1_closed_forms() {
        // DLMF 15.4.1: 2F1(1,1;2;z) = -ln(1-z)/z  (c - a - b = 0: logarithmic case).
        for z in [0.1f64, 0.5, 0.7, 0.9, 0.998, 0.999_999, 1.0 - 1e-12] {
            let exact = -(-z).ln_1p() / z;
            assert!(rel(hyp2f1(1.0, 1.0, 2.0, z).unwrap(), exact) < 1e-14, "z = {z}");
        }
        // DLMF 15.4.6: 2F1(a,b;b;z) = (1-z)^-a.
        for (a, z) in [(0.3f64, 0.4f64), (-1.7, 0.95), (2.5, 0.998)] {
            let exact = (1.0 - z).powf(-a);
            assert!(rel(hyp2f1(a, 1.3, 1.3, z).unwrap(), exact) < 1e-13, "a = {a}, z = {z}");
        }
        // DLMF 15.4.4: 2F1(1/2,1/2;3/2;z^2) = arcsin(z)/z  (c - a - b = 1/2).
        for x in [0.2f64, 0.7, 0.9, 0.99, 0.999, 0.999_999] {
            let exact = x.asin() / x;
            assert!(rel(hyp2f1(0.5, 0.5, 1.5, x * x).unwrap(), exact) < 1e-14, "x = {x}");
        }
        // 2F1(1,1;3;z) = 2[z + (1-z) ln(1-z)]/z^2 (c - a - b = 1, integer: degenerate case); from
        // the series sum_n 2 z^n / ((n+1)(n+2)).
        for z in [0.3f64, 0.8, 0.99, 0.9999] {
            let exact = 2.0 * (z + (1.0 - z) * (-z).ln_1p()) / (z * z);
            assert!(rel(hyp2f1(1.0, 1.0, 3.0, z).unwrap(), exact) < 1e-13, "z = {z}");
        }
        // DLMF 15.4.20 (Gauss) at z = 1: 2F1(1/2,1/2;5/2;1) = Gamma(5/2)Gamma(3/2)/Gamma(2)^2 = 3 pi / 8.
        let exact = 3.0 * std::f64::consts::PI / 8.0;
        assert!(rel(hyp2f1(0.5, 0.5, 2.5, 1.0).unwrap(), exact) < 1e-14);
        // and the approach to it: continuity at z -> 1
        assert!(rel(hyp2f1(0.5, 0.5, 2.5, 1.0 - 1e-14).unwrap(), exact) < 1e-9);
        // Terminating: 2F1(-2, b; c; z) = 1 - 2bz/c + b(b+1)z^2/(c(c+1)).
        let (b, c, z) = (0.7, 1.9, 0.8);
        let exact = 1.0 - 2.0 * b * z / c + b * (b + 1.0) * z * z / (c * (c + 1.0));
        assert!(rel(hyp2f1(-2.0, b, c, z).unwrap(), exact) < 1e-15);
        // DLMF 15.4.3: 2F1(1, 1; 2; -z) = ln(1+z)/z (negative argument through Pfaff).
        for z in [0.5f64, 3.0, 40.0] {
            let exact = z.ln_1p() / z;
            assert!(rel(hyp2f1(1.0, 1.0, 2.0, -z).unwrap(), exact) < 1e-14, "z = -{z}");
        }
    }

    #[test]
    fn hyp2f1_mpmath_reference() {
        // mpmath 1.3.0 hyp2f1 at 40 digits, arguments the exact doubles used here. The first sets
        // are the W_alpha parameters: (-a/2, -a/2; 1/2) and ((1-a)/2, (1-a)/2; 3/2) at z = c^2
        // with c = 0.999, and a = 1.5 (c - a - b = 2, degenerate), and the Bessel form
        // (1/2, 1/2; a + 3/2) near z = 1.
        let cases: &[(f64, f64, f64, f64, f64)] = &REFERENCE;
        for &(a, b, c, z, want) in cases {
            let got = hyp2f1(a, b, c, z).unwrap();
            assert!(rel(got, want) < 2e-14, "2F1({a},{b};{c};{z}) = {got:e} vs {want:e}: rel {:e}", rel(got, want));
        }
    }

    // Generated with: from mpmath import mp, hyp2f1, mpf; mp.dps = 40; hyp2f1(mpf(a), mpf(b), mpf(c), mpf(z))
    // for the doubles below (printed with 20 significant digits).
    const REFERENCE: [(f64, f64, f64, f64, f64); 12] = [
        (-0.75, -0.75, 0.5, 0.998001, 2.1549855958081261371),
        (-0.275, -0.275, 0.5, 0.998001, 1.2100511476549835149),
        (0.225, 0.225, 1.5, 0.998001, 1.0607515374778566206),
        (-0.25, -0.25, 1.5, 0.998001, 1.0490610081610501767),
        (-0.75, -0.75, 0.5, 0.999999, 2.1574091912107190036),
        (-0.25, -0.25, 1.5, 0.999999999999, 1.049191643569797739),
        (0.5, 0.5, 2.5, 0.9995, 1.1778135785047228417),
        (0.5, 0.5, 2.05, 0.7, 1.1220257988642946974),
        (1.0, 1.0, 2.0, 0.9999999, 16.118097263294401117),
        (1.3, -0.7, 0.4, 0.95, -3.2987057060043932357),
        (2.5, 1.5, 3.2, 0.9, 11.432540171549511209),
        (-1.0, -1.0, 0.5, 0.36, 1.7199999999999999734),
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Gamma recurrence Gamma(x+1) = x Gamma(x) (DLMF 5.5.1).
        #[test]
        fn gamma_recurrence(x in 0.05f64..30.0) {
            prop_assert!(rel(gamma(x + 1.0), x * gamma(x)) < 1e-13);
            prop_assert!((ln_gamma(x + 1.0) - x.ln() - ln_gamma(x)).abs() < 1e-12 * (1.0 + ln_gamma(x + 1.0).abs()));
        }

        /// Symmetry 2F1(a,b;c;z) = 2F1(b,a;c;z) and Euler's transformation
        /// 2F1(a,b;c;z) = (1-z)^(c-a-b) 2F1(c-a,c-b;c;z) (DLMF 15.8.1), which relates the
        /// values computed by quite different paths (e.g. a convergent and a divergent
        /// behaviour at z = 1).
        #[test]
        fn hyp2f1_euler_transformation(a in -2.3f64..2.3, b in -2.3f64..2.3, c in 0.3f64..3.0, z in 0.0f64..0.9999) {
            let f = hyp2f1(a, b, c, z).unwrap();
            let g = hyp2f1(b, a, c, z).unwrap();
            let e = (1.0 - z).powf(c - a - b) * hyp2f1(c - a, c - b, c, z).unwrap();
            let scale = f.abs().max(1e-3);
            prop_assert!((f - g).abs() < 1e-13 * scale, "symmetry {f} {g}");
            prop_assert!((f - e).abs() < 1e-11 * scale, "euler {f} {e}");
        }

        /// Gauss contiguous relation (DLMF 15.5.11):
        /// (c-a) F(a-1) + (2a-c+(b-a)z) F(a) + a(z-1) F(a+1) = 0.
        #[test]
        fn hyp2f1_contiguous(a in 0.1f64..2.0, b in -1.5f64..1.5, c in 0.6f64..3.0, z in 0.0f64..0.999) {
            let fm = hyp2f1(a - 1.0, b, c, z).unwrap();
            let f0 = hyp2f1(a, b, c, z).unwrap();
            let fp = hyp2f1(a + 1.0, b, c, z).unwrap();
            let lhs = (c - a) * fm + (2.0 * a - c + (b - a) * z) * f0 + a * (z - 1.0) * fp;
            let scale = ((c - a) * fm).abs() + ((2.0 * a - c + (b - a) * z) * f0).abs() + (a * (z - 1.0) * fp).abs();
            prop_assert!(lhs.abs() < 1e-12 * scale, "lhs {lhs} scale {scale}");
        }

        /// K0 recurrence check through the Wronskian-free relation K0'' + K0'/x - K0 = 0 (DLMF
        /// 10.25.1 with nu = 0), by central differences.
        #[test]
        fn k0_satisfies_bessel_equation(x in 0.3f64..30.0) {
            let h = 1e-3 * x.min(1.0);
            let f = |t: f64| bessel_k0_scaled(t) * (x - t).exp();
            let (fm, f0, fp) = (f(x - h), f(x), f(x + h));
            let d2 = (fp - 2.0 * f0 + fm) / (h * h);
            let d1 = (fp - fm) / (2.0 * h);
            let res = d2 + d1 / x - f0;
            prop_assert!(res.abs() < 1e-5 * f0, "residual {res} at x {x}");
        }
    }

    #[test]
    fn domain_errors() {
        assert!(matches!(hyp2f1(0.5, 0.5, -1.0, 0.3), Err(MathError::Domain { .. })));
        assert!(matches!(hyp2f1(0.5, 0.5, 1.5, 1.1), Err(MathError::Domain { .. })));
        assert!(matches!(hyp2f1(1.0, 1.0, 2.0, 1.0), Err(MathError::Domain { .. })));
        assert!(matches!(hyp2f1(f64::NAN, 1.0, 2.0, 0.5), Err(MathError::Domain { .. })));
    }
}
