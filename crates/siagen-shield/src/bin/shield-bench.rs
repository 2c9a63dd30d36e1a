//! Throughput of the shield on one core: MB/s of clinical text for detect
//! and pseudonymize (release build). Usage: shield-bench [CORPUS.jsonl] [MB]
//!
//! Figures are given in CPU time of the benchmarking thread (what one core
//! delivers, even on a loaded machine) and in wall time.

use std::fs::File;
use std::io::BufReader;
use std::time::Instant;

use siagen_shield::eval::load_corpus;
use siagen_shield::{pseudonymize, Shield, Vault};

/// CPU seconds of this thread (Linux); `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

struct Clock(Instant, Option<f64>);

impl Clock {
    fn start() -> Clock {
        Clock(Instant::now(), cpu_seconds())
    }

    /// (wall seconds, CPU seconds; wall when CPU time is unavailable)
    fn stop(&self) -> (f64, f64) {
        let wall = self.0.elapsed().as_secs_f64();
        let cpu = match (self.1, cpu_seconds()) {
            (Some(a), Some(b)) if b > a => b - a,
            _ => wall,
        };
        (wall, cpu)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().cloned().unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/dev_corpus.jsonl").to_string()
    });
    let target_mb: f64 = args
        .iter()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .and_then(|s| s.parse().ok())
        .unwrap_or(20.0);
    let t = Clock::start();
    let shield = Shield::new()?;
    let (wall, cpu) = t.stop();
    println!(
        "Shield::new: {:.0} ms wall, {:.0} ms CPU",
        wall * 1e3,
        cpu * 1e3
    );
    let docs = load_corpus(BufReader::new(File::open(&path)?))?;
    let corpus_bytes: usize = docs.iter().map(|d| d.text.len()).sum();
    let rounds = ((target_mb * 1e6) / corpus_bytes as f64).ceil().max(1.0) as usize;
    let mb = (corpus_bytes * rounds) as f64 / 1e6;

    let t = Clock::start();
    let mut spans = 0usize;
    for _ in 0..rounds {
        for d in &docs {
            spans += shield.detect(&d.text).len();
        }
    }
    let (wall, cpu) = t.stop();
    println!(
        "detect: {mb:.1} MB = {:.1} MB/s per core (CPU {cpu:.2} s; {:.1} MB/s wall) [{spans} spans]",
        mb / cpu,
        mb / wall
    );

    if args.iter().any(|a| a == "--detect-only") {
        return Ok(());
    }
    let dir = std::env::temp_dir().join(format!("siagen-shield-bench-{}", std::process::id()));
    let vault = Vault::open(&dir, [7u8; 32])?;
    // New patients: each document creates a mapping and seals it (fsync).
    let t = Clock::start();
    for (i, d) in docs.iter().enumerate() {
        pseudonymize(&shield, &d.text, &format!("patient-{i}"), &vault)?;
    }
    let (wall, cpu) = t.stop();
    let mb1 = corpus_bytes as f64 / 1e6;
    println!(
        "pseudonymize, new patients ({} sealed files, fsync each): {mb1:.2} MB = {:.1} MB/s wall ({:.1} MB/s CPU)",
        docs.len(),
        mb1 / wall,
        mb1 / cpu
    );
    let dir2 = std::env::temp_dir().join(format!(
        "siagen-shield-bench-nofsync-{}",
        std::process::id()
    ));
    let vault2 = Vault::open(&dir2, [7u8; 32])?.without_fsync();
    let t = Clock::start();
    for (i, d) in docs.iter().enumerate() {
        pseudonymize(&shield, &d.text, &format!("patient-{i}"), &vault2)?;
    }
    let (wall, cpu) = t.stop();
    println!(
        "pseudonymize, new patients, vault without fsync: {mb1:.2} MB = {:.1} MB/s wall ({:.1} MB/s CPU)",
        mb1 / wall,
        mb1 / cpu
    );
    let _ = std::fs::remove_dir_all(&dir2);
    // Known patients: the usual case, several documents per patient.
    let t = Clock::start();
    for _ in 0..rounds {
        for (i, d) in docs.iter().enumerate() {
            pseudonymize(&shield, &d.text, &format!("patient-{i}"), &vault)?;
        }
    }
    let (wall, cpu) = t.stop();
    println!(
        "pseudonymize, known patients: {mb:.1} MB = {:.1} MB/s per core (CPU {cpu:.2} s; {:.1} MB/s wall)",
        mb / cpu,
        mb / wall
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
