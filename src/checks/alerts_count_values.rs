//! `alerts/count-values`: an alert's labels must not carry its value.

use promql_parser::label::Labels;
use promql_parser::parser::token;
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{Expr, LabelModifier, VectorMatchCardinality};

use super::{Check, Problem};
use crate::promql::bounds::MAX_TREE_DEPTH;
use crate::promql::walk::{children, is_op};

pub const CHECK: Check = Check {
    id: "alerts/count-values",
    refuses: "an alert whose result is `count_values(\"p\", …)` with label `p` kept, whether or not a rule label overrides it",
    why: "each new value becomes a new label set, so a new alert and a new retraining run on every change; overridden, two values at once collide and Prometheus fails the rule's evaluation",
};

/// `count_values("p", …)` as an alert's result: each sample gets label `p` set to its
/// value, so each new value is a new alert. A rule label (or `alertname`) that
/// overrides `p` (`overridden`) is no way out: Prometheus applies rule labels after the
/// expression's, so two samples that differ only in their value get one label set, and
/// it fails the whole evaluation ("vector contains metrics with the same labelset after
/// applying alert labels"): no alert fires while two values coexist.
pub fn labels_from_the_value(expr: &Expr, overridden: &dyn Fn(&str) -> bool) -> Option<Problem> {
    let label = count_values_label(expr, 0)?;
    let aggregate = format!(
        "aggregate it away (e.g. `count(count_values({label:?}, …))` or `count by (<labels>) (…)`)"
    );
    let message = if overridden(&label) {
        format!(
            "its result comes from `count_values({label:?}, …)`, which puts each sample's value in label {label:?}; the rule sets {label:?} itself after the expression, so two samples with different values collide in one label set and Prometheus fails the rule's evaluation (no alert fires while both exist); {aggregate}"
        )
    } else {
        format!(
            "its result comes from `count_values({label:?}, …)`, which puts each sample's value in label {label:?}, so every new value makes a new alert (and a new notification); {aggregate}"
        )
    };
    Some(Problem {
        check: &CHECK,
        field: "expr".to_owned(),
        message,
    })
}

/// The label a `count_values` at the result's top emits and the result keeps.
fn count_values_label(expr: &Expr, depth: usize) -> Option<String> {
    if depth > MAX_TREE_DEPTH {
        return None;
    }
    let below = |e: &Expr| count_values_label(e, depth + 1);
    match expr {
        Expr::Aggregate(a) if a.op.id() == token::T_COUNT_VALUES => match a.param.as_deref() {
            Some(param) => string_literal(param),
            None => None,
        },
        // Selecting aggregations keep every label of what they select.
        Expr::Aggregate(a)
            if is_op(
                a.op.id(),
                &[
                    token::T_TOPK,
                    token::T_BOTTOMK,
                    token::T_LIMITK,
                    token::T_LIMIT_RATIO,
                ],
            ) =>
        {
            below(&a.expr)
        }
        Expr::Aggregate(a) => {
            let label = below(&a.expr)?;
            let kept = match &a.modifier {
                Some(LabelModifier::Include(by)) => has(by, &label),
                Some(LabelModifier::Exclude(without)) => !has(without, &label),
                None => false,
            };
            kept.then_some(label)
        }
        Expr::Binary(b) if is_op(b.op.id(), &[token::T_LAND, token::T_LUNLESS]) => below(&b.lhs),
        Expr::Binary(b) if b.op.id() == token::T_LOR => below(&b.lhs).or_else(|| below(&b.rhs)),
        Expr::Binary(b) => {
            let scalar = |e: &Expr| e.value_type() == ValueType::Scalar;
            match (scalar(&b.lhs), scalar(&b.rhs)) {
                (true, true) => None,
                (false, true) => below(&b.lhs),
                (true, false) => below(&b.rhs),
                (false, false) => {
                    let modifier = b.modifier.as_ref();
                    let card = modifier.map(|m| &m.card);
                    let included = |label: &String, labels: &Labels| has(labels, label);
                    match card {
                        Some(VectorMatchCardinality::ManyToOne(include)) => {
                            below(&b.lhs).or_else(|| below(&b.rhs).filter(|l| included(l, include)))
                        }
                        Some(VectorMatchCardinality::OneToMany(include)) => {
                            below(&b.rhs).or_else(|| below(&b.lhs).filter(|l| included(l, include)))
                        }
                        _ => {
                            let label = below(&b.lhs)?;
                            let kept = match modifier.and_then(|m| m.matching.as_ref()) {
                                Some(LabelModifier::Include(on)) => has(on, &label),
                                Some(LabelModifier::Exclude(ignoring)) => !has(ignoring, &label),
                                None => true,
                            };
                            kept.then_some(label)
                        }
                    }
                }
            }
        }
        Expr::Call(c) => match c.func.name {
            "absent" | "absent_over_time" | "scalar" | "vector" | "time" => None,
            _ => c.args.args.iter().find_map(|arg| below(arg)),
        },
        Expr::Paren(_) | Expr::Unary(_) | Expr::Subquery(_) => children(expr).find_map(below),
        Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::Extension(_) => None,
    }
}

