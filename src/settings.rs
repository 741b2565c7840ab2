//! Policy settings: what a cluster admin writes under `spec.settings`.
//!
//! Every field is optional; `Default` gives the documented defaults, and `validate`
//! explains what to fix in terms of the setting's own name.

use std::borrow::Cow;
use std::collections::BTreeMap;

use kubewarden_policy_sdk::settings::{SettingsValidationResponse, Validatable};
use serde::{Deserialize, Serialize};

use crate::drift::{self, DriftMetric};

use crate::durations;
use crate::names::{
    check_label_name, check_metric_name, check_qualified_name, is_dns_1035_label, is_dns_label,
    is_dns_name,
};
use crate::promql::dialect::{Feature, Features};
use crate::promql::scope::OnConflict;
pub use crate::tenancy::{ListenerService, TenantFrom, DEFAULT_TENANT_PATTERN};
use crate::tenancy::{Tenancy, LISTENER_SERVICE_PLACEHOLDERS};
pub use crate::webhook_url::OnForeignListener;
use crate::webhook_url::{self, Destinations};

/// Label that carries a series' namespace, as the Prometheus Operator names it.
pub const DEFAULT_NAMESPACE_LABEL: &str = "namespace";
/// The workshop's Tekton EventListener route, one per user.
pub const DEFAULT_WEBHOOK_URL_TEMPLATE: &str =
    "https://el-ct-listener-{user}-toolings.{clusterDomain}/";
/// Long enough that a drift retraining does not clear does not start a run every 4h.
pub const DEFAULT_REPEAT_INTERVAL: &str = "12h";

/// Shortest `repeatInterval` on any route: one retraining run per drift episode, not one
/// per evaluation.
pub const DEFAULT_MIN_REPEAT_INTERVAL: &str = "1h";
/// Shortest `groupInterval` on any route.
pub const DEFAULT_MIN_GROUP_INTERVAL: &str = "1m";

pub const DEFAULT_FOR: &str = "10m";
pub const DEFAULT_MIN_FOR: &str = "1m";
/// Shortest rule group `interval` by default: faster than metrics are scraped buys no
/// news, only evaluation work on the Prometheus every tenant shares.
pub const DEFAULT_MIN_RULE_INTERVAL: &str = "10s";

