//! `audit-svc migrate` as a command: parsed apart from serving (no identity
//! key or trust file needed), the database URL before or after the subcommand, and
//! `--grant-to` refused where there are no roles (SQLite); serving without
//! `--migrate` on a schema that is behind names the command.

// Test crates see every dependency of the library; they use only a few.
#![allow(unused_crate_dependencies)]

mod support;

use std::process::{Command, Output};

use support::{identity, sqlite_url};

fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_audit-svc"));
    command
        .args(args)
        .env_remove("ARCHIVE_IDENTITY_KEY_FILE")
        .env_remove("ARCHIVE_TRUST_FILE")
        .env_remove("AUDIT_DATABASE_URL")
        .env_remove("AUDIT_MIGRATE");
    command
}

fn audit_svc(args: &[&str]) -> Output {
    command(args).output().expect("run audit-svc")
}

#[tokio::test]
async fn migrate_needs_no_identity_and_takes_the_url_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir);
    let out = audit_svc(&["migrate", "--database-url", &url]);
    assert!(out.status.success(), "{out:?}");
    audit_svc::store::open(&url, false).await.unwrap();

    let other = tempfile::tempdir().unwrap();
    let url = sqlite_url(&other);
    let out = audit_svc(&["--database-url", &url, "migrate"]);
    assert!(out.status.success(), "{out:?}");
    audit_svc::store::connect_existing(&url).await.unwrap();

    let out = audit_svc(&["migrate", "--database-url", &url, "--grant-to", "audit_rt"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--grant-to needs PostgreSQL"), "{stderr}");

    // Serving still needs its key and the trust file.
    let out = audit_svc(&["--database-url", &url]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--identity-key-file") && stderr.contains("--trust-file"),
        "{stderr}"
    );

    // Serving without --migrate on an empty database: the message says what to do.
    let empty = tempfile::tempdir().unwrap();
    let url = sqlite_url(&empty);
    drop(archive_common::db::connect(&url).await.unwrap());
    let identity = identity();
    let out = command(&[
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
