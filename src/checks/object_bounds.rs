//! `object/bounds`: bounds on the work one object causes.

use super::Check;

pub const CHECK: Check = Check {
    id: "object/bounds",
    refuses: "objects past the bounds: 2,000 rules, 64 Ki PromQL tokens and 64 KiB of regex matchers per PrometheusRule, 256 routes, 64 receivers, 16 webhooks per receiver, nesting past the parser's depth",
    why: "one admission request must not buy unbounded work from the policy (policy-server times out and fails the request)",
};

/// Most rules one PrometheusRule may hold, summed over its groups. Well above generated
/// mixins (a few hundred); it bounds the work one admission request can cause.
pub const MAX_RULES: usize = 2000;

/// Most bytes of regex matchers (`a=~"…"`) one PrometheusRule may hold, summed over its
/// rules: each is syntax-checked the way Go's RE2 would judge it, never compiled.
pub const MAX_REGEX_BYTES: usize = 64 * 1024;

/// Most PromQL tokens one PrometheusRule's expressions may hold together. Parsing and
/// scoping cost a few microseconds a token in the .wasm, so this keeps a whole object
/// well inside policy-server's time limit (a 1 MB object of `a+a+…` otherwise takes
/// seconds); it is about 250 KB of dense PromQL, far above any hand-written rule file.
pub const MAX_TOKENS: usize = 64 * 1024;

/// Deepest nesting of `routes` accepted; bounds the recursion any object can cause.
pub const MAX_ROUTE_DEPTH: usize = 32;
/// Most routes one object may hold, at every depth together.
pub const MAX_ROUTES: usize = 256;
/// Most receivers one object may define.
pub const MAX_RECEIVERS: usize = 64;
/// Most `webhookConfigs` one receiver may list.
pub const MAX_WEBHOOKS_PER_RECEIVER: usize = 16;
/// Deepest nesting inside a webhook's `httpConfig` accepted (the CRD's is 3).
pub const MAX_HTTP_CONFIG_DEPTH: usize = 8;
