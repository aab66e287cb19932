//! `authz-svc migrate` as a command, as the Kubernetes Job runs it: the
//! owner's URL in the environment (so no password is on the command line),
//! no identity key or trust file, no serving settings; then a server started without
//! `--migrate` accepts the schema.

// Test crates see every dependency of the library; they use only a few.
#![allow(unused_crate_dependencies)]

use std::process::Command;

#[test]
fn migrate_takes_the_url_from_the_environment_and_needs_no_serving_settings() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("authz.db").display());
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_authz-svc"))
            .args(args)
            .env("AUTHZ_DATABASE_URL", &url)
            .env_remove("ARCHIVE_IDENTITY_KEY_FILE")
            .env_remove("ARCHIVE_TRUST_FILE")
            .env_remove("AUTHZ_MIGRATE")
            .output()
            .unwrap()
    };
    let out = run(&["migrate"]);
    assert!(out.status.success(), "{out:?}");
    // Again: nothing to do, still fine.
    assert!(run(&["migrate"]).status.success());
    // --grant-to needs roles, which SQLite has not: refused, saying so.
    let out = run(&["migrate", "--grant-to", "rt"]);
    assert!(!out.status.success(), "{out:?}");
    // Serving still needs its settings (its key and the trust file).
    let out = run(&[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--identity-key-file") && stderr.contains("--trust-file"),
        "{stderr}"
    );
}
