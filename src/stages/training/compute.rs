//! The training stage's computation: every grid point trained through the task cache, and the
//! per-grid summary (mean and sd over seeds per cell, the best variance per depth, the Xavier
//! and He columns).

use super::config::{same, Config, GridSpec};
use super::salt;
use crate::architecture::Architecture;
use crate::nn::mnist::{Mnist, MnistError};
use crate::nn::train::{train, TrainConfig, TrainEvent, TrainResult};
use crate::pipeline::{run_tasks, StageContext, StageError};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};

/// A trained point as cached: the run's result and a thinned trace of the batch loss.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PointResult {
    pub result: TrainResult,
    /// (step, batch loss) at about 100 evenly spaced steps.
    pub loss_trace: Vec<(usize, f64)>,
}

/// One cell of a grid in the summary.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cell {
    pub depth: usize,
    pub sv2: f64,
    /// Mean over seeds of the test accuracy (diverged runs count with their accuracy at stop).
    pub test_acc: f64,
    pub test_acc_sd: f64,
    pub diverged: usize,
    pub seeds: usize,
}

/// One depth of a grid: the best variance and the Xavier and He points.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DepthRow {
    pub depth: usize,
    /// Best cell (highest mean test accuracy) at this depth.
    pub best: Cell,
    /// Variance-axis coordinate of the best cell.
    pub best_axis: f64,
    pub xavier: Option<Cell>,
    pub he: Option<Cell>,
}

/// Per-grid summary for the template and downstream stages.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GridSummary {
    pub spec: GridSpec,
    pub axis_label: String,
    pub variances: Vec<f64>,
    pub cells: Vec<Cell>,
    pub best: Vec<Cell>,
    pub xavier: Vec<Cell>,
    pub he: Vec<Cell>,
    pub rows: Vec<DepthRow>,
    pub best_acc: f64,
    pub diverged_points: usize,
}

/// The stage's summary. `points` is every run (without per-epoch rows); `grids` per grid.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub config: Config,
    pub grids: Vec<GridSummary>,
    pub points: Vec<TrainResult>,
    pub n_points: usize,
    /// Points trained by the run that built this artifact (the rest came from the cache): the
    /// stage time is a cold time only when this equals `n_points`.
    #[serde(default)]
    pub n_computed: usize,
    pub n_diverged: usize,
    pub total_train_seconds: f64,
    pub median_samples_per_sec: f64,
    pub min_best_acc: f64,
}

/// Cost model for the estimate printed before a run: the FLOPs of every training step
/// ([`crate::nn::ModelSpec::train_flops_per_sample`]) and of the evaluations, at `gflops` per
/// thread. With $m = 784N + L\,kN^2 + 10N$ multiply-adds of a forward pass ($k = 2$ for FRNs),
/// a run costs $2(3m - 784N)\,M\,E + 2m\,T\,E$ FLOPs ($M$ training and $T$ test images, $E$
/// epochs). Points that diverge end early, so this is an upper bound on a grid with failure modes.
pub(crate) fn estimate_seconds(cfgs: &[&TrainConfig], jobs: usize, gflops: f64) -> f64 {
    let flops: f64 = cfgs
        .iter()
        .map(|c| {
            let n = c.width as f64;
            let per_layer = if c.arch == Architecture::Full { 2.0 * n * n } else { n * n };
            let macs = 784.0 * n + c.depth as f64 * per_layer + 10.0 * n;
            let train = 2.0 * (3.0 * macs - 784.0 * n) * (c.train_subset.unwrap_or(60_000) * c.epochs) as f64;
            let eval = 2.0 * macs * c.test_subset.unwrap_or(10_000) as f64 * c.epochs as f64;
            train + eval
        })
        .sum();
    flops / (gflops * 1e9) / jobs.max(1) as f64
}

/// Per-thread training throughput assumed by the estimate: half of what faer reaches on one
/// thread for a product of the grid's shape (the training step measured 0.6-0.7 of the raw product
/// in Appendix B), probed in about 10 ms.
fn calibrated_gflops(width: usize, batch: usize) -> f64 {
    let flops = 2.0 * (width * width * batch) as f64;
    let inner = ((2e7 / flops).ceil() as usize).clamp(1, 1000);
    0.5 * crate::nn::matmul::probe_gflops(width, width, batch, 3, inner, faer::Par::Seq)
}

