use super::config::round12;
use super::points::Init;
use super::*;
use crate::activation::ActName;
use crate::architecture::Architecture;
use crate::nn::train::{Outcome, TrainResult};

fn err(cfg: &Config) -> String {
    cfg.check().expect_err("invalid").to_string()
}

#[test]
fn quick_tiny_and_paper_profiles_pass() {
    assert!(Config::default().check().is_ok());
    for name in ["quick", "paper"] {
        let p = crate::stages::Profile::load(name).unwrap();
        p.training.check().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let tiny = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/profiles/tiny.toml");
    crate::stages::Profile::load(tiny.to_str().unwrap()).unwrap().training.check().unwrap();
}

#[test]
fn check_rejects_bad_section_values() {
    let d = Config::default;
    assert_eq!(err(&Config { width: 0, ..d() }), "[training] width = 0 is invalid (valid: an integer from 1 to 4096)");
    assert!(err(&Config { batch: 0, ..d() }).contains("[training] batch = 0"));
    assert!(err(&Config { epochs: 0, ..d() }).contains("epochs = 0"));
    assert!(err(&Config { epochs: 1_000_000, ..d() }).contains("epochs = 1000000"));
    assert!(err(&Config { train_subset: 60_001, ..d() }).contains("train_subset"));
    assert!(err(&Config { test_subset: 0, ..d() }).contains("test_subset"));
    assert!(err(&Config { seeds: vec![], ..d() }).contains("seeds = a list of 0 value(s)"));
    assert!(err(&Config { seeds: vec![3, 1, 3], ..d() }).contains("seeds[2] = 3"));
    for t in [f64::NAN, f64::INFINITY, 0.5, -1.0] {
        assert_eq!(
            err(&Config { blowup_factor: t, ..d() }),
            format!("[training] blowup_factor = {t} is invalid (valid: a finite number from 1 to 1000000000)")
        );
    }
    assert!(err(&Config { grids: vec![], ..d() }).contains("grids = a list of 0 value(s)"));
}

#[test]
fn check_rejects_bad_grid_values() {
    let with = |f: &dyn Fn(&mut GridSpec)| {
        let mut c = Config::default();
        f(&mut c.grids[1]);
        err(&c)
    };
    assert!(with(&|g| g.name = "frn-tanh".into()).contains("[training] grids[1].name = \"frn-tanh\""));
    assert!(with(&|g| g.name = String::new()).contains("grids[1].name"));
    assert!(with(&|g| g.name = "../x".into()).contains("grids[1].name"));
    assert!(with(&|g| g.act = ActName::AlphaRelu).contains("grids[1].alpha = (unset)"));
    assert!(with(&|g| g.alpha = Some(f64::NAN)).contains("grids[1].alpha = NaN"));
    assert!(with(&|g| g.alpha = Some(-1.0)).contains("grids[1].alpha"));
    assert!(with(&|g| g.depths = vec![]).contains("grids[1].depths"));
    assert!(with(&|g| g.depths = vec![0, 4]).contains("grids[1].depths[0] = 0"));
    assert!(with(&|g| g.depths = vec![4, 4]).contains("grids[1].depths[1] = 4"));
    assert!(with(&|g| g.depths = vec![8, 4]).contains("grids[1].depths[1] = 4"));
    assert!(with(&|g| g.depths = vec![1_000_000_000_000]).contains("grids[1].depths[0]"));
    assert!(with(&|g| g.sw2 = 0.0).contains("grids[1].sw2"));
    assert!(with(&|g| g.sv2_min = 0.0).contains("grids[1].sv2_min = 0"));
    assert!(with(&|g| g.sv2_min = f64::NAN).contains("grids[1].sv2_min = NaN"));
    assert!(with(&|g| g.sv2_max = f64::INFINITY).contains("grids[1].sv2_max = inf"));
    assert!(with(&|g| g.sv2_max = 0.0001).contains("grids[1].sv2_max = 0.0001"));
    assert!(with(&|g| g.sv2_count = 0).contains("grids[1].sv2_count = 0"));
    assert!(with(&|g| g.sv2_count = 10_000_000).contains("grids[1].sv2_count = 10000000"));
    assert!(with(&|g| g.sb2 = -1.0).contains("grids[1].sb2"));
    assert!(with(&|g| g.sa2 = f64::NAN).contains("grids[1].sa2"));
    for lr in [0.0, -0.1, f64::NAN, f64::INFINITY] {
        assert!(with(&|g| g.lr = Lr::Fixed(lr)).contains("grids[1].lr"), "{lr}");
    }
    assert_eq!(
        with(&|g| g.width = Some(0)),
        "[training] grids[1].width = 0 is invalid (valid: an integer from 1 to 4096)"
    );
}

#[test]
fn check_rejects_bad_pilot_values() {
    let with = |f: &dyn Fn(&mut Pilot)| {
        let mut c = Config::default();
        f(&mut c.pilot);
        err(&c)
    };
    assert_eq!(
        with(&|p| p.rates = vec![]),
        "[training] pilot.rates = a list of 0 value(s) is invalid (valid: a list of 1 to 32 values)"
    );
    assert!(with(&|p| p.rates = vec![0.01, -1.0]).starts_with("[training] pilot.rates[1] = -1 is invalid"));
    assert!(with(&|p| p.rates = vec![0.01, f64::NAN]).contains("pilot.rates[1] = NaN"));
    assert_eq!(
        with(&|p| p.rates = vec![0.02, 0.01]),
        "[training] pilot.rates[1] = 0.01 is invalid (valid: a rate above the previous one, 0.02)"
    );
    assert!(with(&|p| p.train_subset = 0).contains("pilot.train_subset = 0"));
    assert!(with(&|p| p.train_subset = 60_001).contains("pilot.train_subset = 60001"));
    for f in [0.0, 1.5, f64::NAN] {
        assert!(with(&|p| p.fraction = f).contains("pilot.fraction"), "{f}");
    }
    assert_eq!(
        with(&|p| p.control_depths = vec![5]),
        "[training] pilot.control_depths[0] = 5 is invalid (valid: a depth of at least one grid with lr = \"auto\" and control = true)"
    );
    assert!(with(&|p| p.control_depths = vec![0]).contains("pilot.control_depths[0] = 0"));
}

/// `lr` is a number or "auto"; anything else is an error naming the valid values.
#[test]
fn lr_parses_a_number_or_auto() {
    let parse = |v: &str| toml::from_str::<std::collections::BTreeMap<String, Lr>>(&format!("lr = {v}"));
    assert_eq!(parse("0.01").unwrap()["lr"], Lr::Fixed(0.01));
    assert_eq!(parse("1").unwrap()["lr"], Lr::Fixed(1.0));
    assert_eq!(parse("\"auto\"").unwrap()["lr"], Lr::Auto);
    let e = parse("\"fast\"").unwrap_err().to_string();
    assert!(e.contains("\"fast\"") && e.contains("\"auto\"") && e.contains("0 < lr"), "{e}");
    assert!(parse("true").unwrap_err().to_string().contains("\"auto\""));
    assert_eq!(serde_json::to_string(&Lr::Auto).unwrap(), "\"auto\"");
    assert_eq!(serde_json::to_string(&Lr::Fixed(0.5)).unwrap(), "0.5");
}

#[test]
fn check_bounds_memory_and_total_points() {
    // one run at depth 10000 and width 4096 would need terabytes
    let mut c = Config { width: 4096, ..Config::default() };
    c.grids[0].depths = vec![10, 10_000];
    let e = err(&c);
    assert!(e.contains("grids[0].depths") && e.contains("GB"), "{e}");
    // 64 depths x 258 variances x 64 seeds x 3 grids > 100000 runs
    let mut c = Config { seeds: (0..64).collect(), ..Config::default() };
    for g in &mut c.grids {
        g.depths = (1..=64).collect();
        g.sv2_count = 256;
    }
    let e = err(&c);
    assert!(e.starts_with("[training] grids = ") && e.contains("training runs"), "{e}");
}

/// Third-decade steps from $10^{-3}$ to $10^2$: the decades are exact decimals, the others the
/// 12-digit roundings of $10^{k/3}$ ($10^{1/3} = 2.15443469003188\ldots$,
/// $10^{2/3} = 4.64158883361278\ldots$).
#[test]
fn variances_are_exact_decimals() {
    let g = &Config::default().grids[0];
    let v = g.variances();
    assert_eq!(v.len(), 16);
    for (i, want) in
        [(0, "0.001"), (1, "0.00215443469003"), (2, "0.00464158883361"), (3, "0.01"), (9, "1"), (15, "100")]
    {
        assert_eq!(v[i], want.parse::<f64>().unwrap(), "v[{i}]");
        assert_eq!(format!("{}", v[i]), want, "v[{i}] prints as written");
    }
    assert!(v.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(round12(0.010000000000000004), 0.01);
    assert_eq!(g.axis_label(), "sigma_v^2");
    assert_eq!(Config::default().grids[1].axis_label(), "sigma_v^2 sigma_w^2");
    let one = GridSpec { sv2_count: 1, sv2_min: 0.5, ..g.clone() };
    assert_eq!(one.variances(), vec![0.5]);
    let vanilla = GridSpec { arch: Architecture::Vanilla, ..g.clone() };
    assert_eq!((vanilla.axis_label(), vanilla.weights_at(0.5)), ("sigma_w^2", (0.5, 0.0)));
}

/// Xavier and He are trained at their true points ($\sigma_w^2 = \sigma_v^2$), once each: Xavier is
/// on the quick axis ($\sigma_v^2 = 1$ at $\sigma_w^2 = 1$), He is not.
#[test]
fn points_cover_every_grid_depth_variance_seed_and_init() {
    let c = Config::default();
    let p = c.points(&[0.01, 0.02, 0.03]);
    assert_eq!(p.len(), 3 * 5 * (16 + 1) * 2);
    assert_eq!(p[0].1.act, ActName::Tanh);
    assert_eq!(p.last().unwrap().1.act, ActName::AlphaRelu);
    assert_eq!(p.last().unwrap().1.alpha, Some(0.75));
    assert_eq!(p.last().unwrap().1.lr, 0.03);
    for (init, (w, v)) in [(Init::Xavier, (1.0, 1.0)), (Init::He, (2.0, 2.0))] {
        let at: Vec<_> = p.iter().filter(|(_, t)| Init::of(t.arch, t.sw2, t.sv2) == Some(init)).collect();
        assert_eq!(at.len(), 3 * 5 * 2, "{init:?}");
        assert!(at.iter().all(|(_, t)| t.sw2 == w && t.sv2 == v));
    }
    let mut keys: Vec<String> = p.iter().map(|(_, t)| crate::pipeline::task_key("k", t)).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), p.len(), "no point twice");
    let no_inits = Config { grids: vec![GridSpec { inits: false, ..c.grids[0].clone() }], ..c.clone() };
    assert_eq!(no_inits.points(&[0.01]).len(), 5 * 16 * 2);
}

