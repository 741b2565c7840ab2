//! The author's expression is edited in place, never reprinted: every byte the scoping
//! does not need to change stays, through the release .wasm.

mod common;

use common::*;
use policy_runner::AdmissionResponse;
use serde_json::{json, Value};

/// A one-rule PrometheusRule whose rule already carries its namespace label, so the
/// expression is the only thing that can change.
fn with_expr(expr: &str) -> Value {
    let mut r = request("seed-prometheusrule");
    let rule = &mut r["object"]["spec"]["groups"][0]["rules"][0];
    rule["expr"] = json!(expr);
    rule["labels"]["namespace"] = json!("user1-test");
    r
}

fn stored_expr(r: &AdmissionResponse) -> String {
    select(
        r.mutated_object.as_ref().expect("a patch"),
        "$.spec.groups[0].rules[0].expr",
    )
    .as_str()
    .unwrap()
    .to_owned()
}

#[test]
fn expressions_come_back_as_written_plus_the_matcher() {
    let cases = [
        (
            "# drift on danceability\ntrustyai_meanshift{subcategory=\"danceability\"}   # p-value\n  < 0.05\n",
            "# drift on danceability\ntrustyai_meanshift{namespace=\"user1-test\", subcategory=\"danceability\"}   # p-value\n  < 0.05\n",
        ),
        (
            "SUM BY (model) (\n  rate(requests{code=~\"5..\"}[5m] OFFSET 1h)\n) > 1E3",
            "SUM BY (model) (\n  rate(requests{namespace=\"user1-test\", code=~\"5..\"}[5m] OFFSET 1h)\n) > 1E3",
        ),
        (
            "x @ 1.0005 > 0",
            "x{namespace=\"user1-test\"} @ 1.0005 > 0",
        ),
        (
            r#"x{a="\xc3\xa9"} > 0"#,
            r#"x{namespace="user1-test", a="\xc3\xa9"} > 0"#,
        ),
        (
            "x{a='é', b=`{#}`} > 0 # } {",
            "x{namespace=\"user1-test\", a='é', b=`{#}`} > 0 # } {",
        ),
        (
            "max_over_time(x[10m:1m] offset 5m) / on (job) group_left y",
            "max_over_time(x{namespace=\"user1-test\"}[10m:1m] offset 5m) / on (job) group_left y{namespace=\"user1-test\"}",
        ),
        (
            "topk(scalar(a),b)+0x1F",
            "topk(scalar(a{namespace=\"user1-test\"}),b{namespace=\"user1-test\"})+0x1F",
        ),
        (
            "sum by (up) (up)",
            "sum by (up) (up{namespace=\"user1-test\"})",
        ),
        (
            "x{namespace=\"{{ .Release.Namespace }}\",a=\"b\"}",
            "x{namespace=\"user1-test\",a=\"b\"}",
        ),
    ];
    for (input, want) in cases {
        let req = with_expr(input);
        let r = validate(&req, &workshop_settings());
        assert!(r.allowed, "{input}: {:?}", r.status);
        assert_eq!(stored_expr(&r), want, "{input}");
        assert!(
            r.warnings.iter().all(|w| !w.contains("reprinted")),
            "{input}: {:?}",
            r.warnings
        );
        assert_idempotent(&req, &workshop_settings(), &r);
    }
}

#[test]
fn overwrite_edits_only_the_conflicting_matchers() {
    let mut settings = workshop_settings();
    settings["onConflict"] = json!("overwrite");
    let req =
        with_expr("x{a=\"b\", namespace=~\"user.*\" , c=\"d\", namespace!=\"y\"} # keep\n< 1");
    let r = validate(&req, &settings);
    assert_eq!(
        stored_expr(&r),
        "x{a=\"b\", namespace=\"user1-test\" , c=\"d\" } # keep\n< 1"
    );
    assert_idempotent(&req, &settings, &r);
}

#[test]
fn a_bare_drift_selector_gets_its_comparison_after_the_last_token() {
    let req = with_expr("# jukebox\ntrustyai_meanshift{subcategory=\"danceability\"}  # p-value\n");
    let r = validate(&req, &workshop_settings());
    assert_eq!(
        stored_expr(&r),
        "# jukebox\ntrustyai_meanshift{namespace=\"user1-test\", subcategory=\"danceability\"} < 0.05  # p-value\n"
    );
    assert_idempotent(&req, &workshop_settings(), &r);
}

#[test]
fn an_edit_never_grows_the_text_past_the_inserted_matchers() {
    let quotes = "\"".repeat(9000);
    let raw = format!("x{{a=`{quotes}`}} > 0");
    let nested = format!("{}x{}", "(".repeat(100), " + 1e308)".repeat(100));
    for input in [raw, nested] {
        let req = with_expr(&input);
        let r = validate(&req, &workshop_settings());
        assert!(r.allowed, "{:?}", r.status);
        let stored = stored_expr(&r);
        assert!(
            stored.len() <= input.len() + r#"{namespace="user1-test"}"#.len(),
            "{} bytes became {}",
            input.len(),
            stored.len()
        );
        assert_idempotent(&req, &workshop_settings(), &r);
    }
}

#[test]
fn a_text_the_edit_cannot_place_is_reprinted_with_a_warning() {
    // A metric named like a keyword is not located by the text edit.
    let req = with_expr("sum + x");
    let r = validate(&req, &workshop_settings());
    assert!(r.allowed, "{:?}", r.status);
    assert_eq!(
        stored_expr(&r),
        r#"sum{namespace="user1-test"} + x{namespace="user1-test"}"#
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("reprinted in canonical form")),
        "{:?}",
        r.warnings
    );
    assert_idempotent(&req, &workshop_settings(), &r);
}

#[test]
fn a_bad_regex_is_still_rejected_with_its_location() {
    assert_rejected(
        &validate(&with_expr("x{a=~\"(\"}"), &workshop_settings()),
        "(spec.groups[0].rules[0].expr): expression does not parse",
    );
}
