//! Sourced answers end to end: a real knowledge base in the data directory, the real binary,
//! `POST /api/ask` and `/api/ask/save`, then the normal validation workflow.
//!
//! Two models answer. The suite's tiny GGUF model (local engine, 2048-token context) writes gibberish: with it we
//! check the pipeline (numbered passages, sentences with verdicts, sources with licence, a
//! generation that can be saved). An OpenAI-compatible upstream declared in the configuration
//! (a local server that records what it receives and answers a fixed text with citations)
//! checks the verdicts end to end and that no identifier of the question reaches a model.

mod common;
use axum::extract::State;
use axum::response::IntoResponse;
use common::*;
use serde_json::{json, Value};
use siagen_kb::{DocMeta, Kb, KbOptions, Viewer, Visibility};
use std::path::Path;
use std::sync::{Arc, Mutex};

const PARACETAMOL: &str = "# Paracétamol chez l'adulte\n\n## Posologie\n\nLa dose maximale de \
paracétamol est de 4 g par jour chez l'adulte. Respecter un intervalle de 4 heures entre deux \
prises.\n\n## Insuffisance hépatique\n\nChez l'insuffisant hépatique, la dose de paracétamol doit \
être réduite.\n";
const AVK: &str = "# Surveillance des AVK\n\nTous les patients traités par antivitamine K doivent \
avoir un contrôle régulier de l'INR. Le millepertuis diminue l'effet des anticoagulants oraux.\n";
const PRIVATE: &str = "# Notes de Bob\n\nLa kétamine intranasale est utilisée dans le protocole \
expérimental de Bob pour les migraines réfractaires.\n";

/// The fixed answer of the scripted upstream: a supported sentence, a changed number, an uncited
/// sentence, a sentence that states a gap.
const SCRIPTED: &str = "La dose maximale de paracétamol est de 4 g par jour chez l'adulte [1]. \
La dose maximale de paracétamol est de 6 g par jour chez l'adulte [1]. Le paracétamol est sans \
danger pendant la grossesse. Les passages ne précisent pas la dose chez l'enfant.";

const QUESTION: &str = "Quelle est la dose maximale de paracétamol chez l'adulte ?";
const IDENTIFYING: &str = "Quelle est la dose maximale de paracétamol chez l'adulte pour \
M. Jean-Pierre Dupont, né le 12/03/1948 ?";

/// An OpenAI-compatible server that records every body and answers [`SCRIPTED`].
#[derive(Clone, Default)]
struct Scribe {
    bodies: Arc<Mutex<Vec<String>>>,
}

async fn scribe_chat(State(r): State<Scribe>, body: String) -> axum::response::Response {
    r.bodies.lock().unwrap().push(body.clone());
    let v: Value = serde_json::from_str(&body).unwrap();
    axum::Json(
        json!({ "id": "x", "object": "chat.completion", "model": v["model"],
        "usage": { "prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150 },
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": SCRIPTED },
                      "finish_reason": "stop" }] }),
    )
    .into_response()
}

fn start_scribe() -> (String, Scribe) {
    let rec = Scribe::default();
    let state = rec.clone();
    let app = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(scribe_chat))
        .route(
            "/v1/models",
            axum::routing::get(|| async { axum::Json(json!({ "object": "list", "data": [] })) }),
        )
        .with_state(state);
    let addr = serve_in_background(app);
    (format!("http://{addr}/v1"), rec)
}

fn meta(title: &str, licence: &str) -> DocMeta {
    DocMeta {
        title: Some(title.into()),
        publisher: Some("CHU de test".into()),
        date: Some("2024-05".into()),
        licence: Some(licence.into()),
        ..DocMeta::default()
    }
}

/// `POST /api/ask` in the `guides` collection, answered by the scripted upstream.
fn ask_scribe(s: &Server, token: &str, question: &str) -> Value {
    s.post(
        token,
        "/api/ask",
        json!({ "question": question, "collection": "guides", "model": "scribe" }),
    )
    .json()
    .unwrap()
}

