//! Status helpers shared by every crate's error mapping: a bad field becomes
//! INVALID_ARGUMENT with a `BadRequest` detail naming it, so clients can point
//! at the field without parsing prose; a dependency that is down becomes
//! UNAVAILABLE with a `RetryInfo` detail saying when to try again
//! ([`unavailable`], the gateway's HTTP API turns it into `Retry-After`).

use std::{fmt, time::Duration};

use tonic::{Code, Status};

use crate::log_limit::{EVERY, LogLimit};
use tonic_types::{ErrorDetails, StatusExt};

/// One invalid request field, e.g. `filter.caller_number`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }

    pub fn missing(field: impl Into<String>) -> Self {
        Self::new(field, "is required")
    }

    /// Prefixes the field path, for violations found in a nested message.
    pub fn within(mut self, parent: &str) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }
}

impl fmt::Display for FieldViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.description)
    }
}

impl std::error::Error for FieldViolation {}

impl From<FieldViolation> for Status {
    fn from(v: FieldViolation) -> Self {
        Status::with_error_details(
            Code::InvalidArgument,
            v.to_string(),
            ErrorDetails::with_bad_request_violation(v.field, v.description),
        )
    }
}

/// The reason code carried in an `ErrorInfo` detail when an action needs a reason.
pub const REASON_REQUIRED: &str = "REASON_REQUIRED";
/// The `ErrorInfo` domain of archive errors.
pub const ERROR_DOMAIN: &str = "archive.v1";

/// FAILED_PRECONDITION with a machine-readable `REASON_REQUIRED` detail, so a
/// UI knows to ask the user for a reason and retry.
pub fn reason_required(message: impl Into<String>) -> Status {
    Status::with_error_details(
        Code::FailedPrecondition,
        message,
        ErrorDetails::with_error_info(
            REASON_REQUIRED,
            ERROR_DOMAIN,
            std::collections::HashMap::<String, String>::new(),
        ),
    )
}

/// How long a client is told to wait before retrying an UNAVAILABLE answer:
/// long enough for a restarting service or a failed-over database to be back,
/// short enough that a user retrying by hand is not kept waiting.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);

/// UNAVAILABLE for "`what` cannot be reached now" (a database, an object
/// store, another service): the message says to retry, and a `RetryInfo`
/// detail says after how long ([`RETRY_AFTER`]).
pub fn unavailable(what: impl fmt::Display) -> Status {
    retry_later(format!(
        "{what} is unavailable; retry in {} seconds",
        RETRY_AFTER.as_secs()
    ))
}

/// UNAVAILABLE with `message` as it is and the `RetryInfo` detail of [`unavailable`].
pub fn retry_later(message: impl Into<String>) -> Status {
    Status::with_error_details(
        Code::Unavailable,
        message,
        ErrorDetails::with_retry_info(Some(RETRY_AFTER)),
    )
}

/// When `status` says the call may be retried: its `RetryInfo` delay, else
/// [`RETRY_AFTER`] for UNAVAILABLE; `None` for other codes.
pub fn retry_after(status: &Status) -> Option<Duration> {
    let told = status.get_details_retry_info().and_then(|r| r.retry_delay);
    match status.code() {
        Code::Unavailable => Some(told.unwrap_or(RETRY_AFTER)),
        _ => told,
    }
}

/// The one rule for a failure of what a service depends on, whichever
/// crate meets it: a database that cannot be reached now
/// ([`crate::db::is_unavailable`]) or an object store request that failed is
/// UNAVAILABLE with a retry hint; anything else (a broken statement, a
/// corrupt row, a transport fault) is INTERNAL. Either way the client reads
/// `what` only, never the error's own text, and the log gets one line per
/// [`crate::log_limit::EVERY`] per `what` however many requests fail on it.
pub fn dependency_failed(what: &'static str, error: &Dependency<'_>) -> Status {
    static FAILED: LogLimit = LogLimit::new(EVERY);
    let retryable = match error {
        #[cfg(feature = "db")]
        Dependency::Database(e) => crate::db::is_unavailable(e),
        Dependency::ObjectStore(_) => true,
        Dependency::Other(_) => false,
    };
    if let Some(repeated) = FAILED.admit(what) {
        if retryable {
            tracing::warn!(error = %error, repeated, "{what} unavailable");
        } else {
            tracing::error!(error = %error, repeated, "{what} failed");
        }
    }
    if retryable {
        unavailable(what)
    } else {
        Status::internal(format!("{what} failed to answer"))
    }
}

