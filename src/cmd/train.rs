//! The `train` command: one training run from the command line (the lead wires it into main.rs).

use super::mnist::{resolve_dir, Mnist};
use super::train::{train, TrainConfig, TrainEvent, TrainResult};
use crate::architecture::Architecture;
use crate::error::UsageError;
use crate::pipeline::{Progress, Verbosity};
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `edge-of-chaos train`. Defaults are the reference configuration of
/// `torch_resnet.py` (FRN, tanh, N = 128, L = 20, sw2 = 1, sv2 = 0.1, batch 128, lr 0.05).
#[derive(clap::Args, Clone, Debug, PartialEq)]
pub struct TrainArgs {
    /// Architecture: full (FRN), reduced (RRN) or vanilla.
    #[arg(long, default_value = "full")]
    pub arch: String,
    /// Activation: tanh, relu, alpha-relu (needs --alpha), erf or gelu.
    #[arg(long, default_value = "tanh")]
    pub act: String,
    /// Exponent of alpha-relu, > 0.
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Width N.
    #[arg(long, default_value_t = 128)]
    pub width: usize,
    /// Depth L (number of residual blocks).
    #[arg(long, default_value_t = 20)]
    pub depth: usize,
    /// Weight variance sigma_w^2 (W ~ N(0, sw2/N)).
    #[arg(long, default_value_t = 1.0)]
    pub sw2: f64,
    /// Weight variance sigma_v^2 (V ~ N(0, sv2/N), FRN only).
    #[arg(long, default_value_t = 0.1)]
    pub sv2: f64,
    /// Bias variance sigma_b^2.
    #[arg(long, default_value_t = 0.0)]
    pub sb2: f64,
    /// Bias variance sigma_a^2 (FRN only).
    #[arg(long, default_value_t = 0.0)]
    pub sa2: f64,
    /// Learning rate of plain SGD.
    #[arg(long, default_value_t = 0.05)]
    pub lr: f64,
    /// Momentum (0: plain SGD).
    #[arg(long, default_value_t = 0.0)]
    pub momentum: f64,
    /// Batch size.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Epochs.
    #[arg(long, default_value_t = 1)]
    pub epochs: usize,
    /// Train on the first M training images (default: all 60000).
    #[arg(long)]
    pub train_subset: Option<usize>,
    /// Seed of the initialization and the data order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Threads (batch shards run in parallel); default: the available cores.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Write the result as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// MNIST directory (default: $EOC_MNIST_DIR, else data/mnist).
    #[arg(long)]
    pub mnist_dir: Option<PathBuf>,
}

