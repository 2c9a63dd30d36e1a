//! Text helpers of the rules: chunking into words, proper-name runs, lines, case.

use std::borrow::Cow;

use super::*;
use crate::dict::fold;
use crate::Label;

/// End of a town name after a postcode: capitalised words and the link
/// words of French town names ("Saint-Jean-de-Luz", "Aix-en-Provence").
pub(super) fn city_run(text: &str, start: usize) -> usize {
    const LINK: &[&str] = &[
        "sur", "sous", "en", "à", "les", "la", "le", "de", "du", "des", "lès", "lez", "d", "l",
        "aux", "au", "et",
    ];
    let mut end = start;
    let mut pos = start;
    loop {
        let rest = &text[pos..];
        let wlen: usize = rest
            .char_indices()
            .find(|&(_, c)| {
                !(c.is_alphabetic()
                    || (!c.is_ascii() && unicode_normalization::char::is_combining_mark(c))
                    || c == '\''
                    || c == '’')
            })
            .map_or(rest.len(), |(i, _)| i);
        if wlen == 0 {
            break;
        }
        let word = &rest[..wlen];
        let cap = word.chars().next().is_some_and(char::is_uppercase);
        if !cap && !LINK.contains(&word.trim_end_matches(['\'', '’'])) {
            break;
        }
        if cap {
            end = pos + wlen;
        }
        pos += wlen;
        let sep = text[pos..].len() - text[pos..].trim_start_matches([' ', '-']).len();
        if sep == 0 || text[pos..pos + sep].contains("  ") {
            break;
        }
        pos += sep;
    }
    end
}

pub(super) const STREET_LINKS: &[&str] = &[
    "de", "du", "des", "d'", "d’", "l'", "l’", "la", "le", "les", "et", "sur", "sous", "en", "à",
    "au", "aux", "lès", "lez", "dit", "dite",
];
pub(super) const HOSPITAL_LINKS: &[&str] =
    &["de", "du", "des", "d'", "d’", "l'", "l’", "la", "le", "les"];

/// Length of a proper-name word at the start of `s` (capitalised letters
/// with inner hyphens/apostrophes, optional final period), or of a small
/// number with an ordinal suffix; 0 if none.
pub(super) fn proper_word(s: &str) -> usize {
    let mut it = s.char_indices().peekable();
    let Some(&(_, c0)) = it.peek() else { return 0 };
    if c0.is_ascii_digit() {
        let n = s.bytes().take_while(|b| b.is_ascii_digit()).count();
        if n > 4 {
            return 0;
        }
        let rest = &s[n..];
        let suf = ["ème", "er", "e"]
            .iter()
            .find(|x| rest.starts_with(*x))
            .map_or(0, |x| x.len());
        let after = rest[suf..].chars().next();
        if after.is_some_and(|c| c.is_alphanumeric()) {
            return 0;
        }
        return n + suf;
    }
    if !c0.is_uppercase() {
        return 0;
    }
    let mut end = 0;
    let mut prev_sep = false;
    for (i, c) in s.char_indices() {
        if c.is_alphabetic() || (!c.is_ascii() && unicode_normalization::char::is_combining_mark(c))
        {
            end = i + c.len_utf8();
            prev_sep = false;
        } else if (c == '-' || c == '\'' || c == '’') && !prev_sep && i > 0 {
            prev_sep = true;
        } else {
            break;
        }
    }
    if s[end..].starts_with('.') {
        end += 1;
    }
    end
}

/// Extends a name that ends at `pos` with up to `max` more words, each
/// introduced by spaces or a hyphen and optional link words ("de la").
pub(super) fn extend_proper(text: &str, mut pos: usize, max: usize, links: &[&str]) -> usize {
    for _ in 0..max {
        let rest = &text[pos..];
        let sep = rest.len() - rest.trim_start_matches([' ', '-']).len();
        if sep == 0 || rest[..sep].contains("  ") || (sep > 1 && rest[..sep].contains('-')) {
            break;
        }
        let mut q = pos + sep;
        // Link words, each followed by spaces or glued by an apostrophe.
        loop {
            let r = &text[q..];
            let mut advanced = false;
            for l in links {
                if r.len() > l.len() && r.get(..l.len()).is_some_and(|h| h.eq_ignore_ascii_case(l))
                {
                    let after = &r[l.len()..];
                    if l.ends_with('\'') || l.ends_with('’') {
                        q += l.len();
                        advanced = true;
                        break;
                    }
                    if after.starts_with(' ') {
                        q += l.len() + (after.len() - after.trim_start_matches(' ').len());
                        advanced = true;
                        break;
                    }
                }
            }
            if !advanced {
                break;
            }
        }
        let w = proper_word(&text[q..]);
        if w == 0 {
            break;
        }
        pos = q + w;
    }
    pos
}

