//! Stage "prediction" (chapter 6): init-time mean-field theory against trained accuracy.
//!
//! For every trained grid (one architecture, activation and set of training hyperparameters,
//! depth x variance x seeds) it computes the init-time metrics of every grid point from the
//! mean-field recurrences, finds the accuracy ridge (best variance per depth), fits
//! $\ln v^*$ against $\ln L$, measures how each metric varies along the ridge and how well it
//! predicts accuracy across depths, compares Xavier, He and the theory's depth-aware
//! initialization with the best, draws accuracy heatmaps with the metric's contours, and states
//! the paper's claims 3 and 4 as checkable claims.
//!
//! The theory enters through the [`Theory`] trait (the mean-field engine in production, closed
//! forms in tests); everything else is [`crate::analysis`].

use crate::activation::Activation;
use crate::analysis::predictors::{self, MetricScore};
use crate::analysis::ridge::{RidgeOptions, Run};
use crate::analysis::stats;
use crate::analysis::study::{self, InitEval, InitMetrics, Study, StudyOptions, METRICS};
use crate::architecture::Architecture;
use crate::pipeline::{Artifact, Claim, ClaimStatus, DataTable, Figure, StageError};
use crate::report::figures::{ContourSet, Heatmap, LinePlot, MarkerShape, Series, SeriesStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The profile section `[prediction]`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Bootstrap replicates of the ridge's seed uncertainty.
    pub bootstrap: usize,
    /// Seed of the bootstrap's random number generator.
    pub rng_seed: u64,
    /// Accuracy counted for a diverged run (chance level for ten classes).
    pub fail_accuracy: f64,
    /// Keep ridge points on the grid edge in the slope fit and ridge statistics.
    pub include_edge: bool,
    /// Fewest depths with an interior ridge point for the ridge and predictor claims.
    pub min_depths: usize,
    /// C3b: ridge spread / grid spread of the gradient explosion must be below this.
    pub spread_threshold: f64,
    /// C3e: $e^L$ counts as not predictive if its held-out skill is below this fraction of the
    /// best metric's.
    pub skill_fraction: f64,
    /// C3c/C3d: the predicted metric counts as the best predictor unless its held-out error
    /// exceeds the best's by more than this fraction and it is worse at the p-value `worse_p`.
    pub mae_tolerance: f64,
    pub worse_p: f64,
    /// C4a: an accuracy gap counts if it exceeds this many standard errors.
    pub gap_z: f64,
    /// Squared input length $p^0$ per coordinate; `None`: computed from MNIST.
    pub p0: Option<f64>,
    /// Cosine $e^0$ between two inputs; `None`: computed from MNIST.
    pub e0: Option<f64>,
    /// Variance points of the contour field drawn over each heatmap.
    pub contour_points: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bootstrap: 400,
            rng_seed: 2017,
            fail_accuracy: 0.1,
            include_edge: false,
            min_depths: 3,
            spread_threshold: 0.5,
            skill_fraction: 0.5,
            mae_tolerance: 0.1,
            worse_p: 0.05,
            gap_z: 2.0,
            p0: None,
            e0: None,
            contour_points: 40,
        }
    }
}

impl Config {
    /// Checks every value against its valid range.
    pub fn validate(&self) -> Result<(), crate::error::UsageError> {
        use crate::error::{check_range, UsageError};
        let name = |k: &str| format!("[prediction] {k}");
        check_range(&name("fail_accuracy"), self.fail_accuracy, 0.0, 1.0)?;
        check_range(&name("min_depths"), self.min_depths as f64, 3.0, 1e6)?;
        check_range(&name("spread_threshold"), self.spread_threshold, 1e-9, 1e9)?;
        check_range(&name("skill_fraction"), self.skill_fraction, 1e-9, 1.0)?;
        check_range(&name("mae_tolerance"), self.mae_tolerance, 0.0, 1e9)?;
        check_range(&name("worse_p"), self.worse_p, 1e-12, 1.0 - 1e-12)?;
        check_range(&name("gap_z"), self.gap_z, 1e-9, 1e9)?;
        check_range(&name("contour_points"), self.contour_points as f64, 2.0, 1000.0)?;
        if let Some(p0) = self.p0 {
            check_range(&name("p0"), p0, 1e-300, 1e300)?;
        }
        if let Some(e0) = self.e0 {
            check_range(&name("e0"), e0, -1.0, 1.0)?;
        }
        if self.bootstrap == 1 {
            return Err(UsageError::new("[prediction] bootstrap = 1 is out of range (valid: 0 for none, or >= 2)"));
        }
        Ok(())
    }
}

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
    /// $\sigma_w^2$ otherwise, the rest of `c` fixed) whose `metric` (`"log_explosion"` or
    /// `"log_p"`) at `depth` stays below `bound`.
    fn recommend(&self, c: &InitConfig, depth: usize, metric: &str, bound: f64) -> Option<f64>;
}

/// One trained network, as the training stage exports it (table `training`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainedPoint {
    pub arch: String,
    pub act: String,
    pub alpha: Option<f64>,
    pub width: usize,
    pub depth: usize,
    pub sw2: f64,
    pub sv2: f64,
    pub sb2: f64,
    pub sa2: f64,
    pub lr: f64,
    pub batch: usize,
    pub epochs: f64,
    pub train_subset: Option<f64>,
    pub seed: u64,
    /// `None` (JSON null) if not finite.
    pub test_acc: Option<f64>,
    pub diverged: bool,
}

fn field_f64(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(Value::as_f64)
}

impl TrainedPoint {
    /// Reads one row of the training table; `None` names the first missing or mistyped key.
    pub fn from_json(v: &Value) -> Result<Self, String> {
        let f = |k: &str| field_f64(v, k).ok_or_else(|| format!("key '{k}' missing or not a number"));
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string).ok_or_else(|| format!("key '{k}' missing or not a string"));
        Ok(Self {
            arch: s("arch")?,
            act: s("act")?,
            alpha: field_f64(v, "alpha"),
            width: f("width")? as usize,
            depth: f("depth")? as usize,
            sw2: f("sw2")?,
            sv2: f("sv2")?,
            sb2: f("sb2")?,
            sa2: f("sa2")?,
            lr: f("lr")?,
            batch: field_f64(v, "batch").unwrap_or(0.0) as usize,
            epochs: field_f64(v, "epochs").unwrap_or(0.0),
            train_subset: field_f64(v, "train_subset"),
            seed: field_f64(v, "seed").unwrap_or(0.0) as u64,
            test_acc: field_f64(v, "test_acc"),
            diverged: v.get("diverged").and_then(Value::as_bool).unwrap_or(false),
        })
    }
}

/// Weight variance of the Xavier initialization ($\sigma_w^2 = \sigma_v^2 = 1$).
pub const XAVIER_VARIANCE: f64 = 1.0;
/// Weight variance of the He initialization ($\sigma_w^2 = \sigma_v^2 = 2$).
pub const HE_VARIANCE: f64 = 2.0;

/// Which variance the grid varies, and so what its axis $v$ means.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Axis {
    /// $v = \sigma_v^2$ at fixed $\sigma_w^2$.
    Sv2 { sw2: f64 },
    /// $v = \sigma_w^2$ at fixed $\sigma_v^2$ (RRNs: their only weight variance).
    Sw2 { sv2: f64 },
    /// $v = \sigma_v^2\sigma_w^2$ with a fixed ratio $\sigma_v^2/\sigma_w^2$.
    Product { ratio: f64 },
}

impl Axis {
    /// Detects the axis of a group of points.
    pub fn detect(points: &[&TrainedPoint]) -> Result<Self, String> {
        let same = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300);
        let all_same = |f: &dyn Fn(&TrainedPoint) -> f64| points.iter().all(|p| same(f(p), f(points[0])));
        let sw_const = all_same(&|p| p.sw2);
        let sv_const = all_same(&|p| p.sv2);
        match (sw_const, sv_const) {
            (true, false) => Ok(Axis::Sv2 { sw2: points[0].sw2 }),
            (false, true) => Ok(Axis::Sw2 { sv2: points[0].sv2 }),
            (true, true) => Err("the grid varies neither sw2 nor sv2".into()),
            (false, false) => {
                if points.iter().any(|p| p.sw2 <= 0.0) {
                    return Err("sw2 = 0 in a grid that varies sw2 and sv2".into());
                }
                let r = points[0].sv2 / points[0].sw2;
                if all_same(&|p| p.sv2 / p.sw2) {
                    Ok(Axis::Product { ratio: r })
                } else {
                    Err("the grid varies sw2 and sv2 independently (not a one-parameter family)".into())
                }
            }
        }
    }

    /// The axis value of a point.
    pub fn value(&self, sw2: f64, sv2: f64) -> f64 {
        match self {
            Axis::Sv2 { .. } => sv2,
            Axis::Sw2 { .. } => sw2,
            Axis::Product { .. } => sv2 * sw2,
        }
    }

    /// (sw2, sv2) at axis value `v`.
    pub fn weights(&self, v: f64) -> (f64, f64) {
        match *self {
            Axis::Sv2 { sw2 } => (sw2, v),
            Axis::Sw2 { sv2 } => (v, sv2),
            Axis::Product { ratio } => ((v / ratio).sqrt(), (v * ratio).sqrt()),
        }
    }

    /// Axis values of the Xavier and He initializations: every weight variance 1, resp. 2.
    pub fn xavier_he(&self) -> (f64, f64) {
        match self {
            Axis::Product { .. } => (XAVIER_VARIANCE * XAVIER_VARIANCE, HE_VARIANCE * HE_VARIANCE),
            _ => (XAVIER_VARIANCE, HE_VARIANCE),
        }
    }

    /// Plain-text label for figures.
    pub fn label(&self) -> &'static str {
        match self {
            Axis::Sv2 { .. } => "σ_v²",
            Axis::Sw2 { .. } => "σ_w²",
            Axis::Product { .. } => "σ_v² σ_w²",
        }
    }

    /// LaTeX label for the text.
    pub fn latex(&self) -> &'static str {
        match self {
            Axis::Sv2 { .. } => r"\sigma_v^2",
            Axis::Sw2 { .. } => r"\sigma_w^2",
            Axis::Product { .. } => r"\sigma_v^2\sigma_w^2",
        }
    }

    /// The recommender searches sv2 (FRN) or sw2 (otherwise); its result as an axis value.
    fn axis_of_searched(&self, arch: Architecture, searched: f64, base: &InitConfig) -> Option<f64> {
        match (self, arch) {
            (Axis::Sv2 { .. }, Architecture::Full) => Some(searched),
            (Axis::Sw2 { .. }, a) if a != Architecture::Full => Some(searched),
            (Axis::Product { .. }, Architecture::Full) => Some(searched * base.sw2),
            (Axis::Product { .. }, _) => Some(searched * base.sv2),
            _ => None,
        }
    }
}

