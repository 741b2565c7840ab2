//! `webhook/http-client`: alertmanager's http client goes nowhere else.

use serde_json::{Map, Value};

use super::location::WebhookAt;
use super::object_bounds::{self, MAX_HTTP_CONFIG_DEPTH};
use super::object_shape::wrong_type;
use super::{webhook_destination, webhook_redirects, Check, Findings};
use crate::settings::Settings;
use crate::webhook_url::{self, UrlDecision};

pub const CHECK: Check = Check {
    id: "webhook/http-client",
    refuses: "proxies at any depth of `httpConfig` (`proxyUrl`, `proxyURL`, `proxyFromEnvironment`, `noProxy`, …), TLS overrides (`insecureSkipVerify`, `serverName`) unless `allowWebhookTlsOverrides`, `httpConfig` nested past its bound",
    why: "a proxy or an unverified TLS peer carries alerts (and credentials) through a host this policy cannot check",
};

/// Every address Alertmanager would contact for this webhook is a destination: no proxy
/// at any depth, an OAuth2 token URL that passes the same rules as `url`, and TLS that
/// checks the listener's certificate unless the admin allows otherwise.
pub fn review_http_config(
    config: &Map<String, Value>,
    path: &str,
    depth: usize,
    at: &WebhookAt,
    listener: &str,
    settings: &Settings,
    findings: &mut Findings,
) {
    if depth >= MAX_HTTP_CONFIG_DEPTH {
        findings.reject(
            &object_bounds::CHECK,
            at.field(path),
            format!("nests deeper than {MAX_HTTP_CONFIG_DEPTH} levels"),
        );
        return;
    }
    for (key, value) in config {
        let field = format!("{path}.{key}");
        let lower = key.to_ascii_lowercase();
        if lower.starts_with("proxy") || lower == "noproxy" {
            findings.reject(
                &CHECK,
                at.field(&field),
                "a proxy would carry alerts or token requests through a host this policy cannot check; remove it",
            );
            continue;
        }
        if key == "tokenUrl" && path.ends_with("oauth2") {
            review_token_url(value, &field, at, listener, settings, findings);
            continue;
        }
        if path.ends_with("tlsConfig") {
            if let Some(risk) = tls_override(key, value) {
                if !settings.allow_webhook_tls_overrides {
                    findings.reject(
                        &CHECK,
                        at.field(&field),
                        format!("{risk}; remove it (the cluster admin can allow it with allowWebhookTlsOverrides)"),
                    );
                }
            }
        }
        let mut descend = |child: &Map<String, Value>, child_path: &str| {
            review_http_config(
                child,
                child_path,
                depth + 1,
                at,
                listener,
                settings,
                findings,
            )
        };
        match value {
            Value::Object(inner) => descend(inner, &field),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Value::Object(inner) = item {
                        descend(inner, &format!("{field}[{i}]"));
                    }
                }
            }
            _ => {}
        }
    }
}

/// `oauth2.tokenUrl` passes the rules a webhook `url` passes, or the object is refused:
/// a token URL is not the policy's to rewrite.
fn review_token_url(
    value: &Value,
    field: &str,
    at: &WebhookAt,
    listener: &str,
    settings: &Settings,
    findings: &mut Findings,
) {
    let why = match value {
        Value::Null => return,
        Value::String(url) => {
            match webhook_url::decide(Some(url), listener, &settings.destinations()) {
                UrlDecision::Keep(webhook_url::Destination::Allowed) => return,
                UrlDecision::Keep(webhook_url::Destination::TenantListener) => {
                    findings.reject(
                    &webhook_redirects::CHECK,
                    at.field(field),
                    format!(
                    "{url:?} is this tenant's own EventListener, which is no token endpoint; Alertmanager's token client follows redirects even with followRedirects: false, so the listener could send the client credentials anywhere. Use a token endpoint under allowedWebhookUrls, or remove oauth2",
                    ),
                );
                    return;
                }
                UrlDecision::Rewrite(why) | UrlDecision::Refuse(why) => why,
            }
        }
        other => {
            wrong_type(findings, at.field(field), "a string", other);
            return;
        }
    };
    findings.reject(
        &webhook_destination::CHECK,
        at.field(field),
        format!("{why}; Alertmanager sends the token request there, so it must be this tenant's EventListener or under allowedWebhookUrls"),
    );
}