/// "DUPONT Jean (12/03/1950)", "MARTIN Léa – 02/05/1961": a date right
/// after the patient's name in a header is the birth date.
pub(super) fn birth_dates_after_names(text: &str, spans: &mut [(usize, usize, Label)]) {
    for k in 1..spans.len() {
        let (s, _, l) = spans[k];
        let (_, pe, pl) = spans[k - 1];
        if l != Label::Date || !matches!(pl, Label::Nom | Label::Prenom) {
            continue;
        }
        let g = text[pe..s].trim_matches(' ');
        if matches!(g, "(" | "-" | "–" | "," | "" | "|" | "né le" | "née le") {
            spans[k].2 = Label::DateNaissance;
        }
    }
}

pub(super) fn title_gap(g: &str) -> bool {
    matches!(g, " " | ". " | "." | " : " | ": " | "\u{a0}" | ".\u{a0}")
        || (g.len() <= 3 && g.chars().all(|c| c == ' ' || c == '.'))
}

pub(super) fn gap<'a>(text: &'a str, ch: &[Chunk], k: usize) -> &'a str {
    if k + 1 < ch.len() {
        &text[ch[k].e..ch[k + 1].s]
    } else {
        &text[ch[k].e..]
    }
}

pub(super) fn floor_char(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Lower-cased text of up to `n` bytes before `pos`.
pub(super) fn lower_before(text: &str, pos: usize, n: usize) -> String {
    text[floor_char(text, pos.saturating_sub(n))..pos].to_lowercase()
}

pub(super) fn line_prefix(text: &str, pos: usize) -> &str {
    let start = text[..pos].rfind('\n').map_or(0, |p| p + 1);
    &text[start..pos]
}

pub(super) fn line_of(text: &str, pos: usize) -> &str {
    let start = text[..pos].rfind('\n').map_or(0, |p| p + 1);
    let end = text[pos..].find('\n').map_or(text.len(), |p| pos + p);
    &text[start..end]
}

/// A header line ("COMPTE RENDU OPÉRATOIRE") where capitals mean nothing.
pub(super) fn mostly_upper(line: &str) -> bool {
    let words: Vec<&str> = line
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() >= 2)
        .collect();
    if words.len() < 3 {
        return false;
    }
    let up = words
        .iter()
        .filter(|w| w.chars().all(|c| !c.is_lowercase()))
        .count();
    up * 10 >= words.len() * 7
}

pub(super) fn plausible_num_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split(['/', '.', '-']).map(|p| p.trim()).collect();
    if parts.len() != 3 {
        return false;
    }
    // "1.5.20"-like version numbers are rare in clinical text, but a
    // two-digit year with dots and a one-digit day is more often a value.
    let dots = s.contains('.');
    !(dots && parts[0].len() == 1 && parts[1].len() == 1)
}

pub(super) fn trim_name_end(s: &str) -> usize {
    // Drop trailing link words and periods picked up by the greedy match.
    let mut t = s.trim_end_matches(['.', ' ', '-', ',']);
    loop {
        let last = t.rsplit([' ', '-']).next().unwrap_or("");
        let lf = fold(last);
        if !last.is_empty()
            && last.len() < t.len()
            && matches!(
                lf.as_str(),
                "de" | "du"
                    | "des"
                    | "d'"
                    | "l'"
                    | "la"
                    | "le"
                    | "les"
                    | "et"
                    | "sur"
                    | "sous"
                    | "en"
                    | "a"
                    | "au"
                    | "aux"
                    | "lez"
            )
        {
            t = t[..t.len() - last.len()].trim_end_matches([' ', '-']);
        } else {
            break;
        }
    }
    t.len()
}

