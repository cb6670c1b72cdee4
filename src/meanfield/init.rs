//! Depth-dependent initialization (SCIENCE.md claim 4): for a given depth $L$, the largest
//! residual-branch variance whose predicted log gradient explosion $\ln(\chi^0/\chi^L)$ stays below a
//! bound $G$ (or, for ReLU-type nets, whose $\ln p^L$ stays below a bound: float32 overflows at
//! $p \approx 3.4\times10^{38}$, $\ln p \approx 88.7$), found by bisection on the monotone map from
//! the variance to the predicted quantity, beside what Xavier (variance 1) and He (variance 2)
//! give at that depth.
//!
//! The searched variance is $\sigma_v^2$ (at fixed $\sigma_w^2$) for FRNs and $\sigma_w^2$ for RRNs and
//! vanilla nets (their only weight variance).

use super::recurrence::{trajectory, Sampling, Spec};
use super::MeanFieldError;
use crate::activation::Activation;
use crate::architecture::Architecture;
use serde::{Deserialize, Serialize};

/// $\ln$ of the largest finite float32, $\ln(3.4028235\times10^{38})$.
pub const LN_F32_MAX: f64 = 88.722_839_052_068_35;
/// Largest variance the search considers.
pub const MAX_VARIANCE: f64 = 1e4;

/// What the recommended variance must keep below its bound.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "target", rename_all = "snake_case")]
pub enum Target {
    /// $\ln(\chi^0/\chi^L) \le$ `max`.
    Grad { max: f64 },
    /// $\ln p^L \le$ `max`.
    LogP { max: f64 },
}

impl Target {
    fn bound(&self) -> f64 {
        match *self {
            Target::Grad { max } | Target::LogP { max } => max,
        }
    }
    fn value(&self, p: &Prediction) -> f64 {
        match self {
            Target::Grad { .. } => p.log_grad_explosion,
            Target::LogP { .. } => p.log_p,
        }
    }
}

/// The predicted quantities of one initialization at depth $L$.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub sw2: f64,
    /// `None` for RRN and vanilla nets (no $V$ weights).
    pub sv2: Option<f64>,
    /// $\ln(\chi^0/\chi^L)$ ($+\infty$ when $V\phi'$ is infinite).
    pub log_grad_explosion: f64,
    /// $\ln p^L$.
    pub log_p: f64,
}

/// The recommendation of [`recommend`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub depth: usize,
    pub target: Target,
    /// `"sv2"` (FRN) or `"sw2"` (RRN, vanilla).
    pub searched: String,
    pub best: Prediction,
    /// True if even [`MAX_VARIANCE`] keeps the quantity below the bound.
    pub capped: bool,
    /// Variance 1.
    pub xavier: Prediction,
    /// Variance 2.
    pub he: Prediction,
}

/// The searched variance of `base` set to `x`.
fn with_variance(base: &Spec, x: f64) -> Spec {
    let mut s = *base;
    match s.arch {
        Architecture::Full => s.var.sv2 = x,
        _ => s.var.sw2 = x,
    }
    s
}

/// Predicted log gradient explosion and $\ln p^L$ of `spec` at depth `depth`.
pub fn predict(spec: &Spec, depth: usize) -> Result<Prediction, MeanFieldError> {
    let t = trajectory(spec, depth, &Sampling::Last)?;
    let last = t.last();
    Ok(Prediction {
        sw2: spec.var.sw2,
        sv2: (spec.arch == Architecture::Full).then_some(spec.var.sv2),
        log_grad_explosion: last.log_grad_explosion,
        log_p: last.ln_p,
    })
}

/// The largest variance $x \in [0, 10^4]$ (FRN: $\sigma_v^2$, else $\sigma_w^2$; the other entries of
/// `base.var` fixed) whose predicted quantity does not exceed the target's bound, by bisection
/// in $\ln x$ to relative precision $10^{-6}$, assuming the quantity increases with $x$.
///
/// Errors: the gradient target with $\alpha \le 1/2$ (infinite moment), and a bound that even
/// the smallest variance $10^{-8}$ exceeds.
pub fn recommend(base: &Spec, depth: usize, target: Target) -> Result<Recommendation, MeanFieldError> {
    base.validate()?;
    if let (Target::Grad { .. }, Some(a)) = (target, base.act.alpha()) {
        if a <= 0.5 {
            return Err(MeanFieldError::BadParameter {
                name: "alpha",
                value: a,
                valid: "alpha > 1/2 for the gradient target (the gradient moment is infinite for alpha <= 1/2; use the pL target)",
            });
        }
    }
    let bound = target.bound();
    let eval = |x: f64| -> Result<Prediction, MeanFieldError> { predict(&with_variance(base, x), depth) };
    let mut lo = 1e-8;
    let p_lo = eval(lo)?;
    if target.value(&p_lo) > bound {
        return Err(MeanFieldError::BadParameter {
            name: "bound",
            value: bound,
            valid: "a bound that the smallest variance (1e-8) satisfies",
        });
    }
    let mut best = p_lo;
    let mut hi = 1.0;
    let mut capped = false;
    loop {
        let p = eval(hi)?;
        if target.value(&p) > bound {
            break;
        }
        lo = hi;
        best = p;
        if hi >= MAX_VARIANCE {
            capped = true;
            break;
        }
        hi = (hi * 4.0).min(MAX_VARIANCE);
    }
    if !capped {
        while hi / lo > 1.0 + 1e-6 {
            let mid = (lo * hi).sqrt();
            let p = eval(mid)?;
            if target.value(&p) > bound {
                hi = mid;
            } else {
                lo = mid;
                best = p;
            }
        }
    }
    Ok(Recommendation {
        depth,
        target,
        searched: if base.arch == Architecture::Full { "sv2".into() } else { "sw2".into() },
        best,
        capped,
        xavier: eval(1.0)?,
        he: eval(2.0)?,
    })
}

