//! AppendEvent and AppendEvents over gRPC against a real server: receipts,
//! all or none, event ids, who may name the actor, event time bounds and
//! commit deadlines — including one that passes while audit-svc is blocked
//! on the database (SQLite's write lock, PostgreSQL's tenant lock held by the
//! test), after which nothing may appear in the trail.

// Test crates see every dependency of the library; they use only a few.
#![allow(unused_crate_dependencies)]

mod support;

use std::time::Duration;

use archive_common::{Principal, convert, error::violated_field};
use archive_proto::v1::{self as pb, AuditEventKind, audit_service_client::AuditServiceClient};
use audit_svc::client::{AuditClient, COMMIT_BOUND};
use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{Connection, Executor, PgConnection, SqliteConnection};
use support::{
    Server, client, event, key, key_for, on_sqlite, paal, sqlite_url, start, verify_chain,
};
use test_support::postgres::ScratchDatabase;
use tonic::{Code, Status, transport::Channel};

type Client = AuditServiceClient<Channel>;

async fn append_events(
    c: &mut Client,
    as_: &Principal,
    events: Vec<pb::AuditEvent>,
    deadline: Option<DateTime<Utc>>,
) -> Result<Vec<pb::AppendEventResponse>, Status> {
    c.append_events(key_for(as_).request(
        pb::AppendEventsRequest {
            events,
            commit_deadline: deadline.map(convert::timestamp),
        },
        as_,
    ))
    .await
    .map(|r| r.into_inner().receipts)
}

async fn append_one(
    c: &mut Client,
    as_: &Principal,
    e: pb::AuditEvent,
) -> Result<pb::AppendEventResponse, Status> {
    c.append_event(key_for(as_).request(
        pb::AppendEventRequest {
            event: Some(e),
            commit_deadline: None,
        },
        as_,
    ))
    .await
    .map(|r| r.into_inner())
}

async fn listed(
    c: &mut Client,
    as_: &Principal,
    request: pb::ListEventsRequest,
) -> Vec<pb::AuditEvent> {
    c.list_events(key().request(request, as_))
        .await
        .unwrap()
        .into_inner()
        .events
}

async fn count(c: &mut Client) -> usize {
    listed(
        c,
        &paal(),
        pb::ListEventsRequest {
            page_size: 1000,
            ..Default::default()
        },
    )
    .await
    .len()
}

fn with_id(e: pb::AuditEvent, id: &str) -> pb::AuditEvent {
    pb::AuditEvent {
        event_id: id.into(),
        ..e
    }
}

fn refusal(result: Result<impl std::fmt::Debug, Status>) -> (Code, Option<String>) {
    let status = result.unwrap_err();
    (status.code(), violated_field(&status))
}

