//! Small statistics toolkit: summary statistics, the Student t distribution (via the regularized
//! incomplete beta function), least squares with a t confidence interval for the slope, and
//! Spearman's rank correlation with tied ranks averaged.

use super::AnalysisError;

/// Arithmetic mean $\bar x = \frac1n \sum_i x_i$; `None` for an empty slice.
pub fn mean(x: &[f64]) -> Option<f64> {
    (!x.is_empty()).then(|| x.iter().sum::<f64>() / x.len() as f64)
}

/// Sample standard deviation $\sqrt{\sum_i (x_i - \bar x)^2 / (n - 1)}$; `None` for $n < 2$.
pub fn sample_sd(x: &[f64]) -> Option<f64> {
    if x.len() < 2 {
        return None;
    }
    let m = mean(x)?;
    let ss: f64 = x.iter().map(|v| (v - m) * (v - m)).sum();
    Some((ss / (x.len() - 1) as f64).sqrt())
}

/// Median (mean of the two middle values for even $n$); `None` if empty or any value is NaN.
pub fn median(x: &[f64]) -> Option<f64> {
    if x.is_empty() || x.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut v = x.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) })
}

/// Continued fraction of the incomplete beta function (modified Lentz), Numerical Recipes 3rd ed.
/// eq. 6.4.5; converges quickly for $x < (a+1)/(a+b+2)$.
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPS: f64 = 1e-16;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=10_000 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// Regularized incomplete beta function
/// $I_x(a, b) = \frac{1}{B(a,b)} \int_0^x t^{a-1} (1-t)^{b-1}\,dt$ for $a, b > 0$, $0 \le x \le 1$.
pub fn inc_beta(a: f64, b: f64, x: f64) -> Result<f64, AnalysisError> {
    if !(a > 0.0 && a.is_finite()) {
        return Err(AnalysisError::Invalid { what: "a", value: a, why: "need 0 < a < inf" });
    }
    if !(b > 0.0 && b.is_finite()) {
        return Err(AnalysisError::Invalid { what: "b", value: b, why: "need 0 < b < inf" });
    }
    if !(0.0..=1.0).contains(&x) {
        return Err(AnalysisError::Invalid { what: "x", value: x, why: "need 0 <= x <= 1" });
    }
    if x == 0.0 || x == 1.0 {
        return Ok(x);
    }
    let ln_front = libm::lgamma(a + b) - libm::lgamma(a) - libm::lgamma(b) + a * x.ln() + b * (-x).ln_1p();
    let front = ln_front.exp();
    Ok(if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, 1.0 - x) / b
    })
}

/// Standard normal CDF $\Phi(x) = \tfrac12 \operatorname{erfc}(-x/\sqrt2)$.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

fn check_p(p: f64) -> Result<(), AnalysisError> {
    if p > 0.0 && p < 1.0 {
        Ok(())
    } else {
        Err(AnalysisError::Invalid { what: "p", value: p, why: "need 0 < p < 1" })
    }
}

fn check_df(df: f64) -> Result<(), AnalysisError> {
    if df > 0.0 && !df.is_nan() {
        Ok(())
    } else {
        Err(AnalysisError::Invalid { what: "degrees of freedom", value: df, why: "need df > 0 (inf allowed)" })
    }
}

/// Upper tail $P(T > t)$ for $t \ge 0$:
/// $\tfrac12 I_{\nu/(\nu + t^2)}(\nu/2, 1/2)$ (normal tail for $\nu = \infty$).
fn t_upper_tail(t: f64, df: f64) -> f64 {
    if df.is_infinite() {
        return 0.5 * libm::erfc(t / std::f64::consts::SQRT_2);
    }
    if t.is_infinite() {
        return 0.0;
    }
    let x = df / (df + t * t);
    0.5 * inc_beta(0.5 * df, 0.5, x).expect("arguments in domain")
}

