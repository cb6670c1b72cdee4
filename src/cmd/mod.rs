//! The command line: the parser, one module per command (`report`, `run`, `list`, `clean`,
//! `cache`, `train`, `verify`, `meanfield`, `init`) that turns its options into library calls and prints
//! the result, and the one place that decides the exit status ([`exit_code`]).
//!
//! Options belong to the commands that use them: the pipeline commands take `--profile` and
//! `--cache-dir`, those that compute also `--force[=STAGE]` and `--jobs`, `report` takes `--out`;
//! `-q` and `-v` are global. For scripts written before, the pipeline options are still accepted
//! (hidden) before the command; a value after the command wins.
//!
//! Exit status: 0 success, 2 invalid input (a bad option, profile, stage or value; see
//! [`is_invalid_input`]), 1 any other failure.

mod cache;
mod clean;
mod init;
mod list;
mod meanfield;
mod report;
mod run;
mod train;
mod verify;

use clap::{Args, Parser, Subcommand};
use edge_of_chaos::activation::{ActName, Activation, ActivationError};
use edge_of_chaos::architecture::{Architecture, ArchitectureError};
use edge_of_chaos::error::UsageError;
use edge_of_chaos::meanfield::expectations::{MAX_ALPHA, MAX_ALPHA_VALID};
use edge_of_chaos::pipeline::{Cache, ConfigError, Force, Progress, RunError, Runner, Stage, Verbosity};
use edge_of_chaos::stages::{self, Profile, ProfileError};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "edge-of-chaos",
    version,
    about = "Reproduces 'Mean Field Residual Networks: On the Edge of Chaos' as a literate, reproducible report",
    long_about = None,
    after_help = "Exit status: 0 success, 1 failure, 2 invalid input. See `edge-of-chaos COMMAND --help` for the options of a command."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    /// The pipeline options given before the command (accepted for compatibility, not shown).
    #[command(flatten)]
    early: EarlyOptions,
    #[command(subcommand)]
    command: Command,
}

/// Options of every command.
#[derive(Args)]
struct Global {
    /// Print only warnings and errors.
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose", help_heading = "Global options")]
    quiet: bool,
    /// Print more detail.
    #[arg(long, short = 'v', global = true, help_heading = "Global options")]
    verbose: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run what is missing, then render the report (index.html, report.md, figures/, data/).
    Report(report::ReportArgs),
    /// Run the given stages (and what they need) without rendering.
    Run(run::RunArgs),
    /// List the stages, their cache keys and whether their current artifact is cached.
    List(list::ListArgs),
    /// Delete cached artifacts: of the given stages, or the whole cache directory.
    Clean(clean::CleanArgs),
    /// Cache maintenance.
    #[command(subcommand)]
    Cache(cache::CacheCommand),
    /// Train one residual network on MNIST (the training grid's code; defaults: see --help).
    #[command(long_about = train::LONG_ABOUT)]
    Train(train::TrainArgs),
    /// Re-train a random sample of the published training points and compare (exit 1 if one differs).
    #[command(long_about = verify::LONG_ABOUT)]
    Verify(verify::VerifyArgs),
    /// Mean-field theory calculator: iterate the recurrences of one network and print its layers.
    Meanfield(meanfield::MeanfieldArgs),
    /// Recommend a depth-aware initialization variance (and compare Xavier and He).
    Init(init::InitArgs),
}

