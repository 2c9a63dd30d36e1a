//! The local, encrypted store of the identifier ↔ surrogate mapping.
//!
//! One sealed file per patient reference. File names are an HMAC of the
//! reference, so the directory listing reveals no identifier. Each file is
//! XChaCha20-Poly1305 sealed (random 24-byte nonce, file name as associated
//! data so records cannot be swapped between patients) and written through
//! a temporary file, fsync and rename: a crash at any point leaves either the
//! old or the new record, never a torn one.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::{Label, ShieldError};

/// Environment variable read by [`Vault::key_from_env_or_file`]: 64 hex
/// characters (32 bytes).
pub const KEY_ENV_VAR: &str = "SIAGEN_SHIELD_KEY";

const MAGIC: &[u8; 4] = b"SGV1";

/// One identifier and its surrogate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    pub label: Label,
    /// Folded form of the original, the lookup key.
    pub key: String,
    /// The original as first seen.
    pub original: String,
    pub surrogate: String,
}

/// Everything the vault keeps about one patient reference.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PatientRecord {
    /// Days added to every date of this patient (intervals are kept).
    pub date_offset_days: i64,
    pub entries: Vec<Entry>,
    /// Next tag number per label (`[NOM_3]`).
    pub counters: BTreeMap<Label, u32>,
}

impl PatientRecord {
    /// A fresh record with a random, non-zero date offset of ±30..365 days.
    pub fn new_random() -> PatientRecord {
        let mut rng = rand::thread_rng();
        let mag: i64 = rng.gen_range(30..=365);
        let sign = if rng.gen_bool(0.5) { 1 } else { -1 };
        PatientRecord {
            date_offset_days: sign * mag,
            entries: Vec::new(),
            counters: BTreeMap::new(),
        }
    }

    pub fn find(&self, label: Label, key: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.label == label && e.key == key)
    }
}

type HmacSha256 = Hmac<Sha256>;

fn cache_put(cache: &mut HashMap<String, PatientRecord>, stem: String, rec: PatientRecord) {
    if cache.len() >= CACHE_MAX && !cache.contains_key(&stem) {
        cache.clear();
    }
    cache.insert(stem, rec);
}

fn derive(master: &[u8; 32], purpose: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(master).expect("HMAC accepts any key length");
    mac.update(purpose);
    mac.finalize().into_bytes().into()
}

/// The encrypted mapping store. `Send + Sync`; writes are serialised inside
/// one process (one vault directory should be owned by one process).
pub struct Vault {
    dir: PathBuf,
    cipher: XChaCha20Poly1305,
    name_key: [u8; 32],
    /// fsync each record and the directory (default). Without it, writes
    /// stay atomic (a killed process never leaves a torn record) but an
    /// operating-system crash or power loss may lose the latest records.
    fsync: bool,
    /// Serialises read-modify-write cycles and guards the cache of
    /// decrypted records (file stem → record), which spares a read and a
    /// decryption per document of a patient already seen.
    lock: Mutex<HashMap<String, PatientRecord>>,
}

/// Decrypted records kept in memory at most; the cache is emptied beyond.
const CACHE_MAX: usize = 4096;

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn io_err(path: &Path, source: std::io::Error) -> ShieldError {
    ShieldError::VaultIo {
        path: path.display().to_string(),
        source,
    }
}

fn parse_key(text: &str) -> Result<[u8; 32], ShieldError> {
    let t = text.trim();
    if t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ShieldError::InvalidKey(
            "expected 64 hexadecimal characters (32 bytes)".into(),
        ));
    }
    let mut key = [0u8; 32];
    for (i, k) in key.iter_mut().enumerate() {
        *k = u8::from_str_radix(&t[2 * i..2 * i + 2], 16)
            .map_err(|e| ShieldError::InvalidKey(e.to_string()))?;
    }
    Ok(key)
}

