//! Depth-dependent initialization (docs/theory.md §6, claim 4): for a given depth $L$, the largest
//! residual-branch variance whose predicted log gradient explosion $\ln(\chi^0/\chi^L)$ stays below a
//! bound $G$ (or, for ReLU-type nets, whose $\ln p^L$ stays below a bound: float32 overflows at
//! $p \approx 3.4\times10^{38}$, $\ln p \approx 88.7$), found by bisection on the monotone map from
//! the variance to the predicted quantity, beside what Xavier (variance 1) and He (variance 2)
//! give at that depth.
//!
//! The searched variance is $\sigma_v^2$ (at fixed $\sigma_w^2$) for FRNs and $\sigma_w^2$ for RRNs and
//! vanilla nets (their only weight variance).

use super::recurrence::{trajectory, Layer, Recurrence, Sampling, Spec};
use super::MeanFieldError;
use crate::activation::Activation;
use crate::architecture::Architecture;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// $\ln$ of the largest finite float32, $\ln(3.4028235\times10^{38})$.
pub const LN_F32_MAX: f64 = 88.722_839_052_068_35;
/// Default bound on $\ln p^L$ of `init --target pL`, from the failure boundary the training data
/// show, not from float32 overflow: in the quick report's ReLU and $\alpha$-ReLU grids (SGD, one
/// epoch) training fails from $\ln p^L \approx 1.2$ to $5$ at the boundary (1.56 for ReLU and 1.17
/// for $\alpha$-ReLU at $L = 32$, Chapter 6's boundary tables), far below the overflow limit
/// [`LN_F32_MAX`]. The default stays below every observed boundary; re-derive it when the training
/// protocol changes (the prediction stage prints the boundary's $\ln p^L$ per depth).
pub const DEFAULT_MAX_LOG_P: f64 = 1.0;
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
    /// `grad` or `pL`, as the `init` command names the targets.
    pub fn name(&self) -> &'static str {
        match self {
            Target::Grad { .. } => "grad",
            Target::LogP { .. } => "pL",
        }
    }
    /// The bound on the target quantity.
    pub fn bound(&self) -> f64 {
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
    /// ReLU-type activations with the $\ln p^L$ target: He is predicted past the bound at this
    /// depth and the search found a larger variance than He's (possible at a smaller fixed
    /// $\sigma_w^2$), so the recommendation was lowered to He's variance: `init` never recommends
    /// a variance above He where He already fails.
    #[serde(default)]
    pub capped_at_he: bool,
}

impl Recommendation {
    /// The recommendation as one JSON object: the recommended prediction's keys (`sw2`, `sv2`,
    /// `log_grad_explosion`, `log_p`), the problem (`arch`, `act`, `alpha`, `depth`, `target`,
    /// `bound`), `searched`, `capped`, and `xavier` and `he` (predictions). Infinite logs are the
    /// string `"inf"`.
    pub fn to_json(&self, base: &Spec) -> serde_json::Value {
        let mut doc = prediction_json(&self.best);
        let extra = serde_json::json!({
            "arch": base.arch.name(),
            "act": base.act.kind(),
            "alpha": base.act.alpha(),
            "depth": self.depth,
            "target": self.target.name(),
            "bound": self.target.bound(),
            "searched": self.searched,
            "capped": self.capped,
            "capped_at_he": self.capped_at_he,
            "xavier": prediction_json(&self.xavier),
            "he": prediction_json(&self.he),
        });
        if let (Some(o), serde_json::Value::Object(e)) = (doc.as_object_mut(), extra) {
            o.extend(e);
        }
        doc
    }
}

fn prediction_json(p: &Prediction) -> serde_json::Value {
    let num = |x: f64| {
        if x.is_finite() {
            serde_json::json!(x)
        } else if x > 0.0 {
            serde_json::json!("inf")
        } else if x < 0.0 {
            serde_json::json!("-inf")
        } else {
            serde_json::Value::Null
        }
    };
    serde_json::json!({ "sw2": p.sw2, "sv2": p.sv2, "log_grad_explosion": num(p.log_grad_explosion), "log_p": num(p.log_p) })
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
    Ok(prediction(spec, t.last()))
}

