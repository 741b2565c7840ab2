//! Reviews an AlertmanagerConfig (`monitoring.coreos.com/v1alpha1` and `v1beta1`): its
//! webhooks reach this tenant's own EventListener (or an admin-allowed destination) and
//! nothing else, they do not start a retraining storm, and every route's receiver exists.
//!
//! The fields this policy writes (`route.repeatInterval`,
//! `receivers[].webhookConfigs[].url/sendResolved`) are the same in both versions. Of the
//! fields that differ, time intervals are checked with each version's name for them
//! (`spec.muteTimeIntervals` in v1alpha1, `spec.timeIntervals` in v1beta1); matchers and
//! the `urlSecret` type are passed through untouched.

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::cluster::Cluster;
use crate::durations;
use crate::json_shape::{field_object_mut, list_mut, object_mut, required_name};
use crate::settings::Settings;
use crate::tenancy;
use crate::verdict::{json_kind, Findings};
use crate::webhook_url::{self, Tenant, UrlDecision};

/// Deepest nesting of `routes` accepted; bounds the recursion any object can cause.
pub const MAX_ROUTE_DEPTH: usize = 32;
/// Deepest nesting inside a webhook's `httpConfig` accepted (the CRD's is 3).
pub const MAX_HTTP_CONFIG_DEPTH: usize = 8;

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
            "the policy's clusterDomain setting is empty, so no EventListener URL can be built; ask the cluster admin to set it".to_owned(),
        );
        return;
    }
    let user = match tenancy::tenant_of(namespace, settings, cluster) {
        Ok(user) => user,
        Err(why) => {
            findings.reject(why);
            return;
        }
    };
    let tenant = Tenant {
        user: &user,
        namespace,
        cluster_domain: &settings.cluster_domain,
    };
    let mut listener = Listener {
        url: webhook_url::fill(&settings.webhook_url_template, &tenant),
        service: settings
            .listener_service
            .as_ref()
            .map(|service| service.fill(&user, namespace)),
        checked: false,
    };

    let receivers = review_receivers(spec, &mut listener, settings, cluster, findings);
    let intervals = defined_names(spec.get(version.time_intervals_field()));
    let defined = Defined {
        receivers: receivers.as_ref(),
        receivers_listed: OnceCell::new(),
        intervals: intervals.iter().map(String::as_str).collect(),
        version,
    };
    review_route(spec, &defined, settings, findings);
}

/// The tenant's EventListener: its URL and, with `listenerService`, the Service that
/// must exist before alerts are sent to it (looked up once per object).
struct Listener {
    url: String,
    service: Option<(String, String)>,
    checked: bool,
}

impl Listener {
    /// Rejects, naming the Service, when `listenerService` is set and the Service
    /// cannot be read: alerts sent to a listener that does not exist go nowhere.
    fn require_service(&mut self, cluster: &dyn Cluster, findings: &mut Findings) {
        let Some((namespace, name)) = &self.service else {
            return;
        };
        if std::mem::replace(&mut self.checked, true) {
            return;
        }
        if let Err(e) = cluster.service(namespace, name) {
            findings.reject(format!(
                "the tenant's EventListener Service {namespace}/{name} (listenerService) cannot be read: {e}; alerts sent to {:?} would reach no pipeline",
                self.url
            ));
        }
    }
}

/// Receiver names, each with the index of its first definition: the one form every
/// check of names reads.
type ReceiverNames = HashMap<String, usize>;

