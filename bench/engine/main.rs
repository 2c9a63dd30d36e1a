//! Measures prompt processing (pp) and generation (tg) throughput of
//! siagen-engine in-process, in the spirit of llama.cpp's `llama-bench`
//! (pp512 / tg128), and prints medians; optionally side by side with
//! llama.cpp's own `llama-bench` and `llama-server` on the same GGUF file and
//! thread count (see `bench/engine/README.md` and `compare.sh`).
//!
//! Without `--model`, it writes a random-weight model of a realistic shape
//! (Qwen2.5-0.5B or 1.5B dimensions in a llama graph) with the crate's GGUF
//! writer (Q4_K_M through llama.cpp's quantiser), so it runs offline. Usage:
//!
//! ```text
//! engine-bench [--model FILE.gguf] [--shape 0.5b|1.5b] [--dtype q8_0|q4_k_m|f16|f32]
//!              [--threads N] [--pp 512] [--tg 128] [--reps 3] [--concurrent 4]
//!              [--siagen BIN] [--llama-bench BIN] [--llama-server BIN]
//!              [--http-prompt 64] [--http-tg 128] [--streams 8] [--stream-tg 64] [--http-reps 3]
//!              [--prepare]
//! ```
//!
//! `--model` names a file that is written first when missing, so that a peer
//! engine can load the same weights (`--prepare` only writes it). `--concurrent N` (0 to skip) measures the
//! aggregate generation rate of N simultaneous in-process requests, one at a
//! time (`parallel = 1`) and with continuous batching (`parallel = N`).
//!
//! Given `--siagen` (the release `siagen` binary) and/or the llama.cpp tools,
//! it runs the comparison instead: in-process pp/tg against `llama-bench`,
//! streamed `/v1/completions` decode speed over HTTP (one stream) and the
//! aggregate rate of `--streams` concurrent streams against `llama-server`
//! with as many slots, repetitions interleaved (siagen, llama.cpp, then the
//! other order) so that background load affects both alike; and the
//! memory-bandwidth bound of decoding.

mod constrained;
mod http;
mod membw;
mod models;

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use siagen_engine::{Engine, EngineConfig, GenerateRequest, SamplingParams};

use http::{BoxError, ServeOpts, ServerProc, StreamTimings};
use models::{Quant, Shape};

struct Args {
    model: Option<PathBuf>,
    shape: Shape,
    quant: Quant,
    threads: usize,
    pp: usize,
    tg: u32,
    reps: usize,
    concurrent: usize,
    siagen: Option<PathBuf>,
    llama_bench: Option<PathBuf>,
    llama_server: Option<PathBuf>,
    http_prompt: usize,
    http_tg: u32,
    streams: usize,
    stream_tg: u32,
    http_reps: usize,
    /// Only write the model file (`--prepare`).
    prepare: bool,
    /// Measure grammar-constrained decoding against this JSON Schema instead.
    json_schema: Option<PathBuf>,
}

