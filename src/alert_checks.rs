//! Checks that an alerting rule means what it says, one small function per check.
//!
//! Each check takes what it needs of the rule and returns its problems in one shape,
//! [`Problem`]: the rule field it is about and what to do. Adding a check touches only
//! this file and the one line in `prometheus_rule` that runs it.

use promql_parser::label::Labels;
use promql_parser::parser::token::{self, TokenId};
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{Expr, LabelModifier, VectorMatchCardinality};
use serde_json::{Map, Value};

use crate::bounded_parse::MAX_TREE_DEPTH;
use crate::go_template::{self, Command, Node, Operand, Pipeline, Template, Term};
use crate::namespace_scope::Scope;
use crate::promql_walk::{children, walk};

/// One thing wrong with a rule: the field (`expr`, `labels.p`) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

// ---------------------------------------------------------------------------------------
// The expression

/// Why an alert's result has a sample for every series it reads.
enum AlwaysFires {
    /// A `bool` comparison, 0 or 1 per series, reaches the result.
    Bool,
    /// A further comparison with a number lets both 0 and 1 through.
    PassesBoth { comparison: String },
}

/// An alert over a `bool` comparison has a sample, 0 or 1, for every series it reads,
/// so it fires whenever the series exists — also when a further comparison with a
/// number lets both 0 and 1 through (`(x < bool 0.05) >= 0`).
pub fn always_fires_by_bool(expr: &Expr) -> Option<Problem> {
    let message = match yields_bool_samples(expr, 0)? {
        AlwaysFires::Bool => "its result is a `bool` comparison, which returns 0 or 1 for every series, so the alert fires whenever the series exists; drop `bool` so the comparison filters".to_owned(),
        AlwaysFires::PassesBoth { comparison } => format!(
            "its result is a `bool` comparison (0 or 1 for every series) filtered by `{comparison}`, which passes both 0 and 1, so it filters nothing and the alert fires whenever the series exists; write `== 1` to keep the series where the comparison held (or drop `bool`)"
        ),
    };
    Some(Problem {
        field: "expr".to_owned(),
        message,
    })
}

/// Whether every series `expr` reads comes out as a sample whose value came from a
/// `bool` comparison: its top, or below operators, aggregations and functions that keep
/// a sample for every input series. A further comparison without `bool` filters again
/// only when it tells 0 from 1: against a number it is evaluated on both.
fn yields_bool_samples(expr: &Expr, depth: usize) -> Option<AlwaysFires> {
    if depth > MAX_TREE_DEPTH {
        return None;
    }
    let below = |e: &Expr| yields_bool_samples(e, depth + 1);
    match expr {
        Expr::Binary(b) if b.op.is_comparison_operator() => {
            if b.return_bool() {
                return Some(AlwaysFires::Bool);
            }
            let (bool_side, number, swapped) =
                match (number_literal(&b.rhs), number_literal(&b.lhs)) {
                    (Some(n), _) => (&b.lhs, n, false),
                    (None, Some(n)) => (&b.rhs, n, true),
                    // Against another vector it filters series by series: not judged here.
                    (None, None) => return None,
                };
            below(bool_side)?;
            let op = b.op.id();
            let passes = |v: f64| {
                let (l, r) = if swapped { (number, v) } else { (v, number) };
                compare(op, l, r)
            };
            if !(passes(0.0) && passes(1.0)) {
                // Exactly one passes: it filters. Neither: it never fires (not this check).
                return None;
            }
            let number = format_number(number);
            let comparison = if swapped {
                format!("{number} {} …", b.op)
            } else {
                format!("… {} {number}", b.op)
            };
            Some(AlwaysFires::PassesBoth { comparison })
        }
        // `and`/`unless` keep the left side's samples; `or` either side's.
        Expr::Binary(b) if is_op(b.op.id(), &[token::T_LAND, token::T_LUNLESS]) => below(&b.lhs),
        // `or` and arithmetic keep a sample for every series on either side.
        Expr::Binary(b) => below(&b.lhs).or_else(|| below(&b.rhs)),
        // Aggregations (and their parameters' results) output a sample for every group.
        Expr::Aggregate(a) => below(&a.expr),
        // `absent(x)` has a sample only when `x` has none: it filters.
        Expr::Call(c) if c.func.name.starts_with("absent") => None,
        Expr::Call(_) | Expr::Paren(_) | Expr::Unary(_) | Expr::Subquery(_) => {
            children(expr).find_map(below)
        }
        Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::Extension(_) => None,
    }
}

