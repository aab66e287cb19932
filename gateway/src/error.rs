//! The gateway's errors and their one mapping to gRPC status. Upstream
//! statuses pass through unchanged: they already name the field or the
//! missing resource, and another tenant's ids are NOT_FOUND there too —
//! except an upstream that did not answer (see `archive_common::call_errors`)
//! or cannot answer now: UNAVAILABLE naming the service, with a retry hint,
//! or DEADLINE_EXCEEDED when its time ran out; logged once per service and
//! interval however many requests fail alike.

use archive_common::{
    FieldViolation,
    error::unavailable,
    log_limit::{EVERY, LogLimit},
};
use tonic::{Code, Status};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    InvalidArgument(#[from] FieldViolation),
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// Outside the user's search scope: not theirs to find, answered as an
    /// id that does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{service}: {status}")]
    Upstream {
        service: &'static str,
        status: Status,
    },
    /// A status decided here, passed to the client as is.
    #[error("{0}")]
    Status(Status),
    #[error("configuration: {0}")]
    Config(String),
    #[error("serving: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Tags an upstream failure with the service that answered it.
    pub fn upstream(service: &'static str) -> impl FnOnce(Status) -> Self {
        move |status| Self::Upstream { service, status }
    }
}

/// In an outage every request fails alike: one line per service and interval.
static UPSTREAM_FAILED: LogLimit = LogLimit::new(EVERY);

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidArgument(v) => v.into(),
            Error::PermissionDenied(why) => Status::permission_denied(why),
            Error::NotFound(what) => Status::not_found(what),
            Error::Status(status) => status,
            Error::Upstream { service, status } => match status.code() {
                // No answer, or the service cannot answer now (its database
                // is down): the same to the user, who may retry.
                Code::Unavailable | Code::Unknown | Code::Cancelled => {
                    if let Some(repeated) = UPSTREAM_FAILED.admit(service) {
                        tracing::warn!(service, %status, repeated, "upstream unavailable");
                    }
                    unavailable(service)
                }
                Code::DeadlineExceeded => {
                    if let Some(repeated) = UPSTREAM_FAILED.admit(service) {
                        tracing::warn!(service, %status, repeated, "upstream did not answer in time");
                    }
                    Status::deadline_exceeded(format!("{service} did not answer in time"))
                }
                _ => status,
            },
            other @ (Error::Config(_) | Error::Transport(_) | Error::Io(_)) => {
                tracing::error!(error = %other, "gateway failure");
                Status::internal("the gateway failed to answer")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn through_gateway(status: Status) -> Status {
        Error::upstream("archive-svc")(status).into()
    }

    #[test]
    fn an_upstream_without_an_answer_is_unavailable_or_out_of_time() {
        for no_answer in [
            Status::unavailable("http://a is unavailable (connection refused)"),
            Status::unknown("transport error"),
            Status::cancelled("h2 protocol error"),
        ] {
            let status = through_gateway(no_answer);
            assert_eq!(status.code(), Code::Unavailable);
            assert!(status.message().starts_with("archive-svc is unavailable"));
            assert!(archive_common::error::retry_after(&status).is_some());
        }
        let late = through_gateway(Status::deadline_exceeded("no answer"));
        assert_eq!(late.code(), Code::DeadlineExceeded);
        assert!(late.message().contains("archive-svc"));
        // The upstream's own answers pass through.
        let missing = through_gateway(Status::not_found("call x not found"));
        assert_eq!(
            (missing.code(), missing.message()),
            (Code::NotFound, "call x not found")
        );
    }
}
