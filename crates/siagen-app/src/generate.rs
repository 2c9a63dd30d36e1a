//! Text generation: the one path from a typed request to a model and back, for every
//! workflow (the OpenAI routes, sourced answers, the entailment check, and the workflows to
//! come).
//!
//! [`generate`] runs the safeguards in their fixed order:
//! 1. **authorise** the actor (clinician or validator; a refusal is audited) — before anything
//!    is read, pseudonymised, written to the vault, sent or metered;
//! 2. check the patient reference, choose the **destination** (a declared upstream replica,
//!    least busy, or the local engine);
//! 3. **egress**: the shield's policy for that destination (raw, pseudonymised, refused);
//! 4. **template** (the model's own chat template) and the **watermark** plan (local only);
//! 5. the **engine** (queued; a full queue or an overlong prompt is refused before generating)
//!    or the **upstream** (OpenAI-compatible);
//! 6. the generation's start is **audited** (model, parameters, prompt SHA-256, egress, mark);
//! 7. a worker thread (off the async executor) streams the answer back **re-identified**
//!    (linear in its length), counts **energy**, and **records** the generation at the end,
//!    cancelled generations included.
//!
//! The caller reads [`Event`]s from the returned [`Generation`], or [`Generation::collect`]s
//! them. Dropping the generation cancels it: the worker sees the closed channel, drops the
//! engine's stream (the engine stops) or the upstream's response, and records what was used.

use crate::egress::{self, Egress};
use crate::mark::MarkPlan;
use crate::meter::{finish_str, Meter, UpstreamRecord};
use crate::{App, AppError, Result};
use serde_json::{json, Map, Value};
use siagen_engine::{
    ChatMessage, FinishReason, GenerationEvent, JsonSchema, SamplingParams, TokenEvent,
};
use std::sync::Arc;
use tokio::sync::mpsc;

/// What to generate from.
#[derive(Debug, Clone)]
pub enum Prompt {
    /// Chat messages, rendered with the model's chat template (`/v1/chat/completions`).
    Chat(Vec<ChatMessage>),
    /// A raw prompt (`/v1/completions`).
    Text(String),
}

impl Prompt {
    fn route(&self) -> &'static str {
        match self {
            Prompt::Chat(_) => "chat",
            Prompt::Text(_) => "completion",
        }
    }

    fn texts(&self) -> Vec<String> {
        match self {
            Prompt::Chat(m) => m.iter().map(|m| m.content.clone()).collect(),
            Prompt::Text(t) => vec![t.clone()],
        }
    }

    /// As messages (a raw prompt is one `prompt` message).
    fn as_messages(&self) -> Vec<ChatMessage> {
        match self {
            Prompt::Chat(m) => m.clone(),
            Prompt::Text(t) => vec![ChatMessage {
                role: "prompt".into(),
                content: t.clone(),
            }],
        }
    }

    fn with_texts(self, texts: Vec<String>) -> Prompt {
        match self {
            Prompt::Chat(msgs) => Prompt::Chat(
                msgs.into_iter()
                    .zip(texts)
                    .map(|(m, content)| ChatMessage {
                        role: m.role,
                        content,
                    })
                    .collect(),
            ),
            Prompt::Text(_) => Prompt::Text(texts.into_iter().next().unwrap_or_default()),
        }
    }
}

/// One generation request, already validated for its form.
pub struct GenerateRequest {
    /// Model name: a local model or a declared upstream model.
    pub model: String,
    /// Messages or raw prompt.
    pub prompt: Prompt,
    /// Sampling of the local engine.
    pub params: SamplingParams,
    /// JSON schema the local engine's output is constrained to (`response_format`).
    pub schema: Option<Arc<JsonSchema>>,
    /// Pseudonymous patient reference whose surrogates keep texts consistent (else the user's).
    pub patient_ref: Option<String>,
    /// Fields sent as given to an upstream (sampling, `response_format`, logprobs…); the model
    /// and the texts are set here, after the egress decision.
    pub upstream_fields: Map<String, Value>,
    /// Ask an upstream to stream (local generations always stream internally).
    pub stream: bool,
}

