//! The recording files archive-svc has queued for deletion and media-svc
//! has not confirmed deleted (`ListPendingMediaDeletions`). archive-svc asks
//! media-svc to delete each file when it queues it, and retries until
//! media-svc confirms; but a media-svc that was down (or cut off) then
//! would serve those recordings until the retry reaches it. So media-svc
//! reads the list itself: at start-up, before it serves any recording (the
//! tombstones stay unsettled, readiness NOT_SERVING, until the list has
//! been read and every entry buried; archive-svc is asked again until it
//! answers), and every [`Config::pending_deletions_interval_secs`] after,
//! which bounds how long a deletion media-svc missed while running can go
//! unnoticed. Each entry is buried, then deleted; a deletion that fails
//! leaves it buried, and archive-svc's outbox retries it as before.
//!
//! [`Config::pending_deletions_interval_secs`]: crate::Config::pending_deletions_interval_secs

use std::time::Duration;

use archive_common::{
    IdentityKey, Principal, shutdown::CancellationToken, telemetry::client::TracedChannel,
};
use archive_proto::v1::{self as pb, call_service_client::CallServiceClient};
use futures::StreamExt as _;
use tonic::Status;

use crate::{
    audit::MediaAudit,
    keys::{RecordingId, RecordingKeys},
    storage::MediaStore,
};

/// The name media-svc calls archive-svc as: `system:media-svc`, the one
/// principal archive-svc lets list every tenant's pending deletions.
pub const PRINCIPAL_NAME: &str = "media-svc";
/// The tenant media-svc's principal names: an identity must name one, and
/// the request asks for every tenant's deletions (`all_tenants`) instead.
const ALL_TENANTS: &str = "*";
/// Entries per page asked of archive-svc (its maximum).
const PAGE_SIZE: i32 = 1000;
/// Files deleted at once after a read of the list.
const DELETE_CONCURRENCY: usize = 8;
/// Waits between two attempts to read the list at start-up: from the first
/// to the last, doubling.
const FIRST_RETRY: Duration = Duration::from_millis(200);
const LAST_RETRY: Duration = Duration::from_secs(5);

/// Reads archive-svc's pending deletions and applies them.
#[derive(Clone)]
pub(crate) struct PendingDeletions {
    archive: CallServiceClient<TracedChannel>,
    identity: IdentityKey,
    store: MediaStore,
    audit: MediaAudit,
}

/// What one read of the list did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Applied {
    /// Entries on the list (all buried).
    pub(crate) pending: usize,
    /// Files deleted now (the others were gone already, or failed).
    pub(crate) deleted: usize,
    pub(crate) failed: usize,
}

impl PendingDeletions {
    pub(crate) fn new(
        archive: CallServiceClient<TracedChannel>,
        identity: IdentityKey,
        store: MediaStore,
        audit: MediaAudit,
    ) -> Self {
        Self {
            archive,
            identity,
            store,
            audit,
        }
    }

    /// Reads every page of the list and buries each entry; the entries.
    async fn bury_all(&self) -> Result<Vec<RecordingKeys>, Status> {
        let caller = Principal::system(ALL_TENANTS, PRINCIPAL_NAME);
        let mut found = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = self.identity.request(
                pb::ListPendingMediaDeletionsRequest {
                    all_tenants: true,
                    page_size: PAGE_SIZE,
                    page_token,
                },
                &caller,
            );
            let page = self
                .archive
                .clone()
                .list_pending_media_deletions(request)
                .await?
                .into_inner();
            for entry in page.deletions {
                // archive-svc's ids are UUIDs; one that is not names no file here.
                let Ok(id) = RecordingId::parse(&entry.recording_id, "recording_id") else {
                    tracing::warn!(
                        id = entry.recording_id,
                        "a pending deletion names no recording"
                    );
                    continue;
                };
                let keys = RecordingKeys::new(&entry.tenant, id);
                self.store.tombstones().bury(&keys);
                found.push(keys);
            }
            if page.next_page_token.is_empty() {
                return Ok(found);
            }
            page_token = page.next_page_token;
        }
    }

    /// Deletes the buried entries' files (each stays buried if its delete fails).
    async fn delete_all(&self, entries: Vec<RecordingKeys>) -> Applied {
        let pending = entries.len();
        let outcomes: Vec<Option<bool>> = futures::stream::iter(entries)
            .map(|keys| self.delete(keys))
            .buffer_unordered(DELETE_CONCURRENCY)
            .collect()
            .await;
        Applied {
            pending,
            deleted: outcomes.iter().filter(|o| **o == Some(true)).count(),
            failed: outcomes.iter().filter(|o| o.is_none()).count(),
        }
    }

    /// Whether the file was deleted now; `None` when the store failed.
    async fn delete(&self, keys: RecordingKeys) -> Option<bool> {
        let id = keys.id().to_string();
        match self.store.delete(&keys).await {
            Ok(deleted) => {
                tracing::info!(key = %keys.audio, deleted, "pending recording deletion applied");
                // The event archive-svc's retry would have recorded (same
                // id); if this append fails, that retry records it.
                let who = Principal::system(keys.tenant(), PRINCIPAL_NAME);
                if let Err(status) = self.audit.file_deleted(&who, &id, deleted).await {
                    tracing::warn!(recording = id, %status, "could not record an applied deletion; archive-svc's retry will");
                }
                Some(deleted)
            }
            Err(e) => {
                tracing::warn!(recording = id, error = %e, "a pending deletion failed; the recording stays unservable");
                None
            }
        }
    }

    /// Reads the list, buries and deletes: one pass.
    pub(crate) async fn apply_once(&self) -> Result<Applied, Status> {
        let entries = self.bury_all().await?;
        Ok(self.delete_all(entries).await)
    }

    /// At start-up: reads the list until archive-svc answers, settles the
    /// tombstones and calls `settled`, deletes the files; then again every
    /// `every`, until `shutdown`.
    pub(crate) fn spawn(
        self,
        every: Duration,
        shutdown: CancellationToken,
        settled: impl FnOnce() + Send + 'static,
    ) {
        tokio::spawn(async move {
            let mut wait = FIRST_RETRY;
            let mut failures = 0u32;
            let entries = loop {
                match self.bury_all().await {
                    Ok(entries) => break entries,
                    // An archive-svc of the previous release (a rolling
                    // upgrade) has no list to give: serve as that release
                    // did, saying so, and read the list once it has one.
                    Err(status) if status.code() == tonic::Code::Unimplemented => {
                        tracing::warn!(%status, "archive-svc keeps no list of pending deletions (an older release): serving without it until it does");
                        break Vec::new();
                    }
                    Err(status) => {
                        failures += 1;
                        // The first failure, then every tenth: archive-svc
                        // starting later is expected, a flood of lines is not.
                        if failures % 10 == 1 {
                            tracing::warn!(%status, failures, "cannot read the pending deletions from archive-svc yet; serving no recording until it answers");
                        }
                    }
                }
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(LAST_RETRY);
            };
            self.store.tombstones().settle();
            tracing::info!(
                pending = entries.len(),
                "pending deletions buried: serving recordings"
            );
            settled();
            self.delete_all(entries).await;
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(every) => {}
                }
                match self.apply_once().await {
                    Ok(applied) if applied.pending > 0 => {
                        tracing::info!(?applied, "pending deletions applied");
                    }
                    Ok(_) => {}
                    Err(status) => {
                        tracing::warn!(%status, "cannot read the pending deletions from archive-svc");
                    }
                }
            }
        });
    }
}
