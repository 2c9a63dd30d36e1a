//! Streaming re-identification: cost per token of an answer of N tokens, N from 200 to 4,000.
//!
//! Side by side in one run: the previous way (each token re-reads the vault and re-identifies the
//! whole answer so far, then releases the part past the hold-back: quadratic) and
//! `StreamReidentifier` (a cursor; each token re-reads only the hold-back window: linear).
//! Medians of 5 runs. `cargo bench -p siagen-shield --bench reid`

use siagen_shield::{
    pseudonymize, reidentify_with_dates, Reidentifier, Shield, StreamReidentifier, Vault,
    STREAM_HOLD_BACK,
};
use std::time::Instant;

/// The previous streaming re-identifier, kept here as the baseline.
fn old_stream(shield: &Shield, vault: &Vault, pref: &str, tokens: &[String]) -> String {
    let mut raw = String::new();
    let mut emitted = 0usize;
    let mut out = String::new();
    for t in tokens {
        raw.push_str(t);
        let re = reidentify_with_dates(shield, &raw, pref, vault).unwrap();
        let total = re.chars().count();
        let stable = total.saturating_sub(64);
        if stable > emitted {
            out.extend(re.chars().skip(emitted).take(stable - emitted));
            emitted = stable;
        }
    }
    let re = reidentify_with_dates(shield, &raw, pref, vault).unwrap();
    out.extend(re.chars().skip(emitted));
    out
}

fn new_stream(shield: &Shield, vault: &Vault, pref: &str, tokens: &[String]) -> String {
    let mut s = StreamReidentifier::new(Reidentifier::load(pref, vault).unwrap());
    let mut out = String::new();
    for t in tokens {
        out.push_str(&s.push(shield, t));
    }
    out.push_str(&s.finish(shield));
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let shield = Shield::new().unwrap();
    let dir = std::env::temp_dir().join(format!("siagen-reid-bench-{}", std::process::id()));
    let vault = Vault::open(&dir, [5u8; 32]).unwrap().without_fsync();
    let notes = "Mme Jeanne DUPONT, née le 12/03/1950, domiciliée 4 rue des Lilas à Rennes, \
                 tél 06 12 34 56 78, suivie par le Dr Paul MARTIN, vue le 02/03/2024.";
    let p = pseudonymize(&shield, notes, "bench", &vault).unwrap();
    // An answer that mentions the surrogates now and then, cut in tokens of ~4 characters.
    let sentence = format!(
        "La patiente {} est revue en consultation ; l'évolution est favorable sous traitement. ",
        p.text
    );
    let chars: Vec<char> = sentence.chars().cycle().take(4 * 4000).collect();
    let all: Vec<String> = chars.chunks(4).map(|c| c.iter().collect()).collect();
    println!(
        "streaming re-identification, per token (hold-back {STREAM_HOLD_BACK} characters), median of 5"
    );
    println!(
        "{:>7} {:>16} {:>16} {:>9}",
        "tokens", "previous µs/tok", "cursor µs/tok", "speed-up"
    );
    for n in [200usize, 500, 1000, 2000, 4000] {
        let tokens = &all[..n];
        let whole = reidentify_with_dates(&shield, &tokens.concat(), "bench", &vault).unwrap();
        let mut old_t = vec![];
        let mut new_t = vec![];
        for run in 0..5 {
            // The previous way is quadratic: time it fully up to 2,000 tokens only.
            if n <= 2000 || run == 0 {
                let t = Instant::now();
                let o = old_stream(&shield, &vault, "bench", tokens);
                old_t.push(t.elapsed().as_secs_f64() * 1e6 / n as f64);
                assert_eq!(o, whole);
            }
            let t = Instant::now();
            let o = new_stream(&shield, &vault, "bench", tokens);
            new_t.push(t.elapsed().as_secs_f64() * 1e6 / n as f64);
            assert_eq!(o, whole, "the cursor changes nothing in the result");
        }
        let (o, c) = (median(old_t), median(new_t));
        println!("{n:>7} {o:>16.1} {c:>16.1} {:>8.1}x", o / c);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
