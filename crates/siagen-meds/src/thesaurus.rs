//! Loading a thesaurus edition and indexing it for constant-time pair look-ups.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::check::LevelDetail;
use crate::normalize::{fold, words};
use crate::MedsError;

macro_rules! data_file {
    ($rel:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/", $rel))
    };
}

/// Editions embedded in the binary, oldest first, so that a fresh install answers with no setup.
const BUILTIN: &[(&str, &str, &str)] = &[
    (
        "2019-09",
        data_file!("ansm-thesaurus/thesaurus-2019-09.json"),
        data_file!("ansm-thesaurus/substances-2019-09.json"),
    ),
    (
        "2020-01",
        data_file!("ansm-thesaurus/thesaurus-2020-01.json"),
        data_file!("ansm-thesaurus/substances-2020-01.json"),
    ),
];

const BUILTIN_DRUGS: &str = data_file!("edsnlp/drugs.json");

/// Editions embedded in the binary, oldest first; the last one is the default.
pub fn builtin_editions() -> Vec<&'static str> {
    BUILTIN.iter().map(|(e, _, _)| *e).collect()
}

/// Severity levels of the thesaurus, most severe first (the derived order sorts findings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    #[serde(rename = "CONTRE-INDICATION")]
    ContreIndication,
    #[serde(rename = "Association DECONSEILLEE")]
    AssociationDeconseillee,
    #[serde(rename = "Précaution d'emploi")]
    PrecautionEmploi,
    #[serde(rename = "A prendre en compte")]
    APrendreEnCompte,
}

