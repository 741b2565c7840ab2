//! `alerts/bool`: an alert over a `bool` comparison fires for every series it reads.

use promql_parser::parser::token::{self, TokenId};
use promql_parser::parser::Expr;

use super::{Check, Problem};
use crate::promql::bounds::MAX_TREE_DEPTH;
use crate::promql::walk::{children, is_op};

pub const CHECK: Check = Check {
    id: "alerts/bool",
    refuses: "an alert whose result comes from a `bool` comparison (`x < bool 0.05`), or from one a further comparison lets both 0 and 1 through (`>= 0`)",
    why: "a `bool` comparison yields a sample, 0 or 1, for every series: the alert fires whenever the metric exists, and retrains forever",
};

/// Why an alert's result has a sample for every series it reads.
enum AlwaysFires {
    /// A `bool` comparison, 0 or 1 per series, reaches the result.
    Bool,
    /// A further comparison with a number lets both 0 and 1 through.
    PassesBoth { comparison: String },
}

/// An alert over a `bool` comparison has a sample, 0 or 1, for every series it reads,
/// so it fires whenever the series exists — also when a further comparison with a
/// number lets both 0 and 1 through (`(x < bool 0.05) >= 0`).
pub fn always_fires_by_bool(expr: &Expr) -> Option<Problem> {
    let message = match yields_bool_samples(expr, 0)? {
        AlwaysFires::Bool => "its result is a `bool` comparison, which returns 0 or 1 for every series, so the alert fires whenever the series exists; drop `bool` so the comparison filters".to_owned(),
        AlwaysFires::PassesBoth { comparison } => format!(
            "its result is a `bool` comparison (0 or 1 for every series) filtered by `{comparison}`, which passes both 0 and 1, so it filters nothing and the alert fires whenever the series exists; write `== 1` to keep the series where the comparison held (or drop `bool`)"
        ),
    };
    Some(Problem {
        check: &CHECK,
        field: "expr".to_owned(),
        message,
    })
}

/// Whether every series `expr` reads comes out as a sample whose value came from a
/// `bool` comparison: its top, or below operators, aggregations and functions that keep
/// a sample for every input series. A further comparison without `bool` filters again
/// only when it tells 0 from 1: against a number it is evaluated on both.
fn yields_bool_samples(expr: &Expr, depth: usize) -> Option<AlwaysFires> {
    if depth > MAX_TREE_DEPTH {
        return None;
    }
    let below = |e: &Expr| yields_bool_samples(e, depth + 1);
    match expr {
        Expr::Binary(b) if b.op.is_comparison_operator() => {
            if b.return_bool() {
                return Some(AlwaysFires::Bool);
            }
            let (bool_side, number, swapped) =
                match (number_literal(&b.rhs), number_literal(&b.lhs)) {
                    (Some(n), _) => (&b.lhs, n, false),
                    (None, Some(n)) => (&b.rhs, n, true),
                    // Against another vector it filters series by series: not judged here.
                    (None, None) => return None,
                };
            below(bool_side)?;
            let op = b.op.id();
            let passes = |v: f64| {
                let (l, r) = if swapped { (number, v) } else { (v, number) };
                compare(op, l, r)
            };
            if !(passes(0.0) && passes(1.0)) {
                // Exactly one passes: it filters. Neither: it never fires (not this check).
                return None;
            }
            let number = format_number(number);
            let comparison = if swapped {
                format!("{number} {} …", b.op)
            } else {
                format!("… {} {number}", b.op)
            };
            Some(AlwaysFires::PassesBoth { comparison })
        }
        // `and`/`unless` keep the left side's samples; `or` either side's.
        Expr::Binary(b) if is_op(b.op.id(), &[token::T_LAND, token::T_LUNLESS]) => below(&b.lhs),
        // `or` and arithmetic keep a sample for every series on either side.
        Expr::Binary(b) => below(&b.lhs).or_else(|| below(&b.rhs)),
        // Aggregations (and their parameters' results) output a sample for every group.
        Expr::Aggregate(a) => below(&a.expr),
        // `absent(x)` has a sample only when `x` has none: it filters.
        Expr::Call(c) if c.func.name.starts_with("absent") => None,
        Expr::Call(_) | Expr::Paren(_) | Expr::Unary(_) | Expr::Subquery(_) => {
            children(expr).find_map(below)
        }
        Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::Extension(_) => None,
    }
}

