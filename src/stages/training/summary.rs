//! The training chapter's summary: per grid, the mean and sd over seeds of every cell (trained
//! seeds only; the failures counted by kind), the best variance per depth, Xavier and He at their
//! true points, the spread across the variances at the deepest depth against the seed sd, and
//! the learning-rate pilot and control, and whether the best variance moves with training time
//! (the ridge after epochs 1, 3 and the last).

use super::compute::{PointResult, Throughput};
use super::config::{same, Config, GridSpec};
use super::pilot::PilotSummary;
use super::row::outcome_of;
use crate::nn::train::{Outcome, TrainResult};
use serde::{Deserialize, Serialize};

/// One cell of a grid (or one Xavier / He point) in the summary.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cell {
    pub depth: usize,
    pub sw2: f64,
    pub sv2: f64,
    /// Variance-axis coordinate.
    pub axis: f64,
    /// Mean over the seeds that trained of the test accuracy (NaN, written `null`, if none did).
    pub test_acc: f64,
    /// Sample sd over the seeds that trained (0 for one).
    pub test_acc_sd: f64,
    /// Seeds that did not train (any outcome but `trained`).
    pub diverged: usize,
    pub seeds: usize,
    /// The most common failure among the seeds that failed (`None` if none failed).
    pub failure: Option<Outcome>,
}

impl Cell {
    /// Whether every seed failed.
    pub fn all_failed(&self) -> bool {
        self.diverged == self.seeds
    }
}

/// One depth of a grid: the best variance and the Xavier and He points.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DepthRow {
    pub depth: usize,
    /// Best cell (highest mean test accuracy among cells where a seed trained), if any.
    pub best: Option<Cell>,
    /// Variance-axis coordinate of the best cell.
    pub best_axis: Option<f64>,
    pub xavier: Option<Cell>,
    pub he: Option<Cell>,
}

/// Per-grid summary for the template and downstream stages.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GridSummary {
    pub spec: GridSpec,
    /// The rate the grid trained at (its own, or the pilot's choice).
    pub lr: f64,
    pub lr_auto: bool,
    pub width: usize,
    pub epochs: usize,
    pub seeds: usize,
    /// The section's `blowup_factor`.
    pub blowup_factor: f64,
    pub axis_label: String,
    pub variances: Vec<f64>,
    pub cells: Vec<Cell>,
    pub best: Vec<Cell>,
    pub xavier: Vec<Cell>,
    pub he: Vec<Cell>,
    pub rows: Vec<DepthRow>,
    pub best_acc: f64,
    pub diverged_points: usize,
    /// Failed runs by kind (`overflow_at_init`, `nonfinite`, `blowup`).
    pub failures: Vec<(Outcome, usize)>,
    /// At the deepest depth, over the cells where every seed trained: the largest minus the
    /// smallest mean accuracy (`None` with fewer than two such cells).
    pub deepest_spread: Option<f64>,
    /// The mean seed sd of those cells (`None` with one seed).
    pub deepest_seed_sd: Option<f64>,
    /// Does the ridge move with training time? The best variance per depth after epochs 1, 3 and
    /// the last (those the grid has; empty for a one-epoch grid).
    #[serde(default)]
    pub epoch_peaks: Vec<EpochPeak>,
}

/// The best variance of one depth of a grid after one epoch: the cell with the highest mean test
/// accuracy after that epoch, over the seeds that had trained that far (a run that failed before
/// the end of the epoch does not count).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EpochPeak {
    pub epoch: usize,
    pub depth: usize,
    /// Variance-axis coordinate and mean accuracy of the best cell (`None`: no run got that far).
    pub axis: Option<f64>,
    pub acc: Option<f64>,
    /// Grid steps from the best cell after the grid's last epoch (positive: a larger variance now
    /// than at the end).
    pub shift: Option<i64>,
}

/// The epochs whose ridge is shown: 1, 3 and the last (those of `1..=epochs`); none for one epoch.
pub fn peak_epochs(epochs: usize) -> Vec<usize> {
    if epochs < 2 {
        return Vec::new();
    }
    let mut e: Vec<usize> = [1, 3, epochs].into_iter().filter(|&e| e <= epochs).collect();
    e.dedup();
    e
}

