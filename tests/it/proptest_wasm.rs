//! Property tests on the release .wasm itself, through the runner under policy-server's
//! bounds (a 2 s deadline and a 256 MiB memory cap, `Limits::default()`), never on the
//! native library:
//!
//! 1. **Every rejection names a field that exists.** PrometheusRules and
//!    AlertmanagerConfigs from `tests/fixtures/requests/`, mutated (wrong JSON types at
//!    random fields, nulls, extra groups/rules/receivers/routes, hostile expressions,
//!    templates with `query`/`$value`, bad durations, foreign URLs), under the workshop
//!    settings and the same with `onConflict: overwrite`. Every field path a rejection
//!    quotes (`spec.groups[0].rules[1].expr`, `spec.route.routes[2].groupInterval`, …)
//!    must resolve in the submitted object, by a resolver written here; a path the
//!    message calls absent (`… is missing`, `has no …`, `defined in …`) needs its parent.
//!    At least 95% of rejections must quote a path; the others are printed.
//! 2. **Fuzzing sees the .wasm.** Generated PromQL (`common::promql_gen`), every row of
//!    issue 17 and character-level mutations of them (tokens inserted, deleted and
//!    duplicated, unicode, `\f`, huge numbers, nesting up to and past the limits) as
//!    rule expressions, and mutated AlertmanagerConfigs: every request is answered
//!    (no trap, no deadline, no host error), an admitted object grows by no more than
//!    `GROWTH_PER_RULE` per rule, `GROWTH_PER_WEBHOOK` per webhook, `GROWTH_PER_OBJECT`
//!    and `GROWTH_PER_MATCHER` per inserted `namespace="N"` matcher, and admitting the
//!    mutated object again changes nothing.
//!
//! `PROPTEST_CASES=n` runs each property n times (the defaults keep the file under a
//! minute); failures are kept in `tests/it/proptest_wasm.proptest-regressions`.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::common::promql_gen::{vector_expr, GAP};
use crate::common::*;
use policy_runner::{default_policy_wasm, AdmissionResponse, Limits, Policy};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};
use serde_json::{json, Value};

const NS: &str = "user1-test";
const OTHER_LISTENER: &str = "https://el-ct-listener-user2-toolings.apps.cluster-abc.example.com/";

/// Growth an admitted object may show, measured on the serialised JSON: `for`, the
/// pinned `namespace` label, `defaultLabels` and a drift alert's default comparison
/// (` < -0.1 or > 0.1`) fit in 200 bytes per rule; `followRedirects`, `sendResolved` and
/// a rewritten URL in 200 per webhook; the top route's `repeatInterval` in the object's
/// 200; each inserted matcher `namespace=\"user1-test\", ` is 26 bytes of JSON.
const GROWTH_PER_RULE: usize = 200;
const GROWTH_PER_WEBHOOK: usize = 200;
const GROWTH_PER_OBJECT: usize = 200;
const GROWTH_PER_MATCHER: usize = 32;

// ---------------------------------------------------------------------------------------
// The policy under policy-server's bounds.

fn limited() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        Policy::load_with_limits(&default_policy_wasm(), Limits::default()).unwrap_or_else(|e| {
            panic!("{e:#}\nbuild the release .wasm first (`make policy.wasm`) or set POLICY_WASM")
        })
    })
}

fn settings(overwrite: bool) -> Value {
    let mut s = workshop_settings();
    if overwrite {
        s["onConflict"] = json!("overwrite");
    }
    s
}

/// The slowest evaluation seen (after the module is compiled), and of what.
static SLOWEST: Mutex<(Duration, String)> = Mutex::new((Duration::ZERO, String::new()));

/// One evaluation in a fresh instance. An `Err` is a trap, the deadline, the memory cap
/// or a malformed reply. The machine is shared, so an `Err` is retried once: a real trap
/// or a real timeout comes back, a one-off scheduling stall does not.
fn answer(request: &Value, settings: &Value) -> Result<AdmissionResponse, String> {
    limited();
    let t = Instant::now();
    let r = answer_inner(request, settings);
    let took = t.elapsed();
    let mut slowest = SLOWEST.lock().unwrap();
    if took > slowest.0 {
        *slowest = (took, short(&request["object"]["spec"].to_string(), 160));
    }
    r
}

fn slowest() -> String {
    let s = SLOWEST.lock().unwrap();
    format!("slowest evaluation {:.1?} (spec {})", s.0, s.1)
}

fn answer_inner(request: &Value, settings: &Value) -> Result<AdmissionResponse, String> {
    let once = || {
        limited()
            .instance()
            .and_then(|i| i.validate(request, settings))
            .map_err(|e| format!("{e:#}"))
    };
    once().or_else(|first| once().map_err(|second| format!("{first} / again: {second}")))
}

fn message_of(r: &AdmissionResponse) -> String {
    message(r)
}

fn short(s: &str, n: usize) -> String {
    if s.len() <= n {
        s.to_owned()
    } else {
        format!("{}… ({} bytes)", &s[..s.floor_char_boundary(n)], s.len())
    }
}

fn runner(default_cases: u32) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    TestRunner::new(Config {
        cases,
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        // Each case costs a fresh instance or two; shrinking is bounded so that a failure
        // is reported within minutes.
        max_shrink_iters: 256,
        ..Config::default()
    })
}

