//! The optional reranker: a real (deterministic) implementation of [`Reranker`] written here,
//! which prefers passages holding a given word, re-orders real BM25 results of a real index.

use siagen_kb::*;
use std::sync::Mutex;

/// Markers, one per document, so that a test can tell which passage a hit is.
const MARKERS: [&str; 6] = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"];

/// Scores 1 a passage holding `word`, 0 otherwise; records every call's query and passage count.
struct PrefersWord {
    word: String,
    calls: Mutex<Vec<(String, usize)>>,
}

impl PrefersWord {
    fn new(word: &str) -> PrefersWord {
        PrefersWord {
            word: word.to_lowercase(),
            calls: Mutex::new(Vec::new()),
        }
    }
}

impl Reranker for PrefersWord {
    fn model(&self) -> &str {
        "prefers-word"
    }
    fn score(&self, query: &str, passages: &[&str]) -> Result<Vec<f32>, String> {
        self.calls
            .lock()
            .unwrap()
            .push((query.to_string(), passages.len()));
        Ok(passages
            .iter()
            .map(|p| {
                if p.to_lowercase().contains(&self.word) {
                    1.0
                } else {
                    0.0
                }
            })
            .collect())
    }
}

/// A reranker that returns whatever it was built with (errors, wrong lengths, NaN).
struct Fixed(Result<Vec<f32>, String>);

impl Reranker for Fixed {
    fn model(&self) -> &str {
        "fixed"
    }
    fn score(&self, _query: &str, _passages: &[&str]) -> Result<Vec<f32>, String> {
        self.0.clone()
    }
}

fn corpus(dir: &std::path::Path) -> Kb {
    let kb = Kb::open(&dir.join("kb"), KbOptions::default()).unwrap();
    let admin = Viewer::cli();
    kb.create_collection(&admin, "guides", Visibility::Institution)
        .unwrap();
    // Every passage mentions the query words, some more often than others, so BM25 gives a
    // definite fused order that the reranker then changes.
    for (i, marker) in MARKERS.iter().enumerate() {
        let repeats = "Surveillance du traitement anticoagulant. ".repeat(MARKERS.len() - i);
        let text = format!("# Fiche {marker}\n\n{repeats}Repère {marker}.\n");
        kb.ingest_bytes(
            &admin,
            "guides",
            &format!("{marker}.md"),
            text.into_bytes(),
            DocMeta::default(),
        )
        .unwrap();
    }
    kb
}

fn query(k: usize) -> SearchQuery {
    SearchQuery::new("surveillance du traitement anticoagulant", "guides", k)
}

fn marker(h: &Hit) -> &'static str {
    MARKERS
        .iter()
        .find(|m| h.text.contains(*m))
        .expect("every passage has its marker")
}

fn markers(hits: &[Hit]) -> Vec<&'static str> {
    hits.iter().map(marker).collect()
}

#[test]
fn reranker_reorders_fills_rerank_and_keeps_relevance() {
    let tmp = tempfile::tempdir().unwrap();
    let kb = corpus(tmp.path());
    let viewer = Viewer::cli();
    let plain = kb.search(&viewer, &query(10)).unwrap();
    assert_eq!(plain.len(), MARKERS.len(), "every passage matches");
    assert!(plain.iter().all(|h| h.rerank.is_none()));
    let fused = markers(&plain);
    // The passage fused last is preferred: it comes first, the others keep the fused order.
    let last = *fused.last().unwrap();
    let r = PrefersWord::new(last);
    let hits = kb
        .search_reranked(&viewer, &query(10), &r, DEFAULT_RERANK_DEPTH)
        .unwrap();
    let mut expected = vec![last];
    expected.extend(&fused[..fused.len() - 1]);
    assert_eq!(markers(&hits), expected);
    assert_eq!(
        hits.iter().map(|h| h.rank).collect::<Vec<_>>(),
        (1..=hits.len()).collect::<Vec<_>>()
    );
    assert_eq!(hits[0].rerank, Some(1.0));
    assert!(hits[1..].iter().all(|h| h.rerank == Some(0.0)));
    // Relevance and the fusion's own scores travel with their passage, unchanged.
    for h in &hits {
        let p = plain.iter().find(|p| p.chunk_id == h.chunk_id).unwrap();
        assert_eq!(
            (h.relevance, h.score, h.bm25),
            (p.relevance, p.score, p.bm25)
        );
    }
    // One call, with the query and every fused hit (fewer than the depth).
    assert_eq!(
        *r.calls.lock().unwrap(),
        vec![(query(10).text, MARKERS.len())]
    );
    // A reranker with no preference (all ties) leaves the fused order.
    let tie = PrefersWord::new("absent-partout");
    let same = kb.search_reranked(&viewer, &query(10), &tie, 20).unwrap();
    assert_eq!(markers(&same), fused);
    // Searching without a reranker is unchanged by all this.
    assert_eq!(kb.search(&viewer, &query(10)).unwrap(), plain);
}

