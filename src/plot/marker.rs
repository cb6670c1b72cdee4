//! Markers: the shapes of series markers, heatmap markers and legend swatches, and the labelled
//! [`Marker`] of a heatmap.

use plotters::prelude::*;

use super::frame::Area;
use super::style::{draw_err, FigureError};

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

/// Marker shapes of successive line-plot series.
pub(super) const SERIES_SHAPES: [MarkerShape; 5] = [
    MarkerShape::Circle,
    MarkerShape::Square,
    MarkerShape::Triangle,
    MarkerShape::Diamond,
    MarkerShape::InvertedTriangle,
];

/// A labelled point on a [`Heatmap`](super::Heatmap) (e.g. an initialisation scheme).
#[derive(Clone, Debug)]
pub struct Marker {
    pub x: f64,
    pub y: f64,
    pub label: String,
    pub shape: MarkerShape,
}

/// Draw a marker centred on pixel `c` with radius `r`. `fill = None` draws an outline only.
pub(super) fn draw_marker(
    area: &Area,
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
                area.draw(&Circle::new(c, r, f.filled())).map_err(draw_err)?;
            }
            area.draw(&Circle::new(c, r, stroke.stroke_width(stroke_width))).map_err(draw_err)?;
            return Ok(());
        }
        MarkerShape::Cross => {
            let s = stroke.stroke_width(stroke_width + 1);
            area.draw(&PathElement::new(vec![(x - r, y - r), (x + r, y + r)], s)).map_err(draw_err)?;
            area.draw(&PathElement::new(vec![(x - r, y + r), (x + r, y - r)], s)).map_err(draw_err)?;
            return Ok(());
        }
        MarkerShape::Square => {
            let s = r * 9 / 10;
            vec![(x - s, y - s), (x + s, y - s), (x + s, y + s), (x - s, y + s)]
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
        area.draw(&Polygon::new(poly.clone(), f.filled())).map_err(draw_err)?;
    }
    let mut closed = poly.clone();
    closed.push(poly[0]);
    area.draw(&PathElement::new(closed, stroke.stroke_width(stroke_width))).map_err(draw_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::frame::render_svg;

    #[test]
    fn every_shape_draws() {
        let shapes = [
            MarkerShape::Circle,
            MarkerShape::Triangle,
            MarkerShape::Square,
            MarkerShape::Diamond,
            MarkerShape::InvertedTriangle,
            MarkerShape::Cross,
        ];
        let svg = render_svg(100, 20, |root| {
            for (i, s) in shapes.into_iter().enumerate() {
                draw_marker(root, s, (10 + 15 * i as i32, 10), 5, BLACK, Some(WHITE), 2)?;
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(svg.matches("<circle").count(), 2, "{svg}");
        assert_eq!(svg.matches("<polygon").count(), 4, "{svg}");
        assert_eq!(svg.matches("<polyline").count(), 4 + 2, "{svg}");
    }
}
