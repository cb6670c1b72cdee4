//! The data of a line plot: a [`Series`] (curve, markers, shaded band) and its [`SeriesStyle`],
//! and labelled reference lines ([`RefLine`]).

use plotters::prelude::RGBColor;

use super::axis::fwd;
use super::legend::Swatch;
use super::marker::{MarkerShape, SERIES_SHAPES};
use super::style::palette;

/// How a [`Series`] is drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SeriesStyle {
    #[default]
    Line,
    Dashed,
    Markers,
    LineWithMarkers,
}

impl SeriesStyle {
    /// Whether points are joined by a line.
    pub(super) fn has_line(self) -> bool {
        matches!(self, SeriesStyle::Line | SeriesStyle::Dashed | SeriesStyle::LineWithMarkers)
    }

    /// Whether points get markers.
    pub(super) fn has_markers(self) -> bool {
        matches!(self, SeriesStyle::Markers | SeriesStyle::LineWithMarkers)
    }
}

/// One curve of a [`LinePlot`](super::LinePlot).
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
    /// Index into [`PALETTE`](super::PALETTE) (default: the series' position).
    pub color: Option<usize>,
}

impl Series {
    /// A solid line series.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series { label: label.into(), points, ..Default::default() }
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

    /// Colour of the series at position `index` in its plot.
    pub(super) fn line_color(&self, index: usize) -> RGBColor {
        palette(self.color.unwrap_or(index))
    }

    /// Runs of consecutive valid points in transformed coordinates (split at invalid ones).
    pub(super) fn point_runs(&self, x_log: bool, y_log: bool) -> Vec<Vec<(f64, f64)>> {
        valid_runs(self.points.iter().map(|&(x, y)| match (fwd(x, x_log), fwd(y, y_log)) {
            (Some(x), Some(y)) => Some((x, y)),
            _ => None,
        }))
    }

    /// Runs of consecutive valid band points `(x, lo, hi)` in transformed coordinates.
    pub(super) fn band_runs(&self, x_log: bool, y_log: bool) -> Vec<Vec<(f64, f64, f64)>> {
        let band = self.band.iter().flatten();
        valid_runs(band.map(|&(x, lo, hi)| match (fwd(x, x_log), fwd(lo, y_log), fwd(hi, y_log)) {
            (Some(x), Some(lo), Some(hi)) => Some((x, lo, hi)),
            _ => None,
        }))
    }

    /// Legend swatch of the series at position `index` in its plot.
    pub(super) fn swatch(&self, index: usize) -> Swatch {
        let color = self.line_color(index);
        let shape = series_shape(index);
        match self.style {
            SeriesStyle::Markers => Swatch::Markers { color, shape },
            st => Swatch::Line {
                color,
                dashed: st == SeriesStyle::Dashed,
                marker: (st == SeriesStyle::LineWithMarkers).then_some(shape),
                band: self.band.is_some(),
            },
        }
    }
}

/// Marker shape of the series at position `index` in its plot.
pub(super) fn series_shape(index: usize) -> MarkerShape {
    SERIES_SHAPES[index % SERIES_SHAPES.len()]
}

/// A labelled reference line (dashed grey) across the plot.
#[derive(Clone, Debug)]
pub enum RefLine {
    Horizontal { y: f64, label: String },
    Vertical { x: f64, label: String },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_break_at_invalid_points() {
        let s = Series::new("s", vec![(1.0, 1.0), (2.0, -1.0), (3.0, 2.0), (4.0, 3.0)]);
        assert_eq!(s.point_runs(false, true), vec![vec![(1.0, 0.0)], vec![(3.0, 2f64.log10()), (4.0, 3f64.log10())]]);
        assert_eq!(s.point_runs(false, false).len(), 1);
        assert!(s.band_runs(false, false).is_empty());
        assert!(valid_runs(std::iter::empty::<Option<u8>>()).is_empty());
    }
}
