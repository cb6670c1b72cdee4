//! Stage "prediction" (chapter 6): init-time mean-field theory against trained accuracy.
//!
//! For every trained grid (one architecture, activation and set of training hyperparameters,
//! depth x variance x seeds) it computes the init-time metrics of every grid point from the
//! mean-field recurrences, finds the accuracy ridge (best variance per depth), fits
//! $\ln v^*$ against $\ln L$, measures how each metric varies along the ridge and how well it
//! predicts accuracy across depths, compares Xavier, He and the theory's depth-aware
//! initialization with the best, draws accuracy heatmaps with the metric's contours, and states
//! the paper's claims 3 and 4 as checkable claims ([`claims`]: C3a-C3f, C4a, C4b).
//!
//! The theory enters through the [`Theory`] trait (the mean-field engine in production, closed
//! forms in tests); everything else is [`crate::analysis`]. The trained points are the rows of
//! the training stage's table `training`, read as [`TrainingRow`]s.

pub mod claims;
pub mod compute;
pub mod config;
pub mod figures;
pub mod held_out;
#[cfg(test)]
mod tests;

pub use compute::{
    analyze, contour_metrics, divergence_boundary, group_points, held_out_table, input_moments, prediction_table,
    ridge_table, summary, Analysis, Axis, AxisError, BoundaryPoint, GroupError, GroupResult, InitConfig, MeanField,
    Target, Theory, HE_VARIANCE, XAVIER_VARIANCE,
};
pub use config::Config;
pub use figures::{collapse_figure, contour_levels, heatmap, ridge_figure};

use crate::pipeline::{Artifact, ConfigError, StageContext, StageError};
use crate::stages::training::{TrainingRecord, TrainingRow};
use held_out::{HeldOutRun, Trainer};

/// Version of the stage's summary, tables and figures (bump when they change).
const VERSION: u32 = 10;

/// What is wrong with the training stage's artifact as the prediction stage reads it.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("the training artifact has no table 'training'")]
    NoTrainingTable,
    #[error("training table row {row}: {source}")]
    BadRow { row: usize, source: serde_json::Error },
}

/// The stage.
pub struct PredictionStage {
    cfg: Config,
}

impl PredictionStage {
    /// The stage for a profile section, whose values are checked here ([`Config::check`]).
    pub fn new(cfg: Config) -> Result<Self, ConfigError> {
        cfg.check()?;
        Ok(Self { cfg })
    }
}

impl crate::pipeline::Stage for PredictionStage {
    fn name(&self) -> &'static str {
        "prediction"
    }
    fn version(&self) -> u32 {
        VERSION
    }
    fn deps(&self) -> &'static [&'static str] {
        &["training"]
    }
    fn config(&self) -> serde_json::Value {
        crate::pipeline::key_value(&self.cfg).expect("config serializes")
    }
    fn chapter(&self) -> Option<crate::pipeline::Chapter> {
        Some(crate::pipeline::Chapter {
            title: "Prediction",
            template: include_str!("../../../templates/chapters/prediction.md.j2"),
        })
    }
    fn run(&self, ctx: &StageContext) -> Result<Artifact, StageError> {
        run_with(&self.cfg, ctx, &MeanField)
    }
}

/// The rows of the training stage's table `training` (one per run), read as `T`.
fn training_rows<T: serde::de::DeserializeOwned>(training: &Artifact) -> Result<Vec<T>, InputError> {
    let table = training.tables.iter().find(|t| t.name == "training").ok_or(InputError::NoTrainingTable)?;
    table
        .rows
        .iter()
        .enumerate()
        .map(|(row, r)| T::deserialize(r).map_err(|source| InputError::BadRow { row, source }))
        .collect()
}

/// The trained points from the training stage's artifact, each with the settings that trained it.
pub fn trained_records(training: &Artifact) -> Result<Vec<TrainingRecord>, InputError> {
    training_rows(training)
}

/// The trained points as the analysis reads them: the rows of [`trained_records`] without the
/// settings that do not enter the analysis (a table of bare [`TrainingRow`]s reads too).
pub fn trained_points(training: &Artifact) -> Result<Vec<TrainingRow>, InputError> {
    training_rows(training)
}

