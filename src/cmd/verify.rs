//! `edge-of-chaos verify`: re-trains a seeded random sample of the points of a published training
//! table and compares them with what the table says (see [`LONG_ABOUT`]).
//!
//! Each row's training configuration is rebuilt field by field from the row: every key of
//! [`TrainConfig`] (except the thread counts, which do not change results) is read from the row
//! when present; an absent key is taken from the profile's `[training]` section when it has a
//! key of that name, else from [`TrainConfig::default`], and the output says which.
//!
//! Tolerance on the test accuracy of a trained point, from the table itself:
//! $\tau = \max(k\,s_{\text{cell}}, 1/n_{\text{test}})$ with $k$ = [`SD_MULTIPLE`], $s_{\text{cell}}$
//! the sample standard deviation of the test accuracy over the seeds of the point's cell (the
//! trained rows that differ from it only in `seed`; if fewer than two, the median of the cells'
//! $s$ over the table, else 0) and $n_{\text{test}}$ the number of test images.

use super::{int_in, parse_jobs, Context};
use anyhow::anyhow;
use edge_of_chaos::nn::cpu;
use edge_of_chaos::nn::mnist::{resolve_dir, Mnist};
use edge_of_chaos::nn::train::{steps_per_epoch, train, Outcome, TrainConfig, TrainEvent, TrainResult};
use edge_of_chaos::stages::Profile;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// $k$ of the tolerance $\tau = \max(k\,s_{\text{cell}}, 1/n_{\text{test}})$. If rounding
/// differences decorrelated a run as much as a new seed does, the difference of two runs would
/// have standard deviation $\sqrt2\,s$, and $4s$ is $2.8$ of those: a false alarm on at most
/// 0.5% of the points (about 2% for a sample of 5). On the machine that made the table the
/// difference is 0.
pub const SD_MULTIPLE: f64 = 4.0;

/// Test images of MNIST (a row without `test_subset` and a default of `None` uses all of them).
const MNIST_TEST: usize = 10_000;

/// `verify --help`.
pub const LONG_ABOUT: &str = "Re-train a random sample of the published training points and compare.

Reads the training table report/PROFILE-NAME/data/training.json (or --from FILE), picks --sample K rows \
with a seeded random choice (the seed and the rows are printed; --seed repeats a choice), re-trains each \
from the settings in its row and prints, per point, the published and recomputed test accuracy, final \
loss and outcome, and whether the recomputed results are bit-identical to the published ones. Rows are \
0-based positions in the table. A setting absent from a row (an older table) is taken from the profile's \
[training] section if it has it, else the default of `edge-of-chaos train`; the output lists them.

Tolerance (derived from the table, not guessed): a point differs when its outcome (trained, \
overflow_at_init, nonfinite, blowup) is not the published one, or, for a trained point, when \
|recomputed - published test accuracy| > max(4 sd, 1/test_subset), sd being the seed-to-seed standard \
deviation of the test accuracy in the point's cell (same settings but the seed) in the same table; a \
cell with fewer than two trained seeds uses the median sd of the table's cells. The final loss is \
reported (relative difference), not tested: the test accuracy is what the report's claims use.

Bit-identity: matrix kernels choose SIMD code paths by CPU, so results are bit-identical only on a \
machine with the same SIMD features as the one that trained the table. verify prints this machine's \
features and, when the report records them (cpu_features in data/training.json or \
data/reproducibility.json), whether bit-identity is expected.

Exit status: 0 every sampled point agrees within the tolerance, 1 some point differs (named), 2 invalid \
input (missing or malformed table: the file and row are named).";

/// Arguments of `edge-of-chaos verify`.
#[derive(clap::Args, Clone, Debug)]
pub struct VerifyArgs {
    /// Profile whose report is checked: quick, paper, or a TOML file [default: quick]
    #[arg(long, value_name = "PROFILE")]
    profile: Option<String>,
    /// Number of points to re-train (all of them if the table has fewer)
    #[arg(long, value_name = "K", default_value_t = 5, value_parser = parse_sample)]
    sample: usize,
    /// Seed of the random choice of points [default: from the clock, printed]
    #[arg(long, value_name = "S")]
    seed: Option<u64>,
    /// Training table to check [default: report/PROFILE-NAME/data/training.json]
    #[arg(long, value_name = "FILE")]
    from: Option<PathBuf>,
    /// Threads of each re-training (results do not depend on it) [default: all cores]
    #[arg(long, short = 'j', value_name = "N", value_parser = parse_jobs)]
    jobs: Option<usize>,
    /// MNIST directory [default: $EOC_MNIST_DIR, else data/mnist]
    #[arg(long, value_name = "DIR")]
    mnist_dir: Option<PathBuf>,
}

