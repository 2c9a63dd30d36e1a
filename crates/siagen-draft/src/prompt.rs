//! The messages that ask a model for one section, and the reading of its answer.
//!
//! One call per section keeps each prompt short (small models hold their instructions better,
//! and a section can be streamed as soon as it is written). The notes are given with their ids;
//! the model is asked to end each sentence with the ids of the notes it used, and to answer
//! exactly « Non renseigné » when the notes say nothing for the section — siagen then marks the
//! section missing instead of keeping an invented text.

use crate::notes::Note;
use crate::template::{Section, Template};

/// What the model answers when the notes give nothing for a section.
pub const NOT_GIVEN: &str = "Non renseigné";

/// The system and user messages for `section` of `template`, over `notes` (already as the
/// model may receive them: pseudonymised when it may not see identifiers).
pub fn section_messages(
    template: &Template,
    section: &Section,
    notes: &[Note],
) -> [(String, String); 2] {
    let system = format!(
        "{} Tu écris en français médical, uniquement à partir des notes fournies. Chaque phrase \
         se termine par les identifiants des notes utilisées entre crochets, par exemple [n1] ou \
         [n1, n3]. N'invente rien : ni examen, ni traitement, ni valeur, ni date. Si les notes ne \
         disent rien pour cette section, réponds exactement « {NOT_GIVEN} ».",
        template.instructions
    );
    let mut user = String::from("Notes du séjour :\n");
    for n in notes {
        user.push_str(&format!("\n[{}] {}", n.id, n.title));
        if let Some(d) = &n.date {
            user.push_str(&format!(" ({d})"));
        }
        user.push_str(&format!("\n{}\n", n.text.trim()));
    }
    user.push_str(&format!(
        "\nSection à rédiger : « {} ». {} Écris seulement le contenu de la section, sans titre.",
        section.title, section.instructions
    ));
    [("system".into(), system), ("user".into(), user)]
}

/// The section's text from the model's answer, or `None` when the model said the notes give
/// nothing (« Non renseigné »), or wrote nothing.
pub fn read_section(answer: &str, section: &Section) -> Option<String> {
    let mut t = answer.trim();
    // A repeated title (« Motif d'hospitalisation : … ») is not content.
    for prefix in [section.title.as_str(), section.key.as_str()] {
        if let Some(rest) = t.strip_prefix(prefix) {
            t = rest.trim_start_matches([' ', ':', '\n', '-']).trim();
        }
    }
    let t = t.trim_start_matches('#').trim();
    let folded = siagen_kb::claim::fold(t);
    let bare = folded.trim_matches(|c: char| !c.is_alphanumeric());
    if bare.is_empty() || bare.starts_with("non renseigne") {
        return None;
    }
    Some(t.to_string())
}

/// The text of a missing mandatory section (siagen's, not the model's).
pub fn missing_text(section: &Section) -> String {
    format!("À compléter : {}.", section.title.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Templates;

    #[test]
    fn messages_carry_the_notes_ids_and_the_instructions() {
        let t = Templates::shipped();
        let tpl = t.get("crh").unwrap();
        let notes = vec![Note {
            id: "n1".into(),
            title: "Entrée".into(),
            date: Some("02/03/2024".into()),
            text: "Dyspnée.".into(),
        }];
        let [(r1, sys), (r2, user)] = section_messages(tpl, &tpl.sections[0], &notes);
        assert_eq!((r1.as_str(), r2.as_str()), ("system", "user"));
        assert!(sys.contains("Non renseigné") && sys.contains("[n1]"));
        assert!(user.contains("[n1] Entrée (02/03/2024)\nDyspnée."));
        assert!(user.contains("« Motif d'hospitalisation »"));
    }

    #[test]
    fn missing_sections_are_recognised() {
        let t = Templates::shipped();
        let s = &t.get("crh").unwrap().sections[0];
        assert_eq!(read_section(" Non renseigné. ", s), None);
        assert_eq!(read_section("« Non renseigné »", s), None);
        assert_eq!(read_section("", s), None);
        assert_eq!(
            read_section("Motif d'hospitalisation : dyspnée [n1].", s).as_deref(),
            Some("dyspnée [n1].")
        );
        assert_eq!(missing_text(s), "À compléter : motif d'hospitalisation.");
    }
}
