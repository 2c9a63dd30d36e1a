//! `siagen draft`: a document drafted from note files, and `siagen draft check`: any text
//! checked against note files. One note per file, its id the file's stem; text files are read as
//! they are, PDF, DOCX, HTML and Markdown through the knowledge base's readers.

use crate::Settings;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use siagen_draft::{Note, Status};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `siagen draft …`.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DraftArgs {
    #[command(subcommand)]
    cmd: Option<DraftCmd>,
    /// Kind of document: lettre_liaison, crh, cr_operatoire, rcp, lettre_patient, cr_imagerie.
    #[arg(long)]
    kind: Option<String>,
    /// Pseudonymous patient reference.
    #[arg(long)]
    patient: Option<String>,
    /// Model that writes (a local model or a declared upstream).
    #[arg(long)]
    model: Option<String>,
    /// Title of the document (default: the kind's).
    #[arg(long)]
    title: Option<String>,
    /// The clinician's account the draft is written for (its author of record).
    #[arg(long, env = "SIAGEN_USER")]
    user: Option<String>,
    /// Print the whole draft as JSON (the API's response).
    #[arg(long)]
    json: bool,
    /// Note files, one note each (id = file stem).
    notes: Vec<PathBuf>,
}

#[derive(Subcommand)]
enum DraftCmd {
    /// Check a text against note files: each sentence supported, unsupported or contradicted.
    Check {
        /// The text to check.
        #[arg(long)]
        text: PathBuf,
        /// JSON output.
        #[arg(long)]
        json: bool,
        /// Note files, one note each (id = file stem).
        notes: Vec<PathBuf>,
    },
}

/// Reads one note file.
fn read_note(path: &Path) -> Result<Note> {
    let id = path
        .file_stem()
        .and_then(|s| s.to_str())
        .with_context(|| format!("{}: no usable file name", path.display()))?
        .to_string();
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("txt");
    let text = match siagen_kb::Format::from_extension(ext) {
        Some(siagen_kb::Format::Text) | None => String::from_utf8(bytes)
            .with_context(|| format!("{}: not UTF-8 text", path.display()))?,
        Some(format) => {
            let parsed = siagen_kb::parse::parse(format, &bytes, &path.display().to_string())?;
            parsed
                .blocks
                .iter()
                .map(|b| b.text.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        }
    };
    Ok(Note {
        title: id.clone(),
        id,
        date: None,
        text,
    })
}

fn read_notes(paths: &[PathBuf]) -> Result<Vec<Note>> {
    if paths.is_empty() {
        bail!("give at least one note file");
    }
    let notes = paths
        .iter()
        .map(|p| read_note(p))
        .collect::<Result<Vec<_>>>()?;
    siagen_draft::validate_notes(&notes)?;
    Ok(notes)
}

fn mark(s: Status) -> &'static str {
    match s {
        Status::Supported => "✓",
        Status::Unsupported => "?",
        Status::Contradicted => "✗",
    }
}

/// Runs `siagen draft …`.
pub fn run(settings: Settings, args: DraftArgs) -> Result<()> {
    if let Some(DraftCmd::Check { text, json, notes }) = args.cmd {
        let notes = read_notes(&notes)?;
        let text = std::fs::read_to_string(&text)
            .with_context(|| format!("cannot read {}", text.display()))?;
        let out = siagen_draft::check_text(&text, &notes);
        if json {
            println!("{}", serde_json::json!({ "sentences": out }));
        } else {
            for s in &out {
                let src: Vec<String> = s
                    .sources
                    .iter()
                    .map(|x| format!("{}:{}-{}", x.note_id, x.start, x.end))
                    .collect();
                println!(
                    "{} {:<12} {}  {}",
                    mark(s.status),
                    s.status.as_str(),
                    s.text,
                    src.join(" ")
                );
            }
        }
        return Ok(());
    }
    let (Some(kind), Some(patient), Some(model)) = (args.kind, args.patient, args.model) else {
        bail!("siagen draft needs --kind, --patient and --model, then note files");
    };
    let Some(user) = args.user else {
        bail!("siagen draft needs --user NAME (or SIAGEN_USER): the clinician the draft is for");
    };
    let notes = read_notes(&args.notes)?;
    let store = Arc::new(settings.store()?);
    let account = store.find_user(&user).map_err(|e| anyhow::anyhow!("{e}"))?;
    if account.disabled {
        bail!("the account '{user}' is disabled");
    }
    let actor = siagen_store::Actor {
        user_id: Some(account.id),
        name: account.name,
        roles: account.roles,
        token_id: None,
    };
    let engine = Arc::new(settings.engine()?);
    let services = crate::services(&settings, &engine)?;
    let app = Arc::new(siagen_app::App::new(store, services));
    let body = siagen_app::draft::DraftBody {
        kind,
        patient_ref: patient,
        model,
        notes: Some(notes),
        fhir: None,
        title: args.title,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let json = args.json;
    let out = rt.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let show = tokio::spawn(async move {
            while let Some(p) = rx.recv().await {
                if let siagen_app::draft::Progress::Writing { index, total, key } = p {
                    eprintln!("drafting section {}/{total}: {key}", index + 1);
                }
            }
        });
        let r = siagen_app::draft::draft(&app, &actor, body, Some(tx)).await;
        let _ = show.await;
        r
    });
    let out = out.map_err(|e| anyhow::anyhow!("{}", e.message_fr(None)))?;
    if json {
        println!("{}", serde_json::to_string(&out)?);
        return Ok(());
    }
    println!("document {} ({}, brouillon)", out.document_id, out.kind);
    for s in &out.sections {
        println!(
            "\n## {}{}",
            s.title,
            if s.missing { " — manquante" } else { "" }
        );
        if s.sentences.is_empty() {
            println!("{}", s.text);
        }
        for x in &s.sentences {
            println!("{} {}", mark(x.status), x.text);
        }
    }
    for a in &out.alerts {
        println!(
            "\nalerte interaction ({}) : {}",
            a.level,
            a.substances.join(" + ")
        );
    }
    Ok(())
}
