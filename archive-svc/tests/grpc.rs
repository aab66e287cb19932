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
    identity::{IdentityKey, PlatformCredential, Role},
};
use archive_proto::v1::{self as pb, AuditEventKind, call_event::Kind};
use chrono::{Duration as TimeDelta, Utc};
use common::{Harness, as_platform, as_user, gateway, keys, media::StandInMedia};
use test_support::calls::recorded_call;
use tonic::{Code, Request, Status};

async fn start() -> Harness {
    start_failing(2).await
}

/// A harness whose media-svc fails its first `fail_first` deletions.
async fn start_failing(fail_first: u32) -> Harness {
    let media = StandInMedia {
        fail_first: Arc::new(Mutex::new(fail_first)),
        ..Default::default()
    };
    Harness::start_in(tempfile::tempdir().unwrap(), media).await
}

/// A page of `page_size` of `tenant`'s calls, as Paal searches.
async fn search(
    h: &mut Harness,
    tenant: &str,
    request: pb::SearchCallsRequest,
) -> Result<pb::SearchCallsResponse, Status> {
    let response = h.client.search_calls(as_user(tenant, request));
    response.await.map(tonic::Response::into_inner)
}

/// A search of the first `page_size` calls after `page_token`.
fn page(page_size: i32, page_token: &str) -> pb::SearchCallsRequest {
    pb::SearchCallsRequest {
        page_size,
        page_token: page_token.into(),
        ..Default::default()
    }
}

async fn count(h: &mut Harness, tenant: &str) -> usize {
    search(h, tenant, page(1000, "")).await.unwrap().calls.len()
}

/// `err` is INVALID_ARGUMENT naming `field`.
#[track_caller]
fn assert_invalid(err: &Status, field: &str) {
    assert_eq!(err.code(), Code::InvalidArgument, "{field}: {err:?}");
    assert_eq!(violated_field(err).as_deref(), Some(field), "{err:?}");
}

