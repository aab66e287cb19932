//! The audit event: what a client may set (validated from the proto), what the
//! service adds (tenant, actor, time, event id), and what the chain adds
//! (sequence, hashes).

use archive_common::{FieldViolation, convert, error::check_text};
use archive_proto::v1::{self as pb, AuditEventKind};
use chrono::{DateTime, Utc};

pub const ID_MAX: usize = 128;
pub const REASON_MAX: usize = 1000;
pub const CLIENT_ADDRESS_MAX: usize = 256;
pub const USER_AGENT_MAX: usize = 1024;
pub const DETAIL_MAX: usize = 2000;
pub const EVENT_ID_MAX: usize = 128;
pub const REQUEST_ID_MAX: usize = 128;
/// As `ReasonCode.code`: letters, digits, `-` and `_`.
pub const REASON_CODE_MAX: usize = 32;
pub const CASE_ID_MAX: usize = 64;
pub const DISPLAY_NAME_MAX: usize = 256;

/// An event's content, everything the hash covers apart from its position.
/// Its fields are `audit_events`' columns of the same names (the store reads
/// it from a row).
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
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
    /// Unique within the tenant's trail when not empty (rows from before
    /// event ids have none).
    pub event_id: String,
    pub request_id: String,
    pub reason_code: String,
    pub case_id: String,
}

/// A stored event: its body, its place in the tenant's chain and its hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub sequence: u64,
    pub body: EventBody,
    pub previous_hash: String,
    pub hash: String,
    /// The encoding `hash` was computed with (see [`crate::chain`]).
    pub hash_version: u16,
}

/// What an append acknowledges for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub sequence: u64,
    pub hash: String,
    pub event_id: String,
    /// The event id was already in the trail: this is the stored event's
    /// receipt and nothing new was appended.
    pub duplicate: bool,
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
    /// Empty: the service assigns one.
    pub event_id: String,
    pub request_id: String,
    pub reason_code: String,
    pub case_id: String,
    /// As given, unchecked: only a system caller's are used (and then checked).
    pub actor_id: String,
    pub actor_display_name: String,
    /// When the action happened, if the caller says; the bounds depend on
    /// the caller and the clock and are checked by the service.
    pub event_time: Option<DateTime<Utc>>,
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

/// A reason code: at most [`REASON_CODE_MAX`] ASCII letters, digits, `-`
/// and `_` (empty: none).
pub fn check_reason_code(value: &str, field: &str) -> Result<(), FieldViolation> {
    if value.len() > REASON_CODE_MAX {
        return Err(FieldViolation::new(
            field,
            format!("must be at most {REASON_CODE_MAX} characters"),
        ));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    {
        return Err(FieldViolation::new(
            field,
            "must contain only letters, digits, - and _",
        ));
    }
    Ok(())
}

/// Free text kept as the user typed it: line breaks and tabs are allowed,
/// other control characters (and NUL, which PostgreSQL cannot store) are not.
pub fn check_verbatim(value: &str, field: &str, max: usize) -> Result<(), FieldViolation> {
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

impl EventInput {
    /// Validates `e`; `at` names it in the request (`event`, `events[3]`), so
    /// a bad field comes back as e.g. `events[3].reason`. The fields the
    /// service sets (sequence, customer, hashes) are ignored.
    pub fn parse(e: pb::AuditEvent, at: &str) -> Result<Self, FieldViolation> {
        let field = |name: &str| format!("{at}.{name}");
        let kind = kind(e.kind, &field("kind"), false)?;
        check_text(&e.call_id, &field("call_id"), ID_MAX)?;
        check_text(&e.recording_id, &field("recording_id"), ID_MAX)?;
        check_verbatim(&e.reason, &field("reason"), REASON_MAX)?;
        check_text(
            &e.client_address,
            &field("client_address"),
            CLIENT_ADDRESS_MAX,
        )?;
        check_text(&e.user_agent, &field("user_agent"), USER_AGENT_MAX)?;
        check_verbatim(&e.detail, &field("detail"), DETAIL_MAX)?;
        check_text(&e.event_id, &field("event_id"), EVENT_ID_MAX)?;
        check_text(&e.request_id, &field("request_id"), REQUEST_ID_MAX)?;
        check_reason_code(&e.reason_code, &field("reason_code"))?;
        check_text(&e.case_id, &field("case_id"), CASE_ID_MAX)?;
        let event_time = e
            .event_time
            .as_ref()
            .map(|ts| convert::from_timestamp(ts, &field("event_time")))
            .transpose()?;
        Ok(Self {
            kind,
            call_id: e.call_id,
            recording_id: e.recording_id,
            reason: e.reason,
            client_address: e.client_address,
            user_agent: e.user_agent,
            detail: e.detail,
            event_id: e.event_id,
            request_id: e.request_id,
            reason_code: e.reason_code,
            case_id: e.case_id,
            actor_id: e.actor_id,
            actor_display_name: e.actor_display_name,
            event_time,
        })
    }
}

/// AppendEvent's one event: field names start with `event.`.
impl TryFrom<pb::AuditEvent> for EventInput {
    type Error = FieldViolation;

    fn try_from(e: pb::AuditEvent) -> Result<Self, Self::Error> {
        Self::parse(e, "event")
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
            request_id: b.request_id,
            event_id: b.event_id,
            reason_code: b.reason_code,
            case_id: b.case_id,
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
        let mut e = event(AuditEventKind::PlaybackStarted);
        e.event_id = "x".repeat(EVENT_ID_MAX + 1);
        assert_eq!(field(e), "event.event_id");
        let mut e = event(AuditEventKind::PlaybackStarted);
        e.request_id = "req\u{1b}".into();
        assert_eq!(field(e), "event.request_id");
        let mut e = event(AuditEventKind::PlaybackStarted);
        e.reason_code = "Q A".into();
        assert_eq!(field(e), "event.reason_code");
        let mut e = event(AuditEventKind::PlaybackStarted);
        e.reason_code = "Q".repeat(REASON_CODE_MAX + 1);
        assert_eq!(field(e), "event.reason_code");
        let mut e = event(AuditEventKind::PlaybackStarted);
        e.case_id = "c".repeat(CASE_ID_MAX + 1);
        assert_eq!(field(e), "event.case_id");
        let mut e = event(AuditEventKind::PlaybackStarted);
        e.event_time = Some(prost_types::Timestamp {
            seconds: 1,
            nanos: -1,
        });
        assert_eq!(field(e), "event.event_time");
        // In AppendEvents the event is named by its position.
        let mut e = event(AuditEventKind::PlaybackStarted);
        e.case_id = "c".repeat(CASE_ID_MAX + 1);
        assert_eq!(
            EventInput::parse(e, "events[3]").unwrap_err().field,
            "events[3].case_id"
        );
        // Exactly at the bounds is fine.
        let mut e = event(AuditEventKind::PlaybackStarted);
        e.reason = "ø".repeat(REASON_MAX);
        e.event_id = "é".repeat(EVENT_ID_MAX);
        e.reason_code = "Q-A_1".repeat(6) + "xy";
        e.case_id = "c".repeat(CASE_ID_MAX);
        let input = EventInput::try_from(e).unwrap();
        assert_eq!(input.reason_code.len(), REASON_CODE_MAX);
    }

    #[test]
    fn list_filters_may_leave_the_kind_open() {
        assert!(kind(0, "kind", true).is_ok());
        assert_eq!(kind(0, "kind", false).unwrap_err().field, "kind");
        assert_eq!(kind(-3, "kind", true).unwrap_err().field, "kind");
    }
}
