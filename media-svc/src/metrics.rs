//! media-svc's own Prometheus metrics (request counts, latencies and bytes
//! sent come from the shared request layer): object-store failures by kind.

use std::sync::LazyLock;

use archive_common::metrics::{Counter, EncodeLabelSet, Family, register};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Kind {
    kind: &'static str,
}

pub(crate) struct Metrics {
    object_store_errors: Family<Kind, Counter>,
}

pub(crate) static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    object_store_errors: register(
        "object_store_errors",
        "Object store requests that failed and reached a caller as an error, by kind \
         (not_found and precondition are expected races; the rest are the store's trouble).",
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
}
