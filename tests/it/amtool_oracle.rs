//! Alertmanager's own tool judges what the policy lets through: every AlertmanagerConfig
//! the policy admits, converted the way the Prometheus Operator merges it into the
//! Alertmanager configuration, passes `amtool check-config`.

use std::process::Command;

use crate::common::operator::operator_config;
use crate::common::*;
use serde_json::{json, Value};

/// `config` written where amtool can read it (a directory per `label`), once amtool is
/// known to be on PATH.
fn config_file(config: &Value, label: &str) -> std::path::PathBuf {
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
    path
}

fn amtool_check(config: &Value, label: &str) -> (bool, String) {
    let path = config_file(config, label);
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

/// Issue 17, row 10: Alertmanager refuses a zero interval at any depth, and so does the
/// policy, before the operator would write a configuration Alertmanager cannot load.
#[test]
fn zero_intervals_alertmanager_refuses_are_refused_first() {
    for (field, amtool_says) in [
        ("repeatInterval", "repeat_interval cannot be zero"),
        ("groupInterval", "group_interval cannot be zero"),
    ] {
        for nested in [false, true] {
            let mut request = request("alertmanagerconfig-v1beta1-correct");
            let route = if nested {
                request["object"]["spec"]["route"]["routes"] = json!([{}]);
                &mut request["object"]["spec"]["route"]["routes"][0]
            } else {
                &mut request["object"]["spec"]["route"]
            };
            route[field] = json!("0");
            let label = format!("zero-{field}-{nested}");
            let (ok, out) = amtool_check(&operator_config(&request["object"]), &label);
            assert!(!ok, "{label}: amtool accepted a zero interval");
            assert!(out.contains(amtool_says), "{label}: {out}");
            let r = validate(&request, &workshop_settings());
            assert_rejected(&r, "is zero, which Alertmanager refuses");
        }
    }
}

/// Generated objects, not only fixtures: URLs written every way the hostile suites
/// found, intervals short and long, nested and continuing routes. Whatever the policy
/// admits, `amtool check-config` loads (one amtool call for all of them).
#[test]
fn every_admitted_generated_alertmanagerconfig_passes_amtool() {
    let urls = [
        json!(LISTENER),
        json!("https://EL-CT-LISTENER-user1-toolings.apps.cluster-abc.example.com:443"),
        json!("https:///el-ct-listener-user1-toolings.apps.cluster-abc.example.com/"),
        json!("https:el-ct-listener-user1-toolings.apps.cluster-abc.example.com/"),
        json!("https://el-ct-listener-user1-toolings.apps.cluster-abc.exa%6Dple.com/"),
        json!("https://el-ct-listener-user2-toolings.apps.cluster-abc.example.com/"),
        json!("https://el-ct-listener-<USER_NAME>-toolings.<CLUSTER_DOMAIN>/"),
        json!("https://hooks.example.com/alerts/x"),
        Value::Null,
    ];
    let intervals = [
        None,
        Some("0"),
        Some("10ms"),
        Some("1m"),
        Some("90s"),
        Some("1h"),
        Some("12h"),
    ];
    let mut settings = workshop_settings();
    settings["allowedWebhookUrls"] = json!(["https://hooks.example.com/alerts/"]);
    let mut raise = settings.clone();
    raise["onShortInterval"] = json!("raise");
    let dir = std::env::temp_dir().join(format!(
        "tenant-alerting-policy-{}-am-gen",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    let mut rejected = 0;
    for (i, url) in urls.iter().enumerate() {
        for (j, interval) in intervals.iter().enumerate() {
            for (k, settings) in [&settings, &raise].into_iter().enumerate() {
                let mut request = request("alertmanagerconfig-v1beta1-correct");
                let spec = &mut request["object"]["spec"];
                spec["receivers"][0]["webhookConfigs"][0]["url"] = url.clone();
                spec["receivers"][0]["webhookConfigs"][0]["httpConfig"] = json!({});
                let child = match interval {
                    Some(d) => {
                        json!({"groupInterval": d, "repeatInterval": d, "continue": j % 2 == 0,
                                      "routes": [{"groupWait": "30s"}]})
                    }
                    None => json!({"routes": [{}]}),
                };
                spec["route"]["routes"] = json!([child, {"receiver": "default"}]);
                let r = validate(&request, settings);
                if !r.allowed {
                    rejected += 1;
                    continue;
                }
                let object = r
                    .mutated_object
                    .unwrap_or_else(|| request["object"].clone());
                let path = dir.join(format!("am-{i}-{j}-{k}.yaml"));
                std::fs::write(
                    &path,
                    serde_json::to_vec_pretty(&operator_config(&object)).unwrap(),
                )
                .unwrap();
                files.push(path);
            }
        }
    }
    assert!(
        files.len() >= 20,
        "only {} admitted ({rejected} rejected)",
        files.len()
    );
    assert!(
        rejected >= 10,
        "only {rejected} rejected: the generator misses the hostile shapes"
    );
    let out = Command::new("amtool")
        .arg("check-config")
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "amtool refused an admitted configuration:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The receivers `amtool config routes test` says an alert with `labels` reaches.
fn amtool_routes(config: &Value, label: &str, labels: &[&str]) -> Vec<String> {
    let path = config_file(config, label);
    let out = Command::new("amtool")
        .args(["config", "routes", "test", "--config.file"])
        .arg(&path)
        .args(labels)
        .output()
        .expect("amtool runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// Found by a hostile-tenant review: nested routes are raw JSON, and the operator reads
/// `"Continue": true` as `continue: true` (Go ignores case). With the policy bypassed,
/// one alert reaches the tenant's listener twice; the policy refuses every key that is
/// not exactly a route field.
#[test]
fn case_folded_route_keys_would_fan_one_alert_out_and_are_refused() {
    let listener = "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/";
    let mut request = request("alertmanagerconfig-v1beta1-correct");
    request["object"]["spec"]["receivers"] = json!([
        {"name": "other", "webhookConfigs": [{"url": "https://hooks.example.com/alerts/x"}]},
        {"name": "listener", "webhookConfigs": [{"url": listener}]},
    ]);
    for (label, first) in [
        (
            "Continue",
            json!({"receiver": "listener", "Continue": true}),
        ),
        (
            "long-s",
            json!({"receiver": "listener", "continue": false, "ROUTEſ": []}),
        ),
    ] {
        request["object"]["spec"]["route"] = json!({"receiver": "other", "repeatInterval": "12h",
            "routes": [first, {"receiver": "listener"}]});
        if label == "long-s" {
            // `routeſ` is `routes` to Go: the grandchild fans out instead.
            request["object"]["spec"]["route"]["routes"] = json!([{"receiver": "other", "routeſ": [
                {"receiver": "listener", "continue": true}, {"receiver": "listener"}]}]);
        }
        let object = request["object"].clone();
        let reached = amtool_routes(
            &operator_config(&object),
            label,
            &["namespace=user1-test", "alertname=Drift"],
        );
        let to_listener = reached.iter().filter(|r| r.ends_with("/listener")).count();
        assert_eq!(
            to_listener, 2,
            "{label}: bypassed, amtool routes: {reached:?}"
        );
        let mut allowed = workshop_settings();
        allowed["allowedWebhookUrls"] = json!(["https://hooks.example.com/alerts/"]);
        let r = validate(&request, &allowed);
        assert_rejected(&r, "[route/keys] spec.route.routes[0].");
    }
}

/// Found by a hostile-tenant review: route matcher names and regexes and `groupBy`
/// entries reach Alertmanager unchecked by the operator. With the policy bypassed,
/// amtool refuses the configuration (one tenant stops every tenant's reloads), and a
/// name like `severity!` is read as `severity !=`: routes the policy took for exclusive
/// both reach the listener. The policy refuses each, at its place.
#[test]
fn matcher_names_regexes_and_group_by_alertmanager_refuses_are_refused() {
    let listener = "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/";
    let mut request = request("alertmanagerconfig-v1beta1-correct");
    request["object"]["spec"]["receivers"] = json!([
        {"name": "other"},
        {"name": "listener", "webhookConfigs": [{"url": listener, "sendResolved": false, "httpConfig": {"followRedirects": false}}]},
    ]);
    let eq =
        |name: &str, value: &str, t: &str| json!({"name": name, "value": value, "matchType": t});
    for (label, route, at) in [
        (
            "name",
            json!({"receiver": "listener", "matchers": [eq("a-b", "x", "=")]}),
            "matchers[0].name",
        ),
        (
            "regex",
            json!({"receiver": "listener", "matchers": [eq("a", "(", "=~")]}),
            "matchers[0].value",
        ),
        (
            "group-by",
            json!({"receiver": "listener", "groupBy": ["a-b"]}),
            "groupBy[0]",
        ),
        (
            "group-by-wildcard",
            json!({"receiver": "listener", "groupBy": ["...", "a"]}),
            "groupBy[0]",
        ),
    ] {
        request["object"]["spec"]["route"] =
            json!({"receiver": "other", "repeatInterval": "12h", "routes": [route]});
        let (ok, out) = amtool_check(&operator_config(&request["object"]), label);
        assert!(!ok, "{label}: amtool loaded it:\n{out}");
        assert_rejected(
            &validate(&request, &workshop_settings()),
            &format!("[object/loads] spec.route.routes[0].{at}: "),
        );
    }
    // `severity!="critical"` and `severity!="warning"`: not exclusive to Alertmanager.
    request["object"]["spec"]["route"] = json!({"receiver": "other", "repeatInterval": "12h", "routes": [
        {"receiver": "listener", "continue": true, "matchers": [eq("severity!", "critical", "=")]},
        {"receiver": "listener", "matchers": [eq("severity!", "warning", "=")]},
    ]});
    let reached = amtool_routes(
        &operator_config(&request["object"]),
        "bang",
        &["namespace=user1-test", "alertname=Drift", "severity=info"],
    );
    let to_listener = reached.iter().filter(|r| r.ends_with("/listener")).count();
    assert_eq!(to_listener, 2, "bypassed, amtool routes: {reached:?}");
    assert_rejected(
        &validate(&request, &workshop_settings()),
        "[object/loads] spec.route.routes[0].matchers[0].name: \"severity!\" is not a label name",
    );
}

/// Found by a hostile-tenant review: the operator passes inhibit rules and time
/// intervals on as written. With the policy bypassed, amtool refuses a bad inhibit-rule
/// regex, an `equal` that is not a label name and a time interval defined twice (one
/// tenant would stop every tenant's reloads); the policy refuses each, and what it
/// admits loads.
#[test]
fn inhibit_rules_and_time_intervals_alertmanager_refuses_are_refused() {
    let eq =
        |name: &str, value: &str, t: &str| json!({"name": name, "value": value, "matchType": t});
    let mut request = request("alertmanagerconfig-v1beta1-correct");
    let night = json!({"name": "night", "timeIntervals": [{"times": [{"startTime": "00:00", "endTime": "06:00"}]}]});
    // The fixture's own intervals (its route names one), then ours.
    let intervals = |added: &[&Value]| {
        let mut all = request["object"]["spec"]["timeIntervals"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        all.extend(added.iter().map(|v| (*v).clone()));
        Value::Array(all)
    };
    let twice = intervals(&[&night, &night]);
    let second = format!(
        "spec.timeIntervals[{}].name",
        twice.as_array().unwrap().len() - 1
    );
    let once = intervals(&[&night]);
    for (label, field, value, at) in [
        (
            "inhibit-regex",
            "inhibitRules",
            json!([{"sourceMatch": [eq("severity", "critical", "=")], "targetMatch": [eq("a", "(", "=~")]}]),
            "spec.inhibitRules[0].targetMatch[0].value",
        ),
        (
            "inhibit-equal",
            "inhibitRules",
            json!([{"sourceMatch": [eq("severity", "critical", "=")], "equal": ["model-name"]}]),
            "spec.inhibitRules[0].equal[0]",
        ),
        ("interval-twice", "timeIntervals", twice, second.as_str()),
    ] {
        let mut object = request["object"].clone();
        object["spec"][field] = value.clone();
        let (ok, out) = amtool_check(&operator_config(&object), label);
        assert!(!ok, "{label}: amtool loaded it:\n{out}");
        request["object"] = object;
        assert_rejected(
            &validate(&request, &workshop_settings()),
            &format!("[object/loads] {at}: "),
        );
    }
    // The same, loadable: admitted, and amtool loads what the policy returns.
    let mut object = request["object"].clone();
    object["spec"]["inhibitRules"] = json!([{"sourceMatch": [eq("severity", "crit.*", "=~")], "targetMatch": [eq("severity", "warning", "=")], "equal": ["alertname"]}]);
    object["spec"]["timeIntervals"] = once;
    request["object"] = object;
    let response = validate(&request, &workshop_settings());
    assert!(response.allowed, "{:?}", response.status);
    let stored = response
        .mutated_object
        .unwrap_or_else(|| request["object"].clone());
    let (ok, out) = amtool_check(&operator_config(&stored), "inhibit-fine");
    assert!(ok, "amtool refused an admitted configuration:\n{out}");
}
