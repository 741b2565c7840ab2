//! The native build (what unit tests exercise) and the .wasm (what ships) must agree on
//! every fixture: same verdict, message, warnings and mutated object.

use crate::common::*;
use serde_json::{json, Value};

#[test]
fn native_and_wasm_agree_on_every_fixture() {
    let dir = repo_root().join("tests/fixtures/requests");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let request = read_json(&path);
        let mut overwrite = workshop_settings();
        overwrite["onConflict"] = json!("overwrite");
        overwrite["onForeignListener"] = json!("reject");
        for settings in [workshop_settings(), overwrite] {
            let payload =
                serde_json::to_vec(&json!({"request": request, "settings": settings})).unwrap();
            let native: Value =
                serde_json::from_slice(&tenant_alerting_policy::validate(&payload).unwrap())
                    .unwrap();
            let wasm: Value =
                serde_json::from_slice(&instance().call("validate", &payload).unwrap()).unwrap();
            assert_eq!(native, wasm, "{}", path.display());
        }
    }
}

/// Generated objects too (issue 18: the check tool links the policy natively, so its
/// answers are the .wasm's only if the two agree beyond the fixtures): PrometheusRules
/// over generated PromQL, alert and record, and AlertmanagerConfigs whose URLs, intervals
/// and routes vary, each under both settings variants.
#[test]
fn native_and_wasm_agree_on_generated_objects() {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let exprs = crate::common::promql_gen::vector_expr()
        .prop_map(|text| text.replace(crate::common::promql_gen::GAP, " "));
    let mut overwrite = workshop_settings();
    overwrite["onConflict"] = json!("overwrite");
    overwrite["onForeignListener"] = json!("reject");
    let agree = |request: &Value, label: &str| {
        for settings in [workshop_settings(), overwrite.clone()] {
            let payload =
                serde_json::to_vec(&json!({"request": request, "settings": settings})).unwrap();
            let native: Value =
                serde_json::from_slice(&tenant_alerting_policy::validate(&payload).unwrap())
                    .unwrap();
            let wasm: Value =
                serde_json::from_slice(&instance().call("validate", &payload).unwrap()).unwrap();
            assert_eq!(native, wasm, "{label}: {request}");
        }
    };
    for i in 0..150 {
        let expr = exprs.new_tree(&mut runner).unwrap().current();
        let mut request = request("seed-prometheusrule");
        let rule = if i % 2 == 0 {
            json!({"alert": "a", "expr": expr})
        } else {
            json!({"record": "r", "expr": expr})
        };
        request["object"]["spec"]["groups"][0]["rules"] = json!([rule]);
        agree(&request, &format!("rule {i}"));
    }
    let urls = [
        json!(LISTENER),
        json!("https://el-ct-listener-user2-toolings.apps.cluster-abc.example.com/"),
        json!("https:el-ct-listener-user1-toolings.apps.cluster-abc.example.com/"),
        json!("http://169.254.169.254/"),
        Value::Null,
    ];
    for (i, url) in urls.iter().enumerate() {
        for interval in ["0", "10ms", "1h"] {
            for continues in [false, true] {
                let mut request = request("alertmanagerconfig-v1beta1-correct");
                let spec = &mut request["object"]["spec"];
                spec["receivers"][0]["webhookConfigs"][0]["url"] = url.clone();
                spec["route"]["routes"] = json!([
                    {"receiver": "default", "continue": continues, "repeatInterval": interval},
                    {"receiver": "default"},
                ]);
                agree(&request, &format!("config {i} {interval} {continues}"));
            }
        }
    }
}
