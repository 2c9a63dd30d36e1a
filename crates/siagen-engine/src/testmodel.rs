//! Writes small, real GGUF models (llama architecture, byte-level BPE
//! tokenizer, ChatML template, random weights) so that tests and benchmarks
//! exercise the real llama.cpp loading and inference code without any
//! network access or downloaded weights.

use std::io;
use std::path::Path;

use crate::gguf::{GgmlType, GgufWriter, MetaValue, TensorSource, TensorSpec};

/// ChatML, the fallback template and the one written into test models.
pub const CHATML_TEMPLATE: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/// Shape and metadata of a generated model.
#[derive(Debug, Clone)]
pub struct TinyConfig {
    /// `general.name`.
    pub name: String,
    pub n_embd: u64,
    pub n_layer: u64,
    pub n_head: u64,
    pub n_head_kv: u64,
    pub n_ff: u64,
    /// Trained context length written as `llama.context_length`.
    pub context_length: u64,
    /// Pad the vocabulary with filler tokens up to this size (0: no padding).
    /// Lets benchmarks reproduce a realistic vocabulary (and output layer) size.
    pub vocab_size: u64,
    /// Type of the matrices (norms stay F32).
    pub dtype: GgmlType,
    /// Seed of the random weights.
    pub seed: u64,
    /// Scale of the output projection: larger values give peakier distributions.
    pub output_scale: f32,
    /// `tokenizer.chat_template`; `None` writes a model without one.
    pub chat_template: Option<String>,
    /// When set, writes `llama.pooling_type` (1 = mean) so the model is an embedding model.
    pub pooling_type: Option<u32>,
    /// `general.license`.
    pub license: Option<String>,
    /// `general.source.url`.
    pub source_url: Option<String>,
    /// Share the output projection with the token embeddings (no `output.weight`).
    pub tied_embeddings: bool,
}

impl Default for TinyConfig {
    fn default() -> Self {
        Self {
            name: "tiny-llama".into(),
            n_embd: 64,
            n_layer: 2,
            n_head: 4,
            n_head_kv: 2,
            n_ff: 128,
            context_length: 256,
            vocab_size: 0,
            dtype: GgmlType::F32,
            seed: 42,
            output_scale: 0.5,
            chat_template: Some(CHATML_TEMPLATE.to_string()),
            pooling_type: None,
            license: Some("apache-2.0".into()),
            source_url: Some("https://example.org/siagen/tiny-llama".into()),
            tied_embeddings: false,
        }
    }
}

impl TinyConfig {
    /// A random model with the shape of Qwen2.5-0.5B (llama architecture,
    /// 24 layers, 896 wide, GQA 14/2, 4864 FFN, 151,936-token vocabulary,
    /// tied embeddings), for benchmarks.
    pub fn qwen25_05b_shape(dtype: GgmlType) -> Self {
        Self {
            name: "random-qwen2.5-0.5b-shape".into(),
            n_embd: 896,
            n_layer: 24,
            n_head: 14,
            n_head_kv: 2,
            n_ff: 4864,
            context_length: 4096,
            vocab_size: 151_936,
            dtype,
            seed: 7,
            output_scale: 0.05,
            tied_embeddings: true,
            ..Self::default()
        }
    }
}

/// Special tokens appended after the byte tokens and merges.
pub const SPECIAL_TOKENS: [&str; 3] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

/// Words whose left-to-right merges are added to the vocabulary, so that the
/// tokenizer is a real BPE with merges rather than only bytes.
const MERGE_WORDS: &[&str] = &[
    " the",
    " de",
    " le",
    " la",
    " les",
    " et",
    " patient",
    " médecin",
    " douleur",
    " and",
    " of",
    "ing",
    "tion",
    " Hello",
    " world",
    "Hello",
    " is",
    " un",
    " une",
    "ment",
];

