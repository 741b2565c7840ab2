//! `expr/scope`: every selector reads only the namespace.

use super::Check;

pub const CHECK: Check = Check {
    id: "expr/scope",
    refuses: "a selector whose namespace matcher names another namespace, a regex or negative namespace matcher, a `{a=\"1\" or b=\"2\"}` selector; adds the namespace matcher to every selector otherwise (in the author's own text)",
    why: "a rule reads series of the whole cluster: an unscoped selector reads other tenants' data",
};
