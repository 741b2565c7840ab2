//! `webhook/send-resolved`: a resolved alert starts no run.

use super::Check;

pub const CHECK: Check = Check {
    id: "webhook/send-resolved",
    refuses: "`sendResolved` that is not a boolean; sets it to the `sendResolved` setting (false) when unset",
    why: "Alertmanager sends resolved notifications by default: a cleared drift would start a second retraining run",
};
