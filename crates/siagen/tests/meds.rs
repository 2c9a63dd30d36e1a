//! Drug-interaction checks through the real server and the CLI.

mod common;
use common::*;
use serde_json::{json, Value};

#[test]
fn api_check_names_edition_sorts_by_severity_and_lists_unknowns() {
    let s = Server::start();
    let alice = s.user("alice", "clinician");
    let r = s.post(
        &alice,
        "/api/meds/check",
        json!({ "drugs": ["KARDEGIC 75 mg 1 sachet/j", "Eliquis 5mg x2/j", "zorglub 3 cp"] }),
    );
    assert_eq!(r.status(), 200);
    let v: Value = r.json().unwrap();
    assert_eq!(v["edition"], "2020-01");
    assert_eq!(v["unknown"], json!([2]));
    let first = &v["interactions"][0];
    assert_eq!(first["levels"][0], "CONTRE-INDICATION");
    assert_eq!(
        (first["a"].as_i64(), first["b"].as_i64()),
        (Some(0), Some(1))
    );
    assert!(first["mechanism"]
        .as_str()
        .unwrap()
        .contains("hémorragique"));

    let v: Value = s
        .post(
            &alice,
            "/api/meds/check",
            json!({ "drugs": ["aspirine", "apixaban"], "edition": "2019-09" }),
        )
        .json()
        .unwrap();
    assert_eq!(v["edition"], "2019-09");
    problem(
        s.post(
            &alice,
            "/api/meds/check",
            json!({ "drugs": ["x"], "edition": "1999-01" }),
        ),
        422,
    );
    problem(
        s.post(&alice, "/api/meds/check", json!({ "drugs": [] })),
        422,
    );
    problem(
        s.post(&alice, "/api/meds/check", json!({ "drug": ["x"] })),
        422,
    );
    let audi = s.user("audi", "auditor");
    problem(
        s.post(&audi, "/api/meds/check", json!({ "drugs": ["x"] })),
        403,
    );
}

#[test]
fn cli_batch_and_table() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        concat!(
            "{\"id\": \"rx1\", \"drugs\": [\"amiodarone 200 mg\", \"simvastatine 40 mg\"]}\n",
            "not json\n",
            "{\"id\": 2, \"drugs\": [\"paracetamol\", \"inconnu-xyz\"]}\n",
        ),
    )
    .unwrap();
    let out = cli(
        dir.path(),
        &["meds", "check", "--jsonl", input.to_str().unwrap()],
        &[],
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        2,
        "the malformed line is skipped, the run continues"
    );
    assert_eq!(lines[0]["id"], "rx1");
    assert_eq!(lines[0]["edition"], "2020-01");
    assert!(!lines[0]["interactions"].as_array().unwrap().is_empty());
    assert_eq!(lines[1]["unknown"], json!([1]));
    assert!(stderr.contains("in.jsonl:2"), "{stderr}");
    assert_eq!(out.status.code(), Some(2));

    let out = cli(
        dir.path(),
        &["meds", "check", "amiodarone", "simvastatine"],
        &[],
    );
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("édition 2020-01") && table.contains("SIMVASTATINE"),
        "{table}"
    );
}
