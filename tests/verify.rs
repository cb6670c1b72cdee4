//! `edge-of-chaos verify` end to end: the tiny profile's report is built in a temporary
//! directory, then a sample of its training points is re-trained on the same machine (bit-identical,
//! exit 0); a copy of the table with one published accuracy moved far beyond the tolerance fails
//! naming that point (exit 1); missing or malformed tables are invalid input (exit 2).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tiny_profile() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/profiles/tiny.toml")
}

fn eoc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_edge-of-chaos"))
        .current_dir(dir)
        .args(args)
        .env_remove("EOC_CACHE_DIR")
        .output()
        .expect("binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn verify(dir: &Path, extra: &[&str]) -> Output {
    let profile = tiny_profile();
    let mut args = vec!["verify", "--profile", profile.to_str().unwrap(), "--jobs", "1"];
    args.extend_from_slice(extra);
    eoc(dir, &args)
}

#[test]
fn verify_retrains_compares_and_fails_on_a_tampered_table() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let profile = tiny_profile();
    let o = eoc(d, &["report", "--profile", profile.to_str().unwrap(), "--jobs", "2"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let table_path = d.join("report/tiny/data/training.json");
    let table: Value = serde_json::from_str(&std::fs::read_to_string(&table_path).unwrap()).unwrap();
    let rows = table["points"].as_array().unwrap();
    assert!(rows.len() >= 4, "{} rows", rows.len());

    // The same machine, the same build: every sampled point is bit-identical.
    let o = verify(d, &["--sample", "2", "--seed", "1"]);
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{out}\n{}", text(&o.stderr));
    assert!(out.contains(&format!("sample: 2 of {} rows, seed 1 (repeat with --seed 1)", rows.len())), "{out}");
    assert_eq!(out.matches("  bit-identical (test_acc, train_acc, final_loss, outcome").count(), 2, "{out}");
    assert!(out.contains("result: 2 points re-trained, 2 within the tolerance, 2 bit-identical"), "{out}");
    assert!(out.contains("CPU features of this machine"), "{out}");
    assert!(text(&o.stderr).contains("re-training row"), "progress on stderr");
    // The same seed picks the same rows.
    let again = text(&verify(d, &["--sample", "2", "--seed", "1"]).stdout);
    let chosen = |s: &str| s.lines().find(|l| l.starts_with("sample:")).map(String::from);
    assert_eq!(chosen(&out), chosen(&again));

    // One published test accuracy moved by 0.3 (the tolerance of this single-seed table is
    // its floor 1/200): that point, and only it, differs.
    let i = rows.iter().position(|r| r["outcome"] == "trained").expect("a trained point");
    let mut tampered = table.clone();
    let acc = rows[i]["test_acc"].as_f64().unwrap();
    tampered["points"][i]["test_acc"] = Value::from(if acc > 0.5 { acc - 0.3 } else { acc + 0.3 });
    let copy = d.join("tampered.json");
    std::fs::write(&copy, serde_json::to_string_pretty(&tampered).unwrap()).unwrap();
    let o = verify(d, &["--from", copy.to_str().unwrap(), "--sample", "1000", "--seed", "3"]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(err.contains(&format!("1 of {} points differ", rows.len())), "{err}");
    assert!(err.contains(&format!("row {i} (")) && err.contains("> tolerance 0.0050"), "{err}");
    assert_eq!(out.matches("DIFFERS: ").count(), 1, "{out}");
    assert_eq!(out.matches("  bit-identical (").count(), rows.len() - 1, "{out}");

    // Invalid input: a missing file, a file that is not JSON, a malformed row.
    let o = verify(d, &["--from", "nowhere.json"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("cannot read the training table nowhere.json"), "{}", text(&o.stderr));
    std::fs::write(d.join("broken.json"), "{\"points\": [").unwrap();
    let o = verify(d, &["--from", "broken.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("broken.json is not a training table: not valid JSON"), "{}", text(&o.stderr));
    let mut bad = table.clone();
    bad["points"][1]["depth"] = Value::from("deep");
    std::fs::write(d.join("bad.json"), bad.to_string()).unwrap();
    let o = verify(d, &["--from", "bad.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("bad.json, row 1: field \"depth\""), "{}", text(&o.stderr));
}

#[test]
fn verify_help_states_the_tolerance_rule_and_the_cpu_caveat() {
    let o = eoc(Path::new("."), &["verify", "--help"]);
    let h = text(&o.stdout);
    assert!(o.status.success());
    for needle in ["max(4 sd, 1/test_subset)", "seed-to-seed standard deviation", "SIMD features", "--sample", "--seed"]
    {
        assert!(h.contains(needle), "verify --help lacks {needle:?}");
    }
    assert!(eoc(Path::new("."), &["verify", "--sample", "0"]).status.code() == Some(2));
}
