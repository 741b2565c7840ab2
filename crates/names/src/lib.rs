//! Names Kubernetes and Prometheus accept: label and metric names, annotation and label
//! keys, DNS labels and subdomains. Pure predicates, shared by settings validation, the
//! tenancy rules and the checks; depends on nothing.

/// A label or annotation key: an optional DNS-subdomain prefix and `/`, then a name of
/// at most 63 letters, digits, `-`, `_` and `.`, starting and ending alphanumeric.
pub fn check_qualified_name(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let b = name.as_bytes();
    let name_ok = !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric);
    if name_ok && prefix.is_none_or(is_dns_name) {
        Ok(())
    } else {
        Err(format!(
            "{key:?} is not a Kubernetes annotation or label key (an optional DNS prefix and '/', then letters, digits, '-', '_' and '.', e.g. \"openshift.io/requester\")"
        ))
    }
}

/// A Prometheus label name that a user may match on: `[a-zA-Z_][a-zA-Z0-9_]*`, and not
/// one of the `__`-prefixed names Prometheus reserves (`__name__` is the metric name).
pub fn check_label_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let well_formed = match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {
            chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        _ => false,
    };
    if !well_formed {
        return Err(format!(
            "{name:?} is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)"
        ));
    }
    if name.starts_with("__") {
        return Err(format!(
            "{name:?} is reserved by Prometheus (names starting with \"__\")"
        ));
    }
    Ok(())
}

/// A Prometheus metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn check_metric_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if ok {
        Ok(())
    } else {
        Err(format!("{name:?} is not a Prometheus metric name"))
    }
}

/// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
pub fn is_dns_name(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// RFC 1035 label: what Kubernetes accepts as a Service name (starts with a letter).
pub fn is_dns_1035_label(s: &str) -> bool {
    is_dns_label(s) && s.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
}

/// RFC 1123 label: what Kubernetes accepts as a namespace name.
pub fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.first() != Some(&b'-')
        && b.last() != Some(&b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_are_prometheus_label_names_not_reserved() {
        for ok in ["namespace", "_a", "a_1", "A", "kubernetes_namespace"] {
            assert_eq!(check_label_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "1a", "a-b", "a.b", "a:b", "é", "aé", "a\u{0661}"] {
            assert_eq!(
                check_label_name(bad),
                Err(format!(
                    "{bad:?} is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)"
                )),
                "{bad}"
            );
        }
        for reserved in ["__name__", "__meta_x", "__", "___a"] {
            assert_eq!(
                check_label_name(reserved),
                Err(format!(
                    "{reserved:?} is reserved by Prometheus (names starting with \"__\")"
                )),
                "{reserved}"
            );
        }
    }

    #[test]
    fn metric_names_may_hold_colons() {
        for ok in ["up", ":a", "a:b", "_x", "job:rate5m"] {
            assert_eq!(check_metric_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "1a", "a-b", "a.b", "a b", "upé", "é"] {
            assert_eq!(
                check_metric_name(bad),
                Err(format!("{bad:?} is not a Prometheus metric name")),
                "{bad}"
            );
        }
    }

    #[test]
    fn qualified_names_are_kubernetes_keys() {
        let name63 = "a".repeat(63);
        let prefixed = format!("example.com/{name63}");
        for ok in [
            "tenant",
            "1password",
            "openshift.io/requester",
            "a.b_c-d",
            "a",
            name63.as_str(),
            prefixed.as_str(),
        ] {
            assert_eq!(check_qualified_name(ok), Ok(()), "{ok}");
        }
        let name64 = "a".repeat(64);
        for bad in [
            "",
            "-a",
            "a-",
            "_a",
            "a.",
            "a b",
            "a:b",
            "Example.com/x",
            "a/b/c",
            "/a",
            "example.com/",
            name64.as_str(),
        ] {
            assert!(check_qualified_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dns_labels_and_names() {
        let label63 = "a".repeat(63);
        for ok in ["a", "a-b", "0a", "a0", label63.as_str()] {
            assert!(is_dns_label(ok), "{ok}");
        }
        let label64 = "a".repeat(64);
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", label64.as_str()] {
            assert!(!is_dns_label(bad), "{bad}");
        }
        assert!(is_dns_1035_label("a0"));
        assert!(!is_dns_1035_label("0a"));
        assert!(!is_dns_1035_label("-a"));
        assert!(!is_dns_1035_label(""));

        assert!(is_dns_name("apps.cluster-abc.example.com"));
        assert!(!is_dns_name("apps..example.com"));
        assert!(!is_dns_name("apps.example.com."));
        // 253 characters at most: three labels of 63 and one of 61, with their dots.
        let at_limit = format!("{0}.{0}.{0}.{1}", label63, "a".repeat(61));
        assert_eq!(at_limit.len(), 253);
        assert!(is_dns_name(&at_limit));
        let over = format!("{at_limit}a");
        assert!(!is_dns_name(&over));
    }
}
