//! tenant-alerting-policy: a Kubewarden policy that keeps each tenant's Prometheus
//! alerting inside its own namespace.
//!
//! This file is only the waPC layer: it registers the three functions policy-server
//! calls and hands the request to [`admission::review`], a pure function.

pub mod admission;
pub mod bounded_parse;
pub mod namespace_scope;
pub mod prometheus_rule;
pub mod settings;
pub mod verdict;

use kubewarden_policy_sdk::request::ValidationRequest;
use kubewarden_policy_sdk::wapc_guest as guest;
use kubewarden_policy_sdk::{protocol_version_guest, wapc_guest::CallResult};

use settings::Settings;

#[no_mangle]
pub extern "C" fn wapc_init() {
    guest::register_function("validate", validate);
    guest::register_function("validate_settings", validate_settings);
    guest::register_function("protocol_version", protocol_version_guest);
}

/// `validate`: payload `{"request": AdmissionRequest, "settings": {...}}`.
pub fn validate(payload: &[u8]) -> CallResult {
    let request = ValidationRequest::<Settings>::new(payload)?;
    let verdict = admission::review(request.request, &request.settings);
    Ok(serde_json::to_vec(&verdict.into_response())?)
}

pub fn validate_settings(payload: &[u8]) -> CallResult {
    Ok(serde_json::to_vec(&settings::validate_settings_payload(
        payload,
    ))?)
}
