//! DeleteRecordings: confirmation → authz → audit (fail closed) → deletion
//! marker in archive-svc. archive-svc queues the file deletion in the same
//! transaction as the marker and retries media-svc until it confirms, so a
//! crash after this point never leaves a playable file behind. Deleting a
//! recording again is a no-op that keeps the first marker.

use archive_common::FieldViolation;
use archive_proto::v1 as pb;

use super::{Actor, check_reason};
use crate::{Error, upstream::Upstreams};

pub async fn delete(
    upstreams: &Upstreams,
    audit: &audit_svc::client::AuditClient,
    actor: &Actor,
    request: pb::DeleteRecordingsRequest,
) -> Result<Vec<pb::Recording>, Error> {
    if request.recording_ids.is_empty() {
        return Err(FieldViolation::new("recording_ids", "select at least one recording").into());
    }
    if !request.confirmed {
        return Err(FieldViolation::new("confirmed", "the user must confirm the deletion").into());
    }
    check_reason(&request.reason)?;
    let who = &actor.principal;
    let selected = upstreams.selected(who, &request.recording_ids).await?;
    upstreams
        .authorize(actor, pb::Action::Delete, &selected, &request.reason, audit)
        .await?;
    let pending: Vec<_> = selected
        .into_iter()
        .filter(|s| s.state() != pb::RecordingState::Deleted)
        .collect();
    if !pending.is_empty() {
        for s in &pending {
            let event = actor.event(
                pb::AuditEventKind::RecordingDeleted,
                Some(s),
                &request.reason,
                String::new(),
            );
            audit.append(who, event).await.map_err(Error::Status)?;
        }
        upstreams
            .archive
            .clone()
            .mark_recordings_deleted(
                upstreams.on_behalf(
                    who,
                    pb::MarkRecordingsDeletedRequest {
                        context: Default::default(),
                        recording_ids: pending
                            .iter()
                            .map(|s| s.recording.recording_id.clone())
                            .collect(),
                    },
                ),
            )
            .await
            .map_err(Error::upstream("archive-svc"))?;
    }
    // Everything as stored now, deleted ones with their markers.
    Ok(upstreams
        .selected(who, &request.recording_ids)
        .await?
        .into_iter()
        .map(|s| s.recording)
        .collect())
}
