//! Who is calling, and whether they may call this RPC.
//!
//! Every caller of a service holds a credential of its own, and no service
//! holds one that lets it speak as another:
//!
//! - each process (the gateway, each service) has an Ed25519 private key of
//!   its own ([`IdentityKey`]) and signs a short-lived token per principal it
//!   acts as (`x-archive-identity`);
//! - every service verifies with the suite's [`Trust`] file, which holds only
//!   public keys, each with its holder's name and [`Role`]: only a
//!   `gateway` key may sign a user's principal; a `service` key signs only
//!   its own `system:…` principals; an `authority` key (the operator's, held
//!   by the credentials CLI, never by a service) signs recording-platform
//!   credentials, each naming the tenants it may act for;
//! - each RPC admits some kinds of [`Caller`] ([`Rule`]); a refused caller
//!   gets PERMISSION_DENIED, and the service records ACCESS_DENIED.
//!
//! The tenant therefore always comes from a verified signature (or, for a
//! platform, from `x-archive-tenant` checked against its credential), never
//! from a request field.

mod allow;
mod caller;
mod jwt;
mod keys;
#[cfg(feature = "testing")]
pub mod testing;
mod token;
mod trust;
mod verify;

pub use allow::{Allow, Refusal, Rule};
pub use caller::{Caller, CallerKind};
pub use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, jwk};
pub use jwt::{SharedKey, Verified, sign_jwt, verify_jwt};
pub use keys::{
    KeySet, Role, SUITE_HOLDERS, TrustFile, TrustedKey, generate_key_file, kid, load_key_file,
};
pub use token::{IdentityKey, PlatformCredential};
pub use trust::Trust;
pub use verify::{IdentityConfig, ServiceIdentity, VerifyIdentity};

use serde::{Deserialize, Serialize};
use tonic::{Request, Status};

/// The metadata key of the caller's signed identity (a platform's credential
/// may come as `authorization: Bearer …` instead).
pub const IDENTITY_HEADER: &str = "x-archive-identity";
/// The tenant a recording-platform credential acts for in this call.
pub const TENANT_HEADER: &str = "x-archive-tenant";
/// The audience of every internal token.
pub const INTERNAL_AUDIENCE: &str = "archive-internal";

/// An authenticated user (or system actor) of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

    /// Whether this is a `system:…` actor rather than a person.
    pub fn is_system(&self) -> bool {
        self.user_id.starts_with("system:")
    }

    /// A request as [`VerifyIdentity`] leaves it, carrying this principal as
    /// the gateway's caller: for the gateway calling a service in its own
    /// process (embedded mode), which has verified who acts itself.
    pub fn on<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.extensions_mut().insert(self.clone());
        request
            .extensions_mut()
            .insert(Caller::in_process_gateway(self.clone()));
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
    /// A key or trust file that cannot be used (named in the message).
    #[error("{0}")]
    Keys(String),
}

impl From<IdentityError> for Status {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Keys(why) => Status::internal(why),
            e => Status::unauthenticated(e.to_string()),
        }
    }
}
