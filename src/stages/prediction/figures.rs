//! The prediction chapter's figures: per grid an accuracy heatmap with the theory's contours
//! and an accuracy-against-metric collapse, and the ridge of every grid.

use super::compute::{contour_metrics, f3, metric_label, Analysis, GroupResult, InitConfig, Theory};
use crate::analysis::study::{InitMetrics, METRICS};
use crate::nn::train::Outcome;
use crate::pipeline::{Figure, StageError};
use crate::plot::{ContourSet, Heatmap, LinePlot, MarkerShape, Series, SeriesStyle};
use rayon::prelude::*;

/// A round step (1, 2 or 5 times a power of ten) of **at least** `span / target`, so that at most
/// `target` contour levels fit the range (unlike [`crate::plot::nice_step`], which picks the
/// step closest to `span / target` for axis ticks, and may give more).
fn step_at_least(span: f64, target: f64) -> f64 {
    let raw = span / target;
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw * 0.999).unwrap_or(10.0 * mag)
}

/// Round-number contour levels covering the finite values (about five): the multiples
/// $k\,\Delta$ strictly inside $(\min, \max)$, $\Delta$ = [`step_at_least`] of the range.
pub fn contour_levels(values: &[f64]) -> Vec<f64> {
    let fin: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let (lo, hi) = fin.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return vec![];
    }
    let step = step_at_least(hi - lo, 5.0);
    let k0 = (lo / step).ceil() as i64;
    let k1 = (hi / step).floor() as i64;
    (k0..=k1).map(|k| k as f64 * step).filter(|v| *v > lo && *v < hi).collect()
}

/// $n$ log-spaced values $\exp(\ln lo + (\ln hi - \ln lo)\,\frac{i}{n-1})$; just `lo` if $n < 2$ or $hi \le lo$.
fn log_spaced(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if n < 2 || hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return vec![lo];
    }
    (0..n).map(|i| (lo.ln() + (hi.ln() - lo.ln()) * i as f64 / (n - 1) as f64).exp()).collect()
}

/// The depths of the contour field: 24 log-spaced depths over the grid's range, rounded, plus
/// the grid's own.
fn fine_depths(depths: &[usize]) -> Vec<usize> {
    let (lo, hi) = (*depths.first().unwrap_or(&1), *depths.last().unwrap_or(&1));
    let mut d: Vec<usize> = log_spaced(lo as f64, hi as f64, 24).iter().map(|x| x.round().max(1.0) as usize).collect();
    d.extend_from_slice(depths);
    d.sort_unstable();
    d.dedup();
    d
}

/// Contour levels chosen from the data: the metric's median along the ridge (interior points) and
/// along the failure boundary, the second left out when it is within 5% of the metric's range of
/// the first (their labels would overlap); round levels ([`contour_levels`]) when neither exists.
pub fn data_levels(g: &GroupResult, key: &str, finite: &[f64]) -> Vec<f64> {
    let med =
        |v: Vec<f64>| crate::analysis::stats::median(&v.into_iter().filter(|x| x.is_finite()).collect::<Vec<_>>());
    let ridge = med(g.study.ridge.iter().filter(|r| !r.point.at_edge).filter_map(|r| r.metrics.get(key)).collect());
    let boundary = med(g.boundary.iter().filter_map(|b| b.metrics.get(key)).collect());
    let (lo, hi) = finite.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let inside = |x: &f64| *x > lo && *x < hi;
    let mut levels: Vec<f64> = ridge.into_iter().filter(inside).collect();
    if let Some(b) = boundary.filter(inside) {
        if levels.iter().all(|r| (b - r).abs() > 0.05 * (hi - lo)) {
            levels.push(b);
        }
    }
    if levels.is_empty() {
        return contour_levels(finite);
    }
    levels.sort_by(f64::total_cmp);
    levels
}

