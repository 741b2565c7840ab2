//! The two reviewers' behaviour, natively: every request goes through
//! [`admission::review`] with a [`FakeCluster`], as the `.wasm` runs it with Kubewarden's
//! host, so `cargo test --lib` (and `cargo mutants`) sees what `tests/it/wasm_*.rs` check on
//! the release module.
//!
//! Each behaviour asserts the verdict kind (accepted untouched, mutated, rejected); a
//! mutation, the JSON changes it makes (a diff of the objects, order ignored) and their
//! values; a rejection, that the message names the group, rule or field at fault (with
//! `contains`: messages may gain a prefix). Every admitted object is checked the way the
//! `.wasm` tests check it: a PrometheusRule has every selector of every `expr` scoped to
//! its namespace and every rule labelled with it; an AlertmanagerConfig's webhooks follow
//! no redirects and say `sendResolved`; the admitted object, reviewed again, is accepted
//! unchanged.

use std::path::{Path, PathBuf};

use kubewarden_policy_sdk::request::KubernetesAdmissionRequest;
use serde_json::{json, Value};

use crate::admission;
use crate::cluster::fake::FakeCluster;
use crate::cluster::{NamespaceMeta, ServiceSpec};
use crate::settings::{validate_settings_payload, Settings};
use crate::verdict::Verdict;

const NS: &str = "user1-test";
const DOMAIN: &str = "apps.cluster-abc.example.com";
const LISTENER: &str = "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/";
const USER2_LISTENER: &str = "https://el-ct-listener-user2-toolings.apps.cluster-abc.example.com/";
/// The seed's expression scoped in place: the matcher goes first, every other byte stays.
const SCOPED_SEED_EXPR: &str =
    r#"trustyai_meanshift{namespace="user1-test", subcategory="danceability"}<0.05"#;
const DRIFTING: &str =
    r#"trustyai_meanshift{namespace="user1-test",subcategory="danceability"} < 0.05"#;
/// The seed rule, for messages: `group "jukebox.rules" alert "jukebox-datadrift-alert"`.
const SEED_GROUP: &str = r#"group "jukebox.rules""#;
const SEED_ALERT: &str = r#"alert "jukebox-datadrift-alert""#;

/// One `#[test]` per named case: `cases! { check; name: (args…), … }` calls `check(args…)`.
macro_rules! cases {
    ($check:path; $($name:ident: ($($arg:expr),* $(,)?)),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $check($($arg),*);
            }
        )*
    };
}

// ---- fixtures and settings ----

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A bare AdmissionRequest from `tests/fixtures/requests/<name>.json`.
fn fixture(name: &str) -> Value {
    read_json(&root().join(format!("tests/fixtures/requests/{name}.json")))
}

fn workshop_json() -> Value {
    read_json(&root().join("tests/fixtures/settings/workshop.json"))
}

fn settings_from(v: Value) -> Settings {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("settings {v}: {e}"))
}

/// `tests/fixtures/settings/workshop.json`: the defaults plus the cluster domain.
fn workshop() -> Settings {
    settings_from(workshop_json())
}

/// The workshop settings with `extra`'s fields set (a `null` sets null, as a user would).
fn workshop_with(extra: Value) -> Settings {
    let mut s = workshop_json();
    for (k, v) in extra.as_object().expect("an object of settings") {
        s[k] = v.clone();
    }
    settings_from(s)
}

fn overwrite() -> Settings {
    workshop_with(json!({"onConflict": "overwrite"}))
}

/// The seed PrometheusRule with its one rule's `expr` replaced.
fn with_expr(expr: impl Into<Value>) -> Value {
    let mut r = fixture("seed-prometheusrule");
    r["object"]["spec"]["groups"][0]["rules"][0]["expr"] = expr.into();
    r
}

/// The seed PrometheusRule with its one rule replaced by `rule`.
fn with_rule(rule: Value) -> Value {
    let mut r = fixture("seed-prometheusrule");
    r["object"]["spec"]["groups"][0]["rules"] = json!([rule]);
    r
}

/// An alerting rule `a` on `expr`, with `for` and a severity.
fn alert(expr: &str) -> Value {
    json!({"alert": "a", "expr": expr, "for": "10m", "labels": {"severity": "critical"}})
}

/// The request moved to `namespace` (request and object).
fn in_namespace(mut request: Value, namespace: &str) -> Value {
    request["namespace"] = json!(namespace);
    request["object"]["metadata"]["namespace"] = json!(namespace);
    request
}

/// The correct v1beta1 AlertmanagerConfig.
fn correct() -> Value {
    fixture("alertmanagerconfig-v1beta1-correct")
}

/// `name` with its first webhook's `url` replaced.
fn with_url(name: &str, url: impl Into<Value>) -> Value {
    let mut r = fixture(name);
    r["object"]["spec"]["receivers"][0]["webhookConfigs"][0]["url"] = url.into();
    r
}

/// The correct v1beta1 object with its webhook's `httpConfig` replaced.
fn with_http_config(http: Value) -> Value {
    let mut r = correct();
    r["object"]["spec"]["receivers"][0]["webhookConfigs"][0]["httpConfig"] = http;
    r
}

/// A webhook to `url` that needs no change.
fn hook(url: &str) -> Value {
    json!({"url": url, "sendResolved": false, "httpConfig": {"followRedirects": false}})
}

// ---- reviewing ----

fn review_in(cluster: &FakeCluster, request: &Value, settings: &Settings) -> Verdict {
    let request: KubernetesAdmissionRequest =
        serde_json::from_value(request.clone()).expect("an AdmissionRequest");
    admission::review(request, settings, cluster)
}

fn review(request: &Value, settings: &Settings) -> Verdict {
    review_in(&FakeCluster::default(), request, settings)
}

/// A copy of `cluster` with no reads recorded (for reviews the caller does not count).
fn fresh(cluster: &FakeCluster) -> FakeCluster {
    FakeCluster {
        namespaces: cluster.namespaces.clone(),
        services: cluster.services.clone(),
        unreachable: cluster.unreachable.clone(),
        ..FakeCluster::default()
    }
}

/// What an admitted request came out as.
#[derive(Debug)]
struct Admitted {
    /// The object as admitted (the request's own when untouched).
    object: Value,
    warnings: Vec<String>,
    /// The changes, as JSONPatch operations sorted by path.
    patch: Vec<Value>,
}

impl Admitted {
    fn mutated(&self) -> bool {
        !self.patch.is_empty()
    }

    /// The admitted object's value at a JSON pointer.
    fn at(&self, pointer: &str) -> &Value {
        self.object
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{pointer} absent from {}", self.object))
    }

    /// The first rule's `expr`, as admitted.
    fn expr(&self) -> &str {
        self.at("/spec/groups/0/rules/0/expr")
            .as_str()
            .expect("a string expr")
    }

    #[track_caller]
    fn assert_patch(&self, expected: Value) {
        let Value::Array(mut expected) = expected else {
            panic!("expected patch must be a list")
        };
        sort_ops(&mut expected);
        assert_eq!(
            Value::Array(self.patch.clone()),
            Value::Array(expected),
            "warnings: {:?}",
            self.warnings
        );
    }

    /// Exactly one warning contains every part.
    #[track_caller]
    fn assert_warned(&self, parts: &[&str]) {
        let matching = self
            .warnings
            .iter()
            .filter(|w| parts.iter().all(|p| w.contains(p)))
            .count();
        assert_eq!(matching, 1, "{parts:?} in {:?}", self.warnings);
    }

    #[track_caller]
    fn assert_untouched(&self) {
        assert!(
            !self.mutated() && self.warnings.is_empty(),
            "changed: {:?} {:?}",
            self.patch,
            self.warnings
        );
    }
}

/// Reviews `request`; it must be admitted, in the shape every admitted object has (see
/// the module doc), and a fixed point.
#[track_caller]
fn admit_in(cluster: &FakeCluster, request: &Value, settings: &Settings) -> Admitted {
    let (object, warnings, mutated) = match review_in(cluster, request, settings) {
        Verdict::Accept { warnings } => {
            assert!(
                warnings.is_empty(),
                "accepted unchanged with warnings: {warnings:?}"
            );
            (request["object"].clone(), warnings, false)
        }
        Verdict::Mutate { object, warnings } => (object, warnings, true),
        Verdict::Reject { message } => panic!("rejected: {message}"),
    };
    let patch = diff(&request["object"], &object);
    if mutated {
        assert!(
            !patch.is_empty(),
            "Mutate returned the object unchanged: {warnings:?}"
        );
        assert!(
            !warnings.is_empty(),
            "a change without a warning: {patch:?}"
        );
    }
    check_admitted(cluster, request, settings, &object, mutated);
    Admitted {
        object,
        warnings,
        patch,
    }
}

#[track_caller]
fn admit(request: &Value, settings: &Settings) -> Admitted {
    admit_in(&FakeCluster::default(), request, settings)
}

/// The rejection message; panics when the request is admitted.
#[track_caller]
fn refused_in(cluster: &FakeCluster, request: &Value, settings: &Settings) -> String {
    match review_in(cluster, request, settings) {
        Verdict::Reject { message } => {
            assert!(!message.is_empty(), "a rejection without a message");
            message
        }
        other => panic!("admitted: {other:?}"),
    }
}

#[track_caller]
fn refused(request: &Value, settings: &Settings) -> String {
    refused_in(&FakeCluster::default(), request, settings)
}

/// `message` contains every part.
#[track_caller]
fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "{part:?} not in: {message}");
    }
}

/// Refused, naming every part.
#[track_caller]
fn refused_naming(request: &Value, settings: &Settings, parts: &[&str]) -> String {
    let message = refused(request, settings);
    assert_mentions(&message, parts);
    message
}

/// The namespace the policy scopes `request` to.
fn namespace_of(request: &Value) -> String {
    request["namespace"]
        .as_str()
        .filter(|ns| !ns.is_empty())
        .or_else(|| request["object"]["metadata"]["namespace"].as_str())
        .unwrap_or_default()
        .to_owned()
}

fn check_admitted(
    cluster: &FakeCluster,
    request: &Value,
    settings: &Settings,
    object: &Value,
    mutated: bool,
) {
    let namespace = namespace_of(request);
    let parsed: KubernetesAdmissionRequest =
        serde_json::from_value(request.clone()).expect("an AdmissionRequest");
    let reviewed = matches!(parsed.operation.as_str(), "CREATE" | "UPDATE")
        && admission::target_of(&parsed).is_some()
        && !settings.is_exempt(&namespace);
    if !reviewed {
        assert!(!mutated, "an unreviewed request was changed");
        return;
    }
    assert!(!namespace.is_empty(), "admitted without a namespace");
    match parsed.kind.kind.as_str() {
        "PrometheusRule" => assert_rules_scoped(object, &namespace, settings),
        _ => assert_storm_protected(&request["object"], object, settings),
    }
    if mutated {
        let mut again = request.clone();
        again["object"] = object.clone();
        match review_in(&fresh(cluster), &again, settings) {
            Verdict::Accept { warnings } if warnings.is_empty() => {}
            other => panic!("the admitted object is not a fixed point: {other:?}"),
        }
    }
}

