//! One training run on MNIST: the library behind the `train` command and each point of the
//! training chapter's grid.
//!
//! Network: standardized pixels, trained embedding 784 -> N, L residual blocks, trained readout
//! N -> 10 (all parameters trained), initialized by [`super::init`]. Data: the first `train_subset`
//! training images, reshuffled every epoch (Fisher-Yates driven by `ChaCha8Rng` seeded with `seed`
//! on stream 1, while the weights use stream 0), cut into batches of `batch` with the last partial
//! batch kept. Optimizer: plain SGD at constant learning rate (momentum optional, off by default) on
//! the mean softmax cross-entropy of the batch, in `f32`. Evaluation: the full 10,000-image test
//! set, and the training subset at the end.
//!
//! Outcome ([`Outcome`], the failure taxonomy): every batch is judged after its forward pass and
//! before its update, and a failed run is a result (with the 0-based global step where it
//! stopped), not an error:
//! - `overflow_at_init`: the first batch's forward pass at init is not finite (its loss or the
//!   last block's output $x^L$ holds NaN/inf); no update is applied (step 0);
//! - `nonfinite`: a later batch loss is NaN/inf (parameters that became non-finite show up in the
//!   next loss; they are also checked at the end of every epoch, recorded at its last step);
//! - `blowup`: a finite batch loss $\ell_s > \beta\,\ell_0$, with $\ell_0$ the initial loss and
//!   $\beta$ = `blowup_factor` (a large $\ell_0$ alone is never a failure);
//! - `trained` otherwise.
//!
//! At init the run also records, on the first batch, the initial loss $\ell_0$ and
//! $\ln p^L$ with $p^L = \frac{1}{B}\sum_b \|x^L_b\|^2 / N$, the mean squared activation of the
//! last residual block's output (the readout's input).
//!
//! Parallelism: one whole-batch tape; the forward pass, the loss and the backward data path run
//! in column ranges (samples) on up to `threads` threads, then every weight gradient is one
//! product over the whole batch (inner dimension = batch), the tensors spread over the threads.
//! Every column of a product is computed the same way in any range and every tensor's update by
//! one product, so a run's result does not depend on the number of threads (nor on
//! `matmul_threads`, faer's parallelism inside each product). [`train`] runs on a private rayon
//! pool of `threads`; [`train_with`] with [`Threads::Shared`] runs on the current pool with a
//! thread budget decided before every step (the training grid: one thread per point while points
//! wait, more for the last ones).

use super::init::init;
use super::loss::BatchLoss;
use super::mnist::Mnist;
use super::model::{ModelSpec, Params};
use super::sgd::{grads_from_tape, sgd_step_judged, Sgd};
use super::tape::{backward_data_par, forward_loss, ranges, Tape, TapeMode};
use crate::activation::{ActName, Activation};
use crate::architecture::Architecture;
use crate::error::UsageError;
use faer::Par;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Largest memory a run may need ([`TrainConfig::memory_bytes`]): 8 GB, far above the paper's
/// grids (width 128, depth 200, batch 128: about 0.1 GB) and below what a laptop has.
pub const MAX_TRAIN_BYTES: f64 = 8e9;

/// Default [`TrainConfig::blowup_factor`]: a loss 10 times its own initial value.
pub const DEFAULT_BLOWUP_FACTOR: f64 = 10.0;

/// Largest [`TrainConfig::blowup_factor`] accepted.
pub const MAX_BLOWUP_FACTOR: f64 = 1e12;

/// One training run's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// `full` (FRN), `reduced` (RRN) or `vanilla`.
    pub arch: Architecture,
    /// `tanh`, `relu`, `alpha-relu`, `erf` or `gelu`.
    pub act: ActName,
    /// Exponent of `alpha-relu` (ignored otherwise).
    pub alpha: Option<f64>,
    pub width: usize,
    pub depth: usize,
    pub sw2: f64,
    pub sv2: f64,
    pub sb2: f64,
    pub sa2: f64,
    /// Learning rate $\eta$.
    pub lr: f64,
    /// Heavy-ball momentum $\mu$ (0: plain SGD).
    pub momentum: f64,
    pub batch: usize,
    pub epochs: usize,
    /// Train on the first `train_subset` training images (`None`: all 60000).
    pub train_subset: Option<usize>,
    /// Evaluate on the first `test_subset` test images (`None`: all 10000, the default).
    pub test_subset: Option<usize>,
    pub seed: u64,
    /// Threads of the run's private pool (1: sequential, no pool); the result does not depend on
    /// it. Grid points say 1 and share the stage's pool instead ([`Threads::Shared`]).
    pub threads: usize,
    /// faer threads per matrix product (1: `Par::Seq`).
    pub matmul_threads: usize,
    /// Blowup factor $\beta$: a step whose finite batch loss exceeds $\beta\,\ell_0$ ($\ell_0$ the
    /// mean cross-entropy of the first batch at init) ends the run as [`Outcome::Blowup`] before
    /// its update. Finite and $> 1$; default 10.
    pub blowup_factor: f64,
    /// Evaluate the test set after every epoch (otherwise only at the end).
    pub eval_every_epoch: bool,
}

