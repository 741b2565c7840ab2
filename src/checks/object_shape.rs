//! `object/shape`: reading an object whose shape nobody has checked yet.
//!
//! Mutating webhooks run before the API server validates a custom resource against its
//! schema, so each accessor here records a located problem instead of assuming a type.

use serde_json::{Map, Value};

use super::{Check, Findings, Location};

pub const CHECK: Check = Check {
    id: "object/shape",
    refuses: "a field of the wrong JSON type (`labels` that is not a map of strings, `url` that is not a string, …), or a missing name",
    why: "mutating webhooks run before the API server checks the CRD schema: the policy must read what it checks, never guess",
};

/// JSON type name for messages ("found a list").
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Records that the field at `at` should be `expected` ("a string") but is `found`.
pub fn wrong_type(findings: &mut Findings, at: Location, expected: &str, found: &Value) {
    findings.reject(
        &CHECK,
        at,
        format!("must be {expected}, found {}", json_kind(found)),
    );
}

/// A field read as the type the CRD gives it: absent (or null), of that type, or of
/// another (then recorded as a problem, with the type it must be).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typed<T> {
    Absent,
    Is(T),
    Wrong,
}

impl<T> Typed<T> {
    /// The value when it is of the type.
    pub fn ok(self) -> Option<T> {
        match self {
            Typed::Is(value) => Some(value),
            Typed::Absent | Typed::Wrong => None,
        }
    }
}

/// `map[key]` read by `read`, whose `Err` names the type it must be; `at` locates the
/// field, built only when there is a problem to record.
fn typed<'m, T>(
    map: &'m Map<String, Value>,
    key: &str,
    at: impl FnOnce() -> Location,
    findings: &mut Findings,
    read: impl FnOnce(&'m Value) -> Result<T, &'static str>,
) -> Typed<T> {
    match map.get(key) {
        None | Some(Value::Null) => Typed::Absent,
        Some(value) => match read(value) {
            Ok(value) => Typed::Is(value),
            Err(expected) => {
                wrong_type(findings, at(), expected, value);
                Typed::Wrong
            }
        },
    }
}

/// `map[key]` as a boolean.
pub fn boolean(
    map: &Map<String, Value>,
    key: &str,
    at: impl FnOnce() -> Location,
    findings: &mut Findings,
) -> Typed<bool> {
    typed(map, key, at, findings, |v| v.as_bool().ok_or("a boolean"))
}

/// `map[key]` as a string.
pub fn string<'m>(
    map: &'m Map<String, Value>,
    key: &str,
    at: impl FnOnce() -> Location,
    findings: &mut Findings,
) -> Typed<&'m str> {
    text(map, key, at, findings, "a string")
}

/// `map[key]` as the text of a Prometheus duration (`"10m"`); whether it parses, and
/// against which minimum, is the caller's check.
pub fn duration<'m>(
    map: &'m Map<String, Value>,
    key: &str,
    at: impl FnOnce() -> Location,
    findings: &mut Findings,
) -> Typed<&'m str> {
    text(map, key, at, findings, "a duration string")
}

/// `map[key]` as a string, called `expected` in the message when it is not one.
fn text<'m>(
    map: &'m Map<String, Value>,
    key: &str,
    at: impl FnOnce() -> Location,
    findings: &mut Findings,
    expected: &'static str,
) -> Typed<&'m str> {
    typed(map, key, at, findings, |v| v.as_str().ok_or(expected))
}

/// `map[key]` as a map of strings (labels, annotations). A value that is not a string
/// is recorded at `at_value(its key)`.
pub fn string_map<'m>(
    map: &'m Map<String, Value>,
    key: &str,
    at: impl FnOnce() -> Location,
    at_value: impl FnOnce(&str) -> Location,
    findings: &mut Findings,
) -> Typed<&'m Map<String, Value>> {
    let Typed::Is(entries) = typed(map, key, at, findings, |v| {
        v.as_object().ok_or("a map of strings")
    }) else {
        return match map.get(key) {
            None | Some(Value::Null) => Typed::Absent,
            Some(_) => Typed::Wrong,
        };
    };
    match entries.iter().find(|(_, v)| !v.is_string()) {
        Some((entry, value)) => {
            wrong_type(findings, at_value(entry), "a string", value);
            Typed::Wrong
        }
        None => Typed::Is(entries),
    }
}