/// The metric whose contours the paper draws for an activation (and a second one, dashed).
pub fn contour_metrics(act: &Activation) -> (&'static str, Option<&'static str>) {
    match act {
        Activation::Relu | Activation::AlphaRelu { .. } => ("log_s", Some("log_p")),
        _ => ("log_explosion", None),
    }
}

/// The metric the theory predicts to matter, with the recommender target used for it.
fn theory_metric(act: &Activation) -> (&'static str, &'static str) {
    match act {
        Activation::Relu | Activation::AlphaRelu { .. } => ("log_s", "log_p"),
        _ => ("log_explosion", "log_explosion"),
    }
}

/// One analysed grid.
#[derive(Clone, Debug, Serialize)]
pub struct GroupResult {
    /// Slug used in figure names, e.g. `full-tanh`.
    pub id: String,
    /// Human label, e.g. `FRN tanh`.
    pub label: String,
    pub arch: Architecture,
    pub act: Activation,
    pub axis: Axis,
    pub base: InitConfig,
    pub hyper: Value,
    pub study: Study,
    /// The metric recommended by the theory for this activation and the bound used by the
    /// recommender at each depth (the median of the metric on the ridge at the other depths).
    pub theory_metric: String,
    pub recommender_target: String,
    pub recommender_bounds: Vec<(usize, f64)>,
    /// Where training starts to fail at each depth (see [`divergence_boundary`]).
    pub boundary: Vec<BoundaryPoint>,
    /// Spread ratio of $\log p^L$ along the boundary (and of $\ln v$, for reference).
    pub boundary_spread_log_p: Option<f64>,
    pub boundary_spread_log_v: Option<f64>,
}

/// The onset of divergence at one depth.
#[derive(Clone, Debug, Serialize)]
pub struct BoundaryPoint {
    pub depth: usize,
    /// Largest variance below the boundary where some seed trained, and the first variance
    /// above it where every seed diverged (and every larger one too).
    pub v_below: f64,
    pub v_above: f64,
    /// Geometric midpoint $\sqrt{v_\text{below} v_\text{above}}$ and the metrics there.
    pub variance: f64,
    pub metrics: InitMetrics,
}

/// Per depth, the boundary between variances where training ran and the range above it where
/// every run diverged; `None` at depths with no such range (or where everything diverged).
pub fn divergence_boundary(s: &Study) -> Vec<(usize, f64, f64)> {
    s.depths
        .iter()
        .filter_map(|&d| {
            let row: Vec<&study::CellRow> = s.cells.iter().filter(|c| c.depth == d).collect();
            let all_div = |c: &&study::CellRow| c.n_diverged == c.n;
            // first index k such that every cell from k on fully diverged
            let k = row.iter().rposition(|c| !all_div(c)).map(|i| i + 1)?;
            (k < row.len()).then(|| (d, row[k - 1].variance, row[k].variance))
        })
        .collect()
}

/// Everything the stage computed.
#[derive(Clone, Debug, Serialize)]
pub struct Analysis {
    pub p0: f64,
    pub e0: f64,
    pub groups: Vec<GroupResult>,
    /// Groups that could not be analysed, with the reason.
    pub skipped: Vec<(String, String)>,
}

fn group_label(arch: Architecture, act: &Activation) -> (String, String) {
    let (id_act, label_act) = match act {
        Activation::AlphaRelu { alpha } => (format!("alpha-relu-{}", format!("{alpha}").replace('.', "p")), format!("α-ReLU (α = {alpha})")),
        Activation::Relu => ("relu".into(), "ReLU".into()),
        other => (other.kind().into(), other.kind().into()),
    };
    (format!("{}-{}", arch.name(), id_act), format!("{} {}", arch.short(), label_act))
}

/// Groups the points by everything except depth, weight variances and seed.
pub fn group_points(points: &[TrainedPoint]) -> Vec<(Value, Vec<&TrainedPoint>)> {
    let mut groups: BTreeMap<String, (Value, Vec<&TrainedPoint>)> = BTreeMap::new();
    for p in points {
        let key = json!({
            "arch": p.arch, "act": p.act, "alpha": p.alpha, "width": p.width, "sb2": p.sb2, "sa2": p.sa2,
            "lr": p.lr, "batch": p.batch, "epochs": p.epochs, "train_subset": p.train_subset,
        });
        groups.entry(key.to_string()).or_insert_with(|| (key, Vec::new())).1.push(p);
    }
    groups.into_values().collect()
}

/// Analyses every grid of `points` with the theory `theory` at input moments `p0`, `e0`.
pub fn analyze(points: &[TrainedPoint], p0: f64, e0: f64, cfg: &Config, theory: &dyn Theory) -> Analysis {
    let mut groups = Vec::new();
    let mut skipped = Vec::new();
    let mut used_ids: Vec<String> = Vec::new();
    for (hyper, pts) in group_points(points) {
        match analyze_group(&hyper, &pts, p0, e0, cfg, theory) {
            Ok(mut g) => {
                let mut id = g.id.clone();
                let mut k = 2;
                while used_ids.contains(&id) {
                    id = format!("{}-{k}", g.id);
                    k += 1;
                }
                if id != g.id {
                    g.label = format!("{} (grid {})", g.label, k - 1);
                }
                g.id = id.clone();
                used_ids.push(id);
                groups.push(g);
            }
            Err(why) => skipped.push((hyper.to_string(), why)),
        }
    }
    Analysis { p0, e0, groups, skipped }
}

fn analyze_group(
    hyper: &Value,
    pts: &[&TrainedPoint],
    p0: f64,
    e0: f64,
    cfg: &Config,
    theory: &dyn Theory,
) -> Result<GroupResult, String> {
    let first = pts[0];
    let arch = Architecture::parse(&first.arch).map_err(|e| e.to_string())?;
    let act = Activation::parse(&first.act, first.alpha).map_err(|e| e.to_string())?;
    let axis = Axis::detect(pts)?;
    let base = InitConfig { arch, act, sw2: first.sw2, sv2: first.sv2, sb2: first.sb2, sa2: first.sa2, p0, e0 };
    let at = |v: f64| {
        let (sw2, sv2) = axis.weights(v);
        InitConfig { sw2, sv2, ..base }
    };
    let runs: Vec<Run> = pts
        .iter()
        .map(|p| Run {
            depth: p.depth,
            variance: axis.value(p.sw2, p.sv2),
            seed: p.seed,
            accuracy: p.test_acc.unwrap_or(f64::NAN),
            diverged: p.diverged,
        })
        .collect();
    let mut depths: Vec<usize> = runs.iter().map(|r| r.depth).collect();
    depths.sort_unstable();
    depths.dedup();
    let mut vs: Vec<f64> = runs.iter().map(|r| r.variance).collect();
    vs.sort_by(f64::total_cmp);
    vs.dedup_by(|a, b| (*a - *b).abs() <= 1e-9 * a.abs().max(b.abs()));

    // Metrics of every cell: one recurrence per variance, sampled at every depth.
    let cell_metrics: Vec<(f64, Vec<InitMetrics>)> =
        vs.par_iter().map(|&v| (v, theory.metrics(&at(v), &depths))).collect();
    let lookup = |depth: usize, v: f64| -> InitMetrics {
        let near = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs());
        if let (Some((_, ms)), Some(k)) =
            (cell_metrics.iter().find(|(x, _)| near(*x, v)), depths.iter().position(|d| *d == depth))
        {
            return ms[k];
        }
        theory.metrics(&at(v), &[depth])[0]
    };

    let (xv, hv) = axis.xavier_he();
    let opts = StudyOptions {
        ridge: RidgeOptions { bootstrap: cfg.bootstrap, rng_seed: cfg.rng_seed },
        fail_accuracy: cfg.fail_accuracy,
        include_edge: cfg.include_edge,
        xavier_v: xv,
        he_v: hv,
        gap_z: cfg.gap_z,
        ..StudyOptions::default()
    };
    // First pass without the recommender: its bound is calibrated on the ridge.
    let pre = study::study(&runs, &lookup, None, &opts).map_err(|e| e.to_string())?;
    let (tm, target) = theory_metric(&act);
    let ridge_vals: Vec<(usize, f64)> = pre
        .ridge
        .iter()
        .filter(|r| cfg.include_edge || !r.point.at_edge)
        .filter_map(|r| r.metrics.get(target).filter(|m| m.is_finite()).map(|m| (r.point.depth, m)))
        .collect();
    // Leave-one-depth-out calibration: the bound at depth d is the median of the target metric on
    // the ridge at the other depths.
    let bounds: Vec<(usize, f64)> = depths
        .iter()
        .filter_map(|&d| {
            let others: Vec<f64> = ridge_vals.iter().filter(|(e, _)| *e != d).map(|(_, m)| *m).collect();
            stats::median(&others).map(|m| (d, m))
        })
        .collect();
    let recommend = |d: usize| -> Option<f64> {
        let bound = bounds.iter().find(|(e, _)| *e == d)?.1;
        let searched = theory.recommend(&base, d, target, bound)?;
        axis.axis_of_searched(arch, searched, &base)
    };
    let study = study::study(&runs, &lookup, Some(&recommend), &opts).map_err(|e| e.to_string())?;
    let boundary: Vec<BoundaryPoint> = divergence_boundary(&study)
        .into_iter()
        .map(|(depth, lo, hi)| {
            let v = (lo * hi).sqrt();
            BoundaryPoint { depth, v_below: lo, v_above: hi, variance: v, metrics: theory.metrics(&at(v), &[depth])[0] }
        })
        .collect();
    let grid_log_p: Vec<f64> = study.cells.iter().map(|c| c.metrics.log_p).filter(|x| x.is_finite()).collect();
    let grid_log_v: Vec<f64> = study.cells.iter().map(|c| c.variance.ln()).collect();
    let bp: Vec<f64> = boundary.iter().map(|b| b.metrics.log_p).filter(|x| x.is_finite()).collect();
    let bv: Vec<f64> = boundary.iter().map(|b| b.variance.ln()).collect();
    let boundary_spread_log_p = predictors::spread_ratio(&bp, &grid_log_p).ok();
    let boundary_spread_log_v = predictors::spread_ratio(&bv, &grid_log_v).ok();
    let (id, label) = group_label(arch, &act);
    Ok(GroupResult {
        id,
        label,
        arch,
        act,
        axis,
        base,
        hyper: hyper.clone(),
        study,
        theory_metric: tm.into(),
        recommender_target: target.into(),
        recommender_bounds: bounds,
        boundary,
        boundary_spread_log_p,
        boundary_spread_log_v,
    })
}

