//! Protobuf ⇄ model. Requests are validated here: every problem is a
//! [`FieldViolation`] naming the field, found before anything is written.

use archive_common::{
    FieldViolation,
    convert::{duration_ms, from_duration_ms, from_timestamp, required_timestamp, timestamp},
    error::check_text,
};
use archive_proto::v1 as pb;
use chrono::{DateTime, Datelike, Utc};
use uuid::Uuid;

use crate::{
    model::{
        CallQuery, CallScope, Deletion, Media, Order, ReasonCode, RecordingMode, RecordingState,
        StoredCall, StoredFile, StoredRecording, TenantSettings,
    },
    rules::{CallReport, Event, Initiator},
};

/// Longest name (agent, queue, access point) accepted.
pub const MAX_NAME: usize = 200;
/// Longest phone number accepted.
pub const MAX_NUMBER: usize = 32;
pub const MAX_EVENTS: usize = 10_000;
pub const MAX_PAGE_SIZE: i32 = 1000;
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// A name: 1..=200 characters, no control characters.
fn name(value: &str, field: &str) -> Result<String, FieldViolation> {
    if value.trim().is_empty() {
        return Err(FieldViolation::missing(field));
    }
    check_text(value, field, MAX_NAME)?;
    Ok(value.to_owned())
}

fn optional_name(value: &str, field: &str) -> Result<Option<String>, FieldViolation> {
    if value.is_empty() {
        Ok(None)
    } else {
        name(value, field).map(Some)
    }
}

/// A phone number: digits with an optional leading `+`.
pub fn phone_number(value: &str, field: &str) -> Result<String, FieldViolation> {
    let digits = value.strip_prefix('+').unwrap_or(value);
    if value.len() > MAX_NUMBER {
        return Err(FieldViolation::new(
            field,
            format!("must be at most {MAX_NUMBER} characters"),
        ));
    }
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldViolation::new(
            field,
            "must be digits, optionally after a leading '+'",
        ));
    }
    Ok(value.to_owned())
}

/// Timestamps outside 1970..2200 are mistakes, not calls.
fn plausible(at: DateTime<Utc>, field: &str) -> Result<DateTime<Utc>, FieldViolation> {
    if (1970..2200).contains(&at.year()) {
        Ok(at)
    } else {
        Err(FieldViolation::new(
            field,
            "must be between years 1970 and 2200",
        ))
    }
}

pub fn uuid(value: &str, field: &str) -> Result<Uuid, FieldViolation> {
    Uuid::parse_str(value).map_err(|_| FieldViolation::new(field, "must be a UUID"))
}

