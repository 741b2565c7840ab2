//! Drift and fairness alerts checked against what each metric means.
//!
//! TrustyAI's p-value metrics signal drift *below* a threshold, FourierMMD's drift
//! probability *above* one, and the fairness metrics outside a band. A comparison that
//! points the wrong way fires when there is no drift; a threshold outside the metric's
//! range never or always fires; a bare selector fires whenever the series exists.

use std::borrow::Cow;

use promql_parser::parser::token::{self, TokenId};
use promql_parser::parser::{Expr, VectorSelector};
use serde::{Deserialize, Serialize};

use promql::scope::is_unrendered_template;
use promql::walk::walk;

/// Which values of a metric mean drift (or unfairness).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Direction {
    /// Drift is a value below the threshold (p-values).
    Below,
    /// Drift is a value above the threshold (a probability of drift).
    Above,
    /// Unfair is a value outside the band.
    Outside,
}

/// One catalog entry, as built in or written under the `driftMetrics` setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DriftMetric {
    pub direction: Direction,
    /// Default threshold (`below`/`above`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Values the metric can take; a threshold must lie strictly inside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<[f64; 2]>,
    /// The fair band (`outside`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band: Option<[f64; 2]>,
    /// What the metric is, for messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Cow<'static, str>>,
}

/// TrustyAI's default significance level for its p-value tests.
pub const P_VALUE_THRESHOLD: f64 = 0.05;
/// The threshold TrustyAI's own FourierMMD tests use (explainability-core
/// `FourierMMDTest`): drift is flagged when the probability that the MMD score exceeds
/// `mean + gamma * std` is larger than it.
pub const FOURIER_MMD_THRESHOLD: f64 = 0.8;

pub const BUILT_IN_NAMES: [&str; 7] = [
    "trustyai_meanshift",
    "trustyai_comparemeans",
    "trustyai_kstest",
    "trustyai_approxkstest",
    "trustyai_fouriermmd",
    "trustyai_spd",
    "trustyai_dir",
];

pub fn built_in(name: &str) -> Option<DriftMetric> {
    let p_value = || DriftMetric {
        direction: Direction::Below,
        threshold: Some(P_VALUE_THRESHOLD),
        range: Some([0.0, 1.0]),
        band: None,
        description: Some(Cow::Borrowed("a p-value")),
    };
    match name {
        "trustyai_meanshift"
        | "trustyai_comparemeans"
        | "trustyai_kstest"
        | "trustyai_approxkstest" => Some(p_value()),
        "trustyai_fouriermmd" => Some(DriftMetric {
            direction: Direction::Above,
            threshold: Some(FOURIER_MMD_THRESHOLD),
            range: Some([0.0, 1.0]),
            band: None,
            description: Some(Cow::Borrowed("a probability of drift")),
        }),
        "trustyai_spd" => Some(DriftMetric {
            direction: Direction::Outside,
            threshold: None,
            range: Some([-1.0, 1.0]),
            band: Some([-0.1, 0.1]),
            description: Some(Cow::Borrowed("statistical parity difference")),
        }),
        "trustyai_dir" => Some(DriftMetric {
            direction: Direction::Outside,
            threshold: None,
            range: None,
            band: Some([0.8, 1.2]),
            description: Some(Cow::Borrowed("disparate impact ratio")),
        }),
        _ => None,
    }
}

impl DriftMetric {
    /// Settings check for one entry.
    pub fn check(&self) -> Result<(), String> {
        if let Some([lo, hi]) = self.range {
            if lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less) {
                return Err(format!("range [{lo}, {hi}] must have lower < upper"));
            }
        }
        match self.direction {
            Direction::Below | Direction::Above => {
                let Some(t) = self.threshold else {
                    return Err(format!("direction {:?} needs a threshold", self.direction));
                };
                if let Some([lo, hi]) = self.range {
                    if !(lo < t && t < hi) {
                        return Err(format!(
                            "threshold {t} must lie strictly inside the range [{lo}, {hi}]"
                        ));
                    }
                }
            }
            Direction::Outside => {
                let Some([lo, hi]) = self.band else {
                    return Err("direction outside needs a band [lower, upper]".to_owned());
                };
                if lo.partial_cmp(&hi) != Some(std::cmp::Ordering::Less) {
                    return Err(format!("band [{lo}, {hi}] must have lower < upper"));
                }
            }
        }
        Ok(())
    }

    fn what(&self) -> &str {
        self.description.as_deref().unwrap_or("a drift metric")
    }
}

