//! The numbers promql-parser turns into durations and `@` timestamps, range-checked on
//! its own tokens before its parser converts them.
//!
//! promql-parser 0.11.1 converts a NUMBER token in a duration position (after `offset`,
//! the range of `x[...]`, a subquery's range and step) with `Duration::from_secs_f64`,
//! which panics on `Inf`, `NaN` and anything of 2^64 seconds or more (`1e20`, `1e308`);
//! in the `.wasm` (built with `panic = "abort"`) that traps the policy instance. A
//! DURATION token (`5m`, `1h30m`) is read with checked arithmetic, but a number in it
//! past `u32::MAX` is silently dropped (`1y99999999999d` reads as `1y`). An `@` number
//! does not panic (non-finite values are refused, the millisecond cast saturates), but
//! past int64 milliseconds Prometheus refuses it where promql-parser saturates it.
//!
//! So before the parser runs, every NUMBER or DURATION token it would convert is checked
//! against Prometheus's own limits: durations are int64 nanoseconds (at most
//! [`MAX_DURATION_SECS`], about 292 years) and `@` timestamps float seconds whose
//! milliseconds fit in an int64. Positions follow the grammar (`promql.y`): `duration`
//! is read after `offset`, `offset +` and `offset -`, and inside `[ ]` (the lexer emits
//! only numbers, durations and `:` there); `@`, `@ +` and `@ -` read a number literal.
//! The check is conservative where the grammar is not: `offset` may also be a metric
//! name (`offset - 1e20` subtracts), and such a number is checked all the same.

use promql_parser::parser::token::{self, TokenId};
use promql_parser::util::parse_str_radix;

use crate::bounds::ParseRefusal;
use crate::lex::{Brackets, Token};

/// Longest duration, in whole seconds: Prometheus keeps durations as int64 nanoseconds
/// (`i64::MAX` ns is 9,223,372,036.85 s, about 292 years).
pub const MAX_DURATION_SECS: u64 = 9_223_372_036;

/// Largest number in one part of a duration (`<n>y`, `<n>ms`): promql-parser reads each
/// as a `u32` and silently drops a larger one.
pub const MAX_DURATION_PART: u64 = u32::MAX as u64;

/// Bound on an `@` timestamp's milliseconds: 2^63, so they fit in an int64 as Prometheus
/// keeps them (about ±9.2e15 seconds).
const AT_MILLIS_BOUND: f64 = 9_223_372_036_854_775_808.0;

/// The limit on durations, as refusals state it.
pub const DURATION_LIMIT: &str =
    "a duration must be at most 9223372036 seconds (about 292y: Prometheus keeps \
     durations as int64 nanoseconds), and each number in it at most 4294967295; write a \
     duration with units, such as 5m, 1h30m or 30d";

/// The limit on `@` timestamps, as refusals state it.
pub const AT_LIMIT: &str =
    "an @ timestamp must be a finite Unix time in seconds whose milliseconds fit in \
     an int64 (about ±9.2e15 seconds, as Prometheus requires); write a Unix time such as \
     1609746000, or @ start() or @ end()";

/// What the parser turns a token into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Offset,
    Range,
    Step,
    At,
    /// A DURATION token read as a number literal (`x > 5m`).
    Duration,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Offset => "offset",
            Role::Range => "range",
            Role::Step => "subquery step",
            Role::At => "@ timestamp",
            Role::Duration => "duration",
        }
    }
}

