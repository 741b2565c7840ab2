//! Prometheus's own tool judges the PromQL the policy emits: every accepted
//! PrometheusRule passes `promtool check rules`, and `promtool test rules` shows the
//! seed's alert firing on its namespace's series and never on another namespace's.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
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

/// The seed's alert, as the fixtures write it.
const DRIFT_ALERT: &str = "jukebox-datadrift-alert";
const DRIFT_MESSAGE: &str = "jukebox meanshift p-value has dropped below 0.05 for danceability, indicating a drift in data over the last 5000 samples compared to the training data.";

/// One alert `promtool test rules` must find firing: every label it carries, written out
/// (alertname included), and its annotations as Prometheus expands them.
fn fired(labels: Value, annotations: Value) -> Value {
    json!({"labels": labels, "annotations": annotations})
}

/// The drift alert firing in `namespace` with exactly the labels the seed gives it.
fn drift_fired(namespace: &str) -> Value {
    fired(
        json!({"alertname": DRIFT_ALERT, "namespace": namespace, "severity": "critical", "subcategory": "danceability"}),
        json!({"message": DRIFT_MESSAGE}),
    )
}

/// A `promtool test rules` file for the drift alert over two namespaces' series: at 20m
/// exactly the alerts in `expected` fire (`[]`: none), each with exactly its labels and
/// annotations. The object must hold the alert by that name, so that "none fires" cannot
/// pass because the rule is gone or renamed.
fn drift_test(object: &Value, own_value: &str, other_value: &str, expected: &[Value]) -> Value {
    let rule = &object["spec"]["groups"][0]["rules"][0];
    assert_eq!(
        rule["alert"], DRIFT_ALERT,
        "the drift alert is not the first rule: {rule}"
    );
    let exp_alerts: Vec<Value> = expected
        .iter()
        .map(|alert| {
            // promtool adds `alertname` from the test itself; the rest must match exactly.
            let mut labels = alert["labels"].clone();
            let name = labels.as_object_mut().unwrap().remove("alertname");
            assert_eq!(name, Some(json!(DRIFT_ALERT)), "{alert}");
            json!({"exp_labels": labels, "exp_annotations": alert["annotations"]})
        })
        .collect();
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
                "alertname": DRIFT_ALERT,
                "exp_alerts": exp_alerts,
            }],
        }],
    })
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
    // Own namespace drifts (p-value 0.01 for 20m): fires once, with exactly the seed's
    // labels and its own namespace.
    let test = drift_test(&seed, "0.01", "0.5", &[drift_fired("user1-test")]);
    let (ok, out) = promtool_test("seed-own", &seed, &test);
    assert!(ok, "{out}");
    // Both drift: still only user1-test's alert.
    let test = drift_test(&seed, "0.01", "0.01", &[drift_fired("user1-test")]);
    let (ok, out) = promtool_test("seed-both", &seed, &test);
    assert!(ok, "{out}");
    // Only the other namespace drifts: silent.
    let test = drift_test(&seed, "0.5", "0.01", &[]);
    let (ok, out) = promtool_test("seed-other", &seed, &test);
    assert!(ok, "{out}");
}

#[test]
fn a_rule_without_matcher_leaks_before_the_policy_and_not_after() {
    let request = request("prometheusrule-no-matcher");
    let before = request["object"].clone();
    // Before: the unscoped rule fires on the other tenant's drift.
    let test = drift_test(&before, "0.5", "0.01", &[drift_fired("user2-test")]);
    let (ok, out) = promtool_test("leak-before", &before, &test);
    assert!(
        ok,
        "the unscoped rule was expected to fire on user2-test:\n{out}"
    );

    let after = admitted(&request, &workshop_settings()).unwrap();
    assert_ne!(before, after);
    let test = drift_test(&after, "0.5", "0.01", &[]);
    let (ok, out) = promtool_test("leak-after", &after, &test);
    assert!(ok, "{out}");
    let test = drift_test(&after, "0.01", "0.5", &[drift_fired("user1-test")]);
    let (ok, out) = promtool_test("own-after", &after, &test);
    assert!(ok, "{out}");
    // Both drift: before, one alert per namespace; after, only user1-test's.
    let test = drift_test(
        &before,
        "0.01",
        "0.01",
        &[drift_fired("user1-test"), drift_fired("user2-test")],
    );
    let (ok, out) = promtool_test("both-before", &before, &test);
    assert!(ok, "{out}");
    let test = drift_test(&after, "0.01", "0.01", &[drift_fired("user1-test")]);
    let (ok, out) = promtool_test("both-after", &after, &test);
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
    let expected = fired(
        json!({"alertname": DRIFT_ALERT, "namespace": "user1-test", "severity": "critical", "subcategory": "danceability"}),
        json!({"message": "user1-test p=0.01"}),
    );
    let test = drift_test(&object, "0.01", "0.5", &[expected]);
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

/// A recording rule over `expr` in the seed object (its namespace label already set).
fn recording_rule(expr: &str) -> Value {
    let mut request = request("seed-prometheusrule");
    let rule = &mut request["object"]["spec"]["groups"][0]["rules"][0];
    *rule = json!({
        "record": "jukebox:recorded",
        "expr": expr,
        "labels": {"namespace": "user1-test"},
    });
    request
}

/// `promtool test rules`: `expr` evaluated over `series` selects exactly `expected`.
fn selects(
    name: &str,
    object: &Value,
    expr: &str,
    series: &[(&str, &str)],
    expected: &[(&str, f64)],
) {
    let test = json!({
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": series
                .iter()
                .map(|(s, v)| json!({"series": s, "values": v}))
                .collect::<Vec<_>>(),
            "promql_expr_test": [{
                "expr": expr,
                "eval_time": "5m",
                "exp_samples": expected
                    .iter()
                    .map(|(labels, value)| json!({"labels": labels, "value": value}))
                    .collect::<Vec<_>>(),
            }],
        }],
    });
    let (ok, out) = promtool_test(name, object, &test);
    assert!(ok, "{expr}:\n{out}");
}

