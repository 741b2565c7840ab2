//! `object/loads`: what prometheus and alertmanager load.

use serde_json::{Map, Value};

use super::location::RuleAt;
use super::object_shape::{self, match_type, MatchType, Typed};
use super::{Check, Findings};
use crate::durations;

pub const CHECK: Check = Check {
    id: "object/loads",
    refuses: "what Prometheus 2.42 or Alertmanager would refuse to load: PromQL its grammar refuses, templates Go does not parse, unknown template functions, malformed durations, repeated group, receiver or time interval names, group fields newer than 2.42 (`labels`, `query_offset`), a rule with both or neither of `alert` and `record`, routes naming undefined receivers or time intervals, matchers (routes, inhibit rules) whose name is not a label name or whose regex does not compile, `groupBy`/`equal` entries that are not label names, a webhook with two ways to authenticate or `authorization` of type Basic",
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
            format!("{name:?} is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*); Prometheus refuses the rule file: write e.g. {:?}", suggested_name(name, true)),
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
    // (Labels are typed by `rules/namespace-label`, which reads them first.) Annotations
    // of another type would also leave their templates unread.
    object_shape::string_map(
        rule,
        "annotations",
        || at.at("annotations"),
        |key| at.at(&format!("annotations.{key}")),
        findings,
    );
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
                        format!("{key:?} is not a valid {what} name ([a-zA-Z_][a-zA-Z0-9_]*); Prometheus refuses the rule file: write e.g. {:?}", suggested_name(key, false))
                    },
                );
            }
        }
    }
}

/// A group's `interval`, when set, is a duration Prometheus reads.
pub fn group_fields(group: &Map<String, Value>, at: &str, findings: &mut Findings) {
    // Fields of the PrometheusRule CRD that Prometheus 2.42's rule file does not know
    // ("field … not found in type rulefmt.RuleGroup"): the file would not load, or the
    // operator would leave the field out and the rules would mean less than written.
    for (field, since, instead) in [
        ("labels", "3.0", "put these labels in each rule's `labels`"),
        (
            "query_offset",
            "2.53",
            "remove it, or write `offset` in the rules' expressions",
        ),
    ] {
        if group.get(field).is_some_and(|v| !v.is_null()) {
            findings.reject(
                &CHECK,
                super::Location::path(format!("{at}.{field}")),
                format!("group field `{field}` came with Prometheus {since}; Prometheus 2.42 refuses a rule file that has it: {instead}"),
            );
        }
    }
    let place = |field: &str| super::Location::path(format!("{at}.{field}"));
    // Of the wrong type, the API server refuses these only after admission: the CLI
    // would call them admitted, and promtool refuses them.
    if let Typed::Is(text) =
        object_shape::duration(group, "interval", || place("interval"), findings)
    {
        if let Err(why) = durations::parse_millis(text) {
            findings.reject(&CHECK, place("interval"), why);
        }
    }
    match group.get("limit") {
        None | Some(Value::Null) => {}
        Some(limit) if limit.as_i64().is_some() => {}
        Some(other) => object_shape::wrong_type(findings, place("limit"), "an integer", other),
    }
}

/// What Alertmanager's loader refuses in a route or an inhibit rule, and the operator
/// passes on unchecked into the one configuration every tenant shares: one bad name or
/// regex and Alertmanager loads no tenant's change. `matchers` of `owner[field]` (at
/// `at`): names must be label names (`severity!` would also be read as `severity !=`),
/// regexes must compile as Go's (`regex`: v1alpha1's `regex: true` is a regex too).
pub fn alertmanager_matchers(
    owner: &Map<String, Value>,
    field: &str,
    at: &str,
    regex: bool,
    findings: &mut Findings,
) {
    let Some(Value::Array(matchers)) = owner.get(field) else {
        return;
    };
    for (i, matcher) in matchers.iter().enumerate() {
        let at = format!("{at}.{field}[{i}]");
        if let Some(Value::String(name)) = matcher.get("name") {
            if !is_label_name(name) {
                findings.reject(
                    &CHECK,
                    super::Location::path(format!("{at}.name")),
                    format!("{name:?} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*): Alertmanager refuses the configuration, every tenant's, over it"),
                );
            }
        }
        let is_regex = matches!(
            match_type(matcher, regex),
            Some(MatchType::Regex | MatchType::NotRegex)
        );
        if let (true, Some(Value::String(value))) = (is_regex, matcher.get("value")) {
            if let Err(why) = crate::promql::regex_mask::regex_syntax_check(value) {
                findings.reject(
                    &CHECK,
                    super::Location::path(format!("{at}.value")),
                    format!("{value:?} is not a regular expression Alertmanager compiles ({why}): it refuses the configuration, every tenant's, over it"),
                );
            }
        }
    }
}

