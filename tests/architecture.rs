//! The module map of ARCHITECTURE.md, checked on the source tree:
//!
//! - the dependency direction: the binary (`main.rs`, `cmd/`) → `stages` → the libraries
//!   (`pipeline`, `report`, `plot`, `analysis`, `nn`, `meanfield`, `math`, and the shared domain
//!   types), and nothing points back up, so there is no import cycle between top-level modules;
//! - every stage folder has the same files;
//! - no source file is longer than [`MAX_LINES`] lines outside its test module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules of the library and the ones each may use (`crate::NAME`).
const ALLOWED: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("activation", &["error", "math"]),
    ("architecture", &["error"]),
    ("math", &[]),
    ("meanfield", &["math", "activation", "architecture", "error"]),
    ("nn", &["math", "activation", "architecture", "error"]),
    ("analysis", &["math"]),
    ("plot", &[]),
    ("pipeline", &[]),
    ("report", &["pipeline", "plot"]),
    (
        "stages",
        &["pipeline", "report", "plot", "analysis", "nn", "meanfield", "math", "activation", "architecture", "error"],
    ),
];

/// Files every stage folder holds.
const STAGE_FILES: &[&str] = &["mod.rs", "config.rs", "compute.rs", "claims.rs", "figures.rs"];

/// The longest a source file may be, not counting its `#[cfg(test)]` module.
const MAX_LINES: usize = 800;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file belongs to (`None` for the crate root and the binary).
fn module_of(path: &Path) -> Option<String> {
    let rel = path.strip_prefix(src()).unwrap();
    let first = rel.components().next()?.as_os_str().to_string_lossy().into_owned();
    let name = first.trim_end_matches(".rs").to_string();
    (!["lib", "main", "cmd"].contains(&name.as_str())).then_some(name)
}

/// Every top-level module named after `crate::` in the code, including grouped imports
/// (`use crate::{a::X, b};`). Comments are skipped.
fn crate_refs(text: &str) -> BTreeSet<String> {
    let code: String = text
        .lines()
        .map(|l| {
            // Drop a comment (but not the `//` of a URL in a string, `http://`).
            let cut = l.match_indices("//").find(|(i, _)| !l[..*i].ends_with(':')).map(|(i, _)| i);
            &l[..cut.unwrap_or(l.len())]
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut refs = BTreeSet::new();
    let bytes = code.as_bytes();
    let ident = |start: usize| -> String {
        code[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
    };
    let mut i = 0;
    while let Some(pos) = code[i..].find("crate::") {
        let at = i + pos + "crate::".len();
        // `edge_of_chaos_crate::` or `foocrate::` are not `crate::`.
        let before = code[..i + pos].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            i = at;
            continue;
        }
        if bytes.get(at) == Some(&b'{') {
            // Grouped: the identifiers at brace depth 1 that start a path element.
            let mut depth = 0;
            let mut j = at;
            let mut expect_name = true;
            while j < bytes.len() {
                match bytes[j] {
                    b'{' => {
                        depth += 1;
                        expect_name = depth == 1;
                    }
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b',' if depth == 1 => expect_name = true,
                    c if expect_name && depth == 1 && (c.is_ascii_alphabetic() || c == b'_') => {
                        refs.insert(ident(j));
                        expect_name = false;
                    }
                    _ => {}
                }
                j += 1;
            }
            i = j;
        } else {
            refs.insert(ident(at));
            i = at;
        }
    }
    refs
}

#[test]
fn dependencies_point_one_way() {
    let allowed: BTreeMap<&str, BTreeSet<&str>> =
        ALLOWED.iter().map(|(m, deps)| (*m, deps.iter().copied().collect())).collect();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut violations = Vec::new();
    for f in &files {
        let Some(module) = module_of(f) else { continue };
        let Some(ok) = allowed.get(module.as_str()) else {
            violations.push(format!(
                "{}: module '{module}' is not in the map (add it to ALLOWED and ARCHITECTURE.md)",
                f.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(f).unwrap();
        for r in crate_refs(&text) {
            if r != module && !ok.contains(r.as_str()) {
                violations.push(format!("{}: {module} uses crate::{r}", f.display()));
            }
        }
    }
    assert!(violations.is_empty(), "dependencies against the direction of ARCHITECTURE.md:\n{}", violations.join("\n"));
}

#[test]
fn the_allowed_graph_has_no_cycle() {
    // Depth-first search over ALLOWED: a module may not reach itself.
    let graph: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    fn reaches(graph: &BTreeMap<&str, &[&str]>, from: &str, target: &str, seen: &mut BTreeSet<String>) -> bool {
        graph
            .get(from)
            .copied()
            .unwrap_or(&[])
            .iter()
            .any(|d| *d == target || (seen.insert(d.to_string()) && reaches(graph, d, target, seen)))
    }
    for m in graph.keys() {
        assert!(!reaches(&graph, m, m, &mut BTreeSet::new()), "{m} reaches itself");
    }
}

#[test]
fn crate_refs_reads_grouped_imports() {
    let r = crate_refs("use crate::{a::X, b, c::{d, e}};\nuse crate::f::G; // crate::ignored\n// crate::h\nlet x = edge_of_chaos_crate::y;");
    assert_eq!(r.into_iter().collect::<Vec<_>>(), vec!["a", "b", "c", "f"]);
}

#[test]
fn every_stage_folder_has_the_same_files() {
    let stages = src().join("stages");
    let mut missing = Vec::new();
    let mut n = 0;
    for e in std::fs::read_dir(&stages).unwrap().flatten() {
        let p = e.path();
        if !p.is_dir() || p.file_name().is_some_and(|n| n == "snapshots") {
            continue;
        }
        n += 1;
        for f in STAGE_FILES {
            if !p.join(f).is_file() {
                missing.push(format!("{}/{f}", p.display()));
            }
        }
    }
    assert!(n >= 6, "expected one folder per stage under {}, found {n}", stages.display());
    assert!(missing.is_empty(), "stage folders without the common files:\n{}", missing.join("\n"));
}

#[test]
fn no_source_file_is_oversized() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut long = Vec::new();
    for f in files {
        if f.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let body = text.split("\n#[cfg(test)]\n").next().unwrap_or(&text);
        let lines = body.lines().count();
        if lines > MAX_LINES {
            long.push(format!("{}: {lines} lines", f.display()));
        }
    }
    assert!(long.is_empty(), "files over {MAX_LINES} lines (outside tests):\n{}", long.join("\n"));
}
