//! Heatmaps: [`Heatmap`], a colour field over a grid with a colour bar, missing and diverged
//! cells, contour lines of a second field, labelled markers and a legend row underneath.
//!
//! [`Heatmap::render`] runs in three steps: the extents (checked shapes, cell edges, colour
//! scale, contour grids), the layout (legend row, colour-bar strip, chart with ticks) and the
//! drawing (cells, contours, markers, frame, colour bar, legend).

use plotters::prelude::*;

use super::axis::{fwd, transform_coords, Axis};
use super::cells::{cell_edges, draw_cells};
use super::clip::Clip;
use super::colormap::{draw_colorbar, ColorMap, ColorScale, COLORBAR_W};
use super::contour::{draw_contours, ContourSet, GriddedContours};
use super::frame::{
    axes_builders, build_chart, draw_frame, draw_mesh, draw_note, plot_corners, render_svg, Area, AxesSpec, Chart,
    Margins,
};
use super::legend::{draw_legend_row, legend_row_height, LegendEntry, Swatch};
use super::marker::{draw_marker, Marker, MarkerShape};
use super::style::FigureError;
use super::ticks::format_number;

/// A colour field over a grid. `values[j][i]` is the cell centred at `(x[i], y[j])`:
/// `None` = no data (grey, hatched), `Some(non-finite)` = diverged (grey with ×), otherwise the
/// value mapped through the colour map (clamped to the colour range).
#[derive(Clone, Debug)]
pub struct Heatmap {
    /// Title, axis titles, log axes and size.
    pub axes: AxesSpec,
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
}

/// Everything [`Heatmap::render`] derives from the data before drawing.
struct Extents<'h> {
    /// Transformed row centres.
    ty: Vec<f64>,
    /// Transformed cell edges.
    ex: Vec<f64>,
    ey: Vec<f64>,
    /// The plotting area in transformed coordinates.
    clip: Clip,
    scale: ColorScale,
    /// Contour sets with their transformed grids.
    contours: Vec<GriddedContours<'h>>,
}

