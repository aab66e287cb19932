//! Roles on PostgreSQL: the owner migrates and grants a runtime role what
//! audit-svc needs (`audit-svc migrate --grant-to`, i.e.
//! [`audit_svc::migrate::run`]); audit-svc serves as that role, which can
//! read and append but cannot alter, disable or drop the triggers, update,
//! delete, truncate or create tables; and audit-svc started as that role on
//! a schema that is behind refuses to start, naming the command.

// Test crates see every dependency of the library; they use only a few.
#![allow(unused_crate_dependencies)]

mod support;

use archive_common::shutdown::CancellationToken;
use archive_proto::v1::AuditEventKind;
use audit_svc::Config;
use sqlx::{Connection, PgConnection};
use support::{append, client, event, identity, key, paal, start_with};
use test_support::postgres::{ScratchDatabase, ScratchRole};

#[tokio::test]
async fn the_runtime_role_reads_and_appends_and_nothing_else() {
    let Some(db) = ScratchDatabase::create("audit_roles").await else {
        return;
    };
    let Some(fresh) = ScratchDatabase::create("audit_roles_fresh").await else {
        return;
    };
    let role = ScratchRole::create("audit_rt").await;

    // The test body runs as its own task so the role is dropped even when
    // an assertion fails.
    let outcome = tokio::spawn(runtime_role(
        db.url.clone(),
        role.name.clone(),
        role.url_for(&db.url),
        role.url_for(&fresh.url),
    ))
    .await;
    if outcome.is_ok() {
        role.assert_refused(&db.url, REFUSED).await;
    }

    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Everything the runtime role may not do to the trail or the schema.
const REFUSED: &[&str] = &[
    "ALTER TABLE audit_events DISABLE TRIGGER ALL",
    "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete",
    "DROP TRIGGER audit_events_no_update_delete ON audit_events",
    "DROP TRIGGER audit_events_no_truncate ON audit_events",
    "UPDATE audit_events SET reason = 'forged' WHERE sequence = 2",
    "DELETE FROM audit_events WHERE sequence = 3",
    "TRUNCATE audit_events",
    "CREATE TABLE audit_events_copy (tenant TEXT)",
    "ALTER TABLE audit_events ADD COLUMN note TEXT",
    "DROP TABLE audit_events",
    "DROP INDEX audit_events_by_event_id",
    "DELETE FROM _sqlx_migrations",
];

async fn runtime_role(url: String, role: String, role_url: String, fresh_role_url: String) {
    let serving = |url: &str| {
        let mut config = Config::new(url, identity());
        config.migrate = false;
        config
    };

    // Migrated but nothing granted: the role cannot even read which
    // migrations are applied, and is told so (not to migrate again).
    audit_svc::migrate::run(&url, None).await.unwrap();
    let err = match audit_svc::start(serving(&role_url), CancellationToken::new()).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("started without any grant"),
    };
    assert!(
        err.contains("permission denied") && !err.contains("not up to date"),
        "{err}"
    );
    // Running the step again applies nothing new and grants the role.
    audit_svc::migrate::run(&url, Some(&role)).await.unwrap();

    // audit-svc serves as the role, without migrating.
    let server = start_with(serving(&role_url)).await;
    let mut c = client(&server).await;
    for i in 1..=3 {
        let e = event(AuditEventKind::PlaybackStarted, &format!("rec-{i}"), "");
        assert_eq!(append(&mut c, &paal(), e).await.sequence, i);
    }
    let listed = c
        .list_events(key().request(Default::default(), &paal()))
        .await
        .unwrap()
        .into_inner()
        .events;
    assert_eq!(listed.len(), 3);
    let report = support::verify_chain(&mut c, &paal()).await;
    assert!(report.intact, "{report:?}");

    // Directly as the role, everything but reading and appending fails
    // (REFUSED, checked by the caller); reading works.
    let mut rt = PgConnection::connect(&role_url).await.unwrap();
    let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM audit_events")
        .fetch_one(&mut rt)
        .await
        .unwrap();
    assert_eq!(rows, 3, "reading works");
    rt.close().await.unwrap();
    let report = support::verify_chain(&mut c, &paal()).await;
    assert!(report.intact && report.events_checked == 3, "{report:?}");
    server.stop().await;

    // On a database whose schema is behind (here: never migrated), audit-svc
    // as the role refuses to start and names the command to run.
    let err = match audit_svc::start(serving(&fresh_role_url), CancellationToken::new()).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("started on a schema that is behind"),
    };
    assert!(
        err.contains("the audit-svc database schema is not up to date")
            && err.contains("run `audit-svc migrate` as the database owner first"),
        "{err}"
    );
}
