//! Properties of the AlertmanagerConfig review over generated receivers, through the
//! release .wasm: whatever mix of URLs (the tenant's, another tenant's, placeholders,
//! templates hidden behind `..`, dot segments, internal services) and `httpConfig`
//! (proxies at any depth, token URLs, TLS overrides) an object holds, an admitted object
//! sends alerts and token requests only to the tenant's listener or an allowed prefix,
//! through no proxy and with certificate checks on; and what the policy admits it admits
//! again unchanged.

mod common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use url::Url;

use std::sync::atomic::{AtomicUsize, Ordering};

/// Cases admitted (and so checked for where they send), and admitted with a patch.
static ADMITTED: AtomicUsize = AtomicUsize::new(0);
static PATCHED: AtomicUsize = AtomicUsize::new(0);

const ALLOWED: &str = "https://hooks.example.com/alerts/";
const OTHER: &str = "https://el-ct-listener-user2-toolings.apps.cluster-abc.example.com/";

/// URLs a tenant might write: ones the policy keeps or rewrites, ones it must refuse,
/// and the listener or an allowed prefix with an arbitrary tail.
fn url() -> impl Strategy<Value = Value> {
    let kept_or_rewritten = prop::sample::select(vec![
        json!(LISTENER),
        json!("https://EL-CT-LISTENER-user1-toolings.apps.cluster-abc.example.com:443"),
        json!(format!("{ALLOWED}drift")),
        json!(OTHER),
        json!("https://el-ct-listener-<USER_NAME>-toolings.<CLUSTER_DOMAIN>/"),
        json!(format!("{LISTENER}{{{{ .CommonLabels.x }}}}/..")),
        json!(format!("{LISTENER}x/..")),
        Value::Null,
    ]);
    let refused = prop::sample::select(vec![
        json!(format!("{ALLOWED}../admin")),
        json!(format!("{ALLOWED}%2e%2e/admin")),
        json!("https://hooks.example.com/alerts-evil"),
        json!("http://el-ct-listener.user2-toolings.svc.cluster.local:8080/"),
        json!("http://169.254.169.254/latest/meta-data/"),
    ]);
    let tailed = (
        prop::sample::select(vec![LISTENER, ALLOWED, OTHER]),
        "[a-z0-9./%{}<>_ @?#=-]{0,12}",
    )
        .prop_map(|(head, tail)| json!(format!("{head}{tail}")));
    prop_oneof![8 => kept_or_rewritten, 1 => refused, 1 => tailed]
}

fn http_config() -> impl Strategy<Value = Option<Value>> {
    let benign = prop_oneof![
        Just(json!({"authorization": {"credentials": {"name": "token", "key": "t"}}})),
        Just(json!({"followRedirects": true})),
        Just(json!({"tlsConfig": {"insecureSkipVerify": false}})),
        url().prop_map(|u| json!({"oauth2": {"clientId": {"secret": {"name": "o", "key": "id"}}, "tokenUrl": u}})),
    ];
    let risky = prop_oneof![
        Just(json!({"proxyUrl": "http://evil.example.net:3128"})),
        Just(json!({"oauth2": {"proxyURL": "http://evil.example.net:3128"}})),
        Just(json!({"noProxy": "*"})),
        Just(json!({"tlsConfig": {"insecureSkipVerify": true}})),
        Just(json!({"tlsConfig": {"serverName": "el-ct-listener-user2-toolings.apps.x"}})),
    ];
    let parts =
        prop::collection::vec(prop_oneof![4 => benign, 1 => risky], 1..3).prop_map(|parts| {
            let mut merged = serde_json::Map::new();
            for part in parts {
                merged.extend(part.as_object().unwrap().clone());
            }
            Some(Value::Object(merged))
        });
    prop_oneof![2 => Just(None), 1 => parts]
}

fn webhook() -> impl Strategy<Value = Value> {
    (url(), http_config(), prop::option::of(any::<bool>())).prop_map(|(url, http, resolved)| {
        let mut w = json!({});
        if !url.is_null() {
            w["url"] = url;
        }
        if let Some(http) = http {
            w["httpConfig"] = http;
        }
        if let Some(resolved) = resolved {
            w["sendResolved"] = json!(resolved);
        }
        w
    })
}

