//! Helpers shared by the integration tests: fixtures, and the real .wasm in a waPC host.
#![allow(dead_code)]

pub mod http_stub;
pub mod kubewarden;
pub mod operator;
pub mod promql_gen;
pub mod registry;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use policy_runner::{default_policy_wasm, AdmissionResponse, ClusterFixture, Instance, Policy};
use serde_json::Value;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A bare AdmissionRequest from `tests/fixtures/requests/<name>.json`.
pub fn request(name: &str) -> Value {
    read_json(&repo_root().join(format!("tests/fixtures/requests/{name}.json")))
}

/// The settings the examples run with: the defaults plus the required cluster domain.
pub fn workshop_settings() -> Value {
    read_json(&repo_root().join("tests/fixtures/settings/workshop.json"))
}

pub const LISTENER: &str = "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/";

/// The compiled release .wasm, shared by every test in this binary.
pub fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let path = default_policy_wasm();
        Policy::load(&path).unwrap_or_else(|e| {
            panic!("{e:#}\nThe .wasm tests need the release build: run `make test` (or `make policy.wasm` first)")
        })
    })
}

/// A fresh instance per call, as policy-server evaluates each request.
pub fn instance() -> Instance {
    policy().instance().expect("instantiate the policy")
}

pub fn validate(request: &Value, settings: &Value) -> AdmissionResponse {
    instance()
        .validate(request, settings)
        .unwrap_or_else(|e| panic!("the policy trapped or failed: {e:#}"))
}

/// `validate` in a fresh instance whose host calls `cluster` answers.
pub fn validate_in(
    cluster: &ClusterFixture,
    request: &Value,
    settings: &Value,
) -> AdmissionResponse {
    policy()
        .instance_in(cluster)
        .expect("instantiate the policy")
        .validate(request, settings)
        .unwrap_or_else(|e| panic!("the policy trapped or failed: {e:#}"))
}

/// The request with `object` replaced (uid kept), e.g. to send a mutated object back.
pub fn with_object(request: &Value, object: Value) -> Value {
    let mut r = request.clone();
    r["object"] = object;
    r
}

/// The single value a JSONPath selects in `v`.
pub fn select<'a>(v: &'a Value, path: &str) -> &'a Value {
    let found = jsonpath_lib::select(v, path).unwrap_or_else(|e| panic!("bad path {path}: {e:?}"));
    assert_eq!(
        found.len(),
        1,
        "{path} selects {} values in {v}",
        found.len()
    );
    found[0]
}

/// The rejection message ("" when there is none).
pub fn message(response: &AdmissionResponse) -> String {
    response
        .status
        .as_ref()
        .map(|s| s.message.clone())
        .unwrap_or_default()
}

/// Asserts the response is a rejection whose message contains `expected`.
pub fn assert_rejected(response: &AdmissionResponse, expected: &str) {
    let m = message(response);
    assert!(
        !response.allowed,
        "accepted; expected a rejection containing {expected:?}"
    );
    assert!(
        m.contains(expected),
        "{expected:?} not in: {}",
        &m[..m.floor_char_boundary(600)]
    );
}

/// The response's patch as readable JSON (`[]` when there is none).
pub fn patch_ops(response: &AdmissionResponse) -> Value {
    serde_json::to_value(response.patch_ops.clone().unwrap_or_default()).unwrap()
}

