//! OpenAI-compatible API over the local engine: `/v1/chat/completions`, `/v1/completions`
//! (streaming with SSE or not, logprobs, seed, stop, max_tokens), `/v1/models`, `/v1/embeddings`.
//!
//! Errors are problem+json that also carry OpenAI's `error` object, so both RFC 7807 readers and
//! the official `openai` clients understand them. Every generation is audited (model, parameters,
//! prompt hash, token counts — never the text).

use crate::auth::Auth;
use crate::problem::{ApiJson, Problem};
use crate::{blocking, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use siagen_engine::{
    ChatMessage, DoneEvent, EngineError, FinishReason, GenerateRequest, GenerationEvent, Penalties,
    SamplingParams, TokenEvent,
};
use std::collections::HashMap;
use std::sync::Arc;

impl From<EngineError> for Problem {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::QueueFull { retry_after_secs } => {
                let mut p = Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "queue-full",
                    format!("the model is busy: retry in {retry_after_secs} s"),
                );
                p.retry_after = Some(retry_after_secs);
                p
            }
            EngineError::UnknownModel(m) => Problem::new(
                StatusCode::NOT_FOUND,
                "unknown-model",
                format!("unknown model '{m}': see GET /v1/models"),
            ),
            e @ EngineError::ContextOverflow { .. } => {
                Problem::new(StatusCode::BAD_REQUEST, "context-overflow", e.to_string())
            }
            e @ (EngineError::BadRequest(_) | EngineError::Unsupported { .. }) => {
                Problem::new(StatusCode::BAD_REQUEST, "bad-request", e.to_string())
            }
            EngineError::Unavailable(m) => {
                let mut p = Problem::new(StatusCode::SERVICE_UNAVAILABLE, "engine-unavailable", m);
                p.retry_after = Some(5);
                p
            }
            other => Problem::internal(&other),
        }
    }
}

fn engine(state: &AppState) -> Result<Arc<siagen_engine::Engine>, Problem> {
    state.services.engine.clone().ok_or_else(|| {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no-engine",
            "no local inference engine is configured",
        )
    })
}

/// A string or a list of strings (`stop`, `prompt`, `input`).
#[derive(Deserialize, serde::Serialize, Clone)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// Message content: a string or a list of text parts.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Part {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InMessage {
    role: String,
    content: Content,
    #[serde(default)]
    #[allow(dead_code)]
    name: Option<String>,
}

#[derive(Deserialize, serde::Serialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

/// Sampling fields shared by both completion routes (OpenAI's, plus top_k/min_p/repetition_penalty).
/// Serialised as given when a request is forwarded to an upstream.
#[derive(Deserialize, serde::Serialize, Default)]
#[serde(default)]
pub(crate) struct Sampling {
    #[serde(default)]
    temperature: Option<f32>,
    #[serde(default)]
    top_p: Option<f32>,
    #[serde(default)]
    top_k: Option<u32>,
    #[serde(default)]
    min_p: Option<f32>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    max_completion_tokens: Option<u32>,
    #[serde(default)]
    stop: Option<OneOrMany>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    frequency_penalty: Option<f32>,
    #[serde(default)]
    presence_penalty: Option<f32>,
    #[serde(default)]
    repetition_penalty: Option<f32>,
    #[serde(default)]
    logit_bias: Option<HashMap<String, f32>>,
    #[serde(default)]
    n: Option<u32>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    /// Accepted for compatibility; never stored nor forwarded (it may identify a person).
    #[serde(default, rename = "user", skip_serializing)]
    _user: Option<String>,
    #[serde(default)]
    response_format: Option<Value>,
}

fn bad(detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, "bad-request", detail)
}

