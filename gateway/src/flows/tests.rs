//! The flows against in-memory services and a ManualClock: a call with a
//! recording, a verdict table, an append log — no suite, no database.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use archive_common::{ManualClock, Principal, error::is_reason_required, identity::Caller};
use archive_proto::v1 as pb;
use futures::stream::BoxStream;
use test_support::principals::{olga, paal};
use tonic::{Code, Status};

use super::{
    Actor, COMMIT_WINDOW, deletion,
    export::{self, ExportSettings},
    playback::{self, PlaybackSettings},
};
use crate::upstream::Upstreams;

const RECORDING: &str = "0b7e6a8c-3f0e-4c1a-9d2e-5b6a7c8d9e0f";
const OTHER: &str = "1c8f7b9d-4a1f-4d2b-8e3f-6c7b8d9eaf10";

/// archive-svc holding one call with one recording per id, each of `owner`'s tenant.
struct Calls {
    owner: Principal,
    deleted: Mutex<Vec<pb::MarkRecordingsDeletedRequest>>,
}

/// authz-svc's verdict per action (absent: allowed).
#[derive(Default)]
struct Verdicts(HashMap<i32, pb::Verdict>);

/// audit-svc's append log.
#[derive(Default)]
struct Trail {
    appended: Mutex<Vec<pb::AppendEventsRequest>>,
    denied: Mutex<Vec<pb::AuditEvent>>,
}

struct Files;

fn recording(id: &str) -> pb::RecordingWithCall {
    pb::RecordingWithCall {
        recording: Some(pb::Recording {
            recording_id: id.into(),
            state: pb::RecordingState::Available as i32,
            media_state: pb::MediaState::Stored as i32,
            nr: 1,
            ..Default::default()
        }),
        call: Some(pb::Call {
            call_id: format!("call-{id}"),
            session_id: "s1".into(),
            ..Default::default()
        }),
    }
}

// The methods the flows never call, one line each.
#[rustfmt::skip]
#[async_trait::async_trait]
impl archive_svc::Archive for Calls {
    async fn batch_get_recordings(
        &self,
        caller: &Caller,
        request: pb::BatchGetRecordingsRequest,
    ) -> Result<pb::BatchGetRecordingsResponse, archive_svc::Error> {
        // Another tenant's ids are not found: left out.
        let mine = caller.principal.tenant == self.owner.tenant;
        let recordings = request.recording_ids.iter().filter(|_| mine);
        Ok(pb::BatchGetRecordingsResponse {
            recordings: recordings.map(|id| recording(id)).collect(),
        })
    }
    async fn mark_recordings_deleted(
        &self,
        _: &Caller,
        request: pb::MarkRecordingsDeletedRequest,
    ) -> Result<pb::MarkRecordingsDeletedResponse, archive_svc::Error> {
        self.deleted.lock().unwrap().push(request);
        Ok(pb::MarkRecordingsDeletedResponse::default())
    }
    async fn get_tenant_settings(
        &self,
        _: &Caller,
        _: pb::GetTenantSettingsRequest,
    ) -> Result<pb::TenantSettings, archive_svc::Error> {
        Ok(pb::TenantSettings {
            time_zone: "Europe/Oslo".into(),
            ..Default::default()
        })
    }
    async fn ingest_call(&self, _: &Caller, _: pb::IngestCallRequest) -> Result<pb::IngestCallResponse, archive_svc::Error> { unreachable!() }
    async fn batch_ingest_calls(&self, _: &Caller, _: pb::BatchIngestCallsRequest) -> Result<pb::BatchIngestCallsResponse, archive_svc::Error> { unreachable!() }
    async fn search_calls(&self, _: &Caller, _: pb::SearchCallsRequest) -> Result<pb::SearchCallsResponse, archive_svc::Error> { unreachable!() }
    async fn get_call(&self, _: &Caller, _: pb::GetCallRequest) -> Result<pb::GetCallResponse, archive_svc::Error> { unreachable!() }
    async fn list_agent_recordings(&self, _: &Caller, _: pb::ListAgentRecordingsRequest) -> Result<pb::ListAgentRecordingsResponse, archive_svc::Error> { unreachable!() }
    async fn update_tenant_settings(&self, _: &Caller, _: pb::UpdateTenantSettingsRequest) -> Result<pb::TenantSettings, archive_svc::Error> { unreachable!() }
    async fn set_legal_hold(&self, _: &Caller, _: pb::SetLegalHoldRequest) -> Result<pb::SetLegalHoldResponse, archive_svc::Error> { unreachable!() }
    async fn list_pending_media_deletions(&self, _: &Caller, _: pb::ListPendingMediaDeletionsRequest) -> Result<pb::ListPendingMediaDeletionsResponse, archive_svc::Error> { unreachable!() }
    async fn mark_recording_media_stored(&self, _: &Caller, _: pb::MarkRecordingMediaStoredRequest) -> Result<pb::MarkRecordingMediaStoredResponse, archive_svc::Error> { unreachable!() }
    async fn list_pending_recordings(&self, _: &Caller, _: pb::ListPendingRecordingsRequest) -> Result<pb::ListPendingRecordingsResponse, archive_svc::Error> { unreachable!() }
    async fn run_retention_sweep(&self, _: &Caller, _: pb::RunRetentionSweepRequest) -> Result<pb::RunRetentionSweepResponse, archive_svc::Error> { unreachable!() }
}

