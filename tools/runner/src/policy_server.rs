//! Kubewarden's `policy-server` as a child process on 127.0.0.1, and the small HTTP/1.1
//! client that sends it AdmissionReviews as the API server does. Used by
//! `tests/it/policy_server.rs` and the load benchmark.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

/// A running policy-server, killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// One HTTP/1.1 exchange on loopback, connection closed after it: (status, body).
pub fn http(port: u16, method: &str, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("no HTTP header in the reply"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("no status in {head:?}"))?;
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Ok((status, body))
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}

/// `kwctl annotate`: writes `wasm` with `metadata` (and `usage`, a README) embedded to
/// `out`. policy-server loads only annotated modules.
pub fn annotate(
    kwctl: &Path,
    wasm: &Path,
    metadata: &Path,
    usage: Option<&Path>,
    out: &Path,
) -> Result<()> {
    let mut command = Command::new(kwctl);
    command
        .env("RUST_LOG", "error")
        .arg("annotate")
        .arg("-m")
        .arg(metadata)
        .arg("-o")
        .arg(out);
    if let Some(usage) = usage {
        command.arg("-u").arg(usage);
    }
    let result = command.arg(wasm).output().context("run kwctl annotate")?;
    if !result.status.success() {
        bail!(
            "kwctl annotate {} failed: {}",
            wasm.display(),
            String::from_utf8_lossy(&result.stderr)
        );
    }
    Ok(())
}

/// An AdmissionReview (`admission.k8s.io/v1`) carrying `request`.
pub fn admission_review(request: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": request,
    }))
    .unwrap_or_default()
}

impl Server {
    /// Starts `binary` with `policies` (the policies.yml content, as JSON) in `dir`, and
    /// waits for its readiness probe (never a fixed sleep), at most two minutes.
    pub fn start(
        binary: &Path,
        dir: &Path,
        policies: &Value,
        timeout_seconds: u32,
    ) -> Result<Server> {
        std::fs::create_dir_all(dir)?;
        let policies_file = dir.join("policies.yml");
        std::fs::write(&policies_file, serde_json::to_vec_pretty(policies)?)?;
        let (port, readiness) = (free_port(), free_port());
        let log = dir.join("policy-server.log");
        let out = std::fs::File::create(&log)?;
        let child = Command::new(binary)
            .args([
                "--addr",
                "127.0.0.1",
                "--log-level",
                "warn",
                "--log-no-color",
            ])
            .arg("--port")
            .arg(port.to_string())
            .arg("--readiness-probe-port")
            .arg(readiness.to_string())
            .arg("--policies")
            .arg(&policies_file)
            .arg("--policies-download-dir")
            .arg(dir)
            .arg("--sigstore-cache-dir")
            .arg(dir.join("sigstore"))
            .arg("--policy-timeout")
            .arg(timeout_seconds.to_string())
            .arg("--ignore-kubernetes-connection-failure")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("start {}", binary.display()))?;
        let mut server = Server { child, port, log };
        let start = Instant::now();
        while http(readiness, "GET", "/readiness", b"")
            .map(|(s, _)| s)
            .ok()
            != Some(200)
        {
            if let Ok(Some(status)) = server.child.try_wait() {
                bail!("policy-server exited ({status}):\n{}", server.log_text());
            }
            if start.elapsed() > Duration::from_secs(120) {
                bail!(
                    "policy-server not ready after 120 s:\n{}",
                    server.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        // The readiness probe can answer before the main listener is bound (seen under
        // load as "connection refused" on the first review): wait for that too.
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if start.elapsed() > Duration::from_secs(120) {
                bail!(
                    "policy-server ready but not listening on {port} after 120 s:\n{}",
                    server.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// POSTs an AdmissionReview to `/validate/<policy>`; the reply's `response`.
    pub fn review(&self, policy: &str, request: &Value) -> Result<Value> {
        let (status, body) = http(
            self.port,
            "POST",
            &format!("/validate/{policy}"),
            &admission_review(request),
        )?;
        if status != 200 {
            bail!("HTTP {status}: {}", String::from_utf8_lossy(&body));
        }
        let reply: Value = serde_json::from_slice(&body)?;
        if reply["apiVersion"] != "admission.k8s.io/v1" || reply["kind"] != "AdmissionReview" {
            bail!("not an AdmissionReview: {reply}");
        }
        Ok(reply["response"].clone())
    }
}
