//! Reliability of the command line, end to end:
//!
//! - results are bit-identical however they were produced: fresh, from a warm cache, resumed after
//!   a kill, with `--jobs 1` or `--jobs 2`, or from two shards merged with `cache merge`
//!   (every file of `--out/data` compared byte for byte, except the run facts and Appendix B's
//!   timings, and the wall-clock fields listed in [`VOLATILE_KEYS`]);
//! - the report directory is replaced as a unit: killed at any moment while rendering, `--out` is
//!   entirely the old report or entirely the new one, and the next run leaves no temporary
//!   directory; concurrent runs on one cache or one report directory wait for each other.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Data files that hold the run's facts and timings, not results (not compared).
const EXCLUDED_STEMS: &[&str] = &["reproducibility", "performance"];

/// Keys (JSON object keys and CSV columns) of wall-clock times and throughput that a result file
/// may hold; they would be removed before comparing. Timings are kept out of the data files (only
/// reproducibility.json and performance.json hold them), so the list is empty and every other
/// file is compared byte for byte.
const VOLATILE_KEYS: &[&str] = &[];

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_edge-of-chaos")
}

fn tiny() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/profiles/tiny.toml")
}

/// The tiny profile with `edits` (line prefix → replacement line) applied, written into `dir`.
fn variant(dir: &Path, file: &str, edits: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(tiny()).unwrap();
    for (from, to) in edits {
        let line = text
            .lines()
            .find(|l| l.starts_with(from))
            .unwrap_or_else(|| panic!("tiny.toml has no line '{from}'"))
            .to_string();
        text = text.replacen(&line, to, 1);
    }
    let p = dir.join(file);
    std::fs::write(&p, text).unwrap();
    p
}

/// tiny with a training grid heavy enough (about a second) for a kill to land in its middle.
fn heavier_training(dir: &Path) -> PathBuf {
    variant(
        dir,
        "heavier.toml",
        &[("width = 8", "width = 128"), ("train_subset = 256", "train_subset = 4096"), ("epochs = 1", "epochs = 2")],
    )
}

fn command(dir: &Path, profile: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.current_dir(dir).arg("--profile").arg(profile).args(args).env_remove("EOC_CACHE_DIR");
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs the binary to success; returns its stderr.
fn ok(dir: &Path, profile: &Path, args: &[&str]) -> String {
    let o = command(dir, profile, args).output().expect("binary runs");
    assert!(o.status.success(), "{args:?} failed:\n{}", stderr(&o));
    stderr(&o)
}

fn spawn(dir: &Path, profile: &Path, args: &[&str]) -> Child {
    command(dir, profile, args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("binary starts")
}

/// Splits CSV text into rows of fields (RFC 4180 quoting).
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => field.push(c),
        }
    }
    rows
}

fn strip_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for k in VOLATILE_KEYS {
                m.remove(*k);
            }
            m.values_mut().for_each(strip_json);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_json),
        _ => {}
    }
}

/// Every compared file of `out/data`: its bytes, or, if it holds a volatile key, its content with
/// those keys (JSON) or columns (CSV) removed.
fn data(out: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for e in std::fs::read_dir(out.join("data")).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let stem = name.split('.').next().unwrap_or_default();
        if EXCLUDED_STEMS.contains(&stem) {
            continue;
        }
        let bytes = std::fs::read(e.path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let volatile = VOLATILE_KEYS.iter().any(|k| {
            text.contains(&format!("\"{k}\"")) || text.lines().next().is_some_and(|h| h.split(',').any(|c| c == *k))
        });
        let normalized = if !volatile {
            bytes
        } else if name.ends_with(".json") {
            let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            strip_json(&mut v);
            serde_json::to_vec_pretty(&v).unwrap()
        } else {
            let rows = csv_rows(&text);
            let keep: Vec<usize> =
                (0..rows[0].len()).filter(|&i| !VOLATILE_KEYS.contains(&rows[0][i].as_str())).collect();
            rows.iter()
                .map(|r| {
                    keep.iter().map(|&i| r.get(i).cloned().unwrap_or_default()).collect::<Vec<_>>().join(",") + "\n"
                })
                .collect::<String>()
                .into_bytes()
        };
        files.insert(name, normalized);
    }
    files
}

/// Asserts that two reports hold the same data files with the same content.
fn assert_same_data(what: &str, expected: &BTreeMap<String, Vec<u8>>, out: &Path) {
    let found = data(out);
    assert_eq!(expected.keys().collect::<Vec<_>>(), found.keys().collect::<Vec<_>>(), "{what}: the data files differ");
    for (name, bytes) in expected {
        if &found[name] != bytes {
            let (a, b) = (String::from_utf8_lossy(bytes), String::from_utf8_lossy(&found[name]));
            let line = a.lines().zip(b.lines()).position(|(x, y)| x != y).unwrap_or(0);
            panic!(
                "{what}: data/{name} differs from the fresh run, first at line {}:\n  fresh: {}\n  {what}: {}",
                line + 1,
                a.lines().nth(line).unwrap_or(""),
                b.lines().nth(line).unwrap_or("")
            );
        }
    }
}

