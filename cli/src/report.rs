//! The report: `text` for people, `json`, SARIF 2.1.0 for code scanning, and GitHub
//! workflow commands for pull-request annotations.

use std::fmt::Write as _;

use serde_json::{json, Value};

use tenant_alerting_policy::checks;

use crate::check::{Record, Status, POLICY_VERSION};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
    Github,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub objects: usize,
    pub unchanged: usize,
    pub would_change: usize,
    pub rejected: usize,
    pub skipped: usize,
    pub errors: usize,
    pub not_reviewed: usize,
    pub fixed: usize,
}

impl Summary {
    pub fn of(records: &[Record]) -> Summary {
        let mut s = Summary {
            objects: records.len(),
            ..Summary::default()
        };
        for r in records {
            match r.status {
                Status::Unchanged => s.unchanged += 1,
                Status::Changed => s.would_change += 1,
                Status::Rejected => s.rejected += 1,
                Status::Skipped => s.skipped += 1,
                Status::NotReviewed => s.not_reviewed += 1,
                Status::Error => s.errors += 1,
            }
            if r.fixed {
                s.fixed += 1;
            }
        }
        s
    }

    /// `N objects: A unchanged, C would change, R rejected, S skipped, E errors`.
    pub fn line(&self) -> String {
        let mut line = format!(
            "{} objects: {} unchanged, {} would change, {} rejected, {} skipped, {} errors",
            self.objects,
            self.unchanged,
            self.would_change,
            self.rejected,
            self.skipped,
            self.errors
        );
        if self.not_reviewed > 0 {
            let _ = write!(line, ", {} not reviewed", self.not_reviewed);
        }
        if self.fixed > 0 {
            let _ = write!(line, " ({} fixed in place)", self.fixed);
        }
        line
    }
}

fn location(r: &Record) -> String {
    format!("{}:{}", r.file, r.line)
}

fn object_name(r: &Record) -> String {
    if r.kind.is_empty() {
        return "document".into();
    }
    let ns = if r.namespace.is_empty() {
        String::new()
    } else {
        format!("{}/", r.namespace)
    };
    format!("{} {ns}{}", r.kind, r.name)
}

struct Paint(bool);

impl Paint {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
}

/// The text report: quiet on objects admitted unchanged (unless `verbose`).
pub fn text(records: &[Record], colour: bool, verbose: bool) -> String {
    let paint = Paint(colour);
    let mut out = String::new();
    for r in records {
        let (word, code) = match r.status {
            Status::Unchanged if verbose => ("admitted unchanged", "32"),
            Status::Unchanged | Status::Skipped => continue,
            Status::Changed if r.fixed => ("fixed", "36"),
            Status::Changed => ("would change", "33"),
            Status::Rejected => ("rejected", "31;1"),
            Status::NotReviewed => ("not reviewed", "35"),
            Status::Error => ("error", "31;1"),
        };
        let _ = write!(
            out,
            "{}: {}: {}",
            paint.paint("1", &location(r)),
            object_name(r),
            paint.paint(code, word)
        );
        if let Some(source) = &r.helm_source {
            let _ = write!(out, " (Helm template {source})");
        }
        out.push('\n');
        if let Some(m) = &r.message {
            let _ = writeln!(out, "  {m}");
        }
        for w in &r.warnings {
            let _ = writeln!(out, "  {} {w}", paint.paint("33", "warning:"));
        }
        if let Some(note) = &r.fix_note {
            let _ = writeln!(out, "  note: {note}");
        }
        if let Some(diff) = &r.diff {
            for line in diff.lines() {
                let painted = match line.chars().next() {
                    Some('+') => paint.paint("32", line),
                    Some('-') => paint.paint("31", line),
                    Some('@') => paint.paint("36", line),
                    _ => line.to_owned(),
                };
                let _ = writeln!(out, "    {painted}");
            }
        }
    }
    out
}

