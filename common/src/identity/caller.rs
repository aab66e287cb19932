//! The verified caller of a request: what kind it is, whose key vouched for
//! it, and the principal it acts as.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tonic::{Request, Status, metadata::MetadataValue};

use super::{IDENTITY_HEADER, Principal};

/// What is calling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallerKind {
    /// A person, vouched for by the gateway (which verified their bearer token).
    User,
    /// A process of the suite acting for itself (`system:…`): an outbox
    /// relay, the retention sweeper, the gateway's own batched events.
    Service,
    /// A recording platform, with a credential from the operator's authority.
    Platform,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Who acts: the user, or the `system:…` actor, of the call's tenant.
    pub principal: Principal,
    pub kind: CallerKind,
    /// The holder of the key that vouched: `gateway`, `archive-svc`, …, or
    /// the platform's name.
    pub holder: String,
    /// False for a platform acting for a tenant its credential does not name
    /// (refused by every rule, with an ACCESS_DENIED event in that tenant).
    pub tenant_granted: bool,
    /// The token as received, to pass a user's identity on unchanged (a
    /// service asking another whether this user may do something).
    token: Option<Arc<str>>,
}

impl Caller {
    pub(crate) fn verified(
        principal: Principal,
        kind: CallerKind,
        holder: String,
        tenant_granted: bool,
        token: Arc<str>,
    ) -> Self {
        Self {
            principal,
            kind,
            holder,
            tenant_granted,
            token: Some(token),
        }
    }

    /// The gateway calling in its own process (no token on the wire).
    pub fn in_process_gateway(principal: Principal) -> Self {
        let kind = if principal.is_system() {
            CallerKind::Service
        } else {
            CallerKind::User
        };
        Self {
            principal,
            kind,
            holder: "gateway".to_owned(),
            tenant_granted: true,
            token: None,
        }
    }

    /// This caller carrying `token`, the one it would have sent on the wire:
    /// for a service in this process that passes the user's identity on.
    pub fn with_token(self, token: Arc<str>) -> Self {
        Self {
            token: Some(token),
            ..self
        }
    }

    /// The caller [`super::VerifyIdentity`] put on a request.
    pub fn of<T>(request: &Request<T>) -> Result<&Caller, Status> {
        request
            .extensions()
            .get::<Caller>()
            .ok_or_else(|| Status::unauthenticated("no verified identity on the request"))
    }

    /// A request carrying this caller's own token, unchanged: a user's
    /// identity passed on by a service that cannot (and must not) sign one.
    pub fn forward<T>(&self, message: T) -> Result<Request<T>, Status> {
        let token = self
            .token
            .as_deref()
            .ok_or_else(|| Status::unauthenticated("no token to pass on"))?;
        let mut request = Request::new(message);
        request.metadata_mut().insert(
            IDENTITY_HEADER,
            MetadataValue::try_from(token).map_err(|_| Status::internal("token not ASCII"))?,
        );
        Ok(request)
    }

    /// How the trail names this caller's kind.
    pub fn describe(&self) -> String {
        match self.kind {
            CallerKind::User => {
                format!("user {} (through {})", self.principal.user_id, self.holder)
            }
            CallerKind::Service => format!("service {} as {}", self.holder, self.principal.user_id),
            CallerKind::Platform => format!("recording platform {}", self.holder),
        }
    }
}
