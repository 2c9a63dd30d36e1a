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
    let rec = vault.load(patient_ref)?;
    Ok(apply(text, &surrogate_matches(text, &rec)?))
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
    let rec = vault.load(patient_ref)?;
    let mut reps = surrogate_matches(text, &rec)?;
    for (s, e, label) in shield.detect_bytes(text) {
        if !matches!(label, Label::Date | Label::DateNaissance)
            || reps.iter().any(|r| s < r.1 && r.0 < e)
        {
            continue;
        }
        if let Some(back) = surrogate::shift_date(&text[s..e], -rec.date_offset_days) {
            reps.push((s, e, back));
        }
    }
    reps.sort_by_key(|r| r.0);
    Ok(apply(text, &reps))
}

/// Byte ranges of known surrogates and the originals to put back.
fn surrogate_matches(
    text: &str,
    rec: &PatientRecord,
) -> Result<Vec<(usize, usize, String)>, ShieldError> {
    if rec.entries.is_empty() {
        return Ok(Vec::new());
    }
    let mut seen = std::collections::HashSet::new();
    let mut patterns: Vec<String> = Vec::new();
    let mut originals: Vec<&str> = Vec::new();
    for e in &rec.entries {
        for variant in [e.surrogate.clone(), e.surrogate.to_uppercase()] {
            if !variant.is_empty() && seen.insert(variant.clone()) {
                patterns.push(variant);
                originals.push(&e.original);
            }
        }
    }
    let ac = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(&patterns)
        .map_err(|e| ShieldError::VaultFormat(e.to_string()))?;
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
            surrogate::restore_case(&text[m.start()..m.end()], originals[m.pattern().as_usize()]),
        ));
    }
    Ok(out)
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
