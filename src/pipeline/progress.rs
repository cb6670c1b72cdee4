//! Progress reporting on stderr: indicatif bars on a terminal, plain lines otherwise, nothing with
//! `-q`.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How much to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// Shared progress reporter.
#[derive(Clone)]
pub struct Progress {
    verbosity: Verbosity,
    multi: Option<MultiProgress>,
}

impl Progress {
    /// Bars when stderr is a terminal, plain lines otherwise.
    pub fn new(verbosity: Verbosity) -> Self {
        let multi = (verbosity > Verbosity::Quiet && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Self { verbosity, multi }
    }

    /// Prints nothing (tests, library use).
    pub fn silent() -> Self {
        Self { verbosity: Verbosity::Quiet, multi: None }
    }

    pub fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    /// A status line (shown unless quiet).
    pub fn info(&self, msg: &str) {
        if self.verbosity >= Verbosity::Normal {
            self.println(msg);
        }
    }

    /// A detail line (only with `-v`).
    pub fn detail(&self, msg: &str) {
        if self.verbosity >= Verbosity::Verbose {
            self.println(msg);
        }
    }

    /// A warning (always shown).
    pub fn warn(&self, msg: &str) {
        self.println(&format!("warning: {msg}"));
    }

    fn println(&self, msg: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(msg);
            }
            None => eprintln!("{msg}"),
        }
    }

    /// A bar for `len` units of work. On a terminal it is an indicatif bar; otherwise a line
    /// is printed at most every 5 seconds and at the end.
    pub fn bar(&self, len: u64, label: &str) -> Bar {
        let inner = match (&self.multi, self.verbosity) {
            (_, Verbosity::Quiet) => BarInner::Hidden,
            (Some(m), _) => {
                let pb = m.add(ProgressBar::new(len));
                pb.set_style(
                    ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {msg} ({elapsed}, eta {eta})")
                        .expect("valid template")
                        .progress_chars("=> "),
                );
                pb.set_prefix(label.to_string());
                pb.enable_steady_tick(Duration::from_millis(200));
                BarInner::Tty(pb)
            }
            (None, _) => BarInner::Plain(Arc::new(PlainBar {
                label: label.to_string(),
                len,
                pos: AtomicU64::new(0),
                start: Instant::now(),
                last: Mutex::new(Instant::now()),
            })),
        };
        Bar { inner }
    }
}

struct PlainBar {
    label: String,
    len: u64,
    pos: AtomicU64,
    start: Instant,
    last: Mutex<Instant>,
}

#[derive(Clone)]
enum BarInner {
    Hidden,
    Tty(ProgressBar),
    Plain(Arc<PlainBar>),
}

/// A progress bar handle; cheap to clone and safe to share across threads.
#[derive(Clone)]
pub struct Bar {
    inner: BarInner,
}

impl Bar {
    pub fn hidden() -> Self {
        Self { inner: BarInner::Hidden }
    }

    pub fn inc(&self, n: u64) {
        match &self.inner {
            BarInner::Hidden => {}
            BarInner::Tty(pb) => pb.inc(n),
            BarInner::Plain(p) => {
                let pos = p.pos.fetch_add(n, Ordering::Relaxed) + n;
                let mut last = p.last.lock().unwrap_or_else(|e| e.into_inner());
                if last.elapsed() >= Duration::from_secs(5) {
                    *last = Instant::now();
                    eprintln!("{}: {pos}/{} ({:.0?})", p.label, p.len, p.start.elapsed());
                }
            }
        }
    }

    pub fn set_message(&self, msg: impl Into<String>) {
        if let BarInner::Tty(pb) = &self.inner {
            pb.set_message(msg.into());
        }
    }

    pub fn finish(&self) {
        match &self.inner {
            BarInner::Hidden => {}
            BarInner::Tty(pb) => pb.finish_and_clear(),
            BarInner::Plain(p) => {
                let pos = p.pos.load(Ordering::Relaxed);
                if p.start.elapsed() >= Duration::from_secs(1) {
                    eprintln!("{}: {pos}/{} done in {:.1?}", p.label, p.len, p.start.elapsed());
                }
            }
        }
    }
}
