//! Properties of the AlertmanagerConfig review over generated objects, through the
//! release .wasm: whatever mix of URLs (the tenant's, another tenant's, placeholders,
//! templates hidden behind `..`, dot segments, internal services, `null`), `httpConfig`
//! (`null`, proxies at any depth, token URLs, TLS overrides, `followRedirects` of every
//! kind), `sendResolved` (`null`, booleans, nonsense), route intervals at every depth,
//! namespaces (the tenant's, its other stage, another tenant's, near misses) and
//! exemptions (exact, by prefix) an object holds:
//!
//! - an admitted object sends alerts and token requests only to the tenant's listener or
//!   an allowed prefix, through no proxy and with certificate checks on;
//! - it is storm-protected: every webhook `sendResolved: false` (or the boolean the tenant
//!   wrote), `httpConfig.followRedirects: false`, a top `repeatInterval`, and every
//!   `repeatInterval` set at any route depth at least 1h;
//! - what the generator made bad is refused, and the refusal names that field; any
//!   refusal names a field the generator made bad or doubtful;
//! - an exempt namespace's object is admitted untouched, and only an exact name exempts;
//! - what the policy admits it admits again unchanged.
//!
//! Failures are persisted in `tests/it/proptest_webhooks.proptest-regressions` and replayed
//! first on every run.

use crate::common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use serde_json::{json, Value};
use url::Url;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

static ADMITTED: AtomicUsize = AtomicUsize::new(0);
static PATCHED: AtomicUsize = AtomicUsize::new(0);
static REFUSED_AS_EXPECTED: AtomicUsize = AtomicUsize::new(0);
static EXEMPT: AtomicUsize = AtomicUsize::new(0);

const ALLOWED: &str = "https://hooks.example.com/alerts/";
const OTHER: &str = "https://el-ct-listener-user2-toolings.apps.cluster-abc.example.com/";
const CASES: u32 = 300;

fn listener_of(user: &str) -> String {
    format!("https://el-ct-listener-{user}-toolings.apps.cluster-abc.example.com/")
}

/// A webhook field: absent, `null`, or a value.
#[derive(Debug, Clone)]
enum Field {
    Absent,
    Null,
    Set(Value),
}

fn field(value: impl Strategy<Value = Value>) -> impl Strategy<Value = Field> {
    prop_oneof![
        1 => Just(Field::Absent),
        1 => Just(Field::Null),
        4 => value.prop_map(Field::Set),
    ]
}

fn put(object: &mut Value, key: &str, f: Field) {
    match f {
        Field::Absent => {}
        Field::Null => object[key] = Value::Null,
        Field::Set(v) => object[key] = v,
    }
}

/// The URLs a tenant might write, by what they are (the tails are judged by the
/// destination check only).
fn listener_forms() -> Vec<String> {
    vec![
        LISTENER.to_owned(),
        "https://EL-CT-LISTENER-user1-toolings.apps.cluster-abc.example.com:443".to_owned(),
    ]
}
fn foreign_forms() -> Vec<String> {
    vec![
        OTHER.to_owned(),
        "https://el-ct-listener-<USER_NAME>-toolings.<CLUSTER_DOMAIN>/".to_owned(),
        format!("{LISTENER}{{{{ .CommonLabels.x }}}}/.."),
    ]
}
/// user1's listener with a dot segment: user1's own listener written oddly (foreign:
/// rewritten or refused), refused outright from any other tenant.
fn dotted_listener() -> String {
    format!("{LISTENER}x/..")
}
fn refused_forms() -> Vec<String> {
    vec![
        format!("{ALLOWED}../admin"),
        format!("{ALLOWED}%2e%2e/admin"),
        "https://hooks.example.com/alerts-evil".to_owned(),
        "http://el-ct-listener.user2-toolings.svc.cluster.local:8080/".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
    ]
}

