//! The on-disk dense index: one append-only file, `vectors.bin`, read into memory at open and
//! searched by brute force (a dot product over L2-normalised f32 vectors: at 100k × 384 this is
//! a few milliseconds on two cores, with exact results and no index to rebuild).
//!
//! Layout: `SGKBVEC1`, dimension (u32 LE), model-name length (u32 LE), model name; then records
//! of chunk rowid, document rowid, collection id (i64 LE each) and `dim` f32 LE. A torn last
//! record (crash mid-append) is cut off at open. Removed chunks are dropped from memory at once
//! (and never surface anyway: hits are joined with the catalog); the file is rewritten (temp file,
//! fsync, rename) when dead records outnumber live ones.

use crate::error::{KbError, Result};
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"SGKBVEC1";

/// One vector to store.
pub(crate) struct Record {
    pub chunk: i64,
    pub doc: i64,
    pub collection: i64,
    pub vector: Vec<f32>,
}

pub(crate) struct Vectors {
    path: PathBuf,
    pub model: String,
    pub dim: usize,
    data: Vec<f32>,
    /// The same vectors quantised to i8 (each scaled so that its largest component is ±127):
    /// the scan reads 4× less memory (at 100k × 384 an f32 scan is memory-bound), then the best
    /// candidates are re-scored exactly in f32.
    quant: Vec<i8>,
    /// Per vector, the inverse of its quantisation scale.
    quant_inv: Vec<f32>,
    pub chunk: Vec<i64>,
    doc: Vec<i64>,
    collection: Vec<i64>,
    /// Records in the file, dead ones included.
    in_file: usize,
    /// File length and modification time when last read (to see another process's appends).
    seen: (u64, Option<std::time::SystemTime>),
}

fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

impl Vectors {
    fn header_len(&self) -> u64 {
        16 + self.model.len() as u64
    }

    fn record_len(&self) -> u64 {
        24 + 4 * self.dim as u64
    }

    /// Reads the file (an empty index if there is none).
    pub fn open(path: &Path) -> Result<Vectors> {
        let mut v = Vectors {
            path: path.to_path_buf(),
            model: String::new(),
            dim: 0,
            data: Vec::new(),
            quant: Vec::new(),
            quant_inv: Vec::new(),
            chunk: Vec::new(),
            doc: Vec::new(),
            collection: Vec::new(),
            in_file: 0,
            seen: (0, None),
        };
        v.load()?;
        Ok(v)
    }

    fn stat(&self) -> (u64, Option<std::time::SystemTime>) {
        std::fs::metadata(&self.path)
            .map(|m| (m.len(), m.modified().ok()))
            .unwrap_or((0, None))
    }

