//! Attribution arithmetic with overlapping requests, and carbon/PUE.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use siagen_energy::meter::{EnergySource, Meter, MeterStatus, Method};
use siagen_energy::{Accountant, CarbonConfig, EnergyError, Result};

/// A cumulative counter the test drives by hand.
#[derive(Clone, Default)]
struct Fake(Arc<Mutex<f64>>);

impl Fake {
    fn add(&self, j: f64) {
        *self.0.lock().unwrap() += j;
    }
}

impl EnergySource for Fake {
    fn name(&self) -> &str {
        "fake"
    }
    fn method(&self) -> Method {
        Method::Measured {
            source: "fake counter".into(),
        }
    }
    fn read_joules(&mut self) -> Result<f64> {
        Ok(*self.0.lock().unwrap())
    }
}

/// Adds `step` joules at every read: energy flows as the test runs.
struct Flowing {
    total: f64,
    step: f64,
}

impl EnergySource for Flowing {
    fn name(&self) -> &str {
        "flowing"
    }
    fn method(&self) -> Method {
        Method::Measured {
            source: "flowing".into(),
        }
    }
    fn read_joules(&mut self) -> Result<f64> {
        self.total += self.step;
        Ok(self.total)
    }
}

fn accountant(src: impl EnergySource + 'static, carbon: CarbonConfig) -> Accountant {
    let status = MeterStatus {
        source: "test".into(),
        available: true,
        message: String::new(),
    };
    Accountant::new(Meter::new(vec![Box::new(src)], vec![status]), carbon)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn overlapping_spans_share_by_work_and_sum_to_measured() {
    let fake = Fake::default();
    let acc = accountant(fake.clone(), CarbonConfig::default());

    let a = acc.begin("model-a");
    let b = acc.begin("model-b");
    a.add_work(30);
    b.add_work(10);
    fake.add(40.0);
    acc.tick(); // interval 1: A 30/40, B 10/40 of 40 J

    a.add_work(10);
    let c = acc.begin("model-a");
    c.add_work(10);
    fake.add(20.0);
    let rb = b.finish(); // interval 2: A 10/20, C 10/20 of 20 J, B nothing
    assert!(close(rb.joules, 10.0), "{rb:?}");
    assert_eq!(rb.work, 10);
    assert_eq!(rb.key, "model-b");

    fake.add(5.0);
    acc.tick(); // interval 3: no work, A and C open: 2.5 J each

    let ra = a.finish(); // interval 4: 0 J
    assert!(close(ra.joules, 30.0 + 10.0 + 2.5), "{ra:?}");
    assert_eq!(ra.work, 40);

    fake.add(7.0);
    acc.tick(); // interval 5: C is still open, gets it all
    assert_eq!(acc.totals().idle_joules, 0.0);

    c.add_work(5);
    fake.add(3.0);
    let rc = c.finish(); // interval 6: C alone
    assert!(close(rc.joules, 10.0 + 2.5 + 7.0 + 3.0), "{rc:?}");

    fake.add(11.0);
    acc.tick(); // interval 7: nobody open: idle
    let t = acc.totals();
    assert!(close(
        t.measured_joules,
        40.0 + 20.0 + 5.0 + 7.0 + 3.0 + 11.0
    ));
    assert!(close(t.idle_joules, 11.0));
    assert!(close(
        ra.joules + rb.joules + rc.joules + t.idle_joules,
        t.measured_joules
    ));
    assert!(close(
        t.attributed_joules,
        ra.joules + rb.joules + rc.joules
    ));
    let ka = t.by_key.iter().find(|k| k.key == "model-a").unwrap();
    assert!(close(ka.joules, ra.joules + rc.joules));
    assert_eq!(ka.work, 40 + 15);
    assert_eq!(ka.spans, 2);
    assert!(ra.method.is_measured());
    assert!(close(ra.wh, ra.joules / 3600.0));
}

#[test]
fn dropped_span_is_settled_into_key_totals() {
    let fake = Fake::default();
    let acc = accountant(fake.clone(), CarbonConfig::default());
    let a = acc.begin("m");
    let b = acc.begin("m");
    a.add_work(1);
    b.add_work(3);
    fake.add(8.0);
    drop(b); // cancelled request: still gets its 6 J
    let ra = a.finish();
    assert!(close(ra.joules, 2.0));
    let t = acc.totals();
    assert!(close(t.by_key[0].joules, 8.0));
    assert_eq!(t.by_key[0].spans, 2);
}

#[test]
fn concurrent_threads_sum_exactly_to_measured() {
    let acc = accountant(
        Flowing {
            total: 0.0,
            step: 0.37,
        },
        CarbonConfig::default(),
    );
    let ticker = acc.spawn_ticker(Duration::from_micros(200)).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let acc = acc.clone();
            std::thread::spawn(move || {
                let key = format!("model-{}", t % 3);
                let mut sum = 0.0;
                let mut work = 0;
                for i in 0..300u64 {
                    let span = acc.begin(&key);
                    for _ in 0..(i % 7) {
                        span.add_work(1 + t);
                    }
                    let r = span.finish();
                    assert!(r.joules >= 0.0);
                    sum += r.joules;
                    work += r.work;
                    assert_eq!(r.work, (i % 7) * (1 + t));
                }
                (key, sum, work)
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|h| h.join().unwrap()).collect();
    drop(ticker);
    acc.tick();
    let t = acc.totals();
    let records: f64 = results.iter().map(|r| r.1).sum();
    assert!(
        close(records + t.idle_joules, t.measured_joules),
        "{records} + {} != {}",
        t.idle_joules,
        t.measured_joules
    );
    assert!(close(t.attributed_joules, records));
    for k in &t.by_key {
        let (j, w): (f64, u64) = results
            .iter()
            .filter(|r| r.0 == k.key)
            .fold((0.0, 0), |acc, r| (acc.0 + r.1, acc.1 + r.2));
        assert!(close(k.joules, j), "{}: {} vs {j}", k.key, k.joules);
        assert_eq!(k.work, w);
    }
    assert_eq!(t.by_key.iter().map(|k| k.spans).sum::<u64>(), 8 * 300);
}

#[test]
fn shares_are_proportional_under_concurrent_add_work() {
    // Three threads add work at ratio 1:2:5 to spans open together; one
    // settlement at the end gives exact proportions.
    let fake = Fake::default();
    let acc = accountant(fake.clone(), CarbonConfig::default());
    let spans: Vec<_> = (0..3).map(|_| Arc::new(acc.begin("m"))).collect();
    let weights = [1u64, 2, 5];
    std::thread::scope(|s| {
        for (span, w) in spans.iter().zip(weights) {
            s.spawn(move || {
                for _ in 0..10_000 {
                    span.add_work(w);
                }
            });
        }
    });
    fake.add(80.0);
    let records: Vec<_> = spans
        .into_iter()
        .map(|s| Arc::try_unwrap(s).unwrap().finish())
        .collect();
    assert!(close(records[0].joules, 10.0));
    assert!(close(records[1].joules, 20.0));
    assert!(close(records[2].joules, 50.0));
}

#[test]
fn co2e_and_pue_arithmetic() {
    let c = CarbonConfig::default();
    assert_eq!(c.grid_g_per_kwh, 52.0);
    assert_eq!(c.pue, 1.0);
    assert!(close(c.co2e_g(3.6e6), 52.0)); // 1 kWh
    let c = CarbonConfig::new(52.0, 1.5, "site").unwrap();
    assert!(close(c.co2e_g(3.6e6), 78.0));
    assert!(close(c.facility_joules(10.0), 15.0));
    assert!(close(c.co2e_g(3600.0), 0.078)); // 1 Wh
    assert!(matches!(
        CarbonConfig::new(52.0, 0.9, "x"),
        Err(EnergyError::InvalidConfig(_))
    ));
    assert!(CarbonConfig::new(-1.0, 1.2, "x").is_err());

    let fake = Fake::default();
    let acc = accountant(fake.clone(), CarbonConfig::new(100.0, 1.2, "t").unwrap());
    let s = acc.begin("m");
    s.add_work(1);
    fake.add(36_000.0); // 10 Wh
    let r = s.finish();
    assert!(close(r.wh, 10.0));
    assert!(close(r.co2e_g, 0.01 * 1.2 * 100.0));
    assert_eq!(r.pue, 1.2);
}

#[test]
fn estimate_arithmetic() {
    use siagen_energy::{CpuPowerModel, GpuTdpEstimate};
    let m = CpuPowerModel::new(120.0, 24).unwrap();
    assert!(close(m.watts_per_core(), 5.0));
    assert!(close(
        m.joules_for_cpu_time(Duration::from_millis(1500)),
        7.5
    ));
    assert!(CpuPowerModel::new(0.0, 4).is_err());
    let g = GpuTdpEstimate::new(700.0, 0.5, 2).unwrap();
    assert!(close(g.joules_for(Duration::from_secs(3)), 2100.0));
    assert!(GpuTdpEstimate::new(700.0, 1.5, 1).is_err());
}

#[test]
fn process_cpu_estimate_grows_with_work() {
    use siagen_energy::{CpuPowerModel, ProcessCpuEstimate};
    let mut e = ProcessCpuEstimate::new(CpuPowerModel::new(100.0, 10).unwrap());
    let a = e.read_joules().unwrap();
    let mut x = 0u64;
    let t = std::time::Instant::now();
    while t.elapsed() < Duration::from_millis(50) {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
    }
    std::hint::black_box(x);
    let b = e.read_joules().unwrap();
    // ~50 ms CPU at 10 W/core = ~0.5 J; allow scheduling slack.
    assert!(b - a > 0.2 && b - a < 5.0, "{a} -> {b}");
    assert!(!e.method().is_measured());
}
