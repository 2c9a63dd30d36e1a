//! `siagen`: the command line. It parses arguments, loads the configuration, opens the store and
//! wires the crates together; the rules live in the libraries.

mod config;
mod draft_cli;
mod hub;
mod kb_cli;
mod mark_cli;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use config::{FileConfig, DEFAULT_ADDR};
use siagen_store::{Actor, NewUser, Roles, Store, StoreConfig};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "siagen",
    version,
    about = "Self-hosted generative AI for health professionals, under human validation"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// Data directory (database, keys, indexes). Default: ./siagen-data
    #[arg(long, env = "SIAGEN_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// TOML configuration file. Default: siagen.toml in the data directory, if present.
    #[arg(long, env = "SIAGEN_CONFIG", global = true)]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Start the HTTP server.
    Serve {
        /// Listen address host:port. Default: 127.0.0.1:8080
        #[arg(long, env = "SIAGEN_ADDR")]
        addr: Option<String>,
    },
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCmd),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Check and export the audit trail.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Drug-interaction checks on the ANSM thesaurus.
    #[command(subcommand)]
    Meds(MedsCmd),
    /// Energy and CO2e of the generations served.
    #[command(subcommand)]
    Energy(EnergyCmd),
    /// Local models (GGUF): list, import, pull.
    #[command(subcommand)]
    Model(ModelCmd),
    /// Privacy shield: find and pseudonymise identifiers in JSON lines.
    #[command(subcommand)]
    Shield(ShieldCmd),
    /// Watermarks: detect machine text, manage the watermark keys.
    #[command(subcommand)]
    Mark(mark_cli::MarkCmd),
    /// Knowledge base: collections, ingestion, search.
    #[command(subcommand)]
    Kb(kb_cli::KbCmd),
    /// Draft a hospital document from note files; `draft check`: check a text against notes.
    Draft(draft_cli::DraftArgs),
}

#[derive(Subcommand)]
enum ShieldCmd {
    /// `{"id", "text"}` per line in, `{"id", "spans": [{"start", "end", "label"}]}` out
    /// (offsets in characters).
    Detect { file: PathBuf },
    /// `{"id", "text", "patient_ref"?}` per line in, `{"id", "text"}` out, with consistent
    /// surrogates per patient (the mapping goes to the encrypted vault).
    Pseudonymize {
        file: PathBuf,
        /// `realistic` (default) or `tags`.
        #[arg(long)]
        style: Option<String>,
    },
}

#[derive(Subcommand)]
enum ModelCmd {
    /// List installed models with family, parameters, quantisation, context, size, licence, origin.
    List {
        /// One JSON object per model.
        #[arg(long)]
        json: bool,
    },
    /// Install a GGUF file from this machine (air-gapped sites).
    Import { path: PathBuf },
    /// Download a GGUF file from a Hugging Face–compatible hub (progress, resume, SHA-256 check).
    Pull {
        /// Repository, e.g. Qwen/Qwen2.5-1.5B-Instruct-GGUF.
        repo: String,
        /// File in the repository, e.g. qwen2.5-1.5b-instruct-q4_k_m.gguf.
        file: String,
        /// Hub URL (default: HF_ENDPOINT, else https://huggingface.co).
        #[arg(long, env = "HF_ENDPOINT")]
        hub: Option<String>,
        /// Git revision.
        #[arg(long, default_value = "main")]
        revision: String,
        /// Expected SHA-256 (default: the hub's LFS object id).
        #[arg(long)]
        sha256: Option<String>,
    },
}

#[derive(Subcommand)]
enum EnergyCmd {
    /// Energy and CO2e grouped by user, model, document or day.
    Report {
        /// user, model, document or day.
        #[arg(long, default_value = "day")]
        by: String,
        /// Only generations at or after this date (YYYY-MM-DD).
        #[arg(long)]
        since: Option<String>,
        /// CSV instead of a table.
        #[arg(long)]
        csv: bool,
    },
}

