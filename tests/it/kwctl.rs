//! The policy under Kubewarden's own `kwctl` (the policy-evaluator policy-server uses):
//! annotation and inspection, every bundled request answered as the runner answers it,
//! settings validation, and the manifests and Artifact Hub package kwctl scaffolds.
//! Skipped, saying so, without kwctl; required under CI.

use std::path::Path;

use crate::common::kubewarden::{annotated_policy, kwctl, run_kwctl, run_kwctl_logging, verdict};
use crate::common::*;
use serde_json::{json, Value};

fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// kwctl's AdmissionResponse for `request_path` under `settings`.
fn kwctl_run(kwctl: &Path, request_path: &Path, settings: &Value) -> Value {
    let (ok, out, err) = run_kwctl(
        kwctl,
        &[
            "run",
            &file_uri(annotated_policy(kwctl)),
            "--settings-json",
            &settings.to_string(),
            "--request-path",
            request_path.to_str().unwrap(),
        ],
    );
    assert!(ok, "kwctl run {} failed: {err}", request_path.display());
    let line = out
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON answer from kwctl: {out}"));
    serde_json::from_str(line).unwrap()
}

#[test]
#[ignore = "needs kwctl and policy-server: run by make test"]
fn every_bundled_request_gets_the_runners_answer() {
    let kwctl = kwctl();
    let settings = workshop_settings();
    let mut paths: Vec<_> = std::fs::read_dir(repo_root().join("tests/fixtures/requests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    // Two at a time: each kwctl run compiles the module on one core.
    let mut compared = 0;
    for pair in paths.chunks(2) {
        let answers: Vec<(std::path::PathBuf, Value)> = std::thread::scope(|s| {
            let handles: Vec<_> = pair
                .iter()
                .map(|path| {
                    let (kwctl, settings) = (&kwctl, &settings);
                    s.spawn(move || (path.clone(), kwctl_run(kwctl, path, settings)))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (path, from_kwctl) in answers {
            let request = read_json(&path);
            let from_runner = serde_json::to_value(validate(&request, &settings)).unwrap();
            assert_eq!(from_kwctl["uid"], request["uid"], "{}", path.display());
            assert_eq!(
                verdict(&from_kwctl),
                verdict(&from_runner),
                "{}",
                path.display()
            );
            compared += 1;
        }
    }
    assert!(compared >= 19, "only {compared} requests compared");
}

/// kwctl replays each context-aware case's session file as the cluster's answers
/// (`--allow-context-aware`, granting what `contextAwareResources` declares); the runner
/// answers the same host calls from the same file. Both must give the same answer, and
/// kwctl must have used every exchange (it warns about leftovers).
#[test]
#[ignore = "needs kwctl and policy-server: run by make test"]
fn context_aware_sessions_replayed_by_kwctl_get_the_runners_answer() {
    let kwctl = kwctl();
    let cases = context_aware_cases();
    assert!(cases.len() >= 5, "only {} context-aware cases", cases.len());
    for case in cases {
        let (ok, out, err) = run_kwctl_logging(
            &kwctl,
            &[
                "run",
                &file_uri(annotated_policy(&kwctl)),
                "--allow-context-aware",
                "--replay-host-capabilities-interactions",
                case.session().to_str().unwrap(),
                "--settings-json",
                &case.settings.to_string(),
                "--request-path",
                case.dir.join("request.json").to_str().unwrap(),
            ],
            "warn",
        );
        assert!(ok, "kwctl run {} failed: {err}", case.name);
        assert!(
            !err.contains("have not been replayed"),
            "{}: the policy made fewer reads than the session holds: {err}",
            case.name
        );
        let from_kwctl: Value = serde_json::from_str(
            out.lines()
                .rev()
                .find(|l| l.starts_with('{'))
                .unwrap_or_else(|| panic!("{}: no JSON answer from kwctl: {out}", case.name)),
        )
        .unwrap();
        let from_runner =
            serde_json::to_value(validate_in(&case.cluster(), &case.request, &case.settings))
                .unwrap();
        assert_eq!(from_kwctl["uid"], case.request["uid"], "{}", case.name);
        assert_eq!(verdict(&from_kwctl), verdict(&from_runner), "{}", case.name);
    }
}

#[test]
#[ignore = "needs kwctl and policy-server: run by make test"]
fn annotation_carries_the_metadata_and_the_readme() {
    let kwctl = kwctl();
    let uri = file_uri(annotated_policy(&kwctl));
    let (ok, out, err) = run_kwctl(&kwctl, &["inspect", &uri]);
    assert!(ok, "kwctl inspect failed: {err}");
    for expected in [
        "tenant-alerting-policy",
        "prometheusrules",
        "alertmanagerconfigs",
        "kubewarden-wapc",
        "Apache-2.0",
        "Usage",
        // The cluster reads an admin grants, shown for review before deploying.
        "requires access to the following Kubernetes resources",
        "kind: Namespace",
        "kind: Service",
    ] {
        assert!(
            out.contains(expected),
            "{expected:?} not in kwctl inspect:\n{out}"
        );
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("mutating:") && l.contains("true")),
        "not shown as mutating:\n{out}"
    );
    // The README, whole, as the usage annotation.
    let (ok, yaml, err) = run_kwctl(&kwctl, &["inspect", "-o", "yaml", &uri]);
    assert!(ok, "kwctl inspect -o yaml failed: {err}");
    let metadata: Value = serde_yaml::from_str(&yaml).unwrap();
    let usage = metadata["annotations"]["io.kubewarden.policy.usage"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        usage.trim(),
        std::fs::read_to_string(repo_root().join("README.md"))
            .unwrap()
            .trim()
    );
}

#[test]
#[ignore = "needs kwctl and policy-server: run by make test"]
fn bad_settings_fail_with_the_policys_own_message() {
    let kwctl = kwctl();
    let request = repo_root().join("tests/fixtures/requests/seed-prometheusrule.json");
    for (settings, message) in [
        (
            json!({"clusterDomain": "a.io", "onConflict": "drop"}),
            "unknown variant `drop`",
        ),
        (json!({}), "clusterDomain is required"),
    ] {
        let (ok, out, err) = run_kwctl(
            &kwctl,
            &[
                "run",
                &file_uri(annotated_policy(&kwctl)),
                "--settings-json",
                &settings.to_string(),
                "--request-path",
                request.to_str().unwrap(),
            ],
        );
        assert!(!ok, "{settings} accepted: {out}");
        assert!(
            format!("{out}{err}").contains(message),
            "{message:?} not in: {out}{err}"
        );
    }
}

#[test]
#[ignore = "needs kwctl and policy-server: run by make test"]
fn scaffolded_manifests_agree_with_the_bundled_ones() {
    let kwctl = kwctl();
    for entry in std::fs::read_dir(repo_root().join("policies")).unwrap() {
        let path = entry.unwrap().path();
        let bundled: Value =
            serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let kind = bundled["kind"].as_str().unwrap();
        let (ok, out, err) = run_kwctl(
            &kwctl,
            &[
                "scaffold",
                "manifest",
                "--type",
                kind,
                "--settings-json",
                &bundled["spec"]["settings"].to_string(),
                &file_uri(annotated_policy(&kwctl)),
            ],
        );
        assert!(
            ok,
            "kwctl scaffold manifest failed for {}: {err}",
            path.display()
        );
        let scaffolded: Value = serde_yaml::from_str(&out).unwrap();
        for field in ["rules", "mutating", "settings"] {
            assert_eq!(
                scaffolded["spec"][field],
                bundled["spec"][field],
                "{}: spec.{field}",
                path.display()
            );
        }
    }
}

#[test]
#[ignore = "needs kwctl and policy-server: run by make test"]
fn the_artifact_hub_package_is_what_kwctl_scaffolds() {
    let kwctl = kwctl();
    let root = repo_root();
    let version = env!("CARGO_PKG_VERSION");
    let (ok, out, err) = run_kwctl(
        &kwctl,
        &[
            "scaffold",
            "artifacthub",
            "-m",
            root.join("metadata.yml").to_str().unwrap(),
            "-q",
            root.join("questions-ui.yml").to_str().unwrap(),
            "-v",
            version,
        ],
    );
    assert!(ok, "kwctl scaffold artifacthub failed: {err}");
    let mut scaffolded: Value = serde_yaml::from_str(&out).unwrap();
    let mut committed: Value =
        serde_yaml::from_str(&std::fs::read_to_string(root.join("artifacthub-pkg.yml")).unwrap())
            .unwrap();
    // Only the creation time differs from run to run.
    scaffolded["createdAt"] = Value::Null;
    committed["createdAt"] = Value::Null;
    assert_eq!(
        scaffolded, committed,
        "artifacthub-pkg.yml is not what `make artifacthub-pkg.yml` generates"
    );
}
