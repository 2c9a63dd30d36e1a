//! # siagen-fhir
//!
//! FHIR R4 export of a validated document: a `collection` Bundle holding a DocumentReference
//! (status `current`, docStatus `final`, the validated text as an attachment) and a Provenance
//! that follows HL7's "AI Transparency on FHIR" guidance: each model whose text the document
//! holds as a Device agent of type `author`, the validating person as a Practitioner agent of type
//! `verifier`, each machine revision as an entity, and the `AIAST` security label on the DocumentReference while
//! machine-written content remains in the text — which the caller reads from the revision's
//! origin map (machine or machine-then-edited characters left), not from an edit distance.
//!
//! The origin map itself travels as a second `content` of the DocumentReference: an
//! `application/json` attachment (format code `urn:siagen:format#origin-map-v1`) holding the
//! map exactly as the siagen API shows it (`{"unit":"char","spans":[{"start","end","origin":
//! {"kind":"machine"|"human"|"edited",...}}]}`, offsets in Unicode scalar values of the text
//! attachment), so a receiving system can mark machine passages the way siagen does.
//!
//! The crate knows nothing of the store: callers fill an [`Export`], so the format can be tested
//! (and validated against the official JSON schema) on its own.

use base64::Engine as _;
use serde_json::{json, Value};

/// A model that wrote part of the document.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    /// Model id.
    pub model: String,
    /// Version or weights hash.
    pub version: String,
    /// Sampling parameters.
    pub parameters: Value,
    /// The machine-written revision it produced (the draft).
    pub revision_id: i64,
}

/// A section of a drafted document, carried in the Composition.
#[derive(Debug, Clone)]
pub struct Section {
    /// Section key (`traitements_sortie`…).
    pub key: String,
    /// French title.
    pub title: String,
    /// LOINC section code, where one exists.
    pub loinc: Option<String>,
    /// The section's validated text.
    pub text: String,
}

/// Everything the export needs about one validated document.
#[derive(Debug, Clone)]
pub struct Export {
    /// Document id.
    pub document_id: i64,
    /// Kind identifier (e.g. `compte_rendu_hospitalisation`).
    pub kind: String,
    /// Kind label in French.
    pub kind_label: String,
    /// Title.
    pub title: String,
    /// Pseudonymous patient reference.
    pub patient_ref: String,
    /// Validated text.
    pub text: String,
    /// Validated revision id.
    pub revision_id: i64,
    /// When the validated revision was written (RFC 3339).
    pub revision_created_at: String,
    /// When it was validated (RFC 3339).
    pub validated_at: String,
    /// Validator account id.
    pub validator_id: i64,
    /// Validator account name.
    pub validator_name: String,
    /// The machine revisions behind the text, oldest first: those whose passages remain in the
    /// validated text (per its origin map), else the last machine draft; empty when no model
    /// wrote any revision.
    pub machines: Vec<ModelInfo>,
    /// Whether machine-written text (unchanged or edited) remains in the validated text,
    /// according to its origin map.
    pub ai_content_remains: bool,
    /// The validated revision's origin map (JSON), carried as a second attachment.
    pub origin_map: Option<Value>,
    /// The sections of a document drafted by kind, in order: when there are any, the Bundle
    /// also holds a `Composition` with one section each (LOINC-coded where a code exists).
    pub sections: Vec<Section>,
    /// LOINC document code of the drafted kind, when its template names one.
    pub kind_loinc: Option<String>,
}

/// XHTML narrative of a text: one paragraph per line, escaped.
fn narrative(text: &str) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let paragraphs: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| format!("<p>{}</p>", esc(l)))
        .collect();
    format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{paragraphs}</div>")
}

/// Format code of the origin-map attachment.
pub const ORIGIN_MAP_FORMAT: &str = "origin-map-v1";

/// LOINC document type for a siagen document kind.
fn loinc(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "compte_rendu_hospitalisation" => ("18842-5", "Discharge summary"),
        "lettre_liaison" => ("57133-1", "Referral note"),
        "compte_rendu_operatoire" => ("11504-8", "Surgical operation note"),
        "compte_rendu_imagerie" => ("18748-4", "Diagnostic imaging study"),
        _ => ("34109-9", "Note"),
    }
}

