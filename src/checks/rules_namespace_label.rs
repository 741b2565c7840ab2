//! `rules/namespace-label`: what a rule emits stays in the namespace.

use serde_json::{Map, Value};

use super::location::{labels_mut, RuleAt};
use super::object_shape::{string_map, Typed};
use super::{Check, Findings};
use crate::promql::scope::{is_unrendered_template, OnConflict, Scope};

pub const CHECK: Check = Check {
    id: "rules/namespace-label",
    refuses: "rule labels that set the namespace label to another namespace; sets `labels.<namespaceLabel>` and `labels.namespace` to the namespace on every rule",
    why: "rule labels override the expression's: `label_replace` or an aggregation could otherwise send an alert or recorded series to another tenant's routing, or to none",
};

/// The `labels` of a rule must be a map of strings; `false` when they are not
/// (recorded).
pub fn check_label_values(
    owner: &Map<String, Value>,
    at: &RuleAt,
    findings: &mut Findings,
) -> bool {
    let labels = string_map(
        owner,
        "labels",
        || at.at("labels"),
        |key| at.at(&format!("labels.{key}")),
        findings,
    );
    !matches!(labels, Typed::Wrong)
}

/// Labels must not claim another namespace: Prometheus sets them on every alert and
/// recorded series (rule labels last), and Alertmanager routes tenants by them. An
/// unrendered template is replaced; any other value is a conflict (`onConflict`).
pub fn pin_namespace_label(
    labels: &mut Map<String, Value>,
    place: &RuleAt,
    scope: &Scope,
    findings: &mut Findings,
) {
    let Some(Value::String(value)) = labels.get(scope.label) else {
        return;
    };
    if value == scope.namespace {
        return;
    }
    let field = format!("labels.{}", scope.label);
    let path = place.path(&field);
    let old = value.clone();
    if is_unrendered_template(&old) {
        findings.change(
            &CHECK,
            path,
            format!(
                "replaced unrendered template {old:?} with {:?}",
                scope.namespace
            ),
        );
    } else if scope.on_conflict == OnConflict::Overwrite {
        findings.change(
            &CHECK,
            path,
            format!("overwrote {old:?} with {:?}", scope.namespace),
        );
    } else {
        findings.reject(
            &CHECK,
            place.at(&field),
            format!(
                "{old:?} conflicts with namespace {:?}; remove the label or set it to the namespace",
                scope.namespace
            ),
        );
        return;
    }
    labels.insert(
        scope.label.to_owned(),
        Value::String(scope.namespace.to_owned()),
    );
}

pub const SCOPE_WHY: &str =
    "rule labels override the expression's, so what this rule emits stays in its namespace";
pub const ROUTING_WHY: &str = "the Prometheus Operator routes alerts by `namespace`, and rule labels override the expression's, so what this rule emits reaches only its namespace";

/// Every rule leaves with `labels.<namespaceLabel>: N` and `labels.namespace: N`. Rule
/// labels override what the expression outputs, so `label_replace` on the label, or an
/// aggregation that drops it, cannot route an alert or a recorded series to another
/// namespace (or to none).
pub fn add_namespace_label(
    rule: &mut Map<String, Value>,
    at: &RuleAt,
    scope: &Scope,
    why: &str,
    findings: &mut Findings,
) {
    let Some(labels) = labels_mut(rule) else {
        return;
    };
    if !labels.contains_key(scope.label) {
        findings.change(
            &CHECK,
            at.path(&format!("labels.{}", scope.label)),
            format!("set to {:?} ({why})", scope.namespace),
        );
        labels.insert(
            scope.label.to_owned(),
            Value::String(scope.namespace.to_owned()),
        );
    }
}