// ---------------------------------------------------------------------------------------------
// Input moments

/// Mean-field input moments of the MNIST embedding $x^0 = E\tilde u$, $E_{ij} \sim N(0, 1/784)$, of the
/// standardized images $\tilde u$: conditional on the images, $E[(x^0_i)^2] = \|\tilde u\|^2/784$ and
/// $E[x^0_i x'^0_i] = \tilde u\cdot\tilde u'/784$. Over the first `n` training images,
/// $p^0 = \frac1n\sum_a \|\tilde u_a\|^2/784$ and $\gamma^0$ is the mean over ordered pairs
/// $a \ne b$ of $\tilde u_a\cdot\tilde u_b/784$, computed exactly through
/// $\sum_{a\ne b}\tilde u_a\cdot\tilde u_b = \|\sum_a \tilde u_a\|^2 - \sum_a\|\tilde u_a\|^2$;
/// $e^0 = \gamma^0/p^0$ (the recurrences take two inputs of equal length $p^0$).
pub fn input_moments(m: &crate::nn::mnist::Mnist, n: usize) -> (f64, f64) {
    use crate::nn::mnist::PIXELS;
    let n = n.clamp(2, m.train.len());
    let mut buf = vec![0.0f64; PIXELS];
    let mut sum = vec![0.0f64; PIXELS];
    let mut sq = 0.0;
    for a in 0..n {
        m.gather_range::<f64>(&m.train, a, a + 1, &mut buf);
        for (s, x) in sum.iter_mut().zip(&buf) {
            *s += x;
        }
        sq += buf.iter().map(|x| x * x).sum::<f64>();
    }
    let d = PIXELS as f64;
    let p0 = sq / (n as f64 * d);
    let cross = sum.iter().map(|x| x * x).sum::<f64>() - sq;
    let gamma0 = cross / ((n * (n - 1)) as f64 * d);
    (p0, gamma0 / p0)
}

// ---------------------------------------------------------------------------------------------
// Claims

fn status(b: bool) -> ClaimStatus {
    if b {
        ClaimStatus::Reproduced
    } else {
        ClaimStatus::NotReproduced
    }
}

fn f3(x: f64) -> String {
    crate::report::format::num(x, 3)
}

fn is_relu_like(a: &Activation) -> bool {
    matches!(a, Activation::Relu | Activation::AlphaRelu { .. })
}

/// Interior ridge points used by the statistics.
fn n_ridge(g: &GroupResult, cfg: &Config) -> usize {
    g.study.ridge.iter().filter(|r| cfg.include_edge || !r.point.at_edge).count()
}

fn metric_label(key: &str) -> &'static str {
    match key {
        "log_explosion" => "log gradient explosion",
        "log_chi_w" => "log chi_w ratio",
        "log_p" => "log p^L",
        "log_s" => "log s^L",
        "e" => "e^L",
        "log_v" => "log variance",
        _ => "?",
    }
}

