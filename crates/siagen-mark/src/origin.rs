//! Character-level origin map of a revision: which spans a model wrote, which a person wrote,
//! and which are machine text a person edited, carried from revision to revision by diffing.
//!
//! **Offsets** are in Unicode scalar values (Rust `char`s, Python `str` indices; in JavaScript
//! index `Array.from(text)`), half-open `[start, end)`. Callers working in bytes convert at the
//! edge with [`OriginMap::byte_spans`]. Spans are sorted, non-empty, contiguous, merged (two
//! neighbours never share an origin) and cover the text exactly.
//!
//! **How a new revision is attributed** ([`OriginMap::derive`]):
//! 1. The previous and new texts are cut into tokens (a maximal run of alphanumeric characters,
//!    or any other single character) and diffed (Myers). Token granularity keeps a person's
//!    rewrite from leaving isolated machine letters behind, which a pure character diff does.
//! 2. The diff is cleaned up the way diff-match-patch's semantic cleanup does: an unchanged run
//!    no longer than the text inserted on both of its sides is folded into them, and an
//!    unchanged run holding no alphanumeric character (spaces, punctuation) next to an insertion
//!    is folded into it. So a sentence rewritten from scratch becomes entirely the rewriter's, not a mix of its
//!    old spaces and commas.
//! 3. Unchanged characters keep their previous origin, whoever wrote the new revision.
//! 4. Characters inserted or replacing others are the new author's: `machine` for a model, and
//!    for a person `human` — except that a person's *small* change to machine text is `edited`:
//!    when the replaced run holds machine (or edited) characters and the replacement keeps at
//!    least two thirds of it (character similarity `2·common / (old + new)` ≥ 2/3, both sides at
//!    most [`EDIT_MAX_CHARS`]), the replacement is `edited` (model of the replaced machine text,
//!    the editing person). A typo fix or an agreement change is an edit; a new word is not.
//! 5. Deletions alone change no origin: what is left is still what its author wrote.

use serde::{Deserialize, Serialize};
use similar::{capture_diff_slices_deadline, Algorithm, DiffOp, TextDiff};
use std::ops::Range;
use std::time::{Duration, Instant};

/// A replaced run longer than this (characters, on either side) is a rewrite, never an edit.
pub const EDIT_MAX_CHARS: usize = 2000;

/// Similarity (2·common / total characters) at or above which a person's replacement of
/// machine text counts as an edit of it.
pub const EDIT_MIN_SIMILARITY: f64 = 2.0 / 3.0;

/// A model that wrote text: which model, which weights, which generation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRef {
    /// Model name (registry id).
    pub model: String,
    /// Version or weights hash.
    #[serde(default)]
    pub version: String,
    /// The generation that produced the text, when the server ran it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_id: Option<String>,
}

/// Who wrote a revision (the input of [`OriginMap::derive`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Author {
    /// A model generated the revision.
    Model(ModelRef),
    /// A person typed it.
    Human {
        /// Account id.
        user_id: i64,
    },
}

/// The origin of one passage.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Origin {
    /// Written by a model and unchanged since.
    Machine {
        /// Model name.
        model: String,
        /// Version or weights hash.
        #[serde(default)]
        version: String,
        /// Generation id, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        generation_id: Option<String>,
    },
    /// Written by a person.
    Human {
        /// Account id.
        user_id: i64,
    },
    /// Machine text a person changed slightly (see the module documentation for the rule).
    Edited {
        /// Model name of the machine text.
        model: String,
        /// Its version.
        #[serde(default)]
        version: String,
        /// Its generation id, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        generation_id: Option<String>,
        /// The person who edited it.
        user_id: i64,
    },
}

impl Origin {
    /// The origin of text that `author` wrote.
    pub fn of(author: &Author) -> Origin {
        match author {
            Author::Model(m) => Origin::Machine {
                model: m.model.clone(),
                version: m.version.clone(),
                generation_id: m.generation_id.clone(),
            },
            Author::Human { user_id } => Origin::Human { user_id: *user_id },
        }
    }

    /// The model behind a machine or edited passage.
    pub fn model(&self) -> Option<ModelRef> {
        match self {
            Origin::Machine {
                model,
                version,
                generation_id,
            }
            | Origin::Edited {
                model,
                version,
                generation_id,
                ..
            } => Some(ModelRef {
                model: model.clone(),
                version: version.clone(),
                generation_id: generation_id.clone(),
            }),
            Origin::Human { .. } => None,
        }
    }

