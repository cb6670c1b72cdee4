//! The mean-field theory as the prediction stage sees it: the init-time metrics of a
//! configuration at a list of depths, and the depth-aware recommendation ([`Theory`]); the
//! engine ([`MeanField`]) in production, closed forms in the tests.

use crate::activation::Activation;
use crate::analysis::study::InitMetrics;
use crate::architecture::Architecture;
use serde::{Deserialize, Serialize};

/// One configuration of the init-time theory (depth given separately).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InitConfig {
    pub arch: Architecture,
    pub act: Activation,
    pub sw2: f64,
    pub sv2: f64,
    pub sb2: f64,
    pub sa2: f64,
    pub p0: f64,
    pub e0: f64,
}

/// What the prediction stage needs from the mean-field theory.
pub trait Theory: Sync {
    /// The metrics of `c` at each of `depths` (increasing); [`InitMetrics::undefined`] where the
    /// theory gives no value.
    fn metrics(&self, c: &InitConfig, depths: &[usize]) -> Vec<InitMetrics>;
    /// The depth-aware recommendation: the largest searched variance ($\sigma_v^2$ for FRNs,
    /// $\sigma_w^2$ otherwise, the rest of `c` fixed) whose `target` metric at `depth` stays
    /// below `bound`.
    fn recommend(&self, c: &InitConfig, depth: usize, target: Target, bound: f64) -> Option<f64>;
}

/// The metric the recommender bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The log gradient explosion $\ln(\chi^0/\chi^L)$ (metric key `log_explosion`).
    LogExplosion,
    /// $\ln p^L$ (metric key `log_p`).
    LogP,
}

impl Target {
    /// The key of the metric in [`InitMetrics::get`] and in the tables.
    pub fn key(self) -> &'static str {
        match self {
            Target::LogExplosion => "log_explosion",
            Target::LogP => "log_p",
        }
    }
}

/// The mean-field engine ([`crate::meanfield`]) as the stage's [`Theory`].
pub struct MeanField;

impl MeanField {
    fn spec(c: &InitConfig) -> crate::meanfield::Spec {
        crate::meanfield::Spec {
            arch: c.arch,
            act: c.act,
            var: crate::meanfield::Variances { sw2: c.sw2, sv2: c.sv2, sb2: c.sb2, sa2: c.sa2 },
            p0: c.p0,
            e0: c.e0,
        }
    }

    fn of_layer(l: &crate::meanfield::Layer) -> InitMetrics {
        InitMetrics {
            log_explosion: l.log_grad_explosion,
            log_chi_w: l.log_chi_w.unwrap_or(f64::NAN),
            log_p: l.ln_p,
            log_s: l.ln_s(),
            e: l.e,
        }
    }
}

impl Theory for MeanField {
    /// One forward/backward recurrence to the largest depth, sampled at every requested depth;
    /// undefined metrics where the engine reports an error (e.g. invalid parameters).
    fn metrics(&self, c: &InitConfig, depths: &[usize]) -> Vec<InitMetrics> {
        use crate::meanfield::{trajectory, Sampling};
        let Some(&max) = depths.iter().max() else { return vec![] };
        match trajectory(&Self::spec(c), max.max(1), &Sampling::Layers(depths.to_vec())) {
            Ok(t) => depths
                .iter()
                .map(|d| t.layers.iter().find(|l| l.l == *d).map_or_else(InitMetrics::undefined, Self::of_layer))
                .collect(),
            Err(_) => vec![InitMetrics::undefined(); depths.len()],
        }
    }

    /// [`crate::meanfield::init::recommend`] with the gradient target (`log_explosion`) or the
    /// $\ln p^L$ target (`log_p`); `None` if the engine cannot recommend (e.g. the bound is below
    /// what the smallest variance gives) or the search hit its cap.
    fn recommend(&self, c: &InitConfig, depth: usize, target: Target, bound: f64) -> Option<f64> {
        use crate::meanfield::init::{recommend, Target as Bound};
        let target = match target {
            Target::LogExplosion => Bound::Grad { max: bound },
            Target::LogP => Bound::LogP { max: bound },
        };
        let r = recommend(&Self::spec(c), depth, target).ok()?;
        if r.capped {
            return None;
        }
        Some(if c.arch == Architecture::Full { r.best.sv2? } else { r.best.sw2 })
    }
}
