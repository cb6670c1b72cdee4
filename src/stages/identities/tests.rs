//! Unit tests of the identities stage (module path `stages::identities::tests`, which names the
//! insta snapshots).

use super::compute::{check_derivative_fd, check_w_against_quadrature, w_monte_carlo, Checker, TOL_QUAD};
use super::{artifact, compute, Config, Criterion};
use crate::math::kernels::alpha_relu_w;
use crate::pipeline::ClaimStatus;
use serde_json::json;
use std::f64::consts::PI;

fn small() -> Config {
    Config { mc_samples: 20_000, c_points: 3, seed: 7, tanh_q_max: 1e4, eps_points: 11 }
}

#[test]
fn checker_flags_a_wrong_closed_form() {
    let cs = [-0.5, 0.0, 0.7];
    // correct closed form passes
    let ok = check_w_against_quadrature("t", "", "", alpha_relu_w, &[0.75, 1.5], &cs, Criterion::Rel, TOL_QUAD);
    assert!(ok.pass, "{ok:?}");
    // a closed form off by a relative 1e-8 (e.g. a wrong constant) fails
    let wrong = check_w_against_quadrature(
        "t",
        "",
        "",
        |a, c| Ok(alpha_relu_w(a, c)? * (1.0 + 1e-8)),
        &[0.75],
        &cs,
        Criterion::Rel,
        TOL_QUAD,
    );
    assert!(!wrong.pass && wrong.max_rel_err > 5e-9, "{wrong:?}");
    // a plausible slip in the paper's form: Gamma(a/2)^2 instead of Gamma(a/2 + 1)^2 in the
    // second term; it fails clearly
    let slip = check_w_against_quadrature(
        "t",
        "",
        "",
        |a, c| {
            let g = crate::math::special::gamma;
            let f1 = crate::math::special::hyp2f1(-a / 2.0, -a / 2.0, 0.5, c * c)?;
            let f2 = crate::math::special::hyp2f1((1.0 - a) / 2.0, (1.0 - a) / 2.0, 1.5, c * c)?;
            Ok(2f64.powf(a) / (4.0 * PI) * (g((a + 1.0) / 2.0).powi(2) * f1 + 2.0 * c * g(a / 2.0).powi(2) * f2))
        },
        &[1.5],
        &cs,
        Criterion::Rel,
        TOL_QUAD,
    );
    assert!(!slip.pass);
}

#[test]
fn checker_flags_a_wrong_derivative_identity() {
    let cs = [-0.5, 0.0, 0.5];
    let good = check_derivative_fd("t", "", |a, c| Ok(a * a * alpha_relu_w(a - 1.0, c)?), &[0.75, 1.5], &cs);
    assert!(good.pass, "{good:?}");
    // dW/dc = a W_{a-1} (missing a square) must fail
    let bad = check_derivative_fd("t", "", |a, c| Ok(a * alpha_relu_w(a - 1.0, c)?), &[0.75, 1.5], &cs);
    assert!(!bad.pass);
}

#[test]
fn checker_semantics() {
    let mut c = Checker::new("x", "", String::new(), "", Criterion::Sigma, 4.0);
    c.add_se(1.0, 1.1, Some(0.05), || "a".into());
    let r = c.finish();
    assert!(r.pass && (r.max_sigma.unwrap() - 2.0).abs() < 1e-12);
    let mut c = Checker::new("x", "", String::new(), "", Criterion::Sigma, 4.0);
    c.add_se(1.0, 1.5, Some(0.05), || "b".into());
    assert!(!c.finish().pass);
    let mut c = Checker::new("x", "", String::new(), "", Criterion::Rel, 1e-10);
    c.add(f64::NAN, 1.0, || "nan".into());
    assert!(!c.finish().pass);
    let c = Checker::new("x", "", String::new(), "", Criterion::Rel, 1e-10);
    assert!(!c.finish().pass, "a row without comparisons cannot pass");
}

#[test]
fn monte_carlo_standard_error_is_honest() {
    // MC of W_0(0) = 1/4 = P(z > 0, z' > 0): the s.e. must be sqrt(p(1-p)/n).
    let n = 40_000;
    let r = w_monte_carlo(&[0.0], &[0.0], n, 1);
    let (m, se) = r[0][0];
    assert!((se - (0.25f64 * 0.75 / n as f64).sqrt()).abs() < 1e-4);
    assert!((m - 0.25).abs() < 4.0 * se);
}

