//! The design's floor, for the benchmark only: what the floor policy does (deserialize
//! the ValidationRequest, accept) plus the two parses the policy cannot do without for
//! an expression it edits, promql-parser's parse of the author's text and the proof's
//! parse of the edited text (issue 19 keeps both). Nothing is checked, edited or
//! answered: the policy's ratio to the floor cannot go below this module's.
//!
//! Regex matchers are parsed as the policy parses them, not compiled: the policy masks
//! their values before promql-parser sees them (`promql::regex_mask`); here `=~` and
//! `!~` become `=` and `!=`, which costs promql-parser the same lexing and no regex.

use kubewarden_policy_sdk::request::ValidationRequest;
use kubewarden_policy_sdk::wapc_guest as guest;
use kubewarden_policy_sdk::wapc_guest::CallResult;
use kubewarden_policy_sdk::{accept_request, protocol_version_guest};
use serde_json::Value;

#[no_mangle]
pub extern "C" fn wapc_init() {
    guest::register_function("validate", validate);
    guest::register_function("validate_settings", validate_settings);
    guest::register_function("protocol_version", protocol_version_guest);
}

fn validate(payload: &[u8]) -> CallResult {
    let request = ValidationRequest::<Value>::new(payload)?;
    let rules = request
        .request
        .object
        .pointer("/spec/groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|group| group.get("rules").and_then(Value::as_array))
        .flatten();
    for rule in rules {
        if let Some(expr) = rule.get("expr").and_then(Value::as_str) {
            let unmasked = expr.replace("=~", "=").replace("!~", "!=");
            for _ in 0..2 {
                let _ = std::hint::black_box(promql_parser::parser::parse(std::hint::black_box(
                    &unmasked,
                )));
            }
        }
    }
    accept_request()
}

fn validate_settings(_payload: &[u8]) -> CallResult {
    Ok(br#"{"valid":true}"#.to_vec())
}
