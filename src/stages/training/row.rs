//! [`TrainingRow`]: one row of the training stage's table `training` (`data/training.json`,
//! `data/training.csv`), the typed record the prediction stage reads back.

use super::points::Init;
use crate::activation::ActName;
use crate::architecture::Architecture;
use crate::nn::train::{Outcome, TrainConfig, TrainResult};
use serde::{Deserialize, Serialize};

/// One trained network: its settings and results, without the per-epoch log.
///
/// The keys are those of the exported table; a non-finite number is written as JSON `null`
/// (the accuracies and the final loss read back as `None`). Wall-clock times are not results:
/// they are kept out of the table (Appendix B and `data/reproducibility.json` report them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingRow {
    pub arch: Architecture,
    pub act: ActName,
    /// The exponent of `alpha-relu` (`None` for the other activations, unless the profile set it).
    pub alpha: Option<f64>,
    pub width: usize,
    pub depth: usize,
    pub sw2: f64,
    pub sv2: f64,
    pub sb2: f64,
    pub sa2: f64,
    pub lr: f64,
    pub batch: usize,
    pub epochs: usize,
    /// Number of training images used.
    pub train_subset: usize,
    pub seed: u64,
    /// Test accuracy at the end (`None` if not finite).
    pub test_acc: Option<f64>,
    /// Accuracy on the training subset at the end (`None` if not finite).
    pub train_acc: Option<f64>,
    /// Mean batch loss over the last epoch (`None` if not finite).
    pub final_loss: Option<f64>,
    pub diverged: bool,
    /// 0-based global step at which a diverged run stopped.
    pub diverged_step: Option<usize>,
    pub diverged_reason: Option<String>,
    /// How the run ended; `diverged` is `outcome != trained`.
    pub outcome: Outcome,
    /// 0-based global step at which a failed run stopped (`None` when trained).
    pub outcome_step: Option<usize>,
    /// Mean loss of the first batch before any update (`None` if not finite or not recorded).
    pub initial_loss: Option<f64>,
    /// $\log p^L$ of the network at init, measured on a batch (`None` if not finite or not recorded).
    pub log_pl_init: Option<f64>,
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

impl TrainingRow {
    /// The row of a run. `act` is the run's activation name, which the training stage takes from
    /// a validated profile.
    pub fn new(r: &TrainResult, act: ActName) -> Self {
        Self {
            arch: r.arch,
            act,
            alpha: r.alpha,
            width: r.width,
            depth: r.depth,
            sw2: r.sw2,
            sv2: r.sv2,
            sb2: r.sb2,
            sa2: r.sa2,
            lr: r.lr,
            batch: r.batch,
            epochs: r.epochs,
            train_subset: r.train_subset,
            seed: r.seed,
            test_acc: finite(r.test_acc),
            train_acc: finite(r.train_acc),
            final_loss: r.final_loss,
            diverged: r.diverged,
            diverged_step: r.diverged_step,
            diverged_reason: r.diverged_reason.clone(),
            outcome: outcome_of(r).0,
            outcome_step: outcome_of(r).1,
            initial_loss: r.initial_loss.and_then(finite),
            log_pl_init: r.log_pl_init.and_then(finite),
        }
    }
}

/// How a run ended and at which step.
pub fn outcome_of(r: &TrainResult) -> (Outcome, Option<usize>) {
    (r.outcome, r.outcome_step)
}

/// One row of the exported table `training`: the [`TrainingRow`] (which the prediction stage
/// reads) and every other [`crate::nn::train::TrainConfig`] field, so that the row alone
/// re-trains its point (`verify` rebuilds the configuration from these names), plus the grid,
/// the initialization it is (if any) and the test accuracy after every epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    /// The grid's name.
    pub grid: String,
    #[serde(flatten)]
    pub row: TrainingRow,
    pub momentum: f64,
    /// Number of test images evaluated.
    pub test_subset: usize,
    /// A batch loss above this multiple of the run's initial loss ends it (`blowup`).
    pub blowup_factor: f64,
    pub eval_every_epoch: bool,
    /// `xavier` ($\sigma_w^2 = \sigma_v^2 = 1$), `he` ($\sigma_w^2 = \sigma_v^2 = 2$) or `None`.
    pub init: Option<Init>,
    /// Test accuracy after epoch 1, 2, ... (`None` where not evaluated: the run stopped before).
    pub test_acc_epochs: Vec<Option<f64>>,
}

impl TrainingRecord {
    /// The record of the run `t` (its configuration) with result `r` in grid `grid`.
    pub fn new(grid: &str, t: &TrainConfig, r: &TrainResult, act: ActName) -> Self {
        let mut acc: Vec<Option<f64>> = vec![None; t.epochs];
        for e in &r.epochs_log {
            if let Some(slot) = e.epoch.checked_sub(1).and_then(|i| acc.get_mut(i)) {
                *slot = e.test_acc.and_then(finite);
            }
        }
        Self {
            grid: grid.into(),
            row: TrainingRow::new(r, act),
            momentum: t.momentum,
            test_subset: t.test_subset.unwrap_or(10_000),
            blowup_factor: t.blowup_factor,
            eval_every_epoch: t.eval_every_epoch,
            init: Init::of(t.arch, t.sw2, t.sv2),
            test_acc_epochs: acc,
        }
    }

    /// The configuration that trained this row's run (on one thread: threads do not change a
    /// result, [`crate::nn::train::Threads`]).
    pub fn train_config(&self) -> TrainConfig {
        let r = &self.row;
        TrainConfig {
            arch: r.arch,
            act: r.act,
            alpha: r.alpha,
            width: r.width,
            depth: r.depth,
            sw2: r.sw2,
            sv2: r.sv2,
            sb2: r.sb2,
            sa2: r.sa2,
            lr: r.lr,
            momentum: self.momentum,
            batch: r.batch,
            epochs: r.epochs,
            train_subset: Some(r.train_subset),
            test_subset: Some(self.test_subset),
            seed: r.seed,
            threads: 1,
            matmul_threads: 1,
            blowup_factor: self.blowup_factor,
            eval_every_epoch: self.eval_every_epoch,
        }
    }
}
