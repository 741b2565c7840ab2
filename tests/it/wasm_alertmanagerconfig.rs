//! AlertmanagerConfig review, in both API versions, driven through the release .wasm.

use crate::common::*;
use serde_json::{json, Value};

fn settings_with(extra: Value) -> Value {
    let mut s = workshop_settings();
    for (k, v) in extra.as_object().unwrap() {
        s[k] = v.clone();
    }
    s
}

fn with_url(name: &str, url: Value) -> Value {
    let mut r = request(name);
    r["object"]["spec"]["receivers"][0]["webhookConfigs"][0]["url"] = url;
    r
}

#[test]
fn seed_gets_the_tenants_listener_and_storm_protection() {
    let req = request("seed-alertmanagerconfig");
    let r = validate(&req, &workshop_settings());
    assert!(r.allowed, "{:?}", r.status);
    assert_eq!(
        patch_ops(&r),
        json!([
            {"op": "add", "path": "/spec/receivers/0/webhookConfigs/0/httpConfig", "value": {"followRedirects": false}},
            {"op": "add", "path": "/spec/receivers/0/webhookConfigs/0/sendResolved", "value": false},
            {"op": "replace", "path": "/spec/receivers/0/webhookConfigs/0/url", "value": LISTENER},
            {"op": "add", "path": "/spec/route/repeatInterval", "value": "12h"},
        ])
    );
    let mutated = r.mutated_object.as_ref().unwrap();
    assert_eq!(
        select(mutated, "$.spec.receivers[0].webhookConfigs[0].url"),
        LISTENER
    );
    assert_eq!(r.warnings.len(), 4, "{:?}", r.warnings);
    assert!(
        r.warnings[0].starts_with(
            "[webhook/redirects] spec.receivers[0].webhookConfigs[0].httpConfig.followRedirects: set to false"
        ),
        "{:?}",
        r.warnings
    );
    assert!(
        r.warnings[1].contains("still holds placeholders"),
        "{:?}",
        r.warnings
    );
    assert_idempotent(&req, &workshop_settings(), &r);
}

#[test]
fn correct_objects_in_both_versions_pass_untouched() {
    for name in [
        "alertmanagerconfig-v1alpha1-correct",
        "alertmanagerconfig-v1beta1-correct",
    ] {
        let r = validate(&request(name), &workshop_settings());
        assert!(r.allowed && r.patch.is_none(), "{name}: {:?}", r.status);
        assert!(r.warnings.is_empty(), "{name}: {:?}", r.warnings);
    }
}

#[test]
fn same_listener_written_differently_is_left_alone() {
    let req = with_url(
        "alertmanagerconfig-v1beta1-correct",
        json!("https://EL-CT-LISTENER-user1-toolings.apps.cluster-abc.example.com:443"),
    );
    let r = validate(&req, &workshop_settings());
    assert!(r.allowed && r.patch.is_none(), "{:?}", patch_ops(&r));
}

#[test]
fn another_tenants_listener_is_rewritten_or_rejected() {
    for version in ["v1alpha1", "v1beta1"] {
        let mut req = request("alertmanagerconfig-other-user");
        req["kind"]["version"] = json!(version);
        req["object"]["apiVersion"] = json!(format!("monitoring.coreos.com/{version}"));
        let r = validate(&req, &workshop_settings());
        assert!(r.allowed);
        assert_eq!(
            select(
                r.mutated_object.as_ref().unwrap(),
                "$.spec.receivers[0].webhookConfigs[0].url"
            ),
            LISTENER
        );
        assert!(
            r.warnings
                .iter()
                .any(|w| w.contains("another tenant's EventListener")),
            "{:?}",
            r.warnings
        );
        assert_idempotent(&req, &workshop_settings(), &r);

        let r = validate(&req, &settings_with(json!({"onForeignListener": "reject"})));
        assert!(!r.allowed);
        let m = message(&r);
        assert!(
            m.contains("receiver \"default\" (spec.receivers[0].webhookConfigs[0].url)"),
            "{m}"
        );
        assert!(m.contains("user2"), "{m}");
    }
}

