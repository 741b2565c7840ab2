//! What a rule emits stays in its namespace, shown on the software that routes alerts:
//! the real `prometheus` and `alertmanager` daemons (Debian's packages), on 127.0.0.1.
//!
//! Two tenants, user1 (drifting) and user2 (healthy), each deploy the workshop's
//! PrometheusRule and AlertmanagerConfig; user1 adds hostile rules that relabel, drop or
//! rewrite the namespace of what they emit. Every object goes through the `.wasm`; only
//! what it accepts, as mutated, is deployed, converted the way the Prometheus Operator
//! does (`common::operator`). A local exporter serves the TrustyAI series and a local
//! listener stands in for every tenant's EventListener, recording which URL each
//! notification was for. Time is compressed: scrape and evaluation every second, `for`
//! of 2s (the objects are written that way and the policy's `minFor` lowered), group
//! wait and interval of 1s. Each daemon is killed when its scenario ends.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::operator::{operator_config, rule_file};
use common::*;
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
    json!({"clusterDomain": DOMAIN, "minFor": "1s", "defaultFor": "2s"})
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

/// The seed PrometheusRule of `namespace`, with `for` compressed to 2s.
fn seed_rule(namespace: &str) -> Value {
    let mut object = request("seed-prometheusrule")["object"].clone();
    let rule = &mut object["spec"]["groups"][0]["rules"][0];
    rule["for"] = json!("2s");
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
            alert("namespace-from-value", format!(r#"count_values("namespace", {drifting})"#)),
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
            "templates the alert's value",
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

/// Serves HTTP on 127.0.0.1 from a thread: `answer(method, path, body)` gives the reply
/// body. Connections are handled one at a time and closed after each reply.
fn serve(answer: impl Fn(&str, &str, &[u8]) -> String + Send + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = handle(stream, &answer);
        }
    });
    port
}

fn handle(stream: TcpStream, answer: &impl Fn(&str, &str, &[u8]) -> String) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let reply = answer(&method, &path, &body);
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
        reply.len()
    )
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

/// One notification as the listener recorded it.
#[derive(Debug, Clone)]
struct Notification {
    /// The EventListener host the webhook URL named.
    listener: String,
    status: String,
    alerts: Vec<Value>,
}

/// What the tenants deploy: the objects as they are stored.
struct Deployment {
    rules: Vec<Value>,
    configs: Vec<Value>,
}

/// A running Prometheus + Alertmanager with the deployment loaded.
struct Stack {
    _daemons: Vec<Daemon>,
    prometheus: u16,
    notifications: Arc<Mutex<Vec<Notification>>>,
    /// Every request the listener received, as `METHOD /host/path` (token requests too).
    requests: Arc<Mutex<Vec<String>>>,
    /// user1's drift p-value, served by the exporter.
    user1_value: Arc<Mutex<f64>>,
    dir: PathBuf,
}

