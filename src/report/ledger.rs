//! The claims as the report presents them: a compact summary up front (id, the claim in one line,
//! a status badge, one headline figure, a link) and the full ledger (claim, criterion, every
//! measurement) at the end.
//!
//! Convention for the stages: `measured` is a list of measurements separated by `; ` (outside
//! brackets and math), the decisive one first: the summary shows the first as the claim's headline,
//! so for a claim that is not reproduced it should be the measurement that fails (or the count of
//! checks that pass). Everything here is derived from the [`Claim`]s the stages wrote; the
//! one-line claim and the headline are cut from the claim's and the measurement's own text at the
//! first top-level break (outside math and brackets), so they can never say something the full
//! entry does not.

use crate::pipeline::{Claim, ClaimStatus};
use serde::Serialize;

/// Longest one-line claim or headline (characters of source text, math included) before it is cut
/// further at a top-level comma.
const SHORT_MAX: usize = 90;

/// One claim, ready for the templates.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ClaimView {
    pub id: String,
    /// Stage name of the chapter that decided it.
    pub chapter: String,
    /// Chapter number in this report (`None` if its chapter was not rendered).
    pub chapter_number: Option<usize>,
    pub claim: String,
    /// The claim up to its first top-level `:` or sentence end.
    pub short: String,
    pub criterion: String,
    pub measured: String,
    /// `measured` split at its top-level `; ` (the ledger lists them one per line).
    pub measured_parts: Vec<String>,
    /// The first measurement (the first of `measured_parts`, shortened at a top-level comma).
    pub headline: String,
    pub status: ClaimStatus,
    /// Display text of the status: "reproduced", "not reproduced", "inconclusive", "not tested".
    pub status_label: &'static str,
    /// CSS class of the badge: `status status-reproduced`, `status status-not_reproduced`, ...
    pub status_class: &'static str,
    /// Inline HTML of the badge (a `<span>` with `status_class`).
    pub badge: String,
    /// Id of the claim's entry in the ledger (the slug of its heading "Claim ID").
    pub anchor: String,
}

/// Display label and CSS class of a status.
pub fn status_style(s: ClaimStatus) -> (&'static str, &'static str) {
    match s {
        ClaimStatus::Reproduced => ("reproduced", "status status-reproduced"),
        ClaimStatus::NotReproduced => ("not reproduced", "status status-not_reproduced"),
        ClaimStatus::Inconclusive => ("inconclusive", "status status-inconclusive"),
        ClaimStatus::NotTested => ("not tested", "status status-not_tested"),
    }
}

impl ClaimView {
    /// `chapter_number(stage)` gives the number of a stage's chapter in this report.
    pub fn new(c: &Claim, chapter_number: impl Fn(&str) -> Option<usize>) -> Self {
        let (status_label, status_class) = status_style(c.status);
        let measured_parts: Vec<String> =
            split_top(&c.measured, "; ").into_iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect();
        let headline = measured_parts.first().map(|p| shorten(p)).unwrap_or_default();
        Self {
            id: c.id.clone(),
            chapter: c.chapter.clone(),
            chapter_number: chapter_number(&c.chapter),
            claim: c.claim.clone(),
            short: short_claim(&c.claim),
            criterion: c.criterion.clone(),
            measured: c.measured.clone(),
            measured_parts,
            headline,
            status: c.status,
            status_label,
            status_class,
            badge: format!("<span class=\"{status_class}\">{status_label}</span>"),
            anchor: super::markdown::slugify(&format!("Claim {}", c.id)),
        }
    }
}

/// Splits `s` at every `sep` that is outside `$...$` math and outside (), [] and {}.
pub fn split_top<'s>(s: &'s str, sep: &str) -> Vec<&'s str> {
    let mut parts = Vec::new();
    let (mut depth, mut math, mut start) = (0i32, false, 0usize);
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                i += 2;
                continue;
            }
            b'$' => math = !math,
            b'(' | b'[' | b'{' if !math => depth += 1,
            b')' | b']' | b'}' if !math => depth -= 1,
            _ => {}
        }
        if !math && depth <= 0 && bytes[i..].starts_with(sep.as_bytes()) {
            parts.push(&s[start..i]);
            i += sep.len();
            start = i;
            continue;
        }
        i += 1;
    }
    parts.push(&s[start..]);
    parts
}

