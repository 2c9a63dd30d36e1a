//! Grammar-constrained decoding: a [`LogitsProcessor`] that keeps the output
//! inside a [`JsonSchema`].
//!
//! At every step the processor walks a byte trie of the whole vocabulary
//! with the recogniser's state, pruning a subtree as soon as its prefix makes
//! the output non-viable, and sets the logit of every token outside the
//! surviving set to `-inf`. The mask is exact (not "sample, then check"), so
//! the sampled distribution and the reported log-probabilities are exactly
//! the model's distribution restricted to the valid tokens and renormalised.
//! End-of-generation tokens are allowed only when the value is complete;
//! once nothing may follow the value, they are the only tokens left, so
//! generation stops right after it. Tokens without text (control tokens)
//! are never allowed: they would add nothing to the value.

use std::sync::Arc;

use crate::json_schema::{JsonSchema, State};
use crate::sampling::{LogitsProcessor, TokenContext, TokenId};

#[derive(Debug, Default, Clone)]
struct TrieNode {
    /// (byte, child index), sorted by byte.
    children: Vec<(u8, u32)>,
    /// Tokens whose text ends here.
    tokens: Vec<TokenId>,
}

/// The vocabulary as a byte trie, built once per model (it depends on the
/// model only) and shared by all constrained requests.
#[derive(Debug)]
pub struct TokenTrie {
    nodes: Vec<TrieNode>,
    bytes: Vec<Vec<u8>>,
    eog: Vec<TokenId>,
}

impl TokenTrie {
    /// Builds the trie from each token's bytes (`token_bytes[id]`) and the
    /// end-of-generation tokens.
    pub fn new(token_bytes: Vec<Vec<u8>>, eog: Vec<TokenId>) -> Self {
        let mut nodes = vec![TrieNode::default()];
        for (id, bytes) in token_bytes.iter().enumerate() {
            if bytes.is_empty() {
                continue;
            }
            let mut at = 0usize;
            for &b in bytes {
                at = match nodes[at].children.binary_search_by_key(&b, |c| c.0) {
                    Ok(i) => nodes[at].children[i].1 as usize,
                    Err(i) => {
                        let child = nodes.len();
                        nodes.push(TrieNode::default());
                        nodes[at].children.insert(i, (b, child as u32));
                        child
                    }
                };
            }
            nodes[at].tokens.push(id as TokenId);
        }
        Self {
            nodes,
            bytes: token_bytes,
            eog,
        }
    }

    /// Vocabulary size.
    pub fn n_vocab(&self) -> usize {
        self.bytes.len()
    }

    /// Text of a token.
    pub fn token_bytes(&self, id: TokenId) -> &[u8] {
        self.bytes.get(id as usize).map_or(&[], Vec::as_slice)
    }
}

/// Keeps generated text inside a JSON schema (see the module documentation).
pub struct JsonConstraint {
    schema: Arc<JsonSchema>,
    trie: Arc<TokenTrie>,
    state: State,
    /// Generated tokens already fed to `state`.
    consumed: usize,
    allowed: Vec<bool>,
}

impl JsonConstraint {
    /// A constraint at the start of the output.
    pub fn new(schema: Arc<JsonSchema>, trie: Arc<TokenTrie>) -> Self {
        let state = schema.start();
        let n = trie.n_vocab();
        Self {
            schema,
            trie,
            state,
            consumed: 0,
            allowed: vec![false; n],
        }
    }

    fn advance(&mut self, generated: &[TokenId]) {
        while self.consumed < generated.len() {
            let id = generated[self.consumed];
            self.consumed += 1;
            for &b in self.trie.token_bytes(id) {
                self.state = self.schema.step(&self.state, b);
            }
        }
    }

    /// Marks in `self.allowed` every token keeping the output viable;
    /// returns how many.
    fn mask(&mut self) -> usize {
        self.allowed.iter_mut().for_each(|a| *a = false);
        let mut count = 0;
        if self.schema.is_complete(&self.state) {
            for &e in &self.trie.eog {
                if let Some(a) = self.allowed.get_mut(e as usize) {
                    *a = true;
                    count += 1;
                }
            }
        }
        let nodes = &self.trie.nodes;
        let mut todo: Vec<(u32, State)> = nodes[0]
            .children
            .iter()
            .map(|&(b, c)| (c, self.schema.step(&self.state, b)))
            .filter(|(_, s)| !s.is_empty())
            .collect();
        while let Some((at, state)) = todo.pop() {
            let node = &nodes[at as usize];
            for &t in &node.tokens {
                if let Some(a) = self.allowed.get_mut(t as usize) {
                    *a = true;
                    count += 1;
                }
            }
            for &(b, c) in &node.children {
                let next = self.schema.step(&state, b);
                if !next.is_empty() {
                    todo.push((c, next));
                }
            }
        }
        count
    }

    /// Whether the text generated so far is a complete value.
    pub fn is_complete(&self) -> bool {
        self.schema.is_complete(&self.state)
    }
}

impl LogitsProcessor for JsonConstraint {
    fn process(&mut self, ctx: &TokenContext<'_>, logits: &mut [f32]) {
        self.advance(ctx.generated);
        self.mask();
        let mut any_finite = false;
        for (l, &ok) in logits.iter_mut().zip(&self.allowed) {
            if !ok {
                *l = f32::NEG_INFINITY;
            } else if *l > f32::NEG_INFINITY {
                any_finite = true;
            }
        }
        if !any_finite {
            // Every valid token was banned earlier (logit_bias): the schema
            // wins, uniformly over the valid tokens.
            for (l, &ok) in logits.iter_mut().zip(&self.allowed) {
                if ok {
                    *l = 0.0;
                }
            }
        }
    }
}
