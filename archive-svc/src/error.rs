//! archive-svc's errors and their one mapping to gRPC status. A database
//! that cannot be reached ([`db::is_unavailable`]) is UNAVAILABLE with a
//! retry hint, logged once per interval however many requests fail on it.

use archive_common::{
    FieldViolation, db,
    log_limit::{EVERY, LogLimit},
};
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
    /// This service's key or the trust file.
    #[error("identity: {0}")]
    Identity(#[from] archive_common::IdentityError),
}

/// Every request fails the same way while the database is down.
static DATABASE_DOWN: LogLimit = LogLimit::new(EVERY);

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidArgument(v) => v.into(),
            Error::NotFound(what) => Status::not_found(format!("{what} not found")),
            Error::PermissionDenied(why) => Status::permission_denied(why),
            Error::Store(StoreError::Database(e)) if db::is_unavailable(&e) => {
                if let Some(repeated) = DATABASE_DOWN.admit("database") {
                    tracing::warn!(error = %e, repeated, "call database unavailable");
                }
                archive_common::error::unavailable("the call database")
            }
            Error::Store(e) => {
                tracing::error!(error = %e, "store failure");
                Status::internal("the call archive failed to answer")
            }
            Error::Transport(e) => Status::internal(e.to_string()),
            Error::AuditClient(e) => Status::internal(e.to_string()),
            Error::Identity(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

    use super::*;

    #[test]
    fn a_database_outage_is_unavailable_and_a_broken_row_internal() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        for down in [sqlx::Error::PoolTimedOut, sqlx::Error::Io(refused)] {
            let status = Status::from(Error::Store(StoreError::Database(down)));
            assert_eq!(status.code(), Code::Unavailable);
            assert!(archive_common::error::retry_after(&status).is_some());
        }
        let corrupt = Status::from(Error::Store(StoreError::Corrupt("x".into())));
        assert_eq!(corrupt.code(), Code::Internal);
        let missing = Status::from(Error::Store(StoreError::Database(sqlx::Error::RowNotFound)));
        assert_eq!(missing.code(), Code::Internal);
    }
}
