//! Unit tests of the dynamics stage (module path `stages::dynamics::tests`, which names the insta
//! snapshots).

use super::{build_artifact, cases, run_case, CaseResult, Config, Dynamics, TolKind};
use serde_json::{json, Value};

/// A small configuration runs, every case yields rows, and the table has the keys of the issue.
#[test]
fn small_config_produces_complete_artifact() {
    let cfg =
        Config { depth: 4000, vanilla_tanh_depth: 200, alphas: vec![0.75], continuum_depth: 1e12, ..Config::default() };
    let results: Vec<CaseResult> = cases(&cfg).iter().map(|c| run_case(&cfg, c).unwrap()).collect();
    let art = build_artifact(&cfg, &results).unwrap();
    let t = &art.tables[0];
    assert_eq!(t.name, "asymptotics");
    for k in ["arch", "act", "alpha", "quantity", "law", "theory", "measured", "depth", "abs_diff", "pass"] {
        assert!(t.rows.iter().all(|r| r.get(k).is_some()), "{k}");
    }
    assert!(t.rows.iter().all(|r| r["measured"].is_number()), "no NaN measurement");
    assert_eq!(art.claims.len(), 7);
    assert!(art.figures.iter().all(|f| f.name.starts_with("dynamics-") && f.svg.starts_with("<svg")));
    // The chapter renders: no template error, no LaTeX warning, every figure referenced.
    let record = crate::pipeline::StageRecord::computed(&Dynamics::new(cfg.clone()).unwrap(), art.clone());
    let info = crate::report::render::RunInfo {
        program_version: "test".into(),
        git_commit: None,
        profile: "quick".into(),
        profile_description: String::new(),
        threads: 1,
        generated_at: String::new(),
    };
    let rendered = crate::report::render::render(&[record], &info).unwrap();
    if let Ok(dir) = std::env::var("DYN_DUMP") {
        std::fs::write(format!("{dir}/dyn.md"), &rendered.markdown).unwrap();
        for f in &art.figures {
            std::fs::write(format!("{dir}/{}.svg", f.name), &f.svg).unwrap();
        }
    }
    assert!(rendered.warnings.is_empty(), "{:?}", rendered.warnings);
    assert!(rendered.markdown.contains("## 3 Dynamics"));
    assert_eq!(rendered.figures.len(), art.figures.len());
    assert!(!rendered.markdown.contains("NaN"));
    // The exact laws hold at any depth.
    for r in results.iter().flat_map(|r| &r.rows).filter(|r| r.tolerance_kind == TolKind::Rel && r.tolerance == 1e-9) {
        assert!(r.pass, "{r:?}");
    }
}

fn round_sig(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let m = 10f64.powi(digits - 1 - x.abs().log10().floor() as i32);
    (x * m).round() / m
}

/// Snapshot of the asymptotic-laws table at the quick profile (theory to 6 significant
/// digits, measurements to 4). The accepted snapshot was checked row by row against the
/// formulas of docs/theory.md §5 (see the theory column: 1 - 2/pi = 0.363380,
/// (8/3)/sqrt(2 pi) = 1.06385, ln 1.5 = 0.405465, 4/(k/3)^2 = 399.719, R(0.75) = 4.5, ...).
#[test]
fn asymptotic_laws_table_snapshot() {
    let cfg = Config::default();
    let rows: Vec<Value> = cases(&cfg)
        .iter()
        .flat_map(|c| run_case(&cfg, c).unwrap().rows)
        .map(|r| {
            json!({
                "case": r.label, "quantity": r.quantity,
                "theory": round_sig(r.theory, 6), "measured": round_sig(r.measured, 4),
                "measured_discrete": r.measured_discrete.map(|x| round_sig(x, 4)),
                "measured_continuum": r.measured_continuum.map(|x| round_sig(x, 4)),
                "tolerance": r.tolerance, "pass": r.pass,
            })
        })
        .collect();
    insta::assert_json_snapshot!("asymptotic_laws_quick", rows);
}

