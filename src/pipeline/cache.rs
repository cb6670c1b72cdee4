//! Content-addressed artifact cache with atomic writes and verified reads.
//!
//! Layout: `{dir}/{namespace}/{key}.json`. Each file starts with one header line
//! `eoc-cache 2 sha256=<hex> len=<bytes>` followed by the JSON body
//! `{"ns": namespace, "key": key, "value": ...}`. A read checks the length and the hash of the
//! body, and that the body names the namespace and key it is read under, so a truncated or
//! altered file, or a valid entry copied over another key, is detected, reported and treated as a
//! miss. Writes go to a temporary file `.{key}.json.tmp-{pid}-{n}` in the same directory, are
//! synced, then renamed into place; a run takes the directory's lock ([`Cache::lock`]) and removes
//! the temporary files of dead processes. Entries of the older layout (`eoc-cache 1`, no
//! namespace and key in the body) are misses: they are recomputed and overwritten.

use super::lock::{process_alive, temp_pid, DirLock};
use super::Progress;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::key::hex;
pub use super::key::{hash_key, key_value};

const MAGIC: &str = "eoc-cache 2";
/// Headers of layouts this version no longer reads (their entries are misses).
const OLD_MAGICS: &[&str] = &["eoc-cache 1"];
/// The lock file of a cache directory.
pub const LOCK_FILE: &str = ".lock";
/// The marker of temporary files: `.{name}.tmp-{pid}-{n}`.
const TMP: &str = ".tmp-";

/// Error of a cache operation.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache I/O error at {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot serialize artifact for {path}: {source}")]
    Serialize { path: PathBuf, source: serde_json::Error },
    #[error("invalid cache namespace '{0}' (letters, digits, '-', '_' and '/' only)")]
    BadNamespace(String),
    #[error(transparent)]
    Lock(#[from] super::lock::LockError),
}

/// Why a cached file was rejected.
#[derive(Debug, Clone, PartialEq)]
pub enum Corruption {
    BadHeader,
    Truncated {
        expected: usize,
        found: usize,
    },
    HashMismatch,
    BadJson(String),
    /// A valid entry, of another namespace or key (copied or renamed over this one).
    WrongEntry {
        ns: String,
        key: String,
    },
    /// A valid entry whose content belongs to something else (e.g. another stage or version).
    Mismatch(String),
}

impl std::fmt::Display for Corruption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadHeader => f.write_str("missing or malformed header"),
            Self::Truncated { expected, found } => {
                write!(f, "truncated: {found} bytes of {expected}")
            }
            Self::HashMismatch => f.write_str("content hash does not match"),
            Self::BadJson(e) => write!(f, "not the expected JSON: {e}"),
            Self::WrongEntry { ns, key } => write!(f, "it holds the entry {ns}/{key}, not this one"),
            Self::Mismatch(what) => f.write_str(what),
        }
    }
}

/// Result of a verified read.
#[derive(Debug)]
pub enum Lookup<T> {
    Hit(T),
    Miss,
    /// The file existed but failed verification; it has been removed.
    Corrupt {
        path: PathBuf,
        why: Corruption,
    },
}

/// What [`Cache::merge`] did.
#[derive(Debug, Default)]
pub struct MergeReport {
    /// Entries copied.
    pub copied: usize,
    /// Entries this cache already held (verified).
    pub present: usize,
    /// Entries that failed verification (not copied).
    pub corrupt: Vec<PathBuf>,
    /// Symbolic links (never followed, not copied).
    pub links: Vec<PathBuf>,
    /// Entries of an older cache layout (not copied: they would be misses).
    pub stale: usize,
}

/// The stored body: the value with the namespace and key it was stored under.
#[derive(Serialize)]
struct Envelope<'a, T: ?Sized> {
    ns: &'a str,
    key: &'a str,
    value: &'a T,
}

#[derive(Deserialize)]
struct Opened<T> {
    ns: String,
    key: String,
    value: T,
}

