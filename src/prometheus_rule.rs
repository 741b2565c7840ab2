//! Reviews a PrometheusRule (`monitoring.coreos.com/v1`): walks `spec.groups[].rules[]`,
//! scopes each expression to the namespace, and rewrites only what changed.
//!
//! The object is walked as JSON so every field this policy does not change stays exactly
//! as it came. Mutating webhooks run before the API server checks the CRD schema, so the
//! object may be malformed in any way: each shape problem becomes a located message.

use std::cell::Cell;
use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::checks::location::{RuleAt, RuleName};
use crate::checks::object_shape::{
    field_object_mut, list_mut, object_mut, required_name, wrong_type,
};
use crate::checks::Check;
use crate::checks::{
    alerts_bool, alerts_count_values, alerts_default_labels, alerts_for, alerts_info,
    alerts_template_query, drift_comparison, expr_scope, object_bounds, object_loads,
    rules_interval, rules_namespace_label, Findings, Location,
};
use crate::durations;
use crate::promql::bounds::ParseRefusal;
use crate::promql::dialect::Features;
use crate::promql::edit::{Expression, Rewritten, Scoped};
use crate::promql::scope::Scope;
use crate::settings::Settings;

/// The label the Prometheus Operator routes a namespace's alerts by (its
/// AlertmanagerConfig matcher): pinned on every rule whatever `namespaceLabel` says.
pub const ROUTING_LABEL: &str = "namespace";

pub use crate::checks::object_bounds::{MAX_REGEX_BYTES, MAX_RULES, MAX_TOKENS};

/// The check a refused expression falls under.
fn refusal_check(refusal: &ParseRefusal) -> &'static Check {
    match refusal {
        ParseRefusal::TooLong { .. } | ParseRefusal::TooDeep { .. } => &object_bounds::CHECK,
        ParseRefusal::Syntax(_)
        | ParseRefusal::NumberOutOfRange { .. }
        | ParseRefusal::NotPrometheus { .. } => &object_loads::CHECK,
        ParseRefusal::NotEditable(_) => &expr_scope::CHECK,
        ParseRefusal::NotComparable(_) => &drift_comparison::CHECK,
    }
}

/// What every rule of one object is reviewed against.
struct RuleContext<'a> {
    scope: Scope<'a>,
    /// `scope` on [`ROUTING_LABEL`].
    routing: Scope<'a>,
    settings: &'a Settings,
    /// `minFor` in milliseconds, when set.
    min_for: Option<u64>,
    /// `minRuleInterval` in milliseconds, when set.
    min_rule_interval: Option<u64>,
    /// `prometheusFeatures`, resolved from their names.
    features: Features,
    /// Regex matcher bytes seen so far in the object, against `MAX_REGEX_BYTES`.
    regex_bytes: Cell<usize>,
    /// PromQL tokens parsed so far in the object, against `MAX_TOKENS`.
    tokens: Cell<usize>,
}

pub fn review(object: &mut Value, namespace: &str, settings: &Settings, findings: &mut Findings) {
    let Some(groups) = groups_of(object, findings) else {
        return;
    };
    let total: usize = groups
        .iter()
        .filter_map(|g| g.get("rules").and_then(Value::as_array))
        .map(Vec::len)
        .sum();
    if total > MAX_RULES {
        findings.reject(
            &object_bounds::CHECK,
            Location::path("spec.groups"),
            format!("holds {total} rules; the limit is {MAX_RULES} per PrometheusRule: split it into several objects"),
        );
        return;
    }
    let scope = Scope {
        label: &settings.namespace_label,
        namespace,
        on_conflict: settings.on_conflict,
    };
    let context = RuleContext {
        scope,
        routing: Scope {
            label: ROUTING_LABEL,
            ..scope
        },
        settings,
        // Parsed once per object, not per rule (settings validation already checked it).
        min_for: settings
            .min_for
            .as_deref()
            .and_then(|text| durations::parse_millis(text).ok()),
        min_rule_interval: settings
            .min_rule_interval
            .as_deref()
            .and_then(|text| durations::parse_millis(text).ok()),
        features: settings.prometheus_features(),
        regex_bytes: Cell::new(0),
        tokens: Cell::new(0),
    };
    // Group name -> first index. Groups are not capped like rules, so this must not be a
    // linear scan per group.
    let mut seen_names: HashMap<String, usize> = HashMap::new();
    for (group_index, group) in groups.iter_mut().enumerate() {
        let at = format!("spec.groups[{group_index}]");
        let Some(group) = object_mut(group, &at, findings) else {
            continue;
        };
        let group_name = required_name(group, &at, findings);
        if !group_name.is_empty() {
            if let Some(first) = seen_names.get(&group_name) {
                findings.reject(
                    &object_loads::CHECK,
                    Location::path(format!("{at}.name")),
                    format!("group name {group_name:?} is repeated (first at spec.groups[{first}]); Prometheus refuses rule files with duplicate group names"),
                );
            } else {
                seen_names.insert(group_name.clone(), group_index);
            }
        }
        object_loads::group_fields(group, &at, findings);
        if let (Some(min), Some(text)) = (context.min_rule_interval, &settings.min_rule_interval) {
            rules_interval::review_interval(group, &at, min, text, findings);
        }
        let Some(rules) = list_mut(group, "rules", &at, findings) else {
            continue;
        };
        for (rule_index, rule) in rules.iter_mut().enumerate() {
            let Some(rule) = object_mut(rule, &format!("{at}.rules[{rule_index}]"), findings)
            else {
                continue;
            };
            review_rule(
                rule,
                RuleAt {
                    group_index,
                    group_name: &group_name,
                    rule_index,
                    rule: RuleName::Unnamed,
                },
                &context,
                findings,
            );
        }
    }
}

