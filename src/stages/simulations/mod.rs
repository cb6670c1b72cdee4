//! Stage "simulations" (chapter 4): finite-width random networks against mean field.
//!
//! For each configuration (architecture, activation, variances), width $N$ and seed, one random
//! network of depth $L$ is drawn with [`crate::nn::init`] (`f64`), two inputs $x^0, x'^0 \in
//! \mathbb{R}^N$ with $|x^0|^2/N = |x'^0|^2/N = p^0$ and cosine exactly $e^0$ are propagated with
//! [`crate::nn::forward`], and Gaussian cotangents $g \sim \mathcal N(0, I_N)$ are backpropagated from
//! $x^L$ with [`crate::nn::backward`] through the *same* weights. Measured per layer:
//! $$p^l = \tfrac12\big(|x^l|^2 + |x'^l|^2\big)/N,\qquad e^l = \frac{x^l\cdot x'^l}{|x^l|\,|x'^l|},$$
//! $$\frac{\chi^l}{\chi^L} = \frac{\frac1N|\partial E/\partial x^l|^2}{\frac1N|g|^2},\qquad
//!   \frac{\chi_w^l}{\chi^L} = \frac{\frac1{N^2}\sum_{ij}(\partial E/\partial W^l_{ij})^2}{\frac1N|g|^2},$$
//! with one backward pass per input (cotangent on that input only, so $\partial E/\partial W^l$ is
//! the single-input gradient $\partial h^l\, x^{l-1\top}$ whose second moment the mean-field
//! $\chi_w^l$ describes), averaged over the two inputs. Optionally (`independent_control`) the
//! same forward pass is backpropagated through an *independent* draw of the weights, which is what
//! the gradient-independence assumption pretends happens.
//!
//! The mean-field curves come from [`crate::meanfield::recurrence`]: $p^l$, $e^l$, $\chi^l/\chi^L =
//! e^{G_L - G_l}$, $\chi^0/\chi^l = e^{G_l}$ and $\chi_w^l/\chi^L$. Every (configuration, width,
//! seed) is one cached task of [`crate::pipeline::run_tasks`], run in parallel with faer `Par::Seq`
//! inside, so results do not depend on the thread count; the tasks of one width run on a pool
//! sized to `memory_budget_gb` (a network holds its weights and gradients, $16$ bytes per
//! parameter). Criteria are in [`criteria`], fixed before the first simulation was run.
//!
//! Files: [`config`] (the profile section and its check), [`compute`] (one network, the mean
//! field, the statistics and table rows), [`claims`] (C2f, C2g, C2h), [`figures`].

pub mod claims;
pub mod compute;
pub mod config;
pub mod figures;
#[cfg(test)]
mod tests;

pub use claims::criteria;
pub use compute::{
    concurrent_tasks, group, inputs_and_cotangents, mean_abs_t, mean_field, rows, simulate, stat, student_t_tail,
    task_bytes, CaseRuns, MeanField, Row, RunResult, SimulationError, Stat, Task, QUANTITIES,
};
pub use config::{Config, SimCase};
pub use figures::compose;

use crate::activation::ActName;
use crate::architecture::Architecture;
use crate::pipeline::{run_tasks, Artifact, ConfigError, DataTable, Stage, StageContext, StageError};
use claims::{label_of, max_abs, mean_z, strict_ok, Checks};
use compute::CONTROL_SEED;
use serde_json::{json, Value};
use std::time::Instant;

/// The exact-expectation test of the module (ReLU FRN, zero biases): seeds, width, depth, and the
/// relative excess of the wrong growth rate it must reject. Quoted in the chapter.
pub mod exact_test {
    pub const SEEDS: u64 = 400;
    pub const WIDTH: usize = 16;
    pub const DEPTH: usize = 4;
    pub const WRONG_RATE_EXCESS: f64 = 0.05;
}

/// The stage.
pub struct Simulations {
    cfg: Config,
}

impl Simulations {
    /// The stage for a profile section, whose values are checked here.
    pub fn new(cfg: Config) -> Result<Self, ConfigError> {
        cfg.check()?;
        Ok(Self { cfg })
    }
}

/// Version of the summary, tables and figures.
const VERSION: u32 = 7;
/// Version of one simulated network (salts the task keys).
const RUN_VERSION: u32 = 1;

