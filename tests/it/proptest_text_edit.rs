//! Properties of the in-place text edit over generated PromQL whose tokens are separated
//! by random white space and `#` comments: the edited text parses to exactly the
//! canonically scoped tree, keeps every comment and needs no second edit (there is no
//! reprint: an edit the policy cannot prove fails `rewrite`). A batch is judged by
//! `promtool check rules`.

use crate::common::promql_gen::{promtool_accepts, vector_expr, GAP};
use promql_parser::parser::parse;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use tenant_alerting_policy::promql::edit::{Expression, Rewritten};
use tenant_alerting_policy::promql::scope::{scope_expr, OnConflict, Scope};

fn scope() -> Scope<'static> {
    Scope {
        label: "namespace",
        namespace: "user1-test",
        on_conflict: OnConflict::Overwrite,
    }
}

/// What an author might put between two tokens.
fn gap() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(" ".to_owned()),
        Just(String::new()),
        Just("\n    ".to_owned()),
        Just("\t".to_owned()),
        (0u32..1000).prop_map(|n| format!("  # c{n} {{ }} ( \" ' `\n")),
        (0u32..1000).prop_map(|n| format!("\r\n# c{n}\n")),
    ]
}

/// A generated expression with every gap filled, and the comments it holds.
fn commented_expr() -> impl Strategy<Value = (String, Vec<String>)> {
    vector_expr()
        .prop_flat_map(|text| {
            let gaps = text.matches(GAP).count();
            (Just(text), prop::collection::vec(gap(), gaps))
        })
        .prop_map(|(text, gaps)| {
            let mut out = String::new();
            let mut fills = gaps.iter();
            for piece in text.split(GAP) {
                out.push_str(piece);
                // A gap with nothing in it would glue two words together.
                match fills.next().map(String::as_str) {
                    Some("") if piece.ends_with(|c: char| c.is_alphanumeric()) => out.push(' '),
                    Some(fill) => out.push_str(fill),
                    None => {}
                }
            }
            let comments = gaps
                .iter()
                .filter_map(|g| g.split_once('#').map(|(_, c)| format!("#{}", c.trim_end())))
                .collect();
            (out, comments)
        })
}

/// Edits `text`; `None` when the generator produced something the parser refuses.
fn edited(text: &str) -> Option<Rewritten> {
    let e = Expression::parse(text, scope()).ok()?;
    let e = e.scope().ok()?.no_completion();
    Some(if e.changed() {
        e.rewrite().expect("a scoped expression can be written")
    } else {
        Rewritten {
            text: text.to_owned(),
        }
    })
}

fn check(text: &str, comments: &[String]) -> Result<Option<String>, TestCaseError> {
    let Some(out) = edited(text) else {
        return Ok(None);
    };
    // The reference: promql-parser's own reading, regexes compiled. It refuses a few
    // regexes Go accepts (`{{` as literal braces); those cases have no reference.
    let Ok(mut canonical) = parse(text) else {
        return Ok(None);
    };
    scope_expr(&mut canonical, &scope()).unwrap();
    let reparsed = parse(&out.text)
        .map_err(|e| TestCaseError::fail(format!("{:?} does not parse: {e}", out.text)))?;
    prop_assert_eq!(&reparsed, &canonical, "{:?} -> {:?}", text, out.text);
    for comment in comments {
        prop_assert!(out.text.contains(comment.as_str()), "lost {:?}", comment);
    }
    let changed_again = {
        let again = Expression::parse(&out.text, scope()).unwrap();
        again.scope().unwrap().changes().any()
    };
    prop_assert!(!changed_again, "{:?} changed again", out.text);
    Ok(Some(out.text))
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
    fn the_edit_keeps_the_text_and_means_the_canonical_tree((text, comments) in commented_expr()) {
        check(&text, &comments)?;
    }
}

#[test]
fn promtool_accepts_the_edited_text() {
    let mut runner = TestRunner::deterministic();
    let strategy = commented_expr();
    let mut exprs = Vec::new();
    let mut attempts = 0;
    while exprs.len() < 300 && attempts < 1000 {
        attempts += 1;
        let (text, comments) = strategy.new_tree(&mut runner).unwrap().current();
        match check(&text, &comments) {
            Ok(Some(out)) => exprs.push(out),
            Ok(None) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        exprs.len(),
        300,
        "only {} of {attempts} parsed",
        exprs.len()
    );
    eprintln!("{attempts} generated, 300 edited in place");
    promtool_accepts("proptest-text", &exprs);
}
