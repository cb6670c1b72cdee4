//! `edge-of-chaos list`: the stages, their cache keys and whether they are cached.

use super::{Context, Pipeline, PipelineArgs};
use edge_of_chaos::pipeline::Force;
use std::io::Write;

#[derive(clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pipeline: PipelineArgs,
}

pub fn run(ctx: &Context, args: &ListArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    // `--force=STAGE` before the command is checked (a typo is an error), though `list` ignores it.
    let p = Pipeline::load(ctx, &args.pipeline, &ctx.compute(&Default::default()).0)?;
    let runner = p.runner(1, Force::None);
    let keys = runner.keys()?;
    writeln!(out, "{:<12} {:<8} {:<16} needs", "stage", "state", "key")?;
    for s in &p.stages {
        let cached = runner.is_cached(s.name())?;
        writeln!(
            out,
            "{:<12} {:<8} {:<16} {}",
            s.name(),
            if cached { "cached" } else { "missing" },
            &keys[s.name()][..16],
            s.deps().join(", ")
        )?;
    }
    Ok(())
}
