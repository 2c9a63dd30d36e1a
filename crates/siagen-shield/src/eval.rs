//! Evaluation against an annotated corpus, with eds-pseudo's metrics:
//! token-level precision/recall/F1 per label, "redact" (share of
//! identifier tokens masked, whatever the label) and "full redact" (share
//! of documents whose every identifier token is masked).

use std::collections::BTreeMap;
use std::fmt;
use std::io::BufRead;

use serde::Deserialize;

use crate::{Label, Shield, ShieldError, Span};

/// One annotated document.
#[derive(Debug, Clone, Deserialize)]
pub struct GoldDoc {
    pub id: String,
    pub text: String,
    pub spans: Vec<Span>,
    #[serde(default)]
    pub kind: Option<String>,
}

/// Reads a JSON-lines corpus (`{"id", "text", "spans"}`).
pub fn load_corpus<R: BufRead>(r: R) -> Result<Vec<GoldDoc>, ShieldError> {
    let mut out = Vec::new();
    for (i, line) in r.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let d: GoldDoc = serde_json::from_str(&line).map_err(|e| {
            ShieldError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("corpus line {}: {e}", i + 1),
            ))
        })?;
        out.push(d);
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
}

impl Counts {
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

/// Scores of a run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub per_label: BTreeMap<Label, Counts>,
    /// Identifier tokens masked / identifier tokens (label ignored).
    pub redact: f64,
    /// Masked tokens that are identifiers / masked tokens (label ignored).
    pub redact_precision: f64,
    /// Documents with every identifier token masked / documents.
    pub full_redact: f64,
    /// Per label, identifier tokens masked with any label / tokens.
    pub redact_per_label: BTreeMap<Label, f64>,
    pub docs: usize,
    pub tokens: usize,
    pub micro: Counts,
}

/// Alphanumeric tokens of a text, in character offsets.
pub fn tokens(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    let mut n = 0;
    for (i, c) in text.chars().enumerate() {
        n = i + 1;
        if c.is_alphanumeric() {
            if start.is_none() {
                start = Some(i);
            }
        } else if let Some(s) = start.take() {
            out.push((s, i));
        }
    }
    if let Some(s) = start {
        out.push((s, n));
    }
    out
}

fn label_of(spans: &[Span], tok: (usize, usize)) -> Option<Label> {
    spans
        .iter()
        .find(|s| s.start < tok.1 && tok.0 < s.end)
        .map(|s| s.label)
}

/// Per-token comparison of a document: (token text, gold, predicted).
pub fn token_diff(doc: &GoldDoc, pred: &[Span]) -> Vec<(String, Option<Label>, Option<Label>)> {
    let chars: Vec<char> = doc.text.chars().collect();
    tokens(&doc.text)
        .into_iter()
        .map(|t| {
            (
                chars[t.0..t.1].iter().collect(),
                label_of(&doc.spans, t),
                label_of(pred, t),
            )
        })
        .collect()
}

/// Runs the shield on every document and scores it.
pub fn evaluate(shield: &Shield, docs: &[GoldDoc]) -> Report {
    let mut r = Report {
        docs: docs.len(),
        ..Default::default()
    };
    let (mut gold_tok, mut gold_masked, mut pred_tok, mut pred_right, mut full) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    let mut label_gold: BTreeMap<Label, (usize, usize)> = BTreeMap::new();
    for doc in docs {
        let pred = shield.detect(&doc.text);
        let mut all = true;
        for (_, g, p) in token_diff(doc, &pred) {
            r.tokens += 1;
            if let Some(g) = g {
                gold_tok += 1;
                let e = label_gold.entry(g).or_default();
                e.0 += 1;
                if p.is_some() {
                    gold_masked += 1;
                    e.1 += 1;
                } else {
                    all = false;
                }
            }
            if p.is_some() {
                pred_tok += 1;
                if g.is_some() {
                    pred_right += 1;
                }
            }
            match (g, p) {
                (Some(g), Some(p)) if g == p => r.per_label.entry(g).or_default().tp += 1,
                (g, p) => {
                    if let Some(g) = g {
                        r.per_label.entry(g).or_default().fn_ += 1;
                    }
                    if let Some(p) = p {
                        r.per_label.entry(p).or_default().fp += 1;
                    }
                }
            }
        }
        if all {
            full += 1;
        }
    }
    for c in r.per_label.values() {
        r.micro.tp += c.tp;
        r.micro.fp += c.fp;
        r.micro.fn_ += c.fn_;
    }
    r.redact = ratio(gold_masked, gold_tok);
    r.redact_precision = ratio(pred_right, pred_tok);
    r.full_redact = ratio(full, docs.len());
    r.redact_per_label = label_gold
        .into_iter()
        .map(|(l, (n, m))| (l, ratio(m, n)))
        .collect();
    r
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<16} {:>7} {:>7} {:>7} {:>8} {:>6} {:>6} {:>6}",
            "label", "P", "R", "F1", "redact", "tp", "fp", "fn"
        )?;
        for (l, c) in &self.per_label {
            let red = self.redact_per_label.get(l).copied().unwrap_or(1.0);
            writeln!(
                f,
                "{:<16} {:>6.2}% {:>6.2}% {:>6.2}% {:>7.2}% {:>6} {:>6} {:>6}",
                l.as_str(),
                100.0 * c.precision(),
                100.0 * c.recall(),
                100.0 * c.f1(),
                100.0 * red,
                c.tp,
                c.fp,
                c.fn_
            )?;
        }
        writeln!(
            f,
            "{:<16} {:>6.2}% {:>6.2}% {:>6.2}%",
            "micro (labelled)",
            100.0 * self.micro.precision(),
            100.0 * self.micro.recall(),
            100.0 * self.micro.f1()
        )?;
        writeln!(
            f,
            "redact (token recall, any label): {:.2}%",
            100.0 * self.redact
        )?;
        writeln!(
            f,
            "redact precision (any label):     {:.2}%",
            100.0 * self.redact_precision
        )?;
        writeln!(
            f,
            "full redact (documents):          {:.2}%",
            100.0 * self.full_redact
        )?;
        write!(f, "documents: {}, tokens: {}", self.docs, self.tokens)
    }
}
