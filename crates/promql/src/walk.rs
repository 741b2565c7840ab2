//! The one walk over a PromQL syntax tree that every check shares.
//!
//! `children` lists a node's direct sub-expressions in text order, with an exhaustive
//! match: a node kind the parser grows fails to compile here instead of being skipped.
//! Aggregation parameters (`topk(scalar(x), y)`), function arguments, subquery and
//! parenthesised bodies and both sides of binary operators are all children.

use promql_parser::parser::token::TokenId;
use promql_parser::parser::Expr;

use crate::bounds::{ParseRefusal, MAX_TREE_DEPTH};

/// The walk went deeper than [`MAX_TREE_DEPTH`] (the parse bound should stop this first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooDeep;

/// A tree too deep to walk is refused as one past the depth bound.
impl From<TooDeep> for ParseRefusal {
    fn from(_: TooDeep) -> Self {
        ParseRefusal::TooDeep {
            bound: MAX_TREE_DEPTH + 1,
        }
    }
}

/// `expr`'s direct sub-expressions, in the order they appear in the text.
pub fn children(expr: &Expr) -> impl Iterator<Item = &Expr> {
    let (first, second, args): (Option<&Expr>, Option<&Expr>, &[Box<Expr>]) = match expr {
        Expr::Aggregate(a) => (a.param.as_deref(), Some(&a.expr), &[]),
        Expr::Unary(u) => (Some(&u.expr), None, &[]),
        Expr::Binary(b) => (Some(&b.lhs), Some(&b.rhs), &[]),
        Expr::Paren(p) => (Some(&p.expr), None, &[]),
        Expr::Subquery(s) => (Some(&s.expr), None, &[]),
        Expr::Call(c) => (None, None, &c.args.args),
        Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::Extension(_) => (None, None, &[]),
    };
    first
        .into_iter()
        .chain(second)
        .chain(args.iter().map(|arg| &**arg))
}

/// Mutable twin of [`children`]; the same nodes in the same order.
pub fn children_mut(expr: &mut Expr) -> impl Iterator<Item = &mut Expr> {
    let (first, second, args): (Option<&mut Expr>, Option<&mut Expr>, &mut [Box<Expr>]) = match expr
    {
        Expr::Aggregate(a) => (a.param.as_deref_mut(), Some(&mut a.expr), &mut []),
        Expr::Unary(u) => (Some(&mut u.expr), None, &mut []),
        Expr::Binary(b) => (Some(&mut b.lhs), Some(&mut b.rhs), &mut []),
        Expr::Paren(p) => (Some(&mut p.expr), None, &mut []),
        Expr::Subquery(s) => (Some(&mut s.expr), None, &mut []),
        Expr::Call(c) => (None, None, &mut c.args.args),
        Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::Extension(_) => (None, None, &mut []),
    };
    first
        .into_iter()
        .chain(second)
        .chain(args.iter_mut().map(|arg| &mut **arg))
}

/// Calls `visit` on every node, parents before children, in text order.
pub fn walk<'e>(expr: &'e Expr, visit: &mut dyn FnMut(&'e Expr)) -> Result<(), TooDeep> {
    walk_at(expr, visit, 0)
}

fn walk_at<'e>(
    expr: &'e Expr,
    visit: &mut dyn FnMut(&'e Expr),
    depth: usize,
) -> Result<(), TooDeep> {
    if depth > MAX_TREE_DEPTH {
        return Err(TooDeep);
    }
    visit(expr);
    children(expr).try_for_each(|child| walk_at(child, visit, depth + 1))
}

/// Calls `visit` on every node, parents before children, in text order, stopping at the
/// first error `visit` returns.
pub fn walk_mut<E: From<TooDeep>>(
    expr: &mut Expr,
    visit: &mut dyn FnMut(&mut Expr) -> Result<(), E>,
) -> Result<(), E> {
    walk_mut_at(expr, visit, 0)
}

fn walk_mut_at<E: From<TooDeep>>(
    expr: &mut Expr,
    visit: &mut dyn FnMut(&mut Expr) -> Result<(), E>,
    depth: usize,
) -> Result<(), E> {
    if depth > MAX_TREE_DEPTH {
        return Err(TooDeep.into());
    }
    visit(expr)?;
    children_mut(expr).try_for_each(|child| walk_mut_at(child, visit, depth + 1))
}

