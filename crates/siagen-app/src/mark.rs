//! Watermarking as the workflows apply it: the engine's [`LogitsProcessor`] adapters over the
//! pure schemes of `siagen-mark`, the choice of scheme and key for each generation, and
//! detection of a mark in a text ([`detect`]).
//!
//! Which tokens carry the mark: only those whose whole context (the previous 4 tokens) was
//! generated, since a detector sees the text and never the prompt; and, for the Gumbel scheme,
//! only the first occurrence of each context. The first tokens are therefore drawn by the
//! request's own sampler, so a `seed` keeps its meaning (it decides the opening, which decides
//! the rest; same seed, same text) and two unseeded generations of the same prompt differ; a
//! repeated context is left to the sampler too, so that the deterministic Gumbel choice cannot
//! lock a generation into a loop. Greedy decoding (temperature 0) has no randomness to carry a
//! Gumbel mark; it is recorded as unmarked.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use serde_json::{json, Value};
use siagen_engine::{Candidate, LogitsProcessor, SamplingParams, TokenContext, TokenId};
use siagen_mark::detect::{Detection, Scheme};
use siagen_mark::key::{KeyRing, MarkError};
use siagen_mark::{gumbel, kgw};

use crate::{App, AppError, Result};

/// Longest text accepted for detection (characters).
const MAX_CHARS: usize = 500_000;

/// Marking settings (`mark_scheme`, `mark_off_models`, `mark_fpr`).
#[derive(Debug, Clone)]
pub struct MarkConfig {
    /// Scheme marking new generations; `None`: marking off.
    pub scheme: Option<Scheme>,
    /// Models whose generations are not marked.
    pub off_models: Vec<String>,
    /// False-positive rate of detection verdicts.
    pub fpr: f64,
}

impl Default for MarkConfig {
    fn default() -> Self {
        Self {
            scheme: Some(Scheme::Gumbel),
            off_models: Vec::new(),
            fpr: siagen_mark::detect::DEFAULT_FPR,
        }
    }
}

/// The watermark keys and settings, shared by every request. The key file is re-read when it
/// changes, so `siagen mark key rotate` takes effect without a restart.
pub struct MarkState {
    config: MarkConfig,
    path: PathBuf,
    ring: RwLock<(Option<SystemTime>, Arc<KeyRing>)>,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl MarkState {
    /// Opens (or creates on first use) the keys of `data_dir`.
    pub fn open(data_dir: &Path, config: MarkConfig) -> Result<MarkState, MarkError> {
        if !(config.fpr > 0.0 && config.fpr < 1.0) {
            return Err(MarkError::BadFpr(config.fpr));
        }
        let ring = KeyRing::open_or_create(data_dir)?;
        let path = ring.path().to_path_buf();
        Ok(MarkState {
            config,
            ring: RwLock::new((modified(&path), Arc::new(ring))),
            path,
        })
    }

    /// The settings.
    pub fn config(&self) -> &MarkConfig {
        &self.config
    }

    /// The current keys (re-read if the file changed; the old ones if it became unreadable).
    pub fn keys(&self) -> Arc<KeyRing> {
        let now = modified(&self.path);
        {
            let r = self.ring.read().unwrap_or_else(|e| e.into_inner());
            if r.0 == now {
                return r.1.clone();
            }
        }
        let mut w = self.ring.write().unwrap_or_else(|e| e.into_inner());
        match KeyRing::load(&self.path) {
            Ok(ring) => *w = (now, Arc::new(ring)),
            Err(e) => tracing::error!(error = %e, "cannot re-read the watermark keys"),
        }
        w.1.clone()
    }

    /// The processor marking one local generation, if any, and what the audit trail records
    /// (`{"scheme", "key_id"}`, or `{"scheme": "none", "reason"}`).
    pub fn plan(
        &self,
        model: &str,
        params: &SamplingParams,
    ) -> (Option<Box<dyn LogitsProcessor>>, MarkPlan) {
        let none = |reason: &str| (None, MarkPlan::none(reason));
        let Some(scheme) = self.config.scheme else {
            return none("marking off (mark_scheme = \"off\")");
        };
        if self.config.off_models.iter().any(|m| m == model) {
            return none("marking off for this model (mark_off_models)");
        }
        if params.temperature == 0.0 {
            return none("greedy decoding (temperature 0) carries no mark");
        }
        let ring = self.keys();
        let Some(key) = ring.marking_key() else {
            return none("no watermark key marks new generations");
        };
        let plan = MarkPlan {
            scheme: scheme.as_str(),
            key_id: Some(key.id.clone()),
            reason: None,
        };
        let p: Box<dyn LogitsProcessor> = match scheme {
            Scheme::Gumbel => Box::new(GumbelMark::new(key.secret)),
            Scheme::Kgw => Box::new(KgwMark::new(key.secret)),
        };
        (Some(p), plan)
    }
}

/// What marked a generation.
#[derive(Debug, Clone)]
pub struct MarkPlan {
    /// `gumbel`, `kgw` or `none`.
    pub scheme: &'static str,
    /// The key's id when marked.
    pub key_id: Option<String>,
    /// Why not, when unmarked.
    pub reason: Option<String>,
}

impl MarkPlan {
    /// Unmarked, for `reason`.
    pub fn none(reason: &str) -> MarkPlan {
        MarkPlan {
            scheme: "none",
            key_id: None,
            reason: Some(reason.to_string()),
        }
    }

