//! `--fix` over generated PrometheusRules in many layouts (block and flow labels, two
//! indentation steps, both sequence styles, comments between keys, every scalar style of
//! `expr` including `|` and `>` blocks): the fixed text parses to exactly the patched
//! object, a second check finds nothing to change, and only lines holding a changed value
//! are rewritten.

use proptest::prelude::*;
use serde_json::{json, Value};
use tenant_alerting_policy_cli::check::{self, Config, Status};
use tenant_alerting_policy_cli::cluster::OfflineCluster;
use tenant_alerting_policy_cli::yaml;

#[derive(Debug, Clone)]
struct Rule {
    alert: bool,
    expr: usize,
    style: usize,
    labels: usize,
    with_for: bool,
    comment: bool,
}

const EXPRS: &[&str] = &[
    "trustyai_meanshift{subcategory=\"danceability\"} < 0.05",
    "rate(http_requests_total[5m]) > 10",
    "up == 0",
    "sum by (model) (jukebox_predictions_total)",
];

fn rule() -> impl Strategy<Value = Rule> {
    (
        any::<bool>(),
        0..EXPRS.len(),
        0..5usize,
        0..4usize,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(alert, expr, style, labels, with_for, comment)| Rule {
            alert,
            expr,
            style,
            labels,
            with_for,
            comment,
        })
}

fn render(rules: &[Rule], step: usize, compact_seq: bool, top_comment: bool) -> String {
    let pad = |n: usize| " ".repeat(n * step);
    let dash = |level: usize| {
        if compact_seq {
            pad(level)
        } else {
            pad(level + 1)
        }
    };
    let mut out = String::new();
    if top_comment {
        out.push_str("# generated layout\n");
    }
    out.push_str("apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n");
    out.push_str(&format!(
        "{}name: generated\n{}namespace: user1-test\nspec:\n",
        pad(1),
        pad(1)
    ));
    out.push_str(&format!("{}groups:\n{}- name: g\n", pad(1), dash(1)));
    let gkey = dash(1).len() + 2;
    out.push_str(&format!("{}rules:\n", " ".repeat(gkey)));
    let rdash = if compact_seq { gkey } else { gkey + step };
    for (i, r) in rules.iter().enumerate() {
        let key = " ".repeat(rdash + 2);
        if r.alert {
            out.push_str(&format!("{}- alert: a{i}\n", " ".repeat(rdash)));
        } else {
            out.push_str(&format!("{}- record: r{i}\n", " ".repeat(rdash)));
        }
        if r.comment {
            out.push_str(&format!("{key}# why this rule exists\n"));
        }
        let expr = EXPRS[r.expr];
        match r.style {
            0 => out.push_str(&format!("{key}expr: {expr}\n")),
            1 => out.push_str(&format!("{key}expr: '{}'\n", expr.replace('\'', "''"))),
            2 => out.push_str(&format!(
                "{key}expr: {}\n",
                serde_json::to_string(expr).unwrap()
            )),
            3 => out.push_str(&format!(
                "{key}expr: |  # the query\n{key}{}{expr}\n",
                pad(1)
            )),
            _ => out.push_str(&format!("{key}expr: >-\n{key}{}{expr}\n", pad(1))),
        }
        if r.with_for && r.alert {
            out.push_str(&format!("{key}for: 15m\n"));
        }
        if r.comment {
            out.push_str(&format!("{key}# labels route the alert\n"));
        }
        match r.labels {
            0 => {}
            1 => out.push_str(&format!("{key}labels:\n{key}{}severity: warning\n", pad(1))),
            2 => out.push_str(&format!("{key}labels: {{severity: warning}}\n")),
            _ => out.push_str(&format!("{key}labels: {{}}\n")),
        }
    }
    out
}

fn config() -> Config {
    let settings_value = json!({"clusterDomain": "apps.cluster-abc.example.com"});
    Config {
        settings: check::parse_settings(&settings_value).unwrap(),
        settings_value,
        namespace: None,
        scope: None,
        fix: true,
    }
}

fn value_of(text: &str) -> Value {
    yaml::parse_stream(text)[0]
        .as_ref()
        .unwrap()
        .root
        .as_ref()
        .unwrap()
        .value()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fixed_text_is_the_patched_object_and_nothing_else_moves(
        rules in proptest::collection::vec(rule(), 1..4),
        step in 2..5usize,
        compact_seq in any::<bool>(),
        top_comment in any::<bool>(),
    ) {
        let text = render(&rules, step, compact_seq, top_comment);
        let cluster = OfflineCluster::default();
        let result = check::check_text("gen.yaml", &text, &config(), &cluster);
        prop_assert_eq!(result.records.len(), 1);
        let record = &result.records[0];
        prop_assert_eq!(record.status, Status::Changed, "{}\n{:?}", text, record.message);
        prop_assert!(record.fixed, "not fixed in place: {:?}\n{}", record.fix_note, text);
        let fixed = result.fixed_text.clone().unwrap();

        let expected = check::apply_patch(&value_of(&text), record.patch.as_ref().unwrap()).unwrap();
        prop_assert_eq!(value_of(&fixed), expected);

        let again = check::check_text("gen.yaml", &fixed, &config(), &cluster);
        prop_assert_eq!(again.records[0].status, Status::Unchanged, "{}", fixed);
        prop_assert!(again.fixed_text.is_none());

        for change in similar::TextDiff::from_lines(text.as_str(), fixed.as_str()).iter_all_changes() {
            if change.tag() == similar::ChangeTag::Delete {
                let line = change.value();
                let expr_line = line.contains("expr:") || EXPRS.iter().any(|e| line.contains(e) || line.contains(&e.replace('"', "\\\"")));
                let labels_line = line.trim_end() .ends_with("labels: {severity: warning}") || line.trim_end().ends_with("labels: {}");
                prop_assert!(expr_line || labels_line, "rewrote {:?}\n{}\n=>\n{}", line, text, fixed);
            }
        }
        for comment in text.lines().filter(|l| l.trim_start().starts_with('#')) {
            prop_assert!(fixed.contains(comment));
        }
    }
}
