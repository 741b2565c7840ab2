//! Text and tree, aligned: every selector of the expression located in the author's
//! text with promql-parser's own lexer (the one its parser reads), matched to the tree's
//! selectors in order, so scoping's decisions can be carried back as byte-span edits.

use promql_parser::label::Matcher;
use promql_parser::parser::token::{self, TokenId};
use promql_parser::parser::{Expr, VectorSelector};

use super::lex::{introduces_label_list, is_aggregation, Token};
use super::walk::walk;

/// Every matcher in braces, in text order, matched to the tree's matchers in walk order:
/// ((selector, matcher), the item). Braces are unambiguous in the token stream, so this
/// holds even where a selector's name cannot be told from a keyword. `None` when the
/// two disagree.
pub(super) fn aligned_matchers(
    text: &str,
    tokens: &[Token],
    tree: &Expr,
) -> Option<Vec<((usize, usize), Item)>> {
    let mut items = Vec::new();
    let mut i = 0;
    while let Some(t) = tokens.get(i) {
        if t.id == token::T_LEFT_BRACE {
            let (braces, after) = braces_at(tokens, i, *t);
            items.extend(braces.items);
            i = after;
        } else {
            i += 1;
        }
    }
    let mut matchers = Vec::new();
    for (s, vs) in selectors(tree)?.into_iter().enumerate() {
        if !vs.matchers.or_matchers.is_empty() {
            return None;
        }
        matchers.extend(
            vs.matchers
                .matchers
                .iter()
                .enumerate()
                .map(|(m, matcher)| ((s, m), matcher)),
        );
    }
    if items.len() != matchers.len() {
        return None;
    }
    items
        .into_iter()
        .zip(matchers)
        .map(|(item, (at, matcher))| item_agrees(text, &item, matcher).then_some((at, item)))
        .collect()
}

/// A selector as it stands in the text: its metric name and its braces, either or both.
#[derive(Debug, Clone)]
pub(super) struct Site {
    pub(super) name: Option<Token>,
    pub(super) braces: Option<Braces>,
}

#[derive(Debug, Clone)]
pub(super) struct Braces {
    pub(super) open: Token,
    pub(super) items: Vec<Item>,
    /// Just past the closing `}`.
    pub(super) end: usize,
}

/// One matcher in braces: `label op "value"`, or a lone quoted metric name.
#[derive(Debug, Clone)]
pub(super) struct Item {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) op: Option<Token>,
    pub(super) value: Option<Token>,
    /// Its tokens, and the `,` before it: what removing it deletes (the white space and
    /// comments between them stay).
    pub(super) tokens: Vec<Token>,
    pub(super) separator: Option<Token>,
}

/// Every selector in the text, in order.
///
/// promql-parser lexes a word by what it spells, not where it stands: `sum`, `offset`,
/// `by`, `and`, `start`… come out as keyword tokens, and its grammar takes many of them
/// back as metric names (`metric_identifier`). So a word is a selector's name when its
/// token kind can name a metric ([`can_name_metric`]), it stands where an operand starts
/// (the token before it ends no operand: `x offset 5m` is a modifier, `1 + offset` a
/// metric), and it is not called (`sum(`, `sum by (`). Label lists (`by (...)`,
/// `on (...)`) are skipped whole; their `)` ends no operand.
pub(super) fn selector_sites(tokens: &[Token]) -> Vec<Site> {
    let next_is = |i: usize, id: TokenId| tokens.get(i + 1).is_some_and(|t| t.id == id);
    let mut sites = Vec::new();
    // Whether the previous token ends an operand (then a keyword is an operator).
    let mut after_operand = false;
    let mut i = 0;
    while let Some(&t) = tokens.get(i) {
        match t.id {
            id if introduces_label_list(id) && next_is(i, token::T_LEFT_PAREN) => {
                // Label lists hold no parentheses: skip to the closing one.
                i += 2;
                while tokens.get(i).is_some_and(|t| t.id != token::T_RIGHT_PAREN) {
                    i += 1;
                }
                i += 1;
                after_operand = false;
            }
            id if can_name_metric(id)
                && !after_operand
                && !next_is(i, token::T_LEFT_PAREN)
                && !(is_aggregation(id)
                    && (next_is(i, token::T_BY) || next_is(i, token::T_WITHOUT))) =>
            {
                let open = tokens.get(i + 1).filter(|t| t.id == token::T_LEFT_BRACE);
                let (braces, after) = if let Some(&open) = open {
                    let (braces, after) = braces_at(tokens, i + 1, open);
                    (Some(braces), after)
                } else {
                    (None, i + 1)
                };
                sites.push(Site {
                    name: Some(t),
                    braces,
                });
                i = after;
                after_operand = true;
            }
            token::T_LEFT_BRACE => {
                let (braces, after) = braces_at(tokens, i, t);
                sites.push(Site {
                    name: None,
                    braces: Some(braces),
                });
                i = after;
                after_operand = true;
            }
            id => {
                after_operand = matches!(
                    id,
                    token::T_RIGHT_PAREN
                        | token::T_RIGHT_BRACKET
                        | token::T_RIGHT_BRACE
                        | token::T_NUMBER
                        | token::T_STRING
                        | token::T_DURATION
                        | token::T_IDENTIFIER
                        | token::T_METRIC_IDENTIFIER
                );
                i += 1;
            }
        }
    }
    sites
}

