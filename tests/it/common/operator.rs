//! What the Prometheus Operator makes of admitted objects: the Alertmanager configuration
//! it generates for an AlertmanagerConfig, and the rule file it writes for a
//! PrometheusRule. The oracles and the end-to-end test feed these to the real tools.

use serde_json::{json, Map, Value};

/// The part of the Alertmanager configuration the operator generates for one
/// AlertmanagerConfig: names prefixed `<namespace>/<name>/`, a `namespace="<namespace>"`
/// matcher on its route, and camelCase fields in Alertmanager's snake_case.
pub fn operator_config(object: &Value) -> Value {
    let namespace = object["metadata"]["namespace"].as_str().unwrap();
    let name = object["metadata"]["name"].as_str().unwrap();
    let v1alpha1 = object["apiVersion"] == "monitoring.coreos.com/v1alpha1";
    let prefix = |n: &str| format!("{namespace}/{name}/{n}");
    let spec = &object["spec"];

    let mut receivers = vec![json!({"name": "null"})];
    for receiver in spec["receivers"].as_array().into_iter().flatten() {
        let mut out = json!({"name": prefix(receiver["name"].as_str().unwrap())});
        let hooks: Vec<Value> = receiver["webhookConfigs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|w| {
                let mut hook = Map::new();
                if let Some(url) = w.get("url") {
                    hook.insert("url".into(), url.clone());
                } else {
                    // urlSecret: the operator writes the secret's value; any URL stands in.
                    hook.insert("url".into(), json!("https://secret.example.com/"));
                }
                if let Some(b) = w.get("sendResolved") {
                    hook.insert("send_resolved".into(), b.clone());
                }
                if let Some(m) = w.get("maxAlerts") {
                    hook.insert("max_alerts".into(), m.clone());
                }
                if let Some(http) = w.get("httpConfig").and_then(http_config) {
                    hook.insert("http_config".into(), http);
                }
                Value::Object(hook)
            })
            .collect();
        if !hooks.is_empty() {
            out["webhook_configs"] = json!(hooks);
        }
        receivers.push(out);
    }

    let mut time_intervals = Vec::new();
    let intervals_field = if v1alpha1 {
        "muteTimeIntervals"
    } else {
        "timeIntervals"
    };
    for interval in spec[intervals_field].as_array().into_iter().flatten() {
        let ranges: Vec<Value> = interval["timeIntervals"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                let mut out = Map::new();
                for (from, to) in [
                    ("weekdays", "weekdays"),
                    ("daysOfMonth", "days_of_month"),
                    ("months", "months"),
                    ("years", "years"),
                ] {
                    if let Some(v) = r.get(from) {
                        out.insert(to.into(), v.clone());
                    }
                }
                if let Some(times) = r.get("times").and_then(Value::as_array) {
                    let times: Vec<Value> = times
                        .iter()
                        .map(|t| json!({"start_time": t["startTime"], "end_time": t["endTime"]}))
                        .collect();
                    out.insert("times".into(), json!(times));
                }
                Value::Object(out)
            })
            .collect();
        time_intervals.push(
            json!({"name": prefix(interval["name"].as_str().unwrap()), "time_intervals": ranges}),
        );
    }

    let mut route = convert_route(&spec["route"], &prefix, v1alpha1);
    let matchers = route["matchers"].as_array().cloned().unwrap_or_default();
    let mut with_namespace = vec![json!(format!("namespace=\"{namespace}\""))];
    with_namespace.extend(matchers);
    route["matchers"] = json!(with_namespace);
    route["continue"] = json!(true);

    // Inhibit rules, confined to the namespace on both sides, as the operator does.
    let inhibit_rules: Vec<Value> = spec["inhibitRules"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|rule| {
            let side = |field: &str| {
                let mut matchers = vec![json!(format!("namespace=\"{namespace}\""))];
                matchers.extend(
                    rule[field]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|m| matcher_string(m, v1alpha1)),
                );
                json!(matchers)
            };
            let mut out = json!({"source_matchers": side("sourceMatch"), "target_matchers": side("targetMatch")});
            if let Some(equal) = rule.get("equal") {
                out["equal"] = equal.clone();
            }
            out
        })
        .collect();

    json!({
        "route": {"receiver": "null", "routes": [route]},
        "receivers": receivers,
        "time_intervals": time_intervals,
        "inhibit_rules": inhibit_rules,
    })
}

/// A matcher as the operator writes it: `name<op>"value"`.
fn matcher_string(m: &Value, v1alpha1: bool) -> Value {
    // v1alpha1 says `regex: true`; v1beta1 says `matchType: "=~"`.
    let op = match m["matchType"].as_str() {
        Some(op) => op.to_owned(),
        None if v1alpha1 && m["regex"] == true => "=~".to_owned(),
        None => "=".to_owned(),
    };
    json!(format!(
        "{}{}{:?}",
        m["name"].as_str().unwrap(),
        op,
        m["value"].as_str().unwrap_or("")
    ))
}