/// Reviews `spec.receivers`; returns their names (`None` when the field is absent).
fn review_receivers(
    spec: &mut Map<String, Value>,
    listener: &mut Listener,
    settings: &Settings,
    cluster: &dyn Cluster,
    findings: &mut Findings,
) -> Option<ReceiverNames> {
    let receivers = match spec.get_mut("receivers") {
        None | Some(Value::Null) => return None,
        Some(Value::Array(receivers)) => receivers,
        Some(other) => {
            findings.reject(format!(
                "spec.receivers must be a list, found {}",
                json_kind(other)
            ));
            return Some(ReceiverNames::new());
        }
    };
    let mut names = ReceiverNames::with_capacity(receivers.len());
    for (index, receiver) in receivers.iter_mut().enumerate() {
        let at = format!("spec.receivers[{index}]");
        let Some(receiver) = object_mut(receiver, &at, findings) else {
            continue;
        };
        let name = required_name(receiver, &at, findings);
        let who = format!("receiver {name:?} ({at}");
        for key in receiver.keys() {
            if key.ends_with("Configs")
                && key != "webhookConfigs"
                && !settings.allowed_receiver_integrations.contains(key)
            {
                findings.reject(format!(
                    "{who}.{key}): only webhookConfigs to this tenant's EventListener are allowed; {key} sends alerts to destinations this policy cannot check"
                ));
            }
        }
        for (w, webhook) in list_mut(receiver, "webhookConfigs", &at, findings)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let path = format!("{at}.webhookConfigs[{w}]");
            if let Some(webhook) = object_mut(webhook, &path, findings) {
                let webhook_at = WebhookAt {
                    receiver: &name,
                    path: &path,
                };
                review_webhook(webhook, &webhook_at, listener, settings, cluster, findings);
            }
        }
        if name.is_empty() {
            continue;
        }
        if let Some(first) = names.get(&name) {
            findings.reject(format!(
                "{at}: receiver name {name:?} is repeated (first at spec.receivers[{first}]); receiver names must be unique"
            ));
        } else {
            names.insert(name, index);
        }
    }
    Some(names)
}

/// Where a webhook is, for messages.
struct WebhookAt<'a> {
    receiver: &'a str,
    path: &'a str,
}

impl WebhookAt<'_> {
    /// `receiver "r" (spec.receivers[0].webhookConfigs[0].field)`
    fn field(&self, field: &str) -> String {
        format!("receiver {:?} ({}.{field})", self.receiver, self.path)
    }
}

fn review_webhook(
    webhook: &mut Map<String, Value>,
    at: &WebhookAt,
    listener: &mut Listener,
    settings: &Settings,
    cluster: &dyn Cluster,
    findings: &mut Findings,
) {
    let has_secret = !matches!(webhook.get("urlSecret"), None | Some(Value::Null));
    if has_secret && !settings.allow_url_secret {
        findings.reject(format!(
            "{}: urlSecret hides the destination from admission (and takes precedence over url); use url with this tenant's EventListener {:?}",
            at.field("urlSecret"),
            listener.url
        ));
    }
    if let Some(Value::Object(http)) = webhook.get("httpConfig") {
        review_http_config(http, "httpConfig", 0, at, &listener.url, settings, findings);
    }

    let decision = match webhook.get("url") {
        None | Some(Value::Null) if has_secret => None,
        None | Some(Value::Null) => Some(webhook_url::decide(None, &listener.url, settings)),
        Some(Value::String(url)) => Some(webhook_url::decide(Some(url), &listener.url, settings)),
        Some(other) => {
            findings.reject(format!(
                "{} must be a string, found {}",
                at.field("url"),
                json_kind(other)
            ));
            None
        }
    };
    if let Some(decision) = decision {
        if decision.reaches_listener() {
            listener.require_service(cluster, findings);
        }
        match decision {
            UrlDecision::Keep(_) => {}
            UrlDecision::Rewrite(why) => {
                findings.changed(format!("{}.url: {why}; set to {:?}", at.path, listener.url));
                webhook.insert("url".to_owned(), Value::String(listener.url.clone()));
            }
            UrlDecision::Refuse(why) => findings.reject(format!("{}: {why}", at.field("url"))),
        }
    }

    match (webhook.get("sendResolved"), settings.send_resolved) {
        (None | Some(Value::Null), Some(value)) => {
            findings.changed(format!(
                "{}.sendResolved: set to {value} (a resolved drift should not start a second retraining run)",
                at.path
            ));
            webhook.insert("sendResolved".to_owned(), Value::Bool(value));
        }
        (Some(Value::Bool(_)) | None | Some(Value::Null), _) => {}
        (Some(other), _) => findings.reject(format!(
            "{} must be a boolean, found {}",
            at.field("sendResolved"),
            json_kind(other)
        )),
    }
}