/// The pilot picks the largest rate at which every seed trains, else falls back to the smallest.
#[test]
fn pilot_chooses_the_largest_rate_where_every_seed_trains() {
    let rates = [0.002, 0.005, 0.01, 0.02, 0.05];
    let loss = [0.76, 0.5, 0.42, 0.4, 0.46];
    let largest = |ok: &[bool]| pilot::choose(PilotRule::Largest, &rates, ok, &loss);
    let lowest = |ok: &[bool]| pilot::choose(PilotRule::LowestLoss, &rates, ok, &loss);
    assert_eq!(largest(&[true, true, true, true, false]), (0.02, false));
    assert_eq!(largest(&[true, true, true, true, true]), (0.05, false));
    assert_eq!(largest(&[true, false, true, false, false]), (0.01, false));
    assert_eq!(largest(&[false; 5]), (0.002, true));
    // the lowest loss (0.4 at 0.02) beats a larger rate that trains but ends higher (0.46 at 0.05)
    assert_eq!(lowest(&[true; 5]), (0.02, false));
    assert_eq!(lowest(&[true, true, true, false, true]), (0.01, false));
    assert_eq!(lowest(&[true, false, false, false, false]), (0.002, false));
    assert_eq!(lowest(&[false; 5]), (0.002, true));
    assert_eq!(
        pilot::choose(PilotRule::LowestLoss, &[0.1, 0.2], &[true, true], &[0.5, 0.5]),
        (0.2, false),
        "ties: larger"
    );
    let m = |outcome, l0: Option<f64>, l1: Option<f64>| pilot::PilotMeasure {
        outcome,
        outcome_step: None,
        initial_loss: l0,
        final_loss: l1,
        steps: 10,
    };
    assert!(pilot::trains(&m(Outcome::Trained, Some(2.3), Some(1.0)), 0.5));
    assert!(!pilot::trains(&m(Outcome::Trained, Some(2.3), Some(1.2)), 0.5));
    assert!(!pilot::trains(&m(Outcome::Blowup, Some(2.3), Some(0.1)), 0.5));
    assert!(!pilot::trains(&m(Outcome::Trained, None, Some(0.1)), 0.5));
}