/// Snapshot of the identities table at a small configuration, with errors floored to decades
/// so that it is stable across platforms. Reviewed against the independent checks: every row
/// passes, and the error magnitudes are what the methods can deliver.
#[test]
fn identities_table_snapshot() {
    let res = compute(&small()).unwrap();
    let decade = |x: f64| {
        if x == 0.0 {
            "0".to_string()
        } else if x.is_finite() {
            format!("1e{}", x.log10().floor() as i32)
        } else {
            "inf".into()
        }
    };
    let rows: Vec<serde_json::Value> = res
        .rows
        .iter()
        .map(|r| {
            let measured = match r.criterion {
                Criterion::Rel => r.max_rel_err,
                Criterion::Abs => r.max_abs_err,
                Criterion::Sigma => r.max_sigma.unwrap_or(f64::NAN),
            };
            json!({"id": r.id, "criterion": r.criterion, "tolerance": r.tolerance, "n": r.n, "pass": r.pass,
                   "measured_decade": if r.criterion == Criterion::Sigma { format!("< {:.0} s.e.", measured.ceil()) } else { decade(measured) }})
        })
        .collect();
    insta::assert_json_snapshot!("identities_table", rows);
    let art = artifact(&res).unwrap();
    assert!(art.figures.iter().all(|f| f.svg.contains("<svg") && f.svg.contains("<text")));
    assert_eq!(art.claims.len(), 4);
    assert!(art.claims.iter().all(|c| c.status == ClaimStatus::Reproduced), "{:?}", art.claims);
}

/// Every key of `[identities]` rejects what would panic, exhaust memory or run for hours, with
/// the key in the message; the quick and paper profiles pass.
#[test]
fn config_check_rejects_bad_values() {
    let base = Config::default();
    let bad: Vec<(&str, Config)> = vec![
        ("mc_samples", Config { mc_samples: 0, ..base.clone() }),
        ("mc_samples", Config { mc_samples: 1, ..base.clone() }),
        ("mc_samples", Config { mc_samples: 1_000_000_000_000, ..base.clone() }),
        ("mc_samples", Config { mc_samples: 100_000_000, c_points: 1000, ..base.clone() }),
        ("c_points", Config { c_points: 0, ..base.clone() }),
        ("c_points", Config { c_points: 1_000_000_000, ..base.clone() }),
        ("tanh_q_max", Config { tanh_q_max: 1e308, ..base.clone() }),
        ("tanh_q_max", Config { tanh_q_max: f64::NAN, ..base.clone() }),
        ("tanh_q_max", Config { tanh_q_max: f64::INFINITY, ..base.clone() }),
        ("tanh_q_max", Config { tanh_q_max: -1.0, ..base.clone() }),
        ("tanh_q_max", Config { tanh_q_max: 100.0, ..base.clone() }),
        ("eps_points", Config { eps_points: 0, ..base.clone() }),
        ("eps_points", Config { eps_points: 2, ..base.clone() }),
        ("eps_points", Config { eps_points: 1_000_000_000, ..base.clone() }),
    ];
    for (key, cfg) in bad {
        let e = cfg.check().expect_err(key);
        assert_eq!((e.section.as_str(), e.key.as_str()), ("identities", key), "{e}");
        assert!(e.to_string().starts_with(&format!("[identities] {key} = ")), "{e}");
        assert!(super::IdentitiesStage::new(cfg).is_err());
    }
    for name in ["quick", "paper"] {
        let p = crate::stages::Profile::load(name).unwrap();
        p.identities.check().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let edges = [
        Config { mc_samples: 2, c_points: 1, tanh_q_max: 1e3, eps_points: 3, ..base.clone() },
        Config { seed: u64::MAX, ..base.clone() },
        Config { mc_samples: 100_000_000, c_points: 36, tanh_q_max: 1e12, eps_points: 10_000, ..base.clone() },
        Config { mc_samples: 3_000_000, c_points: 1000, ..base.clone() },
    ];
    for cfg in edges {
        cfg.check().unwrap();
    }
}

/// An unchecked configuration given to `compute` is an error, not a panic.
#[test]
fn compute_checks_its_configuration() {
    let cfg = Config { eps_points: 0, ..small() };
    assert!(matches!(compute(&cfg), Err(crate::pipeline::StageError::Config(_))));
}
