//! The schema step and the runtime role (PostgreSQL): `authz-svc migrate
//! --grant-to ROLE` as the owner, then the service serving as ROLE without
//! migrating manages users (each change with its audit outbox row), while
//! ROLE cannot change the schema. A service that does not migrate refuses to
//! start on a schema that is behind, naming the command.

// Test crates see every dependency of the library; they use only a few.
#![allow(unused_crate_dependencies)]

mod common;

use archive_common::shutdown::CancellationToken;
use archive_proto::v1 as pb;
use common::{client, identity, paal, start};
use sqlx::{Connection, PgConnection};
use test_support::postgres::{ScratchDatabase, ScratchRole};

#[tokio::test]
async fn the_runtime_role_serves_without_ddl_rights() {
    let Some(db) = ScratchDatabase::create("authz_roles").await else {
        return;
    };
    let scratch = ScratchRole::create("authz_rt").await;
    let role = scratch.name.clone();
    let mut owner = PgConnection::connect(&db.url).await.unwrap();
    let runtime_url = scratch.url_for(&db.url);

    // Not migrated yet: a service that does not migrate says what to run.
    let mut config = authz_svc::Config::new(runtime_url.clone(), identity("authz-svc"));
    config.migrate = false;
    config.bootstrap_admins = vec!["10009:paal:Paal Admin".into()];
    let err = authz_svc::start(config.clone(), CancellationToken::new())
        .await
        .err()
        .expect("a schema that is behind is refused");
    assert!(err.to_string().contains("authz-svc migrate"), "{err}");

    authz_svc::migrate(&archive_common::schema_step::SchemaStep {
        database_url: db.url.clone(),
        grant_to: Some(role.clone()),
    })
    .await
    .unwrap();

    // Serving as the runtime role.
    let server = start(config).await;
    let client = client(&server).await;
    let paal = paal();
    let anna = pb::User {
        user_id: "anna".into(),
        display_name: "Anna".into(),
        permissions: Some(pb::Permissions {
            play_recordings: true,
            ..Default::default()
        }),
        ..Default::default()
    };
    client.create(&paal, anna.clone(), None).await.unwrap();
    let revoked = pb::User {
        permissions: None,
        ..anna
    };
    client.update(&paal, revoked, None).await.unwrap();
    assert_eq!(client.ids(&paal).await.unwrap().len(), 2);
    client.delete(&paal, "anna", None).await.unwrap();
    server.stop().await;

    // Every change left its event for the relay (no audit URL: they wait):
    // the bootstrap admin, create, update, delete.
    let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_outbox")
        .fetch_one(&mut owner)
        .await
        .unwrap();
    assert_eq!(rows, 4);

    // The runtime role changes rows, never the schema.
    scratch
        .assert_refused(
            &db.url,
            &[
                "CREATE TABLE intruder (id INT)",
                "ALTER TABLE users ADD COLUMN intruder INT",
                "DROP TABLE audit_outbox",
                "TRUNCATE users",
                "CREATE INDEX intruder ON users (display_name)",
            ],
        )
        .await;
}