/// The namespace and key of a body (the value skipped).
#[derive(Deserialize)]
struct Head {
    ns: String,
    key: String,
}

/// The artifact cache rooted at one directory.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

/// The exclusive lock of a cache directory (see [`Cache::lock`]); released when dropped.
#[derive(Debug)]
pub struct CacheLock {
    _lock: Option<DirLock>,
    /// Temporary files of dead processes removed when the lock was taken.
    pub removed_temps: usize,
}

impl Cache {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn check_ns(ns: &str) -> Result<(), CacheError> {
        let ok = !ns.is_empty()
            && !ns.contains("..")
            && ns.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/'));
        if ok {
            Ok(())
        } else {
            Err(CacheError::BadNamespace(ns.to_string()))
        }
    }

    /// Path of an entry.
    pub fn path(&self, ns: &str, key: &str) -> PathBuf {
        self.dir.join(ns).join(format!("{key}.json"))
    }

    /// Takes the exclusive lock of the cache directory (waiting, with a message, while another
    /// edge-of-chaos holds it), then removes the temporary files that dead processes left.
    /// Hold it for the whole of a run that writes entries.
    ///
    /// Not reentrant: a thread that holds the lock must not take it again. A cache this process
    /// may not write (read-only, no permission) is used without the lock, with a warning: nothing
    /// can be written into it then.
    pub fn lock(&self, progress: &Progress) -> Result<CacheLock, CacheError> {
        let lock = match DirLock::acquire(&self.dir.join(LOCK_FILE), &self.dir, progress) {
            Ok(lock) => Some(lock),
            Err(e) if matches!(e.source.kind(), ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem) => {
                progress.warn(&format!("{e}; reading the cache without its lock (it cannot be written)"));
                return Ok(CacheLock { _lock: None, removed_temps: 0 });
            }
            Err(e) => return Err(e.into()),
        };
        let removed_temps = remove_dead_temps(&self.dir);
        if removed_temps > 0 {
            progress.detail(&format!(
                "removed {removed_temps} temporary file(s) of dead processes from {}",
                self.dir.display()
            ));
        }
        Ok(CacheLock { _lock: lock, removed_temps })
    }

    /// Whether an entry of the current layout exists (its content is not verified).
    pub fn contains(&self, ns: &str, key: &str) -> bool {
        let mut head = [0u8; MAGIC.len() + 1];
        fs::File::open(self.path(ns, key)).and_then(|mut f| f.read_exact(&mut head)).is_ok()
            && head[..MAGIC.len()] == *MAGIC.as_bytes()
            && head[MAGIC.len()] == b' '
    }

