//! `siagen mark`: watermark detection and the installation's watermark keys.

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use serde_json::json;
use siagen_app::mark::{MarkConfig, MarkState};
use siagen_mark::detect::Scheme;
use siagen_mark::key::{key_file, KeyRing};
use siagen_store::Actor;
use std::path::PathBuf;

use crate::Settings;

#[derive(Subcommand)]
pub enum MarkCmd {
    /// Score files for siagen's watermark: scheme and key that matched, scored tokens, score,
    /// p-value and verdict (needs only the key and a model's tokenizer, not its weights).
    Detect {
        /// Text files (UTF-8).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// One JSON object per file.
        #[arg(long)]
        json: bool,
        /// Installed model whose tokenizer cuts the text (default: the only installed model).
        #[arg(long)]
        model: Option<String>,
        /// False-positive rate of the verdict (default: `mark_fpr`, else 1e-3).
        #[arg(long)]
        fpr: Option<f64>,
    },
    /// Watermark keys of this installation.
    #[command(subcommand)]
    Key(KeyCmd),
    /// Write the signed provenance manifest of a validated document: text SHA-256, origin map,
    /// models, validator, Ed25519 signature (key `keys/manifest-ed25519.key`).
    Manifest {
        /// Document id.
        doc: i64,
        /// Where to write the manifest (JSON).
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a manifest against the text file it describes: canonical bytes, signature, text
    /// hash, origin map. Exits non-zero with what failed.
    Verify {
        /// The manifest file.
        manifest: PathBuf,
        /// The validated text (UTF-8), e.g. the `text` of `GET /api/documents/{id}/final`.
        file: PathBuf,
        /// The signer's public key (64 hex digits, or a file holding them) obtained earlier
        /// with `siagen mark manifest-key`: without it only the manifest's own key is checked.
        #[arg(long)]
        pubkey: Option<String>,
    },
    /// Print the public key that signs this installation's manifests (64 hex digits).
    ManifestKey,
}

#[derive(Subcommand)]
pub enum KeyCmd {
    /// List keys: id, creation date, whether it marks new generations.
    List,
    /// Create a new key that marks new generations; older keys stay for detection.
    Rotate,
}

/// The marking settings of the configuration (`mark_scheme`, `mark_off_models`, `mark_fpr`).
pub fn config(settings: &Settings) -> Result<MarkConfig> {
    let f = &settings.file;
    let scheme = match f.mark_scheme.as_deref() {
        None => Some(Scheme::Gumbel),
        Some("off") => None,
        Some(s) => Some(Scheme::parse(s).map_err(|_| {
            anyhow::anyhow!("mark_scheme must be 'gumbel', 'kgw' or 'off', not '{s}'")
        })?),
    };
    let fpr = f.mark_fpr.unwrap_or(siagen_mark::detect::DEFAULT_FPR);
    if !(fpr > 0.0 && fpr < 1.0) {
        bail!("mark_fpr must be strictly between 0 and 1, not {fpr}");
    }
    Ok(MarkConfig {
        scheme,
        off_models: f.mark_off_models.clone().unwrap_or_default(),
        fpr,
    })
}

/// The server's watermark state (keys created on first use).
pub fn state(settings: &Settings) -> Result<MarkState> {
    Ok(MarkState::open(&settings.data_dir, config(settings)?)?)
}

fn keys(settings: &Settings) -> Result<KeyRing> {
    let path = key_file(&settings.data_dir);
    if !path.exists() {
        bail!(
            "no watermark key in {}: this installation has not marked any text yet",
            path.display()
        );
    }
    Ok(KeyRing::load(&path)?)
}

pub fn run(settings: Settings, cmd: MarkCmd) -> Result<()> {
    match cmd {
        MarkCmd::Detect {
            files,
            json,
            model,
            fpr,
        } => detect(&settings, &files, json, model, fpr),
        MarkCmd::Key(KeyCmd::List) => {
            for k in keys(&settings)?.keys() {
                let role = if k.marks {
                    "marks new generations"
                } else {
                    "detection only"
                };
                println!("{}  {}  {role}", k.id, k.created);
            }
            Ok(())
        }
        MarkCmd::Key(KeyCmd::Rotate) => {
            let store = settings.store()?;
            let mut ring = KeyRing::open_or_create(&settings.data_dir)?;
            let old: Vec<String> = ring.keys().iter().map(|k| k.id.clone()).collect();
            let new = ring.rotate()?.id.clone();
            store.audit_event(
                &Actor::cli().audit_label(),
                "mark.key.rotate",
                &format!("mark-key:{new}"),
                "ok",
                json!({ "key_id": new, "kept_for_detection": old }),
            )?;
            println!("{new}");
            Ok(())
        }
        MarkCmd::Manifest { doc, out } => provenance_manifest(&settings, doc, &out),
        MarkCmd::Verify {
            manifest,
            file,
            pubkey,
        } => verify_manifest(&manifest, &file, pubkey.as_deref()),
        MarkCmd::ManifestKey => {
            let key = siagen_mark::manifest::load_or_create_key(&settings.data_dir)?;
            println!("{}", hex::encode(key.verifying_key().as_bytes()));
            Ok(())
        }
    }
}

fn detect(
    settings: &Settings,
    files: &[PathBuf],
    as_json: bool,
    model: Option<String>,
    fpr: Option<f64>,
) -> Result<()> {
    let cfg = config(settings)?;
    let fpr = fpr.unwrap_or(cfg.fpr);
    if !(fpr > 0.0 && fpr < 1.0) {
        bail!("--fpr must be strictly between 0 and 1, not {fpr}");
    }
    // Read every file first: an unreadable one fails the command before any output.
    let texts = files
        .iter()
        .map(|f| std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display())))
        .collect::<Result<Vec<_>>>()?;
    let ring = keys(settings)?;
    let engine = settings.engine()?;
    let model = match model {
        Some(m) => m,
        None => match engine.models()?.as_slice() {
            [one] => one.name.clone(),
            [] => bail!("no model installed: detection needs a model's tokenizer"),
            many => bail!(
                "several models are installed: choose the tokenizer with --model ({})",
                many.iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    };
    let tokenizer = engine
        .text_tokenizer(&model)
        .with_context(|| format!("cannot load the tokenizer of '{model}'"))?;
    let store = settings.store()?;
    let bar = indicatif::ProgressBar::new(files.len() as u64);
    if files.len() < 2 {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    for (file, text) in files.iter().zip(&texts) {
        let tokens = tokenizer.tokenize(text)?;
        let d = siagen_app::mark::detect_tokens(&ring, &tokens, fpr)?;
        store.audit_event(
            &Actor::cli().audit_label(),
            "mark.detect",
            "mark",
            "ok",
            json!({ "text_sha256": siagen_store::sha256_hex(text), "model": model,
                    "scheme": d.scheme.as_str(), "key_id": d.key_id, "tokens": d.tokens,
                    "p_value": d.p_value, "marked": d.marked, "fpr": fpr }),
        )?;
        let line = if as_json {
            let mut v = siagen_app::mark::detection_json(&d, &model);
            v["file"] = json!(file.display().to_string());
            v.to_string()
        } else {
            format!(
                "{}: {} ({}, key {}): {} tokens scored, score {:.2}, p-value {:.3e} (fpr {fpr:e})",
                file.display(),
                if d.marked { "marked" } else { "not marked" },
                d.scheme.as_str(),
                d.key_id,
                d.tokens,
                d.score,
                d.p_value
            )
        };
        bar.suspend(|| println!("{line}"));
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}

/// `siagen mark manifest DOC --out FILE`: the store's export rule (validated documents only,
/// audited as an export), then the signature, then an audit entry naming the manifest's hash.
fn provenance_manifest(settings: &Settings, doc: i64, out: &std::path::Path) -> Result<()> {
    use siagen_mark::manifest::{self, ManifestContent, ManifestValidator};
    let store = settings.store()?;
    let cli = Actor::cli();
    let record = store.provenance(&cli, doc)?;
    let key = manifest::load_or_create_key(&settings.data_dir)?;
    let v = &record.validation;
    let m = manifest::issue(
        ManifestContent {
            document_id: record.document_id,
            revision_id: record.revision.id,
            origin_map: record.revision.origin_map.clone(),
            models: record.models.clone(),
            validator: ManifestValidator {
                user_id: v.validator_id,
                name: v.validator_name.clone(),
                validated_at: v.validated_at.clone(),
            },
            issued_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        },
        &record.revision.text,
        &key,
    )?;
    let bytes = m.to_bytes();
    std::fs::write(out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
    store.audit_event(
        &cli.audit_label(),
        "document.manifest",
        &format!("document:{doc}"),
        "ok",
        json!({ "revision_id": m.revision_id, "text_sha256": m.text_sha256,
                "manifest_sha256": siagen_store::sha256_hex(&bytes), "key_id": m.key_id }),
    )?;
    println!(
        "manifest of document {doc} (revision {}) written to {}, signed by key {}",
        m.revision_id,
        out.display(),
        m.key_id
    );
    Ok(())
}

/// `siagen mark verify MANIFEST FILE [--pubkey KEY]`: one line, `ok: ...` or the first failure.
fn verify_manifest(
    manifest: &std::path::Path,
    file: &std::path::Path,
    pubkey: Option<&str>,
) -> Result<()> {
    use siagen_mark::manifest;
    let expected = match pubkey {
        None => None,
        Some(k) => {
            let path = std::path::Path::new(k);
            let text = if path.is_file() {
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?
            } else {
                k.to_string()
            };
            Some(manifest::parse_public_key(&text)?)
        }
    };
    let m_bytes =
        std::fs::read(manifest).with_context(|| format!("cannot read {}", manifest.display()))?;
    let t_bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let m = manifest::verify(&m_bytes, &t_bytes, expected.as_ref())
        .map_err(|e| anyhow::anyhow!("{} does not verify: {e}", manifest.display()))?;
    let shares = m.origin_map.shares();
    println!(
        "ok: document {} revision {}, text SHA-256 {}, validated by {} on {}; {} machine, {} edited, {} human characters; signed by key {}{}",
        m.document_id,
        m.revision_id,
        m.text_sha256,
        m.validator.name,
        m.validator.validated_at,
        shares.machine,
        shares.edited,
        shares.human,
        m.key_id,
        if expected.is_some() {
            " (the expected key)"
        } else {
            " (its own embedded key only: pass --pubkey to prove who signed)"
        }
    );
    Ok(())
}
