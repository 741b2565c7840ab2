//! Reviews an AlertmanagerConfig (`monitoring.coreos.com/v1alpha1` and `v1beta1`): its
//! webhooks reach this tenant's own EventListener (or an admin-allowed destination) and
//! nothing else, follow no redirects, the listener really is the tenant's, one alert
//! starts at most one retraining run, and every route's receiver exists.
//!
//! The fields this policy writes (`route.repeatInterval`,
//! `receivers[].webhookConfigs[].url/sendResolved`) are the same in both versions. Of the
//! fields that differ, time intervals are checked with each version's name for them
//! (`spec.muteTimeIntervals` in v1alpha1, `spec.timeIntervals` in v1beta1); matchers and
//! the `urlSecret` type are passed through untouched.

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::checks::location::WebhookAt;
use crate::checks::object_shape::{
    boolean, field_object_mut, list_mut, object_mut, required_name, wrong_type,
};
use crate::checks::route_fan_out::{equality_matchers, Child, Fanout, Ways};
use crate::checks::{
    listener_service, listener_tenant, object_bounds, object_loads, receiver_integrations,
    route_fan_out, route_intervals, route_keys, webhook_destination, webhook_http_client,
    webhook_redirects, webhook_send_resolved, Findings, Location,
};
use crate::cluster::Cluster;
use crate::settings::Settings;
use crate::tenancy;
use crate::webhook_url::{self, Tenant, UrlDecision};

pub use crate::checks::object_bounds::{
    MAX_HTTP_CONFIG_DEPTH, MAX_RECEIVERS, MAX_ROUTES, MAX_ROUTE_DEPTH, MAX_WEBHOOKS_PER_RECEIVER,
};

/// The two served versions of the AlertmanagerConfig CRD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    V1alpha1,
    V1beta1,
}

impl ApiVersion {
    /// Where the version defines the time intervals routes refer to.
    fn time_intervals_field(self) -> &'static str {
        match self {
            ApiVersion::V1alpha1 => "muteTimeIntervals",
            ApiVersion::V1beta1 => "timeIntervals",
        }
    }

    fn name(self) -> &'static str {
        match self {
            ApiVersion::V1alpha1 => "v1alpha1",
            ApiVersion::V1beta1 => "v1beta1",
        }
    }
}

pub fn review(
    object: &mut Value,
    namespace: &str,
    version: ApiVersion,
    settings: &Settings,
    cluster: &dyn Cluster,
    findings: &mut Findings,
) {
    let Some(object) = object.as_object_mut() else {
        return;
    };
    let Some(spec) = field_object_mut(object, "spec", "spec", findings) else {
        return;
    };
    // Before any cluster read: without it there is nothing to read for.
    if settings.cluster_domain.is_empty() {
        findings.reject(
            &webhook_destination::CHECK,
            Location::path(""),
            "the policy's clusterDomain setting is empty, so no EventListener URL can be built; ask the cluster admin to set it",
        );
        return;
    }
    let user = match tenancy::tenant_of(namespace, &settings.tenancy(), cluster) {
        Ok(user) => user,
        Err(why) => {
            findings.reject(&listener_tenant::CHECK, Location::path(""), why);
            return;
        }
    };
    let tenant = Tenant {
        user: &user,
        namespace,
        cluster_domain: &settings.cluster_domain,
    };
    let url = webhook_url::fill(&settings.webhook_url_template, &tenant);
    let service = settings
        .listener_service
        .as_ref()
        .map(|service| service.fill(&user, namespace));
    // Namespaces the listener runs in: the Service's, and the one an in-cluster URL
    // names. The request's own namespace is the tenant's by construction.
    let mut namespaces: Vec<String> = service.iter().map(|(ns, _)| ns.clone()).collect();
    namespaces.extend(webhook_url::service_namespace_of(&url));
    namespaces.sort();
    namespaces.dedup();
    namespaces.retain(|ns| ns != namespace);
    let mut listener = Listener {
        url,
        user: user.clone(),
        service,
        namespaces,
        checked: false,
    };

    let Ok(receivers) = review_receivers(spec, &mut listener, settings, cluster, findings) else {
        return;
    };
    let intervals_field = version.time_intervals_field();
    object_loads::unique_names(
        spec.get(intervals_field),
        &format!("spec.{intervals_field}"),
        "time interval",
        findings,
    );
    review_inhibit_rules(spec, version, findings);
    let intervals = defined_names(spec.get(intervals_field));
    let defined = Defined {
        receivers: receivers.as_ref(),
        receivers_listed: OnceCell::new(),
        intervals: intervals.iter().map(String::as_str).collect(),
        version,
    };
    review_route(spec, &defined, settings, findings);
}

/// The tenant's EventListener: its URL, the namespaces it runs in and, with
/// `listenerService`, the Service in front of it; checked once per object, before the
/// first webhook is pointed at it or accepted for it.
struct Listener {
    url: String,
    user: String,
    service: Option<(String, String)>,
    /// Namespaces other than the request's that the listener runs in.
    namespaces: Vec<String>,
    checked: bool,
}

impl Listener {
    /// Rejects when the listener is not really this tenant's: its namespace belongs to
    /// another tenant (tenancy from the cluster), or the Service cannot be read, or it
    /// is a DNS alias or hand-wired Service that may lead anywhere.
    fn require_tenants_own(
        &mut self,
        settings: &Settings,
        cluster: &dyn Cluster,
        findings: &mut Findings,
    ) {
        if std::mem::replace(&mut self.checked, true) {
            return;
        }
        for namespace in &self.namespaces {
            if let Err(why) =
                tenancy::require_same_tenant(namespace, &self.user, &settings.tenancy(), cluster)
            {
                findings.reject(&listener_tenant::CHECK, Location::path(""), why);
                return;
            }
        }
        let Some((namespace, name)) = &self.service else {
            return;
        };
        listener_service::require_listener(cluster, namespace, name, &self.url, findings);
    }
}

/// A defined receiver: where it is, and how many of its webhooks reach the tenant's
/// listener (each one a retraining run per notification).
#[derive(Debug, Clone, Copy)]
struct ReceiverInfo {
    index: usize,
    listener_webhooks: usize,
}

/// Receiver names, each with its first definition: the one form every check of names
/// reads.
type ReceiverNames = HashMap<String, ReceiverInfo>;