#[test]
fn missing_url_is_set_or_rejected() {
    let mut req = request("seed-alertmanagerconfig");
    req["object"]["spec"]["receivers"][0]["webhookConfigs"][0] = json!({});
    let r = validate(&req, &workshop_settings());
    assert!(r.allowed);
    assert_eq!(
        select(
            r.mutated_object.as_ref().unwrap(),
            "$.spec.receivers[0].webhookConfigs[0].url"
        ),
        LISTENER
    );
    let r = validate(&req, &settings_with(json!({"onForeignListener": "reject"})));
    assert_rejected(&r, "no URL");
}

#[test]
fn other_destinations_are_rejected_unless_allowed() {
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://prometheus-operated.openshift-monitoring.svc:9090/",
        "https://hooks.example.com/alerts-evil",
        "https://hooks.example.com.evil.io/alerts",
    ] {
        let req = with_url("alertmanagerconfig-v1beta1-correct", json!(url));
        let r = validate(&req, &workshop_settings());
        assert_rejected(&r, "alerts may not be sent there");
        assert!(r.patch.is_none());
    }
    // Leaves the listener once resolved: refused for what it is written as.
    let req = with_url(
        "alertmanagerconfig-v1beta1-correct",
        json!("https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/../x/"),
    );
    let r = validate(&req, &workshop_settings());
    assert_rejected(
        &r,
        "has a '.' or '..' path segment, which URL parsers rewrite",
    );
    assert!(r.patch.is_none());
    let allowed =
        settings_with(json!({"allowedWebhookUrls": ["https://hooks.example.com/alerts"]}));
    let ok = with_url(
        "alertmanagerconfig-v1beta1-correct",
        json!("https://hooks.example.com/alerts/team-a"),
    );
    let r = validate(&ok, &allowed);
    assert!(r.allowed && r.patch.is_none(), "{:?}", r.status);
    let evil = with_url(
        "alertmanagerconfig-v1beta1-correct",
        json!("https://hooks.example.com/alerts-evil"),
    );
    let r = validate(&evil, &allowed);
    assert_rejected(&r, "allowedWebhookUrls");
}

#[test]
fn url_secret_needs_the_admin_to_allow_it() {
    let req = request("alertmanagerconfig-url-secret");
    let r = validate(&req, &workshop_settings());
    assert_rejected(&r, "(spec.receivers[0].webhookConfigs[0].urlSecret)");
    let r = validate(&req, &settings_with(json!({"allowUrlSecret": true})));
    assert!(r.allowed, "{:?}", r.status);
    // The secret supplies the URL: none is added.
    let mutated = r.mutated_object.unwrap_or_else(|| req["object"].clone());
    assert!(mutated["spec"]["receivers"][0]["webhookConfigs"][0]
        .get("url")
        .is_none());
}

/// urlSecret takes precedence over url, so a webhook with both may reach the listener
/// whatever its url says: beside one to the listener, two runs per notification.
#[test]
fn a_url_secret_counts_as_the_listener_whatever_its_url() {
    let mut req = request("alertmanagerconfig-url-secret");
    req["object"]["spec"]["receivers"][0]["webhookConfigs"] = json!([
        {"url": LISTENER, "sendResolved": false, "httpConfig": {"followRedirects": false}},
        {"urlSecret": {"name": "hook", "key": "url"}, "url": "https://hooks.example.com/alerts",
         "sendResolved": false, "httpConfig": {"followRedirects": false}},
    ]);
    let settings = settings_with(json!({
        "allowUrlSecret": true,
        "allowedWebhookUrls": ["https://hooks.example.com/alerts"],
    }));
    assert_rejected(
        &validate(&req, &settings),
        "sends to this tenant's EventListener 2 times (webhookConfigs[0, 1])",
    );
}