    /// Verified read. A corrupt entry is deleted and reported as [`Lookup::Corrupt`]; an entry of
    /// an older layout is a [`Lookup::Miss`].
    pub fn load<T: DeserializeOwned>(&self, ns: &str, key: &str) -> Result<Lookup<T>, CacheError> {
        Self::check_ns(ns)?;
        let path = self.path(ns, key);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Lookup::Miss),
            Err(source) => return Err(CacheError::Io { path, source }),
        };
        if is_stale(&bytes) {
            return Ok(Lookup::Miss);
        }
        match decode(&bytes, ns, key) {
            Ok(v) => Ok(Lookup::Hit(v)),
            Err(why) => Ok(self.reject(ns, key, why)),
        }
    }

    /// Removes an entry found to be wrong (e.g. a caller's check of its content failed) and
    /// returns the [`Lookup::Corrupt`] to report.
    pub fn reject<T>(&self, ns: &str, key: &str, why: Corruption) -> Lookup<T> {
        let path = self.path(ns, key);
        let _ = fs::remove_file(&path);
        Lookup::Corrupt { path, why }
    }

    /// Atomic write: temporary file in the same directory, fsync, rename.
    pub fn store<T: Serialize + ?Sized>(&self, ns: &str, key: &str, value: &T) -> Result<PathBuf, CacheError> {
        Self::check_ns(ns)?;
        let path = self.path(ns, key);
        let body = serde_json::to_vec(&Envelope { ns, key, value })
            .map_err(|source| CacheError::Serialize { path: path.clone(), source })?;
        let mut content = format!("{MAGIC} sha256={} len={}\n", hex(&Sha256::digest(&body)), body.len()).into_bytes();
        content.extend_from_slice(&body);
        write_atomic(&path, &content)?;
        Ok(path)
    }

    /// Removes one namespace (or every entry with `None`), under the directory's lock. Returns
    /// the number of entries removed.
    pub fn clear(&self, ns: Option<&str>) -> Result<usize, CacheError> {
        if let Some(ns) = ns {
            Self::check_ns(ns)?;
        }
        if !self.dir.is_dir() {
            return Ok(0);
        }
        let _lock = self.lock(&Progress::new(super::Verbosity::Normal))?;
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CacheError::Io { path, source }
        };
        let targets: Vec<PathBuf> = match ns {
            Some(ns) => vec![self.dir.join(ns)],
            None => fs::read_dir(&self.dir)
                .map_err(io(&self.dir))?
                .flatten()
                .filter(|e| e.file_name() != LOCK_FILE)
                .map(|e| e.path())
                .collect(),
        };
        let mut n = 0;
        for t in targets {
            match fs::symlink_metadata(&t) {
                Ok(m) if m.is_dir() => {
                    n += count_entries(&t);
                    fs::remove_dir_all(&t).map_err(io(&t))?;
                }
                Ok(_) => {
                    n += usize::from(t.extension().is_some_and(|e| e == "json"));
                    fs::remove_file(&t).map_err(io(&t))?;
                }
                Err(_) => {}
            }
        }
        Ok(n)
    }

    /// Copies every verified entry of `other` that this cache lacks (for `cache merge`), holding
    /// this cache's lock (and a shared lock on `other` if it has a lock file). Symbolic links are
    /// never followed: they are listed in [`MergeReport::links`] and skipped.
    pub fn merge(&self, other: &Path, progress: &Progress) -> Result<MergeReport, CacheError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CacheError::Io { path, source }
        };
        let mut report = MergeReport::default();
        fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let me = fs::canonicalize(&self.dir).map_err(io(&self.dir))?;
        let root = fs::canonicalize(other).map_err(io(other))?;
        if root == me {
            return Ok(report);
        }
        let _mine = self.lock(progress)?;
        let _theirs = DirLock::acquire_shared(&other.join(LOCK_FILE), other, progress);
        let mut stack = vec![other.to_path_buf()];
        while let Some(d) = stack.pop() {
            let rd = fs::read_dir(&d).map_err(io(&d))?;
            for entry in rd.flatten() {
                let p = entry.path();
                // `DirEntry::file_type` does not follow symbolic links.
                let Ok(ft) = entry.file_type() else { continue };
                if ft.is_symlink() {
                    report.links.push(p);
                    continue;
                }
                if ft.is_dir() {
                    // Never walk into this cache itself (if it lies inside `other`).
                    if fs::canonicalize(&p).is_ok_and(|c| c != me) {
                        stack.push(p);
                    }
                    continue;
                }
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if !ft.is_file() || name.starts_with('.') || !name.ends_with(".json") {
                    continue;
                }
                let Ok(rel) = p.strip_prefix(other) else { continue };
                let ns = rel.parent().map(|r| r.to_string_lossy().replace('\\', "/")).unwrap_or_default();
                let key = name.trim_end_matches(".json");
                if Self::check_ns(&ns).is_err() {
                    continue;
                }
                let bytes = fs::read(&p).map_err(io(&p))?;
                if is_stale(&bytes) {
                    report.stale += 1;
                    continue;
                }
                if verify_entry(&bytes, &ns, key).is_err() {
                    report.corrupt.push(p);
                    continue;
                }
                let dest = self.path(&ns, key);
                if fs::read(&dest).is_ok_and(|b| verify_entry(&b, &ns, key).is_ok()) {
                    report.present += 1;
                    continue;
                }
                write_atomic(&dest, &bytes)?;
                report.copied += 1;
            }
        }
        Ok(report)
    }

    /// [`Cache::merge`] with warnings for skipped symbolic links printed on stderr.
    /// Returns (copied, skipped-as-present, rejected-as-corrupt).
    pub fn merge_from(&self, other: &Path) -> Result<(usize, usize, Vec<PathBuf>), CacheError> {
        let progress = Progress::new(super::Verbosity::Normal);
        let r = self.merge(other, &progress)?;
        for l in &r.links {
            progress.warn(&format!("skipped symbolic link {} (links are never followed)", l.display()));
        }
        Ok((r.copied, r.present, r.corrupt))
    }
}

