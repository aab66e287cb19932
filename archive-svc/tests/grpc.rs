//! archive-svc over real gRPC: the server from `run` on an ephemeral port,
//! users signed by the gateway's key and the recording platform with its
//! credential, a stand-in media-svc that records the deletions it is asked
//! for (failing the first ones, to prove the retries, and admitting only
//! archive-svc's own key, as the real one does), and a stand-in audit-svc
//! that records what the audit relay delivers.

#![allow(unused_crate_dependencies)]

mod common;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use archive_common::{
    Principal,
    convert::timestamp,
    error::violated_field,
    identity::{CallerKind, IdentityKey, PlatformCredential, Role},
    shutdown::CancellationToken,
};
use archive_proto::v1::{
    self as pb, AuditEventKind,
    call_event::Kind,
    call_service_client::CallServiceClient,
    media_service_server::{MediaService, MediaServiceServer},
};
use audit_svc::testing::FakeTrail;
use chrono::{Duration as TimeDelta, Utc};
use common::{as_platform, as_user, gateway, identity, keys};
use tonic::{Code, Request, Response, Status, service::Routes, transport::Channel};

/// media-svc stand-in: refuses any caller but archive-svc's own key (as
/// media-svc does), fails the first `fail_first` deletions, records the rest;
/// each answer takes `delay` (a media-svc that hangs).
#[derive(Clone, Default)]
struct RecordingDeletions {
    fail_first: Arc<Mutex<u32>>,
    delay: Arc<Mutex<Duration>>,
    deleted: Arc<Mutex<Vec<(String, String)>>>,
    /// Who was refused: `holder as user_id`.
    refused: Arc<Mutex<Vec<String>>>,
}

type Stream = std::pin::Pin<
    Box<dyn tokio_stream::Stream<Item = Result<pb::ReadRecordingResponse, Status>> + Send>,
>;

#[tonic::async_trait]
impl MediaService for RecordingDeletions {
    type ReadRecordingStream = Stream;

    async fn upload_recording(
        &self,
        _: Request<tonic::Streaming<pb::UploadRecordingRequest>>,
    ) -> Result<Response<pb::UploadRecordingResponse>, Status> {
        Err(Status::unimplemented("stand-in"))
    }
    async fn read_recording(
        &self,
        _: Request<pb::ReadRecordingRequest>,
    ) -> Result<Response<Stream>, Status> {
        Err(Status::unimplemented("stand-in"))
    }
    async fn get_media_info(
        &self,
        _: Request<pb::GetMediaInfoRequest>,
    ) -> Result<Response<pb::GetMediaInfoResponse>, Status> {
        Err(Status::unimplemented("stand-in"))
    }
    async fn batch_get_media_info(
        &self,
        _: Request<pb::BatchGetMediaInfoRequest>,
    ) -> Result<Response<pb::BatchGetMediaInfoResponse>, Status> {
        Err(Status::unimplemented("stand-in"))
    }
    async fn delete_recording_media(
        &self,
        request: Request<pb::DeleteRecordingMediaRequest>,
    ) -> Result<Response<pb::DeleteRecordingMediaResponse>, Status> {
        let caller = common::verified(&request)?;
        if caller.kind != CallerKind::Service || caller.holder != "archive-svc" {
            self.refused
                .lock()
                .unwrap()
                .push(format!("{} as {}", caller.holder, caller.principal.user_id));
            return Err(Status::permission_denied("only archive-svc deletes"));
        }
        let who = caller.principal;
        let delay = *self.delay.lock().unwrap();
        tokio::time::sleep(delay).await;
        {
            let mut fail = self.fail_first.lock().unwrap();
            if *fail > 0 {
                *fail -= 1;
                return Err(Status::unavailable("media store down"));
            }
        }
        self.deleted
            .lock()
            .unwrap()
            .push((who.tenant, request.into_inner().recording_id));
        Ok(Response::new(pb::DeleteRecordingMediaResponse {
            deleted: true,
        }))
    }
}

