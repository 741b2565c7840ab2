//! Hostile input, on the release .wasm under policy-server-like limits (a 2 s deadline
//! and a 256 MiB memory cap): every request gets a clear rejection or a correct
//! acceptance, never a trap, a timeout or a failed call.

use std::sync::OnceLock;
use std::time::Duration;

use crate::common::*;
use policy_runner::{default_policy_wasm, AdmissionResponse, Limits, Policy};
use serde_json::{json, Value};

fn limited() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        Policy::load_with_limits(&default_policy_wasm(), Limits::default())
            .expect("load the policy with limits")
    })
}

fn answer(request: &Value) -> AdmissionResponse {
    limited()
        .instance()
        .expect("instantiate")
        .validate(request, &workshop_settings())
        .unwrap_or_else(|e| panic!("no answer within the limits: {e:#}"))
}

fn rejected_with(request: &Value, expected: &str) {
    let r = answer(request);
    assert_rejected(&r, expected);
    let m = message(&r);
    assert!(m.len() < 8 * 1024, "message of {} bytes", m.len());
}

fn rule_request(rules: Value) -> Value {
    let mut r = request("seed-prometheusrule");
    r["object"]["spec"]["groups"] = json!([{"name": "g", "rules": rules}]);
    r
}

fn expr_request(expr: Value) -> Value {
    rule_request(json!([{"alert": "a", "for": "10m", "labels": {"severity": "x"}, "expr": expr}]))
}

#[test]
fn the_limits_are_live() {
    // A deadline of one tick cannot fit 1,900 rules: the host interrupts the policy.
    let tight = Policy::load_with_limits(
        &default_policy_wasm(),
        Limits {
            deadline: Duration::from_millis(10),
            ..Limits::default()
        },
    )
    .unwrap();
    let rules: Vec<Value> = (0..1900)
        .map(|i| json!({"record": format!("r{i}"), "expr": format!("sum(rate(x{i}{{a=~\"b.*\"}}[5m])) / sum(rate(y{i}[5m]))")}))
        .collect();
    // The deadline is one epoch tick, and the tick may come at any moment: even during
    // `wapc_init`, when the machine is busy. Wherever it lands, it must interrupt.
    let answer = tight
        .instance()
        .and_then(|instance| instance.validate(&rule_request(json!(rules)), &workshop_settings()));
    let error = format!(
        "{:#}",
        answer.expect_err("1,900 rules answered within one tick")
    );
    assert!(error.contains("deadline exceeded"), "{error}");
    // A memory cap below what a 4 MB request needs stops it too.
    let small = Policy::load_with_limits(
        &default_policy_wasm(),
        Limits {
            max_memory_bytes: 3 * 1024 * 1024,
            ..Limits::default()
        },
    )
    .unwrap();
    let mut big = request("seed-prometheusrule");
    big["object"]["metadata"]["annotations"] = json!({"x": "y".repeat(4 * 1024 * 1024)});
    assert!(small
        .instance()
        .unwrap()
        .validate(&big, &workshop_settings())
        .is_err());
}

#[test]
fn expressions_nested_thousands_deep_are_rejected() {
    for expr in [
        format!("{}x{}", "(".repeat(5000), ")".repeat(5000)),
        format!("{}x{}", "abs(".repeat(3000), ")".repeat(3000)),
        format!("{}1", "-".repeat(10_000)),
        vec!["x"; 5000].join(" and "),
        format!("{}x{}", "sum(".repeat(3000), ")".repeat(3000)),
    ] {
        let r = answer(&expr_request(json!(expr)));
        assert!(!r.allowed, "accepted a {}-byte nest", expr.len());
    }
    // Unbalanced brackets thousands deep: still an answer.
    rejected_with(
        &expr_request(json!("(".repeat(10_000))),
        "unclosed left parenthesis",
    );
}

#[test]
fn nesting_hidden_from_a_text_scan_is_counted_on_the_parsers_tokens() {
    // The lexer ends a `#` comment at `\r` as well as `\n`, and inside braces reads `#`
    // as a comment, not a string: both once hid 6,000 unary minus from the depth bound,
    // and the parser overflowed the wasm stack.
    for expr in [
        format!("#\r{}x", "-".repeat(6000)),
        format!("x{{#\"\n}} + {}x", "-".repeat(6000)),
    ] {
        rejected_with(&expr_request(json!(expr)), "nests too deep");
    }
}

