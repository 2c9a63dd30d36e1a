//! Writes small, real GGUF models (llama, qwen2, qwen3, gemma2 or phi3
//! architecture, byte-level BPE tokenizer, the family's chat template, random
//! weights) so that tests and benchmarks exercise the real llama.cpp loading
//! and inference code without any network access or downloaded weights.
//!
//! Tensor names, shapes and hyper-parameters follow the vendored llama.cpp's
//! `load_arch_tensors`/`load_arch_hparams` (`src/models/<arch>.cpp`), so a
//! file written here is loaded exactly as a converted checkpoint would be.

use std::io;
use std::path::Path;

use crate::gguf::{GgmlType, GgufWriter, MetaValue, TensorSource, TensorSpec};

/// ChatML, the fallback template and the one written into test models.
pub const CHATML_TEMPLATE: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/// Gemma's template (from the Gemma 2 instruct models): no system role,
/// `assistant` is called `model`, and the conversation opens with `<bos>`.
pub const GEMMA_TEMPLATE: &str = "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}";

/// Phi-3's template (from Phi-3-mini-instruct).
pub const PHI3_TEMPLATE: &str = "{% for message in messages %}{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}";

/// GGUF architectures the writer knows, each with the tensors and metadata
/// the vendored llama.cpp requires for it. Mistral (and BioMistral) models
/// are `llama` in GGUF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arch {
    /// Plain llama: separate q/k/v, SwiGLU FFN.
    Llama,
    /// Llama plus q/k/v biases (Qwen2, Qwen2.5).
    Qwen2,
    /// Llama plus per-head RMS norms on q and k (`attn_q_norm`/`attn_k_norm`), no biases.
    Qwen3,
    /// Gemma 2: tied embeddings, post-attention and post-FFN norms,
    /// logit soft-capping, alternating sliding-window attention.
    Gemma2,
    /// Phi-3: fused `attn_qkv`, `ffn_up` holding gate and up (no `ffn_gate`).
    Phi3,
}

impl Arch {
    /// Every architecture, in a stable order.
    pub const ALL: [Arch; 5] = [
        Arch::Llama,
        Arch::Qwen2,
        Arch::Qwen3,
        Arch::Gemma2,
        Arch::Phi3,
    ];

    /// `general.architecture` and the prefix of the architecture's metadata keys.
    pub fn gguf_name(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Qwen2 => "qwen2",
            Arch::Qwen3 => "qwen3",
            Arch::Gemma2 => "gemma2",
            Arch::Phi3 => "phi3",
        }
    }

    /// The family's chat template.
    pub fn chat_template(self) -> &'static str {
        match self {
            Arch::Llama | Arch::Qwen2 | Arch::Qwen3 => CHATML_TEMPLATE,
            Arch::Gemma2 => GEMMA_TEMPLATE,
            Arch::Phi3 => PHI3_TEMPLATE,
        }
    }

    /// Special tokens appended to the vocabulary, then the indexes in that
    /// list of (BOS, EOS, end-of-turn). Llama keeps [`SPECIAL_TOKENS`].
    fn special_tokens(self) -> (&'static [&'static str], [usize; 3]) {
        match self {
            Arch::Llama | Arch::Qwen2 | Arch::Qwen3 => (&SPECIAL_TOKENS, [0, 0, 2]),
            Arch::Gemma2 => (
                &[
                    "<pad>",
                    "<eos>",
                    "<bos>",
                    "<start_of_turn>",
                    "<end_of_turn>",
                ],
                [2, 1, 4],
            ),
            // Phi-3 keeps its llama (SentencePiece) specials, and llama.cpp
            // looks `<unk>`, `<s>`, `</s>` and `<|endoftext|>` up when loading
            // any model named `phi3`.
            Arch::Phi3 => (
                &[
                    "<unk>",
                    "<s>",
                    "</s>",
                    "<|endoftext|>",
                    "<|system|>",
                    "<|user|>",
                    "<|assistant|>",
                    "<|end|>",
                ],
                [1, 3, 7],
            ),
        }
    }

    /// `tokenizer.ggml.pre`: the family's pre-tokenizer where llama.cpp has one.
    fn pre_tokenizer(self) -> &'static str {
        match self {
            Arch::Qwen2 | Arch::Qwen3 => "qwen2",
            Arch::Llama | Arch::Gemma2 | Arch::Phi3 => "default",
        }
    }
}

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
    /// Trained context length written as `<arch>.context_length`.
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
    /// When set, writes `<arch>.pooling_type` (1 = mean) so the model is an embedding model.
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
    /// The default tiny shape for `arch`, named `tiny-<arch>`, with the
    /// family's chat template.
    pub fn for_arch(arch: Arch) -> Self {
        let name = format!("tiny-{}", arch.gguf_name());
        Self {
            source_url: Some(format!("https://example.org/siagen/{name}")),
            name,
            chat_template: Some(arch.chat_template().to_string()),
            // Gemma 2 always shares the output projection with the embeddings.
            tied_embeddings: arch == Arch::Gemma2,
            ..Self::default()
        }
    }

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

