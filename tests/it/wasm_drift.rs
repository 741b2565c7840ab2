//! Drift alerts checked against what each metric means, on the release .wasm, with
//! promtool as the judge that completed and accepted alerts fire on drift only.

use std::process::Command;

use crate::common::*;
use serde_json::{json, Value};

fn alert(expr: &str, extra: Value) -> Value {
    let mut r = request("seed-prometheusrule");
    let rule = &mut r["object"]["spec"]["groups"][0]["rules"][0];
    rule["expr"] = json!(expr);
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            rule.as_object_mut().unwrap().remove(k);
        } else {
            rule[k] = v.clone();
        }
    }
    r
}

#[test]
fn wrong_way_comparison_is_rejected_with_how_to_write_it() {
    let r = validate(
        &alert(
            r#"trustyai_meanshift{namespace="user1-test"} > 0.05"#,
            json!({}),
        ),
        &workshop_settings(),
    );
    assert!(!r.allowed);
    let m = message(&r);
    assert!(m.contains("(spec.groups[0].rules[0].expr)"), "{m}");
    assert!(m.contains("would fire when there is no drift"), "{m}");
    assert!(m.contains("write `trustyai_meanshift < 0.05`"), "{m}");
}

#[test]
fn threshold_outside_the_range_is_rejected() {
    for (expr, expected) in [
        ("trustyai_kstest < 5", "would always fire"),
        ("trustyai_kstest < 0", "would never fire"),
        ("trustyai_fouriermmd > 1", "would never fire"),
        ("trustyai_spd > 0.05", "fair inside [-0.1, 0.1]"),
    ] {
        let r = validate(&alert(expr, json!({})), &workshop_settings());
        assert!(!r.allowed, "{expr}");
        assert!(message(&r).contains(expected), "{expr}: {}", message(&r));
    }
}

#[test]
fn bare_selector_gets_default_comparison_for_and_labels() {
    let req = alert(
        "trustyai_comparemeans",
        json!({"for": null, "labels": null}),
    );
    let r = validate(&req, &workshop_settings());
    assert!(r.allowed, "{:?}", r.status);
    let mutated = r.mutated_object.as_ref().unwrap();
    assert_eq!(
        select(mutated, "$.spec.groups[0].rules[0].expr"),
        r#"trustyai_comparemeans{namespace="user1-test"} < 0.05"#
    );
    assert_eq!(select(mutated, "$.spec.groups[0].rules[0].for"), "10m");
    assert_eq!(
        select(mutated, "$.spec.groups[0].rules[0].labels.severity"),
        "warning"
    );
    let joined = r.warnings.join("\n");
    for part in [
        "expr: scoped",
        "expr: added the default comparison",
        "rules[0].for: set to \"10m\"",
        "labels.severity: set to \"warning\"",
    ] {
        assert!(joined.contains(part), "{part} missing from {joined}");
    }
    assert_idempotent(&req, &workshop_settings(), &r);
}

#[test]
fn existing_labels_and_for_are_never_changed() {
    let r = validate(&request("seed-prometheusrule"), &workshop_settings());
    let changed: Vec<Value> = patch_ops(&r)
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op["path"].clone())
        .collect();
    assert_eq!(
        changed,
        [json!("/spec/groups/0/rules/0/labels/namespace")],
        "severity: critical and for: 10m stay"
    );
}