    fn load(&mut self) -> Result<()> {
        self.data.clear();
        self.quant.clear();
        self.quant_inv.clear();
        self.chunk.clear();
        self.doc.clear();
        self.collection.clear();
        self.in_file = 0;
        let mut bytes = Vec::new();
        match File::open(&self.path) {
            Ok(mut f) => {
                f.read_to_end(&mut bytes)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.model.clear();
                self.dim = 0;
                self.seen = (0, None);
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        }
        if bytes.len() < 16 || &bytes[..8] != MAGIC {
            return Err(KbError::Vectors(format!(
                "{} is not a vector index",
                self.path.display()
            )));
        }
        self.dim = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
        let name_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
        let name = bytes
            .get(16..16 + name_len)
            .ok_or_else(|| KbError::Vectors("truncated header".into()))?;
        self.model = String::from_utf8_lossy(name).into_owned();
        let body = &bytes[16 + name_len..];
        let rl = self.record_len() as usize;
        let whole = body.len() / rl;
        self.parse_records(&body[..whole * rl]);
        let good_len = self.header_len() + (whole * rl) as u64;
        if good_len < bytes.len() as u64 {
            // A torn append: cut it so that the next append starts on a record boundary.
            OpenOptions::new()
                .write(true)
                .open(&self.path)?
                .set_len(good_len)?;
        }
        self.seen = self.stat();
        Ok(())
    }

    fn parse_records(&mut self, body: &[u8]) {
        let rl = self.record_len() as usize;
        for rec in body.chunks_exact(rl) {
            let int = |i: usize| i64::from_le_bytes(rec[i * 8..i * 8 + 8].try_into().unwrap());
            self.chunk.push(int(0));
            self.doc.push(int(1));
            self.collection.push(int(2));
            let start = self.data.len();
            self.data.extend(
                rec[24..]
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().unwrap())),
            );
            let inv = quantise_into(&self.data[start..], &mut self.quant);
            self.quant_inv.push(inv);
            self.in_file += 1;
        }
    }

    /// Whether another process changed the file since it was last read.
    pub fn stale(&self) -> bool {
        self.stat() != self.seen
    }

    /// Picks up records appended (or a rewrite made) by another process since the last read.
    pub fn refresh(&mut self) -> Result<()> {
        let now = self.stat();
        if now == self.seen {
            return Ok(());
        }
        let expected = self.header_len() + self.in_file as u64 * self.record_len();
        if self.dim > 0 && now.0 > expected {
            let mut f = File::open(&self.path)?;
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes)?;
            let rl = self.record_len() as usize;
            let tail = &bytes[expected as usize..];
            let whole = tail.len() / rl;
            self.parse_records(&tail[..whole * rl]);
            self.seen = now;
            Ok(())
        } else {
            self.load()
        }
    }

    /// Empties the index and starts it for `model` with dimension `dim`.
    pub fn reset(&mut self, model: &str, dim: usize) -> Result<()> {
        self.model = model.to_string();
        self.dim = dim;
        self.data.clear();
        self.quant.clear();
        self.quant_inv.clear();
        self.chunk.clear();
        self.doc.clear();
        self.collection.clear();
        self.rewrite()
    }

    /// Writes the live records to a temporary file and renames it over the index.
    fn rewrite(&mut self) -> Result<()> {
        let tmp = self.path.with_extension("bin.tmp");
        {
            let mut f = std::io::BufWriter::new(File::create(&tmp)?);
            f.write_all(MAGIC)?;
            f.write_all(&(self.dim as u32).to_le_bytes())?;
            f.write_all(&(self.model.len() as u32).to_le_bytes())?;
            f.write_all(self.model.as_bytes())?;
            for i in 0..self.chunk.len() {
                self.write_record(&mut f, i)?;
            }
            f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        if let Some(parent) = self.path.parent() {
            File::open(parent)?.sync_all()?;
        }
        self.in_file = self.chunk.len();
        self.seen = self.stat();
        Ok(())
    }

    fn write_record(&self, f: &mut impl Write, i: usize) -> std::io::Result<()> {
        f.write_all(&self.chunk[i].to_le_bytes())?;
        f.write_all(&self.doc[i].to_le_bytes())?;
        f.write_all(&self.collection[i].to_le_bytes())?;
        for x in &self.data[i * self.dim..(i + 1) * self.dim] {
            f.write_all(&x.to_le_bytes())?;
        }
        Ok(())
    }

    /// Appends records (normalised here) and syncs the file.
    pub fn append(&mut self, records: Vec<Record>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let first = self.chunk.len();
        for mut r in records {
            if r.vector.len() != self.dim {
                return Err(KbError::Embedding(format!(
                    "vector of dimension {} for a {}-dimension index",
                    r.vector.len(),
                    self.dim
                )));
            }
            normalise(&mut r.vector);
            self.chunk.push(r.chunk);
            self.doc.push(r.doc);
            self.collection.push(r.collection);
            self.data.extend_from_slice(&r.vector);
            let inv = quantise_into(&r.vector, &mut self.quant);
            self.quant_inv.push(inv);
        }
        let mut f = std::io::BufWriter::new(OpenOptions::new().append(true).open(&self.path)?);
        for i in first..self.chunk.len() {
            self.write_record(&mut f, i)?;
        }
        f.into_inner().map_err(|e| e.into_error())?.sync_data()?;
        self.in_file += self.chunk.len() - first;
        self.seen = self.stat();
        Ok(())
    }

    /// Drops the vectors of these documents; compacts the file when it is mostly dead.
    pub fn remove_docs(&mut self, docs: &HashSet<i64>) -> Result<()> {
        if docs.is_empty() {
            return Ok(());
        }
        self.retain(|_, doc| !docs.contains(&doc))
    }

    /// Keeps only the vectors of these chunks (the catalog's), e.g. after a crash left vectors of
    /// deleted chunks in the file.
    pub fn retain_chunks(&mut self, live: &HashSet<i64>) -> Result<()> {
        self.retain(|chunk, _| live.contains(&chunk))
    }

    /// Keeps the records `keep(chunk, doc)` accepts; compacts the file when it is mostly dead.
    fn retain(&mut self, keep: impl Fn(i64, i64) -> bool) -> Result<()> {
        if self.dim == 0 {
            return Ok(());
        }
        let dim = self.dim;
        let mut w = 0;
        for r in 0..self.chunk.len() {
            if !keep(self.chunk[r], self.doc[r]) {
                continue;
            }
            if w != r {
                self.chunk[w] = self.chunk[r];
                self.doc[w] = self.doc[r];
                self.collection[w] = self.collection[r];
                self.data.copy_within(r * dim..(r + 1) * dim, w * dim);
                self.quant.copy_within(r * dim..(r + 1) * dim, w * dim);
                self.quant_inv[w] = self.quant_inv[r];
            }
            w += 1;
        }
        self.chunk.truncate(w);
        self.doc.truncate(w);
        self.collection.truncate(w);
        self.data.truncate(w * dim);
        self.quant.truncate(w * dim);
        self.quant_inv.truncate(w);
        if self.in_file > 2 * w + 64 {
            self.rewrite()?;
        }
        Ok(())
    }

    /// The `n` best (chunk rowid, cosine) among records `keep` accepts (by document rowid and
    /// collection id). Two threads above 20k vectors.
    pub fn search(
        &self,
        query: &[f32],
        n: usize,
        keep: &(dyn Fn(i64, i64) -> bool + Sync),
    ) -> Vec<(i64, f32)> {
        if self.dim == 0 || query.len() != self.dim || n == 0 {
            return Vec::new();
        }
        let mut q = query.to_vec();
        normalise(&mut q);
        let mut qq: Vec<i8> = Vec::with_capacity(q.len());
        quantise_into(&q, &mut qq);
        let total = self.chunk.len();
        // Candidates from the i8 scan, re-scored in f32: generous enough that quantisation
        // error (about 1% of the cosine) does not change the top n.
        let pool = (n * 4).max(64);
        let dim = self.dim;
        let scan = |from: usize, to: usize| {
            let mut best: Vec<(f32, usize)> = Vec::with_capacity(2 * pool + 1);
            let mut floor = f32::NEG_INFINITY;
            for i in from..to {
                let s = dot_i8(&qq, &self.quant[i * dim..(i + 1) * dim]) as f32 * self.quant_inv[i];
                if (best.len() < pool || s > floor) && keep(self.doc[i], self.collection[i]) {
                    best.push((s, i));
                    if best.len() >= 2 * pool {
                        best.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
                        best.truncate(pool);
                        floor = best[pool - 1].0;
                    }
                }
            }
            best
        };
        let candidates = if total > 20_000 {
            let mid = total / 2;
            std::thread::scope(|s| {
                let h = s.spawn(|| scan(mid, total));
                let mut a = scan(0, mid);
                a.extend(h.join().expect("vector scan thread"));
                a
            })
        } else {
            scan(0, total)
        };
        let mut best: Vec<(f32, usize)> = candidates
            .into_iter()
            .map(|(_, i)| (dot(&q, &self.data[i * dim..(i + 1) * dim]), i))
            .collect();
        best.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
        best.truncate(n);
        best.into_iter().map(|(s, i)| (self.chunk[i], s)).collect()
    }

    /// Chunk rowids that have a vector.
    pub fn chunk_set(&self) -> HashSet<i64> {
        self.chunk.iter().copied().collect()
    }

    pub fn len(&self) -> usize {
        self.chunk.len()
    }
}

