//! `drift/comparison`: drift alerts mean what they say.

use super::location::RuleAt;
use super::{Check, Findings};
use crate::drift::{self, DriftCheck};
use crate::promql::edit::{Completed, Expression, Scoped};
use crate::settings::Settings;

pub const CHECK: Check = Check {
    id: "drift/comparison",
    refuses: "a drift metric compared the wrong way or against a threshold out of range; completes a bare drift selector with its default comparison (`< 0.05`)",
    why: "a bare selector fires whenever the series exists, and an inverted comparison fires on the models that did not drift: both retrain forever",
};

/// Drift alerts: a bare catalog selector gets its default comparison; a comparison that
/// points the wrong way or uses a threshold out of range is rejected.
pub fn complete_drift<'t>(
    expr: Expression<'t, Scoped>,
    at: &RuleAt,
    settings: &Settings,
    findings: &mut Findings,
) -> Expression<'t, Completed> {
    match drift::check_alert(expr.tree(), settings) {
        DriftCheck::Fine => expr.no_completion(),
        DriftCheck::Completed { comparison, metric } => match expr.complete(Box::new(comparison)) {
            Ok(completed) => {
                findings.change(
                        &CHECK,
                        at.path("expr"),
                        format!("added the default comparison for {metric} (a bare selector fires whenever the series exists)"),
                    );
                completed
            }
            Err((scoped, refusal)) => {
                findings.reject(
                    &CHECK,
                    at.at("expr"),
                    format!("with its default comparison, {refusal}"),
                );
                scoped.no_completion()
            }
        },
        DriftCheck::Problems(problems) => {
            for problem in problems {
                findings.reject(&CHECK, at.at("expr"), problem.to_string());
            }
            expr.no_completion()
        }
    }
}
