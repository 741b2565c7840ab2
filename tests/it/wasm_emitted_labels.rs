//! What a rule *emits* stays in its namespace, and an alert means what it says: the
//! hostile rules a tenant can write, through the release .wasm.

use crate::common::*;
use policy_runner::AdmissionResponse;
use serde_json::{json, Value};

const DRIFTING: &str =
    r#"trustyai_meanshift{namespace="user1-test",subcategory="danceability"} < 0.05"#;

/// The seed PrometheusRule with its one rule replaced by `rule`.
fn with_rule(rule: Value) -> Value {
    let mut r = request("seed-prometheusrule");
    r["object"]["spec"]["groups"][0]["rules"] = json!([rule]);
    r
}

fn alert(expr: &str) -> Value {
    json!({"alert": "a", "expr": expr, "for": "10m", "labels": {"severity": "critical"}})
}

fn stored_label(r: &AdmissionResponse, rule: usize) -> Value {
    select(
        r.mutated_object.as_ref().expect("a patch"),
        &format!("$.spec.groups[0].rules[{rule}].labels.namespace"),
    )
    .clone()
}

#[test]
fn every_rule_leaves_with_its_namespace_label() {
    for expr in [
        format!(r#"label_replace({DRIFTING}, "namespace", "user2-test", "", "")"#),
        format!(r#"label_join({DRIFTING}, "namespace", "", "subcategory")"#),
        format!("min({DRIFTING})"),
    ] {
        let req = with_rule(alert(&expr));
        let r = validate(&req, &workshop_settings());
        assert!(r.allowed, "{expr}: {:?}", r.status);
        assert_eq!(stored_label(&r, 0), "user1-test", "{expr}");
        assert_eq!(
            r.warnings,
            [
                r#"[rules/namespace-label] spec.groups[0].rules[0].labels.namespace: set to "user1-test" (rule labels override the expression's, so what this rule emits stays in its namespace)"#
            ],
            "{expr}"
        );
        assert_eq!(
            patch_ops(&r),
            json!([{"op": "add", "path": "/spec/groups/0/rules/0/labels/namespace", "value": "user1-test"}]),
            "{expr}: only the label is added"
        );
        assert_idempotent(&req, &workshop_settings(), &r);
    }
}

#[test]
fn recording_rules_are_pinned_too_and_labels_is_created_when_missing() {
    let req = with_rule(json!({"record": "user1:drift:min", "expr": "min(trustyai_meanshift)"}));
    let r = validate(&req, &workshop_settings());
    assert!(r.allowed, "{:?}", r.status);
    let rule = select(
        r.mutated_object.as_ref().unwrap(),
        "$.spec.groups[0].rules[0]",
    );
    assert_eq!(rule["labels"], json!({"namespace": "user1-test"}));
    assert_eq!(
        rule["expr"],
        r#"min(trustyai_meanshift{namespace="user1-test"})"#
    );
    assert_idempotent(&req, &workshop_settings(), &r);
}

#[test]
fn a_rule_that_already_carries_the_label_gets_no_patch() {
    let mut rule = alert(DRIFTING);
    rule["labels"]["namespace"] = json!("user1-test");
    let r = validate(&with_rule(rule), &workshop_settings());
    assert!(r.allowed && r.patch.is_none(), "{:?}", patch_ops(&r));
}

#[test]
fn a_label_naming_another_namespace_is_a_conflict() {
    let mut rule = alert(DRIFTING);
    rule["labels"]["namespace"] = json!("user2-test");
    let req = with_rule(rule);
    assert_rejected(
        &validate(&req, &workshop_settings()),
        r#"group "jukebox.rules" alert "a" (spec.groups[0].rules[0].labels.namespace): "user2-test" conflicts with namespace "user1-test""#,
    );
    let mut overwrite = workshop_settings();
    overwrite["onConflict"] = json!("overwrite");
    let r = validate(&req, &overwrite);
    assert_eq!(stored_label(&r, 0), "user1-test");
}

#[test]
fn group_labels_are_refused_as_prometheus_2_42_refuses_them() {
    // Group labels came with Prometheus 3.0; 2.42 does not load a rule file that has them.
    let mut req = with_rule(alert(DRIFTING));
    req["object"]["spec"]["groups"][0]["labels"] = json!({"namespace": "user2-test", "team": "a"});
    let mut overwrite = workshop_settings();
    overwrite["onConflict"] = json!("overwrite");
    for settings in [workshop_settings(), overwrite] {
        assert_rejected(
            &validate(&req, &settings),
            "[object/loads] spec.groups[0].labels: group field `labels` came with Prometheus 3.0; Prometheus 2.42 refuses a rule file that has it: put these labels in each rule's `labels`",
        );
    }
}

#[test]
fn an_alert_over_a_bool_comparison_is_rejected() {
    for expr in [
        "trustyai_meanshift < bool 0.05".to_owned(),
        "min(trustyai_meanshift) < bool 0.05 and on() vector(1)".to_owned(),
        format!("max_over_time(({DRIFTING} < bool 1)[5m:])"),
    ] {
        assert_rejected(
            &validate(&with_rule(alert(&expr)), &workshop_settings()),
            r#"group "jukebox.rules" alert "a" (spec.groups[0].rules[0].expr): its result is a `bool` comparison"#,
        );
    }
    // Filtered again, or in a recording rule, `bool` is fine.
    let filtered = validate(
        &with_rule(alert("(trustyai_meanshift < bool 0.05) == 1")),
        &workshop_settings(),
    );
    assert!(filtered.allowed, "{:?}", filtered.status);
    let recorded = validate(
        &with_rule(json!({"record": "drifting", "expr": "trustyai_meanshift < bool 0.05"})),
        &workshop_settings(),
    );
    assert!(recorded.allowed, "{:?}", recorded.status);
}

#[test]
fn an_alert_label_that_templates_the_value_is_rejected() {
    for template in ["{{ $value }}", "{{ humanize $value }}", "p={{.Value}}"] {
        let mut rule = alert(DRIFTING);
        rule["labels"]["p"] = json!(template);
        assert_rejected(
            &validate(&with_rule(rule), &workshop_settings()),
            r#"group "jukebox.rules" alert "a" (spec.groups[0].rules[0].labels.p): "#,
        );
    }
    // Annotations may say the value; labels may name other labels.
    let mut rule = alert(DRIFTING);
    rule["annotations"] = json!({"message": "p-value {{ $value }}"});
    rule["labels"]["model"] = json!("{{ $labels.model }}");
    rule["labels"]["namespace"] = json!("user1-test");
    let r = validate(&with_rule(rule), &workshop_settings());
    assert!(r.allowed && r.patch.is_none(), "{:?}", r.status);
}

#[test]
fn a_custom_tenant_pattern_matches_the_whole_namespace() {
    let mut settings = workshop_settings();
    settings["tenantPattern"] = json!("(?P<user>[a-z0-9]+)-(test|prod)");
    for namespace in ["evil-user1-test", "user1-test-x"] {
        let mut req = request("seed-alertmanagerconfig");
        req["namespace"] = json!(namespace);
        req["object"]["metadata"]["namespace"] = json!(namespace);
        assert_rejected(
            &validate(&req, &settings),
            &format!("namespace {namespace:?} does not match the tenant pattern"),
        );
    }
    let r = validate(&request("seed-alertmanagerconfig"), &settings);
    assert!(r.allowed, "{:?}", r.status);
}
