//! The numerical methods the identities are checked with: adaptive quadratures (exp-sinh,
//! tanh-sinh, Gauss-Kronrod with breakpoints), seeded Monte Carlo, finite differences and
//! least-squares exponents. Each is independent of the closed forms it checks.

use crate::math::kernels::alpha_relu_w;
use crate::math::quadrature::{exp_sinh, gaussian_expectation, tanh_sinh, Tol};
use crate::math::special::bessel_k0_scaled;
use crate::math::MathError;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use std::f64::consts::PI;

/// The correlation grid: `n` equally spaced values in [-0.9, 0.9] plus +-0.99, +-0.999.
pub fn c_grid(n: usize) -> Vec<f64> {
    let mut v = vec![-0.999, -0.99];
    match n {
        0 => {}
        1 => v.push(0.0),
        _ => {
            for i in 0..n {
                let c = -0.9 + 1.8 * i as f64 / (n - 1) as f64;
                // round to 12 digits so that printed parameters are clean
                v.push((c * 1e12).round() / 1e12);
            }
        }
    }
    v.extend([0.99, 0.999]);
    v
}

/// Relative tolerance of the exp-sinh and tanh-sinh quadratures.
const TQ: Tol = Tol { abs: 0.0, rel: 1e-14 };

/// $c_\alpha$ by quadrature: $\int_0^\infty z^{2\alpha}\varphi(z)\,dz$ (exp-sinh).
pub fn c_alpha_quadrature(a: f64) -> Result<f64, MathError> {
    let inv = 1.0 / (2.0 * PI).sqrt();
    Ok(exp_sinh(|_, d| if d == 0.0 { 0.0 } else { d.powf(2.0 * a) * (-0.5 * d * d).exp() * inv }, 0.0, 1.0, TQ)?.value)
}

/// $W_\alpha(c)$ by 2-D quadrature in polar coordinates: with $z = r\cos t$,
/// $z' = r\cos(t - \theta)$ ($\theta = \arccos c$) the expectation is
/// $\frac{1}{2\pi}\int_0^\infty r^{2\alpha+1}e^{-r^2/2}dr \int_0^{\pi-\theta}\sin^\alpha u\,\sin^\alpha(\pi-\theta-u)\,du$;
/// the radial factor by exp-sinh, the angular one by tanh-sinh (endpoint singularities $u^\alpha$).
pub fn w_polar_quadrature(a: f64, c: f64) -> Result<f64, MathError> {
    let radial =
        exp_sinh(|_, r| if r == 0.0 { 0.0 } else { r.powf(2.0 * a + 1.0) * (-0.5 * r * r).exp() }, 0.0, 1.0, TQ)?.value;
    let l = (-c).acos();
    let ang = tanh_sinh(|_, du, dv| (du.sin() * dv.sin()).powf(a), 0.0, l, TQ)?.value;
    Ok(radial * ang / (2.0 * PI))
}

/// $\int_0^\infty y^\alpha e^{cy} K_0(y)\,dy$ by exp-sinh quadrature (log singularity at 0,
/// decay $e^{-(1-c)y}$; uses $e^y K_0(y)$ so nothing overflows).
pub fn k0_integral_quadrature(a: f64, c: f64) -> Result<f64, MathError> {
    let m = 1.0 - c;
    Ok(exp_sinh(|_, y| if y == 0.0 { 0.0 } else { y.powf(a) * (-m * y).exp() * bessel_k0_scaled(y) }, 0.0, 1.0, TQ)?
        .value)
}

/// $a^2\int_{-1}^{c} W_{\alpha-1}(t)\,dt$ (tanh-sinh), which equals $W_\alpha(c)$ by I4 and $W_\alpha(-1)=0$.
pub fn w_by_integrated_derivative(a: f64, c: f64) -> Result<f64, MathError> {
    let q = tanh_sinh(
        |_, d, _| {
            let t = (-1.0 + d).min(1.0);
            alpha_relu_w(a - 1.0, t).unwrap_or(f64::NAN)
        },
        -1.0,
        c,
        TQ,
    )?;
    Ok(a * a * q.value)
}

/// 8th-order central difference of `f` at `x` with step `h`.
pub fn central_diff8<F: Fn(f64) -> Result<f64, MathError>>(f: F, x: f64, h: f64) -> Result<f64, MathError> {
    const C: [f64; 4] = [4.0 / 5.0, -1.0 / 5.0, 4.0 / 105.0, -1.0 / 280.0];
    let mut s = 0.0;
    for (k, ck) in C.iter().enumerate() {
        let d = (k + 1) as f64 * h;
        s += ck * (f(x + d)? - f(x - d)?);
    }
    Ok(s / h)
}

