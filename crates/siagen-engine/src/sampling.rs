//! Token sampling done in Rust over the raw logits returned by the backend.
//!
//! Sampling lives here rather than in llama.cpp so that every step is visible
//! to siagen: processors (watermarking, banned tokens) can rewrite logits or
//! take over the final choice, log-probabilities are computed from exactly the
//! distribution that was sampled, and seeded runs are reproducible.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::EngineError;

/// A token id in the model's vocabulary.
pub type TokenId = u32;

/// Repetition-style penalties, applied over the last `last_n` tokens
/// (prompt included), in the llama.cpp / OpenAI sense.
#[derive(Debug, Clone, PartialEq)]
pub struct Penalties {
    /// Divides positive (multiplies negative) logits of seen tokens; 1.0 disables.
    pub repetition: f32,
    /// Subtracted once per occurrence of a seen token; 0.0 disables.
    pub frequency: f32,
    /// Subtracted once for any seen token; 0.0 disables.
    pub presence: f32,
    /// Window of recent tokens considered; 0 disables all penalties.
    pub last_n: usize,
}

impl Default for Penalties {
    fn default() -> Self {
        Self {
            repetition: 1.0,
            frequency: 0.0,
            presence: 0.0,
            last_n: 64,
        }
    }
}

/// Sampling parameters of one generation request.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// 0.0 means greedy decoding.
    pub temperature: f32,
    /// Keep the `top_k` most likely tokens; 0 disables.
    pub top_k: u32,
    /// Nucleus sampling threshold in (0, 1]; 1.0 disables.
    pub top_p: f32,
    /// Drop tokens whose probability is below `min_p` times the best one; 0.0 disables.
    pub min_p: f32,
    pub penalties: Penalties,
    /// Same model + prompt + parameters + seed give the same tokens.
    pub seed: Option<u64>,
    /// Maximum number of generated tokens; `None` means "until the context is full".
    pub max_tokens: Option<u32>,
    /// Generation stops before the first occurrence of any of these strings,
    /// which are not part of the output.
    pub stop: Vec<String>,
    /// Report the log-probability of each generated token.
    pub logprobs: bool,
    /// Number of most likely alternatives to report per token (at most 20).
    pub top_logprobs: u8,
    /// Added to the logits of the given tokens; `f32::NEG_INFINITY` bans a token.
    pub logit_bias: Vec<(TokenId, f32)>,
    /// Keep generating past end-of-generation tokens (benchmarks).
    pub ignore_eos: bool,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            penalties: Penalties::default(),
            seed: None,
            max_tokens: Some(256),
            stop: Vec::new(),
            logprobs: false,
            top_logprobs: 0,
            logit_bias: Vec::new(),
            ignore_eos: false,
        }
    }
}

/// Largest `top_logprobs` accepted, as in the OpenAI API.
pub const MAX_TOP_LOGPROBS: u8 = 20;

impl SamplingParams {
    /// Greedy decoding (temperature 0), no truncation.
    pub fn greedy() -> Self {
        Self {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            ..Self::default()
        }
    }

    /// Checks the values against their domains; `n_vocab` bounds `logit_bias`.
    pub fn validate(&self, n_vocab: usize) -> Result<(), EngineError> {
        let bad = |m: String| Err(EngineError::BadRequest(m));
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return bad(format!(
                "temperature must be >= 0, got {}",
                self.temperature
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad(format!("top_p must be in (0, 1], got {}", self.top_p));
        }
        if !(0.0..=1.0).contains(&self.min_p) {
            return bad(format!("min_p must be in [0, 1], got {}", self.min_p));
        }
        let p = &self.penalties;
        if !(p.repetition.is_finite() && p.repetition > 0.0) {
            return bad(format!(
                "repetition penalty must be > 0, got {}",
                p.repetition
            ));
        }
        if !p.frequency.is_finite() || !p.presence.is_finite() {
            return bad("frequency and presence penalties must be finite".into());
        }
        if self.top_logprobs > MAX_TOP_LOGPROBS {
            return bad(format!(
                "top_logprobs must be at most {MAX_TOP_LOGPROBS}, got {}",
                self.top_logprobs
            ));
        }
        if self.max_tokens == Some(0) {
            return bad("max_tokens must be at least 1".into());
        }
        if self.stop.iter().any(String::is_empty) {
            return bad("stop strings must not be empty".into());
        }
        for &(id, bias) in &self.logit_bias {
            if id as usize >= n_vocab {
                return bad(format!(
                    "logit_bias token {id} outside vocabulary of {n_vocab}"
                ));
            }
            if bias.is_nan() || bias == f32::INFINITY {
                return bad(format!("logit_bias for token {id} must be finite or -inf"));
            }
        }
        Ok(())
    }
}

/// What a processor can see about the sequence being generated.
#[derive(Debug, Clone, Copy)]
pub struct TokenContext<'a> {
    /// Prompt tokens.
    pub prompt: &'a [TokenId],
    /// Tokens generated so far in this request (not including the one being chosen).
    pub generated: &'a [TokenId],
}

