//! The figures of the dynamics chapter (the report's shared line plots): $p^l$, $\ln p^l$ for ReLU,
//! the cosine, the gradient explosion, and the local exponents of each law over its theoretical
//! value, against depth.

use super::compute::{CaseResult, Column, Family};
use super::Config;
use crate::architecture::Architecture;
use crate::meanfield::fit::local_slopes;
use crate::meanfield::laws;
use crate::meanfield::recurrence::Layer;
use crate::pipeline::{Figure, StageError};
use crate::plot::{FigureError, LegendPos, LinePlot, Series, SeriesStyle};
use crate::report::format::tex_sci;

/// What every figure reads: the configuration, the results, and a grid of 61 depths
/// log-spaced in $[1, L]$ for the theory curves.
struct Ctx<'a> {
    cfg: &'a Config,
    results: &'a [CaseResult],
    xmax: f64,
    grid: Vec<f64>,
}

impl Ctx<'_> {
    /// The case with this label.
    fn by(&self, label: &str) -> Option<&CaseResult> {
        self.results.iter().find(|r| r.case.label == label)
    }
}

/// The error of figure `name`, with the plotting library's error as the source.
fn plot_err(name: &'static str) -> impl Fn(FigureError) -> StageError {
    move |e| StageError::compute(format!("figure {name}"), e)
}

/// The kept layers of a case as points $(l, f(\text{layer}))$, $l \ge 1$.
fn pts(r: &CaseResult, f: impl Fn(&Layer) -> f64) -> Vec<(f64, f64)> {
    r.traj.layers.iter().filter(|x| x.l >= 1).map(|x| (x.l as f64, f(x))).collect()
}

/// Local log-log slopes $\Delta\ln f/\Delta\ln l$ between kept layers.
fn local(r: &CaseResult, f: &dyn Fn(&Layer) -> f64) -> Vec<(f64, f64)> {
    local_slopes(&pts(r, f))
}

fn is_frn(r: &CaseResult) -> bool {
    r.case.spec.arch == Architecture::Full
}

/// The chapter's figures, in the order of the text.
pub fn figures(cfg: &Config, results: &[CaseResult]) -> Result<Vec<Figure>, StageError> {
    let xmax = cfg.depth as f64;
    let grid: Vec<f64> = (0..=60).map(|i| 10f64.powf(i as f64 / 60.0 * xmax.log10())).collect();
    let ctx = Ctx { cfg, results, xmax, grid };
    Ok(vec![
        p_figure(&ctx)?,
        relu_logp_figure(&ctx)?,
        cosine_figure(&ctx)?,
        grad_figure(&ctx)?,
        local_p_figure(&ctx)?,
        local_e_figure(&ctx)?,
        local_grad_figure(&ctx)?,
    ])
}

/// Length $p^l$ against depth (log-log), with the asymptotes $B\,l$ (tanh) and $(K_p l)^{1/(1-\alpha)}$ ($\alpha$-ReLU).
fn p_figure(ctx: &Ctx) -> Result<Figure, StageError> {
    let mut plot = LinePlot::new("", "depth l", "pˡ").log_x().log_y().legend(LegendPos::UpperLeft);
    let mut color = 0;
    let mut add = |plot: &mut LinePlot, label: String, data: Vec<(f64, f64)>, theory: Option<Vec<(f64, f64)>>| {
        plot.series.push(Series::new(label, data).color(color));
        if let Some(t) = theory {
            plot.series.push(Series::new("", t).style(SeriesStyle::Dashed).color(color));
        }
        color += 1;
    };
    if let Some(r) = ctx.by("FRN tanh") {
        let b = laws::tanh_b(&r.case.spec.blocks());
        add(&mut plot, "FRN tanh".into(), pts(r, Layer::p), Some(ctx.grid.iter().map(|&l| (l, b * l)).collect()));
    }
    for r in ctx.results.iter().filter(|r| is_frn(r)) {
        if let Family::Alpha(a) = r.case.family {
            let kp = laws::alpha_p_slope(a, &r.case.spec.blocks())
                .map_err(|e| StageError::compute("figure dynamics-p", e))?;
            let th = ctx.grid.iter().map(|&l| (l, (kp * l).powf(1.0 / (1.0 - a)))).collect();
            add(&mut plot, format!("FRN α-ReLU, α = {a}"), pts(r, Layer::p), Some(th));
        }
    }
    if let Some(r) = ctx.by("vanilla tanh") {
        add(&mut plot, "vanilla tanh".into(), pts(r, Layer::p), None);
    }
    Ok(Figure {
        name: "dynamics-p".into(),
        caption: "Length $p^l$ against depth (log-log) for FRNs with tanh and α-ReLU, and a vanilla tanh net; dashed: the asymptotes $B l$ and $(K_p l)^{1/(1-\\alpha)}$ of the theory. The vanilla net sits at its fixed point $q^*$ after a few layers; the residual nets grow polynomially.".into(),
        svg: plot.render().map_err(plot_err("dynamics-p"))?,
    })
}

