//! The profile section `[dynamics]` and its validation.

use crate::pipeline::{ConfigError, Section};
use serde::{Deserialize, Serialize};

/// The profile section `[dynamics]` (defaults: the quick profile).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Depth $L$ of the residual recurrences (the laws are measured at $L$).
    pub depth: usize,
    /// Depth of the vanilla tanh recurrence (it reaches its fixed point exponentially fast).
    pub vanilla_tanh_depth: usize,
    /// The $\alpha$ of the $\alpha$-ReLU rows ($1/2 < \alpha < 1$).
    pub alphas: Vec<f64>,
    /// $\sigma_w^2$ of the FRNs.
    pub sw2: f64,
    /// $\sigma_v^2$ of the FRNs.
    pub sv2: f64,
    /// $\sigma_w^2$ of the RRNs (different from `sw2`: an FRN with $\sigma_w^2 = 1$, zero biases,
    /// is the same recurrence as an RRN with $\sigma_w^2 = \sigma_v^2$).
    pub rrn_sw2: f64,
    /// $\sigma_a^2$ of the extra FRN tanh row with a nonzero fixed point $e^*$.
    pub tanh_sa2: f64,
    /// Vanilla tanh net (chaotic phase: $\chi_1 > 1$).
    pub vanilla_tanh_sw2: f64,
    pub vanilla_tanh_sb2: f64,
    /// Vanilla ReLU net (biases zero).
    pub vanilla_relu_sw2: f64,
    /// Inputs: squared length per coordinate and cosine.
    pub p0: f64,
    pub e0: f64,
    /// Layers kept per decade for the figures.
    pub per_decade: usize,
    /// Depth to which the continuum limit carries the slow alpha-ReLU cosine law.
    pub continuum_depth: f64,
    /// Depth to which it carries the tanh cosine law with $e^* > 0$ (supplementary; shallower
    /// because $|e - e^*|$ reaches rounding level sooner, $d \approx 0.46$).
    pub tanh_continuum_depth: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            depth: 100_000,
            vanilla_tanh_depth: 300,
            alphas: vec![0.55, 0.75, 0.9],
            sw2: 2.0,
            sv2: 1.0,
            rrn_sw2: 1.0,
            tanh_sa2: 0.5,
            vanilla_tanh_sw2: 3.0,
            vanilla_tanh_sb2: 0.05,
            vanilla_relu_sw2: 1.0,
            p0: 1.0,
            e0: 0.5,
            per_decade: 20,
            continuum_depth: 1e40,
            tanh_continuum_depth: 1e20,
        }
    }
}

/// Smallest depth: the laws are read at the layers $L/100$, $L/4$, $L/2$ and $L$, which must be
/// distinct and at least 1.
pub const DEPTH_MIN: usize = 100;
/// Largest depth: ten times the paper profile's $10^6$ (thirteen recurrences run to this depth:
/// seconds at $10^6$, a minute or two at this limit; the sampled layers are few).
pub const DEPTH_MAX: usize = 10_000_000;
/// Smallest vanilla depth: the rates are fitted on at least three layers.
pub const VANILLA_DEPTH_MIN: usize = 10;
/// Largest vanilla depth: every layer is kept (about 270 bytes each, 27 MB at this limit); the
/// net is at its fixed point to rounding level after a few hundred layers.
pub const VANILLA_DEPTH_MAX: usize = 100_000;
/// Most $\alpha$ values (two rows of the table each).
pub const ALPHAS_MAX: usize = 16;
/// Range of the $\alpha$ values: the laws need $1/2 < \alpha < 1$; at the ends the fixed point
/// $e^*$ of $J_\alpha$ and the exponents ($R \to \infty$, $1/(1-\alpha) \to \infty$) leave the range of
/// the root finders.
pub const ALPHA_RANGE: (f64, f64) = (0.501, 0.99);
/// Range of $\sigma_w^2$ and $\sigma_v^2$ of the FRNs. Below it (and with $\sigma_a^2 > \sigma_v^2$) the
/// cosine of the tanh FRN lingers near 1 at moderate $q$ for many thousands of layers, where the
/// tanh kernel needs a 2-D quadrature per layer: many minutes or hours instead of seconds. At the slowest corner
/// of the allowed ranges ($\sigma_w^2 = \sigma_v^2 = \sigma_a^2 = 0.5$, $e^0 = 0.99$, $p^0 = 10^{-3}$) this
/// transient takes about two minutes, whatever the depth.
pub const FRN_VARIANCE_RANGE: (f64, f64) = (0.5, 50.0);
/// Range of the other weight variances (RRN and vanilla nets).
pub const VARIANCE_RANGE: (f64, f64) = (0.01, 100.0);
/// Largest bias variance of the vanilla tanh net.
pub const SB2_MAX: f64 = 100.0;
/// Range of the input length $p^0$.
pub const P0_RANGE: (f64, f64) = (1e-3, 1e3);
/// Range of the input cosine $e^0$ (at $\pm 1$ the cosine laws are degenerate or, at $-1$, slow).
pub const E0_RANGE: (f64, f64) = (-0.99, 0.99);
/// Most layers kept per decade.
pub const PER_DECADE_MAX: usize = 1000;
/// Smallest ratio of a continuum depth to `depth`: the extension is carried at least a decade
/// beyond the discrete recurrence.
pub const CONTINUUM_MIN_RATIO: f64 = 10.0;
/// Largest continuum depth (the extension costs a few Runge-Kutta steps per unit of $\ln l$; far
/// beyond $10^{60}$ the deviations $|e - e^*|$ are at rounding level).
pub const CONTINUUM_MAX: f64 = 1e100;

