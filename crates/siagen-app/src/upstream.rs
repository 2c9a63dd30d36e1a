//! Scale-out on existing OpenAI-compatible engines (vLLM, TGI, llama.cpp server, Ollama, another
//! siagen): the configuration maps a model name to one or several replicas; each request goes to
//! the healthy replica with the fewest requests in flight. Every replica is declared with its
//! operator, jurisdiction and whether it may receive identifying data (default: no), and the
//! privacy shield applies that decision before anything is sent. No upstream is ever called that
//! the configuration does not name.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// One declared replica, as written in the configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Model name clients ask for.
    pub model: String,
    /// Base URL of the OpenAI-compatible API, e.g. `http://10.0.0.5:8000/v1`.
    pub url: String,
    /// Model name on the upstream side (default: `model`).
    #[serde(default)]
    pub upstream_model: Option<String>,
    /// Bearer key, given directly…
    #[serde(default, skip_serializing)]
    pub api_key: Option<String>,
    /// …or read from this environment variable.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Who runs it.
    pub operator: String,
    /// Where it runs (country code).
    pub jurisdiction: String,
    /// May it receive identifying patient data? Default: no (texts are pseudonymised).
    #[serde(default)]
    pub may_receive_identifying: bool,
}

/// A replica at run time.
pub struct Replica {
    /// Its declaration.
    pub config: UpstreamConfig,
    key: Option<String>,
    in_flight: AtomicUsize,
    healthy: AtomicBool,
}

impl Replica {
    /// Requests currently sent to it.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Last health-check result.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// The privacy shield's view of this replica.
    pub fn destination(&self) -> siagen_shield::Destination {
        siagen_shield::Destination::new(
            format!("upstream:{}@{}", self.config.model, self.config.url),
            self.config.may_receive_identifying,
        )
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.config.url.trim_end_matches('/'), path)
    }

    /// Model name to send upstream.
    pub fn upstream_model(&self) -> &str {
        self.config
            .upstream_model
            .as_deref()
            .unwrap_or(&self.config.model)
    }

    /// A POST to the replica, with its key.
    pub fn post(&self, client: &reqwest::Client, path: &str) -> reqwest::RequestBuilder {
        let b = client.post(self.url(path));
        match &self.key {
            Some(k) => b.bearer_auth(k),
            None => b,
        }
    }
}

/// Counts a request in flight until dropped.
pub struct Lease(Arc<Replica>);

impl Lease {
    /// The replica leased.
    pub fn replica(&self) -> &Arc<Replica> {
        &self.0
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// All declared upstreams.
pub struct Upstreams {
    by_model: HashMap<String, Vec<Arc<Replica>>>,
    /// Shared HTTP client.
    pub client: reqwest::Client,
}

impl Upstreams {
    /// Builds the registry; a key named by `api_key_env` must be set.
    pub fn new(configs: Vec<UpstreamConfig>) -> Result<Upstreams, String> {
        let mut by_model: HashMap<String, Vec<Arc<Replica>>> = HashMap::new();
        for c in configs {
            if !(c.url.starts_with("http://") || c.url.starts_with("https://")) {
                return Err(format!(
                    "upstream {}: url must start with http:// or https://",
                    c.model
                ));
            }
            let key = match (&c.api_key, &c.api_key_env) {
                (Some(k), _) => Some(k.clone()),
                (None, Some(var)) => Some(std::env::var(var).map_err(|_| {
                    format!(
                        "upstream {}: environment variable {var} is not set",
                        c.model
                    )
                })?),
                (None, None) => None,
            };
            by_model
                .entry(c.model.clone())
                .or_default()
                .push(Arc::new(Replica {
                    config: c,
                    key,
                    in_flight: AtomicUsize::new(0),
                    healthy: AtomicBool::new(true),
                }));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Upstreams { by_model, client })
    }

    /// Is this model served by upstreams?
    pub fn serves(&self, model: &str) -> bool {
        self.by_model.contains_key(model)
    }

    /// Model names served by upstreams, with their replicas.
    pub fn models(&self) -> Vec<(&str, &[Arc<Replica>])> {
        let mut v: Vec<_> = self
            .by_model
            .iter()
            .map(|(k, r)| (k.as_str(), r.as_slice()))
            .collect();
        v.sort_by_key(|(k, _)| *k);
        v
    }

    /// The healthy replica with the fewest requests in flight (least busy), leased.
    pub fn pick(&self, model: &str) -> Option<Lease> {
        let r = self
            .by_model
            .get(model)?
            .iter()
            .filter(|r| r.healthy())
            .min_by_key(|r| r.in_flight())?
            .clone();
        r.in_flight.fetch_add(1, Ordering::Relaxed);
        Some(Lease(r))
    }

    /// Marks a replica down after a failed request (the health check brings it back).
    pub fn mark_down(&self, r: &Replica) {
        r.healthy.store(false, Ordering::Relaxed);
    }

    /// Checks every replica (`GET {url}/models`) now.
    pub async fn check_all(&self) {
        for replicas in self.by_model.values() {
            for r in replicas {
                let mut req = self
                    .client
                    .get(r.url("models"))
                    .timeout(Duration::from_secs(5));
                if let Some(k) = &r.key {
                    req = req.bearer_auth(k);
                }
                let ok = matches!(req.send().await, Ok(resp) if resp.status().is_success());
                if ok != r.healthy() {
                    tracing::warn!(model = %r.config.model, url = %r.config.url, healthy = ok, "upstream health changed");
                }
                r.healthy.store(ok, Ordering::Relaxed);
            }
        }
    }

    /// Runs the health checks every `period` in the background.
    pub fn spawn_health_checks(self: &Arc<Self>, period: Duration) {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(u) = me.upgrade() else { return };
                u.check_all().await;
                drop(u);
                tokio::time::sleep(period).await;
            }
        });
    }
}