// ---------------------------------------------------------------------------------------
// The independent path resolver.

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// A field path quoted in a message, where, and whether the message says it is absent.
#[derive(Debug)]
struct Quoted {
    text: String,
    segs: Vec<Seg>,
    absent: bool,
}

fn is_key_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// Every `spec…` path in `message`: `spec` at a word start, then `.key` / `[n]` segments.
fn quoted_paths(message: &str) -> Vec<Quoted> {
    let b = message.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(off) = message[i..].find("spec") {
        let start = i + off;
        i = start + 4;
        let before_ok = start == 0 || {
            let c = b[start - 1];
            !(is_key_char(c) || c == b'.' || c == b'/' || c == b'[')
        };
        let after_ok = i == b.len() || !is_key_char(b[i]);
        if !before_ok || !after_ok {
            continue;
        }
        let mut segs = Vec::new();
        let mut j = i;
        loop {
            if j + 1 < b.len() && b[j] == b'.' && is_key_char(b[j + 1]) {
                let k = j + 1;
                let mut e = k;
                while e < b.len() && is_key_char(b[e]) {
                    e += 1;
                }
                segs.push(Seg::Key(message[k..e].to_owned()));
                j = e;
            } else if j < b.len() && b[j] == b'[' {
                let k = j + 1;
                let mut e = k;
                while e < b.len() && b[e].is_ascii_digit() {
                    e += 1;
                }
                if e > k && e < b.len() && b[e] == b']' {
                    segs.push(Seg::Index(message[k..e].parse().unwrap_or(usize::MAX)));
                    j = e + 1;
                } else {
                    break;
                }
            } else {
                break;
            }
        }
        let text = message[start..j].to_owned();
        let pre = &message[..start];
        let post = &message[j..];
        let absent = post.starts_with(" is missing")
            || post.starts_with(": is missing")
            || post.starts_with(") is missing")
            || post.starts_with("): is missing")
            // Where something should be defined, rather than a field of the object:
            // "is not defined in spec.receivers", "name a receiver from spec.receivers".
            || ["has no ", "defined in ", "defined under ", "needs ", "a receiver from "]
                .iter()
                .any(|p| pre.ends_with(p));
        out.push(Quoted { text, segs, absent });
        i = j.max(i);
    }
    out
}

/// Whether `segs` names a node of `v` (a key that is present, null or not; an index in
/// range). A key may itself contain dots (`labels.app.kubernetes.io`): every split of
/// the dotted run is tried.
fn resolves(v: &Value, segs: &[Seg]) -> bool {
    let Some((first, rest)) = segs.split_first() else {
        return true;
    };
    match (first, v) {
        (Seg::Index(n), Value::Array(a)) => a.get(*n).is_some_and(|x| resolves(x, rest)),
        (Seg::Key(_), Value::Object(m)) => {
            let mut key = String::new();
            for (taken, seg) in segs.iter().enumerate() {
                let Seg::Key(k) = seg else { break };
                if taken > 0 {
                    key.push('.');
                }
                key.push_str(k);
                if let Some(x) = m.get(&key) {
                    if resolves(x, &segs[taken + 1..]) {
                        return true;
                    }
                }
            }
            false
        }
        _ => false,
    }
}

/// What is wrong with the paths `message` quotes about `object` (empty when all
/// resolve), and how many paths it quotes.
fn check_paths(object: &Value, message: &str) -> (usize, Vec<String>) {
    let spec_parent = json!({"spec": object.get("spec").cloned().unwrap_or(Value::Null)});
    let has_spec = object.get("spec").is_some();
    let mut bad = Vec::new();
    let quoted = quoted_paths(message);
    for q in &quoted {
        let root = if has_spec { object } else { &spec_parent };
        let mut segs = vec![Seg::Key("spec".to_owned())];
        segs.extend(q.segs.iter().cloned());
        let ok = if q.absent {
            resolves(root, &segs[..segs.len() - 1])
        } else {
            resolves(root, &segs)
        };
        if !ok {
            bad.push(format!(
                "{}{}",
                q.text,
                if q.absent {
                    " (said absent: its parent is missing too)"
                } else {
                    ""
                }
            ));
        }
    }
    (quoted.len(), bad)
}

// ---------------------------------------------------------------------------------------
// Hostile values and the object mutator.

