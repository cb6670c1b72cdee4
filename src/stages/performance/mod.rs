//! Stage "performance" (Appendix B): throughput measured by the run that produced the report.
//!
//! - the mean-field engine: FRN tanh to depth 1e5 and FRN alpha-ReLU to depth 1e6 (issue targets
//!   5 s and 2 s);
//! - raw faer products: the training step's shape (128 x 128 times 128 x 128) and a large square
//!   product (faer's own peak on this machine), in GFLOP/s;
//! - the training loop on the reference configuration (FRN tanh, N = 128, L = 20, batch 128, f32,
//!   10,000 images), side by side with the PyTorch peer `benches/peers/torch_resnet.py` when a
//!   Python with torch is available: the two run alternately `repeats` times each and the medians
//!   are compared (the machine is shared and noisy, so only ratios measured together mean much).
//!
//! Timings depend on the machine and its load; the artifact records when it was measured and the
//! stage is recomputed only when its configuration changes or with `--force=performance`.

use crate::activation::Activation;
use crate::architecture::Architecture;
use crate::meanfield::{trajectory, Sampling, Spec, Variances};
use crate::nn::mnist::{resolve_dir, Mnist};
use crate::nn::train::{train, TrainConfig};
use crate::nn::{backward, forward, init, softmax_xent, Tape, TapeMode};
use crate::pipeline::{Artifact, DataTable, Stage, StageContext, StageError};
use crate::nn::matmul::probe_gflops;
use faer::Par;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The profile section `[performance]`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Alternating repetitions of each side of a comparison (medians are reported).
    pub repeats: usize,
    /// Training images of the reference run.
    pub train_subset: usize,
    /// Threads of both training loops.
    pub threads: usize,
    /// Measure the PyTorch peer when a Python with torch is found.
    pub torch: bool,
    /// Side of the large square product.
    pub big_n: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self { repeats: 5, train_subset: 10_000, threads: 2, torch: true, big_n: 1024 }
    }
}

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

/// The stage's summary.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub config: Config,
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

impl Config {
    /// Checks every value of the section.
    pub fn check(&self) -> Result<(), crate::pipeline::ConfigError> {
        let s = crate::pipeline::Section("performance");
        for (k, v) in [("repeats", self.repeats as u64), ("threads", self.threads as u64), ("train_subset", self.train_subset as u64)] {
            if v == 0 {
                return Err(s.error(k, v, "1 or more"));
            }
        }
        Ok(())
    }
}

/// Appendix B: measured throughput.
pub struct PerformanceStage {
    cfg: Config,
}

impl PerformanceStage {
    /// The stage for a profile section, whose values are checked here.
    pub fn new(cfg: Config) -> Result<Self, crate::pipeline::ConfigError> {
        cfg.check()?;
        Ok(Self { cfg })
    }
}

fn median(xs: &[f64]) -> f64 {
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

/// Median seconds of one forward+backward step (no optimizer update) of the model of `tc` on a
/// batch of `tc.batch` synthetic inputs, on this thread with sequential faer products.
fn time_train_step(tc: &TrainConfig, reps: usize) -> Result<f64, StageError> {
    let fail = |e: String| StageError::compute("performance", format!("training-step timing: {e}"));
    let spec = tc.spec().map_err(|e| fail(e.to_string()))?;
    let params = init::<f32>(&spec, tc.seed).map_err(|e| fail(e.to_string()))?;
    let mut grads = params.zeros_like();
    let mut tape = Tape::new(&spec, tc.batch, TapeMode::Train, Par::Seq);
    for (i, x) in tape.input_mut(tc.batch).map_err(|e| fail(e.to_string()))?.iter_mut().enumerate() {
        *x = ((i * 7919) % 255) as f32 / 255.0 - 0.4;
    }
    let labels: Vec<u8> = (0..tc.batch).map(|i| (i % 10) as u8).collect();
    let scale = 1.0 / tc.batch as f64;
    let mut step = || -> Result<(), String> {
        forward(&params, &mut tape).map_err(|e| e.to_string())?;
        softmax_xent(&mut tape, &labels, Some(scale)).map_err(|e| e.to_string())?;
        backward(&params, &mut tape, &mut grads).map_err(|e| e.to_string())
    };
    step().map_err(fail)?;
    let mut t = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t0 = Instant::now();
        step().map_err(fail)?;
        t.push(t0.elapsed().as_secs_f64());
    }
    Ok(median(&t))
}

