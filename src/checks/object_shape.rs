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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn name_of(map: Value) -> (String, Vec<String>) {
        let mut findings = Findings::default();
        let name = required_name(map.as_object().unwrap(), "spec.receivers[0]", &mut findings);
        (name, findings.problem_texts())
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
