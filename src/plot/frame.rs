//! The frame of a figure: the options every figure shares ([`AxesSpec`]), the SVG canvas, the
//! chart with its mesh (ticks, labels, grid), the frame around the plotting area and notes in it.

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::Axis;
use super::style::{draw_err, font, tidy_svg, FigureError, HEIGHT, LABEL_PX, TICK_PX, TITLE_PX, WIDTH};

/// Grey of notes such as "no data".
const NOTE_GREY: RGBColor = RGBColor(0x70, 0x70, 0x70);

/// Drawing area of a figure (the whole SVG canvas or a part of it).
pub(super) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
/// Chart on an [`Area`], in transformed coordinates on both axes.
pub(super) type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Axis, Axis>>;

/// Title, axis titles, axis scales and pixel size: the options shared by
/// [`LinePlot`](super::LinePlot) and [`Heatmap`](super::Heatmap) (their `axes` field).
#[derive(Clone, Debug)]
pub struct AxesSpec {
    /// Title drawn above the plot (may be empty: the report's caption usually suffices).
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Logarithmic x axis (data must be positive).
    pub x_log: bool,
    /// Logarithmic y axis (data must be positive).
    pub y_log: bool,
    /// Figure size in pixels.
    pub width: u32,
    pub height: u32,
}

impl AxesSpec {
    /// Linear axes at the default size ([`WIDTH`] x [`HEIGHT`]).
    pub fn new(title: impl Into<String>, x_label: impl Into<String>, y_label: impl Into<String>) -> Self {
        AxesSpec {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            x_log: false,
            y_log: false,
            width: WIDTH,
            height: HEIGHT,
        }
    }
}

/// The builder methods of the [`AxesSpec`] options (`log_x`, `log_y`, `size`), as inherent
/// methods of a figure type with an `axes: AxesSpec` field.
macro_rules! axes_builders {
    ($figure:ty) => {
        impl $figure {
            /// Logarithmic x axis.
            pub fn log_x(mut self) -> Self {
                self.axes.x_log = true;
                self
            }
            /// Logarithmic y axis.
            pub fn log_y(mut self) -> Self {
                self.axes.y_log = true;
                self
            }
            /// Figure size in pixels.
            pub fn size(mut self, width: u32, height: u32) -> Self {
                self.axes.width = width;
                self.axes.height = height;
                self
            }
        }
    };
}
pub(super) use axes_builders;

/// Render a `width` x `height` SVG document: a white canvas, `draw` on it, then tidied.
pub(super) fn render_svg(
    width: u32,
    height: u32,
    draw: impl FnOnce(&Area) -> Result<(), FigureError>,
) -> Result<String, FigureError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        draw(&root)?;
        root.present().map_err(draw_err)?;
    }
    Ok(tidy_svg(svg))
}

/// Space around the plotting area that differs between figure kinds (pixels).
pub(super) struct Margins {
    pub(super) right: u32,
    pub(super) bottom: u32,
    /// Width of the y tick label area (tick labels and the rotated y title).
    pub(super) y_labels: u32,
}

/// The chart on `area` with the title (if any) and the axes `x`, `y`; no mesh yet.
pub(super) fn build_chart<'a, 'b>(
    area: &'a Area<'b>,
    spec: &AxesSpec,
    margins: Margins,
    x: Axis,
    y: Axis,
) -> Result<Chart<'a, 'b>, FigureError> {
    let mut builder = ChartBuilder::on(area);
    builder
        .margin_top(if spec.title.is_empty() { 14 } else { 8 })
        .margin_right(margins.right)
        .margin_left(6)
        .margin_bottom(margins.bottom)
        .x_label_area_size(50)
        .y_label_area_size(margins.y_labels);
    if !spec.title.is_empty() {
        builder.caption(&spec.title, font(TITLE_PX));
    }
    builder.build_cartesian_2d(x, y).map_err(draw_err)
}

/// Axis lines, tick marks, tick labels at the axes' major ticks and the axis titles; with `grid`,
/// also light grid lines at the major and minor ticks.
pub(super) fn draw_mesh(chart: &mut Chart, spec: &AxesSpec, grid: bool) -> Result<(), FigureError> {
    let nx = chart.as_coord_spec().x_spec().major.len().max(1);
    let ny = chart.as_coord_spec().y_spec().major.len().max(1);
    let mut mesh = chart.configure_mesh();
    if grid {
        mesh.max_light_lines(20).bold_line_style(BLACK.mix(0.10)).light_line_style(BLACK.mix(0.04));
    } else {
        mesh.disable_mesh();
    }
    mesh.x_labels(nx)
        .y_labels(ny)
        .axis_style(BLACK)
        .x_desc(&spec.x_label)
        .y_desc(&spec.y_label)
        .label_style(font(TICK_PX))
        .axis_desc_style(font(LABEL_PX))
        .set_all_tick_mark_size(5)
        .draw()
        .map_err(draw_err)
}

/// Pixel corners of the plotting area: upper left `pa`, lower right `pb`.
pub(super) fn plot_corners(chart: &Chart) -> ((i32, i32), (i32, i32)) {
    let (x, y) = (chart.x_range(), chart.y_range());
    (chart.backend_coord(&(x.start, y.end)), chart.backend_coord(&(x.end, y.start)))
}

/// Black frame around the plotting area with corners `pa` (upper left) and `pb` (lower right).
pub(super) fn draw_frame(root: &Area, pa: (i32, i32), pb: (i32, i32)) -> Result<(), FigureError> {
    // plotters draws its axes one pixel outside the plotting area: frame on those lines.
    root.draw(&Rectangle::new([(pa.0 - 1, pa.1), (pb.0, pb.1 + 1)], BLACK.stroke_width(1))).map_err(draw_err)
}

/// A grey note (e.g. "no data") centred in the plotting area.
pub(super) fn draw_note(root: &Area, note: &str, pa: (i32, i32), pb: (i32, i32)) -> Result<(), FigureError> {
    root.draw(&Text::new(
        note,
        ((pa.0 + pb.0) / 2, (pa.1 + pb.1) / 2),
        TextStyle::from(font(LABEL_PX)).color(&NOTE_GREY).pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .map_err(draw_err)
}

/// A 2-pixel line through the pixel points `pts`, solid or dashed (6 px on, 4 off): contour
/// lines and the lines of legend swatches.
pub(super) fn draw_stroke(area: &Area, pts: Vec<(i32, i32)>, color: RGBColor, dashed: bool) -> Result<(), FigureError> {
    if dashed {
        area.draw(&DashedPathElement::new(pts, 6, 4, color.stroke_width(2))).map_err(draw_err)
    } else {
        area.draw(&PathElement::new(pts, color.stroke_width(2))).map_err(draw_err)
    }
}