fn url_value() -> impl Strategy<Value = Value> {
    let mut known = listener_forms();
    known.extend(foreign_forms());
    known.push(dotted_listener());
    known.push(format!("{ALLOWED}drift"));
    let known = prop::sample::select(known).prop_map(|u| json!(u));
    let refused = prop::sample::select(refused_forms()).prop_map(|u| json!(u));
    let tailed = (
        prop::sample::select(vec![LISTENER, ALLOWED, OTHER]),
        "[a-z0-9./%{}<>_ @?#=-]{0,12}",
    )
        .prop_map(|(head, tail)| json!(format!("{head}{tail}")));
    prop_oneof![8 => known, 1 => refused, 1 => tailed]
}

/// `followRedirects`: absent, null, either boolean, or not a boolean.
fn follow_redirects() -> impl Strategy<Value = Field> {
    field(prop_oneof![
        12 => Just(json!(false)),
        1 => Just(json!(true)),
        1 => Just(json!("no")),
    ])
}

fn http_config() -> impl Strategy<Value = Field> {
    let part = prop_oneof![
        4 => Just(json!({"authorization": {"credentials": {"name": "token", "key": "t"}}})),
        4 => Just(json!({"tlsConfig": {"insecureSkipVerify": false}})),
        2 => Just(json!({"tlsConfig": {"serverName": ""}})),
        4 => prop_oneof![Just(Value::Null), url_value()].prop_map(
            |u| json!({"oauth2": {"clientId": {"secret": {"name": "o", "key": "id"}}, "tokenUrl": u}})
        ),
        1 => Just(json!({"proxyUrl": "http://evil.example.net:3128"})),
        1 => Just(json!({"oauth2": {"proxyURL": "http://evil.example.net:3128"}})),
        1 => Just(json!({"noProxy": "*"})),
        1 => Just(json!({"tlsConfig": {"insecureSkipVerify": true}})),
        1 => Just(json!({"tlsConfig": {"serverName": "el-ct-listener-user2-toolings.apps.x"}})),
    ];
    let object =
        (prop::collection::vec(part, 0..3), follow_redirects()).prop_map(|(parts, follow)| {
            let mut merged = json!({});
            for part in parts {
                merged
                    .as_object_mut()
                    .unwrap()
                    .extend(part.as_object().unwrap().clone());
            }
            put(&mut merged, "followRedirects", follow);
            merged
        });
    field(object)
}

fn send_resolved() -> impl Strategy<Value = Field> {
    field(prop_oneof![
        12 => any::<bool>().prop_map(|b| json!(b)),
        1 => Just(json!("false")),
    ])
}

fn webhook() -> impl Strategy<Value = Value> {
    (field(url_value()), http_config(), send_resolved()).prop_map(|(url, http, resolved)| {
        let mut w = json!({});
        put(&mut w, "url", url);
        put(&mut w, "httpConfig", http);
        put(&mut w, "sendResolved", resolved);
        w
    })
}

/// A `repeatInterval`: long enough, too short, or `null`/absent.
fn repeat_interval() -> impl Strategy<Value = Field> {
    // Long enough (at least 1h) mostly; under 1h now and then.
    let long = prop::sample::select(vec!["1d", "12h", "1h", "90m", "2h30m"]);
    let short = prop::sample::select(vec!["59m", "30m", "1m"]);
    field(prop_oneof![12 => long, 1 => short].prop_map(|d| json!(d)))
}

fn route() -> impl Strategy<Value = Value> {
    let child = || {
        repeat_interval().prop_map(|interval| {
        let mut c = json!({"receiver": "r0", "matchers": [{"name": "severity", "value": "critical", "matchType": "="}]});
        put(&mut c, "repeatInterval", interval);
        c
    })
    };
    let grandchildren = prop::collection::vec(child(), 0..2);
    (
        repeat_interval(),
        prop::collection::vec((child(), grandchildren), 0..3),
    )
        .prop_map(|(top_interval, children)| {
            let mut top = json!({"receiver": "r0"});
            put(&mut top, "repeatInterval", top_interval);
            if !children.is_empty() {
                top["routes"] = children
                    .into_iter()
                    .enumerate()
                    .map(|(i, (mut c, grand))| {
                        // Different values on one label: no two siblings match one alert.
                        c["matchers"][0]["value"] = json!(format!("s{i}"));
                        if !grand.is_empty() {
                            c["routes"] = json!(grand);
                        }
                        c
                    })
                    .collect();
            }
            top
        })
}

