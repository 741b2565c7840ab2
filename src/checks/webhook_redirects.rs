//! `webhook/redirects`: webhooks follow no redirects.

use super::Check;

pub const CHECK: Check = Check {
    id: "webhook/redirects",
    refuses: "`httpConfig.followRedirects: true`, and an OAuth2 `tokenUrl` at the tenant's own listener; sets `followRedirects: false`",
    why: "Alertmanager follows redirects by default (and its token client always): a listener answering 307 would send the alert on to a host nobody checked",
};