/// GPT-2's reversible byte to printable-unicode mapping, as used by byte-level BPE.
fn byte_to_unicode() -> Vec<char> {
    let mut bs: Vec<u32> = (b'!' as u32..=b'~' as u32)
        .chain(0xA1..=0xAC)
        .chain(0xAE..=0xFF)
        .collect();
    let mut cs = bs.clone();
    let mut n = 0;
    for b in 0..256u32 {
        if !bs.contains(&b) {
            bs.push(b);
            cs.push(256 + n);
            n += 1;
        }
    }
    let mut table = vec!['\0'; 256];
    for (b, c) in bs.iter().zip(cs) {
        table[*b as usize] = char::from_u32(c).expect("valid mapping");
    }
    table
}

/// The generated vocabulary: token strings, token types and merges.
struct Vocab {
    tokens: Vec<String>,
    types: Vec<i32>,
    merges: Vec<String>,
}

fn build_vocab(pad_to: u64) -> Vocab {
    let table = byte_to_unicode();
    // Token id == byte value for the first 256 tokens.
    let mut tokens: Vec<String> = table.iter().map(|c| c.to_string()).collect();
    let mut types = vec![1i32; 256];
    let mut merges = Vec::new();
    for word in MERGE_WORDS {
        let chars: Vec<String> = word
            .bytes()
            .map(|b| table[b as usize].to_string())
            .collect();
        let mut cur = chars[0].clone();
        for next in &chars[1..] {
            let merged = format!("{cur}{next}");
            if !tokens.contains(&merged) {
                merges.push(format!("{cur} {next}"));
                tokens.push(merged.clone());
                types.push(1);
            }
            cur = merged;
        }
    }
    let mut filler = 0u64;
    while (tokens.len() + SPECIAL_TOKENS.len()) < pad_to as usize {
        // Filler tokens are unreachable by the merges; they only widen the vocabulary.
        tokens.push(format!("<filler_{filler}>"));
        types.push(1);
        filler += 1;
    }
    for s in SPECIAL_TOKENS {
        tokens.push(s.to_string());
        types.push(3);
    }
    Vocab {
        tokens,
        types,
        merges,
    }
}

fn strings(items: impl IntoIterator<Item = String>) -> MetaValue {
    MetaValue::Array(items.into_iter().map(MetaValue::String).collect())
}

