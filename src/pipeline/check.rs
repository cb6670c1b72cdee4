//! Validation of a stage's configuration section: every value is checked when the stage is built
//! from its section, before any stage runs, so a bad profile fails fast with one message that
//! names the section, key, value and valid range.

use std::fmt::Display;

/// An invalid value in a profile section.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("[{section}] {key} = {value} is invalid (valid: {valid})")]
pub struct ConfigError {
    /// The profile section (stage name), e.g. `training`.
    pub section: String,
    /// The key inside the section, with a path for nested values (`grids[1].sv2_min`).
    pub key: String,
    /// The offending value as written.
    pub value: String,
    /// The valid range or choices.
    pub valid: String,
}

/// Checks the values of one section; each method returns an error naming the key.
#[derive(Debug, Clone, Copy)]
pub struct Section(pub &'static str);

impl Section {
    /// An error for `key = value` with a free-form description of the valid values.
    pub fn error(&self, key: impl Into<String>, value: impl Display, valid: impl Into<String>) -> ConfigError {
        ConfigError { section: self.0.to_string(), key: key.into(), value: value.to_string(), valid: valid.into() }
    }

    /// An integer in `lo..=hi`.
    pub fn int<T>(&self, key: impl Into<String>, v: T, lo: T, hi: T) -> Result<(), ConfigError>
    where
        T: PartialOrd + Display + Copy,
    {
        if v >= lo && v <= hi {
            Ok(())
        } else {
            Err(self.error(key, v, format!("an integer from {lo} to {hi}")))
        }
    }

    /// A finite real in `[lo, hi]`.
    pub fn real(&self, key: impl Into<String>, v: f64, lo: f64, hi: f64) -> Result<(), ConfigError> {
        if v.is_finite() && v >= lo && v <= hi {
            Ok(())
        } else {
            Err(self.error(key, shown(v), format!("a finite number from {} to {}", shown(lo), shown(hi))))
        }
    }

    /// A finite real in `(0, hi]`.
    pub fn positive(&self, key: impl Into<String>, v: f64, hi: f64) -> Result<(), ConfigError> {
        if v.is_finite() && v > 0.0 && v <= hi {
            Ok(())
        } else {
            Err(self.error(key, shown(v), format!("a finite number with 0 < value <= {}", shown(hi))))
        }
    }

    /// A list whose length is in `lo..=hi`.
    pub fn len(&self, key: impl Into<String>, len: usize, lo: usize, hi: usize) -> Result<(), ConfigError> {
        if len >= lo && len <= hi {
            Ok(())
        } else {
            Err(self.error(key, format!("a list of {len} value(s)"), format!("a list of {lo} to {hi} values")))
        }
    }
}

/// A real as messages show it: plainly between 1e-4 and 1e16 (`100`, `0.5`), else in exponent
/// form (`1e300`, `2.5e-7`), never as hundreds of digits.
pub fn shown(v: f64) -> String {
    if v == 0.0 || !v.is_finite() || (1e-4..1e16).contains(&v.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_section_key_value_and_range() {
        let s = Section("training");
        let e = s.int("width", 0usize, 1, 4096).unwrap_err().to_string();
        assert_eq!(e, "[training] width = 0 is invalid (valid: an integer from 1 to 4096)");
        assert!(s.real("lr", f64::NAN, 0.0, 1.0).unwrap_err().to_string().contains("lr = NaN"));
        assert!(s.real("lr", f64::INFINITY, 0.0, 1.0).is_err());
        assert!(s.real("p0", 1e300, 0.0, 1e6).unwrap_err().to_string().contains("p0 = 1e300 "));
        assert_eq!(shown(100.0), "100");
        assert_eq!(shown(-2.5e-7), "-2.5e-7");
        assert_eq!(shown(f64::MAX), "1.7976931348623157e308");
        assert!(s.positive("lr", 0.0, 1.0).is_err());
        assert!(s.positive("lr", 0.5, 1.0).is_ok());
        assert!(s.len("seeds", 0, 1, 64).unwrap_err().to_string().contains("a list of 0 value(s)"));
    }
}
