//! Surrogate values that keep the format of what they replace: a phone
//! stays a phone with the same layout, a NIR stays a valid NIR, a date
//! moves by the patient's offset and keeps its writing.

use rand::seq::SliceRandom;
use rand::Rng;

use crate::dict::{fold, title_case, Dicts};
use crate::validate::{iban_complete, luhn_complete, nir_key};
use crate::Label;

const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];
const STREETS: &[&str] = &[
    "rue des Lilas",
    "rue des Acacias",
    "avenue des Tilleuls",
    "rue du Moulin",
    "allée des Peupliers",
    "chemin des Vignes",
    "rue de la Fontaine",
    "boulevard des Platanes",
    "impasse des Roses",
    "rue des Écoles",
];

/// Makes the surrogate of `original` for `label`.
pub(crate) fn make(
    d: &Dicts,
    label: Label,
    original: &str,
    offset_days: i64,
    rng: &mut impl Rng,
) -> String {
    let s = match label {
        Label::Nom => d
            .surrogate_surnames
            .choose(rng)
            .map_or_else(|| "Durand".to_string(), |s| title_case(s)),
        Label::Prenom => {
            let f = fold(original);
            let pool = match d.first_names.get(&f) {
                Some(x) if x.mostly_female() => &d.surrogate_first_f,
                Some(_) => &d.surrogate_first_m,
                None if rng.gen_bool(0.5) => &d.surrogate_first_f,
                None => &d.surrogate_first_m,
            };
            if original.trim_end_matches('.').chars().count() == 1 {
                // An initial stays an initial.
                let c = pool
                    .choose(rng)
                    .and_then(|n| n.chars().next())
                    .unwrap_or('A');
                return if original.ends_with('.') {
                    format!("{c}.")
                } else {
                    c.to_string()
                };
            }
            pool.choose(rng)
                .cloned()
                .unwrap_or_else(|| "Camille".to_string())
        }
        Label::Date | Label::DateNaissance => {
            shift_date(original, offset_days).unwrap_or_else(|| randomize_digits(original, rng))
        }
        Label::Tel => {
            // Keep the country prefix and the first digit of the number.
            let keep = if original.starts_with('+') || original.starts_with("00") {
                original.find("33").map_or(0, |p| p + 3)
            } else {
                2
            };
            let mut out = String::new();
            for (i, c) in original.char_indices() {
                if i >= keep && c.is_ascii_digit() {
                    out.push(char::from(b'0' + rng.gen_range(0..10u8)));
                } else {
                    out.push(c);
                }
            }
            out
        }
        Label::Mail => {
            let p = d
                .surrogate_first_f
                .choose(rng)
                .map_or("camille".into(), |s| plain(s));
            let n = d
                .surrogate_surnames
                .choose(rng)
                .map_or("durand".into(), |s| plain(s));
            format!("{p}.{n}@exemple.fr")
        }
        Label::Secu => {
            let digits: Vec<char> = original
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect();
            let sex = digits.first().copied().unwrap_or('1');
            let mut body = String::new();
            body.push(sex);
            body.push_str(&format!(
                "{:02}{:02}",
                rng.gen_range(30..99),
                rng.gen_range(1..13)
            ));
            body.push_str(&format!(
                "{:02}{:03}{:03}",
                rng.gen_range(1..96),
                rng.gen_range(1..990),
                rng.gen_range(1..999)
            ));
            let key = nir_key(&body).unwrap_or(97);
            let full = format!("{body}{key:02}");
            relayout(original, &full, digits.len())
        }
        Label::Iban => {
            let bban: String = (0..23)
                .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
                .collect();
            let full = iban_complete("FR", &bban);
            let compact_len = original
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .count();
            if compact_len == full.len() {
                relayout(original, &full, compact_len)
            } else {
                full.as_bytes()
                    .chunks(4)
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        }
        Label::Rpps | Label::Finess => {
            let digits: String = original.chars().filter(|c| c.is_ascii_digit()).collect();
            if digits.len() >= 2 && digits == original {
                let body: String = original[..2].to_string()
                    + &(2..digits.len() - 1)
                        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
                        .collect::<String>();
                luhn_complete(&body)
            } else {
                randomize_digits(original, rng)
            }
        }
        Label::Zip => d
            .surrogate_communes
            .choose(rng)
            .map_or_else(|| randomize_digits(original, rng), |c| c.1.clone()),
        Label::Ipp | Label::Nda => randomize_digits(original, rng),
        Label::Url => format!(
            "https://www.exemple.fr/{}",
            (0..8)
                .map(|_| char::from(b'a' + rng.gen_range(0..26u8)))
                .collect::<String>()
        ),
        Label::Adresse => {
            let num: String = original
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            let street = STREETS.choose(rng).copied().unwrap_or("rue des Lilas");
            if num.is_empty() {
                street.to_string()
            } else {
                format!("{} {street}", rng.gen_range(1..150))
            }
        }
        Label::Ville => d
            .surrogate_communes
            .choose(rng)
            .map_or_else(|| "Villeneuve".into(), |c| c.0.clone()),
        Label::Hopital => {
            let town = d
                .surrogate_communes
                .choose(rng)
                .map_or_else(|| "Villeneuve".into(), |c| c.0.clone());
            format!("Centre Hospitalier de {town}")
        }
        Label::Age => "90".to_string(),
    };
    s
}

fn plain(s: &str) -> String {
    fold(s)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

fn all_upper(s: &str) -> bool {
    let mut letters = s.chars().filter(|c| c.is_alphabetic()).peekable();
    letters.peek().is_some()
        && s.chars().filter(|c| c.is_alphabetic()).count() >= 2
        && letters.all(|c| c.is_uppercase())
}

/// Upper-case originals get upper-case surrogates ("DUPONT" → "MARTIN");
/// otherwise the stored (display) case is kept.
pub(crate) fn match_case(original: &str, s: &str) -> String {
    if all_upper(original) {
        s.to_uppercase()
    } else {
        s.to_string()
    }
}

/// The case of what was matched, carried over to what is restored:
/// "Le Goff" comes back for a title-case surrogate even if the vault first
/// saw "LE GOFF".
pub(crate) fn restore_case(matched: &str, original: &str) -> String {
    if matched.starts_with('[') {
        // Typed tags carry no case information.
        original.to_string()
    } else if all_upper(matched) {
        original.to_uppercase()
    } else if all_upper(original)
        && !all_upper(matched)
        && matched.chars().next().is_some_and(char::is_uppercase)
    {
        title_case(original)
    } else {
        original.to_string()
    }
}

fn randomize_digits(original: &str, rng: &mut impl Rng) -> String {
    original
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                char::from(b'0' + rng.gen_range(0..10u8))
            } else {
                c
            }
        })
        .collect()
}

