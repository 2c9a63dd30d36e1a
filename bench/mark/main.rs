//! Watermark evaluation (issue #8, part 5).
//!
//! Generates with the real engine (a tiny model written here, or `--model FILE.gguf`) under each
//! scheme through the server's own processors, then reports:
//! - true-positive rate at 1% and 0.1% false-positive rate (the detector's nominal p-value
//!   thresholds, Bonferroni over both schemes as deployed) for 50, 100 and 200 tokens, after
//!   0%, 10% and 20% random word edits (each edited word substituted, deleted or followed by an
//!   inserted word, the words drawn from human text);
//! - the measured false-positive rate on human French medical text (every distinct ANSM
//!   thesaurus description) and on unmarked generations;
//! - the quality cost: mean log-likelihood per token of each scheme's text under the unmarked
//!   model (observed before the marking processor runs), and the mean entropy;
//! - detector throughput in tokens/s.
//!
//! `cargo run --release -p siagen-mark-eval -- [--model FILE.gguf] [--n 60] [--tokens 200]
//!  [--output-scale 2.0] [--human ../shared/data/ansm-thesaurus/thesaurus-2020-01.json]`

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rand::{Rng, SeedableRng};
use siagen_app::mark::{GumbelMark, KgwMark};
use siagen_engine::{
    ChatMessage, Engine, EngineConfig, GenerateRequest, LogitsProcessor, SamplingParams,
    TokenContext,
};
use siagen_mark::detect::{detect, Scheme};

struct Args {
    model: Option<PathBuf>,
    n: usize,
    tokens: usize,
    output_scale: f32,
    human: PathBuf,
}

fn args() -> Args {
    let mut a = Args {
        model: None,
        n: 60,
        tokens: 200,
        output_scale: 2.0,
        human: PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/ansm-thesaurus/thesaurus-2020-01.json"
        )),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--model" => a.model = Some(v.into()),
            "--n" => a.n = v.parse().expect("--n N"),
            "--tokens" => a.tokens = v.parse().expect("--tokens N"),
            "--output-scale" => a.output_scale = v.parse().expect("--output-scale X"),
            "--human" => a.human = v.into(),
            o => panic!("unknown option {o}"),
        }
    }
    a
}

/// Records the log-likelihood of each chosen token under the unmarked model: runs first, sees
/// the logits before any marking processor, and learns the chosen token at the next step.
struct Observer {
    last: Option<Vec<f32>>,
    out: Arc<Mutex<Vec<f64>>>,
}

fn log_softmax(l: &[f32]) -> Vec<f32> {
    let m = l.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let s: f64 = l.iter().map(|&x| f64::from(x - m).exp()).sum();
    let lse = m + s.ln() as f32;
    l.iter().map(|&x| x - lse).collect()
}

impl LogitsProcessor for Observer {
    fn process(&mut self, ctx: &TokenContext<'_>, logits: &mut [f32]) {
        if let (Some(prev), Some(&t)) = (self.last.take(), ctx.generated.last()) {
            self.out.lock().unwrap().push(f64::from(prev[t as usize]));
        }
        self.last = Some(log_softmax(logits));
    }
}

struct Gen {
    ids: Vec<u32>,
    loglik: Vec<f64>,
}

