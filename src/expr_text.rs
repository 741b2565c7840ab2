//! The author's expression text, edited in place.
//!
//! Scoping decides on the syntax tree; this module carries the decision back into the
//! text the author wrote, so comments, line breaks, spacing, keyword case, number and
//! string spelling all stay. Selectors are located with promql-parser's own lexer (the
//! one its parser reads), matched to the tree's selectors in order, and edited by byte
//! span. An edit is only used once the edited text parses to exactly the tree-scoped
//! expression; anything else falls back to the canonical reprint, with a warning.
//!
//! The lexer also bounds the parser: nesting is counted on the same token stream the
//! parser reads, so no comment or string trick can hide depth from the bound.
//!
//! Regex matchers are never run by this policy, so they are not compiled either: before
//! parsing, each `=~`/`!~` on a label other than the namespace label and `__name__` is
//! masked to `= `/`!=` (same length, so every span stays valid), and its value is
//! checked with `regex-syntax` alone.

use std::borrow::Cow;

use lrpar::{Lexeme, Lexer};
use promql_parser::label::Matcher;
use promql_parser::parser::token::{self, TokenId};
use promql_parser::parser::{self, Expr, VectorSelector};

use crate::bounded_parse::{ParseRefusal, MAX_EXPR_BYTES, MAX_TREE_DEPTH};
use crate::namespace_scope::{scope_masked_expr, Scope, ScopeChanges, ScopeError, SelectorEdit};
use crate::promql_numbers::check_numbers;
use crate::promql_walk::{walk, walk_mut, TooDeep};

/// One lexeme: its token kind and byte span in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub id: TokenId,
    pub start: usize,
    pub end: usize,
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
            | token::T_LEFT_BRACKET
    )
}

/// Lexes and bounds `text` before the parser sees it: its length, its nesting, and the
/// range of every number the parser would turn into a duration or timestamp.
pub fn bounded_tokens(text: &str) -> Result<Vec<Token>, ParseRefusal> {
    if text.len() > MAX_EXPR_BYTES {
        return Err(ParseRefusal::TooLong { bytes: text.len() });
    }
    let tokens = tokens(text).map_err(ParseRefusal::Syntax)?;
    let bound = depth_bound(&tokens);
    if bound > MAX_TREE_DEPTH {
        return Err(ParseRefusal::TooDeep { bound });
    }
    // Durations and `@` timestamps the parser would convert (some would panic it).
    check_numbers(text, &tokens)?;
    Ok(tokens)
}

/// `text` with every regex matcher masked (see the module comment): `=~` becomes `= `
/// and `!~` becomes `!=`, so the parser compiles nothing and every byte offset stays.
fn mask_regex_matchers<'t>(text: &'t str, tokens: &[Token]) -> Cow<'t, str> {
    let mut masked: Option<Vec<u8>> = None;
    for op in tokens {
        let replacement: &[u8] = match op.id {
            token::T_EQL_REGEX => b"= ",
            token::T_NEQ_REGEX => b"!=",
            _ => continue,
        };
        masked.get_or_insert_with(|| text.as_bytes().to_vec())[op.start..op.end]
            .copy_from_slice(replacement);
    }
    match masked {
        // Only ASCII bytes were swapped for ASCII bytes.
        Some(bytes) => Cow::Owned(String::from_utf8(bytes).unwrap_or_else(|_| text.to_owned())),
        None => Cow::Borrowed(text),
    }
}