#[test]
fn numbers_that_panicked_the_parser_are_rejected_with_the_limit() {
    // promql-parser 0.11.1 reads a number after `offset` or in `[ ]` with
    // `Duration::from_secs_f64`, which panics on Inf, NaN and 2^64 s or more: under
    // `panic = "abort"` each of these trapped the instance. `@` numbers, and durations
    // with a part past u32 (silently dropped by the parser), are out of Prometheus's
    // range too. Every one is refused before the parser, naming the number.
    for (expr, role, number) in [
        ("x offset 1e308", "offset", "1e308"),
        ("x offset Inf", "offset", "Inf"),
        ("x offset NaN", "offset", "NaN"),
        ("x offset -1e20", "offset", "1e20"),
        (
            "x offset - 18446744073709551616",
            "offset",
            "18446744073709551616",
        ),
        (
            "x offset 9999999999999999999d",
            "offset",
            "9999999999999999999d",
        ),
        ("x[1e308]", "range", "1e308"),
        ("x[99999999999999999y]", "range", "99999999999999999y"),
        ("x[1y99999999999999999d]", "range", "1y99999999999999999d"),
        ("x[5m:1e308]", "subquery step", "1e308"),
        ("x[1e308:5m]", "range", "1e308"),
        ("max_over_time(x[5m:1e308])", "subquery step", "1e308"),
        ("rate(x[5m] offset 1e308) > 0", "offset", "1e308"),
        ("x @ 1e308", "@ timestamp", "1e308"),
        ("x @ -1e308", "@ timestamp", "1e308"),
        ("x @ Inf", "@ timestamp", "Inf"),
        ("x @ NaN", "@ timestamp", "NaN"),
        ("x @ 5 offset 1e308", "offset", "1e308"),
        ("x > 99999999999y1s", "duration", "99999999999y1s"),
    ] {
        rejected_with(
            &expr_request(json!(expr)),
            &format!("(spec.groups[0].rules[0].expr): the {role} `{number}` is out of range"),
        );
    }
    // A 16 KiB number: the message quotes its start only.
    let long = format!("x[{}s]", "9".repeat(16_000));
    rejected_with(
        &expr_request(json!(long)),
        "(16001 characters)` is out of range",
    );
    // In range, each is scoped and admitted as written.
    for expr in [
        "x offset 5m > 0",
        "x offset -5m > 0",
        "x offset 1w > 0",
        "x @ 1609746000 > 0",
        "x @ start() > 0",
        "rate(x[5m]) > 0",
        "max_over_time(x[1h:30s]) > 0",
        "max_over_time(x[292y:292y]) > 0",
    ] {
        let r = answer(&expr_request(json!(expr)));
        assert!(r.allowed, "{expr}: {:?}", r.status);
    }
}

#[test]
fn operator_chains_thousands_long_are_refused_by_the_depth_bound() {
    // Right-associative `^` and the `atan2` operator, each a chain of binary nodes.
    let pow = vec!["x"; 7001].join("^");
    // 2,000 `atan2` fit in the 16 KiB limit, so the depth bound is what refuses them.
    let atan2 = vec!["x"; 2001].join(" atan2 ");
    for expr in [pow, atan2] {
        assert!(expr.len() <= 16 * 1024, "{}", expr.len());
        rejected_with(&expr_request(json!(expr)), "nests too deep");
    }
    // Past the length limit, the length refuses it first: still an answer.
    rejected_with(
        &expr_request(json!(vec!["x"; 7001].join(" atan2 "))),
        "the limit is 16384 bytes",
    );
}

