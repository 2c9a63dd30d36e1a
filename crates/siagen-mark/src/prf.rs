//! The keyed pseudo-random function behind both marking schemes.
//!
//! The reference implementations draw their green lists and Gumbel noise from torch's RNG, which
//! cannot be reproduced outside torch; siagen defines its own PRF so that marking and detection
//! agree bit for bit on every platform, and publishes test vectors (below and in the unit tests).
//!
//! Two stages, so that a whole vocabulary (150k tokens) can be scored per step cheaply:
//! 1. [`context_seed`]: HMAC-SHA256 of the secret key over `domain || 0x00 || ids` (each context
//!    token id as 4 little-endian bytes) → the first 16 bytes as a little-endian `u128`. This is
//!    the cryptographic part: without the key, seeds are unpredictable.
//! 2. [`token_u64`]: a fast keyed mixer of (seed, token id) → a uniform `u64` (two rounds of the
//!    SplitMix64 finaliser, the seed's halves entering before each round).
//!
//! Test vectors (key = 32 bytes `00 01 02 … 1f`):
//! - `context_seed(key, "siagen-mark/gumbel/v1", [1, 2, 3, 4])` =
//!   `0x76e034f5a84ca9e9114c7827eef92552` ([`VECTOR_SEED_GUMBEL`])
//! - `token_u64` of that seed for tokens 0, 1 and 151935: `0x5688022279c5bef2`,
//!   `0x940fcfb4ba69588b`, `0x882d65f35866c3e3` ([`VECTORS`]).
//!
//! (Checked against Python's `hmac` module and a 10-line Python mixer.)

use sha2::{Digest, Sha256};

/// HMAC-SHA256 (RFC 2104), written out to avoid a dependency for 20 lines.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    const B: usize = 64;
    let mut k = [0u8; B];
    if key.len() > B {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    for p in parts {
        inner.update(p);
    }
    let ih = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(ih);
    outer.finalize().into()
}

/// The 128-bit seed of one context: HMAC-SHA256(key, domain || 0x00 || ids as u32 LE), first
/// 16 bytes read little-endian. `domain` separates schemes (and versions) so that the same key
/// never gives correlated randomness to two schemes.
pub fn context_seed(key: &[u8], domain: &str, ids: &[u32]) -> u128 {
    let mut bytes = Vec::with_capacity(ids.len() * 4);
    for id in ids {
        bytes.extend_from_slice(&id.to_le_bytes());
    }
    let mac = hmac_sha256(key, &[domain.as_bytes(), &[0u8], &bytes]);
    let mut first = [0u8; 16];
    first.copy_from_slice(&mac[..16]);
    u128::from_le_bytes(first)
}

#[inline]
fn splitmix_finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform `u64` for `token` under a context `seed`: cheap enough to evaluate over a whole
/// vocabulary at every step.
#[inline]
pub fn token_u64(seed: u128, token: u32) -> u64 {
    let lo = seed as u64;
    let hi = (seed >> 64) as u64;
    let x = splitmix_finalize(lo ^ u64::from(token).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    splitmix_finalize(x ^ hi)
}

/// [`token_u64`] as a uniform number strictly inside (0, 1) (53 bits, centred in its cell), so
/// that logarithms of `r` and `1 - r` are always finite.
#[inline]
pub fn token_unit(seed: u128, token: u32) -> f64 {
    ((token_u64(seed, token) >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
}

/// The key of the published test vectors: bytes 0, 1, …, 31.
pub const VECTOR_KEY: [u8; 32] = {
    let mut k = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        k[i] = i as u8;
        i += 1;
    }
    k
};

/// `context_seed(VECTOR_KEY, "siagen-mark/gumbel/v1", &[1, 2, 3, 4])`.
pub const VECTOR_SEED_GUMBEL: u128 = 0x76e0_34f5_a84c_a9e9_114c_7827_eef9_2552;

/// `(token, token_u64(VECTOR_SEED_GUMBEL, token))`.
pub const VECTORS: [(u32, u64); 3] = [
    (0, 0x5688_0222_79c5_bef2),
    (1, 0x940f_cfb4_ba69_588b),
    (151_935, 0x882d_65f3_5866_c3e3),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2 (key "Jefe").
    #[test]
    fn hmac_matches_rfc4231() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block is hashed first.
        let mac = hmac_sha256(
            &[0xaa; 131],
            &[b"Test Using Larger Than Block-Size Key - Hash Key First"],
        );
        assert_eq!(
            hex::encode(mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn published_vectors() {
        let seed = context_seed(&VECTOR_KEY, "siagen-mark/gumbel/v1", &[1, 2, 3, 4]);
        assert_eq!(seed, VECTOR_SEED_GUMBEL);
        for (t, v) in VECTORS {
            assert_eq!(token_u64(seed, t), v, "token {t}");
        }
    }

    #[test]
    fn domains_and_contexts_separate_seeds() {
        let a = context_seed(&VECTOR_KEY, "siagen-mark/gumbel/v1", &[1, 2, 3, 4]);
        let b = context_seed(&VECTOR_KEY, "siagen-mark/kgw/v1", &[1, 2, 3, 4]);
        let c = context_seed(&VECTOR_KEY, "siagen-mark/gumbel/v1", &[1, 2, 3, 5]);
        let d = context_seed(&[1u8; 32], "siagen-mark/gumbel/v1", &[1, 2, 3, 4]);
        assert!(a != b && a != c && a != d && b != c);
    }

    /// The mixer's outputs are uniform enough: mean, and each bit set about half the time.
    #[test]
    fn mixer_is_uniform() {
        let seed = context_seed(&VECTOR_KEY, "t", &[7]);
        let n = 200_000u32;
        let mut bits = [0u32; 64];
        let mut sum = 0.0;
        for t in 0..n {
            let v = token_u64(seed, t);
            for (b, c) in bits.iter_mut().enumerate() {
                *c += ((v >> b) & 1) as u32;
            }
            sum += token_unit(seed, t);
        }
        let mean = sum / f64::from(n);
        assert!((mean - 0.5).abs() < 0.003, "{mean}");
        for c in bits {
            let f = f64::from(c) / f64::from(n);
            assert!((f - 0.5).abs() < 0.005, "{f}");
        }
    }
}
