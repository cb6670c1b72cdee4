//! Fuzzing of the three parsers of untrusted input: the profile loader (TOML text to validated stage
//! configurations and cache keys), the cache's artifact reader ([`cache::decode`], which
//! `Cache::load` uses) and the MNIST IDX reader ([`read_idx_from`], raw and gzip-compressed).
//!
//! A deterministic mutation harness on stable Rust (no cargo-fuzz, no nightly): each target starts
//! from a corpus of valid inputs (the built-in profiles and `tests/profiles/tiny.toml`; cache entries
//! written by `Cache::store` and by the runner; synthetic IDX files and the first bytes of the
//! shipped MNIST files) and applies 1 to 8 stacked mutations per input: bit flips, byte inserts and
//! deletions, splices from other corpus entries, numbers replaced by interesting values (0, -1,
//! 1e308, nan, inf, 1e9, 4294967296, ...), strings by huge or odd ones, values by values of
//! another type, lines or JSON spans deleted or duplicated, sections duplicated, dictionary lines
//! (every key of every section) inserted, truncation. Cache entries are mostly mutated in their JSON
//! body with a correct header written afterwards (so the body reaches the JSON reader instead of
//! failing the hash check), IDX files mostly in their uncompressed content and then compressed.
//!
//! Input `i` of a campaign with seed `s` is a function of `(s, i)` alone (ChaCha8 seeded with `s`,
//! stream `i`), so any input can be rebuilt from the two numbers. Every input runs on a worker
//! thread under `catch_unwind`; it must return (a value or an error), never panic, and take at
//! most [`TIME_LIMIT`]: the worker checks the time of each input, and a watchdog (the test thread)
//! fails the test if one input runs past the limit without returning (a hang). A failure prints
//! the seed, the index and the input as an escaped byte string, ready for a regression test.
//!
//! In `cargo test`, each target runs for [`QUICK_SECONDS`] with a fixed seed. The campaigns
//! (`#[ignore]`d, see README.md, "Fuzzing"):
//!
//! ```sh
//! EOC_FUZZ_INPUTS=1000000 cargo test --release --test fuzz -- --ignored --nocapture
//! ```
//!
//! with `EOC_FUZZ_SEED` (default 1) and `EOC_FUZZ_FIRST` (first input index, default 0) to
//! reproduce one input: `EOC_FUZZ_SEED=s EOC_FUZZ_FIRST=i EOC_FUZZ_INPUTS=1`.

use edge_of_chaos::nn::mnist::{read_idx_from, IdxSpec, Mnist, MnistError, Split, PIXELS};
use edge_of_chaos::nn::train::{train, TrainConfig};
use edge_of_chaos::pipeline::cache::decode;
use edge_of_chaos::pipeline::runner::StoredArtifact;
use edge_of_chaos::pipeline::{
    Artifact, Cache, Chapter, Claim, ClaimStatus, Corruption, DataTable, Figure, Force, Progress, Runner, Stage,
    StageContext, StageError,
};
use edge_of_chaos::stages::simulations::{self, RunResult};
use edge_of_chaos::stages::training::PointResult;
use edge_of_chaos::stages::{registry, Profile, ProfileError};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};

/// Longest time one input may take.
const TIME_LIMIT: Duration = Duration::from_secs(2);
/// Seconds each target runs in `cargo test`.
const QUICK_SECONDS: f64 = 3.0;
/// Inputs of a campaign without `EOC_FUZZ_INPUTS`.
const CAMPAIGN_INPUTS: u64 = 1_000_000;
/// Inputs are cut to this length after mutating (allocation aborts cannot be caught: inputs stay
/// small, and the parsers must bound what they allocate from what they read).
const MAX_LEN: usize = 128 * 1024;

// ---------------------------------------------------------------------------------------------
// The harness

/// One fuzz target.
struct Target {
    name: &'static str,
    /// Builds one input from its own random stream.
    make: fn(&mut ChaCha8Rng) -> Vec<u8>,
    /// Runs one input; returns the kind of outcome (for the statistics). Must not panic.
    run: fn(&[u8]) -> &'static str,
}

/// How long a campaign runs.
#[derive(Clone, Copy, Debug)]
enum Budget {
    Inputs(u64),
    Seconds(f64),
}

/// What a campaign did.
struct Report {
    inputs: u64,
    seconds: f64,
    /// Inputs per outcome kind.
    outcomes: BTreeMap<&'static str, u64>,
    /// The slowest input: (index, seconds).
    slowest: (u64, f64),
}

/// The random stream of input `i` of the campaign with seed `seed`.
fn input_rng(seed: u64, i: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(i);
    r
}

fn describe(target: &Target, seed: u64, i: u64, input: &[u8], what: &str) -> String {
    format!(
        "fuzz target '{}': {what}\n  seed {seed}, input {i}; reproduce with \
         EOC_FUZZ_SEED={seed} EOC_FUZZ_FIRST={i} EOC_FUZZ_INPUTS=1 cargo test --release --test fuzz {}_campaign -- --ignored --nocapture\n  \
         input ({} bytes): b\"{}\"",
        target.name,
        target.name,
        input.len(),
        input.escape_ascii()
    )
}

