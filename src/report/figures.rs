//! Paper-style figures rendered to SVG text with plotters' SVG backend.
//!
//! Two figure kinds cover the report: [`LinePlot`] (curves, markers, shaded bands, reference lines,
//! linear or logarithmic axes) and [`Heatmap`] (a colour field over a grid with a colour bar,
//! missing / diverged cells, contour lines of a second field and labelled markers).
//!
//! Fonts: plotters is built without its `ttf` / `ab_glyph` features. With the SVG backend, text is
//! emitted as `<text>` elements that the viewer (browser) typesets with its own fonts; plotters only
//! needs a *size estimate* for layout, which its built-in "naive" font provides. So labels, ticks and
//! legends need no font file and no system font library at build or run time.
//!
//! Coordinates: every axis is handled in a *transformed* space, $t = \log_{10} v$ on a log axis and
//! $t = v$ on a linear axis; plotters only ever sees linear coordinates in that space, and the tick
//! positions / labels (decades $10^k$ on log axes) are computed here ([`Axis`]).
//!
//! Contours are computed by [`marching_squares`] / [`contour_lines`] (plotters has none).

use std::collections::HashMap;
use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Default figure width in pixels (the SVG is responsive once inlined; this fixes the aspect).
pub const WIDTH: u32 = 640;
/// Default figure height in pixels.
pub const HEIGHT: u32 = 420;

/// Okabe–Ito colour-blind-safe palette (Okabe & Ito 2008, "Color Universal Design"), reordered so
/// the first colours have the most contrast on white. Yellow comes last (weak on white).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
    RGBColor(0x00, 0x00, 0x00), // black
    RGBColor(0xF0, 0xE4, 0x42), // yellow
];

const FONT: &str = "sans-serif";
const TICK_PX: f64 = 12.5;
const LABEL_PX: f64 = 14.5;
const TITLE_PX: f64 = 15.0;
const LEGEND_PX: f64 = 12.5;
const NOTE_GREY: RGBColor = RGBColor(0x70, 0x70, 0x70);
const MISSING_GREY: RGBColor = RGBColor(0xD9, 0xD9, 0xD9);
const HATCH_GREY: RGBColor = RGBColor(0x8C, 0x8C, 0x8C);

/// Errors while building a figure.
#[derive(Debug, thiserror::Error)]
pub enum FigureError {
    /// The plotters backend failed (should not happen with the in-memory SVG backend).
    #[error("drawing the figure failed: {0}")]
    Draw(String),
    /// Inconsistent input shapes (e.g. heatmap rows vs. `y`).
    #[error("figure data has inconsistent shape: {0}")]
    Shape(String),
    /// Invalid coordinates or range (non-finite, not increasing, non-positive on a log axis).
    #[error("invalid figure coordinates: {0}")]
    Coordinates(String),
}

fn draw_err<E: std::fmt::Debug>(e: E) -> FigureError {
    FigureError::Draw(format!("{e:?}"))
}

/// Round the `font-size` attributes plotters writes (`15.000000000000002` -> `15`).
fn tidy_svg(svg: String) -> String {
    const KEY: &str = "font-size=\"";
    let mut out = String::with_capacity(svg.len());
    let mut rest = svg.as_str();
    while let Some(p) = rest.find(KEY) {
        let start = p + KEY.len();
        out.push_str(&rest[..start]);
        let len = rest[start..].find('"').unwrap_or(0);
        let num = &rest[start..start + len];
        match num.parse::<f64>() {
            Ok(v) => out.push_str(&format!("{}", (v * 10.0).round() / 10.0)),
            Err(_) => out.push_str(num),
        }
        rest = &rest[start + len..];
    }
    out.push_str(rest);
    out
}

/// Plotters' SVG backend writes `font-size = size / 1.24`; this returns a font whose rendered size
/// is `px` pixels.
fn font(px: f64) -> FontDesc<'static> {
    FontDesc::new(FontFamily::Name(FONT), px * 1.24, FontStyle::Normal)
}

/// Rough rendered width of `text` in a sans-serif font of size `px` (plotters' own estimate counts
/// bytes, which over-estimates non-ASCII labels such as Greek letters).
fn text_width(text: &str, px: f64) -> f64 {
    text.chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '.' | ',' | ':' | ';' | '|' | '!' | '\'' | ' ' | '(' | ')' | '['
            | ']' => 0.30,
            'm' | 'w' | 'M' | 'W' => 0.85,
            c if c.is_ascii_uppercase() => 0.68,
            '⁰'..='⁹' | '⁻' | '¹' | '²' | '³' => 0.40,
            _ => 0.56,
        })
        .sum::<f64>()
        * px
}

// ---------------------------------------------------------------------------------------------
// Axes: transformed coordinates, ticks and labels
// ---------------------------------------------------------------------------------------------

/// Map a data value to the axis' linear space: $\log_{10} v$ (for $v > 0$) on a log axis, $v$ on a
/// linear axis. `None` for non-finite values and, on a log axis, for $v \le 0$.
fn fwd(v: f64, log: bool) -> Option<f64> {
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

/// Superscript form of an integer exponent: `-3` -> `⁻³`.
fn superscript(n: i32) -> String {
    n.to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            '9' => '⁹',
            c => c,
        })
        .collect()
}

/// Scientific label `m×10ᵏ` with `digits` decimals in the mantissa (`10ᵏ` when the mantissa is 1).
fn sci_label(v: f64, digits: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let s = format!("{:.*e}", digits, v);
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    let m_val: f64 = m.parse().unwrap_or(v);
    if (m_val - 1.0).abs() < 1e-12 {
        format!("10{}", superscript(e))
    } else if (m_val + 1.0).abs() < 1e-12 {
        format!("−10{}", superscript(e))
    } else {
        format!("{}×10{}", m.replace('-', "−"), superscript(e))
    }
}

/// Plain decimal label with `decimals` digits, with a true minus sign and no `-0`.
fn plain_label(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v);
    let s = if s
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        s.trim_start_matches('-').to_string()
    } else {
        s
    };
    s.replace('-', "−")
}

/// Compact general-purpose number format (3 significant digits), used for contour levels.
pub fn format_number(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e4).contains(&a) {
        let s = sci_label(v, 2);
        // trim trailing zeros of the mantissa: 1.50×10³ -> 1.5×10³
        if let Some((m, rest)) = s.split_once('×') {
            let m = if m.contains('.') {
                m.trim_end_matches('0').trim_end_matches('.')
            } else {
                m
            };
            return format!("{m}×{rest}");
        }
        return s;
    }
    let digits = if a == 0.0 {
        0
    } else {
        (2 - a.log10().floor() as i32).max(0) as usize
    };
    let s = format!("{:.*}", digits, v);
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".into()
    } else {
        s.replace('-', "−")
    }
}

/// "Nice" step ($1, 2, 5 \times 10^k$) giving about `target` intervals over `span` (the candidate
/// closest to `span / target` in ratio), with the number of minor subdivisions.
fn nice_step(span: f64, target: f64) -> (f64, usize) {
    let raw = (span / target).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    [(1.0, 5), (2.0, 4), (5.0, 5), (10.0, 5)]
        .into_iter()
        .map(|(m, minor)| (m * mag, minor))
        .min_by(|a, b| (a.0 / raw).ln().abs().total_cmp(&(b.0 / raw).ln().abs()))
        .unwrap_or((mag, 5))
}

/// One axis in transformed space: its range and tick positions. Implements plotters' [`Ranged`]
/// (linear map) so the mesh draws grid lines and labels exactly at our ticks.
#[derive(Clone, Debug)]
struct Axis {
    lo: f64,
    hi: f64,
    /// Labelled ticks (transformed coordinates).
    major: Vec<f64>,
    /// Unlabelled minor grid positions.
    minor: Vec<f64>,
    /// Label per major tick.
    labels: Vec<String>,
}

impl Axis {
    /// Replace the ticks by explicit ones at `at` (transformed coordinates) with these labels, and
    /// no minor ticks.
    fn with_ticks(mut self, at: Vec<f64>, labels: Vec<String>) -> Self {
        self.major = at;
        self.labels = labels;
        self.minor.clear();
        self
    }

    /// Build the axis for the transformed range `[lo, hi]` (`lo < hi`).
    fn new(lo: f64, hi: f64, log: bool) -> Self {
        let mut ax = Axis {
            lo,
            hi,
            major: vec![],
            minor: vec![],
            labels: vec![],
        };
        if log {
            ax.log_ticks();
        } else {
            ax.linear_ticks();
        }
        ax
    }

    fn inside(&self, t: f64) -> bool {
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
                let digits = if v == 0.0 {
                    0
                } else {
                    ((v.abs().log10().floor() - step.log10().floor()).max(0.0)) as usize
                };
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
            return;
        }
        // Less than 2.5 decades: label 1-2-5 (then 1..9) multiples of powers of ten.
        for mults in [
            &[1.0, 2.0, 5.0][..],
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0][..],
        ] {
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
                return;
            }
        }
        // Narrow range: linear nice ticks on the value scale, placed at their logs.
        let (vlo, vhi) = (10f64.powf(lo), 10f64.powf(hi));
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
        self.major
            .iter()
            .position(|m| (m - t).abs() <= tol)
            .map(|i| self.labels[i].clone())
            .unwrap_or_default()
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
        let mut pts: Vec<f64> = self
            .major
            .iter()
            .copied()
            .filter(|t| self.inside(*t))
            .collect();
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

/// Width of the y label area: room for the widest tick label plus the rotated axis title (72 px
/// at least, the default that fits labels such as `10⁻⁵`).
fn y_label_area(axis: &Axis) -> u32 {
    let widest = axis.labels.iter().map(|l| text_width(l, TICK_PX * 1.24)).fold(0.0, f64::max);
    (widest + 38.0).ceil().max(72.0) as u32
}

/// Transformed range covering `vals` (with a relative margin), or an explicit range.
fn axis_range(
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
        let d = if log {
            0.5
        } else if lo == 0.0 {
            1.0
        } else {
            0.1 * lo.abs()
        };
        return Ok((lo - d, hi + d));
    }
    let pad = (hi - lo) * margin;
    Ok((lo - pad, hi + pad))
}

// ---------------------------------------------------------------------------------------------
// Geometry helpers: clipping
// ---------------------------------------------------------------------------------------------

