//! Exposition output checked by a real parser (`prometheus-parse`) and by Prometheus' own
//! `promtool check metrics` (installed by scripts/test-deps.sh).

use std::io::Write;
use std::process::{Command, Stdio};

use siagen_energy::prom::{escape_label, format_value, Registry, SiagenMetrics, CONTENT_TYPE};
use siagen_energy::EnergyError;

fn sample_registry() -> (Registry, SiagenMetrics) {
    let reg = Registry::new();
    let m = SiagenMetrics::register(&reg).unwrap();
    for model in ["mistral-7b", "med\"quote\\back\nline"] {
        m.requests.with(&[model]).unwrap().inc();
        m.requests.with(&[model]).unwrap().inc();
        m.tokens.with(&[model, "prompt"]).unwrap().inc_by(120.0);
        m.tokens.with(&[model, "generated"]).unwrap().inc_by(42.0);
        let h = m.latency.with(&[model]).unwrap();
        for v in [0.004, 0.3, 0.3, 7.0, 500.0] {
            h.observe(v);
        }
        m.queue_depth.with(&[model]).unwrap().set(3.0);
        m.energy_joules
            .with(&[model, "measured"])
            .unwrap()
            .inc_by(12.5);
        m.co2e_grams.with(&[model]).unwrap().inc_by(0.00018);
    }
    (reg, m)
}

#[test]
fn renders_help_type_buckets_sum_count() {
    let (reg, _) = sample_registry();
    let text = reg.render();
    assert!(CONTENT_TYPE.contains("version=0.0.4"));
    assert!(text.contains("# HELP siagen_requests_total Generation requests served.\n"));
    assert!(text.contains("# TYPE siagen_requests_total counter\n"));
    assert!(text.contains("# TYPE siagen_request_duration_seconds histogram\n"));
    assert!(text.contains("# TYPE siagen_queue_depth gauge\n"));
    assert!(text.contains("siagen_requests_total{model=\"mistral-7b\"} 2\n"));
    assert!(text
        .contains("siagen_request_duration_seconds_bucket{model=\"mistral-7b\",le=\"0.01\"} 1\n"));
    assert!(text
        .contains("siagen_request_duration_seconds_bucket{model=\"mistral-7b\",le=\"0.5\"} 3\n"));
    assert!(text
        .contains("siagen_request_duration_seconds_bucket{model=\"mistral-7b\",le=\"120\"} 4\n"));
    assert!(text
        .contains("siagen_request_duration_seconds_bucket{model=\"mistral-7b\",le=\"+Inf\"} 5\n"));
    assert!(text.contains("siagen_request_duration_seconds_sum{model=\"mistral-7b\"} 507.604\n"));
    assert!(text.contains("siagen_request_duration_seconds_count{model=\"mistral-7b\"} 5\n"));
    // Escaping of a hostile label value.
    assert!(text.contains("siagen_requests_total{model=\"med\\\"quote\\\\back\\nline\"} 2\n"));
    // Every line is a comment or a sample; no raw newline inside a label.
    for l in text.lines() {
        assert!(l.starts_with('#') || l.starts_with("siagen_"), "{l:?}");
    }
}

#[test]
fn parsed_by_prometheus_parse() {
    let (reg, _) = sample_registry();
    let text = reg.render();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("parses");
    let find = |name: &str, model: &str| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && s.labels.get("model") == Some(model))
            .unwrap_or_else(|| panic!("{name} {model}"))
    };
    match find("siagen_requests_total", "mistral-7b").value {
        prometheus_parse::Value::Counter(v) => assert_eq!(v, 2.0),
        ref v => panic!("{v:?}"),
    }
    match find("siagen_queue_depth", "mistral-7b").value {
        prometheus_parse::Value::Gauge(v) => assert_eq!(v, 3.0),
        ref v => panic!("{v:?}"),
    }
    match &find("siagen_request_duration_seconds", "mistral-7b").value {
        prometheus_parse::Value::Histogram(buckets) => {
            assert_eq!(buckets.len(), 14); // 13 bounds + +Inf
            let last = buckets.last().unwrap();
            assert!(last.less_than.is_infinite());
            assert_eq!(last.count, 5.0);
        }
        v => panic!("{v:?}"),
    }
    let e = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "siagen_energy_joules_total" && s.labels.get("method") == Some("measured")
        })
        .unwrap();
    assert!(matches!(e.value, prometheus_parse::Value::Counter(v) if v == 12.5));
    assert_eq!(
        scrape.docs.get("siagen_tokens_total").map(String::as_str),
        Some("Tokens processed, by kind (prompt or generated).")
    );
}

