//! `request/namespace`: namespace of the request.

use super::Check;

pub const CHECK: Check = Check {
    id: "request/namespace",
    refuses: "a PrometheusRule or AlertmanagerConfig request that names no namespace, or one that is no namespace name",
    why: "the namespace is the tenant boundary: without one there is nothing to scope to, so the policy fails closed",
};
