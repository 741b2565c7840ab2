//! `listener/tenant`: the listener belongs to the tenant.

use super::Check;

pub const CHECK: Check = Check {
    id: "listener/tenant",
    refuses: "an object whose tenant cannot be determined (requester or label tenancy), and a listener whose namespace belongs to another tenant",
    why: "the listener URL is built from the tenant: if the tenant is wrong, alerts start another tenant's pipeline",
};