impl Severity {
    /// The label as the thesaurus writes it.
    pub fn label(self) -> &'static str {
        match self {
            Severity::ContreIndication => "CONTRE-INDICATION",
            Severity::AssociationDeconseillee => "Association DECONSEILLEE",
            Severity::PrecautionEmploi => "Précaution d'emploi",
            Severity::APrendreEnCompte => "A prendre en compte",
        }
    }

    /// Reads a level as written in the thesaurus; a few entries spell "A prendre en compte" as
    /// "Il convient de prendre en compte", which is the same level.
    pub fn parse(label: &str) -> Option<Severity> {
        let f = fold(label);
        if f.contains("contre indication") {
            Some(Severity::ContreIndication)
        } else if f.contains("deconseill") {
            Some(Severity::AssociationDeconseillee)
        } else if f.contains("precaution") {
            Some(Severity::PrecautionEmploi)
        } else if f.contains("prendre en compte") {
            Some(Severity::APrendreEnCompte)
        } else {
            None
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[derive(Deserialize)]
struct RawLevel {
    level: String,
    #[serde(default)]
    info: String,
}

#[derive(Deserialize)]
struct RawEntry {
    main_drug: String,
    plus_drug: String,
    #[serde(default)]
    between_main_and_plus_drug: String,
    severity_levels: Vec<RawLevel>,
    #[serde(default)]
    interaction_mechanism: String,
}

#[derive(Deserialize)]
struct RawSubstance {
    substance: String,
    #[serde(default)]
    drug_classes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TermKind {
    Substance,
    Class,
    /// Named by an entry but absent from the substance index (e.g. "ALCOOL (BOISSON OU
    /// EXCIPIENT)", "PAMPLEMOUSSE (JUS ET FRUIT)"): it behaves as a substance with no class.
    Other,
}

#[derive(Debug)]
pub(crate) struct Term {
    /// Name as the thesaurus writes it (substance index spelling for substances).
    pub name: Arc<str>,
    pub kind: TermKind,
    /// Terms a mention of this term matches in entries: itself and, for a substance, the classes
    /// it belongs to once class exceptions are applied.
    pub matches: Vec<u32>,
}

/// One level of an entry with the condition text that goes with it.
#[derive(Debug, Clone)]
pub(crate) struct Level {
    pub severity: Severity,
    pub label: String,
    pub condition: String,
}

#[derive(Debug)]
pub(crate) struct Entry {
    pub main: u32,
    pub plus: u32,
    pub main_name: Arc<str>,
    pub plus_name: Arc<str>,
    pub see_also: Arc<str>,
    pub levels: Arc<[Severity]>,
    pub details: Arc<[LevelDetail]>,
    pub top: Severity,
    pub mechanism: Arc<str>,
    pub conduct: Arc<str>,
}

/// What a phrase of a prescription line stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// A thesaurus substance, class or other named term.
    Term(u32),
    /// An alternative spelling mapping to one or more substances (salt-free names, "-ate" forms).
    Alias(u32),
    /// A product of the ATC dictionary: a brand name or an INN.
    Product(u32),
}

#[derive(Debug)]
pub(crate) struct Product {
    /// "NAME (ATC code, ...)", as shown in answers.
    pub display: Arc<str>,
    pub is_brand: bool,
    pub atc: Vec<String>,
    pub substances: Vec<u32>,
}

/// Counts reported at load time (and by the bench), mostly to prove the index is complete.
#[derive(Debug, Clone, Serialize)]
pub struct ThesaurusStats {
    pub entries: usize,
    pub substances: usize,
    pub classes: usize,
    /// Class memberships removed because the class name excepts the substance ("sauf ...").
    pub exception_removals: usize,
    pub products: usize,
    pub products_with_substances: usize,
    pub phrases: usize,
}

/// One edition of the ANSM interaction thesaurus, indexed for checking prescriptions.
///
/// Immutable once built, hence `Send + Sync`: the server shares one in an `Arc`.
#[derive(Debug)]
pub struct Thesaurus {
    pub(crate) edition: Arc<str>,
    pub(crate) terms: Vec<Term>,
    pub(crate) entries: Vec<Entry>,
    /// (term, term) → entries, both directions, so that the order of the two drugs never matters.
    pub(crate) pairs: FxMap<u64, Vec<u32>>,
    /// Quick rejection of pairs with no entry, which are most pairs: per term, a bitset of the
    /// entry names it matches and a bitset of the entry names it has an entry with.
    pub(crate) bit_words: usize,
    pub(crate) match_bits: Vec<u64>,
    pub(crate) partner_bits: Vec<u64>,
    /// Per entry name: the dense numbers of the names it has an entry with (its own entries only,
    /// not those of its classes), so that only pairs with an entry reach the hash table.
    pub(crate) own_partner_bits: Vec<u64>,
    pub(crate) dense: Vec<u32>,
    pub(crate) phrases: FxMap<String, Target>,
    /// Longest phrase, in words, starting with a given word: bounds the parser's look-ahead.
    pub(crate) first_word: FxMap<String, u8>,
    /// Alternative spellings: the phrase as shown, and the substances it stands for.
    pub(crate) aliases: Vec<(Arc<str>, Vec<u32>)>,
    pub(crate) products: Vec<Product>,
    pub(crate) counter_ions: HashSet<u32>,
    pub(crate) stats: ThesaurusStats,
}

/// Single words that are dosage, form or frequency words: a brand or alias spelled like one of them
/// ("GEL", "CRISTAL", "SUPPOSITOIRE") must not turn a dosage into a drug.
const STOP_WORDS: &[&str] = &[
    "a",
    "amp",
    "ampoule",
    "art",
    "b",
    "bain",
    "buvable",
    "c",
    "capsule",
    "collyre",
    "comprime",
    "comprimes",
    "cp",
    "creme",
    "cristal",
    "d",
    "de",
    "des",
    "dose",
    "doses",
    "du",
    "et",
    "fl",
    "flacon",
    "fois",
    "g",
    "gel",
    "gelule",
    "gelules",
    "goutte",
    "gouttes",
    "h",
    "inj",
    "injectable",
    "j",
    "jour",
    "jours",
    "l",
    "le",
    "les",
    "lp",
    "mag",
    "matin",
    "mg",
    "midi",
    "ml",
    "nuit",
    "par",
    "patch",
    "pommade",
    "poudre",
    "sachet",
    "sachets",
    "sirop",
    "soir",
    "sol",
    "solution",
    "spray",
    "suppositoire",
    "suppositoires",
    "ui",
    "x",
];

/// Salt or form words written after a substance name in the index ("CANDESARTAN CILEXETIL");
/// prescriptions often leave them out.
const SALT_SUFFIXES: &[&str] = &[
    "sodique",
    "calcique",
    "potassique",
    "magnesique",
    "cilexetil",
    "mofetil",
    "trometamol",
    "disoproxil",
    "alafenamide",
    "tert butylamine",
    "recombinante",
];

/// Substances that are also the counter-ion of salts ("valproate de sodium", "folinate de
/// calcium"): after another substance and "de" they name the salt, not a second drug.
const COUNTER_IONS: &[&str] = &["sodium", "potassium", "calcium", "magnesium", "zinc"];

/// Multiply-rotate hasher (the "Fx" hash of rustc) for the look-up tables of the hot path. The
/// tables are built from the thesaurus only; user text is looked up, never inserted, so hash
/// flooding is not a concern and SipHash's cost buys nothing here.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
            ]));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64);
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// ATC codes whose edsnlp entry lists brand names but not the substance (names from the WHO ATC
/// index), limited to substances of systemic use that the thesaurus names: without them these
/// brands would read as medicines with no thesaurus substance.
const ATC_SUPPLEMENT: &[(&str, &str)] = &[
    ("A10AB01", "insuline"),
    ("A10AC01", "insuline"),
    ("A10AD04", "insuline"),
    ("A10AD05", "insuline"),
    ("A12BA01", "potassium"),
    ("B03AD03", "fer"),
    ("C01BB01", "lidocaine"),
    ("C07AA06", "timolol"),
    ("C07AA15", "carteolol"),
    ("D10AD04", "isotretinoine"),
    ("G01AF01", "metronidazole"),
];