/// Runs `target` on the inputs `first..` of seed `seed` until the budget is spent; panics (with
/// the seed, index and input) at the first input that panics or takes longer than [`TIME_LIMIT`].
fn fuzz(target: &'static Target, seed: u64, first: u64, budget: Budget) -> Report {
    let start = Instant::now();
    // The input being run (u64::MAX: none) and when it started (ns since `start`).
    let current = Arc::new(AtomicU64::new(u64::MAX));
    let since = Arc::new(AtomicU64::new(0));
    let (tx, rx) = mpsc::channel::<Result<Report, String>>();
    let (cur, snc) = (current.clone(), since.clone());
    std::thread::Builder::new()
        .name(format!("fuzz-{}", target.name))
        // As much stack as a main thread has: a parser must not need more.
        .stack_size(8 << 20)
        .spawn(move || {
            let mut outcomes = BTreeMap::new();
            let mut slowest = (first, 0.0);
            let mut i = first;
            loop {
                let done = match budget {
                    Budget::Inputs(n) => i - first >= n,
                    Budget::Seconds(s) => start.elapsed().as_secs_f64() >= s,
                };
                if done {
                    break;
                }
                let input = (target.make)(&mut input_rng(seed, i));
                snc.store(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
                cur.store(i, Ordering::Release);
                let t0 = Instant::now();
                let result = catch_unwind(AssertUnwindSafe(|| (target.run)(&input)));
                let dt = t0.elapsed();
                cur.store(u64::MAX, Ordering::Release);
                match result {
                    Ok(kind) => *outcomes.entry(kind).or_insert(0) += 1,
                    Err(payload) => {
                        let msg = payload
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default();
                        let _ = tx.send(Err(describe(target, seed, i, &input, &format!("panic: {msg}"))));
                        return;
                    }
                }
                if dt > TIME_LIMIT {
                    let _ =
                        tx.send(Err(describe(target, seed, i, &input, &format!("took {dt:?} (limit {TIME_LIMIT:?})"))));
                    return;
                }
                if dt.as_secs_f64() > slowest.1 {
                    slowest = (i, dt.as_secs_f64());
                }
                i += 1;
            }
            let _ =
                tx.send(Ok(Report { inputs: i - first, seconds: start.elapsed().as_secs_f64(), outcomes, slowest }));
        })
        .expect("worker thread starts");
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Ok(report)) => return report,
            Ok(Err(failure)) => panic!("{failure}"),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let i = current.load(Ordering::Acquire);
                if i == u64::MAX {
                    continue;
                }
                let began = Duration::from_nanos(since.load(Ordering::Relaxed));
                let running = start.elapsed().saturating_sub(began);
                // The worker may have moved on since `current` was read: only a stale start counts.
                if running > TIME_LIMIT + Duration::from_millis(500) && current.load(Ordering::Acquire) == i {
                    let input = (target.make)(&mut input_rng(seed, i));
                    panic!("{}", describe(target, seed, i, &input, &format!("hangs: still running after {running:?}")));
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("fuzz worker of '{}' died", target.name),
        }
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => {
            v.trim().replace('_', "").parse().unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        }
        _ => default,
    }
}

fn print_report(target: &Target, seed: u64, r: &Report) {
    let kinds: Vec<String> = r.outcomes.iter().map(|(k, n)| format!("{k}: {n}")).collect();
    println!(
        "fuzz {}: {} inputs in {:.1} s ({:.0} inputs/s), seed {seed}, no panic, abort or hang; slowest input {} ({:.1} ms)\n  outcomes: {}",
        target.name,
        r.inputs,
        r.seconds,
        r.inputs as f64 / r.seconds.max(1e-9),
        r.slowest.0,
        r.slowest.1 * 1e3,
        kinds.join(", ")
    );
}

/// The short run of `cargo test`.
fn quick(target: &'static Target, seed: u64) {
    let r = fuzz(target, seed, 0, Budget::Seconds(QUICK_SECONDS));
    print_report(target, seed, &r);
    assert!(r.inputs > 0);
}

/// A campaign: `EOC_FUZZ_INPUTS` inputs (default 1,000,000) of seed `EOC_FUZZ_SEED` (default 1)
/// from index `EOC_FUZZ_FIRST` (default 0).
fn campaign(target: &'static Target) {
    let seed = env_u64("EOC_FUZZ_SEED", 1);
    let first = env_u64("EOC_FUZZ_FIRST", 0);
    let n = env_u64("EOC_FUZZ_INPUTS", CAMPAIGN_INPUTS);
    let r = fuzz(target, seed, first, Budget::Inputs(n));
    print_report(target, seed, &r);
    assert_eq!(r.inputs, n);
}

// ---------------------------------------------------------------------------------------------
// Mutations

/// Values a number is replaced with.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "2",
    "3",
    "7",
    "28",
    "255",
    "256",
    "1000",
    "65535",
    "1000000",
    "1e9",
    "-1e9",
    "1e12",
    "1e15",
    "1e18",
    "1e40",
    "1e308",
    "-1e308",
    "1.7976931348623157e308",
    "5e-324",
    "1e-320",
    "1e-9",
    "0.5",
    "-0.5",
    "0.999",
    "1.0000001",
    "nan",
    "-nan",
    "+nan",
    "inf",
    "-inf",
    "+inf",
    "NaN",
    "Infinity",
    "4294967295",
    "4294967296",
    "2147483647",
    "2147483648",
    "-2147483649",
    "9007199254740993",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "1_000_000",
    "0x7fffffff",
    "0o777",
    "0b1",
    "1e",
    "1.",
    ".5",
    "--1",
    "1e99999",
    "-1e99999",
    "00",
    "01",
    "1e-99999",
];

/// Integers (TOML and JSON) an integer is replaced with.
const INTEGERS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "-1",
    "28",
    "100",
    "1000",
    "65536",
    "1000000",
    "10000000",
    "1000000000",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
];

/// Floats (TOML and JSON) a float is replaced with.
const FLOATS: &[&str] = &[
    "0.0",
    "-0.0",
    "1.0",
    "-1.0",
    "0.5",
    "2.0",
    "1e-9",
    "1e-300",
    "5e-324",
    "1e9",
    "1e12",
    "1e15",
    "1e40",
    "1e300",
    "1e308",
    "-1e308",
    "1.7976931348623157e308",
    "nan",
    "-nan",
    "inf",
    "-inf",
    "0.999999",
    "1.000001",
];

/// Values a whole value is replaced with (another type, lists, tables).
const VALUES: &[&str] = &[
    "[]",
    "[0]",
    "[1]",
    "[-1]",
    "[1e9]",
    "[1000000000]",
    "[nan]",
    "[inf]",
    "[1, 1]",
    "[2, 1]",
    "[[1]]",
    "[[]]",
    "{}",
    "{ a = 1 }",
    "\"\"",
    "\"x\"",
    "\"tanh\"",
    "\"relu\"",
    "\"alpha-relu\"",
    "\"erf\"",
    "\"gelu\"",
    "\"full\"",
    "\"reduced\"",
    "\"vanilla\"",
    "true",
    "false",
    "null",
    "1979-05-27T07:32:00Z",
    "'lit'",
    "\"\"\"a\nb\"\"\"",
    "{\"a\": 1}",
    "[\"x\"]",
    "[true]",
    "[[1, 2], [3]]",
];

