//! The tiny-profile report as a reader's browser renders it (issue 15, item 8): headless Chromium loads
//! a copy of `index.html` with the checker `tests/browser/check.js` injected, at a 1200 px wide window;
//! the checker measures the laid-out page and the test reads its verdict from `--dump-dom`:
//!
//! - no console error, uncaught exception or failed resource load (elements, and files named by CSS);
//! - every `<math>` has a non-zero box and is laid out as MathML, and no display formula is cut off
//!   (content wider than its box, hidden behind a sideways scroll: issue 15 item 2); no raw TeX (`$`,
//!   `\frac`, `&nbsp;`, a `.math-error` fallback) is visible outside code;
//! - every figure (and image, and outermost `<svg>`) has a non-zero box inside the page width;
//! - nothing reaches past the viewport except inside a scroll box, and no text is cut off by a box that
//!   clips without scrolling;
//! - every in-page link (`#id`) resolves to one rendered element, and every relative link to a file
//!   names a file of the report.
//!
//! A full-page screenshot of the tiny report is kept for reviewers under
//! `$CARGO_TARGET_TMPDIR/browser/` (`target/tmp/browser/`, not committed), with the checker's findings
//! beside it, and notes that are not failures: the boxes a reader scrolls sideways. Figure text that
//! renders under 11 px at the page width is a failure (`figure-text`).
//!
//! The browser: `$EOC_CHROMIUM`, else the first of `chromium`, `chromium-browser`, `google-chrome`,
//! `google-chrome-stable` on the PATH. Without one the tests print why they are skipped and pass, unless
//! `CI` is set (`.ci/run` sets it and installs Chromium): then a missing browser is a failure.
//!
//! `checker_reports_each_class_of_problem` runs the same checker on small hand-made pages: a correct
//! page passes, and each page with one defect fails exactly the check meant to catch it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const CHECKER: &str = include_str!("browser/check.js");
const RESULT_OPEN: &str = "<script type=\"application/json\" id=\"eoc-browser-check\">";
const WIDTH: u32 = 1200;
/// Chromium's limit on one check (loading, checking, dumping); a hung browser fails the test.
const CHECK_TIMEOUT: Duration = Duration::from_secs(90);
/// The limit on the full-page screenshot (tens of megapixels rasterized in software).
const SCREENSHOT_TIMEOUT: Duration = Duration::from_secs(300);
/// Browsers running at once in the checker's own test.
const PARALLEL: usize = 4;

/// Printed straight to the test's stderr, past libtest's output capture, so a skip or an artefact's
/// path shows in a plain `cargo test`.
fn say(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// The browser to use, or `None` (the test `name` is skipped) when there is none and `CI` is not set.
fn chromium(name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("EOC_CHROMIUM").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        let p = if p.components().count() == 1 { on_path(p.to_str().unwrap_or_default()).unwrap_or(p) } else { p };
        assert!(p.is_file(), "EOC_CHROMIUM={} is not a file", p.display());
        return Some(p);
    }
    let found =
        ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"].iter().find_map(|n| on_path(n));
    if found.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
        assert!(!ci, "CI is set but no Chromium was found: install chromium or set EOC_CHROMIUM (.ci/run does)");
        say(&format!("\n{name}: skipped: no Chromium found (set EOC_CHROMIUM or install chromium)"));
    }
    found
}

/// Runs headless Chromium on `url` with `extra` arguments; returns its stdout and stderr. A fresh
/// profile directory each run; no network, no background services.
fn run_chromium(browser: &Path, work: &Path, url: &str, extra: &[String], timeout: Duration) -> (String, String) {
    let profile = tempfile::tempdir_in(work).unwrap();
    let (out_path, err_path) = (profile.path().join("stdout"), profile.path().join("stderr"));
    let user_data = profile.path().join("user-data");
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", user_data.display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", browser.display()));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} did not finish within {timeout:?} on {url}", browser.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = std::fs::read_to_string(&out_path).unwrap_or_default();
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(status.success(), "{} exited with {status} on {url}:\n{err}", browser.display());
    (out, err)
}

/// One failure found by the checker (or in Chromium's log).
#[derive(Debug, Clone, PartialEq)]
struct Failure {
    check: String,
    element: String,
    width: f64,
    snippet: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {} (width {} px): {}", self.check, self.element, self.width, self.snippet)
    }
}