/// Writes a tiny llama-architecture GGUF model to `path`.
///
/// The model has a byte-level BPE ("gpt2") tokenizer where token `i < 256` is
/// byte `i`, followed by a few merges and the ChatML special tokens
/// (`<|endoftext|>` is EOS, `<|im_end|>` is end-of-turn). Returns the vocabulary size.
pub fn write_tiny_llama(path: &Path, cfg: &TinyConfig) -> io::Result<u64> {
    let vocab = build_vocab(cfg.vocab_size);
    let n_vocab = vocab.tokens.len() as u64;
    let eos = n_vocab - 3;
    let im_end = n_vocab - 1;
    let arch = "llama";
    let n_embd_kv = cfg.n_embd / cfg.n_head * cfg.n_head_kv;

    let mut w = GgufWriter::new();
    let s = |v: &str| MetaValue::String(v.to_string());
    w.set("general.architecture", s(arch))
        .set("general.name", s(&cfg.name))
        .set("general.file_type", MetaValue::U32(cfg.dtype.file_type()))
        .set("general.quantization_version", MetaValue::U32(2))
        .set(
            &format!("{arch}.context_length"),
            MetaValue::U32(cfg.context_length as u32),
        )
        .set(
            &format!("{arch}.embedding_length"),
            MetaValue::U32(cfg.n_embd as u32),
        )
        .set(
            &format!("{arch}.block_count"),
            MetaValue::U32(cfg.n_layer as u32),
        )
        .set(
            &format!("{arch}.feed_forward_length"),
            MetaValue::U32(cfg.n_ff as u32),
        )
        .set(
            &format!("{arch}.attention.head_count"),
            MetaValue::U32(cfg.n_head as u32),
        )
        .set(
            &format!("{arch}.attention.head_count_kv"),
            MetaValue::U32(cfg.n_head_kv as u32),
        )
        .set(
            &format!("{arch}.attention.layer_norm_rms_epsilon"),
            MetaValue::F32(1e-5),
        )
        .set(&format!("{arch}.rope.freq_base"), MetaValue::F32(10_000.0))
        .set(
            &format!("{arch}.vocab_size"),
            MetaValue::U32(n_vocab as u32),
        )
        .set("tokenizer.ggml.model", s("gpt2"))
        .set("tokenizer.ggml.pre", s("default"))
        .set("tokenizer.ggml.tokens", strings(vocab.tokens))
        .set(
            "tokenizer.ggml.token_type",
            MetaValue::Array(vocab.types.into_iter().map(MetaValue::I32).collect()),
        )
        .set("tokenizer.ggml.merges", strings(vocab.merges))
        .set("tokenizer.ggml.bos_token_id", MetaValue::U32(eos as u32))
        .set("tokenizer.ggml.eos_token_id", MetaValue::U32(eos as u32))
        .set("tokenizer.ggml.eot_token_id", MetaValue::U32(im_end as u32))
        .set(
            "tokenizer.ggml.padding_token_id",
            MetaValue::U32(eos as u32),
        )
        .set("tokenizer.ggml.add_bos_token", MetaValue::Bool(false));
    if let Some(t) = &cfg.chat_template {
        w.set("tokenizer.chat_template", s(t));
    }
    if let Some(p) = cfg.pooling_type {
        w.set(&format!("{arch}.pooling_type"), MetaValue::U32(p));
    }
    if let Some(l) = &cfg.license {
        w.set("general.license", s(l));
    }
    if let Some(u) = &cfg.source_url {
        w.set("general.source.url", s(u));
    }

    let mut seed = cfg.seed.wrapping_mul(1000);
    let mut next_seed = || {
        seed += 1;
        seed
    };
    let mut matrix = |name: String, cols: u64, rows: u64, scale: f32| TensorSpec {
        name,
        dims: vec![cols, rows],
        ggml_type: cfg.dtype,
        source: TensorSource::Random {
            seed: next_seed(),
            scale,
        },
    };
    let norm = |name: String| TensorSpec {
        name,
        dims: vec![cfg.n_embd],
        ggml_type: GgmlType::F32,
        source: TensorSource::Constant(1.0),
    };
    let in_scale = 1.0 / (cfg.n_embd as f32).sqrt() * 1.7;
    let ff_scale = 1.0 / (cfg.n_ff as f32).sqrt() * 1.7;
    let mut tensors = vec![matrix("token_embd.weight".into(), cfg.n_embd, n_vocab, 1.0)];
    for i in 0..cfg.n_layer {
        let b = |n: &str| format!("blk.{i}.{n}.weight");
        tensors.push(norm(b("attn_norm")));
        tensors.push(matrix(b("attn_q"), cfg.n_embd, cfg.n_embd, in_scale));
        tensors.push(matrix(b("attn_k"), cfg.n_embd, n_embd_kv, in_scale));
        tensors.push(matrix(b("attn_v"), cfg.n_embd, n_embd_kv, in_scale));
        tensors.push(matrix(b("attn_output"), cfg.n_embd, cfg.n_embd, in_scale));
        tensors.push(norm(b("ffn_norm")));
        tensors.push(matrix(b("ffn_gate"), cfg.n_embd, cfg.n_ff, in_scale));
        tensors.push(matrix(b("ffn_up"), cfg.n_embd, cfg.n_ff, in_scale));
        tensors.push(matrix(b("ffn_down"), cfg.n_ff, cfg.n_embd, ff_scale));
    }
    tensors.push(norm("output_norm.weight".into()));
    if !cfg.tied_embeddings {
        tensors.push(matrix(
            "output.weight".into(),
            cfg.n_embd,
            n_vocab,
            cfg.output_scale,
        ));
    }
    for t in tensors {
        w.add_tensor(t);
    }
    w.write(path)?;
    Ok(n_vocab)
}

/// Writes a tiny embedding model (mean pooling) to `path`.
pub fn write_tiny_embedding_model(path: &Path) -> io::Result<u64> {
    write_tiny_llama(
        path,
        &TinyConfig {
            name: "tiny-embed".into(),
            pooling_type: Some(1),
            chat_template: None,
            ..TinyConfig::default()
        },
    )
}
