//! Detection: scores a token sequence under every known key and both schemes, and gives a
//! verdict at a chosen false-positive rate.
//!
//! Only the key and the tokenizer are needed, not the model: the scores depend on the token ids
//! and the keyed PRF alone. Each token is scored once per (context, token) n-gram: a repeated
//! n-gram (a phrase the text repeats, a template) would otherwise add correlated evidence and
//! break the null distribution, as the reference implementations note.
//!
//! Statistics under H0 (text written without the key):
//! - Gumbel: the sum of `-ln(1 - r)` over `n` scored tokens is Gamma(n, 1); the p-value is its
//!   upper tail `Q(n, S) = e^-S Σ_{k<n} S^k / k!` (exact for integer `n`).
//! - KGW: the number of green tokens is Binomial(n, γ); the score is the one-proportion
//!   z-statistic `(g - γn) / sqrt(nγ(1-γ))`, the p-value the exact binomial upper tail (the
//!   normal approximation is anti-conservative for short texts).
//!
//! Several tests are run (every key × both schemes); the reported p-value is the smallest one
//! multiplied by their number (Bonferroni), so the verdict's false-positive rate stays at most
//! the one asked whatever the number of keys.

use std::collections::HashSet;

use serde::Serialize;

use crate::key::MarkError;
use crate::{gumbel, kgw};

/// Default false-positive rate of the verdict.
pub const DEFAULT_FPR: f64 = 1e-3;

/// A marking scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Gumbel-max sampling (distortion-free), the default.
    Gumbel,
    /// Green list of Kirchenbauer et al. (γ = 0.25, δ = 2, self-hash h = 4).
    Kgw,
}

impl Scheme {
    /// Both schemes, default first.
    pub const ALL: [Scheme; 2] = [Scheme::Gumbel, Scheme::Kgw];

    /// `gumbel` or `kgw`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Gumbel => "gumbel",
            Scheme::Kgw => "kgw",
        }
    }

    /// Parses `gumbel` or `kgw`.
    pub fn parse(s: &str) -> Result<Scheme, MarkError> {
        match s {
            "gumbel" => Ok(Scheme::Gumbel),
            "kgw" => Ok(Scheme::Kgw),
            o => Err(MarkError::UnknownScheme(o.to_string())),
        }
    }

    /// Tokens of context each step hashes.
    pub fn context(self) -> usize {
        match self {
            Scheme::Gumbel => gumbel::CONTEXT,
            Scheme::Kgw => kgw::CONTEXT,
        }
    }

    /// The seed of the step after `context`.
    pub fn seed(self, key: &[u8], context: &[u32]) -> u128 {
        match self {
            Scheme::Gumbel => gumbel::seed(key, context),
            Scheme::Kgw => kgw::seed(key, context),
        }
    }
}

/// Score of one (key, scheme) test.
#[derive(Debug, Clone, Serialize)]
pub struct Score {
    pub scheme: Scheme,
    pub key_id: String,
    /// Tokens scored (first occurrences of their (context, token) n-gram).
    pub tokens: usize,
    /// Gumbel: Σ -ln(1 - r); KGW: z-statistic.
    pub score: f64,
    /// p-value of this test alone.
    pub p_value: f64,
}

/// Scores `tokens` for one key and one scheme.
pub fn score(scheme: Scheme, key_id: &str, secret: &[u8], tokens: &[u32]) -> Score {
    let h = scheme.context();
    let mut seen: HashSet<&[u32]> = HashSet::new();
    let (mut n, mut sum, mut green) = (0usize, 0.0f64, 0usize);
    for i in h..tokens.len() {
        if !seen.insert(&tokens[i - h..=i]) {
            continue;
        }
        let s = scheme.seed(secret, &tokens[i - h..i]);
        n += 1;
        match scheme {
            Scheme::Gumbel => sum += gumbel::score(s, tokens[i]),
            Scheme::Kgw => green += usize::from(kgw::is_green(s, tokens[i])),
        }
    }
    let (score, p_value) = match scheme {
        Scheme::Gumbel => (sum, gamma_upper_tail(n, sum)),
        Scheme::Kgw => {
            let nf = n as f64;
            let z = if n == 0 {
                0.0
            } else {
                (green as f64 - kgw::GAMMA * nf) / (nf * kgw::GAMMA * (1.0 - kgw::GAMMA)).sqrt()
            };
            (z, binomial_upper_tail(n, green, kgw::GAMMA))
        }
    };
    Score {
        scheme,
        key_id: key_id.to_string(),
        tokens: n,
        score,
        p_value,
    }
}

