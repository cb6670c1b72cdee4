//! The report directory, replaced as a unit.
//!
//! A report is written into a fresh sibling directory `.{name}.tmp-{pid}` and then swapped in for
//! `{name}` (`--out`): on Linux with one atomic `renameat2(RENAME_EXCHANGE)`, elsewhere with two
//! renames (`{name}` → `.{name}.old-{pid}`, temporary → `{name}`). The old report is then removed.
//! So `--out` is always the complete old report or the complete new one (with two renames, a
//! kill between them leaves only the backup, which the next run renames back before anything
//! else). Writers hold the exclusive lock `.{name}.lock` beside the directory, so concurrent
//! `report`s queue instead of mixing, and whoever holds the lock removes the temporary and backup
//! directories that killed processes left.
//!
//! An existing `--out` is replaced only if it is a report: it holds the marker file
//! [`MARKER`], or is empty, or holds nothing but the files of a report (`index.html`,
//! `report.md`, `figures/`, `data/`); anything else is refused, so `--out .` never removes a
//! directory of other files.

use crate::pipeline::lock::{DirLock, LockError};
use crate::pipeline::Progress;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A file in every report directory that marks it as one (replaceable by the next report).
pub const MARKER: &str = ".edge-of-chaos-report";
/// What a report directory of an earlier version (without the marker) may hold.
const REPORT_ENTRIES: &[&str] = &["index.html", "report.md", "figures", "data"];

/// Error preparing or replacing the report directory.
#[derive(Debug, thiserror::Error)]
pub enum OutDirError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("output directory {} has no parent directory and name", .0.display())]
    BadPath(PathBuf),
    #[error(
        "refusing to replace {}: it is not a report directory of edge-of-chaos (it holds '{entry}'); \
         remove it or choose another --out",
        path.display()
    )]
    NotAReport { path: PathBuf, entry: String },
    #[error(transparent)]
    Lock(#[from] LockError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutDirError {
    let path = path.to_path_buf();
    move |source| OutDirError::Io { path, source }
}

/// A report being written: the staging directory, under the lock of `--out`. Dropped without
/// [`Staging::commit`], it removes the staging directory and leaves `--out` as it was.
#[derive(Debug)]
pub struct Staging {
    out: PathBuf,
    tmp: PathBuf,
    backup: PathBuf,
    committed: bool,
    _lock: DirLock,
}

impl Staging {
    /// Takes the lock of `out` (waiting with a message while another process renders into it),
    /// recovers or removes what killed processes left, checks that an existing `out` is a report,
    /// and creates an empty staging directory.
    pub fn begin(out: &Path, progress: &Progress) -> Result<Self, OutDirError> {
        let out = std::path::absolute(out).map_err(io(out))?;
        // A link (or `.`/`..`) names the directory it resolves to: that is the one replaced.
        let out = match fs::canonicalize(&out) {
            Ok(real) => real,
            Err(_) => out,
        };
        let (Some(parent), Some(name)) = (out.parent(), out.file_name().and_then(|n| n.to_str())) else {
            return Err(OutDirError::BadPath(out));
        };
        let (parent, name) = (parent.to_path_buf(), name.to_string());
        fs::create_dir_all(&parent).map_err(io(&parent))?;
        let lock = DirLock::acquire(&parent.join(format!(".{name}.lock")), &out, progress)?;
        recover(&parent, &name, &out)?;
        if let Ok(meta) = fs::symlink_metadata(&out) {
            if !meta.is_dir() {
                return Err(OutDirError::NotAReport { path: out, entry: "(it is a file)".into() });
            }
            if let Some(entry) = foreign_entry(&out)? {
                return Err(OutDirError::NotAReport { path: out, entry });
            }
        }
        let pid = std::process::id();
        let tmp = parent.join(format!(".{name}.tmp-{pid}"));
        let backup = parent.join(format!(".{name}.old-{pid}"));
        fs::create_dir(&tmp).map_err(io(&tmp))?;
        let staging = Self { out, tmp, backup, committed: false, _lock: lock };
        staging.put(MARKER, b"This directory is a report of edge-of-chaos; each report replaces it as a whole.\n")?;
        Ok(staging)
    }

    /// The final location, `--out`.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// Writes one file of the report (`rel` below `--out`) into the staging directory.
    pub fn put(&self, rel: &str, content: &[u8]) -> Result<PathBuf, OutDirError> {
        let p = self.tmp.join(rel);
        if let Some(d) = p.parent() {
            fs::create_dir_all(d).map_err(io(d))?;
        }
        let mut f = fs::File::create(&p).map_err(io(&p))?;
        f.write_all(content).and_then(|_| f.sync_all()).map_err(io(&p))?;
        Ok(self.out.join(rel))
    }

