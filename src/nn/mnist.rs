//! MNIST loader: the four IDX files (gzip-compressed, or plain), verified on load.
//!
//! Checks, in order, each naming the file when it fails ([`MnistError`]): the file exists
//! (`NAME.gz`, else `NAME`); it decompresses (a truncated or altered `.gz` fails its deflate
//! stream or CRC-32); the magic number (2051 images, 2049 labels); the dimensions (60000 or 10000
//! items of 28 x 28); the data length announced by the header (the file is streamed and never
//! read past it, so a gzip bomb is not decompressed); the SHA-256 of the uncompressed
//! content against `data/mnist/SHA256SUMS.uncompressed` (compiled into the program, so a
//! directory given on the command line is checked against the shipped sums).
//!
//! Pixels $p \in \{0, \dots, 255\}$ are scaled to $u = p/255 \in [0, 1]$ and standardized with
//! the training set's mean $\mu$ and standard deviation $\sigma$ (over all $60000 \cdot 784$
//! pixels): $\tilde u = (u - \mu)/\sigma$. The images are kept as bytes (47 MB); batches are
//! standardized while they are gathered, through a 256-entry table.

use super::scalar::Scalar;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Pixels per image.
pub const PIXELS: usize = 28 * 28;
/// Number of classes.
pub const CLASSES: usize = 10;
/// Environment variable naming the MNIST directory.
pub const ENV_DIR: &str = "EOC_MNIST_DIR";

const SUMS: &str = include_str!("../../data/mnist/SHA256SUMS.uncompressed");

/// What is wrong with an MNIST file.
#[derive(Debug, thiserror::Error)]
pub enum MnistError {
    #[error("MNIST file {} is missing (looked for it and for its .gz); give the directory with --mnist-dir or {ENV_DIR}", .0.display())]
    Missing(PathBuf),
    #[error("cannot read MNIST file {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("MNIST file {} is truncated or corrupt (gzip stream does not decode: {source})", path.display())]
    Gzip { path: PathBuf, source: std::io::Error },
    #[error("MNIST file {} has magic number {found}, expected {expected} (not an IDX {kind} file)", path.display())]
    Magic { path: PathBuf, found: u32, expected: u32, kind: &'static str },
    #[error("MNIST file {} has {what} = {found}, expected {expected}", path.display())]
    Dims { path: PathBuf, what: &'static str, found: usize, expected: usize },
    #[error("MNIST file {} holds {found} data bytes, its header announces {expected} (truncated or padded)", path.display())]
    Length { path: PathBuf, found: usize, expected: usize },
    #[error("MNIST file {} holds more than the {expected} data bytes its header announces (padded, or not an MNIST file); stopped reading there", path.display())]
    TooLong { path: PathBuf, expected: usize },
    #[error("MNIST file {} is altered or corrupt: SHA-256 of its content is {found}, expected {expected}", path.display())]
    Checksum { path: PathBuf, found: String, expected: String },
}

impl MnistError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::Missing(p) => p,
            Self::Io { path, .. }
            | Self::Gzip { path, .. }
            | Self::Magic { path, .. }
            | Self::Dims { path, .. }
            | Self::Length { path, .. }
            | Self::TooLong { path, .. }
            | Self::Checksum { path, .. } => path,
        }
    }
}

/// One split (training or test): `n` images of [`PIXELS`] bytes, image after image, and labels.
#[derive(Clone, Debug)]
pub struct Split {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
}

impl Split {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image `i` as bytes.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * PIXELS..(i + 1) * PIXELS]
    }

    /// Number of images of each digit.
    pub fn label_counts(&self) -> [usize; CLASSES] {
        let mut c = [0; CLASSES];
        for &l in &self.labels {
            c[l as usize] += 1;
        }
        c
    }
}

/// The verified data set and its standardization.
#[derive(Clone, Debug)]
pub struct Mnist {
    pub train: Split,
    pub test: Split,
    /// $\mu$: mean of the training pixels scaled to [0, 1].
    pub mean: f64,
    /// $\sigma$: their (population) standard deviation.
    pub std: f64,
    lut: [f64; 256],
}