/// Axis-aligned clip rectangle in transformed data space.
#[derive(Clone, Copy, Debug)]
struct Clip {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl Clip {
    /// Liang–Barsky clipping of segment `a -> b`; `None` if it lies outside.
    fn segment(&self, a: (f64, f64), b: (f64, f64)) -> Option<((f64, f64), (f64, f64))> {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for (p, q) in [
            (-dx, a.0 - self.x0),
            (dx, self.x1 - a.0),
            (-dy, a.1 - self.y0),
            (dy, self.y1 - a.1),
        ] {
            if p == 0.0 {
                if q < 0.0 {
                    return None;
                }
            } else {
                let r = q / p;
                if p < 0.0 {
                    t0 = t0.max(r);
                } else {
                    t1 = t1.min(r);
                }
                if t0 > t1 {
                    return None;
                }
            }
        }
        Some((
            (a.0 + t0 * dx, a.1 + t0 * dy),
            (a.0 + t1 * dx, a.1 + t1 * dy),
        ))
    }

    /// Clip a polyline; returns the visible pieces.
    fn polyline(&self, pts: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
        let mut out: Vec<Vec<(f64, f64)>> = vec![];
        let mut cur: Vec<(f64, f64)> = vec![];
        if pts.len() == 1 {
            let p = pts[0];
            if p.0 >= self.x0 && p.0 <= self.x1 && p.1 >= self.y0 && p.1 <= self.y1 {
                out.push(vec![p]);
            }
            return out;
        }
        for w in pts.windows(2) {
            match self.segment(w[0], w[1]) {
                Some((a, b)) => {
                    if cur.last().is_none_or(|l| *l != a) {
                        if cur.len() > 1 {
                            out.push(std::mem::take(&mut cur));
                        }
                        cur.clear();
                        cur.push(a);
                    }
                    cur.push(b);
                }
                None => {
                    if cur.len() > 1 {
                        out.push(std::mem::take(&mut cur));
                    }
                    cur.clear();
                }
            }
        }
        if cur.len() > 1 {
            out.push(cur);
        }
        out
    }

    /// Sutherland–Hodgman clipping of a polygon.
    fn polygon(&self, pts: &[(f64, f64)]) -> Vec<(f64, f64)> {
        type Inside = fn(&Clip, (f64, f64)) -> bool;
        type Cross = fn(&Clip, (f64, f64), (f64, f64)) -> (f64, f64);
        fn lerp_x(a: (f64, f64), b: (f64, f64), x: f64) -> (f64, f64) {
            let t = (x - a.0) / (b.0 - a.0);
            (x, a.1 + t * (b.1 - a.1))
        }
        fn lerp_y(a: (f64, f64), b: (f64, f64), y: f64) -> (f64, f64) {
            let t = (y - a.1) / (b.1 - a.1);
            (a.0 + t * (b.0 - a.0), y)
        }
        let edges: [(Inside, Cross); 4] = [
            (|c, p| p.0 >= c.x0, |c, a, b| lerp_x(a, b, c.x0)),
            (|c, p| p.0 <= c.x1, |c, a, b| lerp_x(a, b, c.x1)),
            (|c, p| p.1 >= c.y0, |c, a, b| lerp_y(a, b, c.y0)),
            (|c, p| p.1 <= c.y1, |c, a, b| lerp_y(a, b, c.y1)),
        ];
        let mut poly = pts.to_vec();
        for (inside, cross) in edges {
            if poly.is_empty() {
                break;
            }
            let input = std::mem::take(&mut poly);
            let mut prev = *input.last().unwrap_or(&(0.0, 0.0));
            for &p in &input {
                let (pi, qi) = (inside(self, p), inside(self, prev));
                if pi {
                    if !qi {
                        poly.push(cross(self, prev, p));
                    }
                    poly.push(p);
                } else if qi {
                    poly.push(cross(self, prev, p));
                }
                prev = p;
            }
        }
        poly
    }
}

// ---------------------------------------------------------------------------------------------
// Markers and legend
// ---------------------------------------------------------------------------------------------

/// Marker shapes (series markers, heatmap markers, legend swatches).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkerShape {
    Circle,
    Triangle,
    Square,
    Diamond,
    InvertedTriangle,
    Cross,
}

const SERIES_SHAPES: [MarkerShape; 5] = [
    MarkerShape::Circle,
    MarkerShape::Square,
    MarkerShape::Triangle,
    MarkerShape::Diamond,
    MarkerShape::InvertedTriangle,
];

/// Draw a marker centred on pixel `c` with radius `r`. `fill = None` draws an outline only.
fn draw_marker(
    area: &DrawingArea<SVGBackend, Shift>,
    shape: MarkerShape,
    c: (i32, i32),
    r: i32,
    stroke: RGBColor,
    fill: Option<RGBColor>,
    stroke_width: u32,
) -> Result<(), FigureError> {
    let (x, y) = c;
    let poly: Vec<(i32, i32)> = match shape {
        MarkerShape::Circle => {
            if let Some(f) = fill {
                area.draw(&Circle::new(c, r, f.filled()))
                    .map_err(draw_err)?;
            }
            area.draw(&Circle::new(c, r, stroke.stroke_width(stroke_width)))
                .map_err(draw_err)?;
            return Ok(());
        }
        MarkerShape::Cross => {
            let s = stroke.stroke_width(stroke_width + 1);
            area.draw(&PathElement::new(vec![(x - r, y - r), (x + r, y + r)], s))
                .map_err(draw_err)?;
            area.draw(&PathElement::new(vec![(x - r, y + r), (x + r, y - r)], s))
                .map_err(draw_err)?;
            return Ok(());
        }
        MarkerShape::Square => {
            let s = r * 9 / 10;
            vec![
                (x - s, y - s),
                (x + s, y - s),
                (x + s, y + s),
                (x - s, y + s),
            ]
        }
        MarkerShape::Diamond => {
            let s = r * 5 / 4;
            vec![(x, y - s), (x + s, y), (x, y + s), (x - s, y)]
        }
        MarkerShape::Triangle => {
            let s = r * 6 / 5;
            vec![(x, y - s), (x + s, y + s * 3 / 4), (x - s, y + s * 3 / 4)]
        }
        MarkerShape::InvertedTriangle => {
            let s = r * 6 / 5;
            vec![(x, y + s), (x + s, y - s * 3 / 4), (x - s, y - s * 3 / 4)]
        }
    };
    if let Some(f) = fill {
        area.draw(&Polygon::new(poly.clone(), f.filled()))
            .map_err(draw_err)?;
    }
    let mut closed = poly.clone();
    closed.push(poly[0]);
    area.draw(&PathElement::new(closed, stroke.stroke_width(stroke_width)))
        .map_err(draw_err)?;
    Ok(())
}

/// Where the legend of a [`LinePlot`] goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LegendPos {
    /// The inside corner that covers the fewest data points.
    #[default]
    Auto,
    UpperRight,
    UpperLeft,
    LowerRight,
    LowerLeft,
    /// No legend.
    None,
}

#[derive(Clone, Debug)]
enum Swatch {
    Line {
        color: RGBColor,
        dashed: bool,
        marker: Option<MarkerShape>,
        band: bool,
    },
    Markers {
        color: RGBColor,
        shape: MarkerShape,
    },
    /// White-filled black marker (heatmap markers).
    Marker {
        shape: MarkerShape,
    },
    /// Contour line (with white halo).
    Contour {
        color: RGBColor,
        dashed: bool,
    },
    Hatched,
    Diverged,
}

#[derive(Clone, Debug)]
struct LegendEntry {
    label: String,
    swatch: Swatch,
}

const SWATCH_W: i32 = 28;

fn draw_swatch(
    area: &DrawingArea<SVGBackend, Shift>,
    sw: &Swatch,
    x: i32,
    yc: i32,
) -> Result<(), FigureError> {
    let mid = (x + SWATCH_W / 2, yc);
    match sw {
        Swatch::Line {
            color,
            dashed,
            marker,
            band,
        } => {
            if *band {
                area.draw(&Rectangle::new(
                    [(x, yc - 6), (x + SWATCH_W, yc + 6)],
                    color.mix(0.2).filled(),
                ))
                .map_err(draw_err)?;
            }
            let pts = vec![(x, yc), (x + SWATCH_W, yc)];
            if *dashed {
                area.draw(&DashedPathElement::new(pts, 6, 4, color.stroke_width(2)))
                    .map_err(draw_err)?;
            } else {
                area.draw(&PathElement::new(pts, color.stroke_width(2)))
                    .map_err(draw_err)?;
            }
            if let Some(m) = marker {
                draw_marker(area, *m, mid, 4, *color, Some(WHITE), 2)?;
            }
        }
        Swatch::Markers { color, shape } => {
            draw_marker(area, *shape, mid, 4, *color, Some(WHITE), 2)?
        }
        Swatch::Marker { shape } => draw_marker(area, *shape, mid, 5, BLACK, Some(WHITE), 2)?,
        Swatch::Contour { color, dashed } => {
            let pts = vec![(x, yc), (x + SWATCH_W, yc)];
            area.draw(&PathElement::new(pts.clone(), WHITE.stroke_width(4)))
                .map_err(draw_err)?;
            if *dashed {
                area.draw(&DashedPathElement::new(pts, 6, 4, color.stroke_width(2)))
                    .map_err(draw_err)?;
            } else {
                area.draw(&PathElement::new(pts, color.stroke_width(2)))
                    .map_err(draw_err)?;
            }
        }
        Swatch::Hatched => {
            draw_hatched_cell(area, (x + 4, yc - 7), (x + SWATCH_W - 4, yc + 7), true)?
        }
        Swatch::Diverged => {
            draw_diverged_cell(area, (x + 4, yc - 7), (x + SWATCH_W - 4, yc + 7), true)?
        }
    }
    Ok(())
}

fn legend_size(entries: &[LegendEntry]) -> (i32, i32) {
    let w = entries
        .iter()
        .map(|e| text_width(&e.label, LEGEND_PX))
        .fold(0.0, f64::max);
    (
        SWATCH_W + 6 + w.ceil() as i32 + 14,
        entries.len() as i32 * 19 + 8,
    )
}

/// Boxed legend with its upper-left corner at `pos`.
fn draw_legend_box(
    area: &DrawingArea<SVGBackend, Shift>,
    entries: &[LegendEntry],
    pos: (i32, i32),
) -> Result<(), FigureError> {
    let (w, h) = legend_size(entries);
    let (x, y) = pos;
    area.draw(&Rectangle::new(
        [(x, y), (x + w, y + h)],
        WHITE.mix(0.88).filled(),
    ))
    .map_err(draw_err)?;
    area.draw(&Rectangle::new(
        [(x, y), (x + w, y + h)],
        RGBColor(0xB0, 0xB0, 0xB0).stroke_width(1),
    ))
    .map_err(draw_err)?;
    let style = TextStyle::from(font(LEGEND_PX)).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, e) in entries.iter().enumerate() {
        let yc = y + 4 + 19 * i as i32 + 10;
        draw_swatch(area, &e.swatch, x + 7, yc)?;
        area.draw(&Text::new(
            e.label.clone(),
            (x + 7 + SWATCH_W + 6, yc),
            style.clone(),
        ))
        .map_err(draw_err)?;
    }
    Ok(())
}

