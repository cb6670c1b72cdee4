//! `edge-of-chaos report`: run what is missing, then render the report.

use super::{build_pool, usage, ComputeArgs, Context, Pipeline, PipelineArgs};
use anyhow::anyhow;
use edge_of_chaos::report::outdir::{check_target, OutDirError};
use edge_of_chaos::report::render::write_report_with;
use edge_of_chaos::report::render::ReportError;
use edge_of_chaos::report::RunInfo;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pipeline: PipelineArgs,
    #[command(flatten)]
    compute: ComputeArgs,
    /// Output directory of the report, replaced as a whole [default: report/PROFILE-NAME]
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn run(ctx: &Context, args: &ReportArgs) -> anyhow::Result<()> {
    let (force, jobs) = ctx.compute(&args.compute);
    let p = Pipeline::load(ctx, &args.pipeline, &force)?;
    let out = args.out.clone().or_else(|| ctx.early.out.clone()).unwrap_or_else(|| default_out(&p.profile.name));
    // Before any stage runs: a report that cannot be written should not cost the computation.
    writable(&out)?;
    build_pool(jobs);
    let records = p.runner(jobs, force).run(&p.names())?;
    let info = RunInfo::collect(&p.profile.name, &p.profile.description, jobs);
    let rendered = write_report_with(&records, &info, &out, &p.progress).map_err(|e| match e {
        ReportError::Write(OutDirError::Io { path, source }) => {
            cannot_write(&out, format!("{}: {source}", path.display()))
        }
        ReportError::Write(e @ OutDirError::NotAReport { .. }) => usage(e.to_string()),
        other => anyhow::Error::new(other).context(format!("rendering the report into {}", out.display())),
    })?;
    for w in &rendered.warnings {
        p.progress.warn(w);
    }
    p.progress.info(&format!(
        "report: {} and {} ({} figures, {} files)",
        out.join("index.html").display(),
        out.join("report.md").display(),
        rendered.figures.len(),
        rendered.files.len()
    ));
    Ok(())
}

/// `report/NAME` for the profile `NAME` (characters other than letters, digits, `-`, `_` and `.`
/// become `-`), so that the reports of different profiles (e.g. the committed `report/paper`)
/// never replace each other.
fn default_out(profile: &str) -> PathBuf {
    let name: String =
        profile.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '-' }).collect();
    let name = if name.trim_matches('.').is_empty() { "custom".to_string() } else { name };
    Path::new("report").join(name)
}

fn cannot_write(out: &Path, why: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("cannot write the report to {}: {why}", out.display())
}

/// Creates `out` if needed and checks that a file can be created in it: a path that is a file is
/// invalid input (exit 2), a directory that cannot be created or written a failure (exit 1).
fn writable(out: &Path) -> anyhow::Result<()> {
    if out.exists() && !out.is_dir() {
        return Err(usage(format!("--out {} is not a directory", out.display())));
    }
    check_target(out).map_err(|e| match e {
        e @ OutDirError::NotAReport { .. } => usage(e.to_string()),
        other => cannot_write(out, other),
    })?;
    std::fs::create_dir_all(out).map_err(|e| cannot_write(out, e))?;
    // The report is staged beside `out` and renamed into place, so the parent must take new
    // files. The probe carries the staging prefix (`.NAME.tmp-`): if this process is killed
    // before removing it, the next report removes it with the other leftovers.
    let abs = std::path::absolute(out).map_err(|e| cannot_write(out, e))?;
    let (Some(parent), Some(name)) = (abs.parent(), abs.file_name()) else {
        return Err(usage(format!("--out {} names no directory", out.display())));
    };
    let probe = parent.join(format!(".{}.tmp-probe-{}", name.to_string_lossy(), std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| cannot_write(out, e))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}
