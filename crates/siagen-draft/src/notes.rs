//! A stay's notes, their passages (the units a sentence of a draft is checked against), and the
//! notes of a FHIR R4 Bundle.

use crate::DraftError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Most notes per draft.
pub const MAX_NOTES: usize = 50;
/// Longest note (characters).
pub const MAX_NOTE_CHARS: usize = 100_000;

/// One note of the stay: `{id, title, date?, text}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    /// Id, unique among the notes (1 to 64 of `A-Z a-z 0-9 . _ -`).
    pub id: String,
    /// Title (« Observation d'entrée », « CR opératoire »…).
    #[serde(default)]
    pub title: String,
    /// Date as written.
    #[serde(default)]
    pub date: Option<String>,
    /// The text.
    pub text: String,
}

/// Refuses notes that cannot be drafted from, with the precise reason.
pub fn validate_notes(notes: &[Note]) -> Result<(), DraftError> {
    if notes.is_empty() {
        return Err(DraftError::BadNotes(
            "notes must hold at least one note".into(),
        ));
    }
    if notes.len() > MAX_NOTES {
        return Err(DraftError::BadNotes(format!(
            "at most {MAX_NOTES} notes per draft, got {}",
            notes.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for n in notes {
        let ok = !n.id.is_empty()
            && n.id.len() <= 64
            && n.id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !ok {
            return Err(DraftError::BadNotes(format!(
                "note id '{}' must be 1 to 64 characters among A-Z, a-z, 0-9, '.', '_' and '-'",
                n.id
            )));
        }
        if !seen.insert(n.id.as_str()) {
            return Err(DraftError::BadNotes(format!(
                "note id '{}' appears twice",
                n.id
            )));
        }
        let chars = n.text.chars().count();
        if n.text.trim().is_empty() {
            return Err(DraftError::BadNotes(format!("note '{}' has no text", n.id)));
        }
        if chars > MAX_NOTE_CHARS {
            return Err(DraftError::BadNotes(format!(
                "note '{}' is too long: {chars} characters, at most {MAX_NOTE_CHARS}",
                n.id
            )));
        }
        let control = |c: char| c.is_control() && !matches!(c, '\n' | '\r' | '\t');
        if n.text.chars().any(control) || n.title.chars().any(control) {
            return Err(DraftError::BadNotes(format!(
                "note '{}' holds control characters",
                n.id
            )));
        }
    }
    Ok(())
}

/// A passage of a note: a sentence, or a line of a list or a form.
#[derive(Debug, Clone, PartialEq)]
pub struct Passage {
    /// Index of its note.
    pub note: usize,
    /// Start, in Unicode code points of the note's text.
    pub start: usize,
    /// End (exclusive), in code points.
    pub end: usize,
    /// Its text.
    pub text: String,
}

/// The passages of `notes`, in order: each line is cut into sentences; blank pieces dropped.
pub fn passages(notes: &[Note]) -> Vec<Passage> {
    let mut out = vec![];
    for (i, n) in notes.iter().enumerate() {
        // Byte offset → code-point offset, at every character boundary, once per note.
        let mut cp = vec![0; n.text.len() + 1];
        for (k, (b, _)) in n.text.char_indices().enumerate() {
            cp[b] = k;
        }
        cp[n.text.len()] = n.text.chars().count();
        let mut line_start = 0;
        for line in n.text.split_inclusive('\n') {
            for (a, b) in siagen_kb::cite::split_sentences(line) {
                let piece = &line[a..b];
                let lead = piece.len() - piece.trim_start().len();
                let t = piece.trim();
                if t.chars().any(char::is_alphanumeric) {
                    let s = line_start + a + lead;
                    out.push(Passage {
                        note: i,
                        start: cp[s],
                        end: cp[s + t.len()],
                        text: t.to_string(),
                    });
                }
            }
            line_start += line.len();
        }
    }
    out
}

/// The notes of a FHIR R4 Bundle: each DocumentReference's text attachments (`content[]
/// .attachment` with `data` in base64 or a `text/*` content type) and each Composition's
/// sections (`section[].text.div`, markup removed), in the Bundle's order. Ids are the
/// resources' ids (else `fhir-N`), titles their `description` / `title` / type text.
pub fn notes_from_fhir(bundle: &Value) -> Result<Vec<Note>, DraftError> {
    if bundle["resourceType"] != "Bundle" {
        return Err(DraftError::BadFhir(
            "fhir must be a FHIR R4 Bundle (resourceType \"Bundle\")".into(),
        ));
    }
    let entries = bundle["entry"].as_array().cloned().unwrap_or_default();
    let mut notes = vec![];
    for (k, e) in entries.iter().enumerate() {
        let r = &e["resource"];
        let id = r["id"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("fhir-{}", k + 1));
        let date = r["date"].as_str().map(str::to_string);
        match r["resourceType"].as_str() {
            Some("DocumentReference") => {
                let title = r["description"]
                    .as_str()
                    .or(r["type"]["text"].as_str())
                    .unwrap_or("Document")
                    .to_string();
                let mut text = String::new();
                for c in r["content"].as_array().into_iter().flatten() {
                    let a = &c["attachment"];
                    let ct = a["contentType"].as_str().unwrap_or("text/plain");
                    if !ct.starts_with("text/") {
                        continue;
                    }
                    if let Some(d) = a["data"].as_str() {
                        use base64::Engine as _;
                        let bytes = base64::engine::general_purpose::STANDARD
                            .decode(d.trim())
                            .map_err(|_| {
                                DraftError::BadFhir(format!(
                                    "DocumentReference '{id}': attachment data is not base64"
                                ))
                            })?;
                        let s = String::from_utf8(bytes).map_err(|_| {
                            DraftError::BadFhir(format!(
                                "DocumentReference '{id}': attachment is not UTF-8 text"
                            ))
                        })?;
                        let s = if ct.contains("html") {
                            strip_markup(&s)
                        } else {
                            s
                        };
                        if !text.is_empty() {
                            text.push_str("\n\n");
                        }
                        text.push_str(s.trim());
                    }
                }
                if !text.trim().is_empty() {
                    notes.push(Note {
                        id,
                        title,
                        date,
                        text,
                    });
                }
            }
            Some("Composition") => {
                let mut text = String::new();
                for s in r["section"].as_array().into_iter().flatten() {
                    let body = strip_markup(s["text"]["div"].as_str().unwrap_or(""));
                    if body.trim().is_empty() {
                        continue;
                    }
                    if let Some(t) = s["title"].as_str() {
                        text.push_str(t);
                        text.push_str(" :\n");
                    }
                    text.push_str(body.trim());
                    text.push_str("\n\n");
                }
                if !text.trim().is_empty() {
                    notes.push(Note {
                        id,
                        title: r["title"].as_str().unwrap_or("Composition").to_string(),
                        date,
                        text: text.trim_end().to_string(),
                    });
                }
            }
            _ => {}
        }
    }
    if notes.is_empty() {
        return Err(DraftError::BadFhir(
            "the Bundle holds no DocumentReference with a text attachment and no Composition with section text"
                .into(),
        ));
    }
    Ok(notes)
}

/// Text of XHTML: tags removed (block tags become line breaks), the usual entities decoded.
fn strip_markup(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find('>') else {
            rest = "";
            break;
        };
        let tag = rest[i + 1..i + j]
            .trim_start_matches('/')
            .to_ascii_lowercase();
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if matches!(
            name.as_str(),
            "p" | "br" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4"
        ) {
            out.push('\n');
        }
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
    let out = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    let lines: Vec<&str> = out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn note(id: &str, text: &str) -> Note {
        Note {
            id: id.into(),
            title: "Note".into(),
            date: None,
            text: text.into(),
        }
    }

    #[test]
    fn passages_carry_code_point_offsets() {
        let n = vec![note(
            "n1",
            "Entrée le 02/03 pour dyspnée. Évolution favorable.\n- Furosémide 40 mg/j\n\nSortie à J5.",
        )];
        let p = passages(&n);
        let texts: Vec<&str> = p.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Entrée le 02/03 pour dyspnée.",
                "Évolution favorable.",
                "- Furosémide 40 mg/j",
                "Sortie à J5."
            ]
        );
        let chars: Vec<char> = n[0].text.chars().collect();
        for x in &p {
            let s: String = chars[x.start..x.end].iter().collect();
            assert_eq!(s, x.text);
        }
    }

    #[test]
    fn bad_notes_are_refused_with_their_reason() {
        assert!(validate_notes(&[]).is_err());
        let e = validate_notes(&[note("n1", "a"), note("n1", "b")]).unwrap_err();
        assert!(e.to_string().contains("twice"));
        let e = validate_notes(&[note("n 1", "a")]).unwrap_err();
        assert!(e.to_string().contains("note id"));
        let e = validate_notes(&[note("n1", &"x".repeat(MAX_NOTE_CHARS + 1))]).unwrap_err();
        assert!(e.to_string().contains("too long"));
        let e = validate_notes(&[note("n1", "a\u{0}b")]).unwrap_err();
        assert!(e.to_string().contains("control"));
        validate_notes(&[note("n1", "Texte.\n\tListe")]).unwrap();
    }

    #[test]
    fn notes_from_a_fhir_bundle() {
        use base64::Engine as _;
        let data =
            base64::engine::general_purpose::STANDARD.encode("Patient admis pour pneumopathie.");
        let b = json!({ "resourceType": "Bundle", "type": "collection", "entry": [
            { "resource": { "resourceType": "Patient", "id": "p" } },
            { "resource": { "resourceType": "DocumentReference", "id": "obs-1", "description": "Observation",
                "date": "2024-03-02", "content": [{ "attachment": { "contentType": "text/plain", "data": data } }] } },
            { "resource": { "resourceType": "Composition", "id": "crh-0", "title": "CRH précédent",
                "section": [{ "title": "Conclusion", "text": { "status": "generated",
                    "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>BPCO &amp; HTA.</p><p>Pas d'allergie.</p></div>" } }] } }
        ]});
        let n = notes_from_fhir(&b).unwrap();
        assert_eq!(n.len(), 2);
        assert_eq!(n[0].id, "obs-1");
        assert_eq!(n[0].text, "Patient admis pour pneumopathie.");
        assert_eq!(n[0].date.as_deref(), Some("2024-03-02"));
        assert_eq!(n[1].text, "Conclusion :\nBPCO & HTA.\nPas d'allergie.");
        assert!(notes_from_fhir(&json!({ "resourceType": "Patient" })).is_err());
        assert!(notes_from_fhir(&json!({ "resourceType": "Bundle", "entry": [] })).is_err());
    }
}
