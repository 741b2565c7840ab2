//! `webhook/redirects`: webhooks follow no redirects.

use serde_json::{Map, Value};

use super::location::WebhookAt;
use super::object_shape::{boolean, Typed};
use super::{Check, Findings};

pub const CHECK: Check = Check {
    id: "webhook/redirects",
    refuses: "`httpConfig.followRedirects: true`, and an OAuth2 `tokenUrl` at the tenant's own listener; sets `followRedirects: false`",
    why: "Alertmanager follows redirects by default (and its token client always): a listener answering 307 would send the alert on to a host nobody checked",
};

/// `httpConfig.followRedirects` is `false` after admission: Alertmanager follows
/// redirects by default, so a listener (or anything under an allowed prefix) answering
/// `307` would re-send the alert, body and credentials, to a host nobody checked.
pub fn forbid_redirects(webhook: &mut Map<String, Value>, at: &WebhookAt, findings: &mut Findings) {
    let http = webhook
        .entry("httpConfig")
        .or_insert_with(|| Value::Object(Map::new()));
    if http.is_null() {
        *http = Value::Object(Map::new());
    }
    // Another type was reported by the httpConfig review.
    let Some(http) = http.as_object_mut() else {
        return;
    };
    let follow = boolean(
        http,
        "followRedirects",
        || at.field("httpConfig.followRedirects"),
        findings,
    );
    match follow {
        Typed::Is(false) | Typed::Wrong => {}
        Typed::Absent => {
            findings.change(
                &CHECK,
                format!("{}.httpConfig.followRedirects", at.path),
                "set to false (Alertmanager follows redirects by default, so a listener answering 307 could send the alert to a host this policy did not check)",
            );
            http.insert("followRedirects".to_owned(), Value::Bool(false));
        }
        Typed::Is(true) => findings.reject(
            &CHECK,
            at.field("httpConfig.followRedirects"),
            "true lets whoever answers a webhook send the alert on to any host; remove it (the policy sets false)",
        ),
    }
}
