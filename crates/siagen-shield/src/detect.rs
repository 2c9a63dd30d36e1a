//! The detector: regular expressions with check digits for structured
//! identifiers, and a chunk-level rule engine (titles, field labels,
//! signatures, greetings, dictionaries, propagation) for names and places.

use std::borrow::Cow;

use regex::Regex;

use crate::dict::{commune_key, fold, Dicts, FirstName, HashMap, HashSet};
use crate::validate::{iban_is_valid, luhn_is_valid, nir_is_valid};
use crate::{Label, ShieldError, Span};

/// ASCII word boundary: keeps the regex engine on its fast DFA path on
/// non-ASCII text (a Unicode `\b` would force a slower engine).
fn re(pattern: &str) -> Regex {
    // ASCII digits: Unicode `\d` (hundreds of code points) bloats the DFA.
    let p = pattern.replace(r"\b", r"(?-u:\b)").replace(r"\d", "[0-9]");
    Regex::new(&p).unwrap_or_else(|e| panic!("built-in pattern must compile: {e}\n{p}"))
}

struct Patterns {
    mail: Regex,
    url: Regex,
    nir: Regex,
    iban: Regex,
    tel: Regex,
    long_digits: Regex,
    id_context: Regex,
    /// All date shapes in one automaton (one pass over the text); each
    /// match is classified afterwards.
    dates: Regex,
    birth_before: Regex,
    age: Regex,
    address: Regex,
    zip_city: Regex,
    hospital: Regex,
    hospital_names: Regex,
}

const MONTHS: &str = r"(?:janvier|janv|f[ée]vrier|f[ée]vr|f[ée]v|mars|avril|avr|mai|juin|juillet|juil|ao[uû]t|septembre|sept|octobre|oct|novembre|nov|d[ée]cembre|d[ée]c)";
const MONTHS_FULL: &str = r"(?:janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[uû]t|septembre|octobre|novembre|d[ée]cembre)";
/// A capitalised word of a proper name (street, city, hospital).
const PROPER: &str = r"(?:[\p{Lu}][\p{L}\p{M}]*(?:['’\-][\p{L}\p{M}]+)*\.?|\d{1,4}(?:e|er|ème)?\b)";
const LINKS: &str = r"(?:de|du|des|d['’]|l['’]|la|le|les|et|sur|sous|en|à|au|aux|lès|lez|dit|dite)";