/// A number written in the expression: `0.05`, `(1)`, `-1`.
fn number_literal(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::NumberLiteral(n) => Some(n.val),
        Expr::Paren(p) => number_literal(&p.expr),
        Expr::Unary(u) => number_literal(&u.expr).map(|n| -n),
        _ => None,
    }
}

fn compare(op: TokenId, l: f64, r: f64) -> bool {
    match op {
        token::T_EQLC => l == r,
        token::T_NEQ => l != r,
        token::T_LSS => l < r,
        token::T_LTE => l <= r,
        token::T_GTR => l > r,
        token::T_GTE => l >= r,
        _ => false,
    }
}

fn format_number(n: f64) -> String {
    format!("{n}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::alerts_count_values::labels_from_the_value;
    use promql_parser::parser::parse;

    fn value_label(text: &str) -> Option<String> {
        labels_from_the_value(&parse(text).unwrap(), &|l: &str| l == "namespace").map(|p| p.message)
    }

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
            // The bool result need not be a function's first argument.
            "histogram_quantile(0.9, x < bool 1)",
        ] {
            assert!(always(text), "{text}");
        }
    }

    #[test]
    fn the_bool_walk_stops_only_past_the_depth_bound() {
        let nested = |n: usize| format!("{}x < bool 0.05{}", "(".repeat(n), ")".repeat(n));
        assert!(always(&nested(MAX_TREE_DEPTH)), "at the bound");
        assert!(!always(&nested(MAX_TREE_DEPTH + 1)), "past the bound");
        let nested = |n: usize| {
            let (open, close) = ("(".repeat(n), ")".repeat(n));
            format!(r#"{open}count_values("p", x){close}"#)
        };
        assert!(
            value_label(&nested(MAX_TREE_DEPTH)).is_some(),
            "at the bound"
        );
        assert!(
            value_label(&nested(MAX_TREE_DEPTH + 1)).is_none(),
            "past the bound"
        );
    }

    #[test]
    fn filtering_comparisons_do_not() {
        for text in [
            "x < 0.05",
            "(x < bool 0.05) == 1",
            "up unless x < bool 1",
            "absent(x < bool 1)",
            "absent_over_time((x < bool 1)[5m:])",
            "topk(scalar(x < bool 1), y)",
            "x",
            "sum(x) > 3",
        ] {
            assert!(!always(text), "{text}");
        }
    }

    #[test]
    fn bool_filters_that_pass_both_0_and_1_still_always_fire() {
        for (name, text, fires) in [
            (
                "bug report: >= 0 passes 0 and 1",
                r#"(trustyai_meanshift{subcategory="danceability"} < bool 0.05) >= 0"#,
                true,
            ),
            ("> -1", "(x < bool 0.05) > -1", true),
            ("!= 2", "(x < bool 0.05) != 2", true),
            ("<= 1", "(x < bool 0.05) <= 1", true),
            ("number on the left", "1 >= (x < bool 0.05)", true),
            (
                "passes both, then == 1",
                "((x < bool 0.05) >= 0) == 1",
                false,
            ),
            ("== 1 keeps 1", "(x < bool 0.05) == 1", false),
            ("> 0 keeps 1", "(x < bool 0.05) > 0", false),
            ("< 1 keeps 0", "(x < bool 0.05) < 1", false),
            ("0 < keeps 1", "0 < (x < bool 0.05)", false),
            ("neither passes", "(x < bool 0.05) > 1", false),
            ("against a vector", "(x < bool 0.05) >= y", false),
            // Found by cargo-mutants: each operator and number form judged on its own.
            ("< 2 passes both", "(x < bool 0.05) < 2", true),
            ("== 2 passes neither", "(x < bool 0.05) == 2", false),
            ("a parenthesised number", "(x < bool 0.05) >= (0)", true),
            ("a negated number", "(x < bool 0.05) > -(1)", true),
        ] {
            assert_eq!(always(text), fires, "{name}: {text}");
        }
        // The number on the left is shown on the left.
        let problem = always_fires_by_bool(&parse("1 >= (x < bool 0.05)").unwrap()).unwrap();
        assert!(
            problem
                .message
                .contains("`1 >= …`, which passes both 0 and 1"),
            "{}",
            problem.message
        );
        let problem = always_fires_by_bool(&parse("(x < bool 0.05) >= 0").unwrap()).unwrap();
        assert_eq!(problem.field, "expr");
        assert!(
            problem
                .message
                .contains("`… >= 0`, which passes both 0 and 1")
                && problem.message.contains("write `== 1`"),
            "{}",
            problem.message
        );
    }
}