impl Sampling {
    fn params(&self, logprobs: bool, top_logprobs: u8) -> Result<SamplingParams, Problem> {
        let temperature = self.temperature.unwrap_or(1.0);
        if !(0.0..=2.0).contains(&temperature) {
            return Err(bad("temperature must be between 0 and 2"));
        }
        let top_p = self.top_p.unwrap_or(1.0);
        if !(top_p > 0.0 && top_p <= 1.0) {
            return Err(bad("top_p must be in (0, 1]"));
        }
        let min_p = self.min_p.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&min_p) {
            return Err(bad("min_p must be between 0 and 1"));
        }
        for (name, v) in [
            ("frequency_penalty", self.frequency_penalty),
            ("presence_penalty", self.presence_penalty),
        ] {
            if v.is_some_and(|v| !(-2.0..=2.0).contains(&v)) {
                return Err(bad(format!("{name} must be between -2 and 2")));
            }
        }
        if self.n.is_some_and(|n| n != 1) {
            return Err(bad("only n = 1 is supported"));
        }
        if top_logprobs > 20 {
            return Err(bad("top_logprobs must be at most 20"));
        }
        let stop = self.stop.as_ref().map(|s| match s {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        });
        let stop = stop.unwrap_or_default();
        if stop.len() > 4 || stop.iter().any(String::is_empty) {
            return Err(bad("stop takes at most 4 non-empty strings"));
        }
        let mut logit_bias = vec![];
        for (k, v) in self.logit_bias.iter().flatten() {
            let id: u32 = k
                .parse()
                .map_err(|_| bad(format!("logit_bias keys are token ids, not '{k}'")))?;
            if !(-100.0..=100.0).contains(v) {
                return Err(bad("logit_bias values must be between -100 and 100"));
            }
            // OpenAI semantics: -100 bans the token.
            logit_bias.push((id, if *v <= -100.0 { f32::NEG_INFINITY } else { *v }));
        }
        Ok(SamplingParams {
            temperature,
            top_k: self.top_k.unwrap_or(0),
            top_p,
            min_p,
            penalties: Penalties {
                repetition: self.repetition_penalty.unwrap_or(1.0),
                frequency: self.frequency_penalty.unwrap_or(0.0),
                presence: self.presence_penalty.unwrap_or(0.0),
                ..Penalties::default()
            },
            seed: self.seed,
            max_tokens: self.max_completion_tokens.or(self.max_tokens),
            stop,
            logprobs,
            top_logprobs,
            logit_bias,
            ignore_eos: false,
        })
    }

    /// The schema `response_format` asks the local engine to enforce (none for `text`).
    /// Upstream requests forward the field unchanged and never call this. `stop` strings are
    /// refused beside a schema: the schema decides where the output ends, and a stop string
    /// found inside a value would cut it into invalid JSON.
    fn response_schema(&self) -> Result<Option<Arc<siagen_engine::JsonSchema>>, Problem> {
        let schema = self.parse_response_format()?;
        let has_stop = match &self.stop {
            None => false,
            Some(OneOrMany::One(s)) => !s.is_empty(),
            Some(OneOrMany::Many(v)) => !v.is_empty(),
        };
        if schema.is_some() && has_stop {
            return Err(bad(
                "stop cannot be combined with response_format json_object or json_schema: \
                 the schema decides where the output ends",
            ));
        }
        Ok(schema)
    }

    fn parse_response_format(&self) -> Result<Option<Arc<siagen_engine::JsonSchema>>, Problem> {
        let Some(rf) = &self.response_format else {
            return Ok(None);
        };
        let Some(obj) = rf.as_object() else {
            return Err(bad("response_format must be an object"));
        };
        let keys = |allowed: &[&str], what: &str| -> Result<(), Problem> {
            match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
                Some(k) => Err(bad(format!(
                    "unknown field '{k}' in response_format {what}"
                ))),
                None => Ok(()),
            }
        };
        match obj.get("type").and_then(Value::as_str) {
            Some("text") => keys(&["type"], "text").map(|_| None),
            Some("json_object") => {
                keys(&["type"], "json_object")?;
                Ok(Some(Arc::new(siagen_engine::JsonSchema::any_object())))
            }
            Some("json_schema") => {
                keys(&["type", "json_schema"], "json_schema")?;
                let Some(js) = obj.get("json_schema").and_then(Value::as_object) else {
                    return Err(bad(
                        "response_format json_schema needs a 'json_schema' object",
                    ));
                };
                if let Some(k) = js
                    .keys()
                    .find(|k| !["name", "schema", "strict", "description"].contains(&k.as_str()))
                {
                    return Err(bad(format!(
                        "unknown field '{k}' in response_format.json_schema"
                    )));
                }
                let name = js.get("name").and_then(Value::as_str).unwrap_or("");
                if name.is_empty()
                    || name.len() > 64
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    return Err(bad(
                        "response_format.json_schema.name must be 1 to 64 letters, digits, '_' or '-'",
                    ));
                }
                let strict = match js.get("strict") {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(b)) => *b,
                    Some(_) => {
                        return Err(bad("response_format.json_schema.strict must be a boolean"))
                    }
                };
                let Some(schema) = js.get("schema") else {
                    return Err(bad("response_format.json_schema.schema is required"));
                };
                siagen_engine::JsonSchema::compile(schema, strict)
                    .map(|s| Some(Arc::new(s)))
                    .map_err(|e| {
                        bad(format!(
                            "response_format: {}",
                            e.to_string().trim_start_matches("bad request: ")
                        ))
                    })
            }
            _ => Err(bad(
                "response_format type must be 'text', 'json_object' or 'json_schema'",
            )),
        }
    }

    fn audit_params(&self, p: &SamplingParams) -> Value {
        json!({
            "temperature": p.temperature, "top_p": p.top_p, "top_k": p.top_k, "min_p": p.min_p,
            "max_tokens": p.max_tokens, "seed": p.seed, "stop_count": p.stop.len(),
            "frequency_penalty": p.penalties.frequency, "presence_penalty": p.penalties.presence,
            "repetition_penalty": p.penalties.repetition,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChatBody {
    model: String,
    messages: Vec<InMessage>,
    #[serde(default)]
    logprobs: Option<bool>,
    #[serde(default)]
    top_logprobs: Option<u8>,
    #[serde(flatten)]
    sampling: Sampling,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompletionBody {
    model: String,
    prompt: OneOrMany,
    /// Legacy API: number of top log-probabilities per token.
    #[serde(default)]
    logprobs: Option<u8>,
    #[serde(default)]
    echo: Option<bool>,
    #[serde(flatten)]
    sampling: Sampling,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn new_id(prefix: &str) -> String {
    use rand::Rng;
    format!("{prefix}-{:024x}", rand::thread_rng().gen::<u128>() >> 32)
}

fn finish(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Length => "length",
        _ => "stop",
    }
}

fn usage(done: &DoneEvent, energy: &Value) -> Value {
    let mut u = json!({
        "prompt_tokens": done.usage.prompt_tokens,
        "completion_tokens": done.usage.completion_tokens,
        "total_tokens": done.usage.prompt_tokens + done.usage.completion_tokens,
    });
    if !energy.is_null() {
        u["energy"] = energy.clone();
    }
    u
}

/// `x-siagen-energy: wh=…; co2e_g=…; method=measured|estimated`.
fn energy_header(energy: &Value) -> Option<(&'static str, String)> {
    Some((
        "x-siagen-energy",
        format!(
            "wh={:.6}; co2e_g={:.6}; method={}",
            energy.get("wh")?.as_f64()?,
            energy.get("co2e_g")?.as_f64()?,
            energy.get("method")?.as_str()?
        ),
    ))
}

fn json_with_energy(body: Value, energy: &Value) -> Response {
    let mut resp = Json(body).into_response();
    if let Some((k, v)) = energy_header(energy) {
        if let Ok(v) = axum::http::HeaderValue::from_str(&v) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

fn token_logprob(t: &TokenEvent) -> Value {
    let text = t
        .top
        .iter()
        .find(|c| c.id == t.id)
        .map(|c| c.text.clone())
        .unwrap_or_else(|| t.text.clone());
    json!({
        "token": text,
        "logprob": t.logprob.unwrap_or(0.0),
        "bytes": text.as_bytes(),
        "top_logprobs": t.top.iter().map(|c| json!({
            "token": c.text, "logprob": c.logprob, "bytes": c.text.as_bytes()
        })).collect::<Vec<_>>(),
    })
}

/// The shield's decision for one request: texts pseudonymised for the model, and what is needed to
/// put identifiers back in the answer.
struct Egress {
    reid: Option<(Arc<crate::ShieldState>, String)>,
    audit: Value,
}

/// Applies the egress policy to every text bound for the local engine. Default: the engine may
/// not receive identifying data, so texts are pseudonymised with the patient's (or, without a
/// patient reference, the user's) surrogates, and the answer is re-identified for the caller.
async fn egress(
    state: &AppState,
    actor: &siagen_store::Actor,
    headers: &axum::http::HeaderMap,
    texts: Vec<String>,
    dest: Option<&siagen_shield::Destination>,
) -> Result<(Vec<String>, Egress), Problem> {
    let Some(sh) = state.services.shield.clone() else {
        return Ok((
            texts,
            Egress {
                reid: None,
                audit: json!({ "decision": "raw", "shield": "off" }),
            },
        ));
    };
    let patient_ref = match headers
        .get("x-siagen-patient-ref")
        .and_then(|v| v.to_str().ok())
    {
        Some(r) => {
            crate::shield::check_patient_ref(r)?;
            r.to_string()
        }
        None => format!("user:{}", actor.user_id.unwrap_or(0)),
    };
    let dest = dest.unwrap_or(&sh.local_engine);
    match sh.policy.decide(dest) {
        siagen_shield::EgressDecision::Raw => Ok((
            texts,
            Egress {
                reid: None,
                audit: json!({ "decision": "raw" }),
            },
        )),
        siagen_shield::EgressDecision::Refuse => Err(Problem::new(
            StatusCode::FORBIDDEN,
            "egress-refused",
            format!(
                "the egress policy refuses to send text to {}",
                sh.local_engine.name
            ),
        )),
        siagen_shield::EgressDecision::Pseudonymize => {
            let (sh2, pref) = (sh.clone(), patient_ref.clone());
            let (out, replaced) = tokio::task::spawn_blocking(move || {
                let mut replaced = 0;
                let mut out = vec![];
                for t in texts {
                    let p = siagen_shield::pseudonymize_with(
                        &sh2.shield,
                        &t,
                        &pref,
                        &sh2.vault,
                        &sh2.policy.options,
                    )?;
                    replaced += p.replaced;
                    out.push(p.text);
                }
                Ok::<_, siagen_shield::ShieldError>((out, replaced))
            })
            .await
            .map_err(|e| Problem::internal(&e))?
            .map_err(|e| Problem::internal(&e))?;
            Ok((
                out,
                Egress {
                    reid: Some((sh, patient_ref)),
                    audit: json!({ "decision": "pseudonymize", "replaced": replaced }),
                },
            ))
        }
    }
}

impl Egress {
    fn restore(&self, text: String) -> String {
        match &self.reid {
            Some((sh, pref)) => {
                siagen_shield::reidentify_with_dates(&sh.shield, &text, pref, &sh.vault)
                    .unwrap_or(text)
            }
            None => text,
        }
    }

    fn streamer(&self) -> Option<crate::shield::StreamReidentifier> {
        self.reid
            .as_ref()
            .map(|(sh, p)| crate::shield::StreamReidentifier::new(sh.clone(), p.clone()))
    }
}

/// What a started generation needs to answer.
struct Started {
    stream: siagen_engine::GenerationStream,
    model: String,
    streaming: bool,
    include_usage: bool,
    logprobs: bool,
    /// The schema the output was constrained to (`response_format`), checked again at the end.
    schema: Option<Arc<siagen_engine::JsonSchema>>,
    meter: Meter,
}

/// Everything needed to settle a generation's energy and record it when it ends.
struct Meter {
    state: AppState,
    actor: siagen_store::Actor,
    id: String,
    model: String,
    route: &'static str,
    span: Option<siagen_energy::Span>,
    started: std::time::Instant,
    prompt_tokens: usize,
    generated: std::sync::atomic::AtomicUsize,
    /// What marked the generation (scheme and key id, or none and why).
    mark: crate::mark::MarkPlan,
}

impl Meter {
    /// Counts a generated token as work for the energy share.
    fn token(&self) {
        self.generated
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(s) = &self.span {
            s.add_work(1);
        }
    }

    /// The client went away mid-stream: the generation stops (its stream is dropped) and what it
    /// consumed is still recorded.
    async fn finish_cancelled(self) {
        let done = DoneEvent {
            finish_reason: FinishReason::Cancelled,
            usage: siagen_engine::Usage {
                prompt_tokens: self.prompt_tokens,
                completion_tokens: self.generated.load(std::sync::atomic::Ordering::Relaxed),
            },
            model_id: self.model.clone(),
            model_sha256: String::new(),
            timings: Default::default(),
        };
        self.finish(&done).await;
    }

    /// Settles the energy, updates the metrics and records the generation; returns the energy
    /// fields added to `usage` (and to the `x-siagen-energy` header).
    async fn finish(mut self, done: &DoneEvent) -> Value {
        let record = self.span.take().map(|s| s.finish());
        let energy = match (&record, &self.state.services.energy) {
            (Some(r), Some(e)) => {
                let _ = e.metrics.observe_record(r);
                json!({ "wh": r.wh, "joules": r.joules, "co2e_g": r.co2e_g,
                        "method": r.method.kind(), "basis": r.method.detail() })
            }
            _ => Value::Null,
        };
        if let Some(e) = &self.state.services.energy {
            let m = &self.model;
            let u = &done.usage;
            if let Ok(c) = e.metrics.requests.with(&[m]) {
                c.inc();
            }
            if let Ok(c) = e.metrics.tokens.with(&[m, "prompt"]) {
                c.inc_by(u.prompt_tokens as f64);
            }
            if let Ok(c) = e.metrics.tokens.with(&[m, "generated"]) {
                c.inc_by(u.completion_tokens as f64);
            }
            if let Ok(h) = e.metrics.latency.with(&[m]) {
                h.observe(self.started.elapsed().as_secs_f64());
            }
        }
        let rec = siagen_store::GenerationRecord {
            id: self.id.clone(),
            model: self.model.clone(),
            route: self.route.to_string(),
            prompt_tokens: done.usage.prompt_tokens as i64,
            completion_tokens: done.usage.completion_tokens as i64,
            finish_reason: match done.finish_reason {
                FinishReason::Stop => "stop",
                FinishReason::Length => "length",
                FinishReason::Cancelled => "cancelled",
            }
            .to_string(),
            joules: record.as_ref().map(|r| r.joules).unwrap_or(0.0),
            co2e_g: record.as_ref().map(|r| r.co2e_g).unwrap_or(0.0),
            energy_method: record
                .as_ref()
                .map(|r| format!("{}: {}", r.method.kind(), r.method.detail()))
                .unwrap_or_else(|| "none: energy metering off".into()),
            mark_scheme: self.mark.scheme.to_string(),
            mark_key_id: self.mark.key_id.clone(),
        };
        let store = self.state.store.clone();
        let actor = self.actor.clone();
        if let Err(e) = blocking(move || store.record_generation(&actor, &rec)).await {
            tracing::error!(error = ?e.detail, "cannot record a generation");
        }
        energy
    }
}

/// Authorises, starts the generation and writes its audit entry (model, parameters, prompt hash
/// and token count: never the text).
#[allow(clippy::too_many_arguments)]
async fn start(
    state: &AppState,
    actor: siagen_store::Actor,
    route: &'static str,
    model: String,
    prompt: String,
    sampling: &Sampling,
    params: SamplingParams,
    egress_audit: Value,
) -> Result<Started, Problem> {
    let engine = engine(state)?;
    let streaming = sampling.stream.unwrap_or(false);
    let include_usage = sampling
        .stream_options
        .as_ref()
        .is_some_and(|o| o.include_usage);
    let logprobs = params.logprobs || params.top_logprobs > 0;
    let audit_params = sampling.audit_params(&params);
    let prompt_sha = siagen_store::sha256_hex(&prompt);
    let label = actor.audit_label();
    let store = state.store.clone();
    let who = actor.clone();
    blocking(move || {
        store.authorize(&who, "generation", "engine", |a| {
            a.require_clinical("generation")
        })
    })
    .await?;
    // Every local generation is watermarked unless the configuration says otherwise.
    let (marker, mark) = match &state.services.mark {
        Some(m) => m.plan(&model, &params),
        None => (
            None,
            crate::mark::MarkPlan::none("watermarking not configured"),
        ),
    };
    let mark_audit = mark.audit();
    let mut request = GenerateRequest::new(model.clone(), prompt, params);
    request.processors.extend(marker);
    let schema = sampling.response_schema()?;
    let constraint = schema.clone();
    // Tokenizing and queueing are synchronous: keep them off the async workers.
    let stream = tokio::task::spawn_blocking(move || {
        // The grammar mask goes last, so no processor's `process` can undo it.
        if let Some(s) = constraint {
            let c = engine.json_constraint(&request.model, s)?;
            request.processors.push(Box::new(c));
        }
        engine.generate(request)
    })
    .await
    .map_err(|e| Problem::internal(&e))??;
    let prompt_tokens = stream.prompt_tokens();
    let span = state.services.energy.as_ref().map(|e| {
        let span = e.accountant.begin(&model);
        span.add_work(prompt_tokens as u64);
        span
    });
    let id = new_id(if route == "chat" { "chatcmpl" } else { "cmpl" });
    let store = state.store.clone();
    let target = format!("model:{model}");
    let gen_id = id.clone();
    blocking(move || {
        store.audit_event(
            &label,
            "generation",
            &target,
            "ok",
            json!({ "route": route, "generation_id": gen_id, "prompt_sha256": prompt_sha,
                    "prompt_tokens": prompt_tokens, "parameters": audit_params, "egress": egress_audit,
                    "mark": mark_audit }),
        )
    })
    .await?;
    Ok(Started {
        stream,
        model: model.clone(),
        streaming,
        include_usage,
        logprobs,
        schema,
        meter: Meter {
            state: state.clone(),
            actor,
            id,
            model,
            route,
            span,
            started: std::time::Instant::now(),
            prompt_tokens,
            generated: Default::default(),
            mark,
        },
    })
}

/// Defensive check that a constrained generation matches its schema. The grammar mask
/// guarantees it, so a failure is a bug: answered as a server error, never passed on. A
/// generation cut by `max_tokens` is a prefix of a valid value (finish_reason `length`, as OpenAI).
fn check_schema(
    schema: &Option<Arc<siagen_engine::JsonSchema>>,
    text: &str,
    finish: FinishReason,
) -> Result<(), String> {
    let Some(s) = schema else { return Ok(()) };
    if finish != FinishReason::Stop {
        return Ok(());
    }
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    s.validate(&v)
}

/// Collects a whole generation (non-streaming answers).
async fn collect(
    stream: &mut siagen_engine::GenerationStream,
    meter: &Meter,
) -> Result<(String, Vec<TokenEvent>, DoneEvent), Problem> {
    let mut text = String::new();
    let mut tokens = vec![];
    while let Some(ev) = stream.next().await {
        match ev {
            GenerationEvent::Token(t) => {
                meter.token();
                text.push_str(&t.text);
                tokens.push(t);
            }
            GenerationEvent::Done(d) => return Ok((text, tokens, d)),
            GenerationEvent::Error(e) => return Err(e.into()),
        }
    }
    Err(Problem::internal(&"generation ended without a final event"))
}

fn messages(input: Vec<InMessage>) -> Result<Vec<ChatMessage>, Problem> {
    if input.is_empty() {
        return Err(bad("messages must not be empty"));
    }
    input
        .into_iter()
        .map(|m| {
            if !matches!(
                m.role.as_str(),
                "system" | "user" | "assistant" | "developer"
            ) {
                return Err(bad(format!("unsupported message role '{}'", m.role)));
            }
            let content = match m.content {
                Content::Text(t) => t,
                Content::Parts(parts) => {
                    let mut out = String::new();
                    for p in parts {
                        if p.kind != "text" {
                            return Err(bad(format!(
                                "only text content parts are supported, not '{}'",
                                p.kind
                            )));
                        }
                        out.push_str(p.text.as_deref().unwrap_or(""));
                    }
                    out
                }
            };
            let role = if m.role == "developer" {
                "system".to_string()
            } else {
                m.role
            };
            Ok(ChatMessage { role, content })
        })
        .collect()
}

fn sse(v: Value) -> Result<Event, std::convert::Infallible> {
    Ok(Event::default().data(v.to_string()))
}

pub(crate) async fn chat_completions(
    State(state): State<AppState>,
    Auth(actor): Auth,
    headers: axum::http::HeaderMap,
    ApiJson(body): ApiJson<ChatBody>,
) -> Result<Response, Problem> {
    let top = body.top_logprobs.unwrap_or(0);
    if top > 0 && body.logprobs != Some(true) {
        return Err(bad("top_logprobs needs logprobs: true"));
    }
    let params = body.sampling.params(body.logprobs.unwrap_or(false), top)?;
    let mut msgs = messages(body.messages)?;
    if state
        .services
        .upstreams
        .as_ref()
        .is_some_and(|u| u.serves(&body.model))
    {
        let texts = msgs.iter().map(|m| m.content.clone()).collect();
        let roles: Vec<String> = msgs.into_iter().map(|m| m.role).collect();
        let (logprobs, top_logprobs) = (body.logprobs, body.top_logprobs);
        let sampling = serde_json::to_value(&body.sampling).map_err(|e| Problem::internal(&e))?;
        return proxy(
            &state,
            actor,
            &headers,
            "chat",
            &body.model,
            texts,
            body.sampling.stream.unwrap_or(false),
            move |texts, model| {
                let mut v = sampling;
                v["model"] = json!(model);
                v["messages"] = json!(roles
                    .iter()
                    .zip(texts)
                    .map(|(r, t)| json!({ "role": r, "content": t }))
                    .collect::<Vec<_>>());
                if let Some(l) = logprobs {
                    v["logprobs"] = json!(l);
                }
                if let Some(t) = top_logprobs {
                    v["top_logprobs"] = json!(t);
                }
                v
            },
        )
        .await;
    }
    body.sampling.response_schema()?; // refused before anything is done
    let (texts, eg) = egress(
        &state,
        &actor,
        &headers,
        msgs.iter().map(|m| m.content.clone()).collect(),
        None,
    )
    .await?;
    for (m, t) in msgs.iter_mut().zip(texts) {
        m.content = t;
    }
    let engine = engine(&state)?;
    let model = body.model.clone();
    let prompt = tokio::task::spawn_blocking(move || engine.chat_prompt(&model, &msgs))
        .await
        .map_err(|e| Problem::internal(&e))??;
    let mut started = start(
        &state,
        actor,
        "chat",
        body.model,
        prompt,
        &body.sampling,
        params,
        eg.audit.clone(),
    )
    .await?;
    let id = started.meter.id.clone();
    let created = now_secs();
    if !started.streaming {
        let (text, tokens, done) = collect(&mut started.stream, &started.meter).await?;
        if let Err(e) = check_schema(&started.schema, &text, done.finish_reason) {
            return Err(Problem::internal(&format!("output off schema: {e}")));
        }
        let text = eg.restore(text);
        let energy = started.meter.finish(&done).await;
        let logprobs = started
            .logprobs
            .then(|| json!({ "content": tokens.iter().map(token_logprob).collect::<Vec<_>>() }));
        return Ok(json_with_energy(
            json!({
                "id": id, "object": "chat.completion", "created": created, "model": started.model,
                "system_fingerprint": format!("siagen-{}", &done.model_sha256[..12.min(done.model_sha256.len())]),
                "choices": [{ "index": 0, "message": { "role": "assistant", "content": text },
                              "logprobs": logprobs, "finish_reason": finish(done.finish_reason) }],
                "usage": usage(&done, &energy),
            }),
            &energy,
        ));
    }
    Ok(stream_local(
        Shape::Chat,
        started,
        eg.streamer(),
        id,
        created,
        chat_logprobs,
    )
    .into_response())
}

pub(crate) async fn completions(
    State(state): State<AppState>,
    Auth(actor): Auth,
    headers: axum::http::HeaderMap,
    ApiJson(body): ApiJson<CompletionBody>,
) -> Result<Response, Problem> {
    let prompts = body.prompt.into_vec();
    let [prompt] = <[String; 1]>::try_from(prompts)
        .map_err(|_| bad("exactly one prompt per request is supported"))?;
    if body.echo == Some(true) {
        return Err(bad("echo is not supported"));
    }
    let top = body.logprobs.unwrap_or(0);
    let params = body.sampling.params(body.logprobs.is_some(), top)?;
    if state
        .services
        .upstreams
        .as_ref()
        .is_some_and(|u| u.serves(&body.model))
    {
        let sampling = serde_json::to_value(&body.sampling).map_err(|e| Problem::internal(&e))?;
        let logprobs = body.logprobs;
        return proxy(
            &state,
            actor,
            &headers,
            "completion",
            &body.model,
            vec![prompt],
            body.sampling.stream.unwrap_or(false),
            move |mut texts, model| {
                let mut v = sampling;
                v["model"] = json!(model);
                v["prompt"] = json!(texts.remove(0));
                if let Some(l) = logprobs {
                    v["logprobs"] = json!(l);
                }
                v
            },
        )
        .await;
    }
    body.sampling.response_schema()?; // refused before anything is done
    let (mut texts, eg) = egress(&state, &actor, &headers, vec![prompt], None).await?;
    let prompt = texts.remove(0);
    let mut started = start(
        &state,
        actor,
        "completion",
        body.model,
        prompt,
        &body.sampling,
        params,
        eg.audit.clone(),
    )
    .await?;
    let id = started.meter.id.clone();
    let created = now_secs();
    if !started.streaming {
        let (text, tokens, done) = collect(&mut started.stream, &started.meter).await?;
        if let Err(e) = check_schema(&started.schema, &text, done.finish_reason) {
            return Err(Problem::internal(&format!("output off schema: {e}")));
        }
        let text = eg.restore(text);
        let energy = started.meter.finish(&done).await;
        return Ok(json_with_energy(
            json!({
                "id": id, "object": "text_completion", "created": created, "model": started.model,
                "choices": [{ "index": 0, "text": text,
                              "logprobs": if started.logprobs { legacy_logprobs(&tokens) } else { Value::Null },
                              "finish_reason": finish(done.finish_reason) }],
                "usage": usage(&done, &energy),
            }),
            &energy,
        ));
    }
    Ok(stream_local(
        Shape::Completion,
        started,
        eg.streamer(),
        id,
        created,
        |t| legacy_logprobs(std::slice::from_ref(t)),
    )
    .into_response())
}

/// Forwards a generation to the least busy healthy replica of an upstream model, after the
/// egress policy for that replica; re-identifies the answer; audits and records it.
#[allow(clippy::too_many_arguments)]
async fn proxy(
    state: &AppState,
    actor: siagen_store::Actor,
    headers: &axum::http::HeaderMap,
    route: &'static str,
    model: &str,
    texts: Vec<String>,
    streaming: bool,
    build: impl FnOnce(Vec<String>, &str) -> Value,
) -> Result<Response, Problem> {
    let upstreams = state
        .services
        .upstreams
        .clone()
        .ok_or_else(|| Problem::internal(&"no upstreams"))?;
    let store = state.store.clone();
    let who = actor.clone();
    blocking(move || {
        store.authorize(&who, "generation", "upstream", |a| {
            a.require_clinical("generation")
        })
    })
    .await?;
    let lease = upstreams.pick(model).ok_or_else(|| {
        let mut p = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "upstream-down",
            format!("no healthy upstream serves '{model}' right now"),
        );
        p.retry_after = Some(10);
        p
    })?;
    let replica = lease.replica().clone();
    let prompt_sha = siagen_store::sha256_hex(texts.join("\u{1e}"));
    let (texts, eg) = egress(state, &actor, headers, texts, Some(&replica.destination())).await?;
    let mut body = build(texts, replica.upstream_model());
    if let Some(o) = body.as_object_mut() {
        o.retain(|_, v| !v.is_null());
    }
    let id = new_id(if route == "chat" { "chatcmpl" } else { "cmpl" });
    let store = state.store.clone();
    let label = actor.audit_label();
    let details = json!({ "route": route, "generation_id": id, "prompt_sha256": prompt_sha,
        "upstream": { "url": replica.config.url, "operator": replica.config.operator,
                      "jurisdiction": replica.config.jurisdiction }, "egress": eg.audit,
                      "mark": crate::mark::MarkPlan::none(UPSTREAM_UNMARKED).audit() });
    let target = format!("model:{model}");
    blocking(move || store.audit_event(&label, "generation", &target, "ok", details)).await?;
    let resp = match replica
        .post(
            &upstreams.client,
            if route == "chat" {
                "chat/completions"
            } else {
                "completions"
            },
        )
        .json(&body)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            upstreams.mark_down(&replica);
            tracing::warn!(url = %replica.config.url, error = %e, "upstream unreachable");
            return Err(Problem::new(
                StatusCode::BAD_GATEWAY,
                "upstream-unreachable",
                format!("the upstream for '{model}' did not answer"),
            ));
        }
    };
    if !resp.status().is_success() {
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let msg: String = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                v.get("detail")
                    .or_else(|| v.pointer("/error/message"))
                    .and_then(|m| m.as_str().map(str::to_string))
            })
            .unwrap_or_else(|| format!("status {status}"));
        let code = if status.is_client_error() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::BAD_GATEWAY
        };
        return Err(Problem::new(
            code,
            "upstream-error",
            format!("upstream for '{model}': {msg}"),
        ));
    }
    let meter = UpstreamRecord {
        state: state.clone(),
        actor,
        id: id.clone(),
        model: model.to_string(),
        route,
        operator: replica.config.operator.clone(),
    };
    let client_model = model.to_string();
    if !streaming {
        let mut v: Value = resp
            .json()
            .await
            .map_err(|e| Problem::new(StatusCode::BAD_GATEWAY, "upstream-error", e.to_string()))?;
        v["model"] = json!(client_model);
        v["id"] = json!(id);
        if let Some(choices) = v.get_mut("choices").and_then(Value::as_array_mut) {
            for c in choices {
                for ptr in ["/message/content", "/text"] {
                    if let Some(t) = c.pointer_mut(ptr) {
                        if let Some(s) = t.as_str() {
                            *t = json!(eg.restore(s.to_string()));
                        }
                    }
                }
            }
        }
        meter.record(&v["usage"], "stop").await;
        drop(lease);
        return Ok(Json(v).into_response());
    }
    let mut reid = eg.streamer();
    let mut resp = resp;
    let events = async_stream(move |tx| async move {
        let _lease = lease;
        let mut buf = String::new();
        let mut usage = Value::Null;
        let mut last: Option<Value> = None;
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(c)) => c,
                _ => break,
            };
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let event: String = buf.drain(..end + 2).collect();
                for line in event.lines() {
                    let Some(data) = line.strip_prefix("data:").map(str::trim) else {
                        continue;
                    };
                    if data == "[DONE]" {
                        if let (Some(rest), Some(mut tail)) = (
                            reid.as_mut().map(|r| r.finish()).filter(|r| !r.is_empty()),
                            last.take(),
                        ) {
                            set_delta(&mut tail, rest);
                            let _ = tx.send(sse(tail)).await;
                        }
                        meter.record(&usage, "stop").await;
                        let _ = tx.send(Ok(Event::default().data("[DONE]"))).await;
                        return;
                    }
                    let Ok(mut v) = serde_json::from_str::<Value>(data) else {
                        continue;
                    };
                    v["model"] = json!(client_model);
                    v["id"] = json!(id);
                    if !v["usage"].is_null() {
                        usage = v["usage"].clone();
                    }
                    if let Some(r) = reid.as_mut() {
                        for ptr in ["/choices/0/delta/content", "/choices/0/text"] {
                            if let Some(t) = v.pointer_mut(ptr) {
                                if let Some(s) = t.as_str() {
                                    *t = json!(r.push(s));
                                }
                            }
                        }
                    }
                    if v["choices"].as_array().is_some_and(|c| !c.is_empty()) {
                        let mut template = v.clone();
                        if let Some(c) = template.pointer_mut("/choices/0/finish_reason") {
                            *c = Value::Null;
                        }
                        last = Some(template);
                    }
                    if tx.send(sse(v)).await.is_err() {
                        meter.record(&usage, "cancelled").await;
                        return;
                    }
                }
            }
        }
        meter.record(&usage, "stop").await;
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// Puts `text` as the content of a chunk (chat delta or completion text).
fn set_delta(chunk: &mut Value, text: String) {
    for ptr in ["/choices/0/delta/content", "/choices/0/text"] {
        if let Some(t) = chunk.pointer_mut(ptr) {
            *t = json!(text);
            return;
        }
    }
}

