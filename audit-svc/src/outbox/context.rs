//! Who made a change, when, and what they said about it: the part of an
//! outbox event every service fills the same way, and the validation of the
//! `ActionContext` a request carries (to the bounds audit-svc accepts, so an
//! event written with a change is never one the trail refuses).

use archive_common::{FieldViolation, Principal, convert, error::check_text};
use archive_proto::v1::{self as pb, AuditEventKind};
use chrono::{DateTime, Utc};

// The trail's own bounds and checks, so an event written with a change is
// never one audit-svc refuses (it would wait in the outbox for ever).
use crate::event::check_verbatim;
pub use crate::event::{
    CASE_ID_MAX, CLIENT_ADDRESS_MAX, DETAIL_MAX, REASON_CODE_MAX, REASON_MAX, REQUEST_ID_MAX,
    USER_AGENT_MAX, check_reason_code,
};

/// A validated `archive.v1.ActionContext` (empty fields when absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    pub request_id: String,
    /// Verbatim, line breaks included.
    pub reason: String,
    pub reason_code: String,
    pub case_id: String,
    pub client_address: String,
    pub user_agent: String,
}

impl Context {
    /// Validates `context` (the request's field named `field`, usually
    /// `context`); a violation names `context.reason` etc. Absent means empty.
    pub fn from_proto(
        context: Option<pb::ActionContext>,
        field: &str,
    ) -> Result<Self, FieldViolation> {
        let c = context.unwrap_or_default();
        let name = |f: &str| format!("{field}.{f}");
        check_text(&c.request_id, &name("request_id"), REQUEST_ID_MAX)?;
        check_verbatim(&c.reason, &name("reason"), REASON_MAX)?;
        check_reason_code(&c.reason_code, &name("reason_code"))?;
        check_text(&c.case_id, &name("case_id"), CASE_ID_MAX)?;
        check_text(
            &c.client_address,
            &name("client_address"),
            CLIENT_ADDRESS_MAX,
        )?;
        check_text(&c.user_agent, &name("user_agent"), USER_AGENT_MAX)?;
        Ok(Self {
            request_id: c.request_id,
            reason: c.reason,
            reason_code: c.reason_code,
            case_id: c.case_id,
            client_address: c.client_address,
            user_agent: c.user_agent,
        })
    }
}

/// `detail` cut to [`DETAIL_MAX`] characters (ending in `…` when cut): a
/// detail the trail refused would hold its event in the outbox forever.
pub fn bounded_detail(detail: String) -> String {
    if detail.chars().count() <= DETAIL_MAX {
        return detail;
    }
    let mut cut: String = detail.chars().take(DETAIL_MAX - 1).collect();
    cut.push('…');
    cut
}

/// Who made a change, when, and with what context: what every outbox event
/// of the change carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The user, or a `system:…` principal (the retention sweeper, a system
    /// calling the service directly).
    pub actor_id: String,
    pub actor_display_name: String,
    /// When the change was made: the event's time.
    pub at: DateTime<Utc>,
    pub context: Context,
}

impl Change {
    /// A change made by the verified caller, with no context yet.
    pub fn by(caller: &Principal, at: DateTime<Utc>) -> Self {
        Self {
            actor_id: caller.user_id.clone(),
            actor_display_name: caller.display_name.clone(),
            at,
            context: Context::default(),
        }
    }

    /// A change the service makes itself (`system:<name>`, e.g. `system:retention`).
    pub fn system(name: &str, at: DateTime<Utc>) -> Self {
        let principal = Principal::system("", name);
        Self {
            actor_id: principal.user_id,
            actor_display_name: principal.display_name,
            at,
            context: Context::default(),
        }
    }

    pub fn with_context(mut self, context: Context) -> Self {
        self.context = context;
        self
    }

    /// The event of this change: kind, id, actor, time and context; the
    /// caller adds what it is about (call, recording, detail).
    pub fn event(&self, kind: AuditEventKind, event_id: String) -> pb::AuditEvent {
        let c = &self.context;
        pb::AuditEvent {
            kind: kind as i32,
            event_id,
            actor_id: self.actor_id.clone(),
            actor_display_name: self.actor_display_name.clone(),
            event_time: Some(convert::timestamp(self.at)),
            request_id: c.request_id.clone(),
            reason: c.reason.clone(),
            reason_code: c.reason_code.clone(),
            case_id: c.case_id.clone(),
            client_address: c.client_address.clone(),
            user_agent: c.user_agent.clone(),
            ..Default::default()
        }
    }
}