impl GenerateRequest {
    /// A request with default sampling and nothing else.
    pub fn new(model: impl Into<String>, prompt: Prompt, params: SamplingParams) -> Self {
        GenerateRequest {
            model: model.into(),
            prompt,
            params,
            schema: None,
            patient_ref: None,
            upstream_fields: Map::new(),
            stream: false,
        }
    }
}

/// How a generation ended.
#[derive(Debug, Clone)]
pub struct Finished {
    /// `stop`, `length` (or `cancelled`, never seen by a consumer that stayed).
    pub finish_reason: String,
    /// Prompt tokens.
    pub prompt_tokens: usize,
    /// Generated tokens.
    pub completion_tokens: usize,
    /// Energy of the generation (`{"wh", "joules", "co2e_g", "method", "basis"}`), when metered.
    pub energy: Option<Value>,
    /// SHA-256 of the local model file.
    pub model_sha256: String,
    /// Set when a constrained output does not match its schema (a bug: never pass it on).
    pub off_schema: Option<String>,
    /// A non-streamed upstream's whole answer, re-identified, model and id rewritten.
    pub upstream_response: Option<Value>,
}

impl Finished {
    /// The model version recorded with a draft and answered as OpenAI's `system_fingerprint`:
    /// `siagen-` and 12 hex digits of the local model file's SHA-256, else the upstream's own
    /// fingerprint, else `unknown`.
    pub fn fingerprint(&self) -> String {
        if !self.model_sha256.is_empty() {
            let sha = &self.model_sha256;
            return format!("siagen-{}", &sha[..12.min(sha.len())]);
        }
        self.upstream_response
            .as_ref()
            .and_then(|v| v["system_fingerprint"].as_str())
            .unwrap_or("unknown")
            .to_string()
    }
}

/// What a generation yields, in order: text, then exactly one `Done` or `Failed`.
#[derive(Debug)]
pub enum Event {
    /// Answer text, re-identified (may be empty while a surrogate is held back), with the local
    /// token it comes from (`None` for held-back text released at the end, and for upstreams).
    Token {
        /// Text to show.
        text: String,
        /// The local token and its log-probabilities.
        token: Option<TokenEvent>,
    },
    /// A streamed upstream chunk (OpenAI format), its text re-identified, model and id
    /// rewritten.
    Chunk(Value),
    /// The end.
    Done(Finished),
    /// The generation failed midway.
    Failed(AppError),
}

/// A started generation.
pub struct Generation {
    /// Generation id (`chatcmpl-…` / `cmpl-…`), recorded and audited.
    pub id: String,
    /// Model name as asked.
    pub model: String,
    /// Unix time of the start.
    pub created: u64,
    /// Who runs it, for an upstream (`operator`): siagen does not sample, so cannot mark.
    pub upstream_operator: Option<String>,
    /// Exactly the messages the model received, after the egress decision (pseudonymised
    /// where its destination may not receive identifiers); a raw prompt is one `prompt`
    /// message. What a clinician or a DPO is shown as « ce que le modèle a reçu ».
    pub model_input: Vec<ChatMessage>,
    rx: mpsc::Receiver<Event>,
}

/// A whole generation.
#[derive(Debug)]
pub struct Completed {
    /// Generation id.
    pub id: String,
    /// Model name.
    pub model: String,
    /// Unix time of the start.
    pub created: u64,
    /// The whole answer, re-identified.
    pub text: String,
    /// The local tokens (log-probabilities).
    pub tokens: Vec<TokenEvent>,
    /// How it ended.
    pub finished: Finished,
    /// The messages the model received (see [`Generation::model_input`]).
    pub model_input: Vec<ChatMessage>,
}

impl Generation {
    /// The next event; `None` after `Done` or `Failed`.
    pub async fn next(&mut self) -> Option<Event> {
        self.rx.recv().await
    }

