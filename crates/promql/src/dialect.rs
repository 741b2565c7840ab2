//! Prometheus's grammar, not promql-parser's, decides what loads.
//!
//! promql-parser 0.11 reads a wider PromQL than the Prometheus that loads the rules: the
//! Prometheus Operator hands the whole PrometheusRule to Prometheus, and one expression
//! Prometheus refuses drops every rule of the object, silently. The dialect judged here
//! is Prometheus 2.42's (Debian's, `promtool` 2.42), plus the `--enable-feature` flags
//! the cluster's Prometheus runs with (setting `prometheusFeatures`).
//!
//! Facts, from Prometheus v2.42.0 `promql/parser/lex.go`, `generated_parser.y`,
//! `parse.go` and `functions.go` (and, for the feature flags, later releases):
//!
//! - White space is ` `, `\t`, `\n` and `\r` only (`isSpace`); promql-parser also skips
//!   `\f`. A comment runs from `#` to `\r` or `\n` in both, so anything in it stays.
//! - `offset` takes `DURATION` or `- DURATION` (no `+`, no number); `[ ]` takes
//!   durations only (a bare number is "missing unit character in duration"), as does a
//!   subquery step; `@` takes a number, `+ number` or `- number` (no duration); and a
//!   number literal is a `NUMBER`, never a duration (`x > 5m` is "unexpected duration").
//!   Numbers as durations and durations as numbers came unflagged in Prometheus 2.55/3.0.
//! - A number is read with Go's `ParseInt`, then `ParseFloat`: past the largest float
//!   (`11e308`) it is "value out of range", not `+Inf`.
//! - Label names are identifiers: a quoted name (`{"a"="b"}`, `{"x"}`, `by ("a")`) is a
//!   Prometheus 3 (UTF-8 names) form.
//! - Unary `+` and `-` apply to scalars and instant vectors only; promql-parser drops a
//!   unary `+`, so `+"d"` or `+x[5m]` reaches no check of its own.
//! - Functions are those of 2.42's table. Later ones marked `Experimental: true` in any
//!   release (and the aggregations `limitk`, `limit_ratio`) need
//!   `promql-experimental-functions`; `step()`, `range()`, `start()` and `end()` also
//!   `promql-duration-expr`; the binary `fill` modifiers `promql-binop-fill-modifiers`.
//!   A later function that was never behind a flag (`histogram_avg`) is not 2.42's and
//!   no flag admits it.

use std::fmt;

use promql_parser::parser::token::{self, TokenId};
use promql_parser::parser::{self, Expr};
use promql_parser::util::{parse_duration, parse_str_radix};

use crate::bounds::ParseRefusal;
use crate::lex::{introduces_label_list, is_2_42_aggregation, is_binary_operator, Brackets, Token};
use crate::walk::walk;

/// The Prometheus whose grammar is the judge, as messages name it.
pub const PROMETHEUS: &str = "Prometheus 2.42";

/// The PromQL-related `--enable-feature` names `prometheusFeatures` accepts (Prometheus's
/// `cmd/prometheus/main.go`). Only the first, second and fifth change what parses.
pub const FEATURE_NAMES: [&str; 6] = [
    "promql-experimental-functions",
    "promql-duration-expr",
    "promql-delayed-name-removal",
    "promql-extended-range-selectors",
    "promql-binop-fill-modifiers",
    "promql-per-step-stats",
];

/// One of [`FEATURE_NAMES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    ExperimentalFunctions = 0,
    DurationExpr = 1,
    DelayedNameRemoval = 2,
    ExtendedRangeSelectors = 3,
    BinopFillModifiers = 4,
    PerStepStats = 5,
}

impl Feature {
    const ALL: [Feature; 6] = [
        Feature::ExperimentalFunctions,
        Feature::DurationExpr,
        Feature::DelayedNameRemoval,
        Feature::ExtendedRangeSelectors,
        Feature::BinopFillModifiers,
        Feature::PerStepStats,
    ];

    pub fn name(self) -> &'static str {
        FEATURE_NAMES
            .get(self as usize)
            .copied()
            .unwrap_or_default()
    }

    pub fn from_name(name: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// The feature flags the cluster's Prometheus runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Features(u8);

impl Features {
    pub const NONE: Features = Features(0);

    /// The named features; an unknown name is an error naming it and the known ones.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Features, String> {
        let mut bits = 0u8;
        for name in names {
            let name = name.as_ref();
            match Feature::from_name(name) {
                Some(f) => bits |= 1 << (f as u8),
                None => {
                    return Err(format!(
                    "{name:?} is not a PromQL feature of Prometheus's --enable-feature; known: {}",
                    FEATURE_NAMES.join(", ")
                ))
                }
            }
        }
        Ok(Features(bits))
    }

    pub fn with(self, feature: Feature) -> Features {
        Features(self.0 | 1 << (feature as u8))
    }

    pub fn has(self, feature: Feature) -> bool {
        self.0 & (1 << (feature as u8)) != 0
    }
}

