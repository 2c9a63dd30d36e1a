//! Knowledge-base throughput and latency:
//! 1. ingestion of PDFs (pages per second, text extraction + chunking + catalog + BM25 index);
//! 2. ingestion of 100,000 passages (Markdown, built from ANSM thesaurus sentences) and of their
//!    vectors (random, 384 dimensions: the cost of the model itself is not ours to measure);
//! 3. query latency p50 / p99 over those 100k passages for BM25, dense and hybrid (k = 10).
//!
//! `cargo bench -p siagen-kb --bench kb_bench` (release). `KB_BENCH_CHUNKS` changes the size
//! (default 100000). Targets: hybrid p50 < 20 ms, p99 < 60 ms on 2 cores.

use serde_json::Value;
use siagen_kb::testdata::pdf;
use siagen_kb::{
    DocMeta, EmbedKind, Embedder, Kb, KbOptions, Mode, SearchQuery, Viewer, Visibility,
};
use std::sync::Arc;
use std::time::Instant;

/// Deterministic pseudo-random vectors (xorshift seeded by the text's hash).
struct RandomEmbedder {
    dim: usize,
}

impl Embedder for RandomEmbedder {
    fn model(&self) -> &str {
        "random-384"
    }
    fn embed(&self, texts: &[String], _kind: EmbedKind) -> Result<Vec<Vec<f32>>, String> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut x: u64 = 0x9E3779B97F4A7C15;
                for b in t.bytes() {
                    x = (x ^ b as u64).wrapping_mul(0x100000001B3);
                }
                (0..self.dim)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
                    })
                    .collect()
            })
            .collect())
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as usize
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let n_chunks: usize = std::env::var("KB_BENCH_CHUNKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/ansm-thesaurus/thesaurus-2020-01.json"
    );
    let entries: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("thesaurus")).unwrap();
    let clean = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let sentences: Vec<String> = entries
        .iter()
        .map(|e| clean(e["interaction_mechanism"].as_str().unwrap()))
        .filter(|s| !s.is_empty())
        .collect();
    let drugs: Vec<(String, String)> = entries
        .iter()
        .map(|e| {
            (
                clean(e["main_drug"].as_str().unwrap()),
                clean(e["plus_drug"].as_str().unwrap()),
            )
        })
        .collect();
    let mut rng = Rng(0x2545F4914F6CDD1D);
    let tmp = tempfile::tempdir().unwrap();
    let admin = Viewer::cli();

    // 1. PDF ingestion.
    let pdf_dir = tmp.path().join("pdf");
    std::fs::create_dir_all(&pdf_dir).unwrap();
    let (n_pdf, pages_per_pdf) = (100, 10);
    for i in 0..n_pdf {
        let pages: Vec<Vec<String>> = (0..pages_per_pdf)
            .map(|_| {
                (0..20)
                    .map(|_| sentences[rng.next() % sentences.len()].clone())
                    .collect()
            })
            .collect();
        let refs: Vec<Vec<&str>> = pages
            .iter()
            .map(|p| p.iter().map(String::as_str).collect())
            .collect();
        let slices: Vec<&[&str]> = refs.iter().map(Vec::as_slice).collect();
        std::fs::write(
            pdf_dir.join(format!("doc-{i:03}.pdf")),
            pdf(&format!("Document {i}"), "Bench", &slices),
        )
        .unwrap();
    }
    let kb = Kb::open(&tmp.path().join("kb-pdf"), KbOptions::default()).unwrap();
    kb.create_collection(&admin, "pdf", Visibility::Institution)
        .unwrap();
    let t = Instant::now();
    let mut pages = 0;
    kb.ingest_files(
        &admin,
        "pdf",
        &[pdf_dir],
        &DocMeta::default(),
        &mut |_, r| pages += r.unwrap().pages,
    )
    .unwrap();
    let pdf_s = t.elapsed().as_secs_f64();
    println!(
        "PDF ingestion: {pages} pages in {pdf_s:.2} s = {:.0} pages/s",
        pages as f64 / pdf_s
    );
    drop(kb);

    // 2. 100k passages: Markdown documents of 50 sections of ~80 words.
    let md_dir = tmp.path().join("md");
    std::fs::create_dir_all(&md_dir).unwrap();
    let per_doc = 50;
    let n_docs = n_chunks.div_ceil(per_doc);
    for d in 0..n_docs {
        let mut md = String::new();
        for _ in 0..per_doc.min(n_chunks - d * per_doc) {
            let (a, b) = &drugs[rng.next() % drugs.len()];
            md.push_str(&format!("## {a} + {b}\n\n"));
            let mut words = 0;
            while words < 80 {
                let s = &sentences[rng.next() % sentences.len()];
                words += s.split_whitespace().count();
                md.push_str(s);
                md.push(' ');
            }
            md.push_str("\n\n");
        }
        std::fs::write(md_dir.join(format!("doc-{d:05}.md")), md).unwrap();
    }
    let kb = Kb::open(&tmp.path().join("kb"), KbOptions::default()).unwrap();
    kb.create_collection(&admin, "big", Visibility::Institution)
        .unwrap();
    let t = Instant::now();
    let mut chunks = 0u64;
    kb.ingest_files(
        &admin,
        "big",
        &[md_dir],
        &DocMeta::default(),
        &mut |_, r| chunks += r.unwrap().chunks as u64,
    )
    .unwrap();
    let ingest_s = t.elapsed().as_secs_f64();
    println!(
        "text ingestion: {chunks} passages in {n_docs} documents in {ingest_s:.1} s = {:.0} passages/s",
        chunks as f64 / ingest_s
    );
    let t = Instant::now();
    let n = kb
        .set_embedder(Arc::new(RandomEmbedder { dim: 384 }))
        .unwrap();
    let vec_s = t.elapsed().as_secs_f64();
    println!(
        "vectors: {n} × 384 stored in {vec_s:.1} s = {:.0} vectors/s (random vectors: model time excluded)",
        n as f64 / vec_s
    );
    drop(kb);
    // Re-open: what a restart costs (vectors read into memory).
    let t = Instant::now();
    let kb = Kb::open(
        &tmp.path().join("kb"),
        KbOptions {
            embedder: Some(Arc::new(RandomEmbedder { dim: 384 })),
            chunk_words: None,
        },
    )
    .unwrap();
    println!(
        "open with {} vectors: {:.2} s",
        kb.vector_count(),
        t.elapsed().as_secs_f64()
    );

    // 3. Query latency.
    let queries: Vec<String> = (0..300)
        .map(|_| {
            let (a, b) = &drugs[rng.next() % drugs.len()];
            format!(
                "Quelle est l'interaction entre {} et {} ?",
                a.to_lowercase(),
                b.to_lowercase()
            )
        })
        .collect();
    for (mode, label) in [
        (Mode::Bm25, "bm25"),
        (Mode::Dense, "dense"),
        (Mode::Hybrid, "hybrid"),
    ] {
        let mut times = Vec::new();
        for (i, q) in queries.iter().enumerate() {
            let t = Instant::now();
            let hits = kb
                .search(
                    &admin,
                    &SearchQuery {
                        text: q.clone(),
                        collection: Some("big".into()),
                        k: 10,
                        mode,
                        ..SearchQuery::default()
                    },
                )
                .unwrap();
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            assert!(!hits.is_empty());
            if i >= 20 {
                times.push(ms);
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "query {label:6}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} queries (k = 10, {chunks} passages)",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times.last().unwrap(),
            times.len()
        );
    }
}
