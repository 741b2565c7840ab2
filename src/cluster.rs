//! What the policy reads from the cluster, behind a small trait: the waPC layer answers
//! it with Kubewarden's `kubernetes/get_resource` host capability, unit tests with a map.
//!
//! Only settings that ask for it (`tenantFrom` other than `namespaceName`,
//! `listenerService`) lead to a read; the defaults never touch the cluster.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Cluster reads. An `Err` says what went wrong in the host's words (not found, access
/// not granted, API server unreachable); callers fail closed on it.
pub trait Cluster {
    /// The labels and annotations of the Namespace `name`.
    fn namespace(&self, name: &str) -> Result<NamespaceMeta, String>;
    /// The Service `namespace/name`: what decides whether it really fronts pods.
    fn service(&self, namespace: &str, name: &str) -> Result<ServiceSpec, String>;
}

/// The part of a Service the policy reads: whether cluster DNS and kube-proxy send its
/// traffic to pods it selects, or somewhere its owner chose by hand.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// `ClusterIP` when unset, as the API server defaults it.
    #[serde(default, rename = "type")]
    pub service_type: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub selector: BTreeMap<String, String>,
    #[serde(default)]
    pub external_name: Option<String>,
}

impl ServiceSpec {
    /// Why this Service does not lead to pods it selects (`None` when it does). An
    /// `ExternalName` Service is a DNS alias (a CNAME to any host, another tenant's
    /// Service included); one without a selector sends to whatever Endpoints its owner
    /// writes by hand.
    pub fn not_a_listener(&self) -> Option<String> {
        let kind = self.service_type.as_deref().unwrap_or("ClusterIP");
        match kind {
            "ClusterIP" | "NodePort" | "LoadBalancer" if self.selector.is_empty() => Some(
                format!("it is a {kind} Service without a selector, so its Endpoints are written by hand and may point anywhere"),
            ),
            "ClusterIP" | "NodePort" | "LoadBalancer" => None,
            "ExternalName" => Some(format!(
                "it is an ExternalName Service, a DNS alias for {:?}, not the EventListener's pods",
                self.external_name.as_deref().unwrap_or_default()
            )),
            other => Some(format!("its type {other:?} is not ClusterIP, NodePort or LoadBalancer")),
        }
    }
}

/// The part of a Namespace the policy reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct NamespaceMeta {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub annotations: BTreeMap<String, String>,
}

fn null_as_empty<'de, D>(d: D) -> Result<BTreeMap<String, String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(Option::deserialize(d)?.unwrap_or_default())
}

/// A Namespace as the host returns it; everything but its metadata is skipped.
#[derive(Clone, Deserialize)]
struct NamespaceObject {
    #[serde(default)]
    metadata: NamespaceMeta,
}

/// A Service as the host returns it; everything but its spec is skipped.
#[derive(Clone, Deserialize)]
struct ServiceObject {
    #[serde(default)]
    spec: ServiceSpec,
}

/// The cluster as policy-server (or `kwctl run --allow-context-aware`) shows it to the
/// policy. Reads go through the host's cache (`disable_cache: false`): a Namespace's
/// annotations and a Service's existence change rarely, and the API server is shared.
pub struct HostCluster;

impl Cluster for HostCluster {
    fn namespace(&self, name: &str) -> Result<NamespaceMeta, String> {
        get::<NamespaceObject>("Namespace", name, None).map(|ns| ns.metadata)
    }

    fn service(&self, namespace: &str, name: &str) -> Result<ServiceSpec, String> {
        get::<ServiceObject>("Service", name, Some(namespace)).map(|s| s.spec)
    }
}

fn get<T>(kind: &str, name: &str, namespace: Option<&str>) -> Result<T, String>
where
    T: serde::de::DeserializeOwned + Clone,
{
    use kubewarden_policy_sdk::host_capabilities::kubernetes::{get_resource, GetResourceRequest};
    get_resource::<T>(&GetResourceRequest {
        api_version: "v1".to_owned(),
        kind: kind.to_owned(),
        name: name.to_owned(),
        namespace: namespace.map(str::to_owned),
        disable_cache: false,
        field_masks: None,
    })
    .map_err(|e| host_error(&e.to_string()))
}

/// Longest part of a host's error quoted in a rejection.
const MAX_HOST_ERROR: usize = 300;

/// The host's error as a rejection can quote it: its first line (a host may append a
/// backtrace), without the SDK's prefix, and bounded.
fn host_error(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    let line = line
        .strip_prefix("error invoking host capability kubernetes.get_resource: ")
        .unwrap_or(line);
    match line.char_indices().nth(MAX_HOST_ERROR) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_errors_are_quoted_by_their_first_line_and_bounded() {
        let text = "error invoking host capability kubernetes.get_resource: Host error: services \"x\" not found\n\nStack backtrace:\n   0: <unknown>";
        assert_eq!(
            super::host_error(text),
            "Host error: services \"x\" not found"
        );
        let long = "é".repeat(1000);
        assert_eq!(
            super::host_error(&long).chars().count(),
            super::MAX_HOST_ERROR + 3
        );
    }
}

#[cfg(test)]
pub mod fake {
    //! A cluster made of a few objects, for unit tests.

    use super::*;
    use std::cell::RefCell;

    #[derive(Default)]
    pub struct FakeCluster {
        pub namespaces: BTreeMap<String, NamespaceMeta>,
        pub services: Vec<(String, String, ServiceSpec)>,
        /// Every read made, as `Kind ns/name`.
        pub reads: RefCell<Vec<String>>,
        /// Answer every read with this error.
        pub unreachable: Option<String>,
    }

    impl FakeCluster {
        pub fn with_namespace(mut self, name: &str, meta: NamespaceMeta) -> Self {
            self.namespaces.insert(name.to_owned(), meta);
            self
        }

        /// A Service that selects pods, as an EventListener's does.
        pub fn with_service(self, namespace: &str, name: &str) -> Self {
            let spec = ServiceSpec {
                selector: BTreeMap::from([("app".to_owned(), name.to_owned())]),
                ..ServiceSpec::default()
            };
            self.with_service_spec(namespace, name, spec)
        }

        pub fn with_service_spec(mut self, namespace: &str, name: &str, spec: ServiceSpec) -> Self {
            self.services
                .push((namespace.to_owned(), name.to_owned(), spec));
            self
        }
    }

    impl Cluster for FakeCluster {
        fn namespace(&self, name: &str) -> Result<NamespaceMeta, String> {
            self.reads.borrow_mut().push(format!("Namespace {name}"));
            if let Some(e) = &self.unreachable {
                return Err(e.clone());
            }
            self.namespaces
                .get(name)
                .cloned()
                .ok_or_else(|| format!("namespaces \"{name}\" not found"))
        }

        fn service(&self, namespace: &str, name: &str) -> Result<ServiceSpec, String> {
            self.reads
                .borrow_mut()
                .push(format!("Service {namespace}/{name}"));
            if let Some(e) = &self.unreachable {
                return Err(e.clone());
            }
            self.services
                .iter()
                .find(|(ns, n, _)| ns == namespace && n == name)
                .map(|(_, _, spec)| spec.clone())
                .ok_or_else(|| format!("services \"{name}\" not found"))
        }
    }
}
