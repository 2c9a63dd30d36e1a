//! Watermarking end to end on the real server with the suite's tiny models: every sampled local
//! generation is marked (Gumbel by default, KGW as an option), recorded and audited with its
//! scheme and key; detection through the API and the CLI finds it, also after word edits, and
//! neither flags unmarked generations nor human French medical text.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::Path;

/// Tokens generated per answer: enough for a strong verdict on the tiny model's vocabulary.
const TOKENS: u32 = 160;

fn write_models(dir: &Path, extra: &str) {
    let n_vocab = write_tiny_models(dir);
    assert!(n_vocab > 256);
    siagen_engine::testmodel::write_tiny_llama(
        &dir.join("models/tiny-off.gguf"),
        &siagen_engine::testmodel::TinyConfig {
            name: "tiny-off".into(),
            seed: 5,
            ..Default::default()
        },
    )
    .unwrap();
    std::fs::write(
        dir.join("siagen.toml"),
        format!("mark_off_models = [\"tiny-off\"]\n{extra}"),
    )
    .unwrap();
    // A fixed installation key, so that the verdicts on unmarked texts are reproducible: with a
    // fresh random key each run, every "not marked" check below is a draw with a 1e-3 chance of a
    // false positive (the nominal rate), which made the test fail about once in a hundred runs.
    let secret = *b"siagen test suite watermark key!";
    let keys = json!({ "keys": [{ "id": siagen_mark::key::key_id(&secret),
        "secret": hex::encode(secret), "created": "2026-01-01T00:00:00Z", "marks": true }] });
    std::fs::create_dir_all(dir.join("keys")).unwrap();
    std::fs::write(dir.join("keys/mark.json"), keys.to_string()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.join("keys/mark.json"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
}

/// Keeps the tiny model to printable ASCII (bytes 32..=126 are token ids 32..=126) with
/// frequent spaces, so that the answer is text made of words and decodes to the very tokens
/// generated; bans merges and end tokens so that every answer is `TOKENS` long.
fn ascii_bias(n_vocab: u64) -> Value {
    let mut bias = serde_json::Map::new();
    for id in (0..32).chain(127..n_vocab) {
        bias.insert(id.to_string(), json!(-100));
    }
    bias.insert("32".into(), json!(6.0));
    Value::Object(bias)
}

/// Vocabulary size of the default tiny model (bytes, merges, special tokens).
fn tiny_vocab() -> u64 {
    let dir = tempfile::tempdir().unwrap();
    siagen_engine::testmodel::write_tiny_llama(
        &dir.path().join("probe.gguf"),
        &siagen_engine::testmodel::TinyConfig::default(),
    )
    .unwrap()
}

fn generate(s: &Server, token: &str, model: &str, extra: Value) -> (String, String) {
    let mut body = json!({ "model": model, "max_tokens": TOKENS, "temperature": 1.0,
        "messages": [{ "role": "user", "content": "Rédigez une lettre de liaison." }] });
    body["logit_bias"] = ascii_bias(tiny_vocab());
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = s.post(token, "/v1/chat/completions", body.clone());
    assert_eq!(r.status(), 200);
    let v: Value = r.json().unwrap();
    assert_eq!(v["usage"]["completion_tokens"], body["max_tokens"], "{v}");
    (
        v["id"].as_str().unwrap().to_string(),
        v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .to_string(),
    )
}

fn detect(s: &Server, token: &str, text: &str) -> Value {
    let r = s.post(
        token,
        "/api/mark/detect",
        json!({ "text": text, "model": "tiny-chat" }),
    );
    assert_eq!(r.status(), 200);
    r.json().unwrap()
}

/// Deterministic word edits: every `every`-th word replaced (odd turns) or deleted (even).
fn edit_words(text: &str, every: usize) -> String {
    let mut out = Vec::new();
    for (i, w) in text.split(' ').enumerate() {
        if i % every == every - 1 {
            if (i / every).is_multiple_of(2) {
                out.push("patient");
            }
        } else {
            out.push(w);
        }
    }
    out.join(" ")
}

fn human_texts() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../siagen-mark/tests/data/ansm-thesaurus-2020-01-descriptions.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["description"].as_str().unwrap().to_string())
        .collect()
}

