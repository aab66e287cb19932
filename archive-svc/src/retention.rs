//! Retention and the media-deletion outbox.
//!
//! The sweeper expires recording files past the tenant's recording retention
//! (the row stays, without Play) and purges calls past the metadata retention;
//! calls on legal hold are left alone. Files to delete — expired, purged or
//! deleted by a user — are queued in the store in the same transaction as the
//! state change, and the drainer asks media-svc to delete them, retrying with
//! backoff until media-svc confirms. A user's deletion is also attempted at
//! once, before the user is answered ([`Retention::delete_now`]); media-svc
//! itself reads what is still queued before it serves after a start
//! (`ListPendingMediaDeletions`). Deletion is idempotent at media-svc, so a
//! retry after a crash is harmless. Each expiry and purge writes its audit
//! event (actor `system:retention`) in the same transaction too, and the
//! audit relay is nudged when a sweep changed anything.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration as StdDuration,
};

use archive_common::telemetry::client::TracedChannel;
use archive_common::{
    Clock, IdentityKey, Principal,
    log_limit::{EVERY, LogLimit},
    shutdown::CancellationToken,
};
use archive_proto::v1::{self as pb, media_service_client::MediaServiceClient};
use audit_svc::outbox::Nudge;
use chrono::Duration;
use futures::StreamExt as _;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::{
    metrics::METRICS,
    store::{CallStore, MediaDeletion, StoreError},
};

/// What one sweep of one tenant did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub recordings_expired: u64,
    pub calls_purged: u64,
}

/// Longest wait between two attempts to delete one file.
const MAX_BACKOFF_SECONDS: i64 = 600;
const DRAIN_BATCH: u32 = 100;
/// Deletions of one request asked of media-svc at once ([`Retention::delete_now`]).
const INLINE_CONCURRENCY: usize = 8;
/// How long a user's deletion waits for media-svc by default: long enough
/// for a healthy media-svc (milliseconds), short enough that a user facing
/// a media-svc that is down is answered promptly (its start-up then reads
/// what is queued before serving).
pub const DEFAULT_DELETE_WAIT: StdDuration = StdDuration::from_millis(2500);

/// While media-svc is down every due deletion fails alike: one line per
/// interval (the metrics count every failure).
static MEDIA_DELETION_FAILED: LogLimit = LogLimit::new(EVERY);

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

    /// Wakes the drainer (after a deletion marker was set).
    pub fn nudge(&self) {
        self.wake.notify_one();
    }

    /// Sends due deletions to media-svc once; returns how many were confirmed.
    pub async fn drain_once(&self) -> Result<usize, StoreError> {
        let Some(media) = &self.media else {
            return Ok(0);
        };
        let mut confirmed = 0;
        for due in self
            .store
            .due_media_deletions(self.clock.now(), DRAIN_BATCH)
            .await?
        {
            if self.deliver(media, &due).await? {
                confirmed += 1;
            }
        }
        Ok(confirmed)
    }

    /// Asks media-svc to delete the files of the tenant's recordings among
    /// `ids` that are queued (the ones a deletion marker just queued), at
    /// once rather than at the drainer's next pass, waiting at most the
    /// delete wait ([`Retention::with_delete_wait`]):
    /// media-svc makes a recording unservable before it answers, so a user
    /// told "deleted" after this has no playback link that still plays.
    /// What is not confirmed in time stays queued for the drainer (which is
    /// woken). Returns how many were confirmed.
    pub async fn delete_now(&self, tenant: &str, ids: &[Uuid]) -> usize {
        let wait = self.delete_wait;
        let Some(media) = &self.media else {
            return 0;
        };
        let confirmed = AtomicUsize::new(0);
        let attempt = async {
            let queued = self.store.queued_media_deletions(tenant, ids).await?;
            futures::stream::iter(queued)
                .for_each_concurrent(INLINE_CONCURRENCY, |due| {
                    let confirmed = &confirmed;
                    async move {
                        match self.deliver(media, &due).await {
                            Ok(true) => {
                                confirmed.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(false) => {}
                            Err(e) => tracing::warn!(recording = %due.recording_id, error = %e, "could not record a media deletion's outcome"),
                        }
                    }
                })
                .await;
            Ok::<_, StoreError>(())
        };
        match tokio::time::timeout(wait, attempt).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not read the media deletions just queued")
            }
            Err(_) => tracing::warn!(
                tenant,
                wait_ms = wait.as_millis() as u64,
                "media-svc did not confirm the deletions in time; the outbox retries"
            ),
        }
        // Whatever is left (failed, timed out) is the drainer's now.
        self.nudge();
        confirmed.into_inner()
    }

    /// One attempt at one queued deletion: dequeued when media-svc
    /// confirms, else retried after a backoff. Whether it was confirmed.
    async fn deliver(
        &self,
        media: &MediaServiceClient<TracedChannel>,
        due: &MediaDeletion,
    ) -> Result<bool, StoreError> {
        let principal = Principal::system(due.tenant.clone(), "retention");
        let request = self.identity.request(
            pb::DeleteRecordingMediaRequest {
                recording_id: due.recording_id.to_string(),
            },
            &principal,
        );
        match media.clone().delete_recording_media(request).await {
            Ok(_) => {
                METRICS.media_deletion(true);
                self.store.media_deletion_done(due.recording_id).await?;
                Ok(true)
            }
            Err(status) => {
                METRICS.media_deletion(false);
                let backoff = 1i64 << due.attempts.min(10);
                let next = self.clock.now() + Duration::seconds(backoff.min(MAX_BACKOFF_SECONDS));
                if let Some(repeated) = MEDIA_DELETION_FAILED.admit("media") {
                    tracing::warn!(recording = %due.recording_id, attempts = due.attempts + 1, %status, repeated, "media deletion failed; will retry");
                }
                self.store
                    .media_deletion_failed(due.recording_id, next, status.message())
                    .await?;
                Ok(false)
            }
        }
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
