//! media-svc's own Prometheus metrics (request counts, latencies and bytes
//! sent come from the shared request layer): object-store failures by kind,
//! and how playback reads from S3 went through the relay (`s3_relay`).

use std::sync::LazyLock;

use archive_common::metrics::{Counter, EncodeLabelSet, Family, register};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Kind {
    kind: &'static str,
}

#[cfg(feature = "s3")]
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

pub(crate) struct Metrics {
    object_store_errors: Family<Kind, Counter>,
    #[cfg(feature = "s3")]
    s3_relay_reads: Family<Outcome, Counter>,
}

/// How a playback read tried through the S3 relay ended.
#[cfg(feature = "s3")]
#[derive(Debug, Clone, Copy)]
pub(crate) enum RelayOutcome {
    /// Answered by the relay (a body, not found, or changed).
    Relayed,
    /// The relay failed before the answer; object_store read it instead.
    FellBack,
}

pub(crate) static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    object_store_errors: register(
        "object_store_errors",
        "Object store requests that failed and reached a caller as an error, by kind \
         (not_found and precondition are expected races; the rest are the store's trouble).",
        Family::default(),
    ),
    #[cfg(feature = "s3")]
    s3_relay_reads: register(
        "s3_relay_reads",
        "Playback reads from a plain-HTTP S3 endpoint by outcome: relayed (spliced from \
         media-svc's own connection, or answered not found / changed) or fell_back (the relay \
         failed before the answer and object_store's client read it instead).",
        Family::default(),
    ),
});

impl Metrics {
    pub(crate) fn object_store_error(&self, error: &object_store::Error) {
        use object_store::Error as E;
        let kind = match error {
            E::NotFound { .. } => "not_found",
            E::AlreadyExists { .. } => "already_exists",
            E::Precondition { .. } | E::NotModified { .. } => "precondition",
            E::PermissionDenied { .. } | E::Unauthenticated { .. } => "denied",
            E::NotSupported { .. } | E::NotImplemented => "not_supported",
            E::Generic { .. } => "generic",
            _ => "other",
        };
        self.object_store_errors.get_or_create(&Kind { kind }).inc();
    }

    #[cfg(feature = "s3")]
    pub(crate) fn s3_relay_read(&self, outcome: RelayOutcome) {
        let outcome = match outcome {
            RelayOutcome::Relayed => "relayed",
            RelayOutcome::FellBack => "fell_back",
        };
        self.s3_relay_reads
            .get_or_create(&Outcome { outcome })
            .inc();
    }
}
