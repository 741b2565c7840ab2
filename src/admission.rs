//! Routes an admission request to the check for its kind; everything else passes.

use kubewarden_policy_sdk::request::KubernetesAdmissionRequest;
use serde_json::Value;

use crate::alertmanager_config::{self, ApiVersion};
use crate::checks::{request_namespace, Finding, Findings, Location};
use crate::cluster::Cluster;
use crate::names::is_dns_label;
use crate::prometheus_rule;
use crate::settings::Settings;
use crate::verdict::Verdict;

pub const MONITORING_GROUP: &str = "monitoring.coreos.com";

/// The kinds this policy reviews.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    PrometheusRule,
    AlertmanagerConfig(ApiVersion),
}

pub fn target_of(request: &KubernetesAdmissionRequest) -> Option<Target> {
    let gvk = &request.kind;
    match (gvk.group.as_str(), gvk.version.as_str(), gvk.kind.as_str()) {
        (MONITORING_GROUP, "v1", "PrometheusRule") => Some(Target::PrometheusRule),
        (MONITORING_GROUP, "v1alpha1", "AlertmanagerConfig") => {
            Some(Target::AlertmanagerConfig(ApiVersion::V1alpha1))
        }
        (MONITORING_GROUP, "v1beta1", "AlertmanagerConfig") => {
            Some(Target::AlertmanagerConfig(ApiVersion::V1beta1))
        }
        _ => None,
    }
}

/// The verdict on `request`. `cluster` is read only when the settings ask for it.
pub fn review(
    request: KubernetesAdmissionRequest,
    settings: &Settings,
    cluster: &dyn Cluster,
) -> Verdict {
    // DELETE and CONNECT carry nothing to scope; other kinds are not ours.
    if !matches!(request.operation.as_str(), "CREATE" | "UPDATE") {
        return Verdict::accept();
    }
    let Some(target) = target_of(&request) else {
        return Verdict::accept();
    };
    let namespace = if request.namespace.is_empty() {
        request
            .object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    } else {
        request.namespace
    };
    if namespace.is_empty() {
        let finding = Finding {
            check: &request_namespace::CHECK,
            at: Location::path("metadata.namespace"),
            message: format!(
                "{:?} has no namespace; this policy scopes alerting to the object's namespace",
                request.kind.kind
            ),
        };
        return Verdict::Reject {
            message: finding.problem_text(),
        };
    }
    if settings.is_exempt(&namespace) {
        return Verdict::accept();
    }
    // Kubernetes names a namespace with one DNS label; anything else is no namespace the
    // API server sent, and scoping to it would scope to nothing anyone meant.
    if !is_dns_label(&namespace) {
        let finding = Finding {
            check: &request_namespace::CHECK,
            at: Location::path("metadata.namespace"),
            message: format!(
                "the request's namespace {namespace:?} is not a Kubernetes namespace name (one DNS label: lowercase letters, digits and '-', at most 63 characters)"
            ),
        };
        return Verdict::Reject {
            message: finding.problem_text(),
        };
    }

    let mut object = request.object;
    let mut findings = Findings::default();
    match target {
        Target::PrometheusRule => {
            prometheus_rule::review(&mut object, &namespace, settings, &mut findings)
        }
        Target::AlertmanagerConfig(version) => alertmanager_config::review(
            &mut object,
            &namespace,
            version,
            settings,
            cluster,
            &mut findings,
        ),
    }
    Verdict::of(findings, object)
}

#[cfg(test)]
mod tests {
    //! The routing decisions every review depends on, natively: whose namespace, which
    //! are exempt, and what a near-miss namespace counts as.

    use serde_json::{json, Value};

    use super::review;
    use crate::cluster::fake::FakeCluster;
    use crate::settings::Settings;
    use crate::verdict::Verdict;