/// The directory to read: the argument, else `$EOC_MNIST_DIR`, else `data/mnist` under the
/// current directory if it exists, else `data/mnist` under the crate root.
pub fn resolve_dir(arg: Option<&Path>) -> PathBuf {
    if let Some(p) = arg {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os(ENV_DIR).filter(|s| !s.is_empty()) {
        return PathBuf::from(p);
    }
    let local = PathBuf::from("data/mnist");
    if local.is_dir() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")
}

fn expected_sum(name: &str) -> &'static str {
    SUMS.lines()
        .filter_map(|l| l.split_once(char::is_whitespace))
        .find(|(_, f)| f.trim() == name)
        .map(|(s, _)| s)
        .expect("SHA256SUMS.uncompressed lists every MNIST file")
}

fn locate(dir: &Path, name: &str) -> Result<(PathBuf, bool), MnistError> {
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok((gz, true));
    }
    let plain = dir.join(name);
    if plain.is_file() {
        return Ok((plain, false));
    }
    Err(MnistError::Missing(plain))
}

fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
}

/// Reads and verifies one IDX file of `dir` (`NAME.gz`, else `NAME`) with [`read_idx_from`],
/// against its SHA-256 in `data/mnist/SHA256SUMS.uncompressed`.
fn read_idx(dir: &Path, name: &str, images: bool, count: usize) -> Result<Vec<u8>, MnistError> {
    let (path, gzip) = locate(dir, name)?;
    let file = std::fs::File::open(&path).map_err(|source| MnistError::Io { path: path.clone(), source })?;
    let spec = IdxSpec { path: &path, gzip, images, count, sha256: Some(expected_sum(name)) };
    read_idx_from(std::io::BufReader::new(file), &spec)
}

/// What an IDX stream must hold, and where it comes from (for the errors).
#[derive(Clone, Copy, Debug)]
pub struct IdxSpec<'a> {
    /// The file, named in every error.
    pub path: &'a Path,
    /// Whether the stream is gzip-compressed (decoded on the fly).
    pub gzip: bool,
    /// An images file (magic 2051, `count` x 28 x 28) or a labels file (magic 2049, `count`).
    pub images: bool,
    /// The number of items the header must announce.
    pub count: usize,
    /// The hex SHA-256 of the uncompressed content (header and data), if it is to be checked.
    pub sha256: Option<&'a str>,
}

/// Reads and verifies one IDX stream (raw bytes of the file, gzip-compressed if `spec.gzip`);
/// returns the data bytes after the header.
///
/// The stream is read through the gzip decoder for `.gz`: the header is read and checked
/// first, then exactly the number of data bytes it announces, then one more read must find the
/// end of the stream (which also checks the gzip CRC-32). So nothing larger than the size the
/// header implies (47 MB for the training images, and only once the header matched
/// `spec.count`) is ever allocated, decompressed or held: a stream that is longer fails with
/// [`MnistError::TooLong`] after that many bytes, one that is shorter with
/// [`MnistError::Length`]. Any input, however altered, gives the data or an error
/// (`tests/fuzz.rs` checks it).
pub fn read_idx_from(reader: impl Read, spec: &IdxSpec) -> Result<Vec<u8>, MnistError> {
    let IdxSpec { path, gzip, images, count, sha256 } = *spec;
    let path = path.to_path_buf();
    let mut reader: Box<dyn Read + '_> =
        if gzip { Box::new(flate2::read::GzDecoder::new(reader)) } else { Box::new(reader) };
    // Errors of the decoder are corruption of the .gz; of a plain file, I/O errors.
    let fail = |source: std::io::Error| {
        if gzip {
            MnistError::Gzip { path: path.clone(), source }
        } else {
            MnistError::Io { path: path.clone(), source }
        }
    };
    let (magic, header_len) = if images { (2051, 16) } else { (2049, 8) };
    let kind = if images { "images" } else { "labels" };
    let mut header = Vec::with_capacity(header_len);
    (&mut reader).take(header_len as u64).read_to_end(&mut header).map_err(fail)?;
    if header.len() < header_len {
        return Err(MnistError::Length { path, found: header.len(), expected: header_len });
    }
    let found = be32(&header, 0);
    if found != magic {
        return Err(MnistError::Magic { path, found, expected: magic, kind });
    }
    let n = be32(&header, 1) as usize;
    if n != count {
        return Err(MnistError::Dims { path, what: "number of items", found: n, expected: count });
    }
    let item = if images {
        for (i, what) in [(2, "rows"), (3, "columns")] {
            let d = be32(&header, i) as usize;
            if d != 28 {
                return Err(MnistError::Dims { path, what, found: d, expected: 28 });
            }
        }
        PIXELS
    } else {
        1
    };
    let expected_len = n * item;
    let mut data = Vec::with_capacity(expected_len);
    (&mut reader).take(expected_len as u64).read_to_end(&mut data).map_err(fail)?;
    if data.len() != expected_len {
        return Err(MnistError::Length { path, found: data.len(), expected: expected_len });
    }
    let mut extra = [0u8; 1];
    let more = loop {
        match reader.read(&mut extra) {
            Ok(k) => break k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(fail(e)),
        }
    };
    if more > 0 {
        return Err(MnistError::TooLong { path, expected: expected_len });
    }
    let mut hasher = Sha256::new();
    hasher.update(&header);
    hasher.update(&data);
    let found: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    if let Some(expected) = sha256.filter(|e| found != *e) {
        return Err(MnistError::Checksum { path, found, expected: expected.to_string() });
    }
    Ok(data)
}

