//! Every check the policy runs, each with a stable id, in one table ([`ALL`]).
//!
//! A check is one file here: its [`Check`] (id, what it refuses or changes, and why) and,
//! where the check is a pure reading of a rule, the function that finds its problems.
//! Every finding a review makes names its check, so a message reads
//! `[alerts/bool] group "g" alert "a" (spec.groups[0].rules[1].expr): …` and a user can
//! look the id up in the README's list of checks.
//!
//! Adding a check: write its file, list it in `mod` below and in [`ALL`] (the README's
//! table is checked against [`ALL`]), and report its findings with `&your_check::CHECK`.

use std::fmt;

pub mod alerts_bool;
pub mod alerts_count_values;
pub mod alerts_default_labels;
pub mod alerts_for;
pub mod alerts_info;
pub mod alerts_label_value;
pub mod alerts_template_query;
pub mod drift_comparison;
pub mod expr_scope;
pub mod listener_service;
pub mod listener_tenant;
pub mod location;
pub mod object_bounds;
pub mod object_loads;
pub mod object_shape;
pub mod receiver_integrations;
pub mod request_namespace;
pub mod route_fan_out;
pub mod route_intervals;
pub mod route_keys;
pub mod rules_interval;
pub mod rules_namespace_label;
pub mod webhook_destination;
pub mod webhook_http_client;
pub mod webhook_redirects;
pub mod webhook_send_resolved;

/// One check: its stable id and what the README says of it.
#[derive(Debug, PartialEq, Eq)]
pub struct Check {
    /// `area/name`, stable across releases: users search for it and discuss it.
    pub id: &'static str,
    /// What it refuses or changes.
    pub refuses: &'static str,
    /// Why: the way across the tenant boundary, or the breakage, it closes.
    pub why: &'static str,
}

/// Every check, in the order the README lists them.
pub const ALL: &[&Check] = &[
    &request_namespace::CHECK,
    &object_shape::CHECK,
    &object_bounds::CHECK,
    &object_loads::CHECK,
    &expr_scope::CHECK,
    &rules_namespace_label::CHECK,
    &rules_interval::CHECK,
    &alerts_template_query::CHECK,
    &alerts_label_value::CHECK,
    &alerts_bool::CHECK,
    &alerts_count_values::CHECK,
    &alerts_info::CHECK,
    &drift_comparison::CHECK,
    &alerts_for::CHECK,
    &alerts_default_labels::CHECK,
    &receiver_integrations::CHECK,
    &webhook_destination::CHECK,
    &webhook_redirects::CHECK,
    &webhook_http_client::CHECK,
    &webhook_send_resolved::CHECK,
    &listener_tenant::CHECK,
    &listener_service::CHECK,
    &route_keys::CHECK,
    &route_fan_out::CHECK,
    &route_intervals::CHECK,
];

/// Where in the object a finding is: its path (`spec.groups[0].rules[1].expr`) and, for
/// messages, what sits there by name (`group "g" alert "a"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: String,
    pub subject: Option<String>,
}

impl Location {
    /// A place known only by its path.
    pub fn path(path: impl Into<String>) -> Location {
        Location {
            path: path.into(),
            subject: None,
        }
    }

    /// A place with a name: `receiver "r" (spec.receivers[0].url)`.
    pub fn named(subject: impl Into<String>, path: impl Into<String>) -> Location {
        Location {
            path: path.into(),
            subject: Some(subject.into()),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.subject, self.path.is_empty()) {
            (Some(subject), false) => write!(f, "{subject} ({})", self.path),
            (Some(subject), true) => f.write_str(subject),
            (None, _) => f.write_str(&self.path),
        }
    }
}

/// What a check found: a problem (the object is refused) or a change it made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub check: &'static Check,
    pub at: Location,
    pub message: String,
}

impl Finding {
    /// `[id] group "g" alert "a" (spec.groups[0].rules[1].expr): message`: a rejection
    /// names the rule by name and path.
    pub fn problem_text(&self) -> String {
        self.text(&self.at.to_string())
    }

    /// `[id] spec.groups[0].rules[1].expr: message`: a warning names the path it changed.
    pub fn change_text(&self) -> String {
        self.text(&self.at.path)
    }

    fn text(&self, at: &str) -> String {
        if at.is_empty() {
            format!("[{}] {}", self.check.id, self.message)
        } else {
            format!("[{}] {at}: {}", self.check.id, self.message)
        }
    }
}

/// What a check that reads one rule finds: the rule's field (`expr`, `labels.p`) and
/// what to do. The reviewer places it (a [`Location`]) and records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub check: &'static Check,
    pub field: String,
    pub message: String,
}

/// Problems and changes collected while walking one object.
#[derive(Debug, Default)]
pub struct Findings {
    pub problems: Vec<Finding>,
    pub changes: Vec<Finding>,
}

impl Findings {
    /// The object is refused for this.
    pub fn reject(&mut self, check: &'static Check, at: Location, message: impl Into<String>) {
        self.problems.push(Finding {
            check,
            at,
            message: message.into(),
        });
    }

    /// The object was changed: what, and the warning that tells the user.
    pub fn change(
        &mut self,
        check: &'static Check,
        path: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.changes.push(Finding {
            check,
            at: Location::path(path),
            message: message.into(),
        });
    }

    pub fn is_changed(&self) -> bool {
        !self.changes.is_empty()
    }

    /// The problems' texts, for messages and tests.
    pub fn problem_texts(&self) -> Vec<String> {
        self.problems.iter().map(Finding::problem_text).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_shows_its_subject_and_path_as_it_has_them() {
        assert_eq!(
            Location::named("receiver \"r\"", "spec.x").to_string(),
            "receiver \"r\" (spec.x)"
        );
        assert_eq!(
            Location::named("receiver \"r\"", "").to_string(),
            "receiver \"r\""
        );
        assert_eq!(Location::path("spec.x").to_string(), "spec.x");
    }

    #[test]
    fn ids_are_unique_and_area_slash_name() {
        let mut seen = std::collections::HashSet::new();
        for check in ALL {
            assert!(seen.insert(check.id), "{} listed twice", check.id);
            let (area, name) = check.id.split_once('/').expect("area/name");
            for part in [area, name] {
                assert!(
                    !part.is_empty()
                        && part
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                    "{}",
                    check.id
                );
            }
            assert!(!check.refuses.is_empty() && !check.why.is_empty());
        }
    }

    #[test]
    fn the_readme_lists_every_check_by_id() {
        let readme = include_str!("../../README.md");
        for check in ALL {
            assert!(
                readme.contains(&format!("| `{}` |", check.id)),
                "README lacks a row for {}",
                check.id
            );
        }
    }

    #[test]
    fn texts_carry_the_id_and_the_place() {
        let finding = Finding {
            check: &alerts_bool::CHECK,
            at: Location::named("group \"g\" alert \"a\"", "spec.groups[0].rules[1].expr"),
            message: "fires always".to_owned(),
        };
        assert_eq!(
            finding.problem_text(),
            "[alerts/bool] group \"g\" alert \"a\" (spec.groups[0].rules[1].expr): fires always"
        );
        assert_eq!(
            finding.change_text(),
            "[alerts/bool] spec.groups[0].rules[1].expr: fires always"
        );
    }
}
