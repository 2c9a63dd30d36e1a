//! The distortion-free default: Gumbel-max (exponential-minimum) sampling, as in Aaronson's
//! scheme and vLLM's implementation.
//!
//! At each step the keyed PRF gives every token `i` a uniform `r_i` seeded by the previous
//! [`CONTEXT`] tokens; the token chosen is `argmax r_i^(1/p_i)`. Over the key, that choice is
//! distributed exactly as `p` (so each generation is a fair sample: no loss of accuracy), but
//! the chosen tokens have unusually large `r`, which the detector sees: for unmarked text
//! `-ln(1 - r)` is Exp(1), for marked text it is larger.
//!
//! Given the key and the context, the choice is deterministic. The server therefore leaves the
//! first tokens of a generation (whose context reaches into the prompt, which a detector never
//! sees) and any repeated context to the request's own sampler: a `seed` keeps its meaning and
//! repeated contexts cannot lock generation into a loop.

use crate::prf::{context_seed, token_unit};

/// Domain string of this scheme's PRF.
pub const DOMAIN: &str = "siagen-mark/gumbel/v1";

/// Tokens of context hashed into each step's seed.
pub const CONTEXT: usize = 4;

/// The seed of the step following `context` (its last [`CONTEXT`] tokens).
pub fn seed(key: &[u8], context: &[u32]) -> u128 {
    let from = context.len().saturating_sub(CONTEXT);
    context_seed(key, DOMAIN, &context[from..])
}

/// Chooses the token from a distribution `(id, p)`: `argmax ln(r_i) / p_i` (same order as
/// `r_i^(1/p_i)`, without underflow). Tokens with `p <= 0` are never chosen; `None` when no
/// token has positive probability.
pub fn choose(seed: u128, candidates: impl IntoIterator<Item = (u32, f32)>) -> Option<u32> {
    let mut best: Option<(u32, f64)> = None;
    for (id, p) in candidates {
        if p.is_nan() || p <= 0.0 {
            continue;
        }
        let v = token_unit(seed, id).ln() / f64::from(p);
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((id, v));
        }
    }
    best.map(|(id, _)| id)
}

/// Detection score of `token` after a context of seed `seed`: `-ln(1 - r)`, Exp(1) for text
/// written without the key.
pub fn score(seed: u128, token: u32) -> f64 {
    -(1.0 - token_unit(seed, token)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Over many keys (here: many contexts), the choice follows the distribution.
    #[test]
    fn choice_is_distributed_as_p() {
        let p = [0.5f32, 0.3, 0.15, 0.05];
        let mut counts = [0u32; 4];
        let n = 40_000u32;
        for c in 0..n {
            let s = seed(&[9u8; 32], &[c, 1, 2, 3]);
            let id = choose(s, p.iter().enumerate().map(|(i, &p)| (i as u32, p))).unwrap();
            counts[id as usize] += 1;
        }
        for (i, &c) in counts.iter().enumerate() {
            let f = f64::from(c) / f64::from(n);
            let sd = (f64::from(p[i]) * (1.0 - f64::from(p[i])) / f64::from(n)).sqrt();
            assert!(
                (f - f64::from(p[i])).abs() < 5.0 * sd,
                "{i}: {f} vs {}",
                p[i]
            );
        }
    }

    #[test]
    fn zero_probabilities_are_never_chosen() {
        let s = seed(&[1u8; 32], &[5, 6, 7, 8]);
        assert_eq!(choose(s, [(0, 0.0), (1, 1.0), (2, 0.0)]), Some(1));
        assert_eq!(choose(s, [(0, 0.0)]), None);
    }
}
