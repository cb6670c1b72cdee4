//! Activation functions shared by the mean-field engine, the network core and the report.
//!
//! $\phi_\alpha(x) = \max(x, 0)^\alpha$ is the $\alpha$-ReLU ($\alpha = 1$ is ReLU).

use serde::{Deserialize, Serialize};
use std::fmt;

/// An activation function $\phi$.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Activation {
    /// $\tanh x$
    Tanh,
    /// $\max(x, 0)$
    Relu,
    /// $\max(x, 0)^\alpha$, $\alpha > 0$
    AlphaRelu { alpha: f64 },
    /// $\operatorname{erf} x$
    Erf,
    /// $x \Phi(x)$ with $\Phi$ the standard normal CDF
    Gelu,
}

/// Error for an activation that cannot be built from user input.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ActivationError {
    #[error("unknown activation '{0}' (valid: tanh, relu, alpha-relu, erf, gelu)")]
    Unknown(String),
    #[error("alpha-relu needs --alpha (a number > 0)")]
    MissingAlpha,
    #[error("alpha = {0} is out of range (valid: alpha > 0, finite)")]
    BadAlpha(f64),
}

impl Activation {
    /// Valid names, for messages.
    pub const NAMES: &'static [&'static str] = &["tanh", "relu", "alpha-relu", "erf", "gelu"];

    /// Builds an activation from its command-line name and optional alpha.
    pub fn parse(name: &str, alpha: Option<f64>) -> Result<Self, ActivationError> {
        match name {
            "tanh" => Ok(Self::Tanh),
            "relu" => Ok(Self::Relu),
            "erf" => Ok(Self::Erf),
            "gelu" => Ok(Self::Gelu),
            "alpha-relu" => {
                let a = alpha.ok_or(ActivationError::MissingAlpha)?;
                if !(a.is_finite() && a > 0.0) {
                    return Err(ActivationError::BadAlpha(a));
                }
                Ok(Self::AlphaRelu { alpha: a })
            }
            other => Err(ActivationError::Unknown(other.to_string())),
        }
    }

    /// Short name: `tanh`, `relu`, `alpha-relu`, `erf`, `gelu`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Tanh => "tanh",
            Self::Relu => "relu",
            Self::AlphaRelu { .. } => "alpha-relu",
            Self::Erf => "erf",
            Self::Gelu => "gelu",
        }
    }

    /// The exponent alpha (1 for ReLU), `None` for the smooth activations.
    pub fn alpha(&self) -> Option<f64> {
        match self {
            Self::Relu => Some(1.0),
            Self::AlphaRelu { alpha } => Some(*alpha),
            _ => None,
        }
    }

    /// $\phi(x)$.
    pub fn eval(&self, x: f64) -> f64 {
        match *self {
            Self::Tanh => x.tanh(),
            Self::Relu => x.max(0.0),
            Self::AlphaRelu { alpha } => {
                if x > 0.0 {
                    x.powf(alpha)
                } else {
                    0.0
                }
            }
            Self::Erf => libm::erf(x),
            Self::Gelu => 0.5 * x * libm::erfc(-x / std::f64::consts::SQRT_2),
        }
    }

    /// $\phi'(x)$ (at the kink of ReLU-type activations, the value for $x \le 0$).
    pub fn deriv(&self, x: f64) -> f64 {
        match *self {
            Self::Tanh => {
                let c = x.cosh();
                if c.is_finite() {
                    1.0 / (c * c)
                } else {
                    0.0
                }
            }
            Self::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Self::AlphaRelu { alpha } => {
                if x > 0.0 {
                    alpha * x.powf(alpha - 1.0)
                } else {
                    0.0
                }
            }
            Self::Erf => 2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp(),
            Self::Gelu => {
                let cdf = 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2);
                let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
                cdf + x * pdf
            }
        }
    }
}

/// The name of an activation as profiles and data files write it (`act = "alpha-relu"`); with
/// the separate key `alpha` it makes an [`Activation`] ([`ActName::with_alpha`]). Profiles keep the
/// two keys, so this is the typed form of the first one: an unknown name is rejected when the
/// TOML is parsed, with its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActName {
    Tanh,
    Relu,
    AlphaRelu,
    Erf,
    Gelu,
}

impl ActName {
    /// The activation with this name; `alpha` is required for (and only used by) `alpha-relu`.
    pub fn with_alpha(self, alpha: Option<f64>) -> Result<Activation, ActivationError> {
        Activation::parse(self.as_str(), alpha)
    }

    /// `tanh`, `relu`, `alpha-relu`, `erf` or `gelu`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tanh => "tanh",
            Self::Relu => "relu",
            Self::AlphaRelu => "alpha-relu",
            Self::Erf => "erf",
            Self::Gelu => "gelu",
        }
    }
}

impl From<Activation> for ActName {
    fn from(a: Activation) -> Self {
        match a {
            Activation::Tanh => Self::Tanh,
            Activation::Relu => Self::Relu,
            Activation::AlphaRelu { .. } => Self::AlphaRelu,
            Activation::Erf => Self::Erf,
            Activation::Gelu => Self::Gelu,
        }
    }
}

impl fmt::Display for ActName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlphaRelu { alpha } => write!(f, "alpha-relu({alpha})"),
            other => f.write_str(other.kind()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_finite_differences() {
        let acts = [
            Activation::Tanh,
            Activation::Relu,
            Activation::AlphaRelu { alpha: 0.75 },
            Activation::Erf,
            Activation::Gelu,
        ];
        for act in acts {
            for &x in &[-2.3, -0.7, 0.4, 1.9] {
                let h = 1e-6;
                let fd = (act.eval(x + h) - act.eval(x - h)) / (2.0 * h);
                assert!((fd - act.deriv(x)).abs() < 1e-7, "{act} at {x}: {fd} vs {}", act.deriv(x));
            }
        }
    }

    #[test]
    fn parse_rejects_bad_input() {
        assert_eq!(Activation::parse("sigmoid", None), Err(ActivationError::Unknown("sigmoid".into())));
        assert_eq!(Activation::parse("alpha-relu", None), Err(ActivationError::MissingAlpha));
        assert_eq!(Activation::parse("alpha-relu", Some(-1.0)), Err(ActivationError::BadAlpha(-1.0)));
        assert_eq!(Activation::parse("alpha-relu", Some(0.75)), Ok(Activation::AlphaRelu { alpha: 0.75 }));
    }
}
