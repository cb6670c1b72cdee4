//! The profile section `[training]`: the shared training settings, the learning-rate pilot and
//! the grids, with [`Config::check`], which bounds every value so that no profile can panic,
//! exhaust memory or train an absurd number of points. The points themselves are built in
//! [`super::points`].

use crate::activation::{ActName, ActivationError};
use crate::architecture::Architecture;
use crate::pipeline::{ConfigError, Section};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The learning rate of a grid: a number, or `"auto"` (chosen by the pilot, [`super::pilot`]).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Lr {
    /// Chosen by the pilot before the grid trains.
    #[default]
    Auto,
    /// This rate.
    Fixed(f64),
}

impl Serialize for Lr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Lr::Auto => s.serialize_str("auto"),
            Lr::Fixed(x) => s.serialize_f64(*x),
        }
    }
}

impl<'de> Deserialize<'de> for Lr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(f64),
            Int(i64),
            Text(String),
        }
        match Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom("lr must be a number (0 < lr <= 1000) or \"auto\" (chosen by the pilot)")
        })? {
            Raw::Num(x) => Ok(Lr::Fixed(x)),
            Raw::Int(x) => Ok(Lr::Fixed(x as f64)),
            Raw::Text(t) if t == "auto" => Ok(Lr::Auto),
            Raw::Text(t) => Err(serde::de::Error::custom(format!(
                "lr = {t:?} is invalid (valid: a number with 0 < lr <= 1000, or \"auto\" for the pilot's choice)"
            ))),
        }
    }
}

/// One grid: depth on one axis, a log-spaced variance on the other. For FRNs the axis is
/// $\sigma_v^2$ at the grid's fixed $\sigma_w^2$; for RRNs and vanilla networks (which have no
/// $V$) it is $\sigma_w^2$ itself (`sw2` is then unused and $\sigma_v^2 = 0$).
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
    /// Fixed $\sigma_w^2$ of an FRN grid (for ReLU-type activations only the product
    /// $\sigma_v^2\sigma_w^2$ matters at zero biases, which is the axis the chapter labels).
    #[serde(default = "one")]
    pub sw2: f64,
    /// Smallest and largest axis variance and the number of log-spaced values (rounded to 12
    /// significant digits, so that `0.01` is `0.01`).
    pub sv2_min: f64,
    pub sv2_max: f64,
    pub sv2_count: usize,
    #[serde(default)]
    pub sb2: f64,
    #[serde(default)]
    pub sa2: f64,
    /// A rate, or `"auto"`: the pilot's choice ([`Pilot`]).
    #[serde(default)]
    pub lr: Lr,
    /// Width of this grid's networks (default: the section's `width`).
    #[serde(default)]
    pub width: Option<usize>,
    /// Epochs of this grid (default: the section's `epochs`).
    #[serde(default)]
    pub epochs: Option<usize>,
    /// Seeds of this grid (default: the section's `seeds`).
    #[serde(default)]
    pub seeds: Option<Vec<u64>>,
    /// Also train Xavier ($\sigma_w^2 = \sigma_v^2 = 1$) and He ($\sigma_w^2 = \sigma_v^2 = 2$) at
    /// every depth, at their true points (FRN grids only; default true).
    #[serde(default = "yes")]
    pub inits: bool,
    /// Whether the pilot's control (`pilot.control_depths`) runs on this grid (default true; only
    /// grids with `lr = "auto"`).
    #[serde(default = "yes")]
    pub control: bool,
}

fn one() -> f64 {
    1.0
}

fn yes() -> bool {
    true
}

/// How the pilot chooses among the rates at which every seed trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PilotRule {
    /// The rate with the lowest mean final loss (a learning-rate range test: larger steps that no
    /// longer lower the pilot network's loss are past its optimum and only add noise).
    #[default]
    LowestLoss,
    /// The largest rate.
    Largest,
}

/// The learning-rate pilot (profile table `[training.pilot]`): before a grid with `lr = "auto"`
/// trains, its deepest network at its smallest variance trains for every seed at every rate of
/// `rates` for one short epoch of `train_subset` images. A run *trains* if it ends `trained` and
/// the mean batch loss of its last tenth of steps is below `fraction` times its first batch loss;
/// among the rates at which every seed trains, `rule` picks the grid's rate ([`PilotRule`]). If no
/// rate trains, the grid uses the smallest rate and the chapter says so.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Pilot {
    /// Candidate rates, strictly increasing.
    pub rates: Vec<f64>,
    /// Training images of a pilot run (one epoch: `ceil(train_subset / batch)` steps).
    pub train_subset: usize,
    /// A run trains if its final loss is below this fraction of its initial loss.
    pub fraction: f64,
    /// `lowest_loss` or `largest`.
    pub rule: PilotRule,
    /// Depths (of every grid with `lr = "auto"` that has them) at which a control trains every
    /// variance with the first seed at half and at twice the chosen rate (empty: no control).
    pub control_depths: Vec<usize>,
}

impl Default for Pilot {
    fn default() -> Self {
        Self {
            rates: vec![0.002, 0.005, 0.01, 0.02, 0.05],
            train_subset: 6400,
            fraction: 0.5,
            rule: PilotRule::LowestLoss,
            control_depths: vec![],
        }
    }
}

