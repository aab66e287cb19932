//! The crate's one error type and its one mapping to `tonic::Status`. Store,
//! I/O and transport failures go through the suite's one rule
//! (`dependency_failed`): an object store that fails is UNAVAILABLE with a
//! retry hint, the rest INTERNAL, logged once per interval however many
//! requests fail alike, and never answered with their own text.

use archive_common::{
    FieldViolation,
    error::{Dependency, dependency_failed},
};
use tonic::Status;

use crate::mp3::Mp3Error;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Invalid(#[from] FieldViolation),
    #[error("not MPEG audio Layer III: {0}")]
    NotMp3(#[from] Mp3Error),
    #[error("recording {0} not found")]
    NotFound(String),
    /// An upload of a recording whose deletion is not confirmed yet.
    #[error("recording {0} is deleted")]
    Deleted(String),
    /// A read stopped half way: the recording was deleted meanwhile (or,
    /// over HTTP, the grant it was read under expired).
    #[error("the recording was deleted while it was being read")]
    Revoked,
    /// Started with an archive-svc URL and not yet through the deletions
    /// queued there (see `tombstones`).
    #[error("media-svc is reading the deletions queued while it was down; retry shortly")]
    Unsettled,
    #[error("recording {0} already exists with different content")]
    AlreadyExists(String),
    #[error("the upload exceeds the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("{0}")]
    OutOfRange(String),
    #[error("another upload of recording {0} is in progress; retry later")]
    UploadInProgress(String),
    #[error("the upload stream failed: {0}")]
    Client(Status),
    /// An answer decided elsewhere and passed on as it is: the access
    /// gate's refusal, audit-svc's or archive-svc's failure to record.
    #[error("{0}")]
    Passed(Status),
    #[error(
        "recording {0} is not in the archive (ingest its call first: IngestCall names the recordings to upload); the file was not kept"
    )]
    NotInArchive(String),
    #[error("metadata of recording {id} is unreadable: {reason}")]
    CorruptSidecar { id: String, reason: String },
    #[error("object store: {0}")]
    Store(object_store::Error),
    #[error("configuration: {0}")]
    Config(String),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Every object-store failure that reaches a caller is counted on its way.
impl From<object_store::Error> for Error {
    fn from(e: object_store::Error) -> Self {
        crate::metrics::METRICS.object_store_error(&e);
        Error::Store(e)
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid(v) => v.into(),
            Error::NotMp3(m) => {
                FieldViolation::new("chunk", format!("not MPEG audio Layer III: {m}")).into()
            }
            Error::NotFound(_) | Error::Revoked | Error::NotInArchive(_) => {
                Status::not_found(e.to_string())
            }
            Error::Deleted(_) => Status::failed_precondition(e.to_string()),
            Error::Unsettled => Status::unavailable(e.to_string()),
            Error::AlreadyExists(_) => Status::already_exists(e.to_string()),
            Error::TooLarge { .. } => Status::resource_exhausted(e.to_string()),
            Error::OutOfRange(m) => Status::out_of_range(m),
            Error::UploadInProgress(_) => Status::aborted(e.to_string()),
            Error::Client(status) | Error::Passed(status) => status,
            Error::CorruptSidecar { .. } => {
                tracing::error!(error = %e, "corrupt recording metadata");
                Status::internal("recording metadata is unreadable")
            }
            Error::Store(inner) => {
                dependency_failed("the object store", &Dependency::ObjectStore(&inner))
            }
            Error::Io(inner) => dependency_failed("file I/O", &Dependency::Other(&inner)),
            Error::Transport(inner) => {
                dependency_failed("a gRPC transport", &Dependency::Other(&inner))
            }
            Error::Config(_) => {
                tracing::error!(error = %e, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use archive_common::error::violated_field;
    use tonic::Code;

    use super::*;

    #[test]
    fn mapping() {
        let s = Status::from(Error::NotMp3(Mp3Error::Empty));
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(violated_field(&s).as_deref(), Some("chunk"));
        let s = Status::from(Error::Invalid(FieldViolation::new(
            "recording_id",
            "must be a UUID",
        )));
        assert_eq!(violated_field(&s).as_deref(), Some("recording_id"));
        assert_eq!(
            Status::from(Error::NotFound("x".into())).code(),
            Code::NotFound
        );
        assert_eq!(
            Status::from(Error::AlreadyExists("x".into())).code(),
            Code::AlreadyExists
        );
        assert_eq!(
            Status::from(Error::TooLarge { limit: 1 }).code(),
            Code::ResourceExhausted
        );
        assert_eq!(
            Status::from(Error::UploadInProgress("x".into())).code(),
            Code::Aborted
        );
        let store = object_store::Error::Generic {
            store: "S3",
            source: "SELECT secret FROM x at 10.0.0.3".into(),
        };
        let s = Status::from(Error::from(store));
        assert_eq!(s.code(), Code::Unavailable);
        assert!(!s.message().contains("10.0.0.3"));
        assert_eq!(
            archive_common::error::retry_after(&s),
            Some(archive_common::error::RETRY_AFTER)
        );
        // Counted on the way, by kind.
        assert!(
            archive_common::metrics::render()
                .lines()
                .any(|l| l.starts_with("archive_object_store_errors_total{kind=\"generic\"}")),
        );
    }

    #[test]
    fn no_internal_text_reaches_the_client() {
        let secret = "/var/lib/media/tenants/10009 at 10.0.0.3";
        let failures = [
            Error::from(object_store::Error::Generic {
                store: "S3",
                source: secret.into(),
            }),
            Error::Io(std::io::Error::other(secret)),
            Error::Config(secret.into()),
            Error::CorruptSidecar {
                id: "x".into(),
                reason: secret.into(),
            },
        ];
        for e in failures {
            let s = Status::from(e);
            assert!(!s.message().contains("10.0.0.3"), "{s:?}");
            assert!(!s.message().contains("/var/lib"), "{s:?}");
        }
        let s = Status::from(Error::Io(std::io::Error::other(secret)));
        assert_eq!(s.code(), Code::Internal);
    }
}