/// How deep the tree is (a leaf is 1); `None` past [`MAX_TREE_DEPTH`]. The oracle the
/// depth bound's tests measure it against; the policy itself never needs the number.
#[cfg(test)]
pub fn depth(expr: &Expr) -> Option<usize> {
    fn at(expr: &Expr, level: usize) -> Option<usize> {
        if level > MAX_TREE_DEPTH {
            return None;
        }
        children(expr).try_fold(level, |deepest, child| {
            at(child, level + 1).map(|d| d.max(deepest))
        })
    }
    at(expr, 1)
}

/// Whether the operator `op` is one of `among`.
pub fn is_op(op: TokenId, among: &[TokenId]) -> bool {
    among.contains(&op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use promql_parser::parser::parse;

    fn selectors_in_order(text: &str) -> Vec<String> {
        let e = parse(text).unwrap();
        let mut names = Vec::new();
        walk(&e, &mut |node| match node {
            Expr::VectorSelector(vs) => names.push(vs.name.clone().unwrap_or_default()),
            Expr::MatrixSelector(ms) => names.push(ms.vs.name.clone().unwrap_or_default()),
            _ => {}
        })
        .unwrap();
        names
    }

    #[test]
    fn reaches_every_selector_in_text_order() {
        assert_eq!(
            selectors_in_order(
                "topk(scalar(a), b) + on() c and rate(d[5m]) unless max_over_time(e[5m:1m])"
            ),
            ["a", "b", "c", "d", "e"]
        );
        assert_eq!(
            selectors_in_order(
                r#"label_replace(a, "x", "y", "z", "") / -(b) ^ quantile(scalar(c), d)"#
            ),
            ["a", "b", "c", "d"]
        );
    }

    #[test]
    fn mutable_walk_visits_the_same_nodes() {
        let mut e = parse("topk(scalar(a), b) + max_over_time(c[5m:])").unwrap();
        let mut count = 0;
        walk_mut::<TooDeep>(&mut e, &mut |_| {
            count += 1;
            Ok(())
        })
        .unwrap();
        let mut again = 0;
        walk(&e, &mut |_| again += 1).unwrap();
        assert_eq!(count, again);
    }

    /// `1` inside `levels - 1` pairs of parentheses: a tree `levels` deep.
    fn nested(levels: usize) -> Expr {
        let parens = levels - 1;
        parse(&format!("{}1{}", "(".repeat(parens), ")".repeat(parens))).unwrap()
    }

    #[test]
    fn both_walks_visit_every_level_up_to_the_bound_and_stop_past_it() {
        // The root is at depth 0, so MAX_TREE_DEPTH + 1 levels are walked whole.
        let deepest = MAX_TREE_DEPTH + 1;
        let mut visited = 0;
        assert_eq!(walk(&nested(deepest), &mut |_| visited += 1), Ok(()));
        assert_eq!(visited, deepest);
        let mut visited_mut = 0;
        let walked = walk_mut::<TooDeep>(&mut nested(deepest), &mut |_| {
            visited_mut += 1;
            Ok(())
        });
        assert_eq!(walked, Ok(()));
        assert_eq!(visited_mut, deepest);

        // One level more: the walk fails, having visited every level it was allowed.
        let mut visited = 0;
        assert_eq!(
            walk(&nested(deepest + 1), &mut |_| visited += 1),
            Err(TooDeep)
        );
        assert_eq!(visited, deepest);
        let mut visited_mut = 0;
        let walked = walk_mut::<TooDeep>(&mut nested(deepest + 1), &mut |_| {
            visited_mut += 1;
            Ok(())
        });
        assert_eq!(walked, Err(TooDeep));
        assert_eq!(visited_mut, deepest);
    }

    #[test]
    fn depth_counts_levels() {
        assert_eq!(depth(&nested(MAX_TREE_DEPTH)), Some(MAX_TREE_DEPTH));
        assert_eq!(depth(&nested(MAX_TREE_DEPTH + 1)), None);
        assert_eq!(depth(&parse("up").unwrap()), Some(1));
        assert_eq!(depth(&parse("sum(rate(x[5m]))").unwrap()), Some(3));
        assert_eq!(depth(&parse("-(-(1))").unwrap()), Some(5));
    }

    #[test]
    fn an_operator_is_one_of_a_list_only_when_listed() {
        use promql_parser::parser::token;
        assert!(is_op(token::T_LAND, &[token::T_LOR, token::T_LAND]));
        assert!(!is_op(token::T_LUNLESS, &[token::T_LOR, token::T_LAND]));
        assert!(!is_op(token::T_LAND, &[]));
    }
}
