//! Text folding shared by the thesaurus index and the prescription parser.
//!
//! Clinicians write "Amiodarone", "AMIODARONE", "amiodarone 200mg"; the thesaurus writes
//! "BÊTA-BLOQUANTS" in one place and "bêta- bloquants" in another. Every name and every
//! prescription line goes through the same folding so that they meet on one key: accents and case
//! removed, punctuation turned into word breaks, digits split from letters ("5mg" → "5 mg").

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Folds `s` to a lower-case key made of alphanumeric words separated by single spaces.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    // Only non-ASCII text needs the canonical decomposition that separates accents from letters.
    if s.is_ascii() {
        fold_into(&mut out, s.chars());
    } else {
        fold_into(
            &mut out,
            s.nfd().filter(|c| c.is_ascii() || !is_combining_mark(*c)),
        );
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Word class of the last character written: 0 start or space, 1 letter, 2 digit.
fn push_char(out: &mut String, c: char, last: &mut u8) {
    let class = if c.is_ascii_digit() || c.is_numeric() {
        2
    } else {
        1
    };
    if *last != 0 && *last != class {
        out.push(' ');
    }
    out.push(c);
    *last = class;
}

fn fold_into(out: &mut String, chars: impl Iterator<Item = char>) {
    let mut last = 0u8;
    for c in chars {
        match c {
            'œ' | 'Œ' => {
                push_char(out, 'o', &mut last);
                push_char(out, 'e', &mut last);
            }
            'æ' | 'Æ' => {
                push_char(out, 'a', &mut last);
                push_char(out, 'e', &mut last);
            }
            'ß' => {
                push_char(out, 's', &mut last);
                push_char(out, 's', &mut last);
            }
            'µ' | 'μ' => push_char(out, 'u', &mut last),
            c if c.is_ascii_alphanumeric() => push_char(out, c.to_ascii_lowercase(), &mut last),
            c if !c.is_ascii() && c.is_alphanumeric() => {
                for l in c.to_lowercase() {
                    push_char(out, l, &mut last);
                }
            }
            _ => {
                if last != 0 {
                    out.push(' ');
                    last = 0;
                }
            }
        }
    }
}

/// Splits a folded key into its words.
pub fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded.split(' ').filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn folds_accents_case_and_punctuation() {
        assert_eq!(fold("BÊTA-BLOQUANTS"), "beta bloquants");
        assert_eq!(fold("bêta- bloquants"), "beta bloquants");
        assert_eq!(fold("Eliquis 5mg x2/j"), "eliquis 5 mg x 2 j");
        assert_eq!(fold("  Œstrogènes  conjugués "), "oestrogenes conjugues");
        assert_eq!(fold("500 mg/5 ml"), "500 mg 5 ml");
        assert_eq!(
            fold("médicaments à l’origine d’une"),
            "medicaments a l origine d une"
        );
        assert_eq!(fold("10 µg"), "10 ug");
        assert_eq!(fold(""), "");
    }
}
