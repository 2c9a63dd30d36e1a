//! Statistics of both schemes on synthetic distributions of realistic entropy: marked sequences
//! drawn with the schemes' own functions are detected, unmarked ones give uniform p-values, and
//! human French medical text (ANSM thesaurus, bytes as token ids) is not flagged.

use rand::{Rng, SeedableRng};
use siagen_mark::detect::{detect, score, Scheme};
use siagen_mark::{gumbel, kgw};

const VOCAB: usize = 1000;

/// A next-token distribution with a long tail: logits ~ N(0, 1) scaled so that the entropy is
/// a few nats, like a language model's.
fn logits(rng: &mut rand::rngs::StdRng, scale: f32) -> Vec<f32> {
    (0..VOCAB)
        .map(|_| {
            // Box-Muller.
            let (u, v): (f32, f32) = (rng.gen_range(1e-7..1.0), rng.gen());
            scale * (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
        })
        .collect()
}

fn softmax(l: &[f32]) -> Vec<f32> {
    let m = l.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = l.iter().map(|x| (x - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.into_iter().map(|x| x / s).collect()
}

fn entropy(p: &[f32]) -> f64 {
    p.iter()
        .filter(|&&x| x > 0.0)
        .map(|&x| -f64::from(x) * f64::from(x).ln())
        .sum()
}

fn draw(rng: &mut rand::rngs::StdRng, p: &[f32]) -> u32 {
    let u: f32 = rng.gen();
    let mut c = 0.0;
    for (i, &x) in p.iter().enumerate() {
        c += x;
        if u < c {
            return i as u32;
        }
    }
    (p.len() - 1) as u32
}

/// A sequence of `n` tokens: Gumbel-marked, KGW-marked or plain, from fresh distributions.
fn sequence(scheme: Option<Scheme>, key: &[u8], n: usize, seed: u64) -> (Vec<u32>, f64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut toks: Vec<u32> = (0..4).map(|_| rng.gen_range(0..VOCAB as u32)).collect();
    let mut h = 0.0;
    for _ in 0..n {
        let mut l = logits(&mut rng, 3.0);
        let ctx = &toks[toks.len() - 4..];
        let t = match scheme {
            Some(Scheme::Gumbel) => {
                let p = softmax(&l);
                h += entropy(&p);
                let s = gumbel::seed(key, ctx);
                gumbel::choose(s, p.iter().enumerate().map(|(i, &p)| (i as u32, p))).unwrap()
            }
            Some(Scheme::Kgw) => {
                h += entropy(&softmax(&l));
                kgw::bias(kgw::seed(key, ctx), &mut l, kgw::DELTA);
                draw(&mut rng, &softmax(&l))
            }
            None => {
                let p = softmax(&l);
                h += entropy(&p);
                draw(&mut rng, &p)
            }
        };
        toks.push(t);
    }
    (toks, h / n as f64)
}

#[test]
fn marked_sequences_are_detected_at_realistic_entropy() {
    let key = [7u8; 32];
    for scheme in Scheme::ALL {
        let mut detected = 0;
        let mut mean_h = 0.0;
        for i in 0..20 {
            let (toks, h) = sequence(Some(scheme), &key, 200, 1000 + i);
            mean_h += h / 20.0;
            let d = detect(&[("k", &key[..])], &toks, 1e-3).unwrap();
            if d.marked && d.scheme == scheme {
                detected += 1;
            }
        }
        assert!(
            (1.0..5.0).contains(&mean_h),
            "entropy {mean_h} nats is not realistic"
        );
        assert_eq!(detected, 20, "{scheme:?}: {detected}/20 at 200 tokens");
        // Another key does not see the mark.
        let (toks, _) = sequence(Some(scheme), &key, 200, 7);
        let d = detect(&[("other", &[8u8; 32][..])], &toks, 1e-3).unwrap();
        assert!(!d.marked, "{d:?}");
    }
}

#[test]
fn unmarked_p_values_are_uniform() {
    let key = [7u8; 32];
    for scheme in Scheme::ALL {
        let n = 400;
        let mut ps: Vec<f64> = (0..n)
            .map(|i| {
                // Under H0 the text is independent of the key: any token source will do.
                let mut rng = rand::rngs::StdRng::seed_from_u64(50_000 + i);
                let toks: Vec<u32> = (0..104).map(|_| rng.gen_range(0..VOCAB as u32)).collect();
                score(scheme, "k", &key, &toks).p_value
            })
            .collect();
        ps.sort_by(f64::total_cmp);
        // Kolmogorov-Smirnov distance to U(0, 1); 1.63/sqrt(n) is the 1% critical value.
        let ks = ps
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                ((i + 1) as f64 / n as f64 - p)
                    .abs()
                    .max((p - i as f64 / n as f64).abs())
            })
            .fold(0.0, f64::max);
        // KGW's binomial p-values are discrete (100 tokens): allow the atom size on top.
        let bound = 1.63 / (n as f64).sqrt() + if scheme == Scheme::Kgw { 0.1 } else { 0.0 };
        assert!(ks < bound, "{scheme:?}: KS distance {ks}");
        let below = ps.iter().filter(|&&p| p <= 0.05).count() as f64 / n as f64;
        assert!(
            below <= 0.05 + 3.0 * (0.05f64 * 0.95 / n as f64).sqrt(),
            "{scheme:?}: {below}"
        );
    }
}

#[test]
fn human_french_medical_text_is_not_flagged() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/ansm-thesaurus-2020-01-descriptions.json"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let keys: Vec<[u8; 32]> = (0..3u8).map(|i| [i + 1; 32]).collect();
    let keys: Vec<(&str, &[u8])> = keys.iter().map(|k| ("k", &k[..])).collect();
    for t in v["texts"].as_array().unwrap() {
        let toks: Vec<u32> = t["description"]
            .as_str()
            .unwrap()
            .bytes()
            .map(u32::from)
            .collect();
        let d = detect(&keys, &toks, 1e-3).unwrap();
        assert!(!d.marked, "{d:?}");
        assert!(d.tokens > 300, "{d:?}");
    }
}
