//! Kubewarden's own engine: `kwctl` and `policy-server`, found on `PATH` or through
//! `KWCTL=` / `POLICY_SERVER=`. The tests that need them are `#[ignore]`d, so a plain
//! `cargo test` reports them as ignored, never as passed; `make test` (and `make
//! e2e-tests`) runs them with `--ignored`, where a missing tool fails the test.
//! `SKIP_KUBEWARDEN=1 make test` leaves them out and says so in its last line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine as _;
use serde_json::{json, Value};

/// The tool's path; a test that asks for one it cannot find fails, naming where to put it.
pub fn tool(name: &str, env: &str) -> PathBuf {
    let found = std::env::var_os(env).map(PathBuf::from).or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|candidate| candidate.is_file())
        })
    });
    found.unwrap_or_else(|| {
        panic!(
            "{name} is not on PATH: put it there or set {env}= (.ci/run adds ../shared/bin), or run SKIP_KUBEWARDEN=1 make test to leave these tests out"
        )
    })
}

pub fn kwctl() -> PathBuf {
    tool("kwctl", "KWCTL")
}

pub fn policy_server() -> PathBuf {
    tool("policy-server", "POLICY_SERVER")
}

/// Runs `kwctl` with `args`; (success, stdout, stderr).
pub fn run_kwctl(kwctl: &Path, args: &[&str]) -> (bool, String, String) {
    // Its log lines (the Sigstore trust root it cannot fetch offline) stay quiet.
    run_kwctl_logging(kwctl, args, "error")
}

/// `run_kwctl` with kwctl's log level (`RUST_LOG`) set to `level`.
pub fn run_kwctl_logging(kwctl: &Path, args: &[&str], level: &str) -> (bool, String, String) {
    let out = Command::new(kwctl)
        .args(args)
        .env("RUST_LOG", level)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", kwctl.display()));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `policy.wasm` annotated with `metadata.yml` and the README, as released; made once
/// per test binary.
pub fn annotated_policy(kwctl: &Path) -> &'static Path {
    static ANNOTATED: OnceLock<PathBuf> = OnceLock::new();
    ANNOTATED.get_or_init(|| {
        let root = super::repo_root();
        annotate(
            kwctl,
            &policy_runner::default_policy_wasm(),
            &root.join("metadata.yml"),
            Some(&root.join("README.md")),
            "annotated",
        )
    })
}

/// The floor policy, annotated (policy-server loads only annotated modules).
pub fn annotated_floor(kwctl: &Path) -> &'static Path {
    static ANNOTATED: OnceLock<PathBuf> = OnceLock::new();
    ANNOTATED.get_or_init(|| {
        annotate(
            kwctl,
            &policy_runner::floor_policy_wasm(),
            &super::repo_root().join("tools/floor-policy/metadata.yml"),
            None,
            "floor-annotated",
        )
    })
}

fn annotate(
    kwctl: &Path,
    wasm: &Path,
    metadata: &Path,
    usage: Option<&Path>,
    name: &str,
) -> PathBuf {
    let out = std::env::temp_dir().join(format!(
        "tenant-alerting-policy-{}-{name}.wasm",
        std::process::id()
    ));
    policy_runner::policy_server::annotate(kwctl, wasm, metadata, usage, &out)
        .unwrap_or_else(|e| panic!("{e:#}"));
    out
}

/// What an admission controller acts on in an answer (kwctl's, policy-server's or the
/// runner's): allowed, message, warnings, patch type and the decoded JSONPatch.
pub fn verdict(answer: &Value) -> Value {
    let patch = answer["patch"].as_str().map(|b64| {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()
    });
    json!({
        "allowed": answer["allowed"],
        "message": answer["status"]["message"],
        "warnings": answer["warnings"].as_array().cloned().unwrap_or_default(),
        "patchType": answer["patchType"],
        "patch": patch,
    })
}
