//! The installation's watermark keys: `keys/mark.json` in the data directory (mode 0600).
//!
//! The secret never leaves the data directory: detection runs where the key is (CLI or server),
//! and the audit trail names keys by their id only. Several keys can be held at once so that a
//! rotation does not orphan text marked before it: exactly one key marks new generations, every
//! key is tried by the detector.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum MarkError {
    #[error("cannot access the watermark key file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid watermark key file {path}: {reason}")]
    BadKeyFile { path: PathBuf, reason: String },
    #[error("the false-positive rate must be in (0, 1), got {0}")]
    BadFpr(f64),
    #[error("unknown watermark scheme '{0}' (expected 'gumbel' or 'kgw')")]
    UnknownScheme(String),
}

/// One watermark key.
#[derive(Clone, Serialize, Deserialize)]
pub struct MarkKey {
    /// First 8 hex digits of SHA-256(secret): names the key in audit entries and detections.
    pub id: String,
    /// 32 random bytes, hex.
    #[serde(with = "hex_secret")]
    pub secret: [u8; 32],
    /// Creation time, RFC 3339 (UTC).
    pub created: String,
    /// Whether this key marks new generations (exactly one does).
    pub marks: bool,
}

impl std::fmt::Debug for MarkKey {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MarkKey")
            .field("id", &self.id)
            .field("created", &self.created)
            .field("marks", &self.marks)
            .finish_non_exhaustive()
    }
}

mod hex_secret {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(k: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(k))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let v = hex::decode(&s).map_err(serde::de::Error::custom)?;
        v.try_into()
            .map_err(|_| serde::de::Error::custom("a secret is 32 bytes (64 hex digits)"))
    }
}

/// The id of a secret: first 8 hex digits of its SHA-256.
pub fn key_id(secret: &[u8]) -> String {
    hex::encode(Sha256::digest(secret))[..8].to_string()
}

