//! What a rule emits stays in its namespace, shown on the software that routes alerts:
//! the real `prometheus` and `alertmanager` daemons (Debian's packages), on 127.0.0.1.
//!
//! Two tenants, user1 and user2, each deploy the workshop's PrometheusRule and
//! AlertmanagerConfig; user1 adds hostile rules that relabel, drop or rewrite the
//! namespace of what they emit. user1 drifts from the start; in the main scenario user2
//! drifts too, and each tenant's alerts must reach its own listener and no other, every
//! request the listeners receive accounted for. Every object goes through the `.wasm`; only
//! what it accepts, as mutated, is deployed, converted the way the Prometheus Operator
//! does (`common::operator`). A local exporter serves the TrustyAI series and a local
//! listener stands in for every tenant's EventListener, recording which URL each
//! notification was for. Time is compressed: scrape and evaluation every 500ms, `for`
//! of 1s (the objects are written that way and the policy's `minFor` lowered), group
//! wait of 250ms and group interval of 1s. Each daemon is killed when its scenario ends.
//!
//! The issue-16 scenarios (below the rule at the end) each pair a bypass half, the
//! object deployed as written, with a policy half. The listener stand-ins are
//! `common::http_stub`: they record every request and answer as told (e.g. a redirect).
//! No scenario sleeps before asserting: it polls a condition with a deadline, and
//! "nothing more arrives" is a quiet period past the group interval after the last
//! delivery.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::http_stub::{Recorded, Reply, Stub};
use crate::common::operator::{operator_config, rule_file};
use crate::common::*;
use serde_json::{json, Value};

const USER1: &str = "user1-test";
const USER2: &str = "user2-test";
const DOMAIN: &str = "apps.cluster-abc.example.com";
/// The longest any wait in a scenario may take.
const PATIENCE: Duration = Duration::from_secs(45);

fn listener_host(user: &str) -> String {
    format!("el-ct-listener-{user}-toolings.{DOMAIN}")
}

fn settings() -> Value {
    json!({"clusterDomain": DOMAIN, "minFor": "1s", "defaultFor": "1s"})
}

/// A CREATE request for `object` in `namespace`, from a seed fixture's envelope.
fn create(fixture: &str, namespace: &str, mut object: Value) -> Value {
    let mut r = request(fixture);
    object["metadata"]["namespace"] = json!(namespace);
    r["namespace"] = json!(namespace);
    r["name"] = object["metadata"]["name"].clone();
    r["object"] = object;
    r
}

/// The seed PrometheusRule of `namespace`, with `for` compressed to 1s.
fn seed_rule(namespace: &str) -> Value {
    let mut object = request("seed-prometheusrule")["object"].clone();
    let rule = &mut object["spec"]["groups"][0]["rules"][0];
    rule["for"] = json!("1s");
    rule["expr"] = json!(rule["expr"].as_str().unwrap().replace(USER1, namespace));
    create("seed-prometheusrule", namespace, object)
}

fn seed_alertmanager_config(namespace: &str) -> Value {
    create(
        "seed-alertmanagerconfig",
        namespace,
        request("seed-alertmanagerconfig")["object"].clone(),
    )
}

/// user1's PrometheusRule of alerts that would reach user2, or no tenant, or re-fire.
fn hostile_rules() -> Value {
    let drifting =
        format!(r#"trustyai_meanshift{{namespace="{USER1}",subcategory="danceability"}} < 0.05"#);
    let alert = |name: &str, expr: String| json!({"alert": name, "expr": expr});
    let object = json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "hostile"},
        "spec": {"groups": [{"name": "hostile.rules", "rules": [
            alert("relabelled-to-user2", format!(r#"label_replace({drifting}, "namespace", "{USER2}", "", "")"#)),
            alert("namespace-dropped", format!("min({drifting})")),
        ]}]}
    });
    create("seed-prometheusrule", USER1, object)
}