/// Strings a string's content is replaced with.
const STRINGS: &[&str] = &[
    "",
    "x",
    "tanh",
    "relu",
    "alpha-relu",
    "erf",
    "gelu",
    "full",
    "reduced",
    "vanilla",
    "Tanh",
    "TANH",
    " tanh",
    "frn-tanh",
    "stages/identities",
    "../..",
    "a/b",
    "\\u0000",
    "\\ud800",
    "\\uDFFF",
    "\\\\",
    "\\\"",
    "é",
    "日本",
    "\\n",
    "\\t",
    "%s%n",
    "training/points",
    "simulations/runs",
    "0",
    "NaN",
];

/// Bytes a byte is set to.
const BYTES: &[u8] =
    &[0, 1, 0x7f, 0x80, 0xff, b'\n', b'"', b'[', b']', b'{', b'}', b'=', b':', b',', b'.', b'-', b'0', b'9', b'e'];

/// 32-bit big-endian values (IDX headers).
const U32S: &[u32] = &[
    0,
    1,
    2,
    3,
    27,
    28,
    29,
    255,
    784,
    2049,
    2051,
    2052,
    10_000,
    60_000,
    60_001,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x0001_0000,
];

/// A pick from `xs` (which is not empty).
fn pick<'a, T>(rng: &mut ChaCha8Rng, xs: &'a [T]) -> &'a T {
    xs.choose(rng).expect("not empty")
}

/// A position in `0..=len`.
fn pos(rng: &mut ChaCha8Rng, len: usize) -> usize {
    rng.random_range(0..=len)
}

/// A range of `data` of length 1 to `max` (mostly short).
fn range(rng: &mut ChaCha8Rng, len: usize, max: usize) -> Option<Range<usize>> {
    if len == 0 {
        return None;
    }
    let a = rng.random_range(0..len);
    let cap = (len - a).min(max).max(1);
    let n = if rng.random_bool(0.8) { rng.random_range(1..=cap.min(16)) } else { rng.random_range(1..=cap) };
    Some(a..a + n)
}

/// Mutations that know nothing of the format.
fn mutate_bytes(rng: &mut ChaCha8Rng, data: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    let len = data.len();
    match rng.random_range(0..9) {
        0 if len > 0 => {
            let i = rng.random_range(0..len);
            data[i] ^= 1 << rng.random_range(0..8);
        }
        1 if len > 0 => {
            let i = rng.random_range(0..len);
            data[i] = if rng.random_bool(0.5) { *pick(rng, BYTES) } else { rng.random() };
        }
        2 => {
            let n = rng.random_range(1..=16);
            let at = pos(rng, len);
            let bytes: Vec<u8> =
                (0..n).map(|_| if rng.random_bool(0.5) { *pick(rng, BYTES) } else { rng.random() }).collect();
            data.splice(at..at, bytes);
        }
        3 => {
            if let Some(r) = range(rng, len, len) {
                data.drain(r);
            }
        }
        4 => {
            // Duplicate a range elsewhere.
            if let Some(r) = range(rng, len, 4096) {
                let chunk = data[r].to_vec();
                let at = pos(rng, len);
                data.splice(at..at, chunk);
            }
        }
        5 => {
            // Splice a range of another corpus entry, inserted or written over.
            let other = pick(rng, corpus);
            if let Some(r) = range(rng, other.len(), 4096) {
                let chunk = other[r].to_vec();
                let at = pos(rng, len);
                if rng.random_bool(0.5) {
                    let end = (at + chunk.len()).min(len);
                    data.splice(at..end, chunk);
                } else {
                    data.splice(at..at, chunk);
                }
            }
        }
        6 => {
            let at = pos(rng, len);
            data.truncate(at);
        }
        7 if len >= 4 => {
            // An interesting 32-bit value, at a multiple of 4 (IDX header fields) or anywhere.
            let at = if rng.random_bool(0.7) {
                4 * rng.random_range(0..(len / 4).min(8))
            } else {
                rng.random_range(0..=len - 4)
            };
            data[at..at + 4].copy_from_slice(&pick(rng, U32S).to_be_bytes());
        }
        _ => {
            // Swap two bytes.
            if len >= 2 {
                let (a, b) = (rng.random_range(0..len), rng.random_range(0..len));
                data.swap(a, b);
            }
        }
    }
}

/// Spans of number tokens (a digit, or a sign or dot before a digit, not inside a word).
fn number_spans(data: &[u8]) -> Vec<Range<usize>> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.';
    let mut spans = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let starts = data[i].is_ascii_digit()
            || (matches!(data[i], b'-' | b'+' | b'.') && data.get(i + 1).is_some_and(|b| b.is_ascii_digit()));
        if starts && (i == 0 || !word(data[i - 1])) {
            let mut j = i + 1;
            while j < data.len()
                && (word(data[j]) || (matches!(data[j], b'-' | b'+') && matches!(data[j - 1], b'e' | b'E')))
            {
                j += 1;
            }
            spans.push(i..j);
            i = j;
        } else {
            i += 1;
        }
    }
    spans
}

/// Spans of the contents of double-quoted strings (escapes skipped, not across lines).
fn string_spans(data: &[u8]) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'"' {
            let mut j = i + 1;
            while j < data.len() && data[j] != b'"' && data[j] != b'\n' {
                j += if data[j] == b'\\' { 2 } else { 1 };
            }
            if j < data.len() && data[j] == b'"' {
                spans.push(i + 1..j);
            }
            i = j + 1;
        } else {
            i += 1;
        }
    }
    spans
}

/// The end of the value that starts at `a`: a bracketed list or table up to its closing bracket,
/// else up to the next `,`, `}`, `]` or newline.
fn value_end(data: &[u8], a: usize) -> usize {
    let mut depth = 0usize;
    let mut quoted = false;
    let mut j = a;
    while j < data.len() {
        let b = data[j];
        if quoted {
            if b == b'\\' {
                j += 1;
            } else if b == b'"' {
                quoted = false;
            }
        } else {
            match b {
                b'"' => quoted = true,
                b'[' | b'{' => depth += 1,
                b']' | b'}' if depth == 0 => return j,
                b']' | b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        return j + 1;
                    }
                }
                b',' | b'\n' if depth == 0 => return j,
                _ => {}
            }
        }
        j += 1;
    }
    data.len()
}

