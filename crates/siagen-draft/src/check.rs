//! The check of a draft against the stay's notes, sentence by sentence, by siagen itself and
//! whatever the model claimed to cite.
//!
//! For each sentence: the note passages that share the most of its content (words weighted by
//! their rarity among the passages, and numbers) are found; the knowledge base's claim check
//! (`siagen_kb::claim`) then compares the sentence with them: content coverage, numbers with
//! their units (« 1 g » = « 1000 mg », « 2,5 »), negation, laterality, a treatment's status
//! (continued / stopped), directions and quantities. Drug names are compared exactly: a
//! sentence naming a drug that no note names, where the closest passage names another, is
//! contradicted. The outcome:
//! - `contradicted`: the closest passages say otherwise (another number, drug, side, status,
//!   the negation…); the passage is given;
//! - `supported`: the passages say it (at least one source: note id and code-point offsets);
//! - `unsupported`: nothing in the notes says it.
//!
//! Unsupported and contradicted sentences are kept and shown as such, never dropped. An
//! entailment model can be added through `siagen_kb::claim::Entailment`.

use crate::notes::{passages, Note, Passage};
use serde::Serialize;
use siagen_kb::cite::CitedSentence;
use siagen_kb::claim::{fold, Entailment, Passages, Reason, Verdict};
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// How a sentence stands against the notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The notes say it.
    Supported,
    /// Nothing in the notes says it.
    Unsupported,
    /// The notes say otherwise.
    Contradicted,
}

impl Status {
    /// The identifier used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Supported => "supported",
            Status::Unsupported => "unsupported",
            Status::Contradicted => "contradicted",
        }
    }

    /// The French label shown to clinicians.
    pub fn label_fr(self) -> &'static str {
        match self {
            Status::Supported => "Étayée par les notes",
            Status::Unsupported => "Non retrouvée dans les notes",
            Status::Contradicted => "Contredite par les notes",
        }
    }
}

/// A passage of a note: its id and code-point offsets in the note's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceRef {
    /// The note's id.
    pub note_id: String,
    /// Start, in Unicode code points.
    pub start: usize,
    /// End (exclusive), in code points.
    pub end: usize,
}

/// One checked sentence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckedSentence {
    /// The sentence (citation markers removed).
    pub text: String,
    /// Start in the checked text, in code points.
    pub start: usize,
    /// End (exclusive), in code points.
    pub end: usize,
    /// Supported, unsupported or contradicted.
    pub status: Status,
    /// Supporting passages (supported), or the contradicting ones (contradicted).
    pub sources: Vec<SourceRef>,
    /// Why, in French (stable codes).
    pub reasons: Vec<Reason>,
}

/// Share of a sentence's content (weighted by rarity) that must be found in the closest
/// passages for it to be supported (with every number found and nothing contradicted).
pub const SUPPORT_AT: f32 = 0.7;

/// Weight of a term no note has, as a share of the rarest term's: an invented fact is made of
/// such terms, and so is paraphrase not listed among the letter words.
pub const ABSENT_WEIGHT: f32 = 0.5;

/// Passages compared with each sentence.
const CANDIDATES: usize = 3;

/// Words too common to find a passage with.
const STOP: &[&str] = &[
    "les", "des", "une", "pour", "avec", "dans", "sur", "par", "est", "sont", "ete", "etait",
    "aux", "del", "qui", "que", "son", "ses", "sa", "leur", "leurs", "cette", "ces", "plus", "pas",
    "sans", "tres", "elle", "il", "lui", "patient", "patiente", "mme", "monsieur", "madame",
    "fait", "faite", "avoir", "etre", "ont", "entre", "apres", "avant", "lors", "puis", "chez",
    "the",
];

