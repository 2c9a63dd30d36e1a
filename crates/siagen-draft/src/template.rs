//! Kinds of document and their sections, as data: one TOML file per kind (`data/drafting/`,
//! built in), which a site may override by a file of the same name in `drafting/` of its data
//! directory. An override keeps the shipped section keys and their `mandatory` flags (the API
//! promises them) and may add sections.

use crate::DraftError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The shipped templates, in the order of the kinds.
const SHIPPED: [(&str, &str); 6] = [
    (
        "lettre_liaison",
        include_str!("../../../data/drafting/lettre_liaison.toml"),
    ),
    ("crh", include_str!("../../../data/drafting/crh.toml")),
    (
        "cr_operatoire",
        include_str!("../../../data/drafting/cr_operatoire.toml"),
    ),
    ("rcp", include_str!("../../../data/drafting/rcp.toml")),
    (
        "lettre_patient",
        include_str!("../../../data/drafting/lettre_patient.toml"),
    ),
    (
        "cr_imagerie",
        include_str!("../../../data/drafting/cr_imagerie.toml"),
    ),
];

/// One section of a kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// Stable key (`motif`, `traitements_sortie`…).
    pub key: String,
    /// French title.
    pub title: String,
    /// Must the document say something here (or say that it is to be completed)?
    pub mandatory: bool,
    /// What the model is asked to write.
    pub instructions: String,
    /// LOINC section code, where one exists.
    #[serde(default)]
    pub loinc: Option<String>,
}

/// A kind of document and its sections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// The kind's key in the API (`lettre_liaison`, `crh`…).
    pub kind: String,
    /// French title.
    pub title: String,
    /// The store's document kind (`lettre_liaison`, `compte_rendu_hospitalisation`…).
    pub document_kind: String,
    /// LOINC document code, where one exists.
    #[serde(default)]
    pub loinc: Option<String>,
    /// What the model is told it writes.
    pub instructions: String,
    /// Sections, in order.
    pub sections: Vec<Section>,
}

/// Every kind a site can draft.
#[derive(Debug, Clone)]
pub struct Templates {
    kinds: Vec<Template>,
}

fn parse(name: &str, text: &str) -> Result<Template, DraftError> {
    let t: Template =
        toml::from_str(text).map_err(|e| DraftError::BadTemplate(name.into(), e.to_string()))?;
    if t.kind != name {
        return Err(DraftError::BadTemplate(
            name.into(),
            format!("kind = '{}' in a file named for '{name}'", t.kind),
        ));
    }
    if t.sections.is_empty() {
        return Err(DraftError::BadTemplate(name.into(), "no section".into()));
    }
    let mut seen = std::collections::HashSet::new();
    for s in &t.sections {
        let ok = !s.key.is_empty() && s.key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        if !ok || !seen.insert(s.key.as_str()) {
            return Err(DraftError::BadTemplate(
                name.into(),
                format!(
                    "section key '{}' is empty, repeated or not in a-z and '_'",
                    s.key
                ),
            ));
        }
    }
    Ok(t)
}

impl Templates {
    /// The shipped templates.
    pub fn shipped() -> Templates {
        Templates {
            kinds: SHIPPED
                .iter()
                .map(|(k, t)| parse(k, t).expect("a shipped template parses"))
                .collect(),
        }
    }

    /// The shipped templates, each replaced by `dir/<kind>.toml` when that file exists. An
    /// override must keep every shipped section key with its `mandatory` flag.
    pub fn load(dir: &Path) -> Result<Templates, DraftError> {
        let mut t = Templates::shipped();
        for shipped in &mut t.kinds {
            let path = dir.join(format!("{}.toml", shipped.kind));
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let site = parse(&shipped.kind, &text)?;
            for s in &shipped.sections {
                match site.sections.iter().find(|x| x.key == s.key) {
                    Some(x) if x.mandatory == s.mandatory => {}
                    Some(_) => {
                        return Err(DraftError::BadTemplate(
                            shipped.kind.clone(),
                            format!("section '{}' must stay mandatory = {}", s.key, s.mandatory),
                        ))
                    }
                    None => {
                        return Err(DraftError::BadTemplate(
                            shipped.kind.clone(),
                            format!("section '{}' of the shipped template is missing", s.key),
                        ))
                    }
                }
            }
            *shipped = site;
        }
        Ok(t)
    }

    /// The template of `kind`.
    pub fn get(&self, kind: &str) -> Result<&Template, DraftError> {
        self.kinds.iter().find(|t| t.kind == kind).ok_or_else(|| {
            DraftError::UnknownKind(
                kind.into(),
                self.kinds
                    .iter()
                    .map(|t| t.kind.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })
    }

    /// Every kind, in order.
    pub fn all(&self) -> &[Template] {
        &self.kinds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kinds and section keys the API promises (mandatory ones starred).
    #[test]
    fn shipped_kinds_and_sections_are_the_contract() {
        let contract = [
            ("lettre_liaison", "identification* motif* synthese* evenements_indesirables* bmr* transfusion* dispositifs_implantes* traitements_sortie* traitements_arretes* resultats_attente* suites*"),
            ("crh", "motif* antecedents* histoire examen_entree examens_complementaires evolution* conclusion* traitements_sortie* suites*"),
            ("cr_operatoire", "indication* installation_anesthesie* exploration* gestes* incidents* fermeture pieces_anapath consignes_postop*"),
            ("rcp", "question* contexte* quorum* proposition* referentiel* suites"),
            ("lettre_patient", "pourquoi* ce_qui_a_ete_fait* vos_medicaments* a_surveiller* rendez_vous*"),
            ("cr_imagerie", "indication* technique* resultats* conclusion*"),
        ];
        let t = Templates::shipped();
        assert_eq!(t.all().len(), contract.len());
        for (kind, keys) in contract {
            let got: Vec<String> = t
                .get(kind)
                .unwrap()
                .sections
                .iter()
                .map(|s| format!("{}{}", s.key, if s.mandatory { "*" } else { "" }))
                .collect();
            assert_eq!(got.join(" "), keys, "{kind}");
        }
        assert!(matches!(
            t.get("ordonnance"),
            Err(DraftError::UnknownKind(..))
        ));
    }

    #[test]
    fn a_site_override_keeps_the_shipped_keys() {
        let dir = std::env::temp_dir().join(format!("siagen-draft-tpl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut crh: Template = toml::from_str(SHIPPED[1].1).unwrap();
        crh.sections[0].title = "Motif de l'admission".into();
        crh.sections.push(Section {
            key: "social".into(),
            title: "Contexte social".into(),
            mandatory: false,
            instructions: "Résume le contexte social.".into(),
            loinc: None,
        });
        std::fs::write(dir.join("crh.toml"), toml::to_string(&crh).unwrap()).unwrap();
        let t = Templates::load(&dir).unwrap();
        assert_eq!(
            t.get("crh").unwrap().sections[0].title,
            "Motif de l'admission"
        );
        assert_eq!(t.get("crh").unwrap().sections.len(), 10);
        crh.sections.remove(0);
        std::fs::write(dir.join("crh.toml"), toml::to_string(&crh).unwrap()).unwrap();
        let e = Templates::load(&dir).unwrap_err();
        assert!(e.to_string().contains("'motif'"), "{e}");
        std::fs::write(
            dir.join("crh.toml"),
            "kind = \"crh\"\n[[sections]]\nkey = 3",
        )
        .unwrap();
        assert!(matches!(
            Templates::load(&dir),
            Err(DraftError::BadTemplate(..))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
