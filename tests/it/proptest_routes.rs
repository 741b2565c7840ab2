//! Issue 16 + 21: one drift alert starts at most one retraining run, judged by an oracle
//! that routes alerts the way Alertmanager does, on every object the release .wasm
//! admits.
//!
//! The generator writes AlertmanagerConfig route trees (v1alpha1 and v1beta1, up to four
//! levels below the top route, up to six siblings a level) with `continue`
//! true/false/absent, own or inherited receivers, matchers of all four kinds in the CRD
//! shape, and short, zero and ordinary intervals; receivers hold 0–3 webhooks to the
//! tenant's listener (sometimes twice, sometimes spelled differently), another tenant's
//! listener, or an allowed destination. Each object goes through the policy under one of
//! several settings.
//!
//! The oracle is written from Alertmanager's own semantics (dispatch/route.go,
//! `Route.Match`), not from this crate: an alert that matches a route descends into every
//! matching child in order, stopping after the first matching child without `continue`;
//! when no child matches, the route itself is the match. Children inherit their parent's
//! receiver and intervals. The Prometheus Operator adds `namespace="<namespace>"` to the
//! top route. Matchers treat a missing label as the empty string, and regexes are fully
//! anchored (`^(?:re)$`). Alerts are every combination of a small label domain (plus a
//! label no matcher mentions, and other namespaces), so siblings overlap.
//!
//! For every ADMITTED object (the mutated one when there is one): no alert is delivered
//! to the tenant's listener more than once; every webhook has
//! `httpConfig.followRedirects: false` and `sendResolved: false` (unless the author wrote
//! `true`, which the README leaves to the tenant); every route's intervals, set or
//! inherited, are at least the minimums. For every REJECTED object: the message names
//! only field paths that exist in the object, names the path of every problem the
//! object has (as the README states the rules), and when the object has none of those,
//! it is a fan-out rejection whose routes really reach the listener.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

use crate::common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use regex::Regex;
use serde_json::{json, Map, Value};

const NAMESPACE: &str = "user1-test";
const LISTENER_HOST: &str = "el-ct-listener-user1-toolings.apps.cluster-abc.example.com";
/// Another tenant's listener: rewritten to the tenant's (or refused, by settings).
const OTHER: &str = "https://el-ct-listener-user2-toolings.apps.cluster-abc.example.com/";
/// The tenant's own listener, spelled differently (same parsed URL).
const LISTENER_SPELLED: &str =
    "https://EL-CT-LISTENER-user1-toolings.apps.cluster-abc.example.com:443";
/// The tenant's listener host as an FQDN (final dot): the policy treats it as a foreign
/// listener (rewritten, or refused by settings); Alertmanager would reach the listener.
const LISTENER_FQDN: &str = "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com./";
const ALLOWED_PREFIX: &str = "https://hooks.example.com/alerts/";
const ALLOWED: &str = "https://hooks.example.com/alerts/drift";

const CASES: u32 = 1000;

// ---------------------------------------------------------------------------------------
// Settings variants
// ---------------------------------------------------------------------------------------

/// What the oracle needs to know of the settings it sends.
#[derive(Debug, Clone)]
struct Env {
    name: &'static str,
    settings: Value,
    allowed: bool,
    reject_foreign: bool,
    raise: bool,
    min_group_ms: u64,
    min_repeat_ms: u64,
    /// What the policy writes on a top route without repeatInterval ("" = nothing).
    default_repeat: &'static str,
}

fn envs() -> Vec<Env> {
    let base = workshop_settings();
    let with = |extra: Value| {
        let mut s = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            s[k] = v.clone();
        }
        s
    };
    let plain = Env {
        name: "workshop",
        settings: base.clone(),
        allowed: false,
        reject_foreign: false,
        raise: false,
        min_group_ms: 60_000,
        min_repeat_ms: 3_600_000,
        default_repeat: "12h",
    };
    vec![
        plain.clone(),
        Env {
            name: "workshop+allowedWebhookUrls",
            settings: with(json!({"allowedWebhookUrls": [ALLOWED_PREFIX]})),
            allowed: true,
            ..plain.clone()
        },
        Env {
            name: "workshop+onShortInterval=raise",
            settings: with(
                json!({"onShortInterval": "raise", "allowedWebhookUrls": [ALLOWED_PREFIX]}),
            ),
            allowed: true,
            raise: true,
            ..plain.clone()
        },
        Env {
            name: "workshop+onForeignListener=reject",
            settings: with(json!({"onForeignListener": "reject"})),
            reject_foreign: true,
            ..plain.clone()
        },
        Env {
            name: "workshop+stricter minimums",
            settings: with(json!({
                "allowedWebhookUrls": [ALLOWED_PREFIX],
                "minGroupInterval": "5m",
                "minRepeatInterval": "2h",
                "repeatInterval": "6h",
            })),
            allowed: true,
            min_group_ms: 300_000,
            min_repeat_ms: 7_200_000,
            default_repeat: "6h",
            ..plain
        },
    ]
}

