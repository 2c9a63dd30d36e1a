//! Sourced answers: `POST /api/ask` answers a question from a knowledge-base collection, citing
//! the numbered passages it used, with a claim check of every sentence; `POST /api/ask/save`
//! keeps an answer as a draft document of kind « réponse sourcée » with its sources (in its text,
//! and as data: `GET /api/documents/{id}/sources`), which then goes through the human validation
//! workflow like any other draft.
//!
//! Pipeline of one question:
//! 1. authorisation (clinician or validator), audited when refused;
//! 2. retrieval in the collection with the question as typed, less the identifiers the shield
//!    detects (they never help find a passage): the knowledge base is local (same process, same
//!    data directory), so no text leaves siagen at this step. When a reranker is configured
//!    (`kb_reranker_model`), it then re-orders the best fused passages: it is a local model and
//!    reads that same query, never the question as typed (no shield, no reranking);
//! 3. when the best passage's relevance is under `kb_min_relevance`, the answer says that the
//!    corpus does not cover the question, **without generating**;
//! 4. otherwise the passages are numbered and the prompt (passages + question) goes to the model
//!    through [`crate::generate::generate`], the path of every generation: the privacy shield's
//!    egress policy, the generation audit, metering, energy and re-identification are exactly
//!    those of `/v1/chat/completions`, local engine or declared upstream alike;
//! 5. the answer's citations are parsed and every sentence is checked against the passages it
//!    cites (`siagen_kb::claim`);
//! 6. the ask is audited with ids and hashes only (question SHA-256, chunk ids, generation id,
//!    verdict counts), never the question or the answer.
//!
//! Saving takes the generation id of an answer given to the same person in the last
//! [`RECENT_TTL`]: the server keeps each answer in the store (`Store::audit_with_pending`, in the
//! transaction of the ask's audit entry), so the saved text and sources are the ones the model
//! and the retrieval produced, not what a client sends back, and a restart loses none.

use crate::generate::{generate, Completed, GenerateRequest, Prompt};
use crate::{App, AppError, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use siagen_engine::{ChatMessage, SamplingParams};

use siagen_kb::claim::{Check, Entailment, Passages, Verdict};
use siagen_kb::{Hit, SearchQuery, Viewer};
use siagen_store::{Actor, DocumentKind, ModelAuthor, NewDocument};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The answer when retrieval finds nothing relevant enough.
pub const NOT_COVERED: &str = "Le corpus ne couvre pas cette question.";

/// How long an answer can be saved after it was given.
pub const RECENT_TTL: Duration = Duration::from_secs(2 * 3600);
const MAX_QUESTION_CHARS: usize = 4000;
const DEFAULT_K: usize = 6;
const MAX_K: usize = 20;
const MAX_TOKENS: u32 = 512;

const SYSTEM_PROMPT: &str = "Tu es un assistant documentaire pour des professionnels de santé. \
Réponds en français, uniquement à partir des passages numérotés fournis. Après chaque phrase, \
cite entre crochets le ou les numéros des passages qui l'étayent, par exemple [1] ou [2, 3]. \
N'invente rien : si les passages ne permettent pas de répondre à une partie de la question, \
dis-le explicitement (« Les passages ne précisent pas … »). Sois bref et factuel.";

/// `POST /api/ask` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AskBody {
    /// The question, in French.
    pub question: String,
    /// The collection to answer from.
    pub collection: String,
    /// Passages retrieved (1 to 20, default 6).
    #[serde(default)]
    pub k: Option<usize>,
    /// Model name (default: the first local chat model).
    #[serde(default)]
    pub model: Option<String>,
    /// Largest answer, in tokens (default 512).
    #[serde(default)]
    pub max_tokens: Option<u32>,
}

/// One sentence of the answer with its citations and verdict.
#[derive(Serialize, Clone)]
pub struct SentenceOut {
    pub text: String,
    pub citations: Vec<usize>,
    pub invalid_citations: Vec<usize>,
    pub verdict: Verdict,
    pub score: f32,
    pub reasons: Vec<siagen_kb::claim::Reason>,
}

/// One numbered passage given to the model.
#[derive(Serialize, Deserialize, Clone)]
pub struct SourceOut {
    pub n: usize,
    pub title: String,
    pub page: Option<u32>,
    pub heading: Option<String>,
    pub licence: String,
    pub publisher: Option<String>,
    pub date: Option<String>,
    pub source: String,
    pub document_id: String,
    pub chunk_id: String,
    pub relevance: f32,
    /// The reranker's score, when `kb_reranker_model` re-ordered the passages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rerank: Option<f32>,
    pub text: String,
}