impl Stack {
    fn start(name: &str, deployment: &Deployment) -> Stack {
        let dir = std::env::temp_dir().join(format!(
            "tenant-alerting-policy-{}-e2e-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();

        let user1_value = Arc::new(Mutex::new(0.01));
        let served = user1_value.clone();
        let exporter = serve(move |_, _, _| {
            format!(
                "# TYPE trustyai_meanshift gauge\n\
                 trustyai_meanshift{{namespace=\"{USER1}\",subcategory=\"danceability\"}} {}\n\
                 trustyai_meanshift{{namespace=\"{USER2}\",subcategory=\"danceability\"}} 0.5\n",
                served.lock().unwrap()
            )
        });
        let notifications = Arc::new(Mutex::new(Vec::new()));
        let recorded = notifications.clone();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let listener = serve(move |method, path, body| {
            seen.lock().unwrap().push(format!("{method} {path}"));
            if let Ok(payload) = serde_json::from_slice::<Value>(body) {
                recorded.lock().unwrap().push(Notification {
                    listener: path.trim_matches('/').to_owned(),
                    status: payload["status"].as_str().unwrap_or("").to_owned(),
                    alerts: payload["alerts"].as_array().cloned().unwrap_or_default(),
                });
            }
            String::new()
        });

        let (prometheus, alertmanager) = (free_port(), free_port());
        let mut rule_files = Vec::new();
        for (i, rule) in deployment.rules.iter().enumerate() {
            let path = dir.join(format!("rules-{i}.json"));
            std::fs::write(&path, serde_json::to_vec_pretty(&rule_file(rule)).unwrap()).unwrap();
            rule_files.push(path);
        }
        let prometheus_config = json!({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": "trustyai", "honor_labels": true,
                "static_configs": [{"targets": [format!("127.0.0.1:{exporter}")]}]}],
            "rule_files": rule_files,
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [format!("127.0.0.1:{alertmanager}")]}]}]},
        });
        std::fs::write(dir.join("prometheus.json"), prometheus_config.to_string()).unwrap();
        let alertmanager_config = merge_operator_configs(&deployment.configs, listener);
        std::fs::write(
            dir.join("alertmanager.json"),
            alertmanager_config.to_string(),
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
            _daemons: vec![prom, am],
            prometheus,
            notifications,
            requests,
            user1_value,
            dir,
        };
        stack.wait_for("both daemons ready", || {
            http_get(prometheus, "/-/ready").is_some()
                && http_get(alertmanager, "/-/ready").is_some()
        });
        stack
    }

    /// Polls `done` every 250 ms; fails the test, with the daemons' logs, after PATIENCE.
    fn wait_for(&self, what: &str, mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while !done() {
            if start.elapsed() > PATIENCE {
                let logs: String = ["prometheus", "prometheus-alertmanager"]
                    .iter()
                    .map(|d| {
                        let log = std::fs::read_to_string(self.dir.join(format!("{d}.log")))
                            .unwrap_or_default();
                        let tail: String =
                            log.lines().rev().take(15).collect::<Vec<_>>().join("\n");
                        format!("--- {d} (last lines, newest first)\n{tail}\n")
                    })
                    .collect();
                panic!(
                    "waited {PATIENCE:?} for {what}; notifications: {:?}\n{logs}",
                    self.notifications()
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn notifications(&self) -> Vec<Notification> {
        self.notifications.lock().unwrap().clone()
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    fn notified(&self, user: &str, status: &str) -> Vec<Notification> {
        let host = listener_host(user);
        self.notifications()
            .into_iter()
            .filter(|n| n.listener == host && n.status == status)
            .collect()
    }

    /// The labels of every series of Prometheus's `ALERTS` right now.
    fn alerts(&self) -> Vec<Value> {
        http_get(self.prometheus, "/api/v1/query?query=ALERTS")
            .and_then(|body| serde_json::from_str::<Value>(&body).ok())
            .and_then(|v| v["data"]["result"].as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .map(|series| series["metric"].clone())
            .collect()
    }

    fn firing(&self, alertname: &str) -> bool {
        self.alerts()
            .iter()
            .any(|a| a["alertname"] == alertname && a["alertstate"] == "firing")
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
        "route": {"receiver": "null", "group_wait": "1s", "group_interval": "1s",
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

    stack.wait_for("user1's drift notification", || {
        stack.notified("user1", "firing").iter().any(|n| {
            n.alerts
                .iter()
                .any(|a| a["labels"]["alertname"] == "jukebox-datadrift-alert")
        })
    });
    // Every alert user1's rules raise fires, and none leaves user1's namespace.
    stack.wait_for("all of user1's alerts firing", || {
        [
            "jukebox-datadrift-alert",
            "relabelled-to-user2",
            "namespace-dropped",
            "namespace-from-value",
        ]
        .iter()
        .all(|a| stack.firing(a))
    });
    let alerts = stack.alerts();
    for alert in &alerts {
        assert_eq!(
            alert["namespace"], USER1,
            "an alert left user1's namespace: {alert}"
        );
    }
    // Two group intervals after the last alert fired: Alertmanager has routed them all.
    std::thread::sleep(Duration::from_secs(3));
    let notified: Vec<String> = stack
        .notified("user1", "firing")
        .iter()
        .flat_map(|n| {
            n.alerts
                .iter()
                .map(|a| a["labels"]["alertname"].to_string())
        })
        .collect();
    for name in [
        "relabelled-to-user2",
        "namespace-dropped",
        "namespace-from-value",
    ] {
        assert!(
            notified.iter().any(|n| n.contains(name)),
            "{name} did not reach user1's own listener: {notified:?}"
        );
    }
    assert!(
        stack
            .notifications()
            .iter()
            .all(|n| n.listener == listener_host("user1")),
        "a notification reached another listener: {:?}",
        stack.notifications()
    );

    // The drift clears: the alerts resolve, and no `resolved` notification starts a
    // second retraining run (sendResolved: false).
    *stack.user1_value.lock().unwrap() = 0.5;
    stack.wait_for("user1's alerts to resolve", || stack.alerts().is_empty());
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        stack.notified("user1", "resolved").is_empty(),
        "{:?}",
        stack.notifications()
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
        .for_each(|rule| rule["for"] = json!("2s"));
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