/// `value` as an object; anything else is recorded as a problem at `path`.
pub fn object_mut<'v>(
    value: &'v mut Value,
    path: &str,
    findings: &mut Findings,
) -> Option<&'v mut Map<String, Value>> {
    if !value.is_object() {
        wrong_type(findings, Location::path(path), "an object", value);
    }
    value.as_object_mut()
}

/// `map[key]` as an object: `None` when absent or null, and when of another type
/// (recorded as a problem at `path`, the field's own path).
pub fn field_object_mut<'m>(
    map: &'m mut Map<String, Value>,
    key: &str,
    path: &str,
    findings: &mut Findings,
) -> Option<&'m mut Map<String, Value>> {
    match map.get_mut(key) {
        None | Some(Value::Null) => None,
        Some(field) => object_mut(field, path, findings),
    }
}

/// `map[key]` as a list: `None` when absent or null, and when of another type (recorded
/// as a problem at `path.key`).
pub fn list_mut<'m>(
    map: &'m mut Map<String, Value>,
    key: &str,
    path: &str,
    findings: &mut Findings,
) -> Option<&'m mut Vec<Value>> {
    match map.get_mut(key) {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => Some(list),
        Some(other) => {
            wrong_type(
                findings,
                Location::path(format!("{path}.{key}")),
                "a list",
                other,
            );
            None
        }
    }
}

/// `map.name`, which must be a non-empty string; empty when it is not (recorded).
pub fn required_name(map: &Map<String, Value>, path: &str, findings: &mut Findings) -> String {
    match map.get("name") {
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            findings.reject(&CHECK, Location::path(format!("{path}.name")), "is missing");
            String::new()
        }
        Some(other) => {
            wrong_type(
                findings,
                Location::path(format!("{path}.name")),
                "a string",
                other,
            );
            String::new()
        }
    }
}

/// An AlertmanagerConfig matcher's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchType {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

