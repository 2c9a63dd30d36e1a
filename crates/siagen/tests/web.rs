//! The French web workspace in a real browser: Debian's Chromium driven by playwright-core
//! (tests/web/workspace.cjs) against the real `siagen serve`. Needs what scripts/test-deps.sh
//! installs; fails (never skips) without it. Screenshots land in target/web-screenshots/.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn deps_dir() -> PathBuf {
    std::env::var("SIAGEN_TEST_DEPS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("target/test-deps"))
}

fn chromium() -> PathBuf {
    let path = std::env::var("SIAGEN_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "Chromium not found at {}: run scripts/test-deps.sh (installs Debian's chromium), \
         or set SIAGEN_CHROMIUM",
        path.display()
    );
    path
}

/// Runs the browser scenario `tests/web/NAME.cjs` (through tests/web/harness.cjs) against `s`,
/// with `env` added, and fails with the path of its failure screenshot.
fn browser_scenario(s: &Server, name: &str, env: &[(&str, String)]) {
    let node_ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(node_ok, "node missing: run scripts/test-deps.sh");
    let deps = deps_dir();
    let chromium = chromium();
    assert!(
        deps.join("node_modules/playwright-core/package.json")
            .exists(),
        "playwright-core missing in {}: run scripts/test-deps.sh",
        deps.display()
    );
    let shots = repo_root().join("target/web-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let status = Command::new("node")
        .arg(repo_root().join(format!("tests/web/{name}.cjs")))
        .env("NODE_PATH", deps.join("node_modules"))
        .env("SIAGEN_URL", &s.base)
        .env("SIAGEN_SHOTS", &shots)
        .env("SIAGEN_CHROMIUM", &chromium)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .status()
        .expect("run node");
    assert!(
        status.success(),
        "browser checks failed (see the output above and {}/zz-echec-{name}.png)",
        shots.display()
    );
}

fn redirect_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Without a browser: anonymous requests are sent to the login page, nothing is done, and the
/// pages carry a strict Content-Security-Policy.
#[test]
fn anonymous_requests_go_to_login_and_change_nothing() {
    let s = Server::start();
    let alice = s.user("alice", "clinician");
    let doc = s.machine_doc(&alice, "Texte du modèle.");
    let id = doc["id"].as_i64().unwrap();
    let rev = doc["current_revision"]["id"].as_i64().unwrap();
    let c = redirect_client();

    let r = c.get(s.url("/documents")).send().unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login?msg=login_required");

    let r = c
        .post(s.url(&format!("/documents/{id}/valider")))
        .form(&[("revision_id", rev.to_string())])
        .send()
        .unwrap();
    assert_eq!(r.status(), 303, "no session, no action");
    let v: serde_json::Value = s
        .get(&alice, &format!("/api/documents/{id}"))
        .json()
        .unwrap();
    assert_eq!(v["state"], "draft");

    let r = c.get(s.url("/login")).send().unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
    assert!(!csp.contains("unsafe-inline"));
    let body = r.text().unwrap();
    assert!(body.contains(r#"<html lang="fr">"#) && body.contains("Connexion"));
    assert!(!body.contains("<script>"), "no inline script");

    // A login POST without the form's token is refused before any password check.
    let r = c
        .post(s.url("/login"))
        .form(&[("username", "alice"), ("password", "alice-password-123")])
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r
        .headers()
        .get_all("set-cookie")
        .iter()
        .all(|v| !v.to_str().unwrap().starts_with("siagen_session=")));

    let r = c.get(s.url("/assets/siagen.css")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
}

/// One attempt at the login form, as a browser does it: fetch the form (its token and cookie),
/// then post it. Returns the status and the page.
fn form_login(s: &Server, user: &str, password: &str) -> (u16, String) {
    let c = redirect_client();
    let r = c.get(s.url("/login")).send().unwrap();
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = r.text().unwrap();
    let token = page
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap()
        .to_string();
    let r = c
        .post(s.url("/login"))
        .header("cookie", cookie)
        .form(&[
            ("csrf", token.as_str()),
            ("username", user),
            ("password", password),
        ])
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

/// The form shares the API's login throttle: guessing through one unlocks nothing in the other.
#[test]
fn login_form_is_throttled_with_the_api() {
    let s = Server::start();
    s.user("alice", "clinician");
    let (status, _) = form_login(&s, "alice", "alice-password-123");
    assert_eq!(status, 303, "right password logs in");
    // Eight failures: the lock-out then lasts 8 s, far longer than the next request.
    let mut failures = 0;
    while failures < 8 {
        let (status, page) = form_login(&s, "alice", "wrong-password-000");
        match status {
            401 => {
                assert!(page.contains("Identifiant ou mot de passe incorrect"));
                failures += 1;
            }
            429 => std::thread::sleep(std::time::Duration::from_millis(250)),
            other => panic!("unexpected status {other}"),
        }
    }
    let (status, page) = form_login(&s, "alice", "alice-password-123");
    assert_eq!(status, 429, "locked out, even with the right password");
    assert!(page.contains("Trop de tentatives"), "{page}");
    let r = s
        .client
        .post(s.url("/api/login"))
        .json(&serde_json::json!({ "username": "alice", "password": "alice-password-123" }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 429, "the API sees the same lock-out");
}

#[test]
fn web_workspace_in_chromium() {
    let s = Server::start();
    let alice = s.user("alice", "clinician");
    s.user("bob", "validator");
    s.user("dave", "auditor");
    let machine = s.machine_doc(
        &alice,
        "Patient de 72 ans hospitalisé pour insuffisance cardiaque.\n\
         Traitement de sortie : furosémide 40 mg le matin.\n\
         Consultation de cardiologie dans un mois.",
    );
    assert_eq!(machine["current_revision"]["author"]["kind"], "model");
    browser_scenario(
        &s,
        "workspace",
        &[
            ("SIAGEN_MACHINE_DOC", machine["id"].to_string()),
            ("SIAGEN_ADMIN_PASSWORD", ADMIN_PASSWORD.to_string()),
        ],
    );

    // What the browser did is in the store, checked through the API.
    let doc: serde_json::Value = s
        .get(&alice, &format!("/api/documents/{}", machine["id"]))
        .json()
        .unwrap();
    assert_eq!(
        doc["state"], "rejected",
        "the machine document was rejected"
    );
    let list: serde_json::Value = s
        .get(&alice, "/api/documents?state=validated")
        .json()
        .unwrap();
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["title"], "Lettre de liaison — cardiologie");
}

/// The assistant (streamed answer, token probabilities, saved draft), the pseudonymisation and
/// the energy pages in Chromium, against a server with the suite's tiny models.
#[test]
fn assistant_pseudonymisation_and_energy_in_chromium() {
    let s = Server::start_with(|d| {
        write_tiny_models(d);
    });
    let alice = s.user("alice", "clinician");
    browser_scenario(&s, "assistant", &[]);

    // The saved answer is a machine draft citing its generation.
    let list: serde_json::Value = s.get(&alice, "/api/documents?state=draft").json().unwrap();
    assert_eq!(list["total"], 1, "{list}");
    let id = list["items"][0]["id"].as_i64().unwrap();
    let doc: serde_json::Value = s
        .get(&alice, &format!("/api/documents/{id}"))
        .json()
        .unwrap();
    let author = &doc["current_revision"]["author"];
    assert_eq!(author["kind"], "model", "{doc}");
    assert_eq!(author["model"], "tiny-chat", "{doc}");
    assert!(
        author["generation_id"]
            .as_str()
            .is_some_and(|g| g.starts_with("chatcmpl")),
        "{doc}"
    );
    assert_eq!(author["parameters"]["max_tokens"], 24, "{doc}");
}

/// « Questions au corpus » in Chromium: a sourced answer with verdicts and licensed sources,
/// saved as a draft « réponse sourcée »; another installed model chosen on the page answers; a
/// question the corpus does not cover is refused.
#[test]
fn sourced_answers_page_in_chromium() {
    let s = Server::start_with(|d| {
        // Two tiny models with a context that holds the prompt and its passages, the second
        // to choose on the page.
        write_tiny_long(d, "tiny-long", None);
        write_tiny_long(d, "tiny-second", Some(7));
        let kb = siagen_kb::Kb::open(&d.join("kb"), siagen_kb::KbOptions::default()).unwrap();
        let cli = siagen_kb::Viewer::cli();
        kb.create_collection(&cli, "guides", siagen_kb::Visibility::Institution)
            .unwrap();
        kb.ingest_bytes(
            &cli,
            "guides",
            "paracetamol.md",
            "# Paracétamol chez l'adulte\n\nLa dose maximale de paracétamol est de 4 g par jour \
             chez l'adulte.\n"
                .as_bytes()
                .to_vec(),
            siagen_kb::DocMeta {
                licence: Some("Licence Ouverte 2.0".into()),
                ..Default::default()
            },
        )
        .unwrap();
    });
    let alice = s.user("alice", "clinician");
    browser_scenario(&s, "questions", &[]);
    let list: serde_json::Value = s
        .get(&alice, "/api/documents?kind=reponse_sourcee")
        .json()
        .unwrap();
    assert_eq!(list["total"], 1, "{list}");
}

const NOTE_1: &str = "Mme Jeanne DUPONT, née le 12/03/1950, admise le 02/03/2024 pour \
décompensation cardiaque. Pas de fièvre. FEVG 35 %. Furosémide IV 40 mg x2/j relayé per os à J3.";
const NOTE_2: &str = "- Furosémide 40 mg 1 cp le matin\n- Bisoprolol 2,5 mg 1 cp/j\n- Amiodarone \
200 mg 1 cp/j\n- Simvastatine 40 mg 1 cp le soir";

/// An OpenAI-compatible upstream that writes each section from a script, keyed by the section
/// title the prompt names; « Non renseigné » for the others.
fn start_section_scribe() -> String {
    const SCRIPT: &[(&str, &str)] = &[
        ("Motif d'hospitalisation", "Décompensation cardiaque [n1]."),
        ("Évolution dans le service", "FEVG à 35 % [n1]. La patiente était fébrile à l'entrée [n1]."),
        ("Traitement de sortie", "- Furosémide 40 mg 1 cp le matin [n2]\n- Bisoprolol 5 mg 1 cp/j [n2]\n- Amiodarone 200 mg 1 cp/j [n2]\n- Simvastatine 40 mg 1 cp le soir [n2]"),
        ("Conclusion", "Insuffisance cardiaque à FEVG altérée [n1]."),
    ];
    let app = axum::Router::new()
        .route(
            "/v1/models",
            axum::routing::get(|| async { axum::Json(serde_json::json!({ "object": "list", "data": [] })) }),
        )
        .route(
        "/v1/chat/completions",
        axum::routing::post(|axum::Json(v): axum::Json<serde_json::Value>| async move {
            let user = v["messages"][1]["content"].as_str().unwrap_or("").to_string();
            let answer = SCRIPT
                .iter()
                .find(|(t, _)| user.contains(&format!("« {t} »")))
                .map_or("Non renseigné", |(_, a)| a);
            axum::Json(serde_json::json!({ "id": "x", "object": "chat.completion", "model": "m",
                "choices": [{ "index": 0, "message": { "role": "assistant", "content": answer }, "finish_reason": "stop" }],
                "usage": { "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15 } }))
        }),
    );
    format!("http://{}/v1", serve_in_background(app))
}

#[test]
fn drafting_page_in_chromium() {
    let url = start_section_scribe();
    let s = Server::start_with(|d| {
        std::fs::write(
            d.join("siagen.toml"),
            format!("[[upstreams]]\nmodel = \"scribe\"\nurl = \"{url}\"\noperator = \"Prestataire\"\njurisdiction = \"FR\"\n"),
        )
        .unwrap();
    });
    s.user("alice", "clinician");
    browser_scenario(
        &s,
        "drafts",
        &[
            ("NOTE_1", NOTE_1.to_string()),
            ("NOTE_2", NOTE_2.to_string()),
        ],
    );
}