fn parse_sample(s: &str) -> Result<usize, String> {
    int_in(s, 1, 100_000)
}

/// Invalid input of `verify` (exit 2): the table cannot be read or a row is malformed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read the training table {path}: {source} (run `edge-of-chaos report` first, or give --from FILE)")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a training table: {why}")]
    Table { path: PathBuf, why: String },
    #[error("{path}, row {row}: {why}")]
    Row { path: PathBuf, row: usize, why: String },
}

/// Where an absent setting came from.
#[derive(Clone, Debug, PartialEq)]
enum Source {
    Profile,
    Default,
}

/// One published row: its configuration and its results.
#[derive(Clone, Debug)]
struct Point {
    row: usize,
    cfg: TrainConfig,
    /// Settings absent from the row: key, value used, where it came from.
    filled: Vec<(String, Value, Source)>,
    /// The row as published.
    json: Map<String, Value>,
}

impl Point {
    fn test_acc(&self) -> Option<f64> {
        self.json.get("test_acc").and_then(Value::as_f64)
    }

    /// The published outcome: `outcome`, else (older tables) trained / failed from `diverged`.
    fn outcome(&self) -> Option<Outcome> {
        match self.json.get("outcome") {
            Some(v) => serde_json::from_value(v.clone()).ok(),
            None => match self.json.get("diverged").and_then(Value::as_bool) {
                Some(false) => Some(Outcome::Trained),
                _ => None,
            },
        }
    }

    fn trained(&self) -> bool {
        self.outcome() == Some(Outcome::Trained) && self.test_acc().is_some()
    }

    /// `arch=full act=tanh depth=3 sw2=1 sv2=10 seed=0 ...`.
    fn describe(&self) -> String {
        let c = &self.cfg;
        let alpha = c.alpha.map_or(String::new(), |a| format!(" alpha={a}"));
        format!(
            "arch={} act={}{alpha} width={} depth={} sw2={} sv2={} sb2={} sa2={} lr={} batch={} epochs={} train_subset={} test_subset={} seed={}",
            c.arch,
            c.act,
            c.width,
            c.depth,
            c.sw2,
            c.sv2,
            c.sb2,
            c.sa2,
            c.lr,
            c.batch,
            c.epochs,
            c.train_subset.map_or("all".into(), |m| m.to_string()),
            c.test_subset.map_or("all".into(), |m| m.to_string()),
            c.seed
        )
    }

    /// The cell: the configuration without the seed.
    fn cell(&self) -> String {
        serde_json::to_string(&TrainConfig { seed: 0, threads: 1, matmul_threads: 1, ..self.cfg.clone() })
            .expect("a config serializes")
    }

    fn n_test(&self) -> usize {
        self.cfg.test_subset.unwrap_or(MNIST_TEST).min(MNIST_TEST)
    }
}

/// The rows of a table file: `{"points": [...]}` (the report's format) or a bare array.
fn rows_of(path: &Path, doc: &Value) -> Result<Vec<Map<String, Value>>, VerifyError> {
    let table = |why: String| VerifyError::Table { path: path.to_path_buf(), why };
    let rows = match doc {
        Value::Array(a) => a,
        Value::Object(o) => match o.get("points") {
            Some(Value::Array(a)) => a,
            _ => return Err(table("no array \"points\" (valid: {\"points\": [rows]} or [rows])".into())),
        },
        _ => return Err(table("neither an object nor an array of rows".into())),
    };
    if rows.is_empty() {
        return Err(table("the table has no rows".into()));
    }
    rows.iter()
        .enumerate()
        .map(|(i, r)| match r {
            Value::Object(o) => Ok(o.clone()),
            _ => Err(VerifyError::Row { path: path.to_path_buf(), row: i, why: "not a JSON object".into() }),
        })
        .collect()
}

/// The keys a row must have: without them it is not a training point.
const REQUIRED: [&str; 6] = ["arch", "act", "depth", "sv2", "seed", "test_acc"];

