//! The rows of the identities table: [`Checker`] accumulates the comparisons of one identity by
//! one pair of methods and judges them by a [`Criterion`] against a tolerance.

use serde::{Deserialize, Serialize};

/// How a row is judged.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// max relative error <= tolerance
    Rel,
    /// max absolute error <= tolerance
    Abs,
    /// max |difference| / standard error <= tolerance
    Sigma,
}

/// One row of the identities table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub statement: String,
    pub params: String,
    pub methods: String,
    pub max_abs_err: f64,
    pub max_rel_err: f64,
    pub tolerance: f64,
    pub criterion: Criterion,
    pub pass: bool,
    /// Where the error named by the criterion was largest.
    pub worst: String,
    /// Where the relative error was largest.
    pub worst_rel: String,
    /// Number of comparisons.
    pub n: usize,
    /// Largest Monte Carlo standard error (Monte Carlo rows).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mc_std_err: Option<f64>,
    /// Largest |difference| / standard error (Monte Carlo rows).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max_sigma: Option<f64>,
}

/// Accumulates the comparisons of one row.
#[derive(Clone, Debug)]
pub struct Checker {
    row: Row,
    worst_key: f64,
}

impl Checker {
    /// An empty row: identity `id`, its statement, parameters and methods, judged by `criterion`
    /// against `tolerance`.
    pub fn new(id: &str, statement: &str, params: String, methods: &str, criterion: Criterion, tolerance: f64) -> Self {
        Self {
            row: Row {
                id: id.into(),
                statement: statement.into(),
                params,
                methods: methods.into(),
                max_abs_err: 0.0,
                max_rel_err: 0.0,
                tolerance,
                criterion,
                pass: true,
                worst: String::new(),
                worst_rel: String::new(),
                n: 0,
                mc_std_err: None,
                max_sigma: None,
            },
            worst_key: -1.0,
        }
    }

    /// Compares `value` with `reference` at the point described by `at`.
    pub fn add(&mut self, value: f64, reference: f64, at: impl FnOnce() -> String) {
        self.add_se(value, reference, None, at)
    }

    /// Like [`Checker::add`] with a Monte Carlo standard error.
    pub fn add_se(&mut self, value: f64, reference: f64, se: Option<f64>, at: impl FnOnce() -> String) {
        let abs = (value - reference).abs();
        let rel = if reference != 0.0 {
            abs / reference.abs()
        } else if abs == 0.0 {
            0.0
        } else {
            f64::INFINITY
        };
        let r = &mut self.row;
        r.n += 1;
        let abs = if abs.is_nan() { f64::INFINITY } else { abs };
        let rel = if rel.is_nan() { f64::INFINITY } else { rel };
        r.max_abs_err = r.max_abs_err.max(abs);
        let at = at();
        if rel > r.max_rel_err || r.worst_rel.is_empty() {
            r.max_rel_err = rel;
            r.worst_rel = at.clone();
        }
        let sigma = se.map(|s| {
            if s > 0.0 {
                abs / s
            } else if abs == 0.0 {
                0.0
            } else {
                f64::INFINITY
            }
        });
        if let Some(s) = se {
            r.mc_std_err = Some(r.mc_std_err.unwrap_or(0.0).max(s));
        }
        if let Some(z) = sigma {
            r.max_sigma = Some(r.max_sigma.unwrap_or(0.0).max(z));
        }
        let key = match r.criterion {
            Criterion::Rel => rel,
            Criterion::Abs => abs,
            Criterion::Sigma => sigma.unwrap_or(f64::INFINITY),
        };
        if key > self.worst_key {
            self.worst_key = key;
            r.worst = at;
        }
    }

    /// Records a computation that failed (counts as an infinite error).
    pub fn fail(&mut self, what: String) {
        self.row.n += 1;
        self.row.max_abs_err = f64::INFINITY;
        self.row.max_rel_err = f64::INFINITY;
        self.worst_key = f64::INFINITY;
        self.row.worst_rel = what.clone();
        self.row.worst = what;
    }

    /// The row, which passes when it has comparisons and the error named by the criterion is at
    /// most the tolerance.
    pub fn finish(mut self) -> Row {
        let r = &mut self.row;
        let measured = match r.criterion {
            Criterion::Rel => r.max_rel_err,
            Criterion::Abs => r.max_abs_err,
            Criterion::Sigma => r.max_sigma.unwrap_or(f64::INFINITY),
        };
        r.pass = r.n > 0 && measured <= r.tolerance;
        self.row
    }
}

/// `x1, x2, ...` as Rust prints them.
pub(super) fn fmt_list(xs: &[f64]) -> String {
    xs.iter().map(|x| format!("{x}")).collect::<Vec<_>>().join(", ")
}

/// Parameter text of a correlation grid (its ends and size).
pub(super) fn c_params(cs: &[f64]) -> String {
    format!("$c \\in [{}, {}]$ ({} values incl. $\\pm 0.99, \\pm 0.999$)", cs[0], cs[cs.len() - 1], cs.len())
}

/// Parameter text of a list of $\alpha$.
pub(super) fn a_params(a: &[f64]) -> String {
    format!("$\\alpha \\in \\{{{}\\}}$", fmt_list(a))
}
