//! A small chart library: paper-style figures rendered to SVG text with plotters' SVG backend.
//!
//! Two figure kinds cover the report: [`LinePlot`] (curves, markers, shaded bands, reference lines,
//! linear or logarithmic axes) and [`Heatmap`] (a colour field over a grid with a colour bar,
//! missing / diverged cells, contour lines of a second field and labelled markers). Both share
//! the title, axis titles, scales and size of an [`AxesSpec`].
//!
//! Fonts: plotters is built without its `ttf` / `ab_glyph` features. With the SVG backend, text is
//! emitted as `<text>` elements that the viewer (browser) typesets with its own fonts; plotters only
//! needs a *size estimate* for layout, which its built-in "naive" font provides. So labels, ticks and
//! legends need no font file and no system font library at build or run time.
//!
//! Coordinates: every axis is handled in a *transformed* space, $t = \log_{10} v$ on a log axis and
//! $t = v$ on a linear axis; plotters only ever sees linear coordinates in that space, and the tick
//! positions / labels (decades $10^k$ on log axes) are computed here (`axis`).
//!
//! Contours are computed by [`marching_squares`] / [`contour_lines`] (plotters has none).
//!
//! One file per chart element:
//!
//! | module | element |
//! |---|---|
//! | `style` | figure size, fonts, text widths, [`PALETTE`], [`FigureError`] |
//! | `ticks` | [`nice_step`], tick and number labels, [`format_number`] |
//! | `axis` | transformed coordinates, axis ranges, the ticks of an axis |
//! | `clip` | clipping segments, polylines and polygons to the plotting area |
//! | `frame` | [`AxesSpec`], the SVG canvas, chart, mesh, frame and notes |
//! | `marker` | [`MarkerShape`], [`Marker`] |
//! | `legend` | [`LegendPos`], swatches, boxed legend and legend row |
//! | `series` | [`Series`], [`SeriesStyle`], [`RefLine`] |
//! | `line` | [`LinePlot`] |
//! | `cells` | heatmap cells: edges, colours, missing and diverged cells |
//! | `colormap` | [`ColorMap`], [`colormap()`], the colour scale and colour bar |
//! | `marching` | [`marching_squares`], [`contour_lines`] |
//! | `contour` | [`ContourSet`], contour lines and level labels on a heatmap |
//! | `heatmap` | [`Heatmap`] |
//! | `gallery` | test figures (tests only) |

mod axis;
mod cells;
mod clip;
mod colormap;
mod contour;
mod frame;
#[cfg(test)]
mod gallery;
mod heatmap;
mod legend;
mod line;
mod marching;
mod marker;
mod series;
mod style;
mod ticks;

pub use colormap::{colormap, ColorMap};
pub use contour::ContourSet;
pub use frame::AxesSpec;
pub use heatmap::Heatmap;
pub use legend::LegendPos;
pub use line::LinePlot;
pub use marching::{contour_lines, marching_squares};
pub use marker::{Marker, MarkerShape};
pub use series::{RefLine, Series, SeriesStyle};
pub use style::{FigureError, HEIGHT, PALETTE, WIDTH};
pub use ticks::{format_number, nice_step};
