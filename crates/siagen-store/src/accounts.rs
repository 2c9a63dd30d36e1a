//! Accounts, roles, API tokens and web sessions.
//!
//! Passwords are hashed with Argon2id (slow on purpose, so the hashing runs outside the database
//! lock). API tokens and session ids are 256-bit random secrets: a plain SHA-256 is enough to
//! store them (they cannot be guessed), and it keeps token checks fast on every request.

use crate::{now, sha256_hex, Result, Role, Roles, Store, StoreError};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine as _;
use rand::RngCore;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use serde_json::json;

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 12;

/// Who is acting: a person (through a token or a session) or the local command line.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    /// The account, or `None` for the command line run by the operator on the server.
    pub user_id: Option<i64>,
    /// Account name (`cli` for the command line).
    pub name: String,
    /// Roles held.
    pub roles: Roles,
    /// The API token used, if any.
    pub token_id: Option<i64>,
}

impl Actor {
    /// The operator at the server's command line: may administer, may not act as a clinician
    /// or validator (those need a named human account).
    pub fn cli() -> Actor {
        Actor {
            user_id: None,
            name: "cli".into(),
            roles: Roles::NONE.with(Role::Admin).with(Role::Auditor),
            token_id: None,
        }
    }

    /// How the actor appears in the audit trail: ids only.
    pub fn audit_label(&self) -> String {
        match (self.user_id, self.token_id) {
            (Some(u), Some(t)) => format!("user:{u}/token:{t}"),
            (Some(u), None) => format!("user:{u}"),
            (None, _) => "cli".into(),
        }
    }

    /// Requires a role; returns an error naming it otherwise.
    pub fn require(&self, role: Role) -> Result<()> {
        if self.roles.has(role) {
            Ok(())
        } else {
            Err(StoreError::Forbidden(format!(
                "this action needs the {} role",
                role.as_str()
            )))
        }
    }

    /// Requires the clinician or validator role for `what` (e.g. "reading documents").
    pub fn require_clinical(&self, what: &str) -> Result<()> {
        if self.roles.clinical() {
            Ok(())
        } else {
            Err(StoreError::Forbidden(format!(
                "{what} needs the clinician or validator role"
            )))
        }
    }

    /// Requires a named human account holding `role`; returns its id.
    pub fn require_human(&self, role: Role) -> Result<i64> {
        self.require(role)?;
        self.user_id.ok_or_else(|| {
            StoreError::Forbidden(format!(
                "the {} action needs a named person's account, not the command line",
                role.as_str()
            ))
        })
    }
}

/// An account as shown to administrators.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct User {
    /// Account id.
    pub id: i64,
    /// Login name.
    pub name: String,
    /// Roles held.
    pub roles: Roles,
    /// A disabled account can neither log in nor use its tokens.
    pub disabled: bool,
    /// Creation time.
    pub created_at: String,
}

/// A new account.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name: 2–64 of `a-z 0-9 . _ -`.
    pub name: String,
    /// Password, at least [`MIN_PASSWORD_LEN`] characters.
    pub password: String,
    /// Roles.
    pub roles: Roles,
}

/// An API token's public description (never its secret).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TokenInfo {
    /// Token id (used to revoke it).
    pub id: i64,
    /// Owner's account id.
    pub user_id: i64,
    /// Owner's name.
    pub user_name: String,
    /// Free label.
    pub label: String,
    /// Creation time.
    pub created_at: String,
    /// Expiry, if any.
    pub expires_at: Option<String>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<String>,
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// The account.
    pub user: User,
    /// Secret for the session cookie.
    pub session_secret: String,
    /// Anti-CSRF token bound to the session.
    pub csrf: String,
    /// Expiry of the session.
    pub expires_at: String,
}

/// A live web session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The person behind it.
    pub actor: Actor,
    /// Anti-CSRF token every state-changing request must echo.
    pub csrf: String,
}

fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// A random password for generated accounts (20 URL-safe characters).
pub fn generate_password() -> String {
    let mut bytes = [0u8; 15];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Internal(format!("password hashing failed: {e}")))
}

fn check_name(name: &str) -> Result<()> {
    let ok = (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "invalid user name '{name}': use 2 to 64 characters among a-z, 0-9, '.', '_' and '-'"
        )))
    }
}

fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(StoreError::Invalid(format!(
            "password too short: at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    Ok(())
}

fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        name: r.get(1)?,
        roles: Roles::from_bits(r.get(2)?),
        disabled: r.get::<_, i64>(3)? != 0,
        created_at: r.get(4)?,
    })
}

