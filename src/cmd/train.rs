//! `edge-of-chaos train`: one training run (`edge_of_chaos::nn::train::train`, the code of every
//! point of the training grids) from the command line.

use super::{activation, parse_act, parse_arch, parse_jobs, Context};
use anyhow::Context as _;
use edge_of_chaos::activation::{ActName, Activation};
use edge_of_chaos::architecture::Architecture;
use edge_of_chaos::error::UsageError;
use edge_of_chaos::nn::mnist::{resolve_dir, Mnist};
use edge_of_chaos::nn::train::{steps_per_epoch, train, TrainConfig, TrainEvent, TrainResult};
use std::io::Write;
use std::path::PathBuf;

/// `train --help`: what the defaults are.
pub const LONG_ABOUT: &str = "Train one residual network on MNIST with the code of the training grids.

The defaults are the reference configuration (torch_resnet.py): FRN, tanh, width 128, depth 20, \
sw2 1, sv2 0.1, sb2 0, sa2 0, plain SGD (momentum 0) at lr 0.05, batch 128, all 60000 training \
images, 1 epoch, seed 0, blowup factor 10. They are not the settings of any profile's training \
grid: the profiles set their own (e.g. the quick profile's grids use width 64 and batch 64).

Every run ends with an outcome: trained; overflow_at_init (the first batch's forward pass at init \
is not finite, no update applied); nonfinite (NaN/inf loss or parameters during training, with \
its step); blowup (a batch loss above the blowup factor times the run's own initial loss, with \
its step). A large initial loss alone is not a failure. The summary also gives the initial loss \
and ln p^L at init (p^L: mean squared activation of the last block's output on the first batch).

Per epoch it prints the running train loss and running train acc: running averages (means) over \
the epoch's batches, each batch scored before its update, and the test accuracy after the epoch. \
The summary's final train accuracy is an evaluation of the final network on all the training \
images used (final evaluation).";

/// Arguments of `edge-of-chaos train`. Defaults: see [`LONG_ABOUT`].
#[derive(clap::Args, Clone, Debug)]
pub struct TrainArgs {
    /// Architecture: full (FRN), reduced (RRN) or vanilla
    #[arg(long, default_value = "full", value_parser = parse_arch)]
    arch: Architecture,
    /// Activation: tanh, relu, alpha-relu (needs --alpha), erf or gelu
    #[arg(long, default_value = "tanh", value_parser = parse_act)]
    act: ActName,
    /// Exponent of alpha-relu, 0 < alpha <= 50 (only with --act alpha-relu)
    #[arg(long, allow_negative_numbers = true)]
    alpha: Option<f64>,
    /// Width N (at most 16384; the run must fit in 8 GB)
    #[arg(long, default_value_t = 128)]
    width: usize,
    /// Depth L, the number of residual blocks (at most 100000)
    #[arg(long, default_value_t = 20)]
    depth: usize,
    /// Weight variance sigma_w^2 (W ~ N(0, sw2/N))
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    sw2: f64,
    /// Weight variance sigma_v^2 (V ~ N(0, sv2/N), FRN only)
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    sv2: f64,
    /// Bias variance sigma_b^2
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    sb2: f64,
    /// Bias variance sigma_a^2 (FRN only)
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    sa2: f64,
    /// Learning rate of SGD
    #[arg(long, default_value_t = 0.05, allow_negative_numbers = true)]
    lr: f64,
    /// Momentum (0: plain SGD)
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    momentum: f64,
    /// Batch size
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Epochs
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Train on the first M training images [default: all 60000]
    #[arg(long, value_name = "M")]
    train_subset: Option<usize>,
    /// Seed of the initialization and the data order
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// A batch loss above this multiple of the run's initial loss ends it as a blowup (finite, > 1)
    #[arg(long, default_value_t = edge_of_chaos::nn::train::DEFAULT_BLOWUP_FACTOR, allow_negative_numbers = true)]
    blowup_factor: f64,
    /// Worker threads: batch shards run in parallel [default: all cores]
    #[arg(long, short = 'j', value_name = "N", value_parser = parse_jobs, alias = "threads")]
    jobs: Option<usize>,
    /// Write the result as JSON to this file
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// MNIST directory [default: $EOC_MNIST_DIR, else data/mnist]
    #[arg(long, value_name = "DIR")]
    mnist_dir: Option<PathBuf>,
}

impl TrainArgs {
    /// The run's configuration, or a usage error naming the bad value and its valid range.
    fn config(&self, early_jobs: Option<usize>) -> Result<TrainConfig, UsageError> {
        let act = activation(self.act, self.alpha)?;
        let cfg = TrainConfig {
            arch: self.arch,
            act: act.into(),
            alpha: match act {
                Activation::AlphaRelu { alpha } => Some(alpha),
                _ => None,
            },
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
            blowup_factor: self.blowup_factor,
            threads: self.jobs.or(early_jobs).unwrap_or_else(super::cores),
            ..TrainConfig::default()
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

fn fmt_opt(x: Option<f64>) -> String {
    x.map_or_else(|| "n/a".to_string(), |v| format!("{v:.4}"))
}

/// The result's summary lines.
fn print_result(r: &TrainResult, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{} {} N={} L={} sw2={} sv2={} sb2={} sa2={} lr={} batch={} epochs={} train images={} seed={}",
        r.arch, r.act, r.width, r.depth, r.sw2, r.sv2, r.sb2, r.sa2, r.lr, r.batch, r.epochs, r.train_subset, r.seed
    )?;
    match r.outcome_step {
        Some(step) => writeln!(
            out,
            "outcome: {} at step {step} ({})",
            r.outcome.as_str(),
            r.diverged_reason.as_deref().unwrap_or("?")
        )?,
        None => writeln!(out, "outcome: {}", r.outcome.as_str())?,
    }
    writeln!(
        out,
        "at init (first batch): initial loss {}  ln p^L {}",
        fmt_opt(r.initial_loss),
        fmt_opt(r.log_pl_init)
    )?;
    writeln!(
        out,
        "test accuracy {:.4}  final train accuracy {:.4} (evaluation of the final network: final evaluation on the {} training images)  last epoch's running train loss {}",
        r.test_acc,
        r.train_acc,
        r.train_subset,
        fmt_opt(r.final_loss)
    )?;
    writeln!(
        out,
        "{} samples in {:.2} s: {:.0} samples/s ({} threads); evaluation {:.2} s",
        r.samples, r.seconds, r.samples_per_sec, r.threads, r.eval_seconds
    )
}

/// Validates the arguments, loads MNIST, trains with a progress bar, prints the per-epoch log
/// and the result, and writes the JSON if asked.
pub fn run(ctx: &Context, args: &TrainArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let cfg = args.config(ctx.early.jobs)?;
    let data = Mnist::load(&resolve_dir(args.mnist_dir.as_deref()))?;
    let progress = ctx.progress();
    let steps = steps_per_epoch(cfg.train_subset.unwrap_or(data.train.len()), cfg.batch) * cfg.epochs;
    let bar = progress.bar(steps as u64, "train");
    progress.info("per epoch: running train loss and running train acc are running averages (means over the epoch's batches, each scored before its update); test acc is evaluated after the epoch");
    let result = train(&cfg, &data, &mut |ev| {
        match ev {
        TrainEvent::Step { loss, .. } => {
            bar.inc(1);
            bar.set_message(format!("loss {loss:.4}"));
        }
        TrainEvent::Epoch(row) => progress.info(&format!(
            "epoch {:>3}: running train loss {}  running train acc {:.4} (mean over the epoch's batches)  test acc {}  ({:.2} s)",
            row.epoch,
            fmt_opt(row.train_loss),
            row.train_acc,
            fmt_opt(row.test_acc),
            row.seconds
        )),
    }
    })?;
    bar.finish();
    print_result(&result, out)?;
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&result)?;
        std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))?;
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
        let cfg = parse(&["--jobs", "2"]).config(None).unwrap();
        assert_eq!(cfg, TrainConfig { threads: 2, ..TrainConfig::default() });
        assert_eq!((cfg.width, cfg.depth, cfg.batch), (128, 20, 128));
        // The hidden alias of --jobs.
        assert_eq!(parse(&["--threads", "3"]).config(None).unwrap().threads, 3);
        assert_eq!(parse(&[]).config(Some(5)).unwrap().threads, 5);
    }

    #[test]
    fn invalid_values_are_usage_errors_naming_the_value() {
        let cases: &[(&[&str], &str)] = &[
            (&["--act", "alpha-relu"], "--alpha"),
            (&["--act", "alpha-relu", "--alpha=-1"], "alpha = -1"),
            (&["--act", "relu", "--alpha", "1"], "only valid with --act alpha-relu"),
            (&["--width", "0"], "width = 0"),
            (&["--batch", "0"], "batch = 0"),
            (&["--sv2=-0.5"], "sv2 = -0.5"),
            (&["--lr", "nan"], "lr = NaN"),
            (&["--train-subset", "70000"], "train-subset = 70000"),
            (&["--epochs", "0"], "epochs = 0"),
            (&["--blowup-factor", "1"], "blowup-factor = 1"),
            (&["--blowup-factor=-2"], "blowup-factor = -2"),
            (&["--blowup-factor", "inf"], "blowup-factor = inf"),
            (&["--width", "16384", "--depth", "1000"], "width = 16384, depth = 1000"),
        ];
        for (argv, needle) in cases {
            let err = parse(argv).config(Some(1)).unwrap_err();
            assert!(err.0.contains(needle), "{argv:?}: {}", err.0);
            assert!(err.0.contains("valid"), "{argv:?}: {}", err.0);
        }
        for bad in [&["--arch", "dense"][..], &["--act", "sigmoid"], &["--jobs", "0"], &["--jobs", "100000"]] {
            assert!(Cli::try_parse_from(std::iter::once("train").chain(bad.iter().copied())).is_err(), "{bad:?}");
        }
    }
}
