//! The crate's one error type and its one mapping to `tonic::Status`.
//! Database and transport failures are logged here and answered without
//! their text, so no SQL reaches a client; a database that cannot be reached
//! ([`db::is_unavailable`]) is UNAVAILABLE with a retry hint.

use archive_common::{
    FieldViolation, db,
    error::unavailable,
    log_limit::{EVERY, LogLimit},
};
use tonic::{Code, Status};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    InvalidArgument(#[from] FieldViolation),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    FailedPrecondition(String),
    /// A `--bootstrap-admin` entry that cannot be used.
    #[error("bootstrap admin {entry:?}: {why}")]
    Bootstrap { entry: String, why: String },
    /// `audit_url` cannot be used.
    #[error("audit client: {0}")]
    AuditClient(#[from] audit_svc::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema step failed, or the schema is behind (`authz-svc migrate`).
    #[error(transparent)]
    Schema(#[from] archive_common::db::SchemaError),
    #[error("--grant-to needs PostgreSQL: SQLite has no roles")]
    GrantNeedsPostgres,
    #[error("gRPC server: {0}")]
    Serve(#[from] tonic::transport::Error),
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
            Error::PermissionDenied(m) => Status::permission_denied(m),
            Error::NotFound(m) => Status::not_found(m),
            Error::AlreadyExists(m) => Status::already_exists(m),
            Error::FailedPrecondition(m) => Status::failed_precondition(m),
            Error::Database(e) if db::is_unavailable(&e) => {
                if let Some(repeated) = DATABASE_DOWN.admit("database") {
                    tracing::warn!(error = %e, repeated, "permissions database unavailable");
                }
                unavailable("the permissions database")
            }
            Error::Database(e) => {
                tracing::error!(error = %e, "database error");
                Status::internal("internal error")
            }
            other => {
                tracing::error!(error = %other, "internal error");
                Status::new(Code::Internal, "internal error")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_outage_is_unavailable_and_a_mistake_internal() {
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        for down in [sqlx::Error::PoolTimedOut, sqlx::Error::Io(reset)] {
            let status = Status::from(Error::Database(down));
            assert_eq!(status.code(), Code::Unavailable);
            assert!(archive_common::error::retry_after(&status).is_some());
        }
        let status = Status::from(Error::Database(sqlx::Error::RowNotFound));
        assert_eq!(status.code(), Code::Internal);
    }
}
