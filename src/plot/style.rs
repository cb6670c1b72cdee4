//! Style: figure size, fonts, text-width estimate, the colour palette, SVG tidying and
//! [`FigureError`].

use plotters::prelude::*;

/// Default figure width in pixels (the SVG is responsive once inlined; this fixes the aspect).
pub const WIDTH: u32 = 640;
/// Default figure height in pixels.
pub const HEIGHT: u32 = 420;

/// Okabe–Ito colour-blind-safe palette (Okabe & Ito 2008, "Color Universal Design"), reordered so
/// the first colours have the most contrast on white. Yellow comes last (weak on white).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
    RGBColor(0x00, 0x00, 0x00), // black
    RGBColor(0xF0, 0xE4, 0x42), // yellow
];

/// Palette colour `index` (wrapping around).
pub(super) fn palette(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

const FONT: &str = "sans-serif";
/// Tick labels (and contour level labels).
pub(super) const TICK_PX: f64 = 12.5;
/// Axis titles and notes.
pub(super) const LABEL_PX: f64 = 14.5;
/// Figure title.
pub(super) const TITLE_PX: f64 = 15.0;
/// Legend entries and reference-line labels.
pub(super) const LEGEND_PX: f64 = 12.5;

/// Errors while building a figure.
#[derive(Debug, thiserror::Error)]
pub enum FigureError {
    /// The plotters backend failed (should not happen with the in-memory SVG backend).
    #[error("drawing the figure failed: {0}")]
    Draw(String),
    /// Inconsistent input shapes (e.g. heatmap rows vs. `y`).
    #[error("figure data has inconsistent shape: {0}")]
    Shape(String),
    /// Invalid coordinates or range (non-finite, not increasing, non-positive on a log axis).
    #[error("invalid figure coordinates: {0}")]
    Coordinates(String),
}

/// A plotters drawing error as a [`FigureError::Draw`].
pub(super) fn draw_err<E: std::fmt::Debug>(e: E) -> FigureError {
    FigureError::Draw(format!("{e:?}"))
}

/// Round the `font-size` attributes plotters writes (`15.000000000000002` -> `15`).
pub(super) fn tidy_svg(svg: String) -> String {
    const KEY: &str = "font-size=\"";
    let mut out = String::with_capacity(svg.len());
    let mut rest = svg.as_str();
    while let Some(p) = rest.find(KEY) {
        let start = p + KEY.len();
        out.push_str(&rest[..start]);
        let len = rest[start..].find('"').unwrap_or(0);
        let num = &rest[start..start + len];
        match num.parse::<f64>() {
            Ok(v) => out.push_str(&format!("{}", (v * 10.0).round() / 10.0)),
            Err(_) => out.push_str(num),
        }
        rest = &rest[start + len..];
    }
    out.push_str(rest);
    out
}

/// Plotters' SVG backend writes `font-size = size / 1.24`; this returns a font whose rendered size
/// is `px` pixels.
pub(super) fn font(px: f64) -> FontDesc<'static> {
    FontDesc::new(FontFamily::Name(FONT), px * 1.24, FontStyle::Normal)
}

/// Rough rendered width of `text` in a sans-serif font of size `px` (plotters' own estimate counts
/// bytes, which over-estimates non-ASCII labels such as Greek letters).
pub(super) fn text_width(text: &str, px: f64) -> f64 {
    text.chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '.' | ',' | ':' | ';' | '|' | '!' | '\'' | ' ' | '(' | ')' | '[' | ']' => 0.30,
            'm' | 'w' | 'M' | 'W' => 0.85,
            c if c.is_ascii_uppercase() => 0.68,
            '⁰'..='⁹' | '⁻' | '¹' | '²' | '³' => 0.40,
            _ => 0.56,
        })
        .sum::<f64>()
        * px
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_svg_rounds_font_sizes_only() {
        let svg = r#"<text font-size="15.000000000000002" x="1.25">a</text><text font-size="x">"#;
        assert_eq!(tidy_svg(svg.to_string()), r#"<text font-size="15" x="1.25">a</text><text font-size="x">"#);
    }

    #[test]
    fn text_width_counts_narrow_and_wide_glyphs() {
        assert!(text_width("iii", 10.0) < text_width("mmm", 10.0));
        assert!((text_width("10⁻⁵", 10.0) - (2.0 * 5.6 + 2.0 * 4.0)).abs() < 1e-12);
    }
}
