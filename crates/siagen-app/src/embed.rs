//! Embeddings, through the same safeguards as generation: authorised first, then the egress
//! decision for the destination (the local engine, or a declared upstream such as vLLM or
//! Hugging Face TEI), so that a destination that may not receive identifying data gets the
//! pseudonymised inputs only. Audited with the inputs' SHA-256, never the texts.

use crate::egress;
use crate::{App, AppError, Result};
use serde_json::{json, Value};
use std::sync::Arc;

/// Most inputs per request.
pub const MAX_INPUTS: usize = 256;

/// An embeddings request.
pub struct EmbedRequest {
    /// Model name: a local embedding model or a declared upstream model.
    pub model: String,
    /// Texts to embed (1 to [`MAX_INPUTS`]).
    pub inputs: Vec<String>,
    /// Pseudonymous patient reference whose surrogates keep texts consistent (else the user's).
    pub patient_ref: Option<String>,
}

/// The vectors, in the order of the inputs.
pub struct Embeddings {
    /// One vector per input.
    pub vectors: Vec<Vec<f32>>,
    /// Tokens read.
    pub prompt_tokens: usize,
}

/// Embeds `req.inputs` for `actor`.
pub async fn embed(
    app: &Arc<App>,
    actor: &siagen_store::Actor,
    req: EmbedRequest,
) -> Result<Embeddings> {
    if req.inputs.is_empty() || req.inputs.len() > MAX_INPUTS {
        return Err(AppError::BadRequest(format!(
            "input must hold 1 to {MAX_INPUTS} texts"
        )));
    }
    app.authorize_clinical(actor, "embedding", "engine", "generation")
        .await?;
    let patient = egress::patient_space(actor, req.patient_ref.as_deref())?;
    let hashes: Vec<String> = req.inputs.iter().map(siagen_store::sha256_hex).collect();
    let upstreams = app
        .services
        .upstreams
        .clone()
        .filter(|u| u.serves(&req.model));
    let (result, egress_audit, upstream) = match upstreams {
        Some(u) => {
            let lease = u.pick(&req.model).ok_or_else(|| AppError::Unavailable {
                slug: "upstream-down",
                detail: format!("no healthy upstream serves '{}' right now", req.model),
                retry_after: Some(10),
            })?;
            let replica = lease.replica().clone();
            let (texts, eg) =
                egress::prepare(app, &patient, req.inputs, Some(&replica.destination())).await?;
            let body = json!({ "model": replica.upstream_model(), "input": texts,
                               "encoding_format": "float" });
            let resp = replica
                .post(&u.client, "embeddings")
                .json(&body)
                .send()
                .await
                .map_err(|e| {
                    u.mark_down(&replica);
                    tracing::warn!(url = %replica.config.url, error = %e, "upstream unreachable");
                    AppError::UpstreamUnreachable(req.model.clone())
                })?;
            let status = resp.status();
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                let detail = v
                    .get("detail")
                    .or_else(|| v.pointer("/error/message"))
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("status {status}"), str::to_string);
                return Err(AppError::Upstream {
                    model: req.model,
                    detail,
                    client_error: status.is_client_error(),
                });
            }
            let result = parse_upstream(&v, texts_len(&v)).ok_or_else(|| AppError::Upstream {
                model: req.model.clone(),
                detail: "the answer is not an OpenAI embeddings list".into(),
                client_error: false,
            })?;
            if result.vectors.len() != hashes.len() {
                return Err(AppError::Upstream {
                    model: req.model,
                    detail: format!(
                        "{} vectors for {} inputs",
                        result.vectors.len(),
                        hashes.len()
                    ),
                    client_error: false,
                });
            }
            let up = json!({ "url": replica.config.url, "operator": replica.config.operator,
                             "jurisdiction": replica.config.jurisdiction });
            (result, eg.audit, Some(up))
        }
        None => {
            let engine = app.engine()?;
            let (texts, eg) = egress::prepare(app, &patient, req.inputs, None).await?;
            let model = req.model.clone();
            let r = App::blocking(move || engine.embed(&model, &texts)).await?;
            (
                Embeddings {
                    vectors: r.vectors,
                    prompt_tokens: r.prompt_tokens,
                },
                eg.audit,
                None,
            )
        }
    };
    let store = app.store.clone();
    let (label, target) = (actor.audit_label(), format!("model:{}", req.model));
    let details = json!({ "inputs": hashes.len(), "inputs_sha256": hashes,
        "prompt_tokens": result.prompt_tokens, "egress": egress_audit, "upstream": upstream });
    App::blocking(move || store.audit_event(&label, "embedding", &target, "ok", details)).await?;
    Ok(result)
}

fn texts_len(v: &Value) -> usize {
    v["data"].as_array().map_or(0, Vec::len)
}

/// The vectors of an OpenAI embeddings answer, ordered by `index`.
fn parse_upstream(v: &Value, n: usize) -> Option<Embeddings> {
    let mut vectors = vec![Vec::new(); n];
    for item in v["data"].as_array()? {
        let i = item["index"].as_u64()? as usize;
        let e: Vec<f32> = item["embedding"]
            .as_array()?
            .iter()
            .map(|x| x.as_f64().map(|f| f as f32))
            .collect::<Option<_>>()?;
        *vectors.get_mut(i)? = e;
    }
    Some(Embeddings {
        vectors,
        prompt_tokens: v["usage"]["prompt_tokens"].as_u64().unwrap_or(0) as usize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_vectors_follow_their_index() {
        let v = json!({ "data": [
            { "object": "embedding", "index": 1, "embedding": [0.5, 1.0] },
            { "object": "embedding", "index": 0, "embedding": [2.0, -1.0] } ],
            "usage": { "prompt_tokens": 7 } });
        let e = parse_upstream(&v, texts_len(&v)).unwrap();
        assert_eq!(e.vectors, vec![vec![2.0, -1.0], vec![0.5, 1.0]]);
        assert_eq!(e.prompt_tokens, 7);
        assert!(
            parse_upstream(&json!({ "data": [{ "index": 5, "embedding": [1.0] }] }), 1).is_none()
        );
        assert!(parse_upstream(&json!({ "nope": 1 }), 0).is_none());
    }
}
