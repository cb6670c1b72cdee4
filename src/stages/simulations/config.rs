//! The profile section `[simulations]`: the simulated configurations, widths, depth and seeds,
//! and the check of every value ([`Config::check`]).

use super::compute::Task;
use crate::activation::{ActName, Activation, ActivationError};
use crate::architecture::Architecture;
use crate::meanfield::recurrence::Variances;
use crate::pipeline::{ConfigError, Section};
use serde::{Deserialize, Serialize};

/// One simulated configuration.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SimCase {
    /// Short name used in figure names (`frn-tanh`).
    pub name: String,
    pub arch: Architecture,
    pub act: ActName,
    /// Exponent of `alpha-relu` (required by it, not allowed with the other activations).
    #[serde(default)]
    pub alpha: Option<f64>,
    pub sw2: f64,
    /// $\sigma_v^2$ (FRN only).
    #[serde(default)]
    pub sv2: f64,
    #[serde(default)]
    pub sb2: f64,
    /// $\sigma_a^2$ (FRN only).
    #[serde(default)]
    pub sa2: f64,
}

impl SimCase {
    /// The activation $\phi$ of the case (checked by [`Config::check`], so an error here means an
    /// unchecked configuration).
    pub fn activation(&self) -> Result<Activation, ActivationError> {
        self.act.with_alpha(self.alpha)
    }

    /// `FRN tanh`, `FRN α-ReLU (α = 0.75)`.
    pub fn label(&self) -> String {
        let act = match (self.act, self.alpha) {
            (ActName::AlphaRelu, Some(a)) => format!("α-ReLU (α = {a})"),
            (ActName::Relu, _) => "ReLU".into(),
            (a, _) => a.to_string(),
        };
        format!("{} {act}", self.arch.short())
    }

    pub(crate) fn variances(&self) -> Variances {
        Variances { sw2: self.sw2, sv2: self.sv2, sb2: self.sb2, sa2: self.sa2 }
    }
}

/// The profile section `[simulations]` (defaults: the quick profile).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Widths $N$, strictly increasing, each at least 2 (the scaling with $N$ is read between the
    /// smallest and the largest, so it needs two of them).
    pub widths: Vec<usize>,
    /// Depth $L$ of every network.
    pub depth: usize,
    /// Seeds $0, 1, \dots$, `seeds - 1` per (configuration, width); at least 2.
    pub seeds: usize,
    /// Squared length per coordinate of both inputs.
    pub p0: f64,
    /// Cosine of the two inputs.
    pub e0: f64,
    /// Layers at which the table compares with mean field (each from 1 to $L$; $L$ is always added).
    pub table_depths: Vec<usize>,
    /// Also backpropagate through an independent draw of the weights (the surrogate of the
    /// gradient-independence assumption).
    pub independent_control: bool,
    /// Memory the simulations may use at once, in GB: a network of width $N$ and depth $L$ holds
    /// its weights and their gradients ($2 \times 8$ bytes per parameter, about 3.4 GB for an FRN at
    /// $N = 1024$, $L = 100$), so fewer networks than threads run at once when they are large.
    pub memory_budget_gb: f64,
    pub cases: Vec<SimCase>,
}

/// A case with zero biases (the defaults and the tests).
pub(crate) fn case(name: &str, arch: Architecture, act: ActName, alpha: Option<f64>, sw2: f64, sv2: f64) -> SimCase {
    SimCase { name: name.into(), arch, act, alpha, sw2, sv2, sb2: 0.0, sa2: 0.0 }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            widths: vec![256, 512],
            depth: 100,
            seeds: 8,
            p0: 1.0,
            e0: 0.5,
            table_depths: vec![10, 50, 100],
            independent_control: true,
            memory_budget_gb: 8.0,
            cases: vec![
                case("frn-tanh", Architecture::Full, ActName::Tanh, None, 1.0, 2.0),
                case("frn-relu", Architecture::Full, ActName::Relu, None, 1.0, 1.0),
                case("frn-alpha-relu", Architecture::Full, ActName::AlphaRelu, Some(0.75), 1.0, 1.0),
                case("rrn-tanh", Architecture::Reduced, ActName::Tanh, None, 1.0, 0.0),
            ],
        }
    }
}