/// Where the pipeline reads its settings and keeps its artifacts.
#[derive(Args, Clone, Debug, Default)]
struct PipelineArgs {
    /// Profile: quick, paper, or a path to a TOML file [default: quick]
    #[arg(long, value_name = "PROFILE")]
    profile: Option<String>,
    /// Cache directory [default: cache, or $EOC_CACHE_DIR]
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

/// How the pipeline computes.
#[derive(Args, Clone, Debug, Default)]
struct ComputeArgs {
    /// Recompute even if cached: `--force` every stage, `--force=STAGE` one stage (repeatable)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "*", value_name = "STAGE")]
    force: Vec<String>,
    /// Worker threads [default: all cores; at most max(256, 4 x cores)]
    #[arg(long, short = 'j', value_name = "N", value_parser = parse_jobs)]
    jobs: Option<usize>,
}

/// The pipeline options before the command (hidden; see the module documentation).
#[derive(Args, Clone, Debug, Default)]
struct EarlyOptions {
    #[arg(long, hide = true)]
    profile: Option<String>,
    #[arg(long, hide = true)]
    cache_dir: Option<PathBuf>,
    #[arg(long, hide = true, num_args = 0..=1, require_equals = true, default_missing_value = "*")]
    force: Vec<String>,
    #[arg(long, short = 'j', hide = true, value_name = "N", value_parser = parse_jobs)]
    jobs: Option<usize>,
    #[arg(long, hide = true)]
    out: Option<PathBuf>,
}

impl EarlyOptions {
    /// The options before a command that does not take them, by name.
    fn given(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.profile.is_some() {
            v.push("--profile");
        }
        if self.cache_dir.is_some() {
            v.push("--cache-dir");
        }
        if !self.force.is_empty() {
            v.push("--force");
        }
        if self.jobs.is_some() {
            v.push("--jobs");
        }
        if self.out.is_some() {
            v.push("--out");
        }
        v
    }
}

/// The most worker threads `--jobs` accepts: 4 per core, and at least 256.
pub fn max_jobs() -> usize {
    (4 * cores()).max(256)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `--jobs N`: 1 to [`max_jobs`] (a pool of thousands of threads takes many seconds to build).
fn parse_jobs(s: &str) -> Result<usize, String> {
    let max = max_jobs();
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("out of range (valid: an integer from 1 to {max})")),
    }
}

/// What a command needs from the shared options.
struct Context {
    verbosity: Verbosity,
    early: EarlyOptions,
}

impl Context {
    fn progress(&self) -> Progress {
        Progress::new(self.verbosity)
    }

    /// Refuses pipeline options given before a command that does not take them.
    fn refuse_early(&self, command: &str, allowed: &[&str]) -> anyhow::Result<()> {
        let wrong: Vec<&str> = self.early.given().into_iter().filter(|o| !allowed.contains(o)).collect();
        if wrong.is_empty() {
            return Ok(());
        }
        Err(UsageError::new(format!(
            "{} {} not an option of `{command}` (see `edge-of-chaos {command} --help`)",
            wrong.join(", "),
            if wrong.len() == 1 { "is" } else { "are" }
        ))
        .into())
    }

    /// The profile and cache directory: the command's options, else those before the command,
    /// else `$EOC_CACHE_DIR`, else the defaults.
    fn pipeline(&self, args: &PipelineArgs) -> (String, PathBuf) {
        let profile = args.profile.clone().or_else(|| self.early.profile.clone()).unwrap_or_else(|| "quick".into());
        let cache = args
            .cache_dir
            .clone()
            .or_else(|| self.early.cache_dir.clone())
            .or_else(|| std::env::var_os("EOC_CACHE_DIR").filter(|v| !v.is_empty()).map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("cache"));
        (profile, cache)
    }

    /// `--force` and `--jobs` of the command, else before the command; jobs default to the cores.
    fn compute(&self, args: &ComputeArgs) -> (Force, usize) {
        let force = if args.force.is_empty() { &self.early.force } else { &args.force };
        let force = if force.iter().any(|f| f == "*") {
            Force::All
        } else if force.is_empty() {
            Force::None
        } else {
            Force::Stages(force.clone())
        };
        (force, args.jobs.or(self.early.jobs).unwrap_or_else(cores))
    }
}

/// A loaded pipeline: its profile, stages and runner settings.
struct Pipeline {
    profile: Profile,
    stages: Vec<Box<dyn Stage>>,
    cache_dir: PathBuf,
    progress: Progress,
}

