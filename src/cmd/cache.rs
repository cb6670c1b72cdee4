//! `edge-of-chaos cache merge DIR...`: copy the verified entries of other cache directories
//! (e.g. the shards of a training grid) into this one.

use super::{usage, Context, Pipeline, PipelineArgs};
use edge_of_chaos::pipeline::Force;
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub enum CacheCommand {
    /// Copy every verified entry of other cache directories into this one (for sharded runs)
    Merge {
        /// Cache directories to merge from (each holds stages/ or a stage's task folder, as
        /// written by `run --cache-dir DIR`); entries already present are kept
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<PathBuf>,
        #[command(flatten)]
        pipeline: PipelineArgs,
    },
}

pub fn run(ctx: &Context, cmd: &CacheCommand) -> anyhow::Result<()> {
    let CacheCommand::Merge { dirs, pipeline } = cmd;
    let p = Pipeline::load(ctx, pipeline, &ctx.compute(&Default::default()).0)?;
    let names = p.names();
    // Every directory is checked before anything is copied.
    for d in dirs {
        check_source(d, &names)?;
    }
    let runner = p.runner(1, Force::None);
    for d in dirs {
        let m = runner.cache.merge(d, &p.progress)?;
        for b in &m.corrupt {
            p.progress.warn(&format!("skipped corrupt entry {}", b.display()));
        }
        for l in &m.links {
            p.progress.warn(&format!("skipped symbolic link {} (merging never follows links)", l.display()));
        }
        p.progress.info(&format!(
            "merged {} into {}: {} copied, {} already present, {} corrupt, {} links skipped, {} of an older cache layout skipped",
            d.display(),
            p.cache_dir.display(),
            m.copied,
            m.present,
            m.corrupt.len(),
            m.links.len(),
            m.stale
        ));
    }
    Ok(())
}

/// A directory to merge from must be a real directory (not a symbolic link) that looks like a
/// cache: it holds `stages/` or a folder named after a stage (where stages keep task results).
fn check_source(dir: &Path, stage_names: &[String]) -> anyhow::Result<()> {
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| usage(format!("cannot merge {}: {e} (valid: a cache directory)", dir.display())))?;
    if meta.file_type().is_symlink() {
        return Err(usage(format!(
            "cannot merge {}: it is a symbolic link (valid: a cache directory itself; merging does not follow links)",
            dir.display()
        )));
    }
    if !meta.is_dir() {
        return Err(usage(format!("cannot merge {}: not a directory (valid: a cache directory)", dir.display())));
    }
    if !looks_like_cache(dir, stage_names) {
        return Err(usage(format!(
            "cannot merge {}: not a cache directory (it holds neither stages/ nor a folder named after a stage: {})",
            dir.display(),
            stage_names.join(", ")
        )));
    }
    Ok(())
}

/// Whether `dir` holds `stages/` or a folder named after a stage.
pub(super) fn looks_like_cache(dir: &Path, stage_names: &[String]) -> bool {
    std::iter::once("stages")
        .chain(stage_names.iter().map(String::as_str))
        .any(|ns| std::fs::symlink_metadata(dir.join(ns)).is_ok_and(|m| m.is_dir()))
}