/// The configuration keys read from a row (every [`TrainConfig`] key but the thread counts).
fn config_keys() -> Vec<String> {
    match serde_json::to_value(TrainConfig::default()) {
        Ok(Value::Object(m)) => m.keys().filter(|k| !k.contains("threads")).cloned().collect(),
        _ => Vec::new(),
    }
}

/// Builds a row's [`TrainConfig`] by field name (see the module documentation). `profile` is the
/// profile's `[training]` section as JSON.
fn point(
    path: &Path,
    row: usize,
    json: Map<String, Value>,
    profile: &Map<String, Value>,
) -> Result<Point, VerifyError> {
    let bad = |why: String| VerifyError::Row { path: path.to_path_buf(), row, why };
    if let Some(k) = REQUIRED.iter().find(|k| !json.contains_key(**k)) {
        return Err(bad(format!("no field \"{k}\" (a training row has {})", REQUIRED.join(", "))));
    }
    let Ok(Value::Object(mut cfg)) = serde_json::to_value(TrainConfig::default()) else {
        unreachable!("TrainConfig serializes to an object")
    };
    // A value fits a key if the config still deserializes with it.
    let fits = |cfg: &Map<String, Value>, k: &str, v: &Value| {
        let mut c = cfg.clone();
        c.insert(k.to_string(), v.clone());
        serde_json::from_value::<TrainConfig>(Value::Object(c)).map_err(|e| e.to_string())
    };
    let mut filled = Vec::new();
    for k in config_keys() {
        match json.get(&k) {
            Some(v) => {
                fits(&cfg, &k, v).map_err(|e| bad(format!("field \"{k}\" = {v}: {e}")))?;
                cfg.insert(k, v.clone());
            }
            None => match profile.get(&k).filter(|v| fits(&cfg, &k, v).is_ok()) {
                Some(v) => {
                    filled.push((k.clone(), v.clone(), Source::Profile));
                    cfg.insert(k, v.clone());
                }
                None => filled.push((k.clone(), cfg[&k].clone(), Source::Default)),
            },
        }
    }
    let cfg: TrainConfig = serde_json::from_value(Value::Object(cfg)).map_err(|e| bad(e.to_string()))?;
    if !matches!(json.get("test_acc"), Some(Value::Number(_) | Value::Null)) {
        return Err(bad(format!("field \"test_acc\" = {} (valid: a number or null)", json["test_acc"])));
    }
    Ok(Point { row, cfg, filled, json })
}

