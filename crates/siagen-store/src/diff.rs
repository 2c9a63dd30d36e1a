//! How much did the human change? A character-level edit distance and a readable line diff
//! between the last machine-written revision and the validated text.

use similar::{Algorithm, DiffOp, TextDiff};
use std::time::Duration;

/// Levenshtein-style distance derived from a Myers character diff: a replaced run costs the
/// longer of its two sides, an inserted or deleted run its length. Exact for single edits and
/// an upper bound in general; linear in practice where a DP table would be quadratic.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let diff = TextDiff::configure()
        .algorithm(Algorithm::Myers)
        .timeout(Duration::from_secs(2))
        .diff_chars(a, b);
    diff.ops()
        .iter()
        .map(|op| match *op {
            DiffOp::Equal { .. } => 0,
            DiffOp::Delete { old_len, .. } => old_len,
            DiffOp::Insert { new_len, .. } => new_len,
            DiffOp::Replace {
                old_len, new_len, ..
            } => old_len.max(new_len),
        })
        .sum()
}

/// Edit distance divided by the length (in characters) of the longer text: 0 = unchanged,
/// 1 = entirely rewritten.
pub fn normalised_edit_distance(a: &str, b: &str) -> f64 {
    let longest = a.chars().count().max(b.chars().count());
    if longest == 0 {
        return 0.0;
    }
    edit_distance(a, b) as f64 / longest as f64
}

/// A unified line diff, for people to read.
pub fn unified_diff(a: &str, b: &str) -> String {
    TextDiff::from_lines(a, b)
        .unified_diff()
        .context_radius(2)
        .header("machine", "validated")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("même", "même"), 0);
        assert_eq!(normalised_edit_distance("abcd", "abce"), 0.25);
        assert_eq!(normalised_edit_distance("", ""), 0.0);
        assert!(unified_diff("a\nb\n", "a\nc\n").contains("-b\n+c"));
    }
}