/// `[a, b]`, as refusals name the cluster's features.
impl fmt::Display for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Feature::ALL
            .into_iter()
            .filter(|x| self.has(*x))
            .map(Feature::name)
            .collect();
        write!(f, "[{}]", names.join(", "))
    }
}

/// The functions of Prometheus 2.42 (`promql/parser/functions.go` at v2.42.0).
const FUNCTIONS_2_42: [&str; 70] = [
    "abs",
    "absent",
    "absent_over_time",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "avg_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "cos",
    "cosh",
    "count_over_time",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "deg",
    "delta",
    "deriv",
    "exp",
    "floor",
    "histogram_count",
    "histogram_fraction",
    "histogram_quantile",
    "histogram_sum",
    "holt_winters",
    "hour",
    "idelta",
    "increase",
    "irate",
    "label_join",
    "label_replace",
    "last_over_time",
    "ln",
    "log10",
    "log2",
    "max_over_time",
    "min_over_time",
    "minute",
    "month",
    "pi",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rad",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sin",
    "sinh",
    "sort",
    "sort_desc",
    "sqrt",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
    "tan",
    "tanh",
    "time",
    "timestamp",
    "vector",
    "year",
];

/// Later functions Prometheus marks `Experimental: true` (in any release up to 3.9):
/// they load only with `promql-experimental-functions`.
const EXPERIMENTAL_FUNCTIONS: [&str; 14] = [
    "double_exponential_smoothing",
    "first_over_time",
    "histogram_quantiles",
    "info",
    "mad_over_time",
    "max_of",
    "min_of",
    "sort_by_label",
    "sort_by_label_desc",
    "start_timestamp",
    "ts_of_first_over_time",
    "ts_of_last_over_time",
    "ts_of_max_over_time",
    "ts_of_min_over_time",
];

/// Experimental functions of duration expressions: they also need `promql-duration-expr`.
const DURATION_FUNCTIONS: [&str; 4] = ["step", "range", "start", "end"];

fn refusal(what: String, instead: String) -> ParseRefusal {
    ParseRefusal::NotPrometheus { what, instead }
}

/// Refuses the first construct of `text` Prometheus 2.42's lexer or grammar refuses
/// where promql-parser reads it: white space, numbers and durations out of place, quoted
/// names, overflowing numbers, and a unary `+` on what is not a scalar or vector.
pub fn check_text(text: &str, tokens: &[Token]) -> Result<(), ParseRefusal> {
    check_white_space(text, tokens)?;
    check_positions(text, tokens)?;
    check_unary_plus(text, tokens)
}

/// Refuses what Prometheus 2.42, with `features`, refuses in a parsed tree: functions and
/// aggregations it lacks or gates, and `fill` modifiers.
pub fn check_tree(expr: &Expr, features: Features) -> Result<(), ParseRefusal> {
    let mut found = None;
    walk(expr, &mut |node| {
        if found.is_none() {
            found = tree_problem(node, features).err();
        }
    })
    .map_err(ParseRefusal::from)?;
    found.map_or(Ok(()), Err)
}

