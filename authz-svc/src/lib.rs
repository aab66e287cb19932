//! authz-svc owns the users of each tenant and their Archive permissions (the
//! seed's play / download / delete / require-reason properties, plus viewing
//! the audit log and administering users), and answers policy decisions:
//! allow, allow once a reason is given, or deny with why.
//!
//! [`run`] serves `archive.v1.AuthzService` with health and reflection; the
//! binary and the gateway's embedded mode both start it. Every user change
//! commits with its PERMISSION_CHANGED event in the store's audit outbox;
//! with `audit_url` set, a relay delivers the events to audit-svc.

mod audit;
mod authz;
mod bootstrap;
mod cache;
mod config;
mod error;
pub mod grant;
mod grpc;
pub mod model;
pub mod operator;
mod operator_grpc;
mod policy;
pub mod role;
pub mod scope;
mod service;
pub mod store;
pub mod tenants;
mod tenants_audit;
mod tenants_door;

use std::{sync::Arc, time::Duration};

use archive_common::{
    Clock, SystemClock,
    host::{Host, watch_readiness},
    page_token::PageTokens,
    schema_step::SchemaStep,
    shutdown::CancellationToken,
};
use archive_proto::v1::{
    authz_service_server::{AuthzService, AuthzServiceServer},
    operator_service_server::OperatorServiceServer,
};
use audit_svc::{
    client::AuditClient,
    gate::{Gate, OutboxDenials},
    outbox::Relay,
};
use tokio::net::TcpListener;
use tonic::{
    server::NamedService,
    service::{Routes, interceptor::InterceptedService},
};

// Dev-dependencies serve the integration tests in `tests/`.
#[cfg(test)]
use tempfile as _;
#[cfg(test)]
use {test_support as _, tokio_stream as _};

pub use authz::Authz;
pub use config::{Config, SCHEMA_STEP};
pub use error::Error;
pub use grpc::GrpcServer;
pub use service::MAX_BATCH;

/// The gRPC service name this server hosts.
pub const SERVICE_NAME: &str = <AuthzServiceServer<GrpcServer<dyn Authz>> as NamedService>::NAME;
/// The operator's service (the tenant registry), served beside it.
pub const OPERATOR_SERVICE_NAME: &str =
    <OperatorServiceServer<operator_grpc::OperatorGrpc> as NamedService>::NAME;

/// How often readiness re-checks the database.
const READINESS_INTERVAL: Duration = Duration::from_secs(5);

/// Serves on `listener` until `shutdown` is cancelled ([`start`], then
/// [`Host::serve`]).
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let started = start(config, shutdown.clone()).await?;
    started.host.serve(listener, shutdown).await?;
    Ok(())
}

/// authz-svc with its store open and readiness running, before it serves.
pub struct Started {
    /// Serves gRPC on a listener ([`Host::serve`]), in this process
    /// ([`Host::in_process`]), or both.
    pub host: Host,
    /// The service itself, the same one the host serves: what a caller in
    /// this process that has verified the caller's identity itself (the
    /// embedded gateway, deciding what a result page allows) may call with no
    /// encoding at all.
    pub service: Arc<dyn AuthzService>,
    /// The same service as Rust, for a caller in this process holding a
    /// verified [`archive_common::identity::Caller`].
    pub authz: Arc<dyn Authz>,
}

/// The name the audit relay calls audit-svc as (`system:authz-svc`).
pub const AUDIT_PRINCIPAL: &str = "authz-svc";

/// `authz-svc migrate`: the schema step, as the database owner.
pub async fn migrate(args: &SchemaStep) -> Result<(), Error> {
    store::migrate(&args.database_url, args.grant_to.as_deref()).await
}

/// Opens the store (migrating when `config.migrate`, else checking the
/// schema is current), creates the bootstrap admins and starts the audit
/// relay and readiness (until `shutdown`).
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Started, Error> {
    let clock = Arc::new(SystemClock);
    let store = store::open(&config.database_url, config.migrate).await?;
    bootstrap::apply(store.as_ref(), &config.bootstrap_admins, clock.now()).await?;

    let identity = config.identity.load_with(clock.clone())?;
    // Page tokens get their own key, derived so no second secret is needed.
    let tokens = PageTokens::new(&identity.key.derived_secret("authz-svc page tokens"));
    let cache = cache::DecisionCache::new(
        Duration::from_millis(config.decision_cache_ttl_ms),
        clock.clone(),
    );
    let audit = config
        .audit_url
        .as_deref()
        .map(|url| AuditClient::connect_lazy(url, identity.key.clone()))
        .transpose()?;
    // Its first pass delivers the bootstrap admins' events too.
    let relay = Relay::new(
        Arc::new(store.outbox()),
        audit,
        AUDIT_PRINCIPAL,
        clock.clone(),
    );
    let nudge = relay.nudge();
    relay.spawn(shutdown.clone());
    let gate = Gate::new(
        Arc::new(OutboxDenials {
            outbox: store.outbox(),
            nudge: nudge.clone(),
        }),
        clock.clone(),
    );
    let states = tenants::States::new(clock.clone());
    let operator = operator::Operator::new(
        store.clone(),
        states.clone(),
        PageTokens::new(
            &identity
                .key
                .derived_secret("authz-svc operator page tokens"),
        ),
        clock.clone(),
        nudge.clone(),
        gate.clone(),
    );
    let authority = service::Authority::new(store.clone(), cache, tokens, clock, nudge, gate);
    // A suspended tenant's users are refused before the core sees them.
    let authz: Arc<dyn Authz> = Arc::new(tenants_door::TenantDoor::new(
        Arc::new(authority),
        store.clone(),
        states,
    ));
    let grpc = Arc::new(GrpcServer(authz.clone()));
    let server = InterceptedService::new(
        AuthzServiceServer::from_arc(grpc.clone()),
        identity.verifier(),
    );
    let operator = InterceptedService::new(
        OperatorServiceServer::new(operator_grpc::OperatorGrpc(Arc::new(operator))),
        identity.verifier(),
    );

    let routes = Routes::new(server).add_service(operator);
    let host = Host::new(routes, &[SERVICE_NAME, OPERATOR_SERVICE_NAME]).await;
    watch_readiness(
        host.health(),
        vec![SERVICE_NAME.to_owned(), OPERATOR_SERVICE_NAME.to_owned()],
        READINESS_INTERVAL,
        shutdown.clone(),
        move || {
            let store = store.clone();
            async move { store.ping().await }
        },
    );
    Ok(Started {
        host,
        service: grpc,
        authz,
    })
}