/// Every address Alertmanager would contact for this webhook is a destination: no proxy
/// at any depth, an OAuth2 token URL that passes the same rules as `url`, and TLS that
/// checks the listener's certificate unless the admin allows otherwise.
fn review_http_config(
    config: &Map<String, Value>,
    path: &str,
    depth: usize,
    at: &WebhookAt,
    listener: &str,
    settings: &Settings,
    findings: &mut Findings,
) {
    if depth >= MAX_HTTP_CONFIG_DEPTH {
        findings.reject(format!(
            "{}: nests deeper than {MAX_HTTP_CONFIG_DEPTH} levels",
            at.field(path)
        ));
        return;
    }
    for (key, value) in config {
        let field = format!("{path}.{key}");
        let lower = key.to_ascii_lowercase();
        if lower.starts_with("proxy") || lower == "noproxy" {
            findings.reject(format!(
                "{}: a proxy would carry alerts or token requests through a host this policy cannot check; remove it",
                at.field(&field)
            ));
            continue;
        }
        if key == "tokenUrl" && path.ends_with("oauth2") {
            review_token_url(value, &field, at, listener, settings, findings);
            continue;
        }
        if path.ends_with("tlsConfig") {
            if let Some(risk) = tls_override(key, value) {
                if !settings.allow_webhook_tls_overrides {
                    findings.reject(format!(
                        "{}: {risk}; remove it (the cluster admin can allow it with allowWebhookTlsOverrides)",
                        at.field(&field)
                    ));
                }
            }
        }
        let mut descend = |child: &Map<String, Value>, child_path: &str| {
            review_http_config(
                child,
                child_path,
                depth + 1,
                at,
                listener,
                settings,
                findings,
            )
        };
        match value {
            Value::Object(inner) => descend(inner, &field),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Value::Object(inner) = item {
                        descend(inner, &format!("{field}[{i}]"));
                    }
                }
            }
            _ => {}
        }
    }
}

/// `oauth2.tokenUrl` passes the rules a webhook `url` passes, or the object is refused:
/// a token URL is not the policy's to rewrite.
fn review_token_url(
    value: &Value,
    field: &str,
    at: &WebhookAt,
    listener: &str,
    settings: &Settings,
    findings: &mut Findings,
) {
    let why = match value {
        Value::Null => return,
        Value::String(url) => match webhook_url::decide(Some(url), listener, settings) {
            UrlDecision::Keep(_) => return,
            UrlDecision::Rewrite(why) | UrlDecision::Refuse(why) => why,
        },
        other => format!("must be a string, found {}", json_kind(other)),
    };
    findings.reject(format!(
        "{}: {why}; Alertmanager sends the token request there, so it must be this tenant's EventListener or under allowedWebhookUrls",
        at.field(field)
    ));
}

/// What a `tlsConfig` field risks, when it turns a check off (`None` for the defaults).
fn tls_override(key: &str, value: &Value) -> Option<&'static str> {
    match (key, value) {
        ("insecureSkipVerify", Value::Null | Value::Bool(false)) => None,
        ("insecureSkipVerify", _) => Some("would send alerts to whoever answers, unverified"),
        ("serverName", Value::Null) => None,
        ("serverName", Value::String(name)) if name.is_empty() => None,
        ("serverName", _) => Some("accepts a certificate made out to another host than the URL's"),
        _ => None,
    }
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

/// Most names a message lists before counting the rest.
const LISTED_NAMES: usize = 5;

