//! Checking a prescription: drug lines → substances → thesaurus entries, and the answer's formats.

use std::fmt::Write as _;
use std::sync::Arc;

use serde::Serialize;

use crate::normalize::fold;
use crate::thesaurus::{PhraseMatch, Target, TermKind, Thesaurus};
use crate::{MedsError, Severity};

/// One level of a finding, with the condition the thesaurus attaches to it (dose, route, patient
/// profile): the level only applies under that condition, so it is never dropped.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LevelDetail {
    pub level: Severity,
    /// The level as written in the thesaurus (a few entries write "Il convient de prendre en
    /// compte" for "A prendre en compte").
    pub label: Arc<str>,
    pub condition: Arc<str>,
}

/// One thesaurus entry that applies between two drug lines of the prescription.
#[derive(Debug, Clone, Serialize)]
pub struct Interaction {
    /// Index of the first drug line (a < b).
    pub a: usize,
    /// Index of the second drug line.
    pub b: usize,
    /// The lines as written.
    pub drug_a: Arc<str>,
    pub drug_b: Arc<str>,
    /// The thesaurus substances (or other thesaurus terms) the lines were matched to.
    pub substance_a: Arc<str>,
    pub substance_b: Arc<str>,
    /// The entry as written in the thesaurus: main drug (or class) and "plus" drug (or class).
    pub main: Arc<str>,
    pub plus: Arc<str>,
    /// Which line, "a" or "b", the `main` side of the entry matched.
    pub main_side: &'static str,
    /// Most severe level of the entry.
    pub severity: Severity,
    /// Every level of the entry, in the thesaurus's order.
    pub levels: Arc<[Severity]>,
    pub level_details: Arc<[LevelDetail]>,
    pub mechanism: Arc<str>,
    /// What to do, as the thesaurus words it (per level when it has several).
    pub conduct: Arc<str>,
    /// The thesaurus's cross references for this pair ("Voir aussi : ...").
    pub see_also: Arc<str>,
    pub edition: Arc<str>,
}

/// How a drug line was understood.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DrugStatus {
    /// Mapped to at least one thesaurus substance (or class).
    Matched,
    /// A known medicine (brand or INN of the ATC dictionary) none of whose substances could be
    /// mapped to this thesaurus edition (usually a substance the thesaurus does not list): no
    /// interaction can be reported for it.
    NotInThesaurus,
    /// Nothing recognised: the answer says so instead of staying silent.
    Unknown,
}

/// The reading of one drug line.
#[derive(Debug, Clone, Serialize)]
pub struct DrugLine {
    pub index: usize,
    pub input: Arc<str>,
    pub status: DrugStatus,
    /// Thesaurus substances (or classes) the line was mapped to.
    pub substances: Vec<Arc<str>>,
    /// How they were reached: the phrases recognised, e.g. "KARDEGIC (ATC B01AC06)".
    pub via: Vec<Arc<str>>,
}

/// The answer to one prescription: findings sorted by severity, unknown lines, and the edition.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub edition: Arc<str>,
    pub interactions: Vec<Interaction>,
    /// Indices of the lines nothing could be recognised in.
    pub unknown: Vec<usize>,
    pub drugs: Vec<DrugLine>,
}

struct Resolved {
    input: Arc<str>,
    terms: Vec<u32>,
    status: DrugStatus,
    via: Vec<Arc<str>>,
}

impl Thesaurus {
    fn resolve(&self, line: &str) -> Resolved {
        let folded = fold(line);
        let mut terms: Vec<u32> = Vec::new();
        let mut via = Vec::new();
        let mut known_product = false;
        let push = |terms: &mut Vec<u32>, t: u32| {
            if !terms.contains(&t) {
                terms.push(t);
            }
        };
        // A line that is exactly a known name needs no scan (same result: the longest match).
        let matches = match self.phrases.get(folded.as_str()) {
            Some(&target) => vec![PhraseMatch { end: 0, target }],
            None => self.scan(&folded),
        };
        for m in matches {
            match m.target {
                Target::Term(id) => {
                    push(&mut terms, id);
                    via.push(self.terms[id as usize].name.clone());
                }
                Target::Alias(a) => {
                    let (phrase, subs) = &self.aliases[a as usize];
                    for &s in subs {
                        push(&mut terms, s);
                    }
                    via.push(phrase.clone());
                }
                Target::Product(p) => {
                    let p = &self.products[p as usize];
                    known_product = true;
                    for &s in &p.substances {
                        push(&mut terms, s);
                    }
                    via.push(p.display.clone());
                }
            }
        }
        let status = if !terms.is_empty() {
            DrugStatus::Matched
        } else if known_product {
            DrugStatus::NotInThesaurus
        } else {
            DrugStatus::Unknown
        };
        Resolved {
            input: line.into(),
            terms,
            status,
            via,
        }
    }

