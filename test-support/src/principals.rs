//! The demo tenant's users as principals, named as in the help page's
//! examples, and a user of another tenant for the NOT_FOUND checks.

use archive_common::Principal;

/// The demo tenant.
pub const TENANT: &str = "10009";

/// The demo administrator: every permission.
pub fn paal() -> Principal {
    Principal::new(TENANT, "paal", "Paal Admin")
}

/// A user of the demo tenant with `user_id` and `name`.
pub fn user(user_id: &str, name: &str) -> Principal {
    Principal::new(TENANT, user_id, name)
}

/// The administrator of another tenant: whatever she names of tenant 10009
/// must be NOT_FOUND to her.
pub fn olga() -> Principal {
    Principal::new("10010", "olga", "Olga Admin")
}