/// The accuracy heatmap of one grid with the theory's contours, the ridge, Xavier and He.
pub fn heatmap(g: &GroupResult, theory: &dyn Theory, contour_points: usize) -> Result<Figure, StageError> {
    let s = &g.study;
    let values: Vec<Vec<Option<f64>>> = s
        .depths
        .iter()
        .map(|&d| {
            s.variances
                .iter()
                .map(|&v| {
                    s.cells.iter().find(|c| c.depth == d && (c.variance - v).abs() <= 1e-9 * v).map(|c| {
                        if c.n_diverged == c.n {
                            f64::NAN
                        } else {
                            c.accuracy
                        }
                    })
                })
                .collect()
        })
        .collect();
    let x: Vec<f64> = s.variances.clone();
    let y: Vec<f64> = s.depths.iter().map(|&d| d as f64).collect();
    let mut h =
        Heatmap::new(format!("{}: test accuracy", g.label), g.axis.label(), "depth L", x.clone(), y.clone(), values)
            .log_x()
            .y_ticks_at_cells()
            .colorbar("test accuracy (range of trained cells)");
    // the colour scale resolves the trained range: from the lowest to the highest mean accuracy of
    // the cells where every seed trained
    let trained: Vec<f64> = s.cells.iter().filter(|c| c.n_diverged == 0).map(|c| c.accuracy).collect();
    let (tlo, thi) = trained.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    h = if thi > tlo { h.color_range(tlo, thi) } else { h.color_range(0.0, 1.0) };
    if s.depths.len() > 1 && s.depths.last().unwrap_or(&1) / s.depths.first().unwrap_or(&1) >= 4 {
        h = h.log_y();
    }
    // contour field on a finer grid
    let (lo, hi) = (x[0], x[x.len() - 1]);
    let fx = log_spaced(lo, hi, contour_points.max(2));
    let fd = fine_depths(&s.depths);
    let field: Vec<Vec<InitMetrics>> = fx
        .par_iter()
        .map(|&v| {
            let (sw2, sv2) = g.axis.weights(v);
            theory.metrics(&InitConfig { sw2, sv2, ..g.base }, &fd)
        })
        .collect();
    let (main, second) = contour_metrics(&g.act);
    let grid_of = |key: &str| -> Vec<Vec<f64>> {
        (0..fd.len()).map(|j| (0..fx.len()).map(|i| field[i][j].get(key).unwrap_or(f64::NAN)).collect()).collect()
    };
    let fy: Vec<f64> = fd.iter().map(|&d| d as f64).collect();
    for (k, key) in std::iter::once(main).chain(second).enumerate() {
        let vals = grid_of(key);
        let finite: Vec<f64> = vals.iter().flatten().copied().filter(|v| v.is_finite()).collect();
        let levels = data_levels(g, key, &finite);
        if levels.is_empty() || fd.len() < 2 {
            continue;
        }
        h = h.contour(ContourSet {
            label: metric_label(key).to_string(),
            x: fx.clone(),
            y: fy.clone(),
            values: vals,
            levels,
            level_labels: None,
            color: (k > 0).then_some(1),
            dashed: k > 0,
        });
    }
    for (kind, shape, label) in [
        (Outcome::Blowup, MarkerShape::Cross, "blow-up"),
        (Outcome::Nonfinite, MarkerShape::Square, "non-finite"),
        (Outcome::OverflowAtInit, MarkerShape::InvertedTriangle, "overflow at init"),
    ] {
        for (i, (d, v, _)) in g.failures.iter().filter(|f| f.2 == kind).enumerate() {
            h = h.marker(*v, *d as f64, if i == 0 { label } else { "" }, shape);
        }
    }
    for (i, r) in s.ridge.iter().enumerate() {
        h = h.marker(
            r.point.variance,
            r.point.depth as f64,
            if i == 0 { "ridge (best variance)" } else { "" },
            MarkerShape::Diamond,
        );
    }
    let (xv, hv) = g.axis.xavier_he();
    for (i, &d) in y.iter().enumerate() {
        if xv >= lo && xv <= hi {
            h = h.marker(xv, d, if i == 0 { "Xavier" } else { "" }, MarkerShape::Circle);
        }
        if hv >= lo && hv <= hi {
            h = h.marker(hv, d, if i == 0 { "He" } else { "" }, MarkerShape::Triangle);
        }
    }
    let name = format!("prediction-heatmap-{}", g.id);
    let svg = h.render().map_err(|e| StageError::compute(format!("figure {name}"), e))?;
    let (main_tex, second_tex) = (
        METRICS.iter().find(|(k, _)| *k == main).map_or("", |m| m.1),
        second.and_then(|s| METRICS.iter().find(|(k, _)| *k == s)).map(|m| m.1),
    );
    let caption = format!(
        "{}: mean test accuracy over seeds on the grid of depth $L$ and ${}$, the colour scale spanning the range of the cells where every seed trained (a cell with some failed seeds, which count at chance accuracy, may fall below it and takes the lowest colour; grey with a cross: every seed failed). Markers on failed cells give the most frequent failure kind there (cross: blow-up of the loss, square: non-finite values during training, inverted triangle: overflow at init). Solid lines: contours of the init-time ${main_tex}${} at the levels through the data, its median along the ridge and along the failure boundary (labelled with their values). Diamonds: the best variance at each depth (on cells where every seed trained). Circles and triangles: Xavier and He on this axis.",
        g.label,
        g.axis.latex(),
        second_tex.map_or(String::new(), |t| format!("; dashed: ${t}$")),
    );
    Ok(Figure { name, caption, svg })
}

