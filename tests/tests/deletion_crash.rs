//! A deletion survives a crash between its two steps. archive-svc runs in a
//! process of its own (this test binary, re-executed to run only
//! `archive_svc_process`) whose media-svc URL first points at a closed port,
//! so the deletion marker and its outbox row are committed but the file
//! cannot be deleted yet. The process is then killed with SIGKILL and started
//! again on the same database with the real media-svc: the marker is
//! unchanged, the file goes, and nothing is done twice.

#![allow(unused_crate_dependencies)]

mod common;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use archive_common::{identity::KeySet, shutdown::CancellationToken};
use archive_proto::v1 as pb;
use common::{
    audit_events,
    child::{ChildService, free_port, settings},
    client_at, delete, extra_gateway, recordings, rows_from, start_suite,
};
use tonic::Code;

/// Set in the child's environment: where its database is, where it listens,
/// where media-svc is, the suite's keys directory and where audit-svc is
/// (`db|listen|media|secret|audit`).
const CHILD_ENV: &str = "ARCHIVE_E2E_ARCHIVE_SVC";
const CHILD_TEST: &str = "archive_svc_process";

#[test]
#[ignore = "the archive-svc process of deletion_survives_a_crash, which starts it"]
fn archive_svc_process() {
    let [db, listen, media, secret, audit] = settings::<5>(CHILD_ENV);
    let mut config = archive_svc::Config::new(
        format!("sqlite://{db}"),
        KeySet::new(&secret).config("archive-svc"),
    );
    config.media_url = Some(media);
    config.audit_url = Some(audit);
    // Retry failed file deletions soon after their backoff ends.
    config.outbox_interval = Duration::from_millis(100);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&listen).await.unwrap();
        archive_svc::run(config, listener, CancellationToken::new())
            .await
            .unwrap();
    });
}

/// The archive-svc child process, SERVING.
async fn archive_process(
    db: &Path,
    listen: SocketAddr,
    media_url: &str,
    keys_dir: &str,
    audit_url: &str,
) -> ChildService {
    let (db, listen_text) = (db.display().to_string(), listen.to_string());
    ChildService::start(
        CHILD_TEST,
        CHILD_ENV,
        &[&db, &listen_text, media_url, keys_dir, audit_url],
        listen,
    )
    .await
}

/// One value of the outbox of the archive-svc database at `db`.
fn outbox(db: &PathBuf, sql: &str) -> String {
    let out = Command::new("sqlite3").arg(db).arg(sql).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_survives_a_crash() {
    let data = tempfile::tempdir().unwrap();
    // media-svc, authz-svc (with the demo users) and audit-svc of a suite.
    let suite = start_suite(&data.path().join("suite")).await;
    let secret = suite.keys.dir.display().to_string();
    let media_url = format!("http://{}", suite.endpoints.media);
    let db = data.path().join("calls.db");
    let listen = free_port();
    let archive_url = format!("http://{listen}");
    let nowhere = format!("http://{}", free_port());

    let audit_url = format!("http://{}", suite.endpoints.audit);
    let archive = archive_process(&db, listen, &nowhere, &secret, &audit_url).await;
    let stop = CancellationToken::new();
    let gw = extra_gateway::start(&suite, Some(archive_url.clone()), None, stop.clone()).await;
    let ids =
        recordings::ingest_recorded_calls(&archive_url, &suite.keys, "crash", "4790", 1).await;
    let recording = ids[0].clone();
    // Uploaded as the recording platform does, reported to this archive-svc.
    recordings::upload_reported_to(
        &data.path().join("suite").join("media"),
        &archive_url,
        &audit_url,
        &suite.keys,
        &recording,
        &recordings::mp3_of(100_000),
    )
    .await;

    let search = |user: &'static str| {
        let suite = &suite;
        async move { rows_from(client_at(gw.grpc).await, suite, user, "47900000").await }
    };
    let rows = search("paal").await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].recordings[0].play_state,
        pb::PlayState::Enabled as i32
    );

    // Step one: the marker (and the outbox row, in the same transaction).
    let deleted = delete(client_at(gw.grpc).await, &suite, "paal", &recording).await;
    let text = deleted.recordings[0].deletion_text.clone();
    assert!(
        text.starts_with(
            "This recording is deleted by customer: 10009, user: Paal Admin(paal), on "
        ),
        "{text}"
    );
    let marker_of = |rows: &[pb::CallRow]| {
        rows[0].call.as_ref().unwrap().recordings[0]
            .deletion
            .clone()
            .expect("a deletion marker")
    };
    let marker = marker_of(&search("paal").await.unwrap());
    assert_eq!(
        (marker.customer.as_str(), marker.user_id.as_str()),
        ("10009", "paal")
    );

    // Step two cannot happen yet: the drainer has tried media-svc and failed.
    let mut attempts = 0;
    for _ in 0..100 {
        attempts = outbox(
            &db,
            "SELECT coalesce(max(attempts), 0) FROM media_deletions",
        )
        .parse()
        .unwrap();
        if attempts > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(attempts > 0, "archive-svc tried to delete the file");
    assert!(
        recordings::media_info(&media_url, &suite.keys, &recording)
            .await
            .is_ok(),
        "the file is still there between the steps"
    );

    // Crash, then start again on the same database with the real media-svc.
    archive.kill();
    let archive = archive_process(&db, listen, &media_url, &secret, &audit_url).await;
    let mut gone = false;
    for _ in 0..300 {
        if recordings::media_info(&media_url, &suite.keys, &recording)
            .await
            .is_err_and(|s| s.code() == Code::NotFound)
        {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        gone,
        "the file was not deleted after the restart; outbox: {}",
        outbox(&db, "SELECT attempts, last_error FROM media_deletions")
    );
    assert_eq!(
        outbox(&db, "SELECT count(*) FROM media_deletions"),
        "0",
        "the outbox is empty once media-svc confirmed"
    );

    // The marker is the one set before the crash, for every user; deleting
    // again changes nothing and records nothing new.
    for user in ["paal", "nils"] {
        let mut rows = search(user).await;
        // The gateway's channel to archive-svc reconnects on first use.
        if rows.as_ref().is_err_and(|s| s.code() == Code::Unavailable) {
            rows = search(user).await;
        }
        let rows = rows.unwrap();
        assert_eq!(rows.len(), 1, "one row, not a second copy");
        assert_eq!(rows[0].deletion_text, text, "{user}");
        assert_eq!(
            rows[0].recordings[0].play_state,
            pb::PlayState::Deleted as i32
        );
        assert_eq!(marker_of(&rows), marker, "{user}");
    }
    let again = delete(client_at(gw.grpc).await, &suite, "paal", &recording).await;
    assert_eq!(again.recordings[0].deletion_text, text);
    assert_eq!(marker_of(&search("paal").await.unwrap()), marker);
    assert_eq!(
        outbox(&db, "SELECT count(*) FROM media_deletions"),
        "0",
        "nothing queued again"
    );
    // archive-svc's audit outbox delivers the deletion's event (committed
    // with the marker before the crash) once, whatever the crash and the
    // second delete did.
    let deletions = || async {
        audit_events(client_at(gw.grpc).await, &suite, &recording)
            .await
            .iter()
            .filter(|e| e.kind == pb::AuditEventKind::RecordingDeleted as i32)
            .count()
    };
    for _ in 0..100 {
        if deletions().await > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(deletions().await, 1, "one deletion in the audit trail");

    stop.cancel();
    drop(archive);
    suite.stop().await.unwrap();
}
