//! The gateway's errors and their one mapping to gRPC status. Upstream
//! statuses pass through unchanged: they already name the field or the
//! missing resource, and another tenant's ids are NOT_FOUND there too.

use archive_common::FieldViolation;
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    InvalidArgument(#[from] FieldViolation),
    #[error("permission denied: {0}")]
    PermissionDenied(String),
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

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidArgument(v) => v.into(),
            Error::PermissionDenied(why) => Status::permission_denied(why),
            Error::Status(status) => status,
            Error::Upstream { service, status } => match status.code() {
                tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::DeadlineExceeded => {
                    tracing::warn!(service, %status, "upstream unavailable");
                    Status::unavailable(format!("{service} is unavailable, try again shortly"))
                }
                _ => status,
            },
            other => {
                tracing::error!(error = %other, "gateway failure");
                Status::internal("the gateway failed to answer")
            }
        }
    }
}
