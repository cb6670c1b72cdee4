//! Stage "training" (chapter 5): grids of residual networks trained on MNIST.
//!
//! A grid is a list of points (architecture, activation, alpha, width, depth, sw2, sv2, sb2, sa2,
//! learning rate, epochs, seed). Every point is one [`crate::nn::train::train`] run, cached on its
//! own through [`crate::pipeline::run_tasks`]: an interrupted run resumes, a changed grid trains
//! only new points, `run training --shard K/N` trains a share of the points, and the points run in
//! parallel (one per thread, faer sequential inside: the products at N <= 256 are too small to gain
//! from splitting, and whole runs in parallel scale perfectly).

use crate::architecture::Architecture;
use crate::nn::mnist::Mnist;
use crate::nn::train::{train, TrainConfig, TrainEvent, TrainResult};
use crate::pipeline::{run_tasks, Artifact, DataTable, Figure, Stage, StageContext, StageError};
use crate::report::figures::{Heatmap, LinePlot, MarkerShape, Series, SeriesStyle};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// One grid: depth on one axis, a log-spaced variance on the other.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GridSpec {
    /// Short name, used in figure and table names (`frn-tanh`).
    pub name: String,
    pub arch: Architecture,
    /// `tanh`, `relu`, `alpha-relu`, `erf`.
    pub act: String,
    #[serde(default)]
    pub alpha: Option<f64>,
    pub depths: Vec<usize>,
    /// Fixed $\sigma_w^2$; the grid varies $\sigma_v^2$ (for ReLU-type activations only the product
    /// $\sigma_v^2\sigma_w^2$ matters at zero biases, which is the axis the chapter labels).
    pub sw2: f64,
    /// Smallest and largest $\sigma_v^2$ and the number of log-spaced values; Xavier (1) and He (2)
    /// are always added.
    pub sv2_min: f64,
    pub sv2_max: f64,
    pub sv2_count: usize,
    #[serde(default)]
    pub sb2: f64,
    #[serde(default)]
    pub sa2: f64,
    pub lr: f64,
}

/// The profile section `[training]`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub width: usize,
    pub batch: usize,
    pub epochs: usize,
    /// The first M training images.
    pub train_subset: usize,
    /// The first M test images (10000: the full test set).
    pub test_subset: usize,
    pub seeds: Vec<u64>,
    /// A finite batch loss above this ends a run as diverged.
    pub loss_threshold: f64,
    pub grids: Vec<GridSpec>,
}

fn grid(name: &str, act: &str, alpha: Option<f64>, depths: &[usize], lr: f64) -> GridSpec {
    GridSpec {
        name: name.into(),
        arch: Architecture::Full,
        act: act.into(),
        alpha,
        depths: depths.to_vec(),
        sw2: 1.0,
        sv2_min: 0.01,
        sv2_max: 100.0,
        sv2_count: 7,
        sb2: 0.0,
        sa2: 0.0,
        lr,
    }
}

impl Default for Config {
    /// The quick profile.
    fn default() -> Self {
        Self {
            width: 64,
            batch: 64,
            epochs: 1,
            train_subset: 60_000,
            test_subset: 10_000,
            seeds: vec![0, 1],
            loss_threshold: 1e3,
            grids: vec![
                grid("frn-tanh", "tanh", None, &[4, 8, 16, 32], 0.05),
                grid("frn-relu", "relu", None, &[4, 8, 16, 32], 0.02),
                grid("frn-alpha-relu", "alpha-relu", Some(0.75), &[4, 8, 16, 32], 0.02),
            ],
        }
    }
}

impl GridSpec {
    /// The $\sigma_v^2$ values: log-spaced from min to max, plus 1 (Xavier) and 2 (He), sorted.
    pub fn variances(&self) -> Vec<f64> {
        let mut v: Vec<f64> = if self.sv2_count <= 1 {
            vec![self.sv2_min]
        } else {
            let (a, b) = (self.sv2_min.ln(), self.sv2_max.ln());
            (0..self.sv2_count).map(|i| (a + (b - a) * i as f64 / (self.sv2_count - 1) as f64).exp()).collect()
        };
        for x in [1.0, 2.0] {
            match v.iter().position(|&y| same(y, x)) {
                Some(i) => v[i] = x, // exactly Xavier / He, not a rounding neighbour
                None => v.push(x),
            }
        }
        v.sort_by(f64::total_cmp);
        v
    }

    /// The label of the variance axis.
    pub fn axis_label(&self) -> &'static str {
        if self.act == "tanh" || self.act == "erf" {
            "sigma_v^2"
        } else {
            "sigma_v^2 sigma_w^2"
        }
    }

    /// The variance-axis coordinate of a point.
    pub fn axis_value(&self, sv2: f64) -> f64 {
        if self.axis_label() == "sigma_v^2" {
            sv2
        } else {
            sv2 * self.sw2
        }
    }
}

