//! `alerts/for`: how long an alert must hold.

use serde_json::{Map, Value};

use super::location::RuleAt;
use super::object_shape::{duration, Typed};
use super::{object_loads, Check, Findings};
use crate::durations;
use crate::settings::Settings;

pub const CHECK: Check = Check {
    id: "alerts/for",
    refuses: "`for` or `keep_firing_for` that is not a duration, or a `for` shorter than `minFor`; sets `for` to `defaultFor` when unset",
    why: "a drift alert with no `for` fires on one scrape's noise and starts a retraining run each time",
};

/// `for`: set to `defaultFor` when unset; refused when malformed or shorter than
/// `minFor` (an explicit `0s` counts, an unset `for` does not).
pub fn review_for(
    rule: &mut Map<String, Value>,
    at: &RuleAt,
    settings: &Settings,
    min_for: Option<u64>,
    findings: &mut Findings,
) {
    for field in ["keep_firing_for", "for"] {
        match duration(rule, field, || at.at(field), findings) {
            Typed::Absent => {
                let default_for = settings.default_for.as_ref().filter(|_| field == "for");
                if let Some(default_for) = default_for {
                    findings.change(&CHECK, at.path("for"), format!("set to {default_for:?}"));
                    rule.insert("for".to_owned(), Value::String(default_for.clone()));
                }
            }
            Typed::Is(text) => match durations::parse_millis(text) {
                Err(why) => findings.reject(&object_loads::CHECK, at.at(field), why.to_string()),
                Ok(millis) if field == "for" && min_for.is_some() => {
                    if millis < min_for.unwrap_or(0) {
                        findings.reject(
                            &CHECK,
                            at.at(field),
                            format!(
                                "{text:?} is shorter than the minimum {:?}; a drift alert this quick flaps with every scrape",
                                settings.min_for.as_deref().unwrap_or_default()
                            ),
                        );
                    }
                }
                Ok(_) => {}
            },
            Typed::Wrong => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::location::RuleName;
    use serde_json::json;

    /// The texts `review_for` rejects with for `rule`, with `minFor: 1m`.
    fn problems(rule: Value) -> Vec<String> {
        let at = RuleAt {
            group_index: 0,
            group_name: "g",
            rule_index: 0,
            rule: RuleName::Alert("a"),
        };
        let mut rule = rule.as_object().unwrap().clone();
        let mut findings = Findings::default();
        let settings = Settings::default();
        review_for(&mut rule, &at, &settings, Some(60_000), &mut findings);
        findings.problem_texts()
    }

    #[test]
    fn min_for_bounds_for_only_and_the_minimum_itself_passes() {
        assert_eq!(
            problems(json!({"for": "30s"})),
            [
                r#"[alerts/for] group "g" alert "a" (spec.groups[0].rules[0].for): "30s" is shorter than the minimum "1m"; a drift alert this quick flaps with every scrape"#
            ]
        );
        assert_eq!(problems(json!({"for": "1m"})), Vec::<String>::new());
        assert_eq!(problems(json!({"for": "60s"})), Vec::<String>::new());
        // keep_firing_for is how long an alert stays after it resolves: no minimum.
        assert_eq!(
            problems(json!({"for": "10m", "keep_firing_for": "30s"})),
            Vec::<String>::new()
        );
    }
}