/// ReLU nets: $\ln p^l$ on linear axes, with $\ln p^0 + l\ln(\kappa + \sigma\alpha_q/2)$.
fn relu_logp_figure(ctx: &Ctx) -> Result<Figure, StageError> {
    let mut plot = LinePlot::new("", "depth l", "ln pˡ").legend(LegendPos::UpperLeft);
    for (i, label) in ["FRN ReLU", "RRN ReLU", "vanilla ReLU"].iter().enumerate() {
        if let Some(r) = ctx.by(label) {
            let rate = laws::relu_rate(&r.case.spec.blocks());
            plot.series.push(Series::new(*label, pts(r, |x| x.ln_p)).color(i));
            let th = vec![(0.0, ctx.cfg.p0.ln()), (ctx.xmax, ctx.cfg.p0.ln() + rate * ctx.xmax)];
            plot.series.push(Series::new("", th).style(SeriesStyle::Dashed).color(i));
        }
    }
    Ok(Figure {
        name: "dynamics-relu-logp".into(),
        caption: "ReLU nets: $\\ln p^l$ against depth on linear axes; dashed: $l\\ln(\\kappa + \\sigma\\alpha_q/2)$ (FRN $\\ln(1 + \\sigma_v^2\\sigma_w^2/2)$, RRN $\\ln(1 + \\sigma_w^2/2)$, vanilla $\\ln(\\sigma_w^2/2)$). Exponential in every architecture, with $p^L$ far beyond the float range at $L = 10^5$, which the log-space recurrence handles.".into(),
        svg: plot.render().map_err(plot_err("dynamics-relu-logp"))?,
    })
}

/// Distance of the cosine from its limit, $|e^l - e^*|$ ($1 - e^l$ for ReLU), with the slopes $-d$ of the theory through the last point and the ReLU law $4/(rkl)^2$.
fn cosine_figure(ctx: &Ctx) -> Result<Figure, StageError> {
    let mut plot =
        LinePlot::new("", "depth l", "|eˡ − e*|  (1 − eˡ for ReLU)").log_x().log_y().legend(LegendPos::LowerLeft);
    let mut color = 0;
    for r in ctx.results {
        let label = &r.case.label;
        let show = (matches!(r.case.family, Family::Tanh | Family::Relu | Family::Alpha(_))
            && r.case.spec.arch == Architecture::Full)
            || r.case.family == Family::VanillaTanh;
        if !show {
            continue;
        }
        let e_star = r.e_star;
        let data = if matches!(r.case.family, Family::Relu) {
            pts(r, |x| x.one_minus_e)
        } else {
            pts(r, |x| (x.e - e_star).abs())
        };
        plot.series.push(Series::new(label.clone(), data.clone()).color(color));
        // Theory: slope through the last point (ReLU: the full law with its constant).
        let law = r.rows.iter().find(|x| x.column == Column::E && x.quantity.starts_with("exponent"));
        if let (Some(law), Some(&(lx, ly))) = (law, data.last()) {
            let th: Vec<(f64, f64)> = if matches!(r.case.family, Family::Relu) {
                let c = laws::relu_cos_const(&r.case.spec.blocks());
                ctx.grid.iter().filter(|&&l| l >= 10.0).map(|&l| (l, c / (l * l))).collect()
            } else {
                ctx.grid.iter().filter(|&&l| l >= lx / 1e3).map(|&l| (l, ly * (l / lx).powf(law.theory))).collect()
            };
            plot.series.push(Series::new("", th).style(SeriesStyle::Dashed).color(color));
        }
        color += 1;
    }
    Ok(Figure {
        name: "dynamics-cosine".into(),
        caption: "Distance of the cosine $e^l$ from its limit against depth (log-log): $\\lvert e^l - e^*\\rvert$ for tanh and α-ReLU FRNs and the vanilla tanh net ($e^* = c^*$), $1 - e^l$ for the ReLU FRN. Dashed: slopes $-d$ of the theory drawn through the last point, and for ReLU the full law $4/(r k l)^2$. The vanilla net converges exponentially (it drops out of the plot after a few dozen layers), the residual nets polynomially.".into(),
        svg: plot.render().map_err(plot_err("dynamics-cosine"))?,
    })
}

