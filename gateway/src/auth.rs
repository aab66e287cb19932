//! The gateway's front door: a bearer JWT carrying tenant, user id and display
//! name (claims `tenant`, `sub`, `name`; audience `archive`), with expiry
//! checked. HS256 with the configured secret (embedded mode, development) or
//! RS256 / ES256 verified against the keys of a JWKS file (production: the
//! identity provider's published keys). The verified principal goes into the
//! request's extensions; upstream calls forward it signed with the internal key.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use archive_common::{
    Clock, Principal, SystemClock,
    identity::{Algorithm, DecodingKey, SharedKey, Verified, jwk::JwkSet, verify_jwt},
};
use tonic::{Request, Status, service::Interceptor};

/// The audience user tokens must carry.
pub const AUDIENCE: &str = "archive";

/// Verifies users' bearer tokens.
#[derive(Clone)]
pub struct Authenticate {
    key: SharedKey,
    jwks: Option<Arc<JwkSet>>,
    verified: VerifiedTokens,
    /// Issue and expiry times.
    clock: Arc<dyn Clock>,
}

/// Tokens verified already, each remembered until its `exp`: a browser sends
/// the same token with every request, and verifying it again (base64, JSON,
/// an HMAC — or an RSA or ECDSA signature with a provider's keys) costs more
/// than looking it up. Only the exact bytes that verified hit; the keys are
/// fixed for the process's life.
#[derive(Clone, Debug, Default)]
struct VerifiedTokens(Arc<Mutex<HashMap<String, Verified>>>);

/// Tokens remembered at most; past it the expired ones go, then all.
const REMEMBERED_TOKENS: usize = 10_000;

impl VerifiedTokens {
    fn verify(
        &self,
        token: &str,
        now: i64,
        verify: impl FnOnce(&str) -> Result<Verified, String>,
    ) -> Result<Principal, String> {
        if let Some(known) = self.0.lock().expect("lock").get(token)
            && known.expires_at > now
        {
            return Ok(known.principal.clone());
        }
        let verified = verify(token)?;
        let principal = verified.principal.clone();
        let mut known = self.0.lock().expect("lock");
        if known.len() >= REMEMBERED_TOKENS {
            known.retain(|_, v| v.expires_at > now);
            if known.len() >= REMEMBERED_TOKENS {
                known.clear();
            }
        }
        known.insert(token.to_owned(), verified);
        Ok(principal)
    }
}

impl Authenticate {
    pub fn hs256(secret: &[u8]) -> Self {
        Self {
            key: SharedKey::new(secret, AUDIENCE, 12 * 3600),
            jwks: None,
            verified: VerifiedTokens::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Issues and checks expiry on `clock` instead of the system's.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Self { clock, ..self }
    }

    /// Also accepts RS256 / ES256 tokens signed by a key of `jwks` (found by `kid`).
    pub fn with_jwks(mut self, jwks: JwkSet) -> Self {
        self.jwks = Some(Arc::new(jwks));
        // What verified under the old keys is not known to verify under these.
        self.verified = VerifiedTokens::default();
        self
    }

    /// Reads a JWKS file (`{"keys": [...]}`).
    pub fn load_jwks(path: &std::path::Path) -> Result<JwkSet, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: not a JWKS: {e}", path.display()))
    }

    /// Issues an HS256 token (embedded mode's demo users, tests).
    pub fn issue(&self, principal: &Principal, ttl_seconds: i64) -> String {
        self.key.sign_for(principal, ttl_seconds, self.clock.now())
    }

