//! PromQL as this policy reads and edits it, in the order an expression goes through:
//!
//! - [`lex`]: promql-parser's own tokens, and a bound on the tree's depth counted on them;
//! - [`bounds`]: the limits on what parsing any input may cost, checked before parsing;
//! - [`numbers`]: numbers the parser would turn into durations or times, range-checked;
//! - [`dialect`]: what Prometheus 2.42 (plus `prometheusFeatures`) refuses that
//!   promql-parser reads;
//! - [`regex_mask`]: regex matchers masked before parsing, judged as Go's RE2 would;
//! - [`walk`]: the one walk over the tree every check uses, with one depth policy;
//! - [`scope`]: scoping decided on the tree;
//! - [`align`]: the tree's selectors located in the author's text;
//! - [`edit`]: the [`edit::Expression`] that carries it all: parsed, then scoped, then
//!   (for drift alerts) completed, then rewritten in the author's own text.

pub mod align;
pub mod bounds;
pub mod dialect;
pub mod edit;
pub mod lex;
pub mod numbers;
pub mod regex_mask;
pub mod scope;
pub mod walk;