struct Harness {
    client: CallServiceClient<Channel>,
    media: RecordingDeletions,
    trail: FakeTrail,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

async fn start() -> Harness {
    start_failing(2).await
}

/// A harness whose media-svc fails its first `fail_first` deletions.
async fn start_failing(fail_first: u32) -> Harness {
    let media = RecordingDeletions {
        fail_first: Arc::new(Mutex::new(fail_first)),
        ..Default::default()
    };
    let shutdown = CancellationToken::new();
    let media_url = common::serve(
        Routes::new(MediaServiceServer::new(media.clone())),
        &shutdown,
    )
    .await;
    let trail = FakeTrail::default();
    let trail_url = trail.serve(keys().trust(), shutdown.clone()).await;

    let dir = tempfile::tempdir().unwrap();
    let mut config = archive_svc::Config::new(
        format!("sqlite://{}", dir.path().join("a.db").display()),
        identity("archive-svc"),
    );
    config.media_url = Some(media_url);
    config.audit_url = Some(trail_url);
    config.outbox_interval = Duration::from_millis(50);
    let client = common::run_archive(config, &shutdown).await;
    Harness {
        client,
        media,
        trail,
        shutdown,
        _dir: dir,
    }
}

fn forced_call(session: &str, days_ago: i64, caller: &str) -> pb::IngestCallRequest {
    let start = Utc::now() - TimeDelta::days(days_ago);
    let event = |s: i64, kind| pb::CallEvent {
        time: Some(timestamp(start + TimeDelta::seconds(s))),
        kind: Some(kind),
    };
    pb::IngestCallRequest {
        session_id: session.into(),
        start_time: Some(timestamp(start)),
        access_point: Some(pb::AccessPoint {
            number: "81511569".into(),
            name: "Main Demo Number".into(),
        }),
        caller_number: caller.into(),
        events: vec![
            event(
                0,
                Kind::QueueEntered(pb::QueueEntered {
                    queue: "Sales".into(),
                    forced_recording: true,
                    pending_recording: false,
                }),
            ),
            event(
                7,
                Kind::AgentConnected(pb::AgentConnected {
                    agent: "Andreas Wallin".into(),
                    forced_recording: false,
                }),
            ),
            event(
                164,
                Kind::AgentDisconnected(pb::AgentDisconnected {
                    agent: "Andreas Wallin".into(),
                }),
            ),
        ],
        ..Default::default()
    }
}

async fn count(h: &mut Harness, tenant: &str) -> usize {
    h.client
        .search_calls(as_user(
            tenant,
            pb::SearchCallsRequest {
                page_size: 1000,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .calls
        .len()
}

async fn wait_for_deletions(h: &Harness, n: usize) -> Vec<(String, String)> {
    // Up to 15 s: the drainer backs off (1 s, 2 s, …) after the failures the
    // fake media-svc injects, and a loaded machine stretches that.
    for _ in 0..600 {
        let refused = h.media.refused.lock().unwrap().clone();
        assert!(refused.is_empty(), "media-svc refused {refused:?}");
        let deleted = h.media.deleted.lock().unwrap().clone();
        if deleted.len() >= n {
            return deleted;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("media-svc was not asked to delete {n} files in time");
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_and_writes_nothing() {
    let mut h = start().await;
    h.client
        .ingest_call(as_platform("10009", forced_call("ok", 1, "95214830")))
        .await
        .unwrap();

    let mut cases: Vec<(pb::IngestCallRequest, &str)> = Vec::new();
    let mut c = forced_call("", 1, "1");
    c.session_id.clear();
    cases.push((c, "session_id"));
    cases.push((forced_call("x'; DROP TABLE calls;--", 1, "1"), "session_id"));
    cases.push((forced_call("a", 1, "12ab"), "caller_number"));
    cases.push((
        forced_call("b", 1, "1'; DELETE FROM calls;--"),
        "caller_number",
    ));
    cases.push((forced_call("c", 1, &"9".repeat(40)), "caller_number"));
    let mut c = forced_call("d", 1, "1");
    c.events[1].kind = Some(Kind::AgentConnected(pb::AgentConnected {
        agent: "x".repeat(201),
        forced_recording: false,
    }));
    cases.push((c, "events[1].agent_connected.agent"));
    let mut c = forced_call("e", 1, "1");
    c.events.swap(1, 2);
    cases.push((c, "events[2].time"));
    let mut c = forced_call("f", 1, "1");
    c.events[0].kind = None;
    cases.push((c, "events[0].kind"));
    let mut c = forced_call("g", 1, "1");
    c.start_time = Some(prost_types::Timestamp {
        seconds: 253_402_300_800 * 2,
        nanos: 0,
    });
    cases.push((c, "start_time"));
    let mut c = forced_call("h", 1, "1");
    c.access_point = None;
    cases.push((c, "access_point"));
    for (request, field) in cases {
        let err = h
            .client
            .ingest_call(as_platform("10009", request))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{field}: {err:?}");
        assert_eq!(violated_field(&err).as_deref(), Some(field), "{err:?}");
    }
    // A batch with one bad call writes none of them.
    let batch = pb::BatchIngestCallsRequest {
        calls: vec![
            forced_call("batch-ok", 1, "1"),
            forced_call("batch-bad", 1, "x"),
        ],
    };
    let err = h
        .client
        .batch_ingest_calls(as_platform("10009", batch))
        .await
        .unwrap_err();
    assert_eq!(
        violated_field(&err).as_deref(),
        Some("calls[1].caller_number")
    );
    assert_eq!(count(&mut h, "10009").await, 1, "nothing was written");

    let search = |filter: pb::CallFilter, order: i32, page_size: i32| pb::SearchCallsRequest {
        filter: Some(filter),
        order,
        page_size,
        page_token: String::new(),
    };
    // A page of 10, newest first, of the filter `edit` makes.
    let filtered = |edit: &dyn Fn(&mut pb::CallFilter)| {
        let mut filter = pb::CallFilter::default();
        edit(&mut filter);
        search(filter, 0, 10)
    };
    let ts = |days: i64| Some(timestamp(Utc::now() - TimeDelta::days(days)));
    let seconds = |seconds: i64| Some(prost_types::Duration { seconds, nanos: 0 });
    let search_cases = [
        (search(Default::default(), 0, 1001), "page_size"),
        (search(Default::default(), 0, -1), "page_size"),
        (search(Default::default(), 7, 10), "order"),
        (
            filtered(&|f| (f.start_time_from, f.start_time_to) = (ts(1), ts(2))),
            "filter.start_time_to",
        ),
        (
            filtered(&|f| {
                let long_ago = prost_types::Timestamp {
                    seconds: -99_999_999_999,
                    nanos: 0,
                };
                f.start_time_from = Some(long_ago);
            }),
            "filter.start_time_from",
        ),
        (
            filtered(&|f| {
                (f.caller_number, f.caller_number_partial) = ("%' OR 1=1 --".into(), true)
            }),
            "filter.caller_number",
        ),
        (filtered(&|f| f.agent = "a\u{0}b".into()), "filter.agent"),
        (filtered(&|f| f.queue = "q".repeat(201)), "filter.queue"),
        (
            filtered(&|f| f.access_point_number = "main".into()),
            "filter.access_point_number",
        ),
        (
            filtered(&|f| (f.min_speak_time, f.max_speak_time) = (seconds(10), seconds(5))),
            "filter.min_speak_time",
        ),
        (
            filtered(&|f| f.min_recording_time = seconds(-1)),
            "filter.min_recording_time",
        ),
    ];
    for (request, field) in search_cases {
        let err = h
            .client
            .search_calls(as_user("10009", request))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{field}: {err:?}");
        assert_eq!(violated_field(&err).as_deref(), Some(field), "{err:?}");
    }
    // Text filters with SQL metacharacters are matched literally, not executed.
    let literal = pb::CallFilter {
        agent: "x' OR '1'='1".into(),
        ..Default::default()
    };
    let found = h
        .client
        .search_calls(as_user("10009", search(literal, 0, 10)))
        .await
        .unwrap()
        .into_inner();
    assert!(found.calls.is_empty());
    h.shutdown.cancel();
}

#[tokio::test]
async fn tenants_never_see_each_other_and_page_tokens_are_bound() {
    let mut h = start().await;
    let mine = h
        .client
        .ingest_call(as_platform("10009", forced_call("t-1", 1, "95214830")))
        .await
        .unwrap()
        .into_inner()
        .call
        .unwrap();
    for i in 0..3 {
        h.client
            .ingest_call(as_platform(
                "10009",
                forced_call(&format!("t-{}", i + 2), 2 + i, "95214830"),
            ))
            .await
            .unwrap();
    }
    // The same session id in another tenant is another call.
    let theirs = h
        .client
        .ingest_call(as_platform("20002", forced_call("t-1", 1, "95214830")))
        .await
        .unwrap()
        .into_inner();
    assert!(theirs.created);
    assert_eq!(count(&mut h, "20002").await, 1);

    let rec = mine.recordings[0].recording_id.clone();
    fn other<T>(message: T) -> Request<T> {
        as_user("20002", message)
    }
    assert_eq!(
        h.client
            .get_call(other(pb::GetCallRequest {
                call_id: mine.call_id.clone()
            }))
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        h.client
            .batch_get_recordings(other(pb::BatchGetRecordingsRequest {
                recording_ids: vec![rec.clone()]
            }))
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        h.client
            .mark_recordings_deleted(other(pb::MarkRecordingsDeletedRequest {
                context: Default::default(),
                recording_ids: vec![rec.clone()]
            }))
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        h.client
            .set_legal_hold(other(pb::SetLegalHoldRequest {
                context: Default::default(),
                call_id: mine.call_id.clone(),
                legal_hold: true
            }))
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let still = h
        .client
        .get_call(as_user(
            "10009",
            pb::GetCallRequest {
                call_id: mine.call_id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .call
        .unwrap();
    assert_eq!(
        still.recordings[0].state,
        pb::RecordingState::Available as i32
    );
    assert!(!still.legal_hold);

    // A page token works for its tenant and filter only.
    let first = h
        .client
        .search_calls(as_user(
            "10009",
            pb::SearchCallsRequest {
                page_size: 2,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.calls.len(), 2);
    let token = first.next_page_token;
    let second = h
        .client
        .search_calls(as_user(
            "10009",
            pb::SearchCallsRequest {
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.calls.len(), 2);
    assert!(second.next_page_token.is_empty());
    for request in [
        other(pb::SearchCallsRequest {
            page_size: 2,
            page_token: token.clone(),
            ..Default::default()
        }),
        as_user(
            "10009",
            pb::SearchCallsRequest {
                filter: Some(pb::CallFilter {
                    has_recording: true,
                    ..Default::default()
                }),
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            },
        ),
    ] {
        let err = h.client.search_calls(request).await.unwrap_err();
        assert_eq!(violated_field(&err).as_deref(), Some("page_token"));
    }
    h.shutdown.cancel();
}

#[tokio::test]
async fn deletions_and_expiry_reach_media_svc_despite_failures() {
    let mut h = start().await;
    let recent = h
        .client
        .ingest_call(as_platform("10009", forced_call("r-1", 1, "95214830")))
        .await
        .unwrap()
        .into_inner()
        .call
        .unwrap();
    let old = h
        .client
        .ingest_call(as_platform("10009", forced_call("r-2", 40, "95214830")))
        .await
        .unwrap()
        .into_inner()
        .call
        .unwrap();

    // Delete: marker now, file deletion retried until media-svc takes it (it fails twice first).
    let marked = h
        .client
        .mark_recordings_deleted(as_user(
            "10009",
            pb::MarkRecordingsDeletedRequest {
                context: Default::default(),
                recording_ids: vec![recent.recordings[0].recording_id.clone()],
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let marker = marked.recordings[0].deletion.clone().unwrap();
    assert_eq!(
        (
            marker.customer.as_str(),
            marker.user_id.as_str(),
            marker.user_display_name.as_str()
        ),
        ("10009", "paal", "Paal Admin")
    );
    // Backoff after two failures is 1 s then 2 s; the third attempt succeeds.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let deleted = wait_for_deletions(&h, 1).await;
    assert_eq!(
        deleted[0],
        (
            "10009".to_owned(),
            recent.recordings[0].recording_id.clone()
        )
    );

    // Retention: 30 days of recordings expires the 40-day-old one, on demand.
    h.client
        .update_tenant_settings(as_user(
            "10009",
            pb::UpdateTenantSettingsRequest {
                context: Default::default(),
                settings: Some(pb::TenantSettings {
                    reason_codes: Default::default(),
                    search_audit_disabled: Default::default(),
                    time_zone: "Europe/Oslo".into(),
                    consult_recording: false,
                    recording_retention_days: 30,
                    metadata_retention_days: 365,
                }),
            },
        ))
        .await
        .unwrap();
    let swept = h
        .client
        .run_retention_sweep(as_user("10009", pb::RunRetentionSweepRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((swept.recordings_expired, swept.calls_purged), (1, 0));
    let deleted = wait_for_deletions(&h, 2).await;
    assert_eq!(deleted[1].1, old.recordings[0].recording_id);
    // …and the sweep is in the trail as the sweeper's.
    let expired_id = format!("retention-expired:{}", old.recordings[0].recording_id);
    for _ in 0..200 {
        if h.trail
            .events()
            .iter()
            .any(|(_, e)| e.event_id == expired_id)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let trail = h.trail.events();
    let (_, expiry) = trail
        .iter()
        .find(|(_, e)| e.event_id == expired_id)
        .expect("RETENTION_EXPIRED delivered");
    assert_eq!(expiry.actor_id, "system:retention");
    assert_eq!(expiry.kind, AuditEventKind::RetentionExpired as i32);
    let old_now = h
        .client
        .get_call(as_user(
            "10009",
            pb::GetCallRequest {
                call_id: old.call_id,
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .call
        .unwrap();
    assert_eq!(
        old_now.recordings[0].state,
        pb::RecordingState::Expired as i32,
        "the row stays, without its file"
    );

    // Metadata retention shorter than recording retention is refused.
    let err = h
        .client
        .update_tenant_settings(as_user(
            "10009",
            pb::UpdateTenantSettingsRequest {
                context: Default::default(),
                settings: Some(pb::TenantSettings {
                    reason_codes: Default::default(),
                    search_audit_disabled: Default::default(),
                    time_zone: "Europe/Oslo".into(),
                    consult_recording: false,
                    recording_retention_days: 30,
                    metadata_retention_days: 10,
                }),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(
        violated_field(&err).as_deref(),
        Some("settings.metadata_retention_days")
    );
    assert_eq!(count(&mut h, "10009").await, 2);
    h.shutdown.cancel();
}

/// The pending deletions `who` (signed with `key`) lists with `request`,
/// every page of them.
async fn pending(
    h: &mut Harness,
    key: &IdentityKey,
    who: &Principal,
    request: pb::ListPendingMediaDeletionsRequest,
) -> Result<Vec<pb::PendingMediaDeletion>, Status> {
    let mut all = Vec::new();
    let mut request = request;
    loop {
        let page = h
            .client
            .list_pending_media_deletions(key.request(request.clone(), who))
            .await?
            .into_inner();
        all.extend(page.deletions);
        if page.next_page_token.is_empty() {
            return Ok(all);
        }
        request.page_token = page.next_page_token;
    }
}

#[tokio::test]
async fn a_deletion_reaches_media_svc_before_the_user_is_answered() {
    let mut h = start_failing(0).await;
    let call = h
        .client
        .ingest_call(as_platform("10009", forced_call("i-1", 1, "95214831")))
        .await
        .unwrap()
        .into_inner()
        .call
        .unwrap();
    let id = call.recordings[0].recording_id.clone();
    h.client
        .mark_recordings_deleted(as_user(
            "10009",
            pb::MarkRecordingsDeletedRequest {
                context: Default::default(),
                recording_ids: vec![id.clone()],
            },
        ))
        .await
        .unwrap();
    // Asked and confirmed before the answer: nothing left pending.
    assert_eq!(
        h.media.deleted.lock().unwrap().clone(),
        [("10009".to_owned(), id.clone())]
    );
    let media_svc = Principal::system("*", "media-svc");
    // The gateway's key may sign that name too; only media-svc's own key lists every tenant's.
    let forged = pending(
        &mut h,
        &gateway(),
        &media_svc,
        pb::ListPendingMediaDeletionsRequest {
            all_tenants: true,
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(forged.code(), Code::PermissionDenied);
    let media_key = keys().signer("media-svc");
    let all = pending(
        &mut h,
        &media_key,
        &media_svc,
        pb::ListPendingMediaDeletionsRequest {
            all_tenants: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(all.is_empty(), "{all:?}");

    // A media-svc that hangs holds the answer up for the delete wait only;
    // the deletion stays pending for media-svc to find and the outbox to retry.
    *h.media.delay.lock().unwrap() = Duration::from_secs(20);
    let mut ids = Vec::new();
    for (tenant, session) in [("10009", "i-2"), ("20001", "i-3")] {
        let call = h
            .client
            .ingest_call(as_platform(tenant, forced_call(session, 1, "95214832")))
            .await
            .unwrap()
            .into_inner()
            .call
            .unwrap();
        ids.push(call.recordings[0].recording_id.clone());
    }
    let (a, b) = (ids[0].clone(), ids[1].clone());
    let started = std::time::Instant::now();
    for (tenant, id) in [("10009", &a), ("20001", &b)] {
        h.client
            .mark_recordings_deleted(as_user(
                tenant,
                pb::MarkRecordingsDeletedRequest {
                    context: Default::default(),
                    recording_ids: vec![id.clone()],
                },
            ))
            .await
            .unwrap();
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "two deletions answered in {took:?} with media-svc hanging"
    );
    let mut expected = vec![
        ("10009".to_owned(), a.clone()),
        ("20001".to_owned(), b.clone()),
    ];
    expected.sort_by(|x, y| x.1.cmp(&y.1));
    let listed = |all: Vec<pb::PendingMediaDeletion>| -> Vec<(String, String)> {
        all.into_iter()
            .map(|d| (d.tenant, d.recording_id))
            .collect()
    };
    // media-svc lists every tenant's, a page at a time, by recording id.
    let all = pending(
        &mut h,
        &media_key,
        &media_svc,
        pb::ListPendingMediaDeletionsRequest {
            all_tenants: true,
            page_size: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(all.iter().all(|d| d.cause == "deleted"), "{all:?}");
    assert_eq!(listed(all), expected);
    // Anyone else: its own tenant's only, and never every tenant's.
    let paal = Principal::new("20001", "paal", "Paal Admin");
    let own = pending(&mut h, &gateway(), &paal, Default::default())
        .await
        .unwrap();
    assert_eq!(listed(own), [("20001".to_owned(), b.clone())]);
    let refused = pending(
        &mut h,
        &gateway(),
        &paal,
        pb::ListPendingMediaDeletionsRequest {
            all_tenants: true,
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    for (request, field) in [
        (
            pb::ListPendingMediaDeletionsRequest {
                page_size: 1001,
                ..Default::default()
            },
            "page_size",
        ),
        (
            pb::ListPendingMediaDeletionsRequest {
                page_token: "not a token".into(),
                ..Default::default()
            },
            "page_token",
        ),
    ] {
        let err = pending(&mut h, &gateway(), &paal, request)
            .await
            .unwrap_err();
        assert_eq!(violated_field(&err).as_deref(), Some(field));
    }
    h.shutdown.cancel();
}

fn context(reason: &str, request_id: &str) -> Option<pb::ActionContext> {
    Some(pb::ActionContext {
        request_id: request_id.into(),
        reason: reason.into(),
        reason_code: "LEGAL".into(),
        case_id: "CASE-1".into(),
        client_address: "203.0.113.9".into(),
        user_agent: "curl/8".into(),
    })
}

fn settings(codes: Vec<(&str, &str)>) -> pb::TenantSettings {
    pb::TenantSettings {
        time_zone: "Europe/Oslo".into(),
        recording_retention_days: 365,
        metadata_retention_days: 730,
        reason_codes: codes
            .into_iter()
            .map(|(code, label)| pb::ReasonCode {
                code: code.into(),
                label: label.into(),
            })
            .collect(),
        ..Default::default()
    }
}

#[tokio::test]
async fn every_change_reaches_the_trail_once_as_its_actor_with_its_context() {
    let mut h = start().await;
    let mut recordings = Vec::new();
    for session in ["t-1", "t-2", "t-3"] {
        let call = h
            .client
            .ingest_call(as_platform("10009", forced_call(session, 1, "95214830")))
            .await
            .unwrap()
            .into_inner()
            .call
            .unwrap();
        recordings.push((
            call.call_id.clone(),
            call.recordings[0].recording_id.clone(),
        ));
    }
    // A retry of an ingest creates and records nothing.
    h.client
        .ingest_call(as_platform("10009", forced_call("t-1", 1, "95214830")))
        .await
        .unwrap();

    // A system identity calling MarkRecordingsDeleted directly (here the
    // gateway's own key signing `system:ops`) is refused: deletions are
    // people's, through the gateway. The refusal is recorded with it as the
    // actor, and nothing is deleted.
    let ops = Principal::system("10009", "ops");
    let err = h
        .client
        .mark_recordings_deleted(gateway().request(
            pb::MarkRecordingsDeletedRequest {
                recording_ids: vec![recordings[0].1.clone()],
                context: context("court order\nno. 7", "req-ops"),
            },
            &ops,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let untouched = h
        .client
        .get_call(as_user(
            "10009",
            pb::GetCallRequest {
                call_id: recordings[0].0.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .call
        .unwrap();
    assert_eq!(
        untouched.recordings[0].state,
        pb::RecordingState::Available as i32
    );
    // A user through the gateway is the actor, with the action's context…
    h.client
        .mark_recordings_deleted(as_user(
            "10009",
            pb::MarkRecordingsDeletedRequest {
                recording_ids: vec![recordings[0].1.clone()],
                context: context("court order\nno. 7", "req-paal-1"),
            },
        ))
        .await
        .unwrap();
    // …and the recording deleted before records nothing again.
    h.client
        .mark_recordings_deleted(as_user(
            "10009",
            pb::MarkRecordingsDeletedRequest {
                recording_ids: vec![recordings[0].1.clone(), recordings[1].1.clone()],
                context: context("customer asked", "req-paal"),
            },
        ))
        .await
        .unwrap();

    // Refused before anything is written: a bad context, another tenant's id.
    let err = h
        .client
        .mark_recordings_deleted(as_user(
            "10009",
            pb::MarkRecordingsDeletedRequest {
                recording_ids: vec![recordings[2].1.clone()],
                context: Some(pb::ActionContext {
                    reason_code: "not a code!".into(),
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_field(&err).as_deref(), Some("context.reason_code"));
    let err = h
        .client
        .mark_recordings_deleted(as_user(
            "20001",
            pb::MarkRecordingsDeletedRequest {
                recording_ids: vec![recordings[2].1.clone()],
                context: context("not mine", "req-x"),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = h
        .client
        .update_tenant_settings(as_user(
            "10009",
            pb::UpdateTenantSettingsRequest {
                settings: Some(settings(vec![("QA", "Quality"), ("QA", "Again")])),
                context: None,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(
        violated_field(&err).as_deref(),
        Some("settings.reason_codes[1].code")
    );

    // Settings and legal hold, each once though asked twice.
    for _ in 0..2 {
        h.client
            .update_tenant_settings(as_user(
                "10009",
                pb::UpdateTenantSettingsRequest {
                    settings: Some(settings(vec![("QA", "Quality review")])),
                    context: context("new codes", "req-settings"),
                },
            ))
            .await
            .unwrap();
        h.client
            .set_legal_hold(as_user(
                "10009",
                pb::SetLegalHoldRequest {
                    call_id: recordings[2].0.clone(),
                    legal_hold: true,
                    context: context("litigation", "req-hold"),
                },
            ))
            .await
            .unwrap();
    }

    // Delivered in commit order; nothing for what changed nothing or was
    // refused as a bad request, ACCESS_DENIED for the caller refused at the door.
    h.trail.wait_for(8).await;
    // Time for anything that should not be there to arrive too.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let delivered = h.trail.events();
    assert!(
        delivered
            .iter()
            .all(|(caller, _)| caller.tenant == "10009" && caller.user_id == "system:archive-svc"),
        "the relay appends as archive-svc's system principal of the tenant"
    );
    let summary: Vec<(AuditEventKind, &str, &str)> = delivered
        .iter()
        .map(|(_, e)| {
            (
                AuditEventKind::try_from(e.kind).unwrap(),
                e.actor_id.as_str(),
                e.request_id.as_str(),
            )
        })
        .collect();
    use AuditEventKind as K;
    assert_eq!(
        summary,
        vec![
            (K::CallsIngested, "system:recording-platform", ""),
            (K::CallsIngested, "system:recording-platform", ""),
            (K::CallsIngested, "system:recording-platform", ""),
            (K::AccessDenied, "system:ops", ""),
            (K::RecordingDeleted, "paal", "req-paal-1"),
            (K::RecordingDeleted, "paal", "req-paal"),
            (K::TenantSettingsChanged, "paal", "req-settings"),
            (K::LegalHoldChanged, "paal", "req-hold"),
        ]
    );
    let refused = &delivered[3].1;
    assert_eq!(refused.actor_display_name, "ops");
    assert!(
        refused.detail.contains("MarkRecordingsDeleted"),
        "{}",
        refused.detail
    );
    let by_paal = &delivered[4].1;
    assert_eq!(
        by_paal.event_id,
        format!("recording-deleted:{}", recordings[0].1)
    );
    assert_eq!(by_paal.reason, "court order\nno. 7");
    assert_eq!(
        (by_paal.reason_code.as_str(), by_paal.case_id.as_str()),
        ("LEGAL", "CASE-1")
    );
    assert_eq!(
        (by_paal.client_address.as_str(), by_paal.user_agent.as_str()),
        ("203.0.113.9", "curl/8")
    );
    assert_eq!(by_paal.call_id, recordings[0].0);
    assert_eq!(delivered[5].1.recording_id, recordings[1].1);
    assert_eq!(delivered[7].1.detail, "set");
    h.shutdown.cancel();
}

#[tokio::test]
async fn the_recording_platform_may_only_ingest_for_its_tenants() {
    let mut h = start().await;
    let keys = keys();
    let platform = keys.platform("recording-platform", &["10009"]);

    // For a tenant its credential names, it ingests.
    let call = h
        .client
        .ingest_call(platform.request(forced_call("p-1", 1, "95214830"), "10009"))
        .await
        .unwrap()
        .into_inner();
    assert!(call.created);
    let call = call.call.unwrap();

    // For another tenant, it is refused.
    let err = h
        .client
        .ingest_call(platform.request(forced_call("p-2", 1, "95214830"), "10010"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    // Anything but ingesting is refused, even in its own tenant.
    let err = h
        .client
        .mark_recordings_deleted(platform.request(
            pb::MarkRecordingsDeletedRequest {
                recording_ids: vec![call.recordings[0].recording_id.clone()],
                context: None,
            },
            "10009",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let err = h
        .client
        .get_call(platform.request(
            pb::GetCallRequest {
                call_id: call.call_id.clone(),
            },
            "10009",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");

    // A credential it "re-signs" is not one: its claims edited to name
    // 10010 too (the authority's signature kept), or signed with a key of
    // its own claiming to be the authority.
    let forged = keys.stranger("authority", Role::Authority).issue_platform(
        "recording-platform",
        &["10009".to_owned(), "10010".to_owned()],
        TimeDelta::days(1),
    );
    let part = |c: &PlatformCredential, i: usize| c.token().split('.').nth(i).unwrap().to_owned();
    let edited = PlatformCredential::from_token(format!(
        "{}.{}.{}",
        part(&platform, 0),
        part(&forged, 1),
        part(&platform, 2)
    ));
    assert_ne!(part(&platform, 1), part(&edited, 1), "the claims differ");
    for credential in [&edited, &forged] {
        let err = h
            .client
            .ingest_call(credential.request(forced_call("p-3", 1, "95214830"), "10010"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    }
    // A service's own key cannot vouch for a user.
    let err = h
        .client
        .get_call(keys.signer("media-svc").request(
            pb::GetCallRequest {
                call_id: call.call_id.clone(),
            },
            &Principal::new("10009", "paal", "Paal Admin"),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");

    // Nothing was ingested for 10010 nor deleted in 10009.
    assert_eq!(count(&mut h, "10010").await, 0);
    let still = h
        .client
        .get_call(as_user(
            "10009",
            pb::GetCallRequest {
                call_id: call.call_id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .call
        .unwrap();
    assert_eq!(
        still.recordings[0].state,
        pb::RecordingState::Available as i32
    );

    // The ingest and each refusal at the door reach the trail, in the
    // tenant the platform acted for, with the platform as the actor; the
    // tokens that did not verify named nobody and reach nothing.
    h.trail.wait_for(4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let delivered = h.trail.events();
    let mut summary: Vec<(String, AuditEventKind, String)> = delivered
        .iter()
        .map(|(caller, e)| {
            assert_eq!(caller.user_id, "system:archive-svc");
            assert_eq!(e.actor_id, "system:recording-platform");
            (
                caller.tenant.clone(),
                AuditEventKind::try_from(e.kind).unwrap(),
                e.detail.clone(),
            )
        })
        .collect();
    summary.sort();
    assert_eq!(summary.len(), 4, "{summary:#?}");
    let kinds: Vec<(&str, AuditEventKind)> = summary
        .iter()
        .map(|(tenant, kind, _)| (tenant.as_str(), *kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("10009", AuditEventKind::AccessDenied),
            ("10009", AuditEventKind::AccessDenied),
            ("10009", AuditEventKind::CallsIngested),
            ("10010", AuditEventKind::AccessDenied),
        ]
    );
    let named = |rpc: &str, tenant: &str| {
        summary.iter().any(|(t, kind, detail)| {
            t == tenant && *kind == AuditEventKind::AccessDenied && detail.contains(rpc)
        })
    };
    assert!(named("IngestCall", "10010"), "{summary:#?}");
    assert!(named("MarkRecordingsDeleted", "10009"), "{summary:#?}");
    assert!(named("GetCall", "10009"), "{summary:#?}");
    h.shutdown.cancel();
}