    /// Checks a prescription given as drug lines, in any order: every pair of lines is looked up
    /// in both directions, through substances and their classes.
    pub fn check<S: AsRef<str>>(&self, lines: &[S]) -> Check {
        let resolved: Vec<Resolved> = lines.iter().map(|l| self.resolve(l.as_ref())).collect();
        let mut interactions = Vec::new();
        // (entry, a side is main, term a, term b), reused between line pairs.
        let mut found: Vec<(u32, bool, u32, u32)> = Vec::new();
        for i in 0..resolved.len() {
            for j in i + 1..resolved.len() {
                found.clear();
                for &ta in &resolved[i].terms {
                    for &tb in &resolved[j].terms {
                        // The same substance on two lines is a duplicate, not an interaction;
                        // "X + other X" class entries mean two different substances.
                        if ta == tb || !self.may_interact(ta, tb) {
                            continue;
                        }
                        self.for_each_entry(ta, tb, |ma, _mb, e| {
                            let a_main = self.entries[e as usize].main == ma;
                            if !found.iter().any(|f| f.0 == e && f.1 == a_main) {
                                found.push((e, a_main, ta, tb));
                            }
                        });
                    }
                }
                if found.is_empty() {
                    continue;
                }
                // The thesaurus writes most entries twice (A+B under A, B+A under B): report one,
                // oriented with line a on the main side when possible. Distinct entries for the
                // same pair are all kept.
                for (k, &(e, a_main, ta, tb)) in found.iter().enumerate() {
                    let entry = &self.entries[e as usize];
                    let (x, y) = (entry.main.min(entry.plus), entry.main.max(entry.plus));
                    let same_pair = |f: &(u32, bool, u32, u32)| {
                        let o = &self.entries[f.0 as usize];
                        o.main.min(o.plus) == x && o.main.max(o.plus) == y
                    };
                    let mirrored_elsewhere = !a_main && found.iter().any(|f| f.1 && same_pair(f));
                    let seen_before = found[..k].iter().any(|f| f.0 == e);
                    if mirrored_elsewhere || seen_before {
                        continue;
                    }
                    interactions.push(self.interaction(i, j, &resolved, e, a_main, ta, tb));
                }
            }
        }
        interactions.sort_by(|p, q| {
            (p.severity, p.a, p.b, &p.main, &p.plus).cmp(&(q.severity, q.a, q.b, &q.main, &q.plus))
        });
        let unknown = resolved
            .iter()
            .enumerate()
            .filter(|(_, r)| r.status == DrugStatus::Unknown)
            .map(|(i, _)| i)
            .collect();
        let drugs = resolved
            .into_iter()
            .enumerate()
            .map(|(index, r)| DrugLine {
                index,
                input: r.input,
                status: r.status,
                substances: r
                    .terms
                    .iter()
                    .map(|&t| self.terms[t as usize].name.clone())
                    .collect(),
                via: r.via,
            })
            .collect();
        Check {
            edition: self.edition.clone(),
            interactions,
            unknown,
            drugs,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn interaction(
        &self,
        a: usize,
        b: usize,
        lines: &[Resolved],
        e: u32,
        a_main: bool,
        ta: u32,
        tb: u32,
    ) -> Interaction {
        let entry = &self.entries[e as usize];
        Interaction {
            a,
            b,
            drug_a: lines[a].input.clone(),
            drug_b: lines[b].input.clone(),
            substance_a: self.terms[ta as usize].name.clone(),
            substance_b: self.terms[tb as usize].name.clone(),
            main: entry.main_name.clone(),
            plus: entry.plus_name.clone(),
            main_side: if a_main { "a" } else { "b" },
            severity: entry.top,
            levels: entry.levels.clone(),
            level_details: entry.details.clone(),
            mechanism: entry.mechanism.clone(),
            conduct: entry.conduct.clone(),
            see_also: entry.see_also.clone(),
            edition: self.edition.clone(),
        }
    }

    /// Answers one line of the batch format: reads `{"id": ..., "drugs": ["...", ...]}` and
    /// returns the JSON line `{"id": ..., "edition": ..., "interactions": [...], "unknown": [...],
    /// "drugs": [...]}` (the id is echoed unchanged, whatever its JSON type).
    pub fn check_jsonl_line(&self, line: &str) -> Result<String, MedsError> {
        #[derive(serde::Deserialize)]
        struct Request {
            #[serde(default)]
            id: serde_json::Value,
            drugs: Vec<String>,
        }
        #[derive(Serialize)]
        struct Response<'a> {
            id: &'a serde_json::Value,
            #[serde(flatten)]
            check: &'a Check,
        }
        let req: Request =
            serde_json::from_str(line).map_err(|e| MedsError::Request(e.to_string()))?;
        let check = self.check(&req.drugs);
        serde_json::to_string(&Response {
            id: &req.id,
            check: &check,
        })
        .map_err(|e| MedsError::Request(e.to_string()))
    }

    /// Whether a name is a class of this edition (useful to tell users that a class was named
    /// rather than a drug).
    pub fn is_class(&self, name: &str) -> bool {
        matches!(self.phrases.get(&fold(name)), Some(Target::Term(id)) if self.terms[*id as usize].kind == TermKind::Class)
    }
}

impl Check {
    /// Human-readable French table for the command line: one block per finding, most severe
    /// first, then the lines that were not recognised.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Thésaurus ANSM des interactions médicamenteuses, édition {}",
            self.edition
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<3} {:<40} Substances (thésaurus)",
            "#", "Médicament"
        );
        for d in &self.drugs {
            let subs = match d.status {
                DrugStatus::Matched => d.substances.join(", "),
                DrugStatus::NotInThesaurus => format!(
                    "reconnu, aucune substance du thésaurus identifiée ({})",
                    d.via.join("; ")
                ),
                DrugStatus::Unknown => "MÉDICAMENT NON RECONNU".to_string(),
            };
            let _ = writeln!(
                out,
                "{:<3} {:<40} {}",
                d.index + 1,
                truncate(&d.input, 40),
                subs
            );
        }
        let _ = writeln!(out);
        if self.interactions.is_empty() {
            let _ = writeln!(
                out,
                "Aucune interaction du thésaurus entre les médicaments reconnus."
            );
        } else {
            let _ = writeln!(
                out,
                "{:<26} {:<7} {:<30} {:<30} Entrée du thésaurus",
                "Niveau", "Lignes", "Médicament A", "Médicament B"
            );
            for it in &self.interactions {
                let levels: Vec<&str> = it.levels.iter().map(|l| l.label()).collect();
                let _ = writeln!(
                    out,
                    "{:<26} {:<7} {:<30} {:<30} {} + {}",
                    it.severity.label(),
                    format!("{}-{}", it.a + 1, it.b + 1),
                    truncate(&it.drug_a, 30),
                    truncate(&it.drug_b, 30),
                    it.main,
                    it.plus
                );
                if levels.len() > 1 {
                    let _ = writeln!(out, "    Niveaux : {}", levels.join(" / "));
                }
                for l in it.level_details.iter() {
                    if !l.condition.is_empty() && it.level_details.len() > 1 {
                        let _ =
                            writeln!(out, "    {} : {}", l.level.label(), one_line(&l.condition));
                    }
                }
                if !it.mechanism.is_empty() {
                    let _ = writeln!(out, "    Mécanisme : {}", one_line(&it.mechanism));
                }
                if !it.conduct.is_empty() && it.level_details.len() <= 1 {
                    let _ = writeln!(out, "    Conduite à tenir : {}", one_line(&it.conduct));
                }
            }
        }
        if !self.unknown.is_empty() {
            let names: Vec<String> = self
                .unknown
                .iter()
                .map(|&k| format!("« {} » (ligne {})", self.drugs[k].input, k + 1))
                .collect();
            let _ = writeln!(out);
            let _ = writeln!(out, "Non reconnus, non vérifiés : {}", names.join(", "));
        }
        out
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(width - 1).collect();
        t.push('…');
        t
    }
}
