//! Generated PromQL for the property tests. `GAP` marks every place between two tokens
//! where the author may put white space or a comment; the scoping properties fill each
//! with one space, the text-edit properties with random white space and comments.

use std::process::Command;

use proptest::prelude::*;

/// Where white space or a comment may stand (never inside a token).
pub const GAP: char = '§';

const NS: &str = "user1-test";

pub fn matcher() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["namespace", "namespace", "job", "code", "le"]),
        prop::sample::select(vec!["=", "!=", "=~", "!~"]),
        prop::sample::select(vec![
            NS,
            "user2-test",
            "{{ .Release.Namespace }}",
            "user1-.*",
            "5..",
            "a\\\"b",
        ]),
    )
        .prop_map(|(label, op, value)| format!("{label}§{op}§\"{value}\""))
}

pub fn selector() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "up",
            "trustyai_meanshift",
            "http_requests_total",
            "job:rate:sum",
        ]),
        prop::collection::vec(matcher(), 0..3),
        prop::sample::select(vec!["", "offset§5m", "@§100"]),
    )
        .prop_map(|(name, matchers, modifier)| {
            if matchers.is_empty() {
                format!("{name}§{modifier}")
            } else {
                format!("{name}§{{§{}§}}§{modifier}", matchers.join("§,§"))
            }
        })
}

/// Instant-vector expressions built from the node kinds the visitor must reach.
pub fn vector_expr() -> impl Strategy<Value = String> {
    selector().prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| format!("(§{e}§)")),
            inner.clone().prop_map(|e| format!("abs§(§{e}§)")),
            inner.clone().prop_map(|e| format!("-§{e}")),
            selector().prop_map(|s| format!("rate§(§{s}§[5m]§)")),
            inner
                .clone()
                .prop_map(|e| format!("sum§by§(§job§)§(§{e}§)")),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| format!("topk§(§scalar§(§{a}§)§,§{b}§)")),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| format!("quantile§(§scalar§(§{a}§)§,§{b}§)")),
            inner
                .clone()
                .prop_map(|e| format!("count_values§(§\"v\"§,§{e}§)")),
            inner
                .clone()
                .prop_map(|e| format!("max_over_time§(§(§{e}§)§[10m:1m]§)")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}§+§on§(§job§)§{b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}§and§{b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}§unless§{b}")),
            inner.clone().prop_map(|e| format!("{e}§>§bool§0.5")),
            inner
                .clone()
                .prop_map(|e| format!("histogram_quantile§(§0.9§,§{e}§)")),
        ]
    })
}

/// Runs `promtool check rules` on recording rules with the given expressions; panics
/// with promtool's output when it refuses them.
pub fn promtool_accepts(name: &str, exprs: &[String]) {
    let found = Command::new("promtool").arg("--version").output();
    assert!(
        found.map(|o| o.status.success()).unwrap_or(false),
        "promtool is not on PATH: `make deps` installs it"
    );
    let rules: Vec<serde_json::Value> = exprs
        .iter()
        .enumerate()
        .map(|(i, expr)| serde_json::json!({"record": format!("generated:rule{i}"), "expr": expr}))
        .collect();
    let dir = std::env::temp_dir().join(format!(
        "tenant-alerting-policy-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rules.yaml");
    let file = serde_json::json!({"groups": [{"name": "generated", "rules": rules}]});
    std::fs::write(&path, serde_json::to_vec(&file).unwrap()).unwrap();
    let out = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool rejected generated expressions:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