/// Hostile alerts the policy rejects outright.
fn rejected_rules() -> Vec<(Value, &'static str)> {
    let with_rule = |rule: Value| {
        let mut r = hostile_rules();
        r["object"]["spec"]["groups"][0]["rules"] = json!([rule]);
        r
    };
    vec![
        (
            with_rule(
                json!({"alert": "always", "expr": format!(r#"trustyai_meanshift{{namespace="{USER1}"}} < bool 0.05"#)}),
            ),
            "drop `bool`",
        ),
        (
            with_rule(
                json!({"alert": "refires", "expr": format!(r#"trustyai_meanshift{{namespace="{USER1}"}} < 0.05"#), "labels": {"p": "{{ $value }}"}}),
            ),
            "depends on the alert's value",
        ),
        (
            with_rule(
                json!({"alert": "namespace-from-value", "expr": format!(r#"count_values("namespace", trustyai_meanshift{{namespace="{USER1}"}} < 0.05)"#)}),
            ),
            "two samples with different values collide",
        ),
    ]
}

/// A daemon started for one scenario; killed when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &Path, program: &str, args: &[String]) -> Daemon {
    let log = std::fs::File::create(dir.join(format!("{program}.log"))).unwrap();
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {program}: {e}; `make deps` installs it (Debian packages prometheus, prometheus-alertmanager)")
        });
    Daemon(child)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200")
        .then(|| body.to_owned())
        .or_else(|| head.starts_with("HTTP/1.0 200").then(|| body.to_owned()))
}

/// Polls `done` every 100 ms for at most `limit`; whether it came true.
fn poll(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if done() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One notification as the listener recorded it.
#[derive(Debug, Clone)]
struct Notification {
    /// The EventListener host the webhook URL named.
    listener: String,
    status: String,
    alerts: Vec<Value>,
}

impl Notification {
    fn parse(request: &Recorded) -> Option<Notification> {
        let payload = request.json()?;
        payload.get("receiver")?;
        Some(Notification {
            listener: request.path.trim_matches('/').to_owned(),
            status: payload["status"].as_str().unwrap_or("").to_owned(),
            alerts: payload["alerts"].as_array().cloned().unwrap_or_default(),
        })
    }

    fn alertnames(&self) -> Vec<String> {
        self.alerts
            .iter()
            .map(|a| a["labels"]["alertname"].as_str().unwrap_or("").to_owned())
            .collect()
    }
}

/// What the tenants deploy: the objects as they are stored.
struct Deployment {
    rules: Vec<Value>,
    configs: Vec<Value>,
}

/// A running Prometheus + Alertmanager with the deployment loaded.
struct Stack {
    /// First, so that the daemons are killed before the stubs stop answering.
    daemons: Vec<Daemon>,
    prometheus: u16,
    /// Every EventListener: each webhook URL is sent here, its host kept in the path.
    listener: Stub,
    _exporter: Stub,
    /// user1's and user2's drift p-values, served by the exporter (0.01 and 0.5 at
    /// first: user1 drifts, user2 is healthy).
    user1_value: Arc<Mutex<f64>>,
    user2_value: Arc<Mutex<f64>>,
    dir: PathBuf,
}

/// Alertmanager's group wait and group interval on every route that does not set its own.
const GROUP_WAIT: Duration = Duration::from_millis(250);
const GROUP_INTERVAL: Duration = Duration::from_secs(1);
/// "Nothing more arrives": no request for this long after the last one. Alertmanager
/// flushes a group every group interval; one more second is slack for a loaded machine.
const QUIET: Duration = Duration::from_secs(GROUP_INTERVAL.as_secs() + 1);

impl Stack {
    fn start(name: &str, deployment: &Deployment) -> Stack {
        Stack::start_with(name, deployment, Stub::new(), "")
    }

    /// `listener` answers for every EventListener; `extra_series` are more lines of the
    /// exporter's text format.
    fn start_with(
        name: &str,
        deployment: &Deployment,
        listener: Stub,
        extra_series: &str,
    ) -> Stack {
        let dir = std::env::temp_dir().join(format!(
            "tenant-alerting-policy-{}-e2e-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();

        let user1_value = Arc::new(Mutex::new(0.01));
        let user2_value = Arc::new(Mutex::new(0.5));
        let (served, served2) = (user1_value.clone(), user2_value.clone());
        let extra_series = extra_series.to_owned();
        let exporter = Stub::answering(move |_| {
            Reply::ok(format!(
                "# TYPE trustyai_meanshift gauge\n\
                 trustyai_meanshift{{namespace=\"{USER1}\",subcategory=\"danceability\"}} {}\n\
                 trustyai_meanshift{{namespace=\"{USER2}\",subcategory=\"danceability\"}} {}\n\
                 {extra_series}",
                served.lock().unwrap(),
                served2.lock().unwrap()
            ))
        });

        let (prometheus, alertmanager) = (free_port(), free_port());
        let mut rule_files = Vec::new();
        for (i, rule) in deployment.rules.iter().enumerate() {
            let path = dir.join(format!("rules-{i}.json"));
            std::fs::write(&path, serde_json::to_vec_pretty(&rule_file(rule)).unwrap()).unwrap();
            rule_files.push(path);
        }
        let prometheus_config = json!({
            "global": {"scrape_interval": "500ms", "evaluation_interval": "500ms"},
            "scrape_configs": [{"job_name": "trustyai", "honor_labels": true,
                "static_configs": [{"targets": [format!("127.0.0.1:{}", exporter.port())]}]}],
            "rule_files": rule_files,
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [format!("127.0.0.1:{alertmanager}")]}]}]},
        });
        std::fs::write(dir.join("prometheus.json"), prometheus_config.to_string()).unwrap();
        let alertmanager_config = merge_operator_configs(&deployment.configs, listener.port());
        std::fs::write(
            dir.join("alertmanager.json"),
            serde_json::to_vec_pretty(&alertmanager_config).unwrap(),
        )
        .unwrap();

        let am = start(
            &dir,
            "prometheus-alertmanager",
            &[
                format!("--config.file={}", dir.join("alertmanager.json").display()),
                format!("--storage.path={}", dir.join("am-data").display()),
                format!("--web.listen-address=127.0.0.1:{alertmanager}"),
                "--cluster.listen-address=".to_owned(),
            ],
        );
        let prom = start(
            &dir,
            "prometheus",
            &[
                format!("--config.file={}", dir.join("prometheus.json").display()),
                format!("--storage.tsdb.path={}", dir.join("prom-data").display()),
                format!("--web.listen-address=127.0.0.1:{prometheus}"),
            ],
        );
        let stack = Stack {
            daemons: vec![prom, am],
            prometheus,
            listener,
            _exporter: exporter,
            user1_value,
            user2_value,
            dir,
        };
        stack.wait_for("both daemons ready", || {
            http_get(prometheus, "/-/ready").is_some()
                && http_get(alertmanager, "/-/ready").is_some()
        });
        stack
    }

    /// Kills Prometheus and Alertmanager now (the stubs keep their records).
    fn stop_daemons(&mut self) {
        self.daemons.clear();
    }

    /// Polls `done`; fails the test, with the daemons' logs, after PATIENCE.
    fn wait_for(&self, what: &str, done: impl FnMut() -> bool) {
        if !poll(PATIENCE, done) {
            let logs: String = ["prometheus", "prometheus-alertmanager"]
                .iter()
                .map(|d| {
                    let log = std::fs::read_to_string(self.dir.join(format!("{d}.log")))
                        .unwrap_or_default();
                    let tail: String = log.lines().rev().take(15).collect::<Vec<_>>().join("\n");
                    format!("--- {d} (last lines, newest first)\n{tail}\n")
                })
                .collect();
            panic!(
                "waited {PATIENCE:?} for {what}; the listener saw {:?}\n{logs}",
                self.requests()
            );
        }
    }

    /// Waits until `stub` has received nothing for QUIET, counted from its last request
    /// or from `since`, whichever is later.
    fn wait_quiet(&self, stub: &Stub, since: Instant) {
        self.wait_for("the listener to go quiet", || {
            let last = stub.last_at().map_or(since, |at| at.max(since));
            last.elapsed() >= QUIET
        });
    }

    fn notifications(&self) -> Vec<Notification> {
        self.listener
            .requests()
            .iter()
            .filter_map(Notification::parse)
            .collect()
    }

    /// Every request the listener received, as `METHOD /host/path` (token requests too).
    fn requests(&self) -> Vec<String> {
        self.listener
            .requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    /// The requests to `user`'s EventListener.
    fn requests_to(&self, user: &str) -> Vec<Recorded> {
        let path = format!("/{}/", listener_host(user));
        self.listener
            .requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    fn notified(&self, user: &str, status: &str) -> Vec<Notification> {
        let host = listener_host(user);
        self.notifications()
            .into_iter()
            .filter(|n| n.listener == host && n.status == status)
            .collect()
    }

    /// The labels of every series of Prometheus's `ALERTS` right now. A query that fails
    /// (no answer, not 200, not JSON, not `"status": "success"` with a vector) fails the
    /// test: an empty list means Prometheus said there are no alerts, never "unknown".
    fn alerts(&self) -> Vec<Value> {
        let body = http_get(self.prometheus, "/api/v1/query?query=ALERTS")
            .unwrap_or_else(|| panic!("the ALERTS query failed (no 200 answer from Prometheus)"));
        let answer: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("the ALERTS query answered no JSON ({e}): {body}"));
        assert_eq!(
            (&answer["status"], &answer["data"]["resultType"]),
            (&json!("success"), &json!("vector")),
            "the ALERTS query failed: {body}"
        );
        answer["data"]["result"]
            .as_array()
            .unwrap_or_else(|| panic!("the ALERTS query has no result list: {body}"))
            .iter()
            .map(|series| series["metric"].clone())
            .collect()
    }
}

/// Alertmanager's configuration as the operator merges AlertmanagerConfigs: a top route
/// to a null receiver and one `continue: true` child per config, matching its namespace.
/// Every webhook URL is sent to the local listener, its host kept in the path.
fn merge_operator_configs(configs: &[Value], listener: u16) -> Value {
    let mut routes = Vec::new();
    let mut receivers = vec![json!({"name": "null"})];
    for object in configs {
        let generated = operator_config(object);
        routes.extend(
            generated["route"]["routes"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        for mut receiver in generated["receivers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            if receiver["name"] == "null" {
                continue;
            }
            for hook in receiver["webhook_configs"]
                .as_array_mut()
                .into_iter()
                .flatten()
            {
                let local = |url: &Value| {
                    let url = url.as_str().unwrap();
                    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
                    json!(format!("http://127.0.0.1:{listener}/{rest}"))
                };
                hook["url"] = local(&hook["url"]);
                // The OAuth2 token request is an address Alertmanager contacts too.
                if hook["http_config"]["oauth2"]["token_url"].is_string() {
                    hook["http_config"]["oauth2"]["token_url"] =
                        local(&hook["http_config"]["oauth2"]["token_url"]);
                }
            }
            receivers.push(receiver);
        }
    }
    json!({
        "route": {"receiver": "null", "group_wait": format!("{}ms", GROUP_WAIT.as_millis()),
                  "group_interval": format!("{}ms", GROUP_INTERVAL.as_millis()),
                  "repeat_interval": "1h", "routes": routes},
        "receivers": receivers,
    })
}

/// The stored object after the policy: the mutated one, the original, or `None`.
fn through_policy(request: &Value) -> Option<Value> {
    let r = validate(request, &settings());
    r.allowed.then(|| {
        r.mutated_object
            .unwrap_or_else(|| request["object"].clone())
    })
}

fn admitted(requests: &[Value]) -> Vec<Value> {
    requests
        .iter()
        .map(|r| {
            through_policy(r)
                .unwrap_or_else(|| panic!("rejected: {}", message(&validate(r, &settings()))))
        })
        .collect()
}

fn configs() -> Vec<Value> {
    admitted(&[
        seed_alertmanager_config(USER1),
        seed_alertmanager_config(USER2),
    ])
}

#[test]
fn each_tenants_alerts_reach_its_own_pipeline_and_nothing_else() {
    for (request, why) in rejected_rules() {
        assert_rejected(&validate(&request, &settings()), why);
    }
    let deployment = Deployment {
        rules: admitted(&[seed_rule(USER1), seed_rule(USER2), hostile_rules()]),
        configs: configs(),
    };
    let stack = Stack::start("policy", &deployment);
    // Both tenants drift: user1 from the start, user2 now.
    *stack.user2_value.lock().unwrap() = 0.01;

    const DRIFT: &str = "jukebox-datadrift-alert";
    let user1_alerts = [DRIFT, "relabelled-to-user2", "namespace-dropped"];
    // Every alert both tenants' rules raise fires in Prometheus, each in its own
    // namespace (the query failing fails the wait).
    stack.wait_for("all of user1's alerts and user2's drift firing", || {
        let alerts = stack.alerts();
        let firing = |name: &str, namespace: &str| {
            alerts.iter().any(|a| {
                a["alertname"] == name && a["alertstate"] == "firing" && a["namespace"] == namespace
            })
        };
        user1_alerts.iter().all(|a| firing(a, USER1)) && firing(DRIFT, USER2)
    });
    let mut alerts: Vec<(String, String)> = stack
        .alerts()
        .iter()
        .map(|a| {
            (
                a["namespace"].as_str().unwrap_or("").to_owned(),
                a["alertname"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    alerts.sort();
    let mut expected: Vec<(String, String)> = user1_alerts
        .iter()
        .map(|a| (USER1.to_owned(), a.to_string()))
        .chain([(USER2.to_owned(), DRIFT.to_owned())])
        .collect();
    expected.sort();
    assert_eq!(
        alerts, expected,
        "ALERTS holds an alert outside its namespace"
    );

    // Each tenant's alerts reach its own listener: user1's four, user2's drift.
    let names_at = |user: &str| -> Vec<String> {
        stack
            .notified(user, "firing")
            .iter()
            .flat_map(Notification::alertnames)
            .collect()
    };
    stack.wait_for("each alert at its own tenant's listener", || {
        let (at1, at2) = (names_at("user1"), names_at("user2"));
        user1_alerts.iter().all(|a| at1.iter().any(|n| n == a)) && at2.iter().any(|n| n == DRIFT)
    });
    // Nothing else arrives after them, at any listener.
    stack.wait_quiet(&stack.listener, Instant::now());
    let account = |stage: &str| {
        // Every request the listener stand-in received, of any kind, is a firing
        // notification POSTed to user1's or user2's listener, holding only that tenant's
        // alerts (by namespace and by name).
        for request in stack.listener.requests() {
            let n = Notification::parse(&request).unwrap_or_else(|| {
                panic!(
                    "{stage}: a request that is no notification: {} {} {}",
                    request.method,
                    request.path,
                    request.body_text()
                )
            });
            assert_eq!(request.method, "POST", "{stage}: {n:?}");
            assert_eq!(
                n.status, "firing",
                "{stage}: a {} notification: {n:?}",
                n.status
            );
            let (namespace, names): (&str, &[&str]) = if n.listener == listener_host("user1") {
                (USER1, &user1_alerts)
            } else if n.listener == listener_host("user2") {
                (USER2, &[DRIFT])
            } else {
                panic!("{stage}: a notification to an unknown listener: {n:?}")
            };
            for alert in &n.alerts {
                assert_eq!(
                    alert["labels"]["namespace"], namespace,
                    "{stage}: another namespace's alert at {}: {alert}",
                    n.listener
                );
                let name = alert["labels"]["alertname"].as_str().unwrap_or("");
                assert!(
                    names.contains(&name),
                    "{stage}: {name:?} at {}: {alert}",
                    n.listener
                );
            }
        }
    };
    account("while firing");
    let delivered = stack.listener.count();

    // The drift clears for both: the alerts resolve, and no `resolved` notification
    // starts a second retraining run (sendResolved: false).
    *stack.user1_value.lock().unwrap() = 0.5;
    *stack.user2_value.lock().unwrap() = 0.5;
    stack.wait_for("every alert to resolve", || stack.alerts().is_empty());
    // Alertmanager learns of the resolution at the next evaluation; wait past its group
    // interval after the last delivery (or now) for a notification, if one were coming.
    stack.wait_quiet(&stack.listener, Instant::now());
    account("after resolving");
    assert_eq!(
        stack.listener.count(),
        delivered,
        "requests after the drift cleared: {:?}",
        &stack.requests()[delivered..]
    );
}

#[test]
fn without_the_policy_the_hostile_rule_starts_user2s_pipeline() {
    // The same hostile rules deployed as written (the AlertmanagerConfigs still go
    // through the policy, so their URLs are real): the test sees the escape.
    let mut raw = hostile_rules()["object"].clone();
    raw["spec"]["groups"][0]["rules"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .for_each(|rule| rule["for"] = json!("1s"));
    let deployment = Deployment {
        rules: vec![raw],
        configs: configs(),
    };
    let stack = Stack::start("bypass", &deployment);
    stack.wait_for("the relabelled alert at user2's listener", || {
        stack.notified("user2", "firing").iter().any(|n| {
            n.alerts
                .iter()
                .any(|a| a["labels"]["alertname"] == "relabelled-to-user2")
        })
    });
}

/// The issue's attempt on the token URL: user1's own listener as `url`, and an OAuth2
/// `tokenUrl` at user2's in-cluster EventListener. The policy refuses it; deployed
/// anyway, Alertmanager POSTs a token request to user2's listener when user1's drift
/// fires, before it sends anything to user1's.
#[test]
fn without_the_policy_a_token_url_reaches_user2s_listener() {
    let user2_internal = "http://el-ct-listener.user2-toolings.svc.cluster.local:8080/";
    let mut config = through_policy(&seed_alertmanager_config(USER1)).unwrap();
    config["spec"]["receivers"][0]["webhookConfigs"][0]["httpConfig"] = json!({"oauth2": {
        "clientId": {"secret": {"name": "oauth", "key": "id"}},
        "clientSecret": {"name": "oauth", "key": "secret"},
        "tokenUrl": user2_internal,
    }});
    let request = create("seed-alertmanagerconfig", USER1, config.clone());
    assert_rejected(
        &validate(&request, &settings()),
        "httpConfig.oauth2.tokenUrl): \"http://el-ct-listener.user2-toolings.svc.cluster.local:8080/\" is not this tenant's EventListener",
    );

    let deployment = Deployment {
        rules: admitted(&[seed_rule(USER1)]),
        configs: vec![config],
    };
    let stack = Stack::start("token-url", &deployment);
    stack.wait_for("a token request at user2's listener", || {
        stack
            .requests()
            .iter()
            .any(|r| r.starts_with("POST /el-ct-listener.user2-toolings.svc.cluster.local"))
    });
    eprintln!("the listener saw: {:?}", stack.requests());
}

// ---------------------------------------------------------------------------------------
// Issue 16: proof on the real daemons. Each bypass half deploys an object as written,
// without the policy, and shows what Alertmanager or Prometheus does with it; each policy
// half shows the policy refuses it or admits it in a form that does no harm.

/// user1's drift, the expression of the seed rule.
fn drift_expr() -> String {
    format!(r#"trustyai_meanshift{{namespace="{USER1}",subcategory="danceability"}} < 0.05"#)
}

/// A CREATE request for a PrometheusRule `name` in user1's namespace with one group.
fn rule_request(name: &str, group: Value) -> Value {
    create(
        "seed-prometheusrule",
        USER1,
        json!({
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": {"name": name},
            "spec": {"groups": [group]},
        }),
    )
}

/// A CREATE request for an AlertmanagerConfig `name` in user1's namespace.
fn config_request(name: &str, spec: Value) -> Value {
    create(
        "seed-alertmanagerconfig",
        USER1,
        json!({
            "apiVersion": "monitoring.coreos.com/v1beta1",
            "kind": "AlertmanagerConfig",
            "metadata": {"name": name},
            "spec": spec,
        }),
    )
}

/// The object of a request, deployed as written: the policy is bypassed.
fn bypassed(request: &Value) -> Value {
    request["object"].clone()
}

/// The seed AlertmanagerConfig of user1 as the chart renders it (the placeholders
/// filled, user1's own listener), deployed without the policy: no `sendResolved`, no
/// `repeatInterval`, no `httpConfig`.
fn rendered_seed_config() -> Value {
    let mut object = seed_alertmanager_config(USER1)["object"].clone();
    object["spec"]["receivers"][0]["webhookConfigs"][0]["url"] = json!(LISTENER);
    object
}

/// The alert names of each firing notification in `requests` (anything else: `None`).
fn firing_alertnames(requests: &[Recorded]) -> Vec<Option<Vec<String>>> {
    requests
        .iter()
        .map(|r| {
            Notification::parse(r)
                .filter(|n| n.status == "firing")
                .map(|n| n.alertnames())
        })
        .collect()
}

/// The template the issue reports: it reads user2's series from user1's rule.
const QUERY_TEMPLATE: &str = r#"{{ with query "secret_metric{namespace=\"user2-test\"}" }}{{ range . }}{{ .Labels.token }}={{ .Value }}{{ end }}{{ end }}"#;
const SECRET_SERIES: &str = "# TYPE secret_metric gauge\n\
     secret_metric{namespace=\"user2-test\",token=\"user2-s3cr3t\"} 42\n";

/// user1's rule whose annotation runs `query` over user2's namespace.
fn leaky_rule() -> Value {
    rule_request(
        "leaky",
        json!({"name": "leaky.rules", "rules": [{
            "alert": "leak-user2-token",
            "expr": drift_expr(),
            "for": "1s",
            "annotations": {"summary": QUERY_TEMPLATE},
        }]}),
    )
}

/// (a), bypass: the expression is scoped to user1, yet the annotation template reads any
/// namespace's series at evaluation time and ships the result to user1's listener.
#[test]
fn without_the_policy_a_query_template_leaks_user2s_series_to_user1() {
    let deployment = Deployment {
        rules: vec![bypassed(&leaky_rule())],
        configs: admitted(&[seed_alertmanager_config(USER1)]),
    };
    let stack = Stack::start_with("query-leak", &deployment, Stub::new(), SECRET_SERIES);
    stack.wait_for(
        "user2's secret in an annotation at user1's listener",
        || {
            stack.notified("user1", "firing").iter().any(|n| {
                n.alerts.iter().any(|a| {
                    a["labels"]["alertname"] == "leak-user2-token"
                        && a["annotations"]["summary"]
                            .as_str()
                            .is_some_and(|s| s.contains("user2-s3cr3t=42"))
                })
            })
        },
    );
    let leaked: Vec<Value> = stack
        .notified("user1", "firing")
        .iter()
        .flat_map(|n| n.alerts.iter().map(|a| a["annotations"].clone()))
        .collect();
    eprintln!("user1's listener received the annotations {leaked:?}");
}

/// (a), policy: `query` is refused in annotations, rule labels and group labels; a
/// template over the alert's own labels and value is admitted and renders intact.
#[test]
fn the_policy_refuses_query_templates_and_keeps_harmless_ones() {
    let harmless = rule_request(
        "harmless",
        json!({"name": "harmless.rules", "rules": [{
            "alert": "harmless-template",
            "expr": drift_expr(),
            "for": "1s",
            "annotations": {"summary": "{{ $labels.namespace }} p={{ $value }}"},
        }]}),
    );
    let deployment = Deployment {
        rules: admitted(&[harmless]),
        configs: admitted(&[seed_alertmanager_config(USER1)]),
    };
    let stack = Stack::start("harmless-template", &deployment);
    stack.wait_for("the harmless alert at user1's listener", || {
        stack.notified("user1", "firing").iter().any(|n| {
            n.alerts
                .iter()
                .any(|a| a["labels"]["alertname"] == "harmless-template")
        })
    });
    let alert = stack
        .notified("user1", "firing")
        .iter()
        .flat_map(|n| n.alerts.clone())
        .find(|a| a["labels"]["alertname"] == "harmless-template")
        .unwrap();
    assert_eq!(
        alert["annotations"]["summary"],
        format!("{USER1} p=0.01"),
        "{alert}"
    );
    drop(stack);

    // NEW POLICY BEHAVIOUR (issue 16, 2): `query` in a template is refused.
    let response = validate(&leaky_rule(), &settings());
    for expected in ["leaky.rules", "leak-user2-token", "query"] {
        assert_rejected(&response, expected);
    }
    eprintln!("the leaky rule: {}", message(&response));
    let in_labels = rule_request(
        "leaky-labels",
        json!({"name": "leaky.rules", "rules": [{
            "alert": "leak-in-label", "expr": drift_expr(),
            "labels": {"stolen": QUERY_TEMPLATE},
        }]}),
    );
    let in_group_labels = rule_request(
        "leaky-group-labels",
        json!({"name": "leaky-group.rules", "labels": {"stolen": QUERY_TEMPLATE}, "rules": [{
            "alert": "leak-in-group-label", "expr": drift_expr(),
        }]}),
    );
    assert_rejected(&validate(&in_labels, &settings()), "query");
    assert_rejected(&validate(&in_labels, &settings()), "leak-in-label");
    // Group labels are refused whole (Prometheus 2.42 does not load them).
    assert_rejected(
        &validate(&in_group_labels, &settings()),
        "spec.groups[0].labels: group field `labels` came with Prometheus 3.0",
    );
}

/// A listener for `user1` that answers every notification with a redirect to `target`,
/// and 200 to anything else.
fn redirecting_listener(target: String) -> Stub {
    let user1 = format!("/{}/", listener_host("user1"));
    Stub::answering(move |r| {
        if r.path == user1 {
            Reply::redirect(target.clone())
        } else {
            Reply::ok("")
        }
    })
}

/// (b), bypass: user1's listener answers `307` to another address (standing for
/// user2's listener); Alertmanager follows it by default, and POSTs the notification
/// there, body and all.
#[test]
fn without_the_policy_alertmanager_follows_the_listeners_redirect() {
    let user2 = Stub::new();
    let deployment = Deployment {
        rules: admitted(&[seed_rule(USER1)]),
        configs: vec![rendered_seed_config()],
    };
    let stack = Stack::start_with(
        "redirect-followed",
        &deployment,
        redirecting_listener(user2.url()),
        "",
    );
    stack.wait_for("the redirected notification at the second listener", || {
        user2.requests().iter().any(|r| {
            r.method == "POST"
                && firing_alertnames(std::slice::from_ref(r))[0]
                    .as_ref()
                    .is_some_and(|n| n.iter().any(|a| a == "jukebox-datadrift-alert"))
        })
    });
    let (sent, redirected) = (stack.requests_to("user1"), user2.requests());
    assert_eq!(
        sent[0].body, redirected[0].body,
        "the second listener did not receive the body sent to user1's"
    );
    eprintln!(
        "user1's listener: {} request(s), answered 307; the second listener: {} request(s), body {}",
        sent.len(),
        redirected.len(),
        redirected[0].body_text()
    );
}

/// (b), policy: every webhook leaves admission with `followRedirects: false` (with a
/// warning when it was missing; `true` is refused), which the operator turns into
/// `follow_redirects: false`: the same redirect then reaches nobody.
#[test]
fn the_policy_keeps_alertmanager_from_following_a_redirect() {
    // NEW POLICY BEHAVIOUR (issue 16, 1).
    let request = seed_alertmanager_config(USER1);
    let response = validate(&request, &settings());
    assert!(response.allowed, "{:?}", response.status);
    let config = response
        .mutated_object
        .clone()
        .unwrap_or_else(|| request["object"].clone());
    assert_eq!(
        config["spec"]["receivers"][0]["webhookConfigs"][0]["httpConfig"]["followRedirects"], false,
        "the admitted webhook does not say followRedirects: false: {config}"
    );
    assert!(
        response
            .warnings
            .iter()
            .any(|w| w.contains("followRedirects")),
        "no warning names followRedirects: {:?}",
        response.warnings
    );
    let mut follows = request.clone();
    follows["object"]["spec"]["receivers"][0]["webhookConfigs"][0]["httpConfig"] =
        json!({"followRedirects": true});
    assert_rejected(&validate(&follows, &settings()), "followRedirects");

    let user2 = Stub::new();
    let deployment = Deployment {
        rules: admitted(&[seed_rule(USER1)]),
        configs: vec![config],
    };
    let stack = Stack::start_with(
        "redirect-refused",
        &deployment,
        redirecting_listener(user2.url()),
        "",
    );
    // A 307 fails the notification, so Alertmanager tries again a group interval later:
    // by the second attempt, a redirect followed from the first would have arrived.
    stack.wait_for("two notifications at user1's listener", || {
        stack.requests_to("user1").len() >= 2
    });
    assert!(
        user2.requests().is_empty(),
        "the redirect was followed: {:?}",
        user2.requests()
    );
    let firing = firing_alertnames(&stack.requests_to("user1"));
    assert!(
        firing.iter().all(|n| n
            .as_ref()
            .is_some_and(|n| n == &["jukebox-datadrift-alert"])),
        "{firing:?}"
    );
}

const FAN_OUT_ROUTES: usize = 40;
const FAN_OUT_WEBHOOKS: usize = 25;

/// `routes` sibling routes, `continue: true`, each matching every alert (matchers on a
/// label no alert has: `!=` a value, or `=~` a regex matching ""), to a receiver with `webhooks`
/// webhooks, all to user1's listener.
fn fan_out_config(routes: usize, webhooks: usize) -> Value {
    let children: Vec<Value> = (0..routes)
        .map(|i| {
            // Each route's matchers differ: Alertmanager keys its notification log by
            // the route's matchers, so identical siblings may deduplicate one another.
            let matcher = if i % 2 == 0 {
                json!({"name": "not_a_label", "value": format!("x{i}"), "matchType": "!="})
            } else {
                json!({"name": "not_a_label", "value": format!("(x{i})?"), "matchType": "=~"})
            };
            json!({"receiver": "fanout", "matchers": [matcher], "continue": true})
        })
        .collect();
    let mut route = json!({"receiver": "fanout"});
    if !children.is_empty() {
        route["routes"] = json!(children);
    }
    config_request(
        "fan-out",
        json!({
            "route": route,
            "receivers": [{"name": "fanout",
                "webhookConfigs": vec![json!({"url": LISTENER}); webhooks]}],
        }),
    )
}

/// A catch-all child route that flushes and repeats every 10ms.
fn nested_interval_config() -> Value {
    config_request(
        "nested-interval",
        json!({
            "route": {"receiver": "default", "routes": [
                {"receiver": "default", "groupInterval": "10ms", "repeatInterval": "10ms"},
            ]},
            "receivers": [{"name": "default", "webhookConfigs": [{"url": LISTENER}]}],
        }),
    )
}

/// (c), policy: one alert may reach the tenant's listener once per flush: several
/// webhooks to it in a receiver, or sibling `continue: true` routes that both reach it,
/// are refused; so are intervals under 1m (group) and 1h (repeat) at any route depth.
#[test]
fn the_policy_refuses_fan_out_and_short_nested_intervals() {
    // NEW POLICY BEHAVIOUR (issue 16, 3 and 4).
    let both = validate(
        &fan_out_config(FAN_OUT_ROUTES, FAN_OUT_WEBHOOKS),
        &settings(),
    );
    assert_rejected(
        &both,
        "receiver \"fanout\" (spec.receivers[0].webhookConfigs)",
    );
    let webhooks = validate(&fan_out_config(0, 2), &settings());
    assert_rejected(
        &webhooks,
        "receiver \"fanout\" (spec.receivers[0].webhookConfigs): sends to this tenant's EventListener 2 times",
    );
    let routes = validate(&fan_out_config(FAN_OUT_ROUTES, 1), &settings());
    assert_rejected(
        &routes,
        &format!("one alert can reach this tenant's EventListener {FAN_OUT_ROUTES} times"),
    );
    assert_rejected(&routes, "continue: true");
    let intervals = validate(&nested_interval_config(), &settings());
    assert_rejected(
        &intervals,
        "spec.route.routes[0].groupInterval: \"10ms\" is shorter than the minimum \"1m\"",
    );
    assert_rejected(
        &intervals,
        "spec.route.routes[0].repeatInterval: \"10ms\" is shorter than the minimum \"1h\"",
    );
    for (what, response) in [
        ("40 routes x 25 webhooks", &both),
        ("2 webhooks", &webhooks),
        ("40 continue routes", &routes),
        ("nested 10ms intervals", &intervals),
    ] {
        let m = message(response);
        eprintln!("{what}: {}", &m[..m.floor_char_boundary(400)]);
    }
}

/// (c), bypass: 40 sibling routes × 25 webhooks turn one drift alert into ~1000 POSTs
/// to user1's listener (each a retraining run).
#[test]
fn without_the_policy_one_drift_alert_fans_out_to_many_requests() {
    let deployment = Deployment {
        rules: admitted(&[seed_rule(USER1)]),
        configs: vec![bypassed(&fan_out_config(FAN_OUT_ROUTES, FAN_OUT_WEBHOOKS))],
    };
    let mut stack = Stack::start("fan-out", &deployment);
    stack.wait_for("100 requests at user1's listener", || {
        stack.listener.count() >= 100
    });
    let started = stack.listener.requests()[0].at;
    stack.wait_quiet(&stack.listener, Instant::now());
    stack.stop_daemons();
    let requests = stack.listener.requests();
    let took = requests.last().unwrap().at - started;
    let firing = firing_alertnames(&requests);
    assert!(
        firing.iter().all(|n| n
            .as_ref()
            .is_some_and(|n| n == &["jukebox-datadrift-alert"])),
        "not all were the one drift alert: {:?}",
        firing.iter().filter(|n| n.is_none()).count()
    );
    assert!(
        requests
            .iter()
            .all(|r| r.method == "POST" && r.path == format!("/{}/", listener_host("user1"))),
        "{:?}",
        stack.requests()
    );
    assert!(requests.len() >= 100, "{}", requests.len());
    eprintln!(
        "one drift alert, {FAN_OUT_ROUTES} routes x {FAN_OUT_WEBHOOKS} webhooks: {} POSTs to user1's listener in {took:?}",
        requests.len()
    );
}

/// (c), bypass: a catch-all child route with `groupInterval`/`repeatInterval` of 10ms
/// resends the same drift alert as fast as Alertmanager can flush.
#[test]
fn without_the_policy_a_nested_10ms_interval_repeats_the_alert() {
    const REPEATS: usize = 10;
    const WITHIN: Duration = Duration::from_secs(3);
    let deployment = Deployment {
        rules: admitted(&[seed_rule(USER1)]),
        configs: vec![bypassed(&nested_interval_config())],
    };
    let mut stack = Stack::start("nested-interval", &deployment);
    stack.wait_for("the first notification", || stack.listener.count() >= 1);
    let first = stack.listener.requests()[0].at;
    let repeated = poll(WITHIN, || {
        stack.listener.count() > REPEATS || first.elapsed() > WITHIN
    }) && stack.listener.count() > REPEATS;
    let (count, elapsed) = (stack.listener.count(), first.elapsed());
    stack.stop_daemons();
    assert!(
        repeated,
        "{} request(s) in {elapsed:?} after the first; expected more than {REPEATS} within {WITHIN:?}",
        count
    );
    let requests = stack.listener.requests();
    let firing = firing_alertnames(&requests);
    assert!(
        firing.iter().all(|n| n
            .as_ref()
            .is_some_and(|n| n == &["jukebox-datadrift-alert"])),
        "{firing:?}"
    );
    eprintln!(
        "one drift alert, nested 10ms intervals: {} POSTs to user1's listener within {:?} of the first (counted at {elapsed:?}; {} once stopped)",
        count,
        requests.last().unwrap().at - first,
        requests.len()
    );
}

/// (d): the chapter's own objects, as admitted, deliver one drift notification to user1's
/// listener and nothing else to anyone.
#[test]
fn the_admitted_seed_objects_deliver_exactly_one_notification() {
    let deployment = Deployment {
        rules: admitted(&[seed_rule(USER1), seed_rule(USER2)]),
        configs: configs(),
    };
    let stack = Stack::start("seed", &deployment);
    stack.wait_for("user1's drift notification", || {
        !stack.notified("user1", "firing").is_empty()
    });
    stack.wait_quiet(&stack.listener, Instant::now());
    let requests = stack.listener.requests();
    assert_eq!(
        requests.len(),
        1,
        "expected one request in all: {:?}",
        stack.requests()
    );
    let only = &requests[0];
    assert_eq!(only.method, "POST");
    assert_eq!(only.path, format!("/{}/", listener_host("user1")));
    let notification = Notification::parse(only).unwrap();
    assert_eq!(notification.status, "firing");
    assert_eq!(notification.alertnames(), ["jukebox-datadrift-alert"]);
    assert_eq!(notification.alerts[0]["labels"]["namespace"], USER1);
    assert!(stack.requests_to("user2").is_empty());
}