fn main() {
    let a = args();
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    let (model, realistic) = match &a.model {
        Some(p) => {
            std::os::unix::fs::symlink(std::fs::canonicalize(p).unwrap(), models.join("eval.gguf"))
                .unwrap();
            ("eval".to_string(), true)
        }
        None => {
            siagen_engine::testmodel::write_tiny_llama(
                &models.join("eval-tiny.gguf"),
                &siagen_engine::testmodel::TinyConfig {
                    name: "eval-tiny".into(),
                    context_length: 1024,
                    output_scale: a.output_scale,
                    ..Default::default()
                },
            )
            .unwrap();
            ("eval-tiny".to_string(), false)
        }
    };
    let engine = Engine::new(EngineConfig {
        models_dir: models.clone(),
        ..Default::default()
    })
    .unwrap();
    let n_vocab = engine.vocab_size(&model).unwrap();
    // The tiny model's vocabulary is bytes: keep it to printable ASCII with frequent spaces so
    // that its text is words and decodes to the tokens generated (as in the tests).
    let logit_bias: Vec<(u32, f32)> = if realistic {
        Vec::new()
    } else {
        (0..32u32)
            .chain(127..n_vocab as u32)
            .map(|t| (t, f32::NEG_INFINITY))
            .chain([(32, 3.0)])
            .collect()
    };

    let human = human_texts(&a.human);
    let words: Vec<String> = human
        .iter()
        .flat_map(|t| t.split_whitespace().map(str::to_string))
        .collect();
    let key = [0x5au8; 32];
    let keys: [(&str, &[u8]); 1] = [("eval", &key)];
    let tokenizer = engine.text_tokenizer(&model).unwrap();

    println!(
        "model: {} ({}), {} generations of {} tokens per scheme, temperature 1, no truncation",
        model,
        if realistic {
            "given GGUF"
        } else {
            "tiny random model: no real instruct model is available offline"
        },
        a.n,
        a.tokens
    );
    let mut all_lens = Vec::new();
    let mut det_tokens = 0usize;
    let mut det_secs = 0.0f64;
    for scheme in [None, Some(Scheme::Gumbel), Some(Scheme::Kgw)] {
        let t0 = Instant::now();
        let gens: Vec<Gen> = (0..a.n)
            .map(|i| {
                let out = Arc::new(Mutex::new(Vec::new()));
                let prompt = engine
                    .chat_prompt(
                        &model,
                        &[ChatMessage::new(
                            "user",
                            format!(
                                "Rédigez une note clinique n°{i} : {}",
                                &words[i * 7 % words.len()]
                            ),
                        )],
                    )
                    .unwrap();
                let params = SamplingParams {
                    temperature: 1.0,
                    top_k: 0,
                    top_p: 1.0,
                    min_p: 0.0,
                    max_tokens: Some(a.tokens as u32),
                    ignore_eos: true,
                    logit_bias: logit_bias.clone(),
                    seed: Some(i as u64),
                    ..SamplingParams::default()
                };
                let mut req = GenerateRequest::new(model.clone(), prompt, params);
                req.processors.push(Box::new(Observer {
                    last: None,
                    out: out.clone(),
                }));
                match scheme {
                    Some(Scheme::Gumbel) => req.processors.push(Box::new(GumbelMark::new(key))),
                    Some(Scheme::Kgw) => req.processors.push(Box::new(KgwMark::new(key))),
                    None => {}
                }
                let g = engine.generate_blocking(req).unwrap();
                let ids: Vec<u32> = g.tokens.iter().map(|t| t.id).collect();
                let mut loglik = out.lock().unwrap().clone();
                drop(g);
                loglik.truncate(ids.len());
                Gen { ids, loglik }
            })
            .collect();
        let gen_secs = t0.elapsed().as_secs_f64();
        let ll: f64 = gens.iter().flat_map(|g| &g.loglik).sum::<f64>()
            / gens.iter().map(|g| g.loglik.len()).sum::<usize>().max(1) as f64;
        let name = scheme.map_or("none", Scheme::as_str);
        println!(
            "\n[{name}] generated in {gen_secs:.1}s; mean log-likelihood under the unmarked model {ll:.3} nats/token"
        );
        println!("  tokens  edits  TPR@1%FPR  TPR@0.1%FPR  (fraction with p <= 1e-2 / 1e-3)");
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);
        for len in [50usize, 100, 200].into_iter().filter(|&l| l <= a.tokens) {
            for edit in [0.0, 0.1, 0.2] {
                let (mut hit2, mut hit3) = (0, 0);
                for g in &gens {
                    let text = engine.detokenize(&model, &g.ids[..len]).unwrap();
                    let text = edit_words(&text, edit, &words, &mut rng);
                    let toks = tokenizer.tokenize(&text).unwrap();
                    let t = Instant::now();
                    let d = detect(&keys, &toks, 1e-2).unwrap();
                    det_secs += t.elapsed().as_secs_f64();
                    det_tokens += toks.len();
                    hit2 += usize::from(d.p_value <= 1e-2);
                    hit3 += usize::from(d.p_value <= 1e-3);
                    all_lens.push(toks.len());
                }
                let n = gens.len() as f64;
                println!(
                    "  {len:>6}  {:>4.0}%  {:>9.1}%  {:>11.1}%",
                    edit * 100.0,
                    100.0 * hit2 as f64 / n,
                    100.0 * hit3 as f64 / n
                );
            }
        }
    }

    // False positives on human text: every distinct thesaurus description of 50+ tokens.
    let (mut n, mut fp2, mut fp3, mut tok) = (0, 0, 0, 0);
    for t in &human {
        let toks = tokenizer.tokenize(t).unwrap();
        if toks.len() < 50 {
            continue;
        }
        let s = Instant::now();
        let d = detect(&keys, &toks, 1e-2).unwrap();
        det_secs += s.elapsed().as_secs_f64();
        det_tokens += toks.len();
        tok += toks.len();
        n += 1;
        fp2 += usize::from(d.p_value <= 1e-2);
        fp3 += usize::from(d.p_value <= 1e-3);
    }
    println!(
        "\nhuman French medical text (ANSM thesaurus descriptions, {n} texts of 50+ tokens, mean {} tokens): FPR {:.2}% at nominal 1%, {:.2}% at nominal 0.1%",
        tok / n.max(1),
        100.0 * fp2 as f64 / n as f64,
        100.0 * fp3 as f64 / n as f64
    );
    println!(
        "detector: {:.0} tokens/s (one key, both schemes, one thread)",
        det_tokens as f64 / det_secs
    );
}

fn human_texts(path: &PathBuf) -> Vec<String> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e} (--human FILE)", path.display()));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut seen = HashSet::new();
    v.as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["description"].as_str())
        .map(|s| s.trim().to_string())
        .filter(|s| seen.insert(s.clone()))
        .collect()
}

/// Edits a fraction `f` of the words: each edited word is substituted, deleted, or followed by
/// an inserted word, at random, the new words drawn from `words`.
fn edit_words(text: &str, f: f64, words: &[String], rng: &mut impl Rng) -> String {
    if f == 0.0 {
        return text.to_string();
    }
    let mut out: Vec<&str> = Vec::new();
    for w in text.split(' ') {
        if !rng.gen_bool(f) {
            out.push(w);
            continue;
        }
        let new = words[rng.gen_range(0..words.len())].as_str();
        match rng.gen_range(0..3) {
            0 => out.push(new),
            1 => {}
            _ => {
                out.push(w);
                out.push(new);
            }
        }
    }
    out.join(" ")
}
