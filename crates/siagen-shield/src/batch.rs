//! JSON-lines batch processing, so that the CLI is a thin wrapper.
//! Each input line is `{"id": ..., "text": "...", "patient_ref"?: "..."}`;
//! a malformed line is reported with its number and the run goes on.

use std::io::{BufRead, Write};

use serde::Serialize;
use serde_json::Value;

use crate::{pseudonymize_with, PseudoOptions, Shield, ShieldError, Span, Vault};

/// What to do with each line.
#[derive(Debug, Clone, Copy)]
pub enum BatchMode<'a> {
    /// Writes `{"id", "spans"}`.
    Detect,
    /// Writes `{"id", "text"}`; the patient reference is the line's
    /// `patient_ref` (or `patient`) field, else its id.
    Pseudonymize {
        vault: &'a Vault,
        options: PseudoOptions,
    },
}

/// A line that could not be processed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Progress so far, reported every `PROGRESS_EVERY` lines and at the end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub lines: usize,
    pub ok: usize,
    pub errors: usize,
    pub bytes: u64,
}

pub type BatchStats = Progress;

const PROGRESS_EVERY: usize = 1000;

#[derive(Serialize)]
struct DetectOut<'a> {
    id: &'a Value,
    spans: Vec<Span>,
}

#[derive(Serialize)]
struct PseudoOut<'a> {
    id: &'a Value,
    text: String,
}

/// Processes JSON lines from `input` to `output`. Per-line problems go to
/// `on_error` and do not stop the run; failing to write the output does.
pub fn process_jsonl<R: BufRead, W: Write>(
    shield: &Shield,
    mode: BatchMode<'_>,
    mut input: R,
    mut output: W,
    on_error: &mut dyn FnMut(&LineError),
    on_progress: &mut dyn FnMut(&Progress),
) -> Result<BatchStats, ShieldError> {
    let mut p = Progress::default();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = input.read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        p.lines += 1;
        p.bytes += n as u64;
        let line_no = p.lines;
        match process_line(shield, mode, &buf) {
            Ok(None) => {
                p.lines -= 1; // Blank lines are not records.
            }
            Ok(Some(json)) => {
                output.write_all(json.as_bytes())?;
                output.write_all(b"\n")?;
                p.ok += 1;
            }
            Err(message) => {
                p.errors += 1;
                on_error(&LineError {
                    line: line_no,
                    message,
                });
            }
        }
        if p.lines % PROGRESS_EVERY == 0 && p.lines > 0 {
            on_progress(&p);
        }
    }
    output.flush()?;
    on_progress(&p);
    Ok(p)
}

fn process_line(
    shield: &Shield,
    mode: BatchMode<'_>,
    raw: &[u8],
) -> Result<Option<String>, String> {
    let line = std::str::from_utf8(raw).map_err(|e| format!("invalid UTF-8: {e}"))?;
    if line.trim().is_empty() {
        return Ok(None);
    }
    let v: Value = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let obj = v.as_object().ok_or("expected a JSON object")?;
    let id = obj.get("id").ok_or("missing \"id\"")?;
    let text = obj
        .get("text")
        .ok_or("missing \"text\"")?
        .as_str()
        .ok_or("\"text\" must be a string")?;
    let out = match mode {
        BatchMode::Detect => serde_json::to_string(&DetectOut {
            id,
            spans: shield.detect(text),
        }),
        BatchMode::Pseudonymize { vault, options } => {
            let patient = match obj.get("patient_ref").or_else(|| obj.get("patient")) {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => match id {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
            };
            let p = pseudonymize_with(shield, text, &patient, vault, &options)
                .map_err(|e| e.to_string())?;
            serde_json::to_string(&PseudoOut { id, text: p.text })
        }
    };
    out.map(Some).map_err(|e| e.to_string())
}
