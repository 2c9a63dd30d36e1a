//! OpenAI-compatible API: `/v1/chat/completions`, `/v1/completions` (streaming with SSE or
//! not, logprobs, seed, stop, max_tokens, response_format), `/v1/models`, `/v1/embeddings`.
//!
//! This module is the wire format only: it parses OpenAI requests into the typed requests of
//! `siagen_app::generate` and `siagen_app::embed`, and formats their results as OpenAI JSON or
//! SSE chunks. Errors are problem+json that also carry OpenAI's `error` object, so both RFC 7807
//! readers and the official `openai` clients understand them.

use crate::auth::Auth;
use crate::problem::{ApiJson, Problem};
use crate::{app_result, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use siagen_app::generate::{self as gen, Finished, GenerateRequest, Generation, Prompt};
use siagen_engine::{ChatMessage, Penalties, SamplingParams, TokenEvent};
use std::collections::HashMap;
use std::sync::Arc;

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

fn usage(f: &Finished) -> Value {
    let mut u = json!({
        "prompt_tokens": f.prompt_tokens,
        "completion_tokens": f.completion_tokens,
        "total_tokens": f.prompt_tokens + f.completion_tokens,
    });
    if let Some(e) = &f.energy {
        u["energy"] = e.clone();
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

fn json_with_energy(body: Value, energy: &Option<Value>) -> Response {
    let mut resp = Json(body).into_response();
    if let Some((k, v)) = energy.as_ref().and_then(energy_header) {
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

/// The patient whose surrogates the shield uses (`x-siagen-patient-ref`), checked by the
/// workflow.
fn patient_ref(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get("x-siagen-patient-ref")
        .map(|v| v.to_str().unwrap_or("\u{0}").to_string())
}

/// The request's sampling fields as an upstream receives them (the workflow sets the model,
/// the texts and `stream`).
fn upstream_fields(sampling: &Sampling, extra: &[(&str, Option<Value>)]) -> Map<String, Value> {
    let mut m = match serde_json::to_value(sampling) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    for (k, v) in extra {
        if let Some(v) = v {
            m.insert(k.to_string(), v.clone());
        }
    }
    m
}

/// Builds the workflow's request from the wire fields common to both routes.
fn request(
    state: &AppState,
    model: String,
    prompt: Prompt,
    sampling: &Sampling,
    params: SamplingParams,
    headers: &axum::http::HeaderMap,
    extra: &[(&str, Option<Value>)],
) -> Result<GenerateRequest, Problem> {
    // A schema is enforced by the local engine; upstreams get the field unchanged. Refused
    // before anything is done.
    let schema = if state.app.is_upstream_model(&model) {
        None
    } else {
        sampling.response_schema()?
    };
    let mut req = GenerateRequest::new(model, prompt, params);
    req.schema = schema;
    req.patient_ref = patient_ref(headers);
    req.upstream_fields = upstream_fields(sampling, extra);
    req.stream = sampling.stream.unwrap_or(false);
    Ok(req)
}

/// A generation run: answered already (SSE stream, an upstream's whole answer), or a whole
/// local answer for the caller to format.
enum Ran {
    Answered(Response),
    Local(gen::Completed),
}

/// Starts the generation; a streamed one is answered as SSE, a whole one collected (an
/// upstream's answer is passed on as it came, re-identified; an output off its schema is a
/// server error, never passed on).
async fn run(
    state: &AppState,
    actor: &siagen_store::Actor,
    req: GenerateRequest,
    sampling: &Sampling,
    shape: Shape,
    logprobs: bool,
    token_logprobs: impl Fn(&TokenEvent) -> Value + Send + 'static,
) -> Result<Ran, Problem> {
    let streaming = req.stream;
    let g = app_result(gen::generate(&state.app, actor, req).await)?;
    if streaming {
        let include_usage = sampling
            .stream_options
            .as_ref()
            .is_some_and(|o| o.include_usage);
        return Ok(Ran::Answered(sse_response(
            shape,
            g,
            include_usage,
            logprobs,
            token_logprobs,
        )));
    }
    let done = app_result(g.collect().await)?;
    if let Some(v) = &done.finished.upstream_response {
        return Ok(Ran::Answered(Json(v.clone()).into_response()));
    }
    if let Some(e) = &done.finished.off_schema {
        return Err(Problem::internal(&format!("output off schema: {e}")));
    }
    Ok(Ran::Local(done))
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
    let logprobs = params.logprobs || params.top_logprobs > 0;
    let msgs = messages(body.messages)?;
    let req = request(
        &state,
        body.model,
        Prompt::Chat(msgs),
        &body.sampling,
        params,
        &headers,
        &[
            ("logprobs", body.logprobs.map(|l| json!(l))),
            ("top_logprobs", body.top_logprobs.map(|t| json!(t))),
        ],
    )?;
    let done = match run(
        &state,
        &actor,
        req,
        &body.sampling,
        Shape::Chat,
        logprobs,
        chat_logprobs,
    )
    .await?
    {
        Ran::Answered(r) => return Ok(r),
        Ran::Local(done) => done,
    };
    let f = &done.finished;
    let lp = logprobs
        .then(|| json!({ "content": done.tokens.iter().map(token_logprob).collect::<Vec<_>>() }));
    Ok(json_with_energy(
        json!({
            "id": done.id, "object": "chat.completion", "created": done.created,
            "model": done.model,
            "system_fingerprint": f.fingerprint(),
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": done.text },
                          "logprobs": lp, "finish_reason": f.finish_reason }],
            "usage": usage(f),
        }),
        &f.energy,
    ))
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
    let logprobs = params.logprobs || params.top_logprobs > 0;
    let req = request(
        &state,
        body.model,
        Prompt::Text(prompt),
        &body.sampling,
        params,
        &headers,
        &[("logprobs", body.logprobs.map(|l| json!(l)))],
    )?;
    let done = match run(
        &state,
        &actor,
        req,
        &body.sampling,
        Shape::Completion,
        logprobs,
        |t| legacy_logprobs(std::slice::from_ref(t)),
    )
    .await?
    {
        Ran::Answered(r) => return Ok(r),
        Ran::Local(done) => done,
    };
    let f = &done.finished;
    Ok(json_with_energy(
        json!({
            "id": done.id, "object": "text_completion", "created": done.created,
            "model": done.model,
            "choices": [{ "index": 0, "text": done.text,
                          "logprobs": if logprobs { legacy_logprobs(&done.tokens) } else { Value::Null },
                          "finish_reason": f.finish_reason }],
            "usage": usage(f),
        }),
        &f.energy,
    ))
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
/// Streams a generation as SSE: for a local model, the role chunk, one chunk per token (its
/// text re-identified by the workflow), held-back text, the final chunk with the finish reason,
/// the usage chunk when asked; for an upstream, its own chunks; then `[DONE]`. A client that
/// goes away drops the generation, which cancels it (and the workflow still records it).
fn sse_response(
    shape: Shape,
    mut g: Generation,
    include_usage: bool,
    logprobs: bool,
    token_logprobs: impl Fn(&TokenEvent) -> Value + Send + 'static,
) -> Response {
    let events = async_stream(move |tx| async move {
        let local = g.upstream_operator.is_none();
        let (id, model, created) = (g.id.clone(), g.model.clone(), g.created);
        let chunk = |choices: Value| json!({ "id": id, "object": shape.object(), "created": created, "model": model, "choices": choices });
        if let (true, Shape::Chat) = (local, shape) {
            let head = chunk(
                json!([{ "index": 0, "delta": { "role": "assistant", "content": "" }, "logprobs": null, "finish_reason": null }]),
            );
            if tx.send(sse(head)).await.is_err() {
                return;
            }
        }
        while let Some(ev) = g.next().await {
            let out = match ev {
                gen::Event::Token { text, token } => {
                    if token.is_none() && text.is_empty() {
                        continue;
                    }
                    let lp = match (&token, logprobs) {
                        (Some(t), true) => token_logprobs(t),
                        _ => Value::Null,
                    };
                    vec![chunk(json!([shape.choice(Some(&text), lp, None)]))]
                }
                gen::Event::Chunk(v) => vec![v],
                gen::Event::Done(f) if local => {
                    let mut tail = vec![];
                    if f.off_schema.is_some() {
                        tail.push(json!({ "error": { "message": "generated text does not match the response_format schema", "type": "server_error" } }));
                    }
                    tail.push(chunk(json!([shape.choice(
                        None,
                        Value::Null,
                        Some(&f.finish_reason)
                    )])));
                    if include_usage {
                        let mut u = chunk(json!([]));
                        u["usage"] = usage(&f);
                        tail.push(u);
                    }
                    tail
                }
                gen::Event::Done(_) => vec![],
                gen::Event::Failed(e) => {
                    tracing::error!(error = %e, "generation failed mid-stream");
                    vec![
                        json!({ "error": { "message": "generation failed", "type": "server_error" } }),
                    ]
                }
            };
            for c in out {
                if tx.send(sse(c)).await.is_err() {
                    // Client gone: dropping the generation cancels it.
                    return;
                }
            }
        }
        let _ = tx.send(Ok(Event::default().data("[DONE]"))).await;
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

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
    if state.app.services.engine.is_none() && state.app.services.upstreams.is_none() {
        return Err(app_result::<()>(state.app.engine().map(|_| ())).unwrap_err());
    }
    let list = app_result(state.app.models().await)?;
    let data: Vec<Value> = list
        .iter()
        .map(|m| match m {
            siagen_app::ModelEntry::Local(m) => json!({
                "id": m.name, "object": "model", "created": 0, "owned_by": "siagen",
                "siagen": m,
            }),
            siagen_app::ModelEntry::Upstream { name, replicas } => json!({
                "id": name, "object": "model", "created": 0, "owned_by": "upstream",
                "upstreams": replicas.iter().map(|(operator, jurisdiction, may, healthy)| json!({
                    "operator": operator, "jurisdiction": jurisdiction,
                    "may_receive_identifying": may, "healthy": healthy,
                })).collect::<Vec<_>>(),
            }),
        })
        .collect();
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
    headers: axum::http::HeaderMap,
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
    let req = siagen_app::embed::EmbedRequest {
        model: body.model.clone(),
        inputs: body.input.into_vec(),
        patient_ref: patient_ref(&headers),
    };
    let result = app_result(siagen_app::embed::embed(&state.app, &actor, req).await)?;
    let tokens = result.prompt_tokens;
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