/// Legend laid out in one centred row (wrapping to more rows if needed) inside `[x0, x1]` at `y`.
fn draw_legend_row(
    area: &DrawingArea<SVGBackend, Shift>,
    entries: &[LegendEntry],
    x0: i32,
    x1: i32,
    y: i32,
) -> Result<(), FigureError> {
    let widths: Vec<i32> = entries
        .iter()
        .map(|e| SWATCH_W + 6 + text_width(&e.label, LEGEND_PX).ceil() as i32 + 18)
        .collect();
    let mut rows: Vec<Vec<usize>> = vec![vec![]];
    let mut cur = 0;
    for (i, w) in widths.iter().enumerate() {
        if cur + w > x1 - x0 && !rows.last().is_some_and(|r| r.is_empty()) {
            rows.push(vec![]);
            cur = 0;
        }
        if let Some(r) = rows.last_mut() {
            r.push(i);
        }
        cur += w;
    }
    let style = TextStyle::from(font(LEGEND_PX)).pos(Pos::new(HPos::Left, VPos::Center));
    for (r, row) in rows.iter().enumerate() {
        let total: i32 = row.iter().map(|&i| widths[i]).sum::<i32>() - 18;
        let mut x = x0 + ((x1 - x0) - total).max(0) / 2;
        let yc = y + 10 + r as i32 * 20;
        for &i in row {
            draw_swatch(area, &entries[i].swatch, x, yc)?;
            area.draw(&Text::new(
                entries[i].label.clone(),
                (x + SWATCH_W + 6, yc),
                style.clone(),
            ))
            .map_err(draw_err)?;
            x += widths[i];
        }
    }
    Ok(())
}

fn legend_row_height(entries: &[LegendEntry], avail: i32) -> i32 {
    if entries.is_empty() {
        return 0;
    }
    let mut rows = 1;
    let mut cur = 0;
    for e in entries {
        let w = SWATCH_W + 6 + text_width(&e.label, LEGEND_PX).ceil() as i32 + 18;
        if cur + w > avail && cur > 0 {
            rows += 1;
            cur = 0;
        }
        cur += w;
    }
    rows * 20 + 6
}

fn draw_hatched_cell(
    area: &DrawingArea<SVGBackend, Shift>,
    a: (i32, i32),
    b: (i32, i32),
    border: bool,
) -> Result<(), FigureError> {
    let (x0, x1) = (a.0.min(b.0), a.0.max(b.0));
    let (y0, y1) = (a.1.min(b.1), a.1.max(b.1));
    area.draw(&Rectangle::new([(x0, y0), (x1, y1)], MISSING_GREY.filled()))
        .map_err(draw_err)?;
    // 45° hatch lines x + y = c, spaced 5 px, clipped to the cell.
    let (w, h) = ((x1 - x0) as f64, (y1 - y0) as f64);
    let clip = Clip {
        x0: 0.0,
        x1: w,
        y0: 0.0,
        y1: h,
    };
    let mut c = 4.0;
    while c < w + h {
        if let Some((p, q)) = clip.segment((c, 0.0), (c - (w + h), w + h)) {
            let pts = vec![
                (x0 + p.0.round() as i32, y0 + p.1.round() as i32),
                (x0 + q.0.round() as i32, y0 + q.1.round() as i32),
            ];
            area.draw(&PathElement::new(pts, HATCH_GREY.stroke_width(1)))
                .map_err(draw_err)?;
        }
        c += 5.0;
    }
    if border {
        area.draw(&Rectangle::new(
            [(x0, y0), (x1, y1)],
            HATCH_GREY.stroke_width(1),
        ))
        .map_err(draw_err)?;
    }
    Ok(())
}

fn draw_diverged_cell(
    area: &DrawingArea<SVGBackend, Shift>,
    a: (i32, i32),
    b: (i32, i32),
    border: bool,
) -> Result<(), FigureError> {
    let (x0, x1) = (a.0.min(b.0), a.0.max(b.0));
    let (y0, y1) = (a.1.min(b.1), a.1.max(b.1));
    area.draw(&Rectangle::new([(x0, y0), (x1, y1)], MISSING_GREY.filled()))
        .map_err(draw_err)?;
    let (ix, iy) = ((x1 - x0) / 5, (y1 - y0) / 5);
    let s = RGBColor(0x30, 0x30, 0x30).stroke_width(1);
    area.draw(&PathElement::new(
        vec![(x0 + ix, y0 + iy), (x1 - ix, y1 - iy)],
        s,
    ))
    .map_err(draw_err)?;
    area.draw(&PathElement::new(
        vec![(x0 + ix, y1 - iy), (x1 - ix, y0 + iy)],
        s,
    ))
    .map_err(draw_err)?;
    if border {
        area.draw(&Rectangle::new(
            [(x0, y0), (x1, y1)],
            HATCH_GREY.stroke_width(1),
        ))
        .map_err(draw_err)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Line plot
// ---------------------------------------------------------------------------------------------

/// How a [`Series`] is drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SeriesStyle {
    #[default]
    Line,
    Dashed,
    Markers,
    LineWithMarkers,
}

/// One curve of a [`LinePlot`].
#[derive(Clone, Debug, Default)]
pub struct Series {
    /// Legend label (an empty label keeps the series out of the legend).
    pub label: String,
    /// Data points `(x, y)`. Non-finite points, and non-positive ones on a log axis, are skipped
    /// (a line is broken there).
    pub points: Vec<(f64, f64)>,
    pub style: SeriesStyle,
    /// Shaded band `(x, lo, hi)`, e.g. a confidence interval, drawn under the curve.
    pub band: Option<Vec<(f64, f64, f64)>>,
    /// Index into [`PALETTE`] (default: the series' position).
    pub color: Option<usize>,
}

impl Series {
    /// A solid line series.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            label: label.into(),
            points,
            ..Default::default()
        }
    }
    pub fn style(mut self, style: SeriesStyle) -> Self {
        self.style = style;
        self
    }
    pub fn band(mut self, band: Vec<(f64, f64, f64)>) -> Self {
        self.band = Some(band);
        self
    }
    pub fn color(mut self, palette_index: usize) -> Self {
        self.color = Some(palette_index);
        self
    }
}

/// A labelled reference line (dashed grey) across the plot.
#[derive(Clone, Debug)]
pub enum RefLine {
    Horizontal { y: f64, label: String },
    Vertical { x: f64, label: String },
}

/// Curves on linear or log axes. Build with [`LinePlot::new`] and the builder methods, or fill
/// the public fields; then [`LinePlot::render`].
#[derive(Clone, Debug)]
pub struct LinePlot {
    /// Title drawn above the plot (may be empty: the report's caption usually suffices).
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_log: bool,
    pub y_log: bool,
    pub series: Vec<Series>,
    pub ref_lines: Vec<RefLine>,
    /// Explicit axis ranges (data units); `None` fits the data.
    pub x_range: Option<(f64, f64)>,
    pub y_range: Option<(f64, f64)>,
    pub legend: LegendPos,
    pub width: u32,
    pub height: u32,
}