/// Writes the corpus with the library, as `siagen kb ingest` would, before the server starts.
fn write_corpus(dir: &Path) {
    let kb = Kb::open(&dir.join("kb"), KbOptions::default()).unwrap();
    let admin = Viewer::cli();
    kb.create_collection(&admin, "guides", Visibility::Institution)
        .unwrap();
    kb.ingest_bytes(
        &admin,
        "guides",
        "paracetamol.md",
        PARACETAMOL.as_bytes().to_vec(),
        meta("Paracétamol chez l'adulte", "Licence Ouverte 2.0"),
    )
    .unwrap();
    kb.ingest_bytes(
        &admin,
        "guides",
        "avk.md",
        AVK.as_bytes().to_vec(),
        meta("Surveillance des AVK", "CC-BY-4.0"),
    )
    .unwrap();
    kb.create_collection(
        &admin,
        "notes-bob",
        Visibility::Private {
            owner: "bob".into(),
        },
    )
    .unwrap();
    kb.ingest_bytes(
        &admin,
        "notes-bob",
        "bob.md",
        PRIVATE.as_bytes().to_vec(),
        meta("Notes de Bob", "interne"),
    )
    .unwrap();
}

fn audit_actions(s: &Server, token: &str) -> Vec<Value> {
    let v: Value = s.get(token, "/api/audit?limit=1000").json().unwrap();
    v["entries"]
        .as_array()
        .or(v.as_array())
        .cloned()
        .unwrap_or_default()
}

/// A server with the tiny local model and the corpus, whose answering model `scribe` is the
/// recording upstream above; `config` opens its siagen.toml.
fn server_with_scribe(config: &str) -> (Server, Scribe) {
    server_with_models_and_scribe(config, |dir| write_tiny_long(dir, "tiny-long", None))
}

/// The same, with the local models `models` writes into the data directory.
fn server_with_models_and_scribe(config: &str, models: impl FnOnce(&Path)) -> (Server, Scribe) {
    let (url, scribe) = start_scribe();
    let s = Server::start_with(|dir| {
        models(dir);
        write_corpus(dir);
        std::fs::write(
            dir.join("siagen.toml"),
            format!("{config}\n[[upstreams]]\nmodel = \"scribe\"\nurl = \"{url}\"\noperator = \"Prestataire\"\njurisdiction = \"EU\"\n"),
        )
        .unwrap();
    });
    (s, scribe)
}

