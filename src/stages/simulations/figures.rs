//! The figures of the chapter: one per configuration (the measured quantities against the layer
//! with the mean-field curves) and one on the scaling of the fluctuations with width.

use super::compute::{exponents, mf_value, stat_at, CaseRuns, MeanField, Row, RunResult};
use super::config::Config;
use crate::architecture::Architecture;
use crate::pipeline::{Figure, StageError};
use crate::plot::{FigureError, LegendPos, LinePlot, Series, SeriesStyle};

const PANEL_W: u32 = 480;
const PANEL_H: u32 = 340;
/// Palette index of the mean-field curves (black).
const MF_COLOR: usize = 6;

/// Lays out SVG panels of `w x h` pixels on a grid with `cols` columns as one SVG document
/// (nested `<svg>` elements; the panels carry no ids, so nothing clashes).
pub fn compose(panels: &[String], cols: usize, w: u32, h: u32) -> String {
    let cols = cols.max(1);
    let rows = panels.len().div_ceil(cols);
    let (tw, th) = (w * cols as u32, h * rows as u32);
    let mut out = format!(
        "<svg width=\"{tw}\" height=\"{th}\" viewBox=\"0 0 {tw} {th}\" xmlns=\"http://www.w3.org/2000/svg\">\n<rect x=\"0\" y=\"0\" width=\"{tw}\" height=\"{th}\" fill=\"#FFFFFF\"/>\n"
    );
    for (i, p) in panels.iter().enumerate() {
        let start = p.find("<svg").unwrap_or(0);
        let body = p[start..].trim_end();
        let (x, y) = ((i % cols) as u32 * w, (i / cols) as u32 * h);
        out.push_str(&format!("<svg x=\"{x}\" y=\"{y}\"{}\n", &body[4..]));
    }
    out.push_str("</svg>\n");
    out
}

fn fig_err(name: &str) -> impl Fn(FigureError) -> StageError + '_ {
    move |e| StageError::compute(format!("figure {name}"), e)
}

/// Mean line and min-max band over seeds of a quantity, for layers `from..=L`.
fn seed_series(runs: &[&RunResult], q: &str, from: usize, depth: usize, label: String, color: usize) -> Series {
    let mut pts = Vec::new();
    let mut band = Vec::new();
    for l in from..=depth {
        if let Some(s) = stat_at(runs, q, l) {
            pts.push((l as f64, s.mean));
            band.push((l as f64, s.min, s.max));
        }
    }
    Series::new(label, pts).band(band).color(color)
}

fn mf_series(m: &MeanField, q: &str, from: usize, depth: usize) -> Series {
    let pts = (from..=depth).filter_map(|l| mf_value(m, q, l).map(|v| (l as f64, v))).collect();
    Series::new("mean field", pts).style(SeriesStyle::Dashed).color(MF_COLOR)
}