impl Config {
    fn validate(&self) -> Result<(), StageError> {
        let bad = |m: String| Err(StageError::compute("training", format!("invalid [training] profile section: {m}")));
        if self.seeds.is_empty() {
            return bad("seeds is empty (valid: at least one seed)".into());
        }
        let mut names = std::collections::BTreeSet::new();
        for g in &self.grids {
            if !names.insert(&g.name) {
                return bad(format!("grid name '{}' appears twice (valid: unique names)", g.name));
            }
            if g.depths.is_empty() || g.depths.contains(&0) {
                return bad(format!("grid '{}': depths {:?} (valid: a non-empty list of depths >= 1)", g.name, g.depths));
            }
            if !(g.sv2_min > 0.0 && g.sv2_max >= g.sv2_min && g.sv2_count >= 1) {
                return bad(format!(
                    "grid '{}': sv2_min = {}, sv2_max = {}, sv2_count = {} (valid: 0 < sv2_min <= sv2_max, sv2_count >= 1)",
                    g.name, g.sv2_min, g.sv2_max, g.sv2_count
                ));
            }
        }
        Ok(())
    }

    /// Every training run of every grid, in a fixed order (grid, depth, variance, seed).
    pub fn points(&self) -> Vec<(usize, TrainConfig)> {
        let mut out = Vec::new();
        for (gi, g) in self.grids.iter().enumerate() {
            for &depth in &g.depths {
                for sv2 in g.variances() {
                    for &seed in &self.seeds {
                        out.push((
                            gi,
                            TrainConfig {
                                arch: g.arch,
                                act: g.act.clone(),
                                alpha: g.alpha,
                                width: self.width,
                                depth,
                                sw2: g.sw2,
                                sv2,
                                sb2: g.sb2,
                                sa2: g.sa2,
                                lr: g.lr,
                                momentum: 0.0,
                                batch: self.batch,
                                epochs: self.epochs,
                                train_subset: Some(self.train_subset),
                                test_subset: Some(self.test_subset),
                                seed,
                                threads: 1,
                                matmul_threads: 1,
                                loss_threshold: self.loss_threshold,
                                eval_every_epoch: true,
                            },
                        ));
                    }
                }
            }
        }
        out
    }
}

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

/// The stage.
pub struct TrainingStage {
    cfg: Config,
}

impl TrainingStage {
    /// The stage for a profile section, whose values are checked here.
    pub fn new(cfg: Config) -> Result<Self, crate::pipeline::ConfigError> {
        cfg.validate().map_err(|e| crate::pipeline::Section("training").error("section", "(see below)", e.to_string()))?;
        Ok(Self { cfg })
    }
}

/// Version of the stage's summary, tables and figures (bump when they change).
const VERSION: u32 = 4;
/// Version of a trained point (bump when training itself changes results): salts the point keys.
const POINT_VERSION: u32 = 2;