fn count_entries(dir: &Path) -> usize {
    let mut n = 0;
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                n += count_entries(&e.path());
            } else if e.path().extension().and_then(|e| e.to_str()) == Some("json") {
                n += 1;
            }
        }
    }
    n
}

/// Removes, below `dir` (symbolic links not followed), the temporary files of processes that no
/// longer run. Returns how many it removed.
fn remove_dead_temps(dir: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if !name.starts_with('.') {
                    continue;
                }
                if let Some(pid) = temp_pid(&name, TMP) {
                    if !process_alive(pid) && fs::remove_file(e.path()).is_ok() {
                        n += 1;
                    }
                }
            }
        }
    }
    n
}

/// Whether the file has the header of an older layout.
fn is_stale(bytes: &[u8]) -> bool {
    OLD_MAGICS.iter().any(|m| bytes.starts_with(m.as_bytes()) && bytes.get(m.len()) == Some(&b' '))
}

/// Checks header, length and hash; returns the body.
fn verify(bytes: &[u8]) -> Result<&[u8], Corruption> {
    let nl = bytes.iter().position(|&b| b == b'\n').ok_or(Corruption::BadHeader)?;
    let header = std::str::from_utf8(&bytes[..nl]).map_err(|_| Corruption::BadHeader)?;
    let rest = header.strip_prefix(MAGIC).ok_or(Corruption::BadHeader)?;
    let mut hash = None;
    let mut len = None;
    for field in rest.split_whitespace() {
        if let Some(h) = field.strip_prefix("sha256=") {
            hash = Some(h);
        } else if let Some(l) = field.strip_prefix("len=") {
            len = l.parse::<usize>().ok();
        }
    }
    let (hash, len) = (hash.ok_or(Corruption::BadHeader)?, len.ok_or(Corruption::BadHeader)?);
    let body = &bytes[nl + 1..];
    if body.len() != len {
        return Err(Corruption::Truncated { expected: len, found: body.len() });
    }
    if hex(&Sha256::digest(body)) != hash {
        return Err(Corruption::HashMismatch);
    }
    Ok(body)
}

/// The value of an entry's bytes (the whole file, header included), verified: header, length and
/// hash ([`verify`]), JSON of the expected type, and a body that names namespace `ns` and key
/// `key`. [`Cache::load`] reads the file and decodes it with this; any input, however altered,
/// gives a value or a [`Corruption`] (`tests/fuzz.rs` checks it).
pub fn decode<T: DeserializeOwned>(bytes: &[u8], ns: &str, key: &str) -> Result<T, Corruption> {
    let body = verify(bytes)?;
    let o = serde_json::from_slice::<Opened<T>>(body).map_err(|e| Corruption::BadJson(e.to_string()))?;
    if o.ns != ns || o.key != key {
        return Err(Corruption::WrongEntry { ns: o.ns, key: o.key });
    }
    Ok(o.value)
}

/// [`verify`], and the body names namespace `ns` and key `key`.
fn verify_entry(bytes: &[u8], ns: &str, key: &str) -> Result<(), Corruption> {
    let body = verify(bytes)?;
    let head: Head = serde_json::from_slice(body).map_err(|e| Corruption::BadJson(e.to_string()))?;
    if head.ns != ns || head.key != key {
        return Err(Corruption::WrongEntry { ns: head.ns, key: head.key });
    }
    Ok(())
}

