//! `siagen kb`: the knowledge base from the command line (collections, teams, ingestion with a
//! progress bar, search, listing, deletion). Every change and every search is audited through the
//! store (ids and hashes only); the operator acts as the administrator, or as `--user NAME` (and is
//! then restricted as that user).

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use serde_json::json;
use sha2::{Digest, Sha256};
use siagen_engine::{ChatMessage, GenerateRequest, SamplingParams, TokenId, TopLogprob};
use siagen_kb::{
    DocMeta, EmbedKind, Embedder, IngestStatus, Kb, KbError, KbOptions, Mode, Reranker,
    SearchQuery, Viewer, Visibility,
};
use siagen_store::{Actor, Role, Store};
use std::path::PathBuf;
use std::sync::Arc;

use crate::Settings;

#[derive(Subcommand)]
pub enum KbCmd {
    /// Ingest files and folders (recursively: .pdf, .html, .md, .txt, .docx) into a collection.
    /// Re-ingesting an unchanged file does nothing; a changed file replaces its previous version.
    Ingest {
        /// Files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Target collection.
        #[arg(long)]
        collection: String,
        /// Act as this account (default: the administrator).
        #[arg(long)]
        user: Option<String>,
        /// Title (default: from the file, else its first heading, else its name).
        #[arg(long)]
        title: Option<String>,
        /// Publisher or author.
        #[arg(long)]
        publisher: Option<String>,
        /// Publication date, YYYY[-MM[-DD]].
        #[arg(long)]
        date: Option<String>,
        /// Source URL or reference (single file only; default: the path).
        #[arg(long)]
        source: Option<String>,
        /// Licence of the source (recorded as "inconnue" when neither given nor in the file).
        #[arg(long)]
        licence: Option<String>,
        /// Document kind: guideline, protocol, monograph, article... (default: document).
        #[arg(long)]
        kind: Option<String>,
    },
    /// Search a collection (or every collection the user may read) and print the ranked passages.
    Search {
        /// The question or keywords.
        query: String,
        /// Collection (default: every collection the user may read).
        #[arg(long)]
        collection: Option<String>,
        /// Number of hits.
        #[arg(short, long, default_value_t = 10)]
        k: usize,
        /// One JSON object per hit: rank, title, source, page, score, text (and more).
        #[arg(long)]
        json: bool,
        /// Search as this account (default: the administrator, who reads no private collection).
        #[arg(long)]
        user: Option<String>,
        /// hybrid (default), bm25 or dense.
        #[arg(long, default_value = "hybrid")]
        mode: String,
        /// Only documents of this kind (repeatable).
        #[arg(long = "kind")]
        kinds: Vec<String>,
        /// Only documents dated on or after, YYYY[-MM[-DD]].
        #[arg(long)]
        from: Option<String>,
        /// Only documents dated on or before, YYYY[-MM[-DD]].
        #[arg(long)]
        to: Option<String>,
        /// Re-order the best passages (kb_rerank_depth, default 20) with the chat model of
        /// kb_reranker_model, asked per passage whether it answers the question.
        #[arg(long)]
        rerank: bool,
    },
    /// Collections: create, list.
    #[command(subcommand)]
    Collection(CollectionCmd),
    /// Teams (for team collections): add or remove a member.
    #[command(subcommand)]
    Team(TeamCmd),
    /// List the documents of a collection.
    List {
        #[arg(long)]
        collection: String,
        #[arg(long)]
        user: Option<String>,
        /// One JSON object per document.
        #[arg(long)]
        json: bool,
    },
    /// Delete a document (its passages leave both indexes).
    Delete {
        /// Document id (from `siagen kb list`).
        id: String,
        #[arg(long)]
        user: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum CollectionCmd {
    /// Create a collection.
    Create {
        name: String,
        /// private, team:NAME or institution.
        #[arg(long)]
        visibility: String,
        /// Owner of a private collection (default: --user, required for the administrator).
        #[arg(long)]
        owner: Option<String>,
        /// Act as this account (default: the administrator).
        #[arg(long)]
        user: Option<String>,
    },
    /// List collections (the administrator sees every name; a --user only what they may read).
    List {
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum TeamCmd {
    /// Add an account to a team.
    Add { team: String, user: String },
    /// Remove an account from a team.
    Remove { team: String, user: String },
}

/// An embedding model of the local engine, for the knowledge base. e5-family models get the
/// `query: ` / `passage: ` prefixes they were trained with.
pub struct EngineEmbedder {
    engine: Arc<siagen_engine::Engine>,
    model: String,
    /// Set when the local engine may not receive identifying data: queries reach the model with
    /// the identifiers it detects blanked out (as `/api/ask` and the reranker do).
    query_shield: Option<siagen_shield::Shield>,
}

impl EngineEmbedder {
    pub fn new(engine: Arc<siagen_engine::Engine>, model: &str) -> EngineEmbedder {
        EngineEmbedder {
            engine,
            model: model.to_string(),
            query_shield: None,
        }
    }

    /// Blanks the identifiers of queries before they reach the model.
    pub fn blanking_queries(mut self, shield: siagen_shield::Shield) -> EngineEmbedder {
        self.query_shield = Some(shield);
        self
    }
}

impl Embedder for EngineEmbedder {
    fn model(&self) -> &str {
        &self.model
    }
    fn embed(&self, texts: &[String], kind: EmbedKind) -> Result<Vec<Vec<f32>>, String> {
        let e5 = self.model.to_ascii_lowercase().contains("e5");
        let blanked: Vec<String>;
        let texts = match (&self.query_shield, kind) {
            (Some(shield), EmbedKind::Query) => {
                blanked = texts
                    .iter()
                    .map(|t| shield.blank_identifiers(t).trim().to_string())
                    .collect();
                &blanked[..]
            }
            _ => texts,
        };
        let texts: Vec<String> = if e5 {
            let prefix = match kind {
                EmbedKind::Query => "query: ",
                EmbedKind::Passage => "passage: ",
            };
            texts.iter().map(|t| format!("{prefix}{t}")).collect()
        } else {
            texts.to_vec()
        };
        self.engine
            .embed(&self.model, &texts)
            .map(|e| e.vectors)
            .map_err(|e| e.to_string())
    }
}

/// What the reranking model is asked about each passage, after the question and the passage.
const RERANK_QUESTION: &str = "Le passage répond-il à la question ? Réponds oui ou non.";

/// Logit bias added to the first tokens of « oui » and « non »: the same for all of them, so
/// their ratio (the score) is the model's own, and large enough that they are always among the
/// top log-probabilities, even for a model that would rather start its answer otherwise.
const ANSWER_BIAS: f32 = siagen_app::ask::ANSWER_BIAS;

/// Top log-probabilities read per passage.
const RERANK_TOP_LOGPROBS: u8 = 10;

/// A chat model of the local engine as a reranker: per passage, one greedy token for « Le
/// passage répond-il à la question ? Réponds oui ou non. », scored P(oui) / (P(oui) + P(non))
/// from its top log-probabilities. Passages too long for the model's context are shortened
/// (their beginning kept) rather than failing.
pub struct EngineReranker {
    engine: Arc<siagen_engine::Engine>,
    model: String,
}

impl EngineReranker {
    pub fn new(engine: Arc<siagen_engine::Engine>, model: &str) -> EngineReranker {
        EngineReranker {
            engine,
            model: model.to_string(),
        }
    }

    /// This model's « oui » and « non » tokens (the entailment check uses the same).
    fn answer_tokens(&self) -> Result<(Vec<TokenId>, Vec<TokenId>), String> {
        siagen_app::ask::yes_no_tokens(&self.engine, &self.model)
    }

    /// The chat prompt for one passage, the passage shortened until the prompt and the one
    /// answer token fit the model's context.
    fn prompt(&self, query: &str, passage: &str) -> Result<String, String> {
        let err = |e: siagen_engine::EngineError| e.to_string();
        let ctx = self.engine.context_length(&self.model).map_err(err)?;
        let mut passage = passage;
        loop {
            let content = format!("Question : {query}\n\nPassage : {passage}\n\n{RERANK_QUESTION}");
            let prompt = self
                .engine
                .chat_prompt(&self.model, &[ChatMessage::new("user", content)])
                .map_err(err)?;
            let n = self
                .engine
                .tokenize(&self.model, &prompt)
                .map_err(err)?
                .len();
            if n < ctx {
                return Ok(prompt);
            }
            if passage.is_empty() {
                return Err(format!(
                    "the question alone does not fit the context of {} ({ctx} tokens)",
                    self.model
                ));
            }
            let chars = passage.chars().count();
            let keep = (chars * 3 / 4).min(chars * (ctx - 1) / n);
            passage = &passage[..passage
                .char_indices()
                .nth(keep)
                .map_or(passage.len(), |(i, _)| i)];
        }
    }
}

/// P(oui) / (P(oui) + P(non)) among `top`, or `None` when neither is there.
fn yes_share(top: &[TopLogprob], yes: &[TokenId], no: &[TokenId]) -> Option<f32> {
    siagen_app::ask::yes_share_by_id(top, yes, no)
}

impl Reranker for EngineReranker {
    fn model(&self) -> &str {
        &self.model
    }
    fn score(&self, query: &str, passages: &[&str]) -> Result<Vec<f32>, String> {
        let (yes, no) = self.answer_tokens()?;
        let bias: Vec<(TokenId, f32)> = yes.iter().chain(&no).map(|&t| (t, ANSWER_BIAS)).collect();
        passages
            .iter()
            .map(|p| {
                let params = SamplingParams {
                    max_tokens: Some(1),
                    top_logprobs: RERANK_TOP_LOGPROBS,
                    logit_bias: bias.clone(),
                    seed: Some(0),
                    ..SamplingParams::greedy()
                };
                let prompt = self.prompt(query, p)?;
                let g = self
                    .engine
                    .generate_blocking(GenerateRequest::new(&self.model, prompt, params))
                    .map_err(|e| e.to_string())?;
                let top = g.tokens.first().map(|t| t.top.as_slice()).unwrap_or(&[]);
                yes_share(top, &yes, &no).ok_or_else(|| {
                    format!(
                        "{}: neither « oui » nor « non » among the top log-probabilities",
                        self.model
                    )
                })
            })
            .collect()
    }
}

/// The configured reranker (`kb_reranker_model`) on `engine`, if any.
pub fn reranker(
    settings: &Settings,
    engine: &Arc<siagen_engine::Engine>,
) -> Result<Option<Arc<dyn Reranker>>> {
    Ok(settings
        .file
        .kb_reranker_model
        .as_ref()
        .map(|m| Arc::new(EngineReranker::new(engine.clone(), m)) as Arc<dyn Reranker>))
}

/// The reranker of `siagen kb search --rerank`: the query as the operator typed it reaches the
/// local model with the identifiers the shield detects blanked out (as `/api/ask` does), unless
/// `engine_may_receive_identifying` says the local engine may receive them.
struct BlankedQuery {
    inner: Arc<dyn Reranker>,
    shield: siagen_shield::Shield,
}

impl Reranker for BlankedQuery {
    fn model(&self) -> &str {
        self.inner.model()
    }
    fn score(&self, query: &str, passages: &[&str]) -> Result<Vec<f32>, String> {
        let blanked = self.shield.blank_identifiers(query);
        self.inner.score(blanked.trim(), passages)
    }
}

/// `kb_rerank_depth`, checked (1..=1000, default 20).
pub fn rerank_depth(settings: &Settings) -> Result<usize> {
    let depth = settings
        .file
        .kb_rerank_depth
        .unwrap_or(siagen_kb::DEFAULT_RERANK_DEPTH);
    if !(1..=1000).contains(&depth) {
        bail!("kb_rerank_depth must be between 1 and 1000, not {depth}");
    }
    Ok(depth)
}

/// Opens the knowledge base of the data directory with the configured embedding model
/// (`kb_embedding_model`, an installed model's name) when there is one; `engine` is reused if
/// given (the server's), else one is made.
pub fn open_kb(settings: &Settings, engine: Option<Arc<siagen_engine::Engine>>) -> Result<Kb> {
    open_kb_with(settings, engine, true)
}

/// [`open_kb`], without loading the embedding model when `embed` is false (listing, deleting,
/// managing collections need no model).
fn open_kb_with(
    settings: &Settings,
    engine: Option<Arc<siagen_engine::Engine>>,
    embed: bool,
) -> Result<Kb> {
    let dir = settings.data_dir.join("kb");
    let kb = Kb::open(
        &dir,
        KbOptions {
            embedder: None,
            chunk_words: settings.file.kb_chunk_words,
        },
    )
    .with_context(|| format!("cannot open the knowledge base in {}", dir.display()))?;
    if let Some(model) = settings.file.kb_embedding_model.as_ref().filter(|_| embed) {
        let engine = match engine {
            Some(e) => e,
            None => Arc::new(settings.engine()?),
        };
        let mut embedder = EngineEmbedder::new(engine, model);
        if !settings
            .file
            .engine_may_receive_identifying
            .unwrap_or(false)
        {
            embedder = embedder.blanking_queries(siagen_shield::Shield::new()?);
        }
        let n = kb
            .set_embedder(Arc::new(embedder))
            .with_context(|| format!("kb_embedding_model {model:?}"))?;
        if n > 0 {
            eprintln!("embedded {n} passages with {model}");
        }
    }
    Ok(kb)
}

/// The viewer and audit label the command acts as.
fn acting(store: &Store, user: Option<&str>) -> Result<(Viewer, String)> {
    match user {
        None => Ok((Viewer::cli(), Actor::cli().audit_label())),
        Some(name) => {
            let u = store.find_user(name)?;
            if u.disabled {
                bail!("account '{name}' is disabled");
            }
            Ok((
                Viewer {
                    user_id: u.id,
                    user_name: u.name.clone(),
                    admin: u.roles.has(Role::Admin),
                },
                format!("cli-as:user:{}", u.id),
            ))
        }
    }
}

fn kb_outcome(e: &KbError) -> &'static str {
    match e {
        KbError::Forbidden(_) | KbError::UnknownCollection(_) | KbError::UnknownDocument(_) => {
            "refused"
        }
        _ => "error",
    }
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

pub fn run(settings: Settings, cmd: KbCmd) -> Result<()> {
    let store = settings.store()?;
    match cmd {
        KbCmd::Ingest {
            paths,
            collection,
            user,
            title,
            publisher,
            date,
            source,
            licence,
            kind,
        } => {
            let (viewer, label) = acting(&store, user.as_deref())?;
            let kb = open_kb(&settings, None)?;
            let meta = DocMeta {
                title,
                publisher,
                date,
                source,
                licence,
                kind,
            };
            ingest(&store, &kb, &viewer, &label, &collection, &paths, &meta)
        }
        KbCmd::Search {
            query,
            collection,
            k,
            json,
            user,
            mode,
            kinds,
            from,
            to,
            rerank,
        } => {
            let (viewer, label) = acting(&store, user.as_deref())?;
            let mode = Mode::parse(&mode)
                .with_context(|| format!("--mode must be hybrid, bm25 or dense, not '{mode}'"))?;
            let (kb, reranker) = if rerank {
                if settings.file.kb_reranker_model.is_none() {
                    bail!("--rerank needs a reranking chat model: set kb_reranker_model in siagen.toml");
                }
                let depth = rerank_depth(&settings)?;
                let engine = Arc::new(settings.engine()?);
                let mut r = reranker(&settings, &engine)?.context("kb_reranker_model")?;
                if !settings
                    .file
                    .engine_may_receive_identifying
                    .unwrap_or(false)
                {
                    r = Arc::new(BlankedQuery {
                        inner: r,
                        shield: siagen_shield::Shield::new()?,
                    });
                }
                let r = Some((r, depth));
                (open_kb(&settings, Some(engine))?, r)
            } else {
                (open_kb(&settings, None)?, None)
            };
            let q = SearchQuery {
                text: query.clone(),
                collection: collection.clone(),
                k,
                kinds,
                date_from: from,
                date_to: to,
                mode,
            };
            let target = format!("kb:{}", collection.as_deref().unwrap_or("*"));
            let found = match &reranker {
                Some((r, depth)) => kb.search_reranked(&viewer, &q, r.as_ref(), *depth),
                None => kb.search(&viewer, &q),
            };
            let hits = match found {
                Ok(h) => h,
                Err(e) => {
                    store.audit_event(
                        &label,
                        "kb.search",
                        &target,
                        kb_outcome(&e),
                        json!({ "query_sha256": sha256_hex(&query) }),
                    )?;
                    return Err(e.into());
                }
            };
            store.audit_event(
                &label,
                "kb.search",
                &target,
                "ok",
                json!({
                    "query_sha256": sha256_hex(&query),
                    "mode": format!("{mode:?}").to_lowercase(),
                    "reranker": reranker.as_ref().map(|(r, _)| r.model()),
                    "hits": hits.iter().map(|h| &h.chunk_id).collect::<Vec<_>>(),
                }),
            )?;
            for h in &hits {
                if json {
                    println!("{}", serde_json::to_string(h)?);
                } else {
                    let page = h.page.map(|p| format!(", p. {p}")).unwrap_or_default();
                    let heading = h
                        .heading
                        .as_deref()
                        .map(|s| format!(" — {s}"))
                        .unwrap_or_default();
                    let rerank = h
                        .rerank
                        .map(|r| format!(" [rerank {r:.3}]"))
                        .unwrap_or_default();
                    println!(
                        "{}. [{:.3}]{} {}{} ({}{}) [licence: {}]",
                        h.rank, h.score, rerank, h.title, heading, h.source, page, h.licence
                    );
                    for line in h.text.lines().filter(|l| !l.trim().is_empty()) {
                        println!("    {line}");
                    }
                }
            }
            if hits.is_empty() && !json {
                eprintln!("no passage found");
            }
            Ok(())
        }
        KbCmd::Collection(CollectionCmd::Create {
            name,
            visibility,
            owner,
            user,
        }) => {
            let (viewer, label) = acting(&store, user.as_deref())?;
            let owner = owner.or(user.clone());
            let vis = match (visibility.as_str(), &owner) {
                ("private", None) => {
                    bail!("a private collection needs --owner USER (or --user USER)")
                }
                (v, o) => Visibility::parse(v, o.as_deref().unwrap_or("")).with_context(|| {
                    format!("--visibility must be private, team:NAME or institution, not '{v}'")
                })?,
            };
            if let Visibility::Private { owner } = &vis {
                store.find_user(owner)?;
            }
            let kb = open_kb_with(&settings, None, false)?;
            let target = format!("kb:{name}");
            match kb.create_collection(&viewer, &name, vis.clone()) {
                Ok(_) => {
                    store.audit_event(
                        &label,
                        "kb.collection.create",
                        &target,
                        "ok",
                        json!({ "visibility": vis.to_string() }),
                    )?;
                    println!("created collection {name} ({vis})");
                    Ok(())
                }
                Err(e) => {
                    store.audit_event(
                        &label,
                        "kb.collection.create",
                        &target,
                        kb_outcome(&e),
                        json!({}),
                    )?;
                    Err(e.into())
                }
            }
        }
        KbCmd::Collection(CollectionCmd::List { user, json }) => {
            let (viewer, _) = acting(&store, user.as_deref())?;
            let kb = open_kb_with(&settings, None, false)?;
            let list = if viewer.admin && user.is_none() {
                kb.all_collections(&viewer)?
            } else {
                kb.collections(&viewer)?
            };
            for c in list {
                if json {
                    println!("{}", serde_json::to_string(&c)?);
                } else {
                    println!(
                        "{}\t{}\t{} documents\t{} passages",
                        c.name, c.visibility, c.documents, c.chunks
                    );
                }
            }
            Ok(())
        }
        KbCmd::Team(cmd) => {
            let kb = open_kb_with(&settings, None, false)?;
            let admin = Viewer::cli();
            let (action, team, user, changed) = match cmd {
                TeamCmd::Add { team, user } => {
                    let u = store.find_user(&user)?;
                    let changed = kb.add_team_member(&admin, &team, &u.name)?;
                    ("kb.team.add", team, u, changed)
                }
                TeamCmd::Remove { team, user } => {
                    let u = store.find_user(&user)?;
                    let changed = kb.remove_team_member(&admin, &team, &u.name)?;
                    ("kb.team.remove", team, u, changed)
                }
            };
            store.audit_event(
                &Actor::cli().audit_label(),
                action,
                &format!("kb-team:{team}"),
                if changed { "ok" } else { "unchanged" },
                json!({ "user_id": user.id }),
            )?;
            println!(
                "{} {} team {team}",
                user.name,
                match (action, changed) {
                    ("kb.team.add", true) => "added to",
                    ("kb.team.add", false) => "was already in",
                    (_, true) => "removed from",
                    _ => "was not in",
                }
            );
            Ok(())
        }
        KbCmd::List {
            collection,
            user,
            json,
        } => {
            let (viewer, _) = acting(&store, user.as_deref())?;
            let kb = open_kb_with(&settings, None, false)?;
            for d in kb.documents(&viewer, &collection)? {
                if json {
                    println!("{}", serde_json::to_string(&d)?);
                } else {
                    println!(
                        "{}\tv{}\t{}\t{}\t{} p.\t{} passages\tlicence: {}",
                        d.id, d.version, d.title, d.source, d.pages, d.chunks, d.licence
                    );
                }
            }
            Ok(())
        }
        KbCmd::Delete { id, user } => {
            let (viewer, label) = acting(&store, user.as_deref())?;
            let kb = open_kb_with(&settings, None, false)?;
            let target = format!("kb-doc:{id}");
            match kb.delete_document(&viewer, &id) {
                Ok(d) => {
                    store.audit_event(
                        &label,
                        "kb.delete",
                        &target,
                        "ok",
                        json!({ "collection": d.collection, "content_hash": d.content_hash, "chunks": d.chunks }),
                    )?;
                    println!("deleted {id} ({} passages)", d.chunks);
                    Ok(())
                }
                Err(e) => {
                    store.audit_event(&label, "kb.delete", &target, kb_outcome(&e), json!({}))?;
                    Err(e.into())
                }
            }
        }
    }
}

/// Ingests with a progress bar, one audit entry per file; fails (after finishing the others) if
/// any file failed.
fn ingest(
    store: &Store,
    kb: &Kb,
    viewer: &Viewer,
    label: &str,
    collection: &str,
    paths: &[PathBuf],
    meta: &DocMeta,
) -> Result<()> {
    let total = siagen_kb::kb::files_under(paths)?.len();
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} files [{elapsed_precise}, {per_sec}] {msg}",
        )
        .expect("static template"),
    );
    let (mut new, mut replaced, mut unchanged, mut failed) = (0, 0, 0, 0);
    let mut audit_err: Option<anyhow::Error> = None;
    let result = kb.ingest_files(viewer, collection, paths, meta, &mut |path, r| {
        bar.inc(1);
        bar.set_message(path.display().to_string());
        let (outcome, details, target) = match &r {
            Ok(o) => {
                let (word, prev) = match &o.status {
                    IngestStatus::New => {
                        new += 1;
                        ("new", None)
                    }
                    IngestStatus::Replaced { previous_id } => {
                        replaced += 1;
                        ("replaced", Some(previous_id.clone()))
                    }
                    IngestStatus::Unchanged => {
                        unchanged += 1;
                        ("unchanged", None)
                    }
                };
                bar.suspend(|| {
                    println!(
                        "{word:9} {} {} ({} passages, licence: {})",
                        o.document_id,
                        path.display(),
                        o.chunks,
                        kb.document(viewer, &o.document_id)
                            .map(|d| d.licence)
                            .unwrap_or_default()
                    )
                });
                (
                    word,
                    json!({
                        "collection": o.collection,
                        "content_hash": o.content_hash,
                        "version": o.version,
                        "chunks": o.chunks,
                        "format": o.format,
                        "previous_id": prev,
                    }),
                    format!("kb-doc:{}", o.document_id),
                )
            }
            Err(e) => {
                failed += 1;
                bar.suspend(|| println!("failed    {}: {e}", path.display()));
                let hash = std::fs::read(path)
                    .map(|b| hex::encode(Sha256::digest(&b)))
                    .unwrap_or_default();
                (
                    "error",
                    json!({ "collection": collection, "content_hash": hash }),
                    format!("kb:{collection}"),
                )
            }
        };
        if let Err(e) = store.audit_event(label, "kb.ingest", &target, outcome, details) {
            audit_err.get_or_insert(e.into());
        }
    });
    bar.finish_and_clear();
    if let Err(e) = result {
        store.audit_event(
            label,
            "kb.ingest",
            &format!("kb:{collection}"),
            kb_outcome(&e),
            json!({}),
        )?;
        return Err(e.into());
    }
    if let Some(e) = audit_err {
        return Err(e);
    }
    println!("{new} new, {replaced} replaced, {unchanged} unchanged, {failed} failed");
    if failed > 0 {
        bail!("{failed} file(s) could not be ingested");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(items: &[(TokenId, f32)]) -> Vec<TopLogprob> {
        items
            .iter()
            .map(|&(id, p)| TopLogprob {
                id,
                text: String::new(),
                logprob: p.ln(),
            })
            .collect()
    }

    #[test]
    fn yes_share_is_the_share_of_oui_among_oui_and_non() {
        // « Oui » twice spelled (ids 1, 2), « non » once (3); other tokens (9) do not count.
        let t = top(&[(9, 0.4), (1, 0.2), (3, 0.2), (2, 0.1)]);
        let s = yes_share(&t, &[1, 2], &[3]).unwrap();
        assert!((s - 0.6).abs() < 1e-6, "{s}");
        assert_eq!(yes_share(&t, &[5], &[6]), None);
        assert_eq!(yes_share(&[], &[1], &[3]), None);
    }
}
