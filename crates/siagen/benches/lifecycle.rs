//! Lifecycle benchmark: create → revise → submit → validate, over loopback HTTP against the real
//! release server with SQLite and the audit trail on. Prints lifecycles per second and p50/p99
//! latencies (per lifecycle and per request).
//!
//! `cargo bench -p siagen --bench lifecycle` (options: SIAGEN_BENCH_SECS, SIAGEN_BENCH_CLIENTS)

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_siagen");

fn cli(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env("SIAGEN_DATA_DIR", dir)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let secs: u64 = std::env::var("SIAGEN_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let clients: usize = std::env::var("SIAGEN_BENCH_CLIENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let dir = tempfile::tempdir().unwrap();
    cli(
        dir.path(),
        &["user", "add", "alice", "--roles", "clinician"],
        &[("SIAGEN_NEW_PASSWORD", "alice-password-123")],
    );
    cli(
        dir.path(),
        &["user", "add", "bob", "--roles", "validator"],
        &[("SIAGEN_NEW_PASSWORD", "bob-password-1234")],
    );
    let alice = cli(dir.path(), &["token", "create", "alice"], &[]);
    let bob = cli(dir.path(), &["token", "create", "bob"], &[]);
    let mut child = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("SIAGEN_DATA_DIR", dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let base = loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if let Some(rest) = line.trim().strip_prefix("siagen listening on ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (lifecycles, requests, elapsed) = rt.block_on(async move {
        let client = reqwest::Client::new();
        let start = Instant::now();
        let deadline = start + Duration::from_secs(secs);
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let (client, base, alice, bob) = (client.clone(), base.clone(), alice.clone(), bob.clone());
                tokio::spawn(async move {
                    let mut lifecycles = vec![];
                    let mut requests = vec![];
                    while Instant::now() < deadline {
                        let t0 = Instant::now();
                        let t = Instant::now();
                        let doc: Value = client.post(format!("{base}/api/documents")).bearer_auth(&alice)
                            .json(&json!({"kind": "compte_rendu_hospitalisation", "title": "CRH", "patient_ref": "P-1",
                                          "text": "Patient hospitalisé pour insuffisance cardiaque. Évolution favorable.",
                                          "generated_by": {"model": "bench", "version": "1"}}))
                            .send().await.unwrap().json().await.unwrap();
                        requests.push(t.elapsed());
                        let id = doc["id"].as_i64().unwrap();
                        let t = Instant::now();
                        let doc: Value = client.post(format!("{base}/api/documents/{id}/revisions")).bearer_auth(&alice)
                            .json(&json!({"text": "Patient hospitalisé pour décompensation cardiaque. Évolution favorable."}))
                            .send().await.unwrap().json().await.unwrap();
                        requests.push(t.elapsed());
                        let rev = doc["current_revision"]["id"].as_i64().unwrap();
                        let t = Instant::now();
                        let r = client.post(format!("{base}/api/documents/{id}/submit")).bearer_auth(&alice).send().await.unwrap();
                        assert_eq!(r.status(), 200);
                        requests.push(t.elapsed());
                        let t = Instant::now();
                        let r = client.post(format!("{base}/api/documents/{id}/validate")).bearer_auth(&bob)
                            .json(&json!({"revision_id": rev})).send().await.unwrap();
                        assert_eq!(r.status(), 200);
                        let _ = r.bytes().await.unwrap();
                        requests.push(t.elapsed());
                        lifecycles.push(t0.elapsed());
                    }
                    (lifecycles, requests)
                })
            })
            .collect();
        let mut all_l = vec![];
        let mut all_r = vec![];
        for t in tasks {
            let (l, r) = t.await.unwrap();
            all_l.extend(l);
            all_r.extend(r);
        }
        (all_l, all_r, start.elapsed())
    });
    let _ = child.kill();
    let _ = child.wait();
    let mut l = lifecycles;
    let mut r = requests;
    l.sort();
    r.sort();
    let rate = l.len() as f64 / elapsed.as_secs_f64();
    println!("siagen lifecycle bench: {clients} concurrent clients, {secs} s, SQLite WAL, audit trail on");
    println!(
        "  lifecycles: {} in {:.2} s = {:.0} lifecycles/s ({:.0} requests/s)",
        l.len(),
        elapsed.as_secs_f64(),
        rate,
        r.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  lifecycle latency: p50 {:.2} ms, p99 {:.2} ms",
        percentile(&l, 0.5).as_secs_f64() * 1e3,
        percentile(&l, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "  request latency:   p50 {:.2} ms, p99 {:.2} ms",
        percentile(&r, 0.5).as_secs_f64() * 1e3,
        percentile(&r, 0.99).as_secs_f64() * 1e3
    );
}
