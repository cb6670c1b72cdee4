//! The training chapter's figures: an accuracy heatmap and the training curves of every grid.

use super::compute::PointResult;
use super::config::{same, GridSpec};
use super::summary::GridSummary;
use crate::activation::ActName;
use crate::nn::train::Outcome;
use crate::pipeline::{Figure, StageError};
use crate::plot::{Heatmap, LinePlot, MarkerShape, Series, SeriesStyle};

/// The marker shape and legend label of a failure kind on the heatmap.
pub fn failure_marker(o: Outcome) -> (MarkerShape, &'static str) {
    match o {
        Outcome::OverflowAtInit => (MarkerShape::Square, "failed: overflow at init"),
        Outcome::Nonfinite => (MarkerShape::Diamond, "failed: non-finite in training"),
        Outcome::Blowup | Outcome::Trained => (MarkerShape::InvertedTriangle, "failed: loss blow-up"),
    }
}

/// Test accuracy of one grid over depth and variance (mean over the seeds that trained); a cell
/// where every seed failed is grey with a cross and a marker of its (most common) failure kind.
pub fn heatmap(g: &GridSummary) -> Result<Figure, StageError> {
    let name = format!("training-{}", g.spec.name);
    let x: Vec<f64> = g.variances.iter().map(|&v| g.spec.axis_value(v)).collect();
    let y: Vec<f64> = g.spec.depths.iter().map(|&d| d as f64).collect();
    let find = |d: usize, v: f64| {
        let (w, s) = g.spec.weights_at(v);
        g.cells.iter().find(|c| c.depth == d && same(c.sw2, w) && same(c.sv2, s))
    };
    let values: Vec<Vec<Option<f64>>> = g
        .spec
        .depths
        .iter()
        .map(|&d| {
            g.variances
                .iter()
                .map(|&v| find(d, v).map(|c| if c.all_failed() { f64::NAN } else { c.test_acc }))
                .collect()
        })
        .collect();
    let label = match g.axis_label.as_str() {
        "sigma_v^2" => "σ_v²",
        "sigma_w^2" => "σ_w²",
        _ => "σ_v² σ_w²",
    };
    let mut h = Heatmap::new(format!("{}: test accuracy", display_name(&g.spec)), label, "depth L", x, y, values)
        .log_x()
        .log_y()
        .y_ticks_at_cells()
        .colorbar("test accuracy")
        .color_range(0.0, 1.0);
    let mut labelled = Vec::new();
    for &d in &g.spec.depths {
        for &v in &g.variances {
            if let Some(kind) = find(d, v).filter(|c| c.all_failed()).and_then(|c| c.failure) {
                let (shape, text) = failure_marker(kind);
                let text = if labelled.contains(&kind) { "" } else { text };
                labelled.push(kind);
                h = h.marker(g.spec.axis_value(v), d as f64, text, shape);
            }
        }
    }
    let svg = h.render().map_err(|e| StageError::compute(format!("figure {name}"), e))?;
    Ok(Figure {
        name,
        caption: format!(
            "Test accuracy of {} networks after training (mean over the seeds that trained), over depth $L$ and {}. \
             A grey cell with a cross is a point where every seed failed; its marker gives how (the most common \
             failure among the seeds): a square for a non-finite forward pass of the initial network (overflow at \
             init), a diamond for a loss or parameter that became non-finite during training, a down-pointing \
             triangle for a loss above {} times the run's own initial loss (blow-up).",
            display_name(&g.spec),
            match g.axis_label.as_str() {
                "sigma_v^2" => "$\\sigma_v^2$ (at fixed $\\sigma_w^2$)",
                "sigma_w^2" => "$\\sigma_w^2$",
                _ => "$\\sigma_v^2\\sigma_w^2$",
            },
            crate::report::format::num(g.blowup_factor, 3)
        ),
        svg,
    })
}