impl Pipeline {
    /// Loads and validates the profile and builds every stage (exit 2 on a bad value), and checks
    /// the stage names of `force`.
    fn load(ctx: &Context, args: &PipelineArgs, force: &Force) -> anyhow::Result<Self> {
        let (profile, cache_dir) = ctx.pipeline(args);
        let profile = Profile::load(&profile)?;
        let stages = stages::registry(&profile)?;
        let p = Self { profile, stages, cache_dir, progress: ctx.progress() };
        if let Force::Stages(names) = force {
            p.runner(1, Force::None).validate(names)?;
        }
        Ok(p)
    }

    fn runner(&self, jobs: usize, force: Force) -> Runner<'_> {
        Runner {
            stages: &self.stages,
            cache: Cache::new(&self.cache_dir),
            progress: self.progress.clone(),
            jobs,
            force,
            shard: None,
        }
    }

    /// The names of the stages.
    fn names(&self) -> Vec<String> {
        self.stages.iter().map(|s| s.name().to_string()).collect()
    }
}

/// Sizes the global rayon pool, for the commands that compute.
fn build_pool(jobs: usize) {
    // A library call may have built the pool already; the first size stays, which is harmless.
    let _ = rayon::ThreadPoolBuilder::new().num_threads(jobs).build_global();
}

/// Parses the command line, runs the command, prints an error once and returns the exit status.
pub fn main() -> ExitCode {
    let result = Cli::try_parse().map_err(anyhow::Error::from).and_then(dispatch);
    let code = match &result {
        Ok(()) => 0,
        Err(e) => {
            match e.downcast_ref::<clap::Error>() {
                // clap prints usage, help and version itself (help and version exit 0).
                Some(c) => {
                    let _ = c.print();
                }
                None => eprintln!("error: {}", message(e)),
            }
            exit_code(e)
        }
    };
    ExitCode::from(code)
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let verbosity = if cli.global.quiet {
        Verbosity::Quiet
    } else if cli.global.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let ctx = Context { verbosity, early: cli.early };
    let out = &mut std::io::stdout().lock();
    match cli.command {
        Command::Report(a) => report::run(&ctx, &a),
        Command::Run(a) => run::run(&ctx, &a),
        Command::List(a) => list::run(&ctx, &a, out),
        Command::Clean(a) => clean::run(&ctx, &a),
        Command::Cache(c) => cache::run(&ctx, &c),
        Command::Train(a) => {
            ctx.refuse_early("train", &["--jobs"])?;
            train::run(&ctx, &a, out)
        }
        Command::Verify(a) => {
            ctx.refuse_early("verify", &["--profile", "--jobs"])?;
            verify::run(&ctx, &a, out)
        }
        Command::Meanfield(a) => {
            ctx.refuse_early("meanfield", &[])?;
            meanfield::run(&a, out)
        }
        Command::Init(a) => {
            ctx.refuse_early("init", &["--jobs"])?;
            init::run(&ctx, &a, out)
        }
    }
}

/// The exit status of a failed command: the status clap chose for its own errors (0 for help
/// and version, 2 for bad options), 2 for invalid input, 1 otherwise.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if let Some(c) = e.downcast_ref::<clap::Error>() {
        return u8::try_from(c.exit_code()).unwrap_or(2);
    }
    if is_invalid_input(e) {
        2
    } else {
        1
    }
}

/// Whether the error (or one of its causes) is invalid input: a [`UsageError`], a profile that
/// does not exist, does not parse or holds an invalid value, an unknown stage, or a value out
/// of the domain of a mean-field computation, a training table `verify` cannot read.
pub fn is_invalid_input(e: &anyhow::Error) -> bool {
    use edge_of_chaos::meanfield::MeanFieldError;
    e.chain().any(|c| {
        c.is::<UsageError>()
            || c.is::<verify::VerifyError>()
            || c.is::<ProfileError>()
            || c.is::<ConfigError>()
            || matches!(c.downcast_ref::<RunError>(), Some(RunError::UnknownStage { .. }))
            || matches!(c.downcast_ref::<MeanFieldError>(), Some(MeanFieldError::BadParameter { .. }))
    })
}

