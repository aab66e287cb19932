//! StartPlayback: authz decision → audit (fail closed, with a commit
//! deadline: the user is told "failed" only once the trail can no longer
//! record the playback) → a short-lived signed URL of media-svc's HTTP
//! endpoint, so media bytes never pass through the gateway and the browser's
//! `<audio>` can seek with Range requests. A retry with the same request id
//! finds its event already recorded and gets a URL for the same grant.
//!
//! RenewPlayback: a link lives a minute ([`PlaybackSettings::link_ttl`]),
//! one Play up to an hour ([`PlaybackSettings::ttl`]). Within that hour the
//! page trades a link (expired or not) for a fresh one: decided again —
//! the permission (a refusal recorded as ACCESS_DENIED), the recording not
//! deleted — but not recorded again (the Play was). So a revoked permission
//! stops a playback within a link's life, and a user who plays for the
//! hour is one "Played a recording" in the trail.

use archive_common::{FieldViolation, convert::timestamp};
use archive_proto::v1 as pb;
use chrono::Duration;
use media_svc::PlaybackToken;
use tonic::Status;

use super::{Actor, Reason};
use crate::{
    Error,
    upstream::{MEDIA, Upstreams},
};

/// Where and how playback URLs are minted.
#[derive(Clone)]
pub struct PlaybackSettings {
    /// HMAC key shared with media-svc.
    pub key: Vec<u8>,
    /// media-svc's HTTP base as the browser reaches it, e.g. `https://archive.example.com`.
    pub public_url: String,
    /// How long one Play lasts: its links are renewed until then.
    pub ttl: Duration,
    /// How long one link stays valid ([`link_ttl`]).
    pub link_ttl: Duration,
}

/// The longest a playback link lives: the bound on how long a revoked
/// permission can take to stop it.
pub const MAX_LINK_TTL_SECS: i64 = 60;

/// A link's life from its setting in seconds: 1 to [`MAX_LINK_TTL_SECS`].
pub fn link_ttl(secs: i64) -> Duration {
    Duration::seconds(secs.clamp(1, MAX_LINK_TTL_SECS))
}

impl PlaybackSettings {
    /// The answer carrying a link for `recording_id` of `who` minted at
    /// `now`, within a Play that lasts until `renewable_until`.
    fn link(
        &self,
        who: &archive_common::Principal,
        recording_id: &str,
        now: chrono::DateTime<chrono::Utc>,
        renewable_until: chrono::DateTime<chrono::Utc>,
    ) -> pb::StartPlaybackResponse {
        let expires_at = (now + self.link_ttl).min(renewable_until);
        let token = PlaybackToken {
            tenant: who.tenant.clone(),
            recording_id: recording_id.to_owned(),
            user_id: who.user_id.clone(),
            expires_at,
            renewable_until: Some(renewable_until),
        }
        .sign(&self.key);
        pb::StartPlaybackResponse {
            playback_url: format!(
                "{}/media/{recording_id}?token={token}",
                self.public_url.trim_end_matches('/'),
            ),
            expire_time: Some(timestamp(expires_at)),
            renewable_until: Some(timestamp(renewable_until)),
        }
    }
}

/// Why a recording whose file never arrived cannot be played or downloaded.
pub fn not_available(recording_id: &str) -> String {
    format!(
        "recording {recording_id} is not available yet: its file has not arrived from the recording platform"
    )
}

pub async fn start(
    upstreams: &Upstreams,
    settings: &PlaybackSettings,
    actor: &Actor,
    request: pb::StartPlaybackRequest,
) -> Result<pb::StartPlaybackResponse, Error> {
    let who = &actor.principal;
    let given = [&request.reason, &request.reason_code, &request.case_id];
    let (tenant, reason) = Reason::given(upstreams, who, given).await?;
    // Checked here, not by archive-svc's batch read, so the error names
    // this request's field rather than `recording_ids[0]`.
    uuid::Uuid::parse_str(&request.recording_id)
        .map_err(|_| FieldViolation::new("recording_id", "must be a UUID"))?;
    let selected = playable(upstreams, who, &request.recording_id).await?;
    let recording = &selected[0];
    upstreams
        .authorize(actor, pb::Action::Play, &selected, &reason, &tenant)
        .await?;
    let info = pb::GetMediaInfoRequest {
        recording_id: request.recording_id.clone(),
    };
    let caller = Upstreams::caller(who);
    let answer = upstreams.media.get_media_info(&caller, info);
    upstreams.call(&MEDIA, "GetMediaInfo", answer).await?;
    let event = actor.event(
        pb::AuditEventKind::PlaybackStarted,
        actor.event_id("playback", &[&request.recording_id]),
        Some(recording),
        &reason,
        String::new(),
    );
    upstreams
        .append_events(who, vec![event], Some(actor.commit_deadline()))
        .await
        .map_err(Error::Status)?;

    Ok(settings.link(
        who,
        &request.recording_id,
        actor.at,
        actor.at + settings.ttl,
    ))
}

