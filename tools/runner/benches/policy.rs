//! Benchmark: the policy .wasm against the floor policy (deserialize + accept), in one
//! run, in the waPC host policy-server uses. Prints each figure, its ratio to the floor,
//! and the module sizes. Run with `make bench`.
//!
//! warm:  one instance, repeated `validate` calls.
//! fresh: a new instance per request (instantiation, `wapc_init`, lazy initialisation),
//!        as policy-server pays on each request.
//!
//! Then, warm only, the design's floor (tools/parser-floor-policy: the floor plus
//! promql-parser's parse of each expression and the proof's parse of it): the least the
//! policy's ratio can be while it parses with promql-parser and proves each edit by a
//! parse. (It is not pre-initialised, so its fresh figure would mostly time
//! promql-parser's table building: not shown.)

use std::time::{Duration, Instant};

use policy_runner::{
    default_policy_wasm, floor_policy_wasm, parser_floor_policy_wasm, ClusterFixture, Instance,
    Policy,
};
use serde_json::{json, Value};

mod workloads;
use workloads::{many_rules, read, Fixtures};

const BATCHES: usize = 9;

/// `request` with every regex matcher operator `=~` turned into `=`.
fn without_regex(request: &Value) -> Value {
    serde_json::from_str(&request.to_string().replace("=~", "=")).expect("json")
}

/// Median time per call over `BATCHES` batches of `per_batch` calls.
fn median(per_batch: usize, mut f: impl FnMut()) -> Duration {
    f(); // warm caches and lazy initialisation once
    let mut samples: Vec<Duration> = (0..BATCHES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..per_batch {
                f();
            }
            start.elapsed() / per_batch as u32
        })
        .collect();
    samples.sort();
    samples[BATCHES / 2]
}

fn main() {
    let fixtures = Fixtures::load();
    let (root, settings, seed_rule) = (&fixtures.root, &fixtures.settings, &fixtures.seed_rule);
    let requests = [
        ("seed PrometheusRule", seed_rule.clone()),
        ("seed AlertmanagerConfig", fixtures.seed_config.clone()),
        (
            "AlertmanagerConfig needing no change",
            fixtures.request("alertmanagerconfig-v1beta1-correct"),
        ),
        ("PrometheusRule, 50 rules", many_rules(seed_rule, 50)),
        ("PrometheusRule, 200 rules", many_rules(seed_rule, 200)),
        // The same object with `=` for every `=~`: a rule should cost no more for having
        // a regex matcher (the policy never compiles them).
        (
            "PrometheusRule, 200 rules, no regex",
            without_regex(&many_rules(seed_rule, 200)),
        ),
    ];
    // Tenancy from the cluster: two host calls (Namespace, listener Service) answered by
    // the runner from the case's session file, as policy-server answers from its cache.
    let case = root.join("tests/fixtures/context-aware/requester-owns-user2-prod");
    let context_aware = (
        read(&case.join("request.json")),
        read(&case.join("settings.json")),
        ClusterFixture::from_session(&std::fs::read_to_string(case.join("session.yml")).unwrap())
            .expect("session file"),
    );

    let policy_path = default_policy_wasm();
    let floor_path = floor_policy_wasm();
    let policy = Policy::load(&policy_path).expect("policy .wasm (make policy.wasm)");
    let floor = Policy::load(&floor_path).expect("floor .wasm (make policy.wasm)");
    println!(
        "module sizes: policy {} bytes, floor {} bytes",
        std::fs::metadata(&policy_path)
            .map(|m| m.len())
            .unwrap_or(0),
        std::fs::metadata(&floor_path).map(|m| m.len()).unwrap_or(0)
    );
    println!("median of {BATCHES} batches; ratio = policy / floor on the same request\n");
    println!(
        "{:<38} {:>12} {:>12} {:>7}   {:>12} {:>12} {:>7}",
        "request", "warm policy", "warm floor", "ratio", "fresh policy", "fresh floor", "ratio"
    );

    let parser_floor_path = parser_floor_policy_wasm();
    let parser_floor = Policy::load(&parser_floor_path).ok();
    let mut design_floor = Vec::new();

    let none = ClusterFixture::default();
    let mut runs: Vec<(&str, &Value, &Value, &ClusterFixture)> = requests
        .iter()
        .map(|(name, request)| (*name, request, settings, &none))
        .collect();
    runs.insert(
        2,
        (
            "AlertmanagerConfig, requester + Service",
            &context_aware.0,
            &context_aware.1,
            &context_aware.2,
        ),
    );
    for (name, request, settings, cluster) in runs {
        let payload =
            serde_json::to_vec(&json!({"request": request, "settings": settings})).unwrap();
        let instance = |p: &Policy| -> Instance { p.instance_in(cluster).unwrap() };
        // Sanity: the policy answers this request without failing.
        instance(&policy)
            .call("validate", &payload)
            .expect("policy answers");

        let warm_policy_instance = instance(&policy);
        let warm_floor_instance = instance(&floor);
        let per_batch = if name.contains("200") { 5 } else { 50 };
        let warm_policy = median(per_batch, || {
            warm_policy_instance.call("validate", &payload).unwrap();
        });
        let warm_floor = median(per_batch, || {
            warm_floor_instance.call("validate", &payload).unwrap();
        });
        let fresh_policy = median(per_batch, || {
            instance(&policy).call("validate", &payload).unwrap();
        });
        let fresh_floor = median(per_batch, || {
            instance(&floor).call("validate", &payload).unwrap();
        });
        if let Some(parser_floor) = &parser_floor {
            let instance = instance(parser_floor);
            let warm = median(per_batch, || {
                instance.call("validate", &payload).unwrap();
            });
            design_floor.push((name, warm, warm_floor));
        }
        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
        println!(
            "{:<38} {:>10.1}µs {:>10.1}µs {:>6.2}x   {:>10.1}µs {:>10.1}µs {:>6.2}x",
            name,
            warm_policy.as_secs_f64() * 1e6,
            warm_floor.as_secs_f64() * 1e6,
            ratio(warm_policy, warm_floor),
            fresh_policy.as_secs_f64() * 1e6,
            fresh_floor.as_secs_f64() * 1e6,
            ratio(fresh_policy, fresh_floor),
        );
    }
    match parser_floor {
        None => println!(
            "\ndesign floor: skipped, no {} (make bench builds it)",
            parser_floor_path.display()
        ),
        Some(_) => {
            println!(
                "\ndesign floor (floor + promql-parser's two parses of each expression), warm:"
            );
            for (name, warm, warm_floor) in design_floor {
                println!(
                    "{:<38} {:>10.1}µs {:>10.1}µs {:>6.2}x",
                    name,
                    warm.as_secs_f64() * 1e6,
                    warm_floor.as_secs_f64() * 1e6,
                    warm.as_secs_f64() / warm_floor.as_secs_f64(),
                );
            }
        }
    }
}
