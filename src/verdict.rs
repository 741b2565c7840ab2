//! What a review concludes, independent of how waPC carries it.

use kubewarden_policy_sdk::response::ValidationResponse;
use serde_json::Value;

/// Most problems listed in one rejection message; the rest are counted.
pub const MAX_LISTED_PROBLEMS: usize = 10;

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

/// Problems and changes collected while walking one object.
#[derive(Debug, Default)]
pub struct Findings {
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
    pub changed: bool,
}

impl Findings {
    pub fn reject(&mut self, problem: String) {
        self.problems.push(problem);
    }

    /// Records a change made to the object, with the warning that tells the user.
    pub fn changed(&mut self, warning: String) {
        self.changed = true;
        self.warnings.push(warning);
    }

    /// The object is returned only when something in it changed; a rejection lists every
    /// problem found (up to a bound) so one round trip fixes them all.
    pub fn into_verdict(self, object: Value) -> Verdict {
        if !self.problems.is_empty() {
            let total = self.problems.len();
            let mut message = self
                .problems
                .into_iter()
                .take(MAX_LISTED_PROBLEMS)
                .collect::<Vec<_>>()
                .join("; ");
            if total > MAX_LISTED_PROBLEMS {
                message.push_str(&format!(
                    "; and {} more problems",
                    total - MAX_LISTED_PROBLEMS
                ));
            }
            Verdict::Reject { message }
        } else if self.changed {
            Verdict::Mutate {
                object,
                warnings: self.warnings,
            }
        } else {
            Verdict::Accept {
                warnings: self.warnings,
            }
        }
    }
}

/// JSON type name for messages ("found a list").
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
