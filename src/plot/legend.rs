//! Legends: entries with their swatches, a boxed legend inside a line plot's corner (placed
//! where it covers the fewest data points) and the legend row under a heatmap.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::cells::{draw_diverged_cell, draw_hatched_cell};
use super::frame::{draw_stroke, Area};
use super::marker::{draw_marker, MarkerShape};
use super::style::{draw_err, font, text_width, FigureError, LEGEND_PX};

/// Where the legend of a [`LinePlot`](super::LinePlot) goes.
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

/// The small picture in front of a legend label.
#[derive(Clone, Debug)]
pub(super) enum Swatch {
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
pub(super) struct LegendEntry {
    pub(super) label: String,
    pub(super) swatch: Swatch,
}

const SWATCH_W: i32 = 28;

/// Draw swatch `sw` from pixel column `x`, centred vertically on `yc`.
fn draw_swatch(area: &Area, sw: &Swatch, x: i32, yc: i32) -> Result<(), FigureError> {
    let mid = (x + SWATCH_W / 2, yc);
    match sw {
        Swatch::Line { color, dashed, marker, band } => {
            if *band {
                area.draw(&Rectangle::new([(x, yc - 6), (x + SWATCH_W, yc + 6)], color.mix(0.2).filled()))
                    .map_err(draw_err)?;
            }
            draw_stroke(area, vec![(x, yc), (x + SWATCH_W, yc)], *color, *dashed)?;
            if let Some(m) = marker {
                draw_marker(area, *m, mid, 4, *color, Some(WHITE), 2)?;
            }
        }
        Swatch::Markers { color, shape } => draw_marker(area, *shape, mid, 4, *color, Some(WHITE), 2)?,
        Swatch::Marker { shape } => draw_marker(area, *shape, mid, 5, BLACK, Some(WHITE), 2)?,
        Swatch::Contour { color, dashed } => {
            let pts = vec![(x, yc), (x + SWATCH_W, yc)];
            area.draw(&PathElement::new(pts.clone(), WHITE.stroke_width(4))).map_err(draw_err)?;
            draw_stroke(area, pts, *color, *dashed)?;
        }
        Swatch::Hatched => draw_hatched_cell(area, (x + 4, yc - 7), (x + SWATCH_W - 4, yc + 7), true)?,
        Swatch::Diverged => draw_diverged_cell(area, (x + 4, yc - 7), (x + SWATCH_W - 4, yc + 7), true)?,
    }
    Ok(())
}

/// Swatch and label of `e` at `(x, yc)`.
fn draw_entry(area: &Area, e: &LegendEntry, x: i32, yc: i32) -> Result<(), FigureError> {
    let style = TextStyle::from(font(LEGEND_PX)).pos(Pos::new(HPos::Left, VPos::Center));
    draw_swatch(area, &e.swatch, x, yc)?;
    area.draw(&Text::new(e.label.clone(), (x + SWATCH_W + 6, yc), style)).map_err(draw_err)
}

/// Width and height of the boxed legend.
fn legend_size(entries: &[LegendEntry]) -> (i32, i32) {
    let w = entries.iter().map(|e| text_width(&e.label, LEGEND_PX)).fold(0.0, f64::max);
    (SWATCH_W + 6 + w.ceil() as i32 + 14, entries.len() as i32 * 19 + 8)
}

/// Upper-left corner of the boxed legend inside the plotting area with corners `pa` (upper
/// left) and `pb` (lower right), and how many of the pixel `samples` of the data it covers: the
/// corner `wanted` if it covers none (or no other corner covers fewer), else (and for
/// [`LegendPos::Auto`]) the corner covering the fewest samples.
pub(super) fn legend_box_position(
    entries: &[LegendEntry],
    wanted: LegendPos,
    samples: &[(i32, i32)],
    pa: (i32, i32),
    pb: (i32, i32),
) -> ((i32, i32), usize) {
    let (w, h) = legend_size(entries);
    let inset = 8;
    let corners = [
        (LegendPos::UpperRight, (pb.0 - inset - w, pa.1 + inset)),
        (LegendPos::UpperLeft, (pa.0 + inset, pa.1 + inset)),
        (LegendPos::LowerRight, (pb.0 - inset - w, pb.1 - inset - h)),
        (LegendPos::LowerLeft, (pa.0 + inset, pb.1 - inset - h)),
    ];
    let covered = |(x, y): (i32, i32)| {
        samples.iter().filter(|p| p.0 >= x - 4 && p.0 <= x + w + 4 && p.1 >= y - 4 && p.1 <= y + h + 4).count()
    };
    // A legend taller or wider than the plotting area covers it whatever the corner.
    let too_big = w + 2 * inset > pb.0 - pa.0 || h + 2 * inset > pb.1 - pa.1;
    let (n, p) = match wanted {
        LegendPos::Auto => {
            corners.iter().map(|(_, p)| (covered(*p), *p)).min_by_key(|(n, _)| *n).unwrap_or((0, corners[0].1))
        }
        wanted => {
            // The corner asked for, unless it covers data and another corner covers less.
            let p = corners.iter().find(|(k, _)| *k == wanted).map(|(_, p)| *p).unwrap_or(corners[0].1);
            let n = covered(p);
            corners
                .iter()
                .map(|(_, q)| (covered(*q), *q))
                .filter(|(m, _)| *m < n)
                .min_by_key(|(m, _)| *m)
                .unwrap_or((n, p))
        }
    };
    (p, if too_big { n.max(1) } else { n })
}

/// Boxed legend with its upper-left corner at `pos`.
pub(super) fn draw_legend_box(area: &Area, entries: &[LegendEntry], pos: (i32, i32)) -> Result<(), FigureError> {
    let (w, h) = legend_size(entries);
    let (x, y) = pos;
    area.draw(&Rectangle::new([(x, y), (x + w, y + h)], WHITE.mix(0.88).filled())).map_err(draw_err)?;
    area.draw(&Rectangle::new([(x, y), (x + w, y + h)], RGBColor(0xB0, 0xB0, 0xB0).stroke_width(1)))
        .map_err(draw_err)?;
    for (i, e) in entries.iter().enumerate() {
        let yc = y + 4 + 19 * i as i32 + 10;
        draw_entry(area, e, x + 7, yc)?;
    }
    Ok(())
}

/// Width an entry takes in a legend row (with the gap after it).
fn row_entry_width(e: &LegendEntry) -> i32 {
    SWATCH_W + 6 + text_width(&e.label, LEGEND_PX).ceil() as i32 + 18
}

/// Indices of the entries on each row of a legend row `avail` pixels wide (wrapping when full).
fn legend_rows(entries: &[LegendEntry], avail: i32) -> Vec<Vec<usize>> {
    let mut rows: Vec<Vec<usize>> = vec![vec![]];
    let mut cur = 0;
    for (i, e) in entries.iter().enumerate() {
        let w = row_entry_width(e);
        if cur + w > avail && !rows.last().is_some_and(|r| r.is_empty()) {
            rows.push(vec![]);
            cur = 0;
        }
        if let Some(r) = rows.last_mut() {
            r.push(i);
        }
        cur += w;
    }
    rows
}

/// Height of the legend row(s) for `avail` pixels of width (0 without entries).
pub(super) fn legend_row_height(entries: &[LegendEntry], avail: i32) -> i32 {
    if entries.is_empty() {
        return 0;
    }
    legend_rows(entries, avail).len() as i32 * 20 + 6
}

/// Legend laid out in one centred row (wrapping to more rows if needed) inside `[x0, x1]` at `y`.
pub(super) fn draw_legend_row(
    area: &Area,
    entries: &[LegendEntry],
    x0: i32,
    x1: i32,
    y: i32,
) -> Result<(), FigureError> {
    for (r, row) in legend_rows(entries, x1 - x0).iter().enumerate() {
        let total: i32 = row.iter().map(|&i| row_entry_width(&entries[i])).sum::<i32>() - 18;
        let mut x = x0 + ((x1 - x0) - total).max(0) / 2;
        let yc = y + 10 + r as i32 * 20;
        for &i in row {
            draw_entry(area, &entries[i], x, yc)?;
            x += row_entry_width(&entries[i]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(label: &str) -> LegendEntry {
        LegendEntry { label: label.into(), swatch: Swatch::Hatched }
    }

    #[test]
    fn legend_rows_wrap_when_full() {
        let e = vec![entry("aaaa"), entry("bbbb"), entry("cccc")];
        let w = row_entry_width(&e[0]);
        assert_eq!(legend_rows(&e, 3 * w), vec![vec![0, 1, 2]]);
        assert_eq!(legend_rows(&e, 2 * w), vec![vec![0, 1], vec![2]]);
        assert_eq!(legend_rows(&e, 1), vec![vec![0], vec![1], vec![2]]);
        assert_eq!(legend_row_height(&e, 2 * w), 46);
        assert_eq!(legend_row_height(&[], 100), 0);
    }

    #[test]
    fn auto_legend_avoids_the_data() {
        let e = vec![entry("series")];
        let (pa, pb) = ((0, 0), (400, 300));
        // Data in the upper half: the legend goes to a lower corner.
        let samples: Vec<(i32, i32)> = (0..400).step_by(5).map(|x| (x, 30)).collect();
        let ((_, y), n) = legend_box_position(&e, LegendPos::Auto, &samples, pa, pb);
        assert!(y > 150, "{y}");
        assert_eq!(n, 0);
        // The corner asked for, if free; a lower corner when the upper one asked for covers the data.
        let (p, n) = legend_box_position(&e, LegendPos::LowerLeft, &samples, pa, pb);
        assert_eq!((p.0, n), (8, 0));
        let (p, n) = legend_box_position(&e, LegendPos::UpperLeft, &samples, pa, pb);
        assert!(p.1 > 150 && n == 0, "{p:?}");
        // Data everywhere: the count says so (the plot then puts the legend under the plot).
        let everywhere: Vec<(i32, i32)> =
            (0..400).step_by(5).flat_map(|x| (0..300).step_by(5).map(move |y| (x, y))).collect();
        let (_, n) = legend_box_position(&e, LegendPos::UpperLeft, &everywhere, pa, pb);
        assert!(n > 0);
    }
}
