//! The `meanfield` and `init` commands (the binary wires them; the logic is here).
//!
//! Invalid values are [`UsageError`]s naming the value and the valid range (exit status 2).

use super::init::{recommend, Prediction, Recommendation, Target, LN_F32_MAX};
use super::recurrence::{trajectory, Layer, Sampling, Spec, Variances};
use super::MeanFieldError;
use crate::activation::Activation;
use crate::architecture::Architecture;
use crate::error::{check_range, UsageError};
use serde_json::{json, Value};
use std::io::Write;

/// Largest depth the commands accept.
pub const MAX_DEPTH: i64 = 100_000_000;
/// Largest variance the commands accept.
pub const MAX_VAR: f64 = 1e6;

/// Iterate the mean-field recurrences of a random network and print one row per reported layer.
#[derive(clap::Args, Debug, Clone, PartialEq)]
pub struct MeanfieldArgs {
    /// Architecture: full (FRN), reduced (RRN) or vanilla
    #[arg(long, default_value = "full")]
    pub arch: String,
    /// Activation: tanh, relu, alpha-relu, erf, gelu
    #[arg(long)]
    pub act: String,
    /// Exponent of alpha-relu (alpha > 0; gradient moments are infinite for alpha <= 1/2)
    #[arg(long, allow_negative_numbers = true)]
    pub alpha: Option<f64>,
    /// Weight variance sigma_w^2
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub sw2: f64,
    /// Residual-branch weight variance sigma_v^2 (FRN only)
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub sv2: f64,
    /// Bias variance sigma_b^2
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub sb2: f64,
    /// Residual-branch bias variance sigma_a^2 (FRN only)
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub sa2: f64,
    /// Squared length per coordinate of both inputs, p^0 > 0
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub p0: f64,
    /// Cosine between the two inputs, e^0 in [-1, 1]
    #[arg(long, default_value_t = 0.5, allow_negative_numbers = true)]
    pub e0: f64,
    /// Number of blocks L (1 to 100000000)
    #[arg(long, allow_negative_numbers = true)]
    pub depth: i64,
    /// Report every K-th layer (and the last); without it only the last layer
    #[arg(long, allow_negative_numbers = true)]
    pub every: Option<i64>,
    /// Output format: table, json or csv
    #[arg(long, default_value = "table")]
    pub format: String,
}

/// Recommend a depth-dependent initialization variance and compare Xavier and He.
#[derive(clap::Args, Debug, Clone, PartialEq)]
pub struct InitArgs {
    /// Architecture: full (FRN; searches sigma_v^2), reduced or vanilla (search sigma_w^2)
    #[arg(long, default_value = "full")]
    pub arch: String,
    /// Activation: tanh, relu, alpha-relu, erf, gelu
    #[arg(long)]
    pub act: String,
    /// Exponent of alpha-relu (alpha > 0)
    #[arg(long, allow_negative_numbers = true)]
    pub alpha: Option<f64>,
    /// Number of blocks L (1 to 100000000)
    #[arg(long, allow_negative_numbers = true)]
    pub depth: i64,
    /// Weight variance sigma_w^2 (fixed while sigma_v^2 is searched; FRN only)
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub sw2: f64,
    /// Bound G on the predicted ln(chi^0/chi^L) (target grad)
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub max_log_grad_explosion: f64,
    /// Bound on ln p^L (target pL); default ln of the largest float32
    #[arg(long, default_value_t = LN_F32_MAX, allow_negative_numbers = true)]
    pub max_log_p: f64,
    /// What to bound: grad (log gradient explosion) or pL (log p^L, float32 overflow; suits ReLU)
    #[arg(long, default_value = "grad")]
    pub target: String,
    /// Output format: table or json
    #[arg(long, default_value = "table")]
    pub format: String,
}

fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError::new(msg))
}

fn parse_act(act: &str, alpha: Option<f64>) -> anyhow::Result<Activation> {
    if alpha.is_some() && act != "alpha-relu" {
        return Err(usage(format!("--alpha is only valid with --act alpha-relu (got --act {act})")));
    }
    Activation::parse(act, alpha).map_err(|e| usage(e.to_string()))
}

