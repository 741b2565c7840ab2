//! Scopes every selector of a PromQL expression to one namespace, on the syntax tree.
//!
//! One visitor with an exhaustive match, so a node kind the parser grows cannot slip
//! through unscoped: every vector and matrix selector is reached, including those under
//! aggregation parameters (`topk(scalar(x), y)`), function arguments, subqueries and both
//! sides of binary operators.

use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::{Expr, VectorSelector};
use serde::{Deserialize, Serialize};

use crate::bounds::MAX_TREE_DEPTH;
use crate::walk::{walk_mut, TooDeep};

/// What to do with a selector whose matcher on the namespace label selects anything
/// other than exactly the object's namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum OnConflict {
    /// Refuse the object, naming the matcher.
    #[default]
    Reject,
    /// Drop every matcher on the label and set `label="namespace"`, as the Prometheus
    /// Operator's enforced namespace label does.
    Overwrite,
}

#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub label: &'a str,
    pub namespace: &'a str,
    pub on_conflict: OnConflict,
}

/// What scoping changed in one expression, counted per selector.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScopeChanges {
    /// Selectors that had no matcher on the label and got one.
    pub added: usize,
    /// Selectors whose matcher held an unrendered template (`{{ .Release.Namespace }}`).
    pub templates_replaced: usize,
    /// Selectors whose conflicting matchers were dropped (`onConflict: overwrite`).
    pub overwritten: Vec<String>,
    /// Where each of `overwritten` stands: (selector in text order, matcher in it).
    pub overwritten_at: Vec<(usize, usize)>,
    /// What happened to each selector, in text order (for the in-place text edit).
    pub edits: Vec<SelectorEdit>,
}

/// What scoping did to one selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectorEdit {
    /// It already matched exactly the namespace.
    Keep,
    /// `label="N"` was added, first.
    Add,
    /// Every matcher on the label was replaced by `label="N"`, where the first stood.
    SetOnly,
}

impl ScopeChanges {
    pub fn any(&self) -> bool {
        self.added > 0 || self.templates_replaced > 0 || !self.overwritten.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeError {
    /// A matcher on the label selects something other than exactly the namespace; `at`
    /// is (selector in text order, matcher in it), for quoting the author's text.
    ConflictingMatcher {
        selector: String,
        matcher: String,
        at: (usize, usize),
    },
    /// `{a="1" or b="2"}`: promql-parser accepts it, but it is not PromQL and does not
    /// print back as the same selector, so it is refused rather than silently changed.
    OrMatchers { selector: String },
    /// A node the parser never produces (an extension); refused rather than left unscoped.
    UnsupportedNode,
    /// The tree is deeper than the walk allows (the parse bound should stop this first).
    TooDeep,
}

impl std::fmt::Display for ScopeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScopeError::ConflictingMatcher {
                selector, matcher, ..
            } => {
                write!(f, "selector {selector} has matcher {matcher}")
            }
            ScopeError::OrMatchers { selector } => write!(
                f,
                "selector {selector} uses `or` between matchers, which PromQL does not support"
            ),
            ScopeError::UnsupportedNode => write!(f, "expression holds an unsupported node"),
            ScopeError::TooDeep => {
                write!(f, "expression nests deeper than {MAX_TREE_DEPTH} levels")
            }
        }
    }
}

/// Makes every selector in `expr` match `scope.label="scope.namespace"`.
pub fn scope_expr(expr: &mut Expr, scope: &Scope) -> Result<ScopeChanges, ScopeError> {
    scope_masked_expr(expr, scope, &|_, _| false)
}