/// Every matcher in braces, in text order, matched to the tree's matchers in walk order:
/// ((selector, matcher), the item). Braces are unambiguous in the token stream, so this
/// holds even where a selector's name cannot be told from a keyword. `None` when the
/// two disagree.
fn aligned_matchers(
    text: &str,
    tokens: &[Token],
    tree: &Expr,
) -> Option<Vec<((usize, usize), Item)>> {
    let mut items = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i].id == token::T_LEFT_BRACE {
            let (braces, after) = braces_at(tokens, i);
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

/// Every masked regex is valid as promql-parser reads one (anchored, and as in Go a `{`
/// that starts no repetition is a literal), judged on its syntax alone. Matchers on the
/// namespace label are skipped: scoping replaces or refuses them whatever they hold.
fn check_masked_regexes(
    text: &str,
    tree: &Expr,
    aligned: Option<&[((usize, usize), Item)]>,
    label: &str,
) -> Result<(), ParseRefusal> {
    let Some(aligned) = aligned else {
        return Err(ParseRefusal::Syntax(
            "its regex matchers could not be matched to the parsed selectors".to_owned(),
        ));
    };
    let Some(selectors) = selectors(tree) else {
        return Ok(());
    };
    for ((s, m), item) in aligned {
        let regex = item
            .op
            .is_some_and(|op| matches!(op.id, token::T_EQL_REGEX | token::T_NEQ_REGEX));
        let matcher = &selectors[*s].matchers.matchers[*m];
        if regex && matcher.name != label {
            if let Err(why) = regex_syntax_check(&matcher.value) {
                return Err(ParseRefusal::Syntax(format!(
                    "matcher {} is not a valid regular expression: {why}",
                    &text[item.start..item.end]
                )));
            }
        }
    }
    Ok(())
}

/// A selector as it stands in the text: its metric name and its braces, either or both.
#[derive(Debug, Clone)]
struct Site {
    name: Option<Token>,
    braces: Option<Braces>,
}

#[derive(Debug, Clone)]
struct Braces {
    open: Token,
    items: Vec<Item>,
    /// Just past the closing `}`.
    end: usize,
}

/// One matcher in braces: `label op "value"`, or a lone quoted metric name.
#[derive(Debug, Clone)]
struct Item {
    start: usize,
    end: usize,
    op: Option<Token>,
    value: Option<Token>,
    /// Its tokens, and the `,` before it: what removing it deletes (the white space and
    /// comments between them stay).
    tokens: Vec<Token>,
    separator: Option<Token>,
}

/// Every selector in the text, in order. Identifiers are selectors unless they name a
/// function (followed by `(`) or a label in a grouping list (`by (...)`, `on (...)`).
fn selector_sites(tokens: &[Token]) -> Vec<Site> {
    let next_is = |i: usize, id: TokenId| tokens.get(i + 1).is_some_and(|t| t.id == id);
    let mut sites = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i];
        match t.id {
            token::T_BY
            | token::T_WITHOUT
            | token::T_ON
            | token::T_IGNORING
            | token::T_GROUP_LEFT
            | token::T_GROUP_RIGHT
                if next_is(i, token::T_LEFT_PAREN) =>
            {
                // Label lists hold no parentheses: skip to the closing one.
                i += 2;
                while i < tokens.len() && tokens[i].id != token::T_RIGHT_PAREN {
                    i += 1;
                }
                i += 1;
            }
            token::T_IDENTIFIER | token::T_METRIC_IDENTIFIER
                if !next_is(i, token::T_LEFT_PAREN) =>
            {
                let (braces, after) = if next_is(i, token::T_LEFT_BRACE) {
                    let (braces, after) = braces_at(tokens, i + 1);
                    (Some(braces), after)
                } else {
                    (None, i + 1)
                };
                sites.push(Site {
                    name: Some(t),
                    braces,
                });
                i = after;
            }
            token::T_LEFT_BRACE => {
                let (braces, after) = braces_at(tokens, i);
                sites.push(Site {
                    name: None,
                    braces: Some(braces),
                });
                i = after;
            }
            _ => i += 1,
        }
    }
    sites
}

