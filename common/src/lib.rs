//! Plumbing every archive service shares, written once: the verified identity
//! carried in request metadata, the gRPC host (health, reflection, graceful
//! shutdown), telemetry, the error-to-`Status` helpers, what a call without an
//! answer is called (`call_errors`), limited repeated log lines, time
//! conversions, the injected clock, signed page tokens and the services'
//! schema step (`<service> migrate`).

pub mod call_errors;
pub mod clock;
pub mod convert;
#[cfg(feature = "db")]
pub mod db;
pub mod error;
pub mod host;
pub mod identity;
pub mod log_limit;
pub mod metrics;
pub mod page_token;
pub mod schema_step;
pub mod shutdown;
pub mod telemetry;

// Used by the OTLP export test only.
#[cfg(test)]
use opentelemetry_proto as _;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::FieldViolation;
pub use identity::{IdentityError, IdentityKey, Principal, VerifyIdentity};
