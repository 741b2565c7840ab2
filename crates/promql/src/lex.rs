//! promql-parser's own lexer, read as the parser reads it: the tokens every bound and
//! check runs on before the parser sees an expression (nesting, numbers, Prometheus's
//! dialect) and the edit locates selectors with. A leaf module: it knows no check.

use lrpar::{Lexeme, Lexer};
use promql_parser::parser;
use promql_parser::parser::token::{self, TokenId};

/// One lexeme: its token kind and byte span in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub id: TokenId,
    pub start: usize,
    pub end: usize,
}

/// Where a token stands among a range's or a subquery's brackets, followed token by
/// token (the numbers and the dialect checks read a number by it): inside `[…]`, and
/// past the subquery's `:` there.
#[derive(Debug, Default, Clone, Copy)]
pub struct Brackets {
    pub inside: bool,
    pub after_colon: bool,
}

impl Brackets {
    /// The position after token `id`.
    pub fn step(&mut self, id: TokenId) {
        match id {
            token::T_LEFT_BRACKET => {
                self.inside = true;
                self.after_colon = false;
            }
            token::T_RIGHT_BRACKET => self.inside = false,
            // (Outside brackets a `:` is no subquery's; the next `[` resets it anyway.)
            token::T_COLON => self.after_colon = true,
            _ => {}
        }
    }
}

/// The lexemes of `text`, as promql-parser's parser reads them (comments and white
/// space are not lexemes); a lexing error is the parser's own message.
pub fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let lexer = parser::lexer(text)?;
    let tokens = lexer
        .iter()
        .filter_map(Result::ok)
        .filter(|l| l.tok_id() != token::T_EOF)
        .map(|l| {
            let span = l.span();
            Token {
                id: l.tok_id(),
                start: span.start(),
                end: span.end(),
            }
        })
        .collect();
    Ok(tokens)
}

/// An upper bound on the depth of the syntax tree `tokens` can parse to.
///
/// Every node on a path from the root to a leaf is the leaf, a parenthesised construct
/// (call, aggregation, group) whose `( )` encloses the leaf, or an operator token
/// (binary, unary, set, comparison, or the `[` of a range or subquery) directly in one of
/// the parenthesis groups around the leaf. So the depth is at most the largest sum, over
/// a chain of nested groups, of one plus the operator tokens directly in each group. It
/// over-counts (label lists are groups, a matcher's `!=` counts), which only makes it
/// safer. Linear; its stack is a `Vec` on the heap.
pub fn depth_bound(tokens: &[Token]) -> usize {
    // One entry per open group: (operators directly in it + 1, deepest child group).
    let mut groups: Vec<(usize, usize)> = vec![(1, 0)];
    for t in tokens {
        match t.id {
            token::T_LEFT_PAREN => groups.push((1, 0)),
            token::T_RIGHT_PAREN if groups.len() > 1 => {
                let (own, child) = groups.pop().unwrap_or((1, 0));
                if let Some(parent) = groups.last_mut() {
                    parent.1 = parent.1.max(own + child);
                }
            }
            id if is_nesting_operator(id) => {
                if let Some(top) = groups.last_mut() {
                    top.0 += 1;
                }
            }
            _ => {}
        }
    }
    while groups.len() > 1 {
        let (own, child) = groups.pop().unwrap_or((1, 0));
        if let Some(parent) = groups.last_mut() {
            parent.1 = parent.1.max(own + child);
        }
    }
    groups.last().map_or(1, |(own, child)| own + child)
}

fn is_nesting_operator(id: TokenId) -> bool {
    is_binary_operator(id) || id == token::T_LEFT_BRACKET
}

/// PromQL's binary operators: arithmetic, comparison and set operators.
pub fn is_binary_operator(id: TokenId) -> bool {
    matches!(
        id,
        token::T_ADD
            | token::T_SUB
            | token::T_MUL
            | token::T_DIV
            | token::T_MOD
            | token::T_POW
            | token::T_ATAN2
            | token::T_EQLC
            | token::T_NEQ
            | token::T_LSS
            | token::T_LTE
            | token::T_GTR
            | token::T_GTE
            | token::T_LAND
            | token::T_LOR
            | token::T_LUNLESS
    )
}

/// The keywords a label list follows: `by (…)`, `without (…)`, `on (…)`,
/// `ignoring (…)`, `group_left (…)`, `group_right (…)`.
pub fn introduces_label_list(id: TokenId) -> bool {
    matches!(
        id,
        token::T_BY
            | token::T_WITHOUT
            | token::T_ON
            | token::T_IGNORING
            | token::T_GROUP_LEFT
            | token::T_GROUP_RIGHT
    )
}

/// Aggregation keywords, `limitk` and `limit_ratio` among them (`sum by (a) (x)`
/// aggregates; `sum` alone is a metric).
pub fn is_aggregation(id: TokenId) -> bool {
    is_2_42_aggregation(id) || matches!(id, token::T_LIMITK | token::T_LIMIT_RATIO)
}

/// The aggregations Prometheus 2.42 has without a feature flag.
pub fn is_2_42_aggregation(id: TokenId) -> bool {
    matches!(
        id,
        token::T_AVG
            | token::T_BOTTOMK
            | token::T_COUNT
            | token::T_COUNT_VALUES
            | token::T_GROUP
            | token::T_MAX
            | token::T_MIN
            | token::T_QUANTILE
            | token::T_STDDEV
            | token::T_STDVAR
            | token::T_SUM
            | token::T_TOPK
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(text: &str) -> usize {
        depth_bound(&tokens(text).unwrap())
    }

    #[test]
    fn the_depth_bound_counts_operators_in_each_group_along_the_deepest_chain() {
        assert_eq!(bound("1"), 1);
        assert_eq!(bound("1 + 1 + 1"), 3);
        assert_eq!(bound("(1 + (1 + 1)) * 2"), 6);
        // The lexer refuses unbalanced parentheses, but the bound takes any tokens:
        // groups left open at the end still count, innermost first, and a `)` with no
        // group open is ignored.
        let all = tokens("(1 + (1 + 1)) + 1 + 1").unwrap();
        assert_eq!(all.len(), 13);
        assert_eq!(depth_bound(&all[..7]), 5); // `(1 + (1 + 1`
        assert_eq!(depth_bound(&all[..8]), 5); // `(1 + (1 + 1)`
        assert_eq!(depth_bound(&all[7..]), 3); // `)) + 1 + 1`
    }

    #[test]
    fn aggregations_are_the_aggregation_keywords() {
        for id in [token::T_SUM, token::T_TOPK, token::T_COUNT_VALUES] {
            assert!(is_aggregation(id) && is_2_42_aggregation(id));
        }
        for id in [token::T_LIMITK, token::T_LIMIT_RATIO] {
            assert!(is_aggregation(id) && !is_2_42_aggregation(id));
        }
        for id in [token::T_IDENTIFIER, token::T_BY, token::T_ADD] {
            assert!(!is_aggregation(id) && !is_2_42_aggregation(id));
        }
    }
}
