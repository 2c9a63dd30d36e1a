//! Test harness: a real `siagen` binary on a loopback port over a temporary data directory.
#![allow(dead_code)]

use reqwest::blocking::{Client, Response};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_siagen");
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// A running server and its data directory.
pub struct Server {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    pub base: String,
    pub client: Client,
}

pub fn data_dir_cmd(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("SIAGEN_DATA_DIR", dir)
        .env_remove("SIAGEN_CONFIG")
        .env_remove("SIAGEN_ADDR");
    c
}

/// Runs `siagen ARGS` on the data directory; returns the output.
pub fn cli(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = data_dir_cmd(dir);
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run siagen")
}

/// Starts `siagen serve` on 127.0.0.1:0 and waits for its "listening" line.
pub fn spawn_server(dir: &Path) -> (Child, String) {
    let mut child = data_dir_cmd(dir)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("SIAGEN_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn siagen serve");
    let stdout = child.stdout.take().unwrap();
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    let base = loop {
        line.clear();
        let n = reader.read_line(&mut line).expect("read server output");
        assert!(n > 0, "server exited before listening");
        if let Some(rest) = line.trim().strip_prefix("siagen listening on ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
            sink.clear();
        }
    });
    (child, base)
}

impl Server {
    pub fn start() -> Server {
        Self::start_with(|_| {})
    }

    /// Starts a server after `prepare` has written into the data directory (models, config).
    pub fn start_with(prepare: impl FnOnce(&Path)) -> Server {
        let dir = tempfile::tempdir().unwrap();
        prepare(dir.path());
        let (child, base) = spawn_server(dir.path());
        Server {
            dir,
            child: Some(child),
            base,
            client: Client::new(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("siagen.db")
    }

    pub fn url(&self, p: &str) -> String {
        format!("{}{}", self.base, p)
    }

    /// Creates an account with roles and returns a fresh API token for it.
    pub fn user(&self, name: &str, roles: &str) -> String {
        let out = cli(
            self.path(),
            &["user", "add", name, "--roles", roles],
            &[("SIAGEN_NEW_PASSWORD", &format!("{name}-password-123"))],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.token(name)
    }

    pub fn token(&self, name: &str) -> String {
        let out = cli(self.path(), &["token", "create", name], &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let s = String::from_utf8(out.stdout).unwrap();
        assert_eq!(s.lines().count(), 1, "token create prints the token alone");
        s.trim().to_string()
    }

    pub fn get(&self, token: &str, p: &str) -> Response {
        self.client
            .get(self.url(p))
            .bearer_auth(token)
            .send()
            .unwrap()
    }

    pub fn post(&self, token: &str, p: &str, body: Value) -> Response {
        self.client
            .post(self.url(p))
            .bearer_auth(token)
            .json(&body)
            .send()
            .unwrap()
    }

    /// Creates a document whose first revision was written by a model.
    pub fn machine_doc(&self, token: &str, text: &str) -> Value {
        let r = self.post(
            token,
            "/api/documents",
            json!({
                "kind": "compte_rendu_hospitalisation",
                "title": "CRH cardiologie",
                "patient_ref": "P-000123",
                "text": text,
                "generated_by": { "model": "tiny-llama", "version": "sha256:abc", "parameters": { "temperature": 0.3 }, "seed": 42,
                                  "prompt_sha256": "a".repeat(64) }
            }),
        );
        assert_eq!(r.status(), 201);
        r.json().unwrap()
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap(); // SIGKILL
            c.wait().unwrap();
        }
    }

    pub fn restart(&mut self) {
        self.kill9();
        let (child, base) = spawn_server(self.dir.path());
        self.child = Some(child);
        self.base = base;
    }

    /// Stops with SIGTERM, the way an operator does.
    pub fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status()
                .unwrap();
            let status = c.wait().unwrap();
            assert!(status.success(), "graceful shutdown exits 0, got {status}");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Writes a tiny chat model `name` (weights drawn from `seed`, else the default draw) with a
/// context long enough for a system prompt and a few passages (2048 tokens).
pub fn write_tiny_long(dir: &Path, name: &str, seed: Option<u64>) {
    let models = dir.join("models");
    std::fs::create_dir_all(&models).unwrap();
    let mut cfg = siagen_engine::testmodel::TinyConfig {
        name: name.into(),
        context_length: 2048,
        ..Default::default()
    };
    if let Some(seed) = seed {
        cfg.seed = seed;
    }
    siagen_engine::testmodel::write_tiny_llama(&models.join(format!("{name}.gguf")), &cfg).unwrap();
}

/// Writes the suite's tiny chat model (`tiny-chat`) and embedding model (`tiny-embed`) into the
/// data directory's models folder; returns the chat model's vocabulary size (its last three
/// tokens are `<|endoftext|>`, `<|im_start|>`, `<|im_end|>`).
pub fn write_tiny_models(dir: &Path) -> u64 {
    let models = dir.join("models");
    std::fs::create_dir_all(&models).unwrap();
    let n_vocab = siagen_engine::testmodel::write_tiny_llama(
        &models.join("tiny-chat.gguf"),
        &siagen_engine::testmodel::TinyConfig {
            name: "tiny-chat".into(),
            ..Default::default()
        },
    )
    .unwrap();
    siagen_engine::testmodel::write_tiny_embedding_model(&models.join("tiny-embed.gguf")).unwrap();
    n_vocab
}

/// Directory of installed test dependencies (scripts/test-deps.sh).
pub fn test_deps() -> PathBuf {
    std::env::var("SIAGEN_TEST_DEPS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-deps"))
}

/// Asserts an RFC 7807 problem with a status, returning its detail.
pub fn problem(r: Response, status: u16) -> String {
    assert_eq!(r.status().as_u16(), status, "unexpected status");
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let v: Value = r.json().unwrap();
    assert_eq!(v["status"], status);
    assert!(v["type"]
        .as_str()
        .unwrap()
        .starts_with("urn:siagen:problem:"));
    v["detail"].as_str().unwrap().to_string()
}

/// Serves `app` on a loopback port from a thread of its own (a peer the tests stand up: an
/// OpenAI-compatible upstream, a model hub) and returns its address once it listens.
pub fn serve_in_background(app: axum::Router) -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

/// Names of the real models in a data directory (see [`install_real_models`]).
pub const REAL_CHAT: &str = "smollm2-135m-instruct";
pub const REAL_BASE: &str = "gemma-3-270m";

/// Links the suite's real models (scripts/test-models.sh: SmolLM2-135M-Instruct, Apache-2.0;
/// gemma-3-270m, Gemma Terms of Use) into `dir/models` under [`REAL_CHAT`] and [`REAL_BASE`].
#[allow(dead_code)]
pub fn install_real_models(dir: &Path) {
    let models = dir.join("models");
    std::fs::create_dir_all(&models).unwrap();
    for (file, name) in [
        ("SmolLM2-135M-Instruct.Q4_1.gguf", REAL_CHAT),
        ("gemma-3-270m-q4_k_m.gguf", REAL_BASE),
    ] {
        let p = test_deps().join("models").join(file);
        assert!(
            p.exists(),
            "{} missing: run scripts/test-deps.sh (it fetches the real models)",
            p.display()
        );
        std::os::unix::fs::symlink(p, models.join(format!("{name}.gguf"))).unwrap();
    }
}