/// Sample standard deviation $\sqrt{\sum (x - \bar x)^2 / (n - 1)}$ (`None` for $n < 2$).
fn sample_sd(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    Some((xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt())
}

/// How the tolerance of a point was obtained.
#[derive(Clone, Debug, PartialEq)]
struct Tolerance {
    /// $\tau$.
    value: f64,
    /// Seed-to-seed sd used (`None`: floor only).
    sd: Option<f64>,
    /// Trained seeds in the cell.
    seeds: usize,
    /// Whether `sd` is the table's median (the cell had fewer than two trained seeds).
    pooled: bool,
}

/// The seed-to-seed sd of the test accuracy of every cell with at least two trained seeds.
fn cell_sds(points: &[Point]) -> BTreeMap<String, (f64, usize)> {
    let mut cells: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for p in points.iter().filter(|p| p.trained()) {
        cells.entry(p.cell()).or_default().push(p.test_acc().expect("trained"));
    }
    cells.into_iter().filter_map(|(k, xs)| sample_sd(&xs).map(|s| (k, (s, xs.len())))).collect()
}

/// $\tau = \max(k\,s, 1/n_{\text{test}})$ for `p` (see the module documentation).
fn tolerance(p: &Point, sds: &BTreeMap<String, (f64, usize)>, points: &[Point]) -> Tolerance {
    let floor = 1.0 / p.n_test() as f64;
    let cell = p.cell();
    let seeds = points.iter().filter(|q| q.trained() && q.cell() == cell).count();
    let (sd, pooled) = match sds.get(&cell) {
        Some(&(s, _)) => (Some(s), false),
        None => {
            let mut all: Vec<f64> = sds.values().map(|v| v.0).collect();
            all.sort_by(f64::total_cmp);
            (all.get(all.len() / 2).copied().filter(|_| !all.is_empty()), true)
        }
    };
    let value = sd.map_or(floor, |s| (SD_MULTIPLE * s).max(floor));
    Tolerance { value, sd, seeds, pooled: pooled && sd.is_some() }
}

/// `K` distinct rows of `n`, chosen with a seeded generator, in increasing order.
fn choose(n: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut rows = rand::seq::index::sample(&mut rng, n, k.min(n)).into_vec();
    rows.sort_unstable();
    rows
}

/// The published value of `key` next to the recomputed one; `None` if the row lacks the key.
fn same(json: &Map<String, Value>, key: &str, recomputed: Value) -> Option<bool> {
    let published = json.get(key)?;
    Some(match (published.as_f64(), recomputed.as_f64()) {
        (Some(a), Some(b)) => a.to_bits() == b.to_bits(),
        _ => *published == recomputed,
    })
}

/// The result fields compared for bit-identity.
const RESULT_KEYS: [&str; 7] =
    ["test_acc", "train_acc", "final_loss", "outcome", "outcome_step", "initial_loss", "log_pl_init"];

/// The values of [`RESULT_KEYS`] of a run, as the table writes them (non-finite: null).
fn recomputed_fields(r: &TrainResult) -> Vec<(&'static str, Value)> {
    let fin = |x: f64| if x.is_finite() { Value::from(x) } else { Value::Null };
    let opt = |x: Option<f64>| x.map_or(Value::Null, fin);
    let values = [
        fin(r.test_acc),
        fin(r.train_acc),
        opt(r.final_loss),
        Value::from(r.outcome.as_str()),
        r.outcome_step.map_or(Value::Null, Value::from),
        opt(r.initial_loss),
        opt(r.log_pl_init),
    ];
    RESULT_KEYS.into_iter().zip(values).collect()
}

/// The measurements at init that no row of the table records (absent or null in every row, as in
/// tables written before the training loop measured them; a table that measures them has a
/// finite initial loss for every trained point): not compared.
fn unrecorded(points: &[Point]) -> Vec<&'static str> {
    ["initial_loss", "log_pl_init"]
        .into_iter()
        .filter(|k| points.iter().all(|p| p.json.get(*k).is_none_or(Value::is_null)))
        .collect()
}

/// The CPU features the published table records, if any: a key `cpu_features` (a list of
/// strings) anywhere in `data/training.json` or `data/reproducibility.json` beside it.
fn published_features(table: &Value, dir: &Path) -> Option<Vec<String>> {
    fn find(v: &Value) -> Option<Vec<String>> {
        match v {
            Value::Object(o) => {
                if let Some(Value::Array(a)) = o.get("cpu_features") {
                    return a.iter().map(|x| x.as_str().map(String::from)).collect();
                }
                o.iter().filter(|(k, _)| k.as_str() != "points").find_map(|(_, v)| find(v))
            }
            _ => None,
        }
    }
    find(table).or_else(|| {
        let text = std::fs::read_to_string(dir.join("reproducibility.json")).ok()?;
        find(&serde_json::from_str(&text).ok()?)
    })
}

fn fmt_opt(x: Option<f64>) -> String {
    x.map_or_else(|| "n/a".into(), |v| format!("{v:.4}"))
}

/// `report/NAME` as `report` writes it (see `report::default_out`).
fn report_dir(profile: &str) -> PathBuf {
    let name: String =
        profile.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '-' }).collect();
    let name = if name.trim_matches('.').is_empty() { "custom".to_string() } else { name };
    Path::new("report").join(name)
}

