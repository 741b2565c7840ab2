//! `object/loads`: what prometheus and alertmanager load.

use serde_json::{Map, Value};

use super::location::RuleAt;
use super::{Check, Findings};
use crate::durations;

pub const CHECK: Check = Check {
    id: "object/loads",
    refuses: "what Prometheus 2.42 or Alertmanager would refuse to load: PromQL its grammar refuses, templates Go does not parse, unknown template functions, malformed durations, repeated group or receiver names, a rule with both or neither of `alert` and `record`, routes naming undefined receivers or time intervals",
    why: "what is admitted must load, exactly as written: one bad object otherwise stops the operator reloading every tenant's rules",
};

/// A label name as Prometheus 2.x accepts it: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A metric name as Prometheus accepts it: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// What Prometheus's rule file validation refuses in one rule, beyond its expression
/// and templates: an empty name, a recording rule name that is no metric name, `for`,
/// `keep_firing_for` or annotations on a recording rule, and label or annotation names
/// that are not label names (`__name__` among labels).
pub fn rule_fields(
    rule: &Map<String, Value>,
    at: &RuleAt,
    is_alert: bool,
    name: &str,
    findings: &mut Findings,
) {
    let kind = if is_alert { "alert" } else { "record" };
    if name.is_empty() {
        findings.reject(
            &CHECK,
            at.at(kind),
            format!("is empty; Prometheus refuses a rule without an `alert` or `record` name: name the {}", if is_alert { "alert" } else { "recorded series" }),
        );
    } else if !is_alert && !is_metric_name(name) {
        findings.reject(
            &CHECK,
            at.at("record"),
            format!("{name:?} is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*); Prometheus refuses the rule file: write e.g. {:?}", suggested_name(name)),
        );
    }
    if !is_alert {
        for field in ["for", "keep_firing_for"] {
            let nonzero = match rule.get(field) {
                None | Some(Value::Null) => false,
                Some(Value::String(text)) => {
                    durations::parse_millis(text).map_or(true, |ms| ms > 0)
                }
                Some(_) => true,
            };
            if nonzero {
                findings.reject(
                    &CHECK,
                    at.at(field),
                    format!("a recording rule has no `{field}`; Prometheus refuses the rule file: remove it"),
                );
            }
        }
        if rule
            .get("annotations")
            .and_then(Value::as_object)
            .is_some_and(|a| !a.is_empty())
        {
            findings.reject(
                &CHECK,
                at.at("annotations"),
                "a recording rule has no annotations; Prometheus refuses the rule file: remove them",
            );
        }
    }
    for (map, what) in [("labels", "label"), ("annotations", "annotation")] {
        let Some(keys) = rule.get(map).and_then(Value::as_object) else {
            continue;
        };
        for key in keys.keys() {
            let reserved = map == "labels" && key == "__name__";
            if reserved || !is_label_name(key) {
                findings.reject(
                    &CHECK,
                    at.at(&format!("{map}.{key}")),
                    if reserved {
                        "`__name__` is the metric name, which Prometheus refuses as a rule label: remove it".to_owned()
                    } else {
                        format!("{key:?} is not a valid {what} name ([a-zA-Z_][a-zA-Z0-9_]*); Prometheus refuses the rule file: write e.g. {:?}", suggested_name(key).trim_start_matches(':'))
                    },
                );
            }
        }
    }
}

/// A group's `interval`, when set, is a duration Prometheus reads.
pub fn group_fields(group: &Map<String, Value>, at: &str, findings: &mut Findings) {
    if let Some(Value::String(text)) = group.get("interval") {
        if let Err(why) = durations::parse_millis(text) {
            findings.reject(&CHECK, super::Location::path(format!("{at}.interval")), why);
        }
    }
}

/// `name` with every character a name may not hold replaced by `_`.
fn suggested_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}
