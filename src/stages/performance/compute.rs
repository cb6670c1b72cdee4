//! The measurements of Appendix B: mean-field trajectories, faer products, one training step,
//! and the training loop side by side with the PyTorch peer.

use super::config::Config;
use crate::activation::Activation;
use crate::architecture::Architecture;
use crate::error::UsageError;
use crate::meanfield::{trajectory, MeanFieldError, Sampling, Spec, Variances};
use crate::nn::matmul::{self, probe_gflops};
use crate::nn::mnist::{resolve_dir, Mnist};
use crate::nn::sgd::sgd_step;
use crate::nn::train::{train, TrainConfig};
use crate::nn::{init, LossError, ModelError, Tape, TapeError};
use crate::pipeline::{StageContext, StageError};
use faer::{Accum, Mat, Par};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// One timing.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Measure {
    pub what: String,
    pub value: f64,
    pub unit: String,
    /// Target of the issue, where there is one.
    pub target: Option<String>,
    pub meets_target: Option<bool>,
}

/// faer's `f32` square product measured by the appendix: the machine's matrix-product limit.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProductProbe {
    /// Side $n$ ($2n^3$ operations).
    pub n: usize,
    /// GFLOP/s on one thread.
    pub one_thread: f64,
    /// Threads of the second probe (the profile's `threads`).
    pub threads: usize,
    /// GFLOP/s on `threads` threads.
    pub with_threads: f64,
}

/// The stage's summary.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub config: Config,
    /// The large square product on one and on `threads` threads.
    pub product: ProductProbe,
    /// The reference training configuration both programs ran.
    pub reference: TrainConfig,
    pub measures: Vec<Measure>,
    pub ours_samples_per_sec: Vec<f64>,
    pub ours_median: f64,
    pub ours_test_acc: f64,
    /// `None` when no Python with torch was found (the reason is in `torch_note`).
    pub torch_samples_per_sec: Option<Vec<f64>>,
    pub torch_median: Option<f64>,
    pub torch_test_acc: Option<f64>,
    pub ratio: Option<f64>,
    pub torch_note: String,
    pub measured_at: String,
}

