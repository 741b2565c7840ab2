//! `alerts/default-labels`: labels every alert carries.

use super::Check;

pub const CHECK: Check = Check {
    id: "alerts/default-labels",
    refuses: "nothing; sets each of `defaultLabels` the alert does not set itself",
    why: "routing and receivers rely on them (e.g. `severity`)",
};
