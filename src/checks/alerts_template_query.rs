//! `alerts/template-query`: alert templates read nothing; they must also parse and
//! call only functions Prometheus knows (it refuses the rule file otherwise).

use serde_json::{Map, Value};

use super::alerts_label_value;
use super::{object_loads, Check, Problem};
use crate::go_template;
pub use crate::go_template::prometheus::{is_known_function, PROMETHEUS_VARIABLES};

pub const CHECK: Check = Check {
    id: "alerts/template-query",
    refuses: "`query` in any label or annotation template",
    why: "templates are not scoped: `query` runs PromQL over every namespace's series and puts the answer in this tenant's alert",
};

// ---------------------------------------------------------------------------------------
// Label and annotation templates

/// What a template is: labels are the alert's identity; annotations only its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKind {
    Label,
    Annotation,
}

/// The template problems of every string in `labels` (field `labels.<key>`) of the
/// alert named `alert`.
pub fn label_templates(labels: Option<&Map<String, Value>>, alert: &str) -> Vec<Problem> {
    map_templates(labels, "labels", TemplateKind::Label, alert)
}

/// The template problems of every string in `annotations` (field `annotations.<key>`)
/// of the alert named `alert`.
pub fn annotation_templates(annotations: Option<&Map<String, Value>>, alert: &str) -> Vec<Problem> {
    map_templates(annotations, "annotations", TemplateKind::Annotation, alert)
}

fn map_templates(
    map: Option<&Map<String, Value>>,
    name: &str,
    kind: TemplateKind,
    alert: &str,
) -> Vec<Problem> {
    map.into_iter()
        .flatten()
        .filter_map(|(key, value)| Some((key, value.as_str()?)))
        .flat_map(|(key, text)| template_problems(&format!("{name}.{key}"), text, kind, alert))
        .collect()
}

/// `text` as much as a message should quote.
fn shown(text: &str) -> String {
    const MAX: usize = 120;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}…", &text[..cut]),
        None => format!("{text:?}"),
    }
}

