//! Which init-time metric predicts training best? Seed-level bootstrap intervals of the
//! differences of held-out errors, scored separately for **trainability** and for **accuracy
//! given trained**.
//!
//! Every cell (depth $L$, variance $v$) holds runs, one per seed, each either trained (with a
//! test accuracy) or failed. Two targets per cell:
//! - trainability: the failure fraction $f = n_\text{failed}/n$;
//! - accuracy given trained: the mean test accuracy of the runs that trained (cells where none
//!   trained have no value).
//!
//! For a metric $m$ the held-out error is that of [`super::predictors`]: leave one depth out,
//! regress the target on $m$ over the other depths (Nadaraya-Watson, bandwidth by
//! cross-validation on those depths), predict the held-out depth, and average the absolute errors
//! over all held-out cells: $\mathrm{MAE}(m)$. All metrics are scored on the same cells (those where
//! every compared metric is finite). For the reference metric $r$ and each other metric $m$ the
//! statistic is $D_m = \mathrm{MAE}(r) - \mathrm{MAE}(m)$ (positive: $r$ is worse), with a seed-level
//! bootstrap interval ([`super::bootstrap`]: the seeds of each depth resampled, every target
//! recomputed from the drawn runs; the bandwidths stay those of the original data, so a replicate
//! costs one pass of kernel sums). $m$ is *significantly better* than $r$ when the interval lies above
//! 0, *significantly worse* when it lies below 0, and indistinguishable otherwise. An interval
//! from fewer than [`MIN_DISTINCT`] distinct replicate values (e.g. a failure pattern that every
//! seed shares, so that no resample changes it) shows no sampling variability at all, which is not
//! precision: it counts as indistinguishable.

use super::bootstrap::{seed_bootstrap, BootCi};
use super::predictors::{choose_bandwidth, nadaraya_watson};
use super::AnalysisError;
use serde::{Deserialize, Serialize};

/// One cell: its depth, its runs (seed, test accuracy or `None` if the run failed) and the value
/// of each compared metric.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedCell {
    pub depth: usize,
    pub runs: Vec<(u64, Option<f64>)>,
    pub metrics: Vec<f64>,
}

/// What is predicted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The failure fraction of a cell.
    Trainability,
    /// The mean test accuracy of the runs of a cell that trained.
    AccuracyGivenTrained,
}

impl Target {
    pub fn label(self) -> &'static str {
        match self {
            Target::Trainability => "trainability (failure fraction)",
            Target::AccuracyGivenTrained => "accuracy given trained",
        }
    }

    /// The target of a cell from the runs whose seeds are drawn (with multiplicity).
    fn of(self, runs: &[(u64, Option<f64>)], drawn: &[u64]) -> Option<f64> {
        let (mut n, mut failed, mut acc, mut trained) = (0usize, 0usize, 0.0, 0usize);
        for s in drawn {
            for (seed, a) in runs {
                if seed == s {
                    n += 1;
                    match a {
                        Some(a) => {
                            acc += a;
                            trained += 1;
                        }
                        None => failed += 1,
                    }
                }
            }
        }
        match self {
            Target::Trainability => (n > 0).then(|| failed as f64 / n as f64),
            Target::AccuracyGivenTrained => (trained > 0).then(|| acc / trained as f64),
        }
    }
}

/// The comparison of one target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MaeComparison {
    pub target: Target,
    pub names: Vec<String>,
    /// Held-out MAE of each metric on the common cells.
    pub mae: Vec<f64>,
    pub n_cells: usize,
    pub reference: usize,
    /// Interval of $D_m = \mathrm{MAE}(r) - \mathrm{MAE}(m)$ per metric (`None` for the reference).
    pub diff: Vec<Option<BootCi>>,
    /// Fewest seeds at any depth.
    pub min_seeds: usize,
}

/// Fewest distinct bootstrap values for an interval to count as evidence.
pub const MIN_DISTINCT: usize = 20;

/// How a metric compares with the reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Versus {
    /// The metric's held-out error is significantly lower than the reference's.
    Better,
    /// Significantly higher.
    Worse,
    Indistinguishable,
}

impl MaeComparison {
    /// Metric `m` against the reference (see the module documentation).
    pub fn versus(&self, m: usize) -> Option<Versus> {
        let ci = self.diff.get(m)?.as_ref()?;
        Some(if ci.distinct < MIN_DISTINCT {
            Versus::Indistinguishable
        } else if ci.lo > 0.0 {
            Versus::Better
        } else if ci.hi < 0.0 {
            Versus::Worse
        } else {
            Versus::Indistinguishable
        })
    }
}

