//! The tower layer every server runs its requests through, gRPC and HTTP
//! alike: it continues the caller's trace (W3C `traceparent`) in a request
//! span whose `trace_id` every log line of the request carries, and records
//! the request metrics — count by outcome, latency, requests in flight
//! (active streams) and response bytes sent. A streamed response is measured
//! until its last byte or until the client goes away, so a download's
//! duration is the download's, not the time to its first byte.
//!
//! Labels are bounded whatever a client sends: gRPC services outside the
//! server's own list and unimplemented methods count as `unknown`; HTTP
//! requests are labelled by their route pattern, never the raw path.

mod instruments;

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame, SizeHint};
use opentelemetry::trace::TraceContextExt as _;
use tower::{Layer, Service};
use tracing::{Span, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use self::instruments::{HttpSeries, RpcSeries};
use crate::metrics::Gauge;

/// A response extension for a server that writes the body itself rather than
/// polling it (media-svc sends local files with `sendfile(2)`): the layer
/// counts these bytes as sent and the response as complete when the headers
/// are ready, so for such answers the measured duration ends there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SentOutOfBand(pub u64);

/// The layer: [`Observe::grpc`] for a tonic server, [`Observe::http`] for an axum router.
#[derive(Clone, Debug)]
pub struct Observe {
    protocol: Protocol,
}

#[derive(Clone, Debug)]
enum Protocol {
    Grpc { services: Arc<[String]> },
    Http { server: &'static str },
}

impl Observe {
    /// For a gRPC server hosting `services` (fully-qualified names).
    pub fn grpc<S: AsRef<str>>(services: &[S]) -> Self {
        let services = services.iter().map(|s| s.as_ref().to_owned()).collect();
        Self {
            protocol: Protocol::Grpc { services },
        }
    }

    /// For the HTTP server called `server` (a metrics label).
    pub fn http(server: &'static str) -> Self {
        Self {
            protocol: Protocol::Http { server },
        }
    }
}

impl<S> Layer<S> for Observe {
    type Service = Observed<S>;

    fn layer(&self, inner: S) -> Observed<S> {
        Observed {
            inner,
            protocol: self.protocol.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Observed<S> {
    inner: S,
    protocol: Protocol,
}

impl<S, B, RB> Service<Request<B>> for Observed<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    RB: Body,
{
    type Response = Response<ObservedBody<RB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let outcome = Outcome::start(&self.protocol, &request);
        let inner = outcome.span.in_scope(|| self.inner.call(request));
        ResponseFuture {
            inner,
            outcome: Some(outcome),
        }
    }
}

pin_project_lite::pin_project! {
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        outcome: Option<Outcome>,
    }
}

impl<F, RB, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<RB>, E>>,
    RB: Body,
{
    type Output = Result<Response<ObservedBody<RB>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let span = this.outcome.as_ref().map(|o| o.span.clone());
        let _entered = span.as_ref().map(Span::enter);
        let result = std::task::ready!(this.inner.poll(cx));
        let mut outcome = this.outcome.take().expect("polled after completion");
        Poll::Ready(match result {
            Ok(response) => {
                outcome.headers(response.status(), response.headers());
                if let Some(SentOutOfBand(bytes)) = response.extensions().get() {
                    outcome.sent += bytes;
                    outcome.complete = true;
                }
                Ok(response.map(|inner| {
                    // An empty body (HEAD, errors) may never be polled at all.
                    if inner.is_end_stream() {
                        outcome.complete = true;
                    }
                    ObservedBody {
                        inner,
                        outcome: Some(outcome),
                    }
                }))
            }
            Err(e) => {
                outcome.failed();
                Err(e)
            }
        })
    }
}

pin_project_lite::pin_project! {
    /// The response body, counted as it goes; its end (or drop) completes the request.
    pub struct ObservedBody<B> {
        #[pin]
        inner: B,
        outcome: Option<Outcome>,
    }
}

impl<B: Body> Body for ObservedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let span = this.outcome.as_ref().map(|o| o.span.clone());
        let _entered = span.as_ref().map(Span::enter);
        let mut inner = this.inner;
        let polled = std::task::ready!(inner.as_mut().poll_frame(cx));
        if let Some(outcome) = this.outcome.as_mut() {
            match &polled {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        outcome.sent += bytes::Buf::remaining(data) as u64;
                    } else if let Some(trailers) = frame.trailers_ref() {
                        outcome.headers(http::StatusCode::OK, trailers);
                    }
                }
                Some(Err(_)) => outcome.failed(),
                None => outcome.complete = true,
            }
            // Servers stop polling once a body says it has ended.
            if inner.is_end_stream() {
                outcome.complete = true;
            }
            if outcome.complete {
                // Recorded now: the body value may outlive the response.
                this.outcome.take();
            }
        }
        Poll::Ready(polled)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

