//! Routes an admission request to the check for its kind; everything else passes.

use kubewarden_policy_sdk::request::KubernetesAdmissionRequest;
use serde_json::Value;

use crate::alertmanager_config::{self, ApiVersion};
use crate::cluster::Cluster;
use crate::prometheus_rule;
use crate::settings::Settings;
use crate::verdict::{Findings, Verdict};

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
        return Verdict::Reject {
            message: format!(
                "{:?} has no namespace; this policy scopes alerting to the object's namespace",
                request.kind.kind
            ),
        };
    }
    if settings.is_exempt(&namespace) {
        return Verdict::accept();
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
    findings.into_verdict(object)
}