impl Default for TrainConfig {
    /// The reference configuration of `torch_resnet.py`.
    fn default() -> Self {
        Self {
            arch: Architecture::Full,
            act: ActName::Tanh,
            alpha: None,
            width: 128,
            depth: 20,
            sw2: 1.0,
            sv2: 0.1,
            sb2: 0.0,
            sa2: 0.0,
            lr: 0.05,
            momentum: 0.0,
            batch: 128,
            epochs: 1,
            train_subset: None,
            test_subset: None,
            seed: 0,
            threads: 1,
            matmul_threads: 1,
            blowup_factor: DEFAULT_BLOWUP_FACTOR,
            eval_every_epoch: true,
        }
    }
}

impl TrainConfig {
    /// The activation, or a usage error naming the bad value.
    pub fn activation(&self) -> Result<Activation, UsageError> {
        self.act.with_alpha(self.alpha).map_err(|e| match e {
            crate::activation::ActivationError::MissingAlpha => {
                UsageError::new("--act alpha-relu needs --alpha A (valid: A > 0, finite)".to_string())
            }
            e => UsageError::new(format!("--act {}: {e}", self.act)),
        })
    }

    /// Checks every value; the error names the value and its valid range.
    pub fn validate(&self) -> Result<(), UsageError> {
        use crate::error::check_range;
        self.activation()?;
        let int = |name: &str, v: usize, lo: usize, hi: usize| {
            if v < lo || v > hi {
                Err(UsageError::new(format!("{name} = {v} is out of range (valid: {lo} <= {name} <= {hi})")))
            } else {
                Ok(())
            }
        };
        int("width", self.width, 1, 1 << 14)?;
        int("depth", self.depth, 0, 100_000)?;
        int("batch", self.batch, 1, 60_000)?;
        int("epochs", self.epochs, 1, 100_000)?;
        int("threads", self.threads, 1, 1024)?;
        int("matmul-threads", self.matmul_threads, 1, 1024)?;
        if let Some(m) = self.train_subset {
            int("train-subset", m, 1, 60_000)?;
        }
        if let Some(m) = self.test_subset {
            int("test-subset", m, 1, 10_000)?;
        }
        for (name, v) in [("sw2", self.sw2), ("sv2", self.sv2), ("sb2", self.sb2), ("sa2", self.sa2)] {
            check_range(name, v, 0.0, 1e6)?;
        }
        check_range("lr", self.lr, 0.0, 1e6)?;
        check_range("momentum", self.momentum, 0.0, 0.999_999)?;
        let need = self.memory_bytes();
        if need > MAX_TRAIN_BYTES {
            return Err(UsageError::new(format!(
                "width = {}, depth = {}, batch = {} need about {} of memory for the parameters, gradients and activations of a batch, more than the limit of {} (valid: a smaller width, depth or batch)",
                self.width,
                self.depth,
                self.batch,
                gigabytes(need),
                gigabytes(MAX_TRAIN_BYTES)
            )));
        }
        let b = self.blowup_factor;
        if !(b.is_finite() && b > 1.0 && b <= MAX_BLOWUP_FACTOR) {
            return Err(UsageError::new(format!(
                "blowup-factor = {b} is out of range (valid: 1 < blowup-factor <= {MAX_BLOWUP_FACTOR:e}, finite)"
            )));
        }
        Ok(())
    }

    /// Estimated bytes a run allocates, all in `f32`: the parameters $P$ (embedding $785N$,
    /// readout $10N + 10$, and $N^2 + N$ per block, twice that for an FRN), a gradient copy per
    /// batch shard and the velocity when momentum is on, and the activations of a batch kept for
    /// the backward pass, $b\,N\,(L(3 + 2 [\text{FRN}]) + 3)$ values for batch size $b$ (with
    /// momentum $b\,N\,(L(2 + [\text{FRN}]) + 4)$), plus the evaluation buffers.
    pub fn memory_bytes(&self) -> f64 {
        let (n, l, b, t) = (self.width as f64, self.depth as f64, self.batch as f64, self.threads as f64);
        let frn = if self.arch == Architecture::Full { 1.0 } else { 0.0 };
        let params = 785.0 * n + 10.0 * n + 10.0 + l * (1.0 + frn) * (n * n + n);
        let copies = if self.momentum > 0.0 { 2.0 + t } else { 1.0 };
        let activations =
            if self.momentum > 0.0 { b * n * (l * (2.0 + frn) + 4.0) } else { b * n * (l * (3.0 + 2.0 * frn) + 3.0) };
        let eval = t * 256.0 * n * (3.0 + frn);
        4.0 * (copies * params + activations + 784.0 * b + eval)
    }

    /// The model this configuration trains.
    pub fn spec(&self) -> Result<ModelSpec, UsageError> {
        let act = self.activation()?;
        Ok(ModelSpec::mnist(self.arch, act, self.width, self.depth, self.sw2, self.sv2, self.sb2, self.sa2))
    }

    fn matmul_par(&self) -> Par {
        if self.matmul_threads > 1 {
            Par::rayon(self.matmul_threads)
        } else {
            Par::Seq
        }
    }
}

/// `8.0 GB`, `2.2 TB`.
fn gigabytes(bytes: f64) -> String {
    if bytes >= 1e12 {
        format!("{:.1} TB", bytes / 1e12)
    } else {
        format!("{:.1} GB", bytes / 1e9)
    }
}

