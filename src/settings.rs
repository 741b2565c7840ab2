//! Policy settings: what a cluster admin writes under `spec.settings`.
//!
//! Every field is optional; `Default` gives the documented defaults, and `validate`
//! explains what to fix in terms of the setting's own name.

use kubewarden_policy_sdk::settings::{SettingsValidationResponse, Validatable};
use serde::{Deserialize, Serialize};

use crate::namespace_scope::OnConflict;

/// Label that carries a series' namespace, as the Prometheus Operator names it.
pub const DEFAULT_NAMESPACE_LABEL: &str = "namespace";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    /// Label every selector must match exactly to the object's namespace.
    pub namespace_label: String,
    /// What to do when a selector already matches the label some other way.
    pub on_conflict: OnConflict,
    /// Namespaces whose objects are accepted untouched (e.g. the cluster's own monitoring).
    pub exempt_namespaces: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            namespace_label: DEFAULT_NAMESPACE_LABEL.to_owned(),
            on_conflict: OnConflict::Reject,
            exempt_namespaces: Vec::new(),
        }
    }
}

impl Settings {
    pub fn is_exempt(&self, namespace: &str) -> bool {
        self.exempt_namespaces.iter().any(|n| n == namespace)
    }
}

impl Validatable for Settings {
    fn validate(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if let Err(why) = check_label_name(&self.namespace_label) {
            problems.push(format!("namespaceLabel: {why}"));
        }
        for (i, ns) in self.exempt_namespaces.iter().enumerate() {
            if !is_dns_label(ns) {
                problems.push(format!(
                    "exemptNamespaces[{i}]: {ns:?} is not a namespace name \
                     (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)"
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// `validate_settings` as policy-server calls it. Unlike the SDK helper, a payload that
/// does not deserialize (a typo'd field, a wrong type) is answered as invalid settings
/// with serde's message, rather than as a host error.
pub fn validate_settings_payload(payload: &[u8]) -> SettingsValidationResponse {
    let outcome = serde_json::from_slice::<Settings>(payload)
        .map_err(|e| format!("settings do not parse: {e}"))
        .and_then(|s| s.validate());
    match outcome {
        Ok(()) => SettingsValidationResponse {
            valid: true,
            message: None,
        },
        Err(message) => SettingsValidationResponse {
            valid: false,
            message: Some(message),
        },
    }
}

/// A Prometheus label name that a user may match on: `[a-zA-Z_][a-zA-Z0-9_]*`, and not
/// one of the `__`-prefixed names Prometheus reserves (`__name__` is the metric name).
pub fn check_label_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let well_formed = match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        _ => false,
    };
    if !well_formed {
        return Err(format!(
            "{name:?} is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)"
        ));
    }
    if name.starts_with("__") {
        return Err(format!(
            "{name:?} is reserved by Prometheus (names starting with \"__\")"
        ));
    }
    Ok(())
}

/// RFC 1123 label: what Kubernetes accepts as a namespace name.
pub fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Settings {
        serde_json::from_value(v).expect("settings parse")
    }

    #[test]
    fn empty_settings_are_the_documented_defaults() {
        let s = parse(json!({}));
        assert_eq!(s, Settings::default());
        assert_eq!(s.namespace_label, "namespace");
        assert_eq!(s.on_conflict, OnConflict::Reject);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn on_conflict_accepts_reject_and_overwrite() {
        assert_eq!(
            parse(json!({"onConflict": "overwrite"})).on_conflict,
            OnConflict::Overwrite
        );
        let r = validate_settings_payload(br#"{"onConflict": "ignore"}"#);
        assert!(!r.valid);
        assert!(r.message.unwrap().contains("unknown variant `ignore`"));
    }

    #[test]
    fn bad_namespace_label_is_explained() {
        let err = parse(json!({"namespaceLabel": "name-space"}))
            .validate()
            .unwrap_err();
        assert!(err.starts_with("namespaceLabel:"), "{err}");
        let err = parse(json!({"namespaceLabel": "__name__"}))
            .validate()
            .unwrap_err();
        assert!(err.contains("reserved"), "{err}");
        assert!(parse(json!({"namespaceLabel": "kubernetes_namespace"}))
            .validate()
            .is_ok());
    }

    #[test]
    fn bad_exempt_namespace_is_located() {
        let err = parse(json!({"exemptNamespaces": ["openshift-monitoring", "Bad_NS"]}))
            .validate()
            .unwrap_err();
        assert!(err.contains("exemptNamespaces[1]"), "{err}");
    }

    #[test]
    fn unknown_field_is_invalid_settings_not_a_host_error() {
        let r = validate_settings_payload(br#"{"onconflict": "overwrite"}"#);
        assert!(!r.valid);
        assert!(r.message.unwrap().contains("unknown field `onconflict`"));
    }
}