fn case_figure(cfg: &Config, cr: &CaseRuns) -> Result<Figure, StageError> {
    let name = format!("simulations-{}", cr.case.name);
    let l = cfg.depth;
    let panel = |title: &str, ylab: &str, q: &str, from: usize, log: bool| -> Result<String, StageError> {
        let mut plot = LinePlot::new(title, "layer l", ylab).size(PANEL_W, PANEL_H).legend(LegendPos::Auto);
        if log {
            plot = plot.log_y();
        }
        for (i, (w, runs)) in cr.by_width.iter().enumerate() {
            plot.series.push(seed_series(runs, q, from, l, format!("N = {w}"), i));
        }
        plot.series.push(mf_series(&cr.mf, q, from, l));
        plot.render().map_err(fig_err(&name))
    };
    let mut panels = vec![
        panel("(a) length pˡ", "pˡ", "p", 0, true)?,
        panel("(b) cosine eˡ", "eˡ", "e", 0, false)?,
        panel("(c) gradient χˡ/χᴸ", "χˡ / χᴸ", "chi", 0, true)?,
        panel("(d) weight gradient χ_wˡ/χᴸ", "χ_wˡ / χᴸ", "chi_w", 1, true)?,
    ];
    // (e) ratio to mean field at the largest width.
    let Some((wmax, runs)) = cr.by_width.last() else {
        return Err(StageError::compute(format!("figure {name}"), "the case has no simulated network"));
    };
    let mut plot =
        LinePlot::new(format!("(e) simulated / mean field, N = {wmax}"), "layer l", "ratio").size(PANEL_W, PANEL_H);
    let ratio = |q: &str, from: usize, label: &str, color: usize, style: SeriesStyle| -> Option<Series> {
        let mut pts = Vec::new();
        let mut band = Vec::new();
        for ll in from.max(1)..=l {
            let (Some(s), Some(m)) = (stat_at(runs, q, ll), mf_value(&cr.mf, q, ll)) else { return None };
            pts.push((ll as f64, s.mean / m));
            band.push((ll as f64, s.min / m, s.max / m));
        }
        let mut s = Series::new(label, pts).color(color).style(style);
        if style == SeriesStyle::Line && q != "chi_w" {
            s = s.band(band);
        }
        Some(s)
    };
    for (i, (q, label)) in [("p", "pˡ"), ("grad", "χ⁰/χˡ"), ("chi_w", "χ_wˡ")].iter().enumerate() {
        if let Some(s) = ratio(q, 1, label, i, SeriesStyle::Line) {
            plot.series.push(s);
        }
    }
    if let Some(s) = ratio("grad_indep", 1, "χ⁰/χˡ, indep. W", 3, SeriesStyle::Dashed) {
        plot.series.push(s);
    }
    plot = plot.hline(1.0, "");
    panels.push(plot.render().map_err(fig_err(&name))?);
    // (f) e - e_MF per width.
    let mut plot = LinePlot::new("(f) cosine minus mean field", "layer l", "eˡ − eˡ(MF)").size(PANEL_W, PANEL_H);
    for (i, (w, runs)) in cr.by_width.iter().enumerate() {
        let mut pts = Vec::new();
        let mut band = Vec::new();
        for ll in 0..=l {
            if let Some(s) = stat_at(runs, "e", ll) {
                let m = cr.mf.e[ll];
                pts.push((ll as f64, s.mean - m));
                band.push((ll as f64, s.min - m, s.max - m));
            }
        }
        plot.series.push(Series::new(format!("N = {w}"), pts).band(band).color(i));
    }
    plot = plot.hline(0.0, "");
    panels.push(plot.render().map_err(fig_err(&name))?);
    let c = cr.case;
    let var = match c.arch {
        Architecture::Full => format!(
            "$\\sigma_w^2 = {}$, $\\sigma_v^2 = {}$, $\\sigma_b^2 = {}$, $\\sigma_a^2 = {}$",
            c.sw2, c.sv2, c.sb2, c.sa2
        ),
        _ => format!("$\\sigma_w^2 = {}$, $\\sigma_b^2 = {}$", c.sw2, c.sb2),
    };
    Ok(Figure {
        name,
        caption: format!(
            "{} ({var}), depth {l}, {} seeds per width: (a) $p^l$, (b) $e^l$, (c) $\\chi^l/\\chi^L$, (d) $\\chi_w^l/\\chi^L$ against the layer; solid lines are seed means, shaded bands the range over seeds (min to max), dashed black the mean-field recurrences. (e) Seed means divided by mean field at the largest width (bands: range over seeds), with the gradient ratio $\\chi^0/\\chi^l$ also backpropagated through independently drawn weights (dashed). (f) $e^l$ minus its mean-field value.",
            c.label(),
            cfg.seeds
        ),
        svg: compose(&panels, 2, PANEL_W, PANEL_H),
    })
}

