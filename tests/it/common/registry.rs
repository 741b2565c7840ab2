//! A real OCI registry for the tests: Debian's `docker-registry` (the CNCF distribution
//! registry, installed by scripts/install-deps) on 127.0.0.1, a free port and its own
//! temporary storage, stopped when dropped and in any case after `LIFETIME` (it runs under
//! coreutils' `timeout`, so a test process that dies cannot leave it behind).
//!
//! Beside it: kwctl with a home of its own (its policy store, wasmtime cache and
//! configuration, so nothing the user has pulled interferes and nothing is left in their
//! store), the test signer `policy-sign` (tools/sign: what `cosign sign --key` writes), and
//! policy-server started with the extra flags a registry needs (`--sources-path`,
//! `--verification-path`, `--sigstore-trust-config`), reporting whether it came up or
//! refused to start.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use policy_runner::policy_server::{admission_review, free_port, http};
use serde_json::Value;

/// The longest a registry may live, whatever happens to the test that started it.
pub const LIFETIME: Duration = Duration::from_secs(600);

/// A test's scratch directory, emptied first.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tenant-alerting-policy-{}-registry-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Debian's `docker-registry` on PATH (or `DOCKER_REGISTRY=`); a test that needs it and
/// cannot find it fails.
pub fn docker_registry() -> PathBuf {
    std::env::var_os("DOCKER_REGISTRY")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join("docker-registry"))
                    .find(|candidate| candidate.is_file())
            })
        })
        .unwrap_or_else(|| {
            panic!("docker-registry is not on PATH: run `make deps` (scripts/install-deps installs Debian's docker-registry package) or set DOCKER_REGISTRY=")
        })
}

/// A running `docker-registry serve` on 127.0.0.1; stopped when dropped.
pub struct Registry {
    child: Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl Drop for Registry {
    fn drop(&mut self) {
        // SIGTERM to `timeout`, which passes it on to the registry; SIGKILL if that is
        // not enough within 5 s.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    /// Starts a registry storing into `dir/storage` and waits (at most 30 s) until it
    /// answers `GET /v2/`. Fails, with the registry's log, when it cannot start.
    pub fn start(dir: &Path) -> Registry {
        let binary = docker_registry();
        std::fs::create_dir_all(dir).unwrap();
        let mut last_log = String::new();
        // A free port can be taken between the probe and the bind: three tries.
        for _ in 0..3 {
            let port = free_port();
            let config = dir.join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\n\
                     log:\n  level: warn\n  accesslog:\n    disabled: true\n\
                     storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                     http:\n  addr: 127.0.0.1:{port}\n",
                    dir.join("storage").display()
                ),
            )
            .unwrap();
            let log = dir.join("registry.log");
            let out = std::fs::File::create(&log).unwrap();
            let child = Command::new("timeout")
                .args(["-s", "TERM", "-k", "5"])
                .arg(LIFETIME.as_secs().to_string())
                .arg(&binary)
                .arg("serve")
                .arg(&config)
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            let mut registry = Registry {
                child,
                port,
                dir: dir.to_owned(),
            };
            let start = Instant::now();
            loop {
                if registry.get("/v2/", "").map(|r| r.status) == Some(200) {
                    return registry;
                }
                if let Ok(Some(_)) = registry.child.try_wait() {
                    break;
                }
                if start.elapsed() > Duration::from_secs(30) {
                    panic!(
                        "the registry did not answer on {port} within 30 s:\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            last_log = std::fs::read_to_string(&log).unwrap_or_default();
        }
        panic!("the registry would not start:\n{last_log}");
    }

    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `registry://127.0.0.1:PORT/<repository_and_tag>`
    pub fn uri(&self, repository_and_tag: &str) -> String {
        format!("registry://{}/{repository_and_tag}", self.host())
    }

    /// A kwctl/policy-server sources file declaring this registry plain HTTP.
    pub fn sources_file(&self) -> PathBuf {
        let path = self.dir.join("sources.yml");
        std::fs::write(
            &path,
            format!("insecure_sources:\n  - \"{}\"\n", self.host()),
        )
        .unwrap();
        path
    }

    /// One GET on the registry's API; None when it does not answer.
    pub fn get(&self, path: &str, accept: &str) -> Option<Reply> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .ok()?;
        let accept = if accept.is_empty() {
            String::new()
        } else {
            format!("Accept: {accept}\r\n")
        };
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\n{accept}Connection: close\r\n\r\n",
            self.host()
        )
        .ok()?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).ok()?;
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect::<Vec<_>>();
        assert!(
            !headers
                .iter()
                .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked")),
            "chunked reply to GET {path}"
        );
        Some(Reply {
            status,
            headers,
            body: raw[split + 4..].to_vec(),
        })
    }

