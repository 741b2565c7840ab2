//! `receiver/integrations`: receivers send only to webhooks.

use super::Check;

pub const CHECK: Check = Check {
    id: "receiver/integrations",
    refuses: "receiver integrations other than `webhookConfigs` (email, Slack, PagerDuty, …) unless `allowedReceiverIntegrations` lists them",
    why: "their destinations are not checked by this policy: an alert could leave the tenant",
};