/// Reviews `spec.receivers`; returns their names (`Ok(None)` when the field is absent,
/// `Err` when there are too many to review).
fn review_receivers(
    spec: &mut Map<String, Value>,
    listener: &mut Listener,
    settings: &Settings,
    cluster: &dyn Cluster,
    findings: &mut Findings,
) -> Result<Option<ReceiverNames>, ()> {
    let receivers = match spec.get_mut("receivers") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(receivers)) => receivers,
        Some(other) => {
            wrong_type(findings, Location::path("spec.receivers"), "a list", other);
            return Ok(Some(ReceiverNames::new()));
        }
    };
    if receivers.len() > MAX_RECEIVERS {
        findings.reject(
            &object_bounds::CHECK,
            Location::path("spec.receivers"),
            format!(
                "holds {} receivers; the limit is {MAX_RECEIVERS} per AlertmanagerConfig",
                receivers.len()
            ),
        );
        return Err(());
    }
    let mut names = ReceiverNames::with_capacity(receivers.len());
    for (index, receiver) in receivers.iter_mut().enumerate() {
        let at = format!("spec.receivers[{index}]");
        let Some(receiver) = object_mut(receiver, &at, findings) else {
            continue;
        };
        let name = required_name(receiver, &at, findings);
        let who = format!("receiver {name:?}");
        receiver_integrations::review(receiver, &who, &at, settings, findings);
        let webhooks = list_mut(receiver, "webhookConfigs", &at, findings);
        let too_many = webhooks.as_ref().map_or(0, |list| list.len());
        let webhooks = if too_many > MAX_WEBHOOKS_PER_RECEIVER {
            findings.reject(
                &object_bounds::CHECK,
                Location::named(who.clone(), format!("{at}.webhookConfigs")),
                format!("lists {too_many} webhooks; the limit is {MAX_WEBHOOKS_PER_RECEIVER} per receiver"),
            );
            None
        } else {
            webhooks
        };
        // Indexes of the webhooks that reach the listener: each is one retraining run.
        let mut to_listener = Vec::new();
        for (w, webhook) in webhooks.into_iter().flatten().enumerate() {
            let path = format!("{at}.webhookConfigs[{w}]");
            if let Some(webhook) = object_mut(webhook, &path, findings) {
                let webhook_at = WebhookAt {
                    receiver: &name,
                    path: &path,
                };
                if review_webhook(webhook, &webhook_at, listener, settings, cluster, findings) {
                    to_listener.push(w);
                }
            }
        }
        if to_listener.len() > 1 {
            findings.reject(
                &route_fan_out::CHECK,
                Location::named(who.clone(), format!("{at}.webhookConfigs")),
                format!(
                    "sends to this tenant's EventListener {} times (webhookConfigs{to_listener:?}), so every notification would start {} retraining runs; keep one",
                    to_listener.len(),
                    to_listener.len()
                ),
            );
        }
        if name.is_empty() {
            continue;
        }
        if let Some(first) = names.get(&name) {
            findings.reject(
                &object_loads::CHECK,
                Location::path(format!("{at}.name")),
                format!(
                    "receiver name {name:?} is repeated (first at spec.receivers[{}]); receiver names must be unique",
                    first.index
                ),
            );
        } else {
            names.insert(
                name,
                ReceiverInfo {
                    index,
                    listener_webhooks: to_listener.len(),
                },
            );
        }
    }
    Ok(Some(names))
}

/// Reviews one webhook; `true` when its alerts would reach the tenant's listener (or a
/// destination `urlSecret` hides, which may be the listener).
fn review_webhook(
    webhook: &mut Map<String, Value>,
    at: &WebhookAt,
    listener: &mut Listener,
    settings: &Settings,
    cluster: &dyn Cluster,
    findings: &mut Findings,
) -> bool {
    let has_secret = !matches!(webhook.get("urlSecret"), None | Some(Value::Null));
    if has_secret && !settings.allow_url_secret {
        findings.reject(
            &webhook_destination::CHECK,
            at.field("urlSecret"),
            format!(
                "urlSecret hides the destination from admission (and takes precedence over url); use url with this tenant's EventListener {:?}",
                listener.url
            ),
        );
    }
    match webhook.get("httpConfig") {
        None | Some(Value::Null) => {}
        Some(Value::Object(http)) => {
            webhook_http_client::review_http_config(
                http,
                "httpConfig",
                0,
                at,
                &listener.url,
                settings,
                findings,
            );
            object_loads::alertmanager_http_auth(http, at, findings);
        }
        Some(other) => wrong_type(findings, at.field("httpConfig"), "an object", other),
    }
    webhook_redirects::forbid_redirects(webhook, at, findings);

    let decision = match webhook.get("url") {
        None | Some(Value::Null) if has_secret => None,
        None | Some(Value::Null) => Some(webhook_url::decide(
            None,
            &listener.url,
            &settings.destinations(),
        )),
        Some(Value::String(url)) => Some(webhook_url::decide(
            Some(url),
            &listener.url,
            &settings.destinations(),
        )),
        Some(other) => {
            wrong_type(findings, at.field("url"), "a string", other);
            None
        }
    };
    // urlSecret takes precedence over url in the operator, so whatever url says, the
    // secret's destination may be the listener.
    let mut reaches_listener = has_secret;
    if let Some(decision) = decision {
        if decision.reaches_listener() {
            reaches_listener = true;
            listener.require_tenants_own(settings, cluster, findings);
        }
        match decision {
            UrlDecision::Keep(_) => {}
            UrlDecision::Rewrite(why) => {
                findings.change(
                    &webhook_destination::CHECK,
                    format!("{}.url", at.path),
                    format!("{why}; set to {:?}", listener.url),
                );
                webhook.insert("url".to_owned(), Value::String(listener.url.clone()));
            }
            UrlDecision::Refuse(why) => {
                findings.reject(&webhook_destination::CHECK, at.field("url"), why)
            }
        }
    }

    webhook_send_resolved::set_send_resolved(webhook, at, settings, findings);
    reaches_listener
}

/// What routes may refer to.
struct Defined<'a> {
    /// Receiver names; `None` when the object has no `spec.receivers` at all.
    receivers: Option<&'a ReceiverNames>,
    /// The receiver names for messages, bounded; made on the first message that needs it.
    receivers_listed: OnceCell<String>,
    /// Time interval names, from the version's own field.
    intervals: HashSet<&'a str>,
    version: ApiVersion,
}

impl Defined<'_> {
    /// Webhooks to the tenant's listener that the receiver `name` has (0 when unknown).
    fn listener_webhooks(&self, name: &str) -> usize {
        self.receivers
            .and_then(|names| names.get(name))
            .map_or(0, |info| info.listener_webhooks)
    }
}

/// Most names a message lists before counting the rest.
const LISTED_NAMES: usize = 5;

/// `["a", "b"]`, or `["a", ..., "e"] and 7 more`, in the order they are defined.
fn listing(names: &ReceiverNames) -> String {
    let mut ordered: Vec<(usize, &String)> = names.iter().map(|(n, i)| (i.index, n)).collect();
    ordered.sort_unstable();
    let shown: Vec<&String> = ordered.iter().take(LISTED_NAMES).map(|(_, n)| *n).collect();
    if names.len() > LISTED_NAMES {
        format!("{shown:?} and {} more", names.len() - LISTED_NAMES)
    } else {
        format!("{shown:?}")
    }
}