impl LinePlot {
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        LinePlot {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            x_log: false,
            y_log: false,
            series: vec![],
            ref_lines: vec![],
            x_range: None,
            y_range: None,
            legend: LegendPos::Auto,
            width: WIDTH,
            height: HEIGHT,
        }
    }
    pub fn log_x(mut self) -> Self {
        self.x_log = true;
        self
    }
    pub fn log_y(mut self) -> Self {
        self.y_log = true;
        self
    }
    pub fn series(mut self, s: Series) -> Self {
        self.series.push(s);
        self
    }
    pub fn hline(mut self, y: f64, label: impl Into<String>) -> Self {
        self.ref_lines.push(RefLine::Horizontal {
            y,
            label: label.into(),
        });
        self
    }
    pub fn vline(mut self, x: f64, label: impl Into<String>) -> Self {
        self.ref_lines.push(RefLine::Vertical {
            x,
            label: label.into(),
        });
        self
    }
    pub fn x_range(mut self, lo: f64, hi: f64) -> Self {
        self.x_range = Some((lo, hi));
        self
    }
    pub fn y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo, hi));
        self
    }
    pub fn legend(mut self, pos: LegendPos) -> Self {
        self.legend = pos;
        self
    }
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }

    /// Render to an SVG document (`<svg ...>...</svg>`).
    pub fn render(&self) -> Result<String, FigureError> {
        let (xl, yl) = (self.x_log, self.y_log);
        // Data extents (transformed), from points, bands and reference lines.
        let xs = self.series.iter().flat_map(|s| {
            let valid = s
                .points
                .iter()
                .filter(|p| fwd(p.1, yl).is_some())
                .map(|p| p.0);
            let band = s.band.iter().flatten().map(|b| b.0);
            valid.chain(band).collect::<Vec<_>>()
        });
        let xs = xs.chain(self.ref_lines.iter().filter_map(|r| match r {
            RefLine::Vertical { x, .. } => Some(*x),
            _ => None,
        }));
        let (x0, x1) = axis_range(xs, xl, self.x_range, 0.02)?;
        let ys = self.series.iter().flat_map(|s| {
            let valid = s
                .points
                .iter()
                .filter(|p| fwd(p.0, xl).is_some())
                .map(|p| p.1);
            let band = s.band.iter().flatten().flat_map(|b| [b.1, b.2]);
            valid.chain(band).collect::<Vec<_>>()
        });
        let ys = ys.chain(self.ref_lines.iter().filter_map(|r| match r {
            RefLine::Horizontal { y, .. } => Some(*y),
            _ => None,
        }));
        let (y0, y1) = axis_range(ys, yl, self.y_range, 0.05)?;
        let clip = Clip { x0, x1, y0, y1 };
        let has_data = self.series.iter().any(|s| {
            s.points
                .iter()
                .any(|p| fwd(p.0, xl).is_some() && fwd(p.1, yl).is_some())
        });

        let mut svg = String::new();
        {
            let root =
                SVGBackend::with_string(&mut svg, (self.width, self.height)).into_drawing_area();
            root.fill(&WHITE).map_err(draw_err)?;
            let xaxis = Axis::new(x0, x1, xl);
            let yaxis = Axis::new(y0, y1, yl);
            let y_area = y_label_area(&yaxis);
            let mut builder = ChartBuilder::on(&root);
            builder
                .margin_top(if self.title.is_empty() { 14 } else { 8 })
                .margin_right(18)
                .margin_left(6)
                .margin_bottom(6)
                .x_label_area_size(50)
                .y_label_area_size(y_area);
            if !self.title.is_empty() {
                builder.caption(&self.title, font(TITLE_PX));
            }
            let mut chart = builder.build_cartesian_2d(xaxis, yaxis).map_err(draw_err)?;
            configure_mesh(&mut chart, &self.x_label, &self.y_label)?;

            // Bands first (under the curves).
            for (si, s) in self.series.iter().enumerate() {
                let color = PALETTE[s.color.unwrap_or(si) % PALETTE.len()];
                if let Some(band) = &s.band {
                    for run in valid_runs(band.iter().map(|&(x, lo, hi)| {
                        match (fwd(x, xl), fwd(lo, yl), fwd(hi, yl)) {
                            (Some(x), Some(lo), Some(hi)) => Some((x, lo, hi)),
                            _ => None,
                        }
                    })) {
                        if run.len() < 2 {
                            continue;
                        }
                        let mut poly: Vec<(f64, f64)> =
                            run.iter().map(|&(x, lo, _)| (x, lo)).collect();
                        poly.extend(run.iter().rev().map(|&(x, _, hi)| (x, hi)));
                        let poly = clip.polygon(&poly);
                        if poly.len() >= 3 {
                            let px: Vec<(i32, i32)> =
                                poly.iter().map(|p| chart.backend_coord(p)).collect();
                            root.draw(&Polygon::new(px, color.mix(0.2).filled()))
                                .map_err(draw_err)?;
                        }
                    }
                }
            }
            // Reference lines.
            let ref_style = RGBColor(0x55, 0x55, 0x55).stroke_width(1);
            let ref_text = TextStyle::from(font(LEGEND_PX)).color(&RGBColor(0x40, 0x40, 0x40));
            for r in &self.ref_lines {
                match r {
                    RefLine::Horizontal { y, label } => {
                        if let Some(t) = fwd(*y, yl).filter(|t| *t >= y0 && *t <= y1) {
                            let a = chart.backend_coord(&(x0, t));
                            let b = chart.backend_coord(&(x1, t));
                            root.draw(&DashedPathElement::new(vec![a, b], 5, 4, ref_style))
                                .map_err(draw_err)?;
                            root.draw(&Text::new(
                                label.clone(),
                                (b.0 - 4, b.1 - 3),
                                ref_text.pos(Pos::new(HPos::Right, VPos::Bottom)),
                            ))
                            .map_err(draw_err)?;
                        }
                    }
                    RefLine::Vertical { x, label } => {
                        if let Some(t) = fwd(*x, xl).filter(|t| *t >= x0 && *t <= x1) {
                            let a = chart.backend_coord(&(t, y0));
                            let b = chart.backend_coord(&(t, y1));
                            root.draw(&DashedPathElement::new(vec![a, b], 5, 4, ref_style))
                                .map_err(draw_err)?;
                            root.draw(&Text::new(
                                label.clone(),
                                (b.0 + 4, b.1 + 4),
                                ref_text.pos(Pos::new(HPos::Left, VPos::Top)),
                            ))
                            .map_err(draw_err)?;
                        }
                    }
                }
            }
            // Curves and markers; collect pixel samples for legend placement.
            let mut samples: Vec<(i32, i32)> = vec![];
            let mut entries: Vec<LegendEntry> = vec![];
            for (si, s) in self.series.iter().enumerate() {
                let color = PALETTE[s.color.unwrap_or(si) % PALETTE.len()];
                let shape = SERIES_SHAPES[si % SERIES_SHAPES.len()];
                let pts = s
                    .points
                    .iter()
                    .map(|&(x, y)| match (fwd(x, xl), fwd(y, yl)) {
                        (Some(x), Some(y)) => Some((x, y)),
                        _ => None,
                    });
                let runs = valid_runs(pts);
                let line = matches!(
                    s.style,
                    SeriesStyle::Line | SeriesStyle::Dashed | SeriesStyle::LineWithMarkers
                );
                let marks = matches!(s.style, SeriesStyle::Markers | SeriesStyle::LineWithMarkers);
                for run in &runs {
                    if line {
                        for piece in clip.polyline(run) {
                            let px: Vec<(i32, i32)> =
                                piece.iter().map(|p| chart.backend_coord(p)).collect();
                            for w in px.windows(2) {
                                for k in 0..4 {
                                    let f = k as f64 / 4.0;
                                    samples.push((
                                        w[0].0 + ((w[1].0 - w[0].0) as f64 * f) as i32,
                                        w[0].1 + ((w[1].1 - w[0].1) as f64 * f) as i32,
                                    ));
                                }
                            }
                            samples.extend(px.last().copied());
                            if s.style == SeriesStyle::Dashed {
                                root.draw(&DashedPathElement::new(px, 7, 5, color.stroke_width(2)))
                                    .map_err(draw_err)?;
                            } else {
                                root.draw(&PathElement::new(px, color.stroke_width(2)))
                                    .map_err(draw_err)?;
                            }
                        }
                    }
                }
                if marks {
                    for run in &runs {
                        for p in run {
                            if p.0 >= x0 && p.0 <= x1 && p.1 >= y0 && p.1 <= y1 {
                                let c = chart.backend_coord(p);
                                samples.push(c);
                                draw_marker(&root, shape, c, 4, color, Some(WHITE), 2)?;
                            }
                        }
                    }
                }
                if !s.label.is_empty() {
                    let swatch = match s.style {
                        SeriesStyle::Markers => Swatch::Markers { color, shape },
                        st => Swatch::Line {
                            color,
                            dashed: st == SeriesStyle::Dashed,
                            marker: (st == SeriesStyle::LineWithMarkers).then_some(shape),
                            band: s.band.is_some(),
                        },
                    };
                    entries.push(LegendEntry {
                        label: s.label.clone(),
                        swatch,
                    });
                }
            }
            // Frame.
            let (pa, pb) = (
                chart.backend_coord(&(x0, y1)),
                chart.backend_coord(&(x1, y0)),
            );
            // plotters draws its axes one pixel outside the plotting area: frame on those lines.
            root.draw(&Rectangle::new(
                [(pa.0 - 1, pa.1), (pb.0, pb.1 + 1)],
                BLACK.stroke_width(1),
            ))
            .map_err(draw_err)?;

            if !has_data {
                let note = if self.series.is_empty() {
                    "no data"
                } else {
                    "no finite data to plot"
                };
                root.draw(&Text::new(
                    note,
                    ((pa.0 + pb.0) / 2, (pa.1 + pb.1) / 2),
                    TextStyle::from(font(LABEL_PX))
                        .color(&NOTE_GREY)
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                ))
                .map_err(draw_err)?;
            }

            if !entries.is_empty() && self.legend != LegendPos::None {
                let (w, h) = legend_size(&entries);
                let inset = 8;
                let corners = [
                    (LegendPos::UpperRight, (pb.0 - inset - w, pa.1 + inset)),
                    (LegendPos::UpperLeft, (pa.0 + inset, pa.1 + inset)),
                    (LegendPos::LowerRight, (pb.0 - inset - w, pb.1 - inset - h)),
                    (LegendPos::LowerLeft, (pa.0 + inset, pb.1 - inset - h)),
                ];
                let pos = match self.legend {
                    LegendPos::Auto => corners
                        .iter()
                        .map(|(_, (x, y))| {
                            let n = samples
                                .iter()
                                .filter(|p| {
                                    p.0 >= x - 4
                                        && p.0 <= x + w + 4
                                        && p.1 >= y - 4
                                        && p.1 <= y + h + 4
                                })
                                .count();
                            (n, (*x, *y))
                        })
                        .min_by_key(|(n, _)| *n)
                        .map(|(_, p)| p)
                        .unwrap_or(corners[0].1),
                    wanted => corners
                        .iter()
                        .find(|(k, _)| *k == wanted)
                        .map(|(_, p)| *p)
                        .unwrap_or(corners[0].1),
                };
                draw_legend_box(&root, &entries, pos)?;
            }
            root.present().map_err(draw_err)?;
        }
        Ok(tidy_svg(svg))
    }
}

/// Split a sequence at `None`s into runs of consecutive valid items.
fn valid_runs<T>(it: impl Iterator<Item = Option<T>>) -> Vec<Vec<T>> {
    let mut runs = vec![];
    let mut cur = vec![];
    for v in it {
        match v {
            Some(v) => cur.push(v),
            None => {
                if !cur.is_empty() {
                    runs.push(std::mem::take(&mut cur));
                }
            }
        }
    }
    if !cur.is_empty() {
        runs.push(cur);
    }
    runs
}

fn configure_mesh(
    chart: &mut ChartContext<SVGBackend, Cartesian2d<Axis, Axis>>,
    x_label: &str,
    y_label: &str,
) -> Result<(), FigureError> {
    let nx = chart.as_coord_spec().x_spec().major.len().max(1);
    let ny = chart.as_coord_spec().y_spec().major.len().max(1);
    chart
        .configure_mesh()
        .x_labels(nx)
        .y_labels(ny)
        .max_light_lines(20)
        .bold_line_style(BLACK.mix(0.10))
        .light_line_style(BLACK.mix(0.04))
        .axis_style(BLACK)
        .x_desc(x_label)
        .y_desc(y_label)
        .label_style(font(TICK_PX))
        .axis_desc_style(font(LABEL_PX))
        .set_all_tick_mark_size(5)
        .draw()
        .map_err(draw_err)
}

// ---------------------------------------------------------------------------------------------
// Heatmap
// ---------------------------------------------------------------------------------------------

/// Contour lines of a scalar field drawn over a [`Heatmap`].
#[derive(Clone, Debug, Default)]
pub struct ContourSet {
    /// Legend label (empty: no legend entry).
    pub label: String,
    /// Grid coordinates (strictly increasing; data units).
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    /// `values[j][i]` is the field at `(x[i], y[j])`; non-finite values leave holes.
    pub values: Vec<Vec<f64>>,
    /// Contour levels; each is labelled on its line.
    pub levels: Vec<f64>,
    /// Labels for the levels (default: the level value, 3 significant digits).
    pub level_labels: Option<Vec<String>>,
    /// Index into [`PALETTE`] (default: black). Lines get a white halo for contrast.
    pub color: Option<usize>,
    pub dashed: bool,
}