fn mark_audits(s: &Server, auditor: &str) -> Vec<Value> {
    let entries: Value = s.get(auditor, "/api/audit?limit=10000").json().unwrap();
    entries["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "generation")
        .map(|e| e["details"]["mark"].clone())
        .collect()
}

#[test]
fn gumbel_marks_are_detected_by_api_and_cli_and_survive_edits() {
    let s = Server::start_with(|d| write_models(d, ""));
    let alice = s.user("alice", "clinician");
    let audi = s.user("audi", "auditor");

    let keys = cli(s.path(), &["mark", "key", "list"], &[]);
    assert!(keys.status.success());
    let keys = String::from_utf8(keys.stdout).unwrap();
    let key_id = keys.split_whitespace().next().unwrap().to_string();
    assert_eq!(key_id.len(), 8, "{keys}");
    assert!(keys.contains("marks new generations"), "{keys}");

    let (gen_id, marked) = generate(&s, &alice, "tiny-chat", json!({}));
    let d = detect(&s, &alice, &marked);
    assert_eq!(d["marked"], true, "{d}");
    assert_eq!(d["scheme"], "gumbel");
    assert_eq!(d["key_id"], key_id.as_str());
    assert!(d["p_value"].as_f64().unwrap() < 1e-6, "{d}");
    assert!(d["tokens"].as_u64().unwrap() > 100, "{d}");

    // The generation record and the audit trail name the scheme and key, never the secret.
    let db = rusqlite::Connection::open(s.db()).unwrap();
    let (scheme, kid): (String, Option<String>) = db
        .query_row(
            "SELECT mark_scheme, mark_key_id FROM generations WHERE id = ?1",
            [&gen_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (scheme.as_str(), kid.as_deref()),
        ("gumbel", Some(key_id.as_str()))
    );

    // Unmarked: the model with marking off, and greedy decoding.
    let (_, plain) = generate(&s, &alice, "tiny-off", json!({}));
    let d = detect(&s, &alice, &plain);
    assert_eq!(d["marked"], false, "{d}");
    let (_, greedy) = generate(&s, &alice, "tiny-chat", json!({ "temperature": 0 }));
    assert_eq!(detect(&s, &alice, &greedy)["marked"], false);
    let audits = mark_audits(&s, &audi);
    assert_eq!(audits.len(), 3, "{audits:?}");
    assert_eq!(audits[0], json!({ "scheme": "gumbel", "key_id": key_id }));
    assert_eq!(audits[1]["scheme"], "none");
    assert!(audits[1]["reason"]
        .as_str()
        .unwrap()
        .contains("mark_off_models"));
    assert!(audits[2]["reason"].as_str().unwrap().contains("greedy"));

    // A seed still decides the text: same seed, same text; another seed, another text.
    let seeded = |seed: u64| generate(&s, &alice, "tiny-chat", json!({ "seed": seed })).1;
    let (a, b) = (seeded(3), seeded(3));
    assert_eq!(a, b);
    assert_ne!(a, seeded(4));
    assert_eq!(detect(&s, &alice, &a)["marked"], true);

    // Word substitutions and deletions (1 word in 10, then 1 in 5) keep the mark.
    for every in [10, 5] {
        let edited = edit_words(&marked, every);
        let words = marked.split(' ').count();
        assert!(words >= 15, "{words} words");
        assert_ne!(edited, marked);
        let d = detect(&s, &alice, &edited);
        assert_eq!(d["marked"], true, "1 word in {every} edited: {d}");
    }

    // The CLI agrees, one line or one JSON object per file; human text is not flagged.
    let files = s.path().join("texts");
    std::fs::create_dir_all(&files).unwrap();
    let mut args: Vec<String> = vec!["mark".into(), "detect".into(), "--json".into()];
    args.extend(["--model".into(), "tiny-chat".into()]);
    std::fs::write(files.join("marked.txt"), &marked).unwrap();
    args.push(files.join("marked.txt").display().to_string());
    for (i, t) in human_texts().iter().enumerate() {
        let f = files.join(format!("human-{i}.txt"));
        std::fs::write(&f, t).unwrap();
        args.push(f.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = cli(s.path(), &args, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 13);
    assert_eq!(lines[0]["marked"], true, "{}", lines[0]);
    assert_eq!(lines[0]["key_id"], key_id.as_str());
    for l in &lines[1..] {
        assert_eq!(l["marked"], false, "{l}");
        assert!(l["tokens"].as_u64().unwrap() > 300, "{l}");
        for k in ["scheme", "key_id", "tokens", "score", "p_value", "marked"] {
            assert!(l.get(k).is_some(), "{k} missing: {l}");
        }
    }
    let human = cli(
        s.path(),
        &["mark", "detect", "--model", "tiny-chat", args[6]],
        &[],
    );
    let line = String::from_utf8(human.stdout).unwrap();
    assert!(
        line.contains(": not marked (") && line.contains("p-value"),
        "{line}"
    );

    // Bad input: a clear error, nothing scored.
    let p = problem(
        s.post(&alice, "/api/mark/detect", json!({ "text": "x", "fpr": 2 })),
        422,
    );
    assert!(p.contains("fpr"), "{p}");
    let p = problem(
        s.post(&alice, "/api/mark/detect", json!({ "text": "x" })),
        422,
    );
    assert!(p.contains("several models"), "{p}");
    problem(
        s.post(
            &alice,
            "/api/mark/detect",
            json!({ "text": "x", "model": "nope" }),
        ),
        404,
    );
    let out = cli(s.path(), &["mark", "detect", "/nonexistent.txt"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot read /nonexistent.txt"), "{err}");
    let out = cli(
        s.path(),
        &["mark", "detect", "--model", "nope", args[6]],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));

    // Rotation: the new key marks, the old one still detects.
    let out = cli(s.path(), &["mark", "key", "rotate"], &[]);
    assert!(out.status.success());
    let new_id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_ne!(new_id, key_id);
    let (_, after) = generate(&s, &alice, "tiny-chat", json!({}));
    assert_eq!(detect(&s, &alice, &after)["key_id"], new_id.as_str());
    let d = detect(&s, &alice, &marked);
    assert_eq!(
        (d["marked"].clone(), d["key_id"].clone()),
        (json!(true), json!(key_id))
    );
}

#[test]
fn green_list_option_marks_and_is_detected() {
    let s = Server::start_with(|d| write_models(d, "mark_scheme = \"kgw\"\n"));
    let alice = s.user("alice", "clinician");
    let (_, marked) = generate(&s, &alice, "tiny-chat", json!({ "seed": 11 }));
    let d = detect(&s, &alice, &marked);
    assert_eq!(d["marked"], true, "{d}");
    assert_eq!(d["scheme"], "kgw");
    let (_, plain) = generate(&s, &alice, "tiny-off", json!({ "seed": 11 }));
    assert_eq!(detect(&s, &alice, &plain)["marked"], false);
}
