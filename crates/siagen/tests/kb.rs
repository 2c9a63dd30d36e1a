//! `siagen kb` end to end: the real binary over a temporary data directory ingests a folder with
//! every format, searches with `--json`, keeps users' collections apart, re-ingests as a no-op,
//! deletes, audits it all, and runs dense retrieval with a tiny GGUF embedding model.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

/// Writes the test corpus and ingests it, through the CLI, into a new institution collection
/// `guides`; returns what `siagen kb ingest` printed.
fn ingest_guides(dir: &Path) -> String {
    let corpus = dir.join("corpus");
    siagen_kb::testdata::write_corpus(&corpus);
    run_ok(
        dir,
        &[
            "kb",
            "collection",
            "create",
            "guides",
            "--visibility",
            "institution",
        ],
    );
    run_ok(
        dir,
        &[
            "kb",
            "ingest",
            corpus.to_str().unwrap(),
            "--collection",
            "guides",
        ],
    )
}

fn run_ok(dir: &Path, args: &[&str]) -> String {
    let out = cli(dir, args, &[]);
    assert!(
        out.status.success(),
        "siagen {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn add_user(dir: &Path, name: &str) {
    let out = cli(
        dir,
        &["user", "add", name, "--roles", "clinician"],
        &[("SIAGEN_NEW_PASSWORD", &format!("{name}-password-123"))],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn json_lines(s: &str) -> Vec<Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn ingest_search_json_isolation_reingest_delete_and_audit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    add_user(dir, "alice");
    add_user(dir, "bob");
    let corpus = dir.join("corpus");
    let out = ingest_guides(dir);
    assert!(
        out.contains("5 new, 0 replaced, 0 unchanged, 0 failed"),
        "{out}"
    );
    assert!(
        out.contains("licence: CC-BY-4.0"),
        "licences are shown: {out}"
    );

    // --json: one object per hit with rank, title, source, page, score, text.
    let hits = json_lines(&run_ok(
        dir,
        &[
            "kb",
            "search",
            "surveillance de l'INR",
            "--collection",
            "guides",
            "--json",
            "-k",
            "3",
        ],
    ));
    assert!(!hits.is_empty() && hits.len() <= 3);
    let top = &hits[0];
    assert_eq!(top["rank"], 1);
    assert_eq!(top["title"], "Protocole de relais héparine-AVK");
    assert!(top["source"]
        .as_str()
        .unwrap()
        .ends_with("protocole-avk.pdf"));
    assert_eq!(top["page"], 2);
    assert!(top["score"].as_f64().unwrap() > 0.0);
    assert!(top["text"]
        .as_str()
        .unwrap()
        .contains("Surveillance de l'INR"));
    assert_eq!(top["licence"], "inconnue");
    assert!(top["relevance"].as_f64().unwrap() > 0.9);
    // Every format answers.
    for (q, file) in [
        (
            "dabigatran clairance créatinine",
            "insuffisance-renale.docx",
        ),
        ("paracétamol hépatique", "hepatique.html"),
        ("vaccins vivants", "vaccins.md"),
        ("méthotrexate semaine", "note.txt"),
    ] {
        let hits = json_lines(&run_ok(
            dir,
            &["kb", "search", q, "--collection", "guides", "--json"],
        ));
        assert!(
            hits[0]["source"].as_str().unwrap().ends_with(file),
            "{q}: {}",
            hits[0]
        );
    }
    // Human output: title, source, page, licence, passage.
    let text = run_ok(
        dir,
        &[
            "kb",
            "search",
            "apixaban",
            "--collection",
            "guides",
            "-k",
            "1",
        ],
    );
    assert!(text.starts_with("1. ["), "{text}");
    assert!(text.contains("Adaptation des doses chez l'insuffisant rénal"));
    assert!(text.contains("insuffisance-renale.docx, p. 2"), "{text}");
    assert!(text.contains("L'apixaban est utilisé avec prudence"));

    // Re-ingesting the same folder changes nothing.
    let out = run_ok(
        dir,
        &[
            "kb",
            "ingest",
            corpus.to_str().unwrap(),
            "--collection",
            "guides",
        ],
    );
    assert!(
        out.contains("0 new, 0 replaced, 5 unchanged, 0 failed"),
        "{out}"
    );

    // Alice's private collection: Bob never retrieves it, even by name.
    run_ok(
        dir,
        &[
            "kb",
            "collection",
            "create",
            "perso",
            "--visibility",
            "private",
            "--user",
            "alice",
        ],
    );
    let secret = dir.join("secret.md");
    std::fs::write(
        &secret,
        "# Mes notes\n\nLe tacrolimus se dose en résiduel le lundi.\n",
    )
    .unwrap();
    run_ok(
        dir,
        &[
            "kb",
            "ingest",
            secret.to_str().unwrap(),
            "--collection",
            "perso",
            "--user",
            "alice",
            "--licence",
            "personnelle",
        ],
    );
    let mine = json_lines(&run_ok(
        dir,
        &["kb", "search", "tacrolimus", "--json", "--user", "alice"],
    ));
    assert_eq!(mine[0]["collection"], "perso");
    assert_eq!(mine[0]["licence"], "personnelle");
    let theirs = json_lines(&run_ok(
        dir,
        &["kb", "search", "tacrolimus", "--json", "--user", "bob"],
    ));
    assert!(theirs.is_empty(), "{theirs:?}");
    let admin = json_lines(&run_ok(dir, &["kb", "search", "tacrolimus", "--json"]));
    assert!(
        admin.is_empty(),
        "the administrator does not read private collections"
    );
    let refused = cli(
        dir,
        &[
            "kb",
            "search",
            "tacrolimus",
            "--collection",
            "perso",
            "--user",
            "bob",
        ],
        &[],
    );
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("unknown collection \"perso\""), "{err}");
    assert_eq!(err.lines().count(), 1);
    let refused = cli(
        dir,
        &[
            "kb",
            "ingest",
            secret.to_str().unwrap(),
            "--collection",
            "guides",
            "--user",
            "bob",
        ],
        &[],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("forbidden"));

    // Listing and deletion.
    let docs = json_lines(&run_ok(
        dir,
        &["kb", "list", "--collection", "guides", "--json"],
    ));
    assert_eq!(docs.len(), 5);
    let md = docs.iter().find(|d| d["format"] == "markdown").unwrap();
    assert_eq!(md["licence"], "Etalab-2.0");
    let id = md["id"].as_str().unwrap();
    run_ok(dir, &["kb", "delete", id]);
    let hits = json_lines(&run_ok(
        dir,
        &[
            "kb",
            "search",
            "vaccins vivants",
            "--collection",
            "guides",
            "--json",
        ],
    ));
    assert!(hits.iter().all(|h| h["document_id"] != id), "{hits:?}");

    // Bad input: one clear line, exit code 2.
    let bad = cli(dir, &["kb", "search", "x", "--mode", "fuzzy"], &[]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--mode must be hybrid, bm25 or dense"));
    let bad = cli(
        dir,
        &["kb", "collection", "create", "x", "--visibility", "public"],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2));

    // Audited, with ids and hashes only: no passage text, no query text.
    let export = run_ok(dir, &["audit", "export", "--since", "2000-01-01"]);
    let entries = json_lines(&export);
    let count = |action: &str, outcome: &str| {
        entries
            .iter()
            .filter(|e| e["action"] == action && e["outcome"] == outcome)
            .count()
    };
    assert_eq!(count("kb.ingest", "new"), 6);
    assert_eq!(count("kb.ingest", "unchanged"), 5);
    assert_eq!(count("kb.delete", "ok"), 1);
    assert_eq!(count("kb.collection.create", "ok"), 2);
    assert!(count("kb.search", "refused") >= 1);
    assert!(!export.contains("tacrolimus") && !export.contains("Surveillance"));
    let verify = run_ok(dir, &["audit", "verify"]);
    assert!(verify.starts_with("OK:"), "{verify}");
}

#[test]
fn dense_and_hybrid_with_a_tiny_gguf_embedding_model() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_tiny_models(dir);
    std::fs::write(
        dir.join("siagen.toml"),
        "kb_embedding_model = \"tiny-embed\"\n",
    )
    .unwrap();
    ingest_guides(dir);
    let total: u64 = json_lines(&run_ok(dir, &["kb", "collection", "list", "--json"]))
        .iter()
        .map(|c| c["chunks"].as_u64().unwrap())
        .sum();
    // The tiny model's weights are random: only the mechanics are checked, not the ranking.
    let dense = json_lines(&run_ok(
        dir,
        &[
            "kb",
            "search",
            "vaccins vivants",
            "--mode",
            "dense",
            "--json",
            "-k",
            "50",
        ],
    ));
    assert_eq!(dense.len() as u64, total, "every passage has a vector");
    assert!(dense
        .iter()
        .all(|h| h["dense"].is_number() && h["bm25"].is_null()));
    let hybrid = json_lines(&run_ok(dir, &["kb", "search", "vaccins vivants", "--json"]));
    assert!(hybrid
        .iter()
        .any(|h| h["dense"].is_number() && h["bm25"].is_number()));
    // The embedding model never reads the identifiers of a query: naming a patient gives the
    // dense scores of the same query with them blanked out, unless the local engine may
    // receive identifying data.
    let dense_of = |q: &str| -> Vec<(String, f64)> {
        let mut v: Vec<(String, f64)> = json_lines(&run_ok(
            dir,
            &["kb", "search", q, "--mode", "dense", "--json", "-k", "50"],
        ))
        .iter()
        .map(|h| {
            (
                h["chunk_id"].as_str().unwrap().to_string(),
                h["dense"].as_f64().unwrap(),
            )
        })
        .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let identifying = "vaccins vivants chez Mme Jeanne Martin, née le 03/04/1951";
    let blanked = siagen_shield::Shield::new()
        .unwrap()
        .blank_identifiers(identifying);
    assert!(!blanked.contains("Martin"), "{blanked}");
    let named = dense_of(identifying);
    assert_eq!(named, dense_of(&blanked));
    std::fs::write(
        dir.join("siagen.toml"),
        "kb_embedding_model = \"tiny-embed\"\nengine_may_receive_identifying = true\n",
    )
    .unwrap();
    assert_ne!(dense_of(identifying), named);
    // Without the model configured, dense is refused with the key to set.
    std::fs::remove_file(dir.join("siagen.toml")).unwrap();
    let out = cli(dir, &["kb", "search", "vaccins", "--mode", "dense"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("kb_embedding_model"));
}

/// `--rerank` with a tiny GGUF chat model as `kb_reranker_model`: every hit gets a score in
/// [0, 1] (P(oui) / (P(oui) + P(non)) of the model's first token) and they come back in its
/// order; without the key, or with a bad depth, a one-line error and exit code 2.
#[test]
fn rerank_with_a_tiny_gguf_chat_model() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_tiny_models(dir);
    ingest_guides(dir);
    const QUERY: &str = "surveillance de l'INR des patients sous héparine";
    let one_line_error = |out: std::process::Output, key: &str| {
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(key), "{err}");
        assert!(out.stdout.is_empty());
    };
    one_line_error(
        cli(dir, &["kb", "search", QUERY, "--rerank"], &[]),
        "kb_reranker_model",
    );

    let plain = json_lines(&run_ok(dir, &["kb", "search", QUERY, "--json"]));
    assert!(plain.len() >= 3, "{plain:?}");
    assert!(plain.iter().all(|h| h["rerank"].is_null()));
    std::fs::write(
        dir.join("siagen.toml"),
        "kb_reranker_model = \"tiny-chat\"\n",
    )
    .unwrap();
    let hits = json_lines(&run_ok(dir, &["kb", "search", QUERY, "--json", "--rerank"]));
    // Fewer hits than the depth: the same passages, each scored, in the reranker's order.
    let ids = |hits: &[Value]| {
        let mut v: Vec<String> = hits
            .iter()
            .map(|h| h["chunk_id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(&hits), ids(&plain));
    let scores: Vec<f64> = hits
        .iter()
        .map(|h| h["rerank"].as_f64().expect("every hit is reranked"))
        .collect();
    assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)), "{scores:?}");
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    let ranks: Vec<u64> = hits.iter().map(|h| h["rank"].as_u64().unwrap()).collect();
    assert_eq!(ranks, (1..=hits.len() as u64).collect::<Vec<_>>());
    // Relevance is the fused search's, passage by passage.
    for h in &hits {
        let p = plain
            .iter()
            .find(|p| p["chunk_id"] == h["chunk_id"])
            .unwrap();
        assert_eq!(h["relevance"], p["relevance"]);
    }
    // The same scores again: greedy, one token, nothing random.
    let again = json_lines(&run_ok(dir, &["kb", "search", QUERY, "--json", "--rerank"]));
    assert_eq!(again, hits);
    // The local model never reads the identifiers the shield detects: a question naming a
    // patient is scored exactly as the same question with them blanked out...
    let identifying = format!("{QUERY} pour M. Jean-Pierre Dupont, né le 12/03/1948");
    let shield = siagen_shield::Shield::new().unwrap();
    let blanked = shield.blank_identifiers(&identifying);
    assert!(
        !blanked.contains("Dupont") && !blanked.contains("1948"),
        "{blanked}"
    );
    assert_eq!(blanked.chars().count(), identifying.chars().count());
    let rerank_of = |hits: &[Value]| {
        let mut v: Vec<(String, f64)> = hits
            .iter()
            .map(|h| {
                (
                    h["chunk_id"].as_str().unwrap().to_string(),
                    h["rerank"].as_f64().unwrap(),
                )
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let search = |q: &str| json_lines(&run_ok(dir, &["kb", "search", q, "--json", "--rerank"]));
    let named = rerank_of(&search(&identifying));
    assert_eq!(named, rerank_of(&search(&blanked)));
    // ... unless the configuration lets the local engine receive identifying data.
    std::fs::write(
        dir.join("siagen.toml"),
        "kb_reranker_model = \"tiny-chat\"\nengine_may_receive_identifying = true\n",
    )
    .unwrap();
    assert_ne!(rerank_of(&search(&identifying)), named);
    // Depth 1: only the best fused passage is read.
    std::fs::write(
        dir.join("siagen.toml"),
        "kb_reranker_model = \"tiny-chat\"\nkb_rerank_depth = 1\n",
    )
    .unwrap();
    let shallow = json_lines(&run_ok(dir, &["kb", "search", QUERY, "--json", "--rerank"]));
    assert!(shallow[0]["rerank"].is_number());
    assert!(shallow[1..].iter().all(|h| h["rerank"].is_null()));
    assert_eq!(shallow[0]["chunk_id"], plain[0]["chunk_id"]);
    // A model that is not installed: the search fails, saying which, and is audited as such.
    std::fs::write(dir.join("siagen.toml"), "kb_reranker_model = \"absent\"\n").unwrap();
    one_line_error(
        cli(dir, &["kb", "search", QUERY, "--rerank"], &[]),
        "absent",
    );
    std::fs::write(
        dir.join("siagen.toml"),
        "kb_reranker_model = \"tiny-chat\"\nkb_rerank_depth = 0\n",
    )
    .unwrap();
    one_line_error(
        cli(dir, &["kb", "search", QUERY, "--rerank"], &[]),
        "kb_rerank_depth",
    );
    // The search is audited with the reranker's name, never the query.
    let export = run_ok(dir, &["audit", "export", "--since", "2000-01-01"]);
    let reranked = json_lines(&export)
        .into_iter()
        .filter(|e| e["action"] == "kb.search" && e["details"]["reranker"] == "tiny-chat")
        .count();
    assert_eq!(reranked, 6, "{export}");
    assert!(!export.contains("héparine") && !export.contains("Dupont"));
}