/// `spec.groups` as a list, or `None` when there is nothing to review (or it is malformed,
/// which is then recorded).
fn groups_of<'o>(object: &'o mut Value, findings: &mut Findings) -> Option<&'o mut Vec<Value>> {
    // The API server only sends objects; anything else has nothing to review.
    let spec = field_object_mut(object.as_object_mut()?, "spec", "spec", findings)?;
    list_mut(spec, "groups", "spec", findings)
}

fn review_rule(
    rule: &mut Map<String, Value>,
    unnamed: RuleAt,
    context: &RuleContext,
    findings: &mut Findings,
) {
    let Some((is_alert, name)) = rule_identity(rule, &unnamed, findings) else {
        return;
    };
    let at = RuleAt {
        rule: if is_alert {
            RuleName::Alert(&name)
        } else {
            RuleName::Record(&name)
        },
        ..unnamed
    };
    object_loads::rule_fields(rule, &at, is_alert, &name, findings);
    let routed_apart = context.routing.label != context.scope.label;
    if rules_namespace_label::check_label_values(rule, &at, findings) {
        if let Some(labels) = rule.get_mut("labels").and_then(Value::as_object_mut) {
            rules_namespace_label::pin_namespace_label(labels, &at, &context.scope, findings);
            if routed_apart {
                rules_namespace_label::pin_namespace_label(labels, &at, &context.routing, findings);
            }
        }
        rules_namespace_label::add_namespace_label(
            rule,
            &at,
            &context.scope,
            rules_namespace_label::SCOPE_WHY,
            findings,
        );
        if routed_apart {
            rules_namespace_label::add_namespace_label(
                rule,
                &at,
                &context.routing,
                rules_namespace_label::ROUTING_WHY,
                findings,
            );
        }
    }
    // Owned, so the rule's other fields can change while the expression is reviewed.
    let Some(text) = expr_text_of(rule, &at, findings) else {
        return;
    };
    let Some(scoped) = review_expr(&text, &at, context, findings) else {
        return;
    };
    if let Some(problem) = alerts_info::info_without_data_selector(scoped.tree(), &context.scope) {
        at.record(problem, findings);
    }
    // Only alerts are completed (a drift alert's default comparison).
    let expr = if is_alert {
        drift_comparison::complete_drift(scoped, &at, context.settings, findings)
    } else {
        scoped.no_completion()
    };
    if is_alert {
        let settings = context.settings;
        let labels = rule.get("labels").and_then(Value::as_object);
        // Rule labels (and `alertname`) are set after the expression's. (Group labels,
        // which Prometheus 3 merges in too, are refused: see `object_loads::group_fields`.)
        let overridden =
            |label: &str| label == "alertname" || labels.is_some_and(|l| l.contains_key(label));
        let problems = alerts_bool::always_fires_by_bool(expr.tree())
            .into_iter()
            .chain(alerts_count_values::labels_from_the_value(
                expr.tree(),
                &overridden,
            ))
            .chain(alerts_template_query::label_templates(labels, &name))
            .chain(alerts_template_query::annotation_templates(
                rule.get("annotations").and_then(Value::as_object),
                &name,
            ));
        for problem in problems {
            at.record(problem, findings);
        }
        // Recording rules get neither: `for` means nothing there.
        alerts_for::review_for(rule, &at, settings, context.min_for, findings);
        alerts_default_labels::add_default_labels(rule, &at, settings, findings);
    }
    if expr.changed() {
        match expr.rewrite() {
            Ok(Rewritten { text }) => {
                rule.insert("expr".to_owned(), Value::String(text));
            }
            Err(refusal) => {
                findings.reject(refusal_check(&refusal), at.at("expr"), refusal.to_string())
            }
        }
    }
}