/// Special tokens appended after the byte tokens and merges (llama and Qwen
/// models; Gemma and Phi-3 have their own, see [`write_tiny_model`]).
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

fn build_vocab(pad_to: u64, specials: &[&str]) -> Vocab {
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
    while (tokens.len() + specials.len()) < pad_to as usize {
        // Filler tokens are unreachable by the merges; they only widen the vocabulary.
        tokens.push(format!("<filler_{filler}>"));
        types.push(1);
        filler += 1;
    }
    for s in specials {
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
    write_tiny_model(path, Arch::Llama, cfg)
}

/// Writes a tiny GGUF model of architecture `arch` to `path`.
///
/// The tokenizer is the byte-level BPE of [`write_tiny_llama`], ending with
/// the family's special tokens (ChatML for llama and Qwen, `<start_of_turn>`/
/// `<end_of_turn>` for Gemma, `<|user|>`/`<|end|>` for Phi-3). Gemma 2 always
/// ties its output projection to the embeddings, whatever
/// `cfg.tied_embeddings` says, as llama.cpp loads it. Returns the vocabulary size.
pub fn write_tiny_model(path: &Path, arch: Arch, cfg: &TinyConfig) -> io::Result<u64> {
    let (specials, [bos_i, eos_i, eot_i]) = arch.special_tokens();
    let vocab = build_vocab(cfg.vocab_size, specials);
    let n_vocab = vocab.tokens.len() as u64;
    let first_special = n_vocab - specials.len() as u64;
    let bos = first_special + bos_i as u64;
    let eos = first_special + eos_i as u64;
    let eot = first_special + eot_i as u64;
    let a = arch.gguf_name();
    let n_embd_head = cfg.n_embd / cfg.n_head;
    let n_embd_kv = n_embd_head * cfg.n_head_kv;
    let tied = cfg.tied_embeddings || arch == Arch::Gemma2;

    let mut w = GgufWriter::new();
    let s = |v: &str| MetaValue::String(v.to_string());
    w.set("general.architecture", s(a))
        .set("general.name", s(&cfg.name))
        .set("general.file_type", MetaValue::U32(cfg.dtype.file_type()))
        .set("general.quantization_version", MetaValue::U32(2))
        .set(
            &format!("{a}.context_length"),
            MetaValue::U32(cfg.context_length as u32),
        )
        .set(
            &format!("{a}.embedding_length"),
            MetaValue::U32(cfg.n_embd as u32),
        )
        .set(
            &format!("{a}.block_count"),
            MetaValue::U32(cfg.n_layer as u32),
        )
        .set(
            &format!("{a}.feed_forward_length"),
            MetaValue::U32(cfg.n_ff as u32),
        )
        .set(
            &format!("{a}.attention.head_count"),
            MetaValue::U32(cfg.n_head as u32),
        )
        .set(
            &format!("{a}.attention.head_count_kv"),
            MetaValue::U32(cfg.n_head_kv as u32),
        )
        .set(
            &format!("{a}.attention.layer_norm_rms_epsilon"),
            MetaValue::F32(1e-5),
        )
        .set(&format!("{a}.rope.freq_base"), MetaValue::F32(10_000.0))
        .set(&format!("{a}.vocab_size"), MetaValue::U32(n_vocab as u32))
        .set("tokenizer.ggml.model", s("gpt2"))
        .set("tokenizer.ggml.pre", s(arch.pre_tokenizer()))
        .set("tokenizer.ggml.tokens", strings(vocab.tokens))
        .set(
            "tokenizer.ggml.token_type",
            MetaValue::Array(vocab.types.into_iter().map(MetaValue::I32).collect()),
        )
        .set("tokenizer.ggml.merges", strings(vocab.merges))
        .set("tokenizer.ggml.bos_token_id", MetaValue::U32(bos as u32))
        .set("tokenizer.ggml.eos_token_id", MetaValue::U32(eos as u32))
        .set("tokenizer.ggml.eot_token_id", MetaValue::U32(eot as u32))
        .set(
            "tokenizer.ggml.padding_token_id",
            MetaValue::U32(if arch == Arch::Gemma2 {
                first_special as u32
            } else {
                eos as u32
            }),
        )
        .set("tokenizer.ggml.add_bos_token", MetaValue::Bool(false));
    match arch {
        Arch::Gemma2 => {
            // The values of the released Gemma 2 checkpoints (llama.cpp's defaults too).
            w.set(
                &format!("{a}.attention.sliding_window"),
                MetaValue::U32(4096),
            )
            .set(&format!("{a}.attn_logit_softcapping"), MetaValue::F32(50.0))
            .set(
                &format!("{a}.final_logit_softcapping"),
                MetaValue::F32(30.0),
            );
        }
        Arch::Phi3 => {
            w.set(
                &format!("{a}.rope.dimension_count"),
                MetaValue::U32(n_embd_head as u32),
            );
        }
        Arch::Llama | Arch::Qwen2 | Arch::Qwen3 => {}
    }
    if let Some(t) = &cfg.chat_template {
        w.set("tokenizer.chat_template", s(t));
    }
    if let Some(p) = cfg.pooling_type {
        w.set(&format!("{a}.pooling_type"), MetaValue::U32(p));
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
    let mut random = |name: String, dims: Vec<u64>, ggml_type: GgmlType, scale: f32| TensorSpec {
        name,
        dims,
        ggml_type,
        source: TensorSource::Random {
            seed: next_seed(),
            scale,
        },
    };
    let norm = |name: String, n: u64| TensorSpec {
        name,
        dims: vec![n],
        ggml_type: GgmlType::F32,
        source: TensorSource::Constant(1.0),
    };
    let in_scale = 1.0 / (cfg.n_embd as f32).sqrt() * 1.7;
    let ff_scale = 1.0 / (cfg.n_ff as f32).sqrt() * 1.7;
    let (e, ff, dt) = (cfg.n_embd, cfg.n_ff, cfg.dtype);
    // Gemma multiplies the embeddings by sqrt(n_embd) and reads its logits
    // through them (tied): embeddings at 1/sqrt(n_embd) keep the residual
    // stream at the other families' scale and the output distribution broad
    // (at 1.0 the model only ever repeats its last token).
    let embd_scale = match arch {
        Arch::Gemma2 => 1.0 / (e as f32).sqrt(),
        _ => 1.0,
    };
    let mut tensors = vec![random(
        "token_embd.weight".into(),
        vec![e, n_vocab],
        dt,
        embd_scale,
    )];
    for i in 0..cfg.n_layer {
        let b = |n: &str| format!("blk.{i}.{n}.weight");
        let bias = |n: &str| format!("blk.{i}.{n}.bias");
        tensors.push(norm(b("attn_norm"), e));
        if arch == Arch::Phi3 {
            tensors.push(random(
                b("attn_qkv"),
                vec![e, e + 2 * n_embd_kv],
                dt,
                in_scale,
            ));
        } else {
            tensors.push(random(b("attn_q"), vec![e, e], dt, in_scale));
            tensors.push(random(b("attn_k"), vec![e, n_embd_kv], dt, in_scale));
            tensors.push(random(b("attn_v"), vec![e, n_embd_kv], dt, in_scale));
        }
        if arch == Arch::Qwen2 {
            let f = GgmlType::F32;
            tensors.push(random(bias("attn_q"), vec![e], f, 0.1));
            tensors.push(random(bias("attn_k"), vec![n_embd_kv], f, 0.1));
            tensors.push(random(bias("attn_v"), vec![n_embd_kv], f, 0.1));
        }
        if arch == Arch::Qwen3 {
            tensors.push(norm(b("attn_q_norm"), n_embd_head));
            tensors.push(norm(b("attn_k_norm"), n_embd_head));
        }
        tensors.push(random(b("attn_output"), vec![e, e], dt, in_scale));
        if arch == Arch::Gemma2 {
            tensors.push(norm(b("post_attention_norm"), e));
        }
        tensors.push(norm(b("ffn_norm"), e));
        if arch == Arch::Phi3 {
            tensors.push(random(b("ffn_up"), vec![e, 2 * ff], dt, in_scale));
        } else {
            tensors.push(random(b("ffn_gate"), vec![e, ff], dt, in_scale));
            tensors.push(random(b("ffn_up"), vec![e, ff], dt, in_scale));
        }
        tensors.push(random(b("ffn_down"), vec![ff, e], dt, ff_scale));
        if arch == Arch::Gemma2 {
            tensors.push(norm(b("post_ffw_norm"), e));
        }
    }
    tensors.push(norm("output_norm.weight".into(), e));
    if !tied {
        tensors.push(random(
            "output.weight".into(),
            vec![e, n_vocab],
            dt,
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
