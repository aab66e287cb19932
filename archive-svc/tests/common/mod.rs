//! The suite's keys for a test binary and the callers archive-svc admits:
//! users through the gateway (signed with its key) and the recording
//! platform (with a credential from the operator's authority).

// Each test file uses a different part of this.
#![allow(dead_code)]

pub(crate) mod legacy;

use std::sync::LazyLock;

use archive_common::{
    Principal,
    identity::{IdentityConfig, IdentityKey, PlatformCredential, testing::TestKeys},
};
use tonic::Request;

/// The tenants the tests' recording platform ingests for.
pub(crate) const PLATFORM_TENANTS: [&str; 3] = ["10009", "20001", "20002"];

/// Kept for the whole test binary: the servers read these files.
static KEYS: LazyLock<TestKeys> = LazyLock::new(TestKeys::new);
/// Loaded once, so it reuses its tokens as the gateway does.
static GATEWAY: LazyLock<IdentityKey> = LazyLock::new(|| KEYS.gateway());
static PLATFORM: LazyLock<PlatformCredential> =
    LazyLock::new(|| KEYS.platform("recording-platform", &PLATFORM_TENANTS));

pub(crate) fn keys() -> &'static TestKeys {
    &KEYS
}

/// `holder`'s key file and the trust file (a service's `Config`).
pub(crate) fn identity(holder: &str) -> IdentityConfig {
    KEYS.config(holder)
}

/// What signs users: the gateway's key.
pub(crate) fn gateway() -> IdentityKey {
    GATEWAY.clone()
}

/// The recording platform's credential ([`PLATFORM_TENANTS`]).
pub(crate) fn platform() -> PlatformCredential {
    PLATFORM.clone()
}

/// Paal, an admin of `tenant`, through the gateway.
pub(crate) fn as_user<T>(tenant: &str, message: T) -> Request<T> {
    GATEWAY.request(message, &Principal::new(tenant, "paal", "Paal Admin"))
}

/// The recording platform, acting for `tenant`.
pub(crate) fn as_platform<T>(tenant: &str, message: T) -> Request<T> {
    PLATFORM.request(message, tenant)
}