// The methods the flows never call, one line each.
#[rustfmt::skip]
#[async_trait::async_trait]
impl authz_svc::Authz for Verdicts {
    async fn batch_decide(
        &self,
        _: &Caller,
        request: pb::BatchDecideRequest,
    ) -> Result<pb::BatchDecideResponse, authz_svc::Error> {
        let verdict = |action| *self.0.get(&action).unwrap_or(&pb::Verdict::Allow);
        let decisions = request.requests.iter().map(|r| pb::Decision {
            verdict: verdict(r.action) as i32,
            reason: "by the table".into(),
            ..Default::default()
        });
        Ok(pb::BatchDecideResponse {
            decisions: decisions.collect(),
        })
    }
    async fn decide(&self, _: &Caller, _: pb::DecideRequest) -> Result<pb::DecideResponse, authz_svc::Error> { unreachable!() }
    async fn get_my_permissions(&self, _: &Caller, _: pb::GetMyPermissionsRequest) -> Result<pb::User, authz_svc::Error> { unreachable!() }
    async fn create_user(&self, _: &Caller, _: pb::CreateUserRequest) -> Result<pb::User, authz_svc::Error> { unreachable!() }
    async fn get_user(&self, _: &Caller, _: pb::GetUserRequest) -> Result<pb::User, authz_svc::Error> { unreachable!() }
    async fn list_users(&self, _: &Caller, _: pb::ListUsersRequest) -> Result<pb::ListUsersResponse, authz_svc::Error> { unreachable!() }
    async fn update_user(&self, _: &Caller, _: pb::UpdateUserRequest) -> Result<pb::User, authz_svc::Error> { unreachable!() }
    async fn delete_user(&self, _: &Caller, _: pb::DeleteUserRequest) -> Result<pb::DeleteUserResponse, authz_svc::Error> { unreachable!() }
    async fn list_roles(&self, _: &Caller, _: pb::ListRolesRequest) -> Result<pb::ListRolesResponse, authz_svc::Error> { unreachable!() }
    async fn create_role(&self, _: &Caller, _: pb::CreateRoleRequest) -> Result<pb::Role, authz_svc::Error> { unreachable!() }
    async fn update_role(&self, _: &Caller, _: pb::UpdateRoleRequest) -> Result<pb::Role, authz_svc::Error> { unreachable!() }
    async fn delete_role(&self, _: &Caller, _: pb::DeleteRoleRequest) -> Result<pb::DeleteRoleResponse, authz_svc::Error> { unreachable!() }
}

