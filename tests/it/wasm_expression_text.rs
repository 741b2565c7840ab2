//! The author's expression is edited in place, never reprinted: every byte the scoping
//! does not need to change stays, through the release .wasm (issue 17's rows included).

use crate::common::*;
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

/// The same, as a recording rule (no drift completion, no alert checks).
fn recording(expr: &str) -> Value {
    let mut r = with_expr(expr);
    let rule = r["object"]["spec"]["groups"][0]["rules"][0]
        .as_object_mut()
        .unwrap();
    rule.remove("alert");
    rule.remove("for");
    rule.remove("annotations");
    rule.insert("record".to_owned(), json!("jukebox:recorded"));
    r
}

const NS: &str = r#"{namespace="user1-test"}"#;

/// Validates on the .wasm. (How long it takes is the benchmark's to measure.)
fn answered(req: &Value) -> AdmissionResponse {
    validate(req, &workshop_settings())
}

#[test]
fn row_1_keyword_named_metrics_are_edited_in_place_and_literals_keep_their_spelling() {
    let terms = vec!["1e308"; 59].join(" + ");
    let input = format!("sum + {terms}");
    let req = recording(&input);
    let r = answered(&req);
    assert!(r.allowed, "{:?}", r.status);
    assert_eq!(stored_expr(&r), format!("sum{NS} + {terms}"));
    assert_idempotent(&req, &workshop_settings(), &r);
    // 2,000 literals, 16 KB: stored at the author's length plus one matcher.
    let group = format!("({})", vec!["1e308"; 50].join(" + "));
    let input = format!("sum + {}", vec![group.as_str(); 40].join(" + "));
    let r = answered(&recording(&input));
    assert!(r.allowed, "{:?}", r.status);
    assert_eq!(stored_expr(&r).len(), input.len() + NS.len());
}

#[test]
fn row_2_and_3_escapes_and_negative_timestamps_are_kept() {
    for (input, want) in [
        (
            r#"x{subcategory="dance\xc3\xa9"} or sum"#,
            r#"x{namespace="user1-test", subcategory="dance\xc3\xa9"} or sum{namespace="user1-test"}"#,
        ),
        (
            r#"x{subcategory="dance\303\251"} or sum"#,
            r#"x{namespace="user1-test", subcategory="dance\303\251"} or sum{namespace="user1-test"}"#,
        ),
        (
            "x @ -100 or sum",
            r#"x{namespace="user1-test"} @ -100 or sum{namespace="user1-test"}"#,
        ),
    ] {
        let req = recording(input);
        let r = answered(&req);
        assert!(r.allowed, "{input}: {:?}", r.status);
        assert_eq!(stored_expr(&r), want, "{input}");
        assert_idempotent(&req, &workshop_settings(), &r);
    }
}

#[test]
fn row_4_case_folded_unicode_regexes_are_answered_quickly() {
    // 15 selectors of 80 `(?i)\p{Any}` each: 14 KiB of regex, room for the matchers.
    let one = format!("x{{a=~\"{}\"}}", r"(?i)\\p{Any}".repeat(80));
    let input = vec![one.as_str(); 15].join(" or ");
    assert!(input.len() > 14 * 1024, "{}", input.len());
    let r = answered(&recording(&input));
    assert!(r.allowed, "{:?}", r.status);
}

#[test]
fn row_6_a_range_vector_alert_is_refused_with_what_to_compare() {
    assert_rejected(
        &answered(&with_expr("trustyai_meanshift[5m]")),
        "trustyai_meanshift[5m] is a range vector; compare an instant vector such as min_over_time(trustyai_meanshift[5m]) instead",
    );
    assert_rejected(
        &answered(&with_expr("trustyai_meanshift[10m:1m]")),
        "trustyai_meanshift[10m:1m] is a range vector (a subquery); compare an instant vector such as min_over_time(trustyai_meanshift[10m:1m]) instead",
    );
}

#[test]
fn row_8_a_band_is_completed_in_place_with_its_comments() {
    let core = r#"trustyai_spd{namespace="user1-test", subcategory=~"dance.*"}"#;
    for (input, want) in [
        (
            r#"trustyai_spd{subcategory=~"dance.*"}"#.to_owned(),
            format!("{core} < -0.1 or {core} > 0.1"),
        ),
        (
            "# fairness\ntrustyai_spd{subcategory=~\"dance.*\"} # spd\n".to_owned(),
            format!("# fairness\n{core} < -0.1 or {core} > 0.1 # spd\n"),
        ),
        (
            "# fairness\ntrustyai_spd # spd\n".to_owned(),
            format!("# fairness\ntrustyai_spd{NS} < -0.1 or trustyai_spd{NS} > 0.1 # spd\n"),
        ),
    ] {
        let req = with_expr(&input);
        let r = answered(&req);
        assert!(r.allowed, "{input}: {:?}", r.status);
        assert_eq!(stored_expr(&r), want, "{input}");
        assert_idempotent(&req, &workshop_settings(), &r);
    }
}

#[test]
fn row_13_regexes_go_refuses_are_refused_naming_the_matcher() {
    for (input, reason) in [
        (r#"{__name__=~"x.*+"}"#, "matcher __name__=~\"x.*+\" is not a valid regular expression: invalid nested repetition operator `*+`"),
        (r#"x{a=~"b{1001}"}"#, "invalid repeat count `{1001}`"),
        (r#"x{a=~"\\p{Letter}"}"#, "invalid character class range"),
    ] {
        assert_rejected(&answered(&recording(input)), reason);
    }
}

#[test]
fn no_reprint_warning_is_ever_given() {
    let r = answered(&recording("sum + x"));
    assert_eq!(
        stored_expr(&r),
        r#"sum{namespace="user1-test"} + x{namespace="user1-test"}"#
    );
    assert!(
        r.warnings.iter().all(|w| !w.contains("reprinted")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn a_bad_regex_is_still_rejected_with_its_location() {
    assert_rejected(
        &validate(&with_expr("x{a=~\"(\"}"), &workshop_settings()),
        "(spec.groups[0].rules[0].expr): expression does not parse",
    );
}
