//! [`Trust`]: the trust file loaded, re-read when it changes (a rotation
//! adds a key and sets the old one's `not_after` without a restart), and the
//! verification of internal tokens against it.
//!
//! A token verifies when its `kid` is a trusted key not past its
//! `not_after`, its EdDSA signature holds (no other algorithm is accepted, so
//! a token "signed" with HS256 and a public key as the secret is refused),
//! its `iss` is that key's holder, its audience is internal and it has not
//! expired — and when the key's role may vouch for the token's kind: users
//! only from a gateway key, `system:…` principals only from the holder
//! itself, platforms only from an authority key. Tokens that verified are
//! remembered by their exact text until they expire (a caller sends the
//! same one for a minute), the key's validity checked on every use.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, RwLock},
    time::SystemTime,
};

use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::VerifyingKey;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::{
    Caller, CallerKind, INTERNAL_AUDIENCE, IdentityError, Principal, Role, TrustFile, TrustedKey,
    keys::parse_public_key, token::Claims,
};

/// How often the trust file's modification time is looked at.
const RELOAD_EVERY: Duration = Duration::seconds(2);
/// Seconds of clock difference tolerated on `exp`.
const LEEWAY: i64 = 5;
/// Verified tokens remembered at most; past it the expired ones go, then all.
const REMEMBERED: usize = 10_000;

struct Key {
    holder: String,
    role: Role,
    decoding: DecodingKey,
    not_after: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct Loaded {
    modified: Option<SystemTime>,
    file: TrustFile,
    keys: HashMap<String, Arc<Key>>,
}

struct Remembered {
    claims: Claims,
    kid: String,
}

struct Inner {
    path: Option<PathBuf>,
    loaded: RwLock<Arc<Loaded>>,
    /// When the file's modification time was last looked at (the verifying
    /// call's `now`, so tests move it with their clock).
    checked: Mutex<DateTime<Utc>>,
    verified: Mutex<HashMap<Arc<str>, Arc<Remembered>>>,
}

/// The keys this process verifies callers with.
#[derive(Clone)]
pub struct Trust(Arc<Inner>);

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("path", &self.0.path)
            .finish_non_exhaustive()
    }
}

