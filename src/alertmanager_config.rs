//! Reviews an AlertmanagerConfig (`monitoring.coreos.com/v1alpha1` and `v1beta1`): its
//! webhooks reach this tenant's own EventListener (or an admin-allowed destination) and
//! nothing else, they do not start a retraining storm, and every route's receiver exists.
//!
//! The fields this policy writes (`route.repeatInterval`,
//! `receivers[].webhookConfigs[].url/sendResolved`) are the same in both versions. Of the
//! fields that differ, time intervals are checked with each version's name for them
//! (`spec.muteTimeIntervals` in v1alpha1, `spec.timeIntervals` in v1beta1); matchers and
//! the `urlSecret` type are passed through untouched.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use regex::Regex;
use serde_json::{Map, Value};

use crate::durations;
use crate::json_shape::{field_object_mut, list_mut, object_mut, required_name};
use crate::settings::{OnForeignListener, Settings, DEFAULT_TENANT_PATTERN};
use crate::verdict::{json_kind, Findings};
use crate::webhook_url::{self, Tenant};

/// Deepest nesting of `routes` accepted; bounds the recursion any object can cause.
pub const MAX_ROUTE_DEPTH: usize = 32;

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
    findings: &mut Findings,
) {
    let Some(object) = object.as_object_mut() else {
        return;
    };
    let Some(spec) = field_object_mut(object, "spec", "spec", findings) else {
        return;
    };
    let Some(user) = tenant_user(&settings.tenant_pattern, namespace, findings) else {
        return;
    };
    if settings.cluster_domain.is_empty() {
        findings.reject(
            "the policy's clusterDomain setting is empty, so no EventListener URL can be built; ask the cluster admin to set it".to_owned(),
        );
        return;
    }
    let tenant = Tenant {
        user: &user,
        namespace,
        cluster_domain: &settings.cluster_domain,
    };
    let listener = webhook_url::fill(&settings.webhook_url_template, &tenant);

    let receivers = review_receivers(spec, &listener, settings, findings);
    let intervals = defined_names(spec.get(version.time_intervals_field()));
    // Sets and the listing are built once: routes are not capped, so each route's
    // lookups must not scan the definitions.
    let receiver_set: Option<HashSet<&str>> = receivers
        .as_ref()
        .map(|names| names.iter().map(String::as_str).collect());
    let defined = Defined {
        receivers: receiver_set.as_ref(),
        receivers_listed: receivers.as_deref().map(listing).unwrap_or_default(),
        intervals: intervals.iter().map(String::as_str).collect(),
        version,
    };
    review_route(spec, &defined, settings, findings);
}

thread_local! {
    /// The compiled `tenantPattern`: settings do not change within a policy instance, and
    /// compiling it costs more than the rest of the review.
    static TENANT_PATTERN: RefCell<Option<(String, Regex)>> = const { RefCell::new(None) };
}

/// The tenant's user name, from the namespace by `tenantPattern`.
fn tenant_user(pattern: &str, namespace: &str, findings: &mut Findings) -> Option<String> {
    // policy-server pays a regex compile on every fresh instance; the default pattern is
    // matched by hand instead (a property test holds the two equal).
    let captured = if pattern == DEFAULT_TENANT_PATTERN {
        Ok(default_pattern_user(namespace).map(str::to_owned))
    } else {
        compiled_pattern_user(pattern, namespace)
    };
    let user = match captured {
        Ok(user) => user,
        Err(e) => {
            findings.reject(format!("the policy's tenantPattern does not compile: {e}"));
            return None;
        }
    };
    if user.is_none() {
        findings.reject(format!(
            "namespace {namespace:?} does not match the tenant pattern {pattern:?}, so it has no tenant whose EventListener could receive these alerts"
        ));
    }
    user
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
        && alnum(&bytes[0])
        && alnum(&bytes[bytes.len() - 1]);
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

/// Reviews `spec.receivers`; returns their names (`None` when the field is absent).
fn review_receivers(
    spec: &mut Map<String, Value>,
    listener: &str,
    settings: &Settings,
    findings: &mut Findings,
) -> Option<Vec<String>> {
    let receivers = match spec.get_mut("receivers") {
        None | Some(Value::Null) => return None,
        Some(Value::Array(receivers)) => receivers,
        Some(other) => {
            findings.reject(format!(
                "spec.receivers must be a list, found {}",
                json_kind(other)
            ));
            return Some(Vec::new());
        }
    };
    let mut names: Vec<String> = Vec::with_capacity(receivers.len());
    let mut first_at: HashMap<String, usize> = HashMap::with_capacity(receivers.len());
    for (index, receiver) in receivers.iter_mut().enumerate() {
        let at = format!("spec.receivers[{index}]");
        let Some(receiver) = object_mut(receiver, &at, findings) else {
            continue;
        };
        let name = required_name(receiver, &at, findings);
        if !name.is_empty() {
            if let Some(first) = first_at.get(&name) {
                findings.reject(format!(
                    "{at}: receiver name {name:?} is repeated (first at spec.receivers[{first}]); receiver names must be unique"
                ));
            }
        }
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
                review_webhook(webhook, &name, &path, listener, settings, findings);
            }
        }
        first_at.entry(name.clone()).or_insert(index);
        names.push(name);
    }
    Some(names)
}

