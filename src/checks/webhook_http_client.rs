//! `webhook/http-client`: alertmanager's http client goes nowhere else.

use super::Check;

pub const CHECK: Check = Check {
    id: "webhook/http-client",
    refuses: "proxies at any depth of `httpConfig` (`proxyUrl`, `proxyURL`, `proxyFromEnvironment`, `noProxy`, …), TLS overrides (`insecureSkipVerify`, `serverName`) unless `allowWebhookTlsOverrides`, `httpConfig` nested past its bound",
    why: "a proxy or an unverified TLS peer carries alerts (and credentials) through a host this policy cannot check",
};
