//! Attribution of measured energy to concurrent requests.
//!
//! # Model
//!
//! The meter is read at *settlement points*: whenever a span finishes, and
//! periodically via [`Accountant::tick`] (or [`Accountant::spawn_ticker`]).
//! The energy of the interval between two settlements is shared among the
//! spans in proportion to the work each added during that interval:
//!
//! ```text
//! share(span, interval) = E(interval) × work(span, interval) / Σ work(all spans, interval)
//! ```
//!
//! If spans are open but none added work in the interval (a long prefill
//! before its tokens are reported) the energy is split equally among them; if
//! no span is open it is *idle* energy, reported separately. Hence, at every
//! moment, `attributed + idle == measured` (up to float rounding), and every
//! span's total is the sum of its shares, whatever the overlap.
//!
//! # Why tokens, not CPU time
//!
//! A batched model runs one forward pass for many requests at once, on shared
//! threads and on a GPU: neither thread CPU time nor GPU time can be split per
//! request, while the compute of a pass grows with the tokens it processes
//! (≈ 2 × parameters FLOPs per token). The work unit is therefore *tokens
//! processed* (prompt + generated). Callers that want to weigh prefill and
//! decode tokens differently pass weighted amounts to [`Span::add_work`].
//!
//! # Cost
//!
//! `begin` takes a short lock and allocates once; `add_work` is one relaxed
//! atomic add (safe to call per token); `finish` reads the meter (a few sysfs
//! files or one NVML call) under a lock that `begin`/`add_work` never wait on
//! for I/O.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::carbon::{CarbonConfig, JOULES_PER_KWH};
use crate::meter::{Meter, MeterStatus, Method};

/// Energy and footprint of one finished span (typically one request).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnergyRecord {
    /// Work key given to `begin` (e.g. the model name).
    pub key: String,
    /// Work units added (tokens processed).
    pub work: u64,
    /// IT energy attributed to the span, joules.
    pub joules: f64,
    /// Same in watt-hours.
    pub wh: f64,
    /// Grams CO2e: kWh × PUE × grid intensity.
    pub co2e_g: f64,
    /// PUE used.
    pub pue: f64,
    /// Grid intensity used, gCO2e/kWh.
    pub grid_g_per_kwh: f64,
    /// Measured or estimated, and how.
    pub method: Method,
    /// Wall time between begin and finish, seconds.
    pub wall_s: f64,
}

/// Running totals for one work key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyTotals {
    /// Work key (model name).
    pub key: String,
    /// Joules attributed so far, including spans still open.
    pub joules: f64,
    /// Work units settled so far.
    pub work: u64,
    /// Spans finished (or dropped).
    pub spans: u64,
}

/// Accountant-wide totals (for `/metrics` and admin pages).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Energy read from the meter since the accountant started, joules.
    pub measured_joules: f64,
    /// Part of it attributed to spans.
    pub attributed_joules: f64,
    /// Part of it with no open span.
    pub idle_joules: f64,
    /// Per work key.
    pub by_key: Vec<KeyTotals>,
    /// How the meter obtains energy.
    pub method: Method,
    /// Settlement points so far.
    pub settlements: u64,
}

struct Entry {
    id: u64,
    key: usize,
    pending: Arc<AtomicU64>,
    joules: f64,
    work: u64,
    snapshot: u64,
}

struct Book {
    spans: Vec<Entry>,
    keys: Vec<KeyTotals>,
    key_index: HashMap<String, usize>,
    measured: f64,
    attributed: f64,
    idle: f64,
    settlements: u64,
}

struct Sampler {
    meter: Meter,
    last_joules: f64,
}

struct Shared {
    sampler: Mutex<Sampler>,
    book: Mutex<Book>,
    carbon: CarbonConfig,
    method: Method,
    next_id: AtomicU64,
}

/// Locks ignoring poisoning: a panic elsewhere must not stop metering, and
/// the protected data stays consistent (updates are plain arithmetic).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Shares metered energy among concurrent spans. Cheap to clone (an `Arc`).
#[derive(Clone)]
pub struct Accountant {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Accountant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accountant")
            .field("method", &self.shared.method)
            .finish()
    }
}

impl Accountant {
    /// Accountant over `meter`, with `carbon` parameters for records.
    pub fn new(mut meter: Meter, carbon: CarbonConfig) -> Accountant {
        let last_joules = meter.read_joules();
        let method = meter.method().clone();
        Accountant {
            shared: Arc::new(Shared {
                sampler: Mutex::new(Sampler { meter, last_joules }),
                book: Mutex::new(Book {
                    spans: Vec::new(),
                    keys: Vec::new(),
                    key_index: HashMap::new(),
                    measured: 0.0,
                    attributed: 0.0,
                    idle: 0.0,
                    settlements: 0,
                }),
                carbon,
                method,
                next_id: AtomicU64::new(1),
            }),
        }
    }

    /// How energy is obtained (measured or estimated, and with what).
    pub fn method(&self) -> &Method {
        &self.shared.method
    }

    /// Carbon parameters.
    pub fn carbon(&self) -> &CarbonConfig {
        &self.shared.carbon
    }

    /// Probe results of the meter and read failures, each recorded once.
    pub fn statuses(&self) -> Vec<MeterStatus> {
        lock(&self.shared.sampler).meter.statuses().to_vec()
    }