/// Refuses the first number that promql-parser would convert into a duration or a
/// timestamp out of Prometheus's range (or, for durations, would panic on).
pub fn check_numbers(text: &str, tokens: &[Token]) -> Result<(), ParseRefusal> {
    let mut brackets = Brackets::default();
    for (i, t) in tokens.iter().enumerate() {
        brackets.step(t.id);
        match t.id {
            token::T_NUMBER | token::T_DURATION => {
                let role = if brackets.inside {
                    Some(if brackets.after_colon {
                        Role::Step
                    } else {
                        Role::Range
                    })
                } else {
                    modifier_before(tokens, i)
                };
                let role = match (role, t.id) {
                    (Some(role), _) => role,
                    (None, token::T_DURATION) => Role::Duration,
                    // A plain number literal: any f64 is a value.
                    (None, _) => continue,
                };
                // The lexer's spans are byte offsets of ASCII tokens; fail closed anyway.
                let Some(number) = text.get(t.start..t.end) else {
                    return Err(ParseRefusal::Syntax(
                        "a number's position could not be read".to_owned(),
                    ));
                };
                let in_range = match (role, t.id) {
                    (_, token::T_DURATION) => duration_in_range(number),
                    (Role::At, _) => timestamp_in_range(number),
                    _ => seconds_in_range(number),
                };
                if !in_range {
                    return Err(ParseRefusal::NumberOutOfRange {
                        text: shortened(number),
                        role: role.name(),
                        limit: if role == Role::At && t.id == token::T_NUMBER {
                            AT_LIMIT
                        } else {
                            DURATION_LIMIT
                        },
                    });
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The modifier (`offset` or `@`) whose operand the token at `i` is: right after it, or
/// after it and one sign.
fn modifier_before(tokens: &[Token], i: usize) -> Option<Role> {
    let id = |back: usize| -> Option<TokenId> {
        i.checked_sub(back)
            .and_then(|j| tokens.get(j))
            .map(|t| t.id)
    };
    let modifier = match id(1) {
        Some(token::T_ADD | token::T_SUB) => id(2),
        other => other,
    };
    match modifier {
        Some(token::T_OFFSET) => Some(Role::Offset),
        Some(token::T_AT) => Some(Role::At),
        _ => None,
    }
}

/// A NUMBER read as seconds of a duration: as the parser reads it (`parse_str_radix`),
/// then `Duration::from_secs_f64`. A number the parser cannot read it refuses itself.
fn seconds_in_range(number: &str) -> bool {
    match parse_str_radix(number) {
        // `contains` is false for NaN too.
        Ok(secs) => (0.0..=MAX_DURATION_SECS as f64).contains(&secs),
        Err(_) => true,
    }
}

/// A NUMBER read as an `@` timestamp in seconds (the sign before it only flips it).
fn timestamp_in_range(number: &str) -> bool {
    match parse_str_radix(number) {
        Ok(secs) => secs.is_finite() && (secs * 1000.0).abs() < AT_MILLIS_BOUND,
        Err(_) => true,
    }
}

/// A DURATION token (`1h30m`): every number in it at most [`MAX_DURATION_PART`] and the
/// total at most [`MAX_DURATION_SECS`]. Its numbers are summed with checked arithmetic.
/// A token of another shape (`1.5h`) the parser refuses itself, so it passes here.
fn duration_in_range(duration: &str) -> bool {
    const MS: u128 = 1;
    const S: u128 = 1000;
    const M: u128 = 60 * S;
    const H: u128 = 60 * M;
    const D: u128 = 24 * H;
    let max_ms = u128::from(MAX_DURATION_SECS) * S;
    let bytes = duration.as_bytes();
    let mut total: u128 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let mut amount: u128 = 0;
        let start = i;
        while let Some(digit) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
            amount = amount
                .saturating_mul(10)
                .saturating_add(u128::from(digit - b'0'));
            i += 1;
        }
        if i == start {
            return true;
        }
        let unit = match (bytes.get(i), bytes.get(i + 1)) {
            (Some(b'm'), Some(b's')) => {
                i += 1;
                MS
            }
            (Some(b's'), _) => S,
            (Some(b'm'), _) => M,
            (Some(b'h'), _) => H,
            (Some(b'd'), _) => D,
            (Some(b'w'), _) => 7 * D,
            (Some(b'y'), _) => 365 * D,
            _ => return true,
        };
        i += 1;
        if amount > u128::from(MAX_DURATION_PART) {
            return false;
        }
        total = total.saturating_add(amount.saturating_mul(unit));
    }
    total <= max_ms
}

/// The token's text for a message: a 16 KiB run of digits is cut short.
fn shortened(number: &str) -> String {
    const SHOWN: usize = 24;
    let count = number.chars().count();
    if count <= SHOWN {
        number.to_owned()
    } else {
        let head: String = number.chars().take(SHOWN).collect();
        format!("{head}… ({count} characters)")
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use super::*;
    use crate::edit::Expression;
    use crate::lex::tokens;
    use crate::scope::{OnConflict, Scope};

    /// Each of these makes promql-parser 0.11.1 panic (`Duration::from_secs_f64` on a
    /// non-finite number or one of 2^64 seconds or more, in `promql.y`'s
    /// `duration -> NUMBER` action): in the `.wasm`, a trap.
    const PANICS_TODAY: &[&str] = &[
        "x offset 1e308",
        "x offset Inf",
        "x offset NaN",
        "x offset +iNf",
        "x offset -1e20",
        "x offset - 1e20",
        "x offset 18446744073709551616",
        "x[1e308]",
        "x[1e20]",
        "x[18446744073709551616]",
        "x[5m:1e308]",
        "x[1e308:5m]",
        "max_over_time(x[5m:1e308])",
        "max_over_time(x[5m:1e20]) offset 5m",
        "rate(x[5m]) offset 1e308",
        "sum(rate(x[5m] offset 1e30))",
        "x @ 5 offset 1e308",
    ];

    /// No panic in promql-parser, but out of Prometheus's range: `@` numbers (refused
    /// by promql-parser when not finite, otherwise saturated), durations past int64
    /// nanoseconds, and duration parts past promql-parser's `u32` (silently dropped).
    const OUT_OF_RANGE: &[&str] = &[
        "x @ 1e308",
        "x @ -1e308",
        "x @ Inf",
        "x @ -Inf",
        "x @ NaN",
        "x @ 1e16",
        "x @ 0x7fffffffffffffff",
        "x[99999999999999999y]",
        "x offset 9999999999999999999d",
        "x[1y99999999999999999d]",
        "x[5m:99999999999s]",
        "x[293y]",
        // One millisecond past the longest duration; one week past it.
        "x[292y171d23h47m15s1001ms]",
        "x[15251w]",
        "x offset 10000000000",
        "x[0x7fffffffffffffff]",
        "x > 99999999999y1s",
    ];

    /// In range for Prometheus; some forms need a feature flag or a newer grammar.
    const LEGITIMATE: &[&str] = &[
        "x offset 5m",
        "x offset -5m",
        "x offset +5m",
        "x offset 1w",
        "x offset 300",
        "x offset -1.5",
        "x @ 1609746000",
        "x @ -100",
        "x @ 1609746000.5 offset 1h",
        // A timestamp past the longest duration (9223372036 s) is still a timestamp.
        "x @ 10000000000",
        "x @ 9e15",
        "x @ start()",
        "x @ end()",
        "rate(x[5m])",
        "x[1h:30s]",
        "x[1h:]",
        "x[90]",
        "max_over_time(x[5m:1m] offset 1m)",
        "x[292y]",
        "x[9223372036]",
        "x[292y171d23h47m15s1000ms]",
        "x[15250w]",
        "x[4294967295ms]",
        "x > 1e308",
        "x > Inf",
        "x < -Inf",
        "x + NaN",
        "vector(1e308) * 2",
        "offset > 1e308",
        "x > 5m",
    ];

    fn scope() -> Scope<'static> {
        Scope {
            label: "namespace",
            namespace: "user1-test",
            on_conflict: OnConflict::Reject,
        }
    }

    fn parser_panics(text: &str) -> bool {
        catch_unwind(AssertUnwindSafe(|| {
            let _ = promql_parser::parser::parse(text);
        }))
        .is_err()
    }

    #[test]
    fn promql_parser_panics_on_these_numbers_today() {
        for text in PANICS_TODAY {
            assert!(parser_panics(text), "no longer panics: {text}");
        }
        for text in OUT_OF_RANGE {
            assert!(!parser_panics(text), "panics: {text}");
        }
        // The misreading: the dropped part leaves `1y`.
        let misread = promql_parser::parser::parse("x[1y99999999999999999d]");
        let plain = promql_parser::parser::parse("x[1y]");
        assert!(misread.is_ok() && misread == plain);
    }

    #[test]
    fn the_policy_refuses_them_before_the_parser_and_never_panics() {
        for text in PANICS_TODAY.iter().chain(OUT_OF_RANGE) {
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                Expression::parse(text, scope()).map(|_| ())
            }));
            match outcome {
                Ok(Err(ParseRefusal::NumberOutOfRange { .. })) => {}
                Ok(other) => panic!("{text}: {other:?}"),
                Err(_) => panic!("{text}: panicked"),
            }
        }
    }

    #[test]
    fn legitimate_numbers_still_parse() {
        for text in LEGITIMATE {
            let tokens = tokens(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(check_numbers(text, &tokens), Ok(()), "{text}");
            // In range; whether Prometheus 2.42's grammar takes the form (`offset +5m`,
            // a bare number as a duration) is `promql::dialect`'s to say.
            match Expression::parse(text, scope()) {
                Ok(_) | Err(ParseRefusal::NotPrometheus { .. }) => {}
                Err(other) => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_refusal_names_the_number_its_role_and_the_limit() {
        let refusal = |text: &str| {
            let tokens = tokens(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            check_numbers(text, &tokens)
                .err()
                .map(|r| r.to_string())
                .unwrap_or_default()
        };
        let m = refusal("x offset -1e20");
        assert!(m.contains("offset `1e20` is out of range"), "{m}");
        assert!(m.contains("9223372036 seconds"), "{m}");
        assert!(m.contains("such as 5m"), "{m}");
        let m = refusal("x[5m:1e308]");
        assert!(m.contains("subquery step `1e308`"), "{m}");
        let m = refusal("x[1e308:5m]");
        assert!(m.contains("range `1e308`"), "{m}");
        let m = refusal("x @ NaN");
        assert!(m.contains("@ timestamp `NaN`"), "{m}");
        assert!(m.contains("1609746000"), "{m}");
        let m = refusal(&format!("x[{}s]", "9".repeat(5000)));
        assert!(m.contains("(5001 characters)"), "{m}");
        assert!(m.len() < 600, "{m}");
    }

    #[test]
    fn limits_match_prometheus() {
        // i64::MAX nanoseconds, in whole seconds.
        assert_eq!(MAX_DURATION_SECS, (i64::MAX / 1_000_000_000) as u64);
        assert!(duration_in_range("292y"));
        assert!(!duration_in_range("293y"));
        assert!(duration_in_range("106751d23h47m16s"));
        assert!(!duration_in_range("106751d23h47m17s"));
        // A part past u32, which promql-parser would drop.
        assert!(duration_in_range("4294967295s"));
        assert!(!duration_in_range("4294967296s"));
        assert!(duration_in_range("1.5h"));
        assert!(seconds_in_range("9223372036"));
        assert!(!seconds_in_range("9223372037"));
        assert!(!seconds_in_range("nan"));
        assert!(timestamp_in_range("9223372036854774"));
        assert!(!timestamp_in_range("9223372036854776"));
        assert!(!timestamp_in_range("inf"));
    }

    #[test]
    fn a_range_ends_at_its_bracket() {
        // After `]`, a number is a value again (any f64), not a range.
        let text = "rate(x[5m]) > 1e300";
        assert_eq!(check_numbers(text, &tokens(text).unwrap()), Ok(()));
        let text = "x[1e20] > 1";
        assert!(check_numbers(text, &tokens(text).unwrap()).is_err());
    }
}