// ---------------------------------------------------------------------------------------
// Generator
// ---------------------------------------------------------------------------------------

/// Label names matchers use, each with the values (and regexes) they compare against.
const MATCHER_VALUES: [(&str, &[&str]); 5] = [
    (
        "severity",
        &[
            "critical",
            "warning",
            "info",
            "critical|warning",
            "crit.*",
            ".+",
            "",
        ],
    ),
    ("team", &["ml", "ops", "ml|ops", "o.s", ".*", ""]),
    ("model", &["jukebox", "other", "juke.*", ""]),
    (
        "alertname",
        &["jukebox-datadrift-alert", "Watchdog", ".*drift.*"],
    ),
    ("namespace", &["user1-test", "user2-test", "user.-test"]),
];

/// The alert label domain: every combination is routed (`None`: label absent).
const ALERT_DOMAIN: [(&str, &[Option<&str>]); 4] = [
    (
        "alertname",
        &[Some("jukebox-datadrift-alert"), Some("Watchdog")],
    ),
    (
        "severity",
        &[None, Some("critical"), Some("warning"), Some("info")],
    ),
    ("team", &[None, Some("ml"), Some("ops")]),
    ("model", &[None, Some("jukebox"), Some("other")]),
];

fn matcher(v1alpha1: bool) -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec![0usize, 0, 0, 1, 1, 1, 2, 2, 3, 4]),
        any::<prop::sample::Index>(),
        prop::sample::select(vec!["=", "!=", "=~", "!~"]),
        0u8..4,
    )
        .prop_map(move |(n, v, op, shape)| {
            let (name, values) = MATCHER_VALUES[n];
            let value = values[v.index(values.len())];
            let mut m = json!({"name": name, "value": value});
            if v1alpha1 {
                // v1alpha1: `matchType`, or the older `regex: bool`, or both (agreeing).
                match shape {
                    0 => m["matchType"] = json!(op),
                    1 => m["regex"] = json!(op.ends_with('~') && !op.starts_with('!')),
                    2 => {
                        m["matchType"] = json!(op);
                        m["regex"] = json!(op.ends_with('~'));
                    }
                    _ => {} // plain equality
                }
            } else if shape != 3 {
                m["matchType"] = json!(op);
            }
            m
        })
}

/// The fields of one route besides `routes`. `receivers` is how many receivers exist;
/// a reference one past them names an undefined receiver.
fn route_fields(v1alpha1: bool) -> impl Strategy<Value = Map<String, Value>> {
    let receiver = prop_oneof![
        5 => Just(None),
        30 => (0usize..4).prop_map(Some),
        1 => Just(Some(9)),
    ];
    let cont = prop_oneof![6 => Just(None), 2 => Just(Some(false)), 2 => Just(Some(true))];
    let group = prop_oneof![
        24 => Just(None),
        1 => prop::sample::select(vec!["0", "0s", "10s", "59s"]).prop_map(Some),
        3 => prop::sample::select(vec!["1m", "2m", "5m", "10m"]).prop_map(Some),
    ];
    let repeat = prop_oneof![
        24 => Just(None),
        1 => prop::sample::select(vec!["0", "10ms", "30m", "59m"]).prop_map(Some),
        3 => prop::sample::select(vec!["1h", "90m", "1h30m", "2h", "4h", "12h", "1d"]).prop_map(Some),
    ];
    (
        receiver,
        cont,
        prop::collection::vec(matcher(v1alpha1), 0..3),
        group,
        repeat,
    )
        .prop_map(|(receiver, cont, matchers, group, repeat)| {
            let mut f = Map::new();
            if let Some(r) = receiver {
                f.insert("receiver".into(), json!(format!("r{r}")));
            }
            if let Some(c) = cont {
                f.insert("continue".into(), json!(c));
            }
            if !matchers.is_empty() {
                f.insert("matchers".into(), Value::Array(matchers));
            }
            if let Some(g) = group {
                f.insert("groupInterval".into(), json!(g));
            }
            if let Some(r) = repeat {
                f.insert("repeatInterval".into(), json!(r));
            }
            f
        })
}

fn route_tree(v1alpha1: bool) -> impl Strategy<Value = Value> {
    let leaf = route_fields(v1alpha1).prop_map(Value::Object);
    leaf.prop_recursive(4, 40, 6, move |inner| {
        (
            route_fields(v1alpha1),
            prop_oneof![2 => prop::collection::vec(inner.clone(), 0..3), 1 => prop::collection::vec(inner, 3..=6)],
        )
            .prop_map(|(mut f, children)| {
                if !children.is_empty() {
                    f.insert("routes".into(), Value::Array(children));
                }
                Value::Object(f)
            })
    })
}