/// The display name of a grid's networks: "FRN tanh", "FRN α-ReLU (α = 0.75)", "vanilla tanh".
pub fn display_name(g: &GridSpec) -> String {
    let act = match g.act {
        ActName::Tanh => "tanh".to_string(),
        ActName::Relu => "ReLU".to_string(),
        ActName::AlphaRelu => format!("α-ReLU (α = {})", g.alpha.unwrap_or(f64::NAN)),
        ActName::Erf => "erf".to_string(),
        ActName::Gelu => "GELU".to_string(),
    };
    format!("{} {act}", g.arch.short())
}

/// Training curves of one grid at its deepest depth: the best variance, Xavier and He (at their
/// true points) and the largest variance (first seed). A run that failed ends in a marker at its
/// last recorded loss.
pub fn curves(gi: usize, g: &GridSummary, points: &[(usize, &PointResult)]) -> Result<Figure, StageError> {
    let name = format!("training-curves-{}", g.spec.name);
    let deep = *g.spec.depths.last().unwrap_or(&1);
    let first_seed = points.iter().map(|(_, p)| p.result.seed).min().unwrap_or(0);
    let axis = match g.axis_label.as_str() {
        "sigma_v^2" => "σ_v²",
        "sigma_w^2" => "σ_w²",
        _ => "σ_v² σ_w²",
    };
    let mut plot =
        LinePlot::new(format!("{}: training loss at L = {deep}", display_name(&g.spec)), "step", "batch loss")
            .log_x()
            .log_y();
    let mut stops = Vec::new();
    let mut chosen: Vec<(String, (f64, f64))> = Vec::new();
    if let Some(best) = g.best.iter().find(|c| c.depth == deep) {
        chosen.push((format!("best: {axis} = {}", crate::report::format::num(best.axis, 2)), (best.sw2, best.sv2)));
    }
    if g.spec.has_inits() {
        chosen.push(("Xavier (σ_w² = σ_v² = 1)".into(), (1.0, 1.0)));
        chosen.push(("He (σ_w² = σ_v² = 2)".into(), (2.0, 2.0)));
    }
    let last = *g.variances.last().unwrap_or(&1.0);
    chosen.push((
        format!("largest: {axis} = {}", crate::report::format::num(g.spec.axis_value(last), 2)),
        g.spec.weights_at(last),
    ));
    let mut seen: Vec<(f64, f64)> = Vec::new();
    for (k, (what, (sw2, sv2))) in chosen.into_iter().enumerate() {
        if seen.iter().any(|&(w, v)| same(w, sw2) && same(v, sv2)) {
            continue; // the best cell may be Xavier
        }
        seen.push((sw2, sv2));
        let Some((_, p)) = points.iter().find(|(i, p)| {
            *i == gi
                && p.result.depth == deep
                && same(p.result.sw2, sw2)
                && same(p.result.sv2, sv2)
                && p.result.seed == first_seed
        }) else {
            continue;
        };
        let pts: Vec<(f64, f64)> = p.loss_trace.iter().map(|&(s, l)| (s as f64 + 1.0, l)).collect();
        let tag = if p.result.diverged { ", failed" } else { "" };
        let label = format!("{what}{tag}");
        if let (true, Some(&last)) = (p.result.diverged, pts.last()) {
            stops.push(last);
        }
        plot = plot.series(Series::new(label, pts).color(k));
    }
    if !stops.is_empty() {
        plot = plot.series(Series::new("run stopped (failed)", stops).style(SeriesStyle::Markers).color(6));
    }
    let svg = plot.render().map_err(|e| StageError::compute(format!("figure {name}"), e))?;
    Ok(Figure {
        name,
        caption: format!(
            "Batch training loss against step (log axes) of grid `{}` at its deepest depth $L = {deep}$ (first seed): the \
             best variance, Xavier and He at their true points and the largest variance of the grid. A run \
             that failed stops at the black marker, its last recorded finite loss.",
            g.spec.name,
        ),
        svg,
    })
}
