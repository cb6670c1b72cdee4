//! Does a metric's level set follow the accuracy ridge? A transform-invariant score in units of
//! one grid step.
//!
//! Let the ridge be $\ln v^*_L$ at the depths $L$ of a grid whose variance step is $\Delta$ (in
//! $\ln v$). For a metric $m$, take the level $m^\circ$ = the lower median (the order statistic of
//! rank $\lceil n/2\rceil$) of $m$ on the ridge, and at every ridge depth the $\ln v^m_L$ where the
//! metric, interpolated linearly in $\ln v$ along the row, crosses $m^\circ$ (the crossing nearest to
//! the ridge when there are several). The **contour offset** of $m$ is
//! $$\mathrm{off}(m) = \sqrt{\frac1n\sum_L\Big(\frac{\ln v^*_L - \ln v^m_L}{\Delta}\Big)^2}:$$
//! how many grid steps, root-mean-square, the contour of $m$ through the ridge strays from it. A
//! crossing outside the row is censored at the row's end (the offset is then at least that large)
//! and counted.
//!
//! An increasing transform of $m$ has the same level sets and the same order statistics, so the
//! offset does not change (up to the linear interpolation within one cell); the old ratio of
//! standard deviations did (0.057 for $G$, 0.133 for $\ln G$). The two null metrics are
//! $\ln v$ itself (its contours are vertical: the offset measures how far the ridge moves at all)
//! and $\ln(v L)$ (the contours of slope $-1$: the offset measures the ridge's departure from
//! $v^* \propto 1/L$). A metric is informative only where it beats them.

use super::stats;
use super::AnalysisError;
use serde::{Deserialize, Serialize};

/// One row of a grid as the offset needs it: the depth, $\ln v$ of its cells (increasing) and the
/// metric there (non-finite values are skipped).
#[derive(Clone, Debug, PartialEq)]
pub struct MetricRow {
    pub depth: usize,
    pub log_v: Vec<f64>,
    pub metric: Vec<f64>,
}

/// The contour offset of a metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContourOffset {
    /// The level $m^\circ$.
    pub level: f64,
    /// $(L, (\ln v^*_L - \ln v^m_L)/\Delta)$ per ridge depth.
    pub offsets: Vec<(usize, f64)>,
    /// $\mathrm{off}(m)$ in grid steps.
    pub rms_steps: f64,
    /// Depths where the contour left the row (offset censored at the row's end).
    pub censored: Vec<usize>,
}

/// Linear interpolation of the metric of `row` at `lv` (clamped to the row's ends).
pub fn metric_at(row: &MetricRow, lv: f64) -> Option<f64> {
    let pts: Vec<(f64, f64)> =
        row.log_v.iter().zip(&row.metric).filter(|(_, m)| m.is_finite()).map(|(x, m)| (*x, *m)).collect();
    let n = pts.len();
    if n == 0 {
        return None;
    }
    if lv <= pts[0].0 || n == 1 {
        return Some(pts[0].1);
    }
    if lv >= pts[n - 1].0 {
        return Some(pts[n - 1].1);
    }
    let k = pts.partition_point(|p| p.0 <= lv).clamp(1, n - 1);
    let ((x0, y0), (x1, y1)) = (pts[k - 1], pts[k]);
    Some(y0 + (lv - x0) / (x1 - x0) * (y1 - y0))
}

/// Where the row's metric crosses `level`, nearest to `near`; `Err(end)` with the row end nearest
/// to `near` when it does not cross.
fn crossing(row: &MetricRow, level: f64, near: f64) -> Result<f64, f64> {
    let pts: Vec<(f64, f64)> =
        row.log_v.iter().zip(&row.metric).filter(|(_, m)| m.is_finite()).map(|(x, m)| (*x, *m)).collect();
    let mut best: Option<f64> = None;
    for w in pts.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        if (y0 - level) * (y1 - level) <= 0.0 && y0 != y1 {
            let x = x0 + (level - y0) / (y1 - y0) * (x1 - x0);
            if best.is_none_or(|b| (x - near).abs() < (b - near).abs()) {
                best = Some(x);
            }
        } else if y0 == level && best.is_none_or(|b| (x0 - near).abs() < (b - near).abs()) {
            best = Some(x0);
        }
    }
    best.ok_or_else(|| {
        // the end of the row towards which the metric approaches the level
        let (first, last) = (pts.first().map_or(near, |p| p.0), pts.last().map_or(near, |p| p.0));
        let (yf, yl) = (pts.first().map_or(0.0, |p| p.1), pts.last().map_or(0.0, |p| p.1));
        if (yf - level).abs() < (yl - level).abs() {
            first
        } else {
            last
        }
    })
}