#[test]
fn sourced_answers_with_verdicts_refusal_isolation_shield_and_validation() {
    let (mut s, scribe) = server_with_scribe("");
    let alice = s.user("alice", "clinician");
    let bob = s.user("bob", "validator,clinician");
    let admin_tok = {
        let out = cli(
            s.path(),
            &["user", "add", "audra", "--roles", "auditor"],
            &[("SIAGEN_NEW_PASSWORD", "audra-password-123")],
        );
        assert!(out.status.success());
        s.token("audra")
    };

    let doc: Value = s
        .client
        .get(s.url("/api/openapi.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    for p in ["/api/ask", "/api/ask/save", "/api/documents/{id}/sources"] {
        assert!(
            doc["paths"][p].is_object(),
            "{p} missing from the OpenAPI document"
        );
    }

    // 1. Verdicts end to end, through the scripted upstream.
    let v = ask_scribe(&s, &alice, QUESTION);
    assert_eq!(v["covered"], true, "{v}");
    assert_eq!(v["answer"], SCRIPTED);
    let sources = v["sources"].as_array().unwrap();
    assert!(!sources.is_empty());
    for (i, src) in sources.iter().enumerate() {
        assert_eq!(src["n"], i + 1, "sources are numbered from 1");
        assert!(src["licence"].as_str().is_some_and(|l| !l.is_empty()));
        assert!(src["chunk_id"].as_str().is_some());
    }
    assert_eq!(sources[0]["title"], "Paracétamol chez l'adulte");
    assert_eq!(sources[0]["licence"], "Licence Ouverte 2.0");
    assert_eq!(sources[0]["publisher"], "CHU de test");
    let verdicts: Vec<&str> = v["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(
        verdicts,
        ["supported", "unsupported", "unsupported", "not_a_claim"],
        "{v}"
    );
    let s1 = &v["sentences"][1];
    assert_eq!(s1["citations"], json!([1]));
    assert_eq!(s1["reasons"][0]["code"], "number_mismatch", "{s1}");
    assert_eq!(v["sentences"][2]["reasons"][0]["code"], "no_citation");
    assert_eq!(v["summary"]["supported"], 1);
    // The model received numbered passages and the question.
    let bodies = scribe.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1);
    let sent: Value = serde_json::from_str(&bodies[0]).unwrap();
    let user_msg = sent["messages"][1]["content"].as_str().unwrap();
    assert!(
        user_msg.contains("[1] (Paracétamol chez l'adulte"),
        "{user_msg}"
    );
    assert!(user_msg.contains("4 g par jour"));
    assert!(user_msg.contains(QUESTION));
    assert!(sent["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("uniquement à partir des passages"));
    let generation_id = v["generation_id"].as_str().unwrap().to_string();

    // 2. The privacy shield: identifiers in the question never reach the model.
    let v = ask_scribe(&s, &alice, IDENTIFYING);
    assert_eq!(
        v["covered"], true,
        "identifiers do not hide the relevant passages: {v}"
    );
    let bodies = scribe.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2);
    for g in ["Dupont", "Jean-Pierre", "12/03/1948"] {
        assert!(
            !bodies[1].contains(g),
            "{g} reached the model: {}",
            bodies[1]
        );
    }

    // 3. Nothing relevant: the corpus does not cover the question, and no model runs.
    let v: Value = s
        .post(
            &alice,
            "/api/ask",
            json!({ "question": "Quel est le calendrier des marées à Brest en juillet ?",
                    "collection": "guides", "model": "scribe" }),
        )
        .json()
        .unwrap();
    assert_eq!(v["covered"], false, "{v}");
    assert_eq!(v["answer"], "Le corpus ne couvre pas cette question.");
    assert!(v["generation_id"].is_null());
    assert!(v["sources"].as_array().unwrap().is_empty());
    assert_eq!(scribe.bodies.lock().unwrap().len(), 2, "no generation");

    // 4. Collection isolation: Bob's private notes are not Alice's to read, but Bob's.
    let r = s.post(
        &alice,
        "/api/ask",
        json!({ "question": "kétamine intranasale migraines", "collection": "notes-bob", "model": "scribe" }),
    );
    problem(r, 404);
    let v: Value = s
        .post(
            &bob,
            "/api/ask",
            json!({ "question": "kétamine intranasale migraines réfractaires", "collection": "notes-bob", "model": "scribe" }),
        )
        .json()
        .unwrap();
    assert_eq!(v["covered"], true, "{v}");
    assert_eq!(v["sources"][0]["title"], "Notes de Bob");
    assert_eq!(scribe.bodies.lock().unwrap().len(), 3);

    // 5. The local engine (tiny model, gibberish): the pipeline holds whatever it writes.
    let v: Value = s
        .post(
            &alice,
            "/api/ask",
            json!({ "question": QUESTION, "collection": "guides", "model": "tiny-long", "max_tokens": 24 }),
        )
        .json()
        .unwrap();
    assert_eq!(v["covered"], true, "{v}");
    assert_eq!(v["model"], "tiny-long");
    let n_sources = v["sources"].as_array().unwrap().len();
    for st in v["sentences"].as_array().unwrap() {
        assert!(
            ["supported", "partial", "unsupported", "not_a_claim"]
                .contains(&st["verdict"].as_str().unwrap()),
            "{st}"
        );
        for c in st["citations"].as_array().unwrap() {
            let c = c.as_u64().unwrap() as usize;
            assert!((1..=n_sources).contains(&c), "valid citations only: {st}");
        }
    }
    let tiny_generation = v["generation_id"].as_str().unwrap().to_string();
    assert!(tiny_generation.starts_with("chatcmpl-"));

    // 6. Bad input: problem+json, nothing changes.
    let docs_before: Value = s.get(&alice, "/api/documents").json().unwrap();
    let audit_before = audit_actions(&s, &admin_tok).len();
    for (body, status) in [
        (json!({ "question": "  ", "collection": "guides" }), 400),
        (json!({ "question": QUESTION, "collection": "" }), 400),
        (
            json!({ "question": QUESTION, "collection": "a b/../c" }),
            400,
        ),
        (
            json!({ "question": QUESTION, "collection": "guides", "k": 0 }),
            400,
        ),
        (
            json!({ "question": QUESTION, "collection": "guides", "k": 21 }),
            400,
        ),
        (
            json!({ "question": "x".repeat(4001), "collection": "guides" }),
            400,
        ),
        (
            json!({ "question": QUESTION, "collection": "guides", "colour": "bleu" }),
            422,
        ),
        (json!({ "collection": "guides" }), 422),
    ] {
        let d = problem(s.post(&alice, "/api/ask", body.clone()), status);
        assert!(!d.is_empty(), "{body}");
    }
    let d = problem(
        s.post(
            &alice,
            "/api/ask/save",
            json!({ "generation_id": "chatcmpl-unknown", "title": "Réponse" }),
        ),
        404,
    );
    assert!(d.contains("no recent answer"), "{d}");
    // Bob cannot save Alice's answer.
    problem(
        s.post(
            &bob,
            "/api/ask/save",
            json!({ "generation_id": generation_id, "title": "Réponse" }),
        ),
        404,
    );
    let docs_after: Value = s.get(&alice, "/api/documents").json().unwrap();
    assert_eq!(docs_before["total"], docs_after["total"]);
    let audit_after = audit_actions(&s, &admin_tok);
    // Only the reads of this check (audit and document listings) were added.
    assert!(audit_after.iter().skip(audit_before).all(|e| !e["action"]
        .as_str()
        .unwrap_or("")
        .starts_with("kb.")
        && e["action"] != "document.create"));

    // 7. An auditor (no clinical role) may not ask; the refusal is audited.
    problem(
        s.post(
            &admin_tok,
            "/api/ask",
            json!({ "question": QUESTION, "collection": "guides" }),
        ),
        403,
    );

    // 8. Save as « réponse sourcée », then the normal workflow.
    let r = s.post(
        &alice,
        "/api/ask/save",
        json!({ "generation_id": generation_id, "title": "Dose maximale de paracétamol" }),
    );
    assert_eq!(r.status(), 201);
    let doc: Value = r.json().unwrap();
    assert_eq!(doc["kind"], "reponse_sourcee");
    assert_eq!(doc["state"], "draft");
    let text = doc["current_revision"]["text"].as_str().unwrap();
    assert!(text.starts_with(&format!("Question : {QUESTION}")));
    assert!(text.contains(SCRIPTED));
    assert!(
        text.contains("Sources :\n[1] Paracétamol chez l'adulte"),
        "{text}"
    );
    assert!(text.contains("licence : Licence Ouverte 2.0"));
    assert_eq!(
        doc["current_revision"]["author"]["generation_id"],
        generation_id.as_str()
    );
    assert_eq!(doc["sources"][0]["licence"], "Licence Ouverte 2.0");
    // Provenance: only the answer is machine text; the question and the source list are not.
    let chars: Vec<char> = text.chars().collect();
    let spans: Vec<(String, String)> = doc["current_revision"]["origin_map"]["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sp| {
            let (a, b) = (sp["start"].as_u64().unwrap(), sp["end"].as_u64().unwrap());
            (
                sp["origin"]["kind"].as_str().unwrap().to_string(),
                chars[a as usize..b as usize].iter().collect(),
            )
        })
        .collect();
    assert_eq!(spans.len(), 3, "{spans:?}");
    assert_eq!(spans[1], ("machine".to_string(), SCRIPTED.to_string()));
    assert!(spans[0].0 == "human" && spans[0].1.starts_with("Question : "));
    assert!(spans[2].0 == "human" && spans[2].1.contains("Sources :"));
    let id = doc["id"].as_i64().unwrap();
    // The sources as data, beside the document.
    let v: Value = s
        .get(&bob, &format!("/api/documents/{id}/sources"))
        .json()
        .unwrap();
    assert_eq!(v["sources"].as_array().unwrap().len(), sources.len(), "{v}");
    assert_eq!(v["sources"][0]["n"], 1);
    assert_eq!(v["sources"][0]["licence"], "Licence Ouverte 2.0");
    assert_eq!(v["sources"][0]["chunk_id"], sources[0]["chunk_id"]);
    problem(s.get(&bob, "/api/documents/999/sources"), 404);
    problem(
        s.get(&admin_tok, &format!("/api/documents/{id}/sources")),
        403,
    );
    let r = s.post(&alice, &format!("/api/documents/{id}/submit"), json!({}));
    assert_eq!(r.status(), 200);
    let rev = doc["current_revision"]["id"].as_i64().unwrap();
    let r = s.post(
        &bob,
        &format!("/api/documents/{id}/validate"),
        json!({ "revision_id": rev }),
    );
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
    let fin = s.get(&alice, &format!("/api/documents/{id}/final"));
    assert_eq!(fin.status(), 200);
    // The tiny model's answer can be saved too (its generation is recorded), even after a
    // kill -9 and restart between the answer and the save: answers wait in the database.
    s.restart();
    let r = s.post(
        &alice,
        "/api/ask/save",
        json!({ "generation_id": tiny_generation, "title": "Essai", "patient_ref": "P-0042" }),
    );
    assert_eq!(r.status(), 201);

    // 9. The audit trail holds the asks with hashes and ids, never the question.
    let entries = audit_actions(&s, &admin_tok);
    let asks: Vec<&Value> = entries.iter().filter(|e| e["action"] == "kb.ask").collect();
    assert!(asks.len() >= 5, "{asks:?}");
    assert!(asks.iter().any(|e| e["outcome"] == "not_covered"));
    assert!(entries.iter().any(|e| e["action"] == "document.create"
        && e["target"] == format!("document:{id}")
        && e["details"]["sources"]["count"].as_u64() > Some(0)));
    let dump = serde_json::to_string(&entries).unwrap();
    assert!(
        !dump.contains("paracétamol chez l'adulte ?"),
        "no question text in the audit"
    );
    assert!(!dump.contains("Dupont"));
    assert!(dump.contains(&siagen_sha(QUESTION)));
}