#[derive(Subcommand)]
enum MedsCmd {
    /// Check drug lines against each other: `siagen meds check "KARDEGIC 75 mg" "Eliquis 5mg x2/j"`.
    Check {
        /// Drug lines as written in a prescription.
        drugs: Vec<String>,
        /// Batch mode: JSON lines `{"id": ..., "drugs": [...]}` in, one JSON line out per input.
        #[arg(long, conflicts_with = "drugs")]
        jsonl: Option<PathBuf>,
        /// Thesaurus edition (default: the newest available).
        #[arg(long)]
        edition: Option<String>,
    },
    /// List the thesaurus editions available.
    Editions,
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create an account. Password from SIAGEN_NEW_PASSWORD, else generated and printed.
    Add {
        name: String,
        /// Comma-separated roles: admin, clinician, validator, auditor.
        #[arg(long)]
        roles: String,
    },
    /// List accounts.
    List,
    /// Disable an account (it can no longer log in or use its tokens).
    Disable { name: String },
    /// Re-enable an account.
    Enable { name: String },
    /// Replace an account's roles.
    SetRoles {
        name: String,
        #[arg(long)]
        roles: String,
    },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create an API token for USER and print it alone on stdout (shown once).
    Create {
        user: String,
        #[arg(long, default_value = "cli")]
        label: String,
        /// Days until expiry (default: 90; 0 = never).
        #[arg(long, default_value_t = 90)]
        expires_days: i64,
    },
    /// Revoke a token by id.
    Revoke { id: i64 },
    /// List tokens (never their secrets).
    List { user: Option<String> },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Check the hash chain and the signed checkpoints; exit code 1 on the first problem.
    Verify,
    /// Write entries as JSON lines.
    Export {
        /// Only entries at or after this date (YYYY-MM-DD or RFC 3339).
        #[arg(long)]
        since: Option<String>,
    },
    /// Print the public key that signs the checkpoints.
    Pubkey,
}

pub(crate) struct Settings {
    file: FileConfig,
    data_dir: PathBuf,
}