/// The contour offset (see the module documentation) of the metric given on `rows`, for the
/// ridge `ridge` = $(L, \ln v^*_L)$ and grid step `step` $= \Delta > 0$. Needs two ridge depths
/// that have a row with a finite metric.
pub fn contour_offset(rows: &[MetricRow], ridge: &[(usize, f64)], step: f64) -> Result<ContourOffset, AnalysisError> {
    if !(step > 0.0 && step.is_finite()) {
        return Err(AnalysisError::Invalid { what: "grid step", value: step, why: "need 0 < step < inf" });
    }
    let on_ridge: Vec<(usize, f64, &MetricRow)> = ridge
        .iter()
        .filter_map(|&(d, lv)| rows.iter().find(|r| r.depth == d).map(|r| (d, lv, r)))
        .filter(|(_, lv, r)| metric_at(r, *lv).is_some_and(f64::is_finite))
        .collect();
    if on_ridge.len() < 2 {
        return Err(AnalysisError::TooFew { what: "contour offset (ridge depths)", need: 2, got: on_ridge.len() });
    }
    let mut vals: Vec<f64> = on_ridge.iter().map(|(_, lv, r)| metric_at(r, *lv).expect("filtered")).collect();
    vals.sort_by(f64::total_cmp);
    let level = vals[(vals.len() - 1) / 2];
    let mut offsets = Vec::new();
    let mut censored = Vec::new();
    for (d, lv, r) in on_ridge {
        let x = match crossing(r, level, lv) {
            Ok(x) => x,
            Err(end) => {
                censored.push(d);
                end
            }
        };
        offsets.push((d, (lv - x) / step));
    }
    let sq: Vec<f64> = offsets.iter().map(|(_, o)| o * o).collect();
    let rms_steps = stats::mean(&sq).expect("two or more").sqrt();
    Ok(ContourOffset { level, offsets, rms_steps, censored })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic world where the truth is known: the ridge is $\ln v^* = 1 - \frac12 \ln L$
    /// (slope $-1/2$, not $-1$), and the true metric is $m = \ln v + \frac12 \ln L$, constant on it.
    fn world(metric: &dyn Fn(f64, usize) -> f64) -> (Vec<MetricRow>, Vec<(usize, f64)>, f64) {
        let depths = [4usize, 16, 64, 256, 1024];
        let step = 0.5;
        let log_v: Vec<f64> = (0..25).map(|i| -8.0 + step * i as f64).collect();
        let rows = depths
            .iter()
            .map(|&d| MetricRow {
                depth: d,
                log_v: log_v.clone(),
                metric: log_v.iter().map(|&x| metric(x, d)).collect(),
            })
            .collect();
        let ridge = depths.iter().map(|&d| (d, 1.0 - 0.5 * (d as f64).ln())).collect();
        (rows, ridge, step)
    }

    /// The true metric passes (offset ~0 steps); both nulls fail by several grid steps, computed
    /// by hand: over $\ln L = \ln 4 \dots \ln 1024$ (spacing $\ln 4$) the ridge moves by
    /// $\frac12 \ln 256 = 2.77$, i.e. 5.5 steps. For $\ln v$ (vertical contours) the offsets are
    /// $-\frac12(\ln L - \ln 64)/\Delta = (2.77, 1.39, 0, -1.39, -2.77)$, RMS $\sqrt{(2 \cdot 7.69 + 2 \cdot 1.92)/5} = 1.96$;
    /// for $\ln(vL)$ the offsets are $+\frac12(\ln L - \ln 64)/\Delta$, the same RMS.
    #[test]
    fn nulls_fail_where_the_truth_is_known() {
        let truth = |x: f64, d: usize| x + 0.5 * (d as f64).ln();
        let (rows, ridge, step) = world(&truth);
        let t = contour_offset(&rows, &ridge, step).unwrap();
        assert!(t.rms_steps < 1e-9 && t.censored.is_empty(), "{t:?}");
        let want = ((2.0 * (2.0 * 4f64.ln()).powi(2) + 2.0 * 4f64.ln().powi(2)) / 5.0).sqrt();
        for null in [&(|x: f64, _d: usize| x) as &dyn Fn(f64, usize) -> f64, &|x: f64, d: usize| x + (d as f64).ln()] {
            let (rows, ridge, step) = world(null);
            let o = contour_offset(&rows, &ridge, step).unwrap();
            assert!((o.rms_steps - want).abs() < 1e-9, "{} vs {want}", o.rms_steps);
            assert!(o.rms_steps > 1.0);
        }
    }

    /// Monotone transforms leave the offset unchanged up to the linear interpolation inside one
    /// cell: $\exp(m)$ and $m^3$ of a metric whose contours stray from the ridge give the same
    /// offset as $m$ within 0.1 grid step (an affine transform: exactly). The old ratio of standard
    /// deviations changes by a factor of two or more under such transforms.
    #[test]
    fn invariant_under_increasing_transforms() {
        let base = |x: f64, d: usize| x + 0.4 * (d as f64).ln();
        let (rows, ridge, step) = world(&base);
        let o = contour_offset(&rows, &ridge, step).unwrap();
        for f in [&(|m: f64| m.exp()) as &dyn Fn(f64) -> f64, &|m: f64| m * m * m, &|m: f64| 3.0 * m + 2.0] {
            let (rows, ridge, step) = world(&|x, d| f(base(x, d)));
            let p = contour_offset(&rows, &ridge, step).unwrap();
            assert!((p.rms_steps - o.rms_steps).abs() < 0.1, "{} vs {}", p.rms_steps, o.rms_steps);
        }
    }

    #[test]
    fn censored_and_bad_input() {
        // a metric that never reaches the ridge level at the deepest row
        let m = |x: f64, d: usize| if d == 1024 { x.min(-7.0) } else { x + 0.5 * (d as f64).ln() };
        let (rows, ridge, step) = world(&m);
        let o = contour_offset(&rows, &ridge, step).unwrap();
        assert!(o.censored.contains(&1024));
        assert!(contour_offset(&rows, &ridge[..1], step).is_err());
        assert!(contour_offset(&rows, &ridge, 0.0).is_err());
    }
}