pub(crate) fn human_duration(s: f64) -> String {
    if s < 90.0 {
        format!("{s:.0} s")
    } else if s < 5400.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// Trains every point of `points` not yet cached (in this shard), after printing an estimate of
/// the time it takes; one entry per point, `None` for points outside the shard that no cache
/// holds. Also returns how many points this call trained.
pub fn train_points(cfg: &Config, points: &[(usize, TrainConfig)], ctx: &StageContext) -> Result<(Vec<Option<PointResult>>, usize), StageError> {
    let tasks: Vec<&TrainConfig> = points.iter().map(|(_, c)| c).collect();
    for t in &tasks {
        t.validate().map_err(|e| StageError::compute("invalid training point", e))?;
    }
    let todo: Vec<&TrainConfig> =
        crate::pipeline::pending_tasks(ctx, "training/points", &salt(), &tasks).into_iter().map(|i| tasks[i]).collect();
    if !todo.is_empty() {
        let gflops = calibrated_gflops(cfg.width, cfg.batch);
        let est = estimate_seconds(&todo, ctx.jobs, gflops);
        ctx.progress.info(&format!(
            "    training: {} of {} points to train, at most about {} on {} thread(s) \
             (at {gflops:.0} GFLOP/s per thread; diverging points end early)",
            todo.len(),
            tasks.len(),
            human_duration(est),
            ctx.jobs
        ));
    }
    // Loaded by the first point that needs it; the error is shared by every point that asks.
    let data: OnceLock<Result<Mnist, Arc<MnistError>>> = OnceLock::new();
    let results = run_tasks(ctx, "training/points", &salt(), "training", &tasks, |t: &&TrainConfig| {
        let mnist = data
            .get_or_init(|| Mnist::load_from(None).map_err(Arc::new))
            .as_ref()
            .map_err(|e| StageError::compute("loading MNIST", Arc::clone(e)))?;
        let mut trace = Vec::new();
        let mut cb = |ev: TrainEvent| {
            if let TrainEvent::Step { step, total, loss } = ev {
                let every = (total / 100).max(1);
                if step % every == 0 || step + 1 == total {
                    trace.push((step, loss));
                }
            }
        };
        let result = train(t, mnist, &mut cb).map_err(|e| StageError::compute("training a point", e))?;
        Ok(PointResult { result, loss_trace: trace })
    })?;
    Ok((results.results, results.computed))
}

/// Mean and sample standard deviation ($n - 1$ in the denominator; 0 for one value).
fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = if xs.len() > 1 { xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (m, v.sqrt())
}

/// The summary of one grid from its trained points.
pub fn summarize_grid(spec: &GridSpec, pts: &[&TrainResult]) -> GridSummary {
    let variances = spec.variances();
    let mut cells = Vec::new();
    for &depth in &spec.depths {
        for &sv2 in &variances {
            let runs: Vec<&&TrainResult> = pts.iter().filter(|p| p.depth == depth && same(p.sv2, sv2)).collect();
            if runs.is_empty() {
                continue;
            }
            let accs: Vec<f64> = runs.iter().map(|r| r.test_acc).collect();
            let (m, sd) = mean_sd(&accs);
            cells.push(Cell { depth, sv2, test_acc: m, test_acc_sd: sd, diverged: runs.iter().filter(|r| r.diverged).count(), seeds: runs.len() });
        }
    }
    let pick = |f: &dyn Fn(&Cell) -> bool| -> Vec<Cell> { cells.iter().filter(|c| f(c)).cloned().collect() };
    let best: Vec<Cell> = spec
        .depths
        .iter()
        .filter_map(|&d| cells.iter().filter(|c| c.depth == d).max_by(|a, b| a.test_acc.total_cmp(&b.test_acc)).cloned())
        .collect();
    let at = |d: usize, v: f64| cells.iter().find(|c| c.depth == d && same(c.sv2, v)).cloned();
    let rows = best
        .iter()
        .map(|b| DepthRow { depth: b.depth, best: b.clone(), best_axis: spec.axis_value(b.sv2), xavier: at(b.depth, 1.0), he: at(b.depth, 2.0) })
        .collect();
    GridSummary {
        rows,
        axis_label: spec.axis_label().into(),
        variances,
        xavier: pick(&|c| same(c.sv2, 1.0)),
        he: pick(&|c| same(c.sv2, 2.0)),
        best_acc: best.iter().map(|c| c.test_acc).fold(f64::NAN, f64::max),
        diverged_points: pts.iter().filter(|p| p.diverged).count(),
        best,
        cells,
        spec: spec.clone(),
    }
}

/// The stage's summary from the points at hand (`have`: grid index and result) and the number
/// of points this run trained.
pub fn summarize(cfg: &Config, have: &[(usize, &PointResult)], computed: usize) -> Summary {
    let grids: Vec<GridSummary> = cfg
        .grids
        .iter()
        .enumerate()
        .map(|(gi, g)| {
            let pts: Vec<&TrainResult> = have.iter().filter(|(i, _)| *i == gi).map(|(_, p)| &p.result).collect();
            summarize_grid(g, &pts)
        })
        .collect();
    let all: Vec<TrainResult> = have
        .iter()
        .map(|(_, p)| {
            let mut r = p.result.clone();
            r.epochs_log.clear();
            r
        })
        .collect();
    let mut sps: Vec<f64> = all.iter().filter(|r| !r.diverged).map(|r| r.samples_per_sec).collect();
    sps.sort_by(f64::total_cmp);
    Summary {
        config: cfg.clone(),
        n_points: all.len(),
        n_computed: computed,
        n_diverged: all.iter().filter(|r| r.diverged).count(),
        total_train_seconds: all.iter().map(|r| r.seconds + r.eval_seconds).sum(),
        median_samples_per_sec: sps.get(sps.len() / 2).copied().unwrap_or(f64::NAN),
        min_best_acc: grids.iter().map(|g| g.best_acc).fold(f64::INFINITY, f64::min),
        grids,
        points: all,
    }
}
