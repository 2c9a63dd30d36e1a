//! The detector: regular expressions with check digits for structured
//! identifiers (`structured.rs`, patterns in `patterns.rs`), and a
//! chunk-level rule engine (titles, field labels, signatures, greetings,
//! dictionaries, propagation) for names and places (`names.rs`), over the
//! text helpers of `text.rs`. This file holds the detector itself, its word
//! facts and the resolution of overlapping candidates.

mod names;
mod patterns;
mod structured;
mod text;

use patterns::*;
use text::*;

use std::borrow::Cow;

use crate::dict::{commune_key, fold, Dicts, FirstName, HashMap, HashSet};
use crate::{Label, ShieldError, Span};

/// A candidate span in byte offsets; the highest priority wins overlaps.
#[derive(Debug, Clone, Copy)]
struct Cand {
    s: usize,
    e: usize,
    label: Label,
    prio: u8,
}

/// Everything the rules need to know about a word, from one look-up.
#[derive(Debug, Clone, Copy)]
struct WordInfo {
    flags: u16,
    fname: Option<FirstName>,
    sn_rank: u32,
}

impl Default for WordInfo {
    fn default() -> Self {
        WordInfo {
            flags: 0,
            fname: None,
            sn_rank: u32::MAX,
        }
    }
}

const W_COMMON: u16 = 1;
const W_MEDICAL: u16 = 1 << 1;
const W_TITLE: u16 = 1 << 2;
const W_STRONG_TITLE: u16 = 1 << 3;
const W_PARTICLE: u16 = 1 << 4;
const W_EPONYM: u16 = 1 << 5;
const W_EPONYM_HEAD: u16 = 1 << 6;
const W_CLOSING: u16 = 1 << 7;
const W_GREETING: u16 = 1 << 8;
const W_CLOSING_END: u16 = 1 << 9;

impl WordInfo {
    fn common(&self) -> bool {
        self.flags & W_COMMON != 0
    }
    fn medical(&self) -> bool {
        self.flags & W_MEDICAL != 0
    }
    fn title(&self) -> bool {
        self.flags & W_TITLE != 0
    }
    fn strong_title(&self) -> bool {
        self.flags & W_STRONG_TITLE != 0
    }
    fn particle(&self) -> bool {
        self.flags & W_PARTICLE != 0
    }
    fn eponym(&self) -> bool {
        self.flags & W_EPONYM != 0
    }
    fn eponym_head(&self) -> bool {
        self.flags & W_EPONYM_HEAD != 0
    }
    fn closing(&self) -> bool {
        self.flags & W_CLOSING != 0
    }
    fn closing_end(&self) -> bool {
        self.flags & W_CLOSING_END != 0
    }
    fn greeting(&self) -> bool {
        self.flags & W_GREETING != 0
    }
    fn first_name(&self) -> Option<FirstName> {
        self.fname
    }
    fn surname_rank(&self) -> u32 {
        self.sn_rank
    }
}

#[derive(Debug, Clone)]
struct Chunk<'a> {
    s: usize,
    e: usize,
    /// Folded text (lower case, no diacritics); borrowed when the text
    /// is already folded, which spares most allocations.
    f: Cow<'a, str>,
    /// Title case: upper-case first letter and some lower-case letter.
    cap: bool,
    /// All letters upper case, at least two letters.
    upper: bool,
    /// A single upper-case letter.
    initial: bool,
    /// Byte offset of the start of the chunk's line.
    ls: usize,
    w: WordInfo,
}

impl Chunk<'_> {
    fn namey(&self) -> bool {
        self.cap || self.upper || self.initial
    }
}

/// The detector. Built once ([`Shield::new`]) and shared (`Send + Sync`).
pub struct Shield {
    d: Dicts,
    p: Patterns,
    big_cities: HashSet<String>,
    /// All word-level facts, merged so that a word costs one look-up.
    words: HashMap<String, WordInfo>,
    /// First words of the big towns, to skip look-ups quickly.
    big_city_heads: HashSet<String>,
    particles: HashSet<&'static str>,
    field_phrases: HashSet<String>,
    closings: HashSet<String>,
}

impl Shield {
    /// Loads the embedded dictionaries and compiles the patterns. Costly
    /// (tens of milliseconds): build one and share it in an `Arc`.
    pub fn new() -> Result<Shield, ShieldError> {
        let d = Dicts::load()?;
        let big_cities = crate::lexicon::big_cities()
            .iter()
            .map(|c| commune_key(c))
            .collect();
        let big_city_heads = crate::lexicon::big_cities()
            .iter()
            .map(|c| fold(c.split(' ').next().unwrap_or(c)))
            .collect();
        let field_phrases = crate::lexicon::name_fields()
            .iter()
            .map(|f| fold(f))
            .collect();
        let closings = crate::lexicon::closings().iter().map(|f| fold(f)).collect();
        let mut words: HashMap<String, WordInfo> =
            HashMap::with_capacity_and_hasher(260_000, Default::default());
        for (k, v) in &d.first_names {
            words.entry(k.clone()).or_default().fname = Some(*v);
        }
        for (k, &r) in &d.surnames {
            words.entry(k.clone()).or_default().sn_rank = r;
        }
        let mut flag = |set: &mut dyn Iterator<Item = String>, f: u16| {
            for k in set {
                words.entry(k).or_default().flags |= f;
            }
        };
        flag(&mut d.common_words.iter().cloned(), W_COMMON);
        flag(&mut d.medical.iter().cloned(), W_MEDICAL);
        flag(&mut d.titles.iter().cloned(), W_TITLE);
        flag(&mut d.strong_titles.iter().cloned(), W_STRONG_TITLE);
        flag(
            &mut crate::lexicon::particles().iter().map(|p| p.to_string()),
            W_PARTICLE,
        );
        flag(&mut d.eponyms.iter().cloned(), W_EPONYM);
        flag(&mut d.eponym_heads.iter().cloned(), W_EPONYM_HEAD);
        flag(
            &mut crate::lexicon::closings().iter().map(|x| fold(x)),
            W_CLOSING,
        );
        flag(
            &mut crate::lexicon::greetings().iter().map(|x| fold(x)),
            W_GREETING,
        );
        flag(
            &mut crate::lexicon::closings()
                .iter()
                .filter_map(|x| fold(x).rsplit(' ').next().map(str::to_string)),
            W_CLOSING_END,
        );
        Ok(Shield {
            words,
            d,
            p: Patterns::new(),
            big_cities,
            big_city_heads,
            particles: crate::lexicon::particles().iter().copied().collect(),
            field_phrases,
            closings,
        })
    }

