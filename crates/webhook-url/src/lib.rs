//! Webhook destinations: the tenant's own EventListener URL, the shape of anyone's
//! EventListener URL, the admin's list of other allowed destinations, and [`decide`], the
//! one place a destination is judged.

use url::Url;

use serde::{Deserialize, Serialize};

/// What to do with a destination URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlDecision {
    /// Leave it: it is the tenant's listener, or under `allowedWebhookUrls`.
    Keep(Destination),
    /// Point it at the tenant's listener instead, for the reason given.
    Rewrite(String),
    /// Refuse the object, for the reason given.
    Refuse(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    TenantListener,
    Allowed,
}

impl UrlDecision {
    /// Whether alerts would go to the tenant's listener once this is applied.
    pub fn reaches_listener(&self) -> bool {
        matches!(
            self,
            UrlDecision::Keep(Destination::TenantListener) | UrlDecision::Rewrite(_)
        )
    }
}

/// What to do with a webhook that points at another tenant's EventListener, still holds
/// placeholders, or has no URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum OnForeignListener {
    /// Point it at this tenant's EventListener, with a warning.
    #[default]
    Rewrite,
    /// Refuse the object.
    Reject,
}

/// What [`decide`] needs of the settings: the listener's template, the other allowed
/// destinations, and what to do with a foreign listener.
#[derive(Debug, Clone, Copy)]
pub struct Destinations<'a> {
    pub template: &'a str,
    pub allowed: &'a [String],
    pub on_foreign: OnForeignListener,
}

/// Judges `url` (`None`: the webhook has none) against the tenant's `listener` and the
/// settings. Everything is decided on the raw string first: a template or a path a URL
/// parser would rewrite is never given the benefit of normalisation.
pub fn decide(url: Option<&str>, listener: &str, destinations: &Destinations) -> UrlDecision {
    let foreign = |why: String| match destinations.on_foreign {
        OnForeignListener::Rewrite => UrlDecision::Rewrite(why),
        OnForeignListener::Reject => {
            UrlDecision::Refuse(format!("{why}; this namespace's alerts go to {listener:?}"))
        }
    };
    let Some(url) = url else {
        return foreign("no URL".to_owned());
    };
    if has_unfilled_placeholder(url) {
        return foreign(format!("{url:?} still holds placeholders"));
    }
    if let Some(what) = rewritten_by_parsers(url) {
        return if same_destination(url, listener) {
            foreign(format!(
                "{url:?} is this tenant's EventListener written with {what}, which URL parsers rewrite"
            ))
        } else {
            UrlDecision::Refuse(format!(
                "{url:?} has {what}, which URL parsers rewrite; write the destination plainly"
            ))
        };
    }
    if same_destination(url, listener) {
        return UrlDecision::Keep(Destination::TenantListener);
    }
    // Written as the template would (or as a URL parser would normalise it: host case,
    // default port): rewriting it to this tenant's own listener is always safe.
    let normalised = Url::parse(url).map(String::from).unwrap_or_default();
    if has_listener_shape(url, destinations.template)
        || has_listener_shape(&normalised, destinations.template)
    {
        return foreign(format!("{url:?} is another tenant's EventListener"));
    }
    let allowed = destinations.allowed;
    if allowed.iter().any(|prefix| allowed_by_prefix(url, prefix)) {
        return UrlDecision::Keep(Destination::Allowed);
    }
    UrlDecision::Refuse(format!(
        "{url:?} is not this tenant's EventListener {listener:?}{}; alerts may not be sent there",
        if allowed.is_empty() {
            String::new()
        } else {
            format!(" and is not under allowedWebhookUrls {allowed:?}")
        }
    ))
}

/// What in `url` a URL parser would rewrite before it is compared: dot segments,
/// backslashes, encoded dots and slashes, whitespace and control characters (which the
/// WHATWG parser drops). `None` when it is written plainly.
pub fn rewritten_by_parsers(url: &str) -> Option<&'static str> {
    if url.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Some("whitespace or control characters");
    }
    // The WHATWG parser (the `url` crate) repairs `https:host/`, `https:/host/` and
    // `https:///host/` into `https://host/` and decodes `%6D` in a host; Go's net/url,
    // which Alertmanager loads the URL with, reads an empty host or refuses the escape.
    let Some((scheme, rest)) = url.split_once("://") else {
        return Some("no '//' after the scheme");
    };
    let mut scheme_bytes = scheme.bytes();
    let scheme_ok = scheme_bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && scheme_bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok {
        return Some("a malformed scheme");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Some("an empty host");
    }
    // (In user information an escape is Go's as much as WHATWG's: `p%40ss` is `p@ss`.)
    if host.contains('%') {
        return Some("a percent-escape in the host");
    }
    // What Go's url.Parse refuses outright ("invalid URL escape", "invalid userinfo",
    // "invalid character in host name"), which the WHATWG parser lets through.
    let bytes = url.as_bytes();
    let malformed_escape = bytes.iter().enumerate().any(|(i, b)| {
        *b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    if malformed_escape {
        return Some("a '%' that starts no escape");
    }
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b);
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        if !userinfo
            .bytes()
            .all(|b| unreserved(b) || b":%@".contains(&b))
        {
            return Some("user information Go's URL parser refuses");
        }
    }
    if !host.bytes().all(|b| unreserved(b) || b":[]".contains(&b)) {
        return Some("a character Go's URL parser refuses in a host");
    }
    if url.contains('\\') {
        return Some("a backslash");
    }
    let lower = url.to_ascii_lowercase();
    if ["%2e", "%2f", "%5c"].iter().any(|e| lower.contains(e)) {
        return Some("an encoded '.', '/' or '\\'");
    }
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    if after_scheme
        .split(['/', '?', '#'])
        .skip(1)
        .any(|segment| segment == "." || segment == "..")
    {
        return Some("a '.' or '..' path segment");
    }
    None
}

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
    check_placeholders(template, &PLACEHOLDERS)?;
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
    let url = match Url::parse(&sample) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => url,
        _ => {
            return Err(format!(
                "{template:?} does not make an http(s) URL (filled in: {sample:?})"
            ))
        }
    };
    // Only the host and the path tell tenants apart: userinfo is credentials, and a
    // fragment is never sent. Filled with a marker no fixed text can contain.
    let marked = fill(
        template,
        &Tenant {
            user: "zz0user0zz",
            namespace: "user1-test",
            cluster_domain: "apps.example.com",
        },
    );
    let in_host_or_path = Url::parse(&marked).is_ok_and(|url| {
        url.host_str().is_some_and(|h| h.contains("zz0user0zz"))
            || url.path().contains("zz0user0zz")
    });
    if !in_host_or_path {
        return Err(format!(
            "{template:?} has {{user}} outside the host and the path, so every tenant's alerts reach the same listener; put {{user}} in the host (e.g. \"https://el-ct-listener-{{user}}-toolings.{{clusterDomain}}/\")"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{template:?} carries credentials (user:password@); put them in the webhook's httpConfig instead"
        ));
    }
    Ok(())
}

