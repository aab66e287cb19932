//! What every test binary of authz-svc shares beyond `test-support`: each
//! service's identity and the gateway's key (what signs a user's
//! principal), authz-svc started until SERVING, and the store suite's
//! backends.

// Each test file uses a different part of this.
#![allow(dead_code)]

use std::sync::LazyLock;

use archive_common::identity::{IdentityConfig, IdentityKey};
use archive_proto::v1::authz_service_client::AuthzServiceClient;
use authz_svc::Config;
use test_support::server::Running;
use tonic::transport::Channel;

#[allow(unused_imports)]
pub(crate) use test_support::{keys, principals::paal};

/// Loaded once, so it reuses its tokens as the gateway does.
static GATEWAY: LazyLock<IdentityKey> = LazyLock::new(|| keys().gateway());

/// `holder`'s key file and the trust file (a service's `Config`).
pub(crate) fn identity(holder: &str) -> IdentityConfig {
    keys().config(holder)
}

/// What signs users: the gateway's key (a user through the gateway).
pub(crate) fn key() -> IdentityKey {
    GATEWAY.clone()
}

/// authz-svc under test.
pub(crate) type Server = Running<authz_svc::Error>;

/// Starts `run` and waits until health says SERVING (the store is open,
/// migrated and answering).
pub(crate) async fn start(config: Config) -> Server {
    Running::start(|listener, shutdown| authz_svc::run(config, listener, shutdown)).await
}

pub(crate) async fn client(server: &Server) -> AuthzServiceClient<Channel> {
    AuthzServiceClient::new(server.channel().await)
}
