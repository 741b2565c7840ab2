//! `rules/namespace-label`: what a rule emits stays in the namespace.

use super::Check;

pub const CHECK: Check = Check {
    id: "rules/namespace-label",
    refuses: "group or rule labels that set the namespace label to another namespace; sets `labels.<namespaceLabel>` and `labels.namespace` to the namespace on every rule",
    why: "rule labels override the expression's: `label_replace` or an aggregation could otherwise send an alert or recorded series to another tenant's routing, or to none",
};