/// What failed under [`dependency_failed`].
#[derive(Debug)]
pub enum Dependency<'a> {
    #[cfg(feature = "db")]
    Database(&'a sqlx::Error),
    ObjectStore(&'a (dyn std::error::Error + Send + Sync)),
    /// Any other failure that is not the client's: I/O, transport, a
    /// corrupt record; INTERNAL.
    Other(&'a (dyn std::error::Error + Send + Sync)),
}

impl fmt::Display for Dependency<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(feature = "db")]
            Dependency::Database(e) => e.fmt(f),
            Dependency::ObjectStore(e) | Dependency::Other(e) => e.fmt(f),
        }
    }
}

/// Reads back the field named by an INVALID_ARGUMENT status, if any.
pub fn violated_field(status: &Status) -> Option<String> {
    status
        .get_details_bad_request()
        .and_then(|b| b.field_violations.first().map(|v| v.field.clone()))
}

/// Whether a status asks for a reason (see [`reason_required`]).
pub fn is_reason_required(status: &Status) -> bool {
    status.code() == Code::FailedPrecondition
        && status
            .get_details_error_info()
            .is_some_and(|i| i.reason == REASON_REQUIRED)
}

/// Checks a free-text request field: at most `max` characters, no control characters.
pub fn check_text(value: &str, field: &str, max: usize) -> Result<(), FieldViolation> {
    if value.chars().count() > max {
        return Err(FieldViolation::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldViolation::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violation_status_names_the_field() {
        let status: Status = FieldViolation::new("page_size", "must be at most 1000").into();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(violated_field(&status).as_deref(), Some("page_size"));
        assert!(status.message().contains("page_size"));
    }

    #[test]
    fn reason_required_is_recognised() {
        assert!(is_reason_required(&reason_required("give a reason")));
        assert!(!is_reason_required(&Status::failed_precondition("other")));
    }

    #[test]
    fn unavailable_says_when_to_retry() {
        let status = unavailable("the call database");
        assert_eq!(status.code(), Code::Unavailable);
        assert!(status.message().contains("retry"), "{}", status.message());
        assert_eq!(retry_after(&status), Some(RETRY_AFTER));
        // A bare UNAVAILABLE (from a proxy, an older service) gets the default.
        assert_eq!(retry_after(&Status::unavailable("down")), Some(RETRY_AFTER));
        assert_eq!(retry_after(&Status::not_found("x")), None);
    }

    #[cfg(feature = "db")]
    #[test]
    fn a_dependency_failure_says_what_failed_and_never_its_text() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "10.0.0.7:5432");
        let down = dependency_failed(
            "the call database",
            &Dependency::Database(&sqlx::Error::Io(refused)),
        );
        assert_eq!(down.code(), Code::Unavailable);
        assert!(retry_after(&down).is_some());
        assert!(!down.message().contains("10.0.0.7"), "{}", down.message());
        let broken = dependency_failed(
            "the call database",
            &Dependency::Database(&sqlx::Error::Protocol("secret detail".into())),
        );
        assert_eq!(broken.code(), Code::Internal);
        assert_eq!(broken.message(), "the call database failed to answer");
        let io = std::io::Error::other("disk detail");
        let other = dependency_failed("the recording files", &Dependency::Other(&io));
        assert_eq!(other.code(), Code::Internal);
        assert!(!other.message().contains("detail"));
        let store = dependency_failed("the object store", &Dependency::ObjectStore(&io));
        assert_eq!(store.code(), Code::Unavailable);
    }

    #[test]
    fn text_checks() {
        assert!(check_text("Sales", "queue", 10).is_ok());
        assert_eq!(
            check_text("a\u{7}b", "queue", 10).unwrap_err().field,
            "queue"
        );
        assert!(check_text(&"x".repeat(11), "queue", 10).is_err());
    }
}