/// The test accuracy of run `r` after epoch `e` (`None`: not evaluated, not finite, or the run
/// stopped before).
fn acc_after(r: &TrainResult, e: usize) -> Option<f64> {
    r.epochs_log.iter().find(|x| x.epoch == e).and_then(|x| x.test_acc).filter(|a| a.is_finite())
}

/// The ridge of grid `spec` after each of [`peak_epochs`], per depth, from the runs `pts`.
fn epoch_peaks(spec: &GridSpec, epochs: usize, pts: &[&TrainResult]) -> Vec<EpochPeak> {
    let variances = spec.variances();
    // per (epoch, depth): the index of the best axis value and its mean accuracy
    let best = |e: usize, depth: usize| -> Option<(usize, f64)> {
        variances
            .iter()
            .enumerate()
            .filter_map(|(i, &v)| {
                let accs: Vec<f64> =
                    at(pts, depth, spec.weights_at(v)).iter().filter_map(|r| acc_after(r, e)).collect();
                (!accs.is_empty()).then(|| (i, mean_sd(&accs).0))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
    };
    let mut out = Vec::new();
    for e in peak_epochs(epochs) {
        for &depth in &spec.depths {
            let b = best(e, depth);
            let last = best(epochs, depth);
            out.push(EpochPeak {
                epoch: e,
                depth,
                axis: b.map(|(i, _)| spec.axis_value(variances[i])),
                acc: b.map(|(_, a)| a),
                shift: b.zip(last).map(|((i, _), (j, _))| i as i64 - j as i64),
            });
        }
    }
    out
}

/// Half and twice the chosen rate at one depth of one grid: does the accuracy peak move?
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ControlSummary {
    pub grid: String,
    pub depth: usize,
    pub seed: u64,
    /// The chosen rate and the peak's axis value and accuracy there (first seed).
    pub lr: f64,
    pub peak_axis: Option<f64>,
    pub peak_acc: Option<f64>,
    /// Per factor (0.5, 2): the rate, the peak, and its shift in grid steps from the chosen rate's.
    pub factors: Vec<ControlFactor>,
    /// Whether a peak moved by more than one grid step.
    pub moves: bool,
}

/// One control rate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ControlFactor {
    pub factor: f64,
    pub lr: f64,
    pub peak_axis: Option<f64>,
    pub peak_acc: Option<f64>,
    /// Grid steps from the chosen rate's peak (`None` if either has no trained cell).
    pub shift: Option<i64>,
}

/// The stage's summary. `points` is every run (without per-epoch rows); `grids` per grid.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub config: Config,
    pub grids: Vec<GridSummary>,
    /// The pilot of every grid with `lr = "auto"`.
    pub pilots: Vec<PilotSummary>,
    pub controls: Vec<ControlSummary>,
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
    /// The SIMD features of the CPU that built this artifact ([`crate::nn::cpu::features`]): matrix
    /// kernels pick their code paths by them, so results are bit-identical only across machines
    /// with the same. They are those of the machine that trained the points only when this run
    /// trained all of them (`cpu_features_trained_all`); points from a cache (other shards) may
    /// come from other machines.
    pub cpu_features: Vec<String>,
    pub cpu_features_trained_all: bool,
}

/// Mean and sample standard deviation ($n - 1$ in the denominator; 0 for one value).
pub(crate) fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = if xs.len() > 1 { xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (m, v.sqrt())
}

