//! `receiver/integrations`: receivers send only to webhooks.

use serde_json::{Map, Value};

use super::{Check, Findings, Location};
use crate::settings::Settings;

pub const CHECK: Check = Check {
    id: "receiver/integrations",
    refuses: "receiver integrations other than `webhookConfigs` (email, Slack, PagerDuty, …) unless `allowedReceiverIntegrations` lists them",
    why: "their destinations are not checked by this policy: an alert could leave the tenant",
};

/// Every `*Configs` list of the receiver other than `webhookConfigs` is refused unless
/// `allowedReceiverIntegrations` names it.
pub fn review(
    receiver: &Map<String, Value>,
    who: &str,
    at: &str,
    settings: &Settings,
    findings: &mut Findings,
) {
    for key in receiver.keys() {
        if key.ends_with("Configs")
            && key != "webhookConfigs"
            && !settings.allowed_receiver_integrations.contains(key)
        {
            findings.reject(
                &CHECK,
                Location::named(who, format!("{at}.{key}")),
                format!("only webhookConfigs to this tenant's EventListener are allowed; {key} sends alerts to destinations this policy cannot check"),
            );
        }
    }
}