/// The namespace: the tenant's, its other stage, another tenant, and near misses of
/// `user1-test` that name no tenant.
fn namespace() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        12 => Just("user1-test"),
        2 => Just("user1-prod"),
        2 => Just("user10-test"),
        1 => Just("user1-testing"),
        1 => Just("user1-tes"),
        1 => Just("USER1-TEST"),
    ]
}

/// `exemptNamespaces`: none, a prefix, a near miss, or exactly the namespace.
fn exemption() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        8 => Just(None),
        2 => Just(Some("user1")),
        1 => Just(Some("user1-tes")),
        1 => Just(Some("user1-test")),
    ]
}

fn config() -> impl Strategy<Value = Value> {
    (
        // Mostly one webhook a receiver; two (fan-out, when both reach the listener) now
        // and then.
        prop::collection::vec(
            prop_oneof![
                6 => prop::collection::vec(webhook(), 1..2),
                1 => prop::collection::vec(webhook(), 2..3),
            ],
            1..3,
        ),
        route(),
        namespace(),
    )
        .prop_map(|(receivers, route, namespace)| {
            let receivers: Vec<Value> = receivers
                .into_iter()
                .enumerate()
                .map(|(i, hooks)| json!({"name": format!("r{i}"), "webhookConfigs": hooks}))
                .collect();
            let mut r = request("alertmanagerconfig-v1beta1-correct");
            r["namespace"] = json!(namespace);
            r["object"]["metadata"]["namespace"] = json!(namespace);
            r["object"]["spec"]["receivers"] = json!(receivers);
            r["object"]["spec"]["route"] = route;
            r
        })
}

/// What the generator made of an object, judged independently of the policy: the fields
/// the policy must refuse (each must be named), and those it may refuse.
#[derive(Debug, Default)]
struct Judgement {
    /// `namespace "<ns>"` when the namespace names no tenant: refused for that alone.
    namespace: Option<String>,
    bad: Vec<String>,
    doubtful: Vec<String>,
}

/// The tenant of a namespace, by the default tenant pattern.
fn tenant(namespace: &str) -> Option<&str> {
    let user = namespace
        .strip_suffix("-test")
        .or_else(|| namespace.strip_suffix("-prod"))?;
    let dns = !user.is_empty()
        && user
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !user.starts_with('-')
        && !user.ends_with('-');
    dns.then_some(user)
}

/// `1d`, `90m`, `1h30m`: the duration in seconds (the units this generator writes).
fn seconds(duration: &str) -> u64 {
    let (mut total, mut number) = (0, 0);
    for c in duration.chars() {
        match c {
            '0'..='9' => number = number * 10 + u64::from(c.to_digit(10).unwrap()),
            unit => {
                let scale = match unit {
                    's' => 1,
                    'm' => 60,
                    'h' => 3600,
                    'd' => 86400,
                    'w' => 7 * 86400,
                    'y' => 365 * 86400,
                    _ => panic!("unit {unit:?} in {duration:?}"),
                };
                total += number * scale;
                number = 0;
            }
        }
    }
    total
}

