//! `alerts/for`: how long an alert must hold.

use super::Check;

pub const CHECK: Check = Check {
    id: "alerts/for",
    refuses: "`for` or `keep_firing_for` that is not a duration, or a `for` shorter than `minFor`; sets `for` to `defaultFor` when unset",
    why: "a drift alert with no `for` fires on one scrape's noise and starts a retraining run each time",
};