/// Student t CDF $F_\nu(t) = P(T \le t)$ with $\nu > 0$ degrees of freedom ($\nu = \infty$ gives the
/// standard normal): $F_\nu(t) = 1 - \tfrac12 I_{\nu/(\nu+t^2)}(\nu/2, \tfrac12)$ for $t \ge 0$,
/// and $F_\nu(-t) = 1 - F_\nu(t)$.
pub fn student_t_cdf(t: f64, df: f64) -> Result<f64, AnalysisError> {
    check_df(df)?;
    if t.is_nan() {
        return Err(AnalysisError::Invalid { what: "t", value: t, why: "NaN" });
    }
    let tail = t_upper_tail(t.abs(), df);
    Ok(if t >= 0.0 { 1.0 - tail } else { tail })
}

/// Quantile $t_{p,\nu} = F_\nu^{-1}(p)$ of the Student t distribution, $0 < p < 1$, $\nu > 0$
/// ($\nu = \infty$: standard normal quantile). Solved by bracketing and bisection on the upper
/// tail, to full double precision in $t$.
pub fn student_t_quantile(p: f64, df: f64) -> Result<f64, AnalysisError> {
    check_p(p)?;
    check_df(df)?;
    if p == 0.5 {
        return Ok(0.0);
    }
    // Solve P(T > t) = q for t > 0, with q the smaller tail.
    let q = if p > 0.5 { 1.0 - p } else { p };
    let mut lo = 0.0_f64;
    let mut hi = 1.0_f64;
    while t_upper_tail(hi, df) > q {
        lo = hi;
        hi *= 2.0;
        if !hi.is_finite() {
            return Err(AnalysisError::Invalid { what: "p", value: p, why: "quantile overflows f64" });
        }
    }
    for _ in 0..2000 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if t_upper_tail(mid, df) > q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let t = 0.5 * (lo + hi);
    Ok(if p > 0.5 { t } else { -t })
}

/// Standard normal quantile $\Phi^{-1}(p)$, $0 < p < 1$.
pub fn normal_quantile(p: f64) -> Result<f64, AnalysisError> {
    student_t_quantile(p, f64::INFINITY)
}

/// Result of a straight-line least-squares fit $y = a + b x$.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinearFit {
    /// Number of points.
    pub n: usize,
    /// Slope $b$.
    pub slope: f64,
    /// Intercept $a$.
    pub intercept: f64,
    /// Standard error of the slope.
    pub se_slope: f64,
    /// Standard error of the intercept.
    pub se_intercept: f64,
    /// Residual degrees of freedom $n - 2$.
    pub df: f64,
    /// Confidence level of the interval, e.g. 0.95.
    pub level: f64,
    /// The t quantile $t_{(1+\text{level})/2,\,n-2}$.
    pub t_crit: f64,
    /// Confidence interval of the slope $b \pm t\,\mathrm{se}(b)$.
    pub ci_slope: [f64; 2],
    /// Residual standard deviation $s$ (weighted scale for a weighted fit).
    pub residual_sd: f64,
    /// Coefficient of determination (weighted for a weighted fit).
    pub r_squared: f64,
    /// Whether weights were used.
    pub weighted: bool,
}

impl LinearFit {
    /// Whether the slope's confidence interval contains `b`.
    pub fn ci_contains(&self, b: f64) -> bool {
        self.ci_slope[0] <= b && b <= self.ci_slope[1]
    }
}