#[tokio::test]
async fn append_events_is_all_or_none_with_receipts_in_order() {
    let (_dir, server, mut c) = on_sqlite().await;
    use AuditEventKind::*;

    // An export: its event and one per recording, in one request.
    let mut export = with_id(event(ExportCreated, "", "GDPR request"), "export:e-1");
    export.request_id = "req-77".into();
    export.reason_code = "GDPR".into();
    export.case_id = "CASE-9".into();
    export.detail = "export e-1: 2 recordings".into();
    let mut first = event(RecordingDownloaded, "rec-1", "GDPR request");
    first.request_id = "req-77".into();
    let mut second = with_id(
        event(RecordingDownloaded, "rec-2", "GDPR request"),
        "dl:e-1:rec-2",
    );
    second.request_id = "req-77".into();
    let request = vec![export, first, second];
    let receipts = append_events(&mut c, &paal(), request.clone(), None)
        .await
        .unwrap();
    let seqs: Vec<u64> = receipts.iter().map(|r| r.sequence).collect();
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(receipts[0].event_id, "export:e-1");
    assert_eq!(receipts[1].event_id.len(), 36, "a fresh UUID");
    assert_eq!(receipts[2].event_id, "dl:e-1:rec-2");
    assert!(receipts.iter().all(|r| !r.duplicate && r.hash.len() == 64));

    // The action's context is stored and filterable.
    let events = listed(
        &mut c,
        &paal(),
        pb::ListEventsRequest {
            request_id: "req-77".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(events.len(), 3);
    let e = &events[2];
    assert_eq!(
        (
            e.event_id.as_str(),
            e.request_id.as_str(),
            e.reason_code.as_str(),
            e.case_id.as_str()
        ),
        ("export:e-1", "req-77", "GDPR", "CASE-9")
    );
    assert_eq!(e.hash, receipts[0].hash);
    type Filter = fn(&mut pb::ListEventsRequest);
    let filters: [(Filter, u64); 3] = [
        (|f| f.reason_code = "GDPR".into(), 1),
        (|f| f.case_id = "CASE-9".into(), 1),
        (|f| f.call_id = "call-rec-2".into(), 3),
    ];
    for (filter, expected) in filters {
        let mut request = pb::ListEventsRequest::default();
        filter(&mut request);
        let seqs: Vec<u64> = listed(&mut c, &paal(), request)
            .await
            .iter()
            .map(|e| e.sequence)
            .collect();
        assert_eq!(seqs, [expected]);
    }
    let bad_filter = c
        .list_events(key().request(
            pb::ListEventsRequest {
                reason_code: "not a code".into(),
                ..Default::default()
            },
            &paal(),
        ))
        .await;
    assert_eq!(
        refusal(bad_filter),
        (Code::InvalidArgument, Some("reason_code".into()))
    );

    // A retry with the same event ids appends nothing and answers the
    // stored receipts (the event without an id got a fresh one, so it is
    // new: callers that retry give every event an id).
    let mut retry = request.clone();
    retry.remove(1);
    let again = append_events(&mut c, &paal(), retry, None).await.unwrap();
    assert!(again.iter().all(|r| r.duplicate));
    assert_eq!((again[0].sequence, again[1].sequence), (1, 3), "{again:?}");
    assert_eq!(again[1].hash, receipts[2].hash);
    assert_eq!(count(&mut c).await, 3);

    // The same id for a different event: ALREADY_EXISTS naming the field,
    // and nothing of the request is appended.
    let clash = with_id(event(RecordingDeleted, "rec-1", ""), "export:e-1");
    assert_eq!(
        refusal(append_one(&mut c, &paal(), clash.clone()).await),
        (Code::AlreadyExists, Some("event.event_id".into()))
    );
    let new = with_id(event(PlaybackStarted, "rec-3", ""), "play:rec-3");
    assert_eq!(
        refusal(append_events(&mut c, &paal(), vec![new.clone(), clash], None).await),
        (Code::AlreadyExists, Some("events[1].event_id".into()))
    );
    assert_eq!(count(&mut c).await, 3);

    // A bad event refuses the request before anything is appended.
    let cases = [
        (
            vec![new.clone(), event(Unspecified, "r", "")],
            "events[1].kind",
        ),
        (
            vec![
                new.clone(),
                with_id(event(PlaybackStarted, "r", ""), "play:rec-3"),
            ],
            "events[1].event_id",
        ),
        (vec![], "events"),
        (vec![event(PlaybackStarted, "r", ""); 2001], "events"),
    ];
    for (events, field) in cases {
        assert_eq!(
            refusal(append_events(&mut c, &paal(), events, None).await),
            (Code::InvalidArgument, Some(field.into()))
        );
    }
    assert_eq!(count(&mut c).await, 3);
    let unauthenticated = c
        .append_events(pb::AppendEventsRequest {
            events: vec![new.clone()],
            commit_deadline: None,
        })
        .await;
    assert_eq!(refusal(unauthenticated).0, Code::Unauthenticated);

    // The most one request may carry, in one transaction: consecutive.
    let many = vec![event(PlaybackStarted, "r", ""); 2000];
    let receipts = append_events(&mut c, &paal(), many, None).await.unwrap();
    assert_eq!(receipts.first().unwrap().sequence, 4);
    assert_eq!(receipts.last().unwrap().sequence, 2003);
    let report = verify_chain(&mut c, &paal()).await;
    assert!(report.intact, "{report:?}");
    assert_eq!(report.events_checked, 2003);
    server.stop().await;
}

#[tokio::test]
async fn only_system_callers_name_the_actor_and_report_old_actions() {
    let (_dir, server, mut c) = on_sqlite().await;
    let relay = Principal::system("10009", "archive-outbox");
    let now = Utc::now();
    let at = |t: DateTime<Utc>| Some(convert::timestamp(t));

    // The outbox relays a user's deletion an hour later: the user is the
    // actor, the action's time is kept.
    let an_hour_ago = now - TimeDelta::hours(1);
    let mut deleted = with_id(
        event(AuditEventKind::RecordingDeleted, "rec-1", "GDPR request"),
        "recording-deleted:rec-1",
    );
    deleted.actor_id = "rita".into();
    deleted.actor_display_name = "Rita Reason".into();
    deleted.event_time = at(an_hour_ago);
    append_events(&mut c, &relay, vec![deleted.clone()], None)
        .await
        .unwrap();
    // A user naming someone else is ignored: the caller is the actor.
    let mut forged = deleted.clone();
    forged.event_id = "forged".into();
    forged.event_time = None;
    append_events(&mut c, &paal(), vec![forged], None)
        .await
        .unwrap();
    // A system caller naming nobody is the actor itself.
    let sweep = event(AuditEventKind::RetentionExpired, "rec-9", "");
    append_events(&mut c, &relay, vec![sweep], None)
        .await
        .unwrap();

    let events = listed(&mut c, &paal(), Default::default()).await;
    let actors: Vec<(&str, &str)> = events
        .iter()
        .rev()
        .map(|e| (e.actor_id.as_str(), e.actor_display_name.as_str()))
        .collect();
    assert_eq!(
        actors,
        [
            ("rita", "Rita Reason"),
            ("paal", "Paal Admin"),
            ("system:archive-outbox", "archive-outbox")
        ]
    );
    assert_eq!(
        convert::from_timestamp(events[2].event_time.as_ref().unwrap(), "t").unwrap(),
        // The trail keeps microseconds.
        convert::from_micros(convert::micros(an_hour_ago))
    );

    // Event time bounds: nobody more than 60 s ahead; a user's at most 10
    // minutes old.
    let mut ahead = event(AuditEventKind::PlaybackStarted, "r", "");
    ahead.event_time = at(now + TimeDelta::seconds(90));
    for caller in [&relay, &paal()] {
        assert_eq!(
            refusal(append_events(&mut c, caller, vec![ahead.clone()], None).await),
            (Code::InvalidArgument, Some("events[0].event_time".into()))
        );
    }
    let mut old = event(AuditEventKind::PlaybackStarted, "r", "");
    old.event_time = at(now - TimeDelta::minutes(11));
    assert_eq!(
        refusal(append_one(&mut c, &paal(), old.clone()).await),
        (Code::InvalidArgument, Some("event.event_time".into()))
    );
    let mut recent = old.clone();
    recent.event_time = at(now - TimeDelta::minutes(9));
    append_one(&mut c, &paal(), recent).await.unwrap();
    append_one(&mut c, &relay, old).await.unwrap();
    assert_eq!(count(&mut c).await, 5);
    server.stop().await;
}

#[tokio::test]
async fn a_deadline_already_passed_appends_nothing() {
    let (_dir, server, mut c) = on_sqlite().await;
    let e = with_id(
        event(AuditEventKind::PlaybackStarted, "rec-1", ""),
        "play:req-1",
    );
    let passed = Utc::now() - TimeDelta::milliseconds(1);
    assert_eq!(
        refusal(append_events(&mut c, &paal(), vec![e.clone()], Some(passed)).await).0,
        Code::DeadlineExceeded
    );
    let single = c
        .append_event(key().request(
            pb::AppendEventRequest {
                event: Some(e.clone()),
                commit_deadline: Some(convert::timestamp(passed)),
            },
            &paal(),
        ))
        .await;
    assert_eq!(refusal(single).0, Code::DeadlineExceeded);
    assert_eq!(count(&mut c).await, 0);

    // In time, through the client the gateway uses.
    let client = AuditClient::connect_lazy(&server.url(), key()).unwrap();
    let deadline = Utc::now() + TimeDelta::seconds(3);
    let receipts = client
        .append_events(&paal(), vec![e.clone()], Some(deadline))
        .await
        .unwrap();
    assert_eq!((receipts[0].sequence, receipts[0].duplicate), (1, false));
    // A retry of the same request id is answered from the trail.
    let retried = client
        .append_events(&paal(), vec![e], Some(Utc::now() + TimeDelta::seconds(3)))
        .await
        .unwrap();
    assert_eq!((retried[0].sequence, retried[0].duplicate), (1, true));
    assert_eq!(count(&mut c).await, 1);
    server.stop().await;
}

/// Starts an append whose deadline is `deadline_in` away while the test
/// blocks audit-svc, keeps it blocked for `blocked`, then releases it and
/// answers the append's outcome. Afterwards the trail must not hold it.
async fn blocked_past_the_deadline(
    server: &Server,
    block: impl std::future::Future<Output = ()>,
    release: impl std::future::Future<Output = ()>,
    blocked: Duration,
    through_client: bool,
) -> Status {
    let deadline = Utc::now() + TimeDelta::seconds(1);
    block.await;
    let e = with_id(
        event(AuditEventKind::PlaybackStarted, "rec-1", ""),
        "play:req-2",
    );
    let pending = if through_client {
        let client = AuditClient::connect_lazy(&server.url(), key()).unwrap();
        tokio::spawn(async move {
            client
                .append_events(&paal(), vec![e], Some(deadline))
                .await
                .map(|_| ())
        })
    } else {
        let mut c = client(server).await;
        tokio::spawn(async move {
            append_events(&mut c, &paal(), vec![e], Some(deadline))
                .await
                .map(|_| ())
        })
    };
    tokio::time::sleep(blocked).await;
    release.await;
    let outcome = pending.await.unwrap().unwrap_err();
    // Give a late commit every chance to show up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut c = client(server).await;
    assert_eq!(count(&mut c).await, 0, "an expired append was committed");
    // The trail works on.
    assert_eq!(
        append_one(
            &mut c,
            &paal(),
            event(AuditEventKind::PlaybackStarted, "r", "")
        )
        .await
        .unwrap()
        .sequence,
        1
    );
    outcome
}

#[tokio::test]
async fn sqlite_a_deadline_passing_while_the_database_is_locked_appends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let server = start(&url).await;
    let lock = tokio::sync::Mutex::new(SqliteConnection::connect(&url).await.unwrap());
    // Released before the client gives up: audit-svc itself answers.
    let status = blocked_past_the_deadline(
        &server,
        async {
            lock.lock().await.execute("BEGIN IMMEDIATE").await.unwrap();
        },
        async {
            lock.lock().await.execute("ROLLBACK").await.unwrap();
        },
        Duration::from_millis(1500),
        false,
    )
    .await;
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    server.stop().await;
}

#[tokio::test]
async fn postgres_a_deadline_passing_while_the_tenant_is_locked_appends_nothing() {
    let Some(db) = ScratchDatabase::create("audit_append").await else {
        return;
    };
    let server = start(&db.url).await;
    let lock = tokio::sync::Mutex::new(PgConnection::connect(&db.url).await.unwrap());
    // The lock audit-svc takes for the tenant's appends.
    let key = audit_svc::store::tenant_lock_key("10009");
    // Released after the client gave up (deadline + COMMIT_BOUND): the
    // client reports failure, and the trail must agree once audit-svc runs on.
    let status = blocked_past_the_deadline(
        &server,
        async {
            lock.lock()
                .await
                .execute(format!("SELECT pg_advisory_lock({key})").as_str())
                .await
                .unwrap();
        },
        async {
            lock.lock()
                .await
                .execute(format!("SELECT pg_advisory_unlock({key})").as_str())
                .await
                .unwrap();
        },
        Duration::from_secs(1) + COMMIT_BOUND + Duration::from_millis(500),
        true,
    )
    .await;
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    server.stop().await;
}
