//! Load through Kubewarden's policy-server: the policy and the floor policy served by the
//! same policy-server in the same run, each request kind sent by a bounded number of
//! concurrent clients on loopback for a fixed time. Prints requests/s, p50/p99 latency,
//! errors, and the ratio to the floor; then `kwctl bench` on the same requests. When
//! `make bench` has built it, the design's floor (tools/parser-floor-policy: the floor
//! plus promql-parser's two parses of each expression) is served beside them, and its
//! p50 ratio is the least the policy's could be while it parses with promql-parser.
//! Run with `make bench` (needs policy-server, and kwctl for the last part, on PATH).

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use policy_runner::policy_server::{admission_review, annotate, http, Server};
use policy_runner::{default_policy_wasm, floor_policy_wasm, parser_floor_policy_wasm};
use serde_json::json;

mod workloads;
use workloads::{many_rules, Fixtures};

/// Concurrent clients; with 2 cores, policy-server's workers are the bottleneck.
const CLIENTS: usize = 4;
/// How long each request kind is sent to each policy.
const DURATION: Duration = Duration::from_secs(4);

fn on_path(name: &str, env: &str) -> Option<PathBuf> {
    std::env::var_os(env).map(PathBuf::from).or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

struct Load {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
}

/// `CLIENTS` threads POST `body` to `path` for `DURATION`.
fn load(port: u16, path: &str, body: &[u8]) -> Load {
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let results: Vec<(Vec<Duration>, usize)> = std::thread::scope(|s| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                s.spawn(|| {
                    let (mut latencies, mut errors) = (Vec::new(), 0);
                    while !stop.load(Ordering::Relaxed) {
                        let t = Instant::now();
                        match http(port, "POST", path, body) {
                            Ok((200, _)) => latencies.push(t.elapsed()),
                            _ => errors += 1,
                        }
                    }
                    (latencies, errors)
                })
            })
            .collect();
        std::thread::sleep(DURATION);
        stop.store(true, Ordering::Relaxed);
        clients.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let elapsed = started.elapsed();
    let mut all: Vec<Duration> = results.iter().flat_map(|(l, _)| l.clone()).collect();
    all.sort();
    let at = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Load {
        per_second: all.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
        errors: results.iter().map(|(_, e)| e).sum(),
    }
}

/// `text` without terminal colour sequences (`ESC [ ... m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let Fixtures {
        root,
        settings,
        seed_rule,
        seed_config,
    } = Fixtures::load();
    let requests = [
        ("seed PrometheusRule", seed_rule.clone()),
        ("seed AlertmanagerConfig", seed_config),
        ("PrometheusRule, 200 rules", many_rules(&seed_rule, 200)),
    ];
    let (Some(binary), Some(kwctl)) = (
        on_path("policy-server", "POLICY_SERVER"),
        on_path("kwctl", "KWCTL"),
    ) else {
        println!("policy-server load: skipped, policy-server and kwctl (which annotates the modules) must be on PATH (or POLICY_SERVER=, KWCTL=)");
        return;
    };
    let dir = std::env::temp_dir().join(format!(
        "tenant-alerting-policy-bench-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    let (policy, floor) = (dir.join("policy.wasm"), dir.join("floor.wasm"));
    annotate(
        &kwctl,
        &default_policy_wasm(),
        &root.join("metadata.yml"),
        None,
        &policy,
    )
    .expect("annotate the policy");
    let floor_metadata = root.join("tools/floor-policy/metadata.yml");
    annotate(&kwctl, &floor_policy_wasm(), &floor_metadata, None, &floor)
        .expect("annotate the floor");
    let mut policies = json!({
        "policy": {"module": format!("file://{}", policy.display()), "settings": settings, "allowedToMutate": true},
        "floor": {"module": format!("file://{}", floor.display()), "settings": {}, "allowedToMutate": false},
    });
    let design = dir.join("design-floor.wasm");
    let with_design = parser_floor_policy_wasm().is_file()
        && annotate(
            &kwctl,
            &parser_floor_policy_wasm(),
            &floor_metadata,
            None,
            &design,
        )
        .is_ok();
    if with_design {
        policies["design"] = json!({"module": format!("file://{}", design.display()), "settings": {}, "allowedToMutate": false});
    } else {
        println!(
            "design floor: skipped, no {} (make bench builds it)",
            parser_floor_policy_wasm().display()
        );
    }
    let server = Server::start(&binary, &dir, &policies, 10).expect("start policy-server");
    println!(
        "policy-server load: {CLIENTS} clients on loopback, {DURATION:?} per request and policy, one server for both\n"
    );
    println!(
        "{:<28} {:>9} {:>9} {:>9} {:>7}   {:>9} {:>9} {:>9}   {:>11} {:>11}",
        "request",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "floor r/s",
        "floor p50",
        "floor p99",
        "p50 ratio",
        "rps ratio"
    );
    let mut design_rows = Vec::new();
    for (name, request) in &requests {
        let body = admission_review(request);
        // Both policies answer it before timing starts.
        for id in ["policy", "floor"] {
            server.review(id, request).expect("answers");
        }
        let ours = load(server.port, "/validate/policy", &body);
        let floor = load(server.port, "/validate/floor", &body);
        if with_design {
            server.review("design", request).expect("answers");
            let design = load(server.port, "/validate/design", &body);
            design_rows.push((*name, design, ms(floor.p50)));
        }
        println!(
            "{:<28} {:>9.0} {:>9.2} {:>9.2} {:>7}   {:>9.0} {:>9.2} {:>9.2}   {:>10.2}x {:>10.2}x",
            name,
            ours.per_second,
            ms(ours.p50),
            ms(ours.p99),
            ours.errors,
            floor.per_second,
            ms(floor.p50),
            ms(floor.p99),
            ms(ours.p50) / ms(floor.p50),
            floor.per_second / ours.per_second,
        );
    }
    if with_design {
        println!("\ndesign floor (floor + promql-parser's two parses of each expression):");
        for (name, design, floor_p50) in design_rows {
            println!(
                "{:<28} {:>9.0} {:>9.2} {:>9.2} {:>7}   p50 {:.2}x the floor's",
                name,
                design.per_second,
                ms(design.p50),
                ms(design.p99),
                design.errors,
                ms(design.p50) / floor_p50,
            );
        }
    }
    drop(server);

    println!("\nkwctl bench (the same requests, kwctl's own evaluator):");
    for (name, request) in &requests {
        let path = dir.join("bench-request.json");
        std::fs::write(&path, serde_json::to_vec(request).unwrap()).unwrap();
        for (label, module, settings) in [
            ("policy", policy.clone(), settings.to_string()),
            ("floor", floor.clone(), "{}".to_owned()),
        ] {
            let out = Command::new(&kwctl)
                .env("RUST_LOG", "error")
                .args([
                    "bench",
                    "--warm-up-time",
                    "1",
                    "--measurement-time",
                    "2",
                    "--num-resamples",
                    "10",
                    "--num-samples",
                    "20",
                ])
                .arg("--settings-json")
                .arg(&settings)
                .arg("--request-path")
                .arg(&path)
                .arg(format!("file://{}", module.display()))
                .output()
                .expect("run kwctl bench");
            // kwctl reports in colour; the last `elapsed` line is `validate`'s.
            let text = strip_ansi(&format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
            let line = text
                .lines()
                .rfind(|l| l.contains("elapsed"))
                .and_then(|l| l.split_once("]:"))
                .map_or("(no timing found)".to_owned(), |(_, figures)| {
                    format!("validate [min mean max] {}", figures.trim())
                });
            println!("  {name:<28} {label:<7} {line}");
        }
    }
}
