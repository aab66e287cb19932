//! The crate's one error type and its one mapping to `tonic::Status`: what
//! the client got wrong is answered as it is; every failure of a dependency
//! goes through [`dependency_failed`], so no SQL or path reaches a client and
//! a database that cannot be reached is UNAVAILABLE with a retry hint.

use archive_common::{
    FieldViolation,
    error::{Dependency, dependency_failed},
    identity::Refusal,
};
use tonic::Status;

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
    /// The caller is not admitted to the RPC (its ACCESS_DENIED is recorded).
    #[error("{}", .0.why)]
    Refused(Refusal),
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
    /// Another process's answer to this one's gRPC call, passed on as it is.
    #[error("upstream: {0}")]
    Upstream(tonic::Status),
    /// This service's key or the trust file.
    #[error("identity: {0}")]
    Identity(#[from] archive_common::IdentityError),
}

/// What the client reads when the users' database fails.
const DATABASE: &str = "the permissions database";

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidArgument(v) => v.into(),
            Error::PermissionDenied(m) => Status::permission_denied(m),
            Error::NotFound(m) => Status::not_found(m),
            Error::AlreadyExists(m) => Status::already_exists(m),
            Error::FailedPrecondition(m) => Status::failed_precondition(m),
            Error::Refused(r) => r.into(),
            Error::Upstream(status) => status,
            Error::Database(e) => dependency_failed(DATABASE, &Dependency::Database(&e)),
            Error::Schema(e) => dependency_failed(DATABASE, &Dependency::Other(&e)),
            Error::AuditClient(e) => dependency_failed("the audit trail", &Dependency::Other(&e)),
            Error::Serve(e) => dependency_failed("the gRPC server", &Dependency::Other(&e)),
            Error::Identity(e) => dependency_failed("the service identity", &Dependency::Other(&e)),
            Error::Bootstrap { .. } | Error::GrantNeedsPostgres => {
                dependency_failed("the service's settings", &Dependency::Other(&e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;

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

    #[test]
    fn no_internal_text_reaches_the_client() {
        let secret = "SELECT secret FROM users";
        for e in [
            Error::Database(sqlx::Error::Protocol(secret.into())),
            Error::Bootstrap {
                entry: secret.into(),
                why: secret.into(),
            },
        ] {
            let status = Status::from(e);
            assert_eq!(status.code(), Code::Internal);
            assert!(!status.message().contains("secret"), "{}", status.message());
        }
    }
}