    /// `machine`, `human` or `edited`.
    pub fn kind(&self) -> &'static str {
        match self {
            Origin::Machine { .. } => "machine",
            Origin::Human { .. } => "human",
            Origin::Edited { .. } => "edited",
        }
    }
}

/// One passage: `[start, end)` in characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Span {
    /// First character.
    pub start: usize,
    /// One past the last character.
    pub end: usize,
    /// Who wrote it.
    pub origin: Origin,
}

/// The unit of the offsets, written into the JSON so that consumers need not guess.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OffsetUnit {
    /// Unicode scalar values.
    #[default]
    #[serde(rename = "char")]
    Char,
}

/// The origin map of one revision's text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginMap {
    /// Always `char` (Unicode scalar values).
    #[serde(default)]
    pub unit: OffsetUnit,
    /// Sorted, contiguous, merged spans covering the text.
    pub spans: Vec<Span>,
}

/// Characters of each kind in a map.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Shares {
    /// Written by a model, unchanged.
    pub machine: usize,
    /// Machine text a person edited.
    pub edited: usize,
    /// Written by people.
    pub human: usize,
}

#[derive(Debug, Clone)]
struct Hunk {
    equal: bool,
    old: Range<usize>,
    new: Range<usize>,
}

/// Tokens: maximal alphanumeric runs, or single other characters. Returns (token, char length).
fn tokens(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() {
            start.get_or_insert(i);
        } else {
            if let Some(s) = start.take() {
                out.push(&text[s..i]);
            }
            out.push(&text[i..i + c.len_utf8()]);
        }
    }
    if let Some(s) = start {
        out.push(&text[s..]);
    }
    out
}

/// Character offsets of each token boundary (`len + 1` entries).
fn offsets(toks: &[&str]) -> Vec<usize> {
    let mut off = Vec::with_capacity(toks.len() + 1);
    let mut at = 0;
    off.push(0);
    for t in toks {
        at += t.chars().count();
        off.push(at);
    }
    off
}

fn merge(a: &Hunk, b: &Hunk) -> Hunk {
    Hunk {
        equal: false,
        old: a.old.start.min(b.old.start)..a.old.end.max(b.old.end),
        new: a.new.start.min(b.new.start)..a.new.end.max(b.new.end),
    }
}

/// What a change writes: only inserted characters can claim neighbouring text (a deletion
/// next to an unchanged run leaves that run to its author).
fn size(h: &Hunk) -> usize {
    h.new.len()
}

/// Folds short unchanged runs sandwiched between larger insertions into them (stack-based, one
/// pass with backward cascading).
fn semantic_cleanup(hunks: Vec<Hunk>) -> Vec<Hunk> {
    let mut out: Vec<Hunk> = Vec::with_capacity(hunks.len());
    for h in hunks {
        if h.equal {
            out.push(h);
            continue;
        }
        let mut cur = h;
        if let Some(last) = out.last_mut().filter(|l| !l.equal) {
            cur = merge(last, &cur);
            out.pop();
        }
        while out.len() >= 2 {
            let n = out.len();
            let (eq, prev) = (&out[n - 1], &out[n - 2]);
            if eq.equal && !prev.equal && eq.new.len() <= size(prev) && eq.new.len() <= size(&cur) {
                cur = merge(prev, &cur);
                out.truncate(n - 2);
                if let Some(last) = out.last_mut().filter(|l| !l.equal) {
                    cur = merge(last, &cur);
                    out.pop();
                }
            } else {
                break;
            }
        }
        out.push(cur);
    }
    out
}

/// Folds unchanged runs without any alphanumeric character that touch a change into it.
fn absorb_punctuation(hunks: Vec<Hunk>, new_chars: &[char]) -> Vec<Hunk> {
    let n = hunks.len();
    let mut marked: Vec<Hunk> = hunks.clone();
    for i in 0..n {
        let h = &hunks[i];
        if !h.equal {
            continue;
        }
        let writes = |j: usize| !hunks[j].equal && !hunks[j].new.is_empty();
        let touches = (i > 0 && writes(i - 1)) || (i + 1 < n && writes(i + 1));
        if touches && !new_chars[h.new.clone()].iter().any(|c| c.is_alphanumeric()) {
            marked[i].equal = false;
        }
    }
    let mut out: Vec<Hunk> = Vec::with_capacity(n);
    for h in marked {
        match out.last_mut() {
            Some(last) if !last.equal && !h.equal => *last = merge(last, &h),
            _ => out.push(h),
        }
    }
    out
}

