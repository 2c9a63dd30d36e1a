//! Structured identifiers: NIR, IBAN, cards, phones, e-mails, IPP/NDA, dates, addresses, hospitals.

use super::*;
use crate::dict::{commune_key, fold};
use crate::validate::{iban_is_valid, luhn_is_valid, nir_is_valid};
use crate::Label;

impl Shield {
    pub(super) fn structured(&self, text: &str, out: &mut Vec<Cand>) {
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

    pub(super) fn hospital_ok(&self, text: &str, s: usize, e: usize) -> bool {
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
    pub(super) fn city_prefix(&self, s: &str) -> (usize, bool) {
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
}
