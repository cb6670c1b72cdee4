//! Contours over a heatmap: the [`ContourSet`] of a second field, its lines (with a white halo)
//! and the level labels placed along them.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::transform_coords;
use super::clip::Clip;
use super::frame::{draw_stroke, Area};
use super::marching::contour_lines;
use super::style::{draw_err, font, palette, text_width, FigureError, TICK_PX};
use super::ticks::format_number;

/// Contour lines of a scalar field drawn over a [`Heatmap`](super::Heatmap).
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
    /// Index into [`PALETTE`](super::PALETTE) (default: black). Lines get a white halo for
    /// contrast.
    pub color: Option<usize>,
    pub dashed: bool,
}

/// A [`ContourSet`] with its grid in transformed coordinates, ready to draw.
pub(super) struct GriddedContours<'c> {
    set: &'c ContourSet,
    x: Vec<f64>,
    y: Vec<f64>,
}

impl ContourSet {
    /// Line colour.
    pub(super) fn line_color(&self) -> RGBColor {
        self.color.map(palette).unwrap_or(BLACK)
    }

    /// The set with its grid in transformed coordinates, checked against the shape of `values`.
    pub(super) fn grid(&self, x_log: bool, y_log: bool) -> Result<GriddedContours<'_>, FigureError> {
        let x = transform_coords(&self.x, x_log, "contour x")?;
        let y = transform_coords(&self.y, y_log, "contour y")?;
        if self.values.len() != y.len() || self.values.iter().any(|r| r.len() != x.len()) {
            return Err(FigureError::Shape(format!(
                "contour field '{}' is not {}x{} (rows x columns)",
                self.label,
                y.len(),
                x.len()
            )));
        }
        Ok(GriddedContours { set: self, x, y })
    }

    /// Label of level number `li`.
    fn level_label(&self, li: usize) -> String {
        self.level_labels.as_ref().and_then(|l| l.get(li).cloned()).unwrap_or_else(|| format_number(self.levels[li]))
    }
}

/// Draw the contour sets (gridded by [`ContourSet::grid`]), clipped to
/// `clip` and mapped to pixels by `px`; level labels are kept inside the plotting area with
/// corners `frame` and apart from each other.
pub(super) fn draw_contours(
    root: &Area,
    contours: &[GriddedContours],
    clip: &Clip,
    px: impl Fn((f64, f64)) -> (i32, i32),
    frame: ((i32, i32), (i32, i32)),
) -> Result<(), FigureError> {
    let mut placed: Vec<((i32, i32), i32)> = vec![];
    for GriddedContours { set: c, x: cx, y: cy } in contours {
        let color = c.line_color();
        for (li, &level) in c.levels.iter().enumerate() {
            let mut pix_lines: Vec<Vec<(i32, i32)>> = vec![];
            for line in &contour_lines(cx, cy, &c.values, level) {
                for piece in clip.polyline(line) {
                    let p: Vec<(i32, i32)> = piece.iter().map(|q| px(*q)).collect();
                    root.draw(&PathElement::new(p.clone(), WHITE.mix(0.9).stroke_width(4))).map_err(draw_err)?;
                    draw_stroke(root, p.clone(), color, c.dashed)?;
                    pix_lines.push(p);
                }
            }
            let text = c.level_label(li);
            let half = label_half_width(&text);
            if let Some(at) = label_position(&pix_lines, &placed, half, frame, li) {
                placed.push((at, half));
                draw_level_label(root, text, at, color)?;
            }
        }
    }
    Ok(())
}

/// Half the width of the box of a level label.
fn label_half_width(text: &str) -> i32 {
    (text_width(text, TICK_PX).ceil() as i32 + 6 + 1) / 2
}

/// Half the height of the box of a level label.
const LABEL_HALF_H: i32 = 9;

/// `text` centred on `at` over a light box.
fn draw_level_label(root: &Area, text: String, at: (i32, i32), color: RGBColor) -> Result<(), FigureError> {
    let w = 2 * label_half_width(&text);
    root.draw(&Rectangle::new(
        [(at.0 - w / 2, at.1 - LABEL_HALF_H), (at.0 + w / 2, at.1 + LABEL_HALF_H)],
        WHITE.mix(0.85).filled(),
    ))
    .map_err(draw_err)?;
    root.draw(&Text::new(
        text,
        at,
        TextStyle::from(font(TICK_PX)).color(&color).pos(Pos::new(HPos::Center, VPos::Center)),
    ))
    .map_err(draw_err)
}

/// Length of a pixel polyline.
fn pixel_length(l: &[(i32, i32)]) -> f64 {
    l.windows(2).map(|w| pixel_distance(w[0], w[1])).sum()
}