/// Spans of the values after `=` (TOML) or `:` (JSON).
fn value_spans(data: &[u8]) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    for (i, &b) in data.iter().enumerate() {
        if b == b'=' || b == b':' {
            let mut a = i + 1;
            while a < data.len() && data[a] == b' ' {
                a += 1;
            }
            spans.push(a..value_end(data, a).max(a));
        }
    }
    spans
}

/// Ranges of whole lines (with their newline).
fn line_spans(data: &[u8]) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let mut a = 0;
    for (i, &b) in data.iter().enumerate() {
        if b == b'\n' {
            spans.push(a..i + 1);
            a = i + 1;
        }
    }
    if a < data.len() {
        spans.push(a..data.len());
    }
    spans
}

/// Ranges of TOML sections: from a line that starts with `[` to the next such line.
fn section_spans(data: &[u8]) -> Vec<Range<usize>> {
    let starts: Vec<usize> = line_spans(data).into_iter().filter(|l| data[l.start] == b'[').map(|l| l.start).collect();
    starts.iter().enumerate().map(|(k, &a)| a..starts.get(k + 1).copied().unwrap_or(data.len())).collect()
}

/// Positions of the JSON/TOML structure bytes, and the ends.
fn delimiters(data: &[u8]) -> Vec<usize> {
    let mut d: Vec<usize> = data.iter().enumerate().filter(|(_, b)| b",:{}[]\n".contains(b)).map(|(i, _)| i).collect();
    d.push(0);
    d.push(data.len());
    d
}

/// A list of `n` copies of an interesting number: `[1e9, 1e9, ...]`.
fn long_list(rng: &mut ChaCha8Rng) -> String {
    let n = *pick(rng, &[0usize, 1, 2, 3, 17, 100, 1000, 5000]);
    let x = if rng.random_bool(0.5) { *pick(rng, NUMBERS) } else { "1" };
    format!("[{}]", vec![x; n].join(", "))
}

/// A long string content.
fn long_string(rng: &mut ChaCha8Rng) -> String {
    let n = *pick(rng, &[64usize, 1000, 10_000, 100_000]);
    let c = *pick(rng, &["a", "é", "\\n", " "]);
    c.repeat(n / c.len())
}

/// Format-aware mutations of text (TOML or JSON); `dict` holds whole lines to insert.
fn mutate_text(rng: &mut ChaCha8Rng, data: &mut Vec<u8>, corpus: &[Vec<u8>], dict: &[String]) {
    let replace = |data: &mut Vec<u8>, r: Range<usize>, with: &[u8]| {
        data.splice(r, with.iter().copied());
    };
    match rng.random_range(0..12) {
        0 | 1 => {
            // A number: mostly one of the same type (an integer stays an integer), so that the
            // profile still parses and the value reaches the checks.
            let spans = number_spans(data);
            if let Some(r) = spans.choose(rng) {
                let token = &data[r.clone()];
                let float = token.iter().any(|b| matches!(b, b'.' | b'e' | b'E' | b'n' | b'i'));
                let with = match rng.random_range(0..10) {
                    0..=5 if float => pick(rng, FLOATS).to_string(),
                    0..=5 => pick(rng, INTEGERS).to_string(),
                    6..=8 => pick(rng, NUMBERS).to_string(),
                    _ => rng.random::<i64>().to_string(),
                };
                replace(data, r.clone(), with.as_bytes());
            }
        }
        2 => {
            let spans = string_spans(data);
            if let Some(r) = spans.choose(rng) {
                let with = if rng.random_bool(0.8) { pick(rng, STRINGS).to_string() } else { long_string(rng) };
                replace(data, r.clone(), with.as_bytes());
            }
        }
        3 => {
            let spans = value_spans(data);
            if let Some(r) = spans.choose(rng) {
                let with = match rng.random_range(0..4) {
                    0 => long_list(rng),
                    1 => pick(rng, NUMBERS).to_string(),
                    _ => pick(rng, VALUES).to_string(),
                };
                replace(data, r.clone(), with.as_bytes());
            }
        }
        4 => {
            // Delete a line.
            let lines = line_spans(data);
            if let Some(r) = lines.choose(rng) {
                data.drain(r.clone());
            }
        }
        5 => {
            // Duplicate a line (a key given twice) or swap two lines.
            let lines = line_spans(data);
            if let (Some(a), Some(b)) = (lines.choose(rng), lines.choose(rng)) {
                let (la, lb) = (data[a.clone()].to_vec(), data[b.clone()].to_vec());
                if rng.random_bool(0.5) {
                    data.splice(b.start..b.start, la);
                } else if a.end <= b.start {
                    data.splice(b.clone(), la);
                    data.splice(a.clone(), lb);
                }
            }
        }
        6 => {
            // Duplicate a section (after itself or at the end).
            let sections = section_spans(data);
            if let Some(r) = sections.choose(rng) {
                let mut chunk = data[r.clone()].to_vec();
                if !chunk.ends_with(b"\n") {
                    chunk.insert(0, b'\n');
                }
                let at = if rng.random_bool(0.5) { r.end } else { data.len() };
                data.splice(at..at, chunk);
            }
        }
        7 => {
            // Insert a dictionary line (a key of some section, a section header) at a line start.
            if let Some(line) = dict.choose(rng) {
                let starts: Vec<usize> = line_spans(data).iter().map(|l| l.start).chain([data.len()]).collect();
                let at = *pick(rng, &starts);
                let mut text = line.clone().into_bytes();
                text.push(b'\n');
                if at == data.len() && !data.is_empty() && !data.ends_with(b"\n") {
                    text.insert(0, b'\n');
                }
                data.splice(at..at, text);
            }
        }
        8 | 9 => {
            // Delete, duplicate or splice a span between two structure bytes.
            let d = delimiters(data);
            let (mut a, mut b) = (*pick(rng, &d), *pick(rng, &d));
            if a > b {
                std::mem::swap(&mut a, &mut b);
            }
            match rng.random_range(0..3) {
                0 => {
                    data.drain(a..b);
                }
                1 => {
                    let chunk = data[a..b].to_vec();
                    let at = *pick(rng, &d);
                    data.splice(at..at, chunk);
                }
                _ => {
                    let other = pick(rng, corpus);
                    let od = delimiters(other);
                    let (mut x, mut y) = (*pick(rng, &od), *pick(rng, &od));
                    if x > y {
                        std::mem::swap(&mut x, &mut y);
                    }
                    data.splice(a..b, other[x..y].iter().copied());
                }
            }
        }
        10 => {
            // Deep nesting.
            let n = *pick(rng, &[10usize, 100, 127, 128, 129, 300, 3000]);
            let at = pos(rng, data.len());
            let (open, close) = if rng.random_bool(0.5) { (b'[', b']') } else { (b'{', b'}') };
            let mut chunk = vec![open; n];
            if rng.random_bool(0.5) {
                chunk.extend(std::iter::repeat_n(close, n));
            }
            data.splice(at..at, chunk);
        }
        _ => mutate_bytes(rng, data, corpus),
    }
}

