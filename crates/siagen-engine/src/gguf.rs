//! Minimal GGUF (v3) reader and writer.
//!
//! The reader only parses the header (metadata and tensor descriptors) so that
//! the registry can describe a model without loading its weights. The writer
//! exists so that tests and benchmarks can produce real model files offline;
//! tensor payloads are streamed, which lets it write multi-hundred-megabyte
//! random models without holding them in memory.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

const GGUF_MAGIC: &[u8; 4] = b"GGUF";
const GGUF_VERSION: u32 = 3;
/// Default alignment of the tensor data section (`general.alignment`).
pub const DEFAULT_ALIGNMENT: u64 = 32;

/// Arrays under these keys can hold hundreds of thousands of entries that the
/// registry never needs; the reader skips them to keep listing cheap.
const SKIPPED_ARRAYS: &[&str] = &[
    "tokenizer.ggml.merges",
    "tokenizer.ggml.token_type",
    "tokenizer.ggml.scores",
];

/// A metadata value as stored in a GGUF file.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    Array(Vec<MetaValue>),
    U64(u64),
    I64(i64),
    F64(f64),
    /// An array the reader did not materialise (see `SKIPPED_ARRAYS`); holds its length.
    SkippedArray(u64),
}

impl MetaValue {
    fn type_id(&self) -> u32 {
        match self {
            MetaValue::U8(_) => 0,
            MetaValue::I8(_) => 1,
            MetaValue::U16(_) => 2,
            MetaValue::I16(_) => 3,
            MetaValue::U32(_) => 4,
            MetaValue::I32(_) => 5,
            MetaValue::F32(_) => 6,
            MetaValue::Bool(_) => 7,
            MetaValue::String(_) => 8,
            MetaValue::Array(_) | MetaValue::SkippedArray(_) => 9,
            MetaValue::U64(_) => 10,
            MetaValue::I64(_) => 11,
            MetaValue::F64(_) => 12,
        }
    }

    /// The value as an unsigned integer, when it is an integer of any width.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            MetaValue::U8(v) => Some(v.into()),
            MetaValue::U16(v) => Some(v.into()),
            MetaValue::U32(v) => Some(v.into()),
            MetaValue::U64(v) => Some(v),
            MetaValue::I8(v) => u64::try_from(v).ok(),
            MetaValue::I16(v) => u64::try_from(v).ok(),
            MetaValue::I32(v) => u64::try_from(v).ok(),
            MetaValue::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a string slice, when it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetaValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a boolean, when it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            MetaValue::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

/// The ggml tensor types this crate can write (and names when reading).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GgmlType {
    F32,
    F16,
    Q8_0,
}

impl GgmlType {
    /// The numeric id used in the file.
    pub fn id(self) -> u32 {
        match self {
            GgmlType::F32 => 0,
            GgmlType::F16 => 1,
            GgmlType::Q8_0 => 8,
        }
    }

    /// Bytes taken by `n` elements (for Q8_0, `n` must be a multiple of 32).
    pub fn byte_size(self, n: u64) -> u64 {
        match self {
            GgmlType::F32 => n * 4,
            GgmlType::F16 => n * 2,
            GgmlType::Q8_0 => n / 32 * 34,
        }
    }

    /// The `general.file_type` value of a model whose large tensors use this type.
    pub fn file_type(self) -> u32 {
        match self {
            GgmlType::F32 => 0,
            GgmlType::F16 => 1,
            GgmlType::Q8_0 => 7,
        }
    }
}

/// Human name of a `general.file_type` value (llama.cpp's `llama_ftype`).
pub fn file_type_name(ft: u64) -> &'static str {
    match ft {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4",
        _ => "unknown",
    }
}

/// A tensor descriptor read from a GGUF header.
#[derive(Debug, Clone)]
pub struct TensorInfo {
    pub name: String,
    pub dims: Vec<u64>,
    pub ggml_type: u32,
    pub offset: u64,
}

impl TensorInfo {
    /// Number of elements.
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().product()
    }
}

/// The parsed header of a GGUF file.
#[derive(Debug, Clone)]
pub struct GgufHeader {
    pub version: u32,
    pub metadata: BTreeMap<String, MetaValue>,
    pub tensors: Vec<TensorInfo>,
}