/// One epoch of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRow {
    /// 1-based.
    pub epoch: usize,
    /// Mean batch loss over the epoch, weighted by batch size (`None` if not finite).
    pub train_loss: Option<f64>,
    /// Accuracy on the batches as they were trained (running, before each update).
    pub train_acc: f64,
    /// Test accuracy after the epoch (if evaluated).
    pub test_acc: Option<f64>,
    /// Test loss after the epoch (if evaluated and finite).
    pub test_loss: Option<f64>,
    /// Wall time of the epoch's training loop, s.
    pub seconds: f64,
    pub steps: usize,
}

/// How a run ended (the failure taxonomy of the training chapter).
///
/// A large initial loss alone is not a failure: a run fails only by a non-finite forward pass
/// before any update, by NaN/inf during training, or by a loss far above its own initial loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Trained to the end with finite losses and parameters.
    Trained,
    /// The forward pass of the initial network is not finite (float overflow before any update).
    OverflowAtInit,
    /// A loss or parameter became NaN/inf during training.
    Nonfinite,
    /// The batch loss exceeded a configured multiple of the run's own initial loss.
    Blowup,
}

impl Outcome {
    /// Every outcome, in display order.
    pub const ALL: [Outcome; 4] = [Outcome::Trained, Outcome::OverflowAtInit, Outcome::Nonfinite, Outcome::Blowup];

    /// The data value (`trained`, `overflow_at_init`, `nonfinite`, `blowup`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Trained => "trained",
            Outcome::OverflowAtInit => "overflow_at_init",
            Outcome::Nonfinite => "nonfinite",
            Outcome::Blowup => "blowup",
        }
    }

    /// Whether the run failed (any outcome but `trained`).
    pub fn failed(self) -> bool {
        self != Outcome::Trained
    }
}

/// What a run produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainResult {
    pub arch: Architecture,
    pub act: ActName,
    pub alpha: Option<f64>,
    pub width: usize,
    pub depth: usize,
    pub sw2: f64,
    pub sv2: f64,
    pub sb2: f64,
    pub sa2: f64,
    pub lr: f64,
    pub momentum: f64,
    pub batch: usize,
    pub epochs: usize,
    /// Number of training images used.
    pub train_subset: usize,
    pub seed: u64,
    pub threads: usize,
    /// Accuracy on the test set (the first `test_subset` images if set) at the end.
    pub test_acc: f64,
    /// Mean test loss at the end (`None` if not finite).
    pub test_loss: Option<f64>,
    /// Accuracy on the training subset at the end.
    pub train_acc: f64,
    /// Mean batch loss over the last epoch (`None` if not finite).
    pub final_loss: Option<f64>,
    /// How the run ended.
    pub outcome: Outcome,
    /// 0-based global step where a failed run stopped (`None` when trained).
    pub outcome_step: Option<usize>,
    /// Initial loss $\ell_0$: mean cross-entropy of the first batch before any update (`None` if
    /// not finite).
    pub initial_loss: Option<f64>,
    /// $\ln p^L$ at init, $p^L = \frac{1}{B}\sum_b \|x^L_b\|^2 / N$ over the first training batch
    /// ($x^L$ the last residual block's output, the readout's input); `None` if not finite.
    pub log_pl_init: Option<f64>,
    /// `outcome.failed()`.
    pub diverged: bool,
    /// = `outcome_step`.
    pub diverged_step: Option<usize>,
    /// Why it failed, in words: `"non-finite forward pass at init"`, `"non-finite loss"`,
    /// `"non-finite parameters"`, `"loss 31.2000 above 10 × initial loss 2.3026"`.
    pub diverged_reason: Option<String>,
    /// Steps taken (updates applied).
    pub steps: usize,
    /// Samples trained on.
    pub samples: usize,
    /// Wall time of the training loops (shuffle, gather, forward, backward, update), s.
    pub seconds: f64,
    /// `samples / seconds`.
    pub samples_per_sec: f64,
    /// `batch / (median step time)`: less sensitive to other processes than `samples_per_sec`.
    pub median_step_samples_per_sec: f64,
    /// Wall time of the evaluations, s.
    pub eval_seconds: f64,
    pub epochs_log: Vec<EpochRow>,
}

/// Progress of a run, for a callback.
#[derive(Clone, Copy, Debug)]
pub enum TrainEvent<'a> {
    /// After each step: 0-based global step, total steps planned, batch loss.
    Step { step: usize, total: usize, loss: f64 },
    /// After each epoch.
    Epoch(&'a EpochRow),
}

/// How a run uses threads.
#[derive(Clone, Copy)]
pub enum Threads<'a> {
    /// A private rayon pool of `threads` threads (none for 1).
    Own,
    /// The current rayon pool; before every step and every evaluation chunk the function says
    /// how many threads the run may use now.
    Shared(&'a (dyn Fn() -> usize + Sync)),
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Mean of the squares, $\frac{1}{n}\sum_i x_i^2$, summed in `f64` (for $x^L$ of a batch of $B$
/// samples of width $N$, $n = BN$, this is $p^L = \frac{1}{B}\sum_b \|x^L_b\|^2/N$); NaN/inf if an
/// element is.
fn mean_square(x: &[f32]) -> f64 {
    x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len().max(1) as f64
}

/// The verdict on a batch after its forward pass, before its update (`None`: take the step).
/// `pl` is $p^L$ of the first batch (`Some` only at the first step): a non-finite loss or $p^L$
/// there is an overflow at init. Later, with the initial loss $\ell_0$ = `initial`: a
/// non-finite loss is `nonfinite`, a loss above $\beta\,\ell_0$ a blowup.
fn verdict(loss: f64, pl: Option<f64>, initial: Option<f64>, blowup_factor: f64) -> Option<(Outcome, String)> {
    match (pl, initial) {
        (Some(p), _) if !(loss.is_finite() && p.is_finite()) => {
            Some((Outcome::OverflowAtInit, "non-finite forward pass at init".into()))
        }
        (Some(_), _) => None,
        _ if !loss.is_finite() => Some((Outcome::Nonfinite, "non-finite loss".into())),
        (None, Some(l0)) if loss > blowup_factor * l0 => {
            Some((Outcome::Blowup, format!("loss {loss:.4} above {blowup_factor} × initial loss {l0:.4}")))
        }
        _ => None,
    }
}

/// The run's threads: where passes run and how many column ranges a batch is cut into.
struct Team<'a> {
    pool: Option<rayon::ThreadPool>,
    threads: usize,
    shared: Option<&'a (dyn Fn() -> usize + Sync)>,
}

impl Team<'_> {
    /// Threads available for the next pass.
    fn now(&self) -> usize {
        self.shared.map_or(self.threads, |f| f().max(1))
    }

    fn run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }
}

