//! The product's sensitive flows — playback, download, delete — and what they
//! share: who acts and from where, the reason given, loading the selected
//! recordings (another tenant's ids are NOT_FOUND at archive-svc), asking
//! authz-svc about every one of them, asking for a reason when the user must
//! give one, and the audit protocol (docs/OPERATIONS.md, "The audit
//! protocol"): an action with no database of its own (playback, export) is
//! appended with a commit deadline before it is granted; a deletion is
//! recorded by archive-svc in the marker's own transaction.

mod authorize;
pub mod deletion;
pub mod export;
pub mod playback;
pub mod scopes;
pub mod searches;

pub use authorize::Selected;

use archive_common::{FieldViolation, Principal, convert};
use archive_proto::v1 as pb;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use tonic::Request;

use crate::{Error, origin::TrustedProxies, upstream::Tenant};

/// Longest reason accepted (the audit trail stores it verbatim).
pub const MAX_REASON: usize = audit_svc::event::REASON_MAX;
/// Longest request id, case id.
pub const MAX_REQUEST_ID: usize = audit_svc::event::REQUEST_ID_MAX;
pub const MAX_CASE_ID: usize = audit_svc::event::CASE_ID_MAX;
/// How long the audit trail has to commit an action's events before the
/// action is refused (plus `audit_svc::client::COMMIT_BOUND` of waiting).
pub const COMMIT_WINDOW: chrono::Duration = chrono::Duration::seconds(3);

/// Who acts, from where, as which user action (for the audit trail).
#[derive(Debug, Clone)]
pub struct Actor {
    pub principal: Principal,
    pub client_address: String,
    pub user_agent: String,
    /// The idempotency key the client sent with this action; empty: none.
    pub request_id: String,
    /// When the action happens (the events' time).
    pub at: DateTime<Utc>,
}

