//! Line plots: [`LinePlot`], curves, markers and shaded bands of [`Series`] with reference
//! lines and a boxed legend, on linear or logarithmic axes.
//!
//! [`LinePlot::render`] runs in three steps: the data extents (transformed ranges of both axes),
//! the layout (chart, ticks and mesh) and the drawing (bands, reference lines, series, frame,
//! legend), in that order so that later elements lie on top.

use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::{axis_range, fwd, Axis};
use super::clip::Clip;
use super::frame::{
    axes_builders, build_chart, draw_frame, draw_mesh, draw_note, plot_corners, render_svg, Area, AxesSpec, Chart,
    Margins,
};
use super::legend::{draw_legend_box, draw_legend_row, legend_box_position, legend_row_height, LegendEntry, LegendPos};
use super::marker::draw_marker;
use super::series::{series_shape, RefLine, Series, SeriesStyle};
use super::style::{draw_err, font, text_width, FigureError, LEGEND_PX};

/// Curves on linear or log axes. Build with [`LinePlot::new`] and the builder methods, or fill
/// the public fields; then [`LinePlot::render`].
#[derive(Clone, Debug)]
pub struct LinePlot {
    /// Title, axis titles, log axes and size.
    pub axes: AxesSpec,
    pub series: Vec<Series>,
    pub ref_lines: Vec<RefLine>,
    /// Explicit axis ranges (data units); `None` fits the data.
    pub x_range: Option<(f64, f64)>,
    pub y_range: Option<(f64, f64)>,
    pub legend: LegendPos,
}

/// Transformed ranges of the axes (the clip rectangle) and whether any point is drawable.
struct Extents {
    clip: Clip,
    has_data: bool,
}

/// What [`LinePlot::draw_series`] drew: pixel samples of the curves and markers (for placing
/// the legend) and the legend entries.
struct DrawnSeries {
    samples: Vec<(i32, i32)>,
    entries: Vec<LegendEntry>,
}

/// Pixel position of a point in transformed coordinates.
type ToPixel<'c> = dyn Fn((f64, f64)) -> (i32, i32) + 'c;

axes_builders!(LinePlot);

impl LinePlot {
    pub fn new(title: impl Into<String>, x_label: impl Into<String>, y_label: impl Into<String>) -> Self {
        LinePlot {
            axes: AxesSpec::new(title, x_label, y_label),
            series: vec![],
            ref_lines: vec![],
            x_range: None,
            y_range: None,
            legend: LegendPos::Auto,
        }
    }
    pub fn series(mut self, s: Series) -> Self {
        self.series.push(s);
        self
    }
    pub fn hline(mut self, y: f64, label: impl Into<String>) -> Self {
        self.ref_lines.push(RefLine::Horizontal { y, label: label.into() });
        self
    }
    pub fn vline(mut self, x: f64, label: impl Into<String>) -> Self {
        self.ref_lines.push(RefLine::Vertical { x, label: label.into() });
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

    /// Render to an SVG document (`<svg ...>...</svg>`).
    ///
    /// The legend goes into the inside corner asked for ([`LegendPos::Auto`]: the corner covering
    /// the fewest data points and labels); if that corner would cover any data point, curve sample,
    /// band edge or label, the figure is drawn again with the legend in a row under the plot, so a
    /// legend never hides data.
    pub fn render(&self) -> Result<String, FigureError> {
        let ext = self.extents()?;
        let mut covers_data = false;
        let svg = self.render_with(&ext, false, &mut covers_data)?;
        if covers_data {
            self.render_with(&ext, true, &mut covers_data)
        } else {
            Ok(svg)
        }
    }

    /// Draws the figure with the legend inside (`below == false`, setting `covers_data` when the
    /// chosen corner covers something) or in a row under the plotting area.
    fn render_with(&self, ext: &Extents, below: bool, covers_data: &mut bool) -> Result<String, FigureError> {
        let clip = ext.clip;
        let (width, height) = (self.axes.width, self.axes.height);
        let labelled: Vec<LegendEntry> = self
            .series
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.label.is_empty())
            .map(|(i, s)| LegendEntry { label: s.label.clone(), swatch: s.swatch(i) })
            .collect();
        let legend_h = if below && self.legend != LegendPos::None {
            legend_row_height(&labelled, width as i32 - 40) as u32 + 4
        } else {
            0
        };
        render_svg(width, height, |root| {
            let (body, legend_area) = root.split_vertically(height - legend_h);
            let chart = self.layout(&body, &clip)?;
            let px = |p: (f64, f64)| chart.backend_coord(&p);
            let (pa, pb) = plot_corners(&chart);
            let mut samples = self.draw_bands(root, &clip, &px)?;
            let labels = self.draw_ref_lines(root, &clip, &px)?;
            let DrawnSeries { samples: drawn, entries } = self.draw_series(root, &clip, &px)?;
            samples.extend(drawn);
            let label_boxes = self.draw_ref_labels(root, &labels, &samples, pa, pb)?;
            for (a, b) in label_boxes {
                for x in (a.0..=b.0).step_by(4) {
                    for y in (a.1..=b.1).step_by(4) {
                        samples.push((x, y));
                    }
                }
            }
            draw_frame(root, pa, pb)?;
            if !ext.has_data {
                let note = if self.series.is_empty() { "no data" } else { "no finite data to plot" };
                draw_note(root, note, pa, pb)?;
            }
            if !entries.is_empty() && self.legend != LegendPos::None {
                if below {
                    let (_, ly) = legend_area.get_base_pixel();
                    draw_legend_row(root, &entries, 20, width as i32 - 20, ly)?;
                } else {
                    let (pos, covered) = legend_box_position(&entries, self.legend, &samples, pa, pb);
                    *covers_data = covered > 0;
                    draw_legend_box(root, &entries, pos)?;
                }
            }
            Ok(())
        })
    }

