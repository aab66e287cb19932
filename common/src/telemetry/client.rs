//! Outgoing gRPC calls: every channel a service opens to another goes
//! through [`Traced`], which opens a client span under the current request's
//! span and sends its context as `traceparent`, so the callee's server span
//! joins the caller's trace.

use std::{
    task::{Context, Poll},
    time::Duration,
};

use http::Request;
use tonic::transport::{Channel, Endpoint};
use tower::Service;
use tracing::{Instrument as _, instrument::Instrumented};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// A channel whose calls carry the trace context.
pub type TracedChannel = Traced<Channel>;

/// A lazily connecting channel to `url` (the service may start after its
/// caller), with explicit connect and per-call timeouts.
pub fn channel(
    url: &str,
    connect_timeout: Duration,
    timeout: Duration,
) -> Result<TracedChannel, tonic::transport::Error> {
    let channel = Endpoint::from_shared(url.to_owned())?
        .connect_timeout(connect_timeout)
        .timeout(timeout)
        .tcp_nodelay(true)
        .connect_lazy();
    Ok(Traced::new(channel))
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
