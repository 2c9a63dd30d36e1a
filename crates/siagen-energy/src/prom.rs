//! A small Prometheus metrics registry rendering text exposition format 0.0.4.
//!
//! Counters, gauges and histograms, each a family with fixed label names.
//! Hot-path updates are atomic operations on a handle obtained once with
//! `with(&[label values])`; rendering takes the registry's locks briefly.
//! Written here rather than pulling the `prometheus` crate and its
//! dependencies, since siagen needs only this subset.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{EnergyError, Result};

/// `Content-Type` of the rendered text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Default latency buckets in seconds (10 ms to 2 min: a token to a long answer).
pub const LATENCY_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An f64 updated atomically (bits in an `AtomicU64`).
#[derive(Debug, Default)]
struct AtomicF64(AtomicU64);

impl AtomicF64 {
    fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
    fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }
    fn add(&self, v: f64) {
        let mut cur = self.0.load(Ordering::Relaxed);
        loop {
            let new = (f64::from_bits(cur) + v).to_bits();
            match self
                .0
                .compare_exchange_weak(cur, new, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }
}

/// A monotonically increasing value.
#[derive(Debug, Default)]
pub struct Counter(AtomicF64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.add(1.0);
    }
    /// Adds `v`; negative or non-finite values are ignored (a counter never
    /// decreases).
    pub fn inc_by(&self, v: f64) {
        if v.is_finite() && v > 0.0 {
            self.0.add(v);
        }
    }
    /// Raises the counter to `total` if it is higher, for counters mirrored
    /// from a cumulative source (e.g. the accountant's totals) at scrape time.
    pub fn raise_to(&self, total: f64) {
        if !total.is_finite() {
            return;
        }
        let mut cur = self.0 .0.load(Ordering::Relaxed);
        while f64::from_bits(cur) < total {
            match self.0 .0.compare_exchange_weak(
                cur,
                total.to_bits(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }
    /// Current value.
    pub fn get(&self) -> f64 {
        self.0.get()
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicF64);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, v: f64) {
        self.0.set(v);
    }
    /// Adds one.
    pub fn inc(&self) {
        self.0.add(1.0);
    }
    /// Subtracts one.
    pub fn dec(&self) {
        self.0.add(-1.0);
    }
    /// Adds `v` (may be negative).
    pub fn add(&self, v: f64) {
        self.0.add(v);
    }
    /// Current value.
    pub fn get(&self) -> f64 {
        self.0.get()
    }
}

/// Observations counted in cumulative buckets.
#[derive(Debug)]
pub struct Histogram {
    bounds: Arc<[f64]>,
    counts: Vec<AtomicU64>,
    sum: AtomicF64,
    count: AtomicU64,
}

impl Histogram {
    fn new(bounds: Arc<[f64]>) -> Histogram {
        let counts = (0..bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Histogram {
            bounds,
            counts,
            sum: AtomicF64::default(),
            count: AtomicU64::new(0),
        }
    }

    /// Records one observation (NaN is ignored).
    pub fn observe(&self, v: f64) {
        if v.is_nan() {
            return;
        }
        // Non-cumulative per-bucket counts; made cumulative when rendering.
        if let Some(i) = self.bounds.iter().position(|&b| v <= b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum.add(v);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Sum of observations.
    pub fn sum(&self) -> f64 {
        self.sum.get()
    }
}

enum Kind {
    Counter,
    Gauge,
    Histogram(Arc<[f64]>),
}

impl Kind {
    fn type_name(&self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram(_) => "histogram",
        }
    }
}

enum Series {
    Counter(Arc<Counter>),
    Gauge(Arc<Gauge>),
    Histogram(Arc<Histogram>),
}

struct FamilyInner {
    name: String,
    help: String,
    labels: Vec<String>,
    kind: Kind,
    series: Mutex<BTreeMap<Vec<String>, Series>>,
}

impl FamilyInner {
    fn check_values(&self, values: &[&str]) -> Result<Vec<String>> {
        if values.len() != self.labels.len() {
            return Err(EnergyError::InvalidMetric(format!(
                "{} expects {} label values, got {}",
                self.name,
                self.labels.len(),
                values.len()
            )));
        }
        Ok(values.iter().map(|v| v.to_string()).collect())
    }
}

macro_rules! family {
    ($fam:ident, $ty:ident, $make:expr) => {
        /// A labelled family; `with` returns the series for given label values.
        #[derive(Clone)]
        pub struct $fam(Arc<FamilyInner>);

        impl $fam {
            /// Series for `values` (one per label name, in order), created on
            /// first use. Keep the handle for hot paths.
            pub fn with(&self, values: &[&str]) -> Result<Arc<$ty>> {
                let key = self.0.check_values(values)?;
                let mut series = lock(&self.0.series);
                let entry = series.entry(key).or_insert_with(|| {
                    let make: fn(&FamilyInner) -> Series = $make;
                    make(&self.0)
                });
                match entry {
                    Series::$ty(s) => Ok(Arc::clone(s)),
                    _ => unreachable!("family kind is fixed at registration"),
                }
            }
        }

        impl std::fmt::Debug for $fam {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_tuple(stringify!($fam)).field(&self.0.name).finish()
            }
        }
    };
}

family!(CounterFamily, Counter, |_| Series::Counter(Arc::default()));
family!(GaugeFamily, Gauge, |_| Series::Gauge(Arc::default()));
family!(HistogramFamily, Histogram, |f| match &f.kind {
    Kind::Histogram(b) => Series::Histogram(Arc::new(Histogram::new(Arc::clone(b)))),
    _ => unreachable!("histogram family has histogram kind"),
});

/// The set of families rendered by `/metrics`.
#[derive(Default, Clone)]
pub struct Registry {
    families: Arc<Mutex<Vec<Arc<FamilyInner>>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = lock(&self.families)
            .iter()
            .map(|f| f.name.clone())
            .collect();
        f.debug_struct("Registry")
            .field("families", &names)
            .finish()
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
fn valid_metric_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__` (reserved).
fn valid_label_name(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
        && !s.starts_with("__")
}

impl Registry {
    /// Empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    fn register(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        kind: Kind,
    ) -> Result<Arc<FamilyInner>> {
        if !valid_metric_name(name) {
            return Err(EnergyError::InvalidMetric(format!(
                "bad metric name {name:?}"
            )));
        }
        for (i, l) in labels.iter().enumerate() {
            if !valid_label_name(l) {
                return Err(EnergyError::InvalidMetric(format!("bad label name {l:?}")));
            }
            if labels[..i].contains(l) {
                return Err(EnergyError::InvalidMetric(format!("duplicate label {l:?}")));
            }
            if matches!(kind, Kind::Histogram(_)) && *l == "le" {
                return Err(EnergyError::InvalidMetric(
                    "histogram label \"le\" is reserved".into(),
                ));
            }
        }
        let mut fams = lock(&self.families);
        // Names a histogram generates must not clash either.
        let taken = |n: &str| {
            fams.iter().any(|f| {
                f.name == n
                    || matches!(f.kind, Kind::Histogram(_))
                        && [
                            format!("{}_bucket", f.name),
                            format!("{}_sum", f.name),
                            format!("{}_count", f.name),
                        ]
                        .iter()
                        .any(|x| x == n)
            })
        };
        let generated: Vec<String> = match kind {
            Kind::Histogram(_) => vec![
                name.to_string(),
                format!("{name}_bucket"),
                format!("{name}_sum"),
                format!("{name}_count"),
            ],
            _ => vec![name.to_string()],
        };
        if generated.iter().any(|n| taken(n)) {
            return Err(EnergyError::InvalidMetric(format!(
                "{name} already registered"
            )));
        }
        let fam = Arc::new(FamilyInner {
            name: name.to_string(),
            help: help.to_string(),
            labels: labels.iter().map(|s| s.to_string()).collect(),
            kind,
            series: Mutex::new(BTreeMap::new()),
        });
        fams.push(Arc::clone(&fam));
        Ok(fam)
    }

    /// Registers a counter family (by convention named `..._total`).
    pub fn counter(&self, name: &str, help: &str, labels: &[&str]) -> Result<CounterFamily> {
        self.register(name, help, labels, Kind::Counter)
            .map(CounterFamily)
    }

    /// Registers a gauge family.
    pub fn gauge(&self, name: &str, help: &str, labels: &[&str]) -> Result<GaugeFamily> {
        self.register(name, help, labels, Kind::Gauge)
            .map(GaugeFamily)
    }

    /// Registers a histogram family with upper bounds `buckets` (finite,
    /// strictly increasing; `+Inf` is implicit).
    pub fn histogram(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: &[f64],
    ) -> Result<HistogramFamily> {
        if buckets.iter().any(|b| !b.is_finite()) || buckets.windows(2).any(|w| w[0] >= w[1]) {
            return Err(EnergyError::InvalidMetric(format!(
                "{name}: buckets must be finite and strictly increasing"
            )));
        }
        self.register(name, help, labels, Kind::Histogram(buckets.into()))
            .map(HistogramFamily)
    }

    /// Renders every family in text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let fams: Vec<Arc<FamilyInner>> = lock(&self.families).clone();
        let mut out = String::with_capacity(1024);
        for f in fams {
            let _ = writeln!(out, "# HELP {} {}", f.name, escape_help(&f.help));
            let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind.type_name());
            let series = lock(&f.series);
            for (values, s) in series.iter() {
                match s {
                    Series::Counter(c) => line(&mut out, &f.name, &f.labels, values, None, c.get()),
                    Series::Gauge(g) => line(&mut out, &f.name, &f.labels, values, None, g.get()),
                    Series::Histogram(h) => {
                        let bucket = format!("{}_bucket", f.name);
                        let mut cum = 0u64;
                        for (b, c) in h.bounds.iter().zip(&h.counts) {
                            cum += c.load(Ordering::Relaxed);
                            line(&mut out, &bucket, &f.labels, values, Some(*b), cum as f64);
                        }
                        // Read count once and use it for +Inf and _count so
                        // they agree even while observations arrive.
                        let count = h.count().max(cum);
                        line(
                            &mut out,
                            &bucket,
                            &f.labels,
                            values,
                            Some(f64::INFINITY),
                            count as f64,
                        );
                        line(
                            &mut out,
                            &format!("{}_sum", f.name),
                            &f.labels,
                            values,
                            None,
                            h.sum(),
                        );
                        line(
                            &mut out,
                            &format!("{}_count", f.name),
                            &f.labels,
                            values,
                            None,
                            count as f64,
                        );
                    }
                }
            }
        }
        out
    }
}

/// One sample line: `name{l="v",le="b"} value`.
fn line(
    out: &mut String,
    name: &str,
    labels: &[String],
    values: &[String],
    le: Option<f64>,
    v: f64,
) {
    out.push_str(name);
    if !labels.is_empty() || le.is_some() {
        out.push('{');
        let mut first = true;
        for (l, val) in labels.iter().zip(values) {
            if !first {
                out.push(',');
            }
            first = false;
            let _ = write!(out, "{l}=\"{}\"", escape_label(val));
        }
        if let Some(b) = le {
            if !first {
                out.push(',');
            }
            let _ = write!(out, "le=\"{}\"", format_value(b));
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(&format_value(v));
    out.push('\n');
}

/// Float as Prometheus expects: `+Inf`, `-Inf`, `NaN`, else Rust's shortest
/// round-trip form (which Go's ParseFloat reads back exactly).
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// Label values escape backslash, double quote and line feed.
pub fn escape_label(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o
}

/// HELP text escapes backslash and line feed (quotes are literal there).
pub fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

/// The standard siagen families, per model, for the server's `/metrics`.
#[derive(Debug, Clone)]
pub struct SiagenMetrics {
    /// `siagen_requests_total{model}`
    pub requests: CounterFamily,
    /// `siagen_tokens_total{model,kind}` (kind = prompt | generated)
    pub tokens: CounterFamily,
    /// `siagen_request_duration_seconds{model}`
    pub latency: HistogramFamily,
    /// `siagen_queue_depth{model}`
    pub queue_depth: GaugeFamily,
    /// `siagen_energy_joules_total{model,method}` (method = measured | estimated)
    pub energy_joules: CounterFamily,
    /// `siagen_co2e_grams_total{model}`
    pub co2e_grams: CounterFamily,
    /// `siagen_energy_meter_joules_total{part}` (part = measured | attributed | idle)
    pub meter_joules: CounterFamily,
}

impl SiagenMetrics {
    /// Registers the families in `registry`.
    pub fn register(registry: &Registry) -> Result<SiagenMetrics> {
        Ok(SiagenMetrics {
            requests: registry.counter("siagen_requests_total", "Generation requests served.", &["model"])?,
            tokens: registry.counter("siagen_tokens_total", "Tokens processed, by kind (prompt or generated).", &["model", "kind"])?,
            latency: registry.histogram(
                "siagen_request_duration_seconds",
                "Wall time of a generation request.",
                &["model"],
                LATENCY_BUCKETS,
            )?,
            queue_depth: registry.gauge("siagen_queue_depth", "Requests waiting for the model.", &["model"])?,
            energy_joules: registry.counter(
                "siagen_energy_joules_total",
                "IT energy attributed to requests, joules; method says measured (RAPL/NVML) or estimated.",
                &["model", "method"],
            )?,
            co2e_grams: registry.counter(
                "siagen_co2e_grams_total",
                "Grams CO2e of the attributed energy (kWh x PUE x grid intensity).",
                &["model"],
            )?,
            meter_joules: registry.counter(
                "siagen_energy_meter_joules_total",
                "Energy read by the meter (part=measured), of which attributed to requests or idle, joules.",
                &["part"],
            )?,
        })
    }

    /// Mirrors the accountant's totals; call before rendering `/metrics`.
    pub fn observe_totals(&self, totals: &crate::accountant::Totals) -> Result<()> {
        for (part, v) in [
            ("measured", totals.measured_joules),
            ("attributed", totals.attributed_joules),
            ("idle", totals.idle_joules),
        ] {
            self.meter_joules.with(&[part])?.raise_to(v);
        }
        Ok(())
    }

    /// Adds one finished request's energy record.
    pub fn observe_record(&self, record: &crate::accountant::EnergyRecord) -> Result<()> {
        self.energy_joules
            .with(&[&record.key, record.method.kind()])?
            .inc_by(record.joules);
        self.co2e_grams.with(&[&record.key])?.inc_by(record.co2e_g);
        Ok(())
    }
}