/// A labelled point on a [`Heatmap`] (e.g. an initialisation scheme).
#[derive(Clone, Debug)]
pub struct Marker {
    pub x: f64,
    pub y: f64,
    pub label: String,
    pub shape: MarkerShape,
}

/// Colour map of the heatmap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorMap {
    /// Perceptually uniform, colour-blind safe (matplotlib's default).
    #[default]
    Viridis,
    /// Perceptually uniform, colour-blind safe, for values of both signs (blue-white-red).
    Diverging,
}

/// A colour field over a grid. `values[j][i]` is the cell centred at `(x[i], y[j])`:
/// `None` = no data (grey, hatched), `Some(non-finite)` = diverged (grey with ×), otherwise the
/// value mapped through the colour map (clamped to the colour range).
#[derive(Clone, Debug)]
pub struct Heatmap {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_log: bool,
    pub y_log: bool,
    /// Cell centres (strictly increasing, positive on a log axis).
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub values: Vec<Vec<Option<f64>>>,
    /// Colour range; `None` uses the finite min/max.
    pub color_range: Option<(f64, f64)>,
    /// Logarithmic colour scale (non-positive values get the lowest colour).
    pub color_log: bool,
    pub color_map: ColorMap,
    pub colorbar_label: String,
    pub contours: Vec<ContourSet>,
    pub markers: Vec<Marker>,
    /// Label every cell row at its centre (`y`) instead of round ticks: for a few discrete values
    /// such as depths.
    pub y_ticks_at_cells: bool,
    pub width: u32,
    pub height: u32,
}

impl Heatmap {
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
        x: Vec<f64>,
        y: Vec<f64>,
        values: Vec<Vec<Option<f64>>>,
    ) -> Self {
        Heatmap {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            x_log: false,
            y_log: false,
            x,
            y,
            values,
            color_range: None,
            color_log: false,
            color_map: ColorMap::Viridis,
            colorbar_label: String::new(),
            contours: vec![],
            markers: vec![],
            y_ticks_at_cells: false,
            width: WIDTH,
            height: HEIGHT,
        }
    }
    pub fn log_x(mut self) -> Self {
        self.x_log = true;
        self
    }
    pub fn log_y(mut self) -> Self {
        self.y_log = true;
        self
    }
    /// Label each row at its cell centre (see [`Heatmap::y_ticks_at_cells`]).
    pub fn y_ticks_at_cells(mut self) -> Self {
        self.y_ticks_at_cells = true;
        self
    }
    pub fn colorbar(mut self, label: impl Into<String>) -> Self {
        self.colorbar_label = label.into();
        self
    }
    pub fn color_range(mut self, lo: f64, hi: f64) -> Self {
        self.color_range = Some((lo, hi));
        self
    }
    pub fn log_color(mut self) -> Self {
        self.color_log = true;
        self
    }
    pub fn color_map(mut self, map: ColorMap) -> Self {
        self.color_map = map;
        self
    }
    pub fn contour(mut self, c: ContourSet) -> Self {
        self.contours.push(c);
        self
    }
    pub fn marker(mut self, x: f64, y: f64, label: impl Into<String>, shape: MarkerShape) -> Self {
        self.markers.push(Marker {
            x,
            y,
            label: label.into(),
            shape,
        });
        self
    }
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }

    /// Render to an SVG document.
    pub fn render(&self) -> Result<String, FigureError> {
        let (nx, ny) = (self.x.len(), self.y.len());
        if self.values.len() != ny {
            return Err(FigureError::Shape(format!(
                "{} value rows for {} y coordinates",
                self.values.len(),
                ny
            )));
        }
        if let Some((j, r)) = self.values.iter().enumerate().find(|(_, r)| r.len() != nx) {
            return Err(FigureError::Shape(format!(
                "value row {j} has {} entries for {} x coordinates",
                r.len(),
                nx
            )));
        }
        let tx = transform_coords(&self.x, self.x_log, "heatmap x")?;
        let ty = transform_coords(&self.y, self.y_log, "heatmap y")?;
        let ex = cell_edges(&tx);
        let ey = cell_edges(&ty);
        let (x0, x1) = if ex.is_empty() {
            (0.0, 1.0)
        } else {
            (ex[0], ex[ex.len() - 1])
        };
        let (y0, y1) = if ey.is_empty() {
            (0.0, 1.0)
        } else {
            (ey[0], ey[ey.len() - 1])
        };
        let clip = Clip { x0, x1, y0, y1 };

        // Colour scale.
        let cl = self.color_log;
        let finite: Vec<f64> = self
            .values
            .iter()
            .flatten()
            .flatten()
            .copied()
            .filter(|v| fwd(*v, cl).is_some())
            .collect();
        let (c0, c1) = match self.color_range {
            Some((a, b)) => match (fwd(a, cl), fwd(b, cl)) {
                (Some(a), Some(b)) if b > a => (a, b),
                _ => {
                    return Err(FigureError::Coordinates(format!(
                        "colour range ({a}, {b}) must be finite and increasing"
                    )))
                }
            },
            None => {
                let lo = finite
                    .iter()
                    .map(|v| fwd(*v, cl).unwrap_or(0.0))
                    .fold(f64::INFINITY, f64::min);
                let hi = finite
                    .iter()
                    .map(|v| fwd(*v, cl).unwrap_or(0.0))
                    .fold(f64::NEG_INFINITY, f64::max);
                if !lo.is_finite() {
                    (0.0, 1.0)
                } else if hi - lo < 1e-12 * (1.0 + lo.abs()) {
                    let d = if cl {
                        0.5
                    } else if lo == 0.0 {
                        1.0
                    } else {
                        0.1 * lo.abs()
                    };
                    (lo - d, hi + d)
                } else {
                    (lo, hi)
                }
            }
        };
        let cmap = self.color_map;
        let color_of = |v: f64| -> RGBColor {
            let t = match fwd(v, cl) {
                Some(t) => t,
                None => c0, // non-positive on a log colour scale
            };
            colormap(cmap, ((t - c0) / (c1 - c0)).clamp(0.0, 1.0))
        };

        let any_missing = self.values.iter().flatten().any(|v| v.is_none());
        let any_diverged = self
            .values
            .iter()
            .flatten()
            .any(|v| matches!(v, Some(v) if !v.is_finite()));

        // Legend entries (drawn in a row under the plot).
        let mut entries = vec![];
        for c in &self.contours {
            if !c.label.is_empty() {
                let color = c.color.map(|i| PALETTE[i % PALETTE.len()]).unwrap_or(BLACK);
                entries.push(LegendEntry {
                    label: c.label.clone(),
                    swatch: Swatch::Contour {
                        color,
                        dashed: c.dashed,
                    },
                });
            }
        }
        for m in &self.markers {
            if !m.label.is_empty() {
                entries.push(LegendEntry {
                    label: m.label.clone(),
                    swatch: Swatch::Marker { shape: m.shape },
                });
            }
        }
        if any_missing {
            entries.push(LegendEntry {
                label: "no data".into(),
                swatch: Swatch::Hatched,
            });
        }
        if any_diverged {
            entries.push(LegendEntry {
                label: "diverged".into(),
                swatch: Swatch::Diverged,
            });
        }

        let cbar_w: u32 = 92;
        let legend_h = legend_row_height(&entries, self.width as i32 - 40) as u32;
        let mut svg = String::new();
        {
            let root =
                SVGBackend::with_string(&mut svg, (self.width, self.height)).into_drawing_area();
            root.fill(&WHITE).map_err(draw_err)?;
            let (body, legend_area) = root.split_vertically(self.height - legend_h);
            let (main, bar) = body.split_horizontally(self.width.saturating_sub(cbar_w));
            let mut builder = ChartBuilder::on(&main);
            builder
                .margin_top(if self.title.is_empty() { 14 } else { 8 })
                .margin_right(8)
                .margin_left(6)
                .margin_bottom(4)
                .x_label_area_size(50)
                .y_label_area_size(72);
            if !self.title.is_empty() {
                builder.caption(&self.title, font(TITLE_PX));
            }
            let y_axis = if self.y_ticks_at_cells {
                Axis::new(y0, y1, self.y_log).with_ticks(ty.clone(), self.y.iter().map(|v| format_number(*v)).collect())
            } else {
                Axis::new(y0, y1, self.y_log)
            };
            let mut chart = builder
                .build_cartesian_2d(Axis::new(x0, x1, self.x_log), y_axis)
                .map_err(draw_err)?;
            // Mesh: ticks and labels only (grid lines would clutter the colour field).
            {
                let nxl = chart.as_coord_spec().x_spec().major.len().max(1);
                let nyl = chart.as_coord_spec().y_spec().major.len().max(1);
                chart
                    .configure_mesh()
                    .disable_mesh()
                    .x_labels(nxl)
                    .y_labels(nyl)
                    .axis_style(BLACK)
                    .x_desc(&self.x_label)
                    .y_desc(&self.y_label)
                    .label_style(font(TICK_PX))
                    .axis_desc_style(font(LABEL_PX))
                    .set_all_tick_mark_size(5)
                    .draw()
                    .map_err(draw_err)?;
            }
            let pa = chart.backend_coord(&(x0, y1));
            let pb = chart.backend_coord(&(x1, y0));
            let px = |p: (f64, f64)| -> (i32, i32) { chart.backend_coord(&p) };

            // Cells (overlap by one pixel to avoid anti-aliasing seams).
            for (j, row) in self.values.iter().enumerate() {
                for (i, v) in row.iter().enumerate() {
                    let a = px((ex[i], ey[j + 1]));
                    let b = px((ex[i + 1], ey[j]));
                    match v {
                        Some(v) if v.is_finite() => {
                            let c = color_of(*v);
                            let b2 = ((b.0 + 1).min(pb.0), b.1);
                            let a2 = (a.0, (a.1 - 1).max(pa.1));
                            root.draw(&Rectangle::new([a2, b2], c.filled()))
                                .map_err(draw_err)?;
                        }
                        Some(_) => draw_diverged_cell(&root, a, b, false)?,
                        None => draw_hatched_cell(&root, a, b, false)?,
                    }
                }
            }
            if nx == 0 || ny == 0 {
                root.draw(&Text::new(
                    "no data",
                    ((pa.0 + pb.0) / 2, (pa.1 + pb.1) / 2),
                    TextStyle::from(font(LABEL_PX))
                        .color(&NOTE_GREY)
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                ))
                .map_err(draw_err)?;
            }

            // Contours.
            let mut placed: Vec<(i32, i32)> = vec![];
            for c in &self.contours {
                let color = c.color.map(|i| PALETTE[i % PALETTE.len()]).unwrap_or(BLACK);
                let cx = transform_coords(&c.x, self.x_log, "contour x")?;
                let cy = transform_coords(&c.y, self.y_log, "contour y")?;
                if c.values.len() != cy.len() || c.values.iter().any(|r| r.len() != cx.len()) {
                    return Err(FigureError::Shape(format!(
                        "contour field '{}' is not {}x{} (rows x columns)",
                        c.label,
                        cy.len(),
                        cx.len()
                    )));
                }
                for (li, &level) in c.levels.iter().enumerate() {
                    let lines = contour_lines(&cx, &cy, &c.values, level);
                    let mut pix_lines: Vec<Vec<(i32, i32)>> = vec![];
                    for line in &lines {
                        for piece in clip.polyline(line) {
                            let p: Vec<(i32, i32)> = piece.iter().map(|q| px(*q)).collect();
                            root.draw(&PathElement::new(p.clone(), WHITE.mix(0.9).stroke_width(4)))
                                .map_err(draw_err)?;
                            if c.dashed {
                                root.draw(&DashedPathElement::new(
                                    p.clone(),
                                    6,
                                    4,
                                    color.stroke_width(2),
                                ))
                                .map_err(draw_err)?;
                            } else {
                                root.draw(&PathElement::new(p.clone(), color.stroke_width(2)))
                                    .map_err(draw_err)?;
                            }
                            pix_lines.push(p);
                        }
                    }
                    let text = c
                        .level_labels
                        .as_ref()
                        .and_then(|l| l.get(li).cloned())
                        .unwrap_or_else(|| format_number(level));
                    if let Some(at) = label_position(&pix_lines, &placed, (pa, pb), li) {
                        placed.push(at);
                        let w = text_width(&text, TICK_PX).ceil() as i32 + 6;
                        root.draw(&Rectangle::new(
                            [(at.0 - w / 2, at.1 - 9), (at.0 + w / 2, at.1 + 9)],
                            WHITE.mix(0.85).filled(),
                        ))
                        .map_err(draw_err)?;
                        root.draw(&Text::new(
                            text,
                            at,
                            TextStyle::from(font(TICK_PX))
                                .color(&color)
                                .pos(Pos::new(HPos::Center, VPos::Center)),
                        ))
                        .map_err(draw_err)?;
                    }
                }
            }

            // Markers.
            for m in &self.markers {
                if let (Some(x), Some(y)) = (fwd(m.x, self.x_log), fwd(m.y, self.y_log)) {
                    if x >= x0 && x <= x1 && y >= y0 && y <= y1 {
                        draw_marker(&root, m.shape, px((x, y)), 6, BLACK, Some(WHITE), 2)?;
                    }
                }
            }
            root.draw(&Rectangle::new(
                [(pa.0 - 1, pa.1), (pb.0, pb.1 + 1)],
                BLACK.stroke_width(1),
            ))
            .map_err(draw_err)?;

            // Colour bar, aligned with the plotting area.
            let (bx0, _) = bar.get_base_pixel();
            let (bar_x0, bar_x1) = (bx0 + 8, bx0 + 24);
            let (bar_top, bar_bot) = (pa.1, pb.1);
            let n = 96;
            for k in 0..n {
                let ya =
                    bar_bot - ((bar_bot - bar_top) as f64 * (k as f64 / n as f64)).round() as i32;
                let yb = bar_bot
                    - ((bar_bot - bar_top) as f64 * ((k + 1) as f64 / n as f64)).round() as i32;
                let c = colormap(cmap, (k as f64 + 0.5) / n as f64);
                root.draw(&Rectangle::new(
                    [(bar_x0, yb), (bar_x1, ya + 1)],
                    c.filled(),
                ))
                .map_err(draw_err)?;
            }
            root.draw(&Rectangle::new(
                [(bar_x0, bar_top), (bar_x1, bar_bot)],
                BLACK.stroke_width(1),
            ))
            .map_err(draw_err)?;
            let cax = Axis::new(c0, c1, cl);
            let tick_style = TextStyle::from(font(TICK_PX)).pos(Pos::new(HPos::Left, VPos::Center));
            for (t, lab) in cax.major.iter().zip(&cax.labels) {
                if !cax.inside(*t) {
                    continue;
                }
                let y =
                    bar_bot - ((bar_bot - bar_top) as f64 * (t - c0) / (c1 - c0)).round() as i32;
                root.draw(&PathElement::new(
                    vec![(bar_x1, y), (bar_x1 + 4, y)],
                    BLACK.stroke_width(1),
                ))
                .map_err(draw_err)?;
                root.draw(&Text::new(lab.clone(), (bar_x1 + 6, y), tick_style.clone()))
                    .map_err(draw_err)?;
            }
            if !self.colorbar_label.is_empty() {
                let style = TextStyle::from(font(LABEL_PX).transform(FontTransform::Rotate270))
                    .pos(Pos::new(HPos::Center, VPos::Center));
                let x = (bx0 + cbar_w as i32 - 12).min(self.width as i32 - 10);
                root.draw(&Text::new(
                    self.colorbar_label.clone(),
                    (x, (bar_top + bar_bot) / 2),
                    style,
                ))
                .map_err(draw_err)?;
            }

            if !entries.is_empty() {
                let (_, ly) = legend_area.get_base_pixel();
                draw_legend_row(&root, &entries, 20, self.width as i32 - 20, ly)?;
            }
            root.present().map_err(draw_err)?;
        }
        Ok(tidy_svg(svg))
    }
}

