//! StartPlayback: authz decision → audit (fail closed, with a commit
//! deadline: the user is told "failed" only once the trail can no longer
//! record the playback) → a short-lived signed URL of media-svc's HTTP
//! endpoint, so media bytes never pass through the gateway and the browser's
//! `<audio>` can seek with Range requests. A retry with the same request id
//! finds its event already recorded and gets a URL for the same grant.

use archive_common::convert::timestamp;
use archive_proto::v1 as pb;
use chrono::Duration;
use media_svc::PlaybackToken;
use tonic::Status;

use super::{Actor, Reason};
use crate::{Error, upstream::Upstreams};

/// Where and how playback URLs are minted.
#[derive(Clone)]
pub struct PlaybackSettings {
    /// HMAC key shared with media-svc.
    pub key: Vec<u8>,
    /// media-svc's HTTP base as the browser reaches it, e.g. `https://archive.example.com`.
    pub public_url: String,
    /// How long a URL stays valid; seeking late in a long recording needs it valid.
    pub ttl: Duration,
}

/// Why a recording whose file never arrived cannot be played or downloaded.
pub fn not_available(recording_id: &str) -> String {
    format!(
        "recording {recording_id} is not available yet: its file has not arrived from the recording platform"
    )
}

pub async fn start(
    upstreams: &Upstreams,
    audit: &audit_svc::client::AuditClient,
    settings: &PlaybackSettings,
    actor: &Actor,
    request: pb::StartPlaybackRequest,
) -> Result<pb::StartPlaybackResponse, Error> {
    let who = &actor.principal;
    let tenant = upstreams.tenant(who).await?;
    let reason = Reason::new(
        &request.reason,
        &request.reason_code,
        &request.case_id,
        &tenant,
    )?;
    let selected = upstreams
        .selected(who, std::slice::from_ref(&request.recording_id))
        .await?;
    let recording = selected
        .first()
        .ok_or_else(|| Error::Status(Status::not_found("recording not found")))?;
    match recording.state() {
        pb::RecordingState::Deleted => {
            return Err(Error::Status(Status::failed_precondition(
                "the recording is deleted",
            )));
        }
        pb::RecordingState::Expired => {
            return Err(Error::Status(Status::failed_precondition(
                "the recording file has expired (kept for a shorter time than the call)",
            )));
        }
        _ if crate::rows::awaits_upload(&recording.recording) => {
            return Err(Error::Status(Status::failed_precondition(not_available(
                &recording.recording.recording_id,
            ))));
        }
        _ => {}
    }
    upstreams
        .authorize(actor, pb::Action::Play, &selected, &reason, &tenant, audit)
        .await?;
    upstreams
        .media
        .clone()
        .get_media_info(upstreams.on_behalf(
            who,
            pb::GetMediaInfoRequest {
                recording_id: request.recording_id.clone(),
            },
        ))
        .await
        .map_err(Error::upstream("media-svc"))?;
    let event = actor.event(
        pb::AuditEventKind::PlaybackStarted,
        actor.event_id("playback", &[&request.recording_id]),
        Some(recording),
        &reason,
        String::new(),
    );
    audit
        .append_events(who, vec![event], Some(actor.commit_deadline()))
        .await
        .map_err(Error::Status)?;

    let expires_at = actor.at + settings.ttl;
    let token = PlaybackToken {
        tenant: who.tenant.clone(),
        recording_id: request.recording_id.clone(),
        user_id: who.user_id.clone(),
        expires_at,
    }
    .sign(&settings.key);
    Ok(pb::StartPlaybackResponse {
        playback_url: format!(
            "{}/media/{}?token={token}",
            settings.public_url.trim_end_matches('/'),
            request.recording_id
        ),
        expire_time: Some(timestamp(expires_at)),
    })
}