impl TokenContext<'_> {
    /// The last `n` tokens of prompt + generated, oldest first; what keyed
    /// watermarking schemes hash to seed their randomness.
    pub fn last_tokens(&self, n: usize) -> Vec<TokenId> {
        let g = self.generated.len();
        if g >= n {
            return self.generated[g - n..].to_vec();
        }
        let from_prompt = (n - g).min(self.prompt.len());
        let mut v = self.prompt[self.prompt.len() - from_prompt..].to_vec();
        v.extend_from_slice(self.generated);
        v
    }
}

/// A token of the final (truncated, renormalised) sampling distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub id: TokenId,
    /// Probability after temperature and truncation; candidates sum to 1.
    pub p: f32,
}

/// Hook through which other crates alter generation.
///
/// For each generated token the engine calls, in order:
/// 1. [`process`](Self::process) on every processor (in the order given),
///    which may rewrite the logits in place (bias, ban with `-inf`);
/// 2. the engine then applies temperature, top-k, top-p and min-p and builds
///    the final distribution;
/// 3. [`select`](Self::select) on every processor until one returns a token;
///    this is how a Gumbel-max watermark picks the token with its own keyed
///    randomness. When none does, the engine draws from the distribution with
///    the request's seeded generator.
///
/// Processors run on the engine's worker thread, hence `Send`.
pub trait LogitsProcessor: Send {
    /// Alters the logits (length = vocabulary size) before sampling.
    fn process(&mut self, ctx: &TokenContext<'_>, logits: &mut [f32]) {
        let _ = (ctx, logits);
    }

    /// Optionally chooses the token from the final distribution
    /// (`candidates` sorted by decreasing probability). Returning a token
    /// outside the candidates is allowed (the caller takes responsibility).
    fn select(&mut self, ctx: &TokenContext<'_>, candidates: &[Candidate]) -> Option<TokenId> {
        let _ = (ctx, candidates);
        None
    }
}

/// Adds fixed biases to given tokens; `f32::NEG_INFINITY` bans a token.
#[derive(Debug, Clone, Default)]
pub struct LogitBias {
    biases: Vec<(TokenId, f32)>,
}

impl LogitBias {
    /// A processor applying `biases`.
    pub fn new(biases: Vec<(TokenId, f32)>) -> Self {
        Self { biases }
    }

    /// A processor that bans `tokens`.
    pub fn ban(tokens: impl IntoIterator<Item = TokenId>) -> Self {
        Self::new(tokens.into_iter().map(|t| (t, f32::NEG_INFINITY)).collect())
    }
}

impl LogitsProcessor for LogitBias {
    fn process(&mut self, _ctx: &TokenContext<'_>, logits: &mut [f32]) {
        for &(id, bias) in &self.biases {
            if let Some(l) = logits.get_mut(id as usize) {
                *l += bias;
            }
        }
    }
}

/// xoshiro256** seeded through SplitMix64: small, fast, reproducible across
/// platforms, which is all the sampler needs.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator fully determined by `seed`.
    pub fn from_seed(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Self {
            s: [next(), next(), next(), next()],
        }
    }

    /// A generator seeded from the clock and a process-wide counter, for
    /// requests without a seed.
    pub fn from_entropy() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let c = COUNTER.fetch_add(1, Ordering::Relaxed);
        Self::from_seed(t ^ c.wrapping_mul(0xA076_1D64_78BD_642F))
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Result of sampling one token.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampled {
    pub id: TokenId,
    /// Log-probability of `id` under the model distribution (see [`Sampler`]).
    pub logprob: Option<f32>,
    /// Most likely alternatives with their log-probabilities, best first.
    pub top: Vec<(TokenId, f32)>,
}

/// Per-request sampling state.
///
/// Reported log-probabilities are the log-softmax of the logits after
/// penalties and processors but before temperature and truncation, i.e. the
/// model's own (adjusted) belief, as OpenAI-style APIs report it. They sum to
/// one over the vocabulary, a banned token has `-inf`.
pub struct Sampler {
    params: SamplingParams,
    rng: Rng,
    /// Occurrence counts over the penalty window, indexed by token.
    counts: Vec<u32>,
    window: std::collections::VecDeque<TokenId>,
    bias: LogitBias,
    scratch: Vec<f32>,
}