/// RenewPlayback: a fresh link for the playback `request.playback_url` was
/// issued for (see the module's doc).
pub async fn renew(
    upstreams: &Upstreams,
    settings: &PlaybackSettings,
    actor: &Actor,
    request: pb::RenewPlaybackRequest,
) -> Result<pb::StartPlaybackResponse, Error> {
    let who = &actor.principal;
    let token = token_of(&request.playback_url).ok_or_else(|| {
        FieldViolation::new("playback_url", "not a playback link (no token in it)")
    })?;
    let granted = PlaybackToken::verify_signature(token, &settings.key)
        .map_err(|e| FieldViolation::new("playback_url", format!("not a playback link: {e}")))?;
    if granted.tenant != who.tenant || granted.user_id != who.user_id {
        return Err(Error::PermissionDenied(
            "this playback link was issued to another user".into(),
        ));
    }
    let Some(renewable_until) = granted.renewable_until.filter(|t| actor.at < *t) else {
        return Err(Error::Status(Status::failed_precondition(
            "this playback has ended: press Play to start it again",
        )));
    };
    let selected = playable(upstreams, who, &granted.recording_id).await?;
    upstreams
        .authorize_again(actor, pb::Action::Play, &selected)
        .await?;
    Ok(settings.link(who, &granted.recording_id, actor.at, renewable_until))
}

/// The `token` parameter of a playback URL.
fn token_of(url: &str) -> Option<&str> {
    let (_, query) = url.split_once('?')?;
    query.split('&').find_map(|p| p.strip_prefix("token="))
}

/// The recording `id` with its call (alone in the list, for the authz
/// check), refused unless it has a file to play.
async fn playable(
    upstreams: &Upstreams,
    who: &archive_common::Principal,
    id: &str,
) -> Result<Vec<super::Selected>, Error> {
    let selected = upstreams.selected(who, &[id.to_owned()]).await?;
    let recording = selected
        .first()
        .ok_or_else(|| Error::Status(Status::not_found("recording not found")))?;
    refuse_without_file(recording)?;
    Ok(selected)
}

/// FAILED_PRECONDITION for a recording that has no file any more.
fn refuse_without_file(recording: &super::Selected) -> Result<(), Error> {
    match recording.state() {
        pb::RecordingState::Deleted => Err(Error::Status(Status::failed_precondition(
            "the recording is deleted",
        ))),
        pb::RecordingState::Expired => Err(Error::Status(Status::failed_precondition(
            "the recording file has expired (kept for a shorter time than the call)",
        ))),
        _ if crate::rows::awaits_upload(&recording.recording) => Err(Error::Status(
            Status::failed_precondition(not_available(&recording.recording.recording_id)),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_lives_a_minute_at_most_and_never_past_its_play() {
        assert_eq!(link_ttl(60), Duration::seconds(60));
        assert_eq!(link_ttl(600), Duration::seconds(MAX_LINK_TTL_SECS));
        assert_eq!(link_ttl(0), Duration::seconds(1));
        let settings = PlaybackSettings {
            key: b"k".to_vec(),
            public_url: "https://media.example/".into(),
            ttl: Duration::minutes(60),
            link_ttl: link_ttl(60),
        };
        let who = test_support::principals::paal();
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let id = "0b7e6a8c-3f0e-4c1a-9d2e-5b6a7c8d9e0f";
        let answer = settings.link(&who, id, now, now + Duration::minutes(60));
        assert_eq!(
            answer.expire_time,
            Some(timestamp(now + Duration::seconds(60)))
        );
        let token = token_of(&answer.playback_url).unwrap();
        assert!(
            answer
                .playback_url
                .starts_with(&format!("https://media.example/media/{id}?token="))
        );
        let claims = PlaybackToken::verify_signature(token, b"k").unwrap();
        assert_eq!(claims.renewable_until, Some(now + Duration::minutes(60)));
        // The last link of a Play ends with it.
        let last = settings.link(&who, id, now, now + Duration::seconds(20));
        assert_eq!(
            last.expire_time,
            Some(timestamp(now + Duration::seconds(20)))
        );
        assert_eq!(token_of("https://x/media/y"), None);
        assert_eq!(token_of("https://x/media/y?a=1&token=t"), Some("t"));
    }
}
