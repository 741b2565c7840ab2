//! One stream of 1,000 seed-sized objects (the workshop's PrometheusRule and
//! AlertmanagerConfig, alternating, each in its own tenant namespace) checked in one
//! process: objects per second. Then, when kwctl (`KWCTL`, else `kwctl` on PATH) and the
//! module (`POLICY_WASM`) are there, the per-object workaround it replaces, one
//! `kwctl run` per object, timed on the same module, and the ratio.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use tenant_alerting_policy_cli::check::{self, Config};
use tenant_alerting_policy_cli::cluster::OfflineCluster;

const OBJECTS: usize = 1000;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn stream() -> String {
    let seed = |f: &str| {
        std::fs::read_to_string(root().join("examples/gitops/seed").join(f)).unwrap_or_default()
    };
    let (rule, amc) = (seed("prometheusrule.yaml"), seed("alertmanagerconfig.yaml"));
    let mut out = String::new();
    for i in 0..OBJECTS {
        let doc = if i % 2 == 0 { &rule } else { &amc };
        out.push_str("---\n");
        out.push_str(&doc.replace("user1-test", &format!("user{i}-test")));
    }
    out
}

fn main() {
    let settings_value = json!({"clusterDomain": "apps.cluster-abc.example.com"});
    let config = Config {
        settings: check::parse_settings(&settings_value).expect("settings"),
        settings_value: settings_value.clone(),
        namespace: None,
        scope: None,
        fix: false,
    };
    let text = stream();
    let cluster = OfflineCluster::default();
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let result = check::check_text("bench.yaml", &text, &config, &cluster);
        let took = start.elapsed();
        assert_eq!(result.records.len(), OBJECTS);
        best = best.min(took);
    }
    let per_second = OBJECTS as f64 / best.as_secs_f64();
    println!(
        "check: {OBJECTS} seed-sized objects in one process: {:.1} ms, {per_second:.0} objects/s (best of 5)",
        best.as_secs_f64() * 1e3
    );

    let kwctl = std::env::var("KWCTL").unwrap_or_else(|_| "kwctl".into());
    let Ok(wasm) = std::env::var("POLICY_WASM") else {
        println!("kwctl comparison skipped: POLICY_WASM is not set");
        return;
    };
    let dir = std::env::temp_dir().join(format!("tap-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let object = tenant_alerting_policy_cli::yaml::parse_stream(&text)[0]
        .as_ref()
        .ok()
        .and_then(|d| d.root.as_ref())
        .map(|r| r.value())
        .unwrap_or_default();
    let request = check::admission_request(
        &object,
        "user0-test",
        "monitoring.coreos.com",
        "v1",
        "prometheusrules",
    );
    let request_path = dir.join("request.json");
    let settings_path = dir.join("settings.json");
    let _ = std::fs::write(&request_path, request.to_string());
    let _ = std::fs::write(&settings_path, settings_value.to_string());
    let mut runs = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let status = Command::new(&kwctl)
            .args(["run", &format!("file://{wasm}"), "--settings-path"])
            .arg(&settings_path)
            .arg("--request-path")
            .arg(&request_path)
            .output();
        match status {
            Ok(out) if out.status.success() => runs.push(start.elapsed()),
            Ok(out) => {
                println!(
                    "kwctl comparison skipped: kwctl run failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                        .lines()
                        .last()
                        .unwrap_or_default()
                );
                return;
            }
            Err(e) => {
                println!("kwctl comparison skipped: cannot run {kwctl}: {e}");
                return;
            }
        }
    }
    runs.sort();
    let per_object = runs[runs.len() / 2].as_secs_f64();
    println!(
        "kwctl run, one per object: {:.2} s per object (median of 3): {:.1} objects/s; check is {:.0}x faster",
        per_object,
        1.0 / per_object,
        per_second * per_object
    );
    let _ = std::fs::remove_dir_all(&dir);
}
