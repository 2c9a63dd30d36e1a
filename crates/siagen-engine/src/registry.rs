//! The model registry: a directory of `.gguf` files, each model named after
//! its file stem. Everything reported comes from the GGUF header, so listing
//! never loads weights.

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{EngineError, Result};
use crate::gguf::{file_type_name, GgufHeader};

/// What the registry knows about a model file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    /// Identifier used in requests: the file name without `.gguf`.
    pub name: String,
    /// `general.name`, when present.
    pub display_name: Option<String>,
    /// `general.architecture` (llama, qwen2, gemma3, phi3...).
    pub architecture: String,
    /// Model family derived from the architecture (Llama, Qwen, Gemma...).
    pub family: String,
    /// Number of parameters (sum of tensor elements).
    pub parameters: u64,
    /// Quantisation / file type (F16, Q8_0, Q4_K_M...).
    pub quantization: String,
    /// Trained context length in tokens.
    pub context_length: u64,
    /// Embedding width.
    pub embedding_length: u64,
    /// File size in bytes.
    pub size_bytes: u64,
    /// `general.license`, when present.
    pub license: Option<String>,
    /// Where the weights come from (`general.source.url`, `general.repo_url`...).
    pub origin: Option<String>,
    /// Whether the file carries its own chat template.
    pub has_chat_template: bool,
    /// Whether the model declares a pooling type, i.e. is an embedding model.
    pub is_embedding_model: bool,
}

/// A registry entry: description plus the parsed header.
#[derive(Debug, Clone)]
pub struct ModelEntry {
    pub info: ModelInfo,
    pub path: PathBuf,
    pub header: Arc<GgufHeader>,
}

/// Maps a GGUF architecture to its family name.
pub fn family_of(arch: &str) -> String {
    let a = arch.to_ascii_lowercase();
    let family = if a.starts_with("llama") {
        "Llama"
    } else if a.starts_with("mistral") {
        "Mistral"
    } else if a.starts_with("qwen") {
        "Qwen"
    } else if a.starts_with("gemma") {
        "Gemma"
    } else if a.starts_with("phi") {
        "Phi"
    } else if a.contains("bert") {
        "BERT"
    } else {
        return arch.to_string();
    };
    family.to_string()
}

fn info_from_header(name: &str, h: &GgufHeader, size_bytes: u64) -> ModelInfo {
    let architecture = h.architecture().unwrap_or("unknown").to_string();
    let origin = [
        "general.source.url",
        "general.repo_url",
        "general.source.huggingface.repository",
        "general.url",
        "general.source.repo_url",
    ]
    .iter()
    .find_map(|k| h.get_str(k))
    .map(str::to_string);
    let quantization = h
        .get_u64("general.file_type")
        .map(|ft| file_type_name(ft).to_string())
        .unwrap_or_else(|| "unknown".into());
    ModelInfo {
        name: name.to_string(),
        display_name: h.get_str("general.name").map(str::to_string),
        family: family_of(&architecture),
        parameters: h.n_params(),
        quantization,
        context_length: h.get_arch_u64("context_length").unwrap_or(0),
        embedding_length: h.get_arch_u64("embedding_length").unwrap_or(0),
        size_bytes,
        license: h.get_str("general.license").map(str::to_string),
        origin,
        has_chat_template: h.get_str("tokenizer.chat_template").is_some(),
        is_embedding_model: h.get_arch_u64("pooling_type").is_some_and(|p| p > 0),
        architecture,
    }
}

type CacheKey = (PathBuf, u64, Option<SystemTime>);

/// The models directory.
#[derive(Debug)]
pub struct Registry {
    dir: PathBuf,
    /// Parsed headers keyed by (path, size, mtime): a vocabulary can hold
    /// 150k strings, too slow to re-read on every listing.
    cache: Mutex<HashMap<CacheKey, ModelEntry>>,
}

/// Rejects names that could escape the models directory.
fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.contains(['/', '\\', '\0'])
        || name.starts_with('.')
        || name.len() > 200
    {
        return Err(EngineError::UnknownModel(name.to_string()));
    }
    Ok(())
}

