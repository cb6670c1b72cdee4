//! Stage "performance" (Appendix B): throughput measured by the run that produced the report.
//!
//! - the mean-field engine: FRN tanh to depth 1e5 and FRN alpha-ReLU to depth 1e6 (issue targets
//!   5 s and 2 s);
//! - the layer products (128 x 128 by 128 x 128, forward and input gradient, over 200 layers whose
//!   operands do not stay in cache) on the AVX-512 kernel ([`crate::nn::microkernel`]) and through
//!   faer, side by side, and the training step on one thread both ways;
//! - raw faer products: the training step's shape (128 x 128 times 128 x 128) and a large square
//!   product (faer's own peak on this machine) on one and on `threads` threads, in GFLOP/s;
//! - the training loop's step (forward, loss, backward, update) of the reference network on one
//!   and on `threads` threads, against those products;
//! - the training loop on the reference configuration (FRN tanh, N = 128, L = 20, batch 128, f32,
//!   10,000 images), side by side with the PyTorch peer `benches/peers/torch_resnet.py` when a
//!   Python with torch is available: the two run alternately `repeats` times each and the medians
//!   are compared (the machine is shared and noisy, so only ratios measured together mean much).
//!
//! Appendix B also shows the training grid's throughput as the training stage recorded it
//! ([`crate::stages::training::Throughput`]: per grid and in total, against faer's product).
//!
//! Timings depend on the machine and its load; the artifact records when it was measured and the
//! stage is recomputed only when its configuration changes or with `--force=performance`.
//!
//! Files: [`config`] (the profile section and its check), [`compute`] (the measurements),
//! [`claims`] and [`figures`] (none: the appendix is one table).

pub mod claims;
pub mod compute;
pub mod config;
pub mod figures;
#[cfg(test)]
mod tests;

pub use compute::{Measure, PerformanceError, ProductProbe, Summary, TorchError};
pub use config::Config;

use crate::pipeline::{Artifact, ConfigError, DataTable, Stage, StageContext, StageError};

/// Version of the summary and the table.
const VERSION: u32 = 4;

/// Appendix B: measured throughput.
pub struct PerformanceStage {
    cfg: Config,
}

impl PerformanceStage {
    /// The stage for a profile section, whose values are checked here.
    pub fn new(cfg: Config) -> Result<Self, ConfigError> {
        cfg.check()?;
        Ok(Self { cfg })
    }
}

impl Stage for PerformanceStage {
    fn name(&self) -> &'static str {
        "performance"
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
        None
    }

    fn run(&self, ctx: &StageContext) -> Result<Artifact, StageError> {
        let summary = compute::measure(&self.cfg, ctx)?;
        let rows: Vec<serde_json::Value> = summary
            .measures
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<_, _>>()
            .map_err(|e| StageError::compute("table row", e))?;
        Ok(Artifact {
            summary: serde_json::to_value(&summary).map_err(|e| StageError::compute("summary", e))?,
            tables: vec![DataTable { name: "performance".into(), rows, json_key: None, extra: Default::default() }],
            figures: figures::figures(),
            claims: claims::claims(),
        })
    }
}
