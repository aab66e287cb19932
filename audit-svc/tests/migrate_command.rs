//! `audit-svc migrate` as a command: parsed apart from serving (no identity
//! key or trust file needed), the database URL before or after the subcommand, and
//! `--grant-to` refused where there are no roles (SQLite); serving without
//! `--migrate` on a schema that is behind names the command.

// Test crates see every dependency of the library; they use only a few.
#![allow(unused_crate_dependencies)]

mod support;

use support::{identity, sqlite_url};
use test_support::schema_step::ServiceBinary;

const AUDIT_SVC: ServiceBinary = ServiceBinary {
    path: env!("CARGO_BIN_EXE_audit-svc"),
    env_prefix: "AUDIT",
};

#[test]
fn migrate_takes_the_url_from_the_environment_and_needs_no_serving_settings() {
    AUDIT_SVC.check_schema_step(&sqlite_url(&tempfile::tempdir().unwrap()));
}

#[tokio::test]
async fn migrate_takes_the_url_before_or_after_the_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let out = AUDIT_SVC.run(&["migrate", "--database-url", &url]);
    assert!(out.status.success(), "{out:?}");
    audit_svc::store::open(&url, false).await.unwrap();

    let other = tempfile::tempdir().unwrap();
    let url = sqlite_url(&other);
    let out = AUDIT_SVC.run(&["--database-url", &url, "migrate"]);
    assert!(out.status.success(), "{out:?}");
    audit_svc::store::connect_existing(&url).await.unwrap();

    // Serving without --migrate on an empty database: the message says what to do.
    let empty = tempfile::tempdir().unwrap();
    let url = sqlite_url(&empty);
    drop(archive_common::db::connect(&url).await.unwrap());
    let identity = identity();
    let out = AUDIT_SVC
        .command(&[
            "--database-url",
            &url,
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .env("ARCHIVE_IDENTITY_KEY_FILE", &identity.key_file)
        .env("ARCHIVE_TRUST_FILE", &identity.trust_file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "audit-svc: the audit-svc database schema is not up to date (migration 1 is not \
             applied): run `audit-svc migrate` as the database owner first"
        ),
        "{stderr}"
    );
}