/// The profile section `[training]`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Width $N$ of every grid without its own `width`.
    pub width: usize,
    pub batch: usize,
    /// Epochs; the test accuracy is recorded after every one.
    pub epochs: usize,
    /// The first M training images.
    pub train_subset: usize,
    /// The first M test images (10000: the full test set).
    pub test_subset: usize,
    pub seeds: Vec<u64>,
    /// A batch loss above `blowup_factor` times the run's own initial loss ends the run (`blowup`).
    pub blowup_factor: f64,
    pub pilot: Pilot,
    pub grids: Vec<GridSpec>,
}

/// A quick-profile FRN grid: depths 4 to 64, $10^{-3} \le$ axis variance $\le 10^2$ at third-decade
/// steps (16 values), learning rate by the pilot.
fn grid(name: &str, act: ActName, alpha: Option<f64>) -> GridSpec {
    GridSpec {
        name: name.into(),
        arch: Architecture::Full,
        act,
        alpha,
        depths: vec![4, 8, 16, 32, 64],
        sw2: 1.0,
        sv2_min: 0.001,
        sv2_max: 100.0,
        sv2_count: 16,
        sb2: 0.0,
        sa2: 0.0,
        lr: Lr::Auto,
        width: None,
        epochs: None,
        seeds: None,
        inits: true,
        control: true,
    }
}

impl Default for Config {
    /// The quick profile (`src/profiles/quick.toml` spells out the same values).
    fn default() -> Self {
        Self {
            width: 64,
            batch: 64,
            epochs: 1,
            train_subset: 20_000,
            test_subset: 10_000,
            seeds: vec![0, 1],
            blowup_factor: 10.0,
            pilot: Pilot::default(),
            grids: vec![
                grid("frn-tanh", ActName::Tanh, None),
                grid("frn-relu", ActName::Relu, None),
                grid("frn-alpha-relu", ActName::AlphaRelu, Some(0.75)),
            ],
        }
    }
}

