//! The benchmark floor: the least a Kubewarden Rust policy does on every request
//! (deserialize the ValidationRequest, accept). Built beside the real policy with the same
//! profile so the benchmark's ratios compare policy work, not toolchains.

use kubewarden_policy_sdk::request::ValidationRequest;
use kubewarden_policy_sdk::wapc_guest as guest;
use kubewarden_policy_sdk::wapc_guest::CallResult;
use kubewarden_policy_sdk::{accept_request, protocol_version_guest};

#[no_mangle]
pub extern "C" fn wapc_init() {
    guest::register_function("validate", validate);
    guest::register_function("validate_settings", validate_settings);
    guest::register_function("protocol_version", protocol_version_guest);
}

fn validate(payload: &[u8]) -> CallResult {
    let request = ValidationRequest::<serde_json::Value>::new(payload)?;
    // `{"spin": true}` never answers: the tests' way to show policy-server's timeout
    // firing whatever the machine's speed. The benchmark's settings are `{}`.
    if request
        .settings
        .get("spin")
        .and_then(serde_json::Value::as_bool)
        == Some(true)
    {
        spin();
    }
    accept_request()
}

/// Loops until the host interrupts the instance.
#[allow(clippy::empty_loop)]
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

fn validate_settings(_payload: &[u8]) -> CallResult {
    Ok(br#"{"valid":true}"#.to_vec())
}
