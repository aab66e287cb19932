//! Internal tokens: EdDSA JWTs whose `kid` names the signing key in the trust
//! file and whose `kind` says what the caller is. [`IdentityKey`] signs a
//! holder's own (a short-lived token per principal, reused while it has
//! more than half its life left: signing per call would cost an Ed25519
//! signature per upstream request); [`PlatformCredential`] is the long-lived
//! one the operator's authority key issues to a recording platform.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use ed25519_dalek::{SigningKey, pkcs8::EncodePrivateKey};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use tonic::{Request, metadata::MetadataValue};

use super::{
    CallerKind, IDENTITY_HEADER, INTERNAL_AUDIENCE, IdentityError, Principal, Role, TENANT_HEADER,
    Trust, kid,
};
use crate::{Clock, SystemClock};

/// What an internal token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// The signing key's holder (must match the trust file's entry).
    pub(crate) iss: String,
    pub(crate) kind: CallerKind,
    pub(crate) sub: String,
    /// Empty for a platform credential (see `tenants`).
    #[serde(default)]
    pub(crate) tenant: String,
    #[serde(default)]
    pub(crate) name: String,
    /// The tenants a platform credential may act for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) tenants: Vec<String>,
    pub(crate) aud: String,
    pub(crate) exp: i64,
    pub(crate) iat: i64,
}

/// Internal tokens live this long; a signer reuses one for half of it.
const TTL_SECONDS: i64 = 120;
/// Principals whose tokens a signer remembers at most.
const REMEMBERED: usize = 10_000;

/// Tokens signed already: each principal's, with its `exp`.
type Signed = HashMap<Principal, (Arc<str>, i64)>;

/// A holder's private key: signs the principals it acts as.
#[derive(Clone)]
pub struct IdentityKey {
    holder: String,
    role: Role,
    kid: String,
    encoding: EncodingKey,
    clock: Arc<dyn Clock>,
    signed: Arc<Mutex<Signed>>,
}

impl std::fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityKey")
            .field("holder", &self.holder)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl IdentityKey {
    /// `key`, whose holder and role the trust file says.
    pub fn new(
        key: &SigningKey,
        trust: &Trust,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, IdentityError> {
        let entry = trust.entry_of(&key.verifying_key()).ok_or_else(|| {
            IdentityError::Keys(
                "this key is not in the trust file: add it (gateway credentials init / rotate)"
                    .into(),
            )
        })?;
        Ok(Self::with_holder(key, &entry.holder, entry.role, clock))
    }

    /// `key` as `holder`'s, without a trust file (an issuer, or a test's stranger).
    pub fn with_holder(key: &SigningKey, holder: &str, role: Role, clock: Arc<dyn Clock>) -> Self {
        let der = key.to_pkcs8_der().expect("an Ed25519 key encodes");
        Self {
            holder: holder.to_owned(),
            role,
            kid: kid(holder, &key.verifying_key()),
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            clock,
            signed: Arc::default(),
        }
    }

    /// A secret for `purpose` that only this key's holder can derive (e.g.
    /// the key of its page tokens), the same in each of its replicas.
    pub fn derived_secret(&self, purpose: &str) -> Vec<u8> {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(b"archive derived secret\n");
        hash.update(purpose.as_bytes());
        hash.update(b"\n");
        hash.update(self.encoding.inner());
        hash.finalize().to_vec()
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    pub fn role(&self) -> Role {
        self.role
    }

    fn encode(&self, claims: &Claims) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .expect("signing with a valid key cannot fail")
    }

    /// A token naming `principal`: a user's (only a gateway's verifies) or,
    /// for a `system:…` principal, the holder's own.
    pub fn sign(&self, principal: &Principal) -> Arc<str> {
        let now = self.clock.now().timestamp();
        if let Some((token, exp)) = self.signed.lock().expect("tokens").get(principal)
            && exp - now > TTL_SECONDS / 2
        {
            return token.clone();
        }
        let kind = if principal.is_system() {
            CallerKind::Service
        } else {
            CallerKind::User
        };
        let claims = Claims {
            iss: self.holder.clone(),
            kind,
            sub: principal.user_id.clone(),
            tenant: principal.tenant.clone(),
            name: principal.display_name.clone(),
            tenants: Vec::new(),
            aud: INTERNAL_AUDIENCE.to_owned(),
            exp: now + TTL_SECONDS,
            iat: now,
        };
        let token: Arc<str> = self.encode(&claims).into();
        let mut signed = self.signed.lock().expect("tokens");
        if signed.len() >= REMEMBERED {
            signed.clear();
        }
        signed.insert(principal.clone(), (token.clone(), claims.exp));
        token
    }

    /// Wraps a message in a request that carries `principal`, for calling a service.
    pub fn request<T>(&self, message: T, principal: &Principal) -> Request<T> {
        let mut request = Request::new(message);
        let value =
            MetadataValue::try_from(&*self.sign(principal)).expect("a JWT is valid ASCII metadata");
        request.metadata_mut().insert(IDENTITY_HEADER, value);
        request
    }

    /// Issues a recording-platform credential (only an authority's key makes
    /// one that verifies): `name` may ingest calls and upload recordings for
    /// `tenants`, for `ttl`.
    pub fn issue_platform(
        &self,
        name: &str,
        tenants: &[String],
        ttl: chrono::Duration,
    ) -> PlatformCredential {
        let now = self.clock.now().timestamp();
        let claims = Claims {
            iss: self.holder.clone(),
            kind: CallerKind::Platform,
            sub: format!("system:{name}"),
            tenant: String::new(),
            name: name.to_owned(),
            tenants: tenants.to_vec(),
            aud: INTERNAL_AUDIENCE.to_owned(),
            exp: now + ttl.num_seconds(),
            iat: now,
        };
        PlatformCredential {
            token: self.encode(&claims),
        }
    }
}

impl IdentityKey {
    /// A signer with the system clock (processes; tests that need no other).
    pub fn load(key: &SigningKey, trust: &Trust) -> Result<Self, IdentityError> {
        Self::new(key, trust, Arc::new(SystemClock))
    }
}

/// A recording platform's credential: sent with every call, with the tenant
/// of the call in `x-archive-tenant`. It signs nothing: whoever holds it can
/// do what it names (ingest and upload for its tenants) and nothing else.
#[derive(Clone, PartialEq, Eq)]
pub struct PlatformCredential {
    token: String,
}

impl std::fmt::Debug for PlatformCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlatformCredential(…)")
    }
}

impl PlatformCredential {
    /// A credential as the operator handed it over (`gateway credentials platform`).
    pub fn from_token(token: impl Into<String>) -> Self {
        Self {
            token: token.into().trim().to_owned(),
        }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// Wraps a message in a request acting for `tenant`.
    pub fn request<T>(&self, message: T, tenant: &str) -> Request<T> {
        let mut request = Request::new(message);
        self.apply(request.metadata_mut(), tenant);
        request
    }

    /// Puts the credential and `tenant` on `metadata` (streaming clients).
    pub fn apply(&self, metadata: &mut tonic::metadata::MetadataMap, tenant: &str) {
        metadata.insert(
            IDENTITY_HEADER,
            MetadataValue::try_from(self.token.as_str()).expect("a JWT is valid ASCII metadata"),
        );
        if let Ok(tenant) = MetadataValue::try_from(tenant) {
            metadata.insert(TENANT_HEADER, tenant);
        }
    }
}