/// `(is_alert, name)`: a rule is an alerting rule (`alert`) or a recording rule
/// (`record`), never both. An empty one beside a named other is no field at all: the
/// operator writes the rule from Go fields tagged `omitempty`, and Prometheus reads ""
/// as unset.
fn rule_identity(
    rule: &Map<String, Value>,
    at: &RuleAt,
    findings: &mut Findings,
) -> Option<(bool, String)> {
    match (rule.get("alert"), rule.get("record")) {
        (Some(Value::String(a)), Some(Value::String(r))) if a.is_empty() != r.is_empty() => {
            Some(if r.is_empty() {
                (true, a.clone())
            } else {
                (false, r.clone())
            })
        }
        // (Past the arm above, both are empty or neither is.)
        (Some(Value::String(a)), Some(Value::String(_))) if a.is_empty() => {
            findings.reject(
                &object_loads::CHECK,
                Location::named(at.to_string(), at.rule_path()),
                "needs `alert` (an alerting rule) or `record` (a recording rule); both are empty",
            );
            None
        }
        (Some(Value::String(a)), None | Some(Value::Null)) => Some((true, a.clone())),
        (None | Some(Value::Null), Some(Value::String(r))) => Some((false, r.clone())),
        (None | Some(Value::Null), None | Some(Value::Null)) => {
            findings.reject(
                &object_loads::CHECK,
                Location::named(at.to_string(), at.rule_path()),
                "needs `alert` (an alerting rule) or `record` (a recording rule)",
            );
            None
        }
        (Some(Value::String(_)), Some(Value::String(_))) => {
            findings.reject(
                &object_loads::CHECK,
                Location::named(at.to_string(), at.rule_path()),
                "has both `alert` and `record`; a rule is one or the other",
            );
            None
        }
        (alert, record) => {
            let (field, value) = match alert {
                Some(v) if !v.is_string() && !v.is_null() => ("alert", v),
                _ => ("record", record.unwrap_or(&Value::Null)),
            };
            wrong_type(findings, at.at(field), "a string", value);
            None
        }
    }
}

/// The rule's `expr` as text. The CRD types it int-or-string: an integer is a valid
/// (constant) expression.
fn expr_text_of(rule: &Map<String, Value>, at: &RuleAt, findings: &mut Findings) -> Option<String> {
    match rule.get("expr") {
        Some(Value::String(text)) => Some(text.clone()),
        // The operator reads `expr` as an IntOrString, whose integer is 32 bits: one
        // object it cannot decode stops its rule listing, every tenant's.
        Some(Value::Number(n)) if n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()) => {
            Some(n.to_string())
        }
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {
            findings.reject(
                &crate::checks::object_shape::CHECK,
                at.at("expr"),
                format!("{n} is past the 32-bit integer the Prometheus Operator reads `expr` as (one object it cannot read stops every tenant's rule updates); write it as a string: \"{n}\""),
            );
            None
        }
        None | Some(Value::Null) => {
            findings.reject(
                &crate::checks::object_shape::CHECK,
                at.at("expr"),
                "is missing",
            );
            None
        }
        Some(other) => {
            wrong_type(findings, at.at("expr"), "a string or an integer", other);
            None
        }
    }
}

