//! `alerts/info`: `info()` reads only the tenant's info series.

use promql_parser::parser::Expr;

use super::{Check, Problem};
use crate::promql::scope::Scope;
use crate::promql::walk::walk;

pub const CHECK: Check = Check {
    id: "alerts/info",
    refuses: "one-argument `info(x)`, in any rule",
    why:
        "without a data-label selector it joins the info series (`target_info`) of every namespace",
};

/// `info(x)` with one argument joins `x` with the info series (`target_info`) of every
/// namespace; with the data-label selector as second argument it reads only those, and
/// that selector is scoped like any other.
pub fn info_without_data_selector(expr: &Expr, scope: &Scope) -> Option<Problem> {
    let mut found: Option<String> = None;
    // The parse bound keeps the tree within the walk's depth.
    let _ = walk(expr, &mut |node| {
        if let Expr::Call(c) = node {
            if c.func.name == "info" && c.args.args.len() == 1 && found.is_none() {
                found = Some(node.to_string());
            }
        }
    });
    let call = found?;
    Some(Problem {
        check: &CHECK,
        field: "expr".to_owned(),
        message: format!(
            "`{call}` has no data-label selector, so it reads the info series (`target_info`) of every namespace; write the selector as the second argument: `info(<expr>, {{{}={:?}}})`",
            scope.label, scope.namespace
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use promql_parser::parser::parse;

    #[test]
    fn one_argument_info_is_rejected_in_every_rule() {
        let scope = Scope {
            label: "namespace",
            namespace: "user1-test",
            on_conflict: crate::promql::scope::OnConflict::Reject,
        };
        for text in ["info(up)", "sum(info(rate(x[5m])))", "up and info(up)"] {
            let problem = info_without_data_selector(&parse(text).unwrap(), &scope)
                .unwrap_or_else(|| panic!("{text}"));
            assert!(
                problem
                    .message
                    .contains(r#"write the selector as the second argument: `info(<expr>, {namespace="user1-test"})`"#),
                "{}",
                problem.message
            );
        }
        let scoped = parse(r#"info(up, {k8s_cluster_name=~".+"})"#).unwrap();
        assert_eq!(info_without_data_selector(&scoped, &scope), None);
    }

    /// Of several, the first in the text is named.
    #[test]
    fn the_first_unscoped_info_is_named() {
        let scope = Scope {
            label: "namespace",
            namespace: "user1-test",
            on_conflict: crate::promql::scope::OnConflict::Reject,
        };
        let problem =
            info_without_data_selector(&parse("info(a) + info(b)").unwrap(), &scope).unwrap();
        assert!(
            problem
                .message
                .starts_with("`info(a)` has no data-label selector"),
            "{}",
            problem.message
        );
        // `info()` without arguments never parses, so it is never asked about.
        assert!(parse("info()").is_err());
    }
}
