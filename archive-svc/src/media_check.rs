//! The media check: resolves the media state of recordings ingested before
//! archive-svc kept one (the migration leaves them *unverified*, playable as
//! before). It walks them in id order, asks media-svc which files it has
//! (`BatchGetMediaInfo`, one call per tenant and batch) and marks each
//! recording stored (with what media-svc measured) or pending ("not
//! available yet", listed by `ListPendingRecordings` for the platform to
//! upload again). New recordings are never unverified — media-svc reports
//! each stored upload — so once a pass finds none left the check ends.
//! A report from media-svc that races the check wins: the check only
//! changes rows still unverified.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use archive_common::{
    Clock, IdentityKey, Principal, shutdown::CancellationToken, telemetry::client::TracedChannel,
};
use archive_proto::v1::{self as pb, media_service_client::MediaServiceClient};
use uuid::Uuid;

use crate::{
    convert::stored_file,
    metrics::METRICS,
    model::StoredFile,
    store::{CallStore, StoreError},
};

/// Recordings one pass reads at a time (media-svc answers at most 1000 ids).
const BATCH: u32 = 500;
/// Longest wait before asking media-svc again after a failure.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Why a batch could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("media-svc: {0}")]
    Media(tonic::Status),
}

/// What [`MediaCheck::check_batch`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BatchReport {
    /// Recordings whose file media-svc has.
    pub stored: u64,
    /// Recordings without a file: now pending.
    pub pending: u64,
    /// The last recording id read: where the next batch starts; `None` when
    /// no unverified recording was left after the cursor.
    pub last: Option<Uuid>,
}

#[derive(Clone)]
pub struct MediaCheck {
    store: Arc<dyn CallStore>,
    clock: Arc<dyn Clock>,
    media: MediaServiceClient<TracedChannel>,
    identity: IdentityKey,
}

impl MediaCheck {
    pub fn new(
        store: Arc<dyn CallStore>,
        clock: Arc<dyn Clock>,
        media: MediaServiceClient<TracedChannel>,
        identity: IdentityKey,
    ) -> Self {
        Self {
            store,
            clock,
            media,
            identity,
        }
    }

    /// Checks the next batch of unverified recordings after `after`.
    pub async fn check_batch(&self, after: Option<Uuid>) -> Result<BatchReport, CheckError> {
        let rows = self.store.unverified_recordings(after, BATCH).await?;
        let mut report = BatchReport {
            last: rows.last().map(|(_, id)| *id),
            ..BatchReport::default()
        };
        let mut by_tenant: BTreeMap<String, Vec<Uuid>> = BTreeMap::new();
        for (tenant, id) in rows {
            by_tenant.entry(tenant).or_default().push(id);
        }
        for (tenant, ids) in by_tenant {
            let (found, missing) = self.ask_media(&tenant, &ids).await?;
            self.store
                .resolve_unverified(&tenant, &found, &missing)
                .await?;
            report.stored += found.len() as u64;
            report.pending += missing.len() as u64;
        }
        METRICS.media_checked(report.stored, report.pending);
        Ok(report)
    }

    /// Which of the tenant's `ids` media-svc has a file of.
    async fn ask_media(
        &self,
        tenant: &str,
        ids: &[Uuid],
    ) -> Result<(Vec<(Uuid, StoredFile)>, Vec<Uuid>), CheckError> {
        let request = self.identity.request(
            pb::BatchGetMediaInfoRequest {
                recording_ids: ids.iter().map(Uuid::to_string).collect(),
            },
            &Principal::system(tenant, "media-check"),
        );
        let media = self
            .media
            .clone()
            .batch_get_media_info(request)
            .await
            .map_err(CheckError::Media)?
            .into_inner()
            .media;
        let now = self.clock.now();
        let mut found = Vec::with_capacity(media.len());
        // A file media-svc has but describes in a way the archive cannot
        // record stays unverified (playable as before), not missing.
        let mut unreadable = Vec::new();
        for info in media {
            let id = info.recording_id.clone();
            match stored_file(Some(info), now) {
                Ok(file) if ids.contains(&file.0) => found.push(file),
                Ok(_) => {
                    tracing::warn!(tenant, recording = %id, "media-svc answered for a recording not asked about")
                }
                Err(violation) => {
                    tracing::warn!(tenant, recording = %id, %violation, "media-svc's facts of a file cannot be recorded; left unverified");
                    unreadable.push(id);
                }
            }
        }
        let missing = ids
            .iter()
            .filter(|id| {
                !found.iter().any(|(f, _)| f == *id) && !unreadable.contains(&id.to_string())
            })
            .copied()
            .collect();
        Ok((found, missing))
    }

    /// Checks every unverified recording, batch after batch, until none is
    /// left or `shutdown`; a failed batch is tried again after a backoff
    /// (from `retry_every`, doubling up to 5 minutes).
    pub async fn run(self, retry_every: Duration, shutdown: CancellationToken) {
        let mut after = None;
        let mut total = BatchReport::default();
        let mut backoff = retry_every;
        loop {
            match self.check_batch(after).await {
                Ok(report) => {
                    backoff = retry_every;
                    total.stored += report.stored;
                    total.pending += report.pending;
                    let Some(last) = report.last else {
                        if total != BatchReport::default() {
                            tracing::info!(
                                stored = total.stored,
                                pending = total.pending,
                                "media check done: every older recording's file was looked up"
                            );
                        }
                        return;
                    };
                    after = Some(last);
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "media check failed; will retry");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
            if shutdown.is_cancelled() {
                return;
            }
        }
    }
}
