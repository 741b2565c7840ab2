//! tenant-alerting-policy: a Kubewarden policy that keeps each tenant's Prometheus
//! alerting inside its own namespace.
//!
//! This file is only the waPC layer: it registers the three functions policy-server
//! calls and hands the request to [`admission::review`], a pure function of the request,
//! the settings and what [`cluster::HostCluster`] reads (only when settings ask for it).

// What ships must not panic on input (a panic traps the .wasm: policy-server then
// answers an error for the request): Cargo.toml's [lints] deny unwrap, expect, panic
// and indexing; clippy.toml lets tests use them.

pub mod admission;
pub mod alertmanager_config;
pub mod checks;
pub mod cluster;
pub mod prometheus_rule;
pub mod settings;
pub mod tenancy;
pub mod verdict;

// The concerns that need nothing of the policy's are crates of their own (crates/):
// PromQL as the policy reads and edits it, Go's template grammar as Prometheus reads
// alert templates, what a drift alert compares, Prometheus durations, Kubernetes and
// Prometheus names, webhook URLs as Go reads them. A change to one rebuilds and tests
// only it. Re-exported so the rest names them as the policy's modules.
pub use drift;
pub use durations;
pub use go_template;
pub use names;
pub use promql;
pub use webhook_url;

#[cfg(test)]
mod review_tests;

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
            on_conflict: promql::scope::OnConflict::Overwrite,
            ..Settings::default()
        }
    }

    /// What the policy answers for one fixture: admitted with exactly this JSONPatch
    /// (`[]`: untouched) and exactly these warnings, or refused with a message holding
    /// every one of these parts.
    enum Expect {
        Admit {
            patch: Value,
            warnings: &'static [&'static str],
        },
        Refuse(&'static [&'static str]),
    }

    struct Case {
        name: &'static str,
        fixture: &'static str,
        settings: Settings,
        expect: Expect,
    }

    /// The JSONPatch policy-server would send for `response` (the diff between the
    /// fixture's object and the mutated one, as the runner computes it).
    fn patch_of(
        fixture: &str,
        response: &kubewarden_policy_sdk::response::ValidationResponse,
    ) -> Value {
        let text =
            std::fs::read_to_string(format!("tests/fixtures/requests/{fixture}.json")).unwrap();
        let request: Value = serde_json::from_str(&text).unwrap();
        let reply: policy_runner::ValidationResponse =
            serde_json::from_value(serde_json::to_value(response).unwrap()).unwrap();
        let answer = policy_runner::admission_response(&request, reply);
        serde_json::to_value(answer.patch_ops.unwrap_or_default()).unwrap()
    }

    const LISTENER: &str = "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/";
    const SCOPED_SEED_EXPR: &str =
        "trustyai_meanshift{namespace=\"user1-test\", subcategory=\"danceability\"}<0.05";
    const FOLLOW_REDIRECTS_WARNING: &str = "[webhook/redirects] spec.receivers[0].webhookConfigs[0].httpConfig.followRedirects: set to false (Alertmanager follows redirects by default, so a listener answering 307 could send the alert to a host this policy did not check)";
    const SEND_RESOLVED_WARNING: &str = "[webhook/send-resolved] spec.receivers[0].webhookConfigs[0].sendResolved: set to false (a resolved drift should not start a second retraining run)";
    const REPEAT_INTERVAL_WARNING: &str = "[route/intervals] spec.route.repeatInterval: set to \"12h\" (Alertmanager's 4h default would start a retraining run every 4 hours while drift persists)";
    const LABEL_WARNING: &str = "[rules/namespace-label] spec.groups[0].rules[0].labels.namespace: set to \"user1-test\" (rule labels override the expression's, so what this rule emits stays in its namespace)";

    #[test]
    fn fixtures_get_the_expected_verdicts() {
        use serde_json::json;
        use Expect::*;
        let untouched = || Admit {
            patch: json!([]),
            warnings: &[],
        };
        let cases = [
            Case {
                name: "seed rule: only its namespace label is pinned",
                fixture: "seed-prometheusrule",
                settings: Settings::default(),
                expect: Admit {
                    patch: json!([
                        {"op": "add", "path": "/spec/groups/0/rules/0/labels/namespace", "value": "user1-test"},
                    ]),
                    warnings: &[LABEL_WARNING],
                },
            },
            Case {
                name: "a rule without matcher is scoped and labelled",
                fixture: "prometheusrule-no-matcher",
                settings: Settings::default(),
                expect: Admit {
                    patch: json!([
                        {"op": "replace", "path": "/spec/groups/0/rules/0/expr", "value": SCOPED_SEED_EXPR},
                        {"op": "add", "path": "/spec/groups/0/rules/0/labels/namespace", "value": "user1-test"},
                    ]),
                    warnings: &[
                        LABEL_WARNING,
                        "[expr/scope] spec.groups[0].rules[0].expr: scoped to namespace \"user1-test\"",
                    ],
                },
            },
            Case {
                name: "an unrendered template in the namespace is replaced",
                fixture: "prometheusrule-unrendered-template",
                settings: Settings::default(),
                expect: Admit {
                    patch: json!([
                        {"op": "replace", "path": "/spec/groups/0/rules/0/expr", "value": SCOPED_SEED_EXPR},
                        {"op": "add", "path": "/spec/groups/0/rules/0/labels/namespace", "value": "user1-test"},
                    ]),
                    warnings: &[
                        LABEL_WARNING,
                        "[expr/scope] spec.groups[0].rules[0].expr: replaced an unrendered template matcher with namespace=\"user1-test\"",
                    ],
                },
            },
            Case {
                name: "another namespace's matcher is a conflict",
                fixture: "prometheusrule-other-namespace",
                settings: Settings::default(),
                expect: Refuse(&[
                    "(spec.groups[0].rules[0].expr): selector trustyai_meanshift{namespace=\"user2-test\", subcategory=\"danceability\"} has matcher namespace=\"user2-test\", which conflicts with namespace \"user1-test\"",
                    "onConflict: overwrite",
                ]),
            },
            Case {
                name: "overwrite replaces the other namespace's matcher",
                fixture: "prometheusrule-other-namespace",
                settings: overwrite(),
                expect: Admit {
                    patch: json!([
                        {"op": "replace", "path": "/spec/groups/0/rules/0/expr", "value": SCOPED_SEED_EXPR},
                        {"op": "add", "path": "/spec/groups/0/rules/0/labels/namespace", "value": "user1-test"},
                    ]),
                    warnings: &[
                        LABEL_WARNING,
                        "[expr/scope] spec.groups[0].rules[0].expr: overwrote matcher namespace=\"user2-test\" with namespace=\"user1-test\"",
                    ],
                },
            },
            Case {
                name: "an update with a regex over namespaces is a conflict",
                fixture: "prometheusrule-update-other-namespace",
                settings: Settings::default(),
                expect: Refuse(&[
                    "(spec.groups[0].rules[0].expr): selector trustyai_meanshift{namespace=~\"user.*\", subcategory=\"danceability\"} has matcher namespace=~\"user.*\", which conflicts with namespace \"user1-test\"",
                ]),
            },
            Case {
                name: "recording rules are scoped and labelled",
                fixture: "prometheusrule-recording-rules",
                settings: Settings::default(),
                expect: Admit {
                    patch: json!([
                        {"op": "add", "path": "/spec/groups/0/rules/0/labels/namespace", "value": "user1-test"},
                        {"op": "replace", "path": "/spec/groups/1/rules/0/expr",
                         "value": "min_over_time(trustyai_meanshift{namespace=\"user1-test\", subcategory=\"danceability\"}[10m])"},
                        {"op": "add", "path": "/spec/groups/1/rules/0/labels", "value": {"namespace": "user1-test"}},
                        {"op": "replace", "path": "/spec/groups/1/rules/1/expr",
                         "value": "topk(scalar(max(jukebox_top_n{namespace=\"user1-test\"})), sum by (model) (rate(http_requests_total{namespace=\"user1-test\", code=~\"5..\"}[5m])))"},
                        {"op": "add", "path": "/spec/groups/1/rules/1/labels", "value": {"namespace": "user1-test"}},
                        // The integer expr has no selector; the rule is still labelled.
                        {"op": "add", "path": "/spec/groups/1/rules/2/labels", "value": {"namespace": "user1-test"}},
                    ]),
                    warnings: &[
                        LABEL_WARNING,
                        "[rules/namespace-label] spec.groups[1].rules[0].labels.namespace: set to \"user1-test\" (rule labels override the expression's, so what this rule emits stays in its namespace)",
                        "[expr/scope] spec.groups[1].rules[0].expr: scoped to namespace \"user1-test\"",
                        "[rules/namespace-label] spec.groups[1].rules[1].labels.namespace: set to \"user1-test\" (rule labels override the expression's, so what this rule emits stays in its namespace)",
                        "[expr/scope] spec.groups[1].rules[1].expr: scoped to namespace \"user1-test\"",
                        "[rules/namespace-label] spec.groups[1].rules[2].labels.namespace: set to \"user1-test\" (rule labels override the expression's, so what this rule emits stays in its namespace)",
                    ],
                },
            },
            Case {
                name: "a malformed rule is refused even under overwrite",
                fixture: "prometheusrule-malformed",
                settings: overwrite(),
                expect: Refuse(&[
                    "(spec.groups[0].rules[0].expr): expression does not parse",
                    "spec.groups[1].rules: must be a list, found an object",
                ]),
            },
            Case {
                name: "a DELETE is not reviewed",
                fixture: "prometheusrule-delete",
                settings: Settings::default(),
                expect: untouched(),
            },
            Case {
                name: "another kind is not reviewed",
                fixture: "configmap-other-kind",
                settings: Settings::default(),
                expect: untouched(),
            },
            Case {
                name: "seed config: listener filled in, storm protection added",
                fixture: "seed-alertmanagerconfig",
                settings: workshop(),
                expect: Admit {
                    patch: json!([
                        {"op": "add", "path": "/spec/route/repeatInterval", "value": "12h"},
                        {"op": "replace", "path": "/spec/receivers/0/webhookConfigs/0/url", "value": LISTENER},
                        {"op": "add", "path": "/spec/receivers/0/webhookConfigs/0/httpConfig", "value": {"followRedirects": false}},
                        {"op": "add", "path": "/spec/receivers/0/webhookConfigs/0/sendResolved", "value": false},
                    ]),
                    warnings: &[
                        FOLLOW_REDIRECTS_WARNING,
                        "[webhook/destination] spec.receivers[0].webhookConfigs[0].url: \"https://el-ct-listener-<USER_NAME>-toolings.<CLUSTER_DOMAIN>/\" still holds placeholders; set to \"https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/\"",
                        SEND_RESOLVED_WARNING,
                        REPEAT_INTERVAL_WARNING,
                    ],
                },
            },
            Case {
                name: "a correct v1alpha1 config is untouched",
                fixture: "alertmanagerconfig-v1alpha1-correct",
                settings: workshop(),
                expect: untouched(),
            },
            Case {
                name: "a correct v1beta1 config is untouched",
                fixture: "alertmanagerconfig-v1beta1-correct",
                settings: workshop(),
                expect: untouched(),
            },
            Case {
                name: "another tenant's listener is rewritten to this tenant's",
                fixture: "alertmanagerconfig-other-user",
                settings: workshop(),
                expect: Admit {
                    patch: json!([
                        {"op": "add", "path": "/spec/route/repeatInterval", "value": "12h"},
                        {"op": "replace", "path": "/spec/receivers/0/webhookConfigs/0/url", "value": LISTENER},
                        {"op": "add", "path": "/spec/receivers/0/webhookConfigs/0/httpConfig", "value": {"followRedirects": false}},
                        {"op": "add", "path": "/spec/receivers/0/webhookConfigs/0/sendResolved", "value": false},
                    ]),
                    warnings: &[
                        FOLLOW_REDIRECTS_WARNING,
                        "[webhook/destination] spec.receivers[0].webhookConfigs[0].url: \"https://el-ct-listener-user2-toolings.apps.cluster-abc.example.com/\" is another tenant's EventListener; set to \"https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/\"",
                        SEND_RESOLVED_WARNING,
                        REPEAT_INTERVAL_WARNING,
                    ],
                },
            },
            Case {
                name: "the metadata endpoint is refused",
                fixture: "alertmanagerconfig-metadata-endpoint",
                settings: workshop(),
                expect: Refuse(&[
                    "(spec.receivers[0].webhookConfigs[0].url): \"http://169.254.169.254/latest/meta-data/\" is not this tenant's EventListener",
                ]),
            },
            Case {
                name: "a urlSecret is refused by default",
                fixture: "alertmanagerconfig-url-secret",
                settings: workshop(),
                expect: Refuse(&[
                    "(spec.receivers[0].webhookConfigs[0].urlSecret): urlSecret hides the destination from admission",
                ]),
            },
            Case {
                name: "a misindented config is refused",
                fixture: "alertmanagerconfig-misindented",
                settings: workshop(),
                expect: Refuse(&[
                    "spec.route.receiver: \"default\" is not defined: the object has no spec.receivers",
                    "`receivers` belongs under `spec`",
                ]),
            },
            Case {
                name: "a namespace that names no tenant is refused",
                fixture: "alertmanagerconfig-not-a-tenant-namespace",
                settings: workshop(),
                expect: Refuse(&[
                    "namespace \"shared-monitoring\" does not match the tenant pattern",
                ]),
            },
            Case {
                name: "a Slack receiver is refused",
                fixture: "alertmanagerconfig-slack",
                settings: workshop(),
                expect: Refuse(&[
                    "receiver \"team-slack\" (spec.receivers[1].slackConfigs): only webhookConfigs",
                ]),
            },
            Case {
                name: "a nested route to an undefined receiver is refused",
                fixture: "alertmanagerconfig-undefined-nested-receiver",
                settings: workshop(),
                expect: Refuse(&[
                    "spec.route.routes[1].receiver: \"retrain-now\" is not defined in spec.receivers",
                    "spec.route.routes[1].routes[0].receiver: \"gone\" is not defined in spec.receivers",
                ]),
            },
            Case {
                name: "without a cluster domain no listener URL can be built: refused, not guessed",
                fixture: "seed-alertmanagerconfig",
                settings: Settings::default(),
                expect: Refuse(&[
                    "the policy's clusterDomain setting is empty, so no EventListener URL can be built",
                ]),
            },
        ];
        let mut failures = Vec::new();
        for Case {
            name,
            fixture,
            settings,
            expect,
        } in cases
        {
            let accepted = matches!(expect, Admit { .. });
            let response = case(fixture, accepted, settings)
                .eval(validate)
                .expect("policy answers");
            let patch = patch_of(fixture, &response);
            let warnings = response.warnings.clone().unwrap_or_default();
            let message = response.message.clone().unwrap_or_default();
            match expect {
                Admit {
                    patch: want_patch,
                    warnings: want_warnings,
                } => {
                    if patch != want_patch || warnings != want_warnings {
                        failures.push(format!(
                            "{name} ({fixture}):\n  patch {patch}\n  warnings {warnings:#?}"
                        ));
                    }
                    // Untouched means no mutated object at all, not an identical one.
                    if want_patch == json!([]) {
                        assert!(response.mutated_object.is_none(), "{name}");
                    }
                }
                Refuse(parts) => {
                    assert!(response.mutated_object.is_none(), "{name}");
                    if parts.iter().any(|p| !message.contains(p)) {
                        failures.push(format!("{name} ({fixture}):\n  message {message:?}"));
                    }
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
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
