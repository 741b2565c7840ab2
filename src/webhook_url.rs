//! Webhook destinations: the tenant's own EventListener URL, the shape of anyone's
//! EventListener URL, and the admin's list of other allowed destinations.

use url::Url;

/// Placeholders `webhookUrlTemplate` may use.
pub const PLACEHOLDERS: [&str; 3] = ["{user}", "{clusterDomain}", "{namespace}"];

#[derive(Debug, Clone, Copy)]
pub struct Tenant<'a> {
    pub user: &'a str,
    pub namespace: &'a str,
    pub cluster_domain: &'a str,
}

/// The template with the tenant's values filled in.
pub fn fill(template: &str, tenant: &Tenant) -> String {
    template
        .replace("{user}", tenant.user)
        .replace("{clusterDomain}", tenant.cluster_domain)
        .replace("{namespace}", tenant.namespace)
}

/// Settings check: only known placeholders, `{user}` among them, and an http(s) URL once
/// filled in.
pub fn check_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("{template:?} has an unclosed '{{'"))?;
        let placeholder = &rest[open..open + close + 1];
        if !PLACEHOLDERS.contains(&placeholder) {
            return Err(format!(
                "{template:?} uses {placeholder}; the placeholders are {}",
                PLACEHOLDERS.join(", ")
            ));
        }
        rest = &rest[open + close + 1..];
    }
    if !template.contains("{user}") {
        return Err(format!(
            "{template:?} has no {{user}}: every tenant would share one listener"
        ));
    }
    let sample = fill(
        template,
        &Tenant {
            user: "user1",
            namespace: "user1-test",
            cluster_domain: "apps.example.com",
        },
    );
    match Url::parse(&sample) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => Ok(()),
        _ => Err(format!(
            "{template:?} does not make an http(s) URL (filled in: {sample:?})"
        )),
    }
}

/// A value someone forgot to fill in: the chapter's `<USER_NAME>`/`<CLUSTER_DOMAIN>`,
/// a Helm template, or one of our own `{placeholders}`.
pub fn has_unfilled_placeholder(url: &str) -> bool {
    if url.contains("{{") || PLACEHOLDERS.iter().any(|p| url.contains(p)) {
        return true;
    }
    // `<UPPER_CASE_NAME>`
    let mut rest = url;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        if let Some(close) = after.find('>') {
            let name = &after[..close];
            if !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b == b'_' || b.is_ascii_digit())
            {
                return true;
            }
        }
        rest = after;
    }
    false
}

/// Whether `url` is an EventListener URL of the template's shape for some user on some
/// cluster domain: each placeholder stands for a non-empty run of DNS characters.
pub fn has_listener_shape(url: &str, template: &str) -> bool {
    // Literal pieces of the template between placeholders.
    let mut literals: Vec<&str> = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        literals.push(&rest[..open]);
        rest = &rest[open + close + 1..];
    }
    literals.push(rest);

    let dns = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    };
    let (first, last) = (literals[0], literals[literals.len() - 1]);
    if literals.len() == 1 {
        return url == first;
    }
    let Some(mut remaining) = url.strip_prefix(first) else {
        return false;
    };
    for literal in &literals[1..literals.len() - 1] {
        match remaining.find(literal) {
            Some(at) if dns(&remaining[..at]) => remaining = &remaining[at + literal.len()..],
            _ => return false,
        }
    }
    match remaining.strip_suffix(last) {
        Some(wild) => dns(wild),
        None => false,
    }
}

/// The same destination, once parsed (`https://h` and `https://h:443/` are the same).
pub fn same_destination(a: &str, b: &str) -> bool {
    match (Url::parse(a), Url::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Settings check for one `allowedWebhookUrls` entry.
pub fn check_allowed_prefix(prefix: &str) -> Result<(), String> {
    match Url::parse(prefix) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
            Ok(())
        }
        _ => Err(format!(
            "{prefix:?} is not an http(s) URL with a host (e.g. \"https://hooks.example.com/alerts/\")"
        )),
    }
}