fn review_webhook(
    webhook: &mut Map<String, Value>,
    receiver: &str,
    path: &str,
    listener: &str,
    settings: &Settings,
    findings: &mut Findings,
) {
    let who = |field: &str| format!("receiver {receiver:?} ({path}.{field})");
    let has_secret = !matches!(webhook.get("urlSecret"), None | Some(Value::Null));
    if has_secret && !settings.allow_url_secret {
        findings.reject(format!(
            "{}: urlSecret hides the destination from admission (and takes precedence over url); use url with this tenant's EventListener {listener:?}",
            who("urlSecret")
        ));
    }
    if let Some(Value::Object(http)) = webhook.get("httpConfig") {
        // A proxy would carry the alert payload to a host of the tenant's choosing.
        if let Some(key) = http
            .keys()
            .find(|k| k.to_ascii_lowercase().starts_with("proxy") || *k == "noProxy")
        {
            findings.reject(format!(
                "{}: a proxy would send alerts through a host this policy cannot check; remove it",
                who(&format!("httpConfig.{key}"))
            ));
        }
    }

    let rewrite =
        |findings: &mut Findings, webhook: &mut Map<String, Value>, why: String| match settings
            .on_foreign_listener
        {
            OnForeignListener::Rewrite => {
                findings.changed(format!("{path}.url: {why}; set to {listener:?}"));
                webhook.insert("url".to_owned(), Value::String(listener.to_owned()));
            }
            OnForeignListener::Reject => findings.reject(format!(
                "{}: {why}; this namespace's alerts go to {listener:?}",
                who("url")
            )),
        };
    match webhook.get("url") {
        None | Some(Value::Null) if has_secret => {}
        None | Some(Value::Null) => rewrite(findings, webhook, "no URL".to_owned()),
        Some(Value::String(url)) => {
            let url = url.clone();
            if webhook_url::same_destination(&url, listener) {
                // Already this tenant's listener.
            } else if webhook_url::has_unfilled_placeholder(&url) {
                rewrite(
                    findings,
                    webhook,
                    format!("{url:?} still holds placeholders"),
                );
            } else if webhook_url::has_listener_shape(&url, &settings.webhook_url_template) {
                rewrite(
                    findings,
                    webhook,
                    format!("{url:?} is another tenant's EventListener"),
                );
            } else if !settings
                .allowed_webhook_urls
                .iter()
                .any(|prefix| webhook_url::allowed_by_prefix(&url, prefix))
            {
                findings.reject(format!(
                    "{}: {url:?} is not this tenant's EventListener {listener:?}{}; alerts may not be sent there",
                    who("url"),
                    if settings.allowed_webhook_urls.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " and is not under allowedWebhookUrls {:?}",
                            settings.allowed_webhook_urls
                        )
                    }
                ));
            }
        }
        Some(other) => findings.reject(format!(
            "{} must be a string, found {}",
            who("url"),
            json_kind(other)
        )),
    }

    match (webhook.get("sendResolved"), settings.send_resolved) {
        (None | Some(Value::Null), Some(value)) => {
            findings.changed(format!(
                "{path}.sendResolved: set to {value} (a resolved drift should not start a second retraining run)"
            ));
            webhook.insert("sendResolved".to_owned(), Value::Bool(value));
        }
        (Some(Value::Bool(_)) | None | Some(Value::Null), _) => {}
        (Some(other), _) => findings.reject(format!(
            "{} must be a boolean, found {}",
            who("sendResolved"),
            json_kind(other)
        )),
    }
}

/// What routes may refer to.
struct Defined<'a> {
    /// Receiver names; `None` when the object has no `spec.receivers` at all.
    receivers: Option<&'a HashSet<&'a str>>,
    /// The receiver names for messages, bounded.
    receivers_listed: String,
    /// Time interval names, from the version's own field.
    intervals: HashSet<&'a str>,
    version: ApiVersion,
}

/// Most names a message lists before counting the rest.
const LISTED_NAMES: usize = 5;

/// `["a", "b"]`, or `["a", ..., "e"] and 7 more`.
fn listing(names: &[String]) -> String {
    let shown: Vec<&String> = names.iter().take(LISTED_NAMES).collect();
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
            Some(names) if !names.contains(name.as_str()) => findings.reject(format!(
                "{at}.receiver {name:?} is not defined in spec.receivers (defined: {})",
                defined.receivers_listed
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
    fn a_custom_pattern_matches_the_whole_namespace() {
        let pattern = "(?P<user>[a-z0-9]+)-(test|prod)";
        let user = |ns: &str| compiled_pattern_user(pattern, ns).unwrap();
        assert_eq!(user("user1-test").as_deref(), Some("user1"));
        assert_eq!(user("evil-user1-test"), None);
        assert_eq!(user("user1-test-x"), None);
    }

    proptest! {
        #[test]
        fn default_pattern_by_hand_equals_the_regex(ns in "[a-z0-9A-Z_.-]{0,12}(-test|-prod|-toolings|test|)") {
            prop_assert_eq!(default_pattern_user(&ns).map(str::to_owned), by_regex(&ns));
        }
    }
}