/// What a `tlsConfig` field risks, when it turns a check off (`None` for the defaults).
fn tls_override(key: &str, value: &Value) -> Option<&'static str> {
    match (key, value) {
        ("insecureSkipVerify", Value::Null | Value::Bool(false)) => None,
        ("insecureSkipVerify", _) => Some("would send alerts to whoever answers, unverified"),
        ("serverName", Value::Null) => None,
        ("serverName", Value::String(name)) if name.is_empty() => None,
        ("serverName", _) => Some("accepts a certificate made out to another host than the URL's"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LISTENER: &str = "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/";

    /// The problems the policy finds in a webhook's `httpConfig`.
    fn problems(http: Value) -> Vec<String> {
        let at = WebhookAt {
            receiver: "r",
            path: "spec.receivers[0].webhookConfigs[0]",
        };
        let settings = Settings {
            cluster_domain: "apps.cluster-abc.example.com".to_owned(),
            ..Settings::default()
        };
        let mut findings = Findings::default();
        review_http_config(
            http.as_object().unwrap(),
            "httpConfig",
            0,
            &at,
            LISTENER,
            &settings,
            &mut findings,
        );
        findings.problem_texts()
    }

    #[test]
    fn null_tls_fields_are_the_defaults() {
        assert_eq!(
            problems(json!({"tlsConfig": {"insecureSkipVerify": null, "serverName": null}})),
            Vec::<String>::new()
        );
        assert_eq!(
            problems(json!({"tlsConfig": {"serverName": "other.example.com"}})),
            ["[webhook/http-client] receiver \"r\" (spec.receivers[0].webhookConfigs[0].httpConfig.tlsConfig.serverName): accepts a certificate made out to another host than the URL's; remove it (the cluster admin can allow it with allowWebhookTlsOverrides)"]
        );
    }

    /// Go's JSON decoder matches field names without regard to case, so a proxy field is
    /// refused in any case; and one refusal does not end the review of the other fields.
    #[test]
    fn proxy_fields_are_refused_in_any_case_and_the_review_goes_on() {
        for key in [
            "proxyUrl",
            "ProxyURL",
            "PROXYFROMENVIRONMENT",
            "noProxy",
            "NoProxy",
            "noproxy",
        ] {
            let found = problems(
                json!({key: "http://proxy.example.com", "tlsConfig": {"insecureSkipVerify": true}}),
            );
            assert_eq!(found.len(), 2, "{key}: {found:?}");
            assert!(
                found[0].contains(&format!("httpConfig.{key}): a proxy would carry")),
                "{key}: {found:?}"
            );
            assert!(
                found[1].contains("tlsConfig.insecureSkipVerify): would send alerts"),
                "{key}: {found:?}"
            );
        }
        // A field that merely ends in "proxy" is no proxy setting.
        assert_eq!(problems(json!({"notAProxy": "x"})), Vec::<String>::new());
    }

    /// `httpConfig` nested exactly MAX_HTTP_CONFIG_DEPTH objects deep is refused; one
    /// level less is reviewed.
    #[test]
    fn nesting_is_bounded_at_the_limit() {
        let nested =
            |levels: usize| (0..levels).fold(json!({"leaf": 1}), |inner, _| json!({"a": inner}));
        assert_eq!(
            problems(nested(MAX_HTTP_CONFIG_DEPTH - 1)),
            Vec::<String>::new()
        );
        let refused = problems(nested(MAX_HTTP_CONFIG_DEPTH));
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(
            refused[0].ends_with(&format!("nests deeper than {MAX_HTTP_CONFIG_DEPTH} levels")),
            "{refused:?}"
        );
    }

    /// Only an empty serverName is Alertmanager's default (the URL's host); a blank one
    /// is a name the certificate is checked against instead.
    #[test]
    fn only_an_empty_server_name_is_the_default() {
        assert_eq!(
            problems(json!({"tlsConfig": {"serverName": ""}})),
            Vec::<String>::new()
        );
        assert_eq!(problems(json!({"tlsConfig": {"serverName": " "}})).len(), 1);
    }

    /// A token URL is reviewed wherever an `oauth2` object holds it: the walk does not
    /// trust the CRD's layout to keep it directly under httpConfig.
    #[test]
    fn a_token_url_is_reviewed_under_any_oauth2() {
        for http in [
            json!({"oauth2": {"tokenUrl": "https://evil.example.com/token"}}),
            json!({"authorization": {"oauth2": {"tokenUrl": "https://evil.example.com/token"}}}),
        ] {
            let found = problems(http.clone());
            assert_eq!(found.len(), 1, "{http}: {found:?}");
            assert!(
                found[0].contains("oauth2.tokenUrl)")
                    && found[0].contains("Alertmanager sends the token request there"),
                "{found:?}"
            );
        }
    }
}