/// Pick a label position on the longest contour pieces, away from earlier labels and the frame.
fn label_position(
    lines: &[Vec<(i32, i32)>],
    placed: &[(i32, i32)],
    frame: ((i32, i32), (i32, i32)),
    stagger: usize,
) -> Option<(i32, i32)> {
    let ((fx0, fy0), (fx1, fy1)) = frame;
    let mut order: Vec<usize> = (0..lines.len()).collect();
    let len = |l: &Vec<(i32, i32)>| -> f64 {
        l.windows(2)
            .map(|w| (((w[1].0 - w[0].0).pow(2) + (w[1].1 - w[0].1).pow(2)) as f64).sqrt())
            .sum()
    };
    order.sort_by(|a, b| len(&lines[*b]).total_cmp(&len(&lines[*a])));
    let mut fallback = None;
    for &i in &order {
        let l = &lines[i];
        let total = len(l);
        if total < 20.0 {
            continue;
        }
        let first = [0.5, 0.35, 0.65][stagger % 3];
        for frac in [first, 0.5, 0.3, 0.7, 0.15, 0.85] {
            let target = total * frac;
            let mut acc = 0.0;
            let mut at = l[0];
            for w in l.windows(2) {
                let d = (((w[1].0 - w[0].0).pow(2) + (w[1].1 - w[0].1).pow(2)) as f64).sqrt();
                if acc + d >= target {
                    let f = if d > 0.0 { (target - acc) / d } else { 0.0 };
                    at = (
                        w[0].0 + ((w[1].0 - w[0].0) as f64 * f).round() as i32,
                        w[0].1 + ((w[1].1 - w[0].1) as f64 * f).round() as i32,
                    );
                    break;
                }
                acc += d;
            }
            let inside = at.0 > fx0 + 18 && at.0 < fx1 - 18 && at.1 > fy0 + 10 && at.1 < fy1 - 10;
            let free = placed
                .iter()
                .all(|p| (p.0 - at.0).abs() > 40 || (p.1 - at.1).abs() > 18);
            if inside && free {
                return Some(at);
            }
            if fallback.is_none() && inside {
                fallback = Some(at);
            }
        }
    }
    fallback
}