    /// Opens a span for one request on `key` (e.g. the model name).
    pub fn begin(&self, key: &str) -> Span {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let pending = Arc::new(AtomicU64::new(0));
        let mut book = lock(&self.shared.book);
        let key_idx = match book.key_index.get(key) {
            Some(&i) => i,
            None => {
                let i = book.keys.len();
                book.keys.push(KeyTotals {
                    key: key.to_string(),
                    joules: 0.0,
                    work: 0,
                    spans: 0,
                });
                book.key_index.insert(key.to_string(), i);
                i
            }
        };
        book.spans.push(Entry {
            id,
            key: key_idx,
            pending: Arc::clone(&pending),
            joules: 0.0,
            work: 0,
            snapshot: 0,
        });
        drop(book);
        Span {
            shared: Arc::clone(&self.shared),
            id,
            pending,
            started: Instant::now(),
            done: false,
        }
    }

    /// Settlement point without finishing a span: reads the meter and shares
    /// the interval's energy. Call it periodically (see `spawn_ticker`) so
    /// long requests are attributed interval by interval and RAPL counters are
    /// read more often than they wrap.
    pub fn tick(&self) {
        let mut sampler = lock(&self.shared.sampler);
        drop(self.shared.settle(&mut sampler));
    }

    /// Current totals.
    pub fn totals(&self) -> Totals {
        let book = lock(&self.shared.book);
        Totals {
            measured_joules: book.measured,
            attributed_joules: book.attributed,
            idle_joules: book.idle,
            by_key: book.keys.clone(),
            method: self.shared.method.clone(),
            settlements: book.settlements,
        }
    }

    /// Runs [`Accountant::tick`] every `period` on a background thread until
    /// the returned handle is dropped. One second is plenty: RAPL wraps after
    /// tens of minutes, and finer intervals only refine long requests.
    pub fn spawn_ticker(&self, period: Duration) -> std::io::Result<Ticker> {
        let stop = Arc::new(AtomicBool::new(false));
        let acc = self.clone();
        let stop2 = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("siagen-energy-tick".into())
            .spawn(move || {
                while !stop2.load(Ordering::Acquire) {
                    std::thread::park_timeout(period);
                    if stop2.load(Ordering::Acquire) {
                        break;
                    }
                    acc.tick();
                }
            })?;
        Ok(Ticker {
            stop,
            handle: Some(handle),
        })
    }
}

impl Shared {
    /// Reads the meter and distributes the energy since the previous reading.
    /// Called with the sampler lock held so readings are applied in order.
    fn settle(&self, sampler: &mut Sampler) -> MutexGuard<'_, Book> {
        let now = sampler.meter.read_joules();
        let energy = (now - sampler.last_joules).max(0.0);
        sampler.last_joules = sampler.last_joules.max(now);

        let mut book = lock(&self.book);
        let book_ref = &mut *book;
        book_ref.settlements += 1;
        book_ref.measured += energy;
        let mut total_work = 0u64;
        for e in book_ref.spans.iter_mut() {
            e.snapshot = e.pending.swap(0, Ordering::Relaxed);
            total_work += e.snapshot;
        }
        if book_ref.spans.is_empty() {
            book_ref.idle += energy;
            return book;
        }
        let n = book_ref.spans.len() as f64;
        for e in book_ref.spans.iter_mut() {
            let share = if total_work > 0 {
                energy * (e.snapshot as f64 / total_work as f64)
            } else {
                energy / n
            };
            e.joules += share;
            e.work += e.snapshot;
            let k = &mut book_ref.keys[e.key];
            k.joules += share;
            k.work += e.snapshot;
        }
        book_ref.attributed += energy;
        book
    }

    /// Settles, then closes span `id`, returning its (key, work, joules).
    fn close(&self, id: u64) -> (String, u64, f64) {
        let mut sampler = lock(&self.sampler);
        let mut book = self.settle(&mut sampler);
        drop(sampler);
        match book.spans.iter().position(|e| e.id == id) {
            Some(pos) => {
                let e = book.spans.swap_remove(pos);
                let k = &mut book.keys[e.key];
                k.spans += 1;
                (k.key.clone(), e.work, e.joules)
            }
            None => (String::new(), 0, 0.0),
        }
    }
}

/// One request's share of the metered energy. Finish it to get its record;
/// dropping it unfinished still settles it (energy stays in the key totals).
pub struct Span {
    shared: Arc<Shared>,
    id: u64,
    pending: Arc<AtomicU64>,
    started: Instant,
    done: bool,
}

impl std::fmt::Debug for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Span").field("id", &self.id).finish()
    }
}

impl Span {
    /// Adds `units` of work (tokens processed) done since the last call.
    /// One relaxed atomic add: call it per token or per batch step.
    #[inline]
    pub fn add_work(&self, units: u64) {
        self.pending.fetch_add(units, Ordering::Relaxed);
    }

    /// Closes the span: settles the current interval and returns the record.
    pub fn finish(mut self) -> EnergyRecord {
        self.done = true;
        let wall_s = self.started.elapsed().as_secs_f64();
        let (key, work, joules) = self.shared.close(self.id);
        let carbon = &self.shared.carbon;
        EnergyRecord {
            key,
            work,
            joules,
            wh: joules / 3600.0,
            co2e_g: carbon.co2e_g(joules),
            pue: carbon.pue,
            grid_g_per_kwh: carbon.grid_g_per_kwh,
            method: self.shared.method.clone(),
            wall_s,
        }
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        if !self.done {
            self.shared.close(self.id);
        }
    }
}

/// Background ticker; stops (and joins) when dropped.
pub struct Ticker {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Ticker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticker").finish()
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.handle.take() {
            h.thread().unpark();
            let _ = h.join();
        }
    }
}

/// kWh of `joules` (helper for pages).
pub fn kwh(joules: f64) -> f64 {
    joules / JOULES_PER_KWH
}