/// The error and its causes, each printed once (most errors already quote their cause).
pub fn message(e: &anyhow::Error) -> String {
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

/// `--arch`: full (also frn), reduced (rrn) or vanilla.
fn parse_arch(s: &str) -> Result<Architecture, ArchitectureError> {
    Architecture::parse(s)
}

/// `--act`: tanh, relu, alpha-relu, erf or gelu.
fn parse_act(s: &str) -> Result<ActName, ActivationError> {
    [ActName::Tanh, ActName::Relu, ActName::AlphaRelu, ActName::Erf, ActName::Gelu]
        .into_iter()
        .find(|a| a.as_str() == s)
        .ok_or_else(|| ActivationError::Unknown(s.to_string()))
}

/// The one rule of `--act` and `--alpha` (train, meanfield, init): `--alpha` goes with
/// `--act alpha-relu` only, which needs it, in the range the mean-field engine handles.
fn activation(act: ActName, alpha: Option<f64>) -> Result<Activation, UsageError> {
    match (act, alpha) {
        (ActName::AlphaRelu, None) => {
            Err(UsageError::new(format!("--act alpha-relu needs --alpha A (valid: {MAX_ALPHA_VALID})")))
        }
        (ActName::AlphaRelu, Some(a)) if !(a > 0.0 && a <= MAX_ALPHA) => {
            Err(UsageError::new(format!("alpha = {} is out of range (valid: {MAX_ALPHA_VALID})", short_num(a))))
        }
        (ActName::AlphaRelu, a) => act.with_alpha(a).map_err(|e| UsageError::new(e.to_string())),
        (other, Some(_)) => Err(UsageError::new(format!(
            "--alpha is only valid with --act alpha-relu (got --act {other}; relu is alpha-relu with alpha = 1)"
        ))),
        (other, None) => other.with_alpha(None).map_err(|e| UsageError::new(e.to_string())),
    }
}

/// A number as written by people: `2000`, `0.75`, but `1e308` rather than 309 digits.
fn short_num(x: f64) -> String {
    let plain = x.to_string();
    if plain.len() > 12 {
        format!("{x:e}")
    } else {
        plain
    }
}

/// A number in `[lo, hi]` (finite), for value parsers.
fn real_in(s: &str, lo: f64, hi: f64) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x >= lo && x <= hi => Ok(x),
        _ => Err(format!("out of range (valid: a number from {lo} to {hi})")),
    }
}

/// An integer in `[lo, hi]`, for value parsers.
fn int_in(s: &str, lo: usize, hi: usize) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(x) if (lo..=hi).contains(&x) => Ok(x),
        _ => Err(format!("out of range (valid: an integer from {lo} to {hi})")),
    }
}

/// A usage error as an `anyhow` error.
fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError::new(msg).into()
}