/// Whether `url` falls under an allowed prefix: scheme, host and port exactly, the path
/// as a prefix that ends at a segment boundary (`/hooks` allows `/hooks/a`, not
/// `/hooks-evil`). Both sides are parsed, so `..` and case tricks normalise away.
pub fn allowed_by_prefix(url: &str, prefix: &str) -> bool {
    let (Ok(url), Ok(prefix)) = (Url::parse(url), Url::parse(prefix)) else {
        return false;
    };
    if url.scheme() != prefix.scheme()
        || url.host_str() != prefix.host_str()
        || url.port_or_known_default() != prefix.port_or_known_default()
    {
        return false;
    }
    let (path, allowed) = (url.path(), prefix.path());
    path == allowed
        || (path.starts_with(allowed)
            && (allowed.ends_with('/') || path[allowed.len()..].starts_with('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "https://el-ct-listener-{user}-toolings.{clusterDomain}/";

    fn tenant() -> Tenant<'static> {
        Tenant {
            user: "user1",
            namespace: "user1-test",
            cluster_domain: "apps.cluster-abc.example.com",
        }
    }

    #[test]
    fn fills_the_template() {
        assert_eq!(
            fill(TEMPLATE, &tenant()),
            "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/"
        );
        assert_eq!(
            fill("http://el.{namespace}.svc:8080/{user}", &tenant()),
            "http://el.user1-test.svc:8080/user1"
        );
    }

    #[test]
    fn template_check_explains() {
        assert!(check_template(TEMPLATE).is_ok());
        assert!(check_template("https://x/{usr}")
            .unwrap_err()
            .contains("{usr}"));
        assert!(check_template("https://x/")
            .unwrap_err()
            .contains("no {user}"));
        assert!(check_template("ftp://x/{user}").is_err());
        assert!(check_template("https://x/{user").is_err());
    }

    #[test]
    fn finds_unfilled_placeholders() {
        assert!(has_unfilled_placeholder(
            "https://el-ct-listener-<USER_NAME>-toolings.<CLUSTER_DOMAIN>/"
        ));
        assert!(has_unfilled_placeholder("https://el-{{ .Values.user }}/"));
        assert!(has_unfilled_placeholder(
            "https://el-ct-listener-{user}-toolings.x/"
        ));
        assert!(!has_unfilled_placeholder(
            "https://hooks.example.com/a?b=<c>"
        ));
        assert!(!has_unfilled_placeholder(
            "https://el-ct-listener-user1-toolings.apps.x/"
        ));
    }

    #[test]
    fn recognises_any_tenants_listener() {
        for url in [
            "https://el-ct-listener-user2-toolings.apps.cluster-abc.example.com/",
            "https://el-ct-listener-user1-toolings.apps.other.example.com/",
        ] {
            assert!(has_listener_shape(url, TEMPLATE), "{url}");
        }
        for url in [
            "https://el-ct-listener-user2-toolings.apps.cluster-abc.example.com/extra",
            "http://el-ct-listener-user2-toolings.apps.cluster-abc.example.com/",
            "https://el-ct-listener--toolings.apps.x/",
            "https://el-ct-listener-a/b-toolings.apps.x/",
            "https://evil.example.com/",
        ] {
            assert!(!has_listener_shape(url, TEMPLATE), "{url}");
        }
    }

    #[test]
    fn same_destination_compares_parsed_urls() {
        assert!(same_destination(
            "https://h.example.com",
            "https://h.example.com:443/"
        ));
        assert!(same_destination(
            "https://H.example.com/",
            "https://h.example.com/"
        ));
        assert!(!same_destination(
            "https://h.example.com/",
            "http://h.example.com/"
        ));
    }

    #[test]
    fn prefixes_compare_scheme_host_port_exactly_and_path_by_segment() {
        let p = "https://hooks.example.com/alerts";
        assert!(allowed_by_prefix("https://hooks.example.com/alerts", p));
        assert!(allowed_by_prefix(
            "https://hooks.example.com:443/alerts/x",
            p
        ));
        assert!(!allowed_by_prefix(
            "https://hooks.example.com/alerts-evil",
            p
        ));
        assert!(!allowed_by_prefix(
            "https://hooks.example.com/x/../../other",
            p
        ));
        assert!(!allowed_by_prefix("http://hooks.example.com/alerts", p));
        assert!(!allowed_by_prefix(
            "https://hooks.example.com:8443/alerts",
            p
        ));
        assert!(!allowed_by_prefix(
            "https://hooks.example.com.evil.io/alerts",
            p
        ));
        assert!(!allowed_by_prefix(
            "https://evil.io/alerts#https://hooks.example.com/alerts",
            p
        ));
        assert!(allowed_by_prefix(
            "https://hooks.example.com/any",
            "https://hooks.example.com/"
        ));
        assert!(!allowed_by_prefix("not a url", p));
    }
}