#[test]
fn reprint_traps_are_edited_in_place_within_the_limits() {
    // Reprinting changed these: a value as Go reads its escapes, a timestamp's digits,
    // and two expressions that grew past the 16 KiB limit (locking the object against
    // its next UPDATE). Edited in place, each keeps its text and its size.
    for (expr, kept) in [
        (
            r#"x{a="\xc3\xa9"} > 0"#.to_owned(),
            r#"a="\xc3\xa9""#.to_owned(),
        ),
        ("x @ 1.0005 > 0".to_owned(), "@ 1.0005".to_owned()),
        (
            format!("x{{a=`{}`}} > 0", "\"".repeat(9000)),
            "`\"\"\"".to_owned(),
        ),
        (
            format!("{}x{}", "(".repeat(100), " + 1e308)".repeat(100)),
            "+ 1e308)".to_owned(),
        ),
    ] {
        let r = answer(&expr_request(json!(expr)));
        assert!(r.allowed, "{:?}", r.status);
        let stored = select(
            r.mutated_object.as_ref().unwrap(),
            "$.spec.groups[0].rules[0].expr",
        )
        .as_str()
        .unwrap()
        .to_owned();
        assert!(stored.contains(&kept), "{stored:.200}");
        assert!(stored.len() <= expr.len() + r#"{namespace="user1-test"}"#.len());
    }
}

#[test]
fn regex_matchers_are_checked_not_compiled() {
    // 200 matchers whose regexes compile into large automata: once 35 s of CPU.
    let matchers: Vec<String> = (0..200).map(|i| format!(r#"l{i}=~"\\w{{300}}""#)).collect();
    let expr = format!("x{{{}}} > 0", matchers.join(", "));
    let r = answer(&expr_request(json!(expr)));
    assert!(r.allowed, "{:?}", r.status);
    // On the namespace label (a conflict, so never matched either), on the metric name,
    // and on quoted label names: none is compiled.
    for matcher in [
        r#"namespace=~"\\w{300}""#,
        r#"namespace!~"\\w{300}""#,
        r#"__name__=~"\\w{300}""#,
        r#""a.b"=~"\\w{300}""#,
    ] {
        let expr = format!("{} > 0", vec![format!("x{{{matcher}}}"); 200].join(" + "));
        let r = answer(&expr_request(json!(expr)));
        assert!(message(&r).len() < 8 * 1024, "{matcher}");
    }
}

#[test]
fn megabyte_strings_are_rejected_or_passed_through() {
    rejected_with(
        &expr_request(json!(format!("x{{a=\"{}\"}}", "y".repeat(1 << 20)))),
        "the limit is 16384 bytes",
    );
    // A megabyte annotation is none of the policy's business: accepted untouched.
    let mut r = request("seed-prometheusrule");
    r["object"]["metadata"]["annotations"] = json!({"note": "z".repeat(1 << 20)});
    let a = answer(&r);
    assert!(a.allowed, "{:?}", a.status);
    assert_eq!(
        patch_ops(&a),
        json!([{"op": "add", "path": "/spec/groups/0/rules/0/labels/namespace", "value": "user1-test"}])
    );
    // A megabyte group name, alert name or URL: an answer with a bounded message.
    let mut r =
        rule_request(json!([{"alert": "a".repeat(1 << 20), "expr": "up > 1", "for": "5m"}]));
    r["object"]["spec"]["groups"][0]["name"] = json!("g".repeat(1 << 20));
    let a = answer(&r);
    assert!(a.allowed, "{:?}", a.status.map(|s| s.message.len()));
    let mut amc = request("alertmanagerconfig-v1beta1-correct");
    amc["object"]["spec"]["receivers"][0]["webhookConfigs"][0]["url"] =
        json!(format!("https://{}.example.com/", "h".repeat(1 << 20)));
    assert!(!answer(&amc).allowed);
}

#[test]
fn ten_thousand_rules_are_rejected_with_the_limit() {
    let rules: Vec<Value> = (0..10_000)
        .map(|i| json!({"record": format!("r{i}"), "expr": "up"}))
        .collect();
    rejected_with(
        &rule_request(json!(rules)),
        "the limit is 2000 per PrometheusRule",
    );
    // 2,000 rules, each needing a change: accepted, every one scoped and pinned.
    let rules: Vec<Value> = (0..2000)
        .map(|i| json!({"record": format!("r{i}"), "expr": format!("rate(x{i}[5m])")}))
        .collect();
    let r = answer(&rule_request(json!(rules)));
    assert!(r.allowed);
    assert_eq!(patch_ops(&r).as_array().unwrap().len(), 2 * 2000);
}

/// Found by a hostile-tenant review: 400 rules of `(a+…+a)*(a+…+a)` (413 KB) kept
/// policy-server busy past its 2 s limit. Past 64 Ki PromQL tokens per object the
/// object is refused, naming the rule where the bound is crossed.
#[test]
fn an_object_of_many_selector_heavy_rules_is_refused_at_the_token_bound() {
    let side = vec!["a"; 250].join("+");
    let rules: Vec<Value> = (0..400)
        .map(|i| json!({"record": format!("r{i}"), "expr": format!("({side})*({side})")}))
        .collect();
    rejected_with(
        &rule_request(json!(rules)),
        "[object/bounds] group \"g\" record \"r65\" (spec.groups[0].rules[65].expr): the object's expressions reach",
    );
}

#[test]
fn odd_escapes_and_unicode_get_answers() {
    for expr in [
        r#"x{a="\xff\xfe"}"#,
        r#"x{a="\u0000"}"#,
        r#"x{a="\q"}"#,
        "x{a=\"\u{fffd}\u{202e}\"}",
        "x{a=\"\u{1F600}\"}",
        r#"x{a=`raw \ string`}"#,
        "\u{feff}up",
        "up\u{0}",
        r#"x{"quoted.name"="v"}"#,
    ] {
        let r = answer(&expr_request(json!(expr)));
        if r.allowed {
            assert_idempotent(&expr_request(json!(expr)), &workshop_settings(), &r);
        }
    }
}

#[test]
fn wrong_types_and_nulls_everywhere_are_located() {
    for (object_spec, expected) in [
        (json!(null), ""),
        (json!(5), "spec: must be an object, found a number"),
        (json!({"groups": null}), ""),
        (
            json!({"groups": "x"}),
            "spec.groups: must be a list, found a string",
        ),
        (
            json!({"groups": [null]}),
            "spec.groups[0]: must be an object, found null",
        ),
        (
            json!({"groups": [{"name": 5, "rules": []}]}),
            "spec.groups[0].name: must be a string, found a number",
        ),
        (json!({"groups": [{"name": "g", "rules": null}]}), ""),
        (
            json!({"groups": [{"name": "g", "rules": [null]}]}),
            "rules[0]: must be an object, found null",
        ),
        (
            json!({"groups": [{"name": "g", "rules": [{"alert": "a", "expr": null}]}]}),
            "is missing",
        ),
        (
            json!({"groups": [{"name": "g", "rules": [{"alert": "a", "expr": true}]}]}),
            "must be a string or an integer, found a boolean",
        ),
        (
            json!({"groups": [{"name": "g", "rules": [{"alert": "a", "expr": "up", "for": 5}]}]}),
            "must be a duration string, found a number",
        ),
        (
            json!({"groups": [{"name": "g", "rules": [{"alert": "a", "expr": "up", "labels": {"s": 1}}]}]}),
            "labels.s): must be a string, found a number",
        ),
        (
            json!({"groups": [{"name": "g", "rules": [{"alert": "a", "expr": "up", "labels": []}]}]}),
            "must be a map of strings, found a list",
        ),
        (
            json!({"groups": [{"name": "g", "rules": [{"record": ["r"], "expr": "up"}]}]}),
            "record): must be a string, found a list",
        ),
    ] {
        let mut r = request("seed-prometheusrule");
        r["object"]["spec"] = object_spec.clone();
        let a = answer(&r);
        if expected.is_empty() {
            assert!(
                a.allowed && a.patch.is_none(),
                "{object_spec}: {:?}",
                a.status
            );
        } else {
            rejected_with(&r, expected);
        }
    }
    for (path, value, expected) in [
        (
            "/spec/receivers",
            json!(null),
            "not defined: the object has no spec.receivers",
        ),
        (
            "/spec/receivers",
            json!({"name": "x"}),
            "spec.receivers: must be a list",
        ),
        (
            "/spec/receivers/0",
            json!(null),
            "spec.receivers[0]: must be an object",
        ),
        (
            "/spec/receivers/0/name",
            json!(7),
            "spec.receivers[0].name: must be a string",
        ),
        (
            "/spec/receivers/0/webhookConfigs",
            json!("x"),
            "must be a list",
        ),
        (
            "/spec/receivers/0/webhookConfigs/0",
            json!(null),
            "must be an object",
        ),
        (
            "/spec/receivers/0/webhookConfigs/0/url",
            json!(5),
            "url): must be a string, found a number",
        ),
        (
            "/spec/receivers/0/webhookConfigs/0/sendResolved",
            json!("no"),
            "sendResolved): must be a boolean",
        ),
        ("/spec/route", json!([]), "spec.route: must be an object"),
        (
            "/spec/route/receiver",
            json!(null),
            "spec.route.receiver: is missing",
        ),
        (
            "/spec/route",
            json!({"receiver": "default", "routes": [null]}),
            "spec.route.routes[0]: must be an object",
        ),
        (
            "/spec/route/repeatInterval",
            json!(3),
            "spec.route.repeatInterval: must be a duration string, found a number",
        ),
    ] {
        let mut r = request("alertmanagerconfig-v1beta1-correct");
        *r["object"].pointer_mut(path).unwrap() = value;
        rejected_with(&r, expected);
    }
}

#[test]
fn unknown_fields_are_kept_and_never_patched() {
    let mut r = request("prometheusrule-no-matcher");
    r["object"]["spec"]["x-unknown"] = json!({"deep": [1, 2, {"three": null}]});
    r["object"]["spec"]["groups"][0]["partial_response_strategy"] = json!("warn");
    r["object"]["spec"]["groups"][0]["rules"][0]["x-extra"] = json!(1.5e300);
    let a = answer(&r);
    assert!(a.allowed);
    let ops = patch_ops(&a);
    assert_eq!(ops.as_array().unwrap().len(), 2, "{ops}");
    assert_eq!(ops[0]["path"], "/spec/groups/0/rules/0/expr");
    assert_eq!(ops[1]["path"], "/spec/groups/0/rules/0/labels/namespace");
}

#[test]
fn duplicate_groups_and_receivers_are_rejected() {
    let mut r = request("seed-prometheusrule");
    let g = r["object"]["spec"]["groups"][0].clone();
    r["object"]["spec"]["groups"] = json!([g.clone(), g.clone(), g]);
    rejected_with(
        &r,
        "group name \"jukebox.rules\" is repeated (first at spec.groups[0])",
    );
}

#[test]
fn json_nested_past_serde_limits_is_rejected_not_failed() {
    let mut deep = json!("x");
    for _ in 0..200 {
        deep = json!([deep]);
    }
    let mut r = request("seed-prometheusrule");
    r["object"]["spec"]["x"] = deep;
    rejected_with(&r, "the admission request cannot be read");
}

#[test]
fn name_checks_stay_linear_in_the_number_of_groups_and_receivers() {
    // Rules are capped, groups and receivers are not: 50,000 of each (~1 MB, as much as
    // an API request carries) must be answered within the deadline.
    let groups: Vec<Value> = (0..50_000)
        .map(|i| json!({"name": format!("g{i}")}))
        .collect();
    let mut r = request("seed-prometheusrule");
    r["object"]["spec"]["groups"] = json!(groups);
    assert!(answer(&r).allowed);

    let receivers: Vec<Value> = (0..50_000)
        .map(|i| json!({"name": format!("r{i}")}))
        .collect();
    let routes: Vec<Value> = (0..50_000)
        .map(|i| json!({"receiver": format!("x{i}")}))
        .collect();
    let mut amc = request("alertmanagerconfig-v1beta1-correct");
    amc["object"]["spec"]["receivers"] = json!(receivers);
    amc["object"]["spec"]["route"]["routes"] = json!(routes);
    // Receivers and routes are capped now; the caps answer first, naming the limit.
    rejected_with(
        &amc,
        "spec.receivers: holds 50000 receivers; the limit is 64 per AlertmanagerConfig",
    );
    let mut receivers = amc["object"]["spec"]["receivers"]
        .as_array()
        .unwrap()
        .clone();
    receivers.truncate(64);
    amc["object"]["spec"]["receivers"] = json!(receivers);
    // Every route names an undefined receiver: the message stays bounded (ten problems,
    // then a count).
    rejected_with(&amc, "is not defined in spec.receivers");
    rejected_with(&amc, "more problems");
    // With every receiver defined, the walk stops at the route cap and says so.
    let defined: Vec<Value> = (0..50_000)
        .map(|i| json!({"receiver": format!("r{}", i % 64)}))
        .collect();
    amc["object"]["spec"]["route"]["receiver"] = json!("r0");
    amc["object"]["spec"]["route"]["routes"] = json!(defined);
    rejected_with(
        &amc,
        "spec.route.routes[255]: the route tree holds more than 256 routes, the limit per AlertmanagerConfig",
    );
}

#[test]
fn a_route_fan_out_of_many_matchers_is_bounded_within_the_deadline() {
    // 128 `continue` children of 200 matchers each (every label different, so no label
    // makes two of them exclusive), then 127 that stop the search: about 600 KB, within
    // every bound. Bounding each of the 127 ways once took minutes: the work grew with
    // labels × children × matchers per way. Each way now costs its last child's matchers.
    let listener = "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/";
    let mut label = 0;
    let mut routes: Vec<Value> = (0..128)
        .map(|_| {
            let matchers: Vec<Value> = (0..200)
                .map(|_| {
                    label += 1;
                    json!({"name": format!("l{label}"), "value": "v", "matchType": "="})
                })
                .collect();
            json!({"receiver": "listener", "continue": true, "matchers": matchers})
        })
        .collect();
    routes.extend((0..127).map(|_| json!({"receiver": "listener"})));
    let mut amc = request("alertmanagerconfig-v1beta1-correct");
    amc["object"]["spec"] = json!({
        "route": {"receiver": "other", "repeatInterval": "12h", "routes": routes},
        "receivers": [
            {"name": "other"},
            {"name": "listener", "webhookConfigs": [{"url": listener, "sendResolved": false, "httpConfig": {"followRedirects": false}}]},
        ],
    });
    rejected_with(
        &amc,
        "[route/fan-out] spec.route: one alert can reach this tenant's EventListener 129 times, along spec.route.routes[0], spec.route.routes[1], spec.route.routes[2], spec.route.routes[3], spec.route.routes[4],",
    );
}

#[test]
fn a_megabyte_webhook_url_of_angle_brackets_is_answered_within_the_deadline() {
    // Each `<` once started a scan to the end of the URL for its `>`: 990,000 of them
    // took 30 s natively. The placeholder scan is one pass now.
    let mut amc = request("alertmanagerconfig-v1beta1-correct");
    let url = format!("https://x/{}", "<".repeat(990_000));
    amc["object"]["spec"]["receivers"][0]["webhookConfigs"][0]["url"] = json!(url);
    rejected_with(
        &amc,
        "[webhook/destination] receiver \"default\" (spec.receivers[0].webhookConfigs[0].url): ",
    );
}

#[test]
fn a_group_by_of_a_hundred_thousand_labels_is_answered_within_the_deadline() {
    // Each entry was once looked for among all before it: quadratic in the list, which
    // no bound caps (about 1 MB of distinct names here). Distinct, valid names: admitted.
    let mut amc = request("alertmanagerconfig-v1beta1-correct");
    let labels: Vec<String> = (0..100_000).map(|i| format!("l{i}")).collect();
    amc["object"]["spec"]["route"]["groupBy"] = json!(labels);
    let r = answer(&amc);
    assert!(r.allowed, "{:?}", r.status);
    // One name twice among them: refused, at the second.
    let mut twice = labels.clone();
    twice.push("l5".to_owned());
    amc["object"]["spec"]["route"]["groupBy"] = json!(twice);
    rejected_with(
        &amc,
        "spec.route.groupBy[100000]: \"l5\": it is listed twice",
    );
}