/// A byte count for people: `812 B`, `3.4 kB`, `12.0 MB`, `1.3 GB`.
fn human_bytes(n: u64) -> String {
    let x = n as f64;
    match n {
        0..1_000 => format!("{n} B"),
        1_000..1_000_000 => format!("{:.1} kB", x / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", x / 1e6),
        _ => format!("{:.1} GB", x / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn parser_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn jobs_are_bounded() {
        assert_eq!(parse_jobs("3"), Ok(3));
        for bad in ["0", "-1", "x", "10000000"] {
            let e = parse_jobs(bad).unwrap_err();
            assert!(e.starts_with("out of range (valid: an integer from 1 to"), "{e}");
        }
    }

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(&usage("bad")), 2);
        assert_eq!(exit_code(&anyhow::anyhow!("disk full")), 1);
        let e = anyhow::Error::new(RunError::UnknownStage { name: "x".into(), valid: "y".into() }).context("running");
        assert_eq!(exit_code(&e), 2);
        let e = anyhow::Error::new(edge_of_chaos::meanfield::MeanFieldError::Overflow { layer: 3, what: "ln p" });
        assert_eq!(exit_code(&e), 1);
        let help = Cli::try_parse_from(["edge-of-chaos", "--help"]).err().unwrap();
        assert_eq!(exit_code(&help.into()), 0);
        let bad = Cli::try_parse_from(["edge-of-chaos", "list", "--jobs", "4"]).err().unwrap();
        assert_eq!(exit_code(&bad.into()), 2);
    }

    #[test]
    fn message_prints_each_cause_once() {
        let e = anyhow::Error::new(UsageError::new("x = 1 is out of range")).context("reading the options");
        assert_eq!(message(&e), "reading the options: x = 1 is out of range");
        let e = anyhow::anyhow!("a: inner").context("outer: a: inner");
        assert_eq!(message(&e), "outer: a: inner");
    }

    #[test]
    fn options_before_the_command_are_merged() {
        let cli =
            Cli::try_parse_from(["x", "--profile", "paper", "--jobs", "2", "--force=training", "run", "training"])
                .unwrap();
        let ctx = Context { verbosity: Verbosity::Normal, early: cli.early };
        let (profile, _) = ctx.pipeline(&PipelineArgs::default());
        assert_eq!(profile, "paper");
        assert_eq!(ctx.compute(&ComputeArgs::default()), (Force::Stages(vec!["training".into()]), 2));
        let after = PipelineArgs { profile: Some("quick".into()), cache_dir: Some("c".into()) };
        assert_eq!(ctx.pipeline(&after), ("quick".into(), PathBuf::from("c")));
        assert!(ctx.refuse_early("meanfield", &[]).is_err());
        assert!(ctx.refuse_early("train", &["--jobs", "--profile", "--force"]).is_ok());
    }

    /// One rule for --act and --alpha in train, meanfield and init.
    #[test]
    fn alpha_goes_with_alpha_relu_only() {
        assert_eq!(activation(ActName::AlphaRelu, Some(0.75)), Ok(Activation::AlphaRelu { alpha: 0.75 }));
        assert_eq!(activation(ActName::Relu, None), Ok(Activation::Relu));
        let cases: [(ActName, Option<f64>, &str); 7] = [
            (ActName::Relu, Some(1.0), "only valid with --act alpha-relu"),
            (ActName::Tanh, Some(0.5), "only valid with --act alpha-relu"),
            (ActName::AlphaRelu, None, "needs --alpha"),
            (ActName::AlphaRelu, Some(0.0), "alpha = 0 is out of range"),
            (ActName::AlphaRelu, Some(2000.0), "0 < alpha <= 50"),
            (ActName::AlphaRelu, Some(1e308), "alpha = 1e308 is out of range"),
            (ActName::AlphaRelu, Some(f64::NAN), "alpha = NaN"),
        ];
        for (act, alpha, needle) in cases {
            let e = activation(act, alpha).unwrap_err();
            assert!(e.0.contains(needle), "{act} {alpha:?}: {}", e.0);
        }
        assert!(parse_act("sigmoid").unwrap_err().to_string().contains("valid: tanh, relu"));
        assert_eq!(parse_act("alpha-relu"), Ok(ActName::AlphaRelu));
    }

    #[test]
    fn ranges() {
        assert_eq!(real_in("1e6", 0.0, 1e6), Ok(1e6));
        assert!(real_in("nan", 0.0, 1.0).is_err() && real_in("-1", 0.0, 1.0).is_err());
        assert!(int_in("-3", 1, 10).unwrap_err().contains("valid: an integer from 1 to 10"));
    }

    #[test]
    fn bytes_for_people() {
        assert_eq!(human_bytes(812), "812 B");
        assert_eq!(human_bytes(3_400), "3.4 kB");
        assert_eq!(human_bytes(2_100_000_000_000), "2100.0 GB");
    }
}
