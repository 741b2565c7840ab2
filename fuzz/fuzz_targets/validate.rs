//! Fuzzes the policy's `validate` entry (the same function the .wasm exports) with
//! structured PrometheusRules and AlertmanagerConfigs, plus raw bytes. Asserts: no panic;
//! a reply that is valid JSON; an accepted mutated object that, fed back, needs no
//! further change; an accepted PrometheusRule whose every selector carries the enforced
//! namespace matcher.
//!
//! Each input runs on a thread whose stack is no larger than the one wasmtime gives the
//! .wasm in policy-server (512 KiB) rather than the default 8 MiB. That is not the
//! .wasm's stack: native frames are smaller, and the two inputs that trapped the .wasm
//! (6,000 and 16,000 unary minus hidden from the old depth check) ran to the end here on
//! the pre-fix code. Traps are judged on the .wasm itself (tests/it/hostile_input.rs).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use promql_parser::label::MatchOp;
use promql_parser::parser::{parse, Expr};
use serde_json::{json, Map, Value};

const NAMESPACE: &str = "user1-test";

/// PromQL pieces: random sequences of them are often valid, and reach deep.
const FRAGMENTS: &[&str] = &[
    "trustyai_meanshift", "trustyai_spd", "trustyai_fouriermmd", "up", "x", "{", "}", ",",
    "namespace=\"user1-test\"", "namespace=\"user2-test\"", "namespace=~\".*\"",
    "namespace!=\"a\"", "namespace=\"{{ .Release.Namespace }}\"", "job=\"a\"", "a=\"1\" or b=\"2\"",
    "(", ")", "[5m]", "[10m:1m]", "sum", "min", "topk", "quantile", "count_values", "\"v\"",
    "rate", "abs", "scalar", "vector", "min_over_time", "histogram_quantile", " by (job) ",
    " without (le) ", " + ", " - ", " * ", " / ", " ^ ", " and ", " or ", " unless ", " on(job) ",
    " group_left ", " < ", " > ", " <= ", " >= ", " == ", " != ", " bool ", "0.05", "0.8", "-0.1",
    "5", "1e-3", "Inf", "NaN", " offset 5m", " @ 100", " @ start()", "-", "#c\n", "`raw`",
    "#\r", "\r", "#", "\"", "-----", "((((", "))))",
];

/// wasmtime's default maximum wasm stack, which policy-server keeps.
const WASM_STACK_BYTES: usize = 512 * 1024;

#[derive(Arbitrary, Debug)]
enum ExprInput {
    Fragments(Vec<u8>),
    Text(String),
    Int(i64),
    Float(f64),
    Null,
}