/// The `name`s of a list of objects (malformed entries are left to the CRD schema).
/// `spec.inhibitRules`: their matchers and `equal` labels load in Alertmanager. (The
/// operator confines each rule to the namespace; what it suppresses is the tenant's.)
fn review_inhibit_rules(spec: &Map<String, Value>, version: ApiVersion, findings: &mut Findings) {
    let Some(Value::Array(rules)) = spec.get("inhibitRules") else {
        return;
    };
    let v1alpha1 = version == ApiVersion::V1alpha1;
    for (i, rule) in rules.iter().enumerate() {
        let Value::Object(rule) = rule else {
            continue;
        };
        let at = format!("spec.inhibitRules[{i}]");
        for field in ["sourceMatch", "targetMatch"] {
            object_loads::alertmanager_matchers(rule, field, &at, v1alpha1, findings);
        }
        object_loads::alertmanager_label_names(rule, "equal", &at, false, findings);
    }
}

fn defined_names(list: Option<&Value>) -> Vec<String> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|item| item.get("name").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

/// Reviews `spec.route`: every receiver and time interval it names exists, no route at
/// any depth repeats or regroups faster than the minimums, and one alert reaches the
/// tenant's listener along at most one path.
fn review_route(
    spec: &mut Map<String, Value>,
    defined: &Defined,
    settings: &Settings,
    findings: &mut Findings,
) {
    let Some(route) = field_object_mut(spec, "route", "spec.route", findings) else {
        return;
    };
    let top_receiver = match route.get("receiver") {
        Some(Value::String(r)) if !r.is_empty() => Some(r.clone()),
        _ => {
            findings.reject(
                &object_loads::CHECK,
                Location::path("spec.route.receiver"),
                "is missing: the top route must name one of the receivers defined under spec.receivers",
            );
            None
        }
    };

    route_intervals::default_repeat_interval(route, settings, findings);
    let mut walk = RouteWalk {
        defined,
        settings,
        minimums: route_intervals::Minimums::of(settings),
        routes: 0,
        findings,
    };
    walk.route(route, "spec.route", top_receiver.as_deref(), 0);
}

/// One walk over the route tree: references, intervals, bounds and fan-out together.
struct RouteWalk<'a, 'f> {
    defined: &'a Defined<'a>,
    settings: &'a Settings,
    minimums: route_intervals::Minimums,
    /// Routes seen so far, against `MAX_ROUTES`.
    routes: usize,
    findings: &'f mut Findings,
}

impl RouteWalk<'_, '_> {
    /// Reviews `route` (at `at`, under a parent whose receiver is `inherited`) and its
    /// subtree; returns how often one alert can reach the listener through it.
    ///
    /// Alertmanager tries a route's children in order; an alert descends into every
    /// matching child until one without `continue: true`, and is handled by the route's
    /// own receiver only when no child matches. Matchers are not evaluated here: any
    /// child may match, so the count is an upper bound.
    fn route(
        &mut self,
        route: &mut Map<String, Value>,
        at: &str,
        inherited: Option<&str>,
        depth: usize,
    ) -> Fanout {
        self.routes += 1;
        if self.routes == MAX_ROUTES + 1 {
            self.findings.reject(
                &object_bounds::CHECK,
                Location::path(at),
                format!("the route tree holds more than {MAX_ROUTES} routes, the limit per AlertmanagerConfig"),
            );
        }
        if self.routes > MAX_ROUTES {
            return Fanout::default();
        }
        if depth > MAX_ROUTE_DEPTH {
            self.findings.reject(
                &object_bounds::CHECK,
                Location::path(at),
                format!("routes nest deeper than {MAX_ROUTE_DEPTH} levels"),
            );
            return Fanout::default();
        }
        let v1alpha1 = self.defined.version == ApiVersion::V1alpha1;
        route_keys::review(route, at, v1alpha1, self.findings);
        object_loads::alertmanager_matchers(route, "matchers", at, v1alpha1, self.findings);
        object_loads::alertmanager_label_names(route, "groupBy", at, true, self.findings);
        let receiver = self.receiver(route, at).or(inherited.map(str::to_owned));
        self.time_intervals(route, at);
        route_intervals::review_intervals(route, at, self.settings, &self.minimums, self.findings);

        let own_runs = receiver
            .as_deref()
            .map_or(0, |r| self.defined.listener_webhooks(r).min(1));
        let own = Fanout {
            runs: own_runs,
            // This route, when it reaches the listener (`own_runs` is 0 or 1).
            via: vec![at.to_owned(); own_runs],
            reported: false,
        };
        let children = self.children(route, at, receiver.as_deref(), depth);
        // Every matching `continue` child, then at most one that stops the search: each
        // such set of children is a way one alert can go (see `Ways`).
        let mut best = own;
        let mut ways = Ways::default();
        for child in &children {
            if child.continues {
                ways.push(child);
            } else {
                best = best.most(ways.bound(Some(child)));
            }
        }
        best = best.most(ways.bound(None));
        if best.runs > 1 && !best.reported {
            self.findings.reject(
                &route_fan_out::CHECK,
                Location::path(at),
                format!(
                    "one alert can reach this tenant's EventListener {} times, along {}, so one drift would start {} retraining runs; remove `continue: true` so that at most one of these routes reaches the listener, or send the others to a receiver without it",
                    best.runs,
                    best.via.join(", "),
                    best.runs
                ),
            );
            best.reported = true;
        }
        best
    }