/// What to do with a route's `repeatInterval` or `groupInterval` below the minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum OnShortInterval {
    /// Refuse the object, naming the route and the minimum.
    #[default]
    Reject,
    /// Raise it to the minimum, with a warning.
    Raise,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    /// Label every selector must match exactly to the object's namespace.
    pub namespace_label: String,
    /// What to do when a selector already matches the label some other way.
    pub on_conflict: OnConflict,
    /// Namespaces whose objects are accepted untouched (e.g. the cluster's own monitoring).
    pub exempt_namespaces: Vec<String>,

    /// Where an AlertmanagerConfig's tenant comes from: the namespace name (no cluster
    /// access) or an annotation or label on the Namespace object.
    pub tenant_from: TenantFrom,
    /// The annotation or label key for `namespaceAnnotation` / `namespaceLabel`.
    #[serde(deserialize_with = "empty_is_none")]
    pub tenant_key: Option<String>,
    /// Regular expression with a named group `user` that derives the tenant from the
    /// namespace of an AlertmanagerConfig (`tenantFrom: namespaceName`).
    pub tenant_pattern: String,
    /// When set, the tenant's EventListener Service must exist before a webhook is
    /// pointed at, or accepted for, the tenant's listener.
    pub listener_service: Option<ListenerService>,
    /// The tenant's EventListener URL, with `{user}`, `{clusterDomain}`, `{namespace}`.
    pub webhook_url_template: String,
    /// The cluster's apps domain (`apps.cluster-abc.example.com`). Required.
    pub cluster_domain: String,
    pub on_foreign_listener: OnForeignListener,
    /// Other destinations alerts may reach: URL prefixes (scheme, host, port exact; path
    /// as a prefix).
    pub allowed_webhook_urls: Vec<String>,
    /// `urlSecret` hides the destination from admission; refused unless this is true.
    pub allow_url_secret: bool,
    /// `tlsConfig.insecureSkipVerify` and `tlsConfig.serverName` in a webhook's
    /// `httpConfig` are refused unless this is true.
    pub allow_webhook_tls_overrides: bool,
    /// Receiver integrations other than `webhookConfigs` that tenants may use
    /// (e.g. `emailConfigs`); their destinations are not checked.
    pub allowed_receiver_integrations: Vec<String>,
    /// Set on webhooks that do not say; `null` leaves them alone.
    pub send_resolved: Option<bool>,
    /// Set on a top route that has none; `""` leaves it alone.
    #[serde(deserialize_with = "empty_is_none")]
    pub repeat_interval: Option<String>,
    /// Shortest `repeatInterval` accepted on any route, nested ones included.
    pub min_repeat_interval: String,
    /// Shortest `groupInterval` accepted on any route, nested ones included.
    pub min_group_interval: String,
    /// Refuse a shorter interval, or raise it to the minimum.
    pub on_short_interval: OnShortInterval,

    /// Catalog entries added to or overriding the built-in ones; `null` removes one.
    pub drift_metrics: BTreeMap<String, Option<DriftMetric>>,
    /// `for` set on alerting rules that have none; `""` leaves them alone.
    #[serde(deserialize_with = "empty_is_none")]
    pub default_for: Option<String>,
    /// Shortest `for` accepted on an alerting rule; `""` accepts any.
    #[serde(deserialize_with = "empty_is_none")]
    pub min_for: Option<String>,
    /// Labels added to alerting rules that lack them; existing values are kept.
    pub default_labels: BTreeMap<String, String>,

    /// Shortest rule group `interval` accepted (`0s`, Prometheus's own default, passes);
    /// `""` accepts any.
    #[serde(deserialize_with = "empty_is_none")]
    pub min_rule_interval: Option<String>,

    /// The `--enable-feature` flags the cluster's Prometheus runs with (PromQL ones, e.g.
    /// `promql-experimental-functions`): expressions are judged by Prometheus 2.42's
    /// grammar plus these.
    pub prometheus_features: Vec<String>,
}

/// `""` (or `null`) leaves a setting unset: the README's "`\"\"` disables".
fn empty_is_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let text: Option<String> = Option::deserialize(d)?;
    Ok(text.filter(|t| !t.is_empty()))
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            namespace_label: DEFAULT_NAMESPACE_LABEL.to_owned(),
            on_conflict: OnConflict::Reject,
            exempt_namespaces: Vec::new(),
            tenant_from: TenantFrom::NamespaceName,
            tenant_key: None,
            tenant_pattern: DEFAULT_TENANT_PATTERN.to_owned(),
            listener_service: None,
            webhook_url_template: DEFAULT_WEBHOOK_URL_TEMPLATE.to_owned(),
            cluster_domain: String::new(),
            on_foreign_listener: OnForeignListener::Rewrite,
            allowed_webhook_urls: Vec::new(),
            allow_url_secret: false,
            allow_webhook_tls_overrides: false,
            allowed_receiver_integrations: Vec::new(),
            send_resolved: Some(false),
            repeat_interval: Some(DEFAULT_REPEAT_INTERVAL.to_owned()),
            min_repeat_interval: DEFAULT_MIN_REPEAT_INTERVAL.to_owned(),
            min_group_interval: DEFAULT_MIN_GROUP_INTERVAL.to_owned(),
            on_short_interval: OnShortInterval::Reject,
            drift_metrics: BTreeMap::new(),
            default_for: Some(DEFAULT_FOR.to_owned()),
            min_for: Some(DEFAULT_MIN_FOR.to_owned()),
            default_labels: BTreeMap::from([("severity".to_owned(), "warning".to_owned())]),
            min_rule_interval: Some(DEFAULT_MIN_RULE_INTERVAL.to_owned()),
            prometheus_features: Vec::new(),
        }
    }
}

