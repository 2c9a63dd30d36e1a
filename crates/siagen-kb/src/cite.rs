//! Citations in generated answers: the answer is split into sentences (French punctuation,
//! abbreviations such as « p. ex. », « Dr. », « cf. », decimals « 2,5 mg », bulleted and numbered
//! lists), and each sentence's citation markers (`[1]`, `[2, 3]`, `[1][2]`, `[1-3]`) are parsed.
//!
//! Why a dedicated parser: the claim check judges every sentence against exactly the passages it
//! cites, so a marker that is lost, misattributed to the next sentence or silently accepted while
//! it points to no passage would make a verdict meaningless. Markers that point outside the
//! numbered passages are kept apart ([`CitedSentence::invalid`]) so the caller can say so.

use serde::Serialize;

/// One sentence of an answer with the passages it cites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CitedSentence {
    /// The sentence without its citation markers and list bullet, whitespace collapsed.
    pub text: String,
    /// Byte range of the sentence (markers included) in the answer.
    pub start: usize,
    /// End of that byte range (exclusive).
    pub end: usize,
    /// Valid passage numbers cited (1-based, sorted, without duplicates).
    pub citations: Vec<usize>,
    /// Cited numbers that name no passage (0, or beyond the number of passages), sorted.
    pub invalid: Vec<usize>,
}

/// Largest span a range marker such as `[1-3]` may cover; wider ranges are not citations.
const MAX_RANGE: usize = 50;

/// Abbreviations after which a period does not end a sentence, even before a capital or a digit
/// (compared in lower case, accents kept).
const ABBREVIATIONS: &[&str] = &[
    "dr", "pr", "m", "mm", "mme", "mmes", "mlle", "me", "st", "ste", "p", "pp", "ex", "cf", "env",
    "etc", "vol", "fig", "réf", "ref", "art", "chap", "éd", "ed", "coll", "cp", "cpr", "n", "no",
    "nº", "tab", "suppl", "approx", "resp", "sq", "al", "ca", "vs", "inj", "amp", "gél", "sol",
    "susp",
];

/// Splits `answer` into sentences, parses their citation markers, and flags numbers outside
/// `1..=passages`. Sentences made only of markers (`… jour. [2]`) are attached to the sentence
/// before them; empty sentences are dropped.
pub fn parse_answer(answer: &str, passages: usize) -> Vec<CitedSentence> {
    let mut out: Vec<CitedSentence> = vec![];
    for (start, end) in split_sentences(answer) {
        let raw = &answer[start..end];
        let (text, cited) = strip_citations(raw);
        let text = strip_bullet(&text);
        let mut citations = vec![];
        let mut invalid = vec![];
        for n in cited {
            if (1..=passages).contains(&n) {
                citations.push(n);
            } else {
                invalid.push(n);
            }
        }
        let has_words = text.chars().any(char::is_alphanumeric);
        match out.last_mut() {
            Some(prev) if !has_words => {
                prev.end = end;
                prev.citations.extend(citations);
                prev.invalid.extend(invalid);
                prev.citations.sort_unstable();
                prev.citations.dedup();
                prev.invalid.sort_unstable();
                prev.invalid.dedup();
            }
            _ if !has_words => {}
            _ => {
                citations.sort_unstable();
                citations.dedup();
                invalid.sort_unstable();
                invalid.dedup();
                out.push(CitedSentence {
                    text,
                    start,
                    end,
                    citations,
                    invalid,
                })
            }
        }
    }
    out
}

