//! Checks that an alerting rule means what it says, one small function per check.
//!
//! Each check takes what it needs of the rule and returns its problems in one shape,
//! [`Problem`]: the rule field it is about and what to do. Adding a check touches only
//! this file and the one line in `prometheus_rule` that runs it.

use promql_parser::parser::token::{self, TokenId};
use promql_parser::parser::Expr;
use serde_json::{Map, Value};

use crate::bounded_parse::MAX_TREE_DEPTH;
use crate::promql_walk::children;

/// One thing wrong with a rule: the field (`expr`, `labels.p`) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

/// An alert over a `bool` comparison has a sample, 0 or 1, for every series it reads,
/// so it fires whenever the series exists.
pub fn always_fires_by_bool(expr: &Expr) -> Option<Problem> {
    yields_bool_samples(expr, 0).then(|| Problem {
        field: "expr".to_owned(),
        message: "its result is a `bool` comparison, which returns 0 or 1 for every series, so the alert fires whenever the series exists; drop `bool` so the comparison filters".to_owned(),
    })
}

/// Whether every series `expr` reads comes out as a sample whose value came from a
/// `bool` comparison: its top, or below operators, aggregations and functions that keep
/// a sample for every input series. A further comparison without `bool` filters again.
fn yields_bool_samples(expr: &Expr, depth: usize) -> bool {
    if depth > MAX_TREE_DEPTH {
        return false;
    }
    let below = |e: &Expr| yields_bool_samples(e, depth + 1);
    match expr {
        Expr::Binary(b) if b.op.is_comparison_operator() => b.return_bool(),
        // `and`/`unless` keep the left side's samples; `or` either side's.
        Expr::Binary(b) if is_op(b.op.id(), &[token::T_LAND, token::T_LUNLESS]) => below(&b.lhs),
        // `or` and arithmetic keep a sample for every series on either side.
        Expr::Binary(b) => below(&b.lhs) || below(&b.rhs),
        // Aggregations (and their parameters' results) output a sample for every group.
        Expr::Aggregate(a) => below(&a.expr),
        // `absent(x)` has a sample only when `x` has none: it filters.
        Expr::Call(c) if c.func.name.starts_with("absent") => false,
        Expr::Call(_) | Expr::Paren(_) | Expr::Unary(_) | Expr::Subquery(_) => {
            children(expr).any(below)
        }
        Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::Extension(_) => false,
    }
}

fn is_op(op: TokenId, among: &[TokenId]) -> bool {
    among.contains(&op)
}

/// An alert's labels are its identity: a label that templates the value makes a new
/// alert, a new notification and a new retraining run every time the value moves.
pub fn labels_change_every_evaluation(labels: Option<&Map<String, Value>>) -> Vec<Problem> {
    labels
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| Some((key, value.as_str()?)))
        .filter(|(_, value)| templates_the_value(value))
        .map(|(key, value)| Problem {
            field: format!("labels.{key}"),
            message: format!(
                "{value:?} templates the alert's value, so every evaluation makes a new alert (and a new notification); move it to annotations"
            ),
        })
        .collect()
}

/// `{{ $value }}`, `{{ humanize $value }}`, `{{ .Value }}` inside a Go template action.
fn templates_the_value(text: &str) -> bool {
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let action = &rest[open + 2..];
        let end = action.find("}}").unwrap_or(action.len());
        let action = &action[..end];
        if action.contains("$value") || action.contains(".Value") {
            return true;
        }
        rest = &rest[open + 2 + end..];
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use promql_parser::parser::parse;
    use serde_json::json;

    fn always(text: &str) -> bool {
        always_fires_by_bool(&parse(text).unwrap()).is_some()
    }

    #[test]
    fn bool_results_always_fire() {
        for text in [
            "x < bool 0.05",
            "(x < bool 0.05)",
            "x < bool 0.05 and on() vector(1)",
            "up == 1 or x < bool 0.05",
            "min(x < bool 0.05)",
            "max_over_time((x < bool 0.05)[5m:])",
            "abs(x < bool 0.05)",
            r#"label_replace(x < bool 0.05, "a", "b", "c", "d")"#,
            "(x < bool 0.05) * 1",
            "count_values(\"v\", x > bool 1)",
        ] {
            assert!(always(text), "{text}");
        }
    }

    #[test]
    fn filtering_comparisons_do_not() {
        for text in [
            "x < 0.05",
            "(x < bool 0.05) == 1",
            "up unless x < bool 1",
            "absent(x < bool 1)",
            "topk(scalar(x < bool 1), y)",
            "x",
            "sum(x) > 3",
        ] {
            assert!(!always(text), "{text}");
        }
    }

    #[test]
    fn value_templates_in_labels_are_found() {
        let labels = json!({
            "severity": "critical",
            "p": "{{ $value }}",
            "h": "{{humanize $value}}",
            "v": "{{ .Value }}",
            "who": "{{ $labels.namespace }}",
            "literal": "$value without a template",
        });
        let mut found: Vec<String> = labels_change_every_evaluation(labels.as_object())
            .into_iter()
            .map(|p| p.field)
            .collect();
        found.sort();
        assert_eq!(found, ["labels.h", "labels.p", "labels.v"]);
        assert!(labels_change_every_evaluation(None).is_empty());
    }
}
