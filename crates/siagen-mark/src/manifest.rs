//! Signed (Ed25519) provenance manifests binding a validated text's hash, its origin map, the
//! models behind it and its validator.
//!
//! **Format.** One JSON object, `version` 1:
//! `{version, document_id, revision_id, text_sha256, origin_map, models: [{name, version,
//! generation_ids}], validator: {user_id, name, validated_at}, issued_at, key_id, public_key,
//! signature}`. `text_sha256` is the lowercase hex SHA-256 of the text's UTF-8 bytes;
//! `public_key` the lowercase hex Ed25519 key; `key_id` the first 16 hex digits of
//! SHA-256(public key bytes); `signature` the lowercase hex Ed25519 signature.
//!
//! **What is signed.** The bytes `siagen-manifest-v1\n` (domain separation: the signature can
//! never be replayed as another kind of siagen signature) followed by the *canonical JSON* of
//! every field except `signature`: object keys sorted by their UTF-8 bytes at every level, no
//! whitespace, strings escaped as `serde_json` does (only `"`, `\` and control characters;
//! everything else literal UTF-8), integers in decimal.
//!
//! **The file is canonical too.** A manifest file is the canonical JSON of the whole object
//! (signature included) and one `\n`. [`verify`] re-serialises what it parsed and requires the
//! very same bytes, so *any* changed byte fails: a change inside a value breaks the signature or
//! the text check, a change of layout breaks canonicality.
//!
//! **Key.** Manifests are signed with an installation key of their own,
//! `keys/manifest-ed25519.key` in the data directory (mode 0600, created once), not with the
//! audit trail's key: manifests travel with documents to other organisations, so their key is
//! the one to publish and, if need be, rotate, without touching the verification of the audit
//! checkpoints already signed. The public key embedded in a manifest only proves that the
//! manifest is intact; who signed it is proven by verifying against a public key obtained
//! earlier through another channel (`--pubkey`).

use crate::origin::OriginMap;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Format version written and accepted.
pub const MANIFEST_VERSION: u32 = 1;

/// Prefix of the signed message.
pub const SIGNING_DOMAIN: &[u8] = b"siagen-manifest-v1\n";

/// File name of the signing key inside the data directory's `keys/` folder.
pub const KEY_FILE: &str = "manifest-ed25519.key";

/// Why a manifest could not be issued or does not verify. Each message is one line that says
/// exactly what failed.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The key file could not be read or written.
    #[error("cannot access the manifest signing key {path}: {source}")]
    KeyIo {
        /// The key file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The key file does not hold 32 hex bytes.
    #[error("manifest signing key {0} is not 64 hexadecimal digits")]
    BadKeyFile(PathBuf),
    /// The manifest is not JSON of the expected shape.
    #[error("not a siagen manifest: {0}")]
    Malformed(String),
    /// The manifest file is not byte for byte its canonical form.
    #[error("manifest altered: byte {0} differs from its canonical form (a signed manifest is never re-formatted)")]
    NotCanonical(usize),
    /// Unknown format version.
    #[error("manifest version {0} is not supported (expected {MANIFEST_VERSION})")]
    Version(u32),
    /// `key_id` is not derived from `public_key`.
    #[error("manifest key_id {key_id} does not match its public key (expected {expected})")]
    KeyId {
        /// The manifest's key id.
        key_id: String,
        /// The one its public key gives.
        expected: String,
    },
    /// Signed by another key than the one expected.
    #[error("manifest signed by key {found}, not by the expected key {expected}")]
    WrongKey {
        /// Key id of the embedded public key.
        found: String,
        /// Key id of the expected public key.
        expected: String,
    },
    /// A public key given to check against is malformed.
    #[error("the expected public key is not 64 hexadecimal digits of an Ed25519 key")]
    BadPublicKey,
    /// The signature does not match the contents.
    #[error("manifest signature invalid: its contents were altered after signing")]
    Signature,
    /// The text file is not the text the manifest describes.
    #[error("text does not match the manifest: SHA-256 {found}, manifest says {expected}")]
    TextHash {
        /// SHA-256 of the file.
        found: String,
        /// `text_sha256` of the manifest.
        expected: String,
    },
    /// The origin map does not fit the text.
    #[error("origin map does not fit the text: {0}")]
    OriginMap(String),
}

/// A model behind the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestModel {
    /// Model name.
    pub name: String,
    /// Version or weights hash.
    pub version: String,
    /// The generations of this model behind the document's revisions, sorted.
    pub generation_ids: Vec<String>,
}

/// The person who validated the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestValidator {
    /// Account id.
    pub user_id: i64,
    /// Account name.
    pub name: String,
    /// When (RFC 3339).
    pub validated_at: String,
}

