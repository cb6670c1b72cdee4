//! [`TrainingRow`]: one row of the training stage's table `training` (`data/training.json`,
//! `data/training.csv`), the typed record the prediction stage reads back.

use crate::activation::ActName;
use crate::architecture::Architecture;
use crate::nn::train::{Outcome, TrainResult};
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
            // Until the training loop records its outcome itself: non-finite reasons map to
            // `nonfinite`, a loss above the threshold to `blowup`.
            outcome: match r.diverged_reason.as_deref() {
                None => Outcome::Trained,
                Some(why) if why.contains("non-finite") => Outcome::Nonfinite,
                Some(_) => Outcome::Blowup,
            },
            outcome_step: r.diverged_step,
            initial_loss: None,
            log_pl_init: None,
        }
    }
}
