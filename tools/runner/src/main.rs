//! `policy-runner`: evaluates AdmissionRequest files with a policy .wasm and prints what
//! an admission controller would answer, as `kwctl run` does.
//!
//!     policy-runner [--json] [--wasm POLICY.wasm] [--settings SETTINGS.json]
//!                   [--session SESSION.yml] REQUEST.json...
//!
//! `--json` prints only the AdmissionResponse of each request, one JSON object a line,
//! as `kwctl run` does. `--session` answers the policy's reads of the cluster from a
//! kwctl session file, as `kwctl run --allow-context-aware
//! --replay-host-capabilities-interactions` does; without it every read fails.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use policy_runner::{default_policy_wasm, ClusterFixture, Policy};
use serde_json::Value;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("policy-runner: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let mut wasm = default_policy_wasm();
    let mut settings = Value::Object(Default::default());
    let mut requests = Vec::new();
    let mut json_only = false;
    let mut cluster: Option<ClusterFixture> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => json_only = true,
            "--wasm" => wasm = PathBuf::from(args.next().context("--wasm needs a path")?),
            "--settings" => {
                let path = args.next().context("--settings needs a JSON file")?;
                settings = read_json(&PathBuf::from(path))?;
            }
            "--session" => {
                let path = PathBuf::from(
                    args.next()
                        .context("--session needs a kwctl session file")?,
                );
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                cluster = Some(
                    ClusterFixture::from_session(&text)
                        .with_context(|| format!("{}", path.display()))?,
                );
            }
            "-h" | "--help" => {
                println!("usage: policy-runner [--json] [--wasm POLICY.wasm] [--settings SETTINGS.json] [--session SESSION.yml] REQUEST.json...");
                return Ok(());
            }
            _ => requests.push(PathBuf::from(arg)),
        }
    }
    if requests.is_empty() {
        bail!("no request files given (see --help)");
    }

    let policy = Policy::load(&wasm)?;
    let instance = policy.instance()?;
    let verdict = instance.validate_settings(&settings)?;
    if !verdict.valid {
        bail!("settings rejected: {}", verdict.message.unwrap_or_default());
    }
    if !json_only {
        println!(
            "policy: {} (protocol {})",
            wasm.display(),
            instance.protocol_version()?
        );
        println!("settings: {}", serde_json::to_string(&settings)?);
    }
    for path in requests {
        let request = read_json(&path)?;
        // A fresh instance per request, as policy-server evaluates them.
        let instance = match &cluster {
            Some(cluster) => policy.instance_in(cluster)?,
            None => policy.instance()?,
        };
        let response = instance.validate(&request, &settings)?;
        if json_only {
            println!("{}", serde_json::to_string(&response)?);
            continue;
        }
        println!("\n== {}", path.display());
        println!("{}", serde_json::to_string_pretty(&response)?);
        if let Some(ops) = &response.patch_ops {
            println!(
                "JSONPatch (decoded):\n{}",
                serde_json::to_string_pretty(ops)?
            );
        }
    }
    Ok(())
}

fn read_json(path: &std::path::Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}
