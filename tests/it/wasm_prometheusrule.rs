//! PrometheusRule scoping, driven through the release .wasm as policy-server drives it.

use crate::common::*;
use serde_json::{json, Value};

/// The seed's expression scoped in place: the matcher goes first, every other byte stays.
const SCOPED_SEED_EXPR: &str =
    r#"trustyai_meanshift{namespace="user1-test", subcategory="danceability"}<0.05"#;

/// The warning and patch op of the namespace label every rule is given.
const LABEL_WARNING: &str = r#"[rules/namespace-label] spec.groups[0].rules[0].labels.namespace: set to "user1-test" (rule labels override the expression's, so what this rule emits stays in its namespace)"#;

fn label_op() -> Value {
    json!({"op": "add", "path": "/spec/groups/0/rules/0/labels/namespace", "value": "user1-test"})
}

fn defaults() -> Value {
    workshop_settings()
}

fn overwrite() -> Value {
    let mut s = workshop_settings();
    s["onConflict"] = json!("overwrite");
    s
}

fn with_expr(expr: Value) -> Value {
    let mut r = request("seed-prometheusrule");
    r["object"]["spec"]["groups"][0]["rules"][0]["expr"] = expr;
    r
}

#[test]
fn speaks_protocol_v1() {
    assert_eq!(instance().protocol_version().unwrap(), "v1");
}

#[test]
fn settings_are_validated_with_messages() {
    let i = instance();
    assert!(i.validate_settings(&defaults()).unwrap().valid);
    assert!(i.validate_settings(&overwrite()).unwrap().valid);
    assert!(
        !i.validate_settings(&json!({})).unwrap().valid,
        "clusterDomain is required"
    );
    let bad = i
        .validate_settings(&json!({"namespaceLabel": "not a label", "clusterDomain": "a.io"}))
        .unwrap();
    assert!(!bad.valid);
    assert!(bad.message.unwrap().starts_with("namespaceLabel:"));
    let typo = i
        .validate_settings(&json!({"onConflict": "drop", "clusterDomain": "a.io"}))
        .unwrap();
    assert!(!typo.valid);
    assert!(typo.message.unwrap().contains("unknown variant `drop`"));
}

