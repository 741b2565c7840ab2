//! Reading an object whose shape nobody has checked yet (mutating webhooks run before
//! the API server validates a custom resource against its schema): each accessor records
//! a located problem instead of assuming the type.

use serde_json::{Map, Value};

use crate::verdict::{json_kind, Findings};

/// `value` as an object; anything else is recorded as a problem at `path`.
pub fn object_mut<'v>(
    value: &'v mut Value,
    path: &str,
    findings: &mut Findings,
) -> Option<&'v mut Map<String, Value>> {
    if !value.is_object() {
        findings.reject(format!(
            "{path} must be an object, found {}",
            json_kind(value)
        ));
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
            findings.reject(format!(
                "{path}.{key} must be a list, found {}",
                json_kind(other)
            ));
            None
        }
    }
}

/// `map.name`, which must be a non-empty string; empty when it is not (recorded).
pub fn required_name(map: &Map<String, Value>, path: &str, findings: &mut Findings) -> String {
    match map.get("name") {
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            findings.reject(format!("{path}.name is missing"));
            String::new()
        }
        Some(other) => {
            findings.reject(format!(
                "{path}.name must be a string, found {}",
                json_kind(other)
            ));
            String::new()
        }
    }
}
