//! kill -9 in the middle of a stream of writes loses nothing that was acknowledged, and the
//! audit trail still verifies after restart.

mod common;
use common::*;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn sigkill_during_writes_keeps_every_acknowledged_write() {
    let mut s = Server::start();
    let alice = s.user("alice", "clinician");
    let acked: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
    let base = s.base.clone();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let acked = acked.clone();
            let base = base.clone();
            let token = alice.clone();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .unwrap();
                let deadline = Instant::now() + Duration::from_secs(20);
                for i in 0.. {
                    if Instant::now() > deadline {
                        break;
                    }
                    let text = format!("writer {w} document {i}");
                    let r = client
                        .post(format!("{base}/api/documents"))
                        .bearer_auth(&token)
                        .json(&json!({"kind":"libre","title":"t","patient_ref":"P-1","text": text}))
                        .send();
                    match r {
                        Ok(r) if r.status() == 201 => {
                            let v: Value = r.json().unwrap();
                            acked
                                .lock()
                                .unwrap()
                                .push((v["id"].as_i64().unwrap(), text));
                        }
                        _ => break, // the server is gone
                    }
                }
            })
        })
        .collect();
    // Let writes flow, then kill -9 while they are in flight.
    while acked.lock().unwrap().len() < 200 {
        std::thread::sleep(Duration::from_millis(10));
    }
    s.kill9();
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 200);

    s.restart();
    let bob_reader = s.user("reader", "clinician");
    for (id, text) in &acked {
        let doc: Value = s
            .get(&bob_reader, &format!("/api/documents/{id}"))
            .json()
            .unwrap();
        assert_eq!(doc["current_revision"]["text"], *text, "document {id} lost");
    }
    let out = cli(s.path(), &["audit", "verify"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