    /// Swaps the staging directory in for `--out` and removes the old report.
    pub fn commit(mut self) -> Result<(), OutDirError> {
        if fs::symlink_metadata(&self.out).is_err() {
            fs::rename(&self.tmp, &self.out).map_err(io(&self.out))?;
        } else if exchange(&self.tmp, &self.out).is_ok() {
            // The staging path now holds the old report.
            let _ = fs::remove_dir_all(&self.tmp);
        } else {
            fs::rename(&self.out, &self.backup).map_err(io(&self.out))?;
            if let Err(e) = fs::rename(&self.tmp, &self.out) {
                let _ = fs::rename(&self.backup, &self.out);
                return Err(io(&self.out)(e));
            }
            let _ = fs::remove_dir_all(&self.backup);
        }
        self.committed = true;
        if let Some(parent) = self.out.parent() {
            // Best effort: make the renames durable.
            let _ = fs::File::open(parent).and_then(|d| d.sync_all());
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Under the lock: a backup with no `out` is a swap that was cut between its renames (rename it
/// back); other backups and every staging directory are leftovers of killed processes (remove).
fn recover(parent: &Path, name: &str, out: &Path) -> Result<(), OutDirError> {
    let (tmp, old) = (format!(".{name}.tmp-"), format!(".{name}.old-"));
    let mut leftovers: Vec<(bool, PathBuf)> = Vec::new();
    for e in fs::read_dir(parent).map_err(io(parent))?.flatten() {
        let n = e.file_name();
        let n = n.to_string_lossy();
        if n.starts_with(&old) {
            leftovers.push((true, e.path()));
        } else if n.starts_with(&tmp) {
            leftovers.push((false, e.path()));
        }
    }
    for (is_backup, p) in leftovers {
        if is_backup && fs::symlink_metadata(out).is_err() {
            fs::rename(&p, out).map_err(io(&p))?;
        } else if fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
            fs::remove_dir_all(&p).map_err(io(&p))?;
        } else {
            fs::remove_file(&p).map_err(io(&p))?;
        }
    }
    Ok(())
}

/// The first entry of `dir` that shows it is not a report directory, if any.
/// Checks, without locking, that `out` may be replaced by a report: it does not exist, or it is
/// a directory holding a report (or nothing). For a check before any work starts; [`Staging::begin`]
/// checks again under the lock.
pub fn check_target(out: &Path) -> Result<(), OutDirError> {
    match fs::symlink_metadata(out) {
        Err(_) => Ok(()),
        Ok(meta) if !meta.is_dir() && !meta.file_type().is_symlink() => {
            Err(OutDirError::NotAReport { path: out.to_path_buf(), entry: "(it is a file)".into() })
        }
        Ok(_) => match foreign_entry(out)? {
            Some(entry) => Err(OutDirError::NotAReport { path: out.to_path_buf(), entry }),
            None => Ok(()),
        },
    }
}

fn foreign_entry(dir: &Path) -> Result<Option<String>, OutDirError> {
    let mut entries = Vec::new();
    for e in fs::read_dir(dir).map_err(io(dir))?.flatten() {
        entries.push(e.file_name().to_string_lossy().into_owned());
    }
    if entries.iter().any(|e| e == MARKER) {
        return Ok(None);
    }
    // A report of an earlier version: its files, and the temporary files it could leave.
    let expected = |e: &str| REPORT_ENTRIES.contains(&e) || (e.starts_with('.') && e.contains(".tmp-"));
    Ok(entries.into_iter().find(|e| !expected(e)))
}

/// Atomically exchanges two directories (Linux `renameat2` with `RENAME_EXCHANGE`).
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes())?;
    let cb = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: two valid NUL-terminated paths, relative to the current directory (they are
    // absolute); renameat2 reads them and touches nothing else.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "no atomic exchange"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(out: &Path, text: &str) {
        let s = Staging::begin(out, &Progress::silent()).unwrap();
        s.put("index.html", text.as_bytes()).unwrap();
        s.put("figures/a.svg", text.as_bytes()).unwrap();
        s.commit().unwrap();
    }

    fn siblings(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn a_report_replaces_the_old_one_whole() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("report");
        write(&out, "A");
        fs::write(out.join("figures/old-only.svg"), "stale").unwrap();
        write(&out, "B");
        assert_eq!(fs::read_to_string(out.join("index.html")).unwrap(), "B");
        assert!(!out.join("figures/old-only.svg").exists(), "nothing of the old report stays");
        assert_eq!(siblings(dir.path()), vec![".report.lock", "report"]);
    }

    #[test]
    fn an_abandoned_report_leaves_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("report");
        write(&out, "A");
        let s = Staging::begin(&out, &Progress::silent()).unwrap();
        s.put("index.html", b"half").unwrap();
        drop(s);
        assert_eq!(fs::read_to_string(out.join("index.html")).unwrap(), "A");
        assert_eq!(siblings(dir.path()), vec![".report.lock", "report"]);
    }

    #[test]
    fn leftovers_of_killed_processes_are_recovered_or_removed() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("report");
        write(&out, "A");
        // Killed between the two renames of a swap: only the backup holds the report.
        fs::rename(&out, dir.path().join(".report.old-4242")).unwrap();
        fs::create_dir_all(dir.path().join(".report.tmp-4243/data")).unwrap();
        let s = Staging::begin(&out, &Progress::silent()).unwrap();
        assert_eq!(fs::read_to_string(out.join("index.html")).unwrap(), "A", "backup renamed back");
        drop(s);
        assert_eq!(siblings(dir.path()), vec![".report.lock", "report"]);
    }

    #[test]
    fn a_directory_of_other_files_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let mine = dir.path().join("mine");
        fs::create_dir(&mine).unwrap();
        fs::write(mine.join("notes.txt"), "mine").unwrap();
        let err = Staging::begin(&mine, &Progress::silent()).unwrap_err();
        assert!(err.to_string().contains("notes.txt"), "{err}");
        assert!(mine.join("notes.txt").exists());
        let err = Staging::begin(&mine.join("notes.txt"), &Progress::silent()).unwrap_err();
        assert!(matches!(err, OutDirError::NotAReport { .. }), "{err}");
        // A report of an earlier version (no marker) is replaced.
        let old = dir.path().join("old");
        fs::create_dir_all(old.join("data")).unwrap();
        fs::write(old.join("index.html"), "old").unwrap();
        write(&old, "new");
        assert!(old.join(MARKER).exists());
    }
}
