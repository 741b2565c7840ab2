//! Where a finding is, built once per rule or webhook: its path in the object and what
//! sits there by name, for messages.

use std::fmt;

use serde_json::{Map, Value};

use super::{Findings, Location, Problem};

/// Where a rule sits, for messages: `group "g" alert "a" (spec.groups[0].rules[1])`.
pub struct RuleAt<'a> {
    pub group_index: usize,
    pub group_name: &'a str,
    pub rule_index: usize,
    pub rule: RuleName<'a>,
}

#[derive(Clone, Copy)]
pub enum RuleName<'a> {
    Alert(&'a str),
    Record(&'a str),
    Unnamed,
}

impl RuleAt<'_> {
    pub fn path(&self, field: &str) -> String {
        format!("{}.{field}", self.rule_path())
    }

    /// `spec.groups[0].rules[1]`
    pub fn rule_path(&self) -> String {
        format!(
            "spec.groups[{}].rules[{}]",
            self.group_index, self.rule_index
        )
    }

    /// `group "g" alert "a" (spec.groups[0].rules[1].expr)`: names all three.
    pub fn at(&self, field: &str) -> Location {
        Location::named(self.to_string(), self.path(field))
    }

    /// Records a rule-level check's problem at its field.
    pub fn record(&self, problem: Problem, findings: &mut Findings) {
        findings.reject(problem.check, self.at(&problem.field), problem.message);
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

/// Where a webhook is, for messages.
pub struct WebhookAt<'a> {
    pub receiver: &'a str,
    pub path: &'a str,
}

impl WebhookAt<'_> {
    /// `receiver "r" (spec.receivers[0].webhookConfigs[0].field)`
    pub fn field(&self, field: &str) -> Location {
        Location::named(
            format!("receiver {:?}", self.receiver),
            format!("{}.{field}", self.path),
        )
    }
}

/// The rule's `labels`, created when absent or null; `None` when it is not a map (which
/// `check_label_values` already reported).
pub fn labels_mut(rule: &mut Map<String, Value>) -> Option<&mut Map<String, Value>> {
    let labels = rule
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if labels.is_null() {
        *labels = Value::Object(Map::new());
    }
    labels.as_object_mut()
}