impl TrainArgs {
    /// The run's configuration, or a usage error naming the bad value and its valid range.
    pub fn config(&self) -> Result<TrainConfig, UsageError> {
        let arch = Architecture::parse(&self.arch).map_err(|e| UsageError::new(format!("--arch: {e}")))?;
        let threads = self
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let cfg = TrainConfig {
            arch,
            act: self.act.clone(),
            alpha: self.alpha,
            width: self.width,
            depth: self.depth,
            sw2: self.sw2,
            sv2: self.sv2,
            sb2: self.sb2,
            sa2: self.sa2,
            lr: self.lr,
            momentum: self.momentum,
            batch: self.batch,
            epochs: self.epochs,
            train_subset: self.train_subset,
            test_subset: None,
            seed: self.seed,
            threads,
            ..TrainConfig::default()
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

fn fmt_opt(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "n/a".to_string(), |v| format!("{v:.digits$}"))
}

/// Prints the result's summary lines.
pub fn print_result(r: &TrainResult, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{} {} N={} L={} sw2={} sv2={} sb2={} sa2={} lr={} batch={} epochs={} train images={} seed={}",
        r.arch,
        r.act,
        r.width,
        r.depth,
        r.sw2,
        r.sv2,
        r.sb2,
        r.sa2,
        r.lr,
        r.batch,
        r.epochs,
        r.train_subset,
        r.seed
    )?;
    if r.diverged {
        writeln!(
            out,
            "diverged at step {} ({})",
            r.diverged_step.map_or_else(|| "?".into(), |s| s.to_string()),
            r.diverged_reason.as_deref().unwrap_or("?")
        )?;
    }
    writeln!(
        out,
        "test accuracy {:.4}  train accuracy {:.4}  final train loss {}",
        r.test_acc,
        r.train_acc,
        fmt_opt(r.final_loss, 4)
    )?;
    writeln!(
        out,
        "{} samples in {:.2} s: {:.0} samples/s ({} threads); evaluation {:.2} s",
        r.samples, r.seconds, r.samples_per_sec, r.threads, r.eval_seconds
    )
}

/// The `train` command: validates the arguments, loads MNIST, trains with a progress bar, prints
/// the per-epoch log and the result, and writes the JSON if asked.
pub fn run_train(args: &TrainArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let cfg = args.config()?;
    let dir = resolve_dir(args.mnist_dir.as_deref());
    let data = Mnist::load(&dir)?;
    let progress = Progress::new(Verbosity::Normal);
    let steps = super::train::steps_per_epoch(cfg.train_subset.unwrap_or(data.train.len()), cfg.batch) * cfg.epochs;
    let bar = progress.bar(steps as u64, "train");
    let mut lines: Vec<String> = Vec::new();
    let result = train(&cfg, &data, &mut |ev| match ev {
        TrainEvent::Step { loss, .. } => {
            bar.inc(1);
            bar.set_message(format!("loss {loss:.4}"));
        }
        TrainEvent::Epoch(row) => {
            let line = format!(
                "epoch {:>3}: train loss {}  train acc {:.4}  test acc {}  ({:.2} s)",
                row.epoch,
                fmt_opt(row.train_loss, 4),
                row.train_acc,
                fmt_opt(row.test_acc, 4),
                row.seconds
            );
            progress.info(&line);
            lines.push(line);
        }
    })?;
    bar.finish();
    print_result(&result, out)?;
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&result)?;
        std::fs::write(path, text + "\n").map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        writeln!(out, "wrote {}", path.display())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: TrainArgs,
    }

    fn parse(argv: &[&str]) -> TrainArgs {
        Cli::try_parse_from(std::iter::once("train").chain(argv.iter().copied())).unwrap().args
    }

    #[test]
    fn defaults_are_the_reference_configuration() {
        let cfg = parse(&["--threads", "2"]).config().unwrap();
        let reference = TrainConfig { threads: 2, ..TrainConfig::default() };
        assert_eq!(cfg, reference);
        assert_eq!((cfg.width, cfg.depth, cfg.batch), (128, 20, 128));
    }

    #[test]
    fn invalid_values_are_usage_errors_naming_the_value() {
        let cases: &[(&[&str], &str)] = &[
            (&["--arch", "dense"], "dense"),
            (&["--act", "sigmoid"], "sigmoid"),
            (&["--act", "alpha-relu"], "--alpha"),
            (&["--act", "alpha-relu", "--alpha=-1"], "alpha = -1"),
            (&["--width", "0"], "width = 0"),
            (&["--batch", "0"], "batch = 0"),
            (&["--sv2=-0.5"], "sv2 = -0.5"),
            (&["--lr", "nan"], "lr = NaN"),
            (&["--train-subset", "70000"], "train-subset = 70000"),
            (&["--epochs", "0"], "epochs = 0"),
            (&["--threads", "0"], "threads = 0"),
        ];
        for (argv, needle) in cases {
            let err = parse(argv).config().unwrap_err();
            assert!(err.0.contains(needle), "{argv:?}: {}", err.0);
            assert!(err.0.contains("valid"), "{argv:?}: {}", err.0);
        }
    }

    #[test]
    fn run_train_prints_the_result_and_writes_json() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("r.json");
        let args = parse(&[
            "--width", "16", "--depth", "2", "--train-subset", "300", "--batch", "50", "--threads", "1",
            "--json", json.to_str().unwrap(),
        ]);
        let mut out = Vec::new();
        run_train(&args, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("samples/s"), "{text}");
        assert!(text.contains("test accuracy"), "{text}");
        let r: TrainResult = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!((r.width, r.depth, r.train_subset, r.steps), (16, 2, 300, 6));
        assert!(r.test_acc > 0.2, "{}", r.test_acc);
    }

    #[test]
    fn missing_mnist_dir_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let args = parse(&["--mnist-dir", dir.path().to_str().unwrap(), "--threads", "1"]);
        let mut out = Vec::new();
        let err = run_train(&args, &mut out).unwrap_err();
        assert!(err.to_string().contains("idx"), "{err}");
        assert!(err.downcast_ref::<UsageError>().is_none());
    }
}