impl Patterns {
    fn new() -> Patterns {
        let street_types = r"(?:rue|avenue|av\.|bd|boulevard|chemin|allée|allee|impasse|place|pl\.|route|rte|quai|cours|square|sq\.|résidence|residence|lotissement|lieu-dit|lieu dit|hameau|passage|voie|villa|cité|cite|sentier|parvis|esplanade|promenade|rond-point|faubourg|fbg|montée|montee|traverse|clos|domaine|ruelle|chaussée|chaussee|mail|venelle|carrefour|port|parc)";
        // Only the first word of a name is matched here; `extend_proper`
        // takes the rest, which keeps the automata small and fast.
        let name_part = format!(r"(?:{LINKS}\s*)*{PROPER}");
        let hlinks = r"(?:de|du|des|d['’]|l['’]|la|le|les)";
        let hosp_name = format!(r"(?:{hlinks}\s*)*{PROPER}");
        Patterns {
            mail: re(r"(?i)\b[a-z0-9][a-z0-9._%+\-]*@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}\b"),
            url: re(
                r#"(?i)(?:\bhttps?://|\bwww\.)[^\s<>"'()\[\]]+|\b[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.(?:fr|com|org|net|eu|info|sante\.fr)/[^\s<>"'()\[\]]*"#,
            ),
            nir: re(
                r"\b[1-478][ .\-]?\d{2}[ .\-]?(?:0[1-9]|1[0-2]|[2-9]\d)[ .\-]?(?:\d{2}|2[AaBb])[ .\-]?\d{3}[ .\-]?\d{3}(?:[ .\-]?\d{2})?\b",
            ),
            iban: re(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"),
            tel: re(
                r"(?:(?:\+|\b00) ?33 ?[.\-]?(?:\(0\) ?)?[1-9]|\b0[1-9])(?:[ .\-]?\d{2}){4}\b(?: ?(?:poste|p\.|ext\.?|x|#) ?\d{2,5}\b)?",
            ),
            long_digits: re(r"\b[A-Z]{0,3}\d{7,15}\b"),
            id_context: re(
                r"(?i)\b(ipp|nip|nda|rpps|adeli|finess|ins|n°\s*(?:d['’]|de\s+)?(?:dossier|patient|s[ée]jour|venue|admission|hospitalisation|rpps|adeli|finess|ipp|nda|ss|s[ée]cu)|num[ée]ro\s+(?:de\s+|d['’])?(?:dossier|patient|s[ée]jour|venue|admission|hospitalisation|rpps|adeli|finess)|identifiant(?:\s+patient)?|dossier|s[ée]jour|venue)\s*(?:n°|no|num[ée]ro)?\s*[:=#]?\s*([A-Z]{0,3}\d[\d\-]{3,17}\d|[A-Z]{1,3}\d{3,}[A-Z0-9]*)\b",
            ),
            dates: re(&[
                r"\b(?:0?[1-9]|[12]\d|3[01]) ?[/.\-] ?(?:0?[1-9]|1[0-2]) ?[/.\-] ?(?:(?:19|20)\d{2}|\d{2})\b".to_string(),
                r"\b(?:19|20)\d{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])\b".to_string(),
                format!(r"(?i)\b(?:(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)\s+)?(?:1er|0?[1-9]|[12]\d|3[01])\s*{MONTHS}\b\.?(?:\s+(?:19|20)\d{{2}}\b)?"),
                format!(r"(?i)\b{MONTHS_FULL}\s+(?:19|20)\d{{2}}\b"),
                r"\b(?:0?[1-9]|1[0-2])/(?:19|20)\d{2}\b".to_string(),
                r"\b(?:0?[1-9]|[12]\d|3[01])/(?:0[1-9]|1[0-2])\b".to_string(),
            ]
            .iter()
            .map(|p| format!("(?:{p})"))
            .collect::<Vec<_>>()
            .join("|")),
            birth_before: re(
                r"(?i)(?:\bn[ée]e?(?:\s*\(e\))?|\bdate\s+de\s+naissance|\bddn|\bnaissance|\bn\.?\s*le|\bborn)\s*(?:le|:|du)?\s*:?\s*(?:le\s+)?$",
            ),
            age: re(r"(?i)\b(9\d|1[0-2]\d)\s*(?:ans|an|a)\b"),
            address: re(&format!(
                r"(?:\b\d{{1,4}}(?: ?(?:bis|ter|quater|[a-dA-D])\b)?,? +)?\b(?i:{street_types})\.? +{name_part}"
            )),
            zip_city: re(r"\b(?:0[1-9]|[1-8]\d|9[0-8]|2[AB])\d{3} +\p{Lu}"),
            hospital: re(&format!(
                r"(?:\b(?i:centre\s+hospitalier(?:\s+universitaire|\s+r[ée]gional|\s+intercommunal|\s+sp[ée]cialis[ée]|\s+d[ée]partemental)?|groupe\s+hospitalier(?:\s+universitaire)?|groupement\s+hospitalier|h[ôo]pital|h[ôo]pitaux|polyclinique|clinique|institut|maternit[ée]|centre\s+de\s+r[ée][ée]ducation|centre\s+m[ée]dical|centre\s+de\s+sant[ée]|centre\s+de\s+lutte\s+contre\s+le\s+cancer|centre|ehpad|maison\s+de\s+sant[ée]|maison\s+de\s+retraite)|\b(?:CHU|CHRU|CHR|CHI|CHIC|CHS|CHD|CH|GHU|GHT|GHI|GH|HIA|CLCC|SSR|HAD|USLD|CMP|EHPAD|HEGP))(?:\s+(?i:priv[ée]|public|universitaire|militaire|psychiatrique|p[ée]diatrique|g[ée]riatrique|local|mutualiste|d['’]instruction\s+des\s+arm[ée]es))?\s+{hosp_name}"
            )),
            hospital_names: re(
                r"\b(?:Piti[ée][ \-]Salp[êe]tri[èe]re|Salp[êe]tri[èe]re|Bic[êe]tre|Necker(?:[ \-]Enfants[ \-]Malades)?|Lariboisi[èe]re|HEGP|Georges[ \-]Pompidou|Saint[ \-]Antoine|Avicenne|Beaujon|Bichat(?:[ \-]Claude[ \-]Bernard)?|Henri[ \-]Mondor|Ambroise[ \-]Par[ée]|Robert[ \-]Debr[ée]|Louis[ \-]Mourier|Raymond[ \-]Poincar[ée]|Paul[ \-]Brousse|Antoine[ \-]B[ée]cl[èe]re|Jean[ \-]Verdier|H[ôo]tel[ \-]Dieu|Charles[ \-]Foix|Sainte[ \-]P[ée]rine|Corentin[ \-]Celton|Gustave[ \-]Roussy|Institut[ \-]Curie|Quinze[ \-]Vingts|Sainte[ \-]Anne|Rothschild|Val[ \-]de[ \-]Gr[âa]ce|Percy|B[ée]gin|Foch|Jean[ \-]Jaur[èe]s)\b",
            ),
        }
    }
}

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

const PARTICLES: &[&str] = &[
    "de", "du", "des", "d'", "la", "le", "les", "van", "von", "der", "den", "ter", "ben", "bin",
    "ibn", "el", "al", "da", "das", "dos", "do", "di", "del", "della", "mac", "mc", "ait", "abou",
    "bou", "zu", "st", "saint", "sainte", "y",
];

const BIG_CITIES: &[&str] = &[
    "Paris",
    "Marseille",
    "Lyon",
    "Toulouse",
    "Nice",
    "Nantes",
    "Strasbourg",
    "Montpellier",
    "Bordeaux",
    "Lille",
    "Rennes",
    "Reims",
    "Saint-Étienne",
    "Toulon",
    "Grenoble",
    "Dijon",
    "Angers",
    "Nîmes",
    "Villeurbanne",
    "Clermont-Ferrand",
    "Le Mans",
    "Aix-en-Provence",
    "Brest",
    "Limoges",
    "Amiens",
    "Perpignan",
    "Metz",
    "Besançon",
    "Orléans",
    "Rouen",
    "Mulhouse",
    "Caen",
    "Nancy",
    "Argenteuil",
    "Montreuil",
    "Saint-Denis",
    "Roubaix",
    "Tourcoing",
    "Avignon",
    "Créteil",
    "Poitiers",
    "Versailles",
    "Colombes",
    "Asnières-sur-Seine",
    "Aubervilliers",
    "Rueil-Malmaison",
    "Antibes",
    "Béziers",
    "La Rochelle",
    "Cannes",
    "Calais",
    "Dunkerque",
    "Bourges",
    "Quimper",
    "Troyes",
    "Lorient",
    "Vannes",
    "Chambéry",
    "Niort",
    "Cergy",
    "Pau",
    "Bayonne",
    "Ajaccio",
    "Bastia",
    "Colmar",
    "Annecy",
    "Saint-Malo",
    "Boulogne-Billancourt",
    "Nanterre",
    "Vitry-sur-Seine",
    "Évry",
    "Bobigny",
    "Saint-Nazaire",
    "Angoulême",
    "Cholet",
    "Chartres",
    "Blois",
    "Auxerre",
    "Évreux",
    "Le Havre",
    "Saint-Quentin",
    "Beauvais",
    "Arras",
    "Douai",
    "Valenciennes",
    "Cherbourg",
    "Saint-Brieuc",
    "Montauban",
    "Albi",
    "Agen",
    "Périgueux",
    "Tarbes",
    "Carcassonne",
    "Narbonne",
    "Sète",
    "Arles",
    "Fréjus",
    "Hyères",
    "Nevers",
    "Mâcon",
    "Belfort",
    "Épinal",
    "Thionville",
    "Charleville-Mézières",
    "Meaux",
    "Melun",
    "Fontainebleau",
    "Pontoise",
    "Clamart",
    "Ivry-sur-Seine",
    "Villejuif",
    "Le Kremlin-Bicêtre",
    "Neuilly-sur-Seine",
    "Levallois-Perret",
    "Issy-les-Moulineaux",
    "Saint-Ouen",
    "Pantin",
    "Bondy",
    "Aulnay-sous-Bois",
    "Sarcelles",
    "Massy",
    "Clichy",
    "Courbevoie",
    "Vincennes",
    "Garches",
    "Suresnes",
    "Puteaux",
    "Saint-Maur-des-Fossés",
    "Lens",
    "Béthune",
    "Cambrai",
    "Maubeuge",
    "Saint-Omer",
    "Boulogne-sur-Mer",
    "Compiègne",
    "Soissons",
    "Laon",
    "Châteauroux",
    "Vierzon",
    "Montluçon",
    "Vichy",
    "Moulins",
    "Aurillac",
    "Le Puy-en-Velay",
    "Rodez",
    "Cahors",
    "Figeac",
    "Millau",
    "Mende",
    "Alès",
    "Bézier",
    "Draguignan",
    "Menton",
    "Grasse",
    "Manosque",
    "Digne-les-Bains",
    "Briançon",
    "Chamonix",
    "Annemasse",
    "Thonon-les-Bains",
    "Bourg-en-Bresse",
    "Roanne",
    "Vienne",
    "Montélimar",
    "Romans-sur-Isère",
    "Saint-Chamond",
    "Villefranche-sur-Saône",
    "Lons-le-Saunier",
    "Dole",
    "Pontarlier",
    "Montbéliard",
    "Vesoul",
    "Chaumont",
    "Langres",
    "Épernay",
    "Verdun",
    "Bar-le-Duc",
    "Lunéville",
    "Saint-Dié-des-Vosges",
    "Sarreguemines",
    "Forbach",
    "Haguenau",
    "Sélestat",
    "Saverne",
    "Lorient",
    "Pontivy",
    "Morlaix",
    "Lannion",
    "Dinan",
    "Fougères",
    "Vitré",
    "Redon",
    "Saint-Lô",
    "Alençon",
    "Lisieux",
    "Bayeux",
    "Dieppe",
    "Fécamp",
    "Elbeuf",
    "Vernon",
    "Dreux",
    "Rambouillet",
    "Mantes-la-Jolie",
    "Poissy",
    "Saint-Germain-en-Laye",
    "Argentan",
    "Flers",
    "Vire",
    "Granville",
    "La Roche-sur-Yon",
    "Les Sables-d'Olonne",
    "Saumur",
    "Châtellerault",
    "Saintes",
    "Rochefort",
    "Cognac",
    "Royan",
    "Libourne",
    "Arcachon",
    "Mont-de-Marsan",
    "Dax",
    "Biarritz",
    "Anglet",
    "Lourdes",
    "Auch",
    "Foix",
    "Pamiers",
    "Castres",
    "Mazamet",
    "Béziers",
    "Sète",
    "Lunel",
    "Martigues",
    "Aubagne",
    "La Ciotat",
    "Istres",
    "Salon-de-Provence",
    "Cavaillon",
    "Carpentras",
    "Pointe-à-Pitre",
    "Fort-de-France",
    "Cayenne",
    "Saint-Pierre",
    "Mamoudzou",
    "Nouméa",
    "Papeete",
];

impl Shield {
    /// Loads the embedded dictionaries and compiles the patterns. Costly
    /// (tens of milliseconds): build one and share it in an `Arc`.
    pub fn new() -> Result<Shield, ShieldError> {
        let d = Dicts::load()?;
        let big_cities = BIG_CITIES.iter().map(|c| commune_key(c)).collect();
        let big_city_heads = BIG_CITIES
            .iter()
            .map(|c| fold(c.split(' ').next().unwrap_or(c)))
            .collect();
        let field_phrases = crate::lexicon::NAME_FIELDS
            .iter()
            .map(|f| fold(f))
            .collect();
        let closings = crate::lexicon::CLOSINGS.iter().map(|f| fold(f)).collect();
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
        flag(&mut PARTICLES.iter().map(|p| p.to_string()), W_PARTICLE);
        flag(&mut d.eponyms.iter().cloned(), W_EPONYM);
        flag(&mut d.eponym_heads.iter().cloned(), W_EPONYM_HEAD);
        flag(
            &mut crate::lexicon::CLOSINGS.iter().map(|x| fold(x)),
            W_CLOSING,
        );
        flag(
            &mut crate::lexicon::GREETINGS.iter().map(|x| fold(x)),
            W_GREETING,
        );
        flag(
            &mut crate::lexicon::CLOSINGS
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
            particles: PARTICLES.iter().copied().collect(),
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

    fn structured(&self, text: &str, out: &mut Vec<Cand>) {
        let p = &self.p;
        let push = |out: &mut Vec<Cand>, s: usize, e: usize, label: Label, prio: u8| {
            if e > s {
                out.push(Cand { s, e, label, prio });
            }
        };
        if text.contains('@') {
            for m in p.mail.find_iter(text) {
                push(out, m.start(), m.end(), Label::Mail, 100);
            }
        }
        let maybe_url = [
            "://", "www.", "WWW.", ".fr/", ".com/", ".org/", ".net/", ".eu/", ".info/",
        ]
        .iter()
        .any(|k| text.contains(k));
        for m in p.url.find_iter(if maybe_url { text } else { "" }) {
            let t = m.as_str().trim_end_matches(['.', ',', ';', ':', '!', '?']);
            push(out, m.start(), m.start() + t.len(), Label::Url, 99);
        }
        for m in p.nir.find_iter(text) {
            let digits = m
                .as_str()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .count();
            let ctx = lower_before(text, m.start(), 40);
            let has_ctx = [
                "secu",
                "sécu",
                "nir",
                "sécurité",
                "securite",
                "ss",
                "insee",
                "ins",
                "assur",
                "immatric",
            ]
            .iter()
            .any(|k| ctx.contains(k));
            if (digits == 15 && nir_is_valid(m.as_str())) || (has_ctx && digits >= 13) {
                push(out, m.start(), m.end(), Label::Secu, 96);
            }
        }
        for m in p.iban.find_iter(text) {
            if iban_is_valid(m.as_str()) || lower_before(text, m.start(), 25).contains("iban") {
                push(out, m.start(), m.end(), Label::Iban, 96);
            }
        }
        for m in p.tel.find_iter(text) {
            push(out, m.start(), m.end(), Label::Tel, 90);
        }
        for caps in p.id_context.captures_iter(text) {
            let (Some(k), Some(v)) = (caps.get(1), caps.get(2)) else {
                continue;
            };
            let kf = fold(k.as_str());
            let label = if kf.contains("rpps") || kf.contains("adeli") {
                Label::Rpps
            } else if kf.contains("finess") {
                Label::Finess
            } else if kf.contains("nda")
                || kf.contains("sejour")
                || kf.contains("venue")
                || kf.contains("admission")
                || kf.contains("hospitalisation")
            {
                Label::Nda
            } else if kf.contains("ss") || kf.contains("secu") || kf == "ins" {
                Label::Secu
            } else {
                Label::Ipp
            };
            push(out, v.start(), v.end(), label, 88);
        }
        for m in p.long_digits.find_iter(text) {
            let s = m.as_str();
            let digits: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
            let ctx = lower_before(text, m.start(), 30);
            let label = if ctx.contains("rpps")
                || ctx.contains("adeli")
                || (digits.len() == 11 && digits.starts_with("10") && luhn_is_valid(&digits))
            {
                Label::Rpps
            } else if ctx.contains("finess") {
                Label::Finess
            } else if ctx.contains("nda")
                || ctx.contains("séjour")
                || ctx.contains("sejour")
                || ctx.contains("venue")
            {
                Label::Nda
            } else {
                Label::Ipp
            };
            push(out, m.start(), m.end(), label, 80);
        }
        // Dates.
        let mut dates: Vec<(usize, usize)> = Vec::new();
        for m in p.dates.find_iter(text) {
            let t = m.as_str();
            let next = text[m.end()..].chars().next();
            if matches!(next, Some(c) if c.is_ascii_digit()) {
                continue;
            }
            let textual = t.chars().any(char::is_alphabetic);
            let iso = t.len() >= 10 && t.as_bytes()[4] == b'-';
            if !textual && !iso {
                let seps = t
                    .bytes()
                    .filter(|b| matches!(b, b'/' | b'.' | b'-'))
                    .count();
                if seps >= 2 {
                    if !plausible_num_date(t) {
                        continue;
                    }
                } else if !t.ends_with(|c: char| c.is_ascii_digit())
                    || t.rsplit('/').next().is_some_and(|y| y.len() != 4)
                {
                    // "12/03" alone: a date only after a temporal word.
                    if matches!(next, Some('/' | '.' | '-')) {
                        continue;
                    }
                    let before = lower_before(text, m.start(), 14);
                    let w = before.trim_end();
                    let temporal = [
                        "le",
                        "du",
                        "au",
                        "depuis le",
                        "dès le",
                        "des le",
                        "jusqu'au",
                        "entre le",
                        "et le",
                        "j",
                        "(",
                        "vu le",
                        "ce",
                        "avant le",
                        "après le",
                        "apres le",
                        "à partir du",
                        "a partir du",
                        "rdv",
                        "rdv le",
                    ];
                    if !temporal.iter().any(|k| w.ends_with(k)) {
                        continue;
                    }
                }
            }
            dates.push((m.start(), m.end()));
        }
        for (s, e) in dates {
            let before = &text[floor_char(text, s.saturating_sub(40))..s];
            let label = if p.birth_before.is_match(before) {
                Label::DateNaissance
            } else {
                Label::Date
            };
            push(out, s, e, label, 82);
        }
        for m in p.age.find_iter(text) {
            let digits = m.as_str().bytes().take_while(u8::is_ascii_digit).count();
            let before = lower_before(text, m.start(), 3);
            if before.ends_with('/') || before.ends_with(',') {
                continue;
            }
            push(out, m.start(), m.start() + digits, Label::Age, 40);
        }
        for m in p.address.find_iter(text) {
            let s = m.as_str();
            let has_num = s.as_bytes()[0].is_ascii_digit();
            let first_alpha =
                s.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ' || c == ',');
            let type_word: String = first_alpha
                .chars()
                .take_while(|c| c.is_alphabetic())
                .collect();
            let tw = fold(&type_word);
            let cap_type = type_word.chars().next().is_some_and(|c| c.is_uppercase());
            let strong = matches!(
                tw.as_str(),
                "rue"
                    | "avenue"
                    | "boulevard"
                    | "bd"
                    | "impasse"
                    | "allee"
                    | "quai"
                    | "chemin"
                    | "square"
                    | "residence"
                    | "lotissement"
                    | "lieu"
                    | "hameau"
                    | "faubourg"
                    | "ruelle"
                    | "venelle"
                    | "cite"
                    | "villa"
            );
            if !(has_num || cap_type || strong) {
                continue;
            }
            let full = extend_proper(text, m.end(), 6, STREET_LINKS);
            let end = m.start() + trim_name_end(&text[m.start()..full]);
            push(out, m.start(), end, Label::Adresse, 84);
        }
        for m in p.zip_city.find_iter(text) {
            let z = (m.start(), m.start() + 5);
            let last = m.as_str().chars().next_back().map_or(1, char::len_utf8);
            let city_start = m.end() - last;
            let city_end = city_run(text, city_start);
            let city_text = &text[city_start..city_end];
            let (mut clen, known) = self.city_prefix(city_text);
            // Complete a hyphenated name whose head alone is listed.
            while known && city_text[clen..].starts_with('-') {
                let rest = &city_text[clen + 1..];
                let w = rest.find([' ', '-']).unwrap_or(rest.len());
                if w == 0 {
                    break;
                }
                clen += 1 + w;
            }
            let line_start = z.0 - line_prefix(text, z.0).len();
            let prev_start = text[..line_start.saturating_sub(1)]
                .rfind('\n')
                .map_or(0, |p| p + 1);
            let line_before = if line_prefix(text, z.0).trim().is_empty() {
                &text[prev_start.min(z.0)..z.0]
            } else {
                line_prefix(text, z.0)
            };
            let lb = fold(line_before);
            let address_ctx = lb.contains("rue")
                || lb.contains("avenue")
                || lb.contains("bd")
                || lb.contains("boulevard")
                || lb.contains("chemin")
                || lb.contains("cp")
                || lb.contains("code postal")
                || lb.contains("adresse")
                || lb.contains("bp")
                || lb.contains(',')
                || lb.contains("domicil")
                || lb.contains("allee")
                || lb.contains("place")
                || lb.contains("route")
                || lb.contains("impasse")
                || lb.contains("cedex");
            if known || address_ctx {
                push(out, z.0, z.1, Label::Zip, 75);
                let cl = if known { clen } else { trim_city(city_text) };
                if cl > 0 {
                    push(out, city_start, city_start + cl, Label::Ville, 74);
                }
            }
        }
        for m in p.hospital.find_iter(text) {
            let full = extend_proper(text, m.end(), 5, HOSPITAL_LINKS);
            let end = m.start() + trim_name_end(&text[m.start()..full]);
            if self.hospital_ok(text, m.start(), end) {
                push(out, m.start(), end, Label::Hopital, 72);
            }
        }
        for m in p.hospital_names.find_iter(text) {
            let before = lower_before(text, m.start(), 30);
            let w: Vec<&str> = before.split_whitespace().collect();
            let eponym = w.len() >= 2
                && matches!(w[w.len() - 1], "de" | "du")
                && self.d.eponym_heads.contains(&fold(w[w.len() - 2]));
            let street = w.last().is_some_and(|x| {
                matches!(
                    fold(x).trim_end_matches('.'),
                    "rue"
                        | "avenue"
                        | "av"
                        | "boulevard"
                        | "place"
                        | "bd"
                        | "allee"
                        | "quai"
                        | "square"
                        | "impasse"
                        | "cours"
                        | "chemin"
                        | "route"
                )
            });
            let in_town =
                text[..m.start()].ends_with("Kremlin-") || text[..m.start()].ends_with("Kremlin ");
            if !eponym && !street && !in_town {
                push(out, m.start(), m.end(), Label::Hopital, 60);
            }
        }
    }

    fn hospital_ok(&self, text: &str, s: usize, e: usize) -> bool {
        // The name part must carry a capitalised word that is not merely a
        // service or specialty ("Hôpital de jour", "clinique Cardiologie").
        const TYPE_WORDS: &[&str] = &[
            "centre",
            "hospitalier",
            "hospitaliere",
            "universitaire",
            "regional",
            "intercommunal",
            "specialise",
            "departemental",
            "groupe",
            "groupement",
            "hopital",
            "hopitaux",
            "clinique",
            "polyclinique",
            "institut",
            "maternite",
            "ehpad",
            "prive",
            "privee",
            "public",
            "militaire",
            "psychiatrique",
            "pediatrique",
            "geriatrique",
            "local",
            "mutualiste",
            "maison",
            "sante",
            "retraite",
            "medical",
            "reeducation",
            "service",
            "pole",
            "unite",
            "departement",
            "chu",
            "ch",
            "chr",
            "chru",
        ];
        let t = &text[s..e];
        let caps_line = mostly_upper(line_of(text, s));
        t.split([' ', '\'', '’', '-']).skip(1).any(|w| {
            let f = fold(w.trim_end_matches('.'));
            let capitalised = w.chars().next().is_some_and(|c| c.is_uppercase());
            let generic = self.d.medical.contains(&f)
                || TYPE_WORDS.contains(&f.as_str())
                || (caps_line && self.d.common_words.contains(&f));
            capitalised && !generic
        })
    }

    /// Longest prefix of a capitalised word sequence that is a commune;
    /// returns its byte length and whether one was found.
    fn city_prefix(&self, s: &str) -> (usize, bool) {
        let mut ends: Vec<usize> = Vec::new();
        for (i, c) in s.char_indices() {
            if c == ' ' || c == '-' {
                ends.push(i);
            }
        }
        ends.push(s.len());
        for &e in ends.iter().rev() {
            let cand = &s[..e];
            let key = commune_key(cand);
            if self.d.communes.contains(&key) || self.big_cities.contains(&key) {
                return (e, true);
            }
        }
        (0, false)
    }

    /// Names, initials, first names, cities from chunk context.
    fn names_and_places(&self, text: &str, ch: &[Chunk], out: &mut Vec<Cand>) {
        let n = ch.len();
        let mut label: Vec<Option<Label>> = vec![None; n];
        let mut strong: Vec<bool> = vec![false; n];
        let mut i = 0;
        while i < n {
            let c = &ch[i];
            let particle_after_title = !c.namey()
                && c.w.particle()
                && i > 0
                && ch[i - 1].w.strong_title()
                && title_gap(gap(text, ch, i - 1))
                && i + 1 < ch.len()
                && (ch[i + 1].cap || ch[i + 1].upper || ch[i + 1].w.particle())
                && !ch[i + 1].w.title();
            if (!c.namey() && !particle_after_title) || label[i].is_some() {
                i += 1;
                continue;
            }
            // A town after "à" ("à Nancy", "à La Rochelle") or a multi-word
            // big town wins over a first-name reading.
            if c.cap || c.upper {
                let after_a = i > 0
                    && matches!(ch[i - 1].f.as_ref(), "a" | "à")
                    && gap(text, ch, i - 1) == " ";
                let worth = after_a || self.big_city_heads.contains(c.f.as_ref());
                if let Some(end) = if worth {
                    self.match_city(text, ch, i, after_a)
                } else {
                    None
                } {
                    let multi = end > i + 1;
                    let name_follows = end < ch.len()
                        && gap(text, ch, end - 1) == " "
                        && (ch[end].cap || ch[end].upper)
                        && !ch[end].w.common();
                    if (after_a || multi) && !name_follows && !self.eponym_context(ch, i) {
                        out.push(Cand {
                            s: ch[i].s,
                            e: ch[end - 1].e,
                            label: Label::Ville,
                            prio: 55,
                        });
                        for l in label.iter_mut().take(end).skip(i) {
                            *l = Some(Label::Ville);
                        }
                        i = end;
                        continue;
                    }
                }
            }
            let trig = if particle_after_title {
                Some(Trigger::Title)
            } else {
                self.trigger(text, ch, i)
            };
            if let Some(t) = trig {
                // Capitalised particles just before belong to the name ("LE GALL", "Da Silva").
                let mut st = i;
                while st > 0
                    && label[st - 1].is_none()
                    && (ch[st - 1].upper || ch[st - 1].cap)
                    && ch[st - 1].w.particle()
                    && gap(text, ch, st - 1) == " "
                {
                    st -= 1;
                }
                let end = self.extend_sequence(text, ch, i, t);
                if end > i {
                    self.assign(ch, st, end, t, &mut label);
                    for s in strong.iter_mut().take(end).skip(st) {
                        *s = t.strong();
                    }
                    i = end;
                    continue;
                }
            }
            i += 1;
        }
        // Propagation: a name seen once is a name everywhere in the text.
        let mut known: Vec<(String, Label)> = Vec::new();
        for k in 0..n {
            if let Some(l) = label[k] {
                let f = &ch[k].f;
                if f.chars().count() >= 3
                    && !self.particles.contains(f.as_ref())
                    && !self.d.common_words.contains(f.as_ref())
                    && !known.iter().any(|(x, _)| x == f)
                {
                    known.push((f.to_string(), l));
                }
            }
        }
        if !known.is_empty() {
            for k in 0..n {
                if label[k].is_some() || !(ch[k].cap || ch[k].upper) {
                    continue;
                }
                if let Some((_, l)) = known.iter().find(|(x, _)| *x == ch[k].f) {
                    if !self.eponym_context(ch, k) {
                        label[k] = Some(*l);
                    }
                }
            }
        }
        // Cities introduced by a preposition or a residence verb.
        let mut k = 0;
        while k < n {
            if label[k].is_some() || !(ch[k].cap || ch[k].upper) {
                k += 1;
                continue;
            }
            let prev = if k > 0 { ch[k - 1].f.as_ref() } else { "" };
            let gap_ok = k > 0
                && gap(text, ch, k - 1)
                    .chars()
                    .all(|c| c == ' ' || c == '\'' || c == '’');
            let dateline = text[ch[k].ls..ch[k].s].trim().is_empty()
                && line_of(text, ch[k].s).contains(", le ");
            let ctx = dateline
                || gap_ok
                    && matches!(
                        prev,
                        "a" | "de"
                            | "d'"
                            | "depuis"
                            | "vers"
                            | "habite"
                            | "domicilie"
                            | "domiciliee"
                            | "originaire"
                            | "resident"
                            | "residente"
                            | "residant"
                            | "vit"
                            | "sur"
                            | "pres"
                            | "commune"
                            | "ville"
                            | "demeurant"
                    );
            let worth = ctx || self.big_city_heads.contains(ch[k].f.as_ref());
            if let Some(end) = if worth {
                self.match_city(text, ch, k, ctx)
            } else {
                None
            } {
                let eponym = self.eponym_context(ch, k);
                if !eponym {
                    out.push(Cand {
                        s: ch[k].s,
                        e: ch[end - 1].e,
                        label: Label::Ville,
                        prio: 55,
                    });
                    for l in label.iter_mut().take(end).skip(k) {
                        *l = Some(Label::Ville);
                    }
                    k = end;
                    continue;
                }
            }
            k += 1;
        }
        // Emit name spans, merging neighbours of the same label.
        let mut k = 0;
        while k < n {
            let Some(l) = label[k] else {
                k += 1;
                continue;
            };
            if l == Label::Ville {
                k += 1;
                continue;
            }
            let mut e = k + 1;
            while e < n && label[e] == Some(l) {
                let g = gap(text, ch, e - 1);
                if g == " " || g == "-" || g == "'" || g == "’" {
                    e += 1;
                } else {
                    break;
                }
            }
            let prio = if strong[k] { 58 } else { 50 };
            let mut end = ch[e - 1].e;
            // Keep the period of an initial inside the span ("J.").
            if ch[e - 1].initial && text[end..].starts_with('.') {
                end += 1;
            }
            out.push(Cand {
                s: ch[k].s,
                e: end,
                label: l,
                prio,
            });
            k = e;
        }
    }

    fn match_city(&self, text: &str, ch: &[Chunk], k: usize, ctx: bool) -> Option<usize> {
        let mut best = None;
        let mut key = String::new();
        for end in k..(k + 6).min(ch.len()) {
            if end > k {
                let g = gap(text, ch, end - 1);
                if !(g == " " || g == "-" || g == "'" || g == "’") {
                    break;
                }
                key.push('-');
            }
            let c = &ch[end];
            if !(c.cap
                || c.upper
                || (end > k && c.w.particle())
                || (end > k
                    && matches!(
                        c.f.as_ref(),
                        "sur" | "sous" | "en" | "les" | "les-" | "lez" | "l'" | "aux" | "au" | "et"
                    )))
            {
                break;
            }
            key.push_str(c.f.trim_end_matches('\''));
            let kk = commune_key(&key);
            let last_ok = c.cap || c.upper;
            if !last_ok {
                continue;
            }
            let big = self.big_cities.contains(&kk);
            if big || (ctx && self.d.communes.contains(&kk)) {
                best = Some(end + 1);
            }
        }
        if best.is_none()
            && ctx
            && ch[k].cap
            && ch[k].f.contains('-')
            && ch[k].w.first_name().is_none()
        {
            // A hyphenated town missing from the list ("Évry-Courcouronnes"):
            // accepted after a place context when its head is a commune.
            let w = &text[ch[k].s..ch[k].e];
            let parts: Vec<&str> = w.split('-').collect();
            let head = commune_key(parts[0]);
            let shape = parts.iter().all(|p| {
                p.chars().next().is_some_and(|c| c.is_uppercase())
                    || matches!(
                        fold(p).as_str(),
                        "sur"
                            | "sous"
                            | "en"
                            | "les"
                            | "le"
                            | "la"
                            | "de"
                            | "du"
                            | "des"
                            | "lez"
                            | "aux"
                            | "et"
                    )
            });
            let linked = parts.len() >= 3
                && parts[1..parts.len() - 1].iter().any(|p| {
                    matches!(
                        fold(p).as_str(),
                        "sur"
                            | "sous"
                            | "en"
                            | "les"
                            | "lez"
                            | "le"
                            | "la"
                            | "de"
                            | "du"
                            | "des"
                            | "aux"
                    )
                });
            if shape && (self.d.communes.contains(&head) || head.starts_with("saint") || linked) {
                best = Some(k + 1);
            }
        }
        let end = best?;
        if end == k + 1 {
            let f = &ch[k].f;
            if self.d.common_words.contains(f.as_ref()) || f.len() < 3 {
                return None;
            }
            // A bare first name after "de" is a filiation, not a town.
            if ch[k - usize::from(k > 0)].f == "de"
                && self.d.first_names.contains_key(f.as_ref())
                && !self.big_cities.contains(f.as_ref())
            {
                return None;
            }
        }
        Some(end)
    }

    /// Decides whether chunk `i` opens a name, and how strongly.
    fn trigger(&self, text: &str, ch: &[Chunk], i: usize) -> Option<Trigger> {
        let c = &ch[i];
        let initial_after_title =
            c.initial && i > 0 && ch[i - 1].w.strong_title() && title_gap(gap(text, ch, i - 1));
        let compound_initial = c.initial && text[c.e..].starts_with(".-");
        if (c.w.title() && !initial_after_title && !compound_initial)
            || ((c.w.greeting() || c.w.closing()) && !c.upper)
        {
            return None;
        }
        // 1. Title right before ("M. Dupont", "Dr J. Martin", "Mme DUPONT").
        if i > 0 {
            let t = &ch[i - 1];
            let g = gap(text, ch, i - 1);
            let family_comma = g == ", "
                && matches!(
                    t.f.as_ref(),
                    "fille"
                        | "fils"
                        | "epouse"
                        | "epoux"
                        | "mari"
                        | "femme"
                        | "frere"
                        | "soeur"
                        | "mere"
                        | "pere"
                        | "compagnon"
                        | "compagne"
                        | "conjoint"
                        | "conjointe"
                        | "neveu"
                        | "niece"
                        | "tuteur"
                        | "tutrice"
                );
            if t.w.title()
                && (title_gap(g) || family_comma)
                && !(t.f == "m" && !g.starts_with('.') && !c.upper)
                && !(t.initial && t.f != "m")
            {
                let is_strong =
                    t.w.strong_title() && (t.cap || t.upper || t.initial || t.f == "mme");
                if is_strong {
                    return Some(Trigger::Title);
                }
                let initial_ok = c.initial && text[c.e..].starts_with('.');
                // "interne. Introduction": a weak title ends a sentence.
                let plain_gap = g == " " || family_comma;
                let fn_cap = c.cap && c.w.first_name().is_some_and(|f| f.rank < 1500);
                if plain_gap
                    && (c.cap || c.upper || initial_ok)
                    && (!c.w.common() || fn_cap)
                    && !c.w.title()
                    && !self.eponym_context(ch, i)
                {
                    return Some(Trigger::WeakTitle);
                }
            }
        }
        // 2. Field label ("Nom : ", "Rédigé par ").
        if let Some(kind) = self.field_before(text, ch, i) {
            let name_like = c.w.first_name().is_some()
                && i + 1 < ch.len()
                && gap(text, ch, i) == " "
                && (ch[i + 1].upper || ch[i + 1].cap);
            if !c.w.common()
                || c.upper
                || name_like
                || matches!(kind, Trigger::FieldNom | Trigger::FieldPrenom)
            {
                return Some(kind);
            }
        }
        // 3. Greeting ("Bonjour Julie,").
        if i > 0
            && gap(text, ch, i - 1) == " "
            && ch[i - 1].w.greeting()
            && c.cap
            && !c.w.common()
            && !c.w.title()
        {
            return Some(Trigger::Greeting);
        }
        // 4. Signature after a closing formula.
        if !c.w.closing()
            && !c.w.greeting()
            && self.after_closing(text, ch, i)
            && (!c.w.common() || c.w.first_name().is_some())
            && !c.w.title()
        {
            return Some(Trigger::Signature);
        }
        if self.eponym_context(ch, i) || c.w.eponym() {
            return None;
        }
        // 5. First name from the dictionary.
        // A first name that is also a word ("Rose", "Pierre") needs a
        // capitalised name right after it.
        let common_fn = c.w.common()
            && c.cap
            && i + 1 < ch.len()
            && gap(text, ch, i) == " "
            && (ch[i + 1].upper || (ch[i + 1].cap && !ch[i + 1].w.common()));
        if (c.cap || c.upper) && (!c.w.common() || common_fn) && !c.w.title() {
            if let Some(fnm) = c.w.first_name() {
                let next_particle = i + 2 < ch.len()
                    && gap(text, ch, i) == " "
                    && ch[i + 1].w.particle()
                    && !ch[i + 1].cap
                    && gap(text, ch, i + 1) == " "
                    && (ch[i + 2].cap || ch[i + 2].upper || ch[i + 2].w.particle());
                let next_namey = next_particle
                    || i + 1 < ch.len() && gap(text, ch, i) == " " && {
                        let nx = &ch[i + 1];
                        (nx.cap || nx.upper || nx.initial) && (!nx.w.common() || nx.upper)
                    };
                let after_a = i > 0
                    && matches!(ch[i - 1].f.as_ref(), "a" | "à")
                    && gap(text, ch, i - 1) == " ";
                let town = after_a
                    && (self.d.communes.contains(&commune_key(&c.f))
                        || self.big_cities.contains(c.f.as_ref()));
                if (next_namey && !town) || (fnm.rank < 1500 && c.cap && !town) {
                    return Some(Trigger::FirstName);
                }
            }
        }
        // 6. Upper-case surname from the dictionary ("DUPONT").
        // Short upper-case words are mostly acronyms ("l'IVA", "HER2").
        let acronym_like = c.f.chars().count() < 4
            || text[c.e..].starts_with(|x: char| x.is_ascii_digit())
            || (i > 0 && ch[i - 1].f.ends_with('\'') && gap(text, ch, i - 1).is_empty());
        if c.upper
            && c.f.chars().count() >= 3
            && !c.w.common()
            && (c.w.surname_rank() < 60_000)
            && (!acronym_like || self.neighbour_first_name(text, ch, i))
        {
            let line = line_of(text, c.s);
            if !mostly_upper(line) || self.neighbour_first_name(text, ch, i) {
                return Some(Trigger::UpperSurname);
            }
        }
        // 6a. An upper-case word that is not an acronym, in mixed-case text:
        // writers capitalise surnames ("le patient de la 14 (PLESSARD)").
        if c.upper
            && c.f.chars().count() >= 5
            && !c.w.common()
            && !c.w.medical()
            && c.f
                .chars()
                .any(|x| matches!(x, 'a' | 'e' | 'i' | 'o' | 'u' | 'y'))
            && c.f.split('-').all(|p| p.chars().count() >= 4)
            && !mostly_upper(line_of(text, c.s))
            && !text[c.e..].starts_with(|x: char| x.is_ascii_digit() || x == '-')
        {
            return Some(Trigger::UpperSurname);
        }
        // 6b. "OUEDRAGO Aldric": any upper-case word followed by a first name.
        if c.upper
            && c.f.chars().count() >= 3
            && !c.w.common()
            && i + 1 < ch.len()
            && gap(text, ch, i) == " "
            && ch[i + 1].cap
            && !ch[i + 1].w.common()
            && ch[i + 1].w.first_name().is_some_and(|f| f.rank < 5000)
        {
            return Some(Trigger::UpperSurname);
        }
        // 7. "Dupont Marie": a surname followed by a frequent first name.
        if c.cap
            && i + 1 < ch.len()
            && gap(text, ch, i) == " "
            && !c.w.common()
            && (c.w.surname_rank() < 60_000)
        {
            let nx = &ch[i + 1];
            if nx.cap && !nx.w.common() && nx.w.first_name().is_some_and(|f| f.rank < 2000) {
                return Some(Trigger::FirstName);
            }
        }
        None
    }

    fn neighbour_first_name(&self, text: &str, ch: &[Chunk], i: usize) -> bool {
        let is_fn = |k: usize| ch[k].initial || (ch[k].cap && ch[k].w.first_name().is_some());
        (i > 0 && gap(text, ch, i - 1) == " " && is_fn(i - 1))
            || (i + 1 < ch.len() && gap(text, ch, i) == " " && is_fn(i + 1))
    }

    fn eponym_context(&self, ch: &[Chunk], i: usize) -> bool {
        if i >= 2
            && matches!(ch[i - 1].f.as_ref(), "de" | "du" | "d'" | "des")
            && ch[i - 2].w.eponym_head()
        {
            return true;
        }
        if i >= 1 && ch[i - 1].w.eponym_head() && !ch[i - 1].cap {
            return true;
        }
        if ch[i].w.eponym() {
            // "Parkinson" alone is the disease; "M. Parkinson" was handled
            // by the title rule before this check.
            return true;
        }
        false
    }

    fn field_before(&self, text: &str, ch: &[Chunk], i: usize) -> Option<Trigger> {
        if i == 0 {
            return None;
        }
        let g = gap(text, ch, i - 1);
        // Table cells ("Patient | DUPONT | Jean") work like "label :".
        let colon = g.contains(':') || g.contains('|');
        if g.contains('\n') && !colon {
            return None;
        }
        let list_sep = ((g.contains(',') || g.contains(';') || g.contains('|')) && g.len() <= 4)
            || (ch[i - 1].f == "et" && g == " ");
        // "Patient(e) :" — skip the inclusive "(e)".
        let i = if ch[i - 1].f == "e" && i >= 2 && gap(text, ch, i - 2) == "(" && colon {
            i - 1
        } else {
            i
        };
        if !colon && ch[i - 1].f != "par" && !list_sep {
            return None;
        }
        let mut phrase = String::new();
        for back in 1..=4usize {
            if back > i {
                break;
            }
            let k = i - back;
            if back > 1 {
                let gg = gap(text, ch, k);
                if gg != " " && gg != "'" && gg != "’" {
                    break;
                }
                phrase = format!("{}{}{}", ch[k].f, if gg == " " { " " } else { "'" }, phrase);
            } else {
                phrase = ch[k].f.to_string();
            }
            let phrase_ok = self.field_phrases.contains(&phrase);
            let par = phrase.ends_with(" par") || phrase == "par";
            if (phrase_ok && colon) || (par && phrase_ok && g.trim() == "") {
                if phrase.starts_with("prenom") {
                    return Some(Trigger::FieldPrenom);
                }
                if phrase.starts_with("nom") {
                    return Some(Trigger::FieldNom);
                }
                return Some(Trigger::Field);
            }
        }
        // Continuation of a list of names on the same line ("Présents : A, B et C").
        if list_sep {
            let line = &text[ch[i].ls..ch[i].s];
            if let Some(pos) = line.find([':', '|']) {
                let head = fold(line[..pos].trim());
                let head = head.trim_start_matches(['-', '*', ' ']).to_string();
                if self.field_phrases.contains(&head)
                    && !head.starts_with("nom")
                    && !head.starts_with("prenom")
                {
                    return Some(Trigger::Field);
                }
            }
        }
        None
    }

    fn after_closing(&self, text: &str, ch: &[Chunk], i: usize) -> bool {
        // The previous line (or the same line before a comma) is a closing formula.
        // Cheap guard: the word just before must end a closing formula.
        if i == 0 || !ch[i - 1].w.closing_end() {
            return false;
        }
        let before = &text[..ch[i].s];
        let same_line = &text[ch[i].ls..ch[i].s];
        let first_on_line = same_line.trim().is_empty();
        if !first_on_line {
            // "... Merci ! Julie", "Bises Kaelig", "Cordialement, Jean".
            let t = same_line
                .trim_end()
                .trim_end_matches([',', '!', '.', ' ', '-']);
            let words: Vec<&str> = t.rsplit(|c: char| c.is_whitespace()).take(3).collect();
            let mut phrase = String::new();
            for w in words {
                phrase = if phrase.is_empty() {
                    fold(w)
                } else {
                    format!("{} {}", fold(w), phrase)
                };
                if self
                    .closings
                    .contains(phrase.trim_matches(|c: char| !c.is_alphanumeric()))
                {
                    return true;
                }
            }
            return false;
        }
        let candidate = if same_line.trim().is_empty() {
            let trimmed = before.trim_end();
            let start = trimmed.rfind('\n').map_or(0, |p| p + 1);
            &trimmed[start..]
        } else {
            same_line
        };
        let cand = candidate.trim().trim_end_matches([',', '.', '!', ' ', '-']);
        if cand.len() > 60 {
            return false;
        }
        let f = fold(cand);
        if f.is_empty() {
            return false;
        }
        self.closings.contains(&f)
            || (f
                .split(',')
                .next()
                .is_some_and(|x| self.closings.contains(x.trim()))
                && same_line.trim().ends_with(','))
    }

    /// Extends a name that starts at `i`; returns the end chunk (exclusive).
    fn extend_sequence(&self, text: &str, ch: &[Chunk], i: usize, t: Trigger) -> usize {
        let mut end = i + 1;
        let mut k = i + 1;
        let mut after_particle = ch[i].w.particle();
        while k < ch.len() && k < i + 7 {
            let g = gap(text, ch, k - 1);
            let prev_initial = ch[k - 1].initial;
            let gap_ok = g == " "
                || (g.is_empty() && ch[k - 1].f.ends_with('\''))
                || (prev_initial && (g == ". " || g == "." || g == ".-" || g == ".- "))
                || g == "'"
                || g == "’";
            if !gap_ok {
                break;
            }
            let c = &ch[k];
            if c.w.title() && (c.cap || c.upper) && gap(text, ch, k) != " " {
                // "Dr" followed by a period opens another name.
                break;
            }
            if c.w.particle() {
                // Particles belong to the name only if a name word follows them.
                let mut m = k;
                while m < ch.len() && ch[m].w.particle() && m < k + 3 {
                    if !matches!(gap(text, ch, m), " " | "'" | "’" | "") {
                        break;
                    }
                    m += 1;
                }
                if m < ch.len()
                    && m > k
                    && ch[m - 1].w.particle()
                    && (ch[m].cap || ch[m].upper)
                    && !ch[m].w.title()
                {
                    k = m;
                    after_particle = true;
                    continue;
                }
                break;
            }
            if !c.namey() {
                break;
            }
            // A common word ends the name, unless a particle announced it
            // ("de La Tour") or it is a frequent surname after a first name
            // ("Baptiste Petit").
            let prev_first = ch[k - 1].cap && ch[k - 1].w.first_name().is_some();
            let frequent_surname = c.w.surname_rank() < 5000;
            if c.cap
                && c.w.common()
                && c.w.first_name().is_none()
                && !after_particle
                && !(prev_first && frequent_surname)
            {
                break;
            }
            if c.upper && c.w.medical() && !after_particle {
                break;
            }
            after_particle = false;
            k += 1;
            end = k;
        }
        // A lone initial after a weak trigger is noise ("A" at a line start).
        if end == i + 1
            && ch[i].initial
            && !matches!(
                t,
                Trigger::Title | Trigger::Field | Trigger::FieldNom | Trigger::FieldPrenom
            )
        {
            return i;
        }
        if end == i + 1
            && ch[i].initial
            && (i + 1 >= ch.len() || !text[ch[i].e..].starts_with('.'))
            && t != Trigger::FieldPrenom
        {
            return i;
        }
        end
    }

    fn assign(&self, ch: &[Chunk], s: usize, e: usize, t: Trigger, label: &mut [Option<Label>]) {
        let idx: Vec<usize> = (s..e)
            .filter(|&k| !ch[k].w.particle() || ch[k].initial || (ch[k].upper && ch[k].f.len() > 3))
            .collect();
        if idx.is_empty() {
            return;
        }
        let is_fn = |k: usize| ch[k].initial || (!ch[k].upper && ch[k].w.first_name().is_some());
        let any_upper = idx.iter().any(|&k| ch[k].upper && !ch[k].initial);
        let any_cap = idx.iter().any(|&k| ch[k].cap);
        let mut labs: Vec<Label> = vec![Label::Nom; idx.len()];
        match t {
            Trigger::FieldPrenom => labs.iter_mut().for_each(|l| *l = Label::Prenom),
            Trigger::FieldNom if !(any_upper && any_cap) => {}
            _ => {
                if any_upper && any_cap {
                    for (j, &k) in idx.iter().enumerate() {
                        labs[j] = if ch[k].upper && !ch[k].initial {
                            Label::Nom
                        } else {
                            Label::Prenom
                        };
                    }
                } else if idx.len() == 1 {
                    let k = idx[0];
                    labs[0] = match t {
                        Trigger::Title | Trigger::UpperSurname | Trigger::FieldNom => Label::Nom,
                        _ => {
                            if is_fn(k) {
                                Label::Prenom
                            } else {
                                Label::Nom
                            }
                        }
                    };
                    if ch[k].initial {
                        labs[0] = Label::Prenom;
                    }
                } else {
                    let first = idx[0];
                    let last = *idx.last().unwrap_or(&first);
                    if is_fn(first) {
                        // Leading run of first names, the rest is the surname.
                        let mut j = 0;
                        while j + 1 < idx.len()
                            && is_fn(idx[j])
                            && (ch[idx[j]].initial || !(ch[idx[j + 1]].initial))
                        {
                            labs[j] = Label::Prenom;
                            j += 1;
                        }
                        if j == 0 {
                            labs[0] = Label::Prenom;
                        }
                    } else if is_fn(last)
                        && !ch[last].initial
                        && ch[first].w.surname_rank() < 60_000
                    {
                        // "Dupont Marie": a known surname, then a first name.
                        let n = labs.len();
                        labs[n - 1] = Label::Prenom;
                    } else if (t != Trigger::FieldNom && ch[first].initial)
                        || matches!(t, Trigger::Title | Trigger::WeakTitle | Trigger::Field)
                    {
                        labs[0] = Label::Prenom;
                    }
                    for (j, &k) in idx.iter().enumerate() {
                        if ch[k].initial {
                            labs[j] = Label::Prenom;
                        }
                    }
                    // "Minh P.": an initial after a first name stands for the surname.
                    let n = idx.len();
                    if n >= 2
                        && ch[idx[n - 1]].initial
                        && !ch[idx[n - 2]].initial
                        && labs[n - 2] == Label::Prenom
                    {
                        labs[n - 1] = Label::Nom;
                    }
                }
            }
        }
        // Particles take the label of the following word.
        let mut j = 0;
        for (k, slot) in label.iter_mut().enumerate().take(e).skip(s) {
            if j < idx.len() && idx[j] == k {
                *slot = Some(labs[j]);
                j += 1;
            } else {
                *slot = Some(if j < labs.len() { labs[j] } else { Label::Nom });
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Title,
    WeakTitle,
    Field,
    FieldNom,
    FieldPrenom,
    Greeting,
    Signature,
    FirstName,
    UpperSurname,
}

impl Trigger {
    fn strong(self) -> bool {
        matches!(
            self,
            Trigger::Title
                | Trigger::Field
                | Trigger::FieldNom
                | Trigger::FieldPrenom
                | Trigger::Signature
        )
    }
}

/// End of a town name after a postcode: capitalised words and the link
/// words of French town names ("Saint-Jean-de-Luz", "Aix-en-Provence").
fn city_run(text: &str, start: usize) -> usize {
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

const STREET_LINKS: &[&str] = &[
    "de", "du", "des", "d'", "d’", "l'", "l’", "la", "le", "les", "et", "sur", "sous", "en", "à",
    "au", "aux", "lès", "lez", "dit", "dite",
];
const HOSPITAL_LINKS: &[&str] = &["de", "du", "des", "d'", "d’", "l'", "l’", "la", "le", "les"];

/// Length of a proper-name word at the start of `s` (capitalised letters
/// with inner hyphens/apostrophes, optional final period), or of a small
/// number with an ordinal suffix; 0 if none.
fn proper_word(s: &str) -> usize {
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
fn extend_proper(text: &str, mut pos: usize, max: usize, links: &[&str]) -> usize {
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
fn birth_dates_after_names(text: &str, spans: &mut [(usize, usize, Label)]) {
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

fn title_gap(g: &str) -> bool {
    matches!(g, " " | ". " | "." | " : " | ": " | "\u{a0}" | ".\u{a0}")
        || (g.len() <= 3 && g.chars().all(|c| c == ' ' || c == '.'))
}

fn gap<'a>(text: &'a str, ch: &[Chunk], k: usize) -> &'a str {
    if k + 1 < ch.len() {
        &text[ch[k].e..ch[k + 1].s]
    } else {
        &text[ch[k].e..]
    }
}

fn floor_char(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Lower-cased text of up to `n` bytes before `pos`.
fn lower_before(text: &str, pos: usize, n: usize) -> String {
    text[floor_char(text, pos.saturating_sub(n))..pos].to_lowercase()
}

fn line_prefix(text: &str, pos: usize) -> &str {
    let start = text[..pos].rfind('\n').map_or(0, |p| p + 1);
    &text[start..pos]
}

fn line_of(text: &str, pos: usize) -> &str {
    let start = text[..pos].rfind('\n').map_or(0, |p| p + 1);
    let end = text[pos..].find('\n').map_or(text.len(), |p| pos + p);
    &text[start..end]
}

/// A header line ("COMPTE RENDU OPÉRATOIRE") where capitals mean nothing.
fn mostly_upper(line: &str) -> bool {
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

fn plausible_num_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split(['/', '.', '-']).map(|p| p.trim()).collect();
    if parts.len() != 3 {
        return false;
    }
    // "1.5.20"-like version numbers are rare in clinical text, but a
    // two-digit year with dots and a one-digit day is more often a value.
    let dots = s.contains('.');
    !(dots && parts[0].len() == 1 && parts[1].len() == 1)
}

fn trim_name_end(s: &str) -> usize {
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

fn trim_city(s: &str) -> usize {
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
fn chunks(text: &str) -> Vec<Chunk<'_>> {
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

fn make_chunk(text: &str, s: usize, e: usize) -> Chunk<'_> {
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
