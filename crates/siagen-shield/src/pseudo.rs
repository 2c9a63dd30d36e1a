//! Pseudonymisation through the vault, and re-identification of a text
//! (typically a model's answer) for an authorised clinician.

use aho_corasick::{AhoCorasick, MatchKind};
use serde::{Deserialize, Serialize};

use crate::dict::fold;
use crate::surrogate;
use crate::vault::{Entry, PatientRecord};
use crate::{Label, Shield, ShieldError, Span, Vault};

/// How identifiers are replaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurrogateStyle {
    /// Realistic French surrogates, same format, dates shifted per patient.
    #[default]
    Realistic,
    /// Typed tags: `[NOM_1]`, `[DATE_2]`...
    Tags,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct PseudoOptions {
    pub style: SurrogateStyle,
}

/// A pseudonymised text. `spans` locate the surrogates in `text`
/// (character offsets), with the label of what they replace.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pseudonymized {
    pub text: String,
    pub spans: Vec<Span>,
    /// Number of identifiers replaced.
    pub replaced: usize,
}

/// Pseudonymises `text` for `patient_ref` with realistic surrogates.
pub fn pseudonymize(
    shield: &Shield,
    text: &str,
    patient_ref: &str,
    vault: &Vault,
) -> Result<Pseudonymized, ShieldError> {
    pseudonymize_with(shield, text, patient_ref, vault, &PseudoOptions::default())
}

/// Pseudonymises with explicit options. The same original always gets the
/// same surrogate for one patient reference, across calls and processes.
pub fn pseudonymize_with(
    shield: &Shield,
    text: &str,
    patient_ref: &str,
    vault: &Vault,
    opts: &PseudoOptions,
) -> Result<Pseudonymized, ShieldError> {
    let found = shield.detect_bytes(text);
    if found.is_empty() {
        return Ok(Pseudonymized {
            text: text.to_string(),
            spans: Vec::new(),
            replaced: 0,
        });
    }
    let d = shield.dicts();
    let replacements: Vec<String> = vault.update(patient_ref, |rec| {
        let mut rng = rand::thread_rng();
        found
            .iter()
            .map(|&(s, e, label)| {
                let original = &text[s..e];
                let key = fold(original);
                if let Some(en) = rec.find(label, &key) {
                    return match opts.style {
                        SurrogateStyle::Tags => en.surrogate.clone(),
                        SurrogateStyle::Realistic if en.surrogate.starts_with('[') => {
                            en.surrogate.clone()
                        }
                        SurrogateStyle::Realistic => surrogate::match_case(original, &en.surrogate),
                    };
                }
                let sur = match opts.style {
                    SurrogateStyle::Tags => {
                        let n = rec.counters.entry(label).or_insert(0);
                        *n += 1;
                        format!("[{}_{}]", label.as_str(), n)
                    }
                    SurrogateStyle::Realistic => {
                        // Avoid giving two originals the same surrogate.
                        let mut sur =
                            surrogate::make(d, label, original, rec.date_offset_days, &mut rng);
                        for _ in 0..8 {
                            let clash = rec
                                .entries
                                .iter()
                                .any(|x| fold(&x.surrogate) == fold(&sur) && x.key != key)
                                || fold(&sur) == key && !matches!(label, Label::Age);
                            if !clash {
                                break;
                            }
                            sur = surrogate::make(
                                d,
                                label,
                                original,
                                rec.date_offset_days + 1,
                                &mut rng,
                            );
                        }
                        sur
                    }
                };
                rec.entries.push(Entry {
                    label,
                    key,
                    original: original.to_string(),
                    surrogate: sur.clone(),
                });
                surrogate::match_case(original, &sur)
            })
            .collect()
    })?;
    let mut out = String::with_capacity(text.len() + 64);
    let mut spans = Vec::with_capacity(found.len());
    let mut last = 0;
    let mut chars_out = 0usize;
    for (&(s, e, label), rep) in found.iter().zip(&replacements) {
        let between = &text[last..s];
        chars_out += between.chars().count();
        out.push_str(between);
        let n = rep.chars().count();
        spans.push(Span {
            start: chars_out,
            end: chars_out + n,
            label,
        });
        chars_out += n;
        out.push_str(rep);
        last = e;
    }
    out.push_str(&text[last..]);
    Ok(Pseudonymized {
        text: out,
        spans,
        replaced: found.len(),
    })
}

/// Puts the originals back into a text that carries surrogates of
/// `patient_ref` (tags or realistic values, in their stored case or in
/// upper case). Text the vault does not know is left unchanged.
pub fn reidentify(text: &str, patient_ref: &str, vault: &Vault) -> Result<String, ShieldError> {
    let r = Reidentifier::load(patient_ref, vault)?;
    Ok(apply(text, &r.surrogate_matches(text)))
}

/// Like [`reidentify`], and also moves back by the patient's offset the
/// dates that a model computed itself in the shifted timeline ("contrôle
/// dans 3 mois, le 12/06/2024"), which no stored surrogate covers.
pub fn reidentify_with_dates(
    shield: &Shield,
    text: &str,
    patient_ref: &str,
    vault: &Vault,
) -> Result<String, ShieldError> {
    Ok(Reidentifier::load(patient_ref, vault)?.restore(shield, text))
}

/// Re-identification for one patient: the vault record is read and the
/// surrogate matcher built once, so that many texts (or the many pieces of
/// one streamed answer) cost no further vault access.
pub struct Reidentifier {
    date_offset_days: i64,
    /// Surrogates (stored case and upper case), their originals.
    matcher: Option<(AhoCorasick, Vec<String>, Vec<String>)>,
}

