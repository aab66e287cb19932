//! AppendEvent and AppendEvents: from a request and its verified caller to the
//! group the committer appends all or none, and back to receipts.
//!
//! - The tenant is always the caller's.
//! - The actor is the caller, unless the caller is a system principal
//!   (`system:…`: an outbox relay, the retention sweeper) and the event names
//!   one: then its `actor_id` and, with it, its `actor_display_name`.
//! - `event_time`, when set, is the action's time: at most [`FUTURE_SLACK`]
//!   ahead of the service's clock, and for a non-system caller at most
//!   [`USER_PAST`] old. Unset: the service's clock.
//! - `event_id`: empty gets a fresh UUID (v7, time-ordered); one used twice in the request is
//!   refused; one already in the trail answers its stored receipt, or
//!   ALREADY_EXISTS when it names a different event (kind, actor, recording).
//! - `commit_deadline`: already passed → DEADLINE_EXCEEDED, nothing appended.

use std::collections::HashMap;

use archive_common::{FieldViolation, Principal, convert, error::check_text};
use archive_proto::v1 as pb;
use chrono::{DateTime, TimeDelta, Utc};

use crate::{
    Error,
    event::{Appended, DISPLAY_NAME_MAX, EventBody, EventInput, ID_MAX},
    store::Group,
};

/// AppendEvents takes at most this many events.
pub(crate) const MAX_EVENTS: usize = 2000;
/// How far ahead of the service's clock an event time may be.
pub(crate) const FUTURE_SLACK: TimeDelta = TimeDelta::seconds(60);
/// How old a non-system caller's event time may be.
pub(crate) const USER_PAST: TimeDelta = TimeDelta::minutes(10);

/// How the request names its events: AppendEvent's `event`, or
/// AppendEvents' `events[i]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    One,
    Many,
}

impl Shape {
    fn name(self, index: usize) -> String {
        match self {
            Shape::One => "event".to_owned(),
            Shape::Many => format!("events[{index}]"),
        }
    }
}

/// Whether the caller is a system principal, which may name the actor and
/// report older actions (an outbox relaying them after a restart).
fn is_system(caller: &Principal) -> bool {
    caller.user_id.starts_with("system:")
}