    /// Axis ranges from the points, bands and reference lines (or the explicit ranges).
    fn extents(&self) -> Result<Extents, FigureError> {
        let (xl, yl) = (self.axes.x_log, self.axes.y_log);
        let xs = self.series.iter().flat_map(|s| {
            let valid = s.points.iter().filter(|p| fwd(p.1, yl).is_some()).map(|p| p.0);
            let band = s.band.iter().flatten().map(|b| b.0);
            valid.chain(band).collect::<Vec<_>>()
        });
        let xs = xs.chain(self.ref_lines.iter().filter_map(|r| match r {
            RefLine::Vertical { x, .. } => Some(*x),
            _ => None,
        }));
        let (x0, x1) = axis_range(xs, xl, self.x_range, 0.02)?;
        let ys = self.series.iter().flat_map(|s| {
            let valid = s.points.iter().filter(|p| fwd(p.0, xl).is_some()).map(|p| p.1);
            let band = s.band.iter().flatten().flat_map(|b| [b.1, b.2]);
            valid.chain(band).collect::<Vec<_>>()
        });
        let ys = ys.chain(self.ref_lines.iter().filter_map(|r| match r {
            RefLine::Horizontal { y, .. } => Some(*y),
            _ => None,
        }));
        let (y0, y1) = axis_range(ys, yl, self.y_range, 0.05)?;
        let has_data =
            self.series.iter().any(|s| s.points.iter().any(|p| fwd(p.0, xl).is_some() && fwd(p.1, yl).is_some()));
        Ok(Extents { clip: Clip { x0, x1, y0, y1 }, has_data })
    }

    /// The chart over the clip rectangle, with ticks, labels and grid; the y label area is
    /// widened for wide tick labels.
    fn layout<'a, 'b>(&self, root: &'a Area<'b>, clip: &Clip) -> Result<Chart<'a, 'b>, FigureError> {
        let x = Axis::new(clip.x0, clip.x1, self.axes.x_log);
        let y = Axis::new(clip.y0, clip.y1, self.axes.y_log);
        let margins = Margins { right: 18, bottom: 6, y_labels: y.label_area() };
        let mut chart = build_chart(root, &self.axes, margins, x, y)?;
        draw_mesh(&mut chart, &self.axes, true)?;
        Ok(chart)
    }