/// Content tokens of a text: folded words of 3+ letters (stop words out) and numbers.
fn tokens(text: &str) -> Vec<String> {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| {
            (w.len() >= 3 || w.chars().all(|c| c.is_ascii_digit()) && !w.is_empty())
                && !STOP.contains(w)
        })
        .map(|w| {
            // A light plural fold, so « comprimés » finds « comprimé ».
            let w = w.strip_suffix('s').filter(|r| r.len() >= 4).unwrap_or(w);
            w.to_string()
        })
        .collect()
}

/// Words of letter-writing that carry no fact (`lexicon/letter-words.txt`).
fn letter_words() -> &'static HashSet<String> {
    static W: OnceLock<HashSet<String>> = OnceLock::new();
    W.get_or_init(|| {
        include_str!("../lexicon/letter-words.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(fold)
            .collect()
    })
}

/// Clinical abbreviations and the words they stand for (`lexicon/abbreviations.txt`).
fn abbreviations() -> &'static HashMap<String, Vec<String>> {
    static A: OnceLock<HashMap<String, Vec<String>>> = OnceLock::new();
    A.get_or_init(|| {
        include_str!("../lexicon/abbreviations.txt")
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(a, w)| {
                (
                    fold(a.trim()),
                    w.split_whitespace().map(fold).collect::<Vec<_>>(),
                )
            })
            .collect()
    })
}

/// Content terms of a text: its tokens without the words of letter-writing.
fn terms(text: &str) -> Vec<String> {
    let letter = letter_words();
    let mut out: Vec<String> = vec![];
    for t in tokens(text) {
        if !letter.contains(&t) && !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

/// Same word for the check: equal, or the same stem (a common prefix of 5+ letters covering
/// most of the shorter word: « transfusés » / « transfusion », « relayé » / « relais »).
fn same_term(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    if a.chars().any(|c| c.is_ascii_digit()) || b.chars().any(|c| c.is_ascii_digit()) {
        return false;
    }
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let shorter = a.chars().count().min(b.chars().count());
    common >= 5 && common * 10 >= shorter * 7
}

/// Drug names (folded single words) from edsnlp's ATC-coded list (brands and INNs).
fn drug_names() -> &'static HashSet<String> {
    static D: OnceLock<HashSet<String>> = OnceLock::new();
    D.get_or_init(|| {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../../data/edsnlp/drugs.json"))
                .unwrap_or_default();
        let mut out = HashSet::new();
        for names in v.as_object().into_iter().flat_map(|o| o.values()) {
            for n in names
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str())
            {
                let f = fold(n);
                let words: Vec<&str> = f.split(|c: char| !c.is_alphanumeric()).collect();
                // Single-word names only: « sodium fluorure » would make « sodium » a drug.
                if let [w] = words.as_slice() {
                    if w.len() >= 5 && !STOP.contains(w) {
                        out.insert(w.to_string());
                    }
                }
            }
        }
        // Words of clinical prose that some product happens to be named.
        for w in [
            "fer",
            "vitamine",
            "oxygene",
            "insuline",
            "calcium",
            "potassium",
            "magnesium",
        ] {
            out.remove(w);
        }
        out
    })
}

fn drugs_in(text: &str) -> Vec<String> {
    let names = drug_names();
    let mut out: Vec<String> = vec![];
    for w in fold(text).split(|c: char| !c.is_alphanumeric()) {
        if names.contains(w) && !out.iter().any(|x| x == w) {
            out.push(w.to_string());
        }
    }
    out
}

/// The notes of one stay, analysed once, against which any number of sentences are checked.
pub struct NoteChecker {
    ids: Vec<String>,
    passages: Vec<Passage>,
    analysed: Passages,
    /// Content tokens of each passage.
    index: Vec<HashSet<String>>,
    /// Inverse passage frequency of each token.
    idf: HashMap<String, f32>,
    /// Every drug the notes name.
    drugs: HashSet<String>,
    /// Content terms of each passage, abbreviations expanded.
    terms: Vec<Vec<String>>,
    /// Weight of a term that no passage has ([`ABSENT_WEIGHT`] of the rarest's).
    absent_weight: f32,
    /// [`SUPPORT_AT`].
    support_at: f32,
}

