//! The OpenAI-compatible API on the real server with the suite's own tiny GGUF models: the
//! official `openai` Python client in stream and non-stream modes, audit and energy records,
//! queue limits, metrics.

mod common;
use common::*;
use serde_json::{json, Value};
use std::process::Command;

fn chat(s: &Server, token: &str, body: Value) -> reqwest::blocking::Response {
    s.post(token, "/v1/chat/completions", body)
}

#[test]
fn official_openai_python_client_stream_and_non_stream() {
    let s = Server::start_with(|d| {
        write_tiny_models(d);
    });
    let token = s.user("alice", "clinician");
    let python = test_deps().join("venv/bin/python");
    assert!(
        python.exists(),
        "openai client missing: run scripts/test-deps.sh"
    );
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/openai/client_test.py");
    let out = Command::new(python)
        .arg(script)
        .args([&s.base, &token, "tiny-chat", "tiny-embed"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("all ok"), "{stdout}");
}

#[test]
fn response_format_json_schema_through_the_official_client() {
    let s = Server::start_with(|d| {
        write_tiny_models(d);
    });
    let token = s.user("alice", "clinician");
    let python = test_deps().join("venv/bin/python");
    assert!(
        python.exists(),
        "openai client missing: run scripts/test-deps.sh"
    );
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/openai/json_schema_test.py");
    let out = Command::new(python)
        .arg(script)
        .args([&s.base, &token, "tiny-chat"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("all ok"), "{stdout}");
}

#[test]
fn generations_are_audited_metered_and_linked_to_drafts() {
    let s = Server::start_with(|d| {
        write_tiny_models(d);
    });
    let alice = s.user("alice", "clinician");
    let bob = s.user("bob", "validator");
    let audi = s.user("audi", "auditor");
    let secret_prompt = "Mme Jeanne Martin, née le 02/03/1941, douleur thoracique";
    let r = chat(
        &s,
        &alice,
        json!({ "model": "tiny-chat", "max_tokens": 8, "seed": 1,
        "messages": [{ "role": "user", "content": secret_prompt }] }),
    );
    assert_eq!(r.status(), 200);
    let header = r.headers()["x-siagen-energy"].to_str().unwrap().to_string();
    assert!(
        header.contains("wh=") && header.contains("method=estimated"),
        "{header}"
    );
    let v: Value = r.json().unwrap();
    let gen_id = v["id"].as_str().unwrap().to_string();
    let energy = &v["usage"]["energy"];
    assert!(energy["joules"].as_f64().unwrap() >= 0.0);
    assert_eq!(energy["method"], "estimated");

    // The draft cites its generation; the validator validates; energy is reported per document.
    let doc: Value = s.post(&alice, "/api/documents", json!({
        "kind": "lettre_liaison", "title": "Lettre", "patient_ref": "P-7",
        "text": v["choices"][0]["message"]["content"].as_str().unwrap().to_string() + " (brouillon)",
        "generated_by": { "model": "tiny-chat", "version": v["system_fingerprint"], "generation_id": gen_id }
    })).json().unwrap();
    assert_eq!(
        doc["current_revision"]["author"]["generation_id"],
        gen_id.as_str()
    );
    problem(
        s.post(
            &alice,
            "/api/documents",
            json!({
        "kind": "libre", "title": "t", "patient_ref": "P-7", "text": "x",
        "generated_by": { "model": "m", "version": "v", "generation_id": "chatcmpl-forged" } }),
        ),
        422,
    );
    // Another clinician cannot cite alice's generation.
    let carol = s.user("carol", "clinician");
    problem(
        s.post(
            &carol,
            "/api/documents",
            json!({
        "kind": "libre", "title": "t", "patient_ref": "P-7", "text": "x",
        "generated_by": { "model": "tiny-chat", "version": "v", "generation_id": gen_id } }),
        ),
        422,
    );
    let id = doc["id"].as_i64().unwrap();
    s.post(&alice, &format!("/api/documents/{id}/submit"), json!({}));
    assert_eq!(
        s.post(
            &bob,
            &format!("/api/documents/{id}/validate"),
            json!({"revision_id": doc["current_revision"]["id"]})
        )
        .status(),
        200
    );
    let report = cli(
        s.path(),
        &["energy", "report", "--by", "document", "--csv"],
        &[],
    );
    let csv = String::from_utf8(report.stdout).unwrap();
    assert!(
        csv.lines()
            .any(|l| l.starts_with(&format!("document:{id},1,"))),
        "{csv}"
    );
    let report = cli(s.path(), &["energy", "report", "--by", "model"], &[]);
    assert!(String::from_utf8(report.stdout)
        .unwrap()
        .contains("tiny-chat"));

    // The audit trail has the generation, its parameters and prompt hash, never the text.
    let entries: Value = s.get(&audi, "/api/audit?limit=10000").json().unwrap();
    let all = entries["entries"].to_string();
    assert!(!all.contains("Jeanne") && !all.contains("thoracique"));
    let gen = entries["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "generation")
        .expect("generation audited");
    assert_eq!(gen["details"]["parameters"]["max_tokens"], 8);
    assert_eq!(gen["details"]["prompt_sha256"].as_str().unwrap().len(), 64);
    assert!(entries["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "generation.done"));

    // An auditor may not generate.
    problem(
        chat(
            &s,
            &audi,
            json!({ "model": "tiny-chat", "messages": [{ "role": "user", "content": "x" }] }),
        ),
        403,
    );
    // Context overflow: a clear error with the counts.
    let long = "mot ".repeat(400);
    let detail = problem(
        chat(
            &s,
            &alice,
            json!({ "model": "tiny-chat", "messages": [{ "role": "user", "content": long }] }),
        ),
        400,
    );
    assert!(detail.contains("context window exceeded"), "{detail}");
}

#[test]
fn metrics_are_valid_prometheus_exposition() {
    let s = Server::start_with(|d| {
        write_tiny_models(d);
    });
    let alice = s.user("alice", "clinician");
    assert_eq!(
        chat(
            &s,
            &alice,
            json!({ "model": "tiny-chat", "max_tokens": 4,
        "messages": [{ "role": "user", "content": "Bonjour" }] })
        )
        .status(),
        200
    );
    let r = s.client.get(s.url("/metrics")).send().unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().unwrap();
    assert!(
        text.contains("siagen_tokens_total{model=\"tiny-chat\",kind=\"generated\"}"),
        "{text}"
    );
    assert!(text.contains("siagen_energy_joules_total"), "{text}");
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) missing: run scripts/test-deps.sh");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A client without reqwest's default 30 s timeout: the request admitted to the queue waits for
/// the whole long generation, which takes longer than that on a loaded 2-core machine.
fn patient_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(600))
        .build()
        .unwrap()
}

#[test]
fn bounded_queue_answers_429_with_retry_after() {
    let mut n_vocab = 0;
    let s = Server::start_with(|dir| {
        write_tiny_models(dir);
        // A slower model so that one generation surely outlasts the burst below.
        n_vocab = siagen_engine::testmodel::write_tiny_llama(
            &dir.join("models/slow-chat.gguf"),
            &siagen_engine::testmodel::TinyConfig {
                name: "slow-chat".into(),
                n_embd: 256,
                n_layer: 4,
                n_head: 8,
                n_head_kv: 4,
                n_ff: 768,
                context_length: 2048,
                ..Default::default()
            },
        )
        .unwrap();
        std::fs::write(
            dir.join("siagen.toml"),
            "engine_max_queue = 1\nengine_parallel = 1\n",
        )
        .unwrap();
    });
    let alice = s.user("alice", "clinician");
    let ask = |max_tokens: u32, bias: Value| {
        json!({ "model": "slow-chat", "max_tokens": max_tokens, "seed": 1,
        "logit_bias": bias, "messages": [{ "role": "user", "content": "x" }] })
    };
    // Warm the model so its first load does not count.
    assert_eq!(chat(&s, &alice, ask(1, json!({}))).status(), 200);
    // Ban the end tokens so the long generation runs all its tokens.
    let bias = json!({ (n_vocab - 3).to_string(): -100, (n_vocab - 1).to_string(): -100 });
    let long = {
        let (base, alice, body) = (s.base.clone(), alice.clone(), ask(1500, bias));
        std::thread::spawn(move || {
            patient_client()
                .post(format!("{base}/v1/chat/completions"))
                .bearer_auth(&alice)
                .json(&body)
                .send()
                .unwrap()
                .json::<Value>()
                .unwrap()
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    // A burst while it runs: one request may wait (queue bound 1), the others are refused.
    let burst: Vec<_> = (0..3)
        .map(|_| {
            let (base, alice, body) = (s.base.clone(), alice.clone(), ask(1, json!({})));
            std::thread::spawn(move || {
                let r = patient_client()
                    .post(format!("{base}/v1/chat/completions"))
                    .bearer_auth(&alice)
                    .json(&body)
                    .send()
                    .unwrap();
                (
                    r.status().as_u16(),
                    r.headers()
                        .get("retry-after")
                        .map(|v| v.to_str().unwrap().to_string()),
                )
            })
        })
        .collect();
    let results: Vec<_> = burst.into_iter().map(|t| t.join().unwrap()).collect();
    let refused: Vec<_> = results.iter().filter(|(st, _)| *st == 429).collect();
    assert!(refused.len() >= 2, "{results:?}");
    assert!(refused.iter().all(|(_, retry)| retry
        .as_deref()
        .and_then(|r| r.parse::<u64>().ok())
        .is_some_and(|r| r >= 1)));
    assert!(
        results.iter().all(|(st, _)| *st == 200 || *st == 429),
        "{results:?}"
    );
    let v = long.join().unwrap();
    assert_eq!(v["usage"]["completion_tokens"], 1500, "{v}");
}

#[test]
fn client_disconnect_cancels_a_streamed_generation() {
    let mut n_vocab = 0;
    let s = Server::start_with(|dir| {
        std::fs::create_dir_all(dir.join("models")).unwrap();
        n_vocab = siagen_engine::testmodel::write_tiny_llama(
            &dir.join("models/slow-chat.gguf"),
            &siagen_engine::testmodel::TinyConfig {
                name: "slow-chat".into(),
                n_embd: 256,
                n_layer: 4,
                n_head: 8,
                n_head_kv: 4,
                n_ff: 768,
                context_length: 2048,
                ..Default::default()
            },
        )
        .unwrap();
    });
    let alice = s.user("alice", "clinician");
    let audi = s.user("audi", "auditor");
    let bias = json!({ (n_vocab - 3).to_string(): -100, (n_vocab - 1).to_string(): -100 });
    let mut r = s.post(
        &alice,
        "/v1/chat/completions",
        json!({ "model": "slow-chat", "max_tokens": 1900, "stream": true,
        "logit_bias": bias, "messages": [{ "role": "user", "content": "x" }] }),
    );
    assert_eq!(r.status(), 200);
    let mut buf = [0u8; 256];
    use std::io::Read;
    let n = r.read(&mut buf).unwrap();
    assert!(std::str::from_utf8(&buf[..n])
        .unwrap()
        .starts_with("data: "));
    drop(r); // the client goes away
             // The generation is stopped and recorded as cancelled, well before its 1900 tokens.
    let started = std::time::Instant::now();
    let done = loop {
        let entries: Value = s.get(&audi, "/api/audit?limit=10000").json().unwrap();
        if let Some(e) = entries["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "generation.done")
        {
            break e.clone();
        }
        assert!(started.elapsed().as_secs() < 20, "no generation.done entry");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(done["details"]["finish_reason"], "cancelled");
    assert!(
        done["details"]["completion_tokens"].as_i64().unwrap() < 1900,
        "{done}"
    );
}