pub(super) fn trim_city(s: &str) -> usize {
    let mut end = 0;
    for (i, w) in s.split_inclusive([' ', '-']).scan(0usize, |acc, w| {
        let st = *acc;
        *acc += w.len();
        Some((st, w))
    }) {
        let word = w.trim_end_matches([' ', '-']);
        if word.eq_ignore_ascii_case("cedex") {
            break;
        }
        if word.chars().next().is_some_and(|c| c.is_uppercase()) {
            end = i + word.len();
        }
    }
    end
}

/// Splits text into word chunks (letters with inner hyphens/apostrophes);
/// elisions ("d'", "l'") become chunks of their own.
pub(super) fn chunks(text: &str) -> Vec<Chunk<'_>> {
    let mut out: Vec<Chunk> = Vec::with_capacity(text.len() / 6);
    let mut line_start = 0usize;
    let b = text.as_bytes();
    let n = text.len();
    let alpha_at = |k: usize| -> bool {
        if k >= n {
            return false;
        }
        let x = b[k];
        if x < 0x80 {
            x.is_ascii_alphabetic()
        } else {
            text[k..].chars().next().is_some_and(char::is_alphabetic)
        }
    };
    let mut i = 0;
    while i < n {
        // ASCII fast path; French text is mostly ASCII.
        let bi = b[i];
        if bi < 0x80 {
            if !bi.is_ascii_alphabetic() {
                if bi == b'\n' {
                    line_start = i + 1;
                }
                i += 1;
                continue;
            }
        } else {
            let c = text[i..].chars().next().unwrap_or(' ');
            if !c.is_alphabetic() {
                i += c.len_utf8();
                continue;
            }
        }
        let s = i;
        let mut e = i;
        let mut j = i;
        while j < n {
            let bj = b[j];
            if bj < 0x80 {
                if bj.is_ascii_alphabetic() {
                    j += 1;
                    e = j;
                    continue;
                }
                if (bj == b'-' || bj == b'\'') && alpha_at(j + 1) {
                    j += 1;
                    continue;
                }
                break;
            }
            let c = text[j..].chars().next().unwrap_or(' ');
            let len = c.len_utf8();
            if c.is_alphabetic() || unicode_normalization::char::is_combining_mark(c) {
                j += len;
                e = j;
            } else if c == '’' && alpha_at(j + len) {
                j += len;
            } else {
                break;
            }
        }
        let mut word = &text[s..e];
        let mut ws = s;
        // Split lowercase elisions: d'Alzheimer → d' + Alzheimer.
        if let Some(p) = word.find(['\'', '’']) {
            let head = &word[..p];
            if (1..=2).contains(&head.len()) && head.bytes().all(|x| x.is_ascii_lowercase())
                || head == "qu"
                || head == "jusqu"
                || head == "lorsqu"
                || head == "puisqu"
            {
                let apos_len = word[p..].chars().next().map_or(1, |c| c.len_utf8());
                let mut c = make_chunk(text, s, s + p + apos_len);
                c.ls = line_start;
                out.push(c);
                ws = s + p + apos_len;
                word = &text[ws..e];
            }
        }
        if !word.is_empty() {
            let mut c = make_chunk(text, ws, e);
            c.ls = line_start;
            out.push(c);
        }
        i = e.max(i + 1);
    }
    out
}

pub(super) fn make_chunk(text: &str, s: usize, e: usize) -> Chunk<'_> {
    let w = &text[s..e];
    let mut letters = 0usize;
    let mut uppers = 0usize;
    let mut lowers = 0usize;
    let mut first_upper = false;
    for (k, c) in w.chars().enumerate() {
        if c.is_alphabetic() {
            letters += 1;
            if c.is_uppercase() {
                uppers += 1;
                if k == 0 {
                    first_upper = true;
                }
            } else if c.is_lowercase() {
                lowers += 1;
            }
        }
    }
    // "N'Diaye", "D'Almeida", "McDonald": a leading capital is enough.
    let cap = first_upper && lowers > 0;
    let upper = letters >= 2 && lowers == 0;
    let initial = letters == 1 && uppers == 1;
    let f = if w
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'\'')
    {
        Cow::Borrowed(w)
    } else {
        Cow::Owned(fold(w))
    };
    Chunk {
        s,
        e,
        f,
        cap,
        upper,
        initial,
        ls: 0,
        w: WordInfo::default(),
    }
}