impl Sampler {
    /// A sampler for a vocabulary of `n_vocab` tokens, primed with the prompt
    /// (which counts towards repetition penalties, as in llama.cpp).
    pub fn new(params: SamplingParams, n_vocab: usize, prompt: &[TokenId]) -> Self {
        let rng = params.seed.map_or_else(Rng::from_entropy, Rng::from_seed);
        let bias = LogitBias::new(params.logit_bias.clone());
        let mut s = Self {
            params,
            rng,
            counts: vec![0; n_vocab],
            window: std::collections::VecDeque::new(),
            bias,
            scratch: Vec::new(),
        };
        for &t in prompt {
            s.accept(t);
        }
        s
    }

    /// Records a token in the penalty window.
    pub fn accept(&mut self, id: TokenId) {
        let last_n = self.params.penalties.last_n;
        if last_n == 0 || id as usize >= self.counts.len() {
            return;
        }
        self.window.push_back(id);
        self.counts[id as usize] += 1;
        if self.window.len() > last_n {
            if let Some(old) = self.window.pop_front() {
                self.counts[old as usize] -= 1;
            }
        }
    }

    fn apply_penalties(&self, logits: &mut [f32]) {
        let p = &self.params.penalties;
        if p.last_n == 0 || (p.repetition == 1.0 && p.frequency == 0.0 && p.presence == 0.0) {
            return;
        }
        let mut seen: Vec<TokenId> = self.window.iter().copied().collect();
        seen.sort_unstable();
        seen.dedup();
        for id in seen {
            let c = self.counts[id as usize];
            let l = &mut logits[id as usize];
            if *l > 0.0 {
                *l /= p.repetition;
            } else {
                *l *= p.repetition;
            }
            *l -= c as f32 * p.frequency + p.presence;
        }
    }

    /// Chooses the next token from `logits` (modified in place).
    pub fn sample(
        &mut self,
        logits: &mut [f32],
        ctx: &TokenContext<'_>,
        processors: &mut [Box<dyn LogitsProcessor>],
    ) -> Sampled {
        self.apply_penalties(logits);
        self.bias.process(ctx, logits);
        for p in processors.iter_mut() {
            p.process(ctx, logits);
        }
        for l in logits.iter_mut() {
            if l.is_nan() {
                *l = f32::NEG_INFINITY;
            }
        }

        let candidates = self.distribution(logits);
        let chosen = processors
            .iter_mut()
            .find_map(|p| p.select(ctx, &candidates))
            // A token banned by a processor (`-inf`, e.g. a grammar mask) is
            // never taken, whoever selects it.
            .filter(|&id| {
                logits
                    .get(id as usize)
                    .is_some_and(|&l| l > f32::NEG_INFINITY)
            })
            .unwrap_or_else(|| self.draw(&candidates));

        let (logprob, top) = if self.params.logprobs || self.params.top_logprobs > 0 {
            let lse = log_sum_exp(logits);
            let lp = logits[chosen as usize] - lse;
            let top = top_n(logits, self.params.top_logprobs as usize)
                .into_iter()
                .map(|id| (id, logits[id as usize] - lse))
                .collect();
            (Some(lp), top)
        } else {
            (None, Vec::new())
        };
        self.accept(chosen);
        Sampled {
            id: chosen,
            logprob,
            top,
        }
    }

    /// The final distribution after temperature, top-k, min-p and top-p,
    /// sorted by decreasing probability.
    fn distribution(&mut self, logits: &[f32]) -> Vec<Candidate> {
        let p = &self.params;
        if p.temperature == 0.0 {
            let best = argmax(logits);
            return vec![Candidate { id: best, p: 1.0 }];
        }
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if max == f32::NEG_INFINITY {
            // Everything was banned: nothing sensible to sample, fall back to token 0.
            return vec![Candidate { id: 0, p: 1.0 }];
        }
        // Cheap prefilter equivalent to min-p, before any sort: p_i/p_max >= min_p
        // <=> (l_i - l_max)/T >= ln(min_p).
        let floor = if p.min_p > 0.0 {
            max + p.min_p.ln() * p.temperature
        } else {
            f32::NEG_INFINITY
        };
        self.scratch.clear();
        let mut ids: Vec<TokenId> = (0..logits.len() as TokenId)
            .filter(|&i| {
                let l = logits[i as usize];
                l > f32::NEG_INFINITY && l >= floor
            })
            .collect();
        let by_logit_desc = |a: &TokenId, b: &TokenId| {
            logits[*b as usize]
                .total_cmp(&logits[*a as usize])
                .then(a.cmp(b))
        };
        let k = p.top_k as usize;
        if k > 0 && k < ids.len() {
            ids.select_nth_unstable_by(k - 1, by_logit_desc);
            ids.truncate(k);
        }
        ids.sort_unstable_by(by_logit_desc);

        let inv_t = 1.0 / p.temperature;
        let mut probs: Vec<f32> = ids
            .iter()
            .map(|&i| ((logits[i as usize] - max) * inv_t).exp())
            .collect();
        let sum: f32 = probs.iter().sum();
        probs.iter_mut().for_each(|x| *x /= sum);
        if p.top_p < 1.0 {
            let mut cum = 0.0;
            let mut keep = probs.len();
            for (i, &x) in probs.iter().enumerate() {
                cum += x;
                if cum >= p.top_p {
                    keep = i + 1;
                    break;
                }
            }
            probs.truncate(keep);
            ids.truncate(keep);
            let sum: f32 = probs.iter().sum();
            probs.iter_mut().for_each(|x| *x /= sum);
        }
        ids.into_iter()
            .zip(probs)
            .map(|(id, p)| Candidate { id, p })
            .collect()
    }

