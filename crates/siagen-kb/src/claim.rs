//! Claim check: each sentence of an answer against the passages it cites.
//!
//! Why: a generative model writes fluent sentences whether or not its sources say them. A reader
//! cannot re-read every passage, so every sentence gets a verdict that says how far the passages
//! it cites back it up, with the reasons, and sentences the passages contradict are caught on the
//! signals a clinician would look at first: a changed number or unit, a flipped negation
//! (« ne … pas », « aucun », « jamais », « contre-indiqué » against « recommandé »), a changed
//! quantity (« tous » / « certains », « toujours » / « parfois ») or direction (« augmente » /
//! « diminue »). The check is deterministic and explainable: content-word coverage with French
//! normalisation (lower case, accents folded, elisions split, stop words dropped, a light
//! stemmer), number agreement with units converted (« 4 g » = « 4000 mg ») and French decimals
//! (« 2,5 »); an entailment model ([`Entailment`]) adds its score when one is configured.
//!
//! Sentences that make no claim (« Voici ce que disent les passages : », a question, a statement
//! that the passages do not say something) get [`Verdict::NotAClaim`]; a factual sentence without
//! a citation is [`Verdict::Unsupported`].

use crate::cite::CitedSentence;
use serde::Serialize;

/// A local model that scores how far `premise` entails `hypothesis` (an NLI model, say).
/// Implementations return a probability in [0, 1]; anything else is clamped, NaN is ignored.
pub trait Entailment: Send + Sync {
    /// Probability that `premise` entails `hypothesis`.
    fn score(&self, premise: &str, hypothesis: &str) -> f32;
}

/// How far the cited passages support a sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The cited passages say it.
    Supported,
    /// Part of it is in the cited passages, part is not.
    Partial,
    /// Not cited, not in the cited passages, or contradicted by them.
    Unsupported,
    /// The sentence asserts nothing to check (an introduction, a question, a statement that the
    /// passages do not cover something).
    NotAClaim,
}

impl Verdict {
    /// The identifier used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::Partial => "partial",
            Verdict::Unsupported => "unsupported",
            Verdict::NotAClaim => "not_a_claim",
        }
    }

    /// The French label shown to clinicians.
    pub fn label_fr(self) -> &'static str {
        match self {
            Verdict::Supported => "Étayée par les sources citées",
            Verdict::Partial => "Partiellement étayée",
            Verdict::Unsupported => "Non étayée",
            Verdict::NotAClaim => "Sans affirmation à vérifier",
        }
    }
}

/// Why a verdict was given: a stable `code` (English) and a French `detail` for the reader.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// `no_citation`, `invalid_citation`, `coverage`, `missing_words`, `number_found`,
    /// `number_not_found`, `number_mismatch`, `negation_mismatch`, `recommendation_mismatch`,
    /// `quantity_mismatch`, `direction_mismatch`, `comparison_mismatch`, `limit_mismatch`,
    /// `efficacy_mismatch`, `frequency_mismatch`,
    /// `with_without_mismatch`, `side_mismatch`, `status_mismatch`, `entailment`, `not_a_claim`.
    pub code: &'static str,
    /// Explanation in French.
    pub detail: String,
}

/// The outcome of checking one sentence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// The verdict.
    pub verdict: Verdict,
    /// Support score in [0, 1] (content coverage, combined with the entailment score when a
    /// model is configured; lowered by contradictions).
    pub score: f32,
    /// Reasons, most important first.
    pub reasons: Vec<Reason>,
    /// The entailment model's score, when one ran.
    pub entailment: Option<f32>,
    /// The cited passage whose sentence matches the claim best (1-based), when any.
    pub best_passage: Option<usize>,
}

/// Score at or above which a sentence is supported (with every number found, nothing
/// contradicted).
pub const SUPPORTED_AT: f32 = 0.7;
/// Score at or above which a sentence is partially supported.
pub const PARTIAL_AT: f32 = 0.4;

/// The numbered passages of one answer, analysed once.
pub struct Passages {
    items: Vec<PassageAnalysis>,
}

struct PassageAnalysis {
    text: String,
    all: Analysis,
    sentences: Vec<(String, Analysis)>,
}

impl Passages {
    /// Analyses `texts`; passage `n` (1-based, as cited) is `texts[n - 1]`.
    pub fn new<S: AsRef<str>>(texts: &[S]) -> Passages {
        let items = texts
            .iter()
            .map(|t| {
                let t = t.as_ref();
                let sentences = crate::cite::split_sentences(t)
                    .into_iter()
                    .map(|(a, b)| (t[a..b].to_string(), analyse(&t[a..b])))
                    .collect();
                PassageAnalysis {
                    text: t.to_string(),
                    all: analyse(t),
                    sentences,
                }
            })
            .collect();
        Passages { items }
    }

