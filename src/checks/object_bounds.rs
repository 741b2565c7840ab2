//! `object/bounds`: bounds on the work one object causes.

use super::Check;

pub const CHECK: Check = Check {
    id: "object/bounds",
    refuses: "objects past the bounds: 2,000 rules, 64 KiB of regex matchers, 256 routes, 64 receivers, 16 webhooks per receiver, nesting past the parser's depth",
    why: "one admission request must not buy unbounded work from the policy (policy-server times out and fails the request)",
};
