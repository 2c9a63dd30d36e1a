//! Optional second stage of retrieval: a model reads each of the best fused passages next to the
//! question and scores how well it answers it. Fusion ranks by words and vectors; a reranker
//! (a cross-encoder, or a chat model asked « oui ou non ») reads the passage, so it can put the
//! passage that *answers* before the one that merely *mentions*. It only re-orders: the
//! calibrated [`Hit::relevance`](crate::Hit::relevance) that decides refusals is left as is.
//!
//! ```text
//! let hits = kb.search_reranked(&viewer, &query, &my_reranker, DEFAULT_RERANK_DEPTH)?;
//! assert!(hits.iter().all(|h| h.rerank.is_some()));   // when depth >= k
//! ```

/// Number of fused hits a reranker reads by default: enough to lift a good passage from the
/// second page, few enough that a chat model asked once per passage stays quick.
pub const DEFAULT_RERANK_DEPTH: usize = 20;

/// A model scoring passages against a question. The knowledge base only re-orders by the scores,
/// so any scale works; scores in [0, 1] (a probability of « answers ») read best.
pub trait Reranker: Send + Sync {
    /// Model name (reported in audit entries by callers).
    fn model(&self) -> &str;
    /// One finite score per passage, in order; higher means more relevant.
    fn score(&self, query: &str, passages: &[&str]) -> Result<Vec<f32>, String>;
}

/// Indices of `scores` by decreasing score; equal scores keep their order (the fused order).
pub(crate) fn order(scores: &[f32]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    // `sort_by` is stable: ties keep the fused order.
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    idx
}

/// P(yes) / (P(yes) + P(no)) over a model's most likely next tokens, each given as whether it
/// answers yes (`Some(true)`), no (`Some(false)`) or neither (`None`), with its log-probability;
/// `None` when neither answer is among them. How a one-token « oui ou non » question to a chat
/// model becomes a score, for the reranker and for the entailment check alike.
pub fn yes_share(top: impl IntoIterator<Item = (Option<bool>, f64)>) -> Option<f32> {
    let (mut yes, mut no) = (0.0f64, 0.0f64);
    for (answer, logprob) in top {
        match answer {
            Some(true) => yes += logprob.exp(),
            Some(false) => no += logprob.exp(),
            None => {}
        }
    }
    (yes + no > 0.0).then(|| (yes / (yes + no)) as f32)
}

#[cfg(test)]
mod tests {
    use super::order;

    #[test]
    fn order_is_by_decreasing_score_and_stable_on_ties() {
        assert_eq!(order(&[0.1, 0.9, 0.5, 0.9, 0.1]), vec![1, 3, 2, 0, 4]);
        assert_eq!(order(&[]), Vec::<usize>::new());
    }
}