/// The namespace of an in-cluster Service host (`name.namespace.svc` or
/// `name.namespace.svc.cluster.local`), the form cluster DNS answers for.
pub fn service_namespace_of(url: &str) -> Option<String> {
    let url = Url::parse(url).ok()?;
    let host = url.host_str()?;
    let mut labels = host.split('.');
    let (_name, namespace, svc) = (labels.next()?, labels.next()?, labels.next()?);
    (svc == "svc").then(|| namespace.to_owned())
}

/// Whether `host` names an in-cluster Service (`…svc`, `…svc.cluster.local`).
fn is_in_cluster_service_host(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 3 && labels.get(2) == Some(&"svc")
}

/// Hosts that answer for the node or the cloud account rather than for a tenant:
/// loopback, link-local (the cloud metadata services sit there), unspecified, and the
/// metadata services' own names.
fn is_host_internal(url: &Url) -> Option<&'static str> {
    use std::net::IpAddr;
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.');
            return matches!(
                name,
                "localhost" | "metadata" | "metadata.google.internal" | "instance-data"
            )
            .then_some("a cloud metadata or loopback host");
        }
        None => return None,
    };
    let internal = match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_link_local() || v4.is_unspecified(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.is_unspecified() || (v6.segments()[0] & 0xffc0) == 0xfe80
                // AWS's IPv6 metadata address.
                || v6.segments() == [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254]
        }
    };
    internal.then_some("a loopback, link-local or metadata address")
}

/// Settings check for any template: every `{...}` is one of `allowed`.
pub fn check_placeholders(template: &str, allowed: &[&str]) -> Result<(), String> {
    let mut rest = template;
    while let Some((_, after)) = rest.split_once('{') {
        let (name, tail) = after
            .split_once('}')
            .ok_or_else(|| format!("{template:?} has an unclosed '{{'"))?;
        let placeholder = format!("{{{name}}}");
        if !allowed.contains(&placeholder.as_str()) {
            return Err(format!(
                "{template:?} uses {placeholder}; the placeholders are {}",
                allowed.join(", ")
            ));
        }
        rest = tail;
    }
    Ok(())
}

