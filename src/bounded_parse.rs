//! Parses PromQL with bounds on what any input can cost.
//!
//! promql-parser builds, drops and prints its tree recursively, so a deeply nested or
//! very long expression exhausts the wasm stack and traps the whole policy instance.
//! Before the parser sees an expression we check its length and a cheap, conservative
//! bound on the depth of the tree it could produce; past either limit the rule is
//! rejected with the limit in the message.

use promql_parser::parser::{self, Expr};

/// Longest expression accepted, in bytes. Hand-written rules are well under 4 KiB.
pub const MAX_EXPR_BYTES: usize = 16 * 1024;

/// Deepest syntax tree accepted, as bounded by [`depth_bound`].
pub const MAX_TREE_DEPTH: usize = 512;

#[derive(Debug, Clone, PartialEq)]
pub enum ParseRefusal {
    TooLong { bytes: usize },
    TooDeep { bound: usize },
    Syntax(String),
}

impl std::fmt::Display for ParseRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseRefusal::TooLong { bytes } => write!(
                f,
                "expression is {bytes} bytes long; the limit is {MAX_EXPR_BYTES} bytes"
            ),
            ParseRefusal::TooDeep { bound } => write!(
                f,
                "expression nests too deep: its operators and brackets allow a syntax tree \
                 {bound} levels deep; the limit is {MAX_TREE_DEPTH}"
            ),
            ParseRefusal::Syntax(msg) => write!(f, "expression does not parse: {msg}"),
        }
    }
}

pub fn parse_bounded(text: &str) -> Result<Expr, ParseRefusal> {
    if text.len() > MAX_EXPR_BYTES {
        return Err(ParseRefusal::TooLong { bytes: text.len() });
    }
    let bound = depth_bound(text);
    if bound > MAX_TREE_DEPTH {
        return Err(ParseRefusal::TooDeep { bound });
    }
    parser::parse(text).map_err(ParseRefusal::Syntax)
}

/// An upper bound on the depth of the syntax tree `text` can parse to.
///
/// Every level of a PromQL tree is an operator (binary, unary, set or comparison), a
/// bracketed construct (parentheses of a call, aggregation or group; `[...]` of a range
/// or subquery), or a leaf. So one plus the number of operator tokens and opening `(`/`[`
/// outside string literals bounds the depth. It over-counts (a `-` in `1e-3`, commas are
/// free), which only makes the bound safer.
pub fn depth_bound(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut bound = 1;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'"' | b'\'' | b'`' => {
                i = skip_string(bytes, i);
                continue;
            }
            b'#' => {
                // A comment runs to the end of the line.
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'(' | b'[' | b'+' | b'-' | b'*' | b'/' | b'%' | b'^' => bound += 1,
            // `==`, `!=`, `<=`, `>=` count once; `=~`/`!~` are matchers, counted harmlessly.
            b'<' | b'>' => {
                bound += 1;
                if bytes.get(i + 1) == Some(&b'=') {
                    i += 1;
                }
            }
            b'=' | b'!' => {
                if bytes.get(i + 1) == Some(&b'=') {
                    bound += 1;
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b':') {
                    i += 1;
                }
                let word = &text[start..i];
                if ["and", "or", "unless", "atan2"]
                    .iter()
                    .any(|k| word.eq_ignore_ascii_case(k))
                {
                    bound += 1;
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    bound
}

/// Index just past the string literal opening at `start` (or the end of input).
fn skip_string(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            // Raw (backtick) strings have no escapes.
            b'\\' if quote != b'`' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_counts_operators_and_brackets_outside_strings() {
        assert_eq!(depth_bound("up"), 1);
        assert_eq!(depth_bound(r#"up{job="a+b-(c)"}"#), 1);
        assert_eq!(depth_bound("sum(rate(x[5m]))"), 4);
        assert_eq!(depth_bound("a and b or c unless d"), 4);
        assert_eq!(depth_bound("a >= 1"), 2);
        assert_eq!(depth_bound("a == 1"), 2);
        assert_eq!(depth_bound(r#"x{a=~"b"}"#), 1);
        assert_eq!(depth_bound("# (((\nup"), 1);
    }

    #[test]
    fn bound_is_never_below_the_real_depth() {
        fn depth(e: &Expr) -> usize {
            1 + match e {
                Expr::Aggregate(a) => {
                    depth(&a.expr).max(a.param.as_deref().map_or(0, depth))
                }
                Expr::Unary(u) => depth(&u.expr),
                Expr::Binary(b) => depth(&b.lhs).max(depth(&b.rhs)),
                Expr::Paren(p) => depth(&p.expr),
                Expr::Subquery(s) => depth(&s.expr),
                Expr::Call(c) => c.args.args.iter().map(|a| depth(a)).max().unwrap_or(0),
                _ => 0,
            }
        }
        for text in [
            "-(-(-1))",
            "topk(scalar(x), y) + 1",
            "max_over_time(x[5m:1m])[10m:]",
            "a * on(b) group_left c / d % e ^ f",
            "sum by (x) (rate(y[5m])) > bool 3",
            "quantile(0.9, rate(x[1m]))",
        ] {
            let e = parser::parse(text).unwrap();
            assert!(depth_bound(text) >= depth(&e), "{text}");
        }
    }

    #[test]
    fn refuses_long_and_deep_before_parsing() {
        let long = format!("x{{a=\"{}\"}}", "y".repeat(MAX_EXPR_BYTES));
        assert!(matches!(parse_bounded(&long), Err(ParseRefusal::TooLong { .. })));
        let deep = format!("{}1{}", "(".repeat(600), ")".repeat(600));
        assert!(matches!(parse_bounded(&deep), Err(ParseRefusal::TooDeep { .. })));
        let chain = vec!["x"; 600].join("+");
        assert!(matches!(parse_bounded(&chain), Err(ParseRefusal::TooDeep { .. })));
        assert!(matches!(parse_bounded("sum("), Err(ParseRefusal::Syntax(_))));
        assert!(parse_bounded("sum(x)").is_ok());
    }
}