/// Parses the expression and scopes every selector to the namespace; `None` when the
/// rule is rejected (the reason is recorded).
fn review_expr<'t>(
    text: &'t str,
    at: &RuleAt,
    context: &'t RuleContext,
    findings: &mut Findings,
) -> Option<Expression<'t, Scoped>> {
    let scope = context.scope;
    // Past a bound (already rejected) no further expression is parsed.
    if context.regex_bytes.get() > MAX_REGEX_BYTES || context.tokens.get() > MAX_TOKENS {
        return None;
    }
    let expr = match Expression::parse_for(text, scope, context.features) {
        Ok(expr) => expr,
        Err(refusal) => {
            findings.reject(refusal_check(&refusal), at.at("expr"), refusal.to_string());
            return None;
        }
    };
    let before = context.tokens.get();
    let total = before.saturating_add(expr.token_count());
    context.tokens.set(total);
    if total > MAX_TOKENS {
        if before <= MAX_TOKENS {
            findings.reject(
                &object_bounds::CHECK,
                at.at("expr"),
                format!("the object's expressions reach {total} PromQL tokens here; the limit is {MAX_TOKENS} per PrometheusRule (it bounds the time admission takes): split it into several objects"),
            );
        }
        return None;
    }
    // Each regex is checked (never compiled) at a cost linear in its bytes; the object's
    // total is bounded too, so no object buys more checking than the bound.
    let before = context.regex_bytes.get();
    let total = before.saturating_add(expr.regex_bytes());
    context.regex_bytes.set(total);
    if total > MAX_REGEX_BYTES && before <= MAX_REGEX_BYTES {
        findings.reject(
            &object_bounds::CHECK,
            at.at("expr"),
            format!("the object's regex matchers reach {total} bytes here; the limit is {MAX_REGEX_BYTES} bytes per PrometheusRule: split it into several objects"),
        );
    }
    if total > MAX_REGEX_BYTES {
        return None;
    }
    expr_scope::scope(expr, at, scope, findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::scope::OnConflict;
    use serde_json::json;

    /// What a review found, as the texts a user reads.
    struct Texts {
        problems: Vec<String>,
        warnings: Vec<String>,
    }

    fn reviewed(mut object: Value, settings: &Settings) -> (Value, Texts) {
        let mut findings = Findings::default();
        review(&mut object, "user1-test", settings, &mut findings);
        let texts = Texts {
            problems: findings.problem_texts(),
            warnings: findings.changes.iter().map(|c| c.change_text()).collect(),
        };
        (object, texts)
    }

    fn one_rule(rule: Value) -> Value {
        json!({"spec": {"groups": [{"name": "g", "rules": [rule]}]}})
    }

    fn kubernetes_namespace() -> Settings {
        Settings {
            namespace_label: "kubernetes_namespace".to_owned(),
            ..Settings::default()
        }
    }

    #[test]
    fn the_routing_label_is_pinned_whatever_namespace_label_says() {
        // Bug report: only kubernetes_namespace was pinned, the alert reached user2.
        let rule = json!({
            "alert": "a",
            "expr": r#"label_replace(trustyai_meanshift < 0.05, "namespace", "user2-test", "", "")"#,
            "for": "10m",
        });
        for rule in [rule.clone(), json!({"record": "r", "expr": "up"})] {
            let (object, findings) = reviewed(one_rule(rule), &kubernetes_namespace());
            assert!(findings.problems.is_empty(), "{:?}", findings.problems);
            let labels = &object["spec"]["groups"][0]["rules"][0]["labels"];
            assert_eq!(labels["namespace"], "user1-test", "{object}");
            assert_eq!(labels["kubernetes_namespace"], "user1-test", "{object}");
            assert!(findings.warnings.iter().any(|w| w.starts_with(
                r#"[rules/namespace-label] spec.groups[0].rules[0].labels.namespace: set to "user1-test" (the Prometheus Operator routes alerts by `namespace`"#
            )), "{:?}", findings.warnings);
        }
        // A conflicting value follows onConflict.
        let object = one_rule(
            json!({"alert": "a", "expr": "up == 0", "labels": {"namespace": "user2-test"}}),
        );
        let (_, findings) = reviewed(object.clone(), &kubernetes_namespace());
        assert_eq!(findings.problems.len(), 1, "{:?}", findings.problems);
        assert!(findings.problems[0].starts_with(r#"[rules/namespace-label] group "g" alert "a" (spec.groups[0].rules[0].labels.namespace): "user2-test" conflicts"#), "{:?}", findings.problems);
        let overwrite = Settings {
            on_conflict: OnConflict::Overwrite,
            ..kubernetes_namespace()
        };
        let (object, findings) = reviewed(object, &overwrite);
        assert!(findings.problems.is_empty(), "{:?}", findings.problems);
        assert_eq!(
            object["spec"]["groups"][0]["rules"][0]["labels"]["namespace"],
            "user1-test"
        );
    }

    /// Group names are compared as written, and every repeat names the first.
    #[test]
    fn repeated_group_names_name_the_first_and_only_exact_repeats() {
        let group = |name: &str| json!({"name": name, "rules": [{"record": "r", "expr": "1"}]});
        let object = json!({"spec": {"groups": [group("a"), group("a"), group("a"), group(" a")]}});
        let (_, findings) = reviewed(object, &Settings::default());
        assert_eq!(
            findings.problems,
            [
                r#"[object/loads] spec.groups[1].name: group name "a" is repeated (first at spec.groups[0]); Prometheus refuses rule files with duplicate group names"#,
                r#"[object/loads] spec.groups[2].name: group name "a" is repeated (first at spec.groups[0]); Prometheus refuses rule files with duplicate group names"#,
            ]
        );
    }

    /// Label names are case-sensitive: a namespaceLabel of `Namespace` is another label
    /// than the routing label `namespace`, and both are pinned.
    #[test]
    fn a_namespace_label_differing_in_case_from_namespace_is_pinned_beside_it() {
        let settings = Settings {
            namespace_label: "Namespace".to_owned(),
            ..Settings::default()
        };
        let (object, findings) = reviewed(one_rule(json!({"record": "r", "expr": "1"})), &settings);
        assert!(findings.problems.is_empty(), "{:?}", findings.problems);
        assert_eq!(
            object["spec"]["groups"][0]["rules"][0]["labels"],
            json!({"Namespace": "user1-test", "namespace": "user1-test"})
        );
    }

    /// A null `alert` or `record` is an absent one; a blank name is a name.
    #[test]
    fn null_alert_or_record_is_absent_and_a_blank_one_is_a_name() {
        let problems = |rule: Value| reviewed(one_rule(rule), &Settings::default()).1.problems;
        assert_eq!(
            problems(json!({"alert": "a", "record": null, "expr": "1", "for": "10m"})),
            Vec::<String>::new()
        );
        assert_eq!(
            problems(json!({"alert": null, "record": "r", "expr": "1"})),
            Vec::<String>::new()
        );
        assert_eq!(
            problems(json!({"alert": null, "record": null, "expr": "1"})),
            [
                r#"[object/loads] group "g" rule 0 (spec.groups[0].rules[0]): needs `alert` (an alerting rule) or `record` (a recording rule)"#
            ]
        );
        assert_eq!(
            problems(json!({"alert": " ", "record": "r", "expr": "1"})),
            [
                r#"[object/loads] group "g" rule 0 (spec.groups[0].rules[0]): has both `alert` and `record`; a rule is one or the other"#
            ]
        );
        assert_eq!(
            problems(json!({"record": "r", "expr": null})),
            [r#"[object/shape] group "g" record "r" (spec.groups[0].rules[0].expr): is missing"#]
        );
    }

    /// info()'s advice names the label the tenant's series carry: namespaceLabel.
    #[test]
    fn info_advice_names_the_namespace_label() {
        let settings = Settings {
            prometheus_features: vec!["promql-experimental-functions".to_owned()],
            ..kubernetes_namespace()
        };
        let (_, findings) = reviewed(
            one_rule(json!({"record": "r", "expr": "info(up)"})),
            &settings,
        );
        assert!(
            findings.problems[0]
                .ends_with(r#"`info(<expr>, {kubernetes_namespace="user1-test"})`"#),
            "{:?}",
            findings.problems
        );
    }

    /// Under `onConflict: overwrite` every foreign matcher overwritten gets a warning,
    /// and a rule label's conflict says what it was and what it became.
    #[test]
    fn every_overwrite_is_said_with_old_and_new() {
        let overwrite = Settings {
            on_conflict: OnConflict::Overwrite,
            ..Settings::default()
        };
        let (_, findings) = reviewed(
            one_rule(
                json!({"record": "r", "expr": r#"x{namespace="a"} + y{namespace="b"}"#,
                            "labels": {"namespace": "user2-test"}}),
            ),
            &overwrite,
        );
        assert_eq!(
            findings.warnings,
            [
                r#"[rules/namespace-label] spec.groups[0].rules[0].labels.namespace: overwrote "user2-test" with "user1-test""#,
                r#"[expr/scope] spec.groups[0].rules[0].expr: overwrote matcher namespace="a" with namespace="user1-test""#,
                r#"[expr/scope] spec.groups[0].rules[0].expr: overwrote matcher namespace="b" with namespace="user1-test""#,
            ]
        );
    }

    /// `or` inside braces is Prometheus 3's: 2.x does not load it, so it is a loading
    /// problem, not a scoping one.
    #[test]
    fn or_in_braces_is_refused_as_not_loading() {
        let (_, findings) = reviewed(
            one_rule(json!({"record": "r", "expr": r#"x{a="1" or b="2"}"#})),
            &Settings::default(),
        );
        assert_eq!(findings.problems.len(), 1, "{:?}", findings.problems);
        assert!(
            findings.problems[0].starts_with(
                r#"[object/loads] group "g" record "r" (spec.groups[0].rules[0].expr): "#
            ),
            "{:?}",
            findings.problems
        );
    }

    /// Durations are Prometheus's: no blanks around them. A `for` Prometheus cannot read
    /// is a loading problem; a null one is unset and gets the default.
    #[test]
    fn durations_are_read_as_prometheus_reads_them() {
        let alert = |fields: Value| {
            let mut rule = json!({"alert": "a", "expr": "up == 0"});
            for (k, v) in fields.as_object().unwrap() {
                rule[k] = v.clone();
            }
            reviewed(one_rule(rule), &Settings::default())
        };
        let (_, findings) = alert(json!({"for": " 10m"}));
        assert_eq!(findings.problems.len(), 1, "{:?}", findings.problems);
        assert!(
            findings.problems[0].starts_with(
                r#"[object/loads] group "g" alert "a" (spec.groups[0].rules[0].for): "#
            ),
            "{:?}",
            findings.problems
        );
        let (object, findings) = alert(json!({"for": null}));
        assert!(findings.problems.is_empty(), "{:?}", findings.problems);
        assert_eq!(object["spec"]["groups"][0]["rules"][0]["for"], "10m");
        // A group interval Prometheus cannot read is not measured against the minimum.
        let object = json!({"spec": {"groups": [{"name": "g", "interval": " 1s", "rules": [{"record": "r", "expr": "1"}]}]}});
        let (_, findings) = reviewed(object, &Settings::default());
        assert!(
            !findings
                .problems
                .iter()
                .any(|p| p.starts_with("[rules/interval]")),
            "{:?}",
            findings.problems
        );
    }

    /// A null `spec`, `groups` or `rules` is an absent one: nothing to review, and not
    /// of the wrong type.
    #[test]
    fn null_containers_are_absent() {
        for object in [
            json!({"spec": null}),
            json!({"spec": {"groups": null}}),
            json!({"spec": {"groups": [{"name": "g", "rules": null}]}}),
        ] {
            let (_, findings) = reviewed(object.clone(), &Settings::default());
            assert_eq!(findings.problems, Vec::<String>::new(), "{object}");
        }
    }

    #[test]
    fn templates_are_checked_in_labels_and_annotations() {
        let object = one_rule(json!({
            "alert": "a",
            "expr": "up == 0",
            "labels": {"p": r#"{{ print "}}" $value }}"#},
            "annotations": {"leak": r#"{{ with query "secret_metric" }}{{ . }}{{ end }}"#, "fine": "{{ humanize $value }}"},
        }));
        let (_, findings) = reviewed(object, &Settings::default());
        let problems = findings.problems.join("\n");
        for expected in [
            r#"[alerts/label-value] group "g" alert "a" (spec.groups[0].rules[0].labels.p): "{{ print \"}}\" $value }}" depends on the alert's value"#,
            r#"[alerts/template-query] group "g" alert "a" (spec.groups[0].rules[0].annotations.leak): "#,
        ] {
            assert!(
                problems.contains(expected),
                "{expected}\nnot in\n{problems}"
            );
        }
        assert_eq!(findings.problems.len(), 2, "{problems}");
    }

    #[test]
    fn info_and_count_values_are_located() {
        // info() needs the experimental functions: with them on, its one-argument form
        // is still refused, for reading every namespace.
        let experimental = Settings {
            prometheus_features: vec!["promql-experimental-functions".to_owned()],
            ..Settings::default()
        };
        let (_, findings) = reviewed(
            one_rule(json!({"record": "r", "expr": "info(up)"})),
            &experimental,
        );
        assert!(findings.problems[0].starts_with(r#"[alerts/info] group "g" record "r" (spec.groups[0].rules[0].expr): `info(up{namespace="user1-test"})` has no data-label selector"#), "{:?}", findings.problems);
        let (_, findings) = reviewed(
            one_rule(json!({"alert": "a", "expr": r#"count_values("p", up)"#})),
            &Settings::default(),
        );
        assert!(findings.problems[0].starts_with(r#"[alerts/count-values] group "g" alert "a" (spec.groups[0].rules[0].expr): its result comes from `count_values("p", …)`"#), "{:?}", findings.problems);
        // A rule label overriding the label, or `alertname`, makes two values collide.
        for (expr, labels) in [
            (r#"count_values("p", up)"#, json!({"p": "x"})),
            (r#"count_values("alertname", up)"#, json!({})),
        ] {
            let (_, findings) = reviewed(
                one_rule(json!({"alert": "a", "expr": expr, "labels": labels})),
                &Settings::default(),
            );
            assert_eq!(
                findings.problems.len(),
                1,
                "{expr}: {:?}",
                findings.problems
            );
            assert!(
                findings.problems[0].contains(
                    "itself after the expression, so two samples with different values collide"
                ),
                "{:?}",
                findings.problems
            );
        }
        // `alert` is no label Prometheus sets.
        let (_, findings) = reviewed(
            one_rule(json!({"alert": "a", "expr": r#"count_values("alert", up)"#})),
            &Settings::default(),
        );
        assert!(
            findings.problems[0].contains("every new value makes a new alert"),
            "{:?}",
            findings.problems
        );
    }

    #[test]
    fn a_rule_of_the_wrong_type_names_the_field_that_is() {
        for (rule, field, found) in [
            (
                json!({"alert": "a", "record": 5, "expr": "up"}),
                "record",
                "a number",
            ),
            (
                json!({"alert": null, "record": 5, "expr": "up"}),
                "record",
                "a number",
            ),
            (json!({"alert": 5, "expr": "up"}), "alert", "a number"),
            (
                json!({"alert": ["a"], "record": "r", "expr": "up"}),
                "alert",
                "a list",
            ),
        ] {
            let (_, findings) = reviewed(one_rule(rule.clone()), &Settings::default());
            assert_eq!(
                findings.problems,
                vec![format!("[object/shape] group \"g\" rule 0 (spec.groups[0].rules[0].{field}): must be a string, found {found}")],
                "{rule}"
            );
        }
    }

    #[test]
    fn a_group_evaluated_faster_than_min_rule_interval_is_refused() {
        let mut object = one_rule(json!({"record": "r", "expr": "vector(1)"}));
        object["spec"]["groups"][0]["interval"] = json!("1ms");
        let (_, findings) = reviewed(object.clone(), &Settings::default());
        assert_eq!(findings.problems.len(), 1, "{:?}", findings.problems);
        assert!(findings.problems[0].starts_with("[rules/interval] spec.groups[0].interval: \"1ms\" is shorter than minRuleInterval \"10s\""), "{:?}", findings.problems);
        // `""` disables the bound.
        let any = Settings {
            min_rule_interval: None,
            ..Settings::default()
        };
        let (_, findings) = reviewed(object, &any);
        assert!(findings.problems.is_empty(), "{:?}", findings.problems);
    }

    #[test]
    fn an_integer_expression_is_its_number() {
        // The CRD types `expr` int-or-string, and the operator's IntOrString holds 32 bits.
        for (expr, text) in [
            (json!(1), "1"),
            (json!(-1), "-1"),
            (json!(i32::MAX), "2147483647"),
            (json!(i32::MIN), "-2147483648"),
        ] {
            let (object, findings) = reviewed(
                one_rule(json!({"record": "r", "expr": expr})),
                &Settings::default(),
            );
            assert!(
                findings.problems.is_empty(),
                "{expr}: {:?}",
                findings.problems
            );
            // A constant has no selector to scope: the number stays as it was written.
            assert_eq!(
                object["spec"]["groups"][0]["rules"][0]["expr"], expr,
                "{text}"
            );
        }
        // Past 32 bits the operator cannot read the object: refused, saying to quote it.
        for (expr, text) in [
            (json!(2_147_483_648i64), "2147483648"),
            (json!(-2_147_483_649i64), "-2147483649"),
            (json!(9_223_372_036_854_775_808u64), "9223372036854775808"),
        ] {
            let (_, findings) = reviewed(
                one_rule(json!({"record": "r", "expr": expr})),
                &Settings::default(),
            );
            assert_eq!(
                findings.problems,
                [format!("[object/shape] group \"g\" record \"r\" (spec.groups[0].rules[0].expr): {text} is past the 32-bit integer the Prometheus Operator reads `expr` as (one object it cannot read stops every tenant's rule updates); write it as a string: \"{text}\"")]
            );
        }
        let (_, findings) = reviewed(
            one_rule(json!({"record": "r", "expr": 1.5})),
            &Settings::default(),
        );
        assert_eq!(
            findings.problems,
            vec!["[object/shape] group \"g\" record \"r\" (spec.groups[0].rules[0].expr): must be a string or an integer, found a number"]
        );
    }
}

#[cfg(test)]
mod regex_bound_tests {
    use serde_json::json;

    use super::{review, MAX_REGEX_BYTES, MAX_TOKENS};
    use crate::checks::Findings;
    use crate::settings::Settings;
    use crate::verdict::Verdict;

    #[test]
    fn regex_bytes_are_bounded_per_object() {
        // 40 rules of 2 KiB of regexes each: 80 KiB, past the 64 KiB bound.
        let regex = format!("x{{a=~\"{}\"}}", "(?i)\\\\p{Any}".repeat(160));
        let rules: Vec<_> = (0..40)
            .map(|i| json!({"record": format!("r{i}"), "expr": regex}))
            .collect();
        let mut object = json!({"spec": {"groups": [{"name": "g", "rules": rules}]}});
        let mut findings = Findings::default();
        review(
            &mut object,
            "user1-test",
            &Settings::default(),
            &mut findings,
        );
        match Verdict::of(findings, object) {
            Verdict::Reject { message } => {
                assert!(
                    message.contains(&format!(
                        "the limit is {MAX_REGEX_BYTES} bytes per PrometheusRule"
                    )),
                    "{message}"
                );
                assert!(
                    message.contains("spec.groups[0].rules[34].expr"),
                    "{message}"
                );
                assert_eq!(message.matches("the limit is").count(), 1, "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    /// The object (one group of `rules`) as reviewed under the default settings, and
    /// what the review found.
    fn reviewed(rules: Vec<serde_json::Value>) -> (serde_json::Value, Findings) {
        let mut object = json!({"spec": {"groups": [{"name": "g", "rules": rules}]}});
        let mut findings = Findings::default();
        review(
            &mut object,
            "user1-test",
            &Settings::default(),
            &mut findings,
        );
        (object, findings)
    }

    /// The problems of reviewing `rules` (one group) under the default settings.
    fn problems_of(rules: Vec<serde_json::Value>) -> Vec<String> {
        reviewed(rules).1.problem_texts()
    }

    /// `n` recording rules `r{first}…` of `expr`.
    fn records(first: usize, n: usize, expr: &str) -> Vec<serde_json::Value> {
        (first..first + n)
            .map(|i| json!({"record": format!("r{i}"), "expr": expr}))
            .collect()
    }

    #[test]
    fn the_object_bounds_parse_up_to_their_limit_and_nothing_past_it() {
        let broken = |i: usize| json!({"record": format!("r{i}"), "expr": "sum("});
        // Exactly MAX_TOKENS tokens: 64 rules of 1,023, one of 63, one of 1; a rule
        // after them is still parsed (its syntax error is reported). Sums of groups, to
        // stay under the nesting bound: each group `(a+…+a)` of 101 terms is 203 tokens.
        let wide = |k: usize| vec!["a"; k].join("+");
        let group = format!("({})", wide(101));
        let e1023 = format!("{}+a+a", [group.as_str(); 5].join("+"));
        let mut rules = records(0, 64, &e1023);
        rules.extend(records(64, 1, &wide(32)));
        rules.extend(records(65, 1, "1"));
        assert_eq!(64 * 1023 + 63 + 1, MAX_TOKENS);
        rules.push(broken(66));
        let texts = problems_of(rules.clone());
        assert_eq!(texts.len(), 1, "{texts:?}");
        assert!(
            texts[0].starts_with(
                "[object/loads] group \"g\" record \"r66\" (spec.groups[0].rules[66].expr)"
            ),
            "{texts:?}"
        );
        // One token more: refused for the bound, at the rule that crosses it, and
        // nothing after it is parsed. (A hostile review found the case: 400 rules of
        // `(a+…+a)*(a+…+a)`, 413 KB, took policy-server past its 2 s limit.)
        rules.insert(66, json!({"record": "r65b", "expr": "1"}));
        let texts = problems_of(rules);
        assert_eq!(texts.len(), 1, "{texts:?}");
        assert_eq!(
            texts[0],
            format!("[object/bounds] group \"g\" record \"r65b\" (spec.groups[0].rules[66].expr): the object's expressions reach {} PromQL tokens here; the limit is {MAX_TOKENS} per PrometheusRule (it bounds the time admission takes): split it into several objects", MAX_TOKENS + 1),
        );

        // Exactly MAX_REGEX_BYTES of regex matchers (`a=~"…"`, 2,048 bytes each, 32
        // times): the rule after them is parsed too.
        let regex = format!("x{{a=~\"{}\"}}", "b".repeat(2048 - 5));
        let mut rules = records(0, 32, &regex);
        // ... and every one of them is scoped, the last as the first.
        let (object, findings) = reviewed(rules.clone());
        assert!(
            findings.problems.is_empty(),
            "{:?}",
            findings.problem_texts()
        );
        for i in [0, 31] {
            let expr = object["spec"]["groups"][0]["rules"][i]["expr"]
                .as_str()
                .unwrap();
            assert!(
                expr.starts_with("x{namespace=\"user1-test\", a=~"),
                "{i}: {expr:.60}"
            );
        }
        rules.push(broken(32));
        let texts = problems_of(rules.clone());
        assert_eq!(texts.len(), 1, "{texts:?}");
        assert!(texts[0].starts_with("[object/loads]"), "{texts:?}");
        // A byte more: refused for the bound, and nothing after it is parsed.
        // (An alert with a problem of its own, reported only if it were reviewed on.)
        rules.insert(
            32,
            json!({"alert": "r31b", "expr": "count_values(\"p\", x{a=~\"b\"})"}),
        );
        let texts = problems_of(rules);
        assert_eq!(texts.len(), 1, "{texts:?}");
        assert!(texts[0].starts_with("[object/bounds]"), "{texts:?}");
    }
}