/// End to end on MNIST: a grid whose ladder tops out at a rate that cannot train (1000) gets the
/// rate below it; the pilot's runs are cached (a second pilot trains nothing).
#[test]
fn pilot_on_a_tiny_grid_skips_a_rate_that_fails() {
    let cfg = Config {
        width: 16,
        batch: 64,
        train_subset: 640,
        test_subset: 200,
        seeds: vec![0, 1],
        pilot: Pilot {
            rates: vec![0.1, 1000.0],
            train_subset: 1920,
            fraction: 0.8,
            rule: PilotRule::Largest,
            control_depths: vec![],
        },
        grids: vec![GridSpec {
            depths: vec![2, 3],
            sv2_count: 2,
            sv2_min: 0.1,
            sv2_max: 1.0,
            ..Config::default().grids[0].clone()
        }],
        ..Config::default()
    };
    cfg.check().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (inputs, cache, progress) = (
        std::collections::BTreeMap::new(),
        crate::pipeline::Cache::new(dir.path()),
        crate::pipeline::Progress::silent(),
    );
    let ctx = crate::pipeline::StageContext {
        inputs: &inputs,
        cache: &cache,
        progress: &progress,
        jobs: 1,
        shard: Some((2, 3)),
    };
    let data = pilot::Data::new();
    let p = pilot::run_pilots(&cfg, &ctx, &data).unwrap();
    let p = p[0].as_ref().unwrap();
    assert_eq!((p.depth, p.sv2, p.runs.len()), (3, 0.1, 4));
    assert_eq!(p.all_train, vec![true, false], "{:#?}", p.runs);
    assert_eq!((p.chosen, p.fallback), (0.1, false));
    assert!(p.runs[2..].iter().all(|r| r.measure.outcome.failed()), "{:#?}", p.runs);
    assert_eq!(pilot::rates(&cfg, &[Some(p.clone())]), vec![0.1]);
    let again = pilot::run_pilots(&cfg, &ctx, &data).unwrap();
    assert_eq!(again[0].as_ref().unwrap(), p, "cached");
    assert_eq!(
        std::fs::read_dir(dir.path().join("training/pilot")).unwrap().count(),
        4,
        "every run cached, shard or not"
    );
}