impl ExprInput {
    fn to_json(&self) -> Value {
        match self {
            ExprInput::Fragments(picks) => json!(picks
                .iter()
                .map(|p| FRAGMENTS[*p as usize % FRAGMENTS.len()])
                .collect::<String>()),
            ExprInput::Text(t) => json!(t),
            ExprInput::Int(i) => json!(i),
            ExprInput::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            ExprInput::Null => Value::Null,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct RuleInput {
    alert: Option<String>,
    record: Option<String>,
    expr: ExprInput,
    for_: Option<String>,
    labels: Vec<(String, String)>,
}

#[derive(Arbitrary, Debug)]
struct GroupInput {
    name: Option<String>,
    rules: Vec<RuleInput>,
}

#[derive(Arbitrary, Debug)]
struct WebhookInput {
    url: Option<String>,
    url_secret: bool,
    send_resolved: Option<bool>,
    proxy: bool,
}

#[derive(Arbitrary, Debug)]
struct ReceiverInput {
    name: Option<String>,
    webhooks: Vec<WebhookInput>,
}

#[derive(Arbitrary, Debug)]
enum Input {
    Rule { groups: Vec<GroupInput>, overwrite: bool },
    Alertmanager { v1beta1: bool, receivers: Vec<ReceiverInput>, route_receiver: Option<String>, nested: Vec<Option<String>> },
    Raw(Vec<u8>),
}

fn request(kind: &str, version: &str, object: Value) -> Value {
    json!({
        "uid": "fuzz", "operation": "CREATE", "namespace": NAMESPACE, "name": "fuzz",
        "kind": {"group": "monitoring.coreos.com", "version": version, "kind": kind},
        "object": object,
    })
}

fn rule_object(groups: &[GroupInput]) -> Value {
    let groups: Vec<Value> = groups
        .iter()
        .map(|g| {
            let rules: Vec<Value> = g
                .rules
                .iter()
                .map(|r| {
                    let mut rule = Map::new();
                    if let Some(a) = &r.alert { rule.insert("alert".into(), json!(a)); }
                    if let Some(rec) = &r.record { rule.insert("record".into(), json!(rec)); }
                    rule.insert("expr".into(), r.expr.to_json());
                    if let Some(f) = &r.for_ { rule.insert("for".into(), json!(f)); }
                    if !r.labels.is_empty() {
                        rule.insert("labels".into(), Value::Object(r.labels.iter().map(|(k, v)| (k.clone(), json!(v))).collect()));
                    }
                    Value::Object(rule)
                })
                .collect();
            json!({"name": g.name, "rules": rules})
        })
        .collect();
    json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
           "metadata": {"name": "fuzz", "namespace": NAMESPACE}, "spec": {"groups": groups}})
}

fn alertmanager_object(receivers: &[ReceiverInput], route_receiver: &Option<String>, nested: &[Option<String>]) -> Value {
    let receivers: Vec<Value> = receivers
        .iter()
        .map(|r| {
            let hooks: Vec<Value> = r
                .webhooks
                .iter()
                .map(|w| {
                    let mut hook = Map::new();
                    if let Some(u) = &w.url { hook.insert("url".into(), json!(u)); }
                    if w.url_secret { hook.insert("urlSecret".into(), json!({"name": "s", "key": "k"})); }
                    if let Some(b) = w.send_resolved { hook.insert("sendResolved".into(), json!(b)); }
                    if w.proxy { hook.insert("httpConfig".into(), json!({"proxyURL": "http://p:3128"})); }
                    Value::Object(hook)
                })
                .collect();
            json!({"name": r.name, "webhookConfigs": hooks})
        })
        .collect();
    let routes: Vec<Value> = nested.iter().map(|r| json!({"receiver": r})).collect();
    json!({"apiVersion": "monitoring.coreos.com/v1beta1", "kind": "AlertmanagerConfig",
           "metadata": {"name": "fuzz", "namespace": NAMESPACE},
           "spec": {"route": {"receiver": route_receiver, "routes": routes}, "receivers": receivers}})
}

fn call(request: &Value, settings: &Value) -> Value {
    let payload = serde_json::to_vec(&json!({"request": request, "settings": settings})).unwrap();
    let reply = tenant_alerting_policy::validate(&payload).expect("validate answers");
    serde_json::from_slice(&reply).expect("validate replies with JSON")
}

fn assert_every_selector_scoped(expr: &Expr) {
    match expr {
        Expr::VectorSelector(vs) => assert!(vs.matchers.matchers.iter().any(|m| m.name == "namespace" && m.op == MatchOp::Equal && m.value == NAMESPACE), "unscoped selector {vs}"),
        Expr::MatrixSelector(ms) => assert_every_selector_scoped(&Expr::VectorSelector(ms.vs.clone())),
        Expr::Aggregate(a) => {
            if let Some(p) = a.param.as_deref() { assert_every_selector_scoped(p); }
            assert_every_selector_scoped(&a.expr);
        }
        Expr::Unary(u) => assert_every_selector_scoped(&u.expr),
        Expr::Binary(b) => { assert_every_selector_scoped(&b.lhs); assert_every_selector_scoped(&b.rhs); }
        Expr::Paren(p) => assert_every_selector_scoped(&p.expr),
        Expr::Subquery(s) => assert_every_selector_scoped(&s.expr),
        Expr::Call(c) => c.args.args.iter().for_each(|a| assert_every_selector_scoped(a)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

fuzz_target!(|input: Input| {
    std::thread::Builder::new()
        .stack_size(WASM_STACK_BYTES)
        .spawn(move || check(input))
        .expect("spawn the checking thread")
        .join()
        .expect("the check ran to the end");
});

fn check(input: Input) {
    let mut settings = json!({"clusterDomain": "apps.example.com"});
    let request = match &input {
        Input::Rule { groups, overwrite } => {
            if *overwrite { settings["onConflict"] = json!("overwrite"); }
            request("PrometheusRule", "v1", rule_object(groups))
        }
        Input::Alertmanager { v1beta1, receivers, route_receiver, nested } => {
            let version = if *v1beta1 { "v1beta1" } else { "v1alpha1" };
            request("AlertmanagerConfig", version, alertmanager_object(receivers, route_receiver, nested))
        }
        Input::Raw(bytes) => {
            let reply = tenant_alerting_policy::validate(bytes).expect("validate answers");
            let _: Value = serde_json::from_slice(&reply).expect("validate replies with JSON");
            return;
        }
    };
    let reply = call(&request, &settings);
    if reply["accepted"] != true {
        assert!(reply["message"].is_string(), "a rejection without a message: {reply}");
        return;
    }
    let admitted = if reply["mutated_object"].is_null() {
        request["object"].clone()
    } else {
        let mut again = request.clone();
        again["object"] = reply["mutated_object"].clone();
        let second = call(&again, &settings);
        assert_eq!(second["accepted"], true, "mutated object rejected: {second}");
        assert!(second["mutated_object"].is_null(), "mutated object changed again: {second}");
        reply["mutated_object"].clone()
    };
    if let Input::Rule { .. } = input {
        for group in admitted["spec"]["groups"].as_array().into_iter().flatten() {
            for rule in group["rules"].as_array().into_iter().flatten() {
                let text = match &rule["expr"] { Value::String(s) => s.clone(), other => other.to_string() };
                let expr = parse(&text).unwrap_or_else(|e| panic!("admitted expr does not parse: {text}: {e}"));
                assert_every_selector_scoped(&expr);
            }
        }
    }
}