    pub fn verify_bearer(&self, header: Option<&str>) -> Result<Principal, Status> {
        let header = header.ok_or_else(|| Status::unauthenticated("missing bearer token"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| Status::unauthenticated("authorization must be a Bearer token"))?
            .trim();
        let now = self.clock.now();
        self.verified
            .verify(token, now.timestamp(), |t| self.verify(t, now))
            .map_err(Status::unauthenticated)
    }

    fn verify(&self, token: &str, now: chrono::DateTime<chrono::Utc>) -> Result<Verified, String> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| format!("invalid token: {e}"))?;
        match header.alg {
            Algorithm::HS256 => self.key.verify(token, now).map_err(|e| e.to_string()),
            Algorithm::RS256 | Algorithm::ES256 => {
                let jwks = self
                    .jwks
                    .as_ref()
                    .ok_or("asymmetric tokens need the gateway to be given a JWKS")?;
                let jwk = match &header.kid {
                    Some(kid) => jwks.find(kid),
                    None if jwks.keys.len() == 1 => jwks.keys.first(),
                    None => None,
                }
                .ok_or("the token's key (kid) is not in the JWKS")?;
                let key =
                    DecodingKey::from_jwk(jwk).map_err(|e| format!("unusable JWKS key: {e}"))?;
                verify_jwt(token, &key, header.alg, AUDIENCE, now).map_err(|e| e.to_string())
            }
            other => Err(format!("token algorithm {other:?} is not accepted")),
        }
    }
}

impl Interceptor for Authenticate {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let header = request
            .metadata()
            .get("authorization")
            .map(|v| {
                v.to_str()
                    .map_err(|_| Status::unauthenticated("authorization is not ASCII"))
            })
            .transpose()?;
        let principal = self.verify_bearer(header)?;
        request.extensions_mut().insert(principal);
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use archive_common::identity::{EncodingKey, Header, jwk::Jwk, sign_jwt};
    use test_support::principals::paal;

    use super::*;

    #[test]
    fn hs256_bearer_tokens() {
        let auth = Authenticate::hs256(b"jwt");
        let verify = |token: String| auth.verify_bearer(Some(&format!("Bearer {token}")));
        assert_eq!(verify(auth.issue(&paal(), 60)).unwrap(), paal());
        for bad in [None, Some("Basic abc"), Some("Bearer nope")] {
            let err = auth.verify_bearer(bad).unwrap_err();
            assert_eq!(err.code(), tonic::Code::Unauthenticated);
        }
        assert!(verify(auth.issue(&paal(), -600)).is_err(), "expired");
        let other = Authenticate::hs256(b"other").issue(&paal(), 60);
        assert!(verify(other).is_err());
    }

    #[test]
    fn a_token_expires_on_the_gateways_clock_remembered_or_not() {
        let clock = Arc::new(archive_common::ManualClock::new(chrono::Utc::now()));
        let auth = Authenticate::hs256(b"jwt").with_clock(clock.clone());
        let bearer = format!("Bearer {}", auth.issue(&paal(), 60));
        assert_eq!(auth.verify_bearer(Some(&bearer)).unwrap(), paal());
        clock.advance(chrono::Duration::seconds(59));
        assert_eq!(auth.verify_bearer(Some(&bearer)).unwrap(), paal());
        clock.advance(chrono::Duration::seconds(10));
        assert!(auth.verify_bearer(Some(&bearer)).is_err(), "expired");
    }

    #[test]
    fn a_verified_token_is_remembered_until_it_expires_and_a_refused_one_never() {
        let tokens = VerifiedTokens::default();
        let verifications = std::cell::Cell::new(0);
        let good = |_: &str| {
            verifications.set(verifications.get() + 1);
            Ok(Verified {
                principal: paal(),
                expires_at: 1_000,
            })
        };
        assert_eq!(tokens.verify("t1", 900, good).unwrap(), paal());
        assert_eq!(tokens.verify("t1", 999, good).unwrap(), paal());
        assert_eq!(verifications.get(), 1, "the second use is looked up");
        // At its expiry it is verified again (and here, still "verifies").
        tokens.verify("t1", 1_000, good).unwrap();
        assert_eq!(verifications.get(), 2);
        // Another token (one byte differs) is verified on its own.
        tokens.verify("t2", 900, good).unwrap();
        assert_eq!(verifications.get(), 3);

        let refusals = std::cell::Cell::new(0);
        let bad = |_: &str| {
            refusals.set(refusals.get() + 1);
            Err::<Verified, _>("invalid token".to_owned())
        };
        assert!(tokens.verify("forged", 900, bad).is_err());
        assert!(tokens.verify("forged", 900, bad).is_err());
        assert_eq!(refusals.get(), 2, "a refusal is not remembered");
    }

