//! The tool's answers (the policy crate linked natively) equal the shipped `.wasm`'s,
//! run by the same waPC host the repository's tests use (tools/runner), on the request
//! the tool builds for every fixture object, with the fixture's settings and, for the
//! context-aware cases, the same recorded cluster answers.
//!
//! Runs on the module the policy's own tests run on: `POLICY_WASM` (what `make test`
//! sets), else the release build in the target directory; without either it fails,
//! saying how to build one, rather than pass having checked nothing.

use std::path::{Path, PathBuf};

use policy_runner::{ClusterFixture, Policy};
use serde_json::{json, Value};
use tenant_alerting_policy_cli::check::{self, Status};
use tenant_alerting_policy_cli::cluster::OfflineCluster;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// The host wraps a failed read in its own words; the policy quotes them.
fn normalise(message: &str) -> String {
    message.replace("Host error: Callback evaluation failure: ", "")
}

fn compare(
    policy: &Policy,
    name: &str,
    object: &Value,
    settings: &Value,
    session: Option<&str>,
) -> bool {
    let Some(kind) = object.get("kind").and_then(Value::as_str) else {
        return false;
    };
    let api = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (group, version) = api.split_once('/').unwrap_or(("", api));
    let plural = match kind {
        "PrometheusRule" => "prometheusrules",
        "AlertmanagerConfig" => "alertmanagerconfigs",
        _ => "other",
    };
    let namespace = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("user1-test");
    let request = check::admission_request(object, namespace, group, version, plural);

    let mut cluster = OfflineCluster::default();
    let fixture = match session {
        Some(text) => {
            cluster.add_file(text).unwrap();
            ClusterFixture::from_session(text).unwrap()
        }
        None => ClusterFixture::default(),
    };
    let parsed = check::parse_settings(settings).unwrap();
    let (verdict, patch) = check::review(&request, &parsed, &cluster).unwrap();
    let native = tenant_alerting_policy::verdict::Verdict::into_response(verdict.clone());

    let wasm = policy
        .instance_in(&fixture)
        .unwrap()
        .validate(&request, settings)
        .unwrap();
    assert_eq!(native.accepted, wasm.allowed, "{name}: allowed");
    assert_eq!(
        native.message.as_deref().map(normalise),
        wasm.status.as_ref().map(|s| normalise(&s.message)),
        "{name}: message"
    );
    assert_eq!(
        native.warnings.unwrap_or_default(),
        wasm.warnings,
        "{name}: warnings"
    );
    let wasm_patch = wasm
        .patch_ops
        .map(|p| serde_json::to_value(p).unwrap())
        .unwrap_or(json!([]));
    // The same operations; their order follows each side's map order (the CLI keeps
    // insertion order, the runner's reading of the .wasm's object sorted keys).
    let by_path = |ops: &Value| {
        let mut ops = ops.as_array().cloned().unwrap_or_default();
        ops.sort_by_key(|op| op.to_string());
        ops
    };
    assert_eq!(by_path(&patch), by_path(&wasm_patch), "{name}: patch");
    let _ = Status::Changed;
    true
}

#[test]
fn the_tool_answers_as_the_wasm_does_on_every_fixture() {
    let wasm = policy_runner::default_policy_wasm();
    assert!(
        wasm.exists(),
        "{} is missing: `make policy.wasm` builds it (or set POLICY_WASM)",
        wasm.display()
    );
    let policy = Policy::load(&wasm).expect("load the policy module");
    let workshop = read_json(&root().join("tests/fixtures/settings/workshop.json"));
    let mut overwrite = workshop.clone();
    overwrite["onConflict"] = json!("overwrite");
    overwrite["onForeignListener"] = json!("reject");
    let mut compared = 0;
    let mut dir: Vec<_> = std::fs::read_dir(root().join("tests/fixtures/requests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dir.sort();
    for path in dir {
        let request = read_json(&path);
        let object = if request["object"].is_object() {
            &request["object"]
        } else {
            &request["oldObject"]
        };
        for settings in [&workshop, &overwrite] {
            if compare(&policy, &path.display().to_string(), object, settings, None) {
                compared += 1;
            }
        }
    }
    let mut cases: Vec<_> = std::fs::read_dir(root().join("tests/fixtures/context-aware"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    for case in cases {
        let request = read_json(&case.join("request.json"));
        let settings = read_json(&case.join("settings.json"));
        let session = std::fs::read_to_string(case.join("session.yml")).unwrap();
        if compare(
            &policy,
            &case.display().to_string(),
            &request["object"],
            &settings,
            Some(&session),
        ) {
            compared += 1;
        }
    }
    assert!(compared >= 40, "only {compared} comparisons");
}
