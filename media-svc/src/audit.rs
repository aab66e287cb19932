//! What media-svc records in the audit trail: a recording's file stored
//! (RECORDING_STORED, with its size, duration and SHA-256) and deleted
//! (RECORDING_FILE_DELETED). media-svc has no database to commit an event
//! with the change, so it records each after the change and answers the
//! caller only once the event is in the trail: a caller that gets an error
//! retries, the change is idempotent (the same bytes, a file already gone)
//! and the event's id is the change's own (`recording-stored:<id>:<sha256>`,
//! `recording-file-deleted:<id>`), so retries converge on one event per
//! change — also when another caller makes the same change (its append is
//! refused ALREADY_EXISTS, which here means "recorded"). Without an audit
//! URL nothing is recorded (a warning at start).

use std::sync::Arc;

use archive_common::{Clock, Principal, convert};
use archive_proto::v1 as pb;
use audit_svc::client::AuditClient;
use tonic::Status;

use crate::info::MediaInfo;

#[derive(Clone)]
pub(crate) struct MediaAudit {
    client: Option<AuditClient>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for MediaAudit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaAudit")
            .field("enabled", &self.client.is_some())
            .finish()
    }
}

impl MediaAudit {
    pub(crate) fn new(client: Option<AuditClient>, clock: Arc<dyn Clock>) -> Self {
        if client.is_none() {
            tracing::warn!("no audit-svc URL: stored and deleted files are not audited");
        }
        Self { client, clock }
    }

    pub(crate) async fn stored(&self, who: &Principal, info: &MediaInfo) -> Result<(), Status> {
        let detail = format!(
            "{} bytes, {:.1} s, sha256 {}",
            info.size_bytes,
            info.duration_micros as f64 / 1e6,
            info.sha256
        );
        self.record(
            who,
            pb::AuditEventKind::RecordingStored,
            format!("recording-stored:{}:{}", info.recording_id, info.sha256),
            &info.recording_id,
            detail,
        )
        .await
    }

    pub(crate) async fn file_deleted(
        &self,
        who: &Principal,
        recording_id: &str,
        deleted_now: bool,
    ) -> Result<(), Status> {
        let detail = if deleted_now {
            "file deleted"
        } else {
            "no file left to delete (deleted before)"
        };
        self.record(
            who,
            pb::AuditEventKind::RecordingFileDeleted,
            format!("recording-file-deleted:{recording_id}"),
            recording_id,
            detail.to_owned(),
        )
        .await
    }

    async fn record(
        &self,
        who: &Principal,
        kind: pb::AuditEventKind,
        event_id: String,
        recording_id: &str,
        detail: String,
    ) -> Result<(), Status> {
        let Some(client) = &self.client else {
            return Ok(());
        };
        let event = pb::AuditEvent {
            kind: kind as i32,
            event_id,
            recording_id: recording_id.to_owned(),
            event_time: Some(convert::timestamp(self.clock.now())),
            detail,
            ..Default::default()
        };
        match client.append_events(who, vec![event], None).await {
            Ok(_) => Ok(()),
            // The same change recorded already, by another caller (the file
            // deleted by the deletion outbox and by an operator): the trail
            // has it once, as it should.
            Err(s) if s.code() == tonic::Code::AlreadyExists => Ok(()),
            Err(s) => Err(s),
        }
    }
}

/// Refusals of media-svc's door go straight to the trail, as media-svc's own
/// `system:media-svc` naming the refused caller as the actor.
#[tonic::async_trait]
impl audit_svc::gate::Denials for MediaAudit {
    async fn record(
        &self,
        tenant: &str,
        event: pb::AuditEvent,
        _at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), String> {
        let Some(client) = &self.client else {
            return Ok(());
        };
        client
            .append_events(&Principal::system(tenant, "media-svc"), vec![event], None)
            .await
            .map(|_| ())
            .map_err(|s| s.message().to_owned())
    }
}