#[test]
fn proxies_and_other_integrations_are_refused() {
    let mut req = request("alertmanagerconfig-v1beta1-correct");
    req["object"]["spec"]["receivers"][0]["webhookConfigs"][0]["httpConfig"] =
        json!({"proxyURL": "http://evil.example.com:3128"});
    let r = validate(&req, &workshop_settings());
    assert_rejected(&r, "httpConfig.proxyURL");

    // Go's JSON decoding matches field names in any case: webhooks under another
    // spelling would go unreviewed.
    let mut req = request("alertmanagerconfig-v1beta1-correct");
    req["object"]["spec"]["receivers"][0]["webhookconfigs"] =
        json!([{"url": "https://evil.example.com/"}]);
    assert_rejected(
        &validate(&req, &workshop_settings()),
        "receiver \"default\" (spec.receivers[0].webhookconfigs)",
    );

    let req = request("alertmanagerconfig-slack");
    let r = validate(&req, &workshop_settings());
    assert_rejected(
        &r,
        "receiver \"team-slack\" (spec.receivers[1].slackConfigs)",
    );
    let r = validate(
        &req,
        &settings_with(json!({"allowedReceiverIntegrations": ["slackConfigs"]})),
    );
    assert!(r.allowed, "{:?}", r.status);
}

#[test]
fn storm_settings_can_be_turned_off_and_explicit_values_are_kept() {
    let req = request("seed-alertmanagerconfig");
    let r = validate(
        &req,
        &settings_with(json!({"sendResolved": null, "repeatInterval": ""})),
    );
    // Redirects are not a storm setting: they stay off whatever these say.
    assert_eq!(
        patch_ops(&r),
        json!([
            {"op": "add", "path": "/spec/receivers/0/webhookConfigs/0/httpConfig", "value": {"followRedirects": false}},
            {"op": "replace", "path": "/spec/receivers/0/webhookConfigs/0/url", "value": LISTENER},
        ])
    );
    let mut req = request("seed-alertmanagerconfig");
    req["object"]["spec"]["receivers"][0]["webhookConfigs"][0]["sendResolved"] = json!(true);
    req["object"]["spec"]["route"]["repeatInterval"] = json!("4h");
    let r = validate(&req, &workshop_settings());
    // Explicit values are kept: only the redirect guard and the placeholder URL change.
    assert_eq!(
        patch_ops(&r),
        json!([
            {"op": "add", "path": "/spec/receivers/0/webhookConfigs/0/httpConfig", "value": {"followRedirects": false}},
            {"op": "replace", "path": "/spec/receivers/0/webhookConfigs/0/url", "value": LISTENER},
        ])
    );
    req["object"]["spec"]["route"]["repeatInterval"] = json!("four hours");
    let r = validate(&req, &workshop_settings());
    assert_rejected(&r, "spec.route.repeatInterval");
}

#[test]
fn structure_problems_are_located() {
    let r = validate(
        &request("alertmanagerconfig-misindented"),
        &workshop_settings(),
    );
    assert_rejected(&r, "`receivers` belongs under `spec`");

    let r = validate(
        &request("alertmanagerconfig-undefined-nested-receiver"),
        &workshop_settings(),
    );
    assert!(!r.allowed);
    let m = message(&r);
    assert!(
        m.contains("spec.route.routes[1].receiver: \"retrain-now\""),
        "{m}"
    );
    assert!(
        m.contains("spec.route.routes[1].routes[0].receiver: \"gone\""),
        "{m}"
    );

    let mut dup = request("alertmanagerconfig-v1beta1-correct");
    let first = dup["object"]["spec"]["receivers"][0].clone();
    dup["object"]["spec"]["receivers"]
        .as_array_mut()
        .unwrap()
        .push(first);
    let r = validate(&dup, &workshop_settings());
    assert_rejected(&r, "receiver name \"default\" is repeated");

    let mut deep = request("alertmanagerconfig-v1beta1-correct");
    let mut route = json!({"receiver": "default"});
    // 40 levels: deeper than the policy's bound, within serde_json's 128-level JSON limit.
    for _ in 0..40 {
        route = json!({"receiver": "default", "routes": [route]});
    }
    deep["object"]["spec"]["route"]["routes"] = json!([route]);
    let r = validate(&deep, &workshop_settings());
    assert_rejected(&r, "deeper than 32");
}