/// Temporary files or directories (names with `.tmp-` or `.old-`) below `dir`.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.contains(".tmp-") || name.contains(".old-") {
                found.push(e.path());
            } else if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
    found
}

fn point_files(cache: &Path) -> usize {
    std::fs::read_dir(cache.join("training/points"))
        .map(|rd| {
            rd.flatten()
                .filter(|e| {
                    e.file_name().to_string_lossy().ends_with(".json")
                        && !e.file_name().to_string_lossy().starts_with('.')
                })
                .count()
        })
        .unwrap_or(0)
}

/// Starts `run training` on `cache` and kills it as soon as the first training point is cached.
/// Returns how many points the killed run left in the cache.
fn run_training_and_kill(dir: &Path, profile: &Path, cache: &Path) -> usize {
    let mut child = spawn(dir, profile, &["--jobs", "2", "--cache-dir", cache.to_str().unwrap(), "run", "training"]);
    let t0 = Instant::now();
    while point_files(cache) == 0 && child.try_wait().unwrap().is_none() && t0.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    child.wait().unwrap();
    point_files(cache)
}

#[test]
fn results_are_bit_identical_fresh_warm_resumed_jobs_and_sharded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = tiny();
    let report = |cache: &str, out: &str, extra: &[&str]| {
        let mut args = vec!["--cache-dir", cache, "--out", out];
        args.extend_from_slice(extra);
        args.push("report");
        ok(d, &p, &args)
    };

    // Fresh, with the default number of threads.
    report("c-fresh", "fresh", &[]);
    let fresh = data(&d.join("fresh"));
    assert!(fresh.contains_key("training.json") && fresh.contains_key("simulations.json"), "{:?}", fresh.keys());

    // Warm: everything read back from the cache.
    let err = report("c-fresh", "warm", &[]);
    assert!(!err.contains(": computing ("), "the warm run recomputed something:\n{err}");
    assert_same_data("warm", &fresh, &d.join("warm"));

    for jobs in ["1", "2"] {
        report(&format!("c-j{jobs}"), &format!("j{jobs}"), &["--jobs", jobs]);
        assert_same_data(&format!("--jobs {jobs}"), &fresh, &d.join(format!("j{jobs}")));
    }

    // Two shards in two caches, merged, then the report.
    ok(d, &p, &["--cache-dir", "c-s1", "run", "training", "--shard", "1/2"]);
    ok(d, &p, &["--cache-dir", "c-s2", "run", "training", "--shard", "2/2"]);
    ok(d, &p, &["--cache-dir", "c-merged", "cache", "merge", "c-s1", "c-s2"]);
    let err = report("c-merged", "sharded", &[]);
    assert!(!err.contains("points to train"), "the merged shards hold every point:\n{err}");
    assert_same_data("sharded", &fresh, &d.join("sharded"));

    for c in ["c-fresh", "c-j1", "c-j2", "c-s1", "c-s2", "c-merged"] {
        assert_eq!(temporaries(&d.join(c)), Vec::<PathBuf>::new(), "temporary files left in {c}");
    }
}

#[test]
fn a_run_killed_during_training_resumes_to_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = heavier_training(d);
    ok(d, &p, &["--jobs", "2", "--cache-dir", "c-fresh", "--out", "fresh", "report"]);
    let fresh = data(&d.join("fresh"));

    // Kill as soon as the first points are cached (again on a new cache if the kill came after
    // the last point: the grid takes about a second, the poll a millisecond).
    let mut attempt = 0;
    let cache = loop {
        let cache = d.join(format!("c-killed-{attempt}"));
        let left = run_training_and_kill(d, &p, &cache);
        if (1..8).contains(&left) {
            break cache;
        }
        attempt += 1;
        assert!(attempt < 10, "no kill landed in the middle of the training grid ({left} of 8 points left)");
    };
    let err = ok(d, &p, &["--jobs", "2", "--cache-dir", cache.to_str().unwrap(), "--out", "resumed", "-v", "report"]);
    assert!(err.contains("tasks cached, computing"), "the rerun resumed from the cached points:\n{err}");
    assert_same_data("resumed", &fresh, &d.join("resumed"));
    assert_eq!(temporaries(&cache), Vec::<PathBuf>::new(), "the rerun removed the killed run's temporary files");
}