const USAGE: &str = "engine-bench [--model F] [--shape 0.5b|1.5b] [--dtype q8_0|q4_k_m|f16|f32] [--threads N] [--pp N] [--tg N] [--reps N] [--concurrent N] [--siagen BIN] [--llama-bench BIN] [--llama-server BIN] [--http-prompt N] [--http-tg N] [--streams N] [--stream-tg N] [--http-reps N] [--prepare] [--json-schema FILE]";

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        model: None,
        shape: Shape::Qwen05b,
        quant: Quant::Q8_0,
        threads: 0,
        pp: 512,
        tg: 128,
        reps: 3,
        concurrent: 4,
        siagen: None,
        llama_bench: None,
        llama_server: None,
        http_prompt: 64,
        http_tg: 128,
        streams: 8,
        stream_tg: 64,
        http_reps: 3,
        prepare: false,
        json_schema: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        fn num<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
            v.parse()
                .map_err(|_| format!("{flag} takes a number, not '{v}'"))
        }
        match flag.as_str() {
            "--model" => a.model = Some(PathBuf::from(val()?)),
            "--shape" => a.shape = Shape::parse(&val()?)?,
            "--dtype" => a.quant = Quant::parse(&val()?)?,
            "--threads" => a.threads = num(&flag, val()?)?,
            "--pp" => a.pp = num(&flag, val()?)?,
            "--tg" => a.tg = num(&flag, val()?)?,
            "--reps" => a.reps = num(&flag, val()?)?,
            "--concurrent" => a.concurrent = num(&flag, val()?)?,
            "--siagen" => a.siagen = Some(PathBuf::from(val()?)),
            "--llama-bench" => a.llama_bench = Some(PathBuf::from(val()?)),
            "--llama-server" => a.llama_server = Some(PathBuf::from(val()?)),
            "--http-prompt" => a.http_prompt = num(&flag, val()?)?,
            "--http-tg" => a.http_tg = num(&flag, val()?)?,
            "--streams" => a.streams = num(&flag, val()?)?,
            "--stream-tg" => a.stream_tg = num(&flag, val()?)?,
            "--http-reps" => a.http_reps = num(&flag, val()?)?,
            "--prepare" => a.prepare = true,
            "--json-schema" => a.json_schema = Some(PathBuf::from(val()?)),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if a.reps == 0 || a.http_reps == 0 || a.tg < 2 || a.http_tg < 2 || a.stream_tg < 2 {
        return Err("--reps and --http-reps must be >= 1, token counts >= 2".into());
    }
    if a.threads == 0 {
        a.threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    }
    Ok(a)
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// siagen's in-process engine on the bench model, with a prompt of `pp` tokens.
struct InProcess {
    engine: Engine,
    name: String,
    prompt: String,
    tg: u32,
}

/// One repetition of the in-process measurements.
struct InProcessRep {
    pp: f64,
    tg_greedy: f64,
    tg_sampled: f64,
}

impl InProcess {
    fn new(model: &std::path::Path, threads: usize, pp: usize, tg: u32) -> Result<Self, BoxError> {
        let models_dir = model.parent().map(PathBuf::from).unwrap_or_default();
        let name = http::model_name(model)?;
        let engine = Engine::new(EngineConfig {
            models_dir,
            threads,
            max_context: pp + tg as usize + 64,
            ..EngineConfig::default()
        })?;
        let t = Instant::now();
        engine.load(&name)?;
        eprintln!("loaded {} in {:.2} s", name, t.elapsed().as_secs_f64());
        let prompt = make_prompt(&engine, &name, "", pp)?;
        // Warm-up (first touch of the mapped weights).
        engine.generate_blocking(GenerateRequest::new(
            &name,
            "warm up",
            SamplingParams {
                max_tokens: Some(4),
                ignore_eos: true,
                ..SamplingParams::greedy()
            },
        ))?;
        Ok(Self {
            engine,
            name,
            prompt,
            tg,
        })
    }

    fn rep(&self) -> Result<InProcessRep, BoxError> {
        let greedy = SamplingParams::greedy();
        let g = self.engine.generate_blocking(GenerateRequest::new(
            &self.name,
            self.prompt.clone(),
            SamplingParams {
                max_tokens: Some(1),
                ..greedy.clone()
            },
        ))?;
        let pp = g.done.usage.prompt_tokens as f64 / g.done.timings.prompt_secs;
        let tg = |params: SamplingParams| -> Result<f64, BoxError> {
            let g = self.engine.generate_blocking(GenerateRequest::new(
                &self.name,
                "Bonjour",
                SamplingParams {
                    max_tokens: Some(self.tg),
                    ignore_eos: true,
                    ..params
                },
            ))?;
            // The first token comes from prompt processing; the others from decoding.
            Ok((g.done.usage.completion_tokens.saturating_sub(1)) as f64
                / g.done.timings.generation_secs)
        };
        Ok(InProcessRep {
            pp,
            tg_greedy: tg(greedy.clone())?,
            tg_sampled: tg(SamplingParams {
                seed: Some(1),
                ..SamplingParams::default()
            })?,
        })
    }
}

/// A prompt of exactly `n` tokens (or the first length past it) starting with `tag`.
fn make_prompt(engine: &Engine, name: &str, tag: &str, n: usize) -> Result<String, BoxError> {
    let mut prompt = tag.to_string();
    while engine.tokenize(name, &prompt)?.len() < n {
        prompt.push_str(" ab");
    }
    Ok(prompt)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("engine-bench: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), BoxError> {
    let args = parse_args()?;
    let dir = tempfile::tempdir()?;
    let model = match &args.model {
        Some(p) => p.clone(),
        None => dir.path().join(models::file_name(args.shape, args.quant)),
    };
    models::ensure(&model, args.shape, args.quant, args.threads)?;
    if args.prepare {
        return Ok(());
    }
    if let Some(schema) = &args.json_schema {
        return constrained::run(&model, args.threads, schema, args.tg, args.reps);
    }
    if args.siagen.is_some() || args.llama_bench.is_some() || args.llama_server.is_some() {
        return compare(&args, &model);
    }

    let ip = InProcess::new(&model, args.threads, args.pp, args.tg)?;
    let info = ip.engine.model_info(&ip.name)?;
    let (mut pp, mut tg, mut tgs) = (vec![], vec![], vec![]);
    for rep in 0..args.reps {
        let r = ip.rep()?;
        eprintln!(
            "rep {}: pp {:.1} t/s, tg greedy {:.1} t/s, tg sampled {:.1} t/s",
            rep + 1,
            r.pp,
            r.tg_greedy,
            r.tg_sampled
        );
        pp.push(r.pp);
        tg.push(r.tg_greedy);
        tgs.push(r.tg_sampled);
    }
    println!(
        "model: {} ({}, {} params, {}, {} MB), threads: {}, reps: {}",
        ip.name,
        info.architecture,
        info.parameters,
        info.quantization,
        info.size_bytes / 1_000_000,
        ip.engine.config().threads,
        args.reps
    );
    println!("pp{}: {:.1} tokens/s (median)", args.pp, median(pp));
    println!("tg{} greedy: {:.1} tokens/s (median)", args.tg, median(tg));
    println!(
        "tg{} sampled (top-k 40, top-p 0.95, min-p 0.05, T 0.8): {:.1} tokens/s (median)",
        args.tg,
        median(tgs)
    );
    if args.concurrent > 1 {
        let config = ip.engine.config().clone();
        drop(ip);
        let name = http::model_name(&model)?;
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

/// `llama-bench -p PP -n TG -t T -r 1 -o json` → (pp t/s, tg t/s).
fn llama_bench_rep(
    bin: &std::path::Path,
    a: &Args,
    model: &std::path::Path,
) -> Result<(f64, f64), BoxError> {
    let out = Command::new(bin)
        .arg("-m")
        .arg(model)
        .args(["-p", &a.pp.to_string(), "-n", &a.tg.to_string()])
        .args(["-t", &a.threads.to_string(), "-r", "1", "-o", "json"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!(
            "llama-bench failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let v: Value = serde_json::from_slice(&out.stdout)?;
    let rate = |want_gen: bool| -> Result<f64, BoxError> {
        v.as_array()
            .into_iter()
            .flatten()
            .find(|t| (t["n_gen"].as_u64().unwrap_or(0) > 0) == want_gen)
            .and_then(|t| t["avg_ts"].as_f64())
            .ok_or_else(|| "llama-bench output without avg_ts".into())
    };
    Ok((rate(false)?, rate(true)?))
}

/// Which server a request goes to (their request bodies differ slightly).
#[derive(Clone, Copy, PartialEq)]
enum Peer {
    Siagen,
    Llama,
}

/// The same sampled completion for both servers. End-of-generation tokens are
/// banned through `logit_bias` (both APIs) so that exactly `max_tokens` come
/// back; llama-server also gets its own `ignore_eos`.
fn completion_body(
    peer: Peer,
    model: &str,
    prompt: &str,
    max_tokens: u32,
    seed: u64,
    eog: &[u32],
) -> Value {
    let bias: serde_json::Map<String, Value> =
        eog.iter().map(|id| (id.to_string(), json!(-100))).collect();
    let mut b = json!({
        "model": model, "prompt": prompt, "max_tokens": max_tokens,
        "temperature": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "seed": seed,
        "logit_bias": bias, "stream": true, "stream_options": {"include_usage": true},
    });
    if peer == Peer::Llama {
        b["ignore_eos"] = json!(true);
    }
    b
}

/// Per-server, per-phase figures collected over the repetitions.
#[derive(Default)]
struct Side {
    pp: Vec<f64>,
    tg: Vec<f64>,
    tg_sampled: Vec<f64>,
    http_decode: Vec<f64>,
    http_ttft_ms: Vec<f64>,
    streams_agg: Vec<f64>,
    streams_last_ttft_ms: Vec<f64>,
}

/// Runs `n` concurrent streams: (aggregate tokens/s over wall time from the first send to the
/// last token, milliseconds from the first send to the last stream's first token).
fn concurrent_streams(server: &ServerProc, bodies: Vec<Value>) -> Result<(f64, f64), BoxError> {
    let results: Vec<Result<StreamTimings, String>> = std::thread::scope(|s| {
        let hs: Vec<_> = bodies
            .iter()
            .map(|b| s.spawn(move || http::stream_completion(server, b).map_err(|e| e.to_string())))
            .collect();
        hs.into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("stream thread panicked".into()))
            })
            .collect()
    });
    let results: Vec<StreamTimings> = results.into_iter().collect::<Result<_, _>>()?;
    let start = results.iter().map(|r| r.sent).min().ok_or("no stream")?;
    let end = results
        .iter()
        .map(|r| r.last_token)
        .max()
        .ok_or("no stream")?;
    let last_first = results
        .iter()
        .map(|r| r.first_token)
        .max()
        .ok_or("no stream")?;
    let tokens: usize = results.iter().map(|r| r.token_events).sum();
    Ok((
        tokens as f64 / (end - start).as_secs_f64(),
        (last_first - start).as_secs_f64() * 1e3,
    ))
}

fn compare(a: &Args, model: &std::path::Path) -> Result<(), BoxError> {
    let load_start = loadavg();
    let size = std::fs::metadata(model)?.len();
    let n_http = a.siagen.is_some() as usize + a.llama_server.is_some() as usize;
    let steps = 1
        + a.reps as u64 * (1 + a.llama_bench.is_some() as u64)
        + 2 * (a.http_reps * n_http) as u64;
    let pb = ProgressBar::new(steps);
    pb.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .map_err(|e| e.to_string())?
            .progress_chars("=> "),
    );
    pb.set_message("memory bandwidth");
    let bw = membw::measure(a.threads);
    pb.inc(1);

    let mut s = Side::default();
    let mut l = Side::default();
    let ip = InProcess::new(model, a.threads, a.pp, a.tg)?;
    let name = ip.name.clone();
    let n_vocab = ip.engine.vocab_size(&name)? as u32;
    // The writer's last three tokens: <|endoftext|>, <|im_start|>, <|im_end|>.
    let eog = [n_vocab - 3, n_vocab - 2, n_vocab - 1];
    for rep in 0..a.reps {
        for peer in order(rep) {
            match (peer, &a.llama_bench) {
                (Peer::Siagen, _) => {
                    pb.set_message(format!("in-process siagen, rep {}", rep + 1));
                    let r = ip.rep()?;
                    s.pp.push(r.pp);
                    s.tg.push(r.tg_greedy);
                    s.tg_sampled.push(r.tg_sampled);
                    pb.inc(1);
                }
                (Peer::Llama, Some(bin)) => {
                    pb.set_message(format!("llama-bench, rep {}", rep + 1));
                    let (pp, tg) = llama_bench_rep(bin, a, model)?;
                    l.pp.push(pp);
                    l.tg.push(tg);
                    pb.inc(1);
                }
                (Peer::Llama, None) => {}
            }
        }
    }
    // Unique prompts (per repetition and stream) so that no server can reuse a cached prefix.
    let mut prompts = Vec::new();
    for rep in 0..a.http_reps + 1 {
        let mut row = Vec::new();
        for i in 0..a.streams.max(1) {
            row.push(make_prompt(
                &ip.engine,
                &name,
                &format!("r{rep} s{i}:"),
                a.http_prompt,
            )?);
        }
        prompts.push(row);
    }
    let prompt_tokens = ip.engine.tokenize(&name, &prompts[0][0])?.len();
    drop(ip);

    let ctx = a.http_prompt + a.http_tg.max(a.stream_tg) as usize + 64;
    let servers = |parallel: usize| -> Result<Vec<(Peer, ServerProc)>, BoxError> {
        let o = ServeOpts {
            model,
            threads: a.threads,
            parallel,
            ctx,
        };
        let mut v = Vec::new();
        if let Some(bin) = &a.siagen {
            v.push((Peer::Siagen, http::start_siagen(bin, &o)?));
        }
        if let Some(bin) = &a.llama_server {
            let log =
                std::env::temp_dir().join(format!("engine-bench-llama-server-{parallel}.log"));
            v.push((Peer::Llama, http::start_llama_server(bin, &o, log)?));
        }
        // Warm-up: loads the model (siagen loads lazily) and touches the weights.
        for (peer, srv) in &v {
            let b = completion_body(*peer, &srv.model, &prompts[a.http_reps][0], 4, 0, &eog);
            http::stream_completion(srv, &b)?;
        }
        Ok(v)
    };
    if n_http > 0 {
        pb.set_message("starting servers (1 slot)");
        let v = servers(1)?;
        for (rep, row) in prompts.iter().enumerate().take(a.http_reps) {
            for peer in order(rep) {
                let Some((_, srv)) = v.iter().find(|(p, _)| *p == peer) else {
                    continue;
                };
                pb.set_message(format!("HTTP 1 stream, rep {}", rep + 1));
                let b = completion_body(peer, &srv.model, &row[0], a.http_tg, rep as u64, &eog);
                let t = http::stream_completion(srv, &b)?;
                if t.completion_tokens
                    .is_some_and(|n| n != u64::from(a.http_tg))
                {
                    pb.println(format!(
                        "warning: {:?} tokens instead of {}",
                        t.completion_tokens, a.http_tg
                    ));
                }
                let side = if peer == Peer::Siagen { &mut s } else { &mut l };
                side.http_decode.push(t.decode_rate());
                side.http_ttft_ms
                    .push((t.first_token - t.sent).as_secs_f64() * 1e3);
                pb.inc(1);
            }
        }
        drop(v);
        pb.set_message(format!("starting servers ({} slots)", a.streams));
        let v = servers(a.streams)?;
        for (rep, row) in prompts.iter().enumerate().take(a.http_reps) {
            for peer in order(rep) {
                let Some((_, srv)) = v.iter().find(|(p, _)| *p == peer) else {
                    continue;
                };
                pb.set_message(format!("HTTP {} streams, rep {}", a.streams, rep + 1));
                let bodies = (0..a.streams)
                    .map(|i| {
                        completion_body(
                            peer,
                            &srv.model,
                            &row[i],
                            a.stream_tg,
                            (rep * 100 + i) as u64,
                            &eog,
                        )
                    })
                    .collect();
                let (agg, last_ttft) = concurrent_streams(srv, bodies)?;
                let side = if peer == Peer::Siagen { &mut s } else { &mut l };
                side.streams_agg.push(agg);
                side.streams_last_ttft_ms.push(last_ttft);
                pb.inc(1);
            }
        }
    }
    pb.finish_and_clear();

    // Report.
    let cfg = a.shape.config(siagen_engine::gguf::GgmlType::F16);
    let n_embd_kv = cfg.n_embd / cfg.n_head * cfg.n_head_kv;
    // F16 K and V of every layer, at the average position of a tg run from a short prompt.
    let kv_bytes = (cfg.n_layer * 2 * n_embd_kv * 2) as f64 * f64::from(a.tg) / 2.0;
    let bytes_per_token = size as f64 + kv_bytes;
    println!(
        "model: {} ({} shape in a llama graph, {}, {:.0} MB), threads: {}, reps: {} (HTTP {}), load average {} -> {}",
        name,
        a.shape.label(),
        a.quant.label(),
        size as f64 / 1e6,
        a.threads,
        a.reps,
        a.http_reps,
        load_start,
        loadavg()
    );
    println!();
    println!("| test | siagen | llama.cpp | ratio | target |");
    println!("|---|---:|---:|---:|---:|");
    let mut samples = Vec::new();
    let mut row = |test: &str, sv: &[f64], lv: &[f64], target: &str| {
        let fmt = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.1}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        samples.push(format!(
            "{test}: siagen [{}], llama.cpp [{}]",
            fmt(sv),
            fmt(lv)
        ));
        let (m_s, m_l) = (median(sv.to_vec()), median(lv.to_vec()));
        let f = |x: f64| {
            if x.is_nan() {
                "-".to_string()
            } else {
                format!("{x:.1}")
            }
        };
        let ratio = if m_s.is_nan() || m_l.is_nan() {
            "-".to_string()
        } else {
            format!("{:.2}", m_s / m_l)
        };
        println!("| {test} | {} | {} | {ratio} | {target} |", f(m_s), f(m_l));
    };
    row(&format!("pp{} in-process (t/s)", a.pp), &s.pp, &l.pp, "");
    row(
        &format!("tg{} in-process, greedy (t/s)", a.tg),
        &s.tg,
        &l.tg,
        ">= 0.95",
    );
    row(
        &format!("tg{} in-process, sampled (t/s)", a.tg),
        &s.tg_sampled,
        &l.tg,
        "",
    );
    if n_http > 0 {
        row(
            &format!(
                "HTTP 1 stream, prompt {prompt_tokens}, decode of {} (t/s)",
                a.http_tg
            ),
            &s.http_decode,
            &l.http_decode,
            ">= 0.90",
        );
        row(
            "HTTP 1 stream, time to first token (ms)",
            &s.http_ttft_ms,
            &l.http_ttft_ms,
            "",
        );
        row(
            &format!(
                "HTTP {} streams x {} tokens, aggregate (t/s)",
                a.streams, a.stream_tg
            ),
            &s.streams_agg,
            &l.streams_agg,
            ">= 1.00",
        );
        row(
            &format!(
                "HTTP {} streams, first token of the last one (ms)",
                a.streams
            ),
            &s.streams_last_ttft_ms,
            &l.streams_last_ttft_ms,
            "",
        );
    }
    println!();
    println!("samples, in run order:");
    for line in samples {
        println!("- {line}");
    }
    println!();
    println!(
        "memory bandwidth ({} threads, STREAM-like): read {:.1} GB/s, triad {:.1} GB/s",
        a.threads, bw.read_gbs, bw.triad_gbs
    );
    println!(
        "bytes read per generated token ~ {:.0} MB (weights {:.0} MB + KV cache {:.1} MB at the mean position)",
        bytes_per_token / 1e6,
        size as f64 / 1e6,
        kv_bytes / 1e6
    );
    for (who, tg) in [("siagen", &s.tg), ("llama.cpp", &l.tg)] {
        let t = median(tg.to_vec());
        if !t.is_nan() {
            let gbs = t * bytes_per_token / 1e9;
            println!(
                "{who} tg{}: {t:.1} t/s x {:.0} MB = {gbs:.1} GB/s = {:.0}% of measured read bandwidth (bound: {:.1} t/s)",
                a.tg,
                bytes_per_token / 1e6,
                100.0 * gbs / bw.read_gbs,
                bw.read_gbs * 1e9 / bytes_per_token
            );
        }
    }
    Ok(())
}

/// siagen first on even repetitions, llama.cpp first on odd ones.
fn order(rep: usize) -> [Peer; 2] {
    if rep.is_multiple_of(2) {
        [Peer::Siagen, Peer::Llama]
    } else {
        [Peer::Llama, Peer::Siagen]
    }
}
