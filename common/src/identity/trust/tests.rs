use std::sync::Arc;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Duration;
use jsonwebtoken::{EncodingKey, Header};

use super::*;
use crate::{
    Clock, ManualClock,
    identity::{IdentityKey, KeySet, generate_key_file, load_key_file},
};

struct Fixture {
    _dir: tempfile::TempDir,
    set: KeySet,
    clock: Arc<ManualClock>,
    trust: Trust,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let set = KeySet::new(dir.path());
    set.ensure_suite().unwrap();
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let trust = Trust::load(&set.trust_file()).unwrap();
    Fixture {
        _dir: dir,
        set,
        clock,
        trust,
    }
}

impl Fixture {
    fn signer(&self, holder: &str) -> IdentityKey {
        let key = load_key_file(&self.set.key_file(holder)).unwrap();
        IdentityKey::new(&key, &self.trust, self.clock.clone()).unwrap()
    }

    fn verify(&self, token: &str, tenant: Option<&str>) -> Result<Caller, IdentityError> {
        self.trust.verify(token, tenant, self.clock.now())
    }
}

fn paal() -> Principal {
    Principal::new("10009", "paal", "Paal Admin")
}

#[test]
fn the_gateway_vouches_for_users_and_services_only_for_themselves() {
    let f = fixture();
    let user = f.verify(&f.signer("gateway").sign(&paal()), None).unwrap();
    assert_eq!(
        (user.kind, user.holder.as_str()),
        (CallerKind::User, "gateway")
    );
    assert_eq!(user.principal, paal());

    let relay = Principal::system("10009", "archive-outbox");
    let service = f
        .verify(&f.signer("archive-svc").sign(&relay), None)
        .unwrap();
    assert_eq!(
        (service.kind, service.holder.as_str()),
        (CallerKind::Service, "archive-svc")
    );
    // A service's key cannot speak for a user.
    let err = f
        .verify(&f.signer("archive-svc").sign(&paal()), None)
        .unwrap_err();
    assert!(err.to_string().contains("cannot vouch for a User"), "{err}");
}

#[test]
fn a_platform_credential_acts_for_the_tenants_it_names() {
    let f = fixture();
    let credential =
        f.signer("authority")
            .issue_platform("dialer", &["10009".into()], Duration::days(30));
    let own = f.verify(credential.token(), Some("10009")).unwrap();
    assert_eq!((own.kind, own.tenant_granted), (CallerKind::Platform, true));
    assert_eq!(own.principal, Principal::system("10009", "dialer"));
    assert_eq!(own.holder, "dialer");
    let other = f.verify(credential.token(), Some("10010")).unwrap();
    assert!(!other.tenant_granted);
    assert!(f.verify(credential.token(), None).is_err());
    // Only the authority issues platform credentials.
    let forged = f
        .signer("gateway")
        .issue_platform("dialer", &["10009".into()], Duration::days(1));
    assert!(f.verify(forged.token(), Some("10009")).is_err());
}

/// What a thief holding a token (and every public key) can try.
#[test]
fn a_stolen_token_cannot_be_altered_or_re_signed() {
    let f = fixture();
    let token = f.signer("gateway").sign(&paal()).to_string();
    let [header, claims, signature]: [&str; 3] =
        token.split('.').collect::<Vec<_>>().try_into().unwrap();
    let mut json: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    json["tenant"] = "10010".into();
    let altered = URL_SAFE_NO_PAD.encode(json.to_string());
    // Claims changed under the original signature.
    assert!(
        f.verify(&format!("{header}.{altered}.{signature}"), None)
            .is_err()
    );
    // Re-signed with another key under the gateway's kid.
    let stranger = dir_key();
    let mut forged_header = Header::new(Algorithm::EdDSA);
    forged_header.kid = jsonwebtoken::decode_header(&token).unwrap().kid;
    let forged = jsonwebtoken::encode(&forged_header, &json, &stranger).unwrap();
    assert!(f.verify(&forged, None).is_err());
    // HS256 with the gateway's public key as the secret (algorithm confusion).
    let public = &f.trust.current(f.clock.now()).file.keys[0].public_key;
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = forged_header.kid.clone();
    let confused =
        jsonwebtoken::encode(&hs, &json, &EncodingKey::from_secret(public.as_bytes())).unwrap();
    let err = f.verify(&confused, None).unwrap_err().to_string();
    assert!(err.contains("only EdDSA"), "{err}");
    // The token itself still verifies, as paal of 10009 only.
    assert_eq!(f.verify(&token, None).unwrap().principal, paal());
}

fn dir_key() -> EncodingKey {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("thief.pem");
    generate_key_file(&path).unwrap();
    EncodingKey::from_ed_pem(std::fs::read(&path).unwrap().as_slice()).unwrap()
}

#[test]
fn tokens_expire_on_the_injected_clock() {
    let f = fixture();
    let token = f.signer("gateway").sign(&paal());
    assert!(f.verify(&token, None).is_ok());
    f.clock.advance(Duration::seconds(120 + LEEWAY + 1));
    assert!(
        f.verify(&token, None)
            .unwrap_err()
            .to_string()
            .contains("expired")
    );
}

#[test]
fn a_rotated_key_is_trusted_for_its_window_then_refused() {
    let f = fixture();
    let old = f.signer("archive-svc");
    let relay = Principal::system("10009", "archive-outbox");
    let token = old.sign(&relay);
    f.set
        .rotate("archive-svc", f.clock.now(), Duration::seconds(30))
        .unwrap();
    // Verification re-reads the file (modification times can be coarse:
    // wait past one) at most every RELOAD_EVERY of the clock.
    std::thread::sleep(std::time::Duration::from_millis(20));
    f.clock.advance(RELOAD_EVERY);
    assert!(f.verify(&token, None).is_ok());
    f.clock.advance(Duration::seconds(31));
    let err = f.verify(&token, None).unwrap_err().to_string();
    assert!(err.contains("rotated out"), "{err}");
    let new = f.signer("archive-svc");
    assert!(f.verify(&new.sign(&relay), None).is_ok());
}