/// Character similarity of two short strings: 2·common / (|a| + |b|).
fn similarity(a: &str, b: &str) -> f64 {
    TextDiff::configure()
        .algorithm(Algorithm::Myers)
        .timeout(Duration::from_millis(200))
        .diff_chars(a, b)
        .ratio() as f64
}

impl OriginMap {
    /// A text written entirely by one origin (the first revision of a document).
    pub fn uniform(text: &str, origin: Origin) -> OriginMap {
        let len = text.chars().count();
        OriginMap {
            unit: OffsetUnit::Char,
            spans: if len == 0 {
                vec![]
            } else {
                vec![Span {
                    start: 0,
                    end: len,
                    origin,
                }]
            },
        }
    }

    /// A map from consecutive passages of `text` (character ranges, in order, covering it):
    /// empty passages are dropped and neighbours of one origin merged. Says what is wrong when
    /// the passages do not cover the text exactly.
    pub fn from_passages(
        text: &str,
        passages: impl IntoIterator<Item = (Range<usize>, Origin)>,
    ) -> Result<OriginMap, String> {
        let mut spans: Vec<Span> = Vec::new();
        for (r, origin) in passages {
            if r.start > r.end {
                return Err(format!("passage {}..{} is reversed", r.start, r.end));
            }
            if r.start == r.end {
                continue;
            }
            match spans.last_mut() {
                Some(last) if last.origin == origin && last.end == r.start => last.end = r.end,
                _ => spans.push(Span {
                    start: r.start,
                    end: r.end,
                    origin,
                }),
            }
        }
        let map = OriginMap {
            unit: OffsetUnit::Char,
            spans,
        };
        map.check(text)?;
        Ok(map)
    }

    /// The map of a first revision by `author`.
    pub fn first(text: &str, author: &Author) -> OriginMap {
        Self::uniform(text, Origin::of(author))
    }

