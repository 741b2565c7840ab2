//! Issue 17: Prometheus's grammar is the judge. Generated rules — the scoping
//! generators' expressions with white space Prometheus does and does not know,
//! flag-gated functions, and numbers and durations swapped into each other's places —
//! go through the release .wasm with the default settings, and every object it admits
//! must load in `promtool check rules` (Debian's Prometheus 2.42). Many objects go to
//! one promtool call, as groups of one rule file.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::promql_gen::{self, GAP};
use crate::common::*;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{json, Value};

/// What may stand in a gap: Prometheus's white space and a comment (holding a `\f`);
/// one expression in five may also get `\f` (white space to promql-parser only).
fn gaps() -> impl Strategy<Value = Vec<&'static str>> {
    let prometheus = vec![
        " ",
        " ",
        " ",
        "",
        "\t",
        "\n",
        "\r\n",
        "\r",
        " # note \x0c\n",
    ];
    let mut with_form_feed = prometheus.clone();
    with_form_feed.extend(["\x0c", " \x0c"]);
    prop_oneof![
        4 => prop::collection::vec(prop::sample::select(prometheus), 64),
        1 => prop::collection::vec(prop::sample::select(with_form_feed), 64),
    ]
}

/// Expressions Prometheus 2.42 refuses and promql-parser reads, and their near misses.
fn edge() -> impl Strategy<Value = String> {
    let sel = promql_gen::selector;
    prop_oneof![
        sel().prop_map(|s| format!("limitk§(§1§,§{s}§)")),
        sel().prop_map(|s| format!("topk§(§1§,§{s}§)")),
        sel().prop_map(|s| format!("limit_ratio§(§0.5§,§{s}§)")),
        sel().prop_map(|s| format!("info§(§{s}§)")),
        prop::sample::select(vec![
            "mad_over_time",
            "ts_of_max_over_time",
            "first_over_time",
            "max_over_time",
            "rate",
        ])
        .prop_flat_map(sel_range),
        sel().prop_map(|s| format!("sort_by_label§(§{s}§,§\"job\"§)")),
        sel().prop_map(|s| format!("histogram_avg§(§{s}§)")),
        sel().prop_map(|s| format!("{s}§+§fill§(§0§)§{s}")),
        prop::sample::select(vec!["5", "300", "1.5", "5m", "1h30m"]).prop_flat_map(|d| {
            promql_gen::selector().prop_map(move |s| format!("rate§(§{s}§[{d}]§)"))
        }),
        prop::sample::select(vec!["5", "-5", "5m", "-5m", "+5m"])
            .prop_flat_map(|d| bare().prop_map(move |s| format!("{s}§offset§{d}"))),
        prop::sample::select(vec!["5m", "1e308", "11e308", "0.05", "Inf"])
            .prop_flat_map(|n| promql_gen::selector().prop_map(move |s| format!("{s}§>§{n}"))),
        prop::sample::select(vec!["100", "-100", "+100", "100m"])
            .prop_flat_map(|t| bare().prop_map(move |s| format!("{s}§@§{t}"))),
        prop::sample::select(vec!["+\"d\"", "\"d\""]).prop_flat_map(sel_replace),
        sel().prop_map(|s| format!("+§{s}")),
    ]
}

/// A selector without a modifier (so one can be added).
fn bare() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["up", "trustyai_meanshift", "x{job§=§\"a\"}"]).prop_map(String::from)
}

fn sel_range(f: &'static str) -> impl Strategy<Value = String> {
    bare().prop_map(move |s| format!("{f}§(§{s}§[5m]§)"))
}

fn sel_replace(d: &'static str) -> impl Strategy<Value = String> {
    promql_gen::selector()
        .prop_map(move |s| format!("label_replace§(§{s}§,§\"a\"§,§\"b\"§,§\"c\"§,§{d}§)"))
}

fn expression() -> impl Strategy<Value = String> {
    let body = prop_oneof![3 => promql_gen::vector_expr(), 2 => edge()];
    (body, gaps()).prop_map(|(text, gaps)| {
        let mut out = String::with_capacity(text.len());
        let mut n = 0;
        for c in text.chars() {
            if c == GAP {
                out.push_str(gaps[n % gaps.len()]);
                n += 1;
            } else {
                out.push(c);
            }
        }
        out
    })
}

static GENERATED: AtomicUsize = AtomicUsize::new(0);
static ADMITTED: AtomicUsize = AtomicUsize::new(0);

/// The object the API server stores after the policy, when it admits it.
fn admitted(expr: &str) -> Option<Value> {
    let mut request = request("seed-prometheusrule");
    request["object"]["spec"]["groups"][0]["rules"][0]["expr"] = json!(expr);
    let r = validate(&request, &workshop_settings());
    r.allowed.then(|| {
        r.mutated_object
            .unwrap_or_else(|| request["object"].clone())
    })
}

/// `promtool check rules` on one file holding every object's groups (renamed apart).
fn promtool_loads(objects: &[(String, Value)]) -> Result<(), String> {
    let mut groups = Vec::new();
    for (i, (_, object)) in objects.iter().enumerate() {
        for (j, group) in object["spec"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let mut group = group.clone();
            group["name"] = json!(format!("case{i}-group{j}"));
            groups.push(group);
        }
    }
    let dir = std::env::temp_dir().join(format!(
        "tenant-alerting-policy-{}-proptest-promtool",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("rules.yaml");
    std::fs::write(&path, json!({"groups": groups}).to_string()).map_err(|e| e.to_string())?;
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&path)
        .output()
        .map_err(|e| format!("promtool is not on PATH (`make deps`): {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let named: Vec<String> = objects
        .iter()
        .enumerate()
        .filter(|(i, _)| said.contains(&format!("\"case{i}-")))
        .map(|(i, (expr, _))| format!("case{i}: {expr:?}"))
        .collect();
    Err(format!(
        "promtool refused admitted objects:\n{}\n{said}",
        named.join("\n")
    ))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 12,
        max_shrink_iters: 64,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/it/proptest_promtool.proptest-regressions"
        )))),
        ..ProptestConfig::default()
    })]

    /// Every object the policy admits loads in Prometheus 2.42.
    #[test]
    fn every_admitted_rule_loads_in_promtool(exprs in prop::collection::vec(expression(), 40)) {
        let objects: Vec<(String, Value)> = exprs
            .iter()
            .filter_map(|e| admitted(e).map(|o| (e.clone(), o)))
            .collect();
        let generated = GENERATED.fetch_add(exprs.len(), Ordering::Relaxed) + exprs.len();
        let admitted = ADMITTED.fetch_add(objects.len(), Ordering::Relaxed) + objects.len();
        eprintln!("promtool property: {admitted} of {generated} generated rules admitted so far");
        if let Err(why) = promtool_loads(&objects) {
            return Err(TestCaseError::fail(why));
        }
    }
}
