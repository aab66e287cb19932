//! Serving a service: every server gets the standard gRPC health service and
//! server reflection, stops gracefully on the shutdown token, and reports
//! NOT_SERVING until its dependencies answer (see [`watch_readiness`]).

use std::{future::Future, time::Duration};

use tokio::net::TcpListener;
use tonic::{
    service::Routes,
    transport::{Server, server::TcpIncoming},
};
pub use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use http::Response;
use tonic::body::Body;
use tower::{Layer as _, util::MapResponseLayer};

use crate::{
    shutdown::CancellationToken,
    telemetry::{
        client::{self, TracedChannel},
        server::Observe,
    },
};

/// The health-check name that stays SERVING as long as the server runs: for
/// liveness probes, which must not restart a pod whose database is down.
pub const LIVENESS: &str = "liveness";

/// Health and reflection, added to a service's own routes.
pub struct Host {
    health: HealthReporter,
    routes: Routes,
    /// Every gRPC service name served here (request metrics label only these).
    services: Vec<String>,
}

impl Host {
    /// `names` are the fully-qualified gRPC service names this server hosts;
    /// they start NOT_SERVING.
    pub async fn new(routes: Routes, names: &[&str]) -> Self {
        let (health, health_service) = tonic_health::server::health_reporter();
        health
            .set_service_status("", ServingStatus::NotServing)
            .await;
        for name in names {
            health
                .set_service_status(*name, ServingStatus::NotServing)
                .await;
        }
        // Liveness asks about this name: SERVING while the process serves at
        // all, whatever its dependencies do (readiness asks about "").
        health
            .set_service_status(LIVENESS, ServingStatus::Serving)
            .await;
        let services: Vec<String> = names
            .iter()
            .map(|n| (*n).to_owned())
            .chain(
                [
                    "grpc.health.v1.Health",
                    "grpc.reflection.v1.ServerReflection",
                    "grpc.reflection.v1alpha.ServerReflection",
                ]
                .map(str::to_owned),
            )
            .collect();
        let routes = routes
            .add_service(health_service)
            .add_service(reflection(&services).build_v1().expect(DESCRIPTORS))
            .add_service(reflection(&services).build_v1alpha().expect(DESCRIPTORS));
        Self {
            health,
            routes,
            services,
        }
    }

    pub fn health(&self) -> HealthReporter {
        self.health.clone()
    }

    /// The hosted services as a channel for callers in this process
    /// (embedded mode): the same routes and request telemetry a connection
    /// gets from [`Host::serve`], without the socket.
    pub fn in_process(&self, timeout: Duration) -> TracedChannel {
        client::in_process(
            Observe::grpc(&self.services).layer(UNDECODABLE_IS_INVALID.layer(self.routes.clone())),
            timeout,
        )
    }

    /// Serves until `shutdown` is cancelled, then drains in-flight requests.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> Result<(), tonic::transport::Error> {
        let addr = listener.local_addr().ok();
        tracing::info!(?addr, "gRPC server listening");
        let result = Server::builder()
            // Traces, logs and request metrics for every call (telemetry::server).
            .layer(
                tower::ServiceBuilder::new()
                    .layer(Observe::grpc(&self.services))
                    .layer(UNDECODABLE_IS_INVALID),
            )
            .add_routes(self.routes)
            // Without TCP_NODELAY small responses wait for delayed ACKs (~40 ms).
            .serve_with_incoming_shutdown(
                TcpIncoming::from(listener).with_nodelay(Some(true)),
                shutdown.cancelled_owned(),
            )
            .await;
        tracing::info!(?addr, "gRPC server stopped");
        result
    }
}

const DESCRIPTORS: &str = "descriptor sets are valid";

/// Reflection over the whole API's descriptors that lists only `services`:
/// a port lists what it serves, not every service of the suite.
fn reflection(services: &[String]) -> tonic_reflection::server::Builder<'static> {
    services.iter().fold(
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(archive_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET),
        |builder, name| builder.with_service_name(name),
    )
}

/// The layer every server runs inside its telemetry (which so counts the
/// corrected code): see [`undecodable_is_invalid`].
const UNDECODABLE_IS_INVALID: MapResponseLayer<fn(Response<Body>) -> Response<Body>> =
    MapResponseLayer::new(undecodable_is_invalid as fn(_) -> _);

/// tonic answers a request body that is not the method's message INTERNAL
/// (prost's decode error); that is the caller's mistake, so INVALID_ARGUMENT.
/// A decode failure is always answered before the handler runs, so it is in
/// the headers of a trailers-only response.
fn undecodable_is_invalid(mut response: Response<Body>) -> Response<Body> {
    if let Some(status) = tonic::Status::from_header_map(response.headers())
        && status.code() == tonic::Code::Internal
        && status
            .message()
            .starts_with("failed to decode Protobuf message")
    {
        let invalid = tonic::Status::invalid_argument(format!(
            "the request is not the method's message: {}",
            status.message()
        ));
        // Only a header value that cannot be built fails; the old status stays then.
        let _ = invalid.add_header(response.headers_mut());
    }
    response
}

/// How long one readiness check may take: a dependency that does not answer
/// within it (a hung object store, a frozen database) counts as down, so
/// readiness turns NOT_SERVING within the check interval plus this, however
/// long the dependency's own client would wait.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Keeps the health status of `names` in step with `check` (a ping of the
/// service's database or object store): SERVING while it answers within
/// [`CHECK_TIMEOUT`], NOT_SERVING while it does not. Runs until `shutdown`.
pub fn watch_readiness<F, Fut, E>(
    health: HealthReporter,
    names: Vec<String>,
    interval: Duration,
    shutdown: CancellationToken,
    check: F,
) where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: std::fmt::Display,
{
    tokio::spawn(async move {
        let mut last: Option<bool> = None;
        loop {
            let ok = match tokio::time::timeout(CHECK_TIMEOUT, check()).await {
                Ok(Ok(())) => true,
                Ok(Err(e)) => {
                    if last != Some(false) {
                        tracing::warn!(error = %e, "dependency check failed: NOT_SERVING");
                    }
                    false
                }
                Err(_) => {
                    if last != Some(false) {
                        tracing::warn!(
                            timeout = ?CHECK_TIMEOUT,
                            "dependency check did not answer in time: NOT_SERVING"
                        );
                    }
                    false
                }
            };
            if last != Some(ok) {
                let status = if ok {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                };
                health.set_service_status("", status).await;
                for name in &names {
                    health.set_service_status(name, status).await;
                }
                last = Some(ok);
            }
            tokio::select! {
                () = shutdown.cancelled() => {
                    health.set_service_status("", ServingStatus::NotServing).await;
                    return;
                }
                () = tokio::time::sleep(interval) => {}
            }
        }
    });
}

/// Asks the standard health service at `url` (`http://host:port`) how the
/// whole server is doing.
pub async fn check_health(url: &str) -> Result<ServingStatus, String> {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let channel = tonic::transport::Endpoint::from_shared(url.to_owned())
        .map_err(|e| e.to_string())?
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map_err(|e| format!("{url}: {}", e.message()))?
        .into_inner()
        .status();
    Ok(match status {
        tonic_health::pb::health_check_response::ServingStatus::Serving => ServingStatus::Serving,
        _ => ServingStatus::NotServing,
    })
}

/// Polls [`check_health`] until SERVING, for at most `within`.
pub async fn wait_serving(url: &str, within: Duration) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let last = check_health(url).await;
        if matches!(last, Ok(ServingStatus::Serving)) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "{url} did not become SERVING within {within:?}: {last:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests;
