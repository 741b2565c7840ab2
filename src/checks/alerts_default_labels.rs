//! `alerts/default-labels`: labels every alert carries.

use serde_json::{Map, Value};

use super::location::{labels_mut, RuleAt};
use super::{Check, Findings};
use crate::settings::Settings;

pub const CHECK: Check = Check {
    id: "alerts/default-labels",
    refuses: "nothing; sets each of `defaultLabels` the alert does not set itself",
    why: "routing and receivers rely on them (e.g. `severity`)",
};

/// Sets each of `defaultLabels` the alert does not set itself.
pub fn add_default_labels(
    rule: &mut Map<String, Value>,
    at: &RuleAt,
    settings: &Settings,
    findings: &mut Findings,
) {
    if settings.default_labels.is_empty() {
        return;
    }
    let Some(labels) = labels_mut(rule) else {
        return;
    };
    for (name, value) in &settings.default_labels {
        if !labels.contains_key(name) {
            findings.change(
                &CHECK,
                at.path(&format!("labels.{name}")),
                format!("set to {value:?}"),
            );
            labels.insert(name.clone(), Value::String(value.clone()));
        }
    }
}
