//! The profile section `[training]`: the shared training settings and the grids, with
//! [`Config::check`], which bounds every value so that no profile can panic, exhaust memory or
//! train an absurd number of points.

use crate::activation::{ActName, ActivationError};
use crate::architecture::Architecture;
use crate::nn::train::TrainConfig;
use crate::pipeline::{ConfigError, Section};
use serde::{Deserialize, Serialize};

/// One grid: depth on one axis, a log-spaced variance on the other.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GridSpec {
    /// Short name, used in figure and table names (`frn-tanh`).
    pub name: String,
    pub arch: Architecture,
    /// `tanh`, `relu`, `alpha-relu`, `erf` or `gelu`.
    pub act: ActName,
    /// The exponent of `alpha-relu` (required for it, ignored otherwise).
    #[serde(default)]
    pub alpha: Option<f64>,
    /// Depths $L$, strictly increasing (the last one is the grid's deepest).
    pub depths: Vec<usize>,
    /// Fixed $\sigma_w^2$; the grid varies $\sigma_v^2$ (for ReLU-type activations only the product
    /// $\sigma_v^2\sigma_w^2$ matters at zero biases, which is the axis the chapter labels).
    pub sw2: f64,
    /// Smallest and largest $\sigma_v^2$ and the number of log-spaced values; Xavier (1) and He (2)
    /// are always added.
    pub sv2_min: f64,
    pub sv2_max: f64,
    pub sv2_count: usize,
    #[serde(default)]
    pub sb2: f64,
    #[serde(default)]
    pub sa2: f64,
    pub lr: f64,
}

/// The profile section `[training]`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub width: usize,
    pub batch: usize,
    pub epochs: usize,
    /// The first M training images.
    pub train_subset: usize,
    /// The first M test images (10000: the full test set).
    pub test_subset: usize,
    pub seeds: Vec<u64>,
    /// A finite batch loss above this ends a run as diverged.
    pub loss_threshold: f64,
    pub grids: Vec<GridSpec>,
}

fn grid(name: &str, act: ActName, alpha: Option<f64>, depths: &[usize], lr: f64) -> GridSpec {
    GridSpec {
        name: name.into(),
        arch: Architecture::Full,
        act,
        alpha,
        depths: depths.to_vec(),
        sw2: 1.0,
        sv2_min: 0.01,
        sv2_max: 100.0,
        sv2_count: 7,
        sb2: 0.0,
        sa2: 0.0,
        lr,
    }
}

impl Default for Config {
    /// The quick profile.
    fn default() -> Self {
        Self {
            width: 64,
            batch: 64,
            epochs: 1,
            train_subset: 60_000,
            test_subset: 10_000,
            seeds: vec![0, 1],
            loss_threshold: 1e3,
            grids: vec![
                grid("frn-tanh", ActName::Tanh, None, &[4, 8, 16, 32], 0.05),
                grid("frn-relu", ActName::Relu, None, &[4, 8, 16, 32], 0.02),
                grid("frn-alpha-relu", ActName::AlphaRelu, Some(0.75), &[4, 8, 16, 32], 0.02),
            ],
        }
    }
}

/// Whether two variances are the same grid value (relative tolerance $10^{-9}$).
pub(crate) fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

impl GridSpec {
    /// The $\sigma_v^2$ values: $n$ = `sv2_count` log-spaced values
    /// $\exp\left(\ln v_\min + (\ln v_\max - \ln v_\min)\,\frac{i}{n-1}\right)$, $i = 0..n-1$
    /// (only $v_\min$ if $n = 1$), plus 1 (Xavier) and 2 (He), sorted.
    pub fn variances(&self) -> Vec<f64> {
        let mut v: Vec<f64> = if self.sv2_count <= 1 {
            vec![self.sv2_min]
        } else {
            let (a, b) = (self.sv2_min.ln(), self.sv2_max.ln());
            (0..self.sv2_count).map(|i| (a + (b - a) * i as f64 / (self.sv2_count - 1) as f64).exp()).collect()
        };
        for x in [1.0, 2.0] {
            match v.iter().position(|&y| same(y, x)) {
                Some(i) => v[i] = x, // exactly Xavier / He, not a rounding neighbour
                None => v.push(x),
            }
        }
        v.sort_by(f64::total_cmp);
        v
    }

