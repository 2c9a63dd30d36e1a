//! The audit trail: an append-only, hash-chained log with signed checkpoints.
//!
//! Each entry carries the SHA-256 of the previous entry, so altering, removing, inserting or
//! reordering an entry breaks the chain at that point. Every `checkpoint_every` entries (and at
//! shutdown) the head hash is signed with the installation's Ed25519 key: someone who rewrites
//! the whole chain after an edit still cannot forge the checkpoints without the key, and a
//! checkpoint beyond the end of the log shows a truncation. Entries hold ids and hashes only,
//! never document text or other identifying data.

use crate::{now, Result, Store, StoreError};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::Serialize;
use serde_json::Value;
use std::io::Write;
use std::path::Path;

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Where the chain currently ends (kept in memory under the writer lock).
#[derive(Debug, Clone)]
pub(crate) struct AuditHead {
    seq: i64,
    hash: String,
    last_checkpoint: i64,
}

impl AuditHead {
    pub(crate) fn load(conn: &Connection) -> Result<AuditHead> {
        let last: Option<(i64, String)> = conn
            .prepare_cached("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let last_checkpoint: i64 = conn
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoints")?
            .query_row([], |r| r.get(0))?;
        let (seq, hash) = last.unwrap_or((0, GENESIS.to_string()));
        Ok(AuditHead {
            seq,
            hash,
            last_checkpoint,
        })
    }
}

/// One entry of the trail as exported.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditEntry {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// RFC 3339 UTC time.
    pub ts: String,
    /// Who acted: `user:ID`, `user:ID/token:ID`, `cli` or `system`.
    pub actor: String,
    /// What was done, e.g. `document.validate`.
    pub action: String,
    /// On what, e.g. `document:12`.
    pub target: String,
    /// `ok`, `refused` or `failed`.
    pub outcome: String,
    /// Ids and hashes only.
    pub details: Value,
    /// Hash of the previous entry.
    pub prev_hash: String,
    /// Hash of this entry.
    pub hash: String,
}

/// The first problem `verify` found.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VerifyProblem {
    /// The entry (or checkpoint) sequence number where the chain breaks.
    pub seq: i64,
    /// `altered`, `removed`, `inserted_or_reordered`, `truncated` or `bad_checkpoint`.
    pub kind: String,
    /// A sentence for people.
    pub message: String,
}

/// What `verify` found.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct VerifyReport {
    /// Entries read.
    pub entries: i64,
    /// Signed checkpoints checked.
    pub checkpoints: i64,
    /// The first problem, if any.
    pub problem: Option<VerifyProblem>,
}

impl VerifyReport {
    /// True when the whole chain and every checkpoint hold.
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }
}

#[allow(clippy::too_many_arguments)]
fn entry_hash(
    seq: i64,
    ts: &str,
    actor: &str,
    action: &str,
    target: &str,
    outcome: &str,
    details: &str,
    prev_hash: &str,
) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [
        seq.to_string().as_str(),
        ts,
        actor,
        action,
        target,
        outcome,
        details,
        prev_hash,
    ] {
        // Length-prefix every field so that no two different entries hash the same bytes.
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

fn checkpoint_message(seq: i64, hash: &str) -> String {
    format!("siagen-audit-checkpoint\n{seq}\n{hash}")
}

/// Loads the installation's audit key from the data directory, creating it on first start.
pub(crate) fn load_or_create_key(data_dir: &Path) -> Result<SigningKey> {
    let dir = data_dir.join("keys");
    let path = dir.join("audit-ed25519.key");
    if path.exists() {
        let text = std::fs::read_to_string(&path)?;
        let bytes = hex::decode(text.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| {
                StoreError::Internal(format!("audit key {} is not 32 hex bytes", path.display()))
            })?;
        return Ok(SigningKey::from_bytes(&bytes));
    }
    std::fs::create_dir_all(&dir)?;
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let tmp = dir.join("audit-ed25519.key.tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(hex::encode(key.to_bytes()).as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(key)
}

#[allow(clippy::too_many_arguments)]
fn append(
    tx: &Transaction<'_>,
    actor: &str,
    action: &str,
    target: &str,
    outcome: &str,
    details: &Value,
    signer: &SigningKey,
    checkpoint_every: u64,
) -> Result<()> {
    // Read the head inside the write transaction: other processes (the CLI beside a running
    // server) append too, and BEGIN IMMEDIATE makes this read-then-append atomic.
    let head = AuditHead::load(tx)?;
    let seq = head.seq + 1;
    let ts = now();
    let details = details.to_string();
    let hash = entry_hash(
        seq, &ts, actor, action, target, outcome, &details, &head.hash,
    );
    tx.prepare_cached(
        "INSERT INTO audit_log (seq, ts, actor, action, target, outcome, details, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        seq, ts, actor, action, target, outcome, details, head.hash, hash
    ])?;
    if checkpoint_every > 0 && (seq - head.last_checkpoint) as u64 >= checkpoint_every {
        let new_head = AuditHead {
            seq,
            hash,
            last_checkpoint: head.last_checkpoint,
        };
        write_checkpoint(tx, &new_head, signer)?;
    }
    Ok(())
}

fn write_checkpoint(tx: &Transaction<'_>, head: &AuditHead, signer: &SigningKey) -> Result<()> {
    let signature = signer.sign(checkpoint_message(head.seq, &head.hash).as_bytes());
    tx.prepare_cached(
        "INSERT OR REPLACE INTO audit_checkpoints (seq, hash, public_key, signature, ts)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        head.seq,
        head.hash,
        hex::encode(signer.verifying_key().to_bytes()),
        hex::encode(signature.to_bytes()),
        now()
    ])?;
    Ok(())
}

