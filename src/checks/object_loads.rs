//! `object/loads`: what prometheus and alertmanager load.

use super::Check;

pub const CHECK: Check = Check {
    id: "object/loads",
    refuses: "what Prometheus 2.42 or Alertmanager would refuse to load: PromQL its grammar refuses, templates Go does not parse, unknown template functions, malformed durations, repeated group or receiver names, a rule with both or neither of `alert` and `record`, routes naming undefined receivers or time intervals",
    why: "what is admitted must load, exactly as written: one bad object otherwise stops the operator reloading every tenant's rules",
};
