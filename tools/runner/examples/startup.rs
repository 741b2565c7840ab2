use policy_runner::*;
use std::time::Instant;
fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let settings: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("tests/fixtures/settings/workshop.json")).unwrap(),
    )
    .unwrap();
    for (label, path) in [
        ("policy", default_policy_wasm()),
        ("floor", floor_policy_wasm()),
    ] {
        let p = Policy::load(&path).unwrap();
        for req in [
            "configmap-other-kind",
            "seed-prometheusrule",
            "seed-alertmanagerconfig",
        ] {
            let r: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(root.join(format!("tests/fixtures/requests/{req}.json")))
                    .unwrap(),
            )
            .unwrap();
            let payload =
                serde_json::to_vec(&serde_json::json!({"request": r, "settings": settings}))
                    .unwrap();
            let n = 300;
            let t = Instant::now();
            for _ in 0..n {
                let _ = p.instance().unwrap();
            }
            let inst = t.elapsed() / n;
            let t = Instant::now();
            for _ in 0..n {
                p.instance().unwrap().call("validate", &payload).unwrap();
            }
            let full = t.elapsed() / n;
            println!(
                "{label:6} {req:26} instantiate+init {inst:>10.1?}  fresh validate {full:>10.1?}"
            );
        }
    }
}