fn webhook() -> impl Strategy<Value = Value> {
    let url = prop_oneof![
        6 => Just(LISTENER),
        2 => Just(OTHER),
        2 => Just(ALLOWED),
        1 => Just(LISTENER_SPELLED),
        1 => Just(LISTENER_FQDN),
    ];
    let resolved = prop_oneof![4 => Just(None), 3 => Just(Some(false)), 1 => Just(Some(true))];
    let http = prop_oneof![
        8 => Just(None),
        4 => Just(Some(json!({"followRedirects": false}))),
        2 => Just(Some(json!({}))),
        1 => Just(Some(json!({"followRedirects": true}))),
    ];
    (url, resolved, http).prop_map(|(url, resolved, http)| {
        let mut w = json!({"url": url});
        if let Some(r) = resolved {
            w["sendResolved"] = json!(r);
        }
        if let Some(h) = http {
            w["httpConfig"] = h;
        }
        w
    })
}

fn receivers() -> impl Strategy<Value = Vec<Value>> {
    let hooks = prop_oneof![
        3 => Just(0usize..1),
        12 => Just(1usize..2),
        2 => Just(2usize..3),
        1 => Just(3usize..4),
    ]
    .prop_flat_map(|n| prop::collection::vec(webhook(), n));
    prop::collection::vec(hooks, 1..=4).prop_map(|all| {
        all.into_iter()
            .enumerate()
            .map(|(i, hooks)| {
                let mut r = json!({"name": format!("r{i}")});
                if !hooks.is_empty() {
                    r["webhookConfigs"] = Value::Array(hooks);
                }
                r
            })
            .collect()
    })
}

/// A whole AdmissionRequest and the settings variant it runs under.
fn case() -> impl Strategy<Value = (Value, usize)> {
    (any::<bool>(), 0..envs().len())
        .prop_flat_map(|(v1alpha1, env)| {
            (
                Just(v1alpha1),
                Just(env),
                route_tree(v1alpha1),
                receivers(),
                0usize..4,
            )
        })
        .prop_map(|(v1alpha1, env, mut route, receivers, top_receiver)| {
            let top = route.as_object_mut().unwrap();
            // The top route always names a defined receiver; its `continue` is the
            // operator's business (it always sets it), so none is written.
            top.insert(
                "receiver".into(),
                json!(format!("r{}", top_receiver % receivers.len())),
            );
            top.remove("continue");
            // References land on defined receivers, except the odd `r9`.
            fn defined(route: &mut Value, n: usize) {
                if let Some(Value::String(r)) = route.get_mut("receiver") {
                    let k: usize = r[1..].parse().unwrap();
                    if k < 9 {
                        *r = format!("r{}", k % n);
                    }
                }
                let children = route.get_mut("routes").and_then(Value::as_array_mut);
                for c in children.into_iter().flatten() {
                    defined(c, n);
                }
            }
            defined(&mut route, receivers.len());
            let fixture = if v1alpha1 {
                "alertmanagerconfig-v1alpha1-correct"
            } else {
                "alertmanagerconfig-v1beta1-correct"
            };
            let mut r = request(fixture);
            r["object"]["spec"] = json!({"route": route, "receivers": receivers});
            (r, env)
        })
}

// ---------------------------------------------------------------------------------------
// The oracle: Alertmanager's routing, written from its semantics
// ---------------------------------------------------------------------------------------

/// A Prometheus/Alertmanager duration (`1h30m`, `10ms`, `0`) in milliseconds.
fn duration_ms(text: &str) -> Option<u64> {
    if text == "0" {
        return Some(0);
    }
    let units = [
        ("ms", 1u64),
        ("s", 1_000),
        ("m", 60_000),
        ("h", 3_600_000),
        ("d", 86_400_000),
        ("w", 604_800_000),
        ("y", 31_536_000_000),
    ];
    let mut rest = text;
    let mut total = 0u64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, factor) = units.iter().find(|(u, _)| rest.starts_with(u))?;
        total += n * factor;
        rest = &rest[unit.len()..];
    }
    Some(total)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Re,
    Nre,
}

struct Matcher {
    name: String,
    op: Op,
    value: String,
    re: Option<Regex>,
}

impl Matcher {
    /// As the CRD's two versions say: `matchType` when present, otherwise v1alpha1's
    /// `regex: true` means `=~`, and plain equality by default.
    fn from_crd(m: &Value) -> Matcher {
        let name = m["name"].as_str().unwrap().to_owned();
        let value = m["value"].as_str().unwrap_or_default().to_owned();
        let op = match m.get("matchType").and_then(Value::as_str) {
            Some("!=") => Op::Ne,
            Some("=~") => Op::Re,
            Some("!~") => Op::Nre,
            Some("=") => Op::Eq,
            Some(other) => panic!("unknown matchType {other}"),
            None if m.get("regex") == Some(&json!(true)) => Op::Re,
            None => Op::Eq,
        };
        let re = matches!(op, Op::Re | Op::Nre)
            .then(|| Regex::new(&format!("^(?:{value})$")).expect("a valid regex"));
        Matcher {
            name,
            op,
            value,
            re,
        }
    }

    fn eq(name: &str, value: &str) -> Matcher {
        Matcher {
            name: name.to_owned(),
            op: Op::Eq,
            value: value.to_owned(),
            re: None,
        }
    }