impl Config {
    /// Checks every value of the section, and the cross-field conditions (`tanh_sa2` $\le$ `sv2`,
    /// continuum depths beyond `depth`, distinct alphas, a vanilla tanh net with $q^* > 0$).
    pub fn check(&self) -> Result<(), ConfigError> {
        let s = Section("dynamics");
        s.int("depth", self.depth, DEPTH_MIN, DEPTH_MAX)?;
        s.int("vanilla_tanh_depth", self.vanilla_tanh_depth, VANILLA_DEPTH_MIN, VANILLA_DEPTH_MAX)?;
        s.len("alphas", self.alphas.len(), 1, ALPHAS_MAX)?;
        for (i, &a) in self.alphas.iter().enumerate() {
            s.real(format!("alphas[{i}]"), a, ALPHA_RANGE.0, ALPHA_RANGE.1)?;
            if self.alphas[..i].contains(&a) {
                return Err(s.error(format!("alphas[{i}]"), a, "a value not already in the list"));
            }
        }
        let (lo, hi) = FRN_VARIANCE_RANGE;
        s.real("sw2", self.sw2, lo, hi)?;
        s.real("sv2", self.sv2, lo, hi)?;
        let (lo, hi) = VARIANCE_RANGE;
        s.real("rrn_sw2", self.rrn_sw2, lo, hi)?;
        if !(self.tanh_sa2.is_finite() && self.tanh_sa2 >= 0.0 && self.tanh_sa2 <= self.sv2) {
            return Err(s.error(
                "tanh_sa2",
                crate::pipeline::shown(self.tanh_sa2),
                format!("a finite number from 0 to sv2 = {}", self.sv2),
            ));
        }
        s.real("vanilla_tanh_sw2", self.vanilla_tanh_sw2, lo, hi)?;
        s.real("vanilla_tanh_sb2", self.vanilla_tanh_sb2, 0.0, SB2_MAX)?;
        if self.vanilla_tanh_sb2 == 0.0 && self.vanilla_tanh_sw2 <= 1.0 {
            // V tanh(q) < q: the only fixed point is q* = 0, where the laws of the row are undefined
            return Err(s.error(
                "vanilla_tanh_sw2",
                self.vanilla_tanh_sw2,
                "a number above 1 when vanilla_tanh_sb2 = 0 (else q* = 0)",
            ));
        }
        s.real("vanilla_relu_sw2", self.vanilla_relu_sw2, lo, hi)?;
        s.real("p0", self.p0, P0_RANGE.0, P0_RANGE.1)?;
        s.real("e0", self.e0, E0_RANGE.0, E0_RANGE.1)?;
        s.int("per_decade", self.per_decade, 1, PER_DECADE_MAX)?;
        let min = CONTINUUM_MIN_RATIO * self.depth as f64;
        for (key, v) in [("continuum_depth", self.continuum_depth), ("tanh_continuum_depth", self.tanh_continuum_depth)]
        {
            if !(v.is_finite() && v >= min && v <= CONTINUUM_MAX) {
                return Err(s.error(
                    key,
                    crate::pipeline::shown(v),
                    format!(
                        "a finite number from {} (10 x depth) to {}",
                        crate::pipeline::shown(min),
                        crate::pipeline::shown(CONTINUUM_MAX)
                    ),
                ));
            }
        }
        Ok(())
    }
}
