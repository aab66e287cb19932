//! audit-svc's own Prometheus metrics: appended events by outcome and how
//! many events each group commit carries (the trail's throughput follows
//! commit latency × batch size).

use std::sync::LazyLock;

use archive_common::metrics::{
    self, Counter, EncodeLabelSet, Family, Histogram, exponential_buckets, register,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

pub(crate) struct Metrics {
    appends: Family<Outcome, Counter>,
    batch_events: Histogram,
    commit_seconds: Histogram,
}

pub(crate) static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    appends: register(
        "audit_appends",
        "Audit events by outcome: committed; duplicate (the event id was already in the \
         trail, nothing appended); expired (the commit deadline passed first), refused (the \
         event id names a different event) and failed (the batch's transaction failed): not \
         appended, the caller was told so.",
        Family::default(),
    ),
    batch_events: register(
        "audit_commit_batch_events",
        "Events per group commit.",
        Histogram::new(exponential_buckets(1.0, 2.0, 10)),
    ),
    commit_seconds: register(
        "audit_commit_seconds",
        "Time to append and commit one batch (its transaction, and again without the jobs whose deadline passed during it).",
        metrics::seconds(),
    ),
});

impl Metrics {
    /// One group commit (its transactions) offering `events`.
    pub(crate) fn batch(&self, events: usize, seconds: f64) {
        self.batch_events.observe(events as f64);
        self.commit_seconds.observe(seconds);
    }

    pub(crate) fn outcome(&self, outcome: &'static str, events: usize) {
        if events > 0 {
            self.appends
                .get_or_create(&Outcome { outcome })
                .inc_by(events as u64);
        }
    }
}
