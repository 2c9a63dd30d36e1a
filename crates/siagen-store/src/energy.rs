//! Generations and their energy: one row per generation served, so energy and CO2e can be
//! reported by user, model, document (through the machine revisions that cite a generation) and
//! day. Rows hold counts and figures only, never text.

use crate::accounts::Actor;
use crate::{now, Result, Role, Store, StoreError};
use rusqlite::params;
use serde::Serialize;
use serde_json::json;

/// One finished generation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GenerationRecord {
    /// Generation id (the API response id, e.g. `chatcmpl-…`).
    pub id: String,
    /// Model name.
    pub model: String,
    /// `chat`, `completion`, `embedding`, `draft`…
    pub route: String,
    /// Prompt tokens.
    pub prompt_tokens: i64,
    /// Generated tokens.
    pub completion_tokens: i64,
    /// `stop`, `length`, `cancelled`.
    pub finish_reason: String,
    /// Energy attributed to the generation, in joules.
    pub joules: f64,
    /// Its CO2 equivalent, in grams.
    pub co2e_g: f64,
    /// `measured: …` or `estimated: …`.
    pub energy_method: String,
    /// Watermark scheme that marked the text (`gumbel`, `kgw`), or `none` (marking off, greedy
    /// decoding, upstream engine).
    pub mark_scheme: String,
    /// Id of the watermark key (never the secret); `None` when unmarked.
    pub mark_key_id: Option<String>,
}

/// Grouping of an energy report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnergyBy {
    /// Per account.
    User,
    /// Per model.
    Model,
    /// Per document (generations cited by its machine revisions).
    Document,
    /// Per UTC day.
    Day,
}

impl std::str::FromStr for EnergyBy {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "user" => Ok(Self::User),
            "model" => Ok(Self::Model),
            "document" => Ok(Self::Document),
            "day" => Ok(Self::Day),
            _ => Err(StoreError::Invalid(format!(
                "unknown grouping '{s}' (expected user, model, document or day)"
            ))),
        }
    }
}

/// One line of an energy report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EnergyRow {
    /// The user name, model, `document:ID` or day.
    pub key: String,
    /// Generations counted.
    pub generations: i64,
    /// Prompt + generated tokens.
    pub tokens: i64,
    /// Energy in watt-hours.
    pub wh: f64,
    /// CO2 equivalent in grams.
    pub co2e_g: f64,
    /// How many of the generations were measured (the others were estimated).
    pub measured: i64,
}

impl Store {
    /// Records a finished generation with its energy (appends an audit entry too).
    pub fn record_generation(&self, actor: &Actor, rec: &GenerationRecord) -> Result<()> {
        let user = actor.user_id.ok_or_else(|| {
            StoreError::Forbidden("generations are recorded for a named account".into())
        })?;
        self.write(
            &actor.audit_label(),
            "generation.done",
            &format!("generation:{}", rec.id),
            |tx| {
                tx.prepare_cached(
                    "INSERT INTO generations (id, at, user_id, model, route, prompt_tokens, completion_tokens,
                                              finish_reason, joules, co2e_g, energy_method,
                                              mark_scheme, mark_key_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                )?
                .execute(params![
                    rec.id, now(), user, rec.model, rec.route, rec.prompt_tokens,
                    rec.completion_tokens, rec.finish_reason, rec.joules, rec.co2e_g,
                    rec.energy_method, rec.mark_scheme, rec.mark_key_id
                ])?;
                Ok((
                    (),
                    format!("generation:{}", rec.id),
                    json!({ "model": rec.model, "prompt_tokens": rec.prompt_tokens,
                            "completion_tokens": rec.completion_tokens, "finish_reason": rec.finish_reason,
                            "joules": rec.joules, "energy_method": rec.energy_method,
                            "mark": { "scheme": rec.mark_scheme, "key_id": rec.mark_key_id } }),
                ))
            },
        )
    }

    /// Energy and CO2e grouped by user, model, document or day, since an optional date.
    /// Administrators and auditors see all; others see their own generations only.
    pub fn energy_report(
        &self,
        actor: &Actor,
        by: EnergyBy,
        since: Option<&str>,
    ) -> Result<Vec<EnergyRow>> {
        let everyone = actor.roles.has(Role::Admin) || actor.roles.has(Role::Auditor);
        let only_user = if everyone {
            None
        } else {
            actor.user_id.or(Some(-1))
        };
        let (key, join) = match by {
            EnergyBy::User => ("u.name", "JOIN users u ON u.id = g.user_id"),
            EnergyBy::Model => ("g.model", ""),
            EnergyBy::Day => ("substr(g.at, 1, 10)", ""),
            EnergyBy::Document => (
                "'document:' || r.document_id",
                "JOIN (SELECT DISTINCT document_id, generation_id FROM revisions WHERE generation_id IS NOT NULL) r
                   ON r.generation_id = g.id",
            ),
        };
        self.read(|conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {key} AS k, COUNT(*), SUM(g.prompt_tokens + g.completion_tokens), SUM(g.joules) / 3600.0,
                        SUM(g.co2e_g), SUM(g.energy_method LIKE 'measured%')
                 FROM generations g {join}
                 WHERE g.at >= ?1 AND (?2 IS NULL OR g.user_id = ?2)
                 GROUP BY k ORDER BY k"
            ))?;
            let rows = stmt.query_map(params![since.unwrap_or(""), only_user], |r| {
                Ok(EnergyRow {
                    key: r.get(0)?,
                    generations: r.get(1)?,
                    tokens: r.get(2)?,
                    wh: r.get(3)?,
                    co2e_g: r.get(4)?,
                    measured: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }
}
