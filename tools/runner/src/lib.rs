//! A waPC host for Kubewarden policies, on the engine policy-server uses (wasmtime; the
//! waPC protocol in `wapc_host`). It calls `validate`, `validate_settings` and
//! `protocol_version` the way policy-server does and turns a reply into the
//! AdmissionResponse an admission controller would send, JSONPatch included.
//!
//! Used by the tests, the benchmark and the `policy-runner` command (a stand-in for
//! `kwctl run` where kwctl is not installed).

pub mod cluster;
pub mod policy_server;
mod wapc_host;

pub use cluster::{ClusterFixture, ResourceKey};

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use wapc_host::{HostCallback, ModulePre, WapcInstance};

/// A compiled policy module, ready to be instantiated many times.
pub struct Policy {
    pre: ModulePre,
}

/// Bounds on one evaluation, as policy-server sets them: a wall-clock deadline
/// (enforced by wasmtime epoch interruption) and a cap on the instance's memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub deadline: Duration,
    pub max_memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_secs(2),
            max_memory_bytes: 256 * 1024 * 1024,
        }
    }
}

/// How often the epoch advances; deadlines are whole ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// One live instance of the policy: what policy-server evaluates a request in.
pub struct Instance {
    host: WapcInstance,
}

/// The reply of `validate`, as the policy wrote it.
#[derive(Debug, Clone, Deserialize)]
pub struct ValidationResponse {
    pub accepted: bool,
    pub message: Option<String>,
    pub code: Option<u16>,
    pub mutated_object: Option<Value>,
    pub warnings: Option<Vec<String>>,
}

/// The reply of `validate_settings`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct SettingsValidation {
    pub valid: bool,
    pub message: Option<String>,
}

/// What an admission controller answers the API server, as `kwctl run` prints it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionResponse {
    pub uid: String,
    pub allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<String>,
    /// Base64 of the JSONPatch, as the API server receives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The readable JSONPatch (not part of the wire format).
    #[serde(skip)]
    pub patch_ops: Option<json_patch::Patch>,
    /// The object after the patch (not part of the wire format).
    #[serde(skip)]
    pub mutated_object: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
}

impl Policy {
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).with_context(|| {
            format!(
                "cannot read the policy module {} (build it with `make policy.wasm`)",
                path.display()
            )
        })?;
        Self::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let pre = ModulePre::new(wasmtime::Engine::default(), bytes, None, None)
            .map_err(|e| anyhow!("cannot compile the policy module: {e}"))?;
        Ok(Policy { pre })
    }

    /// The policy under `limits`: an evaluation past the deadline or the memory cap
    /// fails instead of running on.
    pub fn load_with_limits(path: &Path, limits: Limits) -> Result<Self> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read the policy module {}", path.display()))?;
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let engine = wasmtime::Engine::new(&config)
            .map_err(|e| anyhow!("cannot configure wasmtime: {e}"))?;
        let ticker = engine.clone();
        // Advances the epoch for as long as the process lives (tests, benchmarks).
        std::thread::spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            ticker.increment_epoch();
        });
        let ticks = (limits.deadline.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        let pre = ModulePre::new(engine, &bytes, Some(ticks), Some(limits.max_memory_bytes))
            .map_err(|e| anyhow!("cannot compile the policy module: {e}"))?;
        Ok(Policy { pre })
    }

    /// A fresh instance: what policy-server pays for on each request (instantiation,
    /// `wapc_init`, and every lazy initialisation the policy does on first use).
    /// No host capabilities are provided: every host call fails, as under a
    /// policy-server that has not granted the policy context-aware access.
    pub fn instance(&self) -> Result<Instance> {
        self.instance_with(None)
    }

    /// A fresh instance whose `kubernetes/get_resource` host calls `cluster` answers.
    pub fn instance_in(&self, cluster: &ClusterFixture) -> Result<Instance> {
        let cluster = cluster.clone();
        let callback =
            move |_id: u64, binding: &str, namespace: &str, operation: &str, payload: &[u8]| {
                // Worded as policy-evaluator words a failed host call, so that messages
                // quoting it are the same under kwctl, policy-server and this runner.
                cluster
                    .answer(binding, namespace, operation, payload)
                    .map_err(|e| format!("Callback evaluation failure: {e}"))
            };
        self.instance_with(Some(Box::new(callback)))
    }

    fn instance_with(&self, host_callback: Option<Box<HostCallback>>) -> Result<Instance> {
        let host = self
            .pre
            .instantiate(host_callback)
            .map_err(|e| anyhow!("cannot instantiate the policy: {e}"))?;
        Ok(Instance { host })
    }
}

