//! `drift/comparison`: drift alerts mean what they say.

use super::location::RuleAt;
use super::{Check, Findings};
use crate::drift::{self, DriftCheck};
use crate::promql::edit::Expression;
use crate::settings::Settings;

pub const CHECK: Check = Check {
    id: "drift/comparison",
    refuses: "a drift metric compared the wrong way or against a threshold out of range; completes a bare drift selector with its default comparison (`< 0.05`)",
    why: "a bare selector fires whenever the series exists, and an inverted comparison fires on the models that did not drift: both retrain forever",
};

/// Drift alerts: a bare catalog selector gets its default comparison; a comparison that
/// points the wrong way or uses a threshold out of range is rejected.
pub fn complete_drift(
    expr: &mut Expression,
    at: &RuleAt,
    settings: &Settings,
    findings: &mut Findings,
) {
    match drift::check_alert(expr.tree(), settings) {
        DriftCheck::Fine => {}
        DriftCheck::Completed { comparison, metric } => {
            match expr.complete(Box::new(comparison)) {
                Ok(()) => findings.change(
                    &CHECK,
                    at.path("expr"),
                    format!("added the default comparison for {metric} (a bare selector fires whenever the series exists)"),
                ),
                Err(refusal) => findings.reject(
                    &CHECK,
                    at.at("expr"),
                    format!("with its default comparison, {refusal}"),
                ),
            }
        }
        DriftCheck::Problems(problems) => {
            for problem in problems {
                findings.reject(&CHECK, at.at("expr"), problem.to_string());
            }
        }
    }
}
