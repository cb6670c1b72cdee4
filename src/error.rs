//! The one error type shared across modules: a usage error (bad value on the command line or in a
//! profile). The binary maps it to exit status 2; any other error exits with status 1.

/// Invalid user input: the message names the bad value and the valid range or choices.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct UsageError(pub String);

impl UsageError {
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

/// Returns a [`UsageError`] unless `lo <= x <= hi` (and `x` is finite).
pub fn check_range(name: &str, x: f64, lo: f64, hi: f64) -> Result<f64, UsageError> {
    if x.is_finite() && x >= lo && x <= hi {
        Ok(x)
    } else {
        Err(UsageError(format!("{name} = {x} is out of range (valid: {lo} <= {name} <= {hi})")))
    }
}
