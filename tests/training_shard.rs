//! Sharded training gives the same points as one process: two shards into two cache directories,
//! merged with `cache merge`, hold exactly the points of an unsharded run, with the same results
//! (timings aside), and a `run training` on the merged cache trains nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_edge-of-chaos")
}

fn tiny() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/profiles/tiny.toml")
}

fn eoc(cache: &Path, args: &[&str]) -> String {
    eoc_with(&tiny(), cache, args)
}

fn eoc_with(profile: &Path, cache: &Path, args: &[&str]) -> String {
    let o = Command::new(bin())
        .args(["--profile", profile.to_str().unwrap(), "--jobs", "2", "--cache-dir", cache.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{args:?} failed:\n{err}");
    err
}

/// Every cached training point: key -> result JSON without wall-clock fields.
fn points(cache: &Path) -> BTreeMap<String, serde_json::Value> {
    entries(cache, "training/points")
}

/// Every cached entry of namespace `ns`: key -> JSON without wall-clock fields.
fn entries(cache: &Path, ns: &str) -> BTreeMap<String, serde_json::Value> {
    let dir = cache.join(ns);
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        let body = text.split_once('\n').unwrap().1;
        let mut v: serde_json::Value = serde_json::from_str(body).unwrap();
        strip_times(&mut v);
        out.insert(e.file_name().to_string_lossy().into_owned(), v);
    }
    out
}

fn strip_times(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for k in ["seconds", "samples_per_sec", "eval_seconds", "median_step_samples_per_sec"] {
                m.remove(k);
            }
            m.values_mut().for_each(strip_times);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_times),
        _ => {}
    }
}

#[test]
fn shards_merge_to_the_unsharded_result() {
    let whole = tempfile::tempdir().unwrap();
    eoc(whole.path(), &["run", "training"]);
    let expected = points(whole.path());
    assert_eq!(expected.len(), 8, "tiny grid: 2 depths x 4 variances (2 + Xavier + He)");

    let (s1, s2, merged) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    eoc(s1.path(), &["run", "training", "--shard", "1/2"]);
    eoc(s2.path(), &["run", "training", "--shard", "2/2"]);
    let (p1, p2) = (points(s1.path()), points(s2.path()));
    assert_eq!(p1.len() + p2.len(), 8);
    assert!(p1.keys().all(|k| !p2.contains_key(k)), "shards are disjoint");

    eoc(merged.path(), &["cache", "merge", s1.path().to_str().unwrap(), s2.path().to_str().unwrap()]);
    let err = eoc(merged.path(), &["run", "training"]);
    assert!(!err.contains("points to train"), "merged cache trains nothing:\n{err}");
    assert_eq!(points(merged.path()), expected, "identical results, one process or two shards");
}

/// Shards run one after another in one cache directory (how the published paper grid is built):
/// a shard reads the points the earlier shards stored, never takes them for corrupt, never
/// removes them, and together they give the unsharded result.
#[test]
fn shards_in_one_cache_keep_each_others_points() {
    let whole = tempfile::tempdir().unwrap();
    eoc(whole.path(), &["run", "training"]);
    let expected = points(whole.path());
    let shared = tempfile::tempdir().unwrap();
    eoc(shared.path(), &["run", "training", "--shard", "1/2"]);
    let first = points(shared.path());
    assert!(!first.is_empty() && first.len() < expected.len());
    let err = eoc(shared.path(), &["run", "training", "--shard", "2/2"]);
    assert!(!err.contains("corrupt"), "shard 2 read shard 1's points as corrupt:\n{err}");
    let both = points(shared.path());
    assert!(first.keys().all(|k| both.contains_key(k)), "shard 2 removed points of shard 1");
    assert_eq!(both, expected, "identical results, one process or two shards in one cache");
    let err = eoc(shared.path(), &["run", "training"]);
    assert!(!err.contains("points to train") && !err.contains("corrupt"), "{err}");
}

/// With `lr = "auto"` every shard runs the whole pilot first (cached, identical in every shard),
/// so the shards train their points at the same rate and merge to the unsharded result.
#[test]
fn shards_agree_on_the_pilot_rate() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(tiny()).unwrap().replace("lr = 0.05", "lr = \"auto\"");
    assert!(text.contains("lr = \"auto\""));
    let profile = dir.path().join("tiny-auto.toml");
    std::fs::write(&profile, text + "\n[training.pilot]\nrates = [0.01, 0.05]\ntrain_subset = 128\n").unwrap();
    let (whole, s1, s2) = (dir.path().join("whole"), dir.path().join("s1"), dir.path().join("s2"));
    eoc_with(&profile, &whole, &["run", "training"]);
    eoc_with(&profile, &s1, &["run", "training", "--shard", "1/2"]);
    eoc_with(&profile, &s2, &["run", "training", "--shard", "2/2"]);
    let pilot = entries(&whole, "training/pilot");
    assert_eq!(pilot.len(), 2, "2 rates x 1 seed");
    assert_eq!(entries(&s1, "training/pilot"), pilot, "shard 1 ran the whole pilot");
    assert_eq!(entries(&s2, "training/pilot"), pilot, "shard 2 ran the whole pilot");
    let (p1, p2) = (points(&s1), points(&s2));
    let mut both = p1.clone();
    both.extend(p2.clone());
    assert_eq!(p1.len() + p2.len(), both.len(), "shards are disjoint");
    assert_eq!(both, points(&whole), "the same points at the same rate");
}
