//! The suite's keys for a test binary: each service's own key, the trust
//! file, and the gateway's key, which is what signs a user's principal.

// Each test file uses a different part of this.
#![allow(dead_code)]

use std::sync::LazyLock;

use archive_common::identity::{IdentityConfig, IdentityKey, testing::TestKeys};

/// Kept for the whole test binary: the servers read these files.
static KEYS: LazyLock<TestKeys> = LazyLock::new(TestKeys::new);
/// Loaded once, so it reuses its tokens as the gateway does.
static GATEWAY: LazyLock<IdentityKey> = LazyLock::new(|| KEYS.gateway());

pub(crate) fn keys() -> &'static TestKeys {
    &KEYS
}

/// `holder`'s key file and the trust file (a service's `Config`).
pub(crate) fn identity(holder: &str) -> IdentityConfig {
    KEYS.config(holder)
}

/// What signs users: the gateway's key (a user through the gateway).
pub(crate) fn key() -> IdentityKey {
    GATEWAY.clone()
}