    /// The map of `new_text`, written by `author` from `prev_text` whose map is `prev_map`
    /// (rules in the module documentation). A `prev_map` that does not cover `prev_text` is
    /// treated as the new author's for the characters it misses.
    pub fn derive(prev_text: &str, prev_map: &OriginMap, new_text: &str, author: &Author) -> Self {
        let old_chars: Vec<char> = prev_text.chars().collect();
        let new_chars: Vec<char> = new_text.chars().collect();
        // Per-character origin of the previous text, as indices into a table.
        let mut table: Vec<Origin> = Vec::new();
        let index = |o: &Origin, table: &mut Vec<Origin>| -> usize {
            match table.iter().position(|t| t == o) {
                Some(i) => i,
                None => {
                    table.push(o.clone());
                    table.len() - 1
                }
            }
        };
        let authored = Origin::of(author);
        let authored_ix = index(&authored, &mut table);
        let mut old_origin = vec![authored_ix; old_chars.len()];
        for s in &prev_map.spans {
            let ix = index(&s.origin, &mut table);
            let end = s.end.min(old_chars.len());
            for slot in old_origin.iter_mut().take(end).skip(s.start.min(end)) {
                *slot = ix;
            }
        }

        let old_toks = tokens(prev_text);
        let new_toks = tokens(new_text);
        let (old_off, new_off) = (offsets(&old_toks), offsets(&new_toks));
        let deadline = Instant::now() + Duration::from_secs(2);
        let ops =
            capture_diff_slices_deadline(Algorithm::Myers, &old_toks, &new_toks, Some(deadline));
        let mut hunks: Vec<Hunk> = Vec::with_capacity(ops.len());
        for op in ops {
            let (equal, o, n) = match op {
                DiffOp::Equal {
                    old_index,
                    new_index,
                    len,
                } => (true, old_index..old_index + len, new_index..new_index + len),
                DiffOp::Delete {
                    old_index,
                    old_len,
                    new_index,
                } => (false, old_index..old_index + old_len, new_index..new_index),
                DiffOp::Insert {
                    old_index,
                    new_index,
                    new_len,
                } => (false, old_index..old_index, new_index..new_index + new_len),
                DiffOp::Replace {
                    old_index,
                    old_len,
                    new_index,
                    new_len,
                } => (
                    false,
                    old_index..old_index + old_len,
                    new_index..new_index + new_len,
                ),
            };
            let h = Hunk {
                equal,
                old: old_off[o.start]..old_off[o.end],
                new: new_off[n.start]..new_off[n.end],
            };
            match hunks.last_mut() {
                Some(last) if !last.equal && !h.equal => *last = merge(last, &h),
                _ => hunks.push(h),
            }
        }
        let hunks = semantic_cleanup(absorb_punctuation(semantic_cleanup(hunks), &new_chars));

        let mut new_origin: Vec<usize> = Vec::with_capacity(new_chars.len());
        for h in &hunks {
            if h.equal {
                new_origin.extend_from_slice(&old_origin[h.old.clone()]);
                continue;
            }
            if h.new.is_empty() {
                continue;
            }
            let mut ix = authored_ix;
            if let Author::Human { user_id } = author {
                // The machine origin most represented in the replaced run, if any.
                let mut counts: Vec<(usize, usize)> = Vec::new();
                for &o in &old_origin[h.old.clone()] {
                    if table[o].model().is_some() {
                        match counts.iter_mut().find(|(k, _)| *k == o) {
                            Some((_, c)) => *c += 1,
                            None => counts.push((o, 1)),
                        }
                    }
                }
                let top = counts.iter().max_by_key(|(_, c)| *c).map(|(k, _)| *k);
                if let Some(m) = top.and_then(|o| table[o].model()) {
                    if h.old.len() <= EDIT_MAX_CHARS && h.new.len() <= EDIT_MAX_CHARS {
                        let a: String = old_chars[h.old.clone()].iter().collect();
                        let b: String = new_chars[h.new.clone()].iter().collect();
                        if similarity(&a, &b) >= EDIT_MIN_SIMILARITY {
                            let edited = Origin::Edited {
                                model: m.model,
                                version: m.version,
                                generation_id: m.generation_id,
                                user_id: *user_id,
                            };
                            ix = index(&edited, &mut table);
                        }
                    }
                }
            }
            new_origin.extend(std::iter::repeat_n(ix, h.new.len()));
        }
        debug_assert_eq!(new_origin.len(), new_chars.len());

        let mut spans: Vec<Span> = Vec::new();
        for (i, &o) in new_origin.iter().enumerate() {
            match spans.last_mut() {
                Some(s) if s.origin == table[o] => s.end = i + 1,
                _ => spans.push(Span {
                    start: i,
                    end: i + 1,
                    origin: table[o].clone(),
                }),
            }
        }
        OriginMap {
            unit: OffsetUnit::Char,
            spans,
        }
    }

    /// Characters covered.
    pub fn len(&self) -> usize {
        self.spans.last().map_or(0, |s| s.end)
    }

    /// True for the map of an empty text.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Characters of each kind.
    pub fn shares(&self) -> Shares {
        let mut s = Shares::default();
        for span in &self.spans {
            let n = span.end - span.start;
            match span.origin {
                Origin::Machine { .. } => s.machine += n,
                Origin::Edited { .. } => s.edited += n,
                Origin::Human { .. } => s.human += n,
            }
        }
        s
    }

    /// Share of the characters a model wrote and nobody changed (0 for an empty text).
    pub fn machine_fraction(&self) -> f64 {
        match self.len() {
            0 => 0.0,
            n => self.shares().machine as f64 / n as f64,
        }
    }

    /// True while any machine-written text remains, unchanged or edited: what the FHIR export's
    /// `AIAST` label and the web page's warning rest on.
    pub fn has_machine_text(&self) -> bool {
        self.spans.iter().any(|s| s.origin.model().is_some())
    }

    /// The models whose text remains, each once, sorted.
    pub fn models(&self) -> Vec<ModelRef> {
        let mut out: Vec<ModelRef> = self.spans.iter().filter_map(|s| s.origin.model()).collect();
        out.sort();
        out.dedup();
        out
    }

    /// Checks that the map is well formed and covers `text` exactly; says what is wrong.
    pub fn check(&self, text: &str) -> Result<(), String> {
        let mut at = 0;
        for (i, s) in self.spans.iter().enumerate() {
            if s.start != at {
                return Err(format!(
                    "span {i} starts at {} where the previous one ended at {at}",
                    s.start
                ));
            }
            if s.end <= s.start {
                return Err(format!("span {i} is empty or reversed"));
            }
            if i > 0 && self.spans[i - 1].origin == s.origin {
                return Err(format!(
                    "spans {} and {i} have the same origin (not merged)",
                    i - 1
                ));
            }
            at = s.end;
        }
        let len = text.chars().count();
        if at != len {
            return Err(format!(
                "the map covers {at} characters but the text has {len}"
            ));
        }
        Ok(())
    }

