//! Retention: the sweeper expires recording files past the tenant's
//! recording retention (the row stays, without Play) and purges calls past
//! the metadata retention; calls on legal hold are left alone. Files to
//! delete are queued in the store in the same transaction as the state
//! change, for the media-deletion outbox ([`media_deletions`]). Each expiry
//! and purge writes its audit event (actor `system:retention`) in the same
//! transaction too, and the audit relay is nudged when a sweep changed
//! anything.

mod media_deletions;

use std::{sync::Arc, time::Duration as StdDuration};

use archive_common::{
    Clock, IdentityKey, shutdown::CancellationToken, telemetry::client::TracedChannel,
};
use archive_proto::v1::media_service_client::MediaServiceClient;
use audit_svc::outbox::Nudge;
use chrono::Duration;
use tokio::sync::Notify;

use crate::{
    metrics::METRICS,
    store::{CallStore, StoreError},
};

/// What one sweep of one tenant did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub recordings_expired: u64,
    pub calls_purged: u64,
}

/// How long a user's deletion waits for media-svc by default: long enough
/// for a healthy media-svc (milliseconds), short enough that a user facing
/// a media-svc that is down is answered promptly (its start-up then reads
/// what is queued before serving).
pub const DEFAULT_DELETE_WAIT: StdDuration = StdDuration::from_millis(2500);

#[derive(Clone)]
pub struct Retention {
    store: Arc<dyn CallStore>,
    clock: Arc<dyn Clock>,
    media: Option<MediaServiceClient<TracedChannel>>,
    identity: IdentityKey,
    wake: Arc<Notify>,
    audit: Nudge,
    /// How long a user's deletion waits for media-svc ([`Retention::delete_now`]).
    delete_wait: StdDuration,
}

impl Retention {
    /// `media` is None when no media-svc is configured: deletions then wait
    /// in the outbox. `audit` wakes the audit relay after a sweep's events.
    pub fn new(
        store: Arc<dyn CallStore>,
        clock: Arc<dyn Clock>,
        media: Option<MediaServiceClient<TracedChannel>>,
        identity: IdentityKey,
        audit: Nudge,
    ) -> Self {
        Self {
            store,
            clock,
            media,
            identity,
            wake: Arc::new(Notify::new()),
            audit,
            delete_wait: DEFAULT_DELETE_WAIT,
        }
    }

    /// How long [`Retention::delete_now`] waits for media-svc.
    pub fn with_delete_wait(mut self, wait: StdDuration) -> Self {
        self.delete_wait = wait;
        self
    }

    /// Applies the tenant's retention now.
    pub async fn sweep_tenant(&self, tenant: &str) -> Result<SweepReport, StoreError> {
        let settings = self.store.settings(tenant).await?;
        let now = self.clock.now();
        let recordings_cutoff = now - Duration::days(settings.recording_retention_days.into());
        let metadata_cutoff = now - Duration::days(settings.metadata_retention_days.into());
        let report = SweepReport {
            recordings_expired: self
                .store
                .expire_recordings(
                    tenant,
                    recordings_cutoff,
                    now,
                    settings.recording_retention_days,
                )
                .await?,
            calls_purged: self
                .store
                .purge_calls(
                    tenant,
                    metadata_cutoff,
                    now,
                    settings.metadata_retention_days,
                )
                .await?,
        };
        METRICS.recordings_expired.inc_by(report.recordings_expired);
        METRICS.calls_purged.inc_by(report.calls_purged);
        if report != SweepReport::default() {
            tracing::info!(tenant, ?report, "retention applied");
            self.wake.notify_one();
            self.audit.nudge();
        }
        Ok(report)
    }

    /// Applies every tenant's retention.
    pub async fn sweep_all(&self) -> Result<SweepReport, StoreError> {
        let result = async {
            let mut total = SweepReport::default();
            for tenant in self.store.tenants().await? {
                let r = self.sweep_tenant(&tenant).await?;
                total.recordings_expired += r.recordings_expired;
                total.calls_purged += r.calls_purged;
            }
            Ok(total)
        }
        .await;
        METRICS.sweep(result.is_ok());
        result
    }

    /// Runs the sweeper every `sweep_every` and the drainer every
    /// `drain_every` (or when nudged) until `shutdown`.
    pub fn spawn(
        self,
        sweep_every: StdDuration,
        drain_every: StdDuration,
        shutdown: CancellationToken,
    ) {
        let sweeper = self.clone();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(sweep_every) => {}
                }
                if let Err(e) = sweeper.sweep_all().await {
                    tracing::error!(error = %e, "retention sweep failed");
                }
            }
        });
        tokio::spawn(async move {
            loop {
                if let Err(e) = self.drain_once().await {
                    tracing::error!(error = %e, "media deletion outbox failed");
                }
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(drain_every) => {}
                }
            }
        });
    }
}