/// Held-out absolute-error sum of one metric with fixed per-depth bandwidths.
fn lodo_mae_fixed(x: &[f64], y: &[f64], depth: &[usize], depths: &[usize], h: &[Option<f64>]) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for (k, &d) in depths.iter().enumerate() {
        let (tx, ty): (Vec<f64>, Vec<f64>) = (0..x.len()).filter(|&i| depth[i] != d).map(|i| (x[i], y[i])).unzip();
        if tx.is_empty() {
            continue;
        }
        let mean = ty.iter().sum::<f64>() / ty.len() as f64;
        for i in (0..x.len()).filter(|&i| depth[i] == d) {
            let pred = h[k].map_or(mean, |h| nadaraya_watson(&tx, &ty, h, x[i]));
            sum += (pred - y[i]).abs();
            n += 1;
        }
    }
    sum / n.max(1) as f64
}

/// Compares the metrics of `cells` (named `names`: the first `names.len()` of [`SeedCell::metrics`]) for
/// `target` against metric `reference`, with `replicates` seed-level bootstrap replicates at
/// `level` (see the module documentation). Needs two depths with defined targets and a target
/// that varies.
pub fn compare(
    cells: &[SeedCell],
    names: &[&str],
    reference: usize,
    target: Target,
    replicates: usize,
    rng_seed: u64,
    level: f64,
) -> Result<MaeComparison, AnalysisError> {
    if reference >= names.len() {
        return Err(AnalysisError::Invalid { what: "reference metric", value: reference as f64, why: "out of range" });
    }
    // common support: every metric finite
    let used: Vec<&SeedCell> = cells
        .iter()
        .filter(|c| c.metrics.len() >= names.len() && c.metrics[..names.len()].iter().all(|m| m.is_finite()))
        .collect();
    let mut depths: Vec<usize> = used.iter().map(|c| c.depth).collect();
    depths.sort_unstable();
    depths.dedup();
    let seeds: Vec<Vec<u64>> = depths
        .iter()
        .map(|&d| {
            let mut s: Vec<u64> =
                used.iter().filter(|c| c.depth == d).flat_map(|c| c.runs.iter().map(|r| r.0)).collect();
            s.sort_unstable();
            s.dedup();
            s
        })
        .collect();
    let block_of = |d: usize| depths.iter().position(|x| *x == d).expect("listed");
    // the targets on the original data decide which cells enter (a cell without a value is left out)
    let cell_targets = |draw: &[Vec<usize>]| -> Vec<Option<f64>> {
        used.iter()
            .map(|c| {
                let k = block_of(c.depth);
                let drawn: Vec<u64> = draw[k].iter().map(|&i| seeds[k][i]).collect();
                target.of(&c.runs, &drawn)
            })
            .collect()
    };
    let identity: Vec<Vec<usize>> = seeds.iter().map(|s| (0..s.len()).collect()).collect();
    let t0 = cell_targets(&identity);
    let keep: Vec<usize> = (0..used.len()).filter(|&i| t0[i].is_some()).collect();
    let kd: Vec<usize> = keep.iter().map(|&i| used[i].depth).collect();
    let mut kdepths = kd.clone();
    kdepths.sort_unstable();
    kdepths.dedup();
    if kdepths.len() < 2 {
        return Err(AnalysisError::TooFew { what: "metric comparison (depths)", need: 2, got: kdepths.len() });
    }
    let y0: Vec<f64> = keep.iter().map(|&i| t0[i].expect("kept")).collect();
    if y0.iter().all(|y| (*y - y0[0]).abs() < 1e-12) {
        return Err(AnalysisError::Degenerate {
            what: "metric comparison",
            why: "the target is the same in every cell",
        });
    }
    let xs: Vec<Vec<f64>> = (0..names.len()).map(|m| keep.iter().map(|&i| used[i].metrics[m]).collect()).collect();
    // bandwidths of the original data, per metric and held-out depth
    let hs: Vec<Vec<Option<f64>>> = xs
        .iter()
        .map(|x| {
            kdepths
                .iter()
                .map(|&d| {
                    let idx: Vec<usize> = (0..x.len()).filter(|&i| kd[i] != d).collect();
                    let tx: Vec<f64> = idx.iter().map(|&i| x[i]).collect();
                    let ty: Vec<f64> = idx.iter().map(|&i| y0[i]).collect();
                    let tg: Vec<usize> = idx.iter().map(|&i| kd[i]).collect();
                    choose_bandwidth(&tx, &ty, &tg)
                })
                .collect()
        })
        .collect();
    let maes = |y: &[f64]| -> Vec<f64> {
        (0..names.len()).map(|m| lodo_mae_fixed(&xs[m], y, &kd, &kdepths, &hs[m])).collect()
    };
    let mae = maes(&y0);
    let replicate_y = |draw: &[Vec<usize>]| -> Vec<f64> {
        let t = cell_targets(draw);
        // a kept cell whose drawn runs give no value (e.g. only failed seeds drawn for the
        // accuracy target) keeps its original value
        keep.iter().zip(&y0).map(|(&i, &y)| t[i].unwrap_or(y)).collect()
    };
    let blocks: Vec<usize> = seeds.iter().map(Vec::len).collect();
    let diff = (0..names.len())
        .map(|m| {
            if m == reference {
                return Ok(None);
            }
            seed_bootstrap(&blocks, replicates, rng_seed ^ (m as u64 + 1).wrapping_mul(0x9E37_79B9), level, &|draw| {
                let y = replicate_y(draw);
                let r = lodo_mae_fixed(&xs[reference], &y, &kd, &kdepths, &hs[reference]);
                let o = lodo_mae_fixed(&xs[m], &y, &kd, &kdepths, &hs[m]);
                Some(r - o)
            })
            .map(Some)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(MaeComparison {
        target,
        names: names.iter().map(|s| s.to_string()).collect(),
        mae,
        n_cells: keep.len(),
        reference,
        diff,
        min_seeds: blocks.iter().copied().min().unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    /// A world where the truth is known: accuracy is a bump in $u = \ln(v L)$ plus seed noise,
    /// training fails when $u > 3$. The true metric is $u$; the null $\ln v$ ignores depth.
    fn world(seeds: u64) -> Vec<SeedCell> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let noise = Normal::new(0.0, 0.01).unwrap();
        let mut cells = vec![];
        for &l in &[4usize, 8, 16, 32, 64] {
            for i in 0..14 {
                let lv = -4.0 + 0.5 * i as f64;
                let u = lv + (l as f64).ln();
                let runs = (0..seeds)
                    .map(|s| {
                        let fail = u > 3.0 + 0.3 * noise.sample(&mut rng) / 0.01;
                        let acc = 0.5 + 0.4 * (-0.5 * (u - 1.0).powi(2)).exp() + noise.sample(&mut rng);
                        (s, (!fail).then_some(acc))
                    })
                    .collect();
                cells.push(SeedCell { depth: l, runs, metrics: vec![u, lv, 2.0 * u + 1.0] });
            }
        }
        cells
    }

    #[test]
    fn the_true_metric_beats_the_depth_blind_null() {
        let cells = world(4);
        for target in [Target::Trainability, Target::AccuracyGivenTrained] {
            let c = compare(&cells, &["u", "ln v", "2u + 1"], 0, target, 300, 1, 0.95).unwrap();
            eprintln!("{target:?}: mae {:?}, diff {:?}", c.mae, c.diff);
            assert_eq!(c.versus(1), Some(Versus::Worse), "{target:?}: the null is worse");
            // an increasing transform of the truth cannot be told apart from it
            assert_eq!(c.versus(2), Some(Versus::Indistinguishable), "{target:?}");
            assert_eq!(c.versus(0), None);
            // and from the null's side, the truth is better
            let n = compare(&cells, &["u", "ln v"], 1, target, 300, 1, 0.95).unwrap();
            assert_eq!(n.versus(0), Some(Versus::Better));
        }
    }

    #[test]
    fn degenerate_targets_are_refused() {
        // no failures at all: trainability cannot be scored
        let cells: Vec<SeedCell> = (0..10)
            .map(|i| SeedCell {
                depth: 4 + 4 * (i % 2),
                runs: vec![(0, Some(0.9)), (1, Some(0.8))],
                metrics: vec![i as f64],
            })
            .collect();
        assert!(compare(&cells, &["m"], 0, Target::Trainability, 100, 1, 0.95).is_err());
        assert!(compare(&cells, &["m"], 3, Target::Trainability, 100, 1, 0.95).is_err());
    }
}
