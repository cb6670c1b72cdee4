//! Axes: the transformed coordinate space (linear or $\log_{10}$), axis ranges, and the tick
//! positions and labels of one [`Axis`] (decades $10^k$ on log axes).

use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};

use super::style::{text_width, FigureError, TICK_PX};
use super::ticks::{nice_step, plain_label, sci_label, superscript};

/// Map a data value to the axis' linear space: $\log_{10} v$ (for $v > 0$) on a log axis, $v$ on a
/// linear axis. `None` for non-finite values and, on a log axis, for $v \le 0$.
pub(super) fn fwd(v: f64, log: bool) -> Option<f64> {
    if !v.is_finite() {
        return None;
    }
    if log {
        if v > 0.0 {
            Some(v.log10())
        } else {
            None
        }
    } else {
        Some(v)
    }
}

/// One axis in transformed space: its range and tick positions. Implements plotters' [`Ranged`]
/// (linear map) so the mesh draws grid lines and labels exactly at our ticks.
#[derive(Clone, Debug)]
pub(super) struct Axis {
    pub(super) lo: f64,
    pub(super) hi: f64,
    /// Labelled ticks (transformed coordinates).
    pub(super) major: Vec<f64>,
    /// Unlabelled minor grid positions.
    pub(super) minor: Vec<f64>,
    /// Label per major tick.
    pub(super) labels: Vec<String>,
}

impl Axis {
    /// Replace the ticks by explicit ones at `at` (transformed coordinates) with these labels, and
    /// no minor ticks.
    pub(super) fn with_ticks(mut self, at: Vec<f64>, labels: Vec<String>) -> Self {
        self.major = at;
        self.labels = labels;
        self.minor.clear();
        self
    }

    /// Build the axis for the transformed range `[lo, hi]` (`lo < hi`).
    pub(super) fn new(lo: f64, hi: f64, log: bool) -> Self {
        let mut ax = Axis { lo, hi, major: vec![], minor: vec![], labels: vec![] };
        if log {
            ax.log_ticks();
        } else {
            ax.linear_ticks();
        }
        ax
    }

    pub(super) fn inside(&self, t: f64) -> bool {
        let eps = (self.hi - self.lo) * 1e-9;
        t >= self.lo - eps && t <= self.hi + eps
    }

    fn linear_ticks(&mut self) {
        let (lo, hi) = (self.lo, self.hi);
        let (step, nminor) = nice_step(hi - lo, 5.0);
        let k0 = (lo / step - 1e-9).ceil() as i64;
        let k1 = (hi / step + 1e-9).floor() as i64;
        let big = lo.abs().max(hi.abs());
        let use_sci = !(1e-2..1e4).contains(&big);
        let decimals = (-(step.log10() + 1e-9).floor()).max(0.0) as usize;
        for k in k0..=k1 {
            let v = k as f64 * step;
            let v = if v.abs() < step * 1e-9 { 0.0 } else { v };
            self.major.push(v);
            self.labels.push(if use_sci {
                let digits =
                    if v == 0.0 { 0 } else { ((v.abs().log10().floor() - step.log10().floor()).max(0.0)) as usize };
                sci_label(v, digits)
            } else {
                plain_label(v, decimals)
            });
        }
        let mstep = step / nminor as f64;
        let m0 = (lo / mstep - 1e-9).ceil() as i64;
        let m1 = (hi / mstep + 1e-9).floor() as i64;
        for k in m0..=m1 {
            if k.rem_euclid(nminor as i64) != 0 {
                self.minor.push(k as f64 * mstep);
            }
        }
    }

    fn log_ticks(&mut self) {
        let (lo, hi) = (self.lo, self.hi);
        let d0 = (lo - 1e-9).ceil() as i32;
        let d1 = (hi + 1e-9).floor() as i32;
        let ndec = d1 - d0 + 1; // number of decades 10^k inside the range
        if ndec >= 2 && hi - lo >= 2.5 {
            self.decade_ticks(d0, d1);
        } else if !self.mantissa_ticks(d0, d1) {
            self.narrow_log_ticks();
        }
    }