/// Builds the Bundle.
pub fn bundle(e: &Export, now: &str) -> Value {
    let doc_id = format!("doc-{}", e.document_id);
    let practitioner_id = format!("user-{}", e.validator_id);
    let device_ids: Vec<String> = e
        .machines
        .iter()
        .map(|m| format!("model-rev-{}", m.revision_id))
        .collect();
    let (code, display) = loinc(&e.kind);
    let data = base64::engine::general_purpose::STANDARD.encode(e.text.as_bytes());
    let sha1_b64 = |bytes: &[u8]| {
        use sha1::Digest;
        base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(bytes))
    };
    let sha1 = sha1_b64(e.text.as_bytes());
    let mut meta = json!({ "lastUpdated": e.validated_at });
    if e.ai_content_remains {
        meta["security"] = json!([{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
            "code": "AIAST",
            "display": "Artificial Intelligence asserted"
        }]);
    }
    let authors: Vec<Value> = if device_ids.is_empty() {
        vec![json!({ "reference": format!("Practitioner/{practitioner_id}") })]
    } else {
        device_ids
            .iter()
            .map(|d| json!({ "reference": format!("Device/{d}") }))
            .collect()
    };
    let mut content = vec![json!({
        "attachment": {
            "contentType": "text/plain; charset=utf-8",
            "language": "fr",
            "data": data,
            "size": e.text.len(),
            "hash": sha1,
            "title": e.title,
            "creation": e.revision_created_at
        }
    })];
    if let Some(map) = &e.origin_map {
        let bytes = map.to_string().into_bytes();
        content.push(json!({
            "attachment": {
                "contentType": "application/json",
                "data": base64::engine::general_purpose::STANDARD.encode(&bytes),
                "size": bytes.len(),
                "hash": sha1_b64(&bytes),
                "title": "Origine des passages (modèle, humain, modifié) — positions en caractères du texte",
                "creation": e.revision_created_at
            },
            "format": {
                "system": "urn:siagen:format",
                "code": ORIGIN_MAP_FORMAT,
                "display": "siagen origin map: character spans written by a model, a person, or a model then edited by a person"
            }
        }));
    }
    let document = json!({
        "resourceType": "DocumentReference",
        "id": doc_id,
        "meta": meta,
        "identifier": [{ "system": "urn:siagen:document", "value": e.document_id.to_string() }],
        "status": "current",
        "docStatus": "final",
        "type": {
            "coding": [{ "system": "http://loinc.org", "code": code, "display": display }],
            "text": e.kind_label
        },
        "subject": { "identifier": { "system": "urn:siagen:patient-ref", "value": e.patient_ref } },
        "date": e.validated_at,
        "author": authors,
        "authenticator": { "reference": format!("Practitioner/{practitioner_id}") },
        "description": e.title,
        "content": content
    });
    let participant = |code: &str, display: &str| {
        json!({ "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
            "code": code, "display": display
        }]})
    };
    let mut agents: Vec<Value> = authors
        .iter()
        .map(|who| json!({ "type": participant("author", "Author"), "who": who }))
        .collect();
    agents.push(json!({ "type": participant("verifier", "Verifier"), "who": { "reference": format!("Practitioner/{practitioner_id}") } }));
    let mut provenance = json!({
        "resourceType": "Provenance",
        "id": format!("prov-{doc_id}"),
        "target": [{ "reference": format!("DocumentReference/{doc_id}") }],
        "recorded": e.validated_at,
        "activity": { "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
            "code": "CREATE", "display": "create"
        }]},
        "agent": agents,
    });
    if !e.machines.is_empty() {
        provenance["entity"] = e
            .machines
            .iter()
            .map(|m| {
                json!({
                    "role": "source",
                    "what": {
                        "identifier": { "system": "urn:siagen:revision", "value": m.revision_id.to_string() },
                        "display": format!("Machine draft (revision {}) written by {} {}", m.revision_id, m.model, m.version)
                    }
                })
            })
            .collect();
    }
    let mut entries = vec![
        json!({ "resource": document }),
        json!({ "resource": provenance }),
    ];
    if !e.sections.is_empty() {
        let (code, display) = match &e.kind_loinc {
            Some(c) => (c.as_str(), e.kind_label.as_str()),
            None => (code, display),
        };
        let sections: Vec<Value> = e
            .sections
            .iter()
            .map(|s| {
                let mut v = json!({
                    "title": s.title,
                    "text": { "status": "generated", "div": narrative(&s.text) },
                });
                match &s.loinc {
                    Some(c) => {
                        v["code"] = json!({
                            "coding": [{ "system": "http://loinc.org", "code": c }],
                            "text": s.title
                        })
                    }
                    None => {
                        v["code"] = json!({
                            "coding": [{ "system": "urn:siagen:section", "code": s.key }],
                            "text": s.title
                        })
                    }
                }
                v
            })
            .collect();
        entries.insert(
            1,
            json!({ "resource": {
                "resourceType": "Composition",
                "id": format!("comp-{doc_id}"),
                "meta": document["meta"].clone(),
                "identifier": { "system": "urn:siagen:document", "value": e.document_id.to_string() },
                "status": "final",
                "type": { "coding": [{ "system": "http://loinc.org", "code": code, "display": display }],
                          "text": e.kind_label },
                "subject": { "identifier": { "system": "urn:siagen:patient-ref", "value": e.patient_ref } },
                "date": e.validated_at,
                "author": document["author"].clone(),
                "title": e.title,
                "attester": [{ "mode": "legal", "time": e.validated_at,
                               "party": { "reference": format!("Practitioner/{practitioner_id}") } }],
                "relatesTo": [{ "code": "transforms",
                                "targetReference": { "reference": format!("DocumentReference/{doc_id}") } }],
                "section": sections
            }}),
        );
    }
    for (d, m) in device_ids.iter().zip(&e.machines) {
        entries.push(json!({ "resource": {
            "resourceType": "Device",
            "id": d,
            "deviceName": [{ "name": m.model, "type": "model-name" }],
            "type": { "text": "Generative AI model" },
            "version": [{ "value": m.version }],
            "property": [{
                "type": { "text": "generation parameters" },
                "valueCode": [{ "text": m.parameters.to_string() }]
            }]
        }}));
    }
    entries.push(json!({ "resource": {
        "resourceType": "Practitioner",
        "id": practitioner_id,
        "identifier": [{ "system": "urn:siagen:user", "value": e.validator_id.to_string() }],
        "name": [{ "text": e.validator_name }]
    }}));
    json!({
        "resourceType": "Bundle",
        "id": format!("export-{doc_id}-rev-{}", e.revision_id),
        "type": "collection",
        "timestamp": now,
        "entry": entries
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(machine: bool) -> Export {
        Export {
            document_id: 7,
            kind: "compte_rendu_hospitalisation".into(),
            kind_label: "Compte-rendu d'hospitalisation".into(),
            title: "CRH cardiologie".into(),
            patient_ref: "P-0001".into(),
            text: "Patient hospitalisé pour insuffisance cardiaque.".into(),
            revision_id: 3,
            revision_created_at: "2026-01-01T10:00:00.000Z".into(),
            validated_at: "2026-01-01T11:00:00.000Z".into(),
            validator_id: 2,
            validator_name: "val".into(),
            machines: machine
                .then(|| ModelInfo {
                    model: "qwen".into(),
                    version: "abc".into(),
                    parameters: json!({"temperature": 0.2}),
                    revision_id: 1,
                })
                .into_iter()
                .collect(),
            ai_content_remains: machine,
            origin_map: Some(json!({ "unit": "char", "spans": [{ "start": 0, "end": 48,
                "origin": if machine { json!({ "kind": "machine", "model": "qwen", "version": "abc" }) }
                          else { json!({ "kind": "human", "user_id": 1 }) } }] })),
            sections: vec![],
            kind_loinc: None,
        }
    }

    #[test]
    fn drafted_sections_become_a_composition_with_loinc_codes() {
        let mut e = sample(true);
        e.kind_loinc = Some("18842-5".into());
        e.sections = vec![
            Section {
                key: "motif".into(),
                title: "Motif d'hospitalisation".into(),
                loinc: Some("29299-5".into()),
                text: "Dyspnée <NYHA III> & œdèmes.".into(),
            },
            Section {
                key: "quorum".into(),
                title: "Quorum".into(),
                loinc: None,
                text: "Cardiologue\nChirurgien".into(),
            },
        ];
        let b = bundle(&e, "2026-01-01T12:00:00.000Z");
        let c = &b["entry"][1]["resource"];
        assert_eq!(c["resourceType"], "Composition");
        assert_eq!(c["type"]["coding"][0]["code"], "18842-5");
        assert_eq!(c["section"][0]["code"]["coding"][0]["code"], "29299-5");
        assert_eq!(
            c["section"][0]["text"]["div"],
            "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Dyspnée &lt;NYHA III&gt; &amp; œdèmes.</p></div>"
        );
        assert_eq!(
            c["section"][1]["code"]["coding"][0]["system"],
            "urn:siagen:section"
        );
        assert_eq!(
            c["attester"][0]["party"]["reference"],
            "Practitioner/user-2"
        );
        assert_eq!(c["meta"]["security"][0]["code"], "AIAST");
        // Without sections, no Composition.
        let plain = bundle(&sample(true), "2026-01-01T12:00:00.000Z");
        assert!(!plain["entry"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["resource"]["resourceType"] == "Composition"));
    }

    #[test]
    fn machine_draft_has_device_author_verifier_and_label() {
        let b = bundle(&sample(true), "2026-01-01T12:00:00.000Z");
        let doc = &b["entry"][0]["resource"];
        assert_eq!(doc["docStatus"], "final");
        assert_eq!(doc["meta"]["security"][0]["code"], "AIAST");
        let prov = &b["entry"][1]["resource"];
        assert_eq!(prov["agent"][0]["who"]["reference"], "Device/model-rev-1");
        assert_eq!(prov["agent"][1]["type"]["coding"][0]["code"], "verifier");
        assert_eq!(b["entry"].as_array().unwrap().len(), 4);
        // The origin map travels as a second, JSON attachment.
        let map = &doc["content"][1];
        assert_eq!(map["attachment"]["contentType"], "application/json");
        assert_eq!(map["format"]["code"], ORIGIN_MAP_FORMAT);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(map["attachment"]["data"].as_str().unwrap())
            .unwrap();
        let back: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back["spans"][0]["origin"]["kind"], "machine");
        assert_eq!(map["attachment"]["size"], bytes.len());
    }

    #[test]
    fn two_models_are_two_devices_authors_and_entities() {
        let mut e = sample(true);
        e.machines.push(ModelInfo {
            model: "mistral".into(),
            version: "q4".into(),
            parameters: json!({}),
            revision_id: 2,
        });
        let b = bundle(&e, "2026-01-01T12:00:00.000Z");
        let doc = &b["entry"][0]["resource"];
        assert_eq!(
            doc["author"],
            json!([{ "reference": "Device/model-rev-1" }, { "reference": "Device/model-rev-2" }])
        );
        let prov = &b["entry"][1]["resource"];
        let agents: Vec<(&str, &str)> = prov["agent"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["type"]["coding"][0]["code"].as_str().unwrap(),
                    a["who"]["reference"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            agents,
            [
                ("author", "Device/model-rev-1"),
                ("author", "Device/model-rev-2"),
                ("verifier", "Practitioner/user-2")
            ]
        );
        assert_eq!(prov["entity"].as_array().unwrap().len(), 2);
        let devices: Vec<&str> = b["entry"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["resource"]["resourceType"] == "Device")
            .map(|x| x["resource"]["deviceName"][0]["name"].as_str().unwrap())
            .collect();
        assert_eq!(devices, ["qwen", "mistral"]);
    }

    #[test]
    fn human_text_has_no_ai_label() {
        let b = bundle(&sample(false), "2026-01-01T12:00:00.000Z");
        assert!(b["entry"][0]["resource"]["meta"].get("security").is_none());
        assert_eq!(b["entry"].as_array().unwrap().len(), 3);
    }
}
