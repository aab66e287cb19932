//! archive-svc's errors and their one mapping to gRPC status.

use archive_common::FieldViolation;
use tonic::Status;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    InvalidArgument(#[from] FieldViolation),
    #[error("{0} not found")]
    NotFound(String),
    /// The caller may not make this request (whatever its fields say).
    #[error("{0}")]
    PermissionDenied(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("serving: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// `audit_url` cannot be used.
    #[error("audit-svc client: {0}")]
    AuditClient(#[from] audit_svc::Error),
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidArgument(v) => v.into(),
            Error::NotFound(what) => Status::not_found(format!("{what} not found")),
            Error::PermissionDenied(why) => Status::permission_denied(why),
            Error::Store(StoreError::Database(sqlx::Error::PoolTimedOut)) => {
                Status::unavailable("the call database is not answering")
            }
            Error::Store(e) => {
                tracing::error!(error = %e, "store failure");
                Status::internal("the call archive failed to answer")
            }
            Error::Transport(e) => Status::internal(e.to_string()),
            Error::AuditClient(e) => Status::internal(e.to_string()),
        }
    }
}