fn load(file: TrustFile, modified: Option<SystemTime>) -> Loaded {
    let keys = file
        .keys
        .iter()
        .filter_map(|k: &TrustedKey| {
            let public = parse_public_key(&k.public_key).ok()?;
            Some((
                k.kid.clone(),
                Arc::new(Key {
                    holder: k.holder.clone(),
                    role: k.role,
                    decoding: DecodingKey::from_ed_der(public.as_bytes()),
                    not_after: k.not_after,
                }),
            ))
        })
        .collect();
    Loaded {
        modified,
        file,
        keys,
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl Trust {
    /// The trust file at `path`, re-read whenever it changes.
    pub fn load(path: &Path) -> Result<Self, IdentityError> {
        let stamp = modified(path);
        let file = TrustFile::read(path)?;
        Ok(Self(Arc::new(Inner {
            path: Some(path.to_owned()),
            loaded: RwLock::new(Arc::new(load(file, stamp))),
            checked: Mutex::new(DateTime::<Utc>::UNIX_EPOCH),
            verified: Mutex::default(),
        })))
    }

    /// Fixed keys (tests).
    pub fn fixed(file: TrustFile) -> Self {
        Self(Arc::new(Inner {
            path: None,
            loaded: RwLock::new(Arc::new(load(file, None))),
            checked: Mutex::new(DateTime::<Utc>::UNIX_EPOCH),
            verified: Mutex::default(),
        }))
    }

    /// The keys as of `now`, the file re-read first when it changed and was
    /// last looked at [`RELOAD_EVERY`] ago.
    fn current(&self, now: DateTime<Utc>) -> Arc<Loaded> {
        if let Some(path) = &self.0.path {
            let due = {
                let mut checked = self.0.checked.lock().expect("trust");
                // A clock set back must not stop the reloads until it catches up.
                let due = now - *checked >= RELOAD_EVERY || now < *checked;
                if due {
                    *checked = now;
                }
                due
            };
            if due {
                self.reload_if_changed(path);
            }
        }
        self.0.loaded.read().expect("trust").clone()
    }

    fn reload_if_changed(&self, path: &Path) {
        let stamp = modified(path);
        let known = self.0.loaded.read().expect("trust").modified;
        if stamp != known {
            match TrustFile::read(path) {
                Ok(file) => {
                    tracing::info!(path = %path.display(), keys = file.keys.len(), "trust file reloaded");
                    *self.0.loaded.write().expect("trust") = Arc::new(load(file, stamp));
                }
                // Keep what verified so far; a half-edited file must not lock everyone out.
                Err(e) => tracing::warn!(error = %e, "trust file not reloaded"),
            }
        }
    }

    /// The trusted entry of `key` in the file as it is now (a process asks
    /// this of its own key when it starts signing).
    pub fn entry_of(&self, key: &VerifyingKey) -> Option<TrustedKey> {
        if let Some(path) = &self.0.path {
            self.reload_if_changed(path);
        }
        let loaded = self.0.loaded.read().expect("trust").clone();
        loaded.file.entry_of(key).cloned()
    }

    /// Verifies `token` at `now`; `tenant` is the `x-archive-tenant` header
    /// (what a platform acts for; ignored for other callers).
    pub fn verify(
        &self,
        token: &str,
        tenant: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Caller, IdentityError> {
        let loaded = self.current(now);
        let remembered = self.0.verified.lock().expect("tokens").get(token).cloned();
        let remembered = match remembered {
            Some(r) => r,
            None => {
                let r = Arc::new(decode(&loaded, token)?);
                let mut verified = self.0.verified.lock().expect("tokens");
                if verified.len() >= REMEMBERED {
                    let now = now.timestamp();
                    verified.retain(|_, r| r.claims.exp + LEEWAY > now);
                    if verified.len() >= REMEMBERED {
                        verified.clear();
                    }
                }
                verified.insert(token.into(), r.clone());
                r
            }
        };
        let key = loaded
            .keys
            .get(&remembered.kid)
            .ok_or_else(|| IdentityError::Invalid("the signing key is no longer trusted".into()))?;
        if key.not_after.is_some_and(|t| now > t) {
            return Err(IdentityError::Invalid(format!(
                "key {} was rotated out",
                remembered.kid
            )));
        }
        let c = &remembered.claims;
        if now.timestamp() > c.exp + LEEWAY {
            return Err(IdentityError::Invalid("expired".into()));
        }
        let (principal, granted) = match c.kind {
            CallerKind::Platform => {
                let tenant = tenant.unwrap_or_default();
                if tenant.is_empty() {
                    return Err(IdentityError::Invalid(
                        "a platform credential needs the tenant in x-archive-tenant".into(),
                    ));
                }
                let granted = c.tenants.iter().any(|t| t == tenant);
                (
                    Principal::new(tenant, c.sub.clone(), c.name.clone()),
                    granted,
                )
            }
            _ => (Principal::new(&c.tenant, &c.sub, &c.name), true),
        };
        // A platform is known by its credential's name, not its issuer's.
        let holder = match c.kind {
            CallerKind::Platform => c.name.clone(),
            _ => key.holder.clone(),
        };
        Ok(Caller::verified(
            principal,
            c.kind,
            holder,
            granted,
            token.into(),
        ))
    }
}

/// Checks signature, issuer and role of a token not seen before.
fn decode(loaded: &Loaded, token: &str) -> Result<Remembered, IdentityError> {
    let invalid = |why: &str| IdentityError::Invalid(why.to_owned());
    let header = jsonwebtoken::decode_header(token).map_err(|e| invalid(&e.to_string()))?;
    if header.alg != Algorithm::EdDSA {
        return Err(invalid("only EdDSA tokens are accepted"));
    }
    let kid = header.kid.ok_or_else(|| invalid("no kid"))?;
    let key = loaded
        .keys
        .get(&kid)
        .ok_or_else(|| invalid("signed with a key the trust file does not hold"))?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_audience(&[INTERNAL_AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "aud", "sub", "iss"]);
    // Expiry is checked against the injected clock by the caller.
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
        .map_err(|e| IdentityError::Invalid(e.to_string()))?
        .claims;
    if claims.iss != key.holder {
        return Err(invalid("the issuer is not the signing key's holder"));
    }
    let system = claims.sub.starts_with("system:");
    let allowed = match (claims.kind, key.role) {
        (CallerKind::User, Role::Gateway) => !system && !claims.tenant.is_empty(),
        (CallerKind::Service, Role::Gateway | Role::Service) => system,
        (CallerKind::Platform, Role::Authority) => !claims.tenants.is_empty(),
        _ => false,
    };
    if !allowed {
        return Err(IdentityError::Invalid(format!(
            "a {:?} key cannot vouch for a {:?} caller named {}",
            key.role, claims.kind, claims.sub
        )));
    }
    Ok(Remembered { claims, kid })
}

#[cfg(test)]
mod tests;