#[test]
fn namespaces_outside_the_tenant_pattern_are_rejected_unless_exempt() {
    let req = request("alertmanagerconfig-not-a-tenant-namespace");
    let r = validate(&req, &workshop_settings());
    assert_rejected(&r, "does not match the tenant pattern");
    let r = validate(
        &req,
        &settings_with(json!({"exemptNamespaces": ["shared-monitoring"]})),
    );
    assert!(r.allowed && r.patch.is_none());
    // A custom pattern and template are honoured.
    let custom = settings_with(json!({
        "tenantPattern": "^team-(?P<user>[a-z]+)$",
        "webhookUrlTemplate": "http://el-{user}.{namespace}.svc.cluster.local:8080/",
    }));
    let mut req = request("seed-alertmanagerconfig");
    req["namespace"] = json!("team-blue");
    let r = validate(&req, &custom);
    assert_eq!(
        select(
            r.mutated_object.as_ref().unwrap(),
            "$.spec.receivers[0].webhookConfigs[0].url"
        ),
        "http://el-blue.team-blue.svc.cluster.local:8080/"
    );
}

#[test]
fn time_interval_references_are_checked_with_each_versions_field_name() {
    // v1alpha1 defines them under spec.muteTimeIntervals; v1beta1 under spec.timeIntervals.
    let mut alpha = request("alertmanagerconfig-v1alpha1-correct");
    alpha["object"]["spec"]["route"]["routes"] =
        json!([{"receiver": "default", "muteTimeIntervals": ["maintenance", "weekend"]}]);
    let r = validate(&alpha, &workshop_settings());
    assert!(!r.allowed);
    let m = message(&r);
    assert!(
        m.contains("spec.route.routes[0].muteTimeIntervals: names \"weekend\""),
        "{m}"
    );
    assert!(
        m.contains("in v1alpha1, time intervals are defined under spec.muteTimeIntervals"),
        "{m}"
    );
    assert!(!m.contains("\"maintenance\""), "{m}");

    // A v1beta1 object written with v1alpha1's field name defines nothing.
    let mut beta = request("alertmanagerconfig-v1beta1-correct");
    let intervals = beta["object"]["spec"]["timeIntervals"].take();
    beta["object"]["spec"]
        .as_object_mut()
        .unwrap()
        .remove("timeIntervals");
    beta["object"]["spec"]["muteTimeIntervals"] = intervals;
    let r = validate(&beta, &workshop_settings());
    assert!(!r.allowed);
    assert!(
        message(&r).contains("spec.route.activeTimeIntervals: names \"office\", which is not defined in spec.timeIntervals (in v1beta1"),
        "{}",
        message(&r)
    );
}

// Issue 16: the doors around the webhook, on the .wasm. Each row of the table
// that concerns an AlertmanagerConfig is one test here; the native unit tests in
// src/alertmanager_config.rs cover the variations.

fn correct() -> Value {
    request("alertmanagerconfig-v1beta1-correct")
}

fn hook() -> Value {
    json!({"url": LISTENER, "sendResolved": false, "httpConfig": {"followRedirects": false}})
}

