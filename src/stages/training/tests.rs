use super::*;
use crate::activation::ActName;
use crate::architecture::Architecture;
use crate::nn::train::TrainResult;

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
    for t in [f64::NAN, f64::INFINITY, 0.0, -1.0] {
        assert!(err(&Config { loss_threshold: t, ..d() }).contains("loss_threshold"), "{t}");
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
    assert!(with(&|g| g.sv2_max = 0.001).contains("grids[1].sv2_max = 0.001"));
    assert!(with(&|g| g.sv2_count = 0).contains("grids[1].sv2_count = 0"));
    assert!(with(&|g| g.sv2_count = 10_000_000).contains("grids[1].sv2_count = 10000000"));
    assert!(with(&|g| g.sb2 = -1.0).contains("grids[1].sb2"));
    assert!(with(&|g| g.sa2 = f64::NAN).contains("grids[1].sa2"));
    for lr in [0.0, -0.1, f64::NAN, f64::INFINITY] {
        assert!(with(&|g| g.lr = lr).contains("grids[1].lr"), "{lr}");
    }
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

#[test]
fn variances_include_xavier_and_he_exactly() {
    let g = &Config::default().grids[0];
    let v = g.variances();
    assert_eq!(v.len(), 8, "{v:?}"); // 1 is one of the 7 log-spaced values, 2 is added
    assert!(v.contains(&1.0) && v.contains(&2.0));
    assert!(v.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(g.axis_label(), "sigma_v^2");
    assert_eq!(Config::default().grids[1].axis_label(), "sigma_v^2 sigma_w^2");
    let one = GridSpec { sv2_count: 1, sv2_min: 0.5, ..g.clone() };
    assert_eq!(one.variances(), vec![0.5, 1.0, 2.0]);
}

#[test]
fn points_cover_every_grid_depth_variance_and_seed() {
    let c = Config::default();
    let p = c.points();
    assert_eq!(p.len(), 3 * 4 * 8 * 2);
    assert_eq!(p[0].1.act, ActName::Tanh);
    assert_eq!(p.last().unwrap().1.act, ActName::AlphaRelu);
    assert_eq!(p.last().unwrap().1.alpha, Some(0.75));
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
        outcome: crate::nn::train::Outcome::Blowup,
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
    let p = c.points();
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
