//! Stage "training" (chapter 5): grids of residual networks trained on MNIST.
//!
//! A grid is a list of points (architecture, activation, alpha, width, depth, sw2, sv2, sb2, sa2,
//! learning rate, epochs, seed). Every point is one [`crate::nn::train::train`] run, cached on its
//! own through [`crate::pipeline::run_tasks`]: an interrupted run resumes, a changed grid trains
//! only new points, `run training --shard K/N` trains a share of the points. Grids run one after
//! the other; a grid's points run in parallel, longest first, one per thread while points are
//! waiting, and the last ones running share the threads that became free (a point's steps then
//! run in column ranges on several threads; its result is the same, see
//! [`crate::nn::train::Threads`]). The run records its throughput ([`Throughput`]: FLOPs, wall
//! time, GFLOP/s per grid and in total, against faer's product throughput probed in the same
//! run), which Appendix B shows.
//!
//! The chapter checks no claim itself ([`claims`]): it measures test accuracy over depth and
//! variance per grid, the best variance per depth and the Xavier ($\sigma_v^2 = 1$) and He
//! ($\sigma_v^2 = 2$) columns, and exports every run as the table `training` ([`TrainingRow`]),
//! which the prediction chapter reads.

pub mod claims;
pub mod compute;
pub mod config;
pub mod figures;
pub mod pilot;
pub mod points;
pub mod row;
pub mod summary;
#[cfg(test)]
mod tests;

pub use compute::{GridThroughput, PointResult, Throughput};
pub use config::{Config, GridSpec, Lr, Pilot, PilotRule};
pub use row::{TrainingRecord, TrainingRow};
pub use summary::{Cell, DepthRow, GridSummary, Summary};

use crate::nn::train::{TrainConfig, TrainResult};
use crate::pipeline::{Artifact, ConfigError, DataTable, Stage, StageContext, StageError};

/// Version of the stage's summary, tables and figures (bump when they change).
const VERSION: u32 = 9;
/// Version of a trained point (bump when training itself changes results): salts the point keys.
const POINT_VERSION: u32 = 3;

/// Version of the points of one activation whose own kernel changed results (the others keep
/// their cached points): 3 for alpha-ReLU, whose `f32` power became a vectorized polynomial
/// ([`crate::nn::scalar::fast_pow_f32`]) instead of libm's `powf` (2: a first form of it).
fn act_version(act: &str) -> u32 {
    match act {
        "alpha-relu" => 3,
        _ => 1,
    }
}

/// The salt of the cache keys of the points of activation `act`.
fn salt(act: &str) -> String {
    match act_version(act) {
        1 => format!("training-point-v{POINT_VERSION}"),
        v => format!("training-point-v{POINT_VERSION}-{act}-v{v}"),
    }
}

/// The stage.
pub struct TrainingStage {
    cfg: Config,
}