/// Verdict over every key and scheme.
#[derive(Debug, Clone, Serialize)]
pub struct Detection {
    /// Scheme of the strongest evidence (the test with the smallest p-value).
    pub scheme: Scheme,
    /// Key of the strongest evidence.
    pub key_id: String,
    /// Tokens scored by that test.
    pub tokens: usize,
    /// That test's score.
    pub score: f64,
    /// Its p-value corrected for the number of tests (Bonferroni), at most 1.
    pub p_value: f64,
    /// `p_value <= fpr`.
    pub marked: bool,
    /// The false-positive rate of the verdict.
    pub fpr: f64,
}

/// Scores `tokens` for every `(key id, secret)` and both schemes.
pub fn detect(keys: &[(&str, &[u8])], tokens: &[u32], fpr: f64) -> Result<Detection, MarkError> {
    if !(fpr > 0.0 && fpr < 1.0) {
        return Err(MarkError::BadFpr(fpr));
    }
    let tests = keys.len() * Scheme::ALL.len();
    let mut best: Option<Score> = None;
    for &(id, secret) in keys {
        for scheme in Scheme::ALL {
            let s = score(scheme, id, secret, tokens);
            if best.as_ref().is_none_or(|b| s.p_value < b.p_value) {
                best = Some(s);
            }
        }
    }
    let best = best.unwrap_or(Score {
        scheme: Scheme::Gumbel,
        key_id: String::new(),
        tokens: 0,
        score: 0.0,
        p_value: 1.0,
    });
    let p_value = (best.p_value * tests.max(1) as f64).min(1.0);
    Ok(Detection {
        scheme: best.scheme,
        key_id: best.key_id,
        tokens: best.tokens,
        score: best.score,
        p_value,
        marked: p_value <= fpr,
        fpr,
    })
}

fn ln_factorial(k: usize) -> f64 {
    // Exact sum for small k, Stirling series beyond (error < 1e-12 for k > 20).
    if k <= 20 {
        return (2..=k).map(|i| (i as f64).ln()).sum();
    }
    let x = k as f64;
    x * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI * x).ln() + 1.0 / (12.0 * x)
        - 1.0 / (360.0 * x * x * x)
}

fn log_sum_exp(terms: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = terms.collect();
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + v.iter().map(|t| (t - m).exp()).sum::<f64>().ln()
}

/// P(Gamma(n, 1) >= x) = e^-x Σ_{k<n} x^k / k!; 1 for n = 0.
pub fn gamma_upper_tail(n: usize, x: f64) -> f64 {
    if n == 0 || x <= 0.0 {
        return 1.0;
    }
    let lx = x.ln();
    let l = -x + log_sum_exp((0..n).map(|k| k as f64 * lx - ln_factorial(k)));
    l.exp().min(1.0)
}

/// P(Binomial(n, p) >= k).
pub fn binomial_upper_tail(n: usize, k: usize, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let ln_n = ln_factorial(n);
    let l = log_sum_exp((k..=n).map(|j| {
        ln_n - ln_factorial(j) - ln_factorial(n - j) + j as f64 * lp + (n - j) as f64 * lq
    }));
    l.exp().min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_match_known_values() {
        // Q(1, x) = e^-x; Q(2, 3) = 4 e^-3.
        assert!((gamma_upper_tail(1, 2.0) - (-2.0f64).exp()).abs() < 1e-12);
        assert!((gamma_upper_tail(2, 3.0) - 4.0 * (-3.0f64).exp()).abs() < 1e-12);
        // Median of Gamma(100, 1) ≈ 99.667.
        assert!((gamma_upper_tail(100, 99.667) - 0.5).abs() < 1e-3);
        // P(Bin(4, 0.25) >= 2) = 1 - (81 + 108) / 256.
        assert!((binomial_upper_tail(4, 2, 0.25) - 67.0 / 256.0).abs() < 1e-12);
        assert!((binomial_upper_tail(30, 30, 0.5) - 0.5f64.powi(30)).abs() < 1e-20);
    }

    #[test]
    fn repeated_ngrams_are_scored_once() {
        let key = [5u8; 32];
        let tokens: Vec<u32> = [1, 2, 3, 4, 5].repeat(20);
        let s = score(Scheme::Gumbel, "k", &key, &tokens);
        assert_eq!(s.tokens, 5);
        assert!(detect(&[], &tokens, 0.0).is_err());
    }
}
