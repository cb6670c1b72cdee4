//! Test figures: a sample line plot and heatmap (used by the tests of `line` and `heatmap`) and
//! a gallery of edge cases rendered together.

use super::*;

pub(super) fn sample_lineplot() -> LinePlot {
    let xs: Vec<f64> = (1..=50).map(|i| i as f64 * 4.0).collect();
    LinePlot::new("Gradient explosion", "depth L", "‖∇‖ ratio")
        .log_y()
        .series(Series::new("tanh, full", xs.iter().map(|&l| (l, (l / 40.0).exp())).collect()))
        .series(
            Series::new("ReLU, reduced", xs.iter().map(|&l| (l, l.powf(1.5))).collect())
                .style(SeriesStyle::Dashed)
                .band(xs.iter().map(|&l| (l, 0.7 * l.powf(1.5), 1.4 * l.powf(1.5))).collect()),
        )
        .series(
            Series::new("Monte Carlo", xs.iter().step_by(5).map(|&l| (l, 1.1 * l.powf(1.5))).collect())
                .style(SeriesStyle::Markers),
        )
        .hline(1.0, "no growth")
}

pub(super) fn sample_heatmap() -> Heatmap {
    let x: Vec<f64> = (0..30).map(|i| 10f64.powf(-1.0 + 2.0 * i as f64 / 29.0)).collect();
    let y: Vec<f64> = (0..20).map(|j| 0.5 + 3.0 * j as f64 / 19.0).collect();
    let values: Vec<Vec<Option<f64>>> = y
        .iter()
        .enumerate()
        .map(|(j, &yv)| {
            x.iter()
                .enumerate()
                .map(|(i, &xv)| {
                    if j == 0 && i < 3 {
                        None
                    } else if yv > 3.2 && xv > 5.0 {
                        Some(f64::INFINITY)
                    } else {
                        Some(xv.ln() * yv)
                    }
                })
                .collect()
        })
        .collect();
    let field: Vec<Vec<f64>> = y.iter().map(|&yv| x.iter().map(|&xv| xv * yv).collect()).collect();
    Heatmap::new("Test accuracy", "σ_w²", "σ_b²", x.clone(), y.clone(), values)
        .log_x()
        .colorbar("accuracy")
        .contour(ContourSet {
            label: "χ = 1".into(),
            x,
            y,
            values: field,
            levels: vec![0.5, 1.0, 4.0],
            ..Default::default()
        })
        .marker(1.0, 1.0, "Xavier", MarkerShape::Circle)
        .marker(2.0, 1.0, "He", MarkerShape::Triangle)
}

/// Renders a gallery of edge cases; writes them as SVG files when `EOC_FIGURE_DIR` is set
/// (to look at them, e.g. after `rsvg-convert`).
#[test]
fn sample_figures_render() {
    let xs: Vec<f64> = (0..40).map(|i| 1.2 + 0.02 * i as f64).collect();
    let gallery = vec![
        ("line", sample_lineplot().render().unwrap()),
        ("heat", sample_heatmap().render().unwrap()),
        ("empty", LinePlot::new("Nothing", "x", "y").log_y().render().unwrap()),
        (
            "narrowlog",
            LinePlot::new("", "q", "small values")
                .log_x()
                .log_y()
                .series(
                    Series::new("a", xs.iter().map(|&x| (x, 3e-5 * x)).collect()).style(SeriesStyle::LineWithMarkers),
                )
                .series(Series::new("b", xs.iter().map(|&x| (x, 2.5e-5 * x * x)).collect()))
                .vline(1.5, "critical")
                .render()
                .unwrap(),
        ),
        (
            "negsci",
            LinePlot::new("", "t", "signal")
                .series(Series::new("sin", (0..100).map(|i| (i as f64 * 1e3, 4e-4 * (i as f64 / 9.0).sin())).collect()))
                .series(
                    Series::new("cos", (0..100).map(|i| (i as f64 * 1e3, 3e-4 * (i as f64 / 7.0).cos())).collect())
                        .style(SeriesStyle::Dashed),
                )
                .hline(0.0, "zero")
                .legend(LegendPos::LowerLeft)
                .render()
                .unwrap(),
        ),
        (
            "diverging",
            Heatmap::new(
                "",
                "σ_w",
                "depth L",
                (0..12).map(|i| 0.5 + 0.25 * i as f64).collect(),
                (0..9).map(|j| 2f64.powi(j + 1)).collect(),
                (0..9).map(|j| (0..12).map(|i| Some((i as f64 - 6.0) * (j as f64 + 1.0) * 0.1)).collect()).collect(),
            )
            .log_y()
            .color_map(ColorMap::Diverging)
            .color_range(-5.0, 5.0)
            .colorbar("log₁₀ ratio")
            .render()
            .unwrap(),
        ),
    ];
    for (_, svg) in &gallery {
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }
    if let Ok(dir) = std::env::var("EOC_FIGURE_DIR") {
        for (name, svg) in &gallery {
            std::fs::write(format!("{dir}/{name}.svg"), svg).unwrap();
        }
    }
}