/// Every row of issue 17, as a rule expression.
fn issue_rows() -> Vec<(&'static str, String)> {
    vec![
        ("sum + 1e308 x60", format!("sum{}", " + 1e308".repeat(60))),
        ("escaped utf-8 or sum", r#"x{subcategory="dance\xc3\xa9"} or sum"#.to_owned()),
        ("@ -100 or sum", "x @ -100 or sum".to_owned()),
        (
            "200 (?i)\\p{Any} regexes",
            vec![r#"x{a=~"(?i)\\p{Any}"}"#; 200].join(" + "),
        ),
        (
            "seed with form feeds",
            "trustyai_meanshift{namespace=\"user1-test\",subcategory=\"danceability\"}\u{c}<\u{c}0.05"
                .to_owned(),
        ),
        ("bare matrix drift alert", "trustyai_meanshift[5m]".to_owned()),
        ("fill modifier", "a + fill(0) b".to_owned()),
        ("limitk", "limitk(1, x)".to_owned()),
        ("info", "info(up)".to_owned()),
        ("duration literal compare", "x > 5m".to_owned()),
        ("offset without unit", "x offset 5".to_owned()),
        (
            "bare spd regex",
            r#"trustyai_spd{subcategory=~"dance.*"}"#.to_owned(),
        ),
        ("or in braces", r#"x{a="1" or b="2"}"#.to_owned()),
        ("offset 1e308", "x offset 1e308".to_owned()),
        ("range 1e308", "x[1e308]".to_owned()),
        ("offset Inf", "x offset Inf".to_owned()),
        ("offset -1e20", "x offset -1e20".to_owned()),
        ("subquery step 1e308", "max_over_time(x[5m:1e308])".to_owned()),
        ("possessive regex", r#"{__name__=~"x.*+"}"#.to_owned()),
        (
            "unary plus string",
            r#"label_replace(x, "a", "b", "c", +"d")"#.to_owned(),
        ),
        ("x > 11e308", "x > 11e308".to_owned()),
        ("@ 1005m", "x @ 1005m".to_owned()),
        ("range without unit", "rate(x[5])".to_owned()),
        ("@ 1e308", "x @ 1e308".to_owned()),
        ("7000-deep ^", vec!["x"; 7001].join("^")),
    ]
}

fn exprs_pool() -> Vec<String> {
    let mut v: Vec<String> = issue_rows().into_iter().map(|(_, e)| e).collect();
    v.extend(
        [
            "up",
            "trustyai_meanshift{subcategory=\"danceability\"} < 0.05",
            "trustyai_meanshift > 0.05",
            "trustyai_fouriermmd",
            "trustyai_dir < 5",
            "x{namespace=\"user2-test\"} > 0",
            "x{namespace=~\"user.*\"} > 0",
            "x{namespace=\"{{ .Release.Namespace }}\"} > 0",
            "x < bool 0.05",
            "count_values(\"namespace\", x)",
            "label_replace(x, \"namespace\", \"user2-test\", \"\", \"\")",
            "sum(",
            "",
            "# only a comment",
        ]
        .map(str::to_owned),
    );
    v
}

const DURATIONS: &[&str] = &[
    "0s",
    "0",
    "10ms",
    "30s",
    "1m",
    "5x",
    "-5m",
    "1d",
    "10m",
    "1h",
    "12h",
    "99999999999y1s",
    "",
    "1h30m",
    "1e3s",
];
const TEMPLATES: &[&str] = &[
    "{{ $value }}",
    "{{ humanize $value }}",
    "{{ .Value }}",
    "{{ query \"up\" }}",
    "{{ with query \"up{namespace='user2-test'}\" }}{{ . | first | value }}{{ end }}",
    "{{ print \"}}\" $value }}",
    "{{ if }}",
    "{{ $labels.namespace }}",
    "user2-test",
    NS,
    "{{ .Release.Namespace }}",
    "critical",
];
const URLS: &[&str] = &[
    LISTENER,
    OTHER_LISTENER,
    "https://el-ct-listener-<USER_NAME>-toolings.<CLUSTER_DOMAIN>/",
    "http://169.254.169.254/latest/meta-data/",
    "https://evil.example.net/hook",
    "http://el-ct-listener.user2-toolings.svc.cluster.local:8080/",
    "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/x/../",
    "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/{{ .x }}/..",
    "not a url",
];
const KEYS: &[&str] = &[
    "for",
    "keep_firing_for",
    "labels",
    "annotations",
    "expr",
    "alert",
    "record",
    "namespace",
    "p",
    "severity",
    "interval",
    "routes",
    "receiver",
    "repeatInterval",
    "groupInterval",
    "groupWait",
    "continue",
    "matchers",
    "webhookConfigs",
    "httpConfig",
    "followRedirects",
    "sendResolved",
    "url",
    "urlSecret",
    "proxyUrl",
    "proxyURL",
    "noProxy",
    "tlsConfig",
    "insecureSkipVerify",
    "serverName",
    "oauth2",
    "tokenUrl",
    "muteTimeIntervals",
    "activeTimeIntervals",
    "timeIntervals",
    "emailConfigs",
    "slackConfigs",
    "name",
    "x-unknown",
];

fn pick<T: Clone>(pool: &[T], n: u32) -> T {
    pool[n as usize % pool.len()].clone()
}

/// A value of any JSON type, shallow.
fn generic_value(n: u32) -> Value {
    pick(
        &[
            Value::Null,
            json!(5),
            json!(-1),
            json!(1.5e300),
            json!(true),
            json!(false),
            json!("x"),
            json!(""),
            json!([]),
            json!({}),
            json!(["x", 1]),
            json!({"a": 1}),
            json!({"name": "n", "key": "k"}),
        ],
        n,
    )
}

fn rule(n: u32) -> Value {
    let exprs = exprs_pool();
    let expr = pick(&exprs, n);
    match n % 4 {
        0 => json!({"record": format!("r:{n}"), "expr": expr}),
        1 => json!({"alert": format!("a{n}"), "expr": expr}),
        2 => json!({"alert": format!("a{n}"), "expr": expr, "for": pick(DURATIONS, n / 4),
                    "labels": {"p": pick(TEMPLATES, n / 3)}}),
        _ => json!({"alert": format!("a{n}"), "expr": expr, "labels": {"severity": "x"},
                    "annotations": {"summary": pick(TEMPLATES, n / 5)}}),
    }
}

fn webhook(n: u32) -> Value {
    match n % 5 {
        0 => json!({"url": pick(URLS, n / 5)}),
        1 => {
            json!({"url": pick(URLS, n / 5), "httpConfig": {"followRedirects": n.is_multiple_of(2)}})
        }
        2 => {
            json!({"url": pick(URLS, n / 5), "httpConfig": {"oauth2": {"tokenUrl": pick(URLS, n / 7)}}})
        }
        3 => {
            json!({"url": pick(URLS, n / 5), "httpConfig": {"proxyUrl": "http://evil.example.net:3128"}})
        }
        _ => {
            json!({"url": pick(URLS, n / 5), "sendResolved": true, "httpConfig": {"tlsConfig": {"insecureSkipVerify": true}}})
        }
    }
}

/// The value a mutation writes at `key` (the last path segment), from `n`: a value of the
/// field's kind (a duration for `for`, a URL for `url`, …) or, when `generic`, any type.
fn value_for(key: &str, n: u32, generic: bool) -> Value {
    if generic {
        return generic_value(n);
    }
    match key {
        "for" | "keep_firing_for" | "repeatInterval" | "groupInterval" | "groupWait"
        | "interval" => json!(pick(DURATIONS, n)),
        "expr" => json!(pick(&exprs_pool(), n)),
        "labels" | "annotations" => {
            json!({pick(&["p", "namespace", "severity", "summary"], n): pick(TEMPLATES, n / 4)})
        }
        "url" | "tokenUrl" | "proxyUrl" | "proxyURL" => json!(pick(URLS, n)),
        "followRedirects" | "insecureSkipVerify" | "continue" | "sendResolved" => {
            json!(n.is_multiple_of(2))
        }
        "httpConfig" => pick(
            &[
                json!({"followRedirects": true}),
                json!({"proxyFromEnvironment": true}),
                json!({"oauth2": {"tokenUrl": LISTENER, "proxyURL": "http://p:1"}}),
                json!({"tlsConfig": {"serverName": "el-ct-listener-user2-toolings"}}),
                json!({"authorization": {"credentials": {"name": "t", "key": "t"}}}),
            ],
            n,
        ),
        "groups" => json!({"name": format!("g{n}"), "rules": [rule(n)]}),
        "rules" => rule(n),
        "receivers" => json!({"name": format!("r{n}"), "webhookConfigs": [webhook(n)]}),
        "webhookConfigs" => webhook(n),
        "routes" => {
            json!({"receiver": pick(&["default", "r1", "gone"], n), "groupInterval": pick(DURATIONS, n / 3),
                   "continue": n.is_multiple_of(2), "routes": if n.is_multiple_of(3) { json!([{"receiver": "default"}]) } else { json!([]) }})
        }
        "muteTimeIntervals" | "activeTimeIntervals" => json!([pick(&["office", "nope"], n)]),
        "receiver" | "name" | "alert" | "record" => {
            json!(pick(&["default", "g", "a", "r1", "jukebox.rules", ""], n))
        }
        "namespace" | "p" | "severity" | "summary" => json!(pick(TEMPLATES, n)),
        _ => generic_value(n),
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the `at`-th node under `spec` (preorder).
    Replace { at: usize, n: u32, generic: bool },
    /// Set a key of the `at`-th object node under `spec`.
    SetKey {
        at: usize,
        key: usize,
        n: u32,
        generic: bool,
    },
    /// Push onto the `at`-th list under `spec` (a group, rule, receiver, route … by its
    /// field), or duplicate one of its elements.
    Push { at: usize, n: u32, duplicate: bool },
    /// Remove the `at`-th node under `spec`.
    Remove { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), any::<u32>(), prop::bool::weighted(0.4))
            .prop_map(|(at, n, generic)| Mutation::Replace { at, n, generic }),
        3 => (any::<usize>(), any::<usize>(), any::<u32>(), prop::bool::weighted(0.2))
            .prop_map(|(at, key, n, generic)| Mutation::SetKey { at, key, n, generic }),
        3 => (any::<usize>(), any::<u32>(), prop::bool::weighted(0.3))
            .prop_map(|(at, n, duplicate)| Mutation::Push { at, n, duplicate }),
        1 => any::<usize>().prop_map(|at| Mutation::Remove { at }),
    ]
}

/// JSON pointers of every node under `/spec` (itself included), preorder.
fn nodes(v: &Value, at: String, out: &mut Vec<(String, String)>, key: &str) {
    out.push((at.clone(), key.to_owned()));
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                nodes(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                    k,
                );
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                // An element is named by its list's field, so `rules/3` mutates as a rule.
                nodes(x, format!("{at}/{i}"), out, key);
            }
        }
        _ => {}
    }
}

