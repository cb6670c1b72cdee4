//! Records the commit the program is built from, so that a report names the code that computed it
//! without touching any repository at run time: `EOC_GIT_COMMIT` (the full hash of `HEAD`, empty
//! when the source is not a git checkout or git is missing) and `EOC_GIT_DIRTY` (`1` if tracked
//! files differ from `HEAD`, else `0`), read with `option_env!` in `src/report/render.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=EOC_GIT_COMMIT");
    let commit = git(&dir, &["rev-parse", "--verify", "HEAD"])
        .filter(|c| c.len() >= 12 && c.bytes().all(|b| b.is_ascii_hexdigit()));
    let Some(commit) = commit else {
        println!("cargo:rustc-env=EOC_GIT_COMMIT=");
        println!("cargo:rustc-env=EOC_GIT_DIRTY=0");
        return;
    };
    // Tracked files only, like the report always said ("with uncommitted changes").
    // `--no-optional-locks`: do not refresh (and lock) the index of the checkout being built.
    let dirty = git(&dir, &["--no-optional-locks", "status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|s| !s.is_empty());
    println!("cargo:rustc-env=EOC_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=EOC_GIT_DIRTY={}", u8::from(dirty));

    // Rerun when HEAD moves (checkout, commit, reset) or the index changes (staging), whichever
    // git directory layout (plain checkout, worktree, packed refs) holds them.
    let abs = |p: String| {
        let p = PathBuf::from(p);
        if p.is_absolute() {
            p
        } else {
            dir.join(p)
        }
    };
    let git_dir = git(&dir, &["rev-parse", "--git-dir"]).map(abs);
    let common = git(&dir, &["rev-parse", "--git-common-dir"]).map(abs);
    // Only paths that exist: cargo reruns a build script on every build for a missing one.
    let watch = |p: PathBuf| {
        if p.exists() {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    };
    if let Some(g) = &git_dir {
        watch(g.join("HEAD"));
        watch(g.join("index"));
    }
    if let (Some(c), Some(head_ref)) = (&common, git(&dir, &["symbolic-ref", "-q", "HEAD"])) {
        watch(c.join(&head_ref));
        watch(c.join("packed-refs"));
    }
    // An edit of a tracked file changes the dirty flag without touching git's files: rerun when
    // the program's sources change (they are recompiled then anyway).
    for p in ["src", "templates", "Cargo.toml", "Cargo.lock"] {
        watch(dir.join(p));
    }
}