    /// At least 2.5 decades: label decades $10^k$ (every `stride`-th one when there are many),
    /// with minor ticks at the other decades, or at $m \cdot 10^k$ when there are few.
    fn decade_ticks(&mut self, d0: i32, d1: i32) {
        let ndec = d1 - d0 + 1;
        let stride = ((ndec as f64) / 7.0).ceil().max(1.0) as i32;
        for k in d0..=d1 {
            if (k - d0) % stride == 0 {
                self.major.push(k as f64);
                self.labels.push(format!("10{}", superscript(k)));
            } else {
                self.minor.push(k as f64);
            }
        }
        if stride == 1 && ndec <= 8 {
            for k in (d0 - 1)..=d1 {
                for m in 2..=9 {
                    let t = k as f64 + (m as f64).log10();
                    if self.inside(t) {
                        self.minor.push(t);
                    }
                }
            }
        }
    }

    /// Less than 2.5 decades: label 1-2-5 (then 1..9) multiples of powers of ten. `false` (ticks
    /// cleared) when fewer than 3 labels fit.
    fn mantissa_ticks(&mut self, d0: i32, d1: i32) -> bool {
        for mults in [&[1.0, 2.0, 5.0][..], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0][..]] {
            self.major.clear();
            self.labels.clear();
            self.minor.clear();
            for k in (d0 - 1)..=(d1 + 1) {
                for m in 1..=9 {
                    let t = k as f64 + (m as f64).log10();
                    if !self.inside(t) {
                        continue;
                    }
                    if mults.contains(&(m as f64)) {
                        self.major.push(t);
                        let v = m as f64 * 10f64.powi(k);
                        self.labels.push(if (1e-2..1e4).contains(&v) {
                            plain_label(v, (-(k.min(0))) as usize)
                        } else {
                            sci_label(v, 0)
                        });
                    } else {
                        self.minor.push(t);
                    }
                }
            }
            if self.major.len() >= 3 {
                return true;
            }
        }
        false
    }

    /// Narrow range: linear nice ticks on the value scale, placed at their logs.
    fn narrow_log_ticks(&mut self) {
        let (vlo, vhi) = (10f64.powf(self.lo), 10f64.powf(self.hi));
        let (step, _) = nice_step(vhi - vlo, 5.0);
        self.major.clear();
        self.labels.clear();
        self.minor.clear();
        let k0 = (vlo / step - 1e-9).ceil() as i64;
        let k1 = (vhi / step + 1e-9).floor() as i64;
        let digits = (vhi.log10().floor() - step.log10().floor()).max(0.0) as usize;
        let decimals = (-(step.log10() + 1e-9).floor()).max(0.0) as usize;
        for k in k0..=k1 {
            let v = k as f64 * step;
            if v > 0.0 {
                self.major.push(v.log10());
                self.labels.push(if (1e-2..1e4).contains(&vhi) {
                    plain_label(v, decimals)
                } else {
                    sci_label(v, digits)
                });
            }
        }
    }

    /// Label of the major tick at `t` (empty for a non-tick value).
    fn label(&self, t: f64) -> String {
        let tol = (self.hi - self.lo) * 1e-9;
        self.major.iter().position(|m| (m - t).abs() <= tol).map(|i| self.labels[i].clone()).unwrap_or_default()
    }

    /// Width of a y label area for this axis: room for the widest tick label plus the rotated
    /// axis title (72 px at least, the default that fits labels such as `10⁻⁵`).
    pub(super) fn label_area(&self) -> u32 {
        let widest = self.labels.iter().map(|l| text_width(l, TICK_PX * 1.24)).fold(0.0, f64::max);
        (widest + 38.0).ceil().max(72.0) as u32
    }
}

impl Ranged for Axis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let frac = (v - self.lo) / (self.hi - self.lo);
        let len = (limit.1 - limit.0) as f64;
        let p = limit.0 as f64 + frac * len;
        p.round().clamp(-1e6, 1e6) as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        let mut pts: Vec<f64> = self.major.iter().copied().filter(|t| self.inside(*t)).collect();
        if hint.weight().allow_light_points() {
            pts.extend(self.minor.iter().copied().filter(|t| self.inside(*t)));
        }
        pts
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

impl ValueFormatter<f64> for Axis {
    fn format_ext(&self, value: &f64) -> String {
        self.label(*value)
    }
}

