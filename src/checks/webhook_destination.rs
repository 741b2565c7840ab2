//! `webhook/destination`: webhooks reach only the tenant's listener.

use super::Check;

pub const CHECK: Check = Check {
    id: "webhook/destination",
    refuses: "a webhook `url` that is neither the tenant's EventListener nor under `allowedWebhookUrls` (another tenant's listener, an external host, a DNS alias, a URL parsers disagree on), `urlSecret` (unless allowed), an OAuth2 `tokenUrl` that fails the same rules, and a missing `clusterDomain`; rewrites the URL to the tenant's listener when `onForeignListener: rewrite`",
    why: "a webhook elsewhere starts another tenant's retraining pipeline or sends this tenant's alerts out",
};