/// Why an upstream generation carries no siagen watermark (the audit says so).
const UPSTREAM_UNMARKED: &str = "upstream engine: siagen does not sample, so cannot mark";

/// Records an upstream generation: its tokens, and its energy as not metered here.
struct UpstreamRecord {
    state: AppState,
    actor: siagen_store::Actor,
    id: String,
    model: String,
    route: &'static str,
    operator: String,
}

impl UpstreamRecord {
    async fn record(&self, usage: &Value, finish: &str) {
        let rec = siagen_store::GenerationRecord {
            id: self.id.clone(),
            model: self.model.clone(),
            route: format!("{}-upstream", self.route),
            prompt_tokens: usage["prompt_tokens"].as_i64().unwrap_or(0),
            completion_tokens: usage["completion_tokens"].as_i64().unwrap_or(0),
            finish_reason: finish.to_string(),
            joules: 0.0,
            co2e_g: 0.0,
            energy_method: format!("unmetered: upstream run by {}", self.operator),
            mark_scheme: "none".into(),
            mark_key_id: None,
        };
        let store = self.state.store.clone();
        let actor = self.actor.clone();
        if let Err(e) = blocking(move || store.record_generation(&actor, &rec)).await {
            tracing::error!(error = ?e.detail, "cannot record an upstream generation");
        }
    }
}