#[test]
fn concurrent_runs_on_one_cache_wait_for_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = heavier_training(d);
    let args = ["--jobs", "1", "--cache-dir", "c", "run", "training"];
    let a = command(d, &p, &args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let b = command(d, &p, &args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success(), "{}\n{}", stderr(&a), stderr(&b));
    let (ea, eb) = (stderr(&a), stderr(&b));
    let waited = |e: &str| e.contains("waiting for the lock held by another edge-of-chaos") && e.contains(" on c");
    assert!(waited(&ea) || waited(&eb), "one run waited for the other:\n{ea}\n---\n{eb}");
    // The one that waited found the other's points: the grid was trained once.
    let trained = [&ea, &eb].iter().filter(|e| e.contains("points to train")).count();
    assert_eq!(trained, 1, "{ea}\n---\n{eb}");
}

/// The profile named in each of the report's main files, if they agree.
fn report_profile(out: &Path) -> Result<String, String> {
    let name = |text: &str| {
        if text.contains("tiny-b") {
            "tiny-b"
        } else if text.contains("tiny") {
            "tiny"
        } else {
            "none"
        }
    };
    let read = |f: &str| std::fs::read_to_string(out.join(f)).map_err(|e| format!("{f}: {e}"));
    let names = [name(&read("index.html")?), name(&read("report.md")?), name(&read("data/reproducibility.json")?)];
    if names.iter().all(|n| *n == names[0]) && names[0] != "none" {
        Ok(names[0].to_string())
    } else {
        Err(format!("index.html, report.md and data/reproducibility.json name the profiles {names:?}"))
    }
}

fn listing(out: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                files.push(e.path().strip_prefix(out).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    files.sort();
    files
}

#[test]
fn a_report_killed_while_rendering_leaves_the_old_or_the_new_report_whole() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let a = tiny();
    let b = variant(d, "tiny-b.toml", &[("name = \"tiny\"", "name = \"tiny-b\"")]);
    let out = d.join("report");
    // Both profiles share every stage (a profile's name is not part of any key): after A, both
    // only render.
    ok(d, &a, &["--jobs", "2", "--out", "report", "report"]);
    let files = listing(&out);
    assert_eq!(report_profile(&out), Ok("tiny".to_string()));

    let (mut seen_new, mut cut_while_writing) = (0, 0);
    for (i, delay_ms) in
        [0u64, 2, 5, 10, 20, 30, 45, 60, 80, 100, 130, 160, 200, 250, 300, 400, 600].into_iter().enumerate()
    {
        let before = report_profile(&out).unwrap();
        let (next, profile) = if before == "tiny" { ("tiny-b", &b) } else { ("tiny", &a) };
        let mut child = spawn(d, profile, &["--jobs", "2", "--out", "report", "report"]);
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        child.wait().unwrap();
        let after =
            report_profile(&out).unwrap_or_else(|e| panic!("kill {i} after {delay_ms} ms left a mixed report: {e}"));
        assert!(after == before || after == next, "kill {i}: {after}");
        assert_eq!(
            listing(&out),
            files,
            "kill {i} after {delay_ms} ms: the report's files differ from a complete report"
        );
        seen_new += usize::from(after == next);
        cut_while_writing += usize::from(
            std::fs::read_dir(d)
                .unwrap()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(".report.tmp-")),
        );
    }
    eprintln!("of 17 killed renders, {cut_while_writing} were cut while writing, {seen_new} had completed their swap");

    // Two reports at once, of different profiles, into one directory: one waits for the other.
    let (x, y) = (
        spawn(d, &a, &["--jobs", "2", "--out", "report", "report"]),
        spawn(d, &b, &["--jobs", "2", "--out", "report", "report"]),
    );
    let (x, y) = (x.wait_with_output().unwrap(), y.wait_with_output().unwrap());
    assert!(x.status.success() && y.status.success());
    assert!(report_profile(&out).is_ok());
    assert_eq!(listing(&out), files);

    // The next successful run leaves no temporary directory, in the cache or beside the report.
    ok(d, &b, &["--jobs", "2", "--out", "report", "report"]);
    assert_eq!(report_profile(&out), Ok("tiny-b".to_string()));
    assert_eq!(temporaries(d), Vec::<PathBuf>::new());
}

#[cfg(unix)]
#[test]
fn cache_merge_never_follows_symbolic_links() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = tiny();
    ok(d, &p, &["--cache-dir", "src", "run", "identities"]);
    // A loop: a link to the directory itself, deep inside it.
    std::os::unix::fs::symlink(d.join("src"), d.join("src/stages/loop")).unwrap();
    let err = ok(d, &p, &["--cache-dir", "dst", "cache", "merge", "src"]);
    assert!(err.contains("symbolic link") && err.contains("loop"), "{err}");
    assert!(!d.join("dst/stages/loop").exists());
    let err = ok(d, &p, &["--cache-dir", "dst", "run", "identities"]);
    assert!(err.contains("identities: cached"), "{err}");
}
