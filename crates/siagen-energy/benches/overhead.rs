//! Metering overhead per request, and what this machine can measure.
//!
//! `cargo bench --bench overhead` prints, for begin + 100 × add_work + finish:
//! the cost in ns with several meters, and its share of a typical generation
//! (100 tokens at 50 ms per token = 5 s). Target: < 1 %.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use siagen_energy::meter::{EnergySource, Meter, MeterConfig, MeterStatus, Method};
use siagen_energy::rapl::{FsReader, RaplMeter};
use siagen_energy::{Accountant, CarbonConfig, NvmlMeter, Registry, Result, SiagenMetrics};

const TOKENS: u64 = 100;
const GENERATION: Duration = Duration::from_millis(50 * TOKENS);

struct Constant;

impl EnergySource for Constant {
    fn name(&self) -> &str {
        "constant"
    }
    fn method(&self) -> Method {
        Method::Measured {
            source: "constant".into(),
        }
    }
    fn read_joules(&mut self) -> Result<f64> {
        Ok(black_box(1.0))
    }
}

fn status() -> Vec<MeterStatus> {
    Vec::new()
}

/// Median ns of one request lifecycle over `rounds` rounds of `iters`.
fn bench_request(label: &str, acc: &Accountant, background_spans: usize) {
    let _open: Vec<_> = (0..background_spans).map(|_| acc.begin("bg")).collect();
    let iters = 5_000u32;
    let mut per = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        for _ in 0..iters {
            let span = acc.begin("mistral-7b");
            for _ in 0..TOKENS {
                span.add_work(black_box(1));
            }
            black_box(span.finish());
        }
        per.push(t.elapsed().as_nanos() as f64 / f64::from(iters));
    }
    per.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let ns = per[per.len() / 2];
    let pct = ns / GENERATION.as_nanos() as f64 * 100.0;
    println!(
        "{label:<58} {ns:>9.0} ns/request  {pct:.5} % of a {TOKENS}-token generation ({} s)",
        GENERATION.as_secs_f64()
    );
}

fn fake_rapl_tree(root: &Path) {
    for (dir, name) in [
        ("intel-rapl:0", "package-0"),
        ("intel-rapl:0:0", "core"),
        ("intel-rapl:1", "package-1"),
    ] {
        let z = root.join(dir);
        std::fs::create_dir_all(&z).unwrap();
        std::fs::write(z.join("name"), name).unwrap();
        std::fs::write(z.join("energy_uj"), "123456789").unwrap();
        std::fs::write(z.join("max_energy_range_uj"), "262143328850").unwrap();
    }
}

fn main() {
    println!("== metering overhead per request (begin + {TOKENS} x add_work + finish) ==");
    let acc = Accountant::new(
        Meter::new(vec![Box::new(Constant)], status()),
        CarbonConfig::default(),
    );
    bench_request("accounting only (constant meter)", &acc, 0);
    bench_request("accounting only, 32 other spans open", &acc, 32);

    let tmp = tempfile::tempdir().unwrap();
    fake_rapl_tree(tmp.path());
    let rapl = RaplMeter::probe(tmp.path(), Box::new(FsReader)).unwrap();
    let acc = Accountant::new(
        Meter::new(vec![Box::new(rapl)], status()),
        CarbonConfig::default(),
    );
    bench_request(
        "fake RAPL tree, 2 packages (2 file reads per finish)",
        &acc,
        0,
    );

    let host = Meter::probe(&MeterConfig::default());
    let method = host.method().clone();
    let acc = Accountant::new(host, CarbonConfig::default());
    bench_request(&format!("this host's meter ({})", method.kind()), &acc, 0);

    let reg = Registry::new();
    let m = SiagenMetrics::register(&reg).unwrap();
    let span = acc.begin("mistral-7b");
    span.add_work(10);
    let rec = span.finish();
    let t = Instant::now();
    for _ in 0..10_000 {
        m.observe_record(black_box(&rec)).unwrap();
    }
    println!(
        "{:<58} {:>9.0} ns/record",
        "SiagenMetrics::observe_record (label lookup + 2 adds)",
        t.elapsed().as_nanos() as f64 / 10_000.0
    );

    println!("\n== what this machine can measure ==");
    match RaplMeter::probe_default() {
        Ok(mut r) => {
            let a = r.read_joules().unwrap_or(0.0);
            std::thread::sleep(Duration::from_secs(1));
            let b = r.read_joules().unwrap_or(0.0);
            println!(
                "RAPL: readable, packages {:?}, {:.1} W over 1 s",
                r.package_names(),
                b - a
            );
        }
        Err(e) => println!("RAPL: not readable: {e}"),
    }
    match NvmlMeter::open() {
        Ok(n) => println!("NVML: available, GPUs {:?}", n.device_indices()),
        Err(e) => println!("NVML: {e}"),
    }
    let host = Meter::probe(&MeterConfig::default());
    println!("meter method: {:?}", host.method());
    for s in host.statuses() {
        println!("  {} available={} {}", s.source, s.available, s.message);
    }
}
