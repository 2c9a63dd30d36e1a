//! Evaluation of the sentence check on frozen sets of synthetic stays written apart from the
//! rules (`bench/draft/stays-*.jsonl`: notes and labelled sentences: supported, contradicted,
//! unsupported), and its speed.
//!
//! Reports, per set: the share of contradicted + unsupported sentences flagged (any status but
//! `supported`), the share of supported sentences kept `supported` with a source in the right
//! note, the share of contradicted sentences called `contradicted`, and sentences per second.
//! `cargo bench -p siagen-draft --bench draft_check [-- --show]` (`--show` prints the misses).

use serde_json::Value;
use siagen_draft::{Note, NoteChecker, Status};
use std::time::Instant;

fn main() {
    let show = std::env::args().any(|a| a == "--show");
    // `--sweep`: the figures on the first set only for a grid of the two settings (choose on
    // one set, report on the others).
    if std::env::args().any(|a| a == "--sweep") {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../bench/draft/stays-a.jsonl"
        );
        let text = std::fs::read_to_string(path).unwrap();
        for absent in [0.2f32, 0.35, 0.5, 0.65, 0.8] {
            for at in [0.5f32, 0.6, 0.7, 0.8] {
                let (mut f, mut fn_, mut k, mut kn) = (0, 0, 0, 0);
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    let v: Value = serde_json::from_str(line).unwrap();
                    let notes: Vec<Note> = serde_json::from_value(v["notes"].clone()).unwrap();
                    let c = NoteChecker::new(&notes).tuned(absent, at);
                    for x in v["checks"].as_array().unwrap() {
                        let (st, src, _) = c.check_sentence(x["text"].as_str().unwrap(), None);
                        if x["label"] == "supported" {
                            kn += 1;
                            k += (st == Status::Supported
                                && src
                                    .iter()
                                    .any(|s| Some(s.note_id.as_str()) == x["note"].as_str()))
                                as usize;
                        } else {
                            fn_ += 1;
                            f += (st != Status::Supported) as usize;
                        }
                    }
                }
                println!(
                    "absent {absent:.2} support_at {at:.2}: flagged {:.1}% kept {:.1}%",
                    100.0 * f as f64 / fn_ as f64,
                    100.0 * k as f64 / kn as f64
                );
            }
        }
        return;
    }
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/draft");
    let mut sets: Vec<_> = std::fs::read_dir(root)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_else(|_| Vec::new());
    sets.retain(|p| p.extension().is_some_and(|e| e == "jsonl"));
    sets.sort();
    println!(
        "{:<16} {:>6} {:>10} {:>10} {:>14} {:>12}",
        "set", "stays", "flagged", "kept", "contradicted", "sentences/s"
    );
    for path in sets {
        let text = std::fs::read_to_string(&path).unwrap();
        let (mut flag_n, mut flag_ok, mut keep_n, mut keep_ok, mut contra_n, mut contra_ok) =
            (0, 0, 0, 0, 0, 0);
        let mut stays = 0;
        let mut checked = 0usize;
        let t = Instant::now();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).unwrap();
            let notes: Vec<Note> = serde_json::from_value(v["notes"].clone()).unwrap();
            let checker = NoteChecker::new(&notes);
            stays += 1;
            for c in v["checks"].as_array().unwrap() {
                let sentence = c["text"].as_str().unwrap();
                let label = c["label"].as_str().unwrap();
                let (status, sources, reasons) = checker.check_sentence(sentence, None);
                checked += 1;
                let ok = match label {
                    "supported" => {
                        keep_n += 1;
                        let right = status == Status::Supported
                            && sources
                                .iter()
                                .any(|s| Some(s.note_id.as_str()) == c["note"].as_str());
                        keep_ok += right as usize;
                        right
                    }
                    other => {
                        flag_n += 1;
                        let flagged = status != Status::Supported;
                        flag_ok += flagged as usize;
                        if other == "contradicted" {
                            contra_n += 1;
                            contra_ok += (status == Status::Contradicted) as usize;
                        }
                        flagged
                    }
                };
                if show && !ok {
                    println!(
                        "  MISS {} [{label} → {}] {sentence}\n       {:?}",
                        v["id"].as_str().unwrap_or(""),
                        status.as_str(),
                        reasons.iter().map(|r| r.code).collect::<Vec<_>>()
                    );
                }
            }
        }
        let secs = t.elapsed().as_secs_f64();
        let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
        println!(
            "{:<16} {:>6} {:>5.1}% ({flag_ok}/{flag_n}) {:>5.1}% ({keep_ok}/{keep_n}) {:>6.1}% ({contra_ok}/{contra_n}) {:>10.0}",
            path.file_name().unwrap().to_string_lossy(),
            stays,
            pct(flag_ok, flag_n),
            pct(keep_ok, keep_n),
            pct(contra_ok, contra_n),
            checked as f64 / secs
        );
    }
}
