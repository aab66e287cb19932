//! DeleteRecordings: confirmation → authz → deletion marker in archive-svc,
//! which records one RECORDING_DELETED event per recording it marks in the
//! marker's own transaction (its audit outbox, relayed to audit-svc) and
//! queues the file's deletion the same way, retrying media-svc until it
//! confirms. So a delete that did not commit leaves no event, one that did
//! leaves exactly one per recording, and a retry (or a second delete of the
//! same recording) is a no-op that keeps the first marker and event.

use archive_common::FieldViolation;
use archive_proto::v1 as pb;

use super::{Actor, Reason};
use crate::{
    Error,
    upstream::{ARCHIVE, Upstreams},
};

pub async fn delete(
    upstreams: &Upstreams,
    actor: &Actor,
    request: pb::DeleteRecordingsRequest,
) -> Result<Vec<(pb::Recording, pb::Call)>, Error> {
    if request.recording_ids.is_empty() {
        return Err(FieldViolation::new("recording_ids", "select at least one recording").into());
    }
    if !request.confirmed {
        return Err(FieldViolation::new("confirmed", "the user must confirm the deletion").into());
    }
    let who = &actor.principal;
    let given = [&request.reason, &request.reason_code, &request.case_id];
    let (tenant, reason) = Reason::given(upstreams, who, given).await?;
    let selected = upstreams.selected(who, &request.recording_ids).await?;
    upstreams
        .authorize(actor, pb::Action::Delete, &selected, &reason, &tenant)
        .await?;
    let pending: Vec<_> = selected
        .into_iter()
        .filter(|s| s.state() != pb::RecordingState::Deleted)
        .collect();
    if !pending.is_empty() {
        let request = pb::MarkRecordingsDeletedRequest {
            recording_ids: pending
                .iter()
                .map(|s| s.recording.recording_id.clone())
                .collect(),
            context: Some(actor.context(&reason)),
        };
        let caller = Upstreams::caller(who);
        let answer = (upstreams.archive).mark_recordings_deleted(&caller, request);
        upstreams
            .call(&ARCHIVE, "MarkRecordingsDeleted", answer)
            .await?;
    }
    // Everything as stored now, deleted ones with their markers.
    Ok(upstreams
        .selected(who, &request.recording_ids)
        .await?
        .into_iter()
        .map(|s| (s.recording, s.call))
        .collect())
}
