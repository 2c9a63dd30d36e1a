//! Hand-written word lists that encode clinical-writing knowledge: what
//! introduces a person, what is an eponym rather than a patient, which
//! capitalised words are medical vocabulary. The lists are data files under
//! `lexicon/` (one entry a line, `#` comments), built into the binary and
//! parsed once; every entry is folded (lower case, no diacritics) by its users.

use std::sync::OnceLock;

/// The entries of a list file: one a line, blank lines and `#` comments skipped.
fn parse(text: &'static str) -> Vec<&'static str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

macro_rules! word_list {
    ($(#[$doc:meta])* $name:ident, $file:literal) => {
        $(#[$doc])*
        pub fn $name() -> &'static [&'static str] {
            static LIST: OnceLock<Vec<&'static str>> = OnceLock::new();
            LIST.get_or_init(|| parse(include_str!(concat!("../lexicon/", $file))))
        }
    };
}

word_list!(
    /// Words that introduce a person's name.
    titles,
    "titles.txt"
);

word_list!(
    /// Titles strong enough to make any following capitalised word a name, even a dictionary word ("Mme Petit", "Dr Blanc").
    strong_titles,
    "strong-titles.txt"
);

word_list!(
    /// Field labels after which a name follows ("Nom : DUPONT").
    name_fields,
    "name-fields.txt"
);

word_list!(
    /// Closing formulas after which a signature (a name) usually follows.
    closings,
    "closings.txt"
);

word_list!(
    /// Greetings after which a first name or a name usually follows.
    greetings,
    "greetings.txt"
);

word_list!(
    /// Head nouns that make "X de Parkinson" an eponym, not a person.
    eponym_heads,
    "eponym-heads.txt"
);

word_list!(
    /// Surnames that are used as medical eponyms; never a person without a title.
    eponyms,
    "eponyms.txt"
);

word_list!(
    /// Capitalised words frequent in clinical text that are never names on their own (sections, specialties, common nouns that are also surnames).
    medical_words,
    "medical-words.txt"
);

word_list!(
    /// Particles of surnames (« de », « van », « ben »…): they take the label of the following word.
    particles,
    "particles.txt"
);

word_list!(
    /// French towns large enough to be named without context: places, never surnames.
    big_cities,
    "big-cities.txt"
);

#[cfg(test)]
mod tests {
    #[test]
    fn lists_load_without_duplicates_or_blanks() {
        for (name, list) in [
            ("titles", super::titles()),
            ("particles", super::particles()),
            ("big_cities", super::big_cities()),
            ("strong_titles", super::strong_titles()),
            ("name_fields", super::name_fields()),
            ("closings", super::closings()),
            ("greetings", super::greetings()),
            ("eponym_heads", super::eponym_heads()),
            ("eponyms", super::eponyms()),
            ("medical_words", super::medical_words()),
        ] {
            assert!(!list.is_empty(), "{name}");
            let mut seen = std::collections::HashSet::new();
            for w in list {
                assert!(!w.trim().is_empty() && *w == w.trim(), "{name}: {w:?}");
                assert!(
                    seen.insert(super::super::dict::fold(w)),
                    "{name}: {w} twice"
                );
            }
        }
    }
}
