//! The ridge slope with a seed-level bootstrap interval, and its verdict by an equivalence margin
//! stated in advance.
//!
//! The ridge at depth $L$ is the peak of the row's mean accuracy over the cells where every seed
//! trained ([`super::ridge::peak_of_trained_row`]: never through a failed cell). The slope $b$ is
//! the ordinary least-squares slope of $\ln v^*_L$ on $\ln L$ over the depths whose peak is interior.
//! Its interval is the seed-level percentile bootstrap ([`super::bootstrap`]): each replicate draws
//! the seeds of every depth with replacement, recomputes every row's peak and refits $b$.
//!
//! The verdict for a predicted slope $b_0$ with margin $\mu$ (e.g. $b_0 = -1$, $\mu = 0.3$):
//! - **equivalent** when the interval lies inside $(b_0 - \mu, b_0 + \mu)$;
//! - **different** when the interval excludes $b_0$;
//! - **undecided** otherwise (an interval too wide to tell: imprecision is not evidence).

use super::bootstrap::{seed_bootstrap, BootCi};
use super::ridge::{peak_of_trained_row, Grid};
use super::stats;
use super::AnalysisError;
use serde::{Deserialize, Serialize};

/// The outcome of an equivalence test of an interval against $b_0 \pm \mu$.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Equivalence {
    Equivalent,
    Different,
    Undecided,
}

/// The equivalence verdict of the interval $[lo, hi]$ for $b_0$ with margin $\mu$ (see the module
/// documentation).
pub fn equivalence(lo: f64, hi: f64, b0: f64, margin: f64) -> Equivalence {
    if lo > b0 - margin && hi < b0 + margin {
        Equivalence::Equivalent
    } else if b0 < lo || b0 > hi {
        Equivalence::Different
    } else {
        Equivalence::Undecided
    }
}

/// The ridge slope with its seed-level interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedSlope {
    pub ci: BootCi,
    pub depths: Vec<usize>,
    /// Fewest seeds at a depth used.
    pub min_seeds: usize,
}

/// The slope of $\ln v^*$ on $\ln L$ over `depths` (rows of `grid` whose trained-cells peak is
/// interior), with a seed-level bootstrap interval of `replicates` at `level`. Needs three depths.
pub fn seed_slope(
    grid: &Grid,
    depths: &[usize],
    replicates: usize,
    rng_seed: u64,
    level: f64,
) -> Result<SeedSlope, AnalysisError> {
    let rows: Vec<_> = depths.iter().filter_map(|d| grid.row(*d)).collect();
    if rows.len() < 3 {
        return Err(AnalysisError::TooFew { what: "ridge slope (depths)", need: 3, got: rows.len() });
    }
    let seeds: Vec<Vec<u64>> = rows.iter().map(|r| r.seeds()).collect();
    let x: Vec<f64> = rows.iter().map(|r| (r.depth as f64).ln()).collect();
    let stat = |draw: &[Vec<usize>]| -> Option<f64> {
        let y: Option<Vec<f64>> = rows
            .iter()
            .zip(draw)
            .zip(&seeds)
            .map(|((r, d), s)| {
                let drawn: Vec<u64> = d.iter().map(|&i| s[i]).collect();
                peak_of_trained_row(&r.log_variances(), &r.means_of(&drawn), &r.trained()).map(|p| p.log_variance)
            })
            .collect();
        stats::linear_fit(&x, &y?, None, 0.95).ok().map(|f| f.slope)
    };
    let blocks: Vec<usize> = seeds.iter().map(Vec::len).collect();
    let ci = seed_bootstrap(&blocks, replicates, rng_seed, level, &stat)?;
    Ok(SeedSlope {
        ci,
        depths: rows.iter().map(|r| r.depth).collect(),
        min_seeds: blocks.iter().copied().min().unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::ridge::Run;
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};

    #[test]
    fn equivalence_rule() {
        assert_eq!(equivalence(-1.2, -0.8, -1.0, 0.3), Equivalence::Equivalent);
        assert_eq!(equivalence(-1.4, -0.8, -1.0, 0.3), Equivalence::Undecided);
        assert_eq!(equivalence(-2.2, -1.1, -1.0, 0.3), Equivalence::Different);
        assert_eq!(equivalence(-0.6, 0.1, -1.0, 0.3), Equivalence::Different);
    }

    /// Synthetic grid: accuracy a bump in $\ln(v L^{-b})$, i.e. true ridge slope $b$, with seed
    /// noise; training fails above $\ln v = 2$ at every depth (the peak must not be dragged there).
    fn runs(b: f64, seeds: u64, noise: f64, rng: u64) -> Vec<Run> {
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(rng);
        let n = Normal::new(0.0, noise).unwrap();
        let mut out = vec![];
        for &l in &[4usize, 8, 16, 32, 64, 128] {
            for i in 0..21 {
                let lv = -6.0 + 0.4 * i as f64;
                for s in 0..seeds {
                    let z = lv - (1.0 + b * (l as f64).ln() - b * 4f64.ln() - 1.5);
                    let acc = 0.5 + 0.4 * (-0.5 * (z / 1.5).powi(2)).exp() + n.sample(&mut r);
                    out.push(Run { depth: l, variance: lv.exp(), seed: s, accuracy: acc, diverged: lv > 2.0 });
                }
            }
        }
        out
    }

    #[test]
    fn slope_interval_finds_a_known_slope() {
        for b in [-1.0, -0.5] {
            let g = Grid::from_runs(&runs(b, 5, 0.01, 3), 0.1).unwrap();
            let s = seed_slope(&g, &g.depths(), 400, 2, 0.95).unwrap();
            eprintln!("b = {b}: {:?}", s.ci);
            assert!(s.ci.contains(b), "{:?}", s.ci);
            assert!(s.ci.hi - s.ci.lo < 0.3);
            assert_eq!(s.min_seeds, 5);
        }
        let g = Grid::from_runs(&runs(-0.5, 5, 0.01, 3), 0.1).unwrap();
        let s = seed_slope(&g, &g.depths(), 400, 2, 0.95).unwrap();
        assert_eq!(equivalence(s.ci.lo, s.ci.hi, -1.0, 0.3), Equivalence::Different);
        assert!(seed_slope(&g, &[4, 8], 100, 2, 0.95).is_err());
    }
}
