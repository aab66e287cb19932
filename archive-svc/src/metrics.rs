//! archive-svc's own Prometheus metrics (request metrics come from the shared
//! server layer): what retention did and how the media-deletion outbox fares.

use std::sync::LazyLock;

use archive_common::metrics::{Counter, EncodeLabelSet, Family, register};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Outcome {
    outcome: &'static str,
}

pub(crate) struct Metrics {
    sweeps: Family<Outcome, Counter>,
    pub(crate) recordings_expired: Counter,
    pub(crate) calls_purged: Counter,
    media_deletions: Family<Outcome, Counter>,
    media_checked: Family<Outcome, Counter>,
}

pub(crate) static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    sweeps: register(
        "retention_sweeps",
        "Retention sweeps over every tenant, by outcome (ok, failed).",
        Family::default(),
    ),
    recordings_expired: register(
        "retention_recordings_expired",
        "Recording files past the tenant's recording retention, marked expired.",
        Counter::default(),
    ),
    calls_purged: register(
        "retention_calls_purged",
        "Calls past the tenant's metadata retention, purged.",
        Counter::default(),
    ),
    media_deletions: register(
        "media_deletions",
        "Recording file deletions sent to media-svc, by outcome (confirmed, failed: retried later).",
        Family::default(),
    ),
    media_checked: register(
        "media_checked_recordings",
        "Recordings from before media states were kept, looked up at media-svc by the media check, by outcome (stored, pending: the file is missing).",
        Family::default(),
    ),
});

impl Metrics {
    pub(crate) fn sweep(&self, ok: bool) {
        let outcome = if ok { "ok" } else { "failed" };
        self.sweeps.get_or_create(&Outcome { outcome }).inc();
    }

    pub(crate) fn media_checked(&self, stored: u64, pending: u64) {
        for (outcome, n) in [("stored", stored), ("pending", pending)] {
            if n > 0 {
                self.media_checked
                    .get_or_create(&Outcome { outcome })
                    .inc_by(n);
            }
        }
    }

    pub(crate) fn media_deletion(&self, confirmed: bool) {
        let outcome = if confirmed { "confirmed" } else { "failed" };
        self.media_deletions
            .get_or_create(&Outcome { outcome })
            .inc();
    }
}
