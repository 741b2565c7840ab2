//! `rules/interval`: how often a tenant's rules run on the Prometheus every tenant shares.

use serde_json::{Map, Value};

use super::{Check, Findings, Location};
use crate::durations;

pub const CHECK: Check = Check {
    id: "rules/interval",
    refuses: "a rule group `interval` shorter than `minRuleInterval` (`0s`, Prometheus's default interval, passes)",
    why: "the rules run on the Prometheus every tenant shares: a group evaluated every millisecond (2,000 rules an object) takes its CPU and storage from every other tenant's rules",
};

/// Refuses `group`'s `interval` (at `at`) when it is shorter than `min` milliseconds,
/// `min_text` as the setting says it. A malformed interval is `object/loads`'s.
pub fn review_interval(
    group: &Map<String, Value>,
    at: &str,
    min: u64,
    min_text: &str,
    findings: &mut Findings,
) {
    let Some(Value::String(text)) = group.get("interval") else {
        return;
    };
    if let Ok(millis) = durations::parse_millis(text) {
        if millis != 0 && millis < min {
            findings.reject(
                &CHECK,
                Location::path(format!("{at}.interval")),
                format!("{text:?} is shorter than minRuleInterval {min_text:?}: the group would be evaluated more often than the cluster allows; write at least {min_text:?}, or leave `interval` out for Prometheus's own"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn problems(interval: Value) -> Vec<String> {
        let mut findings = Findings::default();
        let group = json!({"name": "g", "interval": interval});
        review_interval(
            group.as_object().unwrap(),
            "spec.groups[0]",
            10_000,
            "10s",
            &mut findings,
        );
        findings.problem_texts()
    }

    #[test]
    fn an_interval_below_the_minimum_is_refused_and_the_minimum_itself_passes() {
        assert_eq!(
            problems(json!("9999ms")),
            ["[rules/interval] spec.groups[0].interval: \"9999ms\" is shorter than minRuleInterval \"10s\": the group would be evaluated more often than the cluster allows; write at least \"10s\", or leave `interval` out for Prometheus's own"]
        );
        assert_eq!(problems(json!("1ms")).len(), 1);
        for fine in [
            json!("10s"),
            json!("1m"),
            json!("0s"),
            json!("x"),
            Value::Null,
            json!(5),
        ] {
            assert_eq!(problems(fine.clone()), Vec::<String>::new(), "{fine}");
        }
    }
}
