//! The three network architectures of the paper (docs/theory.md §1).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Vanilla feedforward, reduced residual (RRN) or full residual (FRN) network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// $x^l = W^l \phi(x^{l-1}) + b^l$
    Vanilla,
    /// $x^l = x^{l-1} + W^l \phi(x^{l-1}) + b^l$
    Reduced,
    /// $h^l = W^l x^{l-1} + b^l$, $x^l = x^{l-1} + V^l \phi(h^l) + a^l$
    Full,
}

/// Error for an architecture name that does not exist.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("unknown architecture '{0}' (valid: full, reduced, vanilla)")]
pub struct ArchitectureError(pub String);

impl Architecture {
    pub const NAMES: &'static [&'static str] = &["full", "reduced", "vanilla"];

    pub fn parse(name: &str) -> Result<Self, ArchitectureError> {
        match name {
            "full" | "frn" => Ok(Self::Full),
            "reduced" | "rrn" => Ok(Self::Reduced),
            "vanilla" => Ok(Self::Vanilla),
            other => Err(ArchitectureError(other.to_string())),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Reduced => "reduced",
            Self::Vanilla => "vanilla",
        }
    }

    /// Abbreviation used in the report: FRN, RRN, vanilla.
    pub fn short(&self) -> &'static str {
        match self {
            Self::Full => "FRN",
            Self::Reduced => "RRN",
            Self::Vanilla => "vanilla",
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