/// Parses a list of recording ids: 1..=`max`, no duplicates.
pub fn recording_ids(
    values: &[String],
    field: &str,
    max: usize,
) -> Result<Vec<Uuid>, FieldViolation> {
    if values.is_empty() {
        return Err(FieldViolation::new(
            field,
            "must name at least one recording",
        ));
    }
    if values.len() > max {
        return Err(FieldViolation::new(
            field,
            format!("must name at most {max} recordings"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let id = uuid(v, &format!("{field}[{i}]"))?;
            if !seen.insert(id) {
                return Err(FieldViolation::new(
                    format!("{field}[{i}]"),
                    "is a duplicate",
                ));
            }
            Ok(id)
        })
        .collect()
}

impl TryFrom<pb::IngestCallRequest> for CallReport {
    type Error = FieldViolation;

    fn try_from(req: pb::IngestCallRequest) -> Result<Self, Self::Error> {
        if req.session_id.is_empty() {
            return Err(FieldViolation::missing("session_id"));
        }
        if req.session_id.len() > 128
            || !req
                .session_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
        {
            return Err(FieldViolation::new(
                "session_id",
                "must be 1..128 characters of letters, digits, '.', '_', ':' or '-'",
            ));
        }
        let start = plausible(
            required_timestamp(req.start_time.as_ref(), "start_time")?,
            "start_time",
        )?;
        let ap = req
            .access_point
            .ok_or_else(|| FieldViolation::missing("access_point"))?;
        let access_point_number = phone_number(&ap.number, "access_point.number")?;
        check_text(&ap.name, "access_point.name", MAX_NAME)?;
        let caller_number = phone_number(&req.caller_number, "caller_number")?;
        let initiator =
            optional_name(&req.initiating_agent, "initiating_agent")?.map(|agent| Initiator {
                agent,
                forced: req.initiating_agent_forced_recording,
            });
        if req.events.len() > MAX_EVENTS {
            return Err(FieldViolation::new(
                "events",
                format!("must be at most {MAX_EVENTS} events"),
            ));
        }
        let mut events = Vec::with_capacity(req.events.len());
        let mut last = start;
        for (i, e) in req.events.into_iter().enumerate() {
            let field = |f: &str| format!("events[{i}].{f}");
            let at = required_timestamp(e.time.as_ref(), &field("time"))?;
            if at < last {
                return Err(FieldViolation::new(
                    field("time"),
                    "must not be before the call start or the previous event",
                ));
            }
            last = at;
            use pb::call_event::Kind;
            let event = match e
                .kind
                .ok_or_else(|| FieldViolation::missing(field("kind")))?
            {
                Kind::QueueEntered(q) => Event::QueueEntered {
                    queue: name(&q.queue, &field("queue_entered.queue"))?,
                    forced: q.forced_recording,
                    pending: q.pending_recording,
                },
                Kind::AgentConnected(a) => Event::AgentConnected {
                    agent: name(&a.agent, &field("agent_connected.agent"))?,
                    forced: a.forced_recording,
                },
                Kind::ManualRecordingStarted(m) => Event::ManualRecordingStarted {
                    agent: name(&m.agent, &field("manual_recording_started.agent"))?,
                },
                Kind::PendingRecordingDecided(p) => Event::PendingRecordingDecided {
                    agent: name(&p.agent, &field("pending_recording_decided.agent"))?,
                    keep: p.keep,
                },
                Kind::ConsultStarted(c) => Event::ConsultStarted {
                    agent: name(&c.agent, &field("consult_started.agent"))?,
                    consulted_agent: name(
                        &c.consulted_agent,
                        &field("consult_started.consulted_agent"),
                    )?,
                },
                Kind::ConsultEnded(c) => Event::ConsultEnded {
                    agent: name(&c.agent, &field("consult_ended.agent"))?,
                },
                Kind::AgentDisconnected(a) => Event::AgentDisconnected {
                    agent: name(&a.agent, &field("agent_disconnected.agent"))?,
                },
                Kind::CallEnded(_) => Event::CallEnded,
            };
            events.push((at, event));
        }
        Ok(CallReport {
            session_id: req.session_id,
            start,
            access_point_number,
            access_point_name: ap.name,
            caller_number,
            initiator,
            events,
        })
    }
}

fn optional_ms(
    d: Option<&prost_types::Duration>,
    field: &str,
) -> Result<Option<i64>, FieldViolation> {
    d.map(|d| from_duration_ms(d, field)).transpose()
}

fn range(
    min: Option<i64>,
    max: Option<i64>,
    field: &str,
) -> Result<(Option<i64>, Option<i64>), FieldViolation> {
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        return Err(FieldViolation::new(field, "minimum is above the maximum"));
    }
    Ok((min, max))
}

/// Validates a search filter and order.
pub fn call_query(filter: Option<pb::CallFilter>, order: i32) -> Result<CallQuery, FieldViolation> {
    let f = filter.unwrap_or_default();
    let time = |ts: Option<&prost_types::Timestamp>, field: &str| {
        ts.map(|t| from_timestamp(t, field).and_then(|at| plausible(at, field)))
            .transpose()
    };
    let from = time(f.start_time_from.as_ref(), "filter.start_time_from")?;
    let to = time(f.start_time_to.as_ref(), "filter.start_time_to")?;
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        return Err(FieldViolation::new(
            "filter.start_time_to",
            "must be after start_time_from",
        ));
    }
    let caller_number = if f.caller_number.is_empty() {
        None
    } else {
        Some(phone_number(&f.caller_number, "filter.caller_number")?)
    };
    let (min_recording_ms, max_recording_ms) = range(
        optional_ms(f.min_recording_time.as_ref(), "filter.min_recording_time")?,
        optional_ms(f.max_recording_time.as_ref(), "filter.max_recording_time")?,
        "filter.min_recording_time",
    )?;
    let (min_speak_ms, max_speak_ms) = range(
        optional_ms(f.min_speak_time.as_ref(), "filter.min_speak_time")?,
        optional_ms(f.max_speak_time.as_ref(), "filter.max_speak_time")?,
        "filter.min_speak_time",
    )?;
    let order = match pb::SortOrder::try_from(order) {
        Ok(pb::SortOrder::Unspecified | pb::SortOrder::StartTimeDesc) => Order::NewestFirst,
        Ok(pb::SortOrder::StartTimeAsc) => Order::OldestFirst,
        Err(_) => return Err(FieldViolation::new("order", "unknown sort order")),
    };
    Ok(CallQuery {
        from,
        to,
        access_point_number: if f.access_point_number.is_empty() {
            None
        } else {
            Some(phone_number(
                &f.access_point_number,
                "filter.access_point_number",
            )?)
        },
        caller_number,
        caller_number_partial: f.caller_number_partial,
        agent: optional_name(&f.agent, "filter.agent")?,
        queue: optional_name(&f.queue, "filter.queue")?,
        has_recording: f.has_recording,
        include_deleted: f.include_deleted,
        min_recording_ms,
        max_recording_ms,
        min_speak_ms,
        max_speak_ms,
        linked_agent: None,
        scope: None,
        order,
    })
}