/// The cell of the runs `runs` (one per seed) at `depth` and weight variances `(sw2, sv2)`.
fn cell(spec: &GridSpec, depth: usize, (sw2, sv2): (f64, f64), runs: &[&TrainResult]) -> Option<Cell> {
    if runs.is_empty() {
        return None;
    }
    let outcomes: Vec<Outcome> = runs.iter().map(|r| outcome_of(r).0).collect();
    let accs: Vec<f64> = runs.iter().zip(&outcomes).filter(|(_, o)| !o.failed()).map(|(r, _)| r.test_acc).collect();
    let (m, sd) = if accs.is_empty() { (f64::NAN, f64::NAN) } else { mean_sd(&accs) };
    let failure = Outcome::ALL
        .into_iter()
        .filter(|o| o.failed())
        .map(|o| (o, outcomes.iter().filter(|&&x| x == o).count()))
        .filter(|&(_, n)| n > 0)
        .max_by_key(|&(_, n)| n)
        .map(|(o, _)| o);
    Some(Cell {
        depth,
        sw2,
        sv2,
        axis: spec.axis_of(sw2, sv2),
        test_acc: m,
        test_acc_sd: sd,
        diverged: runs.len() - accs.len(),
        seeds: runs.len(),
        failure,
    })
}

fn at<'a>(pts: &[&'a TrainResult], depth: usize, (sw2, sv2): (f64, f64)) -> Vec<&'a TrainResult> {
    pts.iter().filter(|p| p.depth == depth && same(p.sw2, sw2) && same(p.sv2, sv2)).copied().collect()
}

/// The summary of one grid from its trained points, at rate `lr`.
pub fn summarize_grid(cfg: &Config, spec: &GridSpec, lr: f64, pts: &[&TrainResult]) -> GridSummary {
    let variances = spec.variances();
    let mut cells = Vec::new();
    let (mut xavier, mut he) = (Vec::new(), Vec::new());
    for &depth in &spec.depths {
        for &v in &variances {
            let w = spec.weights_at(v);
            cells.extend(cell(spec, depth, w, &at(pts, depth, w)));
        }
        if spec.has_inits() {
            for (init, out) in [(super::points::Init::Xavier, &mut xavier), (super::points::Init::He, &mut he)] {
                let w = init.weights();
                out.extend(cell(spec, depth, w, &at(pts, depth, w)));
            }
        }
    }
    let best: Vec<Cell> = spec
        .depths
        .iter()
        .filter_map(|&d| {
            cells
                .iter()
                .filter(|c| c.depth == d && !c.all_failed())
                .max_by(|a, b| a.test_acc.total_cmp(&b.test_acc))
                .cloned()
        })
        .collect();
    let rows = spec
        .depths
        .iter()
        .map(|&d| {
            let b = best.iter().find(|c| c.depth == d).cloned();
            DepthRow {
                depth: d,
                best_axis: b.as_ref().map(|c| c.axis),
                best: b,
                xavier: xavier.iter().find(|c: &&Cell| c.depth == d).cloned(),
                he: he.iter().find(|c: &&Cell| c.depth == d).cloned(),
            }
        })
        .collect();
    let deep = *spec.depths.last().unwrap_or(&1);
    let full: Vec<&Cell> = cells.iter().filter(|c| c.depth == deep && c.diverged == 0).collect();
    let deepest_spread = (full.len() >= 2).then(|| {
        let accs = full.iter().map(|c| c.test_acc);
        accs.clone().fold(f64::NEG_INFINITY, f64::max) - accs.fold(f64::INFINITY, f64::min)
    });
    let deepest_seed_sd = (full.len() >= 2 && spec.seeds_or(&cfg.seeds).len() > 1)
        .then(|| full.iter().map(|c| c.test_acc_sd).sum::<f64>() / full.len() as f64);
    let outcomes: Vec<Outcome> = pts.iter().map(|p| outcome_of(p).0).collect();
    let epochs = spec.epochs_or(cfg.epochs);
    GridSummary {
        epoch_peaks: epoch_peaks(spec, epochs, pts),
        rows,
        lr,
        lr_auto: spec.lr == super::config::Lr::Auto,
        width: spec.width_or(cfg.width),
        epochs,
        seeds: spec.seeds_or(&cfg.seeds).len(),
        blowup_factor: cfg.blowup_factor,
        axis_label: spec.axis_label().into(),
        variances,
        best_acc: best.iter().map(|c| c.test_acc).fold(f64::NAN, f64::max),
        diverged_points: outcomes.iter().filter(|o| o.failed()).count(),
        failures: Outcome::ALL
            .into_iter()
            .filter(|o| o.failed())
            .map(|o| (o, outcomes.iter().filter(|&&x| x == o).count()))
            .collect(),
        deepest_spread,
        deepest_seed_sd,
        xavier,
        he,
        best,
        cells,
        spec: spec.clone(),
    }
}