impl NoteChecker {
    /// Analyses the notes.
    pub fn new(notes: &[Note]) -> NoteChecker {
        let passages = passages(notes);
        let index: Vec<HashSet<String>> = passages
            .iter()
            .map(|p| tokens(&p.text).into_iter().collect())
            .collect();
        let mut df: HashMap<String, usize> = HashMap::new();
        for set in &index {
            for t in set {
                *df.entry(t.clone()).or_default() += 1;
            }
        }
        let n = passages.len().max(1) as f32;
        let idf = df
            .into_iter()
            .map(|(t, d)| (t, (1.0 + n / d as f32).ln()))
            .collect();
        let texts: Vec<&str> = passages.iter().map(|p| p.text.as_str()).collect();
        let drugs = notes.iter().flat_map(|n| drugs_in(&n.text)).collect();
        let abbr = abbreviations();
        let terms = passages
            .iter()
            .map(|p| {
                let mut t = terms(&p.text);
                let expanded: Vec<String> = t
                    .iter()
                    .filter_map(|w| abbr.get(w))
                    .flatten()
                    .cloned()
                    .collect();
                t.extend(expanded);
                t
            })
            .collect();
        NoteChecker {
            support_at: SUPPORT_AT,
            absent_weight: ABSENT_WEIGHT * (1.0 + passages.len().max(1) as f32).ln(),
            terms,
            ids: notes.iter().map(|n| n.id.clone()).collect(),
            analysed: Passages::new(&texts),
            passages,
            index,
            idf,
            drugs,
        }
    }

    fn source(&self, i: usize) -> SourceRef {
        let p = &self.passages[i];
        SourceRef {
            note_id: self.ids[p.note].clone(),
            start: p.start,
            end: p.end,
        }
    }

    /// The passages closest to `sentence`, best first (indices into the passages).
    fn candidates(&self, sentence: &str) -> Vec<usize> {
        let toks: HashSet<String> = tokens(sentence).into_iter().collect();
        let mut scored: Vec<(f32, usize)> = self
            .index
            .iter()
            .enumerate()
            .map(|(i, set)| {
                let s: f32 = toks
                    .iter()
                    .filter(|t| set.contains(*t))
                    .map(|t| self.idf.get(t).copied().unwrap_or(0.0))
                    .sum();
                (s, i)
            })
            .filter(|(s, _)| *s > 0.0)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.truncate(CANDIDATES);
        scored.into_iter().map(|(_, i)| i).collect()
    }

    /// The weighted share of `sentence`'s content terms found in the passages `cands`, and the
    /// passages that contributed.
    fn support(&self, sentence: &str, cands: &[usize]) -> (f32, Vec<usize>) {
        let abbr = abbreviations();
        let (mut found, mut total) = (0.0f32, 0.0f32);
        let mut used = vec![];
        for t in terms(sentence) {
            // A term no note has is what an invented fact is made of: it weighs the most.
            let w = self.idf.get(&t).copied().unwrap_or(self.absent_weight);
            total += w;
            let forms: Vec<&str> = std::iter::once(t.as_str())
                .chain(abbr.get(&t).into_iter().flatten().map(String::as_str))
                .collect();
            let hit = cands.iter().find(|&&i| {
                self.terms[i]
                    .iter()
                    .any(|p| forms.iter().any(|f| same_term(f, p)))
            });
            if let Some(&i) = hit {
                found += w;
                if !used.contains(&i) {
                    used.push(i);
                }
            }
        }
        if total == 0.0 {
            return (0.0, used);
        }
        (found / total, used)
    }

    /// For the evaluation only: another weight of absent terms and support threshold.
    #[doc(hidden)]
    pub fn tuned(mut self, absent: f32, support_at: f32) -> Self {
        self.absent_weight = absent * (1.0 + self.passages.len().max(1) as f32).ln();
        self.support_at = support_at;
        self
    }