/// Legacy `/v1/completions` log-probabilities.
fn legacy_logprobs(tokens: &[TokenEvent]) -> Value {
    json!({
        "tokens": tokens.iter().map(|t| t.text.clone()).collect::<Vec<_>>(),
        "token_logprobs": tokens.iter().map(|t| t.logprob).collect::<Vec<_>>(),
        "top_logprobs": tokens.iter().map(|t| t.top.iter().map(|c| (c.text.clone(), c.logprob)).collect::<HashMap<_, _>>()).collect::<Vec<_>>(),
    })
}

/// Chat log-probabilities of one streamed token.
fn chat_logprobs(t: &TokenEvent) -> Value {
    json!({ "content": [token_logprob(t)] })
}

/// The two shapes of streamed chunks.
#[derive(Clone, Copy)]
enum Shape {
    Chat,
    Completion,
}

impl Shape {
    fn object(self) -> &'static str {
        match self {
            Shape::Chat => "chat.completion.chunk",
            Shape::Completion => "text_completion",
        }
    }

    /// One choice: `text` None is the empty delta of the final chunk.
    fn choice(self, text: Option<&str>, logprobs: Value, finish: Option<&str>) -> Value {
        match self {
            Shape::Chat => {
                let delta = text.map_or_else(|| json!({}), |t| json!({ "content": t }));
                json!({ "index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish })
            }
            Shape::Completion => {
                json!({ "index": 0, "text": text.unwrap_or(""), "logprobs": logprobs, "finish_reason": finish })
            }
        }
    }
}

/// Streams a local generation as SSE chunks of `shape`: tokens (re-identified when the prompt
/// was pseudonymised), the final chunk with the finish reason, the usage chunk when asked, then
/// `[DONE]`. A client that goes away cancels the generation, which is still recorded.
fn stream_local(
    shape: Shape,
    started: Started,
    mut reid: Option<crate::shield::StreamReidentifier>,
    id: String,
    created: u64,
    token_logprobs: impl Fn(&TokenEvent) -> Value + Send + 'static,
) -> Sse<impl futures_core::Stream<Item = Result<Event, std::convert::Infallible>>> {
    let Started {
        mut stream,
        model,
        include_usage,
        logprobs,
        schema,
        meter,
        ..
    } = started;
    let events = async_stream(move |tx| async move {
        let chunk = |choices: Value| json!({ "id": id, "object": shape.object(), "created": created, "model": model, "choices": choices });
        if let Shape::Chat = shape {
            let head = chunk(
                json!([{ "index": 0, "delta": { "role": "assistant", "content": "" }, "logprobs": null, "finish_reason": null }]),
            );
            if tx.send(sse(head)).await.is_err() {
                return;
            }
        }
        let mut meter = Some(meter);
        let mut raw = String::new();
        while let Some(ev) = stream.next().await {
            let out = match ev {
                GenerationEvent::Token(t) => {
                    if let Some(m) = &meter {
                        m.token();
                    }
                    if schema.is_some() {
                        raw.push_str(&t.text);
                    }
                    let text = match &mut reid {
                        Some(r) => r.push(&t.text),
                        None => t.text.clone(),
                    };
                    let lp = if logprobs {
                        token_logprobs(&t)
                    } else {
                        Value::Null
                    };
                    chunk(json!([shape.choice(Some(&text), lp, None)]))
                }
                GenerationEvent::Done(d) => {
                    let energy = match meter.take() {
                        Some(m) => m.finish(&d).await,
                        None => Value::Null,
                    };
                    let mut tail = vec![];
                    if let Err(e) = check_schema(&schema, &raw, d.finish_reason) {
                        tracing::error!(error = %e, "constrained output off schema");
                        tail.push(json!({ "error": { "message": "generated text does not match the response_format schema", "type": "server_error" } }));
                    }
                    if let Some(rest) = reid.as_mut().map(|r| r.finish()).filter(|r| !r.is_empty())
                    {
                        tail.push(chunk(json!([shape.choice(Some(&rest), Value::Null, None)])));
                    }
                    tail.push(chunk(json!([shape.choice(
                        None,
                        Value::Null,
                        Some(finish(d.finish_reason))
                    )])));
                    if include_usage {
                        let mut u = chunk(json!([]));
                        u["usage"] = usage(&d, &energy);
                        tail.push(u);
                    }
                    for c in tail {
                        if tx.send(sse(c)).await.is_err() {
                            return;
                        }
                    }
                    break;
                }
                GenerationEvent::Error(e) => {
                    tracing::error!(error = %e, "generation failed mid-stream");
                    json!({ "error": { "message": "generation failed", "type": "server_error" } })
                }
            };
            if tx.send(sse(out)).await.is_err() {
                // Client gone: dropping `stream` cancels the generation.
                drop(stream);
                if let Some(m) = meter.take() {
                    m.finish_cancelled().await;
                }
                return;
            }
        }
        let _ = tx.send(Ok(Event::default().data("[DONE]"))).await;
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// Runs a producer task feeding a bounded channel, exposed as a stream for SSE. When the client
/// goes away, the stream is dropped, sends fail, the task ends and drops the generation: the
/// engine sees the closed channel and stops.
fn async_stream<F, Fut>(
    f: F,
) -> impl futures_core::Stream<Item = Result<Event, std::convert::Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Event, std::convert::Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(f(tx));
    ReceiverStream(rx)
}

struct ReceiverStream<T>(tokio::sync::mpsc::Receiver<T>);

impl<T> futures_core::Stream for ReceiverStream<T> {
    type Item = T;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        self.0.poll_recv(cx)
    }
}

pub(crate) async fn models(
    State(state): State<AppState>,
    Auth(_): Auth,
) -> Result<Json<Value>, Problem> {
    let engine = engine(&state)?;
    let list = tokio::task::spawn_blocking(move || engine.models())
        .await
        .map_err(|e| Problem::internal(&e))??;
    let mut data: Vec<Value> = list
        .iter()
        .map(|m| {
            json!({
                "id": m.name, "object": "model", "created": 0, "owned_by": "siagen",
                "siagen": m,
            })
        })
        .collect();
    for (name, replicas) in state.services.upstreams.iter().flat_map(|u| u.models()) {
        data.push(json!({
            "id": name, "object": "model", "created": 0, "owned_by": "upstream",
            "upstreams": replicas.iter().map(|r| json!({
                "operator": r.config.operator, "jurisdiction": r.config.jurisdiction,
                "may_receive_identifying": r.config.may_receive_identifying, "healthy": r.healthy(),
            })).collect::<Vec<_>>(),
        }));
    }
    Ok(Json(json!({ "object": "list", "data": data })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmbeddingsBody {
    model: String,
    input: OneOrMany,
    #[serde(default)]
    encoding_format: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    user: Option<String>,
    #[serde(default)]
    dimensions: Option<u32>,
}

pub(crate) async fn embeddings(
    State(state): State<AppState>,
    Auth(actor): Auth,
    ApiJson(body): ApiJson<EmbeddingsBody>,
) -> Result<Json<Value>, Problem> {
    let base64 = match body.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(bad(format!(
                "encoding_format must be 'float' or 'base64', not '{other}'"
            )))
        }
    };
    if body.dimensions.is_some() {
        return Err(bad("dimensions is not supported"));
    }
    let texts = body.input.into_vec();
    if texts.is_empty() || texts.len() > 256 {
        return Err(bad("input must hold 1 to 256 texts"));
    }
    let engine = engine(&state)?;
    let store = state.store.clone();
    let label = actor.audit_label();
    blocking(move || {
        store.authorize(&actor, "embedding", "engine", |a| {
            a.require_clinical("generation")
        })
    })
    .await?;
    let model = body.model.clone();
    let hashes: Vec<String> = texts.iter().map(siagen_store::sha256_hex).collect();
    let result = tokio::task::spawn_blocking(move || engine.embed(&model, &texts))
        .await
        .map_err(|e| Problem::internal(&e))??;
    let store = state.store.clone();
    let target = format!("model:{}", body.model);
    let tokens = result.prompt_tokens;
    blocking(move || {
        store.audit_event(
            &label,
            "embedding",
            &target,
            "ok",
            json!({ "inputs": hashes.len(), "prompt_tokens": tokens }),
        )
    })
    .await?;
    Ok(Json(json!({
        "object": "list",
        "model": body.model,
        "data": result.vectors.iter().enumerate().map(|(i, v)| {
            // base64: the little-endian f32 array, as the OpenAI clients expect.
            let embedding = if base64 {
                use base64::Engine as _;
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(v)
            };
            json!({ "object": "embedding", "index": i, "embedding": embedding })
        }).collect::<Vec<_>>(),
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
    })))
}
