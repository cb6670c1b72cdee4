//! The learning-rate pilot: for every grid with `lr = "auto"`, its deepest network at its
//! smallest axis variance trains for every seed at every rate of the ladder, for one short epoch
//! ([`super::config::Pilot`]); the grid then uses, among the rates at which every seed trains,
//! the one with the lowest mean final loss (rule `lowest_loss`, the default) or the largest
//! (rule `largest`, the rule first proposed in issue 13).
//!
//! A pilot run *trains* when it ends `trained` and its final loss (the mean batch loss over the
//! last tenth of its steps, at least one step) is below `fraction` times its initial loss (the
//! loss of the first batch, before any update). If no rate trains, the grid falls back to the
//! smallest rate of the ladder and the chapter says so (an error would withhold the whole report
//! for one grid; a run at the smallest rate still shows where the grid trains at all).
//!
//! Pilot runs are cached tasks (namespace `training/pilot`, keyed like the grid points by the
//! run's [`TrainConfig`] and the training-numerics version). Every shard runs the whole pilot
//! before its share of the grid, so all shards choose the same rate (training is deterministic);
//! the cache makes it run once per cache, and shards' pilot entries merge without conflict.

use super::config::{Config, Lr, PilotRule};
use super::row::outcome_of;
use super::salt;
use crate::nn::mnist::{Mnist, MnistError};
use crate::nn::train::{train_with, Outcome, Threads, TrainConfig, TrainEvent};
use crate::pipeline::{run_tasks, StageContext, StageError};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};

/// MNIST, loaded by the first run that needs it; the error is shared by every run that asks.
pub type Data = OnceLock<Result<Mnist, Arc<MnistError>>>;

/// The data set of `data`, loading it on first use.
pub fn mnist(data: &Data) -> Result<&Mnist, StageError> {
    data.get_or_init(|| Mnist::load_from(None).map_err(Arc::new))
        .as_ref()
        .map_err(|e| StageError::compute("loading MNIST", Arc::clone(e)))
}

/// What a pilot run measured (cached; the criterion is applied outside, so changing `fraction`
/// re-judges the cached runs without training them again).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PilotMeasure {
    pub outcome: Outcome,
    /// 0-based step at which a failed run stopped.
    pub outcome_step: Option<usize>,
    /// Loss of the first batch, before any update (`None` if not finite).
    pub initial_loss: Option<f64>,
    /// Mean batch loss of the last tenth of the steps (`None` if not finite or the run failed).
    pub final_loss: Option<f64>,
    pub steps: usize,
}

/// One pilot run in the summary.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PilotRun {
    pub lr: f64,
    pub seed: u64,
    #[serde(flatten)]
    pub measure: PilotMeasure,
    /// Whether the run trains by the pilot's criterion.
    pub trains: bool,
}

/// The pilot of one grid.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PilotSummary {
    pub rule: PilotRule,
    /// Per rate: the mean final loss over the seeds (infinite where a seed failed).
    pub mean_final: Vec<f64>,
    pub grid: String,
    pub depth: usize,
    pub width: usize,
    pub sw2: f64,
    pub sv2: f64,
    pub train_subset: usize,
    pub steps: usize,
    pub fraction: f64,
    pub rates: Vec<f64>,
    /// Rate-major, then seed.
    pub runs: Vec<PilotRun>,
    /// Per rate: whether every seed trains.
    pub all_train: Vec<bool>,
    /// The rate the grid uses.
    pub chosen: f64,
    /// No rate trains: the grid uses the smallest rate.
    pub fallback: bool,
    /// One sentence on why this rate.
    pub reason: String,
}

/// Trains one pilot run and measures it.
pub fn measure(t: &TrainConfig, mnist: &Mnist) -> Result<PilotMeasure, StageError> {
    let mut losses = Vec::new();
    let mut cb = |ev: TrainEvent| {
        if let TrainEvent::Step { loss, .. } = ev {
            losses.push(loss);
        }
    };
    let r = train_with(t, mnist, Threads::Shared(&|| 1), &mut cb)
        .map_err(|e| StageError::compute("training a pilot run", e))?;
    let (outcome, outcome_step) = outcome_of(&r);
    let finite = |x: f64| x.is_finite().then_some(x);
    let tail = (losses.len() / 10).max(1);
    let final_loss = (outcome == Outcome::Trained && losses.len() >= tail)
        .then(|| losses[losses.len() - tail..].iter().sum::<f64>() / tail as f64)
        .and_then(finite);
    Ok(PilotMeasure {
        outcome,
        outcome_step,
        initial_loss: r.initial_loss.or(losses.first().copied()).and_then(finite),
        final_loss,
        steps: r.steps,
    })
}

/// Whether a measured run trains: `trained`, and final loss below `fraction` times initial loss.
pub fn trains(m: &PilotMeasure, fraction: f64) -> bool {
    match (m.outcome, m.initial_loss, m.final_loss) {
        (Outcome::Trained, Some(l0), Some(l1)) => l1 < fraction * l0,
        _ => false,
    }
}

