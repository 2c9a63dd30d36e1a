//! The privacy shield through the server and the CLI.

mod common;
use common::*;
use serde_json::{json, Value};

const NOTE: &str =
    "Compte-rendu de M. Jean-Pierre Dupont, né le 12/03/1948, NIR 1 48 03 75 115 042 19. \
Tél. 06 12 34 56 78, jp.dupont@example.fr. Adressé par le Dr Claire Le Goff (CHU de Rennes). \
Maladie de Parkinson connue, traitée par lévodopa 250 mg.";

fn chars(s: &str, start: usize, end: usize) -> String {
    s.chars().skip(start).take(end - start).collect()
}

#[test]
fn detect_pseudonymize_reidentify_over_http() {
    let s = Server::start();
    let alice = s.user("alice", "clinician");
    let audi = s.user("audi", "auditor");
    let v: Value = s
        .post(&alice, "/api/shield/detect", json!({ "text": NOTE }))
        .json()
        .unwrap();
    let spans = v["spans"].as_array().unwrap();
    let found: Vec<(String, String)> = spans
        .iter()
        .map(|sp| {
            (
                sp["label"].as_str().unwrap().to_string(),
                chars(
                    NOTE,
                    sp["start"].as_u64().unwrap() as usize,
                    sp["end"].as_u64().unwrap() as usize,
                ),
            )
        })
        .collect();
    for (label, text) in [
        ("SECU", "1 48 03 75 115 042 19"),
        ("TEL", "06 12 34 56 78"),
        ("MAIL", "jp.dupont@example.fr"),
    ] {
        assert!(
            found.iter().any(|(l, t)| l == label && t == text),
            "{label} {text} in {found:?}"
        );
    }
    assert!(found.iter().any(|(_, t)| t.contains("Dupont")), "{found:?}");
    assert!(
        !found
            .iter()
            .any(|(_, t)| t.contains("Parkinson") || t.contains("lévodopa")),
        "{found:?}"
    );

    let p: Value = s
        .post(
            &alice,
            "/api/shield/pseudonymize",
            json!({ "text": NOTE, "patient_ref": "P-42" }),
        )
        .json()
        .unwrap();
    let pseudo = p["text"].as_str().unwrap();
    for gold in [
        "Dupont",
        "Jean-Pierre",
        "06 12 34 56 78",
        "jp.dupont@example.fr",
        "1 48 03 75 115 042 19",
        "12/03/1948",
    ] {
        assert!(!pseudo.contains(gold), "{gold} leaked: {pseudo}");
    }
    assert!(pseudo.contains("Parkinson") && pseudo.contains("lévodopa 250 mg"));
    // Same patient, same surrogates.
    let again: Value = s
        .post(
            &alice,
            "/api/shield/pseudonymize",
            json!({ "text": NOTE, "patient_ref": "P-42" }),
        )
        .json()
        .unwrap();
    assert_eq!(again["text"], p["text"]);
    // Tags style.
    let tags: Value = s
        .post(
            &alice,
            "/api/shield/pseudonymize",
            json!({ "text": NOTE, "patient_ref": "P-43", "style": "tags" }),
        )
        .json()
        .unwrap();
    assert!(tags["text"].as_str().unwrap().contains("[NOM_"), "{tags}");

    let back: Value = s
        .post(
            &alice,
            "/api/shield/reidentify",
            json!({ "text": pseudo, "patient_ref": "P-42" }),
        )
        .json()
        .unwrap();
    assert!(back["text"].as_str().unwrap().contains("Dupont"), "{back}");
    problem(
        s.post(
            &audi,
            "/api/shield/reidentify",
            json!({ "text": pseudo, "patient_ref": "P-42" }),
        ),
        403,
    );
    problem(
        s.post(
            &alice,
            "/api/shield/pseudonymize",
            json!({ "text": NOTE, "patient_ref": "Jean Dupont" }),
        ),
        422,
    );

    // Re-identification is audited; the trail holds no identifier.
    let entries: Value = s.get(&audi, "/api/audit?limit=10000").json().unwrap();
    assert!(entries["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "shield.reidentify" && e["outcome"] == "ok"));
    let all = entries.to_string();
    assert!(!all.contains("Dupont") && !all.contains("P-42"));
    // The vault holds no identifier in clear, nor in file names.
    for f in std::fs::read_dir(s.path().join("vault")).unwrap() {
        let f = f.unwrap();
        assert!(!f.file_name().to_string_lossy().contains("P-42"));
        let bytes = std::fs::read(f.path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("Dupont"));
    }
}

#[test]
fn batch_cli_reports_malformed_lines_and_continues() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("notes.jsonl");
    std::fs::write(
        &input,
        format!(
            "{}\n{{not json\n{}\n",
            json!({ "id": 1, "text": "Mme Élodie Martin, tél. 01.23.45.67.89" }),
            json!({ "id": "b", "text": NOTE, "patient_ref": "P-9" }),
        ),
    )
    .unwrap();
    let out = cli(
        dir.path(),
        &["shield", "detect", input.to_str().unwrap()],
        &[],
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("notes.jsonl:2"), "{stderr}");
    assert_eq!(out.status.code(), Some(2));
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["id"], 1);
    let text = "Mme Élodie Martin, tél. 01.23.45.67.89";
    let labels: Vec<(String, String)> = lines[0]["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sp| {
            (
                sp["label"].as_str().unwrap().to_string(),
                chars(
                    text,
                    sp["start"].as_u64().unwrap() as usize,
                    sp["end"].as_u64().unwrap() as usize,
                ),
            )
        })
        .collect();
    assert!(
        labels.contains(&("TEL".into(), "01.23.45.67.89".into())),
        "{labels:?}"
    );
    assert!(
        labels.iter().any(|(l, t)| l == "PRENOM" && t == "Élodie"),
        "character offsets: {labels:?}"
    );

    let out = cli(
        dir.path(),
        &["shield", "pseudonymize", input.to_str().unwrap()],
        &[],
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        !stdout.contains("Martin") && !stdout.contains("Dupont"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 2);
}