impl Registry {
    /// Opens (creating it if needed) the models directory.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| EngineError::io(&dir, e))?;
        Ok(Self {
            dir,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry_at(&self, name: &str, path: &Path) -> Result<ModelEntry> {
        let meta = fs::metadata(path).map_err(|e| EngineError::io(path, e))?;
        let key = (path.to_path_buf(), meta.len(), meta.modified().ok());
        if let Some(e) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(e.clone());
        }
        let header = GgufHeader::read(path).map_err(|e| EngineError::InvalidModelFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let entry = ModelEntry {
            info: info_from_header(name, &header, meta.len()),
            path: path.to_path_buf(),
            header: Arc::new(header),
        };
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.retain(|k, _| k.0 != key.0);
        cache.insert(key, entry.clone());
        Ok(entry)
    }

    /// Looks a model up by name.
    pub fn get(&self, name: &str) -> Result<ModelEntry> {
        check_name(name)?;
        let path = self.dir.join(format!("{name}.gguf"));
        if !path.is_file() {
            return Err(EngineError::UnknownModel(name.to_string()));
        }
        self.entry_at(name, &path)
    }

    /// All readable models, sorted by name. Unreadable files are skipped
    /// (and logged) so that one bad file does not hide the others.
    pub fn list(&self) -> Result<Vec<ModelInfo>> {
        let rd = fs::read_dir(&self.dir).map_err(|e| EngineError::io(&self.dir, e))?;
        let mut out = Vec::new();
        for ent in rd.flatten() {
            let path = ent.path();
            if path.extension().and_then(|e| e.to_str()) != Some("gguf") {
                continue;
            }
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            if check_name(stem).is_err() {
                continue;
            }
            match self.entry_at(stem, &path) {
                Ok(e) => out.push(e.info),
                Err(e) => tracing::warn!("skipping {}: {e}", path.display()),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Copies a GGUF file into the directory (named after its file stem)
    /// after checking its header; refuses to overwrite an existing model.
    pub fn import(&self, src: &Path) -> Result<ModelInfo> {
        let header = GgufHeader::read(src).map_err(|e| EngineError::InvalidModelFile {
            path: src.to_path_buf(),
            reason: e.to_string(),
        })?;
        if header.architecture().is_none() {
            return Err(EngineError::InvalidModelFile {
                path: src.to_path_buf(),
                reason: "no general.architecture".into(),
            });
        }
        let stem = src.file_stem().and_then(|s| s.to_str()).ok_or_else(|| {
            EngineError::InvalidModelFile {
                path: src.to_path_buf(),
                reason: "file name is not valid UTF-8".into(),
            }
        })?;
        check_name(stem).map_err(|_| EngineError::InvalidModelFile {
            path: src.to_path_buf(),
            reason: "unusable file name".into(),
        })?;
        let dest = self.dir.join(format!("{stem}.gguf"));
        if dest.exists() {
            return Err(EngineError::BadRequest(format!(
                "model {stem} already exists"
            )));
        }
        // Copy under a temporary name, hashing on the way, then rename, so a
        // half-copied file is never listed.
        let tmp = self.dir.join(format!(".{stem}.gguf.part"));
        let digest = copy_hashing(src, &tmp).inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })?;
        fs::rename(&tmp, &dest).map_err(|e| EngineError::io(&dest, e))?;
        let size = fs::metadata(&dest)
            .map_err(|e| EngineError::io(&dest, e))?
            .len();
        write_sidecar(&dest, &digest, size);
        Ok(self.entry_at(stem, &dest)?.info)
    }

    /// SHA-256 of the model file, cached in a `<file>.sha256` sidecar so
    /// multi-gigabyte files are hashed once.
    pub fn sha256(&self, entry: &ModelEntry) -> Result<String> {
        let sidecar = sidecar_path(&entry.path);
        if let Ok(s) = fs::read_to_string(&sidecar) {
            let mut parts = s.split_whitespace();
            if let (Some(hex), Some(size)) = (parts.next(), parts.next()) {
                if size.parse::<u64>().ok() == Some(entry.info.size_bytes) && hex.len() == 64 {
                    return Ok(hex.to_string());
                }
            }
        }
        let mut f = fs::File::open(&entry.path).map_err(|e| EngineError::io(&entry.path, e))?;
        let digest = hash_reader(&mut f, None).map_err(|e| EngineError::io(&entry.path, e))?;
        write_sidecar(&entry.path, &digest, entry.info.size_bytes);
        Ok(digest)
    }
}

fn sidecar_path(model: &Path) -> PathBuf {
    let mut s = model.as_os_str().to_owned();
    s.push(".sha256");
    PathBuf::from(s)
}

/// Best effort: a read-only models directory just means re-hashing next time.
fn write_sidecar(model: &Path, digest: &str, size: u64) {
    let _ = fs::write(sidecar_path(model), format!("{digest} {size}\n"));
}

fn hash_reader(r: &mut impl Read, mut copy_to: Option<&mut fs::File>) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        if let Some(w) = copy_to.as_deref_mut() {
            w.write_all(&buf[..n])?;
        }
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn copy_hashing(src: &Path, dest: &Path) -> Result<String> {
    let mut input = fs::File::open(src).map_err(|e| EngineError::io(src, e))?;
    let mut out = fs::File::create(dest).map_err(|e| EngineError::io(dest, e))?;
    let digest = hash_reader(&mut input, Some(&mut out)).map_err(|e| EngineError::io(dest, e))?;
    out.sync_all().map_err(|e| EngineError::io(dest, e))?;
    Ok(digest)
}