fn result() -> TrainResult {
    TrainResult {
        arch: Architecture::Full,
        act: ActName::AlphaRelu,
        alpha: Some(0.75),
        width: 8,
        depth: 3,
        sw2: 1.0,
        sv2: 0.5,
        sb2: 0.0,
        sa2: 0.0,
        lr: 0.05,
        momentum: 0.0,
        batch: 32,
        epochs: 1,
        train_subset: 256,
        seed: 1,
        threads: 1,
        test_acc: 0.25,
        test_loss: None,
        train_acc: f64::NAN,
        final_loss: Some(2.5),
        outcome: Outcome::Blowup,
        outcome_step: Some(7),
        initial_loss: None,
        log_pl_init: None,
        diverged: true,
        diverged_step: Some(7),
        diverged_reason: Some("loss above threshold".into()),
        steps: 7,
        samples: 224,
        seconds: 0.5,
        samples_per_sec: f64::INFINITY,
        median_step_samples_per_sec: 1.0,
        eval_seconds: 0.1,
        epochs_log: vec![],
    }
}

/// The typed row writes exactly the JSON the table had when it was built key by key, and reads
/// it back (non-finite numbers as null).
#[test]
fn training_row_keeps_the_table_format() {
    let r = result();
    let row = serde_json::to_value(TrainingRow::new(&r, ActName::AlphaRelu)).unwrap();
    let old = serde_json::json!({
        "arch": r.arch, "act": r.act, "alpha": r.alpha, "width": r.width, "depth": r.depth,
        "sw2": r.sw2, "sv2": r.sv2, "sb2": r.sb2, "sa2": r.sa2, "lr": r.lr, "batch": r.batch,
        "epochs": r.epochs, "train_subset": r.train_subset, "seed": r.seed,
        "test_acc": r.test_acc, "train_acc": r.train_acc, "final_loss": r.final_loss,
        "diverged": r.diverged, "diverged_step": r.diverged_step, "diverged_reason": r.diverged_reason,
        "outcome": "blowup", "outcome_step": r.diverged_step, "initial_loss": null, "log_pl_init": null,
    });
    assert_eq!(row, old);
    assert_eq!(row.to_string(), old.to_string());
    let back: TrainingRow = serde_json::from_value(row).unwrap();
    assert_eq!(
        (back.test_acc, back.train_acc, back.act, back.diverged_step),
        (Some(0.25), None, ActName::AlphaRelu, Some(7))
    );
    assert!(row_has_no_timings(&back));
}

/// Timings are not results: the row has no wall-clock field.
fn row_has_no_timings(row: &TrainingRow) -> bool {
    let v = serde_json::to_value(row).unwrap();
    ["seconds", "samples_per_sec", "eval_seconds"].iter().all(|k| v.get(k).is_none())
}

#[test]
fn estimate_and_duration_format() {
    let c = Config::default();
    let p = c.points(&[0.01; 3]);
    let all: Vec<_> = p.iter().map(|(_, t)| t).collect();
    let one = compute::estimate_seconds(&all[..1], 1, 1.0);
    assert!(one > 0.0 && one.is_finite());
    assert!((compute::estimate_seconds(&all[..1], 2, 1.0) - one / 2.0).abs() < 1e-9 * one);
    assert_eq!(compute::human_duration(30.0), "30 s");
    assert_eq!(compute::human_duration(600.0), "10.0 min");
    assert_eq!(compute::human_duration(7200.0), "2.0 h");
}

