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

#[cfg(test)]
mod tests {
    use super::*;
    use kubewarden_policy_sdk::test::Testcase;
    use serde_json::Value;

    fn case(fixture: &str, accepted: bool, settings: Settings) -> Testcase<Settings> {
        Testcase {
            name: fixture.to_owned(),
            fixture_file: format!("tests/fixtures/requests/{fixture}.json"),
            expected_validation_result: accepted,
            settings,
        }
    }

    fn overwrite() -> Settings {
        Settings {
            on_conflict: namespace_scope::OnConflict::Overwrite,
            ..Settings::default()
        }
    }

    #[test]
    fn fixtures_get_the_expected_verdicts() {
        let cases = [
            ("seed-prometheusrule", true, Settings::default(), false),
            ("prometheusrule-no-matcher", true, Settings::default(), true),
            (
                "prometheusrule-unrendered-template",
                true,
                Settings::default(),
                true,
            ),
            (
                "prometheusrule-other-namespace",
                false,
                Settings::default(),
                false,
            ),
            ("prometheusrule-other-namespace", true, overwrite(), true),
            (
                "prometheusrule-update-other-namespace",
                false,
                Settings::default(),
                false,
            ),
            (
                "prometheusrule-recording-rules",
                true,
                Settings::default(),
                true,
            ),
            ("prometheusrule-malformed", false, overwrite(), false),
            ("prometheusrule-delete", true, Settings::default(), false),
            ("configmap-other-kind", true, Settings::default(), false),
        ];
        for (fixture, accepted, settings, mutates) in cases {
            let response = case(fixture, accepted, settings)
                .eval(validate)
                .expect("policy answers");
            assert_eq!(response.mutated_object.is_some(), mutates, "{fixture}");
        }
    }

    #[test]
    fn a_payload_that_is_not_a_validation_request_is_an_error_not_a_panic() {
        assert!(validate(b"not json").is_err());
        assert!(validate(br#"{"request": 3, "settings": {}}"#).is_err());
    }

    #[test]
    fn validate_settings_answers_invalid_rather_than_failing() {
        let reply: Value =
            serde_json::from_slice(&super::validate_settings(b"[1,2]").unwrap()).unwrap();
        assert_eq!(reply["valid"], false);
    }
}
