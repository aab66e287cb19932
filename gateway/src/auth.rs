//! The gateway's front door: a bearer JWT (HS256 with the configured secret;
//! audience `archive`) carrying tenant, user id and display name, with expiry
//! checked. The verified principal goes into the request's extensions; the
//! upstream calls forward it signed with the internal key.

use archive_common::{IdentityKey, Principal};
use tonic::{Request, Status, service::Interceptor};

/// The audience user tokens must carry.
pub const AUDIENCE: &str = "archive";

/// Verifies users' bearer tokens.
#[derive(Clone, Debug)]
pub struct Authenticate {
    key: IdentityKey,
}

impl Authenticate {
    pub fn hs256(secret: &[u8]) -> Self {
        Self {
            key: IdentityKey::new(secret, AUDIENCE, 12 * 3600),
        }
    }

    /// Issues a token (embedded mode's demo users, tests).
    pub fn issue(&self, principal: &Principal, ttl_seconds: i64) -> String {
        self.key.sign_for(principal, ttl_seconds)
    }

    pub fn verify_bearer(&self, header: Option<&str>) -> Result<Principal, Status> {
        let header = header.ok_or_else(|| Status::unauthenticated("missing bearer token"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| Status::unauthenticated("authorization must be a Bearer token"))?;
        self.key
            .verify(token.trim())
            .map_err(|e| Status::unauthenticated(e.to_string()))
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
    use super::*;

    #[test]
    fn bearer_tokens() {
        let auth = Authenticate::hs256(b"jwt");
        let paal = Principal::new("10009", "paal", "Paal Admin");
        let token = auth.issue(&paal, 60);
        assert_eq!(
            auth.verify_bearer(Some(&format!("Bearer {token}")))
                .unwrap(),
            paal
        );
        for bad in [None, Some("Basic abc"), Some("Bearer nope")] {
            let err = auth.verify_bearer(bad).unwrap_err();
            assert_eq!(err.code(), tonic::Code::Unauthenticated);
        }
        let expired = auth.issue(&paal, -600);
        assert!(
            auth.verify_bearer(Some(&format!("Bearer {expired}")))
                .is_err()
        );
        let other = Authenticate::hs256(b"other").issue(&paal, 60);
        assert!(
            auth.verify_bearer(Some(&format!("Bearer {other}")))
                .is_err()
        );
    }
}