fn pixel_distance(a: (i32, i32), b: (i32, i32)) -> f64 {
    (((b.0 - a.0).pow(2) + (b.1 - a.1).pow(2)) as f64).sqrt()
}

/// The point a fraction `frac` of the way along the pixel polyline `l` (of length `total`).
fn point_along(l: &[(i32, i32)], total: f64, frac: f64) -> (i32, i32) {
    let target = total * frac;
    let mut acc = 0.0;
    for w in l.windows(2) {
        let d = pixel_distance(w[0], w[1]);
        if acc + d >= target {
            let f = if d > 0.0 { (target - acc) / d } else { 0.0 };
            return (
                w[0].0 + ((w[1].0 - w[0].0) as f64 * f).round() as i32,
                w[0].1 + ((w[1].1 - w[0].1) as f64 * f).round() as i32,
            );
        }
        acc += d;
    }
    l[0]
}

/// Pick a label position on the longest contour pieces, inside the frame and clear of the boxes
/// of earlier labels (`placed`: centre and half width; this label's half width is `half`). `None`
/// when every candidate point would overlap a label: a label is left out rather than drawn over
/// another.
fn label_position(
    lines: &[Vec<(i32, i32)>],
    placed: &[((i32, i32), i32)],
    half: i32,
    frame: ((i32, i32), (i32, i32)),
    stagger: usize,
) -> Option<(i32, i32)> {
    let ((fx0, fy0), (fx1, fy1)) = frame;
    let mut order: Vec<usize> = (0..lines.len()).collect();
    order.sort_by(|a, b| pixel_length(&lines[*b]).total_cmp(&pixel_length(&lines[*a])));
    let first = [0.5, 0.35, 0.65][stagger % 3];
    let fracs: Vec<f64> =
        [first, 0.5, 0.3, 0.7, 0.15, 0.85].into_iter().chain((1..20).map(|k| k as f64 * 0.05)).collect();
    for &i in &order {
        let l = &lines[i];
        let total = pixel_length(l);
        if total < 20.0 {
            continue;
        }
        for &frac in &fracs {
            let at = point_along(l, total, frac);
            let inside = at.0 - half > fx0 + 2
                && at.0 + half < fx1 - 2
                && at.1 - LABEL_HALF_H > fy0 + 1
                && at.1 + LABEL_HALF_H < fy1 - 1;
            let free = placed
                .iter()
                .all(|(p, h)| (p.0 - at.0).abs() >= half + h + 4 || (p.1 - at.1).abs() >= 2 * LABEL_HALF_H + 2);
            if inside && free {
                return Some(at);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_go_along_long_lines_inside_and_apart() {
        let frame = ((0, 0), (400, 300));
        let long = vec![(0, 150), (400, 150)];
        let short = vec![(10, 10), (15, 10)];
        let lines = vec![short, long];
        assert_eq!(label_position(&lines, &[], 15, frame, 0), Some((200, 150)));
        assert_eq!(label_position(&lines, &[], 15, frame, 1), Some((140, 150)));
        // Taken spot: the next fraction far enough from it (boxes 30 px wide need 34 px between centres).
        assert_eq!(label_position(&lines, &[((200, 150), 15)], 15, frame, 0), Some((120, 150)));
        let p = label_position(&lines, &[((200, 150), 15)], 15, frame, 0).unwrap();
        assert!((p.0 - 200).abs() >= 34);
        // A wide earlier label pushes the next one further.
        let p = label_position(&lines, &[((200, 150), 90)], 15, frame, 0).unwrap();
        assert!((p.0 - 200).abs() >= 109, "{p:?}");
        // Everything taken: no label rather than an overlapping one.
        let taken: Vec<((i32, i32), i32)> = (0..=400).step_by(20).map(|x| ((x, 150), 10)).collect();
        assert_eq!(label_position(&lines, &taken, 15, frame, 0), None);
        assert_eq!(label_position(&lines[..1], &[], 15, frame, 0), None);
        // A label box may not stick out of the frame.
        let edge = vec![vec![(0, 5), (400, 5)]];
        assert_eq!(label_position(&edge, &[], 15, frame, 0), None);
    }

    #[test]
    fn grid_checks_the_field_shape() {
        let c = ContourSet { x: vec![1.0, 2.0], y: vec![1.0], values: vec![vec![1.0]], ..Default::default() };
        assert!(matches!(c.grid(false, false), Err(FigureError::Shape(_))));
        let ok = ContourSet { values: vec![vec![1.0, 2.0]], ..c.clone() };
        assert_eq!(ok.grid(true, false).map(|g| g.x).ok(), Some(vec![0.0, 2f64.log10()]));
        assert!(matches!(ContourSet { x: vec![0.0], ..c.clone() }.grid(true, false), Err(FigureError::Coordinates(_))));
        assert_eq!(c.level_labels, None);
    }
}
