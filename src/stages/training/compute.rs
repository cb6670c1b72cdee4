//! The training stage's computation: every grid point trained through the task cache, and the
//! per-grid summary (mean and sd over seeds per cell, the best variance per depth, the Xavier
//! and He columns).

use super::config::{same, Config, GridSpec};
use super::salt;
use crate::architecture::Architecture;
use crate::nn::mnist::{Mnist, MnistError};
use crate::nn::train::{eval_samples, train_with, Threads, TrainConfig, TrainEvent, TrainResult};
use crate::pipeline::{run_tasks, Lookup, StageContext, StageError};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

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
    /// Throughput of the points this run trained (`None` when it trained none).
    #[serde(default)]
    pub throughput: Option<Throughput>,
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

/// Throughput of the points of one grid (or of all grids) trained by this run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct GridThroughput {
    /// The grid's name, or `"all grids"` for the total.
    pub grid: String,
    /// Points trained by this run (cached points do not count).
    pub points: usize,
    /// FLOPs of the training steps: samples trained times
    /// [`crate::nn::ModelSpec::train_flops_per_sample`], summed over the points.
    pub step_flops: f64,
    /// FLOPs of the evaluations (forward passes over the test set and the training subset):
    /// samples evaluated times $2M$ ([`crate::nn::ModelSpec::macs_per_sample`]).
    pub eval_flops: f64,
    /// Wall time from the first of these points starting to the last finishing, s.
    pub seconds: f64,
    /// `(step_flops + eval_flops) / seconds`, GFLOP/s.
    pub gflops: f64,
    /// `gflops` over the machine's limit: faer's one-thread product throughput times the threads.
    pub limit_fraction: f64,
}

/// The training grid's throughput in this run: per grid and in total, against faer's product
/// throughput probed in the same run (grids run one after the other, each on all threads).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Throughput {
    /// Threads of the run (`--jobs`).
    pub threads: usize,
    /// Side $n$ of the probe: faer's `f32` product of two $n \times n$ matrices.
    pub probe_n: usize,
    /// Its throughput on one thread (best of 3), GFLOP/s; the limit is this times `threads`.
    pub probe_gflops: f64,
    /// faer's one-thread throughput for the grid's own product shape ($N \times N$ times
    /// $N \times B$, caches warm), GFLOP/s.
    pub step_shape_gflops: f64,
    pub grids: Vec<GridThroughput>,
    pub total: GridThroughput,
}

impl GridThroughput {
    fn new(grid: &str, points: usize, step_flops: f64, eval_flops: f64, seconds: f64, limit: f64) -> Self {
        let gflops = if seconds > 0.0 { (step_flops + eval_flops) / seconds / 1e9 } else { 0.0 };
        Self { grid: grid.into(), points, step_flops, eval_flops, seconds, gflops, limit_fraction: gflops / limit }
    }
}

/// What [`train_points`] returns: one entry per point (`None` for points outside the shard that no
/// cache holds), how many points it trained, and their throughput (if it trained any).
pub type Trained = (Vec<Option<PointResult>>, usize, Option<Throughput>);

/// Side of the square product probed for the machine's limit.
const PROBE_N: usize = 1024;

/// How the threads of the stage's pool are split between the points of a grid: one thread per
/// point while points are still waiting to start, then the threads of the points that finished
/// go to those still running (each point's steps use `jobs / running` threads). A point's result
/// does not depend on it ([`crate::nn::train::Threads::Shared`]).
struct Budget {
    jobs: usize,
    waiting: AtomicUsize,
    running: AtomicUsize,
}

impl Budget {
    fn threads(&self) -> usize {
        if self.waiting.load(Ordering::Relaxed) > 0 {
            1
        } else {
            (self.jobs / self.running.load(Ordering::Relaxed).max(1)).max(1)
        }
    }
}

/// Estimated FLOPs of a training run (steps and evaluations), for ordering and the estimate.
fn run_flops(c: &TrainConfig) -> f64 {
    estimate_seconds(&[c], 1, 1.0) * 1e9
}

