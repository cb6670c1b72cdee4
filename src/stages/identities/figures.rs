//! The figures of the identities chapter (the report's shared line plots): $W_\alpha(c)$ with the
//! values of its Bessel representation, the approach of the tanh integrals to their limits (I7)
//! and the ReLU kernel near $c = 1$ (I6).

use super::compute::{FigWa, LogSeries, Results};
use crate::math::kernels::RELU_K2;
use crate::pipeline::{Figure, StageError};
use crate::plot::{FigureError, LinePlot, Series, SeriesStyle};

/// The error of figure `name`, with the plotting library's error as the source.
fn plot_err(name: &'static str) -> impl Fn(FigureError) -> StageError {
    move |e| StageError::compute(format!("figure {name}"), e)
}

/// Strips `$` and a few LaTeX commands for plain-text legends.
fn plain(s: &str) -> String {
    s.replace('$', "")
        .replace("\\tanh", "tanh")
        .replace("\\sqrt q", "√q")
        .replace("\\frac{4/3}{\\sqrt{2\\pi}}", "(4/3)/√(2π)")
        .replace("\\frac2\\pi", "(2/π)")
        .replace("\\arcsin", "arcsin")
        .replace("\\,", " ")
        .replace('\\', "")
}

/// $W_\alpha(c)$: closed-form lines, quadrature markers in the same colour.
fn figure_wa(fig: &FigWa) -> Result<String, FigureError> {
    let mut plot = LinePlot::new("", "c", "W_α(c)");
    for (i, (a, curve, marks)) in fig.curves.iter().enumerate() {
        plot = plot.series(Series::new(format!("α = {a}, closed form"), curve.clone()).color(i));
        let label = if i + 1 == fig.curves.len() { "markers: K₀ integral (I5), quadrature" } else { "" };
        plot = plot.series(Series::new(label, marks.clone()).style(SeriesStyle::Markers).color(i));
    }
    plot.render()
}

/// Log-log curves with markers; with `with_slopes`, a thin dashed line of the predicted slope
/// $y_L (x/x_L)^s$ through the last point $(x_L, y_L)$ of each.
fn figure_loglog(series: &[LogSeries], xdesc: &str, ydesc: &str, with_slopes: bool) -> Result<String, FigureError> {
    let mut plot = LinePlot::new("", xdesc, ydesc).log_x().log_y();
    let mut any = false;
    for (i, (name, data, slope)) in series.iter().enumerate() {
        let d: Vec<(f64, f64)> = data.iter().copied().filter(|p| p.0 > 0.0 && p.1 > 0.0).collect();
        any |= !d.is_empty();
        plot = plot.series(Series::new(plain(name), d.clone()).style(SeriesStyle::LineWithMarkers).color(i));
        if let (true, Some(&(xl, yl))) = (with_slopes, d.last()) {
            let reference: Vec<(f64, f64)> = d.iter().map(|&(x, _)| (x, yl * (x / xl).powf(*slope))).collect();
            plot = plot.series(Series::new("", reference).style(SeriesStyle::Dashed).color(i));
        }
    }
    if !any {
        return Err(FigureError::Coordinates("no positive point to draw on log-log axes".into()));
    }
    plot.render()
}

/// $R(\epsilon)/\epsilon^{5/2}$ against $\epsilon$, with the derived limit $k_2$.
fn figure_relu(points: &[(f64, f64)]) -> Result<String, FigureError> {
    LinePlot::new("", "ε", "R(ε)/ε^(5/2)")
        .log_x()
        .series(Series::new("R(ε)/ε^(5/2), arc-cosine form", points.to_vec()).style(SeriesStyle::LineWithMarkers))
        .hline(RELU_K2, "k₂ = √2/(30π)")
        .render()
}

/// The chapter's figures.
pub fn figures(res: &Results) -> Result<Vec<Figure>, StageError> {
    Ok(vec![
        Figure {
            name: "identities-wa".into(),
            caption: "The alpha-ReLU kernel $W_\\alpha(c)$ (lines: hypergeometric closed form) with the values from the $K_0$ integral of identity I5 (markers in the colour of each line: $(1-c^2)^{\\alpha+1/2}/(2\\pi)\\int_0^\\infty y^\\alpha e^{cy}K_0(y)dy$ by quadrature)".into(),
            svg: figure_wa(&res.fig_wa).map_err(plot_err("identities-wa"))?,
        },
        Figure {
            name: "identities-tanh".into(),
            caption: "Approach of the tanh Gaussian integrals to their large-$q$ limits (I7), by adaptive quadrature; dashed lines through the last point of each curve have the predicted slopes ($-1/2$ for $1 - V\\tanh(q)$, $-1$ for the others)".into(),
            svg: figure_loglog(&res.fig_tanh, "q", "deviation from the limit", true).map_err(plot_err("identities-tanh"))?,
        },
        Figure {
            name: "identities-relu".into(),
            caption: "ReLU kernel near $c = 1$ (I6): the remainder $R(\\epsilon) = J_1(1-\\epsilon) - 1 + \\epsilon - \\frac{2\\sqrt2}{3\\pi}\\epsilon^{3/2}$ divided by $\\epsilon^{5/2}$ tends to the derived $k_2 = \\sqrt2/(30\\pi)$".into(),
            svg: figure_relu(&res.fig_relu).map_err(plot_err("identities-relu"))?,
        },
    ])
}