impl GgufHeader {
    /// Reads the header of the GGUF file at `path`.
    pub fn read(path: &Path) -> io::Result<Self> {
        let mut r = BufReader::with_capacity(1 << 16, File::open(path)?);
        read_header(&mut r)
    }

    /// Looks up a metadata key.
    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.get(key)
    }

    /// Looks up a string metadata key.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(MetaValue::as_str)
    }

    /// Looks up an integer metadata key.
    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(MetaValue::as_u64)
    }

    /// `general.architecture`.
    pub fn architecture(&self) -> Option<&str> {
        self.get_str("general.architecture")
    }

    /// Looks up an architecture-scoped key such as `context_length`.
    pub fn get_arch_u64(&self, suffix: &str) -> Option<u64> {
        let arch = self.architecture()?;
        self.get_u64(&format!("{arch}.{suffix}"))
    }

    /// Text of the token with the given id, when the vocabulary was read.
    pub fn token_text(&self, id: u64) -> Option<&str> {
        match self.get("tokenizer.ggml.tokens")? {
            MetaValue::Array(items) => items.get(usize::try_from(id).ok()?)?.as_str(),
            _ => None,
        }
    }

    /// Total number of parameters (elements over all tensors).
    pub fn n_params(&self) -> u64 {
        self.tensors.iter().map(TensorInfo::n_elements).sum()
    }
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn read_u8(r: &mut impl Read) -> io::Result<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}
fn read_u16(r: &mut impl Read) -> io::Result<u16> {
    let mut b = [0u8; 2];
    r.read_exact(&mut b)?;
    Ok(u16::from_le_bytes(b))
}
fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}
fn read_u64(r: &mut impl Read) -> io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

/// Upper bound on lengths read from a file, so a corrupt header cannot make
/// the reader allocate without limit.
const MAX_LEN: u64 = 1 << 28;

