//! `siagen model pull REPO FILE`: fetches a GGUF file from a Hugging Face–compatible hub with a
//! progress bar, resumes an interrupted download, and checks its SHA-256 before the model is
//! installed. Nothing is installed unless the checksum matches.
//!
//! The hub is `--hub URL`, else `HF_ENDPOINT`, else the public Hugging Face hub. Files are fetched
//! from `{hub}/{repo}/resolve/{revision}/{file}`; the expected SHA-256 is `--sha256`, else the
//! hub's `X-Linked-Etag` header (the LFS object id, which is the file's SHA-256).

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::header::{HeaderMap, RANGE};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Where to fetch a model from.
pub struct PullRequest<'a> {
    pub hub: &'a str,
    pub repo: &'a str,
    pub file: &'a str,
    pub revision: &'a str,
    pub sha256: Option<&'a str>,
    pub token: Option<&'a str>,
}

fn linked_sha256(headers: &HeaderMap) -> Option<String> {
    ["x-linked-etag", "etag"]
        .iter()
        .filter_map(|h| headers.get(*h)?.to_str().ok())
        .map(|v| {
            v.trim_start_matches("W/")
                .trim_matches('"')
                .to_ascii_lowercase()
        })
        .find(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn hash_file(path: &Path, hasher: &mut Sha256) -> Result<u64> {
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            return Ok(n);
        }
        hasher.update(&buf[..k]);
        n += k as u64;
    }
}

/// Downloads into `dir/.downloads/FILE.part` (resuming it), verifies, and returns the path of
/// the verified file (still in `.downloads`, for the caller to install).
pub fn pull(req: &PullRequest<'_>, dir: &Path) -> Result<PathBuf> {
    if req.file.contains('/') || !req.file.ends_with(".gguf") {
        bail!(
            "FILE must be a .gguf file name inside the repository, not '{}'",
            req.file
        );
    }
    let url = format!(
        "{}/{}/resolve/{}/{}",
        req.hub.trim_end_matches('/'),
        req.repo,
        req.revision,
        req.file
    );
    let downloads = dir.join(".downloads");
    std::fs::create_dir_all(&downloads)?;
    let part = downloads.join(format!("{}.part", req.file));
    let auth = |b: reqwest::blocking::RequestBuilder| match req.token {
        Some(t) => b.bearer_auth(t),
        None => b,
    };

    // The hub answers the metadata on the first (redirecting) response.
    let head_client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let head = auth(head_client.head(&url))
        .send()
        .with_context(|| format!("cannot reach {url}"))?;
    if head.status().is_client_error() {
        bail!("{url}: the hub answered {}", head.status());
    }
    let expected = match req.sha256 {
        Some(s) => s.to_ascii_lowercase(),
        None => linked_sha256(head.headers())
            .with_context(|| format!("the hub gives no SHA-256 for {}: pass --sha256", req.file))?,
    };

    let client = reqwest::blocking::Client::builder().timeout(None).build()?;
    let mut hasher = Sha256::new();
    let mut have = if part.exists() {
        hash_file(&part, &mut hasher)?
    } else {
        0
    };
    let mut builder = auth(client.get(&url));
    if have > 0 {
        builder = builder.header(RANGE, format!("bytes={have}-"));
    }
    let mut resp = builder
        .send()
        .with_context(|| format!("cannot download {url}"))?;
    let status = resp.status();
    if status == reqwest::StatusCode::RANGE_NOT_SATISFIABLE && have > 0 {
        // Already complete: fall through to the checksum.
    } else if !status.is_success() {
        bail!("{url}: the hub answered {status}");
    } else {
        if have > 0 && status != reqwest::StatusCode::PARTIAL_CONTENT {
            // The server ignored the range: start again.
            hasher = Sha256::new();
            have = 0;
        }
        let total = resp.content_length().map(|l| l + have);
        let bar = match total {
            Some(t) => ProgressBar::new(t),
            None => ProgressBar::new_spinner(),
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(req.file.to_string());
        bar.set_position(have);
        let mut out = OpenOptions::new()
            .create(true)
            .append(have > 0)
            .write(true)
            .truncate(have == 0)
            .open(&part)?;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let k = resp
                .read(&mut buf)
                .context("download interrupted (run the same command to resume)")?;
            if k == 0 {
                break;
            }
            out.write_all(&buf[..k])?;
            hasher.update(&buf[..k]);
            bar.inc(k as u64);
        }
        out.sync_all()?;
        bar.finish_and_clear();
    }
    let got = hex::encode(hasher.finalize());
    if got != expected {
        std::fs::remove_file(&part)?;
        bail!(
            "SHA-256 mismatch for {}: expected {expected}, got {got}; the download was removed",
            req.file
        );
    }
    let done = downloads.join(req.file);
    std::fs::rename(&part, &done)?;
    Ok(done)
}
