//! `listener/service`: the listener is really a listener.

use super::{Check, Findings, Location};
use crate::cluster::Cluster;

pub const CHECK: Check = Check {
    id: "listener/service",
    refuses: "with `listenerService`, a Service that cannot be read, is `ExternalName`, or selects no pods",
    why: "a DNS alias or hand-wired Service can lead anywhere, including another tenant's pipeline",
};

/// The Service `namespace/name` in front of the tenant's listener (`url`) can be read
/// and really selects pods: not an `ExternalName` alias, not hand-wired endpoints.
pub fn require_listener(
    cluster: &dyn Cluster,
    namespace: &str,
    name: &str,
    url: &str,
    findings: &mut Findings,
) {
    match cluster.service(namespace, name) {
        Err(e) => findings.reject(
            &CHECK,
            Location::path(""),
            format!(
                "the tenant's EventListener Service {namespace}/{name} (listenerService) cannot be read: {e}; alerts sent to {:?} would reach no pipeline",
                url
            ),
        ),
        Ok(spec) => {
            if let Some(why) = spec.not_a_listener() {
                findings.reject(
                    &CHECK,
                    Location::path(""),
                    format!(
                        "the tenant's EventListener Service {namespace}/{name} (listenerService) is not a listener: {why}; alerts sent to {:?} could reach another tenant. Make it a ClusterIP Service that selects the EventListener's pods",
                        url
                    ),
                );
            }
        }
    }
}