/// Applies 1, 2, 4 or 8 mutations (text-aware with probability `text`); cuts to [`MAX_LEN`].
fn mutate(rng: &mut ChaCha8Rng, data: &mut Vec<u8>, corpus: &[Vec<u8>], dict: &[String], text: f64) {
    // 1 (half of the inputs), 2, 4 or 8.
    let n = 1 << rng.random_range(0..8u32).trailing_ones().min(3);
    for _ in 0..n {
        if rng.random_bool(text) {
            mutate_text(rng, data, corpus, dict);
        } else {
            mutate_bytes(rng, data, corpus);
        }
        data.truncate(MAX_LEN);
    }
}

// ---------------------------------------------------------------------------------------------
// Target 1: the profile loader

struct ProfileCorpus {
    texts: Vec<Vec<u8>>,
    /// `key = value` lines of every section and the section headers.
    dict: Vec<String>,
    /// An empty cache directory for the runner (never written: only keys are computed).
    cache: tempfile::TempDir,
}

fn profile_corpus() -> &'static ProfileCorpus {
    static C: OnceLock<ProfileCorpus> = OnceLock::new();
    C.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut texts: Vec<String> = ["src/profiles/quick.toml", "src/profiles/paper.toml", "tests/profiles/tiny.toml"]
            .iter()
            .map(|p| std::fs::read_to_string(root.join(p)).expect("profile file"))
            .collect();
        // Every key of every section, with the defaults (quick) and with the paper's values.
        for text in [texts[0].clone(), texts[1].clone()] {
            let p = Profile::parse(&text, "corpus").expect("built-in profile parses");
            texts.push(toml::to_string(&p).expect("profile serializes"));
        }
        let mut dict: Vec<String> = Vec::new();
        for t in &texts {
            for line in t.lines() {
                let line = line.trim();
                if (line.contains(" = ") || line.starts_with('[')) && !dict.iter().any(|d| d == line) {
                    dict.push(line.to_string());
                }
            }
        }
        // Optional keys the serialized defaults leave out.
        for line in ["p0 = 1.0", "e0 = 0.5", "alpha = 0.75", "alpha = nan", "p0 = nan", "e0 = inf"] {
            dict.push(line.to_string());
        }
        ProfileCorpus {
            texts: texts.into_iter().map(String::into_bytes).collect(),
            dict,
            cache: tempfile::tempdir().expect("temp dir"),
        }
    })
}

fn make_profile(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let c = profile_corpus();
    let mut data = pick(rng, &c.texts).clone();
    mutate(rng, &mut data, &c.texts, &c.dict, 0.85);
    data
}

/// Parses, validates (builds every stage), and computes the configurations and cache keys; never
/// runs a stage.
fn run_profile(input: &[u8]) -> &'static str {
    let Ok(text) = std::str::from_utf8(input) else { return "not UTF-8" };
    let profile = match Profile::parse(text, "fuzz") {
        Ok(p) => p,
        Err(e) => {
            assert!(matches!(e, ProfileError::Parse { .. }), "{e}");
            let _ = e.to_string();
            return "TOML or type error";
        }
    };
    let stages = match registry(&profile) {
        Ok(s) => s,
        Err(e) => {
            assert!(matches!(e, ProfileError::Invalid { .. }), "{e}");
            let _ = e.to_string();
            return "invalid value";
        }
    };
    for s in &stages {
        let _ = (s.name(), s.version(), s.deps(), s.config(), s.chapter().map(|c| c.title));
    }
    let runner = Runner {
        stages: &stages,
        cache: Cache::new(profile_corpus().cache.path()),
        progress: Progress::silent(),
        jobs: 1,
        force: Force::None,
        shard: None,
    };
    let keys = runner.keys().expect("the stages of a valid profile have keys");
    assert_eq!(keys.len(), stages.len());
    "accepted"
}

static PROFILE: Target = Target { name: "profile", make: make_profile, run: run_profile };

// ---------------------------------------------------------------------------------------------
// Target 2: the artifact reader

/// What `run_tasks` stores for one task (the same fields as its private `StoredTask`).
#[derive(Serialize, Deserialize)]
struct StoredTask<R> {
    seconds: f64,
    result: R,
}

/// Namespaces and keys the corpus entries were stored under.
struct Entries {
    stage: (String, String),
    training: (String, String),
    simulation: (String, String),
    value: (String, String),
}

struct ArtifactCorpus {
    /// Whole cache files (header and body).
    files: Vec<Vec<u8>>,
    /// Their JSON bodies.
    bodies: Vec<Vec<u8>>,
    dict: Vec<String>,
    entries: Entries,
}

/// A stage whose artifact has a summary, a table, a figure and a claim, for the runner to store.
struct Source;