/// Appends `v` quantised to i8 (largest component ±127) to `out`; returns 1 / scale.
fn quantise_into(v: &[f32], out: &mut Vec<i8>) -> f32 {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    if max == 0.0 {
        out.extend(std::iter::repeat_n(0i8, v.len()));
        return 0.0;
    }
    let scale = 127.0 / max;
    out.extend(
        v.iter()
            .map(|&x| (x * scale).round().clamp(-127.0, 127.0) as i8),
    );
    1.0 / scale
}

/// Integer dot product in 16 lanes (vectorised by the compiler).
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let mut acc = [0i32; 16];
    let ca = a.chunks_exact(16);
    let cb = b.chunks_exact(16);
    let tail: i32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| *x as i32 * *y as i32)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..16 {
            acc[k] += x[k] as i32 * y[k] as i32;
        }
    }
    acc.iter().sum::<i32>() + tail
}

/// Dot product in 8 independent lanes so that the compiler vectorises it.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(chunk: i64, doc: i64, seed: u64, dim: usize) -> Record {
        let mut x = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
        let vector = (0..dim)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect();
        Record {
            chunk,
            doc,
            collection: 1,
            vector,
        }
    }

    #[test]
    fn quantised_scan_matches_exact_search_and_survives_reopen_and_tears() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("vectors.bin");
        let dim = 48;
        let mut v = Vectors::open(&path).unwrap();
        v.reset("m", dim).unwrap();
        v.append(
            (0..3000)
                .map(|i| record(i, i / 10, i as u64 + 1, dim))
                .collect(),
        )
        .unwrap();
        let q = record(-1, -1, 424242, dim).vector;
        // Exact ranking by brute force in f64.
        let mut qn = q.clone();
        normalise(&mut qn);
        let mut exact: Vec<(f64, i64)> = (0..3000)
            .map(|i| {
                let mut r = record(i, 0, i as u64 + 1, dim).vector;
                normalise(&mut r);
                (r.iter().zip(&qn).map(|(a, b)| (a * b) as f64).sum(), i)
            })
            .collect();
        exact.sort_by(|a, b| b.0.total_cmp(&a.0));
        let got = v.search(&q, 10, &|_, _| true);
        let want: Vec<i64> = exact[..10].iter().map(|e| e.1).collect();
        assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), want);
        assert!((got[0].1 as f64 - exact[0].0).abs() < 1e-5);
        // Filters and removal.
        let only_even = v.search(&q, 10, &|doc, _| doc % 2 == 0);
        assert!(only_even.iter().all(|(c, _)| (c / 10) % 2 == 0));
        v.remove_docs(&[want[0] / 10].into()).unwrap();
        assert!(v
            .search(&q, 10, &|_, _| true)
            .iter()
            .all(|(c, _)| c / 10 != want[0] / 10));
        // Reopen after a torn append: whole records only, same results.
        let live = v.len();
        v.append(vec![record(9999, 999, 7, dim)]).unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 3)
            .unwrap();
        let v2 = Vectors::open(&path).unwrap();
        assert_eq!(v2.model, "m");
        assert_eq!(v2.dim, dim);
        // The removal was in memory only until compaction (the knowledge base prunes at open
        // with `retain_chunks`); the torn record is gone.
        assert!(v2.len() >= live && !v2.chunk_set().contains(&9999));
        let mut v2 = v2;
        let keep: HashSet<i64> = (0..100).collect();
        v2.retain_chunks(&keep).unwrap();
        assert_eq!(v2.len(), 100);
    }
}