    /// Number of passages.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when there is no passage.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Checks one sentence against the passages it cites.
    pub fn check(&self, sentence: &CitedSentence, entailment: Option<&dyn Entailment>) -> Check {
        let claim = analyse(&sentence.text);
        let mut reasons = vec![];
        if let Some(why) = not_a_claim(&sentence.text, &claim) {
            return Check {
                verdict: Verdict::NotAClaim,
                score: 0.0,
                reasons: vec![Reason {
                    code: "not_a_claim",
                    detail: why.into(),
                }],
                entailment: None,
                best_passage: None,
            };
        }
        for n in &sentence.invalid {
            reasons.push(Reason {
                code: "invalid_citation",
                detail: format!("[{n}] ne correspond à aucun passage"),
            });
        }
        let cited: Vec<(usize, &PassageAnalysis)> = sentence
            .citations
            .iter()
            .filter_map(|&n| self.items.get(n.wrapping_sub(1)).map(|p| (n, p)))
            .collect();
        if cited.is_empty() {
            reasons.insert(
                0,
                Reason {
                    code: "no_citation",
                    detail: "phrase factuelle sans citation valide : rien ne l'étaie".into(),
                },
            );
            return Check {
                verdict: Verdict::Unsupported,
                score: 0.0,
                reasons,
                entailment: None,
                best_passage: None,
            };
        }

        // Content-word coverage against every cited passage together.
        let mut matched = 0usize;
        let mut missing = vec![];
        for w in &claim.words {
            if cited.iter().any(|(_, p)| p.all.has_word(w)) {
                matched += 1;
            } else {
                missing.push(w.clone());
            }
        }

        // The passage sentence closest to the claim: negation, quantities and numbers are
        // compared with it, not with unrelated sentences of a long passage.
        let mut best: Option<(usize, &str, &Analysis, usize)> = None;
        for (n, p) in &cited {
            for (text, a) in &p.sentences {
                let overlap = claim.words.iter().filter(|w| a.has_word(w)).count()
                    + claim
                        .nums
                        .iter()
                        .filter(|x| a.nums.iter().any(|y| x.same_dimension(y)))
                        .count();
                if best.is_none_or(|b| overlap > b.3) {
                    best = Some((*n, text, a, overlap));
                }
            }
        }

        // Numbers: each must be in a cited passage; one whose place holds another value of the
        // same kind is a contradiction.
        let mut contradictions = vec![];
        let mut nums_found = 0usize;
        let mut nums_missing = 0usize;
        for x in &claim.nums {
            if cited
                .iter()
                .any(|(_, p)| p.all.nums.iter().any(|y| x.agrees(y)))
            {
                nums_found += 1;
                reasons.push(Reason {
                    code: "number_found",
                    detail: format!("{} figure dans les passages cités", x.shown),
                });
                continue;
            }
            let other = best.and_then(|(n, _, a, _)| {
                a.nums
                    .iter()
                    .find(|y| x.same_dimension(y) && !x.agrees(y))
                    .map(|y| (n, y))
            });
            match other {
                Some((n, y)) => contradictions.push(Reason {
                    code: "number_mismatch",
                    detail: format!(
                        "la phrase dit {}, le passage [{n}] dit {}",
                        x.shown, y.shown
                    ),
                }),
                None => {
                    nums_missing += 1;
                    reasons.push(Reason {
                        code: "number_not_found",
                        detail: format!("{} ne figure pas dans les passages cités", x.shown),
                    });
                }
            }
        }

        if let Some((n, _, a, overlap)) = best {
            if overlap > 0 {
                contradictions.extend(compare_stance(&claim, a, n));
            }
        }

        let total = claim.words.len() + claim.nums.len();
        let lexical = if total == 0 {
            0.0
        } else {
            (matched + nums_found) as f32 / total as f32
        };
        reasons.push(Reason {
            code: "coverage",
            detail: format!(
                "{matched} mot(s) sur {} et {nums_found} nombre(s) sur {} retrouvés dans les passages cités",
                claim.words.len(),
                claim.nums.len()
            ),
        });
        if !missing.is_empty() && missing.len() < claim.words.len() + 1 {
            missing.truncate(8);
            reasons.push(Reason {
                code: "missing_words",
                detail: format!("absents des passages cités : {}", missing.join(", ")),
            });
        }

        let entail = entailment.and_then(|m| {
            cited
                .iter()
                .map(|(_, p)| m.score(&p.text, &sentence.text))
                .filter(|s| !s.is_nan())
                .map(|s| s.clamp(0.0, 1.0))
                .reduce(f32::max)
        });
        let mut score = match entail {
            Some(e) => {
                reasons.push(Reason {
                    code: "entailment",
                    detail: format!("score d'implication du modèle local : {e:.2}"),
                });
                0.5 * lexical + 0.5 * e
            }
            None => lexical,
        };
        let verdict = if !contradictions.is_empty() {
            score *= 0.25;
            Verdict::Unsupported
        } else if score >= SUPPORTED_AT && nums_missing == 0 {
            Verdict::Supported
        } else if score >= PARTIAL_AT {
            Verdict::Partial
        } else {
            Verdict::Unsupported
        };
        contradictions.extend(reasons);
        Check {
            verdict,
            score: (score * 1000.0).round() / 1000.0,
            reasons: contradictions,
            entailment: entail,
            best_passage: best.filter(|b| b.3 > 0).map(|b| b.0),
        }
    }
}

/// Checks every sentence of an answer against `passages` (numbered from 1).
pub fn check_answer<S: AsRef<str>>(
    sentences: &[CitedSentence],
    passages: &[S],
    entailment: Option<&dyn Entailment>,
) -> Vec<Check> {
    let p = Passages::new(passages);
    sentences.iter().map(|s| p.check(s, entailment)).collect()
}

// ---------------------------------------------------------------------------------------------
// Analysis of a text: content stems, numbers, negation, stance words.

#[derive(Debug, Default)]
struct Analysis {
    words: Vec<String>,
    nums: Vec<Num>,
    negated: bool,
    /// Content words (stems) within a few words after a negation: what is negated.
    neg_words: Vec<String>,
    /// Per stance class: Some(true) for its first side, Some(false) for its second, None when
    /// neither or both appear.
    stances: [Option<bool>; CLASSES.len()],
}