/// The response of `POST /api/ask`.
#[derive(Serialize, Clone)]
pub struct AskAnswer {
    pub question_sha256: String,
    pub collection: String,
    pub covered: bool,
    /// Set when not covered.
    pub message: Option<String>,
    pub answer: String,
    pub sentences: Vec<SentenceOut>,
    pub sources: Vec<SourceOut>,
    pub model: Option<String>,
    pub generation_id: Option<String>,
    /// Relevance of the best passage, and the threshold it was compared with.
    pub best_relevance: f32,
    pub min_relevance: f32,
    /// Verdict counts.
    pub summary: Value,
}

/// What `/api/ask/save` needs of an answer, kept in the store under its generation id.
#[derive(Serialize, Deserialize)]
struct Saveable {
    question: String,
    answer: String,
    sources: Vec<SourceOut>,
    model: Option<String>,
    generation_id: String,
    version: String,
    parameters: Value,
}

fn bad(detail: impl Into<String>) -> AppError {
    AppError::BadRequest(detail.into())
}

/// The knowledge-base viewer for a store actor.
pub fn viewer(actor: &Actor) -> Viewer {
    Viewer {
        user_id: actor.user_id.unwrap_or(0),
        user_name: actor.name.clone(),
        admin: actor.roles.has(siagen_store::Role::Admin),
    }
}

/// The collections `actor` may ask.
pub async fn collections(app: &App, actor: &Actor) -> Vec<String> {
    let Some(kb) = app.services.kb.clone() else {
        return vec![];
    };
    let viewer = viewer(actor);
    App::blocking(move || kb.collections(&viewer))
        .await
        .map(|cs| cs.into_iter().map(|c| c.name).collect())
        .unwrap_or_default()
}

fn source_label(s: &SourceOut) -> String {
    let mut label = s.title.clone();
    if let Some(p) = s.page {
        label.push_str(&format!(", p. {p}"));
    }
    if let Some(h) = s.heading.as_ref().filter(|h| **h != s.title) {
        label.push_str(&format!(" — {h}"));
    }
    label
}

/// The user message: numbered passages, then the question.
fn user_prompt(sources: &[SourceOut], question: &str) -> String {
    let mut p = String::from("Passages :\n");
    for s in sources {
        p.push_str(&format!(
            "\n[{}] ({})\n{}\n",
            s.n,
            source_label(s),
            s.text.trim()
        ));
    }
    p.push_str(&format!("\nQuestion : {}\n", question.trim()));
    p
}

fn summary(sentences: &[SentenceOut]) -> Value {
    let count = |v: Verdict| sentences.iter().filter(|s| s.verdict == v).count();
    json!({
        "supported": count(Verdict::Supported), "partial": count(Verdict::Partial),
        "unsupported": count(Verdict::Unsupported), "not_a_claim": count(Verdict::NotAClaim),
    })
}

