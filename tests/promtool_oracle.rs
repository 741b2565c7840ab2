//! Prometheus's own tool judges the PromQL the policy emits: every accepted
//! PrometheusRule passes `promtool check rules`, and `promtool test rules` shows the
//! seed's alert firing on its namespace's series and never on another namespace's.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::{json, Value};

fn promtool() -> &'static str {
    let found = Command::new("promtool").arg("--version").output();
    assert!(
        found.map(|o| o.status.success()).unwrap_or(false),
        "promtool is not on PATH: `make deps` installs it (Debian package prometheus)"
    );
    "promtool"
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tenant-alerting-policy-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The rule file Prometheus would load for a PrometheusRule (its `spec`, as the operator
/// writes it into the rule ConfigMap). JSON is YAML, so it is written as JSON.
fn write_rule_file(dir: &Path, object: &Value) -> PathBuf {
    let path = dir.join("rules.yaml");
    let file = json!({"groups": object["spec"]["groups"]});
    std::fs::write(&path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
    path
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The object the API server stores after this policy: the mutated one, or the original.
fn admitted(request: &Value, settings: &Value) -> Option<Value> {
    let r = validate(request, settings);
    r.allowed.then(|| {
        r.mutated_object
            .unwrap_or_else(|| request["object"].clone())
    })
}

#[test]
fn every_admitted_prometheusrule_passes_promtool_check_rules() {
    let tool = promtool();
    let dir = repo_root().join("tests/fixtures/requests");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let request = read_json(&entry.unwrap().path());
        if request["kind"]["kind"] != "PrometheusRule" || request["operation"] == "DELETE" {
            continue;
        }
        let mut overwrite = workshop_settings();
        overwrite["onConflict"] = json!("overwrite");
        for settings in [workshop_settings(), overwrite] {
            let Some(object) = admitted(&request, &settings) else {
                continue;
            };
            let scratch = scratch_dir(&format!("check-{checked}"));
            let rules = write_rule_file(&scratch, &object);
            let (ok, out) = run(Command::new(tool).arg("check").arg("rules").arg(&rules));
            assert!(
                ok,
                "promtool check rules failed for {}:\n{out}",
                request["uid"]
            );
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} rule files checked");
}

/// A `promtool test rules` file for the seed's alert over two namespaces' series.
fn drift_test(object: &Value, own_value: &str, other_value: &str, expect_alerts: Value) -> Value {
    let rule = &object["spec"]["groups"][0]["rules"][0];
    json!({
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [
                {"series": r#"trustyai_meanshift{namespace="user1-test",subcategory="danceability"}"#,
                 "values": format!("{own_value}x30")},
                {"series": r#"trustyai_meanshift{namespace="user2-test",subcategory="danceability"}"#,
                 "values": format!("{other_value}x30")},
            ],
            "alert_rule_test": [{
                "eval_time": "20m",
                "alertname": rule["alert"],
                "exp_alerts": expect_alerts,
            }],
        }],
    })
}

fn firing_in(object: &Value, namespace: &str) -> Value {
    let rule = &object["spec"]["groups"][0]["rules"][0];
    let mut labels = rule["labels"].clone();
    labels["namespace"] = json!(namespace);
    labels["subcategory"] = json!("danceability");
    json!([{"exp_labels": labels, "exp_annotations": rule["annotations"]}])
}

fn promtool_test(name: &str, object: &Value, test: &Value) -> (bool, String) {
    let scratch = scratch_dir(name);
    write_rule_file(&scratch, object);
    let test_file = scratch.join("test.yaml");
    std::fs::write(&test_file, serde_json::to_vec_pretty(test).unwrap()).unwrap();
    run(Command::new(promtool())
        .arg("test")
        .arg("rules")
        .arg(&test_file))
}

#[test]
fn seed_alert_fires_on_its_own_namespace_only() {
    let seed = admitted(&request("seed-prometheusrule"), &workshop_settings()).unwrap();
    // Own namespace drifts (p-value 0.01 for 20m): fires, with the namespace's labels.
    let test = drift_test(&seed, "0.01", "0.5", firing_in(&seed, "user1-test"));
    let (ok, out) = promtool_test("seed-own", &seed, &test);
    assert!(ok, "{out}");
    // Only the other namespace drifts: silent.
    let test = drift_test(&seed, "0.5", "0.01", json!([]));
    let (ok, out) = promtool_test("seed-other", &seed, &test);
    assert!(ok, "{out}");
}

#[test]
fn a_rule_without_matcher_leaks_before_the_policy_and_not_after() {
    let request = request("prometheusrule-no-matcher");
    let before = request["object"].clone();
    // Before: the unscoped rule fires on the other tenant's drift.
    let test = drift_test(&before, "0.5", "0.01", firing_in(&before, "user2-test"));
    let (ok, out) = promtool_test("leak-before", &before, &test);
    assert!(
        ok,
        "the unscoped rule was expected to fire on user2-test:\n{out}"
    );

    let after = admitted(&request, &workshop_settings()).unwrap();
    assert_ne!(before, after);
    let test = drift_test(&after, "0.5", "0.01", json!([]));
    let (ok, out) = promtool_test("leak-after", &after, &test);
    assert!(ok, "{out}");
    let test = drift_test(&after, "0.01", "0.5", firing_in(&after, "user1-test"));
    let (ok, out) = promtool_test("own-after", &after, &test);
    assert!(ok, "{out}");
}

/// The seed with its alert's annotations replaced.
fn seed_with_annotations(annotations: Value) -> Value {
    let mut request = request("seed-prometheusrule");
    request["object"]["spec"]["groups"][0]["rules"][0]["annotations"] = annotations;
    request
}

#[test]
fn an_admitted_annotation_template_loads_and_expands_in_prometheus() {
    let template = "{{ $labels.namespace }} p={{ $value }}";
    let object = admitted(
        &seed_with_annotations(json!({"message": template})),
        &workshop_settings(),
    )
    .expect("a harmless annotation template is admitted");
    let scratch = scratch_dir("template-check");
    let rules = write_rule_file(&scratch, &object);
    let (ok, out) = run(Command::new(promtool())
        .arg("check")
        .arg("rules")
        .arg(&rules));
    assert!(ok, "promtool check rules failed:\n{out}");
    // And Prometheus expands it as written: the namespace's own label and value.
    let mut expected = firing_in(&object, "user1-test");
    expected[0]["exp_annotations"] = json!({"message": "user1-test p=0.01"});
    let test = drift_test(&object, "0.01", "0.5", expected);
    let (ok, out) = promtool_test("template-expand", &object, &test);
    assert!(ok, "{out}");
}

#[test]
fn templates_the_policy_refuses_as_malformed_promtool_refuses_too() {
    for template in [
        "p={{ $value",
        "{{ .Values.x | quote }}",
        "{{ $nope }}",
        "{{ if 1 }}x",
    ] {
        let request = seed_with_annotations(json!({"message": template}));
        assert!(
            admitted(&request, &workshop_settings()).is_none(),
            "{template} admitted"
        );
        let scratch = scratch_dir("template-refused");
        let rules = write_rule_file(&scratch, &request["object"]);
        let (ok, out) = run(Command::new(promtool())
            .arg("check")
            .arg("rules")
            .arg(&rules));
        assert!(!ok, "promtool accepted {template}:\n{out}");
    }
}