#[test]
fn declares_no_claims() {
    assert!(claims::claims().is_empty());
}

/// A row of the table `training` re-trains its point: its keys include every [`TrainConfig`] key
/// (the configuration's own serialization, an independent list) but the thread counts, which do
/// not change results, and the configuration rebuilt from the row by those names is the run's.
#[test]
fn training_record_rebuilds_the_train_config() {
    let c = Config::default();
    let (gi, t) = c.points(&[0.01; 3]).into_iter().find(|(_, t)| t.sw2 == 2.0).unwrap();
    let r = result();
    let rec = TrainingRecord::new(&c.grids[gi].name, &t, &r, c.grids[gi].act);
    let row = serde_json::to_value(&rec).unwrap();
    let names = serde_json::to_value(&t).unwrap();
    let mut picked = serde_json::Map::new();
    for (k, _) in names.as_object().unwrap() {
        if matches!(k.as_str(), "threads" | "matmul_threads") {
            continue;
        }
        let v = row.get(k).unwrap_or_else(|| panic!("row lacks TrainConfig key {k}: {row}"));
        picked.insert(k.clone(), v.clone());
    }
    assert_eq!(row["init"], "he");
    assert_eq!(row["grid"], "frn-tanh");
    assert_eq!(row["test_acc_epochs"], serde_json::json!([null]), "one epoch, not evaluated in this fake result");
    // The fake result holds its own settings; rebuild from a record of a result that matches `t`.
    let r2 = TrainResult {
        arch: t.arch,
        act: t.act,
        alpha: t.alpha,
        width: t.width,
        depth: t.depth,
        sw2: t.sw2,
        sv2: t.sv2,
        sb2: t.sb2,
        sa2: t.sa2,
        lr: t.lr,
        batch: t.batch,
        epochs: t.epochs,
        train_subset: t.train_subset.unwrap(),
        seed: t.seed,
        ..r
    };
    let row = serde_json::to_value(TrainingRecord::new("frn-tanh", &t, &r2, ActName::Tanh)).unwrap();
    let mut keep = serde_json::Map::new();
    for (k, _) in names.as_object().unwrap() {
        if let Some(v) = row.get(k) {
            keep.insert(k.clone(), v.clone());
        }
    }
    let rebuilt: crate::nn::train::TrainConfig = serde_json::from_value(serde_json::Value::Object(keep)).unwrap();
    assert_eq!(rebuilt, t);
    // and the record's own rebuild (field by field, which the prediction stage uses) agrees
    assert_eq!(TrainingRecord::new("frn-tanh", &t, &r2, ActName::Tanh).train_config(), t);
}

/// Cells average the seeds that trained and name the failure of the others; the heatmap marks a
/// cell where every seed failed with its kind, and its legend names each kind once.
#[test]
fn failure_kinds_are_counted_and_drawn() {
    let spec = GridSpec {
        depths: vec![2, 4],
        sv2_min: 0.1,
        sv2_max: 10.0,
        sv2_count: 3,
        inits: false,
        ..Config::default().grids[0].clone()
    };
    let cfg = Config { seeds: vec![0, 1], grids: vec![spec.clone()], ..Config::default() };
    let run = |depth: usize, sv2: f64, seed: u64, outcome: Outcome, acc: f64| TrainResult {
        act: ActName::Tanh,
        alpha: None,
        depth,
        sw2: 1.0,
        sv2,
        seed,
        test_acc: acc,
        outcome,
        outcome_step: outcome.failed().then_some(3),
        diverged: outcome.failed(),
        ..result()
    };
    let t = Outcome::Trained;
    let runs = vec![
        run(2, 0.1, 0, t, 0.9),
        run(2, 0.1, 1, t, 0.8),
        run(2, 1.0, 0, t, 0.7),
        run(2, 1.0, 1, Outcome::Blowup, 0.1),
        run(2, 10.0, 0, Outcome::Nonfinite, 0.0),
        run(2, 10.0, 1, Outcome::Nonfinite, 0.0),
        run(4, 0.1, 0, t, 0.6),
        run(4, 0.1, 1, t, 0.6),
        run(4, 1.0, 0, Outcome::Blowup, 0.1),
        run(4, 1.0, 1, Outcome::Blowup, 0.1),
        run(4, 10.0, 0, Outcome::OverflowAtInit, 0.0),
        run(4, 10.0, 1, Outcome::OverflowAtInit, 0.0),
    ];
    let refs: Vec<&TrainResult> = runs.iter().collect();
    let g = summary::summarize_grid(&cfg, &spec, 0.01, &refs);
    let c = |d: usize, v: f64| g.cells.iter().find(|c| c.depth == d && c.sv2 == v).unwrap();
    // two seeds 0.9 and 0.8: mean 0.85, sample sd 0.05 * sqrt(2)
    assert!((c(2, 0.1).test_acc - 0.85).abs() < 1e-12 && (c(2, 0.1).test_acc_sd - 0.05 * 2f64.sqrt()).abs() < 1e-12);
    assert_eq!((c(2, 1.0).test_acc, c(2, 1.0).diverged, c(2, 1.0).failure), (0.7, 1, Some(Outcome::Blowup)));
    assert!(c(2, 10.0).all_failed() && c(2, 10.0).test_acc.is_nan());
    assert_eq!(c(4, 10.0).failure, Some(Outcome::OverflowAtInit));
    assert_eq!(g.failures, vec![(Outcome::OverflowAtInit, 2), (Outcome::Nonfinite, 2), (Outcome::Blowup, 3)]);
    assert_eq!(g.rows[1].best.as_ref().unwrap().sv2, 0.1, "failed cells are never the best");
    // deepest depth: one cell where every seed trained, so no spread
    assert_eq!(g.deepest_spread, None);
    let svg = figures::heatmap(&g).unwrap().svg;
    for label in ["failed: overflow at init", "failed: non-finite in training", "failed: loss blow-up"] {
        assert_eq!(svg.matches(label).count(), 1, "{label} once in the legend");
    }
}