impl Stage for Source {
    fn name(&self) -> &'static str {
        "fuzz-source"
    }
    fn version(&self) -> u32 {
        3
    }
    fn deps(&self) -> &'static [&'static str] {
        &[]
    }
    fn config(&self) -> serde_json::Value {
        serde_json::json!({ "n": 3 })
    }
    fn chapter(&self) -> Option<Chapter> {
        None
    }
    fn run(&self, _: &StageContext) -> Result<Artifact, StageError> {
        let rows = vec![
            serde_json::json!({ "depth": 10, "sv2": 0.001, "acc": 0.9731, "diverged": false, "note": null }),
            serde_json::json!({ "depth": 200, "sv2": 100.0, "acc": 0.1135, "diverged": true, "note": "loss above threshold" }),
        ];
        let mut extra = serde_json::Map::new();
        extra.insert("profile".into(), serde_json::json!("tiny"));
        Ok(Artifact {
            summary: serde_json::json!({
                "rows": rows,
                "best": { "sv2": 0.1, "acc": [0.97, 0.96, 0.98], "laws": { "tanh": -0.5, "relu": 2 } },
                "seconds": 1.25e-3,
                "empty": [],
                "text": "α-ReLU, $\\chi$ \"quoted\"",
            }),
            tables: vec![DataTable { name: "fuzz-rows".into(), rows, json_key: Some("rows".into()), extra }],
            figures: vec![Figure {
                name: "fuzz-figure".into(),
                caption: "A figure: $y = x^2$.".into(),
                svg: "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"><path d=\"M0 0L10 10\"/></svg>".into(),
            }],
            claims: vec![Claim {
                id: "C1a".into(),
                chapter: "fuzz-source".into(),
                claim: "A claim".into(),
                criterion: "within 1%".into(),
                measured: "0.4%".into(),
                status: ClaimStatus::Reproduced,
            }],
        })
    }
}

/// A real training result: a width-4 network trained for one epoch on 16 synthetic images.
fn point_result() -> PointResult {
    let split = |n: usize, seed: u8| Split {
        images: (0..n * PIXELS).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect(),
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
    };
    let data = Mnist::from_splits(split(16, 0), split(8, 1));
    let cfg = TrainConfig {
        width: 4,
        depth: 2,
        batch: 4,
        epochs: 2,
        train_subset: Some(16),
        test_subset: Some(8),
        ..TrainConfig::default()
    };
    let mut trace = Vec::new();
    let result = train(&cfg, &data, &mut |e| {
        if let edge_of_chaos::nn::TrainEvent::Step { step, loss, .. } = e {
            trace.push((step, loss));
        }
    })
    .expect("tiny training run");
    PointResult { result, loss_trace: trace }
}

/// A real simulation result: a width-8, depth-3 network.
fn run_result() -> RunResult {
    let case = simulations::Config::default().cases[0].clone();
    let task =
        simulations::compute::Task { case, width: 8, depth: 3, seed: 1, p0: 1.0, e0: 0.5, independent_control: true };
    simulations::compute::simulate(&task).expect("tiny simulation")
}

fn artifact_corpus() -> &'static ArtifactCorpus {
    static C: OnceLock<ArtifactCorpus> = OnceLock::new();
    C.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = Cache::new(dir.path());
        // Written by the runner.
        let stages: Vec<Box<dyn Stage>> = vec![Box::new(Source)];
        let runner = Runner {
            stages: &stages,
            cache: cache.clone(),
            progress: Progress::silent(),
            jobs: 2,
            force: Force::None,
            shard: None,
        };
        runner.run(&["fuzz-source".to_string()]).expect("runner stores the artifact");
        let stage = ("stages/fuzz-source".to_string(), runner.keys().expect("keys")["fuzz-source"].clone());
        // Written by `Cache::store`, as `run_tasks` does.
        let training = ("training/points".to_string(), "a1b2".repeat(16));
        let simulation = ("simulations/runs".to_string(), "c3d4".repeat(16));
        let value = ("fuzz/value".to_string(), "k".to_string());
        let mut files = vec![std::fs::read(cache.path(&stage.0, &stage.1)).expect("runner's file")];
        let mut store = |(ns, key): &(String, String), value: &dyn erased::Value| {
            let path = value.store(&cache, ns, key);
            files.push(std::fs::read(path).expect("stored file"));
        };
        store(&training, &StoredTask { seconds: 0.5, result: point_result() });
        store(&simulation, &StoredTask { seconds: 0.25, result: run_result() });
        store(&value, &serde_json::json!({ "x": [1.5, -2, 3e300], "y": "z", "t": true, "n": null }));
        // A stage artifact stored under the simulations' key (decodes, then fails the runner's check).
        let wrong = StoredArtifact {
            stage: "other".into(),
            version: 1,
            key: "x".into(),
            seconds: 0.0,
            jobs: 1,
            artifact: Artifact::default(),
        };
        store(&stage, &wrong);
        let bodies: Vec<Vec<u8>> = files.iter().map(|f| split_entry(f).1.to_vec()).collect();
        let mut dict: Vec<String> = Vec::new();
        for key in [
            "ns",
            "key",
            "value",
            "stage",
            "version",
            "seconds",
            "jobs",
            "artifact",
            "summary",
            "tables",
            "figures",
            "claims",
            "result",
            "loss_trace",
            "epochs_log",
            "status",
        ] {
            dict.push(format!("\"{key}\":"));
            dict.push(format!("\"{key}\":null,"));
        }
        ArtifactCorpus { files, bodies, dict, entries: Entries { stage, training, simulation, value } }
    })
}

/// `Cache::store` for values of different types through one closure.
mod erased {
    use edge_of_chaos::pipeline::Cache;
    use std::path::PathBuf;

    pub trait Value {
        fn store(&self, cache: &Cache, ns: &str, key: &str) -> PathBuf;
    }

    impl<T: serde::Serialize> Value for T {
        fn store(&self, cache: &Cache, ns: &str, key: &str) -> PathBuf {
            cache.store(ns, key, self).expect("store")
        }
    }
}

/// (header line without its newline, body) of a cache file.
fn split_entry(file: &[u8]) -> (&[u8], &[u8]) {
    let nl = file.iter().position(|&b| b == b'\n').unwrap_or(file.len());
    (&file[..nl], file.get(nl + 1..).unwrap_or(&[]))
}

/// A file with a correct header for `body`.
fn with_header(body: &[u8]) -> Vec<u8> {
    let hash: String = Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect();
    let mut file = format!("eoc-cache 2 sha256={hash} len={}\n", body.len()).into_bytes();
    file.extend_from_slice(body);
    file
}

