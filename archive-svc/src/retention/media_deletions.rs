//! The media-deletion outbox's drainer: files queued for deletion (expired,
//! purged or deleted by a user) are sent to media-svc, retried with backoff
//! until media-svc confirms. A user's deletion is also attempted at once,
//! before the user is answered ([`Retention::delete_now`]); media-svc itself
//! reads what is still queued before it serves after a start
//! (`ListPendingMediaDeletions`). Deletion is idempotent at media-svc, so a
//! retry after a crash is harmless.

use std::sync::atomic::{AtomicUsize, Ordering};

use archive_common::{
    Principal,
    log_limit::{EVERY, LogLimit},
    telemetry::client::TracedChannel,
};
use archive_proto::v1::{self as pb, media_service_client::MediaServiceClient};
use chrono::Duration;
use futures::StreamExt as _;
use uuid::Uuid;

use super::Retention;
use crate::{
    metrics::METRICS,
    store::{MediaDeletion, StoreError},
};

/// Longest wait between two attempts to delete one file.
const MAX_BACKOFF_SECONDS: i64 = 600;
const DRAIN_BATCH: u32 = 100;
/// Deletions of one request asked of media-svc at once ([`Retention::delete_now`]).
const INLINE_CONCURRENCY: usize = 8;

/// While media-svc is down every due deletion fails alike: one line per
/// interval (the metrics count every failure).
static MEDIA_DELETION_FAILED: LogLimit = LogLimit::new(EVERY);

impl Retention {
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
}