    /// The spans as byte ranges of `text` (which the map must cover), for Rust callers.
    pub fn byte_spans<'a>(&'a self, text: &str) -> Vec<(Range<usize>, &'a Origin)> {
        let mut bytes: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
        bytes.push(text.len());
        self.spans
            .iter()
            .filter(|s| s.end < bytes.len())
            .map(|s| (bytes[s.start]..bytes[s.end], &s.origin))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(gen: &str) -> Author {
        Author::Model(ModelRef {
            model: "qwen".into(),
            version: "q4".into(),
            generation_id: Some(gen.into()),
        })
    }

    fn human(u: i64) -> Author {
        Author::Human { user_id: u }
    }

    #[test]
    fn passages_are_merged_and_must_cover_the_text() {
        let text = "Q : é ?\nRéponse.\nSources";
        let (h, m) = (Origin::of(&human(7)), Origin::of(&model("g1")));
        let map = OriginMap::from_passages(
            text,
            [
                (0..8, h.clone()),
                (8..8, m.clone()),
                (8..16, m.clone()),
                (16..24, h.clone()),
            ],
        )
        .unwrap();
        assert_eq!(
            parts(text, &map),
            [
                ("Q : é ?\n".into(), "human:7".into()),
                ("Réponse.".into(), "machine:g1".into()),
                ("\nSources".into(), "human:7".into())
            ]
        );
        let merged = OriginMap::from_passages(text, [(0..5, h.clone()), (5..24, h.clone())]);
        assert_eq!(merged.unwrap().spans.len(), 1);
        let gap = OriginMap::from_passages(text, [(0..5, h.clone()), (6..24, m.clone())]);
        assert!(gap.unwrap_err().contains("starts at 6"));
        let short = OriginMap::from_passages(text, [(0..5, h)]);
        assert!(short.unwrap_err().contains("covers 5 characters"));
    }

    /// The text of each span with its kind (and generation or user), for readable assertions.
    fn parts(text: &str, map: &OriginMap) -> Vec<(String, String)> {
        map.check(text).unwrap();
        let chars: Vec<char> = text.chars().collect();
        map.spans
            .iter()
            .map(|s| {
                let who = match &s.origin {
                    Origin::Machine { generation_id, .. } => {
                        format!("machine:{}", generation_id.as_deref().unwrap_or(""))
                    }
                    Origin::Human { user_id } => format!("human:{user_id}"),
                    Origin::Edited {
                        generation_id,
                        user_id,
                        ..
                    } => format!(
                        "edited:{}:{user_id}",
                        generation_id.as_deref().unwrap_or("")
                    ),
                };
                (chars[s.start..s.end].iter().collect(), who)
            })
            .collect()
    }

    fn p(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn origin_map_through_a_sequence_of_edits() {
        // 1. Machine draft.
        let t1 = "Patient de 72 ans hospitalisé pour insuffisance cardiaque. Traitement : furosémide 40 mg. Revoir dans un mois.";
        let m1 = OriginMap::first(t1, &model("g1"));
        assert_eq!(parts(t1, &m1), p(&[(t1, "machine:g1")]));
        assert_eq!(m1.machine_fraction(), 1.0);
        assert!(m1.has_machine_text());

        // 2. A person inserts words: only they are human.
        let t2 = "Patient de 72 ans hospitalisé en urgence pour insuffisance cardiaque. Traitement : furosémide 40 mg. Revoir dans un mois.";
        let m2 = OriginMap::derive(t1, &m1, t2, &human(5));
        assert_eq!(
            parts(t2, &m2),
            p(&[
                ("Patient de 72 ans hospitalisé ", "machine:g1"),
                ("en urgence ", "human:5"),
                (
                    "pour insuffisance cardiaque. Traitement : furosémide 40 mg. Revoir dans un mois.",
                    "machine:g1"
                ),
            ])
        );

        // 3. Deletions change no origin; a typo fix of a machine word is an edit; a new dose
        // is the person's.
        let t3 = "Patient de 72 ans hospitalisé en urgence pour insuffisance cardiaque gauche. Traitement : furosémide 60 mg. Revoir dans un mois.";
        let m2b = OriginMap::derive(t2, &m2, t3, &human(5));
        let t3b = "Patient de 72 ans hospitalisé en urgence pour insufisance cardiaque gauche. Traitement : furosémide 60 mg. Revoir.";
        let m3 = OriginMap::derive(t3, &m2b, t3b, &human(6));
        assert_eq!(
            parts(t3b, &m3),
            p(&[
                ("Patient de 72 ans hospitalisé ", "machine:g1"),
                ("en urgence ", "human:5"),
                ("pour ", "machine:g1"),
                ("insufisance", "edited:g1:6"),
                (" cardiaque", "machine:g1"),
                (" gauche", "human:5"),
                (". Traitement : furosémide ", "machine:g1"),
                ("60", "human:5"),
                (" mg. Revoir.", "machine:g1"),
            ])
        );
        let s = m3.shares();
        assert_eq!(s.edited, "insufisance".chars().count());
        assert_eq!(s.machine + s.edited + s.human, t3b.chars().count());
        assert!(m3.machine_fraction() > 0.5 && m3.machine_fraction() < 1.0);

        // 4. A person rewrites a whole sentence: no stray machine spaces or letters stay in it.
        let t4 = "Patient de 72 ans hospitalisé en urgence pour insufisance cardiaque gauche. Bétabloquant arrêté, diurétique majoré. Revoir.";
        let m4 = OriginMap::derive(t3b, &m3, t4, &human(7));
        assert_eq!(
            parts(t4, &m4)[6..],
            p(&[
                (". ", "machine:g1"),
                ("Bétabloquant arrêté, diurétique majoré", "human:7"),
                (". Revoir.", "machine:g1"),
            ])
        );

        // 5. The model regenerates the last sentence: the rest keeps its origins.
        let t5 = "Patient de 72 ans hospitalisé en urgence pour insufisance cardiaque gauche. Bétabloquant arrêté, diurétique majoré. Consultation de cardiologie à un mois.";
        let m5 = OriginMap::derive(t4, &m4, t5, &model("g2"));
        let got = parts(t5, &m5);
        assert_eq!(got[..8], parts(t4, &m4)[..8]);
        assert_eq!(
            got[8..],
            p(&[
                (". ", "machine:g1"),
                ("Consultation de cardiologie à un mois.", "machine:g2"),
            ])
        );
        assert_eq!(m5.models().len(), 2);

        // 6. A full human rewrite leaves no machine text at all.
        let t6 = "Évolution favorable sous traitement ; sortie à domicile le 3 mars.";
        let m6 = OriginMap::derive(t5, &m5, t6, &human(7));
        assert_eq!(parts(t6, &m6), p(&[(t6, "human:7")]));
        assert!(!m6.has_machine_text());
        assert_eq!(m6.machine_fraction(), 0.0);
    }

    #[test]
    fn map_checks_and_json_round_trip() {
        let t = "Texte généré puis corrigé.";
        let m = OriginMap::derive(
            t,
            &OriginMap::first(t, &model("g")),
            "Texte généré puis relu.",
            &human(1),
        );
        let json = serde_json::to_string(&m).unwrap();
        assert!(
            json.starts_with(r#"{"unit":"char","spans":[{"start":0"#),
            "{json}"
        );
        let back: OriginMap = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
        assert!(m.check("Texte généré puis relu.").is_ok());
        assert!(m
            .check("Texte généré puis relu")
            .unwrap_err()
            .contains("covers"));
        let mut bad = m.clone();
        bad.spans[0].end += 1;
        assert!(bad.check("Texte généré puis relu.").is_err());
        // Byte spans follow multi-byte characters.
        let t = "é€x";
        let m = OriginMap::derive("é€", &OriginMap::first("é€", &model("g")), t, &human(1));
        let bs = m.byte_spans(t);
        assert_eq!(bs[0].0, 0..5);
        assert_eq!(&t[bs[1].0.clone()], "x");
    }

    #[test]
    fn empty_and_identical_texts() {
        let m = OriginMap::first("", &human(1));
        assert!(m.is_empty() && m.spans.is_empty() && m.machine_fraction() == 0.0);
        let t = "Même texte.";
        let m1 = OriginMap::first(t, &model("g"));
        assert_eq!(OriginMap::derive(t, &m1, t, &human(2)), m1);
    }
}
