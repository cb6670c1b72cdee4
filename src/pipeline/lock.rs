//! Exclusive locks between edge-of-chaos processes (on a cache directory for a run, on a report
//! directory for rendering), and the liveness test that tells a dead process's temporary files
//! from a live one's.
//!
//! A lock is an OS file lock (`flock` on Unix) on a lock file: it is released when the holder
//! exits, however it exits (a killed process leaves no stale lock). The holder writes its process
//! id into the file, so a waiting process can say whom it waits for.

use super::Progress;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Error taking a lock.
#[derive(Debug, thiserror::Error)]
#[error("cannot lock {}: {source}", path.display())]
pub struct LockError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// An exclusive lock, held until dropped.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Takes the exclusive lock on `lock_file` (created if missing), which guards `what`. If
    /// another process holds it, prints "waiting for the lock held by another edge-of-chaos on
    /// WHAT" and waits until it is released.
    pub fn acquire(lock_file: &Path, what: &Path, progress: &Progress) -> Result<Self, LockError> {
        let err = |source| LockError { path: lock_file.to_path_buf(), source };
        if let Some(parent) = lock_file.parent() {
            std::fs::create_dir_all(parent).map_err(err)?;
        }
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(lock_file).map_err(err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                announce_wait(&mut file, what, progress);
                file.lock().map_err(err)?;
            }
            Err(TryLockError::Error(e)) => return Err(err(e)),
        }
        // Best effort: who holds it (for the message of a process that waits).
        let _ = file.set_len(0).and_then(|_| file.rewind()).and_then(|_| write!(file, "{}", std::process::id()));
        Ok(Self { _file: file, path: lock_file.to_path_buf() })
    }

    /// Takes a shared lock on an existing `lock_file` (readers: several may hold it, none while
    /// an exclusive holder writes), waiting with a message like [`DirLock::acquire`]. `None` when
    /// there is no lock file or it cannot be opened (a read-only copy of a directory).
    pub fn acquire_shared(lock_file: &Path, what: &Path, progress: &Progress) -> Option<Self> {
        let mut file = File::open(lock_file).ok()?;
        match file.try_lock_shared() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                announce_wait(&mut file, what, progress);
                file.lock_shared().ok()?;
            }
            Err(TryLockError::Error(_)) => return None,
        }
        Some(Self { _file: file, path: lock_file.to_path_buf() })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// "waiting for the lock held by another edge-of-chaos (process PID) on WHAT".
fn announce_wait(file: &mut File, what: &Path, progress: &Progress) {
    let mut holder = String::new();
    let _ = file.read_to_string(&mut holder);
    let holder = holder.trim().parse::<u32>().map(|p| format!(" (process {p})")).unwrap_or_default();
    progress.warn(&format!("waiting for the lock held by another edge-of-chaos{holder} on {}", what.display()));
}

/// Whether the process `pid` may still be running (`true` when it cannot be told).
pub fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    #[cfg(unix)]
    {
        let Ok(p) = libc::pid_t::try_from(pid) else { return false };
        if p <= 0 {
            return false;
        }
        // SAFETY: kill with signal 0 only checks whether the process exists; it sends nothing.
        let r = unsafe { libc::kill(p, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        true
    }
}

/// The process id in a temporary name `...{marker}{pid}` or `...{marker}{pid}-...`, if any.
pub fn temp_pid(name: &str, marker: &str) -> Option<u32> {
    let rest = &name[name.rfind(marker)? + marker.len()..];
    rest.split('-').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_of_temporary_names() {
        assert_eq!(temp_pid(".abc.json.tmp-1234-7", ".tmp-"), Some(1234));
        assert_eq!(temp_pid(".report.tmp-99", ".tmp-"), Some(99));
        assert_eq!(temp_pid("abc.json", ".tmp-"), None);
        assert_eq!(temp_pid(".x.tmp-zz-1", ".tmp-"), None);
    }

    #[test]
    fn liveness() {
        assert!(process_alive(std::process::id()));
        // A child that has exited and been reaped is gone.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!process_alive(pid) || cfg!(not(unix)));
    }

    #[test]
    fn a_second_lock_waits_for_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join(".lock");
        let first = DirLock::acquire(&f, dir.path(), &Progress::silent()).unwrap();
        assert_eq!(std::fs::read_to_string(first.path()).unwrap(), std::process::id().to_string());
        let (tx, rx) = std::sync::mpsc::channel();
        let f2 = f.clone();
        let d2 = dir.path().to_path_buf();
        let t = std::thread::spawn(move || {
            let _second = DirLock::acquire(&f2, &d2, &Progress::silent()).unwrap();
            tx.send(()).unwrap();
        });
        assert!(rx.recv_timeout(std::time::Duration::from_millis(300)).is_err(), "the second waits");
        drop(first);
        rx.recv_timeout(std::time::Duration::from_secs(10)).expect("and gets it when the first is released");
        t.join().unwrap();
    }
}