fn apply(object: &mut Value, m: &Mutation) {
    let mut all = Vec::new();
    if let Some(spec) = object.get("spec") {
        nodes(spec, "/spec".to_owned(), &mut all, "spec");
    } else {
        object["spec"] = json!({});
        return;
    }
    let parent_key =
        |ptr: &str| -> String { ptr.rsplit('/').next().unwrap_or_default().to_owned() };
    match *m {
        Mutation::Replace { at, n, generic } => {
            let (ptr, key) = &all[at % all.len()];
            let last = parent_key(ptr);
            let key = if last.parse::<usize>().is_ok() {
                key.clone()
            } else {
                last
            };
            let value = value_for(&key, n, generic);
            *object.pointer_mut(ptr).unwrap() = value;
        }
        Mutation::SetKey {
            at,
            key,
            n,
            generic,
        } => {
            let objects: Vec<&(String, String)> = all
                .iter()
                .filter(|(p, _)| object.pointer(p).is_some_and(Value::is_object))
                .collect();
            if objects.is_empty() {
                return;
            }
            let ptr = objects[at % objects.len()].0.clone();
            let key = KEYS[key % KEYS.len()];
            let value = value_for(key, n, generic);
            object.pointer_mut(&ptr).unwrap()[key] = value;
        }
        Mutation::Push { at, n, duplicate } => {
            let lists: Vec<(String, String)> = all
                .iter()
                .filter(|(p, _)| object.pointer(p).is_some_and(Value::is_array))
                .cloned()
                .collect();
            if lists.is_empty() {
                return;
            }
            let (ptr, key) = &lists[at % lists.len()];
            let list = object.pointer_mut(ptr).unwrap().as_array_mut().unwrap();
            if duplicate && !list.is_empty() {
                let x = list[n as usize % list.len()].clone();
                list.push(x);
            } else {
                list.push(value_for(key, n, false));
            }
        }
        Mutation::Remove { at } => {
            let (ptr, _) = &all[at % all.len()];
            if ptr == "/spec" {
                object.as_object_mut().unwrap().remove("spec");
                return;
            }
            let (parent, last) = ptr.rsplit_once('/').unwrap();
            let last = last.replace("~1", "/").replace("~0", "~");
            match object.pointer_mut(parent).unwrap() {
                Value::Object(m) => {
                    m.remove(&last);
                }
                Value::Array(a) => {
                    a.remove(last.parse::<usize>().unwrap());
                }
                _ => {}
            }
        }
    }
}