impl Settings {
    /// Where webhooks may go, as the URL decision reads it.
    pub fn destinations(&self) -> Destinations<'_> {
        Destinations {
            template: &self.webhook_url_template,
            allowed: &self.allowed_webhook_urls,
            on_foreign: self.on_foreign_listener,
        }
    }

    /// Whose a namespace is, as the tenancy rules read it.
    pub fn tenancy(&self) -> Tenancy<'_> {
        Tenancy {
            from: self.tenant_from,
            key: self.tenant_key.as_deref().unwrap_or_default(),
            pattern: &self.tenant_pattern,
        }
    }

    pub fn is_exempt(&self, namespace: &str) -> bool {
        self.exempt_namespaces.iter().any(|n| n == namespace)
    }

    /// `prometheusFeatures`, as the PromQL checks read them (validation refuses an
    /// unknown name first; one here counts as absent).
    pub fn prometheus_features(&self) -> Features {
        self.prometheus_features
            .iter()
            .filter_map(|name| Feature::from_name(name))
            .fold(Features::NONE, Features::with)
    }
}

impl drift::Catalog for Settings {
    fn lookup(&self, metric: &str) -> Option<Cow<'_, DriftMetric>> {
        match self.drift_metrics.get(metric) {
            Some(Some(entry)) => Some(Cow::Borrowed(entry)),
            Some(None) => None,
            None => drift::built_in(metric).map(Cow::Owned),
        }
    }
}

