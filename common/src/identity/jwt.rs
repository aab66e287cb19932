//! Users' bearer tokens at the gateway's front door: a JWT with `tenant`,
//! `sub` and `name`, an audience and an expiry. HS256 with a shared secret
//! ([`SharedKey`], embedded mode and `gateway credentials user`) or an
//! identity provider's RS256 / ES256 keys ([`verify_jwt`] with its key).

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::{IdentityError, Principal};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    tenant: String,
    name: String,
    aud: String,
    exp: i64,
    iat: i64,
}

/// A token that verified: whom it names, and until when it is valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub principal: Principal,
    /// The token's `exp` (Unix seconds).
    pub expires_at: i64,
}

/// An HS256 secret that signs and verifies users' tokens for one audience.
#[derive(Clone)]
pub struct SharedKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
    audience: String,
    ttl_seconds: i64,
}

impl std::fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedKey")
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl SharedKey {
    pub fn new(secret: &[u8], audience: &str, ttl_seconds: i64) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            audience: audience.to_owned(),
            ttl_seconds,
        }
    }

    /// A token issued at `now`, valid for the key's time to live.
    pub fn sign(&self, principal: &Principal, now: DateTime<Utc>) -> String {
        self.sign_for(principal, self.ttl_seconds, now)
    }

    pub fn sign_for(&self, principal: &Principal, ttl_seconds: i64, now: DateTime<Utc>) -> String {
        let header = Header::new(Algorithm::HS256);
        sign_jwt(
            principal,
            &self.audience,
            ttl_seconds,
            &header,
            &self.encoding,
            now,
        )
    }

    /// Verifies `token` as of `now`.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Verified, IdentityError> {
        verify_jwt(token, &self.decoding, Algorithm::HS256, &self.audience, now)
    }
}

/// A JWT for `principal` issued at `now` with the claims [`verify_jwt`]
/// reads (issuers, tests).
pub fn sign_jwt(
    principal: &Principal,
    audience: &str,
    ttl_seconds: i64,
    header: &Header,
    key: &EncodingKey,
    now: DateTime<Utc>,
) -> String {
    let now = now.timestamp();
    let claims = Claims {
        sub: principal.user_id.clone(),
        tenant: principal.tenant.clone(),
        name: principal.display_name.clone(),
        aud: audience.to_owned(),
        exp: now + ttl_seconds,
        iat: now,
    };
    jsonwebtoken::encode(header, &claims, key).expect("signing with a valid key cannot fail")
}

/// Verifies a JWT signed with `key` using `algorithm`, for `audience`, with
/// its expiry checked against `now` (5 s of leeway), and reads the principal
/// from its claims (`tenant`, `sub`, `name`).
pub fn verify_jwt(
    token: &str,
    key: &DecodingKey,
    algorithm: Algorithm,
    audience: &str,
    now: DateTime<Utc>,
) -> Result<Verified, IdentityError> {
    let mut validation = Validation::new(algorithm);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "aud", "sub"]);
    // jsonwebtoken would read the system clock; the caller's clock decides.
    validation.validate_exp = false;
    let data = jsonwebtoken::decode::<Claims>(token, key, &validation)
        .map_err(|e| IdentityError::Invalid(e.to_string()))?;
    let c = data.claims;
    if now.timestamp() > c.exp + 5 {
        return Err(IdentityError::Invalid("ExpiredSignature".into()));
    }
    if c.tenant.is_empty() || c.sub.is_empty() {
        return Err(IdentityError::Invalid("tenant and sub are required".into()));
    }
    Ok(Verified {
        principal: Principal::new(c.tenant, c.sub, c.name),
        expires_at: c.exp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paal() -> Principal {
        Principal::new("10009", "paal", "Paal Admin")
    }

    #[test]
    fn another_secret_audience_or_expired_is_refused() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let key = SharedKey::new(b"secret", "archive", 60);
        let token = key.sign(&paal(), now);
        assert_eq!(key.verify(&token, now).unwrap().principal, paal());
        let other = SharedKey::new(b"other", "archive", 60);
        assert!(other.verify(&token, now).is_err());
        assert!(
            SharedKey::new(b"secret", "x", 60)
                .verify(&token, now)
                .is_err()
        );
        // Expiry is the given time's, with 5 s of leeway.
        let late = |s| now + chrono::Duration::seconds(s);
        assert!(key.verify(&token, late(65)).is_ok());
        assert!(key.verify(&token, late(66)).is_err());
        assert!(key.verify(&key.sign_for(&paal(), -60, now), now).is_err());
    }
}
