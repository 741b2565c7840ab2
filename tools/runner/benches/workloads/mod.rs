//! Requests both benchmarks send.
// Each benchmark compiles this module and uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// The repository's fixtures both benchmarks start from.
pub struct Fixtures {
    pub root: PathBuf,
    /// `tests/fixtures/settings/workshop.json`.
    pub settings: Value,
    pub seed_rule: Value,
    pub seed_config: Value,
}

impl Fixtures {
    pub fn load() -> Fixtures {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        Fixtures {
            settings: read(&root.join("tests/fixtures/settings/workshop.json")),
            seed_rule: request(&root, "seed-prometheusrule"),
            seed_config: request(&root, "seed-alertmanagerconfig"),
            root,
        }
    }

    /// `tests/fixtures/requests/<name>.json`.
    pub fn request(&self, name: &str) -> Value {
        request(&self.root, name)
    }
}

fn request(root: &Path, name: &str) -> Value {
    read(&root.join(format!("tests/fixtures/requests/{name}.json")))
}

pub fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

/// A PrometheusRule with `n` realistic rules: aggregations, rate, binary operators; half
/// of them hold a regex matcher (`code=~"5.."`).
pub fn many_rules(seed: &Value, n: usize) -> Value {
    let mut request = seed.clone();
    let rules: Vec<Value> = (0..n)
        .map(|i| match i % 4 {
            0 => json!({"record": format!("job:http_requests:rate5m_{i}"),
                        "expr": format!(r#"sum by (job, code) (rate(http_requests_total{{code=~"5..",handler="/api/{i}"}}[5m]))"#)}),
            1 => json!({"alert": format!("HighErrorRatio{i}"), "for": "10m", "labels": {"severity": "warning"},
                        "expr": format!(r#"sum(rate(http_requests_total{{code=~"5..",svc="s{i}"}}[5m])) / sum(rate(http_requests_total{{svc="s{i}"}}[5m])) > 0.05"#)}),
            2 => json!({"alert": format!("Drift{i}"), "for": "10m", "labels": {"severity": "critical"},
                        "expr": format!(r#"min_over_time(trustyai_meanshift{{subcategory="f{i}"}}[10m]) < 0.05"#)}),
            _ => json!({"record": format!("instance:latency:p99_{i}"),
                        "expr": format!(r#"histogram_quantile(0.99, sum by (le, instance) (rate(request_duration_seconds_bucket{{route="r{i}"}}[5m])))"#)}),
        })
        .collect();
    request["object"]["spec"]["groups"] = json!([{"name": "bench.rules", "rules": rules}]);
    request
}