fn judge(request: &Value, on_foreign: &str) -> Judgement {
    let mut j = Judgement::default();
    let namespace = request["namespace"].as_str().unwrap();
    let Some(user) = tenant(namespace) else {
        j.namespace = Some(format!("namespace {namespace:?}"));
        return j;
    };
    let own = listener_of(user);
    let spec = &request["object"]["spec"];
    // How a URL written as `value` fares as a webhook `url`.
    enum Verdict {
        Kept,
        Foreign,
        Refused,
        Unknown,
    }
    let judge_url = |value: &Value| -> Verdict {
        let Some(url) = value.as_str() else {
            return Verdict::Foreign; // null: no URL
        };
        // URL parsers drop surrounding blanks and control characters, so such a URL
        // parses as the listener's but is not written as it: it is moved (or refused).
        let plain = !url.chars().any(|c| c.is_whitespace() || c.is_control());
        let own_listener =
            plain && Url::parse(url).ok() == Url::parse(&own).ok() && !url.contains("..");
        if own_listener || url == format!("{ALLOWED}drift") {
            Verdict::Kept
        } else if listener_forms().iter().any(|l| l == url)
            || foreign_forms().iter().any(|f| f == url)
        {
            Verdict::Foreign
        } else if url == dotted_listener() {
            if user == "user1" {
                Verdict::Foreign
            } else {
                Verdict::Refused
            }
        } else if refused_forms().iter().any(|r| r == url) {
            Verdict::Refused
        } else {
            Verdict::Unknown
        }
    };
    for (r, receiver) in spec["receivers"].as_array().unwrap().iter().enumerate() {
        let hooks = receiver["webhookConfigs"].as_array().unwrap();
        if hooks.len() > 1 {
            // More than one webhook reaching the listener is fan-out.
            j.doubtful
                .push(format!("spec.receivers[{r}].webhookConfigs)"));
        }
        for (w, hook) in hooks.iter().enumerate() {
            let at = format!("spec.receivers[{r}].webhookConfigs[{w}]");
            let url = hook.get("url").unwrap_or(&Value::Null);
            match judge_url(url) {
                Verdict::Kept => {}
                Verdict::Foreign if on_foreign == "rewrite" => {}
                Verdict::Foreign | Verdict::Refused => j.bad.push(format!("{at}.url")),
                Verdict::Unknown => j.doubtful.push(format!("{at}.url")),
            }
            match hook.get("sendResolved") {
                None | Some(Value::Null) | Some(Value::Bool(_)) => {}
                Some(_) => j.bad.push(format!("{at}.sendResolved")),
            }
            let http = hook.get("httpConfig").unwrap_or(&Value::Null);
            match http.get("followRedirects") {
                None | Some(Value::Null) | Some(Value::Bool(false)) => {}
                Some(_) => j.bad.push(format!("{at}.httpConfig.followRedirects")),
            }
            for key in ["proxyUrl", "noProxy"] {
                if http.get(key).is_some() {
                    j.bad.push(format!("{at}.httpConfig.{key}"));
                }
            }
            if http["oauth2"].get("proxyURL").is_some() {
                j.bad.push(format!("{at}.httpConfig.oauth2.proxyURL"));
            }
            // Alertmanager's client takes one way to authenticate ("at most one of
            // basic_auth, oauth2, bearer_token ..."): the second one named is refused.
            let ways: Vec<&str> = ["basicAuth", "bearerTokenSecret", "authorization", "oauth2"]
                .into_iter()
                .filter(|way| !http[*way].is_null())
                .collect();
            if let [_, second, ..] = ways[..] {
                j.bad.push(format!("{at}.httpConfig.{second}"));
            }
            if let Some(token) = http["oauth2"].get("tokenUrl") {
                let field = format!("{at}.httpConfig.oauth2.tokenUrl");
                match (token, judge_url(token)) {
                    // A null token URL is no request; only the allowed prefix is a
                    // token endpoint (never the listener).
                    (Value::Null, _) => {}
                    (t, Verdict::Kept) if t.as_str() == Some(&format!("{ALLOWED}drift")) => {}
                    (_, Verdict::Unknown) => j.doubtful.push(field),
                    _ => j.bad.push(field),
                }
            }
            if http["tlsConfig"]["insecureSkipVerify"] == true {
                j.bad
                    .push(format!("{at}.httpConfig.tlsConfig.insecureSkipVerify"));
            }
            if http["tlsConfig"]["serverName"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
            {
                j.bad.push(format!("{at}.httpConfig.tlsConfig.serverName"));
            }
        }
    }
    // repeatInterval under 1h at any depth.
    fn routes(route: &Value, path: String, j: &mut Judgement) {
        if let Some(d) = route["repeatInterval"].as_str() {
            if seconds(d) < 3600 {
                j.bad.push(format!("{path}.repeatInterval"));
            }
        }
        for (i, child) in route["routes"].as_array().into_iter().flatten().enumerate() {
            routes(child, format!("{path}.routes[{i}]"), j);
        }
    }
    routes(&spec["route"], "spec.route".to_owned(), &mut j);
    j
}

/// Where an admitted destination may point: the tenant's own listener, or under the
/// allowed prefix, written plainly.
fn allowed_destination(url: &str, own: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let plain = !url.split(['/', '?', '#']).any(|s| s == "." || s == "..")
        && !["%2e", "%2f", "%5c", "{{", " ", "\\"]
            .iter()
            .any(|bad| lower.contains(bad));
    let listener = Url::parse(url).ok() == Url::parse(own).ok();
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

/// Storm protection of an admitted object: every webhook's `sendResolved` is `false`
/// unless the tenant wrote a boolean (kept as written), `followRedirects: false`, a top
/// `repeatInterval`, and every `repeatInterval` at any depth at least 1h.
fn check_storm_protection(original: &Value, admitted: &Value) -> Result<(), TestCaseError> {
    let receivers = admitted["spec"]["receivers"].as_array().unwrap();
    for (r, receiver) in receivers.iter().enumerate() {
        for (w, hook) in receiver["webhookConfigs"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            let written = &original["spec"]["receivers"][r]["webhookConfigs"][w]["sendResolved"];
            let expected = if written.is_boolean() {
                written.clone()
            } else {
                json!(false)
            };
            prop_assert_eq!(
                &hook["sendResolved"],
                &expected,
                "receivers[{}] hook {}",
                r,
                hook
            );
            prop_assert_eq!(
                &hook["httpConfig"]["followRedirects"],
                &json!(false),
                "receivers[{}] hook {}",
                r,
                hook
            );
        }
    }
    let top = &admitted["spec"]["route"];
    prop_assert!(top["repeatInterval"].is_string(), "top route {}", top);
    let mut intervals = Vec::new();
    let mut stack = vec![top];
    while let Some(route) = stack.pop() {
        if let Some(d) = route["repeatInterval"].as_str() {
            intervals.push(d.to_owned());
        }
        stack.extend(route["routes"].as_array().into_iter().flatten());
    }
    for d in intervals {
        prop_assert!(
            seconds(&d) >= 3600,
            "repeatInterval {:?} admitted: {}",
            d,
            top
        );
    }
    Ok(())
}

fn check(request: &Value, settings: &Value, on_foreign: &str) -> Result<(), TestCaseError> {
    let r = validate(request, settings);
    let namespace = request["namespace"].as_str().unwrap();
    if settings["exemptNamespaces"][0] == namespace {
        EXEMPT.fetch_add(1, Ordering::Relaxed);
        prop_assert!(r.allowed, "exempt, yet refused: {:?}", r.status);
        prop_assert!(r.patch.is_none(), "exempt, yet changed: {}", patch_ops(&r));
        return Ok(());
    }
    let judgement = judge(request, on_foreign);
    let m = message(&r);
    if let Some(namespace) = &judgement.namespace {
        prop_assert!(!r.allowed, "{namespace} names no tenant, yet admitted");
        prop_assert!(
            m.contains(namespace.as_str()),
            "refused without naming {namespace}: {m}"
        );
        REFUSED_AS_EXPECTED.fetch_add(1, Ordering::Relaxed);
        return Ok(());
    }
    if !judgement.bad.is_empty() {
        prop_assert!(
            !r.allowed,
            "admitted with {:?} bad: {}",
            judgement.bad,
            patch_ops(&r)
        );
        // Every bad field is named, but for those the bounded message counts at its end
        // ("...; and 3 more problems").
        let unnamed: Vec<&String> = judgement
            .bad
            .iter()
            .filter(|f| !m.contains(f.as_str()))
            .collect();
        let more: usize = m
            .rsplit_once("; and ")
            .and_then(|(_, tail)| tail.strip_suffix(" more problems"))
            .map_or(0, |n| n.parse().unwrap());
        prop_assert!(
            unnamed.len() <= more,
            "the refusal does not name {unnamed:?} (and counts {more} more): {m}"
        );
        REFUSED_AS_EXPECTED.fetch_add(1, Ordering::Relaxed);
    }
    if !r.allowed {
        prop_assert!(
            judgement
                .bad
                .iter()
                .chain(&judgement.doubtful)
                .any(|f| m.contains(f.as_str())),
            "refused for none of the fields made bad or doubtful ({judgement:?}): {m}"
        );
        return Ok(());
    }
    ADMITTED.fetch_add(1, Ordering::Relaxed);
    if r.patch.is_some() {
        PATCHED.fetch_add(1, Ordering::Relaxed);
    }
    let own = listener_of(tenant(namespace).unwrap());
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
            prop_assert!(allowed_destination(url, &own), "{path} = {url:?} admitted");
        }
        if key == "insecureSkipVerify" {
            prop_assert_eq!(value, &json!(false), "{} admitted", path);
        }
        if key == "serverName" {
            prop_assert_eq!(value, &json!(""), "{} admitted", path);
        }
    }
    for receiver in admitted["spec"]["receivers"].as_array().unwrap() {
        for hook in receiver["webhookConfigs"].as_array().unwrap() {
            prop_assert!(
                hook["url"].is_string(),
                "a webhook left without url: {hook}"
            );
        }
    }
    check_storm_protection(&request["object"], &admitted)?;
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
fn admitted_objects_reach_only_the_tenants_listener_and_are_storm_protected() {
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/it/proptest_webhooks.proptest-regressions"
        )))),
        ..Config::default()
    });
    let strategy = (
        config(),
        prop::sample::select(vec!["rewrite", "reject"]),
        exemption(),
    );
    runner
        .run(&strategy, |(request, on_foreign, exempt)| {
            let mut settings = workshop_settings();
            settings["allowedWebhookUrls"] = json!([ALLOWED]);
            settings["onForeignListener"] = json!(on_foreign);
            if let Some(exempt) = exempt {
                settings["exemptNamespaces"] = json!([exempt]);
            }
            check(&request, &settings, on_foreign)
        })
        .unwrap();
    // Not vacuous: every outcome is reached often enough.
    let counts: BTreeMap<&str, usize> = [
        ("admitted", ADMITTED.load(Ordering::Relaxed)),
        ("patched", PATCHED.load(Ordering::Relaxed)),
        (
            "refused as expected",
            REFUSED_AS_EXPECTED.load(Ordering::Relaxed),
        ),
        ("exempt", EXEMPT.load(Ordering::Relaxed)),
    ]
    .into();
    eprintln!("of {CASES} cases: {counts:?}");
    assert!(
        counts["admitted"] >= 20
            && counts["patched"] >= 10
            && counts["refused as expected"] >= 50
            && counts["exempt"] >= 3,
        "{counts:?}"
    );
}

/// The persisted failures are replayed: the file exists and is proptest's format.
#[test]
fn failures_are_persisted_where_the_runner_replays_them() {
    let path = repo_root().join("tests/it/proptest_webhooks.proptest-regressions");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        text.lines()
            .all(|l| l.is_empty() || l.starts_with('#') || l.starts_with("cc ")),
        "{text}"
    );
}
