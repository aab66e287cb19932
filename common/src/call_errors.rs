//! What a call to another service is answered when no answer came back: the
//! one place that names transport failures, used by every channel
//! ([`crate::telemetry::client::channel`]).
//!
//! tonic names them after their cause: its client-side timeout CANCELLED
//! "Timeout expired", a GOAWAY or reset stream of a restarting server
//! RESOURCE_EXHAUSTED or INTERNAL "h2 protocol error", a dropped connection
//! UNKNOWN. None of these is the callee's answer, and each would tell the
//! caller something false (that it cancelled, that it sent too much, that
//! the callee is broken). Here a call that ran out of time is
//! DEADLINE_EXCEEDED, every other failure to get an answer UNAVAILABLE with a
//! retry hint; and a read ([`is_idempotent`]) that got no answer at all is
//! sent once more before that, so a callee that restarts behind its address
//! costs its callers nothing.

use std::{
    error::Error as StdError,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt as _, Full};
use tonic::{Code, Status, TimeoutExpired, body::Body};
use tower::{Service, ServiceExt as _};

use crate::error::{RETRY_AFTER, retry_later};

/// Methods that change nothing (reads and decisions), so a call that got no
/// answer may be sent again: a second copy cannot do anything twice.
/// Writes are not retried: a lost answer does not say the write did not
/// happen, so the caller (who holds the request id) decides.
const IDEMPOTENT: &[&str] = &[
    "/archive.v1.CallService/SearchCalls",
    "/archive.v1.CallService/GetCall",
    "/archive.v1.CallService/BatchGetRecordings",
    "/archive.v1.CallService/ListAgentRecordings",
    "/archive.v1.CallService/GetTenantSettings",
    "/archive.v1.AuthzService/Decide",
    "/archive.v1.AuthzService/BatchDecide",
    "/archive.v1.AuthzService/GetMyPermissions",
    "/archive.v1.AuthzService/GetUser",
    "/archive.v1.AuthzService/ListUsers",
    "/archive.v1.AuditService/ListEvents",
    "/archive.v1.AuditService/VerifyChain",
    "/archive.v1.AuditService/GetCheckpoint",
    "/archive.v1.AuditService/ExportTrail",
    "/archive.v1.MediaService/ReadRecording",
    "/archive.v1.MediaService/GetMediaInfo",
    "/archive.v1.MediaService/BatchGetMediaInfo",
    "/grpc.health.v1.Health/Check",
];

/// How long a retried read waits first: long enough for a new connection
/// to be made after a GOAWAY, and for a restarting callee's listener to
/// reopen in the common case, short enough that a user does not notice.
pub const RETRY_DELAY: Duration = Duration::from_millis(200);

/// Whether the gRPC method at `path` (`/package.Service/Method`) changes
/// nothing, so a call of it that got no answer may be repeated.
pub fn is_idempotent(path: &str) -> bool {
    IDEMPOTENT.contains(&path)
}

/// The status for a call to `callee` that failed for `error` (the channel's
/// or the response body's failure, never an answer of the callee):
/// DEADLINE_EXCEEDED when it ran out of time, else UNAVAILABLE with a retry
/// hint. The root cause stays in the message, for the logs.
pub fn classify(callee: &str, error: &(dyn StdError + 'static)) -> Status {
    if chain(error).any(|e| e.is::<TimeoutExpired>()) {
        return Status::deadline_exceeded(format!(
            "{callee} did not answer before the call's deadline"
        ));
    }
    let root = chain(error).last().unwrap_or(error);
    retry_later(format!(
        "{callee} is unavailable ({root}); retry in {} seconds",
        RETRY_AFTER.as_secs()
    ))
}

/// `error` and its sources, outermost first.
fn chain<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |e: &&'a (dyn StdError + 'static)| {
        (*e).source()
    })
}

/// A connection to `callee` whose failures are [`classify`]d, the response
/// body's included, and whose idempotent calls that got no answer are sent
/// once more after [`RETRY_DELAY`] (a timeout is not: the callee may still
/// be working on the first).
#[derive(Clone)]
pub struct Classified<S> {
    inner: S,
    callee: Arc<str>,
}

impl<S> Classified<S> {
    pub fn new(inner: S, callee: &str) -> Self {
        Self {
            inner,
            callee: callee.into(),
        }
    }
}

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

impl<S> Service<Request<Body>> for Classified<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Status;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Status>> + Send>>;

    /// Each call readies its own clone of the connection (cheap: a handle).
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        let callee = self.callee.clone();
        Box::pin(async move {
            if !is_idempotent(request.uri().path()) {
                return send(inner, request, &callee).await;
            }
            let (parts, body) = request.into_parts();
            // A read's request is one small message: kept to send it again.
            let body = body.collect().await?.to_bytes();
            let first = Request::from_parts(parts.clone(), full(body.clone()));
            match send(inner.clone(), first, &callee).await {
                Err(status) if status.code() == Code::Unavailable => {
                    tracing::debug!(%status, path = parts.uri.path(), "no answer; sending the read once more");
                    tokio::time::sleep(RETRY_DELAY).await;
                    send(inner, Request::from_parts(parts, full(body)), &callee).await
                }
                answer => answer,
            }
        })
    }
}

fn full(bytes: Bytes) -> Body {
    Body::new(Full::new(bytes))
}