enum Series {
    /// A gRPC method whose series is known (or a service not hosted here).
    Rpc(Arc<RpcSeries>),
    /// A hosted service's method that has not answered yet: its series is
    /// made and kept once it answers with anything but UNIMPLEMENTED.
    NewRpc {
        path: Box<str>,
        in_flight: Gauge,
    },
    Http(Arc<HttpSeries>),
}

/// `/service/method` split in two (empty strings when it is not that shape).
fn service_and_method(path: &str) -> (&str, &str) {
    path.trim_start_matches('/')
        .split_once('/')
        .unwrap_or(("", ""))
}

/// One request in progress; recorded when dropped.
struct Outcome {
    span: Span,
    started: Instant,
    series: Series,
    /// The gRPC status code or the HTTP status, once known.
    code: Option<Code>,
    sent: u64,
    /// The response ended as the server meant it to (not cut off by the client).
    complete: bool,
}

/// How a request ended, as the metrics label it.
#[derive(Clone, Copy)]
enum Code {
    Grpc(tonic::Code),
    Http(http::StatusCode),
    /// The body failed after the head went out.
    Error,
}

impl Outcome {
    fn start<B>(protocol: &Protocol, request: &Request<B>) -> Self {
        let parent = super::extract_context(request.headers());
        let (span, series) = match protocol {
            Protocol::Grpc { services } => {
                let path = request.uri().path();
                let (service, method) = service_and_method(path);
                let known = services.iter().any(|s| s == service);
                let span = tracing::info_span!(
                    "grpc.server",
                    otel.name = path,
                    otel.kind = "server",
                    otel.status_code = Empty,
                    rpc.system = "grpc",
                    rpc.service = service,
                    rpc.method = method,
                    rpc.grpc.status_code = Empty,
                    trace_id = Empty,
                );
                let series = if !known {
                    Series::Rpc(instruments::unknown_service_series())
                } else if let Some(series) = instruments::cached_rpc_series(path) {
                    Series::Rpc(series)
                } else {
                    Series::NewRpc {
                        path: path.into(),
                        in_flight: instruments::rpc_in_flight(service),
                    }
                };
                (span, series)
            }
            Protocol::Http { server } => {
                let route = request
                    .extensions()
                    .get::<axum::extract::MatchedPath>()
                    .map_or("unmatched", |p| p.as_str());
                let method = request.method();
                let method = if is_standard(method) {
                    method.as_str()
                } else {
                    "other"
                };
                let span = tracing::info_span!(
                    "http.server",
                    otel.name = format!("{method} {route}"),
                    otel.kind = "server",
                    otel.status_code = Empty,
                    http.request.method = method,
                    http.route = route,
                    http.response.status_code = Empty,
                    trace_id = Empty,
                );
                (
                    span,
                    Series::Http(instruments::http_series(server, route, method)),
                )
            }
        };
        let _ = span.set_parent(parent);
        let trace_id = span.context().span().span_context().trace_id();
        if trace_id != opentelemetry::trace::TraceId::INVALID {
            span.record("trace_id", tracing::field::display(trace_id));
        }
        match &series {
            Series::Rpc(series) => series.in_flight.inc(),
            Series::NewRpc { in_flight, .. } => in_flight.inc(),
            Series::Http(series) => series.in_flight.inc(),
        };
        Self {
            span,
            started: Instant::now(),
            series,
            code: None,
            sent: 0,
            complete: false,
        }
    }