impl Reidentifier {
    /// Loads the patient's record from the vault.
    pub fn load(patient_ref: &str, vault: &Vault) -> Result<Reidentifier, ShieldError> {
        Self::from_record(&vault.load(patient_ref)?)
    }

    /// Builds the matcher over a record.
    pub fn from_record(rec: &PatientRecord) -> Result<Reidentifier, ShieldError> {
        let mut seen = std::collections::HashSet::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut originals: Vec<String> = Vec::new();
        for e in &rec.entries {
            for variant in [e.surrogate.clone(), e.surrogate.to_uppercase()] {
                if !variant.is_empty() && seen.insert(variant.clone()) {
                    patterns.push(variant);
                    originals.push(e.original.clone());
                }
            }
        }
        let matcher = if patterns.is_empty() {
            None
        } else {
            let ac = AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&patterns)
                .map_err(|e| ShieldError::VaultFormat(e.to_string()))?;
            Some((ac, patterns, originals))
        };
        Ok(Reidentifier {
            date_offset_days: rec.date_offset_days,
            matcher,
        })
    }

    /// The text with every known surrogate, and every date of the shifted
    /// timeline, put back.
    pub fn restore(&self, shield: &Shield, text: &str) -> String {
        apply(text, &self.replacements(shield, text))
    }

    /// Sorted, non-overlapping byte ranges of `text` and what replaces them.
    fn replacements(&self, shield: &Shield, text: &str) -> Vec<(usize, usize, String)> {
        let mut reps = self.surrogate_matches(text);
        for (s, e, label) in shield.detect_bytes(text) {
            if !matches!(label, Label::Date | Label::DateNaissance)
                || reps.iter().any(|r| s < r.1 && r.0 < e)
            {
                continue;
            }
            if let Some(back) = surrogate::shift_date(&text[s..e], -self.date_offset_days) {
                reps.push((s, e, back));
            }
        }
        reps.sort_by_key(|r| r.0);
        reps
    }

    /// Byte ranges of known surrogates and the originals to put back.
    fn surrogate_matches(&self, text: &str) -> Vec<(usize, usize, String)> {
        let Some((ac, patterns, originals)) = &self.matcher else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for m in ac.find_iter(text) {
            // Whole words only: "Martin" must not fire inside "Martinez".
            let before = text[..m.start()].chars().next_back();
            let after = text[m.end()..].chars().next();
            let p = &patterns[m.pattern().as_usize()];
            let word_start = p.chars().next().is_some_and(|c| c.is_alphanumeric());
            let word_end = p.chars().next_back().is_some_and(|c| c.is_alphanumeric());
            if (word_start && before.is_some_and(|c| c.is_alphanumeric()))
                || (word_end && after.is_some_and(|c| c.is_alphanumeric()))
            {
                continue;
            }
            out.push((
                m.start(),
                m.end(),
                surrogate::restore_case(
                    &text[m.start()..m.end()],
                    &originals[m.pattern().as_usize()],
                ),
            ));
        }
        out
    }
}

/// Characters held back at the end of a streamed answer: more than the
/// longest surrogate or date the shield writes, so that one is never cut.
pub const STREAM_HOLD_BACK: usize = 96;

/// Re-identifies a streamed answer piece by piece, in time linear in its
/// length: a cursor marks what was already given out, and each new piece
/// only re-reads the text after it (at most [`STREAM_HOLD_BACK`] characters
/// plus the piece). Text is released once no surrogate can still straddle
/// it; a surrogate cut by the hold-back waits whole for the next piece.
pub struct StreamReidentifier {
    reid: Reidentifier,
    raw: String,
    /// Bytes of `raw` already released.
    cursor: usize,
}

impl StreamReidentifier {
    /// A stream for one answer.
    pub fn new(reid: Reidentifier) -> StreamReidentifier {
        StreamReidentifier {
            reid,
            raw: String::new(),
            cursor: 0,
        }
    }

    /// Adds model text; returns what can be shown now (possibly nothing).
    pub fn push(&mut self, shield: &Shield, delta: &str) -> String {
        self.raw.push_str(delta);
        let window = &self.raw[self.cursor..];
        if window.len() <= STREAM_HOLD_BACK {
            return String::new();
        }
        let n = window.chars().count();
        if n <= STREAM_HOLD_BACK {
            return String::new();
        }
        let mut cut = window
            .char_indices()
            .nth(n - STREAM_HOLD_BACK)
            .map_or(window.len(), |(i, _)| i);
        // Never inside a word: a surrogate begins at a word boundary.
        // (A run of letters longer than a hold-back is no word of a surrogate: cut through it.)
        let is_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
        let stable = cut;
        while cut > 0
            && is_word(window[..cut].chars().next_back())
            && is_word(window[cut..].chars().next())
        {
            cut -= window[..cut].chars().next_back().map_or(1, char::len_utf8);
            if stable - cut > STREAM_HOLD_BACK {
                cut = stable;
                break;
            }
        }
        let reps = self.reid.replacements(shield, window);
        if let Some(r) = reps.iter().find(|r| r.0 < cut && r.1 > cut) {
            cut = r.0;
        }
        let kept: Vec<_> = reps.into_iter().filter(|r| r.1 <= cut).collect();
        let out = apply(&window[..cut], &kept);
        self.cursor += cut;
        out
    }

    /// The rest, at the end of the answer.
    pub fn finish(&mut self, shield: &Shield) -> String {
        let out = self.reid.restore(shield, &self.raw[self.cursor..]);
        self.cursor = self.raw.len();
        out
    }
}

/// Applies sorted, non-overlapping replacements.
fn apply(text: &str, reps: &[(usize, usize, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (s, e, r) in reps {
        out.push_str(&text[last..*s]);
        out.push_str(r);
        last = *e;
    }
    out.push_str(&text[last..]);
    out
}
