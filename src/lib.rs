//! tenant-alerting-policy: a Kubewarden policy that keeps each tenant's Prometheus
//! alerting inside its own namespace.
//!
//! This file is only the waPC layer: it registers the three functions policy-server
//! calls and hands the request to [`admission::review`], a pure function of the request,
//! the settings and what [`cluster::HostCluster`] reads (only when settings ask for it).

pub mod admission;
pub mod alert_checks;
pub mod alertmanager_config;
pub mod bounded_parse;
pub mod cluster;
pub mod drift;
pub mod durations;
pub mod expr_text;
pub mod go_template;
pub mod json_shape;
pub mod namespace_scope;
pub mod prometheus_dialect;
pub mod prometheus_rule;
pub mod promql_numbers;
pub mod promql_walk;
pub mod settings;
pub mod tenancy;
pub mod verdict;
pub mod webhook_url;

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

/// promql-parser builds its lexer keyword table, LR parse tables and function table on
/// first use: most of what a fresh instance pays for a PrometheusRule. The build runs
/// this once and snapshots the initialised memory (`tools/preinit`, with wizer), so every
/// instance policy-server creates starts with them built. Wizer removes the export.
#[cfg(target_arch = "wasm32")]
#[export_name = "wizer.initialize"]
pub extern "C" fn preinitialize() {
    let _ = promql_parser::parser::parse(r#"sum by (a) (rate(x{a="b"}[5m])) > bool 1"#);
}

/// `validate`: payload `{"request": AdmissionRequest, "settings": {...}}`.
pub fn validate(payload: &[u8]) -> CallResult {
    let verdict = match serde_json::from_slice::<ValidationRequest<Settings>>(payload) {
        Ok(request) => admission::review(request.request, &request.settings, &cluster::HostCluster),
        // A payload serde cannot read (JSON nested past its 128-level limit, say) is
        // refused with serde's reason. Failing the call instead would make policy-server
        // answer an error, and the SDK's error message echoes the whole payload.
        Err(e) => verdict::Verdict::Reject {
            message: format!("the admission request cannot be read: {e}"),
        },
    };
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

    fn workshop() -> Settings {
        Settings {
            cluster_domain: "apps.cluster-abc.example.com".to_owned(),
            ..Settings::default()
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
            // Pinned: every rule leaves with labels.namespace.
            ("seed-prometheusrule", true, Settings::default(), true),
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
            ("seed-alertmanagerconfig", true, workshop(), true),
            (
                "alertmanagerconfig-v1alpha1-correct",
                true,
                workshop(),
                false,
            ),
            (
                "alertmanagerconfig-v1beta1-correct",
                true,
                workshop(),
                false,
            ),
            ("alertmanagerconfig-other-user", true, workshop(), true),
            (
                "alertmanagerconfig-metadata-endpoint",
                false,
                workshop(),
                false,
            ),
            ("alertmanagerconfig-url-secret", false, workshop(), false),
            ("alertmanagerconfig-misindented", false, workshop(), false),
            (
                "alertmanagerconfig-not-a-tenant-namespace",
                false,
                workshop(),
                false,
            ),
            ("alertmanagerconfig-slack", false, workshop(), false),
            (
                "alertmanagerconfig-undefined-nested-receiver",
                false,
                workshop(),
                false,
            ),
            // Without a cluster domain no listener URL can be built: refused, not guessed.
            ("seed-alertmanagerconfig", false, Settings::default(), false),
        ];
        for (fixture, accepted, settings, mutates) in cases {
            let response = case(fixture, accepted, settings)
                .eval(validate)
                .expect("policy answers");
            assert_eq!(response.mutated_object.is_some(), mutates, "{fixture}");
        }
    }

    #[test]
    fn a_payload_that_cannot_be_read_is_rejected_not_a_panic() {
        for payload in [&b"not json"[..], br#"{"request": 3, "settings": {}}"#] {
            let reply: Value = serde_json::from_slice(&validate(payload).unwrap()).unwrap();
            assert_eq!(reply["accepted"], false);
            assert!(reply["message"]
                .as_str()
                .unwrap()
                .starts_with("the admission request cannot be read:"));
        }
    }

    #[test]
    fn validate_settings_answers_invalid_rather_than_failing() {
        let reply: Value =
            serde_json::from_slice(&super::validate_settings(b"[1,2]").unwrap()).unwrap();
        assert_eq!(reply["valid"], false);
    }
}