/// Asserts what every admitted object must look like, then that it is a fixed point:
///
/// - the response admits the request (a rejection is the caller's to expect, not this
///   helper's);
/// - a PrometheusRule, mutated or not: every `expr` parses (promql_parser, walked here, not
///   with the policy's walker) and every selector in it, in every `or` alternative, has
///   exactly one matcher on the namespace label (`namespaceLabel`, default `namespace`),
///   and it is `="<namespace>"`; every rule carries that label set to the namespace;
/// - an AlertmanagerConfig: every webhook says `sendResolved` as the settings want (`false`
///   unless they set it) and `httpConfig.followRedirects: false`, and the top route has a
///   `repeatInterval`;
/// - an exempt namespace's object, any other kind, and a DELETE are admitted untouched;
/// - the admitted object, sent back, is admitted with no further change.
pub fn assert_idempotent(request: &Value, settings: &Value, response: &AdmissionResponse) {
    assert!(
        response.allowed,
        "assert_idempotent on a rejection: {:?}",
        response.status
    );
    let admitted = response
        .mutated_object
        .clone()
        .unwrap_or_else(|| request["object"].clone());
    let namespace = request["namespace"]
        .as_str()
        .or_else(|| admitted["metadata"]["namespace"].as_str())
        .unwrap_or_default()
        .to_owned();
    let exempt = settings["exemptNamespaces"]
        .as_array()
        .is_some_and(|list| list.iter().any(|n| n == namespace.as_str()));
    let kind = request["kind"]["kind"].as_str().unwrap_or_default();
    let untouched = exempt
        || request["operation"] == "DELETE"
        || !matches!(kind, "PrometheusRule" | "AlertmanagerConfig");
    if untouched {
        assert!(
            response.patch.is_none() && response.mutated_object.is_none(),
            "{kind} {:?} in {namespace:?} (exempt: {exempt}) was changed: {}",
            request["operation"],
            patch_ops(response)
        );
        return;
    }
    assert!(!namespace.is_empty(), "no namespace in {request}");
    match kind {
        "PrometheusRule" => assert_rules_scoped(&admitted, &namespace, settings),
        _ => assert_storm_protected(&request["object"], &admitted, settings),
    }
    if let Some(mutated) = &response.mutated_object {
        let again = validate(&with_object(request, mutated.clone()), settings);
        assert!(again.allowed, "mutated object rejected: {:?}", again.status);
        assert!(
            again.patch.is_none(),
            "mutated object changed again: {}",
            patch_ops(&again)
        );
    }
}

/// Every selector of every rule's `expr` has exactly one matcher on the namespace label,
/// `="<namespace>"`, and every rule carries the label.
pub fn assert_rules_scoped(object: &Value, namespace: &str, settings: &Value) {
    let label = settings["namespaceLabel"].as_str().unwrap_or("namespace");
    let groups = object["spec"]["groups"]
        .as_array()
        .unwrap_or_else(|| panic!("admitted PrometheusRule without spec.groups: {object}"));
    for (g, group) in groups.iter().enumerate() {
        for (r, rule) in group["rules"].as_array().into_iter().flatten().enumerate() {
            let at = format!("spec.groups[{g}].rules[{r}]");
            assert_eq!(
                rule["labels"][label], namespace,
                "{at}.labels.{label} is not {namespace:?}: {rule}"
            );
            let expr = match &rule["expr"] {
                // int-or-string: a number has no selector.
                Value::Number(_) => continue,
                Value::String(expr) => expr,
                other => panic!("{at}.expr admitted as {other}"),
            };
            let unscoped = unscoped_selectors(expr, label, namespace)
                .unwrap_or_else(|e| panic!("{at}.expr {expr:?} admitted but does not parse: {e}"));
            assert!(
                unscoped.is_empty(),
                "{at}.expr {expr:?} admitted with selectors not scoped to {label}=\"{namespace}\": {unscoped:?}"
            );
        }
    }
}