/// Reads the table, re-trains the sample and prints the comparison; `Err` on invalid input (exit
/// 2) or when a point differs (exit 1).
pub fn run(ctx: &Context, args: &VerifyArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let profile_name = args.profile.clone().or_else(|| ctx.early.profile.clone()).unwrap_or_else(|| "quick".into());
    let profile = Profile::load(&profile_name)?;
    let path = args.from.clone().unwrap_or_else(|| report_dir(&profile.name).join("data/training.json"));
    let text = std::fs::read_to_string(&path).map_err(|source| VerifyError::Read { path: path.clone(), source })?;
    let doc: Value = serde_json::from_str(&text)
        .map_err(|e| VerifyError::Table { path: path.clone(), why: format!("not valid JSON ({e})") })?;
    let profile_training = match serde_json::to_value(&profile.training) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let points = rows_of(&path, &doc)?
        .into_iter()
        .enumerate()
        .map(|(i, r)| point(&path, i, r, &profile_training))
        .collect::<Result<Vec<_>, _>>()?;
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
    });
    let chosen = choose(points.len(), args.sample, seed);
    let jobs = args.jobs.or(ctx.early.jobs).unwrap_or_else(super::cores);
    for &i in &chosen {
        let cfg = TrainConfig { threads: jobs, ..points[i].cfg.clone() };
        cfg.validate().map_err(|e| VerifyError::Row { path: path.clone(), row: i, why: e.0 })?;
    }

    writeln!(out, "verify: {} ({} rows; profile {})", path.display(), points.len(), profile.name)?;
    let mine = cpu::features();
    writeln!(out, "CPU features of this machine ({}): {}", cpu::arch(), list_or_none(&mine))?;
    let theirs = published_features(&doc, path.parent().unwrap_or(Path::new(".")));
    let expect_identical = match &theirs {
        Some(f) if *f == mine => {
            writeln!(
                out,
                "published CPU features: {}: the same, so bit-identical results are expected",
                list_or_none(f)
            )?;
            Some(true)
        }
        Some(f) => {
            writeln!(
                out,
                "published CPU features: {}: different, so bit-identity is not expected (the results must agree within the tolerance)",
                list_or_none(f)
            )?;
            Some(false)
        }
        None => {
            writeln!(out, "published CPU features: not recorded in the report; bit-identity is expected only on a machine with the same SIMD features")?;
            None
        }
    };
    writeln!(
        out,
        "sample: {} of {} rows, seed {seed} (repeat with --seed {seed}): rows {}",
        chosen.len(),
        points.len(),
        chosen.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
    )?;
    writeln!(
        out,
        "tolerance: the outcome must match; for a trained point |recomputed - published test acc| <= max({SD_MULTIPLE} x seed-to-seed sd of its cell, 1/test_subset); the final loss is reported only"
    )?;
    print_filled(out, &points, &chosen, &profile.name)?;
    let skip = unrecorded(&points);
    if !skip.is_empty() {
        writeln!(
            out,
            "note: not recorded in the table (null or absent in every row), not compared: {}",
            skip.join(", ")
        )?;
    }

    let data = Mnist::load(&resolve_dir(args.mnist_dir.as_deref()))?;
    let sds = cell_sds(&points);
    let progress = ctx.progress();
    let (mut differ, mut identical) = (Vec::new(), 0usize);
    for (n, &i) in chosen.iter().enumerate() {
        let p = &points[i];
        let cfg = TrainConfig { threads: jobs, ..p.cfg.clone() };
        progress.info(&format!("re-training row {i} ({}/{}): {}", n + 1, chosen.len(), p.describe()));
        let m = cfg.train_subset.unwrap_or(data.train.len()).min(data.train.len());
        let bar = progress.bar((steps_per_epoch(m, cfg.batch) * cfg.epochs) as u64, "verify");
        let r = train(&cfg, &data, &mut |ev| {
            if let TrainEvent::Step { .. } = ev {
                bar.inc(1);
            }
        })
        .map_err(|e| VerifyError::Row { path: path.clone(), row: i, why: e.0 })?;
        bar.finish();
        let tol = tolerance(p, &sds, &points);
        let verdict = compare(p, &r, &tol, &skip, out)?;
        if verdict.identical {
            identical += 1;
        }
        if let Some(why) = verdict.differs {
            differ.push(format!("row {i} ({}): {why}", p.describe()));
        }
    }
    writeln!(
        out,
        "result: {} points re-trained, {} within the tolerance, {} bit-identical",
        chosen.len(),
        chosen.len() - differ.len(),
        identical
    )?;
    if expect_identical == Some(true) && identical < chosen.len() {
        writeln!(out, "note: the CPU features are the published ones, yet not every point is bit-identical (a different build or training-numerics version?)")?;
    }
    if differ.is_empty() {
        Ok(())
    } else {
        Err(anyhow!(
            "{} of {} points differ from {} beyond the tolerance: {}",
            differ.len(),
            chosen.len(),
            path.display(),
            differ.join("; ")
        ))
    }
}

fn list_or_none(f: &[String]) -> String {
    if f.is_empty() {
        "(none)".into()
    } else {
        f.join(" ")
    }
}