fn width_figure(cfg: &Config, cases: &[CaseRuns], rows: &[Row]) -> Result<Figure, StageError> {
    let name = "simulations-width";
    let l = cfg.depth;
    let mut panels = Vec::new();
    // (a)-(d): sqrt(N) sd / MF against the layer, per configuration: curves of different widths
    // coincide if the fluctuations scale like N^{-1/2}.
    for (k, cr) in cases.iter().enumerate() {
        let letter = (b'a' + k as u8) as char;
        let mut plot = LinePlot::new(format!("({letter}) {}", cr.case.label()), "layer l", "√N · sd / mean field")
            .log_y()
            .size(PANEL_W, PANEL_H);
        for (i, (w, runs)) in cr.by_width.iter().enumerate() {
            for (q, style, ql) in [("p", SeriesStyle::Line, "pˡ"), ("grad", SeriesStyle::Dashed, "χ⁰/χˡ")] {
                let pts: Vec<(f64, f64)> = (1..=l)
                    .filter_map(|ll| {
                        let (s, m) = (stat_at(runs, q, ll)?, mf_value(&cr.mf, q, ll)?);
                        Some((ll as f64, s.sd / m.abs() * (*w as f64).sqrt()))
                    })
                    .collect();
                plot.series.push(Series::new(format!("{ql}, N = {w}"), pts).style(style).color(i));
            }
        }
        panels.push(plot.render().map_err(fig_err(name))?);
    }
    let next = (b'a' + cases.len() as u8) as char;
    // Relative sd at depth L against width.
    let mut plot = LinePlot::new(format!("({next}) spread at depth {l} against width"), "width N", "sd / mean field")
        .log_x()
        .log_y()
        .size(PANEL_W, PANEL_H);
    let (lo, hi) =
        (cfg.widths.iter().copied().min().unwrap_or(1) as f64, cfg.widths.iter().copied().max().unwrap_or(1) as f64);
    let mut top: f64 = 0.0;
    for (i, cr) in cases.iter().enumerate() {
        for (q, style) in [("p", SeriesStyle::LineWithMarkers), ("grad", SeriesStyle::Dashed)] {
            let pts: Vec<(f64, f64)> = rows
                .iter()
                .filter(|r| r.case == cr.case.name && r.quantity == q && r.depth == l)
                .map(|r| (r.width as f64, r.rel_sd))
                .collect();
            top = pts.iter().filter(|p| p.0 == lo).map(|p| p.1).fold(top, f64::max);
            let label = if q == "p" { cr.case.label() } else { String::new() };
            plot.series.push(Series::new(label, pts).style(style).color(i));
        }
    }
    if hi > lo && top > 0.0 {
        let r: Vec<(f64, f64)> = [lo, hi].iter().map(|&x| (x, 1.5 * top * (x / lo).powf(-0.5))).collect();
        plot.series.push(Series::new("∝ N^(−1/2)", r).style(SeriesStyle::Dashed).color(MF_COLOR));
    }
    panels.push(plot.render().map_err(fig_err(name))?);
    // Exponent estimates.
    let next2 = (next as u8 + 1) as char;
    let betas = exponents(rows);
    let mut plot =
        LinePlot::new(format!("({next2}) exponent β of sd ∝ N^β"), "table depth l", "β").size(PANEL_W, PANEL_H);
    for (i, cr) in cases.iter().enumerate() {
        // Offset the configurations slightly along x so that their markers do not overlap.
        let dx = (i as f64 - (cases.len() as f64 - 1.0) / 2.0) * l as f64 / 80.0;
        let pts: Vec<(f64, f64)> =
            betas.iter().filter(|b| b.0 == cr.case.name).map(|b| (b.2 as f64 + dx, b.3)).collect();
        plot.series.push(Series::new(cr.case.label(), pts).style(SeriesStyle::Markers).color(i));
    }
    plot = plot.hline(-0.5, "−1/2");
    panels.push(plot.render().map_err(fig_err(name))?);
    Ok(Figure {
        name: name.into(),
        caption: format!(
            "Fluctuations against width. ({}) For each configuration, the seed-to-seed standard deviation divided by the mean-field value and multiplied by $\\sqrt N$, against the layer, for $p^l$ (solid) and $\\chi^0/\\chi^l$ (dashed), one colour per width: with $N^{{-1/2}}$ scaling the curves of different widths coincide. ({next}) The relative standard deviation at depth {l} against width (markers: $p^L$, dashed: $\\chi^0/\\chi^L$) with a reference slope $N^{{-1/2}}$. ({next2}) The exponent estimated between the smallest and the largest width for every configuration, quantity ($p$, $e$, $\\chi^0/\\chi^l$, $\\chi_w$) and table depth; the line marks $-1/2$.",
            if cases.len() > 1 { format!("a–{}", (b'a' + cases.len() as u8 - 1) as char) } else { "a".into() }
        ),
        svg: compose(&panels, 2, PANEL_W, PANEL_H),
    })
}

/// The figures: one per case with runs, then the width figure.
pub fn figures(cfg: &Config, cases: &[CaseRuns], rows: &[Row]) -> Result<Vec<Figure>, StageError> {
    let mut v = Vec::new();
    for cr in cases.iter().filter(|c| !c.by_width.is_empty()) {
        v.push(case_figure(cfg, cr)?);
    }
    v.push(width_figure(cfg, cases, rows)?);
    Ok(v)
}
