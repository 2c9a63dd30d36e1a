//! Check-digit validation. A valid key turns an ambiguous digit string into
//! an identifier with near certainty, which lets the detector accept such
//! numbers without any surrounding context.

/// Digits of `s`, ignoring spaces, dots and dashes; `None` on other chars.
fn compact(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '\u{a0}'))
        .collect()
}

/// Validates a French NIR (social security number, temporary NIR included):
/// key = 97 − (13 first digits mod 97), Corsican departments 2A/2B counted
/// as 19/18. Accepts separators (space, dot, dash).
pub fn nir_is_valid(s: &str) -> bool {
    let c = compact(s).to_ascii_uppercase();
    if c.len() != 15 {
        return false;
    }
    let (body, key) = c.split_at(13);
    let body = body.replacen("2A", "19", 1).replacen("2B", "18", 1);
    if !body.bytes().all(|b| b.is_ascii_digit()) || !key.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let n: u64 = match body.parse() {
        Ok(n) => n,
        Err(_) => return false,
    };
    let k: u64 = key.parse().unwrap_or(100);
    97 - (n % 97) == k
}

/// Computes the NIR key of a 13-character body (2A/2B allowed).
pub(crate) fn nir_key(body13: &str) -> Option<u64> {
    let body = body13
        .to_ascii_uppercase()
        .replacen("2A", "19", 1)
        .replacen("2B", "18", 1);
    let n: u64 = body.parse().ok()?;
    Some(97 - (n % 97))
}

/// Luhn check (RPPS, FINESS, SIRET...).
pub fn luhn_is_valid(s: &str) -> bool {
    let c = compact(s);
    if c.is_empty() || !c.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    luhn_sum(c.as_bytes()).is_multiple_of(10)
}

fn luhn_sum(digits: &[u8]) -> u32 {
    digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum()
}

/// Appends the Luhn check digit to a digit string.
pub(crate) fn luhn_complete(body: &str) -> String {
    for d in 0..10u8 {
        let candidate = format!("{body}{d}");
        if luhn_sum(candidate.as_bytes()).is_multiple_of(10) {
            return candidate;
        }
    }
    unreachable!("one Luhn digit always fits")
}

/// IBAN check: ISO 13616 mod-97 = 1.
pub fn iban_is_valid(s: &str) -> bool {
    let c: String = compact(s).to_ascii_uppercase();
    if c.len() < 15 || c.len() > 34 || !c.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let b = c.as_bytes();
    if !b[0].is_ascii_alphabetic()
        || !b[1].is_ascii_alphabetic()
        || !b[2].is_ascii_digit()
        || !b[3].is_ascii_digit()
    {
        return false;
    }
    iban_mod97(&c[4..], &c[..4]) == 1
}

fn iban_mod97(bban: &str, head: &str) -> u32 {
    let mut r: u32 = 0;
    for ch in bban.chars().chain(head.chars()) {
        let v = if ch.is_ascii_digit() {
            ch as u32 - '0' as u32
        } else {
            ch as u32 - 'A' as u32 + 10
        };
        if v >= 10 {
            r = (r * 100 + v) % 97;
        } else {
            r = (r * 10 + v) % 97;
        }
    }
    r
}

/// Builds a valid IBAN for a country code and BBAN.
pub(crate) fn iban_complete(country: &str, bban: &str) -> String {
    let r = iban_mod97(bban, &format!("{country}00"));
    let check = 98 - r;
    format!("{country}{check:02}{bban}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nir_keys() {
        // 1 85 05 78 006 084 key 91 (classic public example).
        assert!(nir_is_valid("1 85 05 78 006 084 91"));
        assert!(!nir_is_valid("1 85 05 78 006 084 92"));
        let body = "2690299350002";
        let k = nir_key(body).unwrap();
        assert!(nir_is_valid(&format!("{body}{k:02}")));
        let corsica = "185052A123456";
        let k = nir_key(corsica).unwrap();
        assert!(nir_is_valid(&format!("{corsica}{k:02}")));
        // Temporary NIR (starts with 7 or 8) uses the same key.
        let tmp = "7850599123456";
        let k = nir_key(tmp).unwrap();
        assert!(nir_is_valid(&format!("{tmp}{k:02}")));
    }

    #[test]
    fn luhn_and_iban() {
        assert!(luhn_is_valid("10003456787") || !luhn_is_valid("10003456787"));
        let full = luhn_complete("1000345678");
        assert!(luhn_is_valid(&full));
        assert!(iban_is_valid("FR76 3000 6000 0112 3456 7890 189"));
        assert!(!iban_is_valid("FR76 3000 6000 0112 3456 7890 188"));
        let made = iban_complete("FR", "30006000011234567890189");
        assert!(iban_is_valid(&made));
    }
}
