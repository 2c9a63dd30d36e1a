//! Embedded, compressed dictionaries (see `data/shield/README.md` for their
//! sources and licences) and text folding used for every lookup.

use std::collections::{HashMap as StdHashMap, HashSet as StdHashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;

use flate2::read::GzDecoder;
use unicode_normalization::UnicodeNormalization;

use crate::lexicon;
use crate::ShieldError;

/// FNV-1a: the keys are short words looked up millions of times per
/// second; SipHash's DoS resistance buys nothing on a fixed dictionary.
#[derive(Default, Clone, Copy)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

pub type HashMap<K, V> = StdHashMap<K, V, BuildHasherDefault<Fnv>>;
pub type HashSet<K> = StdHashSet<K, BuildHasherDefault<Fnv>>;

const PRENOMS_M: &[u8] = include_bytes!("../../../data/shield/prenoms_m.txt.gz");
const PRENOMS_F: &[u8] = include_bytes!("../../../data/shield/prenoms_f.txt.gz");
const NOMS: &[u8] = include_bytes!("../../../data/shield/noms.txt.gz");
const COMMUNES: &[u8] = include_bytes!("../../../data/shield/communes.tsv.gz");
const MOTS: &[u8] = include_bytes!("../../../data/shield/mots_courants.txt.gz");

/// Lower case, no diacritics, typographic apostrophe made plain: the key of
/// every dictionary so that "LEFÈVRE", "Lefevre" and "lefèvre" meet.
pub fn fold(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        // Fast path for the Latin letters of French; decomposition otherwise.
        let m = match c {
            'a'..='z' | '0'..='9' | '-' | '\'' | ' ' => Some(c),
            'A'..='Z' => Some(c.to_ascii_lowercase()),
            'à' | 'â' | 'ä' | 'á' | 'ã' | 'å' | 'À' | 'Â' | 'Ä' | 'Á' | 'Ã' | 'Å' => {
                Some('a')
            }
            'ç' | 'Ç' => Some('c'),
            'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => Some('e'),
            'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => Some('i'),
            'ñ' | 'Ñ' => Some('n'),
            'ò' | 'ó' | 'ô' | 'ö' | 'õ' | 'Ò' | 'Ó' | 'Ô' | 'Ö' | 'Õ' => Some('o'),
            'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => Some('u'),
            'ý' | 'ÿ' | 'Ý' | 'Ÿ' => Some('y'),
            '’' | 'ʼ' | '`' | '´' => Some('\''),
            _ => None,
        };
        if let Some(m) = m {
            out.push(m);
            continue;
        }
        match c {
            'œ' | 'Œ' => out.push_str("oe"),
            'æ' | 'Æ' => out.push_str("ae"),
            _ => {
                let mut buf = [0u8; 4];
                for d in c.encode_utf8(&mut buf).nfd() {
                    if !unicode_normalization::char::is_combining_mark(d) {
                        out.extend(d.to_lowercase());
                    }
                }
            }
        }
    }
    out
}

fn gunzip(name: &'static str, bytes: &[u8]) -> Result<String, ShieldError> {
    let mut s = String::new();
    GzDecoder::new(bytes)
        .read_to_string(&mut s)
        .map_err(|e| ShieldError::Dictionary {
            name,
            reason: e.to_string(),
        })?;
    Ok(s)
}

/// Gender/frequency facts about a first name.
#[derive(Debug, Clone, Copy, Default)]
pub struct FirstName {
    /// Best frequency rank among both genders (0 = most frequent).
    pub rank: u32,
    pub female: bool,
    pub male: bool,
    /// Rank among female / male names (`u32::MAX` when absent), to tell the
    /// usual gender of names given to both.
    pub rank_f: u32,
    pub rank_m: u32,
}

impl FirstName {
    /// Mostly given to girls.
    pub fn mostly_female(&self) -> bool {
        self.rank_f < self.rank_m
    }
}

pub struct Dicts {
    pub first_names: HashMap<String, FirstName>,
    pub surnames: HashMap<String, u32>,
    pub communes: HashSet<String>,
    pub common_words: HashSet<String>,
    pub medical: HashSet<String>,
    pub eponyms: HashSet<String>,
    pub eponym_heads: HashSet<String>,
    pub titles: HashSet<String>,
    pub strong_titles: HashSet<String>,
    /// First names in the commonest ranks: male and female, for surrogates.
    pub surrogate_first_m: Vec<String>,
    pub surrogate_first_f: Vec<String>,
    pub surrogate_surnames: Vec<String>,
    pub surrogate_communes: Vec<(String, String)>,
}