impl Mnist {
    /// Loads and verifies the four files in `dir`.
    pub fn load(dir: &Path) -> Result<Self, MnistError> {
        let files = [
            ("train-labels-idx1-ubyte", false, 60_000),
            ("t10k-labels-idx1-ubyte", false, 10_000),
            ("train-images-idx3-ubyte", true, 60_000),
            ("t10k-images-idx3-ubyte", true, 10_000),
        ];
        for (name, _, _) in files {
            locate(dir, name)?;
        }
        let mut data: Vec<Vec<u8>> = Vec::with_capacity(4);
        for (name, images, count) in files {
            let bytes = read_idx(dir, name, images, count)?;
            if !images {
                if let Some(pos) = bytes.iter().position(|&l| l as usize >= CLASSES) {
                    let (path, _) = locate(dir, name)?;
                    return Err(MnistError::Dims {
                        path,
                        what: "label value",
                        found: bytes[pos] as usize,
                        expected: 9,
                    });
                }
            }
            data.push(bytes);
        }
        let test_images = data.pop().expect("4 files");
        let train_images = data.pop().expect("4 files");
        let test_labels = data.pop().expect("4 files");
        let train_labels = data.pop().expect("4 files");
        Ok(Self::from_splits(
            Split { images: train_images, labels: train_labels },
            Split { images: test_images, labels: test_labels },
        ))
    }

    /// Builds the data set from in-memory splits (computing the standardization from `train`).
    pub fn from_splits(train: Split, test: Split) -> Self {
        let mut hist = [0u64; 256];
        for &p in &train.images {
            hist[p as usize] += 1;
        }
        let count = train.images.len().max(1) as f64;
        let mean = hist.iter().enumerate().map(|(v, &c)| c as f64 * v as f64 / 255.0).sum::<f64>() / count;
        let var =
            hist.iter().enumerate().map(|(v, &c)| c as f64 * (v as f64 / 255.0 - mean).powi(2)).sum::<f64>() / count;
        let std = if var > 0.0 { var.sqrt() } else { 1.0 };
        let mut lut = [0.0; 256];
        for (v, x) in lut.iter_mut().enumerate() {
            *x = (v as f64 / 255.0 - mean) / std;
        }
        Self { train, test, mean, std, lut }
    }

    /// Loads from [`resolve_dir`]`(dir)`.
    pub fn load_from(dir: Option<&Path>) -> Result<Self, MnistError> {
        Self::load(&resolve_dir(dir))
    }

    /// The standardized value of pixel byte `p`.
    pub fn standardize<T: Scalar>(&self, p: u8) -> T {
        T::of(self.lut[p as usize])
    }

