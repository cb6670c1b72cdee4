//! `edge-of-chaos init`: the depth-aware initialization variance of
//! `edge_of_chaos::meanfield::init::recommend_with`, beside Xavier and He.

use super::{activation, build_pool, int_in, parse_act, parse_arch, parse_jobs, real_in, Context};
use edge_of_chaos::activation::ActName;
use edge_of_chaos::architecture::Architecture;
use edge_of_chaos::meanfield::init::{
    he_true_point, lookahead_for, max_evaluations, recommend_with, Target, DEFAULT_MAX_LOG_P, MAX_VARIANCE,
};
use edge_of_chaos::meanfield::table::{MAX_DEPTH, MAX_INPUT_VARIANCE};
use edge_of_chaos::meanfield::{Spec, Variances};
use std::io::Write;

/// What `init` bounds.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetName {
    /// the log gradient explosion ln(chi^0/chi^L)
    Grad,
    /// ln p^L (float32 overflow; suits ReLU)
    #[value(name = "pL", alias = "pl")]
    PL,
}

/// Output format of `init`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

/// Recommend a depth-dependent initialization variance and compare Xavier and He.
#[derive(clap::Args, Debug, Clone)]
pub struct InitArgs {
    /// Architecture: full (FRN; searches sigma_v^2), reduced or vanilla (search sigma_w^2)
    #[arg(long, default_value = "full", value_parser = parse_arch)]
    arch: Architecture,
    /// Activation: tanh, relu, alpha-relu (needs --alpha), erf, gelu
    #[arg(long, value_parser = parse_act)]
    act: ActName,
    /// Exponent of alpha-relu, 0 < alpha <= 50 (the grad target needs alpha > 1/2)
    #[arg(long, allow_negative_numbers = true)]
    alpha: Option<f64>,
    /// Number of blocks L (1 to 100000000)
    #[arg(long, value_name = "L", allow_negative_numbers = true, value_parser = depth)]
    depth: usize,
    /// Weight variance sigma_w^2, fixed while sigma_v^2 is searched (FRN only; 0 to 1e6)
    #[arg(long, default_value = "1", allow_negative_numbers = true, value_parser = variance)]
    sw2: f64,
    /// Bound G on the predicted ln(chi^0/chi^L) (target grad; 0 to 1e12)
    #[arg(long, default_value = "1", allow_negative_numbers = true, value_parser = grad_bound)]
    max_log_grad_explosion: f64,
    /// Bound on ln p^L (target pL; -1e12 to 1e12) [default: 1, below the ln p^L at which ReLU-type
    /// training failed in the report's grids; float32 overflow is at 88.72]
    #[arg(long, allow_negative_numbers = true, value_parser = log_p_bound)]
    max_log_p: Option<f64>,
    /// What to bound
    #[arg(long, value_enum, default_value_t = TargetName::Grad)]
    target: TargetName,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Worker threads: the search evaluates several variances at once [default: all cores]
    #[arg(long, short = 'j', value_name = "N", value_parser = parse_jobs)]
    jobs: Option<usize>,
}

fn depth(s: &str) -> Result<usize, String> {
    int_in(s, 1, MAX_DEPTH)
}

fn variance(s: &str) -> Result<f64, String> {
    real_in(s, 0.0, MAX_INPUT_VARIANCE)
}

fn grad_bound(s: &str) -> Result<f64, String> {
    real_in(s, 0.0, 1e12)
}

fn log_p_bound(s: &str) -> Result<f64, String> {
    real_in(s, -1e12, 1e12)
}

pub fn run(ctx: &Context, args: &InitArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let act = activation(args.act, args.alpha)?;
    let base = Spec { arch: args.arch, act, var: Variances::weights(args.sw2, 1.0), p0: 1.0, e0: 0.5 };
    let target = match args.target {
        TargetName::Grad => Target::Grad { max: args.max_log_grad_explosion },
        TargetName::PL => Target::LogP { max: args.max_log_p.unwrap_or(DEFAULT_MAX_LOG_P) },
    };
    let jobs = args.jobs.or(ctx.early.jobs).unwrap_or_else(super::cores);
    build_pool(jobs);
    let lookahead = lookahead_for(jobs);
    let progress = ctx.progress();
    let bar = progress.bar(max_evaluations(lookahead) as u64, "init");
    let mut shown = 0;
    let r = recommend_with(&base, args.depth, target, lookahead, &mut |s| {
        bar.inc((s.done - shown) as u64);
        shown = s.done;
        bar.set_message(format!("{} evaluations, last at variance {:.6e}", s.done, s.variance));
    });
    bar.finish();
    let r = r?;
    if args.format == Format::Json {
        writeln!(out, "{}", serde_json::to_string_pretty(&r.to_json(&base))?)?;
        return Ok(());
    }
    let what = match target {
        Target::Grad { .. } => "ln(chi^0/chi^L)",
        Target::LogP { .. } => "ln p^L",
    };
    writeln!(
        out,
        "# init: arch={} act={} depth={} target: {what} <= {}, searching {}{}",
        base.arch,
        base.act,
        args.depth,
        target.bound(),
        r.searched,
        if base.arch == Architecture::Full { format!(" at sw2 = {}", base.var.sw2) } else { String::new() }
    )?;
    if r.capped {
        writeln!(out, "# note: every variance up to {MAX_VARIANCE} satisfies the bound; the cap is shown")?;
    }
    if r.capped_at_he {
        let he = he_true_point(&base, args.depth)?;
        writeln!(
            out,
            "# note: He at its true point (every weight variance 2) has ln p^L = {:.4e} > {}: it fails at this depth, so the recommendation is lowered to He's variance",
            he.log_p,
            target.bound()
        )?;
    }
    writeln!(out, "{:>12} {:>14} {:>14} {:>18} {:>14}", "", "sw2", "sv2", "log_grad_expl", "log_p")?;
    for (name, p) in [("recommended", &r.best), ("xavier", &r.xavier), ("he", &r.he)] {
        writeln!(
            out,
            "{:>12} {:>14.6e} {:>14} {:>18} {:>14.6e}",
            name,
            p.sw2,
            p.sv2.map_or_else(|| "-".into(), |v| format!("{v:.6e}")),
            if p.log_grad_explosion.is_finite() { format!("{:.6e}", p.log_grad_explosion) } else { "inf".into() },
            p.log_p
        )?;
    }
    Ok(())
}