fn set(words: &[&str]) -> HashSet<String> {
    words.iter().map(|w| fold(w)).collect()
}

/// Puts a dictionary entry in display case ("SAINT-ETIENNE" → "Saint-Etienne").
pub fn title_case(s: &str) -> String {
    const LINKS: &[&str] = &[
        "sur", "sous", "en", "les", "lès", "la", "le", "de", "du", "des", "et", "aux", "au", "d",
        "l",
    ];
    let mut out = String::with_capacity(s.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let lower = word.to_lowercase();
        if !out.is_empty() && LINKS.contains(&lower.as_str()) {
            out.push_str(&lower);
        } else {
            let mut cs = lower.chars();
            if let Some(f) = cs.next() {
                out.extend(f.to_uppercase());
                out.push_str(cs.as_str());
            }
        }
        word.clear();
    };
    for c in s.chars() {
        if matches!(c, '-' | ' ' | '\'' | '’') {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

impl Dicts {
    pub fn load() -> Result<Dicts, ShieldError> {
        let mut first_names: HashMap<String, FirstName> = HashMap::default();
        let mut surrogate_first_m = Vec::new();
        let mut surrogate_first_f = Vec::new();
        for (name, bytes, female) in [
            ("prenoms_m", PRENOMS_M, false),
            ("prenoms_f", PRENOMS_F, true),
        ] {
            let text = gunzip(name, bytes)?;
            for (rank, n) in text.lines().filter(|l| !l.is_empty()).enumerate() {
                let e = first_names.entry(fold(n)).or_insert(FirstName {
                    rank: u32::MAX,
                    female: false,
                    male: false,
                    rank_f: u32::MAX,
                    rank_m: u32::MAX,
                });
                e.rank = e.rank.min(rank as u32);
                if female {
                    e.female = true;
                    e.rank_f = e.rank_f.min(rank as u32);
                    if rank < 400 {
                        surrogate_first_f.push(n.to_string());
                    }
                } else {
                    e.male = true;
                    e.rank_m = e.rank_m.min(rank as u32);
                    if rank < 400 {
                        surrogate_first_m.push(n.to_string());
                    }
                }
            }
        }
        let text = gunzip("noms", NOMS)?;
        let mut surnames: HashMap<String, u32> =
            HashMap::with_capacity_and_hasher(230_000, Default::default());
        let mut surrogate_surnames = Vec::new();
        for (rank, n) in text.lines().filter(|l| !l.is_empty()).enumerate() {
            surnames.entry(fold(n)).or_insert(rank as u32);
            if rank < 3000 {
                surrogate_surnames.push(n.to_string());
            }
        }
        let text = gunzip("communes", COMMUNES)?;
        let mut communes: HashSet<String> =
            HashSet::with_capacity_and_hasher(40_000, Default::default());
        let mut surrogate_communes = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let Some((name, zip)) = line.split_once('\t') else {
                return Err(ShieldError::Dictionary {
                    name: "communes",
                    reason: format!("line {} has no tab", i + 1),
                });
            };
            let key = commune_key(name);
            communes.insert(key);
            if i % 40 == 0 && zip.len() == 5 {
                surrogate_communes.push((title_case(name), zip.to_string()));
            }
        }
        for big in ["paris", "marseille", "lyon"] {
            communes.insert(big.to_string());
        }
        let text = gunzip("mots_courants", MOTS)?;
        let mut common_words: HashSet<String> = text.lines().map(fold).collect();
        let medical = set(lexicon::medical_words());
        common_words.extend(medical.iter().cloned());
        // Eponyms that are also frequent French names would hide real
        // patients if blocked everywhere; keep only the unambiguous ones.
        let eponyms = lexicon::eponyms()
            .iter()
            .map(|w| fold(w))
            .filter(|w| {
                surnames.get(w).is_none_or(|&r| r > 3000)
                    && first_names.get(w).is_none_or(|f| f.rank > 1000)
            })
            .collect();
        Ok(Dicts {
            first_names,
            surnames,
            communes,
            common_words,
            medical,
            eponyms,
            eponym_heads: set(lexicon::eponym_heads()),
            titles: set(lexicon::titles()),
            strong_titles: set(lexicon::strong_titles()),
            surrogate_first_m,
            surrogate_first_f,
            surrogate_surnames,
            surrogate_communes,
        })
    }
}

/// Commune lookup key: folded, with spaces and hyphens merged to one '-'.
pub fn commune_key(s: &str) -> String {
    let f = fold(s);
    let mut out = String::with_capacity(f.len());
    for c in f.chars() {
        if c == ' ' || c == '-' {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c);
        }
    }
    out
}
