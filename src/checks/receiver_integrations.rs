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
/// `allowedReceiverIntegrations` names it. The suffix is matched in any case and
/// `webhookConfigs` exactly: Go's JSON decoder matches field names case-insensitively,
/// so `webhookconfigs` could reach Alertmanager as webhooks this policy never reviewed.
pub fn review(
    receiver: &Map<String, Value>,
    who: &str,
    at: &str,
    settings: &Settings,
    findings: &mut Findings,
) {
    for key in receiver.keys() {
        if key.to_ascii_lowercase().ends_with("configs")
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused_keys(receiver: Value, allowed: &[&str]) -> Vec<String> {
        let settings = Settings {
            allowed_receiver_integrations: allowed.iter().map(|s| s.to_string()).collect(),
            ..Settings::default()
        };
        let mut findings = Findings::default();
        review(
            receiver.as_object().unwrap(),
            "receiver \"r\"",
            "spec.receivers[0]",
            &settings,
            &mut findings,
        );
        findings
            .problem_texts()
            .iter()
            .map(|p| p.split(['(', ')']).nth(1).unwrap_or_default().to_owned())
            .collect()
    }

    #[test]
    fn only_webhook_configs_spelled_exactly_pass() {
        let receiver = json!({
            "name": "r",
            "webhookConfigs": [],
            "webhookconfigs": [],
            "WebhookConfigs": [],
            "webhookSlackConfigs": [],
            "EMAILCONFIGS": [],
            "slackConfigs": [],
            "configsOfNothing": [],
        });
        assert_eq!(
            refused_keys(receiver.clone(), &[]),
            [
                "spec.receivers[0].webhookconfigs",
                "spec.receivers[0].WebhookConfigs",
                "spec.receivers[0].webhookSlackConfigs",
                "spec.receivers[0].EMAILCONFIGS",
                "spec.receivers[0].slackConfigs",
            ]
        );
        // The admin's list is matched exactly.
        assert_eq!(
            refused_keys(receiver, &["slackConfigs", "emailConfigs"]),
            [
                "spec.receivers[0].webhookconfigs",
                "spec.receivers[0].WebhookConfigs",
                "spec.receivers[0].webhookSlackConfigs",
                "spec.receivers[0].EMAILCONFIGS",
            ]
        );
    }
}
