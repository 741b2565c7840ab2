//! `webhook/send-resolved`: a resolved alert starts no run.

use serde_json::{Map, Value};

use super::location::WebhookAt;
use super::object_shape::{boolean, Typed};
use super::{Check, Findings};
use crate::settings::Settings;

pub const CHECK: Check = Check {
    id: "webhook/send-resolved",
    refuses: "`sendResolved` that is not a boolean; sets it to the `sendResolved` setting (false) when unset",
    why: "Alertmanager sends resolved notifications by default: a cleared drift would start a second retraining run",
};

/// `sendResolved` is a boolean, and set to the `sendResolved` setting when unset.
pub fn set_send_resolved(
    webhook: &mut Map<String, Value>,
    at: &WebhookAt,
    settings: &Settings,
    findings: &mut Findings,
) {
    let current = boolean(
        webhook,
        "sendResolved",
        || at.field("sendResolved"),
        findings,
    );
    if let (Typed::Absent, Some(value)) = (current, settings.send_resolved) {
        findings.change(
            &CHECK,
            format!("{}.sendResolved", at.path),
            format!("set to {value} (a resolved drift should not start a second retraining run)"),
        );
        webhook.insert("sendResolved".to_owned(), Value::Bool(value));
    }
}
