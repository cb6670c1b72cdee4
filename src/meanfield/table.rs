//! The layer table of one network (what `edge-of-chaos meanfield` prints): the mean-field
//! recurrences of [`super::recurrence`] iterated to a depth, one row per reported layer.
//!
//! A row holds $l$, $p^l$, $\ln p^l$, $q^l$, $\gamma^l$, $\lambda^l$, $e^l$, $1 - e^l$, $c^l$,
//! $s^l = p^l - \gamma^l$ (as $e^{\ln s}$ with $\ln s^l = \ln p^l + \ln(1 - e^l)$), $\ln s^l$, the log
//! gradient explosion $\ln(\chi^0/\chi^l)$ and the log weight-gradient ratio $\ln(\chi_w^1/\chi_w^l)$.
//! Quantities beyond the range of `f64` are `null` beside their logs, an infinite gradient moment
//! is the string `"inf"`, and nothing is ever NaN.

use super::recurrence::{trajectory, Layer, Sampling, Spec};
use super::MeanFieldError;
use crate::architecture::Architecture;
use serde_json::{json, Value};

/// Largest depth of a table.
pub const MAX_DEPTH: usize = 100_000_000;
/// Largest number of reported layers (a row is about 1 kB in memory).
pub const MAX_ROWS: usize = 1_000_000;
/// Largest variance ($\sigma_w^2, \sigma_v^2, \sigma_b^2, \sigma_a^2$) and $p^0$ of a table.
pub const MAX_INPUT_VARIANCE: f64 = 1e6;

/// The columns of a row, in order.
pub const COLUMNS: [&str; 13] = [
    "l",
    "p",
    "log_p",
    "q",
    "gamma",
    "lambda",
    "e",
    "one_minus_e",
    "c",
    "s",
    "log_s",
    "log_grad_explosion",
    "log_chi_w",
];

/// The reported layers of one network.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerTable {
    pub spec: Spec,
    pub depth: usize,
    /// Every `every`-th layer is reported (and the last); `None`: only the last.
    pub every: Option<usize>,
    /// Remarks on how to read the table (infinite moments, what q means for RRN/vanilla).
    pub notes: Vec<String>,
    /// One JSON object per reported layer with the keys [`COLUMNS`].
    pub rows: Vec<Value>,
}

impl LayerTable {
    /// Iterates the recurrences of `spec` to `depth` blocks.
    ///
    /// Errors: [`MeanFieldError::BadParameter`] for a depth outside $[1,$ [`MAX_DEPTH`]$]$,
    /// `every = 0`, more than [`MAX_ROWS`] reported layers or a variance or $p^0$ above
    /// [`MAX_INPUT_VARIANCE`] (and what [`Spec::validate`] rejects); the recurrence's errors
    /// (overflow, a special function that does not converge).
    pub fn compute(spec: &Spec, depth: usize, every: Option<usize>) -> Result<Self, MeanFieldError> {
        check(spec, depth, every)?;
        let sampling = every.map_or(Sampling::Last, Sampling::Every);
        let traj = trajectory(spec, depth, &sampling)?;
        Ok(Self { spec: *spec, depth, every, notes: notes(spec), rows: traj.layers.iter().map(layer_row).collect() })
    }

    /// The whole table as one JSON document: the inputs, `notes` and `layers` (the rows).
    pub fn to_json(&self) -> Value {
        let s = &self.spec;
        json!({
            "arch": s.arch.name(),
            "act": s.act.kind(),
            "alpha": s.act.alpha(),
            "sw2": s.var.sw2, "sv2": s.var.sv2, "sb2": s.var.sb2, "sa2": s.var.sa2,
            "p0": s.p0, "e0": s.e0, "depth": self.depth, "every": self.every,
            "notes": self.notes,
            "layers": self.rows,
        })
    }
}

fn check(spec: &Spec, depth: usize, every: Option<usize>) -> Result<(), MeanFieldError> {
    let bad = |name, value: f64, valid| Err(MeanFieldError::BadParameter { name, value, valid });
    if !(1..=MAX_DEPTH).contains(&depth) {
        return bad("depth", depth as f64, "1 <= depth <= 100000000");
    }
    let v = spec.var;
    for (name, x) in [("sw2", v.sw2), ("sv2", v.sv2), ("sb2", v.sb2), ("sa2", v.sa2), ("p0", spec.p0)] {
        if x > MAX_INPUT_VARIANCE {
            return bad(name, x, "at most 1e6");
        }
    }
    if let Some(k) = every {
        if k == 0 {
            return bad("every", 0.0, "every >= 1");
        }
        if depth / k > MAX_ROWS {
            return bad("every", k as f64, "every >= depth / 1000000 (at most a million reported layers)");
        }
    }
    spec.validate()
}

/// A float for JSON: the number if finite, `"inf"`/`"-inf"` for infinities, never NaN (null).
fn jnum(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else if x == f64::INFINITY {
        json!("inf")
    } else if x == f64::NEG_INFINITY {
        json!("-inf")
    } else {
        Value::Null
    }
}

/// $e^{x}$ as JSON: the number if it is a finite `f64`, else null (the log is given beside it).
fn jexp(x: f64) -> Value {
    let v = x.exp();
    if v.is_finite() {
        json!(v)
    } else {
        Value::Null
    }
}

