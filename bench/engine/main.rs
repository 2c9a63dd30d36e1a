//! Measures prompt processing (pp) and generation (tg) throughput of
//! siagen-engine in-process, in the spirit of llama.cpp's `llama-bench`
//! (pp512 / tg128), and prints medians.
//!
//! Without `--model`, it writes a random-weight model with the shape of
//! Qwen2.5-0.5B (llama architecture) with the crate's GGUF writer, so it runs
//! offline. Usage:
//!
//! ```text
//! engine-bench [--model FILE.gguf] [--dtype q8_0|f16|f32] [--threads N]
//!              [--pp 512] [--tg 128] [--reps 3] [--concurrent 4]
//! ```
//!
//! `--concurrent N` (0 to skip) also measures the aggregate generation rate
//! of N simultaneous requests, one at a time (`parallel = 1`) and with
//! continuous batching (`parallel = N`).
//!
//! ```text
//! ```

use std::path::PathBuf;
use std::time::Instant;

use siagen_engine::gguf::GgmlType;
use siagen_engine::testmodel::{write_tiny_llama, TinyConfig};
use siagen_engine::{Engine, EngineConfig, GenerateRequest, SamplingParams};

struct Args {
    model: Option<PathBuf>,
    dtype: GgmlType,
    threads: usize,
    pp: usize,
    tg: u32,
    reps: usize,
    concurrent: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        model: None,
        dtype: GgmlType::Q8_0,
        threads: 0,
        pp: 512,
        tg: 128,
        reps: 3,
        concurrent: 4,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--model" => a.model = Some(PathBuf::from(val()?)),
            "--dtype" => {
                a.dtype = match val()?.to_ascii_lowercase().as_str() {
                    "q8_0" => GgmlType::Q8_0,
                    "f16" => GgmlType::F16,
                    "f32" => GgmlType::F32,
                    other => return Err(format!("unknown dtype {other}")),
                }
            }
            "--threads" => a.threads = val()?.parse().map_err(|e| format!("{e}"))?,
            "--pp" => a.pp = val()?.parse().map_err(|e| format!("{e}"))?,
            "--tg" => a.tg = val()?.parse().map_err(|e| format!("{e}"))?,
            "--reps" => a.reps = val()?.parse().map_err(|e| format!("{e}"))?,
            "--concurrent" => a.concurrent = val()?.parse().map_err(|e| format!("{e}"))?,
            "-h" | "--help" => {
                return Err("engine-bench [--model F] [--dtype q8_0|f16|f32] [--threads N] [--pp N] [--tg N] [--reps N] [--concurrent N]".into())
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let dir = tempfile::tempdir()?;
    let (models_dir, name) = match &args.model {
        Some(path) => {
            // A missing file is written first, so that a peer engine can load the same weights.
            if !path.exists() {
                write_tiny_llama(path, &TinyConfig::qwen25_05b_shape(args.dtype))?;
                eprintln!(
                    "wrote random {:?} model with Qwen2.5-0.5B shape to {}",
                    args.dtype,
                    path.display()
                );
            }
            let parent = path.parent().map(PathBuf::from).unwrap_or_default();
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .ok_or("bad model file name")?
                .to_string();
            (parent, stem)
        }
        None => {
            let cfg = TinyConfig::qwen25_05b_shape(args.dtype);
            let path = dir.path().join("bench.gguf");
            let t = Instant::now();
            write_tiny_llama(&path, &cfg)?;
            eprintln!(
                "wrote random {:?} model with Qwen2.5-0.5B shape ({} MB) in {:.1} s",
                args.dtype,
                std::fs::metadata(&path)?.len() / 1_000_000,
                t.elapsed().as_secs_f64()
            );
            (dir.path().to_path_buf(), "bench".to_string())
        }
    };
    let config = EngineConfig {
        models_dir,
        threads: args.threads,
        max_context: args.pp + args.tg as usize + 64,
        ..EngineConfig::default()
    };
    let engine = Engine::new(config.clone())?;
    let info = engine.model_info(&name)?;
    let t = Instant::now();
    engine.load(&name)?;
    eprintln!("loaded {} in {:.2} s", name, t.elapsed().as_secs_f64());

    // A prompt of about `pp` tokens: grow text until the tokenizer agrees.
    let mut prompt = String::new();
    while engine.tokenize(&name, &prompt)?.len() < args.pp {
        prompt.push_str(" ab");
    }
    let greedy = SamplingParams::greedy();
    // Warm-up (first-touch of the mapped weights).
    engine.generate_blocking(GenerateRequest::new(
        &name,
        "warm up",
        SamplingParams {
            max_tokens: Some(4),
            ignore_eos: true,
            ..greedy.clone()
        },
    ))?;

    let mut pp_rates = Vec::new();
    let mut tg_rates = Vec::new();
    let mut tg_sampled_rates = Vec::new();
    for rep in 0..args.reps {
        let g = engine.generate_blocking(GenerateRequest::new(
            &name,
            prompt.clone(),
            SamplingParams {
                max_tokens: Some(1),
                ..greedy.clone()
            },
        ))?;
        pp_rates.push(g.done.usage.prompt_tokens as f64 / g.done.timings.prompt_secs);

        let tg = |params: SamplingParams| -> Result<f64, siagen_engine::EngineError> {
            let g = engine.generate_blocking(GenerateRequest::new(
                &name,
                "Bonjour",
                SamplingParams {
                    max_tokens: Some(args.tg),
                    ignore_eos: true,
                    ..params
                },
            ))?;
            // The first token comes from prompt processing; the others from decoding.
            Ok((g.done.usage.completion_tokens.saturating_sub(1)) as f64
                / g.done.timings.generation_secs)
        };
        tg_rates.push(tg(greedy.clone())?);
        tg_sampled_rates.push(tg(SamplingParams {
            seed: Some(1),
            ..SamplingParams::default()
        })?);
        eprintln!(
            "rep {}: pp {:.1} t/s, tg greedy {:.1} t/s, tg sampled {:.1} t/s",
            rep + 1,
            pp_rates[rep],
            tg_rates[rep],
            tg_sampled_rates[rep]
        );
    }
    println!(
        "model: {} ({}, {} params, {}, {} MB), threads: {}, reps: {}",
        name,
        info.architecture,
        info.parameters,
        info.quantization,
        info.size_bytes / 1_000_000,
        engine.config().threads,
        args.reps
    );
    println!("pp{}: {:.1} tokens/s (median)", args.pp, median(pp_rates));
    println!(
        "tg{} greedy: {:.1} tokens/s (median)",
        args.tg,
        median(tg_rates)
    );
    println!(
        "tg{} sampled (top-k 40, top-p 0.95, min-p 0.05, T 0.8): {:.1} tokens/s (median)",
        args.tg,
        median(tg_sampled_rates)
    );
    if args.concurrent > 1 {
        for parallel in [1, args.concurrent] {
            let e = Engine::new(EngineConfig {
                parallel,
                max_queue: args.concurrent,
                ..config.clone()
            })?;
            e.load(&name)?;
            let t = Instant::now();
            let handles: Vec<_> = (0..args.concurrent)
                .map(|i| {
                    let e = e.clone();
                    let name = name.clone();
                    let params = SamplingParams {
                        max_tokens: Some(args.tg),
                        ignore_eos: true,
                        seed: Some(i as u64),
                        ..SamplingParams::default()
                    };
                    std::thread::spawn(move || {
                        e.generate_blocking(GenerateRequest::new(&name, "Bonjour", params))
                            .map(|g| g.done.usage.completion_tokens)
                    })
                })
                .collect();
            let mut tokens = 0;
            for h in handles {
                tokens += h.join().map_err(|_| "bench thread panicked")??;
            }
            println!(
                "{} concurrent tg{} requests, parallel={}: {:.1} tokens/s aggregate",
                args.concurrent,
                args.tg,
                parallel,
                tokens as f64 / t.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}