/// Finds catalog entries by metric name (settings first, then built-ins).
pub trait Catalog {
    fn lookup(&self, metric: &str) -> Option<Cow<'_, DriftMetric>>;
}

/// What checking one alerting expression found.
#[derive(Debug, Clone, PartialEq)]
pub enum DriftCheck {
    /// Nothing to say (no catalog metric, or every comparison is right).
    Fine,
    /// A bare catalog selector: the default comparison to add around it.
    Completed {
        comparison: DefaultComparison,
        metric: String,
    },
    /// Comparisons that point the wrong way or use thresholds out of range.
    Problems(Vec<String>),
}

/// The comparison that makes a bare drift selector mean drift (it lives with the
/// [`Completion`] it implements, in the promql crate).
pub use promql::edit::DefaultComparison;

/// Checks an alerting rule's (already scoped) expression.
pub fn check_alert(expr: &Expr, catalog: &dyn Catalog) -> DriftCheck {
    // Every comparison in it first, wrapped ones included: a bare selector's completion
    // must not admit a comparison that the completed expression, sent back, is refused
    // for (`topk(scalar(m > bool 0.5), m)` completed to `... < 0.05`).
    let mut problems = Vec::new();
    // Past the depth bound nothing more is checked; the parse bound refuses such trees.
    let _ = walk(expr, &mut |node| {
        if let Expr::Binary(b) = node {
            if b.op.is_comparison_operator() {
                check_comparison(b.op.id(), &b.lhs, &b.rhs, catalog, &mut problems);
            }
        }
    });
    if !problems.is_empty() {
        return DriftCheck::Problems(problems);
    }
    // A bare selector (through meaning-preserving wrappers) fires whenever it exists.
    if let Some((name, metric)) = catalog_metric(expr, catalog) {
        let comparison = match (metric.direction, metric.threshold, metric.band) {
            (Direction::Below, Some(t), _) => DefaultComparison::Below(t),
            (Direction::Above, Some(t), _) => DefaultComparison::Above(t),
            (Direction::Outside, _, Some([lo, hi])) => DefaultComparison::Outside(lo, hi),
            _ => return DriftCheck::Fine,
        };
        return DriftCheck::Completed {
            comparison,
            metric: name.to_owned(),
        };
    }
    DriftCheck::Fine
}

fn check_comparison(
    op: TokenId,
    lhs: &Expr,
    rhs: &Expr,
    catalog: &dyn Catalog,
    problems: &mut Vec<String>,
) {
    // Normalise to `metric OP threshold`: `0.05 > m` reads as `m < 0.05`.
    let ((name, metric), threshold, op) = match (
        catalog_metric(lhs, catalog),
        number(rhs),
        number(lhs),
        catalog_metric(rhs, catalog),
    ) {
        (Some(metric), Some(t), _, _) => (metric, t, op),
        (_, _, Some(t), Some(metric)) => (metric, t, flip(op)),
        _ => return,
    };
    let symbol = symbol(op);
    let written = format!("{name} {symbol} {threshold}");
    let below = op == token::T_LSS || op == token::T_LTE;
    let above = op == token::T_GTR || op == token::T_GTE;
    if !below && !above {
        problems.push(format!(
            "`{written}` is not a threshold: compare {name} ({}) with < or >",
            metric.what()
        ));
        return;
    }
    match (metric.direction, metric.threshold, metric.band) {
        (Direction::Below, default, _) | (Direction::Above, default, _) => {
            let wants_below = metric.direction == Direction::Below;
            let default = default.map_or(String::new(), |d| d.to_string());
            let (right_op, drift_word) = if wants_below {
                ("<", "below")
            } else {
                (">", "above")
            };
            if below != wants_below {
                problems.push(format!(
                    "`{written}` would fire when there is no drift: {name} is {} and drift is a value {drift_word} the threshold; write `{name} {right_op} {}`",
                    metric.what(),
                    if default.is_empty() { threshold.to_string() } else { default },
                ));
                return;
            }
            if let Some([lo, hi]) = metric.range {
                if !(lo < threshold && threshold < hi) {
                    let effect =
                        if (wants_below && threshold <= lo) || (!wants_below && threshold >= hi) {
                            "would never fire"
                        } else {
                            "would always fire"
                        };
                    problems.push(format!(
                        "`{written}` {effect}: {name} is {} in [{lo}, {hi}]; use a threshold strictly inside that range",
                        metric.what()
                    ));
                }
            }
        }
        (Direction::Outside, _, Some([lo, hi])) => {
            let fires_while_fair = (above && threshold < hi) || (below && threshold > lo);
            if fires_while_fair {
                problems.push(format!(
                    "`{written}` would fire while {name} is fair: {} is fair inside [{lo}, {hi}]; alert on `{name} < {lo} or {name} > {hi}`",
                    metric.what()
                ));
            }
        }
        (Direction::Outside, _, None) => {}
    }
}