/// Trains every point of `points` not yet cached (in this shard), after printing an estimate of
/// the time it takes; one entry per point, `None` for points outside the shard that no cache
/// holds. Also returns how many points this call trained and, if it trained any, the throughput.
///
/// Grids run one after the other; within a grid the points run longest first (by their FLOPs),
/// in parallel on the stage's pool with the threads split by [`Budget`].
pub fn train_points(cfg: &Config, points: &[(usize, TrainConfig)], ctx: &StageContext) -> Result<Trained, StageError> {
    let tasks: Vec<&TrainConfig> = points.iter().map(|(_, c)| c).collect();
    for t in &tasks {
        t.validate().map_err(|e| StageError::compute("invalid training point", e))?;
    }
    let key = |t: &TrainConfig| crate::pipeline::task_key(&salt(t.act.as_str()), t);
    let todo: Vec<&TrainConfig> = tasks
        .iter()
        .enumerate()
        .filter(|(i, t)| crate::pipeline::in_shard(*i, ctx.shard) && !ctx.cache.contains("training/points", &key(t)))
        .map(|(_, t)| *t)
        .collect();
    let mut probe = None;
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
        let big = crate::nn::matmul::probe_gflops(PROBE_N, PROBE_N, PROBE_N, 3, 1, faer::Par::Seq);
        probe = Some((big, 2.0 * gflops));
    }
    // Loaded by the first point that needs it; the error is shared by every point that asks.
    let data: OnceLock<Result<Mnist, Arc<MnistError>>> = OnceLock::new();
    let whole = StageContext { shard: None, ..*ctx };
    let mut results: Vec<Option<PointResult>> = vec![None; points.len()];
    let mut computed = 0;
    let mut rates = Vec::new();
    for (gi, grid) in cfg.grids.iter().enumerate() {
        let in_grid = || (0..points.len()).filter(move |&i| points[i].0 == gi);
        // Points of another shard: only what a cache already holds.
        for i in in_grid().filter(|&i| !crate::pipeline::in_shard(i, ctx.shard)) {
            match ctx.cache.load::<PointResult>("training/points", &key(tasks[i]))? {
                Lookup::Hit(r) => results[i] = Some(r),
                Lookup::Corrupt { path, why } => ctx
                    .progress
                    .warn(&format!("cached result {} is corrupt ({why}); another shard recomputes it", path.display())),
                Lookup::Miss => {}
            }
        }
        let mut mine: Vec<usize> = in_grid().filter(|&i| crate::pipeline::in_shard(i, ctx.shard)).collect();
        mine.sort_by(|&a, &b| run_flops(tasks[b]).total_cmp(&run_flops(tasks[a])).then(a.cmp(&b)));
        let budget = Budget {
            jobs: ctx.jobs.max(1),
            waiting: AtomicUsize::new(
                mine.iter().filter(|&&i| !ctx.cache.contains("training/points", &key(tasks[i]))).count(),
            ),
            running: AtomicUsize::new(0),
        };
        let threads = || budget.threads();
        // (points, step FLOPs, evaluation FLOPs) of the points trained here.
        let work = Mutex::new((0usize, 0.0f64, 0.0f64));
        let grid_tasks: Vec<&TrainConfig> = mine.iter().map(|&i| tasks[i]).collect();
        let t0 = Instant::now();
        let out = run_tasks(
            &whole,
            "training/points",
            &salt(grid.act.as_str()),
            &grid.name,
            &grid_tasks,
            |t: &&TrainConfig| {
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
                budget.waiting.fetch_sub(1, Ordering::Relaxed);
                budget.running.fetch_add(1, Ordering::Relaxed);
                let result = train_with(t, mnist, Threads::Shared(&threads), &mut cb);
                budget.running.fetch_sub(1, Ordering::Relaxed);
                let result = result.map_err(|e| StageError::compute("training a point", e))?;
                let spec = t.spec().map_err(|e| StageError::compute("training a point", e))?;
                let step = (result.samples * spec.train_flops_per_sample()) as f64;
                let eval = (eval_samples(t, &result, mnist.test.len()) * 2 * spec.macs_per_sample()) as f64;
                let mut w = work.lock().unwrap_or_else(|e| e.into_inner());
                *w = (w.0 + 1, w.1 + step, w.2 + eval);
                Ok(PointResult { result, loss_trace: trace })
            },
        )?;
        let seconds = t0.elapsed().as_secs_f64();
        computed += out.computed;
        for (&i, r) in mine.iter().zip(out.results) {
            results[i] = r;
        }
        let (n, step, eval) = work.into_inner().unwrap_or_else(|e| e.into_inner());
        if n > 0 {
            rates.push((grid.name.clone(), n, step, eval, seconds));
        }
    }
    let throughput = probe.filter(|_| !rates.is_empty()).map(|(big, shape)| {
        let limit = big * ctx.jobs.max(1) as f64;
        let grids: Vec<GridThroughput> =
            rates.iter().map(|(name, n, s, e, t)| GridThroughput::new(name, *n, *s, *e, *t, limit)).collect();
        let total = GridThroughput::new(
            "all grids",
            grids.iter().map(|g| g.points).sum(),
            grids.iter().map(|g| g.step_flops).sum(),
            grids.iter().map(|g| g.eval_flops).sum(),
            grids.iter().map(|g| g.seconds).sum(),
            limit,
        );
        Throughput {
            threads: ctx.jobs.max(1),
            probe_n: PROBE_N,
            probe_gflops: big,
            step_shape_gflops: shape,
            grids,
            total,
        }
    });
    if let Some(t) = &throughput {
        ctx.progress.info(&format!(
            "    training: {:.0} GFLOP/s over {:.1} s ({:.0}% of faer's {}^3 product x {} thread(s), {:.0} GFLOP/s each)",
            t.total.gflops,
            t.total.seconds,
            100.0 * t.total.limit_fraction,
            t.probe_n,
            t.threads,
            t.probe_gflops
        ));
    }
    Ok((results, computed, throughput))
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
            cells.push(Cell {
                depth,
                sv2,
                test_acc: m,
                test_acc_sd: sd,
                diverged: runs.iter().filter(|r| r.diverged).count(),
                seeds: runs.len(),
            });
        }
    }
    let pick = |f: &dyn Fn(&Cell) -> bool| -> Vec<Cell> { cells.iter().filter(|c| f(c)).cloned().collect() };
    let best: Vec<Cell> = spec
        .depths
        .iter()
        .filter_map(|&d| {
            cells.iter().filter(|c| c.depth == d).max_by(|a, b| a.test_acc.total_cmp(&b.test_acc)).cloned()
        })
        .collect();
    let at = |d: usize, v: f64| cells.iter().find(|c| c.depth == d && same(c.sv2, v)).cloned();
    let rows = best
        .iter()
        .map(|b| DepthRow {
            depth: b.depth,
            best: b.clone(),
            best_axis: spec.axis_value(b.sv2),
            xavier: at(b.depth, 1.0),
            he: at(b.depth, 2.0),
        })
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
pub fn summarize(
    cfg: &Config,
    have: &[(usize, &PointResult)],
    computed: usize,
    throughput: Option<Throughput>,
) -> Summary {
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
        throughput,
    }
}

