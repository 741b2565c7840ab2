//! Alertmanager's own tool judges what the policy lets through: every AlertmanagerConfig
//! the policy admits, converted the way the Prometheus Operator merges it into the
//! Alertmanager configuration, passes `amtool check-config`.

mod common;

use std::process::Command;

use common::*;
use serde_json::{json, Map, Value};

/// The part of the Alertmanager configuration the operator generates for one
/// AlertmanagerConfig: names prefixed `<namespace>/<name>/`, a `namespace="<namespace>"`
/// matcher on its route, and camelCase fields in Alertmanager's snake_case.
fn operator_config(object: &Value) -> Value {
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

    json!({
        "route": {"receiver": "null", "routes": [route]},
        "receivers": receivers,
        "time_intervals": time_intervals,
    })
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
        .map(|m| {
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
        })
        .collect();
    if !matchers.is_empty() {
        out.insert("matchers".into(), json!(matchers));
    }
    if let Some(children) = route["routes"].as_array() {
        out.insert(
            "routes".into(),
            json!(children
                .iter()
                .map(|c| convert_route(c, prefix, v1alpha1))
                .collect::<Vec<_>>()),
        );
    }
    Value::Object(out)
}

fn amtool_check(config: &Value, label: &str) -> (bool, String) {
    let found = Command::new("amtool").arg("--version").output();
    assert!(
        found.map(|o| o.status.success()).unwrap_or(false),
        "amtool is not on PATH: `make deps` installs it (Debian package prometheus-alertmanager)"
    );
    let dir = std::env::temp_dir().join(format!(
        "tenant-alerting-policy-{}-am-{label}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("alertmanager.yaml");
    std::fs::write(&path, serde_json::to_vec_pretty(config).unwrap()).unwrap();
    let out = Command::new("amtool")
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn every_admitted_alertmanagerconfig_passes_amtool_check_config() {
    let dir = repo_root().join("tests/fixtures/requests");
    let mut lenient = workshop_settings();
    lenient["allowUrlSecret"] = json!(true);
    lenient["allowedReceiverIntegrations"] = json!([]);
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let request = read_json(&entry.unwrap().path());
        if request["kind"]["kind"] != "AlertmanagerConfig" {
            continue;
        }
        for settings in [workshop_settings(), lenient.clone()] {
            let r = validate(&request, &settings);
            if !r.allowed {
                continue;
            }
            let object = r
                .mutated_object
                .unwrap_or_else(|| request["object"].clone());
            let config = operator_config(&object);
            let (ok, out) = amtool_check(&config, &checked.to_string());
            assert!(
                ok,
                "amtool check-config failed for {}:\n{out}\n{config:#}",
                request["uid"]
            );
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} configurations checked");
}

#[test]
fn the_oracle_catches_what_the_policy_prevents() {
    // The mis-indented snippet routes to a receiver that does not exist: amtool agrees
    // with the policy that it is broken.
    let object = request("alertmanagerconfig-misindented")["object"].clone();
    let (ok, out) = amtool_check(&operator_config(&object), "misindented");
    assert!(!ok, "amtool accepted an undefined receiver:\n{out}");
    assert!(out.contains("undefined receiver"), "{out}");

    // So does it for a route naming a time interval that is not defined.
    let mut object = request("alertmanagerconfig-v1beta1-correct")["object"].clone();
    object["spec"]["route"]["activeTimeIntervals"] = json!(["weekend"]);
    let (ok, out) = amtool_check(&operator_config(&object), "undefined-interval");
    assert!(!ok, "amtool accepted an undefined time interval:\n{out}");
}