/// (Weighted) least squares $y_i = a + b x_i + \varepsilon_i$ with a Student t confidence interval
/// for the slope at `level` (e.g. 0.95).
///
/// With weights $w_i > 0$ (e.g. $1/\sigma_i^2$): $\bar x_w = \sum w_i x_i / \sum w_i$,
/// $S_{xx} = \sum w_i (x_i - \bar x_w)^2$, $b = \sum w_i (x_i - \bar x_w)(y_i - \bar y_w) / S_{xx}$,
/// $a = \bar y_w - b \bar x_w$, $s^2 = \sum w_i r_i^2 / (n - 2)$, $\mathrm{se}(b) = \sqrt{s^2/S_{xx}}$,
/// $\mathrm{se}(a) = \sqrt{s^2 (1/\sum w_i + \bar x_w^2 / S_{xx})}$. The weights are relative: the
/// residual scale is estimated from the data, so multiplying all weights by a constant changes
/// nothing. Without weights this is ordinary least squares. Needs $n \ge 3$ and two distinct $x$.
pub fn linear_fit(x: &[f64], y: &[f64], weights: Option<&[f64]>, level: f64) -> Result<LinearFit, AnalysisError> {
    let n = x.len();
    if y.len() != n {
        return Err(AnalysisError::LengthMismatch { what: "linear_fit x/y", a: n, b: y.len() });
    }
    if let Some(w) = weights {
        if w.len() != n {
            return Err(AnalysisError::LengthMismatch { what: "linear_fit x/weights", a: n, b: w.len() });
        }
        if let Some(&bad) = w.iter().find(|w| !(**w > 0.0 && w.is_finite())) {
            return Err(AnalysisError::Invalid { what: "weight", value: bad, why: "need 0 < w < inf" });
        }
    }
    if let Some(&bad) = x.iter().chain(y).find(|v| !v.is_finite()) {
        return Err(AnalysisError::Invalid { what: "data point", value: bad, why: "must be finite" });
    }
    if !(level > 0.0 && level < 1.0) {
        return Err(AnalysisError::Invalid { what: "confidence level", value: level, why: "need 0 < level < 1" });
    }
    if n < 3 {
        return Err(AnalysisError::TooFew { what: "slope with a confidence interval", need: 3, got: n });
    }
    let w = |i: usize| weights.map_or(1.0, |w| w[i]);
    let sw: f64 = (0..n).map(w).sum();
    let xb = (0..n).map(|i| w(i) * x[i]).sum::<f64>() / sw;
    let yb = (0..n).map(|i| w(i) * y[i]).sum::<f64>() / sw;
    let sxx: f64 = (0..n).map(|i| w(i) * (x[i] - xb).powi(2)).sum();
    let sxy: f64 = (0..n).map(|i| w(i) * (x[i] - xb) * (y[i] - yb)).sum();
    let syy: f64 = (0..n).map(|i| w(i) * (y[i] - yb).powi(2)).sum();
    if sxx <= 0.0 {
        return Err(AnalysisError::Degenerate { what: "slope", why: "all x are equal" });
    }
    let slope = sxy / sxx;
    let intercept = yb - slope * xb;
    let ssr: f64 = (0..n).map(|i| w(i) * (y[i] - intercept - slope * x[i]).powi(2)).sum();
    let df = (n - 2) as f64;
    let s2 = ssr / df;
    let se_slope = (s2 / sxx).sqrt();
    let se_intercept = (s2 * (1.0 / sw + xb * xb / sxx)).sqrt();
    let t_crit = student_t_quantile(0.5 * (1.0 + level), df)?;
    let r_squared = if syy > 0.0 { 1.0 - ssr / syy } else { 1.0 };
    Ok(LinearFit {
        n,
        slope,
        intercept,
        se_slope,
        se_intercept,
        df,
        level,
        t_crit,
        ci_slope: [slope - t_crit * se_slope, slope + t_crit * se_slope],
        residual_sd: s2.sqrt(),
        r_squared,
        weighted: weights.is_some(),
    })
}

/// Ranks $1..n$ in increasing order, ties given the average of the ranks they span
/// ("fractional ranking"). Errors on NaN.
pub fn ranks(x: &[f64]) -> Result<Vec<f64>, AnalysisError> {
    if let Some(&bad) = x.iter().find(|v| v.is_nan()) {
        return Err(AnalysisError::Invalid { what: "value to rank", value: bad, why: "NaN" });
    }
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].partial_cmp(&x[b]).expect("no NaN"));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        // positions i..=j (0-based) share the average rank of i+1..=j+1
        let avg = 0.5 * ((i + 1) as f64 + (j + 1) as f64);
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    Ok(r)
}