/// Cost model for the estimate printed before a run: the FLOPs of every training step
/// ([`crate::nn::ModelSpec::train_flops_per_sample`]) and of the evaluations, at `gflops` per
/// thread. Points that diverge end early, so this is an upper bound on a grid with failure modes.
fn estimate_seconds(cfgs: &[&TrainConfig], jobs: usize, gflops: f64) -> f64 {
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

fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = if xs.len() > 1 { xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (m, v.sqrt())
}

fn summarize_grid(spec: &GridSpec, pts: &[&TrainResult]) -> GridSummary {
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

fn heatmap(g: &GridSummary) -> Result<Figure, StageError> {
    let x: Vec<f64> = g.variances.iter().map(|&v| g.spec.axis_value(v)).collect();
    let y: Vec<f64> = g.spec.depths.iter().map(|&d| d as f64).collect();
    let values: Vec<Vec<Option<f64>>> = g
        .spec
        .depths
        .iter()
        .map(|&d| {
            g.variances
                .iter()
                .map(|&v| {
                    g.cells.iter().find(|c| c.depth == d && same(c.sv2, v)).map(|c| {
                        if c.diverged == c.seeds {
                            f64::NAN
                        } else {
                            c.test_acc
                        }
                    })
                })
                .collect()
        })
        .collect();
    let label = if g.axis_label == "sigma_v^2" { "σ_v²" } else { "σ_v² σ_w²" };
    let act = match g.spec.alpha {
        Some(a) => format!("{} (α = {a})", g.spec.act),
        None => g.spec.act.clone(),
    };
    let mut h = Heatmap::new(format!("{} {act}: test accuracy", g.spec.arch.short()), label, "depth L", x, y, values)
        .log_x()
        .log_y()
        .y_ticks_at_cells()
        .colorbar("test accuracy")
        .color_range(0.0, 1.0);
    h = h.marker(g.spec.axis_value(1.0), *g.spec.depths.last().unwrap_or(&1) as f64, "Xavier", MarkerShape::Circle);
    h = h.marker(g.spec.axis_value(2.0), *g.spec.depths.last().unwrap_or(&1) as f64, "He", MarkerShape::Triangle);
    let svg = h.render().map_err(|e| StageError::compute("training", format!("figure training-{}: {e}", g.spec.name)))?;
    Ok(Figure {
        name: format!("training-{}", g.spec.name),
        caption: format!(
            "Test accuracy of {} {act} networks after training, over depth $L$ and {}; grey cells with a cross diverged. Markers at the deepest depth show the Xavier ($\\sigma_v^2 = 1$) and He ($\\sigma_v^2 = 2$) columns.",
            g.spec.arch.short(),
            if g.axis_label == "sigma_v^2" { "$\\sigma_v^2$ (at fixed $\\sigma_w^2$)" } else { "$\\sigma_v^2\\sigma_w^2$" }
        ),
        svg,
    })
}

/// Training curves of one grid at its deepest depth: the best variance, Xavier, He and the largest
/// variance (first seed). A run that diverged ends in a cross at the step where it stopped, drawn
/// at the loss threshold (the loss crossed it there, or became non-finite).
fn curves(gi: usize, g: &GridSummary, points: &[(usize, &PointResult)], threshold: f64) -> Result<Figure, StageError> {
    let deep = *g.spec.depths.last().unwrap_or(&1);
    let first_seed = points.iter().map(|(_, p)| p.result.seed).min().unwrap_or(0);
    let axis = if g.axis_label == "sigma_v^2" { "σ_v²" } else { "σ_v² σ_w²" };
    let mut plot = LinePlot::new(format!("{}: training loss at L = {deep}", g.spec.name), "step", "batch loss").log_x().log_y();
    let mut stops = Vec::new();
    let mut chosen: Vec<(&str, f64)> = Vec::new();
    if let Some(best) = g.best.iter().find(|c| c.depth == deep) {
        chosen.push(("best", best.sv2));
    }
    chosen.push(("Xavier", 1.0));
    chosen.push(("He", 2.0));
    chosen.push(("largest", *g.variances.last().unwrap_or(&1.0)));
    let mut seen: Vec<f64> = Vec::new();
    for (k, (what, sv2)) in chosen.into_iter().enumerate() {
        if seen.iter().any(|&v| same(v, sv2)) {
            continue; // the best cell may be Xavier or He
        }
        seen.push(sv2);
        let Some((_, p)) =
            points.iter().find(|(i, p)| *i == gi && p.result.depth == deep && same(p.result.sv2, sv2) && p.result.seed == first_seed)
        else {
            continue;
        };
        let pts: Vec<(f64, f64)> = p.loss_trace.iter().map(|&(s, l)| (s as f64 + 1.0, l)).collect();
        let tag = if p.result.diverged { ", diverged" } else { "" };
        let label = format!("{what}: {axis} = {}{tag}", crate::report::format::num(g.spec.axis_value(sv2), 2));
        plot = plot.series(Series::new(label, pts).color(k));
        if let (true, Some(step)) = (p.result.diverged, p.result.diverged_step) {
            stops.push((step as f64 + 1.0, threshold));
        }
    }
    if !stops.is_empty() {
        plot = plot.series(Series::new("run stopped (diverged)", stops).style(SeriesStyle::Markers).color(6));
    }
    let svg = plot.render().map_err(|e| StageError::compute("training", format!("figure training-curves-{}: {e}", g.spec.name)))?;
    Ok(Figure {
        name: format!("training-curves-{}", g.spec.name),
        caption: format!(
            "Batch training loss against step (log axes) of grid `{}` at its deepest depth $L = {deep}$ (first seed): the \
             best variance, Xavier, He and the largest variance of the grid. A run that diverged stops at the black \
             marker, drawn at the loss threshold {} that its loss crossed (or its loss became non-finite).",
            g.spec.name,
            crate::report::format::num(threshold, 3)
        ),
        svg,
    })
}

impl Stage for TrainingStage {
    fn name(&self) -> &'static str {
        "training"
    }
    fn version(&self) -> u32 {
        VERSION
    }
    fn deps(&self) -> &'static [&'static str] {
        &[]
    }
    fn config(&self) -> serde_json::Value {
        serde_json::to_value(&self.cfg).expect("config serializes")
    }
    fn chapter(&self) -> Option<crate::pipeline::Chapter> {
        Some(crate::pipeline::Chapter { title: "Training", template: include_str!("../../../templates/chapters/training.md.j2") })
    }

    fn run(&self, ctx: &StageContext) -> Result<Artifact, StageError> {
        let cfg = &self.cfg;
        cfg.validate()?;
        let points = cfg.points();
        let tasks: Vec<&TrainConfig> = points.iter().map(|(_, c)| c).collect();
        for t in &tasks {
            t.validate().map_err(|e| StageError::compute("training", format!("invalid training point: {e}")))?;
        }
        let todo: Vec<&TrainConfig> = tasks
            .iter()
            .enumerate()
            .filter(|(i, t)| crate::pipeline::in_shard(*i, ctx.shard) && !ctx.cache.contains("training/points", &crate::pipeline::cache::hash_key(&(salt(), t))))
            .map(|(_, t)| *t)
            .collect();
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
        let data: OnceLock<Result<Mnist, String>> = OnceLock::new();
        let results = run_tasks(ctx, "training/points", &salt(), "training", &tasks, |t: &&TrainConfig| {
            let mnist = data
                .get_or_init(|| Mnist::load_from(None).map_err(|e| e.to_string()))
                .as_ref()
                .map_err(|e| StageError::compute("training", format!("cannot load MNIST: {e}")))?;
            let mut trace = Vec::new();
            let mut cb = |ev: TrainEvent| {
                if let TrainEvent::Step { step, total, loss } = ev {
                    let every = (total / 100).max(1);
                    if step % every == 0 || step + 1 == total {
                        trace.push((step, loss));
                    }
                }
            };
            let result = train(t, mnist, &mut cb).map_err(|e| StageError::compute("training", e.to_string()))?;
            Ok(PointResult { result, loss_trace: trace })
        })?;
        let have: Vec<(usize, &PointResult)> =
            results.results.iter().zip(&points).filter_map(|(r, (gi, _))| r.as_ref().map(|r| (*gi, r))).collect();
        if ctx.shard.is_some() {
            ctx.progress.info(&format!("    training: this shard holds {} of {} points", have.len(), points.len()));
        }

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
        let summary = Summary {
            config: cfg.clone(),
            n_points: all.len(),
            n_computed: results.computed,
            n_diverged: all.iter().filter(|r| r.diverged).count(),
            total_train_seconds: all.iter().map(|r| r.seconds + r.eval_seconds).sum(),
            median_samples_per_sec: sps.get(sps.len() / 2).copied().unwrap_or(f64::NAN),
            min_best_acc: grids.iter().map(|g| g.best_acc).fold(f64::INFINITY, f64::min),
            grids,
            points: all,
        };

        let mut figures = Vec::new();
        if ctx.shard.is_none() {
            for g in &summary.grids {
                figures.push(heatmap(g)?);
            }
            for (gi, g) in summary.grids.iter().enumerate() {
                figures.push(curves(gi, g, &have, cfg.loss_threshold)?);
            }
        }
        let rows = summary
            .points
            .iter()
            .map(|r| {
                serde_json::json!({
                    "arch": r.arch, "act": r.act, "alpha": r.alpha, "width": r.width, "depth": r.depth,
                    "sw2": r.sw2, "sv2": r.sv2, "sb2": r.sb2, "sa2": r.sa2, "lr": r.lr, "batch": r.batch,
                    "epochs": r.epochs, "train_subset": r.train_subset, "seed": r.seed,
                    "test_acc": r.test_acc, "train_acc": r.train_acc, "final_loss": r.final_loss,
                    "diverged": r.diverged, "diverged_step": r.diverged_step, "diverged_reason": r.diverged_reason,
                    "seconds": r.seconds, "samples_per_sec": r.samples_per_sec,
                })
            })
            .collect();
        let curves_rows = have
            .iter()
            .flat_map(|(gi, p)| {
                let name = cfg.grids[*gi].name.clone();
                p.result.epochs_log.iter().map(move |e| {
                    serde_json::json!({
                        "grid": name, "depth": p.result.depth, "sv2": p.result.sv2, "seed": p.result.seed,
                        "epoch": e.epoch, "train_loss": e.train_loss, "train_acc": e.train_acc,
                        "test_acc": e.test_acc, "test_loss": e.test_loss, "seconds": e.seconds,
                    })
                })
            })
            .collect();
        Ok(Artifact {
            summary: serde_json::to_value(&summary).map_err(|e| StageError::compute("training", e.to_string()))?,
            tables: vec![
                DataTable { name: "training".into(), rows, json_key: Some("points".into()), extra: Default::default() },
                DataTable { name: "training_epochs".into(), rows: curves_rows, json_key: None, extra: Default::default() },
            ],
            figures,
            claims: vec![],
        })
    }
}

/// Whether two variances are the same grid value (relative tolerance 1e-9).
fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

fn salt() -> String {
    format!("training-point-v{POINT_VERSION}")
}

fn human_duration(s: f64) -> String {
    if s < 90.0 {
        format!("{s:.0} s")
    } else if s < 5400.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}