/// Best variance against depth for every grid, with the OLS fit.
pub fn ridge_figure(a: &Analysis) -> Result<Option<Figure>, StageError> {
    let mut plot = LinePlot::new("", "depth L", "best variance v*").log_x().log_y();
    let mut any = false;
    for (k, g) in a.groups.iter().enumerate() {
        let pts: Vec<(f64, f64)> = g.study.ridge.iter().map(|r| (r.point.depth as f64, r.point.variance)).collect();
        if pts.is_empty() {
            continue;
        }
        any = true;
        let band: Vec<(f64, f64, f64)> = g
            .study
            .ridge
            .iter()
            .map(|r| {
                let sd = r.point.sd_log_variance.unwrap_or(0.0);
                (
                    r.point.depth as f64,
                    (r.point.log_variance - 1.96 * sd).exp(),
                    (r.point.log_variance + 1.96 * sd).exp(),
                )
            })
            .collect();
        plot = plot.series(Series::new(g.label.clone(), pts).style(SeriesStyle::Markers).band(band).color(k));
        if let Some(sl) = &g.study.slope {
            let f = &sl.fit;
            let line: Vec<(f64, f64)> =
                g.study.depths.iter().map(|&d| (d as f64, (f.intercept + f.slope * (d as f64).ln()).exp())).collect();
            plot = plot.series(
                Series::new(format!("{}: fit, slope {}", g.label, f3(f.slope)), line)
                    .style(SeriesStyle::Dashed)
                    .color(k),
            );
        }
    }
    if !any {
        return Ok(None);
    }
    // slope -1 reference through the centre (mean ln L, mean ln v*) of the interior ridge points of
    // the first grid that has two
    if let Some(g) = a.groups.iter().find(|g| g.study.ridge.iter().filter(|r| !r.point.at_edge).count() >= 2) {
        let pts: Vec<(f64, f64)> = g
            .study
            .ridge
            .iter()
            .filter(|r| !r.point.at_edge)
            .map(|r| ((r.point.depth as f64).ln(), r.point.log_variance))
            .collect();
        let n = pts.len() as f64;
        let (cx, cy) = (pts.iter().map(|p| p.0).sum::<f64>() / n, pts.iter().map(|p| p.1).sum::<f64>() / n);
        let line: Vec<(f64, f64)> =
            g.study.depths.iter().map(|&d| (d as f64, (cy - ((d as f64).ln() - cx)).exp())).collect();
        plot = plot.series(
            Series::new(format!("slope −1 through the {} ridge", g.label), line).style(SeriesStyle::Dashed).color(7),
        );
    }
    let svg = plot.render().map_err(|e| StageError::compute("figure prediction-ridge", e))?;
    Ok(Some(Figure {
        name: "prediction-ridge".into(),
        caption: "Best variance $v^*$ against depth $L$ for every trained grid (log-log), with a band of $\\pm 1.96$ bootstrap standard deviations over seeds and the least-squares line of $\\ln v^*$ on $\\ln L$ (dashed; points on the grid edge are shown but not fitted). Grey dashed: a line of the theory's slope $-1$ (tanh) through the centre of the first grid's interior ridge points, for reference.".into(),
        svg,
    }))
}

/// Accuracy against the theory's metric, one series per depth (a collapse onto one curve means
/// the metric captures the depth dependence).
pub fn collapse_figure(g: &GroupResult) -> Result<Option<Figure>, StageError> {
    let key = g.theory_metric.as_str();
    let mut plot = LinePlot::new("", metric_label(key), "test accuracy");
    let mut any = false;
    for (k, &d) in g.study.depths.iter().enumerate() {
        let mut pts: Vec<(f64, f64)> = g
            .study
            .cells
            .iter()
            .filter(|c| c.depth == d && c.n_diverged == 0)
            .filter_map(|c| c.metrics.get(key).filter(|m| m.is_finite()).map(|m| (m, c.accuracy)))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        if pts.is_empty() {
            continue;
        }
        any = true;
        plot = plot.series(Series::new(format!("L = {d}"), pts).style(SeriesStyle::LineWithMarkers).color(k));
    }
    if !any {
        return Ok(None);
    }
    let name = format!("prediction-collapse-{}", g.id);
    let svg = plot.render().map_err(|e| StageError::compute(format!("figure {name}"), e))?;
    let tex = METRICS.iter().find(|(k, _)| *k == key).map_or("", |m| m.1);
    Ok(Some(Figure {
        name,
        caption: format!(
            "{}: mean test accuracy against the init-time ${tex}$, one curve per depth, over the cells where every seed trained (the failed cells, at chance accuracy, would only stretch the axis). If the metric captures how the optimum moves with depth, the curves fall onto one another.",
            g.label
        ),
        svg,
    }))
}
