//! What Prometheus (2.42, the release the policy judges by) gives an alert's label and
//! annotation templates: the variables it declares before them and the functions it
//! defines. Go's parser refuses a call to any other function ("function not defined"),
//! and Prometheus with it the whole rule file.

/// The variables Prometheus declares before an alert's label and annotation templates
/// (`{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}`
/// `{{$externalURL := .ExternalURL}}{{$value := .Value}}`).
pub const PROMETHEUS_VARIABLES: &[&str] = &["$labels", "$externalLabels", "$externalURL", "$value"];

/// Go's `text/template` builtins.
pub const GO_BUILTINS: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
    "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
];

/// Prometheus's template functions for alert templates, as Prometheus 2.42 has them (the
/// release the policy judges by: `toDuration` and `now` came with 3.6 and
/// `urlQueryEscape` with 3.8, and 2.42 refuses a template calling them, "function not
/// defined", and with it the whole rule file).
pub const PROMETHEUS_FUNCTIONS: &[&str] = &[
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "args",
    "reReplaceAll",
    "safeHtml",
    "match",
    "title",
    "toUpper",
    "toLower",
    "graphLink",
    "tableLink",
    "sortByLabel",
    "stripPort",
    "stripDomain",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "toTime",
    "pathPrefix",
    "externalURL",
    "parseDuration",
];

/// Whether Prometheus's alert templates know the function `name`.
pub fn is_known_function(name: &str) -> bool {
    GO_BUILTINS.contains(&name) || PROMETHEUS_FUNCTIONS.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_prometheus_2_42_functions_are_known() {
        for name in GO_BUILTINS.iter().chain(PROMETHEUS_FUNCTIONS) {
            assert!(is_known_function(name));
        }
        assert!(!is_known_function("tmpl") && !is_known_function("quote"));
        // Newer than Prometheus 2.42, whose promtool answers "function not defined".
        for newer in ["now", "toDuration", "urlQueryEscape"] {
            assert!(!is_known_function(newer), "{newer}");
        }
    }
}
