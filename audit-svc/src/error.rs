//! The crate's one error type and its one mapping to `tonic::Status`: what
//! the client got wrong is answered as it is; every failure of a dependency
//! goes through [`dependency_failed`], so no SQL or path reaches a client and
//! a database or checkpoint store that cannot be reached is UNAVAILABLE with
//! a retry hint.

use std::sync::Arc;

use archive_common::{
    FieldViolation,
    db::SchemaError,
    error::{Dependency, dependency_failed, retry_later},
    identity::Refusal,
};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    InvalidArgument(#[from] FieldViolation),
    #[error("{0}")]
    PermissionDenied(String),
    /// The caller is not admitted to the RPC (its ACCESS_DENIED is recorded).
    #[error("{}", .0.why)]
    Refused(Refusal),
    /// A dependency (authz-svc, the append workers) cannot answer.
    #[error("{0}")]
    Unavailable(String),
    /// The batch this append was committed with failed as a whole.
    #[error("append batch failed: {0}")]
    Batch(Arc<Error>),
    /// The append's commit deadline passed before it could commit: nothing
    /// of it was appended.
    #[error("the commit deadline passed before the events were committed")]
    DeadlineExceeded,
    /// An event id of the group is in the trail for a different event (the
    /// store's refusal; the service names the request field, [`Error::AlreadyExists`]).
    #[error("event id {event_id:?} (event {index} of its group) is taken by a different event")]
    EventIdTaken { index: usize, event_id: String },
    /// The request's field names something already in the trail.
    #[error("{0}")]
    AlreadyExists(FieldViolation),
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// An option that does not apply to this database (e.g. `--grant-to` on SQLite).
    #[error("{0}")]
    Usage(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("invalid URL {url:?}: {why}")]
    Url { url: String, why: String },
    #[error("gRPC server: {0}")]
    Serve(#[from] tonic::transport::Error),

    // Checkpoints and the trail's export.
    /// Checkpoint settings: the key file, the store's location.
    #[error("checkpoints: {0}")]
    Checkpoints(String),
    /// Something to configure first (checkpoints are off).
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    NotFound(String),
    /// The trail disagrees with its signed checkpoints.
    #[error("{0}")]
    DataLoss(String),
    #[error("checkpoint store: {0}")]
    ObjectStore(#[from] object_store::Error),
    /// An export file that cannot be read as one (audit-verify).
    #[error("export: {0}")]
    Export(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// This service's key or the trust file.
    #[error("identity: {0}")]
    Identity(#[from] archive_common::IdentityError),
    /// Another process's answer to this one's gRPC call, passed on as it is.
    #[error("upstream: {0}")]
    Upstream(Status),
}

/// What the client reads when the trail's database fails.
const DATABASE: &str = "the audit database";

fn status(e: &Error) -> Status {
    match e {
        Error::InvalidArgument(v) => v.clone().into(),
        Error::PermissionDenied(m) => Status::permission_denied(m),
        Error::Refused(r) => r.clone().into(),
        Error::Upstream(status) => status.clone(),
        Error::Unavailable(m) => retry_later(m.as_str()),
        Error::Batch(inner) => status(inner),
        Error::FailedPrecondition(m) => Status::failed_precondition(m),
        Error::NotFound(m) => Status::not_found(m),
        Error::DataLoss(m) => Status::data_loss(m),
        Error::DeadlineExceeded => Status::deadline_exceeded(e.to_string()),
        Error::AlreadyExists(v) => Status::with_error_details(
            Code::AlreadyExists,
            v.to_string(),
            ErrorDetails::with_bad_request_violation(v.field.clone(), v.description.clone()),
        ),
        Error::EventIdTaken { .. } => Status::already_exists(e.to_string()),
        Error::Database(e) => dependency_failed(DATABASE, &Dependency::Database(e)),
        Error::Schema(_) | Error::Migrate(_) => dependency_failed(DATABASE, &Dependency::Other(e)),
        Error::ObjectStore(e) => {
            dependency_failed("the checkpoint store", &Dependency::ObjectStore(e))
        }
        Error::Checkpoints(_) => dependency_failed("the checkpoints", &Dependency::Other(e)),
        Error::Io(_) | Error::Export(_) => {
            dependency_failed("the trail's files", &Dependency::Other(e))
        }
        Error::Serve(_) => dependency_failed("the gRPC server", &Dependency::Other(e)),
        Error::Identity(_) => dependency_failed("the service identity", &Dependency::Other(e)),
        Error::Usage(_) | Error::Url { .. } => {
            dependency_failed("the service's settings", &Dependency::Other(e))
        }
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        status(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_outage_is_unavailable_and_a_mistake_internal() {
        let reset = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed");
        for down in [sqlx::Error::PoolTimedOut, sqlx::Error::Io(reset)] {
            let status = Status::from(Error::Database(down));
            assert_eq!(status.code(), Code::Unavailable);
            assert!(archive_common::error::retry_after(&status).is_some());
        }
        // Also when it failed a whole append batch.
        let batch = Error::Batch(Arc::new(Error::Database(sqlx::Error::PoolTimedOut)));
        assert_eq!(Status::from(batch).code(), Code::Unavailable);
        let status = Status::from(Error::Database(sqlx::Error::RowNotFound));
        assert_eq!(status.code(), Code::Internal);
    }

    #[test]
    fn no_internal_text_reaches_the_client() {
        let secret = "secret: /var/lib/audit";
        for e in [
            Error::Database(sqlx::Error::Protocol(secret.into())),
            Error::Checkpoints(secret.into()),
            Error::Export(secret.into()),
            Error::Batch(Arc::new(Error::Usage(secret.into()))),
        ] {
            let status = Status::from(e);
            assert_eq!(status.code(), Code::Internal);
            assert!(!status.message().contains("secret"), "{}", status.message());
        }
    }
}