/// Answers one question for `actor` (the API and the `/questions` page). `patient_ref` names
/// the patient whose surrogates the shield uses, when the question concerns one.
pub async fn answer(
    app: &Arc<App>,
    actor: &Actor,
    patient_ref: Option<String>,
    body: AskBody,
) -> Result<AskAnswer> {
    let question = body.question.trim().to_string();
    let collection = body.collection.trim().to_string();
    if question.is_empty() {
        return Err(bad("question must not be empty"));
    }
    if question.chars().count() > MAX_QUESTION_CHARS {
        return Err(bad(format!(
            "question must be at most {MAX_QUESTION_CHARS} characters"
        )));
    }
    let valid_name = collection.chars().count() <= 64
        && collection
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if collection.is_empty() || !valid_name {
        return Err(bad(
            "collection must name a knowledge-base collection (1 to 64 letters, digits, '-', '_' or '.')",
        ));
    }
    let k = body.k.unwrap_or(DEFAULT_K);
    if !(1..=MAX_K).contains(&k) {
        return Err(bad(format!("k must be between 1 and {MAX_K}")));
    }
    let max_tokens = body.max_tokens.unwrap_or(MAX_TOKENS);
    if !(1..=4096).contains(&max_tokens) {
        return Err(bad("max_tokens must be between 1 and 4096"));
    }
    if let Some(p) = &patient_ref {
        crate::privacy::check_patient_ref(p)?;
    }
    let store = app.store.clone();
    let who = actor.clone();
    let target = format!("kb:{collection}");
    let t2 = target.clone();
    App::blocking(move || {
        store.authorize(&who, "kb.ask", &t2, |a| {
            a.require_clinical("asking the knowledge base")
        })
    })
    .await?;
    let kb = app
        .services
        .kb
        .clone()
        .ok_or_else(|| AppError::unavailable("no-kb", "no knowledge base is configured"))?;
    let min_relevance = app
        .services
        .kb_min_relevance
        .unwrap_or(siagen_kb::DEFAULT_MIN_RELEVANCE);
    let question_sha256 = siagen_store::sha256_hex(&question);
    let shield = app.services.shield.clone();
    let (v, typed, coll) = (viewer(actor), question.clone(), collection.clone());
    let reranker = app.services.kb_reranker.clone();
    let depth = app
        .services
        .kb_rerank_depth
        .unwrap_or(siagen_kb::DEFAULT_RERANK_DEPTH);
    let hits: Vec<Hit> = App::blocking(move || {
        let text = match &shield {
            // The question for retrieval: identifiers blanked out. They never help find a
            // guideline passage, and unknown words would only lower the relevance of the
            // passages that answer the question.
            Some(sh) => sh.shield.blank_identifiers(&typed),
            None => typed,
        };
        let query = SearchQuery::new(text, &coll, k);
        // The reranker is a local model: it reads this same query, identifiers blanked out,
        // and so only when the shield is there to blank them.
        match reranker.as_ref().filter(|_| shield.is_some()) {
            Some(r) => kb.search_reranked(&v, &query, r.as_ref(), depth),
            None => kb.search(&v, &query),
        }
    })
    .await?;
    let best_relevance = hits.iter().map(|h| h.relevance).fold(0.0f32, f32::max);
    let label = actor.audit_label();
    if best_relevance < min_relevance {
        let store = app.store.clone();
        let details = json!({ "question_sha256": question_sha256, "covered": false, "k": k,
            "hits": hits.len(), "best_relevance": best_relevance, "min_relevance": min_relevance });
        App::blocking(move || store.audit_event(&label, "kb.ask", &target, "not_covered", details))
            .await?;
        return Ok(AskAnswer {
            question_sha256,
            collection,
            covered: false,
            message: Some(NOT_COVERED.into()),
            answer: NOT_COVERED.into(),
            sentences: vec![],
            sources: vec![],
            model: None,
            generation_id: None,
            best_relevance,
            min_relevance,
            summary: summary(&[]),
        });
    }
    let mut sources: Vec<SourceOut> = hits
        .into_iter()
        .filter(|h| h.relevance >= min_relevance)
        .enumerate()
        .map(|(i, h)| SourceOut {
            n: i + 1,
            title: h.title,
            page: h.page,
            heading: h.heading,
            licence: h.licence,
            publisher: h.publisher,
            date: h.date,
            source: h.source,
            document_id: h.document_id,
            chunk_id: h.chunk_id,
            relevance: h.relevance,
            rerank: h.rerank,
            text: h.text,
        })
        .collect();
    let model = match body.model.filter(|m| !m.trim().is_empty()) {
        Some(m) => m,
        None => app
            .local_chat_models()
            .await
            .into_iter()
            .next()
            .map(|m| m.name)
            .ok_or_else(|| {
                AppError::unavailable(
                    "no-model",
                    "no chat model is installed: see `siagen model pull`",
                )
            })?,
    };
    let parameters = json!({ "temperature": 0.1, "max_tokens": max_tokens });
    // The path of every generation: shield, audit, metering and re-identification as for any
    // client. A prompt too long for the model's context is refused before anything is
    // generated; the least relevant passages are then dropped, one at a time, rather than failing.
    let done: Completed = loop {
        let messages = vec![
            ChatMessage {
                role: "system".into(),
                content: SYSTEM_PROMPT.into(),
            },
            ChatMessage {
                role: "user".into(),
                content: user_prompt(&sources, &question),
            },
        ];
        let params = SamplingParams {
            temperature: 0.1,
            max_tokens: Some(max_tokens),
            ..crate::generate::api_sampling()
        };
        let mut req = GenerateRequest::new(&model, Prompt::Chat(messages), params);
        req.patient_ref = patient_ref.clone();
        req.upstream_fields.insert("temperature".into(), json!(0.1));
        req.upstream_fields
            .insert("max_tokens".into(), json!(max_tokens));
        match generate(app, actor, req).await {
            Ok(g) => break g.collect().await?,
            Err(AppError::ContextOverflow(_)) if sources.len() > 1 => {
                sources.pop();
            }
            Err(e) => return Err(e),
        }
    };
    let text = done.text.trim().to_string();
    let generation_id = Some(done.id.clone());
    let version = done.finished.fingerprint();
    let entail = match app.services.kb_entailment_model.clone() {
        Some(m) => Some(entailment_scores(app, actor, &patient_ref, &m, &text, &sources).await),
        None => None,
    };
    let sentences = check_sentences(
        &text,
        &sources,
        entail.as_ref().map(|e| e as &dyn Entailment),
    );
    let summary = summary(&sentences);
    let store = app.store.clone();
    let details = json!({ "question_sha256": question_sha256, "covered": true, "k": k,
        "chunk_ids": sources.iter().map(|s| &s.chunk_id).collect::<Vec<_>>(),
        "best_relevance": best_relevance, "min_relevance": min_relevance,
        "reranker": app.services.kb_reranker.as_ref().filter(|_| app.services.shield.is_some())
            .map(|r| r.model().to_string()),
        "generation_id": generation_id, "answer_sha256": siagen_store::sha256_hex(&text),
        "verdicts": summary });
    // The answer, kept for saving in the transaction of the ask's audit entry.
    let saveable = match (actor.user_id, &generation_id) {
        (Some(user_id), Some(g)) => Some((
            user_id,
            g.clone(),
            serde_json::to_value(Saveable {
                question: question.clone(),
                answer: text.clone(),
                sources: sources.clone(),
                model: Some(model.clone()),
                generation_id: g.clone(),
                version: version.clone(),
                parameters: parameters.clone(),
            })
            .map_err(AppError::internal)?,
        )),
        _ => None,
    };
    let ttl = chrono::Duration::from_std(RECENT_TTL).expect("a 2-hour TTL");
    App::blocking(move || match saveable {
        Some((user_id, key, payload)) => store.audit_with_pending(
            &label, "kb.ask", &target, details, user_id, &key, &payload, ttl,
        ),
        None => store.audit_event(&label, "kb.ask", &target, "ok", details),
    })
    .await?;
    Ok(AskAnswer {
        question_sha256,
        collection,
        covered: true,
        message: None,
        answer: text,
        sentences,
        sources,
        model: Some(model),
        generation_id,
        best_relevance,
        min_relevance,
        summary,
    })
}