/// A number written in the expression: `0.05`, `(1)`, `-1`.
fn number_literal(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::NumberLiteral(n) => Some(n.val),
        Expr::Paren(p) => number_literal(&p.expr),
        Expr::Unary(u) => number_literal(&u.expr).map(|n| -n),
        _ => None,
    }
}

fn compare(op: TokenId, l: f64, r: f64) -> bool {
    match op {
        token::T_EQLC => l == r,
        token::T_NEQ => l != r,
        token::T_LSS => l < r,
        token::T_LTE => l <= r,
        token::T_GTR => l > r,
        token::T_GTE => l >= r,
        _ => false,
    }
}

fn format_number(n: f64) -> String {
    format!("{n}")
}

fn is_op(op: TokenId, among: &[TokenId]) -> bool {
    among.contains(&op)
}

/// `count_values("p", …)` as an alert's result: each sample gets label `p` set to its
/// value, so each new value is a new alert. Fine when a rule label overrides `p`
/// (`overridden`), as rule labels are applied last.
pub fn labels_from_the_value(expr: &Expr, overridden: &dyn Fn(&str) -> bool) -> Option<Problem> {
    let label = count_values_label(expr, 0).filter(|label| !overridden(label))?;
    Some(Problem {
        field: "expr".to_owned(),
        message: format!(
            "its result comes from `count_values({label:?}, …)`, which puts each sample's value in label {label:?}, so every new value makes a new alert (and a new notification); aggregate it away (e.g. `count(count_values({label:?}, …))` or `count by (<labels>) (…)`), or set `labels.{label}` on the rule to a constant"
        ),
    })
}

/// The label a `count_values` at the result's top emits and the result keeps.
fn count_values_label(expr: &Expr, depth: usize) -> Option<String> {
    if depth > MAX_TREE_DEPTH {
        return None;
    }
    let below = |e: &Expr| count_values_label(e, depth + 1);
    match expr {
        Expr::Aggregate(a) if a.op.id() == token::T_COUNT_VALUES => match a.param.as_deref() {
            Some(param) => string_literal(param),
            None => None,
        },
        // Selecting aggregations keep every label of what they select.
        Expr::Aggregate(a)
            if is_op(
                a.op.id(),
                &[
                    token::T_TOPK,
                    token::T_BOTTOMK,
                    token::T_LIMITK,
                    token::T_LIMIT_RATIO,
                ],
            ) =>
        {
            below(&a.expr)
        }
        Expr::Aggregate(a) => {
            let label = below(&a.expr)?;
            let kept = match &a.modifier {
                Some(LabelModifier::Include(by)) => has(by, &label),
                Some(LabelModifier::Exclude(without)) => !has(without, &label),
                None => false,
            };
            kept.then_some(label)
        }
        Expr::Binary(b) if is_op(b.op.id(), &[token::T_LAND, token::T_LUNLESS]) => below(&b.lhs),
        Expr::Binary(b) if b.op.id() == token::T_LOR => below(&b.lhs).or_else(|| below(&b.rhs)),
        Expr::Binary(b) => {
            let scalar = |e: &Expr| e.value_type() == ValueType::Scalar;
            match (scalar(&b.lhs), scalar(&b.rhs)) {
                (true, true) => None,
                (false, true) => below(&b.lhs),
                (true, false) => below(&b.rhs),
                (false, false) => {
                    let modifier = b.modifier.as_ref();
                    let card = modifier.map(|m| &m.card);
                    let included = |label: &String, labels: &Labels| has(labels, label);
                    match card {
                        Some(VectorMatchCardinality::ManyToOne(include)) => {
                            below(&b.lhs).or_else(|| below(&b.rhs).filter(|l| included(l, include)))
                        }
                        Some(VectorMatchCardinality::OneToMany(include)) => {
                            below(&b.rhs).or_else(|| below(&b.lhs).filter(|l| included(l, include)))
                        }
                        _ => {
                            let label = below(&b.lhs)?;
                            let kept = match modifier.and_then(|m| m.matching.as_ref()) {
                                Some(LabelModifier::Include(on)) => has(on, &label),
                                Some(LabelModifier::Exclude(ignoring)) => !has(ignoring, &label),
                                None => true,
                            };
                            kept.then_some(label)
                        }
                    }
                }
            }
        }
        Expr::Call(c) => match c.func.name {
            "absent" | "absent_over_time" | "scalar" | "vector" | "time" => None,
            _ => c.args.args.iter().find_map(|arg| below(arg)),
        },
        Expr::Paren(_) | Expr::Unary(_) | Expr::Subquery(_) => children(expr).find_map(below),
        Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::Extension(_) => None,
    }
}

