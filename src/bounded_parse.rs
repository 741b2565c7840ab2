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

/// Deepest syntax tree accepted, as bounded by [`depth_bound`]. Measured under wasmtime's
/// default 512 KiB wasm stack (policy-server's), the shallowest shape that traps
/// (nested function calls) does so at a bound of about 990: this leaves ~4x headroom.
pub const MAX_TREE_DEPTH: usize = 256;

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

/// An upper bound on the depth of the syntax tree `text` can parse to, without parsing.
///
/// Every node on a path from the root to a leaf is the leaf, a parenthesised construct
/// (call, aggregation, group) whose `( )` encloses the leaf, or an operator token
/// (binary, unary, set, comparison, or the `[` of a range or subquery) that sits directly
/// in one of the parenthesis groups enclosing the leaf. So the depth is at most the
/// largest sum, over a chain of nested groups, of one plus the operator tokens directly in
/// the group. It over-counts (label lists like `by (a)` are groups, a `-` in `1e-3`
/// counts), which only makes it safer. Linear time; its stack is a `Vec` on the heap.
pub fn depth_bound(text: &str) -> usize {
    // One entry per open group: (operators directly in it + 1, deepest child group).
    let mut groups: Vec<(usize, usize)> = vec![(1, 0)];
    let close = |groups: &mut Vec<(usize, usize)>| {
        if groups.len() > 1 {
            let (own, child) = groups.pop().unwrap_or((1, 0));
            if let Some(parent) = groups.last_mut() {
                parent.1 = parent.1.max(own + child);
            }
        }
    };
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let mut operator = false;
        match bytes[i] {
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
            b'{' => {
                // Label matchers hold no expressions; skip them, strings included.
                i += 1;
                while i < bytes.len() && bytes[i] != b'}' {
                    i = match bytes[i] {
                        b'"' | b'\'' | b'`' => skip_string(bytes, i),
                        _ => i + 1,
                    };
                }
            }
            b'(' => groups.push((1, 0)),
            b')' => close(&mut groups),
            b'[' | b'+' | b'-' | b'*' | b'/' | b'%' | b'^' => operator = true,
            // `<`, `>`, `<=`, `>=`, `==`, `!=` each count once.
            b'<' | b'>' => {
                operator = true;
                if bytes.get(i + 1) == Some(&b'=') {
                    i += 1;
                }
            }
            b'=' | b'!' if bytes.get(i + 1) == Some(&b'=') => {
                operator = true;
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b':')
                {
                    i += 1;
                }
                let word = &text[start..i];
                if ["and", "or", "unless", "atan2"]
                    .iter()
                    .any(|k| word.eq_ignore_ascii_case(k))
                {
                    if let Some(top) = groups.last_mut() {
                        top.0 += 1;
                    }
                }
                continue;
            }
            _ => {}
        }
        if operator {
            if let Some(top) = groups.last_mut() {
                top.0 += 1;
            }
        }
        i += 1;
    }
    while groups.len() > 1 {
        close(&mut groups);
    }
    groups.last().map_or(1, |(own, child)| own + child)
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
        assert_eq!(depth_bound(r#"up{job="a+b-(c)", x!="}"}"#), 1);
        assert_eq!(depth_bound("sum(rate(x[5m]))"), 4);
        assert_eq!(depth_bound("a and b or c unless d"), 4);
        assert_eq!(depth_bound("a >= 1"), 2);
        assert_eq!(depth_bound("a == 1"), 2);
        assert_eq!(depth_bound("# (((\nup"), 1);
        // Siblings do not add up: only the deepest chain of groups counts.
        assert_eq!(depth_bound("rate(a[5m]) + rate(b[5m]) + rate(c[5m])"), 5);
        // Unbalanced input still gets a bound (the parser rejects it afterwards).
        assert_eq!(depth_bound("((("), 4);
        assert_eq!(depth_bound(")))x"), 1);
    }

    #[test]
    fn bound_is_never_below_the_real_depth() {
        fn depth(e: &Expr) -> usize {
            1 + match e {
                Expr::Aggregate(a) => depth(&a.expr).max(a.param.as_deref().map_or(0, depth)),
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
            "max_over_time((x)[5m:])",
            "max_over_time((-x)[5m:] offset 1m)",
            "sum by (a) (x) / on(a) group_left sum(y) - 3 * -z",
            "abs(abs(x)) and vector(1) or -(-(y))",
            "label_replace(x, \"a\", \"b\", \"c\", \"d\") ^ 2 ^ 3",
            "count_values(\"v\", x) > bool 3 == bool 1",
        ] {
            let e = parser::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert!(depth_bound(text) >= depth(&e), "{text}");
        }
    }

    #[test]
    fn refuses_long_and_deep_before_parsing() {
        let long = format!("x{{a=\"{}\"}}", "y".repeat(MAX_EXPR_BYTES));
        assert!(matches!(
            parse_bounded(&long),
            Err(ParseRefusal::TooLong { .. })
        ));
        let deep = format!("{}1{}", "(".repeat(300), ")".repeat(300));
        assert!(matches!(
            parse_bounded(&deep),
            Err(ParseRefusal::TooDeep { .. })
        ));
        let chain = vec!["x"; 300].join("+");
        assert!(matches!(
            parse_bounded(&chain),
            Err(ParseRefusal::TooDeep { .. })
        ));
        assert!(matches!(
            parse_bounded("sum("),
            Err(ParseRefusal::Syntax(_))
        ));
        assert!(parse_bounded("sum(x)").is_ok());
    }
}