fn config() -> impl Strategy<Value = Value> {
    prop::collection::vec(prop::collection::vec(webhook(), 1..3), 1..3).prop_map(|receivers| {
        let receivers: Vec<Value> = receivers
            .into_iter()
            .enumerate()
            .map(|(i, hooks)| json!({"name": format!("r{i}"), "webhookConfigs": hooks}))
            .collect();
        let mut r = request("alertmanagerconfig-v1beta1-correct");
        r["object"]["spec"]["receivers"] = json!(receivers);
        r["object"]["spec"]["route"] = json!({"receiver": "r0", "repeatInterval": "1d"});
        r
    })
}

/// Where an admitted destination may point, judged as the policy's own rules say.
fn allowed_destination(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let plain = !url.split(['/', '?', '#']).any(|s| s == "." || s == "..")
        && !["%2e", "%2f", "%5c", "{{", " ", "\\"]
            .iter()
            .any(|bad| lower.contains(bad));
    let listener = Url::parse(url).ok() == Url::parse(LISTENER).ok();
    let under_prefix = url.starts_with(ALLOWED);
    plain && (listener || under_prefix)
}

/// Every `key: value` at any depth of `v`, with its path.
fn fields<'a>(v: &'a Value, path: String, out: &mut Vec<(String, &'a Value)>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = format!("{path}.{k}");
                out.push((p.clone(), child));
                fields(child, p, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                fields(child, format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn check(request: &Value, settings: &Value) -> Result<(), TestCaseError> {
    let r = validate(request, settings);
    if !r.allowed {
        if std::env::var_os("SHOW_REJECTIONS").is_some() {
            eprintln!("rejected: {}", message(&r));
        }
        prop_assert!(!message(&r).is_empty(), "a rejection without a message");
        return Ok(());
    }
    ADMITTED.fetch_add(1, Ordering::Relaxed);
    if r.patch.is_some() {
        PATCHED.fetch_add(1, Ordering::Relaxed);
    }
    let admitted = r
        .mutated_object
        .clone()
        .unwrap_or_else(|| request["object"].clone());
    let mut all = Vec::new();
    fields(&admitted["spec"]["receivers"], String::new(), &mut all);
    for (path, value) in all {
        let key = path.rsplit('.').next().unwrap_or_default();
        let lower = key.to_ascii_lowercase();
        prop_assert!(
            !lower.starts_with("proxy") && lower != "noproxy",
            "{path} admitted"
        );
        if (key == "url" || key == "tokenUrl") && !value.is_null() {
            let url = value.as_str().unwrap_or_default();
            prop_assert!(allowed_destination(url), "{path} = {url:?} admitted");
        }
        if key == "insecureSkipVerify" {
            prop_assert_eq!(value, &json!(false), "{} admitted", path);
        }
        prop_assert!(key != "serverName", "{path} admitted");
    }
    // Every webhook has a destination after admission.
    for receiver in admitted["spec"]["receivers"].as_array().unwrap() {
        for hook in receiver["webhookConfigs"].as_array().unwrap() {
            prop_assert!(
                hook["url"].is_string(),
                "a webhook left without url: {hook}"
            );
        }
    }
    if let Some(mutated) = &r.mutated_object {
        let again = validate(&with_object(request, mutated.clone()), settings);
        prop_assert!(again.allowed, "its own output rejected: {:?}", again.status);
        prop_assert!(
            again.patch.is_none(),
            "changed again: {}",
            patch_ops(&again)
        );
    }
    Ok(())
}

#[test]
fn admitted_objects_reach_only_the_tenants_listener_or_allowed_prefixes() {
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (config(), prop::sample::select(vec!["rewrite", "reject"]));
    runner
        .run(&strategy, |(request, on_foreign)| {
            let mut settings = workshop_settings();
            settings["allowedWebhookUrls"] = json!([ALLOWED]);
            settings["onForeignListener"] = json!(on_foreign);
            check(&request, &settings)
        })
        .unwrap();
    // The property is not vacuous: a fair share of the cases is admitted, many of them
    // only after the policy rewrote something.
    let (admitted, patched) = (
        ADMITTED.load(Ordering::Relaxed),
        PATCHED.load(Ordering::Relaxed),
    );
    eprintln!("admitted {admitted} of 300 cases, {patched} of them patched");
    assert!(
        admitted >= 30 && patched >= 10,
        "admitted {admitted}, patched {patched}"
    );
}