fn string_literal(expr: &Expr) -> Option<String> {
    match expr {
        Expr::StringLiteral(s) => Some(s.val.clone()),
        Expr::Paren(p) => string_literal(&p.expr),
        _ => None,
    }
}

fn has(labels: &Labels, label: &str) -> bool {
    labels.labels.iter().any(|l| l == label)
}

/// `info(x)` with one argument joins `x` with the info series (`target_info`) of every
/// namespace; with the data-label selector as second argument it reads only those, and
/// that selector is scoped like any other.
pub fn info_without_data_selector(expr: &Expr, scope: &Scope) -> Option<Problem> {
    let mut found: Option<String> = None;
    // The parse bound keeps the tree within the walk's depth.
    let _ = walk(expr, &mut |node| {
        if let Expr::Call(c) = node {
            if c.func.name == "info" && c.args.args.len() == 1 && found.is_none() {
                found = Some(node.to_string());
            }
        }
    });
    let call = found?;
    Some(Problem {
        field: "expr".to_owned(),
        message: format!(
            "`{call}` has no data-label selector, so it reads the info series (`target_info`) of every namespace; write the selector as the second argument: `info(<expr>, {{{}={:?}}})`",
            scope.label, scope.namespace
        ),
    })
}

// ---------------------------------------------------------------------------------------
// Label and annotation templates

/// What a template is: labels are the alert's identity; annotations only its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKind {
    Label,
    Annotation,
}

/// The variables Prometheus declares before an alert's label and annotation templates
/// (`{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}`
/// `{{$externalURL := .ExternalURL}}{{$value := .Value}}`).
pub const PROMETHEUS_VARIABLES: &[&str] = &["$labels", "$externalLabels", "$externalURL", "$value"];

/// Go's `text/template` builtins.
const GO_BUILTINS: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
    "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
];

/// Prometheus's template functions for alert templates (2.x and 3.x: `toTime` since
/// 2.38, `toDuration` and `now` since 3.6, `urlQueryEscape` since 3.8).
const PROMETHEUS_FUNCTIONS: &[&str] = &[
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "args",
    "reReplaceAll",
    "safeHtml",
    "match",
    "title",
    "toUpper",
    "toLower",
    "graphLink",
    "tableLink",
    "sortByLabel",
    "stripPort",
    "stripDomain",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "toTime",
    "toDuration",
    "now",
    "pathPrefix",
    "externalURL",
    "parseDuration",
    "urlQueryEscape",
];

/// Whether Prometheus's alert templates know the function `name`.
pub fn is_known_function(name: &str) -> bool {
    GO_BUILTINS.contains(&name) || PROMETHEUS_FUNCTIONS.contains(&name)
}

/// The template problems of every string in `labels` (field `labels.<key>`).
pub fn label_templates(labels: Option<&Map<String, Value>>) -> Vec<Problem> {
    map_templates(labels, "labels", TemplateKind::Label)
}

/// The template problems of every string in `annotations` (field `annotations.<key>`).
pub fn annotation_templates(annotations: Option<&Map<String, Value>>) -> Vec<Problem> {
    map_templates(annotations, "annotations", TemplateKind::Annotation)
}

fn map_templates(map: Option<&Map<String, Value>>, name: &str, kind: TemplateKind) -> Vec<Problem> {
    map.into_iter()
        .flatten()
        .filter_map(|(key, value)| Some((key, value.as_str()?)))
        .flat_map(|(key, text)| template_problems(&format!("{name}.{key}"), text, kind))
        .collect()
}

/// `text` as much as a message should quote.
fn shown(text: &str) -> String {
    const MAX: usize = 120;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}…", &text[..cut]),
        None => format!("{text:?}"),
    }
}