fn read_string(r: &mut impl Read) -> io::Result<String> {
    let len = read_u64(r)?;
    if len > MAX_LEN {
        return Err(invalid(format!("string length {len} too large")));
    }
    let mut buf = vec![0u8; len as usize];
    r.read_exact(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn skip_value(r: &mut impl Read, ty: u32) -> io::Result<()> {
    let n = match ty {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        10..=12 => 8,
        8 => read_u64(r)?,
        9 => {
            let elem = read_u32(r)?;
            let count = read_u64(r)?;
            for _ in 0..count {
                skip_value(r, elem)?;
            }
            return Ok(());
        }
        _ => return Err(invalid(format!("unknown metadata type {ty}"))),
    };
    io::copy(&mut r.take(n), &mut io::sink())?;
    Ok(())
}

fn read_value(r: &mut impl Read, ty: u32, skip_array: bool) -> io::Result<MetaValue> {
    Ok(match ty {
        0 => MetaValue::U8(read_u8(r)?),
        1 => MetaValue::I8(read_u8(r)? as i8),
        2 => MetaValue::U16(read_u16(r)?),
        3 => MetaValue::I16(read_u16(r)? as i16),
        4 => MetaValue::U32(read_u32(r)?),
        5 => MetaValue::I32(read_u32(r)? as i32),
        6 => MetaValue::F32(f32::from_bits(read_u32(r)?)),
        7 => MetaValue::Bool(read_u8(r)? != 0),
        8 => MetaValue::String(read_string(r)?),
        9 => {
            let elem = read_u32(r)?;
            let count = read_u64(r)?;
            if skip_array {
                for _ in 0..count {
                    skip_value(r, elem)?;
                }
                MetaValue::SkippedArray(count)
            } else {
                if count > MAX_LEN {
                    return Err(invalid(format!("array length {count} too large")));
                }
                let mut items = Vec::with_capacity(count.min(1 << 20) as usize);
                for _ in 0..count {
                    items.push(read_value(r, elem, false)?);
                }
                MetaValue::Array(items)
            }
        }
        10 => MetaValue::U64(read_u64(r)?),
        11 => MetaValue::I64(read_u64(r)? as i64),
        12 => MetaValue::F64(f64::from_bits(read_u64(r)?)),
        _ => return Err(invalid(format!("unknown metadata type {ty}"))),
    })
}

fn read_header(r: &mut impl Read) -> io::Result<GgufHeader> {
    let mut magic = [0u8; 4];
    r.read_exact(&mut magic)?;
    if &magic != GGUF_MAGIC {
        return Err(invalid("not a GGUF file (bad magic)"));
    }
    let version = read_u32(r)?;
    if !(2..=3).contains(&version) {
        return Err(invalid(format!("unsupported GGUF version {version}")));
    }
    let n_tensors = read_u64(r)?;
    let n_kv = read_u64(r)?;
    if n_tensors > MAX_LEN || n_kv > MAX_LEN {
        return Err(invalid("corrupt GGUF header counts"));
    }
    let mut metadata = BTreeMap::new();
    for _ in 0..n_kv {
        let key = read_string(r)?;
        let ty = read_u32(r)?;
        let skip = SKIPPED_ARRAYS.contains(&key.as_str());
        let value = read_value(r, ty, skip)?;
        metadata.insert(key, value);
    }
    let mut tensors = Vec::with_capacity(n_tensors as usize);
    for _ in 0..n_tensors {
        let name = read_string(r)?;
        let n_dims = read_u32(r)?;
        if n_dims > 8 {
            return Err(invalid(format!("tensor {name} has {n_dims} dimensions")));
        }
        let dims = (0..n_dims)
            .map(|_| read_u64(r))
            .collect::<io::Result<Vec<_>>>()?;
        let ggml_type = read_u32(r)?;
        let offset = read_u64(r)?;
        tensors.push(TensorInfo {
            name,
            dims,
            ggml_type,
            offset,
        });
    }
    Ok(GgufHeader {
        version,
        metadata,
        tensors,
    })
}

/// Where a tensor's payload comes from when writing.
#[derive(Debug, Clone)]
pub enum TensorSource {
    /// Values given explicitly, converted to the tensor type on write.
    Values(Vec<f32>),
    /// Uniform random values in `[-scale, scale]` from a seeded generator,
    /// produced while writing so large models never sit in memory.
    Random { seed: u64, scale: f32 },
    /// Every element set to the same value (norm weights).
    Constant(f32),
}

/// A tensor to be written.
#[derive(Debug, Clone)]
pub struct TensorSpec {
    pub name: String,
    /// ggml order: `dims[0]` is the contiguous (row) dimension.
    pub dims: Vec<u64>,
    pub ggml_type: GgmlType,
    pub source: TensorSource,
}

/// Builds a GGUF file from metadata and tensor specs.
#[derive(Debug, Default, Clone)]
pub struct GgufWriter {
    metadata: Vec<(String, MetaValue)>,
    tensors: Vec<TensorSpec>,
}

impl GgufWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a metadata entry.
    pub fn set(&mut self, key: &str, value: MetaValue) -> &mut Self {
        self.metadata.retain(|(k, _)| k != key);
        self.metadata.push((key.to_string(), value));
        self
    }

    /// Adds a tensor.
    pub fn add_tensor(&mut self, spec: TensorSpec) -> &mut Self {
        self.tensors.push(spec);
        self
    }

    /// Writes the file.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
        w.write_all(GGUF_MAGIC)?;
        w.write_all(&GGUF_VERSION.to_le_bytes())?;
        w.write_all(&(self.tensors.len() as u64).to_le_bytes())?;
        w.write_all(&(self.metadata.len() as u64).to_le_bytes())?;
        for (k, v) in &self.metadata {
            write_string(&mut w, k)?;
            w.write_all(&v.type_id().to_le_bytes())?;
            write_value(&mut w, v)?;
        }
        let align = DEFAULT_ALIGNMENT;
        let mut offset = 0u64;
        let mut offsets = Vec::with_capacity(self.tensors.len());
        for t in &self.tensors {
            let n: u64 = t.dims.iter().product();
            if t.ggml_type == GgmlType::Q8_0 && t.dims[0] % 32 != 0 {
                return Err(invalid(format!(
                    "tensor {}: Q8_0 rows must be a multiple of 32",
                    t.name
                )));
            }
            write_string(&mut w, &t.name)?;
            w.write_all(&(t.dims.len() as u32).to_le_bytes())?;
            for d in &t.dims {
                w.write_all(&d.to_le_bytes())?;
            }
            w.write_all(&t.ggml_type.id().to_le_bytes())?;
            w.write_all(&offset.to_le_bytes())?;
            offsets.push(offset);
            offset += t.ggml_type.byte_size(n).next_multiple_of(align);
        }
        // Pad the header so the data section starts aligned. BufWriter does
        // not expose its position, so count what was written instead.
        let header_len = self.header_len();
        write_padding(&mut w, header_len, align)?;
        for t in &self.tensors {
            let n: u64 = t.dims.iter().product();
            let written = write_tensor_data(&mut w, t, n)?;
            write_padding(&mut w, written, align)?;
        }
        w.flush()
    }

    fn header_len(&self) -> u64 {
        let mut len = 4 + 4 + 8 + 8;
        for (k, v) in &self.metadata {
            len += 8 + k.len() as u64 + 4 + value_len(v);
        }
        for t in &self.tensors {
            len += 8 + t.name.len() as u64 + 4 + 8 * t.dims.len() as u64 + 4 + 8;
        }
        len
    }
}