/// [`scope_expr`] on a tree parsed with regex matchers masked as `=`/`!=` (see
/// `promql::edit`): `was_regex(selector, matcher)` says which were, so a masked regex on
/// the label is never taken for the exact matcher.
pub fn scope_masked_expr(
    expr: &mut Expr,
    scope: &Scope,
    was_regex: &dyn Fn(usize, usize) -> bool,
) -> Result<ScopeChanges, ScopeError> {
    let mut changes = ScopeChanges::default();
    walk_mut(expr, &mut |node| match node {
        Expr::VectorSelector(vs) => enforce(vs, scope, was_regex, &mut changes),
        Expr::MatrixSelector(ms) => enforce(&mut ms.vs, scope, was_regex, &mut changes),
        Expr::Extension(_) => Err(ScopeError::UnsupportedNode),
        _ => Ok(()),
    })?;
    Ok(changes)
}

impl From<TooDeep> for ScopeError {
    fn from(_: TooDeep) -> Self {
        ScopeError::TooDeep
    }
}

/// Whether a matcher value is a Helm/Go template that never got rendered.
pub fn is_unrendered_template(value: &str) -> bool {
    value.contains("{{")
}

fn enforce(
    vs: &mut VectorSelector,
    scope: &Scope,
    was_regex: &dyn Fn(usize, usize) -> bool,
    changes: &mut ScopeChanges,
) -> Result<(), ScopeError> {
    // Selectors are visited in text order; each gets exactly one edit below.
    let selector = changes.edits.len();
    if !vs.matchers.or_matchers.is_empty() {
        return Err(ScopeError::OrMatchers {
            selector: vs.to_string(),
        });
    }
    let exact = |i: usize, m: &Matcher| {
        m.name == scope.label
            && m.op == MatchOp::Equal
            && m.value == scope.namespace
            && !was_regex(selector, i)
    };
    let on_label = || {
        vs.matchers
            .matchers
            .iter()
            .enumerate()
            .filter(|(_, m)| m.name == scope.label)
    };

    // A conflict is any matcher on the label that neither selects exactly the namespace
    // nor is an unrendered template. Regexes that happen to match the namespace count too:
    // `namespace=~"user1-.*"` also reads user1-prod.
    let conflict = on_label().find(|(i, m)| !exact(*i, m) && !is_unrendered_template(&m.value));
    if let Some((index, conflict)) = conflict {
        let matcher = conflict.to_string();
        match scope.on_conflict {
            OnConflict::Reject => {
                return Err(ScopeError::ConflictingMatcher {
                    selector: vs.to_string(),
                    matcher,
                    at: (selector, index),
                })
            }
            OnConflict::Overwrite => {
                changes.overwritten.push(matcher);
                changes.overwritten_at.push((selector, index));
                changes.edits.push(SelectorEdit::SetOnly);
                set_only_matcher(vs, scope);
                return Ok(());
            }
        }
    }

    if on_label().any(|(_, m)| is_unrendered_template(&m.value)) {
        changes.templates_replaced += 1;
        changes.edits.push(SelectorEdit::SetOnly);
        set_only_matcher(vs, scope);
    } else if on_label().any(|(i, m)| exact(i, m)) {
        changes.edits.push(SelectorEdit::Keep);
    } else {
        changes.added += 1;
        changes.edits.push(SelectorEdit::Add);
        // First, where the in-place text edit puts it (`x{namespace="N", a="b"}`).
        vs.matchers.matchers.insert(0, namespace_matcher(scope));
    }
    Ok(())
}

/// Replaces every matcher on the label with the one exact matcher, at the place of the
/// first of them (where the in-place text edit puts it).
fn set_only_matcher(vs: &mut VectorSelector, scope: &Scope) {
    let matchers = &mut vs.matchers.matchers;
    let first = matchers
        .iter()
        .position(|m| m.name == scope.label)
        .unwrap_or(0);
    matchers.retain(|m| m.name != scope.label);
    matchers.insert(first.min(matchers.len()), namespace_matcher(scope));
}