/// Whether two variances are the same grid value (relative tolerance $10^{-9}$).
pub(crate) fn same(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// `x` rounded to 12 significant digits (the decimal a reader would write: $10^{-2}$ is `0.01`,
/// not `0.010000000000000004`).
pub fn round12(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    format!("{x:.11e}").parse().unwrap_or(x)
}

impl GridSpec {
    /// The axis variances: $n$ = `sv2_count` log-spaced values
    /// $10^{\,a + (b - a)\,i/(n-1)}$ with $a = \log_{10} v_\min$, $b = \log_{10} v_\max$, $i = 0..n-1$
    /// (only $v_\min$ if $n = 1$), each rounded to 12 significant digits ([`round12`]).
    pub fn variances(&self) -> Vec<f64> {
        if self.sv2_count <= 1 {
            return vec![round12(self.sv2_min)];
        }
        let (a, b) = (self.sv2_min.log10(), self.sv2_max.log10());
        (0..self.sv2_count).map(|i| round12(10f64.powf(a + (b - a) * i as f64 / (self.sv2_count - 1) as f64))).collect()
    }

    /// Whether the axis is $\sigma_w^2$ (RRN and vanilla networks, which have no $V$).
    pub fn axis_is_sw2(&self) -> bool {
        self.arch != Architecture::Full
    }

    /// $(\sigma_w^2, \sigma_v^2)$ of the grid point at axis value `v`.
    pub fn weights_at(&self, v: f64) -> (f64, f64) {
        if self.axis_is_sw2() {
            (v, 0.0)
        } else {
            (self.sw2, v)
        }
    }

    /// The label of the variance axis: $\sigma_v^2$ for the smooth activations, the product
    /// $\sigma_v^2\sigma_w^2$ for ReLU-type ones, $\sigma_w^2$ for RRN and vanilla grids.
    pub fn axis_label(&self) -> &'static str {
        if self.axis_is_sw2() {
            return "sigma_w^2";
        }
        match self.act {
            ActName::Tanh | ActName::Erf => "sigma_v^2",
            ActName::Relu | ActName::AlphaRelu | ActName::Gelu => "sigma_v^2 sigma_w^2",
        }
    }

    /// The variance-axis coordinate of a point with these weight variances.
    pub fn axis_of(&self, sw2: f64, sv2: f64) -> f64 {
        match self.axis_label() {
            "sigma_w^2" => sw2,
            "sigma_v^2" => sv2,
            _ => round12(sv2 * sw2),
        }
    }

    /// The variance-axis coordinate of the grid point at axis value `v` (at the grid's $\sigma_w^2$).
    pub fn axis_value(&self, v: f64) -> f64 {
        let (w, s) = self.weights_at(v);
        self.axis_of(w, s)
    }

    /// Whether Xavier and He points are trained (FRN grids with `inits`).
    pub fn has_inits(&self) -> bool {
        self.inits && !self.axis_is_sw2()
    }

    /// Whether the pilot's control runs on this grid.
    pub fn has_control(&self) -> bool {
        self.control && self.lr == Lr::Auto
    }

    /// Width of the grid's networks.
    pub fn width_or(&self, section: usize) -> usize {
        self.width.unwrap_or(section)
    }

    /// Epochs of the grid's runs.
    pub fn epochs_or(&self, section: usize) -> usize {
        self.epochs.unwrap_or(section)
    }

    /// Seeds of the grid.
    pub fn seeds_or<'a>(&'a self, section: &'a [u64]) -> &'a [u64] {
        self.seeds.as_deref().unwrap_or(section)
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
        check_seeds(s, "seeds", &self.seeds)?;
        s.real("blowup_factor", self.blowup_factor, 1.0, 1e9)?;
        self.check_pilot(s)?;
        s.len("grids", self.grids.len(), 1, 64)?;
        for (i, g) in self.grids.iter().enumerate() {
            self.check_grid(s, i, g)?;
        }
        let points = self.count_points();
        if points > MAX_POINTS {
            return Err(s.error(
                "grids",
                format!("{points} training runs in all"),
                format!("at most {MAX_POINTS} runs (grids x depths x variances x seeds, with pilots and controls)"),
            ));
        }
        Ok(())
    }

    fn check_pilot(&self, s: Section) -> Result<(), ConfigError> {
        let p = &self.pilot;
        s.len("pilot.rates", p.rates.len(), 1, 32)?;
        for (j, &r) in p.rates.iter().enumerate() {
            s.positive(format!("pilot.rates[{j}]"), r, 1e3)?;
            if j > 0 && r <= p.rates[j - 1] {
                return Err(s.error(
                    format!("pilot.rates[{j}]"),
                    r,
                    format!("a rate above the previous one, {}", p.rates[j - 1]),
                ));
            }
        }
        s.int("pilot.train_subset", p.train_subset, 1, 60_000)?;
        s.real("pilot.fraction", p.fraction, 1e-6, 1.0)?;
        s.len("pilot.control_depths", p.control_depths.len(), 0, 8)?;
        for (j, &d) in p.control_depths.iter().enumerate() {
            s.int(format!("pilot.control_depths[{j}]"), d, 1, MAX_DEPTH)?;
            if !self.grids.iter().any(|g| g.has_control() && g.depths.contains(&d)) {
                return Err(s.error(
                    format!("pilot.control_depths[{j}]"),
                    d,
                    "a depth of at least one grid with lr = \"auto\" and control = true",
                ));
            }
        }
        Ok(())
    }

    fn check_grid(&self, s: Section, i: usize, g: &GridSpec) -> Result<(), ConfigError> {
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
        if let Lr::Fixed(lr) = g.lr {
            s.positive(key("lr"), lr, 1e3)?;
        }
        if let Some(w) = g.width {
            s.int(key("width"), w, 1, MAX_WIDTH)?;
        }
        if let Some(e) = g.epochs {
            s.int(key("epochs"), e, 1, 1000)?;
        }
        if let Some(seeds) = &g.seeds {
            check_seeds(s, &key("seeds"), seeds)?;
        }
        let width = g.width_or(self.width);
        let deepest = *g.depths.last().unwrap_or(&1);
        let bytes = point_bytes(g.arch, width, deepest, self.batch, self.train_subset, g.epochs_or(self.epochs));
        if bytes > MAX_POINT_BYTES {
            return Err(s.error(
                key("depths"),
                format!(
                    "{:?} (at width {width}, batch {}: about {:.1} GB for one run at depth {deepest})",
                    g.depths,
                    self.batch,
                    bytes / 1e9
                ),
                format!("depths, width and batch for which one run needs at most {:.0} GB", MAX_POINT_BYTES / 1e9),
            ));
        }
        Ok(())
    }

    /// Number of training runs of the section: the grid points (with the Xavier and He points),
    /// the pilots and the controls, counted without building them (an upper bound: points that
    /// coincide are counted twice).
    pub fn count_points(&self) -> usize {
        self.grids
            .iter()
            .map(|g| {
                let seeds = g.seeds_or(&self.seeds).len();
                let inits = if g.has_inits() { 2 } else { 0 };
                let grid = g.depths.len().saturating_mul(g.sv2_count.max(1) + inits).saturating_mul(seeds);
                let auto = g.lr == Lr::Auto;
                let pilot = if auto { self.pilot.rates.len() * seeds } else { 0 };
                let control = if g.has_control() {
                    2 * g.sv2_count.max(1) * self.pilot.control_depths.iter().filter(|d| g.depths.contains(d)).count()
                } else {
                    0
                };
                grid.saturating_add(pilot).saturating_add(control)
            })
            .fold(0usize, usize::saturating_add)
    }
}

/// A list of 1 to 64 distinct seeds.
fn check_seeds(s: Section, key: &str, seeds: &[u64]) -> Result<(), ConfigError> {
    s.len(key, seeds.len(), 1, 64)?;
    for (i, seed) in seeds.iter().enumerate() {
        if seeds[..i].contains(seed) {
            return Err(s.error(format!("{key}[{i}]"), seed, "a seed not already in the list"));
        }
    }
    Ok(())
}
