//! The training chapter's figures: an accuracy heatmap and the training curves of every grid.

use super::compute::{GridSummary, PointResult};
use super::config::same;
use crate::pipeline::{Figure, StageError};
use crate::plot::{Heatmap, LinePlot, MarkerShape, Series, SeriesStyle};

/// Test accuracy of one grid over depth and variance (diverged cells grey), with the Xavier and
/// He columns marked at the deepest depth.
pub fn heatmap(g: &GridSummary) -> Result<Figure, StageError> {
    let name = format!("training-{}", g.spec.name);
    let x: Vec<f64> = g.variances.iter().map(|&v| g.spec.axis_value(v)).collect();
    let y: Vec<f64> = g.spec.depths.iter().map(|&d| d as f64).collect();
    let values: Vec<Vec<Option<f64>>> = g
        .spec
        .depths
        .iter()
        .map(|&d| {
            g.variances
                .iter()
                .map(|&v| {
                    g.cells.iter().find(|c| c.depth == d && same(c.sv2, v)).map(|c| {
                        if c.diverged == c.seeds {
                            f64::NAN
                        } else {
                            c.test_acc
                        }
                    })
                })
                .collect()
        })
        .collect();
    let label = if g.axis_label == "sigma_v^2" { "σ_v²" } else { "σ_v² σ_w²" };
    let act = match g.spec.alpha {
        Some(a) => format!("{} (α = {a})", g.spec.act),
        None => g.spec.act.to_string(),
    };
    let mut h = Heatmap::new(format!("{} {act}: test accuracy", g.spec.arch.short()), label, "depth L", x, y, values)
        .log_x()
        .log_y()
        .y_ticks_at_cells()
        .colorbar("test accuracy")
        .color_range(0.0, 1.0);
    h = h.marker(g.spec.axis_value(1.0), *g.spec.depths.last().unwrap_or(&1) as f64, "Xavier", MarkerShape::Circle);
    h = h.marker(g.spec.axis_value(2.0), *g.spec.depths.last().unwrap_or(&1) as f64, "He", MarkerShape::Triangle);
    let svg = h.render().map_err(|e| StageError::compute(format!("figure {name}"), e))?;
    Ok(Figure {
        name,
        caption: format!(
            "Test accuracy of {} {act} networks after training, over depth $L$ and {}; grey cells with a cross diverged. Markers at the deepest depth show the Xavier ($\\sigma_v^2 = 1$) and He ($\\sigma_v^2 = 2$) columns.",
            g.spec.arch.short(),
            if g.axis_label == "sigma_v^2" { "$\\sigma_v^2$ (at fixed $\\sigma_w^2$)" } else { "$\\sigma_v^2\\sigma_w^2$" }
        ),
        svg,
    })
}

/// Training curves of one grid at its deepest depth: the best variance, Xavier, He and the largest
/// variance (first seed). A run that diverged ends in a cross at the step where it stopped, drawn
/// at the loss threshold (the loss crossed it there, or became non-finite).
pub fn curves(
    gi: usize,
    g: &GridSummary,
    points: &[(usize, &PointResult)],
    threshold: f64,
) -> Result<Figure, StageError> {
    let name = format!("training-curves-{}", g.spec.name);
    let deep = *g.spec.depths.last().unwrap_or(&1);
    let first_seed = points.iter().map(|(_, p)| p.result.seed).min().unwrap_or(0);
    let axis = if g.axis_label == "sigma_v^2" { "σ_v²" } else { "σ_v² σ_w²" };
    let mut plot =
        LinePlot::new(format!("{}: training loss at L = {deep}", g.spec.name), "step", "batch loss").log_x().log_y();
    let mut stops = Vec::new();
    let mut chosen: Vec<(&str, f64)> = Vec::new();
    if let Some(best) = g.best.iter().find(|c| c.depth == deep) {
        chosen.push(("best", best.sv2));
    }
    chosen.push(("Xavier", 1.0));
    chosen.push(("He", 2.0));
    chosen.push(("largest", *g.variances.last().unwrap_or(&1.0)));
    let mut seen: Vec<f64> = Vec::new();
    for (k, (what, sv2)) in chosen.into_iter().enumerate() {
        if seen.iter().any(|&v| same(v, sv2)) {
            continue; // the best cell may be Xavier or He
        }
        seen.push(sv2);
        let Some((_, p)) = points.iter().find(|(i, p)| {
            *i == gi && p.result.depth == deep && same(p.result.sv2, sv2) && p.result.seed == first_seed
        }) else {
            continue;
        };
        let pts: Vec<(f64, f64)> = p.loss_trace.iter().map(|&(s, l)| (s as f64 + 1.0, l)).collect();
        let tag = if p.result.diverged { ", diverged" } else { "" };
        let label = format!("{what}: {axis} = {}{tag}", crate::report::format::num(g.spec.axis_value(sv2), 2));
        plot = plot.series(Series::new(label, pts).color(k));
        if let (true, Some(step)) = (p.result.diverged, p.result.diverged_step) {
            stops.push((step as f64 + 1.0, threshold));
        }
    }
    if !stops.is_empty() {
        plot = plot.series(Series::new("run stopped (diverged)", stops).style(SeriesStyle::Markers).color(6));
    }
    let svg = plot.render().map_err(|e| StageError::compute(format!("figure {name}"), e))?;
    Ok(Figure {
        name,
        caption: format!(
            "Batch training loss against step (log axes) of grid `{}` at its deepest depth $L = {deep}$ (first seed): the \
             best variance, Xavier, He and the largest variance of the grid. A run that diverged stops at the black \
             marker, drawn at the loss threshold {} that its loss crossed (or its loss became non-finite).",
            g.spec.name,
            crate::report::format::num(threshold, 3)
        ),
        svg,
    })
}
