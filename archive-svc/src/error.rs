//! archive-svc's errors and their one mapping to gRPC status. Every failure
//! of what the service depends on (database, transport, audit-svc client)
//! goes through [`dependency_failed`]: UNAVAILABLE with a retry hint when the
//! database cannot be reached, INTERNAL otherwise, never the error's own text.

use archive_common::{
    FieldViolation,
    error::{Dependency, dependency_failed},
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
    /// The access check's refusal ([`audit_svc::gate::Gate`]), as it is.
    #[error("refused: {0}")]
    Refused(#[from] Status),
    /// Another process's answer to this one's gRPC call, passed on as it is.
    #[error("upstream: {0}")]
    Upstream(Status),
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

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidArgument(v) => v.into(),
            Error::NotFound(what) => Status::not_found(format!("{what} not found")),
            Error::PermissionDenied(why) => Status::permission_denied(why),
            Error::Refused(status) | Error::Upstream(status) => status,
            Error::Store(StoreError::Database(e)) => {
                dependency_failed("the call database", &Dependency::Database(&e))
            }
            Error::Store(
                e @ (StoreError::Schema(_)
                | StoreError::GrantNeedsPostgres
                | StoreError::Corrupt(_)),
            ) => dependency_failed("the call archive", &Dependency::Other(&e)),
            Error::Transport(e) => {
                dependency_failed("archive-svc's transport", &Dependency::Other(&e))
            }
            Error::AuditClient(e) => {
                dependency_failed("the audit-svc client", &Dependency::Other(&e))
            }
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

    #[test]
    fn no_internal_text_reaches_the_client() {
        let secret = "password=hunter2 at db.internal:5432";
        let failures = [
            Error::Store(StoreError::Database(sqlx::Error::Protocol(secret.into()))),
            Error::Store(StoreError::Corrupt(secret.into())),
            Error::AuditClient(audit_svc::Error::Unavailable(secret.into())),
        ];
        for failure in failures {
            let status = Status::from(failure);
            assert_eq!(status.code(), Code::Internal);
            assert!(
                !status.message().contains("hunter2"),
                "{}",
                status.message()
            );
        }
    }
}