/// Row 2: a listener answering 307 cannot send the alert on.
#[test]
fn webhooks_follow_no_redirects() {
    let mut req = correct();
    req["object"]["spec"]["receivers"][0]["webhookConfigs"][0]["httpConfig"] =
        json!({"followRedirects": true});
    assert_rejected(
        &validate(&req, &workshop_settings()),
        "receiver \"default\" (spec.receivers[0].webhookConfigs[0].httpConfig.followRedirects): true lets whoever answers a webhook send the alert on to any host",
    );
    // The token client follows redirects whatever followRedirects says.
    req["object"]["spec"]["receivers"][0]["webhookConfigs"][0]["httpConfig"] = json!({
        "followRedirects": false,
        "oauth2": {"tokenUrl": LISTENER, "clientId": {"secret": {"name": "c", "key": "id"}},
                   "clientSecret": {"name": "c", "key": "secret"}},
    });
    assert_rejected(
        &validate(&req, &workshop_settings()),
        "httpConfig.oauth2.tokenUrl): \"https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/\" is this tenant's own EventListener, which is no token endpoint",
    );
}

/// Row 4: 40 continuing sibling routes times 25 webhooks to the listener.
#[test]
fn one_alert_starts_at_most_one_run() {
    let mut req = correct();
    let routes: Vec<Value> = (0..40)
        .map(|i| json!({"receiver": "default", "continue": true,
                        "matchers": [{"name": format!("absent{i}"), "value": "", "matchType": "="}]}))
        .collect();
    req["object"]["spec"]["route"]["routes"] = Value::Array(routes);
    req["object"]["spec"]["receivers"][0]["webhookConfigs"] = json!(vec![hook(); 2]);
    let r = validate(&req, &workshop_settings());
    assert_rejected(&r, "receiver \"default\" (spec.receivers[0].webhookConfigs): sends to this tenant's EventListener 2 times");
    assert_rejected(&r, "spec.route: one alert can reach this tenant's EventListener 40 times, along spec.route.routes[0], spec.route.routes[1]");
    req["object"]["spec"]["receivers"][0]["webhookConfigs"] = json!(vec![hook(); 25]);
    assert_rejected(
        &validate(&req, &workshop_settings()),
        "lists 25 webhooks; the limit is 16 per receiver",
    );
}

/// Row 5: intervals at every depth, and the warning says "set" only when it set.
#[test]
fn intervals_hold_at_every_depth() {
    let mut req = correct();
    req["object"]["spec"]["route"]["routes"] =
        json!([{"groupInterval": "10ms", "repeatInterval": "10ms"}]);
    let r = validate(&req, &workshop_settings());
    assert_rejected(&r, "spec.route.routes[0].groupInterval: \"10ms\" is shorter than the minimum \"1m\" (minGroupInterval)");
    assert_rejected(&r, "spec.route.routes[0].repeatInterval: \"10ms\" is shorter than the minimum \"1h\" (minRepeatInterval)");

    let mut top = correct();
    top["object"]["spec"]["route"]["repeatInterval"] = json!("1ms");
    assert_rejected(
        &validate(&top, &workshop_settings()),
        "spec.route.repeatInterval: \"1ms\" is shorter",
    );
    top["object"]["spec"]["route"]["repeatInterval"] = json!("0");
    assert_rejected(
        &validate(&top, &workshop_settings()),
        "spec.route.repeatInterval: \"0\" is zero, which Alertmanager refuses",
    );

    let raise = settings_with(json!({"onShortInterval": "raise"}));
    let r = validate(&req, &raise);
    assert!(r.allowed, "{:?}", r.status);
    assert_eq!(
        patch_ops(&r),
        json!([
            {"op": "replace", "path": "/spec/route/routes/0/groupInterval", "value": "1m"},
            {"op": "replace", "path": "/spec/route/routes/0/repeatInterval", "value": "1h"},
        ])
    );
    assert!(
        r.warnings
            .iter()
            .all(|w| w.contains("raised from \"10ms\"")),
        "{:?}",
        r.warnings
    );
}