fn convert_route(route: &Value, prefix: &dyn Fn(&str) -> String, v1alpha1: bool) -> Value {
    let mut out = Map::new();
    if let Some(r) = route["receiver"].as_str() {
        out.insert("receiver".into(), json!(prefix(r)));
    }
    for (from, to) in [
        ("groupBy", "group_by"),
        ("groupWait", "group_wait"),
        ("groupInterval", "group_interval"),
        ("repeatInterval", "repeat_interval"),
        ("continue", "continue"),
    ] {
        if let Some(v) = route.get(from) {
            out.insert(to.into(), v.clone());
        }
    }
    for field in ["muteTimeIntervals", "activeTimeIntervals"] {
        if let Some(names) = route[field].as_array() {
            let key = if field == "muteTimeIntervals" {
                "mute_time_intervals"
            } else {
                "active_time_intervals"
            };
            out.insert(
                key.into(),
                json!(names
                    .iter()
                    .map(|n| prefix(n.as_str().unwrap()))
                    .collect::<Vec<_>>()),
            );
        }
    }
    let matchers: Vec<Value> = route["matchers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| matcher_string(m, v1alpha1))
        .collect();
    if !matchers.is_empty() {
        out.insert("matchers".into(), json!(matchers));
    }
    if let Some(children) = route["routes"].as_array() {
        out.insert(
            "routes".into(),
            json!(children
                .iter()
                .map(|c| convert_route(&go_decoded(c), prefix, v1alpha1))
                .collect::<Vec<_>>()),
        );
    }
    Value::Object(out)
}

/// A nested route as the operator reads it: `routes[]` is raw JSON that Go's
/// `encoding/json` decodes, matching keys to fields without regard to case and folding
/// `ſ` and the Kelvin sign, so `Continue` is `continue` (its matchers alike).
fn go_decoded(route: &Value) -> Value {
    const ROUTE: &[&str] = &[
        "receiver",
        "groupBy",
        "groupWait",
        "groupInterval",
        "repeatInterval",
        "matchers",
        "continue",
        "routes",
        "muteTimeIntervals",
        "activeTimeIntervals",
    ];
    const MATCHER: &[&str] = &["name", "value", "matchType", "regex"];
    let fold = |s: &str| -> String {
        s.chars()
            .map(|c| match c {
                '\u{017F}' => 's',
                '\u{212A}' => 'k',
                c => c.to_ascii_lowercase(),
            })
            .collect()
    };
    let rename = |map: &Map<String, Value>, fields: &[&str]| -> Map<String, Value> {
        map.iter()
            .filter_map(|(k, v)| {
                let field = fields.iter().find(|f| fold(f) == fold(k))?;
                Some(((*field).to_owned(), v.clone()))
            })
            .collect()
    };
    let Some(map) = route.as_object() else {
        return route.clone();
    };
    let mut out = rename(map, ROUTE);
    if let Some(Value::Array(matchers)) = out.get_mut("matchers") {
        for m in matchers.iter_mut() {
            if let Some(map) = m.as_object() {
                *m = Value::Object(rename(map, MATCHER));
            }
        }
    }
    Value::Object(out)
}

/// The parts of a webhook's `httpConfig` that decide which addresses Alertmanager
/// contacts: OAuth2 (the operator reads the client id and secret from their Secrets;
/// fixed values stand in), proxies, and `followRedirects` (`follow_redirects`).
fn http_config(http: &Value) -> Option<Value> {
    let mut out = Map::new();
    if let Some(oauth2) = http.get("oauth2") {
        let mut o =
            json!({"client_id": "id", "client_secret": "secret", "token_url": oauth2["tokenUrl"]});
        if let Some(proxy) = oauth2.get("proxyUrl").or_else(|| oauth2.get("proxyURL")) {
            o["proxy_url"] = proxy.clone();
        }
        out.insert("oauth2".into(), o);
    }
    if let Some(proxy) = http.get("proxyUrl").or_else(|| http.get("proxyURL")) {
        out.insert("proxy_url".into(), proxy.clone());
    }
    // Whether Alertmanager follows the listener's redirects (it does unless told not to).
    if let Some(follow) = http.get("followRedirects").filter(|v| v.is_boolean()) {
        out.insert("follow_redirects".into(), follow.clone());
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// The rule file Prometheus loads for a PrometheusRule: its `spec.groups`, as the
/// operator writes them into the rule ConfigMap.
pub fn rule_file(object: &Value) -> Value {
    json!({"groups": object["spec"]["groups"]})
}