/// Creates the vault key file unless another process just did: the key is written to a temporary
/// file, then hard-linked into place, which fails if the file exists, so two processes starting
/// together agree on one key and never overwrite it.
fn create_key_once(path: &std::path::Path) -> Result<()> {
    let dir = path.parent().context("key file without a directory")?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".shield.key.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    siagen_shield::Vault::generate_key_file(&tmp)?;
    let linked = std::fs::hard_link(&tmp, path);
    std::fs::remove_file(&tmp)?;
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

/// The model recommended to start with: small, instruction-tuned, good in French, Apache-2.0.
const RECOMMENDED_MODEL: (&str, &str) = (
    "Qwen/Qwen2.5-1.5B-Instruct-GGUF",
    "qwen2.5-1.5b-instruct-q4_k_m.gguf",
);

impl Settings {
    fn surrogate_style(&self, flag: Option<&str>) -> Result<siagen_shield::SurrogateStyle> {
        match flag.or(self.file.surrogate_style.as_deref()) {
            None | Some("realistic") => Ok(siagen_shield::SurrogateStyle::Realistic),
            Some("tags") => Ok(siagen_shield::SurrogateStyle::Tags),
            Some(o) => bail!("surrogate style must be 'realistic' or 'tags', not '{o}'"),
        }
    }

    /// The vault of surrogates, its key from SIAGEN_SHIELD_KEY or `keys/shield.key` (created on
    /// first use, mode 0600).
    fn vault(&self) -> Result<siagen_shield::Vault> {
        let key_file = self.data_dir.join("keys").join("shield.key");
        if std::env::var_os(siagen_shield::KEY_ENV_VAR).is_none() && !key_file.exists() {
            create_key_once(&key_file)?;
        }
        let key = siagen_shield::Vault::key_from_env_or_file(
            siagen_shield::KEY_ENV_VAR,
            Some(&key_file),
        )?;
        Ok(siagen_shield::Vault::open(
            self.data_dir.join("vault"),
            key,
        )?)
    }

    fn models_dir(&self) -> PathBuf {
        self.file
            .models_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("models"))
    }

    fn engine(&self) -> Result<siagen_engine::Engine> {
        let dir = self.models_dir();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the models directory {}", dir.display()))?;
        let mut cfg = siagen_engine::EngineConfig {
            models_dir: dir,
            ..Default::default()
        };
        if let Some(v) = self.file.engine_threads {
            cfg.threads = v;
        }
        if let Some(v) = self.file.engine_max_queue {
            cfg.max_queue = v;
        }
        if let Some(v) = self.file.engine_parallel {
            cfg.parallel = v.max(1);
        }
        if let Some(v) = self.file.engine_max_context {
            cfg.max_context = v;
        }
        if let Some(v) = self.file.engine_gpu_layers {
            cfg.gpu_layers = Some(v);
        }
        cfg.idle_unload = self
            .file
            .engine_idle_unload_secs
            .map(std::time::Duration::from_secs);
        siagen_engine::Engine::new(cfg).context("cannot start the local engine")
    }

    fn load(g: &Global) -> Result<Settings> {
        let file = FileConfig::discover(g.config.as_deref(), g.data_dir.as_deref())?;
        let data_dir = g
            .data_dir
            .clone()
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(config::default_data_dir);
        Ok(Settings { file, data_dir })
    }

    fn store(&self) -> Result<Store> {
        let mut cfg = StoreConfig::new(&self.data_dir);
        if let Some(v) = self.file.allow_self_validation {
            cfg.allow_self_validation = v;
        }
        if let Some(v) = self.file.audit_checkpoint_every {
            cfg.checkpoint_every = v;
        }
        if let Some(v) = self.file.sync_full {
            cfg.sync_full = v;
        }
        Store::open(cfg)
            .with_context(|| format!("cannot open the data directory {}", self.data_dir.display()))
    }
}

fn main() {
    passive_openmp();
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        // One line, the way a person reads it: the outermost context and its cause.
        let msg: Vec<String> = e.chain().map(|c| c.to_string()).collect();
        eprintln!("siagen: error: {}", msg.join(": "));
        std::process::exit(2);
    }
}

