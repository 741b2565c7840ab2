//! Every integration test of the policy crate, in one test binary (`cargo test --test
//! it`): each test binary links wasmtime (through `policy-runner`) on its own, so one
//! binary links it once instead of once per file, and the modules that share
//! `common::policy()` compile the release `.wasm` once.
//!
//! A file here is compiled only if it is declared below (`packaging.rs` checks that each
//! one is). Test names carry the module: `cargo test --test it -- wasm_drift::` runs one
//! file's tests; `make e2e-tests` selects Kubewarden's engine with `--ignored` and the
//! module filters `kwctl:: policy_server:: registry::`.

// The package's [lints] keep the policy from panicking; a test's helpers should fail
// loudly instead.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

mod amtool_oracle;
mod e2e_alert_routing;
mod hostile_input;
mod kwctl;
mod native_matches_wasm;
mod packaging;
mod policy_server;
mod promtool_oracle;
mod proptest_promtool;
mod proptest_routes;
mod proptest_scoping;
mod proptest_text_edit;
mod proptest_wasm;
mod proptest_webhooks;
mod registry;
mod wasm_alertmanagerconfig;
mod wasm_drift;
mod wasm_emitted_labels;
mod wasm_expression_text;
mod wasm_prometheusrule;
mod wasm_template_boundary;
mod wasm_tenancy;
