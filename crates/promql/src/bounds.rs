//! The bounds on what parsing any input may cost, and the refusals that name them
//! (`promql::edit::bounded_tokens` applies them).
//!
//! promql-parser builds, drops and prints its tree recursively, so a deeply nested or
//! very long expression exhausts the wasm stack and traps the whole policy instance.
//! Before the parser sees an expression we check its length and a cheap, conservative
//! bound on the depth of the tree it could produce, counted on the parser's own tokens;
//! past either limit the rule is rejected with the limit in the message.

/// Longest expression accepted, in bytes. Hand-written rules are well under 4 KiB.
pub const MAX_EXPR_BYTES: usize = 16 * 1024;

/// Deepest syntax tree accepted, as bounded by [`crate::lex::depth_bound`]. Measured under wasmtime's
/// default 512 KiB wasm stack (policy-server's), the shallowest shape that traps
/// (nested function calls) does so at a bound of about 990: this leaves ~4x headroom.
pub const MAX_TREE_DEPTH: usize = 256;

#[derive(Debug, Clone, PartialEq)]
pub enum ParseRefusal {
    TooLong {
        bytes: usize,
    },
    TooDeep {
        bound: usize,
    },
    Syntax(String),
    /// The policy cannot prove an in-place edit of the text (why, and the selectors to
    /// write); it never stores text it did not prove.
    NotEditable(String),
    /// A completion would compare something that is not an instant vector with a number
    /// (what it is, and what to compare instead).
    NotComparable(String),
    /// A number the parser would turn into a duration or an `@` timestamp is out of
    /// Prometheus's range (and some of them panic promql-parser): checked by
    /// [`crate::numbers::check_numbers`] before parsing.
    NumberOutOfRange {
        /// The number as written (cut short when long).
        text: String,
        /// What it is: `offset`, `range`, `subquery step`, `@ timestamp`, `duration`.
        role: &'static str,
        /// The limit, and what to write instead.
        limit: &'static str,
    },
    /// promql-parser reads it, Prometheus (2.42, plus the `prometheusFeatures` flags)
    /// refuses it: checked by [`crate::dialect`].
    NotPrometheus {
        /// The construct, where it is and why Prometheus refuses it.
        what: String,
        /// What to write instead.
        instead: String,
    },
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
            ParseRefusal::NotEditable(why) => write!(f, "expression cannot be scoped: {why}"),
            ParseRefusal::NotComparable(why) => f.write_str(why),
            ParseRefusal::NumberOutOfRange { text, role, limit } => {
                write!(f, "the {role} `{text}` is out of range: {limit}")
            }
            ParseRefusal::NotPrometheus { what, instead } => write!(f, "{what}; {instead}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use promql_parser::parser::{self, Expr};

    fn depth_bound(text: &str) -> usize {
        crate::lex::depth_bound(&crate::lex::tokens(text).unwrap())
    }

    #[test]
    fn bound_counts_operators_and_brackets_outside_strings() {
        assert_eq!(depth_bound("up"), 1);
        assert_eq!(depth_bound(r#"up{job="a+b-(c)", x!="}"}"#), 2);
        assert_eq!(depth_bound("sum(rate(x[5m]))"), 4);
        assert_eq!(depth_bound("a and b or c unless d"), 4);
        assert_eq!(depth_bound("a >= 1"), 2);
        assert_eq!(depth_bound("a == 1"), 2);
        assert_eq!(depth_bound("# (((\nup"), 1);
        // Siblings do not add up: only the deepest chain of groups counts.
        assert_eq!(depth_bound("rate(a[5m]) + rate(b[5m]) + rate(c[5m])"), 5);
    }

    #[test]
    fn bound_is_never_below_the_real_depth() {
        let depth = |e: &Expr| crate::walk::depth(e).unwrap_or(usize::MAX);
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
        // The policy's bounded parse: lex, bound, then parse.
        let parse_bounded = |text: &str| {
            crate::edit::bounded_tokens(text)?;
            promql_parser::parser::parse(text).map_err(ParseRefusal::Syntax)
        };
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