/// The catalog metric `expr` reads, through wrappers that keep its values' meaning:
/// parentheses, `min`/`max`/`avg`/`topk`/`bottomk` aggregations, and the
/// `*_over_time` functions that return one of the sampled values or their mean.
pub fn catalog_metric<'e, 'c>(
    expr: &'e Expr,
    catalog: &'c dyn Catalog,
) -> Option<(&'e str, Cow<'c, DriftMetric>)> {
    let mut e = expr;
    for _ in 0..promql::bounds::MAX_TREE_DEPTH {
        e = match e {
            Expr::Paren(p) => &p.expr,
            Expr::Aggregate(a) if keeps_meaning_aggregate(a.op.id()) => &a.expr,
            Expr::Call(c) if keeps_meaning_function(c.func.name) => c.args.args.last()?,
            Expr::Subquery(s) => &s.expr,
            Expr::MatrixSelector(m) => return selector_metric(&m.vs, catalog),
            Expr::VectorSelector(vs) => return selector_metric(vs, catalog),
            _ => return None,
        };
    }
    None
}

fn selector_metric<'v, 'c>(
    vs: &'v VectorSelector,
    catalog: &'c dyn Catalog,
) -> Option<(&'v str, Cow<'c, DriftMetric>)> {
    let name = vs.name.as_deref().or_else(|| {
        vs.matchers
            .matchers
            .iter()
            .find(|m| {
                m.name == "__name__"
                    && m.op == promql_parser::label::MatchOp::Equal
                    && !is_unrendered_template(&m.value)
            })
            .map(|m| m.value.as_str())
    })?;
    catalog.lookup(name).map(|metric| (name, metric))
}

fn keeps_meaning_aggregate(op: TokenId) -> bool {
    [
        token::T_MIN,
        token::T_MAX,
        token::T_AVG,
        token::T_TOPK,
        token::T_BOTTOMK,
    ]
    .contains(&op)
}

fn keeps_meaning_function(name: &str) -> bool {
    matches!(
        name,
        "min_over_time"
            | "max_over_time"
            | "avg_over_time"
            | "last_over_time"
            | "quantile_over_time"
    )
}

fn number(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::NumberLiteral(n) => Some(n.val),
        Expr::Paren(p) => number(&p.expr),
        Expr::Unary(u) => number(&u.expr).map(|v| -v),
        _ => None,
    }
}

fn flip(op: TokenId) -> TokenId {
    match op {
        o if o == token::T_LSS => token::T_GTR,
        o if o == token::T_LTE => token::T_GTE,
        o if o == token::T_GTR => token::T_LSS,
        o if o == token::T_GTE => token::T_LTE,
        o => o,
    }
}