/// OpenMP threads of llama.cpp spin while waiting by default, which starves everything else on a
/// shared machine (decode fell 6× in the engine benchmark); passive waiting costs nothing
/// measurable on a dedicated one. libgomp reads `OMP_WAIT_POLICY` once, when it is loaded, before
/// `main` runs: setting the variable here would change nothing, so the process re-executes itself
/// with it (same pid, arguments and standard streams). An explicit setting is left alone.
fn passive_openmp() {
    if std::env::var_os("OMP_WAIT_POLICY").is_some() {
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let mut args = std::env::args_os();
        let arg0 = args.next();
        if let Ok(exe) = std::env::current_exe() {
            let mut cmd = std::process::Command::new(exe);
            if let Some(a) = arg0 {
                cmd.arg0(a);
            }
            // `exec` returns only when it failed: then run on with the default policy.
            let err = cmd.args(args).env("OMP_WAIT_POLICY", "PASSIVE").exec();
            eprintln!("siagen: warning: cannot re-execute with OMP_WAIT_POLICY=PASSIVE: {err}");
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let settings = Settings::load(&cli.global)?;
    match cli.command {
        Command::Serve { addr } => serve(settings, addr),
        Command::User(cmd) => user(settings, cmd),
        Command::Token(cmd) => token(settings, cmd),
        Command::Audit(cmd) => audit(settings, cmd),
        Command::Meds(cmd) => meds(settings, cmd),
        Command::Energy(cmd) => energy(settings, cmd),
        Command::Model(cmd) => model(settings, cmd),
        Command::Shield(cmd) => shield(settings, cmd),
        Command::Mark(cmd) => mark_cli::run(settings, cmd),
        Command::Kb(cmd) => kb_cli::run(settings, cmd),
        Command::Draft(args) => draft_cli::run(settings, args),
    }
}

fn user(settings: Settings, cmd: UserCmd) -> Result<()> {
    let store = settings.store()?;
    let cli = Actor::cli();
    match cmd {
        UserCmd::Add { name, roles } => {
            let roles = Roles::parse_list(&roles)?;
            let (password, generated) = match std::env::var("SIAGEN_NEW_PASSWORD") {
                Ok(p) if !p.is_empty() => (p, false),
                _ => (siagen_store::generate_password(), true),
            };
            let user = store.create_user(
                &cli,
                NewUser {
                    name,
                    password: password.clone(),
                    roles,
                },
            )?;
            println!(
                "created user '{}' (id {}) with roles {}",
                user.name, user.id, user.roles
            );
            if generated {
                println!("password (shown once): {password}");
            }
        }
        UserCmd::List => {
            println!(
                "{:>4}  {:<24} {:<36} {:<9} created",
                "id", "name", "roles", "status"
            );
            for u in store.list_users(&cli)? {
                println!(
                    "{:>4}  {:<24} {:<36} {:<9} {}",
                    u.id,
                    u.name,
                    u.roles.to_string(),
                    if u.disabled { "disabled" } else { "active" },
                    u.created_at
                );
            }
        }
        UserCmd::Disable { name } => {
            store.set_user_disabled(&cli, &name, true)?;
            println!("user '{name}' disabled");
        }
        UserCmd::Enable { name } => {
            store.set_user_disabled(&cli, &name, false)?;
            println!("user '{name}' enabled");
        }
        UserCmd::SetRoles { name, roles } => {
            let u = store.set_user_roles(&cli, &name, Roles::parse_list(&roles)?)?;
            println!("user '{name}' now has roles {}", u.roles);
        }
    }
    Ok(())
}

fn token(settings: Settings, cmd: TokenCmd) -> Result<()> {
    let store = settings.store()?;
    let cli = Actor::cli();
    match cmd {
        TokenCmd::Create {
            user,
            label,
            expires_days,
        } => {
            if expires_days < 0 {
                bail!("--expires-days must be 0 (never) or more");
            }
            let expires = (expires_days > 0)
                .then(|| chrono::Utc::now() + chrono::Duration::days(expires_days));
            let (_, secret) = store.create_token(&cli, &user, &label, expires)?;
            println!("{secret}");
        }
        TokenCmd::Revoke { id } => {
            store.revoke_token(&cli, id)?;
            println!("token {id} revoked");
        }
        TokenCmd::List { user } => {
            println!(
                "{:>4}  {:<20} {:<16} {:<26} {:<26} status",
                "id", "user", "label", "created", "expires"
            );
            for t in store.list_tokens(&cli, user.as_deref())? {
                println!(
                    "{:>4}  {:<20} {:<16} {:<26} {:<26} {}",
                    t.id,
                    t.user_name,
                    t.label,
                    t.created_at,
                    t.expires_at.as_deref().unwrap_or("never"),
                    if t.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    }
                );
            }
        }
    }
    Ok(())
}

fn audit(settings: Settings, cmd: AuditCmd) -> Result<()> {
    let store = settings.store()?;
    match cmd {
        AuditCmd::Verify => {
            let report = store.audit_verify()?;
            match &report.problem {
                None => {
                    println!(
                        "OK: {} entries, {} signed checkpoints verified",
                        report.entries, report.checkpoints
                    );
                }
                Some(p) => {
                    println!("FAILED at entry {} ({}): {}", p.seq, p.kind, p.message);
                    std::process::exit(1);
                }
            }
        }
        AuditCmd::Export { since } => {
            if let Some(s) = &since {
                let ok = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
                    || chrono::DateTime::parse_from_rfc3339(s).is_ok();
                if !ok {
                    bail!("--since must be a date YYYY-MM-DD or an RFC 3339 time, not '{s}'");
                }
            }
            use std::io::Write;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            for e in store.audit_entries(since.as_deref(), None)? {
                serde_json::to_writer(&mut out, &e)?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
        AuditCmd::Pubkey => println!("{}", store.audit_public_key()),
    }
    Ok(())
}

fn shield(settings: Settings, cmd: ShieldCmd) -> Result<()> {
    use std::io::Write;
    let (file, pseudo) = match &cmd {
        ShieldCmd::Detect { file } => (file, None),
        ShieldCmd::Pseudonymize { file, style } => {
            (file, Some(settings.surrogate_style(style.as_deref())?))
        }
    };
    let input =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let size = input.metadata()?.len();
    let shield = siagen_shield::Shield::new()?;
    let vault = match pseudo {
        Some(_) => Some(settings.vault()?),
        None => None,
    };
    let mode = match (&vault, pseudo) {
        (Some(v), Some(style)) => siagen_shield::BatchMode::Pseudonymize {
            vault: v,
            options: siagen_shield::PseudoOptions { style },
        },
        _ => siagen_shield::BatchMode::Detect,
    };
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let name = file.display().to_string();
    let stats = siagen_shield::process_jsonl(
        &shield,
        mode,
        std::io::BufReader::new(input),
        &mut out,
        &mut |e| bar.suspend(|| eprintln!("siagen: {name}:{}: {}", e.line, e.message)),
        &mut |p| {
            bar.set_position(p.bytes);
            bar.set_message(format!("{} lines", p.lines));
        },
    )?;
    out.flush()?;
    bar.finish_and_clear();
    eprintln!(
        "{} lines, {} ok, {} malformed",
        stats.lines, stats.ok, stats.errors
    );
    if stats.errors > 0 {
        bail!("{} malformed line(s) skipped", stats.errors);
    }
    Ok(())
}

fn model(settings: Settings, cmd: ModelCmd) -> Result<()> {
    let engine = settings.engine()?;
    match cmd {
        ModelCmd::List { json } => {
            let models = engine.models()?;
            if json {
                for m in &models {
                    println!("{}", serde_json::to_string(m)?);
                }
                return Ok(());
            }
            if models.is_empty() {
                println!(
                    "no model installed; get one with: siagen model pull {} {}",
                    RECOMMENDED_MODEL.0, RECOMMENDED_MODEL.1
                );
                return Ok(());
            }
            println!(
                "{:<36} {:<8} {:>8} {:<8} {:>7} {:>9}  {:<14} origin",
                "name", "family", "params", "quant", "context", "size", "licence"
            );
            for m in &models {
                println!(
                    "{:<36} {:<8} {:>8} {:<8} {:>7} {:>9}  {:<14} {}",
                    m.name,
                    m.family,
                    human(m.parameters as f64, ""),
                    m.quantization,
                    m.context_length,
                    human(m.size_bytes as f64, "B"),
                    m.license.as_deref().unwrap_or("unknown"),
                    m.origin.as_deref().unwrap_or("unknown"),
                );
            }
        }
        ModelCmd::Import { path } => {
            let m = engine.import(&path)?;
            println!(
                "imported {} ({} {}, {})",
                m.name,
                m.family,
                m.quantization,
                human(m.size_bytes as f64, "B")
            );
        }
        ModelCmd::Pull {
            repo,
            file,
            hub,
            revision,
            sha256,
        } => {
            let hub = hub.unwrap_or_else(|| "https://huggingface.co".into());
            let token = std::env::var("HF_TOKEN").ok();
            let path = hub::pull(
                &hub::PullRequest {
                    hub: &hub,
                    repo: &repo,
                    file: &file,
                    revision: &revision,
                    sha256: sha256.as_deref(),
                    token: token.as_deref(),
                },
                &settings.models_dir(),
            )?;
            let m = engine.import(&path);
            let _ = std::fs::remove_file(&path);
            let m = m?;
            println!(
                "installed {} from {hub}/{repo} ({} {}, {}), SHA-256 verified",
                m.name,
                m.family,
                m.quantization,
                human(m.size_bytes as f64, "B")
            );
        }
    }
    Ok(())
}

/// 1234567 → "1.2M" (with a unit suffix).
fn human(v: f64, unit: &str) -> String {
    let (d, s) = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
        .into_iter()
        .find(|(d, _)| v >= *d)
        .unwrap_or((1.0, ""));
    format!("{:.1}{s}{unit}", v / d)
}

fn energy(settings: Settings, cmd: EnergyCmd) -> Result<()> {
    let EnergyCmd::Report { by, since, csv } = cmd;
    let by: siagen_store::EnergyBy = by.parse()?;
    if let Some(s) = &since {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .with_context(|| format!("--since must be a date YYYY-MM-DD, not '{s}'"))?;
    }
    let store = settings.store()?;
    let rows = store.energy_report(&Actor::cli(), by, since.as_deref())?;
    if csv {
        println!("key,generations,tokens,wh,co2e_g,measured");
        for r in &rows {
            let key = if r.key.contains([',', '"']) {
                format!("\"{}\"", r.key.replace('"', "\"\""))
            } else {
                r.key.clone()
            };
            println!(
                "{key},{},{},{:.6},{:.6},{}",
                r.generations, r.tokens, r.wh, r.co2e_g, r.measured
            );
        }
    } else {
        println!(
            "{:<32} {:>11} {:>10} {:>12} {:>12} {:>9}",
            "key", "generations", "tokens", "Wh", "gCO2e", "measured"
        );
        for r in &rows {
            println!(
                "{:<32} {:>11} {:>10} {:>12.4} {:>12.4} {:>9}",
                r.key, r.generations, r.tokens, r.wh, r.co2e_g, r.measured
            );
        }
        let (wh, co2): (f64, f64) = rows
            .iter()
            .fold((0.0, 0.0), |a, r| (a.0 + r.wh, a.1 + r.co2e_g));
        println!(
            "{:<32} {:>11} {:>10} {:>12.4} {:>12.4}",
            "total", "", "", wh, co2
        );
    }
    Ok(())
}

/// Every thesaurus edition available (built in, plus a configured directory), default first.
fn load_thesauri(settings: &Settings) -> Result<Vec<Arc<siagen_meds::Thesaurus>>> {
    let mut all: Vec<Arc<siagen_meds::Thesaurus>> = vec![];
    if let Some(dir) = &settings.file.meds_thesaurus_dir {
        for e in siagen_meds::Thesaurus::editions_in_dir(dir)? {
            all.push(Arc::new(siagen_meds::Thesaurus::load_dir(dir, Some(&e))?));
        }
    }
    for e in siagen_meds::builtin_editions() {
        if !all.iter().any(|t| t.edition() == e) {
            all.push(Arc::new(siagen_meds::Thesaurus::builtin(Some(e))?));
        }
    }
    // Newest first (editions are named YYYY-MM), then the configured default in front.
    all.sort_by(|a, b| b.edition().cmp(a.edition()));
    if let Some(d) = &settings.file.meds_default_edition {
        let pos = all
            .iter()
            .position(|t| t.edition() == d)
            .with_context(|| format!("meds_default_edition '{d}' is not available"))?;
        let t = all.remove(pos);
        all.insert(0, t);
    }
    Ok(all)
}

fn pick_edition(
    all: Vec<Arc<siagen_meds::Thesaurus>>,
    edition: Option<&str>,
) -> Result<Arc<siagen_meds::Thesaurus>> {
    let names: Vec<String> = all.iter().map(|t| t.edition().to_string()).collect();
    match edition {
        None => all
            .into_iter()
            .next()
            .context("no thesaurus edition available"),
        Some(e) => all.into_iter().find(|t| t.edition() == e).with_context(|| {
            format!(
                "thesaurus edition '{e}' is not available (available: {})",
                names.join(", ")
            )
        }),
    }
}

fn meds(settings: Settings, cmd: MedsCmd) -> Result<()> {
    match cmd {
        MedsCmd::Editions => {
            for (i, t) in load_thesauri(&settings)?.iter().enumerate() {
                println!("{}{}", t.edition(), if i == 0 { " (default)" } else { "" });
            }
        }
        MedsCmd::Check {
            drugs,
            jsonl,
            edition,
        } => {
            let thesaurus = pick_edition(load_thesauri(&settings)?, edition.as_deref())?;
            match jsonl {
                Some(path) => {
                    use std::io::{BufRead, Write};
                    let file = std::fs::File::open(&path)
                        .with_context(|| format!("cannot open {}", path.display()))?;
                    let stdout = std::io::stdout();
                    let mut out = std::io::BufWriter::new(stdout.lock());
                    let mut errors = 0usize;
                    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
                        let line =
                            line.with_context(|| format!("cannot read {}", path.display()))?;
                        if line.trim().is_empty() {
                            continue;
                        }
                        match thesaurus.check_jsonl_line(&line) {
                            Ok(answer) => writeln!(out, "{answer}")?,
                            Err(e) => {
                                errors += 1;
                                eprintln!("siagen: {}:{}: {e}", path.display(), n + 1);
                            }
                        }
                    }
                    out.flush()?;
                    if errors > 0 {
                        bail!("{errors} malformed line(s) skipped");
                    }
                }
                None => {
                    if drugs.is_empty() {
                        bail!("give drug lines to check, or --jsonl FILE");
                    }
                    print!("{}", thesaurus.check(&drugs).to_table());
                }
            }
        }
    }
    Ok(())
}

/// One line saying where local inference runs, so that IT sees at start whether the GPU was
/// found (a `cuda` build on a machine without device or driver falls back to the CPU).
fn compute_line(engine: &siagen_engine::Engine) -> String {
    let threads = engine.config().threads;
    if !engine.gpu_capable() {
        return format!("local inference: CPU, {threads} threads (built without the cuda feature)");
    }
    let gpus = match engine.accelerators() {
        Ok(g) => g,
        Err(e) => {
            return format!("local inference: CPU, {threads} threads (GPU backend failed: {e})")
        }
    };
    if gpus.is_empty() {
        return format!(
            "local inference: CPU, {threads} threads (cuda build, but no GPU or driver visible)"
        );
    }
    let layers = match engine.config().gpu_layers.unwrap_or(0) {
        0 => "no layers offloaded (engine_gpu_layers = 0)".to_string(),
        n if n >= siagen_engine::ALL_LAYERS => "all layers offloaded".to_string(),
        n => format!("{n} layers offloaded"),
    };
    let names: Vec<String> = gpus
        .iter()
        .map(|g| {
            format!(
                "{} {} ({:.0} GiB)",
                g.name,
                g.description,
                g.memory_total as f64 / (1u64 << 30) as f64
            )
        })
        .collect();
    format!("local inference: GPU {}, {layers}", names.join(", "))
}

fn serve(settings: Settings, addr: Option<String>) -> Result<()> {
    let addr = addr
        .or_else(|| settings.file.addr.clone())
        .unwrap_or_else(|| DEFAULT_ADDR.to_string());
    let addr: std::net::SocketAddr = addr.parse().with_context(|| {
        format!("invalid --addr '{addr}': expected host:port, e.g. 127.0.0.1:8080")
    })?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let store = Arc::new(settings.store()?);
    let admin_pw = std::env::var("SIAGEN_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    if let Some((password, generated)) = store.ensure_admin(admin_pw.as_deref())? {
        if generated {
            println!("created administrator 'admin'; one-time password: {password}");
        } else {
            println!("created administrator 'admin' with the password from SIAGEN_ADMIN_PASSWORD");
        }
    }
    let mut server_cfg = siagen_server::ServerConfig::default();
    if let Some(v) = settings.file.max_body_bytes {
        server_cfg.max_body_bytes = v;
    }
    if let Some(h) = settings.file.session_ttl_hours {
        server_cfg.session_ttl = chrono::Duration::hours(h);
    }
    if let Some(v) = settings.file.secure_cookies {
        server_cfg.secure_cookies = v;
    }
    let engine = settings.engine()?;
    println!("{}", compute_line(&engine));
    let models = engine.models()?;
    if models.is_empty() {
        println!(
            "no model installed: everything but generation works; get one with `siagen model pull {} {}` (or `siagen model import FILE.gguf`)",
            RECOMMENDED_MODEL.0, RECOMMENDED_MODEL.1
        );
    }
    let engine = Arc::new(engine);
    let services = services(&settings, &engine)?;
    let upstreams = services.upstreams.clone();
    let app = Arc::new(siagen_app::App::new(store.clone(), services));
    let state = siagen_server::AppState::new(app, server_cfg);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        if let Some(u) = &upstreams {
            u.spawn_health_checks(std::time::Duration::from_secs(15));
        }
        store.audit_event(
            "system",
            "server.start",
            "server",
            "ok",
            serde_json::json!({ "version": env!("CARGO_PKG_VERSION") }),
        )?;
        println!(
            "siagen listening on http://{local} (data: {})",
            settings.data_dir.display()
        );
        siagen_server::serve(listener, state).await?;
        store.audit_event(
            "system",
            "server.stop",
            "server",
            "ok",
            serde_json::json!({}),
        )?;
        store.audit_checkpoint()?;
        println!("siagen stopped; audit checkpoint signed");
        Ok(())
    })
}