/// Label names listed in `owner[field]` (a route's `groupBy`, an inhibit rule's
/// `equal`), as Alertmanager's loader takes them: each a label name, none twice, and
/// `...` (group by every label, where `wildcard` allows it) only on its own.
pub fn alertmanager_label_names(
    owner: &Map<String, Value>,
    field: &str,
    at: &str,
    wildcard: bool,
    findings: &mut Findings,
) {
    let Some(Value::Array(names)) = owner.get(field) else {
        return;
    };
    // A set: a list scanned per entry is quadratic in a tenant's 100,000-entry `groupBy`.
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for (i, name) in names.iter().enumerate() {
        let Value::String(name) = name else {
            continue;
        };
        let why = if wildcard && name == "..." {
            (names.len() > 1).then_some("`...` groups by every label, so it must be the only entry")
        } else if !is_label_name(name) {
            Some("it is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)")
        } else if seen.contains(&name.as_str()) {
            Some("it is listed twice")
        } else {
            None
        };
        if let Some(why) = why {
            findings.reject(
                &CHECK,
                super::Location::path(format!("{at}.{field}[{i}]")),
                format!("{name:?}: {why}; Alertmanager refuses the configuration, every tenant's, over it"),
            );
        }
        seen.insert(name);
    }
}

/// Names defined twice in `list` (time intervals: Alertmanager refuses "time interval
/// … is not unique").
pub fn unique_names(list: Option<&Value>, at: &str, what: &str, findings: &mut Findings) {
    let Some(Value::Array(items)) = list else {
        return;
    };
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let Some(Value::String(name)) = item.get("name") else {
            continue;
        };
        if let Some(first) = seen.get(name.as_str()) {
            findings.reject(
                &CHECK,
                super::Location::path(format!("{at}[{i}].name")),
                format!("{what} {name:?} is defined twice (first at {at}[{first}]); Alertmanager refuses the configuration, every tenant's, over it"),
            );
        } else {
            seen.insert(name, i);
        }
    }
}

/// A webhook's `httpConfig` as Alertmanager's HTTP client takes it: one way to
/// authenticate (`basicAuth`, `bearerTokenSecret`, `authorization`, `oauth2`), and no
/// `authorization` of type `Basic` (it says to use basic auth). The operator drops the
/// whole AlertmanagerConfig over either, with an event the tenant may never read, and
/// retraining is then not wired at all.
pub fn alertmanager_http_auth(
    http: &Map<String, Value>,
    at: &super::location::WebhookAt,
    findings: &mut Findings,
) {
    let ways: Vec<&str> = ["basicAuth", "bearerTokenSecret", "authorization", "oauth2"]
        .into_iter()
        .filter(|field| http.get(*field).is_some_and(|v| !v.is_null()))
        .collect();
    if let [first, second, ..] = ways[..] {
        findings.reject(
            &CHECK,
            at.field(&format!("httpConfig.{second}")),
            format!("`{first}` and `{second}` both authenticate; Alertmanager takes one way to authenticate per client: keep one"),
        );
    }
    if let Some(Value::String(kind)) = http.get("authorization").and_then(|a| a.get("type")) {
        if kind.eq_ignore_ascii_case("basic") {
            findings.reject(
                &CHECK,
                at.field("httpConfig.authorization.type"),
                format!("{kind:?}: Alertmanager refuses authorization of type Basic; use `basicAuth` instead"),
            );
        }
    }
}