/// The matchers in the braces opening at `tokens[open]`, and the index after `}`.
fn braces_at(tokens: &[Token], open: usize) -> (Braces, usize) {
    let mut items = Vec::new();
    let mut i = open + 1;
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
    while i < tokens.len() && tokens[i].id != token::T_RIGHT_BRACE {
        match tokens[i].id {
            token::T_COMMA | token::T_LOR => {
                close(&mut current, separator);
                separator = Some(tokens[i]);
            }
            _ => current.push(tokens[i]),
        }
        i += 1;
    }
    close(&mut current, separator);
    let end = tokens.get(i).map_or(tokens[open].end, |t| t.end);
    (
        Braces {
            open: tokens[open],
            items,
            end,
        },
        i + 1,
    )
}

/// The tree's selectors (matrix selectors' too), in text order.
fn selectors(tree: &Expr) -> Option<Vec<&VectorSelector>> {
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
struct PairedSite {
    site: Site,
    on_label: Vec<usize>,
}

/// Matches sites to the tree's selectors, in order; `None` when they do not agree.
fn pair_sites(text: &str, sites: Vec<Site>, tree: &Expr, label: &str) -> Option<Vec<PairedSite>> {
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

/// Byte-span replacements, applied back to front.
fn apply(text: &str, mut edits: Vec<(usize, usize, String)>) -> String {
    edits.sort_by_key(|(start, end, _)| (*start, *end));
    let mut out =
        String::with_capacity(text.len() + edits.iter().map(|e| e.2.len()).sum::<usize>());
    let mut at = 0;
    for (start, end, replacement) in edits {
        out.push_str(&text[at..start]);
        out.push_str(&replacement);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

/// The selector edits scoping decided, as byte-span replacements of the text.
fn selector_edits(
    sites: &[PairedSite],
    edits: &[SelectorEdit],
    scope: &Scope,
) -> Vec<(usize, usize, String)> {
    let exact = format!("{}=\"{}\"", scope.label, scope.namespace);
    let mut out = Vec::new();
    for (paired, edit) in sites.iter().zip(edits) {
        let site = &paired.site;
        match (edit, &site.braces, site.name) {
            (SelectorEdit::Keep, _, _) => {}
            (SelectorEdit::Add, Some(braces), _) => match braces.items.first() {
                Some(first) => out.push((first.start, first.start, format!("{exact}, "))),
                None => out.push((braces.open.end, braces.open.end, exact.clone())),
            },
            (SelectorEdit::Add, None, Some(name)) => {
                out.push((name.end, name.end, format!("{{{exact}}}")))
            }
            (SelectorEdit::Add, None, None) => {}
            (SelectorEdit::SetOnly, Some(braces), _) => {
                let Some((&first, rest)) = paired.on_label.split_first() else {
                    continue;
                };
                let item = &braces.items[first];
                let quoted = format!("\"{}\"", scope.namespace);
                match (item.op, item.value) {
                    (Some(op), Some(value)) => {
                        if op.id != token::T_EQL {
                            out.push((op.start, op.end, "=".to_owned()));
                        }
                        out.push((value.start, value.end, quoted));
                    }
                    _ => out.push((item.start, item.end, exact.clone())),
                }
                // Each further matcher on the label goes, token by token with the
                // separator before it; the white space and comments between them stay.
                for &k in rest {
                    let item = &braces.items[k];
                    for t in item.separator.iter().chain(&item.tokens) {
                        out.push((t.start, t.end, String::new()));
                    }
                }
            }
            (SelectorEdit::SetOnly, None, _) => {}
        }
    }
    out
}

/// A comparison added to the whole expression (a drift alert's default threshold).
pub trait Completion {
    /// The completed expression around `core`, the expression itself.
    fn render(&self, core: &str) -> String;
}

/// Stands for the expression in a completion's skeleton.
const CORE: &str = "__tenant_alerting_policy_core__";

/// A rule's expression: its text, and the tree the checks read.
pub struct Expression<'t> {
    text: &'t str,
    scope: Scope<'t>,
    /// The tree: parsed from the masked text, then scoped and completed.
    tree: Expr,
    sites: Option<Vec<PairedSite>>,
    /// The text the tree was parsed from, when regex matchers were masked in it (then
    /// the tree must not be printed). Masking keeps every byte offset.
    masked_text: Option<String>,
    /// From the first token's start to the last token's end: the expression without
    /// leading or trailing white space and comments.
    span: (usize, usize),
    /// The author's text of every matcher, by (selector, matcher), for messages.
    matcher_text: Vec<((usize, usize), (usize, usize))>,
    /// Which matchers were regexes masked for the parse, by (selector, matcher); sorted.
    /// `None` when the matchers could not be aligned: then every one counts as masked.
    masked_at: Option<Vec<(usize, usize)>>,
    changes: ScopeChanges,
    completion: Option<Box<dyn Completion + 't>>,
}

/// The text to store, and why it had to be reprinted, if it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Rewritten {
    pub text: String,
    pub reprinted: Option<String>,
}

impl<'t> Expression<'t> {
    /// Lexes, bounds and parses `text`. Regex matchers other than on the scope's label
    /// are checked for syntax but not compiled.
    pub fn parse(text: &'t str, scope: Scope<'t>) -> Result<Self, ParseRefusal> {
        let tokens = bounded_tokens(text)?;
        let masked_text = match mask_regex_matchers(text, &tokens) {
            Cow::Owned(masked) => Some(masked),
            Cow::Borrowed(_) => None,
        };
        let tree =
            parser::parse(masked_text.as_deref().unwrap_or(text)).map_err(ParseRefusal::Syntax)?;
        let aligned = aligned_matchers(text, &tokens, &tree);
        if masked_text.is_some() {
            check_masked_regexes(text, &tree, aligned.as_deref(), scope.label)?;
        }
        let is_regex = |item: &Item| {
            item.op
                .is_some_and(|op| matches!(op.id, token::T_EQL_REGEX | token::T_NEQ_REGEX))
        };
        let masked_at = match &aligned {
            Some(aligned) => Some(
                aligned
                    .iter()
                    .filter(|(_, item)| is_regex(item))
                    .map(|(at, _)| *at)
                    .collect(),
            ),
            None if masked_text.is_some() => None,
            None => Some(Vec::new()),
        };
        let matcher_text = aligned
            .iter()
            .flatten()
            .map(|(at, item)| (*at, (item.start, item.end)))
            .collect();
        let sites = pair_sites(text, selector_sites(&tokens), &tree, scope.label);
        Ok(Expression {
            text,
            scope,
            tree,
            sites,
            masked_text,
            span: span_of(&tokens),
            matcher_text,
            masked_at,
            changes: ScopeChanges::default(),
            completion: None,
        })
    }

    /// The parser's own reading of a text with no regex matcher: for the reprint.
    fn parse_plain(text: &'t str, scope: Scope<'t>) -> Result<Self, ParseRefusal> {
        let tree = parser::parse(text).map_err(ParseRefusal::Syntax)?;
        Ok(Expression {
            text,
            scope,
            tree,
            sites: None,
            masked_text: None,
            span: (0, text.len()),
            matcher_text: Vec::new(),
            masked_at: Some(Vec::new()),
            changes: ScopeChanges::default(),
            completion: None,
        })
    }

    /// The author's text of the matcher at (selector, matcher), if known.
    fn quoted(&self, at: (usize, usize)) -> Option<&'t str> {
        let text = self.text;
        self.matcher_text
            .iter()
            .find(|(a, _)| *a == at)
            .map(|(_, (start, end))| &text[*start..*end])
    }

    pub fn tree(&self) -> &Expr {
        &self.tree
    }

    /// Scopes every selector (see `namespace_scope`).
    /// Messages quote the author's matchers, not the masked tree's.
    pub fn scope(&mut self) -> Result<&ScopeChanges, ScopeError> {
        let masked_at = self.masked_at.clone();
        let was_regex = |s: usize, m: usize| {
            masked_at
                .as_ref()
                .is_none_or(|at| at.binary_search(&(s, m)).is_ok())
        };
        match scope_masked_expr(&mut self.tree, &self.scope, &was_regex) {
            Ok(mut changes) => {
                for (text, at) in changes.overwritten.iter_mut().zip(&changes.overwritten_at) {
                    if let Some(quoted) = self.quoted(*at) {
                        *text = quoted.to_owned();
                    }
                }
                self.changes = changes;
                Ok(&self.changes)
            }
            Err(ScopeError::ConflictingMatcher {
                selector,
                matcher,
                at,
            }) => Err(ScopeError::ConflictingMatcher {
                selector: self.selector_text(at.0).unwrap_or(selector),
                matcher: self.quoted(at).map_or(matcher, str::to_owned),
                at,
            }),
            Err(other) => Err(other),
        }
    }

    /// The author's text of the selector at `index`, if its site is known.
    fn selector_text(&self, index: usize) -> Option<String> {
        let site = &self.sites.as_ref()?.get(index)?.site;
        let start = site
            .name
            .map(|t| t.start)
            .or(site.braces.as_ref().map(|b| b.open.start))?;
        let end = match &site.braces {
            Some(braces) => braces.end,
            None => site.name?.end,
        };
        Some(self.text[start..end].to_owned())
    }

    /// Wraps the expression in `completion`, on the tree now and in the text later.
    pub fn complete(&mut self, completion: Box<dyn Completion + 't>) -> Result<(), ParseRefusal> {
        let skeleton = parse_bounded_text(&completion.render(CORE))?;
        self.tree = substitute_core(skeleton, &self.tree)?;
        self.completion = Some(completion);
        Ok(())
    }

    pub fn changed(&self) -> bool {
        self.changes.any() || self.completion.is_some()
    }

    /// The text to store: the author's, edited in place when the edit is proven, else
    /// the canonical reprint with the reason.
    pub fn rewrite(&self) -> Result<Rewritten, ParseRefusal> {
        match self.edit_in_place() {
            Ok(text) => Ok(Rewritten {
                text,
                reprinted: None,
            }),
            Err(why) => Ok(Rewritten {
                text: self.reprint().map_err(|e| match e {
                    ParseRefusal::NotEditable(how) => {
                        ParseRefusal::NotEditable(format!("{why}, and {how}"))
                    }
                    other => other,
                })?,
                reprinted: Some(why),
            }),
        }
    }

    fn edit_in_place(&self) -> Result<String, String> {
        let sites = self
            .sites
            .as_ref()
            .ok_or("its selectors could not be located in the text")?;
        let edits = selector_edits(sites, &self.changes.edits, &self.scope);
        // Every edit lies inside the expression's span, so its end moves by their sum.
        let growth: usize = edits.iter().map(|(_, _, r)| r.len()).sum();
        let removed: usize = edits.iter().map(|(start, end, _)| end - start).sum();
        let (first, last) = (self.span.0, self.span.1 + growth - removed);
        let complete = |edited: String| match &self.completion {
            Some(c) => format!(
                "{}{}{}",
                &edited[..first],
                c.render(&edited[first..last]),
                &edited[last..]
            ),
            None => edited,
        };
        let text = complete(apply(self.text, edits.clone()));
        // Proof: the edited text parses to exactly the tree-scoped expression. The edits
        // touch no masked matcher, so editing the masked text gives the masked edited
        // text; it nests at most two levels deeper than the text bounded before.
        let parsed = match &self.masked_text {
            Some(masked) => parser::parse(&complete(apply(masked, edits)))?,
            None => parser::parse(&text)?,
        };
        if parsed != self.tree {
            return Err("the edited text did not parse to the scoped expression".to_owned());
        }
        if text.len() > self.text.len() + self.growth_bound() {
            return Err("the edited text grew more than the inserted matchers".to_owned());
        }
        Ok(text)
    }

    /// Most bytes the edits may add: one matcher per selector, and the completion.
    fn growth_bound(&self) -> usize {
        let matcher = self.scope.label.len() + self.scope.namespace.len() + 8;
        let selectors = self.changes.edits.len();
        let completion = self
            .completion
            .as_ref()
            .map_or(0, |c| c.render("").len() + self.text.len());
        matcher * selectors + completion
    }

    /// promql-parser's canonical form of the scoped expression. An expression with regex
    /// matchers is not reprinted: that would compile them, at a cost without bound.
    fn reprint(&self) -> Result<String, ParseRefusal> {
        if self.masked_text.is_some() {
            return Err(ParseRefusal::NotEditable(format!(
                "reprinting it would compile its regular expressions; add {}=\"{}\" to every selector yourself",
                self.scope.label, self.scope.namespace
            )));
        }
        let mut plain = Self::parse_plain(self.text, self.scope)?;
        plain
            .scope()
            .map_err(|e| ParseRefusal::Syntax(e.to_string()))?;
        let printed = plain.tree.to_string();
        Ok(match &self.completion {
            Some(completion) => completion.render(&printed),
            None => printed,
        })
    }
}

/// From the first token's start to the last token's end.
fn span_of(tokens: &[Token]) -> (usize, usize) {
    match (tokens.first(), tokens.last()) {
        (Some(first), Some(last)) => (first.start, last.end),
        _ => (0, 0),
    }
}

/// Parses a completion skeleton (policy-made text, small and flat).
fn parse_bounded_text(text: &str) -> Result<Expr, ParseRefusal> {
    bounded_tokens(text)?;
    parser::parse(text).map_err(ParseRefusal::Syntax)
}

/// `skeleton` with every `CORE` selector replaced by `core`.
fn substitute_core(mut skeleton: Expr, core: &Expr) -> Result<Expr, ParseRefusal> {
    walk_mut(&mut skeleton, &mut |node| {
        if matches!(node, Expr::VectorSelector(vs) if vs.name.as_deref() == Some(CORE)) {
            *node = core.clone();
        }
        Ok::<(), TooDeep>(())
    })
    .map_err(|_| ParseRefusal::TooDeep {
        bound: MAX_TREE_DEPTH + 1,
    })?;
    Ok(skeleton)
}

/// Whether `value` is a regular expression as promql-parser reads a matcher's (anchored),
/// by its syntax alone. As in Go, a `{` that starts no repetition is a literal.
fn regex_syntax_check(value: &str) -> Result<(), String> {
    let parse = |re: &str| {
        regex_syntax::Parser::new()
            .parse(&format!("^(?:{re})$"))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    parse(value).or_else(|first| parse(&literal_braces(value)).map_err(|_| first))
}

/// `re` with every `{` that does not open a repetition (`{n}`, `{n,}`, `{n,m}`) escaped.
fn literal_braces(re: &str) -> String {
    let bytes = re.as_bytes();
    let mut out = String::with_capacity(re.len() + 4);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                // An escape and what it escapes, untouched.
                let next = re[i + 1..].chars().next().map_or(0, char::len_utf8);
                out.push_str(&re[i..i + 1 + next]);
                i += 1 + next;
                continue;
            }
            b'{' if !opens_repetition(&bytes[i + 1..]) => out.push_str("\\{"),
            _ => {
                let len = re[i..].chars().next().map_or(1, char::len_utf8);
                out.push_str(&re[i..i + len]);
                i += len;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Whether what follows a `{` is `n}`, `n,}` or `n,m}`.
fn opens_repetition(rest: &[u8]) -> bool {
    let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
    let n = digits(rest);
    if n == 0 {
        return false;
    }
    match rest.get(n) {
        Some(b'}') => true,
        Some(b',') => {
            let m = digits(&rest[n + 1..]);
            rest.get(n + 1 + m) == Some(&b'}')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::namespace_scope::OnConflict;

    fn scope(on_conflict: OnConflict) -> Scope<'static> {
        Scope {
            label: "namespace",
            namespace: "user1-test",
            on_conflict,
        }
    }

    fn edit(text: &str) -> Rewritten {
        edit_with(text, OnConflict::Reject)
    }

    fn edit_with(text: &str, on_conflict: OnConflict) -> Rewritten {
        let mut e = Expression::parse(text, scope(on_conflict)).unwrap();
        e.scope().unwrap();
        e.rewrite().unwrap()
    }

    fn in_place(text: &str) -> String {
        let r = edit(text);
        assert_eq!(r.reprinted, None, "{text}");
        r.text
    }

    #[test]
    fn keeps_every_byte_it_does_not_edit() {
        let cases = [
            (
                "# drift on danceability\ntrustyai_meanshift{subcategory=\"danceability\"}   # p-value\n  < 0.05\n",
                "# drift on danceability\ntrustyai_meanshift{namespace=\"user1-test\", subcategory=\"danceability\"}   # p-value\n  < 0.05\n",
            ),
            ("up", r#"up{namespace="user1-test"}"#),
            ("up{}", r#"up{namespace="user1-test"}"#),
            (
                "SUM BY (job) (rate(x[5m] OFFSET 1m))  >  1e3",
                r#"SUM BY (job) (rate(x{namespace="user1-test"}[5m] OFFSET 1m))  >  1e3"#,
            ),
            ("x @ 1.0005 > 0", r#"x{namespace="user1-test"} @ 1.0005 > 0"#),
            (
                r#"x{a="\xc3\xa9"} > 0"#,
                r#"x{namespace="user1-test", a="\xc3\xa9"} > 0"#,
            ),
            (
                "x{a='{b}', c=`#}`} # }",
                r#"x{namespace="user1-test", a='{b}', c=`#}`} # }"#,
            ),
            (
                "topk(scalar(a), b) + on(job) group_left(x) c",
                r#"topk(scalar(a{namespace="user1-test"}), b{namespace="user1-test"}) + on(job) group_left(x) c{namespace="user1-test"}"#,
            ),
            (
                "sum by (up) (up)",
                r#"sum by (up) (up{namespace="user1-test"})"#,
            ),
            (
                r#"{__name__="x", a=~"5.."}"#,
                r#"{namespace="user1-test", __name__="x", a=~"5.."}"#,
            ),
            ("max_over_time(x[10m:1m])", r#"max_over_time(x{namespace="user1-test"}[10m:1m])"#),
        ];
        for (input, want) in cases {
            assert_eq!(in_place(input), want, "{input}");
        }
    }

    #[test]
    fn replaces_only_the_template_value() {
        assert_eq!(
            in_place(r#"x{ namespace = "{{ .Release.Namespace }}" , a="b"}"#),
            r#"x{ namespace = "user1-test" , a="b"}"#
        );
    }

    #[test]
    fn overwrite_replaces_only_the_conflicting_matchers() {
        let r = edit_with(
            r#"x{a="b", namespace=~"user.*", c="d", namespace!="y"}  # keep"#,
            OnConflict::Overwrite,
        );
        assert_eq!(r.reprinted, None);
        // Only tokens go: the space before the removed matcher stays.
        assert_eq!(
            r.text,
            r#"x{a="b", namespace="user1-test", c="d" }  # keep"#
        );
    }

    #[test]
    fn an_edited_expression_needs_no_further_edit() {
        for text in ["up", "x{a=~\"b\"} # c\n+ y", "sum by (a) (x) / on (a) y"] {
            let once = in_place(text);
            let mut e = Expression::parse(&once, scope(OnConflict::Reject)).unwrap();
            assert!(!e.scope().unwrap().any(), "{once}");
        }
    }

    #[test]
    fn nesting_is_counted_on_the_parsers_tokens() {
        for hidden in [
            format!("#\r{}x", "-".repeat(6000)),
            format!("x{{#\"\n}} + {}x", "-".repeat(6000)),
        ] {
            assert!(matches!(
                Expression::parse(&hidden, scope(OnConflict::Reject)),
                Err(ParseRefusal::TooDeep { .. })
            ));
        }
        assert_eq!(depth_bound(&tokens("sum(rate(x[5m]))").unwrap()), 4);
        assert_eq!(depth_bound(&tokens("# (((\nup").unwrap()), 1);
        assert_eq!(depth_bound(&tokens(r#"up{job="a+b-(c)"}"#).unwrap()), 1);
    }

    #[test]
    fn regex_values_are_checked_without_compiling() {
        let text = r#"x{a=~"\\w{300}", namespace!~"x|y", __name__=~"x"}"#;
        let masked = mask_regex_matchers(text, &tokens(text).unwrap()).into_owned();
        assert_eq!(
            masked,
            r#"x{a= "\\w{300}", namespace!="x|y", __name__= "x"}"#
        );
        assert!(
            Expression::parse(r#"x{a=~"\\w{300}"}"#, scope(OnConflict::Reject))
                .unwrap()
                .masked_text
                .is_some()
        );
        // An invalid regex is rejected, naming the matcher as written.
        let Err(ParseRefusal::Syntax(why)) =
            Expression::parse(r#"x{a=~"("}"#, scope(OnConflict::Reject))
        else {
            panic!("accepted")
        };
        assert!(
            why.starts_with(r#"matcher a=~"(" is not a valid regular expression"#),
            "{why}"
        );
        // As in Go, a `{` that starts no repetition is a literal.
        assert!(
            Expression::parse(r#"x{a=~"a{b}c", b=~"x{2,3}"}"#, scope(OnConflict::Reject)).is_ok()
        );
        assert_eq!(literal_braces(r"a{b}c{2}d{,}\{e"), r"a\{b}c{2}d\{,}\{e");
    }

    #[test]
    fn a_masked_regex_on_the_label_is_never_the_exact_matcher() {
        // `=~"user1-test"` is masked to `= "user1-test"` for the parse; it is still a
        // regex, so still a conflict, quoted as the author wrote it.
        let mut e = Expression::parse(
            r#"x{code=~"5..", namespace=~"user1-test"} > 0"#,
            scope(OnConflict::Reject),
        )
        .unwrap();
        match e.scope() {
            Err(ScopeError::ConflictingMatcher {
                selector, matcher, ..
            }) => {
                assert_eq!(selector, r#"x{code=~"5..", namespace=~"user1-test"}"#);
                assert_eq!(matcher, r#"namespace=~"user1-test""#);
            }
            other => panic!("{other:?}"),
        }
        let r = edit_with(r#"x{namespace=~"user1-test"}"#, OnConflict::Overwrite);
        assert_eq!(r.text, r#"x{namespace="user1-test"}"#);
    }

    struct Below(f64);
    impl Completion for Below {
        fn render(&self, core: &str) -> String {
            format!("{core} < {}", self.0)
        }
    }

    #[test]
    fn a_completion_goes_after_the_last_token() {
        let mut e = Expression::parse("# p\nx   # value\n", scope(OnConflict::Reject)).unwrap();
        e.scope().unwrap();
        e.complete(Box::new(Below(0.05))).unwrap();
        let r = e.rewrite().unwrap();
        assert_eq!(r.reprinted, None);
        assert_eq!(
            r.text,
            "# p\nx{namespace=\"user1-test\"} < 0.05   # value\n"
        );
    }

    #[test]
    fn keyword_named_metrics_fall_back_to_the_reprint_with_a_reason() {
        let r = edit("sum + x");
        assert!(r.reprinted.is_some());
        assert_eq!(
            r.text,
            r#"sum{namespace="user1-test"} + x{namespace="user1-test"}"#
        );
        // With a regex matcher, the reprint would compile it: refused instead.
        let mut e = Expression::parse(r#"sum + x{a=~"b"}"#, scope(OnConflict::Reject)).unwrap();
        e.scope().unwrap();
        assert!(matches!(e.rewrite(), Err(ParseRefusal::NotEditable(_))));
    }
}