fn prediction(spec: &Spec, last: &Layer) -> Prediction {
    Prediction {
        sw2: spec.var.sw2,
        sv2: (spec.arch == Architecture::Full).then_some(spec.var.sv2),
        log_grad_explosion: last.log_grad_explosion,
        log_p: last.ln_p,
    }
}

/// Progress of [`recommend_with`], reported after each evaluation (or batch of evaluations).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchProgress {
    /// Evaluations done so far (at most [`max_evaluations`]).
    pub done: usize,
    /// The variance evaluated last (the first of a batch).
    pub variance: f64,
}

/// Bisection steps at most: from a ratio of $10^8$ down to $1 + 10^{-6}$.
const MAX_BISECTION_STEPS: usize = 25;

/// Most evaluations a search makes with the given lookahead: the smallest variance (1), the
/// bracket $1, 4, \dots, 10^4$ (8), the bisection (25 steps, in rounds of `lookahead` steps of
/// $2^{\text{lookahead}} - 1$ evaluations each), Xavier and He (2).
pub fn max_evaluations(lookahead: u32) -> usize {
    let k = lookahead.clamp(1, MAX_LOOKAHEAD) as usize;
    1 + 8 + MAX_BISECTION_STEPS.div_ceil(k) * ((1 << k) - 1) + 2
}

/// Largest lookahead of [`recommend_with`] (15 evaluations at once).
pub const MAX_LOOKAHEAD: u32 = 4;

/// The lookahead that keeps `threads` busy: the largest $k \le$ [`MAX_LOOKAHEAD`] with
/// $2^k - 1 \le$ `threads` (1 for up to 2 threads: no speculative evaluations).
pub fn lookahead_for(threads: usize) -> u32 {
    (1..=MAX_LOOKAHEAD).rev().find(|&k| (1usize << k) - 1 <= threads).unwrap_or(1)
}

/// The largest variance $x \in [0, 10^4]$ (FRN: $\sigma_v^2$, else $\sigma_w^2$; the other entries of
/// `base.var` fixed) whose predicted quantity does not exceed the target's bound, by bisection
/// in $\ln x$ to relative precision $10^{-6}$, assuming the quantity increases with $x$.
///
/// Errors: the gradient target with $\alpha \le 1/2$ (infinite moment), and a bound that even
/// the smallest variance $10^{-8}$ exceeds.
pub fn recommend(base: &Spec, depth: usize, target: Target) -> Result<Recommendation, MeanFieldError> {
    recommend_with(base, depth, target, 1, &mut |_| {})
}