/// Row 11: settings that would undo the policy are refused, naming the setting.
#[test]
fn settings_cannot_undo_the_policy() {
    let i = instance();
    for (extra, expected) in [
        (json!({"repeatInterval": "0"}), "repeatInterval: \"0\" is zero"),
        (json!({"repeatInterval": "1ms"}), "repeatInterval: \"1ms\" is shorter than minRepeatInterval \"1h\""),
        (json!({"minRepeatInterval": "0"}), "minRepeatInterval: \"0\" is zero"),
        (json!({"minGroupInterval": "soon"}), "minGroupInterval: \"soon\" is not a Prometheus duration"),
        (json!({"allowedWebhookUrls": ["https://user:pw@hooks.example.com/"]}), "allowedWebhookUrls[0]: \"https://user:pw@hooks.example.com/\" carries credentials"),
        (json!({"allowedWebhookUrls": ["https://hooks.example.com/a?x=1"]}), "allowedWebhookUrls[0]: \"https://hooks.example.com/a?x=1\" has a ?query or #fragment"),
        (json!({"allowedWebhookUrls": ["https://hooks.example.com/#f"]}), "has a ?query or #fragment"),
        (json!({"allowedWebhookUrls": ["http://169.254.169.254/"]}), "allowedWebhookUrls[0]: \"http://169.254.169.254/\" is a loopback, link-local or metadata address"),
        (json!({"allowedWebhookUrls": ["https://[fe80::1]/"]}), "link-local"),
        (json!({"allowedWebhookUrls": ["https://metadata.google.internal/"]}), "cloud metadata"),
        (json!({"allowedWebhookUrls": ["http://hooks.example.com/"]}), "is plain http:// outside the cluster"),
        (json!({"webhookUrlTemplate": "https://el.{clusterDomain}/#{user}"}), "webhookUrlTemplate: \"https://el.{clusterDomain}/#{user}\" has {user} outside the host and the path"),
        (json!({"webhookUrlTemplate": "https://el.{clusterDomain}/?u={user}"}), "outside the host and the path"),
    ] {
        let verdict = i.validate_settings(&settings_with(extra.clone())).unwrap();
        assert!(!verdict.valid, "{extra}");
        let message = verdict.message.unwrap_or_default();
        assert!(message.contains(expected), "{extra}: {message}");
    }
    for fine in [
        json!({"allowedWebhookUrls": ["http://el.team-a.svc.cluster.local:8080/hooks/"]}),
        json!({"allowedWebhookUrls": ["https://hooks.example.com/alerts/"]}),
        json!({"webhookUrlTemplate": "https://listeners.{clusterDomain}/{user}/"}),
        json!({"minRepeatInterval": "30m", "repeatInterval": "30m", "onShortInterval": "raise"}),
    ] {
        let verdict = i.validate_settings(&settings_with(fine.clone())).unwrap();
        assert!(verdict.valid, "{fine}: {:?}", verdict.message);
    }
}

/// Issue 17, row 11: URLs the WHATWG parser repairs but Go's net/url (Alertmanager's)
/// reads with an empty host or refuses are never kept as the tenant's listener.
#[test]
fn urls_go_reads_differently_are_never_kept() {
    for url in [
        "https:///el-ct-listener-user1-toolings.apps.cluster-abc.example.com/",
        "https:el-ct-listener-user1-toolings.apps.cluster-abc.example.com/",
        "https:/el-ct-listener-user1-toolings.apps.cluster-abc.example.com/",
        "https://el-ct-listener-user1-toolings.apps.cluster-abc.exa%6Dple.com/",
    ] {
        let req = with_url("alertmanagerconfig-v1beta1-correct", json!(url));
        let r = validate(&req, &workshop_settings());
        assert!(r.allowed, "{url}: {:?}", r.status);
        assert_eq!(
            patch_ops(&r),
            json!([{"op": "replace", "path": "/spec/receivers/0/webhookConfigs/0/url", "value": LISTENER}]),
            "{url}"
        );
        let r = validate(&req, &settings_with(json!({"onForeignListener": "reject"})));
        assert_rejected(&r, "which URL parsers rewrite");
    }
}
