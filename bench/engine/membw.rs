//! A small STREAM-like memory-bandwidth measurement (read and triad kernels)
//! with a given number of threads, to put generation speed against the
//! machine's bound: decoding one token reads every weight once.

use std::time::Instant;

/// Best observed bandwidths in GB/s (10^9 bytes per second).
#[derive(Debug, Clone, Copy)]
pub struct Bandwidth {
    /// Summing an array: only reads, like the weight streaming of a decode step.
    pub read_gbs: f64,
    /// STREAM triad `a = b + s*c` (24 bytes counted per element).
    pub triad_gbs: f64,
}

/// Arrays of `2^24` doubles (128 MiB each), far beyond any cache.
const LEN: usize = 1 << 24;

pub fn measure(threads: usize) -> Bandwidth {
    let threads = threads.max(1);
    let mut a = vec![0f64; LEN];
    let mut b = vec![0f64; LEN];
    let mut c = vec![0f64; LEN];
    let chunk = LEN.div_ceil(threads);
    // First touch from the threads that will use the pages.
    std::thread::scope(|s| {
        for ((a, b), c) in a
            .chunks_mut(chunk)
            .zip(b.chunks_mut(chunk))
            .zip(c.chunks_mut(chunk))
        {
            s.spawn(move || {
                for (i, ((x, y), z)) in a.iter_mut().zip(b).zip(c).enumerate() {
                    *x = 1.0;
                    *y = 2.0;
                    *z = i as f64;
                }
            });
        }
    });
    let mut read_best = 0f64;
    let mut triad_best = 0f64;
    let mut sink = 0f64;
    for _ in 0..5 {
        let t = Instant::now();
        let sums: Vec<f64> = std::thread::scope(|s| {
            let hs: Vec<_> = a.chunks(chunk).map(|a| s.spawn(move || sum8(a))).collect();
            hs.into_iter().map(|h| h.join().unwrap_or(0.0)).collect()
        });
        let secs = t.elapsed().as_secs_f64();
        sink += sums.iter().sum::<f64>();
        read_best = read_best.max((LEN * 8) as f64 / secs / 1e9);

        let t = Instant::now();
        std::thread::scope(|s| {
            for ((a, b), c) in a
                .chunks_mut(chunk)
                .zip(b.chunks(chunk))
                .zip(c.chunks(chunk))
            {
                s.spawn(move || {
                    for ((x, y), z) in a.iter_mut().zip(b).zip(c) {
                        *x = y + 3.0 * z;
                    }
                });
            }
        });
        let secs = t.elapsed().as_secs_f64();
        triad_best = triad_best.max((LEN * 24) as f64 / secs / 1e9);
    }
    // Keep the sums observable so the reads cannot be optimised away.
    std::hint::black_box(sink);
    Bandwidth {
        read_gbs: read_best,
        triad_gbs: triad_best,
    }
}

/// Sum with eight independent accumulators, so the loop is bound by memory
/// rather than by the latency of one dependent chain of additions.
fn sum8(a: &[f64]) -> f64 {
    let mut acc = [0f64; 8];
    let mut it = a.chunks_exact(8);
    for c in &mut it {
        for (x, y) in acc.iter_mut().zip(c) {
            *x += y;
        }
    }
    acc.iter().sum::<f64>() + it.remainder().iter().sum::<f64>()
}