/// The index of the axis value with the highest accuracy among trained runs, its axis value and
/// accuracy.
fn peak(spec: &GridSpec, runs: &[&TrainResult]) -> Option<(usize, f64, f64)> {
    spec.variances()
        .iter()
        .enumerate()
        .filter_map(|(i, &v)| {
            let (w, s) = spec.weights_at(v);
            runs.iter()
                .find(|r| same(r.sw2, w) && same(r.sv2, s) && !outcome_of(r).0.failed())
                .map(|r| (i, spec.axis_value(v), r.test_acc))
        })
        .max_by(|a, b| a.2.total_cmp(&b.2))
}

/// The control of grid `gi` at rate `lr`: `main` are the grid's points, `control` the control
/// runs (factor, result).
pub fn summarize_control(
    cfg: &Config,
    gi: usize,
    lr: f64,
    main: &[&TrainResult],
    control: &[(f64, &TrainResult)],
) -> Vec<ControlSummary> {
    let g = &cfg.grids[gi];
    let seed = g.seeds_or(&cfg.seeds)[0];
    let mut out = Vec::new();
    if !g.has_control() {
        return out;
    }
    for &depth in cfg.pilot.control_depths.iter().filter(|d| g.depths.contains(d)) {
        let base: Vec<&TrainResult> = main.iter().filter(|r| r.depth == depth && r.seed == seed).copied().collect();
        let p0 = peak(g, &base);
        let factors: Vec<ControlFactor> = [0.5, 2.0]
            .into_iter()
            .map(|f| {
                let runs: Vec<&TrainResult> =
                    control.iter().filter(|(x, r)| *x == f && r.depth == depth).map(|(_, r)| *r).collect();
                let p = peak(g, &runs);
                ControlFactor {
                    factor: f,
                    lr: super::config::round12(lr * f),
                    peak_axis: p.map(|p| p.1),
                    peak_acc: p.map(|p| p.2),
                    shift: p.zip(p0).map(|(p, q)| p.0 as i64 - q.0 as i64),
                }
            })
            .collect();
        out.push(ControlSummary {
            grid: g.name.clone(),
            depth,
            seed,
            lr,
            peak_axis: p0.map(|p| p.1),
            peak_acc: p0.map(|p| p.2),
            moves: factors.iter().any(|f| f.shift.is_some_and(|s| s.abs() > 1)),
            factors,
        });
    }
    out
}

/// The stage's summary from the points at hand (`have`: grid index and result), the rate of
/// every grid, the pilots, the controls, and the number of points this run trained.
pub fn summarize(
    cfg: &Config,
    have: &[(usize, &PointResult)],
    lrs: &[f64],
    pilots: Vec<PilotSummary>,
    controls: Vec<ControlSummary>,
    computed: usize,
    throughput: Option<Throughput>,
) -> Summary {
    let grids: Vec<GridSummary> = cfg
        .grids
        .iter()
        .enumerate()
        .map(|(gi, g)| {
            let pts: Vec<&TrainResult> = have.iter().filter(|(i, _)| *i == gi).map(|(_, p)| &p.result).collect();
            summarize_grid(cfg, g, lrs[gi], &pts)
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
        cpu_features: crate::nn::cpu::features(),
        cpu_features_trained_all: computed == have.len(),
        config: cfg.clone(),
        n_points: all.len(),
        n_computed: computed,
        n_diverged: all.iter().filter(|r| outcome_of(r).0.failed()).count(),
        total_train_seconds: all.iter().map(|r| r.seconds + r.eval_seconds).sum(),
        median_samples_per_sec: sps.get(sps.len() / 2).copied().unwrap_or(f64::NAN),
        min_best_acc: grids.iter().map(|g| g.best_acc).fold(f64::INFINITY, f64::min),
        grids,
        pilots,
        controls,
        points: all,
        throughput,
    }
}