/// Entailment scores computed before the (synchronous) claim check, by (premise, hypothesis).
struct Precomputed(HashMap<(String, String), f32>);

impl Entailment for Precomputed {
    fn score(&self, premise: &str, hypothesis: &str) -> f32 {
        self.0
            .get(&(premise.to_string(), hypothesis.to_string()))
            .copied()
            .unwrap_or(f32::NAN)
    }
}

/// Most (passage, sentence) pairs scored per answer: each is one short generation.
const MAX_ENTAILMENT_PAIRS: usize = 32;

const ENTAILMENT_PROMPT: &str = "Tu vérifies des affirmations. Réponds uniquement par « oui » \
si le passage implique l'affirmation, sinon par « non ».";

/// Asks `model` whether each cited passage entails the sentence citing it: one token, its
/// probability of « oui » against « non » (from the log-probabilities). Each question goes
/// through [`generate`], so the shield, the audit and the metering apply as to the answer.
/// A pair the model cannot score (error, neither word among its likely tokens) is left out.
async fn entailment_scores(
    app: &Arc<App>,
    actor: &Actor,
    patient_ref: &Option<String>,
    model: &str,
    answer: &str,
    sources: &[SourceOut],
) -> Precomputed {
    let mut out = HashMap::new();
    let sentences = siagen_kb::cite::parse_answer(answer, sources.len());
    let mut pairs: Vec<(String, String)> = vec![];
    for s in &sentences {
        for n in &s.citations {
            pairs.push((sources[n - 1].text.clone(), s.text.clone()));
        }
    }
    pairs.truncate(MAX_ENTAILMENT_PAIRS);
    // A local model's « oui » / « non » tokens (none for an upstream: its words are read).
    let answer_ids = match (&app.services.engine, app.is_upstream_model(model)) {
        (Some(engine), false) => {
            let (e, m) = (engine.clone(), model.to_string());
            match App::blocking(move || Ok::<_, AppError>(yes_no_tokens(&e, &m))).await {
                Ok(Ok(ids)) => Some(ids),
                Ok(Err(e)) | Err(AppError::Internal(e)) => {
                    tracing::warn!(error = %e, "entailment model has no « oui » / « non » tokens");
                    return Precomputed(HashMap::new());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "entailment model unavailable");
                    return Precomputed(HashMap::new());
                }
            }
        }
        _ => None,
    };
    for (premise, hypothesis) in pairs {
        if out.contains_key(&(premise.clone(), hypothesis.clone())) {
            continue;
        }
        let messages = vec![
            ChatMessage {
                role: "system".into(),
                content: ENTAILMENT_PROMPT.into(),
            },
            ChatMessage {
                role: "user".into(),
                content: format!(
                    "Passage : {premise}\n\nAffirmation : {hypothesis}\n\nLe passage implique-t-il l'affirmation ?"
                ),
            },
        ];
        let mut params = SamplingParams {
            temperature: 0.0,
            max_tokens: Some(1),
            logprobs: true,
            top_logprobs: 20,
            ..crate::generate::api_sampling()
        };
        // A local model: the answer tokens by id, biased alike into the top log-probabilities.
        if let Some(ids) = &answer_ids {
            params.logit_bias = ids
                .0
                .iter()
                .chain(&ids.1)
                .map(|&t| (t, ANSWER_BIAS))
                .collect();
        }
        let mut req = GenerateRequest::new(model, Prompt::Chat(messages), params);
        req.patient_ref = patient_ref.clone();
        for (k, v) in [
            ("temperature", json!(0.0)),
            ("max_tokens", json!(1)),
            ("logprobs", json!(true)),
            ("top_logprobs", json!(20)),
        ] {
            req.upstream_fields.insert(k.into(), v);
        }
        let done = match generate(app, actor, req).await {
            Ok(g) => g.collect().await,
            Err(e) => Err(e),
        };
        let done = match done {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "entailment model failed on a pair");
                continue;
            }
        };
        let p = match (
            &done.finished.upstream_response,
            done.tokens.first(),
            &answer_ids,
        ) {
            (Some(v), _, _) => yes_probability(v),
            (None, Some(t), Some((yes, no))) => yes_share_by_id(&t.top, yes, no),
            (None, Some(t), None) => yes_share_of(
                t.top
                    .iter()
                    .map(|c| (c.text.as_str(), f64::from(c.logprob))),
            ),
            (None, None, _) => None,
        };
        if let Some(p) = p {
            out.insert((premise.clone(), hypothesis.clone()), p);
        }
    }
    Precomputed(out)
}