    /// A missing label compares as the empty string.
    fn matches(&self, labels: &HashMap<&str, &str>) -> bool {
        let v = labels.get(self.name.as_str()).copied().unwrap_or("");
        match self.op {
            Op::Eq => v == self.value,
            Op::Ne => v != self.value,
            Op::Re => self.re.as_ref().unwrap().is_match(v),
            Op::Nre => !self.re.as_ref().unwrap().is_match(v),
        }
    }
}

/// One route, as Alertmanager would load it from the operator's output.
struct Node {
    path: String,
    matchers: Vec<Matcher>,
    cont: bool,
    /// Own receiver, or the parent's.
    receiver: Option<String>,
    /// Effective intervals (own, or inherited; Alertmanager's defaults at the top).
    group_ms: Option<u64>,
    repeat_ms: Option<u64>,
    children: Vec<Node>,
}

const AM_DEFAULT_GROUP_INTERVAL_MS: u64 = 5 * 60_000;
const AM_DEFAULT_REPEAT_INTERVAL_MS: u64 = 4 * 3_600_000;

fn load(route: &Value, path: String, parent: Option<&Node>) -> Node {
    let own_receiver = route
        .get("receiver")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    let interval = |field: &str, default: u64, inherited: Option<Option<u64>>| match route
        .get(field)
        .and_then(Value::as_str)
    {
        Some(text) => duration_ms(text),
        None => inherited.unwrap_or(Some(default)),
    };
    let mut matchers: Vec<Matcher> = route
        .get("matchers")
        .and_then(Value::as_array)
        .map(|ms| ms.iter().map(Matcher::from_crd).collect())
        .unwrap_or_default();
    if parent.is_none() {
        // The Prometheus Operator scopes each AlertmanagerConfig to its namespace.
        matchers.insert(0, Matcher::eq("namespace", NAMESPACE));
    }
    let mut node = Node {
        matchers,
        cont: route.get("continue") == Some(&json!(true)),
        receiver: own_receiver.or_else(|| parent.and_then(|p| p.receiver.clone())),
        group_ms: interval(
            "groupInterval",
            AM_DEFAULT_GROUP_INTERVAL_MS,
            parent.map(|p| p.group_ms),
        ),
        repeat_ms: interval(
            "repeatInterval",
            AM_DEFAULT_REPEAT_INTERVAL_MS,
            parent.map(|p| p.repeat_ms),
        ),
        children: Vec::new(),
        path,
    };
    if let Some(children) = route.get("routes").and_then(Value::as_array) {
        let kids = children
            .iter()
            .enumerate()
            .map(|(i, c)| load(c, format!("{}.routes[{i}]", node.path), Some(&node)))
            .collect();
        node.children = kids;
    }
    node
}

/// Alertmanager's `Route.Match`: `None` when the route's own matchers fail.
fn route_match<'a>(node: &'a Node, labels: &HashMap<&str, &str>) -> Option<Vec<&'a Node>> {
    if !node.matchers.iter().all(|m| m.matches(labels)) {
        return None;
    }
    let mut all = Vec::new();
    for child in &node.children {
        if let Some(matched) = route_match(child, labels) {
            all.extend(matched);
            if !child.cont {
                break;
            }
        }
    }
    if all.is_empty() {
        all.push(node);
    }
    Some(all)
}

fn all_nodes<'a>(node: &'a Node, out: &mut Vec<&'a Node>) {
    out.push(node);
    for c in &node.children {
        all_nodes(c, out);
    }
}

/// Whether Alertmanager would POST to the tenant's listener at `url`: an https URL whose
/// host (case-insensitive, an FQDN's final dot ignored) is the listener's, on port 443.
fn reaches_listener(url: &str) -> bool {
    let Ok(u) = url::Url::parse(url) else {
        return false;
    };
    u.scheme() == "https"
        && u.host_str()
            .is_some_and(|h| h.trim_end_matches('.').eq_ignore_ascii_case(LISTENER_HOST))
        && u.port_or_known_default() == Some(443)
}

/// Every alert of the domain: all combinations, in the tenant's namespace, with a label
/// no matcher mentions; plus a few from other namespaces (which must reach nothing).
fn alerts() -> Vec<HashMap<&'static str, &'static str>> {
    let mut out = vec![HashMap::from([("pod", "jukebox-0")])];
    for (name, values) in ALERT_DOMAIN {
        let mut next = Vec::new();
        for base in &out {
            for v in values {
                let mut l = base.clone();
                if let Some(v) = v {
                    l.insert(name, *v);
                }
                next.push(l);
            }
        }
        out = next;
    }
    let mut all: Vec<_> = out
        .iter()
        .map(|l| {
            let mut l = l.clone();
            l.insert("namespace", NAMESPACE);
            l
        })
        .collect();
    for ns in [Some("user2-test"), None] {
        for l in out.iter().step_by(7) {
            let mut l = l.clone();
            if let Some(ns) = ns {
                l.insert("namespace", ns);
            }
            all.push(l);
        }
    }
    all
}