/// Token kinds promql-parser's grammar accepts as a metric name (its
/// `metric_identifier` rule): identifiers, and keywords spelled like one.
fn can_name_metric(id: TokenId) -> bool {
    matches!(
        id,
        token::T_IDENTIFIER
            | token::T_METRIC_IDENTIFIER
            | token::T_AVG
            | token::T_BOTTOMK
            | token::T_BY
            | token::T_COUNT
            | token::T_COUNT_VALUES
            | token::T_FILL
            | token::T_FILL_LEFT
            | token::T_FILL_RIGHT
            | token::T_GROUP
            | token::T_LAND
            | token::T_LOR
            | token::T_LUNLESS
            | token::T_MAX
            | token::T_MIN
            | token::T_OFFSET
            | token::T_QUANTILE
            | token::T_STDDEV
            | token::T_STDVAR
            | token::T_SUM
            | token::T_TOPK
            | token::T_LIMITK
            | token::T_LIMIT_RATIO
            | token::T_WITHOUT
            | token::T_START
            | token::T_END
    )
}

/// The matchers in the braces opening at `tokens[at]` (`open`), and the index after `}`.
fn braces_at(tokens: &[Token], at: usize, open: Token) -> (Braces, usize) {
    let mut items = Vec::new();
    let mut i = at + 1;
    let mut current: Vec<Token> = Vec::new();
    let mut separator: Option<Token> = None;
    let mut close = |current: &mut Vec<Token>, separator: Option<Token>| {
        if let (Some(first), Some(last)) = (current.first(), current.last()) {
            let op = current.iter().copied().find(|t| {
                matches!(
                    t.id,
                    token::T_EQL | token::T_NEQ | token::T_EQL_REGEX | token::T_NEQ_REGEX
                )
            });
            items.push(Item {
                start: first.start,
                end: last.end,
                op,
                value: op.and(Some(*last)),
                tokens: current.clone(),
                separator,
            });
        }
        current.clear();
    };
    while let Some(&t) = tokens.get(i).filter(|t| t.id != token::T_RIGHT_BRACE) {
        match t.id {
            token::T_COMMA | token::T_LOR => {
                close(&mut current, separator);
                separator = Some(t);
            }
            _ => current.push(t),
        }
        i += 1;
    }
    close(&mut current, separator);
    let end = tokens.get(i).map_or(open.end, |t| t.end);
    (Braces { open, items, end }, i + 1)
}

/// The tree's selectors (matrix selectors' too), in text order.
pub(super) fn selectors(tree: &Expr) -> Option<Vec<&VectorSelector>> {
    let mut found = Vec::new();
    walk(tree, &mut |node| match node {
        Expr::VectorSelector(vs) => found.push(vs),
        Expr::MatrixSelector(ms) => found.push(&ms.vs),
        _ => {}
    })
    .ok()?;
    Some(found)
}