/// Pearson correlation $r = \sum (x_i-\bar x)(y_i-\bar y) / \sqrt{\sum (x_i-\bar x)^2 \sum (y_i-\bar y)^2}$.
/// Undefined (error) if either variable is constant or $n < 2$.
pub fn pearson(x: &[f64], y: &[f64]) -> Result<f64, AnalysisError> {
    if x.len() != y.len() {
        return Err(AnalysisError::LengthMismatch { what: "correlation", a: x.len(), b: y.len() });
    }
    if x.len() < 2 {
        return Err(AnalysisError::TooFew { what: "correlation", need: 2, got: x.len() });
    }
    let (mx, my) = (mean(x).expect("n >= 2"), mean(y).expect("n >= 2"));
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let syy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    if sxx <= 0.0 || syy <= 0.0 {
        return Err(AnalysisError::Degenerate { what: "correlation", why: "a variable is constant" });
    }
    Ok((sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}

/// Spearman's rank correlation $\rho$: the Pearson correlation of the fractional ranks (ties
/// averaged), which equals $1 - 6\sum d_i^2 / (n(n^2-1))$ when there are no ties.
pub fn spearman(x: &[f64], y: &[f64]) -> Result<f64, AnalysisError> {
    if x.len() != y.len() {
        return Err(AnalysisError::LengthMismatch { what: "Spearman correlation", a: x.len(), b: y.len() });
    }
    pearson(&ranks(x)?, &ranks(y)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    /// Closed forms of the t quantile for 1 and 2 degrees of freedom (Cauchy, and
    /// $t = (2p-1)/\sqrt{2p(1-p)}$; e.g. Hill 1970, CACM 13(10) "Algorithm 396", and the
    /// "Student's t-distribution" article's table of special cases).
    #[test]
    fn t_quantile_matches_closed_forms() {
        for &p in &[0.001, 0.01, 0.1, 0.3, 0.6, 0.9, 0.975, 0.995, 0.9999] {
            let cauchy = (std::f64::consts::PI * (p - 0.5)).tan();
            let t1 = student_t_quantile(p, 1.0).unwrap();
            assert!((t1 - cauchy).abs() <= 1e-10 * cauchy.abs().max(1.0), "df=1 p={p}: {t1} vs {cauchy}");
            let two = (2.0 * p - 1.0) / (2.0 * p * (1.0 - p)).sqrt();
            let t2 = student_t_quantile(p, 2.0).unwrap();
            assert!((t2 - two).abs() <= 1e-10 * two.abs().max(1.0), "df=2 p={p}: {t2} vs {two}");
        }
    }

    /// Published critical values: NIST/SEMATECH e-Handbook of Statistical Methods, section
    /// 1.3.6.7.2 "Critical Values of the Student's t Distribution" (upper-tail probabilities 0.05,
    /// 0.025, 0.005; three decimals), and the normal quantile 1.959964 (Abramowitz & Stegun
    /// table 26.5 / 26.2.23 context: $z_{0.975} = 1.95996$).
    #[test]
    fn t_quantile_matches_nist_table() {
        let table: &[(f64, f64, f64)] = &[
            // (df, p, t)
            (3.0, 0.975, 3.182),
            (3.0, 0.95, 2.353),
            (4.0, 0.975, 2.776),
            (5.0, 0.975, 2.571),
            (5.0, 0.95, 2.015),
            (10.0, 0.975, 2.228),
            (10.0, 0.95, 1.812),
            (10.0, 0.995, 3.169),
            (20.0, 0.975, 2.086),
            (30.0, 0.975, 2.042),
            (100.0, 0.975, 1.984),
        ];
        for &(df, p, t) in table {
            let got = student_t_quantile(p, df).unwrap();
            assert!((got - t).abs() <= 5.0e-4 + 1e-12, "df={df} p={p}: {got} vs table {t}");
            let lower = student_t_quantile(1.0 - p, df).unwrap();
            assert!((lower + got).abs() < 1e-12, "symmetry");
        }
        let z = normal_quantile(0.975).unwrap();
        assert!((z - 1.959964).abs() < 1e-6, "{z}");
    }

    /// The CDF against Simpson quadrature of the density
    /// $f(t) = \Gamma(\frac{\nu+1}2)/(\sqrt{\nu\pi}\Gamma(\frac\nu2)) (1 + t^2/\nu)^{-(\nu+1)/2}$.
    #[test]
    fn t_cdf_matches_quadrature_of_density() {
        for &df in &[1.5, 3.0, 7.0, 25.0] {
            let c =
                (libm::lgamma(0.5 * (df + 1.0)) - libm::lgamma(0.5 * df)).exp() / (df * std::f64::consts::PI).sqrt();
            let f = |t: f64| c * (1.0 + t * t / df).powf(-0.5 * (df + 1.0));
            for &t in &[0.3, 1.0, 2.5, 4.0] {
                let m = 20_000;
                let h = t / m as f64;
                let mut s = f(0.0) + f(t);
                for k in 1..m {
                    s += if k % 2 == 1 { 4.0 } else { 2.0 } * f(k as f64 * h);
                }
                let quad = 0.5 + s * h / 3.0;
                let cdf = student_t_cdf(t, df).unwrap();
                assert!((cdf - quad).abs() < 1e-10, "df={df} t={t}: {cdf} vs {quad}");
            }
        }
    }

    #[test]
    fn t_rejects_bad_arguments() {
        assert!(student_t_quantile(0.0, 3.0).is_err());
        assert!(student_t_quantile(1.0, 3.0).is_err());
        assert!(student_t_quantile(0.5, 0.0).is_err());
        assert!(student_t_quantile(0.5, f64::NAN).is_err());
        assert!(inc_beta(-1.0, 1.0, 0.5).is_err());
        assert!(inc_beta(1.0, 1.0, 1.5).is_err());
    }

    /// Hand computation: x = 1..4, y = (2, 3, 5, 6): xbar = 2.5, ybar = 4, Sxx = 5, Sxy = 7,
    /// slope 1.4, intercept 0.5, residuals (0.1, -0.3, 0.3, -0.1), SSR = 0.2, s^2 = 0.1,
    /// se(b) = sqrt(0.02), se(a) = sqrt(0.1 (1/4 + 6.25/5)) = sqrt(0.15), R^2 = 1 - 0.2/10 = 0.98,
    /// t_{0.975,2} = 4.303 (NIST table).
    #[test]
    fn ols_hand_example() {
        let f = linear_fit(&[1.0, 2.0, 3.0, 4.0], &[2.0, 3.0, 5.0, 6.0], None, 0.95).unwrap();
        assert!((f.slope - 1.4).abs() < 1e-12);
        assert!((f.intercept - 0.5).abs() < 1e-12);
        assert!((f.se_slope - 0.02f64.sqrt()).abs() < 1e-12);
        assert!((f.se_intercept - 0.15f64.sqrt()).abs() < 1e-12);
        assert!((f.r_squared - 0.98).abs() < 1e-12);
        assert!((f.t_crit - 4.303).abs() < 5e-4);
        assert!((f.ci_slope[0] - (1.4 - 4.303 * 0.02f64.sqrt())).abs() < 1e-3);
        assert!((f.ci_slope[1] - (1.4 + 4.303 * 0.02f64.sqrt())).abs() < 1e-3);
        assert!(f.ci_contains(1.0) && !f.ci_contains(0.0));
    }

    /// Integer weights give the same line as replicating the points (an independent route to the
    /// weighted estimate); constant weights give OLS exactly.
    #[test]
    fn weighted_fit_equals_replicated_points() {
        let x = [0.0, 1.0, 2.0, 3.0, 5.0];
        let y = [1.0, 2.5, 2.9, 4.4, 7.1];
        let w = [1.0, 3.0, 2.0, 1.0, 4.0];
        let fw = linear_fit(&x, &y, Some(&w), 0.95).unwrap();
        let (mut xr, mut yr) = (vec![], vec![]);
        for i in 0..x.len() {
            for _ in 0..w[i] as usize {
                xr.push(x[i]);
                yr.push(y[i]);
            }
        }
        let fr = linear_fit(&xr, &yr, None, 0.95).unwrap();
        assert!((fw.slope - fr.slope).abs() < 1e-12 && (fw.intercept - fr.intercept).abs() < 1e-12);
        let f1 = linear_fit(&x, &y, None, 0.95).unwrap();
        let fc = linear_fit(&x, &y, Some(&[7.0; 5]), 0.95).unwrap();
        assert!((f1.slope - fc.slope).abs() < 1e-12 && (f1.se_slope - fc.se_slope).abs() < 1e-12);
    }

    /// Monte Carlo: the 95% interval of the slope covers the true slope in about 95% of
    /// replications of Gaussian-noise data (checks the standard error and the t quantile together).
    #[test]
    fn slope_interval_has_nominal_coverage() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
        let noise = Normal::new(0.0, 0.3).unwrap();
        let x: Vec<f64> = (0..5).map(|i| (4.0 * 2f64.powi(i)).ln()).collect();
        let reps = 4000;
        let mut covered = 0;
        for _ in 0..reps {
            let y: Vec<f64> = x.iter().map(|&xi| 2.0 - xi + noise.sample(&mut rng)).collect();
            if linear_fit(&x, &y, None, 0.95).unwrap().ci_contains(-1.0) {
                covered += 1;
            }
        }
        let rate = covered as f64 / reps as f64;
        // binomial sd at 0.95 with 4000 reps is 0.0034; allow 4 sd
        assert!((rate - 0.95).abs() < 0.014, "coverage {rate}");
    }

    #[test]
    fn linear_fit_rejects_bad_input() {
        assert!(matches!(linear_fit(&[1.0, 2.0], &[1.0, 2.0], None, 0.95), Err(AnalysisError::TooFew { .. })));
        assert!(matches!(linear_fit(&[1.0; 3], &[1.0, 2.0, 3.0], None, 0.95), Err(AnalysisError::Degenerate { .. })));
        assert!(linear_fit(&[1.0, 2.0, 3.0], &[1.0, f64::NAN, 3.0], None, 0.95).is_err());
        assert!(linear_fit(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0], Some(&[1.0, 0.0, 1.0]), 0.95).is_err());
        assert!(linear_fit(&[1.0, 2.0, 3.0], &[1.0, 2.0], None, 0.95).is_err());
    }

    #[test]
    fn ranks_average_ties() {
        assert_eq!(ranks(&[10.0, 30.0, 20.0, 20.0, 5.0]).unwrap(), vec![2.0, 5.0, 3.5, 3.5, 1.0]);
        assert_eq!(ranks(&[1.0, 1.0, 1.0]).unwrap(), vec![2.0, 2.0, 2.0]);
        assert!(ranks(&[1.0, f64::NAN]).is_err());
    }

    /// Hand computations. No ties: x = (1..5), y = (2, 1, 4, 3, 5): d = (-1, 1, -1, 1, 0),
    /// sum d^2 = 4, rho = 1 - 6*4/(5*24) = 0.8. With ties: y = (5, 6, 7, 8, 7) has ranks
    /// (1, 2, 3.5, 5, 3.5); deviations (-2,-1,0,1,2) and (-2,-1,0.5,2,0.5): rho = 8/sqrt(10*9.5).
    #[test]
    fn spearman_hand_examples() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert!((spearman(&x, &[2.0, 1.0, 4.0, 3.0, 5.0]).unwrap() - 0.8).abs() < 1e-12);
        let r = spearman(&x, &[5.0, 6.0, 7.0, 8.0, 7.0]).unwrap();
        assert!((r - 8.0 / 95f64.sqrt()).abs() < 1e-12, "{r}");
        // invariant under monotone transforms, sign flips under reversal
        let y: Vec<f64> = x.iter().map(|v: &f64| v.exp()).collect();
        assert!((spearman(&x, &y).unwrap() - 1.0).abs() < 1e-12);
        let yr: Vec<f64> = x.iter().map(|v| -v * v).collect();
        assert!((spearman(&x, &yr).unwrap() + 1.0).abs() < 1e-12);
        assert!(matches!(spearman(&x, &[1.0; 5]), Err(AnalysisError::Degenerate { .. })));
    }

    #[test]
    fn summary_statistics() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        // sd of (2,4,4,4,5,5,7,9): sum of squares 32, n-1 = 7
        assert!((sample_sd(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap() - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert_eq!(sample_sd(&[1.0]), None);
    }
}