impl Analysis {
    fn has_word(&self, w: &str) -> bool {
        self.words.iter().any(|v| stems_match(v, w))
    }
}

/// Stance classes: (code, first side, second side), as folded stem prefixes.
type Class = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);
const CLASSES: [Class; 10] = [
    (
        "recommendation_mismatch",
        &[
            "recommand",
            "conseill",
            "preconis",
            "autoris",
            "indique",
            "indiquee",
            "indiques",
            "indiquees",
            "privilegi",
        ],
        &[
            "contreindiq",
            "deconseill",
            "interdi",
            "proscri",
            "evit",
            "deconseil",
        ],
    ),
    (
        "quantity_mismatch",
        &[
            "tous",
            "toutes",
            "toujours",
            "systematiqu",
            "chaque",
            "constamment",
            "invariablement",
        ],
        &[
            "certain",
            "parfois",
            "quelquefois",
            "rarement",
            "occasionnel",
            "plupart",
            "quelques",
        ],
    ),
    (
        "direction_mismatch",
        &[
            "augment",
            "hausse",
            "major",
            "accru",
            "accroi",
            "potentialis",
            "elevation",
        ],
        &[
            "diminu", "baiss", "redui", "reduct", "abaiss", "decroi", "attenu",
        ],
    ),
    (
        "comparison_mismatch",
        &["superieur", "audela"],
        &["inferieur", "endessous", "audessous"],
    ),
    (
        // « dose maximale » = « ne pas dépasser »; « peut dépasser » contradicts both.
        "limit_mismatch",
        &["maxim", "plafon"],
        &["depass", "exced"],
    ),
    ("efficacy_mismatch", &["efficac"], &["inefficac"]),
    (
        "frequency_mismatch",
        &["frequent", "courant", "commun"],
        &["rare", "exceptionnel"],
    ),
    ("with_without_mismatch", &["avec"], &["sans"]),
    // Laterality: « genou droit » against « genou gauche ».
    (
        "side_mismatch",
        &["droit", "dte", "dt"],
        &["gauche", "gche", "gch"],
    ),
    // A treatment's status: « poursuivi » against « arrêté ».
    (
        "status_mismatch",
        &["poursuiv", "maintenu", "continu", "reconduit", "inchange"],
        &["arret", "stopp", "suspendu", "interromp", "retire"],
    ),
];

/// Words after a negation that it bears on.
const NEGATION_SCOPE: usize = 4;

/// Stance words whose meaning a negation flips (« n'est pas recommandé » = « déconseillé »).
const NEGATABLE: [bool; CLASSES.len()] =
    [true, true, true, true, true, true, true, false, false, true];

fn class_side(word: &str, class: &Class) -> Option<bool> {
    let hit = |list: &[&str]| {
        list.iter().any(|p| {
            if p.len() <= 5 {
                word == *p || (word.starts_with(p) && word.len() <= p.len() + 3)
            } else {
                word.starts_with(p)
            }
        })
    };
    // Order matters: « inefficace » starts with neither side's prefix clash, but check the
    // second side first so that « contreindique » is not read as « indique ».
    if hit(class.2) {
        Some(false)
    } else if hit(class.1) {
        Some(true)
    } else {
        None
    }
}

fn compare_stance(claim: &Analysis, passage: &Analysis, n: usize) -> Vec<Reason> {
    let mut out = vec![];
    let mut compared_polarity = false;
    for (i, class) in CLASSES.iter().enumerate() {
        let (Some(c), Some(p)) = (claim.stances[i], passage.stances[i]) else {
            continue;
        };
        let (ec, ep) = if NEGATABLE[i] {
            compared_polarity = true;
            (c ^ claim.negated, p ^ passage.negated)
        } else {
            (c, p)
        };
        if ec != ep {
            out.push(Reason {
                code: class.0,
                detail: format!(
                    "la phrase dit « {} », le passage [{n}] dit « {} »",
                    side_word(class, ec),
                    side_word(class, ep)
                ),
            });
        }
    }
    // A negation compares only when it bears on what the other side says (« Pas de fièvre. »
    // says nothing of « BNP à 1850 » in the same line).
    let bears = |neg: &Analysis, other: &Analysis| neg.neg_words.iter().any(|w| other.has_word(w));
    let relevant =
        (claim.negated && bears(claim, passage)) || (passage.negated && bears(passage, claim));
    if !compared_polarity && claim.negated != passage.negated && relevant {
        out.push(Reason {
            code: "negation_mismatch",
            detail: format!(
                "la phrase est {} alors que le passage [{n}] est {}",
                if claim.negated {
                    "négative"
                } else {
                    "affirmative"
                },
                if passage.negated {
                    "négatif"
                } else {
                    "affirmatif"
                }
            ),
        });
    }
    out
}

fn side_word(class: &Class, first: bool) -> &'static str {
    match (class.0, first) {
        ("recommendation_mismatch", true) => "recommandé",
        ("recommendation_mismatch", false) => "déconseillé ou contre-indiqué",
        ("quantity_mismatch", true) => "tous / toujours",
        ("quantity_mismatch", false) => "certains / parfois",
        ("direction_mismatch", true) => "augmente",
        ("direction_mismatch", false) => "diminue",
        ("comparison_mismatch", true) => "supérieur",
        ("comparison_mismatch", false) => "inférieur",
        ("limit_mismatch", true) => "au plus (maximum)",
        ("limit_mismatch", false) => "au-delà (dépassement)",
        ("efficacy_mismatch", true) => "efficace",
        ("efficacy_mismatch", false) => "inefficace",
        ("frequency_mismatch", true) => "fréquent",
        ("frequency_mismatch", false) => "rare",
        ("side_mismatch", true) => "droite",
        ("side_mismatch", false) => "gauche",
        ("status_mismatch", true) => "poursuivi",
        ("status_mismatch", false) => "arrêté",
        (_, true) => "avec",
        (_, false) => "sans",
    }
}