fn pair_key(a: u32, b: u32) -> u64 {
    ((a as u64) << 32) | b as u64
}

fn valid_edition(edition: &str) -> bool {
    !edition.is_empty()
        && edition.len() <= 64
        && edition
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && !edition.starts_with('.')
}

/// Parses the exceptions written in a class name: "torsadogènes (sauf arsénieux,
/// antiparasitaires, neuroleptiques, méthadone...)" → ["arsenieux", "antiparasitaires", ...].
fn class_exceptions(name: &str) -> Vec<String> {
    let lower = name.to_lowercase();
    let Some(pos) = lower.find("sauf ") else {
        return Vec::new();
    };
    let rest = &lower[pos + "sauf ".len()..];
    let rest = rest.split(')').next().unwrap_or(rest);
    rest.split(',')
        .flat_map(|part| part.split(" et "))
        .map(|p| fold(p.trim_end_matches('.').trim_end_matches('…')))
        .filter(|p| !p.is_empty())
        .collect()
}

fn read_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, MedsError> {
    serde_json::from_str(text).map_err(|source| MedsError::Json {
        what: what.to_string(),
        source,
    })
}

fn read_file(path: &Path) -> Result<String, MedsError> {
    std::fs::read_to_string(path).map_err(|source| MedsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

struct Builder {
    terms: Vec<Term>,
    by_key: HashMap<String, u32>,
}

impl Builder {
    fn term(&mut self, name: &str, kind: TermKind) -> u32 {
        let key = fold(name);
        if let Some(&id) = self.by_key.get(&key) {
            return id;
        }
        let id = self.terms.len() as u32;
        self.terms.push(Term {
            name: name.into(),
            kind,
            matches: Vec::new(),
        });
        self.by_key.insert(key, id);
        id
    }
}

impl Thesaurus {
    /// Loads an edition embedded in the binary; `None` takes the newest.
    pub fn builtin(edition: Option<&str>) -> Result<Thesaurus, MedsError> {
        let found = match edition {
            None => BUILTIN.last(),
            Some(e) => BUILTIN.iter().find(|(name, _, _)| *name == e),
        };
        let Some((name, thesaurus, substances)) = found else {
            return Err(MedsError::UnknownEdition {
                edition: edition.unwrap_or_default().to_string(),
                available: builtin_editions().join(", "),
            });
        };
        Thesaurus::from_json(name, thesaurus, substances, BUILTIN_DRUGS)
    }

    /// Editions present in a directory, oldest first: every `thesaurus-<edition>.json` that has its
    /// `substances-<edition>.json` next to it.
    pub fn editions_in_dir(dir: &Path) -> Result<Vec<String>, MedsError> {
        let read = std::fs::read_dir(dir).map_err(|source| MedsError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut editions = Vec::new();
        for item in read.flatten() {
            let name = item.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(edition) = name
                .strip_prefix("thesaurus-")
                .and_then(|n| n.strip_suffix(".json"))
            {
                if valid_edition(edition)
                    && dir.join(format!("substances-{edition}.json")).is_file()
                {
                    editions.push(edition.to_string());
                }
            }
        }
        editions.sort();
        Ok(editions)
    }

    /// Loads an edition from a directory laid out like `data/ansm-thesaurus/`
    /// (`thesaurus-<edition>.json` + `substances-<edition>.json`), so that a newer ANSM edition can
    /// be deployed without a new binary; `None` takes the newest edition of the directory. Brand
    /// names come from `drugs.json` in the same directory when present, else from the embedded
    /// edsnlp dictionary.
    pub fn load_dir(dir: &Path, edition: Option<&str>) -> Result<Thesaurus, MedsError> {
        let editions = Thesaurus::editions_in_dir(dir)?;
        let edition = match edition {
            Some(e) if !valid_edition(e) => return Err(MedsError::InvalidEdition(e.to_string())),
            Some(e) if editions.iter().any(|x| x == e) => e.to_string(),
            Some(e) => {
                return Err(MedsError::UnknownEdition {
                    edition: e.to_string(),
                    available: editions.join(", "),
                })
            }
            None => editions
                .last()
                .cloned()
                .ok_or_else(|| MedsError::NoEdition(dir.to_path_buf()))?,
        };
        let thesaurus = read_file(&dir.join(format!("thesaurus-{edition}.json")))?;
        let substances = read_file(&dir.join(format!("substances-{edition}.json")))?;
        let drugs_path = dir.join("drugs.json");
        let drugs = if drugs_path.is_file() {
            read_file(&drugs_path)?
        } else {
            BUILTIN_DRUGS.to_string()
        };
        Thesaurus::from_json(&edition, &thesaurus, &substances, &drugs)
    }

    /// Builds an edition from the three JSON documents (thesaurus entries, substance index, ATC
    /// dictionary of names).
    pub fn from_json(
        edition: &str,
        thesaurus_json: &str,
        substances_json: &str,
        drugs_json: &str,
    ) -> Result<Thesaurus, MedsError> {
        if !valid_edition(edition) {
            return Err(MedsError::InvalidEdition(edition.to_string()));
        }
        let raw_entries: Vec<RawEntry> =
            read_json(thesaurus_json, &format!("thesaurus-{edition}.json"))?;
        let raw_subs: Vec<RawSubstance> =
            read_json(substances_json, &format!("substances-{edition}.json"))?;
        let drugs: HashMap<String, Vec<String>> = read_json(drugs_json, "drugs.json")?;

        let mut b = Builder {
            terms: Vec::new(),
            by_key: HashMap::new(),
        };
        // Substances first so that a name that is both ("INSULINE") keeps the substance spelling.
        let mut sub_classes: Vec<(u32, Vec<u32>)> = Vec::with_capacity(raw_subs.len());
        for s in &raw_subs {
            let id = b.term(&s.substance, TermKind::Substance);
            sub_classes.push((id, Vec::new()));
        }
        for (i, s) in raw_subs.iter().enumerate() {
            let classes = s
                .drug_classes
                .iter()
                .map(|c| b.term(c, TermKind::Class))
                .collect();
            sub_classes[i].1 = classes;
        }
        let n_classes = b.terms.iter().filter(|t| t.kind == TermKind::Class).count();

        // Entries; names absent from the index become "other" terms.
        let mut entries = Vec::with_capacity(raw_entries.len());
        for e in &raw_entries {
            let main = b.term(&e.main_drug, TermKind::Other);
            let plus = b.term(&e.plus_drug, TermKind::Other);
            let mut levels: Vec<Level> = e
                .severity_levels
                .iter()
                .filter_map(|l| {
                    Severity::parse(&l.level).map(|severity| Level {
                        severity,
                        label: l.level.trim().to_string(),
                        condition: l.info.trim().to_string(),
                    })
                })
                .collect();
            if levels.is_empty() {
                // An entry with no readable level is still an interaction: keep it at the lowest
                // level rather than lose it.
                levels.push(Level {
                    severity: Severity::APrendreEnCompte,
                    label: e
                        .severity_levels
                        .first()
                        .map(|l| l.level.clone())
                        .unwrap_or_default(),
                    condition: String::new(),
                });
            }
            let top = levels
                .iter()
                .map(|l| l.severity)
                .min()
                .unwrap_or(Severity::APrendreEnCompte);
            let conduct = if levels.len() == 1 {
                levels[0].condition.clone()
            } else {
                levels
                    .iter()
                    .filter(|l| !l.condition.is_empty())
                    .map(|l| format!("{} {}", l.severity.label(), l.condition))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            entries.push(Entry {
                main,
                plus,
                main_name: e.main_drug.trim().into(),
                plus_name: e.plus_drug.trim().into(),
                see_also: e.between_main_and_plus_drug.trim().into(),
                levels: levels.iter().map(|l| l.severity).collect(),
                details: levels
                    .iter()
                    .map(|l| LevelDetail {
                        level: l.severity,
                        label: l.label.as_str().into(),
                        condition: l.condition.as_str().into(),
                    })
                    .collect(),
                top,
                mechanism: e.interaction_mechanism.trim().into(),
                conduct: conduct.into(),
            });
        }

        // Class exceptions: an excepted substance does not match the class, whatever the index
        // says. An exception names a substance, a class, or the start of class names
        // ("antiparasitaires" → "antiparasitaires susceptibles de donner des torsades de pointes").
        let class_keys: Vec<(u32, String)> = b
            .by_key
            .iter()
            .filter(|(_, &id)| b.terms[id as usize].kind == TermKind::Class)
            .map(|(k, &id)| (id, k.clone()))
            .collect();
        let mut exceptions: HashMap<u32, Vec<String>> = HashMap::new();
        for (id, _) in &class_keys {
            let ex = class_exceptions(&b.terms[*id as usize].name);
            if !ex.is_empty() {
                exceptions.insert(*id, ex);
            }
        }
        // Entry names may spell an excepting class differently from the index; parse both.
        for e in &entries {
            for (id, name) in [(e.main, &e.main_name), (e.plus, &e.plus_name)] {
                if b.terms[id as usize].kind == TermKind::Class && !exceptions.contains_key(&id) {
                    let ex = class_exceptions(name);
                    if !ex.is_empty() {
                        exceptions.insert(id, ex);
                    }
                }
            }
        }
        let key_of: HashMap<u32, &str> = b.by_key.iter().map(|(k, &id)| (id, k.as_str())).collect();
        let excepted = |sub: u32, classes: &[u32], exc: &[String]| -> bool {
            let skey = key_of[&sub];
            exc.iter().any(|e| {
                let prefix = |k: &str| {
                    k == e || (k.starts_with(e.as_str()) && k[e.len()..].starts_with(' '))
                };
                prefix(skey) || classes.iter().any(|c| prefix(key_of[c]))
            })
        };
        let mut exception_removals = 0;
        for (sub, classes) in &sub_classes {
            let mut matches = vec![*sub];
            for c in classes {
                if let Some(exc) = exceptions.get(c) {
                    if excepted(*sub, classes, exc) {
                        exception_removals += 1;
                        continue;
                    }
                }
                matches.push(*c);
            }
            matches.sort_unstable();
            matches.dedup();
            b.terms[*sub as usize].matches = matches;
        }
        // A class named directly (a product filed under an ATC group such as "antivitamines k")
        // matches itself and every class that contains all of its members ("anticoagulants
        // oraux"): what is true of each member is true of the class mention.
        let mut members: HashMap<u32, Vec<u32>> = HashMap::new();
        for (sub, _) in &sub_classes {
            for &m in &b.terms[*sub as usize].matches {
                if m != *sub {
                    members.entry(m).or_default().push(*sub);
                }
            }
        }
        for (class, subs) in &members {
            if b.terms[*class as usize].kind != TermKind::Class {
                continue;
            }
            let mut common: Vec<u32> = b.terms[subs[0] as usize].matches.clone();
            for s in &subs[1..] {
                let other = &b.terms[*s as usize].matches;
                common.retain(|c| other.contains(c));
            }
            common.retain(|c| b.terms[*c as usize].kind == TermKind::Class || c == class);
            if !common.contains(class) {
                common.push(*class);
            }
            common.sort_unstable();
            b.terms[*class as usize].matches = common;
        }
        for (id, t) in b.terms.iter_mut().enumerate() {
            if t.matches.is_empty() {
                t.matches.push(id as u32);
            }
        }

        let mut pairs: FxMap<u64, Vec<u32>> = FxMap::default();
        for (i, e) in entries.iter().enumerate() {
            for k in [pair_key(e.main, e.plus), pair_key(e.plus, e.main)] {
                let v = pairs.entry(k).or_default();
                if !v.contains(&(i as u32)) {
                    v.push(i as u32);
                }
            }
        }

        // Dense numbering of the names used by entries, for the bitsets.
        let mut dense: FxMap<u32, usize> = FxMap::default();
        for e in &entries {
            for id in [e.main, e.plus] {
                let n = dense.len();
                dense.entry(id).or_insert(n);
            }
        }
        let bit_words = dense.len().div_ceil(64).max(1);
        let n_terms = b.terms.len();
        let mut match_bits = vec![0u64; n_terms * bit_words];
        let mut partner_bits = vec![0u64; n_terms * bit_words];
        let mut own_partner_bits = vec![0u64; n_terms * bit_words];
        let mut dense_of = vec![u32::MAX; n_terms];
        for (&id, &d) in &dense {
            dense_of[id as usize] = d as u32;
        }
        let mut partners_of: FxMap<u32, Vec<usize>> = FxMap::default();
        for e in &entries {
            partners_of.entry(e.main).or_default().push(dense[&e.plus]);
            partners_of.entry(e.plus).or_default().push(dense[&e.main]);
        }
        for (&id, partners) in &partners_of {
            let row = id as usize * bit_words;
            for &d in partners {
                own_partner_bits[row + d / 64] |= 1 << (d % 64);
            }
        }
        for (id, term) in b.terms.iter().enumerate() {
            let row = id * bit_words;
            for m in &term.matches {
                if let Some(&d) = dense.get(m) {
                    match_bits[row + d / 64] |= 1 << (d % 64);
                }
                for &d in partners_of.get(m).map(Vec::as_slice).unwrap_or(&[]) {
                    partner_bits[row + d / 64] |= 1 << (d % 64);
                }
            }
        }

        let mut t = Thesaurus {
            bit_words,
            match_bits,
            partner_bits,
            own_partner_bits,
            dense: dense_of,
            edition: edition.into(),
            terms: b.terms,
            entries,
            pairs,
            phrases: FxMap::default(),
            first_word: FxMap::default(),
            aliases: Vec::new(),
            products: Vec::new(),
            counter_ions: HashSet::new(),
            stats: ThesaurusStats {
                entries: raw_entries.len(),
                substances: raw_subs.len(),
                classes: n_classes,
                exception_removals,
                products: 0,
                products_with_substances: 0,
                phrases: 0,
            },
        };
        t.build_phrases(&b.by_key, &drugs);
        Ok(t)
    }

    fn add_phrase(&mut self, key: &str, target: Target, allow_stop: bool) {
        if key.is_empty() || (!allow_stop && !key.contains(' ') && STOP_WORDS.contains(&key)) {
            return;
        }
        if key.bytes().all(|c| c.is_ascii_digit() || c == b' ') {
            return;
        }
        if self.phrases.contains_key(key) {
            return;
        }
        self.phrases.insert(key.to_string(), target);
        let mut it = words(key);
        let first = it.next().unwrap_or_default().to_string();
        let len = (1 + it.count()).min(u8::MAX as usize) as u8;
        let slot = self.first_word.entry(first).or_insert(0);
        *slot = (*slot).max(len);
    }

    fn add_alias(&mut self, key: &str, subs: &[u32], pending: &mut HashMap<String, Vec<u32>>) {
        if key.is_empty() || self.phrases.contains_key(key) {
            return;
        }
        let v = pending.entry(key.to_string()).or_default();
        for s in subs {
            if !v.contains(s) {
                v.push(*s);
            }
        }
    }

    /// Builds the phrase dictionary the parser scans lines with. Insertion order is priority:
    /// thesaurus names, then alternative spellings, then ATC-dictionary products.
    fn build_phrases(
        &mut self,
        by_key: &HashMap<String, u32>,
        drugs: &HashMap<String, Vec<String>>,
    ) {
        let mut keys: Vec<(&String, u32)> = by_key.iter().map(|(k, &v)| (k, v)).collect();
        keys.sort_unstable_by_key(|(_, id)| *id);
        for (k, id) in &keys {
            if self.terms[*id as usize].kind != TermKind::Class {
                self.add_phrase(k, Target::Term(*id), true);
            }
        }
        for (k, id) in &keys {
            if self.terms[*id as usize].kind == TermKind::Class {
                self.add_phrase(k, Target::Term(*id), true);
            }
        }
        for ion in COUNTER_IONS {
            if let Some(&id) = by_key.get(*ion) {
                self.counter_ions.insert(id);
            }
        }

        // Alternative spellings of substance names.
        let mut pending: HashMap<String, Vec<u32>> = HashMap::new();
        for (k, id) in &keys {
            let kind = self.terms[*id as usize].kind;
            if kind == TermKind::Class {
                continue;
            }
            let name = self.terms[*id as usize].name.to_lowercase();
            // "magnésium (hydroxyde de)" → "hydroxyde de magnesium"; "alcool (boisson ou
            // excipient)" → "alcool"; "botulique (toxine)" → "toxine botulique".
            if let (Some(open), Some(close)) = (name.find('('), name.rfind(')')) {
                if open < close {
                    let head = fold(&name[..open]);
                    let inner = fold(&name[open + 1..close]);
                    let tail = fold(&name[close + 1..]);
                    if tail.is_empty() && !head.is_empty() {
                        if inner.ends_with(" de") || inner == "de" || inner.ends_with(" d") {
                            self.add_alias(&format!("{inner} {head}"), &[*id], &mut pending);
                        } else {
                            self.add_alias(&head, &[*id], &mut pending);
                            if !inner.is_empty() && !inner.contains(' ') {
                                self.add_alias(&format!("{inner} {head}"), &[*id], &mut pending);
                            }
                        }
                    }
                }
            }
            // "acide valproïque" → "valproate", and "valproique acide" as some lists write it.
            if let Some(rest) = k.strip_prefix("acide ") {
                self.add_alias(&format!("{rest} acide"), &[*id], &mut pending);
                if let Some(stem) = rest.strip_suffix("ique") {
                    if !stem.contains(' ') {
                        self.add_alias(&format!("{stem}ate"), &[*id], &mut pending);
                    }
                }
            }
            for suffix in SALT_SUFFIXES {
                if let Some(stem) = k.strip_suffix(suffix) {
                    let stem = stem.trim_end();
                    if !stem.is_empty() && stem.len() >= 4 {
                        self.add_alias(stem, &[*id], &mut pending);
                    }
                }
            }
            if *k == "fer" {
                for w in ["ferreux", "ferrique"] {
                    self.add_alias(w, &[*id], &mut pending);
                }
            }
        }
        let mut pending: Vec<(String, Vec<u32>)> = pending.into_iter().collect();
        pending.sort();
        for (k, subs) in pending {
            let idx = self.aliases.len() as u32;
            let before = self.phrases.len();
            self.add_phrase(&k, Target::Alias(idx), false);
            if self.phrases.len() > before {
                self.aliases.push((k.as_str().into(), subs));
            }
        }

        // Products of the ATC dictionary: INN (lower case) and brand names (upper case).
        let mut codes: Vec<(&String, &Vec<String>)> = drugs.iter().collect();
        codes.sort();
        let mut code_subs: HashMap<&str, Vec<u32>> = HashMap::new();
        for (code, names) in &codes {
            let mut subs = Vec::new();
            for n in names.iter() {
                let is_brand = n.to_uppercase() == *n;
                let f = fold(n);
                if !is_brand || matches!(self.phrases.get(&f), Some(Target::Term(_))) {
                    for s in self.scan_substances(&f) {
                        if !subs.contains(&s) {
                            subs.push(s);
                        }
                    }
                }
            }
            if subs.is_empty() {
                if let Some((_, inn)) = ATC_SUPPLEMENT.iter().find(|(c, _)| c == code) {
                    subs = self.scan_substances(inn);
                }
            }
            // Else the parent ATC group, when its label is a single substance ("A12CC":
            // "magnesium" for SPASMAG).
            if subs.is_empty() {
                for n in (3..code.len()).rev() {
                    if let Some(parent) = drugs.get(&code[..n]) {
                        let found: Vec<u32> = parent
                            .iter()
                            .filter(|p| p.to_uppercase() != **p)
                            .flat_map(|p| self.scan_substances(&fold(p)))
                            .filter(|&t| self.terms[t as usize].kind != TermKind::Class)
                            .collect();
                        if found.len() == 1 {
                            subs = found;
                        }
                        break;
                    }
                }
            }
            code_subs.insert(code.as_str(), subs);
        }
        let mut products: HashMap<String, Product> = HashMap::new();
        for (code, names) in &codes {
            for n in names.iter() {
                let is_brand = n.to_uppercase() == *n;
                let f = fold(n);
                if f.is_empty() {
                    continue;
                }
                let p = products.entry(f).or_insert_with(|| Product {
                    display: n.as_str().into(),
                    is_brand,
                    atc: Vec::new(),
                    substances: Vec::new(),
                });
                p.is_brand &= is_brand;
                if !p.atc.contains(code) {
                    p.atc.push((*code).clone());
                }
                for s in &code_subs[code.as_str()] {
                    if !p.substances.contains(s) {
                        p.substances.push(*s);
                    }
                }
            }
        }
        // A combination brand named after its substances ("LOSARTAN HYDROCHLOROTHIAZIDE") gets
        // them all, even where the ATC label is a group ("losartan et diurétiques").
        let mut products: Vec<(String, Product)> = products.into_iter().collect();
        products.sort_by(|a, b| a.0.cmp(&b.0));
        for (f, p) in &mut products {
            for s in self.scan_substances(f) {
                if !p.substances.contains(&s) {
                    p.substances.push(s);
                }
            }
            p.display = format!("{} (ATC {})", p.display, p.atc.join(", ")).into();
        }
        // INNs before brands, so a name that is both reads as the substance.
        products.sort_by_key(|(_, p)| p.is_brand);
        for (f, p) in products {
            let idx = self.products.len() as u32;
            let before = self.phrases.len();
            self.add_phrase(&f, Target::Product(idx), false);
            if self.phrases.len() > before {
                self.products.push(p);
            }
        }
        self.stats.products = self.products.len();
        self.stats.products_with_substances = self
            .products
            .iter()
            .filter(|p| !p.substances.is_empty())
            .count();
        self.stats.phrases = self.phrases.len();
    }

    /// Substances named in a folded text, using thesaurus names and aliases only (used to read ATC
    /// labels and product names).
    fn scan_substances(&self, folded: &str) -> Vec<u32> {
        let mut out = Vec::new();
        let mut classes = Vec::new();
        for m in self.scan(folded) {
            match m.target {
                Target::Term(id) if self.terms[id as usize].kind != TermKind::Class => out.push(id),
                Target::Term(id) => classes.push(id),
                Target::Alias(a) => out.extend_from_slice(&self.aliases[a as usize].1),
                _ => {}
            }
        }
        // Some ATC labels name a thesaurus class rather than a substance ("PREVISCAN":
        // "antivitamines k"); the class is then the most precise thing known about the product.
        if out.is_empty() {
            out = classes;
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Longest-match scan of a folded line against the phrase dictionary; words that match
    /// nothing (doses, forms, frequencies, salt prefixes such as "chlorhydrate de") are skipped.
    pub(crate) fn scan(&self, folded: &str) -> Vec<PhraseMatch> {
        let toks: Vec<&str> = words(folded).collect();
        let mut out: Vec<PhraseMatch> = Vec::new();
        let mut buf = String::with_capacity(64);
        let mut i = 0;
        while i < toks.len() {
            let Some(&maxlen) = self.first_word.get(toks[i]) else {
                i += 1;
                continue;
            };
            let maxlen = (maxlen as usize).min(toks.len() - i);
            buf.clear();
            let mut best: Option<(usize, Target)> = None;
            for (len, tok) in toks[i..i + maxlen].iter().enumerate() {
                if len > 0 {
                    buf.push(' ');
                }
                buf.push_str(tok);
                if let Some(t) = self.phrases.get(buf.as_str()) {
                    best = Some((len + 1, *t));
                }
            }
            match best {
                Some((len, target)) => {
                    // "valproate de sodium": the counter-ion names the salt, not a second drug.
                    let is_salt_ion = matches!(target, Target::Term(id) if self.counter_ions.contains(&id))
                        && i >= 1
                        && matches!(toks[i - 1], "de" | "d")
                        && out.last().is_some_and(|m| m.end + 1 == i);
                    if !is_salt_ion {
                        out.push(PhraseMatch {
                            end: i + len,
                            target,
                        });
                    }
                    i += len;
                }
                None => i += 1,
            }
        }
        out
    }

    /// The edition label, e.g. "2020-01"; every answer carries it.
    pub fn edition(&self) -> &str {
        &self.edition
    }

    /// Counts of what was indexed.
    pub fn stats(&self) -> &ThesaurusStats {
        &self.stats
    }

    /// Names of the classes a substance matches in this edition (after class exceptions), or
    /// `None` when the name is not a thesaurus substance.
    pub fn classes_of(&self, substance: &str) -> Option<Vec<&str>> {
        match self.phrases.get(&fold(substance)) {
            Some(Target::Term(id)) if self.terms[*id as usize].kind != TermKind::Class => Some(
                self.terms[*id as usize]
                    .matches
                    .iter()
                    .filter(|&&m| m != *id)
                    .map(|&m| &*self.terms[m as usize].name)
                    .collect(),
            ),
            _ => None,
        }
    }

    /// Substance names of the thesaurus index (as written there).
    pub fn substance_names(&self) -> impl Iterator<Item = &str> {
        self.terms
            .iter()
            .filter(|t| t.kind == TermKind::Substance)
            .map(|t| &*t.name)
    }

    /// Whether some entry may apply between two terms (no false negatives).
    #[inline]
    pub(crate) fn may_interact(&self, a: u32, b: u32) -> bool {
        let w = self.bit_words;
        let pa = &self.partner_bits[a as usize * w..(a as usize + 1) * w];
        let mb = &self.match_bits[b as usize * w..(b as usize + 1) * w];
        pa.iter().zip(mb).any(|(x, y)| x & y != 0)
    }

    /// Calls `f(ma, mb, entry)` for every entry between a name `a` matches and a name `b`
    /// matches, in either direction.
    #[inline]
    pub(crate) fn for_each_entry(&self, a: u32, b: u32, mut f: impl FnMut(u32, u32, u32)) {
        let w = self.bit_words;
        let mb_bits = &self.match_bits[b as usize * w..(b as usize + 1) * w];
        for &ma in &self.terms[a as usize].matches {
            let own = &self.own_partner_bits[ma as usize * w..(ma as usize + 1) * w];
            if !own.iter().zip(mb_bits).any(|(x, y)| x & y != 0) {
                continue;
            }
            for &mb in &self.terms[b as usize].matches {
                let d = self.dense[mb as usize];
                if d == u32::MAX || own[d as usize / 64] & (1 << (d % 64)) == 0 {
                    continue;
                }
                for &e in self.pair_entries(ma, mb) {
                    f(ma, mb, e);
                }
            }
        }
    }

    pub(crate) fn pair_entries(&self, a: u32, b: u32) -> &[u32] {
        self.pairs
            .get(&pair_key(a, b))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct PhraseMatch {
    pub end: usize,
    pub target: Target,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_class_exceptions() {
        assert_eq!(
            class_exceptions(
                "torsadogènes (sauf arsénieux, antiparasitaires, neuroleptiques, méthadone...)"
            ),
            vec![
                "arsenieux",
                "antiparasitaires",
                "neuroleptiques",
                "methadone"
            ]
        );
        assert_eq!(
            class_exceptions("BÊTA-BLOQUANTS (SAUF ESMOLOL ET SOTALOL) (Y COMPRIS COLLYRES)"),
            vec!["esmolol", "sotalol"]
        );
        assert_eq!(
            class_exceptions("antihypertenseurs sauf alpha-bloquants"),
            vec!["alpha bloquants"]
        );
        assert!(class_exceptions("macrolides").is_empty());
    }

    #[test]
    fn severity_order_and_labels() {
        assert!(Severity::ContreIndication < Severity::AssociationDeconseillee);
        assert!(Severity::PrecautionEmploi < Severity::APrendreEnCompte);
        assert_eq!(
            Severity::parse("Il convient de prendre en compte"),
            Some(Severity::APrendreEnCompte)
        );
        assert_eq!(
            Severity::parse("Association DECONSEILLEE"),
            Some(Severity::AssociationDeconseillee)
        );
        assert_eq!(
            Severity::parse("Précaution d'emploi"),
            Some(Severity::PrecautionEmploi)
        );
    }

    #[test]
    fn edition_names_are_plain_labels() {
        assert!(valid_edition("2020-01"));
        assert!(!valid_edition("../etc"));
        assert!(!valid_edition(""));
    }
}
