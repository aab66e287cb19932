//! Outgoing gRPC calls: every channel a service opens to another goes
//! through [`Traced`], which opens a client span under the current request's
//! span and sends its context as `traceparent`, so the callee's server span
//! joins the caller's trace.
//!
//! A channel reaches the other service either over a connection to its
//! address ([`channel`]) or, when both run in one process (embedded mode),
//! through that service's own server stack called directly ([`in_process`]):
//! the same generated client and server, codec, identity check and server
//! telemetry, without HTTP/2 framing and a loopback socket in between.

use std::{
    task::{Context, Poll},
    time::Duration,
};

use http::{Request, Response};
use tonic::{
    Status,
    body::Body,
    transport::{Endpoint, channel::Channel as Connection},
};
use tower::{
    BoxError, Service, ServiceExt as _, timeout::error::Elapsed, util::BoxCloneSyncService,
};
use tracing::{Instrument as _, instrument::Instrumented};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::call_errors::Classified;

/// How a client reaches a service: a connection, or the service in this process.
/// Failures to reach the service come back as the `Status` tonic would make
/// of them.
pub type Channel = BoxCloneSyncService<Request<Body>, Response<Body>, Status>;

/// A channel whose calls carry the trace context.
pub type TracedChannel = Traced<Channel>;

/// A lazily connecting channel to `url` (the service may start after its
/// caller), with explicit connect and per-call timeouts. A call that gets no
/// answer fails DEADLINE_EXCEEDED (its timeout passed) or UNAVAILABLE, and a
/// read is sent once more first (see [`crate::call_errors`]).
pub fn channel(
    url: &str,
    connect_timeout: Duration,
    timeout: Duration,
) -> Result<TracedChannel, tonic::transport::Error> {
    let connection: Connection = Endpoint::from_shared(url.to_owned())?
        .connect_timeout(connect_timeout)
        .timeout(timeout)
        .tcp_nodelay(true)
        .connect_lazy();
    Ok(Traced::new(BoxCloneSyncService::new(Classified::new(
        connection, url,
    ))))
}

/// A channel that calls `server` (a service's whole gRPC stack: routes,
/// interceptors, server telemetry) in the caller's task. A call that has no
/// answer within `timeout` fails with DEADLINE_EXCEEDED, as a call over a
/// connection fails after its timeout.
pub fn in_process<S, B>(server: S, timeout: Duration) -> TracedChannel
where
    S: Service<Request<Body>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let server = tower::timeout::Timeout::new(server.map_response(|r| r.map(Body::new)), timeout)
        .map_err(move |e: BoxError| {
            if e.is::<Elapsed>() {
                Status::deadline_exceeded(format!(
                    "no answer from the in-process service within {timeout:?}"
                ))
            } else {
                Status::from_error(e)
            }
        });
    Traced::new(BoxCloneSyncService::new(server))
}

#[derive(Clone, Debug)]
pub struct Traced<S> {
    inner: S,
}

impl<S> Traced<S> {
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

impl<S, B> Service<Request<B>> for Traced<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Instrumented<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let path = request.uri().path();
        let (service, method) = path
            .trim_start_matches('/')
            .split_once('/')
            .unwrap_or(("", ""));
        let span = tracing::info_span!(
            "grpc.client",
            otel.name = path,
            otel.kind = "client",
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
        );
        super::inject_context(&span.context(), request.headers_mut());
        let future = span.in_scope(|| self.inner.call(request));
        future.instrument(span)
    }
}
