//! The `gateway` binary's operator commands, run as an operator would:
//! `token` with its flags in any position and a clear error for a missing
//! data directory; `credentials` init, list, platform, user and rotate.

#![allow(unused_crate_dependencies)]

use std::{path::Path, process::Command, sync::Arc};

use archive_common::{
    Principal, SystemClock,
    identity::{CallerKind, SharedKey, Trust, TrustFile},
};

fn gateway(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gateway"))
        .args(args)
        .env_remove("ARCHIVE_DATA_DIR")
        .env_remove("ARCHIVE_KEYS_DIR")
        .env_remove("ARCHIVE_JWT_SECRET")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `gateway` with `words` (split at spaces) and then `more` as they are
/// (paths, a name with a space).
fn gateway_words(words: &str, more: &[&str]) -> (bool, String, String) {
    let args: Vec<&str> = words.split(' ').chain(more.iter().copied()).collect();
    gateway(&args)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn token_takes_the_data_dir_anywhere_and_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let (ok, _, err) = gateway(&["token", "paal", "--data-dir", path(&missing)]);
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "{}/secrets.json does not exist",
            missing.display()
        )),
        "{err}"
    );
    assert!(!err.contains("Os {"), "{err}");

    let secrets = gateway::Secrets::load_or_create(dir.path()).unwrap();
    let key = SharedKey::new(secrets.jwt_secret.as_bytes(), gateway::auth::AUDIENCE, 60);
    let data_dir = path(dir.path());
    for args in [
        vec!["token", "paal", "--data-dir", data_dir],
        vec!["--data-dir", data_dir, "token", "paal"],
        vec!["token", "--data-dir", data_dir, "--ttl", "60", "paal"],
    ] {
        let (ok, token, err) = gateway(&args);
        assert!(ok, "{args:?}: {err}");
        let verified = key.verify(&token, chrono::Utc::now()).unwrap();
        assert_eq!(verified.principal.user_id, "paal", "{args:?}");
    }
    let (ok, _, err) = gateway(&["token", "boss", "--data-dir", data_dir]);
    assert!(!ok && err.contains("not a demo user"), "{err}");
    let (_, help, _) = gateway(&["token", "--help"]);
    assert!(help.contains("--data-dir"), "{help}");
}

#[test]
fn an_operator_issues_platform_and_user_credentials_and_rotates_keys() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let (ok, out, err) = gateway(&["credentials", "init", "--keys-dir", path(&keys)]);
    assert!(ok, "{err}");
    for holder in "gateway archive-svc media-svc authz-svc audit-svc authority".split(' ') {
        assert!(keys.join(format!("{holder}.pem")).exists(), "{holder}");
        assert!(out.contains(holder), "{out}");
    }
    let trust = Trust::load(&keys.join("trust.json")).unwrap();

    // A platform credential: its tenants only.
    let (ok, credential, err) = gateway_words(
        "credentials platform dialer-eu --tenant 10009 --tenant 10010 --keys-dir",
        &[path(&keys)],
    );
    assert!(ok, "{err}");
    let now = chrono::Utc::now();
    let caller = trust.verify(&credential, Some("10010"), now).unwrap();
    assert_eq!(caller.kind, CallerKind::Platform);
    assert_eq!(caller.principal, Principal::system("10010", "dialer-eu"));
    assert!(
        !trust
            .verify(&credential, Some("10011"), now)
            .unwrap()
            .tenant_granted
    );
    let (ok, _, err) = gateway(&["credentials", "platform", "x", "--keys-dir", path(&keys)]);
    assert!(!ok && err.contains("--tenant"), "{err}");

    // A user's token for `gateway serve`, from its configured secret.
    let (ok, token, err) = gateway_words(
        "credentials user boss --tenant 20002 --name",
        &["Boss Other", "--jwt-secret", "s3cret"],
    );
    assert!(ok, "{err}");
    let verified = SharedKey::new(b"s3cret", gateway::auth::AUDIENCE, 60)
        .verify(&token, chrono::Utc::now())
        .unwrap();
    assert_eq!(
        verified.principal,
        Principal::new("20002", "boss", "Boss Other")
    );

    // Rotation: the old key stays trusted for the window, the new one at once.
    let old = keys.join("archive-svc.pem");
    let old_public = archive_common::identity::load_key_file(&old)
        .unwrap()
        .verifying_key();
    let (ok, out, err) = gateway_words(
        "credentials rotate archive-svc --window-minutes 5 --keys-dir",
        &[path(&keys)],
    );
    assert!(ok, "{err}");
    assert!(out.contains("accepted for 5 more minutes"), "{out}");
    let file = TrustFile::read(&keys.join("trust.json")).unwrap();
    let archive: Vec<_> = file
        .keys
        .iter()
        .filter(|k| k.holder == "archive-svc")
        .collect();
    assert_eq!(archive.len(), 2, "{file:?}");
    let old_entry = file.entry_of(&old_public).unwrap();
    let until = old_entry.not_after.unwrap();
    assert!(
        until > now + chrono::Duration::minutes(4) && until < now + chrono::Duration::minutes(6)
    );
    // The new key loads as archive-svc's with the trust file.
    let config = archive_common::identity::KeySet::new(&keys).config("archive-svc");
    let identity = config.load_with(Arc::new(SystemClock)).unwrap();
    assert_eq!(identity.key.holder(), "archive-svc");
    let (ok, listed, _) = gateway(&["credentials", "list", "--keys-dir", path(&keys)]);
    assert!(ok && listed.contains("until"), "{listed}");
}