fn time_trajectory(act: Activation, depth: usize) -> Result<f64, StageError> {
    let spec = Spec { arch: Architecture::Full, act, var: Variances::weights(1.0, 1.0), p0: 1.0, e0: 0.5 };
    let mut best = f64::INFINITY;
    for _ in 0..2 {
        let t = Instant::now();
        trajectory(&spec, depth, &Sampling::Last).map_err(|e| StageError::compute("performance", e.to_string()))?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// A Python interpreter that can import torch and numpy: `$EOC_TORCH_PYTHON`, else
/// `.venv-torch/bin/python` in the repository, else `python3`.
fn find_torch_python() -> Result<PathBuf, String> {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("EOC_TORCH_PYTHON") {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-torch/bin/python"));
    candidates.push(PathBuf::from("python3"));
    for c in candidates {
        let ok = Command::new(&c).args(["-c", "import torch, numpy"]).output().map(|o| o.status.success()).unwrap_or(false);
        if ok {
            return Ok(c);
        }
    }
    Err("no Python with torch and numpy was found ($EOC_TORCH_PYTHON, .venv-torch/bin/python, python3); \
         see README.md to set one up"
        .into())
}

fn torch_run(python: &Path, cfg: &TrainConfig, threads: usize) -> Result<(f64, f64), String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers/torch_resnet.py");
    let out = tempfile_path();
    let o = Command::new(python)
        .arg(&script)
        .args(["--act", &cfg.act, "--arch", cfg.arch.name()])
        .args(["--width", &cfg.width.to_string(), "--depth", &cfg.depth.to_string()])
        .args(["--sw2", &cfg.sw2.to_string(), "--sv2", &cfg.sv2.to_string()])
        .args(["--batch", &cfg.batch.to_string(), "--lr", &cfg.lr.to_string(), "--epochs", "1"])
        .args(["--train-subset", &cfg.train_subset.unwrap_or(10_000).to_string()])
        .args(["--threads", &threads.to_string(), "--seed", &cfg.seed.to_string()])
        .arg("--json")
        .arg(&out)
        .env("MNIST_DIR", resolve_dir(None))
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !o.status.success() {
        return Err(format!("torch_resnet.py failed: {}", String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("")));
    }
    let text = std::fs::read_to_string(&out).map_err(|e| format!("no JSON from torch_resnet.py: {e}"))?;
    let _ = std::fs::remove_file(&out);
    // One JSON document (possibly pretty-printed), or one record per line: take the last record.
    let v: serde_json::Value = serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(text.lines().last().unwrap_or("")))
        .map_err(|e| format!("cannot parse the peer's JSON: {e}"))?;
    let sps = v["samples_per_s"].as_f64().ok_or("no samples_per_s in the peer's JSON")?;
    let acc = v["test_accuracy"].as_f64().unwrap_or(f64::NAN);
    Ok((sps, acc))
}

fn tempfile_path() -> PathBuf {
    std::env::temp_dir().join(format!("eoc-torch-{}-{:?}.json", std::process::id(), Instant::now()))
}

impl Stage for PerformanceStage {
    fn name(&self) -> &'static str {
        "performance"
    }
    fn version(&self) -> u32 {
        2
    }
    fn deps(&self) -> &'static [&'static str] {
        &[]
    }
    fn config(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).expect("config serializes")
    }
    fn chapter(&self) -> Option<crate::pipeline::Chapter> {
        None
    }

    fn run(&self, ctx: &StageContext) -> Result<Artifact, StageError> {
        let cfg = &self.cfg;
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
        let t = time_trajectory(Activation::Tanh, 100_000)?;
        m("meanfield: FRN tanh, depth 1e5", t, "s", Some((5.0, true)));
        bar.inc(1);
        let t = time_trajectory(Activation::AlphaRelu { alpha: 0.75 }, 1_000_000)?;
        m("meanfield: FRN alpha-ReLU (0.75), depth 1e6", t, "s", Some((2.0, true)));
        bar.inc(1);
        let small = probe_gflops(128, 128, 128, 5, 200, Par::Seq);
        m("faer f32 product 128x128 · 128x128, 1 thread", small, "GFLOP/s", None);
        let n = cfg.big_n;
        let big1 = probe_gflops(n, n, n, 3, 1, Par::Seq);
        m(&format!("faer f32 product {n}³, 1 thread"), big1, "GFLOP/s", None);
        let big2 = probe_gflops(n, n, n, 3, 1, Par::rayon(cfg.threads));
        m(&format!("faer f32 product {n}³, {} threads", cfg.threads), big2, "GFLOP/s", None);
        bar.inc(2);

        let tc = TrainConfig {
            train_subset: Some(cfg.train_subset),
            threads: cfg.threads,
            ..TrainConfig::default()
        };
        let spec = tc.spec().map_err(|e| StageError::compute("performance", e.to_string()))?;
        let flops_per_sample = spec.train_flops_per_sample() as f64;
        let step = time_train_step(&tc, 50)?;
        let step_gflops = flops_per_sample * tc.batch as f64 / step / 1e9;
        m(
            &format!("training step (forward + backward), reference FRN tanh, batch {}, 1 thread", tc.batch),
            step_gflops,
            "GFLOP/s",
            None,
        );
        m("training step / faer's 128x128 product, 1 thread", step_gflops / small, "x", None);
        m(&format!("training step / faer's {n}³ product, 1 thread"), step_gflops / big1, "x", None);

        let data = Mnist::load_from(None).map_err(|e| StageError::compute("performance", format!("cannot load MNIST: {e}")))?;
        let python = if cfg.torch { find_torch_python() } else { Err("disabled in the profile ([performance] torch = false)".into()) };
        let mut ours = Vec::new();
        let mut ours_acc = f64::NAN;
        let mut theirs = Vec::new();
        let mut theirs_acc = f64::NAN;
        let mut torch_note = String::new();
        for _ in 0..cfg.repeats {
            let r = train(&tc, &data, &mut |_| {}).map_err(|e| StageError::compute("performance", e.to_string()))?;
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
                        Err(e) => torch_note = e,
                    }
                }
            }
            bar.inc(1);
        }
        bar.finish();
        if let Err(e) = &python {
            torch_note = e.clone();
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
            m("training throughput: ours / PyTorch (reference configuration)", r, "x", Some((2.0, false)));
        }
        let summary = Summary {
            config: cfg.clone(),
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
        };
        let rows = summary.measures.iter().map(|x| serde_json::to_value(x).expect("serializes")).collect();
        Ok(Artifact {
            summary: serde_json::to_value(&summary).map_err(|e| StageError::compute("performance", e.to_string()))?,
            tables: vec![DataTable { name: "performance".into(), rows, json_key: None, extra: Default::default() }],
            figures: vec![],
            claims: vec![],
        })
    }
}