/// Writes `content` to `path` atomically: a temporary file `.{name}.tmp-{pid}-{n}` beside it,
/// fsync, rename.
pub fn write_atomic(path: &Path, content: &[u8]) -> Result<(), CacheError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let io = |source| CacheError::Io { path: path.to_path_buf(), source };
    let parent = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io)?;
    let tmp = parent.join(format!(
        ".{}{TMP}{}-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(content)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_corruption_detection() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let key = hash_key(&("x", 1));
        cache.store("ns/a", &key, &vec![1.5, 2.5]).unwrap();
        assert!(matches!(cache.load::<Vec<f64>>("ns/a", &key).unwrap(), Lookup::Hit(v) if v == vec![1.5, 2.5]));

        // truncate
        let p = cache.path("ns/a", &key);
        let bytes = fs::read(&p).unwrap();
        fs::write(&p, &bytes[..bytes.len() - 3]).unwrap();
        assert!(matches!(
            cache.load::<Vec<f64>>("ns/a", &key).unwrap(),
            Lookup::Corrupt { why: Corruption::Truncated { .. }, .. }
        ));
        assert!(!p.exists(), "corrupt entry is removed");

        // same length, altered byte
        cache.store("ns/a", &key, &vec![1.5, 2.5]).unwrap();
        let mut bytes = fs::read(&p).unwrap();
        let n = bytes.len();
        bytes[n - 2] = b'7';
        fs::write(&p, &bytes).unwrap();
        assert!(matches!(
            cache.load::<Vec<f64>>("ns/a", &key).unwrap(),
            Lookup::Corrupt { why: Corruption::HashMismatch, .. }
        ));
        assert!(matches!(cache.load::<Vec<f64>>("ns/a", &key).unwrap(), Lookup::Miss));
    }

    #[test]
    fn an_entry_copied_over_another_key_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        cache.store("ns/a", "k1", &1.5).unwrap();
        cache.store("ns/a", "k2", &2.5).unwrap();
        fs::copy(cache.path("ns/a", "k1"), cache.path("ns/a", "k2")).unwrap();
        match cache.load::<f64>("ns/a", "k2").unwrap() {
            Lookup::Corrupt { why: Corruption::WrongEntry { ns, key }, .. } => {
                assert_eq!((ns.as_str(), key.as_str()), ("ns/a", "k1"))
            }
            other => panic!("{other:?}"),
        }
        assert!(!cache.contains("ns/a", "k2"), "removed");
        // Another namespace, same key.
        fs::create_dir_all(dir.path().join("ns/b")).unwrap();
        fs::copy(cache.path("ns/a", "k1"), cache.path("ns/b", "k1")).unwrap();
        assert!(matches!(
            cache.load::<f64>("ns/b", "k1").unwrap(),
            Lookup::Corrupt { why: Corruption::WrongEntry { .. }, .. }
        ));
        assert!(matches!(cache.load::<f64>("ns/a", "k1").unwrap(), Lookup::Hit(x) if x == 1.5));
    }

    #[test]
    fn entries_of_the_old_layout_are_misses() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let p = cache.path("ns", "k");
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        let body = b"[1.5]";
        let mut old = format!("eoc-cache 1 sha256={} len={}\n", hex(&Sha256::digest(body)), body.len()).into_bytes();
        old.extend_from_slice(body);
        fs::write(&p, &old).unwrap();
        assert!(!cache.contains("ns", "k"));
        assert!(matches!(cache.load::<Vec<f64>>("ns", "k").unwrap(), Lookup::Miss));
        cache.store("ns", "k", &vec![1.5]).unwrap();
        assert!(cache.contains("ns", "k"));
        assert!(matches!(cache.load::<Vec<f64>>("ns", "k").unwrap(), Lookup::Hit(_)));
    }

    #[test]
    fn floats_round_trip_exactly() {
        // Without serde_json's `float_roundtrip`, 10.000000000000007 reads back as 10.000000000000009.
        let x = 10.000000000000007_f64;
        let back: f64 = serde_json::from_str(&serde_json::to_string(&x).unwrap()).unwrap();
        assert_eq!(back.to_bits(), x.to_bits());
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        // Values of every magnitude, from a fixed linear congruential sequence of bit patterns.
        let mut xs = vec![x, 0.1 + 0.2, 1.0 / 3.0, 5e-324, f64::MAX, 2.2250738585072014e-308];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let y = f64::from_bits(state);
            if y.is_finite() {
                xs.push(y);
            }
        }
        cache.store("f", "k", &xs).unwrap();
        let Lookup::Hit(ys) = cache.load::<Vec<f64>>("f", "k").unwrap() else { panic!("miss") };
        assert!(xs.iter().zip(&ys).all(|(a, b)| a.to_bits() == b.to_bits()));
        // Through serde_json::Value too (artifact summaries are Values).
        let v: serde_json::Value = serde_json::from_str(&serde_json::to_string(&xs).unwrap()).unwrap();
        let zs: Vec<f64> = serde_json::from_value(v).unwrap();
        assert!(xs.iter().zip(&zs).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[cfg(unix)]
    #[test]
    fn merge_skips_symbolic_links_and_corrupt_entries() {
        let (src, dst) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let theirs = Cache::new(src.path());
        theirs.store("t/a", "k1", &1).unwrap();
        theirs.store("t/a", "k2", &2).unwrap();
        // A loop (a link to an ancestor) and a link to a file.
        std::os::unix::fs::symlink(src.path(), src.path().join("t/a/loop")).unwrap();
        std::os::unix::fs::symlink(theirs.path("t/a", "k1"), src.path().join("t/a/k3.json")).unwrap();
        // A corrupt entry.
        fs::write(theirs.path("t/a", "k4"), b"eoc-cache 2 sha256=00 len=1\nx").unwrap();
        let mine = Cache::new(dst.path().join("c"));
        mine.store("t/a", "k2", &2).unwrap();
        let r = mine.merge(src.path(), &Progress::silent()).unwrap();
        assert_eq!((r.copied, r.present, r.corrupt.len(), r.links.len()), (1, 1, 1, 2), "{r:?}");
        assert!(matches!(mine.load::<i32>("t/a", "k1").unwrap(), Lookup::Hit(1)));
        assert!(!dst.path().join("c/t/a/loop").exists() && !mine.contains("t/a", "k3"));
        // Merging a cache into itself, or into a directory inside it, copies nothing.
        let r = mine.merge(dst.path(), &Progress::silent()).unwrap();
        assert_eq!(r.copied, 0);
        assert!(!dst.path().join("c/c").exists());
    }

    #[test]
    fn taking_the_lock_removes_temporary_files_of_dead_processes() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        cache.store("ns", "k", &1).unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let stale = dir.path().join(format!("ns/.k.json.tmp-{dead}-0"));
        let live = dir.path().join(format!("ns/.x.json.tmp-{}-0", std::process::id()));
        fs::write(&stale, b"partial").unwrap();
        fs::write(&live, b"being written").unwrap();
        let lock = cache.lock(&Progress::silent()).unwrap();
        assert_eq!(lock.removed_temps, 1);
        assert!(!stale.exists() && live.exists());
        drop(lock);
        // `clear` keeps the lock file.
        assert_eq!(cache.clear(None).unwrap(), 1);
        assert!(dir.path().join(LOCK_FILE).exists());
    }

    #[test]
    fn rejects_path_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        assert!(cache.store("../evil", "k", &1).is_err());
    }

    #[test]
    fn key_depends_on_content() {
        assert_ne!(hash_key(&serde_json::json!({"a": 1})), hash_key(&serde_json::json!({"a": 1.0})));
        assert_ne!(hash_key(&serde_json::json!({"a": 1})), hash_key(&serde_json::json!({"a": 2})));
        assert_eq!(hash_key(&serde_json::json!({"a": 1, "b": 2})), hash_key(&serde_json::json!({"b": 2, "a": 1})));
    }
}