    /// Checks one sentence (without citation markers).
    pub fn check_sentence(
        &self,
        sentence: &str,
        entailment: Option<&dyn Entailment>,
    ) -> (Status, Vec<SourceRef>, Vec<Reason>) {
        let cands = self.candidates(sentence);
        if cands.is_empty() {
            return (
                Status::Unsupported,
                vec![],
                vec![Reason {
                    code: "not_in_notes",
                    detail: "aucune note ne parle de ce que dit la phrase".into(),
                }],
            );
        }
        let cited = CitedSentence {
            text: sentence.to_string(),
            start: 0,
            end: sentence.len(),
            citations: {
                let mut c: Vec<usize> = cands.iter().map(|i| i + 1).collect();
                c.sort_unstable();
                c
            },
            invalid: vec![],
        };
        let check = self.analysed.check(&cited, entailment);
        let mut reasons = check.reasons;
        // The passage the claim check compared with, else the closest one.
        let best = check
            .best_passage
            .map(|n| n - 1)
            .filter(|i| cands.contains(i))
            .unwrap_or(cands[0]);
        // Drugs, compared exactly.
        let named = drugs_in(sentence);
        let unknown: Vec<&String> = named.iter().filter(|d| !self.drugs.contains(*d)).collect();
        if !unknown.is_empty() {
            let near = drugs_in(&self.passages[cands[0]].text);
            let other: Vec<&String> = near.iter().filter(|d| !named.contains(d)).collect();
            if !other.is_empty() {
                reasons.insert(
                    0,
                    Reason {
                        code: "drug_mismatch",
                        detail: format!(
                            "la phrase nomme {}, la note nomme {}",
                            unknown
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", "),
                            other
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    },
                );
                return (Status::Contradicted, vec![self.source(cands[0])], reasons);
            }
            reasons.insert(
                0,
                Reason {
                    code: "drug_not_in_notes",
                    detail: format!(
                        "aucune note ne nomme {}",
                        unknown
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                },
            );
            return (Status::Unsupported, vec![], reasons);
        }
        if reasons.iter().any(|r| r.code.ends_with("_mismatch")) {
            return (Status::Contradicted, vec![self.source(best)], reasons);
        }
        // A letter paraphrases: « a bénéficié de », « intraveineux » for « IV », « transfusés »
        // for « transfusion ». Support is the share of the sentence's content terms, weighted
        // by rarity, found in the closest passages (a term no note has weighs the most).
        let numbers_ok = !reasons.iter().any(|r| r.code == "number_not_found");
        let (support, used) = self.support(sentence, &cands);
        if numbers_ok && (check.verdict == Verdict::Supported || support >= self.support_at) {
            let mut sources = vec![self.source(best)];
            for &i in &used {
                if i != best {
                    sources.push(self.source(i));
                }
            }
            reasons.push(Reason {
                code: "support",
                detail: format!(
                    "{:.0} % du contenu de la phrase retrouvé dans les notes",
                    support * 100.0
                ),
            });
            return (Status::Supported, sources, reasons);
        }
        (Status::Unsupported, vec![], reasons)
    }
}

/// Removes the model's own citation markers (« [n1] », « [n1, n2] », « [1] »).
fn strip_markers(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('[') {
        let Some(j) = rest[i..].find(']') else { break };
        let inner = &rest[i + 1..i + j];
        let marker = !inner.is_empty()
            && inner.len() <= 40
            && inner
                .chars()
                .all(|c| c.is_alphanumeric() || " ,;._-".contains(c));
        out.push_str(&rest[..i]);
        if !marker {
            out.push_str(&rest[i..i + j + 1]);
        }
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
    let collapsed: Vec<&str> = out.split_whitespace().collect();
    collapsed.join(" ").replace(" .", ".").replace(" ,", ",")
}

/// Checks every sentence of `text` against `notes`; offsets of sentences are code points of
/// `text`. Lines and sentences are the units (a list item is one sentence).
pub fn check_text(text: &str, notes: &[Note]) -> Vec<CheckedSentence> {
    NoteChecker::new(notes).check_all(text, None)
}

impl NoteChecker {
    /// Checks every sentence of `text` (see [`check_text`]).
    pub fn check_all(
        &self,
        text: &str,
        entailment: Option<&dyn Entailment>,
    ) -> Vec<CheckedSentence> {
        let note = Note {
            id: "draft".into(),
            title: String::new(),
            date: None,
            text: text.to_string(),
        };
        passages(std::slice::from_ref(&note))
            .into_iter()
            .filter_map(|p| {
                let clean = strip_markers(&p.text);
                let content = clean.trim_start_matches(['-', '*', '•', ' ']).trim();
                if !content.chars().any(char::is_alphabetic) {
                    return None;
                }
                let (status, sources, reasons) = self.check_sentence(content, entailment);
                Some(CheckedSentence {
                    text: clean,
                    start: p.start,
                    end: p.end,
                    status,
                    sources,
                    reasons,
                })
            })
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(super) fn notes() -> Vec<Note> {
        vec![
            Note {
                id: "n1".into(),
                title: "Observation d'entrée".into(),
                date: Some("02/03/2024".into()),
                text: "Patiente de 78 ans admise pour décompensation cardiaque gauche. \
                       Pas de fièvre. Fracture du col du fémur droit opérée en 2019."
                    .into(),
            },
            Note {
                id: "n2".into(),
                title: "Ordonnance de sortie".into(),
                date: None,
                text: "- Furosémide 40 mg 1 cp le matin\n- Bisoprolol 2,5 mg 1 cp/j\n\
                       Ramipril arrêté pour insuffisance rénale aiguë (créatinine 182 µmol/L)."
                    .into(),
            },
        ]
    }

    fn status(s: &str) -> Status {
        NoteChecker::new(&notes()).check_sentence(s, None).0
    }

    #[test]
    fn supported_with_a_source_in_code_points() {
        let c = NoteChecker::new(&notes());
        let (st, src, _) = c.check_sentence("Le bisoprolol est prescrit à 2,5 mg par jour.", None);
        assert_eq!(st, Status::Supported);
        assert_eq!(src[0].note_id, "n2");
        let text: String = notes()[1]
            .text
            .chars()
            .skip(src[0].start)
            .take(src[0].end - src[0].start)
            .collect();
        assert!(text.contains("Bisoprolol 2,5 mg"), "{text}");
    }

    #[test]
    fn numbers_sides_negation_status_and_drugs_contradict() {
        assert_eq!(
            status("Le bisoprolol est prescrit à 5 mg par jour."),
            Status::Contradicted
        );
        assert_eq!(
            status("Antécédent de fracture du col du fémur gauche opérée en 2019."),
            Status::Contradicted
        );
        assert_eq!(
            status("La patiente était fébrile à l'entrée."),
            Status::Unsupported
        );
        assert_eq!(
            status("Le ramipril est poursuivi à la sortie."),
            Status::Contradicted
        );
        assert_eq!(
            status("Aténolol 2,5 mg 1 cp par jour."),
            Status::Contradicted
        );
        assert_eq!(
            status("Une coloscopie est prévue dans trois mois."),
            Status::Unsupported
        );
    }

    #[test]
    fn a_draft_is_cut_into_sentences_with_offsets() {
        let draft = "Motif : décompensation cardiaque gauche [n1].\n- Bisoprolol 2,5 mg/j\n- Aspirine 75 mg/j";
        let out = check_text(draft, &notes());
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].text, "Motif : décompensation cardiaque gauche.");
        let chars: Vec<char> = draft.chars().collect();
        let s: String = chars[out[1].start..out[1].end].iter().collect();
        assert_eq!(s, "- Bisoprolol 2,5 mg/j");
        assert_eq!(out[1].status, Status::Supported);
        assert_ne!(out[2].status, Status::Supported);
    }
}
