//! Who is calling. The gateway verifies the user's bearer token and forwards the
//! principal to the services as a short-lived HS256 token signed with a key only
//! the suite knows (`x-archive-identity`). Each service verifies it with
//! [`VerifyIdentity`]; a request without a valid one is UNAUTHENTICATED. The
//! tenant therefore always comes from a verified signature, never from a field.

use std::sync::Arc;

use chrono::Utc;
use jsonwebtoken::Validation;
pub use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, jwk};
use serde::{Deserialize, Serialize};
use tonic::{Request, Status, metadata::MetadataValue, service::Interceptor};

/// The metadata key of the forwarded identity.
pub const IDENTITY_HEADER: &str = "x-archive-identity";
const INTERNAL_AUDIENCE: &str = "archive-internal";

/// An authenticated user (or system actor) of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The tenant ("customer"), e.g. `10009`.
    pub tenant: String,
    /// The user's login id, e.g. `paal`.
    pub user_id: String,
    /// The name shown to people, e.g. `Paal Admin`.
    pub display_name: String,
}

impl Principal {
    pub fn new(
        tenant: impl Into<String>,
        user_id: impl Into<String>,
        display_name: impl Into<String>,
    ) -> Self {
        Self {
            tenant: tenant.into(),
            user_id: user_id.into(),
            display_name: display_name.into(),
        }
    }

    /// A non-human actor of a tenant (the retention sweeper, the ingest platform).
    pub fn system(tenant: impl Into<String>, name: &str) -> Self {
        Self::new(tenant, format!("system:{name}"), name)
    }

    /// A request as [`VerifyIdentity`] leaves it, carrying this principal: for
    /// a caller in the service's own process that has verified who acts
    /// itself and calls the service directly (the embedded gateway).
    pub fn on<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.extensions_mut().insert(self.clone());
        request
    }

    /// The principal [`VerifyIdentity`] put on a request.
    pub fn of<T>(request: &Request<T>) -> Result<&Principal, Status> {
        request
            .extensions()
            .get::<Principal>()
            .ok_or_else(|| Status::unauthenticated("no verified identity on the request"))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("missing token")]
    Missing,
    #[error("invalid token: {0}")]
    Invalid(String),
}

impl From<IdentityError> for Status {
    fn from(e: IdentityError) -> Self {
        Status::unauthenticated(e.to_string())
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    tenant: String,
    name: String,
    aud: String,
    exp: i64,
    iat: i64,
}

/// A shared HS256 key that signs and verifies principals for one audience.
#[derive(Clone)]
pub struct IdentityKey {
    encoding: EncodingKey,
    decoding: DecodingKey,
    audience: String,
    ttl_seconds: i64,
}

impl std::fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityKey")
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl IdentityKey {
    /// The key services use to trust what the gateway forwards.
    pub fn internal(secret: &[u8]) -> Self {
        Self::new(secret, INTERNAL_AUDIENCE, 120)
    }

    pub fn new(secret: &[u8], audience: &str, ttl_seconds: i64) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            audience: audience.to_owned(),
            ttl_seconds,
        }
    }

    pub fn sign(&self, principal: &Principal) -> String {
        self.sign_for(principal, self.ttl_seconds)
    }

    pub fn sign_for(&self, principal: &Principal, ttl_seconds: i64) -> String {
        sign_jwt(
            principal,
            &self.audience,
            ttl_seconds,
            &Header::new(Algorithm::HS256),
            &self.encoding,
        )
    }
}

/// A JWT for `principal` with the claims [`verify_jwt`] reads (issuers, tests).
pub fn sign_jwt(
    principal: &Principal,
    audience: &str,
    ttl_seconds: i64,
    header: &Header,
    key: &EncodingKey,
) -> String {
    let now = Utc::now().timestamp();
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

impl IdentityKey {
    pub fn verify(&self, token: &str) -> Result<Verified, IdentityError> {
        verify_jwt(token, &self.decoding, Algorithm::HS256, &self.audience)
    }

    /// Wraps a message in a request that carries `principal`, for calling a service.
    pub fn request<T>(&self, message: T, principal: &Principal) -> Request<T> {
        let mut request = Request::new(message);
        let value =
            MetadataValue::try_from(self.sign(principal)).expect("a JWT is valid ASCII metadata");
        request.metadata_mut().insert(IDENTITY_HEADER, value);
        request
    }
}

/// A token that verified: whom it names, and until when it is valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub principal: Principal,
    /// The token's `exp` (Unix seconds).
    pub expires_at: i64,
}

/// Verifies a JWT signed with `key` using `algorithm`, for `audience`, with
/// its expiry checked, and reads the principal from its claims (`tenant`,
/// `sub`, `name`). Shared by the internal identity and users' bearer tokens.
pub fn verify_jwt(
    token: &str,
    key: &DecodingKey,
    algorithm: Algorithm,
    audience: &str,
) -> Result<Verified, IdentityError> {
    let mut validation = Validation::new(algorithm);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "aud", "sub"]);
    validation.leeway = 5;
    let data = jsonwebtoken::decode::<Claims>(token, key, &validation)
        .map_err(|e| IdentityError::Invalid(e.to_string()))?;
    let c = data.claims;
    if c.tenant.is_empty() || c.sub.is_empty() {
        return Err(IdentityError::Invalid("tenant and sub are required".into()));
    }
    Ok(Verified {
        principal: Principal::new(c.tenant, c.sub, c.name),
        expires_at: c.exp,
    })
}

/// Server interceptor: verifies `x-archive-identity` and puts the [`Principal`]
/// in the request's extensions; anything else is UNAUTHENTICATED.
#[derive(Clone, Debug)]
pub struct VerifyIdentity(Arc<IdentityKey>);

impl VerifyIdentity {
    pub fn new(key: IdentityKey) -> Self {
        Self(Arc::new(key))
    }
}

impl Interceptor for VerifyIdentity {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let token = request
            .metadata()
            .get(IDENTITY_HEADER)
            .ok_or(IdentityError::Missing)?
            .to_str()
            .map_err(|_| IdentityError::Invalid("not ASCII".into()))?;
        let verified = self.0.verify(token)?;
        request.extensions_mut().insert(verified.principal);
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paal() -> Principal {
        Principal::new("10009", "paal", "Paal Admin")
    }

    #[test]
    fn signed_identity_verifies() {
        let key = IdentityKey::internal(b"secret");
        assert_eq!(key.verify(&key.sign(&paal())).unwrap().principal, paal());
    }

    #[test]
    fn another_key_or_audience_is_refused() {
        let key = IdentityKey::internal(b"secret");
        let token = key.sign(&paal());
        assert!(IdentityKey::internal(b"other").verify(&token).is_err());
        assert!(
            IdentityKey::new(b"secret", "archive", 60)
                .verify(&token)
                .is_err()
        );
    }

    #[test]
    fn expired_identity_is_refused() {
        let key = IdentityKey::internal(b"secret");
        let token = key.sign_for(&paal(), -60);
        assert!(matches!(key.verify(&token), Err(IdentityError::Invalid(_))));
    }

    #[test]
    fn interceptor_requires_the_header() {
        let key = IdentityKey::internal(b"secret");
        let mut verify = VerifyIdentity::new(key.clone());
        let err = verify.call(Request::new(())).unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
        let ok = verify.call(key.request((), &paal())).unwrap();
        assert_eq!(Principal::of(&ok).unwrap(), &paal());
    }
}
