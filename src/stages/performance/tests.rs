use super::compute::{median, probe_square_gflops};
use super::config::limits;
use super::*;
use faer::Par;

/// The built-in profiles and the integration tests' tiny profile pass the check.
#[test]
fn profiles_pass_the_check() {
    Config::default().check().unwrap();
    for name in ["quick", "paper"] {
        crate::stages::Profile::load(name).unwrap().performance.check().unwrap();
    }
    let tiny = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/profiles/tiny.toml");
    crate::stages::Profile::load(tiny).unwrap().performance.check().unwrap();
}

/// Every key rejects zero and sizes that would not fit or not finish, naming the key.
#[test]
fn check_rejects_bad_values_naming_the_key() {
    let bad = |f: &dyn Fn(&mut Config), key: &str| {
        let mut cfg = Config::default();
        f(&mut cfg);
        let e = cfg.check().expect_err(key).to_string();
        assert!(e.starts_with(&format!("[performance] {key} = ")), "{key}: {e}");
    };
    for v in [0, limits::MAX_REPEATS + 1, usize::MAX] {
        bad(&|c| c.repeats = v, "repeats");
    }
    for v in [0, 60_001, usize::MAX] {
        bad(&|c| c.train_subset = v, "train_subset");
    }
    for v in [0, 1_000_000] {
        bad(&|c| c.threads = v, "threads");
    }
    for v in [0, 1, limits::MAX_BIG_N + 1, 1_000_000, usize::MAX] {
        bad(&|c| c.big_n = v, "big_n");
    }
    let e = Config { big_n: 1_000_000, ..Config::default() }.check().unwrap_err().to_string();
    assert_eq!(e, "[performance] big_n = 1000000 is invalid (valid: an integer from 16 to 8192)");
    assert!(PerformanceStage::new(Config { repeats: 0, ..Config::default() }).is_err());
}

/// The square probe measures a positive throughput, and a size that cannot be allocated is an
/// error, not an abort.
#[test]
fn square_probe_allocates_fallibly() {
    let g = probe_square_gflops(64, 2, Par::Seq).unwrap();
    assert!(g.is_finite() && g > 0.0, "{g}");
    let e = probe_square_gflops(1 << 40, 1, Par::Seq).unwrap_err().to_string();
    assert!(e.contains("cannot allocate"), "{e}");
}

#[test]
fn median_of_odd_even_and_empty() {
    assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    assert!(median(&[]).is_nan());
}

/// The appendix decides no claim and draws no figure.
#[test]
fn no_claims_no_figures() {
    assert!(claims::claims().is_empty());
    assert!(figures::figures().is_empty());
}