impl TrainingStage {
    /// The stage for a profile section, whose values are checked here ([`Config::check`]).
    pub fn new(cfg: Config) -> Result<Self, ConfigError> {
        cfg.check()?;
        Ok(Self { cfg })
    }
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
        crate::pipeline::key_value(&self.cfg).expect("config serializes")
    }
    fn chapter(&self) -> Option<crate::pipeline::Chapter> {
        Some(crate::pipeline::Chapter {
            title: "Training",
            template: include_str!("../../../templates/chapters/training.md.j2"),
        })
    }

    fn run(&self, ctx: &StageContext) -> Result<Artifact, StageError> {
        let cfg = &self.cfg;
        let data = pilot::Data::new();
        let speeds = compute::Speeds::default();
        compute::announce(cfg, ctx, &data, &speeds);
        let pilots = pilot::run_pilots(cfg, ctx, &data)?;
        let lrs = pilot::rates(cfg, &pilots);
        let mut points = cfg.points(&lrs);
        let n_main = points.len();
        // The controls follow the grid points, so a control never shifts a grid point's shard.
        let mut factors = Vec::new();
        for (gi, p) in pilots.iter().enumerate() {
            if p.is_some() {
                for (f, t) in cfg.control_runs(gi, lrs[gi]) {
                    factors.push(f);
                    points.push((gi, t));
                }
            }
        }
        let (results, computed, throughput) = compute::train_points(cfg, &points, ctx, &data, &speeds)?;
        let have: Vec<(usize, &PointResult, &TrainConfig)> =
            results[..n_main].iter().zip(&points).filter_map(|(r, (gi, t))| r.as_ref().map(|r| (*gi, r, t))).collect();
        if ctx.shard.is_some() {
            ctx.progress.info(&format!("    training: this shard holds {} of {} points", have.len(), n_main));
        }
        let mut controls = Vec::new();
        for (gi, p) in pilots.iter().enumerate() {
            if p.is_none() || cfg.pilot.control_depths.is_empty() {
                continue;
            }
            let main: Vec<&TrainResult> = have.iter().filter(|h| h.0 == gi).map(|h| &h.1.result).collect();
            let ctl: Vec<(f64, &TrainResult)> = results[n_main..]
                .iter()
                .zip(&points[n_main..])
                .zip(&factors)
                .filter_map(|((r, (g, _)), f)| r.as_ref().filter(|_| *g == gi).map(|r| (*f, &r.result)))
                .collect();
            controls.extend(summary::summarize_control(cfg, gi, lrs[gi], &main, &ctl));
        }
        let pairs: Vec<(usize, &PointResult)> = have.iter().map(|h| (h.0, h.1)).collect();
        let summary = summary::summarize(
            cfg,
            &pairs,
            &lrs,
            pilots.into_iter().flatten().collect(),
            controls,
            computed,
            throughput,
        );

        let mut figs = Vec::new();
        if ctx.shard.is_none() {
            for g in &summary.grids {
                figs.push(figures::heatmap(g)?);
            }
            for (gi, g) in summary.grids.iter().enumerate() {
                figs.push(figures::curves(gi, g, &pairs)?);
            }
        }
        let rows = have
            .iter()
            .map(|(gi, p, t)| {
                let g = &cfg.grids[*gi];
                serde_json::to_value(TrainingRecord::new(&g.name, t, &p.result, g.act))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StageError::compute("table training", e))?;
        let curves_rows = have
            .iter()
            .flat_map(|(gi, p, _)| {
                let name = cfg.grids[*gi].name.clone();
                p.result.epochs_log.iter().map(move |e| {
                    serde_json::json!({
                        "grid": name, "depth": p.result.depth, "sv2": p.result.sv2, "seed": p.result.seed,
                        "epoch": e.epoch, "train_loss": e.train_loss, "train_acc": e.train_acc,
                        "test_acc": e.test_acc, "test_loss": e.test_loss,
                    })
                })
            })
            .collect();
        let pilot_rows = summary
            .pilots
            .iter()
            .flat_map(|p| {
                p.runs.iter().map(move |r| {
                    serde_json::json!({
                        "grid": p.grid, "depth": p.depth, "width": p.width, "sw2": p.sw2, "sv2": p.sv2,
                        "train_subset": p.train_subset, "lr": r.lr, "seed": r.seed, "outcome": r.measure.outcome,
                        "outcome_step": r.measure.outcome_step, "initial_loss": r.measure.initial_loss,
                        "final_loss": r.measure.final_loss, "trains": r.trains, "chosen": r.lr == p.chosen,
                    })
                })
            })
            .collect();
        Ok(Artifact {
            summary: serde_json::to_value(&summary).map_err(|e| StageError::compute("summary", e))?,
            tables: vec![
                DataTable {
                    name: "training".into(),
                    rows,
                    json_key: Some("points".into()),
                    extra: [("cpu_features".to_string(), serde_json::json!(summary.cpu_features))]
                        .into_iter()
                        .collect(),
                },
                DataTable {
                    name: "training_pilot".into(),
                    rows: pilot_rows,
                    json_key: None,
                    extra: Default::default(),
                },
                DataTable {
                    name: "training_epochs".into(),
                    rows: curves_rows,
                    json_key: None,
                    extra: Default::default(),
                },
            ],
            figures: figs,
            claims: claims::claims(),
        })
    }
}
