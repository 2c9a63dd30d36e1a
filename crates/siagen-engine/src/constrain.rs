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
//!
//! Inside a long string nearly the whole vocabulary stays viable, and
//! walking the whole trie each step would cost tens of milliseconds on a
//! 150k-token vocabulary. So the trie knows which of its subtrees hold only
//! "plain" tokens (no `"`, `\`, control byte, nor a token starting inside
//! a UTF-8 character: see [`crate::json_schema`]'s `plain_text`), and the
//! plain tokens sorted by length. Such a token moves a string reading only
//! through its length, so when the recogniser says how much room the
//! string has left (`JsonSchema::plain_room`), the viable plain tokens
//! are exactly those that fit: they are marked from the sorted list and the
//! plain subtrees are not walked. The mask stays exact (the same set as the
//! full walk, which a test checks on random states).

use std::sync::Arc;

use crate::json_schema::{plain_text, JsonSchema, PlainRoom, State};
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
    /// Per node: every token in its subtree is plain text.
    all_plain: Vec<bool>,
    /// Plain tokens as (characters, bytes, id), by characters.
    plain: Vec<(u32, u32, TokenId)>,
    /// Longest plain token, in characters and in bytes.
    plain_max: PlainRoom,
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
        let mut plain = Vec::new();
        let mut plain_max = PlainRoom { chars: 0, bytes: 0 };
        let mut is_plain = vec![false; token_bytes.len()];
        for (id, bytes) in token_bytes.iter().enumerate() {
            if let (false, Some(chars)) = (bytes.is_empty(), plain_text(bytes)) {
                let len = bytes.len() as u32;
                plain.push((chars, len, id as TokenId));
                plain_max.chars = plain_max.chars.max(chars);
                plain_max.bytes = plain_max.bytes.max(len);
                is_plain[id] = true;
            }
        }
        plain.sort_unstable();
        // Children come after their parent, so one backward pass suffices.
        let mut all_plain = vec![false; nodes.len()];
        for at in (0..nodes.len()).rev() {
            let n = &nodes[at];
            all_plain[at] = n.tokens.iter().all(|&t| is_plain[t as usize])
                && n.children.iter().all(|&(_, c)| all_plain[c as usize]);
        }
        Self {
            nodes,
            bytes: token_bytes,
            eog,
            all_plain,
            plain,
            plain_max,
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

    /// Marks in `self.allowed` every token keeping the output viable.
    fn mask(&mut self) {
        self.mask_with(true);
    }

    /// [`mask`](Self::mask), with (`fast`) or without the plain-subtree
    /// shortcut; both give the same set. Returns how many tokens are
    /// allowed and how many trie nodes were walked.
    fn mask_with(&mut self, fast: bool) -> (usize, usize) {
        self.allowed.iter_mut().for_each(|a| *a = false);
        let allowed = &mut self.allowed;
        let mut count = 0;
        let mut allow = |t: TokenId| {
            if let Some(a) = allowed.get_mut(t as usize) {
                if !*a {
                    *a = true;
                    count += 1;
                }
            }
        };
        if self.schema.is_complete(&self.state) {
            self.trie.eog.iter().for_each(|&e| allow(e));
        }
        let trie = &*self.trie;
        // Skipping plain subtrees is exact when the plain tokens that fit
        // are all the viable plain tokens: one reading only, or a reading
        // with room for every plain token.
        let rooms: Vec<PlainRoom> = if fast {
            self.state
                .iter()
                .filter_map(|s| self.schema.plain_room(s))
                .collect()
        } else {
            Vec::new()
        };
        let max = trie.plain_max;
        let skip = if let Some(all) = rooms
            .iter()
            .find(|r| r.chars >= max.chars && r.bytes >= max.bytes)
        {
            Some(*all)
        } else if self.state.len() == 1 {
            rooms.first().copied()
        } else {
            None
        };
        if let Some(room) = skip {
            let end = trie.plain.partition_point(|p| p.0 <= room.chars);
            for &(_, bytes, t) in &trie.plain[..end] {
                if bytes <= room.bytes {
                    allow(t);
                }
            }
        }
        let nodes = &trie.nodes;
        let walk = |c: u32| skip.is_none() || !trie.all_plain[c as usize];
        let mut todo: Vec<(u32, State)> = nodes[0]
            .children
            .iter()
            .filter(|&&(_, c)| walk(c))
            .map(|&(b, c)| (c, self.schema.step(&self.state, b)))
            .filter(|(_, s)| !s.is_empty())
            .collect();
        let mut walked = 0;
        while let Some((at, state)) = todo.pop() {
            walked += 1;
            let node = &nodes[at as usize];
            node.tokens.iter().for_each(|&t| allow(t));
            for &(b, c) in &node.children {
                if !walk(c) {
                    continue;
                }
                let next = self.schema.step(&state, b);
                if !next.is_empty() {
                    todo.push((c, next));
                }
            }
        }
        (count, walked)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A small deterministic generator (xorshift64*), so that failures replay.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// A vocabulary shaped like a BPE one: every single byte, then tokens
    /// glued from JSON punctuation, words, escapes, control bytes, whole and
    /// cut UTF-8 characters (tokens starting or ending inside a character),
    /// an empty (control) token and an end-of-generation token. `glued`
    /// tokens of 1 to 4 pieces follow the pieces themselves.
    fn vocabulary(rng: &mut Rng, glued: usize) -> (Vec<Vec<u8>>, Vec<TokenId>) {
        let zh = "中".as_bytes();
        let e = "é".as_bytes();
        let pieces: Vec<&[u8]> = vec![
            b"a",
            b"e",
            b"z",
            b" ",
            b" le",
            b"ment",
            b"fi",
            b"\xc3",
            b"\"",
            b"\\",
            b"\\n",
            b"\\u00",
            b"e9",
            b"\\ud83d",
            b"\n",
            b"\t",
            b"{",
            b"}",
            b"[",
            b"]",
            b":",
            b",",
            b"0",
            b"1",
            b"7",
            b"-",
            b".",
            b"E",
            b"true",
            b"null",
            b"false",
            b"motif",
            b"urgence",
            b"faible",
            b"haute",
            b"age",
            b"signes",
            b"fievre",
            b"abcdef",
            b"\x7f",
            e,
            &e[..1],
            &e[1..],
            zh,
            &zh[..1],
            &zh[..2],
            &zh[1..],
            &zh[2..],
            "😷".as_bytes(),
            b"\xff",
            b"\xc0\xaf",
        ];
        let mut vocab: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
        vocab.extend(pieces.iter().map(|p| p.to_vec()));
        for _ in 0..glued {
            let mut t = Vec::new();
            for _ in 0..1 + rng.below(4) {
                t.extend_from_slice(pieces[rng.below(pieces.len())]);
            }
            vocab.push(t);
        }
        vocab.push(Vec::new());
        vocab.push(b"<|im_end|>".to_vec());
        let eog = vec![vocab.len() as TokenId - 1];
        (vocab, eog)
    }

    fn schemas() -> Vec<JsonSchema> {
        let strict = |v: serde_json::Value| JsonSchema::compile(&v, true).unwrap();
        vec![
            strict(json!({
                "type": "object",
                "properties": {
                    "motif": {"type": "string", "maxLength": 40},
                    "urgence": {"enum": ["faible", "moyenne", "haute"]},
                    "age": {"type": "integer"},
                    "signes": {"type": "array", "maxItems": 4,
                               "items": {"type": "string", "maxLength": 20}},
                    "fievre": {"type": "boolean"}
                },
                "required": ["motif", "urgence", "age", "signes"]
            })),
            JsonSchema::any_object(),
            strict(json!({"type": "string", "maxLength": 3})),
            strict(json!({"type": "array", "items": {"type": "string", "minLength": 2}})),
            // Several readings at once: a short string or a literal.
            strict(json!({"type": "array", "items": {"anyOf": [
                {"type": "string", "maxLength": 2},
                {"enum": ["abcdef", "中中", "a\"b"]},
                {"const": "zz"}
            ]}})),
            strict(json!({"type": "array", "items": {"anyOf": [
                {"type": "string"},
                {"type": "string", "maxLength": 1},
                {"type": "null"}
            ]}})),
            // Undeclared properties: free keys next to declared ones.
            JsonSchema::compile(
                &json!({"type": "object", "properties": {
                    "motif": {"type": "string", "minLength": 3},
                    "n": {"type": "number"}
                }}),
                false,
            )
            .unwrap(),
        ]
    }

    /// Random constrained generations over every schema: at each step the
    /// fast mask equals the full walk, token for token.
    #[test]
    fn fast_mask_equals_full_walk() {
        let mut rng = Rng(0x5EED_1234_ABCD_0001);
        let (mut steps, mut cheaper) = (0, 0);
        // Glued tokens make deep tries; pieces alone leave whole tokens
        // such as `abcdef` as plain leaves next to readings that want them.
        let tries: Vec<_> = [4000, 0]
            .into_iter()
            .map(|glued| {
                let (vocab, eog) = vocabulary(&mut rng, glued);
                Arc::new(TokenTrie::new(vocab, eog))
            })
            .collect();
        let cases = tries
            .iter()
            .flat_map(|t| schemas().into_iter().map(move |s| (t.clone(), s)));
        for (i, (trie, schema)) in cases.enumerate() {
            let schema = Arc::new(schema);
            for run in 0..12 {
                let mut c = JsonConstraint::new(schema.clone(), trie.clone());
                let mut generated: Vec<TokenId> = Vec::new();
                for _ in 0..60 {
                    c.advance(&generated);
                    let (n_fast, walked_fast) = c.mask_with(true);
                    let fast = c.allowed.clone();
                    let (n_slow, walked_slow) = c.mask_with(false);
                    assert_eq!(n_fast, n_slow, "schema {i}, run {run}, after {generated:?}");
                    if let Some(t) = (0..fast.len()).find(|&t| fast[t] != c.allowed[t]) {
                        panic!(
                            "schema {i}, run {run}: token {t} {:?} is {} by the fast mask \
                             only, after {:?}",
                            String::from_utf8_lossy(trie.token_bytes(t as TokenId)),
                            if fast[t] { "allowed" } else { "banned" },
                            String::from_utf8_lossy(
                                &generated
                                    .iter()
                                    .flat_map(|&g| trie.token_bytes(g).to_vec())
                                    .collect::<Vec<_>>()
                            ),
                        );
                    }
                    steps += 1;
                    cheaper += usize::from(walked_fast < walked_slow);
                    let ok: Vec<TokenId> = (0..fast.len() as TokenId)
                        .filter(|&t| fast[t as usize] && !trie.eog.contains(&t))
                        .collect();
                    if ok.is_empty() {
                        break;
                    }
                    // Every other run short tokens only, so that strings
                    // reach their maxLength.
                    let pick = ok[rng.below(ok.len())];
                    let short = ok
                        .iter()
                        .copied()
                        .filter(|&t| trie.token_bytes(t).len() <= 2);
                    let short: Vec<_> = short.collect();
                    generated.push(if run % 2 == 1 && !short.is_empty() {
                        short[rng.below(short.len())]
                    } else {
                        pick
                    });
                }
            }
        }
        assert!(steps > 1000, "only {steps} steps compared");
        assert!(
            cheaper * 5 > steps,
            "the shortcut helped on {cheaper} of {steps} steps only"
        );
    }

    /// Inside a free string every plain token is allowed without walking
    /// its subtree: the walk visits only the nodes above other tokens.
    #[test]
    fn free_strings_skip_plain_subtrees() {
        let vocab: Vec<Vec<u8>> = ["a", "ab", "abc", "abd", "b", "bé", "\"", "a\"", "\\n"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .chain([vec![0xC3], vec![0xA9]])
            .collect();
        let trie = Arc::new(TokenTrie::new(vocab, vec![]));
        let schema = Arc::new(JsonSchema::compile(&json!({"type": "string"}), true).unwrap());
        let mut c = JsonConstraint::new(schema, trie.clone());
        c.advance(&[6]); // `"`
        let (n_fast, walked_fast) = c.mask_with(true);
        let (n_slow, walked_slow) = c.mask_with(false);
        let allowed: Vec<&str> = (0..c.allowed.len())
            .filter(|&t| c.allowed[t])
            .map(|t| std::str::from_utf8(trie.token_bytes(t as TokenId)).unwrap_or("<cut>"))
            .collect();
        // `\xc3` starts a character: allowed; `\xa9` is a continuation: not.
        assert_eq!(
            allowed,
            ["a", "ab", "abc", "abd", "b", "bé", "\"", "a\"", "\\n", "<cut>"]
        );
        assert_eq!(n_fast, n_slow);
        assert!(
            walked_fast < walked_slow,
            "walked {walked_fast} nodes with the shortcut, {walked_slow} without"
        );
    }
}
