//! Golden outputs of every `--format` on the bundled GitOps tree. When the policy's
//! behaviour changes, regenerate them with
//! `UPDATE_GOLDEN=1 cargo test -p tenant-alerting-policy-cli --test golden`
//! and review the diff.

mod common;

use common::*;

fn check_golden(format: &str) {
    let out = run(
        &[
            "check",
            "--policy",
            POLICY,
            "--namespace",
            "user1-prod",
            "--format",
            format,
            "examples/gitops",
        ],
        None,
    );
    assert_eq!(
        out.code, 1,
        "a rejection in the tree: exit 1\n{}{}",
        out.stdout, out.stderr
    );
    let path = repo_root().join(format!("cli/tests/golden/examples.{format}"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &out.stdout).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; create it with UPDATE_GOLDEN=1", path.display()));
    assert_eq!(
        out.stdout,
        want,
        "--format {format} differs from {}; if the change is intended, run \
         UPDATE_GOLDEN=1 cargo test -p tenant-alerting-policy-cli --test golden",
        path.display()
    );
}

#[test]
fn text() {
    check_golden("text");
}

#[test]
fn json() {
    check_golden("json");
}

#[test]
fn sarif() {
    check_golden("sarif");
}

#[test]
fn github() {
    check_golden("github");
}
