//! `archive-svc migrate` as a command, as the Kubernetes Job runs it (see
//! [`ServiceBinary::check_schema_step`]).

// Test crates see every dependency of the library; they use only a few.
#![allow(unused_crate_dependencies)]

use test_support::schema_step::ServiceBinary;

#[test]
fn migrate_takes_the_url_from_the_environment_and_needs_no_serving_settings() {
    let dir = tempfile::tempdir().unwrap();
    let binary = ServiceBinary {
        path: env!("CARGO_BIN_EXE_archive-svc"),
        env_prefix: "ARCHIVE",
    };
    binary.check_schema_step(&format!(
        "sqlite://{}",
        dir.path().join("archive.db").display()
    ));
}