/// Per alert, how many POSTs reach the listener, and through which routes.
struct Routing {
    max_deliveries: usize,
    worst_alert: String,
    delivering_routes: BTreeSet<String>,
}

/// `listener_hooks`: receiver name -> webhooks that reach the listener.
fn route_alerts(top: &Node, listener_hooks: &HashMap<String, usize>) -> Routing {
    let mut routing = Routing {
        max_deliveries: 0,
        worst_alert: String::new(),
        delivering_routes: BTreeSet::new(),
    };
    for alert in alerts() {
        let Some(matched) = route_match(top, &alert) else {
            continue;
        };
        let mut deliveries = 0;
        let mut via = Vec::new();
        for node in matched {
            let n = node
                .receiver
                .as_ref()
                .and_then(|r| listener_hooks.get(r))
                .copied()
                .unwrap_or(0);
            if n > 0 {
                deliveries += n;
                via.push(node.path.clone());
                routing.delivering_routes.insert(node.path.clone());
            }
        }
        if deliveries > routing.max_deliveries {
            let mut labels: Vec<_> = alert.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            labels.sort();
            routing.max_deliveries = deliveries;
            routing.worst_alert = format!("{{{}}} via {via:?}", labels.join(", "));
        }
    }
    routing
}

// ---------------------------------------------------------------------------------------
// What the README says must be refused (everything but fan-out)
// ---------------------------------------------------------------------------------------

/// Field paths of the problems the object has, by the README's rules; a rejection must
/// name each one.
fn expected_problems(spec: &Value, env: &Env) -> Vec<String> {
    let mut problems = Vec::new();
    let receivers = spec["receivers"].as_array().unwrap();
    let names: Vec<&str> = receivers
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for (i, r) in receivers.iter().enumerate() {
        let mut to_listener = 0;
        for (j, w) in r["webhookConfigs"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = format!("spec.receivers[{i}].webhookConfigs[{j}]");
            let url = w["url"].as_str().unwrap();
            match url {
                OTHER | LISTENER_FQDN if env.reject_foreign => problems.push(format!("{at}.url")),
                OTHER | LISTENER_FQDN | LISTENER | LISTENER_SPELLED => to_listener += 1,
                ALLOWED if !env.allowed => problems.push(format!("{at}.url")),
                _ => {}
            }
            if w["httpConfig"]["followRedirects"] == json!(true) {
                problems.push(format!("{at}.httpConfig.followRedirects"));
            }
        }
        if to_listener > 1 {
            problems.push(format!("spec.receivers[{i}].webhookConfigs"));
        }
    }
    fn walk(route: &Value, at: &str, names: &[&str], env: &Env, problems: &mut Vec<String>) {
        if let Some(r) = route.get("receiver").and_then(Value::as_str) {
            if !names.contains(&r) {
                problems.push(format!("{at}.receiver"));
            }
        }
        for (field, min) in [
            ("groupInterval", env.min_group_ms),
            ("repeatInterval", env.min_repeat_ms),
        ] {
            if let Some(text) = route.get(field).and_then(Value::as_str) {
                let ms = duration_ms(text).expect("generated durations parse");
                if ms == 0 || (ms < min && !env.raise) {
                    problems.push(format!("{at}.{field}"));
                }
            }
        }
        for (i, c) in route["routes"].as_array().into_iter().flatten().enumerate() {
            walk(c, &format!("{at}.routes[{i}]"), names, env, problems);
        }
    }
    walk(&spec["route"], "spec.route", &names, env, &mut problems);
    problems
}

/// Listener webhooks per receiver, in the object as the author wrote it, counting what
/// the policy rewrites to the listener as the listener.
fn listener_hooks_as_written(spec: &Value, env: &Env) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for r in spec["receivers"].as_array().unwrap() {
        let n = r["webhookConfigs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|w| {
                let url = w["url"].as_str().unwrap();
                match url {
                    OTHER | LISTENER_FQDN => !env.reject_foreign,
                    _ => reaches_listener(url),
                }
            })
            .count();
        out.entry(r["name"].as_str().unwrap().to_owned())
            .or_insert(n);
    }
    out
}

/// Listener webhooks per receiver, after admission.
fn listener_hooks_admitted(spec: &Value) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for r in spec["receivers"].as_array().unwrap() {
        let n = r["webhookConfigs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|w| w["url"].as_str().is_some_and(reaches_listener))
            .count();
        let previous = out.insert(r["name"].as_str().unwrap().to_owned(), n);
        assert!(
            previous.is_none(),
            "receiver names repeat in an admitted object"
        );
    }
    out
}

/// `spec.route.routes[1].receiver` and the like, as they appear in a message.
fn paths_in(message: &str) -> Vec<String> {
    let re = Regex::new(r"spec(?:\.[A-Za-z]+|\[\d+\])+").unwrap();
    re.find_iter(message)
        .map(|m| m.as_str().to_owned())
        .collect()
}