/// The capabilities behind the workflows (`serve`, `siagen draft`): thesauri, energy, shield
/// and vault, upstreams, knowledge base, watermark keys, drafting templates.
pub(crate) fn services(
    settings: &Settings,
    engine: &Arc<siagen_engine::Engine>,
) -> Result<siagen_app::Services> {
    let mut carbon = siagen_energy::CarbonConfig::default();
    if settings.file.grid_g_per_kwh.is_some() || settings.file.pue.is_some() {
        carbon = siagen_energy::CarbonConfig::new(
            settings
                .file
                .grid_g_per_kwh
                .unwrap_or(carbon.grid_g_per_kwh),
            settings.file.pue.unwrap_or(carbon.pue),
            "site configuration",
        )?;
    }
    let mut policy = siagen_shield::EgressPolicy::new();
    policy.options.style = settings.surrogate_style(None)?;
    let shield = siagen_app::ShieldState {
        shield: siagen_shield::Shield::new()?,
        vault: settings.vault()?,
        policy,
        local_engine: siagen_shield::Destination::new(
            "local-engine",
            settings
                .file
                .engine_may_receive_identifying
                .unwrap_or(false),
        ),
    };
    Ok(siagen_app::Services {
        meds: load_thesauri(settings)?,
        engine: Some(engine.clone()),
        energy: Some(Arc::new(siagen_app::Energy::probe(carbon)?)),
        shield: Some(Arc::new(shield)),
        upstreams: match settings.file.upstreams.clone() {
            Some(list) if !list.is_empty() => Some(Arc::new(
                siagen_app::upstream::Upstreams::new(list).map_err(anyhow::Error::msg)?,
            )),
            _ => None,
        },
        kb: Some(Arc::new(kb_cli::open_kb(settings, Some(engine.clone()))?)),
        kb_min_relevance: settings.file.kb_min_relevance,
        kb_entailment_model: settings.file.kb_entailment_model.clone(),
        kb_reranker: kb_cli::reranker(settings, engine)?,
        kb_rerank_depth: Some(kb_cli::rerank_depth(settings)?),
        mark: Some(Arc::new(mark_cli::state(settings)?)),
        drafting: Some(Arc::new(siagen_draft::Templates::load(
            &settings.data_dir.join("drafting"),
        )?)),
    })
}
