//! The audit event: what a client may set (validated from the proto), what the
//! service adds (tenant, actor, time), and what the chain adds (sequence, hashes).

use archive_common::{FieldViolation, convert, error::check_text};
use archive_proto::v1::{self as pb, AuditEventKind};

pub const ID_MAX: usize = 128;
pub const REASON_MAX: usize = 1000;
pub const CLIENT_ADDRESS_MAX: usize = 256;
pub const USER_AGENT_MAX: usize = 1024;
pub const DETAIL_MAX: usize = 2000;

/// An event's content, everything the hash covers apart from its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventBody {
    pub tenant: String,
    /// An [`AuditEventKind`] number (never UNSPECIFIED).
    pub kind: i32,
    pub actor_id: String,
    pub actor_display_name: String,
    pub call_id: String,
    pub recording_id: String,
    pub reason: String,
    pub client_address: String,
    pub user_agent: String,
    /// Microseconds since the Unix epoch.
    pub event_time: i64,
    pub detail: String,
}

/// A stored event: its body, its place in the tenant's chain and its hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub sequence: u64,
    pub body: EventBody,
    pub previous_hash: String,
    pub hash: String,
}

/// What an append acknowledges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub sequence: u64,
    pub hash: String,
}

/// The fields a client may set, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventInput {
    pub kind: i32,
    pub call_id: String,
    pub recording_id: String,
    pub reason: String,
    pub client_address: String,
    pub user_agent: String,
    pub detail: String,
}

/// Reads a kind field; UNSPECIFIED is refused unless `allow_unspecified`
/// (a list filter's "any kind").
pub fn kind(value: i32, field: &str, allow_unspecified: bool) -> Result<i32, FieldViolation> {
    match AuditEventKind::try_from(value) {
        Ok(AuditEventKind::Unspecified) if !allow_unspecified => {
            Err(FieldViolation::new(field, "must be specified"))
        }
        Ok(_) => Ok(value),
        Err(_) => Err(FieldViolation::new(field, format!("unknown kind {value}"))),
    }
}

/// Free text kept as the user typed it: line breaks and tabs are allowed,
/// other control characters (and NUL, which PostgreSQL cannot store) are not.
fn check_verbatim(value: &str, field: &str, max: usize) -> Result<(), FieldViolation> {
    if value.chars().count() > max {
        return Err(FieldViolation::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(FieldViolation::new(
            field,
            "must not contain control characters other than line breaks and tabs",
        ));
    }
    Ok(())
}

/// Field names are relative to the request (`event.kind`). The fields the
/// service sets (sequence, customer, actor, time, hashes) are ignored.
impl TryFrom<pb::AuditEvent> for EventInput {
    type Error = FieldViolation;

    fn try_from(e: pb::AuditEvent) -> Result<Self, Self::Error> {
        let kind = kind(e.kind, "event.kind", false)?;
        check_text(&e.call_id, "event.call_id", ID_MAX)?;
        check_text(&e.recording_id, "event.recording_id", ID_MAX)?;
        check_verbatim(&e.reason, "event.reason", REASON_MAX)?;
        check_text(
            &e.client_address,
            "event.client_address",
            CLIENT_ADDRESS_MAX,
        )?;
        check_text(&e.user_agent, "event.user_agent", USER_AGENT_MAX)?;
        check_verbatim(&e.detail, "event.detail", DETAIL_MAX)?;
        Ok(Self {
            kind,
            call_id: e.call_id,
            recording_id: e.recording_id,
            reason: e.reason,
            client_address: e.client_address,
            user_agent: e.user_agent,
            detail: e.detail,
        })
    }
}

impl From<Event> for pb::AuditEvent {
    fn from(e: Event) -> Self {
        let b = e.body;
        Self {
            sequence: e.sequence,
            kind: b.kind,
            customer: b.tenant,
            actor_id: b.actor_id,
            actor_display_name: b.actor_display_name,
            call_id: b.call_id,
            recording_id: b.recording_id,
            reason: b.reason,
            client_address: b.client_address,
            user_agent: b.user_agent,
            event_time: Some(convert::timestamp(convert::from_micros(b.event_time))),
            detail: b.detail,
            previous_hash: e.previous_hash,
            hash: e.hash,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: AuditEventKind) -> pb::AuditEvent {
        pb::AuditEvent {
            kind: kind as i32,
            recording_id: "rec-1".into(),
            reason: "Customer complaint\nticket #4711".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_valid_event_keeps_its_text_verbatim() {
        let input = EventInput::try_from(event(AuditEventKind::PlaybackStarted)).unwrap();
        assert_eq!(input.reason, "Customer complaint\nticket #4711");
        assert_eq!(input.kind, AuditEventKind::PlaybackStarted as i32);
    }

    #[test]
    fn bad_fields_are_named() {
        let field = |e: pb::AuditEvent| EventInput::try_from(e).unwrap_err().field;
        assert_eq!(field(event(AuditEventKind::Unspecified)), "event.kind");
        let mut e = event(AuditEventKind::PlaybackStarted);
        e.kind = 99;
        assert_eq!(field(e), "event.kind");
        let mut e = event(AuditEventKind::PlaybackStarted);
        e.reason = "r".repeat(REASON_MAX + 1);
        assert_eq!(field(e), "event.reason");
        let mut e = event(AuditEventKind::PlaybackStarted);
        e.reason = "nul\0".into();
        assert_eq!(field(e), "event.reason");
        let mut e = event(AuditEventKind::PlaybackStarted);
        e.recording_id = "x".repeat(ID_MAX + 1);
        assert_eq!(field(e), "event.recording_id");
        let mut e = event(AuditEventKind::PlaybackStarted);
        e.user_agent = "ua\n".into();
        assert_eq!(field(e), "event.user_agent");
        let mut e = event(AuditEventKind::PlaybackStarted);
        e.detail = "d".repeat(DETAIL_MAX + 1);
        assert_eq!(field(e), "event.detail");
        // Exactly at the bound is fine.
        let mut e = event(AuditEventKind::PlaybackStarted);
        e.reason = "ø".repeat(REASON_MAX);
        assert!(EventInput::try_from(e).is_ok());
    }

    #[test]
    fn list_filters_may_leave_the_kind_open() {
        assert!(kind(0, "kind", true).is_ok());
        assert_eq!(kind(0, "kind", false).unwrap_err().field, "kind");
        assert_eq!(kind(-3, "kind", true).unwrap_err().field, "kind");
    }
}