const RULE_FIXTURES: &[&str] = &[
    "seed-prometheusrule",
    "prometheusrule-malformed",
    "prometheusrule-no-matcher",
    "prometheusrule-other-namespace",
    "prometheusrule-recording-rules",
    "prometheusrule-unrendered-template",
    "prometheusrule-update-other-namespace",
];
const AMC_FIXTURES: &[&str] = &[
    "seed-alertmanagerconfig",
    "alertmanagerconfig-metadata-endpoint",
    "alertmanagerconfig-misindented",
    "alertmanagerconfig-other-user",
    "alertmanagerconfig-slack",
    "alertmanagerconfig-undefined-nested-receiver",
    "alertmanagerconfig-url-secret",
    "alertmanagerconfig-v1alpha1-correct",
    "alertmanagerconfig-v1beta1-correct",
];

fn fixtures() -> &'static Vec<(&'static str, Value)> {
    static F: OnceLock<Vec<(&'static str, Value)>> = OnceLock::new();
    F.get_or_init(|| {
        RULE_FIXTURES
            .iter()
            .chain(AMC_FIXTURES)
            .map(|name| (*name, request(name)))
            .collect()
    })
}

/// A fixture and the mutations to apply to its object (see `build`): the value proptest
/// shrinks and prints stays small.
fn mutated_request(
    fixtures: &'static [&'static str],
) -> impl Strategy<Value = (&'static str, Vec<Mutation>)> {
    (
        prop::sample::select(fixtures),
        prop::collection::vec(mutation(), 1..6),
    )
}

fn build(name: &str, mutations: &[Mutation]) -> Value {
    let mut r = fixtures_by_name(name);
    for m in mutations {
        apply(&mut r["object"], m);
    }
    r
}

fn fixtures_by_name(name: &str) -> Value {
    fixtures()
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.clone())
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// Property 1: every rejection names a field that exists.

#[derive(Default)]
struct PathStats {
    cases: usize,
    rejections: usize,
    with_path: usize,
    paths: usize,
    without_path: Vec<String>,
}

#[test]
fn every_rejection_names_a_field_that_exists() {
    let started = Instant::now();
    let stats = Mutex::new(PathStats::default());
    let all: &'static [&'static str] =
        Box::leak([RULE_FIXTURES, AMC_FIXTURES].concat().into_boxed_slice());
    let strategy = (mutated_request(all), any::<bool>());
    let result = runner(2000).run(&strategy, |((name, mutations), overwrite)| {
        let request = build(name, &mutations);
        let r = answer(&request, &settings(overwrite)).map_err(|e| {
            TestCaseError::fail(format!(
                "{name} (onConflict overwrite: {overwrite}): no answer: {e}\nspec: {}",
                short(&request["object"]["spec"].to_string(), 20_000)
            ))
        })?;
        let mut s = stats.lock().unwrap();
        s.cases += 1;
        if r.allowed {
            return Ok(());
        }
        s.rejections += 1;
        let m = message_of(&r);
        let (count, bad) = check_paths(&request["object"], &m);
        s.paths += count;
        if count > 0 {
            s.with_path += 1;
        } else {
            s.without_path.push(short(&m, 300));
        }
        drop(s);
        prop_assert!(
            bad.is_empty(),
            "{name} (onConflict overwrite: {overwrite}): the message quotes {bad:?}, which the \
             object does not have\nmessage: {}\nspec: {}",
            short(&m, 2000),
            short(&request["object"]["spec"].to_string(), 4000)
        );
        Ok(())
    });
    let s = stats.into_inner().unwrap();
    eprintln!(
        "every_rejection_names_a_field_that_exists: {} cases, {} rejections, {} quoting {} paths, \
         {} quoting none, in {:.1?}; {}",
        s.cases,
        s.rejections,
        s.with_path,
        s.paths,
        s.without_path.len(),
        started.elapsed(),
        slowest()
    );
    let mut unique = s.without_path.clone();
    unique.sort();
    unique.dedup();
    for m in &unique {
        eprintln!("  rejection quoting no path (a candidate for a better message): {m}");
    }
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(
        s.with_path * 100 >= s.rejections * 95,
        "only {} of {} rejections quote a field path",
        s.with_path,
        s.rejections
    );
}