fn string_literal(expr: &Expr) -> Option<String> {
    match expr {
        Expr::StringLiteral(s) => Some(s.val.clone()),
        Expr::Paren(p) => string_literal(&p.expr),
        _ => None,
    }
}

fn has(labels: &Labels, label: &str) -> bool {
    labels.labels.iter().any(|l| l == label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use promql_parser::parser::parse;

    fn value_label(text: &str) -> Option<String> {
        labels_from_the_value(&parse(text).unwrap(), &|l: &str| l == "namespace").map(|p| p.message)
    }

    /// Overridden, the label no longer makes new alerts, but two values at once collide:
    /// still refused, saying why.
    #[test]
    fn an_overridden_count_values_label_is_refused_as_a_collision() {
        let message = value_label(r#"count_values("namespace", x)"#).expect("refused");
        assert!(message.contains(r#"the rule sets "namespace" itself after the expression, so two samples with different values collide"#), "{message}");
        let message = value_label(r#"count_values("p", x)"#).expect("refused");
        assert!(
            message.contains("so every new value makes a new alert"),
            "{message}"
        );
    }

    #[test]
    fn count_values_as_the_result_is_rejected_naming_the_label() {
        for (name, text) in [
            ("bug report", r#"count_values("p", x < 0.05)"#),
            ("parenthesised", r#"(count_values("p", x))"#),
            ("filtered", r#"count_values("p", x) > 0"#),
            ("number on the left", r#"0 < count_values("p", x)"#),
            ("and", r#"count_values("p", x) and on() vector(1)"#),
            ("unless", r#"count_values("p", x) unless y"#),
            ("or, right side", r#"y or count_values("p", x)"#),
            ("by keeps it", r#"sum by (p) (count_values("p", x))"#),
            (
                "without keeps it",
                r#"max without (q) (count_values("p", x))"#,
            ),
            ("topk", r#"topk(3, count_values("p", x))"#),
            ("bottomk", r#"bottomk(1, count_values("p", x))"#),
            ("function", r#"abs(count_values("p", x))"#),
            (
                "group_left from the right",
                r#"y * on() group_left(p) count_values("p", x)"#,
            ),
            ("on keeps it", r#"count_values("p", x) > on(p) y"#),
            // Found by cargo-mutants: group_right keeps the right side's labels, and
            // copies the listed ones from the left.
            (
                "group_right, many side",
                r#"y * on() group_right count_values("p", x)"#,
            ),
            (
                "group_right copies it",
                r#"count_values("p", x) * on() group_right(p) y"#,
            ),
            ("a parenthesised label name", r#"count_values(("p"), x)"#),
            ("sort keeps it", r#"sort(count_values("p", x))"#),
            ("sort_desc keeps it", r#"sort_desc(count_values("p", x))"#),
        ] {
            let message = value_label(text).unwrap_or_else(|| panic!("{name}: {text} accepted"));
            assert!(message.contains(r#"label "p""#), "{name}: {message}");
        }
        for (name, text) in [
            ("aggregated away", r#"count(count_values("p", x))"#),
            ("by without it", r#"sum by (q) (count_values("p", x))"#),
            (
                "without drops it",
                r#"sum without (p) (count_values("p", x))"#,
            ),
            (
                "ignoring drops it",
                r#"count_values("p", x) > ignoring(p) y"#,
            ),
            ("on without it", r#"count_values("p", x) > on(q) y"#),
            ("absent", r#"absent(count_values("p", x))"#),
            (
                "absent_over_time",
                r#"absent_over_time(count_values("p", x)[5m:])"#,
            ),
            ("scalar", r#"vector(scalar(count_values("p", x)))"#),
            ("plain", "x < 0.05"),
        ] {
            assert_eq!(value_label(text), None, "{name}: {text}");
        }
    }
}
