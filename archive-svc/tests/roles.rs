//! The schema step and the runtime role (PostgreSQL): `archive-svc migrate
//! --grant-to ROLE` as the owner, then the service serving as ROLE without
//! migrating does everything it does (ingest, deletion with its audit outbox
//! row, settings, legal hold, retention), while ROLE cannot change the schema.
//! A service that does not migrate refuses to start on a schema that is
//! behind, naming the command.

#![allow(unused_crate_dependencies)]

mod common;

use std::time::Duration;

use archive_common::shutdown::CancellationToken;
use archive_proto::v1::{self as pb, call_service_client::CallServiceClient};
use chrono::{TimeDelta, Utc};
use common::{as_platform, as_user, identity};
use sqlx::{Connection, PgConnection};
use test_support::calls::recorded_call;
use test_support::postgres::{ScratchDatabase, ScratchRole};
use tokio::net::TcpListener;

#[tokio::test]
async fn the_runtime_role_serves_without_ddl_rights() {
    let Some(db) = ScratchDatabase::create("archive_roles").await else {
        return;
    };
    let scratch = ScratchRole::create("archive_rt").await;
    let role = scratch.name.clone();
    let mut owner = PgConnection::connect(&db.url).await.unwrap();
    let runtime_url = scratch.url_for(&db.url);

    // Not migrated yet: a service that does not migrate says what to run.
    let mut config = archive_svc::Config::new(runtime_url.clone(), identity("archive-svc"));
    config.migrate = false;
    let err = archive_svc::start(config.clone(), CancellationToken::new())
        .await
        .err()
        .expect("a schema that is behind is refused");
    assert!(err.to_string().contains("archive-svc migrate"), "{err}");

    archive_svc::migrate(&archive_common::schema_step::SchemaStep {
        database_url: db.url.clone(),
        grant_to: Some(role.clone()),
    })
    .await
    .unwrap();

    // Serving as the runtime role.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let server = tokio::spawn(archive_svc::run(config, listener, stop.clone()));
    archive_common::host::wait_serving(&format!("http://{addr}"), Duration::from_secs(10))
        .await
        .unwrap();
    let mut client = CallServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    // The recording platform ingests; a user through the gateway (Paal) does the rest.
    let call = client.ingest_call(as_platform("10009", old_call("r-1")));
    let call = call.await.unwrap().into_inner().call.unwrap();
    let batch = pb::BatchIngestCallsRequest {
        calls: vec![old_call("r-2"), old_call("r-3")],
    };
    client
        .batch_ingest_calls(as_platform("10009", batch))
        .await
        .unwrap();
    let delete = pb::MarkRecordingsDeletedRequest {
        recording_ids: vec![call.recordings[0].recording_id.clone()],
        context: None,
    };
    client
        .mark_recordings_deleted(as_user("10009", delete))
        .await
        .unwrap();
    let hold = pb::SetLegalHoldRequest {
        call_id: call.call_id.clone(),
        legal_hold: true,
        context: None,
    };
    client.set_legal_hold(as_user("10009", hold)).await.unwrap();
    let settings = pb::TenantSettings {
        time_zone: "Europe/Oslo".into(),
        recording_retention_days: 1,
        metadata_retention_days: 2,
        ..Default::default()
    };
    let update = pb::UpdateTenantSettingsRequest {
        settings: Some(settings),
        context: None,
    };
    client
        .update_tenant_settings(as_user("10009", update))
        .await
        .unwrap();
    let swept = client.run_retention_sweep(as_user("10009", pb::RunRetentionSweepRequest {}));
    let swept = swept.await.unwrap().into_inner();
    assert_eq!((swept.recordings_expired, swept.calls_purged), (2, 2));
    let found = client.search_calls(as_user("10009", pb::SearchCallsRequest::default()));
    let found = found.await.unwrap().into_inner().calls;
    assert_eq!(found.len(), 1, "the held call stays");
    stop.cancel();
    server.await.unwrap().unwrap();

    // Every change left its event for the relay (no audit URL: they wait).
    let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_outbox")
        .fetch_one(&mut owner)
        .await
        .unwrap();
    // 2 ingests, 1 deletion, 1 hold, 1 settings, 2 expiries, 2 purges.
    assert_eq!(rows, 9);

    // The runtime role changes rows, never the schema.
    scratch
        .assert_refused(
            &db.url,
            &[
                "CREATE TABLE intruder (id INT)",
                "ALTER TABLE calls ADD COLUMN intruder INT",
                "DROP TABLE audit_outbox",
                "TRUNCATE recordings",
                "CREATE INDEX intruder ON calls (caller_number)",
            ],
        )
        .await;
    drop(owner);
    drop(db);
    drop(scratch);
}

/// A recorded call of three days ago.
fn old_call(session: &str) -> pb::IngestCallRequest {
    recorded_call(session, "95214830", Utc::now() - TimeDelta::days(3))
}