/// The control compares the accuracy peak (first seed) at the chosen rate with the peaks at half
/// and twice the rate, in grid steps; a shift of more than one step "moves".
#[test]
fn control_reports_peak_shifts_in_grid_steps() {
    let spec = GridSpec {
        depths: vec![4, 8],
        sv2_min: 0.01,
        sv2_max: 100.0,
        sv2_count: 5,
        ..Config::default().grids[0].clone()
    };
    let cfg = Config {
        seeds: vec![3, 4],
        pilot: Pilot { control_depths: vec![8], ..Pilot::default() },
        grids: vec![spec.clone()],
        ..Config::default()
    };
    cfg.check().unwrap();
    let v = spec.variances(); // 0.01, 0.1, 1, 10, 100
    let run = |sv2: f64, seed: u64, acc: f64| TrainResult {
        act: ActName::Tanh,
        alpha: None,
        depth: 8,
        sw2: 1.0,
        sv2,
        seed,
        test_acc: acc,
        outcome: Outcome::Trained,
        outcome_step: None,
        diverged: false,
        ..result()
    };
    // chosen rate: peak at v[1] for seed 3 (seed 4 peaks elsewhere and is ignored)
    let main: Vec<TrainResult> = v
        .iter()
        .enumerate()
        .flat_map(|(i, &s)| [run(s, 3, if i == 1 { 0.9 } else { 0.5 }), run(s, 4, if i == 4 { 0.95 } else { 0.5 })])
        .collect();
    // half the rate: peak at v[2] (1 step); twice: peak at v[4] (3 steps)
    let half: Vec<TrainResult> =
        v.iter().enumerate().map(|(i, &s)| run(s, 3, if i == 2 { 0.8 } else { 0.4 })).collect();
    let twice: Vec<TrainResult> =
        v.iter().enumerate().map(|(i, &s)| run(s, 3, if i == 4 { 0.8 } else { 0.4 })).collect();
    let ctl: Vec<(f64, &TrainResult)> = half.iter().map(|r| (0.5, r)).chain(twice.iter().map(|r| (2.0, r))).collect();
    let main_refs: Vec<&TrainResult> = main.iter().collect();
    let c = summary::summarize_control(&cfg, 0, 0.02, &main_refs, &ctl);
    assert_eq!(c.len(), 1);
    let c = &c[0];
    assert_eq!((c.depth, c.seed, c.peak_axis, c.peak_acc), (8, 3, Some(0.1), Some(0.9)));
    let shifts: Vec<(f64, Option<i64>)> = c.factors.iter().map(|f| (f.lr, f.shift)).collect();
    assert_eq!(shifts, vec![(0.01, Some(1)), (0.04, Some(3))]);
    assert!(c.moves);
    let only_half: Vec<(f64, &TrainResult)> = half.iter().map(|r| (0.5, r)).collect();
    let c = summary::summarize_control(&cfg, 0, 0.02, &main_refs, &only_half);
    assert!(!c[0].moves, "one step and a missing factor do not move the peak");
    assert_eq!(c[0].factors[1].shift, None);
}