/// Whether `path` (`spec.receivers[0].webhookConfigs`) exists in `object`.
fn path_exists(object: &Value, path: &str) -> bool {
    let step = Regex::new(r"\.?([A-Za-z]+)|\[(\d+)\]").unwrap();
    let mut at = object;
    for c in step.captures_iter(path) {
        let next = match (c.get(1), c.get(2)) {
            (Some(key), _) => at.get(key.as_str()),
            (_, Some(i)) => at.get(i.as_str().parse::<usize>().unwrap()),
            _ => None,
        };
        match next {
            Some(v) => at = v,
            None => return false,
        }
    }
    true
}

/// Whether `message` names `path` itself (not merely a longer path it prefixes).
fn names_path(message: &str, path: &str) -> bool {
    paths_in(message).iter().any(|p| p == path)
}

// ---------------------------------------------------------------------------------------
// The property
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct Tally {
    cases: usize,
    admitted: usize,
    patched: usize,
    /// Admitted cases in which two or more routes deliver to the listener (each alert
    /// still at most once): the oracle separated them.
    separated: usize,
    /// Admitted cases in which some alert reaches the listener at all.
    delivering: usize,
    fanout_rejections: usize,
    /// Fan-out rejections where no alert of the domain reaches the listener twice.
    conservative: usize,
    smallest_conservative: Option<(usize, String)>,
    by_env: HashMap<&'static str, (usize, usize)>,
    /// Problems the README names, by the field they are on, over rejected cases.
    problems: HashMap<String, usize>,
    v1alpha1: usize,
}