/// Bias added to every « oui » and « non » token of a local model's one-token answer: the same
/// for all, so P(oui) / (P(oui) + P(non)) is unchanged, and both words reach the top
/// log-probabilities even for a small model that would rather start a sentence.
pub const ANSWER_BIAS: f32 = 100.0;

/// First tokens of the usual spellings of « oui » and « non » in a local model's vocabulary; a
/// token that starts both (a lone space, say) tells nothing and is left out.
pub fn yes_no_tokens(
    engine: &siagen_engine::Engine,
    model: &str,
) -> std::result::Result<(Vec<u32>, Vec<u32>), String> {
    let first = |words: &[&str]| -> std::result::Result<Vec<u32>, String> {
        let mut ids = Vec::new();
        for w in words {
            let tokens = engine
                .tokenize_with(model, w, false, false)
                .map_err(|e| e.to_string())?;
            if let Some(&t) = tokens.first() {
                if !ids.contains(&t) {
                    ids.push(t);
                }
            }
        }
        Ok(ids)
    };
    let yes = first(&["oui", " oui", "Oui", " Oui", "OUI"])?;
    let no = first(&["non", " non", "Non", " Non", "NON"])?;
    let only = |a: &[u32], b: &[u32]| -> Vec<u32> {
        a.iter().filter(|t| !b.contains(t)).copied().collect()
    };
    let (yes, no) = (only(&yes, &no), only(&no, &yes));
    if yes.is_empty() || no.is_empty() {
        return Err(format!(
            "{model}: « oui » and « non » start with the same tokens"
        ));
    }
    Ok((yes, no))
}

