//! `route/keys`: nested routes say only what the policy reads.
//!
//! `spec.route.routes[]` is raw JSON to the API server (the CRD cannot describe a
//! recursive type), so nothing prunes or checks its keys. The Prometheus Operator reads
//! it with Go's `encoding/json`, which matches keys without regard to case and folds
//! `ſ` (U+017F) to `s` and `K` (U+212A, Kelvin) to `k`: `"Continue": true` is
//! `continue: true` to Alertmanager but an unknown key to a reader that matches exactly.
//! Every key of a route and of its matchers must therefore be exactly a field name.

use serde_json::{Map, Value};

use super::{Check, Findings, Location};

pub const CHECK: Check = Check {
    id: "route/keys",
    refuses: "a key of a route or of its matchers that is not exactly one of their fields: `Continue`, `Routes`, `routeſ`, `MatchType`, or an unknown key",
    why: "nested routes are raw JSON the API server does not check, and the operator reads keys without regard to case: a key the policy does not read would still steer Alertmanager (`Continue: true` fans one alert out to the listener twice)",
};

/// The fields of an AlertmanagerConfig route (both versions).
pub const ROUTE_FIELDS: &[&str] = &[
    "receiver",
    "groupBy",
    "groupWait",
    "groupInterval",
    "repeatInterval",
    "matchers",
    "continue",
    "routes",
    "muteTimeIntervals",
    "activeTimeIntervals",
];

/// The fields of a route matcher in v1alpha1, and in v1beta1 (no `regex`).
const MATCHER_FIELDS: &[&str] = &["name", "value", "matchType", "regex"];
const MATCHER_FIELDS_V1BETA1: &[&str] = &["name", "value", "matchType"];

/// Refuses every key of `route` (at `at`), and of its matchers, that is not exactly a
/// field name. `matcher_regex`: whether matchers have the v1alpha1 `regex` field.
pub fn review(route: &Map<String, Value>, at: &str, matcher_regex: bool, findings: &mut Findings) {
    check_keys(route, ROUTE_FIELDS, "route", at, findings);
    let Some(matchers) = route.get("matchers").and_then(Value::as_array) else {
        return;
    };
    let fields: &[&str] = if matcher_regex {
        MATCHER_FIELDS
    } else {
        MATCHER_FIELDS_V1BETA1
    };
    for (i, matcher) in matchers.iter().enumerate() {
        if let Value::Object(matcher) = matcher {
            check_keys(
                matcher,
                fields,
                "matcher",
                &format!("{at}.matchers[{i}]"),
                findings,
            );
        }
    }
}

fn check_keys(
    map: &Map<String, Value>,
    fields: &[&str],
    what: &str,
    at: &str,
    findings: &mut Findings,
) {
    for key in map.keys() {
        if fields.contains(&key.as_str()) {
            continue;
        }
        let folded = fold(key);
        let message = match fields.iter().find(|f| fold(f) == folded) {
            Some(field) => format!(
                "{key:?} is not a {what} field, but the Prometheus Operator reads it as `{field}` (Go's JSON decoding ignores case); write `{field}`"
            ),
            None => format!(
                "{key:?} is not a {what} field ({}); remove it",
                fields.join(", ")
            ),
        };
        findings.reject(
            &CHECK,
            Location::path(format!("{at}.{}", shown(key))),
            message,
        );
    }
}

/// A key as Go's `encoding/json` compares it with a field name: ASCII case ignored, and
/// the two non-ASCII letters that fold to ASCII ones (`ſ` → `s`, Kelvin `K` → `k`).
fn fold(key: &str) -> String {
    key.chars()
        .map(|c| match c {
            '\u{017F}' => 's',
            '\u{212A}' => 'k',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// A key as a path step: bounded, so a huge key does not make a huge message.
fn shown(key: &str) -> String {
    const MAX: usize = 64;
    match key.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", key.get(..cut).unwrap_or_default()),
        None => key.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(route: Value, matcher_regex: bool) -> Vec<String> {
        let mut findings = Findings::default();
        review(
            route.as_object().unwrap(),
            "spec.route.routes[0]",
            matcher_regex,
            &mut findings,
        );
        findings.problem_texts()
    }

    #[test]
    fn exact_field_names_pass() {
        let route = json!({
            "receiver": "r", "groupBy": ["a"], "groupWait": "30s", "groupInterval": "5m",
            "repeatInterval": "12h", "continue": false, "routes": [], "muteTimeIntervals": [],
            "activeTimeIntervals": [],
            "matchers": [{"name": "a", "value": "b", "matchType": "=", "regex": false}],
        });
        assert_eq!(problems(route, true), Vec::<String>::new());
    }

    #[test]
    fn keys_go_would_fold_onto_a_field_are_refused_naming_the_field() {
        for (key, field) in [
            ("Continue", "continue"),
            ("RECEIVER", "receiver"),
            ("Routes", "routes"),
            ("route\u{017F}", "routes"),
            ("RepeatInterval", "repeatInterval"),
            ("groupinterval", "groupInterval"),
        ] {
            let got = problems(json!({ key: true }), true);
            assert_eq!(got.len(), 1, "{key}: {got:?}");
            assert!(
                got[0].starts_with(&format!("[route/keys] spec.route.routes[0].{key}: ")),
                "{got:?}"
            );
            assert!(
                got[0].contains(&format!("reads it as `{field}`")),
                "{got:?}"
            );
        }
        let got = problems(
            json!({"matchers": [{"name": "a", "MatchType": "=~"}]}),
            true,
        );
        assert!(got[0].contains("matchers[0].MatchType"), "{got:?}");
        assert!(got[0].contains("reads it as `matchType`"), "{got:?}");
        let got = problems(
            json!({"matchers": [{"name": "\u{212A}"}], "\u{212A}": 1}),
            true,
        );
        assert_eq!(got.len(), 1, "{got:?}");
    }

    #[test]
    fn unknown_keys_are_refused_and_regex_only_in_v1alpha1() {
        let got = problems(json!({"receivers": "r"}), true);
        assert!(
            got[0].contains("\"receivers\" is not a route field (receiver, groupBy"),
            "{got:?}"
        );
        let matcher = json!({"matchers": [{"name": "a", "value": "b", "regex": true}]});
        assert_eq!(problems(matcher.clone(), true), Vec::<String>::new());
        assert_eq!(problems(matcher, false).len(), 1);
    }

    /// Every matcher's keys are checked, not only the first's.
    #[test]
    fn every_matcher_is_checked() {
        let got = problems(
            json!({"matchers": [{"name": "a"}, {"name": "b", "MatchType": "=~"}]}),
            true,
        );
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains("matchers[1].MatchType"), "{got:?}");
    }

    /// A key in the path is shown whole up to 64 characters, then cut with `…`.
    #[test]
    fn long_keys_are_cut_at_64_characters_with_an_ellipsis() {
        let at_limit = "k".repeat(64);
        let got = problems(json!({ &at_limit: 1 }), true);
        assert!(
            got[0].starts_with(&format!("[route/keys] spec.route.routes[0].{at_limit}: ")),
            "{got:?}"
        );
        let long = "k".repeat(65);
        let got = problems(json!({ &long: 1 }), true);
        assert!(
            got[0].starts_with(&format!("[route/keys] spec.route.routes[0].{at_limit}…: ")),
            "{got:?}"
        );
    }
}