/// Transformed range covering `vals` (with a relative margin), or an explicit range.
pub(super) fn axis_range(
    vals: impl Iterator<Item = f64>,
    log: bool,
    explicit: Option<(f64, f64)>,
    margin: f64,
) -> Result<(f64, f64), FigureError> {
    if let Some((a, b)) = explicit {
        let (ta, tb) = match (fwd(a, log), fwd(b, log)) {
            (Some(ta), Some(tb)) if tb > ta => (ta, tb),
            _ => {
                return Err(FigureError::Coordinates(format!(
                    "explicit axis range ({a}, {b}) must be finite, increasing{}",
                    if log { " and positive (log axis)" } else { "" }
                )))
            }
        };
        return Ok((ta, tb));
    }
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals {
        if let Some(t) = fwd(v, log) {
            lo = lo.min(t);
            hi = hi.max(t);
        }
    }
    if !lo.is_finite() {
        return Ok((0.0, 1.0));
    }
    if hi - lo < 1e-12 * (1.0 + lo.abs()) {
        return Ok(widen_flat(lo, hi, log));
    }
    let pad = (hi - lo) * margin;
    Ok((lo - pad, hi + pad))
}

/// A range for data with (almost) no spread: half a decade each side on a log scale, 10% of the
/// value on a linear one (1 around zero).
pub(super) fn widen_flat(lo: f64, hi: f64, log: bool) -> (f64, f64) {
    let d = if log {
        0.5
    } else if lo == 0.0 {
        1.0
    } else {
        0.1 * lo.abs()
    };
    (lo - d, hi + d)
}

/// Transformed grid coordinates, which must be valid on the axis and strictly increasing (`what`
/// names them in the error).
pub(super) fn transform_coords(v: &[f64], log: bool, what: &str) -> Result<Vec<f64>, FigureError> {
    let t: Vec<f64> = v
        .iter()
        .map(|&x| {
            fwd(x, log).ok_or_else(|| {
                FigureError::Coordinates(format!(
                    "{what} coordinate {x} is not {}",
                    if log { "finite and positive (log axis)" } else { "finite" }
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    if t.windows(2).any(|w| w[1] <= w[0]) {
        return Err(FigureError::Coordinates(format!("{what} coordinates must be strictly increasing")));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_axis_ticks_are_decades_in_scientific_notation() {
        let ax = Axis::new(-4.2, 1.3, true);
        assert_eq!(ax.labels, vec!["10⁻⁴", "10⁻³", "10⁻²", "10⁻¹", "10⁰", "10¹"]);
        let two = Axis::new(0.0, 54f64.log10(), true);
        assert_eq!(two.labels, vec!["1", "2", "5", "10", "20", "50"]);
        let narrow = Axis::new(0.1, 0.9, true); // 1.26 .. 7.9
        assert_eq!(narrow.labels, vec!["2", "3", "4", "5", "6", "7"]);
        let narrower = Axis::new(1.188f64.log10(), 2.00009f64.log10(), true);
        assert_eq!(narrower.labels, vec!["1.2", "1.4", "1.6", "1.8", "2.0"]);
        let lin = Axis::new(0.0, 1.0, false);
        assert_eq!(lin.labels, vec!["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        let big = Axis::new(0.0, 3e5, false);
        assert!(big.labels.iter().any(|l| l.contains("×10⁵")), "{:?}", big.labels);
    }

    #[test]
    fn ranges_and_coordinates() {
        assert_eq!(fwd(100.0, true), Some(2.0));
        assert_eq!(fwd(-1.0, true), None);
        assert_eq!(fwd(f64::NAN, false), None);
        let (lo, hi) = axis_range([3.0, 3.0].into_iter(), false, None, 0.1).unwrap();
        assert!((lo - 2.7).abs() < 1e-12 && (hi - 3.3).abs() < 1e-12, "{lo} {hi}");
        assert_eq!(axis_range(std::iter::empty(), true, None, 0.1).unwrap(), (0.0, 1.0));
        assert!(axis_range(std::iter::empty(), true, Some((0.0, 1.0)), 0.1).is_err());
        assert!(transform_coords(&[1.0, 1.0], false, "x").is_err());
        assert_eq!(transform_coords(&[1.0, 10.0], true, "x").unwrap(), vec![0.0, 1.0]);
    }
}
