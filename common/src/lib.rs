//! Plumbing every archive service shares, written once: the verified identity
//! carried in request metadata, the gRPC host (health, reflection, graceful
//! shutdown), telemetry, the error-to-`Status` helpers, time conversions, the
//! injected clock and signed page tokens — and the memory allocator of every
//! program that links it.

pub mod clock;
pub mod convert;
#[cfg(feature = "db")]
pub mod db;
pub mod error;
pub mod host;
pub mod identity;
pub mod metrics;
pub mod page_token;
pub mod shutdown;
pub mod telemetry;

// Used by the OTLP export test only.
#[cfg(test)]
use opentelemetry_proto as _;

/// mimalloc rather than glibc's malloc for every binary of the suite (and
/// its tests and benchmarks): a search page's gRPC decoding, rows and encoding
/// are thousands of small allocations, and glibc spent about a fifth of the
/// gateway's CPU on them (`malloc_consolidate`, `unlink_chunk`; BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::FieldViolation;
pub use identity::{IdentityError, IdentityKey, Principal, VerifyIdentity};
