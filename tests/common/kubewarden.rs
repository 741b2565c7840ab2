//! Kubewarden's own engine: `kwctl` and `policy-server`, found on `PATH` or through
//! `KWCTL=` / `POLICY_SERVER=`. Without them a test says it skipped; with
//! `REQUIRE_KUBEWARDEN` set (`.ci/run` sets it) their absence fails the test instead, so
//! CI never passes by skipping.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine as _;
use serde_json::{json, Value};

/// The tool's path, or `None` after saying why the test skips.
pub fn tool(name: &str, env: &str) -> Option<PathBuf> {
    let found = std::env::var_os(env).map(PathBuf::from).or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|candidate| candidate.is_file())
        })
    });
    match found {
        Some(path) => Some(path),
        None if std::env::var_os("REQUIRE_KUBEWARDEN").is_some() => panic!(
            "{name} is required (REQUIRE_KUBEWARDEN is set): put it on PATH or set {env}= (.ci/run adds ../shared/bin)"
        ),
        None => {
            eprintln!("skipped: {name} is not on PATH (set {env}=/path/to/{name} to run this test)");
            None
        }
    }
}

pub fn kwctl() -> Option<PathBuf> {
    tool("kwctl", "KWCTL")
}

pub fn policy_server() -> Option<PathBuf> {
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