/// The choice among the rates at which every seed trains (`all_train`, one per rate): by
/// [`PilotRule::Largest`] the largest of them, by [`PilotRule::LowestLoss`] the one with the lowest
/// mean final loss over the seeds (`mean_final`, one per rate; ties go to the larger rate). If no
/// rate trains every seed, the smallest rate, as a fallback (`true`).
pub fn choose(rule: PilotRule, rates: &[f64], all_train: &[bool], mean_final: &[f64]) -> (f64, bool) {
    let mut ok = (0..rates.len()).filter(|&i| all_train[i]);
    let pick = match rule {
        PilotRule::Largest => ok.next_back(),
        PilotRule::LowestLoss => ok.fold(None, |best: Option<usize>, i| match best {
            Some(b) if mean_final[b] < mean_final[i] => Some(b),
            _ => Some(i),
        }),
    };
    match pick {
        Some(i) => (rates[i], false),
        None => (rates[0], true),
    }
}

/// Runs (or loads) the pilot of every grid with `lr = "auto"`; `None` for grids with a fixed rate.
/// Runs on every shard as a whole (see the module documentation).
pub fn run_pilots(cfg: &Config, ctx: &StageContext, data: &Data) -> Result<Vec<Option<PilotSummary>>, StageError> {
    let whole = StageContext { shard: None, ..*ctx };
    let mut out = Vec::new();
    for g in &cfg.grids {
        if g.lr != Lr::Auto {
            out.push(None);
            continue;
        }
        let runs = cfg.pilot_runs(g);
        let res =
            run_tasks(&whole, "training/pilot", &salt(g.act.as_str()), &format!("pilot {}", g.name), &runs, |t| {
                measure(t, mnist(data)?)
            })?;
        let measures: Vec<PilotMeasure> = res
            .results
            .into_iter()
            .map(|m| m.ok_or_else(|| StageError::compute("pilot", "a pilot run has no result")))
            .collect::<Result<_, _>>()?;
        let seeds = g.seeds_or(&cfg.seeds).len();
        let runs_out: Vec<PilotRun> = runs
            .iter()
            .zip(measures)
            .map(|(t, m)| PilotRun { lr: t.lr, seed: t.seed, trains: trains(&m, cfg.pilot.fraction), measure: m })
            .collect();
        let all_train: Vec<bool> = runs_out.chunks(seeds).map(|c| c.iter().all(|r| r.trains)).collect();
        let mean_final: Vec<f64> = runs_out
            .chunks(seeds)
            .map(|c| c.iter().map(|r| r.measure.final_loss.unwrap_or(f64::INFINITY)).sum::<f64>() / seeds as f64)
            .collect();
        let (chosen, fallback) = choose(cfg.pilot.rule, &cfg.pilot.rates, &all_train, &mean_final);
        let reason = if fallback {
            format!("no rate of the ladder trains every seed, so the grid falls back to the smallest rate, {chosen}")
        } else if cfg.pilot.rule == PilotRule::LowestLoss {
            let i = cfg.pilot.rates.iter().position(|&r| r == chosen).unwrap_or(0);
            format!(
                "among the rates at which every seed trains, {chosen} reaches the lowest mean final loss, {:.3}",
                mean_final[i]
            )
        } else if chosen == *cfg.pilot.rates.last().unwrap_or(&chosen) {
            format!("{chosen} is the largest rate of the ladder, and every seed trains at it")
        } else {
            let above: Vec<String> = cfg
                .pilot
                .rates
                .iter()
                .zip(&all_train)
                .filter(|(&r, &ok)| r > chosen && !ok)
                .map(|(r, _)| r.to_string())
                .collect();
            format!(
                "{chosen} is the largest rate at which every seed trains (not every seed trains at {})",
                above.join(", ")
            )
        };
        let t0 = &runs[0];
        out.push(Some(PilotSummary {
            rule: cfg.pilot.rule,
            mean_final,
            grid: g.name.clone(),
            depth: t0.depth,
            width: t0.width,
            sw2: t0.sw2,
            sv2: t0.sv2,
            train_subset: cfg.pilot.train_subset,
            steps: cfg.pilot.train_subset.div_ceil(cfg.batch),
            fraction: cfg.pilot.fraction,
            rates: cfg.pilot.rates.clone(),
            runs: runs_out,
            all_train,
            chosen,
            fallback,
            reason,
        }));
    }
    Ok(out)
}

/// The rate of every grid: its own, or its pilot's choice.
pub fn rates(cfg: &Config, pilots: &[Option<PilotSummary>]) -> Vec<f64> {
    cfg.grids
        .iter()
        .zip(pilots)
        .map(|(g, p)| match (g.lr, p) {
            (Lr::Fixed(x), _) => x,
            (Lr::Auto, Some(p)) => p.chosen,
            (Lr::Auto, None) => cfg.pilot.rates[0],
        })
        .collect()
}