fn count_routes(route: &Value) -> usize {
    1 + route["routes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(count_routes)
        .sum::<usize>()
}

fn check(request: &Value, env: &Env, tally: &mut Tally) -> Result<(), TestCaseError> {
    let submitted = &request["object"];
    let spec = &submitted["spec"];
    let expected = expected_problems(spec, env);
    let r = validate(request, &env.settings);
    tally.cases += 1;
    if submitted["apiVersion"]
        .as_str()
        .unwrap()
        .ends_with("v1alpha1")
    {
        tally.v1alpha1 += 1;
    }
    let entry = tally.by_env.entry(env.name).or_default();
    entry.0 += 1;

    if !r.allowed {
        let m = message(&r);
        prop_assert!(!m.is_empty(), "a rejection without a message");
        let named = paths_in(&m);
        prop_assert!(!named.is_empty(), "the rejection names no field path: {m}");
        for p in &named {
            prop_assert!(
                path_exists(submitted, p),
                "the rejection names {p}, which is not in the object: {m}"
            );
        }
        for p in &expected {
            let field = p.rsplit('.').next().unwrap().to_owned();
            *tally.problems.entry(field).or_default() += 1;
        }
        let truncated = m.contains("more problems");
        for p in &expected {
            prop_assert!(
                truncated || names_path(&m, p),
                "the object's problem at {p} is not named in: {m}"
            );
        }
        let fanout = "one alert can reach this tenant's EventListener";
        if expected.is_empty() {
            prop_assert!(
                m.contains(fanout),
                "rejected for none of the README's reasons: {m}"
            );
        }
        if m.contains(fanout) {
            tally.fanout_rejections += 1;
            // The routes a fan-out message lists deliver to the listener.
            let top = load(&spec["route"], "spec.route".into(), None);
            let mut nodes = Vec::new();
            all_nodes(&top, &mut nodes);
            let hooks = listener_hooks_as_written(spec, env);
            for problem in m.split(fanout).skip(1) {
                let along = problem
                    .split_once(", along ")
                    .and_then(|(_, rest)| rest.split_once(", so one drift"))
                    .map(|(list, _)| list)
                    .unwrap_or_default();
                prop_assert!(!along.is_empty(), "a fan-out message lists no routes: {m}");
                for path in along.split(", ") {
                    let node = nodes.iter().find(|n| n.path == path);
                    prop_assert!(node.is_some(), "{path} is not a route of the object: {m}");
                    let reaches = node
                        .unwrap()
                        .receiver
                        .as_ref()
                        .and_then(|r| hooks.get(r))
                        .is_some_and(|n| *n > 0);
                    prop_assert!(reaches, "{path} does not reach the listener: {m}");
                }
            }
            if expected.is_empty() {
                let routing = route_alerts(&top, &hooks);
                if routing.max_deliveries <= 1 {
                    tally.conservative += 1;
                    let size = count_routes(&spec["route"]);
                    if tally
                        .smallest_conservative
                        .as_ref()
                        .is_none_or(|(s, _)| size < *s)
                    {
                        tally.smallest_conservative = Some((
                            size,
                            format!(
                                "{}\n  settings {}\n  message: {m}",
                                serde_json::to_string(spec).unwrap(),
                                env.name
                            ),
                        ));
                    }
                }
            }
        }
        return Ok(());
    }

    // Admitted.
    tally.admitted += 1;
    tally.by_env.get_mut(env.name).unwrap().1 += 1;
    prop_assert!(
        expected.is_empty(),
        "admitted although the README refuses {expected:?}"
    );
    if r.mutated_object.is_some() {
        tally.patched += 1;
    }
    let admitted = r
        .mutated_object
        .clone()
        .unwrap_or_else(|| submitted.clone());
    let aspec = &admitted["spec"];

    // Storm protection on every webhook.
    for (i, receiver) in aspec["receivers"].as_array().unwrap().iter().enumerate() {
        for (j, hook) in receiver["webhookConfigs"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = format!("spec.receivers[{i}].webhookConfigs[{j}]");
            prop_assert_eq!(
                &hook["httpConfig"]["followRedirects"],
                &json!(false),
                "{} admitted without followRedirects: false: {}",
                at,
                hook
            );
            let written = spec["receivers"][i]["webhookConfigs"][j]["sendResolved"].clone();
            let want = if written == json!(true) {
                json!(true)
            } else {
                json!(false)
            };
            prop_assert_eq!(
                &hook["sendResolved"],
                &want,
                "{} sendResolved: {}",
                at,
                hook
            );
        }
    }

    // Intervals, set or inherited, on every route.
    let top = load(&aspec["route"], "spec.route".into(), None);
    if !env.default_repeat.is_empty() && spec["route"].get("repeatInterval").is_none() {
        prop_assert_eq!(
            &aspec["route"]["repeatInterval"],
            &json!(env.default_repeat),
            "the top route's repeatInterval was not set"
        );
    }
    let mut nodes = Vec::new();
    all_nodes(&top, &mut nodes);
    for node in &nodes {
        let g = node.group_ms.expect("admitted intervals parse");
        let rep = node.repeat_ms.expect("admitted intervals parse");
        prop_assert!(
            g >= env.min_group_ms,
            "{} groupInterval {g}ms admitted",
            node.path
        );
        prop_assert!(
            rep >= env.min_repeat_ms,
            "{} repeatInterval {rep}ms admitted",
            node.path
        );
    }

    // The oracle: one alert, at most one POST to the listener.
    let hooks = listener_hooks_admitted(aspec);
    let routing = route_alerts(&top, &hooks);
    prop_assert!(
        routing.max_deliveries <= 1,
        "an admitted object delivers one alert {} times to the listener: {}\n  admitted spec: {}",
        routing.max_deliveries,
        routing.worst_alert,
        aspec
    );
    if routing.max_deliveries == 1 {
        tally.delivering += 1;
    }
    if routing.delivering_routes.len() >= 2 {
        tally.separated += 1;
    }
    Ok(())
}

#[test]
fn admitted_route_trees_deliver_each_alert_to_the_listener_at_most_once() {
    let envs = envs();
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        max_shrink_iters: 2_000,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/it/proptest_routes.proptest-regressions"
        )))),
        source_file: Some(file!()),
        ..Config::default()
    });
    let tally = RefCell::new(Tally::default());
    let result = runner.run(&case(), |(request, env)| {
        check(&request, &envs[env], &mut tally.borrow_mut())
    });
    let t = tally.into_inner();
    eprintln!(
        "{} cases ({} v1alpha1): {} admitted ({} patched), {} with a listener delivery, {} with >= 2 separated listener routes; {} fan-out rejections, {} of them with no alert of the domain delivered twice",
        t.cases, t.v1alpha1, t.admitted, t.patched, t.delivering, t.separated, t.fanout_rejections, t.conservative
    );
    let mut by_env: Vec<_> = t.by_env.iter().collect();
    by_env.sort();
    for (name, (cases, admitted)) in by_env {
        eprintln!("  {name}: {admitted}/{cases} admitted");
    }
    let mut problems: Vec<_> = t.problems.iter().collect();
    problems.sort();
    eprintln!("  problems in rejected cases, by field: {problems:?}");
    if let Some((size, example)) = &t.smallest_conservative {
        eprintln!("smallest conservative fan-out rejection ({size} routes): {example}");
    }
    if let Err(e) = result {
        panic!("{e}");
    }
    // Not vacuous: a fair share is admitted, and the oracle sees trees where several
    // routes reach the listener and are kept apart.
    assert!(
        t.admitted * 4 >= t.cases,
        "only {} of {} cases admitted",
        t.admitted,
        t.cases
    );
    assert!(
        t.delivering * 3 >= t.admitted,
        "only {} admitted cases deliver to the listener at all",
        t.delivering
    );
    assert!(
        t.separated >= 10,
        "only {} admitted cases have two or more listener routes",
        t.separated
    );
}

// ---------------------------------------------------------------------------------------
// The oracle itself, on hand-written trees (so a wrong oracle cannot pass silently)
// ---------------------------------------------------------------------------------------

fn oracle_max(spec: Value) -> usize {
    let top = load(&spec["route"], "spec.route".into(), None);
    route_alerts(&top, &listener_hooks_admitted(&spec)).max_deliveries
}