// The methods the flows never call, one line each.
#[rustfmt::skip]
#[async_trait::async_trait]
impl media_svc::Media for Files {
    async fn get_media_info(
        &self,
        _: &Caller,
        request: pb::GetMediaInfoRequest,
    ) -> Result<pb::GetMediaInfoResponse, media_svc::Error> {
        Ok(pb::GetMediaInfoResponse {
            media: Some(info(&request.recording_id)),
        })
    }
    async fn batch_get_media_info(
        &self,
        _: &Caller,
        request: pb::BatchGetMediaInfoRequest,
    ) -> Result<pb::BatchGetMediaInfoResponse, media_svc::Error> {
        Ok(pb::BatchGetMediaInfoResponse {
            media: request.recording_ids.iter().map(|id| info(id)).collect(),
        })
    }
    async fn upload_recording(&self, _: &Caller, _: media_svc::MessageStream<pb::UploadRecordingRequest>) -> Result<pb::UploadRecordingResponse, media_svc::Error> { unreachable!() }
    async fn read_recording(&self, _: &Caller, _: pb::ReadRecordingRequest) -> Result<media_svc::MessageStream<pb::ReadRecordingResponse>, media_svc::Error> { unreachable!() }
    async fn delete_recording_media(&self, _: &Caller, _: pb::DeleteRecordingMediaRequest) -> Result<pb::DeleteRecordingMediaResponse, media_svc::Error> { unreachable!() }
}

fn info(id: &str) -> pb::MediaInfo {
    pb::MediaInfo {
        recording_id: id.into(),
        size_bytes: 1000,
        crc32: 7,
        ..Default::default()
    }
}

// The methods the flows never call, one line each.
#[rustfmt::skip]
#[async_trait::async_trait]
impl audit_svc::AuditTrail for Trail {
    async fn append_event(
        &self,
        _: &Caller,
        request: pb::AppendEventRequest,
    ) -> Result<pb::AppendEventResponse, audit_svc::Error> {
        self.denied.lock().unwrap().extend(request.event);
        Ok(pb::AppendEventResponse::default())
    }
    async fn append_events(
        &self,
        _: &Caller,
        request: pb::AppendEventsRequest,
    ) -> Result<pb::AppendEventsResponse, audit_svc::Error> {
        let receipts = vec![pb::AppendEventResponse::default(); request.events.len()];
        self.appended.lock().unwrap().push(request);
        Ok(pb::AppendEventsResponse { receipts })
    }
    async fn list_events(&self, _: &Caller, _: pb::ListEventsRequest) -> Result<pb::ListEventsResponse, audit_svc::Error> { unreachable!() }
    async fn verify_chain(&self, _: &Caller, _: pb::VerifyChainRequest) -> Result<pb::VerifyChainResponse, audit_svc::Error> { unreachable!() }
    async fn get_checkpoint(&self, _: &Caller, _: pb::GetCheckpointRequest) -> Result<pb::Checkpoint, audit_svc::Error> { unreachable!() }
    async fn export_trail(&self, _: &Caller, _: pb::ExportTrailRequest) -> Result<BoxStream<'static, Result<pb::ExportTrailChunk, audit_svc::Error>>, audit_svc::Error> { unreachable!() }
}

/// The flows' world: paal's tenant owns the recordings.
struct World {
    upstreams: Upstreams,
    calls: Arc<Calls>,
    trail: Arc<Trail>,
    clock: ManualClock,
}

fn world(verdicts: &[(pb::Action, pb::Verdict)]) -> World {
    let clock = ManualClock::new(chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap());
    let calls = Arc::new(Calls {
        owner: paal(),
        deleted: Mutex::default(),
    });
    let trail = Arc::new(Trail::default());
    let table = verdicts.iter().map(|(a, v)| (*a as i32, *v)).collect();
    let upstreams = Upstreams::in_process(
        calls.clone(),
        Arc::new(Verdicts(table)),
        Arc::new(Files),
        trail.clone(),
        Arc::new(clock.clone()),
    );
    World {
        upstreams,
        calls,
        trail,
        clock,
    }
}