pub fn json(records: &[Record]) -> String {
    let doc = json!({
        "policy": {"name": "tenant-alerting-policy", "version": POLICY_VERSION},
        "objects": records,
        "summary": Summary::of(records),
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// SARIF 2.1.0: one result per rejection, per change (at the changed value's line), per
/// input error, and per object left out of the policy's scope.
pub fn sarif(records: &[Record]) -> String {
    // The tool's own outcomes, then every check of the policy by its stable id: a
    // rejection is one result per problem, under the check that found it.
    let mut rules = vec![
        json!({"id": "rejected", "name": "Rejected", "shortDescription": {"text": "The policy rejects this object at admission"}, "defaultConfiguration": {"level": "error"}}),
        json!({"id": "would-change", "name": "WouldChange", "shortDescription": {"text": "The policy changes this value at admission (run check --fix to write it back)"}, "defaultConfiguration": {"level": "warning"}}),
        json!({"id": "input-error", "name": "InputError", "shortDescription": {"text": "This input cannot be read or parsed"}, "defaultConfiguration": {"level": "error"}}),
        json!({"id": "not-reviewed", "name": "NotReviewed", "shortDescription": {"text": "The policy manifest does not send this object to the policy"}, "defaultConfiguration": {"level": "note"}}),
    ];
    const OWN_RULES: usize = 4;
    rules.extend(checks::ALL.iter().map(|c| {
        json!({
            "id": c.id,
            "shortDescription": {"text": c.refuses},
            "fullDescription": {"text": c.why},
            "defaultConfiguration": {"level": "error"},
        })
    }));
    let mut results = Vec::new();
    let result = |rule: &str, index: usize, level: &str, text: String, r: &Record, line: usize| {
        json!({
            "ruleId": rule,
            "ruleIndex": index,
            "level": level,
            "message": {"text": text},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": r.file},
                "region": {"startLine": line.max(1)}
            }}],
            "properties": {"kind": r.kind, "namespace": r.namespace, "name": r.name, "helmSource": r.helm_source},
        })
    };
    for r in records {
        let who = object_name(r);
        match r.status {
            Status::Rejected => {
                for problem in problems(r.message.as_deref().unwrap_or_default()) {
                    let (rule, index) = match checks::ALL.iter().position(|c| c.id == problem.0) {
                        Some(i) => (problem.0, OWN_RULES + i),
                        None => ("rejected", 0),
                    };
                    results.push(result(
                        rule,
                        index,
                        "error",
                        format!("{who}: {}", problem.1),
                        r,
                        r.line,
                    ));
                }
            }
            Status::Changed => {
                let ops = r
                    .patch
                    .as_ref()
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for (i, op) in ops.iter().enumerate() {
                    let line = r.change_lines.get(i).copied().unwrap_or(r.line);
                    let what = format!(
                        "{who}: the policy would {} {} = {}",
                        op["op"].as_str().unwrap_or_default(),
                        op["path"].as_str().unwrap_or_default(),
                        op.get("value").map(|v| v.to_string()).unwrap_or_default()
                    );
                    results.push(result("would-change", 1, "warning", what, r, line));
                }
            }
            Status::Error => results.push(result(
                "input-error",
                2,
                "error",
                r.message.clone().unwrap_or_default(),
                r,
                r.line,
            )),
            Status::NotReviewed => results.push(result(
                "not-reviewed",
                3,
                "note",
                format!(
                    "{who}: not reviewed: {}",
                    r.message.clone().unwrap_or_default()
                ),
                r,
                r.line,
            )),
            Status::Unchanged | Status::Skipped => {}
        }
    }
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "tenant-alerting-policy",
                "version": POLICY_VERSION,
                "informationUri": "https://github.com/tenant-alerting-policy/tenant-alerting-policy",
                "rules": rules
            }},
            "results": results
        }]
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// A rejection message split into its problems, each with the id of its check (`""`
/// when a part carries none): the policy joins `[id] …` problems with `; `.
fn problems(message: &str) -> Vec<(&str, &str)> {
    let mut starts: Vec<usize> = vec![0];
    for check in checks::ALL {
        let marker = format!("; [{}] ", check.id);
        starts.extend(message.match_indices(&marker).map(|(i, _)| i));
    }
    starts.sort_unstable();
    starts.dedup();
    let mut out = Vec::new();
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(message.len());
        let part = message.get(start..end).unwrap_or_default();
        let part = part.strip_prefix("; ").unwrap_or(part);
        let id = part
            .strip_prefix('[')
            .and_then(|rest| rest.split_once("] "))
            .map(|(id, _)| id)
            .filter(|id| checks::ALL.iter().any(|c| c.id == *id))
            .unwrap_or_default();
        out.push((id, part));
    }
    out
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// GitHub Actions workflow commands (`::error file=…,line=…::…`).
pub fn github(records: &[Record]) -> String {
    let mut out = String::new();
    for r in records {
        let (level, title, text) = match r.status {
            Status::Rejected => (
                "error",
                "rejected by tenant-alerting-policy",
                r.message.clone().unwrap_or_default(),
            ),
            Status::Changed => {
                let mut text = r.warnings.join("\n");
                if let Some(note) = &r.fix_note {
                    text.push('\n');
                    text.push_str(note);
                }
                (
                    "warning",
                    "tenant-alerting-policy would change this object",
                    text,
                )
            }
            Status::Error => (
                "error",
                "cannot be checked",
                r.message.clone().unwrap_or_default(),
            ),
            Status::NotReviewed => (
                "notice",
                "not reviewed by tenant-alerting-policy",
                r.message.clone().unwrap_or_default(),
            ),
            Status::Unchanged | Status::Skipped => continue,
        };
        let _ = writeln!(
            out,
            "::{level} file={},line={},title={}::{}",
            escape_property(&r.file),
            r.line.max(1),
            escape_property(&format!("{}: {title}", object_name(r))),
            escape_data(&text)
        );
    }
    out
}