impl Vault {
    /// Opens (creating if needed) a vault directory with a 32-byte master key.
    pub fn open(dir: impl AsRef<Path>, key: [u8; 32]) -> Result<Vault, ShieldError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o700));
        }
        // Temporary files of writes interrupted by a crash are garbage: the
        // record they were replacing is intact. Writers hold the directory lock,
        // so under it no other process has a write in flight.
        let _dir_lock = DirLock::acquire(&dir).map_err(|e| io_err(&dir, e))?;
        if let Ok(rd) = fs::read_dir(&dir) {
            for e in rd.flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.') && name.ends_with(".tmp") {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        let enc = derive(&key, b"siagen-shield vault encryption v1");
        Ok(Vault {
            dir,
            cipher: XChaCha20Poly1305::new((&enc).into()),
            name_key: derive(&key, b"siagen-shield vault file names v1"),
            fsync: true,
            lock: Mutex::new(HashMap::new()),
        })
    }

    /// Reads the master key from the environment variable `env_var`
    /// (64 hex characters) or, when it is unset, from `file` (64 hex
    /// characters or 32 raw bytes). The key is never written anywhere.
    pub fn key_from_env_or_file(
        env_var: &str,
        file: Option<&Path>,
    ) -> Result<[u8; 32], ShieldError> {
        if let Ok(v) = std::env::var(env_var) {
            if !v.trim().is_empty() {
                return parse_key(&v);
            }
        }
        let Some(path) = file else {
            return Err(ShieldError::InvalidKey(format!(
                "{env_var} is not set and no key file was given"
            )));
        };
        let bytes = fs::read(path).map_err(|e| io_err(path, e))?;
        if bytes.len() == 32 {
            let mut key = [0u8; 32];
            key.copy_from_slice(&bytes);
            return Ok(key);
        }
        parse_key(&String::from_utf8_lossy(&bytes))
    }

    /// Writes a new random key file (hex, mode 0600); refuses to overwrite.
    pub fn generate_key_file(path: &Path) -> Result<[u8; 32], ShieldError> {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(path).map_err(|e| io_err(path, e))?;
        f.write_all(hex.as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| io_err(path, e))?;
        Ok(key)
    }

    /// The directory of the vault.
    /// Skips fsync (batch pseudonymisation of many new patients): records
    /// are still replaced atomically, so a killed process loses nothing,
    /// but a power loss may lose the last records written.
    pub fn without_fsync(mut self) -> Vault {
        self.fsync = false;
        self
    }

    /// The directory of the vault.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file_stem(&self, patient_ref: &str) -> String {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.name_key)
            .expect("HMAC accepts any key length");
        mac.update(patient_ref.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Path of the sealed file of a patient (exists only once written).
    pub fn path_for(&self, patient_ref: &str) -> PathBuf {
        self.dir
            .join(format!("{}.vault", self.file_stem(patient_ref)))
    }

    /// Loads a patient's record; a patient never seen gets a fresh one
    /// (not yet stored).
    pub fn load(&self, patient_ref: &str) -> Result<PatientRecord, ShieldError> {
        let stem = self.file_stem(patient_ref);
        let cache = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = cache.get(&stem) {
            return Ok(r.clone());
        }
        drop(cache);
        Ok(self
            .read_stem(&stem)?
            .unwrap_or_else(PatientRecord::new_random))
    }

    /// Reads and decrypts a sealed record; `None` when there is none.
    fn read_stem(&self, stem: &str) -> Result<Option<PatientRecord>, ShieldError> {
        let path = self.dir.join(format!("{stem}.vault"));
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&path, e)),
        };
        if bytes.len() < 4 + 24 + 16 || &bytes[..4] != MAGIC {
            return Err(ShieldError::VaultFormat(format!(
                "{} is not a vault record",
                path.display()
            )));
        }
        let nonce = XNonce::from_slice(&bytes[4..28]);
        let plain = self
            .cipher
            .decrypt(
                nonce,
                Payload {
                    msg: &bytes[28..],
                    aad: stem.as_bytes(),
                },
            )
            .map_err(|_| ShieldError::VaultDecrypt(path.display().to_string()))?;
        serde_json::from_slice(&plain)
            .map(Some)
            .map_err(|e| ShieldError::VaultFormat(e.to_string()))
    }

    /// Seals and atomically replaces a patient's record.
    pub fn store(&self, patient_ref: &str, record: &PatientRecord) -> Result<(), ShieldError> {
        let stem = self.file_stem(patient_ref);
        let mut cache = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let _dir_lock = DirLock::acquire(&self.dir).map_err(|e| io_err(&self.dir, e))?;
        self.write_stem(&stem, record)?;
        cache_put(&mut cache, stem, record.clone());
        Ok(())
    }

    /// Writes through a temporary file, fsync, rename and directory fsync:
    /// a crash leaves the old record or the new one, never a torn file.
    fn write_stem(&self, stem: &str, record: &PatientRecord) -> Result<(), ShieldError> {
        let path = self.dir.join(format!("{stem}.vault"));
        let plain =
            serde_json::to_vec(record).map_err(|e| ShieldError::VaultFormat(e.to_string()))?;
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: stem.as_bytes(),
                },
            )
            .map_err(|_| ShieldError::VaultDecrypt("encryption failed".into()))?;
        let mut tmp_name = [0u8; 8];
        rand::thread_rng().fill_bytes(&mut tmp_name);
        let suffix: String = tmp_name.iter().map(|b| format!("{b:02x}")).collect();
        let tmp = self.dir.join(format!(".{stem}.{suffix}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)?;
            f.write_all(MAGIC)?;
            f.write_all(&nonce)?;
            f.write_all(&sealed)?;
            if self.fsync {
                f.sync_all()?;
            }
            fs::rename(&tmp, &path)?;
            // Make the rename itself durable.
            if self.fsync {
                if let Ok(d) = fs::File::open(&self.dir) {
                    let _ = d.sync_all();
                }
            }
            Ok(())
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err(&path, e)
        })
    }

    /// Loads, changes and stores a record under the vault's locks (in-process and on disk). The
    /// record is sealed again only if `f` changed it or it is new.
    pub fn update<T>(
        &self,
        patient_ref: &str,
        f: impl FnOnce(&mut PatientRecord) -> T,
    ) -> Result<T, ShieldError> {
        let stem = self.file_stem(patient_ref);
        let mut cache = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        // Another process (the CLI beside the server) may share the directory: take its file
        // lock and read the record from disk, so that no process overwrites entries it has not
        // seen.
        let _dir_lock = DirLock::acquire(&self.dir).map_err(|e| io_err(&self.dir, e))?;
        cache.remove(&stem);
        let (mut rec, stored) = match self.read_stem(&stem)? {
            Some(r) => (r, true),
            None => (PatientRecord::new_random(), false),
        };
        let before = (
            rec.entries.len(),
            rec.counters.clone(),
            rec.date_offset_days,
        );
        let out = f(&mut rec);
        let changed = before
            != (
                rec.entries.len(),
                rec.counters.clone(),
                rec.date_offset_days,
            );
        if changed || !stored {
            // On failure the record stays out of the cache, so memory never
            // runs ahead of the disk: the next access reads the old record.
            self.write_stem(&stem, &rec)?;
        }
        cache_put(&mut cache, stem, rec);
        Ok(out)
    }
}

/// An exclusive advisory lock on `<vault>/.lock`, released on drop.
struct DirLock(#[allow(dead_code)] fs::File);

impl DirLock {
    fn acquire(dir: &Path) -> std::io::Result<DirLock> {
        let f = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(".lock"))?;
        #[cfg(unix)]
        {
            use std::os::unix::io::AsRawFd;
            // SAFETY: flock on a file descriptor we own; the lock ends when the file is closed.
            if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(DirLock(f))
    }
}