/// `name` with every character a name may not hold replaced by `_` (`:` is kept in
/// metric names only).
fn suggested_name(name: &str, metric: bool) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || (metric && c == ':') {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::location::RuleName;
    use serde_json::json;

    #[test]
    fn fields_of_the_wrong_type_promtool_refuses_are_located() {
        // promtool: "cannot unmarshal !!seq into map[string]string".
        for is_alert in [true, false] {
            assert_eq!(
                problems(json!({"annotations": ["a"]}), is_alert, "a"),
                [format!(
                    "[object/shape] group \"g\" {} \"a\" (spec.groups[0].rules[0].annotations): must be a map of strings, found a list",
                    if is_alert { "alert" } else { "record" }
                )]
            );
        }
        let group = |field: &str, value: Value| {
            let mut findings = Findings::default();
            let mut group = Map::new();
            group.insert(field.to_owned(), value);
            group_fields(&group, "spec.groups[0]", &mut findings);
            findings.problem_texts()
        };
        // promtool: "not a valid duration string: \"60\"", "cannot unmarshal !!str into int".
        for (field, value, expected) in [
            (
                "interval",
                json!(true),
                "must be a duration string, found a boolean",
            ),
            (
                "interval",
                json!(60),
                "must be a duration string, found a number",
            ),
            ("limit", json!("5"), "must be an integer, found a string"),
            ("limit", json!(1.5), "must be an integer, found a number"),
            (
                "limit",
                json!(99_999_999_999_999_999_999.0),
                "must be an integer, found a number",
            ),
        ] {
            assert_eq!(
                group(field, value),
                [format!("[object/shape] spec.groups[0].{field}: {expected}")]
            );
        }
        for (field, value) in [
            ("interval", json!("1m")),
            ("limit", json!(5)),
            ("limit", json!(-1)),
            ("limit", Value::Null),
        ] {
            assert_eq!(
                group(field, value.clone()),
                Vec::<String>::new(),
                "{field}: {value}"
            );
        }
    }

    #[test]
    fn v1alpha1_regex_matchers_are_compiled_and_literal_ones_are_not() {
        let route = json!({"matchers": [
            {"name": "a", "value": "(", "regex": true},
            {"name": "b", "value": "(", "regex": false},
            {"name": "c", "value": "("},
        ]});
        let mut findings = Findings::default();
        let route = route.as_object().unwrap();
        alertmanager_matchers(route, "matchers", "spec.route", true, &mut findings);
        let texts = findings.problem_texts();
        assert_eq!(texts.len(), 1, "{texts:?}");
        assert!(
            texts[0].starts_with(
                "[object/loads] spec.route.matchers[0].value: \"(\" is not a regular expression"
            ),
            "{texts:?}"
        );
        // v1beta1 has no `regex`: the field is not read there.
        let mut findings = Findings::default();
        alertmanager_matchers(route, "matchers", "spec.route", false, &mut findings);
        assert_eq!(findings.problem_texts(), Vec::<String>::new());
    }

    fn problems(rule: Value, is_alert: bool, name: &str) -> Vec<String> {
        let at = RuleAt {
            group_index: 0,
            group_name: "g",
            rule_index: 0,
            rule: if is_alert {
                RuleName::Alert(name)
            } else {
                RuleName::Record(name)
            },
        };
        let mut findings = Findings::default();
        rule_fields(
            rule.as_object().unwrap(),
            &at,
            is_alert,
            name,
            &mut findings,
        );
        findings.problem_texts()
    }

    #[test]
    fn names_are_judged_as_prometheus_does() {
        for good in ["job:rate5m", ":a", "_x", "a1:b_c", "A"] {
            assert!(is_metric_name(good), "{good}");
        }
        for bad in ["", "1a", "a-b", "a b", "é"] {
            assert!(!is_metric_name(bad), "{bad}");
        }
        for good in ["a", "_a", "A_1"] {
            assert!(is_label_name(good), "{good}");
        }
        for bad in ["", "1a", "a:b", "a-b", ":a"] {
            assert!(!is_label_name(bad), "{bad}");
        }
    }

    #[test]
    fn messages_suggest_a_name_prometheus_accepts() {
        let got = problems(json!({}), false, "not a metric!");
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].ends_with("write e.g. \"not_a_metric_\""), "{got:?}");
        let got = problems(json!({"labels": {"1-bad": "x"}}), true, "a");
        assert!(got[0].ends_with("write e.g. \"_1_bad\""), "{got:?}");
        let got = problems(json!({"annotations": {"a:b": "x"}}), true, "a");
        assert!(got[0].ends_with("write e.g. \"a_b\""), "{got:?}");
    }

    #[test]
    fn a_zero_for_on_a_recording_rule_loads() {
        for zero in ["0s", "0", "0m"] {
            assert_eq!(
                problems(json!({"for": zero, "keep_firing_for": zero}), false, "r"),
                Vec::<String>::new(),
                "{zero}"
            );
        }
        let got = problems(json!({"for": "1ms"}), false, "r");
        assert_eq!(got.len(), 1, "{got:?}");
    }

    /// A recording rule's `for` and `keep_firing_for`: refused unless zero, whatever
    /// their form (one Prometheus cannot read is no zero).
    #[test]
    fn a_recording_rule_has_no_nonzero_for_in_any_form() {
        for (field, value) in [
            ("for", json!("abc")),
            ("for", json!(5)),
            ("keep_firing_for", json!("5m")),
        ] {
            let got = problems(json!({field: value}), false, "r");
            assert_eq!(
                got,
                [format!("[object/loads] group \"g\" record \"r\" (spec.groups[0].rules[0].{field}): a recording rule has no `{field}`; Prometheus refuses the rule file: remove it")],
                "{field}: {value}"
            );
        }
        // Every annotation is typed, not only the first.
        let got = problems(json!({"annotations": {"a": "x", "b": 5}}), true, "a");
        assert_eq!(got, ["[object/shape] group \"g\" alert \"a\" (spec.groups[0].rules[0].annotations.b): must be a string, found a number"]);
        // Empty annotations are none.
        assert_eq!(
            problems(json!({"annotations": {}}), false, "r"),
            Vec::<String>::new()
        );
    }

    /// Only `__name__`, and only among labels, is reserved; a blank alert name is a
    /// name (Prometheus refuses only an empty one).
    #[test]
    fn only_what_prometheus_refuses_is_refused() {
        assert_eq!(
            problems(
                json!({"labels": {"__meta": "x"}, "annotations": {"__name__": "x"}}),
                true,
                "a"
            ),
            Vec::<String>::new()
        );
        assert_eq!(problems(json!({}), true, " "), Vec::<String>::new());
        // An empty label name gets a suggestion that is a name.
        let got = problems(json!({"labels": {"": "x"}}), true, "a");
        assert!(got[0].ends_with("write e.g. \"_\""), "{got:?}");
    }

    /// Label names differ by case: `groupBy: [a, A]` lists two labels.
    #[test]
    fn label_names_in_lists_differ_by_case() {
        let route = json!({"groupBy": ["a", "A"]});
        let mut findings = Findings::default();
        alertmanager_label_names(
            route.as_object().unwrap(),
            "groupBy",
            "spec.route",
            true,
            &mut findings,
        );
        assert_eq!(findings.problem_texts(), Vec::<String>::new());
        let route = json!({"groupBy": ["a", "a"]});
        alertmanager_label_names(
            route.as_object().unwrap(),
            "groupBy",
            "spec.route",
            true,
            &mut findings,
        );
        assert_eq!(findings.problem_texts().len(), 1);
    }
}