    fn draw(&mut self, candidates: &[Candidate]) -> TokenId {
        if candidates.len() == 1 {
            return candidates[0].id;
        }
        let u = self.rng.next_f64() as f32;
        let mut cum = 0.0;
        for c in candidates {
            cum += c.p;
            if u < cum {
                return c.id;
            }
        }
        candidates.last().map_or(0, |c| c.id)
    }
}

fn argmax(logits: &[f32]) -> TokenId {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    best as TokenId
}

fn log_sum_exp(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return max;
    }
    let s: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
    max + s.ln() as f32
}

/// Ids of the `n` largest logits, largest first (ties by lower id).
fn top_n(logits: &[f32], n: usize) -> Vec<TokenId> {
    if n == 0 {
        return Vec::new();
    }
    let mut ids: Vec<TokenId> = (0..logits.len() as TokenId).collect();
    let cmp = |a: &TokenId, b: &TokenId| {
        logits[*b as usize]
            .total_cmp(&logits[*a as usize])
            .then(a.cmp(b))
    };
    let n = n.min(ids.len());
    if n < ids.len() {
        ids.select_nth_unstable_by(n - 1, cmp);
        ids.truncate(n);
    }
    ids.sort_unstable_by(cmp);
    ids
}

/// Turns token bytes into text for streaming: buffers incomplete UTF-8
/// sequences and holds back any tail that could be the start of a stop string,
/// so that a stop string is never partially emitted.
#[derive(Debug, Default)]
pub struct TextAccumulator {
    stop: Vec<String>,
    pending: Vec<u8>,
    held: String,
    stopped: bool,
}

impl TextAccumulator {
    /// An accumulator watching for `stop` strings.
    pub fn new(stop: Vec<String>) -> Self {
        Self {
            stop,
            ..Self::default()
        }
    }

    /// Adds token bytes; returns the text that is now safe to emit and whether
    /// a stop string was reached (the stop string and what follows are dropped).
    pub fn push(&mut self, bytes: &[u8]) -> (String, bool) {
        if self.stopped {
            return (String::new(), true);
        }
        self.pending.extend_from_slice(bytes);
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(s) => s.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            // Invalid bytes (not merely incomplete): decode lossily.
            Err(_) => self.pending.len(),
        };
        let rest = self.pending.split_off(valid);
        self.held.push_str(&String::from_utf8_lossy(&self.pending));
        self.pending = rest;