/// P(« oui ») / (P(« oui ») + P(« non »)) among a token's top log-probabilities, « oui » and
/// « non » known by their token ids (see [`yes_no_tokens`]); `None` when neither is there.
pub fn yes_share_by_id(top: &[siagen_engine::TopLogprob], yes: &[u32], no: &[u32]) -> Option<f32> {
    siagen_kb::yes_share(top.iter().map(|t| {
        let answer = if yes.contains(&t.id) {
            Some(true)
        } else if no.contains(&t.id) {
            Some(false)
        } else {
            None
        };
        (answer, f64::from(t.logprob))
    }))
}

/// P(« oui ») / (P(« oui ») + P(« non »)) among (token, log-probability) candidates.
fn yes_share_of<'a>(top: impl Iterator<Item = (&'a str, f64)>) -> Option<f32> {
    siagen_kb::yes_share(top.map(|(token, logprob)| {
        let word = siagen_kb::claim::fold(token.trim());
        let answer = match word.trim_matches(|c: char| !c.is_alphanumeric()) {
            "oui" | "yes" => Some(true),
            "non" | "no" => Some(false),
            _ => None,
        };
        (answer, logprob)
    }))
}

/// P(« oui ») / (P(« oui ») + P(« non »)) among the first token's top log-probabilities.
fn yes_probability(chat: &Value) -> Option<f32> {
    let top = chat.pointer("/choices/0/logprobs/content/0/top_logprobs")?;
    yes_share_of(top.as_array()?.iter().map(|t| {
        (
            t["token"].as_str().unwrap_or(""),
            t["logprob"].as_f64().unwrap_or(f64::NEG_INFINITY),
        )
    }))
}

/// Splits the answer into sentences, parses their citations and checks each one.
fn check_sentences(
    text: &str,
    sources: &[SourceOut],
    entailment: Option<&dyn Entailment>,
) -> Vec<SentenceOut> {
    let parsed = siagen_kb::cite::parse_answer(text, sources.len());
    let texts: Vec<&str> = sources.iter().map(|s| s.text.as_str()).collect();
    let passages = Passages::new(&texts);
    parsed
        .into_iter()
        .map(|s| {
            let Check {
                verdict,
                score,
                reasons,
                ..
            } = passages.check(&s, entailment);
            SentenceOut {
                text: s.text,
                citations: s.citations,
                invalid_citations: s.invalid,
                verdict,
                score,
                reasons,
            }
        })
        .collect()
}

/// `POST /api/ask/save` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SaveBody {
    pub generation_id: String,
    pub title: String,
    /// Pseudonymous patient reference, when the answer concerns a patient (default `general`).
    #[serde(default)]
    pub patient_ref: Option<String>,
}

/// The text of a saved answer: the question, the answer with its markers, the numbered sources;
/// and the characters of the answer in it (the model's; the rest is not generated text).
fn document_text(
    question: &str,
    answer: &str,
    sources: &[SourceOut],
) -> (String, std::ops::Range<usize>) {
    let head = format!("Question : {question}\n\n");
    let start = head.chars().count();
    let answer_chars = start..start + answer.chars().count();
    let mut t = format!("{head}{answer}\n\nSources :\n");
    for s in sources {
        let mut line = format!("[{}] {}", s.n, source_label(s));
        if let Some(p) = &s.publisher {
            line.push_str(&format!(" — {p}"));
        }
        if let Some(d) = &s.date {
            line.push_str(&format!(" ({d})"));
        }
        line.push_str(&format!(
            " — licence : {} — {} — passage {}",
            s.licence, s.source, s.chunk_id
        ));
        t.push_str(&line);
        t.push('\n');
    }
    (t, answer_chars)
}