    /// Shaded bands, under everything else; returns pixel samples of their edges.
    fn draw_bands(&self, root: &Area, clip: &Clip, px: &ToPixel) -> Result<Vec<(i32, i32)>, FigureError> {
        let mut samples = Vec::new();
        for (si, s) in self.series.iter().enumerate() {
            let color = s.line_color(si);
            for run in s.band_runs(self.axes.x_log, self.axes.y_log) {
                if run.len() < 2 {
                    continue;
                }
                let mut poly: Vec<(f64, f64)> = run.iter().map(|&(x, lo, _)| (x, lo)).collect();
                poly.extend(run.iter().rev().map(|&(x, _, hi)| (x, hi)));
                let poly = clip.polygon(&poly);
                if poly.len() >= 3 {
                    let pix: Vec<(i32, i32)> = poly.iter().map(|p| px(*p)).collect();
                    sample_polyline(&pix, &mut samples);
                    root.draw(&Polygon::new(pix, color.mix(0.2).filled())).map_err(draw_err)?;
                }
            }
        }
        Ok(samples)
    }

    /// Dashed grey reference lines (those outside the ranges are left out); returns their labels
    /// with the pixel ends of their lines, for [`Self::draw_ref_labels`].
    fn draw_ref_lines(&self, root: &Area, clip: &Clip, px: &ToPixel) -> Result<Vec<RefLabel>, FigureError> {
        let Clip { x0, x1, y0, y1 } = *clip;
        let ref_style = RGBColor(0x55, 0x55, 0x55).stroke_width(1);
        let mut labels = Vec::new();
        for r in &self.ref_lines {
            let (a, b, label, horizontal) = match r {
                RefLine::Horizontal { y, label } => {
                    let Some(t) = fwd(*y, self.axes.y_log).filter(|t| *t >= y0 && *t <= y1) else {
                        continue;
                    };
                    (px((x0, t)), px((x1, t)), label, true)
                }
                RefLine::Vertical { x, label } => {
                    let Some(t) = fwd(*x, self.axes.x_log).filter(|t| *t >= x0 && *t <= x1) else {
                        continue;
                    };
                    (px((t, y0)), px((t, y1)), label, false)
                }
            };
            root.draw(&DashedPathElement::new(vec![a, b], 5, 4, ref_style)).map_err(draw_err)?;
            if !label.is_empty() {
                labels.push(RefLabel { text: label.clone(), a, b, horizontal });
            }
        }
        Ok(labels)
    }

    /// The labels of the reference lines, each at the end of its line and the side of it where it
    /// covers the fewest data `samples` (drawn on top, on a white ground); returns their boxes.
    fn draw_ref_labels(
        &self,
        root: &Area,
        labels: &[RefLabel],
        samples: &[(i32, i32)],
        pa: (i32, i32),
        pb: (i32, i32),
    ) -> Result<Vec<PixelBox>, FigureError> {
        let ref_text = TextStyle::from(font(LEGEND_PX)).color(&RGBColor(0x40, 0x40, 0x40));
        let mut boxes: Vec<PixelBox> = Vec::new();
        for l in labels {
            let w = text_width(&l.text, LEGEND_PX).ceil() as i32;
            let h = LEGEND_PX.ceil() as i32;
            // Upper-left corners of the candidate boxes, in order of preference.
            let candidates: Vec<(i32, i32)> = if l.horizontal {
                let (xl, xr, y) = (l.a.0.min(l.b.0) + 4, l.a.0.max(l.b.0) - 4 - w, l.a.1);
                let mut c = vec![(xr, y - 3 - h), (xr, y + 3), (xl, y - 3 - h), (xl, y + 3)];
                // Then along the line, where the ends are crowded.
                for k in 1..8 {
                    let x = xl + (xr - xl) * k / 8;
                    c.extend([(x, y - 3 - h), (x, y + 3)]);
                }
                c
            } else {
                let (x, yt, yb) = (l.a.0, l.a.1.min(l.b.1) + 4, l.a.1.max(l.b.1) - 4 - h);
                let mut c = vec![(x + 4, yt), (x - 4 - w, yt), (x + 4, yb), (x - 4 - w, yb)];
                for k in 1..8 {
                    let y = yt + (yb - yt) * k / 8;
                    c.extend([(x + 4, y), (x - 4 - w, y)]);
                }
                c
            };
            let inside = |c: &(i32, i32)| c.0 >= pa.0 && c.0 + w <= pb.0 && c.1 >= pa.1 && c.1 + h <= pb.1;
            let cost = |c: &(i32, i32)| {
                let hits = samples
                    .iter()
                    .filter(|p| p.0 >= c.0 - 3 && p.0 <= c.0 + w + 3 && p.1 >= c.1 - 3 && p.1 <= c.1 + h + 3)
                    .count();
                let clash =
                    boxes.iter().filter(|(a, b)| c.0 < b.0 && c.0 + w > a.0 && c.1 < b.1 && c.1 + h > a.1).count();
                hits + 1000 * clash + if inside(c) { 0 } else { 100_000 }
            };
            let best = candidates.iter().copied().min_by_key(|c| cost(c)).unwrap_or(candidates[0]);
            root.draw(&Rectangle::new([(best.0 - 2, best.1), (best.0 + w + 2, best.1 + h)], WHITE.mix(0.85).filled()))
                .map_err(draw_err)?;
            root.draw(&Text::new(l.text.clone(), best, ref_text.pos(Pos::new(HPos::Left, VPos::Top))))
                .map_err(draw_err)?;
            boxes.push((best, (best.0 + w, best.1 + h)));
        }
        Ok(boxes)
    }

