//! Random-weight benchmark models of realistic shapes, written by siagen's own
//! GGUF writer and, for K-quants (which the writer does not produce),
//! quantised by llama.cpp's `llama_model_quantize` from an F16 file, so the
//! bench needs no downloaded weights nor any external tool.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::time::Instant;

use siagen_engine::gguf::GgmlType;
use siagen_engine::testmodel::{write_tiny_llama, TinyConfig};

/// Model shapes the bench can write (Qwen2.5's dimensions in a llama graph:
/// no q/k/v biases, which are under 0.01% of the weights).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Qwen05b,
    Qwen15b,
}

impl Shape {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "0.5b" | "qwen2.5-0.5b" => Ok(Self::Qwen05b),
            "1.5b" | "qwen2.5-1.5b" => Ok(Self::Qwen15b),
            other => Err(format!("unknown shape {other} (0.5b or 1.5b)")),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Qwen05b => "Qwen2.5-0.5B",
            Self::Qwen15b => "Qwen2.5-1.5B",
        }
    }

    /// The writer's configuration for this shape with matrices in `dtype`.
    pub fn config(self, dtype: GgmlType) -> TinyConfig {
        match self {
            Self::Qwen05b => TinyConfig::qwen25_05b_shape(dtype),
            // Qwen2.5-1.5B: 28 layers, 1536 wide, GQA 12/2, 8960 FFN, tied embeddings.
            Self::Qwen15b => TinyConfig {
                name: "random-qwen2.5-1.5b-shape".into(),
                n_embd: 1536,
                n_layer: 28,
                n_head: 12,
                n_head_kv: 2,
                n_ff: 8960,
                ..TinyConfig::qwen25_05b_shape(dtype)
            },
        }
    }
}

/// Weight formats: the writer's own, or Q4_K_M through llama.cpp's quantiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quant {
    F32,
    F16,
    Q8_0,
    Q4KM,
}

impl Quant {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "f32" => Ok(Self::F32),
            "f16" => Ok(Self::F16),
            "q8_0" => Ok(Self::Q8_0),
            "q4_k_m" => Ok(Self::Q4KM),
            other => Err(format!("unknown dtype {other} (q8_0, q4_k_m, f16, f32)")),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::Q8_0 => "q8_0",
            Self::Q4KM => "q4_k_m",
        }
    }
}

/// Default file name of a bench model, e.g. `qwen2.5-0.5b-shape-q8_0.gguf`.
pub fn file_name(shape: Shape, quant: Quant) -> String {
    format!(
        "{}-shape-{}.gguf",
        shape.label().to_ascii_lowercase(),
        quant.label()
    )
}

/// Writes the model to `path` unless it exists. Files are written under a
/// temporary name and renamed, so an interrupted run never leaves a truncated
/// model that a later run would take for a good one.
pub fn ensure(path: &Path, shape: Shape, quant: Quant, threads: usize) -> Result<(), String> {
    if path.exists() {
        return Ok(());
    }
    let t = Instant::now();
    let partial = sibling(path, "partial");
    let err = |e: std::io::Error| format!("cannot write {}: {e}", partial.display());
    match quant {
        Quant::F32 | Quant::F16 | Quant::Q8_0 => {
            let dtype = match quant {
                Quant::F32 => GgmlType::F32,
                Quant::F16 => GgmlType::F16,
                _ => GgmlType::Q8_0,
            };
            write_tiny_llama(&partial, &shape.config(dtype)).map_err(err)?;
        }
        Quant::Q4KM => {
            let f16 = sibling(path, "f16-partial");
            write_tiny_llama(&f16, &shape.config(GgmlType::F16)).map_err(err)?;
            let r = quantize(&f16, &partial, threads);
            let _ = std::fs::remove_file(&f16);
            r?;
        }
    }
    std::fs::rename(&partial, path).map_err(|e| format!("cannot rename: {e}"))?;
    eprintln!(
        "wrote random {} model of {} shape to {} ({} MB) in {:.1} s",
        quant.label(),
        shape.label(),
        path.display(),
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) / 1_000_000,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{suffix}"));
    PathBuf::from(s)
}

/// Q4_K_M quantisation with the llama.cpp that siagen links (same code as `llama-quantize`).
fn quantize(input: &Path, output: &Path, threads: usize) -> Result<(), String> {
    let c = |p: &Path| {
        CString::new(p.to_string_lossy().into_owned()).map_err(|_| "path with NUL".to_string())
    };
    let (inp, out) = (c(input)?, c(output)?);
    // SAFETY: plain C calls; the paths outlive the call and the parameters
    // are llama.cpp's defaults with the file type and thread count set.
    let rc = unsafe {
        llama_cpp_sys_2::llama_backend_init();
        let mut params = llama_cpp_sys_2::llama_model_quantize_default_params();
        params.nthread = threads as i32;
        params.ftype = llama_cpp_sys_2::LLAMA_FTYPE_MOSTLY_Q4_K_M;
        llama_cpp_sys_2::llama_model_quantize(inp.as_ptr(), out.as_ptr(), &params)
    };
    if rc != 0 {
        return Err(format!("llama_model_quantize failed ({rc})"));
    }
    Ok(())
}