fn parse_arch(arch: &str) -> anyhow::Result<Architecture> {
    Architecture::parse(arch).map_err(|e| usage(e.to_string()))
}

fn parse_depth(depth: i64) -> anyhow::Result<usize> {
    if !(1..=MAX_DEPTH).contains(&depth) {
        return Err(usage(format!("depth = {depth} is out of range (valid: 1 <= depth <= {MAX_DEPTH})")));
    }
    Ok(depth as usize)
}

fn var(name: &str, x: f64) -> anyhow::Result<f64> {
    check_range(name, x, 0.0, MAX_VAR).map_err(anyhow::Error::new)
}

fn engine_err(e: MeanFieldError) -> anyhow::Error {
    match e {
        MeanFieldError::BadParameter { .. } => usage(e.to_string()),
        other => anyhow::Error::new(other),
    }
}

/// The validated problem of `meanfield`.
pub fn spec_of(args: &MeanfieldArgs) -> anyhow::Result<(Spec, usize, Sampling)> {
    let arch = parse_arch(&args.arch)?;
    let act = parse_act(&args.act, args.alpha)?;
    let v = Variances { sw2: var("sw2", args.sw2)?, sv2: var("sv2", args.sv2)?, sb2: var("sb2", args.sb2)?, sa2: var("sa2", args.sa2)? };
    if !(args.p0.is_finite() && args.p0 > 0.0 && args.p0 <= MAX_VAR) {
        return Err(usage(format!("p0 = {} is out of range (valid: 0 < p0 <= {MAX_VAR})", args.p0)));
    }
    let e0 = check_range("e0", args.e0, -1.0, 1.0)?;
    let depth = parse_depth(args.depth)?;
    let sampling = match args.every {
        None => Sampling::Last,
        Some(k) if k >= 1 => Sampling::Every(k as usize),
        Some(k) => return Err(usage(format!("every = {k} is out of range (valid: every >= 1)"))),
    };
    if !["table", "json", "csv"].contains(&args.format.as_str()) {
        return Err(usage(format!("unknown format '{}' (valid: table, json, csv)", args.format)));
    }
    Ok((Spec { arch, act, var: v, p0: args.p0, e0 }, depth, sampling))
}

/// A float for JSON: the number if finite, `"inf"`/`"-inf"` for infinities (documented), never NaN.
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

/// $e^{x}$ as JSON: the number if it is a finite `f64`, else null (the log is printed beside it).
fn jexp(x: f64) -> Value {
    let v = x.exp();
    if v.is_finite() {
        json!(v)
    } else {
        Value::Null
    }
}

/// One JSON row: l, p, log_p, q, gamma, lambda, e, one_minus_e, c, s, log_s, log_grad_explosion,
/// log_chi_w. `p`, `q`, `gamma`, `lambda`, `s` are null when beyond `f64` (use the logs); q,
/// lambda, c are null at l = 0 (no block); log_grad_explosion is the string "inf" when the gradient
/// moment is infinite; log_chi_w is null where not defined.
pub fn layer_json(layer: &Layer) -> Value {
    let p = jexp(layer.ln_p);
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
        "p": p,
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

fn notes(spec: &Spec) -> Vec<String> {
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

const COLS: [&str; 13] = [
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

/// Cell text for table and CSV: numbers in `{:e}`, "inf", or empty.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                u.to_string()
            } else {
                format!("{:.9e}", n.as_f64().unwrap_or(0.0))
            }
        }
        other => other.to_string(),
    }
}