#[test]
fn depth_bounds_what_the_reranker_reads_and_k_what_comes_back() {
    let tmp = tempfile::tempdir().unwrap();
    let kb = corpus(tmp.path());
    let viewer = Viewer::cli();
    let fused = markers(&kb.search(&viewer, &query(10)).unwrap());
    // Depth 2: the reranker reads two passages; the last fused passage cannot be lifted.
    let r = PrefersWord::new(fused[5]);
    let hits = kb.search_reranked(&viewer, &query(10), &r, 2).unwrap();
    assert_eq!(r.calls.lock().unwrap()[0].1, 2);
    assert_eq!(markers(&hits), fused);
    assert!(hits[..2].iter().all(|h| h.rerank == Some(0.0)));
    assert!(hits[2..].iter().all(|h| h.rerank.is_none()));
    // Depth 2 preferring the second: the first two swap, the rest stay.
    let r = PrefersWord::new(fused[1]);
    let hits = kb.search_reranked(&viewer, &query(10), &r, 2).unwrap();
    let mut expected = fused.clone();
    expected.swap(0, 1);
    assert_eq!(markers(&hits), expected);
    // k = 2 with the default depth: the reranker reads all six and the preferred one comes
    // back first although fusion ranked it last.
    let r = PrefersWord::new(fused[5]);
    let hits = kb
        .search_reranked(&viewer, &query(2), &r, DEFAULT_RERANK_DEPTH)
        .unwrap();
    assert_eq!(r.calls.lock().unwrap()[0].1, MARKERS.len());
    assert_eq!(markers(&hits), vec![fused[5], fused[0]]);
    assert_eq!(hits.iter().map(|h| h.rank).collect::<Vec<_>>(), vec![1, 2]);
}

#[test]
fn reranker_failures_and_bad_depths_are_kb_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let kb = corpus(tmp.path());
    let viewer = Viewer::cli();
    let err = |r: &dyn Reranker, k: usize, depth: usize| {
        kb.search_reranked(&viewer, &query(k), r, depth)
            .unwrap_err()
    };
    match err(&Fixed(Err("model unavailable".into())), 10, 20) {
        KbError::Rerank(m) => assert_eq!(m, "model unavailable"),
        e => panic!("{e:?}"),
    }
    match err(&Fixed(Ok(vec![1.0, 0.5])), 10, 20) {
        KbError::Rerank(m) => assert!(m.contains("2 scores for 6 passages"), "{m}"),
        e => panic!("{e:?}"),
    }
    match err(&Fixed(Ok(vec![f32::NAN; 6])), 10, 20) {
        KbError::Rerank(m) => assert!(m.contains("non-finite"), "{m}"),
        e => panic!("{e:?}"),
    }
    let any = PrefersWord::new("alpha");
    for (k, depth) in [(10, 0), (10, 1001), (0, 20), (1001, 20)] {
        assert!(
            matches!(err(&any, k, depth), KbError::Invalid(_)),
            "k {k}, depth {depth}"
        );
    }
    assert!(
        any.calls.lock().unwrap().is_empty(),
        "bad input reads nothing"
    );
    // The error says what failed.
    assert_eq!(KbError::Rerank("x".into()).to_string(), "reranker model: x");
}