    /// Waits for the whole answer.
    pub async fn collect(mut self) -> Result<Completed> {
        let mut text = String::new();
        let mut tokens = vec![];
        while let Some(ev) = self.rx.recv().await {
            match ev {
                Event::Token { text: t, token } => {
                    text.push_str(&t);
                    tokens.extend(token);
                }
                Event::Chunk(_) => {}
                Event::Done(finished) => {
                    return Ok(Completed {
                        id: self.id,
                        model: self.model,
                        created: self.created,
                        text,
                        tokens,
                        finished,
                        model_input: self.model_input,
                    })
                }
                Event::Failed(e) => return Err(e),
            }
        }
        Err(AppError::internal("generation ended without a final event"))
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn new_id(route: &str) -> String {
    use rand::Rng;
    let prefix = if route == "chat" { "chatcmpl" } else { "cmpl" };
    format!("{prefix}-{:024x}", rand::thread_rng().gen::<u128>() >> 32)
}

/// The sampling of an OpenAI request that sets nothing: temperature 1, no top-k, top-p 1,
/// no min-p, no token limit but the context. Workflows start from it and set what they need.
pub fn api_sampling() -> SamplingParams {
    SamplingParams {
        temperature: 1.0,
        top_k: 0,
        top_p: 1.0,
        min_p: 0.0,
        max_tokens: None,
        ..SamplingParams::default()
    }
}

/// The sampling parameters as audited (never the texts).
pub fn audit_params(p: &SamplingParams) -> Value {
    json!({
        "temperature": p.temperature, "top_p": p.top_p, "top_k": p.top_k, "min_p": p.min_p,
        "max_tokens": p.max_tokens, "seed": p.seed, "stop_count": p.stop.len(),
        "frequency_penalty": p.penalties.frequency, "presence_penalty": p.penalties.presence,
        "repetition_penalty": p.penalties.repetition,
    })
}

/// Why an upstream generation carries no siagen watermark (the audit says so).
const UPSTREAM_UNMARKED: &str = "upstream engine: siagen does not sample, so cannot mark";

/// Starts a generation for `actor`; see the module documentation for the order of the steps.
pub async fn generate(
    app: &Arc<App>,
    actor: &siagen_store::Actor,
    req: GenerateRequest,
) -> Result<Generation> {
    app.authorize_clinical(actor, "generation", "engine", "generation")
        .await?;
    let patient = egress::patient_space(actor, req.patient_ref.as_deref())?;
    if let Some(u) = app
        .services
        .upstreams
        .as_ref()
        .filter(|u| u.serves(&req.model))
    {
        return generate_upstream(app, actor, u.clone(), &patient, req).await;
    }
    generate_local(app, actor, &patient, req).await
}

async fn generate_local(
    app: &Arc<App>,
    actor: &siagen_store::Actor,
    patient: &str,
    req: GenerateRequest,
) -> Result<Generation> {
    let engine = app.engine()?;
    let route = req.prompt.route();
    let (texts, eg) = egress::prepare(app, patient, req.prompt.texts(), None).await?;
    let prompt = req.prompt.with_texts(texts);
    let model_input = prompt.as_messages();
    let GenerateRequest {
        model,
        params,
        schema,
        ..
    } = req;
    let audit = audit_params(&params);
    // Every local generation is watermarked unless the configuration says otherwise.
    let (marker, mark) = match &app.services.mark {
        Some(m) => m.plan(&model, &params),
        None => (None, MarkPlan::none("watermarking not configured")),
    };
    let (e, m, constraint) = (engine.clone(), model.clone(), schema.clone());
    // Templating, tokenizing and queueing are synchronous: off the async workers.
    let (stream, prompt_sha) = App::blocking(move || {
        let text = match prompt {
            Prompt::Chat(msgs) => e.chat_prompt(&m, &msgs)?,
            Prompt::Text(t) => t,
        };
        let sha = siagen_store::sha256_hex(&text);
        let mut request = siagen_engine::GenerateRequest::new(m.clone(), text, params);
        request.processors.extend(marker);
        // The grammar mask goes last, so no processor's `process` can undo it.
        if let Some(s) = constraint {
            request.processors.push(Box::new(e.json_constraint(&m, s)?));
        }
        Ok::<_, siagen_engine::EngineError>((e.generate(request)?, sha))
    })
    .await?;
    let prompt_tokens = stream.prompt_tokens();
    let span = app.services.energy.as_ref().map(|e| {
        let span = e.accountant.begin(&model);
        span.add_work(prompt_tokens as u64);
        span
    });
    let id = new_id(route);
    let store = app.store.clone();
    let (label, target, gen_id) = (actor.audit_label(), format!("model:{model}"), id.clone());
    let details = json!({ "route": route, "generation_id": gen_id, "prompt_sha256": prompt_sha,
        "prompt_tokens": prompt_tokens, "parameters": audit, "egress": eg.audit,
        "mark": mark.audit() });
    App::blocking(move || store.audit_event(&label, "generation", &target, "ok", details)).await?;
    let meter = Meter {
        app: app.clone(),
        actor: actor.clone(),
        id: id.clone(),
        model: model.clone(),
        route,
        span,
        started: std::time::Instant::now(),
        prompt_tokens,
        generated: Default::default(),
        mark,
    };
    let (tx, rx) = mpsc::channel(64);
    tokio::task::spawn_blocking(move || run_local(stream, meter, eg, schema, tx));
    Ok(Generation {
        id,
        model,
        created: now_secs(),
        upstream_operator: None,
        model_input,
        rx,
    })
}

/// The worker of a local generation (a blocking thread): tokens in, re-identified text out.
fn run_local(
    mut stream: siagen_engine::GenerationStream,
    meter: Meter,
    eg: Egress,
    schema: Option<Arc<JsonSchema>>,
    tx: mpsc::Sender<Event>,
) {
    let mut reid = eg.streamer();
    let mut raw = String::new();
    loop {
        match stream.blocking_next() {
            Some(GenerationEvent::Token(t)) => {
                meter.token();
                if schema.is_some() {
                    raw.push_str(&t.text);
                }
                let text = match &mut reid {
                    Some(r) => r.push(&t.text),
                    None => t.text.clone(),
                };
                if tx
                    .blocking_send(Event::Token {
                        text,
                        token: Some(t),
                    })
                    .is_err()
                {
                    // The consumer went away: dropping the stream stops the engine.
                    drop(stream);
                    meter.finish_cancelled();
                    return;
                }
            }
            Some(GenerationEvent::Done(d)) => {
                let energy = meter.finish(&d);
                let off_schema = check_schema(&schema, &raw, d.finish_reason).err();
                if let Some(e) = &off_schema {
                    tracing::error!(error = %e, "constrained output off schema");
                }
                if let Some(rest) = reid.as_mut().map(|r| r.finish()).filter(|r| !r.is_empty()) {
                    let _ = tx.blocking_send(Event::Token {
                        text: rest,
                        token: None,
                    });
                }
                let _ = tx.blocking_send(Event::Done(Finished {
                    finish_reason: finish_str(d.finish_reason).into(),
                    prompt_tokens: d.usage.prompt_tokens,
                    completion_tokens: d.usage.completion_tokens,
                    energy,
                    model_sha256: d.model_sha256,
                    off_schema,
                    upstream_response: None,
                }));
                return;
            }
            Some(GenerationEvent::Error(e)) => {
                tracing::error!(error = %e, "generation failed mid-stream");
                meter.finish_cancelled();
                let _ = tx.blocking_send(Event::Failed(e.into()));
                return;
            }
            None => {
                meter.finish_cancelled();
                let _ = tx.blocking_send(Event::Failed(AppError::internal(
                    "generation ended without a final event",
                )));
                return;
            }
        }
    }
}

/// Defensive check that a constrained generation matches its schema. The grammar mask
/// guarantees it, so a failure is a bug. A generation cut by `max_tokens` is a prefix of a
/// valid value (finish_reason `length`, as OpenAI).
fn check_schema(
    schema: &Option<Arc<JsonSchema>>,
    text: &str,
    finish: FinishReason,
) -> std::result::Result<(), String> {
    let Some(s) = schema else { return Ok(()) };
    if finish != FinishReason::Stop {
        return Ok(());
    }
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    s.validate(&v)
}

/// Forwards a generation to the least busy healthy replica of an upstream model, after the
/// egress policy for that replica.
async fn generate_upstream(
    app: &Arc<App>,
    actor: &siagen_store::Actor,
    upstreams: Arc<crate::upstream::Upstreams>,
    patient: &str,
    req: GenerateRequest,
) -> Result<Generation> {
    let route = req.prompt.route();
    let model = req.model.clone();
    let lease = upstreams
        .pick(&model)
        .ok_or_else(|| AppError::Unavailable {
            slug: "upstream-down",
            detail: format!("no healthy upstream serves '{model}' right now"),
            retry_after: Some(10),
        })?;
    let replica = lease.replica().clone();
    let texts = req.prompt.texts();
    let prompt_sha = siagen_store::sha256_hex(texts.join("\u{1e}"));
    let (texts, eg) = egress::prepare(app, patient, texts, Some(&replica.destination())).await?;
    let mut body = req.upstream_fields;
    body.insert("model".into(), json!(replica.upstream_model()));
    let sent = req.prompt.with_texts(texts);
    let model_input = sent.as_messages();
    match sent {
        Prompt::Chat(msgs) => {
            body.insert(
                "messages".into(),
                json!(msgs
                    .iter()
                    .map(|m| json!({ "role": m.role, "content": m.content }))
                    .collect::<Vec<_>>()),
            );
        }
        Prompt::Text(t) => {
            body.insert("prompt".into(), json!(t));
        }
    }
    body.insert("stream".into(), json!(req.stream));
    body.retain(|_, v| !v.is_null());
    let id = new_id(route);
    let store = app.store.clone();
    let label = actor.audit_label();
    let details = json!({ "route": route, "generation_id": id, "prompt_sha256": prompt_sha,
        "upstream": { "url": replica.config.url, "operator": replica.config.operator,
                      "jurisdiction": replica.config.jurisdiction }, "egress": eg.audit,
        "mark": MarkPlan::none(UPSTREAM_UNMARKED).audit() });
    let target = format!("model:{model}");
    App::blocking(move || store.audit_event(&label, "generation", &target, "ok", details)).await?;
    let path = if route == "chat" {
        "chat/completions"
    } else {
        "completions"
    };
    let resp = match replica
        .post(&upstreams.client, path)
        .json(&body)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            upstreams.mark_down(&replica);
            tracing::warn!(url = %replica.config.url, error = %e, "upstream unreachable");
            return Err(AppError::UpstreamUnreachable(model));
        }
    };
    if !resp.status().is_success() {
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let detail = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                v.get("detail")
                    .or_else(|| v.pointer("/error/message"))
                    .and_then(|m| m.as_str().map(str::to_string))
            })
            .unwrap_or_else(|| format!("status {status}"));
        return Err(AppError::Upstream {
            model,
            detail,
            client_error: status.is_client_error(),
        });
    }
    let record = UpstreamRecord {
        app: app.clone(),
        actor: actor.clone(),
        id: id.clone(),
        model: model.clone(),
        route,
        operator: replica.config.operator.clone(),
    };
    let (tx, rx) = mpsc::channel(64);
    let operator = replica.config.operator.clone();
    let (gid, gmodel) = (id.clone(), model.clone());
    if req.stream {
        // The reader stays async (network); parsing and re-identification run on a worker
        // thread fed with the raw bytes.
        let (btx, brx) = mpsc::channel::<Vec<u8>>(64);
        let mut resp = resp;
        tokio::spawn(async move {
            let _lease = lease;
            while let Ok(Some(chunk)) = resp.chunk().await {
                if btx.send(chunk.to_vec()).await.is_err() {
                    return;
                }
            }
        });
        tokio::task::spawn_blocking(move || run_upstream_stream(brx, eg, record, gid, gmodel, tx));
    } else {
        tokio::spawn(async move {
            let _lease = lease;
            let v: Value = match resp.json().await {
                Ok(v) => v,
                Err(e) => {
                    let _ = tx
                        .send(Event::Failed(AppError::Upstream {
                            model: gmodel,
                            detail: e.to_string(),
                            client_error: false,
                        }))
                        .await;
                    return;
                }
            };
            let ev = App::blocking(move || {
                Ok::<_, AppError>(finish_upstream_answer(v, &eg, &record, &gid, &gmodel))
            })
            .await;
            if let Ok(evs) = ev {
                for e in evs {
                    if tx.send(e).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
    Ok(Generation {
        id,
        model,
        created: now_secs(),
        upstream_operator: Some(operator),
        model_input,
        rx,
    })
}

/// A whole upstream answer: re-identified, recorded, as events.
fn finish_upstream_answer(
    mut v: Value,
    eg: &Egress,
    record: &UpstreamRecord,
    id: &str,
    model: &str,
) -> Vec<Event> {
    v["model"] = json!(model);
    v["id"] = json!(id);
    let mut text = String::new();
    let reid = eg.reidentifier();
    if let Some(choices) = v.get_mut("choices").and_then(Value::as_array_mut) {
        for (i, c) in choices.iter_mut().enumerate() {
            for ptr in ["/message/content", "/text"] {
                if let Some(t) = c.pointer_mut(ptr) {
                    if let Some(s) = t.as_str() {
                        let restored = match &reid {
                            Some((sh, r)) => r.restore(&sh.shield, s),
                            None => s.to_string(),
                        };
                        if i == 0 {
                            text = restored.clone();
                        }
                        *t = json!(restored);
                    }
                }
            }
        }
    }
    record.record(&v["usage"], "stop");
    let finish = v
        .pointer("/choices/0/finish_reason")
        .and_then(Value::as_str)
        .unwrap_or("stop")
        .to_string();
    let usage = |k: &str| v["usage"][k].as_u64().unwrap_or(0) as usize;
    let finished = Finished {
        finish_reason: finish,
        prompt_tokens: usage("prompt_tokens"),
        completion_tokens: usage("completion_tokens"),
        energy: None,
        model_sha256: String::new(),
        off_schema: None,
        upstream_response: None,
    };
    vec![
        Event::Token { text, token: None },
        Event::Done(Finished {
            upstream_response: Some(v),
            ..finished
        }),
    ]
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

/// The worker of a streamed upstream answer: SSE bytes in, re-identified chunks out.
fn run_upstream_stream(
    mut bytes: mpsc::Receiver<Vec<u8>>,
    eg: Egress,
    record: UpstreamRecord,
    id: String,
    model: String,
    tx: mpsc::Sender<Event>,
) {
    let mut reid = eg.streamer();
    let mut buf = String::new();
    let mut usage = Value::Null;
    let mut last: Option<Value> = None;
    let mut completion = 0usize;
    let done = |usage: &Value, completion: usize| Finished {
        finish_reason: "stop".into(),
        prompt_tokens: usage["prompt_tokens"].as_u64().unwrap_or(0) as usize,
        completion_tokens: usage["completion_tokens"]
            .as_u64()
            .map_or(completion, |c| c as usize),
        energy: None,
        model_sha256: String::new(),
        off_schema: None,
        upstream_response: None,
    };
    while let Some(chunk) = bytes.blocking_recv() {
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
                        let _ = tx.blocking_send(Event::Chunk(tail));
                    }
                    record.record(&usage, "stop");
                    let _ = tx.blocking_send(Event::Done(done(&usage, completion)));
                    return;
                }
                let Ok(mut v) = serde_json::from_str::<Value>(data) else {
                    continue;
                };
                v["model"] = json!(model);
                v["id"] = json!(id);
                if !v["usage"].is_null() {
                    usage = v["usage"].clone();
                }
                for ptr in ["/choices/0/delta/content", "/choices/0/text"] {
                    if let Some(t) = v.pointer_mut(ptr) {
                        if let Some(s) = t.as_str() {
                            completion += 1;
                            if let Some(r) = reid.as_mut() {
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
                if tx.blocking_send(Event::Chunk(v)).is_err() {
                    record.record(&usage, "cancelled");
                    return;
                }
            }
        }
    }
    // The upstream closed without [DONE].
    record.record(&usage, "stop");
    let _ = tx.blocking_send(Event::Done(done(&usage, completion)));
}
