//! Whose namespace it is: the tenant (`{user}`) an AlertmanagerConfig's alerts belong to,
//! from the namespace's name (`tenantPattern`) or from an annotation or label on the
//! Namespace object, which a tenant cannot choose when the platform sets it (OpenShift's
//! `openshift.io/requester`).

use std::cell::RefCell;

use regex::Regex;

use crate::cluster::Cluster;
use serde::{Deserialize, Serialize};

use crate::names::is_dns_label;

/// The workshop layout: `<user>-test` and `<user>-prod`.
pub const DEFAULT_TENANT_PATTERN: &str = "^(?P<user>[a-z0-9]([-a-z0-9]*[a-z0-9])?)-(test|prod)$";

/// Where the tenant (the `{user}` of the listener) of a namespace comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum TenantFrom {
    /// The namespace's name, by `tenantPattern`. Makes no call to the cluster.
    #[default]
    NamespaceName,
    /// The value of the Namespace's annotation `tenantKey` (e.g. `openshift.io/requester`).
    NamespaceAnnotation,
    /// The value of the Namespace's label `tenantKey` (e.g. `tenant`).
    NamespaceLabel,
}

impl TenantFrom {
    /// What `tenantKey` names in this mode, for messages.
    pub fn key_kind(self) -> &'static str {
        match self {
            TenantFrom::NamespaceName => "name",
            TenantFrom::NamespaceAnnotation => "annotation",
            TenantFrom::NamespaceLabel => "label",
        }
    }
}

/// The Service in front of a tenant's EventListener: templates over `{user}` and
/// `{namespace}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListenerService {
    pub namespace: String,
    pub name: String,
}

/// Placeholders `listenerService` may use.
pub const LISTENER_SERVICE_PLACEHOLDERS: [&str; 2] = ["{user}", "{namespace}"];

impl ListenerService {
    /// `(namespace, name)` of the tenant's Service.
    pub fn fill(&self, user: &str, namespace: &str) -> (String, String) {
        let fill = |t: &str| t.replace("{user}", user).replace("{namespace}", namespace);
        (fill(&self.namespace), fill(&self.name))
    }
}

/// Whose a namespace is: the settings `tenantFrom`, `tenantKey` and `tenantPattern`
/// (built by `Settings::tenancy`).
#[derive(Debug, Clone, Copy)]
pub struct Tenancy<'s> {
    pub from: TenantFrom,
    /// The annotation or label key (`""` under `namespaceName`).
    pub key: &'s str,
    pub pattern: &'s str,
}

/// The tenant's user name for `namespace`, or the rejection that says why there is none.
/// Reads the cluster only for `namespaceAnnotation` / `namespaceLabel`.
pub fn tenant_of(
    namespace: &str,
    tenancy: &Tenancy,
    cluster: &dyn Cluster,
) -> Result<String, String> {
    let key = tenancy.key;
    let from = tenancy.from;
    // `source`: the annotation or label the user came from, `None` for the name; only
    // spelled out when the user is refused.
    let (user, source) = match from {
        TenantFrom::NamespaceName => (user_from_name(tenancy.pattern, namespace)?, None),
        TenantFrom::NamespaceAnnotation | TenantFrom::NamespaceLabel => {
            let meta = cluster.namespace(namespace).map_err(|e| {
                format!(
                    "cannot read Namespace {namespace:?} to find its tenant (the {} {key:?}): {e}",
                    from.key_kind()
                )
            })?;
            let values = if from == TenantFrom::NamespaceAnnotation {
                meta.annotations
            } else {
                meta.labels
            };
            let user = values.get(key).cloned().ok_or_else(|| {
                format!(
                    "Namespace {namespace:?} has no {} {key:?}, so it has no tenant whose EventListener could receive these alerts",
                    from.key_kind()
                )
            })?;
            (user, Some(from.key_kind()))
        }
    };
    // The user becomes one DNS label of the listener's host (and of its Service's
    // namespace): anything else would build another host, or none.
    if is_dns_label(&user) {
        return Ok(user);
    }
    let source = match source {
        None => format!("taken from namespace {namespace:?} by tenantPattern"),
        Some(kind) => format!("the {kind} {key:?} of Namespace {namespace:?}"),
    };
    Err(format!(
        "the tenant {user:?} ({source}) cannot name an EventListener: it must be one DNS label (lowercase letters, digits and '-', at most 63 characters)"
    ))
}

