//! Colour scales: the colour maps ([`ColorMap`], [`colormap`]), the mapping of heatmap values to
//! colours ([`ColorScale`]) and the colour bar beside the heatmap.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::{fwd, widen_flat, Axis};
use super::frame::Area;
use super::style::{draw_err, font, FigureError, LABEL_PX, TICK_PX};

/// Width of the colour bar beside a heatmap, with its tick labels and title (pixels).
pub(super) const COLORBAR_W: u32 = 92;

/// Colour map of the heatmap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorMap {
    /// Perceptually uniform, colour-blind safe (matplotlib's default).
    #[default]
    Viridis,
    /// Perceptually uniform, colour-blind safe, for values of both signs (blue-white-red).
    Diverging,
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
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let f = t * (table.len() - 1) as f64;
    let i = (f.floor() as usize).min(table.len() - 2);
    let u = f - i as f64;
    let (a, b) = (table[i], table[i + 1]);
    let mix = |p: u8, q: u8| (p as f64 + (q as f64 - p as f64) * u).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Values to colours: the colour range `[lo, hi]` in transformed space ($\log_{10}$ on a log
/// colour scale) and the colour map.
#[derive(Clone, Copy, Debug)]
pub(super) struct ColorScale {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) log: bool,
    pub(super) map: ColorMap,
}

impl ColorScale {
    /// The explicit `range`, or the range of the valid `values` (widened when flat).
    pub(super) fn new<'v>(
        values: impl Iterator<Item = &'v f64>,
        range: Option<(f64, f64)>,
        log: bool,
        map: ColorMap,
    ) -> Result<Self, FigureError> {
        let (lo, hi) = match range {
            Some((a, b)) => match (fwd(a, log), fwd(b, log)) {
                (Some(a), Some(b)) if b > a => (a, b),
                _ => {
                    return Err(FigureError::Coordinates(format!(
                        "colour range ({a}, {b}) must be finite and increasing"
                    )))
                }
            },
            None => {
                let valid: Vec<f64> = values.filter_map(|v| fwd(*v, log)).collect();
                let lo = valid.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = valid.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                if !lo.is_finite() {
                    (0.0, 1.0)
                } else if hi - lo < 1e-12 * (1.0 + lo.abs()) {
                    widen_flat(lo, hi, log)
                } else {
                    (lo, hi)
                }
            }
        };
        Ok(ColorScale { lo, hi, log, map })
    }

    /// Colour of the value `v`, clamped to the range (non-positive values on a log colour scale
    /// get the lowest colour).
    pub(super) fn color(&self, v: f64) -> RGBColor {
        let t = fwd(v, self.log).unwrap_or(self.lo);
        colormap(self.map, ((t - self.lo) / (self.hi - self.lo)).clamp(0.0, 1.0))
    }
}

/// The colour bar in the strip starting at pixel column `x0`, spanning the plotting area's
/// height `top..bottom`: the colour ramp, its ticks and the rotated `label` (kept left of
/// `max_x`).
pub(super) fn draw_colorbar(
    root: &Area,
    scale: &ColorScale,
    x0: i32,
    (top, bottom): (i32, i32),
    label: &str,
    max_x: i32,
) -> Result<(), FigureError> {
    let (bar_x0, bar_x1) = (x0 + 8, x0 + 24);
    let n = 96;
    for k in 0..n {
        let ya = bottom - ((bottom - top) as f64 * (k as f64 / n as f64)).round() as i32;
        let yb = bottom - ((bottom - top) as f64 * ((k + 1) as f64 / n as f64)).round() as i32;
        let c = colormap(scale.map, (k as f64 + 0.5) / n as f64);
        root.draw(&Rectangle::new([(bar_x0, yb), (bar_x1, ya + 1)], c.filled())).map_err(draw_err)?;
    }
    root.draw(&Rectangle::new([(bar_x0, top), (bar_x1, bottom)], BLACK.stroke_width(1))).map_err(draw_err)?;
    let (c0, c1) = (scale.lo, scale.hi);
    let axis = Axis::new(c0, c1, scale.log);
    let tick_style = TextStyle::from(font(TICK_PX)).pos(Pos::new(HPos::Left, VPos::Center));
    for (t, lab) in axis.major.iter().zip(&axis.labels) {
        if !axis.inside(*t) {
            continue;
        }
        let y = bottom - ((bottom - top) as f64 * (t - c0) / (c1 - c0)).round() as i32;
        root.draw(&PathElement::new(vec![(bar_x1, y), (bar_x1 + 4, y)], BLACK.stroke_width(1))).map_err(draw_err)?;
        root.draw(&Text::new(lab.clone(), (bar_x1 + 6, y), tick_style.clone())).map_err(draw_err)?;
    }
    if !label.is_empty() {
        let style = TextStyle::from(font(LABEL_PX).transform(FontTransform::Rotate270))
            .pos(Pos::new(HPos::Center, VPos::Center));
        let x = (x0 + COLORBAR_W as i32 - 12).min(max_x);
        root.draw(&Text::new(label.to_string(), (x, (top + bottom) / 2), style)).map_err(draw_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colormap_ends_and_clamping() {
        assert_eq!(colormap(ColorMap::Viridis, 0.0), RGBColor(68, 1, 84));
        assert_eq!(colormap(ColorMap::Viridis, 1.0), RGBColor(253, 231, 37));
        assert_eq!(colormap(ColorMap::Viridis, 7.0), RGBColor(253, 231, 37));
        assert_eq!(colormap(ColorMap::Diverging, 0.5), RGBColor(247, 247, 247));
        assert_eq!(colormap(ColorMap::Diverging, f64::NAN), RGBColor(33, 102, 172));
    }

    #[test]
    fn color_scale_fits_valid_values() {
        let v = [f64::NAN, -1.0, 10.0, 1000.0];
        let s = ColorScale::new(v.iter(), None, true, ColorMap::Viridis).unwrap();
        assert_eq!((s.lo, s.hi), (1.0, 3.0));
        assert_eq!(s.color(-1.0), colormap(ColorMap::Viridis, 0.0));
        let flat = ColorScale::new([2.0].iter(), None, true, ColorMap::Viridis).unwrap();
        assert!((flat.hi - flat.lo - 1.0).abs() < 1e-12);
        assert!(ColorScale::new(v.iter(), Some((1.0, 1.0)), false, ColorMap::Viridis).is_err());
    }
}