const USER_COLS: &str = "id, name, roles, disabled, created_at";

impl Store {
    /// Creates an account (administrators only).
    pub fn create_user(&self, actor: &Actor, new: NewUser) -> Result<User> {
        self.authorize(actor, "user.create", "user:?", |a| a.require(Role::Admin))?;
        check_name(&new.name)?;
        check_password(&new.password)?;
        let hash = hash_password(&new.password)?;
        self.write(&actor.audit_label(), "user.create", "user:?", |tx| {
            let exists: bool = tx
                .query_row("SELECT 1 FROM users WHERE name = ?1", [&new.name], |_| Ok(()))
                .optional()?
                .is_some();
            if exists {
                return Err(StoreError::Conflict(format!(
                    "a user named '{}' already exists",
                    new.name
                )));
            }
            let at = now();
            tx.execute(
                "INSERT INTO users (name, password_hash, roles, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![new.name, hash, new.roles.bits(), at],
            )?;
            let id = tx.last_insert_rowid();
            let user = User {
                id,
                name: new.name.clone(),
                roles: new.roles,
                disabled: false,
                created_at: at,
            };
            Ok((user, format!("user:{id}"), json!({ "roles": new.roles.to_string() })))
        })
    }

    /// Creates the first administrator when the database has no account yet. Returns the
    /// password when one was generated (to print once), `None` when nothing was created or the
    /// given password was used.
    pub fn ensure_admin(&self, password: Option<&str>) -> Result<Option<(String, bool)>> {
        let count: i64 = self
            .lock()
            .conn
            .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
        if count > 0 {
            return Ok(None);
        }
        let (password, generated) = match password {
            Some(p) => (p.to_string(), false),
            None => (generate_password(), true),
        };
        self.create_user(
            &Actor::cli(),
            NewUser {
                name: "admin".into(),
                password: password.clone(),
                roles: Roles::NONE.with(Role::Admin),
            },
        )?;
        Ok(Some((password, generated)))
    }

    /// Every account, by id.
    pub fn list_users(&self, actor: &Actor) -> Result<Vec<User>> {
        actor.require(Role::Admin)?;
        let guard = self.lock();
        let mut stmt = guard
            .conn
            .prepare(&format!("SELECT {USER_COLS} FROM users ORDER BY id"))?;
        let users = stmt.query_map([], user_from_row)?;
        Ok(users.collect::<Result<Vec<_>, _>>()?)
    }