axes_builders!(Heatmap);

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
            axes: AxesSpec::new(title, x_label, y_label),
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
        }
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
        self.markers.push(Marker { x, y, label: label.into(), shape });
        self
    }

    /// Render to an SVG document.
    pub fn render(&self) -> Result<String, FigureError> {
        let ext = self.extents()?;
        let (width, height) = (self.axes.width, self.axes.height);
        let entries = self.legend_entries();
        let legend_h = legend_row_height(&entries, width as i32 - 40) as u32;
        render_svg(width, height, |root| {
            let (body, legend_area) = root.split_vertically(height - legend_h);
            let (main, bar) = body.split_horizontally(width.saturating_sub(COLORBAR_W));
            let chart = self.layout(&main, &ext)?;
            let (pa, pb) = plot_corners(&chart);
            let px = |p: (f64, f64)| chart.backend_coord(&p);
            draw_cells(root, &self.values, (&ext.ex, &ext.ey), px, &ext.scale, (pa, pb))?;
            if self.x.is_empty() || self.y.is_empty() {
                draw_note(root, "no data", pa, pb)?;
            }
            draw_contours(root, &ext.contours, &ext.clip, px, (pa, pb))?;
            self.draw_markers(root, &ext.clip, px)?;
            draw_frame(root, pa, pb)?;
            let (bar_x, _) = bar.get_base_pixel();
            let label = &self.colorbar_label;
            draw_colorbar(root, &ext.scale, bar_x, (pa.1, pb.1), label, width as i32 - 10)?;
            if !entries.is_empty() {
                let (_, ly) = legend_area.get_base_pixel();
                draw_legend_row(root, &entries, 20, width as i32 - 20, ly)?;
            }
            Ok(())
        })
    }

    /// Check the shapes and coordinates; cell edges, colour scale and contour grids.
    fn extents(&self) -> Result<Extents<'_>, FigureError> {
        let (nx, ny) = (self.x.len(), self.y.len());
        if self.values.len() != ny {
            return Err(FigureError::Shape(format!("{} value rows for {} y coordinates", self.values.len(), ny)));
        }
        if let Some((j, r)) = self.values.iter().enumerate().find(|(_, r)| r.len() != nx) {
            return Err(FigureError::Shape(format!("value row {j} has {} entries for {} x coordinates", r.len(), nx)));
        }
        let tx = transform_coords(&self.x, self.axes.x_log, "heatmap x")?;
        let ty = transform_coords(&self.y, self.axes.y_log, "heatmap y")?;
        let (ex, ey) = (cell_edges(&tx), cell_edges(&ty));
        let span = |e: &[f64]| e.first().zip(e.last()).map_or((0.0, 1.0), |(a, b)| (*a, *b));
        let ((x0, x1), (y0, y1)) = (span(&ex), span(&ey));
        let values = self.values.iter().flatten().flatten();
        let scale = ColorScale::new(values, self.color_range, self.color_log, self.color_map)?;
        let contours =
            self.contours.iter().map(|c| c.grid(self.axes.x_log, self.axes.y_log)).collect::<Result<_, _>>()?;
        Ok(Extents { ty, ex, ey, clip: Clip { x0, x1, y0, y1 }, scale, contours })
    }

    /// Legend entries: labelled contour sets and markers, then missing and diverged cells.
    fn legend_entries(&self) -> Vec<LegendEntry> {
        let mut entries = vec![];
        for c in self.contours.iter().filter(|c| !c.label.is_empty()) {
            entries.push(LegendEntry {
                label: c.label.clone(),
                swatch: Swatch::Contour { color: c.line_color(), dashed: c.dashed },
            });
        }
        for m in self.markers.iter().filter(|m| !m.label.is_empty()) {
            entries.push(LegendEntry { label: m.label.clone(), swatch: Swatch::Marker { shape: m.shape } });
        }
        let cells = || self.values.iter().flatten();
        if cells().any(|v| v.is_none()) {
            entries.push(LegendEntry { label: "no data".into(), swatch: Swatch::Hatched });
        }
        if cells().any(|v| matches!(v, Some(v) if !v.is_finite())) {
            entries.push(LegendEntry { label: "failed".into(), swatch: Swatch::Diverged });
        }
        entries
    }

    /// The chart in the `main` area (left of the colour bar, above the legend): ticks and labels
    /// only, as grid lines would clutter the colour field.
    fn layout<'a, 'b>(&self, main: &'a Area<'b>, ext: &Extents) -> Result<Chart<'a, 'b>, FigureError> {
        let Clip { x0, x1, y0, y1 } = ext.clip;
        let mut y_axis = Axis::new(y0, y1, self.axes.y_log);
        if self.y_ticks_at_cells {
            let labels = self.y.iter().map(|v| format_number(*v)).collect();
            y_axis = y_axis.with_ticks(ext.ty.clone(), labels);
        }
        let x_axis = Axis::new(x0, x1, self.axes.x_log);
        let margins = Margins { right: 8, bottom: 4, y_labels: 72 };
        let mut chart = build_chart(main, &self.axes, margins, x_axis, y_axis)?;
        draw_mesh(&mut chart, &self.axes, false)?;
        Ok(chart)
    }

    /// The labelled markers inside the plotting area.
    fn draw_markers(&self, root: &Area, clip: &Clip, px: impl Fn((f64, f64)) -> (i32, i32)) -> Result<(), FigureError> {
        for m in &self.markers {
            if let (Some(x), Some(y)) = (fwd(m.x, self.axes.x_log), fwd(m.y, self.axes.y_log)) {
                if clip.contains((x, y)) {
                    draw_marker(root, m.shape, px((x, y)), 6, BLACK, Some(WHITE), 2)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::gallery::sample_heatmap;

    #[test]
    fn heatmap_renders_everything() {
        let svg = sample_heatmap().render().unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(!svg.contains("font-size=\"15.000"), "font sizes are rounded");
        for needle in
            ["Test accuracy", "σ_w²", "σ_b²", "accuracy", "Xavier", "He", "χ = 1", "no data", "failed", "0.2", "0.5"]
        {
            assert!(svg.contains(needle), "missing {needle}");
        }
    }

    #[test]
    fn heatmap_rejects_bad_shapes_and_survives_empty() {
        let h = Heatmap::new("", "x", "y", vec![1.0, 2.0], vec![1.0], vec![vec![Some(1.0)]]);
        assert!(matches!(h.render(), Err(FigureError::Shape(_))));
        let h = Heatmap::new("", "x", "y", vec![2.0, 1.0], vec![1.0], vec![vec![Some(1.0), Some(2.0)]]);
        assert!(matches!(h.render(), Err(FigureError::Coordinates(_))));
        let h = Heatmap::new("", "x", "y", vec![0.0, 1.0], vec![1.0], vec![vec![Some(1.0), None]]).log_x();
        assert!(matches!(h.render(), Err(FigureError::Coordinates(_))));
        let empty = Heatmap::new("", "x", "y", vec![], vec![], vec![]).render().unwrap();
        assert!(empty.contains("no data"));
        let all_nan =
            Heatmap::new("", "x", "y", vec![1.0, 2.0], vec![1.0], vec![vec![Some(f64::NAN), None]]).render().unwrap();
        assert!(all_nan.starts_with("<svg"));
    }
}
