//! The command line end to end on the tiny profile, in a temporary directory: the report's files,
//! caching across runs, recovery from a corrupt artifact, exit codes of invalid input, and a
//! snapshot of the rendered Markdown.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_edge-of-chaos")
}

fn tiny_profile() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/profiles/tiny.toml")
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .current_dir(dir)
        .args(["--profile", tiny_profile().to_str().unwrap(), "--jobs", "2"])
        .args(args)
        .env_remove("EOC_CACHE_DIR")
        .output()
        .expect("binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The list of CPU features in a line (`SIMD features sse4.2, avx, ...;`) masked as `#`: it is
/// the machine's, not the report's.
fn mask_cpu_features(l: &str) -> String {
    const AT: &str = "SIMD features ";
    let Some(i) = l.find(AT) else { return l.to_string() };
    let rest = &l[i + AT.len()..];
    let end = [", which", " (some", ";"].iter().filter_map(|e| rest.find(e)).min().unwrap_or(rest.len());
    format!("{}{AT}#{}", &l[..i], &rest[end..])
}

/// The report's Markdown without what changes from run to run: wall-clock times and throughput
/// (words holding digits masked), the machine's CPU features, and the appendix (date, commit,
/// compute times).
fn redact(md: &str) -> String {
    let body = md.split("\n## Appendix A").next().unwrap_or(md);
    body.lines()
        .map(mask_cpu_features)
        .map(|l| {
            if ["single-thread time", "samples per second", "task time"].iter().any(|v| l.contains(v)) {
                // Each word holding a digit becomes `#` (a number's format varies with its size).
                l.split(' ')
                    .map(|w| if w.chars().any(|c| c.is_ascii_digit()) { "#" } else { w })
                    .collect::<Vec<_>>()
                    .join(" ")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n## Appendix A (redacted: dates, commit, compute times)\n"
}

#[test]
fn report_is_built_then_cached_then_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let first = run(dir.path(), &["report"]);
    assert!(first.status.success(), "{}", stderr(&first));
    // The default --out is report/PROFILE-NAME.
    let out = dir.path().join("report/tiny");
    for f in ["index.html", "report.md", "data/claims.json", "data/reproducibility.json"] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    for needle in ["http://", "https://", "<script", "src=\"", "<link"] {
        // References may cite a URL in text; no element may load one.
        if needle.starts_with("http") {
            assert!(
                !html.contains(&format!("href=\"{needle}")) && !html.contains(&format!("src=\"{needle}")),
                "external reference {needle}"
            );
        } else {
            assert!(!html.contains(needle), "HTML must be self-contained, found {needle}");
        }
    }

    insta::assert_snapshot!("tiny_report_markdown", redact(&std::fs::read_to_string(out.join("report.md")).unwrap()));

    let second = run(dir.path(), &["report"]);
    assert!(second.status.success(), "{}", stderr(&second));
    let err = stderr(&second);
    assert!(!err.contains(": computing ("), "second run recomputed something:\n{err}");
    assert!(err.contains(": cached ("), "{err}");

    // Truncate every cached stage artifact: each is reported and recomputed, never used.
    let stages_dir = dir.path().join("cache/stages");
    let mut truncated = 0;
    if stages_dir.is_dir() {
        for stage in std::fs::read_dir(&stages_dir).unwrap().flatten() {
            for f in std::fs::read_dir(stage.path()).unwrap().flatten() {
                let bytes = std::fs::read(f.path()).unwrap();
                std::fs::write(f.path(), &bytes[..bytes.len() / 2]).unwrap();
                truncated += 1;
            }
        }
    }
    let third = run(dir.path(), &["report"]);
    assert!(third.status.success(), "{}", stderr(&third));
    let err = stderr(&third);
    assert_eq!(err.matches("is corrupt").count(), truncated, "{err}");
    assert_eq!(err.matches(": computing (").count(), truncated, "{err}");
}

#[test]
fn invalid_input_exits_2_naming_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(bin()).current_dir(dir.path()).args(["--profile", "fastest", "list"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("'fastest'") && stderr(&o).contains("quick, paper"), "{}", stderr(&o));

    let o = run(dir.path(), &["run", "nonsense"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("'nonsense'") && stderr(&o).contains("valid:"), "{}", stderr(&o));

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = \"bad\"\n[identities]\nno_such_key = 3\n").unwrap();
    let o = Command::new(bin())
        .current_dir(dir.path())
        .args(["--profile", bad.to_str().unwrap(), "list"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no_such_key") && stderr(&o).contains("line 3"), "{}", stderr(&o));

    let o = run(dir.path(), &["run", "identities", "--shard", "3/2"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// One invalid value per profile section: each is rejected before any stage runs, with exit 2 and
/// one message naming the file, section, key and value.
#[test]
fn invalid_profile_values_exit_2_before_any_stage_runs() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("identities", "c_points = 0", "c_points"),
        ("dynamics", "depth = 1", "depth"),
        ("simulations", "widths = [1000000000]", "widths"),
        ("training", "width = 0", "width"),
        ("prediction", "p0 = nan", "p0"),
        ("performance", "big_n = 1000000", "big_n"),
    ];
    for (section, line, key) in cases {
        let p = dir.path().join(format!("bad-{section}.toml"));
        std::fs::write(&p, format!("name = \"bad\"\n[{section}]\n{line}\n")).unwrap();
        let o = Command::new(bin())
            .current_dir(dir.path())
            .args(["--profile", p.to_str().unwrap(), "--cache-dir", "c", "report"])
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "[{section}] {line}: {err}");
        assert!(err.contains(&format!("[{section}] {key} = ")), "[{section}] {line}: {err}");
        assert!(err.contains(p.to_str().unwrap()), "names the file: {err}");
        assert_eq!(err.matches("error:").count(), 1, "printed once: {err}");
        assert!(!err.contains("computing"), "no stage ran: {err}");
        // `list` validates too.
        let o = Command::new(bin())
            .current_dir(dir.path())
            .args(["--profile", p.to_str().unwrap(), "list"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "list with [{section}] {line}");
    }
}

/// `--force` alone recomputes everything; `--force=STAGE` one stage; a command name after a bare
/// `--force` is the command, not a stage.
#[test]
fn force_before_a_command() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), &["run", "identities"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(dir.path(), &["--force", "run", "identities"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("identities: computing"), "{}", stderr(&o));
    let o = run(dir.path(), &["--force=identities", "run", "identities"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("identities: computing"), "{}", stderr(&o));
    let o = run(dir.path(), &["--force=nonsense", "list"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // `--force report`: the whole report, recomputed.
    let o = run(dir.path(), &["-q", "--force", "report"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join("report/tiny/index.html").is_file());
}