/// Saves a recent answer of `actor` as a draft « réponse sourcée »; returns the document and
/// its sources.
pub async fn save_answer(
    app: &App,
    actor: &Actor,
    body: SaveBody,
) -> Result<(siagen_store::DocumentView, Vec<SourceOut>)> {
    let user_id = actor
        .user_id
        .ok_or_else(|| bad("only an account can save an answer"))?;
    let key = body.generation_id.trim().to_string();
    let store = app.store.clone();
    let k2 = key.clone();
    let kept = App::blocking(move || store.pending(user_id, &k2)).await?;
    let a: Saveable = kept
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(|| {
            AppError::UnknownAnswer(format!(
                "no recent answer '{key}' of yours to save (answers can be saved for {} hours)",
                RECENT_TTL.as_secs() / 3600
            ))
        })?;
    let (text, answer_chars) = document_text(&a.question, &a.answer, &a.sources);
    let new = NewDocument {
        kind: DocumentKind::ReponseSourcee,
        title: body.title,
        patient_ref: body
            .patient_ref
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| "general".into()),
        text,
        generated_by: Some(ModelAuthor {
            model: a.model.clone().unwrap_or_default(),
            version: a.version,
            parameters: a.parameters,
            seed: None,
            prompt_sha256: None,
            generation_id: Some(a.generation_id),
        }),
    };
    // The sources as data beside the text (the text holds them too, so that a validator reads
    // and validates them with the answer), written in the same transaction as the draft.
    let rows: Vec<Value> = a
        .sources
        .iter()
        .map(|s| serde_json::to_value(s).unwrap_or(Value::Null))
        .collect();
    let store = app.store.clone();
    let actor = actor.clone();
    let view = App::blocking(move || store.create_sourced_answer(&actor, new, &rows, answer_chars))
        .await?;
    Ok((view, a.sources))
}

/// The numbered sources of a sourced answer, for `actor`.
pub async fn document_sources(app: &App, actor: &Actor, id: i64) -> Result<Vec<Value>> {
    let store = app.store.clone();
    let actor = actor.clone();
    App::blocking(move || store.document_sources(&actor, id)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(n: usize, text: &str) -> SourceOut {
        SourceOut {
            n,
            title: format!("Guide {n}"),
            page: Some(n as u32),
            heading: None,
            licence: "Licence Ouverte 2.0".into(),
            publisher: None,
            date: None,
            source: "guide.pdf".into(),
            document_id: "d".into(),
            chunk_id: format!("d:{n}"),
            relevance: 1.0,
            rerank: None,
            text: text.into(),
        }
    }

    #[test]
    fn yes_probability_from_top_logprobs() {
        let v = json!({ "choices": [{ "logprobs": { "content": [{ "top_logprobs": [
            { "token": " Oui", "logprob": (0.6f64).ln() }, { "token": "non", "logprob": (0.2f64).ln() },
            { "token": "peut", "logprob": (0.2f64).ln() } ] }] } }] });
        let p = yes_probability(&v).unwrap();
        assert!((p - 0.75).abs() < 1e-5, "{p}");
        let none = json!({ "choices": [{ "logprobs": { "content": [{ "top_logprobs": [
            { "token": "peut", "logprob": 0.0 } ] }] } }] });
        assert_eq!(yes_probability(&none), None);
        assert_eq!(yes_probability(&json!({})), None);
    }

    #[test]
    fn prompt_numbers_passages_and_checks_sentences() {
        let s = vec![
            src(1, "La dose maximale de paracétamol est de 4 g par jour."),
            src(2, "Le millepertuis diminue l'effet des anticoagulants."),
        ];
        let p = user_prompt(&s, "Quelle dose ?");
        assert!(p.contains("[1] (Guide 1, p. 1)"));
        assert!(p.contains("[2] (Guide 2, p. 2)"));
        assert!(p.ends_with("Question : Quelle dose ?\n"));
        let out = check_sentences(
            "La dose maximale de paracétamol est de 4 g par jour [1]. Le millepertuis \
             augmente l'effet des anticoagulants [2]. Il faut surveiller l'INR.",
            &s,
            None,
        );
        let v: Vec<Verdict> = out.iter().map(|s| s.verdict).collect();
        assert_eq!(
            v,
            vec![
                Verdict::Supported,
                Verdict::Unsupported,
                Verdict::Unsupported
            ]
        );
        assert_eq!(summary(&out)["unsupported"], 2);
        let (doc, answer) = document_text("Quelle dose ?", "Réponse [1].", &s);
        assert!(doc.contains("[1] Guide 1, p. 1 — licence : Licence Ouverte 2.0"));
        let chars: Vec<char> = doc.chars().collect();
        let answer: String = chars[answer].iter().collect();
        assert_eq!(answer, "Réponse [1].");
    }
}
