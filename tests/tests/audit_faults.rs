//! The audit trail matches what users were told when processes fail, with
//! the services in processes of their own on PostgreSQL (this test binary,
//! re-executed to run only `child_process`):
//!
//! - audit-svc frozen (SIGSTOP) while users press Play: their playbacks fail
//!   after the commit deadline, and after SIGCONT the trail holds no event
//!   for them — then a retry of the same click is recorded once;
//! - archive-svc killed (SIGKILL) in the middle of a delete's transaction
//!   (held on a row lock): no marker and no event; the user's retry with the
//!   same request id deletes and is recorded exactly once.

#![allow(unused_crate_dependencies)]

mod common;

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use archive_common::{identity::KeySet, shutdown::CancellationToken};
use archive_proto::v1::{self as pb, archive_service_client::ArchiveServiceClient};
use common::{
    audit_events_where, authed,
    child::{ChildService, free_port, settings},
    client_at, extra_gateway, recordings, start_suite,
};
use gateway::suite::Suite;
use sqlx::{Connection, PgConnection};
use test_support::postgres::ScratchDatabase;
use tonic::{Code, transport::Channel};

/// `service|database url|listen|keys directory|audit url|media url`.
const CHILD_ENV: &str = "ARCHIVE_E2E_AUDIT_FAULTS_CHILD";
const CHILD_TEST: &str = "child_process";

#[test]
#[ignore = "a service process of the tests below, which start it"]
fn child_process() {
    let [service, db, listen, secret, audit, media] = settings::<6>(CHILD_ENV);
    let (db, secret, audit, media) = (db.as_str(), secret.as_str(), audit.as_str(), media.as_str());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await.unwrap();
        let stop = CancellationToken::new();
        match service.as_str() {
            "audit-svc" => audit_svc::run(
                audit_svc::Config::new(db, KeySet::new(secret).config("audit-svc")),
                listener,
                stop,
            )
            .await
            .unwrap(),
            "archive-svc" => {
                let mut config =
                    archive_svc::Config::new(db, KeySet::new(secret).config("archive-svc"));
                config.audit_url = Some(audit.to_owned());
                config.media_url = Some(media.to_owned());
                archive_svc::run(config, listener, stop).await.unwrap();
            }
            other => panic!("unknown service {other}"),
        }
    });
}

/// `service` (audit-svc or archive-svc) in its own process on `listen`.
async fn process_at(
    listen: SocketAddr,
    service: &str,
    db: &str,
    keys_dir: &str,
    audit: &str,
    media: &str,
) -> ChildService {
    let listen_text = listen.to_string();
    ChildService::start(
        CHILD_TEST,
        CHILD_ENV,
        &[service, db, &listen_text, keys_dir, audit, media],
        listen,
    )
    .await
}

async fn process(
    service: &str,
    db: &str,
    keys_dir: &str,
    audit: &str,
    media: &str,
) -> ChildService {
    process_at(free_port(), service, db, keys_dir, audit, media).await
}

async fn events(
    gateway: &mut ArchiveServiceClient<Channel>,
    suite: &Suite,
    filter: pb::ListEventsRequest,
) -> Vec<pb::AuditEvent> {
    audit_events_where(gateway.clone(), suite, filter).await
}