/// Puts the characters of `full` into the separator layout of `original`.
fn relayout(original: &str, full: &str, n: usize) -> String {
    if n != full.chars().count() {
        return full.to_string();
    }
    let mut it = full.chars();
    original
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                it.next().unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

// ---------------------------------------------------------------- dates

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn month_of(word: &str) -> Option<usize> {
    let w = fold(word.trim_end_matches('.'));
    let folded: Vec<String> = MONTHS.iter().map(|m| fold(m)).collect();
    folded.iter().position(|m| *m == w).or_else(|| {
        if w.len() >= 3 {
            folded.iter().position(|m| m.starts_with(&w))
        } else {
            None
        }
    })
}

/// Shifts a French date expression by `offset` days, keeping its layout.
pub(crate) fn shift_date(s: &str, offset: i64) -> Option<String> {
    let t = s.trim();
    // Numeric forms: d/m/y, y-m-d, m/y, d/m.
    let seps: Vec<(usize, char)> = t
        .char_indices()
        .filter(|(_, c)| matches!(c, '/' | '.' | '-'))
        .collect();
    if t.chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '/' | '.' | '-' | ' '))
        && !seps.is_empty()
    {
        let parts: Vec<&str> = t.split(['/', '.', '-']).map(|p| p.trim()).collect();
        let sep: Vec<char> = seps.iter().map(|x| x.1).collect();
        let pad = |v: i64, like: &str| {
            if like.len() >= 2 {
                format!("{v:02}")
            } else {
                v.to_string()
            }
        };
        match parts.len() {
            3 if parts[0].len() == 4 => {
                let (y, m, d) = (
                    parts[0].parse().ok()?,
                    parts[1].parse().ok()?,
                    parts[2].parse().ok()?,
                );
                let (y2, m2, d2) = civil_from_days(days_from_civil(y, m, d) + offset);
                return Some(format!("{y2:04}{}{m2:02}{}{d2:02}", sep[0], sep[1]));
            }
            3 => {
                let (d, m): (i64, i64) = (parts[0].parse().ok()?, parts[1].parse().ok()?);
                let yraw = parts[2];
                let mut y: i64 = yraw.parse().ok()?;
                if yraw.len() == 2 {
                    y += if y > 30 { 1900 } else { 2000 };
                }
                let (y2, m2, d2) = civil_from_days(days_from_civil(y, m, d) + offset);
                let ys = if yraw.len() == 2 {
                    format!("{:02}", y2 % 100)
                } else {
                    format!("{y2:04}")
                };
                return Some(format!(
                    "{}{}{}{}{ys}",
                    pad(d2, parts[0]),
                    sep[0],
                    pad(m2, parts[1]),
                    sep[1]
                ));
            }
            2 if parts[1].len() == 4 => {
                let (m, y): (i64, i64) = (parts[0].parse().ok()?, parts[1].parse().ok()?);
                let (y2, m2, _) = civil_from_days(days_from_civil(y, m, 15) + offset);
                return Some(format!("{}{}{y2:04}", pad(m2, parts[0]), sep[0]));
            }
            2 => {
                let (d, m): (i64, i64) = (parts[0].parse().ok()?, parts[1].parse().ok()?);
                let (_, m2, d2) = civil_from_days(days_from_civil(2001, m, d) + offset);
                return Some(format!(
                    "{}{}{}",
                    pad(d2, parts[0]),
                    sep[0],
                    pad(m2, parts[1])
                ));
            }
            _ => return None,
        }
    }
    // Textual forms: [weekday] d|1er month [yyyy], month yyyy.
    let words: Vec<&str> = t.split_whitespace().collect();
    let mi = words.iter().position(|w| month_of(w).is_some())?;
    let m = month_of(words[mi])? as i64 + 1;
    let day = if mi > 0 {
        let w = words[mi - 1];
        if w.eq_ignore_ascii_case("1er") {
            Some(1)
        } else {
            w.parse::<i64>().ok()
        }
    } else {
        None
    };
    let year = words.get(mi + 1).and_then(|w| w.parse::<i64>().ok());
    let (y2, m2, d2) =
        civil_from_days(days_from_civil(year.unwrap_or(2001), m, day.unwrap_or(15)) + offset);
    let month = MONTHS[(m2 - 1) as usize];
    let mut out = String::new();
    if let Some(_d) = day {
        out.push_str(&if d2 == 1 {
            "1er".to_string()
        } else {
            d2.to_string()
        });
        out.push(' ');
    }
    out.push_str(month);
    if year.is_some() {
        out.push_str(&format!(" {y2}"));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_shift_and_keep_format() {
        assert_eq!(shift_date("12/03/2023", 10).unwrap(), "22/03/2023");
        assert_eq!(shift_date("28.02.2024", 1).unwrap(), "29.02.2024");
        assert_eq!(shift_date("2023-12-31", 1).unwrap(), "2024-01-01");
        assert_eq!(shift_date("12 mars 2023", -12).unwrap(), "28 février 2023");
        assert_eq!(
            shift_date("1er janvier 2020", 31).unwrap(),
            "1er février 2020"
        );
        assert_eq!(shift_date("05/06/98", 1).unwrap(), "06/06/98");
        assert_eq!(shift_date("mars 2021", 31).unwrap(), "avril 2021");
    }
}