/// Loss and accuracy of `params` on the images `0..n` of `split`, in chunks of the tape's
/// capacity (each cut into column ranges over the team's threads); chunk results are summed in
/// order, so the result does not depend on the threads.
fn evaluate(
    params: &Params<f32>,
    data: &Mnist,
    split: &super::mnist::Split,
    n: usize,
    tape: &mut Tape<f32>,
    team: &Team,
) -> BatchLoss {
    let chunk = tape.capacity();
    let mut acc = BatchLoss::default();
    for lo in (0..n).step_by(chunk) {
        let hi = (lo + chunk).min(n);
        let threads = team.now();
        let r = team
            .run(|| {
                forward_loss(params, tape, hi - lo, &split.labels[lo..hi], None, threads, &|c0, c1, input| {
                    data.gather_range(split, lo + c0, lo + c1, input)
                })
            })
            .expect("tape matches the model, labels are 0..9");
        acc.loss_sum += r.loss_sum;
        acc.correct += r.correct;
        acc.count += r.count;
    }
    acc
}

/// Trains one network (see the module documentation) on its own pool of `cfg.threads` threads.
/// `progress` sees every step and epoch.
pub fn train(cfg: &TrainConfig, data: &Mnist, progress: &mut dyn FnMut(TrainEvent)) -> Result<TrainResult, UsageError> {
    train_with(cfg, data, Threads::Own, progress)
}

