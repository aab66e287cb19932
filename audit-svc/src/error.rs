//! The crate's one error type and its one mapping to `tonic::Status`.
//! Database and transport failures are logged here and answered without
//! their text, so no SQL reaches a client.

use std::sync::Arc;

use archive_common::FieldViolation;
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    InvalidArgument(#[from] FieldViolation),
    #[error("{0}")]
    PermissionDenied(String),
    /// A dependency (authz-svc, the append workers) cannot answer.
    #[error("{0}")]
    Unavailable(String),
    /// The batch this append was committed with failed as a whole.
    #[error("append batch failed: {0}")]
    Batch(Arc<Error>),
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
}

fn status(e: &Error) -> Status {
    match e {
        Error::InvalidArgument(v) => v.clone().into(),
        Error::PermissionDenied(m) => Status::permission_denied(m),
        Error::Unavailable(m) => Status::unavailable(m),
        Error::Batch(inner) => status(inner),
        Error::FailedPrecondition(m) => Status::failed_precondition(m),
        Error::NotFound(m) => Status::not_found(m),
        Error::DataLoss(m) => Status::data_loss(m),
        Error::ObjectStore(e) => {
            tracing::error!(error = %e, "checkpoint store error");
            Status::unavailable("the checkpoint store is unavailable")
        }
        Error::Database(db) => {
            tracing::error!(error = %db, "database error");
            if matches!(
                db,
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
            ) {
                Status::unavailable("the audit database is unavailable")
            } else {
                Status::internal("internal error")
            }
        }
        other => {
            tracing::error!(error = %other, "internal error");
            Status::internal("internal error")
        }
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        status(&e)
    }
}
