//! Reviews a PrometheusRule (`monitoring.coreos.com/v1`): walks `spec.groups[].rules[]`,
//! scopes each expression to the namespace, and rewrites only what changed.
//!
//! The object is walked as JSON so every field this policy does not change stays exactly
//! as it came. Mutating webhooks run before the API server checks the CRD schema, so the
//! object may be malformed in any way: each shape problem becomes a located message.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::bounded_parse::parse_bounded;
use crate::drift::{self, DriftCheck};
use crate::durations;
use crate::json_shape::{field_object_mut, list_mut, object_mut, required_name};
use crate::namespace_scope::{is_unrendered_template, scope_expr, OnConflict, Scope};
use crate::settings::Settings;
use crate::verdict::{json_kind, Findings};

/// Most rules one PrometheusRule may hold, summed over its groups. Well above generated
/// mixins (a few hundred); it bounds the work one admission request can cause.
pub const MAX_RULES: usize = 2000;

/// Where a rule sits, for messages: `group "g" alert "a" (spec.groups[0].rules[1])`.
struct RuleAt<'a> {
    group_index: usize,
    group_name: &'a str,
    rule_index: usize,
    rule: RuleName<'a>,
}

#[derive(Clone, Copy)]
enum RuleName<'a> {
    Alert(&'a str),
    Record(&'a str),
    Unnamed,
}

impl RuleAt<'_> {
    fn path(&self, field: &str) -> String {
        format!(
            "spec.groups[{}].rules[{}].{field}",
            self.group_index, self.rule_index
        )
    }

    /// `group "g" alert "a" (spec.groups[0].rules[1].expr)`: names all three.
    fn at(&self, field: &str) -> String {
        format!("{self} ({})", self.path(field))
    }
}

impl fmt::Display for RuleAt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "group {:?} ", self.group_name)?;
        match self.rule {
            RuleName::Alert(name) => write!(f, "alert {name:?}"),
            RuleName::Record(name) => write!(f, "record {name:?}"),
            RuleName::Unnamed => write!(f, "rule {}", self.rule_index),
        }
    }
}

/// What every rule of one object is reviewed against.
struct RuleContext<'a> {
    scope: Scope<'a>,
    settings: &'a Settings,
    /// `minFor` in milliseconds, when set.
    min_for: Option<u64>,
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
        findings.reject(format!(
            "spec.groups holds {total} rules; the limit is {MAX_RULES} per PrometheusRule: split it into several objects"
        ));
        return;
    }
    let scope = Scope {
        label: &settings.namespace_label,
        namespace,
        on_conflict: settings.on_conflict,
    };
    let context = RuleContext {
        scope,
        settings,
        // Parsed once per object, not per rule (settings validation already checked it).
        min_for: Some(settings.min_for.as_str())
            .filter(|text| !text.is_empty())
            .and_then(|text| durations::parse_millis(text).ok()),
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
                findings.reject(format!(
                    "{at}: group name {group_name:?} is repeated (first at spec.groups[{first}]); Prometheus refuses rule files with duplicate group names"
                ));
            } else {
                seen_names.insert(group_name.clone(), group_index);
            }
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
                group_index,
                &group_name,
                rule_index,
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
    group_index: usize,
    group_name: &str,
    rule_index: usize,
    context: &RuleContext,
    findings: &mut Findings,
) {
    let (scope, settings, min_for) = (&context.scope, context.settings, context.min_for);
    let mut at = RuleAt {
        group_index,
        group_name,
        rule_index,
        rule: RuleName::Unnamed,
    };
    // Owned, so the rule map can be changed below; names are short.
    let (is_alert, name) = match (rule.get("alert"), rule.get("record")) {
        (Some(Value::String(a)), None | Some(Value::Null)) => (true, a.clone()),
        (None | Some(Value::Null), Some(Value::String(r))) => (false, r.clone()),
        (None | Some(Value::Null), None | Some(Value::Null)) => {
            findings.reject(format!(
                "{at}: needs `alert` (an alerting rule) or `record` (a recording rule)"
            ));
            return;
        }
        (Some(Value::String(_)), Some(Value::String(_))) => {
            findings.reject(format!(
                "{at}: has both `alert` and `record`; a rule is one or the other"
            ));
            return;
        }
        (alert, record) => {
            let (field, value) = match alert {
                Some(v) if !v.is_string() && !v.is_null() => ("alert", v),
                _ => ("record", record.unwrap_or(&Value::Null)),
            };
            findings.reject(format!(
                "{} must be a string, found {}",
                at.at(field),
                json_kind(value)
            ));
            return;
        }
    };
    at.rule = if is_alert {
        RuleName::Alert(&name)
    } else {
        RuleName::Record(&name)
    };

    review_rule_labels(rule, &at, scope, findings);

    // The CRD types `expr` int-or-string: an integer is a valid (constant) expression.
    let text: Cow<str> = match rule.get("expr") {
        Some(Value::String(text)) => Cow::Borrowed(text),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Cow::Owned(n.to_string()),
        None | Some(Value::Null) => {
            findings.reject(format!("{} is missing", at.at("expr")));
            return;
        }
        Some(other) => {
            findings.reject(format!(
                "{} must be a string or an integer, found {}",
                at.at("expr"),
                json_kind(other)
            ));
            return;
        }
    };
    let mut expr = match parse_bounded(&text) {
        Ok(expr) => expr,
        Err(refusal) => {
            findings.reject(format!("{}: {refusal}", at.at("expr")));
            return;
        }
    };
    let changes = match scope_expr(&mut expr, scope) {
        Ok(changes) => changes,
        Err(err) => {
            findings.reject(format!(
                "{}: {err}, which conflicts with namespace {:?}: remove it (the policy adds {}={:?}), or have the policy set onConflict: overwrite",
                at.at("expr"),
                scope.namespace,
                scope.label,
                scope.namespace,
            ));
            return;
        }
    };
    let path = at.path("expr");
    if changes.added > 0 {
        findings.changed(format!("{path}: scoped to namespace {:?}", scope.namespace));
    }
    if changes.templates_replaced > 0 {
        findings.changed(format!(
            "{path}: replaced an unrendered template matcher with {}={:?}",
            scope.label, scope.namespace
        ));
    }
    for matcher in &changes.overwritten {
        findings.changed(format!(
            "{path}: overwrote matcher {matcher} with {}={:?}",
            scope.label, scope.namespace
        ));
    }
    let mut new_text = changes.any().then(|| expr.to_string());

    if is_alert {
        match drift::check_alert(&expr, settings) {
            DriftCheck::Fine => {}
            DriftCheck::Completed {
                expr: completed,
                metric,
            } => match parse_bounded(&completed) {
                Ok(_) => {
                    findings.changed(format!(
                        "{path}: added the default comparison for {metric} (a bare selector fires whenever the series exists)"
                    ));
                    new_text = Some(completed);
                }
                Err(refusal) => findings.reject(format!(
                    "{}: with its default comparison, {refusal}",
                    at.at("expr")
                )),
            },
            DriftCheck::Problems(problems) => {
                for problem in problems {
                    findings.reject(format!("{}: {problem}", at.at("expr")));
                }
            }
        }
        // Recording rules get neither: `for` means nothing there.
        review_for(rule, &at, settings, min_for, findings);
        add_default_labels(rule, &at, settings, findings);
    }
    if let Some(text) = new_text {
        rule.insert("expr".to_owned(), Value::String(text));
    }
}

