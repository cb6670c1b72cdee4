//! Tick steps and number labels: "nice" $1, 2, 5 \times 10^k$ steps, scientific and plain tick
//! labels, and the compact [`format_number`].

/// Superscript form of an integer exponent: `-3` -> `⁻³`.
pub(super) fn superscript(n: i32) -> String {
    n.to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            '9' => '⁹',
            c => c,
        })
        .collect()
}

/// Scientific label `m×10ᵏ` with `digits` decimals in the mantissa (`10ᵏ` when the mantissa is 1).
pub(super) fn sci_label(v: f64, digits: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let s = format!("{:.*e}", digits, v);
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let e: i32 = e.parse().unwrap_or(0);
    let m_val: f64 = m.parse().unwrap_or(v);
    if (m_val - 1.0).abs() < 1e-12 {
        format!("10{}", superscript(e))
    } else if (m_val + 1.0).abs() < 1e-12 {
        format!("−10{}", superscript(e))
    } else {
        format!("{}×10{}", m.replace('-', "−"), superscript(e))
    }
}

/// Plain decimal label with `decimals` digits, with a true minus sign and no `-0`.
pub(super) fn plain_label(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v);
    let s = if s.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
        s.trim_start_matches('-').to_string()
    } else {
        s
    };
    s.replace('-', "−")
}

/// Compact general-purpose number format (3 significant digits), used for contour levels.
pub fn format_number(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e4).contains(&a) {
        let s = sci_label(v, 2);
        // trim trailing zeros of the mantissa: 1.50×10³ -> 1.5×10³
        if let Some((m, rest)) = s.split_once('×') {
            let m = if m.contains('.') { m.trim_end_matches('0').trim_end_matches('.') } else { m };
            return format!("{m}×{rest}");
        }
        return s;
    }
    let digits = if a == 0.0 { 0 } else { (2 - a.log10().floor() as i32).max(0) as usize };
    let s = format!("{:.*}", digits, v);
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    if s == "-0" {
        "0".into()
    } else {
        s.replace('-', "−")
    }
}

/// "Nice" step ($1, 2, 5 \times 10^k$) giving about `target` intervals over `span` (the candidate
/// closest to `span / target` in ratio), with the number of minor subdivisions.
pub fn nice_step(span: f64, target: f64) -> (f64, usize) {
    let raw = (span / target).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    [(1.0, 5), (2.0, 4), (5.0, 5), (10.0, 5)]
        .into_iter()
        .map(|(m, minor)| (m * mag, minor))
        .min_by(|a, b| (a.0 / raw).ln().abs().total_cmp(&(b.0 / raw).ln().abs()))
        .unwrap_or((mag, 5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_number_is_compact() {
        assert_eq!(format_number(1500.0), "1500");
        assert_eq!(format_number(0.000123), "1.23×10⁻⁴");
        assert_eq!(format_number(-0.5), "−0.5");
    }

    #[test]
    fn nice_step_picks_one_two_five() {
        for (span, target, step, minor) in
            [(1.0, 5.0, 0.2, 4), (10.0, 5.0, 2.0, 4), (3.0, 5.0, 0.5, 5), (100.0, 10.0, 10.0, 5), (7e-4, 5.0, 1e-4, 5)]
        {
            let (s, m) = nice_step(span, target);
            assert!((s / step - 1.0).abs() < 1e-12 && m == minor, "{span}/{target}: {s}, {m}");
        }
        assert_eq!(superscript(-12), "⁻¹²");
        assert_eq!(sci_label(-1e-3, 0), "−10⁻³");
        assert_eq!(plain_label(-0.0001, 2), "0.00");
    }
}