        if let Some(pos) = self
            .stop
            .iter()
            .filter_map(|s| self.held.find(s.as_str()))
            .min()
        {
            self.stopped = true;
            self.held.truncate(pos);
            return (std::mem::take(&mut self.held), true);
        }
        let keep = self.longest_stop_prefix_suffix();
        let emit_to = self.held.len() - keep;
        let tail = self.held.split_off(emit_to);
        (std::mem::replace(&mut self.held, tail), false)
    }

    /// Length in bytes of the longest suffix of `held` that is a proper
    /// prefix of a stop string.
    fn longest_stop_prefix_suffix(&self) -> usize {
        let mut best = 0;
        for s in &self.stop {
            let max = s.len().saturating_sub(1).min(self.held.len());
            for k in (best + 1..=max).rev() {
                let start = self.held.len() - k;
                if self.held.is_char_boundary(start) && s.starts_with(&self.held[start..]) {
                    best = k;
                    break;
                }
            }
        }
        best
    }

    /// Whether text is being held back (incomplete UTF-8 or a possible stop-string start).
    pub fn is_holding(&self) -> bool {
        !self.held.is_empty() || !self.pending.is_empty()
    }

    /// Flushes whatever is held at the end of generation.
    pub fn finish(&mut self) -> String {
        if self.stopped {
            return String::new();
        }
        let mut out = std::mem::take(&mut self.held);
        out.push_str(&String::from_utf8_lossy(&std::mem::take(&mut self.pending)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> TokenContext<'static> {
        TokenContext {
            prompt: &[],
            generated: &[],
        }
    }

    #[test]
    fn greedy_picks_argmax_and_logprobs_sum_to_one() {
        let params = SamplingParams {
            logprobs: true,
            top_logprobs: 3,
            ..SamplingParams::greedy()
        };
        let mut s = Sampler::new(params, 5, &[]);
        let mut logits = vec![0.1, 2.0, -1.0, 1.5, 0.0];
        let out = s.sample(&mut logits, &ctx(), &mut []);
        assert_eq!(out.id, 1);
        let total: f32 = logits
            .iter()
            .map(|l| (l - log_sum_exp(&logits)).exp())
            .sum();
        assert!((total - 1.0).abs() < 1e-5);
        assert_eq!(
            out.top.iter().map(|t| t.0).collect::<Vec<_>>(),
            vec![1, 3, 0]
        );
        assert_eq!(out.top[0].1, out.logprob.unwrap());
    }

    #[test]
    fn seeded_sampling_is_reproducible_and_truncation_holds() {
        let params = SamplingParams {
            temperature: 1.0,
            top_k: 2,
            top_p: 1.0,
            min_p: 0.0,
            seed: Some(9),
            ..SamplingParams::default()
        };
        let run = || {
            let mut s = Sampler::new(params.clone(), 4, &[]);
            (0..50)
                .map(|_| s.sample(&mut [1.0, 1.1, 0.9, 1.05], &ctx(), &mut []).id)
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        assert!(a.iter().all(|&t| t == 1 || t == 3), "{a:?}");
        assert!(a.contains(&1) && a.contains(&3));
    }

    #[test]
    fn penalties_lower_seen_tokens() {
        let params = SamplingParams {
            penalties: Penalties {
                repetition: 2.0,
                frequency: 0.5,
                presence: 0.25,
                last_n: 8,
            },
            ..SamplingParams::greedy()
        };
        let mut s = Sampler::new(params, 3, &[0, 0]);
        let mut logits = vec![2.0, 1.5, -1.0];
        let out = s.sample(&mut logits, &ctx(), &mut []);
        // 2.0 / 2 - 2 * 0.5 - 0.25 = -0.25
        assert_eq!(logits[0], -0.25);
        assert_eq!(out.id, 1);
    }

    #[test]
    fn bias_ban_and_selection_hook() {
        struct PickLast;
        impl LogitsProcessor for PickLast {
            fn select(&mut self, _: &TokenContext<'_>, c: &[Candidate]) -> Option<TokenId> {
                c.last().map(|c| c.id)
            }
        }
        let params = SamplingParams {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            logit_bias: vec![(0, f32::NEG_INFINITY)],
            seed: Some(1),
            ..SamplingParams::default()
        };
        let mut s = Sampler::new(params, 3, &[]);
        let mut procs: Vec<Box<dyn LogitsProcessor>> = vec![Box::new(PickLast)];
        let out = s.sample(&mut [5.0, 1.0, 0.0], &ctx(), &mut procs);
        assert_eq!(out.id, 2);
    }

    #[test]
    fn accumulator_holds_back_stop_prefixes() {
        let mut acc = TextAccumulator::new(vec!["STOP".into()]);
        assert_eq!(acc.push(b"hello S"), ("hello ".into(), false));
        assert_eq!(acc.push(b"T"), (String::new(), false));
        assert_eq!(acc.push(b"x"), ("STx".into(), false));
        assert_eq!(acc.push(b" ST"), (" ".into(), false));
        assert_eq!(acc.push(b"OP tail"), (String::new(), true));
        assert_eq!(acc.finish(), "");
        let mut acc = TextAccumulator::new(vec![]);
        let e = "é".as_bytes();
        assert_eq!(acc.push(&e[..1]), (String::new(), false));
        assert_eq!(acc.push(&e[1..]), ("é".into(), false));
    }

    #[test]
    fn last_tokens_spans_prompt_and_generated() {
        let c = TokenContext {
            prompt: &[1, 2, 3],
            generated: &[4],
        };
        assert_eq!(c.last_tokens(2), vec![3, 4]);
        assert_eq!(c.last_tokens(10), vec![1, 2, 3, 4]);
    }
}
