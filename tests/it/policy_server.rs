//! The policy behind Kubewarden's `policy-server`, answering AdmissionReviews over HTTP
//! as the API server sends them: the same policy loaded twice (`protect` and `monitor`)
//! beside the floor policy, every bundled request compared with the runner's answer,
//! and a request past the policy timeout answered while the server keeps serving.
//! Skipped, saying so, without policy-server; required under CI.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::common::kubewarden::{annotated_floor, annotated_policy, kwctl, policy_server, verdict};
use crate::common::*;
use policy_runner::policy_server::Server;
use serde_json::{json, Value};

fn start(tools: &(PathBuf, PathBuf), name: &str, settings: &Value, timeout_seconds: u32) -> Server {
    let dir = std::env::temp_dir().join(format!(
        "tenant-alerting-policy-{}-policy-server-{name}",
        std::process::id()
    ));
    Server::start(
        &tools.0,
        &dir,
        &policies(&tools.1, settings),
        timeout_seconds,
    )
    .unwrap_or_else(|e| panic!("{e:#}"))
}

fn review(server: &Server, policy: &str, request: &Value) -> Value {
    server
        .review(policy, request)
        .unwrap_or_else(|e| panic!("{e:#}\n{}", server.log_text()))
}

/// policy-server and kwctl (policy-server loads only annotated modules).
fn tools() -> (PathBuf, PathBuf) {
    (policy_server(), kwctl())
}

/// The released (annotated) policy twice, `protect` and `monitor`, and the floor.
fn policies(kwctl: &Path, settings: &Value) -> Value {
    let module = format!("file://{}", annotated_policy(kwctl).display());
    json!({
        "tenant-alerting": {"module": module, "settings": settings, "allowedToMutate": true, "policyMode": "protect"},
        "tenant-alerting-monitor": {"module": module, "settings": settings, "allowedToMutate": true, "policyMode": "monitor"},
        "floor": {"module": format!("file://{}", annotated_floor(kwctl).display()), "settings": {}, "allowedToMutate": false},
        "spinner": {"module": format!("file://{}", annotated_floor(kwctl).display()), "settings": {"spin": true}, "allowedToMutate": false},
    })
}

#[test]
#[ignore = "needs kwctl and policy-server: run by make test"]
fn admission_reviews_get_the_runners_answers_in_protect_and_none_in_monitor() {
    let tools = tools();
    let settings = workshop_settings();
    let server = start(&tools, "reviews", &settings, 2);
    let mut compared = 0;
    for entry in std::fs::read_dir(repo_root().join("tests/fixtures/requests")).unwrap() {
        let path = entry.unwrap().path();
        let request = read_json(&path);
        let protect = review(&server, "tenant-alerting", &request);
        assert_eq!(protect["uid"], request["uid"], "{}", path.display());
        let runner = serde_json::to_value(validate(&request, &settings)).unwrap();
        assert_eq!(verdict(&protect), verdict(&runner), "{}", path.display());

        // Monitor mode: evaluated and logged, never rejected, never patched.
        let monitor = review(&server, "tenant-alerting-monitor", &request);
        assert_eq!(monitor["uid"], request["uid"]);
        assert_eq!(monitor["allowed"], true, "{}", path.display());
        assert!(monitor["patch"].is_null(), "{}", path.display());

        let floor = review(&server, "floor", &request);
        assert_eq!(floor["allowed"], true);
        compared += 1;
    }
    assert!(compared >= 19, "only {compared} requests compared");
}