/// Every rule carries `labels.<namespaceLabel>` and `labels.namespace` set to the
/// namespace, and every selector of every `expr`, in every `or` alternative, has exactly
/// one matcher on the namespace label, `="<namespace>"`.
#[track_caller]
fn assert_rules_scoped(object: &Value, namespace: &str, settings: &Settings) {
    let label = settings.namespace_label.as_str();
    let groups = object["spec"]["groups"]
        .as_array()
        .unwrap_or_else(|| panic!("admitted PrometheusRule without spec.groups: {object}"));
    for (g, group) in groups.iter().enumerate() {
        for (r, rule) in group["rules"].as_array().into_iter().flatten().enumerate() {
            let at = format!("spec.groups[{g}].rules[{r}]");
            for label in [label, "namespace"] {
                assert_eq!(
                    rule["labels"][label], namespace,
                    "{at}.labels.{label}: {rule}"
                );
            }
            let expr = match &rule["expr"] {
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

/// The selectors of `expr` that lack exactly one `label="namespace"` matcher (walked
/// with promql-parser here, not with the policy's walker).
fn unscoped_selectors(expr: &str, label: &str, namespace: &str) -> Result<Vec<String>, String> {
    use promql_parser::label::MatchOp;
    use promql_parser::parser::{self, Expr};
    let tree = parser::parse(&mask_regexes(expr))?;
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
        let alternatives: Vec<_> = if vs.matchers.or_matchers.is_empty() {
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

/// `expr` with every regex matcher's value replaced by `x`: promql-parser compiles each
/// regex it reads (seconds for `(?i)\p{Any}` repeated, in a debug build), and whether a
/// selector is scoped does not depend on a regex's value (a regex on the namespace label
/// is unscoped whatever it says). Strings and comments are skipped whole.
fn mask_regexes(expr: &str) -> String {
    let b = expr.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    // The end (exclusive) of the quoted string starting at `start`.
    let string_end = |start: usize| {
        let quote = b[start];
        let mut j = start + 1;
        while j < b.len() && b[j] != quote {
            if b[j] == b'\\' && quote != b'`' {
                j += 1;
            }
            j += 1;
        }
        (j + 1).min(b.len())
    };
    while i < b.len() {
        match b[i] {
            b'=' | b'!' if b.get(i + 1) == Some(&b'~') => {
                out.extend_from_slice(&b[i..i + 2]);
                i += 2;
                while i < b.len() && b[i].is_ascii_whitespace() {
                    out.push(b[i]);
                    i += 1;
                }
                if i < b.len() && matches!(b[i], b'"' | b'\'' | b'`') {
                    out.extend_from_slice(&[b[i], b'x', b[i]]);
                    i = string_end(i);
                }
            }
            b'"' | b'\'' | b'`' => {
                let end = string_end(i);
                out.extend_from_slice(&b[i..end]);
                i = end;
            }
            b'#' => {
                let end = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |n| i + n);
                out.extend_from_slice(&b[i..end]);
                i = end;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("only ASCII-delimited strings were replaced")
}

/// Every webhook of an admitted AlertmanagerConfig (`written`: as submitted) says
/// `sendResolved` (the boolean written, else the setting's, unless the setting is null)
/// and `httpConfig.followRedirects: false`; the top route has a `repeatInterval` unless
/// the setting is `""`.
#[track_caller]
fn assert_storm_protected(written: &Value, object: &Value, settings: &Settings) {
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
            let expected = match (as_written, settings.send_resolved) {
                (Value::Bool(_), _) | (_, None) => as_written.clone(),
                (_, Some(setting)) => Value::Bool(setting),
            };
            assert_eq!(hook["sendResolved"], expected, "{at}.sendResolved: {hook}");
            assert_eq!(
                hook["httpConfig"]["followRedirects"], false,
                "{at}.httpConfig.followRedirects: {hook}"
            );
        }
    }
    if settings.repeat_interval.is_some() {
        let repeat = &object["spec"]["route"]["repeatInterval"];
        assert!(
            repeat.as_str().is_some_and(|s| !s.is_empty()),
            "spec.route.repeatInterval admitted as {repeat}"
        );
    }
}

/// The JSONPatch operations that turn `before` into `after`, sorted by path.
fn diff(before: &Value, after: &Value) -> Vec<Value> {
    fn walk(before: &Value, after: &Value, path: &str, ops: &mut Vec<Value>) {
        let child = |key: &str| format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"));
        match (before, after) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, va) in a {
                    match b.get(k) {
                        Some(vb) => walk(va, vb, &child(k), ops),
                        None => ops.push(json!({"op": "remove", "path": child(k)})),
                    }
                }
                for (k, vb) in b {
                    if !a.contains_key(k) {
                        ops.push(json!({"op": "add", "path": child(k), "value": vb}));
                    }
                }
            }
            (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
                for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                    walk(va, vb, &format!("{path}/{i}"), ops);
                }
            }
            _ if before == after => {}
            _ => ops.push(json!({"op": "replace", "path": path, "value": after})),
        }
    }
    let mut ops = Vec::new();
    walk(before, after, "", &mut ops);
    sort_ops(&mut ops);
    ops
}

fn sort_ops(ops: &mut [Value]) {
    ops.sort_by(|a, b| {
        (a["path"].as_str(), a["op"].as_str()).cmp(&(b["path"].as_str(), b["op"].as_str()))
    });
}

/// The patch op of the namespace label every rule of the seed is given.
fn label_op() -> Value {
    json!({"op": "add", "path": "/spec/groups/0/rules/0/labels/namespace", "value": NS})
}

#[test]
fn the_helpers_diff_and_scope_check_see_what_they_must() {
    let before = json!({"a": {"b": 1, "c~/": [1, 2]}, "d": 1});
    let after = json!({"a": {"b": 2, "c~/": [1, 3], "e": null}});
    assert_eq!(
        diff(&before, &after),
        vec![
            json!({"op": "replace", "path": "/a/b", "value": 2}),
            json!({"op": "replace", "path": "/a/c~0~1/1", "value": 3}),
            json!({"op": "add", "path": "/a/e", "value": null}),
            json!({"op": "remove", "path": "/d"}),
        ]
    );
    assert_eq!(
        unscoped_selectors(
            r#"a{namespace="user1-test"} + b{namespace="user1-testing"} + c{namespace=~"user1-test"} + d"#,
            "namespace",
            NS
        )
        .unwrap()
        .len(),
        3
    );
    assert_eq!(
        mask_regexes(
            r#"a{b=~"(?i)\\p{Any}", c!~ 'x\'y', d="=~\"e\""} # =~"f"
 g{h=~`\d`}"#
        ),
        r#"a{b=~"x", c!~ 'x', d="=~\"e\""} # =~"f"
 g{h=~`x`}"#
    );
}

/// Every request fixture and every context-aware fixture, with the settings it is
/// bundled with.
mod fixtures {
    use super::*;

    /// `(admitted under the workshop settings, admitted under onConflict: overwrite)`
    fn admitted(name: &str) -> (bool, bool) {
        match name {
            "prometheusrule-other-namespace" | "prometheusrule-update-other-namespace" => {
                (false, true)
            }
            "seed-prometheusrule"
            | "prometheusrule-no-matcher"
            | "prometheusrule-unrendered-template"
            | "prometheusrule-recording-rules"
            | "prometheusrule-delete"
            | "configmap-other-kind"
            | "seed-alertmanagerconfig"
            | "alertmanagerconfig-v1alpha1-correct"
            | "alertmanagerconfig-v1beta1-correct"
            | "alertmanagerconfig-other-user" => (true, true),
            _ => (false, false),
        }
    }

    #[test]
    fn every_request_fixture_gets_its_verdict_under_both_conflict_settings() {
        let mut names: Vec<String> = std::fs::read_dir(root().join("tests/fixtures/requests"))
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                path.file_stem().unwrap().to_string_lossy().into_owned()
            })
            .collect();
        names.sort();
        assert_eq!(
            names.len(),
            19,
            "a fixture was added: give it its verdicts here"
        );
        for name in names {
            let request = fixture(&name);
            let (by_default, by_overwrite) = admitted(&name);
            for (settings, expected) in [(workshop(), by_default), (overwrite(), by_overwrite)] {
                match review(&request, &settings) {
                    Verdict::Reject { message } => {
                        assert!(!expected, "{name}: rejected: {message}");
                        assert!(!message.is_empty(), "{name}");
                    }
                    other => {
                        assert!(expected, "{name}: admitted: {other:?}");
                        admit(&request, &settings);
                    }
                }
            }
        }
    }

    #[test]
    fn seed_prometheusrule_gets_only_its_namespace_label() {
        let request = fixture("seed-prometheusrule");
        let a = admit(&request, &workshop());
        a.assert_patch(json!([label_op()]));
        assert_eq!(a.warnings.len(), 1, "{:?}", a.warnings);
        a.assert_warned(&["spec.groups[0].rules[0].labels.namespace", "\"user1-test\""]);
        // Sent back with the label, it passes with no change at all.
        let mut again = request.clone();
        again["object"] = a.object.clone();
        assert_eq!(review(&again, &workshop()), Verdict::accept());
    }

    #[test]
    fn a_rule_without_matcher_is_scoped_in_place_and_labelled() {
        let a = admit(&fixture("prometheusrule-no-matcher"), &workshop());
        a.assert_patch(json!([
            {"op": "replace", "path": "/spec/groups/0/rules/0/expr", "value": SCOPED_SEED_EXPR},
            label_op(),
        ]));
        assert_eq!(a.at("/spec/groups/0/rules/0/for"), "10m");
        a.assert_warned(&["spec.groups[0].rules[0].expr", "scoped to namespace"]);
    }

    #[test]
    fn an_unrendered_template_in_the_namespace_matcher_is_replaced() {
        let a = admit(&fixture("prometheusrule-unrendered-template"), &workshop());
        a.assert_patch(json!([
            {"op": "replace", "path": "/spec/groups/0/rules/0/expr", "value": SCOPED_SEED_EXPR},
            label_op(),
        ]));
        a.assert_warned(&["spec.groups[0].rules[0].expr", "unrendered template"]);
    }

    #[test]
    fn another_namespaces_matcher_is_refused_naming_group_rule_matcher_and_namespace() {
        let m = refused_naming(
            &fixture("prometheusrule-other-namespace"),
            &workshop(),
            &[
                SEED_GROUP,
                SEED_ALERT,
                "spec.groups[0].rules[0].expr",
                r#"namespace="user2-test""#,
                r#"namespace "user1-test""#,
            ],
        );
        assert_mentions(&m, &["onConflict: overwrite"]);
    }

    #[test]
    fn another_namespaces_matcher_is_overwritten_under_overwrite() {
        let a = admit(&fixture("prometheusrule-other-namespace"), &overwrite());
        a.assert_patch(json!([
            {"op": "replace", "path": "/spec/groups/0/rules/0/expr", "value": SCOPED_SEED_EXPR},
            label_op(),
        ]));
        a.assert_warned(&[
            "spec.groups[0].rules[0].expr",
            r#"overwrote matcher namespace="user2-test""#,
        ]);
    }

    #[test]
    fn a_regex_over_namespaces_is_a_conflict_even_when_it_matches_the_namespace() {
        let request = fixture("prometheusrule-update-other-namespace");
        let m = refused_naming(
            &request,
            &workshop(),
            &[
                SEED_GROUP,
                SEED_ALERT,
                "spec.groups[0].rules[0].expr",
                r#"namespace=~"user.*""#,
            ],
        );
        assert_mentions(&m, &[r#"namespace "user1-test""#]);
        let a = admit(&request, &overwrite());
        assert_eq!(a.expr(), SCOPED_SEED_EXPR);
    }

    #[test]
    fn recording_rules_and_aggregation_parameters_are_scoped() {
        let a = admit(&fixture("prometheusrule-recording-rules"), &workshop());
        a.assert_patch(json!([
            label_op(),
            {"op": "replace", "path": "/spec/groups/1/rules/0/expr",
             "value": r#"min_over_time(trustyai_meanshift{namespace="user1-test", subcategory="danceability"}[10m])"#},
            {"op": "add", "path": "/spec/groups/1/rules/0/labels", "value": {"namespace": NS}},
            {"op": "replace", "path": "/spec/groups/1/rules/1/expr",
             "value": r#"topk(scalar(max(jukebox_top_n{namespace="user1-test"})), sum by (model) (rate(http_requests_total{namespace="user1-test", code=~"5.."}[5m])))"#},
            {"op": "add", "path": "/spec/groups/1/rules/1/labels", "value": {"namespace": NS}},
            // The integer expr has no selector: left as the integer, the rule labelled.
            {"op": "add", "path": "/spec/groups/1/rules/2/labels", "value": {"namespace": NS}},
        ]));
        assert_eq!(a.at("/spec/groups/1/rules/2/expr"), &json!(1));
        a.assert_warned(&["spec.groups[1].rules[1].expr", "scoped"]);
        a.assert_warned(&["spec.groups[1].rules[2].labels.namespace"]);
    }

    #[test]
    fn a_malformed_rule_is_refused_with_every_problem_located_even_under_overwrite() {
        for settings in [workshop(), overwrite()] {
            refused_naming(
                &fixture("prometheusrule-malformed"),
                &settings,
                &[
                    SEED_GROUP,
                    SEED_ALERT,
                    "spec.groups[0].rules[0].expr",
                    "expression does not parse",
                    "spec.groups[1].rules",
                    "must be a list, found an object",
                ],
            );
        }
    }

    #[test]
    fn a_delete_and_another_kind_are_not_reviewed() {
        for name in ["prometheusrule-delete", "configmap-other-kind"] {
            assert_eq!(
                review(&fixture(name), &workshop()),
                Verdict::accept(),
                "{name}"
            );
        }
        let mut connect = fixture("prometheusrule-no-matcher");
        connect["operation"] = json!("CONNECT");
        assert_eq!(review(&connect, &workshop()), Verdict::accept());
    }

    #[test]
    fn seed_alertmanagerconfig_gets_the_listener_and_storm_protection() {
        let a = admit(&fixture("seed-alertmanagerconfig"), &workshop());
        a.assert_patch(json!([
            {"op": "add", "path": "/spec/route/repeatInterval", "value": "12h"},
            {"op": "replace", "path": "/spec/receivers/0/webhookConfigs/0/url", "value": LISTENER},
            {"op": "add", "path": "/spec/receivers/0/webhookConfigs/0/httpConfig", "value": {"followRedirects": false}},
            {"op": "add", "path": "/spec/receivers/0/webhookConfigs/0/sendResolved", "value": false},
        ]));
        assert_eq!(a.warnings.len(), 4, "{:?}", a.warnings);
        a.assert_warned(&[
            "spec.receivers[0].webhookConfigs[0].httpConfig.followRedirects",
            "false",
        ]);
        a.assert_warned(&[
            "spec.receivers[0].webhookConfigs[0].url",
            "still holds placeholders",
            LISTENER,
        ]);
        a.assert_warned(&["spec.receivers[0].webhookConfigs[0].sendResolved", "false"]);
        a.assert_warned(&["spec.route.repeatInterval", "\"12h\""]);
    }

    #[test]
    fn correct_alertmanagerconfigs_in_both_versions_pass_untouched() {
        for name in [
            "alertmanagerconfig-v1alpha1-correct",
            "alertmanagerconfig-v1beta1-correct",
        ] {
            assert_eq!(
                review(&fixture(name), &workshop()),
                Verdict::accept(),
                "{name}"
            );
        }
    }

    #[test]
    fn another_tenants_listener_is_rewritten_to_this_tenants() {
        let a = admit(&fixture("alertmanagerconfig-other-user"), &workshop());
        a.assert_patch(json!([
            {"op": "add", "path": "/spec/route/repeatInterval", "value": "12h"},
            {"op": "replace", "path": "/spec/receivers/0/webhookConfigs/0/url", "value": LISTENER},
            {"op": "add", "path": "/spec/receivers/0/webhookConfigs/0/httpConfig", "value": {"followRedirects": false}},
            {"op": "add", "path": "/spec/receivers/0/webhookConfigs/0/sendResolved", "value": false},
        ]));
        a.assert_warned(&[
            "spec.receivers[0].webhookConfigs[0].url",
            USER2_LISTENER,
            "another tenant's EventListener",
        ]);
    }

    #[test]
    fn the_metadata_endpoint_is_refused_naming_the_url_field() {
        refused_naming(
            &fixture("alertmanagerconfig-metadata-endpoint"),
            &workshop(),
            &[
                "spec.receivers[0].webhookConfigs[0].url",
                "169.254.169.254",
                "is not this tenant's EventListener",
            ],
        );
    }

    #[test]
    fn a_url_secret_is_refused_by_default_naming_the_field() {
        refused_naming(
            &fixture("alertmanagerconfig-url-secret"),
            &workshop(),
            &["spec.receivers[0].webhookConfigs[0].urlSecret"],
        );
    }

    #[test]
    fn a_misindented_config_is_refused_saying_where_receivers_belong() {
        refused_naming(
            &fixture("alertmanagerconfig-misindented"),
            &workshop(),
            &[
                "spec.route.receiver",
                r#""default" is not defined"#,
                "`receivers` belongs under `spec`",
            ],
        );
    }

    #[test]
    fn a_namespace_that_names_no_tenant_is_refused() {
        refused_naming(
            &fixture("alertmanagerconfig-not-a-tenant-namespace"),
            &workshop(),
            &[r#"namespace "shared-monitoring" does not match the tenant pattern"#],
        );
    }

    #[test]
    fn a_slack_receiver_is_refused_naming_receiver_and_field() {
        refused_naming(
            &fixture("alertmanagerconfig-slack"),
            &workshop(),
            &[r#"receiver "team-slack""#, "spec.receivers[1].slackConfigs"],
        );
    }

    #[test]
    fn nested_routes_to_undefined_receivers_are_refused_naming_each_route() {
        refused_naming(
            &fixture("alertmanagerconfig-undefined-nested-receiver"),
            &workshop(),
            &[
                "spec.route.routes[1].receiver",
                r#""retrain-now""#,
                "spec.route.routes[1].routes[0].receiver",
                r#""gone""#,
            ],
        );
    }

    #[test]
    fn without_a_cluster_domain_no_listener_is_guessed_and_nothing_is_read() {
        let cluster = FakeCluster::default();
        let m = refused_in(
            &cluster,
            &fixture("seed-alertmanagerconfig"),
            &Settings::default(),
        );
        assert_mentions(&m, &["clusterDomain"]);
        let by_annotation = Settings {
            cluster_domain: String::new(),
            ..tenancy::by_annotation()
        };
        let m = refused_in(
            &cluster,
            &fixture("seed-alertmanagerconfig"),
            &by_annotation,
        );
        assert_mentions(&m, &["clusterDomain"]);
        assert!(cluster.reads.borrow().is_empty(), "{:?}", cluster.reads);
    }

    // ---- tests/fixtures/context-aware/<case>/ ----

    /// A FakeCluster answering what `session.yml` answers (the runner's and kwctl's
    /// replay file), and the reads in the session, in order (`Kind ns/name`).
    ///
    /// Namespaces and Services answered `Success` are added; a read answered `Error` is
    /// left out (the fake answers it "not found"), or, when every read of the session
    /// fails, the fake fails every read with the session's message.
    fn session_cluster(dir: &Path) -> (FakeCluster, Vec<String>) {
        let text = std::fs::read_to_string(dir.join("session.yml")).unwrap();
        let exchanges: Vec<serde_yaml::Value> = serde_yaml::from_str(&text).unwrap();
        let mut cluster = FakeCluster::default();
        let mut reads = Vec::new();
        let mut errors = Vec::new();
        for exchange in &exchanges {
            let request: serde_yaml::Value =
                serde_yaml::from_str(exchange["request"].as_str().unwrap()).unwrap();
            let serde_yaml::Value::Tagged(tagged) = request else {
                panic!("untagged session request in {}", dir.display())
            };
            assert_eq!(tagged.tag, "KubernetesGetResource");
            let key = &tagged.value;
            let kind = key["kind"].as_str().unwrap().to_owned();
            let name = key["name"].as_str().unwrap().to_owned();
            let namespace = key["namespace"].as_str().map(str::to_owned);
            reads.push(match &namespace {
                Some(ns) => format!("{kind} {ns}/{name}"),
                None => format!("{kind} {name}"),
            });
            let response = &exchange["response"];
            if response["type"] == "Error" {
                errors.push(response["message"].as_str().unwrap().to_owned());
                continue;
            }
            let payload: Value =
                serde_json::from_str(response["payload"].as_str().unwrap()).unwrap();
            cluster = match kind.as_str() {
                "Namespace" => {
                    let meta: NamespaceMeta =
                        serde_json::from_value(payload["metadata"].clone()).unwrap();
                    cluster.with_namespace(&name, meta)
                }
                "Service" => {
                    let spec: ServiceSpec =
                        serde_json::from_value(payload["spec"].clone()).unwrap();
                    cluster.with_service_spec(&namespace.unwrap(), &name, spec)
                }
                other => panic!("session reads a {other}"),
            };
        }
        if errors.len() == exchanges.len() {
            cluster.unreachable = errors.first().cloned();
        }
        (cluster, reads)
    }

    /// `(case, admitted, a part of its message, or of its warnings when admitted)`
    const CONTEXT_AWARE: [(&str, bool, &str); 7] = [
        (
            "listener-externalname",
            false,
            "the tenant's EventListener Service user1-toolings/el-ct-listener (listenerService) is not a listener: it is an ExternalName Service",
        ),
        (
            "listener-namespace-of-another-tenant",
            false,
            r#"the EventListener's namespace "user2-toolings" belongs to tenant "user1" (the annotation "openshift.io/requester"), not to "user2""#,
        ),
        (
            "namespace-not-readable",
            false,
            r#"cannot read Namespace "ml-jukebox" to find its tenant"#,
        ),
        (
            "requester-listener-missing",
            false,
            "Service alice-toolings/el-ct-listener (listenerService) cannot be read",
        ),
        (
            "requester-not-a-dns-label",
            false,
            r#"the tenant "kube:admin""#,
        ),
        (
            "requester-owns-user2-prod",
            true,
            r#"is another tenant's EventListener; set to "https://el-ct-listener-user1-toolings"#,
        ),
        ("tenant-label", true, ""),
    ];

    fn context_aware(case: &str) {
        let (_, admitted, text) = CONTEXT_AWARE
            .iter()
            .find(|(name, ..)| *name == case)
            .copied()
            .unwrap();
        let dir = root().join("tests/fixtures/context-aware").join(case);
        let request = read_json(&dir.join("request.json"));
        let settings = settings_from(read_json(&dir.join("settings.json")));
        let (cluster, session_reads) = session_cluster(&dir);
        if admitted {
            let a = admit_in(&cluster, &request, &settings);
            if !text.is_empty() {
                a.assert_warned(&[text]);
            }
        } else {
            let m = refused_in(&cluster, &request, &settings);
            assert_mentions(&m, &[text]);
        }
        // Every exchange of the session is used, in order, as kwctl's replay needs.
        assert_eq!(*cluster.reads.borrow(), session_reads, "{case}");
    }

    #[test]
    fn every_context_aware_fixture_has_a_case_here() {
        let mut dirs: Vec<String> = std::fs::read_dir(root().join("tests/fixtures/context-aware"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        dirs.sort();
        let known: Vec<String> = CONTEXT_AWARE.iter().map(|(n, ..)| n.to_string()).collect();
        assert_eq!(dirs, known);
    }

    #[test]
    fn context_aware_requester_owns_user2_prod_gets_user1s_listener() {
        context_aware("requester-owns-user2-prod");
        let dir = root().join("tests/fixtures/context-aware/requester-owns-user2-prod");
        let (cluster, _) = session_cluster(&dir);
        let a = admit_in(
            &cluster,
            &read_json(&dir.join("request.json")),
            &settings_from(read_json(&dir.join("settings.json"))),
        );
        a.assert_patch(json!([
            {"op": "replace", "path": "/spec/receivers/0/webhookConfigs/0/url", "value": LISTENER},
            {"op": "add", "path": "/spec/receivers/0/webhookConfigs/0/httpConfig", "value": {"followRedirects": false}},
        ]));
    }

    /// Every fixture's whole answer (verdict, message, warnings) under the workshop
    /// settings and under onConflict: overwrite, and every context-aware case's, in one
    /// committed file: a change of wording shows in review as a diff of
    /// `tests/fixtures/answers.txt`. `UPDATE_SNAPSHOTS=1 cargo test --lib fixtures_answer` writes it.
    #[test]
    fn every_fixtures_answer_is_the_committed_one() {
        let show = |verdict: Verdict| match verdict {
            Verdict::Accept { warnings } => format!("accept\n{}", lines(&warnings)),
            Verdict::Mutate { warnings, .. } => format!("mutate\n{}", lines(&warnings)),
            Verdict::Reject { message } => {
                format!("reject\n  {}\n", message.replace("; [", ";\n  ["))
            }
        };
        let mut out = String::new();
        let mut names: Vec<PathBuf> = std::fs::read_dir(root().join("tests/fixtures/requests"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        for path in names {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let request = read_json(&path);
            for (label, settings) in [("workshop", workshop()), ("overwrite", overwrite())] {
                out.push_str(&format!(
                    "## {name} ({label}): {}",
                    show(review(&request, &settings))
                ));
            }
        }
        for (case, ..) in CONTEXT_AWARE {
            let dir = root().join("tests/fixtures/context-aware").join(case);
            let (cluster, _) = session_cluster(&dir);
            let verdict = review_in(
                &cluster,
                &read_json(&dir.join("request.json")),
                &settings_from(read_json(&dir.join("settings.json"))),
            );
            out.push_str(&format!("## context-aware/{case}: {}", show(verdict)));
        }
        let file = root().join("tests/fixtures/answers.txt");
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&file, &out).unwrap();
        }
        let committed = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            committed == out,
            "the fixtures' answers differ from tests/fixtures/answers.txt (UPDATE_SNAPSHOTS=1 cargo test --lib fixtures_answer rewrites it; review the diff):\n{out}"
        );
    }

    fn lines(warnings: &[String]) -> String {
        warnings.iter().map(|w| format!("  {w}\n")).collect()
    }

    cases! { context_aware;
        context_aware_listener_externalname: ("listener-externalname"),
        context_aware_listener_namespace_of_another_tenant: ("listener-namespace-of-another-tenant"),
        context_aware_namespace_not_readable: ("namespace-not-readable"),
        context_aware_requester_listener_missing: ("requester-listener-missing"),
        context_aware_requester_not_a_dns_label: ("requester-not-a-dns-label"),
        context_aware_tenant_label: ("tenant-label"),
    }
}

/// Mutations that once survived the suite: exemptions and namespaces match whole, a
/// request without a namespace fails closed, operator chains are refused, not a panic.
mod once_surviving {
    use super::*;

    fn foreign() -> Value {
        with_expr(r#"x{namespace="user2-test"}"#)
    }

    fn not_exempted_by(exempt: &str) {
        let settings = workshop_with(json!({"exemptNamespaces": [exempt]}));
        refused_naming(
            &foreign(),
            &settings,
            &["spec.groups[0].rules[0].expr", r#"namespace="user2-test""#],
        );
        // Nor an AlertmanagerConfig: its foreign listener is still rewritten.
        let a = admit(&fixture("alertmanagerconfig-other-user"), &settings);
        assert_eq!(a.at("/spec/receivers/0/webhookConfigs/0/url"), LISTENER);
    }

    cases! { not_exempted_by;
        exempt_user1_does_not_exempt_user1_test: ("user1"),
        exempt_user1_tes_does_not_exempt_user1_test: ("user1-tes"),
        exempt_user1_test_x_does_not_exempt_user1_test: ("user1-test-x"),
        exempt_ser1_test_does_not_exempt_user1_test: ("ser1-test"),
        exempt_uppercase_user1_test_does_not_exempt_user1_test: ("USER1-TEST"),
    }

    #[test]
    fn exempt_user1_test_exempts_it_untouched() {
        let settings = workshop_with(json!({"exemptNamespaces": ["other", "user1-test"]}));
        assert_eq!(review(&foreign(), &settings), Verdict::accept());
        assert_eq!(
            review(&fixture("prometheusrule-other-namespace"), &settings),
            Verdict::accept()
        );
        assert_eq!(
            review(&fixture("seed-alertmanagerconfig"), &settings),
            Verdict::accept()
        );
        let mut shared = workshop_json();
        shared["exemptNamespaces"] = json!(["shared-monitoring"]);
        assert_eq!(
            review(
                &fixture("alertmanagerconfig-not-a-tenant-namespace"),
                &settings_from(shared)
            ),
            Verdict::accept()
        );
    }

    /// A matcher whose value is near the namespace is another namespace: refused, and
    /// overwritten under `onConflict: overwrite`.
    fn near_miss_is_not_the_namespace(near: &str) {
        let request = with_expr(format!("x{{namespace={near:?}}}"));
        refused_naming(
            &request,
            &workshop(),
            &[
                SEED_GROUP,
                SEED_ALERT,
                "spec.groups[0].rules[0].expr",
                &format!("has matcher namespace={near:?}"),
            ],
        );
        let a = admit(&request, &overwrite());
        assert_eq!(a.expr(), r#"x{namespace="user1-test"}"#);
        a.assert_warned(&[&format!("overwrote matcher namespace={near:?}")]);
        // In a rule label too.
        let mut labelled = fixture("seed-prometheusrule");
        labelled["object"]["spec"]["groups"][0]["rules"][0]["labels"]["namespace"] = json!(near);
        refused_naming(
            &labelled,
            &workshop(),
            &[
                "spec.groups[0].rules[0].labels.namespace",
                &format!("{near:?}"),
            ],
        );
    }

    cases! { near_miss_is_not_the_namespace;
        matcher_user1_testing_in_user1_test_is_not_scoped: ("user1-testing"),
        matcher_user1_tes_in_user1_test_is_not_scoped: ("user1-tes"),
        matcher_uppercase_user1_test_is_not_scoped: ("USER1-TEST"),
        matcher_with_a_trailing_space_is_not_scoped: ("user1-test "),
        matcher_with_a_leading_space_is_not_scoped: (" user1-test"),
    }

    #[test]
    fn the_namespace_itself_is_kept_as_written() {
        let a = admit(&with_expr(r#"x{namespace="user1-test"}"#), &workshop());
        assert_eq!(a.expr(), r#"x{namespace="user1-test"}"#);
        a.assert_patch(json!([label_op()]));
    }

    #[test]
    fn a_near_miss_in_one_alternative_of_an_or_is_still_refused() {
        refused_naming(
            &with_expr(r#"x{namespace="user1-test"} or y{namespace="user1-testing"}"#),
            &workshop(),
            &[
                "spec.groups[0].rules[0].expr",
                r#"namespace="user1-testing""#,
            ],
        );
    }

    fn without_namespace(name: &str) -> Value {
        let mut request = fixture(name);
        request["namespace"] = json!("");
        request["object"]["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("namespace");
        request
    }

    #[test]
    fn a_prometheusrule_without_a_namespace_is_refused() {
        let m = refused(&without_namespace("seed-prometheusrule"), &workshop());
        assert_mentions(&m, &["PrometheusRule", "has no namespace"]);
        // Even under overwrite, and when its expression would need no change.
        refused(
            &without_namespace("prometheusrule-no-matcher"),
            &overwrite(),
        );
    }

    #[test]
    fn an_alertmanagerconfig_without_a_namespace_is_refused_and_reads_nothing() {
        let cluster = FakeCluster::default();
        let m = refused_in(
            &cluster,
            &without_namespace("seed-alertmanagerconfig"),
            &tenancy::by_annotation(),
        );
        assert_mentions(&m, &["AlertmanagerConfig", "has no namespace"]);
        assert!(cluster.reads.borrow().is_empty());
    }

    #[test]
    fn a_request_without_a_namespace_is_not_exempted_by_an_empty_name() {
        let settings = workshop_with(json!({"exemptNamespaces": [""]}));
        refused(
            &without_namespace("prometheusrule-other-namespace"),
            &settings,
        );
    }

    #[test]
    fn the_objects_namespace_counts_when_the_request_leaves_it_out() {
        let mut request = fixture("prometheusrule-no-matcher");
        request["namespace"] = json!("");
        let a = admit(&request, &workshop());
        assert_eq!(a.expr(), SCOPED_SEED_EXPR);
    }

    fn chain_is_refused(expr: String, expected: &str) {
        let m = refused_naming(
            &with_expr(expr),
            &workshop(),
            &["spec.groups[0].rules[0].expr", expected],
        );
        assert!(m.len() < 4096, "{} bytes of message", m.len());
    }

    cases! { chain_is_refused;
        a_7000_deep_power_chain_is_refused_by_the_depth_bound: (vec!["x"; 7001].join("^"), "nests too deep"),
        a_2000_atan2_chain_is_refused_by_the_depth_bound: (vec!["x"; 2001].join(" atan2 "), "nests too deep"),
        a_7000_atan2_chain_is_refused_by_the_length_bound: (vec!["x"; 7001].join(" atan2 "), "the limit is 16384 bytes"),
        a_1000_deep_call_nest_is_refused: (format!("{}x{}", "abs(".repeat(1000), ")".repeat(1000)), "the limit is 256"),
        a_20000_term_sum_is_refused_by_the_length_bound: (vec!["x"; 20_000].join("+"), "the limit is 16384 bytes"),
        a_2000_term_sum_is_refused_by_the_depth_bound: (vec!["x"; 2000].join("+"), "the limit is 256"),
        a_400_deep_subquery_nest_is_refused: (format!("{}x{}", "max_over_time(".repeat(400), "[5m:])".repeat(400)), "the limit is 256"),
        a_300_deep_power_chain_is_refused: (vec!["x"; 301].join("^"), "nests too deep"),
    }

    #[test]
    fn a_chain_just_under_the_depth_bound_is_scoped_and_admitted() {
        let expr = format!("{}x{}", "abs(".repeat(250), ")".repeat(250));
        let a = admit(&with_expr(expr), &workshop());
        assert!(a.expr().contains(r#"x{namespace="user1-test"}"#));
        let a = admit(&with_expr(vec!["x"; 100].join("^")), &workshop());
        assert_eq!(
            a.expr().matches(r#"x{namespace="user1-test"}"#).count(),
            100
        );
    }
}

/// `tests/it/wasm_prometheusrule.rs`, natively.
mod prometheus_rule {
    use super::*;

    #[test]
    fn settings_are_validated_with_messages_naming_the_setting() {
        let valid = |v: Value| validate_settings_payload(v.to_string().as_bytes());
        assert!(valid(workshop_json()).valid);
        let mut ow = workshop_json();
        ow["onConflict"] = json!("overwrite");
        assert!(valid(ow).valid);
        let missing = valid(json!({}));
        assert!(!missing.valid);
        assert_mentions(&missing.message.unwrap_or_default(), &["clusterDomain"]);
        let bad = valid(json!({"namespaceLabel": "not a label", "clusterDomain": "a.io"}));
        assert!(!bad.valid);
        assert_mentions(&bad.message.unwrap_or_default(), &["namespaceLabel"]);
        let typo = valid(json!({"onConflict": "drop", "clusterDomain": "a.io"}));
        assert!(!typo.valid);
        assert_mentions(
            &typo.message.unwrap_or_default(),
            &["unknown variant `drop`"],
        );
    }

    /// The seed with `spec` replaced: refused, naming every part.
    fn malformed(spec: Value, parts: &[&str]) {
        let mut request = fixture("seed-prometheusrule");
        request["object"]["spec"] = spec;
        refused_naming(&request, &workshop(), parts);
    }

    cases! { malformed;
        groups_as_an_object_is_located: (json!({"groups": {"name": "x"}}), &["[object/shape]", "spec.groups", "must be a list"]),
        spec_as_a_list_is_located: (json!([]), &["[object/shape]", "spec", "must be an object"]),
        a_missing_expr_is_located: (json!({"groups": [{"name": "g", "rules": [{"alert": "a"}]}]}), &[r#"group "g" alert "a""#, "spec.groups[0].rules[0].expr", "is missing"]),
        a_float_expr_is_located: (json!({"groups": [{"name": "g", "rules": [{"alert": "a", "expr": 1.5}]}]}), &[r#"alert "a""#, "spec.groups[0].rules[0].expr", "a string or an integer"]),
        a_numeric_alert_name_is_located: (json!({"groups": [{"name": "g", "rules": [{"alert": 7, "expr": "up"}]}]}), &[r#"group "g""#, "spec.groups[0].rules[0].alert", "must be a string"]),
        a_rule_neither_alert_nor_record_is_located: (json!({"groups": [{"name": "g", "rules": [{"expr": "up"}]}]}), &[r#"group "g" rule 0"#, "spec.groups[0].rules[0]", "`alert`", "`record`"]),
        a_rule_both_alert_and_record_is_located: (json!({"groups": [{"name": "g", "rules": [{"alert": "a", "record": "r", "expr": "up"}]}]}), &[r#"group "g" rule 0"#, "spec.groups[0].rules[0]", "both `alert` and `record`"]),
        a_group_without_name_is_located: (json!({"groups": [{"rules": []}]}), &["spec.groups[0].name", "is missing"]),
        a_repeated_group_name_is_located: (json!({"groups": [{"name": "g"}, {"name": "g"}]}), &["spec.groups[1]", r#""g" is repeated"#, "spec.groups[0]"]),
        a_null_group_is_located: (json!({"groups": [null]}), &["spec.groups[0]", "found null"]),
        labels_as_a_list_is_located: (json!({"groups": [{"name": "g", "rules": [{"alert": "a", "expr": "up", "labels": []}]}]}), &[r#"alert "a""#, "spec.groups[0].rules[0].labels", "a list"]),
        a_numeric_label_value_is_located: (json!({"groups": [{"name": "g", "rules": [{"alert": "a", "expr": "up", "labels": {"x": 1}}]}]}), &[r#"alert "a""#, "spec.groups[0].rules[0].labels.x", "must be a string"]),
        a_numeric_for_is_located: (json!({"groups": [{"name": "g", "rules": [{"alert": "a", "expr": "up", "for": 5}]}]}), &[r#"alert "a""#, "spec.groups[0].rules[0].for", "a duration string"]),
        a_bad_keep_firing_for_is_located: (json!({"groups": [{"name": "g", "rules": [{"alert": "a", "expr": "up", "keep_firing_for": "soon"}]}]}), &[r#"alert "a""#, "spec.groups[0].rules[0].keep_firing_for", "\"soon\""]),
    }

    #[test]
    fn rejections_name_the_group_and_rule_by_index_when_unnamed() {
        let mut request = fixture("seed-prometheusrule");
        request["object"]["spec"] = json!({"groups": [{"name": "g", "rules": [{"alert": "ok", "expr": "up == 0"}, {"expr": "up"}]}]});
        refused_naming(
            &request,
            &workshop(),
            &[r#"group "g" rule 1"#, "spec.groups[0].rules[1]"],
        );
    }

    #[test]
    fn every_problem_of_an_object_is_listed_in_one_rejection() {
        let mut request = fixture("seed-prometheusrule");
        request["object"]["spec"]["groups"][0]["rules"] = json!([
            alert(r#"x{namespace="user2-test"}"#),
            {"record": "r", "expr": r#"y{namespace="user3-test"}"#},
        ]);
        refused_naming(
            &request,
            &workshop(),
            &[
                r#"alert "a""#,
                "spec.groups[0].rules[0].expr",
                r#"namespace="user2-test""#,
                r#"record "r""#,
                "spec.groups[0].rules[1].expr",
                r#"namespace="user3-test""#,
            ],
        );
    }

    #[test]
    fn integer_expressions_are_valid_and_only_labelled() {
        let a = admit(&with_expr(json!(1)), &workshop());
        a.assert_patch(json!([label_op()]));
        assert_eq!(a.at("/spec/groups/0/rules/0/expr"), &json!(1));
    }

    #[test]
    fn rule_labels_may_not_claim_another_namespace() {
        let mut request = fixture("seed-prometheusrule");
        request["object"]["spec"]["groups"][0]["rules"][0]["labels"]["namespace"] =
            json!("user2-test");
        refused_naming(
            &request,
            &workshop(),
            &[
                SEED_GROUP,
                SEED_ALERT,
                "spec.groups[0].rules[0].labels.namespace",
                r#""user2-test""#,
            ],
        );
        let a = admit(&request, &overwrite());
        a.assert_patch(json!([
            {"op": "replace", "path": "/spec/groups/0/rules/0/labels/namespace", "value": NS}
        ]));
        a.assert_warned(&["spec.groups[0].rules[0].labels.namespace", "overwrote"]);

        request["object"]["spec"]["groups"][0]["rules"][0]["labels"]["namespace"] =
            json!("{{ .Release.Namespace }}");
        let a = admit(&request, &workshop());
        a.assert_patch(json!([
            {"op": "replace", "path": "/spec/groups/0/rules/0/labels/namespace", "value": NS}
        ]));
        a.assert_warned(&[
            "spec.groups[0].rules[0].labels.namespace",
            "unrendered template",
        ]);
    }

    #[test]
    fn another_namespace_label_name_is_enforced_beside_namespace() {
        let settings = workshop_with(json!({"namespaceLabel": "kubernetes_namespace"}));
        let a = admit(&fixture("seed-prometheusrule"), &settings);
        assert_eq!(
            a.expr(),
            r#"trustyai_meanshift{kubernetes_namespace="user1-test", namespace="user1-test", subcategory="danceability"}<0.05"#
        );
        assert_eq!(
            a.at("/spec/groups/0/rules/0/labels/kubernetes_namespace"),
            NS
        );
        assert_eq!(a.at("/spec/groups/0/rules/0/labels/namespace"), NS);
    }

    #[test]
    fn or_matcher_groups_are_refused_not_rewritten_without_offering_on_conflict() {
        for settings in [overwrite(), workshop()] {
            let m = refused_naming(
                &with_expr(r#"x{a="1" or b="2"}"#),
                &settings,
                &["spec.groups[0].rules[0].expr", "uses `or` between matchers"],
            );
            assert!(!m.contains("onConflict"), "{m}");
            assert!(!m.contains("conflicts with"), "{m}");
        }
    }

    #[test]
    fn an_expression_that_does_not_parse_is_located() {
        refused_naming(
            &with_expr("x{a=~\"(\"}"),
            &workshop(),
            &["spec.groups[0].rules[0].expr", "expression does not parse"],
        );
    }

    #[test]
    fn rules_are_bounded_per_object() {
        let rules: Vec<Value> = (0..=crate::prometheus_rule::MAX_RULES)
            .map(|i| json!({"record": format!("r{i}"), "expr": "1"}))
            .collect();
        let mut request = fixture("seed-prometheusrule");
        request["object"]["spec"]["groups"][0]["rules"] = Value::Array(rules);
        refused_naming(
            &request,
            &workshop(),
            &["spec.groups", "2001 rules", "2000"],
        );
        // Exactly the limit is admitted, spread over groups as the bound counts them.
        let group = |g: usize, n: usize| {
            let rules: Vec<Value> = (0..n)
                .map(|i| json!({"record": format!("r{g}_{i}"), "expr": "1"}))
                .collect();
            json!({"name": format!("g{g}"), "rules": rules})
        };
        let limit = crate::prometheus_rule::MAX_RULES;
        request["object"]["spec"]["groups"] = json!([group(0, limit - 1), group(1, 1)]);
        admit(&request, &workshop());
        request["object"]["spec"]["groups"] = json!([group(0, limit), group(1, 1)]);
        refused_naming(&request, &workshop(), &["spec.groups", "2001 rules"]);
    }

    fn dialect_refused(expr: &str, expected: &str) {
        refused_naming(
            &with_expr(expr),
            &workshop(),
            &["spec.groups[0].rules[0].expr", expected],
        );
    }

    cases! { dialect_refused;
        form_feed_is_not_white_space: ("trustyai_meanshift{subcategory=\"danceability\"}\x0c<\x0c0.05", "`\\f` at byte 46 is not white space"),
        fill_needs_its_feature_flag: ("a + fill(0) b", "the `fill` modifier of a binary operator needs Prometheus's feature flag promql-binop-fill-modifiers"),
        limitk_needs_experimental_functions: ("limitk(1, x)", "`limitk` needs Prometheus's feature flag promql-experimental-functions"),
        limit_ratio_needs_experimental_functions: ("limit_ratio(0.5, x)", "`limit_ratio` needs"),
        info_needs_experimental_functions: ("info(up)", "`info` needs"),
        mad_over_time_needs_experimental_functions: ("mad_over_time(x[5m])", "`mad_over_time` needs"),
        sort_by_label_needs_experimental_functions: ("sort_by_label(x, \"a\")", "`sort_by_label` needs"),
        sort_by_label_desc_needs_experimental_functions: ("sort_by_label_desc(x, \"a\")", "`sort_by_label_desc` needs"),
        double_exponential_smoothing_needs_experimental_functions: ("double_exponential_smoothing(x[5m], 0.5, 0.5)", "`double_exponential_smoothing` needs"),
        ts_of_max_over_time_needs_experimental_functions: ("ts_of_max_over_time(x[5m])", "`ts_of_max_over_time` needs"),
        first_over_time_needs_experimental_functions: ("first_over_time(x[5m])", "`first_over_time` needs"),
        step_needs_experimental_functions: ("step()", "`step()` needs"),
        range_needs_experimental_functions: ("x > range()", "`range()` needs"),
        histogram_avg_is_not_in_prometheus_2_42: ("histogram_avg(x)", "the function `histogram_avg` is not a function of Prometheus 2.42"),
        a_duration_where_a_number_goes: ("x > 5m", "the duration `5m` at byte 4"),
        a_number_offset: ("x offset 5", "the number `5` at byte 9 is an offset"),
        a_signed_offset: ("x offset +5m", "`offset +` at byte 9"),
        a_number_range: ("rate(x[5])", "the number `5` at byte 7 is a range"),
        a_number_subquery_step: ("max_over_time(x[5m:30])", "the number `30` at byte 19 is a subquery step"),
        a_duration_at_timestamp: ("x @ 1005m", "the duration `1005m` at byte 4 is an @ timestamp"),
        unary_plus_on_a_string: ("label_replace(x, \"a\", \"b\", \"c\", +\"d\")", "the unary `+` at byte 32 applies to a string"),
        unary_plus_on_a_range: ("rate(+x[5m])", "the unary `+` at byte 5"),
        a_number_past_the_largest_float: ("x > 11e308", "the number `11e308` at byte 4 is past the largest float"),
        a_quoted_label_name: ("x{\"a\"=\"b\"}", "the quoted name \"a\" at byte 2"),
        a_quoted_grouping_label: ("sum by (\"a\") (x)", "the quoted name \"a\" at byte 8"),
        an_offset_out_of_range: ("rate(x[5m] offset 1e308) > 0", "the offset `1e308` is out of range"),
        an_at_timestamp_out_of_range: ("x @ 1e308", "the @ timestamp `1e308` is out of range"),
    }

    #[test]
    fn what_prometheus_accepts_near_those_stays_admitted_and_scoped() {
        for expr in [
            "trustyai_meanshift{subcategory=\"danceability\"} < 0.05",
            "trustyai_meanshift{subcategory=\"danceability\"}\t<\t0.05",
            "trustyai_meanshift{subcategory=\"danceability\"}\n<\n0.05",
            "trustyai_meanshift{subcategory=\"danceability\"}\r\n<\r\n0.05",
            "# a comment with a \x0c form feed\ntrustyai_meanshift{subcategory=\"danceability\"} < 0.05",
            "x offset 5m > 1",
            "rate(x[5m]) > 1",
            "x > 1e308",
            "topk(1, x)",
            "x @ 1609746000",
            "max_over_time(x[5m:30s]) > 1",
            "x offset -5m > 0",
            "x @ start() > 0",
            "max_over_time(x[292y:292y]) > 0",
        ] {
            let a = admit(&with_expr(expr), &workshop());
            assert!(a.mutated(), "{expr}");
        }
    }

    #[test]
    fn prometheus_features_admit_what_they_enable_and_no_more() {
        let experimental =
            workshop_with(json!({"prometheusFeatures": ["promql-experimental-functions"]}));
        for expr in [
            "limitk(1, x)",
            "limit_ratio(0.5, x)",
            "mad_over_time(x[5m]) > 1",
        ] {
            let a = admit(&with_expr(expr), &experimental);
            assert!(
                a.expr().contains(r#"x{namespace="user1-test"}"#),
                "{}",
                a.expr()
            );
        }
        refused_naming(
            &with_expr("a + fill(0) b"),
            &experimental,
            &[
                "spec.groups[0].rules[0].expr",
                "the cluster's Prometheus features are [promql-experimental-functions] (setting prometheusFeatures)",
            ],
        );
        let fill = workshop_with(json!({"prometheusFeatures": ["promql-binop-fill-modifiers"]}));
        let scoped = r#"a{namespace="user1-test"} + fill(0) b{namespace="user1-test"}"#;
        if let Verdict::Reject { message } = review(&with_expr(scoped), &fill) {
            assert!(!message.contains("feature flag"), "{message}");
        }
    }
}

/// `tests/it/wasm_drift.rs`, natively (the promtool judgements stay on the `.wasm`).
mod drift {
    use super::*;

    /// The seed with its rule's `expr` replaced and `extra`'s fields set (`null`
    /// removes one).
    fn drift_alert(expr: &str, extra: Value) -> Value {
        let mut r = with_expr(expr);
        let rule = r["object"]["spec"]["groups"][0]["rules"][0]
            .as_object_mut()
            .unwrap();
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                rule.remove(k);
            } else {
                rule.insert(k.clone(), v.clone());
            }
        }
        r
    }

    #[test]
    fn a_wrong_way_comparison_is_refused_saying_how_to_write_it() {
        refused_naming(
            &drift_alert(
                r#"trustyai_meanshift{namespace="user1-test"} > 0.05"#,
                json!({}),
            ),
            &workshop(),
            &[
                SEED_GROUP,
                "spec.groups[0].rules[0].expr",
                "would fire when there is no drift",
                "write `trustyai_meanshift < 0.05`",
            ],
        );
    }

    /// Every drift problem of an expression is reported, not only the first.
    #[test]
    fn every_drift_problem_is_reported() {
        refused_naming(
            &drift_alert(
                r#"trustyai_meanshift{namespace="user1-test"} > 0.05 or trustyai_kstest{namespace="user1-test"} < 5"#,
                json!({}),
            ),
            &workshop(),
            &["would fire when there is no drift", "would always fire"],
        );
    }

    /// A bare drift selector that cannot take its comparison says the comparison was
    /// the policy's.
    #[test]
    fn a_completion_that_cannot_be_made_says_it_was_the_default() {
        refused_naming(
            &drift_alert("trustyai_meanshift[5m]", json!({})),
            &workshop(),
            &[
                "spec.groups[0].rules[0].expr",
                "with its default comparison, ",
                "is a range vector",
            ],
        );
    }

    fn threshold_refused(expr: &str, expected: &str) {
        refused_naming(
            &drift_alert(expr, json!({})),
            &workshop(),
            &["spec.groups[0].rules[0].expr", expected],
        );
    }

    cases! { threshold_refused;
        kstest_below_5_always_fires: ("trustyai_kstest < 5", "would always fire"),
        kstest_below_0_never_fires: ("trustyai_kstest < 0", "would never fire"),
        fouriermmd_above_1_never_fires: ("trustyai_fouriermmd > 1", "would never fire"),
        spd_above_a_fair_value: ("trustyai_spd > 0.05", "fair inside [-0.1, 0.1]"),
    }

    #[test]
    fn a_bare_selector_gets_its_default_comparison_for_and_labels() {
        let a = admit(
            &drift_alert(
                "trustyai_comparemeans",
                json!({"for": null, "labels": null}),
            ),
            &workshop(),
        );
        a.assert_patch(json!([
            {"op": "replace", "path": "/spec/groups/0/rules/0/expr",
             "value": r#"trustyai_comparemeans{namespace="user1-test"} < 0.05"#},
            {"op": "add", "path": "/spec/groups/0/rules/0/for", "value": "10m"},
            {"op": "add", "path": "/spec/groups/0/rules/0/labels", "value": {"namespace": NS, "severity": "warning"}},
        ]));
        a.assert_warned(&["spec.groups[0].rules[0].expr", "scoped"]);
        a.assert_warned(&[
            "spec.groups[0].rules[0].expr",
            "added the default comparison",
        ]);
        a.assert_warned(&["spec.groups[0].rules[0].for", "\"10m\""]);
        a.assert_warned(&["spec.groups[0].rules[0].labels.severity", "\"warning\""]);
    }

    #[test]
    fn existing_labels_and_for_are_never_changed() {
        let a = admit(&fixture("seed-prometheusrule"), &workshop());
        a.assert_patch(json!([label_op()]));
        assert_eq!(a.at("/spec/groups/0/rules/0/labels/severity"), "critical");
    }

    fn for_refused(value: &str, expected: &str) {
        refused_naming(
            &drift_alert("trustyai_meanshift < 0.05", json!({"for": value})),
            &workshop(),
            &["spec.groups[0].rules[0].for", expected],
        );
    }

    cases! { for_refused;
        for_30s_is_below_min_for: ("30s", "shorter than the minimum \"1m\""),
        for_0s_is_below_min_for: ("0s", "shorter"),
        for_in_words_is_not_a_duration: ("ten minutes", "not a Prometheus duration"),
        // promtool: "duration out of range"; the rule file would not load.
        for_past_go_s_duration_is_out_of_range: ("293y", "\"293y\" is out of Prometheus's range"),
    }

    #[test]
    fn without_min_for_and_default_for_any_for_and_none_pass() {
        let lenient = workshop_with(json!({"minFor": "", "defaultFor": ""}));
        admit(
            &drift_alert("trustyai_meanshift < 0.05", json!({"for": "0s"})),
            &lenient,
        );
        let a = admit(
            &drift_alert("trustyai_meanshift < 0.05", json!({"for": null})),
            &lenient,
        );
        assert!(a.object.pointer("/spec/groups/0/rules/0/for").is_none());
        assert!(
            a.warnings.iter().all(|w| !w.contains(".for")),
            "{:?}",
            a.warnings
        );
    }

    #[test]
    fn recording_rules_are_only_scoped_and_pinned() {
        let mut request = fixture("seed-prometheusrule");
        request["object"]["spec"]["groups"][0]["rules"][0] =
            json!({"record": "x:meanshift", "expr": "trustyai_meanshift > 0.05"});
        let a = admit(&request, &workshop());
        a.assert_patch(json!([
            {"op": "replace", "path": "/spec/groups/0/rules/0/expr", "value": r#"trustyai_meanshift{namespace="user1-test"} > 0.05"#},
            {"op": "add", "path": "/spec/groups/0/rules/0/labels", "value": {"namespace": NS}},
        ]));
    }

    #[test]
    fn the_catalog_can_be_extended_and_overridden() {
        let settings = workshop_with(json!({"driftMetrics": {
            "my_drift_score": {"direction": "above", "threshold": 0.9, "range": [0, 1]},
            "trustyai_spd": null,
        }}));
        refused_naming(
            &drift_alert("my_drift_score < 0.9", json!({})),
            &settings,
            &[
                "spec.groups[0].rules[0].expr",
                "write `my_drift_score > 0.9`",
            ],
        );
        admit(&drift_alert("trustyai_spd > 0.05", json!({})), &settings);
    }

    /// Each catalog metric's alert as written is admitted, completed where bare.
    fn completed(expr: &str, want: &str) {
        let a = admit(
            &drift_alert(expr, json!({"labels": {"severity": "critical"}})),
            &workshop(),
        );
        assert_eq!(a.expr(), want);
    }

    cases! { completed;
        meanshift_below_is_kept: ("trustyai_meanshift < 0.05", r#"trustyai_meanshift{namespace="user1-test"} < 0.05"#),
        comparemeans_bare_is_completed: ("trustyai_comparemeans", r#"trustyai_comparemeans{namespace="user1-test"} < 0.05"#),
        kstest_reversed_is_kept: ("0.05 > trustyai_kstest", r#"0.05 > trustyai_kstest{namespace="user1-test"}"#),
        approxkstest_over_time_is_kept: ("min_over_time(trustyai_approxkstest[5m]) < 0.05", r#"min_over_time(trustyai_approxkstest{namespace="user1-test"}[5m]) < 0.05"#),
        fouriermmd_bare_is_completed_above: ("trustyai_fouriermmd", r#"trustyai_fouriermmd{namespace="user1-test"} > 0.8"#),
        spd_bare_is_completed_to_a_band: ("trustyai_spd", r#"trustyai_spd{namespace="user1-test"} < -0.1 or trustyai_spd{namespace="user1-test"} > 0.1"#),
        dir_above_is_kept: ("trustyai_dir > 1.2", r#"trustyai_dir{namespace="user1-test"} > 1.2"#),
    }
}

/// `tests/it/wasm_emitted_labels.rs`, natively: what a rule emits stays in its namespace.
mod emitted_labels {
    use super::*;

    fn leaves_with_its_namespace_label(expr: String) {
        let a = admit(&with_rule(alert(&expr)), &workshop());
        a.assert_patch(json!([label_op()]));
        assert_eq!(a.warnings.len(), 1, "{:?}", a.warnings);
        a.assert_warned(&["spec.groups[0].rules[0].labels.namespace", "\"user1-test\""]);
    }

    cases! { leaves_with_its_namespace_label;
        label_replace_onto_another_namespace_is_overridden: (format!(r#"label_replace({DRIFTING}, "namespace", "user2-test", "", "")"#)),
        label_join_onto_namespace_is_overridden: (format!(r#"label_join({DRIFTING}, "namespace", "", "subcategory")"#)),
        an_aggregation_dropping_namespace_is_labelled: (format!("min({DRIFTING})")),
    }

    #[test]
    fn recording_rules_are_pinned_too_and_labels_is_created_when_missing() {
        let a = admit(
            &with_rule(json!({"record": "user1:drift:min", "expr": "min(trustyai_meanshift)"})),
            &workshop(),
        );
        a.assert_patch(json!([
            {"op": "replace", "path": "/spec/groups/0/rules/0/expr", "value": r#"min(trustyai_meanshift{namespace="user1-test"})"#},
            {"op": "add", "path": "/spec/groups/0/rules/0/labels", "value": {"namespace": NS}},
        ]));
    }

    #[test]
    fn null_labels_are_replaced_by_the_namespace_label() {
        let a = admit(
            &with_rule(json!({"record": "r", "expr": "1", "labels": null})),
            &workshop(),
        );
        a.assert_patch(json!([
            {"op": "replace", "path": "/spec/groups/0/rules/0/labels", "value": {"namespace": NS}},
        ]));
    }

    #[test]
    fn a_rule_that_already_carries_the_label_gets_no_change() {
        let mut rule = alert(DRIFTING);
        rule["labels"]["namespace"] = json!(NS);
        admit(&with_rule(rule), &workshop()).assert_untouched();
    }

    #[test]
    fn a_rule_label_naming_another_namespace_is_a_conflict_or_overwritten() {
        let mut rule = alert(DRIFTING);
        rule["labels"]["namespace"] = json!("user2-test");
        let request = with_rule(rule);
        refused_naming(
            &request,
            &workshop(),
            &[
                r#"group "jukebox.rules" alert "a""#,
                "spec.groups[0].rules[0].labels.namespace",
                r#""user2-test""#,
                r#"namespace "user1-test""#,
            ],
        );
        let a = admit(&request, &overwrite());
        assert_eq!(a.at("/spec/groups/0/rules/0/labels/namespace"), NS);
    }

    fn bool_alert_refused(expr: String) {
        refused_naming(
            &with_rule(alert(&expr)),
            &workshop(),
            &[
                r#"group "jukebox.rules" alert "a""#,
                "spec.groups[0].rules[0].expr",
                "`bool`",
            ],
        );
    }

    cases! { bool_alert_refused;
        a_bare_bool_comparison_alert_is_refused: ("trustyai_meanshift < bool 0.05".to_owned()),
        a_bool_comparison_under_and_is_refused: ("min(trustyai_meanshift) < bool 0.05 and on() vector(1)".to_owned()),
        a_bool_comparison_in_a_subquery_is_refused: (format!("max_over_time(({DRIFTING} < bool 1)[5m:])")),
    }

    #[test]
    fn a_bool_comparison_filtered_again_or_recorded_is_admitted() {
        admit(
            &with_rule(alert("(trustyai_meanshift < bool 0.05) == 1")),
            &workshop(),
        );
        admit(
            &with_rule(json!({"record": "drifting", "expr": "trustyai_meanshift < bool 0.05"})),
            &workshop(),
        );
    }

    fn value_label_refused(template: &str) {
        let mut rule = alert(DRIFTING);
        rule["labels"]["p"] = json!(template);
        refused_naming(
            &with_rule(rule),
            &workshop(),
            &[
                r#"group "jukebox.rules" alert "a""#,
                "spec.groups[0].rules[0].labels.p",
            ],
        );
    }

    cases! { value_label_refused;
        a_label_templating_value_is_refused: ("{{ $value }}"),
        a_label_templating_humanized_value_is_refused: ("{{ humanize $value }}"),
        a_label_templating_dot_value_is_refused: ("p={{.Value}}"),
    }

    #[test]
    fn annotations_may_say_the_value_and_labels_may_name_other_labels() {
        let mut rule = alert(DRIFTING);
        rule["annotations"] = json!({"message": "p-value {{ $value }}"});
        rule["labels"]["model"] = json!("{{ $labels.model }}");
        rule["labels"]["namespace"] = json!(NS);
        admit(&with_rule(rule), &workshop()).assert_untouched();
    }

    fn outside_the_custom_pattern(namespace: &str) {
        let settings = workshop_with(json!({"tenantPattern": "(?P<user>[a-z0-9]+)-(test|prod)"}));
        refused_naming(
            &in_namespace(fixture("seed-alertmanagerconfig"), namespace),
            &settings,
            &[&format!(
                "namespace {namespace:?} does not match the tenant pattern"
            )],
        );
    }

    cases! { outside_the_custom_pattern;
        an_unanchored_pattern_does_not_match_a_prefixed_namespace: ("evil-user1-test"),
        an_unanchored_pattern_does_not_match_a_suffixed_namespace: ("user1-test-x"),
    }

    #[test]
    fn an_unanchored_custom_pattern_still_matches_the_whole_namespace() {
        let settings = workshop_with(json!({"tenantPattern": "(?P<user>[a-z0-9]+)-(test|prod)"}));
        let a = admit(&fixture("seed-alertmanagerconfig"), &settings);
        assert_eq!(a.at("/spec/receivers/0/webhookConfigs/0/url"), LISTENER);
    }
}

/// `tests/it/wasm_expression_text.rs`, natively: the author's text is edited in place.
mod expression_text {
    use super::*;

    const SCOPE: &str = r#"{namespace="user1-test"}"#;

    /// The seed rule, already labelled, with `expr`: the expression is all that changes.
    fn labelled(expr: &str) -> Value {
        let mut r = with_expr(expr);
        r["object"]["spec"]["groups"][0]["rules"][0]["labels"]["namespace"] = json!(NS);
        r
    }

    /// The same as a recording rule (no drift completion, no alert checks).
    fn recording(expr: &str) -> Value {
        let mut r = labelled(expr);
        let rule = r["object"]["spec"]["groups"][0]["rules"][0]
            .as_object_mut()
            .unwrap();
        rule.remove("alert");
        rule.remove("for");
        rule.remove("annotations");
        rule.insert("record".to_owned(), json!("jukebox:recorded"));
        r
    }

    /// Admitted with only the expression changed, to `want`, and no reprint warning.
    fn edited_in_place(request: Value, want: &str) {
        let a = admit(&request, &workshop());
        a.assert_patch(json!([
            {"op": "replace", "path": "/spec/groups/0/rules/0/expr", "value": want}
        ]));
        assert!(
            a.warnings.iter().all(|w| !w.contains("reprinted")),
            "{:?}",
            a.warnings
        );
    }

    fn alert_text(input: &str, want: &str) {
        edited_in_place(labelled(input), want);
    }

    cases! { alert_text;
        comments_and_spacing_are_kept: (
            "# drift on danceability\ntrustyai_meanshift{subcategory=\"danceability\"}   # p-value\n  < 0.05\n",
            "# drift on danceability\ntrustyai_meanshift{namespace=\"user1-test\", subcategory=\"danceability\"}   # p-value\n  < 0.05\n"),
        uppercase_keywords_and_exponents_are_kept: (
            "SUM BY (model) (\n  rate(requests{code=~\"5..\"}[5m] OFFSET 1h)\n) > 1E3",
            "SUM BY (model) (\n  rate(requests{namespace=\"user1-test\", code=~\"5..\"}[5m] OFFSET 1h)\n) > 1E3"),
        at_timestamp_digits_are_kept: ("x @ 1.0005 > 0", "x{namespace=\"user1-test\"} @ 1.0005 > 0"),
        hex_escapes_are_kept: (r#"x{a="\xc3\xa9"} > 0"#, r#"x{namespace="user1-test", a="\xc3\xa9"} > 0"#),
        quotes_of_every_kind_are_kept: ("x{a='é', b=`{#}`} > 0 # } {", "x{namespace=\"user1-test\", a='é', b=`{#}`} > 0 # } {"),
        subqueries_and_group_left_are_kept: (
            "max_over_time(x[10m:1m] offset 5m) / on (job) group_left y",
            "max_over_time(x{namespace=\"user1-test\"}[10m:1m] offset 5m) / on (job) group_left y{namespace=\"user1-test\"}"),
        hex_numbers_and_nested_calls_are_kept: ("topk(scalar(a),b)+0x1F", "topk(scalar(a{namespace=\"user1-test\"}),b{namespace=\"user1-test\"})+0x1F"),
        a_metric_named_like_a_label_is_scoped: ("sum by (up) (up)", "sum by (up) (up{namespace=\"user1-test\"})"),
        an_unrendered_template_is_replaced_in_place: ("x{namespace=\"{{ .Release.Namespace }}\",a=\"b\"}", "x{namespace=\"user1-test\",a=\"b\"}"),
    }

    #[test]
    fn overwrite_edits_only_the_conflicting_matchers() {
        let request =
            labelled("x{a=\"b\", namespace=~\"user.*\" , c=\"d\", namespace!=\"y\"} # keep\n< 1");
        let a = admit(&request, &overwrite());
        assert_eq!(
            a.expr(),
            "x{a=\"b\", namespace=\"user1-test\" , c=\"d\" } # keep\n< 1"
        );
    }

    #[test]
    fn a_bare_drift_selector_gets_its_comparison_after_the_last_token() {
        let a = admit(
            &labelled("# jukebox\ntrustyai_meanshift{subcategory=\"danceability\"}  # p-value\n"),
            &workshop(),
        );
        assert_eq!(
            a.expr(),
            "# jukebox\ntrustyai_meanshift{namespace=\"user1-test\", subcategory=\"danceability\"} < 0.05  # p-value\n"
        );
    }

    fn never_grows_past_the_matchers(input: String) {
        let a = admit(&labelled(&input), &workshop());
        assert!(
            a.expr().len() <= input.len() + SCOPE.len(),
            "{} bytes became {}",
            input.len(),
            a.expr().len()
        );
    }

    cases! { never_grows_past_the_matchers;
        a_9000_quote_raw_string_is_not_escaped: (format!("x{{a=`{}`}} > 0", "\"".repeat(9000))),
        a_hundred_huge_literals_are_not_spelled_out: (format!("{}x{}", "(".repeat(100), " + 1e308)".repeat(100))),
    }

    #[test]
    fn row_1_keyword_named_metrics_are_edited_in_place_and_literals_keep_their_spelling() {
        let terms = vec!["1e308"; 59].join(" + ");
        let a = admit(&recording(&format!("sum + {terms}")), &workshop());
        assert_eq!(a.expr(), format!("sum{SCOPE} + {terms}"));
        let group = format!("({})", vec!["1e308"; 50].join(" + "));
        let input = format!("sum + {}", vec![group.as_str(); 40].join(" + "));
        let a = admit(&recording(&input), &workshop());
        assert_eq!(a.expr().len(), input.len() + SCOPE.len());
    }

    fn recorded_text(input: &str, want: &str) {
        edited_in_place(recording(input), want);
    }

    cases! { recorded_text;
        row_2_hex_escapes_are_kept: (r#"x{subcategory="dance\xc3\xa9"} or sum"#, r#"x{namespace="user1-test", subcategory="dance\xc3\xa9"} or sum{namespace="user1-test"}"#),
        row_2_octal_escapes_are_kept: (r#"x{subcategory="dance\303\251"} or sum"#, r#"x{namespace="user1-test", subcategory="dance\303\251"} or sum{namespace="user1-test"}"#),
        row_3_negative_timestamps_are_kept: ("x @ -100 or sum", r#"x{namespace="user1-test"} @ -100 or sum{namespace="user1-test"}"#),
        no_reprint_for_a_keyword_metric: ("sum + x", r#"sum{namespace="user1-test"} + x{namespace="user1-test"}"#),
    }

    #[test]
    fn row_4_case_folded_unicode_regexes_are_admitted() {
        let one = format!("x{{a=~\"{}\"}}", r"(?i)\\p{Any}".repeat(80));
        let input = vec![one.as_str(); 15].join(" or ");
        assert!(input.len() > 14 * 1024, "{}", input.len());
        let a = admit(&recording(&input), &workshop());
        assert_eq!(a.expr().matches(SCOPE.trim_matches(['{', '}'])).count(), 15);
    }

    #[test]
    fn row_6_a_range_vector_alert_is_refused_with_what_to_compare() {
        refused_naming(
            &labelled("trustyai_meanshift[5m]"),
            &workshop(),
            &[
                "spec.groups[0].rules[0].expr",
                "trustyai_meanshift[5m] is a range vector",
                "min_over_time(trustyai_meanshift[5m])",
            ],
        );
        refused_naming(
            &labelled("trustyai_meanshift[10m:1m]"),
            &workshop(),
            &[
                "spec.groups[0].rules[0].expr",
                "trustyai_meanshift[10m:1m] is a range vector (a subquery)",
            ],
        );
    }

    fn band(input: String, want: String) {
        alert_text(&input, &want);
    }

    const CORE: &str = r#"trustyai_spd{namespace="user1-test", subcategory=~"dance.*"}"#;

    cases! { band;
        row_8_a_band_is_completed: (r#"trustyai_spd{subcategory=~"dance.*"}"#.to_owned(), format!("{CORE} < -0.1 or {CORE} > 0.1")),
        row_8_a_band_is_completed_with_its_comments: ("# fairness\ntrustyai_spd{subcategory=~\"dance.*\"} # spd\n".to_owned(), format!("# fairness\n{CORE} < -0.1 or {CORE} > 0.1 # spd\n")),
        row_8_a_bare_band_is_completed: ("# fairness\ntrustyai_spd # spd\n".to_owned(), format!("# fairness\ntrustyai_spd{SCOPE} < -0.1 or trustyai_spd{SCOPE} > 0.1 # spd\n")),
    }

    fn regex_refused(input: &str, reason: &str) {
        refused_naming(
            &recording(input),
            &workshop(),
            &[
                r#"record "jukebox:recorded""#,
                "spec.groups[0].rules[0].expr",
                reason,
            ],
        );
    }

    cases! { regex_refused;
        row_13_nested_repetition_is_refused: (r#"{__name__=~"x.*+"}"#, "invalid nested repetition operator `*+`"),
        row_13_a_repeat_over_1000_is_refused: (r#"x{a=~"b{1001}"}"#, "invalid repeat count `{1001}`"),
        row_13_an_unknown_class_is_refused: (r#"x{a=~"\\p{Letter}"}"#, "invalid character class range"),
    }

    #[test]
    fn regexes_are_bounded_per_object() {
        let regex = format!("x{{a=~\"{}\"}}", "(?i)\\\\p{Any}".repeat(160));
        let rules: Vec<Value> = (0..40)
            .map(|i| json!({"record": format!("r{i}"), "expr": regex}))
            .collect();
        let mut request = fixture("seed-prometheusrule");
        request["object"]["spec"]["groups"][0]["rules"] = Value::Array(rules);
        refused_naming(
            &request,
            &workshop(),
            &["spec.groups[0].rules[34].expr", "65536 bytes"],
        );
    }
}

/// `tests/it/wasm_template_boundary.rs`, natively: nothing around an expression crosses
/// the tenant boundary.
mod template_boundary {
    use super::*;

    const LEAK: &str = r#"{{ with query "secret_metric{namespace=\"user2-test\"}" }}{{ range . }}{{ .Labels.token }}={{ .Value }}{{ end }}{{ end }}"#;
    const RULE: &str = r#"group "jukebox.rules" alert "a""#;

    fn alert_with(field: &str, key: &str, template: &str) -> Value {
        let mut rule = alert(DRIFTING);
        rule[field][key] = json!(template);
        with_rule(rule)
    }

    fn rejected_at(request: &Value, field: &str, what: &str) {
        refused_naming(
            request,
            &workshop(),
            &[RULE, &format!("spec.groups[0].rules[0].{field}"), what],
        );
    }

    #[test]
    fn query_in_an_annotation_is_refused() {
        rejected_at(
            &alert_with("annotations", "message", LEAK),
            "annotations.message",
            "calls `query`",
        );
    }

    #[test]
    fn query_in_a_label_is_refused() {
        rejected_at(
            &alert_with("labels", "token", LEAK),
            "labels.token",
            "calls `query`",
        );
    }

    #[test]
    fn a_label_printing_the_value_past_a_quoted_close_is_refused() {
        rejected_at(
            &alert_with("labels", "p", r#"{{ print "}}" $value }}"#),
            "labels.p",
            "`$value`",
        );
    }

    #[test]
    fn a_label_from_querys_first_value_is_refused() {
        rejected_at(
            &alert_with(
                "labels",
                "p",
                r#"{{ with query "trustyai_meanshift" }}{{ . | first | value }}{{ end }}"#,
            ),
            "labels.p",
            "calls `query`",
        );
    }

    #[test]
    fn group_fields_prometheus_2_42_does_not_know_are_refused() {
        // "field labels not found in type rulefmt.RuleGroup": the rule file would not
        // load (or the operator would drop the labels, and with them what they route).
        for (field, value, expected) in [
            (
                "labels",
                json!({"p": "{{ $value }}"}),
                &["Prometheus 3.0", "put these labels in each rule's `labels`"],
            ),
            (
                "labels",
                json!({"namespace": "user2-test", "team": "a"}),
                &["Prometheus 3.0", "put these labels in each rule's `labels`"],
            ),
            (
                "labels",
                json!({"namespace": NS}),
                &["Prometheus 3.0", "put these labels in each rule's `labels`"],
            ),
            (
                "query_offset",
                json!("1m"),
                &[
                    "Prometheus 2.53",
                    "write `offset` in the rules' expressions",
                ],
            ),
        ] {
            let mut request = with_rule(alert(DRIFTING));
            request["object"]["spec"]["groups"][0][field] = value;
            for settings in [workshop(), overwrite()] {
                let mut naming = vec![
                    "[object/loads] spec.groups[0].".to_owned()
                        + field
                        + ": group field `"
                        + field
                        + "`",
                    "Prometheus 2.42 refuses a rule file that has it".to_owned(),
                ];
                naming.extend(expected.iter().map(|e| e.to_string()));
                let naming: Vec<&str> = naming.iter().map(String::as_str).collect();
                refused_naming(&request, &settings, &naming);
            }
            // A null is no field.
            request["object"]["spec"]["groups"][0][field] = Value::Null;
            admit(&request, &workshop());
        }
    }

    #[test]
    fn an_unknown_template_function_is_refused() {
        rejected_at(
            &alert_with("annotations", "message", "{{ .Values.x | quote }}"),
            "annotations.message",
            "`quote`",
        );
    }

    #[test]
    fn a_broken_template_is_refused() {
        rejected_at(
            &alert_with("annotations", "message", "p={{ $value"),
            "annotations.message",
            "is not a valid Go template",
        );
    }

    #[test]
    fn count_values_as_the_result_is_refused() {
        rejected_at(
            &with_rule(alert(&format!(r#"count_values("p", {DRIFTING})"#))),
            "expr",
            r#"`count_values("p", …)`"#,
        );
    }

    /// A label the rule sets itself (the namespace label, always; `alertname`; one in
    /// `labels`) overrides count_values' label, so two values at once collide in one
    /// label set and Prometheus fails the evaluation: refused too, saying so.
    #[test]
    fn an_overridden_count_values_label_is_refused_as_a_collision() {
        for label in ["namespace", "alertname", "severity"] {
            rejected_at(
                &with_rule(alert(&format!(r#"count_values({label:?}, {DRIFTING})"#))),
                "expr",
                &format!(
                    r#"the rule sets {label:?} itself after the expression, so two samples with different values collide"#
                ),
            );
        }
    }

    /// `defaultLabels` fills the labels an alert does not set; one it sets, even to `""`
    /// (which removes the label in Prometheus), is the author's.
    #[test]
    fn default_labels_fill_only_labels_the_alert_leaves_out() {
        let settings =
            workshop_with(json!({"defaultLabels": {"severity": "warning", "team": "ml"}}));
        let mut rule = alert(DRIFTING);
        rule["labels"] = json!({"severity": ""});
        let a = admit(&with_rule(rule), &settings);
        a.assert_patch(json!([
            label_op(),
            {"op": "add", "path": "/spec/groups/0/rules/0/labels/team", "value": "ml"},
        ]));
        a.assert_warned(&["spec.groups[0].rules[0].labels.team", r#"set to "ml""#]);
        // Recording rules route nowhere: they get none.
        let a = admit(
            &with_rule(json!({"record": "r", "expr": DRIFTING})),
            &settings,
        );
        assert_eq!(
            a.at("/spec/groups/0/rules/0/labels"),
            &json!({"namespace": NS})
        );
    }

    #[test]
    fn a_bool_filter_passing_both_0_and_1_is_refused() {
        rejected_at(
            &with_rule(alert(
                r#"(trustyai_meanshift{namespace="user1-test",subcategory="danceability"} < bool 0.05) >= 0"#,
            )),
            "expr",
            "`… >= 0`",
        );
    }

    #[test]
    fn bool_filters_that_filter_are_admitted() {
        for filtering in [
            "(trustyai_meanshift < bool 0.05) == 1",
            "(trustyai_meanshift < bool 0.05) > 0",
        ] {
            admit(&with_rule(alert(filtering)), &workshop());
        }
    }

    #[test]
    fn one_argument_info_is_refused_in_every_rule() {
        let experimental =
            workshop_with(json!({"prometheusFeatures": ["promql-experimental-functions"]}));
        for (rule, who) in [
            (alert("info(up) == 0"), r#"alert "a""#),
            (
                json!({"record": "user1:up:info", "expr": "info(up)"}),
                r#"record "user1:up:info""#,
            ),
        ] {
            refused_naming(
                &with_rule(rule.clone()),
                &workshop(),
                &[who, "spec.groups[0].rules[0].expr", "`info` needs"],
            );
            refused_naming(
                &with_rule(rule),
                &experimental,
                &[
                    who,
                    "spec.groups[0].rules[0].expr",
                    r#"`info(up{namespace="user1-test"})"#,
                    r#"`info(<expr>, {namespace="user1-test"})`"#,
                ],
            );
        }
    }

    #[test]
    fn the_routing_label_is_pinned_whatever_namespace_label_says() {
        let settings = workshop_with(json!({"namespaceLabel": "kubernetes_namespace"}));
        let expr = format!(r#"label_replace({DRIFTING}, "namespace", "user2-test", "", "")"#);
        let a = admit(&with_rule(alert(&expr)), &settings);
        assert_eq!(a.at("/spec/groups/0/rules/0/labels/namespace"), NS);
        assert_eq!(
            a.at("/spec/groups/0/rules/0/labels/kubernetes_namespace"),
            NS
        );
        assert!(a.patch.contains(&label_op()), "{:?}", a.patch);
        a.assert_warned(&[
            "spec.groups[0].rules[0].labels.namespace",
            "routes alerts by `namespace`",
        ]);
    }

    #[test]
    fn harmless_templates_and_the_seed_stay_admitted() {
        admit(&fixture("seed-prometheusrule"), &workshop());
        let mut rule = alert(DRIFTING);
        rule["labels"]["model"] = json!("{{ $labels.namespace }}");
        rule["labels"]["literal"] = json!("a }} b");
        rule["annotations"] = json!({
            "summary": "{{ $labels.namespace }} p={{ $value }}",
            "h": "{{ humanize $value }}",
            "f": r#"{{ printf "%.2f" $value }}"#,
        });
        let a = admit(&with_rule(rule), &workshop());
        a.assert_patch(json!([label_op()]));
    }
}

/// `tests/it/wasm_alertmanagerconfig.rs`, natively.
mod alertmanager_config {
    use super::*;

    fn reject_foreign() -> Settings {
        workshop_with(json!({"onForeignListener": "reject"}))
    }

    #[test]
    fn the_same_listener_written_differently_is_left_alone() {
        let request = with_url(
            "alertmanagerconfig-v1beta1-correct",
            "https://EL-CT-LISTENER-user1-toolings.apps.cluster-abc.example.com:443",
        );
        admit(&request, &workshop()).assert_untouched();
    }

    fn other_tenant_in(version: &str) {
        let mut request = fixture("alertmanagerconfig-other-user");
        request["kind"]["version"] = json!(version);
        request["object"]["apiVersion"] = json!(format!("monitoring.coreos.com/{version}"));
        let a = admit(&request, &workshop());
        assert_eq!(a.at("/spec/receivers/0/webhookConfigs/0/url"), LISTENER);
        a.assert_warned(&[
            "spec.receivers[0].webhookConfigs[0].url",
            "another tenant's EventListener",
        ]);
        refused_naming(
            &request,
            &reject_foreign(),
            &[
                r#"receiver "default""#,
                "spec.receivers[0].webhookConfigs[0].url",
                "user2",
            ],
        );
    }

    cases! { other_tenant_in;
        another_tenants_listener_in_v1alpha1_is_rewritten_or_refused: ("v1alpha1"),
        another_tenants_listener_in_v1beta1_is_rewritten_or_refused: ("v1beta1"),
    }

    #[test]
    fn a_missing_url_is_set_or_refused() {
        let mut request = fixture("seed-alertmanagerconfig");
        request["object"]["spec"]["receivers"][0]["webhookConfigs"][0] = json!({});
        let a = admit(&request, &workshop());
        assert_eq!(a.at("/spec/receivers/0/webhookConfigs/0/url"), LISTENER);
        refused_naming(
            &request,
            &reject_foreign(),
            &["spec.receivers[0].webhookConfigs[0].url", "no URL"],
        );
    }

    fn destination_refused(url: &str) {
        let m = refused_naming(
            &with_url("alertmanagerconfig-v1beta1-correct", url),
            &workshop(),
            &[
                r#"receiver "default""#,
                "spec.receivers[0].webhookConfigs[0].url",
            ],
        );
        assert_mentions(&m, &["alerts may not be sent there"]);
    }

    cases! { destination_refused;
        the_metadata_address_is_refused: ("http://169.254.169.254/latest/meta-data/"),
        the_platform_prometheus_is_refused: ("http://prometheus-operated.openshift-monitoring.svc:9090/"),
        an_unlisted_host_is_refused: ("https://hooks.example.com/alerts-evil"),
        a_lookalike_host_is_refused: ("https://hooks.example.com.evil.io/alerts"),
    }

    #[test]
    fn a_dot_segment_leaving_the_listener_is_refused_as_written() {
        refused_naming(
            &with_url(
                "alertmanagerconfig-v1beta1-correct",
                "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/../x/",
            ),
            &workshop(),
            &[
                "spec.receivers[0].webhookConfigs[0].url",
                "'.' or '..' path segment",
            ],
        );
    }

    #[test]
    fn allowed_prefixes_admit_under_them_and_nothing_beside() {
        let allowed =
            workshop_with(json!({"allowedWebhookUrls": ["https://hooks.example.com/alerts"]}));
        admit(
            &with_url(
                "alertmanagerconfig-v1beta1-correct",
                "https://hooks.example.com/alerts/team-a",
            ),
            &allowed,
        )
        .assert_untouched();
        refused_naming(
            &with_url(
                "alertmanagerconfig-v1beta1-correct",
                "https://hooks.example.com/alerts-evil",
            ),
            &allowed,
            &[
                "spec.receivers[0].webhookConfigs[0].url",
                "allowedWebhookUrls",
            ],
        );
    }

    #[test]
    fn a_url_secret_needs_the_admin_and_then_gets_no_url() {
        let request = fixture("alertmanagerconfig-url-secret");
        let a = admit(&request, &workshop_with(json!({"allowUrlSecret": true})));
        assert!(a
            .at("/spec/receivers/0/webhookConfigs/0")
            .get("url")
            .is_none());
        assert_eq!(
            a.at("/spec/receivers/0/webhookConfigs/0/sendResolved"),
            false
        );
    }

    #[test]
    fn a_proxy_is_refused_naming_the_field() {
        refused_naming(
            &with_http_config(json!({"proxyURL": "http://evil.example.com:3128"})),
            &workshop(),
            &["spec.receivers[0].webhookConfigs[0].httpConfig.proxyURL"],
        );
    }

    #[test]
    fn another_integration_passes_once_the_admin_allows_it() {
        let a = admit(
            &fixture("alertmanagerconfig-slack"),
            &workshop_with(json!({"allowedReceiverIntegrations": ["slackConfigs"]})),
        );
        a.assert_patch(json!([
            {"op": "add", "path": "/spec/route/repeatInterval", "value": "12h"},
            {"op": "add", "path": "/spec/receivers/0/webhookConfigs/0/httpConfig", "value": {"followRedirects": false}},
            {"op": "add", "path": "/spec/receivers/0/webhookConfigs/0/sendResolved", "value": false},
        ]));
    }

    #[test]
    fn storm_settings_turned_off_leave_only_the_redirect_guard_and_the_url() {
        let a = admit(
            &fixture("seed-alertmanagerconfig"),
            &workshop_with(json!({"sendResolved": null, "repeatInterval": ""})),
        );
        a.assert_patch(json!([
            {"op": "add", "path": "/spec/receivers/0/webhookConfigs/0/httpConfig", "value": {"followRedirects": false}},
            {"op": "replace", "path": "/spec/receivers/0/webhookConfigs/0/url", "value": LISTENER},
        ]));
    }

    #[test]
    fn explicit_storm_values_are_kept() {
        let mut request = fixture("seed-alertmanagerconfig");
        request["object"]["spec"]["receivers"][0]["webhookConfigs"][0]["sendResolved"] =
            json!(true);
        request["object"]["spec"]["route"]["repeatInterval"] = json!("4h");
        let a = admit(&request, &workshop());
        a.assert_patch(json!([
            {"op": "add", "path": "/spec/receivers/0/webhookConfigs/0/httpConfig", "value": {"followRedirects": false}},
            {"op": "replace", "path": "/spec/receivers/0/webhookConfigs/0/url", "value": LISTENER},
        ]));
        request["object"]["spec"]["route"]["repeatInterval"] = json!("four hours");
        refused_naming(
            &request,
            &workshop(),
            &["spec.route.repeatInterval", "\"four hours\""],
        );
    }

    #[test]
    fn a_repeated_receiver_name_is_refused_naming_both_places() {
        let mut request = correct();
        let first = request["object"]["spec"]["receivers"][0].clone();
        request["object"]["spec"]["receivers"]
            .as_array_mut()
            .unwrap()
            .push(first);
        refused_naming(
            &request,
            &workshop(),
            &[
                "spec.receivers[1]",
                r#"receiver name "default" is repeated"#,
                "spec.receivers[0]",
            ],
        );
    }

    #[test]
    fn routes_nested_40_deep_are_refused_by_the_depth_bound() {
        let mut request = correct();
        let mut route = json!({"receiver": "default"});
        for _ in 0..40 {
            route = json!({"receiver": "default", "routes": [route]});
        }
        request["object"]["spec"]["route"]["routes"] = json!([route]);
        refused_naming(
            &request,
            &workshop(),
            &["spec.route.routes[0]", "deeper than 32"],
        );
    }

    #[test]
    fn a_custom_pattern_and_template_are_honoured() {
        let settings = workshop_with(json!({
            "tenantPattern": "^team-(?P<user>[a-z]+)$",
            "webhookUrlTemplate": "http://el-{user}.{namespace}.svc.cluster.local:8080/",
        }));
        let mut request = fixture("seed-alertmanagerconfig");
        request["namespace"] = json!("team-blue");
        let a = admit(&request, &settings);
        assert_eq!(
            a.at("/spec/receivers/0/webhookConfigs/0/url"),
            "http://el-blue.team-blue.svc.cluster.local:8080/"
        );
    }

    #[test]
    fn v1alpha1_time_intervals_are_looked_up_under_mute_time_intervals() {
        let mut request = fixture("alertmanagerconfig-v1alpha1-correct");
        request["object"]["spec"]["route"]["routes"] =
            json!([{"receiver": "default", "muteTimeIntervals": ["maintenance", "weekend"]}]);
        let m = refused_naming(
            &request,
            &workshop(),
            &[
                "spec.route.routes[0].muteTimeIntervals",
                r#""weekend""#,
                "in v1alpha1, time intervals are defined under spec.muteTimeIntervals",
            ],
        );
        assert!(!m.contains("\"maintenance\""), "{m}");
    }

    #[test]
    fn v1beta1_time_intervals_are_looked_up_under_time_intervals() {
        let mut request = correct();
        let spec = request["object"]["spec"].as_object_mut().unwrap();
        let intervals = spec.remove("timeIntervals").unwrap();
        spec.insert("muteTimeIntervals".to_owned(), intervals);
        refused_naming(
            &request,
            &workshop(),
            &[
                "spec.route.activeTimeIntervals",
                r#""office""#,
                "spec.timeIntervals (in v1beta1",
            ],
        );
    }

    #[test]
    fn follow_redirects_true_is_refused_naming_the_field() {
        refused_naming(
            &with_http_config(json!({"followRedirects": true})),
            &workshop(),
            &[
                r#"receiver "default""#,
                "spec.receivers[0].webhookConfigs[0].httpConfig.followRedirects",
            ],
        );
    }

    #[test]
    fn follow_redirects_null_or_absent_becomes_false_keeping_other_fields() {
        for http in [
            json!({"followRedirects": null}),
            json!(null),
            json!({"bearerTokenSecret": {"name": "t", "key": "k"}}),
        ] {
            let a = admit(&with_http_config(http.clone()), &workshop());
            assert_eq!(
                a.at("/spec/receivers/0/webhookConfigs/0/httpConfig/followRedirects"),
                false,
                "{http}"
            );
            if http.get("bearerTokenSecret").is_some() {
                assert_eq!(
                    a.at("/spec/receivers/0/webhookConfigs/0/httpConfig/bearerTokenSecret"),
                    &json!({"name": "t", "key": "k"})
                );
            }
            a.assert_warned(&[
                "spec.receivers[0].webhookConfigs[0].httpConfig.followRedirects",
                "false",
            ]);
        }
    }

    #[test]
    fn follow_redirects_of_another_type_is_refused_naming_the_field() {
        refused_naming(
            &with_http_config(json!({"followRedirects": "no"})),
            &workshop(),
            &[
                r#"receiver "default""#,
                "spec.receivers[0].webhookConfigs[0].httpConfig.followRedirects",
                "must be a boolean",
            ],
        );
    }

    #[test]
    fn a_token_url_at_the_tenants_own_listener_is_refused() {
        refused_naming(
            &with_http_config(json!({
                "followRedirects": false,
                "oauth2": {"tokenUrl": LISTENER, "clientId": {"secret": {"name": "c", "key": "id"}},
                           "clientSecret": {"name": "c", "key": "secret"}},
            })),
            &workshop(),
            &[
                "spec.receivers[0].webhookConfigs[0].httpConfig.oauth2.tokenUrl",
                "is this tenant's own EventListener",
            ],
        );
    }

    #[test]
    fn forty_continuing_routes_and_two_listener_webhooks_are_refused() {
        let mut request = correct();
        let routes: Vec<Value> = (0..40)
            .map(|i| json!({"receiver": "default", "continue": true,
                            "matchers": [{"name": format!("absent{i}"), "value": "", "matchType": "="}]}))
            .collect();
        request["object"]["spec"]["route"]["routes"] = Value::Array(routes);
        request["object"]["spec"]["receivers"][0]["webhookConfigs"] =
            json!(vec![hook(LISTENER); 2]);
        refused_naming(
            &request,
            &workshop(),
            &[
                r#"receiver "default""#,
                "spec.receivers[0].webhookConfigs",
                "2 times (webhookConfigs[0, 1])",
                "[route/fan-out]",
                "spec.route",
                "40 times",
                "spec.route.routes[0], spec.route.routes[1]",
            ],
        );
        request["object"]["spec"]["receivers"][0]["webhookConfigs"] =
            json!(vec![hook(LISTENER); 25]);
        refused_naming(
            &request,
            &workshop(),
            &[
                "spec.receivers[0].webhookConfigs",
                "lists 25 webhooks; the limit is 16",
            ],
        );
    }

    /// groupWait only delays an alert's first notification; it repeats nothing, so no
    /// minimum applies to it.
    #[test]
    fn group_wait_has_no_minimum() {
        let mut request = correct();
        request["object"]["spec"]["route"]["groupWait"] = json!("1s");
        request["object"]["spec"]["route"]["routes"] = json!([{"groupWait": "0s"}]);
        admit(&request, &workshop()).assert_untouched();
    }

    #[test]
    fn short_intervals_at_any_depth_are_refused_naming_the_route() {
        let mut request = correct();
        request["object"]["spec"]["route"]["routes"] =
            json!([{"groupInterval": "10ms", "repeatInterval": "10ms"}]);
        refused_naming(
            &request,
            &workshop(),
            &[
                "spec.route.routes[0].groupInterval",
                r#""10ms""#,
                "minGroupInterval",
                "spec.route.routes[0].repeatInterval",
                "minRepeatInterval",
            ],
        );
        let a = admit(
            &request,
            &workshop_with(json!({"onShortInterval": "raise"})),
        );
        a.assert_patch(json!([
            {"op": "replace", "path": "/spec/route/routes/0/groupInterval", "value": "1m"},
            {"op": "replace", "path": "/spec/route/routes/0/repeatInterval", "value": "1h"},
        ]));
        assert_eq!(a.warnings.len(), 2);
        assert!(
            a.warnings
                .iter()
                .all(|w| w.contains("raised from \"10ms\"")),
            "{:?}",
            a.warnings
        );
    }

    fn top_repeat_refused(value: &str, expected: &str) {
        let mut request = correct();
        request["object"]["spec"]["route"]["repeatInterval"] = json!(value);
        refused_naming(
            &request,
            &workshop(),
            &["spec.route.repeatInterval", &format!("{value:?}"), expected],
        );
        // Zero is refused even when short intervals are raised.
        if value == "0" {
            refused(
                &request,
                &workshop_with(json!({"onShortInterval": "raise"})),
            );
        }
    }

    cases! { top_repeat_refused;
        a_1ms_top_repeat_interval_is_refused: ("1ms", "is shorter"),
        a_zero_top_repeat_interval_is_refused: ("0", "is zero, which Alertmanager refuses"),
    }

    fn go_reads_differently(url: &str) {
        let request = with_url("alertmanagerconfig-v1beta1-correct", url);
        let a = admit(&request, &workshop());
        a.assert_patch(json!([
            {"op": "replace", "path": "/spec/receivers/0/webhookConfigs/0/url", "value": LISTENER}
        ]));
        refused_naming(
            &request,
            &reject_foreign(),
            &[
                "spec.receivers[0].webhookConfigs[0].url",
                "which URL parsers rewrite",
            ],
        );
    }

    cases! { go_reads_differently;
        three_slashes_are_rewritten: ("https:///el-ct-listener-user1-toolings.apps.cluster-abc.example.com/"),
        no_slashes_are_rewritten: ("https:el-ct-listener-user1-toolings.apps.cluster-abc.example.com/"),
        one_slash_is_rewritten: ("https:/el-ct-listener-user1-toolings.apps.cluster-abc.example.com/"),
        a_percent_encoded_host_is_rewritten: ("https://el-ct-listener-user1-toolings.apps.cluster-abc.exa%6Dple.com/"),
    }

    #[test]
    fn settings_that_would_undo_the_policy_are_refused_naming_the_setting() {
        for (extra, expected) in [
            (
                json!({"repeatInterval": "0"}),
                "repeatInterval: \"0\" is zero",
            ),
            (
                json!({"repeatInterval": "1ms"}),
                "repeatInterval: \"1ms\" is shorter than minRepeatInterval",
            ),
            (
                json!({"minRepeatInterval": "0"}),
                "minRepeatInterval: \"0\" is zero",
            ),
            (
                json!({"minGroupInterval": "soon"}),
                "minGroupInterval: \"soon\"",
            ),
            (
                json!({"allowedWebhookUrls": ["https://user:pw@hooks.example.com/"]}),
                "allowedWebhookUrls[0]",
            ),
            (
                json!({"allowedWebhookUrls": ["https://hooks.example.com/a?x=1"]}),
                "allowedWebhookUrls[0]",
            ),
            (
                json!({"allowedWebhookUrls": ["http://169.254.169.254/"]}),
                "allowedWebhookUrls[0]",
            ),
            (
                json!({"allowedWebhookUrls": ["https://metadata.google.internal/"]}),
                "allowedWebhookUrls[0]",
            ),
            (
                json!({"allowedWebhookUrls": ["http://hooks.example.com/"]}),
                "allowedWebhookUrls[0]",
            ),
            (
                json!({"webhookUrlTemplate": "https://el.{clusterDomain}/#{user}"}),
                "webhookUrlTemplate",
            ),
            (
                json!({"webhookUrlTemplate": "https://el.{clusterDomain}/?u={user}"}),
                "webhookUrlTemplate",
            ),
        ] {
            let mut s = workshop_json();
            for (k, v) in extra.as_object().unwrap() {
                s[k] = v.clone();
            }
            let verdict = validate_settings_payload(s.to_string().as_bytes());
            assert!(!verdict.valid, "{extra}");
            assert_mentions(&verdict.message.unwrap_or_default(), &[expected]);
        }
    }

    /// The correct object with its first webhook's fields replaced by `fields`.
    fn with_webhook(fields: Value) -> Value {
        let mut request = correct();
        request["object"]["spec"]["receivers"][0]["webhookConfigs"][0] = fields;
        request
    }

    #[test]
    fn a_null_url_secret_is_no_secret() {
        let mut fields = hook(LISTENER);
        fields["urlSecret"] = Value::Null;
        admit(&with_webhook(fields), &workshop()).assert_untouched();
    }

    /// With a urlSecret the destination is the secret's: a null url stays null, as an
    /// absent one does, and is not set to the listener.
    #[test]
    fn beside_a_url_secret_a_null_url_is_left_alone() {
        let allowed = workshop_with(json!({"allowUrlSecret": true}));
        let secret = json!({"name": "hook", "key": "url"});
        let fields = json!({"urlSecret": secret, "url": null, "sendResolved": false,
                            "httpConfig": {"followRedirects": false}});
        admit(&with_webhook(fields), &allowed).assert_untouched();
    }

    /// urlSecret takes precedence over url, so a webhook with one may reach the listener
    /// whatever its url says: with another webhook to the listener, one notification could
    /// start two runs.
    #[test]
    fn a_url_secret_counts_as_the_listener_whatever_the_url() {
        let allowed = workshop_with(json!({
            "allowUrlSecret": true,
            "allowedWebhookUrls": ["https://hooks.example.com/alerts"],
        }));
        let mut request = correct();
        request["object"]["spec"]["receivers"][0]["webhookConfigs"] = json!([
            hook(LISTENER),
            {"urlSecret": {"name": "hook", "key": "url"}, "url": "https://hooks.example.com/alerts",
             "sendResolved": false, "httpConfig": {"followRedirects": false}},
        ]);
        refused_naming(
            &request,
            &allowed,
            &[
                "[route/fan-out]",
                r#"receiver "default""#,
                "2 times (webhookConfigs[0, 1])",
            ],
        );
        // Without the secret the second webhook goes where its url says.
        request["object"]["spec"]["receivers"][0]["webhookConfigs"][1]
            .as_object_mut()
            .unwrap()
            .remove("urlSecret");
        admit(&request, &allowed).assert_untouched();
    }

    /// A child route without a receiver uses its parent's: two continuing children under
    /// a route to the listener are two notifications of one alert.
    #[test]
    fn children_inherit_the_parents_receiver_when_counting_runs() {
        let mut request = correct();
        request["object"]["spec"]["route"]["routes"] = json!([
            {"continue": true, "matchers": [{"name": "a", "value": "1", "matchType": "="}]},
            {"continue": true, "matchers": [{"name": "b", "value": "1", "matchType": "="}]},
        ]);
        refused_naming(
            &request,
            &workshop(),
            &[
                "[route/fan-out]",
                "2 times",
                "spec.route.routes[0], spec.route.routes[1]",
            ],
        );
        // One of them with a receiver that has no webhook to the listener: one run.
        request["object"]["spec"]["receivers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "quiet"}));
        request["object"]["spec"]["route"]["routes"][1]["receiver"] = json!("quiet");
        admit(&request, &workshop()).assert_untouched();
    }

    /// Only an empty receiver name is "none" (inherit the parent's); a blank one is a
    /// name, looked up like any other.
    #[test]
    fn a_blank_receiver_name_is_a_name() {
        let mut request = correct();
        request["object"]["spec"]["route"]["routes"] = json!([{"receiver": " "}]);
        refused_naming(
            &request,
            &workshop(),
            &[
                "spec.route.routes[0].receiver",
                r#"" " is not defined in spec.receivers"#,
            ],
        );
        // Defined under that name, it is found.
        request["object"]["spec"]["receivers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": " "}));
        admit(&request, &workshop()).assert_untouched();
        // An empty one inherits the parent's.
        request["object"]["spec"]["route"]["routes"] = json!([{"receiver": ""}]);
        admit(&request, &workshop()).assert_untouched();
    }

    /// `...` (every label) is groupBy's, not an inhibit rule's `equal`: Alertmanager
    /// refuses it there as a label name.
    #[test]
    fn inhibit_rules_equal_takes_label_names_only() {
        let mut request = correct();
        request["object"]["spec"]["inhibitRules"] = json!([{"equal": ["..."]}]);
        refused_naming(
            &request,
            &workshop(),
            &[
                "spec.inhibitRules[0].equal[0]",
                r#""...": it is not a label name"#,
            ],
        );
        request["object"]["spec"]["inhibitRules"] = json!([{"equal": ["model"]}]);
        admit(&request, &workshop()).assert_untouched();
    }

    /// `receivers: null` is no receivers, as an absent field is: a route naming one is
    /// told the object has none, and the null is not called the wrong type.
    #[test]
    fn null_receivers_are_no_receivers() {
        let mut request = correct();
        request["object"]["spec"]["receivers"] = Value::Null;
        let m = refused_naming(
            &request,
            &workshop(),
            &["spec.route.receiver", "the object has no spec.receivers"],
        );
        assert!(!m.contains("must be"), "{m}");
    }

    /// A matcher without a value requires the label to be empty, as `value: ""` does:
    /// the two pin one value, so one alert (without the label) matches both.
    #[test]
    fn a_matcher_without_a_value_pins_the_empty_value() {
        let mut request = correct();
        request["object"]["spec"]["route"]["routes"] = json!([
            {"continue": true, "matchers": [{"name": "model", "matchType": "="}]},
            {"continue": true, "matchers": [{"name": "model", "value": "", "matchType": "="}]},
        ]);
        refused_naming(
            &request,
            &workshop(),
            &[
                "[route/fan-out]",
                "2 times",
                "spec.route.routes[0], spec.route.routes[1]",
            ],
        );
        // Another value is another alert.
        request["object"]["spec"]["route"]["routes"][1]["matchers"][0]["value"] = json!("a");
        admit(&request, &workshop()).assert_untouched();
    }

    /// Label values are compared exactly: the refusal names the routes one alert can
    /// take (model="a" twice), not the one for model="A".
    #[test]
    fn the_routes_named_are_those_one_alert_takes() {
        let mut request = correct();
        let pin = |value: &str| json!({"continue": true, "matchers": [{"name": "model", "value": value, "matchType": "="}]});
        request["object"]["spec"]["route"]["routes"] = json!([pin("A"), pin("a"), pin("a")]);
        let m = refused_naming(
            &request,
            &workshop(),
            &["2 times, along spec.route.routes[1], spec.route.routes[2], so"],
        );
        assert!(!m.contains("routes[0]"), "{m}");
    }
}

/// The storm settings on the fields a tenant wrote as `null`.
mod storm {
    use super::*;

    #[test]
    fn send_resolved_null_becomes_false() {
        let mut request = correct();
        request["object"]["spec"]["receivers"][0]["webhookConfigs"][0]["sendResolved"] =
            Value::Null;
        let a = admit(&request, &workshop());
        a.assert_patch(json!([
            {"op": "replace", "path": "/spec/receivers/0/webhookConfigs/0/sendResolved", "value": false}
        ]));
        a.assert_warned(&["spec.receivers[0].webhookConfigs[0].sendResolved", "false"]);
    }

    #[test]
    fn send_resolved_absent_becomes_the_setting_and_true_is_kept() {
        let mut request = correct();
        request["object"]["spec"]["receivers"][0]["webhookConfigs"][0]
            .as_object_mut()
            .unwrap()
            .remove("sendResolved");
        let a = admit(&request, &workshop());
        a.assert_patch(json!([
            {"op": "add", "path": "/spec/receivers/0/webhookConfigs/0/sendResolved", "value": false}
        ]));
        let a = admit(&request, &workshop_with(json!({"sendResolved": true})));
        a.assert_patch(json!([
            {"op": "add", "path": "/spec/receivers/0/webhookConfigs/0/sendResolved", "value": true}
        ]));
        // `sendResolved: null` in the settings leaves it alone.
        admit(&request, &workshop_with(json!({"sendResolved": null}))).assert_untouched();
        request["object"]["spec"]["receivers"][0]["webhookConfigs"][0]["sendResolved"] =
            json!(true);
        admit(&request, &workshop()).assert_untouched();
    }

    #[test]
    fn send_resolved_of_another_type_is_refused_naming_the_field() {
        let mut request = correct();
        request["object"]["spec"]["receivers"][0]["webhookConfigs"][0]["sendResolved"] =
            json!("false");
        refused_naming(
            &request,
            &workshop(),
            &[
                r#"receiver "default""#,
                "spec.receivers[0].webhookConfigs[0].sendResolved",
                "must be a boolean",
            ],
        );
    }

    #[test]
    fn every_webhook_of_every_receiver_gets_send_resolved() {
        let mut request = correct();
        request["object"]["spec"]["receivers"] = json!([
            {"name": "default", "webhookConfigs": [{"url": LISTENER, "httpConfig": {"followRedirects": false}}]},
            {"name": "spare", "webhookConfigs": [{"url": LISTENER, "sendResolved": null, "httpConfig": {"followRedirects": false}}]},
        ]);
        let a = admit(&request, &workshop());
        a.assert_patch(json!([
            {"op": "add", "path": "/spec/receivers/0/webhookConfigs/0/sendResolved", "value": false},
            {"op": "replace", "path": "/spec/receivers/1/webhookConfigs/0/sendResolved", "value": false},
        ]));
    }

    #[test]
    fn repeat_interval_null_is_set_to_the_default() {
        let mut request = correct();
        request["object"]["spec"]["route"]["repeatInterval"] = Value::Null;
        let a = admit(&request, &workshop());
        a.assert_patch(json!([
            {"op": "replace", "path": "/spec/route/repeatInterval", "value": "12h"}
        ]));
        a.assert_warned(&["spec.route.repeatInterval", "\"12h\""]);
    }

    #[test]
    fn repeat_interval_null_is_set_to_the_configured_interval_at_least_the_minimum() {
        let mut request = correct();
        request["object"]["spec"]["route"]["repeatInterval"] = Value::Null;
        let settings = workshop_with(json!({"repeatInterval": "1h"}));
        let a = admit(&request, &settings);
        assert_eq!(a.at("/spec/route/repeatInterval"), "1h");
        // The default is never below the minimum it enforces.
        let s = Settings::default();
        let millis = |t: &str| crate::durations::parse_millis(t).unwrap();
        assert!(
            millis(s.repeat_interval.as_deref().unwrap_or_default())
                >= millis(&s.min_repeat_interval)
        );
    }

    #[test]
    fn repeat_interval_absent_is_set_and_empty_setting_leaves_it() {
        let mut request = correct();
        request["object"]["spec"]["route"]
            .as_object_mut()
            .unwrap()
            .remove("repeatInterval");
        let a = admit(&request, &workshop());
        a.assert_patch(json!([
            {"op": "add", "path": "/spec/route/repeatInterval", "value": "12h"}
        ]));
        admit(&request, &workshop_with(json!({"repeatInterval": ""}))).assert_untouched();
    }

    #[test]
    fn a_nested_route_without_repeat_interval_inherits_and_is_not_changed() {
        let mut request = correct();
        request["object"]["spec"]["route"]["routes"] =
            json!([{"receiver": "default", "repeatInterval": null}]);
        admit(&request, &workshop()).assert_untouched();
    }

    #[test]
    fn repeat_interval_of_another_type_is_refused_naming_the_field() {
        let mut request = correct();
        request["object"]["spec"]["route"]["repeatInterval"] = json!(3600);
        refused_naming(
            &request,
            &workshop(),
            &["spec.route.repeatInterval", "must be a duration string"],
        );
    }
}

/// `tests/it/wasm_tenancy.rs`, natively, with a fake cluster.
mod tenancy {
    use std::collections::BTreeMap;

    use super::*;

    fn listener(user: &str) -> String {
        format!("https://el-ct-listener-{user}-toolings.{DOMAIN}/")
    }

    pub(super) fn by_annotation() -> Settings {
        settings_from(json!({
            "clusterDomain": DOMAIN,
            "tenantFrom": "namespaceAnnotation",
            "tenantKey": "openshift.io/requester",
            "listenerService": {"namespace": "{user}-toolings", "name": "el-ct-listener"},
        }))
    }

    fn by_label() -> Settings {
        settings_from(
            json!({"clusterDomain": DOMAIN, "tenantFrom": "namespaceLabel", "tenantKey": "tenant"}),
        )
    }

    fn meta(annotations: &[(&str, &str)], labels: &[(&str, &str)]) -> NamespaceMeta {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        NamespaceMeta {
            annotations: map(annotations),
            labels: map(labels),
        }
    }

    fn requested_by(user: &str) -> NamespaceMeta {
        meta(&[("openshift.io/requester", user)], &[])
    }

    /// The correct v1beta1 AlertmanagerConfig moved to `namespace`, sending to `url`.
    fn config_in(namespace: &str, url: impl Into<Value>) -> Value {
        let mut r = in_namespace(correct(), namespace);
        r["object"]["spec"]["receivers"][0]["webhookConfigs"][0]["url"] = url.into();
        r
    }

    fn reads(cluster: &FakeCluster) -> Vec<String> {
        cluster.reads.borrow().clone()
    }

    #[test]
    fn default_settings_make_no_read() {
        let cluster = FakeCluster::default();
        for name in [
            "seed-alertmanagerconfig",
            "alertmanagerconfig-other-user",
            "alertmanagerconfig-v1alpha1-correct",
            "seed-prometheusrule",
        ] {
            admit_in(&cluster, &fixture(name), &workshop());
        }
        // Nor does cluster tenancy for a PrometheusRule, scoped by its namespace.
        admit_in(&cluster, &fixture("seed-prometheusrule"), &by_annotation());
        assert_eq!(reads(&cluster), Vec::<String>::new());
    }

    #[test]
    fn the_requester_annotation_decides_whose_listener_it_is() {
        let cluster = FakeCluster::default()
            .with_namespace("user2-prod", requested_by("user1"))
            .with_namespace("user1-toolings", requested_by("user1"))
            .with_service("user1-toolings", "el-ct-listener");
        let request = config_in("user2-prod", listener("user2"));
        let a = admit_in(&cluster, &request, &by_annotation());
        a.assert_patch(json!([
            {"op": "replace", "path": "/spec/receivers/0/webhookConfigs/0/url", "value": listener("user1")}
        ]));
        a.assert_warned(&["is another tenant's EventListener"]);
        assert_eq!(
            reads(&cluster),
            [
                "Namespace user2-prod",
                "Namespace user1-toolings",
                "Service user1-toolings/el-ct-listener"
            ]
        );
        // Name tenancy would have routed it to user2.
        admit(&request, &workshop()).assert_untouched();
        // The tenant's own listener is untouched; placeholders and a missing URL are set.
        admit_in(
            &cluster,
            &config_in("user2-prod", listener("user1")),
            &by_annotation(),
        )
        .assert_untouched();
        for url in [
            json!("https://el-ct-listener-<USER_NAME>-toolings.<CLUSTER_DOMAIN>/"),
            Value::Null,
        ] {
            let a = admit_in(
                &cluster,
                &config_in("user2-prod", url.clone()),
                &by_annotation(),
            );
            assert_eq!(
                a.at("/spec/receivers/0/webhookConfigs/0/url"),
                &json!(listener("user1")),
                "{url}"
            );
        }
        let reject = Settings {
            on_foreign_listener: crate::settings::OnForeignListener::Reject,
            ..by_annotation()
        };
        refused_naming_in(
            &cluster,
            &request,
            &reject,
            &[
                "spec.receivers[0].webhookConfigs[0].url",
                "is another tenant's EventListener",
                &listener("user1"),
            ],
        );
    }

    #[track_caller]
    fn refused_naming_in(
        cluster: &FakeCluster,
        request: &Value,
        settings: &Settings,
        parts: &[&str],
    ) -> String {
        let m = refused_in(cluster, request, settings);
        assert_mentions(&m, parts);
        m
    }

    #[test]
    fn a_label_names_the_tenant_where_the_cluster_uses_one() {
        let cluster = FakeCluster::default().with_namespace(
            "models",
            meta(&[("tenant", "team-b")], &[("tenant", "team-a")]),
        );
        admit_in(
            &cluster,
            &config_in("models", listener("team-a")),
            &by_label(),
        )
        .assert_untouched();
        let a = admit_in(
            &cluster,
            &config_in("models", listener("team-b")),
            &by_label(),
        );
        assert_eq!(
            a.at("/spec/receivers/0/webhookConfigs/0/url"),
            &json!(listener("team-a"))
        );
        assert!(reads(&cluster).iter().all(|r| r.starts_with("Namespace")));
    }

    fn not_a_dns_label(value: &str) {
        let cluster = FakeCluster::default().with_namespace("ml", requested_by(value));
        refused_naming_in(
            &cluster,
            &config_in("ml", listener("alice")),
            &by_annotation(),
            &[&format!(
                r#"the tenant {value:?} (the annotation "openshift.io/requester" of Namespace "ml") cannot name an EventListener"#
            )],
        );
    }

    cases! { not_a_dns_label;
        a_requester_with_a_colon_is_refused: ("kube:admin"),
        a_requester_with_an_at_is_refused: ("alice@corp"),
        a_requester_with_a_dot_is_refused: ("alice.smith"),
        a_requester_with_a_slash_is_refused: ("corp/alice"),
        an_uppercase_requester_is_refused: ("Alice"),
        a_64_character_requester_is_refused: (&"a".repeat(64)),
    }

    #[test]
    fn a_tenant_label_that_is_no_dns_label_is_refused() {
        let cluster =
            FakeCluster::default().with_namespace("ml", meta(&[], &[("tenant", "Team_A")]));
        refused_naming_in(
            &cluster,
            &config_in("ml", listener("a")),
            &by_label(),
            &[r#"the tenant "Team_A" (the label "tenant" of Namespace "ml")"#],
        );
    }

    #[test]
    fn a_missing_key_is_refused_naming_key_and_namespace() {
        let cluster = FakeCluster::default()
            .with_namespace("ml", meta(&[("openshift.io/display-name", "ML")], &[]));
        refused_naming_in(
            &cluster,
            &config_in("ml", listener("a")),
            &by_annotation(),
            &[r#"Namespace "ml" has no annotation "openshift.io/requester""#],
        );
        refused_naming_in(
            &cluster,
            &config_in("ml", listener("a")),
            &by_label(),
            &[r#"Namespace "ml" has no label "tenant""#],
        );
    }

    #[test]
    fn a_missing_namespace_fails_closed_saying_what_could_not_be_read() {
        refused_naming_in(
            &FakeCluster::default(),
            &config_in("ml", listener("alice")),
            &by_annotation(),
            &[
                r#"cannot read Namespace "ml" to find its tenant (the annotation "openshift.io/requester")"#,
                "not found",
            ],
        );
    }

    #[test]
    fn an_unreachable_cluster_fails_closed_quoting_the_host() {
        let denied = FakeCluster {
            unreachable: Some(
                "Policy has not been granted access to Kubernetes v1/Namespace resources"
                    .to_owned(),
            ),
            ..FakeCluster::default()
        }
        .with_namespace("ml", requested_by("alice"));
        refused_naming_in(
            &denied,
            &config_in("ml", listener("alice")),
            &by_annotation(),
            &[r#"cannot read Namespace "ml""#, "not been granted access"],
        );
    }

    #[test]
    fn the_listener_service_must_exist_before_alerts_go_to_it() {
        let missing = FakeCluster::default()
            .with_namespace("ml", requested_by("alice"))
            .with_namespace("alice-toolings", requested_by("alice"));
        refused_naming_in(
            &missing,
            &config_in("ml", listener("alice")),
            &by_annotation(),
            &[
                "the tenant's EventListener Service alice-toolings/el-ct-listener (listenerService) cannot be read",
                &format!("{:?}", listener("alice")),
            ],
        );
        // Also before pointing a webhook there.
        refused_naming_in(
            &missing,
            &config_in("ml", listener("bob")),
            &by_annotation(),
            &["Service alice-toolings/el-ct-listener"],
        );
    }

    #[test]
    fn the_listener_service_is_read_once_and_not_for_other_destinations() {
        let present = FakeCluster::default()
            .with_namespace("ml", requested_by("alice"))
            .with_namespace("alice-toolings", requested_by("alice"))
            .with_service("alice-toolings", "el-ct-listener");
        let mut two = config_in("ml", listener("alice"));
        two["object"]["spec"]["receivers"] = json!([
            {"name": "default", "webhookConfigs": [{"url": listener("alice")}]},
            {"name": "spare", "webhookConfigs": [{"url": listener("alice"), "sendResolved": false}]},
        ]);
        admit_in(&present, &two, &by_annotation());
        let services =
            |c: &FakeCluster| reads(c).iter().filter(|r| r.starts_with("Service")).count();
        assert_eq!(services(&present), 1, "{:?}", reads(&present));

        let elsewhere = fresh(&present);
        let allowed = Settings {
            allowed_webhook_urls: vec!["https://hooks.example.com/".to_owned()],
            ..by_annotation()
        };
        admit_in(
            &elsewhere,
            &config_in("ml", "https://hooks.example.com/drift"),
            &allowed,
        )
        .assert_untouched();
        assert_eq!(services(&elsewhere), 0, "{:?}", reads(&elsewhere));
    }

    #[test]
    fn name_tenancy_with_a_listener_service_reads_only_the_service() {
        let by_name = Settings {
            listener_service: Some(crate::settings::ListenerService {
                namespace: "{user}-toolings".to_owned(),
                name: "el-{namespace}".to_owned(),
            }),
            ..workshop()
        };
        let cluster = FakeCluster::default();
        refused_naming_in(
            &cluster,
            &correct(),
            &by_name,
            &["Service user1-toolings/el-user1-test (listenerService)"],
        );
        assert_eq!(reads(&cluster), ["Service user1-toolings/el-user1-test"]);
    }

    #[test]
    fn a_listener_service_that_selects_no_pods_is_refused() {
        for (spec, expected) in [
            (
                ServiceSpec {
                    service_type: Some("ExternalName".to_owned()),
                    external_name: Some("el.user2-toolings.svc.cluster.local".to_owned()),
                    ..ServiceSpec::default()
                },
                "it is an ExternalName Service",
            ),
            (ServiceSpec::default(), "without a selector"),
            (
                ServiceSpec {
                    service_type: Some("LoadBalancer".to_owned()),
                    ..ServiceSpec::default()
                },
                "it is a LoadBalancer Service without a selector",
            ),
            (
                ServiceSpec {
                    service_type: Some("Headless".to_owned()),
                    selector: BTreeMap::from([("a".to_owned(), "b".to_owned())]),
                    ..ServiceSpec::default()
                },
                "its type \"Headless\"",
            ),
        ] {
            let cluster = FakeCluster::default()
                .with_namespace("ml", requested_by("alice"))
                .with_namespace("alice-toolings", requested_by("alice"))
                .with_service_spec("alice-toolings", "el-ct-listener", spec);
            refused_naming_in(
                &cluster,
                &config_in("ml", listener("alice")),
                &by_annotation(),
                &[
                    "Service alice-toolings/el-ct-listener (listenerService) is not a listener",
                    expected,
                ],
            );
        }
    }

    #[test]
    fn the_listeners_namespace_must_be_the_same_tenants() {
        let cluster = FakeCluster::default()
            .with_namespace("user2-test", requested_by("user2"))
            .with_namespace("user2-toolings", requested_by("user1"))
            .with_service("user2-toolings", "el-ct-listener");
        refused_naming_in(
            &cluster,
            &config_in("user2-test", listener("user2")),
            &by_annotation(),
            &[
                r#"the EventListener's namespace "user2-toolings" belongs to tenant "user1""#,
                r#"not to "user2""#,
            ],
        );
        assert!(!reads(&cluster).iter().any(|r| r.starts_with("Service")));
    }

    /// The listener may run in two namespaces besides the request's (the Service's and
    /// the one an in-cluster URL names): each must be the tenant's, not only the first.
    #[test]
    fn every_listener_namespace_must_be_the_same_tenants() {
        let settings = Settings {
            webhook_url_template: "http://el-ct-listener.{user}-pipelines.svc.cluster.local:8080/"
                .to_owned(),
            ..by_annotation()
        };
        let url = "http://el-ct-listener.alice-pipelines.svc.cluster.local:8080/";
        let cluster = |toolings_owner: &str| {
            FakeCluster::default()
                .with_namespace("ml", requested_by("alice"))
                .with_namespace("alice-pipelines", requested_by("alice"))
                .with_namespace("alice-toolings", requested_by(toolings_owner))
                .with_service("alice-toolings", "el-ct-listener")
        };
        refused_naming_in(
            &cluster("bob"),
            &config_in("ml", url),
            &settings,
            &[r#"the EventListener's namespace "alice-toolings" belongs to tenant "bob""#],
        );
        let own = cluster("alice");
        admit_in(&own, &config_in("ml", url), &settings).assert_untouched();
        assert_eq!(
            reads(&own),
            [
                "Namespace ml",
                "Namespace alice-pipelines",
                "Namespace alice-toolings",
                "Service alice-toolings/el-ct-listener"
            ]
        );
    }

    /// A listener in the request's own namespace needs no second look at its tenant.
    #[test]
    fn a_listener_in_the_requests_namespace_is_not_read_twice() {
        let settings = Settings {
            listener_service: Some(crate::settings::ListenerService {
                namespace: "{namespace}".to_owned(),
                name: "el-ct-listener".to_owned(),
            }),
            ..by_annotation()
        };
        let cluster = FakeCluster::default()
            .with_namespace("ml", requested_by("alice"))
            .with_service("ml", "el-ct-listener");
        admit_in(&cluster, &config_in("ml", listener("alice")), &settings).assert_untouched();
        assert_eq!(
            reads(&cluster),
            ["Namespace ml", "Service ml/el-ct-listener"]
        );
    }

    const RECEIVER: &str = r#"receiver "default""#;
    const HTTP: &str = "spec.receivers[0].webhookConfigs[0].httpConfig";

    #[test]
    fn a_token_url_and_its_proxy_are_destinations() {
        let m = refused_naming(
            &with_http_config(json!({"oauth2": {
                "clientId": {"secret": {"name": "oauth", "key": "id"}},
                "clientSecret": {"name": "oauth", "key": "secret"},
                "tokenUrl": "http://el-ct-listener.user2-toolings.svc.cluster.local:8080/",
                "proxyUrl": "http://evil.example.net:3128",
            }})),
            &workshop(),
            &[
                RECEIVER,
                &format!("{HTTP}.oauth2.tokenUrl"),
                "is not this tenant's EventListener",
            ],
        );
        assert_mentions(&m, &[&format!("{HTTP}.oauth2.proxyUrl"), "a proxy"]);
    }

    fn proxy_refused(http: Value, field: &str) {
        refused_naming(
            &with_http_config(http),
            &workshop(),
            &[
                RECEIVER,
                "[webhook/http-client]",
                &format!("{HTTP}.{field}"),
                "a proxy",
            ],
        );
    }

    cases! { proxy_refused;
        proxy_url_upper_is_refused: (json!({"proxyURL": "http://p:3128"}), "proxyURL"),
        proxy_url_lower_is_refused: (json!({"proxyUrl": "http://p:3128"}), "proxyUrl"),
        no_proxy_is_refused: (json!({"noProxy": "example.com"}), "noProxy"),
        proxy_from_environment_is_refused: (json!({"proxyFromEnvironment": true}), "proxyFromEnvironment"),
        proxy_connect_header_is_refused: (json!({"proxyConnectHeader": {"X": [{"name": "s", "key": "k"}]}}), "proxyConnectHeader"),
        a_proxy_in_oauth2_is_refused: (json!({"oauth2": {"proxyURL": "http://p:3128", "tokenUrl": "https://sso.example.com/t"}}), "oauth2.proxyURL"),
        a_proxy_in_oauth2_tls_is_refused: (json!({"oauth2": {"tlsConfig": {"proxyUrl": "http://p:3128"}}}), "oauth2.tlsConfig.proxyUrl"),
        a_proxy_in_a_list_is_refused: (json!({"authorization": {"extra": [{"noProxy": "*"}]}}), "authorization.extra[0].noProxy"),
    }

    #[test]
    fn a_token_url_under_an_allowed_prefix_passes() {
        let allowed =
            workshop_with(json!({"allowedWebhookUrls": ["https://sso.example.com/token"]}));
        admit(
            &with_http_config(json!({"followRedirects": false, "oauth2": {"tokenUrl": "https://sso.example.com/token"}})),
            &allowed,
        )
        .assert_untouched();
    }

    fn token_url_not_ours_to_move(url: String) {
        let allowed =
            workshop_with(json!({"allowedWebhookUrls": ["https://sso.example.com/token"]}));
        refused_naming(
            &with_http_config(json!({"oauth2": {"tokenUrl": url}})),
            &allowed,
            &[
                RECEIVER,
                &format!("{HTTP}.oauth2.tokenUrl"),
                "Alertmanager sends the token request there",
            ],
        );
    }

    cases! { token_url_not_ours_to_move;
        another_tenants_listener_as_token_url_is_refused_not_rewritten: (listener("user2")),
        a_templated_token_url_is_refused_not_rewritten: ("https://sso.example.com/{{ .x }}/token".to_owned()),
    }

    #[test]
    fn a_token_url_that_is_not_a_string_is_refused() {
        refused_naming(
            &with_http_config(json!({"oauth2": {"tokenUrl": 42}})),
            &workshop(),
            &[
                RECEIVER,
                &format!("{HTTP}.oauth2.tokenUrl"),
                "must be a string",
            ],
        );
    }

    fn tls_override(http: Value, field: &str) {
        let settings =
            workshop_with(json!({"allowedWebhookUrls": ["https://sso.example.com/token"]}));
        let request = with_http_config(http);
        refused_naming(
            &request,
            &settings,
            &[
                RECEIVER,
                &format!("{HTTP}.{field}"),
                "allowWebhookTlsOverrides",
            ],
        );
        let allow = Settings {
            allow_webhook_tls_overrides: true,
            ..settings
        };
        admit(&request, &allow);
    }

    cases! { tls_override;
        insecure_skip_verify_needs_the_admin: (json!({"tlsConfig": {"insecureSkipVerify": true}}), "tlsConfig.insecureSkipVerify"),
        server_name_needs_the_admin: (json!({"tlsConfig": {"serverName": "el-ct-listener-user2-toolings.apps.x"}}), "tlsConfig.serverName"),
        oauth2_insecure_skip_verify_needs_the_admin: (json!({"oauth2": {"tokenUrl": "https://sso.example.com/token", "tlsConfig": {"insecureSkipVerify": true}}}), "oauth2.tlsConfig.insecureSkipVerify"),
    }

    #[test]
    fn tls_defaults_said_out_loud_are_fine() {
        admit(
            &with_http_config(
                json!({"tlsConfig": {"insecureSkipVerify": false, "serverName": ""}}),
            ),
            &workshop(),
        );
    }

    #[test]
    fn a_template_anywhere_in_the_url_is_a_placeholder() {
        let hidden = format!("{LISTENER}{{{{ .CommonLabels.x }}}}/..");
        let request = with_url("alertmanagerconfig-v1beta1-correct", hidden.as_str());
        let a = admit(&request, &workshop());
        a.assert_patch(json!([
            {"op": "replace", "path": "/spec/receivers/0/webhookConfigs/0/url", "value": LISTENER}
        ]));
        a.assert_warned(&[
            "spec.receivers[0].webhookConfigs[0].url",
            "still holds placeholders",
        ]);
        refused_naming(
            &request,
            &workshop_with(json!({"onForeignListener": "reject"})),
            &[
                "spec.receivers[0].webhookConfigs[0].url",
                "still holds placeholders",
            ],
        );
    }

    fn dot_segments_judged_as_written(url: &str) {
        let allowed =
            workshop_with(json!({"allowedWebhookUrls": ["https://hooks.example.com/alerts/"]}));
        refused_naming(
            &with_url("alertmanagerconfig-v1beta1-correct", url),
            &allowed,
            &[
                "spec.receivers[0].webhookConfigs[0].url",
                "which URL parsers rewrite",
            ],
        );
    }

    cases! { dot_segments_judged_as_written;
        dot_dot_out_of_an_allowed_prefix_is_refused: ("https://hooks.example.com/alerts/../admin"),
        dot_dot_into_an_allowed_prefix_is_refused: ("https://hooks.example.com/other/../alerts/x"),
    }

    #[test]
    fn http_config_is_walked_to_a_bound() {
        let mut deep = json!({"proxyUrl": "http://p:3128"});
        for _ in 0..100 {
            deep = json!({"x": deep});
        }
        refused_naming(
            &with_http_config(deep),
            &workshop(),
            &[
                RECEIVER,
                &format!("{HTTP}.x.x.x"),
                "nests deeper than 8 levels",
            ],
        );
    }

    #[test]
    fn a_name_pattern_cannot_capture_a_user_that_names_no_host() {
        let settings = workshop_with(json!({"tenantPattern": "(?P<user>.*)test"}));
        refused_naming(
            &config_in("team-test", listener("team")),
            &settings,
            &[
                r#"the tenant "team-" (taken from namespace "team-test" by tenantPattern) cannot name an EventListener"#,
            ],
        );
    }

    #[test]
    fn tenancy_settings_are_validated_with_messages() {
        for (settings, expected) in [
            (
                json!({"tenantFrom": "namespaceAnnotation"}),
                "tenantKey is required",
            ),
            (
                json!({"tenantFrom": "namespaceLabel", "tenantKey": "not a key"}),
                "tenantKey: \"not a key\"",
            ),
            (
                json!({"tenantKey": "tenant"}),
                "tenantKey \"tenant\" is only read",
            ),
            (
                json!({"listenerService": {"namespace": "{user}-toolings", "name": "{tenant}"}}),
                "listenerService.name",
            ),
            (json!({"tenantFrom": "owner"}), "unknown variant `owner`"),
            (
                json!({"listenerService": {"name": "el-ct-listener"}}),
                "missing field `namespace`",
            ),
        ] {
            let mut s = settings.clone();
            s["clusterDomain"] = json!(DOMAIN);
            let verdict = validate_settings_payload(s.to_string().as_bytes());
            assert!(!verdict.valid, "{settings}");
            assert_mentions(&verdict.message.unwrap_or_default(), &[expected]);
        }
        for ok in [by_annotation(), by_label()] {
            let payload = serde_json::to_vec(&ok).unwrap();
            assert!(validate_settings_payload(&payload).valid);
        }
    }
}

/// Objects Prometheus 2.42 refuses to load (`promtool check rules` says why), once
/// admitted: the `object/loads` check's promise is that what is admitted loads, as one
/// bad object stops the operator reloading every tenant's rules.
mod prometheus_loads {
    use super::*;

    /// Refused, naming the rule's field (the behaviour `object/loads` promises).
    fn refused_for_prometheus(rule: Value, field: &str) {
        refused_naming(
            &with_rule(rule),
            &workshop(),
            &["[object/loads]", &format!("spec.groups[0].rules[0]{field}")],
        );
    }

    #[test]
    fn an_empty_alert_name_is_refused() {
        refused_for_prometheus(json!({"alert": "", "expr": "up == 0"}), ".alert");
    }

    #[test]
    fn an_empty_record_name_is_refused() {
        refused_for_prometheus(json!({"record": "", "expr": "up"}), ".record");
    }

    #[test]
    fn an_empty_alert_or_record_beside_the_other_is_no_field() {
        // As the operator writes it (`omitempty`) and promtool reads it: a recording
        // rule, scoped and admitted; an alerting rule, likewise.
        let recording = admit(
            &with_rule(json!({"record": "r", "alert": "", "expr": "up"})),
            &workshop(),
        );
        let rule = &recording.object["spec"]["groups"][0]["rules"][0];
        assert_eq!(
            rule["expr"],
            json!(r#"up{namespace="user1-test"}"#),
            "{rule}"
        );
        assert_eq!(rule["record"], json!("r"));
        // A recording rule gets no `for` and no default labels.
        assert_eq!(rule.get("for"), None, "{rule}");
        let alerting = admit(
            &with_rule(json!({"alert": "a", "record": "", "expr": "up == 0"})),
            &workshop(),
        );
        let rule = &alerting.object["spec"]["groups"][0]["rules"][0];
        assert_eq!(
            rule["expr"],
            json!(r#"up{namespace="user1-test"} == 0"#),
            "{rule}"
        );
        assert_eq!(rule["alert"], json!("a"));
        // Both empty: neither, said so.
        refused_naming(
            &with_rule(json!({"alert": "", "record": "", "expr": "up"})),
            &workshop(),
            &[
                "[object/loads]",
                "spec.groups[0].rules[0]",
                "needs `alert` (an alerting rule) or `record` (a recording rule); both are empty",
            ],
        );
        // Both named: one or the other.
        refused_naming(
            &with_rule(json!({"alert": "a", "record": "r", "expr": "up"})),
            &workshop(),
            &["has both `alert` and `record`"],
        );
    }

    #[test]
    fn a_record_name_that_is_no_metric_name_is_refused() {
        refused_for_prometheus(json!({"record": "not a metric!", "expr": "up"}), ".record");
    }

    #[test]
    fn a_rule_label_name_prometheus_refuses_is_refused() {
        for name in ["bad-name", "1bad", ""] {
            refused_for_prometheus(
                json!({"alert": "a", "expr": "up == 0", "labels": {name: "x"}}),
                &format!(".labels.{name}"),
            );
        }
        refused_for_prometheus(
            json!({"record": "r", "expr": "up", "labels": {"__name__": "x"}}),
            ".labels.__name__",
        );
    }

    #[test]
    fn an_annotation_name_prometheus_refuses_is_refused() {
        refused_for_prometheus(
            json!({"alert": "a", "expr": "up == 0", "annotations": {"bad-name": "x"}}),
            ".annotations.bad-name",
        );
    }

    #[test]
    fn for_on_a_recording_rule_is_refused() {
        refused_for_prometheus(json!({"record": "r", "expr": "up", "for": "5m"}), ".for");
    }

    #[test]
    fn annotations_on_a_recording_rule_are_refused() {
        refused_for_prometheus(
            json!({"record": "r", "expr": "up", "annotations": {"a": "b"}}),
            ".annotations",
        );
    }

    #[test]
    fn a_group_interval_that_is_no_duration_is_refused() {
        let mut request = fixture("seed-prometheusrule");
        request["object"]["spec"]["groups"][0]["interval"] = json!("soon");
        refused_naming(&request, &workshop(), &["spec.groups[0].interval"]);
    }
}