#[test]
fn the_oracle_routes_as_alertmanager_does() {
    let receivers = json!([
        {"name": "other"},
        {"name": "listener", "webhookConfigs": [{"url": LISTENER}]},
        {"name": "twice", "webhookConfigs": [{"url": LISTENER}, {"url": LISTENER_SPELLED}]},
    ]);
    let spec = |routes: Value| json!({"route": {"receiver": "other", "routes": routes}, "receivers": receivers});
    // Siblings that stop: the first match wins.
    assert_eq!(
        oracle_max(spec(
            json!([{"receiver": "listener"}, {"receiver": "listener"}])
        )),
        1
    );
    // Continue into a second listener route: twice.
    assert_eq!(
        oracle_max(spec(
            json!([{"receiver": "listener", "continue": true}, {"receiver": "listener"}])
        )),
        2
    );
    // Inherited receiver under a continuing route.
    assert_eq!(
        oracle_max(spec(json!([
            {"receiver": "listener", "continue": true, "routes": [{"matchers": [{"name": "team", "value": "ml"}]}]},
            {"receiver": "listener"},
        ]))),
        2
    );
    // Mutually exclusive matchers keep continuing siblings apart.
    assert_eq!(
        oracle_max(spec(json!([
            {"receiver": "listener", "continue": true, "matchers": [{"name": "severity", "value": "critical", "matchType": "="}]},
            {"receiver": "listener", "matchers": [{"name": "severity", "value": "warning", "matchType": "="}]},
        ]))),
        1
    );
    // A matching child replaces the parent's own receiver.
    assert_eq!(
        oracle_max(
            json!({"route": {"receiver": "listener", "routes": [{"receiver": "listener", "continue": true}]}, "receivers": receivers})
        ),
        1
    );
    // Regexes are anchored: "crit" does not match "critical".
    assert_eq!(
        oracle_max(spec(json!([
            {"receiver": "listener", "continue": true, "matchers": [{"name": "severity", "value": "crit", "matchType": "=~"}]},
            {"receiver": "listener"},
        ]))),
        1
    );
    // A missing label is "": `team!~"ml|ops"` matches an alert without team.
    assert_eq!(
        oracle_max(spec(json!([
            {"receiver": "listener", "continue": true, "matchers": [{"name": "team", "value": "ml|ops", "matchType": "!~"}]},
            {"receiver": "listener", "matchers": [{"name": "team", "value": "", "matchType": "="}]},
        ]))),
        2
    );
    // v1alpha1's `regex: true`.
    assert_eq!(
        oracle_max(spec(json!([
            {"receiver": "listener", "continue": true, "matchers": [{"name": "severity", "value": "crit.*", "regex": true}]},
            {"receiver": "listener", "matchers": [{"name": "severity", "value": "critical"}]},
        ]))),
        2
    );
    // The operator's namespace matcher: a top route matching nothing else still needs it.
    assert_eq!(
        oracle_max(spec(json!([
            {"receiver": "listener", "matchers": [{"name": "namespace", "value": "user2-test"}]},
        ]))),
        0
    );
    // Two listener webhooks in one receiver: two POSTs, the spelled one included.
    assert_eq!(oracle_max(spec(json!([{"receiver": "twice"}]))), 2);
    assert!(reaches_listener(
        "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com./x"
    ));
    assert!(!reaches_listener(OTHER));
    assert!(!reaches_listener(ALLOWED));
    assert_eq!(duration_ms("1h30m"), Some(5_400_000));
    assert_eq!(duration_ms("0"), Some(0));
    assert_eq!(duration_ms("10ms"), Some(10));
}

/// Found by the property (23 of 1000 cases in one run): the fan-out count assumes every
/// child matches, so continuing siblings whose matchers exclude each other are refused
/// although no alert can take both. Here an alert has one `severity`, so at most one of
/// the two routes matches and each alert starts at most one run; the policy rejects it
/// ("one alert can reach this tenant's EventListener 2 times, along
/// spec.route.routes[0], spec.route.routes[1]"). The README documents the bound ("with
/// every child assumed to match"), and removing `continue: true` is a valid fix, so this
/// is a conservative rejection rather than a storm: ignored until the policy evaluates
/// matchers.
#[test]
fn continuing_siblings_with_exclusive_matchers_are_admitted() {
    let mut request = request("alertmanagerconfig-v1beta1-correct");
    request["object"]["spec"] = json!({
        "route": {"receiver": "none", "routes": [
            {"receiver": "listener", "continue": true,
             "matchers": [{"name": "severity", "value": "critical", "matchType": "="}]},
            {"receiver": "listener",
             "matchers": [{"name": "severity", "value": "warning", "matchType": "="}]},
        ]},
        "receivers": [
            {"name": "none"},
            {"name": "listener", "webhookConfigs": [{"url": LISTENER}]},
        ],
    });
    assert_eq!(
        oracle_max(request["object"]["spec"].clone()),
        1,
        "the oracle: at most one run"
    );
    let r = validate(&request, &workshop_settings());
    assert!(r.allowed, "rejected: {}", message(&r));
}