impl Instance {
    pub fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>> {
        self.host
            .call(operation, payload)
            .map_err(|e| anyhow!("waPC call {operation:?} failed: {e}"))
    }

    pub fn protocol_version(&self) -> Result<String> {
        let reply = self.call("protocol_version", b"")?;
        Ok(serde_json::from_slice::<String>(&reply)?)
    }

    pub fn validate_settings(&self, settings: &Value) -> Result<SettingsValidation> {
        let reply = self.call("validate_settings", &serde_json::to_vec(settings)?)?;
        serde_json::from_slice(&reply).context("validate_settings replied with malformed JSON")
    }

    /// The raw `validate` reply for `request` (an AdmissionRequest) under `settings`.
    pub fn validate_raw(&self, request: &Value, settings: &Value) -> Result<ValidationResponse> {
        let payload = serde_json::to_vec(&json!({"request": request, "settings": settings}))?;
        let reply = self.call("validate", &payload)?;
        serde_json::from_slice(&reply).context("validate replied with malformed JSON")
    }

    /// `validate`, answered as an admission controller would answer the API server.
    pub fn validate(&self, request: &Value, settings: &Value) -> Result<AdmissionResponse> {
        let reply = self.validate_raw(request, settings)?;
        Ok(admission_response(request, reply))
    }
}

/// Turns a policy's reply into an AdmissionResponse: the patch is the diff between
/// `request.object` and `mutated_object`, as policy-server computes it.
pub fn admission_response(request: &Value, reply: ValidationResponse) -> AdmissionResponse {
    let uid = request
        .get("uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let status = reply.message.clone().map(|message| Status {
        message,
        code: reply.code,
    });
    let (patch_ops, patch, patch_type) = match (&reply.mutated_object, reply.accepted) {
        (Some(mutated), true) => {
            let original = request.get("object").unwrap_or(&Value::Null);
            let ops = json_patch::diff(original, mutated);
            let encoded = base64::engine::general_purpose::STANDARD
                .encode(serde_json::to_vec(&ops).unwrap_or_default());
            (Some(ops), Some(encoded), Some("JSONPatch".to_owned()))
        }
        _ => (None, None, None),
    };
    AdmissionResponse {
        uid,
        allowed: reply.accepted,
        status,
        patch_type,
        patch,
        warnings: reply.warnings.unwrap_or_default(),
        patch_ops,
        mutated_object: reply.mutated_object,
    }
}

/// The names a module exports (`wapc_init`, `__guest_call`, ...).
pub fn module_exports(path: &Path) -> Result<Vec<String>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let module = wasmtime::Module::new(&wasmtime::Engine::default(), bytes)
        .map_err(|e| anyhow!("cannot compile {}: {e}", path.display()))?;
    Ok(module.exports().map(|e| e.name().to_owned()).collect())
}

/// The policy module under test: `POLICY_WASM` (what `make test` sets: the shipped,
/// pre-initialised `policy.wasm`), else the release build in the target directory.
pub fn default_policy_wasm() -> std::path::PathBuf {
    wasm_in_target("tenant_alerting_policy.wasm")
}

/// The benchmark floor module.
pub fn floor_policy_wasm() -> std::path::PathBuf {
    wasm_in_target("floor_policy.wasm")
}

/// The design's floor for the benchmark: the floor plus promql-parser's two parses of
/// each expression (tools/parser-floor-policy; `make bench` builds it).
pub fn parser_floor_policy_wasm() -> std::path::PathBuf {
    wasm_in_target("parser_floor_policy.wasm")
}

fn wasm_in_target(file: &str) -> std::path::PathBuf {
    if let Ok(path) = std::env::var("POLICY_WASM") {
        if file == "tenant_alerting_policy.wasm" {
            return path.into();
        }
    }
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../target")
            .to_string_lossy()
            .into_owned()
    });
    Path::new(&target).join("wasm32-wasip1/release").join(file)
}