#[test]
fn seed_prometheusrule_gets_only_its_namespace_label() {
    let req = request("seed-prometheusrule");
    let r = validate(&req, &defaults());
    assert!(r.allowed);
    assert_eq!(patch_ops(&r), json!([label_op()]));
    assert_eq!(r.warnings, [LABEL_WARNING]);
    assert_idempotent(&req, &defaults(), &r);
    // Once it carries the label, it passes with no patch at all.
    let r = validate(
        &with_object(&req, r.mutated_object.clone().unwrap()),
        &defaults(),
    );
    assert!(r.patch.is_none() && r.patch_type.is_none() && r.mutated_object.is_none());
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn missing_matcher_is_added_with_a_minimal_patch() {
    let req = request("prometheusrule-no-matcher");
    let r = validate(&req, &defaults());
    assert!(r.allowed);
    assert_eq!(r.patch_type.as_deref(), Some("JSONPatch"));
    assert_eq!(
        patch_ops(&r),
        json!([{"op": "replace", "path": "/spec/groups/0/rules/0/expr", "value": SCOPED_SEED_EXPR}, label_op()])
    );
    let mutated = r.mutated_object.as_ref().unwrap();
    assert_eq!(
        select(mutated, "$.spec.groups[0].rules[0].expr"),
        SCOPED_SEED_EXPR
    );
    // Everything else stays as it came.
    assert_eq!(select(mutated, "$.spec.groups[0].rules[0].for"), "10m");
    assert_eq!(
        r.warnings,
        vec![
            LABEL_WARNING,
            r#"[expr/scope] spec.groups[0].rules[0].expr: scoped to namespace "user1-test""#
        ]
    );
    assert_idempotent(&req, &defaults(), &r);
}

#[test]
fn unrendered_helm_template_is_replaced() {
    let req = request("prometheusrule-unrendered-template");
    let r = validate(&req, &defaults());
    assert!(r.allowed);
    assert_eq!(
        select(
            r.mutated_object.as_ref().unwrap(),
            "$.spec.groups[0].rules[0].expr"
        ),
        SCOPED_SEED_EXPR
    );
    assert!(
        r.warnings.iter().any(|w| w.contains("unrendered template")),
        "{:?}",
        r.warnings
    );
    assert_idempotent(&req, &defaults(), &r);
}

#[test]
fn another_namespace_is_rejected_naming_group_rule_matcher_and_namespace() {
    let r = validate(&request("prometheusrule-other-namespace"), &defaults());
    assert!(!r.allowed);
    let m = message(&r);
    for part in [
        r#"group "jukebox.rules""#,
        r#"alert "jukebox-datadrift-alert""#,
        "spec.groups[0].rules[0].expr",
        r#"namespace="user2-test""#,
        r#"namespace "user1-test""#,
    ] {
        assert!(m.contains(part), "{part} missing from: {m}");
    }
    assert!(r.patch.is_none());
}

#[test]
fn another_namespace_is_overwritten_when_set_to() {
    let req = request("prometheusrule-other-namespace");
    let r = validate(&req, &overwrite());
    assert!(r.allowed);
    assert_eq!(
        select(
            r.mutated_object.as_ref().unwrap(),
            "$.spec.groups[0].rules[0].expr"
        ),
        SCOPED_SEED_EXPR
    );
    assert_eq!(
        r.warnings,
        vec![
            LABEL_WARNING,
            r#"[expr/scope] spec.groups[0].rules[0].expr: overwrote matcher namespace="user2-test" with namespace="user1-test""#
        ]
    );
    assert_idempotent(&req, &overwrite(), &r);
}

#[test]
fn a_regex_that_matches_the_namespace_is_still_a_conflict() {
    let req = request("prometheusrule-update-other-namespace");
    let r = validate(&req, &defaults());
    assert_rejected(&r, r#"namespace=~"user.*""#);
    let r = validate(&req, &overwrite());
    assert!(r.allowed);
    assert_idempotent(&req, &overwrite(), &r);
}

#[test]
fn recording_rules_and_aggregation_parameters_are_scoped() {
    let req = request("prometheusrule-recording-rules");
    let r = validate(&req, &defaults());
    assert!(r.allowed);
    let ops = patch_ops(&r);
    let paths: Vec<&str> = ops
        .as_array()
        .unwrap()
        .iter()
        .map(|op| op["path"].as_str().unwrap())
        .filter(|path| path.ends_with("/expr"))
        .collect();
    assert_eq!(
        paths,
        ["/spec/groups/1/rules/0/expr", "/spec/groups/1/rules/1/expr"]
    );
    let mutated = r.mutated_object.as_ref().unwrap();
    assert_eq!(
        select(mutated, "$.spec.groups[1].rules[1].expr"),
        r#"topk(scalar(max(jukebox_top_n{namespace="user1-test"})), sum by (model) (rate(http_requests_total{namespace="user1-test", code=~"5.."}[5m])))"#
    );
    // An integer expr (int-or-string) has no selector: left as the integer it was.
    assert_eq!(select(mutated, "$.spec.groups[1].rules[2].expr"), &json!(1));
    assert_idempotent(&req, &defaults(), &r);
}

#[test]
fn malformed_objects_are_rejected_with_every_problem_located() {
    let r = validate(&request("prometheusrule-malformed"), &defaults());
    assert!(!r.allowed);
    let m = message(&r);
    assert!(
        m.contains("(spec.groups[0].rules[0].expr): expression does not parse"),
        "{m}"
    );
    assert!(
        m.contains("spec.groups[1].rules: must be a list, found an object"),
        "{m}"
    );

    for (object_patch, expected) in [
        (
            json!({"spec": {"groups": {"name": "x"}}}),
            "spec.groups: must be a list, found an object",
        ),
        (json!({"spec": []}), "spec: must be an object, found a list"),
        (
            json!({"spec": {"groups": [{"name": "g", "rules": [{"alert": "a"}]}]}}),
            "(spec.groups[0].rules[0].expr): is missing",
        ),
        (
            json!({"spec": {"groups": [{"name": "g", "rules": [{"alert": "a", "expr": 1.5}]}]}}),
            "must be a string or an integer, found a number",
        ),
        (
            json!({"spec": {"groups": [{"name": "g", "rules": [{"alert": 7, "expr": "up"}]}]}}),
            "(spec.groups[0].rules[0].alert): must be a string, found a number",
        ),
        (
            json!({"spec": {"groups": [{"name": "g", "rules": [{"expr": "up"}]}]}}),
            "needs `alert`",
        ),
        (
            json!({"spec": {"groups": [{"rules": []}]}}),
            "spec.groups[0].name: is missing",
        ),
        (
            json!({"spec": {"groups": [{"name": "g"}, {"name": "g"}]}}),
            "group name \"g\" is repeated",
        ),
        (
            json!({"spec": {"groups": [null]}}),
            "spec.groups[0]: must be an object, found null",
        ),
    ] {
        let mut req = request("seed-prometheusrule");
        req["object"]["spec"] = object_patch["spec"].clone();
        let r = validate(&req, &defaults());
        assert!(!r.allowed, "{object_patch} accepted");
        assert!(
            message(&r).contains(expected),
            "{object_patch}: {}",
            message(&r)
        );
    }
}

#[test]
fn integer_expressions_are_valid() {
    let r = validate(&with_expr(json!(1)), &defaults());
    assert!(r.allowed, "{:?}", r.status);
    assert_eq!(patch_ops(&r), json!([label_op()]));
}

#[test]
fn delete_connect_and_other_kinds_pass_untouched() {
    for name in ["prometheusrule-delete", "configmap-other-kind"] {
        let r = validate(&request(name), &defaults());
        assert!(r.allowed && r.patch.is_none(), "{name}");
    }
    let mut connect = request("prometheusrule-no-matcher");
    connect["operation"] = json!("CONNECT");
    assert!(validate(&connect, &defaults()).patch.is_none());
}

#[test]
fn exempt_namespaces_are_accepted_untouched() {
    let mut settings = defaults();
    settings["exemptNamespaces"] = json!(["user1-test"]);
    let r = validate(&request("prometheusrule-other-namespace"), &settings);
    assert!(r.allowed && r.patch.is_none());
}

#[test]
fn rule_labels_may_not_claim_another_namespace() {
    let mut req = request("seed-prometheusrule");
    req["object"]["spec"]["groups"][0]["rules"][0]["labels"]["namespace"] = json!("user2-test");
    let r = validate(&req, &defaults());
    assert_rejected(&r, "spec.groups[0].rules[0].labels.namespace");

    let r = validate(&req, &overwrite());
    assert!(r.allowed);
    assert_eq!(
        patch_ops(&r),
        json!([{"op": "replace", "path": "/spec/groups/0/rules/0/labels/namespace", "value": "user1-test"}])
    );

    req["object"]["spec"]["groups"][0]["rules"][0]["labels"]["namespace"] =
        json!("{{ .Release.Namespace }}");
    let r = validate(&req, &defaults());
    assert!(r.allowed && r.patch.is_some());
    assert_idempotent(&req, &defaults(), &r);
}

#[test]
fn another_namespace_label_name_can_be_enforced() {
    let mut settings = defaults();
    settings["namespaceLabel"] = json!("kubernetes_namespace");
    let r = validate(&request("seed-prometheusrule"), &settings);
    assert!(r.allowed);
    assert_eq!(
        select(
            r.mutated_object.as_ref().unwrap(),
            "$.spec.groups[0].rules[0].expr"
        ),
        r#"trustyai_meanshift{kubernetes_namespace="user1-test", namespace="user1-test", subcategory="danceability"}<0.05"#
    );
}

#[test]
fn or_matcher_groups_are_rejected_not_rewritten() {
    // The message names the real reason: no namespace matcher conflicts, and no
    // onConflict setting would help (issue 17, row 9).
    for settings in [overwrite(), defaults()] {
        let r = validate(&with_expr(json!(r#"x{a="1" or b="2"}"#)), &settings);
        assert_rejected(&r, "uses `or` between matchers, which PromQL does not support (Prometheus 2.x refuses it); write one selector per alternative joined by `or`");
        assert!(!message(&r).contains("onConflict"), "{}", message(&r));
        assert!(!message(&r).contains("conflicts with"), "{}", message(&r));
    }
}

/// Mutations that survived every test before (issue 21), on the .wasm: an exemption by
/// prefix, a near-miss namespace taken for the namespace, a request with no namespace.
#[test]
fn exemptions_and_namespaces_are_matched_whole() {
    let foreign = with_expr(json!(r#"x{namespace="user2-test"}"#));
    for exempt in ["user1", "user1-tes", "user1-test-x"] {
        let mut settings = defaults();
        settings["exemptNamespaces"] = json!([exempt]);
        assert_rejected(&validate(&foreign, &settings), "conflicts with namespace");
    }
    let mut settings = defaults();
    settings["exemptNamespaces"] = json!(["user1-test"]);
    let r = validate(&foreign, &settings);
    assert!(r.allowed && r.patch.is_none(), "{:?}", r.status);

    for near in ["user1-testing", "user1-tes", "USER1-TEST"] {
        let r = validate(
            &with_expr(json!(format!("x{{namespace={near:?}}}"))),
            &defaults(),
        );
        assert_rejected(&r, &format!("has matcher namespace={near:?}"));
    }

    // A namespace no API server sends is none either, not replaced by the object's.
    let mut odd = with_expr(json!("x"));
    odd["namespace"] = json!(" ");
    assert_rejected(
        &validate(&odd, &defaults()),
        "the request's namespace \" \" is not a Kubernetes namespace name",
    );

    let mut nowhere = with_expr(json!("x"));
    nowhere["namespace"] = json!("");
    nowhere["object"]["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("namespace");
    assert_rejected(
        &validate(&nowhere, &defaults()),
        "\"PrometheusRule\" has no namespace",
    );
}

#[test]
fn deep_and_long_expressions_are_rejected_not_trapped() {
    for (expr, expected) in [
        (
            format!("{}x{}", "abs(".repeat(1000), ")".repeat(1000)),
            "the limit is 256",
        ),
        (vec!["x"; 20_000].join("+"), "the limit is 16384 bytes"),
        (vec!["x"; 2000].join("+"), "the limit is 256"),
        (
            format!("{}x{}", "max_over_time(".repeat(400), "[5m:])".repeat(400)),
            "the limit is 256",
        ),
    ] {
        let r = validate(&with_expr(json!(expr)), &defaults());
        assert_rejected(&r, expected);
    }
    // Just under the limit is parsed, scoped and printed without trapping.
    let expr = format!("{}x{}", "abs(".repeat(250), ")".repeat(250));
    let r = validate(&with_expr(json!(expr)), &defaults());
    assert!(r.allowed && r.patch.is_some());
}

#[test]
fn every_fixture_gets_an_answer_and_mutations_are_idempotent() {
    // Admitted under (defaults, onConflict: overwrite); every other fixture is refused
    // under both. An admitted object must be scoped, storm-protected and a fixed point.
    let admitted = |name: &str| match name {
        "prometheusrule-other-namespace" | "prometheusrule-update-other-namespace" => (false, true),
        "seed-prometheusrule"
        | "prometheusrule-no-matcher"
        | "prometheusrule-unrendered-template"
        | "prometheusrule-recording-rules"
        | "prometheusrule-delete"
        | "configmap-other-kind"
        | "seed-alertmanagerconfig"
        | "alertmanagerconfig-v1alpha1-correct"
        | "alertmanagerconfig-v1beta1-correct"
        | "alertmanagerconfig-other-user" => (true, true),
        _ => (false, false),
    };
    let dir = repo_root().join("tests/fixtures/requests");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let req = read_json(&path);
        let (by_default, by_overwrite) = admitted(&name);
        for (settings, expected) in [(defaults(), by_default), (overwrite(), by_overwrite)] {
            let r = validate(&req, &settings);
            assert_eq!(r.uid, req["uid"].as_str().unwrap());
            assert_eq!(r.allowed, expected, "{name}: {:?}", r.status);
            if r.allowed {
                assert_idempotent(&req, &settings, &r);
            } else {
                assert!(r.patch.is_none() && !message(&r).is_empty(), "{name}");
            }
        }
        seen += 1;
    }
    assert_eq!(seen, 19, "a fixture was added: give it its verdicts here");
}

/// Issue 17: what promql-parser reads but Prometheus 2.42 (plus `prometheusFeatures`)
/// refuses is rejected, located, before the operator would drop the whole object.
#[test]
fn what_prometheus_refuses_is_rejected_with_its_place() {
    let at = "(spec.groups[0].rules[0].expr): ";
    for (expr, expected) in [
        (
            "trustyai_meanshift{subcategory=\"danceability\"}\x0c<\x0c0.05",
            "`\\f` at byte 46 is not white space to Prometheus (only space, tab, \\n and \\r are); use a space",
        ),
        (
            "a + fill(0) b",
            "the `fill` modifier of a binary operator needs Prometheus's feature flag promql-binop-fill-modifiers",
        ),
        (
            "limitk(1, x)",
            "`limitk` needs Prometheus's feature flag promql-experimental-functions; the cluster's Prometheus features are [] (setting prometheusFeatures)",
        ),
        ("limit_ratio(0.5, x)", "`limit_ratio` needs Prometheus's feature flag promql-experimental-functions"),
        ("info(up)", "`info` needs Prometheus's feature flag promql-experimental-functions"),
        ("mad_over_time(x[5m])", "`mad_over_time` needs"),
        ("sort_by_label(x, \"a\")", "`sort_by_label` needs"),
        ("sort_by_label_desc(x, \"a\")", "`sort_by_label_desc` needs"),
        ("double_exponential_smoothing(x[5m], 0.5, 0.5)", "`double_exponential_smoothing` needs"),
        ("ts_of_max_over_time(x[5m])", "`ts_of_max_over_time` needs"),
        ("first_over_time(x[5m])", "`first_over_time` needs"),
        ("step()", "`step()` needs Prometheus's feature flag promql-experimental-functions"),
        ("x > range()", "`range()` needs"),
        ("histogram_avg(x)", "the function `histogram_avg` is not a function of Prometheus 2.42"),
        ("x > 5m", "the duration `5m` at byte 4 stands where Prometheus 2.42 reads a number"),
        ("x offset 5", "the number `5` at byte 9 is an offset, where Prometheus 2.42 requires a duration; write the duration with a unit: 5s"),
        ("x offset +5m", "`offset +` at byte 9 is not PromQL to Prometheus 2.42"),
        ("rate(x[5])", "the number `5` at byte 7 is a range"),
        ("max_over_time(x[5m:30])", "the number `30` at byte 19 is a subquery step"),
        ("x @ 1005m", "the duration `1005m` at byte 4 is an @ timestamp, where Prometheus 2.42 requires a number (Unix seconds); write the Unix time in seconds: @ 60300"),
        ("label_replace(x, \"a\", \"b\", \"c\", +\"d\")", "the unary `+` at byte 32 applies to a string"),
        ("rate(+x[5m])", "the unary `+` at byte 5 applies to what is not a scalar or instant vector"),
        ("x > 11e308", "the number `11e308` at byte 4 is past the largest float"),
        ("x{\"a\"=\"b\"}", "the quoted name \"a\" at byte 2"),
        ("sum by (\"a\") (x)", "the quoted name \"a\" at byte 8"),
    ] {
        let r = validate(&with_expr(json!(expr)), &defaults());
        assert_rejected(&r, &format!("{at}{expected}"));
    }
}

#[test]
fn what_prometheus_accepts_near_those_stays_admitted() {
    for expr in [
        "trustyai_meanshift{subcategory=\"danceability\"} < 0.05",
        "trustyai_meanshift{subcategory=\"danceability\"}\t<\t0.05",
        "trustyai_meanshift{subcategory=\"danceability\"}\n<\n0.05",
        "trustyai_meanshift{subcategory=\"danceability\"}\r\n<\r\n0.05",
        "# a comment with a \x0c form feed\ntrustyai_meanshift{subcategory=\"danceability\"} < 0.05",
        "x offset 5m > 1",
        "rate(x[5m]) > 1",
        "x > 1e308",
        "topk(1, x)",
        "x @ 1609746000",
        "max_over_time(x[5m:30s]) > 1",
    ] {
        let r = validate(&with_expr(json!(expr)), &defaults());
        assert!(r.allowed, "{expr:?}: {}", message(&r));
    }
}

#[test]
fn prometheus_features_admit_what_they_enable() {
    let mut experimental = defaults();
    experimental["prometheusFeatures"] = json!(["promql-experimental-functions"]);
    assert!(instance().validate_settings(&experimental).unwrap().valid);
    for expr in [
        "limitk(1, x)",
        "limit_ratio(0.5, x)",
        "mad_over_time(x[5m]) > 1",
    ] {
        let r = validate(&with_expr(json!(expr)), &experimental);
        assert!(r.allowed, "{expr}: {}", message(&r));
    }
    // One flag does not stand for another.
    let r = validate(&with_expr(json!("a + fill(0) b")), &experimental);
    assert_rejected(
        &r,
        "the cluster's Prometheus features are [promql-experimental-functions] (setting prometheusFeatures)",
    );
    let mut fill = defaults();
    fill["prometheusFeatures"] = json!(["promql-binop-fill-modifiers"]);
    // Past the dialect check, the scoping's own limits apply (it does not locate
    // selectors around a `fill`, so they are written scoped).
    let scoped = r#"a{namespace="user1-test"} + fill(0) b{namespace="user1-test"}"#;
    let r = validate(&with_expr(json!(scoped)), &fill);
    assert!(!message(&r).contains("feature flag"), "{}", message(&r));
    // An unknown flag is an invalid setting, named.
    let mut typo = defaults();
    typo["prometheusFeatures"] = json!(["promql-experimental-function"]);
    let v = instance().validate_settings(&typo).unwrap();
    assert!(!v.valid);
    assert!(v.message.unwrap_or_default().contains(
        "prometheusFeatures[0]: \"promql-experimental-function\" is not a PromQL feature"
    ));
}
