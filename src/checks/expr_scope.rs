//! `expr/scope`: every selector reads only the namespace.

use super::location::RuleAt;
use super::{object_loads, Check, Findings};
use crate::promql::edit::{Expression, Parsed, Scoped};
use crate::promql::scope::{OnConflict, Scope, ScopeError};

pub const CHECK: Check = Check {
    id: "expr/scope",
    refuses: "a selector whose namespace matcher names another namespace, a regex or negative namespace matcher, a `{a=\"1\" or b=\"2\"}` selector; adds the namespace matcher to every selector otherwise (in the author's own text)",
    why: "a rule reads series of the whole cluster: an unscoped selector reads other tenants' data",
};

/// Scopes every selector of `expr` to the namespace, recording each change; `None` when
/// the expression cannot be scoped (the reason is recorded).
pub fn scope<'t>(
    expr: Expression<'t, Parsed>,
    at: &RuleAt,
    scope: Scope,
    findings: &mut Findings,
) -> Option<Expression<'t, Scoped>> {
    let scoped = match expr.scope() {
        Ok(scoped) => scoped,
        Err(err @ ScopeError::ConflictingMatcher { .. }) => {
            // Only a conflict has an onConflict to offer, and only while it rejects.
            let or_overwrite = match scope.on_conflict {
                OnConflict::Reject => ", or have the policy set onConflict: overwrite",
                OnConflict::Overwrite => "",
            };
            findings.reject(
                &CHECK,
                at.at("expr"),
                format!(
                    "{err}, which conflicts with namespace {:?}: remove it (the policy adds {}={:?}){or_overwrite}",
                    scope.namespace, scope.label, scope.namespace,
                ),
            );
            return None;
        }
        Err(err @ ScopeError::OrMatchers { .. }) => {
            findings.reject(
                &object_loads::CHECK,
                at.at("expr"),
                format!("{err} (Prometheus 2.x refuses it); write one selector per alternative joined by `or`, e.g. x{{a=\"1\"}} or x{{b=\"2\"}}, and the policy scopes each"),
            );
            return None;
        }
        Err(err) => {
            findings.reject(&CHECK, at.at("expr"), err.to_string());
            return None;
        }
    };
    let path = at.path("expr");
    let changes = scoped.changes();
    if changes.added > 0 {
        findings.change(
            &CHECK,
            path.clone(),
            format!("scoped to namespace {:?}", scope.namespace),
        );
    }
    if changes.templates_replaced > 0 {
        findings.change(
            &CHECK,
            path.clone(),
            format!(
                "replaced an unrendered template matcher with {}={:?}",
                scope.label, scope.namespace
            ),
        );
    }
    for matcher in &changes.overwritten {
        findings.change(
            &CHECK,
            path.clone(),
            format!(
                "overwrote matcher {matcher} with {}={:?}",
                scope.label, scope.namespace
            ),
        );
    }
    Some(scoped)
}