/// Why a sentence makes no claim, if it makes none.
fn not_a_claim(text: &str, a: &Analysis) -> Option<&'static str> {
    let t = text.trim_end();
    if t.ends_with('?') {
        return Some("question : rien à vérifier");
    }
    // « Les passages ne précisent pas … », « aucune source ne mentionne … »: the negation bears
    // on the passages' saying, not on a fact (« les passages indiquent que X n'est pas Y » is a
    // claim, checked as such).
    let words: Vec<String> = tokenize(t)
        .into_iter()
        .filter_map(|tok| match tok {
            Tok::Word(w) => Some(w),
            _ => None,
        })
        .collect();
    const SUBJECTS: &[&str] = &[
        "passage",
        "corpus",
        "source",
        "document",
        "extrait",
        "reference",
    ];
    const VERBS: &[&str] = &[
        "precis", "mentionn", "indiqu", "dit", "disent", "couvr", "abord", "trait", "evoqu",
        "repond", "renseign", "fourni", "contien", "permet", "donne", "parle", "detaill", "cit",
    ];
    let is = |w: &str, list: &[&str]| list.iter().any(|p| w.starts_with(p));
    let meta_subject = words.iter().any(|w| is(w, SUBJECTS));
    let negated_verb = words.iter().enumerate().any(|(i, w)| {
        (w == "ne" || w == "n")
            && words[i + 1..]
                .iter()
                .filter(|w| {
                    !matches!(
                        w.as_str(),
                        "le" | "la" | "les" | "l" | "y" | "en" | "se" | "s" | "leur" | "lui"
                    )
                })
                .take(1)
                .any(|w| is(w, VERBS))
    });
    let no_source = words
        .windows(2)
        .any(|p| matches!(p[0].as_str(), "aucun" | "aucune") && is(&p[1], SUBJECTS));
    if meta_subject && (negated_verb || no_source) {
        return Some("la phrase dit que les passages ne couvrent pas ce point");
    }
    if a.words.is_empty() && a.nums.is_empty() {
        return Some("phrase d'introduction ou de liaison sans contenu factuel");
    }
    if t.ends_with(':') && a.nums.is_empty() && a.words.len() <= 3 {
        return Some("introduction d'une liste");
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Normalisation.

/// Lower case with French accents folded and typographic apostrophes made plain.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        for l in c.to_lowercase() {
            match l {
                'à' | 'â' | 'ä' | 'á' | 'ã' => out.push('a'),
                'ç' => out.push('c'),
                'é' | 'è' | 'ê' | 'ë' => out.push('e'),
                'î' | 'ï' | 'í' => out.push('i'),
                'ô' | 'ö' | 'ó' => out.push('o'),
                'ù' | 'û' | 'ü' | 'ú' => out.push('u'),
                'ÿ' => out.push('y'),
                'œ' => out.push_str("oe"),
                'æ' => out.push_str("ae"),
                '’' | '‘' | 'ʼ' => out.push('\''),
                'μ' => out.push('µ'),
                '\u{a0}' | '\u{202f}' => out.push(' '),
                l => out.push(l),
            }
        }
    }
    out
}

/// French function words (folded), dropped from coverage.
const STOP: &[&str] = &[
    "a",
    "au",
    "aux",
    "avoir",
    "ainsi",
    "alors",
    "apres",
    "aussi",
    "autre",
    "autres",
    "avant",
    "c",
    "ca",
    "car",
    "ce",
    "ceci",
    "cela",
    "celle",
    "celui",
    "ces",
    "cet",
    "cette",
    "ceux",
    "chez",
    "comme",
    "d",
    "dans",
    "de",
    "des",
    "doit",
    "doivent",
    "donc",
    "dont",
    "du",
    "elle",
    "elles",
    "en",
    "entre",
    "est",
    "et",
    "etre",
    "ete",
    "etait",
    "etaient",
    "eux",
    "fait",
    "faut",
    "il",
    "ils",
    "j",
    "je",
    "l",
    "la",
    "le",
    "les",
    "leur",
    "leurs",
    "lors",
    "lorsqu",
    "lorsque",
    "lui",
    "m",
    "ma",
    "mais",
    "me",
    "meme",
    "mes",
    "mon",
    "n",
    "ne",
    "nous",
    "on",
    "ont",
    "ou",
    "par",
    "pas",
    "peut",
    "peuvent",
    "plus",
    "pour",
    "pourra",
    "qu",
    "que",
    "quel",
    "quelle",
    "qui",
    "s",
    "sa",
    "se",
    "selon",
    "ses",
    "si",
    "son",
    "sont",
    "sera",
    "seront",
    "soit",
    "sous",
    "sur",
    "t",
    "ta",
    "te",
    "tes",
    "ton",
    "tres",
    "tu",
    "un",
    "une",
    "vers",
    "vous",
    "y",
    "egalement",
    "notamment",
    "cas",
    "jusqu",
    "puisqu",
    "quand",
    "dit",
    "disent",
    "voici",
    "suivant",
    "suivante",
    "suivants",
    "suivantes",
    "ici",
    "cela",
    "afin",
    "ainsi",
    "toutefois",
    "cependant",
    "neanmoins",
    "puis",
    "encore",
    "deja",
    "tout",
    "tous",
    "toute",
    "toutes",
    "non",
    "ni",
    "aucun",
    "aucune",
    "jamais",
    "rien",
    "point",
    "guere",
    "avec",
    "sans",
    "bien",
    "chaque",
    "certain",
    "certains",
    "certaine",
    "certaines",
    "parfois",
    "toujours",
    "souvent",
    "ete",
    "etant",
    "fois",
    "lequel",
    "laquelle",
    "lesquels",
    "lesquelles",
    "ceux",
    "celles",
];