/// A matcher's operator as the operator reads it (one reading for every check): its
/// `matchType`; without one, `=~` for `regex: true` where the version has that field
/// (`regex_field`: v1alpha1), else `=`. `None` for a `matchType` the CRD does not
/// allow, which its schema refuses after the mutating webhooks.
pub fn match_type(matcher: &Value, regex_field: bool) -> Option<MatchType> {
    match matcher.get("matchType") {
        Some(Value::String(t)) => match t.as_str() {
            "=" => Some(MatchType::Equal),
            "!=" => Some(MatchType::NotEqual),
            "=~" => Some(MatchType::Regex),
            "!~" => Some(MatchType::NotRegex),
            _ => None,
        },
        None | Some(Value::Null) => Some(
            if regex_field && matcher.get("regex") == Some(&Value::Bool(true)) {
                MatchType::Regex
            } else {
                MatchType::Equal
            },
        ),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_matchers_type_is_read_as_the_operator_reads_it() {
        let read = |m: Value, regex_field: bool| match_type(&m, regex_field);
        for (t, expected) in [
            ("=", MatchType::Equal),
            ("!=", MatchType::NotEqual),
            ("=~", MatchType::Regex),
            ("!~", MatchType::NotRegex),
        ] {
            // `matchType` wins over v1alpha1's `regex` either way.
            for regex in [true, false] {
                assert_eq!(
                    read(json!({"matchType": t, "regex": regex}), true),
                    Some(expected)
                );
            }
            assert_eq!(read(json!({"matchType": t}), false), Some(expected));
        }
        assert_eq!(read(json!({"regex": true}), true), Some(MatchType::Regex));
        assert_eq!(
            read(json!({"matchType": null, "regex": true}), true),
            Some(MatchType::Regex)
        );
        // v1beta1 has no `regex`: there it is no operator.
        assert_eq!(read(json!({"regex": true}), false), Some(MatchType::Equal));
        for regex in [json!(false), json!("true"), json!(1)] {
            assert_eq!(read(json!({"regex": regex}), true), Some(MatchType::Equal));
        }
        assert_eq!(read(json!({}), true), Some(MatchType::Equal));
        for t in [
            json!("=="),
            json!(""),
            json!("~"),
            json!(" =~"),
            json!("= "),
            json!(1),
            json!(["="]),
        ] {
            assert_eq!(
                read(json!({"matchType": t, "regex": true}), true),
                None,
                "{t}"
            );
        }
    }

    fn name_of(map: Value) -> (String, Vec<String>) {
        let mut findings = Findings::default();
        let name = required_name(map.as_object().unwrap(), "spec.receivers[0]", &mut findings);
        (name, findings.problem_texts())
    }

    fn read<T>(
        map: Value,
        accessor: impl FnOnce(&Map<String, Value>, &mut Findings) -> Typed<T>,
    ) -> (Typed<T>, Vec<String>) {
        let mut findings = Findings::default();
        let map = map.as_object().unwrap().clone();
        let typed = accessor(&map, &mut findings);
        (typed, findings.problem_texts())
    }

    #[test]
    fn typed_accessors_tell_absent_from_wrong() {
        let at = || Location::path("spec.x.f");
        let boolean = |m: &Map<String, Value>, f: &mut Findings| boolean(m, "f", at, f);
        assert_eq!(read(json!({}), boolean), (Typed::Absent, vec![]));
        assert_eq!(read(json!({"f": null}), boolean), (Typed::Absent, vec![]));
        assert_eq!(read(json!({"f": true}), boolean), (Typed::Is(true), vec![]));
        assert_eq!(
            read(json!({"f": "true"}), boolean),
            (
                Typed::Wrong,
                vec!["[object/shape] spec.x.f: must be a boolean, found a string".to_owned()]
            )
        );
        let (typed, problems) = read(json!({"f": "10m"}), |m, f| {
            duration(m, "f", at, f)
                .ok()
                .map(str::to_owned)
                .map_or(Typed::Absent, Typed::Is)
        });
        assert_eq!((typed, problems), (Typed::Is("10m".to_owned()), vec![]));
        assert_eq!(
            read(json!({"f": 600}), |m, f| duration(m, "f", at, f)
                .ok()
                .map(str::len)
                .map_or(Typed::Absent, Typed::Is))
            .1,
            vec!["[object/shape] spec.x.f: must be a duration string, found a number".to_owned()]
        );
        assert_eq!(
            read(json!({"f": ["u"]}), |m, f| string(m, "f", at, f)
                .ok()
                .map(str::len)
                .map_or(Typed::Wrong, Typed::Is)),
            (
                Typed::Wrong,
                vec!["[object/shape] spec.x.f: must be a string, found a list".to_owned()]
            )
        );
        let labels = |m: &Map<String, Value>, f: &mut Findings| {
            string_map(m, "f", at, |k| Location::path(format!("spec.x.f.{k}")), f)
                .ok()
                .map(Map::len)
                .map_or(Typed::Wrong, Typed::Is)
        };
        assert_eq!(
            read(json!({"f": {"a": "b"}}), labels),
            (Typed::Is(1), vec![])
        );
        assert_eq!(
            read(json!({"f": {"a": 1}}), labels).1,
            vec!["[object/shape] spec.x.f.a: must be a string, found a number".to_owned()]
        );
        assert_eq!(
            read(json!({"f": "a=b"}), labels).1,
            vec!["[object/shape] spec.x.f: must be a map of strings, found a string".to_owned()]
        );
    }

    #[test]
    fn an_empty_name_is_missing() {
        for map in [json!({"name": ""}), json!({}), json!({"name": null})] {
            assert_eq!(
                name_of(map.clone()),
                (
                    String::new(),
                    vec!["[object/shape] spec.receivers[0].name: is missing".to_owned()]
                ),
                "{map}"
            );
        }
        assert_eq!(
            name_of(json!({"name": 3})),
            (
                String::new(),
                vec![
                    "[object/shape] spec.receivers[0].name: must be a string, found a number"
                        .to_owned()
                ]
            )
        );
        assert_eq!(name_of(json!({"name": "r"})), ("r".to_owned(), Vec::new()));
    }
}