/// With `kb_entailment_model`, each cited (passage, sentence) pair is put to that model (one
/// audited generation each); contradictions still decide the verdict whatever it says.
#[test]
fn entailment_model_is_asked_about_each_cited_pair() {
    let (s, scribe) = server_with_scribe("kb_entailment_model = \"tiny-long\"");
    let alice = s.user("alice", "clinician");
    let v = ask_scribe(&s, &alice, QUESTION);
    assert_eq!(v["covered"], true, "{v}");
    assert_eq!(scribe.bodies.lock().unwrap().len(), 1, "one answer");
    let verdicts: Vec<&str> = v["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(
        &verdicts[1..],
        ["unsupported", "unsupported", "not_a_claim"]
    );
    for st in v["sentences"].as_array().unwrap() {
        for r in st["reasons"].as_array().unwrap() {
            if r["code"] == "entailment" {
                assert!(r["detail"].as_str().unwrap().contains("implication"));
            }
        }
        let score = st["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score), "{st}");
    }
    // Two cited sentences, one passage each: two one-token generations of the entailment model.
    let out = cli(
        s.path(),
        &["user", "add", "audra", "--roles", "auditor"],
        &[("SIAGEN_NEW_PASSWORD", "audra-password-123")],
    );
    assert!(out.status.success());
    let audra = s.token("audra");
    let entries = audit_actions(&s, &audra);
    let asked = entries
        .iter()
        .filter(|e| e["action"] == "generation" && e["target"] == "model:tiny-long")
        .count();
    assert_eq!(asked, 2, "{entries:?}");
}

/// The reranker's scores of the sources (P(oui) among oui/non): every source has one, in
/// [0, 1], and the sources are numbered in its order (the scores do not increase).
fn rerank_scores(sources: &[Value]) -> Vec<f64> {
    let scores: Vec<f64> = sources
        .iter()
        .map(|src| src["rerank"].as_f64().expect("every source is reranked"))
        .collect();
    assert!(scores.iter().all(|x| (0.0..=1.0).contains(x)), "{scores:?}");
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    scores
}

fn siagen_sha(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// With `kb_reranker_model`, the local model re-orders the retrieved passages before they are
/// numbered: the answer is still sourced, nothing identifying reaches the answering model, and
/// the ask is audited with the reranker's name (ids and hashes only).
#[test]
fn reranker_model_reorders_the_passages_of_an_ask() {
    let (s, scribe) = server_with_scribe("kb_reranker_model = \"tiny-long\"");
    let alice = s.user("alice", "clinician");
    let v = ask_scribe(&s, &alice, IDENTIFYING);
    assert_eq!(v["covered"], true, "{v}");
    let sources = v["sources"].as_array().unwrap();
    assert!(!sources.is_empty(), "{v}");
    // Numbered in the reranker's order: its scores (P(oui) among oui/non) do not increase.
    rerank_scores(sources);
    assert!(sources.iter().enumerate().all(|(i, src)| src["n"] == i + 1));
    let bodies = scribe.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1);
    assert!(!bodies[0].contains("Dupont"));
    let out = cli(
        s.path(),
        &["user", "add", "audra", "--roles", "auditor"],
        &[("SIAGEN_NEW_PASSWORD", "audra-password-123")],
    );
    assert!(out.status.success());
    let entries = audit_actions(&s, &s.token("audra"));
    let ask = entries
        .iter()
        .find(|e| e["action"] == "kb.ask" && e["outcome"] == "ok")
        .expect("the ask is audited");
    assert_eq!(ask["details"]["reranker"], "tiny-long", "{ask}");
    assert_eq!(
        ask["details"]["chunk_ids"].as_array().unwrap().len(),
        sources.len()
    );
    assert!(!serde_json::to_string(&entries).unwrap().contains("Dupont"));
}

/// The claim check and the reranker on a real model (SmolLM2-135M-Instruct): every cited
/// (passage, sentence) pair gets an entailment score from its « oui » / « non »
/// log-probabilities, the passages are re-ordered by its P(oui), and contradictions still decide
/// the verdict; then SmolLM2 answers a question itself from the corpus.
#[test]
fn claim_check_and_reranker_on_a_real_model() {
    let (s, scribe) = server_with_models_and_scribe(
        &format!("kb_entailment_model = \"{REAL_CHAT}\"\nkb_reranker_model = \"{REAL_CHAT}\""),
        install_real_models,
    );
    let alice = s.user("alice", "clinician");
    let v = ask_scribe(&s, &alice, IDENTIFYING);
    assert_eq!(v["covered"], true, "{v}");
    assert!(!scribe.bodies.lock().unwrap()[0].contains("Dupont"));
    let sources = v["sources"].as_array().unwrap();
    let scores = rerank_scores(sources);
    let sentences = v["sentences"].as_array().unwrap();
    let entailment: Vec<&Value> = sentences
        .iter()
        .flat_map(|st| st["reasons"].as_array().unwrap())
        .filter(|r| r["code"] == "entailment")
        .collect();
    assert!(!entailment.is_empty(), "the real model scored no pair: {v}");
    // The changed number (6 g instead of 4 g) is caught whatever the model says.
    assert_eq!(sentences[1]["verdict"], "unsupported", "{v}");
    eprintln!(
        "real-model claim check: verdicts {:?}, rerank scores {scores:?}",
        sentences
            .iter()
            .map(|s| s["verdict"].as_str().unwrap())
            .collect::<Vec<_>>()
    );
    // SmolLM2 answers from the corpus itself.
    let own: Value = s
        .post(
            &alice,
            "/api/ask",
            json!({ "question": QUESTION, "collection": "guides", "model": REAL_CHAT,
                    "max_tokens": 80 }),
        )
        .json()
        .unwrap();
    assert_eq!(own["covered"], true, "{own}");
    assert!(!own["answer"].as_str().unwrap().trim().is_empty(), "{own}");
    assert!(!own["sentences"].as_array().unwrap().is_empty(), "{own}");
    eprintln!("real-model answer: {}", own["answer"]);
}