    /// Word chunks of a text with their dictionary facts.
    fn chunks<'a>(&self, text: &'a str) -> Vec<Chunk<'a>> {
        let mut ch = chunks(text);
        for c in &mut ch {
            if let Some(w) = self.words.get(c.f.as_ref()) {
                c.w = *w;
            }
            if c.w.fname.is_none() && c.f.contains('-') && !c.f.starts_with("saint") {
                // Compound first names: every part must be a first name.
                let mut rank = 0;
                let mut ok = true;
                for part in c.f.split('-') {
                    match self.d.first_names.get(part) {
                        Some(x) => rank = rank.max(x.rank),
                        None => {
                            ok = false;
                            break;
                        }
                    }
                }
                if ok {
                    c.w.fname = Some(FirstName {
                        rank,
                        female: true,
                        male: true,
                        rank_f: rank,
                        rank_m: rank,
                    });
                }
            }
        }
        ch
    }

    pub(crate) fn dicts(&self) -> &Dicts {
        &self.d
    }

    /// Finds every identifier; spans are sorted, non-overlapping, in
    /// character offsets.
    pub fn detect(&self, text: &str) -> Vec<Span> {
        let spans = self.detect_bytes(text);
        to_char_spans(text, &spans)
    }

    /// `text` with every identifier [`detect`](Shield::detect) finds replaced by spaces, one per
    /// character (offsets are kept). For search queries bound to a model that may not receive
    /// identifying data: names, dates and numbers never help find a guideline passage.
    pub fn blank_identifiers(&self, text: &str) -> String {
        let spans = self.detect(text);
        let mut next = spans.iter().peekable();
        text.chars()
            .enumerate()
            .map(|(i, c)| {
                while next.peek().is_some_and(|s| s.end <= i) {
                    next.next();
                }
                match next.peek() {
                    Some(s) if s.start <= i => ' ',
                    _ => c,
                }
            })
            .collect()
    }

    /// Same as [`Shield::detect`] in byte offsets (internal use).
    pub(crate) fn detect_bytes(&self, text: &str) -> Vec<(usize, usize, Label)> {
        let mut c: Vec<Cand> = Vec::new();
        self.structured(text, &mut c);
        let chunks = self.chunks(text);
        self.names_and_places(text, &chunks, &mut c);
        let mut spans = resolve(c);
        birth_dates_after_names(text, &mut spans);
        spans
    }
}

/// Keeps the best non-overlapping candidates.
fn resolve(mut c: Vec<Cand>) -> Vec<(usize, usize, Label)> {
    c.sort_by(|a, b| {
        b.prio
            .cmp(&a.prio)
            .then((b.e - b.s).cmp(&(a.e - a.s)))
            .then(a.s.cmp(&b.s))
    });
    // Taken intervals keyed by start; they never overlap, so checking the
    // nearest one on each side is enough.
    let mut taken: std::collections::BTreeMap<usize, (usize, Label)> =
        std::collections::BTreeMap::new();
    for x in c {
        let left = taken
            .range(..x.e)
            .next_back()
            .is_some_and(|(_, &(e, _))| e > x.s);
        if !left {
            taken.insert(x.s, (x.e, x.label));
        }
    }
    taken.into_iter().map(|(s, (e, l))| (s, e, l)).collect()
}

/// Converts byte spans into character spans in one pass.
pub(crate) fn to_char_spans(text: &str, spans: &[(usize, usize, Label)]) -> Vec<Span> {
    let mut marks: Vec<usize> = Vec::with_capacity(spans.len() * 2);
    for &(s, e, _) in spans {
        marks.push(s);
        marks.push(e);
    }
    marks.sort_unstable();
    marks.dedup();
    let mut chars_at: Vec<usize> = Vec::with_capacity(marks.len());
    let mut next = 0usize;
    let mut chars = 0usize;
    let mut last = 0usize;
    for &m in &marks {
        chars += text[last..m].chars().count();
        last = m;
        chars_at.push(chars);
        next += 1;
    }
    let _ = next;
    let at = |b: usize| chars_at[marks.binary_search(&b).unwrap_or(0)];
    spans
        .iter()
        .map(|&(s, e, label)| Span {
            start: at(s),
            end: at(e),
            label,
        })
        .collect()
}