    /// The OCI image manifest `repository:reference` names, and its digest as the
    /// registry announces it (`Docker-Content-Digest`).
    pub fn manifest(&self, repository: &str, reference: &str) -> (Value, String) {
        let reply = self
            .get(
                &format!("/v2/{repository}/manifests/{reference}"),
                "application/vnd.oci.image.manifest.v1+json",
            )
            .unwrap_or_else(|| panic!("the registry does not answer"));
        assert_eq!(
            reply.status,
            200,
            "{repository}:{reference}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let digest = reply
            .header("docker-content-digest")
            .expect("Docker-Content-Digest")
            .to_owned();
        (serde_json::from_slice(&reply.body).unwrap(), digest)
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `sha256:<hex>` of a file.
pub fn file_digest(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success(), "sha256sum {}", path.display());
    format!(
        "sha256:{}",
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .next()
            .unwrap()
    )
}

/// kwctl with a home of its own under `dir` (XDG cache, config and data, HOME).
pub struct Kwctl {
    pub bin: PathBuf,
    pub home: PathBuf,
}

impl Kwctl {
    pub fn new(dir: &Path) -> Kwctl {
        let home = dir.join("kwctl-home");
        std::fs::create_dir_all(&home).unwrap();
        Kwctl {
            bin: super::kubewarden::kwctl(),
            home,
        }
    }

    /// (success, stdout, stderr), kwctl logging at `error`.
    pub fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(&self.bin)
            .args(args)
            .env("RUST_LOG", "error")
            .env("RUST_BACKTRACE", "0")
            .env("HOME", &self.home)
            .env("XDG_CACHE_HOME", self.home.join("cache"))
            .env("XDG_CONFIG_HOME", self.home.join("config"))
            .env("XDG_DATA_HOME", self.home.join("data"))
            .env_remove("DOCKER_CONFIG")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `run`, failing the test (with kwctl's stderr) unless kwctl succeeds.
    pub fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(ok, "kwctl {} failed:\n{err}\n{out}", args.join(" "));
        out
    }

    /// kwctl's policy store.
    pub fn store(&self) -> PathBuf {
        self.home.join("cache/kubewarden/store")
    }
}

/// tools/sign's `policy-sign`, built beside the test binaries (`make test` and `make
/// e2e-tests` build every workspace target first), or where `POLICY_SIGN=` says.
pub fn policy_sign() -> PathBuf {
    if let Some(path) = std::env::var_os("POLICY_SIGN") {
        return path.into();
    }
    // target/<profile>/deps/registry-<hash> -> target/<profile>/policy-sign
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("policy-sign"))
        .unwrap();
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build -p policy-sign` (make test does), or set POLICY_SIGN=",
        path.display()
    );
    path
}

/// Runs `policy-sign` with `args`; its stdout (a JSON line for `sign`).
pub fn run_policy_sign(args: &[&str]) -> String {
    let bin = policy_sign();
    let out = Command::new(&bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    assert!(
        out.status.success(),
        "policy-sign {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A policy-server that started, killed when dropped.
pub struct PolicyServer {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Drop for PolicyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What became of a policy-server start: serving, or exited (with its log).
pub enum Started {
    Serving(PolicyServer),
    Exited { status: ExitStatus, log: String },
}

impl Started {
    pub fn serving(self) -> PolicyServer {
        match self {
            Started::Serving(server) => server,
            Started::Exited { status, log } => {
                panic!("policy-server exited ({status}) instead of serving:\n{log}")
            }
        }
    }

    /// The exit status and log of a policy-server that refused to start.
    pub fn refused(self) -> (ExitStatus, String) {
        match self {
            Started::Exited { status, log } => (status, log),
            Started::Serving(server) => panic!(
                "policy-server started and serves: it should have refused to\n{}",
                server.log_text()
            ),
        }
    }
}

impl PolicyServer {
    /// Starts policy-server on 127.0.0.1 with `policies` (policies.yml, as JSON) in
    /// `dir`, plus `extra` flags; waits (at most two minutes) until it is ready or exits.
    pub fn start(binary: &Path, dir: &Path, policies: &Value, extra: &[&str]) -> Started {
        std::fs::create_dir_all(dir).unwrap();
        let policies_file = dir.join("policies.yml");
        std::fs::write(&policies_file, serde_json::to_vec_pretty(policies).unwrap()).unwrap();
        let downloads = dir.join("downloads");
        std::fs::create_dir_all(&downloads).unwrap();
        let (port, readiness) = (free_port(), free_port());
        let log = dir.join("policy-server.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(binary)
            .args([
                "--addr",
                "127.0.0.1",
                "--log-level",
                "info",
                "--log-no-color",
            ])
            .arg("--port")
            .arg(port.to_string())
            .arg("--readiness-probe-port")
            .arg(readiness.to_string())
            .arg("--policies")
            .arg(&policies_file)
            .arg("--policies-download-dir")
            .arg(&downloads)
            .arg("--sigstore-cache-dir")
            .arg(dir.join("sigstore"))
            .arg("--ignore-kubernetes-connection-failure")
            .args(extra)
            .env("HOME", dir)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut server = PolicyServer { child, port, log };
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                let log = server.log_text();
                return Started::Exited { status, log };
            }
            if http(readiness, "GET", "/readiness", b"")
                .map(|(s, _)| s)
                .ok()
                == Some(200)
                && TcpStream::connect(("127.0.0.1", port)).is_ok()
            {
                return Started::Serving(server);
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "policy-server neither ready nor exited after 120 s:\n{}",
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The `response` of an AdmissionReview POSTed to `/validate/<policy>`.
    pub fn review(&self, policy: &str, request: &Value) -> Value {
        let (status, body) = http(
            self.port,
            "POST",
            &format!("/validate/{policy}"),
            &admission_review(request),
        )
        .unwrap_or_else(|e| panic!("{e:#}\n{}", self.log_text()));
        assert_eq!(
            status,
            200,
            "{}\n{}",
            String::from_utf8_lossy(&body),
            self.log_text()
        );
        let reply: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(reply["kind"], "AdmissionReview", "{reply}");
        reply["response"].clone()
    }
}
