//! `edge-of-chaos run STAGE...`: run stages (and what they need) without rendering.

use super::{build_pool, ComputeArgs, Context, Pipeline, PipelineArgs};
use edge_of_chaos::error::UsageError;

#[derive(clap::Args)]
pub struct RunArgs {
    /// Stages to run, with the stages they need (see `list`)
    #[arg(required = true, value_name = "STAGE")]
    stages: Vec<String>,
    /// Compute only share K of N of a stage's sub-tasks (e.g. training grid points)
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
    #[command(flatten)]
    pipeline: PipelineArgs,
    #[command(flatten)]
    compute: ComputeArgs,
}

pub fn run(ctx: &Context, args: &RunArgs) -> anyhow::Result<()> {
    let (force, jobs) = ctx.compute(&args.compute);
    let p = Pipeline::load(ctx, &args.pipeline, &force)?;
    let mut runner = p.runner(jobs, force);
    runner.validate(&args.stages)?;
    runner.shard = args.shard;
    build_pool(jobs);
    runner.run(&args.stages)?;
    Ok(())
}

/// `K/N` with `1 <= K <= N`.
fn parse_shard(s: &str) -> Result<(usize, usize), UsageError> {
    let bad = || UsageError::new(format!("--shard '{s}' is invalid (valid: K/N with 1 <= K <= N, e.g. 2/8)"));
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

#[cfg(test)]
mod tests {
    #[test]
    fn shards() {
        assert_eq!(super::parse_shard("2/8"), Ok((2, 8)));
        for bad in ["3/2", "0/4", "1", "a/b", "1/0"] {
            assert!(super::parse_shard(bad).unwrap_err().0.contains("valid: K/N"), "{bad}");
        }
    }
}