/// A site matched to its tree selector: which of its items are on the scope's label.
#[derive(Debug, Clone)]
pub(super) struct PairedSite {
    pub(super) site: Site,
    pub(super) on_label: Vec<usize>,
}

/// Matches sites to the tree's selectors, in order; `None` when they do not agree.
pub(super) fn pair_sites(
    text: &str,
    sites: Vec<Site>,
    tree: &Expr,
    label: &str,
) -> Option<Vec<PairedSite>> {
    let selectors = selectors(tree)?;
    if selectors.len() != sites.len() {
        return None;
    }
    sites
        .into_iter()
        .zip(selectors)
        .map(|(site, vs)| {
            let name = site.name.map(|t| &text[t.start..t.end]);
            let items = site.braces.as_ref().map_or(&[][..], |b| &b.items[..]);
            let matchers = &vs.matchers.matchers;
            let agrees = name == vs.name.as_deref()
                && vs.matchers.or_matchers.is_empty()
                && items.len() == matchers.len()
                && items
                    .iter()
                    .zip(matchers)
                    .all(|(item, m)| item_agrees(text, item, m));
            agrees.then(|| PairedSite {
                on_label: matchers
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| m.name == label)
                    .map(|(i, _)| i)
                    .collect(),
                site,
            })
        })
        .collect()
}

fn item_agrees(text: &str, item: &Item, matcher: &Matcher) -> bool {
    match (item.op, item.tokens.first()) {
        // A lone quoted name: the metric name.
        (None, _) => matcher.name == "__name__",
        // A bare label name must be the matcher's; a quoted one is checked by the re-parse.
        (Some(_), Some(label)) => {
            label.id == token::T_STRING || text[label.start..label.end] == matcher.name
        }
        (Some(_), None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lex::tokens;
    use promql_parser::parser::parse;

    /// `pair_sites` of the sites in `text` against the tree of `tree_text`, on the label
    /// `namespace`: the matcher indices on it, per selector.
    fn paired(text: &str, tree_text: &str) -> Option<Vec<Vec<usize>>> {
        let sites = selector_sites(&tokens(text).unwrap());
        let tree = parse(tree_text).unwrap();
        pair_sites(text, sites, &tree, "namespace")
            .map(|paired| paired.into_iter().map(|p| p.on_label).collect())
    }

    #[test]
    fn sites_pair_with_the_tree_they_were_read_from() {
        let text = r#"x{a="1", namespace="n"} / on() y{namespace="m"} + z"#;
        assert_eq!(paired(text, text), Some(vec![vec![1], vec![0], vec![]]));
        let lone_name = r#"{"x", namespace="n"}"#;
        assert_eq!(paired(lone_name, lone_name), Some(vec![vec![1]]));
        // A quoted label name is left to the proof's re-parse: any name pairs.
        assert_eq!(paired(r#"x{"a"="1"}"#, r#"x{b="1"}"#), Some(vec![vec![]]));
    }

    #[test]
    fn sites_that_disagree_with_the_tree_are_not_paired() {
        for (text, tree) in [
            // Another metric name, another count of selectors or of matchers.
            (r#"x{a="1"}"#, r#"y{a="1"}"#),
            (r#"x{a="1"}"#, r#"x{a="1"} + x"#),
            (r#"x{a="1"}"#, r#"x{a="1", b="2"}"#),
            (r#"x{a="1", b="2"}"#, r#"x{a="1"}"#),
            // Another label, or a lone quoted name where the tree has a label.
            (r#"x{a="1"}"#, r#"x{b="1"}"#),
            (r#"{"x"}"#, r#"{a="x"}"#),
        ] {
            assert_eq!(paired(text, tree), None, "{text} against {tree}");
        }
    }

    #[test]
    fn braces_end_past_their_closing_brace() {
        let text = r#"x{a="1"} offset 5m"#;
        let sites = selector_sites(&tokens(text).unwrap());
        assert_eq!(sites.len(), 1);
        let braces = sites[0].braces.as_ref().unwrap();
        assert_eq!(braces.end, 8);
        assert_eq!(braces.items.len(), 1);
        assert_eq!((braces.items[0].start, braces.items[0].end), (2, 7));
    }
}
