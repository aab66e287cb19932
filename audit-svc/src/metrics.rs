//! audit-svc's own Prometheus metrics: appends by outcome and how many events
//! each group commit carries (the trail's throughput follows commit latency ×
//! batch size).

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
        "Audit events appended, by outcome (committed, failed: the caller was refused).",
        Family::default(),
    ),
    batch_events: register(
        "audit_commit_batch_events",
        "Events per group commit.",
        Histogram::new(exponential_buckets(1.0, 2.0, 10)),
    ),
    commit_seconds: register(
        "audit_commit_seconds",
        "Time to append and commit one group of events.",
        metrics::seconds(),
    ),
});

impl Metrics {
    pub(crate) fn committed(&self, events: usize, seconds: f64, ok: bool) {
        let outcome = if ok { "committed" } else { "failed" };
        self.appends
            .get_or_create(&Outcome { outcome })
            .inc_by(events as u64);
        self.batch_events.observe(events as f64);
        self.commit_seconds.observe(seconds);
    }
}
