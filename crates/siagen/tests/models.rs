//! `siagen model list | import | pull`: the registry through the CLI, and pulls from a local
//! Hugging Face–compatible hub (progress, resume, SHA-256 check).

mod common;
use axum::extract::{Path as AxPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use common::*;
use std::sync::{Arc, Mutex};

fn run(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = cli(dir, args, &[]);
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn list_and_import() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, _) = run(dir.path(), &["model", "list"]);
    assert!(
        ok && out.contains("no model installed") && out.contains("siagen model pull"),
        "{out}"
    );

    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("tiny-chat.gguf");
    siagen_engine::testmodel::write_tiny_llama(&file, &Default::default()).unwrap();
    let (ok, out, err) = run(dir.path(), &["model", "import", file.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("imported tiny-chat"), "{out}");
    let (ok, out, _) = run(dir.path(), &["model", "list", "--json"]);
    assert!(ok);
    let m: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(m["name"], "tiny-chat");
    assert_eq!(m["architecture"], "llama");
    assert_eq!(m["license"], "apache-2.0");
    assert_eq!(m["quantization"], "F32");
    assert!(m["origin"].as_str().unwrap().starts_with("https://"));
    let (_, table, _) = run(dir.path(), &["model", "list"]);
    assert!(
        table.contains("tiny-chat") && table.contains("apache-2.0"),
        "{table}"
    );

    let bogus = src.path().join("bogus.gguf");
    std::fs::write(&bogus, b"not a model").unwrap();
    let (ok, _, err) = run(dir.path(), &["model", "import", bogus.to_str().unwrap()]);
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("bogus.gguf"), "{err}");
}

#[derive(Clone)]
struct Hub {
    file: Arc<Vec<u8>>,
    sha: String,
    ranges: Arc<Mutex<Vec<String>>>,
}

async fn resolve(
    State(hub): State<Hub>,
    AxPath((org, repo, rev, file)): AxPath<(String, String, String, String)>,
    method: axum::http::Method,
    headers: HeaderMap,
) -> axum::response::Response {
    if (org.as_str(), repo.as_str(), rev.as_str(), file.as_str())
        != ("acme", "tiny-GGUF", "main", "tiny-chat.gguf")
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    let etag = [("x-linked-etag", format!("\"{}\"", hub.sha))];
    if method == axum::http::Method::HEAD {
        return (etag, ()).into_response();
    }
    if let Some(range) = headers.get("range").and_then(|v| v.to_str().ok()) {
        hub.ranges.lock().unwrap().push(range.to_string());
        let start: usize = range
            .trim_start_matches("bytes=")
            .trim_end_matches('-')
            .parse()
            .unwrap();
        if start >= hub.file.len() {
            return StatusCode::RANGE_NOT_SATISFIABLE.into_response();
        }
        return (
            StatusCode::PARTIAL_CONTENT,
            etag,
            hub.file[start..].to_vec(),
        )
            .into_response();
    }
    (etag, hub.file.to_vec()).into_response()
}

fn start_hub(file: Vec<u8>) -> (String, Hub) {
    use sha2::Digest;
    let hub = Hub {
        sha: hex::encode(sha2::Sha256::digest(&file)),
        file: Arc::new(file),
        ranges: Arc::default(),
    };
    let state = hub.clone();
    let app = axum::Router::new()
        .route(
            "/{org}/{repo}/resolve/{rev}/{file}",
            axum::routing::get(resolve).head(resolve),
        )
        .with_state(state);
    let addr = serve_in_background(app);
    (format!("http://{addr}"), hub)
}

#[test]
fn pull_verifies_and_resumes() {
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("m.gguf");
    siagen_engine::testmodel::write_tiny_llama(&file, &Default::default()).unwrap();
    let bytes = std::fs::read(&file).unwrap();
    let (hub_url, hub) = start_hub(bytes.clone());

    // A first download interrupted halfway: the next pull resumes from there.
    let dir = tempfile::tempdir().unwrap();
    let downloads = dir.path().join("models/.downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    std::fs::write(
        downloads.join("tiny-chat.gguf.part"),
        &bytes[..bytes.len() / 2],
    )
    .unwrap();
    let (ok, out, err) = run(
        dir.path(),
        &[
            "model",
            "pull",
            "acme/tiny-GGUF",
            "tiny-chat.gguf",
            "--hub",
            &hub_url,
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("SHA-256 verified"), "{out}");
    assert_eq!(
        hub.ranges.lock().unwrap().as_slice(),
        [format!("bytes={}-", bytes.len() / 2)]
    );
    assert_eq!(
        std::fs::read(dir.path().join("models/tiny-chat.gguf")).unwrap(),
        bytes
    );
    let (_, list, _) = run(dir.path(), &["model", "list"]);
    assert!(list.contains("tiny-chat"));

    // A wrong checksum installs nothing and removes the download.
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = run(
        dir.path(),
        &[
            "model",
            "pull",
            "acme/tiny-GGUF",
            "tiny-chat.gguf",
            "--hub",
            &hub_url,
            "--sha256",
            &"0".repeat(64),
        ],
    );
    assert!(!ok);
    assert!(err.contains("SHA-256 mismatch"), "{err}");
    assert!(!dir.path().join("models/tiny-chat.gguf").exists());
    assert!(!dir
        .path()
        .join("models/.downloads/tiny-chat.gguf.part")
        .exists());

    // An unknown file is a clear error.
    let (ok, _, err) = run(
        dir.path(),
        &[
            "model",
            "pull",
            "acme/tiny-GGUF",
            "other.gguf",
            "--hub",
            &hub_url,
        ],
    );
    assert!(!ok && err.contains("404"), "{err}");
}

/// `siagen serve` says in one line where local inference runs, and a GPU setting that this
/// build cannot honour stops it with a one-line error instead of running silently on the CPU.
#[test]
fn serve_names_where_inference_runs() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = data_dir_cmd(dir.path())
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("SIAGEN_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut placement = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.starts_with("local inference: ") {
            placement = Some(line.clone());
        }
        if line.starts_with("siagen listening on ") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let placement = placement.expect("a 'local inference:' line before listening");
    if cfg!(feature = "cuda") {
        assert!(
            placement.starts_with("local inference: GPU ")
                || placement.contains("cuda build, but no GPU or driver visible"),
            "{placement}"
        );
    } else {
        assert!(
            placement.starts_with("local inference: CPU, ")
                && placement.ends_with("(built without the cuda feature)"),
            "{placement}"
        );
    }

    if !cfg!(feature = "cuda") {
        std::fs::write(dir.path().join("siagen.toml"), "engine_gpu_layers = 8\n").unwrap();
        let out = cli(dir.path(), &["serve", "--addr", "127.0.0.1:0"], &[]);
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains("gpu_layers = 8") && err.contains("`cuda` feature"),
            "{err}"
        );
        // 0 is what a CPU build does anyway: accepted.
        std::fs::write(dir.path().join("siagen.toml"), "engine_gpu_layers = 0\n").unwrap();
        let (ok, _, err) = run(dir.path(), &["model", "list"]);
        assert!(ok, "{err}");
    }
}