fn make_artifact(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let c = artifact_corpus();
    let k = rng.random_range(0..c.files.len());
    match rng.random_range(0..10) {
        // The whole file, header included, as bytes.
        0 | 1 => {
            let mut file = c.files[k].clone();
            mutate(rng, &mut file, &c.files, &c.dict, 0.3);
            file
        }
        // The body, then a correct header: the mutated JSON reaches the reader.
        2..=8 => {
            let mut body = c.bodies[k].clone();
            mutate(rng, &mut body, &c.bodies, &c.dict, 0.85);
            with_header(&body)
        }
        // The body with a correct header, then the header line altered.
        _ => {
            let mut body = c.bodies[k].clone();
            if rng.random_bool(0.5) {
                mutate(rng, &mut body, &c.bodies, &c.dict, 0.85);
            }
            let file = with_header(&body);
            let (header, body) = split_entry(&file);
            let mut header = header.to_vec();
            let headers: Vec<Vec<u8>> = c.files.iter().map(|f| split_entry(f).0.to_vec()).collect();
            mutate(rng, &mut header, &headers, &[], 0.7);
            header.push(b'\n');
            header.extend_from_slice(body);
            header
        }
    }
}

/// The outcome of one decode, ranked by how far the input got.
fn outcome<T>(r: Result<T, Corruption>) -> (u8, &'static str) {
    match r {
        Ok(_) => (6, "decoded"),
        Err(why) => {
            let _ = why.to_string();
            match why {
                Corruption::BadHeader => (0, "bad header"),
                Corruption::Truncated { .. } => (1, "wrong length"),
                Corruption::HashMismatch => (2, "hash mismatch"),
                Corruption::BadJson(_) => (3, "bad JSON"),
                Corruption::WrongEntry { .. } => (4, "wrong entry"),
                Corruption::Mismatch(_) => (5, "mismatch"),
            }
        }
    }
}

/// Decodes the input as each type the cache stores (under the namespace and key of its corpus
/// entries).
fn run_artifact(input: &[u8]) -> &'static str {
    let e = &artifact_corpus().entries;
    let results = [
        outcome(decode::<StoredArtifact>(input, &e.stage.0, &e.stage.1)),
        outcome(decode::<StoredTask<PointResult>>(input, &e.training.0, &e.training.1)),
        outcome(decode::<StoredTask<RunResult>>(input, &e.simulation.0, &e.simulation.1)),
        outcome(decode::<serde_json::Value>(input, &e.value.0, &e.value.1)),
    ];
    results.into_iter().max().expect("four results").1
}

static ARTIFACT: Target = Target { name: "artifact", make: make_artifact, run: run_artifact };

// ---------------------------------------------------------------------------------------------
// Target 3: the IDX reader

/// Counts an input may ask for (bits 3-4 of its first byte).
const COUNTS: [usize; 4] = [3, 60_000, 10_000, 0];

/// An IDX file: its uncompressed content and the flags byte (bit 0: images, bit 1: gzip, bit 2:
/// check the SHA-256 of the valid synthetic file, bits 3-4: the count).
struct IdxEntry {
    content: Vec<u8>,
    flags: u8,
}

struct IdxCorpus {
    entries: Vec<IdxEntry>,
    contents: Vec<Vec<u8>>,
    /// SHA-256 of the valid synthetic labels and images files.
    sha: [String; 2],
}

fn idx_header(magic: u32, dims: &[u32]) -> Vec<u8> {
    let mut h = magic.to_be_bytes().to_vec();
    for d in dims {
        h.extend_from_slice(&d.to_be_bytes());
    }
    h
}

fn gzip(bytes: &[u8], level: u32) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    e.write_all(bytes).expect("in memory");
    e.finish().expect("in memory")
}

/// The first `n` bytes of a shipped MNIST file, uncompressed.
fn mnist_head(name: &str, n: usize) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist").join(format!("{name}.gz"));
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).expect("shipped MNIST file"))
        .take(n as u64)
        .read_to_end(&mut out)
        .expect("decompresses");
    out
}

fn idx_corpus() -> &'static IdxCorpus {
    static C: OnceLock<IdxCorpus> = OnceLock::new();
    C.get_or_init(|| {
        let images = [idx_header(2051, &[3, 28, 28]), (0..3 * PIXELS).map(|i| (i * 7 % 256) as u8).collect()].concat();
        let labels = [idx_header(2049, &[3]), vec![7, 2, 1]].concat();
        let sha = [&labels, &images].map(|c| Sha256::digest(c).iter().map(|b| format!("{b:02x}")).collect::<String>());
        // Flags: images 1, count index << 3.
        let mut entries = vec![
            IdxEntry { content: images.clone(), flags: 1 },
            IdxEntry { content: labels.clone(), flags: 0 },
            IdxEntry { content: idx_header(2049, &[0]), flags: 3 << 3 },
            IdxEntry { content: idx_header(2051, &[0, 28, 28]), flags: 1 | 3 << 3 },
        ];
        // The first bytes of the shipped files (their headers announce 60000 and 10000 items),
        // and the same with the header's count set to 3.
        for (name, is_images, count_index) in [
            ("train-images-idx3-ubyte", true, 1u8),
            ("t10k-images-idx3-ubyte", true, 2),
            ("train-labels-idx1-ubyte", false, 1),
            ("t10k-labels-idx1-ubyte", false, 2),
        ] {
            let head = if is_images { mnist_head(name, 16 + 3 * PIXELS) } else { mnist_head(name, 8 + 3) };
            let flags = u8::from(is_images) | count_index << 3;
            let mut patched = head.clone();
            patched[4..8].copy_from_slice(&3u32.to_be_bytes());
            entries.push(IdxEntry { content: head, flags });
            entries.push(IdxEntry { content: patched, flags: u8::from(is_images) });
        }
        let contents = entries.iter().map(|e| e.content.clone()).collect();
        IdxCorpus { entries, contents, sha }
    })
}

fn make_idx(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let c = idx_corpus();
    let e = pick(rng, &c.entries);
    let mut content = e.content.clone();
    if rng.random_bool(0.9) {
        mutate(rng, &mut content, &c.contents, &[], 0.0);
    }
    let mut flags = e.flags;
    if rng.random_ratio(1, 8) {
        flags ^= 1 << rng.random_range(0..5);
    }
    if rng.random_ratio(1, 4) {
        flags |= 4;
    }
    let payload = match rng.random_range(0..10) {
        0..=3 => {
            flags &= !2;
            content
        }
        mode => {
            flags |= 2;
            let mut gz = gzip(&content, rng.random_range(0..=9));
            if mode >= 8 {
                // The compressed bytes themselves (deflate stream, CRC, gzip header fields).
                mutate(rng, &mut gz, &[gzip(&c.contents[0], 6), gzip(&c.contents[1], 1)], &[], 0.0);
            } else if mode == 7 {
                // Something after the end of the gzip member.
                let tail = pick(rng, &c.contents).clone();
                gz.extend_from_slice(&tail[..rng.random_range(0..=tail.len())]);
            }
            gz
        }
    };
    [vec![flags], payload].concat()
}