/// With tenancy from the cluster, every way a read fails under the real engine gets a
/// one-line rejection saying what could not be read, never an error answer: granted but
/// no cluster to read (policy-server runs with `--ignore-kubernetes-connection-failure`),
/// the Namespace not in `contextAwareResources`, and the `kubernetes/get_resource` host
/// capability not granted. PrometheusRules read nothing and pass.
#[test]
#[ignore = "needs kwctl and policy-server: run by make test"]
fn cluster_reads_that_fail_under_policy_server_fail_closed() {
    let tools = tools();
    let module = format!("file://{}", annotated_policy(&tools.1).display());
    let settings = read_json(
        &repo_root().join("tests/fixtures/context-aware/requester-owns-user2-prod/settings.json"),
    );
    let grants =
        json!([{"apiVersion": "v1", "kind": "Namespace"}, {"apiVersion": "v1", "kind": "Service"}]);
    let capability = json!(["kubernetes/get_resource"]);
    // Granted everything it declares (the read then fails on the missing cluster), not
    // granted the Namespace, and not granted the host capability itself.
    let policies = json!({
        "granted": {"module": module, "settings": settings, "allowedToMutate": true,
                    "contextAwareResources": grants, "hostCapabilities": capability},
        "no-resources": {"module": module, "settings": settings, "allowedToMutate": true,
                         "hostCapabilities": capability},
        "no-capability": {"module": module, "settings": settings, "allowedToMutate": true,
                          "contextAwareResources": grants},
    });
    let dir = std::env::temp_dir().join(format!(
        "tenant-alerting-policy-{}-policy-server-context",
        std::process::id()
    ));
    let server = Server::start(&tools.0, &dir, &policies, 2).unwrap_or_else(|e| panic!("{e:#}"));
    let config = read_json(
        &repo_root().join("tests/fixtures/context-aware/requester-owns-user2-prod/request.json"),
    );
    for policy in ["granted", "no-resources", "no-capability"] {
        let answer = review(&server, policy, &config);
        assert_eq!(answer["uid"], config["uid"]);
        assert_eq!(answer["allowed"], false, "{policy}: {answer}");
        let message = answer["status"]["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("[listener/tenant] cannot read Namespace \"user2-prod\" to find its tenant (the annotation \"openshift.io/requester\"): Host error:"),
            "{policy}: {message}"
        );
        assert!(!message.contains('\n'), "{policy}: {message}");
        eprintln!("{policy}: {message}");
        let rule = review(&server, policy, &request("seed-prometheusrule"));
        assert_eq!(rule["allowed"], true, "{policy}: {rule}");
    }
}

#[test]
#[ignore = "needs kwctl and policy-server: run by make test"]
fn a_request_past_the_timeout_is_answered_and_the_server_keeps_serving() {
    let tools = tools();
    let server = start(&tools, "timeout", &workshop_settings(), 1);
    // The most work one object of 1.4 MB (policy-server refuses bodies past 2 MB) can
    // cause: the most rules, each a long expression that needs scoping everywhere.
    let expr = format!(
        "sum(rate(x{{a=\"b\"}}[5m])){}",
        " + sum(rate(x{a=\"b\"}[5m]))".repeat(36)
    );
    let rules: Vec<Value> = (0..1400)
        .map(|i| json!({"record": format!("r{i}"), "expr": expr}))
        .collect();
    let mut heavy = request("seed-prometheusrule");
    heavy["object"]["spec"]["groups"] = json!([{"name": "g", "rules": rules}]);
    let started = Instant::now();
    let answer = review(&server, "tenant-alerting", &heavy);
    eprintln!(
        "heavy request answered in {:?}: allowed={} {}",
        started.elapsed(),
        answer["allowed"],
        answer["status"]["message"]
    );
    assert_eq!(answer["uid"], heavy["uid"]);
    // The policy's own answer, not the timeout's: past 64 Ki PromQL tokens the object is
    // refused before it can cost seconds (found by a hostile review, when it was not).
    assert_eq!(answer["allowed"], false, "{answer}");
    let message = answer["status"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("[object/bounds] ") && message.contains("PromQL tokens"),
        "{answer}"
    );
    // The timeout itself is shown on a module that never answers (the floor with
    // `spin`): a rejection naming the timeout, in about the timeout.
    let started = Instant::now();
    let spun = review(&server, "spinner", &request("seed-prometheusrule"));
    assert_eq!(spun["allowed"], false, "{spun}");
    assert!(
        spun["status"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("exceeded the allowed execution time")),
        "{spun}"
    );
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    // And the next request is served as usual.
    let seed = request("seed-alertmanagerconfig");
    let next = review(&server, "tenant-alerting", &seed);
    assert_eq!(next["allowed"], true, "{next}");
    assert_eq!(next["uid"], seed["uid"]);
}