fn playback(
    suite: &Suite,
    recording: &str,
    request_id: &str,
) -> tonic::Request<pb::StartPlaybackRequest> {
    authed(
        suite,
        "sara",
        pb::StartPlaybackRequest {
            recording_id: recording.into(),
            request_id: request_id.into(),
            ..Default::default()
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_audit_svc_leaves_no_event_for_a_playback_the_user_was_told_failed() {
    let Some(db) = ScratchDatabase::create("e2e_audit_frozen").await else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    let secret = suite.keys.dir.display().to_string();
    let audit = process("audit-svc", &db.url, &secret, "", "").await;
    let stop = CancellationToken::new();
    let gw = extra_gateway::start_with(
        &suite,
        extra_gateway::Overrides {
            audit_url: Some(audit.url()),
            ..Default::default()
        },
        stop.clone(),
    )
    .await;
    let mut gateway = client_at(gw.grpc).await;
    let recording = recordings::ingest_recorded_calls(
        &format!("http://{}", suite.endpoints.archive),
        &suite.keys,
        "frozen",
        "4791",
        1,
    )
    .await
    .remove(0);
    recordings::upload(
        &format!("http://{}", suite.endpoints.media),
        &suite.keys,
        &recording,
        &recordings::mp3_of(50_000),
    )
    .await;

    gateway
        .start_playback(playback(&suite, &recording, "before"))
        .await
        .unwrap();

    audit.signal("-STOP");
    let started = Instant::now();
    let (mut one, mut two) = (client_at(gw.grpc).await, client_at(gw.grpc).await);
    let (a, b) = tokio::join!(
        one.start_playback(playback(&suite, &recording, "frozen-1")),
        two.start_playback(playback(&suite, &recording, "frozen-2")),
    );
    let waited = started.elapsed();
    for told in [a, b] {
        let status = told.expect_err("a playback was granted while the trail was frozen");
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    }
    // The user is told only once the deadline (3 s) and its bound (1 s) passed.
    assert!(waited >= Duration::from_secs(4), "told after {waited:?}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    audit.signal("-CONT");
    // What the frozen process still had queued has had time to run.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let played = |request_id: &str| pb::ListEventsRequest {
        kind: pb::AuditEventKind::PlaybackStarted as i32,
        request_id: request_id.into(),
        ..Default::default()
    };
    assert_eq!(
        events(&mut gateway, &suite, played("before")).await.len(),
        1
    );
    for told_failed in ["frozen-1", "frozen-2"] {
        let found = events(&mut gateway, &suite, played(told_failed)).await;
        assert!(
            found.is_empty(),
            "the trail says {told_failed} played: {found:#?}"
        );
    }
    let all = events(
        &mut gateway,
        &suite,
        pb::ListEventsRequest {
            kind: pb::AuditEventKind::PlaybackStarted as i32,
            recording_id: recording.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(all.len(), 1, "one playback was granted: {all:#?}");

    // The user tries the same click again: granted, and recorded once.
    for _ in 0..2 {
        gateway
            .start_playback(playback(&suite, &recording, "frozen-1"))
            .await
            .unwrap();
    }
    assert_eq!(
        events(&mut gateway, &suite, played("frozen-1")).await.len(),
        1
    );
    let verified =
        archive_proto::v1::audit_service_client::AuditServiceClient::connect(audit.url())
            .await
            .unwrap()
            .verify_chain(common::keys::gateway_key(&suite.keys).request(
                pb::VerifyChainRequest::default(),
                &gateway::demo::user("paal").unwrap().principal(),
            ))
            .await
            .unwrap()
            .into_inner();
    assert!(verified.intact, "{verified:?}");

    stop.cancel();
    drop(audit);
    suite.stop().await.unwrap();
    drop(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_svc_killed_mid_delete_leaves_no_event_and_the_retry_leaves_one() {
    let Some(db) = ScratchDatabase::create("e2e_killed_delete").await else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    let secret = suite.keys.dir.display().to_string();
    let audit_url = format!("http://{}", suite.endpoints.audit);
    let media_url = format!("http://{}", suite.endpoints.media);
    let archive = process("archive-svc", &db.url, &secret, &audit_url, &media_url).await;
    let listen = archive.listen;
    let stop = CancellationToken::new();
    let gw = extra_gateway::start(&suite, Some(archive.url()), None, stop.clone()).await;
    let recording =
        recordings::ingest_recorded_calls(&archive.url(), &suite.keys, "killed", "4792", 1)
            .await
            .remove(0);
    // Reported to this archive-svc, as its own media-svc would.
    recordings::upload_reported_to(
        &data.path().join("media"),
        &archive.url(),
        &audit_url,
        &suite.keys,
        &recording,
        &recordings::mp3_of(50_000),
    )
    .await;

    // Hold the recording's row, so the delete's transaction waits inside.
    let mut holder = PgConnection::connect(&db.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("SELECT 1 FROM recordings WHERE recording_id = $1::uuid FOR UPDATE")
        .bind(&recording)
        .execute(&mut holder)
        .await
        .unwrap();
    let delete = |suite: &Suite| {
        authed(
            suite,
            "paal",
            pb::DeleteRecordingsRequest {
                recording_ids: vec![recording.clone()],
                request_id: "delete-once".into(),
                confirmed: true,
                ..Default::default()
            },
        )
    };
    let mut deleting = client_at(gw.grpc).await;
    let request = delete(&suite);
    let told = tokio::spawn(async move { deleting.delete_recordings(request).await });
    // The delete is inside archive-svc's transaction, waiting for the row.
    let mut waiting = false;
    for _ in 0..100 {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
        )
        .fetch_one(&mut holder)
        .await
        .unwrap();
        if n > 0 {
            waiting = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(waiting, "the delete never reached the row lock");
    archive.kill();
    // Told it failed (how depends on where the connection broke).
    told.await
        .unwrap()
        .expect_err("the delete cannot have answered");
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    // The killed process's backend finds its client gone and rolls back.
    for _ in 0..100 {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_one(&mut holder)
        .await
        .unwrap();
        if n == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let archive = process_at(
        listen,
        "archive-svc",
        &db.url,
        &secret,
        &audit_url,
        &media_url,
    )
    .await;
    let mut gateway = client_at(gw.grpc).await;
    let deleted_events = |gateway: &mut ArchiveServiceClient<Channel>| {
        let filter = pb::ListEventsRequest {
            kind: pb::AuditEventKind::RecordingDeleted as i32,
            recording_id: recording.clone(),
            ..Default::default()
        };
        let suite = &suite;
        let mut gateway = gateway.clone();
        async move { events(&mut gateway, suite, filter).await }
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        deleted_events(&mut gateway).await.is_empty(),
        "an event without the effect"
    );
    let state: (i64,) =
        sqlx::query_as("SELECT state FROM recordings WHERE recording_id = $1::uuid")
            .bind(&recording)
            .fetch_one(&mut holder)
            .await
            .unwrap();
    assert_eq!(state.0, 1, "the recording is still available");

    // The user retries the same delete: done, and recorded once.
    for _ in 0..2 {
        gateway.delete_recordings(delete(&suite)).await.unwrap();
    }
    for _ in 0..100 {
        if !deleted_events(&mut gateway).await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let found = deleted_events(&mut gateway).await;
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].request_id, "delete-once");

    stop.cancel();
    drop(archive);
    suite.stop().await.unwrap();
    holder.close().await.unwrap();
    drop(db);
}