/// The claim up to its first top-level `: ` or `. ` (the statement without its elaboration),
/// shortened at a top-level `, ` if still long; no trailing full stop.
pub fn short_claim(claim: &str) -> String {
    let colon = split_top(claim, ": ")[0];
    let sentence = split_top(claim, ". ")[0];
    let first = if colon.len() <= sentence.len() { colon } else { sentence };
    shorten(first.trim().trim_end_matches('.'))
}

/// `s` cut at its first top-level `, ` when longer than [`SHORT_MAX`] (with "…" when cut).
fn shorten(s: &str) -> String {
    if s.chars().count() <= SHORT_MAX {
        return s.to_string();
    }
    let parts = split_top(s, ", ");
    if parts.len() > 1 {
        format!("{} …", parts[0].trim())
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(text: &str, measured: &str, status: ClaimStatus) -> Claim {
        Claim {
            id: "C9z".into(),
            chapter: "dynamics".into(),
            claim: text.into(),
            criterion: "crit".into(),
            measured: measured.into(),
            status,
        }
    }

    #[test]
    fn split_ignores_separators_in_math_and_brackets() {
        assert_eq!(split_top("a; b (c; d); $x; y$; e", "; "), ["a", "b (c; d)", "$x; y$", "e"]);
        assert_eq!(split_top("no separator", "; "), ["no separator"]);
        assert_eq!(split_top(r"\$5; b", "; "), [r"\$5", "b"]);
        assert_eq!(split_top("α ≤ 1; β — 2", "; "), ["α ≤ 1", "β — 2"]);
    }

    #[test]
    fn views_cut_claim_and_headline_at_the_first_top_level_break() {
        let c = claim(
            "Mean field is the limit: fluctuations shrink like $N^{-1/2}$.",
            "mean exponent -0.49 (sd 0.1; 24 estimates); p: 3%; e: 1%",
            ClaimStatus::NotReproduced,
        );
        let v = ClaimView::new(&c, |ch| (ch == "dynamics").then_some(3));
        assert_eq!(v.short, "Mean field is the limit");
        assert_eq!(v.headline, "mean exponent -0.49 (sd 0.1; 24 estimates)");
        assert_eq!(v.measured_parts, ["mean exponent -0.49 (sd 0.1; 24 estimates)", "p: 3%", "e: 1%"]);
        assert_eq!(v.chapter_number, Some(3));
        assert_eq!(v.anchor, "claim-c9z");
        assert_eq!(v.badge, "<span class=\"status status-not_reproduced\">not reproduced</span>");
        // A sentence end before the colon wins; a colon inside math does not count.
        let c = claim("Exponent $d: 1$ holds. Second: more.", "", ClaimStatus::Reproduced);
        let v = ClaimView::new(&c, |_| None);
        assert_eq!(v.short, "Exponent $d: 1$ holds");
        assert_eq!(v.headline, "");
        assert!(v.measured_parts.is_empty());
        // Every status has its own class.
        let classes: Vec<_> =
            [ClaimStatus::Reproduced, ClaimStatus::NotReproduced, ClaimStatus::Inconclusive, ClaimStatus::NotTested]
                .into_iter()
                .map(|s| status_style(s).1)
                .collect();
        assert_eq!(
            classes,
            [
                "status status-reproduced",
                "status status-not_reproduced",
                "status status-inconclusive",
                "status status-not_tested"
            ]
        );
    }

    #[test]
    fn long_headlines_are_cut_at_a_top_level_comma() {
        let long = format!("largest deviation 3.1% (at l = 10, N = 64), {}", "x".repeat(100));
        let v = ClaimView::new(&claim("c", &long, ClaimStatus::Inconclusive), |_| None);
        assert_eq!(v.headline, "largest deviation 3.1% (at l = 10, N = 64) …");
    }
}