fn symbol(op: TokenId) -> &'static str {
    match op {
        o if o == token::T_LSS => "<",
        o if o == token::T_LTE => "<=",
        o if o == token::T_GTR => ">",
        o if o == token::T_GTE => ">=",
        o if o == token::T_EQLC => "==",
        _ => "!=",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use promql::edit::Completion;
    use promql_parser::parser::parse;

    struct BuiltIns;
    impl Catalog for BuiltIns {
        fn lookup(&self, metric: &str) -> Option<Cow<'_, DriftMetric>> {
            built_in(metric).map(Cow::Owned)
        }
    }

    fn check(text: &str) -> DriftCheck {
        check_alert(&parse(text).unwrap(), &BuiltIns)
    }

    fn problems(text: &str) -> Vec<String> {
        match check(text) {
            DriftCheck::Problems(p) => p,
            other => panic!("{text}: expected problems, got {other:?}"),
        }
    }

    /// Found by fuzzing the .wasm: the completed expression was refused when sent back.
    #[test]
    fn a_bare_selector_with_a_wrong_way_comparison_inside_is_refused_not_completed() {
        let e = parse("topk(scalar(trustyai_meanshift > bool 0.5), trustyai_meanshift)").unwrap();
        match check_alert(&e, &BuiltIns) {
            DriftCheck::Problems(p) => {
                assert!(p[0].contains("would fire when there is no drift"), "{p:?}")
            }
            other => panic!("{other:?}"),
        }
        let e = parse("topk(1, trustyai_meanshift)").unwrap();
        assert!(matches!(
            check_alert(&e, &BuiltIns),
            DriftCheck::Completed { .. }
        ));
    }

    #[test]
    fn built_in_entries_are_valid() {
        for name in BUILT_IN_NAMES {
            built_in(name).unwrap().check().unwrap();
        }
    }

    #[test]
    fn a_threshold_on_the_ranges_bound_is_refused() {
        // `< 0` never fires on a p-value in [0, 1], and `> 1` never does either: the
        // threshold must lie strictly inside, not on a bound.
        let metric = |direction, t| DriftMetric {
            direction,
            threshold: Some(t),
            range: Some([0.0, 1.0]),
            band: None,
            description: None,
        };
        for (direction, t) in [
            (Direction::Below, 0.0),
            (Direction::Below, 1.0),
            (Direction::Above, 0.0),
            (Direction::Above, 1.0),
        ] {
            let refused = metric(direction, t).check().unwrap_err();
            assert_eq!(
                refused,
                format!("threshold {t} must lie strictly inside the range [0, 1]"),
                "{direction:?} {t}"
            );
        }
        assert_eq!(metric(Direction::Below, 0.05).check(), Ok(()));
        assert_eq!(metric(Direction::Above, 0.95).check(), Ok(()));
    }

    #[test]
    fn ranges_and_bands_must_be_ordered_numbers() {
        let outside = |range: Option<[f64; 2]>, band: [f64; 2]| DriftMetric {
            direction: Direction::Outside,
            threshold: None,
            range,
            band: Some(band),
            description: None,
        };
        assert_eq!(outside(Some([-1.0, 1.0]), [-0.1, 0.1]).check(), Ok(()));
        for band in [[0.1, 0.1], [0.2, 0.1], [f64::NAN, 1.0], [0.0, f64::NAN]] {
            assert_eq!(
                outside(None, band).check(),
                Err(format!(
                    "band [{}, {}] must have lower < upper",
                    band[0], band[1]
                )),
                "{band:?}"
            );
        }
        // (With a NaN band every comparison would pass as fair.)
        for range in [[1.0, 1.0], [f64::NAN, 0.0], [0.0, f64::NAN], [1.0, 0.0]] {
            assert_eq!(
                outside(Some(range), [-0.1, 0.1]).check(),
                Err(format!(
                    "range [{}, {}] must have lower < upper",
                    range[0], range[1]
                )),
                "{range:?}"
            );
        }
    }

    #[test]
    fn what_keeps_a_metrics_meaning_and_what_does_not() {
        // The wrappers that return the metric's own values (or their mean) are read
        // through; a quantile's metric is its last argument.
        for text in [
            "quantile_over_time(0.5, trustyai_meanshift[10m]) > 0.05",
            "avg(trustyai_meanshift) > 0.05",
            "avg_over_time(trustyai_meanshift[10m]) > 0.05",
            "last_over_time(trustyai_meanshift[10m]) > 0.05",
            "bottomk(1, trustyai_meanshift) > 0.05",
        ] {
            assert!(problems(text)[0].contains("no drift"), "{text}");
        }
        assert!(matches!(
            check("avg(trustyai_meanshift)"),
            DriftCheck::Completed { .. }
        ));
        // A sum over time or a count is no p-value: not judged as one.
        for text in [
            "sum_over_time(trustyai_meanshift[1h]) > 3",
            "count_over_time(trustyai_meanshift[1h]) > 3",
            "sum(trustyai_meanshift) > 3",
            "count(trustyai_meanshift) > 3",
            "stddev(trustyai_meanshift) > 0.05",
        ] {
            assert_eq!(check(text), DriftCheck::Fine, "{text}");
        }
    }

    #[test]
    fn right_way_comparisons_are_fine() {
        for text in [
            r#"trustyai_meanshift{subcategory="danceability"} < 0.05"#,
            "0.05 > trustyai_meanshift",
            "trustyai_kstest <= 0.01",
            "trustyai_comparemeans < bool 0.05",
            "min(trustyai_meanshift) < 0.05 and on() vector(1)",
            "min_over_time(trustyai_approxkstest[10m]) < 0.05",
            "trustyai_fouriermmd > 0.8",
            "trustyai_spd > 0.1 or trustyai_spd < -0.1",
            "trustyai_dir < 0.8",
            "trustyai_dir > 1.5",
            "up == 0",
            "sum(trustyai_meanshift) > 3",
            // A rate of a p-value is no p-value: not judged as one.
            "rate(trustyai_meanshift[5m]) > 0.05",
            "deriv(trustyai_meanshift[10m]) > 0.05",
            // The number on the left: flipped before judging.
            "0.05 >= trustyai_meanshift",
            "0.8 < trustyai_fouriermmd",
            "0.8 <= trustyai_fouriermmd",
            // The metric named by a matcher, and numbers in parentheses or negated.
            r#"{__name__="trustyai_meanshift"} < 0.05"#,
            "trustyai_meanshift < (0.05)",
            "trustyai_spd < -(0.1) or trustyai_spd > 0.1",
            // Not a catalog metric: another label, a regex, a template.
            r#"{job="trustyai_meanshift"} > 0.05"#,
            r#"{__name__=~"trustyai_meanshift"} > 0.05"#,
        ] {
            assert_eq!(check(text), DriftCheck::Fine, "{text}");
        }
    }

    #[test]
    fn wrong_way_is_explained() {
        let p = problems(r#"trustyai_meanshift{subcategory="danceability"} > 0.05"#);
        assert!(p[0].contains("would fire when there is no drift"), "{p:?}");
        assert!(p[0].contains("write `trustyai_meanshift < 0.05`"), "{p:?}");
        assert!(problems("0.05 < trustyai_meanshift")[0].contains("no drift"));
        assert!(problems("max_over_time(trustyai_kstest[5m]) >= 0.05")[0].contains("no drift"));
        assert!(
            problems("trustyai_fouriermmd < 0.8")[0].contains("write `trustyai_fouriermmd > 0.8`")
        );
        assert!(problems("up > 1 and trustyai_meanshift > 0.05")[0].contains("no drift"));
        // Through parentheses, as through the wrappers that keep the meaning.
        assert!(problems("(trustyai_meanshift) > 0.05")[0].contains("no drift"));
        assert!(problems("((max(trustyai_meanshift))) > 0.05")[0].contains("no drift"));
        assert!(problems("0.05 <= trustyai_meanshift")[0].contains("no drift"));
        assert!(problems("0.8 > trustyai_fouriermmd")[0].contains("no drift"));
        // Through a subquery: its samples are the metric's own values.
        assert!(
            problems("min_over_time(trustyai_meanshift[10m:1m]) > 0.05")[0].contains("no drift")
        );
        // Quoted as flipped, the operator mirrored exactly.
        assert!(problems("0.8 >= trustyai_fouriermmd")[0]
            .starts_with("`trustyai_fouriermmd <= 0.8` would fire when there is no drift"));
        assert!(problems("0.05 < trustyai_meanshift")[0]
            .starts_with("`trustyai_meanshift > 0.05` would fire"));
        assert!(problems("0.05 == trustyai_meanshift")[0]
            .starts_with("`trustyai_meanshift == 0.05` is not a threshold"));
        assert!(problems("0.05 <= trustyai_meanshift")[0]
            .starts_with("`trustyai_meanshift >= 0.05` would fire"));
        assert!(problems("0.8 > trustyai_fouriermmd")[0]
            .starts_with("`trustyai_fouriermmd < 0.8` would fire"));
        for (text, quoted) in [
            (
                "trustyai_meanshift < 5",
                "`trustyai_meanshift < 5` would always fire",
            ),
            (
                "trustyai_meanshift >= 0.05",
                "`trustyai_meanshift >= 0.05` would fire when",
            ),
            (
                "trustyai_meanshift != 0.05",
                "`trustyai_meanshift != 0.05` is not a threshold",
            ),
            (
                "trustyai_fouriermmd <= 0.8",
                "`trustyai_fouriermmd <= 0.8` would fire when",
            ),
        ] {
            let p = problems(text);
            assert!(p[0].starts_with(quoted), "{text}: {p:?}");
        }
        assert!(problems(r#"{__name__="trustyai_meanshift"} > 0.05"#)[0].contains("no drift"));
        assert!(problems("trustyai_meanshift > (0.05)")[0].contains("no drift"));
        assert!(problems("trustyai_meanshift < -0.5")[0].contains("would never fire"));
        assert!(problems("trustyai_meanshift < -(0.5)")[0].contains("would never fire"));
    }

    #[test]
    fn thresholds_outside_the_range_are_explained() {
        assert!(problems("trustyai_meanshift < 5")[0].contains("would always fire"));
        assert!(problems("trustyai_meanshift < 1")[0].contains("would always fire"));
        assert!(problems("trustyai_meanshift < 0")[0].contains("would never fire"));
        assert!(problems("trustyai_fouriermmd > 1")[0].contains("would never fire"));
        assert!(problems("trustyai_meanshift < 5")[0].contains("[0, 1]"));
    }

    #[test]
    fn messages_say_what_the_metric_is() {
        assert!(
            problems("trustyai_meanshift < 5")[0]
                .contains("trustyai_meanshift is a p-value in [0, 1]"),
            "{:?}",
            problems("trustyai_meanshift < 5")
        );
        // A catalog entry without a description is "a drift metric".
        struct Custom;
        impl Catalog for Custom {
            fn lookup(&self, metric: &str) -> Option<Cow<'_, DriftMetric>> {
                (metric == "my_drift").then_some(Cow::Owned(DriftMetric {
                    direction: Direction::Below,
                    threshold: Some(0.1),
                    range: None,
                    band: None,
                    description: None,
                }))
            }
        }
        match check_alert(&parse("my_drift > 0.1").unwrap(), &Custom) {
            DriftCheck::Problems(p) => {
                assert!(
                    p[0].contains("my_drift is a drift metric and drift is a value below"),
                    "{p:?}"
                )
            }
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn bands_must_be_left_outward() {
        assert!(
            problems("trustyai_spd > 0.05")[0].contains("would fire while trustyai_spd is fair")
        );
        assert!(problems("trustyai_dir < 1")[0].contains("fair inside [0.8, 1.2]"));
        assert!(problems("trustyai_spd == 0")[0].contains("is not a threshold"));
    }

    #[test]
    fn bare_selectors_get_the_default_comparison() {
        assert_eq!(
            check(r#"trustyai_meanshift{namespace="n"}"#),
            DriftCheck::Completed {
                comparison: DefaultComparison::Below(0.05),
                metric: "trustyai_meanshift".to_owned()
            }
        );
        let completed = |text: &str| match check(text) {
            DriftCheck::Completed { comparison, .. } => comparison.render(text),
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(
            completed("trustyai_spd"),
            "trustyai_spd < -0.1 or trustyai_spd > 0.1"
        );
        assert_eq!(
            completed("min_over_time(trustyai_fouriermmd[5m])"),
            "min_over_time(trustyai_fouriermmd[5m]) > 0.8"
        );
        assert_eq!(check("up"), DriftCheck::Fine);
    }
}