/// One row with the keys [`COLUMNS`]. `p`, `q`, `gamma`, `lambda`, `s` are null when beyond `f64`
/// (use the logs); q, lambda, c are null at l = 0 (no block); log_grad_explosion is the string
/// "inf" when the gradient moment is infinite; log_chi_w is null where not defined.
pub fn layer_row(layer: &Layer) -> Value {
    let gamma = if layer.ln_p.exp().is_finite() { json!(layer.gamma()) } else { Value::Null };
    let (q, lambda, c) = match layer.block {
        Some(b) => {
            let q = b.ln_q.exp();
            if q.is_finite() {
                (json!(q), json!(q * b.c), json!(b.c))
            } else {
                (Value::Null, Value::Null, json!(b.c))
            }
        }
        None => (Value::Null, Value::Null, Value::Null),
    };
    json!({
        "l": layer.l,
        "p": jexp(layer.ln_p),
        "log_p": jnum(layer.ln_p),
        "q": q,
        "gamma": gamma,
        "lambda": lambda,
        "e": layer.e,
        "one_minus_e": layer.one_minus_e,
        "c": c,
        "s": jexp(layer.ln_s()),
        "log_s": jnum(layer.ln_s()),
        "log_grad_explosion": jnum(layer.log_grad_explosion),
        "log_chi_w": layer.log_chi_w.map(jnum).unwrap_or(Value::Null),
    })
}

/// How to read the table of `spec`.
pub fn notes(spec: &Spec) -> Vec<String> {
    let mut n = Vec::new();
    if let Some(a) = spec.act.alpha() {
        if a <= 0.5 {
            n.push(format!(
                "alpha = {a} <= 1/2: the gradient moment V phi'(q) is infinite, so log_grad_explosion is infinite (\"inf\") and log_chi_w is undefined"
            ));
        }
    }
    if spec.arch != Architecture::Full {
        n.push(format!(
            "{}: q, lambda, c are the variance, covariance and correlation of the input of phi in block l (p, gamma, e of layer l-1); sv2 and sa2 are unused",
            spec.arch.short()
        ));
    }
    n
}

/// A cell as text (table and CSV): integers as they are, other numbers as `{:.9e}`, strings
/// (`inf`) as they are, null as the empty string.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_u64() {
            Some(u) => u.to_string(),
            None => format!("{:.9e}", n.as_f64().unwrap_or(f64::NAN)),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;
    use crate::meanfield::Variances;

    fn spec(arch: Architecture, act: Activation, sw2: f64, sv2: f64) -> Spec {
        Spec { arch, act, var: Variances::weights(sw2, sv2), p0: 1.0, e0: 0.5 }
    }

    /// ReLU FRN at depth 10^6: p ~ e^{693147} is null with its log, ln p = L ln(1 + sv2 sw2/2).
    #[test]
    fn rows_have_every_column_and_huge_p_is_null() {
        let t = LayerTable::compute(&spec(Architecture::Full, Activation::Relu, 2.0, 1.0), 1_000_000, None).unwrap();
        assert_eq!(t.rows.len(), 1);
        let l = &t.rows[0];
        for k in COLUMNS {
            assert!(l.get(k).is_some(), "missing {k}");
        }
        assert!(l["p"].is_null());
        let expect = 1e6 * 2f64.ln();
        assert!((l["log_p"].as_f64().unwrap() / expect - 1.0).abs() < 1e-10);
        assert!((l["log_grad_explosion"].as_f64().unwrap() / expect - 1.0).abs() < 1e-10);
    }

    #[test]
    fn every_k_reports_those_layers_and_the_first_has_no_block() {
        let t = LayerTable::compute(&spec(Architecture::Full, Activation::Tanh, 1.0, 1.0), 10, Some(5)).unwrap();
        let ls: Vec<u64> = t.rows.iter().map(|r| r["l"].as_u64().unwrap()).collect();
        assert_eq!(ls, vec![0, 5, 10]);
        assert!(t.rows[0]["log_chi_w"].is_null() && t.rows[0]["q"].is_null());
        let doc = t.to_json();
        assert_eq!(doc["layers"].as_array().unwrap().len(), 3);
        assert_eq!(doc["act"], "tanh");
    }

    #[test]
    fn infinite_moment_is_the_string_inf_and_noted() {
        let t = LayerTable::compute(&spec(Architecture::Full, Activation::AlphaRelu { alpha: 0.4 }, 1.0, 1.0), 3, None)
            .unwrap();
        assert_eq!(t.rows[0]["log_grad_explosion"], "inf");
        assert_eq!(cell(&t.rows[0]["log_grad_explosion"]), "inf");
        assert!(t.notes[0].contains("infinite"));
    }

    #[test]
    fn out_of_range_inputs_are_bad_parameters() {
        let s = spec(Architecture::Full, Activation::Tanh, 1.0, 1.0);
        let cases: [(Spec, usize, Option<usize>, &str); 5] = [
            (s, 0, None, "depth = 0"),
            (s, MAX_DEPTH + 1, None, "depth = 100000001"),
            (s, 10, Some(0), "every = 0"),
            (s, 10_000_000, Some(1), "every = 1"),
            (spec(Architecture::Full, Activation::Tanh, 1e7, 1.0), 10, None, "sw2 = 10000000"),
        ];
        for (s, depth, every, needle) in cases {
            let e = LayerTable::compute(&s, depth, every).unwrap_err();
            assert!(matches!(e, MeanFieldError::BadParameter { .. }), "{e}");
            assert!(e.to_string().contains(needle) && e.to_string().contains("valid"), "{e}");
        }
    }

    #[test]
    fn cells() {
        assert_eq!(cell(&json!(12)), "12");
        assert_eq!(cell(&json!(0.5)), "5.000000000e-1");
        assert_eq!(cell(&Value::Null), "");
    }
}