/// `edge-of-chaos meanfield ...`: prints the reported layers in the chosen format.
pub fn run_meanfield(args: &MeanfieldArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let (spec, depth, sampling) = spec_of(args)?;
    let traj = trajectory(&spec, depth, &sampling).map_err(engine_err)?;
    let rows: Vec<Value> = traj.layers.iter().map(layer_json).collect();
    let notes = notes(&spec);
    match args.format.as_str() {
        "json" => {
            let doc = json!({
                "arch": spec.arch.name(),
                "act": spec.act.kind(),
                "alpha": spec.act.alpha(),
                "sw2": spec.var.sw2, "sv2": spec.var.sv2, "sb2": spec.var.sb2, "sa2": spec.var.sa2,
                "p0": spec.p0, "e0": spec.e0, "depth": depth, "every": args.every,
                "notes": notes,
                "layers": rows,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        "csv" => {
            writeln!(out, "{}", COLS.join(","))?;
            for r in &rows {
                let line: Vec<String> = COLS.iter().map(|k| cell(&r[*k])).collect();
                writeln!(out, "{}", line.join(","))?;
            }
        }
        _ => {
            writeln!(
                out,
                "# meanfield: arch={} act={} sw2={} sv2={} sb2={} sa2={} p0={} e0={} depth={}",
                spec.arch.name(),
                spec.act,
                spec.var.sw2,
                spec.var.sv2,
                spec.var.sb2,
                spec.var.sa2,
                spec.p0,
                spec.e0,
                depth
            )?;
            for n in &notes {
                writeln!(out, "# note: {n}")?;
            }
            let header: Vec<String> = COLS.iter().map(|c| format!("{c:>16}")).collect();
            writeln!(out, "{}", header.join(" "))?;
            for r in &rows {
                let line: Vec<String> = COLS
                    .iter()
                    .map(|k| {
                        let s = cell(&r[*k]);
                        format!("{:>16}", if s.is_empty() { "-".to_string() } else { s })
                    })
                    .collect();
                writeln!(out, "{}", line.join(" "))?;
            }
        }
    }
    Ok(())
}

fn prediction_json(p: &Prediction) -> Value {
    json!({
        "sw2": p.sw2,
        "sv2": p.sv2,
        "log_grad_explosion": jnum(p.log_grad_explosion),
        "log_p": jnum(p.log_p),
    })
}

/// The validated problem of `init`: (base spec, depth, target).
pub fn init_problem(args: &InitArgs) -> anyhow::Result<(Spec, usize, Target)> {
    let arch = parse_arch(&args.arch)?;
    let act = parse_act(&args.act, args.alpha)?;
    let sw2 = var("sw2", args.sw2)?;
    let depth = parse_depth(args.depth)?;
    let target = match args.target.as_str() {
        "grad" => Target::Grad { max: check_range("max-log-grad-explosion", args.max_log_grad_explosion, 0.0, 1e12)? },
        "pL" | "pl" => Target::LogP { max: check_range("max-log-p", args.max_log_p, -1e12, 1e12)? },
        other => return Err(usage(format!("unknown target '{other}' (valid: grad, pL)"))),
    };
    if !["table", "json"].contains(&args.format.as_str()) {
        return Err(usage(format!("unknown format '{}' (valid: table, json)", args.format)));
    }
    Ok((Spec { arch, act, var: Variances::weights(sw2, 1.0), p0: 1.0, e0: 0.5 }, depth, target))
}

/// `edge-of-chaos init ...`: the recommended variance beside Xavier and He.
pub fn run_init(args: &InitArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let (base, depth, target) = init_problem(args)?;
    let r: Recommendation = recommend(&base, depth, target).map_err(engine_err)?;
    let target_name = match target {
        Target::Grad { .. } => "grad",
        Target::LogP { .. } => "pL",
    };
    if args.format == "json" {
        let mut doc = prediction_json(&r.best);
        let o = doc.as_object_mut().expect("object");
        o.insert("arch".into(), json!(base.arch.name()));
        o.insert("act".into(), json!(base.act.kind()));
        o.insert("alpha".into(), json!(base.act.alpha()));
        o.insert("depth".into(), json!(depth));
        o.insert("target".into(), json!(target_name));
        o.insert(
            "bound".into(),
            json!(match target {
                Target::Grad { max } | Target::LogP { max } => max,
            }),
        );
        o.insert("searched".into(), json!(r.searched));
        o.insert("capped".into(), json!(r.capped));
        o.insert("xavier".into(), prediction_json(&r.xavier));
        o.insert("he".into(), prediction_json(&r.he));
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(());
    }
    let (what, bound) = match target {
        Target::Grad { max } => ("ln(chi^0/chi^L)", max),
        Target::LogP { max } => ("ln p^L", max),
    };
    writeln!(
        out,
        "# init: arch={} act={} depth={depth} target: {what} <= {bound}, searching {}{}",
        base.arch.name(),
        base.act,
        r.searched,
        if base.arch == Architecture::Full { format!(" at sw2 = {}", base.var.sw2) } else { String::new() }
    )?;
    if r.capped {
        writeln!(out, "# note: every variance up to {} satisfies the bound; the cap is shown", super::init::MAX_VARIANCE)?;
    }
    writeln!(out, "{:>12} {:>14} {:>14} {:>18} {:>14}", "", "sw2", "sv2", "log_grad_expl", "log_p")?;
    for (name, p) in [("recommended", &r.best), ("xavier", &r.xavier), ("he", &r.he)] {
        writeln!(
            out,
            "{:>12} {:>14.6e} {:>14} {:>18} {:>14.6e}",
            name,
            p.sw2,
            p.sv2.map(|v| format!("{v:.6e}")).unwrap_or_else(|| "-".into()),
            if p.log_grad_explosion.is_finite() { format!("{:.6e}", p.log_grad_explosion) } else { "inf".into() },
            p.log_p
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mf(extra: &[(&str, &str)]) -> MeanfieldArgs {
        let mut a = MeanfieldArgs {
            arch: "full".into(),
            act: "tanh".into(),
            alpha: None,
            sw2: 1.0,
            sv2: 1.0,
            sb2: 0.0,
            sa2: 0.0,
            p0: 1.0,
            e0: 0.5,
            depth: 10,
            every: None,
            format: "json".into(),
        };
        for (k, v) in extra {
            match *k {
                "arch" => a.arch = v.to_string(),
                "act" => a.act = v.to_string(),
                "alpha" => a.alpha = Some(v.parse().unwrap()),
                "sw2" => a.sw2 = v.parse().unwrap(),
                "sv2" => a.sv2 = v.parse().unwrap(),
                "e0" => a.e0 = v.parse().unwrap(),
                "p0" => a.p0 = v.parse().unwrap(),
                "depth" => a.depth = v.parse().unwrap(),
                "every" => a.every = Some(v.parse().unwrap()),
                "format" => a.format = v.to_string(),
                _ => unreachable!(),
            }
        }
        a
    }

    fn is_usage(r: anyhow::Result<()>) -> String {
        let e = r.unwrap_err();
        assert!(e.downcast_ref::<UsageError>().is_some(), "not a usage error: {e}");
        e.to_string()
    }

    #[test]
    fn invalid_values_are_usage_errors_naming_the_range() {
        let mut sink = Vec::new();
        let m = is_usage(run_meanfield(&mf(&[("sv2", "-1")]), &mut sink));
        assert!(m.contains("sv2 = -1") && m.contains("valid"), "{m}");
        let m = is_usage(run_meanfield(&mf(&[("e0", "1.5")]), &mut sink));
        assert!(m.contains("e0 = 1.5") && m.contains("-1 <= e0 <= 1"), "{m}");
        let m = is_usage(run_meanfield(&mf(&[("depth", "0")]), &mut sink));
        assert!(m.contains("depth = 0"), "{m}");
        let m = is_usage(run_meanfield(&mf(&[("act", "sigmoid")]), &mut sink));
        assert!(m.contains("sigmoid") && m.contains("tanh"), "{m}");
        let m = is_usage(run_meanfield(&mf(&[("act", "alpha-relu"), ("alpha", "0")]), &mut sink));
        assert!(m.contains("alpha = 0") && m.contains("alpha > 0"), "{m}");
        let m = is_usage(run_meanfield(&mf(&[("act", "alpha-relu")]), &mut sink));
        assert!(m.contains("--alpha"), "{m}");
        let m = is_usage(run_meanfield(&mf(&[("arch", "dense")]), &mut sink));
        assert!(m.contains("dense") && m.contains("full, reduced, vanilla"), "{m}");
        is_usage(run_meanfield(&mf(&[("p0", "0")]), &mut sink));
        is_usage(run_meanfield(&mf(&[("format", "xml")]), &mut sink));
        is_usage(run_meanfield(&mf(&[("every", "0")]), &mut sink));
        assert!(sink.is_empty());
        let bad_init = InitArgs {
            arch: "full".into(),
            act: "relu".into(),
            alpha: None,
            depth: 10,
            sw2: -2.0,
            max_log_grad_explosion: 1.0,
            max_log_p: LN_F32_MAX,
            target: "grad".into(),
            format: "table".into(),
        };
        is_usage(run_init(&bad_init, &mut sink));
        is_usage(run_init(&InitArgs { sw2: 1.0, target: "loss".into(), ..bad_init.clone() }, &mut sink));
        is_usage(run_init(&InitArgs { sw2: 1.0, depth: 0, ..bad_init.clone() }, &mut sink));
        let m = is_usage(run_init(
            &InitArgs { sw2: 1.0, act: "alpha-relu".into(), alpha: Some(0.3), ..bad_init.clone() },
            &mut sink,
        ));
        assert!(m.contains("infinite"), "{m}");
    }

    /// JSON: keys of the issue, ReLU at depth 2000 has p beyond nothing, e close to 1; the
    /// depth-10^6 ReLU p (~ e^{693147}) is printed as null with its log.
    #[test]
    fn json_rows_and_huge_p() {
        let mut out = Vec::new();
        run_meanfield(&mf(&[("act", "relu"), ("sw2", "2"), ("depth", "1000000")]), &mut out).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        let layers = v["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 1);
        let l = &layers[0];
        for k in ["l", "p", "q", "gamma", "lambda", "e", "c", "s", "log_grad_explosion", "log_chi_w", "log_p"] {
            assert!(l.get(k).is_some(), "missing {k}");
        }
        assert!(l["p"].is_null());
        let expect = 1e6 * 2f64.ln(); // (1 + sv2 sw2/2) = 2
        assert!((l["log_p"].as_f64().unwrap() / expect - 1.0).abs() < 1e-10);
        assert!((l["log_grad_explosion"].as_f64().unwrap() / expect - 1.0).abs() < 1e-10);

        let mut out = Vec::new();
        run_meanfield(&mf(&[("every", "5")]), &mut out).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        let ls: Vec<u64> = v["layers"].as_array().unwrap().iter().map(|r| r["l"].as_u64().unwrap()).collect();
        assert_eq!(ls, vec![0, 5, 10]);
        assert!(v["layers"][0]["log_chi_w"].is_null() && v["layers"][0]["q"].is_null());
    }

    /// Negative values reach our range check (exit status 2 with the range), not clap's parser.
    #[test]
    fn negative_values_parse_and_are_rejected_by_range() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: MeanfieldArgs,
        }
        let cli = Cli::try_parse_from(["x", "--act", "tanh", "--depth", "-3", "--sv2", "-1"]).unwrap();
        let m = is_usage(run_meanfield(&cli.args, &mut Vec::new()));
        assert!(m.contains("sv2 = -1"), "{m}");
    }

    #[test]
    fn infinite_moment_is_named_in_every_format() {
        for fmt in ["json", "csv", "table"] {
            let mut out = Vec::new();
            run_meanfield(&mf(&[("act", "alpha-relu"), ("alpha", "0.4"), ("format", fmt)]), &mut out).unwrap();
            let s = String::from_utf8(out).unwrap();
            assert!(s.contains("inf"), "{fmt}: {s}");
            assert!(!s.contains("NaN") && !s.contains("nan"), "{fmt}: {s}");
        }
    }

    #[test]
    fn init_json_has_keys() {
        let args = InitArgs {
            arch: "full".into(),
            act: "relu".into(),
            alpha: None,
            depth: 50,
            sw2: 1.0,
            max_log_grad_explosion: 1.0,
            max_log_p: LN_F32_MAX,
            target: "grad".into(),
            format: "json".into(),
        };
        let mut out = Vec::new();
        run_init(&args, &mut out).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        for k in ["sw2", "sv2", "log_grad_explosion"] {
            assert!(v.get(k).is_some() && v["xavier"].get(k).is_some() && v["he"].get(k).is_some(), "{k}");
        }
        // 2 (e^{1/50} - 1) = 0.040404...
        assert!((v["sv2"].as_f64().unwrap() / (2.0 * ((0.02f64).exp() - 1.0)) - 1.0).abs() < 2e-6);
    }
}