/// The valid ranges of the section: generous for real use (the `paper` profile simulates FRNs of
/// width 1024, 3.4 GB each, $3 \times 10^{10}$ parameters drawn in all), but ruling out what
/// cannot be allocated or would run for many hours.
pub mod limits {
    /// Largest width $N$.
    pub const MAX_WIDTH: usize = 16_384;
    /// Most widths.
    pub const MAX_WIDTHS: usize = 16;
    /// Largest depth $L$.
    pub const MAX_DEPTH: usize = 100_000;
    /// Most seeds per (configuration, width).
    pub const MAX_SEEDS: usize = 1000;
    /// Most configurations (the width figure letters its panels `a`, `b`, ...).
    pub const MAX_CASES: usize = 16;
    /// Most table depths.
    pub const MAX_TABLE_DEPTHS: usize = 64;
    /// Largest $p^0$ and largest variance ($\sigma_w^2$, $\sigma_v^2$, $\sigma_b^2$, $\sigma_a^2$).
    pub const MAX_P0: f64 = 1e6;
    pub const MAX_VARIANCE: f64 = 1e6;
    /// Largest $\alpha$ of `alpha-relu` (the paper's range $0 < \alpha < 1$, and ReLU).
    pub const MAX_ALPHA: f64 = 1.0;
    /// Largest `memory_budget_gb`.
    pub const MAX_BUDGET_GB: f64 = 4096.0;
    /// Largest memory of one network (weights, gradients and tape), in bytes.
    pub const MAX_NETWORK_BYTES: usize = 16_000_000_000;
    /// Most parameters drawn over all networks (with the independent-weights control counted
    /// twice): about ten times the `paper` profile.
    pub const MAX_PARAMETERS: f64 = 3e11;
    /// Longest case name (it names a figure file).
    pub const MAX_NAME_LEN: usize = 64;
}

/// Parameters of one network: $L$ blocks of $2(N^2 + N)$ (FRN: $W, b, V, a$) or $N^2 + N$ (RRN:
/// $W, b$). Saturates instead of overflowing.
pub fn network_parameters(arch: Architecture, width: usize, depth: usize) -> usize {
    let per_block = width.saturating_mul(width).saturating_add(width);
    let per_block = if arch == Architecture::Full { per_block.saturating_mul(2) } else { per_block };
    depth.saturating_mul(per_block)
}

/// Peak memory of one network in bytes: weights and gradients in `f64` ($16$ bytes per
/// parameter), plus the tape ($x^l$, $h^l$, $\phi^l$, $\partial E/\partial x^l$ of two inputs per
/// layer, $64 \cdot 2N(L+1)$ bytes). Saturates instead of overflowing.
pub fn network_bytes(arch: Architecture, width: usize, depth: usize) -> usize {
    let tape = depth.saturating_add(1).saturating_mul(width).saturating_mul(2).saturating_mul(8);
    network_parameters(arch, width, depth).saturating_mul(16).saturating_add(tape.saturating_mul(8))
}