/// Everything wrong with one label or annotation template:
/// - it must parse (Prometheus refuses the rule file otherwise);
/// - `query` runs PromQL over every namespace's series: never;
/// - functions Prometheus does not know are refused;
/// - a label must not depend on the alert's value (or the evaluation time).
pub fn template_problems(field: &str, text: &str, kind: TemplateKind) -> Vec<Problem> {
    // Without `{{` Go's template is the text itself.
    if !text.contains("{{") {
        return Vec::new();
    }
    let problem = |message: String| Problem {
        field: field.to_owned(),
        message,
    };
    let template = match go_template::parse(text, PROMETHEUS_VARIABLES) {
        Ok(template) => template,
        Err(e) => {
            return vec![problem(format!(
                "{} is not a valid Go template: {e}; Prometheus refuses it as well: fix the template (a literal `{{{{` is written {{{{ \"{{{{\" }}}})",
                shown(text)
            ))]
        }
    };
    let mut problems = Vec::new();
    let instead = match kind {
        TemplateKind::Label => "use this alert's own `$labels.<name>` and constants instead",
        TemplateKind::Annotation => "use this alert's own `$labels.<name>` and `$value` instead",
    };
    if let Some(query) = template.functions.iter().find(|f| f.name == "query") {
        problems.push(problem(format!(
            "{} calls `query` (at byte {}), which runs PromQL over every namespace's series (templates are not scoped to the namespace) on every evaluation and puts the answer in this alert; remove it and {instead}",
            shown(text),
            query.offset
        )));
    }
    let mut unknown: Vec<&go_template::Name> = Vec::new();
    for function in &template.functions {
        if !is_known_function(&function.name) && !unknown.iter().any(|u| u.name == function.name) {
            unknown.push(function);
        }
    }
    for function in unknown {
        problems.push(problem(format!(
            "{} calls `{}` (at byte {}), which is neither a Go template builtin nor a Prometheus template function, so Prometheus refuses the template; remove it or use a known function (e.g. `printf`, `humanize`, `toUpper`, `reReplaceAll`)",
            shown(text),
            function.name,
            function.offset
        )));
    }
    if kind == TemplateKind::Label {
        if let Some(source) = value_dependence(&template) {
            problems.push(problem(format!(
                "{} depends on the alert's value through {} (at byte {}), so every evaluation with a new value makes a new alert (and a new notification); move it to annotations and keep labels to `$labels.<name>` and constants",
                shown(text),
                source.what,
                source.offset.unwrap_or(0)
            )));
        }
    }
    problems
}

/// Where a value-dependent datum came from.
#[derive(Debug, Clone, PartialEq)]
struct Source {
    what: String,
    /// `None` for `$value` until a use gives it one.
    offset: Option<usize>,
}