/// What the checker measured on one page.
struct Verdict {
    viewport_width: f64,
    page_height: u64,
    counts: Value,
    failures: Vec<Failure>,
    /// Not failures, listed for reviewers: boxes the reader scrolls sideways.
    notes: Vec<String>,
}

/// `html` with the checker as the first script of its `<head>` (after the charset declaration).
fn inject(html: &str) -> String {
    let script = format!("<script>\n{CHECKER}\n</script>\n");
    let at = html
        .find("<meta charset=\"utf-8\">")
        .map(|i| i + "<meta charset=\"utf-8\">".len())
        .or_else(|| html.find("<head>").map(|i| i + "<head>".len()))
        .expect("the page has a <head>");
    format!("{}\n{script}{}", &html[..at], &html[at..])
}

fn file_url(p: &Path) -> String {
    format!("file://{}", p.canonicalize().unwrap().display())
}

/// Loads `page` (a file in `dir`, whose relative links are resolved against `dir`) with the checker
/// injected, at `WIDTH` px, and returns the checker's verdict plus Chromium's own console errors and the
/// relative links that name no file.
fn check_page(browser: &Path, dir: &Path, page: &str) -> Verdict {
    let html = std::fs::read_to_string(dir.join(page)).unwrap();
    let checked = dir.join(format!("{page}.browser-check.html"));
    std::fs::write(&checked, inject(&html)).unwrap();
    let (dom, log) = run_chromium(
        browser,
        dir,
        &file_url(&checked),
        &[format!("--window-size={WIDTH},900"), "--virtual-time-budget=20000".into(), "--dump-dom".into()],
        CHECK_TIMEOUT,
    );
    let _ = std::fs::remove_file(&checked);
    let json = dom
        .rsplit_once(RESULT_OPEN)
        .and_then(|(_, rest)| rest.split_once("</script>"))
        .map(|(j, _)| j)
        .unwrap_or_else(|| panic!("the checker wrote no result into {page} (did the page load?):\n{log}"));
    let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("checker result is not JSON ({e}): {json}"));
    assert!(v.get("checker_error").is_none(), "the checker failed on {page}: {}", v["checker_error"]);
    let str_of = |x: &Value| x.as_str().unwrap_or_default().to_string();
    let mut failures: Vec<Failure> = v["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| Failure {
            check: str_of(&f["check"]),
            element: str_of(&f["element"]),
            width: f["width"].as_f64().unwrap_or(0.0),
            snippet: str_of(&f["snippet"]),
        })
        .collect();
    // Chromium logs every console message at INFO; an uncaught exception reads "Uncaught ...". The
    // checker sees those too, unless one came before it ran: count each once.
    for line in log.lines().filter(|l| l.contains(":CONSOLE") && l.contains("\"Uncaught")) {
        let msg = line.split_once("] ").map_or(line, |(_, m)| m).to_string();
        let known =
            failures.iter().any(|f| f.check == "console" && msg.contains(f.snippet.split(" (").next().unwrap_or("")));
        if !known {
            failures.push(Failure {
                check: "console".into(),
                element: "chromium log".into(),
                width: 0.0,
                snippet: msg,
            });
        }
    }
    // Relative links to files, and resources named in CSS: each must name a file beside the page.
    for (key, check, what) in [("files", "link", "a"), ("resources", "console", "url")] {
        for href in v[key].as_array().unwrap().iter().filter_map(Value::as_str) {
            let path = href.split(['#', '?']).next().unwrap_or_default();
            if path.is_empty() {
                continue;
            }
            let target = dir.join(percent_decode(path));
            if !target.exists() {
                failures.push(Failure {
                    check: check.into(),
                    element: format!("<{what} \"{href}\">"),
                    width: 0.0,
                    snippet: format!("names no file: {}", target.display()),
                });
            }
        }
    }
    Verdict {
        viewport_width: v["viewport_width"].as_f64().unwrap_or(0.0),
        page_height: v["page_height"].as_u64().unwrap_or(0),
        counts: v["counts"].clone(),
        failures,
        notes: v["notes"].as_array().unwrap().iter().filter_map(Value::as_str).map(String::from).collect(),
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if let (b'%', Some(Some(hi)), Some(Some(lo))) =
            (b[i], b.get(i + 1).map(|&c| hex(c)), b.get(i + 2).map(|&c| hex(c)))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A full-page screenshot of `page` at `WIDTH` px and the page's height.
fn screenshot(browser: &Path, dir: &Path, page: &str, height: u64, png: &Path) {
    let height = height.clamp(900, 100_000);
    run_chromium(
        browser,
        dir,
        &file_url(&dir.join(page)),
        &[
            format!("--window-size={WIDTH},{height}"),
            "--virtual-time-budget=20000".into(),
            format!("--screenshot={}", png.display()),
        ],
        SCREENSHOT_TIMEOUT,
    );
    assert!(png.is_file(), "no screenshot written to {}", png.display());
}

fn tiny_report(dir: &Path) -> PathBuf {
    let profile = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/profiles/tiny.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_edge-of-chaos"))
        .current_dir(dir)
        .args(["--profile", profile.to_str().unwrap(), "--jobs", "2", "-q", "--cache-dir", "cache", "--out", "report"])
        .arg("report")
        .env_remove("EOC_CACHE_DIR")
        .output()
        .expect("binary runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = dir.join("report");
    assert!(report.join("index.html").is_file(), "no index.html in {}", report.display());
    report
}

fn listing(failures: &[Failure]) -> String {
    failures.iter().map(|f| format!("  {f}\n")).collect()
}

#[test]
fn tiny_report_renders_cleanly_in_chromium() {
    let Some(browser) = chromium("tiny_report_renders_cleanly_in_chromium") else { return };
    let dir = tempfile::tempdir().unwrap();
    let report = tiny_report(dir.path());
    let v = check_page(&browser, &report, "index.html");

    // The artefact for reviewers: the whole page as rendered, and the findings beside it.
    let artefacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&artefacts).unwrap();
    let png = artefacts.join(format!("tiny-report-{WIDTH}px.png"));
    let _ = std::fs::remove_file(&png);
    screenshot(&browser, &report, "index.html", v.page_height, &png);
    let findings = artefacts.join("tiny-report-findings.txt");
    let notes: String = v.notes.iter().map(|n| format!("  {n}\n")).collect();
    std::fs::write(
        &findings,
        format!("failures ({}):\n{}notes (not failures):\n{notes}", v.failures.len(), listing(&v.failures)),
    )
    .unwrap();
    say(&format!(
        "browser test: screenshot {} ({WIDTH} x {} px), findings {}",
        png.display(),
        v.page_height,
        findings.display()
    ));

    assert!(
        (v.viewport_width - f64::from(WIDTH)).abs() <= 20.0,
        "viewport {} px, expected about {WIDTH}",
        v.viewport_width
    );
    assert!(v.counts["math"].as_u64().unwrap() > 0 && v.counts["figures"].as_u64().unwrap() > 0, "{}", v.counts);
    assert!(
        v.failures.is_empty(),
        "{} problem(s) in the tiny report at {WIDTH} px ({}):\n{}",
        v.failures.len(),
        v.counts,
        listing(&v.failures)
    );
}

/// A small correct page: headings and a contents link, inline and display math, a figure, a wide
/// table in a scroll box, `$` inside code.
const GOOD: &str = r##"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>t</title>
<style>body{max-width:46em;margin:0 auto}.table-wrap{overflow-x:auto}figure svg{max-width:100%;height:auto}
math[display="block"]{display:block math;overflow-x:auto}</style></head>
<body><main>
<nav><a href="#s1">Section 1</a> <a href="data.csv">data</a></nav>
<h2 id="s1">Section 1</h2>
<p>Inline <math><mi>x</mi><mo>=</mo><mn>1</mn></math> and the variable <code>$EOC_CACHE_DIR</code>.</p>
<math display="block"><mfrac><mi>a</mi><mi>b</mi></mfrac><annotation encoding="application/x-tex">\frac{a}{b}</annotation></math>
<figure><svg xmlns="http://www.w3.org/2000/svg" width="400" height="200" viewBox="0 0 400 200"><rect width="400" height="200" fill="#eee"/><text x="20" y="100">label</text></svg>
<figcaption>Figure 1: a figure.</figcaption></figure>
<div class="table-wrap"><table><tr><td style="min-width:3000px">a wide cell</td></tr></table></div>
<!--DEFECT-->
</main></body></html>
"##;

/// A display formula wider than the text column, in a box that scrolls sideways (as the report's CSS
/// makes display math): the reader sees it cut off.
const LONG_FORMULA: &str = concat!(
    "<math display=\"block\">",
    "<mi>a</mi><mo>+</mo><mi>b</mi><mo>+</mo><mi>c</mi><mo>+</mo><mi>d</mi><mo>+</mo><mi>e</mi><mo>+</mo>",
    "<mi>a</mi><mo>+</mo><mi>b</mi><mo>+</mo><mi>c</mi><mo>+</mo><mi>d</mi><mo>+</mo><mi>e</mi><mo>+</mo>",
    "<mi>a</mi><mo>+</mo><mi>b</mi><mo>+</mo><mi>c</mi><mo>+</mo><mi>d</mi><mo>+</mo><mi>e</mi><mo>+</mo>",
    "<mi>a</mi><mo>+</mo><mi>b</mi><mo>+</mo><mi>c</mi><mo>+</mo><mi>d</mi><mo>+</mo><mi>e</mi><mo>+</mo>",
    "<mi>a</mi><mo>+</mo><mi>b</mi><mo>+</mo><mi>c</mi><mo>+</mo><mi>d</mi><mo>+</mo><mi>e</mi><mo>+</mo>",
    "<mi>a</mi><mo>+</mo><mi>b</mi><mo>+</mo><mi>c</mi><mo>+</mo><mi>d</mi><mo>+</mo><mi>e</mi><mo>+</mo>",
    "<mi>a</mi><mo>+</mo><mi>b</mi><mo>+</mo><mi>c</mi><mo>+</mo><mi>d</mi><mo>+</mo><mi>e</mi><mo>+</mo>",
    "<mi>a</mi><mo>+</mo><mi>b</mi><mo>+</mo><mi>c</mi><mo>+</mo><mi>d</mi><mo>+</mo><mi>e</mi><mo>+</mo>",
    "<mi>a</mi><mo>+</mo><mi>b</mi><mo>+</mo><mi>c</mi><mo>+</mo><mi>d</mi><mo>+</mo><mi>e</mi><mo>+</mo>",
    "<mi>a</mi><mo>+</mo><mi>b</mi><mo>+</mo><mi>c</mi><mo>+</mo><mi>d</mi><mo>+</mo><mi>e</mi><mo>+</mo>",
    "<mi>a</mi><mo>+</mo><mi>b</mi><mo>+</mo><mi>c</mi><mo>+</mo><mi>d</mi><mo>+</mo><mi>e</mi><mo>+</mo>",
    "<mi>a</mi><mo>+</mo><mi>b</mi><mo>+</mo><mi>c</mi><mo>+</mo><mi>d</mi><mo>+</mo><mi>e</mi><mo>+</mo>",
    "<mi>z</mi></math>"
);

#[test]
fn checker_reports_each_class_of_problem() {
    let Some(browser) = chromium("checker_reports_each_class_of_problem") else { return };
    // (name, what is added to the correct page, the check that must report it, text its report holds,
    // other checks that may also report it because the defect is also theirs)
    let cases: &[(&str, &str, &str, &str, &[&str])] = &[
        ("good", "", "", "", &[]),
        ("wide table", "<table><tr><td style=\"min-width:2000px\">too wide</td></tr></table>", "overflow", "<table>", &[]),
        ("raw tex", "<p>The ratio $\\frac{a}{b}$ is raw.</p>", "raw-tex", "\\frac", &[]),
        ("raw command", "<p>The slope \\alpha alone.</p>", "raw-tex", "\\alpha", &[]),
        ("raw dollar", "<p>Costs $x$.</p>", "raw-tex", "\"$\"", &[]),
        ("math error", "<code class=\"math-error\">\\frac{1}</code>", "raw-tex", "did not convert", &[]),
        ("entity in math", "<math><mi>a</mi><mtext>&amp;nbsp;</mtext><mi>b</mi></math>", "raw-tex", "&nbsp;", &[]),
        ("broken link", "<a href=\"#nowhere\">see</a>", "link", "#nowhere", &[]),
        ("duplicate id", "<h3 id=\"s1\">Again</h3>", "link", "duplicate id", &[]),
        ("missing file", "<a href=\"figures/none.svg\">fig</a>", "link", "none.svg", &[]),
        ("console error", "<script>console.error('deliberate')</script>", "console", "deliberate", &[]),
        ("exception", "<script>throw new Error('thrown on purpose')</script>", "console", "thrown on purpose", &[]),
        (
            "exception before the checker",
            "HEAD:<script>throw new Error('before the checker ran')</script>",
            "console",
            "before the checker ran",
            &[],
        ),
        ("missing css resource", "<div style=\"background:url('missing-bg.png')\">x</div>", "console", "missing-bg.png", &[]),
        ("external css resource", "<div style=\"background:url(https://example.org/a.png)\">x</div>", "console", "external", &[]),
        ("missing image", "<img src=\"missing.png\" alt=\"x\" width=\"10\" height=\"10\">", "console", "missing.png", &["figure"]),
        ("empty math", "<math style=\"display:none\"><mi>z</mi></math>", "math", "empty box", &[]),
        ("math as text", "<math style=\"display:inline\"><mi>z</mi></math>", "math", "not laid out as MathML", &[]),
        (
            "wide figure",
            "<figure><svg style=\"max-width:none\" width=\"1600\" height=\"100\"></svg></figure>",
            "figure",
            "outside the page width",
            &["overflow"],
        ),
        ("empty figure", "<figure><svg width=\"0\" height=\"0\"></svg><figcaption>F</figcaption></figure>", "figure", "empty box", &[]),
        (
            "small figure text",
            "<figure><svg width=\"200\" height=\"50\"><text x=\"10\" y=\"30\" font-size=\"8\">small</text></svg></figure>",
            "figure-text",
            "under 11 px",
            &[],
        ),
        (
            "figure text cut",
            "<figure><svg width=\"100\" height=\"50\"><text x=\"60\" y=\"30\">a long label</text></svg></figure>",
            "figure",
            "cut off",
            &[],
        ),
        (
            "clipped math",
            "<div style=\"overflow:hidden;width:60px\"><math display=\"block\" style=\"overflow:visible\"><mi>a</mi><mo>+</mo><mi>b</mi><mo>+</mo><mi>c</mi><mo>+</mo><mi>d</mi><mo>+</mo><mi>e</mi><mo>+</mo><mi>f</mi></math></div>",
            "clipped",
            "sideways",
            &["math"],
        ),
        ("scrolled display math", LONG_FORMULA, "math", "display formula cut off", &[]),
        (
            "tall math cut",
            "<math display=\"block\" style=\"overflow-x:auto;overflow-y:hidden;height:6px\"><mfrac><mi>a</mi><mi>b</mi></mfrac></math>",
            "clipped",
            "vertically",
            &[],
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.csv"), "a\n1\n").unwrap();
    let mut problems = Vec::new();
    let pages: Vec<String> = (0..cases.len()).map(|i| format!("case{i}.html")).collect();
    for (case, page) in cases.iter().zip(&pages) {
        // A defect marked `HEAD:` goes first in <head>, before the injected checker.
        let html = match case.1.strip_prefix("HEAD:") {
            Some(head) => GOOD.replacen("<head>", &format!("<head>{head}"), 1),
            None => GOOD.replace("<!--DEFECT-->", case.1),
        };
        std::fs::write(dir.path().join(page), html).unwrap();
    }
    // PARALLEL browsers at a time, each thread taking every PARALLEL-th page.
    let verdicts: Vec<(usize, Verdict)> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..PARALLEL)
            .map(|t| {
                let (browser, dir, pages) = (&browser, dir.path(), &pages);
                s.spawn(move || {
                    (t..pages.len())
                        .step_by(PARALLEL)
                        .map(|i| (i, check_page(browser, dir, &pages[i])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(verdicts.len(), cases.len());
    for (i, v) in verdicts {
        let (name, _, check, needle, also) = cases[i];
        if check.is_empty() {
            if !v.failures.is_empty() {
                problems.push(format!("the correct page fails:\n{}", listing(&v.failures)));
            }
            // Its wide table scrolls in its box: allowed, and listed for reviewers.
            if !(v.notes.len() == 1 && v.notes[0].contains("table-wrap") && v.notes[0].contains("scrolls sideways")) {
                problems.push(format!("the correct page's scroll box is not listed once: {:?}", v.notes));
            }
            continue;
        }
        let hit = v.failures.iter().any(|f| f.check == check && f.to_string().contains(needle));
        let others: Vec<_> =
            v.failures.iter().filter(|f| f.check != check && !also.contains(&f.check.as_str())).cloned().collect();
        if !hit {
            problems.push(format!("{name}: no [{check}] failure holding {needle:?}; got:\n{}", listing(&v.failures)));
        }
        if !others.is_empty() {
            problems.push(format!("{name}: reported by other checks too:\n{}", listing(&others)));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
