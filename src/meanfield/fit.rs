//! Measuring exponents: local log-log slopes, and the continuum limit of a residual recurrence in
//! log-depth, which carries the recurrence to depths ($10^{40}$) no discrete iteration reaches.
//!
//! Continuum limit. For a residual block ($\kappa = 1$) the per-layer changes are $O(1/l)$, so with
//! $t = \ln l$ the recurrence is, up to $O(1/l)$ corrections, the ODE
//! $$\frac{d\ln p}{dt} = l\,\ln\Big(1 + \frac{\sigma V\phi(q) + \tau}{p}\Big),\qquad
//!   \frac{de}{dt} = l\,\frac{\sigma V\phi(q)(J - e) + \tau(1 - e)}{p + \sigma V\phi(q) + \tau},$$
//! with $q = \alpha_q p + \beta_q$, $c = (\alpha_q p e + \beta_q)/q$, integrated here by classical
//! Runge-Kutta in $t$ (all in log space). It is started from the discrete state at some depth
//! $l_0$ and compared with the discrete recurrence on the overlap before it is trusted.

use super::expectations::{Corr, Kernel};
use super::recurrence::Blocks;
use super::MeanFieldError;

/// $\Delta\ln y/\Delta\ln x$ between two points.
pub fn local_slope((x1, y1): (f64, f64), (x2, y2): (f64, f64)) -> f64 {
    (y2.ln() - y1.ln()) / (x2.ln() - x1.ln())
}

/// Local slopes between consecutive points, at the geometric mean of their abscissae. Pairs with
/// a non-positive coordinate are skipped.
pub fn local_slopes(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    points
        .windows(2)
        .filter(|w| w[0].0 > 0.0 && w[0].1 > 0.0 && w[1].0 > w[0].0 && w[1].1 > 0.0)
        .map(|w| ((w[0].0 * w[1].0).sqrt(), local_slope(w[0], w[1])))
        .collect()
}

/// Least-squares slope of `y` on `x`.
pub fn ls_slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    sxy / sxx
}

/// A state of the continuum limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ContinuumPoint {
    /// Depth $l = e^t$.
    pub l: f64,
    pub ln_p: f64,
    pub e: f64,
}

fn lse2(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + ((a - m).exp() + (b - m).exp()).ln()
}

/// Right-hand side $(d\ln p/dt, de/dt)$ of the continuum limit.
fn rhs(kernel: &dyn Kernel, b: &Blocks, t: f64, u: f64, e: f64) -> Result<(f64, f64), MeanFieldError> {
    let l = t.exp();
    let ln_q = lse2(b.aq.ln() + u, if b.bq > 0.0 { b.bq.ln() } else { f64::NEG_INFINITY });
    let a = (b.aq.ln() + u - ln_q).exp();
    let c = a * e + super::recurrence::scaled_exp(b.bq, -ln_q);
    let corr = Corr { c: c.clamp(-1.0, 1.0), one_minus_c: (a * (1.0 - e)).clamp(0.0, 2.0) };
    let kv = kernel.at(ln_q, corr)?;
    let sv = b.sigma * (kv.ln_v - u).exp(); // sigma V / p
    let tp = super::recurrence::scaled_exp(b.tau, -u); // tau / p
    let du = l * (sv + tp).ln_1p();
    let de = l * (sv * (kv.j - e) + tp * (1.0 - e)) / (1.0 + sv + tp);
    Ok((du, de))
}

/// Integrates the continuum limit of a residual recurrence (`b.kappa` must be 1) from depth `l0`
/// with state $(\ln p, e)$ to `l_end`, with `steps_per_unit` Runge-Kutta steps per unit of $\ln l$,
/// and returns the states at the depths in `record` (sorted, within $[l_0, l_{end}]$).
pub fn continuum(
    kernel: &dyn Kernel,
    b: &Blocks,
    l0: f64,
    ln_p0: f64,
    e0: f64,
    record: &[f64],
    steps_per_unit: usize,
) -> Result<Vec<ContinuumPoint>, MeanFieldError> {
    if b.kappa != 1.0 {
        return Err(MeanFieldError::BadParameter {
            name: "kappa",
            value: b.kappa,
            valid: "1 (the continuum limit exists for residual blocks only)",
        });
    }
    let mut out = Vec::with_capacity(record.len());
    let (mut t, mut u, mut e) = (l0.ln(), ln_p0, e0);
    let h0 = 1.0 / steps_per_unit.max(1) as f64;
    for &target in record {
        let tt = target.ln();
        while t < tt - 1e-12 {
            let h = h0.min(tt - t);
            let (k1u, k1e) = rhs(kernel, b, t, u, e)?;
            let (k2u, k2e) = rhs(kernel, b, t + h / 2.0, u + h / 2.0 * k1u, e + h / 2.0 * k1e)?;
            let (k3u, k3e) = rhs(kernel, b, t + h / 2.0, u + h / 2.0 * k2u, e + h / 2.0 * k2e)?;
            let (k4u, k4e) = rhs(kernel, b, t + h, u + h * k3u, e + h * k3e)?;
            u += h / 6.0 * (k1u + 2.0 * k2u + 2.0 * k3u + k4u);
            e += h / 6.0 * (k1e + 2.0 * k2e + 2.0 * k3e + k4e);
            t += h;
        }
        if target >= l0 {
            out.push(ContinuumPoint { l: target, ln_p: u, e });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;
    use crate::architecture::Architecture;
    use crate::meanfield::expectations::kernel_for;
    use crate::meanfield::recurrence::{trajectory, Sampling, Spec, Variances};

    #[test]
    fn slopes_of_power_laws_are_exact() {
        let pts: Vec<(f64, f64)> = [1.0, 10.0, 100.0].iter().map(|&x: &f64| (x, 3.0 * x.powf(-0.7))).collect();
        for (_, s) in local_slopes(&pts) {
            assert!((s + 0.7).abs() < 1e-14);
        }
        assert!((ls_slope(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]) - 2.0).abs() < 1e-14);
    }

    /// The continuum limit started from the discrete 0.75-ReLU FRN at l = 1000 tracks the discrete
    /// recurrence to l = 10^5: |e - e*| within 1%, ln p within 1e-3 (the neglected terms are O(1/l)).
    #[test]
    fn continuum_matches_discrete_alpha_relu() {
        let s = Spec {
            arch: Architecture::Full,
            act: Activation::AlphaRelu { alpha: 0.75 },
            var: Variances::weights(1.0, 1.0),
            p0: 1.0,
            e0: 0.5,
        };
        let t = trajectory(&s, 100_000, &Sampling::Layers(vec![1000, 10_000])).unwrap();
        let e_star = crate::meanfield::laws::alpha_e_star(0.75).unwrap();
        let l0 = t.layers[0];
        let k = kernel_for(&s.act).unwrap();
        let b = Blocks { aq: 1.0, bq: 0.0, kappa: 1.0, sigma: 1.0, tau: 0.0 };
        let c = continuum(k.as_ref(), &b, 1000.0, l0.ln_p, l0.e, &[10_000.0, 100_000.0], 50).unwrap();
        for (cp, d) in c.iter().zip(&t.layers[1..]) {
            let (x, y) = (cp.e - e_star, d.e - e_star);
            assert!((x / y - 1.0).abs() < 1e-2, "l = {}: {x} vs {y}", cp.l);
            assert!((cp.ln_p - d.ln_p).abs() < 1e-3 * d.ln_p, "{} vs {}", cp.ln_p, d.ln_p);
        }
    }
}