/// [`train`] with the threads given by `threads` (the result is the same).
pub fn train_with(
    cfg: &TrainConfig,
    data: &Mnist,
    threads: Threads,
    progress: &mut dyn FnMut(TrainEvent),
) -> Result<TrainResult, UsageError> {
    cfg.validate()?;
    let spec = cfg.spec()?;
    let mut params = init::<f32>(&spec, cfg.seed).map_err(|e| UsageError::new(e.to_string()))?;
    let m = cfg.train_subset.unwrap_or(data.train.len()).min(data.train.len());
    let n_test = cfg.test_subset.unwrap_or(data.test.len()).min(data.test.len());
    let par = cfg.matmul_par();
    let team = match threads {
        Threads::Own if cfg.threads > 1 => Team {
            pool: Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(cfg.threads)
                    .build()
                    .map_err(|e| UsageError::new(format!("cannot start {} threads: {e}", cfg.threads)))?,
            ),
            threads: cfg.threads,
            shared: None,
        },
        Threads::Own => Team { pool: None, threads: 1, shared: None },
        Threads::Shared(f) => Team { pool: None, threads: 1, shared: Some(f) },
    };
    let fused = cfg.momentum == 0.0;
    let mut tape = Tape::for_training(&spec, cfg.batch, par);
    let mut grads = (!fused).then(|| params.zeros_like());
    let mut labels: Vec<u8> = Vec::with_capacity(cfg.batch);
    let mut eval_tape = Tape::new(&spec, 256, TapeMode::Inference, par);
    let mut sgd = Sgd::<f32>::new(cfg.lr, cfg.momentum, params.as_slice().len());
    let mut shuffle_rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    shuffle_rng.set_stream(1);
    let mut perm: Vec<usize> = (0..m).collect();
    let steps_per_epoch = m.div_ceil(cfg.batch);
    let total_steps = steps_per_epoch * cfg.epochs;

    let mut log = Vec::with_capacity(cfg.epochs);
    let mut step = 0usize;
    let mut samples = 0usize;
    let mut train_seconds = 0.0;
    let mut eval_seconds = 0.0;
    // How the run stopped: outcome, step, reason.
    let mut stop: Option<(Outcome, usize, String)> = None;
    let mut initial_loss: Option<f64> = None;
    let mut log_pl_init: Option<f64> = None;
    let mut final_loss = None;
    let mut step_times: Vec<f64> = Vec::with_capacity(total_steps);

    for epoch in 1..=cfg.epochs {
        let t0 = Instant::now();
        perm.shuffle(&mut shuffle_rng);
        let (mut loss_sum, mut correct, mut count, mut steps) = (0.0f64, 0usize, 0usize, 0usize);
        for batch_idx in perm.chunks(cfg.batch) {
            let ts = Instant::now();
            let bs = batch_idx.len();
            let scale = 1.0 / bs as f64;
            labels.clear();
            labels.extend(batch_idx.iter().map(|&i| data.train.labels[i]));
            let threads = team.now();
            let fill = |c0: usize, c1: usize, input: &mut [f32]| data.gather(&data.train, &batch_idx[c0..c1], input);
            // The first batch also measures p^L on the tape (x^L of the whole batch).
            let first = step == 0;
            let mut pl = None;
            let mut accept = |r: &BatchLoss, t: &Tape<f32>| {
                if first {
                    pl = Some(mean_square(t.x(t.depth())));
                }
                verdict(r.loss_sum * scale, pl, initial_loss, cfg.blowup_factor).is_none()
            };
            let (r, _) = team
                .run(|| match grads.as_mut() {
                    None => sgd_step_judged(&mut params, &mut tape, bs, &labels, cfg.lr, threads, par, &fill, accept),
                    Some(g) => {
                        let parallel = ranges(bs, threads) > 1;
                        let r = forward_loss(&params, &mut tape, bs, &labels, Some(scale), threads, &fill)?;
                        if !accept(&r, &tape) {
                            return Ok((r, false));
                        }
                        backward_data_par(&params, &mut tape, threads)?;
                        grads_from_tape(g, &tape, parallel, par);
                        sgd.step(params.as_mut_slice(), &[g.as_slice()], parallel);
                        Ok((r, true))
                    }
                })
                .expect("tape matches the model, labels are 0..9");
            let loss = r.loss_sum * scale;
            if first {
                initial_loss = finite(loss);
                log_pl_init = pl.filter(|p| *p > 0.0).and_then(|p| finite(p.ln()));
            }
            if let Some(v) = verdict(loss, pl, if first { None } else { initial_loss }, cfg.blowup_factor) {
                stop = Some((v.0, step, v.1));
                break;
            }
            loss_sum += r.loss_sum;
            correct += r.correct;
            count += r.count;
            samples += bs;
            steps += 1;
            if bs == cfg.batch {
                step_times.push(ts.elapsed().as_secs_f64());
            }
            progress(TrainEvent::Step { step, total: total_steps, loss });
            step += 1;
        }
        let seconds = t0.elapsed().as_secs_f64();
        train_seconds += seconds;
        if stop.is_none() && !params.all_finite() {
            stop = Some((Outcome::Nonfinite, step.saturating_sub(1), "non-finite parameters".into()));
        }
        let train_loss = if count > 0 { finite(loss_sum / count as f64) } else { None };
        final_loss = train_loss;
        let evaluated = stop.is_none() && (cfg.eval_every_epoch || epoch == cfg.epochs);
        let (test_acc, test_loss) = if evaluated {
            let t1 = Instant::now();
            let r = evaluate(&params, data, &data.test, n_test, &mut eval_tape, &team);
            eval_seconds += t1.elapsed().as_secs_f64();
            (Some(r.correct as f64 / r.count as f64), finite(r.loss_sum / r.count as f64))
        } else {
            (None, None)
        };
        log.push(EpochRow {
            epoch,
            train_loss,
            train_acc: if count > 0 { correct as f64 / count as f64 } else { 0.0 },
            test_acc,
            test_loss,
            seconds,
            steps,
        });
        progress(TrainEvent::Epoch(log.last().expect("pushed")));
        if stop.is_some() {
            break;
        }
    }
    let t1 = Instant::now();
    let (test_acc, test_loss) = match log.last() {
        Some(EpochRow { test_acc: Some(acc), test_loss, .. }) if stop.is_none() => (*acc, *test_loss),
        _ => {
            let r = evaluate(&params, data, &data.test, n_test, &mut eval_tape, &team);
            (r.correct as f64 / r.count as f64, finite(r.loss_sum / r.count as f64))
        }
    };
    let train_eval = evaluate(&params, data, &data.train, m, &mut eval_tape, &team);
    eval_seconds += t1.elapsed().as_secs_f64();
    let outcome = stop.as_ref().map_or(Outcome::Trained, |s| s.0);
    let outcome_step = stop.as_ref().map(|s| s.1);
    Ok(TrainResult {
        arch: cfg.arch,
        act: cfg.act,
        alpha: cfg.alpha,
        width: cfg.width,
        depth: cfg.depth,
        sw2: cfg.sw2,
        sv2: cfg.sv2,
        sb2: cfg.sb2,
        sa2: cfg.sa2,
        lr: cfg.lr,
        momentum: cfg.momentum,
        batch: cfg.batch,
        epochs: cfg.epochs,
        train_subset: m,
        seed: cfg.seed,
        threads: cfg.threads,
        test_acc,
        test_loss,
        train_acc: train_eval.correct as f64 / train_eval.count.max(1) as f64,
        final_loss,
        outcome,
        outcome_step,
        initial_loss,
        log_pl_init,
        diverged: outcome.failed(),
        diverged_step: outcome_step,
        diverged_reason: stop.map(|s| s.2),
        steps: step,
        samples,
        seconds: train_seconds,
        samples_per_sec: if train_seconds > 0.0 { samples as f64 / train_seconds } else { 0.0 },
        median_step_samples_per_sec: {
            step_times.sort_by(|a, b| a.total_cmp(b));
            step_times.get(step_times.len() / 2).map_or(0.0, |t| cfg.batch as f64 / t)
        },
        eval_seconds,
        epochs_log: log,
    })
}

