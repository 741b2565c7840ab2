//! Helpers shared by the integration tests: fixtures, and the real .wasm in a waPC host.
#![allow(dead_code)]

pub mod http_stub;
pub mod kubewarden;
pub mod operator;
pub mod promql_gen;
pub mod registry;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use policy_runner::{default_policy_wasm, AdmissionResponse, ClusterFixture, Instance, Policy};
use serde_json::Value;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A bare AdmissionRequest from `tests/fixtures/requests/<name>.json`.
pub fn request(name: &str) -> Value {
    read_json(&repo_root().join(format!("tests/fixtures/requests/{name}.json")))
}

/// The settings the examples run with: the defaults plus the required cluster domain.
pub fn workshop_settings() -> Value {
    read_json(&repo_root().join("tests/fixtures/settings/workshop.json"))
}

pub const LISTENER: &str = "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/";

/// The compiled release .wasm, shared by every test in this binary.
pub fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let path = default_policy_wasm();
        Policy::load(&path).unwrap_or_else(|e| {
            panic!("{e:#}\nThe .wasm tests need the release build: run `make test` (or `make policy.wasm` first)")
        })
    })
}

/// A fresh instance per call, as policy-server evaluates each request.
pub fn instance() -> Instance {
    policy().instance().expect("instantiate the policy")
}

pub fn validate(request: &Value, settings: &Value) -> AdmissionResponse {
    instance()
        .validate(request, settings)
        .unwrap_or_else(|e| panic!("the policy trapped or failed: {e:#}"))
}

/// `validate` in a fresh instance whose host calls `cluster` answers.
pub fn validate_in(
    cluster: &ClusterFixture,
    request: &Value,
    settings: &Value,
) -> AdmissionResponse {
    policy()
        .instance_in(cluster)
        .expect("instantiate the policy")
        .validate(request, settings)
        .unwrap_or_else(|e| panic!("the policy trapped or failed: {e:#}"))
}

/// The request with `object` replaced (uid kept), e.g. to send a mutated object back.
pub fn with_object(request: &Value, object: Value) -> Value {
    let mut r = request.clone();
    r["object"] = object;
    r
}

/// The single value a JSONPath selects in `v`.
pub fn select<'a>(v: &'a Value, path: &str) -> &'a Value {
    let found = jsonpath_lib::select(v, path).unwrap_or_else(|e| panic!("bad path {path}: {e:?}"));
    assert_eq!(
        found.len(),
        1,
        "{path} selects {} values in {v}",
        found.len()
    );
    found[0]
}

/// The rejection message ("" when there is none).
pub fn message(response: &AdmissionResponse) -> String {
    response
        .status
        .as_ref()
        .map(|s| s.message.clone())
        .unwrap_or_default()
}

/// Asserts the response is a rejection whose message contains `expected`.
pub fn assert_rejected(response: &AdmissionResponse, expected: &str) {
    let m = message(response);
    assert!(
        !response.allowed,
        "accepted; expected a rejection containing {expected:?}"
    );
    assert!(
        m.contains(expected),
        "{expected:?} not in: {}",
        &m[..m.floor_char_boundary(600)]
    );
}

/// The response's patch as readable JSON (`[]` when there is none).
pub fn patch_ops(response: &AdmissionResponse) -> Value {
    serde_json::to_value(response.patch_ops.clone().unwrap_or_default()).unwrap()
}

/// Asserts the object is accepted as it is: no patch, and the mutated object, sent back,
/// is accepted with no further change.
pub fn assert_idempotent(request: &Value, settings: &Value, response: &AdmissionResponse) {
    let Some(mutated) = &response.mutated_object else {
        return;
    };
    let again = validate(&with_object(request, mutated.clone()), settings);
    assert!(again.allowed, "mutated object rejected: {:?}", again.status);
    assert!(
        again.patch.is_none(),
        "mutated object changed again: {}",
        patch_ops(&again)
    );
}

/// One `tests/fixtures/context-aware/<name>/`: a request, its settings, and the kwctl
/// session file whose exchanges answer the policy's reads of the cluster.
pub struct ContextAwareCase {
    pub name: String,
    pub dir: PathBuf,
    pub request: Value,
    pub settings: Value,
}

impl ContextAwareCase {
    pub fn session(&self) -> PathBuf {
        self.dir.join("session.yml")
    }

    /// The cluster the session describes, for the runner.
    pub fn cluster(&self) -> ClusterFixture {
        let text = std::fs::read_to_string(self.session()).unwrap();
        ClusterFixture::from_session(&text)
            .unwrap_or_else(|e| panic!("{}: {e:#}", self.session().display()))
    }
}

/// Every context-aware case, by name.
pub fn context_aware_cases() -> Vec<ContextAwareCase> {
    let root = repo_root().join("tests/fixtures/context-aware");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| ContextAwareCase {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            request: read_json(&dir.join("request.json")),
            settings: read_json(&dir.join("settings.json")),
            dir,
        })
        .collect()
}