/// Trains held-out runs like the grid's own: the template record's settings with the run's depth,
/// weight variances and seed, through the training stage's point cache.
struct CachedTrainer<'a> {
    records: &'a [TrainingRecord],
    ctx: &'a StageContext<'a>,
    /// MNIST, loaded once for the stage (the input moments and the held-out runs share it).
    data: &'a crate::stages::training::pilot::Data,
}

impl Trainer for CachedTrainer<'_> {
    fn train(&self, runs: &[HeldOutRun]) -> Result<Vec<Option<f64>>, StageError> {
        let tasks: Vec<_> = runs
            .iter()
            .map(|r| {
                let mut t = self.records[r.template].train_config();
                (t.depth, t.sw2, t.sv2, t.seed) = (r.depth, r.sw2, r.sv2, r.seed);
                t
            })
            .collect();
        if !tasks.is_empty() {
            self.ctx.progress.info(&format!("  prediction: {} runs at held-out depths (C4c)", tasks.len()));
        }
        let done = crate::stages::training::compute::train_runs(self.ctx, self.data, "held-out depths", &tasks)?;
        Ok(done.iter().map(|p| if p.result.outcome.failed() { None } else { Some(p.result.test_acc) }).collect())
    }
}

/// The stage's computation given the theory: reads the training artifact, determines the input
/// moments (profile values or MNIST), analyses, trains the held-out runs, and builds the artifact.
pub fn run_with(cfg: &Config, ctx: &StageContext, theory: &dyn Theory) -> Result<Artifact, StageError> {
    cfg.check()?;
    let training = ctx.artifact("training")?;
    let records = trained_records(training).map_err(|e| StageError::compute("reading the training table", e))?;
    let points: Vec<TrainingRow> = records.iter().map(|r| r.row.clone()).collect();
    let data = crate::stages::training::pilot::Data::new();
    let (p0, e0, source) = match (cfg.p0, cfg.e0) {
        (Some(p0), Some(e0)) => (p0, e0, "the values set in the profile".to_string()),
        (p0_cfg, e0_cfg) => {
            let m = crate::stages::training::pilot::mnist(&data)?;
            let n = points.iter().map(|p| p.train_subset).max().unwrap_or(0);
            let n = if n == 0 { m.train.len() } else { n.min(m.train.len()) };
            let (p0, e0) = input_moments(m, n);
            (
                p0_cfg.unwrap_or(p0),
                e0_cfg.unwrap_or(e0),
                format!("the {n} training images the networks were trained on"),
            )
        }
    };
    ctx.progress.info(&format!("  prediction: {} trained points, p0 = {p0:.4}, e0 = {e0:.4}", points.len()));
    build(&points, p0, e0, &source, cfg, theory, Some(&CachedTrainer { records: &records, ctx, data: &data }))
}

/// Builds the artifact from the trained points (the part of the stage after reading its inputs);
/// with a `trainer`, also trains and scores the held-out depths ([`held_out`]; without one, C4c is
/// not tested).
pub fn build(
    points: &[TrainingRow],
    p0: f64,
    e0: f64,
    p0_source: &str,
    cfg: &Config,
    theory: &dyn Theory,
    trainer: Option<&dyn Trainer>,
) -> Result<Artifact, StageError> {
    let mut a = analyze(points, p0, e0, cfg, theory);
    if let Some(trainer) = trainer {
        let (planned, notes) = held_out::plan(&a, points, cfg, theory);
        a.held_out = held_out::evaluate(&planned, trainer)?;
        a.held_out_notes = notes;
    }
    let claims = claims::claims(&a, cfg);
    let mut figures = Vec::new();
    for g in &a.groups {
        figures.push(heatmap(g, theory, cfg.contour_points)?);
        if let Some(f) = collapse_figure(g)? {
            figures.push(f);
        }
    }
    if let Some(f) = ridge_figure(&a)? {
        figures.push(f);
    }
    let summary = summary(&a, cfg, &claims, p0_source);
    Ok(Artifact { summary, tables: vec![prediction_table(&a), ridge_table(&a), held_out_table(&a)], figures, claims })
}