/// [`recommend`], calling `progress` after each evaluation, and evaluating the bisection
/// `lookahead` steps ahead (1 to [`MAX_LOOKAHEAD`]): the $2^k - 1$ midpoints the next $k$ steps can
/// visit are evaluated at once on the rayon pool, then the steps are taken, so with enough
/// cores a search takes about $1/k$ of the time, with the same result.
///
/// Each evaluation iterates the recurrences to depth $L$; for a numerical activation (tanh, GELU)
/// whose $q^l$ leaves the kernel's interpolation table ($10^{-8} \le q \le 10^{12}$) a layer costs
/// a fresh quadrature, so a deep search can take a minute (vanilla GELU at $L = 1000$: the
/// variances near the critical $\sigma_w^2 \approx 2.35$ keep $q^l$ in that range for hundreds of
/// layers). Two more shortcuts keep the result identical to plain bisection: for residual
/// networks (FRN, RRN) $\ln(\chi^0/\chi^l)$ and $\ln p^l$ never decrease with $l$ (a block adds
/// $\ln(1 + \sigma\alpha_q V\phi') \ge 0$, and $p^l \ge p^{l-1}$), so an evaluation stops at the first
/// layer above the bound; and a variance evaluated in full is not evaluated again for Xavier or
/// He, which otherwise run in parallel.
pub fn recommend_with(
    base: &Spec,
    depth: usize,
    target: Target,
    lookahead: u32,
    progress: &mut dyn FnMut(SearchProgress),
) -> Result<Recommendation, MeanFieldError> {
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
    if depth == 0 {
        return Err(MeanFieldError::BadParameter { name: "depth", value: 0.0, valid: "depth >= 1" });
    }
    let bound = target.bound();
    let eval = |x: f64| within_bound(&with_variance(base, x), depth, target);
    let mut done = 0;
    let mut full: Vec<Prediction> = Vec::new();
    let mut record = |xs: &[f64], rs: &[Result<Option<Prediction>, MeanFieldError>]| {
        done += xs.len();
        full.extend(rs.iter().filter_map(|r| r.clone().ok().flatten()));
        progress(SearchProgress { done, variance: xs[0] });
    };
    let mut within = |x: f64| {
        let r = eval(x);
        record(&[x], std::slice::from_ref(&r));
        r
    };
    let mut lo = 1e-8;
    let Some(p_lo) = within(lo)? else {
        return Err(MeanFieldError::BadParameter {
            name: "bound",
            value: bound,
            valid: "a bound that the smallest variance (1e-8) satisfies",
        });
    };
    let mut best = p_lo;
    let mut hi = 1.0;
    let mut capped = false;
    while let Some(p) = within(hi)? {
        lo = hi;
        best = p;
        if hi >= MAX_VARIANCE {
            capped = true;
            break;
        }
        hi = (hi * 4.0).min(MAX_VARIANCE);
    }
    let k = lookahead.clamp(1, MAX_LOOKAHEAD);
    while !capped && hi / lo > 1.0 + 1e-6 {
        // The midpoints of the next k steps as a complete binary tree in heap order: node i
        // bisects (a, b); its children bisect (a, mid) (quantity above the bound) and (mid, b).
        let mut tree: Vec<(f64, f64, f64)> = vec![(lo, hi, (lo * hi).sqrt())];
        for i in 0..(1usize << (k - 1)) - 1 {
            let (a, b, m) = tree[i];
            tree.push((a, m, (a * m).sqrt()));
            tree.push((m, b, (m * b).sqrt()));
        }
        let xs: Vec<f64> = tree.iter().map(|t| t.2).collect();
        let rs: Vec<Result<Option<Prediction>, MeanFieldError>> =
            if xs.len() == 1 { vec![eval(xs[0])] } else { xs.par_iter().map(|&x| eval(x)).collect() };
        record(&xs, &rs);
        let mut i = 0;
        while i < tree.len() && hi / lo > 1.0 + 1e-6 {
            match rs[i].clone()? {
                None => {
                    hi = tree[i].2;
                    i = 2 * i + 1;
                }
                Some(p) => {
                    lo = tree[i].2;
                    best = p;
                    i = 2 * i + 2;
                }
            }
        }
    }
    let known = |x: f64| full.iter().find(|p| searched_value(base, p) == x).copied();
    let (xavier, he) = match (known(1.0), known(2.0)) {
        (Some(x), Some(h)) => (x, h),
        (Some(x), None) => (x, predict(&with_variance(base, 2.0), depth)?),
        (None, Some(h)) => (predict(&with_variance(base, 1.0), depth)?, h),
        (None, None) => {
            let (x, h) =
                rayon::join(|| predict(&with_variance(base, 1.0), depth), || predict(&with_variance(base, 2.0), depth));
            (x?, h?)
        }
    };
    progress(SearchProgress { done: done + 2, variance: 2.0 });
    // never above He where He already fails (ReLU-type, ln p^L target): ln p^L increases with
    // the variance, so He's variance at the fixed weights is within the bound whenever `best` is
    let relu_like =
        matches!(base.act, crate::activation::Activation::Relu | crate::activation::Activation::AlphaRelu { .. });
    let he_fails = matches!(target, Target::LogP { .. }) && he_true_point(base, depth)?.log_p > bound;
    let capped_at_he = relu_like && he_fails && searched_value(base, &best) > 2.0;
    let best = if capped_at_he { he } else { best };
    Ok(Recommendation {
        depth,
        target,
        searched: if base.arch == Architecture::Full { "sv2".into() } else { "sw2".into() },
        best,
        capped: capped && !capped_at_he,
        xavier,
        he,
        capped_at_he,
    })
}