fn value_len(v: &MetaValue) -> u64 {
    match v {
        MetaValue::U8(_) | MetaValue::I8(_) | MetaValue::Bool(_) => 1,
        MetaValue::U16(_) | MetaValue::I16(_) => 2,
        MetaValue::U32(_) | MetaValue::I32(_) | MetaValue::F32(_) => 4,
        MetaValue::U64(_) | MetaValue::I64(_) | MetaValue::F64(_) => 8,
        MetaValue::String(s) => 8 + s.len() as u64,
        MetaValue::Array(items) => 4 + 8 + items.iter().map(value_len).sum::<u64>(),
        MetaValue::SkippedArray(_) => 4 + 8,
    }
}

fn write_padding(w: &mut impl Write, written: u64, align: u64) -> io::Result<()> {
    let pad = written.next_multiple_of(align) - written;
    w.write_all(&vec![0u8; pad as usize])
}

fn write_string(w: &mut impl Write, s: &str) -> io::Result<()> {
    w.write_all(&(s.len() as u64).to_le_bytes())?;
    w.write_all(s.as_bytes())
}

fn write_value(w: &mut impl Write, v: &MetaValue) -> io::Result<()> {
    match v {
        MetaValue::U8(x) => w.write_all(&[*x]),
        MetaValue::I8(x) => w.write_all(&x.to_le_bytes()),
        MetaValue::U16(x) => w.write_all(&x.to_le_bytes()),
        MetaValue::I16(x) => w.write_all(&x.to_le_bytes()),
        MetaValue::U32(x) => w.write_all(&x.to_le_bytes()),
        MetaValue::I32(x) => w.write_all(&x.to_le_bytes()),
        MetaValue::F32(x) => w.write_all(&x.to_le_bytes()),
        MetaValue::Bool(x) => w.write_all(&[u8::from(*x)]),
        MetaValue::String(s) => write_string(w, s),
        MetaValue::U64(x) => w.write_all(&x.to_le_bytes()),
        MetaValue::I64(x) => w.write_all(&x.to_le_bytes()),
        MetaValue::F64(x) => w.write_all(&x.to_le_bytes()),
        MetaValue::Array(items) => {
            let elem = items.first().map_or(8, MetaValue::type_id);
            if items
                .iter()
                .any(|i| i.type_id() != elem || i.type_id() == 9)
            {
                return Err(invalid("GGUF arrays must be flat and homogeneous"));
            }
            w.write_all(&elem.to_le_bytes())?;
            w.write_all(&(items.len() as u64).to_le_bytes())?;
            for i in items {
                write_value(w, i)?;
            }
            Ok(())
        }
        MetaValue::SkippedArray(_) => Err(invalid("cannot write a skipped array")),
    }
}

/// Small, fast, seedable generator (SplitMix64) for weights; quality is
/// irrelevant here, speed and reproducibility are what matter.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    fn next_f32(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// Converts an f32 to IEEE half precision bits (round to nearest even).
pub fn f32_to_f16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let mant = bits & 0x007f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if mant != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = mant | 0x0080_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rounded = (m + half - 1 + ((m >> shift) & 1)) >> shift;
        return sign | rounded as u16;
    }
    let half_m = mant >> 13;
    let rest = mant & 0x1fff;
    let mut out = ((e as u32) << 10) | half_m;
    if rest > 0x1000 || (rest == 0x1000 && (half_m & 1) == 1) {
        out += 1;
    }
    sign | out as u16
}

