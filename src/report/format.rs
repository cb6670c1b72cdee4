//! Number formatting used by the templates (filters `sci`, `num`, `pct`, `passfail`).
//!
//! Every number in the report goes through one of these, so the text never carries more digits than
//! the computation supports and non-finite values are named (`∞`, `NaN`) instead of printed raw.

/// Scientific notation with `digits` significant digits: `1.23e-5`.
pub fn sci(x: f64, digits: usize) -> String {
    if let Some(s) = non_finite(x) {
        return s;
    }
    if x == 0.0 {
        return "0".into();
    }
    format!("{:.*e}", digits.saturating_sub(1), x)
}

/// Scientific notation as TeX for use inside `$...$`: `1.5 \times 10^{-3}`, and `10^{40}` for a
/// mantissa of exactly 1 (`sci` writes `1.50e-3`, `1e40`, which math would set as letters).
pub fn tex_sci(x: f64, digits: usize) -> String {
    let s = sci(x, digits);
    match s.split_once('e') {
        Some((m, e)) => {
            let e = e.trim_start_matches('+');
            match m {
                "1" | "1.0" | "1.00" => format!("10^{{{e}}}"),
                "-1" | "-1.0" | "-1.00" => format!("-10^{{{e}}}"),
                m => format!("{m} \\times 10^{{{e}}}"),
            }
        }
        None => s.replace('∞', "\\infty").replace('−', "-"),
    }
}

/// `digits` significant digits; plain notation for 1e-3 <= |x| < 1e6, scientific otherwise.
pub fn num(x: f64, digits: usize) -> String {
    if let Some(s) = non_finite(x) {
        return s;
    }
    if x == 0.0 {
        return "0".into();
    }
    let digits = digits.max(1);
    let ax = x.abs();
    if !(1e-3..1e6).contains(&ax) {
        return sci(x, digits);
    }
    let mag = ax.log10().floor() as i32;
    let decimals = (digits as i32 - 1 - mag).max(0) as usize;
    let s = format!("{:.*}", decimals, x);
    // Rounding can carry into a new decade (9.996 -> 10.00): recompute with one fewer decimal.
    let sig = s.trim_start_matches('-').replace('.', "").trim_start_matches('0').len();
    if sig > digits && decimals > 0 {
        format!("{:.*}", decimals - 1, x)
    } else {
        s
    }
}

/// Percentage of a fraction: `0.9342` -> `93.4%`.
pub fn pct(x: f64, decimals: usize) -> String {
    if let Some(s) = non_finite(x) {
        return s;
    }
    format!("{:.*}%", decimals, 100.0 * x)
}

fn non_finite(x: f64) -> Option<String> {
    if x.is_nan() {
        Some("NaN".into())
    } else if x == f64::INFINITY {
        Some("∞".into())
    } else if x == f64::NEG_INFINITY {
        Some("−∞".into())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(sci(0.000012345, 3), "1.23e-5");
        assert_eq!(sci(-2.0, 2), "-2.0e0");
        assert_eq!(num(4.56789, 3), "4.57");
        assert_eq!(num(1234.7, 3), "1235");
        assert_eq!(num(9.9996, 4), "10.00");
        assert_eq!(num(0.012345, 2), "0.012");
        assert_eq!(num(2.5e-7, 2), "2.5e-7");
        assert_eq!(num(0.0, 3), "0");
        assert_eq!(pct(0.93421, 1), "93.4%");
        assert_eq!(num(f64::INFINITY, 3), "∞");
        assert_eq!(sci(f64::NAN, 3), "NaN");
        assert_eq!(tex_sci(1e40, 1), "10^{40}");
        assert_eq!(tex_sci(1e20, 0), "10^{20}");
        assert_eq!(tex_sci(-2.5e-7, 2), "-2.5 \\times 10^{-7}");
        assert_eq!(tex_sci(0.0, 2), "0");
        assert_eq!(tex_sci(f64::NEG_INFINITY, 2), "-\\infty");
    }
}