    /// Writes the standardized images `idx` of `split`, image after image, into `out`
    /// (`idx.len() * 784` values), and returns nothing; no allocation.
    pub fn gather<T: Scalar>(&self, split: &Split, idx: &[usize], out: &mut [T]) {
        let mut lut = [T::zero(); 256];
        for (d, &s) in lut.iter_mut().zip(&self.lut) {
            *d = T::of(s);
        }
        for (&i, dst) in idx.iter().zip(out.chunks_exact_mut(PIXELS)) {
            for (d, &p) in dst.iter_mut().zip(split.image(i)) {
                *d = lut[p as usize];
            }
        }
    }

    /// Like [`Mnist::gather`] for the contiguous range `lo..hi`.
    pub fn gather_range<T: Scalar>(&self, split: &Split, lo: usize, hi: usize, out: &mut [T]) {
        let mut lut = [T::zero(); 256];
        for (d, &s) in lut.iter_mut().zip(&self.lut) {
            *d = T::of(s);
        }
        for (d, &p) in out.iter_mut().zip(&split.images[lo * PIXELS..hi * PIXELS]) {
            *d = lut[p as usize];
        }
    }
}

/// The shipped data set, loaded once per test binary.
#[cfg(test)]
pub(crate) fn test_data() -> &'static Mnist {
    static DATA: std::sync::OnceLock<Mnist> = std::sync::OnceLock::new();
    DATA.get_or_init(|| Mnist::load(&resolve_dir(None)).expect("shipped MNIST files load"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn shipped_data_matches_published_figures() {
        let m = test_data();
        assert_eq!(m.train.len(), 60_000);
        assert_eq!(m.test.len(), 10_000);
        // data/README.md (LeCun et al.'s published counts).
        assert_eq!(m.train.label_counts(), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
        assert_eq!(m.test.label_counts(), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
        // The published normalization constants (torchvision's MNIST example): 0.1307, 0.3081.
        assert!((m.mean - 0.1307).abs() < 5e-5, "mean {}", m.mean);
        assert!((m.std - 0.3081).abs() < 5e-5, "std {}", m.std);
        // Standardized training pixels: mean 0, variance 1.
        let mut s = [0.0f64; 2];
        let idx: Vec<usize> = (0..60_000).collect();
        let mut buf = vec![0.0f64; PIXELS];
        for &i in &idx[..60_000] {
            m.gather(&m.train, &[i], &mut buf);
            for &x in &buf {
                s[0] += x;
                s[1] += x * x;
            }
        }
        let n = (60_000 * PIXELS) as f64;
        assert!((s[0] / n).abs() < 1e-9);
        assert!((s[1] / n - 1.0).abs() < 1e-9);
    }

    fn copy_dir() -> tempfile::TempDir {
        let src = resolve_dir(None);
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        ] {
            std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
        }
        dir
    }

    fn gunzip(path: &Path) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()).read_to_end(&mut out).unwrap();
        out
    }

    fn gzip(bytes: &[u8], path: &Path) {
        let mut e = flate2::write::GzEncoder::new(std::fs::File::create(path).unwrap(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap();
    }

    #[test]
    fn missing_file_is_named() {
        let dir = copy_dir();
        std::fs::remove_file(dir.path().join("t10k-images-idx3-ubyte.gz")).unwrap();
        let err = Mnist::load(dir.path()).unwrap_err();
        assert!(matches!(err, MnistError::Missing(_)), "{err}");
        assert!(err.to_string().contains("t10k-images-idx3-ubyte"), "{err}");
    }

    #[test]
    fn truncated_gzip_is_reported() {
        let dir = copy_dir();
        let p = dir.path().join("train-labels-idx1-ubyte.gz");
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        let err = Mnist::load(dir.path()).unwrap_err();
        assert!(matches!(err, MnistError::Gzip { .. }), "{err}");
        assert_eq!(err.path(), p);
        assert!(err.to_string().contains("train-labels-idx1-ubyte.gz"), "{err}");
    }

    #[test]
    fn truncated_plain_file_is_reported() {
        let dir = copy_dir();
        let gz = dir.path().join("t10k-labels-idx1-ubyte.gz");
        let content = gunzip(&gz);
        std::fs::remove_file(&gz).unwrap();
        let plain = dir.path().join("t10k-labels-idx1-ubyte");
        std::fs::write(&plain, &content[..content.len() - 100]).unwrap();
        let err = Mnist::load(dir.path()).unwrap_err();
        match &err {
            MnistError::Length { found, expected, .. } => assert_eq!((*found, *expected), (9_900, 10_000)),
            e => panic!("{e}"),
        }
        assert_eq!(err.path(), plain);
    }

    #[test]
    fn one_altered_byte_is_reported() {
        // In the compressed file: the deflate stream or its CRC-32 fails.
        let dir = copy_dir();
        let p = dir.path().join("train-labels-idx1-ubyte.gz");
        let mut bytes = std::fs::read(&p).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x10;
        std::fs::write(&p, &bytes).unwrap();
        let err = Mnist::load(dir.path()).unwrap_err();
        assert!(matches!(err, MnistError::Gzip { .. }), "{err}");
        assert_eq!(err.path(), p);

        // In the content, recompressed (valid gzip, wrong data): the SHA-256 fails.
        let dir = copy_dir();
        let p = dir.path().join("t10k-labels-idx1-ubyte.gz");
        let mut content = gunzip(&p);
        content[5000] = (content[5000] + 1) % 10;
        gzip(&content, &p);
        let err = Mnist::load(dir.path()).unwrap_err();
        assert!(matches!(err, MnistError::Checksum { .. }), "{err}");
        assert!(err.to_string().contains("t10k-labels-idx1-ubyte.gz"), "{err}");

        // A wrong magic number is reported as such.
        let dir = copy_dir();
        let p = dir.path().join("train-labels-idx1-ubyte.gz");
        let mut content = gunzip(&p);
        content[3] = 0x03;
        gzip(&content, &p);
        let err = Mnist::load(dir.path()).unwrap_err();
        assert!(matches!(err, MnistError::Magic { found: 2051, expected: 2049, .. }), "{err}");
    }

    #[test]
    fn a_gzip_bomb_is_not_decompressed_past_the_header() {
        // 128 MB of zeros behind a valid header: only the announced 47 MB are read, then the
        // longer stream is reported (it is never inflated in full).
        let dir = copy_dir();
        let p = dir.path().join("train-images-idx3-ubyte.gz");
        let mut header = Vec::new();
        for x in [2051u32, 60_000, 28, 28] {
            header.extend_from_slice(&x.to_be_bytes());
        }
        let mut e = flate2::write::GzEncoder::new(std::fs::File::create(&p).unwrap(), flate2::Compression::fast());
        e.write_all(&header).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..128 {
            e.write_all(&zeros).unwrap();
        }
        e.finish().unwrap();
        let t0 = std::time::Instant::now();
        let err = Mnist::load(dir.path()).unwrap_err();
        assert!(matches!(err, MnistError::TooLong { expected, .. } if expected == 60_000 * PIXELS), "{err}");
        assert!(t0.elapsed().as_secs_f64() < 30.0);

        // A wrong magic number is found without reading on.
        let mut e = flate2::write::GzEncoder::new(std::fs::File::create(&p).unwrap(), flate2::Compression::fast());
        e.write_all(&[0, 0, 0, 1]).unwrap();
        for _ in 0..16 {
            e.write_all(&zeros).unwrap();
        }
        e.finish().unwrap();
        let err = Mnist::load(dir.path()).unwrap_err();
        assert!(matches!(err, MnistError::Magic { found: 1, .. }), "{err}");
    }

    #[test]
    fn a_padded_plain_file_is_reported() {
        let dir = copy_dir();
        let gz = dir.path().join("t10k-labels-idx1-ubyte.gz");
        let mut content = gunzip(&gz);
        std::fs::remove_file(&gz).unwrap();
        content.push(0);
        let plain = dir.path().join("t10k-labels-idx1-ubyte");
        std::fs::write(&plain, &content).unwrap();
        let err = Mnist::load(dir.path()).unwrap_err();
        assert!(matches!(err, MnistError::TooLong { expected: 10_000, .. }), "{err}");
        assert_eq!(err.path(), plain);
    }
}
