//! `edge-of-chaos meanfield`: iterate the mean-field recurrences of one network and print its
//! layers (the table is computed by `edge_of_chaos::meanfield::table`).

use super::{activation, int_in, parse_act, parse_arch, real_in};
use edge_of_chaos::activation::ActName;
use edge_of_chaos::architecture::Architecture;
use edge_of_chaos::meanfield::table::{cell, LayerTable, COLUMNS, MAX_DEPTH, MAX_INPUT_VARIANCE};
use edge_of_chaos::meanfield::{Spec, Variances};
use std::io::Write;

/// Output format of `meanfield`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// Iterate the mean-field recurrences of a random network and print one row per reported layer.
#[derive(clap::Args, Debug, Clone)]
pub struct MeanfieldArgs {
    /// Architecture: full (FRN), reduced (RRN) or vanilla
    #[arg(long, default_value = "full", value_parser = parse_arch)]
    arch: Architecture,
    /// Activation: tanh, relu, alpha-relu (needs --alpha), erf, gelu
    #[arg(long, value_parser = parse_act)]
    act: ActName,
    /// Exponent of alpha-relu, 0 < alpha <= 50 (gradient moments are infinite for alpha <= 1/2)
    #[arg(long, allow_negative_numbers = true)]
    alpha: Option<f64>,
    /// Weight variance sigma_w^2 (0 to 1e6)
    #[arg(long, default_value = "1", allow_negative_numbers = true, value_parser = variance)]
    sw2: f64,
    /// Residual-branch weight variance sigma_v^2 (FRN only; 0 to 1e6)
    #[arg(long, default_value = "1", allow_negative_numbers = true, value_parser = variance)]
    sv2: f64,
    /// Bias variance sigma_b^2 (0 to 1e6)
    #[arg(long, default_value = "0", allow_negative_numbers = true, value_parser = variance)]
    sb2: f64,
    /// Residual-branch bias variance sigma_a^2 (FRN only; 0 to 1e6)
    #[arg(long, default_value = "0", allow_negative_numbers = true, value_parser = variance)]
    sa2: f64,
    /// Squared length per coordinate of both inputs, 0 < p^0 <= 1e6
    #[arg(long, default_value = "1", allow_negative_numbers = true, value_parser = p0)]
    p0: f64,
    /// Cosine between the two inputs, e^0 in [-1, 1]
    #[arg(long, default_value = "0.5", allow_negative_numbers = true, value_parser = e0)]
    e0: f64,
    /// Number of blocks L (1 to 100000000)
    #[arg(long, value_name = "L", allow_negative_numbers = true, value_parser = depth)]
    depth: usize,
    /// Report every K-th layer (and the last; at most a million layers); without it only the last
    #[arg(long, value_name = "K", allow_negative_numbers = true, value_parser = every)]
    every: Option<usize>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

fn variance(s: &str) -> Result<f64, String> {
    real_in(s, 0.0, MAX_INPUT_VARIANCE)
}

fn p0(s: &str) -> Result<f64, String> {
    match real_in(s, 0.0, MAX_INPUT_VARIANCE) {
        Ok(x) if x > 0.0 => Ok(x),
        _ => Err(format!("{s} is out of range (valid: 0 < p0 <= {MAX_INPUT_VARIANCE})")),
    }
}

fn e0(s: &str) -> Result<f64, String> {
    real_in(s, -1.0, 1.0)
}

fn depth(s: &str) -> Result<usize, String> {
    int_in(s, 1, MAX_DEPTH)
}

fn every(s: &str) -> Result<usize, String> {
    int_in(s, 1, MAX_DEPTH)
}

impl MeanfieldArgs {
    /// The problem these options describe, or a usage error.
    fn spec(&self) -> anyhow::Result<Spec> {
        Ok(Spec {
            arch: self.arch,
            act: activation(self.act, self.alpha)?,
            var: Variances { sw2: self.sw2, sv2: self.sv2, sb2: self.sb2, sa2: self.sa2 },
            p0: self.p0,
            e0: self.e0,
        })
    }
}

pub fn run(args: &MeanfieldArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let spec = args.spec()?;
    let t = LayerTable::compute(&spec, args.depth, args.every)?;
    match args.format {
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&t.to_json())?)?,
        Format::Csv => {
            writeln!(out, "{}", COLUMNS.join(","))?;
            for r in &t.rows {
                let line: Vec<String> = COLUMNS.iter().map(|k| cell(&r[*k])).collect();
                writeln!(out, "{}", line.join(","))?;
            }
        }
        Format::Table => {
            let v = spec.var;
            writeln!(
                out,
                "# meanfield: arch={} act={} sw2={} sv2={} sb2={} sa2={} p0={} e0={} depth={}",
                spec.arch, spec.act, v.sw2, v.sv2, v.sb2, v.sa2, spec.p0, spec.e0, t.depth
            )?;
            for n in &t.notes {
                writeln!(out, "# note: {n}")?;
            }
            let header: Vec<String> = COLUMNS.iter().map(|c| format!("{c:>16}")).collect();
            writeln!(out, "{}", header.join(" "))?;
            for r in &t.rows {
                let line: Vec<String> = COLUMNS
                    .iter()
                    .map(|k| match cell(&r[*k]) {
                        s if s.is_empty() => format!("{:>16}", "-"),
                        s => format!("{s:>16}"),
                    })
                    .collect();
                writeln!(out, "{}", line.join(" "))?;
            }
        }
    }
    Ok(())
}
