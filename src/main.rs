//! Command line of edge-of-chaos: parse, dispatch, exit codes. All work lives in the library.
//!
//! Exit status: 0 success, 1 failure, 2 invalid input (bad profile, stage, value or file).

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use edge_of_chaos::error::UsageError;
use edge_of_chaos::pipeline::{Cache, Force, Progress, RunError, Runner, Verbosity};
use edge_of_chaos::report::{write_report, RunInfo};
use edge_of_chaos::stages::{self, Profile, ProfileError};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "edge-of-chaos", version, about = "Reproduces 'Mean Field Residual Networks: On the Edge of Chaos' as a literate, reproducible report", long_about = None)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// Profile: quick, paper, or a path to a TOML file.
    #[arg(long, global = true, default_value = "quick")]
    profile: String,
    /// Output directory of the report.
    #[arg(long, global = true, default_value = "report")]
    out: PathBuf,
    /// Cache directory.
    #[arg(long, global = true, env = "EOC_CACHE_DIR", default_value = "cache")]
    cache_dir: PathBuf,
    /// Recompute even if cached: `--force` recomputes every stage, `--force=STAGE` one stage (repeatable).
    #[arg(long, global = true, num_args = 0..=1, require_equals = true, default_missing_value = "*", value_name = "STAGE")]
    force: Vec<String>,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j', global = true)]
    jobs: Option<usize>,
    /// Print only warnings and errors.
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Print more detail.
    #[arg(long, short = 'v', global = true)]
    verbose: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run what is missing, then render the report (index.html, report.md, figures/, data/).
    Report,
    /// Run the given stages (and what they need) without rendering.
    Run {
        /// Stage names (see `list`).
        #[arg(required = true)]
        stages: Vec<String>,
        /// Compute only share K of N of a stage's sub-tasks (e.g. training grid points): K/N.
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
    },
    /// List the stages and whether their current artifact is cached.
    List,
    /// Remove cached artifacts of the given stages (all stages when none is given).
    Clean { stages: Vec<String> },
    /// Cache maintenance.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Train one residual network on MNIST (the same code and defaults as the training grid).
    Train(edge_of_chaos::nn::cli::TrainArgs),
    /// Mean-field theory calculator: iterate the recurrences of one network and print its layers.
    Meanfield(edge_of_chaos::meanfield::cli::MeanfieldArgs),
    /// Recommend a depth-aware initialization variance (and compare Xavier and He).
    Init(edge_of_chaos::meanfield::cli::InitArgs),
}

#[derive(Subcommand)]
enum CacheCommand {
    /// Copy every verified entry of other cache directories into this one (for sharded runs).
    Merge {
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
}

fn parse_shard(s: &str) -> Result<(usize, usize), UsageError> {
    let bad = || UsageError::new(format!("--shard '{s}' is invalid (valid: K/N with 1 <= K <= N, e.g. 2/8)"));
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            if is_usage(&e) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The error and its causes, each cause printed once (most errors already quote their cause).
fn message(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !msg.contains(&text) {
            if !msg.is_empty() {
                msg.push_str(": ");
            }
            msg.push_str(&text);
        }
    }
    msg
}

fn is_usage(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<UsageError>().is_some()
            || matches!(c.downcast_ref::<ProfileError>(), Some(ProfileError::Unknown { .. } | ProfileError::Parse { .. } | ProfileError::Io { .. } | ProfileError::Invalid { .. }))
            || matches!(c.downcast_ref::<RunError>(), Some(RunError::UnknownStage { .. }))
    })
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let g = &cli.global;
    let verbosity = if g.quiet {
        Verbosity::Quiet
    } else if g.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let jobs = match g.jobs {
        Some(0) => return Err(UsageError::new("--jobs 0 is invalid (valid: 1 or more)").into()),
        Some(n) => n,
        None => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    };
    // The pool may already exist if a library call initialised it; that is not an error here.
    let _ = rayon::ThreadPoolBuilder::new().num_threads(jobs).build_global();
    let progress = Progress::new(verbosity);

    // Commands that need no profile or pipeline.
    match &cli.command {
        Command::Train(args) => return edge_of_chaos::nn::cli::run_train(args, &mut std::io::stdout().lock()),
        Command::Meanfield(args) => return edge_of_chaos::meanfield::cli::run_meanfield(args, &mut std::io::stdout().lock()),
        Command::Init(args) => return edge_of_chaos::meanfield::cli::run_init(args, &mut std::io::stdout().lock()),
        _ => {}
    }

    let profile = Profile::load(&g.profile)?;
    let all = stages::registry(&profile)?;
    let force = if g.force.iter().any(|f| f == "*") {
        Force::All
    } else if g.force.is_empty() {
        Force::None
    } else {
        Force::Stages(g.force.clone())
    };
    let mut runner = Runner {
        stages: &all,
        cache: Cache::new(&g.cache_dir),
        progress: progress.clone(),
        jobs,
        force,
        shard: None,
    };
    if let Force::Stages(s) = &runner.force {
        runner.validate(s)?;
    }

    match cli.command {
        Command::Report => {
            let names: Vec<String> = all.iter().map(|s| s.name().to_string()).collect();
            let records = runner.run(&names)?;
            let info = RunInfo::collect(&profile.name, &profile.description, jobs);
            let rendered = write_report(&records, &info, &g.out)
                .with_context(|| format!("writing the report to {}", g.out.display()))?;
            for w in &rendered.warnings {
                progress.warn(w);
            }
            progress.info(&format!(
                "report: {} and {} ({} figures, {} files)",
                g.out.join("index.html").display(),
                g.out.join("report.md").display(),
                rendered.figures.len(),
                rendered.files.len()
            ));
        }
        Command::Run { stages: names, shard } => {
            runner.validate(&names)?;
            runner.shard = shard.as_deref().map(parse_shard).transpose()?;
            runner.run(&names)?;
        }
        Command::List => {
            let keys = runner.keys()?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{:<12} {:<8} {:<16} needs", "stage", "state", "key")?;
            for s in all.iter() {
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
        }
        Command::Clean { stages: names } => {
            runner.validate(&names)?;
            let n = if names.is_empty() {
                runner.cache.clear(None)?
            } else {
                names.iter().map(|s| runner.cache.clear(Some(&format!("stages/{s}")))).sum::<Result<usize, _>>()?
            };
            progress.info(&format!("removed {n} cached artifact(s) from {}", g.cache_dir.display()));
        }
        Command::Train(_) | Command::Meanfield(_) | Command::Init(_) => unreachable!("handled above"),
        Command::Cache(CacheCommand::Merge { dirs }) => {
            for d in dirs {
                if !d.is_dir() {
                    return Err(UsageError::new(format!("cache directory {} does not exist", d.display())).into());
                }
                let (copied, present, bad) = runner.cache.merge_from(&d)?;
                for b in &bad {
                    progress.warn(&format!("skipped corrupt entry {}", b.display()));
                }
                progress.info(&format!(
                    "merged {}: {copied} copied, {present} already present, {} corrupt",
                    d.display(),
                    bad.len()
                ));
            }
        }
    }
    Ok(())
}