/// The settings the chosen rows lack, once for all (they are the same in a table).
fn print_filled(out: &mut dyn Write, points: &[Point], chosen: &[usize], profile: &str) -> std::io::Result<()> {
    let mut seen: BTreeMap<(String, String), Source> = BTreeMap::new();
    for &i in chosen {
        for (k, v, s) in &points[i].filled {
            seen.insert((k.clone(), v.to_string()), s.clone());
        }
    }
    for (source, label) in [
        (Source::Profile, format!("absent in the table, taken from the [training] section of the profile {profile}")),
        (Source::Default, "absent in the table, taken from the defaults of `train`".to_string()),
    ] {
        let items: Vec<String> =
            seen.iter().filter(|(_, s)| **s == source).map(|((k, v), _)| format!("{k} = {v}")).collect();
        if !items.is_empty() {
            writeln!(out, "note: {label}: {}", items.join(", "))?;
        }
    }
    Ok(())
}

/// What the comparison of one point found.
struct Verdict {
    identical: bool,
    /// Why the point differs beyond the tolerance.
    differs: Option<String>,
}

/// Prints the comparison of one point.
fn compare(
    p: &Point,
    r: &TrainResult,
    tol: &Tolerance,
    skip: &[&str],
    out: &mut dyn Write,
) -> std::io::Result<Verdict> {
    writeln!(out, "\nrow {}: {}", p.row, p.describe())?;
    let published = p.outcome();
    let step = |s: Option<usize>| s.map_or(String::new(), |s| format!(" at step {s}"));
    let pub_step = p.json.get("outcome_step").and_then(Value::as_u64).map(|s| s as usize);
    writeln!(
        out,
        "  outcome     published {:<28} recomputed {}{}",
        published.map_or("failed (kind not recorded)".into(), |o| format!("{}{}", o.as_str(), step(pub_step))),
        r.outcome.as_str(),
        step(r.outcome_step)
    )?;
    let mut differs = match published {
        Some(o) if o != r.outcome => {
            Some(format!("outcome {} published, {} recomputed", o.as_str(), r.outcome.as_str()))
        }
        None if !r.outcome.failed() => Some(format!("a failed run published, {} recomputed", r.outcome.as_str())),
        _ => None,
    };
    let (a, b) = (p.test_acc(), Some(r.test_acc).filter(|x| x.is_finite()));
    let delta = a.zip(b).map(|(a, b)| (b - a).abs());
    let how = match (tol.sd, tol.pooled) {
        (Some(s), false) => format!("{SD_MULTIPLE} x sd {s:.4} of {} seeds", tol.seeds),
        (Some(s), true) => format!("{SD_MULTIPLE} x table median sd {s:.4}; cell has {} trained seed(s)", tol.seeds),
        (None, _) => format!("floor 1/{}; no cell has two trained seeds", p.n_test()),
    };
    // The accuracy is judged for a published trained point whose outcome matched.
    let ok = match delta {
        _ if !p.trained() || differs.is_some() => "not compared (failed run)",
        Some(d) if d > tol.value => {
            differs = Some(format!("|test acc difference| {d:.4} > tolerance {:.4}", tol.value));
            "DIFFERS"
        }
        Some(_) => "ok",
        None => {
            differs = Some("the recomputed test accuracy is not finite".into());
            "DIFFERS"
        }
    };
    writeln!(
        out,
        "  test acc    published {:<10} recomputed {:<10} |diff| {:<8} tolerance {:.4} ({how})  {ok}",
        fmt_opt(a),
        fmt_opt(b),
        fmt_opt(delta),
        tol.value
    )?;
    let (la, lb) = (p.json.get("final_loss").and_then(Value::as_f64), r.final_loss);
    let rel = la.zip(lb).map(|(a, b)| if a == b { 0.0 } else { (b - a).abs() / a.abs().max(f64::MIN_POSITIVE) });
    writeln!(
        out,
        "  final loss  published {:<10} recomputed {:<10} relative diff {} (reported only)",
        fmt_opt(la),
        fmt_opt(lb),
        rel.map_or("n/a".into(), |x| format!("{x:.2e}"))
    )?;
    let fields = recomputed_fields(r);
    let checked: Vec<(&str, bool)> = fields
        .into_iter()
        .filter(|(k, _)| !skip.contains(k))
        .filter_map(|(k, v)| same(&p.json, k, v).map(|s| (k, s)))
        .collect();
    let identical = checked.iter().all(|c| c.1);
    let names = |want: bool| checked.iter().filter(|c| c.1 == want).map(|c| c.0).collect::<Vec<_>>().join(", ");
    if identical {
        writeln!(out, "  bit-identical ({})", names(true))?;
    } else {
        writeln!(out, "  not bit-identical: {} differ", names(false))?;
    }
    if let Some(why) = &differs {
        writeln!(out, "  DIFFERS: {why}")?;
    }
    Ok(Verdict { identical, differs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use edge_of_chaos::activation::ActName;

    fn row(depth: usize, sv2: f64, seed: u64, acc: Option<f64>) -> Map<String, Value> {
        let v = serde_json::json!({
            "arch": "full", "act": "tanh", "alpha": null, "width": 8, "depth": depth, "sw2": 1.0, "sv2": sv2,
            "sb2": 0.0, "sa2": 0.0, "lr": 0.05, "batch": 32, "epochs": 1, "train_subset": 256, "seed": seed,
            "test_acc": acc, "final_loss": 1.5, "outcome": if acc.is_some() { "trained" } else { "blowup" },
        });
        v.as_object().unwrap().clone()
    }

    fn points(rows: Vec<Map<String, Value>>, profile: &Map<String, Value>) -> Vec<Point> {
        rows.into_iter().enumerate().map(|(i, r)| point(Path::new("t.json"), i, r, profile).unwrap()).collect()
    }

    #[test]
    fn a_row_becomes_its_config_with_absent_fields_named() {
        let mut profile = Map::new();
        profile.insert("test_subset".into(), Value::from(200));
        profile.insert("seeds".into(), serde_json::json!([0, 1]));
        let p = &points(vec![row(3, 0.5, 7, Some(0.5))], &profile)[0];
        let want = TrainConfig {
            act: ActName::Tanh,
            width: 8,
            depth: 3,
            sv2: 0.5,
            batch: 32,
            train_subset: Some(256),
            test_subset: Some(200),
            seed: 7,
            ..TrainConfig::default()
        };
        assert_eq!(p.cfg, want);
        let filled: Vec<(&str, Source)> = p.filled.iter().map(|(k, _, s)| (k.as_str(), s.clone())).collect();
        assert!(filled.contains(&("test_subset", Source::Profile)), "{filled:?}");
        for k in ["momentum", "blowup_factor", "eval_every_epoch"] {
            assert!(filled.contains(&(k, Source::Default)), "{k}: {filled:?}");
        }
        assert!(!filled.iter().any(|(k, _)| *k == "depth" || k.contains("threads")));
        // Without the profile's value: the default (all test images).
        assert_eq!(points(vec![row(3, 0.5, 7, None)], &Map::new())[0].n_test(), 10_000);
    }

    #[test]
    fn malformed_rows_are_named() {
        let err = |r: Value| {
            let doc = serde_json::json!({ "points": [Value::Object(row(1, 1.0, 0, Some(0.5))), r] });
            let rows = rows_of(Path::new("t.json"), &doc).and_then(|rows| {
                rows.into_iter()
                    .enumerate()
                    .map(|(i, r)| point(Path::new("t.json"), i, r, &Map::new()))
                    .collect::<Result<Vec<_>, _>>()
            });
            rows.unwrap_err().to_string()
        };
        let mut r = row(1, 1.0, 0, Some(0.5));
        r.insert("depth".into(), Value::from("deep"));
        let e = err(Value::Object(r));
        assert!(e.contains("t.json, row 1") && e.contains("\"depth\""), "{e}");
        let mut r = row(1, 1.0, 0, Some(0.5));
        r.remove("sv2");
        assert!(err(Value::Object(r)).contains("row 1: no field \"sv2\""));
        assert!(err(Value::from(3)).contains("row 1: not a JSON object"));
        let mut r = row(1, 1.0, 0, Some(0.5));
        r.insert("test_acc".into(), Value::from("high"));
        assert!(err(Value::Object(r)).contains("\"test_acc\""));
        for doc in [serde_json::json!({"rows": []}), serde_json::json!(3), serde_json::json!([])] {
            assert!(rows_of(Path::new("t.json"), &doc)
                .unwrap_err()
                .to_string()
                .starts_with("t.json is not a training table"));
        }
    }

    #[test]
    fn tolerance_is_a_multiple_of_the_cells_seed_sd_with_a_floor() {
        let profile = Map::new();
        // Cell (depth 1, sv2 1): three seeds at 0.90, 0.92, 0.94 -> sd 0.02 (by hand).
        // Cell (depth 3, sv2 1): accuracies 0.5 and 0.5 -> sd 0, so the floor 1/10000.
        // Cell (depth 5, sv2 1): one trained seed and a failed one -> the table's median sd.
        let ps = points(
            vec![
                row(1, 1.0, 0, Some(0.90)),
                row(1, 1.0, 1, Some(0.92)),
                row(1, 1.0, 2, Some(0.94)),
                row(3, 1.0, 0, Some(0.5)),
                row(3, 1.0, 1, Some(0.5)),
                row(5, 1.0, 0, Some(0.7)),
                row(5, 1.0, 1, None),
            ],
            &profile,
        );
        let sds = cell_sds(&ps);
        assert_eq!(sds.len(), 2);
        let t = tolerance(&ps[1], &sds, &ps);
        assert!((t.sd.unwrap() - 0.02).abs() < 1e-12 && !t.pooled && t.seeds == 3, "{t:?}");
        assert!((t.value - SD_MULTIPLE * 0.02).abs() < 1e-12);
        let t = tolerance(&ps[3], &sds, &ps);
        assert_eq!((t.sd, t.value), (Some(0.0), 1e-4));
        // Median of {0, 0.02} with the upper middle: 0.02.
        let t = tolerance(&ps[5], &sds, &ps);
        assert!(t.pooled && (t.sd.unwrap() - 0.02).abs() < 1e-12 && t.seeds == 1, "{t:?}");
        // A single-seed table: the floor.
        let one = points(vec![row(1, 1.0, 0, Some(0.9))], &profile);
        let t = tolerance(&one[0], &cell_sds(&one), &one);
        assert_eq!((t.sd, t.value, t.pooled), (None, 1e-4, false));
        assert_eq!(sample_sd(&[1.0, 3.0]), Some(2f64.sqrt()));
    }

    #[test]
    fn the_choice_is_seeded_distinct_and_bounded() {
        let a = choose(100, 5, 42);
        assert_eq!(a, choose(100, 5, 42));
        assert_ne!(a, choose(100, 5, 43));
        assert!(a.windows(2).all(|w| w[0] < w[1]) && a.iter().all(|&i| i < 100));
        assert_eq!(choose(3, 10, 1), vec![0, 1, 2]);
    }

    #[test]
    fn published_features_are_found_where_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let t = serde_json::json!({"points": [], "summary": {"cpu_features": ["avx", "avx2"]}});
        assert_eq!(published_features(&t, dir.path()), Some(vec!["avx".to_string(), "avx2".to_string()]));
        let bare = serde_json::json!({"points": []});
        assert_eq!(published_features(&bare, dir.path()), None);
        std::fs::write(dir.path().join("reproducibility.json"), r#"{"info": {"cpu_features": ["sse4.2"]}}"#).unwrap();
        assert_eq!(published_features(&bare, dir.path()), Some(vec!["sse4.2".to_string()]));
    }

    #[test]
    fn bit_identity_compares_the_exact_numbers() {
        let r = row(1, 1.0, 0, Some(0.1 + 0.2));
        assert_eq!(same(&r, "test_acc", Value::from(0.1 + 0.2)), Some(true));
        assert_eq!(same(&r, "test_acc", Value::from(0.3)), Some(false));
        assert_eq!(same(&r, "outcome", Value::from("trained")), Some(true));
        assert_eq!(same(&r, "log_pl_init", Value::Null), None);
        // A column null in every row is not recorded; one with a value somewhere is.
        let mut ps = points(vec![row(1, 1.0, 0, Some(0.5)), row(3, 1.0, 0, Some(0.5))], &Map::new());
        ps[0].json.insert("initial_loss".into(), Value::Null);
        ps[1].json.insert("initial_loss".into(), Value::Null);
        ps[1].json.insert("log_pl_init".into(), Value::from(-1.5));
        assert_eq!(unrecorded(&ps), vec!["initial_loss"]);
    }
}