/// Every key of `[dynamics]` rejects what would panic, exhaust memory or run for hours, with the
/// key in the message; the quick and paper profiles pass.
#[test]
fn config_check_rejects_bad_values() {
    let base = Config::default();
    let nan = f64::NAN;
    let bad: Vec<(&str, Config)> = vec![
        ("depth", Config { depth: 0, ..base.clone() }),
        ("depth", Config { depth: 1, ..base.clone() }),
        ("depth", Config { depth: 99, ..base.clone() }),
        ("depth", Config { depth: 1_000_000_000_000, ..base.clone() }),
        ("vanilla_tanh_depth", Config { vanilla_tanh_depth: 1, ..base.clone() }),
        ("vanilla_tanh_depth", Config { vanilla_tanh_depth: 1_000_000_000_000, ..base.clone() }),
        ("alphas", Config { alphas: vec![], ..base.clone() }),
        ("alphas", Config { alphas: vec![0.75; 17], ..base.clone() }),
        ("alphas[0]", Config { alphas: vec![0.5], ..base.clone() }),
        ("alphas[0]", Config { alphas: vec![1.0], ..base.clone() }),
        ("alphas[1]", Config { alphas: vec![0.75, nan], ..base.clone() }),
        ("alphas[1]", Config { alphas: vec![0.75, 0.75], ..base.clone() }),
        ("sw2", Config { sw2: 0.0, ..base.clone() }),
        ("sw2", Config { sw2: 1e8, ..base.clone() }),
        ("sv2", Config { sv2: nan, ..base.clone() }),
        ("sv2", Config { sv2: 0.01, ..base.clone() }),
        ("rrn_sw2", Config { rrn_sw2: -1.0, ..base.clone() }),
        ("tanh_sa2", Config { tanh_sa2: -0.5, ..base.clone() }),
        ("tanh_sa2", Config { tanh_sa2: 10.0, ..base.clone() }),
        ("tanh_sa2", Config { tanh_sa2: f64::INFINITY, ..base.clone() }),
        ("vanilla_tanh_sw2", Config { vanilla_tanh_sw2: 0.0, ..base.clone() }),
        ("vanilla_tanh_sb2", Config { vanilla_tanh_sb2: -1.0, ..base.clone() }),
        ("vanilla_tanh_sw2", Config { vanilla_tanh_sw2: 1.0, vanilla_tanh_sb2: 0.0, ..base.clone() }),
        ("vanilla_relu_sw2", Config { vanilla_relu_sw2: nan, ..base.clone() }),
        ("p0", Config { p0: 0.0, ..base.clone() }),
        ("p0", Config { p0: f64::INFINITY, ..base.clone() }),
        ("e0", Config { e0: 1.0, ..base.clone() }),
        ("e0", Config { e0: -1.0, ..base.clone() }),
        ("e0", Config { e0: nan, ..base.clone() }),
        ("per_decade", Config { per_decade: 0, ..base.clone() }),
        ("per_decade", Config { per_decade: 1_000_000_000, ..base.clone() }),
        ("continuum_depth", Config { continuum_depth: 0.0, ..base.clone() }),
        ("continuum_depth", Config { continuum_depth: -1.0, ..base.clone() }),
        ("continuum_depth", Config { continuum_depth: nan, ..base.clone() }),
        ("continuum_depth", Config { continuum_depth: f64::INFINITY, ..base.clone() }),
        ("continuum_depth", Config { continuum_depth: 1e5, ..base.clone() }),
        ("continuum_depth", Config { depth: 10_000_000, continuum_depth: 1e7, ..base.clone() }),
        ("tanh_continuum_depth", Config { tanh_continuum_depth: nan, ..base.clone() }),
        ("tanh_continuum_depth", Config { tanh_continuum_depth: -5.0, ..base.clone() }),
        ("tanh_continuum_depth", Config { tanh_continuum_depth: 1e300, ..base.clone() }),
    ];
    for (key, cfg) in bad {
        let e = cfg.check().expect_err(key);
        assert_eq!((e.section.as_str(), e.key.as_str()), ("dynamics", key), "{e}");
        assert!(e.to_string().starts_with(&format!("[dynamics] {key} = ")), "{e}");
        assert!(Dynamics::new(cfg).is_err());
    }
    for name in ["quick", "paper"] {
        let p = crate::stages::Profile::load(name).unwrap();
        p.dynamics.check().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let edges = [
        Config {
            depth: 100,
            vanilla_tanh_depth: 10,
            per_decade: 1,
            continuum_depth: 1e3,
            tanh_continuum_depth: 1e3,
            ..base.clone()
        },
        Config { alphas: vec![0.501, 0.99], sw2: 0.5, sv2: 0.5, tanh_sa2: 0.5, e0: -0.99, p0: 1e-3, ..base.clone() },
        Config { tanh_sa2: 0.0, vanilla_tanh_sb2: 0.0, e0: 0.99, p0: 1e3, continuum_depth: 1e100, ..base.clone() },
    ];
    for cfg in edges {
        cfg.check().unwrap();
    }
}

/// A case of a configuration that skipped the checks fails with an error, not a panic (the
/// layers $L/100$ and $L/4$ of a depth-1 net do not exist).
#[test]
fn unchecked_tiny_depth_is_an_error() {
    let cfg = Config { depth: 1, alphas: vec![0.75], ..Config::default() };
    for case in cases(&cfg).iter().filter(|c| c.label == "FRN tanh" || c.label == "FRN α-ReLU, α = 0.75") {
        assert!(run_case(&cfg, case).is_err(), "{}", case.label);
    }
}