/// Everything wrong with one label or annotation template:
/// - it must parse (Prometheus refuses the rule file otherwise);
/// - `query` runs PromQL over every namespace's series: never;
/// - functions Prometheus does not know are refused;
/// - a label must not depend on the alert's value (or the evaluation time).
pub fn template_problems(field: &str, text: &str, kind: TemplateKind, alert: &str) -> Vec<Problem> {
    // Without `{{` Go's template is the text itself.
    if !text.contains("{{") {
        return Vec::new();
    }
    let problem = |check: &'static Check, message: String| Problem {
        check,
        field: field.to_owned(),
        message,
    };
    // Prometheus names each alert template `__alert_<alert name>`.
    let template = match go_template::parse(text, PROMETHEUS_VARIABLES, &format!("__alert_{alert}")) {
        Ok(template) => template,
        Err(e) => {
            return vec![problem(
                &object_loads::CHECK,
                format!(
                "{} is not a valid Go template: {e}; Prometheus refuses it as well: fix the template (a literal `{{{{` is written {{{{ \"{{{{\" }}}})",
                shown(text)
            ))]
        }
    };
    let mut problems = Vec::new();
    let instead = match kind {
        TemplateKind::Label => "use this alert's own `$labels.<name>` and constants instead",
        TemplateKind::Annotation => "use this alert's own `$labels.<name>` and `$value` instead",
    };
    if let Some(query) = template.functions.iter().find(|f| f.name == "query") {
        problems.push(problem(
            &CHECK,
            format!(
            "{} calls `query` (at byte {}), which runs PromQL over every namespace's series (templates are not scoped to the namespace) on every evaluation and puts the answer in this alert; remove it and {instead}",
            shown(text),
            query.offset
        )));
    }
    let mut unknown: Vec<&go_template::Name> = Vec::new();
    for function in &template.functions {
        if !is_known_function(&function.name) && !unknown.iter().any(|u| u.name == function.name) {
            unknown.push(function);
        }
    }
    for function in unknown {
        problems.push(problem(
            &object_loads::CHECK,
            format!(
            "{} calls `{}` (at byte {}), which is neither a Go template builtin nor a Prometheus template function, so Prometheus refuses the template; remove it or use a known function (e.g. `printf`, `humanize`, `toUpper`, `reReplaceAll`)",
            shown(text),
            function.name,
            function.offset
        )));
    }
    if kind == TemplateKind::Label {
        if let Some(source) = alerts_label_value::value_dependence(&template) {
            problems.push(problem(
                &alerts_label_value::CHECK,
                format!(
                "{} depends on the alert's value through {} (at byte {}), so every evaluation with a new value makes a new alert (and a new notification); move it to annotations and keep labels to `$labels.<name>` and constants",
                shown(text),
                source.what,
                source.offset.unwrap_or(0)
            )));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    fn fields(problems: Vec<Problem>) -> Vec<String> {
        let mut fields: Vec<String> = problems.into_iter().map(|p| p.field).collect();
        fields.sort();
        fields
    }

    fn label(text: &str) -> Vec<String> {
        template_problems("labels.p", text, TemplateKind::Label, "A")
            .into_iter()
            .map(|p| p.message)
            .collect()
    }

    fn annotation(text: &str) -> Vec<String> {
        template_problems("annotations.a", text, TemplateKind::Annotation, "A")
            .into_iter()
            .map(|p| p.message)
            .collect()
    }

    const LEAK: &str = r#"{{ with query "secret_metric{namespace=\"user2-test\"}" }}{{ range . }}{{ .Labels.token }}={{ .Value }}{{ end }}{{ end }}"#;

    #[test]
    fn query_is_rejected_in_labels_and_annotations() {
        for (name, messages) in [("annotation", annotation(LEAK)), ("label", label(LEAK))] {
            assert!(
                messages.iter().any(|m| m.contains(
                    "calls `query` (at byte 8), which runs PromQL over every namespace's series"
                )),
                "{name}: {messages:?}"
            );
        }
        // In an annotation query is the one problem.
        assert_eq!(annotation(LEAK).len(), 1);
    }

    /// Only `query` itself runs PromQL: another name beginning so is an unknown function.
    #[test]
    fn a_function_named_like_query_is_unknown_not_query() {
        let messages = annotation("{{ queryRange 1 }}");
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(
            messages[0].contains("calls `queryRange` (at byte 3), which is neither"),
            "{messages:?}"
        );
    }

    #[test]
    fn labels_that_depend_on_the_value_are_rejected() {
        for (name, text, through) in [
            ("plain", "{{ $value }}", "`$value` (at byte 3)"),
            ("humanize", "{{humanize $value}}", "`$value`"),
            ("field", "p={{ .Value }}", "`.Value` (at byte 5)"),
            ("root field", "{{ $.Value }}", "`$.Value`"),
            (
                "bug report: }} in a string",
                r#"{{ print "}}" $value }}"#,
                "`$value` (at byte 14)",
            ),
            ("variable", "{{ $v := $value }}{{ $v }}", "`$value`"),
            (
                "assigned",
                "{{ $v := 1 }}{{ if true }}{{ $v = .Value }}{{ end }}{{ $v }}",
                "`.Value`",
            ),
            ("branch", "{{ if gt $value 0.5 }}high{{ end }}", "`$value`"),
            ("printf", r#"{{ printf "%.2f" $value }}"#, "`$value`"),
            ("pipeline", "{{ $value | humanizePercentage }}", "`$value`"),
            ("parenthesised", "{{ (humanize $value) }}", "`$value`"),
            ("whole data", "{{ . }}", "`.`/`$`"),
            (
                "whole data as argument",
                r#"{{ printf "%v" $ }}"#,
                "`.`/`$`",
            ),
            (
                "with the data",
                "{{ with . }}{{ .Value }}{{ end }}",
                "`.Value`",
            ),
            (
                "defined template",
                r#"{{ define "v" }}{{ .Value }}{{ end }}{{ template "v" . }}"#,
                "`.Value`",
            ),
            ("block", r#"{{ block "v" $ }}{{ . }}{{ end }}"#, "`.`/`$`"),
            ("now", "{{ now }}", "`now`"),
            ("trimmed", "{{- $value -}}", "`$value`"),
        ] {
            let messages = label(text);
            assert!(
                messages.iter().any(|m| m.contains(&format!("depends on the alert's value through {through}"))),
                "{name}: {text}: {messages:?}"
            );
        }
        // The second bug report: query as the source is reported as query.
        let messages = label(r#"{{ with query "up" }}{{ . | first | value }}{{ end }}"#);
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(messages[0].contains("calls `query`"), "{messages:?}");
    }

    #[test]
    fn labels_and_constants_stay_accepted() {
        for (name, text) in [
            ("own label", "{{ $labels.namespace }}"),
            ("root labels", "{{ $.Labels.namespace }}"),
            ("dot labels", "{{ .Labels.model }}"),
            (
                "external",
                "{{ $externalLabels.cluster }} {{ $externalURL }}",
            ),
            ("literal }}", "a }} b"),
            ("no template", "$value without a template"),
            ("constant", "critical"),
            (
                "functions of labels",
                r#"{{ $labels.model | toUpper }}-{{ reReplaceAll "-.*" "" $labels.pod }}"#,
            ),
            (
                "range over labels",
                "{{ range $k, $v := $labels }}{{ $k }}={{ $v }},{{ end }}",
            ),
            ("with labels", "{{ with $labels }}{{ .namespace }}{{ end }}"),
            (
                "if on a label",
                r#"{{ if eq $labels.severity "critical" }}page{{ else }}ticket{{ end }}"#,
            ),
            (
                "defined template on labels",
                r#"{{ define "n" }}{{ . }}{{ end }}{{ template "n" $labels.namespace }}"#,
            ),
            ("unused value declaration", "{{ $v := $value }}constant"),
            ("comment", "{{/* $value */}}x"),
        ] {
            assert_eq!(label(text), Vec::<String>::new(), "{name}: {text}");
        }
        for (name, text) in [
            ("humanize", "{{ humanize $value }}"),
            ("printf", r#"{{ printf "%.2f" $value }}"#),
            ("labels and value", "{{ $labels.namespace }} p={{ $value }}"),
            ("the whole data", "{{ . }}"),
        ] {
            assert_eq!(annotation(text), Vec::<String>::new(), "{name}: {text}");
        }
    }

    #[test]
    fn unknown_functions_and_unparsable_templates_are_rejected() {
        let messages = annotation("{{ .Values.x | quote }} {{ quote 1 }}");
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(
            messages[0].contains("calls `quote` (at byte 15), which is neither a Go template builtin nor a Prometheus template function"),
            "{messages:?}"
        );
        for (name, text, error) in [
            ("unclosed", "{{ $value ", "unclosed action at byte 10"),
            (
                "undefined",
                "{{ $nope }}",
                r#"undefined variable "$nope" at byte 3"#,
            ),
            ("no end", "{{ if 1 }}x", "unexpected EOF at byte 11"),
        ] {
            for messages in [label(text), annotation(text)] {
                assert!(
                    messages.len() == 1
                        && messages[0].contains(&format!("is not a valid Go template: {error}")),
                    "{name}: {messages:?}"
                );
            }
        }
        // A second definition of the alert's own template (`__alert_A`) does not load.
        let messages = annotation(r#"{{ define "__alert_A" }}x{{ end }}"#);
        assert!(
            messages.len() == 1
                && messages[0].contains("multiple definition of template \"__alert_A\""),
            "{messages:?}"
        );
    }

    #[test]
    fn every_label_and_annotation_is_checked() {
        let labels = json!({
            "severity": "critical",
            "p": "{{ $value }}",
            "h": "{{humanize $value}}",
            "v": "{{ .Value }}",
            "who": "{{ $labels.namespace }}",
            "literal": "$value without a template",
            "n": 3,
        });
        assert_eq!(
            fields(label_templates(labels.as_object(), "A")),
            ["labels.h", "labels.p", "labels.v"]
        );
        assert!(label_templates(None, "A").is_empty());
        let annotations = json!({"ok": "{{ $value }}", "leak": LEAK});
        assert_eq!(
            fields(annotation_templates(annotations.as_object(), "A")),
            ["annotations.leak"]
        );
    }
}