/// The ridge by epoch, worked by hand on a three-epoch grid at one depth with variances 0.1, 1,
/// 10 and two seeds: after epoch 1 the best cell is 0.1 (0.50 against 0.40 and 0.30), after epoch
/// 3 it is 10 (0.95; its seed 1 failed during epoch 2 and counts only after epoch 1), two grid
/// steps up; a one-epoch grid shows no ridge by epoch.
#[test]
fn the_ridge_by_epoch_is_worked_out_by_hand() {
    assert_eq!(summary::peak_epochs(1), Vec::<usize>::new());
    assert_eq!(summary::peak_epochs(2), vec![1, 2]);
    assert_eq!(summary::peak_epochs(3), vec![1, 3]);
    assert_eq!(summary::peak_epochs(10), vec![1, 3, 10]);
    let spec = GridSpec {
        depths: vec![2],
        sv2_min: 0.1,
        sv2_max: 10.0,
        sv2_count: 3,
        inits: false,
        epochs: Some(3),
        ..Config::default().grids[0].clone()
    };
    let cfg = Config { seeds: vec![0, 1], grids: vec![spec.clone()], ..Config::default() };
    let log = |accs: &[f64]| -> Vec<crate::nn::train::EpochRow> {
        accs.iter()
            .enumerate()
            .map(|(i, &a)| crate::nn::train::EpochRow {
                epoch: i + 1,
                train_loss: Some(1.0),
                train_acc: 0.5,
                test_acc: Some(a),
                test_loss: Some(1.0),
                seconds: 1.0,
                steps: 10,
            })
            .collect()
    };
    let run = |sv2: f64, seed: u64, accs: &[f64], outcome: Outcome| TrainResult {
        act: ActName::Tanh,
        alpha: None,
        depth: 2,
        sw2: 1.0,
        sv2,
        seed,
        epochs: 3,
        test_acc: *accs.last().unwrap(),
        outcome,
        diverged: outcome.failed(),
        epochs_log: log(accs),
        ..result()
    };
    let t = Outcome::Trained;
    let runs = [
        run(0.1, 0, &[0.5, 0.6, 0.7], t),
        run(0.1, 1, &[0.5, 0.6, 0.7], t),
        run(1.0, 0, &[0.4, 0.7, 0.8], t),
        run(1.0, 1, &[0.4, 0.7, 0.8], t),
        run(10.0, 0, &[0.3, 0.9, 0.95], t),
        run(10.0, 1, &[0.3], Outcome::Blowup),
    ];
    let refs: Vec<&TrainResult> = runs.iter().collect();
    let g = summary::summarize_grid(&cfg, &spec, 0.01, &refs);
    let p = |e: usize| g.epoch_peaks.iter().find(|p| p.epoch == e).unwrap();
    assert_eq!(g.epoch_peaks.len(), 2);
    assert_eq!((p(1).axis, p(1).shift), (Some(0.1), Some(-2)));
    assert!((p(1).acc.unwrap() - 0.5).abs() < 1e-15);
    assert_eq!((p(3).axis, p(3).acc, p(3).shift), (Some(10.0), Some(0.95), Some(0)));
    let one = GridSpec { epochs: Some(1), ..spec.clone() };
    assert!(summary::summarize_grid(&cfg, &one, 0.01, &refs).epoch_peaks.is_empty());

    // the chapter renders the ridge by epoch (strict undefined: every key it reads exists)
    let points: Vec<PointResult> = runs.iter().map(|r| PointResult { result: r.clone(), loss_trace: vec![] }).collect();
    let have: Vec<(usize, &PointResult)> = points.iter().map(|p| (0, p)).collect();
    let sum = summary::summarize(&cfg, &have, &[0.01], vec![], vec![], 0, None);
    let figures = vec![figures::heatmap(&sum.grids[0]).unwrap(), figures::curves(0, &sum.grids[0], &have).unwrap()];
    let art = crate::pipeline::Artifact {
        summary: serde_json::to_value(&sum).unwrap(),
        figures: figures.clone(),
        ..Default::default()
    };
    let rec = crate::pipeline::StageRecord::computed(&TrainingStage::new(cfg.clone()).unwrap(), art);
    let md = crate::report::render(&[rec], &crate::report::RunInfo::collect("quick", "", 1)).unwrap().markdown;
    let want =
        "after epochs 1, 3 (mean over the seeds that had trained that far; in brackets, grid steps from the last \
                epoch's best, positive at a larger variance): $L = 2$: 0.100 (-2) → 10.0.";
    assert!(md.contains(want), "{}", &md[md.find("Does the ridge").unwrap_or(0)..]);

    // Appendix B words the grid's limit by how it was probed, and reads a record of an earlier
    // version (no `probe_concurrent`) without failing (strict undefined).
    use crate::stages::performance;
    let perf = performance::Summary {
        config: performance::Config::default(),
        product: performance::ProductProbe { n: 1024, one_thread: 250.0, threads: 2, with_threads: 480.0 },
        reference: crate::nn::TrainConfig::default(),
        measures: vec![],
        ours_samples_per_sec: vec![1.0],
        ours_median: 1.0,
        ours_test_acc: 0.9,
        torch_samples_per_sec: None,
        torch_median: None,
        torch_test_acc: None,
        ratio: None,
        torch_note: String::new(),
        measured_at: String::new(),
    };
    let perf_art = crate::pipeline::Artifact { summary: serde_json::to_value(&perf).unwrap(), ..Default::default() };
    let perf_stage = performance::PerformanceStage::new(performance::Config::default()).unwrap();
    let g = GridThroughput {
        grid: "g".into(),
        points: 1,
        step_flops: 1e12,
        eval_flops: 0.0,
        seconds: 5.0,
        gflops: 200.0,
        limit_fraction: 0.4,
    };
    let tp = Throughput {
        threads: 2,
        probe_n: 1024,
        probe_gflops: 250.0,
        probe_concurrent: true,
        step_shape_gflops: 240.0,
        grids: vec![g.clone()],
        total: g,
    };
    for concurrent in [true, false] {
        let mut s = serde_json::to_value(&sum).unwrap();
        s["throughput"] = serde_json::to_value(&tp).unwrap();
        if !concurrent {
            s["throughput"].as_object_mut().unwrap().remove("probe_concurrent");
        }
        let art = crate::pipeline::Artifact { summary: s, figures: figures.clone(), ..Default::default() };
        let recs = [
            crate::pipeline::StageRecord::computed(&TrainingStage::new(cfg.clone()).unwrap(), art),
            crate::pipeline::StageRecord::computed(&perf_stage, perf_art.clone()),
        ];
        let md = crate::report::render(&recs, &crate::report::RunInfo::collect("quick", "", 1)).unwrap().markdown;
        let want = if concurrent {
            "250 GFLOP/s per thread with every thread running one at once"
        } else {
            "250 GFLOP/s on one thread alone"
        };
        assert!(md.contains(want), "{}", &md[md.find("Appendix B").unwrap_or(0)..]);
    }
}