    /// Status from response headers or trailers (gRPC puts it in either).
    fn headers(&mut self, status: http::StatusCode, headers: &HeaderMap) {
        match self.series {
            Series::Rpc(_) | Series::NewRpc { .. } => {
                if let Some(code) = headers.get("grpc-status").and_then(|v| v.to_str().ok()) {
                    let code = tonic::Code::from(code.parse::<i32>().unwrap_or(2));
                    self.code = Some(Code::Grpc(code));
                    self.span.record("rpc.grpc.status_code", code as i32);
                    if is_server_fault(code) {
                        self.span.record("otel.status_code", "ERROR");
                    }
                }
            }
            Series::Http(_) => {
                if self.code.is_none() {
                    self.code = Some(Code::Http(status));
                    self.span
                        .record("http.response.status_code", status.as_u16());
                    if status.is_server_error() {
                        self.span.record("otel.status_code", "ERROR");
                    }
                }
            }
        }
    }

    /// The handler or the body failed; a body failing after its headers went
    /// out counts as `error`, not as the status those headers carried.
    fn failed(&mut self) {
        self.complete = true;
        match self.series {
            Series::Rpc(_) | Series::NewRpc { .. } => {
                self.code.get_or_insert(Code::Grpc(tonic::Code::Unknown));
            }
            Series::Http(_) => self.code = Some(Code::Error),
        }
        self.span.record("otel.status_code", "ERROR");
    }
}

impl Drop for Outcome {
    fn drop(&mut self) {
        let seconds = self.started.elapsed().as_secs_f64();
        // The client went away before a gRPC status was sent: CANCELLED.
        let code = match self.code {
            Some(Code::Grpc(code)) => code,
            _ => tonic::Code::Cancelled,
        };
        let unimplemented = code == tonic::Code::Unimplemented;
        let rpc = match &self.series {
            Series::Rpc(series) => {
                series.in_flight.dec();
                Some(if unimplemented {
                    instruments::unimplemented_series(&series.labels.service)
                } else {
                    series.clone()
                })
            }
            Series::NewRpc { path, in_flight } => {
                in_flight.dec();
                let (service, method) = service_and_method(path);
                Some(if unimplemented {
                    instruments::unimplemented_series(service)
                } else {
                    instruments::rpc_series(path, service, method)
                })
            }
            Series::Http(_) => None,
        };
        if let Some(series) = rpc {
            series.seconds.observe(seconds);
            series.sent.inc_by(self.sent);
            series.handled(code_name(code)).inc();
        }
        if let Series::Http(series) = &self.series {
            series.in_flight.dec();
            series.seconds.observe(seconds);
            series.sent.inc_by(self.sent);
            // A body the client stopped reading is told apart from a finished one.
            let mut digits = [0u8; 3];
            let status = match self.code {
                _ if !self.complete => "aborted",
                Some(Code::Http(status)) => status_digits(status, &mut digits),
                Some(Code::Error) => "error",
                Some(Code::Grpc(_)) | None => "500",
            };
            series.handled(status).inc();
        }
    }
}

/// The code's name as tonic spells it (`Ok`, `InvalidArgument`, …).
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "Ok",
        Code::Cancelled => "Cancelled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// `status` as its three digits, without allocating.
fn status_digits(status: http::StatusCode, digits: &mut [u8; 3]) -> &str {
    let n = status.as_u16();
    *digits = [
        b'0' + (n / 100 % 10) as u8,
        b'0' + (n / 10 % 10) as u8,
        b'0' + (n % 10) as u8,
    ];
    std::str::from_utf8(digits).unwrap_or("500")
}

fn is_standard(method: &http::Method) -> bool {
    use http::Method;
    [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
    ]
    .contains(method)
}

/// The codes OpenTelemetry's semantic conventions count as server errors.
fn is_server_fault(code: tonic::Code) -> bool {
    use tonic::Code;
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

#[cfg(test)]
mod tests;
