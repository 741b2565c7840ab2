//! Nothing around an expression crosses the tenant boundary (issue 16): label and
//! annotation templates, `count_values`, `bool` filters, `info()` and the routing label,
//! each bug report through the release .wasm.

use crate::common::*;
use policy_runner::AdmissionResponse;
use serde_json::{json, Value};

const DRIFTING: &str =
    r#"trustyai_meanshift{namespace="user1-test",subcategory="danceability"} < 0.05"#;

const LEAK: &str = r#"{{ with query "secret_metric{namespace=\"user2-test\"}" }}{{ range . }}{{ .Labels.token }}={{ .Value }}{{ end }}{{ end }}"#;

/// The seed PrometheusRule with its one rule replaced by `rule`.
fn with_rule(rule: Value) -> Value {
    let mut r = request("seed-prometheusrule");
    r["object"]["spec"]["groups"][0]["rules"] = json!([rule]);
    r
}

fn alert(expr: &str) -> Value {
    json!({"alert": "a", "expr": expr, "for": "10m", "labels": {"severity": "critical"}})
}

fn alert_with(field: &str, key: &str, template: &str) -> Value {
    let mut rule = alert(DRIFTING);
    rule[field][key] = json!(template);
    rule
}

const AT_RULE: &str = r#"group "jukebox.rules" alert "a" (spec.groups[0].rules[0]."#;

fn rejected_at(response: &AdmissionResponse, field: &str, what: &str) {
    assert_rejected(response, &format!("{AT_RULE}{field}): "));
    assert_rejected(response, what);
}

#[test]
fn query_is_rejected_in_annotations_and_labels() {
    for (field, key) in [("annotations", "message"), ("labels", "token")] {
        let r = validate(
            &with_rule(alert_with(field, key, LEAK)),
            &workshop_settings(),
        );
        rejected_at(
            &r,
            &format!("{field}.{key}"),
            "calls `query` (at byte 8), which runs PromQL over every namespace's series",
        );
    }
}

#[test]
fn labels_that_move_with_the_value_are_rejected() {
    for (name, template, what) in [
        (
            "a }} inside a string",
            r#"{{ print "}}" $value }}"#,
            "depends on the alert's value through `$value` (at byte 14)",
        ),
        (
            "query's first value",
            r#"{{ with query "trustyai_meanshift" }}{{ . | first | value }}{{ end }}"#,
            "calls `query`",
        ),
    ] {
        let r = validate(
            &with_rule(alert_with("labels", "p", template)),
            &workshop_settings(),
        );
        assert!(!r.allowed, "{name}");
        rejected_at(&r, "labels.p", what);
    }
    // Group labels (Prometheus 3) are refused whole: Prometheus 2.42 does not load them.
    let mut req = with_rule(alert(DRIFTING));
    req["object"]["spec"]["groups"][0]["labels"] = json!({"p": "{{ $value }}"});
    assert_rejected(
        &validate(&req, &workshop_settings()),
        "spec.groups[0].labels: group field `labels` came with Prometheus 3.0",
    );
}

#[test]
fn unknown_functions_and_broken_templates_are_rejected() {
    rejected_at(
        &validate(
            &with_rule(alert_with("annotations", "message", "{{ .Values.x | quote }}")),
            &workshop_settings(),
        ),
        "annotations.message",
        "calls `quote` (at byte 15), which is neither a Go template builtin nor a Prometheus template function",
    );
    rejected_at(
        &validate(
            &with_rule(alert_with("annotations", "message", "p={{ $value")),
            &workshop_settings(),
        ),
        "annotations.message",
        "is not a valid Go template: unclosed action at byte 11",
    );
}

#[test]
fn count_values_as_the_result_is_rejected() {
    let expr = format!(r#"count_values("p", {DRIFTING})"#);
    rejected_at(
        &validate(&with_rule(alert(&expr)), &workshop_settings()),
        "expr",
        r#"its result comes from `count_values("p", …)`, which puts each sample's value in label "p""#,
    );
}

#[test]
fn a_bool_filter_passing_both_0_and_1_always_fires() {
    let expr = r#"(trustyai_meanshift{namespace="user1-test",subcategory="danceability"} < bool 0.05) >= 0"#;
    rejected_at(
        &validate(&with_rule(alert(expr)), &workshop_settings()),
        "expr",
        "filtered by `… >= 0`, which passes both 0 and 1",
    );
    for filtering in [
        "(trustyai_meanshift < bool 0.05) == 1",
        "(trustyai_meanshift < bool 0.05) > 0",
    ] {
        let r = validate(&with_rule(alert(filtering)), &workshop_settings());
        assert!(r.allowed, "{filtering}: {:?}", r.status);
    }
}

#[test]
fn one_argument_info_is_rejected_in_every_rule() {
    for rule in [
        alert("info(up) == 0"),
        json!({"record": "user1:up:info", "expr": "info(up)"}),
    ] {
        // Without the experimental functions Prometheus refuses info() outright.
        let r = validate(&with_rule(rule.clone()), &workshop_settings());
        assert_rejected(
            &r,
            "`info` needs Prometheus's feature flag promql-experimental-functions",
        );
        // With them, the one-argument form is still refused: it reads every namespace.
        let mut experimental = workshop_settings();
        experimental["prometheusFeatures"] = json!(["promql-experimental-functions"]);
        let r = validate(&with_rule(rule.clone()), &experimental);
        assert_rejected(
            &r,
            "(spec.groups[0].rules[0].expr): `info(up{namespace=\"user1-test\"})",
        );
        assert_rejected(
            &r,
            r#"write the selector as the second argument: `info(<expr>, {namespace="user1-test"})`"#,
        );
    }
}

#[test]
fn the_routing_label_is_pinned_whatever_namespace_label_says() {
    let mut settings = workshop_settings();
    settings["namespaceLabel"] = json!("kubernetes_namespace");
    let expr = format!(r#"label_replace({DRIFTING}, "namespace", "user2-test", "", "")"#);
    let req = with_rule(alert(&expr));
    let r = validate(&req, &settings);
    assert!(r.allowed, "{:?}", r.status);
    let labels = select(
        r.mutated_object.as_ref().expect("a patch"),
        "$.spec.groups[0].rules[0].labels",
    );
    assert_eq!(labels["namespace"], "user1-test");
    assert_eq!(labels["kubernetes_namespace"], "user1-test");
    let ops = patch_ops(&r);
    assert!(
        ops.as_array().unwrap().contains(
            &json!({"op": "add", "path": "/spec/groups/0/rules/0/labels/namespace", "value": "user1-test"})
        ),
        "{ops}"
    );
    assert_idempotent(&req, &settings, &r);
}

#[test]
fn harmless_templates_and_the_seed_stay_admitted() {
    let r = validate(&request("seed-prometheusrule"), &workshop_settings());
    assert!(r.allowed, "{:?}", r.status);
    let mut rule = alert(DRIFTING);
    rule["labels"]["model"] = json!("{{ $labels.namespace }}");
    rule["labels"]["literal"] = json!("a }} b");
    rule["annotations"] = json!({
        "summary": "{{ $labels.namespace }} p={{ $value }}",
        "h": "{{ humanize $value }}",
        "f": r#"{{ printf "%.2f" $value }}"#,
    });
    let r = validate(&with_rule(rule), &workshop_settings());
    assert!(r.allowed, "{:?}", r.status);
}