fn salt() -> String {
    format!("simulations-run-v{RUN_VERSION}")
}

impl Stage for Simulations {
    fn name(&self) -> &'static str {
        "simulations"
    }
    fn version(&self) -> u32 {
        VERSION
    }
    fn deps(&self) -> &'static [&'static str] {
        &[]
    }
    fn config(&self) -> Value {
        crate::pipeline::key_value(&self.cfg).expect("config serializes")
    }
    fn chapter(&self) -> Option<crate::pipeline::Chapter> {
        Some(crate::pipeline::Chapter {
            title: "Simulations",
            template: include_str!("../../../templates/chapters/simulations.md.j2"),
        })
    }
    fn run(&self, ctx: &StageContext) -> Result<Artifact, StageError> {
        let cfg = &self.cfg;
        let tasks = cfg.tasks();
        let t0 = Instant::now();
        // One batch per width, each on a pool sized so that its networks fit the memory budget.
        let mut results: Vec<Option<RunResult>> = vec![None; tasks.len()];
        let mut computed = 0;
        for &w in &cfg.widths {
            let idx: Vec<usize> = (0..tasks.len()).filter(|&i| tasks[i].width == w).collect();
            let batch: Vec<Task> = idx.iter().map(|&i| tasks[i].clone()).collect();
            let Some(bytes) = batch.iter().map(task_bytes).max() else { continue };
            let threads = concurrent_tasks(cfg.memory_budget_gb, bytes, ctx.jobs);
            if threads < ctx.jobs {
                ctx.progress.detail(&format!(
                    "simulations: N = {w} needs {:.2} GB per network; running {threads} at a time (memory_budget_gb = {})",
                    bytes as f64 / 1e9,
                    cfg.memory_budget_gb
                ));
            }
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .map_err(|e| StageError::compute(format!("thread pool of {threads} for N = {w}"), e))?;
            let label = format!("simulations N={w}");
            let sim = |t: &Task| {
                simulate(t).map_err(|e| {
                    StageError::compute(format!("network '{}' N = {} seed {}", t.case.name, t.width, t.seed), e)
                })
            };
            let r = pool.install(|| run_tasks(ctx, "simulations/runs", &salt(), &label, &batch, sim))?;
            computed += r.computed;
            for (i, x) in idx.into_iter().zip(r.results) {
                results[i] = x;
            }
        }
        let wall = t0.elapsed().as_secs_f64();
        let pairs: Vec<(&Task, &RunResult)> =
            tasks.iter().zip(&results).filter_map(|(t, r)| r.as_ref().map(|r| (t, r))).collect();
        if ctx.shard.is_some() {
            ctx.progress.info(&format!(
                "    simulations: this shard holds {} of {} networks",
                pairs.len(),
                tasks.len()
            ));
        }
        build_artifact(cfg, &pairs, wall, computed)
    }
}