#[test]
fn the_path_resolver_is_right_on_known_messages() {
    let object = json!({"spec": {"groups": [{"name": "g", "labels": {"p": "x", "app.kubernetes.io": "y"},
        "rules": [{"alert": "a", "expr": "up"}, {"alert": "b", "expr": null, "labels": {"p": 1}}]}],
        "route": {"receiver": "r", "routes": [{}, {}, {"groupInterval": "1s"}]}}});
    let (n, bad) = check_paths(
        &object,
        "group \"g\" alert \"b\" (spec.groups[0].rules[1].labels.p): must be a string; \
         spec.route.routes[2].groupInterval: \"1s\" is shorter. spec.groups[0].labels.app.kubernetes.io. \
         spec.route.repeatInterval is missing; the object has no spec.receivers; see spec",
    );
    assert_eq!((n, bad), (6, Vec::<String>::new()));
    let (n, bad) = check_paths(
        &object,
        "spec.groups[1].name, spec.groups[0].rules[2], spec.route.routes[0].x is missing, spec.nope.x is missing, respec.x",
    );
    assert_eq!(n, 4);
    assert_eq!(
        bad,
        [
            "spec.groups[1].name",
            "spec.groups[0].rules[2]",
            "spec.nope.x (said absent: its parent is missing too)"
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Property 2: fuzzing sees the .wasm.

/// Tokens the character-level mutator inserts.
const TOKENS: &[&str] = &[
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "[5m]",
    "[5m:1e308]",
    ",",
    "\"",
    "`",
    "'",
    "#",
    "\n",
    "\r",
    "\u{c}",
    " or ",
    " and ",
    " unless ",
    " + ",
    " ^ ",
    " atan2 ",
    " > ",
    " < bool ",
    "sum",
    " by (job) ",
    "offset ",
    " @ ",
    "1e308",
    "-1e20",
    "Inf",
    "NaN",
    "0x1F",
    "5m",
    "1y99999999999999999d",
    "=~",
    "!~",
    "\"(?i)\\\\p{Any}\"",
    "namespace=\"user2-test\"",
    "namespace=~\"user.*\"",
    "{{ .Release.Namespace }}",
    "é",
    "\u{202e}",
    "\u{feff}",
    "\u{0}",
    "\u{1F600}",
    "\\xc3\\xa9",
    "trustyai_meanshift",
    "trustyai_spd",
    "rate(",
    "label_replace(",
    "fill(0) ",
    "limitk(1,",
    "info(",
    "start()",
    "$value",
    "{{ $value }}",
    "18446744073709551616",
    "9999999999999999999d",
];

#[derive(Debug, Clone)]
enum Edit {
    Insert(prop::sample::Index, usize),
    Delete(prop::sample::Index, usize),
    Duplicate(prop::sample::Index, usize),
    /// Wrap in `depth` levels of `(`, `abs(`, `sum(`, `-` or `x^` .
    Nest(usize, usize),
    /// A number replaced by a huge one.
    Huge(prop::sample::Index, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<prop::sample::Index>(), 0..TOKENS.len()).prop_map(|(i, t)| Edit::Insert(i, t)),
        2 => (any::<prop::sample::Index>(), 1usize..12).prop_map(|(i, n)| Edit::Delete(i, n)),
        2 => (any::<prop::sample::Index>(), 1usize..40).prop_map(|(i, n)| Edit::Duplicate(i, n)),
        1 => (0usize..5, prop_oneof![1usize..20, 240usize..270, 900usize..1100])
            .prop_map(|(k, d)| Edit::Nest(k, d)),
        1 => (any::<prop::sample::Index>(), 0usize..4).prop_map(|(i, k)| Edit::Huge(i, k)),
    ]
}

fn boundaries(s: &str) -> Vec<usize> {
    s.char_indices().map(|(i, _)| i).chain([s.len()]).collect()
}

fn apply_edit(s: &str, e: &Edit) -> String {
    let b = boundaries(s);
    match e {
        Edit::Insert(i, t) => {
            let at = b[i.index(b.len())];
            format!("{}{}{}", &s[..at], TOKENS[*t], &s[at..])
        }
        Edit::Delete(i, n) => {
            let k = i.index(b.len());
            let end = b[(k + n).min(b.len() - 1)];
            format!("{}{}", &s[..b[k]], &s[end..])
        }
        Edit::Duplicate(i, n) => {
            let k = i.index(b.len());
            let end = b[(k + n).min(b.len() - 1)];
            format!("{}{}", &s[..end], &s[b[k]..])
        }
        Edit::Nest(kind, depth) => {
            let (open, close) = [
                ("(", ")"),
                ("abs(", ")"),
                ("sum(", ")"),
                ("-", ""),
                ("x^", ""),
            ][*kind];
            format!("{}{s}{}", open.repeat(*depth), close.repeat(*depth))
        }
        Edit::Huge(i, k) => {
            let digits: Vec<usize> = s
                .char_indices()
                .filter(|(_, c)| c.is_ascii_digit())
                .map(|(p, _)| p)
                .collect();
            let huge = [
                "1e308",
                "99999999999999999999",
                "11e308",
                "0x7fffffffffffffffff",
            ][*k];
            if digits.is_empty() {
                return format!("{s} > {huge}");
            }
            let at = digits[i.index(digits.len())];
            format!("{}{huge}{}", &s[..at], &s[at + 1..])
        }
    }
}

fn filled(text: String, ws: &str) -> String {
    text.replace(GAP, ws)
}

/// `common::promql_gen` output, every gap filled with one kind of white space.
fn generated_expr() -> impl Strategy<Value = String> {
    let ws = prop::sample::select(vec![" ", "\u{c}", "\n\t", " # c\n", "\r\n", "\u{c} \u{c}"]);
    (vector_expr(), ws).prop_map(|(t, w)| filled(t, w))
}

fn fuzz_expr() -> impl Strategy<Value = String> {
    let rows: Vec<String> = issue_rows()
        .into_iter()
        .filter(|(name, _)| !KNOWN_BAD_ROWS.contains(name))
        .map(|(_, e)| e)
        .collect();
    let seed = prop_oneof![
        3 => prop::sample::select(rows.clone()),
        2 => generated_expr(),
        1 => prop::sample::select(exprs_pool()),
    ];
    prop_oneof![
        2 => prop::sample::select(rows),
        5 => generated_expr(),
        5 => (seed, prop::collection::vec(edit(), 1..6)).prop_map(|(s, edits)| {
            edits.iter().fold(s, |s, e| apply_edit(&s, e))
        }),
    ]
}

/// What one fuzz case sends: rules over fuzzed expressions, or a mutated fixture.
#[derive(Debug, Clone)]
enum FuzzCase {
    /// A PrometheusRule with these rules: (expression, shape of the rule).
    Rules(Vec<(String, u32)>),
    Mutated(&'static str, Vec<Mutation>),
}

impl FuzzCase {
    fn label(&self) -> String {
        match self {
            FuzzCase::Rules(_) => "fuzzed rules".to_owned(),
            FuzzCase::Mutated(name, _) => format!("mutated {name}"),
        }
    }

    /// Which generator made the case, for the report.
    fn kind(&self) -> String {
        match self {
            FuzzCase::Rules(_) => "PrometheusRule with fuzzed expressions".to_owned(),
            FuzzCase::Mutated(name, _) if name.starts_with("alertmanager") => {
                "mutated AlertmanagerConfig fixture".to_owned()
            }
            FuzzCase::Mutated(..) => "mutated PrometheusRule fixture".to_owned(),
        }
    }

    fn request(&self) -> Value {
        match self {
            FuzzCase::Mutated(name, mutations) => build(name, mutations),
            FuzzCase::Rules(rules) => {
                let rules: Vec<Value> = rules
                    .iter()
                    .map(|(expr, shape)| match shape {
                        0 => json!({"record": "r:x", "expr": expr}),
                        1 => json!({"alert": "a", "expr": expr}),
                        2 => json!({"alert": "a", "expr": expr, "labels": {"p": "{{ $labels.job }}"}}),
                        _ => json!({"alert": "a", "for": "10m", "labels": {"severity": "x"}, "expr": expr}),
                    })
                    .collect();
                let mut r = fixtures_by_name("seed-prometheusrule");
                r["object"]["spec"]["groups"] = json!([{"name": "g", "rules": rules}]);
                r
            }
        }
    }
}

fn fuzz_case() -> impl Strategy<Value = FuzzCase> {
    prop_oneof![
        // Mostly one rule: one refused rule refuses the object, and admitted objects are
        // what the growth and idempotence checks need.
        3 => prop::collection::vec((fuzz_expr(), 0u32..8), 1..2).prop_map(FuzzCase::Rules),
        1 => prop::collection::vec((fuzz_expr(), 0u32..8), 2..4).prop_map(FuzzCase::Rules),
        1 => mutated_request(AMC_FIXTURES).prop_map(|(n, m)| FuzzCase::Mutated(n, m)),
        1 => mutated_request(RULE_FIXTURES).prop_map(|(n, m)| FuzzCase::Mutated(n, m)),
    ]
}

fn count_in(v: &Value, field: &str, inner: &str) -> usize {
    v.pointer(&format!("/spec/{field}"))
        .and_then(Value::as_array)
        .map(|outer| {
            outer
                .iter()
                .filter_map(|x| x.get(inner).and_then(Value::as_array))
                .map(Vec::len)
                .sum()
        })
        .unwrap_or(0)
}

/// The growth an admitted object is allowed, and how it was counted.
fn allowed_growth(input: &Value, output: &Value) -> (usize, String) {
    let rules = count_in(input, "groups", "rules");
    let webhooks = count_in(input, "receivers", "webhookConfigs");
    let matcher = r#"namespace=\"user1-test\""#;
    let before = serde_json::to_string(input)
        .unwrap()
        .matches(matcher)
        .count();
    let after = serde_json::to_string(output)
        .unwrap()
        .matches(matcher)
        .count();
    let matchers = after.saturating_sub(before);
    (
        GROWTH_PER_OBJECT
            + rules * GROWTH_PER_RULE
            + webhooks * GROWTH_PER_WEBHOOK
            + matchers * GROWTH_PER_MATCHER,
        format!("{rules} rules, {webhooks} webhooks, {matchers} matchers inserted"),
    )
}

/// The three assertions of the fuzz property on one request.
fn fuzz_check(label: &str, request: &Value, overwrite: bool) -> Result<bool, String> {
    let settings = settings(overwrite);
    let r = answer(request, &settings).map_err(|e| format!("{label}: no answer: {e}"))?;
    if !r.allowed {
        return Ok(false);
    }
    let Some(mutated) = &r.mutated_object else {
        return Ok(true);
    };
    let input = &request["object"];
    let (bound, why) = allowed_growth(input, mutated);
    let before = serde_json::to_vec(input).unwrap().len();
    let after = serde_json::to_vec(mutated).unwrap().len();
    if after > before + bound {
        return Err(format!(
            "{label}: admitted object grew from {before} to {after} bytes, past the bound of {bound} ({why})\npatch: {}",
            short(&patch_ops(&r).to_string(), 3000)
        ));
    }
    let again = answer(&with_object(request, mutated.clone()), &settings)
        .map_err(|e| format!("{label}: no answer for the mutated object: {e}"))?;
    if !again.allowed {
        return Err(format!(
            "{label}: the mutated object is rejected: {}\nfirst patch: {}",
            short(&message_of(&again), 1500),
            short(&patch_ops(&r).to_string(), 1500)
        ));
    }
    if again.patch.is_some() {
        return Err(format!(
            "{label}: the mutated object changes again: {}\nfirst patch: {}",
            short(&patch_ops(&again).to_string(), 1500),
            short(&patch_ops(&r).to_string(), 1500)
        ));
    }
    Ok(true)
}

/// Rows of the issue that fail on the current tree, by name, with the settings variant;
/// they are left out of the property and kept as ignored tests below.
const KNOWN_BAD_ROWS: &[&str] = &[];

fn rule_with(expr: &str) -> Value {
    let mut r = fixtures_by_name("seed-prometheusrule");
    r["object"]["spec"]["groups"] = json!([{"name": "g", "rules": [
        {"alert": "a", "for": "10m", "labels": {"severity": "x"}, "expr": expr}]}]);
    r
}

#[test]
fn fuzzing_sees_the_wasm() {
    let started = Instant::now();
    // Every row, as written, under both settings.
    let mut rows = 0;
    let mut failed = Vec::new();
    for (name, expr) in issue_rows() {
        if KNOWN_BAD_ROWS.contains(&name) {
            continue;
        }
        for overwrite in [false, true] {
            rows += 1;
            if let Err(e) = fuzz_check(name, &rule_with(&expr), overwrite) {
                failed.push(format!(
                    "row {name:?} (onConflict overwrite: {overwrite}): {}",
                    short(&e, 1500)
                ));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} rows fail:\n{}",
        failed.len(),
        failed.join("\n")
    );
    let rows_took = started.elapsed();
    let admitted = Mutex::new((0usize, 0usize));
    let by_kind = Mutex::new(std::collections::BTreeMap::<String, (usize, usize)>::new());
    let result = runner(3000).run(&(fuzz_case(), any::<bool>()), |(case, overwrite)| {
        let (label, request) = (case.label(), case.request());
        let ok = fuzz_check(&label, &request, overwrite).map_err(|e| {
            TestCaseError::fail(format!(
                "{e}\n(onConflict overwrite: {overwrite})\nspec: {}",
                short(&request["object"]["spec"].to_string(), 3000)
            ))
        })?;
        let mut a = admitted.lock().unwrap();
        a.0 += 1;
        a.1 += ok as usize;
        let mut k = by_kind.lock().unwrap();
        let e = k.entry(case.kind()).or_default();
        e.0 += 1;
        e.1 += ok as usize;
        Ok(())
    });
    let (cases, admitted) = admitted.into_inner().unwrap();
    eprintln!(
        "fuzzing_sees_the_wasm: {rows} issue rows in {rows_took:.1?}; {cases} generated cases \
         ({admitted} admitted, checked for growth and idempotence) in {:.1?}; {}",
        started.elapsed(),
        slowest()
    );
    for (kind, (n, ok)) in by_kind.into_inner().unwrap() {
        eprintln!("  {kind}: {n} cases, {ok} admitted");
    }
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(started.elapsed() < Duration::from_secs(600));
}

// ---------------------------------------------------------------------------------------
// Policy bugs the properties found, kept as they were found.

/// Found by `fuzzing_sees_the_wasm` (a generated expression, gaps filled with `\n\t`).
/// The bare catalog metric in `topk`'s second argument got the default ` < 0.05`
/// appended after the whole expression; sent back, the admitted object was rejected,
/// because the now-compared expression made the direction check reach the
/// `trustyai_meanshift > bool 0.5` inside `scalar(…)`, which the first review let pass.
/// Fixed: every comparison is checked before a completion, so it is refused at once.
#[test]
fn a_completion_never_admits_what_the_completed_expression_is_refused_for() {
    let mut request = rule_with("");
    request["object"]["spec"]["groups"][0]["rules"][0] = json!({"alert": "a", "expr": "topk(scalar(trustyai_meanshift > bool 0.5), trustyai_meanshift)"});
    for overwrite in [false, true] {
        let r = answer(&request, &settings(overwrite)).unwrap();
        assert!(!r.allowed, "admitted: {:?}", r.mutated_object);
        assert!(
            message_of(&r).contains("`trustyai_meanshift > 0.5` would fire when there is no drift"),
            "{}",
            message_of(&r)
        );
    }
}