/// He's prediction at its true point: every weight variance 2 ($\sigma_w^2 = \sigma_v^2 = 2$ for an FRN).
pub fn he_true_point(base: &Spec, depth: usize) -> Result<Prediction, MeanFieldError> {
    let mut s = *base;
    s.var.sw2 = 2.0;
    if s.arch == Architecture::Full {
        s.var.sv2 = 2.0;
    }
    predict(&s, depth)
}

/// The searched variance of a prediction made by [`with_variance`] on `base`.
fn searched_value(base: &Spec, p: &Prediction) -> f64 {
    match base.arch {
        Architecture::Full => p.sv2.unwrap_or(f64::NAN),
        _ => p.sw2,
    }
}

/// The prediction of `spec` at `depth` if its target quantity is within the bound, `None` if
/// not (see [`recommend_with`] for the early stop of residual networks, which gives the same
/// answer as [`predict`]).
fn within_bound(spec: &Spec, depth: usize, target: Target) -> Result<Option<Prediction>, MeanFieldError> {
    let bound = target.bound();
    let monotone = spec.arch != Architecture::Vanilla;
    let mut rec = Recurrence::new(spec)?;
    for _ in 0..depth {
        let layer = rec.step()?;
        let value = match target {
            Target::Grad { .. } => layer.log_grad_explosion,
            Target::LogP { .. } => layer.ln_p,
        };
        if monotone && value > bound {
            return Ok(None);
        }
    }
    let p = prediction(spec, rec.current());
    Ok((target.value(&p) <= bound || target.value(&p).is_nan()).then_some(p))
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
    /// of docs/theory.md §5 reads log chi ~ (8/3) sw sqrt(sv2 L/(2 pi)), and for small sv2 (p stays
    /// near p0) log chi ~ L sv2 sw2 V'(q): either way sv2* L is about constant.
    #[test]
    fn tanh_recommendation_decreases_with_depth() {
        let a =
            recommended_variance(Architecture::Full, Activation::Tanh, 1.0, 100, Target::Grad { max: 1.0 }).unwrap();
        let b =
            recommended_variance(Architecture::Full, Activation::Tanh, 1.0, 400, Target::Grad { max: 1.0 }).unwrap();
        assert!(a > b && b > 0.0);
        let ratio = a / b;
        assert!(ratio > 2.5 && ratio < 5.0, "sv2*(100)/sv2*(400) = {ratio}");
    }

    /// Plain bisection as it was before the early stop and the reuse of evaluations.
    fn reference(base: &Spec, depth: usize, target: Target) -> (f64, bool, Prediction, Prediction, Prediction) {
        let eval = |x: f64| predict(&with_variance(base, x), depth).unwrap();
        let bound = target.bound();
        let (mut lo, mut hi, mut capped) = (1e-8, 1.0, false);
        let mut best = eval(lo);
        loop {
            let p = eval(hi);
            if target.value(&p) > bound {
                break;
            }
            (lo, best) = (hi, p);
            if hi >= MAX_VARIANCE {
                capped = true;
                break;
            }
            hi = (hi * 4.0).min(MAX_VARIANCE);
        }
        while !capped && hi / lo > 1.0 + 1e-6 {
            let mid = (lo * hi).sqrt();
            let p = eval(mid);
            if target.value(&p) > bound {
                hi = mid;
            } else {
                (lo, best) = (mid, p);
            }
        }
        (lo, capped, best, eval(1.0), eval(2.0))
    }

    /// The shortcuts of recommend_with give exactly (bit for bit) what plain bisection gives.
    #[test]
    fn shortcuts_do_not_change_the_result() {
        let cases = [
            (Architecture::Full, Activation::Tanh, 1.0, 100, Target::Grad { max: 1.0 }),
            (Architecture::Full, Activation::Relu, 1.5, 50, Target::LogP { max: LN_F32_MAX }),
            (Architecture::Reduced, Activation::Erf, 1.0, 30, Target::Grad { max: 2.0 }),
            (Architecture::Vanilla, Activation::Tanh, 1.0, 20, Target::Grad { max: 1.0 }),
            (Architecture::Full, Activation::Erf, 1.0, 3, Target::LogP { max: 1e3 }),
        ];
        for (arch, act, sw2, depth, target) in cases {
            let base = Spec { arch, act, var: Variances::weights(sw2, 1.0), p0: 1.0, e0: 0.5 };
            let (_, capped, best, xavier, he) = reference(&base, depth, target);
            for lookahead in [1, 2, 3] {
                let mut last = 0;
                let r = recommend_with(&base, depth, target, lookahead, &mut |p| last = p.done).unwrap();
                assert_eq!(
                    (r.capped, r.best, r.xavier, r.he),
                    (capped, best, xavier, he),
                    "{arch:?} {act:?} {lookahead}"
                );
                assert!(last <= max_evaluations(lookahead), "{last}");
            }
            let v = recommend(&base, depth, target).unwrap().to_json(&base);
            assert_eq!(v["target"], target.name());
            assert!(v["xavier"].get("log_p").is_some());
        }
    }

    #[test]
    fn lookahead_fits_the_threads() {
        let ks: Vec<u32> = [1, 2, 3, 6, 7, 8, 15, 64].iter().map(|&t| lookahead_for(t)).collect();
        assert_eq!(ks, vec![1, 1, 2, 2, 3, 3, 4, 4]);
        assert_eq!(max_evaluations(1), 36);
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

    /// `init --target pL` never recommends a variance above He where He already fails. ReLU FRN,
    /// $\sigma_w^2 = 1$, $p^0 = 1$, $L = 100$, bound 88.72: the closed form gives
    /// $\sigma_v^2 = 2(e^{88.72/100} - 1) = 2.856 > 2$, while He at its true point has
    /// $\ln p^L = 100\ln(1 + 2 \cdot 2/2) = 109.9 > 88.72$: the recommendation is lowered to 2. With
    /// the default bound the closed form $2(e^{1/100} - 1) = 0.0201$ is below He and kept.
    #[test]
    fn never_above_he_where_he_fails() {
        let base = Spec {
            arch: Architecture::Full,
            act: Activation::Relu,
            var: Variances::weights(1.0, 1.0),
            p0: 1.0,
            e0: 0.5,
        };
        let uncapped = 2.0 * ((LN_F32_MAX / 100.0).exp() - 1.0);
        assert!(uncapped > 2.0 && 100.0 * 3f64.ln() > LN_F32_MAX);
        let r = recommend(&base, 100, Target::LogP { max: LN_F32_MAX }).unwrap();
        assert!(r.capped_at_he && r.best.sv2 == Some(2.0), "{r:?}");
        let r = recommend(&base, 100, Target::LogP { max: DEFAULT_MAX_LOG_P }).unwrap();
        let exact = 2.0 * ((DEFAULT_MAX_LOG_P / 100.0).exp() - 1.0);
        assert!(!r.capped_at_he && (r.best.sv2.unwrap() / exact - 1.0).abs() < 1e-5, "{r:?} vs {exact}");
        // at L = 4 He does not fail at 88.72 (ln p = 4 ln 3 = 4.39): no cap, the search runs to its limit
        let r = recommend(&base, 4, Target::LogP { max: LN_F32_MAX }).unwrap();
        assert!(!r.capped_at_he);
    }
}