    fn rule_request(namespace: &str, expr: &str) -> Value {
        json!({
            "uid": "1",
            "kind": {"group": "monitoring.coreos.com", "version": "v1", "kind": "PrometheusRule"},
            "resource": {"group": "monitoring.coreos.com", "version": "v1", "resource": "prometheusrules"},
            "name": "r",
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": "alice"},
            "object": {
                "apiVersion": "monitoring.coreos.com/v1",
                "kind": "PrometheusRule",
                "metadata": {"name": "r", "namespace": namespace},
                "spec": {"groups": [{"name": "g", "rules": [{"record": "r", "expr": expr}]}]},
            }
        })
    }

    fn verdict(request: Value, settings: &Settings) -> Verdict {
        let request = serde_json::from_value(request).expect("a request");
        review(request, settings, &FakeCluster::default())
    }

    #[test]
    fn an_exempt_namespace_is_matched_whole_never_by_prefix() {
        let request = || rule_request("user1-test", r#"x{namespace="user2-test"}"#);
        for exempt in ["user1", "user1-tes", "user1-test-x", "ser1-test"] {
            let settings = Settings {
                exempt_namespaces: vec![exempt.to_owned()],
                ..Settings::default()
            };
            assert!(
                matches!(verdict(request(), &settings), Verdict::Reject { .. }),
                "{exempt:?} exempted user1-test"
            );
        }
        let settings = Settings {
            exempt_namespaces: vec!["user1-test".to_owned()],
            ..Settings::default()
        };
        assert_eq!(verdict(request(), &settings), Verdict::accept());
    }

    #[test]
    fn a_near_miss_namespace_is_a_conflict_not_the_namespace() {
        for near in [
            "user1-testing",
            "user1-tes",
            "USER1-TEST",
            "user1-test ",
            " user1-test",
        ] {
            let expr = format!("x{{namespace={near:?}}}");
            match verdict(rule_request("user1-test", &expr), &Settings::default()) {
                Verdict::Reject { message } => assert!(
                    message.contains(&format!("has matcher namespace={near:?}")),
                    "{near:?}: {message}"
                ),
                other => panic!("{near:?} admitted: {other:?}"),
            }
        }
        // The namespace itself is kept as written.
        match verdict(
            rule_request("user1-test", r#"x{namespace="user1-test"}"#),
            &Settings::default(),
        ) {
            Verdict::Mutate { object, .. } => assert_eq!(
                object["spec"]["groups"][0]["rules"][0]["expr"],
                r#"x{namespace="user1-test"}"#
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_request_without_a_namespace_is_refused() {
        let mut request = rule_request("", "x");
        request["object"]["metadata"]
            .as_object_mut()
            .map(|m| m.remove("namespace"));
        match verdict(request, &Settings::default()) {
            Verdict::Reject { message } => assert_eq!(
                message,
                "[request/namespace] metadata.namespace: \"PrometheusRule\" has no namespace; this policy scopes alerting to the object's namespace"
            ),
            other => panic!("{other:?}"),
        }
        // A namespace that is no DNS label is none: not taken from the object instead.
        for namespace in [" ", "User1-test", "user1_test", "user1-test\n"] {
            let mut request = rule_request(namespace, "x");
            request["object"]["metadata"]["namespace"] = json!("user1-test");
            match verdict(request, &Settings::default()) {
                Verdict::Reject { message } => assert_eq!(
                    message,
                    format!("[request/namespace] metadata.namespace: the request's namespace {namespace:?} is not a Kubernetes namespace name (one DNS label: lowercase letters, digits and '-', at most 63 characters)")
                ),
                other => panic!("{namespace:?}: {other:?}"),
            }
        }
        // The object's own namespace counts when the request leaves it out.
        let mut request = rule_request("", "x");
        request["object"]["metadata"]["namespace"] = json!("user1-test");
        match verdict(request, &Settings::default()) {
            Verdict::Mutate { object, .. } => assert_eq!(
                object["spec"]["groups"][0]["rules"][0]["expr"],
                r#"x{namespace="user1-test"}"#
            ),
            other => panic!("{other:?}"),
        }
    }
}