/// Byte ranges of the sentences of `text`, trimmed. A sentence ends at `.`, `!`, `?` or `…`
/// followed by white space and the start of a new sentence (a capital, a digit, a quote, a
/// bracket, a bullet), unless the word before the period is a known abbreviation or a single
/// capital (an initial); it ends at a blank line, and at a line break when the next line is a list
/// item or the line ends with punctuation or a colon. Nothing inside `[…]` splits.
pub fn split_sentences(text: &str) -> Vec<(usize, usize)> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut cuts = vec![0usize];
    let mut depth = 0i32;
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        match c {
            '[' => depth += 1,
            ']' => depth = (depth - 1).max(0),
            '\n' => {
                // Blank line, list item, or a line that ends a sentence or introduces a list.
                let next_line = &text[pos + 1..];
                let prev_line = text[..pos].rsplit('\n').next().unwrap_or("").trim_end();
                let blank = next_line
                    .split('\n')
                    .next()
                    .is_some_and(|l| l.trim().is_empty());
                let ends = prev_line
                    .chars()
                    .last()
                    .is_some_and(|c| ".!?…:;".contains(c) || c == ']');
                if blank || ends || is_list_item(next_line.trim_start()) {
                    cuts.push(pos + 1);
                }
            }
            '.' | '!' | '?' | '…' if depth == 0 => {
                // Swallow a run of terminal punctuation and closing quotes/brackets.
                let mut j = i + 1;
                while j < chars.len() && ".!?…»\")".contains(chars[j].1) {
                    j += 1;
                }
                // Citation markers right after the period belong to this sentence.
                let mut k = j;
                loop {
                    let mut m = k;
                    while m < chars.len() && chars[m].1 == ' ' {
                        m += 1;
                    }
                    if m < chars.len() && chars[m].1 == '[' {
                        let rest = &text[chars[m].0..];
                        if let Some((len, _)) = parse_marker(rest) {
                            let end_byte = chars[m].0 + len;
                            while m < chars.len() && chars[m].0 < end_byte {
                                m += 1;
                            }
                            k = m;
                            continue;
                        }
                    }
                    break;
                }
                let followed_by_space = k < chars.len() && chars[k].1.is_whitespace();
                if k >= chars.len() {
                    i = k;
                    continue;
                }
                if followed_by_space {
                    let mut m = k;
                    while m < chars.len() && chars[m].1.is_whitespace() && chars[m].1 != '\n' {
                        m += 1;
                    }
                    let starts_new = m >= chars.len()
                        || chars[m].1 == '\n'
                        || starts_sentence(&text[chars[m].0..]);
                    let line_start = text[..pos].rfind('\n').map_or(0, |n| n + 1);
                    let list_number = bullet_len(&text[line_start..]).is_some()
                        && text[line_start..pos].trim().len() <= 3;
                    let abbreviation =
                        c == '.' && j == i + 1 && (list_number || is_abbreviation(&text[..pos]));
                    if starts_new && !abbreviation {
                        let cut = if k < chars.len() {
                            chars[k].0
                        } else {
                            text.len()
                        };
                        cuts.push(cut);
                    }
                }
                i = k;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    cuts.push(text.len());
    let mut out = vec![];
    for w in cuts.windows(2) {
        let (a, b) = (w[0], w[1]);
        if a >= b {
            continue;
        }
        let s = &text[a..b];
        let lead = s.len() - s.trim_start().len();
        let trail = s.len() - s.trim_end().len();
        if lead + trail < s.len() {
            out.push((a + lead, b - trail));
        }
    }
    out
}

fn starts_sentence(rest: &str) -> bool {
    let Some(c) = rest.chars().next() else {
        return true;
    };
    c.is_uppercase() || c.is_ascii_digit() || "«\"“'([-•*–".contains(c) || is_list_item(rest)
}

/// The word before a period is an abbreviation (or a single capital initial).
fn is_abbreviation(before: &str) -> bool {
    let word: String = before
        .chars()
        .rev()
        .take_while(|c| c.is_alphabetic() || *c == 'º' || *c == '°')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if word.is_empty() {
        return false;
    }
    let mut it = word.chars();
    if let (Some(c), None) = (it.next(), it.next()) {
        if c.is_uppercase() || c == 'p' {
            return true;
        }
    }
    // "c.-à-d." and "c.à.d."
    if before.ends_with("c.-à-d") || before.ends_with("c.à.d") || before.ends_with("c-à-d") {
        return true;
    }
    let lower = word.to_lowercase();
    // After a number, « mm », « m », « cp »… are units (« un nodule de 18 mm. »), not titles.
    let head = before[..before.len() - word.len()].trim_end();
    if UNITS_TOO.contains(&lower.as_str()) && head.ends_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    ABBREVIATIONS.contains(&lower.as_str())
}

/// Abbreviations that are also units when a number comes before them.
const UNITS_TOO: &[&str] = &["mm", "m", "cp", "cpr", "amp", "inj", "gél", "sol", "p"];

/// A bulleted (`-`, `*`, `•`, `–`) or numbered (`1.`, `2)`, `a)`) list item.
fn is_list_item(line: &str) -> bool {
    bullet_len(line).is_some()
}

/// Length in bytes of a list bullet at the start of `line`, with the space after it.
fn bullet_len(line: &str) -> Option<usize> {
    let mut chars = line.char_indices();
    let (_, c) = chars.next()?;
    if "-*•–".contains(c) {
        let (i, s) = chars.next()?;
        return (s == ' ').then_some(i + 1);
    }
    if c.is_ascii_digit() || c.is_ascii_lowercase() {
        let digits = line
            .bytes()
            .take_while(|b| b.is_ascii_digit())
            .count()
            .max(1);
        if c.is_ascii_lowercase() && digits != 1 {
            return None;
        }
        let rest = &line[digits..];
        let mut r = rest.chars();
        let p = r.next()?;
        let ok = if c.is_ascii_digit() {
            p == '.' || p == ')'
        } else {
            p == ')'
        };
        if ok && r.next() == Some(' ') {
            return Some(digits + 2);
        }
    }
    None
}

/// Removes a leading list bullet.
fn strip_bullet(text: &str) -> String {
    match bullet_len(text) {
        Some(n) => text[n..].trim_start().to_string(),
        None => text.to_string(),
    }
}

/// Parses one citation marker at the start of `s`: `[1]`, `[2, 3]`, `[1;2]`, `[1-3]`, `[1–3]`.
/// Returns its length in bytes and the numbers it names, or None when the brackets hold anything
/// else (a bracketed remark is not a citation). Ranges wider than [`MAX_RANGE`] or reversed are
/// not markers.
pub fn parse_marker(s: &str) -> Option<(usize, Vec<usize>)> {
    let inner_end = s.strip_prefix('[')?.find(']')? + 1;
    let inner = &s[1..inner_end];
    if inner.trim().is_empty() || inner.len() > 80 {
        return None;
    }
    let mut nums = vec![];
    for item in inner.split([',', ';']) {
        let item = item.trim();
        if item.is_empty() {
            return None;
        }
        if let Some((a, b)) = item.split_once(['-', '–']) {
            let a: usize = a.trim().parse().ok()?;
            let b: usize = b.trim().parse().ok()?;
            if b < a || b - a >= MAX_RANGE {
                return None;
            }
            nums.extend(a..=b);
        } else {
            let digits = item.trim_start_matches(['n', '°', ' ']);
            nums.push(digits.parse().ok()?);
        }
    }
    Some((inner_end + 1, nums))
}

/// The sentence without its citation markers (whitespace collapsed, no space left before
/// punctuation) and the numbers cited, in order of appearance.
pub fn strip_citations(sentence: &str) -> (String, Vec<usize>) {
    let mut text = String::with_capacity(sentence.len());
    let mut cited = vec![];
    let mut rest = sentence;
    while let Some(i) = rest.find('[') {
        text.push_str(&rest[..i]);
        match parse_marker(&rest[i..]) {
            Some((len, nums)) => {
                cited.extend(nums);
                rest = &rest[i + len..];
            }
            None => {
                text.push('[');
                rest = &rest[i + 1..];
            }
        }
    }
    text.push_str(rest);
    let mut clean = String::with_capacity(text.len());
    for w in text.split_whitespace() {
        let glue = w.starts_with(['.', ',', ')']) && !clean.is_empty();
        if !clean.is_empty() && !glue {
            clean.push(' ');
        }
        clean.push_str(w);
    }
    (clean, cited)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(answer: &str) -> Vec<String> {
        parse_answer(answer, 9)
            .into_iter()
            .map(|s| s.text)
            .collect()
    }

    #[test]
    fn splits_french_sentences_and_keeps_abbreviations() {
        let a = "Le Dr. Martin recommande le paracétamol, p. ex. 500 mg toutes les 6 h. \
                 La dose maximale est de 4 g par jour [1]. Voir cf. Tableau 2 du guide.";
        assert_eq!(
            texts(a),
            vec![
                "Le Dr. Martin recommande le paracétamol, p. ex. 500 mg toutes les 6 h.",
                "La dose maximale est de 4 g par jour.",
                "Voir cf. Tableau 2 du guide."
            ]
        );
        // A unit after a number ends a sentence; the same letters as a title do not.
        assert_eq!(
            texts(
                "Nodule de 18 mm. Pas d'épanchement. Vus par MM. Durand et Petit. 2 cp. Le soir."
            ),
            vec![
                "Nodule de 18 mm.",
                "Pas d'épanchement.",
                "Vus par MM. Durand et Petit.",
                "2 cp.",
                "Le soir."
            ]
        );
    }

    #[test]
    fn decimals_units_and_initials_do_not_split() {
        let a = "La posologie est de 2,5 mg. Une dose de 2.5 mg suffit selon J. Dupont. Fin.";
        assert_eq!(
            texts(a),
            vec![
                "La posologie est de 2,5 mg.",
                "Une dose de 2.5 mg suffit selon J. Dupont.",
                "Fin."
            ]
        );
    }

    #[test]
    fn lists_become_sentences_without_bullets() {
        let a = "Les mesures sont les suivantes :\n- arrêt du traitement [1]\n- surveillance \
                 de la kaliémie [2]\n1. Contrôle à 48 h [3]\n2) Bilan rénal";
        let s = parse_answer(a, 3);
        let t: Vec<&str> = s.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            t,
            vec![
                "Les mesures sont les suivantes :",
                "arrêt du traitement",
                "surveillance de la kaliémie",
                "Contrôle à 48 h",
                "Bilan rénal"
            ]
        );
        assert_eq!(s[1].citations, vec![1]);
        assert_eq!(s[2].citations, vec![2]);
        assert_eq!(s[3].citations, vec![3]);
        assert!(s[4].citations.is_empty());
    }

    #[test]
    fn wrapped_lines_stay_one_sentence() {
        assert_eq!(
            texts("La metformine est contre-indiquée\nen cas d'insuffisance rénale sévère."),
            vec!["La metformine est contre-indiquée en cas d'insuffisance rénale sévère."]
        );
    }

    #[test]
    fn every_marker_form_is_parsed() {
        let a = "Un [1]. Deux [2, 3]. Trois [1][2]. Quatre [1-3]. Cinq [2;4]. Six [1–2].";
        let s = parse_answer(a, 4);
        let c: Vec<Vec<usize>> = s.iter().map(|s| s.citations.clone()).collect();
        assert_eq!(
            c,
            vec![
                vec![1],
                vec![2, 3],
                vec![1, 2],
                vec![1, 2, 3],
                vec![2, 4],
                vec![1, 2]
            ]
        );
        assert_eq!(s[1].text, "Deux.");
    }

    #[test]
    fn markers_after_the_period_belong_to_the_sentence_before() {
        let a = "La dose est de 4 g par jour. [2] Elle est réduite chez l'insuffisant hépatique. [1][3]";
        let s = parse_answer(a, 3);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].citations, vec![2]);
        assert_eq!(s[0].text, "La dose est de 4 g par jour.");
        assert_eq!(s[1].citations, vec![1, 3]);
        assert_eq!(
            &a[s[1].start..s[1].end],
            "Elle est réduite chez l'insuffisant hépatique. [1][3]"
        );
    }

    #[test]
    fn out_of_range_citations_are_flagged() {
        let s = parse_answer("Le traitement est efficace [0][2][7].", 3);
        assert_eq!(s[0].citations, vec![2]);
        assert_eq!(s[0].invalid, vec![0, 7]);
    }

    #[test]
    fn bracketed_remarks_are_not_citations() {
        let s = parse_answer("Le patient [âgé] reçoit [1-500] un traitement [2].", 3);
        assert_eq!(s[0].citations, vec![2]);
        assert!(s[0].invalid.is_empty());
        assert_eq!(s[0].text, "Le patient [âgé] reçoit [1-500] un traitement.");
    }

    #[test]
    fn questions_and_exclamations_split() {
        assert_eq!(
            texts("Faut-il arrêter ? Oui ! La dose… Non."),
            vec!["Faut-il arrêter ?", "Oui !", "La dose…", "Non."]
        );
    }

    #[test]
    fn empty_and_marker_only_answers() {
        assert!(parse_answer("", 3).is_empty());
        assert!(parse_answer("  [1] ", 3).is_empty());
    }
}