/// A throughput record of an earlier version (the paper grid's) has no `probe_concurrent`: it
/// reads as a probe of one thread alone, so the report does not describe it as the concurrent one.
#[test]
fn throughput_records_without_probe_concurrent_read_as_one_thread_alone() {
    let g = serde_json::json!({"grid": "g", "points": 1, "step_flops": 1.0, "eval_flops": 0.0, "seconds": 1.0,
                               "gflops": 1e-9, "limit_fraction": 0.5});
    let old = serde_json::json!({"threads": 2, "probe_n": 1024, "probe_gflops": 250.0, "step_shape_gflops": 240.0,
                                 "grids": [g.clone()], "total": g});
    let t: compute::Throughput = serde_json::from_value(old).unwrap();
    assert!(!t.probe_concurrent);
    let mut new = serde_json::to_value(&t).unwrap();
    new["probe_concurrent"] = true.into();
    assert!(serde_json::from_value::<compute::Throughput>(new).unwrap().probe_concurrent);
}

/// The concurrent probe of the limit runs the probe once per thread, all at the same time, and
/// reports the per-thread mean (not the sum).
#[test]
fn concurrent_probe_reports_a_per_thread_mean() {
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let running = std::sync::atomic::AtomicUsize::new(0);
    let seen_together = std::sync::atomic::AtomicUsize::new(0);
    let probe = || {
        use std::sync::atomic::Ordering::SeqCst;
        let i = calls.fetch_add(1, SeqCst);
        let now = running.fetch_add(1, SeqCst) + 1;
        // Wait (bounded) for the other threads, so that they are seen running at once.
        let t0 = std::time::Instant::now();
        while running.load(SeqCst) < 3 && t0.elapsed().as_secs() < 5 {
            std::thread::yield_now();
        }
        seen_together.fetch_max(now.max(running.load(SeqCst)), SeqCst);
        (i as f64 + 1.0) * 10.0
    };
    let mean = compute::mean_over_threads(3, probe);
    assert_eq!(calls.into_inner(), 3);
    assert_eq!(mean, 20.0, "mean of 10, 20, 30");
    assert_eq!(seen_together.into_inner(), 3, "the three probes ran at the same time");
}
