//! Heatmap cells: cell edges from cell centres, the coloured field, and the grey cells for
//! missing (hatched) and diverged (crossed) values, also used as legend swatches.

use plotters::prelude::*;

use super::clip::Clip;
use super::colormap::ColorScale;
use super::frame::Area;
use super::style::{draw_err, FigureError};

/// Background of missing and diverged cells.
const MISSING_GREY: RGBColor = RGBColor(0xD9, 0xD9, 0xD9);
/// Hatch lines and cell borders.
const HATCH_GREY: RGBColor = RGBColor(0x8C, 0x8C, 0x8C);

/// Cell edges for cell centres `c` (transformed space): midpoints, extended by half a spacing.
pub(super) fn cell_edges(c: &[f64]) -> Vec<f64> {
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

/// The cells of `values` (`values[j][i]` between the edges `ex[i]..ex[i+1]`, `ey[j]..ey[j+1]`, in
/// pixels via `px`): finite values in their colour, overlapping by one pixel towards the plotting
/// area's corners `pa`, `pb` to avoid anti-aliasing seams; diverged and missing cells in grey.
pub(super) fn draw_cells(
    root: &Area,
    values: &[Vec<Option<f64>>],
    (ex, ey): (&[f64], &[f64]),
    px: impl Fn((f64, f64)) -> (i32, i32),
    scale: &ColorScale,
    (pa, pb): ((i32, i32), (i32, i32)),
) -> Result<(), FigureError> {
    for (j, row) in values.iter().enumerate() {
        for (i, v) in row.iter().enumerate() {
            let a = px((ex[i], ey[j + 1]));
            let b = px((ex[i + 1], ey[j]));
            match v {
                Some(v) if v.is_finite() => {
                    let c = scale.color(*v);
                    let b2 = ((b.0 + 1).min(pb.0), b.1);
                    let a2 = (a.0, (a.1 - 1).max(pa.1));
                    root.draw(&Rectangle::new([a2, b2], c.filled())).map_err(draw_err)?;
                }
                Some(_) => draw_diverged_cell(root, a, b, false)?,
                None => draw_hatched_cell(root, a, b, false)?,
            }
        }
    }
    Ok(())
}

/// A missing-value cell with corners `a`, `b` (pixels): grey with 45° hatching.
pub(super) fn draw_hatched_cell(area: &Area, a: (i32, i32), b: (i32, i32), border: bool) -> Result<(), FigureError> {
    let (x0, x1) = (a.0.min(b.0), a.0.max(b.0));
    let (y0, y1) = (a.1.min(b.1), a.1.max(b.1));
    area.draw(&Rectangle::new([(x0, y0), (x1, y1)], MISSING_GREY.filled())).map_err(draw_err)?;
    // 45° hatch lines x + y = c, spaced 5 px, clipped to the cell.
    let (w, h) = ((x1 - x0) as f64, (y1 - y0) as f64);
    let clip = Clip { x0: 0.0, x1: w, y0: 0.0, y1: h };
    let mut c = 4.0;
    while c < w + h {
        if let Some((p, q)) = clip.segment((c, 0.0), (c - (w + h), w + h)) {
            let pts = vec![
                (x0 + p.0.round() as i32, y0 + p.1.round() as i32),
                (x0 + q.0.round() as i32, y0 + q.1.round() as i32),
            ];
            area.draw(&PathElement::new(pts, HATCH_GREY.stroke_width(1))).map_err(draw_err)?;
        }
        c += 5.0;
    }
    if border {
        area.draw(&Rectangle::new([(x0, y0), (x1, y1)], HATCH_GREY.stroke_width(1))).map_err(draw_err)?;
    }
    Ok(())
}

/// A diverged cell with corners `a`, `b` (pixels): grey with a dark cross.
pub(super) fn draw_diverged_cell(area: &Area, a: (i32, i32), b: (i32, i32), border: bool) -> Result<(), FigureError> {
    let (x0, x1) = (a.0.min(b.0), a.0.max(b.0));
    let (y0, y1) = (a.1.min(b.1), a.1.max(b.1));
    area.draw(&Rectangle::new([(x0, y0), (x1, y1)], MISSING_GREY.filled())).map_err(draw_err)?;
    let (ix, iy) = ((x1 - x0) / 5, (y1 - y0) / 5);
    let s = RGBColor(0x30, 0x30, 0x30).stroke_width(1);
    area.draw(&PathElement::new(vec![(x0 + ix, y0 + iy), (x1 - ix, y1 - iy)], s)).map_err(draw_err)?;
    area.draw(&PathElement::new(vec![(x0 + ix, y1 - iy), (x1 - ix, y0 + iy)], s)).map_err(draw_err)?;
    if border {
        area.draw(&Rectangle::new([(x0, y0), (x1, y1)], HATCH_GREY.stroke_width(1))).map_err(draw_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_edges_are_midpoints() {
        assert!(cell_edges(&[]).is_empty());
        assert_eq!(cell_edges(&[2.0]), vec![1.5, 2.5]);
        assert_eq!(cell_edges(&[0.0, 1.0, 3.0]), vec![-0.5, 0.5, 2.0, 4.0]);
    }
}