/// Names one scope part may hold at most.
const MAX_SCOPE_NAMES: usize = 500;

/// A search scope (`scope`); unset or `all_calls`: every call (`None`).
pub fn call_scope(scope: Option<pb::CallScope>) -> Result<Option<CallScope>, FieldViolation> {
    let Some(s) = scope else { return Ok(None) };
    if s.all_calls {
        return Ok(None);
    }
    let names = |list: Vec<String>,
                 field: &str,
                 check: fn(&str, &str) -> Result<String, FieldViolation>| {
        if list.len() > MAX_SCOPE_NAMES {
            return Err(FieldViolation::new(
                field,
                format!("must name at most {MAX_SCOPE_NAMES}"),
            ));
        }
        let mut checked = list
            .iter()
            .enumerate()
            .map(|(i, n)| check(n, &format!("{field}[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        checked.sort();
        checked.dedup();
        Ok(checked)
    };
    Ok(Some(CallScope {
        own_agent: optional_name(&s.own_agent, "scope.own_agent")?,
        queues: names(s.queues, "scope.queues", name)?,
        access_points: names(s.access_points, "scope.access_points", phone_number)?,
    }))
}

/// 0 means the default; negative or above the cap is refused.
pub fn page_size(value: i32, field: &str) -> Result<u32, FieldViolation> {
    match value {
        0 => Ok(DEFAULT_PAGE_SIZE),
        1..=MAX_PAGE_SIZE => Ok(value as u32),
        _ => Err(FieldViolation::new(
            field,
            format!("must be between 0 and {MAX_PAGE_SIZE}"),
        )),
    }
}

impl TryFrom<pb::TenantSettings> for TenantSettings {
    type Error = FieldViolation;

    fn try_from(s: pb::TenantSettings) -> Result<Self, Self::Error> {
        if s.time_zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(FieldViolation::new(
                "settings.time_zone",
                "must be an IANA time zone",
            ));
        }
        if s.recording_retention_days == 0 {
            return Err(FieldViolation::new(
                "settings.recording_retention_days",
                "must be at least 1",
            ));
        }
        if s.metadata_retention_days < s.recording_retention_days {
            return Err(FieldViolation::new(
                "settings.metadata_retention_days",
                "must be at least recording_retention_days",
            ));
        }
        Ok(Self {
            time_zone: s.time_zone,
            consult_recording: s.consult_recording,
            recording_retention_days: s.recording_retention_days,
            metadata_retention_days: s.metadata_retention_days,
            search_audit_disabled: s.search_audit_disabled,
            reason_codes: reason_codes(s.reason_codes, "settings.reason_codes")?,
        })
    }
}

/// A tenant has at most this many reason codes.
pub const MAX_REASON_CODES: usize = 50;
/// Longest reason code label.
pub const MAX_REASON_LABEL: usize = 100;

/// At most [`MAX_REASON_CODES`], each code 1..32 of `[A-Za-z0-9_-]` and
/// unique, each label 1..100 characters without control characters.
fn reason_codes(
    codes: Vec<pb::ReasonCode>,
    field: &str,
) -> Result<Vec<ReasonCode>, FieldViolation> {
    if codes.len() > MAX_REASON_CODES {
        return Err(FieldViolation::new(
            field,
            format!("must hold at most {MAX_REASON_CODES} codes"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    codes
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let code_field = format!("{field}[{i}].code");
            if c.code.is_empty() {
                return Err(FieldViolation::missing(code_field));
            }
            audit_svc::outbox::check_reason_code(&c.code, &code_field)?;
            if !seen.insert(c.code.clone()) {
                return Err(FieldViolation::new(code_field, "is a duplicate"));
            }
            let label_field = format!("{field}[{i}].label");
            if c.label.trim().is_empty() {
                return Err(FieldViolation::missing(label_field));
            }
            check_text(&c.label, &label_field, MAX_REASON_LABEL)?;
            Ok(ReasonCode {
                code: c.code,
                label: c.label,
            })
        })
        .collect()
}

impl From<TenantSettings> for pb::TenantSettings {
    fn from(s: TenantSettings) -> Self {
        Self {
            time_zone: s.time_zone,
            consult_recording: s.consult_recording,
            recording_retention_days: s.recording_retention_days,
            metadata_retention_days: s.metadata_retention_days,
            search_audit_disabled: s.search_audit_disabled,
            reason_codes: s
                .reason_codes
                .into_iter()
                .map(|c| pb::ReasonCode {
                    code: c.code,
                    label: c.label,
                })
                .collect(),
        }
    }
}

fn mode(m: RecordingMode) -> pb::RecordingMode {
    match m {
        RecordingMode::Forced => pb::RecordingMode::Forced,
        RecordingMode::Pending => pb::RecordingMode::Pending,
        RecordingMode::Manual => pb::RecordingMode::Manual,
        RecordingMode::Consult => pb::RecordingMode::Consult,
    }
}

fn state(s: RecordingState) -> pb::RecordingState {
    match s {
        RecordingState::Available => pb::RecordingState::Available,
        RecordingState::Expired => pb::RecordingState::Expired,
        RecordingState::Deleted => pb::RecordingState::Deleted,
    }
}

/// The file media-svc reports stored (`media`, its MediaInfo), as learnt at
/// `now`: the recording's id and what the file holds.
pub fn stored_file(
    media: Option<pb::MediaInfo>,
    now: DateTime<Utc>,
) -> Result<(Uuid, StoredFile), FieldViolation> {
    let media = media.ok_or_else(|| FieldViolation::missing("media"))?;
    let id = uuid(&media.recording_id, "media.recording_id")?;
    if media.size_bytes == 0 || i64::try_from(media.size_bytes).is_err() {
        return Err(FieldViolation::new(
            "media.size_bytes",
            "must be a stored file's size (above 0)",
        ));
    }
    let duration = media
        .duration
        .ok_or_else(|| FieldViolation::missing("media.duration"))?;
    let duration_us = from_duration_ms(&duration, "media.duration")?
        .checked_mul(1000)
        .map(|us| us + i64::from(duration.nanos % 1_000_000 / 1000))
        .ok_or_else(|| FieldViolation::new("media.duration", "duration out of range"))?;
    if media.sha256.len() != 64
        || !media
            .sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(FieldViolation::new(
            "media.sha256",
            "must be 64 lower-case hex digits",
        ));
    }
    Ok((
        id,
        StoredFile {
            size_bytes: media.size_bytes,
            duration_us,
            sha256: media.sha256,
            stored_at: now,
        },
    ))
}

fn media_state(m: &Media) -> pb::MediaState {
    match m {
        Media::Pending => pb::MediaState::Pending,
        Media::Stored(_) => pb::MediaState::Stored,
        Media::Unverified => pb::MediaState::Unverified,
    }
}

/// A stored recording as the contract shows it; `tenant` fills the marker's customer.
pub fn recording(r: StoredRecording, tenant: &str) -> pb::Recording {
    pb::Recording {
        media_state: media_state(&r.media) as i32,
        file: match r.media {
            Media::Stored(f) => Some(pb::StoredFile {
                size_bytes: f.size_bytes,
                duration: Some(archive_common::convert::duration(
                    chrono::TimeDelta::microseconds(f.duration_us),
                )),
                sha256: f.sha256,
                store_time: Some(timestamp(f.stored_at)),
            }),
            Media::Pending | Media::Unverified => None,
        },
        ingest_time: r.ingested_at.map(timestamp),
        recording_id: r.recording_id.to_string(),
        call_id: r.call_id.to_string(),
        nr: r.nr,
        mode: mode(r.mode) as i32,
        start_time: Some(timestamp(r.start)),
        finish_time: Some(timestamp(r.finish)),
        segments: r
            .segments
            .into_iter()
            .map(|s| pb::RecordingSegment {
                start_time: Some(timestamp(s.start)),
                finish_time: Some(timestamp(s.finish)),
                queue: s.queue,
                agent: s.agent,
            })
            .collect(),
        owner_agent: r.owner_agent.unwrap_or_default(),
        state: state(r.state) as i32,
        deletion: r.deletion.map(|d: Deletion| pb::DeletionMarker {
            customer: tenant.to_owned(),
            user_id: d.user_id,
            user_display_name: d.display_name,
            delete_time: Some(timestamp(d.at)),
        }),
    }
}

impl From<StoredCall> for pb::Call {
    fn from(c: StoredCall) -> Self {
        let tenant = c.tenant;
        Self {
            call_id: c.call_id.to_string(),
            session_id: c.session_id,
            start_time: Some(timestamp(c.start)),
            access_point: Some(pb::AccessPoint {
                number: c.access_point_number,
                name: c.access_point_name,
            }),
            caller_number: c.caller_number,
            time_before_answer: Some(duration_ms(c.time_before_answer_ms)),
            speak_time: Some(duration_ms(c.speak_time_ms)),
            recording_time: Some(duration_ms(c.recording_ms)),
            queues: c.queues,
            agents: c.agents,
            legal_hold: c.legal_hold,
            recordings: c
                .recordings
                .into_iter()
                .map(|r| recording(r, &tenant))
                .collect(),
            customer: tenant,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_scope_is_checked_and_normalised() {
        assert_eq!(call_scope(None).unwrap(), None);
        let all = pb::CallScope {
            all_calls: true,
            queues: vec!["Sales".into()],
            ..Default::default()
        };
        assert_eq!(call_scope(Some(all)).unwrap(), None, "all calls: no scope");
        let scope = pb::CallScope {
            own_agent: "Andreas Wallin".into(),
            queues: vec!["Sales".into(), "Billing".into(), "Sales".into()],
            access_points: vec!["81511569".into()],
            ..Default::default()
        };
        let checked = call_scope(Some(scope)).unwrap().unwrap();
        assert_eq!(checked.queues, ["Billing", "Sales"]);
        assert_eq!(checked.own_agent.as_deref(), Some("Andreas Wallin"));
        let bad = pb::CallScope {
            access_points: vec!["81511569".into(), "main".into()],
            ..Default::default()
        };
        assert_eq!(
            call_scope(Some(bad)).unwrap_err().field,
            "scope.access_points[1]"
        );
        let blank = pb::CallScope {
            queues: vec![" ".into()],
            ..Default::default()
        };
        assert_eq!(
            call_scope(Some(blank)).unwrap_err().field,
            "scope.queues[0]"
        );
        let empty = call_scope(Some(pb::CallScope::default())).unwrap();
        assert_eq!(empty, Some(CallScope::default()), "reaches nothing");
    }
}
