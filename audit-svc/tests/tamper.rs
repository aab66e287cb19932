//! The database itself refuses UPDATE and DELETE of audit events, and a row
//! changed behind its back (trigger disabled or dropped) is caught by the
//! VerifyChain RPC and by the `audit-verify` tool — on SQLite and PostgreSQL.

// Test crates see every dependency of the library; they use only a few.
#![allow(unused_crate_dependencies)]

mod support;

use std::process::Command;

use archive_proto::v1::AuditEventKind;
use sqlx::{Executor, PgPool, SqlitePool};
use support::{Server, append, client, event, paal, sqlite_url, start, verify_chain};
use test_support::postgres::ScratchDatabase;

/// Appends five events through the service.
async fn five_events(server: &Server) {
    let mut c = client(server).await;
    for i in 1..=5 {
        let e = event(
            AuditEventKind::PlaybackStarted,
            &format!("rec-{i}"),
            &format!("reason {i}"),
        );
        assert_eq!(append(&mut c, &paal(), e).await.sequence, i);
    }
}

/// Runs `audit-verify` on `url` for tenant 10009: (exit code, stdout).
fn verify_tool(url: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_audit-verify"))
        .args(["--database-url", url, "--tenant", "10009"])
        .output()
        .expect("run audit-verify");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn assert_refused(result: Result<sqlx::sqlite::SqliteQueryResult, sqlx::Error>) {
    let err = result
        .expect_err("the database must refuse this")
        .to_string();
    assert!(err.contains("append-only"), "{err}");
}

#[tokio::test]
async fn sqlite_refuses_changes_and_verify_catches_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let server = start(&url).await;
    five_events(&server).await;
    let raw = SqlitePool::connect(&url).await.unwrap();

    assert_refused(
        raw.execute("UPDATE audit_events SET reason = 'x' WHERE sequence = 3")
            .await,
    );
    assert_refused(
        raw.execute("DELETE FROM audit_events WHERE sequence = 5")
            .await,
    );
    let mut c = client(&server).await;
    let report = verify_chain(&mut c, &paal()).await;
    assert!(report.intact, "{report:?}");
    assert_eq!(report.events_checked, 5);
    let (code, out) = verify_tool(&url);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("intact, 5 events checked"), "{out}");

    // Someone with file access drops the trigger and rewrites a reason.
    raw.execute("DROP TRIGGER audit_events_no_update")
        .await
        .unwrap();
    raw.execute(
        "UPDATE audit_events SET reason = 'forged' WHERE tenant = '10009' AND sequence = 3",
    )
    .await
    .unwrap();
    let report = verify_chain(&mut c, &paal()).await;
    assert!(!report.intact);
    assert_eq!(report.first_bad_sequence, 3);
    assert_eq!(report.events_checked, 2);
    assert!(report.problem.contains("content"), "{}", report.problem);
    let (code, out) = verify_tool(&url);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("BROKEN at sequence 3"), "{out}");
    raw.close().await;
    server.stop().await;
}

#[tokio::test]
async fn postgres_refuses_changes_and_verify_catches_tampering() {
    let Some(db) = ScratchDatabase::create("audit_tamper").await else {
        return;
    };
    let server = start(&db.url).await;
    five_events(&server).await;
    let raw = PgPool::connect(&db.url).await.unwrap();

    for sql in [
        "UPDATE audit_events SET reason = 'x' WHERE sequence = 3",
        "DELETE FROM audit_events WHERE sequence = 5",
        "TRUNCATE audit_events",
    ] {
        let err = raw.execute(sql).await.expect_err(sql).to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    let mut c = client(&server).await;
    let report = verify_chain(&mut c, &paal()).await;
    assert!(report.intact, "{report:?}");
    let (code, out) = verify_tool(&db.url);
    assert_eq!(code, 0, "{out}");

    // A superuser disables the trigger, rewrites a reason, and enables it again.
    raw.execute(
        "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete;
         UPDATE audit_events SET reason = 'forged' WHERE tenant = '10009' AND sequence = 3;
         ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete;",
    )
    .await
    .unwrap();
    let report = verify_chain(&mut c, &paal()).await;
    assert!(!report.intact);
    assert_eq!(report.first_bad_sequence, 3);
    assert!(report.problem.contains("content"), "{}", report.problem);
    let (code, out) = verify_tool(&db.url);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("BROKEN at sequence 3"), "{out}");

    // Removing an event from the middle breaks the chain where it was. (The
    // newest events' removal leaves an intact shorter chain: the signed
    // checkpoints catch that, see tests/checkpoints.rs.)
    raw.execute(
        "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete;
         UPDATE audit_events SET reason = 'reason 3' WHERE tenant = '10009' AND sequence = 3;
         DELETE FROM audit_events WHERE tenant = '10009' AND sequence = 4;
         ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete;",
    )
    .await
    .unwrap();
    let report = verify_chain(&mut c, &paal()).await;
    assert!(!report.intact);
    assert_eq!(report.first_bad_sequence, 4);
    assert_eq!(report.events_checked, 3);
    assert!(report.problem.contains("missing"), "{}", report.problem);

    raw.close().await;
    server.stop().await;
}