/// Samples a run of `cfg` that produced `r` evaluated (forward passes only): the test images
/// after every evaluated epoch, once more at the end if the last epoch was not evaluated or the
/// run diverged, and the training subset at the end.
pub fn eval_samples(cfg: &TrainConfig, r: &TrainResult, data_test: usize) -> usize {
    let n_test = cfg.test_subset.unwrap_or(data_test).min(data_test);
    let per_epoch = r.epochs_log.iter().filter(|e| e.test_acc.is_some()).count();
    let last_evaluated = !r.diverged && r.epochs_log.last().is_some_and(|e| e.test_acc.is_some());
    n_test * (per_epoch + usize::from(!last_evaluated)) + r.train_subset
}

/// Steps per epoch for `m` images in batches of `batch` (the last partial batch counts).
pub fn steps_per_epoch(m: usize, batch: usize) -> usize {
    m.div_ceil(batch.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::mnist::test_data;

    fn small(threads: usize) -> TrainConfig {
        TrainConfig {
            width: 64,
            depth: 6,
            sw2: 1.0,
            sv2: 0.5,
            lr: 0.05,
            batch: 32,
            epochs: 4,
            train_subset: Some(2000),
            threads,
            ..TrainConfig::default()
        }
    }

    #[test]
    fn learns_a_mnist_subset() {
        // 2000 images, 4 epochs of 63 steps (the last batch of each epoch has 16 images).
        let mut steps = 0;
        let mut epochs = 0;
        let r = train(&small(2), test_data(), &mut |ev| match ev {
            TrainEvent::Step { .. } => steps += 1,
            TrainEvent::Epoch(_) => epochs += 1,
        })
        .unwrap();
        assert!(!r.diverged);
        assert_eq!((steps, epochs, r.steps, r.samples), (252, 4, 252, 8000));
        assert!(r.test_acc > 0.80, "test accuracy {}", r.test_acc);
        assert!(r.train_acc > 0.85, "train accuracy {}", r.train_acc);
        let losses: Vec<f64> = r.epochs_log.iter().map(|e| e.train_loss.unwrap()).collect();
        assert!(losses[3] < losses[0], "{losses:?}");
        assert!(r.epochs_log.iter().all(|e| e.test_acc.is_some()));
        assert_eq!(r.epochs_log[3].test_acc, Some(r.test_acc));
    }

    /// The 2.1 TB run of the issue is refused with its values named; the reference and the
    /// largest paper grid point pass (about 0.1 GB).
    #[test]
    fn memory_estimate_bounds_the_run() {
        let huge = TrainConfig { width: 16384, depth: 1000, train_subset: Some(100), ..TrainConfig::default() };
        assert!(huge.memory_bytes() > 2e12, "{}", huge.memory_bytes());
        let e = huge.validate().unwrap_err();
        assert!(e.0.contains("width = 16384, depth = 1000") && e.0.contains("2.2 TB"), "{}", e.0);
        let paper = TrainConfig { depth: 200, threads: 2, ..TrainConfig::default() };
        assert!(paper.memory_bytes() < 2e8, "{}", paper.memory_bytes());
        assert!(paper.validate().is_ok() && TrainConfig::default().validate().is_ok());
        let momentum = TrainConfig { momentum: 0.9, threads: 4, ..paper };
        assert!(momentum.memory_bytes() < 3e8 && momentum.validate().is_ok());
    }

    #[test]
    fn same_config_same_result() {
        let cfg = TrainConfig { epochs: 1, train_subset: Some(300), test_subset: Some(500), ..small(1) };
        let a = train(&cfg, test_data(), &mut |_| {}).unwrap();
        let b = train(&cfg, test_data(), &mut |_| {}).unwrap();
        assert_eq!((a.test_acc, a.final_loss, a.train_acc), (b.test_acc, b.final_loss, b.train_acc));
        let c = train(&TrainConfig { seed: 1, ..cfg }, test_data(), &mut |_| {}).unwrap();
        assert_ne!(a.final_loss, c.final_loss);
    }

    /// The numbers of a result (timings aside).
    fn numbers(r: &TrainResult) -> Vec<Option<f64>> {
        let mut v = vec![Some(r.test_acc), r.test_loss, Some(r.train_acc), r.final_loss, Some(r.steps as f64)];
        v.extend([r.initial_loss, r.log_pl_init]);
        v.extend(r.epochs_log.iter().flat_map(|e| [e.train_loss, Some(e.train_acc), e.test_acc, e.test_loss]));
        v
    }

    #[test]
    fn results_do_not_depend_on_threads_and_momentum_path_learns() {
        // 500 images in batches of 32: the last batch (20) is cut into one range, the others
        // into up to two; the evaluation chunks of 256 into up to three.
        let cfg = TrainConfig { epochs: 2, train_subset: Some(500), test_subset: Some(1000), ..small(1) };
        let a = train(&cfg, test_data(), &mut |_| {}).unwrap();
        for threads in [2, 3] {
            let b = train(&TrainConfig { threads, ..cfg.clone() }, test_data(), &mut |_| {}).unwrap();
            assert_eq!(numbers(&a), numbers(&b), "threads = {threads}");
        }
        // On a shared pool with a budget that changes from pass to pass.
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let budget = || 1 + calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 4;
        let c = pool.install(|| train_with(&cfg, test_data(), Threads::Shared(&budget), &mut |_| {})).unwrap();
        assert_eq!(numbers(&a), numbers(&c));
        // Momentum (gradient buffer, then the update): also independent of threads, and learns.
        let mcfg = TrainConfig { momentum: 0.5, lr: 0.02, epochs: 1, ..cfg };
        let m1 = train(&mcfg, test_data(), &mut |_| {}).unwrap();
        let m2 = train(&TrainConfig { threads: 2, ..mcfg }, test_data(), &mut |_| {}).unwrap();
        assert_eq!(numbers(&m1), numbers(&m2));
        assert!(!m1.diverged);
        assert!(m1.test_acc > 0.6, "momentum run: test accuracy {}", m1.test_acc);
    }

    /// Counts the allocations of the current thread (for the test below; every other test of
    /// the crate runs with it too, unaffected).
    struct Counting;
    thread_local! {
        static ALLOCS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }
    // SAFETY: forwards to the system allocator; the counter is a const thread-local (no
    // allocation, no destructor).
    unsafe impl std::alloc::GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
            let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
            // SAFETY: the caller's contract is passed on.
            unsafe { std::alloc::System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
            // SAFETY: the caller's contract is passed on.
            unsafe { std::alloc::System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
            let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
            // SAFETY: the caller's contract is passed on.
            unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
        }
    }
    #[global_allocator]
    static COUNTING: Counting = Counting;

    #[test]
    fn steps_and_evaluations_allocate_nothing() {
        // A run of 3 epochs makes exactly as many allocations as a run of 1: the steps (forward,
        // loss, backward, update) and the evaluations after each epoch allocate nothing.
        let data = test_data();
        let count = |epochs: usize, momentum: f64| {
            let cfg = TrainConfig { epochs, momentum, train_subset: Some(300), test_subset: Some(300), ..small(1) };
            let before = ALLOCS.with(|c| c.get());
            let r = train(&cfg, data, &mut |_| {}).unwrap();
            assert_eq!(r.epochs_log.len(), epochs);
            ALLOCS.with(|c| c.get()) - before
        };
        count(1, 0.0); // First use on this thread: faer's packing buffers, the data set.
        for momentum in [0.0, 0.5] {
            let (one, three) = (count(1, momentum), count(3, momentum));
            assert!(one > 0, "the counter counts");
            assert_eq!(one, three, "allocations of 1 and 3 epochs (momentum {momentum})");
        }
    }

    /// The first batch of a run of `cfg` and the initial network, rebuilt independently of the
    /// loop: the same seeded shuffle, then the model's own [`super::super::tape::forward`] on a
    /// plain tape. Returns (naive $p^L$, mean loss of the batch).
    fn init_reference(cfg: &TrainConfig) -> (f64, f64) {
        let data = test_data();
        let m = cfg.train_subset.unwrap_or(data.train.len());
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        rng.set_stream(1);
        let mut perm: Vec<usize> = (0..m).collect();
        perm.shuffle(&mut rng);
        let idx = &perm[..cfg.batch.min(m)];
        let spec = cfg.spec().unwrap();
        let params = init::<f32>(&spec, cfg.seed).unwrap();
        let mut tape = Tape::<f32>::new(&spec, idx.len(), TapeMode::Train, Par::Seq);
        data.gather(&data.train, idx, tape.input_mut(idx.len()).unwrap());
        crate::nn::forward(&params, &mut tape).unwrap();
        let (n, b) = (cfg.width, idx.len());
        let x = tape.x(cfg.depth);
        let mut pl = 0.0f64;
        for s in 0..b {
            let mut norm2 = 0.0f64;
            for i in 0..n {
                norm2 += (x[s * n + i] as f64).powi(2);
            }
            pl += norm2 / n as f64;
        }
        let labels: Vec<u8> = idx.iter().map(|&i| data.train.labels[i]).collect();
        let loss = crate::nn::softmax_xent(&mut tape, &labels, None).unwrap().loss_sum / b as f64;
        (pl / b as f64, loss)
    }

    #[test]
    fn initial_loss_and_log_pl_match_an_independent_forward_pass() {
        for (cfg, threads) in [
            (TrainConfig { epochs: 1, train_subset: Some(256), test_subset: Some(64), ..small(1) }, 1),
            (TrainConfig { act: ActName::Relu, sv2: 1.5, seed: 3, epochs: 1, train_subset: Some(256), ..small(1) }, 2),
        ] {
            let r = train(&TrainConfig { threads, test_subset: Some(64), ..cfg.clone() }, test_data(), &mut |_| {})
                .unwrap();
            let (pl, loss) = init_reference(&cfg);
            let (l0, lpl) = (r.initial_loss.unwrap(), r.log_pl_init.unwrap());
            assert!((l0 - loss).abs() < 1e-5 * loss, "initial loss {l0} vs {loss}");
            assert!((lpl - pl.ln()).abs() < 1e-5, "ln p^L {lpl} vs {}", pl.ln());
            assert!(pl.is_finite() && pl > 0.0 && loss.is_finite(), "p^L {pl}, loss {loss}");
        }
    }

    #[test]
    fn overflow_at_init_stops_before_any_update() {
        // A deep ReLU FRN with sv2 sw2 = 400: p^L grows like (1 + 200)^L and overflows f32
        // (ln p^L ~ 40 ln 201 ~ 212 > ln(f32::MAX^2) ~ 177).
        let cfg = TrainConfig {
            act: ActName::Relu,
            sw2: 20.0,
            sv2: 20.0,
            depth: 40,
            epochs: 1,
            train_subset: Some(256),
            test_subset: Some(256),
            ..small(1)
        };
        // Independently: the model's own forward pass on the first batch is not finite.
        let (pl, loss) = init_reference(&cfg);
        assert!(!pl.is_finite() && !loss.is_finite(), "p^L {pl}, loss {loss}");
        let mut steps = 0;
        let r = train(&cfg, test_data(), &mut |e| steps += matches!(e, TrainEvent::Step { .. }) as usize).unwrap();
        assert_eq!((r.outcome, r.outcome_step, r.steps, steps), (Outcome::OverflowAtInit, Some(0), 0, 0));
        assert_eq!((r.initial_loss, r.log_pl_init), (None, None));
        assert!(r.diverged && r.diverged_step == Some(0));
        assert_eq!(r.diverged_reason.as_deref(), Some("non-finite forward pass at init"));
        // No update was applied: the final network is the initial one, whose test loss is not finite.
        assert_eq!(r.test_loss, None);
    }

    #[test]
    fn a_huge_learning_rate_fails_later_with_its_step() {
        // One step at lr 50 (tanh) or 1e4 (ReLU) throws the network far away: the next batch's
        // loss is far above 10 times the initial loss, or not finite.
        for (act, lr) in [(ActName::Tanh, 50.0), (ActName::Relu, 1e4)] {
            let cfg = TrainConfig { act, lr, epochs: 2, train_subset: Some(512), test_subset: Some(64), ..small(1) };
            let mut losses = Vec::new();
            let r = train(&cfg, test_data(), &mut |e| {
                if let TrainEvent::Step { step, loss, .. } = e {
                    losses.push((step, loss));
                }
            })
            .unwrap();
            let l0 = r.initial_loss.unwrap();
            assert!(r.log_pl_init.is_some());
            assert!(matches!(r.outcome, Outcome::Blowup | Outcome::Nonfinite), "{act}: {:?}", r.outcome);
            let at = r.outcome_step.unwrap();
            // Steps 0..at were taken (each with a finite loss within 10 l0), the step `at` not.
            assert!(at >= 1, "{act}: stopped at {at}");
            assert_eq!((r.steps, losses.len(), r.diverged_step), (at, at, Some(at)));
            assert_eq!(losses[0], (0, l0));
            assert!(losses.iter().all(|&(_, l)| l.is_finite() && l <= 10.0 * l0), "{act}: {losses:?}");
            let why = r.diverged_reason.unwrap();
            match r.outcome {
                Outcome::Blowup => {
                    // The reason carries the rejected loss: above 10 l0.
                    let rejected: f64 = why.split_whitespace().nth(1).unwrap().parse().unwrap();
                    assert!(rejected > 10.0 * l0, "{act}: {why}");
                }
                _ => assert_eq!(why, "non-finite loss"),
            }
        }
    }

    #[test]
    fn a_large_initial_loss_alone_is_not_a_failure() {
        // A ReLU FRN with sv2 sw2 = 9 (p^L ~ 5.5^L): an initial loss far above chance (ln 10),
        // trained at a small rate.
        let cfg = TrainConfig {
            act: ActName::Relu,
            sw2: 3.0,
            sv2: 3.0,
            lr: 1e-4,
            depth: 4,
            epochs: 1,
            train_subset: Some(512),
            test_subset: Some(64),
            ..small(1)
        };
        let r = train(&cfg, test_data(), &mut |_| {}).unwrap();
        let (_, loss) = init_reference(&cfg);
        assert!(r.initial_loss.unwrap() > 10.0 * 10f64.ln() && loss > 10.0 * 10f64.ln(), "{:?}", r.initial_loss);
        assert_eq!((r.outcome, r.outcome_step, r.diverged), (Outcome::Trained, None, false));
    }

    #[test]
    fn blowup_factor_is_validated() {
        for b in [1.0, 0.5, -3.0, f64::NAN, f64::INFINITY, 1e13] {
            let e = TrainConfig { blowup_factor: b, ..TrainConfig::default() }.validate().unwrap_err();
            assert!(
                e.0.contains(&format!("blowup-factor = {b}")) && e.0.contains("valid: 1 < blowup-factor"),
                "{}",
                e.0
            );
        }
        assert!(TrainConfig { blowup_factor: 1.5, ..TrainConfig::default() }.validate().is_ok());
        assert_eq!(TrainConfig::default().blowup_factor, 10.0);
    }

    #[test]
    fn result_json_has_the_documented_keys() {
        let cfg = TrainConfig { epochs: 1, train_subset: Some(64), test_subset: Some(64), ..small(1) };
        let r = train(&cfg, test_data(), &mut |_| {}).unwrap();
        let v = serde_json::to_value(&r).unwrap();
        for key in [
            "arch",
            "act",
            "alpha",
            "width",
            "depth",
            "sw2",
            "sv2",
            "sb2",
            "sa2",
            "lr",
            "batch",
            "epochs",
            "train_subset",
            "seed",
            "test_acc",
            "train_acc",
            "final_loss",
            "outcome",
            "outcome_step",
            "initial_loss",
            "log_pl_init",
            "diverged",
            "diverged_step",
            "seconds",
            "samples_per_sec",
            "epochs_log",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        let back: TrainResult = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
        let cfg_json = serde_json::to_string(&cfg).unwrap();
        assert_eq!(serde_json::from_str::<TrainConfig>(&cfg_json).unwrap(), cfg);
    }
}