/// A signed manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`MANIFEST_VERSION`].
    pub version: u32,
    /// Document id on the issuing installation.
    pub document_id: i64,
    /// The validated revision.
    pub revision_id: i64,
    /// Lowercase hex SHA-256 of the text's UTF-8 bytes.
    pub text_sha256: String,
    /// Who wrote which characters.
    pub origin_map: OriginMap,
    /// Every model that wrote a revision of the document up to the validated one.
    pub models: Vec<ManifestModel>,
    /// Who validated it.
    pub validator: ManifestValidator,
    /// When the manifest was issued (RFC 3339).
    pub issued_at: String,
    /// First 16 hex digits of SHA-256(public key).
    pub key_id: String,
    /// Lowercase hex Ed25519 public key of the signer.
    pub public_key: String,
    /// Lowercase hex Ed25519 signature (see the module documentation).
    pub signature: String,
}

/// What the issuer states (everything but the hash, the key and the signature).
#[derive(Debug, Clone)]
pub struct ManifestContent {
    /// Document id.
    pub document_id: i64,
    /// Validated revision id.
    pub revision_id: i64,
    /// The origin map of that revision.
    pub origin_map: OriginMap,
    /// Models behind the document.
    pub models: Vec<ManifestModel>,
    /// Its validator.
    pub validator: ManifestValidator,
    /// Issue time (RFC 3339).
    pub issued_at: String,
}

/// Key id of a public key: first 16 hex digits of its SHA-256.
pub fn key_id(public: &VerifyingKey) -> String {
    hex::encode(Sha256::digest(public.as_bytes()))[..16].to_string()
}

/// Writes `v` as canonical JSON (sorted keys, no whitespace).
fn canonical_into(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                canonical_into(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_into(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Canonical JSON of a value (see the module documentation).
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    canonical_into(v, &mut out);
    out
}

fn value_of(m: &Manifest) -> Value {
    serde_json::to_value(m).expect("a manifest always serialises")
}

/// The bytes the signature covers.
fn signed_message(m: &Manifest) -> Vec<u8> {
    let mut v = value_of(m);
    if let Value::Object(map) = &mut v {
        map.remove("signature");
    }
    let mut msg = SIGNING_DOMAIN.to_vec();
    msg.extend_from_slice(canonical_json(&v).as_bytes());
    msg
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Issues a manifest for `text`: checks that the origin map covers it, hashes it, signs.
pub fn issue(
    content: ManifestContent,
    text: &str,
    key: &SigningKey,
) -> Result<Manifest, ManifestError> {
    content
        .origin_map
        .check(text)
        .map_err(ManifestError::OriginMap)?;
    let public = key.verifying_key();
    let mut m = Manifest {
        version: MANIFEST_VERSION,
        document_id: content.document_id,
        revision_id: content.revision_id,
        text_sha256: sha256_hex(text.as_bytes()),
        origin_map: content.origin_map,
        models: content.models,
        validator: content.validator,
        issued_at: content.issued_at,
        key_id: key_id(&public),
        public_key: hex::encode(public.as_bytes()),
        signature: String::new(),
    };
    m.signature = hex::encode(key.sign(&signed_message(&m)).to_bytes());
    Ok(m)
}

impl Manifest {
    /// The manifest file: canonical JSON and a newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = canonical_json(&value_of(self));
        s.push('\n');
        s.into_bytes()
    }
}

/// Decodes lowercase hex of exactly `N` bytes (uppercase is refused: it would let a byte change
/// without changing the value).
fn strict_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let b = hex::decode(s).ok()?;
    (hex::encode(&b) == s).then_some(())?;
    b.try_into().ok()
}

/// Parses a public key given as 64 lowercase or uppercase hex digits (what `siagen mark
/// manifest-key` prints).
pub fn parse_public_key(s: &str) -> Result<VerifyingKey, ManifestError> {
    let s = s.trim().to_ascii_lowercase();
    let b = strict_hex::<32>(&s).ok_or(ManifestError::BadPublicKey)?;
    VerifyingKey::from_bytes(&b).map_err(|_| ManifestError::BadPublicKey)
}

/// Verifies a manifest file against the text file it describes and, when given, the public key
/// its signer published. Checks, in order: JSON shape, canonical bytes, version, key id,
/// expected key, signature, text hash, origin map coverage. Returns the manifest when all hold.
pub fn verify(
    manifest_file: &[u8],
    text_file: &[u8],
    expected_key: Option<&VerifyingKey>,
) -> Result<Manifest, ManifestError> {
    let m: Manifest = serde_json::from_slice(manifest_file)
        .map_err(|e| ManifestError::Malformed(e.to_string()))?;
    let canonical = m.to_bytes();
    if canonical != manifest_file {
        let at = canonical
            .iter()
            .zip(manifest_file)
            .position(|(a, b)| a != b)
            .unwrap_or(canonical.len().min(manifest_file.len()));
        return Err(ManifestError::NotCanonical(at));
    }
    if m.version != MANIFEST_VERSION {
        return Err(ManifestError::Version(m.version));
    }
    let public = strict_hex::<32>(&m.public_key)
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        .ok_or_else(|| {
            ManifestError::Malformed("public_key is not a lowercase hex Ed25519 key".into())
        })?;
    let expected_id = key_id(&public);
    if m.key_id != expected_id {
        return Err(ManifestError::KeyId {
            key_id: m.key_id.clone(),
            expected: expected_id,
        });
    }
    if let Some(k) = expected_key {
        if k != &public {
            return Err(ManifestError::WrongKey {
                found: expected_id,
                expected: key_id(k),
            });
        }
    }
    let sig = strict_hex::<64>(&m.signature)
        .map(|b| Signature::from_bytes(&b))
        .ok_or_else(|| {
            ManifestError::Malformed("signature is not 128 lowercase hex digits".into())
        })?;
    public
        .verify(&signed_message(&m), &sig)
        .map_err(|_| ManifestError::Signature)?;
    let found = sha256_hex(text_file);
    if found != m.text_sha256 {
        return Err(ManifestError::TextHash {
            found,
            expected: m.text_sha256.clone(),
        });
    }
    let text = std::str::from_utf8(text_file)
        .map_err(|_| ManifestError::OriginMap("the text is not UTF-8".into()))?;
    m.origin_map.check(text).map_err(ManifestError::OriginMap)?;
    Ok(m)
}

/// The path of the signing key in a data directory.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join(KEY_FILE)
}