#[test]
fn accepted_by_promtool() {
    let (reg, _) = sample_registry();
    let text = reg.render();
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child =
        child.expect("promtool (Debian package `prometheus`) is missing: run scripts/test-deps.sh");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let msg = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool: {msg}\n{text}");
    assert!(msg.trim().is_empty(), "promtool lint: {msg}");
}

#[test]
fn rejects_bad_names_and_label_arity() {
    let reg = Registry::new();
    assert!(matches!(
        reg.counter("1bad", "h", &[]),
        Err(EnergyError::InvalidMetric(_))
    ));
    assert!(reg.counter("ok_total", "h", &["__reserved"]).is_err());
    assert!(reg.counter("ok_total", "h", &["a", "a"]).is_err());
    assert!(reg.histogram("h_seconds", "h", &["le"], &[1.0]).is_err());
    assert!(reg.histogram("h_seconds", "h", &[], &[2.0, 1.0]).is_err());
    let c = reg.counter("ok_total", "h", &["model"]).unwrap();
    assert!(reg.gauge("ok_total", "dup", &[]).is_err());
    assert!(c.with(&[]).is_err());
    assert!(c.with(&["a", "b"]).is_err());
    let h = reg.histogram("lat_seconds", "h", &[], &[1.0]).unwrap();
    assert!(reg.counter("lat_seconds_count", "clash", &[]).is_err());
    h.with(&[]).unwrap().observe(f64::NAN);
    assert_eq!(h.with(&[]).unwrap().count(), 0);
    let c0 = c.with(&["m"]).unwrap();
    c0.inc_by(-5.0);
    assert_eq!(c0.get(), 0.0, "counters never decrease");
}

#[test]
fn value_formatting_and_escaping() {
    assert_eq!(format_value(f64::INFINITY), "+Inf");
    assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
    assert_eq!(format_value(f64::NAN), "NaN");
    assert_eq!(format_value(1.0), "1");
    assert_eq!(format_value(0.005), "0.005");
    assert_eq!(format_value(1e-7).parse::<f64>().unwrap(), 1e-7);
    assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    let reg = Registry::new();
    reg.gauge("g", "line one\nback\\slash \"quoted\"", &[])
        .unwrap();
    assert!(reg
        .render()
        .contains("# HELP g line one\\nback\\\\slash \"quoted\"\n"));
}

#[test]
fn energy_record_feeds_metrics() {
    use siagen_energy::meter::{Meter, MeterConfig};
    use siagen_energy::{Accountant, CarbonConfig};
    let tmp = tempfile::tempdir().unwrap();
    let cfg = MeterConfig {
        powercap_root: tmp.path().to_path_buf(),
        nvml_library: None,
        ..MeterConfig::default()
    };
    let acc = Accountant::new(Meter::probe(&cfg), CarbonConfig::default());
    let span = acc.begin("m");
    span.add_work(3);
    let rec = span.finish();
    let reg = Registry::new();
    let m = SiagenMetrics::register(&reg).unwrap();
    m.observe_record(&rec).unwrap();
    m.observe_totals(&acc.totals()).unwrap();
    m.observe_totals(&acc.totals()).unwrap();
    let text = reg.render();
    assert!(text.contains("siagen_energy_meter_joules_total{part=\"idle\"} 0\n"));
    assert!(reg
        .render()
        .contains("siagen_energy_joules_total{model=\"m\",method=\"estimated\"}"));
}