#[test]
fn for_is_checked_against_min_for() {
    for (for_value, expected) in [
        ("30s", "shorter than the minimum \"1m\""),
        ("0s", "shorter"),
        ("ten minutes", "not a Prometheus duration"),
    ] {
        let r = validate(
            &alert("trustyai_meanshift < 0.05", json!({"for": for_value})),
            &workshop_settings(),
        );
        assert!(!r.allowed, "{for_value}");
        assert!(
            message(&r).contains(expected),
            "{for_value}: {}",
            message(&r)
        );
    }
    let mut lenient = workshop_settings();
    lenient["minFor"] = json!("");
    lenient["defaultFor"] = json!("");
    let r = validate(
        &alert("trustyai_meanshift < 0.05", json!({"for": "0s"})),
        &lenient,
    );
    assert!(r.allowed);
    let r = validate(
        &alert("trustyai_meanshift < 0.05", json!({"for": null})),
        &lenient,
    );
    assert!(r.allowed);
    assert!(
        r.warnings.iter().all(|w| !w.contains(".for")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn recording_rules_are_only_scoped_and_pinned() {
    let mut req = request("seed-prometheusrule");
    req["object"]["spec"]["groups"][0]["rules"][0] =
        json!({"record": "x:meanshift", "expr": "trustyai_meanshift > 0.05"});
    let r = validate(&req, &workshop_settings());
    assert!(r.allowed);
    assert_eq!(
        patch_ops(&r),
        json!([
            {"op": "replace", "path": "/spec/groups/0/rules/0/expr", "value": r#"trustyai_meanshift{namespace="user1-test"} > 0.05"#},
            {"op": "add", "path": "/spec/groups/0/rules/0/labels", "value": {"namespace": "user1-test"}},
        ])
    );
}

#[test]
fn the_catalog_can_be_extended_and_overridden() {
    let mut settings = workshop_settings();
    settings["driftMetrics"] = json!({
        "my_drift_score": {"direction": "above", "threshold": 0.9, "range": [0, 1]},
        "trustyai_spd": null,
    });
    let r = validate(&alert("my_drift_score < 0.9", json!({})), &settings);
    assert_rejected(&r, "write `my_drift_score > 0.9`");
    let r = validate(&alert("trustyai_spd > 0.05", json!({})), &settings);
    assert!(r.allowed, "trustyai_spd was removed from the catalog");
}

// ---- promtool: each catalog metric's accepted or completed alert fires on drift only ----

fn admitted(request: &Value) -> Value {
    let r = validate(request, &workshop_settings());
    assert!(r.allowed, "{:?}", r.status);
    r.mutated_object
        .unwrap_or_else(|| request["object"].clone())
}

fn promtool_fires(object: &Value, metric: &str, value: &str) -> bool {
    let rule = &object["spec"]["groups"][0]["rules"][0];
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "tenant-alerting-policy-{}-drift-{call}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("rules.yaml"),
        serde_json::to_vec(&json!({"groups": object["spec"]["groups"]})).unwrap(),
    )
    .unwrap();
    // Fires: exactly one alert with the series' labels. promtool fails the test when the
    // expectation (fires or silent) is wrong, so ask for "silent" and read the verdict.
    let test = json!({
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [{"series": format!("{metric}{{namespace=\"user1-test\"}}"), "values": format!("{value}x30")}],
            "alert_rule_test": [{"eval_time": "20m", "alertname": rule["alert"], "exp_alerts": []}],
        }],
    });
    std::fs::write(dir.join("test.yaml"), serde_json::to_vec(&test).unwrap()).unwrap();
    let out = Command::new("promtool")
        .arg("test")
        .arg("rules")
        .arg(dir.join("test.yaml"))
        .output()
        .expect("promtool on PATH (make deps)");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() || text.contains("got:"),
        "promtool could not run the test:\n{text}"
    );
    !out.status.success()
}

#[test]
fn every_catalog_metric_fires_on_drift_and_stays_silent_when_healthy() {
    // (metric, expression as written, a drifting value, a healthy value)
    for (metric, expr, drifting, healthy) in [
        (
            "trustyai_meanshift",
            "trustyai_meanshift < 0.05",
            "0.01",
            "0.5",
        ),
        (
            "trustyai_comparemeans",
            "trustyai_comparemeans",
            "0.01",
            "0.5",
        ),
        ("trustyai_kstest", "0.05 > trustyai_kstest", "0.001", "0.9"),
        (
            "trustyai_approxkstest",
            "min_over_time(trustyai_approxkstest[5m]) < 0.05",
            "0.01",
            "0.3",
        ),
        ("trustyai_fouriermmd", "trustyai_fouriermmd", "0.95", "0.2"),
        ("trustyai_spd", "trustyai_spd", "0.3", "0.02"),
        ("trustyai_spd", "trustyai_spd", "-0.3", "-0.05"),
        ("trustyai_dir", "trustyai_dir", "0.5", "1.0"),
        ("trustyai_dir", "trustyai_dir > 1.2", "1.6", "1.1"),
    ] {
        let object = admitted(&alert(expr, json!({"labels": {"severity": "critical"}})));
        assert!(
            promtool_fires(&object, metric, drifting),
            "{expr}: silent on drifting value {drifting}"
        );
        assert!(
            !promtool_fires(&object, metric, healthy),
            "{expr}: fired on healthy value {healthy}"
        );
    }
}

#[test]
fn seed_rule_fires_at_p_001_for_10m_and_not_at_05() {
    let mut object = admitted(&request("seed-prometheusrule"));
    // The series in promtool_fires carry only the namespace; match on that.
    object["spec"]["groups"][0]["rules"][0]["expr"] =
        json!(r#"trustyai_meanshift{namespace="user1-test"}<0.05"#);
    assert!(promtool_fires(&object, "trustyai_meanshift", "0.01"));
    assert!(!promtool_fires(&object, "trustyai_meanshift", "0.5"));
}