/// One call on `inner`, its failures classified.
async fn send<S>(
    inner: S,
    request: Request<Body>,
    callee: &Arc<str>,
) -> Result<Response<Body>, Status>
where
    S: Service<Request<Body>, Response = Response<Body>>,
    S::Error: Into<BoxError>,
{
    match inner.oneshot(request).await {
        Ok(response) => {
            let callee = callee.clone();
            Ok(
                response
                    .map(|body| Body::new(body.map_err(move |e: Status| classify(&callee, &e)))),
            )
        }
        Err(e) => Err(classify(callee, &*e.into())),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn timeouts_are_deadline_exceeded_and_the_rest_unavailable() {
        let timeout: BoxError = Box::new(TimeoutExpired(()));
        let status = classify("http://a", &*timeout);
        assert_eq!(status.code(), Code::DeadlineExceeded);
        // What tonic itself makes of it, CANCELLED "Timeout expired", with
        // the timeout as its source.
        let cancelled = Status::from_error(Box::new(TimeoutExpired(())));
        assert_eq!(cancelled.code(), Code::Cancelled);
        assert_eq!(
            classify("http://a", &cancelled).code(),
            Code::DeadlineExceeded
        );

        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let status = classify("http://a", &refused);
        assert_eq!(status.code(), Code::Unavailable);
        assert!(status.message().contains("refused"), "{}", status.message());
        assert_eq!(crate::error::retry_after(&status), Some(RETRY_AFTER));
        // tonic's name for a GOAWAY with ENHANCE_YOUR_CALM.
        let exhausted = Status::resource_exhausted("h2 protocol error: connection error");
        assert_eq!(classify("http://a", &exhausted).code(), Code::Unavailable);
    }

    #[test]
    fn only_reads_are_idempotent() {
        assert!(is_idempotent("/archive.v1.CallService/SearchCalls"));
        assert!(is_idempotent("/archive.v1.AuthzService/BatchDecide"));
        assert!(is_idempotent("/archive.v1.MediaService/GetMediaInfo"));
        assert!(is_idempotent("/archive.v1.AuditService/ListEvents"));
        assert!(!is_idempotent(
            "/archive.v1.CallService/MarkRecordingsDeleted"
        ));
        assert!(!is_idempotent("/archive.v1.AuditService/AppendEvents"));
        assert!(!is_idempotent("/archive.v1.MediaService/UploadRecording"));
    }

    /// Fails its first `failures` calls with `error`, then answers 200.
    #[derive(Clone)]
    struct Flaky {
        calls: Arc<AtomicUsize>,
        failures: usize,
        error: fn() -> BoxError,
    }

    impl Service<Request<Body>> for Flaky {
        type Response = Response<Body>;
        type Error = BoxError;
        type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, BoxError>> + Send>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request<Body>) -> Self::Future {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            let (failures, error) = (self.failures, self.error);
            Box::pin(async move {
                // The body of every attempt is the whole request.
                let body = request.into_body().collect().await.unwrap().to_bytes();
                assert_eq!(&body[..], b"request");
                if n < failures {
                    Err(error())
                } else {
                    Ok(Response::new(Body::empty()))
                }
            })
        }
    }

    async fn call(
        path: &str,
        failures: usize,
        error: fn() -> BoxError,
    ) -> (Result<(), Code>, usize) {
        let calls = Arc::new(AtomicUsize::new(0));
        let flaky = Flaky {
            calls: calls.clone(),
            failures,
            error,
        };
        let request = Request::builder()
            .uri(format!("http://a{path}"))
            .body(full(Bytes::from_static(b"request")))
            .unwrap();
        let answer = Classified::new(flaky, "http://a")
            .oneshot(request)
            .await
            .map(|_| ())
            .map_err(|s| s.code());
        (answer, calls.load(Ordering::SeqCst))
    }

    fn reset() -> BoxError {
        Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset",
        ))
    }

    fn timed_out() -> BoxError {
        Box::new(TimeoutExpired(()))
    }

    #[tokio::test]
    async fn a_read_without_an_answer_is_sent_once_more() {
        let read = "/archive.v1.CallService/SearchCalls";
        assert_eq!(call(read, 1, reset).await, (Ok(()), 2));
        // Twice without an answer: UNAVAILABLE, no third try.
        assert_eq!(call(read, 2, reset).await, (Err(Code::Unavailable), 2));
        // A timeout is not repeated: the callee may still be at it.
        assert_eq!(
            call(read, 1, timed_out).await,
            (Err(Code::DeadlineExceeded), 1)
        );
    }

    #[tokio::test]
    async fn a_write_without_an_answer_is_not_repeated() {
        let write = "/archive.v1.CallService/MarkRecordingsDeleted";
        assert_eq!(call(write, 1, reset).await, (Err(Code::Unavailable), 1));
        assert_eq!(call(write, 0, reset).await, (Ok(()), 1));
    }

    fn health_check() -> tonic_health::pb::HealthCheckRequest {
        tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        }
    }

    #[tokio::test]
    async fn a_callee_that_accepts_and_never_answers_is_deadline_exceeded() {
        use tonic_health::pb::health_client::HealthClient;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        // Accepts connections and holds them, reading nothing, answering nothing.
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        let channel = crate::telemetry::client::channel(
            &url,
            Duration::from_secs(5),
            Duration::from_millis(300),
        )
        .unwrap();
        let started = std::time::Instant::now();
        let error = HealthClient::new(channel)
            .check(health_check())
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::DeadlineExceeded, "{error:?}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        held.abort();
    }

    #[tokio::test]
    async fn a_callee_that_is_not_listening_is_unavailable_with_a_hint() {
        use tonic_health::pb::health_client::HealthClient;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let channel =
            crate::telemetry::client::channel(&url, Duration::from_secs(1), Duration::from_secs(1))
                .unwrap();
        let error = HealthClient::new(channel)
            .check(health_check())
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::Unavailable, "{error:?}");
        assert!(error.message().contains(&url), "{}", error.message());
        assert_eq!(crate::error::retry_after(&error), Some(RETRY_AFTER));
    }
}
