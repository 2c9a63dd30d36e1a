//! Prints the evaluation table of the shield on a JSON-lines corpus.
//! Usage: shield-eval [CORPUS.jsonl] [--errors]

use std::fs::File;
use std::io::BufReader;
use std::time::Instant;

use siagen_shield::eval::{evaluate, load_corpus, token_diff};
use siagen_shield::Shield;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .iter()
        .find(|a| !a.starts_with("--") && a.ends_with(".jsonl"))
        .cloned()
        .unwrap_or_else(|| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dev_corpus.jsonl").to_string()
        });
    let show_errors = args.iter().any(|a| a == "--errors");
    let t = Instant::now();
    let shield = Shield::new()?;
    println!("Shield::new: {:.1} ms", t.elapsed().as_secs_f64() * 1000.0);
    if let Some(pos) = args.iter().position(|a| a == "--text") {
        let text = args.get(pos + 1).cloned().unwrap_or_default();
        let chars: Vec<char> = text.chars().collect();
        for sp in shield.detect(&text) {
            let s: String = chars[sp.start..sp.end].iter().collect();
            println!("{:<15} {}", sp.label.as_str(), s);
        }
        return Ok(());
    }
    let docs = load_corpus(BufReader::new(File::open(&path)?))?;
    if show_errors {
        for d in &docs {
            let pred = shield.detect(&d.text);
            let chars: Vec<char> = d.text.chars().collect();
            let toks = siagen_shield::eval::tokens(&d.text);
            for ((tok, g, p), (ts, _)) in token_diff(d, &pred).into_iter().zip(toks) {
                if g != p {
                    let ctx: String = chars[ts.saturating_sub(30)..(ts + 40).min(chars.len())]
                        .iter()
                        .collect::<String>()
                        .replace('\n', "⏎");
                    println!(
                        "{} {:<12} gold={:<14} pred={:<14} | {}",
                        d.id,
                        tok,
                        g.map_or("-", |l| l.as_str()),
                        p.map_or("-", |l| l.as_str()),
                        ctx
                    );
                }
            }
        }
    }
    let report = evaluate(&shield, &docs);
    println!("{report}");
    Ok(())
}
