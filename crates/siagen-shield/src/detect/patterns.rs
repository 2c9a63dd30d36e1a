//! The compiled regular expressions of the structured identifiers.

use regex::Regex;

/// ASCII word boundary: keeps the regex engine on its fast DFA path on
/// non-ASCII text (a Unicode `\b` would force a slower engine).
pub(super) fn re(pattern: &str) -> Regex {
    // ASCII digits: Unicode `\d` (hundreds of code points) bloats the DFA.
    let p = pattern.replace(r"\b", r"(?-u:\b)").replace(r"\d", "[0-9]");
    Regex::new(&p).unwrap_or_else(|e| panic!("built-in pattern must compile: {e}\n{p}"))
}

pub(super) struct Patterns {
    pub(super) mail: Regex,
    pub(super) url: Regex,
    pub(super) nir: Regex,
    pub(super) iban: Regex,
    pub(super) tel: Regex,
    pub(super) long_digits: Regex,
    pub(super) id_context: Regex,
    /// All date shapes in one automaton (one pass over the text); each
    /// match is classified afterwards.
    pub(super) dates: Regex,
    pub(super) birth_before: Regex,
    pub(super) age: Regex,
    pub(super) address: Regex,
    pub(super) zip_city: Regex,
    pub(super) hospital: Regex,
    pub(super) hospital_names: Regex,
}

pub(super) const MONTHS: &str = r"(?:janvier|janv|f[ée]vrier|f[ée]vr|f[ée]v|mars|avril|avr|mai|juin|juillet|juil|ao[uû]t|septembre|sept|octobre|oct|novembre|nov|d[ée]cembre|d[ée]c)";
pub(super) const MONTHS_FULL: &str = r"(?:janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[uû]t|septembre|octobre|novembre|d[ée]cembre)";
/// A capitalised word of a proper name (street, city, hospital).
pub(super) const PROPER: &str =
    r"(?:[\p{Lu}][\p{L}\p{M}]*(?:['’\-][\p{L}\p{M}]+)*\.?|\d{1,4}(?:e|er|ème)?\b)";
pub(super) const LINKS: &str =
    r"(?:de|du|des|d['’]|l['’]|la|le|les|et|sur|sous|en|à|au|aux|lès|lez|dit|dite)";

impl Patterns {
    pub(super) fn new() -> Patterns {
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