/// Under tenancy from the cluster, the namespace the listener runs in must be this
/// tenant's too: whoever requested `user2-toolings` first would otherwise receive
/// user2's alerts and run user2's retraining. Name tenancy needs no read (the listener's
/// namespace is built from the user). `Err` is the rejection, naming both tenants.
pub fn require_same_tenant(
    listener_namespace: &str,
    user: &str,
    tenancy: &Tenancy,
    cluster: &dyn Cluster,
) -> Result<(), String> {
    if tenancy.from == TenantFrom::NamespaceName {
        return Ok(());
    }
    match tenant_of(listener_namespace, tenancy, cluster) {
        Ok(owner) if owner == user => Ok(()),
        Ok(owner) => Err(format!(
            "the EventListener's namespace {listener_namespace:?} belongs to tenant {owner:?} (the {} {:?}), not to {user:?}: alerts sent there would start a pipeline {owner:?} runs; ask the cluster admin to give {listener_namespace:?} to {user:?}",
            tenancy.from.key_kind(),
            tenancy.key
        )),
        Err(why) => Err(format!(
            "cannot tell whose the EventListener's namespace {listener_namespace:?} is: {why}"
        )),
    }
}

thread_local! {
    /// The compiled `tenantPattern`: settings do not change within a policy instance, and
    /// compiling it costs more than the rest of the review.
    static TENANT_PATTERN: RefCell<Option<(String, Regex)>> = const { RefCell::new(None) };
}

/// The user from the namespace's name by `tenantPattern`.
fn user_from_name(pattern: &str, namespace: &str) -> Result<String, String> {
    // policy-server pays a regex compile on every fresh instance; the default pattern is
    // matched by hand instead (a property test holds the two equal).
    let captured = if pattern == DEFAULT_TENANT_PATTERN {
        Ok(default_pattern_user(namespace).map(str::to_owned))
    } else {
        compiled_pattern_user(pattern, namespace)
    };
    match captured {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(format!(
            "namespace {namespace:?} does not match the tenant pattern {pattern:?}, so it has no tenant whose EventListener could receive these alerts"
        )),
        Err(e) => Err(format!("the policy's tenantPattern does not compile: {e}")),
    }
}

/// `^(?P<user>[a-z0-9]([-a-z0-9]*[a-z0-9])?)-(test|prod)$`, by hand.
pub fn default_pattern_user(namespace: &str) -> Option<&str> {
    let user = namespace
        .strip_suffix("-test")
        .or_else(|| namespace.strip_suffix("-prod"))?;
    let bytes = user.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let ok = !bytes.is_empty()
        && bytes.iter().all(|b| alnum(b) || *b == b'-')
        && bytes.first().is_some_and(alnum)
        && bytes.last().is_some_and(alnum);
    ok.then_some(user)
}

fn compiled_pattern_user(pattern: &str, namespace: &str) -> Result<Option<String>, String> {
    TENANT_PATTERN.with(|cache| {
        let mut cache = cache.borrow_mut();
        let compiled = match cache.take() {
            Some((cached, re)) if cached == pattern => (cached, re),
            _ => (pattern.to_owned(), anchored(pattern)?),
        };
        let user = capture_user(&compiled.1, namespace);
        *cache = Some(compiled);
        Ok(user)
    })
}

/// `pattern` matched against the whole namespace, as Prometheus anchors its regular
/// expressions: `(?P<user>[a-z0-9]+)-(test|prod)` must not find user1 in
/// `evil-user1-test` or `user1-test-x`.
fn anchored(pattern: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| e.to_string())
}

