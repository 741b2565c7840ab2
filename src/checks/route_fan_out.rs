//! `route/fan-out`: one alert starts at most one run.

use super::Check;

pub const CHECK: Check = Check {
    id: "route/fan-out",
    refuses: "a receiver that lists the listener more than once, and a route tree along which one alert could reach the listener more than once (`continue`, inherited receivers)",
    why: "each delivery to the listener starts a retraining run: one drift would start many",
};