/// A value someone forgot to fill in: the chapter's `<USER_NAME>`/`<CLUSTER_DOMAIN>`,
/// a Helm template, or one of our own `{placeholders}`.
pub fn has_unfilled_placeholder(url: &str) -> bool {
    if url.contains("{{") || PLACEHOLDERS.iter().any(|p| url.contains(p)) {
        return true;
    }
    // `<UPPER_CASE_NAME>`: only the last `<` before a `>` can open one. One pass: a
    // scan from every `<` to the next `>` is quadratic in a URL of `<`s.
    let mut name_from: Option<usize> = None;
    for (i, b) in url.bytes().enumerate() {
        match b {
            b'<' => name_from = Some(i + 1),
            b'>' => {
                if name_from.is_some_and(|from| from < i) {
                    return true;
                }
                name_from = None;
            }
            b if b.is_ascii_uppercase() || b == b'_' || b.is_ascii_digit() => {}
            _ => name_from = None,
        }
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
    let (first, middle, last) = match literals.as_slice() {
        [] => return false,
        [only] => return url == *only,
        [first, middle @ .., last] => (*first, middle, *last),
    };
    let Some(mut remaining) = url.strip_prefix(first) else {
        return false;
    };
    for literal in middle {
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
///
/// An entry allows exactly what it says and nothing an admin would not see in it: no
/// credentials, query or fragment (a prefix compares scheme, host, port and path only, so
/// they would be silently ignored), nothing a parser rewrites, no host that answers for
/// the node or the cloud, and plain `http://` only to an in-cluster Service.
pub fn check_allowed_prefix(prefix: &str) -> Result<(), String> {
    let example = "e.g. \"https://hooks.example.com/alerts/\"";
    let url = match Url::parse(prefix) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => url,
        _ => {
            return Err(format!(
                "{prefix:?} is not an http(s) URL with a host ({example})"
            ))
        }
    };
    if let Some(what) = rewritten_by_parsers(prefix) {
        return Err(format!(
            "{prefix:?} has {what}, which URL parsers rewrite; write the prefix plainly"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{prefix:?} carries credentials (user:password@); write the prefix without them ({example})"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "{prefix:?} has a ?query or #fragment, which a prefix does not compare, so it would allow more than it says; remove it"
        ));
    }
    if let Some(what) = is_host_internal(&url) {
        return Err(format!(
            "{prefix:?} is {what}; alerts sent there reach the node or the cloud account, not a tenant's receiver"
        ));
    }
    if url.scheme() == "http" && !url.host_str().is_some_and(is_in_cluster_service_host) {
        return Err(format!(
            "{prefix:?} is plain http:// outside the cluster, where anyone on the path can read or redirect alerts; use https://, or an in-cluster Service host (name.namespace.svc)"
        ));
    }
    Ok(())
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
    fn an_allowed_prefix_allows_exactly_what_it_says() {
        for (prefix, expected) in [
            ("https://u:p@hooks.example.com/", "carries credentials"),
            ("https://u@hooks.example.com/", "carries credentials"),
            (
                "https://hooks.example.com/a?t=1",
                "has a ?query or #fragment",
            ),
            ("https://hooks.example.com/a#f", "has a ?query or #fragment"),
            (
                "https://hooks.example.com/a/../b",
                "which URL parsers rewrite",
            ),
            (
                "http://169.254.169.254/latest/",
                "link-local or metadata address",
            ),
            ("https://127.0.0.1/", "loopback"),
            ("https://[::ffff:169.254.169.254]/", "link-local"),
            ("https://[fd00:ec2::254]/", "metadata"),
            ("https://0.0.0.0/", "loopback, link-local"),
            ("https://localhost:9093/", "loopback host"),
            ("https://metadata.google.internal./", "cloud metadata"),
            (
                "http://hooks.example.com/",
                "plain http:// outside the cluster",
            ),
            (
                "http://svc.example.com/",
                "plain http:// outside the cluster",
            ),
            (
                "http://x.svc.evil.net/",
                "plain http:// outside the cluster",
            ),
            (
                "HTTP://hooks.example.com/",
                "plain http:// outside the cluster",
            ),
            ("https://instance-data/", "cloud metadata or loopback host"),
            ("https://metadata/", "cloud metadata or loopback host"),
            (
                "https://hooks.example.com/alerts/?",
                "has a ?query or #fragment",
            ),
            (
                "https://hooks.example.com/alerts/#",
                "has a ?query or #fragment",
            ),
        ] {
            let err = check_allowed_prefix(prefix).expect_err(prefix);
            assert!(err.contains(expected), "{prefix}: {err}");
        }
        for prefix in [
            "https://hooks.example.com/alerts/",
            "http://el-ct-listener.team-a.svc:8080/",
            "http://el-ct-listener.team-a.svc.cluster.local:8080/hooks/",
        ] {
            assert_eq!(check_allowed_prefix(prefix), Ok(()), "{prefix}");
        }
    }

    #[test]
    fn what_go_reads_differently_is_never_kept() {
        // Go's net/url (Alertmanager's) reads these with an empty host or refuses them;
        // the WHATWG parser repairs them into the listener.
        let s = settings(OnForeignListener::Rewrite);
        for url in [
            "https:///el-ct-listener-user1-toolings.apps.cluster-abc.example.com/",
            "https:el-ct-listener-user1-toolings.apps.cluster-abc.example.com/",
            "https:/el-ct-listener-user1-toolings.apps.cluster-abc.example.com/",
            "https://el-ct-listener-user1-toolings.apps.cluster-abc.exa%6Dple.com/",
        ] {
            assert!(
                matches!(decide(Some(url), LISTENER, &s), UrlDecision::Rewrite(_)),
                "{url}"
            );
        }
        for (url, what) in [
            ("https:///evil.example.net/", "an empty host"),
            (
                "https://evil.ex%61mple.net/",
                "a percent-escape in the host",
            ),
            ("https://:443/", "an empty host"),
            ("ht_tp://hooks.example.com/", "a malformed scheme"),
            ("hooks.example.com/alerts/", "no '//' after the scheme"),
        ] {
            match decide(Some(url), LISTENER, &s) {
                UrlDecision::Refuse(why) => assert!(why.contains(what), "{url}: {why}"),
                other => panic!("{url}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_user_must_tell_tenants_apart_in_host_or_path() {
        for template in [
            "https://el.{clusterDomain}/#{user}",
            "https://el.{clusterDomain}/?user={user}",
            "https://{user}:pw@el.{clusterDomain}/",
        ] {
            let err = check_template(template).expect_err(template);
            assert!(
                err.contains("has {user} outside the host and the path"),
                "{template}: {err}"
            );
        }
        assert!(check_template("https://{user}@el.{clusterDomain}/{user}").is_err());
        assert_eq!(check_template("https://el.{clusterDomain}/{user}/"), Ok(()));
        assert_eq!(
            service_namespace_of("http://el.user1-toolings.svc.cluster.local:8080/"),
            Some("user1-toolings".to_owned())
        );
        assert_eq!(
            service_namespace_of("https://el-user1.apps.example.com/"),
            None
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
        // Each `<` starts a candidate, a nested one too; `<>` and lowercase are none.
        assert!(has_unfilled_placeholder("https://x/<a<USER_1>"));
        assert!(!has_unfilled_placeholder("https://x/<><user>"));
        assert!(!has_unfilled_placeholder("https://x/<USER"));
        assert!(has_unfilled_placeholder("https://x/<<USER>>"));
        assert!(!has_unfilled_placeholder("https://x/<A-B><a>"));
        assert!(has_unfilled_placeholder("https://x/>A<B9_>"));
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
        // A template without placeholders has one shape: itself.
        let fixed = "https://listener.example.com/";
        assert!(has_listener_shape(fixed, fixed));
        assert!(!has_listener_shape("https://other.example.com/", fixed));
    }

    #[test]
    fn allowed_prefixes_are_http_urls_with_a_host() {
        for prefix in [
            "ftp://hooks.example.com/",
            "mailto:a@hooks.example.com",
            "hooks.example.com",
        ] {
            assert_eq!(
                check_allowed_prefix(prefix),
                Err(format!("{prefix:?} is not an http(s) URL with a host (e.g. \"https://hooks.example.com/alerts/\")")),
                "{prefix}"
            );
        }
        assert_eq!(
            check_allowed_prefix("https://hooks.example.com/alerts/"),
            Ok(())
        );
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

    /// The destinations of a workshop cluster that allows one hooks prefix.
    fn settings(on_foreign: OnForeignListener) -> Destinations<'static> {
        static HOOKS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        Destinations {
            template: TEMPLATE,
            allowed: HOOKS.get_or_init(|| vec!["https://hooks.example.com/alerts/".to_owned()]),
            on_foreign,
        }
    }

    const LISTENER: &str = "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/";

    #[test]
    fn decides_every_kind_of_destination() {
        use Destination::*;
        let rewrite = settings(OnForeignListener::Rewrite);
        let keep = |d| UrlDecision::Keep(d);
        let rewritten = |why: &str| UrlDecision::Rewrite(why.to_owned());
        for (url, expected) in [
            (Some(LISTENER), keep(TenantListener)),
            (
                Some("https://EL-CT-LISTENER-user1-toolings.apps.cluster-abc.example.com:443"),
                keep(TenantListener),
            ),
            (Some("https://hooks.example.com/alerts/drift"), keep(Allowed)),
            (None, rewritten("no URL")),
            (
                Some("https://el-ct-listener-user2-toolings.apps.cluster-abc.example.com/"),
                rewritten("\"https://el-ct-listener-user2-toolings.apps.cluster-abc.example.com/\" is another tenant's EventListener"),
            ),
            (
                Some("https://el-ct-listener-<USER_NAME>-toolings.<CLUSTER_DOMAIN>/"),
                rewritten("\"https://el-ct-listener-<USER_NAME>-toolings.<CLUSTER_DOMAIN>/\" still holds placeholders"),
            ),
        ] {
            assert_eq!(decide(url, LISTENER, &rewrite), expected, "{url:?}");
        }
    }

    #[test]
    fn a_template_anywhere_is_a_placeholder_even_where_a_parser_would_drop_it() {
        let url = "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/{{ .CommonLabels.x }}/..";
        // What the parser makes of it is the listener itself ...
        assert!(same_destination(url, LISTENER));
        // ... but the raw string is judged.
        match decide(Some(url), LISTENER, &settings(OnForeignListener::Rewrite)) {
            UrlDecision::Rewrite(why) => assert!(why.contains("placeholders"), "{why}"),
            other => panic!("{other:?}"),
        }
        match decide(Some(url), LISTENER, &settings(OnForeignListener::Reject)) {
            UrlDecision::Refuse(why) => assert!(why.contains("placeholders"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn templates_use_only_their_placeholders() {
        let allowed = ["{user}", "{clusterDomain}"];
        assert_eq!(
            check_placeholders("https://el-{user}.{clusterDomain}/", &allowed),
            Ok(())
        );
        assert_eq!(check_placeholders("{user}{user}x", &allowed), Ok(()));
        assert_eq!(check_placeholders("no placeholder", &allowed), Ok(()));
        assert_eq!(
            check_placeholders("https://{user}.{namespace}/", &allowed),
            Err(r#""https://{user}.{namespace}/" uses {namespace}; the placeholders are {user}, {clusterDomain}"#.to_owned())
        );
        assert_eq!(
            check_placeholders("{user}.{a{user}", &allowed),
            Err(
                r#""{user}.{a{user}" uses {a{user}; the placeholders are {user}, {clusterDomain}"#
                    .to_owned()
            )
        );
        assert_eq!(
            check_placeholders("https://{user", &allowed),
            Err(r#""https://{user" has an unclosed '{'"#.to_owned())
        );
    }

    #[test]
    fn internal_ipv6_hosts_are_named() {
        let internal =
            |host: &str| is_host_internal(&Url::parse(&format!("http://{host}/")).unwrap());
        for host in [
            "[::1]",
            "[::]",
            "[fe80::1]",
            "[febf::1]",
            "[fd00:ec2::254]",
            "[::ffff:127.0.0.1]",
            "[::ffff:169.254.169.254]",
        ] {
            assert_eq!(
                internal(host),
                Some("a loopback, link-local or metadata address"),
                "{host}"
            );
        }
        for host in [
            "[fec0::1]",
            "[fe7f::1]",
            "[2001:db8::1]",
            "[fd00:ec2::253]",
            "[fd00:ec3::254]",
        ] {
            assert_eq!(internal(host), None, "{host}");
        }
    }

    #[test]
    fn urls_a_parser_rewrites_are_never_kept() {
        let s = settings(OnForeignListener::Rewrite);
        for url in [
            "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/x/..",
            "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/./",
            "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/%2e%2e/",
            "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com\\",
            "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/\t",
        ] {
            let decision = decide(Some(url), LISTENER, &s);
            assert!(
                matches!(&decision, UrlDecision::Rewrite(why) if why.contains("URL parsers rewrite")),
                "{url:?}: {decision:?}"
            );
        }
        for url in [
            "https://hooks.example.com/alerts/../admin",
            "https://hooks.example.com/x/../alerts/",
            "https://hooks.example.com/alerts/%2e%2e/admin",
        ] {
            let decision = decide(Some(url), LISTENER, &s);
            assert!(
                matches!(&decision, UrlDecision::Refuse(why) if why.contains("write the destination plainly")),
                "{url:?}: {decision:?}"
            );
        }
        assert_eq!(
            rewritten_by_parsers("https://hooks.example.com/a?b=..&c=%20"),
            None
        );
        // A '%' needs two hex digits after it, wherever it stands.
        for url in [
            "https://hooks.example.com/ab%4",
            "https://hooks.example.com/ab%",
            "https://hooks.example.com/ab%4g",
            "https://hooks.example.com/ab%g4",
        ] {
            assert_eq!(
                rewritten_by_parsers(url),
                Some("a '%' that starts no escape"),
                "{url}"
            );
        }
        assert_eq!(rewritten_by_parsers("https://hooks.example.com/a%4F"), None);
    }

    #[test]
    fn anything_else_is_refused_naming_the_listener_and_the_allowed_list() {
        let why = match decide(
            Some("https://evil.example.net/"),
            LISTENER,
            &settings(OnForeignListener::Rewrite),
        ) {
            UrlDecision::Refuse(why) => why,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            why,
            format!("\"https://evil.example.net/\" is not this tenant's EventListener {LISTENER:?} and is not under allowedWebhookUrls [\"https://hooks.example.com/alerts/\"]; alerts may not be sent there")
        );
        let reject = settings(OnForeignListener::Reject);
        assert!(matches!(
            decide(None, LISTENER, &reject),
            UrlDecision::Refuse(_)
        ));
        assert!(decide(None, LISTENER, &reject) != UrlDecision::Keep(Destination::TenantListener));
        assert!(UrlDecision::Rewrite(String::new()).reaches_listener());
        assert!(!UrlDecision::Keep(Destination::Allowed).reaches_listener());
    }

    /// A URL as Go's net/url (`url.Parse`, which Alertmanager loads webhook URLs with)
    /// reads it, worked out by hand from RFC 3986 §3 and Go's own checks; none of this
    /// module's helpers (nor the `url` crate) is used, so it can disagree with them.
    #[derive(Debug)]
    struct GoUrl {
        scheme: String,
        userinfo: Option<String>,
        /// Lowercased (DNS is case-insensitive).
        host: String,
        /// The port's value; `None` when absent or empty (the scheme's default).
        port: Option<u32>,
        /// As written (escapes kept): what the client sends.
        path: String,
        /// `Some("")` for a bare trailing `?`.
        query: Option<String>,
        fragment: Option<String>,
    }

    /// `%XX` escapes are well formed (Go's `unescape` refuses any other `%`).
    fn escapes_ok(s: &str) -> bool {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                if i + 2 >= b.len()
                    || !(b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit())
                {
                    return false;
                }
                i += 3;
            } else {
                i += 1;
            }
        }
        true
    }

    /// `None` where Go's `url.Parse` fails or finds no host.
    fn go_parse(raw: &str) -> Option<GoUrl> {
        // Go refuses ASCII control bytes anywhere.
        if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return None;
        }
        let (rest, fragment) = match raw.split_once('#') {
            Some((r, f)) => (r, Some(f.to_owned())),
            None => (raw, None),
        };
        if fragment.as_deref().is_some_and(|f| !escapes_ok(f)) {
            return None;
        }
        // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"
        let colon = rest.find(':')?;
        let scheme = &rest[..colon];
        let mut chars = scheme.chars();
        if !chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            || !chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            return None;
        }
        let rest = &rest[colon + 1..];
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q.to_owned())),
            None => (rest, None),
        };
        // No "//": Go reads an opaque URL (no host) where WHATWG would repair one.
        let after = rest.strip_prefix("//")?;
        let (authority, path) = match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        };
        if !escapes_ok(path) {
            return None;
        }
        // Go splits userinfo at the LAST '@'.
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let userinfo_ok = |u: &str| {
            u.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._:~!$&'()*+,;=%@".contains(c))
        };
        if userinfo.is_some_and(|u| !userinfo_ok(u)) {
            return None;
        }
        if hostport.starts_with('[') {
            return None; // IP literals: not generated here, and never a tenant's name
        }
        let (host, port) = match hostport.rfind(':') {
            Some(i) => (&hostport[..i], &hostport[i + 1..]),
            None => (hostport, ""),
        };
        if !port.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // A host Go takes is a subset of these; any escape or other byte in it is read
        // differently by the two parsers, so it is no plain destination.
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        {
            return None;
        }
        // Past 65535 nothing can be dialled: no destination.
        let port = match port {
            "" => None,
            digits => Some(digits.parse::<u32>().ok().filter(|p| *p < 65536)?),
        };
        Some(GoUrl {
            scheme: scheme.to_ascii_lowercase(),
            userinfo: userinfo.map(str::to_owned),
            host: host.to_ascii_lowercase(),
            port,
            path: path.to_owned(),
            query,
            fragment,
        })
    }

    /// Served at `https://<host>` on the default port.
    fn https_at(u: &GoUrl, host: &str) -> bool {
        u.scheme == "https" && u.host == host && matches!(u.port, None | Some(443))
    }

    /// Exactly the tenant's listener: no credentials, path, query or fragment.
    fn is_the_listener(u: &GoUrl) -> bool {
        https_at(
            u,
            "el-ct-listener-user1-toolings.apps.cluster-abc.example.com",
        ) && u.userinfo.is_none()
            && matches!(u.path.as_str(), "" | "/")
            && u.query.is_none()
            && u.fragment.is_none()
    }

    /// Under `https://hooks.example.com/alerts/` with a path no server normalises out of
    /// it: no `.`/`..` segment (`\` counts as a separator: some servers take it for one),
    /// no encoded `.`, `/` or `\`.
    fn under_the_allowed_prefix(u: &GoUrl) -> bool {
        let lower = u.path.to_ascii_lowercase();
        https_at(u, "hooks.example.com")
            && u.path.starts_with("/alerts/")
            && !u.path.split(['/', '\\']).any(|s| s == "." || s == "..")
            && !["%2e", "%2f", "%5c"].iter().any(|e| lower.contains(e))
    }

    #[test]
    fn the_go_oracle_reads_urls_as_go_does() {
        // Spot checks of the oracle itself, from Go's net/url behaviour.
        let l = |s: &str| go_parse(s).is_some_and(|u| is_the_listener(&u));
        let a = |s: &str| go_parse(s).is_some_and(|u| under_the_allowed_prefix(&u));
        assert!(l(LISTENER));
        assert!(l(
            "https://EL-CT-LISTENER-user1-toolings.apps.cluster-abc.example.com:443"
        ));
        assert!(l(
            "HTTPS://el-ct-listener-user1-toolings.apps.cluster-abc.example.com:/"
        ));
        assert!(!l(
            "https:el-ct-listener-user1-toolings.apps.cluster-abc.example.com/"
        ));
        assert!(!l(
            "https:///el-ct-listener-user1-toolings.apps.cluster-abc.example.com/"
        ));
        assert!(!l(
            "https://x@el-ct-listener-user1-toolings.apps.cluster-abc.example.com/"
        ));
        assert!(!l(&format!("{LISTENER}?")));
        assert!(a("https://hooks.example.com/alerts/x?y#z"));
        assert!(a("https://u:p@hooks.example.com:0443/alerts/%41"));
        assert!(!a("https://hooks.example.com/alerts/%zz"));
        assert!(!a("https://hooks.example.com/alerts/x#%"));
        assert!(!a("https://hooks.example.com@evil.example.net/alerts/"));
        assert!(!a("https://{u}@hooks.example.com/alerts/"));
        assert!(!a("https://hooks.example.com/alerts/..\\admin"));
        assert!(!a("https://hooks.example.com/alerts/%2E%2E/admin"));
        assert!(!a("https://hooks.example.com/alerts"));
        assert!(!a("https://hooks.example.com:8443/alerts/"));
        assert!(!a("https://hooks.example.com./alerts/"));
    }

    /// The property for one generated URL.
    fn check_decision(url: &str) -> Result<(), proptest::test_runner::TestCaseError> {
        let s = settings(OnForeignListener::Rewrite);
        let go = go_parse(url);
        // Whitespace: the WHATWG parser drops tabs and trims spaces, Go does not.
        let no_blank = !url.contains([' ', '\t']);
        let listener = no_blank && go.as_ref().is_some_and(is_the_listener);
        let allowed = no_blank && go.as_ref().is_some_and(under_the_allowed_prefix);
        // Nothing in it any parser could read two ways or a human mistake for a template.
        // (The policy judges `.`/`..` anywhere, even in a query: conservative, allowed.)
        let boring = !url.contains(['%', '{', '}', '<', '>', '\\', '@', ' ', '\t'])
            && !url.split(['/', '?', '#']).any(|s| s == "." || s == "..");
        let decision = decide(Some(url), LISTENER, &s);
        match &decision {
            UrlDecision::Keep(Destination::TenantListener) => {
                proptest::prop_assert!(listener, "kept as the listener: {url:?} ({go:?})")
            }
            UrlDecision::Keep(Destination::Allowed) => {
                proptest::prop_assert!(allowed, "kept as allowed: {url:?} ({go:?})")
            }
            UrlDecision::Rewrite(why) | UrlDecision::Refuse(why) => {
                proptest::prop_assert!(!why.is_empty());
                proptest::prop_assert!(
                    !(boring && listener),
                    "the listener, written plainly, not kept: {url:?}: {decision:?}"
                );
                proptest::prop_assert!(
                    !(boring && allowed),
                    "under the allowed prefix, written plainly, not kept: {url:?}: {decision:?}"
                );
            }
        }
        Ok(())
    }

    const TAIL: &str = "[a-zA-Z0-9./%{}<>_\\\\ \t@:?#=-]{0,24}";

    fn heads() -> proptest::sample::Select<&'static str> {
        proptest::sample::select(vec![
            "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com",
            "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com/",
            "https://EL-CT-LISTENER-user1-toolings.apps.cluster-abc.example.com:443",
            "https://el-ct-listener-user2-toolings.apps.cluster-abc.example.com",
            "https://hooks.example.com/alerts",
            "https://hooks.example.com/alerts/",
            "https://hooks.example.com",
            "http://",
            "",
        ])
    }

    proptest::proptest! {
        // Failures found are kept in proptest-regressions/ (checked in) and run first.
        #![proptest_config(proptest::test_runner::Config {
            cases: 1024,
            failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::Direct(
                concat!(env!("CARGO_MANIFEST_DIR"), "/proptest-regressions/lib.txt"),
            ))),
            ..proptest::test_runner::Config::default()
        })]
        /// Whatever the string: a URL kept as the listener is the listener as Go reads
        /// it, a URL kept as allowed is under the allowed prefix as Go reads it, and a
        /// URL Go plainly reads as either (nothing any parser rewrites or could read
        /// otherwise) is kept; nothing panics. The oracle is `go_parse`, not the code
        /// under test. (It found https://hooks.example.com/alerts/%_ and
        /// https://{u}@hooks.example.com/alerts/ kept, which Alertmanager cannot load.)
        #[test]
        fn only_plain_destinations_are_kept(tail in TAIL, head in heads()) {
            check_decision(&format!("{head}{tail}"))?;
        }
    }

    #[test]
    fn a_url_go_cannot_parse_is_never_kept() {
        let s = settings(OnForeignListener::Rewrite);
        for url in [
            "https://hooks.example.com/alerts/%_",
            "https://hooks.example.com/alerts/x#%",
            "https://{u}@hooks.example.com/alerts/",
        ] {
            assert!(go_parse(url).is_none(), "{url}");
            let decision = decide(Some(url), LISTENER, &s);
            assert!(
                !matches!(decision, UrlDecision::Keep(_)),
                "{url:?} kept, but Alertmanager cannot load it: {decision:?}"
            );
        }
    }

    #[test]
    fn another_tenants_listener_in_other_case_or_with_its_port_is_still_a_listener() {
        // Found by proptest_webhooks: user1's listener in capitals with :443, seen from
        // user10's namespace, was refused where a foreign listener is rewritten.
        let user10 = "https://el-ct-listener-user10-toolings.apps.cluster-abc.example.com/";
        for url in [
            "https://EL-CT-LISTENER-user1-toolings.apps.cluster-abc.example.com:443",
            "https://el-ct-listener-user1-toolings.apps.cluster-abc.example.com:443/",
            "HTTPS://el-ct-listener-user1-toolings.APPS.cluster-abc.example.com/",
        ] {
            assert!(
                matches!(
                    decide(Some(url), user10, &settings(OnForeignListener::Rewrite)),
                    UrlDecision::Rewrite(_)
                ),
                "{url}"
            );
        }
    }

    /// `decide` with `allowed` as the allowed prefixes.
    fn decide_allowing(url: &str, allowed: &[String]) -> UrlDecision {
        let destinations = Destinations {
            template: TEMPLATE,
            allowed,
            on_foreign: OnForeignListener::Rewrite,
        };
        decide(Some(url), LISTENER, &destinations)
    }

    fn refused_saying(decision: UrlDecision, what: &str) {
        match decision {
            UrlDecision::Refuse(why) => assert!(why.contains(what), "{why}"),
            other => panic!("expected a refusal saying {what:?}: {other:?}"),
        }
    }

    #[test]
    fn no_allowed_prefix_allows_nothing_and_each_allows_its_own() {
        refused_saying(
            decide_allowing("https://evil.example.net/", &[]),
            "is not this tenant's EventListener",
        );
        let two = [
            "https://hooks.example.com/alerts/".to_owned(),
            "https://pager.example.org/v1/".to_owned(),
        ];
        for url in [
            "https://hooks.example.com/alerts/a",
            "https://pager.example.org/v1/b",
        ] {
            assert_eq!(
                decide_allowing(url, &two),
                UrlDecision::Keep(Destination::Allowed),
                "{url}"
            );
        }
        refused_saying(
            decide_allowing("https://pager.example.org/v2/b", &two),
            "is not under allowedWebhookUrls",
        );
    }

    #[test]
    fn a_prefix_compares_scheme_host_and_path_exactly() {
        let ip = ["https://203.0.113.5/alerts/".to_owned()];
        assert_eq!(
            decide_allowing("https://203.0.113.5/alerts/x", &ip),
            UrlDecision::Keep(Destination::Allowed)
        );
        for other in [
            "https://198.51.100.7/alerts/x",
            "https://[2001:db8::1]/alerts/x",
            "https://203.0.113.50/alerts/x",
        ] {
            refused_saying(
                decide_allowing(other, &ip),
                "is not under allowedWebhookUrls",
            );
        }
        // Paths are case-sensitive; schemes are compared whole.
        refused_saying(
            decide(
                Some("https://hooks.example.com/ALERTS/x"),
                LISTENER,
                &settings(OnForeignListener::Rewrite),
            ),
            "is not under allowedWebhookUrls",
        );
        assert!(!allowed_by_prefix(
            "https://el.team-a.svc:8080/x",
            "http://el.team-a.svc:8080/"
        ));
        assert!(!allowed_by_prefix(
            "http://el.team-a.svc:8080/x",
            "https://el.team-a.svc:8080/"
        ));
    }

    #[test]
    fn what_a_parser_rewrites_is_refused_wherever_it_hides() {
        let s = settings(OnForeignListener::Rewrite);
        for (url, what) in [
            (
                "https://hooks.example.com/alerts/..%5c..%5cadmin",
                "an encoded",
            ),
            (
                "https://hooks.example.com/alerts/..%2f..%2fadmin",
                "an encoded",
            ),
            (
                "https://hooks.example.com/alerts/..%2F..%2Fadmin",
                "an encoded",
            ),
            (
                "https://hooks.example.com/alerts/..%5C..%5Cadmin",
                "an encoded",
            ),
            ("https://hooks.example.com/alerts/x/%2E%2E/y", "an encoded"),
            (
                "https://hooks.example.com/alerts/x/..?a",
                "a '.' or '..' path segment",
            ),
            (
                "https://hooks.example.com/alerts/x/..#a",
                "a '.' or '..' path segment",
            ),
            (
                "https://hooks.example.com/alerts/x/../y?r=http://z",
                "a '.' or '..' path segment",
            ),
            (
                "https://hooks.example.com/alerts/a\u{7f}",
                "whitespace or control characters",
            ),
            (
                "https://hooks.example.com/alerts/a\tb",
                "whitespace or control characters",
            ),
        ] {
            refused_saying(decide(Some(url), LISTENER, &s), what);
        }
        // A byte past ASCII is no control character: Go sends it as it is.
        assert_eq!(
            decide(Some("https://hooks.example.com/alerts/é"), LISTENER, &s),
            UrlDecision::Keep(Destination::Allowed)
        );
    }

    #[test]
    fn user_information_is_read_as_go_reads_it() {
        let s = settings(OnForeignListener::Rewrite);
        // Go's url.Parse refuses these characters in user information ("invalid
        // userinfo"), so Alertmanager would not load the configuration.
        for url in [
            "https://a|b@hooks.example.com/alerts/",
            "https://a^b@hooks.example.com/alerts/",
            "https://a\"b@hooks.example.com/alerts/",
            "https://a@b|c@hooks.example.com/alerts/",
        ] {
            refused_saying(
                decide(Some(url), LISTENER, &s),
                "user information Go's URL parser refuses",
            );
        }
        // The host is what follows the last '@': a fullwidth letter there is refused,
        // though the WHATWG parser would map it to the allowed host.
        refused_saying(
            decide(Some("https://u@ｈooks.example.com/alerts/"), LISTENER, &s),
            "a character Go's URL parser refuses in a host",
        );
        for url in [
            "https://u:p@hooks.example.com/alerts/",
            "https://u:p%40ss@hooks.example.com/alerts/",
            "https://%41@hooks.example.com/alerts/",
        ] {
            assert_eq!(
                decide(Some(url), LISTENER, &s),
                UrlDecision::Keep(Destination::Allowed),
                "{url}"
            );
        }
        refused_saying(
            decide(Some("https://u@hooks.ex%61mple.com/alerts/"), LISTENER, &s),
            "a percent-escape in the host",
        );
        refused_saying(
            decide(Some("https://u@/alerts/"), LISTENER, &s),
            "an empty host",
        );
        refused_saying(
            decide(Some("1https://hooks.example.com/alerts/"), LISTENER, &s),
            "a malformed scheme",
        );
    }

    #[test]
    fn the_listeners_path_is_compared_exactly() {
        let listener = "https://el-user1.apps.example.com/hooks";
        assert!(same_destination(
            "https://EL-USER1.apps.example.com:443/hooks",
            listener
        ));
        assert!(!same_destination(
            "https://el-user1.apps.example.com/HOOKS",
            listener
        ));
        let s = settings(OnForeignListener::Rewrite);
        refused_saying(
            decide(
                Some("https://el-user1.apps.example.com/HOOKS"),
                listener,
                &s,
            ),
            "is not this tenant's EventListener",
        );
    }

    #[test]
    fn a_template_with_or_without_spaces_is_a_placeholder() {
        for url in [
            "https://hooks.example.com/alerts/{{.GroupLabels.team}}",
            "https://hooks.example.com/alerts/{{ .GroupLabels.team }}",
        ] {
            assert!(has_unfilled_placeholder(url), "{url}");
            assert!(matches!(
                decide(Some(url), LISTENER, &settings(OnForeignListener::Rewrite)),
                UrlDecision::Rewrite(why) if why.contains("still holds placeholders")
            ));
        }
    }

    #[test]
    fn listener_shapes_need_dns_characters_where_the_placeholders_stood() {
        assert!(!has_listener_shape(
            "https://el-ct-listener-a_b-toolings.apps.x/",
            TEMPLATE
        ));
        assert!(has_listener_shape(
            "https://el-ct-listener-a-b-toolings.apps.x/",
            TEMPLATE
        ));
        // A template without placeholders is its one URL, nothing under it.
        let fixed = "https://listener.example.com/";
        assert!(has_listener_shape(fixed, fixed));
        assert!(!has_listener_shape("https://listener.example.com/x", fixed));
    }

    #[test]
    fn a_template_with_credentials_or_a_lookalike_service_host_is_refused() {
        let err = check_template("https://:secret@el-{user}.{clusterDomain}/").unwrap_err();
        assert!(err.contains("carries credentials"), "{err}");
        assert_eq!(
            service_namespace_of("https://el.victim-ns.svcx.evil.net/"),
            None
        );
    }
}