fn capture_user(re: &Regex, namespace: &str) -> Option<String> {
    re.captures(namespace)
        .and_then(|c| c.name("user"))
        .map(|m| m.as_str().to_owned())
        .filter(|u| !u.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::fake::FakeCluster;
    use crate::cluster::NamespaceMeta;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn by_regex(namespace: &str) -> Option<String> {
        let re = Regex::new(DEFAULT_TENANT_PATTERN).unwrap();
        capture_user(&re, namespace)
    }

    #[test]
    fn default_pattern_by_hand_matches_the_examples() {
        for (ns, user) in [
            ("user1-test", Some("user1")),
            ("user1-prod", Some("user1")),
            ("team-a-test", Some("team-a")),
            ("a-test-prod", Some("a-test")),
            ("-test", None),
            ("user1--test", None),
            ("User1-test", None),
            ("user1-toolings", None),
            ("user1-test2", None),
        ] {
            assert_eq!(default_pattern_user(ns), user, "{ns}");
            assert_eq!(by_regex(ns).as_deref(), user, "{ns}");
        }
    }

    #[test]
    fn a_custom_pattern_cannot_capture_a_user_that_names_no_host() {
        let tenancy = Tenancy {
            pattern: "(?P<user>.*)test",
            ..BY_NAME
        };
        let err = tenant_of("team-test", &tenancy, &FakeCluster::default()).unwrap_err();
        assert!(
            err.starts_with("the tenant \"team-\" (taken from namespace \"team-test\" by tenantPattern) cannot name an EventListener"),
            "{err}"
        );
    }

    #[test]
    fn a_custom_pattern_matches_the_whole_namespace() {
        let pattern = "(?P<user>[a-z0-9]+)-(test|prod)";
        let user = |ns: &str| compiled_pattern_user(pattern, ns).unwrap();
        assert_eq!(user("user1-test").as_deref(), Some("user1"));
        assert_eq!(user("evil-user1-test"), None);
        assert_eq!(user("user1-test-x"), None);
    }

    #[test]
    fn another_pattern_is_not_answered_by_the_cached_one() {
        // The compiled pattern is cached per instance; settings differ per policy.
        let first = "(?P<user>[a-z0-9]+)-(test|prod)";
        let second = "team-(?P<user>[a-z0-9]+)";
        assert_eq!(
            compiled_pattern_user(first, "user1-test")
                .unwrap()
                .as_deref(),
            Some("user1")
        );
        assert_eq!(compiled_pattern_user(second, "user1-test").unwrap(), None);
        assert_eq!(
            compiled_pattern_user(second, "team-a").unwrap().as_deref(),
            Some("a")
        );
        assert_eq!(
            compiled_pattern_user(second, "team-b").unwrap().as_deref(),
            Some("b")
        );
        assert_eq!(compiled_pattern_user(first, "team-b").unwrap(), None);
        // A pattern of the same length is another pattern too.
        let same_length = "(?P<user>[a-z0-9]+)-(tset|prod)";
        assert_eq!(same_length.len(), first.len());
        assert_eq!(
            compiled_pattern_user(first, "user1-test")
                .unwrap()
                .as_deref(),
            Some("user1")
        );
        assert_eq!(
            compiled_pattern_user(same_length, "user1-test").unwrap(),
            None
        );
    }

    /// A pattern whose `user` group matches nothing names no tenant: said as a namespace
    /// the pattern does not fit, not as an unusable user `""`.
    #[test]
    fn an_empty_capture_is_no_match() {
        let tenancy = Tenancy {
            pattern: "(?P<user>[a-z]*)-test",
            ..BY_NAME
        };
        let err = tenant_of("-test", &tenancy, &FakeCluster::default()).unwrap_err();
        assert!(
            err.starts_with("namespace \"-test\" does not match the tenant pattern"),
            "{err}"
        );
    }

    #[test]
    fn the_listener_service_fills_every_placeholder() {
        let service = ListenerService {
            namespace: "{user}-{namespace}-{user}".to_owned(),
            name: "el-{namespace}-{namespace}".to_owned(),
        };
        assert_eq!(
            service.fill("u", "ns"),
            ("u-ns-u".to_owned(), "el-ns-ns".to_owned())
        );
    }

    proptest! {
        #[test]
        fn default_pattern_by_hand_equals_the_regex(ns in "[a-z0-9A-Z_.-]{0,12}(-test|-prod|-toolings|test|)") {
            prop_assert_eq!(default_pattern_user(&ns).map(str::to_owned), by_regex(&ns));
        }
    }

    /// The default settings' tenancy.
    const BY_NAME: Tenancy = Tenancy {
        from: TenantFrom::NamespaceName,
        key: "",
        pattern: DEFAULT_TENANT_PATTERN,
    };

    fn by_annotation() -> Tenancy<'static> {
        Tenancy {
            from: TenantFrom::NamespaceAnnotation,
            key: "openshift.io/requester",
            ..BY_NAME
        }
    }

    fn annotated(key: &str, value: &str) -> NamespaceMeta {
        NamespaceMeta {
            annotations: BTreeMap::from([(key.to_owned(), value.to_owned())]),
            ..NamespaceMeta::default()
        }
    }

    #[test]
    fn name_tenancy_reads_nothing_from_the_cluster() {
        let cluster = FakeCluster::default();
        assert_eq!(
            tenant_of("user1-test", &BY_NAME, &cluster).unwrap(),
            "user1"
        );
        assert!(cluster.reads.borrow().is_empty());
    }

    #[test]
    fn annotation_tenancy_takes_the_user_from_the_namespace() {
        let cluster = FakeCluster::default()
            .with_namespace("ml-team", annotated("openshift.io/requester", "alice"));
        assert_eq!(
            tenant_of("ml-team", &by_annotation(), &cluster).unwrap(),
            "alice"
        );
        assert_eq!(*cluster.reads.borrow(), ["Namespace ml-team"]);
    }

    #[test]
    fn label_tenancy_reads_labels_not_annotations() {
        let settings = Tenancy {
            from: TenantFrom::NamespaceLabel,
            key: "tenant",
            ..BY_NAME
        };
        let meta = NamespaceMeta {
            labels: BTreeMap::from([("tenant".to_owned(), "team-a".to_owned())]),
            annotations: BTreeMap::from([("tenant".to_owned(), "team-b".to_owned())]),
        };
        let cluster = FakeCluster::default().with_namespace("ns", meta);
        assert_eq!(tenant_of("ns", &settings, &cluster).unwrap(), "team-a");
    }

    #[test]
    fn unusable_tenants_are_refused_with_value_and_key() {
        for value in [
            "kube:admin",
            "alice@corp",
            "a.b",
            "a/b",
            "Alice",
            "",
            " alice",
            "alice\n",
            &"a".repeat(64),
        ] {
            let cluster = FakeCluster::default()
                .with_namespace("ns", annotated("openshift.io/requester", value));
            let err = tenant_of("ns", &by_annotation(), &cluster).unwrap_err();
            assert!(
                err.contains(&format!("{value:?}")) && err.contains("\"openshift.io/requester\""),
                "{err}"
            );
        }
    }

    #[test]
    fn a_missing_key_or_namespace_fails_closed() {
        let cluster = FakeCluster::default().with_namespace("ns", annotated("other", "alice"));
        let err = tenant_of("ns", &by_annotation(), &cluster).unwrap_err();
        assert!(
            err.contains("Namespace \"ns\" has no annotation \"openshift.io/requester\""),
            "{err}"
        );
        let err = tenant_of("gone", &by_annotation(), &cluster).unwrap_err();
        assert!(
            err.starts_with("cannot read Namespace \"gone\"") && err.contains("not found"),
            "{err}"
        );
        let denied = FakeCluster {
            unreachable: Some("access to v1/Namespace not granted".to_owned()),
            ..FakeCluster::default()
        };
        let err = tenant_of("ns", &by_annotation(), &denied).unwrap_err();
        assert!(err.contains("not granted"), "{err}");
    }
}