/// The code a call that must fail failed with; the error is printed, so
/// that the test output shows it when the code is not the one expected.
fn code<T: std::fmt::Debug>(result: Result<T, Status>) -> Code {
    let err = result.unwrap_err();
    eprintln!("refused as expected: {err:?}");
    err.code()
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
    h.ingest("10009", forced_call("ok", 1, "95214830")).await;

    let edited = |session: &str, edit: fn(&mut pb::IngestCallRequest)| {
        let mut call = forced_call(session, 1, "1");
        edit(&mut call);
        call
    };
    let cases = [
        (edited("", |c| c.session_id.clear()), "session_id"),
        (forced_call("x'; DROP TABLE calls;--", 1, "1"), "session_id"),
        (forced_call("a", 1, "12ab"), "caller_number"),
        (
            forced_call("b", 1, "1'; DELETE FROM calls;--"),
            "caller_number",
        ),
        (forced_call("c", 1, &"9".repeat(40)), "caller_number"),
        (
            edited("d", |c| {
                c.events[1].kind = Some(Kind::AgentConnected(pb::AgentConnected {
                    agent: "x".repeat(201),
                    forced_recording: false,
                }))
            }),
            "events[1].agent_connected.agent",
        ),
        (edited("e", |c| c.events.swap(1, 2)), "events[2].time"),
        (edited("f", |c| c.events[0].kind = None), "events[0].kind"),
        (
            edited("g", |c| c.start_time = epoch_plus(253_402_300_800 * 2)),
            "start_time",
        ),
        (edited("h", |c| c.access_point = None), "access_point"),
    ];
    for (request, field) in cases {
        let err = h.client.ingest_call(as_platform("10009", request)).await;
        assert_invalid(&err.unwrap_err(), field);
    }
    // A batch with one bad call writes none of them.
    let batch = pb::BatchIngestCallsRequest {
        calls: vec![
            forced_call("batch-ok", 1, "1"),
            forced_call("batch-bad", 1, "x"),
        ],
    };
    let err = h.client.batch_ingest_calls(as_platform("10009", batch));
    assert_invalid(&err.await.unwrap_err(), "calls[1].caller_number");
    assert_eq!(count(&mut h, "10009").await, 1, "nothing was written");

    let search_of = |filter: pb::CallFilter, order: i32, page_size: i32| pb::SearchCallsRequest {
        filter: Some(filter),
        order,
        page_size,
        page_token: String::new(),
        scope: None,
    };
    // A page of 10, newest first, of the filter `edit` makes.
    let filtered = |edit: &dyn Fn(&mut pb::CallFilter)| {
        let mut filter = pb::CallFilter::default();
        edit(&mut filter);
        search_of(filter, 0, 10)
    };
    let ts = |days: i64| Some(timestamp(Utc::now() - TimeDelta::days(days)));
    let seconds = |seconds: i64| Some(prost_types::Duration { seconds, nanos: 0 });
    let search_cases = [
        (search_of(Default::default(), 0, 1001), "page_size"),
        (search_of(Default::default(), 0, -1), "page_size"),
        (search_of(Default::default(), 7, 10), "order"),
        (
            filtered(&|f| (f.start_time_from, f.start_time_to) = (ts(1), ts(2))),
            "filter.start_time_to",
        ),
        (
            filtered(&|f| f.start_time_from = epoch_plus(-99_999_999_999)),
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
        assert_invalid(&search(&mut h, "10009", request).await.unwrap_err(), field);
    }
    // Text filters with SQL metacharacters are matched literally, not executed.
    let literal = pb::CallFilter {
        agent: "x' OR '1'='1".into(),
        ..Default::default()
    };
    let found = search(&mut h, "10009", search_of(literal, 0, 10)).await;
    assert!(found.unwrap().calls.is_empty());
}

#[tokio::test]
async fn tenants_never_see_each_other_and_page_tokens_are_bound() {
    let mut h = start().await;
    let mine = h.ingest("10009", forced_call("t-1", 1, "95214830")).await;
    for i in 0..3 {
        let session = format!("t-{}", i + 2);
        h.ingest("10009", forced_call(&session, 2 + i, "95214830"))
            .await;
    }
    // The same session id in another tenant is another call.
    let theirs = as_platform("20002", forced_call("t-1", 1, "95214830"));
    let theirs = h.client.ingest_call(theirs).await.unwrap().into_inner();
    assert!(theirs.created);
    assert_eq!(count(&mut h, "20002").await, 1);

    let rec = mine.recordings[0].recording_id.clone();
    fn other<T>(message: T) -> Request<T> {
        as_user("20002", message)
    }
    let call_id = mine.call_id.clone();
    let get = pb::GetCallRequest {
        call_id: call_id.clone(),
    };
    assert_eq!(code(h.client.get_call(other(get)).await), Code::NotFound);
    let batch = pb::BatchGetRecordingsRequest {
        recording_ids: vec![rec.clone()],
    };
    let found = h.client.batch_get_recordings(other(batch)).await;
    assert_eq!(code(found), Code::NotFound);
    assert_eq!(code(h.delete("20002", &[&rec], None).await), Code::NotFound);
    let hold = pb::SetLegalHoldRequest {
        context: Default::default(),
        call_id: call_id.clone(),
        legal_hold: true,
    };
    let held = h.client.set_legal_hold(other(hold)).await;
    assert_eq!(code(held), Code::NotFound);
    let still = common::call_of(&mut h.client, call_id).await;
    assert_eq!(
        still.recordings[0].state,
        pb::RecordingState::Available as i32
    );
    assert!(!still.legal_hold);

    // A page token works for its tenant and filter only.
    let first = search(&mut h, "10009", page(2, "")).await.unwrap();
    assert_eq!(first.calls.len(), 2);
    let token = first.next_page_token;
    let second = search(&mut h, "10009", page(2, &token)).await.unwrap();
    assert_eq!(second.calls.len(), 2);
    assert!(second.next_page_token.is_empty());
    let with_recording = pb::SearchCallsRequest {
        filter: Some(pb::CallFilter {
            has_recording: true,
            ..Default::default()
        }),
        ..page(2, &token)
    };
    for (tenant, request) in [("20002", page(2, &token)), ("10009", with_recording)] {
        assert_invalid(
            &search(&mut h, tenant, request).await.unwrap_err(),
            "page_token",
        );
    }
}

/// Settings with these retention days.
fn retention(recordings: u32, metadata: u32) -> pb::TenantSettings {
    pb::TenantSettings {
        recording_retention_days: recordings,
        metadata_retention_days: metadata,
        ..settings(vec![])
    }
}

#[tokio::test]
async fn deletions_and_expiry_reach_media_svc_despite_failures() {
    let mut h = start().await;
    let recent = h.ingest("10009", forced_call("r-1", 1, "95214830")).await;
    let old = h.ingest("10009", forced_call("r-2", 40, "95214830")).await;

    // Delete: marker now, file deletion retried until media-svc takes it (it fails twice first).
    let recent_id = recent.recordings[0].recording_id.clone();
    let marked = h.delete("10009", &[&recent_id], None).await.unwrap();
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
    assert_eq!(deleted[0], ("10009".to_owned(), recent_id));

    // Retention: 30 days of recordings expires the 40-day-old one, on demand.
    update_settings(&mut h, retention(30, 365), None)
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
    let delivered = |h: &Harness| {
        let mut events = h.trail.events().into_iter().map(|(_, e)| e);
        events.find(|e| e.event_id == expired_id)
    };
    for _ in 0..200 {
        if delivered(&h).is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let expiry = delivered(&h).expect("RETENTION_EXPIRED delivered");
    assert_eq!(expiry.actor_id, "system:retention");
    assert_eq!(expiry.kind, AuditEventKind::RetentionExpired as i32);
    let old_now = first_state(&mut h, old.call_id).await;
    let expired = pb::RecordingState::Expired;
    assert_eq!(old_now, expired, "the row stays, without its file");

    // Metadata retention shorter than recording retention is refused.
    let err = update_settings(&mut h, retention(30, 10), None).await;
    let err = err.unwrap_err();
    assert_eq!(
        violated_field(&err).as_deref(),
        Some("settings.metadata_retention_days")
    );
    assert_eq!(count(&mut h, "10009").await, 2);
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

/// Every tenant's pending deletions, `page_size` at a time.
fn all_tenants(page_size: i32) -> pb::ListPendingMediaDeletionsRequest {
    pb::ListPendingMediaDeletionsRequest {
        all_tenants: true,
        page_size,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_deletion_reaches_media_svc_before_the_user_is_answered() {
    let mut h = start_failing(0).await;
    let call = h.ingest("10009", forced_call("i-1", 1, "95214831")).await;
    let id = call.recordings[0].recording_id.clone();
    h.delete("10009", &[&id], None).await.unwrap();
    // Asked and confirmed before the answer: nothing left pending.
    assert_eq!(
        h.media.deleted.lock().unwrap().clone(),
        [("10009".to_owned(), id.clone())]
    );
    let media_svc = Principal::system("*", "media-svc");
    // The gateway's key may sign that name too; only media-svc's own key lists every tenant's.
    let forged = pending(&mut h, &gateway(), &media_svc, all_tenants(0)).await;
    assert_eq!(code(forged), Code::PermissionDenied);
    let media_key = keys().signer("media-svc");
    let all = pending(&mut h, &media_key, &media_svc, all_tenants(0)).await;
    assert!(all.as_ref().unwrap().is_empty(), "{all:?}");

    // A media-svc that hangs holds the answer up for the delete wait only;
    // the deletion stays pending for media-svc to find and the outbox to retry.
    *h.media.delay.lock().unwrap() = Duration::from_secs(20);
    let mut ids = Vec::new();
    for (tenant, session) in [("10009", "i-2"), ("20001", "i-3")] {
        let call = h.ingest(tenant, forced_call(session, 1, "95214832")).await;
        ids.push(call.recordings[0].recording_id.clone());
    }
    let (a, b) = (ids[0].clone(), ids[1].clone());
    let started = std::time::Instant::now();
    for (tenant, id) in [("10009", &a), ("20001", &b)] {
        h.delete(tenant, &[id], None).await.unwrap();
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
    let all = pending(&mut h, &media_key, &media_svc, all_tenants(1))
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
    let refused = pending(&mut h, &gateway(), &paal, all_tenants(0)).await;
    assert_eq!(code(refused), Code::PermissionDenied);
    let listing = |page_size, page_token: &str| pb::ListPendingMediaDeletionsRequest {
        page_size,
        page_token: page_token.into(),
        ..Default::default()
    };
    for (request, field) in [
        (listing(1001, ""), "page_size"),
        (listing(0, "not a token"), "page_token"),
    ] {
        let err = pending(&mut h, &gateway(), &paal, request).await;
        assert_invalid(&err.unwrap_err(), field);
    }
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

/// Paal of 10009 changing its settings.
async fn update_settings(
    h: &mut Harness,
    settings: pb::TenantSettings,
    context: Option<pb::ActionContext>,
) -> Result<(), Status> {
    let request = pb::UpdateTenantSettingsRequest {
        settings: Some(settings),
        context,
    };
    let response = h.client.update_tenant_settings(as_user("10009", request));
    response.await.map(drop)
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
        let call = h.ingest("10009", forced_call(session, 1, "95214830")).await;
        recordings.push((
            call.call_id.clone(),
            call.recordings[0].recording_id.clone(),
        ));
    }
    // A retry of an ingest creates and records nothing.
    h.ingest("10009", forced_call("t-1", 1, "95214830")).await;

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
    assert_eq!(
        first_state(&mut h, recordings[0].0.clone()).await,
        pb::RecordingState::Available
    );
    let (first, second, third) = (&recordings[0].1, &recordings[1].1, &recordings[2].1);
    // A user through the gateway is the actor, with the action's context…
    let court_order = context("court order\nno. 7", "req-paal-1");
    h.delete("10009", &[first], court_order).await.unwrap();
    // …and the recording deleted before records nothing again.
    let asked = context("customer asked", "req-paal");
    h.delete("10009", &[first, second], asked).await.unwrap();

    // Refused before anything is written: a bad context, another tenant's id.
    let bad = Some(pb::ActionContext {
        reason_code: "not a code!".into(),
        ..Default::default()
    });
    let err = h.delete("10009", &[third], bad).await.unwrap_err();
    assert_eq!(violated_field(&err).as_deref(), Some("context.reason_code"));
    let not_mine = context("not mine", "req-x");
    let err = h.delete("20001", &[third], not_mine).await;
    assert_eq!(code(err), Code::NotFound);
    let twice = settings(vec![("QA", "Quality"), ("QA", "Again")]);
    let err = update_settings(&mut h, twice, None).await.unwrap_err();
    assert_eq!(
        violated_field(&err).as_deref(),
        Some("settings.reason_codes[1].code")
    );

    // Settings and legal hold, each once though asked twice.
    for _ in 0..2 {
        let new_codes = settings(vec![("QA", "Quality review")]);
        let changed = update_settings(&mut h, new_codes, context("new codes", "req-settings"));
        changed.await.unwrap();
        let hold = pb::SetLegalHoldRequest {
            call_id: recordings[2].0.clone(),
            legal_hold: true,
            context: context("litigation", "req-hold"),
        };
        h.client
            .set_legal_hold(as_user("10009", hold))
            .await
            .unwrap();
    }

    // Delivered in commit order; nothing for what changed nothing or was
    // refused as a bad request, ACCESS_DENIED for the caller refused at the door.
    let delivered = settled_trail(&h, 8).await;
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
    assert_eq!(delivered[7].1.detail, "legal_hold: false -> true");
}

#[tokio::test]
async fn the_recording_platform_may_only_ingest_for_its_tenants() {
    let mut h = start().await;
    let keys = keys();
    let platform = keys.platform("recording-platform", &["10009"]);

    // For a tenant its credential names, it ingests.
    let own = platform.request(forced_call("p-1", 1, "95214830"), "10009");
    let call = h.client.ingest_call(own).await.unwrap().into_inner();
    assert!(call.created);
    let call = call.call.unwrap();

    // For another tenant, it is refused.
    let elsewhere = platform.request(forced_call("p-2", 1, "95214830"), "10010");
    let ingested = h.client.ingest_call(elsewhere).await;
    assert_eq!(code(ingested), Code::PermissionDenied);
    // Anything but ingesting is refused, even in its own tenant.
    let delete = pb::MarkRecordingsDeletedRequest {
        recording_ids: vec![call.recordings[0].recording_id.clone()],
        context: None,
    };
    let deleted = h
        .client
        .mark_recordings_deleted(platform.request(delete, "10009"));
    assert_eq!(code(deleted.await), Code::PermissionDenied);
    let get = || pb::GetCallRequest {
        call_id: call.call_id.clone(),
    };
    let read = h.client.get_call(platform.request(get(), "10009")).await;
    assert_eq!(code(read), Code::PermissionDenied);

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
        let request = credential.request(forced_call("p-3", 1, "95214830"), "10010");
        assert_eq!(
            code(h.client.ingest_call(request).await),
            Code::Unauthenticated
        );
    }
    // A service's own key cannot vouch for a user.
    let paal = Principal::new("10009", "paal", "Paal Admin");
    let vouched = keys.signer("media-svc").request(get(), &paal);
    let err = h.client.get_call(vouched).await;
    assert_eq!(code(err), Code::Unauthenticated);

    // Nothing was ingested for 10010 nor deleted in 10009.
    assert_eq!(count(&mut h, "10010").await, 0);
    assert_eq!(
        first_state(&mut h, call.call_id.clone()).await,
        pb::RecordingState::Available
    );

    // The ingest and each refusal at the door reach the trail, in the
    // tenant the platform acted for, with the platform as the actor; the
    // tokens that did not verify named nobody and reach nothing.
    let delivered = settled_trail(&h, 4).await;
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
}

/// The trail once `n` events arrived and anything more had time to.
async fn settled_trail(h: &Harness, n: usize) -> Vec<(Principal, pb::AuditEvent)> {
    h.trail.wait_for(n).await;
    // Time for anything that should not be there to arrive too.
    tokio::time::sleep(Duration::from_millis(500)).await;
    h.trail.events()
}

/// The state of the first recording of 10009's call `call_id`.
async fn first_state(h: &mut Harness, call_id: String) -> pb::RecordingState {
    let call = common::call_of(&mut h.client, call_id).await;
    pb::RecordingState::try_from(call.recordings[0].state).unwrap()
}

/// The time `seconds` after the epoch.
fn epoch_plus(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

/// A recorded call of `days_ago` days ago.
fn forced_call(session: &str, days_ago: i64, caller: &str) -> pb::IngestCallRequest {
    recorded_call(session, caller, Utc::now() - TimeDelta::days(days_ago))
}