fn lodo_text(s: &Study) -> String {
    s.scores
        .iter()
        .filter_map(|m| m.lodo.as_ref().map(|l| format!("{} {}", metric_label(&m.name), f3(l.mae))))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The chapter's claims (SCIENCE.md claims 3 and 4, split into checkable statements).
pub fn claims(a: &Analysis, cfg: &Config) -> Vec<Claim> {
    let chapter = "prediction".to_string();
    let mk = |id: &str, claim: &str, criterion: String, measured: String, status: ClaimStatus| Claim {
        id: id.into(),
        chapter: chapter.clone(),
        claim: claim.into(),
        criterion,
        measured,
        status,
    };
    let enough = |g: &&GroupResult| n_ridge(g, cfg) >= cfg.min_depths;
    let tanh: Vec<&GroupResult> = a.groups.iter().filter(|g| g.act == Activation::Tanh).collect();
    let relu: Vec<&GroupResult> = a.groups.iter().filter(|g| is_relu_like(&g.act)).collect();
    let not_enough = |gs: &[&GroupResult], what: &str| -> String {
        if gs.is_empty() {
            format!("no {what} grid was trained")
        } else {
            gs.iter()
                .map(|g| format!("{}: {} interior ridge depths (need {})", g.label, n_ridge(g, cfg), cfg.min_depths))
                .collect::<Vec<_>>()
                .join("; ")
        }
    };
    let mut out = Vec::new();

    // C3a: tanh ridge slope.
    {
        let tested: Vec<&GroupResult> = tanh.iter().copied().filter(enough).filter(|g| g.study.slope.is_some()).collect();
        let criterion = "95% CI of the OLS slope of log(best variance) on log(depth) contains -1 and excludes 0".to_string();
        let (measured, st) = if tested.is_empty() {
            (not_enough(&tanh, "tanh"), ClaimStatus::NotTested)
        } else {
            let ok = tested.iter().all(|g| {
                let f = &g.study.slope.as_ref().expect("filtered").fit;
                f.ci_contains(-1.0) && !f.ci_contains(0.0)
            });
            let m = tested
                .iter()
                .map(|g| {
                    let f = &g.study.slope.as_ref().expect("filtered").fit;
                    format!("{}: slope {} [{}, {}] over {} depths", g.label, f3(f.slope), f3(f.ci_slope[0]), f3(f.ci_slope[1]), f.n)
                })
                .collect::<Vec<_>>()
                .join("; ");
            (m, status(ok))
        };
        out.push(mk("C3a", "Peak accuracy of tanh resnets keeps sigma_v^2 * depth constant: log(best variance) falls with slope -1 in log(depth)", criterion, measured, st));
    }

    // C3b: gradient explosion constant along the tanh ridge.
    {
        let tested: Vec<&GroupResult> = tanh
            .iter()
            .copied()
            .filter(enough)
            .filter(|g| g.study.score("log_explosion").and_then(|s| s.spread_ratio).is_some())
            .collect();
        let criterion = format!(
            "sd of log gradient explosion on the ridge / its sd over the grid < {}",
            cfg.spread_threshold
        );
        let (measured, st) = if tested.is_empty() {
            (not_enough(&tanh, "tanh"), ClaimStatus::NotTested)
        } else {
            let r = |g: &GroupResult| g.study.score("log_explosion").and_then(|s| s.spread_ratio).expect("filtered");
            let ok = tested.iter().all(|g| r(g) < cfg.spread_threshold);
            let m = tested
                .iter()
                .map(|g| {
                    let lv = g.study.baseline_log_v.spread_ratio;
                    format!("{}: ratio {} (log variance itself: {})", g.label, f3(r(g)), lv.map_or("-".into(), f3))
                })
                .collect::<Vec<_>>()
                .join("; ");
            (m, status(ok))
        };
        out.push(mk("C3b", "The expected gradient explosion is nearly constant along the tanh accuracy ridge", criterion, measured, st));
    }

    // C3c / C3d: best predictor by held-out error (or not significantly worse than the best).
    let best_claim = |id: &str, claim: &str, gs: &[&GroupResult], want: &str, what: &str| -> Claim {
        let tested: Vec<&GroupResult> = gs
            .iter()
            .copied()
            .filter(enough)
            .filter(|g| g.study.best_by_lodo.is_some() && g.study.score(want).is_some_and(|s| s.lodo.is_some()))
            .collect();
        let criterion = format!(
            "{} has the lowest leave-one-depth-out mean absolute error (MAE) of accuracy among the five metrics, or one not worse than the lowest by both more than {}% and at one-sided p < {} (paired t on per-cell errors)",
            metric_label(want),
            100.0 * cfg.mae_tolerance,
            cfg.worse_p
        );
        let (measured, st) = if tested.is_empty() {
            (not_enough(gs, what), ClaimStatus::NotTested)
        } else {
            let verdict = |g: &GroupResult| -> (bool, String) {
                let best = g.study.best_by_lodo.as_deref().expect("filtered");
                if best == want {
                    return (true, format!("best {}", metric_label(best)));
                }
                let (w, b) = (g.study.score(want).expect("filtered"), g.study.score(best).expect("has lodo"));
                let (lw, lb) = (w.lodo.as_ref().expect("filtered").mae, b.lodo.as_ref().expect("has lodo").mae);
                let rel = (lw - lb) / lb;
                match predictors::paired_comparison(w, b) {
                    Ok(pc) => (
                        rel < cfg.mae_tolerance || pc.p_worse >= cfg.worse_p,
                        format!(
                            "best {}, {} worse by {}% (p = {})",
                            metric_label(best),
                            metric_label(want),
                            f3(100.0 * rel),
                            f3(pc.p_worse)
                        ),
                    ),
                    Err(e) => (rel < cfg.mae_tolerance, format!("best {}, {} worse by {}% (no paired test: {e})", metric_label(best), metric_label(want), f3(100.0 * rel))),
                }
            };
            let ok = tested.iter().all(|g| verdict(g).0);
            let m = tested
                .iter()
                .map(|g| format!("{}: {} (MAE: {})", g.label, verdict(g).1, lodo_text(&g.study)))
                .collect::<Vec<_>>()
                .join("; ");
            (m, status(ok))
        };
        mk(id, claim, criterion, measured, st)
    };
    out.push(best_claim("C3c", "Gradient explosion is the init-time metric that best predicts the accuracy of tanh resnets", &tanh, "log_explosion", "tanh"));
    out.push(best_claim(
        "C3d",
        "Metric expressivity s^L is the init-time metric that best predicts the accuracy of ReLU and alpha-ReLU resnets",
        &relu,
        "log_s",
        "ReLU or alpha-ReLU",
    ));

    // C3e: e^L not predictive.
    {
        let all: Vec<&GroupResult> = a.groups.iter().collect();
        let skill = |g: &GroupResult, key: &str| g.study.score(key).and_then(Study::skill);
        let tested: Vec<&GroupResult> = all
            .iter()
            .copied()
            .filter(enough)
            .filter(|g| skill(g, "e").is_some() && g.study.best_by_lodo.as_deref().and_then(|b| skill(g, b)).is_some())
            .collect();
        let criterion = format!(
            "for every grid, the held-out skill of e^L (1 - MAE / MAE of a constant) is below {} x that of the best metric",
            cfg.skill_fraction
        );
        let (measured, st) = if tested.is_empty() {
            (not_enough(&all, "trained"), ClaimStatus::NotTested)
        } else {
            let pair = |g: &GroupResult| {
                let b = g.study.best_by_lodo.as_deref().expect("filtered");
                (skill(g, "e").expect("filtered"), skill(g, b).expect("filtered"), b.to_string())
            };
            let ok = tested.iter().all(|g| {
                let (se, sb, _) = pair(g);
                se < cfg.skill_fraction * sb
            });
            let m = tested
                .iter()
                .map(|g| {
                    let (se, sb, b) = pair(g);
                    if b == "e" {
                        format!("{}: e^L is the best metric (skill {})", g.label, f3(se))
                    } else {
                        format!("{}: skill of e^L {}, of {} {}", g.label, f3(se), metric_label(&b), f3(sb))
                    }
                })
                .collect::<Vec<_>>()
                .join("; ");
            (m, status(ok))
        };
        out.push(mk("C3e", "Angular expressivity e^L does not predict accuracy", criterion, measured, st));
    }

    // C3f: the ReLU failure region follows a contour of p^L.
    {
        let tested: Vec<&GroupResult> =
            relu.iter().copied().filter(|g| g.boundary.len() >= cfg.min_depths && g.boundary_spread_log_p.is_some()).collect();
        let criterion = format!(
            "sd of log p^L at the divergence boundary (midpoint between the last trained and the first all-diverged variance, per depth) / its sd over the grid < {}",
            cfg.spread_threshold
        );
        let (measured, st) = if tested.is_empty() {
            let why = if relu.is_empty() {
                "no ReLU or alpha-ReLU grid was trained".to_string()
            } else {
                relu.iter()
                    .map(|g| format!("{}: divergence boundary inside the grid at {} depths (need {})", g.label, g.boundary.len(), cfg.min_depths))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            (why, ClaimStatus::NotTested)
        } else {
            let ok = tested.iter().all(|g| g.boundary_spread_log_p.expect("filtered") < cfg.spread_threshold);
            let m = tested
                .iter()
                .map(|g| {
                    format!(
                        "{}: ratio {} over {} depths (log variance itself: {})",
                        g.label,
                        f3(g.boundary_spread_log_p.expect("filtered")),
                        g.boundary.len(),
                        g.boundary_spread_log_v.map_or("-".into(), f3)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            (m, status(ok))
        };
        out.push(mk("C3f", "For ReLU-type resnets the region where training fails follows a contour of p^L (overflow)", criterion, measured, st));
    }

    // C4a: Xavier and He are not optimal at depth.
    {
        let deepest = |g: &GroupResult| -> Option<(usize, InitEval, InitEval)> {
            let d = *g.study.depths.last()?;
            let x = g.study.xavier.iter().find(|e| e.depth == d)?.clone();
            let h = g.study.he.iter().find(|e| e.depth == d)?.clone();
            Some((d, x, h))
        };
        let all: Vec<&GroupResult> = a.groups.iter().collect();
        let tested: Vec<&GroupResult> = all
            .iter()
            .copied()
            .filter(|g| deepest(g).is_some_and(|(_, x, h)| x.significant.is_some() && h.significant.is_some()))
            .collect();
        let criterion = format!(
            "at the largest depth of every grid, best accuracy minus the Xavier and the He accuracy each exceed {} standard errors (pooled seed sd)",
            cfg.gap_z
        );
        let (measured, st) = if tested.is_empty() {
            let why = if all.is_empty() { "no grid was trained".to_string() } else { "no grid has two seeds per cell to estimate the seed noise".to_string() };
            (why, ClaimStatus::NotTested)
        } else {
            let ok = tested.iter().all(|g| {
                let (_, x, h) = deepest(g).expect("filtered");
                x.significant == Some(true) && h.significant == Some(true)
            });
            let m = tested
                .iter()
                .map(|g| {
                    let (d, x, h) = deepest(g).expect("filtered");
                    format!(
                        "{} at L = {d}: gap Xavier {} (se {}), He {} (se {})",
                        g.label,
                        f3(x.gap),
                        f3(x.gap_se.unwrap_or(f64::NAN)),
                        f3(h.gap),
                        f3(h.gap_se.unwrap_or(f64::NAN))
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            (m, status(ok))
        };
        out.push(mk("C4a", "Xavier and He initializations are not optimal for deep residual networks", criterion, measured, st));
    }

    // C4b: the optimal variance depends on depth.
    {
        let all: Vec<&GroupResult> = a.groups.iter().collect();
        let tested: Vec<&GroupResult> = all.iter().copied().filter(enough).filter(|g| g.study.slope.is_some()).collect();
        let criterion = "for every grid, the 95% CI of the slope of log(best variance) on log(depth) excludes 0".to_string();
        let (measured, st) = if tested.is_empty() {
            (not_enough(&all, "trained"), ClaimStatus::NotTested)
        } else {
            let ok = tested.iter().all(|g| !g.study.slope.as_ref().expect("filtered").fit.ci_contains(0.0));
            let m = tested
                .iter()
                .map(|g| {
                    let f = &g.study.slope.as_ref().expect("filtered").fit;
                    format!("{}: slope {} [{}, {}]", g.label, f3(f.slope), f3(f.ci_slope[0]), f3(f.ci_slope[1]))
                })
                .collect::<Vec<_>>()
                .join("; ");
            (m, status(ok))
        };
        out.push(mk("C4b", "The optimal initialization variance depends on depth", criterion, measured, st));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Tables, figures, summary

fn score_json(s: &MetricScore) -> Value {
    json!({
        "key": s.name,
        "label": METRICS.iter().find(|(k, _)| *k == s.name).map_or(r"\log v", |(_, l)| *l),
        "m_star": s.m_star,
        "spread_ratio": s.spread_ratio,
        "spearman": s.spearman,
        "lodo_mae": s.lodo.as_ref().map(|l| l.mae),
        "baseline_mae": s.lodo.as_ref().map(|l| l.baseline_mae),
        "skill": Study::skill(s).map(|x| if x.abs() < 1e-12 { 0.0 } else { x }),
        "n_used": s.n_used,
        "n_excluded": s.n_excluded,
    })
}

/// Table `prediction`: one row per grid and metric.
pub fn prediction_table(a: &Analysis) -> DataTable {
    let rows = a
        .groups
        .iter()
        .flat_map(|g| {
            g.study.scores.iter().chain(std::iter::once(&g.study.baseline_log_v)).map(move |s| {
                let mut r = score_json(s);
                r["grid"] = json!(g.id);
                r["best_by_lodo"] = json!(g.study.best_by_lodo.as_deref() == Some(s.name.as_str()));
                r["best_by_spearman"] = json!(g.study.best_by_spearman.as_deref() == Some(s.name.as_str()));
                r
            })
        })
        .map(|mut r| {
            // grid first in the CSV
            let mut o = serde_json::Map::new();
            o.insert("grid".into(), r["grid"].take());
            for (k, v) in r.as_object().expect("object") {
                if k != "grid" {
                    o.insert(k.clone(), v.clone());
                }
            }
            Value::Object(o)
        })
        .collect();
    DataTable { name: "prediction".into(), rows, json_key: None, extra: Default::default() }
}

/// Table `ridge`: one row per grid and depth.
pub fn ridge_table(a: &Analysis) -> DataTable {
    let mut rows = Vec::new();
    for g in &a.groups {
        for r in &g.study.ridge {
            let p = &r.point;
            let mut o = serde_json::Map::new();
            o.insert("grid".into(), json!(g.id));
            o.insert("depth".into(), json!(p.depth));
            o.insert("best_variance".into(), json!(p.variance));
            o.insert("sd_log_variance".into(), json!(p.sd_log_variance));
            o.insert("at_edge".into(), json!(p.at_edge));
            o.insert("best_cell_variance".into(), json!(p.best_cell_variance));
            o.insert("best_accuracy".into(), json!(p.best_accuracy));
            o.insert("best_accuracy_sd".into(), json!(p.best_accuracy_sd));
            for (k, _) in METRICS {
                o.insert(k.into(), json!(r.metrics.get(k)));
            }
            rows.push(Value::Object(o));
        }
    }
    DataTable { name: "ridge".into(), rows, json_key: None, extra: Default::default() }
}

fn nice_step(span: f64, target: f64) -> f64 {
    let raw = span / target;
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw * 0.999).unwrap_or(10.0 * mag)
}

/// Round-number contour levels covering the finite values (about five).
pub fn contour_levels(values: &[f64]) -> Vec<f64> {
    let fin: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let (lo, hi) = fin.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return vec![];
    }
    let step = nice_step(hi - lo, 5.0);
    let k0 = (lo / step).ceil() as i64;
    let k1 = (hi / step).floor() as i64;
    (k0..=k1).map(|k| k as f64 * step).filter(|v| *v > lo && *v < hi).collect()
}

fn log_spaced(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if n < 2 || hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return vec![lo];
    }
    (0..n).map(|i| (lo.ln() + (hi.ln() - lo.ln()) * i as f64 / (n - 1) as f64).exp()).collect()
}

fn fine_depths(depths: &[usize]) -> Vec<usize> {
    let (lo, hi) = (*depths.first().unwrap_or(&1), *depths.last().unwrap_or(&1));
    let mut d: Vec<usize> = log_spaced(lo as f64, hi as f64, 24).iter().map(|x| x.round().max(1.0) as usize).collect();
    d.extend_from_slice(depths);
    d.sort_unstable();
    d.dedup();
    d
}

/// The accuracy heatmap of one grid with the theory's contours, the ridge, Xavier and He.
pub fn heatmap(g: &GroupResult, theory: &dyn Theory, contour_points: usize) -> Result<Figure, StageError> {
    let s = &g.study;
    let values: Vec<Vec<Option<f64>>> = s
        .depths
        .iter()
        .map(|&d| {
            s.variances
                .iter()
                .map(|&v| {
                    s.cells
                        .iter()
                        .find(|c| c.depth == d && (c.variance - v).abs() <= 1e-9 * v)
                        .map(|c| if c.n_diverged == c.n { f64::NAN } else { c.accuracy })
                })
                .collect()
        })
        .collect();
    let x: Vec<f64> = s.variances.clone();
    let y: Vec<f64> = s.depths.iter().map(|&d| d as f64).collect();
    let mut h = Heatmap::new(format!("{}: test accuracy", g.label), g.axis.label(), "depth L", x.clone(), y.clone(), values)
        .log_x()
        .y_ticks_at_cells()
        .colorbar("test accuracy")
        .color_range(0.0, 1.0);
    if s.depths.len() > 1 && s.depths.last().unwrap_or(&1) / s.depths.first().unwrap_or(&1) >= 4 {
        h = h.log_y();
    }
    // contour field on a finer grid
    let (lo, hi) = (x[0], x[x.len() - 1]);
    let fx = log_spaced(lo, hi, contour_points.max(2));
    let fd = fine_depths(&s.depths);
    let field: Vec<Vec<InitMetrics>> = fx
        .par_iter()
        .map(|&v| {
            let (sw2, sv2) = g.axis.weights(v);
            theory.metrics(&InitConfig { sw2, sv2, ..g.base }, &fd)
        })
        .collect();
    let (main, second) = contour_metrics(&g.act);
    let grid_of = |key: &str| -> Vec<Vec<f64>> {
        (0..fd.len()).map(|j| (0..fx.len()).map(|i| field[i][j].get(key).unwrap_or(f64::NAN)).collect()).collect()
    };
    let fy: Vec<f64> = fd.iter().map(|&d| d as f64).collect();
    for (k, key) in std::iter::once(main).chain(second).enumerate() {
        let vals = grid_of(key);
        let levels = contour_levels(&vals.iter().flatten().copied().collect::<Vec<_>>());
        if levels.is_empty() || fd.len() < 2 {
            continue;
        }
        h = h.contour(ContourSet {
            label: metric_label(key).to_string(),
            x: fx.clone(),
            y: fy.clone(),
            values: vals,
            levels,
            level_labels: None,
            color: (k > 0).then_some(1),
            dashed: k > 0,
        });
    }
    for (i, r) in s.ridge.iter().enumerate() {
        h = h.marker(r.point.variance, r.point.depth as f64, if i == 0 { "ridge (best variance)" } else { "" }, MarkerShape::Diamond);
    }
    let (xv, hv) = g.axis.xavier_he();
    for (i, &d) in y.iter().enumerate() {
        if xv >= lo && xv <= hi {
            h = h.marker(xv, d, if i == 0 { "Xavier" } else { "" }, MarkerShape::Circle);
        }
        if hv >= lo && hv <= hi {
            h = h.marker(hv, d, if i == 0 { "He" } else { "" }, MarkerShape::Triangle);
        }
    }
    let svg = h.render().map_err(|e| StageError::compute("prediction", format!("heatmap of {}: {e}", g.label)))?;
    let (main_tex, second_tex) = (
        METRICS.iter().find(|(k, _)| *k == main).map_or("", |m| m.1),
        second.and_then(|s| METRICS.iter().find(|(k, _)| *k == s)).map(|m| m.1),
    );
    let caption = format!(
        "{}: mean test accuracy over seeds on the grid of depth $L$ and ${}$ (grey with a cross: every seed diverged). Solid lines: contours of the init-time ${main_tex}${}, labelled with their values. Diamonds: the interpolated best variance at each depth. Circles and triangles: Xavier and He.",
        g.label,
        g.axis.latex(),
        second_tex.map_or(String::new(), |t| format!("; dashed: ${t}$")),
    );
    Ok(Figure { name: format!("prediction-heatmap-{}", g.id), caption, svg })
}

/// Best variance against depth for every grid, with the OLS fit.
pub fn ridge_figure(a: &Analysis) -> Result<Option<Figure>, StageError> {
    let mut plot = LinePlot::new("", "depth L", "best variance v*").log_x().log_y();
    let mut any = false;
    for (k, g) in a.groups.iter().enumerate() {
        let pts: Vec<(f64, f64)> = g.study.ridge.iter().map(|r| (r.point.depth as f64, r.point.variance)).collect();
        if pts.is_empty() {
            continue;
        }
        any = true;
        let band: Vec<(f64, f64, f64)> = g
            .study
            .ridge
            .iter()
            .map(|r| {
                let sd = r.point.sd_log_variance.unwrap_or(0.0);
                (r.point.depth as f64, (r.point.log_variance - 1.96 * sd).exp(), (r.point.log_variance + 1.96 * sd).exp())
            })
            .collect();
        plot = plot.series(Series::new(g.label.clone(), pts).style(SeriesStyle::Markers).band(band).color(k));
        if let Some(sl) = &g.study.slope {
            let f = &sl.fit;
            let line: Vec<(f64, f64)> = g
                .study
                .depths
                .iter()
                .map(|&d| (d as f64, (f.intercept + f.slope * (d as f64).ln()).exp()))
                .collect();
            plot = plot.series(
                Series::new(format!("{}: fit, slope {}", g.label, f3(f.slope)), line).style(SeriesStyle::Dashed).color(k),
            );
        }
    }
    if !any {
        return Ok(None);
    }
    let svg = plot.render().map_err(|e| StageError::compute("prediction", format!("ridge figure: {e}")))?;
    Ok(Some(Figure {
        name: "prediction-ridge".into(),
        caption: "Best variance $v^*$ against depth $L$ for every trained grid (log-log), with a band of $\\pm 1.96$ bootstrap standard deviations over seeds and the least-squares line of $\\ln v^*$ on $\\ln L$ (dashed; points on the grid edge are shown but not fitted). Theory for tanh: slope $-1$.".into(),
        svg,
    }))
}

/// Accuracy against the theory's metric, one series per depth (a collapse onto one curve means
/// the metric captures the depth dependence).
pub fn collapse_figure(g: &GroupResult) -> Result<Option<Figure>, StageError> {
    let key = g.theory_metric.as_str();
    let mut plot = LinePlot::new("", metric_label(key), "test accuracy");
    let mut any = false;
    for (k, &d) in g.study.depths.iter().enumerate() {
        let mut pts: Vec<(f64, f64)> = g
            .study
            .cells
            .iter()
            .filter(|c| c.depth == d)
            .filter_map(|c| c.metrics.get(key).filter(|m| m.is_finite()).map(|m| (m, c.accuracy)))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        if pts.is_empty() {
            continue;
        }
        any = true;
        plot = plot.series(Series::new(format!("L = {d}"), pts).style(SeriesStyle::LineWithMarkers).color(k));
    }
    if !any {
        return Ok(None);
    }
    let svg = plot.render().map_err(|e| StageError::compute("prediction", format!("collapse figure: {e}")))?;
    let tex = METRICS.iter().find(|(k, _)| *k == key).map_or("", |m| m.1);
    Ok(Some(Figure {
        name: format!("prediction-collapse-{}", g.id),
        caption: format!(
            "{}: mean test accuracy against the init-time ${tex}$, one curve per depth. If the metric captures how the optimum moves with depth, the curves fall onto one another.",
            g.label
        ),
        svg,
    }))
}

/// One row per depth: best, Xavier, He and the recommendation side by side.
fn init_rows(s: &Study) -> Vec<Value> {
    s.depths
        .iter()
        .map(|&d| {
            let f = |v: &[InitEval]| v.iter().find(|e| e.depth == d).cloned();
            let (x, h, r) = (f(&s.xavier), f(&s.he), f(&s.recommended));
            json!({
                "depth": d,
                "best_accuracy": x.as_ref().or(h.as_ref()).map(|e| e.best_accuracy),
                "xavier_accuracy": x.as_ref().and_then(|e| e.accuracy),
                "xavier_gap": x.as_ref().map(|e| e.gap),
                "he_accuracy": h.as_ref().and_then(|e| e.accuracy),
                "he_gap": h.as_ref().map(|e| e.gap),
                "xavier_outside": x.as_ref().is_some_and(|e| e.accuracy.is_none()),
                "xavier_nearest": x.as_ref().map(|e| e.nearest_accuracy),
                "he_outside": h.as_ref().is_some_and(|e| e.accuracy.is_none()),
                "he_nearest": h.as_ref().map(|e| e.nearest_accuracy),
                "recommended_v": r.as_ref().map(|e| e.variance),
                "recommended_accuracy": r.as_ref().map(|e| e.accuracy.unwrap_or(e.nearest_accuracy)),
                "recommended_outside": r.as_ref().is_some_and(|e| e.accuracy.is_none()),
                "recommended_gap": r.as_ref().map(|e| e.gap),
            })
        })
        .collect()
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(ao), Value::Object(bo)) = (a.as_object_mut(), b) {
        ao.extend(bo);
    }
    a
}

fn eval_json(e: &InitEval) -> Value {
    json!({
        "depth": e.depth, "variance": e.variance, "accuracy": e.accuracy, "nearest_accuracy": e.nearest_accuracy,
        "nearest_variance": e.nearest_variance, "best_accuracy": e.best_accuracy, "gap": e.gap, "gap_se": e.gap_se,
        "significant": e.significant,
    })
}

/// The summary the chapter template reads.
pub fn summary(a: &Analysis, cfg: &Config, claims: &[Claim], p0_source: &str) -> Value {
    let groups: Vec<Value> = a
        .groups
        .iter()
        .map(|g| {
            let s = &g.study;
            let slope = |sl: &Option<crate::analysis::ridge::RidgeSlope>| {
                sl.as_ref().map(|sl| {
                    json!({
                        "slope": sl.fit.slope, "lo": sl.fit.ci_slope[0], "hi": sl.fit.ci_slope[1], "se": sl.fit.se_slope,
                        "n": sl.fit.n, "t": sl.fit.t_crit, "r2": sl.fit.r_squared, "intercept": sl.fit.intercept,
                        "depths_used": sl.depths_used, "depths_excluded": sl.depths_excluded,
                        "contains_minus_one": sl.fit.ci_contains(-1.0), "excludes_zero": !sl.fit.ci_contains(0.0),
                    })
                })
            };
            let ridge: Vec<Value> = s
                .ridge
                .iter()
                .map(|r| {
                    let p = &r.point;
                    json!({
                        "depth": p.depth, "variance": p.variance, "sd_log_variance": p.sd_log_variance,
                        "at_edge": p.at_edge, "best_accuracy": p.best_accuracy, "best_accuracy_sd": p.best_accuracy_sd,
                        "edge_fraction": p.bootstrap_edge_fraction, "metrics": r.metrics,
                    })
                })
                .collect();
            let (xv, hv) = g.axis.xavier_he();
            let theory_score = s.score(&g.theory_metric).map(score_json);
            let a = json!({
                "id": g.id,
                "label": g.label,
                "arch": g.arch.short(),
                "act": g.act.kind(),
                "alpha": g.act.alpha(),
                "axis": g.axis,
                "axis_tex": g.axis.latex(),
                "xavier_v": xv,
                "he_v": hv,
                "hyper": g.hyper,
                "depths": s.depths,
                "n_depths": s.depths.len(),
                "n_variances": s.variances.len(),
                "v_min": s.variances.first(),
                "v_max": s.variances.last(),
                "n_runs": s.n_runs,
                "n_cells": s.n_cells,
                "n_diverged": s.n_diverged,
                "max_seeds": s.max_seeds,
                "pooled_seed_sd": s.pooled_seed_sd,
            });
            let b = json!({
                "ridge": ridge,
                "n_ridge_interior": n_ridge(g, cfg),
                "flat_depths": s.flat_depths,
                "slope": slope(&s.slope),
                "slope_weighted": slope(&s.slope_weighted),
                "slope_error": s.slope_error,
                "scores": s.scores.iter().map(score_json).collect::<Vec<_>>(),
                "baseline": score_json(&s.baseline_log_v),
                "best_by_lodo": s.best_by_lodo,
                "best_by_lodo_label": s.best_by_lodo.as_deref().map(metric_label),
                "best_by_spearman": s.best_by_spearman,
                "best_by_spearman_label": s.best_by_spearman.as_deref().map(metric_label),
                "theory_metric": g.theory_metric,
                "theory_metric_label": metric_label(&g.theory_metric),
                "theory_score": theory_score,
                "recommender_target": g.recommender_target,
                "recommender_target_label": metric_label(&g.recommender_target),
                "recommender_bounds": g.recommender_bounds.iter().map(|(d, b)| json!({"depth": d, "bound": b})).collect::<Vec<_>>(),
                "xavier": s.xavier.iter().map(eval_json).collect::<Vec<_>>(),
                "he": s.he.iter().map(eval_json).collect::<Vec<_>>(),
                "recommended": s.recommended.iter().map(eval_json).collect::<Vec<_>>(),
                "init_rows": init_rows(s),
                "boundary": g.boundary.iter().map(|b| json!({"depth": b.depth, "v_below": b.v_below, "v_above": b.v_above, "variance": b.variance, "log_p": b.metrics.log_p})).collect::<Vec<_>>(),
                "boundary_spread_log_p": g.boundary_spread_log_p,
                "boundary_spread_log_v": g.boundary_spread_log_v,
                "figures": {
                    "heatmap": format!("prediction-heatmap-{}", g.id),
                    "collapse": format!("prediction-collapse-{}", g.id),
                },
            });
            merge(a, b)
        })
        .collect();
    json!({
        "pixels": crate::nn::mnist::PIXELS,
        "level": StudyOptions::default().level,
        "tanh_theory_slope": -1,
        "ln_f32_max": crate::meanfield::init::LN_F32_MAX,
        "xavier_weight_variance": XAVIER_VARIANCE,
        "he_weight_variance": HE_VARIANCE,
        "p0": a.p0,
        "e0": a.e0,
        "p0_source": p0_source,
        "groups": groups,
        "n_groups": a.groups.len(),
        "skipped": a.skipped.iter().map(|(k, w)| json!({"grid": k, "why": w})).collect::<Vec<_>>(),
        "config": cfg,
        "claims": claims,
        "n_reproduced": claims.iter().filter(|c| c.status == ClaimStatus::Reproduced).count(),
        "n_not_reproduced": claims.iter().filter(|c| c.status == ClaimStatus::NotReproduced).count(),
        "n_not_tested": claims.iter().filter(|c| c.status == ClaimStatus::NotTested).count(),
        "has_ridge_figure": a.groups.iter().any(|g| !g.study.ridge.is_empty()),
    })
}

/// Builds the artifact from the trained points (the part of the stage after reading its inputs).
pub fn build(points: &[TrainedPoint], p0: f64, e0: f64, p0_source: &str, cfg: &Config, theory: &dyn Theory) -> Result<Artifact, StageError> {
    let a = analyze(points, p0, e0, cfg, theory);
    let claims = claims(&a, cfg);
    let mut figures = Vec::new();
    for g in &a.groups {
        figures.push(heatmap(g, theory, cfg.contour_points)?);
        if let Some(f) = collapse_figure(g)? {
            figures.push(f);
        }
    }
    if let Some(f) = ridge_figure(&a)? {
        figures.push(f);
    }
    let summary = summary(&a, cfg, &claims, p0_source);
    Ok(Artifact { summary, tables: vec![prediction_table(&a), ridge_table(&a)], figures, claims })
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
    fn recommend(&self, c: &InitConfig, depth: usize, metric: &str, bound: f64) -> Option<f64> {
        use crate::meanfield::init::{recommend, Target};
        let target = match metric {
            "log_explosion" => Target::Grad { max: bound },
            "log_p" => Target::LogP { max: bound },
            _ => return None,
        };
        let r = recommend(&Self::spec(c), depth, target).ok()?;
        if r.capped {
            return None;
        }
        Some(if c.arch == Architecture::Full { r.best.sv2? } else { r.best.sw2 })
    }
}

/// The stage.
pub struct PredictionStage {
    cfg: Config,
}

impl PredictionStage {
    /// The stage for a profile section, whose values are checked here.
    pub fn new(cfg: Config) -> Result<Self, crate::pipeline::ConfigError> {
        cfg.validate().map_err(|e| crate::pipeline::Section("prediction").error("section", "(see below)", e.to_string()))?;
        Ok(Self { cfg })
    }
}

impl crate::pipeline::Stage for PredictionStage {
    fn name(&self) -> &'static str {
        "prediction"
    }
    fn version(&self) -> u32 {
        2
    }
    fn deps(&self) -> &'static [&'static str] {
        &["training"]
    }
    fn config(&self) -> Value {
        serde_json::to_value(&self.cfg).expect("config serializes")
    }
    fn chapter(&self) -> Option<crate::pipeline::Chapter> {
        Some(crate::pipeline::Chapter { title: "Prediction", template: include_str!("../../../templates/chapters/prediction.md.j2") })
    }
    fn run(&self, ctx: &crate::pipeline::StageContext) -> Result<Artifact, StageError> {
        run_with(&self.cfg, ctx, &MeanField)
    }
}

/// The trained points from the training stage's artifact: its table `training` (one row per run).
pub fn trained_points(training: &Artifact) -> Result<Vec<TrainedPoint>, StageError> {
    let table = training
        .tables
        .iter()
        .find(|t| t.name == "training")
        .ok_or_else(|| StageError::compute("prediction", "the training artifact has no table 'training'"))?;
    table
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| TrainedPoint::from_json(r).map_err(|e| StageError::compute("prediction", format!("training table row {i}: {e}"))))
        .collect()
}

/// The stage's computation given the theory: reads the training artifact, determines the input
/// moments (profile values or MNIST), analyses, and builds the artifact.
pub fn run_with(cfg: &Config, ctx: &crate::pipeline::StageContext, theory: &dyn Theory) -> Result<Artifact, StageError> {
    cfg.validate().map_err(|e| StageError::compute("prediction", e.to_string()))?;
    let training = ctx.artifact("training")?;
    let points = trained_points(training)?;
    let (p0, e0, source) = match (cfg.p0, cfg.e0) {
        (Some(p0), Some(e0)) => (p0, e0, "the values set in the profile".to_string()),
        (p0_cfg, e0_cfg) => {
            let m = crate::nn::mnist::Mnist::load_from(None).map_err(|e| StageError::compute("prediction", format!("cannot load MNIST: {e}")))?;
            let n = points.iter().filter_map(|p| p.train_subset).fold(0.0f64, f64::max) as usize;
            let n = if n == 0 { m.train.len() } else { n.min(m.train.len()) };
            let (p0, e0) = input_moments(&m, n);
            (p0_cfg.unwrap_or(p0), e0_cfg.unwrap_or(e0), format!("the {n} training images the networks were trained on"))
        }
    };
    ctx.progress.info(&format!("  prediction: {} trained points, p0 = {p0:.4}, e0 = {e0:.4}", points.len()));
    build(&points, p0, e0, &source, cfg, theory)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Closed-form stand-in for the mean-field engine. ReLU FRN with zero biases (exact, SCIENCE.md
    /// section 5): $\ln(\chi^0/\chi^L) = L\ln(1 + v/2)$ and $p^L = p^0 (1 + v/2)^L$ with
    /// $v = \sigma_v^2\sigma_w^2$; $1 - e^L$ from the $l^{-2}$ law. tanh FRN: the asymptotic
    /// $\ln(\chi^0/\chi^L) \approx (8/3)/\sqrt{2\pi}\,\sigma_v\sigma_w\sqrt L$, $p^L = p^0 + \sigma_v^2 L$.
    struct FakeTheory;

    impl Theory for FakeTheory {
        fn metrics(&self, c: &InitConfig, depths: &[usize]) -> Vec<InitMetrics> {
            depths
                .iter()
                .map(|&l| {
                    let l = l as f64;
                    match c.act {
                        Activation::Tanh => {
                            let ex = 8.0 / 3.0 / (2.0 * std::f64::consts::PI).sqrt() * (c.sv2 * c.sw2).sqrt() * l.sqrt();
                            let p = c.p0 + c.sv2 * l;
                            InitMetrics { log_explosion: ex, log_chi_w: 0.5 * ex, log_p: p.ln(), log_s: (2.0 * p).ln(), e: c.e0 / (1.0 + l) }
                        }
                        _ => {
                            let v = c.sv2 * c.sw2;
                            let r = (v / 2.0) / (1.0 + v / 2.0);
                            let k = 2.0 * 2f64.sqrt() / (3.0 * std::f64::consts::PI);
                            let ome = 4.0 / (r * k * l + 4.0 / (1.0 - c.e0).sqrt()).powi(2);
                            let lp = c.p0.ln() + l * (1.0 + v / 2.0).ln();
                            InitMetrics { log_explosion: l * (1.0 + v / 2.0).ln(), log_chi_w: 0.0, log_p: lp, log_s: (2.0f64).ln() + lp + ome.ln(), e: 1.0 - ome }
                        }
                    }
                })
                .collect()
        }

        fn recommend(&self, c: &InitConfig, depth: usize, metric: &str, bound: f64) -> Option<f64> {
            // bisection on the searched variance (sv2 for FRN)
            let (mut lo, mut hi) = (1e-6f64, 1e4f64);
            let val = |x: f64| {
                let m = self.metrics(&InitConfig { sv2: x, ..*c }, &[depth])[0];
                m.get(metric).unwrap()
            };
            if val(lo) > bound {
                return None;
            }
            for _ in 0..200 {
                let mid = (lo * hi).sqrt();
                if val(mid) > bound {
                    hi = mid
                } else {
                    lo = mid
                }
            }
            Some(lo)
        }
    }

    fn point(act: &str, depth: usize, sw2: f64, sv2: f64, seed: u64, acc: f64) -> TrainedPoint {
        TrainedPoint {
            arch: "full".into(),
            act: act.into(),
            alpha: None,
            width: 64,
            depth,
            sw2,
            sv2,
            sb2: 0.0,
            sa2: 0.0,
            lr: 0.01,
            batch: 64,
            epochs: 1.0,
            train_subset: None,
            seed,
            test_acc: Some(acc),
            diverged: false,
        }
    }

    /// A small synthetic training grid: tanh accuracy peaks where sv2 * L = 8 (slope -1, explosion
    /// constant along the ridge); ReLU accuracy peaks where log s^L = 3, with seed noise from a
    /// fixed pattern.
    fn synthetic_points() -> Vec<TrainedPoint> {
        let mut pts = Vec::new();
        let jitter = [0.004, -0.006, 0.002];
        for (di, &l) in [4usize, 8, 16, 32].iter().enumerate() {
            for i in 0..13 {
                let v = 0.0625 * 2f64.powf(0.5 * i as f64);
                for seed in 0..3u64 {
                    let j = jitter[(seed as usize + i + di) % 3];
                    let u = (v * l as f64 / 8.0).ln();
                    pts.push(point("tanh", l, 1.0, v, seed, 0.1 + 0.85 * (-0.5 * u * u).exp() + j));
                    let m = FakeTheory.metrics(&InitConfig { arch: Architecture::Full, act: Activation::Relu, sw2: 1.0, sv2: v, sb2: 0.0, sa2: 0.0, p0: 1.0, e0: 0.3 }, &[l])[0];
                    let z = (m.log_s - 3.0) / 1.5;
                    let mut p = point("relu", l, 1.0, v, seed, 0.1 + 0.85 * (-0.5 * z * z).exp() + j);
                    // training fails where p^L exceeds e^7 (a stand-in for float overflow)
                    if m.log_p > 7.0 {
                        p.diverged = true;
                        p.test_acc = None;
                    }
                    pts.push(p);
                }
            }
        }
        pts
    }

    /// The identity-based moments against a direct double loop over pairs, and p0 = 1 over the whole
    /// training set (the standardization makes the pixels' mean square 1 by construction).
    #[test]
    fn input_moments_match_direct_pairs() {
        use crate::nn::mnist::PIXELS;
        let m = crate::nn::mnist::test_data();
        let n = 40;
        let mut x = vec![0.0f64; n * PIXELS];
        m.gather_range::<f64>(&m.train, 0, n, &mut x);
        let img = |a: usize| &x[a * PIXELS..(a + 1) * PIXELS];
        let (mut p, mut g, mut pairs) = (0.0, 0.0, 0usize);
        for a in 0..n {
            p += img(a).iter().map(|v| v * v).sum::<f64>() / PIXELS as f64;
            for b in 0..n {
                if a != b {
                    g += img(a).iter().zip(img(b)).map(|(u, v)| u * v).sum::<f64>() / PIXELS as f64;
                    pairs += 1;
                }
            }
        }
        let (p0, e0) = input_moments(m, n);
        let p_direct = p / n as f64;
        assert!((p0 - p_direct).abs() < 1e-12 * p_direct);
        assert!((e0 - g / pairs as f64 / p_direct).abs() < 1e-10, "{e0}");
        let (p_all, e_all) = input_moments(m, m.train.len());
        assert!((p_all - 1.0).abs() < 1e-9, "{p_all}");
        assert!(e_all > 0.0 && e_all < 1.0);
    }

    #[test]
    fn config_validation_names_the_value() {
        assert!(Config::default().validate().is_ok());
        let e = Config { fail_accuracy: 1.5, ..Config::default() }.validate().unwrap_err().to_string();
        assert!(e.contains("fail_accuracy = 1.5") && e.contains("valid"), "{e}");
        let e = Config { min_depths: 2, ..Config::default() }.validate().unwrap_err().to_string();
        assert!(e.contains("min_depths"), "{e}");
        assert!(Config { e0: Some(1.2), ..Config::default() }.validate().is_err());
        assert!(Config { bootstrap: 1, ..Config::default() }.validate().is_err());
    }

    /// The engine adapter against the exact ReLU FRN solution with zero biases (SCIENCE.md section 5):
    /// $\ln(\chi^0/\chi^L) = L\ln(1 + \sigma_v^2\sigma_w^2/2)$ and $p^L = p^0(1 + \sigma_v^2\sigma_w^2/2)^L$,
    /// at every requested depth of one recurrence.
    #[test]
    fn mean_field_adapter_matches_relu_closed_form() {
        let c = InitConfig { arch: Architecture::Full, act: Activation::Relu, sw2: 1.5, sv2: 0.8, sb2: 0.0, sa2: 0.0, p0: 0.9, e0: 0.3 };
        let depths = [3usize, 10, 40];
        let m = MeanField.metrics(&c, &depths);
        let rate = (1.0f64 + 0.8 * 1.5 / 2.0).ln();
        for (k, &l) in depths.iter().enumerate() {
            assert!((m[k].log_explosion - l as f64 * rate).abs() < 1e-9 * l as f64, "{:?}", m[k]);
            assert!((m[k].log_p - (0.9f64.ln() + l as f64 * rate)).abs() < 1e-9 * l as f64, "{:?}", m[k]);
            assert!(m[k].e > 0.3 && m[k].e < 1.0 && m[k].log_s.is_finite());
        }
        // the recommendation: largest sv2 with L ln(1 + sv2 sw2/2) <= G is 2 (e^{G/L} - 1)/sw2
        let (l, g) = (20usize, 3.0);
        let r = MeanField.recommend(&c, l, "log_explosion", g).unwrap();
        let exact = 2.0 * ((g / l as f64).exp() - 1.0) / 1.5;
        assert!((r / exact - 1.0).abs() < 1e-5, "{r} vs {exact}");
    }

    #[test]
    fn divergence_boundary_is_the_start_of_the_all_diverged_tail() {
        let mut pts = Vec::new();
        // depth 4: diverges from v = 4 on; depth 8: a lone diverged cell at v = 1 then trains again,
        // diverges from v = 8; depth 16: never diverges
        for (l, div) in [(4usize, vec![4.0, 8.0]), (8, vec![1.0, 8.0]), (16, vec![])] {
            for v in [0.5, 1.0, 2.0, 4.0, 8.0] {
                let mut p = point("relu", l, 1.0, v, 0, 0.5 + 0.01 * v);
                p.diverged = div.contains(&v);
                pts.push(p);
            }
        }
        let runs: Vec<Run> = pts
            .iter()
            .map(|p| Run { depth: p.depth, variance: p.sv2, seed: p.seed, accuracy: p.test_acc.unwrap(), diverged: p.diverged })
            .collect();
        let st = study::study(&runs, &|_, _| InitMetrics::undefined(), None, &StudyOptions::default()).unwrap();
        assert_eq!(divergence_boundary(&st), vec![(4, 2.0, 4.0), (8, 4.0, 8.0)]);
    }

    #[test]
    fn axis_detection() {
        let a = point("tanh", 4, 1.0, 0.5, 0, 0.5);
        let b = point("tanh", 4, 1.0, 2.0, 0, 0.5);
        assert_eq!(Axis::detect(&[&a, &b]).unwrap(), Axis::Sv2 { sw2: 1.0 });
        let c = point("tanh", 4, 2.0, 0.5, 0, 0.5);
        assert_eq!(Axis::detect(&[&a, &c]).unwrap(), Axis::Sw2 { sv2: 0.5 });
        let d = point("tanh", 4, 2.0, 4.0, 0, 0.5);
        assert_eq!(Axis::detect(&[&b, &d]).unwrap(), Axis::Product { ratio: 2.0 });
        assert!(Axis::detect(&[&a, &a]).is_err());
        assert!(Axis::detect(&[&a, &b, &c]).is_err());
        let ax = Axis::Product { ratio: 2.0 };
        let (sw2, sv2) = ax.weights(8.0);
        assert!((sw2 - 2.0).abs() < 1e-12 && (sv2 - 4.0).abs() < 1e-12);
    }

    #[test]
    fn reads_training_rows() {
        let row = json!({"arch": "full", "act": "alpha-relu", "alpha": 0.75, "width": 128, "depth": 10, "sw2": 1.0,
            "sv2": 0.5, "sb2": 0.0, "sa2": 0.0, "lr": 0.01, "batch": 64, "epochs": 2, "train_subset": 10000, "seed": 3,
            "test_acc": null, "train_acc": null, "final_loss": null, "diverged": true, "diverged_step": 17,
            "seconds": 1.2, "samples_per_sec": 1000.0});
        let p = TrainedPoint::from_json(&row).unwrap();
        assert_eq!((p.depth, p.seed, p.test_acc, p.diverged, p.alpha), (10, 3, None, true, Some(0.75)));
        assert!(TrainedPoint::from_json(&json!({"arch": "full"})).unwrap_err().contains("act"));
    }

    #[test]
    fn contour_levels_are_round_and_inside() {
        assert_eq!(contour_levels(&[0.3, 4.7]), vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(contour_levels(&[-12.0, 38.0, f64::NAN]), vec![-10.0, 0.0, 10.0, 20.0, 30.0]);
        assert!(contour_levels(&[1.0, 1.0]).is_empty());
    }

    /// The chapter's claims on the synthetic grid. Expected by construction: the tanh ridge has
    /// slope -1 (sv2 L = 8), the explosion is constant along it and predicts best; ReLU accuracy
    /// is a function of log s^L only, so log s^L predicts best; e^L does not predict.
    #[test]
    fn claims_on_synthetic_grid() {
        let pts = synthetic_points();
        let cfg = Config { bootstrap: 50, contour_points: 8, ..Config::default() };
        let art = build(&pts, 1.0, 0.3, "given", &cfg, &FakeTheory).unwrap();
        let by_id = |id: &str| art.claims.iter().find(|c| c.id == id).unwrap();
        assert_eq!(by_id("C3a").status, ClaimStatus::Reproduced, "{:?}", by_id("C3a"));
        assert_eq!(by_id("C3b").status, ClaimStatus::Reproduced, "{:?}", by_id("C3b"));
        assert_eq!(by_id("C3c").status, ClaimStatus::Reproduced, "{:?}", by_id("C3c"));
        assert_eq!(by_id("C3d").status, ClaimStatus::Reproduced, "{:?}", by_id("C3d"));
        // e^L: in the tanh world it depends on depth only (no skill); in the ReLU world the closed
        // form 1 - e^L ~ 4/(r k L)^2 carries information about v and L, so C3e is not asserted.
        assert!(by_id("C3e").measured.contains("FRN tanh: skill of e^L"), "{:?}", by_id("C3e"));
        assert_eq!(by_id("C4a").status, ClaimStatus::Reproduced, "{:?}", by_id("C4a"));
        assert_eq!(by_id("C4b").status, ClaimStatus::Reproduced, "{:?}", by_id("C4b"));
        assert_eq!(by_id("C3f").status, ClaimStatus::Reproduced, "{:?}", by_id("C3f"));
        assert_eq!(art.figures.len(), 2 + 2 + 1);
        assert!(art.figures.iter().all(|f| f.svg.starts_with("<svg")));
        assert_eq!(art.tables[0].rows.len(), 2 * 6);
        assert_eq!(art.tables[1].rows.len(), 8);
        insta::assert_json_snapshot!("prediction_claims_synthetic", art.claims);
    }

    /// The chapter template renders from the synthetic artifact (strict undefined: every key the
    /// template reads exists), starts with its heading and carries every claim.
    #[test]
    fn chapter_renders() {
        use crate::pipeline::StageRecord;
        let cfg = Config { bootstrap: 20, contour_points: 6, ..Config::default() };
        let art = build(&synthetic_points(), 1.0, 0.3, "the synthetic test inputs", &cfg, &FakeTheory).unwrap();
        if let Ok(dir) = std::env::var("EOC_DUMP_FIGURES") {
            for f in &art.figures {
                std::fs::write(format!("{dir}/{}.svg", f.name), &f.svg).unwrap();
            }
        }
        let rec = StageRecord {
            name: "prediction".into(),
            version: 1,
            key: "k".into(),
            cached: false,
            seconds: 0.0,
            jobs: 1,
            artifact: std::sync::Arc::new(art),
            chapter: crate::pipeline::Stage::chapter(&PredictionStage::new(cfg.clone()).unwrap()),
        };
        let info = crate::report::RunInfo::collect("quick", "", 1);
        let out = crate::report::render(&[rec], &info).unwrap();
        let md = &out.markdown;
        let start = md.find("## 6 Prediction").expect("chapter heading");
        let ch = &md[start..];
        for needle in ["### 6.1 Method", "### 6.6 What held", "**C3a**", "**C4b**", "FRN tanh", "prediction-heatmap-full-tanh", "prediction-ridge"] {
            assert!(ch.contains(needle), "missing {needle}");
        }
        assert!(!ch.contains("NaN"), "{ch}");
        if let Ok(path) = std::env::var("EOC_DUMP_CHAPTER") {
            std::fs::write(path, ch).unwrap();
        }
    }

    #[test]
    fn too_few_depths_are_not_tested() {
        let pts: Vec<TrainedPoint> = synthetic_points().into_iter().filter(|p| p.depth <= 8).collect();
        let cfg = Config { bootstrap: 20, contour_points: 6, ..Config::default() };
        let art = build(&pts, 1.0, 0.3, "given", &cfg, &FakeTheory).unwrap();
        for id in ["C3a", "C3b", "C3c", "C3d", "C3e", "C3f", "C4b"] {
            let c = art.claims.iter().find(|c| c.id == id).unwrap();
            assert_eq!(c.status, ClaimStatus::NotTested, "{c:?}");
            assert!(c.measured.contains("(need 3)"), "{c:?}");
        }
    }
}