    /// One account by name.
    pub fn find_user(&self, name: &str) -> Result<User> {
        let guard = self.lock();
        guard
            .conn
            .query_row(
                &format!("SELECT {USER_COLS} FROM users WHERE name = ?1"),
                [name],
                user_from_row,
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("no user named '{name}'")))
    }

    /// Disables or re-enables an account. Disabling also ends its web sessions.
    pub fn set_user_disabled(&self, actor: &Actor, name: &str, disabled: bool) -> Result<User> {
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        self.authorize(actor, action, "user:?", |a| a.require(Role::Admin))?;
        self.write(&actor.audit_label(), action, "user:?", |tx| {
            let n = tx.execute(
                "UPDATE users SET disabled = ?1 WHERE name = ?2",
                params![disabled as i64, name],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("no user named '{name}'")));
            }
            let user = tx.query_row(
                &format!("SELECT {USER_COLS} FROM users WHERE name = ?1"),
                [name],
                user_from_row,
            )?;
            if disabled {
                tx.execute("DELETE FROM sessions WHERE user_id = ?1", [user.id])?;
            }
            Ok((user.clone(), format!("user:{}", user.id), json!({})))
        })
    }

    /// Replaces an account's roles.
    pub fn set_user_roles(&self, actor: &Actor, name: &str, roles: Roles) -> Result<User> {
        self.authorize(actor, "user.set_roles", "user:?", |a| {
            a.require(Role::Admin)
        })?;
        if roles.is_empty() {
            return Err(StoreError::Invalid("at least one role is needed".into()));
        }
        self.write(&actor.audit_label(), "user.set_roles", "user:?", |tx| {
            let n = tx.execute(
                "UPDATE users SET roles = ?1 WHERE name = ?2",
                params![roles.bits(), name],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("no user named '{name}'")));
            }
            let user = tx.query_row(
                &format!("SELECT {USER_COLS} FROM users WHERE name = ?1"),
                [name],
                user_from_row,
            )?;
            Ok((
                user.clone(),
                format!("user:{}", user.id),
                json!({ "roles": roles.to_string() }),
            ))
        })
    }

    /// Creates an API token for `user_name`; returns its description and its secret, which is
    /// shown once and stored only as a hash. Administrators may create tokens for anyone, other
    /// people only for themselves.
    pub fn create_token(
        &self,
        actor: &Actor,
        user_name: &str,
        label: &str,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<(TokenInfo, String)> {
        let user = self.find_user(user_name)?;
        if !actor.roles.has(Role::Admin) && actor.user_id != Some(user.id) {
            return Err(StoreError::Forbidden(
                "only an administrator may create a token for someone else".into(),
            ));
        }
        if user.disabled {
            return Err(StoreError::Conflict(format!(
                "user '{user_name}' is disabled"
            )));
        }
        let secret = random_secret("sgn_");
        let hash = sha256_hex(&secret);
        let expires = expires_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        let label = label.to_string();
        let info = self.write(&actor.audit_label(), "token.create", "token:?", |tx| {
            let at = now();
            tx.execute(
                "INSERT INTO api_tokens (user_id, token_hash, label, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![user.id, hash, label, at, expires],
            )?;
            let id = tx.last_insert_rowid();
            let info = TokenInfo {
                id,
                user_id: user.id,
                user_name: user.name.clone(),
                label: label.clone(),
                created_at: at,
                expires_at: expires.clone(),
                revoked_at: None,
            };
            Ok((info, format!("token:{id}"), json!({ "user_id": user.id })))
        })?;
        Ok((info, secret))
    }

    /// Tokens, optionally of one user.
    pub fn list_tokens(&self, actor: &Actor, user_name: Option<&str>) -> Result<Vec<TokenInfo>> {
        actor.require(Role::Admin)?;
        let guard = self.lock();
        let mut stmt = guard.conn.prepare(
            "SELECT t.id, t.user_id, u.name, t.label, t.created_at, t.expires_at, t.revoked_at
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE ?1 IS NULL OR u.name = ?1 ORDER BY t.id",
        )?;
        let rows = stmt.query_map([user_name], |r| {
            Ok(TokenInfo {
                id: r.get(0)?,
                user_id: r.get(1)?,
                user_name: r.get(2)?,
                label: r.get(3)?,
                created_at: r.get(4)?,
                expires_at: r.get(5)?,
                revoked_at: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Revokes a token by id (administrators, or the token's owner).
    pub fn revoke_token(&self, actor: &Actor, token_id: i64) -> Result<()> {
        self.write(
            &actor.audit_label(),
            "token.revoke",
            &format!("token:{token_id}"),
            |tx| {
                let owner: Option<(i64, Option<String>)> = tx
                    .query_row(
                        "SELECT user_id, revoked_at FROM api_tokens WHERE id = ?1",
                        [token_id],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                let (owner, revoked) = owner
                    .ok_or_else(|| StoreError::NotFound(format!("no token with id {token_id}")))?;
                if !actor.roles.has(Role::Admin) && actor.user_id != Some(owner) {
                    return Err(StoreError::Forbidden(
                        "only an administrator or the token's owner may revoke it".into(),
                    ));
                }
                if revoked.is_some() {
                    return Err(StoreError::Conflict(format!(
                        "token {token_id} is already revoked"
                    )));
                }
                tx.execute(
                    "UPDATE api_tokens SET revoked_at = ?1 WHERE id = ?2",
                    params![now(), token_id],
                )?;
                Ok(((), format!("token:{token_id}"), json!({})))
            },
        )
    }

    /// Resolves a bearer token to its actor; refuses unknown, revoked, expired tokens and
    /// disabled accounts with a specific message.
    pub fn authenticate_token(&self, secret: &str) -> Result<Actor> {
        let hash = sha256_hex(secret);
        let row: Option<(i64, Option<String>, Option<String>, User)> = self.read(|conn| {
            Ok(conn
            .prepare_cached(
                "SELECT t.id, t.expires_at, t.revoked_at, u.id, u.name, u.roles, u.disabled, u.created_at
                 FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?1",
            )?
            .query_row([hash], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    User {
                        id: r.get(3)?,
                        name: r.get(4)?,
                        roles: Roles::from_bits(r.get(5)?),
                        disabled: r.get::<_, i64>(6)? != 0,
                        created_at: r.get(7)?,
                    },
                ))
            })
            .optional()?)
        })?;
        let (token_id, expires, revoked, user) =
            row.ok_or_else(|| StoreError::Unauthenticated("unknown API token".into()))?;
        if revoked.is_some() {
            return Err(StoreError::Unauthenticated(
                "this API token was revoked".into(),
            ));
        }
        if expires.is_some_and(|e| e <= now()) {
            return Err(StoreError::Unauthenticated(
                "this API token has expired".into(),
            ));
        }
        if user.disabled {
            return Err(StoreError::Unauthenticated(
                "this account is disabled".into(),
            ));
        }
        Ok(Actor {
            user_id: Some(user.id),
            name: user.name,
            roles: user.roles,
            token_id: Some(token_id),
        })
    }

    /// Checks a password and opens a web session. Failures are audited; the caller throttles.
    pub fn login(&self, name: &str, password: &str, ttl: chrono::Duration) -> Result<LoginOutcome> {
        let found: Option<(User, String)> = {
            let guard = self.lock();
            guard
                .conn
                .query_row(
                    &format!("SELECT {USER_COLS}, password_hash FROM users WHERE name = ?1"),
                    [name],
                    |r| Ok((user_from_row(r)?, r.get(5)?)),
                )
                .optional()?
        };
        // Verify outside the lock: Argon2 takes tens of milliseconds on purpose.
        let verified = found.as_ref().is_some_and(|(_, hash)| {
            PasswordHash::new(hash)
                .map(|h| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &h)
                        .is_ok()
                })
                .unwrap_or(false)
        });
        let refuse = |reason: &str, target: String| -> Result<LoginOutcome> {
            self.audit_event(
                "anonymous",
                "auth.login",
                &target,
                "failed",
                json!({ "reason": reason, "name_sha256": sha256_hex(name) }),
            )?;
            Err(StoreError::Unauthenticated(match reason {
                "disabled" => "this account is disabled; ask an administrator".into(),
                _ => "wrong user name or password".into(),
            }))
        };
        let user = match found {
            Some((user, _)) if verified => user,
            Some((user, _)) => return refuse("wrong_password", format!("user:{}", user.id)),
            None => return refuse("unknown_user", "user:?".into()),
        };
        if user.disabled {
            return refuse("disabled", format!("user:{}", user.id));
        }
        let secret = random_secret("");
        let csrf = random_secret("");
        let expires_at =
            (chrono::Utc::now() + ttl).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let actor = format!("user:{}", user.id);
        self.write(&actor, "auth.login", &actor, |tx| {
            tx.execute(
                "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![sha256_hex(&secret), user.id, csrf, now(), expires_at],
            )?;
            Ok(((), actor.clone(), json!({ "via": "password" })))
        })?;
        Ok(LoginOutcome {
            user,
            session_secret: secret,
            csrf,
            expires_at,
        })
    }

    /// Resolves a session cookie.
    pub fn session(&self, secret: &str) -> Result<Session> {
        let row: Option<(String, String, User)> = self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT s.csrf, s.expires_at, u.id, u.name, u.roles, u.disabled, u.created_at
                 FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?1",
                )?
                .query_row([sha256_hex(secret)], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        User {
                            id: r.get(2)?,
                            name: r.get(3)?,
                            roles: Roles::from_bits(r.get(4)?),
                            disabled: r.get::<_, i64>(5)? != 0,
                            created_at: r.get(6)?,
                        },
                    ))
                })
                .optional()?)
        })?;
        let (csrf, expires, user) =
            row.ok_or_else(|| StoreError::Unauthenticated("session unknown or ended".into()))?;
        if expires <= now() {
            return Err(StoreError::Unauthenticated(
                "session expired: log in again".into(),
            ));
        }
        if user.disabled {
            return Err(StoreError::Unauthenticated(
                "this account is disabled".into(),
            ));
        }
        Ok(Session {
            actor: Actor {
                user_id: Some(user.id),
                name: user.name,
                roles: user.roles,
                token_id: None,
            },
            csrf,
        })
    }

    /// Ends a web session.
    pub fn logout(&self, secret: &str) -> Result<()> {
        let session = self.session(secret)?;
        let label = session.actor.audit_label();
        self.write(&label, "auth.logout", &label, |tx| {
            tx.execute(
                "DELETE FROM sessions WHERE token_hash = ?1",
                [sha256_hex(secret)],
            )?;
            Ok(((), label.clone(), json!({})))
        })
    }
}
