//! Content-addressed artifact cache with atomic writes and verified reads.
//!
//! Layout: `{dir}/{namespace}/{key}.json`. Each file starts with one header line
//! `eoc-cache 1 sha256=<hex> len=<bytes>` followed by the JSON body; a read checks the length and
//! the hash of the body, so a truncated or altered file is detected, reported and treated as a miss.
//! Writes go to a temporary file in the same directory, are synced, then renamed into place.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: &str = "eoc-cache 1";

/// Error of a cache operation.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache I/O error at {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot serialize artifact for {path}: {source}")]
    Serialize { path: PathBuf, source: serde_json::Error },
    #[error("invalid cache namespace '{0}' (letters, digits, '-', '_' and '/' only)")]
    BadNamespace(String),
}

/// Why a cached file was rejected.
#[derive(Debug, Clone, PartialEq)]
pub enum Corruption {
    BadHeader,
    Truncated { expected: usize, found: usize },
    HashMismatch,
    BadJson(String),
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
        }
    }
}

/// Result of a verified read.
#[derive(Debug)]
pub enum Lookup<T> {
    Hit(T),
    Miss,
    /// The file existed but failed verification; it has been removed.
    Corrupt { path: PathBuf, why: Corruption },
}

/// Hex SHA-256 of the canonical JSON of `value` (serde_json writes object keys of maps in sorted
/// order for `BTreeMap` and `serde_json::Value`, and struct fields in declaration order).
pub fn hash_key<T: Serialize + ?Sized>(value: &T) -> String {
    let bytes = serde_json::to_vec(value).expect("key parts are always serializable");
    hex(&Sha256::digest(&bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The artifact cache rooted at one directory.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
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

    /// Whether an entry exists (not verified).
    pub fn contains(&self, ns: &str, key: &str) -> bool {
        self.path(ns, key).is_file()
    }

    /// Verified read. A corrupt entry is deleted and reported as [`Lookup::Corrupt`].
    pub fn load<T: DeserializeOwned>(&self, ns: &str, key: &str) -> Result<Lookup<T>, CacheError> {
        Self::check_ns(ns)?;
        let path = self.path(ns, key);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Lookup::Miss),
            Err(source) => return Err(CacheError::Io { path, source }),
        };
        match verify(&bytes).and_then(|body| {
            serde_json::from_slice::<T>(body).map_err(|e| Corruption::BadJson(e.to_string()))
        }) {
            Ok(v) => Ok(Lookup::Hit(v)),
            Err(why) => {
                let _ = fs::remove_file(&path);
                Ok(Lookup::Corrupt { path, why })
            }
        }
    }

    /// Atomic write: temporary file in the same directory, fsync, rename.
    pub fn store<T: Serialize + ?Sized>(&self, ns: &str, key: &str, value: &T) -> Result<PathBuf, CacheError> {
        Self::check_ns(ns)?;
        let path = self.path(ns, key);
        let body = serde_json::to_vec(value)
            .map_err(|source| CacheError::Serialize { path: path.clone(), source })?;
        let mut content = format!("{MAGIC} sha256={} len={}\n", hex(&Sha256::digest(&body)), body.len()).into_bytes();
        content.extend_from_slice(&body);
        write_atomic(&path, &content)?;
        Ok(path)
    }

    /// Removes one namespace (or everything with `None`). Returns the number of entries removed.
    pub fn clear(&self, ns: Option<&str>) -> Result<usize, CacheError> {
        let target = match ns {
            Some(ns) => {
                Self::check_ns(ns)?;
                self.dir.join(ns)
            }
            None => self.dir.clone(),
        };
        if !target.exists() {
            return Ok(0);
        }
        let n = count_entries(&target);
        fs::remove_dir_all(&target).map_err(|source| CacheError::Io { path: target.clone(), source })?;
        Ok(n)
    }

    /// Copies every verified entry of `other` that this cache lacks (for `cache merge`).
    /// Returns (copied, skipped-as-present, rejected-as-corrupt).
    pub fn merge_from(&self, other: &Path) -> Result<(usize, usize, Vec<PathBuf>), CacheError> {
        let mut copied = 0;
        let mut present = 0;
        let mut bad = Vec::new();
        let mut stack = vec![other.to_path_buf()];
        while let Some(d) = stack.pop() {
            let rd = fs::read_dir(&d).map_err(|source| CacheError::Io { path: d.clone(), source })?;
            for entry in rd.flatten() {
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                if p.extension().and_then(|e| e.to_str()) != Some("json") {
                    continue;
                }
                let rel = p.strip_prefix(other).expect("walked below other");
                let dest = self.dir.join(rel);
                if dest.is_file() {
                    present += 1;
                    continue;
                }
                let bytes = fs::read(&p).map_err(|source| CacheError::Io { path: p.clone(), source })?;
                if verify(&bytes).is_err() {
                    bad.push(p);
                    continue;
                }
                write_atomic(&dest, &bytes)?;
                copied += 1;
            }
        }
        Ok((copied, present, bad))
    }
}

fn count_entries(dir: &Path) -> usize {
    let mut n = 0;
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                n += count_entries(&p);
            } else if p.extension().and_then(|e| e.to_str()) == Some("json") {
                n += 1;
            }
        }
    }
    n
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

/// Writes `content` to `path` atomically (temporary file + fsync + rename).
pub fn write_atomic(path: &Path, content: &[u8]) -> Result<(), CacheError> {
    let io = |source| CacheError::Io { path: path.to_path_buf(), source };
    let parent = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io)?;
    let tmp = parent.join(format!(
        ".{}.tmp-{}-{:?}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
        std::process::id(),
        std::thread::current().id()
    ));
    let mut f = fs::File::create(&tmp).map_err(io)?;
    f.write_all(content).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    fs::rename(&tmp, path).map_err(io)
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
    fn rejects_path_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        assert!(cache.store("../evil", "k", &1).is_err());
    }

    #[test]
    fn key_depends_on_content() {
        assert_ne!(hash_key(&serde_json::json!({"a": 1})), hash_key(&serde_json::json!({"a": 2})));
        assert_eq!(hash_key(&serde_json::json!({"a": 1, "b": 2})), hash_key(&serde_json::json!({"b": 2, "a": 1})));
    }
}