/// Log gradient explosion $\ln(\chi^0/\chi^L)$, with $K\sqrt L$ (tanh), $L\ln(1 + \sigma_v^2\sigma_w^2/2)$ (ReLU) and $R\ln L + C$ ($\alpha$-ReLU).
fn grad_figure(ctx: &Ctx) -> Result<Figure, StageError> {
    let mut plot = LinePlot::new("", "depth L", "ln(χ⁰/χᴸ)").log_x().log_y().legend(LegendPos::UpperLeft);
    let mut color = 0;
    for r in ctx.results {
        let fam = r.case.family;
        let show = r.case.spec.arch == Architecture::Full && fam != Family::Tanh
            || r.case.label == "FRN tanh"
            || fam == Family::VanillaTanh;
        if !show || (matches!(fam, Family::Tanh) && r.case.label != "FRN tanh") {
            continue;
        }
        let data = pts(r, |x| x.log_grad_explosion);
        plot.series.push(Series::new(r.case.label.clone(), data.clone()).color(color));
        let bl = r.case.spec.blocks();
        let th: Option<Vec<(f64, f64)>> = match fam {
            Family::Tanh => Some(ctx.grid.iter().map(|&l| (l, laws::tanh_grad_const(&bl) * l.sqrt())).collect()),
            Family::Relu => Some(ctx.grid.iter().map(|&l| (l, laws::relu_rate(&bl) * l)).collect()),
            Family::Alpha(a) => data.last().map(|&(lx, ly)| {
                ctx.grid.iter().filter(|&&l| l >= 10.0).map(|&l| (l, ly + laws::alpha_r(a) * (l / lx).ln())).collect()
            }),
            _ => None,
        };
        if let Some(th) = th {
            plot.series.push(Series::new("", th).style(SeriesStyle::Dashed).color(color));
        }
        color += 1;
    }
    Ok(Figure {
        name: "dynamics-grad".into(),
        caption: "Log gradient explosion $\\ln(\\chi^0/\\chi^L)$ against depth (log-log). Dashed: $K\\sqrt L$ (tanh FRN), $L\\ln(1 + \\sigma_v^2\\sigma_w^2/2)$ (ReLU FRN), $R\\ln L + C$ with $C$ matched at the last point (α-ReLU FRNs). Slope 1 on these axes is exponential explosion (vanilla tanh, ReLU), slope 1/2 is $\\exp(\\Theta(\\sqrt L))$, and the α-ReLU curves, logarithmic in $L$, are polynomial explosion.".into(),
        svg: plot.render().map_err(plot_err("dynamics-grad"))?,
    })
}

/// Local exponent $d\ln p^l/d\ln l$ over its theoretical value (FRNs).
fn local_p_figure(ctx: &Ctx) -> Result<Figure, StageError> {
    let mut plot = LinePlot::new("", "depth l", "local exponent of p / theory").log_x().legend(LegendPos::LowerRight);
    for (i, r) in ctx
        .results
        .iter()
        .filter(|r| is_frn(r))
        .filter(|r| matches!(r.case.family, Family::Tanh | Family::Alpha(_)))
        .enumerate()
    {
        let th = r.rows.iter().find(|x| x.quantity == "exponent of $p^l$").map(|x| x.theory).unwrap_or(1.0);
        let data: Vec<(f64, f64)> =
            local(r, &Layer::p).into_iter().filter(|p| p.0 >= 10.0).map(|(l, s)| (l, s / th)).collect();
        plot.series.push(Series::new(r.case.label.clone(), data).color(i % 8));
    }
    plot = plot.hline(1.0, "theory").y_range(0.5, 1.2);
    Ok(Figure {
        name: "dynamics-local-p".into(),
        caption: "Local exponent $d\\ln p^l/d\\ln l$ divided by its theoretical value ($1$ for tanh, $1/(1-\\alpha)$ for α-ReLU) against depth, for the tanh and α-ReLU FRNs (the RRNs behave alike; see the table). All approach 1; the residual gap at the largest depth is in the table.".into(),
        svg: plot.render().map_err(plot_err("dynamics-local-p"))?,
    })
}