/// Reads the input (its first byte says how) with [`read_idx_from`].
fn run_idx(input: &[u8]) -> &'static str {
    let Some((&flags, bytes)) = input.split_first() else { return "empty input" };
    let images = flags & 1 != 0;
    let count = COUNTS[usize::from(flags >> 3) & 3];
    let sha = &idx_corpus().sha[usize::from(images)];
    let spec = IdxSpec {
        path: Path::new("fuzz-idx"),
        gzip: flags & 2 != 0,
        images,
        count,
        sha256: (flags & 4 != 0).then_some(sha.as_str()),
    };
    match read_idx_from(bytes, &spec) {
        Ok(data) => {
            assert_eq!(data.len(), count * if images { PIXELS } else { 1 });
            "read"
        }
        Err(e) => {
            let _ = e.to_string();
            assert_eq!(e.path(), Path::new("fuzz-idx"));
            match e {
                MnistError::Gzip { .. } => "gzip error",
                MnistError::Io { .. } => "I/O error",
                MnistError::Magic { .. } => "wrong magic",
                MnistError::Dims { .. } => "wrong dimensions",
                MnistError::Length { .. } => "too short",
                MnistError::TooLong { .. } => "too long",
                MnistError::Checksum { .. } => "checksum",
                MnistError::Missing(_) => "missing",
            }
        }
    }
}

static IDX: Target = Target { name: "idx", make: make_idx, run: run_idx };

// ---------------------------------------------------------------------------------------------
// The tests

#[test]
fn profile_quick() {
    quick(&PROFILE, 0x5eed_0001);
}

#[test]
fn artifact_quick() {
    quick(&ARTIFACT, 0x5eed_0002);
}

#[test]
fn idx_quick() {
    quick(&IDX, 0x5eed_0003);
}

#[test]
#[ignore = "campaign: EOC_FUZZ_INPUTS=1000000 cargo test --release --test fuzz -- --ignored --nocapture"]
fn profile_campaign() {
    campaign(&PROFILE);
}

#[test]
#[ignore = "campaign: EOC_FUZZ_INPUTS=1000000 cargo test --release --test fuzz -- --ignored --nocapture"]
fn artifact_campaign() {
    campaign(&ARTIFACT);
}

#[test]
#[ignore = "campaign: EOC_FUZZ_INPUTS=1000000 cargo test --release --test fuzz -- --ignored --nocapture"]
fn idx_campaign() {
    campaign(&IDX);
}

/// The corpus itself is accepted (the mutations start from valid inputs), and inputs are a
/// function of (seed, index).
#[test]
fn corpus_is_valid_and_inputs_are_reproducible() {
    for t in &profile_corpus().texts {
        assert_eq!(run_profile(t), "accepted", "{}", String::from_utf8_lossy(t));
    }
    for f in &artifact_corpus().files {
        assert_eq!(run_artifact(f), "decoded");
    }
    let c = idx_corpus();
    for (k, e) in c.entries.iter().enumerate() {
        let expected = if k < 4 || e.flags >> 3 == 0 { "read" } else { "too short" };
        assert_eq!(run_idx(&[&[e.flags][..], &e.content].concat()), expected, "entry {k}");
        assert_eq!(run_idx(&[&[e.flags | 2][..], &gzip(&e.content, 6)].concat()), expected, "entry {k}, gzip");
    }
    // The checksum is checked when asked.
    assert_eq!(run_idx(&[&[4u8][..], &c.entries[1].content].concat()), "read");
    assert_eq!(run_idx(&[&[4u8][..], &c.entries[9].content].concat()), "checksum");
    for t in [&PROFILE, &ARTIFACT, &IDX] {
        for i in [0, 1, 999] {
            assert_eq!((t.make)(&mut input_rng(7, i)), (t.make)(&mut input_rng(7, i)));
        }
        assert_ne!((t.make)(&mut input_rng(7, 0)), (t.make)(&mut input_rng(7, 1)));
    }
}

// ---------------------------------------------------------------------------------------------
// The harness itself

fn one_byte(rng: &mut ChaCha8Rng) -> Vec<u8> {
    vec![rng.random()]
}

fn panics_on_seven(input: &[u8]) -> &'static str {
    if input[0] == 7 {
        panic!("seven");
    }
    "ok"
}

fn hangs_on_seven(input: &[u8]) -> &'static str {
    if input[0] == 7 {
        std::thread::sleep(TIME_LIMIT * 2);
    }
    "ok"
}

static PANICS: Target = Target { name: "self-test-panic", make: one_byte, run: panics_on_seven };
static HANGS: Target = Target { name: "self-test-hang", make: one_byte, run: hangs_on_seven };

/// The message of the panic of `f`.
fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("the harness reports a failure");
    payload.downcast_ref::<String>().cloned().unwrap_or_default()
}

/// A panicking input and a hanging input are reported with the seed, index and input.
#[test]
fn harness_reports_panics_and_hangs() {
    let msg = panic_message(|| {
        fuzz(&PANICS, 3, 0, Budget::Inputs(100_000));
    });
    assert!(
        msg.contains("panic: seven") && msg.contains("seed 3, input ") && msg.contains("input (1 bytes): b\"\\x07\""),
        "{msg}"
    );
    // Replaying the reported index alone fails the same way.
    let i: u64 =
        msg.split("input ").nth(1).and_then(|s| s.split(';').next()).and_then(|s| s.parse().ok()).expect("index");
    assert!(panic_message(|| {
        fuzz(&PANICS, 3, i, Budget::Inputs(1));
    })
    .contains(&format!("seed 3, input {i};")));
    let msg = panic_message(|| {
        fuzz(&HANGS, 3, 0, Budget::Inputs(100_000));
    });
    assert!(msg.contains("hangs: still running after") && msg.contains("b\"\\x07\""), "{msg}");
}
