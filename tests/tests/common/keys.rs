//! The suite's keys as the tests use them: the tests play the gateway
//! (signing users), a service (signing its own `system:…` principals) or
//! the recording platform (a credential from the authority key).

use archive_common::{
    IdentityKey,
    identity::{KeySet, PlatformCredential},
};

/// `holder`'s signer from the suite's key set.
pub(crate) fn signer(keys: &KeySet, holder: &str) -> IdentityKey {
    keys.config(holder).load().unwrap().key
}

/// What signs users' principals: the gateway's key.
pub(crate) fn gateway_key(keys: &KeySet) -> IdentityKey {
    signer(keys, "gateway")
}

/// A recording platform's credential for the demo tenant.
pub(crate) fn platform(keys: &KeySet) -> PlatformCredential {
    signer(keys, "authority").issue_platform(
        "e2e-platform",
        &["10009".to_owned()],
        chrono::Duration::hours(1),
    )
}
