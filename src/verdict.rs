//! What a review concludes, independent of how waPC carries it.

use kubewarden_policy_sdk::response::ValidationResponse;
use serde_json::Value;

use crate::checks::{Finding, Findings};

/// Most problems listed in one rejection message; the rest are counted.
pub const MAX_LISTED_PROBLEMS: usize = 10;

/// Most bytes of one problem's text: a problem that quotes a tenant's megabyte URL or
/// string must not make a megabyte message (kubectl prints it, the API server logs it).
pub const MAX_PROBLEM_BYTES: usize = 2048;

/// `text`, cut at [`MAX_PROBLEM_BYTES`] on a character boundary, saying how much was cut.
fn bounded(text: String) -> String {
    if text.len() <= MAX_PROBLEM_BYTES {
        return text;
    }
    let cut = text.floor_char_boundary(MAX_PROBLEM_BYTES);
    format!("{}… ({} bytes more)", &text[..cut], text.len() - cut)
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Accept {
        warnings: Vec<String>,
    },
    Mutate {
        object: Value,
        warnings: Vec<String>,
    },
    Reject {
        message: String,
    },
}

impl Verdict {
    pub fn accept() -> Self {
        Verdict::Accept {
            warnings: Vec::new(),
        }
    }

    /// The object is returned only when something in it changed; a rejection lists every
    /// problem found (up to a bound), each with its check's id, so one round trip fixes
    /// them all.
    pub fn of(findings: Findings, object: Value) -> Self {
        if !findings.problems.is_empty() {
            let total = findings.problems.len();
            let mut message = findings
                .problems
                .iter()
                .take(MAX_LISTED_PROBLEMS)
                .map(|problem| bounded(problem.problem_text()))
                .collect::<Vec<_>>()
                .join("; ");
            if total > MAX_LISTED_PROBLEMS {
                message.push_str(&format!(
                    "; and {} more problems",
                    total - MAX_LISTED_PROBLEMS
                ));
            }
            Verdict::Reject { message }
        } else {
            let warnings = findings.changes.iter().map(Finding::change_text).collect();
            if findings.is_changed() {
                Verdict::Mutate { object, warnings }
            } else {
                Verdict::Accept { warnings }
            }
        }
    }

    pub fn into_response(self) -> ValidationResponse {
        let (accepted, message, mutated_object, warnings) = match self {
            Verdict::Accept { warnings } => (true, None, None, warnings),
            Verdict::Mutate { object, warnings } => (true, None, Some(object), warnings),
            Verdict::Reject { message } => (false, Some(message), None, Vec::new()),
        };
        ValidationResponse {
            accepted,
            message,
            code: None,
            mutated_object,
            audit_annotations: None,
            warnings: (!warnings.is_empty()).then_some(warnings),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{object_loads, Location};

    fn rejection_of(problems: usize) -> String {
        let mut findings = Findings::default();
        for i in 0..problems {
            findings.reject(&object_loads::CHECK, Location::path(format!("f{i}")), "bad");
        }
        match Verdict::of(findings, Value::Null) {
            Verdict::Reject { message } => message,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_rejection_lists_ten_problems_and_counts_the_rest() {
        let ten = rejection_of(MAX_LISTED_PROBLEMS);
        assert_eq!(ten.matches("[object/loads]").count(), 10);
        assert!(ten.ends_with("f9: bad"), "{ten}");
        let twelve = rejection_of(MAX_LISTED_PROBLEMS + 2);
        assert_eq!(twelve.matches("[object/loads]").count(), 10);
        assert!(twelve.ends_with("f9: bad; and 2 more problems"), "{twelve}");
    }

    #[test]
    fn a_problem_is_cut_at_its_bound_on_a_character_boundary() {
        let rejection = |message: String| {
            let mut findings = Findings::default();
            findings.reject(&object_loads::CHECK, Location::path("f"), message);
            match Verdict::of(findings, Value::Null) {
                Verdict::Reject { message } => message,
                other => panic!("{other:?}"),
            }
        };
        // "[object/loads] f: " is 18 bytes: the text fits exactly, then one byte over.
        let fits = "x".repeat(MAX_PROBLEM_BYTES - 18);
        assert_eq!(rejection(fits.clone()), format!("[object/loads] f: {fits}"));
        let over = rejection(format!("{fits}y"));
        assert_eq!(over, format!("[object/loads] f: {fits}… (1 bytes more)"));
        // A two-byte character across the bound is left out whole.
        let across = rejection(format!("{}é", "x".repeat(MAX_PROBLEM_BYTES - 19)));
        assert!(across.ends_with("x… (2 bytes more)"), "{across}");
    }

    /// No warnings is no `warnings` field, as Kubewarden's own policies answer; a
    /// rejection carries none.
    #[test]
    fn warnings_are_sent_only_when_there_are_some() {
        assert_eq!(Verdict::accept().into_response().warnings, None);
        let with = Verdict::Accept {
            warnings: vec!["w".to_owned()],
        };
        assert_eq!(with.into_response().warnings, Some(vec!["w".to_owned()]));
        let rejected = Verdict::Reject {
            message: "m".to_owned(),
        };
        assert_eq!(rejected.into_response().warnings, None);
    }
}