/// What a mutating operation hands back to [`Store::write`]: its result, the audit target and
/// the audit details (ids and hashes only).
pub(crate) type Audited<T> = (T, String, Value);

impl Store {
    /// Runs `f` in one immediate transaction and appends its audit entry in that same
    /// transaction. When `f` refuses (forbidden or unauthenticated), nothing of `f` is kept and a
    /// `refused` entry is appended instead, so refused authorisations are traced too.
    pub(crate) fn write<T>(
        &self,
        actor: &str,
        action: &str,
        target_hint: &str,
        f: impl FnOnce(&Transaction<'_>) -> Result<Audited<T>>,
    ) -> Result<T> {
        let mut guard = self.lock();
        let conn = &mut guard.conn;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        match f(&tx) {
            Ok((value, target, details)) => {
                append(
                    &tx,
                    actor,
                    action,
                    &target,
                    "ok",
                    &details,
                    &self.signer,
                    self.config.checkpoint_every,
                )?;
                tx.commit()?;
                Ok(value)
            }
            Err(err @ (StoreError::Forbidden(_) | StoreError::Unauthenticated(_))) => {
                drop(tx);
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let details = serde_json::json!({ "reason": err.to_string() });
                append(
                    &tx,
                    actor,
                    action,
                    target_hint,
                    "refused",
                    &details,
                    &self.signer,
                    self.config.checkpoint_every,
                )?;
                tx.commit()?;
                Err(err)
            }
            Err(err) => Err(err),
        }
    }

    /// Runs a permission check; a refusal is appended to the trail before it is returned.
    pub fn authorize<T>(
        &self,
        actor: &crate::Actor,
        action: &str,
        target: &str,
        check: impl FnOnce(&crate::Actor) -> Result<T>,
    ) -> Result<T> {
        match check(actor) {
            Err(err @ StoreError::Forbidden(_)) => {
                self.audit_event(
                    &actor.audit_label(),
                    action,
                    target,
                    "refused",
                    serde_json::json!({ "reason": err.to_string() }),
                )?;
                Err(err)
            }
            other => other,
        }
    }

    /// Appends a stand-alone event (a failed login, a refused token, a re-identification...).
    pub fn audit_event(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        outcome: &str,
        details: Value,
    ) -> Result<()> {
        let mut guard = self.lock();
        let conn = &mut guard.conn;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        append(
            &tx,
            actor,
            action,
            target,
            outcome,
            &details,
            &self.signer,
            self.config.checkpoint_every,
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Signs the current head now (called at shutdown) unless it is already signed.
    pub fn audit_checkpoint(&self) -> Result<()> {
        let mut guard = self.lock();
        let tx = guard
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let head = AuditHead::load(&tx)?;
        if head.seq == 0 || head.seq == head.last_checkpoint {
            return Ok(());
        }
        write_checkpoint(&tx, &head, &self.signer)?;
        tx.commit()?;
        Ok(())
    }

    /// The public half of the audit key, hex-encoded, for auditors to keep elsewhere.
    pub fn audit_public_key(&self) -> String {
        hex::encode(self.signer.verifying_key().to_bytes())
    }

    /// Walks the whole chain and every checkpoint; reports the first problem.
    pub fn audit_verify(&self) -> Result<VerifyReport> {
        // One read transaction: a consistent snapshot while writers go on.
        self.read(|conn| {
            conn.execute_batch("BEGIN DEFERRED")?;
            let report = verify(conn, &self.signer.verifying_key());
            let _ = conn.execute_batch("COMMIT");
            report
        })
    }

    /// Entries at or after `since` (an RFC 3339 time or a date `YYYY-MM-DD`), in order.
    pub fn audit_entries(
        &self,
        since: Option<&str>,
        limit: Option<i64>,
    ) -> Result<Vec<AuditEntry>> {
        self.read(|conn| {
            let mut stmt = conn.prepare(
                "SELECT seq, ts, actor, action, target, outcome, details, prev_hash, hash
             FROM audit_log WHERE ts >= ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![since.unwrap_or(""), limit.unwrap_or(-1)], |r| {
                let details: String = r.get(6)?;
                Ok(AuditEntry {
                    seq: r.get(0)?,
                    ts: r.get(1)?,
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    target: r.get(4)?,
                    outcome: r.get(5)?,
                    details: serde_json::from_str(&details).unwrap_or(Value::String(details)),
                    prev_hash: r.get(7)?,
                    hash: r.get(8)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }
}

fn problem(seq: i64, kind: &str, message: String) -> Option<VerifyProblem> {
    Some(VerifyProblem {
        seq,
        kind: kind.to_string(),
        message,
    })
}

fn verify(conn: &Connection, key: &VerifyingKey) -> Result<VerifyReport> {
    let mut report = VerifyReport {
        entries: 0,
        checkpoints: 0,
        problem: None,
    };
    let mut stmt = conn.prepare(
        "SELECT seq, ts, actor, action, target, outcome, details, prev_hash, hash
         FROM audit_log ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut expected_seq = 1i64;
    let mut prev = GENESIS.to_string();
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let fields: [String; 6] = [
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ];
        let prev_hash: String = r.get(7)?;
        let hash: String = r.get(8)?;
        report.entries += 1;
        if seq > expected_seq {
            report.problem = problem(
                expected_seq,
                "removed",
                format!(
                    "entries {expected_seq} to {} are missing (removed)",
                    seq - 1
                ),
            );
            return Ok(report);
        }
        let recomputed = entry_hash(
            seq, &fields[0], &fields[1], &fields[2], &fields[3], &fields[4], &fields[5], &prev_hash,
        );
        if recomputed != hash {
            report.problem = problem(
                seq,
                "altered",
                format!("entry {seq} does not match its hash: it was altered or moved"),
            );
            return Ok(report);
        }
        if prev_hash != prev {
            report.problem = problem(
                seq,
                "inserted_or_reordered",
                format!(
                    "entry {seq} does not follow entry {}: an entry was inserted, removed or reordered",
                    seq - 1
                ),
            );
            return Ok(report);
        }
        prev = hash;
        expected_seq = seq + 1;
    }
    let last_seq = expected_seq - 1;
    drop(rows);
    let mut cps = conn
        .prepare("SELECT seq, hash, public_key, signature FROM audit_checkpoints ORDER BY seq")?;
    let mut rows = cps.query([])?;
    let own_key = hex::encode(key.to_bytes());
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        let hash: String = r.get(1)?;
        let public_key: String = r.get(2)?;
        let signature: String = r.get(3)?;
        report.checkpoints += 1;
        let sig_ok = public_key == own_key
            && hex::decode(&signature)
                .ok()
                .and_then(|b| Signature::from_slice(&b).ok())
                .map(|sig| {
                    key.verify(checkpoint_message(seq, &hash).as_bytes(), &sig)
                        .is_ok()
                })
                .unwrap_or(false);
        if !sig_ok {
            report.problem = problem(
                seq,
                "bad_checkpoint",
                format!("checkpoint {seq} is not signed by this installation's audit key"),
            );
            return Ok(report);
        }
        if seq > last_seq {
            report.problem = problem(
                last_seq + 1,
                "truncated",
                format!("a signed checkpoint covers entry {seq} but the log ends at {last_seq}: entries were removed"),
            );
            return Ok(report);
        }
        let stored: Option<String> = conn
            .query_row("SELECT hash FROM audit_log WHERE seq = ?1", [seq], |r| {
                r.get(0)
            })
            .optional()?;
        if stored.as_deref() != Some(hash.as_str()) {
            report.problem = problem(
                seq,
                "altered",
                format!("entry {seq} differs from the signed checkpoint: the chain was rewritten"),
            );
            return Ok(report);
        }
    }
    Ok(report)
}