    /// The route's own receiver, when it names one (checked to exist).
    fn receiver(&mut self, route: &Map<String, Value>, at: &str) -> Option<String> {
        let defined = self.defined;
        match route.get("receiver") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) if name.is_empty() => None,
            Some(Value::String(name)) => {
                match defined.receivers {
                    None => self.findings.reject(
                        &object_loads::CHECK,
                        Location::path(format!("{at}.receiver")),
                        format!(
                        "{name:?} is not defined: the object has no spec.receivers. `receivers` belongs under `spec`, at the same depth as `route`; a list outside `spec` is dropped by the API server"
                    ),
                    ),
                    Some(names) if !names.contains_key(name.as_str()) => {
                        self.findings.reject(
                            &object_loads::CHECK,
                            Location::path(format!("{at}.receiver")),
                            format!(
                                "{name:?} is not defined in spec.receivers (defined: {})",
                                defined.receivers_listed.get_or_init(|| listing(names))
                            ),
                        )
                    }
                    Some(_) => {}
                }
                Some(name.clone())
            }
            Some(other) => {
                wrong_type(
                    self.findings,
                    Location::path(format!("{at}.receiver")),
                    "a string",
                    other,
                );
                None
            }
        }
    }

    /// Time intervals the route names exist, under the version's own field.
    fn time_intervals(&mut self, route: &Map<String, Value>, at: &str) {
        let defined = self.defined;
        for field in ["muteTimeIntervals", "activeTimeIntervals"] {
            let Some(names) = route.get(field).and_then(Value::as_array) else {
                continue;
            };
            for name in names.iter().filter_map(Value::as_str) {
                if !defined.intervals.contains(name) {
                    let (version, defined_at) = (
                        defined.version.name(),
                        defined.version.time_intervals_field(),
                    );
                    self.findings.reject(
                        &object_loads::CHECK,
                        Location::path(format!("{at}.{field}")),
                        format!("names {name:?}, which is not defined in spec.{defined_at} (in {version}, time intervals are defined under spec.{defined_at})"),
                    );
                }
            }
        }
    }

    /// Reviews the child routes; each one's fan-out and whether it has `continue: true`.
    fn children(
        &mut self,
        route: &mut Map<String, Value>,
        at: &str,
        receiver: Option<&str>,
        depth: usize,
    ) -> Vec<Child> {
        let routes = match route.get_mut("routes") {
            None | Some(Value::Null) => return Vec::new(),
            Some(Value::Array(routes)) => routes,
            Some(other) => {
                wrong_type(
                    self.findings,
                    Location::path(format!("{at}.routes")),
                    "a list",
                    other,
                );
                return Vec::new();
            }
        };
        let mut out = Vec::with_capacity(routes.len().min(MAX_ROUTES));
        for (i, child) in routes.iter_mut().enumerate() {
            if self.routes > MAX_ROUTES {
                break;
            }
            let child_at = format!("{at}.routes[{i}]");
            let Some(child) = child.as_object_mut() else {
                wrong_type(self.findings, Location::path(child_at), "an object", child);
                continue;
            };
            let continues = boolean(
                child,
                "continue",
                || Location::path(format!("{child_at}.continue")),
                self.findings,
            )
            .ok()
            .unwrap_or(false);
            let equal = equality_matchers(child, self.defined.version == ApiVersion::V1alpha1);
            let fanout = self.route(child, &child_at, receiver, depth + 1);
            out.push(Child {
                fanout,
                continues,
                equal,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    //! The reviewer through `admission::review`, natively: every door of issue 16 on the
    //! AlertmanagerConfig side, with a fake cluster where the settings read one.

    use std::collections::BTreeMap;

    use serde_json::{json, Value};

    use super::ApiVersion;
    use crate::admission;
    use crate::checks::Findings;
    use crate::cluster::fake::FakeCluster;
    use crate::cluster::{NamespaceMeta, ServiceSpec};
    use crate::settings::{OnShortInterval, Settings, TenantFrom};
    use crate::verdict::Verdict;

    const DOMAIN: &str = "apps.cluster-abc.example.com";
    const LISTENER: &str = "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/";

    fn workshop() -> Settings {
        Settings {
            cluster_domain: DOMAIN.to_owned(),
            ..Settings::default()
        }
    }

    fn request(namespace: &str, spec: Value) -> Value {
        json!({
            "uid": "1",
            "kind": {"group": "monitoring.coreos.com", "version": "v1beta1", "kind": "AlertmanagerConfig"},
            "resource": {"group": "monitoring.coreos.com", "version": "v1beta1", "resource": "alertmanagerconfigs"},
            "name": "jukebox-alerting",
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": "alice"},
            "object": {
                "apiVersion": "monitoring.coreos.com/v1beta1",
                "kind": "AlertmanagerConfig",
                "metadata": {"name": "jukebox-alerting", "namespace": namespace},
                "spec": spec,
            }
        })
    }

    fn review_in(
        cluster: &FakeCluster,
        settings: &Settings,
        namespace: &str,
        spec: Value,
    ) -> Verdict {
        let request = serde_json::from_value(request(namespace, spec)).expect("a request");
        admission::review(request, settings, cluster)
    }

    fn review(spec: Value) -> Verdict {
        review_in(&FakeCluster::default(), &workshop(), "user1-test", spec)
    }

    /// The rejection message; panics when the verdict is not a rejection.
    fn rejected(verdict: Verdict) -> String {
        match verdict {
            Verdict::Reject { message } => message,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    /// The admitted object's spec and the warnings; panics on a rejection.
    fn admitted(verdict: Verdict) -> (Value, Vec<String>) {
        match verdict {
            Verdict::Mutate { object, warnings } => (object["spec"].clone(), warnings),
            Verdict::Accept { warnings } => (Value::Null, warnings),
            Verdict::Reject { message } => panic!("rejected: {message}"),
        }
    }

    fn webhook(url: &str) -> Value {
        json!({"url": url, "sendResolved": false, "httpConfig": {"followRedirects": false}})
    }

    /// One receiver `default` with `webhooks`, routed from the top route.
    fn spec_with(webhooks: Vec<Value>) -> Value {
        json!({
            "route": {"receiver": "default", "repeatInterval": "12h"},
            "receivers": [{"name": "default", "webhookConfigs": webhooks}],
        })
    }

    #[test]
    fn the_seed_object_leaves_with_no_redirects_and_no_storm() {
        let spec = json!({
            "route": {"receiver": "default"},
            "receivers": [{"name": "default", "webhookConfigs": [
                {"url": "https://el-ct-listener-<USER_NAME>-toolings.<CLUSTER_DOMAIN>/"}
            ]}],
        });
        let (spec, warnings) = admitted(review(spec));
        let hook = &spec["receivers"][0]["webhookConfigs"][0];
        assert_eq!(hook["url"], LISTENER);
        assert_eq!(hook["sendResolved"], false);
        assert_eq!(hook["httpConfig"], json!({"followRedirects": false}));
        assert_eq!(spec["route"]["repeatInterval"], "12h");
        assert!(
            warnings.iter().any(|w| w.starts_with(
                "[webhook/redirects] spec.receivers[0].webhookConfigs[0].httpConfig.followRedirects: set to false"
            )),
            "{warnings:?}"
        );
    }

    #[test]
    fn redirects_are_never_followed() {
        let mut hook = webhook(LISTENER);
        hook["httpConfig"]["followRedirects"] = json!(true);
        let m = rejected(review(spec_with(vec![hook])));
        assert!(m.contains("receiver \"default\" (spec.receivers[0].webhookConfigs[0].httpConfig.followRedirects): true lets whoever answers"), "{m}");

        // An existing httpConfig keeps its other fields and gains followRedirects.
        let hook = json!({"url": LISTENER, "sendResolved": false, "httpConfig": {"bearerTokenSecret": {"name": "t", "key": "k"}}});
        let (spec, _) = admitted(review(spec_with(vec![hook])));
        assert_eq!(
            spec["receivers"][0]["webhookConfigs"][0]["httpConfig"],
            json!({"bearerTokenSecret": {"name": "t", "key": "k"}, "followRedirects": false})
        );

        let mut hook = webhook(LISTENER);
        hook["httpConfig"] = json!("follow");
        let m = rejected(review(spec_with(vec![hook])));
        assert!(
            m.contains("httpConfig): must be an object, found a string"),
            "{m}"
        );
    }

    #[test]
    fn a_token_url_at_the_tenants_own_listener_is_refused() {
        let mut hook = webhook(LISTENER);
        hook["httpConfig"]["oauth2"] = json!({
            "tokenUrl": LISTENER,
            "clientId": {"secret": {"name": "c", "key": "id"}},
            "clientSecret": {"name": "c", "key": "secret"},
        });
        let m = rejected(review(spec_with(vec![hook.clone()])));
        assert!(m.contains("(spec.receivers[0].webhookConfigs[0].httpConfig.oauth2.tokenUrl): \"https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/\" is this tenant's own EventListener"), "{m}");
        assert!(
            m.contains("follows redirects even with followRedirects: false"),
            "{m}"
        );

        // Under an allowed prefix it stays allowed.
        let settings = Settings {
            allowed_webhook_urls: vec!["https://sso.example.com/token/".to_owned()],
            ..workshop()
        };
        hook["httpConfig"]["oauth2"]["tokenUrl"] = json!("https://sso.example.com/token/x");
        let verdict = review_in(
            &FakeCluster::default(),
            &settings,
            "user1-test",
            spec_with(vec![hook]),
        );
        admitted(verdict);
    }

    #[test]
    fn a_receiver_lists_the_listener_at_most_once() {
        let hooks = vec![webhook(LISTENER); 3];
        let m = rejected(review(spec_with(hooks)));
        assert!(m.contains("[route/fan-out] receiver \"default\" (spec.receivers[0].webhookConfigs): sends to this tenant's EventListener 3 times (webhookConfigs[0, 1, 2]), so every notification would start 3 retraining runs; keep one"), "{m}");

        // A rewritten foreign listener counts as the listener too.
        let hooks = vec![
            webhook(LISTENER),
            webhook("https://el-ct-listener-user2-toolings.apps.cluster-abc.example.com/"),
        ];
        let m = rejected(review(spec_with(hooks)));
        assert!(m.contains("2 times (webhookConfigs[0, 1])"), "{m}");

        let over = vec![webhook(LISTENER); super::MAX_WEBHOOKS_PER_RECEIVER + 1];
        let m = rejected(review(spec_with(over)));
        assert_eq!(m, "[object/bounds] receiver \"default\" (spec.receivers[0].webhookConfigs): lists 17 webhooks; the limit is 16 per receiver");
    }

    /// A top route to `other` (no listener) whose children are `routes`; `listener`
    /// holds the tenant's listener once.
    #[test]
    fn what_alertmanager_refuses_to_load_is_refused_with_its_place() {
        // Each of these, passed on by the operator, makes Alertmanager refuse the one
        // configuration every tenant shares (amtool: "bad matcher format", "error
        // parsing regexp", "time interval … is not unique").
        let eq = |name: &str, value: &str, t: &str| json!({"name": name, "value": value, "matchType": t});
        for (spec, at, what) in [
            (
                routed(json!([{"receiver": "listener", "matchers": [eq("a-b", "x", "=")]}])),
                "spec.route.routes[0].matchers[0].name",
                "\"a-b\" is not a label name",
            ),
            // Written `severity!="critical"`, it is `severity != "critical"` to Alertmanager:
            // it would also have slipped routes past the fan-out bound.
            (
                routed(
                    json!([{"receiver": "listener", "matchers": [eq("severity!", "critical", "=")]}]),
                ),
                "spec.route.routes[0].matchers[0].name",
                "\"severity!\" is not a label name",
            ),
            (
                routed(json!([{"receiver": "listener", "matchers": [eq("a", "(", "=~")]}])),
                "spec.route.routes[0].matchers[0].value",
                "is not a regular expression Alertmanager compiles",
            ),
            (
                routed(json!([{"receiver": "listener", "matchers": [eq("a", "[z-a]", "!~")]}])),
                "spec.route.routes[0].matchers[0].value",
                "is not a regular expression Alertmanager compiles",
            ),
            (
                routed(json!([{"receiver": "listener", "groupBy": ["a-b"]}])),
                "spec.route.routes[0].groupBy[0]",
                "it is not a label name",
            ),
            (
                routed(json!([{"receiver": "listener", "groupBy": ["...", "a"]}])),
                "spec.route.routes[0].groupBy[0]",
                "must be the only entry",
            ),
            (
                routed(json!([{"receiver": "listener", "groupBy": ["a", "a"]}])),
                "spec.route.routes[0].groupBy[1]",
                "it is listed twice",
            ),
        ] {
            let m = rejected(review(spec));
            assert!(
                m.contains(&format!("[object/loads] {at}: ")) && m.contains(what),
                "{at}: {m}"
            );
        }
        let mut spec = routed(json!([]));
        spec["route"]["matchers"] = json!([eq("1x", "y", "=")]);
        let m = rejected(review(spec));
        assert!(
            m.contains("[object/loads] spec.route.matchers[0].name: \"1x\" is not a label name"),
            "{m}"
        );
        let mut spec = routed(json!([]));
        spec["timeIntervals"] = json!([{"name": "night"}, {"name": "day"}, {"name": "night"}]);
        let m = rejected(review(spec));
        assert!(m.contains("[object/loads] spec.timeIntervals[2].name: time interval \"night\" is defined twice (first at spec.timeIntervals[0])"), "{m}");
        let mut spec = routed(json!([]));
        spec["inhibitRules"] = json!([
            {"sourceMatch": [eq("severity", "critical", "=")], "targetMatch": [eq("a", "(", "=~")], "equal": ["model-name"]},
        ]);
        let m = rejected(review(spec));
        assert!(m.contains("[object/loads] spec.inhibitRules[0].targetMatch[0].value: \"(\" is not a regular expression"), "{m}");
        assert!(m.contains("[object/loads] spec.inhibitRules[0].equal[0]: \"model-name\": it is not a label name"), "{m}");
        // What loads is admitted: label names, compiling regexes, `...` alone, an `=`
        // value that only looks like a regex.
        let mut spec = routed(json!([
            {"receiver": "listener", "groupBy": ["..."], "matchers": [eq("a", "(", "="), eq("b", "x|y", "=~"), eq("_c9", "z", "!=")]},
        ]));
        spec["route"]["groupBy"] = json!(["namespace", "alertname"]);
        spec["inhibitRules"] =
            json!([{"sourceMatch": [eq("severity", "crit.*", "=~")], "equal": ["alertname"]}]);
        spec["timeIntervals"] = json!([{"name": "night"}, {"name": "day"}]);
        let verdict = review(spec);
        assert!(!matches!(verdict, Verdict::Reject { .. }), "{verdict:?}");
    }

    #[test]
    fn inhibit_rule_matchers_are_regexes_by_each_versions_own_field() {
        // v1alpha1 marks a regex with `regex: true`; v1beta1 has no such field (only
        // `matchType`), so there a `regex: true` changes nothing.
        let spec = || {
            let mut spec = routed(json!([]));
            spec["inhibitRules"] =
                json!([{"targetMatch": [{"name": "a", "value": "(", "regex": true}]}]);
            spec
        };
        let problems = |version: ApiVersion| {
            let mut object = json!({"spec": spec()});
            let mut findings = Findings::default();
            super::review(
                &mut object,
                "user1-test",
                version,
                &workshop(),
                &FakeCluster::default(),
                &mut findings,
            );
            findings.problem_texts()
        };
        let v1alpha1 = problems(ApiVersion::V1alpha1);
        assert!(
            v1alpha1.iter().any(|p| p.starts_with(
                "[object/loads] spec.inhibitRules[0].targetMatch[0].value: \"(\" is not a regular expression"
            )),
            "{v1alpha1:?}"
        );
        let v1beta1 = problems(ApiVersion::V1beta1);
        assert!(
            v1beta1.iter().all(|p| !p.starts_with("[object/loads]")),
            "{v1beta1:?}"
        );
    }

    #[test]
    fn a_webhook_authenticates_one_way_and_never_as_basic_authorization() {
        // amtool: "at most one of basic_auth, oauth2, bearer_token & bearer_token_file
        // must be configured", "authorization type cannot be set to \"basic\"".
        let secret = json!({"name": "s", "key": "k"});
        let with_http = |http: Value| {
            let mut hook = webhook(LISTENER);
            hook["httpConfig"] = http;
            hook["httpConfig"]["followRedirects"] = json!(false);
            json!({"route": {"receiver": "listener", "repeatInterval": "12h"},
                   "receivers": [{"name": "listener", "webhookConfigs": [hook]}]})
        };
        let at = "receiver \"listener\" (spec.receivers[0].webhookConfigs[0].httpConfig";
        let m = rejected(review(with_http(json!({
            "basicAuth": {"username": secret, "password": secret}, "bearerTokenSecret": secret,
        }))));
        assert!(m.contains(&format!("[object/loads] {at}.bearerTokenSecret): `basicAuth` and `bearerTokenSecret` both authenticate")), "{m}");
        let m = rejected(review(with_http(json!({
            "authorization": {"type": "basic", "credentials": secret},
        }))));
        assert!(m.contains(&format!("[object/loads] {at}.authorization.type): \"basic\": Alertmanager refuses authorization of type Basic")), "{m}");
        for fine in [
            json!({"authorization": {"type": "Bearer", "credentials": secret}}),
            json!({"basicAuth": {"username": secret, "password": secret}, "authorization": null}),
        ] {
            let verdict = review(with_http(fine.clone()));
            assert!(
                !matches!(verdict, Verdict::Reject { .. }),
                "{fine}: {verdict:?}"
            );
        }
    }

    fn routed(routes: Value) -> Value {
        json!({
            "route": {"receiver": "other", "repeatInterval": "12h", "routes": routes},
            "receivers": [
                {"name": "other"},
                {"name": "listener", "webhookConfigs": [webhook(LISTENER)]},
            ],
        })
    }

    #[test]
    fn one_alert_reaches_the_listener_along_at_most_one_route() {
        // The issue's storm: 40 sibling routes that all continue.
        let storm: Vec<Value> = (0..40)
            .map(|i| json!({"receiver": "listener", "continue": true,
                            "matchers": [{"name": format!("absent{i}"), "value": "x", "matchType": "!="}]}))
            .collect();
        let m = rejected(review(routed(Value::Array(storm))));
        assert!(m.contains("spec.route: one alert can reach this tenant's EventListener 40 times, along spec.route.routes[0], spec.route.routes[1]"), "{m}");

        // `continue` on a route whose subtree reaches the listener, then a sibling that
        // does too: two runs.
        let nested = json!([
            {"continue": true, "receiver": "other", "routes": [{"receiver": "listener"}]},
            {"receiver": "listener"},
        ]);
        let m = rejected(review(routed(nested)));
        assert!(
            m.contains("2 times, along spec.route.routes[0].routes[0], spec.route.routes[1]"),
            "{m}"
        );

        // An inherited receiver counts: a child without one uses its parent's.
        let inherited = json!([
            {"continue": true, "receiver": "listener", "routes": [{"matchers": [{"name": "a", "value": "b"}]}]},
            {"receiver": "listener"},
        ]);
        rejected(review(routed(inherited)));

        // Routes that pin one label to different values never match one alert together.
        let exclusive = |m: &str, v: &str| json!({"name": m, "value": v, "matchType": "="});
        let severities = json!([
            {"receiver": "listener", "continue": true, "matchers": [exclusive("severity", "critical")]},
            {"receiver": "listener", "continue": true, "matchers": [exclusive("severity", "warning")]},
            {"receiver": "listener", "matchers": [exclusive("severity", "info"), exclusive("team", "a")]},
        ]);
        let verdict = review(routed(severities));
        assert!(!matches!(verdict, Verdict::Reject { .. }), "{verdict:?}");
        // ... but a route that does not pin the label can match beside any of them.
        let open = json!([
            {"receiver": "listener", "continue": true, "matchers": [exclusive("severity", "critical")]},
            {"receiver": "listener", "continue": true, "matchers": [exclusive("team", "a")]},
        ]);
        let m = rejected(review(routed(open)));
        assert!(
            m.contains("2 times, along spec.route.routes[0], spec.route.routes[1]"),
            "{m}"
        );
        // Two routes pinning the same value still add up (v1alpha1's shape too).
        let same = json!([
            {"receiver": "listener", "continue": true, "matchers": [{"name": "severity", "value": "critical"}]},
            {"receiver": "listener", "matchers": [{"name": "severity", "value": "critical", "regex": false}]},
        ]);
        rejected(review(routed(same)));
        // A regex pins nothing.
        let regex = json!([
            {"receiver": "listener", "continue": true, "matchers": [{"name": "severity", "value": "critical", "matchType": "=~"}]},
            {"receiver": "listener", "matchers": [exclusive("severity", "warning")]},
        ]);
        rejected(review(routed(regex)));

        for (name, routes) in [
            (
                "siblings that stop",
                json!([{"receiver": "listener"}, {"receiver": "listener"}]),
            ),
            (
                "continue to a receiver without the listener",
                json!([{"receiver": "other", "continue": true}, {"receiver": "listener"}]),
            ),
            (
                "one continuing route to the listener",
                json!([{"receiver": "listener", "continue": true}, {"receiver": "other"}]),
            ),
        ] {
            let verdict = review(routed(routes));
            assert!(
                !matches!(verdict, Verdict::Reject { .. }),
                "{name}: {verdict:?}"
            );
        }
    }

    #[test]
    fn intervals_are_bounded_at_every_depth() {
        let child = |interval: Value| {
            let mut spec = spec_with(vec![webhook(LISTENER)]);
            spec["route"]["routes"] = json!([interval]);
            spec
        };
        let m = rejected(review(child(
            json!({"groupInterval": "10ms", "repeatInterval": "10ms"}),
        )));
        assert!(m.contains("spec.route.routes[0].groupInterval: \"10ms\" is shorter than the minimum \"1m\" (minGroupInterval)"), "{m}");
        assert!(m.contains("spec.route.routes[0].repeatInterval: \"10ms\" is shorter than the minimum \"1h\" (minRepeatInterval)"), "{m}");

        let mut top = spec_with(vec![webhook(LISTENER)]);
        top["route"]["repeatInterval"] = json!("1ms");
        let m = rejected(review(top));
        assert!(
            m.contains("spec.route.repeatInterval: \"1ms\" is shorter"),
            "{m}"
        );

        let m = rejected(review(child(json!({"repeatInterval": "0"}))));
        assert!(
            m.contains(
                "spec.route.routes[0].repeatInterval: \"0\" is zero, which Alertmanager refuses"
            ),
            "{m}"
        );
        let m = rejected(review(child(json!({"groupInterval": "0"}))));
        assert!(m.contains("groupInterval: \"0\" is zero"), "{m}");
        let m = rejected(review(child(json!({"groupWait": "soon"}))));
        assert!(
            m.contains("spec.route.routes[0].groupWait: \"soon\" is not a Prometheus duration"),
            "{m}"
        );
        // amtool: "duration out of range"; Alertmanager would not load the route.
        let m = rejected(review(child(json!({"repeatInterval": "293y"}))));
        assert!(
            m.contains(
                "spec.route.routes[0].repeatInterval: \"293y\" is out of Prometheus's range"
            ),
            "{m}"
        );

        // Raised instead, when the admin says so; zero is still refused.
        let raise = Settings {
            on_short_interval: OnShortInterval::Raise,
            ..workshop()
        };
        let (spec, warnings) = admitted(review_in(
            &FakeCluster::default(),
            &raise,
            "user1-test",
            child(json!({"groupInterval": "10ms"})),
        ));
        assert_eq!(spec["route"]["routes"][0]["groupInterval"], "1m");
        assert!(warnings.iter().any(|w| w.starts_with("[route/intervals] spec.route.routes[0].groupInterval: raised from \"10ms\" to \"1m\" (minGroupInterval)")), "{warnings:?}");
        let verdict = review_in(
            &FakeCluster::default(),
            &raise,
            "user1-test",
            child(json!({"repeatInterval": "0"})),
        );
        rejected(verdict);

        // Long enough is left alone, and the top route's default is only said when set.
        let (_, warnings) = admitted(review(child(
            json!({"groupInterval": "5m", "repeatInterval": "1h"}),
        )));
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn route_trees_and_receiver_lists_are_bounded() {
        let many: Vec<Value> = (0..=super::MAX_RECEIVERS)
            .map(|i| json!({"name": format!("r{i}")}))
            .collect();
        let m = rejected(review(
            json!({"route": {"receiver": "r0"}, "receivers": many}),
        ));
        assert!(
            m.contains("spec.receivers: holds 65 receivers; the limit is 64"),
            "{m}"
        );

        let routes: Vec<Value> = (0..300).map(|_| json!({"receiver": "other"})).collect();
        let m = rejected(review(routed(Value::Array(routes))));
        assert!(
            m.contains("the route tree holds more than 256 routes"),
            "{m}"
        );
    }

    fn requested_by(user: &str) -> NamespaceMeta {
        NamespaceMeta {
            annotations: BTreeMap::from([("openshift.io/requester".to_owned(), user.to_owned())]),
            ..NamespaceMeta::default()
        }
    }

    fn requester_tenancy() -> Settings {
        Settings {
            tenant_from: TenantFrom::NamespaceAnnotation,
            tenant_key: Some("openshift.io/requester".to_owned()),
            listener_service: Some(crate::settings::ListenerService {
                namespace: "{user}-toolings".to_owned(),
                name: "el-ct-listener".to_owned(),
            }),
            ..workshop()
        }
    }

    #[test]
    fn the_listener_service_must_select_pods() {
        let settings = requester_tenancy();
        let user2_listener = "https://el-ct-listener-user2-toolings.apps.cluster-abc.example.com/";
        let base = FakeCluster::default()
            .with_namespace("user2-test", requested_by("user2"))
            .with_namespace("user2-toolings", requested_by("user2"));
        let alias = ServiceSpec {
            service_type: Some("ExternalName".to_owned()),
            external_name: Some("el-ct-listener.user1-toolings.svc.cluster.local".to_owned()),
            ..ServiceSpec::default()
        };
        for (name, spec, expected) in [
            ("ExternalName", alias, "is not a listener: it is an ExternalName Service, a DNS alias for \"el-ct-listener.user1-toolings.svc.cluster.local\""),
            ("no selector", ServiceSpec::default(), "it is a ClusterIP Service without a selector"),
        ] {
            let cluster = FakeCluster {
                namespaces: base.namespaces.clone(),
                ..FakeCluster::default()
            }
            .with_service_spec("user2-toolings", "el-ct-listener", spec);
            let m = rejected(review_in(&cluster, &settings, "user2-test", spec_with(vec![webhook(user2_listener)])));
            assert!(m.contains("the tenant's EventListener Service user2-toolings/el-ct-listener (listenerService)"), "{name}: {m}");
            assert!(m.contains(expected), "{name}: {m}");
        }
        let cluster = base.with_service("user2-toolings", "el-ct-listener");
        admitted(review_in(
            &cluster,
            &settings,
            "user2-test",
            spec_with(vec![webhook(user2_listener)]),
        ));
        assert_eq!(
            cluster.reads.borrow().as_slice(),
            [
                "Namespace user2-test",
                "Namespace user2-toolings",
                "Service user2-toolings/el-ct-listener"
            ]
        );
    }

    #[test]
    fn the_listeners_namespace_must_be_the_same_tenants() {
        // user1 requested user2-toolings before user2 did.
        let settings = requester_tenancy();
        let cluster = FakeCluster::default()
            .with_namespace("user2-test", requested_by("user2"))
            .with_namespace("user2-toolings", requested_by("user1"))
            .with_service("user2-toolings", "el-ct-listener");
        let user2_listener = "https://el-ct-listener-user2-toolings.apps.cluster-abc.example.com/";
        let m = rejected(review_in(
            &cluster,
            &settings,
            "user2-test",
            spec_with(vec![webhook(user2_listener)]),
        ));
        assert!(m.contains("the EventListener's namespace \"user2-toolings\" belongs to tenant \"user1\" (the annotation \"openshift.io/requester\"), not to \"user2\""), "{m}");
        // No Service read once the namespace is refused.
        assert!(!cluster
            .reads
            .borrow()
            .iter()
            .any(|r| r.starts_with("Service")));

        // The namespace an in-cluster URL template names is checked the same way.
        let settings = Settings {
            listener_service: None,
            webhook_url_template: "http://el-ct-listener.{user}-toolings.svc.cluster.local:8080/"
                .to_owned(),
            ..requester_tenancy()
        };
        let in_cluster = "http://el-ct-listener.user2-toolings.svc.cluster.local:8080/";
        let m = rejected(review_in(
            &cluster,
            &settings,
            "user2-test",
            spec_with(vec![webhook(in_cluster)]),
        ));
        assert!(m.contains("belongs to tenant \"user1\""), "{m}");

        let unknown = FakeCluster::default().with_namespace("user2-test", requested_by("user2"));
        let m = rejected(review_in(
            &unknown,
            &settings,
            "user2-test",
            spec_with(vec![webhook(in_cluster)]),
        ));
        assert!(
            m.contains("cannot tell whose the EventListener's namespace \"user2-toolings\" is"),
            "{m}"
        );
    }

    #[test]
    fn name_tenancy_reads_nothing() {
        let cluster = FakeCluster::default();
        admitted(review_in(
            &cluster,
            &workshop(),
            "user1-test",
            spec_with(vec![webhook(LISTENER)]),
        ));
        assert!(cluster.reads.borrow().is_empty());
    }

    #[test]
    fn the_bounds_admit_exactly_their_limit() {
        // At the limit: admitted (a receiver more is refused, above); 16 webhooks to the
        // listener are refused for their fan-out, not for the bound.
        let (_, warnings) = admitted(review(json!({
            "route": {"receiver": "r0", "repeatInterval": "12h"},
            "receivers": (0..super::MAX_RECEIVERS)
                .map(|i| json!({"name": format!("r{i}")}))
                .collect::<Vec<_>>(),
        })));
        assert!(
            warnings.iter().all(|w| !w.contains("[object/bounds]")),
            "{warnings:?}"
        );

        let hooks = vec![webhook(LISTENER); super::MAX_WEBHOOKS_PER_RECEIVER];
        let m = rejected(review(spec_with(hooks)));
        assert!(!m.contains("[object/bounds]"), "{m}");
        assert!(
            m.contains("sends to this tenant's EventListener 16 times"),
            "{m}"
        );
    }

    #[test]
    fn a_url_of_the_wrong_type_is_not_counted_as_a_listener_webhook() {
        // Only a urlSecret hides where a webhook goes; a `url` that is not a string is
        // refused for its type, not also counted as a second run of the listener.
        let hooks = vec![
            webhook(LISTENER),
            json!({"url": 42, "sendResolved": false, "httpConfig": {"followRedirects": false}}),
        ];
        let m = rejected(review(spec_with(hooks)));
        assert_eq!(
            m,
            "[object/shape] receiver \"default\" (spec.receivers[0].webhookConfigs[1].url): must be a string, found a number"
        );
    }

    #[test]
    fn an_undefined_receiver_is_named_with_the_first_five_defined() {
        let receivers =
            |n: usize| -> Vec<Value> { (0..n).map(|i| json!({"name": format!("r{i}")})).collect() };
        let spec = |n| json!({"route": {"receiver": "nope", "repeatInterval": "12h"}, "receivers": receivers(n)});
        let m = rejected(review(spec(7)));
        assert!(
            m.contains(r#"(defined: ["r0", "r1", "r2", "r3", "r4"] and 2 more)"#),
            "{m}"
        );
        let m = rejected(review(spec(6)));
        assert!(
            m.contains(r#"["r0", "r1", "r2", "r3", "r4"] and 1 more)"#),
            "{m}"
        );
        let m = rejected(review(spec(5)));
        assert!(
            m.contains(r#"(defined: ["r0", "r1", "r2", "r3", "r4"])"#),
            "{m}"
        );
    }

    /// A route tree of `children` routes under the top route, the last with a
    /// `groupInterval` under the minimum (refused when it is reviewed at all).
    fn wide(children: usize) -> Value {
        let mut routes: Vec<Value> = (0..children)
            .map(|_| json!({"receiver": "other"}))
            .collect();
        if let Some(last) = routes.last_mut() {
            last["groupInterval"] = json!("1s");
        }
        routed(Value::Array(routes))
    }

    /// `levels` routes nested one in the other under the top route, the innermost with
    /// a `groupInterval` under the minimum.
    fn deep(levels: usize) -> Value {
        let mut route = json!({"receiver": "other", "groupInterval": "1s"});
        for _ in 1..levels {
            route = json!({"receiver": "other", "routes": [route]});
        }
        routed(json!([route]))
    }

    #[test]
    fn the_route_bounds_review_every_route_up_to_the_limit_and_none_past_it() {
        let short = "groupInterval";
        // The top route and 255 children: 256 routes, the last one reviewed.
        let m = rejected(review(wide(super::MAX_ROUTES - 1)));
        assert!(!m.contains("[object/bounds]"), "{m}");
        assert!(
            m.contains(&format!(
                "spec.route.routes[{}].{short}",
                super::MAX_ROUTES - 2
            )),
            "{m}"
        );
        // One more: refused once for the bound, and the route past it is not reviewed.
        let m = rejected(review(wide(super::MAX_ROUTES)));
        assert_eq!(
            m,
            format!("[object/bounds] spec.route.routes[{}]: the route tree holds more than 256 routes, the limit per AlertmanagerConfig", super::MAX_ROUTES - 1)
        );
        let m = rejected(review(wide(super::MAX_ROUTES + 40)));
        assert_eq!(m.matches("[object/bounds]").count(), 1, "{m}");
        assert!(!m.contains(short), "{m}");

        // Depth: the deepest route allowed is reviewed; one level more is refused.
        let m = rejected(review(deep(super::MAX_ROUTE_DEPTH)));
        assert!(!m.contains("[object/bounds]"), "{m}");
        assert!(m.contains(short), "{m}");
        let m = rejected(review(deep(super::MAX_ROUTE_DEPTH + 1)));
        assert!(m.contains("routes nest deeper than 32 levels"), "{m}");
        assert!(!m.contains(short), "{m}");
    }

    #[test]
    fn an_empty_top_receiver_is_missing() {
        let m = rejected(review(json!({
            "route": {"receiver": "", "repeatInterval": "12h"},
            "receivers": [{"name": "other"}],
        })));
        assert_eq!(
            m,
            "[object/loads] spec.route.receiver: is missing: the top route must name one of the receivers defined under spec.receivers"
        );
    }

    #[test]
    fn an_empty_child_receiver_inherits_its_parents() {
        // As an unset one: Alertmanager (and the operator) take the parent's receiver.
        let (_, warnings) = admitted(review(routed(json!([{"receiver": ""}]))));
        assert!(warnings.is_empty(), "{warnings:?}");
        let m = rejected(review(routed(json!([{"receiver": "nope"}]))));
        assert!(
            m.contains(r#"spec.route.routes[0].receiver: "nope" is not defined"#),
            "{m}"
        );
    }
}
