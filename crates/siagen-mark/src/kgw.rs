//! The green-list scheme of Kirchenbauer et al. (2023), as an option: γ = 0.25 of the
//! vocabulary is "green" at each step and green logits get +δ = 2.0, so marked text holds more
//! green tokens than the γ expected by chance.
//!
//! Green-ness is a keyed function of the previous [`CONTEXT`] tokens and of the token itself
//! (the "self-hash" variant, h = 4): the PRF seeds on the context, its mixer takes the candidate
//! token, so each candidate is tested on its own, as self-hashing requires, at the cost of one
//! mixer call per vocabulary entry. Unlike the Gumbel scheme this one shifts the distribution
//! (the published cost on medical text is why it is not the default).

use crate::prf::{context_seed, token_u64};

/// Domain string of this scheme's PRF.
pub const DOMAIN: &str = "siagen-mark/kgw/v1";

/// Tokens of context hashed into each step's seed.
pub const CONTEXT: usize = 4;

/// Fraction of green tokens.
pub const GAMMA: f64 = 0.25;

/// Logit bias added to green tokens.
pub const DELTA: f32 = 2.0;

/// Threshold on the PRF output: green iff `token_u64 < GAMMA · 2^64`.
const THRESHOLD: u64 = (GAMMA * 18_446_744_073_709_551_616.0) as u64;

/// The seed of the step following `context` (its last [`CONTEXT`] tokens).
pub fn seed(key: &[u8], context: &[u32]) -> u128 {
    let from = context.len().saturating_sub(CONTEXT);
    context_seed(key, DOMAIN, &context[from..])
}

/// Whether `token` is green after a context of seed `seed`.
#[inline]
pub fn is_green(seed: u128, token: u32) -> bool {
    token_u64(seed, token) < THRESHOLD
}

/// Adds `delta` to the logits of the green tokens (the logits row covers the vocabulary).
pub fn bias(seed: u128, logits: &mut [f32], delta: f32) {
    for (id, l) in logits.iter_mut().enumerate() {
        if is_green(seed, id as u32) {
            *l += delta;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_gamma_of_the_vocabulary_is_green() {
        let s = seed(&[3u8; 32], &[1, 2, 3, 4]);
        let mut logits = vec![0.0f32; 100_000];
        bias(s, &mut logits, DELTA);
        let green = logits.iter().filter(|&&l| l == DELTA).count() as f64 / 1e5;
        assert!((green - GAMMA).abs() < 0.005, "{green}");
        assert_eq!(logits[7] == DELTA, is_green(s, 7));
    }
}