/// Words about the corpus itself (« selon les passages »), not about the subject.
const META: &[&str] = &[
    "passage",
    "passages",
    "corpus",
    "source",
    "sources",
    "document",
    "documents",
    "extrait",
    "extraits",
    "reference",
    "references",
    "question",
    "reponse",
    "information",
    "informations",
    "indique",
    "indiquent",
    "precise",
    "precisent",
    "mentionne",
    "mentionnent",
    "cite",
    "citent",
    "fourni",
    "fournis",
];

const NUMBER_WORDS: &[(&str, f64)] = &[
    ("deux", 2.0),
    ("trois", 3.0),
    ("quatre", 4.0),
    ("cinq", 5.0),
    ("six", 6.0),
    ("sept", 7.0),
    ("huit", 8.0),
    ("neuf", 9.0),
    ("dix", 10.0),
    ("onze", 11.0),
    ("douze", 12.0),
    ("quinze", 15.0),
    ("vingt", 20.0),
    ("trente", 30.0),
    ("cent", 100.0),
];

/// A number with its unit converted to a base (mass in mg, volume in ml, time in hours).
#[derive(Debug, Clone, PartialEq)]
struct Num {
    value: f64,
    /// Base unit (`mg`, `ml`, `h`, `%`, `ui`, `mmol`, `fois`…), when one follows.
    unit: Option<&'static str>,
    /// Denominator (`j`, `h`, `kg`, `prise`, `sem`), when « /j » or « par jour » follows.
    per: Option<&'static str>,
    /// As written (for the reasons).
    shown: String,
}

impl Num {
    fn agrees(&self, other: &Num) -> bool {
        let close = (self.value - other.value).abs() <= 1e-9 * self.value.abs().max(1.0);
        let unit_ok = match (self.unit, other.unit) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        let per_ok = match (self.per, other.per) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        close && unit_ok && per_ok
    }

    fn same_dimension(&self, other: &Num) -> bool {
        match (self.unit, other.unit) {
            (Some(a), Some(b)) => a == b,
            (None, None) => true,
            _ => false,
        }
    }
}

/// (written unit, base unit, factor to base).
const UNITS: &[(&str, &str, f64)] = &[
    ("mg", "mg", 1.0),
    ("milligramme", "mg", 1.0),
    ("milligrammes", "mg", 1.0),
    ("g", "mg", 1000.0),
    ("gramme", "mg", 1000.0),
    ("grammes", "mg", 1000.0),
    ("kg", "mg", 1e6),
    ("µg", "mg", 1e-3),
    ("ug", "mg", 1e-3),
    ("mcg", "mg", 1e-3),
    ("microgramme", "mg", 1e-3),
    ("microgrammes", "mg", 1e-3),
    ("ng", "mg", 1e-6),
    ("ml", "ml", 1.0),
    ("millilitre", "ml", 1.0),
    ("millilitres", "ml", 1.0),
    ("cl", "ml", 10.0),
    ("dl", "ml", 100.0),
    ("l", "ml", 1000.0),
    ("litre", "ml", 1000.0),
    ("litres", "ml", 1000.0),
    ("h", "h", 1.0),
    ("heure", "h", 1.0),
    ("heures", "h", 1.0),
    ("min", "h", 1.0 / 60.0),
    ("minute", "h", 1.0 / 60.0),
    ("minutes", "h", 1.0 / 60.0),
    ("j", "h", 24.0),
    ("jour", "h", 24.0),
    ("jours", "h", 24.0),
    ("sem", "h", 168.0),
    ("semaine", "h", 168.0),
    ("semaines", "h", 168.0),
    ("mois", "h", 720.0),
    ("an", "h", 8760.0),
    ("ans", "h", 8760.0),
    ("annee", "h", 8760.0),
    ("annees", "h", 8760.0),
    ("%", "%", 1.0),
    ("pourcent", "%", 1.0),
    ("ui", "ui", 1.0),
    ("mmol", "mmol", 1.0),
    ("mmhg", "mmhg", 1.0),
    ("fois", "fois", 1.0),
    ("prise", "prise", 1.0),
    ("prises", "prise", 1.0),
    ("comprime", "cp", 1.0),
    ("comprimes", "cp", 1.0),
    ("cp", "cp", 1.0),
    ("gelule", "cp", 1.0),
    ("gelules", "cp", 1.0),
    ("goutte", "goutte", 1.0),
    ("gouttes", "goutte", 1.0),
    ("patient", "patient", 1.0),
    ("patients", "patient", 1.0),
];

const PER: &[(&str, &str)] = &[
    ("j", "j"),
    ("jour", "j"),
    ("h", "h"),
    ("heure", "h"),
    ("kg", "kg"),
    ("prise", "prise"),
    ("sem", "sem"),
    ("semaine", "sem"),
    ("m2", "m2"),
    ("ml", "ml"),
    ("l", "l"),
    ("min", "min"),
];