fn namespace_matcher(scope: &Scope) -> Matcher {
    Matcher::new(MatchOp::Equal, scope.label, scope.namespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use promql_parser::parser::parse;

    const NS: &str = "user1-test";

    fn scope(on_conflict: OnConflict) -> Scope<'static> {
        Scope {
            label: "namespace",
            namespace: NS,
            on_conflict,
        }
    }

    fn run(text: &str, on_conflict: OnConflict) -> Result<(String, ScopeChanges), ScopeError> {
        let mut e = parse(text).unwrap();
        let changes = scope_expr(&mut e, &scope(on_conflict))?;
        Ok((e.to_string(), changes))
    }

    fn scoped(text: &str) -> String {
        run(text, OnConflict::Reject).unwrap().0
    }

    /// A node promql-parser never parses, only a program builds: scoping cannot see
    /// into it, so it fails closed rather than admit what it did not read.
    #[derive(Debug)]
    struct Opaque;
    impl promql_parser::parser::ast::ExtensionExpr for Opaque {
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
        fn name(&self) -> &str {
            "opaque"
        }
        fn value_type(&self) -> promql_parser::parser::value::ValueType {
            promql_parser::parser::value::ValueType::Vector
        }
        fn children(&self) -> &[Expr] {
            &[]
        }
        fn with_new_children(
            &self,
            _: Vec<Expr>,
        ) -> std::sync::Arc<dyn promql_parser::parser::ast::ExtensionExpr> {
            std::sync::Arc::new(Opaque)
        }
    }

    #[test]
    fn an_extension_node_is_refused() {
        let mut e = Expr::Extension(promql_parser::parser::ast::Extension {
            expr: std::sync::Arc::new(Opaque),
        });
        assert!(matches!(
            scope_expr(&mut e, &scope(OnConflict::Reject)),
            Err(ScopeError::UnsupportedNode)
        ));
    }

    #[test]
    fn adds_the_matcher_to_a_bare_selector() {
        assert_eq!(scoped("up"), r#"up{namespace="user1-test"}"#);
        assert_eq!(
            scoped(r#"up{job="a"}"#),
            r#"up{job="a",namespace="user1-test"}"#
        );
    }

    #[test]
    fn reaches_every_kind_of_node() {
        let cases = [
            ("rate(x[5m])", r#"rate(x{namespace="user1-test"}[5m])"#),
            (
                "topk(scalar(a), b)",
                r#"topk(scalar(a{namespace="user1-test"}), b{namespace="user1-test"})"#,
            ),
            (
                "quantile(scalar(q), y)",
                r#"quantile(scalar(q{namespace="user1-test"}), y{namespace="user1-test"})"#,
            ),
            (
                r#"count_values("v", x)"#,
                r#"count_values("v", x{namespace="user1-test"})"#,
            ),
            (
                "max_over_time(x[10m:1m])",
                r#"max_over_time(x{namespace="user1-test"}[10m:1m])"#,
            ),
            (
                "-(a) / b offset 5m",
                r#"-(a{namespace="user1-test"}) / b{namespace="user1-test"} offset 5m"#,
            ),
            ("x @ 100", r#"x{namespace="user1-test"} @ 100.000"#),
            ("1 + 2", "1 + 2"),
        ];
        for (input, want) in cases {
            assert_eq!(scoped(input), want, "{input}");
        }
    }

    #[test]
    fn exact_matcher_is_left_alone() {
        let (out, changes) =
            run(r#"x{namespace="user1-test"} < 0.05"#, OnConflict::Reject).unwrap();
        assert!(!changes.any());
        assert_eq!(out, r#"x{namespace="user1-test"} < 0.05"#);
    }

    #[test]
    fn unrendered_template_is_replaced() {
        let (out, changes) = run(
            r#"x{namespace="{{ .Release.Namespace }}", a="b"}"#,
            OnConflict::Reject,
        )
        .unwrap();
        assert_eq!(changes.templates_replaced, 1);
        assert_eq!(out, r#"x{a="b",namespace="user1-test"}"#);
    }

    #[test]
    fn every_other_matcher_on_the_label_conflicts() {
        for m in [
            r#"namespace="user2-test""#,
            r#"namespace!="user2-test""#,
            r#"namespace=~"user1-test""#,
            r#"namespace=~"user1-.*""#,
            r#"namespace!~"x""#,
        ] {
            let text = format!("x{{{m}}}");
            match run(&text, OnConflict::Reject) {
                Err(ScopeError::ConflictingMatcher { matcher, .. }) => {
                    assert_eq!(matcher, m, "{text}")
                }
                other => panic!("{text}: {other:?}"),
            }
            let (out, changes) = run(&text, OnConflict::Overwrite).unwrap();
            assert_eq!(out, r#"x{namespace="user1-test"}"#);
            assert_eq!(changes.overwritten, vec![m.to_string()]);
        }
    }

    #[test]
    fn exact_plus_conflicting_matcher_is_still_a_conflict() {
        let text = r#"x{namespace="user1-test", namespace=~".+"}"#;
        assert!(matches!(
            run(text, OnConflict::Reject),
            Err(ScopeError::ConflictingMatcher { .. })
        ));
        assert_eq!(
            run(text, OnConflict::Overwrite).unwrap().0,
            r#"x{namespace="user1-test"}"#
        );
    }

    #[test]
    fn or_matchers_are_refused() {
        assert!(matches!(
            run(r#"x{a="1" or b="2"}"#, OnConflict::Overwrite),
            Err(ScopeError::OrMatchers { .. })
        ));
    }

    #[test]
    fn scoping_twice_equals_scoping_once() {
        for text in [
            "sum by (namespace) (rate(http_requests_total[5m])) > 3",
            r#"x{namespace="{{ .Release.Namespace }}"} and on() y"#,
            "histogram_quantile(0.9, sum by (le) (rate(b[5m])))",
        ] {
            let once = scoped(text);
            let (twice, changes) = run(&once, OnConflict::Reject).unwrap();
            assert_eq!(once, twice);
            assert!(!changes.any(), "{text}");
        }
    }

    #[test]
    fn an_exact_matcher_on_another_label_does_not_count() {
        let mut e = parse(r#"x{namespace="user1-test"}"#).unwrap();
        let s = Scope {
            label: "kubernetes_namespace",
            namespace: NS,
            on_conflict: OnConflict::Reject,
        };
        assert_eq!(scope_expr(&mut e, &s).unwrap().added, 1);
    }

    #[test]
    fn other_label_names_are_honoured() {
        let mut e = parse(r#"x{namespace="other"}"#).unwrap();
        let s = Scope {
            label: "tenant",
            namespace: NS,
            on_conflict: OnConflict::Reject,
        };
        scope_expr(&mut e, &s).unwrap();
        assert_eq!(e.to_string(), r#"x{namespace="other",tenant="user1-test"}"#);
    }

    #[test]
    fn any_change_counts() {
        assert!(!ScopeChanges::default().any());
        let added = ScopeChanges {
            added: 1,
            ..Default::default()
        };
        let templates_replaced = ScopeChanges {
            templates_replaced: 1,
            ..Default::default()
        };
        let overwritten = ScopeChanges {
            overwritten: vec!["x".to_owned()],
            ..Default::default()
        };
        for changes in [added, templates_replaced, overwritten] {
            assert!(changes.any(), "{changes:?}");
        }
    }

    #[test]
    fn scope_errors_read_as_what_was_refused() {
        let conflict = ScopeError::ConflictingMatcher {
            selector: "x".to_owned(),
            matcher: r#"namespace="b""#.to_owned(),
            at: (0, 0),
        };
        assert_eq!(
            conflict.to_string(),
            r#"selector x has matcher namespace="b""#
        );
        assert_eq!(
            ScopeError::OrMatchers {
                selector: "x".to_owned()
            }
            .to_string(),
            "selector x uses `or` between matchers, which PromQL does not support"
        );
        assert_eq!(
            ScopeError::UnsupportedNode.to_string(),
            "expression holds an unsupported node"
        );
        assert_eq!(
            ScopeError::TooDeep.to_string(),
            format!("expression nests deeper than {MAX_TREE_DEPTH} levels")
        );
    }
}
