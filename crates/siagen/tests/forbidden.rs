//! Every forbidden transition and role violation is refused, precisely, and changes nothing.

mod common;
use common::*;
use serde_json::{json, Value};

fn count(s: &Server, table: &str) -> i64 {
    let db = rusqlite::Connection::open(s.db()).unwrap();
    db.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[test]
fn roles_and_transitions_are_enforced() {
    let s = Server::start();
    let alice = s.user("alice", "clinician");
    let carol = s.user("carol", "clinician,validator");
    let bob = s.user("bob", "validator");
    let audi = s.user("audi", "auditor");

    let doc = s.machine_doc(&alice, "Texte machine.");
    let id = doc["id"].as_i64().unwrap();
    let rev = doc["current_revision"]["id"].as_i64().unwrap();

    // A validator cannot write; an auditor cannot read documents.
    problem(
        s.post(
            &bob,
            "/api/documents",
            json!({"kind":"libre","title":"t","patient_ref":"P","text":"x"}),
        ),
        403,
    );
    problem(s.get(&audi, &format!("/api/documents/{id}")), 403);
    // Nothing to validate before submission; export refused before validation.
    problem(
        s.post(
            &bob,
            &format!("/api/documents/{id}/validate"),
            json!({"revision_id": rev}),
        ),
        409,
    );
    let detail = problem(s.get(&alice, &format!("/api/documents/{id}/fhir")), 409);
    assert!(detail.contains("not validated"), "{detail}");
    problem(s.get(&alice, &format!("/api/documents/{id}/final")), 409);

    s.post(&alice, &format!("/api/documents/{id}/submit"), json!({}));
    problem(
        s.post(&alice, &format!("/api/documents/{id}/submit"), json!({})),
        409,
    );
    // A clinician cannot validate.
    let detail = problem(
        s.post(
            &alice,
            &format!("/api/documents/{id}/validate"),
            json!({"revision_id": rev}),
        ),
        403,
    );
    assert!(detail.contains("validator role"), "{detail}");
    // A wrong or unknown revision is refused.
    problem(
        s.post(
            &bob,
            &format!("/api/documents/{id}/validate"),
            json!({"revision_id": rev + 100}),
        ),
        409,
    );
    problem(
        s.post(
            &bob,
            &format!("/api/documents/{}/validate", id + 100),
            json!({"revision_id": rev}),
        ),
        404,
    );
    // A rejection needs a reason.
    problem(
        s.post(
            &bob,
            &format!("/api/documents/{id}/reject"),
            json!({"reason": "  "}),
        ),
        422,
    );

    // carol edits while in review: the document stays in review, and carol cannot validate her own text.
    let r = s.post(
        &carol,
        &format!("/api/documents/{id}/revisions"),
        json!({"text": "Texte revu par carol."}),
    );
    let doc: Value = r.json().unwrap();
    assert_eq!(doc["state"], "in_review");
    let rev2 = doc["current_revision"]["id"].as_i64().unwrap();
    let detail = problem(
        s.post(
            &carol,
            &format!("/api/documents/{id}/validate"),
            json!({"revision_id": rev2}),
        ),
        403,
    );
    assert!(detail.contains("another validator"), "{detail}");
    // Validating the text bob read earlier (rev) is refused: it is not the current one.
    problem(
        s.post(
            &bob,
            &format!("/api/documents/{id}/validate"),
            json!({"revision_id": rev}),
        ),
        409,
    );
    assert_eq!(
        s.post(
            &bob,
            &format!("/api/documents/{id}/validate"),
            json!({"revision_id": rev2})
        )
        .status(),
        200
    );
    assert_eq!(
        s.get(&alice, &format!("/api/documents/{id}/fhir")).status(),
        200
    );

    // A later edit undoes the validation: export refused again.
    let r = s.post(
        &alice,
        &format!("/api/documents/{id}/revisions"),
        json!({"text": "Ajout après validation."}),
    );
    assert_eq!(r.json::<Value>().unwrap()["state"], "draft");
    problem(s.get(&alice, &format!("/api/documents/{id}/fhir")), 409);
    problem(s.get(&alice, &format!("/api/documents/{id}/final")), 409);
    // Stale base revision: no lost update.
    problem(
        s.post(
            &alice,
            &format!("/api/documents/{id}/revisions"),
            json!({"text": "x", "base_revision_id": rev2}),
        ),
        409,
    );

    // Refusals are in the audit trail.
    let entries: Value = s.get(&audi, "/api/audit?limit=10000").json().unwrap();
    let refused = entries["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == "refused")
        .count();
    assert!(
        refused >= 4,
        "refused authorisations are audited ({refused})"
    );
}

#[test]
fn tokens_and_accounts() {
    let s = Server::start();
    let alice = s.user("alice", "clinician");
    let bob = s.user("bob", "validator");

    // Each token acts as its own user only.
    let me: Value = s.get(&alice, "/api/me").json().unwrap();
    assert_eq!(me["name"], "alice");
    let doc = s.machine_doc(&alice, "Texte.");
    assert_eq!(doc["created_by"], me["id"]);
    let me: Value = s.get(&bob, "/api/me").json().unwrap();
    assert_eq!(me["name"], "bob");

    // No token, a malformed header, an unknown token.
    problem(s.client.get(s.url("/api/documents")).send().unwrap(), 401);
    problem(
        s.client
            .get(s.url("/api/documents"))
            .header("authorization", "Basic xyz")
            .send()
            .unwrap(),
        401,
    );
    problem(s.get("sgn_not-a-token", "/api/documents"), 401);

    // A revoked token is refused; the account's other tokens still work.
    let second = s.token("alice");
    let list = cli(s.path(), &["token", "list", "alice"], &[]);
    let text = String::from_utf8(list.stdout).unwrap();
    let id = text
        .lines()
        .nth(2)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert!(cli(s.path(), &["token", "revoke", &id], &[])
        .status
        .success());
    let detail = problem(s.get(&second, "/api/documents"), 401);
    assert!(detail.contains("revoked"), "{detail}");
    assert_eq!(s.get(&alice, "/api/documents").status(), 200);

    // A disabled account is refused everywhere, and comes back when enabled.
    assert!(cli(s.path(), &["user", "disable", "alice"], &[])
        .status
        .success());
    let detail = problem(s.get(&alice, "/api/documents"), 401);
    assert!(detail.contains("disabled"), "{detail}");
    assert!(cli(s.path(), &["user", "enable", "alice"], &[])
        .status
        .success());
    assert_eq!(s.get(&alice, "/api/documents").status(), 200);

    // CLI errors are one clear line and change nothing.
    let out = cli(s.path(), &["user", "add", "eve", "--roles", "nurse"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1);
    assert!(err.contains("unknown role 'nurse'"), "{err}");
    let out = cli(
        s.path(),
        &["user", "add", "Eve Smith", "--roles", "clinician"],
        &[],
    );
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("invalid user name"));
    let users = String::from_utf8(cli(s.path(), &["user", "list"], &[]).stdout).unwrap();
    assert!(!users.contains("eve"));
    let out = cli(s.path(), &["token", "create", "nobody"], &[]);
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("no user named 'nobody'"));
}

#[test]
fn invalid_requests_change_nothing() {
    let s = Server::start();
    let alice = s.user("alice", "clinician");
    let before = count(&s, "documents");
    let revisions = count(&s, "revisions");

    let good = json!({"kind":"libre","title":"t","patient_ref":"P-1","text":"x"});
    let mut unknown = good.clone();
    unknown["author"] = json!("someone else");
    let detail = problem(s.post(&alice, "/api/documents", unknown), 422);
    assert!(detail.contains("unknown field `author`"), "{detail}");
    let mut bad_kind = good.clone();
    bad_kind["kind"] = json!("roman");
    problem(s.post(&alice, "/api/documents", bad_kind), 422);
    let mut name_as_ref = good.clone();
    name_as_ref["patient_ref"] = json!("Jean Dupont");
    let detail = problem(s.post(&alice, "/api/documents", name_as_ref), 422);
    assert!(detail.contains("pseudonymous"), "{detail}");
    let mut empty = good.clone();
    empty["text"] = json!("   ");
    problem(s.post(&alice, "/api/documents", empty), 422);
    let r = s
        .client
        .post(s.url("/api/documents"))
        .bearer_auth(&alice)
        .header("content-type", "application/json")
        .body("{\"kind\": ")
        .send()
        .unwrap();
    problem(r, 400);
    let r = s
        .client
        .post(s.url("/api/documents"))
        .bearer_auth(&alice)
        .body("kind=libre")
        .send()
        .unwrap();
    problem(r, 415);
    let mut huge = good.clone();
    huge["text"] = json!("a".repeat(3 * 1024 * 1024));
    // Own client: the server answers 413 before reading the body and closes that connection.
    let r = reqwest::blocking::Client::new()
        .post(s.url("/api/documents"))
        .bearer_auth(&alice)
        .json(&huge)
        .send()
        .unwrap();
    problem(r, 413);
    problem(s.get(&alice, "/api/documents/abc"), 400);
    problem(s.get(&alice, "/api/documents?per_page=1000"), 422);
    problem(s.get(&alice, "/api/documents?state=lost"), 400);

    assert_eq!(count(&s, "documents"), before);
    assert_eq!(count(&s, "revisions"), revisions);
    assert_eq!(s.post(&alice, "/api/documents", good).status(), 201);
}

#[test]
fn web_login_cookie_csrf_and_throttling() {
    let s = Server::start();
    s.user("alice", "clinician");
    let login = |user: &str, pw: &str| {
        s.client
            .post(s.url("/api/login"))
            .json(&json!({"username": user, "password": pw}))
            .send()
            .unwrap()
    };
    let detail = problem(login("alice", "wrong-password"), 401);
    assert_eq!(detail, "wrong user name or password");
    let r = login("alice", "alice-password-123");
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    for flag in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie} lacks {flag}");
    }
    let session = cookie.split(';').next().unwrap().to_string();
    let body: Value = r.json().unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_string();
    let me: Value = s
        .client
        .get(s.url("/api/me"))
        .header("cookie", &session)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(me["name"], "alice");
    // A state-changing request without the CSRF header is refused; with it, accepted.
    let doc = json!({"kind":"libre","title":"t","patient_ref":"P-1","text":"x"});
    let r = s
        .client
        .post(s.url("/api/documents"))
        .header("cookie", &session)
        .json(&doc)
        .send()
        .unwrap();
    problem(r, 403);
    let r = s
        .client
        .post(s.url("/api/documents"))
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .json(&doc)
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    // Logout ends the session.
    let r = s
        .client
        .post(s.url("/api/logout"))
        .header("cookie", &session)
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    problem(
        s.client
            .get(s.url("/api/me"))
            .header("cookie", &session)
            .send()
            .unwrap(),
        401,
    );

    // Password guessing is throttled, even with the right password afterwards.
    // (The failure above already counts for this client address.)
    for _ in 0..4 {
        problem(login("alice", "guess-guess-guess"), 401);
    }
    let r = login("alice", "alice-password-123");
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
}