/// Convenience for grids: the recommended variance for (arch, act, depth) at the given
/// $\sigma_w^2$, biases zero, $p^0 = 1$, $e^0 = 1/2$.
pub fn recommended_variance(
    arch: Architecture,
    act: Activation,
    sw2: f64,
    depth: usize,
    target: Target,
) -> Result<f64, MeanFieldError> {
    let base = Spec { arch, act, var: super::Variances::weights(sw2, 1.0), p0: 1.0, e0: 0.5 };
    let r = recommend(&base, depth, target)?;
    Ok(match arch {
        Architecture::Full => r.best.sv2.expect("FRN predictions carry sv2"),
        _ => r.best.sw2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meanfield::Variances;

    /// ReLU FRN with zero biases: ln(chi^0/chi^L) = L ln(1 + sv2 sw2/2) exactly, so the largest
    /// sv2 with explosion <= G is 2 (e^{G/L} - 1)/sw2 in closed form.
    #[test]
    fn relu_recommendation_matches_closed_form() {
        let base = Spec {
            arch: Architecture::Full,
            act: Activation::Relu,
            var: Variances::weights(1.5, 1.0),
            p0: 1.0,
            e0: 0.5,
        };
        let (depth, g) = (200, 1.0);
        let r = recommend(&base, depth, Target::Grad { max: g }).unwrap();
        let exact = 2.0 * ((g / depth as f64).exp() - 1.0) / 1.5;
        assert!((r.best.sv2.unwrap() / exact - 1.0).abs() < 2e-6, "{r:?} vs {exact}");
        assert!(r.best.log_grad_explosion <= g);
        assert!((r.he.log_grad_explosion - depth as f64 * (1.0 + 1.5f64).ln()).abs() < 1e-9);
        // p target: ln p^L = L ln(1 + sv2 sw2/2) too (p0 = 1), bound 88.7.
        let r = recommend(&base, depth, Target::LogP { max: LN_F32_MAX }).unwrap();
        let exact = 2.0 * ((LN_F32_MAX / depth as f64).exp() - 1.0) / 1.5;
        assert!((r.best.sv2.unwrap() / exact - 1.0).abs() < 2e-6);
    }

    /// tanh FRN: the recommended sv2 shrinks with depth roughly like 1/L. With sa2 = 0 the law
    /// of SCIENCE.md 5 reads log chi ~ (8/3) sw sqrt(sv2 L/(2 pi)), and for small sv2 (p stays
    /// near p0) log chi ~ L sv2 sw2 V'(q): either way sv2* L is about constant.
    #[test]
    fn tanh_recommendation_decreases_with_depth() {
        let a = recommended_variance(Architecture::Full, Activation::Tanh, 1.0, 100, Target::Grad { max: 1.0 }).unwrap();
        let b = recommended_variance(Architecture::Full, Activation::Tanh, 1.0, 400, Target::Grad { max: 1.0 }).unwrap();
        assert!(a > b && b > 0.0);
        let ratio = a / b;
        assert!(ratio > 2.5 && ratio < 5.0, "sv2*(100)/sv2*(400) = {ratio}");
    }

    #[test]
    fn infinite_gradient_moment_is_rejected_for_grad_target() {
        let base = Spec {
            arch: Architecture::Full,
            act: Activation::AlphaRelu { alpha: 0.4 },
            var: Variances::weights(1.0, 1.0),
            p0: 1.0,
            e0: 0.5,
        };
        assert!(recommend(&base, 10, Target::Grad { max: 1.0 }).is_err());
        assert!(recommend(&base, 10, Target::LogP { max: 10.0 }).is_ok());
    }
}