#[test]
fn two_processes_sharing_the_vault_lose_no_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let names = |prefix: &str| -> Vec<String> {
        [
            "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois",
            "Moreau", "Laurent",
        ]
        .iter()
        .map(|n| format!("{prefix} {n}"))
        .collect()
    };
    let (a, b) = (names("Mme Julie"), names("M. Paul"));
    let write = |file: &str, list: &[String]| {
        let path = dir.path().join(file);
        let lines: Vec<String> = list
            .iter()
            .enumerate()
            .map(|(i, n)| {
                json!({ "id": i, "patient_ref": "P-1", "text": format!("Vu ce jour {n}.") })
                    .to_string()
            })
            .collect();
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        path
    };
    let (fa, fb) = (write("a.jsonl", &a), write("b.jsonl", &b));
    let run = |f: &std::path::Path| {
        let mut c = data_dir_cmd(dir.path());
        c.args(["shield", "pseudonymize", f.to_str().unwrap()])
            .stdout(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    // Both batches at once, same patient, same vault directory.
    let (pa, pb) = (run(&fa), run(&fb));
    let (oa, ob) = (
        pa.wait_with_output().unwrap(),
        pb.wait_with_output().unwrap(),
    );
    for o in [&oa, &ob] {
        assert!(
            o.status.success(),
            "{}: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let first: Vec<String> = [oa.stdout, ob.stdout]
        .iter()
        .flat_map(|o| {
            String::from_utf8(o.clone())
                .unwrap()
                .lines()
                .map(|l| {
                    serde_json::from_str::<Value>(l).unwrap()["text"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    // Every surrogate can still be turned back into its name: no mapping was lost.
    let out = cli(
        dir.path(),
        &["user", "add", "alice", "--roles", "clinician"],
        &[("SIAGEN_NEW_PASSWORD", "alice-password-123")],
    );
    assert!(out.status.success());
    let token = String::from_utf8(cli(dir.path(), &["token", "create", "alice"], &[]).stdout)
        .unwrap()
        .trim()
        .to_string();
    let (mut server, base) = spawn_server(dir.path());
    let client = reqwest::blocking::Client::new();
    let originals: Vec<String> = a
        .iter()
        .chain(b.iter())
        .map(|n| format!("Vu ce jour {n}."))
        .collect();
    let mut pseudo = first.clone();
    pseudo.sort();
    let mut restored: Vec<String> = pseudo
        .iter()
        .map(|t| {
            let v: Value = client
                .post(format!("{base}/api/shield/reidentify"))
                .bearer_auth(&token)
                .json(&json!({ "text": t, "patient_ref": "P-1" }))
                .send()
                .unwrap()
                .json()
                .unwrap();
            v["text"].as_str().unwrap().to_string()
        })
        .collect();
    server.kill().unwrap();
    server.wait().unwrap();
    restored.sort();
    let mut expected = originals;
    expected.sort();
    assert_eq!(
        restored, expected,
        "a mapping written by one process was lost"
    );
}
