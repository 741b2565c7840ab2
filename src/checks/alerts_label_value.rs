//! `alerts/label-value`: an alert's labels are its identity, so they must not depend on
//! its value.

use super::Check;
use crate::go_template::{Command, Node, Operand, Pipeline, Template, Term};

pub const CHECK: Check = Check {
    id: "alerts/label-value",
    refuses: "a label template that reads the alert's value: `$value`, `.Value`, `$.Value`, through variables, pipes, `with`/`range`, `printf`, `humanize*` or `now` (`query` is refused by `alerts/template-query`)",
    why: "every evaluation with a new value makes a new alert, so a new notification and a new retraining run",
};

/// Where a value-dependent datum came from.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Source {
    pub(super) what: String,
    /// `None` for `$value` until a use gives it one.
    pub(super) offset: Option<usize>,
}

/// What a template value can hold, as far as the alert's value goes.
#[derive(Debug, Clone, PartialEq)]
enum Data {
    /// Nothing of the value: labels, constants, external labels and URL.
    Clean,
    /// The alert's template data (`.` at the top, `$`): it holds `.Value`.
    Root,
    /// The value, or something computed from it (or from `now`). `query`'s answer is
    /// not: `query` is refused on its own, and as a source here it would hide the value
    /// joined with it (`printf "%v %v" (query "up") $value`).
    Value(Source),
}

fn join(a: Data, b: Data) -> Data {
    match (a, b) {
        (Data::Value(s), _) | (_, Data::Value(s)) => Data::Value(s),
        (Data::Root, _) | (_, Data::Root) => Data::Root,
        (Data::Clean, Data::Clean) => Data::Clean,
    }
}

/// Most `{{template}}` calls followed per template (recursion ends here too).
const MAX_TEMPLATE_CALLS: usize = 32;

/// The first output or branch of `template` that depends on the alert's value (other
/// than through `query`, which is refused on its own). Flow-insensitive where it must
/// be: an assignment in one branch taints the variable in all later uses.
pub(super) fn value_dependence(template: &Template) -> Option<Source> {
    let mut flow = Flow {
        template,
        vars: vec![
            ("$".to_owned(), Data::Root),
            ("$labels".to_owned(), Data::Clean),
            ("$externalLabels".to_owned(), Data::Clean),
            ("$externalURL".to_owned(), Data::Clean),
            (
                "$value".to_owned(),
                Data::Value(Source {
                    what: "`$value`".to_owned(),
                    offset: None,
                }),
            ),
        ],
        found: Vec::new(),
        calls: 0,
    };
    flow.nodes(&template.body, &Data::Root);
    flow.found.into_iter().next()
}

struct Flow<'t> {
    template: &'t Template,
    vars: Vec<(String, Data)>,
    found: Vec<Source>,
    calls: usize,
}

