//! `drift/comparison`: drift alerts mean what they say.

use super::Check;

pub const CHECK: Check = Check {
    id: "drift/comparison",
    refuses: "a drift metric compared the wrong way or against a threshold out of range; completes a bare drift selector with its default comparison (`< 0.05`)",
    why: "a bare selector fires whenever the series exists, and an inverted comparison fires on the models that did not drift: both retrain forever",
};