impl MarkKey {
    /// A fresh random key that marks new generations.
    pub fn generate() -> MarkKey {
        use rand::RngCore;
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        MarkKey {
            id: key_id(&secret),
            secret,
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            marks: true,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    keys: Vec<MarkKey>,
}

/// The keys of one installation.
#[derive(Debug, Clone)]
pub struct KeyRing {
    path: PathBuf,
    keys: Vec<MarkKey>,
}

/// `keys/mark.json` under `data_dir`.
pub fn key_file(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("mark.json")
}

/// A temporary name beside the key file, unique per process and call.
fn temp_name(dir: &Path, what: &str) -> PathBuf {
    use rand::RngCore;
    let n = rand::rngs::OsRng.next_u64();
    dir.join(format!(".mark.json.{what}.{}.{n:016x}", std::process::id()))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MarkError + '_ {
    move |source| MarkError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `keys` to a new file `tmp` (mode 0600), synced.
fn write_new(tmp: &Path, keys: &[MarkKey]) -> Result<(), MarkError> {
    let _ = std::fs::remove_file(tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(tmp).map_err(io(tmp))?;
    let text = serde_json::to_string_pretty(&KeyFile {
        keys: keys.to_vec(),
    })
    .expect("key file serialises");
    f.write_all(text.as_bytes()).map_err(io(tmp))?;
    f.sync_all().map_err(io(tmp))
}

impl KeyRing {
    /// Opens the key file of `data_dir`, creating it with one fresh key on first use. Two
    /// processes starting together agree on one key: the key is written to a temporary file
    /// and hard-linked into place, which fails when the file already exists.
    pub fn open_or_create(data_dir: &Path) -> Result<KeyRing, MarkError> {
        let path = key_file(data_dir);
        if !path.exists() {
            let dir = path.parent().expect("key file has a directory");
            std::fs::create_dir_all(dir).map_err(io(dir))?;
            let tmp = temp_name(dir, "new");
            write_new(&tmp, &[MarkKey::generate()])?;
            let linked = std::fs::hard_link(&tmp, &path);
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io(&path)(e)),
            }
        }
        Self::load(&path)
    }

    /// Reads a key file; fails on a malformed one rather than replacing it (that would orphan
    /// every text marked so far).
    pub fn load(path: &Path) -> Result<KeyRing, MarkError> {
        let text = std::fs::read_to_string(path).map_err(io(path))?;
        let bad = |reason: String| MarkError::BadKeyFile {
            path: path.to_path_buf(),
            reason,
        };
        let file: KeyFile = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if file.keys.is_empty() {
            return Err(bad("no key".into()));
        }
        for k in &file.keys {
            if k.id != key_id(&k.secret) {
                return Err(bad(format!("key id {} does not match its secret", k.id)));
            }
        }
        if file.keys.iter().filter(|k| k.marks).count() > 1 {
            return Err(bad("more than one key marks new generations".into()));
        }
        Ok(KeyRing {
            path: path.to_path_buf(),
            keys: file.keys,
        })
    }

    /// Adds a fresh key that marks new generations from now on; the others are kept for
    /// detection. Rotations serialise on `keys/.mark.lock` and start from the file as it is
    /// now, not from this ring's copy: a ring loaded before another process rotated must not
    /// write its stale list back, which would drop a key and orphan every text it marked. The
    /// file is replaced atomically (written beside it, synced, renamed, directory synced).
    pub fn rotate(&mut self) -> Result<&MarkKey, MarkError> {
        let dir = self.path.parent().expect("key file has a directory");
        let lock_path = dir.join(".mark.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        lock.lock().map_err(io(&lock_path))?;
        let mut keys = Self::load(&self.path)?.keys;
        keys.iter_mut().for_each(|k| k.marks = false);
        keys.push(MarkKey::generate());
        let tmp = temp_name(dir, "rotate");
        write_new(&tmp, &keys)?;
        std::fs::rename(&tmp, &self.path).map_err(io(&self.path))?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
        drop(lock);
        self.keys = keys;
        Ok(self.keys.last().expect("just pushed"))
    }

    /// Every key, oldest first.
    pub fn keys(&self) -> &[MarkKey] {
        &self.keys
    }

    /// The key that marks new generations (none if every key was retired by hand).
    pub fn marking_key(&self) -> Option<&MarkKey> {
        self.keys.iter().find(|k| k.marks)
    }

    /// Where the keys live.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_and_rotated() {
        let dir = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let d = dir.path().to_path_buf();
                std::thread::spawn(move || KeyRing::open_or_create(&d).unwrap())
            })
            .collect();
        let rings: Vec<KeyRing> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let first = rings[0].marking_key().unwrap().id.clone();
        assert!(rings.iter().all(|r| r.keys().len() == 1));
        assert!(rings.iter().all(|r| r.marking_key().unwrap().id == first));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key_file(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let mut ring = KeyRing::open_or_create(dir.path()).unwrap();
        let new = ring.rotate().unwrap().id.clone();
        assert_ne!(new, first);
        let again = KeyRing::load(&key_file(dir.path())).unwrap();
        assert_eq!(again.keys().len(), 2);
        assert_eq!(again.marking_key().unwrap().id, new);
        assert!(!format!("{:?}", again.keys()[0]).contains(&hex::encode(again.keys()[0].secret)));
    }

    /// Rings loaded before another rotation, and rotations racing in threads, lose no key.
    #[test]
    fn concurrent_rotations_keep_every_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut stale = KeyRing::open_or_create(dir.path()).unwrap();
        let mut other = KeyRing::open_or_create(dir.path()).unwrap();
        let k2 = other.rotate().unwrap().id.clone();
        let k3 = stale.rotate().unwrap().id.clone();
        assert_eq!(stale.keys().len(), 3, "the stale ring re-read the file");
        assert!(stale.keys().iter().any(|k| k.id == k2));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let d = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    let mut r = KeyRing::open_or_create(&d).unwrap();
                    r.rotate().unwrap().id.clone()
                })
            })
            .collect();
        let added: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let ring = KeyRing::load(&key_file(dir.path())).unwrap();
        assert_eq!(ring.keys().len(), 11);
        for id in added.iter().chain([&k2, &k3]) {
            assert!(ring.keys().iter().any(|k| &k.id == id), "{id} lost");
        }
        assert_eq!(ring.keys().iter().filter(|k| k.marks).count(), 1);
    }

    #[test]
    fn tampered_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::open_or_create(dir.path()).unwrap();
        let text = std::fs::read_to_string(ring.path()).unwrap();
        let id = &ring.keys()[0].id;
        std::fs::write(ring.path(), text.replace(id.as_str(), "00000000")).unwrap();
        let e = KeyRing::open_or_create(dir.path()).unwrap_err().to_string();
        assert!(e.contains("does not match its secret"), "{e}");
    }
}