/// What a template value can hold, as far as the alert's value goes.
#[derive(Debug, Clone, PartialEq)]
enum Data {
    /// Nothing of the value: labels, constants, external labels and URL.
    Clean,
    /// The alert's template data (`.` at the top, `$`): it holds `.Value`.
    Root,
    /// The value, or something computed from it (or from `query`, or `now`).
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
fn value_dependence(template: &Template) -> Option<Source> {
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
    flow.found.into_iter().find(|s| s.what != "`query`")
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
                "query" => Data::Value(Source {
                    what: "`query`".to_owned(),
                    offset: Some(operand.offset),
                }),
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
    use super::*;
    use promql_parser::parser::parse;
    use serde_json::json;

    fn always(text: &str) -> bool {
        always_fires_by_bool(&parse(text).unwrap()).is_some()
    }

    #[test]
    fn bool_results_always_fire() {
        for text in [
            "x < bool 0.05",
            "(x < bool 0.05)",
            "x < bool 0.05 and on() vector(1)",
            "up == 1 or x < bool 0.05",
            "min(x < bool 0.05)",
            "max_over_time((x < bool 0.05)[5m:])",
            "abs(x < bool 0.05)",
            r#"label_replace(x < bool 0.05, "a", "b", "c", "d")"#,
            "(x < bool 0.05) * 1",
            "count_values(\"v\", x > bool 1)",
        ] {
            assert!(always(text), "{text}");
        }
    }

    #[test]
    fn the_bool_walk_stops_only_past_the_depth_bound() {
        let nested = |n: usize| format!("{}x < bool 0.05{}", "(".repeat(n), ")".repeat(n));
        assert!(always(&nested(MAX_TREE_DEPTH)), "at the bound");
        assert!(!always(&nested(MAX_TREE_DEPTH + 1)), "past the bound");
        let nested = |n: usize| {
            let (open, close) = ("(".repeat(n), ")".repeat(n));
            format!(r#"{open}count_values("p", x){close}"#)
        };
        assert!(
            value_label(&nested(MAX_TREE_DEPTH)).is_some(),
            "at the bound"
        );
        assert!(
            value_label(&nested(MAX_TREE_DEPTH + 1)).is_none(),
            "past the bound"
        );
    }

    #[test]
    fn filtering_comparisons_do_not() {
        for text in [
            "x < 0.05",
            "(x < bool 0.05) == 1",
            "up unless x < bool 1",
            "absent(x < bool 1)",
            "topk(scalar(x < bool 1), y)",
            "x",
            "sum(x) > 3",
        ] {
            assert!(!always(text), "{text}");
        }
    }

    #[test]
    fn bool_filters_that_pass_both_0_and_1_still_always_fire() {
        for (name, text, fires) in [
            (
                "bug report: >= 0 passes 0 and 1",
                r#"(trustyai_meanshift{subcategory="danceability"} < bool 0.05) >= 0"#,
                true,
            ),
            ("> -1", "(x < bool 0.05) > -1", true),
            ("!= 2", "(x < bool 0.05) != 2", true),
            ("<= 1", "(x < bool 0.05) <= 1", true),
            ("number on the left", "1 >= (x < bool 0.05)", true),
            (
                "passes both, then == 1",
                "((x < bool 0.05) >= 0) == 1",
                false,
            ),
            ("== 1 keeps 1", "(x < bool 0.05) == 1", false),
            ("> 0 keeps 1", "(x < bool 0.05) > 0", false),
            ("< 1 keeps 0", "(x < bool 0.05) < 1", false),
            ("0 < keeps 1", "0 < (x < bool 0.05)", false),
            ("neither passes", "(x < bool 0.05) > 1", false),
            ("against a vector", "(x < bool 0.05) >= y", false),
            // Found by cargo-mutants: each operator and number form judged on its own.
            ("< 2 passes both", "(x < bool 0.05) < 2", true),
            ("== 2 passes neither", "(x < bool 0.05) == 2", false),
            ("a parenthesised number", "(x < bool 0.05) >= (0)", true),
            ("a negated number", "(x < bool 0.05) > -(1)", true),
        ] {
            assert_eq!(always(text), fires, "{name}: {text}");
        }
        let problem = always_fires_by_bool(&parse("(x < bool 0.05) >= 0").unwrap()).unwrap();
        assert_eq!(problem.field, "expr");
        assert!(
            problem
                .message
                .contains("`… >= 0`, which passes both 0 and 1")
                && problem.message.contains("write `== 1`"),
            "{}",
            problem.message
        );
    }

    fn value_label(text: &str) -> Option<String> {
        labels_from_the_value(&parse(text).unwrap(), &|l: &str| l == "namespace").map(|p| p.message)
    }

    #[test]
    fn count_values_as_the_result_is_rejected_naming_the_label() {
        for (name, text) in [
            ("bug report", r#"count_values("p", x < 0.05)"#),
            ("parenthesised", r#"(count_values("p", x))"#),
            ("filtered", r#"count_values("p", x) > 0"#),
            ("number on the left", r#"0 < count_values("p", x)"#),
            ("and", r#"count_values("p", x) and on() vector(1)"#),
            ("unless", r#"count_values("p", x) unless y"#),
            ("or, right side", r#"y or count_values("p", x)"#),
            ("by keeps it", r#"sum by (p) (count_values("p", x))"#),
            (
                "without keeps it",
                r#"max without (q) (count_values("p", x))"#,
            ),
            ("topk", r#"topk(3, count_values("p", x))"#),
            ("bottomk", r#"bottomk(1, count_values("p", x))"#),
            ("function", r#"abs(count_values("p", x))"#),
            (
                "group_left from the right",
                r#"y * on() group_left(p) count_values("p", x)"#,
            ),
            ("on keeps it", r#"count_values("p", x) > on(p) y"#),
            // Found by cargo-mutants: group_right keeps the right side's labels, and
            // copies the listed ones from the left.
            (
                "group_right, many side",
                r#"y * on() group_right count_values("p", x)"#,
            ),
            (
                "group_right copies it",
                r#"count_values("p", x) * on() group_right(p) y"#,
            ),
            ("a parenthesised label name", r#"count_values(("p"), x)"#),
        ] {
            let message = value_label(text).unwrap_or_else(|| panic!("{name}: {text} accepted"));
            assert!(message.contains(r#"label "p""#), "{name}: {message}");
        }
        for (name, text) in [
            ("aggregated away", r#"count(count_values("p", x))"#),
            ("by without it", r#"sum by (q) (count_values("p", x))"#),
            (
                "without drops it",
                r#"sum without (p) (count_values("p", x))"#,
            ),
            (
                "ignoring drops it",
                r#"count_values("p", x) > ignoring(p) y"#,
            ),
            ("on without it", r#"count_values("p", x) > on(q) y"#),
            (
                "overridden by a rule label",
                r#"count_values("namespace", x)"#,
            ),
            ("absent", r#"absent(count_values("p", x))"#),
            ("plain", "x < 0.05"),
        ] {
            assert_eq!(value_label(text), None, "{name}: {text}");
        }
    }

    #[test]
    fn one_argument_info_is_rejected_in_every_rule() {
        let scope = Scope {
            label: "namespace",
            namespace: "user1-test",
            on_conflict: crate::namespace_scope::OnConflict::Reject,
        };
        for text in ["info(up)", "sum(info(rate(x[5m])))", "up and info(up)"] {
            let problem = info_without_data_selector(&parse(text).unwrap(), &scope)
                .unwrap_or_else(|| panic!("{text}"));
            assert!(
                problem
                    .message
                    .contains(r#"write the selector as the second argument: `info(<expr>, {namespace="user1-test"})`"#),
                "{}",
                problem.message
            );
        }
        let scoped = parse(r#"info(up, {k8s_cluster_name=~".+"})"#).unwrap();
        assert_eq!(info_without_data_selector(&scoped, &scope), None);
    }

    fn fields(problems: Vec<Problem>) -> Vec<String> {
        let mut fields: Vec<String> = problems.into_iter().map(|p| p.field).collect();
        fields.sort();
        fields
    }

    fn label(text: &str) -> Vec<String> {
        template_problems("labels.p", text, TemplateKind::Label)
            .into_iter()
            .map(|p| p.message)
            .collect()
    }

    fn annotation(text: &str) -> Vec<String> {
        template_problems("annotations.a", text, TemplateKind::Annotation)
            .into_iter()
            .map(|p| p.message)
            .collect()
    }

    const LEAK: &str = r#"{{ with query "secret_metric{namespace=\"user2-test\"}" }}{{ range . }}{{ .Labels.token }}={{ .Value }}{{ end }}{{ end }}"#;

    #[test]
    fn query_is_rejected_in_labels_and_annotations() {
        for (name, messages) in [("annotation", annotation(LEAK)), ("label", label(LEAK))] {
            assert!(
                messages.iter().any(|m| m.contains(
                    "calls `query` (at byte 8), which runs PromQL over every namespace's series"
                )),
                "{name}: {messages:?}"
            );
        }
        // In an annotation query is the one problem.
        assert_eq!(annotation(LEAK).len(), 1);
    }

    #[test]
    fn labels_that_depend_on_the_value_are_rejected() {
        for (name, text, through) in [
            ("plain", "{{ $value }}", "`$value` (at byte 3)"),
            ("humanize", "{{humanize $value}}", "`$value`"),
            ("field", "p={{ .Value }}", "`.Value` (at byte 5)"),
            ("root field", "{{ $.Value }}", "`$.Value`"),
            (
                "bug report: }} in a string",
                r#"{{ print "}}" $value }}"#,
                "`$value` (at byte 14)",
            ),
            ("variable", "{{ $v := $value }}{{ $v }}", "`$value`"),
            (
                "assigned",
                "{{ $v := 1 }}{{ if true }}{{ $v = .Value }}{{ end }}{{ $v }}",
                "`.Value`",
            ),
            ("branch", "{{ if gt $value 0.5 }}high{{ end }}", "`$value`"),
            ("printf", r#"{{ printf "%.2f" $value }}"#, "`$value`"),
            ("pipeline", "{{ $value | humanizePercentage }}", "`$value`"),
            ("parenthesised", "{{ (humanize $value) }}", "`$value`"),
            ("whole data", "{{ . }}", "`.`/`$`"),
            (
                "whole data as argument",
                r#"{{ printf "%v" $ }}"#,
                "`.`/`$`",
            ),
            (
                "with the data",
                "{{ with . }}{{ .Value }}{{ end }}",
                "`.Value`",
            ),
            (
                "defined template",
                r#"{{ define "v" }}{{ .Value }}{{ end }}{{ template "v" . }}"#,
                "`.Value`",
            ),
            ("block", r#"{{ block "v" $ }}{{ . }}{{ end }}"#, "`.`/`$`"),
            ("now", "{{ now }}", "`now`"),
            ("trimmed", "{{- $value -}}", "`$value`"),
        ] {
            let messages = label(text);
            assert!(
                messages.iter().any(|m| m.contains(&format!("depends on the alert's value through {through}"))),
                "{name}: {text}: {messages:?}"
            );
        }
        // The second bug report: query as the source is reported as query.
        let messages = label(r#"{{ with query "up" }}{{ . | first | value }}{{ end }}"#);
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(messages[0].contains("calls `query`"), "{messages:?}");
    }

    #[test]
    fn labels_and_constants_stay_accepted() {
        for (name, text) in [
            ("own label", "{{ $labels.namespace }}"),
            ("root labels", "{{ $.Labels.namespace }}"),
            ("dot labels", "{{ .Labels.model }}"),
            (
                "external",
                "{{ $externalLabels.cluster }} {{ $externalURL }}",
            ),
            ("literal }}", "a }} b"),
            ("no template", "$value without a template"),
            ("constant", "critical"),
            (
                "functions of labels",
                r#"{{ $labels.model | toUpper }}-{{ reReplaceAll "-.*" "" $labels.pod }}"#,
            ),
            (
                "range over labels",
                "{{ range $k, $v := $labels }}{{ $k }}={{ $v }},{{ end }}",
            ),
            ("with labels", "{{ with $labels }}{{ .namespace }}{{ end }}"),
            (
                "if on a label",
                r#"{{ if eq $labels.severity "critical" }}page{{ else }}ticket{{ end }}"#,
            ),
            (
                "defined template on labels",
                r#"{{ define "n" }}{{ . }}{{ end }}{{ template "n" $labels.namespace }}"#,
            ),
            ("unused value declaration", "{{ $v := $value }}constant"),
            ("comment", "{{/* $value */}}x"),
        ] {
            assert_eq!(label(text), Vec::<String>::new(), "{name}: {text}");
        }
        for (name, text) in [
            ("humanize", "{{ humanize $value }}"),
            ("printf", r#"{{ printf "%.2f" $value }}"#),
            ("labels and value", "{{ $labels.namespace }} p={{ $value }}"),
            ("the whole data", "{{ . }}"),
        ] {
            assert_eq!(annotation(text), Vec::<String>::new(), "{name}: {text}");
        }
    }

    #[test]
    fn unknown_functions_and_unparsable_templates_are_rejected() {
        let messages = annotation("{{ .Values.x | quote }} {{ quote 1 }}");
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(
            messages[0].contains("calls `quote` (at byte 15), which is neither a Go template builtin nor a Prometheus template function"),
            "{messages:?}"
        );
        for (name, text, error) in [
            ("unclosed", "{{ $value ", "unclosed action at byte 10"),
            (
                "undefined",
                "{{ $nope }}",
                r#"undefined variable "$nope" at byte 3"#,
            ),
            ("no end", "{{ if 1 }}x", "unexpected EOF at byte 11"),
        ] {
            for messages in [label(text), annotation(text)] {
                assert!(
                    messages.len() == 1
                        && messages[0].contains(&format!("is not a valid Go template: {error}")),
                    "{name}: {messages:?}"
                );
            }
        }
        for name in GO_BUILTINS.iter().chain(PROMETHEUS_FUNCTIONS) {
            assert!(is_known_function(name));
        }
        assert!(!is_known_function("tmpl") && !is_known_function("quote"));
    }

    #[test]
    fn every_label_and_annotation_is_checked() {
        let labels = json!({
            "severity": "critical",
            "p": "{{ $value }}",
            "h": "{{humanize $value}}",
            "v": "{{ .Value }}",
            "who": "{{ $labels.namespace }}",
            "literal": "$value without a template",
            "n": 3,
        });
        assert_eq!(
            fields(label_templates(labels.as_object())),
            ["labels.h", "labels.p", "labels.v"]
        );
        assert!(label_templates(None).is_empty());
        let annotations = json!({"ok": "{{ $value }}", "leak": LEAK});
        assert_eq!(
            fields(annotation_templates(annotations.as_object())),
            ["annotations.leak"]
        );
    }
}