#[derive(Debug)]
enum Tok {
    Word(String),
    Num(f64, String),
    Slash,
}

fn tokenize(text: &str) -> Vec<Tok> {
    let f = fold(text)
        .replace("contre-indiq", "contreindiq")
        .replace("contre indiq", "contreindiq")
        .replace("au-dela", "audela")
        .replace("en dessous", "endessous")
        .replace("en-dessous", "endessous")
        .replace("au-dessous", "audessous")
        .replace("pour cent", "pourcent");
    let chars: Vec<char> = f.chars().collect();
    let mut out = vec![];
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            let mut s = String::new();
            let mut j = i;
            loop {
                while j < chars.len() && chars[j].is_ascii_digit() {
                    s.push(chars[j]);
                    j += 1;
                }
                // French thousands: "1 000" (a group of exactly three digits after a space).
                let group = chars.get(j + 1..j + 4);
                if chars.get(j) == Some(&' ')
                    && group.is_some_and(|g| g.iter().all(char::is_ascii_digit))
                    && chars.get(j + 4).is_none_or(|c| !c.is_ascii_digit())
                {
                    j += 1;
                    continue;
                }
                break;
            }
            if j + 1 < chars.len()
                && (chars[j] == ',' || chars[j] == '.')
                && chars[j + 1].is_ascii_digit()
            {
                s.push('.');
                j += 1;
                while j < chars.len() && chars[j].is_ascii_digit() {
                    s.push(chars[j]);
                    j += 1;
                }
            }
            let shown: String = chars[i..j].iter().collect();
            if let Ok(v) = s.parse::<f64>() {
                out.push(Tok::Num(v, shown));
            }
            i = j;
        } else if c.is_alphabetic() || c == 'µ' {
            let mut j = i;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == 'µ') {
                j += 1;
            }
            out.push(Tok::Word(chars[i..j].iter().collect()));
            i = j;
        } else {
            match c {
                '%' => out.push(Tok::Word("%".into())),
                '/' => out.push(Tok::Slash),
                _ => {}
            }
            i += 1;
        }
    }
    out
}

fn analyse(text: &str) -> Analysis {
    let toks = tokenize(text);
    let mut a = Analysis::default();
    let mut negations = 0usize;
    let mut open_ne = false;
    // Words left in the scope of the last negation seen.
    let mut scope = 0usize;
    let mut i = 0;
    let mut stance_hits: Vec<(Option<bool>, Option<bool>)> = vec![(None, None); CLASSES.len()];
    while i < toks.len() {
        match &toks[i] {
            Tok::Num(v, shown) => {
                let (n, used) = read_unit(*v, shown, &toks[i + 1..]);
                a.nums.push(n);
                i += 1 + used;
                continue;
            }
            Tok::Slash => {}
            Tok::Word(w) => {
                if let Some((_, v)) = NUMBER_WORDS.iter().find(|(n, _)| n == w) {
                    let (n, used) = read_unit(*v, w, &toks[i + 1..]);
                    if n.unit.is_some() {
                        a.nums.push(n);
                        i += 1 + used;
                        continue;
                    }
                }
                let before = negations;
                match w.as_str() {
                    "ne" | "n" => {
                        open_ne = true;
                        negations += 1;
                    }
                    "pas" | "jamais" | "plus" | "rien" | "point" | "guere" | "aucun" | "aucune"
                    | "nul" | "nulle"
                        if open_ne =>
                    {
                        open_ne = false;
                    }
                    "jamais" | "aucun" | "aucune" | "non" | "nul" | "nulle" => negations += 1,
                    // Telegraphic clinical French: « Pas de fièvre. », « Absence d'adénopathie. »
                    "pas" | "absence" | "absent" | "absente" | "absents" | "absentes" => {
                        negations += 1
                    }
                    _ => {}
                }
                for (k, class) in CLASSES.iter().enumerate() {
                    match class_side(w, class) {
                        Some(true) => stance_hits[k].0 = Some(true),
                        Some(false) => stance_hits[k].1 = Some(false),
                        None => {}
                    }
                }
                if w.chars().count() >= 2
                    && !STOP.contains(&w.as_str())
                    && !META.contains(&w.as_str())
                    && !w.chars().all(|c| c.is_ascii_digit())
                {
                    let s = stem(w);
                    if scope > 0 && !a.neg_words.contains(&s) {
                        a.neg_words.push(s.clone());
                    }
                    if !a.words.contains(&s) {
                        a.words.push(s);
                    }
                }
                if negations > before || (w == "pas" && scope > 0) {
                    scope = NEGATION_SCOPE;
                } else {
                    scope = scope.saturating_sub(1);
                }
            }
        }
        i += 1;
    }
    a.negated = negations % 2 == 1;
    for (k, (first, second)) in stance_hits.into_iter().enumerate() {
        a.stances[k] = match (first, second) {
            (Some(_), None) => Some(true),
            (None, Some(_)) => Some(false),
            _ => None,
        };
    }
    a
}

