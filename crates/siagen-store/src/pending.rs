//! Results a user may still turn into a draft: a sourced answer waits here between `/api/ask`
//! and `/api/ask/save`. Keeping them server-side means the saved text and sources are exactly
//! what the model and the retrieval produced, not what a client sends back; keeping them in the
//! database rather than in memory means a restart (or kill -9) between the two loses nothing.
//! Rows are written in the transaction of the action's audit entry, and expire.

use crate::{now, Result, Store, StoreError};
use rusqlite::{params, OptionalExtension};
use serde_json::Value;

impl Store {
    /// Appends the audit entry of `action` (outcome `ok`) and keeps `payload` for `user_id`
    /// under `key` until `ttl` has passed, in one transaction. Expired rows are purged.
    #[allow(clippy::too_many_arguments)]
    pub fn audit_with_pending(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        details: Value,
        user_id: i64,
        key: &str,
        payload: &Value,
        ttl: chrono::Duration,
    ) -> Result<()> {
        if key.is_empty() || key.len() > 200 {
            return Err(StoreError::Invalid(
                "a pending result needs a key of 1 to 200 bytes".into(),
            ));
        }
        let expires =
            (chrono::Utc::now() + ttl).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.write(actor, action, target, |tx| {
            let at = now();
            tx.prepare_cached("DELETE FROM pending_results WHERE expires_at <= ?1")?
                .execute(params![at])?;
            tx.prepare_cached(
                "INSERT OR REPLACE INTO pending_results (key, user_id, created_at, expires_at, payload)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![key, user_id, at, expires, payload.to_string()])?;
            Ok(((), target.to_string(), details))
        })
    }

    /// The unexpired payload kept under `key` for `user_id` (another user's is not found).
    pub fn pending(&self, user_id: i64, key: &str) -> Result<Option<Value>> {
        let text: Option<String> = self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT payload FROM pending_results
                 WHERE key = ?1 AND user_id = ?2 AND expires_at > ?3",
            )?
            .query_row(params![key, user_id, now()], |r| r.get(0))
            .optional()?)
        })?;
        text.map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| StoreError::Invalid(format!("pending result {key}: {e}")))
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use crate::{Actor, NewUser, Role, Roles, Store, StoreConfig};
    use serde_json::json;

    fn user(store: &Store, name: &str) -> i64 {
        let new = NewUser {
            name: name.into(),
            password: format!("{name}-password-123"),
            roles: Roles::NONE.with(Role::Clinician),
        };
        store.create_user(&Actor::cli(), new).unwrap().id
    }

    #[test]
    fn kept_across_reopen_per_user_and_until_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        let (alice, bob) = (user(&store, "alice"), user(&store, "bob"));
        let payload = json!({ "answer": "La dose maximale est de 4 g par jour [1]." });
        let hour = chrono::Duration::hours(1);
        let keep = |key: &str, ttl| {
            store.audit_with_pending(
                "user:1",
                "kb.ask",
                "kb:g",
                json!({}),
                alice,
                key,
                &payload,
                ttl,
            )
        };
        keep("g-1", hour).unwrap();
        keep("g-old", chrono::Duration::milliseconds(-1)).unwrap();
        assert!(keep("", hour).unwrap_err().is_user_error());
        drop(store);
        let store = Store::open(StoreConfig::new(dir.path())).unwrap();
        assert_eq!(store.pending(alice, "g-1").unwrap(), Some(payload.clone()));
        assert_eq!(store.pending(bob, "g-1").unwrap(), None, "another user's");
        assert_eq!(store.pending(alice, "g-old").unwrap(), None, "expired");
        assert_eq!(store.pending(alice, "g-2").unwrap(), None);
        // Each write is audited, in the chain.
        let report = store.audit_verify().unwrap();
        assert!(
            report.problem.is_none() && report.entries >= 2,
            "{report:?}"
        );
    }
}