/// The selectors of `expr` (as text) that do not have exactly one `label` matcher, and it
/// `="namespace"`; each `or` alternative of a selector counts on its own.
pub fn unscoped_selectors(expr: &str, label: &str, namespace: &str) -> Result<Vec<String>, String> {
    use promql_parser::label::MatchOp;
    use promql_parser::parser::{self, Expr};
    let tree = parser::parse(expr)?;
    let mut unscoped = Vec::new();
    let mut stack = vec![&tree];
    while let Some(node) = stack.pop() {
        let selector = match node {
            Expr::VectorSelector(vs) => Some(vs),
            Expr::MatrixSelector(ms) => Some(&ms.vs),
            Expr::Aggregate(a) => {
                stack.push(&a.expr);
                stack.extend(a.param.as_deref());
                None
            }
            Expr::Unary(u) => {
                stack.push(&u.expr);
                None
            }
            Expr::Binary(b) => {
                stack.push(&b.lhs);
                stack.push(&b.rhs);
                None
            }
            Expr::Paren(p) => {
                stack.push(&p.expr);
                None
            }
            Expr::Subquery(s) => {
                stack.push(&s.expr);
                None
            }
            Expr::Call(c) => {
                stack.extend(c.args.args.iter().map(|a| &**a));
                None
            }
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => None,
        };
        let Some(vs) = selector else { continue };
        let alternatives: Vec<&Vec<promql_parser::label::Matcher>> =
            if vs.matchers.or_matchers.is_empty() {
                vec![&vs.matchers.matchers]
            } else {
                vs.matchers.or_matchers.iter().collect()
            };
        let scoped = alternatives.iter().all(|set| {
            let on_label: Vec<_> = set.iter().filter(|m| m.name == label).collect();
            on_label.len() == 1
                && matches!(on_label[0].op, MatchOp::Equal)
                && on_label[0].value == namespace
        });
        if !scoped {
            unscoped.push(vs.to_string());
        }
    }
    Ok(unscoped)
}

/// Storm protection of an admitted AlertmanagerConfig (`written`: as submitted): every
/// webhook's `sendResolved` is the boolean the tenant wrote (kept, as the README says) or
/// else what the settings want (`false` unless they say otherwise; when they set `null`,
/// "leave it", as written), its `httpConfig.followRedirects` is `false`, and the top route
/// has a `repeatInterval`.
pub fn assert_storm_protected(written: &Value, object: &Value, settings: &Value) {
    let send_resolved = match settings.get("sendResolved") {
        None => Some(Value::Bool(false)),
        Some(Value::Null) => None,
        Some(v) => Some(v.clone()),
    };
    for (r, receiver) in object["spec"]["receivers"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        for (w, hook) in receiver["webhookConfigs"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = format!("spec.receivers[{r}].webhookConfigs[{w}]");
            let as_written = &written["spec"]["receivers"][r]["webhookConfigs"][w]["sendResolved"];
            let expected = match (as_written, &send_resolved) {
                (Value::Bool(_), _) | (_, None) => as_written,
                (_, Some(setting)) => setting,
            };
            assert_eq!(&hook["sendResolved"], expected, "{at}.sendResolved: {hook}");
            assert_eq!(
                hook["httpConfig"]["followRedirects"], false,
                "{at}.httpConfig.followRedirects: {hook}"
            );
        }
    }
    let repeat = &object["spec"]["route"]["repeatInterval"];
    assert!(
        repeat.as_str().is_some_and(|s| !s.is_empty()),
        "spec.route.repeatInterval admitted as {repeat}: {}",
        object["spec"]["route"]
    );
}

/// One `tests/fixtures/context-aware/<name>/`: a request, its settings, and the kwctl
/// session file whose exchanges answer the policy's reads of the cluster.
pub struct ContextAwareCase {
    pub name: String,
    pub dir: PathBuf,
    pub request: Value,
    pub settings: Value,
}

impl ContextAwareCase {
    pub fn session(&self) -> PathBuf {
        self.dir.join("session.yml")
    }

    /// The cluster the session describes, for the runner.
    pub fn cluster(&self) -> ClusterFixture {
        let text = std::fs::read_to_string(self.session()).unwrap();
        ClusterFixture::from_session(&text)
            .unwrap_or_else(|e| panic!("{}: {e:#}", self.session().display()))
    }
}

/// Every context-aware case, by name.
pub fn context_aware_cases() -> Vec<ContextAwareCase> {
    let root = repo_root().join("tests/fixtures/context-aware");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| ContextAwareCase {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            request: read_json(&dir.join("request.json")),
            settings: read_json(&dir.join("settings.json")),
            dir,
        })
        .collect()
}