/// A name that can name a figure file: ASCII letters, digits, `-` and `_`.
fn is_file_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Config {
    /// Checks every value of the section (ranges in [`limits`]) and the cross-field rules: widths
    /// strictly increasing, table depths within $L$, unique case names, one network within
    /// [`limits::MAX_NETWORK_BYTES`], all networks within [`limits::MAX_PARAMETERS`].
    pub fn check(&self) -> Result<(), ConfigError> {
        use limits::*;
        let s = Section("simulations");
        let list = |v: &[usize]| format!("{v:?}");
        let widths_valid =
            format!("a strictly increasing list of 1 to {MAX_WIDTHS} widths, each from 2 to {MAX_WIDTH}");
        if self.widths.is_empty()
            || self.widths.len() > MAX_WIDTHS
            || self.widths.iter().any(|&n| !(2..=MAX_WIDTH).contains(&n))
            || self.widths.windows(2).any(|w| w[0] >= w[1])
        {
            return Err(s.error("widths", list(&self.widths), widths_valid));
        }
        s.int("depth", self.depth, 1, MAX_DEPTH)?;
        s.int("seeds", self.seeds, 2, MAX_SEEDS)?;
        s.positive("p0", self.p0, MAX_P0)?;
        s.real("e0", self.e0, -1.0, 1.0)?;
        if self.table_depths.len() > MAX_TABLE_DEPTHS || self.table_depths.iter().any(|&l| l == 0 || l > self.depth) {
            return Err(s.error(
                "table_depths",
                list(&self.table_depths),
                format!("a list of at most {MAX_TABLE_DEPTHS} layers, each from 1 to depth = {}", self.depth),
            ));
        }
        s.positive("memory_budget_gb", self.memory_budget_gb, MAX_BUDGET_GB)?;
        s.len("cases", self.cases.len(), 1, MAX_CASES)?;
        for (i, c) in self.cases.iter().enumerate() {
            let key = |k: &str| format!("cases[{i}].{k}");
            if !is_file_name(&c.name) || c.name.len() > MAX_NAME_LEN || c.name == "width" {
                return Err(s.error(
                    key("name"),
                    format!("{:?}", c.name),
                    format!("1 to {MAX_NAME_LEN} ASCII letters, digits, '-' or '_' (it names a figure), not \"width\""),
                ));
            }
            if self.cases[..i].iter().any(|o| o.name == c.name) {
                return Err(s.error(key("name"), format!("{:?}", c.name), "a name no other case has"));
            }
            if c.arch == Architecture::Vanilla {
                return Err(s.error(key("arch"), "vanilla", "full, reduced"));
            }
            match (c.act, c.alpha) {
                (ActName::AlphaRelu, None) => {
                    return Err(s.error(
                        key("alpha"),
                        "(unset)",
                        format!("0 < alpha <= {MAX_ALPHA} (alpha-relu needs it)"),
                    ))
                }
                (ActName::AlphaRelu, Some(a)) if !(a.is_finite() && a > 0.0 && a <= MAX_ALPHA) => {
                    return Err(s.error(key("alpha"), a, format!("a finite number with 0 < value <= {MAX_ALPHA}")))
                }
                (act, Some(a)) if act != ActName::AlphaRelu => {
                    return Err(s.error(key("alpha"), a, "only with act = \"alpha-relu\" (remove it)"))
                }
                _ => {}
            }
            for (k, v) in [("sw2", c.sw2), ("sv2", c.sv2), ("sb2", c.sb2), ("sa2", c.sa2)] {
                s.real(key(k), v, 0.0, MAX_VARIANCE)?;
            }
        }
        // One network must fit in memory: the largest width with the widest architecture.
        let arch = if self.cases.iter().any(|c| c.arch == Architecture::Full) {
            Architecture::Full
        } else {
            Architecture::Reduced
        };
        let fits = |n: usize| network_bytes(arch, n, self.depth) <= MAX_NETWORK_BYTES;
        if !self.widths.iter().all(|&n| fits(n)) {
            let max = (2..=MAX_WIDTH).take_while(|&n| fits(n)).last().unwrap_or(0);
            return Err(s.error(
                "widths",
                list(&self.widths),
                format!(
                    "widths up to {max} at depth {}: a network ({}) holds 16 bytes per parameter and may use at most {} GB",
                    self.depth,
                    arch.short(),
                    MAX_NETWORK_BYTES / 1_000_000_000
                ),
            ));
        }
        // All networks together must finish: parameters drawn over every task.
        let per_seed: f64 = self
            .cases
            .iter()
            .flat_map(|c| self.widths.iter().map(move |&n| network_parameters(c.arch, n, self.depth) as f64))
            .sum::<f64>()
            * if self.independent_control { 2.0 } else { 1.0 };
        if per_seed * self.seeds as f64 > MAX_PARAMETERS {
            let max = (MAX_PARAMETERS / per_seed).floor();
            let valid = if max >= 2.0 {
                format!("an integer from 2 to {max} with these widths, depth and cases")
            } else {
                "none with these widths, depth and cases: make them smaller".to_string()
            };
            return Err(s.error(
                "seeds",
                self.seeds,
                format!(
                    "{valid} (the networks would draw {:.2e} parameters; at most {MAX_PARAMETERS:.0e})",
                    per_seed * self.seeds as f64
                ),
            ));
        }
        Ok(())
    }

    /// The layers of the table: `table_depths` up to $L$, and $L$.
    pub fn depths(&self) -> Vec<usize> {
        let mut d: Vec<usize> = self.table_depths.iter().copied().filter(|&l| l >= 1 && l <= self.depth).collect();
        d.push(self.depth);
        d.sort_unstable();
        d.dedup();
        d
    }

    /// Every task in order (case, width, seed).
    pub fn tasks(&self) -> Vec<Task> {
        let mut v = Vec::new();
        for c in &self.cases {
            for &width in &self.widths {
                for seed in 0..self.seeds as u64 {
                    v.push(Task {
                        case: c.clone(),
                        width,
                        depth: self.depth,
                        seed,
                        p0: self.p0,
                        e0: self.e0,
                        independent_control: self.independent_control,
                    });
                }
            }
        }
        v
    }
}