/// Error of a measurement.
#[derive(Debug, thiserror::Error)]
pub enum PerformanceError {
    #[error("the reference model: {0}")]
    Spec(#[from] UsageError),
    #[error("cannot build the network: {0}")]
    Model(#[from] ModelError),
    #[error("forward or backward pass: {0}")]
    Tape(#[from] TapeError),
    #[error("loss: {0}")]
    Loss(#[from] LossError),
    #[error("cannot start the threads of a timing: {0}")]
    Pool(#[from] rayon::ThreadPoolBuildError),
    /// The matrices of a product probe do not fit in memory.
    #[error("cannot allocate a {n} x {n} f32 matrix ({bytes} bytes)")]
    Alloc { n: usize, bytes: u128 },
}

/// Why the PyTorch peer was not measured (the text goes to the summary's `torch_note`).
#[derive(Debug, thiserror::Error)]
pub enum TorchError {
    #[error("disabled in the profile ([performance] torch = false)")]
    Disabled,
    #[error(
        "no Python with torch and numpy was found ($EOC_TORCH_PYTHON, .venv-torch/bin/python, python3); \
         see README.md to set one up"
    )]
    NotFound,
    #[error("cannot run {}: {source}", python.display())]
    Spawn { python: PathBuf, source: std::io::Error },
    #[error("torch_resnet.py failed: {last_line}")]
    Failed { last_line: String },
    #[error("no JSON from torch_resnet.py: {0}")]
    NoJson(std::io::Error),
    #[error("cannot parse the peer's JSON: {0}")]
    BadJson(serde_json::Error),
    #[error("no samples_per_s in the peer's JSON")]
    NoThroughput,
}

pub(crate) fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Median seconds of one step of the training loop (forward pass and loss, backward data path,
/// fused SGD update of every tensor; learning rate 0 keeps the weights) of the model of `tc` on
/// a batch of `tc.batch` synthetic inputs, on `threads` threads (a private pool) with sequential
/// faer products.
///
/// With `faer_only` every product of the step goes through faer ([`matmul::with_faer_only`]; only
/// meaningful on one thread, where the whole step runs on the pool's one thread).
fn time_train_step(tc: &TrainConfig, threads: usize, reps: usize, faer_only: bool) -> Result<f64, PerformanceError> {
    let spec = tc.spec()?;
    let mut params = init::<f32>(&spec, tc.seed)?;
    let mut tape = Tape::for_training(&spec, tc.batch, Par::Seq);
    let d = spec.in_dim();
    let input: Vec<f32> = (0..tc.batch * d).map(|i| ((i * 7919) % 255) as f32 / 255.0 - 0.4).collect();
    let labels: Vec<u8> = (0..tc.batch).map(|i| (i % 10) as u8).collect();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let fill = |c0: usize, c1: usize, x: &mut [f32]| x.copy_from_slice(&input[c0 * d..c1 * d]);
    let mut step = || -> Result<(), PerformanceError> {
        pool.install(|| {
            let mut step =
                || sgd_step(&mut params, &mut tape, tc.batch, &labels, 0.0, threads, Par::Seq, &fill, |_| true);
            if faer_only {
                matmul::with_faer_only(step)
            } else {
                step()
            }
        })?;
        Ok(())
    };
    step()?;
    let mut t = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t0 = Instant::now();
        step()?;
        t.push(t0.elapsed().as_secs_f64());
    }
    Ok(median(&t))
}

/// Throughput (GFLOP/s, best of `reps`) of the forward and input-gradient products of `count`
/// independent 128 x 128 layers on a batch of 128, one layer after the other, on this thread: with
/// 200 layers the operands (38 MB) do not stay in cache, as in a deep network.
fn layer_products_gflops(count: usize, reps: usize) -> f64 {
    const N: usize = 128;
    let mats = |s: usize| -> Vec<Vec<f32>> {
        (0..count).map(|q| (0..N * N).map(|i| ((i * s + q) % 17) as f32 * 0.01).collect()).collect()
    };
    let (w, mut x, mut y) = (mats(3), mats(5), mats(7));
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        for q in 0..count {
            matmul::forward(&mut y[q], true, &w[q], &x[q], N, N, N, Par::Seq);
            matmul::backward_input(&mut x[q], true, &w[q], &y[q], N, N, N, Par::Seq);
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    std::hint::black_box((&x, &y));
    4.0 * (N * N * N * count) as f64 / best / 1e9
}

/// Best of two wall times of the mean-field trajectory of an FRN ($\sigma_w^2 = \sigma_v^2 = 1$,
/// $p^0 = 1$, $e^0 = 1/2$) to `depth`, keeping only the last layer.
fn time_trajectory(act: Activation, depth: usize) -> Result<f64, MeanFieldError> {
    let spec = Spec { arch: Architecture::Full, act, var: Variances::weights(1.0, 1.0), p0: 1.0, e0: 0.5 };
    let mut best = f64::INFINITY;
    for _ in 0..2 {
        let t = Instant::now();
        trajectory(&spec, depth, &Sampling::Last)?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// An `n x n` f32 matrix with entries `f(i, j)`, allocated fallibly: a size the machine cannot
/// hold is an error, not an abort.
fn try_matrix(n: usize, f: impl FnMut(usize, usize) -> f32) -> Result<Mat<f32>, PerformanceError> {
    let mut m = Mat::<f32>::new();
    m.try_reserve(n, n).map_err(|_| PerformanceError::Alloc { n, bytes: 4 * (n as u128) * (n as u128) })?;
    m.resize_with(n, n, f);
    Ok(m)
}

/// [`probe_gflops`] for the square product of the profile's size `n` (same matrices, best of
/// `reps` single products), with the three matrices ($12 n^2$ bytes) allocated fallibly:
/// $2n^3$ operations per product, in GFLOP/s.
pub fn probe_square_gflops(n: usize, reps: usize, par: Par) -> Result<f64, PerformanceError> {
    let a = try_matrix(n, |i, j| ((i * 7 + j * 3) % 11) as f32 * 0.1)?;
    let b = try_matrix(n, |i, j| ((i * 5 + j) % 13) as f32 * 0.1)?;
    let mut c = try_matrix(n, |_, _| 0.0)?;
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        faer::linalg::matmul::matmul(c.as_mut(), Accum::Replace, a.as_ref(), b.as_ref(), 1.0f32, par);
        best = best.min(t.elapsed().as_secs_f64());
    }
    std::hint::black_box(&c);
    Ok(2.0 * (n * n) as f64 * n as f64 / best / 1e9)
}

/// A Python interpreter that can import torch and numpy: `$EOC_TORCH_PYTHON`, else
/// `.venv-torch/bin/python` in the repository, else `python3`.
fn find_torch_python() -> Result<PathBuf, TorchError> {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("EOC_TORCH_PYTHON") {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-torch/bin/python"));
    candidates.push(PathBuf::from("python3"));
    for c in candidates {
        let ok =
            Command::new(&c).args(["-c", "import torch, numpy"]).output().map(|o| o.status.success()).unwrap_or(false);
        if ok {
            return Ok(c);
        }
    }
    Err(TorchError::NotFound)
}

/// One run of the PyTorch peer on the reference configuration: (samples/s, test accuracy).
fn torch_run(python: &Path, cfg: &TrainConfig, threads: usize) -> Result<(f64, f64), TorchError> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers/torch_resnet.py");
    let out = tempfile_path();
    let o = Command::new(python)
        .arg(&script)
        .args(["--act", &cfg.act.to_string(), "--arch", cfg.arch.name()])
        .args(["--width", &cfg.width.to_string(), "--depth", &cfg.depth.to_string()])
        .args(["--sw2", &cfg.sw2.to_string(), "--sv2", &cfg.sv2.to_string()])
        .args(["--batch", &cfg.batch.to_string(), "--lr", &cfg.lr.to_string(), "--epochs", "1"])
        .args(["--train-subset", &cfg.train_subset.unwrap_or(10_000).to_string()])
        .args(["--threads", &threads.to_string(), "--seed", &cfg.seed.to_string()])
        .arg("--json")
        .arg(&out)
        .env("MNIST_DIR", resolve_dir(None))
        .output()
        .map_err(|source| TorchError::Spawn { python: python.to_path_buf(), source })?;
    if !o.status.success() {
        let last_line = String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("").to_string();
        return Err(TorchError::Failed { last_line });
    }
    let text = std::fs::read_to_string(&out).map_err(TorchError::NoJson)?;
    let _ = std::fs::remove_file(&out);
    // One JSON document (possibly pretty-printed), or one record per line: take the last record.
    let v: serde_json::Value = serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(text.lines().last().unwrap_or("")))
        .map_err(TorchError::BadJson)?;
    let sps = v["samples_per_s"].as_f64().ok_or(TorchError::NoThroughput)?;
    let acc = v["test_accuracy"].as_f64().unwrap_or(f64::NAN);
    Ok((sps, acc))
}

fn tempfile_path() -> PathBuf {
    std::env::temp_dir().join(format!("eoc-torch-{}-{:?}.json", std::process::id(), Instant::now()))
}

/// Runs every measurement of the appendix (see the module documentation).
pub fn measure(cfg: &Config, ctx: &StageContext) -> Result<Summary, StageError> {
    let bar = ctx.progress.bar(4 + 2 * cfg.repeats as u64, "performance");
    let mut measures = Vec::new();
    let mut m = |what: &str, value: f64, unit: &str, target: Option<(f64, bool)>| {
        measures.push(Measure {
            what: what.into(),
            value,
            unit: unit.into(),
            target: target.map(|(t, below)| format!("{} {t} {unit}", if below { "<" } else { ">=" })),
            meets_target: target.map(|(t, below)| if below { value < t } else { value >= t }),
        });
    };
    let mf_err = |e| StageError::compute("mean-field timing", e);
    let t = time_trajectory(Activation::Tanh, 100_000).map_err(mf_err)?;
    m("meanfield: FRN tanh, depth 1e5", t, "s", Some((5.0, true)));
    bar.inc(1);
    let t = time_trajectory(Activation::AlphaRelu { alpha: 0.75 }, 1_000_000).map_err(mf_err)?;
    m("meanfield: FRN alpha-ReLU (0.75), depth 1e6", t, "s", Some((2.0, true)));
    bar.inc(1);
    let small = probe_gflops(128, 128, 128, 5, 200, Par::Seq);
    m("faer f32 product 128x128 · 128x128, 1 thread", small, "GFLOP/s", None);
    // The layer products on the AVX-512 kernel and through faer, side by side.
    let engine = if matmul::kernel_enabled() { "AVX-512 kernel" } else { "faer (no AVX-512 kernel on this CPU)" };
    let ours = layer_products_gflops(200, 3);
    let theirs = matmul::with_faer_only(|| layer_products_gflops(200, 3));
    let what = "layer products 128 x 128 · 128 x 128 (forward and input gradient of 200 layers, operands out of cache), 1 thread";
    m(&format!("{what}: {engine}"), ours, "GFLOP/s", None);
    m(&format!("{what}: faer"), theirs, "GFLOP/s", None);
    m("layer products: kernel / faer", ours / theirs, "x", None);
    let n = cfg.big_n;
    let probe_err = |e| StageError::compute(format!("faer product probe n = {n}"), e);
    let big1 = probe_square_gflops(n, 3, Par::Seq).map_err(probe_err)?;
    m(&format!("faer f32 product {n}³, 1 thread"), big1, "GFLOP/s", None);
    let big2 = probe_square_gflops(n, 3, Par::rayon(cfg.threads)).map_err(probe_err)?;
    m(&format!("faer f32 product {n}³, {} threads", cfg.threads), big2, "GFLOP/s", None);
    bar.inc(2);

    let tc = TrainConfig { train_subset: Some(cfg.train_subset), threads: cfg.threads, ..TrainConfig::default() };
    let spec = tc.spec().map_err(|e| StageError::compute("the reference model", e))?;
    let flops_per_sample = spec.train_flops_per_sample() as f64;
    for threads in [1, cfg.threads] {
        let step_err = |e| StageError::compute("training-step timing", e);
        let step = time_train_step(&tc, threads, 50, false).map_err(step_err)?;
        let step_gflops = flops_per_sample * tc.batch as f64 / step / 1e9;
        let (big, th) =
            if threads == 1 { (big1, "1 thread".to_string()) } else { (big2, format!("{threads} threads")) };
        m(
            &format!("training step (forward, backward, update), reference FRN tanh, batch {}, {th}", tc.batch),
            step_gflops,
            "GFLOP/s",
            None,
        );
        if threads == 1 {
            m("training step / faer's 128x128 product, 1 thread", step_gflops / small, "x", None);
            let step_faer = time_train_step(&tc, 1, 50, true).map_err(step_err)?;
            let faer_gflops = flops_per_sample * tc.batch as f64 / step_faer / 1e9;
            m("training step, 1 thread, every product through faer", faer_gflops, "GFLOP/s", None);
            m("training step, 1 thread: kernel / faer", step_faer / step, "x", None);
        }
        m(&format!("training step / faer's {n}³ product, {th}"), step_gflops / big, "x", None);
        if cfg.threads == 1 {
            break;
        }
    }

    let data = Mnist::load_from(None).map_err(|e| StageError::compute("cannot load MNIST", e))?;
    let python = if cfg.torch { find_torch_python() } else { Err(TorchError::Disabled) };
    let mut ours = Vec::new();
    let mut ours_acc = f64::NAN;
    let mut theirs = Vec::new();
    let mut theirs_acc = f64::NAN;
    let mut torch_note = String::new();
    for _ in 0..cfg.repeats {
        let r = train(&tc, &data, &mut |_| {}).map_err(|e| StageError::compute("reference training run", e))?;
        ours.push(r.samples_per_sec);
        ours_acc = r.test_acc;
        bar.inc(1);
        if let Ok(py) = &python {
            if torch_note.is_empty() {
                match torch_run(py, &tc, cfg.threads) {
                    Ok((sps, acc)) => {
                        theirs.push(sps);
                        theirs_acc = acc;
                    }
                    Err(e) => torch_note = e.to_string(),
                }
            }
        }
        bar.inc(1);
    }
    bar.finish();
    if let Err(e) = &python {
        torch_note = e.to_string();
    }
    let ours_median = median(&ours);
    let loop_gflops = ours_median * flops_per_sample / 1e9;
    m(
        &format!("training loop, reference configuration, {} threads (median run)", cfg.threads),
        loop_gflops,
        "GFLOP/s",
        None,
    );
    m(&format!("training loop / faer's {n}³ product, {} threads", cfg.threads), loop_gflops / big2, "x", None);
    let (torch_sps, torch_median, ratio) = if theirs.len() == cfg.repeats {
        let tm = median(&theirs);
        (Some(theirs.clone()), Some(tm), Some(ours_median / tm))
    } else {
        (None, None, None)
    };
    if let Some(r) = ratio {
        m("training throughput: ours / PyTorch (reference configuration)", r, "x", Some((3.0, false)));
    }
    Ok(Summary {
        config: cfg.clone(),
        product: ProductProbe { n, one_thread: big1, threads: cfg.threads, with_threads: big2 },
        reference: tc.clone(),
        ours_samples_per_sec: ours,
        ours_median,
        ours_test_acc: ours_acc,
        torch_samples_per_sec: torch_sps,
        torch_median,
        torch_test_acc: torch_median.map(|_| theirs_acc),
        ratio,
        torch_note,
        measured_at: crate::report::render::utc_now(),
        measures,
    })
}
