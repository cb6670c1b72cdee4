//! The training runs of the section, each a [`TrainConfig`]: the grid points (with Xavier and He
//! at their true points), the pilot runs that choose a grid's learning rate, and the control runs
//! at half and twice the chosen rate.

use super::config::{same, Config, GridSpec};
use crate::nn::train::TrainConfig;
use serde::{Deserialize, Serialize};

/// A standard initialization trained at its true point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// $\sigma_w^2 = \sigma_v^2 = 1$.
    Xavier,
    /// $\sigma_w^2 = \sigma_v^2 = 2$.
    He,
}

impl Init {
    /// $(\sigma_w^2, \sigma_v^2)$ of the initialization.
    pub fn weights(self) -> (f64, f64) {
        match self {
            Init::Xavier => (1.0, 1.0),
            Init::He => (2.0, 2.0),
        }
    }

    /// The initialization an FRN with these variances is (if any).
    pub fn of(arch: crate::architecture::Architecture, sw2: f64, sv2: f64) -> Option<Init> {
        if arch != crate::architecture::Architecture::Full {
            return None;
        }
        [Init::Xavier, Init::He].into_iter().find(|i| {
            let (w, v) = i.weights();
            same(sw2, w) && same(sv2, v)
        })
    }
}

/// Test images of a pilot run (its test accuracy is not used; the pilot judges the loss).
pub const PILOT_TEST_SUBSET: usize = 1000;

impl Config {
    /// The run of grid `g` at depth `depth`, weight variances `(sw2, sv2)`, seed and rate, with
    /// the section's shared settings.
    pub fn train_config(&self, g: &GridSpec, depth: usize, (sw2, sv2): (f64, f64), seed: u64, lr: f64) -> TrainConfig {
        TrainConfig {
            arch: g.arch,
            act: g.act,
            alpha: g.alpha,
            width: g.width_or(self.width),
            depth,
            sw2,
            sv2,
            sb2: g.sb2,
            sa2: g.sa2,
            lr,
            momentum: 0.0,
            batch: self.batch,
            epochs: g.epochs_or(self.epochs),
            train_subset: Some(self.train_subset),
            test_subset: Some(self.test_subset),
            seed,
            threads: 1,
            matmul_threads: 1,
            blowup_factor: self.blowup_factor,
            eval_every_epoch: true,
        }
    }

    /// The $(\sigma_w^2, \sigma_v^2)$ of every point of grid `g` at one depth: the axis values,
    /// then Xavier and He where they are not already on the axis (FRN grids with `inits`).
    pub fn weights_of(&self, g: &GridSpec) -> Vec<(f64, f64)> {
        let mut w: Vec<(f64, f64)> = g.variances().into_iter().map(|v| g.weights_at(v)).collect();
        if g.has_inits() {
            for init in [Init::Xavier, Init::He] {
                let (a, b) = init.weights();
                if !w.iter().any(|&(x, y)| same(x, a) && same(y, b)) {
                    w.push((a, b));
                }
            }
        }
        w
    }

    /// Every grid run at the rates `lrs` (one per grid), in a fixed order (grid, depth, weights,
    /// seed), with the grid's index.
    pub fn points(&self, lrs: &[f64]) -> Vec<(usize, TrainConfig)> {
        let mut out = Vec::new();
        for (gi, g) in self.grids.iter().enumerate() {
            for &depth in &g.depths {
                for w in self.weights_of(g) {
                    for &seed in g.seeds_or(&self.seeds) {
                        out.push((gi, self.train_config(g, depth, w, seed, lrs[gi])));
                    }
                }
            }
        }
        out
    }

    /// The pilot runs of grid `g` (rate-major, then seed): its deepest network at its smallest
    /// axis variance, one short epoch of `pilot.train_subset` images, at every rate of the ladder.
    pub fn pilot_runs(&self, g: &GridSpec) -> Vec<TrainConfig> {
        let depth = *g.depths.last().unwrap_or(&1);
        let w = g.weights_at(g.variances()[0]);
        let mut out = Vec::new();
        for &rate in &self.pilot.rates {
            for &seed in g.seeds_or(&self.seeds) {
                let mut c = self.train_config(g, depth, w, seed, rate);
                c.epochs = 1;
                c.train_subset = Some(self.pilot.train_subset);
                c.test_subset = Some(self.test_subset.min(PILOT_TEST_SUBSET));
                c.eval_every_epoch = false;
                out.push(c);
            }
        }
        out
    }

    /// The control runs of grid `gi` chosen at rate `lr`: at every control depth of the grid, every
    /// axis variance with the first seed, at `lr / 2` and `2 lr` (factor-major, then depth, then
    /// variance).
    pub fn control_runs(&self, gi: usize, lr: f64) -> Vec<(f64, TrainConfig)> {
        let g = &self.grids[gi];
        let mut out = Vec::new();
        if !g.has_control() {
            return out;
        }
        for factor in [0.5, 2.0] {
            for &depth in self.pilot.control_depths.iter().filter(|d| g.depths.contains(d)) {
                for v in g.variances() {
                    out.push((
                        factor,
                        self.train_config(
                            g,
                            depth,
                            g.weights_at(v),
                            g.seeds_or(&self.seeds)[0],
                            super::config::round12(lr * factor),
                        ),
                    ));
                }
            }
        }
        out
    }
}