    /// The label of the variance axis: $\sigma_v^2$ for the smooth activations, the product
    /// $\sigma_v^2\sigma_w^2$ for ReLU-type ones.
    pub fn axis_label(&self) -> &'static str {
        match self.act {
            ActName::Tanh | ActName::Erf => "sigma_v^2",
            ActName::Relu | ActName::AlphaRelu | ActName::Gelu => "sigma_v^2 sigma_w^2",
        }
    }

    /// The variance-axis coordinate of a point.
    pub fn axis_value(&self, sv2: f64) -> f64 {
        if self.axis_label() == "sigma_v^2" {
            sv2
        } else {
            sv2 * self.sw2
        }
    }

    /// Whether `name` is usable in figure and file names: 1 to 64 ASCII letters, digits, `-`, `_`.
    fn valid_name(name: &str) -> bool {
        (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }
}

/// Largest width $N$.
pub const MAX_WIDTH: usize = 4096;
/// Largest depth $L$ of a grid.
pub const MAX_DEPTH: usize = 10_000;
/// Most log-spaced variances of a grid.
pub const MAX_SV2_COUNT: usize = 256;
/// Most training runs of the whole section.
pub const MAX_POINTS: usize = 100_000;
/// Largest estimated memory of one training run ([`point_bytes`]), bytes.
pub const MAX_POINT_BYTES: f64 = 4e9;

/// Estimated memory of one training run in `f32`: the parameters with their gradient and update
/// buffers, $3\,(784N + L\,k N^2 + 10N)$ values ($k = 2$ for FRNs, which have $W$ and $V$,
/// else 1), the tape of a batch $B$, about $5 (L + 1) N B$ values, and the step-time log
/// (8 bytes a step, $\lceil M/B \rceil \cdot$ epochs steps).
pub fn point_bytes(
    arch: Architecture,
    width: usize,
    depth: usize,
    batch: usize,
    train_subset: usize,
    epochs: usize,
) -> f64 {
    let (n, l, b) = (width as f64, depth as f64, batch as f64);
    let k = if arch == Architecture::Full { 2.0 } else { 1.0 };
    let params = 3.0 * (784.0 * n + l * k * n * n + 10.0 * n);
    let tape = 5.0 * (l + 1.0) * n * b + 784.0 * b;
    let steps = train_subset.div_ceil(batch.max(1)) as f64 * epochs as f64;
    4.0 * (params + tape) + 8.0 * steps
}

