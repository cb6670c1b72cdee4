//! The training stage's computation: every grid point trained through the task cache, with the
//! estimate printed before and the throughput measured during the run.

use super::config::Config;
use super::pilot::{mnist, Data};
use super::salt;
use crate::architecture::Architecture;
use crate::nn::train::{eval_samples, train_with, Threads, TrainConfig, TrainEvent, TrainResult};
use crate::pipeline::{run_tasks, Lookup, StageContext, StageError};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// A trained point as cached: the run's result and a thinned trace of the batch loss.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PointResult {
    pub result: TrainResult,
    /// (step, batch loss) at about 100 evenly spaced steps.
    pub loss_trace: Vec<(usize, f64)>,
}

/// Cost model for the estimate printed before a run: the FLOPs of every training step
/// ([`crate::nn::ModelSpec::train_flops_per_sample`]) and of the evaluations, at `gflops` per
/// thread. With $m = 784N + L\,kN^2 + 10N$ multiply-adds of a forward pass ($k = 2$ for FRNs),
/// a run costs $2(3m - 784N)\,M\,E + 2m\,(T\,E' + M)$ FLOPs ($M$ training and $T$ test images,
/// $E$ epochs, $E'$ of them evaluated: $E$ with `eval_every_epoch`, else 1; the final evaluation
/// on the $M$ training images). Points that fail end early, so this is an upper bound on a grid
/// with failure modes.
pub(crate) fn estimate_seconds(cfgs: &[&TrainConfig], jobs: usize, gflops: f64) -> f64 {
    let flops: f64 = cfgs
        .iter()
        .map(|c| {
            let n = c.width as f64;
            let per_layer = if c.arch == Architecture::Full { 2.0 * n * n } else { n * n };
            let macs = 784.0 * n + c.depth as f64 * per_layer + 10.0 * n;
            let train = 2.0 * (3.0 * macs - 784.0 * n) * (c.train_subset.unwrap_or(60_000) * c.epochs) as f64;
            let evaluated = if c.eval_every_epoch { c.epochs } else { 1 };
            let eval =
                2.0 * macs * (c.test_subset.unwrap_or(10_000) * evaluated + c.train_subset.unwrap_or(60_000)) as f64;
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

/// Training speeds measured for the estimate, per network shape (architecture, activation,
/// width, depth, batch), each once per stage run.
#[derive(Default)]
pub struct Speeds(Mutex<std::collections::BTreeMap<String, f64>>);

impl Speeds {
    /// The key of `c`'s shape: what the speed of a training step depends on.
    fn shape(c: &TrainConfig) -> String {
        format!("{:?} {:?} {:?} {} {} {}", c.arch, c.act, c.alpha, c.width, c.depth, c.batch)
    }

    /// Per-thread training throughput of the shape of `c`, GFLOP/s, measured: 16 SGD steps of a
    /// network of that shape (at the benign $\sigma_w^2 = 1$, $\sigma_v^2 = 0.01$, so that it
    /// trains), on MNIST, on one thread, as training FLOPs
    /// ([`crate::nn::ModelSpec::train_flops_per_sample`] times samples) over the loop's wall time.
    /// Falls back to [`calibrated_gflops`] if the run cannot be made.
    fn gflops(&self, c: &TrainConfig, data: &Data) -> f64 {
        let shape = Self::shape(c);
        if let Some(&g) = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&shape) {
            return g;
        }
        let fallback = || calibrated_gflops(c.width, c.batch);
        let mut t = c.clone();
        (t.sw2, t.sv2, t.lr, t.epochs, t.eval_every_epoch) = (1.0, 0.01, 1e-3, 1, false);
        t.train_subset = Some(16 * c.batch.min(60_000 / 16));
        t.test_subset = Some(c.batch.min(10_000));
        let g = match (mnist(data), t.spec()) {
            (Ok(mnist), Ok(spec)) => match train_with(&t, mnist, Threads::Shared(&|| 1), &mut |_| {}) {
                Ok(r) if r.seconds > 0.0 && r.samples > 0 => {
                    (r.samples * spec.train_flops_per_sample()) as f64 / r.seconds / 1e9
                }
                _ => fallback(),
            },
            _ => fallback(),
        };
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(shape, g);
        g
    }

    /// The estimate of `cfgs` on `jobs` threads, each run at the measured speed of its shape
    /// ([`estimate_seconds`] per run), and the slowest and fastest speed used.
    /// Shapes not yet measured are measured first, one per thread of the current rayon pool (the
    /// grid, too, runs one network per thread).
    pub fn estimate(&self, cfgs: &[&TrainConfig], jobs: usize, data: &Data) -> (f64, f64, f64) {
        use rayon::prelude::*;
        let mut fresh: Vec<&TrainConfig> = Vec::new();
        {
            let known = self.0.lock().unwrap_or_else(|e| e.into_inner());
            let mut seen = std::collections::BTreeSet::new();
            for c in cfgs {
                let shape = Self::shape(c);
                if !known.contains_key(&shape) && seen.insert(shape) {
                    fresh.push(c);
                }
            }
        }
        fresh.par_iter().with_max_len(1).for_each(|c| {
            self.gflops(c, data);
        });
        let (mut s, mut lo, mut hi) = (0.0, f64::INFINITY, 0.0f64);
        for c in cfgs {
            let g = self.gflops(c, data);
            s += estimate_seconds(&[c], 1, g);
            (lo, hi) = (lo.min(g), hi.max(g));
        }
        (s / jobs.max(1) as f64, lo, hi)
    }
}

/// "at 40-110 GFLOP/s per thread".
fn speed_range(lo: f64, hi: f64) -> String {
    if (hi - lo).abs() < 0.5 || !lo.is_finite() {
        format!("{hi:.0}")
    } else {
        format!("{lo:.0}-{hi:.0}")
    }
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
    /// `gflops` over the machine's limit: faer's product throughput per thread times the threads.
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
    /// Its throughput per thread, GFLOP/s; the limit is this times `threads`. With
    /// `probe_concurrent`, every thread ran one product at the same time ([`probe_per_thread`])
    /// and this is the larger of a probe before the grids and one after; without (records of
    /// earlier versions), one thread ran it alone, before the grids.
    pub probe_gflops: f64,
    /// How `probe_gflops` was measured (see there).
    #[serde(default)]
    pub probe_concurrent: bool,
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

/// Prints, before the pilot, what the section will train in this shard and about how long it
/// takes, when some pilot run is not cached yet (otherwise [`train_points`] prints the grid's
/// estimate, which then knows the rates and so the cache state of every point). The cost of a
/// run does not depend on its rate, so the grid is estimated at a provisional rate, as if no point
/// were cached.
pub fn announce(cfg: &Config, ctx: &StageContext, data: &Data, speeds: &Speeds) {
    let key = |t: &TrainConfig| crate::pipeline::task_key(&salt(t.act.as_str()), t);
    let pilot: Vec<TrainConfig> =
        cfg.grids.iter().filter(|g| g.lr == super::config::Lr::Auto).flat_map(|g| cfg.pilot_runs(g)).collect();
    let todo: Vec<&TrainConfig> = pilot.iter().filter(|t| !ctx.cache.contains("training/pilot", &key(t))).collect();
    if todo.is_empty() {
        return;
    }
    let lrs = vec![0.01; cfg.grids.len()];
    let mut grid: Vec<TrainConfig> = cfg.points(&lrs).into_iter().map(|(_, t)| t).collect();
    for gi in 0..cfg.grids.len() {
        if cfg.grids[gi].lr == super::config::Lr::Auto {
            grid.extend(cfg.control_runs(gi, 0.01).into_iter().map(|(_, t)| t));
        }
    }
    let mine: Vec<&TrainConfig> =
        grid.iter().enumerate().filter(|(i, _)| crate::pipeline::in_shard(*i, ctx.shard)).map(|(_, t)| t).collect();
    let (pilot_s, a, b) = speeds.estimate(&todo, ctx.jobs, data);
    let (grid_s, c, d) = speeds.estimate(&mine, ctx.jobs, data);
    ctx.progress.info(&format!(
        "    training: the learning-rate pilot trains {} run(s), about {}, then up to {} grid point(s), at most about {} \
         if none is cached, on {} thread(s) (at {} GFLOP/s per thread, measured per network shape; failing points end \
         early)",
        todo.len(),
        human_duration(pilot_s),
        mine.len(),
        human_duration(grid_s),
        ctx.jobs,
        speed_range(a.min(c), b.max(d)),
    ));
}

/// faer's one-thread $n^3$ product ($n$ = [`PROBE_N`]) run on `jobs` threads at once, each on its
/// own matrices, as the grid runs one point per thread: the mean throughput per thread, GFLOP/s
/// (each thread's best of 3). All cores busy run slower than one core alone (clock, shared cache
/// and memory), so this is the limit the grid can reach, not one idle core's speed times `jobs`.
fn probe_per_thread(jobs: usize) -> f64 {
    mean_over_threads(jobs, || crate::nn::matmul::probe_gflops(PROBE_N, PROBE_N, PROBE_N, 3, 1, faer::Par::Seq))
}

/// Runs `probe` on `jobs` threads at once and returns the mean of their results (a thread that
/// panicked counts 0).
pub(crate) fn mean_over_threads(jobs: usize, probe: impl Fn() -> f64 + Sync) -> f64 {
    let jobs = jobs.max(1);
    let sum: f64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..jobs).map(|_| s.spawn(&probe)).collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0.0)).sum()
    });
    sum / jobs as f64
}

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
pub fn train_points(
    cfg: &Config,
    points: &[(usize, TrainConfig)],
    ctx: &StageContext,
    data: &Data,
    speeds: &Speeds,
) -> Result<Trained, StageError> {
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
        let (est, lo, hi) = speeds.estimate(&todo, ctx.jobs, data);
        ctx.progress.info(&format!(
            "    training: {} of {} points to train, at most about {} on {} thread(s) \
             (at {} GFLOP/s per thread, measured per network shape; failing points end early)",
            todo.len(),
            tasks.len(),
            human_duration(est),
            ctx.jobs,
            speed_range(lo, hi),
        ));
        let big = probe_per_thread(ctx.jobs);
        probe = Some((big, 2.0 * calibrated_gflops(cfg.width, cfg.batch)));
    }
    let whole = StageContext { shard: None, ..*ctx };
    let mut results: Vec<Option<PointResult>> = vec![None; points.len()];
    let mut computed = 0;
    let mut rates = Vec::new();
    for (gi, grid) in cfg.grids.iter().enumerate() {
        let in_grid = || (0..points.len()).filter(move |&i| points[i].0 == gi);
        // Points of another shard: only what a cache already holds.
        for i in in_grid().filter(|&i| !crate::pipeline::in_shard(i, ctx.shard)) {
            match crate::pipeline::load_task::<PointResult>(ctx, "training/points", &key(tasks[i]))? {
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
                let mnist = mnist(data)?;
                budget.waiting.fetch_sub(1, Ordering::Relaxed);
                budget.running.fetch_add(1, Ordering::Relaxed);
                let point = train_traced(t, mnist, Threads::Shared(&threads));
                budget.running.fetch_sub(1, Ordering::Relaxed);
                let PointResult { result, loss_trace } = point?;
                let spec = t.spec().map_err(|e| StageError::compute("training a point", e))?;
                let step = (result.samples * spec.train_flops_per_sample()) as f64;
                let eval = (eval_samples(t, &result, mnist.test.len()) * 2 * spec.macs_per_sample()) as f64;
                let mut w = work.lock().unwrap_or_else(|e| e.into_inner());
                *w = (w.0 + 1, w.1 + step, w.2 + eval);
                Ok(PointResult { result, loss_trace })
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
    let throughput = probe.filter(|_| !rates.is_empty()).map(|(before, shape)| {
        // Probed again after the grids: the load of a shared machine drifts during a long run, and
        // the limit is what the machine could reach, so the larger of the two counts.
        let after = probe_per_thread(ctx.jobs);
        let big = before.max(after);
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
            probe_concurrent: true,
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

/// Trains one run, keeping the batch loss at about 100 evenly spaced steps.
fn train_traced(t: &TrainConfig, mnist: &crate::nn::mnist::Mnist, threads: Threads) -> Result<PointResult, StageError> {
    let mut trace = Vec::new();
    let mut cb = |ev: TrainEvent| {
        if let TrainEvent::Step { step, total, loss } = ev {
            let every = (total / 100).max(1);
            if step % every == 0 || step + 1 == total {
                trace.push((step, loss));
            }
        }
    };
    let result = train_with(t, mnist, threads, &mut cb).map_err(|e| StageError::compute("training a point", e))?;
    Ok(PointResult { result, loss_trace: trace })
}

/// Trains the runs `tasks` (any settings, one thread each, in parallel on the stage's pool)
/// through the cache of the grid points: a run that a grid or an earlier call already trained is
/// read back, never trained again, and a run trained here is cached under the key a grid point
/// with the same configuration has. The prediction stage trains its networks at held-out depths
/// (claim C4c) with it. Every run is trained, whatever the shard.
pub fn train_runs(
    ctx: &StageContext,
    data: &Data,
    label: &str,
    tasks: &[TrainConfig],
) -> Result<Vec<PointResult>, StageError> {
    for t in tasks {
        t.validate().map_err(|e| StageError::compute("invalid training run", e))?;
    }
    let whole = StageContext { shard: None, ..*ctx };
    let mut out: Vec<Option<PointResult>> = vec![None; tasks.len()];
    let mut acts: Vec<crate::activation::ActName> = tasks.iter().map(|t| t.act).collect();
    acts.sort_by_key(|a| a.as_str());
    acts.dedup();
    for act in acts {
        let idx: Vec<usize> = (0..tasks.len()).filter(|&i| tasks[i].act == act).collect();
        let mine: Vec<&TrainConfig> = idx.iter().map(|&i| &tasks[i]).collect();
        let res = run_tasks(&whole, "training/points", &salt(act.as_str()), label, &mine, |t: &&TrainConfig| {
            train_traced(t, mnist(data)?, Threads::Shared(&|| 1))
        })?;
        for (&i, r) in idx.iter().zip(res.results) {
            out[i] = r;
        }
    }
    out.into_iter()
        .map(|r| r.ok_or_else(|| StageError::compute("training a run", std::io::Error::other("no result"))))
        .collect()
}

#[cfg(test)]
mod jobs_tests {
    use super::super::config::GridSpec;
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
                lr: super::super::config::Lr::Fixed(0.05),
                width: None,
                epochs: None,
                seeds: None,
                inits: false,
                control: false,
            }],
            ..Config::default()
        };
        let points = cfg.points(&[0.05]);
        let run = |jobs: usize| {
            let dir = tempfile::tempdir().unwrap();
            let (inputs, cache, progress) = (BTreeMap::new(), Cache::new(dir.path()), Progress::silent());
            let ctx = StageContext { inputs: &inputs, cache: &cache, progress: &progress, jobs, shard: None };
            let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs).build().unwrap();
            let (res, computed, tp) = pool
                .install(|| train_points(&cfg, &points, &ctx, &super::super::pilot::Data::new(), &Speeds::default()))
                .unwrap();
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

    /// [`train_runs`] trains a configuration to the result a grid gets for it, and shares the grid
    /// points' cache both ways: runs a grid trained are read back, runs it trained are found by a
    /// grid (nothing is computed twice).
    #[test]
    fn train_runs_shares_the_grid_points_cache() {
        let mut cfg = Config { width: 8, batch: 32, train_subset: 256, test_subset: 100, ..Config::default() };
        cfg.seeds = vec![0];
        cfg.grids.truncate(1);
        cfg.grids[0].depths = vec![2];
        (cfg.grids[0].sv2_min, cfg.grids[0].sv2_max, cfg.grids[0].sv2_count) = (0.5, 0.5, 1);
        cfg.grids[0].inits = false;
        let points = cfg.points(&[0.05]);
        let tasks: Vec<TrainConfig> = points.iter().map(|(_, t)| t.clone()).collect();
        let data = super::super::pilot::Data::new();
        let dir = tempfile::tempdir().unwrap();
        let (inputs, cache, progress) = (BTreeMap::new(), Cache::new(dir.path()), Progress::silent());
        let ctx = StageContext { inputs: &inputs, cache: &cache, progress: &progress, jobs: 1, shard: None };
        let key = crate::pipeline::task_key(&salt(tasks[0].act.as_str()), &tasks[0]);
        assert!(!cache.contains("training/points", &key));
        let fresh = train_runs(&ctx, &data, "t", &tasks).unwrap();
        assert!(cache.contains("training/points", &key), "cached under the grid point's key");
        let (grid, computed, _) = train_points(&cfg, &points, &ctx, &data, &Speeds::default()).unwrap();
        assert_eq!(computed, 0, "the grid found the run trained by train_runs");
        assert_eq!(grid[0].as_ref().unwrap(), &fresh[0]);
        let again = train_runs(&ctx, &data, "t", &tasks).unwrap();
        assert_eq!(again, fresh);
    }
}