#[cfg(test)]
mod jobs_tests {
    use super::*;
    use crate::activation::ActName;
    use crate::pipeline::{Cache, Progress};
    use std::collections::BTreeMap;

    /// A grid's points are the same, bit for bit, trained on one thread or on two (where the
    /// last points share both threads), and the run records its throughput.
    #[test]
    fn results_do_not_depend_on_jobs() {
        let cfg = Config {
            width: 16,
            batch: 64,
            train_subset: 640,
            test_subset: 300,
            seeds: vec![0],
            grids: vec![GridSpec {
                name: "g".into(),
                arch: Architecture::Full,
                act: ActName::Tanh,
                alpha: None,
                depths: vec![2, 5],
                sw2: 1.0,
                sv2_min: 0.5,
                sv2_max: 0.5,
                sv2_count: 1,
                sb2: 0.0,
                sa2: 0.0,
                lr: 0.05,
            }],
            ..Config::default()
        };
        let points = cfg.points();
        let run = |jobs: usize| {
            let dir = tempfile::tempdir().unwrap();
            let (inputs, cache, progress) = (BTreeMap::new(), Cache::new(dir.path()), Progress::silent());
            let ctx = StageContext { inputs: &inputs, cache: &cache, progress: &progress, jobs, shard: None };
            let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs).build().unwrap();
            let (res, computed, tp) = pool.install(|| train_points(&cfg, &points, &ctx)).unwrap();
            assert_eq!(computed, points.len());
            let tp = tp.expect("points were trained");
            assert_eq!((tp.threads, tp.total.points, tp.grids.len()), (jobs, points.len(), 1));
            assert!(tp.total.step_flops > 0.0 && tp.total.eval_flops > 0.0 && tp.total.gflops > 0.0);
            res.into_iter()
                .map(|r| {
                    let r = r.unwrap();
                    (r.loss_trace, r.result.test_acc, r.result.test_loss, r.result.train_acc, r.result.final_loss)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(2));
    }
}
