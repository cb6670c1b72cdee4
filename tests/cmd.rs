//! The commands as a user runs them: options per command, exit statuses (0 success, 1 failure,
//! 2 invalid input, with one message), and the inputs that used to panic, abort or hang, each of
//! which must now end quickly with a message.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_edge-of-chaos")
}

fn tiny() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/profiles/tiny.toml").to_string_lossy().into_owned()
}

/// Runs the binary in `dir` and fails the test if it takes longer than `limit` (a hang).
fn eoc_in(dir: &Path, args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(bin())
        .current_dir(dir)
        .args(args)
        .env_remove("EOC_CACHE_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    let start = Instant::now();
    while child.try_wait().expect("waits").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("{args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn eoc(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    eoc_in(dir.path(), args, Duration::from_secs(60))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Exit status `code`, one error message containing every needle, no panic.
fn fails(o: &Output, code: i32, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "one message: {err}");
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "{err}");
    for n in needles {
        assert!(err.contains(n), "missing {n:?} in: {err}");
    }
}

#[test]
fn alpha_relu_with_a_huge_alpha_is_refused_not_a_panic_or_a_hang() {
    // 2000 made the hypergeometric series diverge (a panic), 1e308 made it endless.
    for alpha in ["2000", "1e308", "50.5", "0", "nan"] {
        let o = eoc(&["meanfield", "--act", "alpha-relu", "--alpha", alpha, "--depth", "1"]);
        fails(&o, 2, &["alpha = ", "0 < alpha <= 50"]);
    }
    let o = eoc(&["init", "--act", "alpha-relu", "--alpha", "1e308", "--depth", "3"]);
    fails(&o, 2, &["0 < alpha <= 50"]);
    let o = eoc(&["meanfield", "--act", "alpha-relu", "--alpha", "50", "--depth", "1", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["layers"][0]["l"], 1);
}

#[test]
fn a_training_run_that_cannot_fit_in_memory_is_refused() {
    let o = eoc(&["train", "--width", "16384", "--depth", "1000", "--train-subset", "100"]);
    fails(&o, 2, &["width = 16384, depth = 1000, batch = 128", "TB", "limit of 8.0 GB"]);
}

#[test]
fn jobs_are_bounded_and_cheap_where_nothing_is_computed() {
    for argv in [&["--jobs", "10000", "list"][..], &["report", "--jobs", "0"], &["train", "--jobs", "100000"]] {
        fails(&eoc(argv), 2, &["--jobs", "valid: an integer from 1 to"]);
    }
    // `list` computes nothing: it takes no --jobs, and one given before it builds no pool.
    fails(&eoc(&["list", "--jobs", "4"]), 2, &["'--jobs'"]);
    let start = Instant::now();
    let o = eoc(&["--jobs", "256", "--profile", &tiny(), "list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(start.elapsed() < Duration::from_secs(20), "{:?}", start.elapsed());
}

/// vanilla GELU used to take 96 s at depth 1000 without a sign of life; the search now shows a
/// progress bar and evaluates several variances at once with the same result. Depth 20 keeps
/// the test short.
#[test]
fn init_gives_the_same_answer_with_any_number_of_jobs() {
    let run = |jobs: &str| {
        let dir = tempfile::tempdir().unwrap();
        let o = eoc_in(
            dir.path(),
            &["init", "--arch", "vanilla", "--act", "gelu", "--depth", "20", "--jobs", jobs, "--format", "json"],
            Duration::from_secs(300),
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["searched"], "sw2");
        assert!(v["log_grad_explosion"].as_f64().unwrap() <= 1.0);
        v
    };
    assert_eq!(run("1"), run("3"));
}

#[test]
fn alpha_goes_with_alpha_relu_only_in_every_command() {
    let needle = "--alpha is only valid with --act alpha-relu";
    fails(&eoc(&["train", "--act", "relu", "--alpha", "1"]), 2, &[needle]);
    fails(&eoc(&["meanfield", "--act", "relu", "--alpha", "1", "--depth", "3"]), 2, &[needle]);
    fails(&eoc(&["init", "--act", "tanh", "--alpha", "1", "--depth", "3"]), 2, &[needle]);
    fails(&eoc(&["train", "--act", "alpha-relu"]), 2, &["needs --alpha"]);
}

#[test]
fn each_command_shows_only_its_options() {
    let help = |cmd: &[&str]| {
        let mut argv = cmd.to_vec();
        argv.push("--help");
        let o = eoc(&argv);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    for cmd in [&["train"][..], &["meanfield"], &["init"]] {
        let h = help(cmd);
        for opt in ["--out", "--cache-dir", "--force", "--profile", "--threads"] {
            assert!(!h.contains(opt), "{cmd:?} --help shows {opt}:\n{h}");
        }
    }
    let h = help(&["report"]);
    for opt in ["--out", "--cache-dir", "--force", "--profile", "--jobs", "EOC_CACHE_DIR"] {
        assert!(h.contains(opt), "report --help lacks {opt}");
    }
    let h = help(&["list"]);
    assert!(h.contains("--profile") && !h.contains("--force") && !h.contains("--jobs") && !h.contains("--out"), "{h}");
    assert!(help(&["clean"]).contains("without any, the whole cache directory is deleted"));
    assert!(help(&["cache", "merge"]).contains("Cache directories to merge from"));
    // train states its real defaults and what its two accuracies are.
    let h = help(&["train"]);
    for needle in [
        "width 128",
        "batch 128",
        "quick profile's grids use width 64 and batch 64",
        "running averages",
        "final evaluation",
    ] {
        assert!(h.contains(needle), "train --help lacks {needle:?}");
    }
}

#[test]
fn options_before_the_command_still_work_where_they_apply() {
    let o = eoc(&["--profile", &tiny(), "--cache-dir", "c", "list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    fails(
        &eoc(&["--profile", "paper", "meanfield", "--act", "tanh", "--depth", "3"]),
        2,
        &["--profile is not an option of `meanfield`"],
    );
    fails(&eoc(&["--out", "r", "train"]), 2, &["--out is not an option of `train`"]);
    fails(&eoc(&["--force", "init", "--act", "tanh", "--depth", "3"]), 2, &["--force is not an option of `init`"]);
}

#[test]
fn invalid_input_is_reported_once_with_status_2() {
    fails(&eoc(&["run", "nonsense", "--profile", &tiny()]), 2, &["unknown stage 'nonsense'", "valid:"]);
    fails(&eoc(&["list", "--profile", "fastest"]), 2, &["'fastest'"]);
    fails(&eoc(&["report", "--profile", &tiny(), "--force=nonsense"]), 2, &["'nonsense'"]);
    fails(
        &eoc(&["meanfield", "--act", "tanh", "--depth", "-3"]),
        2,
        &["--depth", "valid: an integer from 1 to 100000000"],
    );
    fails(&eoc(&["meanfield", "--act", "tanh", "--depth", "10", "--sv2=-1"]), 2, &["--sv2", "valid: a number from 0"]);
    fails(&eoc(&["meanfield", "--act", "sigmoid", "--depth", "3"]), 2, &["sigmoid", "valid: tanh, relu, alpha-relu"]);
    fails(
        &eoc(&["meanfield", "--act", "tanh", "--depth", "100000000", "--every", "1"]),
        2,
        &["every = 1", "a million"],
    );
    fails(&eoc(&["init", "--act", "alpha-relu", "--alpha", "0.3", "--depth", "10"]), 2, &["infinite"]);
}

#[test]
fn an_unwritable_report_directory_is_named_before_any_stage_runs() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("afile"), "").unwrap();
    let o = eoc_in(dir.path(), &["report", "--profile", &tiny(), "--out", "afile/report"], Duration::from_secs(60));
    fails(&o, 1, &["cannot write the report to afile/report"]);
    assert!(!stderr(&o).contains("cache I/O") && !stderr(&o).contains("computing"), "{}", stderr(&o));
    let o = eoc_in(dir.path(), &["report", "--profile", &tiny(), "--out", "afile"], Duration::from_secs(60));
    fails(&o, 2, &["--out afile is not a directory"]);
    // A directory that holds something other than a report is never replaced: refused up front.
    std::fs::create_dir(dir.path().join("notes")).unwrap();
    std::fs::write(dir.path().join("notes/mine.txt"), "keep").unwrap();
    let o = eoc_in(dir.path(), &["report", "--profile", &tiny(), "--out", "notes"], Duration::from_secs(60));
    fails(&o, 2, &["not a report directory", "mine.txt"]);
    assert!(!stderr(&o).contains("computing"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(dir.path().join("notes/mine.txt")).unwrap(), "keep");
}

#[test]
fn clean_says_what_it_deletes_and_refuses_what_is_not_a_cache() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let limit = Duration::from_secs(120);
    let o = eoc_in(d, &["run", "identities", "--profile", &tiny(), "--jobs", "2", "-q"], limit);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = eoc_in(d, &["clean", "identities", "--profile", &tiny()], limit);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("stage identities: deleted 1 cached artifact(s) (1 files, "), "{}", stderr(&o));
    assert!(stderr(&o).contains("kB)"), "{}", stderr(&o));
    let o = eoc_in(d, &["run", "identities", "--profile", &tiny(), "-q"], limit);
    assert!(o.status.success());
    let o = eoc_in(d, &["clean", "--profile", &tiny()], limit);
    assert!(stderr(&o).contains("deleted the cache directory cache: 1 cached artifact(s)"), "{}", stderr(&o));
    assert!(!d.join("cache").exists());
    let o = eoc_in(d, &["clean", "--profile", &tiny()], limit);
    assert!(o.status.success() && stderr(&o).contains("nothing to delete"), "{}", stderr(&o));
    // A directory that is not a cache is left alone.
    std::fs::create_dir_all(d.join("work/src")).unwrap();
    let o = eoc_in(d, &["clean", "--profile", &tiny(), "--cache-dir", "work"], limit);
    fails(&o, 2, &["does not look like a cache directory"]);
    assert!(d.join("work/src").is_dir());
}

#[test]
fn cache_merge_refuses_what_is_not_a_cache() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let limit = Duration::from_secs(120);
    std::fs::create_dir_all(d.join("notcache/x")).unwrap();
    std::fs::write(d.join("file"), "x").unwrap();
    for (src, needle) in
        [("notcache", "not a cache directory"), ("file", "not a directory"), ("missing", "cannot merge missing")]
    {
        fails(&eoc_in(d, &["cache", "merge", src, "--profile", &tiny()], limit), 2, &[needle]);
    }
    let o = eoc_in(d, &["run", "identities", "--profile", &tiny(), "--cache-dir", "shard", "-q"], limit);
    assert!(o.status.success(), "{}", stderr(&o));
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(d.join("shard"), d.join("link")).unwrap();
        fails(&eoc_in(d, &["cache", "merge", "link", "--profile", &tiny()], limit), 2, &["symbolic link"]);
    }
    let o = eoc_in(d, &["cache", "merge", "shard", "--profile", &tiny()], limit);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("1 copied"), "{}", stderr(&o));
}

#[test]
fn train_prints_both_accuracies_and_writes_json() {
    let dir = tempfile::tempdir().unwrap();
    let json: PathBuf = dir.path().join("r.json");
    let args =
        ["train", "--width", "16", "--depth", "2", "--train-subset", "300", "--batch", "50", "--jobs", "1", "--json"];
    let mut argv: Vec<&str> = args.to_vec();
    argv.push(json.to_str().unwrap());
    let mnist = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    argv.extend(["--mnist-dir", mnist.to_str().unwrap()]);
    let o = eoc_in(dir.path(), &argv, Duration::from_secs(300));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("train accuracy") && out.contains("final evaluation on the 300 training images"), "{out}");
    assert!(stderr(&o).contains("running averages"), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!((r["width"].as_u64(), r["steps"].as_u64()), (Some(16), Some(6)));
    // Missing MNIST files are a failure (1) naming the file.
    let o = eoc_in(
        dir.path(),
        &["train", "--mnist-dir", dir.path().to_str().unwrap(), "--jobs", "1"],
        Duration::from_secs(60),
    );
    fails(&o, 1, &["idx"]);
}
