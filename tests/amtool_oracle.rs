//! Alertmanager's own tool judges what the policy lets through: every AlertmanagerConfig
//! the policy admits, converted the way the Prometheus Operator merges it into the
//! Alertmanager configuration, passes `amtool check-config`.

mod common;

use std::process::Command;

use common::operator::operator_config;
use common::*;
use serde_json::{json, Value};

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