    #[test]
    fn remembered_tokens_stay_bounded() {
        let tokens = VerifiedTokens::default();
        let verified = |expires_at| {
            move |_: &str| {
                Ok(Verified {
                    principal: paal(),
                    expires_at,
                })
            }
        };
        for i in 0..REMEMBERED_TOKENS {
            tokens
                .verify(&format!("old{i}"), 100, verified(200))
                .unwrap();
        }
        // Full: the expired ones make room, the live one stays.
        tokens.verify("live", 300, verified(400)).unwrap();
        tokens.verify("new", 300, verified(400)).unwrap();
        let known = tokens.0.lock().unwrap();
        assert_eq!(known.len(), 2);
        assert!(known.contains_key("live") && known.contains_key("new"));
    }

    /// A signing key from the test fixtures and its public JWK under `kid`.
    fn provider(alg: Algorithm, kid: &str) -> (EncodingKey, Jwk) {
        let key = match alg {
            Algorithm::ES256 => {
                EncodingKey::from_ec_pem(include_bytes!("../tests/fixtures/test-es256.pem"))
            }
            _ => EncodingKey::from_rsa_pem(include_bytes!("../tests/fixtures/test-rs256.pem")),
        }
        .unwrap();
        let mut jwk = Jwk::from_encoding_key(&key, alg).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        (key, jwk)
    }

    fn token(
        alg: Algorithm,
        kid: Option<&str>,
        key: &EncodingKey,
        audience: &str,
        ttl: i64,
    ) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        let now = chrono::Utc::now();
        format!(
            "Bearer {}",
            sign_jwt(&paal(), audience, ttl, &header, key, now)
        )
    }

    #[test]
    fn rs256_and_es256_tokens_verify_against_the_jwks() {
        let (es, es_jwk) = provider(Algorithm::ES256, "es-1");
        let (rs, rs_jwk) = provider(Algorithm::RS256, "rs-1");
        let without_jwks = Authenticate::hs256(b"jwt");
        let es_token = token(Algorithm::ES256, Some("es-1"), &es, AUDIENCE, 60);
        assert!(
            without_jwks.verify_bearer(Some(&es_token)).is_err(),
            "no JWKS, no asymmetric tokens"
        );

        let auth = Authenticate::hs256(b"jwt").with_jwks(JwkSet {
            keys: vec![es_jwk, rs_jwk],
        });
        assert_eq!(auth.verify_bearer(Some(&es_token)).unwrap(), paal());
        let rs_token = token(Algorithm::RS256, Some("rs-1"), &rs, AUDIENCE, 60);
        assert_eq!(auth.verify_bearer(Some(&rs_token)).unwrap(), paal());

        let es256 = |kid, audience, ttl| token(Algorithm::ES256, kid, &es, audience, ttl);
        for (bad, why) in [
            (es256(Some("unknown"), AUDIENCE, 60), "unknown kid"),
            (es256(Some("rs-1"), AUDIENCE, 60), "another key's kid"),
            (es256(Some("es-1"), "someone-else", 60), "wrong audience"),
            (es256(Some("es-1"), AUDIENCE, -600), "expired"),
            (es256(None, AUDIENCE, 60), "no kid with several keys"),
        ] {
            assert!(auth.verify_bearer(Some(&bad)).is_err(), "{why}");
        }
        // HS256 demo tokens keep working alongside.
        assert!(
            auth.verify_bearer(Some(&format!("Bearer {}", auth.issue(&paal(), 60))))
                .is_ok()
        );
    }
}