impl Flow<'_> {
    /// `data` is printed or decides a branch.
    fn used(&mut self, data: Data, offset: usize) {
        match data {
            Data::Clean => {}
            Data::Root => self.found.push(whole_data(offset)),
            Data::Value(mut source) => {
                source.offset.get_or_insert(offset);
                self.found.push(source);
            }
        }
    }

    fn nodes(&mut self, nodes: &[Node], dot: &Data) {
        for node in nodes {
            self.node(node, dot);
        }
    }

    fn node(&mut self, node: &Node, dot: &Data) {
        match node {
            Node::Action(pipe) => {
                let data = self.pipeline(pipe, dot);
                // An action that declares variables prints nothing.
                if pipe.decl.is_empty() {
                    self.used(data, pipe.offset);
                }
            }
            Node::If(c) | Node::With(c) | Node::Range(c) => {
                let vars = self.vars.len();
                let data = self.pipeline(&c.pipe, dot);
                // The whole data is always true: only the value can decide a branch.
                if let Data::Value(_) = data {
                    self.used(data.clone(), c.pipe.offset);
                }
                // `with` and `range` move the cursor to what they test.
                let inner = if matches!(node, Node::If(_)) {
                    dot.clone()
                } else {
                    data
                };
                self.nodes(&c.then, &inner);
                self.nodes(&c.otherwise, dot);
                self.vars.truncate(vars);
            }
            Node::Template { name, pipe, .. } => {
                let data = match pipe {
                    Some(pipe) => self.pipeline(pipe, dot),
                    None => Data::Clean,
                };
                self.call(name, data);
            }
            Node::Break(_) | Node::Continue(_) => {}
        }
    }

    /// `{{template "name" data}}`: the last definition of `name` runs with `.` and `$`
    /// set to `data`, and no other variable.
    fn call(&mut self, name: &str, data: Data) {
        let template = self.template;
        let Some(define) = template.defines.iter().rev().find(|d| d.name == name) else {
            return;
        };
        if self.calls >= MAX_TEMPLATE_CALLS {
            // Past the bound, assume the worst of what it is given.
            self.used(data, define.offset);
            return;
        }
        self.calls += 1;
        let vars = std::mem::replace(&mut self.vars, vec![("$".to_owned(), data.clone())]);
        self.nodes(&define.body, &data);
        self.vars = vars;
    }

    fn pipeline(&mut self, pipe: &Pipeline, dot: &Data) -> Data {
        let mut result: Option<Data> = None;
        for command in &pipe.commands {
            result = Some(self.command(command, dot, result));
        }
        let data = result.unwrap_or(Data::Clean);
        for decl in &pipe.decl {
            let existing = self.vars.iter_mut().rev().find(|(n, _)| *n == decl.name);
            match existing {
                Some(var) if pipe.assign => var.1 = join(var.1.clone(), data.clone()),
                _ => self.vars.push((decl.name.clone(), data.clone())),
            }
        }
        data
    }

    /// A command; `piped` is the previous stage's result, its last argument.
    fn command(&mut self, command: &Command, dot: &Data, piped: Option<Data>) -> Data {
        let mut data = Data::Clean;
        for (index, arg) in command.args.iter().enumerate() {
            let value = self.operand(arg, dot);
            // A function's arguments: the whole alert data passed on can reach its value.
            let value = if index > 0 {
                argument(value, arg.offset)
            } else {
                value
            };
            data = join(data, value);
        }
        if let Some(piped) = piped {
            data = join(data, argument(piped, command.offset));
        }
        data
    }

    fn operand(&mut self, operand: &Operand, dot: &Data) -> Data {
        let base = match &operand.term {
            Term::Dot => dot.clone(),
            Term::Variable(name) => {
                let found = self.vars.iter().rev().find(|(n, _)| n == name);
                match found.map(|(_, d)| d.clone()) {
                    // `$value` is located where it is used.
                    Some(Data::Value(mut source)) => {
                        source.offset.get_or_insert(operand.offset);
                        Data::Value(source)
                    }
                    Some(other) => other,
                    None => Data::Clean,
                }
            }
            Term::Function(name) => match name.as_str() {
                "now" => Data::Value(Source {
                    what: "`now` (the evaluation time)".to_owned(),
                    offset: Some(operand.offset),
                }),
                _ => Data::Clean,
            },
            Term::Pipe(pipe) => self.pipeline(pipe, dot),
            Term::Bool(_) | Term::Number(_) | Term::String(_) | Term::Nil => Data::Clean,
        };
        let Some(first) = operand.fields.first() else {
            return base;
        };
        match base {
            Data::Root if first == "Value" => Data::Value(Source {
                what: format!("`{}`", operand_text(operand)),
                offset: Some(operand.offset),
            }),
            // `.Labels`, `.ExternalLabels`, `.ExternalURL` (anything else fails to run).
            Data::Root => Data::Clean,
            other => other,
        }
    }
}

/// The whole alert data as an argument or output: it holds the value.
fn whole_data(offset: usize) -> Source {
    Source {
        what: "`.`/`$` (the alert's whole template data, which holds its value)".to_owned(),
        offset: Some(offset),
    }
}

fn argument(data: Data, offset: usize) -> Data {
    match data {
        Data::Root => Data::Value(whole_data(offset)),
        other => other,
    }
}

fn operand_text(operand: &Operand) -> String {
    let base = match &operand.term {
        Term::Dot => String::new(),
        Term::Variable(name) => name.clone(),
        _ => "(…)".to_owned(),
    };
    operand
        .fields
        .iter()
        .fold(base, |text, field| format!("{text}.{field}"))
}

#[cfg(test)]
mod tests {
    use crate::checks::alerts_template_query::{template_problems, TemplateKind};

    /// The `[alerts/label-value]` messages for `text` as the label `labels.p`.
    fn value_problems(text: &str) -> Vec<String> {
        template_problems("labels.p", text, TemplateKind::Label, "A")
            .into_iter()
            .filter(|p| p.check.id == "alerts/label-value")
            .map(|p| format!("[{}] {}: {}", p.check.id, p.field, p.message))
            .collect()
    }

    fn through(text: &str) -> Option<String> {
        let problems = value_problems(text);
        assert!(problems.len() <= 1, "{text}: {problems:?}");
        let message = problems.into_iter().next()?;
        assert!(
            message.starts_with("[alerts/label-value] labels.p: "),
            "{message}"
        );
        let (_, rest) = message.split_once("depends on the alert's value through ")?;
        Some(
            rest.split_once(", so every")
                .map_or(rest, |(t, _)| t)
                .to_owned(),
        )
    }