fn read_key(path: &Path) -> Result<SigningKey, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|source| ManifestError::KeyIo {
        path: path.to_path_buf(),
        source,
    })?;
    let b = hex::decode(text.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| ManifestError::BadKeyFile(path.to_path_buf()))?;
    Ok(SigningKey::from_bytes(&b))
}

/// Loads the installation's manifest signing key, creating it (mode 0600) on first use. Two
/// processes creating it at once end up with the same key: the file is published with a hard
/// link, which fails if another process published first.
pub fn load_or_create_key(data_dir: &Path) -> Result<SigningKey, ManifestError> {
    let path = key_path(data_dir);
    if path.exists() {
        return read_key(&path);
    }
    let io = |source| ManifestError::KeyIo {
        path: path.clone(),
        source,
    };
    let dir = data_dir.join("keys");
    std::fs::create_dir_all(&dir).map_err(io)?;
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let tmp = dir.join(format!("{KEY_FILE}.{}.tmp", std::process::id()));
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(io)?;
        f.write_all(hex::encode(key.to_bytes()).as_bytes())
            .map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key(&path),
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::origin::{Author, ModelRef};

    const TEXT: &str = "Patient hospitalisé pour insuffisance cardiaque.\nSortie à J5.";

    fn sample(key: &SigningKey) -> Manifest {
        let draft = "Patient hospitalisé pour décompensation.\nSortie à J5.";
        let first = OriginMap::first(
            draft,
            &Author::Model(ModelRef {
                model: "qwen2.5-1.5b".into(),
                version: "q4_k_m".into(),
                generation_id: Some("gen-1".into()),
            }),
        );
        let map = OriginMap::derive(draft, &first, TEXT, &Author::Human { user_id: 3 });
        issue(
            ManifestContent {
                document_id: 12,
                revision_id: 40,
                origin_map: map,
                models: vec![ManifestModel {
                    name: "qwen2.5-1.5b".into(),
                    version: "q4_k_m".into(),
                    generation_ids: vec!["gen-1".into()],
                }],
                validator: ManifestValidator {
                    user_id: 4,
                    name: "bob".into(),
                    validated_at: "2026-12-01T10:00:00.000Z".into(),
                },
                issued_at: "2026-12-01T11:00:00.000Z".into(),
            },
            TEXT,
            key,
        )
        .unwrap()
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn sign_then_verify() {
        let k = key(1);
        let m = sample(&k);
        let bytes = m.to_bytes();
        assert!(bytes.ends_with(b"}\n") && !bytes[..bytes.len() - 1].contains(&b'\n'));
        let got = verify(&bytes, TEXT.as_bytes(), Some(&k.verifying_key())).unwrap();
        assert_eq!(got, m);
        assert!(got.origin_map.has_machine_text());
        // Without an expected key, the embedded one is used.
        verify(&bytes, TEXT.as_bytes(), None).unwrap();
        // Keys are sorted at every level.
        let s = String::from_utf8(bytes).unwrap();
        assert!(s.starts_with(r#"{"document_id":12,"issued_at":"#), "{s}");
        assert!(s.contains(r#"{"end":"#), "{s}");
    }

    #[test]
    fn any_changed_byte_of_the_manifest_fails() {
        let k = key(2);
        let bytes = sample(&k).to_bytes();
        for i in 0..bytes.len() {
            // Every byte with its low bit flipped; every 16th also with its case bit flipped.
            let flips: &[u8] = if i.is_multiple_of(16) {
                &[0x01, 0x20]
            } else {
                &[0x01]
            };
            for &flip in flips {
                let mut b = bytes.clone();
                b[i] ^= flip;
                assert!(
                    verify(&b, TEXT.as_bytes(), None).is_err(),
                    "byte {i} ^ {flip:#x} ({:?}) went unnoticed",
                    b[i] as char
                );
            }
        }
        // Re-formatting (same values, other bytes) is refused too.
        let pretty = serde_json::to_vec_pretty(&sample(&k)).unwrap();
        assert!(matches!(
            verify(&pretty, TEXT.as_bytes(), None),
            Err(ManifestError::NotCanonical(_))
        ));
        let mut no_newline = bytes.clone();
        no_newline.pop();
        assert!(verify(&no_newline, TEXT.as_bytes(), None).is_err());
    }

    #[test]
    fn any_changed_byte_of_the_text_fails() {
        let k = key(3);
        let bytes = sample(&k).to_bytes();
        let text = TEXT.as_bytes();
        for i in 0..text.len() {
            let mut t = text.to_vec();
            t[i] ^= 0x01;
            let err = verify(&bytes, &t, None).unwrap_err();
            assert!(matches!(err, ManifestError::TextHash { .. }), "{err}");
        }
        let mut longer = text.to_vec();
        longer.push(b'\n');
        assert!(verify(&bytes, &longer, None).is_err());
    }

    #[test]
    fn wrong_key_and_forged_signatures_are_named() {
        let k = key(4);
        let other = key(5);
        let m = sample(&k);
        let err = verify(&m.to_bytes(), TEXT.as_bytes(), Some(&other.verifying_key()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not by the expected key"), "{err}");

        // Someone changes the validator and re-signs with their own key: intact by its own
        // embedded key, refused against the installation's.
        let mut forged = m.clone();
        forged.validator.name = "mallory".into();
        let resigned = issue(
            ManifestContent {
                document_id: forged.document_id,
                revision_id: forged.revision_id,
                origin_map: forged.origin_map.clone(),
                models: forged.models.clone(),
                validator: forged.validator.clone(),
                issued_at: forged.issued_at.clone(),
            },
            TEXT,
            &other,
        )
        .unwrap();
        assert!(verify(&resigned.to_bytes(), TEXT.as_bytes(), None).is_ok());
        assert!(matches!(
            verify(
                &resigned.to_bytes(),
                TEXT.as_bytes(),
                Some(&k.verifying_key())
            ),
            Err(ManifestError::WrongKey { .. })
        ));
        // Changing a value while keeping the old signature breaks the signature.
        let edited = forged.to_bytes();
        let err = verify(&edited, TEXT.as_bytes(), None).unwrap_err();
        assert!(matches!(err, ManifestError::Signature), "{err}");

        // An origin map that does not fit the text cannot be issued.
        let mut bad = m.origin_map.clone();
        bad.spans.pop();
        let err = issue(
            ManifestContent {
                document_id: 1,
                revision_id: 1,
                origin_map: bad,
                models: vec![],
                validator: m.validator.clone(),
                issued_at: m.issued_at.clone(),
            },
            TEXT,
            &k,
        )
        .unwrap_err();
        assert!(matches!(err, ManifestError::OriginMap(_)), "{err}");
    }

    #[test]
    fn key_is_created_once_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create_key(dir.path()).unwrap();
        let b = load_or_create_key(dir.path()).unwrap();
        assert_eq!(a.to_bytes(), b.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key_path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(key_path(dir.path()), "zz").unwrap();
        assert!(matches!(
            load_or_create_key(dir.path()),
            Err(ManifestError::BadKeyFile(_))
        ));
        let pk = hex::encode(a.verifying_key().as_bytes()).to_ascii_uppercase();
        assert_eq!(parse_public_key(&pk).unwrap(), a.verifying_key());
        assert!(parse_public_key("abcd").is_err());
    }
}
