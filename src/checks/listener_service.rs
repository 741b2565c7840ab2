//! `listener/service`: the listener is really a listener.

use super::Check;

pub const CHECK: Check = Check {
    id: "listener/service",
    refuses: "with `listenerService`, a Service that cannot be read, is `ExternalName`, or selects no pods",
    why: "a DNS alias or hand-wired Service can lead anywhere, including another tenant's pipeline",
};