/// Reads a unit (and « /j », « par jour ») after a number; returns the number and the tokens used.
fn read_unit(value: f64, shown: &str, rest: &[Tok]) -> (Num, usize) {
    let mut n = Num {
        value,
        unit: None,
        per: None,
        shown: shown.to_string(),
    };
    let mut used = 0;
    if let Some(Tok::Word(u)) = rest.first() {
        if let Some((_, base, factor)) = UNITS.iter().find(|(w, _, _)| w == u) {
            n.value = value * factor;
            n.unit = Some(base);
            n.shown = format!("{shown} {u}");
            used = 1;
            let per = match (rest.get(1), rest.get(2), rest.get(3)) {
                (Some(Tok::Slash), Some(Tok::Word(d)), _) => Some((d.as_str(), 3)),
                // « par 24 h »: the day, written as hours.
                (Some(Tok::Word(p)), Some(Tok::Num(_, d)), Some(Tok::Word(h)))
                    if p == "par" && d == "24" && h == "h" =>
                {
                    Some(("j", 4))
                }
                (Some(Tok::Word(p)), Some(Tok::Word(d)), _) if p == "par" => Some((d.as_str(), 3)),
                _ => None,
            };
            if let Some((d, len)) = per {
                if let Some((_, p)) = PER.iter().find(|(w, _)| *w == d) {
                    n.per = Some(p);
                    n.shown = format!("{} /{p}", n.shown);
                    used = len;
                }
            }
        }
    }
    (n, used)
}

/// A light French stemmer: plural, then one derivational or inflectional suffix, keeping at
/// least four letters. Enough to match « recommandé » / « recommandation », « rénale » /
/// « rénaux »; not a linguistic analysis.
fn stem(word: &str) -> String {
    let mut w = word.to_string();
    if w.chars().count() > 4 && (w.ends_with('s') || w.ends_with('x')) {
        w.pop();
    }
    const SUFFIXES: &[&str] = &[
        "issement", "ements", "ement", "ations", "ation", "atrice", "ateur", "ences", "ence",
        "ances", "ance", "iques", "ique", "ismes", "isme", "istes", "iste", "ables", "able",
        "ibles", "ible", "euses", "euse", "eux", "ives", "ive", "ifs", "if", "ees", "ee", "es",
        "au", "al", "ale", "er", "ez", "e",
    ];
    for s in SUFFIXES {
        if w.ends_with(s) && w.chars().count() >= s.chars().count() + 4 {
            w.truncate(w.len() - s.len());
            break;
        }
    }
    w
}