/// Summary, table, figures and claims from the runs.
pub fn build_artifact(
    cfg: &Config,
    pairs: &[(&Task, &RunResult)],
    wall: f64,
    computed: usize,
) -> Result<Artifact, StageError> {
    let cases = group(cfg, pairs).map_err(|e| StageError::compute("mean field", e))?;
    let rows = rows(cfg, &cases);
    let ch = Checks::new(cfg, &rows).map_err(|e| StageError::compute("false-alarm rate", e))?;
    let n_max = ch.n_max;
    // Per-case summaries for the template.
    let case_summaries: Vec<Value> = cases
        .iter()
        .map(|cr| {
            let c = cr.case;
            let mine: Vec<&Row> = rows.iter().filter(|r| r.case == c.name).collect();
            let by_depth: Vec<Value> = cfg
                .depths()
                .iter()
                .flat_map(|&d| {
                    let mine = &mine;
                    QUANTITIES.iter().filter_map(move |(q, tex)| {
                        let rs: Vec<&&Row> = mine.iter().filter(|r| r.depth == d && r.quantity == *q).collect();
                        let first = rs.first()?;
                        Some(json!({
                            "depth": d, "quantity": q, "tex": tex, "mean_field": first.mean_field,
                            "widths": rs.iter().map(|r| json!({
                                "width": r.width, "rel_dev": r.rel_dev, "rel_sd": r.rel_sd,
                                "rel_sd_sqrt_n": r.rel_sd_sqrt_n, "z": r.z, "pass": r.pass,
                            })).collect::<Vec<_>>(),
                        }))
                    })
                })
                .collect();
            let l = cfg.depth;
            let get = |q: &str, w: usize| mine.iter().find(|r| r.quantity == q && r.width == w && r.depth == l).copied();
            let gia = |q: &str| get(q, n_max).map(|r| json!({"rel_dev": r.rel_dev, "z": r.z, "mean": r.simulated_mean, "sd": r.simulated_sd}));
            json!({
                "name": c.name, "label": c.label(), "arch": c.arch.name(), "act": c.act, "alpha": c.alpha,
                "sw2": c.sw2, "sv2": c.sv2, "sb2": c.sb2, "sa2": c.sa2,
                "mf_at_l": {
                    "p": cr.mf.p[l], "e": cr.mf.e[l], "grad": cr.mf.grad[l], "ln_grad": cr.mf.grad[l].ln(),
                    "chi_w_first": cr.mf.chi_w.first(), "chi_w_last": cr.mf.chi_w.last(),
                },
                "rows": by_depth,
                "n_rows": mine.len(),
                "n_pass_max_width": mine.iter().filter(|r| r.width == n_max && r.pass).count(),
                "n_rows_max_width": mine.iter().filter(|r| r.width == n_max).count(),
                "law": case_law(c),
                "single": {
                    "p_rel_sd": get("p", n_max).map(|r| r.rel_sd), "grad_rel_sd": get("grad", n_max).map(|r| r.rel_sd),
                    "e_sd": get("e", n_max).map(|r| r.simulated_sd), "ln_grad_sd": get("ln_grad", n_max).map(|r| r.simulated_sd),
                },
                "gia_same": gia("grad"), "gia_indep": gia("grad_indep"), "ln_grad": gia("ln_grad"),
                "figure": format!("simulations-{}", c.name),
            })
        })
        .collect();

    let failed: Vec<Value> = rows
        .iter()
        .filter(|r| r.width == n_max && !r.pass && r.quantity != "grad_indep" && r.quantity != "ln_grad")
        .map(|r| {
            let tex = QUANTITIES.iter().find(|q| q.0 == r.quantity).map_or(r.quantity.as_str(), |q| q.1);
            json!({"label": label_of(cfg, &r.case), "quantity": r.quantity, "tex": tex, "depth": r.depth, "rel_dev": r.rel_dev, "z": r.z})
        })
        .collect();
    let seconds: Vec<f64> = pairs.iter().map(|(_, r)| r.seconds).collect();
    let strict_rows =
        |rs: &[&Row]| -> Vec<Value> { rs.iter().map(|r| json!({"depth": r.depth, "rel_dev": r.rel_dev})).collect() };
    let (fwd, bwd, same_rows, indep_rows) = (&ch.fwd, &ch.bwd, &ch.same_rows, &ch.indep_rows);
    let se_l: Vec<f64> =
        same_rows.iter().filter(|r| r.depth == cfg.depth).map(|r| r.rel_sd / (r.seeds as f64).sqrt()).collect();
    let rel_se_at_l = if se_l.is_empty() { f64::NAN } else { se_l.iter().sum::<f64>() / se_l.len() as f64 };
    let p_false = ch.p_false;
    let claims = claims::claims(cfg, &ch);
    let figures = if pairs.is_empty() { vec![] } else { figures::figures(cfg, &cases, &rows)? };
    let summary = json!({
        "config": cfg,
        "depths": cfg.depths(),
        "n_networks": pairs.len(),
        "n_computed": computed,
        "wall_seconds": wall,
        "task_seconds": seconds.iter().sum::<f64>(),
        "max_task_seconds": seconds.iter().copied().fold(0.0, f64::max),
        "n_max": n_max, "n_min": ch.n_min,
        "exact_test": {
            "seeds": exact_test::SEEDS, "width": exact_test::WIDTH, "depth": exact_test::DEPTH,
            "wrong_rate_excess": exact_test::WRONG_RATE_EXCESS,
        },
        "control_seed_log2": CONTROL_SEED.trailing_zeros(),
        "criteria": {
            "rel_tol": criteria::REL_TOL, "se_mult": criteria::SE_MULT, "strict_case": criteria::STRICT_CASE,
            "exponent_tol": criteria::EXPONENT_TOL,
        },
        "forward": {
            "pass": ch.fwd_ok, "n": fwd.len(), "n_pass": fwd.iter().filter(|r| r.pass).count(),
            "max_rel_p": max_abs(&ch.at_max(&["p"])), "max_rel_e": max_abs(&ch.at_max(&["e"])),
            "strict": strict_rows(&ch.strict_p), "strict_max": max_abs(&ch.strict_p), "strict_pass": strict_ok(&ch.strict_p),
        },
        "gradient": {
            "pass": ch.bwd_ok, "n": bwd.len(), "n_pass": bwd.iter().filter(|r| r.pass).count(),
            "max_rel_grad": max_abs(&ch.at_max(&["grad"])), "max_rel_chi_w": max_abs(&ch.at_max(&["chi_w"])),
            "max_rel_indep": if indep_rows.is_empty() { Value::Null } else { json!(max_abs(indep_rows)) },
            "strict": strict_rows(&ch.strict_g), "strict_max": max_abs(&ch.strict_g), "strict_pass": strict_ok(&ch.strict_g),
        },
        "false_alarm": {
            "p_one": p_false, "expected_forward": p_false * fwd.len() as f64, "expected_gradient": p_false * bwd.len() as f64,
            "dof": cfg.seeds - 1, "mean_abs_t": mean_abs_t(cfg.seeds as f64 - 1.0),
        },
        "gia": {
            "mean_z_same": mean_z(same_rows), "mean_z_indep": mean_z(indep_rows),
            "max_rel_same": max_abs(same_rows), "max_rel_indep": max_abs(indep_rows),
            "n_pass_same": same_rows.iter().filter(|r| r.pass).count(), "n_pass_indep": indep_rows.iter().filter(|r| r.pass).count(),
            "n": same_rows.len(),
            "rel_se_at_l": rel_se_at_l,
        },
        "scaling": {
            "pass": ch.scaling_ok, "beta_mean": ch.beta_mean, "beta_sd": ch.beta_sd, "n": ch.betas.len(),
            "list": ch.betas.iter().map(|b| json!({"case": b.0, "quantity": b.1, "depth": b.2, "beta": b.3})).collect::<Vec<_>>(),
        },
        "failed": failed,
        "cases": case_summaries,
        "claims": claims,
    });
    let table_rows: Vec<Value> = rows
        .iter()
        .map(|r| serde_json::to_value(r).map_err(|e| StageError::compute("table row", e)))
        .collect::<Result<_, _>>()?;
    Ok(Artifact {
        summary,
        tables: vec![DataTable {
            name: "simulations".into(),
            rows: table_rows,
            json_key: None,
            extra: Default::default(),
        }],
        figures,
        claims,
    })
}

/// The growth law of $p^l$ quoted in the chapter (zero-bias forms of Chapter 3):
/// tanh $p^l \approx B\,l$ with $B = \sigma_v^2 + \sigma_a^2$ (FRN) or $\sigma_w^2 + \sigma_b^2$ (RRN);
/// ReLU $p^l \propto r^l$ with $r = 1 + \sigma_v^2\sigma_w^2/2$ (FRN) or $1 + \sigma_w^2/2$ (RRN);
/// $\alpha$-ReLU $p^l \propto l^{1/(1-\alpha)}$.
fn case_law(c: &SimCase) -> Value {
    let full = c.arch == Architecture::Full;
    match (c.act, c.alpha) {
        (ActName::Tanh, _) => json!({"kind": "linear", "b": if full { c.sv2 + c.sa2 } else { c.sw2 + c.sb2 }}),
        (ActName::Relu, _) => {
            json!({"kind": "exponential", "rate": if full { 1.0 + c.sv2 * c.sw2 / 2.0 } else { 1.0 + c.sw2 / 2.0 }})
        }
        (ActName::AlphaRelu, Some(a)) if a < 1.0 => json!({"kind": "power", "exponent": 1.0 / (1.0 - a)}),
        _ => json!({"kind": "other"}),
    }
}