fn tree_problem(node: &Expr, features: Features) -> Result<(), ParseRefusal> {
    match node {
        Expr::Call(call) => check_function(call.func.name, features),
        Expr::Aggregate(agg) => {
            let id = agg.op.id();
            if matches!(id, token::T_LIMITK | token::T_LIMIT_RATIO) {
                need(
                    &format!("`{}`", agg.op),
                    &[Feature::ExperimentalFunctions],
                    features,
                )
            } else if is_2_42_aggregation(id) {
                Ok(())
            } else {
                Err(refusal(
                    format!("the aggregation `{}` is not PromQL to {PROMETHEUS}", agg.op),
                    "use one of sum, avg, count, min, max, group, stddev, stdvar, topk, \
                     bottomk, quantile, count_values"
                        .to_owned(),
                ))
            }
        }
        Expr::Binary(b) => {
            let fill = b
                .modifier
                .as_ref()
                .is_some_and(|m| m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some());
            if fill {
                need(
                    "the `fill` modifier of a binary operator",
                    &[Feature::BinopFillModifiers],
                    features,
                )
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

fn check_function(name: &str, features: Features) -> Result<(), ParseRefusal> {
    if FUNCTIONS_2_42.contains(&name) {
        Ok(())
    } else if EXPERIMENTAL_FUNCTIONS.contains(&name) {
        need(
            &format!("`{name}`"),
            &[Feature::ExperimentalFunctions],
            features,
        )
    } else if DURATION_FUNCTIONS.contains(&name) {
        need(
            &format!("`{name}()`"),
            &[Feature::ExperimentalFunctions, Feature::DurationExpr],
            features,
        )
    } else {
        Err(refusal(
            format!("the function `{name}` is not a function of {PROMETHEUS}, and no feature flag adds it"),
            "use a function Prometheus 2.42 has (see its PromQL functions documentation)"
                .to_owned(),
        ))
    }
}

/// Ok when every one of `needed` is among `features`; else names the first missing.
fn need(what: &str, needed: &[Feature], features: Features) -> Result<(), ParseRefusal> {
    match needed.iter().find(|f| !features.has(**f)) {
        None => Ok(()),
        Some(missing) => Err(refusal(
            format!("{what} needs Prometheus's feature flag {}", missing.name()),
            format!(
                "the cluster's Prometheus features are {features} (setting prometheusFeatures); \
                 rewrite without it, or have the policy's prometheusFeatures list the flag \
                 once the cluster's Prometheus runs with it"
            ),
        )),
    }
}

/// How a white-space byte is written in a message.
fn byte_name(b: u8) -> String {
    match b {
        0x0c => "\\f".to_owned(),
        0x0b => "\\v".to_owned(),
        other => format!("\\x{other:02x}"),
    }
}

/// Between tokens: white space and comments only. A byte promql-parser skips as white
/// space but Prometheus does not (`\f`) is refused with its byte offset.
fn check_white_space(text: &str, tokens: &[Token]) -> Result<(), ParseRefusal> {
    let bytes = text.as_bytes();
    let mut gaps: Vec<(usize, usize)> = Vec::with_capacity(tokens.len() + 1);
    let mut from = 0;
    for t in tokens {
        gaps.push((from, t.start.min(bytes.len())));
        from = t.end;
    }
    gaps.push((from, bytes.len()));
    for (start, end) in gaps {
        let gap = bytes.get(start..end).unwrap_or_default();
        let mut i = 0;
        while let Some(&b) = gap.get(i) {
            match b {
                // A comment, to the end of the line (`\r` or `\n`, in both lexers).
                b'#' => {
                    while !matches!(gap.get(i), Some(b'\n' | b'\r') | None) {
                        i += 1;
                    }
                }
                b if b.is_ascii_whitespace() && !matches!(b, b' ' | b'\t' | b'\n' | b'\r') => {
                    return Err(refusal(
                        format!(
                            "`{}` at byte {} is not white space to Prometheus (only space, tab, \\n and \\r are)",
                            byte_name(b),
                            start + i
                        ),
                        "use a space".to_owned(),
                    ));
                }
                _ => i += 1,
            }
        }
    }
    Ok(())
}

/// Tokens that end an operand: after one, `offset` is the modifier and `+` is binary.
fn ends_operand(id: TokenId) -> bool {
    !is_binary_operator(id)
        && !matches!(
            id,
            token::T_BOOL
                | token::T_LEFT_PAREN
                | token::T_LEFT_BRACE
                | token::T_LEFT_BRACKET
                | token::T_COMMA
                | token::T_COLON
                | token::T_AT
                | token::T_OFFSET
                | token::T_EQL
                | token::T_EQL_REGEX
                | token::T_NEQ_REGEX
                | token::T_GROUP_LEFT
                | token::T_GROUP_RIGHT
                | token::T_ON
                | token::T_IGNORING
                | token::T_BY
                | token::T_WITHOUT
        )
}

/// Whether the `offset` at `i` is the modifier (not a metric named `offset`): it follows
/// an operand. An `offset` before it is an operand when it is itself the metric name
/// (`x + offset offset 1m`), so a run of them alternates from its first.
fn is_offset_modifier(tokens: &[Token], i: usize) -> bool {
    let mut j = i;
    let mut modifier = true;
    loop {
        match j.checked_sub(1).and_then(|k| tokens.get(k)) {
            Some(prev) if prev.id == token::T_OFFSET => {
                modifier = !modifier;
                j -= 1;
            }
            Some(prev) => return ends_operand(prev.id) == modifier,
            // The first token: a metric name, so the one after it is the modifier.
            None => return !modifier,
        }
    }
}

/// The seconds a number token stands for, written as a Prometheus duration (`300` ->
/// `5m`), when it is a whole number of milliseconds.
fn as_duration(number: &str) -> Option<String> {
    let secs = parse_str_radix(number).ok()?;
    let ms = secs * 1000.0;
    if !(ms.is_finite() && ms > 0.0 && ms.fract() == 0.0 && ms < 9.2e18) {
        return None;
    }
    let mut ms = ms as u64;
    let mut out = String::new();
    for (unit, size) in [
        ("y", 365 * 86_400_000u64),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    Some(out)
}

/// A duration token in seconds, as a number to write instead (`5m` -> `300`).
fn as_seconds(duration: &str) -> Option<String> {
    let d = parse_duration(duration).ok()?;
    let secs = d.as_secs_f64();
    Some(if secs.fract() == 0.0 {
        format!("{}", d.as_secs())
    } else {
        format!("{secs}")
    })
}

fn check_positions(text: &str, tokens: &[Token]) -> Result<(), ParseRefusal> {
    let span = |t: &Token| text.get(t.start..t.end).unwrap_or("");
    let id_at = |j: Option<usize>| j.and_then(|j| tokens.get(j)).map(|t| t.id);
    let mut brackets = Brackets::default();
    let mut in_braces = false;
    // Inside a grouping label list (`by (…)`, `on (…)`…): it holds no parentheses, so
    // its first `)` closes it.
    let mut in_grouping = false;
    for (i, t) in tokens.iter().enumerate() {
        let prev = id_at(i.checked_sub(1));
        // The modifier this token is the operand of (directly, or after one sign).
        let (sign, modifier) = match prev {
            Some(token::T_ADD | token::T_SUB) => (prev, i.checked_sub(2)),
            _ => (None, i.checked_sub(1)),
        };
        let after_offset = id_at(modifier) == Some(token::T_OFFSET)
            && modifier.is_some_and(|m| is_offset_modifier(tokens, m));
        let after_at = id_at(modifier) == Some(token::T_AT);
        brackets.step(t.id);
        match t.id {
            token::T_LEFT_BRACE => in_braces = true,
            token::T_RIGHT_BRACE => in_braces = false,
            token::T_LEFT_PAREN if prev.is_some_and(introduces_label_list) => in_grouping = true,
            token::T_RIGHT_PAREN => in_grouping = false,
            token::T_ADD if prev == Some(token::T_OFFSET) && is_offset_modifier(tokens, i - 1) => {
                let next = tokens.get(i + 1).map(span).unwrap_or("");
                return Err(refusal(
                    format!(
                        "`offset +` at byte {} is not PromQL to {PROMETHEUS} (offset takes a duration or - and a duration)",
                        t.start
                    ),
                    format!("write `offset {next}`"),
                ));
            }
            token::T_STRING
                if (in_braces && matches!(prev, Some(token::T_LEFT_BRACE | token::T_COMMA)))
                    || in_grouping =>
            {
                return Err(refusal(
                    format!(
                        "the quoted name {} at byte {} is not PromQL to {PROMETHEUS} (quoted label and metric names came with Prometheus 3)",
                        span(t),
                        t.start
                    ),
                    "write the name unquoted: a label as a=\"value\", a metric name before the braces"
                        .to_owned(),
                ));
            }
            token::T_NUMBER if brackets.inside || after_offset => {
                let number = span(t);
                let role = if !brackets.inside {
                    "an offset"
                } else if brackets.after_colon {
                    "a subquery step"
                } else {
                    "a range"
                };
                let instead = match as_duration(number) {
                    Some(d) => format!("write the duration with a unit: {d}"),
                    None => "write a duration with a unit, such as 30s or 5m".to_owned(),
                };
                return Err(refusal(
                    format!(
                        "the number `{number}` at byte {} is {role}, where {PROMETHEUS} requires a duration",
                        t.start
                    ),
                    instead,
                ));
            }
            token::T_NUMBER => check_number_range(span(t), t.start)?,
            token::T_DURATION if !brackets.inside && !after_offset => {
                let duration = span(t);
                let seconds = as_seconds(duration);
                let (role, instead) = if after_at {
                    (
                        "is an @ timestamp, where {PROMETHEUS} requires a number (Unix seconds)",
                        match seconds {
                            Some(s) => {
                                format!("write the Unix time in seconds: @ {}{s}", sign_text(sign))
                            }
                            None => "write the Unix time in seconds, such as 1609746000".to_owned(),
                        },
                    )
                } else {
                    (
                        "stands where {PROMETHEUS} reads a number (a duration only follows offset or stands in [ ])",
                        match seconds {
                            Some(s) => format!("write the seconds as a number: {s}"),
                            None => "write the seconds as a number".to_owned(),
                        },
                    )
                };
                return Err(refusal(
                    format!(
                        "the duration `{duration}` at byte {} {}",
                        t.start,
                        role.replace("{PROMETHEUS}", PROMETHEUS)
                    ),
                    instead,
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

fn sign_text(sign: Option<TokenId>) -> &'static str {
    match sign {
        Some(token::T_SUB) => "-",
        _ => "",
    }
}

/// A number literal past the largest float: Go's `ParseFloat` fails ("value out of
/// range") where promql-parser reads `+Inf`. `Inf` and `NaN` themselves are fine.
fn check_number_range(number: &str, at: usize) -> Result<(), ParseRefusal> {
    let literal = number.starts_with(|c: char| c.is_ascii_digit() || c == '.');
    match parse_str_radix(number) {
        Ok(value) if literal && value.is_infinite() => Err(refusal(
            format!(
                "the number `{}` at byte {at} is past the largest float (about 1.8e308), which {PROMETHEUS} refuses",
                shortened(number)
            ),
            "write a smaller number, or Inf".to_owned(),
        )),
        _ => Ok(()),
    }
}

fn shortened(number: &str) -> String {
    const SHOWN: usize = 24;
    if number.len() <= SHOWN {
        number.to_owned()
    } else {
        format!(
            "{}… ({} characters)",
            number.get(..SHOWN).unwrap_or(""),
            number.len()
        )
    }
}

/// A unary `+`: promql-parser drops it, Prometheus type-checks its operand (a scalar or
/// an instant vector). A `+` straight before a string is refused at once; for any other
/// operand (not a number) the text is parsed again with each unary `+` read as `-`,
/// which promql-parser does type-check. Matchers are left out of that parse (a selector
/// becomes `x`), so no regex is compiled.
fn check_unary_plus(text: &str, tokens: &[Token]) -> Result<(), ParseRefusal> {
    // A `+` where no operand ends is unary. (After a grouping list, `x + on(a) +y`, it
    // is unary too, but taken as binary here: whatever follows it must then be an
    // instant vector or a scalar for promql-parser to accept the text, so nothing would
    // be refused.) `offset +` is refused on its own; `@ +5` is a sign.
    let mut unary = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|j| tokens.get(j));
        if t.id == token::T_ADD
            && prev.is_none_or(|p| {
                !matches!(p.id, token::T_OFFSET | token::T_AT) && !ends_operand(p.id)
            })
        {
            unary.push(i);
        }
    }
    let mut recheck = false;
    for &i in &unary {
        match tokens.get(i + 1).map(|t| t.id) {
            Some(token::T_STRING) => {
                return Err(unary_refusal(tokens, i, "a string"));
            }
            Some(token::T_NUMBER | token::T_ADD | token::T_SUB) | None => {}
            Some(_) => recheck = true,
        }
    }
    if !recheck {
        return Ok(());
    }
    // Rebuild the text from its tokens: unary `+` as `-`, every `{...}` dropped (or `x`
    // where it is the whole selector), the rest as written.
    let mut rebuilt = String::with_capacity(text.len());
    let mut in_braces = false;
    for (i, t) in tokens.iter().enumerate() {
        match t.id {
            token::T_LEFT_BRACE => {
                in_braces = true;
                let nameless = i
                    .checked_sub(1)
                    .and_then(|j| tokens.get(j))
                    .is_none_or(|p| !ends_operand(p.id));
                if nameless {
                    rebuilt.push_str(" x ");
                }
            }
            token::T_RIGHT_BRACE => in_braces = false,
            _ if in_braces => {}
            token::T_ADD if unary.contains(&i) => rebuilt.push_str(" - "),
            _ => {
                rebuilt.push(' ');
                rebuilt.push_str(text.get(t.start..t.end).unwrap_or(""));
            }
        }
    }
    match parser::parse(&rebuilt) {
        Err(why) if why.contains("unary expression only allowed") => {
            let at = unary.first().copied().unwrap_or(0);
            Err(unary_refusal(
                tokens,
                at,
                "what is not a scalar or instant vector",
            ))
        }
        _ => Ok(()),
    }
}

fn unary_refusal(tokens: &[Token], i: usize, operand: &str) -> ParseRefusal {
    let at = tokens.get(i).map_or(0, |t| t.start);
    refusal(
        format!("the unary `+` at byte {at} applies to {operand}, which {PROMETHEUS} refuses (unary + and - take a scalar or an instant vector)"),
        "remove the `+`".to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edit::bounded_tokens;
    use crate::lex::tokens;

    /// The seed alert's expression.
    const SEED: &str =
        r#"trustyai_meanshift{namespace="user1-test", subcategory="danceability"}<0.05"#;

    fn text_refusal(text: &str) -> Option<String> {
        let tokens = tokens(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        check_text(text, &tokens).err().map(|r| r.to_string())
    }

    fn tree_refusal(text: &str, features: Features) -> Option<String> {
        let tree = parser::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        check_tree(&tree, features).err().map(|r| r.to_string())
    }

    /// Admitted by promql-parser, refused by Prometheus 2.42 (`promtool check rules`),
    /// with what the refusal must say.
    const TEXT_REFUSED: &[(&str, &str)] = &[
        (
            "trustyai_meanshift{namespace=\"user1-test\"}\x0c<\x0c0.05",
            "`\\f` at byte 42 is not white space to Prometheus",
        ),
        ("x\x0c", "`\\f` at byte 1"),
        ("x{a=\"b\",\x0cc=\"d\"}", "`\\f` at byte 8"),
        ("x # comment\n\x0c> 1", "`\\f` at byte 12"),
        (
            "x > 5m",
            "the duration `5m` at byte 4 stands where Prometheus 2.42 reads a number",
        ),
        ("vector(1h)", "write the seconds as a number: 3600"),
        ("x offset 5", "the number `5` at byte 9 is an offset"),
        ("x offset -5", "write the duration with a unit: 5s"),
        ("x offset 300", "write the duration with a unit: 5m"),
        ("x offset 1.5", "write the duration with a unit: 1s500ms"),
        ("x offset +5m", "`offset +` at byte 9"),
        ("x offset +5m", "write `offset 5m`"),
        ("rate(x[5])", "the number `5` at byte 7 is a range"),
        ("x[90]", "write the duration with a unit: 1m30s"),
        ("max_over_time(x[5m:5])[1h:]", "is a subquery step"),
        ("max_over_time(x[5:1m])", "is a range"),
        (
            "x @ 1005m",
            "`1005m` at byte 4 is an @ timestamp, where Prometheus 2.42 requires a number",
        ),
        ("x @ 1005m", "write the Unix time in seconds: @ 60300"),
        ("x @ -1m", "@ -60"),
        (
            "x > 11e308",
            "the number `11e308` at byte 4 is past the largest float",
        ),
        ("-1e309 < x", "past the largest float"),
        ("x{\"a\"=\"b\"}", "the quoted name \"a\" at byte 2"),
        ("{\"x\"}", "the quoted name \"x\""),
        ("{\"x\", a=\"b\"}", "quoted name"),
        ("sum by (\"a\") (x)", "the quoted name \"a\" at byte 8"),
        ("x + on(\"a\") y", "quoted name"),
        (
            "label_replace(x, \"a\", \"b\", \"c\", +\"d\")",
            "the unary `+` at byte 32 applies to a string",
        ),
        ("+\"a\"", "applies to a string"),
        (
            "rate(+x[5m])",
            "the unary `+` at byte 5 applies to what is not",
        ),
        ("count_values(+(\"a\"), x)", "applies to what is not"),
        // A nameless selector is a selector too.
        (
            "+{a=\"b\"}[5m]",
            "the unary `+` at byte 0 applies to what is not",
        ),
    ];

    /// promql-parser and Prometheus 2.42 both accept these.
    const TEXT_ACCEPTED: &[&str] = &[
        SEED,
        "trustyai_meanshift{namespace=\"user1-test\"} < 0.05",
        "trustyai_meanshift{namespace=\"user1-test\"}\t<\t0.05",
        "trustyai_meanshift{namespace=\"user1-test\"}\n<\n0.05",
        "trustyai_meanshift{namespace=\"user1-test\"}\r\n<\r\n0.05",
        "trustyai_meanshift{\n  namespace=\"user1-test\",\n  subcategory=\"d\"\n}\r<0.05",
        "x # a \x0c comment\n> 1",
        "x # a comment \x0c ending in CR\r> 1",
        "x{a=\"\x0c\"}",
        "x offset 5m",
        "x offset -5m",
        "x offset 1h30m",
        "rate(x[5m])",
        "max_over_time(x[5m:1m])",
        "max_over_time(x[5m:])",
        "x @ 1609746000",
        "x @ +5",
        "x @ -5",
        "x @ 1.5",
        "x @ start()",
        "x > 1e308",
        "x > -1e308",
        "x > 1e-400",
        "x > Inf",
        "x > NaN",
        "x > 0x7fffffffffffffff",
        "x > 0777",
        "topk(1, x)",
        "sum by (a) (x)",
        "x + on(a) group_left(b) y",
        "+x",
        "+1 + x",
        "x + +1",
        "x + +y",
        "-x",
        "+(x)",
        "+vector(1)",
        "+rate(x[5m])",
        "x + on(a) +y",
        "offset",
        "offset + 5",
        "offset - 5",
        "x + offset - 5",
        "x offset 5m + offset offset 1m",
        "offset offset 5m",
        "offset offset -5m > 1",
        "sum(offset) - 5",
        "label_replace(x, \"a\", \"b\", \"c\", \"d\")",
        "count_values(\"a\", x)",
        "x{a=~\"b+\"} + +y{c!~\".*\"}",
        "+{a=\"b\"}",
    ];

    #[test]
    fn text_prometheus_refuses_is_refused_with_its_place() {
        for (text, expected) in TEXT_REFUSED {
            let m = text_refusal(text).unwrap_or_else(|| panic!("accepted: {text:?}"));
            assert!(m.contains(expected), "{text:?}: {m}");
            // promql-parser itself accepts every one of these.
            assert!(parser::parse(text).is_ok(), "{text:?}");
        }
    }

    #[test]
    fn text_prometheus_accepts_stays_accepted() {
        for text in TEXT_ACCEPTED {
            assert_eq!(text_refusal(text), None, "{text:?}");
        }
        // A binary `+` before a string is promql-parser's to refuse (a binary operator
        // on a string), never taken for a unary `+` here.
        for text in ["x + \"a\"", "x offset 5m + \"a\"", "(x) + \"a\""] {
            assert_eq!(text_refusal(text), None, "{text:?}");
            assert!(parser::parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn the_seed_with_form_feeds_is_refused_through_the_bounded_lexer() {
        let text = SEED.replace('<', "\x0c<\x0c");
        let refusal = bounded_tokens(&text).err().map(|r| r.to_string());
        let m = refusal.unwrap_or_default();
        assert!(
            m.contains("`\\f` at byte 70 is not white space to Prometheus"),
            "{m}"
        );
        assert!(m.contains("use a space"), "{m}");
    }

    #[test]
    fn other_white_space_promql_parser_refuses_itself() {
        // Only `\f` is white space to promql-parser and not to Prometheus; `\v` and
        // Unicode spaces are refused by the lexer.
        for text in ["x\x0b> 1", "x\u{a0}> 1", "x\u{2003}> 1"] {
            assert!(
                tokens(text).is_err() || parser::parse(text).is_err(),
                "{text:?}"
            );
        }
    }

    /// Functions and aggregations by the feature that admits them.
    const GATED: &[(&str, &[Feature], &str)] = &[
        (
            "limitk(1, x)",
            &[Feature::ExperimentalFunctions],
            "`limitk`",
        ),
        (
            "limit_ratio(0.5, x)",
            &[Feature::ExperimentalFunctions],
            "`limit_ratio`",
        ),
        ("info(up)", &[Feature::ExperimentalFunctions], "`info`"),
        (
            "mad_over_time(x[5m])",
            &[Feature::ExperimentalFunctions],
            "`mad_over_time`",
        ),
        (
            "sort_by_label(x, \"a\")",
            &[Feature::ExperimentalFunctions],
            "`sort_by_label`",
        ),
        (
            "sort_by_label_desc(x, \"a\")",
            &[Feature::ExperimentalFunctions],
            "`sort_by_label_desc`",
        ),
        (
            "double_exponential_smoothing(x[5m], 0.5, 0.5)",
            &[Feature::ExperimentalFunctions],
            "`double_exponential_smoothing`",
        ),
        (
            "ts_of_max_over_time(x[5m])",
            &[Feature::ExperimentalFunctions],
            "`ts_of_max_over_time`",
        ),
        (
            "ts_of_min_over_time(x[5m])",
            &[Feature::ExperimentalFunctions],
            "`ts_of_min_over_time`",
        ),
        (
            "ts_of_last_over_time(x[5m])",
            &[Feature::ExperimentalFunctions],
            "`ts_of_last_over_time`",
        ),
        (
            "ts_of_first_over_time(x[5m])",
            &[Feature::ExperimentalFunctions],
            "`ts_of_first_over_time`",
        ),
        (
            "first_over_time(x[5m])",
            &[Feature::ExperimentalFunctions],
            "`first_over_time`",
        ),
        (
            "start_timestamp(x)",
            &[Feature::ExperimentalFunctions],
            "`start_timestamp`",
        ),
        (
            "histogram_quantiles(x, \"q\", 0.5)",
            &[Feature::ExperimentalFunctions],
            "`histogram_quantiles`",
        ),
        (
            "sum(x) + limitk(2, y)",
            &[Feature::ExperimentalFunctions],
            "`limitk`",
        ),
        (
            "abs(sort_by_label(x))",
            &[Feature::ExperimentalFunctions],
            "`sort_by_label`",
        ),
        (
            "a + fill(0) b",
            &[Feature::BinopFillModifiers],
            "the `fill` modifier of a binary operator",
        ),
        (
            "a + fill_left(0) b",
            &[Feature::BinopFillModifiers],
            "the `fill` modifier of a binary operator",
        ),
        (
            "a + on(c) fill_right(1) b",
            &[Feature::BinopFillModifiers],
            "the `fill` modifier of a binary operator",
        ),
        (
            "step()",
            &[Feature::ExperimentalFunctions, Feature::DurationExpr],
            "`step()`",
        ),
        (
            "x > range()",
            &[Feature::ExperimentalFunctions, Feature::DurationExpr],
            "`range()`",
        ),
        (
            "start()",
            &[Feature::ExperimentalFunctions, Feature::DurationExpr],
            "`start()`",
        ),
        (
            "end()",
            &[Feature::ExperimentalFunctions, Feature::DurationExpr],
            "`end()`",
        ),
    ];

    #[test]
    fn flag_gated_functions_need_their_flags() {
        for (text, needed, name) in GATED {
            let m = tree_refusal(text, Features::NONE).unwrap_or_else(|| panic!("{text}"));
            assert!(
                m.contains(&format!(
                    "{name} needs Prometheus's feature flag {}",
                    needed[0].name()
                )),
                "{text}: {m}"
            );
            assert!(
                m.contains("the cluster's Prometheus features are [] (setting prometheusFeatures)"),
                "{m}"
            );
            // Each flag alone is not enough when two are needed.
            for f in needed.iter() {
                let only = Features::NONE.with(*f);
                assert_eq!(
                    tree_refusal(text, only).is_some(),
                    needed.len() > 1,
                    "{text}"
                );
            }
            let all = needed.iter().fold(Features::NONE, |fs, f| fs.with(*f));
            assert_eq!(tree_refusal(text, all), None, "{text}");
            // A feature named twice is still on (settings may repeat one).
            let twice = needed.iter().fold(all, |fs, f| fs.with(*f));
            assert_eq!(tree_refusal(text, twice), None, "{text}");
        }
        let m = tree_refusal(
            "limitk(1, x)",
            Features::NONE.with(Feature::DelayedNameRemoval),
        )
        .unwrap_or_default();
        assert!(
            m.contains("features are [promql-delayed-name-removal]"),
            "{m}"
        );
    }

    #[test]
    fn functions_newer_than_2_42_without_a_flag_are_refused() {
        let every = Feature::ALL
            .into_iter()
            .fold(Features::NONE, Features::with);
        for text in [
            "histogram_avg(x)",
            "histogram_stddev(x)",
            "histogram_stdvar(x)",
            "integral(x[5m])",
        ] {
            let m = tree_refusal(text, every).unwrap_or_else(|| panic!("{text}"));
            assert!(m.contains("is not a function of Prometheus 2.42"), "{m}");
        }
    }

    #[test]
    fn prometheus_2_42_trees_are_accepted() {
        for text in [
            "topk(1, x)",
            "bottomk(1, x)",
            "quantile(0.9, x)",
            "count_values(\"a\", x)",
            "group(x)",
            "stddev by (a) (x)",
            "histogram_quantile(0.9, sum by (le) (rate(x[5m])))",
            "label_replace(x, \"a\", \"b\", \"c\", \"d\")",
            "label_join(x, \"a\", \",\", \"b\")",
            "absent_over_time(x[5m])",
            "predict_linear(x[1h], 3600)",
            "sort_desc(x) + on(a) group_left(b) y",
            "x and on(a) y",
            "1 > bool 2",
            "time() - timestamp(x)",
            "histogram_count(x) + histogram_sum(x) + histogram_fraction(0, 1, x)",
        ] {
            assert_eq!(tree_refusal(text, Features::NONE), None, "{text}");
        }
    }

    #[test]
    fn feature_names_are_prometheus_flags() {
        assert_eq!(Features::from_names::<&str>(&[]), Ok(Features::NONE));
        let f = Features::from_names(&["promql-experimental-functions", "promql-duration-expr"])
            .unwrap_or_default();
        assert!(f.has(Feature::ExperimentalFunctions) && f.has(Feature::DurationExpr));
        assert!(!f.has(Feature::BinopFillModifiers));
        assert_eq!(
            f.to_string(),
            "[promql-experimental-functions, promql-duration-expr]"
        );
        let e = Features::from_names(&["promql-experimental-function"]).unwrap_err();
        assert!(
            e.contains("\"promql-experimental-function\" is not a PromQL feature"),
            "{e}"
        );
        assert!(e.contains("promql-experimental-functions"), "{e}");
        for name in FEATURE_NAMES {
            assert_eq!(Feature::from_name(name).map(Feature::name), Some(name));
        }
    }

    #[test]
    fn durations_and_seconds_for_messages() {
        assert_eq!(as_duration("300").as_deref(), Some("5m"));
        assert_eq!(as_duration("5").as_deref(), Some("5s"));
        assert_eq!(as_duration("0.25").as_deref(), Some("250ms"));
        assert_eq!(as_duration("0x10").as_deref(), Some("16s"));
        assert_eq!(as_duration("0"), None);
        assert_eq!(as_duration("1e-9"), None);
        // Every unit, the largest first.
        assert_eq!(as_duration("32230861").as_deref(), Some("1y1w1d1h1m1s"));
        // Past what a u64 of milliseconds holds safely: no suggestion.
        assert_eq!(as_duration("9.2e15"), None);
        assert!(as_duration("9.1e15").is_some());
        assert_eq!(as_seconds("5m").as_deref(), Some("300"));
        assert_eq!(as_seconds("1500ms").as_deref(), Some("1.5"));
    }

    #[test]
    fn strings_after_a_selector_are_arguments_not_quoted_names() {
        // The braces end at `}`: the strings after them are label_replace's arguments.
        assert_eq!(
            text_refusal(r#"label_replace(up{job="a"}, "dst", "$1", "src", "(.*)")"#),
            None
        );
        assert!(text_refusal(r#"up{"job"="a"}"#).is_some());
    }
}
