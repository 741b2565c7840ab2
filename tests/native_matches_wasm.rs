//! The native build (what unit tests exercise) and the .wasm (what ships) must agree on
//! every fixture: same verdict, message, warnings and mutated object.

mod common;

use common::*;
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