/// `for`: set to `defaultFor` when unset; refused when malformed or shorter than
/// `minFor` (an explicit `0s` counts, an unset `for` does not).
fn review_for(
    rule: &mut Map<String, Value>,
    at: &RuleAt,
    settings: &Settings,
    min_for: Option<u64>,
    findings: &mut Findings,
) {
    for field in ["keep_firing_for", "for"] {
        match rule.get(field) {
            None | Some(Value::Null) => {
                if field == "for" && !settings.default_for.is_empty() {
                    findings.changed(format!(
                        "{}: set to {:?}",
                        at.path("for"),
                        settings.default_for
                    ));
                    rule.insert(
                        "for".to_owned(),
                        Value::String(settings.default_for.clone()),
                    );
                }
            }
            Some(Value::String(text)) => match durations::parse_millis(text) {
                Err(why) => findings.reject(format!("{}: {why}", at.at(field))),
                Ok(millis) if field == "for" && min_for.is_some() => {
                    if millis < min_for.unwrap_or(0) {
                        findings.reject(format!(
                            "{}: {text:?} is shorter than the minimum {:?}; a drift alert this quick flaps with every scrape",
                            at.at(field),
                            settings.min_for
                        ));
                    }
                }
                Ok(_) => {}
            },
            Some(other) => findings.reject(format!(
                "{} must be a duration string, found {}",
                at.at(field),
                json_kind(other)
            )),
        }
    }
}

fn add_default_labels(
    rule: &mut Map<String, Value>,
    at: &RuleAt,
    settings: &Settings,
    findings: &mut Findings,
) {
    if settings.default_labels.is_empty() {
        return;
    }
    let labels = rule
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if labels.is_null() {
        *labels = Value::Object(Map::new());
    }
    // A non-object `labels` was already reported by review_rule_labels.
    let Some(labels) = labels.as_object_mut() else {
        return;
    };
    for (name, value) in &settings.default_labels {
        if !labels.contains_key(name) {
            findings.changed(format!(
                "{}: set to {value:?}",
                at.path(&format!("labels.{name}"))
            ));
            labels.insert(name.clone(), Value::String(value.clone()));
        }
    }
}

/// A rule's own `labels` must not claim another namespace: Alertmanager routes on it.
fn review_rule_labels(
    rule: &mut Map<String, Value>,
    at: &RuleAt,
    scope: &Scope,
    findings: &mut Findings,
) {
    let labels = match rule.get_mut("labels") {
        None | Some(Value::Null) => return,
        Some(Value::Object(labels)) => labels,
        Some(other) => {
            findings.reject(format!(
                "{} must be a map of strings, found {}",
                at.at("labels"),
                json_kind(other)
            ));
            return;
        }
    };
    if let Some((key, value)) = labels.iter().find(|(_, v)| !v.is_string()) {
        findings.reject(format!(
            "{} must be a string, found {}",
            at.at(&format!("labels.{key}")),
            json_kind(value)
        ));
        return;
    }
    let Some(Value::String(value)) = labels.get(scope.label) else {
        return;
    };
    if value == scope.namespace {
        return;
    }
    let field = format!("labels.{}", scope.label);
    let path = at.path(&field);
    let old = value.clone();
    if is_unrendered_template(&old) {
        findings.changed(format!(
            "{path}: replaced unrendered template {old:?} with {:?}",
            scope.namespace
        ));
    } else if scope.on_conflict == OnConflict::Overwrite {
        findings.changed(format!(
            "{path}: overwrote {old:?} with {:?}",
            scope.namespace
        ));
    } else {
        findings.reject(format!(
            "{}: {:?} conflicts with namespace {:?}; remove the label or set it to the namespace",
            at.at(&field),
            old,
            scope.namespace
        ));
        return;
    }
    labels.insert(
        scope.label.to_owned(),
        Value::String(scope.namespace.to_owned()),
    );
}