/// Monte Carlo estimates of $W_\alpha(c) = \mathbb E[\phi_\alpha(z)\phi_\alpha(z')]$ for every alpha and
/// c with the same `n` samples $z, w$ (seeded ChaCha8), $z' = cz + \sqrt{1-c^2}\,w$: returns
/// `[c][alpha] -> (mean, standard error)` with the standard error $\sqrt{s^2/n}$ of the unbiased
/// sample variance $s^2$.
pub fn w_monte_carlo(alphas: &[f64], cs: &[f64], n: usize, seed: u64) -> Vec<Vec<(f64, f64)>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut z = Vec::with_capacity(n);
    let mut w = Vec::with_capacity(n);
    for _ in 0..n {
        z.push(StandardNormal.sample(&mut rng));
        w.push(StandardNormal.sample(&mut rng));
    }
    let z: Vec<f64> = z;
    let w: Vec<f64> = w;
    cs.par_iter()
        .map(|&c| {
            let s = ((1.0 - c) * (1.0 + c)).sqrt();
            let mut sum = vec![0.0f64; alphas.len()];
            let mut sum2 = vec![0.0f64; alphas.len()];
            for i in 0..n {
                let u = z[i];
                let v = c * z[i] + s * w[i];
                if u > 0.0 && v > 0.0 {
                    let l = (u * v).ln();
                    for (k, a) in alphas.iter().enumerate() {
                        let x = (a * l).exp();
                        sum[k] += x;
                        sum2[k] += x * x;
                    }
                }
            }
            let nf = n as f64;
            (0..alphas.len())
                .map(|k| {
                    let mean = sum[k] / nf;
                    let var = ((sum2[k] / nf - mean * mean) * nf / (nf - 1.0)).max(0.0);
                    (mean, (var / nf).sqrt())
                })
                .collect()
        })
        .collect()
}

/// tanh Gaussian integrals at variance q (adaptive quadrature with breakpoints at the scale
/// $1/\sqrt q$): returns $(1 - V\tanh(q), V\tanh'(q))$, where $1 - V\tanh = E[\operatorname{sech}^2]$
/// is computed directly (no cancellation).
pub fn tanh_v_vp(q: f64) -> Result<(f64, f64), MathError> {
    let s = q.sqrt();
    let tol = Tol::new(0.0, 1e-12);
    let sech2 = |z: f64| {
        let ch = (s * z).cosh();
        1.0 / (ch * ch)
    };
    let d = gaussian_expectation(sech2, &[0.0], 1.0 / s, tol)?.value;
    let vp = gaussian_expectation(|z| sech2(z) * sech2(z), &[0.0], 1.0 / s, tol)?.value;
    Ok((d, vp))
}

/// $(1 - V\tanh(q), V\tanh'(q))$ by exp-sinh quadrature of the even integrands on $[0, \infty)$
/// with scale $1/\sqrt q$: an independent check of [`tanh_v_vp`].
pub fn tanh_v_vp_exp_sinh(q: f64) -> Result<(f64, f64), MathError> {
    let s = q.sqrt();
    let k = 2.0 / (2.0 * PI).sqrt();
    let sech2 = move |z: f64| {
        let ch = (s * z).cosh();
        1.0 / (ch * ch)
    };
    let d = exp_sinh(|z, _| k * sech2(z) * (-0.5 * z * z).exp(), 0.0, 1.0 / s, TQ)?.value;
    let vp = exp_sinh(|z, _| k * sech2(z) * sech2(z) * (-0.5 * z * z).exp(), 0.0, 1.0 / s, TQ)?.value;
    Ok((d, vp))
}

/// $W\tanh(q, cq) = E[\tanh(\sqrt q z)\tanh(\sqrt q z')]$, corr$(z, z') = c$, by nested adaptive
/// quadrature: outer over $z$ (breakpoints at scale $1/\sqrt q$ around 0), inner over
/// $z' = cz + \sqrt{1-c^2}\,w$ (breakpoints around $w = -cz/\sqrt{1-c^2}$).
pub fn tanh_w(q: f64, c: f64) -> Result<f64, MathError> {
    let sq = q.sqrt();
    let s = ((1.0 - c) * (1.0 + c)).sqrt();
    let inner = |z: f64| -> f64 {
        let center = -c * z / s;
        gaussian_expectation(|w| (sq * (c * z + s * w)).tanh(), &[center], 1.0 / (s * sq), Tol::new(1e-15, 1e-12))
            .map(|r| r.value)
            .unwrap_or(f64::NAN)
    };
    Ok(gaussian_expectation(|z| (sq * z).tanh() * inner(z), &[0.0], 1.0 / sq, Tol::new(1e-14, 1e-11))?.value)
}

/// Least-squares slope of $\ln|y|$ against $\ln x$ (points with $x \le 0$ or $y = 0$ are skipped).
pub fn loglog_slope(x: &[f64], y: &[f64]) -> f64 {
    let pts: Vec<(f64, f64)> =
        x.iter().zip(y).filter(|(a, b)| **a > 0.0 && b.abs() > 0.0).map(|(a, b)| (a.ln(), b.abs().ln())).collect();
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    sxy / sxx
}