impl Actor {
    /// The actor of a gRPC request: the principal its identity check left,
    /// the client's address (the peer, or `X-Forwarded-For` behind
    /// `proxies`). `request_id` is the one in the message; the
    /// `x-request-id` header stands in when it is empty.
    pub fn of<T>(
        request: &Request<T>,
        proxies: &TrustedProxies,
        request_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Self, tonic::Status> {
        let metadata = request.metadata();
        let header = |name: &str| metadata.get(name).and_then(|v| v.to_str().ok());
        let forwarded = metadata.get_all("x-forwarded-for");
        let forwarded = forwarded.iter().filter_map(|v| v.to_str().ok());
        let client_address = proxies.client_address(request.remote_addr(), forwarded);
        let request_id = Some(request_id).filter(|id| !id.is_empty());
        let request_id = request_id.or(header("x-request-id")).unwrap_or_default();
        let principal = Principal::of(request)?.clone();
        let user_agent = header("user-agent").unwrap_or_default();
        Ok(Self::new(
            principal,
            client_address,
            user_agent,
            request_id,
            at,
        )?)
    }

    /// An actor from its parts (the HTTP API finds them in HTTP's terms);
    /// the request id must be one the trail can store.
    pub fn new(
        principal: Principal,
        client_address: String,
        user_agent: &str,
        request_id: &str,
        at: DateTime<Utc>,
    ) -> Result<Self, FieldViolation> {
        check_request_id(request_id)?;
        Ok(Self {
            principal,
            client_address,
            user_agent: user_agent.chars().take(300).collect(),
            request_id: request_id.to_owned(),
            at,
        })
    }

    /// The id of this action's event about `parts` (kind, recording…):
    /// derived from the user, the tenant and the request id, so a retry of
    /// the same action names the same event and the trail records it once;
    /// fresh when the client sent no request id.
    pub fn event_id(&self, kind: &str, parts: &[&str]) -> String {
        if self.request_id.is_empty() {
            return format!("{kind}:{}", uuid::Uuid::new_v4().simple());
        }
        format!(
            "{kind}:{}",
            hex_of(&self.fingerprint(parts))[..32].to_owned()
        )
    }

    /// A UUID for something this action creates (an export), stable across
    /// retries of the same action like [`Actor::event_id`].
    pub fn stable_uuid(&self, parts: &[&str]) -> uuid::Uuid {
        if self.request_id.is_empty() {
            return uuid::Uuid::new_v4();
        }
        let digest = self.fingerprint(parts);
        uuid::Builder::from_random_bytes(digest[..16].try_into().expect("16 bytes")).into_uuid()
    }

    fn fingerprint(&self, parts: &[&str]) -> [u8; 32] {
        let mut hash = Sha256::new();
        for part in [
            self.principal.tenant.as_str(),
            &self.principal.user_id,
            &self.request_id,
        ]
        .iter()
        .chain(parts)
        {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        hash.finalize().into()
    }

    /// An event of this action with the id `event_id` (which tells it apart
    /// from the action's other events; see [`Actor::event_id`]).
    pub fn event(
        &self,
        kind: pb::AuditEventKind,
        event_id: String,
        recording: Option<&Selected>,
        reason: &Reason,
        detail: String,
    ) -> pb::AuditEvent {
        let recording_id = recording
            .map(|s| s.recording.recording_id.clone())
            .unwrap_or_default();
        pb::AuditEvent {
            kind: kind as i32,
            event_id,
            call_id: recording
                .map(|s| s.call.call_id.clone())
                .unwrap_or_default(),
            recording_id,
            reason: reason.text.clone(),
            reason_code: reason.code.clone(),
            case_id: reason.case_id.clone(),
            request_id: self.request_id.clone(),
            client_address: self.client_address.clone(),
            user_agent: self.user_agent.clone(),
            event_time: Some(convert::timestamp(self.at)),
            detail,
            ..Default::default()
        }
    }

    /// What archive-svc records with a change it makes for this actor.
    pub fn context(&self, reason: &Reason) -> pb::ActionContext {
        pb::ActionContext {
            request_id: self.request_id.clone(),
            reason: reason.text.clone(),
            reason_code: reason.code.clone(),
            case_id: reason.case_id.clone(),
            client_address: self.client_address.clone(),
            user_agent: self.user_agent.clone(),
        }
    }

    /// The latest time the trail may commit this action's events.
    pub fn commit_deadline(&self) -> DateTime<Utc> {
        self.at + COMMIT_WINDOW
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A request id: at most 128 of `A-Z a-z 0-9 - _ . :` (a UUID fits).
fn check_request_id(id: &str) -> Result<(), FieldViolation> {
    if id.len() > MAX_REQUEST_ID
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        return Err(FieldViolation::new(
            "request_id",
            format!("must be at most {MAX_REQUEST_ID} of A-Z a-z 0-9 - _ . : (a UUID)"),
        ));
    }
    Ok(())
}

/// The reason a user gave for an action: free text (verbatim), one of the
/// tenant's reason codes, a case or ticket id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reason {
    pub text: String,
    pub code: String,
    pub case_id: String,
}

impl Reason {
    /// `who`'s tenant, and the reason a request gives (`[text, code,
    /// case_id]`) checked against it.
    pub async fn given(
        upstreams: &crate::upstream::Upstreams,
        who: &Principal,
        [text, code, case_id]: [&String; 3],
    ) -> Result<(std::sync::Arc<Tenant>, Self), Error> {
        let tenant = upstreams.tenant(who).await?;
        let reason = Self::new(text, code, case_id, &tenant)?;
        Ok((tenant, reason))
    }

    /// Checks the parts against their bounds and the tenant's codes.
    pub fn new(text: &str, code: &str, case_id: &str, tenant: &Tenant) -> Result<Self, Error> {
        // The trail's own rule for text kept verbatim.
        audit_svc::event::check_verbatim(text, "reason", MAX_REASON)?;
        if !code.is_empty() && !tenant.reason_codes.iter().any(|c| c.code == code) {
            let known: Vec<&str> = tenant
                .reason_codes
                .iter()
                .map(|c| c.code.as_str())
                .collect();
            return Err(FieldViolation::new(
                "reason_code",
                if known.is_empty() {
                    "this tenant has no reason codes".to_owned()
                } else {
                    format!("must be one of the tenant's codes: {}", known.join(", "))
                },
            )
            .into());
        }
        archive_common::error::check_text(case_id, "case_id", MAX_CASE_ID)?;
        Ok(Self {
            text: text.to_owned(),
            code: code.to_owned(),
            case_id: case_id.to_owned(),
        })
    }

    /// Whether this is a reason where one is required: a code when the
    /// tenant has codes, else some text.
    fn satisfies(&self, tenant: &Tenant) -> bool {
        if tenant.reason_codes.is_empty() {
            !self.text.trim().is_empty() || !self.code.is_empty()
        } else {
            !self.code.is_empty()
        }
    }
}

#[cfg(test)]
mod tests;