    /// Curves and markers, and the legend entries.
    fn draw_series(&self, root: &Area, clip: &Clip, px: &ToPixel) -> Result<DrawnSeries, FigureError> {
        let mut samples: Vec<(i32, i32)> = vec![];
        let mut entries: Vec<LegendEntry> = vec![];
        for (si, s) in self.series.iter().enumerate() {
            let color = s.line_color(si);
            let runs = s.point_runs(self.axes.x_log, self.axes.y_log);
            if s.style.has_line() {
                for run in &runs {
                    for piece in clip.polyline(run) {
                        let pix: Vec<(i32, i32)> = piece.iter().map(|p| px(*p)).collect();
                        sample_polyline(&pix, &mut samples);
                        if s.style == SeriesStyle::Dashed {
                            root.draw(&DashedPathElement::new(pix, 7, 5, color.stroke_width(2))).map_err(draw_err)?;
                        } else {
                            root.draw(&PathElement::new(pix, color.stroke_width(2))).map_err(draw_err)?;
                        }
                    }
                }
            }
            if s.style.has_markers() {
                for p in runs.iter().flatten().filter(|p| clip.contains(**p)) {
                    let c = px(*p);
                    // The marker's extent (radius 4 and its stroke), not just its centre.
                    samples.extend([c, (c.0 - 5, c.1), (c.0 + 5, c.1), (c.0, c.1 - 5), (c.0, c.1 + 5)]);
                    draw_marker(root, series_shape(si), c, 4, color, Some(WHITE), 2)?;
                }
            }
            if !s.label.is_empty() {
                entries.push(LegendEntry { label: s.label.clone(), swatch: s.swatch(si) });
            }
        }
        Ok(DrawnSeries { samples, entries })
    }
}

/// A pixel rectangle: upper-left and lower-right corners.
type PixelBox = ((i32, i32), (i32, i32));

/// The label of a reference line and the pixel ends of the line.
struct RefLabel {
    text: String,
    a: (i32, i32),
    b: (i32, i32),
    horizontal: bool,
}

/// Append points along the pixel polyline `pix` (four per segment and its end) to `samples`.
fn sample_polyline(pix: &[(i32, i32)], samples: &mut Vec<(i32, i32)>) {
    for w in pix.windows(2) {
        for k in 0..4 {
            let f = k as f64 / 4.0;
            samples
                .push((w[0].0 + ((w[1].0 - w[0].0) as f64 * f) as i32, w[0].1 + ((w[1].1 - w[0].1) as f64 * f) as i32));
        }
    }
    samples.extend(pix.last().copied());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::gallery::sample_lineplot;

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
                vec![(f64::NAN, 1.0), (0.0, 1.0), (-1.0, 2.0), (1.0, -3.0), (f64::INFINITY, 1.0)],
            ))
            .series(Series::new("one", vec![(2.0, 3.0)]).style(SeriesStyle::LineWithMarkers))
            .series(Series::new("empty", vec![]));
        let svg = bad.render().unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        let empty = LinePlot::new("Empty", "x", "y").render().unwrap();
        assert!(empty.contains("no data"));
        let all_bad = LinePlot::new("", "x", "y").log_y().series(Series::new("s", vec![(1.0, -1.0), (2.0, f64::NAN)]));
        assert!(all_bad.render().unwrap().contains("no finite data"));
        assert!(LinePlot::new("", "x", "y").x_range(1.0, 0.0).render().is_err());
    }
}