impl Validatable for Settings {
    /// One function per group of the README's settings table, in its order.
    fn validate(&self) -> Result<(), String> {
        let problems = [
            self.scoping_problems(),
            self.drift_problems(),
            self.tenancy_problems(),
            self.webhook_problems(),
            self.interval_problems(),
        ]
        .concat();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

impl Settings {
    /// Scoping: `namespaceLabel`, `onConflict`, `exemptNamespaces`, `prometheusFeatures`,
    /// `minRuleInterval`.
    fn scoping_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(Err(why)) = self
            .min_rule_interval
            .as_deref()
            .map(durations::parse_millis)
        {
            problems.push(format!("minRuleInterval: {why}, or \"\" to disable"));
        }
        if let Err(why) = check_label_name(&self.namespace_label) {
            problems.push(format!("namespaceLabel: {why}"));
        }
        for (i, ns) in self.exempt_namespaces.iter().enumerate() {
            if !is_dns_label(ns) {
                problems.push(format!(
                    "exemptNamespaces[{i}]: {ns:?} is not a namespace name \
                     (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)"
                ));
            }
        }
        for (i, name) in self.prometheus_features.iter().enumerate() {
            if let Err(why) = Features::from_names(std::slice::from_ref(name)) {
                problems.push(format!("prometheusFeatures[{i}]: {why}"));
            }
        }
        problems
    }

    /// Drift alerts: `driftMetrics`, `defaultFor`, `minFor`, `defaultLabels`.
    fn drift_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, entry) in &self.drift_metrics {
            if let Err(why) = check_metric_name(name) {
                problems.push(format!("driftMetrics: {why}"));
            }
            if let Some(Err(why)) = entry.as_ref().map(DriftMetric::check) {
                problems.push(format!("driftMetrics.{name}: {why}"));
            }
        }
        let mut durations = [
            ("defaultFor", &self.default_for, None),
            ("minFor", &self.min_for, None),
        ];
        for (field, text, millis) in durations.iter_mut() {
            if let Some(text) = text {
                match durations::parse_millis(text) {
                    Ok(ms) => *millis = Some(ms),
                    Err(why) => problems.push(format!("{field}: {why}, or \"\" to disable")),
                }
            }
        }
        if let [(_, _, Some(default_for)), (_, _, Some(min_for))] = durations {
            if default_for < min_for {
                problems.push(format!(
                    "defaultFor {:?} is shorter than minFor {:?}: rules given the default would be rejected",
                    self.default_for.as_deref().unwrap_or_default(),
                    self.min_for.as_deref().unwrap_or_default()
                ));
            }
        }
        for (name, value) in &self.default_labels {
            if let Err(why) = check_label_name(name) {
                problems.push(format!("defaultLabels: {why}"));
            } else if name == &self.namespace_label {
                problems.push(format!(
                    "defaultLabels: {name:?} is the namespace label, which the policy sets itself"
                ));
            } else if value.is_empty() {
                problems.push(format!("defaultLabels.{name}: the value is empty"));
            }
        }
        problems
    }

    /// Webhooks: `webhookUrlTemplate`, `clusterDomain`, `allowedWebhookUrls`,
    /// `allowedReceiverIntegrations` (the others are booleans and enums serde checks).
    fn webhook_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(why) = webhook_url::check_template(&self.webhook_url_template) {
            problems.push(format!("webhookUrlTemplate: {why}"));
        }
        if self.cluster_domain.is_empty() {
            problems.push(
                "clusterDomain is required: the cluster's apps domain, e.g. apps.cluster-abc.example.com"
                    .to_owned(),
            );
        } else if !is_dns_name(&self.cluster_domain) {
            problems.push(format!(
                "clusterDomain: {:?} is not a DNS name (lowercase labels of letters, digits and '-', joined by '.')",
                self.cluster_domain
            ));
        }
        for (i, prefix) in self.allowed_webhook_urls.iter().enumerate() {
            if let Err(why) = webhook_url::check_allowed_prefix(prefix) {
                problems.push(format!("allowedWebhookUrls[{i}]: {why}"));
            }
        }
        for (i, name) in self.allowed_receiver_integrations.iter().enumerate() {
            if name == "webhookConfigs" || !name.ends_with("Configs") {
                problems.push(format!(
                    "allowedReceiverIntegrations[{i}]: {name:?} is not another receiver integration field (e.g. \"emailConfigs\", \"slackConfigs\")"
                ));
            }
        }
        problems
    }

    /// Routes: `repeatInterval`, `minRepeatInterval`, `minGroupInterval`: the minimums are
    /// positive durations, and the interval the policy writes meets its own minimum (a
    /// setting must not write the storm the policy refuses).
    fn interval_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut positive = |field: &str, text: &str| match durations::parse_millis(text) {
            Ok(0) => {
                problems.push(format!(
                    "{field}: {text:?} is zero; Alertmanager refuses a zero interval (e.g. \"1h\")"
                ));
                None
            }
            Ok(ms) => Some(ms),
            Err(why) => {
                problems.push(format!("{field}: {why}"));
                None
            }
        };
        let min_repeat = positive("minRepeatInterval", &self.min_repeat_interval);
        positive("minGroupInterval", &self.min_group_interval);
        if let Some(repeat_interval) = &self.repeat_interval {
            if let (Some(repeat), Some(min)) =
                (positive("repeatInterval", repeat_interval), min_repeat)
            {
                if repeat < min {
                    problems.push(format!(
                        "repeatInterval: {:?} is shorter than minRepeatInterval {:?}; the policy would write what it refuses (e.g. \"12h\")",
                        repeat_interval, self.min_repeat_interval
                    ));
                }
            }
        }
        problems
    }

    /// Tenancy: `tenantFrom`, `tenantKey`, `tenantPattern` and `listenerService`.
    fn tenancy_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        match regex::Regex::new(&self.tenant_pattern) {
            Ok(re) if re.capture_names().any(|n| n == Some("user")) => {}
            Ok(_) => problems.push(format!(
                "tenantPattern: {:?} has no named group `user`, e.g. (?P<user>[a-z0-9-]+)",
                self.tenant_pattern
            )),
            Err(e) => problems.push(format!("tenantPattern: not a regular expression: {e}")),
        }
        match (self.tenant_from, &self.tenant_key) {
            (TenantFrom::NamespaceName, None) => {}
            (TenantFrom::NamespaceName, Some(key)) => problems.push(format!(
                "tenantKey {key:?} is only read with tenantFrom namespaceAnnotation or namespaceLabel; remove it or set tenantFrom"
            )),
            (from, None) => problems.push(format!(
                "tenantKey is required with tenantFrom {}: the Namespace {} that holds the tenant's user name, e.g. {}",
                serde_json::to_string(&from).unwrap_or_default(),
                from.key_kind(),
                if from == TenantFrom::NamespaceAnnotation {
                    "\"openshift.io/requester\""
                } else {
                    "\"tenant\""
                }
            )),
            (_, Some(key)) => {
                if let Err(why) = check_qualified_name(key) {
                    problems.push(format!("tenantKey: {why}"));
                }
            }
        }
        if let Some(service) = &self.listener_service {
            for (field, template, check) in [
                (
                    "namespace",
                    &service.namespace,
                    is_dns_label as fn(&str) -> bool,
                ),
                ("name", &service.name, is_dns_1035_label),
            ] {
                if let Err(why) = check_service_template(template, check) {
                    problems.push(format!("listenerService.{field}: {why}"));
                }
            }
        }
        problems
    }
}