fn transform_coords(v: &[f64], log: bool, what: &str) -> Result<Vec<f64>, FigureError> {
    let t: Vec<f64> = v
        .iter()
        .map(|&x| {
            fwd(x, log).ok_or_else(|| {
                FigureError::Coordinates(format!(
                    "{what} coordinate {x} is not {}",
                    if log {
                        "finite and positive (log axis)"
                    } else {
                        "finite"
                    }
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    if t.windows(2).any(|w| w[1] <= w[0]) {
        return Err(FigureError::Coordinates(format!(
            "{what} coordinates must be strictly increasing"
        )));
    }
    Ok(t)
}

/// Cell edges for cell centres `c` (transformed space): midpoints, extended by half a spacing.
fn cell_edges(c: &[f64]) -> Vec<f64> {
    match c.len() {
        0 => vec![],
        // A single cell is one unit wide (half a decade each side on a log axis).
        1 => vec![c[0] - 0.5, c[0] + 0.5],
        n => {
            let mut e = Vec::with_capacity(n + 1);
            e.push(c[0] - (c[1] - c[0]) / 2.0);
            for w in c.windows(2) {
                e.push((w[0] + w[1]) / 2.0);
            }
            e.push(c[n - 1] + (c[n - 1] - c[n - 2]) / 2.0);
            e
        }
    }
}

/// Colour at `t` in `[0, 1]`.
///
/// Viridis: 17 samples of matplotlib's viridis (van der Walt & Smith, 2015), interpolated
/// linearly. Diverging: a blue–white–red map (Moreland-style endpoints, ColorBrewer RdBu-like).
pub fn colormap(map: ColorMap, t: f64) -> RGBColor {
    const VIRIDIS: [(u8, u8, u8); 17] = [
        (68, 1, 84),
        (72, 21, 104),
        (72, 38, 119),
        (69, 55, 129),
        (63, 71, 136),
        (57, 85, 140),
        (50, 100, 142),
        (45, 113, 142),
        (39, 127, 142),
        (34, 140, 141),
        (31, 154, 138),
        (37, 167, 130),
        (53, 181, 119),
        (80, 193, 102),
        (115, 204, 80),
        (155, 213, 54),
        (253, 231, 37),
    ];
    const DIVERGING: [(u8, u8, u8); 9] = [
        (33, 102, 172),
        (67, 147, 195),
        (146, 197, 222),
        (209, 229, 240),
        (247, 247, 247),
        (253, 219, 199),
        (244, 165, 130),
        (214, 96, 77),
        (178, 24, 43),
    ];
    let table: &[(u8, u8, u8)] = match map {
        ColorMap::Viridis => &VIRIDIS,
        ColorMap::Diverging => &DIVERGING,
    };
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let f = t * (table.len() - 1) as f64;
    let i = (f.floor() as usize).min(table.len() - 2);
    let u = f - i as f64;
    let (a, b) = (table[i], table[i + 1]);
    let mix = |p: u8, q: u8| (p as f64 + (q as f64 - p as f64) * u).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

// ---------------------------------------------------------------------------------------------
// Marching squares
// ---------------------------------------------------------------------------------------------

/// Segments of the level set $\{(x,y) : f(x,y) = c\}$ of a gridded field, by marching squares.
///
/// `z[j][i]` $= f(x_i, y_j)$; `x`, `y` must have the lengths of a row and of `z`. On every grid
/// edge whose end values straddle `level` (a corner counts as "above" when $f \ge c$) the crossing
/// is placed by linear interpolation, $p = a + \frac{c - f(a)}{f(b) - f(a)}(b - a)$, so the result
/// is exact for fields linear along the edges. Saddle cells (diagonally opposite corners above)
/// are disambiguated with the cell-centre mean of the four corners. Cells with a non-finite
/// corner are skipped. Mismatched shapes give no segments.
pub fn marching_squares(x: &[f64], y: &[f64], z: &[Vec<f64>], level: f64) -> Vec<[(f64, f64); 2]> {
    let mut out = vec![];
    if z.len() != y.len()
        || z.iter().any(|r| r.len() != x.len())
        || x.len() < 2
        || y.len() < 2
        || !level.is_finite()
    {
        return out;
    }
    // Edge crossing between grid points a and b, always interpolated from the lower-index end so
    // adjacent cells produce bit-identical points (needed to chain segments).
    let cross = |pa: (f64, f64), fa: f64, pb: (f64, f64), fb: f64| -> (f64, f64) {
        let t = ((level - fa) / (fb - fa)).clamp(0.0, 1.0);
        (pa.0 + t * (pb.0 - pa.0), pa.1 + t * (pb.1 - pa.1))
    };
    for j in 0..y.len() - 1 {
        for i in 0..x.len() - 1 {
            let (f00, f10, f01, f11) = (z[j][i], z[j][i + 1], z[j + 1][i], z[j + 1][i + 1]);
            if !(f00.is_finite() && f10.is_finite() && f01.is_finite() && f11.is_finite()) {
                continue;
            }
            let (p00, p10, p01, p11) = (
                (x[i], y[j]),
                (x[i + 1], y[j]),
                (x[i], y[j + 1]),
                (x[i + 1], y[j + 1]),
            );
            let (a00, a10, a01, a11) = (f00 >= level, f10 >= level, f01 >= level, f11 >= level);
            let bottom = (a00 != a10).then(|| cross(p00, f00, p10, f10));
            let top = (a01 != a11).then(|| cross(p01, f01, p11, f11));
            let left = (a00 != a01).then(|| cross(p00, f00, p01, f01));
            let right = (a10 != a11).then(|| cross(p10, f10, p11, f11));
            let pts: Vec<(f64, f64)> = [bottom, right, top, left].into_iter().flatten().collect();
            match pts.len() {
                2 => out.push([pts[0], pts[1]]),
                4 => {
                    let (b, r, t, l) = (pts[0], pts[1], pts[2], pts[3]);
                    let centre_above = (f00 + f10 + f01 + f11) / 4.0 >= level;
                    if centre_above == a00 {
                        // 00 and 11 connected through the centre: cut off corners 10 and 01.
                        out.push([b, r]);
                        out.push([l, t]);
                    } else {
                        // cut off corners 00 and 11.
                        out.push([b, l]);
                        out.push([r, t]);
                    }
                }
                _ => {}
            }
        }
    }
    out.retain(|s| s[0] != s[1]);
    out
}

/// Level-set polylines: the [`marching_squares`] segments chained at shared end points. A closed
/// contour is returned with its first point repeated at the end.
pub fn contour_lines(x: &[f64], y: &[f64], z: &[Vec<f64>], level: f64) -> Vec<Vec<(f64, f64)>> {
    let segs = marching_squares(x, y, z, level);
    let key = |p: (f64, f64)| (p.0.to_bits(), p.1.to_bits());
    let mut adj: HashMap<(u64, u64), Vec<usize>> = HashMap::new();
    for (k, s) in segs.iter().enumerate() {
        adj.entry(key(s[0])).or_default().push(k);
        adj.entry(key(s[1])).or_default().push(k);
    }
    let mut used = vec![false; segs.len()];
    let next_from = |p: (f64, f64), used: &[bool]| -> Option<usize> {
        adj.get(&key(p))
            .and_then(|v| v.iter().copied().find(|&k| !used[k]))
    };
    let other = |k: usize, p: (f64, f64)| {
        if segs[k][0] == p {
            segs[k][1]
        } else {
            segs[k][0]
        }
    };
    let mut lines = vec![];
    // Start open lines at end points of odd degree so they come out whole.
    let odd = |p: (f64, f64)| adj.get(&key(p)).is_some_and(|v| v.len() % 2 == 1);
    let mut starts: Vec<usize> = (0..segs.len())
        .filter(|&k| odd(segs[k][0]) || odd(segs[k][1]))
        .collect();
    starts.extend(0..segs.len());
    for s in starts {
        if used[s] {
            continue;
        }
        used[s] = true;
        let (a, b) = (segs[s][0], segs[s][1]);
        // Orient so an odd-degree end starts the line.
        let (a, b) = if odd(b) && !odd(a) { (b, a) } else { (a, b) };
        let mut line = vec![a, b];
        while let Some(k) = next_from(*line.last().unwrap_or(&b), &used) {
            used[k] = true;
            let p = other(k, *line.last().unwrap_or(&b));
            line.push(p);
        }
        let mut head = vec![];
        while let Some(k) = next_from(*head.last().unwrap_or(&a), &used) {
            used[k] = true;
            let p = other(k, *head.last().unwrap_or(&a));
            head.push(p);
        }
        if !head.is_empty() {
            head.reverse();
            head.extend(line);
            line = head;
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n)
            .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
            .collect()
    }

    #[test]
    fn marching_squares_circle_within_interpolation_bound() {
        // f = x^2 + y^2, level r^2. Along a grid edge of length h, f is a quadratic with second
        // derivative 2, so linear interpolation errs by at most 2 h^2 / 8 in f at the crossing p:
        // |p|^2 - r^2| <= h^2/4, hence ||p| - r| <= h^2 / (4 (|p| + r)) <= h^2 / (4 r).
        let n = 81;
        let xs = grid(n, -2.0, 2.0);
        let h = xs[1] - xs[0];
        let z: Vec<Vec<f64>> = xs
            .iter()
            .map(|&y| xs.iter().map(|&x| x * x + y * y).collect())
            .collect();
        for r in [0.5, 1.0, 1.7] {
            let segs = marching_squares(&xs, &xs, &z, r * r);
            assert!(segs.len() > 20, "too few segments for r = {r}");
            let bound = h * h / (4.0 * r) + 1e-12;
            let mut worst: f64 = 0.0;
            for s in &segs {
                for p in s {
                    let d = ((p.0 * p.0 + p.1 * p.1).sqrt() - r).abs();
                    worst = worst.max(d);
                    assert!(
                        d <= bound,
                        "point {p:?} is {d} from the circle r = {r} (bound {bound})"
                    );
                }
            }
            // The error bound is attained to within a factor of a few (the test can fail).
            assert!(worst > 0.0);
            // Polyline length ~ 2 pi r (inscribed polygon: slightly shorter).
            let lines = contour_lines(&xs, &xs, &z, r * r);
            assert_eq!(lines.len(), 1, "one closed contour for r = {r}");
            let l = &lines[0];
            assert_eq!(l.first(), l.last(), "closed contour");
            let len: f64 = l
                .windows(2)
                .map(|w| ((w[1].0 - w[0].0).powi(2) + (w[1].1 - w[0].1).powi(2)).sqrt())
                .sum();
            let circ = 2.0 * std::f64::consts::PI * r;
            assert!(
                (len - circ).abs() / circ < 0.01,
                "length {len} vs 2 pi r = {circ}"
            );
        }
    }

    #[test]
    fn marching_squares_exact_for_linear_field_on_uneven_grid() {
        // f = x + 2y is linear along every edge, so crossings are exact even on a non-uniform grid.
        let x: Vec<f64> = (0..15).map(|i| (i as f64 * 0.3).exp() / 10.0).collect();
        let y: Vec<f64> = (0..11)
            .map(|j| -1.0 + (j as f64).powf(1.5) / 10.0)
            .collect();
        let z: Vec<Vec<f64>> = y
            .iter()
            .map(|&y| x.iter().map(|&x| x + 2.0 * y).collect())
            .collect();
        let level = 3.0;
        let segs = marching_squares(&x, &y, &z, level);
        assert!(!segs.is_empty());
        for s in &segs {
            for p in s {
                assert!((p.0 + 2.0 * p.1 - level).abs() < 1e-12, "{p:?}");
            }
        }
        let lines = contour_lines(&x, &y, &z, level);
        assert_eq!(lines.len(), 1, "a straight level line is one open polyline");
        assert_eq!(lines[0].len(), segs.len() + 1);
    }

    #[test]
    fn marching_squares_saddle_and_holes() {
        // f = x*y on a grid that avoids the exact saddle point; level 0 is the two axes.
        let xs = grid(10, -1.0, 1.0); // no grid point at 0
        let z: Vec<Vec<f64>> = xs
            .iter()
            .map(|&y| xs.iter().map(|&x| x * y).collect())
            .collect();
        for s in marching_squares(&xs, &xs, &z, 0.0) {
            for p in s {
                assert!(
                    p.0.abs() < 1e-12 || p.1.abs() < 1e-12,
                    "{p:?} not on an axis"
                );
            }
        }
        // NaN holes and empty input do not panic.
        let mut z2 = z.clone();
        z2[4][4] = f64::NAN;
        let _ = contour_lines(&xs, &xs, &z2, 0.1);
        assert!(marching_squares(&[], &[], &[], 0.0).is_empty());
        assert!(
            marching_squares(&xs, &xs, &z[..3], 0.0).is_empty(),
            "shape mismatch gives nothing"
        );
    }

    #[test]
    fn log_axis_ticks_are_decades_in_scientific_notation() {
        let ax = Axis::new(-4.2, 1.3, true);
        assert_eq!(
            ax.labels,
            vec!["10⁻⁴", "10⁻³", "10⁻²", "10⁻¹", "10⁰", "10¹"]
        );
        let two = Axis::new(0.0, 54f64.log10(), true);
        assert_eq!(two.labels, vec!["1", "2", "5", "10", "20", "50"]);
        let narrow = Axis::new(0.1, 0.9, true); // 1.26 .. 7.9
        assert_eq!(narrow.labels, vec!["2", "3", "4", "5", "6", "7"]);
        let narrower = Axis::new(1.188f64.log10(), 2.00009f64.log10(), true);
        assert_eq!(narrower.labels, vec!["1.2", "1.4", "1.6", "1.8", "2.0"]);
        let lin = Axis::new(0.0, 1.0, false);
        assert_eq!(lin.labels, vec!["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        let big = Axis::new(0.0, 3e5, false);
        assert!(
            big.labels.iter().any(|l| l.contains("×10⁵")),
            "{:?}",
            big.labels
        );
        assert_eq!(format_number(1500.0), "1500");
        assert_eq!(format_number(0.000123), "1.23×10⁻⁴");
        assert_eq!(format_number(-0.5), "−0.5");
    }

    #[test]
    fn clipping() {
        let c = Clip {
            x0: 0.0,
            x1: 1.0,
            y0: 0.0,
            y1: 1.0,
        };
        let s = c.segment((-1.0, 0.5), (2.0, 0.5)).unwrap();
        assert_eq!(s, ((0.0, 0.5), (1.0, 0.5)));
        assert!(c.segment((-1.0, 2.0), (2.0, 2.0)).is_none());
        let pieces = c.polyline(&[(0.5, 0.5), (0.5, 2.0), (0.7, 2.0), (0.7, 0.5)]);
        assert_eq!(pieces.len(), 2);
        let poly = c.polygon(&[(-1.0, -1.0), (2.0, -1.0), (2.0, 2.0), (-1.0, 2.0)]);
        let area: f64 = poly
            .iter()
            .zip(poly.iter().cycle().skip(1))
            .map(|(a, b)| a.0 * b.1 - b.0 * a.1)
            .sum::<f64>()
            / 2.0;
        assert!((area.abs() - 1.0).abs() < 1e-12);
    }

    fn sample_lineplot() -> LinePlot {
        let xs: Vec<f64> = (1..=50).map(|i| i as f64 * 4.0).collect();
        LinePlot::new("Gradient explosion", "depth L", "‖∇‖ ratio")
            .log_y()
            .series(Series::new(
                "tanh, full",
                xs.iter().map(|&l| (l, (l / 40.0).exp())).collect(),
            ))
            .series(
                Series::new(
                    "ReLU, reduced",
                    xs.iter().map(|&l| (l, l.powf(1.5))).collect(),
                )
                .style(SeriesStyle::Dashed)
                .band(
                    xs.iter()
                        .map(|&l| (l, 0.7 * l.powf(1.5), 1.4 * l.powf(1.5)))
                        .collect(),
                ),
            )
            .series(
                Series::new(
                    "Monte Carlo",
                    xs.iter()
                        .step_by(5)
                        .map(|&l| (l, 1.1 * l.powf(1.5)))
                        .collect(),
                )
                .style(SeriesStyle::Markers),
            )
            .hline(1.0, "no growth")
    }

    #[test]
    fn lineplot_renders_labels_and_legend() {
        let svg = sample_lineplot().render().unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        assert!(svg.trim_end().ends_with("</svg>"));
        for needle in [
            "Gradient explosion",
            "depth L",
            "‖∇‖ ratio",
            "tanh, full",
            "ReLU, reduced",
            "Monte Carlo",
            "no growth",
            "10²",
        ] {
            assert!(svg.contains(needle), "missing {needle}");
        }
    }

    #[test]
    fn lineplot_survives_nan_empty_and_nonpositive_on_log() {
        let bad = LinePlot::new("", "x", "y")
            .log_x()
            .log_y()
            .series(Series::new(
                "bad",
                vec![
                    (f64::NAN, 1.0),
                    (0.0, 1.0),
                    (-1.0, 2.0),
                    (1.0, -3.0),
                    (f64::INFINITY, 1.0),
                ],
            ))
            .series(Series::new("one", vec![(2.0, 3.0)]).style(SeriesStyle::LineWithMarkers))
            .series(Series::new("empty", vec![]));
        let svg = bad.render().unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        let empty = LinePlot::new("Empty", "x", "y").render().unwrap();
        assert!(empty.contains("no data"));
        let all_bad = LinePlot::new("", "x", "y")
            .log_y()
            .series(Series::new("s", vec![(1.0, -1.0), (2.0, f64::NAN)]));
        assert!(all_bad.render().unwrap().contains("no finite data"));
        assert!(LinePlot::new("", "x", "y")
            .x_range(1.0, 0.0)
            .render()
            .is_err());
    }

    fn sample_heatmap() -> Heatmap {
        let x: Vec<f64> = (0..30)
            .map(|i| 10f64.powf(-1.0 + 2.0 * i as f64 / 29.0))
            .collect();
        let y: Vec<f64> = (0..20).map(|j| 0.5 + 3.0 * j as f64 / 19.0).collect();
        let values: Vec<Vec<Option<f64>>> = y
            .iter()
            .enumerate()
            .map(|(j, &yv)| {
                x.iter()
                    .enumerate()
                    .map(|(i, &xv)| {
                        if j == 0 && i < 3 {
                            None
                        } else if yv > 3.2 && xv > 5.0 {
                            Some(f64::INFINITY)
                        } else {
                            Some(xv.ln() * yv)
                        }
                    })
                    .collect()
            })
            .collect();
        let field: Vec<Vec<f64>> = y
            .iter()
            .map(|&yv| x.iter().map(|&xv| xv * yv).collect())
            .collect();
        Heatmap::new(
            "Test accuracy",
            "σ_w²",
            "σ_b²",
            x.clone(),
            y.clone(),
            values,
        )
        .log_x()
        .colorbar("accuracy")
        .contour(ContourSet {
            label: "χ = 1".into(),
            x,
            y,
            values: field,
            levels: vec![0.5, 1.0, 4.0],
            ..Default::default()
        })
        .marker(1.0, 1.0, "Xavier", MarkerShape::Circle)
        .marker(2.0, 1.0, "He", MarkerShape::Triangle)
    }

    #[test]
    fn heatmap_renders_everything() {
        let start = std::time::Instant::now();
        let svg = sample_heatmap().render().unwrap();
        let took = start.elapsed();
        eprintln!("heatmap render took {took:?}");
        assert!(svg.starts_with("<svg"));
        assert!(
            !svg.contains("font-size=\"15.000"),
            "font sizes are rounded"
        );
        for needle in [
            "Test accuracy",
            "σ_w²",
            "σ_b²",
            "accuracy",
            "Xavier",
            "He",
            "χ = 1",
            "no data",
            "diverged",
            "0.2",
            "0.5",
        ] {
            assert!(svg.contains(needle), "missing {needle}");
        }
        // Brief: a figure renders in well under 100 ms (about 1 ms here, test profile).
        assert!(took.as_millis() < 100, "heatmap took {took:?}");
    }

    #[test]
    fn heatmap_rejects_bad_shapes_and_survives_empty() {
        let h = Heatmap::new(
            "",
            "x",
            "y",
            vec![1.0, 2.0],
            vec![1.0],
            vec![vec![Some(1.0)]],
        );
        assert!(matches!(h.render(), Err(FigureError::Shape(_))));
        let h = Heatmap::new(
            "",
            "x",
            "y",
            vec![2.0, 1.0],
            vec![1.0],
            vec![vec![Some(1.0), Some(2.0)]],
        );
        assert!(matches!(h.render(), Err(FigureError::Coordinates(_))));
        let h = Heatmap::new(
            "",
            "x",
            "y",
            vec![0.0, 1.0],
            vec![1.0],
            vec![vec![Some(1.0), None]],
        )
        .log_x();
        assert!(matches!(h.render(), Err(FigureError::Coordinates(_))));
        let empty = Heatmap::new("", "x", "y", vec![], vec![], vec![])
            .render()
            .unwrap();
        assert!(empty.contains("no data"));
        let all_nan = Heatmap::new(
            "",
            "x",
            "y",
            vec![1.0, 2.0],
            vec![1.0],
            vec![vec![Some(f64::NAN), None]],
        )
        .render()
        .unwrap();
        assert!(all_nan.starts_with("<svg"));
    }

    /// Renders a gallery of edge cases; writes them as SVG files when `EOC_FIGURE_DIR` is set
    /// (to look at them, e.g. after `rsvg-convert`).
    #[test]
    fn sample_figures_render() {
        let xs: Vec<f64> = (0..40).map(|i| 1.2 + 0.02 * i as f64).collect();
        let gallery = vec![
            ("line", sample_lineplot().render().unwrap()),
            ("heat", sample_heatmap().render().unwrap()),
            (
                "empty",
                LinePlot::new("Nothing", "x", "y").log_y().render().unwrap(),
            ),
            (
                "narrowlog",
                LinePlot::new("", "q", "small values")
                    .log_x()
                    .log_y()
                    .series(
                        Series::new("a", xs.iter().map(|&x| (x, 3e-5 * x)).collect())
                            .style(SeriesStyle::LineWithMarkers),
                    )
                    .series(Series::new(
                        "b",
                        xs.iter().map(|&x| (x, 2.5e-5 * x * x)).collect(),
                    ))
                    .vline(1.5, "critical")
                    .render()
                    .unwrap(),
            ),
            (
                "negsci",
                LinePlot::new("", "t", "signal")
                    .series(Series::new(
                        "sin",
                        (0..100)
                            .map(|i| (i as f64 * 1e3, 4e-4 * (i as f64 / 9.0).sin()))
                            .collect(),
                    ))
                    .series(
                        Series::new(
                            "cos",
                            (0..100)
                                .map(|i| (i as f64 * 1e3, 3e-4 * (i as f64 / 7.0).cos()))
                                .collect(),
                        )
                        .style(SeriesStyle::Dashed),
                    )
                    .hline(0.0, "zero")
                    .legend(LegendPos::LowerLeft)
                    .render()
                    .unwrap(),
            ),
            (
                "diverging",
                Heatmap::new(
                    "",
                    "σ_w",
                    "depth L",
                    (0..12).map(|i| 0.5 + 0.25 * i as f64).collect(),
                    (0..9).map(|j| 2f64.powi(j + 1)).collect(),
                    (0..9)
                        .map(|j| {
                            (0..12)
                                .map(|i| Some((i as f64 - 6.0) * (j as f64 + 1.0) * 0.1))
                                .collect()
                        })
                        .collect(),
                )
                .log_y()
                .color_map(ColorMap::Diverging)
                .color_range(-5.0, 5.0)
                .colorbar("log₁₀ ratio")
                .render()
                .unwrap(),
            ),
        ];
        for (_, svg) in &gallery {
            assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        }
        if let Ok(dir) = std::env::var("EOC_FIGURE_DIR") {
            for (name, svg) in &gallery {
                std::fs::write(format!("{dir}/{name}.svg"), svg).unwrap();
            }
        }
    }
}