/// The principal's text as the database can store it: PostgreSQL refuses NUL,
/// and one such event must not fail the whole batch it is committed with.
fn storable(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

/// Validates a request into the group to append, at `now`.
pub(crate) fn group(
    caller: &Principal,
    events: Vec<pb::AuditEvent>,
    commit_deadline: Option<&prost_types::Timestamp>,
    shape: Shape,
    now: DateTime<Utc>,
) -> Result<Group, Error> {
    if events.is_empty() {
        return Err(FieldViolation::new("events", "must not be empty").into());
    }
    if events.len() > MAX_EVENTS {
        return Err(FieldViolation::new("events", format!("must be at most {MAX_EVENTS}")).into());
    }
    let deadline = commit_deadline
        .map(|ts| convert::from_timestamp(ts, "commit_deadline"))
        .transpose()?;
    let system = is_system(caller);
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut bodies = Vec::with_capacity(events.len());
    for (index, event) in events.into_iter().enumerate() {
        let at = shape.name(index);
        let input = EventInput::parse(event, &at)?;
        let field = |name: &str| format!("{at}.{name}");

        let (actor_id, actor_display_name) = if system && !input.actor_id.is_empty() {
            check_text(&input.actor_id, &field("actor_id"), ID_MAX)?;
            check_text(
                &input.actor_display_name,
                &field("actor_display_name"),
                DISPLAY_NAME_MAX,
            )?;
            (input.actor_id, input.actor_display_name)
        } else {
            (storable(&caller.user_id), storable(&caller.display_name))
        };

        let event_time = match input.event_time {
            None => now,
            Some(at_time) if at_time > now + FUTURE_SLACK => {
                return Err(FieldViolation::new(
                    field("event_time"),
                    "must not be more than 60 s in the future",
                )
                .into());
            }
            Some(at_time) if !system && at_time < now - USER_PAST => {
                return Err(FieldViolation::new(
                    field("event_time"),
                    "must not be more than 10 minutes old",
                )
                .into());
            }
            Some(at_time) => at_time,
        };

        let event_id = if input.event_id.is_empty() {
            // Time-ordered (UUIDv7): consecutive appends land next to each
            // other in the (tenant, event_id) index instead of on a random
            // page each, which would multiply what every commit writes.
            uuid::Uuid::now_v7().to_string()
        } else {
            if let Some(first) = seen.insert(input.event_id.clone(), index) {
                return Err(FieldViolation::new(
                    field("event_id"),
                    format!("repeats {}.event_id", shape.name(first)),
                )
                .into());
            }
            input.event_id
        };

        bodies.push(EventBody {
            tenant: storable(&caller.tenant),
            kind: input.kind,
            actor_id,
            actor_display_name,
            call_id: input.call_id,
            recording_id: input.recording_id,
            reason: input.reason,
            client_address: input.client_address,
            user_agent: input.user_agent,
            event_time: convert::micros(event_time),
            detail: input.detail,
            event_id,
            request_id: input.request_id,
            reason_code: input.reason_code,
            case_id: input.case_id,
        });
    }
    let group = Group {
        events: bodies,
        deadline,
    };
    if group.expired(now) {
        return Err(Error::DeadlineExceeded);
    }
    Ok(group)
}

/// The store's refusal of an event id, named as the request's field.
pub(crate) fn name_refusal(error: Error, shape: Shape) -> Error {
    match error {
        Error::EventIdTaken { index, event_id } => Error::AlreadyExists(FieldViolation::new(
            format!("{}.event_id", shape.name(index)),
            format!(
                "{event_id:?} is already in the trail for a different event \
                 (kind, actor or recording differ)"
            ),
        )),
        other => other,
    }
}

pub(crate) fn receipt(appended: Appended) -> pb::AppendEventResponse {
    pb::AppendEventResponse {
        sequence: appended.sequence,
        hash: appended.hash,
        duplicate: appended.duplicate,
        event_id: appended.event_id,
    }
}

#[cfg(test)]
mod tests {
    use archive_proto::v1::AuditEventKind;

    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn event() -> pb::AuditEvent {
        pb::AuditEvent {
            kind: AuditEventKind::RecordingDeleted as i32,
            recording_id: "rec-1".into(),
            actor_id: "anna".into(),
            actor_display_name: "Anna Admin".into(),
            ..Default::default()
        }
    }

    fn at(t: DateTime<Utc>) -> Option<prost_types::Timestamp> {
        Some(convert::timestamp(t))
    }

    fn field(result: Result<Group, Error>) -> String {
        match result {
            Err(Error::InvalidArgument(v)) => v.field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_a_system_caller_names_the_actor() {
        let user = Principal::new("10009", "paal", "Paal Admin");
        let g = group(&user, vec![event()], None, Shape::One, now()).unwrap();
        let e = &g.events[0];
        assert_eq!((e.actor_id.as_str(), e.tenant.as_str()), ("paal", "10009"));
        assert_eq!(e.actor_display_name, "Paal Admin");
        assert_eq!(e.event_time, convert::micros(now()));
        assert_eq!(e.event_id.len(), 36, "a fresh UUID");

        let relay = Principal::system("10009", "archive-outbox");
        let g = group(&relay, vec![event()], None, Shape::One, now()).unwrap();
        let e = &g.events[0];
        assert_eq!(
            (e.actor_id.as_str(), e.actor_display_name.as_str()),
            ("anna", "Anna Admin")
        );
        // Naming nobody, the system principal is the actor.
        let mut anonymous = event();
        anonymous.actor_id.clear();
        let g = group(&relay, vec![anonymous], None, Shape::One, now()).unwrap();
        assert_eq!(g.events[0].actor_id, "system:archive-outbox");
        let mut bad = event();
        bad.actor_id = "x".repeat(ID_MAX + 1);
        assert_eq!(
            field(group(&relay, vec![bad], None, Shape::One, now())),
            "event.actor_id"
        );
    }

    #[test]
    fn event_time_bounds_depend_on_the_caller() {
        let user = Principal::new("10009", "paal", "Paal Admin");
        let relay = Principal::system("10009", "archive-outbox");
        let with_time = |t| pb::AuditEvent {
            event_time: at(t),
            ..event()
        };
        let ahead = now() + TimeDelta::seconds(61);
        for caller in [&user, &relay] {
            assert_eq!(
                field(group(
                    caller,
                    vec![with_time(ahead)],
                    None,
                    Shape::One,
                    now()
                )),
                "event.event_time"
            );
        }
        let old = now() - TimeDelta::minutes(11);
        assert_eq!(
            field(group(
                &user,
                vec![event(), with_time(old)],
                None,
                Shape::Many,
                now()
            )),
            "events[1].event_time"
        );
        let g = group(&relay, vec![with_time(old)], None, Shape::One, now()).unwrap();
        assert_eq!(g.events[0].event_time, convert::micros(old));
        let edge = now() + TimeDelta::seconds(60);
        let g = group(&user, vec![with_time(edge)], None, Shape::One, now()).unwrap();
        assert_eq!(g.events[0].event_time, convert::micros(edge));
    }

    #[test]
    fn event_ids_and_sizes_and_deadlines() {
        let user = Principal::new("10009", "paal", "Paal Admin");
        let with_id = |id: &str| pb::AuditEvent {
            event_id: id.into(),
            ..event()
        };
        let g = group(
            &user,
            vec![with_id("a"), with_id(""), with_id("")],
            None,
            Shape::Many,
            now(),
        )
        .unwrap();
        assert_eq!(g.events[0].event_id, "a");
        assert_ne!(g.events[1].event_id, g.events[2].event_id);
        assert_eq!(
            field(group(
                &user,
                vec![with_id("a"), with_id("b"), with_id("a")],
                None,
                Shape::Many,
                now()
            )),
            "events[2].event_id"
        );
        assert_eq!(
            field(group(&user, vec![], None, Shape::Many, now())),
            "events"
        );
        assert_eq!(
            field(group(
                &user,
                vec![event(); MAX_EVENTS + 1],
                None,
                Shape::Many,
                now()
            )),
            "events"
        );
        assert!(group(&user, vec![event(); MAX_EVENTS], None, Shape::Many, now()).is_ok());

        let deadline = at(now());
        assert!(matches!(
            group(&user, vec![event()], deadline.as_ref(), Shape::One, now()),
            Err(Error::DeadlineExceeded)
        ));
        let deadline = at(now() + TimeDelta::milliseconds(1));
        let g = group(&user, vec![event()], deadline.as_ref(), Shape::One, now()).unwrap();
        assert_eq!(g.deadline, Some(now() + TimeDelta::milliseconds(1)));

        let named = name_refusal(
            Error::EventIdTaken {
                index: 2,
                event_id: "x".into(),
            },
            Shape::Many,
        );
        match named {
            Error::AlreadyExists(v) => assert_eq!(v.field, "events[2].event_id"),
            other => panic!("{other:?}"),
        }
    }
}