fn write_tensor_data(w: &mut impl Write, t: &TensorSpec, n: u64) -> io::Result<u64> {
    let mut rng = match t.source {
        TensorSource::Random { seed, .. } => SplitMix(seed),
        _ => SplitMix(0),
    };
    let mut value_at = |i: u64| -> f32 {
        match &t.source {
            TensorSource::Values(v) => v[i as usize],
            TensorSource::Random { scale, .. } => rng.next_f32() * scale,
            TensorSource::Constant(c) => *c,
        }
    };
    if let TensorSource::Values(v) = &t.source {
        if v.len() as u64 != n {
            return Err(invalid(format!(
                "tensor {}: {} values for {} elements",
                t.name,
                v.len(),
                n
            )));
        }
    }
    const CHUNK: u64 = 1 << 16;
    let mut buf = Vec::with_capacity(CHUNK as usize * 4);
    match t.ggml_type {
        GgmlType::F32 | GgmlType::F16 => {
            let mut i = 0;
            while i < n {
                buf.clear();
                for j in i..(i + CHUNK).min(n) {
                    let x = value_at(j);
                    if t.ggml_type == GgmlType::F32 {
                        buf.extend_from_slice(&x.to_le_bytes());
                    } else {
                        buf.extend_from_slice(&f32_to_f16_bits(x).to_le_bytes());
                    }
                }
                w.write_all(&buf)?;
                i += CHUNK;
            }
        }
        GgmlType::Q8_0 => {
            let mut block = [0f32; 32];
            for b in 0..n / 32 {
                for (k, slot) in block.iter_mut().enumerate() {
                    *slot = value_at(b * 32 + k as u64);
                }
                let amax = block.iter().fold(0f32, |m, x| m.max(x.abs()));
                let d = amax / 127.0;
                let id = if d > 0.0 { 1.0 / d } else { 0.0 };
                buf.extend_from_slice(&f32_to_f16_bits(d).to_le_bytes());
                buf.extend(block.iter().map(|x| (x * id).round() as i8 as u8));
                if buf.len() >= CHUNK as usize * 4 {
                    w.write_all(&buf)?;
                    buf.clear();
                }
            }
            w.write_all(&buf)?;
        }
    }
    Ok(t.ggml_type.byte_size(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_conversion_matches_known_values() {
        assert_eq!(f32_to_f16_bits(1.0), 0x3c00);
        assert_eq!(f32_to_f16_bits(-2.0), 0xc000);
        assert_eq!(f32_to_f16_bits(0.0), 0);
        assert_eq!(f32_to_f16_bits(65504.0), 0x7bff);
        assert_eq!(f32_to_f16_bits(1e6), 0x7c00);
        assert_eq!(f32_to_f16_bits(5.960_464_5e-8), 0x0001);
    }

    #[test]
    fn roundtrip_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.gguf");
        let mut w = GgufWriter::new();
        w.set("general.architecture", MetaValue::String("llama".into()))
            .set("llama.context_length", MetaValue::U32(128))
            .set(
                "tokenizer.ggml.tokens",
                MetaValue::Array(vec![
                    MetaValue::String("a".into()),
                    MetaValue::String("b".into()),
                ]),
            )
            .set(
                "tokenizer.ggml.merges",
                MetaValue::Array(vec![MetaValue::String("a b".into())]),
            );
        w.add_tensor(TensorSpec {
            name: "x".into(),
            dims: vec![32, 3],
            ggml_type: GgmlType::Q8_0,
            source: TensorSource::Random {
                seed: 1,
                scale: 1.0,
            },
        });
        w.add_tensor(TensorSpec {
            name: "y".into(),
            dims: vec![5],
            ggml_type: GgmlType::F16,
            source: TensorSource::Constant(1.0),
        });
        w.write(&path).unwrap();
        let h = GgufHeader::read(&path).unwrap();
        assert_eq!(h.architecture(), Some("llama"));
        assert_eq!(h.get_arch_u64("context_length"), Some(128));
        assert_eq!(h.token_text(1), Some("b"));
        assert_eq!(
            h.get("tokenizer.ggml.merges"),
            Some(&MetaValue::SkippedArray(1))
        );
        assert_eq!(h.n_params(), 32 * 3 + 5);
        assert_eq!(h.tensors[1].offset, (34u64 * 3).next_multiple_of(32));
        let len = std::fs::metadata(&path).unwrap().len();
        assert_eq!(len % 32, 0);
    }
}