/// Local exponent of the cosine law over its theoretical value, discrete and in the continuum limit (FRNs).
fn local_e_figure(ctx: &Ctx) -> Result<Figure, StageError> {
    let mut plot =
        LinePlot::new("", "depth l", "local exponent of |e − e*| / theory").log_x().legend(LegendPos::LowerRight);
    let mut color = 0;
    for r in ctx
        .results
        .iter()
        .filter(|r| is_frn(r))
        .filter(|r| matches!(r.case.family, Family::Tanh | Family::Alpha(_) | Family::Relu))
    {
        let Some(th) =
            r.rows.iter().find(|x| x.column == Column::E && x.quantity.starts_with("exponent")).map(|x| x.theory)
        else {
            continue;
        };
        let e_star = r.e_star;
        let f = |x: &Layer| if r.case.family == Family::Relu { x.one_minus_e } else { (x.e - e_star).abs() };
        let data: Vec<(f64, f64)> =
            local(r, &f).into_iter().filter(|p| p.0 >= 10.0).map(|(l, s)| (l, s / th)).collect();
        plot.series.push(Series::new(r.case.label.clone(), data).color(color % 8));
        if !r.continuum.is_empty() {
            let c: Vec<(f64, f64)> = r.continuum.iter().map(|&(l, e)| (l, (e - e_star).abs())).collect();
            let cs: Vec<(f64, f64)> = local_slopes(&c).into_iter().map(|(l, s)| (l, s / th)).collect();
            plot.series.push(Series::new("", cs).style(SeriesStyle::Dashed).color(color % 8));
        }
        color += 1;
    }
    plot = plot.hline(1.0, "theory").y_range(0.0, 5.0);
    Ok(Figure {
        name: "dynamics-local-e".into(),
        caption: format!("Local exponent of the cosine law divided by its theoretical value ($-d$, or $-2$ for $1 - e^l$ of ReLU) against depth. Solid: the discrete recurrence; dashed: its continuum limit in log-depth, started at the largest depth and carried to ${}$ (α-ReLU) and ${}$ (tanh with $e^* > 0$). FRNs only; the RRNs behave alike. The α-ReLU laws converge slowly: the local slope differs from $-d$ by a term proportional to $\\lvert e^l - e^*\\rvert$, which itself decays only like $l^{{-d}}$.", tex_sci(ctx.cfg.continuum_depth, 1), tex_sci(ctx.cfg.tanh_continuum_depth, 1)),
        svg: plot.render().map_err(plot_err("dynamics-local-e"))?,
    })
}

/// Local exponent of the gradient explosion over its theoretical value (FRNs).
fn local_grad_figure(ctx: &Ctx) -> Result<Figure, StageError> {
    let mut plot =
        LinePlot::new("", "depth L", "local exponent of ln(χ⁰/χᴸ) / theory").log_x().legend(LegendPos::LowerRight);
    for (i, r) in ctx
        .results
        .iter()
        .filter(|r| is_frn(r))
        .filter(|r| matches!(r.case.family, Family::Tanh | Family::Alpha(_)))
        .enumerate()
    {
        let data: Vec<(f64, f64)> = match r.case.family {
            Family::Tanh => {
                local(r, &|x: &Layer| x.log_grad_explosion).into_iter().map(|(l, s)| (l, s / 0.5)).collect()
            }
            Family::Alpha(a) => pts(r, |x| x.log_grad_explosion)
                .windows(2)
                .map(|w| ((w[0].0 * w[1].0).sqrt(), (w[1].1 - w[0].1) / (w[1].0 / w[0].0).ln() / laws::alpha_r(a)))
                .collect(),
            _ => vec![],
        };
        let data: Vec<(f64, f64)> = data.into_iter().filter(|p| p.0 >= 10.0).collect();
        plot.series.push(Series::new(r.case.label.clone(), data).color(i % 8));
    }
    plot = plot.hline(1.0, "theory").y_range(0.0, 1.5);
    Ok(Figure {
        name: "dynamics-local-grad".into(),
        caption: "Local exponent of the gradient explosion divided by its theoretical value: $d\\ln G/d\\ln L$ over $1/2$ for tanh, $dG/d\\ln L$ over $R$ for α-ReLU ($G = \\ln(\\chi^0/\\chi^L)$). The tanh curves approach 1 slowly because of the additive $O(\\ln L)$ term of $G$, which the table's estimator (increments of $G$) removes.".into(),
        svg: plot.render().map_err(plot_err("dynamics-local-grad"))?,
    })
}