fn stems_match(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short.chars().count() >= 5 && long.starts_with(short)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cite::parse_answer;

    const P1: &str = "Paracétamol chez l'adulte. La dose maximale est de 4 g par jour, \
                      en respectant un intervalle de 4 heures entre deux prises. Chez \
                      l'insuffisant hépatique, la dose doit être réduite.";
    const P2: &str = "La metformine est contre-indiquée en cas d'insuffisance rénale sévère \
                      (DFG inférieur à 30 ml/min). Tous les patients traités par AVK doivent \
                      avoir un contrôle régulier de l'INR. Le millepertuis diminue l'effet des \
                      anticoagulants oraux.";

    fn check1(answer: &str) -> Check {
        let s = parse_answer(answer, 2);
        assert_eq!(s.len(), 1, "{answer}");
        check_answer(&s, &[P1, P2], None).remove(0)
    }

    fn codes(c: &Check) -> Vec<&'static str> {
        c.reasons.iter().map(|r| r.code).collect()
    }

    #[test]
    fn supported_sentence_with_unit_conversion() {
        let c = check1("La dose maximale de paracétamol est de 4 g par jour [1].");
        assert_eq!(c.verdict, Verdict::Supported, "{c:?}");
        assert!(c.score >= SUPPORTED_AT);
        assert!(codes(&c).contains(&"number_found"));
        let c = check1("La dose maximale est de 4000 mg/j [1].");
        assert_eq!(c.verdict, Verdict::Supported, "{c:?}");
    }

    #[test]
    fn changed_number_is_unsupported() {
        let c = check1("La dose maximale de paracétamol est de 6 g par jour [1].");
        assert_eq!(c.verdict, Verdict::Unsupported, "{c:?}");
        assert_eq!(c.reasons[0].code, "number_mismatch");
        assert!(c.reasons[0].detail.contains("6 g"), "{:?}", c.reasons[0]);
        assert!(c.reasons[0].detail.contains("4 g"), "{:?}", c.reasons[0]);
    }

    #[test]
    fn french_decimals_agree() {
        let s = parse_answer("La posologie est de 2,5 mg par jour [1].", 1);
        let ok = check_answer(&s, &["La posologie usuelle est de 2.5 mg/j."], None);
        assert_eq!(ok[0].verdict, Verdict::Supported, "{:?}", ok[0]);
        let bad = check_answer(&s, &["La posologie usuelle est de 25 mg/j."], None);
        assert_eq!(bad[0].verdict, Verdict::Unsupported, "{:?}", bad[0]);
    }

    #[test]
    fn flipped_negation_is_unsupported() {
        let c = check1(
            "La metformine n'est pas contre-indiquée en cas d'insuffisance rénale sévère [2].",
        );
        assert_eq!(c.verdict, Verdict::Unsupported, "{c:?}");
        assert_eq!(c.reasons[0].code, "recommendation_mismatch");
        let c = check1("La metformine est recommandée en cas d'insuffisance rénale sévère [2].");
        assert_eq!(c.verdict, Verdict::Unsupported, "{c:?}");
        // The same meaning in other words agrees: "n'est pas recommandée" = "contre-indiquée".
        let c =
            check1("La metformine n'est pas recommandée en cas d'insuffisance rénale sévère [2].");
        assert_ne!(c.verdict, Verdict::Unsupported, "{c:?}");
        assert!(!codes(&c).contains(&"recommendation_mismatch"));
    }

    #[test]
    fn plain_negation_flip() {
        let s = parse_answer(
            "Le contrôle de l'INR n'est jamais nécessaire sous AVK [1].",
            1,
        );
        let c = check_answer(&s, &["Le contrôle de l'INR est nécessaire sous AVK."], None);
        assert_eq!(c[0].verdict, Verdict::Unsupported, "{:?}", c[0]);
        assert_eq!(c[0].reasons[0].code, "negation_mismatch");
        let s = parse_answer("Le contrôle de l'INR est nécessaire sous AVK [1].", 1);
        let c = check_answer(&s, &["Le contrôle de l'INR est nécessaire sous AVK."], None);
        assert_eq!(c[0].verdict, Verdict::Supported, "{:?}", c[0]);
    }

    #[test]
    fn changed_quantity_and_direction() {
        let c = check1(
            "Certains patients traités par AVK doivent avoir un contrôle régulier de l'INR [2].",
        );
        assert_eq!(c.verdict, Verdict::Unsupported, "{c:?}");
        assert_eq!(c.reasons[0].code, "quantity_mismatch");
        let c = check1("Le millepertuis augmente l'effet des anticoagulants oraux [2].");
        assert_eq!(c.verdict, Verdict::Unsupported, "{c:?}");
        assert_eq!(c.reasons[0].code, "direction_mismatch");
        let c = check1("Le millepertuis diminue l'effet des anticoagulants oraux [2].");
        assert_eq!(c.verdict, Verdict::Supported, "{c:?}");
    }

    #[test]
    fn maximum_and_not_exceeding_agree() {
        let passages = ["La dose ne doit pas dépasser 4 g par jour."];
        for (claim, ok) in [
            ("La dose maximale est de 4 g par jour [1].", true),
            ("La dose ne doit pas dépasser 4 g par jour [1].", true),
            ("La dose peut dépasser 4 g par jour [1].", false),
        ] {
            let s = parse_answer(claim, 1);
            let c = check_answer(&s, &passages, None).remove(0);
            assert_eq!(c.verdict != Verdict::Unsupported, ok, "{claim}: {c:?}");
        }
    }

    #[test]
    fn uncited_factual_sentence_is_unsupported() {
        let c = check1("La dose maximale de paracétamol est de 4 g par jour.");
        assert_eq!(c.verdict, Verdict::Unsupported);
        assert_eq!(c.reasons[0].code, "no_citation");
        let c = check1("La dose maximale est de 4 g par jour [5].");
        assert_eq!(c.verdict, Verdict::Unsupported);
        assert!(codes(&c).contains(&"invalid_citation"));
    }

    #[test]
    fn partial_when_part_is_missing() {
        let c = check1(
            "La dose maximale de paracétamol est de 4 g par jour, sauf chez la femme enceinte \
             où une surveillance hépatique hebdomadaire est imposée [1].",
        );
        assert_eq!(c.verdict, Verdict::Partial, "{c:?}");
        assert!(codes(&c).contains(&"missing_words"));
    }

    #[test]
    fn citing_the_wrong_passage_is_unsupported() {
        let c =
            check1("La metformine est contre-indiquée en cas d'insuffisance rénale sévère [1].");
        assert_eq!(c.verdict, Verdict::Unsupported, "{c:?}");
    }

    #[test]
    fn sentences_without_claims() {
        for s in [
            "Voici ce que disent les passages :",
            "Les passages fournis ne précisent pas la durée du traitement.",
            "Quelle est la dose chez l'enfant ?",
            "Aucun passage ne mentionne la grossesse.",
            "Le corpus n'aborde pas l'insuffisance rénale.",
        ] {
            let c = check1(s);
            assert_eq!(c.verdict, Verdict::NotAClaim, "{s}: {c:?}");
        }
        // A negated fact attributed to the passages is a claim, checked as one.
        let c =
            check1("Les passages indiquent que la dose maximale n'est pas de 4 g par jour [1].");
        assert_eq!(c.verdict, Verdict::Unsupported, "{c:?}");
    }

    struct Fixed(f32);
    impl Entailment for Fixed {
        fn score(&self, _: &str, _: &str) -> f32 {
            self.0
        }
    }

    #[test]
    fn entailment_model_moves_the_score() {
        let s = parse_answer(
            "La dose maximale de paracétamol est de 4 g par jour [1].",
            2,
        );
        let high = check_answer(&s, &[P1, P2], Some(&Fixed(0.95)));
        assert_eq!(high[0].verdict, Verdict::Supported);
        assert_eq!(high[0].entailment, Some(0.95));
        let low = check_answer(&s, &[P1, P2], Some(&Fixed(0.0)));
        assert!(low[0].score < high[0].score);
        assert_ne!(low[0].verdict, Verdict::Supported, "{:?}", low[0]);
        let nan = check_answer(&s, &[P1, P2], Some(&Fixed(f32::NAN)));
        assert_eq!(nan[0].entailment, None);
    }

    #[test]
    fn stemmer_and_folding() {
        assert_eq!(fold("Contre-Indiqué À l’ÉTÉ"), "contre-indique a l'ete");
        assert!(stems_match(&stem("recommandé"), &stem("recommandation")));
        assert!(stems_match(&stem("rénale"), &stem("rénal")));
        let a = analyse("La dose est de 1 000 mg, soit 1 g.");
        assert_eq!(a.nums.len(), 2);
        assert!(a.nums[0].agrees(&a.nums[1]));
        let a = analyse("4 g par 24 h, 4000 mg/j, 4 g/h");
        assert_eq!(a.nums.len(), 3, "{:?}", a.nums);
        assert!(a.nums[0].agrees(&a.nums[1]));
        assert!(!a.nums[1].agrees(&a.nums[2]));
    }
}
