//! Properties of PromQL scoping over generated expressions: the output parses, every
//! selector carries exactly `namespace="user1-test"`, and scoping twice equals scoping
//! once. A batch of outputs is also judged by `promtool check rules`.

use crate::common::promql_gen;

use promql_parser::label::MatchOp;
use promql_parser::parser::{parse, Expr, VectorSelector};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use tenant_alerting_policy::promql::scope::{scope_expr, OnConflict, Scope, ScopeError};

const NS: &str = "user1-test";

fn scope(on_conflict: OnConflict) -> Scope<'static> {
    Scope {
        label: "namespace",
        namespace: NS,
        on_conflict,
    }
}

/// Generated expressions, one space in each gap (see `common::promql_gen`).
fn vector_expr() -> impl Strategy<Value = String> {
    promql_gen::vector_expr().prop_map(|text| text.replace(promql_gen::GAP, " "))
}

fn selectors(expr: &Expr, out: &mut Vec<VectorSelector>) {
    match expr {
        Expr::Aggregate(a) => {
            if let Some(p) = a.param.as_deref() {
                selectors(p, out);
            }
            selectors(&a.expr, out);
        }
        Expr::Unary(u) => selectors(&u.expr, out),
        Expr::Binary(b) => {
            selectors(&b.lhs, out);
            selectors(&b.rhs, out);
        }
        Expr::Paren(p) => selectors(&p.expr, out),
        Expr::Subquery(s) => selectors(&s.expr, out),
        Expr::Call(c) => c.args.args.iter().for_each(|a| selectors(a, out)),
        Expr::VectorSelector(vs) => out.push(vs.clone()),
        Expr::MatrixSelector(ms) => out.push(ms.vs.clone()),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

fn assert_scoped(text: &str) -> Result<(), TestCaseError> {
    let e = parse(text).map_err(|err| TestCaseError::fail(format!("{text}: {err}")))?;
    let mut all = Vec::new();
    selectors(&e, &mut all);
    for vs in all {
        let on_label: Vec<_> = vs
            .matchers
            .matchers
            .iter()
            .filter(|m| m.name == "namespace")
            .collect();
        // At least one matcher on the label, and every one exactly the namespace (an
        // author may repeat the exact matcher; that selects the same series).
        prop_assert!(!on_label.is_empty(), "{}", vs);
        for m in on_label {
            prop_assert!(m.op == MatchOp::Equal && m.value == NS, "{}", vs);
        }
    }
    Ok(())
}

/// Scopes `text`; `None` when the generator produced something promql-parser refuses.
fn scoped(text: &str, on_conflict: OnConflict) -> Option<Result<String, ScopeError>> {
    let mut e = parse(text).ok()?;
    Some(scope_expr(&mut e, &scope(on_conflict)).map(|_| e.to_string()))
}

proptest! {
    // Failures are kept beside this file (`<stem>.proptest-regressions`): the default,
    // `SourceParallel`, would now find `tests/it/main.rs` and write to
    // `tests/proptest-regressions/` instead.
    #![proptest_config(Config {
        cases: 512,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    })]

    #[test]
    fn overwrite_scopes_every_selector_and_is_idempotent(text in vector_expr()) {
        let Some(result) = scoped(&text, OnConflict::Overwrite) else { return Ok(()) };
        let once = result.map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        assert_scoped(&once)?;
        let mut again = parse(&once).unwrap();
        let changes = scope_expr(&mut again, &scope(OnConflict::Overwrite)).unwrap();
        prop_assert!(!changes.any(), "{} changed again", once);
        prop_assert_eq!(again.to_string(), once);
    }

    #[test]
    fn reject_either_names_a_conflict_or_scopes_everything(text in vector_expr()) {
        let Some(result) = scoped(&text, OnConflict::Reject) else { return Ok(()) };
        match result {
            Ok(once) => {
                assert_scoped(&once)?;
                prop_assert_eq!(scoped(&once, OnConflict::Reject), Some(Ok(once.clone())));
            }
            Err(ScopeError::ConflictingMatcher { matcher, .. }) => {
                prop_assert!(matcher.starts_with("namespace"), "{}", matcher);
                prop_assert!(matcher != format!("namespace=\"{NS}\""), "{}", matcher);
            }
            Err(other) => prop_assert!(false, "{}: {}", text, other),
        }
    }
}

#[test]
fn promtool_accepts_what_scoping_emits() {
    let mut runner = TestRunner::deterministic();
    let strategy = vector_expr();
    let mut exprs = Vec::new();
    let mut attempts = 0;
    while exprs.len() < 300 {
        attempts += 1;
        let text = strategy.new_tree(&mut runner).unwrap().current();
        if let Some(Ok(out)) = scoped(&text, OnConflict::Overwrite) {
            exprs.push(out);
        }
    }
    // The generator must mostly produce PromQL the parser takes, or the properties above
    // would hold vacuously.
    assert!(
        attempts < 450,
        "only 300 of {attempts} generated expressions parsed"
    );
    eprintln!("{attempts} generated, 300 parsed; e.g. {}", exprs[299]);
    promql_gen::promtool_accepts("proptest", &exprs);
}
