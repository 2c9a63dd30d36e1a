//! Settling a generation: its energy share, the metrics, and its `generations` row.
//! Synchronous: it runs on the generation's worker thread, never on the async executor.

use crate::mark::MarkPlan;
use crate::App;
use serde_json::{json, Value};
use siagen_engine::{DoneEvent, FinishReason};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Everything needed to settle a local generation's energy and record it when it ends.
pub(crate) struct Meter {
    pub(crate) app: Arc<App>,
    pub(crate) actor: siagen_store::Actor,
    pub(crate) id: String,
    pub(crate) model: String,
    pub(crate) route: &'static str,
    pub(crate) span: Option<siagen_energy::Span>,
    pub(crate) started: std::time::Instant,
    pub(crate) prompt_tokens: usize,
    pub(crate) generated: AtomicUsize,
    /// What marked the generation (scheme and key id, or none and why).
    pub(crate) mark: MarkPlan,
}

/// `"stop"`, `"length"` or `"cancelled"`.
pub(crate) fn finish_str(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
        FinishReason::Cancelled => "cancelled",
    }
}

impl Meter {
    /// Counts a generated token as work for the energy share.
    pub(crate) fn token(&self) {
        self.generated.fetch_add(1, Ordering::Relaxed);
        if let Some(s) = &self.span {
            s.add_work(1);
        }
    }

    /// The consumer went away (or the engine failed) mid-generation: what it consumed is still
    /// recorded.
    pub(crate) fn finish_cancelled(self) {
        let done = DoneEvent {
            finish_reason: FinishReason::Cancelled,
            usage: siagen_engine::Usage {
                prompt_tokens: self.prompt_tokens,
                completion_tokens: self.generated.load(Ordering::Relaxed),
            },
            model_id: self.model.clone(),
            model_sha256: String::new(),
            timings: Default::default(),
        };
        self.finish(&done);
    }

    /// Settles the energy, updates the metrics and records the generation; returns the energy
    /// (`{"wh", "joules", "co2e_g", "method", "basis"}`) when metered.
    pub(crate) fn finish(mut self, done: &DoneEvent) -> Option<Value> {
        let record = self.span.take().map(|s| s.finish());
        let services = &self.app.services;
        let energy = match (&record, &services.energy) {
            (Some(r), Some(e)) => {
                let _ = e.metrics.observe_record(r);
                Some(json!({ "wh": r.wh, "joules": r.joules, "co2e_g": r.co2e_g,
                             "method": r.method.kind(), "basis": r.method.detail() }))
            }
            _ => None,
        };
        if let Some(e) = &services.energy {
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
            finish_reason: finish_str(done.finish_reason).to_string(),
            joules: record.as_ref().map(|r| r.joules).unwrap_or(0.0),
            co2e_g: record.as_ref().map(|r| r.co2e_g).unwrap_or(0.0),
            energy_method: record
                .as_ref()
                .map(|r| format!("{}: {}", r.method.kind(), r.method.detail()))
                .unwrap_or_else(|| "none: energy metering off".into()),
            mark_scheme: self.mark.scheme.to_string(),
            mark_key_id: self.mark.key_id.clone(),
        };
        if let Err(e) = self.app.store.record_generation(&self.actor, &rec) {
            tracing::error!(error = %e, "cannot record a generation");
        }
        energy
    }
}

/// Records an upstream generation: its tokens, and its energy as not metered here.
pub(crate) struct UpstreamRecord {
    pub(crate) app: Arc<App>,
    pub(crate) actor: siagen_store::Actor,
    pub(crate) id: String,
    pub(crate) model: String,
    pub(crate) route: &'static str,
    pub(crate) operator: String,
}

impl UpstreamRecord {
    /// Writes the `generations` row from the upstream's `usage`. Synchronous.
    pub(crate) fn record(&self, usage: &Value, finish: &str) {
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
        if let Err(e) = self.app.store.record_generation(&self.actor, &rec) {
            tracing::error!(error = %e, "cannot record an upstream generation");
        }
    }
}