/// A `listenerService` template: only `{user}` and `{namespace}`, and a Kubernetes name
/// once filled in for a sample tenant.
fn check_service_template(template: &str, check: fn(&str) -> bool) -> Result<(), String> {
    webhook_url::check_placeholders(template, &LISTENER_SERVICE_PLACEHOLDERS)?;
    let sample = template
        .replace("{user}", "user1")
        .replace("{namespace}", "user1-test");
    if check(&sample) {
        Ok(())
    } else {
        Err(format!(
            "{template:?} does not make a Kubernetes name (filled in: {sample:?}); lowercase letters, digits and '-', at most 63 characters"
        ))
    }
}

/// `validate_settings` as policy-server calls it. Unlike the SDK helper, a payload that
/// does not deserialize (a typo'd field, a wrong type) is answered as invalid settings
/// with serde's message, rather than as a host error.
pub fn validate_settings_payload(payload: &[u8]) -> SettingsValidationResponse {
    let outcome = serde_json::from_slice::<Settings>(payload)
        .map_err(|e| format!("settings do not parse: {e}"))
        .and_then(|s| s.validate());
    match outcome {
        Ok(()) => SettingsValidationResponse {
            valid: true,
            message: None,
        },
        Err(message) => SettingsValidationResponse {
            valid: false,
            message: Some(message),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Settings {
        serde_json::from_value(v).expect("settings parse")
    }

    #[test]
    fn empty_settings_are_the_documented_defaults() {
        let s = parse(json!({}));
        assert_eq!(s, Settings::default());
        assert_eq!(s.namespace_label, "namespace");
        assert_eq!(s.on_conflict, OnConflict::Reject);
        assert_eq!(s.on_foreign_listener, OnForeignListener::Rewrite);
        assert_eq!(s.send_resolved, Some(false));
        assert_eq!(s.repeat_interval.as_deref(), Some("12h"));
        assert!(!s.allow_url_secret);
        // Everything but the cluster domain has a default.
        assert!(s
            .validate()
            .unwrap_err()
            .starts_with("clusterDomain is required"));
        assert!(workshop().validate().is_ok());
    }

    /// Why `settings` (with a cluster domain, unless it names one) are refused: serde's
    /// message or `validate`'s.
    fn problem_with(settings: &serde_json::Value) -> String {
        let mut v = settings.clone();
        if v.get("clusterDomain").is_none() {
            v["clusterDomain"] = json!("a.io");
        }
        match serde_json::from_value::<Settings>(v) {
            Ok(s) => s.validate().expect_err("settings accepted"),
            Err(e) => e.to_string(),
        }
    }

    fn workshop() -> Settings {
        parse(json!({"clusterDomain": "apps.cluster-abc.example.com"}))
    }

    #[test]
    fn prometheus_features_are_flag_names() {
        assert!(workshop().prometheus_features.is_empty());
        assert_eq!(workshop().prometheus_features(), Features::NONE);
        let s = parse(json!({
            "clusterDomain": "a.io",
            "prometheusFeatures": ["promql-experimental-functions", "promql-duration-expr"],
        }));
        assert!(s.validate().is_ok());
        assert!(s.prometheus_features().has(Feature::ExperimentalFunctions));
        let err = problem_with(
            &json!({"prometheusFeatures": ["promql-experimental-functions", "exemplar-storage"]}),
        );
        assert!(
            err.starts_with("prometheusFeatures[1]: \"exemplar-storage\" is not a PromQL feature"),
            "{err}"
        );
        assert!(err.contains("promql-binop-fill-modifiers"), "{err}");
        assert!(
            problem_with(&json!({"prometheusFeatures": "promql-duration-expr"}))
                .contains("invalid type")
        );
    }

    #[test]
    fn a_minimum_admits_its_own_value() {
        // Equal is enough: the default is exactly the minimum.
        for settings in [
            json!({"clusterDomain": "a.io", "defaultFor": "5m", "minFor": "5m"}),
            json!({"clusterDomain": "a.io", "repeatInterval": "1h", "minRepeatInterval": "1h"}),
        ] {
            assert_eq!(parse(settings.clone()).validate(), Ok(()), "{settings}");
        }
        assert!(
            problem_with(&json!({"repeatInterval": "59m", "minRepeatInterval": "1h"}))
                .starts_with("repeatInterval: \"59m\" is shorter than minRepeatInterval")
        );
    }

    #[test]
    fn default_labels_may_not_set_the_namespace_label_whatever_it_is_called() {
        assert_eq!(
            problem_with(
                &json!({"namespaceLabel": "tenant_ns", "defaultLabels": {"tenant_ns": "x"}})
            ),
            "defaultLabels: \"tenant_ns\" is the namespace label, which the policy sets itself"
        );
        // Under another namespace label, `namespace` is a label like any other.
        let other = json!({"clusterDomain": "a.io", "namespaceLabel": "tenant_ns", "defaultLabels": {"namespace": "x"}});
        assert_eq!(parse(other).validate(), Ok(()));
    }

    #[test]
    fn a_default_label_value_must_not_be_empty_but_may_be_blank() {
        assert_eq!(
            problem_with(&json!({"defaultLabels": {"severity": ""}})),
            "defaultLabels.severity: the value is empty"
        );
        // Prometheus drops a label whose value is empty; a blank one is a value.
        let blank = json!({"clusterDomain": "a.io", "defaultLabels": {"severity": " "}});
        assert_eq!(parse(blank).validate(), Ok(()));
    }

    #[test]
    fn every_minimum_interval_must_be_positive() {
        for field in ["minGroupInterval", "minRepeatInterval"] {
            assert_eq!(
                problem_with(&json!({field: "0s"})),
                format!(
                    "{field}: \"0s\" is zero; Alertmanager refuses a zero interval (e.g. \"1h\")"
                )
            );
        }
    }

    /// Only `""` (or null) turns a duration setting off; a blank one is a mistake.
    #[test]
    fn a_blank_duration_setting_is_refused_not_turned_off() {
        for field in ["repeatInterval", "defaultFor", "minFor", "minRuleInterval"] {
            let problem = problem_with(&json!({field: " "}));
            assert!(
                problem.starts_with(&format!("{field}: \" \" is not a Prometheus duration")),
                "{problem}"
            );
            let off = parse(json!({"clusterDomain": "a.io", field: ""}));
            assert_eq!(off.validate(), Ok(()), "{field}");
        }
    }

    #[test]
    fn other_receiver_integrations_are_fields_ending_in_configs() {
        let settings =
            |name: &str| json!({"clusterDomain": "a.io", "allowedReceiverIntegrations": [name]});
        assert_eq!(parse(settings("emailConfigs")).validate(), Ok(()));
        for bad in ["webhookConfigs", "email", "Configsx"] {
            assert_eq!(
                problem_with(&settings(bad)),
                format!("allowedReceiverIntegrations[0]: {bad:?} is not another receiver integration field (e.g. \"emailConfigs\", \"slackConfigs\")"),
                "{bad}"
            );
        }
    }

    #[test]
    fn drift_settings_are_explained() {
        for (settings, expected) in [
            (
                json!({"driftMetrics": {"m": {"direction": "sideways"}}}),
                "unknown variant `sideways`",
            ),
            (
                json!({"driftMetrics": {"m": {"direction": "outside", "band": [1, -1]}}}),
                "driftMetrics.m: band [1, -1] must have lower < upper",
            ),
            (
                json!({"driftMetrics": {"m": {"direction": "below", "threshold": 5, "range": [0, 1]}}}),
                "threshold 5 must lie strictly inside the range [0, 1]",
            ),
            (
                json!({"driftMetrics": {"m": {"direction": "below"}}}),
                "needs a threshold",
            ),
            (json!({"minRuleInterval": "often"}), "minRuleInterval: "),
            (
                json!({"driftMetrics": {"bad-name": {"direction": "above", "threshold": 1}}}),
                "not a Prometheus metric name",
            ),
            (
                json!({"defaultFor": "ten minutes"}),
                "defaultFor: \"ten minutes\" is not a Prometheus duration",
            ),
            (
                json!({"minFor": "5m", "defaultFor": "1m"}),
                "defaultFor \"1m\" is shorter than minFor \"5m\"",
            ),
            (
                json!({"defaultLabels": {"namespace": "x"}}),
                "namespace label",
            ),
        ] {
            let err = problem_with(&settings);
            assert!(err.contains(expected), "{settings}: {err}");
        }
        let ok = parse(
            json!({"clusterDomain": "a.io", "defaultFor": "", "minFor": "", "driftMetrics": {"trustyai_spd": null, "my_drift_score": {"direction": "above", "threshold": 0.9, "range": [0, 1]}}}),
        );
        assert!(ok.validate().is_ok());
        use crate::drift::Catalog;
        assert!(ok.lookup("trustyai_spd").is_none());
        assert!(ok.lookup("trustyai_meanshift").is_some());
        assert!(ok.lookup("my_drift_score").is_some());
    }

    #[test]
    fn null_send_resolved_means_leave_it_alone() {
        let s = parse(json!({"clusterDomain": "apps.x.io", "sendResolved": null}));
        assert_eq!(s.send_resolved, None);
    }

    #[test]
    fn alertmanager_settings_are_explained() {
        for (settings, expected) in [
            (
                json!({"clusterDomain": "Apps.X"}),
                "clusterDomain: \"Apps.X\" is not a DNS name",
            ),
            (
                json!({"clusterDomain": "a.io", "tenantPattern": "^(.*)-test$"}),
                "tenantPattern: \"^(.*)-test$\" has no named group `user`",
            ),
            (
                json!({"clusterDomain": "a.io", "tenantPattern": "("}),
                "tenantPattern: not a regular expression",
            ),
            (
                json!({"clusterDomain": "a.io", "webhookUrlTemplate": "https://x/{usr}"}),
                "webhookUrlTemplate:",
            ),
            (
                json!({"clusterDomain": "a.io", "allowedWebhookUrls": ["hooks.example.com"]}),
                "allowedWebhookUrls[0]:",
            ),
            (
                json!({"clusterDomain": "a.io", "allowedReceiverIntegrations": ["webhookConfigs"]}),
                "allowedReceiverIntegrations[0]:",
            ),
            (
                json!({"clusterDomain": "a.io", "repeatInterval": "12 hours"}),
                "repeatInterval: \"12 hours\" is not a Prometheus duration",
            ),
        ] {
            let err = problem_with(&settings);
            assert!(err.contains(expected), "{settings}: {err}");
        }
        assert!(
            parse(json!({"clusterDomain": "a.io", "repeatInterval": ""}))
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn on_conflict_accepts_reject_and_overwrite() {
        assert_eq!(
            parse(json!({"onConflict": "overwrite"})).on_conflict,
            OnConflict::Overwrite
        );
        let r = validate_settings_payload(br#"{"onConflict": "ignore"}"#);
        assert!(!r.valid);
        assert!(r.message.unwrap().contains("unknown variant `ignore`"));
    }

    #[test]
    fn bad_namespace_label_is_explained() {
        let err = parse(json!({"namespaceLabel": "name-space"}))
            .validate()
            .unwrap_err();
        assert!(err.starts_with("namespaceLabel:"), "{err}");
        let err = parse(json!({"namespaceLabel": "__name__"}))
            .validate()
            .unwrap_err();
        assert!(err.contains("reserved"), "{err}");
        assert!(
            parse(json!({"namespaceLabel": "kubernetes_namespace", "clusterDomain": "a.io"}))
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn bad_exempt_namespace_is_located() {
        let err = parse(json!({"exemptNamespaces": ["openshift-monitoring", "Bad_NS"]}))
            .validate()
            .unwrap_err();
        assert!(err.contains("exemptNamespaces[1]"), "{err}");
    }

    #[test]
    fn unknown_field_is_invalid_settings_not_a_host_error() {
        let r = validate_settings_payload(br#"{"onconflict": "overwrite"}"#);
        assert!(!r.valid);
        assert!(r.message.unwrap().contains("unknown field `onconflict`"));
    }

    #[test]
    fn tenancy_settings_are_explained() {
        for (settings, expected) in [
            (
                json!({"tenantFrom": "namespaceAnnotation"}),
                "tenantKey is required with tenantFrom \"namespaceAnnotation\": the Namespace annotation",
            ),
            (
                json!({"tenantFrom": "namespaceLabel"}),
                "tenantKey is required with tenantFrom \"namespaceLabel\": the Namespace label",
            ),
            (
                json!({"tenantKey": "tenant"}),
                "tenantKey \"tenant\" is only read with tenantFrom namespaceAnnotation or namespaceLabel",
            ),
            (
                json!({"tenantFrom": "namespaceLabel", "tenantKey": "bad key"}),
                "tenantKey: \"bad key\" is not a Kubernetes annotation or label key",
            ),
            (
                json!({"tenantFrom": "namespaceLabel", "tenantKey": "/tenant"}),
                "tenantKey: \"/tenant\" is not",
            ),
            (
                json!({"listenerService": {"namespace": "{user}-toolings", "name": "el-{listener}"}}),
                "listenerService.name: \"el-{listener}\" uses {listener}; the placeholders are {user}, {namespace}",
            ),
            (
                json!({"listenerService": {"namespace": "{user}_toolings", "name": "el"}}),
                "listenerService.namespace: \"{user}_toolings\" does not make a Kubernetes name",
            ),
            (
                json!({"listenerService": {"namespace": "{user}-toolings", "name": "1-listener"}}),
                "listenerService.name: \"1-listener\" does not make a Kubernetes name",
            ),
        ] {
            let err = problem_with(&settings);
            assert!(err.contains(expected), "{settings}: {err}");
        }
        for rejected in [
            json!({"tenantFrom": "namespaceOwner"}),
            json!({"listenerService": {"namespace": "x"}}),
            json!({"listenerService": {"namespace": "x", "name": "y", "port": 8080}}),
        ] {
            assert!(
                serde_json::from_value::<Settings>(rejected.clone()).is_err(),
                "{rejected}"
            );
        }
        let openshift = parse(json!({
            "clusterDomain": "a.io",
            "tenantFrom": "namespaceAnnotation",
            "tenantKey": "openshift.io/requester",
            "listenerService": {"namespace": "{user}-toolings", "name": "el-ct-listener"},
        }));
        assert!(openshift.validate().is_ok());
        assert_eq!(
            openshift.listener_service.unwrap().fill("alice", "ml"),
            ("alice-toolings".to_owned(), "el-ct-listener".to_owned())
        );
        assert!(parse(
            json!({"clusterDomain": "a.io", "tenantFrom": "namespaceLabel", "tenantKey": "tenant"})
        )
        .validate()
        .is_ok());
    }

    #[test]
    fn an_empty_string_or_null_leaves_a_setting_unset() {
        for unset in [json!(""), json!(null)] {
            let s: Settings = serde_json::from_value(json!({
                "defaultFor": unset, "minFor": unset, "repeatInterval": unset, "tenantKey": unset,
            }))
            .unwrap();
            assert_eq!(
                (s.default_for, s.min_for, s.repeat_interval, s.tenant_key),
                (None, None, None, None),
                "{unset}"
            );
        }
        let s: Settings = serde_json::from_value(json!({})).unwrap();
        assert_eq!(s.default_for.as_deref(), Some("10m"));
        assert_eq!(s.min_for.as_deref(), Some("1m"));
        assert_eq!(s.tenant_key, None);
    }
}
