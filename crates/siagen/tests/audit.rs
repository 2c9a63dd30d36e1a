//! The audit trail detects rows altered, deleted or swapped directly in SQLite.

mod common;
use common::*;
use serde_json::json;

fn verify(s: &Server) -> (bool, String) {
    let out = cli(s.path(), &["audit", "verify"], &[]);
    (out.status.success(), String::from_utf8(out.stdout).unwrap())
}

fn busy_server() -> Server {
    let s = Server::start();
    let alice = s.user("alice", "clinician");
    for i in 0..5 {
        s.machine_doc(&alice, &format!("Texte {i}."));
    }
    s
}

#[test]
fn untouched_trail_verifies_and_exports() {
    let mut s = busy_server();
    s.terminate(); // graceful stop signs a checkpoint
    let (ok, out) = verify(&s);
    assert!(ok, "{out}");
    assert!(out.starts_with("OK:"), "{out}");
    assert!(
        !out.contains(" 0 signed checkpoints"),
        "shutdown checkpoint: {out}"
    );
    let export = cli(s.path(), &["audit", "export", "--since", "2000-01-01"], &[]);
    let lines: Vec<serde_json::Value> = String::from_utf8(export.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().any(|e| e["action"] == "document.create"));
    // Audit rows never carry the document text.
    assert!(!lines.iter().any(|e| e.to_string().contains("Texte 1")));
    let bad = cli(s.path(), &["audit", "export", "--since", "yesterday"], &[]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn altered_row_is_caught() {
    let s = busy_server();
    let db = rusqlite::Connection::open(s.db()).unwrap();
    db.execute("UPDATE audit_log SET actor = 'user:99' WHERE seq = 6", [])
        .unwrap();
    let (ok, out) = verify(&s);
    assert!(!ok);
    assert!(out.contains("FAILED at entry 6 (altered)"), "{out}");
}

#[test]
fn deleted_row_is_caught() {
    let s = busy_server();
    let db = rusqlite::Connection::open(s.db()).unwrap();
    db.execute("DELETE FROM audit_log WHERE seq = 4", [])
        .unwrap();
    let (ok, out) = verify(&s);
    assert!(!ok);
    assert!(out.contains("FAILED at entry 4 (removed)"), "{out}");
}

#[test]
fn swapped_rows_are_caught() {
    let s = busy_server();
    let db = rusqlite::Connection::open(s.db()).unwrap();
    // Exchange the contents of entries 5 and 6, keeping their positions.
    db.execute_batch(
        "UPDATE audit_log SET seq = -5 WHERE seq = 5;
         UPDATE audit_log SET seq = 5 WHERE seq = 6;
         UPDATE audit_log SET seq = 6 WHERE seq = -5;",
    )
    .unwrap();
    let (ok, out) = verify(&s);
    assert!(!ok);
    assert!(out.contains("FAILED at entry 5"), "{out}");
}

#[test]
fn rewritten_tail_is_caught_by_the_signed_checkpoint() {
    let mut s = busy_server();
    s.terminate();
    // Remove the last entries entirely: the chain itself stays consistent, the checkpoint does not.
    let db = rusqlite::Connection::open(s.db()).unwrap();
    db.execute("DELETE FROM audit_log WHERE seq > 3", [])
        .unwrap();
    let (ok, out) = verify(&s);
    assert!(!ok);
    assert!(out.contains("truncated"), "{out}");
}

#[test]
fn inserted_row_is_caught() {
    let s = busy_server();
    let db = rusqlite::Connection::open(s.db()).unwrap();
    // Shift entries up and insert a forged one at 3, with a self-consistent hash field.
    db.execute_batch(
        "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 3;
         UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1003;",
    )
    .unwrap();
    db.execute(
        "INSERT INTO audit_log (seq, ts, actor, action, target, outcome, details, prev_hash, hash)
         SELECT 3, ts, 'user:1', 'document.view', 'document:1', 'ok', '{}', hash, hash FROM audit_log WHERE seq = 2",
        [],
    ).unwrap();
    let (ok, out) = verify(&s);
    assert!(!ok);
    assert!(out.contains("FAILED at entry 3"), "{out}");
    let _ = json!({});
}