impl World {
    fn actor(&self, principal: Principal) -> Actor {
        use archive_common::Clock as _;
        Actor {
            principal,
            client_address: "192.0.2.1".into(),
            user_agent: "test".into(),
            request_id: "r-1".into(),
            at: self.clock.now(),
        }
    }

    async fn play(
        &self,
        who: Principal,
        reason: &str,
    ) -> Result<pb::StartPlaybackResponse, Status> {
        let settings = PlaybackSettings {
            key: b"k".to_vec(),
            public_url: "https://media.example".into(),
            ttl: chrono::Duration::minutes(60),
            link_ttl: playback::link_ttl(60),
        };
        let request = pb::StartPlaybackRequest {
            recording_id: RECORDING.into(),
            reason: reason.into(),
            ..Default::default()
        };
        playback::start(&self.upstreams, &settings, &self.actor(who), request)
            .await
            .map_err(Status::from)
    }

    fn appended(&self) -> Vec<pb::AppendEventsRequest> {
        self.trail.appended.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn playback_refused_by_authz_is_permission_denied_and_appends_nothing() {
    let world = world(&[(pb::Action::Play, pb::Verdict::Deny)]);
    let refused = world.play(paal(), "").await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(world.appended().is_empty());
    // The refusal itself is recorded.
    assert_eq!(world.trail.denied.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn playback_without_a_required_reason_is_reason_required() {
    let world = world(&[(pb::Action::Play, pb::Verdict::ReasonRequired)]);
    let refused = world.play(paal(), "").await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(is_reason_required(&refused));
    assert!(world.appended().is_empty());
}

#[tokio::test]
async fn playback_granted_appends_once_with_the_commit_deadline() {
    use archive_common::Clock as _;
    let world = world(&[(pb::Action::Play, pb::Verdict::ReasonRequired)]);
    let granted = world.play(paal(), "customer complaint").await.unwrap();
    assert!(granted.playback_url.contains(RECORDING));
    let appended = world.appended();
    assert_eq!(appended.len(), 1);
    assert_eq!(appended[0].events.len(), 1);
    let deadline = world.clock.now() + COMMIT_WINDOW;
    assert_eq!(
        appended[0].commit_deadline,
        Some(archive_common::convert::timestamp(deadline))
    );
}

#[tokio::test]
async fn another_tenants_recording_is_not_found() {
    let world = world(&[]);
    let refused = world.play(olga(), "").await.unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    assert!(world.appended().is_empty());
}

#[tokio::test]
async fn delete_marks_the_recordings_deleted_with_the_reason() {
    let world = world(&[]);
    let request = pb::DeleteRecordingsRequest {
        recording_ids: vec![RECORDING.into(), OTHER.into()],
        confirmed: true,
        reason: "asked by the customer".into(),
        ..Default::default()
    };
    deletion::delete(&world.upstreams, &world.actor(paal()), request)
        .await
        .unwrap();
    let marked = world.calls.deleted.lock().unwrap().clone();
    assert_eq!(marked.len(), 1);
    assert_eq!(marked[0].recording_ids, [RECORDING, OTHER]);
    let context = marked[0].context.clone().unwrap();
    assert_eq!(context.reason, "asked by the customer");
}

#[tokio::test]
async fn export_appends_its_n_plus_one_events_in_one_append() {
    let world = world(&[]);
    let settings = ExportSettings {
        key: b"k".to_vec(),
        public_url: "https://archive.example".into(),
        ttl: chrono::Duration::minutes(60),
    };
    let request = pb::CreateExportRequest {
        recording_ids: vec![RECORDING.into(), OTHER.into()],
        reason: "case 12".into(),
        ..Default::default()
    };
    let created = export::create(&world.upstreams, &settings, &world.actor(paal()), request)
        .await
        .unwrap();
    assert_eq!(created.entry_names.len(), 2);
    let appended = world.appended();
    assert_eq!(appended.len(), 1, "all N+1 events in one append");
    assert_eq!(appended[0].events.len(), 3);
}
