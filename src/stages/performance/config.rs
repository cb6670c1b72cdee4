//! The profile section `[performance]` and the check of every value ([`Config::check`]).

use crate::pipeline::{ConfigError, Section};
use serde::{Deserialize, Serialize};

/// The profile section `[performance]`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Alternating repetitions of each side of a comparison (medians are reported).
    pub repeats: usize,
    /// Training images of the reference run.
    pub train_subset: usize,
    /// Threads of both training loops.
    pub threads: usize,
    /// Measure the PyTorch peer when a Python with torch is found.
    pub torch: bool,
    /// Side $n$ of the large square product ($2n^3$ operations, three $n \times n$ `f32` matrices of
    /// $4n^2$ bytes each).
    pub big_n: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self { repeats: 5, train_subset: 10_000, threads: 2, torch: true, big_n: 1024 }
    }
}

/// The valid ranges: generous for a machine of any size, but the appendix must finish in minutes.
pub mod limits {
    /// Most repetitions (each is one epoch of the reference training on `train_subset` images,
    /// and one PyTorch run).
    pub const MAX_REPEATS: usize = 50;
    /// MNIST has 60000 training images.
    pub const MAX_TRAIN_SUBSET: usize = 60_000;
    /// Most threads (as `edge-of-chaos train --threads`).
    pub const MAX_THREADS: usize = 1024;
    /// Sides of the large product: at $n = 8192$ the three matrices take 0.8 GB and one product
    /// $1.1 \times 10^{12}$ operations (tens of seconds on one core).
    pub const MIN_BIG_N: usize = 16;
    pub const MAX_BIG_N: usize = 8192;
}

impl Config {
    /// Checks every value of the section (ranges in [`limits`]).
    pub fn check(&self) -> Result<(), ConfigError> {
        use limits::*;
        let s = Section("performance");
        s.int("repeats", self.repeats, 1, MAX_REPEATS)?;
        s.int("train_subset", self.train_subset, 1, MAX_TRAIN_SUBSET)?;
        s.int("threads", self.threads, 1, MAX_THREADS)?;
        s.int("big_n", self.big_n, MIN_BIG_N, MAX_BIG_N)?;
        Ok(())
    }
}
