//! The gateway's own Prometheus metrics (request counts, latencies and bytes
//! sent come from the shared request layer): how big exports are, and how
//! their downloads end — a download's duration is the request layer's
//! `archive_http_server_handling_seconds{route="/exports/{file}"}`.

use std::sync::LazyLock;

use archive_common::metrics::{
    self, Counter, EncodeLabelSet, Family, Histogram, exponential_buckets, register,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

pub(crate) struct Metrics {
    export_bytes: Histogram,
    export_recordings: Histogram,
    downloads: Family<Outcome, Counter>,
}

pub(crate) static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    export_bytes: register(
        "export_bytes",
        "Size of each export created (the whole zip archive).",
        metrics::bytes(),
    ),
    export_recordings: register(
        "export_recordings",
        "Recordings in each export created.",
        Histogram::new(exponential_buckets(1.0, 2.0, 11)),
    ),
    downloads: register(
        "export_downloads",
        "Export downloads (whole or a range) by how they ended: completed, client_left, \
         failed (media-svc error, or bytes no longer matching their CRC-32).",
        Family::default(),
    ),
});

/// How a download's producer ended.
#[derive(Clone, Copy, Debug)]
pub(crate) enum DownloadEnd {
    Completed,
    ClientLeft,
    Failed,
}

impl Metrics {
    pub(crate) fn export_created(&self, bytes: u64, recordings: usize) {
        self.export_bytes.observe(bytes as f64);
        self.export_recordings.observe(recordings as f64);
    }

    pub(crate) fn download(&self, end: DownloadEnd) {
        let outcome = match end {
            DownloadEnd::Completed => "completed",
            DownloadEnd::ClientLeft => "client_left",
            DownloadEnd::Failed => "failed",
        };
        self.downloads.get_or_create(&Outcome { outcome }).inc();
    }
}
