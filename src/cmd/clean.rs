//! `edge-of-chaos clean [STAGE...]`: delete cached artifacts, saying what and how much.

use super::cache::looks_like_cache;
use super::{human_bytes, usage, Context, Pipeline, PipelineArgs};
use edge_of_chaos::pipeline::Force;
use std::path::Path;

#[derive(clap::Args)]
pub struct CleanArgs {
    /// Stages whose cached artifacts to delete (cache/stages/STAGE; see `list`); without any,
    /// the whole cache directory is deleted, task results (e.g. training points) included
    #[arg(value_name = "STAGE")]
    stages: Vec<String>,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

pub fn run(ctx: &Context, args: &CleanArgs) -> anyhow::Result<()> {
    let p = Pipeline::load(ctx, &args.pipeline, &ctx.compute(&Default::default()).0)?;
    let runner = p.runner(1, Force::None);
    runner.validate(&args.stages)?;
    let dir = &p.cache_dir;
    if args.stages.is_empty() {
        if !dir.exists() {
            p.progress.info(&format!("nothing to delete: {} does not exist", dir.display()));
            return Ok(());
        }
        // A directory that does not look like a cache is not deleted (e.g. `--cache-dir .`).
        let empty = std::fs::read_dir(dir).map(|mut r| r.next().is_none()).unwrap_or(false);
        if !empty && !looks_like_cache(dir, &p.names()) {
            return Err(usage(format!(
                "{} does not look like a cache directory (no stages/ or stage folder in it); not deleting it",
                dir.display()
            )));
        }
        let (files, bytes) = usage_of(dir);
        let n = runner.cache.clear(None)?;
        // What is left is the lock file (released by now): remove it and the directory.
        let _ = std::fs::remove_file(dir.join(edge_of_chaos::pipeline::cache::LOCK_FILE));
        let _ = std::fs::remove_dir(dir);
        p.progress.info(&format!(
            "deleted the cache directory {}: {n} cached artifact(s) ({} files, {})",
            dir.display(),
            files,
            human_bytes(bytes)
        ));
        return Ok(());
    }
    for s in &args.stages {
        let ns = format!("stages/{s}");
        let (files, bytes) = usage_of(&dir.join(&ns));
        let n = runner.cache.clear(Some(&ns))?;
        let kept = if dir.join(s).is_dir() {
            format!("; its task results in {} are kept (`clean` without a stage deletes them)", dir.join(s).display())
        } else {
            String::new()
        };
        p.progress.info(&format!(
            "stage {s}: deleted {n} cached artifact(s) ({files} files, {}) from {}{kept}",
            human_bytes(bytes),
            dir.join(&ns).display()
        ));
    }
    Ok(())
}

/// Files and bytes under `dir` (symbolic links are not followed; unreadable entries are skipped).
fn usage_of(dir: &Path) -> (u64, u64) {
    let (mut files, mut bytes) = (0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                files += 1;
                bytes += m.len();
            }
        }
    }
    (files, bytes)
}
