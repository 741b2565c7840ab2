//! `route/intervals`: notifications are not repeated quickly.

use super::Check;

pub const CHECK: Check = Check {
    id: "route/intervals",
    refuses: "`repeatInterval` or `groupInterval` of zero or below `minRepeatInterval`/`minGroupInterval` at any route depth (raised instead with `onShortInterval: raise`); sets `repeatInterval` when unset",
    why: "Alertmanager's default repeats every 4 hours, and short intervals turn one drift into a retraining storm",
};