impl Config {
    /// Checks every value of the section (and of every grid, under `grids[i].key`) against a
    /// range generous for real use that rules out what would panic, exhaust memory or never end.
    pub fn check(&self) -> Result<(), ConfigError> {
        let s = Section("training");
        s.int("width", self.width, 1, MAX_WIDTH)?;
        s.int("batch", self.batch, 1, 60_000)?;
        s.int("epochs", self.epochs, 1, 1000)?;
        s.int("train_subset", self.train_subset, 1, 60_000)?;
        s.int("test_subset", self.test_subset, 1, 10_000)?;
        s.len("seeds", self.seeds.len(), 1, 64)?;
        for (i, seed) in self.seeds.iter().enumerate() {
            if self.seeds[..i].contains(seed) {
                return Err(s.error(format!("seeds[{i}]"), seed, "a seed not already in the list"));
            }
        }
        s.positive("loss_threshold", self.loss_threshold, 1e9)?;
        s.len("grids", self.grids.len(), 1, 64)?;
        let mut points = 0usize;
        for (i, g) in self.grids.iter().enumerate() {
            let key = |k: &str| format!("grids[{i}].{k}");
            if !GridSpec::valid_name(&g.name) {
                return Err(s.error(key("name"), format!("{:?}", g.name), "1 to 64 ASCII letters, digits, '-' or '_'"));
            }
            if self.grids[..i].iter().any(|h| h.name == g.name) {
                return Err(s.error(key("name"), format!("{:?}", g.name), "a name no other grid has"));
            }
            if let Some(a) = g.alpha {
                s.positive(key("alpha"), a, 100.0)?;
            }
            g.act.with_alpha(g.alpha).map_err(|e| match e {
                ActivationError::MissingAlpha => {
                    s.error(key("alpha"), "(unset)", "a finite number > 0, required by act = \"alpha-relu\"")
                }
                e => s.error(key("act"), g.act, e.to_string()),
            })?;
            s.len(key("depths"), g.depths.len(), 1, 64)?;
            for (j, &d) in g.depths.iter().enumerate() {
                s.int(key(&format!("depths[{j}]")), d, 1, MAX_DEPTH)?;
                if j > 0 && d <= g.depths[j - 1] {
                    return Err(s.error(
                        key(&format!("depths[{j}]")),
                        d,
                        format!("a depth above the previous one, {}", g.depths[j - 1]),
                    ));
                }
            }
            s.positive(key("sw2"), g.sw2, 1e6)?;
            s.positive(key("sv2_min"), g.sv2_min, 1e6)?;
            s.positive(key("sv2_max"), g.sv2_max, 1e6)?;
            if g.sv2_max < g.sv2_min {
                return Err(s.error(key("sv2_max"), g.sv2_max, format!("a number >= sv2_min = {}", g.sv2_min)));
            }
            s.int(key("sv2_count"), g.sv2_count, 1, MAX_SV2_COUNT)?;
            s.real(key("sb2"), g.sb2, 0.0, 1e6)?;
            s.real(key("sa2"), g.sa2, 0.0, 1e6)?;
            s.positive(key("lr"), g.lr, 1e3)?;
            let deepest = *g.depths.last().unwrap_or(&1);
            let bytes = point_bytes(g.arch, self.width, deepest, self.batch, self.train_subset, self.epochs);
            if bytes > MAX_POINT_BYTES {
                return Err(s.error(
                    key("depths"),
                    format!(
                        "{:?} (at width {}, batch {}: about {:.1} GB for one run at depth {deepest})",
                        g.depths,
                        self.width,
                        self.batch,
                        bytes / 1e9
                    ),
                    format!("depths, width and batch for which one run needs at most {:.0} GB", MAX_POINT_BYTES / 1e9),
                ));
            }
            points += g.depths.len() * g.variances().len() * self.seeds.len();
        }
        if points > MAX_POINTS {
            return Err(s.error(
                "grids",
                format!("{points} training runs in all"),
                format!("at most {MAX_POINTS} runs (grids x depths x variances x seeds)"),
            ));
        }
        Ok(())
    }

    /// Every training run of every grid, in a fixed order (grid, depth, variance, seed).
    pub fn points(&self) -> Vec<(usize, TrainConfig)> {
        let mut out = Vec::new();
        for (gi, g) in self.grids.iter().enumerate() {
            for &depth in &g.depths {
                for sv2 in g.variances() {
                    for &seed in &self.seeds {
                        out.push((
                            gi,
                            TrainConfig {
                                arch: g.arch,
                                act: g.act,
                                alpha: g.alpha,
                                width: self.width,
                                depth,
                                sw2: g.sw2,
                                sv2,
                                sb2: g.sb2,
                                sa2: g.sa2,
                                lr: g.lr,
                                momentum: 0.0,
                                batch: self.batch,
                                epochs: self.epochs,
                                train_subset: Some(self.train_subset),
                                test_subset: Some(self.test_subset),
                                seed,
                                threads: 1,
                                matmul_threads: 1,
                                blowup_factor: crate::nn::train::DEFAULT_BLOWUP_FACTOR,
                                eval_every_epoch: true,
                            },
                        ));
                    }
                }
            }
        }
        out
    }
}
