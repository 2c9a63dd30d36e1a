//! Scale-out on OpenAI-compatible upstreams: a second siagen instance as upstream, and untrusted
//! upstreams (local servers recording what they receive) that never see an identifier.

mod common;
use axum::extract::State;
use axum::response::IntoResponse;
use common::*;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

const NOTE: &str = "Patient : M. Jean-Pierre Dupont, né le 12/03/1948, NIR 1 48 03 75 115 042 19, \
tél. 06 12 34 56 78, jp.dupont@example.fr, suivi par le Dr Claire Le Goff au CHU de Rennes.";
const GOLD: [&str; 7] = [
    "Dupont",
    "Jean-Pierre",
    "12/03/1948",
    "1 48 03 75 115 042 19",
    "06 12 34 56 78",
    "jp.dupont@example.fr",
    "Le Goff",
];

/// An OpenAI-compatible server that records every body and answers with the last user message
/// (so what it received comes back to the caller, re-identified by siagen).
#[derive(Clone, Default)]
struct Recorder {
    bodies: Arc<Mutex<Vec<String>>>,
    delay_ms: u64,
}

async fn rec_chat(State(r): State<Recorder>, body: String) -> axum::response::Response {
    r.bodies.lock().unwrap().push(body.clone());
    tokio::time::sleep(std::time::Duration::from_millis(r.delay_ms)).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    let echo = v["messages"]
        .as_array()
        .map(|m| m.last().unwrap()["content"].as_str().unwrap().to_string())
        .unwrap_or_else(|| v["prompt"].as_str().unwrap_or("").to_string());
    let chat = v.get("messages").is_some();
    if v["stream"] == true {
        let mut out = String::new();
        let chars: Vec<char> = echo.chars().collect();
        for piece in chars.chunks(5) {
            let p: String = piece.iter().collect();
            let c = if chat {
                json!({ "choices": [{ "index": 0, "delta": { "content": p }, "finish_reason": null }] })
            } else {
                json!({ "choices": [{ "index": 0, "text": p, "finish_reason": null }] })
            };
            out.push_str(&format!("data: {c}\n\n"));
        }
        out.push_str("data: [DONE]\n\n");
        return ([("content-type", "text/event-stream")], out).into_response();
    }
    let usage = json!({ "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15 });
    if chat {
        axum::Json(json!({ "id": "x", "object": "chat.completion", "model": v["model"], "usage": usage,
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": echo }, "finish_reason": "stop" }] })).into_response()
    } else {
        axum::Json(
            json!({ "id": "x", "object": "text_completion", "model": v["model"], "usage": usage,
            "choices": [{ "index": 0, "text": echo, "finish_reason": "stop" }] }),
        )
        .into_response()
    }
}

fn start_recorder(delay_ms: u64) -> (String, Recorder) {
    let rec = Recorder {
        delay_ms,
        ..Default::default()
    };
    let state = rec.clone();
    let app = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(rec_chat))
        .route("/v1/completions", axum::routing::post(rec_chat))
        .route(
            "/v1/models",
            axum::routing::get(|| async { axum::Json(json!({ "object": "list", "data": [] })) }),
        )
        .with_state(state);
    let addr = serve_in_background(app);
    (format!("http://{addr}/v1"), rec)
}

fn sse_text(body: &str) -> String {
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .filter_map(|v| {
            v.pointer("/choices/0/delta/content")
                .or(v.pointer("/choices/0/text"))
                .and_then(|c| c.as_str().map(str::to_string))
        })
        .collect()
}

#[test]
fn untrusted_upstreams_never_receive_an_identifier() {
    let (url, rec) = start_recorder(0);
    let s = Server::start_with(|dir| {
        std::fs::write(dir.join("siagen.toml"), format!(
            "[[upstreams]]\nmodel = \"cloud\"\nurl = \"{url}\"\noperator = \"Prestataire\"\njurisdiction = \"EU\"\n"
        )).unwrap();
    });
    let alice = s.user("alice", "clinician");
    let ask = json!({ "model": "cloud", "messages": [{ "role": "system", "content": "Résume." }, { "role": "user", "content": NOTE }] });
    // Non-streamed chat.
    let v: Value = s
        .post(&alice, "/v1/chat/completions", ask.clone())
        .json()
        .unwrap();
    let answer = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert_eq!(answer, NOTE, "the caller gets the identifiers back");
    // Streamed chat.
    let mut stream_ask = ask.clone();
    stream_ask["stream"] = json!(true);
    let body = s
        .post(&alice, "/v1/chat/completions", stream_ask)
        .text()
        .unwrap();
    assert_eq!(sse_text(&body), NOTE);
    // Completions, with a patient reference.
    let r = s
        .client
        .post(s.url("/v1/completions"))
        .bearer_auth(&alice)
        .header("x-siagen-patient-ref", "P-77")
        .json(&json!({ "model": "cloud", "prompt": NOTE }))
        .send()
        .unwrap();
    let v: Value = r.json().unwrap();
    assert_eq!(v["choices"][0]["text"], NOTE);

    let bodies = rec.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 3);
    for b in &bodies {
        for g in GOLD {
            assert!(!b.contains(g), "{g} reached the untrusted upstream: {b}");
        }
    }
    // Listed with its declaration.
    let models: Value = s.get(&alice, "/v1/models").json().unwrap();
    let cloud = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "cloud")
        .unwrap();
    assert_eq!(cloud["upstreams"][0]["may_receive_identifying"], false);
    assert_eq!(cloud["upstreams"][0]["jurisdiction"], "EU");
}

#[test]
fn second_siagen_instance_as_upstream_and_least_busy_balancing() {
    let upstream = Server::start_with(|d| {
        write_tiny_models(d);
    });
    let up_token = upstream.user("gateway", "clinician");
    let (url_a, rec_a) = start_recorder(300);
    let (url_b, rec_b) = start_recorder(300);
    let up_url = format!("{}/v1", upstream.base);
    let s = Server::start_with(|dir| {
        std::fs::write(dir.join("siagen.toml"), format!(
            "[[upstreams]]\nmodel = \"big\"\nurl = \"{up_url}\"\nupstream_model = \"tiny-chat\"\napi_key = \"{up_token}\"\n\
             operator = \"DSI du CHU\"\njurisdiction = \"FR\"\nmay_receive_identifying = true\n\n\
             [[upstreams]]\nmodel = \"pool\"\nurl = \"{url_a}\"\noperator = \"A\"\njurisdiction = \"FR\"\n\n\
             [[upstreams]]\nmodel = \"pool\"\nurl = \"{url_b}\"\noperator = \"B\"\njurisdiction = \"FR\"\n"
        )).unwrap();
    });
    let alice = s.user("alice", "clinician");
    let ask = json!({ "model": "big", "max_tokens": 10, "seed": 9, "temperature": 0.8,
                      "messages": [{ "role": "user", "content": "Bonjour" }] });
    let via_gateway: Value = s
        .post(&alice, "/v1/chat/completions", ask.clone())
        .json()
        .unwrap();
    let mut direct_ask = ask.clone();
    direct_ask["model"] = json!("tiny-chat");
    let direct: Value = upstream
        .post(&up_token, "/v1/chat/completions", direct_ask)
        .json()
        .unwrap();
    assert_eq!(
        via_gateway["choices"][0]["message"]["content"],
        direct["choices"][0]["message"]["content"]
    );
    assert_eq!(via_gateway["model"], "big");
    let mut stream_ask = ask.clone();
    stream_ask["stream"] = json!(true);
    let body = s
        .post(&alice, "/v1/chat/completions", stream_ask)
        .text()
        .unwrap();
    assert_eq!(
        sse_text(&body),
        via_gateway["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
    );

    // Four concurrent slow requests spread over the two replicas of "pool".
    let handles: Vec<_> = (0..4).map(|_| {
        let (base, alice) = (s.base.clone(), alice.clone());
        std::thread::spawn(move || {
            reqwest::blocking::Client::new().post(format!("{base}/v1/chat/completions")).bearer_auth(&alice)
                .json(&json!({ "model": "pool", "messages": [{ "role": "user", "content": "x" }] })).send().unwrap().status()
        })
    }).collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 200);
    }
    let (a, b) = (
        rec_a.bodies.lock().unwrap().len(),
        rec_b.bodies.lock().unwrap().len(),
    );
    assert_eq!(a + b, 4);
    assert!(
        a >= 1 && b >= 1,
        "least-busy balancing used both replicas ({a}, {b})"
    );
    // The generation is in the trail with its upstream's declaration.
    let audi = s.user("audi", "auditor");
    let entries: Value = s.get(&audi, "/api/audit?limit=10000").json().unwrap();
    let g = entries["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "generation")
        .unwrap();
    assert_eq!(g["details"]["upstream"]["operator"], "DSI du CHU");
    assert_eq!(g["details"]["egress"]["decision"], "raw");
}