    /// The audit form.
    pub fn audit(&self) -> Value {
        match &self.key_id {
            Some(id) => json!({ "scheme": self.scheme, "key_id": id }),
            None => json!({ "scheme": "none", "reason": self.reason }),
        }
    }
}

/// The last [`gumbel::CONTEXT`] generated tokens, when that many were generated.
fn generated_context<const N: usize>(ctx: &TokenContext<'_>) -> Option<[TokenId; N]> {
    let g = ctx.generated;
    (g.len() >= N).then(|| g[g.len() - N..].try_into().expect("N tokens"))
}

/// Gumbel-max choice with the installation key (distortion-free).
pub struct GumbelMark {
    secret: [u8; 32],
    seen: HashSet<[TokenId; gumbel::CONTEXT]>,
}

impl GumbelMark {
    /// A processor for one generation.
    pub fn new(secret: [u8; 32]) -> Self {
        Self {
            secret,
            seen: HashSet::new(),
        }
    }
}

impl LogitsProcessor for GumbelMark {
    fn select(&mut self, ctx: &TokenContext<'_>, candidates: &[Candidate]) -> Option<TokenId> {
        let c = generated_context::<{ gumbel::CONTEXT }>(ctx)?;
        if !self.seen.insert(c) || candidates.len() < 2 {
            return None;
        }
        gumbel::choose(
            gumbel::seed(&self.secret, &c),
            candidates.iter().map(|c| (c.id, c.p)),
        )
    }
}

/// Green-list bias with the installation key.
pub struct KgwMark {
    secret: [u8; 32],
}

impl KgwMark {
    /// A processor for one generation.
    pub fn new(secret: [u8; 32]) -> Self {
        Self { secret }
    }
}

impl LogitsProcessor for KgwMark {
    fn process(&mut self, ctx: &TokenContext<'_>, logits: &mut [f32]) {
        if let Some(c) = generated_context::<{ kgw::CONTEXT }>(ctx) {
            kgw::bias(kgw::seed(&self.secret, &c), logits, kgw::DELTA);
        }
    }
}

/// Scores `tokens` under every key of `ring`.
pub fn detect_tokens(ring: &KeyRing, tokens: &[u32], fpr: f64) -> Result<Detection, MarkError> {
    let keys: Vec<(&str, &[u8])> = ring
        .keys()
        .iter()
        .map(|k| (k.id.as_str(), &k.secret[..]))
        .collect();
    siagen_mark::detect::detect(&keys, tokens, fpr)
}

/// Detects the watermark in `text` for `actor` (auditor, clinician or validator): the scheme
/// and key that matched, scored tokens, score, p-value and verdict. `model` names the tokenizer
/// (default: the only installed model). Audited with the text's SHA-256 only.
pub async fn detect(
    app: &App,
    actor: &siagen_store::Actor,
    text: String,
    model: Option<String>,
    fpr: Option<f64>,
) -> Result<Value> {
    if text.chars().count() > MAX_CHARS {
        return Err(AppError::Invalid(format!(
            "text too long: at most {MAX_CHARS} characters"
        )));
    }
    let mark = app
        .services
        .mark
        .clone()
        .ok_or_else(|| AppError::unavailable("no-mark", "watermarking is not configured"))?;
    let fpr = fpr.unwrap_or(mark.config.fpr);
    if !(fpr > 0.0 && fpr < 1.0) {
        return Err(AppError::Invalid(format!(
            "fpr must be strictly between 0 and 1, got {fpr}"
        )));
    }
    let engine = app.services.engine.clone().ok_or_else(|| {
        AppError::unavailable(
            "no-engine",
            "no local inference engine is configured: no tokenizer to cut the text",
        )
    })?;
    let store = app.store.clone();
    let who = actor.clone();
    App::blocking(move || {
        store.authorize(&who, "mark.detect", "mark", |a| {
            if a.roles.has(siagen_store::Role::Auditor) {
                Ok(())
            } else {
                a.require_clinical("watermark detection")
            }
        })
    })
    .await?;
    let model = match model {
        Some(m) => m,
        None => {
            let e = engine.clone();
            let models = App::blocking(move || e.models()).await?;
            match models.as_slice() {
                [one] => one.name.clone(),
                [] => {
                    return Err(AppError::Invalid(
                        "no model is installed: no tokenizer to cut the text".into(),
                    ))
                }
                many => {
                    let names: Vec<&str> = many.iter().map(|m| m.name.as_str()).collect();
                    return Err(AppError::Invalid(format!(
                        "several models are installed: say which tokenizer to use in 'model' ({})",
                        names.join(", ")
                    )));
                }
            }
        }
    };
    let (m, e) = (model.clone(), engine.clone());
    let (tokens, text_sha) = App::blocking(move || {
        e.text_tokenizer(&m)?
            .tokenize(&text)
            .map(|t| (t, siagen_store::sha256_hex(&text)))
    })
    .await?;
    let ring = mark.keys();
    let d = detect_tokens(&ring, &tokens, fpr).map_err(|e| AppError::Invalid(e.to_string()))?;
    let result = detection_json(&d, &model);
    let store = app.store.clone();
    let label = actor.audit_label();
    let details = json!({ "text_sha256": text_sha, "model": model, "scheme": d.scheme.as_str(),
                          "key_id": d.key_id, "tokens": d.tokens, "p_value": d.p_value,
                          "marked": d.marked, "fpr": fpr });
    App::blocking(move || store.audit_event(&label, "mark.detect", "mark", "ok", details)).await?;
    Ok(result)
}

/// The API and CLI form of a detection.
pub fn detection_json(d: &Detection, model: &str) -> Value {
    json!({ "scheme": d.scheme.as_str(), "key_id": d.key_id, "tokens": d.tokens,
            "score": d.score, "p_value": d.p_value, "marked": d.marked, "fpr": d.fpr,
            "model": model })
}
