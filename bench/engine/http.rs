//! The HTTP side of the comparison: starts `siagen serve` and llama.cpp's
//! `llama-server` on loopback ports, and streams `/v1/completions` from them
//! with a minimal HTTP/1.1 client (std only), timing each SSE event as it
//! arrives.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A server child process, killed when dropped.
pub struct ServerProc {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Bearer token (siagen only).
    pub token: Option<String>,
    /// Model name to put in requests.
    pub model: String,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Server-side settings shared by both servers.
pub struct ServeOpts<'a> {
    pub model: &'a Path,
    pub threads: usize,
    /// Requests decoded together (siagen `engine_parallel`, llama-server `--parallel`).
    pub parallel: usize,
    /// Context per request (llama-server gets `parallel * ctx`).
    pub ctx: usize,
}

/// Starts `siagen serve` over a fresh data directory whose `models_dir` is the
/// model's folder, and creates a clinician account and its API token.
pub fn start_siagen(bin: &Path, o: &ServeOpts) -> Result<ServerProc, BoxError> {
    let dir = tempfile::tempdir()?;
    let models_dir = o.model.parent().ok_or("model path without a folder")?;
    let models_dir = std::fs::canonicalize(models_dir)?;
    std::fs::write(
        dir.path().join("siagen.toml"),
        format!(
            "models_dir = {:?}\nengine_threads = {}\nengine_parallel = {}\nengine_max_queue = {}\nengine_max_context = {}\n",
            models_dir.to_string_lossy(),
            o.threads,
            o.parallel,
            o.parallel.max(16),
            o.ctx
        ),
    )?;
    let cmd = |args: &[&str]| {
        let mut c = Command::new(bin);
        c.args(args)
            .env("SIAGEN_DATA_DIR", dir.path())
            .env_remove("SIAGEN_CONFIG")
            .env_remove("SIAGEN_ADDR");
        c
    };
    let mut child = cmd(&["serve", "--addr", "127.0.0.1:0"])
        .env("SIAGEN_ADMIN_PASSWORD", "bench-admin-password")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let mut reader = BufReader::new(child.stdout.take().ok_or("no stdout")?);
    let mut line = String::new();
    let addr = loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            let _ = child.kill();
            return Err("siagen serve exited before listening".into());
        }
        if let Some(rest) = line.trim().strip_prefix("siagen listening on ") {
            let url = rest.split_whitespace().next().unwrap_or_default();
            break url.trim_start_matches("http://").to_string();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
            sink.clear();
        }
    });
    let mut proc_ = ServerProc {
        child,
        addr,
        token: None,
        model: model_name(o.model)?,
        _dir: None,
    };
    let out = cmd(&["user", "add", "bench", "--roles", "clinician"])
        .env("SIAGEN_NEW_PASSWORD", "bench-password-123")
        .output()?;
    if !out.status.success() {
        return Err(format!("user add: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let out = cmd(&["token", "create", "bench"]).output()?;
    if !out.status.success() {
        return Err(format!("token create: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    proc_.token = Some(String::from_utf8(out.stdout)?.trim().to_string());
    // The data directory goes when the server does (after it, by field order).
    proc_._dir = Some(dir);
    Ok(proc_)
}

/// The name siagen gives a model file: its stem.
pub fn model_name(path: &Path) -> Result<String, BoxError> {
    Ok(path
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or("bad model file name")?
        .to_string())
}

/// Starts `llama-server` with the same model, threads, batch and slots, and
/// waits for `/health`.
pub fn start_llama_server(bin: &Path, o: &ServeOpts, log: PathBuf) -> Result<ServerProc, BoxError> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let t = o.threads.to_string();
    let log_file = std::fs::File::create(&log)?;
    let child = Command::new(bin)
        .args(["-m"])
        .arg(o.model)
        .args(["-t", &t, "-tb", &t, "-b", "512", "-ub", "512"])
        .args(["-c", &(o.ctx * o.parallel).to_string()])
        .args(["--parallel", &o.parallel.to_string()])
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let mut proc_ = ServerProc {
        child,
        addr: format!("127.0.0.1:{port}"),
        token: None,
        model: model_name(o.model)?,
        _dir: None,
    };
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Ok(Some(st)) = proc_.child.try_wait() {
            return Err(format!("llama-server exited ({st}); see {}", log.display()).into());
        }
        if get_status(&proc_.addr, "/health").ok() == Some(200) {
            return Ok(proc_);
        }
        if Instant::now() > deadline {
            return Err(format!("llama-server not ready; see {}", log.display()).into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn get_status(addr: &str, path: &str) -> Result<u16, BoxError> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0))
}

/// Timings of one streamed completion, seen from the client.
#[derive(Debug, Clone)]
pub struct StreamTimings {
    pub sent: Instant,
    pub first_token: Instant,
    pub last_token: Instant,
    /// SSE events carrying a token (both servers send one per token).
    pub token_events: usize,
    /// `usage.completion_tokens` when the server reported it.
    pub completion_tokens: Option<u64>,
    pub prompt_tokens: Option<u64>,
}

impl StreamTimings {
    /// Decode tokens/s: tokens after the first over first → last token.
    pub fn decode_rate(&self) -> f64 {
        let secs = (self.last_token - self.first_token).as_secs_f64();
        (self.token_events.saturating_sub(1)) as f64 / secs.max(1e-9)
    }
}

/// POSTs `body` to `/v1/completions` with `stream: true` and times the events.
pub fn stream_completion(server: &ServerProc, body: &Value) -> Result<StreamTimings, BoxError> {
    let payload = body.to_string();
    let mut s = TcpStream::connect(&server.addr)?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(600)))?;
    let auth = server
        .token
        .as_ref()
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let sent = Instant::now();
    write!(
        s,
        "POST /v1/completions HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        server.addr,
        payload.len()
    )?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut chunked = false;
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        let l = line.to_ascii_lowercase();
        if l.starts_with("transfer-encoding:") && l.contains("chunked") {
            chunked = true;
        }
    }
    let mut body = Body { r, chunked };
    if status != 200 {
        let mut text = Vec::new();
        while let Some(b) = body.next_bytes()? {
            text.extend_from_slice(&b);
        }
        return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&text)).into());
    }
    let mut t = StreamTimings {
        sent,
        first_token: sent,
        last_token: sent,
        token_events: 0,
        completion_tokens: None,
        prompt_tokens: None,
    };
    let mut pending: Vec<u8> = Vec::new();
    'outer: while let Some(bytes) = body.next_bytes()? {
        let now = Instant::now();
        pending.extend_from_slice(&bytes);
        while let Some(nl) = pending.iter().position(|&b| b == b'\n') {
            let raw: Vec<u8> = pending.drain(..=nl).collect();
            let l = String::from_utf8_lossy(&raw);
            let Some(data) = l.trim_end().strip_prefix("data:") else {
                continue;
            };
            let data = data.trim_start();
            if data == "[DONE]" {
                break 'outer;
            }
            let v: Value = serde_json::from_str(data)?;
            if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
                t.completion_tokens = u["completion_tokens"].as_u64();
                t.prompt_tokens = u["prompt_tokens"].as_u64();
            }
            let choice = &v["choices"][0];
            if choice["text"].is_string() && choice["finish_reason"].is_null() {
                if t.token_events == 0 {
                    t.first_token = now;
                }
                t.last_token = now;
                t.token_events += 1;
            } else if choice["text"].is_string() && t.token_events > 0 {
                // llama-server may put the last token in the event carrying finish_reason.
                if !choice["text"].as_str().unwrap_or_default().is_empty() {
                    t.last_token = now;
                    t.token_events += 1;
                }
            }
            if v.get("error").is_some() {
                return Err(format!("stream error: {data}").into());
            }
        }
    }
    if t.token_events == 0 {
        return Err("the stream carried no token".into());
    }
    Ok(t)
}

/// A response body, plain or chunked, read as it arrives.
struct Body {
    r: BufReader<TcpStream>,
    chunked: bool,
}

impl Body {
    fn next_bytes(&mut self) -> Result<Option<Vec<u8>>, BoxError> {
        if !self.chunked {
            let mut buf = vec![0u8; 16 * 1024];
            let n = self.r.read(&mut buf)?;
            buf.truncate(n);
            return Ok((n > 0).then_some(buf));
        }
        let mut line = String::new();
        if self.r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
            .map_err(|_| format!("bad chunk size line {line:?}"))?;
        if size == 0 {
            return Ok(None);
        }
        let mut buf = vec![0u8; size];
        self.r.read_exact(&mut buf)?;
        let mut crlf = [0u8; 2];
        self.r.read_exact(&mut crlf)?;
        Ok(Some(buf))
    }
}