/// Issue 17, rows 2 and 3: the admitted text selects what the author's text plus the
/// namespace matcher selects (Prometheus reads `\xc3\xa9` as é and `@ -100` as
/// -100 s; the old canonical reprint read them as Ã© and 0).
#[test]
fn admitted_escapes_and_timestamps_select_what_the_author_wrote() {
    /// (written, stored, the samples it selects)
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, f64)]);
    let cases: [Case; 3] = [
        (
            r#"x{subcategory="dance\xc3\xa9"} or sum"#,
            r#"x{namespace="user1-test", subcategory="dance\xc3\xa9"} or sum{namespace="user1-test"}"#,
            &[
                (r#"x{namespace="user1-test",subcategory="danceé"}"#, 1.0),
                (r#"sum{namespace="user1-test"}"#, 4.0),
            ],
        ),
        (
            r#"x{subcategory="dance\303\251"} or sum"#,
            r#"x{namespace="user1-test", subcategory="dance\303\251"} or sum{namespace="user1-test"}"#,
            &[
                (r#"x{namespace="user1-test",subcategory="danceé"}"#, 1.0),
                (r#"sum{namespace="user1-test"}"#, 4.0),
            ],
        ),
        (
            "x @ -100 or sum",
            r#"x{namespace="user1-test"} @ -100 or sum{namespace="user1-test"}"#,
            // Nothing is sampled before 0: only `sum` (`@ 0` would select x too).
            &[(r#"sum{namespace="user1-test"}"#, 4.0)],
        ),
    ];
    let series = [
        (r#"x{namespace="user1-test",subcategory="danceé"}"#, "1x10"),
        (r#"x{namespace="user2-test",subcategory="danceé"}"#, "2x10"),
        (r#"x{namespace="user1-test",subcategory="danceÃ©"}"#, "3x10"),
        (r#"sum{namespace="user1-test"}"#, "4x10"),
        (r#"sum{namespace="user2-test"}"#, "5x10"),
    ];
    for (i, (written, want, expected)) in cases.into_iter().enumerate() {
        let object = admitted(&recording_rule(written), &workshop_settings())
            .unwrap_or_else(|| panic!("{written} refused"));
        let stored = object["spec"]["groups"][0]["rules"][0]["expr"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(stored, want);
        let scratch = scratch_dir(&format!("issue17-check-{i}"));
        let rules = write_rule_file(&scratch, &object);
        let (ok, out) = run(Command::new(promtool())
            .arg("check")
            .arg("rules")
            .arg(&rules));
        assert!(ok, "promtool check rules: {out}");
        selects(&format!("issue17-{i}"), &object, &stored, &series, expected);
    }
}

/// tests/fixtures/templates/verdicts.jsonl holds Go's verdict on ~11,000 alert templates
/// (scripts/template-verdicts wrote it); crates/go-template/src/lib.rs is tested natively against
/// it. Here promtool gives every verdict again, so the file cannot drift from Go: each
/// template is one annotation of one alert, and promtool names every annotation it
/// refuses.
#[test]
fn the_committed_template_verdicts_are_promtools() {
    let tool = promtool();
    let corpus =
        std::fs::read_to_string(repo_root().join("tests/fixtures/templates/verdicts.jsonl"))
            .expect("read the template verdicts");
    let entries: Vec<(String, bool)> = corpus
        .lines()
        .map(|line| {
            let entry: Value = serde_json::from_str(line).expect("one JSON object a line");
            (
                entry["template"].as_str().expect("template").to_owned(),
                entry["loads"].as_bool().expect("loads"),
            )
        })
        .collect();
    assert!(entries.len() > 5000, "{} templates", entries.len());
    // YAML refuses raw control characters (DEL, C1) and JSON's surrogate pairs: every
    // character outside printable ASCII is written as a YAML escape, \uXXXX or
    // \UXXXXXXXX.
    let yaml_string = |text: &str| {
        let mut out = String::from("\"");
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                ' '..='~' => out.push(c),
                c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04X}", c as u32)),
                c => out.push_str(&format!("\\U{:08X}", c as u32)),
            }
        }
        out.push('"');
        out
    };
    let annotations: Vec<String> = entries
        .iter()
        .enumerate()
        .map(|(i, (template, _))| format!("\"t{i}\": {}", yaml_string(template)))
        .collect();
    let dir = scratch_dir("template-verdicts");
    let path = dir.join("rules.yaml");
    let file = format!(
        "{{\"groups\": [{{\"name\": \"g\", \"rules\": [{{\"alert\": \"A\", \"expr\": \"up == 0\", \"annotations\": {{{}}}}}]}}]}}",
        annotations.join(", ")
    );
    std::fs::write(&path, file).unwrap();
    let (ok, out) = run(Command::new(tool).args(["check", "rules"]).arg(&path));
    let refused: std::collections::HashSet<usize> = out
        .split("annotation \"t")
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse().ok())
        .collect();
    // A file promtool cannot read at all names no annotation: not a verdict.
    assert!(
        ok || !refused.is_empty(),
        "promtool read no template:\n{out}"
    );
    let wrong: Vec<String> = entries
        .iter()
        .enumerate()
        .filter(|(i, (_, loads))| refused.contains(i) == *loads)
        .map(|(i, (template, loads))| {
            format!(
                "{template:?}: committed {loads}, promtool {}",
                !refused.contains(&i)
            )
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{} verdicts differ from promtool's (rerun scripts/template-verdicts):\n{}",
        wrong.len(),
        wrong
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Regexes at the edge of what Prometheus 2.42's Go (1.19) reads, written as PromQL
/// string content: the policy admits each exactly when promtool loads it, except where
/// the policy is knowingly stricter (listed, so that a fix shows here).
#[test]
fn regexes_at_gos_edge_are_judged_as_promtool_judges_them() {
    let tool = promtool();
    const STRICTER: [&str; 2] = [r"\\Q.\\E", r"[\\d-z]"];
    let regexes = [
        // Named groups: Go 1.22 added (?<name>…).
        "(?P<n>x)",
        "(?<n>x)",
        "(?P<n.m>x)",
        // Scripts: Unicode 13 is Go 1.19's; 14 and 15 came with Go 1.21.
        r"\\p{Greek}",
        r"\\p{Yezidi}",
        r"\\p{Chorasmian}",
        r"\\p{Dives_Akuru}",
        r"\\p{Khitan_Small_Script}",
        r"\\p{Vithkuqi}",
        r"\\p{Toto}",
        r"\\p{Tangsa}",
        r"\\p{Old_Uyghur}",
        r"\\p{Cypro_Minoan}",
        r"\\p{Kawi}",
        r"\\p{Nag_Mundari}",
        r"\\p{greek}",
        r"\\pL\\p{Lu}\\P{Any}",
        r"\\p{Letter}",
        // Flags, repetitions, escapes.
        "(?i)x",
        "(?x)x",
        "x**",
        "a{1000}",
        "a{1001}",
        r"\\x{41}\\101",
        r"\\u0041",
        STRICTER[0],
        STRICTER[1],
    ];
    for (i, regex) in regexes.iter().enumerate() {
        let request = recording_rule(&format!(r#"x{{a=~"{regex}"}}"#));
        let scratch = scratch_dir(&format!("regex-{i}"));
        let rules = write_rule_file(&scratch, &request["object"]);
        let (loads, out) = run(Command::new(tool).arg("check").arg("rules").arg(&rules));
        let admitted = admitted(&request, &workshop_settings()).is_some();
        if STRICTER.contains(regex) {
            assert!(
                loads && !admitted,
                "{regex}: no longer stricter than promtool"
            );
        } else {
            assert_eq!(admitted, loads, "{regex}: promtool says\n{out}");
        }
    }
}

/// The group fields of the PrometheusRule CRD: the policy admits a group exactly when
/// promtool loads it (`labels` came with Prometheus 3.0, `query_offset` with 2.53).
#[test]
fn group_fields_are_judged_as_promtool_judges_them() {
    let tool = promtool();
    for (i, (field, value)) in [
        ("labels", json!({"severity": "critical"})),
        ("query_offset", json!("1m")),
        ("limit", json!(5)),
        ("interval", json!("1m")),
    ]
    .into_iter()
    .enumerate()
    {
        let mut request = request("seed-prometheusrule");
        request["object"]["spec"]["groups"][0][field] = value;
        let scratch = scratch_dir(&format!("group-field-{i}"));
        let rules = write_rule_file(&scratch, &request["object"]);
        let (loads, out) = run(Command::new(tool).arg("check").arg("rules").arg(&rules));
        let admitted = admitted(&request, &workshop_settings()).is_some();
        assert_eq!(admitted, loads, "{field}: promtool says\n{out}");
    }
}

/// A rule's `alert` and `record`, one of them empty: the policy admits the rule exactly
/// when promtool loads it (an empty name beside a named other is unset, as the
/// operator's `omitempty` fields write it).
#[test]
fn alert_and_record_are_judged_as_promtool_judges_them() {
    let tool = promtool();
    for (i, (rule, loads_expected)) in [
        (json!({"record": "r", "alert": "", "expr": "up"}), true),
        (json!({"alert": "a", "record": "", "expr": "up == 0"}), true),
        (json!({"alert": "", "record": "", "expr": "up"}), false),
        (json!({"alert": "a", "record": "r", "expr": "up"}), false),
        (json!({"alert": "", "expr": "up == 0"}), false),
        (json!({"record": "", "expr": "up"}), false),
    ]
    .into_iter()
    .enumerate()
    {
        let mut request = request("seed-prometheusrule");
        request["object"]["spec"]["groups"][0]["rules"] = json!([rule]);
        let scratch = scratch_dir(&format!("rule-identity-{i}"));
        let rules = write_rule_file(&scratch, &request["object"]);
        let (loads, out) = run(Command::new(tool).arg("check").arg("rules").arg(&rules));
        assert_eq!(loads, loads_expected, "{rule}: promtool says\n{out}");
        let admitted = admitted(&request, &workshop_settings()).is_some();
        assert_eq!(admitted, loads, "{rule}: promtool says\n{out}");
    }
}

/// `count_values` whose label the rule sets itself (here the namespace label the policy
/// pins on every rule): Prometheus fails the evaluation as soon as two values coexist,
/// so the alert never fires. The policy refuses it; as written, promtool shows why.
#[test]
fn an_overridden_count_values_label_fails_prometheus_evaluation() {
    let mut req = request("seed-prometheusrule");
    let rule = &mut req["object"]["spec"]["groups"][0]["rules"][0];
    rule["expr"] =
        json!(r#"count_values("namespace", trustyai_meanshift{namespace="user1-test"} < 0.05)"#);
    rule["labels"]["namespace"] = json!("user1-test");
    let r = validate(&req, &workshop_settings());
    assert_rejected(&r, "two samples with different values collide");

    let object = &req["object"];
    let series = |model: &str, value: &str| {
        json!({"series": format!(r#"trustyai_meanshift{{namespace="user1-test",model="{model}"}}"#),
               "values": format!("{value}x30")})
    };
    let test = |values: &[(&str, &str)], expected: Value| {
        json!({
            "rule_files": ["rules.yaml"],
            "evaluation_interval": "1m",
            "tests": [{
                "interval": "1m",
                "input_series": values.iter().map(|(m, v)| series(m, v)).collect::<Vec<_>>(),
                "alert_rule_test": [{"eval_time": "20m", "alertname": DRIFT_ALERT, "exp_alerts": expected}],
            }],
        })
    };
    let fired = json!([{"exp_labels": {"namespace": "user1-test", "severity": "critical"},
                        "exp_annotations": {"message": DRIFT_MESSAGE}}]);
    // One drifting model: one value, and the alert fires.
    let (ok, out) = promtool_test(
        "count-values-one",
        object,
        &test(&[("a", "0.01")], fired.clone()),
    );
    assert!(ok, "{out}");
    // Two models drifting with different p-values: the evaluation fails, nothing fires.
    let (ok, out) = promtool_test(
        "count-values-two",
        object,
        &test(&[("a", "0.01"), ("b", "0.02")], fired),
    );
    assert!(!ok, "{out}");
    assert!(
        out.contains("vector contains metrics with the same labelset after applying alert labels"),
        "{out}"
    );
}