/// `["a", "b"]`, or `["a", ..., "e"] and 7 more`, in the order they are defined.
fn listing(names: &ReceiverNames) -> String {
    let mut ordered: Vec<(&usize, &String)> = names.iter().map(|(n, i)| (i, n)).collect();
    ordered.sort_unstable();
    let shown: Vec<&String> = ordered.iter().take(LISTED_NAMES).map(|(_, n)| *n).collect();
    if names.len() > LISTED_NAMES {
        format!("{shown:?} and {} more", names.len() - LISTED_NAMES)
    } else {
        format!("{shown:?}")
    }
}

/// The `name`s of a list of objects (malformed entries are left to the CRD schema).
fn defined_names(list: Option<&Value>) -> Vec<String> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|item| item.get("name").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

/// Reviews `spec.route`: every receiver and time interval it names exists, and the top
/// route repeats firing notifications no more often than `repeatInterval`.
fn review_route(
    spec: &mut Map<String, Value>,
    defined: &Defined,
    settings: &Settings,
    findings: &mut Findings,
) {
    let Some(route) = field_object_mut(spec, "route", "spec.route", findings) else {
        return;
    };
    match route.get("receiver") {
        Some(Value::String(r)) if !r.is_empty() => {}
        _ => findings.reject(
            "spec.route.receiver is missing: the top route must name a receiver from spec.receivers"
                .to_owned(),
        ),
    }
    check_route(route, "spec.route", defined, 0, findings);

    match route.get("repeatInterval") {
        None | Some(Value::Null) => {
            if !settings.repeat_interval.is_empty() {
                findings.changed(format!(
                    "spec.route.repeatInterval: set to {:?} (Alertmanager's 4h default would start a retraining run every 4 hours while drift persists)",
                    settings.repeat_interval
                ));
                route.insert(
                    "repeatInterval".to_owned(),
                    Value::String(settings.repeat_interval.clone()),
                );
            }
        }
        Some(Value::String(interval)) => {
            if let Err(why) = durations::parse_millis(interval) {
                findings.reject(format!("spec.route.repeatInterval: {why}"));
            }
        }
        Some(other) => findings.reject(format!(
            "spec.route.repeatInterval must be a string, found {}",
            json_kind(other)
        )),
    }
}

fn check_route(
    route: &Map<String, Value>,
    at: &str,
    defined: &Defined,
    depth: usize,
    findings: &mut Findings,
) {
    if depth > MAX_ROUTE_DEPTH {
        findings.reject(format!(
            "{at}: routes nest deeper than {MAX_ROUTE_DEPTH} levels"
        ));
        return;
    }
    match route.get("receiver") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) if name.is_empty() => {}
        Some(Value::String(name)) => match defined.receivers {
            None => findings.reject(format!(
                "{at}.receiver {name:?} is not defined: the object has no spec.receivers. `receivers` belongs under `spec`, at the same depth as `route`; a list outside `spec` is dropped by the API server"
            )),
            Some(names) if !names.contains_key(name.as_str()) => findings.reject(format!(
                "{at}.receiver {name:?} is not defined in spec.receivers (defined: {})",
                defined.receivers_listed.get_or_init(|| listing(names))
            )),
            Some(_) => {}
        },
        Some(other) => findings.reject(format!(
            "{at}.receiver must be a string, found {}",
            json_kind(other)
        )),
    }
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
                findings.reject(format!(
                    "{at}.{field} names {name:?}, which is not defined in spec.{defined_at} (in {version}, time intervals are defined under spec.{defined_at})"
                ));
            }
        }
    }
    match route.get("routes") {
        None | Some(Value::Null) => {}
        Some(Value::Array(routes)) => {
            for (i, child) in routes.iter().enumerate() {
                let child_at = format!("{at}.routes[{i}]");
                match child.as_object() {
                    Some(child) => check_route(child, &child_at, defined, depth + 1, findings),
                    None => findings.reject(format!(
                        "{child_at} must be an object, found {}",
                        json_kind(child)
                    )),
                }
            }
        }
        Some(other) => findings.reject(format!(
            "{at}.routes must be a list, found {}",
            json_kind(other)
        )),
    }
}
