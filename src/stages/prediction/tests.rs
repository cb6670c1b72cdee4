use super::*;
use crate::activation::{ActName, Activation};
use crate::analysis::ridge::Run;
use crate::analysis::study::{self, InitMetrics, StudyOptions};
use crate::architecture::Architecture;
use crate::pipeline::ClaimStatus;
use serde_json::json;

/// Closed-form stand-in for the mean-field engine. ReLU FRN with zero biases (exact, docs/theory.md
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
                        InitMetrics {
                            log_explosion: ex,
                            log_chi_w: 0.5 * ex,
                            log_p: p.ln(),
                            log_s: (2.0 * p).ln(),
                            e: c.e0 / (1.0 + l),
                        }
                    }
                    _ => {
                        let v = c.sv2 * c.sw2;
                        let r = (v / 2.0) / (1.0 + v / 2.0);
                        let k = 2.0 * 2f64.sqrt() / (3.0 * std::f64::consts::PI);
                        let ome = 4.0 / (r * k * l + 4.0 / (1.0 - c.e0).sqrt()).powi(2);
                        let lp = c.p0.ln() + l * (1.0 + v / 2.0).ln();
                        InitMetrics {
                            log_explosion: l * (1.0 + v / 2.0).ln(),
                            log_chi_w: 0.0,
                            log_p: lp,
                            log_s: (2.0f64).ln() + lp + ome.ln(),
                            e: 1.0 - ome,
                        }
                    }
                }
            })
            .collect()
    }

    fn recommend(&self, c: &InitConfig, depth: usize, target: Target, bound: f64) -> Option<f64> {
        // bisection on the searched variance (sv2 for FRN)
        let (mut lo, mut hi) = (1e-6f64, 1e4f64);
        let val = |x: f64| {
            let m = self.metrics(&InitConfig { sv2: x, ..*c }, &[depth])[0];
            m.get(target.key()).unwrap()
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

fn point(act: ActName, depth: usize, sw2: f64, sv2: f64, seed: u64, acc: f64) -> TrainingRow {
    TrainingRow {
        arch: Architecture::Full,
        act,
        alpha: None,
        width: 64,
        depth,
        sw2,
        sv2,
        sb2: 0.0,
        sa2: 0.0,
        lr: 0.01,
        batch: 64,
        epochs: 1,
        train_subset: 60_000,
        seed,
        test_acc: Some(acc),
        train_acc: Some(acc),
        final_loss: Some(0.5),
        diverged: false,
        diverged_step: None,
        diverged_reason: None,
        outcome: crate::nn::train::Outcome::Trained,
        outcome_step: None,
        initial_loss: None,
        log_pl_init: None,
    }
}

/// A small synthetic training grid: tanh accuracy peaks where sv2 * L = 8 (slope -1, explosion
/// constant along the ridge); ReLU accuracy peaks where log s^L = 3, with seed noise from a
/// fixed pattern.
fn synthetic_points() -> Vec<TrainingRow> {
    let mut pts = Vec::new();
    let jitter = [0.004, -0.006, 0.002];
    for (di, &l) in [4usize, 8, 16, 32].iter().enumerate() {
        for i in 0..13 {
            let v = 0.0625 * 2f64.powf(0.5 * i as f64);
            for seed in 0..3u64 {
                let j = jitter[(seed as usize + i + di) % 3];
                let u = (v * l as f64 / 8.0).ln();
                pts.push(point(ActName::Tanh, l, 1.0, v, seed, 0.1 + 0.85 * (-0.5 * u * u).exp() + j));
                let m = FakeTheory.metrics(
                    &InitConfig {
                        arch: Architecture::Full,
                        act: Activation::Relu,
                        sw2: 1.0,
                        sv2: v,
                        sb2: 0.0,
                        sa2: 0.0,
                        p0: 1.0,
                        e0: 0.3,
                    },
                    &[l],
                )[0];
                let z = (m.log_s - 3.0) / 1.5;
                let mut p = point(ActName::Relu, l, 1.0, v, seed, 0.1 + 0.85 * (-0.5 * z * z).exp() + j);
                // training fails where p^L exceeds e^7 (a stand-in for float overflow)
                if m.log_p > 7.0 {
                    p.diverged = true;
                    p.outcome = crate::nn::train::Outcome::Nonfinite;
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
fn config_check_names_the_value() {
    let d = Config::default;
    assert!(d().check().is_ok());
    let p = crate::stages::Profile::load("paper").unwrap();
    p.prediction.check().unwrap();
    crate::stages::Profile::load("quick").unwrap().prediction.check().unwrap();
    let err = |c: Config| c.check().expect_err("invalid").to_string();
    let e = err(Config { fail_accuracy: 1.5, ..d() });
    assert!(e.starts_with("[prediction] fail_accuracy = 1.5 is invalid (valid: "), "{e}");
    assert!(err(Config { fail_accuracy: f64::NAN, ..d() }).contains("fail_accuracy = NaN"));
    assert!(err(Config { min_depths: 2, ..d() }).contains("[prediction] min_depths = 2"));
    assert!(err(Config { e0: Some(1.2), ..d() }).contains("e0 = 1.2"));
    assert!(err(Config { bootstrap: 1, ..d() }).contains("bootstrap = 1"));
    assert!(err(Config { bootstrap: 10_000_000, ..d() }).contains("bootstrap = 10000000"));
    assert!(err(Config { contour_points: 0, ..d() }).contains("contour_points = 0"));
    assert!(err(Config { contour_points: 1_000_000, ..d() }).contains("contour_points"));
    assert!(err(Config { offset_steps: 0.0, ..d() }).contains("offset_steps"));
    assert!(err(Config { offset_steps: f64::NAN, ..d() }).contains("offset_steps"));
    assert!(err(Config { slope_margin: -0.3, ..d() }).contains("slope_margin"));
    assert!(err(Config { slope_margin: 11.0, ..d() }).contains("slope_margin"));
    assert!(err(Config { min_seeds: 1, ..d() }).contains("min_seeds"));
    assert!(err(Config { skill_fraction: 1.5, ..d() }).contains("skill_fraction"));
    assert!(err(Config { gap_z: f64::INFINITY, ..d() }).contains("gap_z = inf"));
    // a set p0 or e0 that is not a finite number is an error, never "unset"
    for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -1.0, 1e300] {
        assert!(
            err(Config { p0: Some(v), ..d() })
                .starts_with(&format!("[prediction] p0 = {} ", crate::pipeline::shown(v))),
            "{v}"
        );
    }
    for v in [f64::NAN, f64::INFINITY, -1.5] {
        assert!(
            err(Config { e0: Some(v), ..d() })
                .starts_with(&format!("[prediction] e0 = {} ", crate::pipeline::shown(v))),
            "{v}"
        );
    }
    assert!(Config { p0: Some(1.0), e0: Some(0.3), ..d() }.check().is_ok());
}

/// A NaN or infinite p0 in a profile is read as a set value, and rejected.
#[test]
fn profile_p0_nan_is_rejected() {
    for v in ["nan", "inf", "-inf"] {
        let p = crate::stages::Profile::parse(&format!("name = \"x\"\n[prediction]\np0 = {v}\n"), "test").unwrap();
        let e = PredictionStage::new(p.prediction).err().expect("invalid").to_string();
        assert!(e.starts_with("[prediction] p0 = "), "{v}: {e}");
    }
}

/// The engine adapter against the exact ReLU FRN solution with zero biases (docs/theory.md §5):
/// $\ln(\chi^0/\chi^L) = L\ln(1 + \sigma_v^2\sigma_w^2/2)$ and $p^L = p^0(1 + \sigma_v^2\sigma_w^2/2)^L$,
/// at every requested depth of one recurrence.
#[test]
fn mean_field_adapter_matches_relu_closed_form() {
    let c = InitConfig {
        arch: Architecture::Full,
        act: Activation::Relu,
        sw2: 1.5,
        sv2: 0.8,
        sb2: 0.0,
        sa2: 0.0,
        p0: 0.9,
        e0: 0.3,
    };
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
    let r = MeanField.recommend(&c, l, Target::LogExplosion, g).unwrap();
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
            let mut p = point(ActName::Relu, l, 1.0, v, 0, 0.5 + 0.01 * v);
            p.diverged = div.contains(&v);
            if p.diverged {
                p.outcome = crate::nn::train::Outcome::Blowup;
            }
            pts.push(p);
        }
    }
    let runs: Vec<Run> = pts
        .iter()
        .map(|p| Run {
            depth: p.depth,
            variance: p.sv2,
            seed: p.seed,
            accuracy: p.test_acc.unwrap(),
            diverged: p.diverged,
        })
        .collect();
    let st = study::study(&runs, &|_, _| InitMetrics::undefined(), None, &StudyOptions::default()).unwrap();
    assert_eq!(divergence_boundary(&st), vec![(4, 2.0, 4.0), (8, 4.0, 8.0)]);
}

#[test]
fn axis_detection() {
    let a = point(ActName::Tanh, 4, 1.0, 0.5, 0, 0.5);
    let b = point(ActName::Tanh, 4, 1.0, 2.0, 0, 0.5);
    assert_eq!(Axis::detect(&[&a, &b]).unwrap(), Axis::Sv2 { sw2: 1.0 });
    let c = point(ActName::Tanh, 4, 2.0, 0.5, 0, 0.5);
    assert_eq!(Axis::detect(&[&a, &c]).unwrap(), Axis::Sw2 { sv2: 0.5 });
    let d = point(ActName::Tanh, 4, 2.0, 4.0, 0, 0.5);
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
        "outcome": "blowup", "outcome_step": 17, "initial_loss": 2.4, "log_pl_init": null});
    let art = |rows: Vec<serde_json::Value>| Artifact {
        tables: vec![crate::pipeline::DataTable {
            name: "training".into(),
            rows,
            json_key: None,
            extra: Default::default(),
        }],
        ..Artifact::default()
    };
    let p = &trained_points(&art(vec![row.clone()])).unwrap()[0];
    assert_eq!((p.depth, p.seed, p.test_acc, p.diverged, p.alpha), (10, 3, None, true, Some(0.75)));
    assert_eq!((p.act, p.epochs, p.train_subset, p.diverged_reason.as_deref()), (ActName::AlphaRelu, 2, 10000, None));
    let e = trained_points(&art(vec![row, json!({"arch": "full"})])).unwrap_err().to_string();
    assert!(e.starts_with("training table row 1: ") && e.contains("act"), "{e}");
    let e = trained_points(&Artifact::default()).unwrap_err().to_string();
    assert!(e.contains("no table 'training'"), "{e}");
}

#[test]
fn contour_levels_are_round_and_inside() {
    assert_eq!(contour_levels(&[0.3, 4.7]), vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(contour_levels(&[-12.0, 38.0, f64::NAN]), vec![-10.0, 0.0, 10.0, 20.0, 30.0]);
    assert!(contour_levels(&[1.0, 1.0]).is_empty());
}

/// The chapter's claims on the synthetic grid. Expected by construction: the tanh ridge has
/// slope -1 (sv2 L = 8) and the explosion is constant along it, while the null ln sv2 is not;
/// the predictor comparisons cannot separate metrics that are functions of one another here.
#[test]
fn claims_on_synthetic_grid() {
    let pts = synthetic_points();
    let cfg = Config { bootstrap: 50, contour_points: 8, ..Config::default() };
    let art = build(&pts, 1.0, 0.3, "given", &cfg, &FakeTheory, None).unwrap();
    let by_id = |id: &str| art.claims.iter().find(|c| c.id == id).unwrap();
    assert_eq!(by_id("C3a").status, ClaimStatus::Reproduced, "{:?}", by_id("C3a"));
    assert_eq!(by_id("C3b").status, ClaimStatus::Reproduced, "{:?}", by_id("C3b"));
    // on a grid at one sigma_w^2 the explosion, p^L and ln(v L) are all functions of v L here, so
    // the comparison cannot single out the explosion: inconclusive, and the ledger says why
    assert_eq!(by_id("C3c").status, ClaimStatus::Inconclusive, "{:?}", by_id("C3c"));
    assert!(by_id("C3c").measured.contains("nearly functions of each other"));
    // for zero-bias ReLU ln p^L and the explosion are the same quantity, and here both are
    // functions of ln s^L: they cannot be told apart
    assert_eq!(by_id("C3d").status, ClaimStatus::Inconclusive, "{:?}", by_id("C3d"));
    // e^L: in the tanh world it depends on depth only (no skill); in the ReLU world the closed
    // form 1 - e^L ~ 4/(r k L)^2 carries information about v and L, so C3e is not asserted.
    assert!(by_id("C3e").measured.contains("FRN tanh: skill of $e^L$"), "{:?}", by_id("C3e"));
    assert_eq!(by_id("C4a").status, ClaimStatus::Reproduced, "{:?}", by_id("C4a"));
    assert_eq!(by_id("C4b").status, ClaimStatus::Reproduced, "{:?}", by_id("C4b"));
    // the synthetic runs fail (as `nonfinite`) where ln p^L > 7, far below the float32 limit 88.72:
    // by the overflow criterion this is not overflow, so C3f is not reproduced
    assert_eq!(by_id("C3f").status, ClaimStatus::NotReproduced, "{:?}", by_id("C3f"));
    assert!(by_id("C3f").measured.contains("limit reached at none"));
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
    let pts = with_tanh_he();
    let trainer = FakeTrainer { points: pts.clone(), peak: 8.0, asked: Default::default() };
    let art = build(&pts, 1.0, 0.3, "the synthetic test inputs", &cfg, &FakeTheory, Some(&trainer)).unwrap();
    if let Ok(dir) = std::env::var("EOC_DUMP_FIGURES") {
        for f in &art.figures {
            std::fs::write(format!("{dir}/{}.svg", f.name), &f.svg).unwrap();
        }
    }
    let rec = StageRecord::computed(&PredictionStage::new(cfg.clone()).unwrap(), art);
    let info = crate::report::RunInfo::collect("quick", "", 1);
    let out = crate::report::render(&[rec], &info).unwrap();
    let md = &out.markdown;
    let start = md.find("## 6 Prediction").expect("chapter heading");
    let ch = &md[start..];
    if let Ok(path) = std::env::var("EOC_DUMP_CHAPTER") {
        std::fs::write(path, ch).unwrap();
    }
    for needle in [
        "### 6.1 Method",
        "### 6.6 What held",
        "**C3a**",
        "**C4b**",
        "FRN tanh",
        "prediction-heatmap-full-tanh",
        "prediction-ridge",
        "**At depths the grids never saw.**",
        "| FRN tanh (σw² = 1) | 48 | grid's best at nearest depth | 0.250 | 3 | 0 |",
    ] {
        assert!(ch.contains(needle), "missing {needle}");
    }
    assert!(!ch.contains("NaN"), "{ch}");
}

#[test]
fn too_few_depths_are_not_tested() {
    let pts: Vec<TrainingRow> = synthetic_points().into_iter().filter(|p| p.depth <= 8).collect();
    let cfg = Config { bootstrap: 20, contour_points: 6, ..Config::default() };
    let art = build(&pts, 1.0, 0.3, "given", &cfg, &FakeTheory, None).unwrap();
    for id in ["C3a", "C3b", "C3c", "C3d", "C3e"] {
        let c = art.claims.iter().find(|c| c.id == id).unwrap();
        assert_eq!(c.status, ClaimStatus::NotTested, "{c:?}");
        assert!(c.measured.contains("(need 3)"), "{c:?}");
    }
}

/// He trained at its true point (sw2 = sv2 = 2) beside a tanh grid at sw2 = 1: the runs are not a
/// grid of their own (nothing skipped, the grids unchanged) and C4a reads He there: a He accuracy
/// of 0.5 at L = 32 against a best cell near 0.95 gives a gap of about 0.45, computed by hand from
/// the synthetic rows.
#[test]
fn he_true_point_is_used_by_c4a() {
    let mut pts = synthetic_points();
    let n_groups = build(
        &pts,
        1.0,
        0.3,
        "given",
        &Config { bootstrap: 20, contour_points: 6, ..Config::default() },
        &FakeTheory,
        None,
    )
    .unwrap()
    .tables[1]
        .rows
        .len();
    for seed in 0..3 {
        pts.push(point(ActName::Tanh, 32, 2.0, 2.0, seed, 0.5));
    }
    let cfg = Config { bootstrap: 20, contour_points: 6, ..Config::default() };
    let a = analyze(&pts, 1.0, 0.3, &cfg, &FakeTheory);
    assert!(a.skipped.is_empty(), "{:?}", a.skipped);
    let tanh = a.groups.iter().find(|g| g.id == "full-tanh-sw1").expect("the sw2 = 1 grid");
    assert_eq!(tanh.true_points.iter().filter(|t| t.weight_variance == 2.0).count(), 1);
    let art = build(&pts, 1.0, 0.3, "given", &cfg, &FakeTheory, None).unwrap();
    assert_eq!(art.tables[1].rows.len(), n_groups);
    let c4a = art.claims.iter().find(|c| c.id == "C4a").unwrap();
    let best = tanh.study.ridge.iter().find(|r| r.point.depth == 32).unwrap().point.best_accuracy;
    let want = format!("He (true point) {}", super::compute::f3(best - 0.5));
    assert!(c4a.measured.contains(&want), "{} / {want}", c4a.measured);
}

/// A stand-in for training at held-out depths: the synthetic tanh world of [`synthetic_points`],
/// accuracy $0.1 + 0.85 e^{-u^2/2}$ with $u = \ln(\sigma_v^2\sigma_w^2 L / c)$ and the peak at
/// `c` (8 in that world), plus the seed jitter; it records every run it is asked for.
struct FakeTrainer {
    points: Vec<TrainingRow>,
    peak: f64,
    asked: std::sync::Mutex<Vec<held_out::HeldOutRun>>,
}

impl held_out::Trainer for FakeTrainer {
    fn train(&self, runs: &[held_out::HeldOutRun]) -> Result<Vec<Option<f64>>, crate::pipeline::StageError> {
        self.asked.lock().unwrap().extend(runs.iter().cloned());
        let jitter = [0.004, -0.006, 0.002];
        Ok(runs
            .iter()
            .map(|r| {
                assert_eq!(self.points[r.template].act, ActName::Tanh, "a template of the tanh grid");
                let u = (r.sv2 * r.sw2 * r.depth as f64 / self.peak).ln();
                Some(0.1 + 0.85 * (-0.5 * u * u).exp() + jitter[r.seed as usize % 3])
            })
            .collect())
    }
}

/// The synthetic grid with He trained at its true point at every depth of the tanh grid (Xavier,
/// sw2 = sv2 = 1, is on its axis), so that the tanh grid (alone: the ReLU grid lacks He) gets
/// held-out evaluations.
fn with_tanh_he() -> Vec<TrainingRow> {
    let mut pts = synthetic_points();
    for l in [4, 8, 16, 32] {
        for seed in 0..3 {
            let u = (4.0 * l as f64 / 8.0f64).ln();
            pts.push(point(ActName::Tanh, l, 2.0, 2.0, seed, 0.1 + 0.85 * (-0.5 * u * u).exp()));
        }
    }
    pts
}

/// C4c end to end on the synthetic world, against values worked out by hand from its
/// construction. At the held-out depths 24 and 48 (the grid has 4-32) the theory's bound is the
/// explosion on the ridge $\sigma_v^2 L = 8$, so the recommendation is $\sigma_v^2 = 8/L$ (the peak);
/// the nearest grid depth is 32 for both, whose best cell is $\sigma_v^2 = 0.25$ (accuracy at 24:
/// $u = \ln 0.75$, 0.916). Xavier ($u = \ln 3$: 0.565) and He ($u = \ln 12$: 0.139) are far
/// below: reproduced. In a world whose peak sits at Xavier instead ($c = L$), the same
/// recommendation loses to Xavier by far more than 2 se: not reproduced (the criterion can fail).
#[test]
fn held_out_depths_decide_c4c() {
    let pts = with_tanh_he();
    let cfg = Config { bootstrap: 20, contour_points: 6, held_out_depths: vec![24, 32, 48], ..Config::default() };
    let trainer = FakeTrainer { points: pts.clone(), peak: 8.0, asked: Default::default() };
    let art = build(&pts, 1.0, 0.3, "given", &cfg, &FakeTheory, Some(&trainer)).unwrap();
    let asked = trainer.asked.lock().unwrap().clone();
    // depth 32 is a grid depth: skipped; 2 depths x 4 initializations x 3 seeds, tanh only
    assert_eq!(asked.len(), 2 * 4 * 3, "{asked:?}");
    assert!(asked.iter().all(|r| r.depth == 24 || r.depth == 48));
    let table = art.tables.iter().find(|t| t.name == "held_out").expect("table held_out");
    assert_eq!(table.rows.len(), 24);
    let row = |d: usize, init: &str| {
        table.rows.iter().find(|r| r["depth"] == d && r["init"] == init && r["seed"] == 0).unwrap().clone()
    };
    let rec = row(24, "recommended")["sv2"].as_f64().unwrap();
    assert!((rec / (8.0 / 24.0) - 1.0).abs() < 0.15, "recommended sv2 {rec} vs 8/L = 0.333");
    assert_eq!(row(24, "grid_best")["sv2"], 0.25);
    assert_eq!((row(24, "xavier")["sw2"].as_f64(), row(24, "xavier")["sv2"].as_f64()), (Some(1.0), Some(1.0)));
    assert_eq!((row(48, "he")["sw2"].as_f64(), row(48, "he")["sv2"].as_f64()), (Some(2.0), Some(2.0)));
    let acc = |d: usize, init: &str| row(d, init)["test_acc"].as_f64().unwrap() - 0.004; // seed 0's jitter
    assert!((acc(24, "grid_best") - (0.1 + 0.85 * (-0.5 * 0.75f64.ln().powi(2)).exp())).abs() < 1e-12);
    assert!((acc(24, "xavier") - (0.1 + 0.85 * (-0.5 * 3f64.ln().powi(2)).exp())).abs() < 1e-12);
    let c4c = art.claims.iter().find(|c| c.id == "C4c").unwrap();
    assert_eq!(c4c.status, ClaimStatus::Reproduced, "{c4c:?}");
    // the tanh grid is split from the He runs at sw2 = 2, hence its label
    for d in [24, 48] {
        assert!(c4c.measured.contains(&format!("FRN tanh (σw² = 1) at $L = {d}$")), "{c4c:?}");
    }

    // the null: a world where Xavier is best at every depth
    let xavier_world = FakeTrainer { points: pts.clone(), peak: 24.0, asked: Default::default() };
    let cfg24 = Config { held_out_depths: vec![24], ..cfg.clone() };
    let art = build(&pts, 1.0, 0.3, "given", &cfg24, &FakeTheory, Some(&xavier_world)).unwrap();
    let c4c = art.claims.iter().find(|c| c.id == "C4c").unwrap();
    assert_eq!(c4c.status, ClaimStatus::NotReproduced, "{c4c:?}");

    // without a trainer (or without held-out depths) C4c is not tested
    let art = build(&pts, 1.0, 0.3, "given", &cfg, &FakeTheory, None).unwrap();
    assert_eq!(art.claims.iter().find(|c| c.id == "C4c").unwrap().status, ClaimStatus::NotTested);
    let none = Config { held_out_depths: vec![], ..cfg.clone() };
    let art = build(&pts, 1.0, 0.3, "given", &none, &FakeTheory, Some(&trainer)).unwrap();
    assert_eq!(art.claims.iter().find(|c| c.id == "C4c").unwrap().status, ClaimStatus::NotTested);
}

/// A vanilla baseline grid beside the residual ones is analysed (it has its own heatmap) but does
/// not enter the claims, which are about residual networks: the claims are those of the residual
/// grids alone.
#[test]
fn claims_judge_residual_grids_only() {
    let pts = synthetic_points();
    let cfg = Config { bootstrap: 20, contour_points: 6, ..Config::default() };
    let alone = build(&pts, 1.0, 0.3, "given", &cfg, &FakeTheory, None).unwrap();
    let mut with = pts.clone();
    for l in [4usize, 8, 16, 32] {
        for i in 0..5 {
            for seed in 0..3u64 {
                // a vanilla tanh grid over sigma_w^2 whose best cell is sigma_w^2 = 1 (Xavier)
                let sw2 = 0.25 * 2f64.powi(i);
                let mut p = point(ActName::Tanh, l, sw2, 0.0, seed, 0.9 - 0.1 * (sw2.ln()).abs());
                p.arch = Architecture::Vanilla;
                with.push(p);
            }
        }
    }
    let both = build(&with, 1.0, 0.3, "given", &cfg, &FakeTheory, None).unwrap();
    assert!(both.figures.len() > alone.figures.len(), "the vanilla grid is analysed and drawn");
    assert_eq!(both.claims, alone.claims);
}