    #[test]
    fn the_whole_data_as_an_argument_is_located_at_the_argument() {
        assert_eq!(
            through(r#"{{ printf "%v" $ }}"#).as_deref(),
            Some("`.`/`$` (the alert's whole template data, which holds its value) (at byte 15)")
        );
        assert_eq!(
            through("{{ $labels.a | printf \"%v %v\" . }}").as_deref(),
            Some("`.`/`$` (the alert's whole template data, which holds its value) (at byte 30)")
        );
    }

    /// Go's scoping, which decides what a label prints: an assignment prints nothing; a
    /// variable declared in a block ends with it; `else` keeps the outer cursor; a
    /// defined template sees only its own `$`; field names are case-sensitive.
    #[test]
    fn value_reads_follow_gos_scopes() {
        for (name, text) in [
            (
                "an assignment prints nothing",
                "{{ $v := 1 }}{{ $v = $value }}",
            ),
            (
                "a block's variable ends with it",
                "{{ $v := 1 }}{{ if true }}{{ $v := $value }}{{ end }}{{ $v }}",
            ),
            (
                "with's else keeps the outer cursor",
                "{{ with $labels }}{{ with $ }}a{{ else }}{{ . }}{{ end }}{{ end }}",
            ),
            (
                "a defined template's $ is what it is given",
                r#"{{ define "t" }}{{ $ }}{{ end }}{{ template "t" $labels }}"#,
            ),
            ("field names are case-sensitive", "{{ .value }}"),
        ] {
            // No problem at all: in particular the template parses, as Go's does.
            let problems: Vec<String> =
                template_problems("labels.p", text, TemplateKind::Label, "A")
                    .into_iter()
                    .map(|p| p.message)
                    .collect();
            assert_eq!(problems, Vec::<String>::new(), "{name}: {text}");
        }
    }

    /// The alert data passed down a chain of templates well within the bound is
    /// followed, not assumed to be printed.
    #[test]
    fn a_chain_of_templates_within_the_bound_is_followed() {
        let chain: String = (0..8)
            .map(|i| {
                format!(
                    r#"{{{{ define "t{i}" }}}}{{{{ template "t{}" . }}}}{{{{ end }}}}"#,
                    i + 1
                )
            })
            .collect();
        let text = format!(
            r#"{chain}{{{{ define "t8" }}}}{{{{ .Labels.model }}}}{{{{ end }}}}{{{{ template "t0" . }}}}"#
        );
        assert_eq!(
            template_problems("labels.p", &text, TemplateKind::Label, "A").len(),
            0,
            "{text}"
        );
    }

    #[test]
    fn a_redeclared_variable_holds_only_its_new_value() {
        // `:=` declares a new variable (Go prints 1); `=` assigns, and keeps the taint.
        assert_eq!(through("{{ $v := $value }}{{ $v := 1 }}{{ $v }}"), None);
        assert_eq!(
            through("{{ $v := $value }}{{ if true }}{{ $v := 1 }}{{ $v }}{{ end }}"),
            None
        );
        assert_eq!(
            through("{{ $v := $value }}{{ $v = 1 }}{{ $v }}").as_deref(),
            Some("`$value` (at byte 9)")
        );
    }

    #[test]
    fn a_value_read_next_to_query_is_reported_too() {
        // Found by cargo-mutants: `query`'s answer, joined first, hid the `$value` beside
        // it, whichever order they were written in. Both problems are reported.
        for (text, at) in [
            (r#"{{ printf "%v %v" (query "up") $value }}"#, 31),
            (r#"{{ printf "%v %v" $value (query "up") }}"#, 18),
        ] {
            let checks: Vec<&str> = template_problems("labels.p", text, TemplateKind::Label, "A")
                .iter()
                .map(|p| p.check.id)
                .collect();
            assert_eq!(
                checks,
                ["alerts/template-query", "alerts/label-value"],
                "{text}"
            );
            assert_eq!(
                through(text),
                Some(format!("`$value` (at byte {at})")),
                "{text}"
            );
        }
        // `query` alone is the one problem, also when its answer is printed.
        assert_eq!(
            through(r#"{{ with query "up" }}{{ . | first | value }}{{ end }}"#),
            None
        );
    }

    #[test]
    fn template_calls_past_the_bound_are_judged_by_the_data_they_pass() {
        // A chain of 40 templates, each handing the whole data to the next; the last
        // prints a label. Past 32 calls the policy stops following and assumes the worst
        // of what it was given: the whole data, which holds the value.
        let chain = |data: &str| {
            let mut text = String::new();
            for i in 0..40 {
                text.push_str(&format!(
                    r#"{{{{ define "t{i}" }}}}{{{{ template "t{}" {data} }}}}{{{{ end }}}}"#,
                    i + 1
                ));
            }
            text.push_str(r#"{{ define "t40" }}{{ $.Labels.a }}{{ end }}{{ template "t0" "#);
            text.push_str(data);
            text.push_str(" }}");
            text
        };
        let whole = through(&chain(".")).expect("the whole data past the bound");
        assert!(whole.starts_with("`.`/`$`"), "{whole}");
        assert_eq!(through(&chain(r#""constant""#)), None);
        // A template calling itself ends at the bound too.
        assert_eq!(
            through(
                r#"{{ define "r" }}{{ template "r" $labels }}{{ end }}{{ template "r" $labels }}"#
            ),
            None
        );
        let recursive =
            through(r#"{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}"#)
                .expect("the whole data past the bound");
        assert!(recursive.starts_with("`.`/`$`"), "{recursive}");
    }
}
