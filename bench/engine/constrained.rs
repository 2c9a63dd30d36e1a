//! `--json-schema FILE`: what grammar-constrained decoding costs. Generation
//! rate (tokens/s) with the same sampling parameters and seeds, without and
//! with `response_format`-style JSON Schema constraint, plus the one-off cost
//! of building the vocabulary trie.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use siagen_engine::{
    ChatMessage, Engine, EngineConfig, GenerateRequest, JsonSchema, LogitsProcessor,
    SamplingParams, TokenContext,
};

use crate::http::{self, BoxError};

fn params(seed: u64, tg: u32, ignore_eos: bool) -> SamplingParams {
    SamplingParams {
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
        min_p: 0.0,
        seed: Some(seed),
        max_tokens: Some(tg),
        ignore_eos,
        ..SamplingParams::default()
    }
}

/// Runs `reps` seeds unconstrained then constrained and prints the medians.
pub fn run(
    model: &Path,
    threads: usize,
    schema_file: &Path,
    tg: u32,
    reps: usize,
) -> Result<(), BoxError> {
    let raw: serde_json::Value = serde_json::from_slice(&std::fs::read(schema_file)?)?;
    let schema = Arc::new(JsonSchema::compile(&raw, true)?);
    let name = http::model_name(model)?;
    let engine = Engine::new(EngineConfig {
        models_dir: model.parent().map(Into::into).unwrap_or_default(),
        threads,
        max_context: tg as usize + 256,
        ..EngineConfig::default()
    })?;
    engine.load(&name)?;
    let prompt = engine.chat_prompt(&name, &[ChatMessage::new("user", "Triage en JSON.")])?;
    let t = Instant::now();
    engine.json_constraint(&name, schema.clone())?;
    let trie_secs = t.elapsed().as_secs_f64();
    let rate = |g: &siagen_engine::Generation| {
        g.done.usage.completion_tokens as f64 / g.done.timings.generation_secs
    };
    let bar = ProgressBar::new(2 * reps as u64).with_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("json-schema");
    let (mut free, mut constrained, mut lengths, mut valid) = (vec![], vec![], vec![], 0);
    let mut mask_ms = vec![];
    let n_vocab = engine.vocab_size(&name)?;
    for seed in 0..reps as u64 {
        let g = engine.generate_blocking(GenerateRequest::new(
            &name,
            prompt.clone(),
            params(seed, tg, true),
        ))?;
        free.push(rate(&g));
        bar.inc(1);
        let mut req = GenerateRequest::new(&name, prompt.clone(), params(seed, tg, false));
        req.processors
            .push(Box::new(engine.json_constraint(&name, schema.clone())?));
        let g = engine.generate_blocking(req)?;
        constrained.push(rate(&g));
        // The mask alone, replayed over the answer's prefixes: independent of the model's speed.
        let ids: Vec<_> = g.tokens.iter().map(|t| t.id).collect();
        let mut c = engine.json_constraint(&name, schema.clone())?;
        let mut logits = vec![0.0f32; n_vocab];
        for k in 0..ids.len() {
            let ctx = TokenContext {
                prompt: &[],
                generated: &ids[..k],
            };
            let t = Instant::now();
            c.process(&ctx, &mut logits);
            mask_ms.push(t.elapsed().as_secs_f64() * 1e3);
            logits.iter_mut().for_each(|l| *l = 0.0);
        }
        lengths.push(g.done.usage.completion_tokens as f64);
        if serde_json::from_str(&g.text)
            .ok()
            .is_some_and(|v| schema.validate(&v).is_ok())
        {
            valid += 1;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let (f, c) = (crate::median(free), crate::median(constrained));
    let info = engine.model_info(&name)?;
    println!(
        "model: {name} ({} params, {}, vocabulary trie built in {:.0} ms), threads: {}, seeds: {reps}",
        info.parameters,
        info.quantization,
        trie_secs * 1e3,
        engine.config().threads
    );
    println!("tg{tg} sampled, unconstrained: {f:.1} tokens/s (median)");
    println!(
        "json-schema constrained: {c:.1} tokens/s (median), {:.0} tokens per answer (median), {valid}/{reps} complete and valid",
        crate::median(lengths)
    );
    let n = mask_ms.len().max(1) as f64;
    let mean = mask_ms.iter().sum::<f64>() / n;
    let worst = mask_ms.iter().copied().fold(0.0, f64::max);
    println!(
        "mask alone: {:.3} ms per token (median), {mean:.3} mean, {worst:.3} worst, over {n} steps",
        crate::median(mask_ms)
    );
    Ok(())
}
