//! Result rows as the Archive's table shows them, built from archive-svc's
//! calls, the user's verdicts and the tenant's time zone.

use archive_common::convert::from_timestamp;
use archive_proto::v1 as pb;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::format;

/// What the user may do, decided once per page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdicts {
    pub play: pb::Verdict,
    pub download: pb::Verdict,
    pub delete: pb::Verdict,
}

pub(crate) fn time(ts: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    ts.and_then(|t| from_timestamp(t, "").ok())
}

pub(crate) fn ms(d: Option<&prost_types::Duration>) -> i64 {
    d.map_or(0, |d| d.seconds * 1000 + i64::from(d.nanos / 1_000_000))
}

fn deletion_text(recording: &pb::Recording, tz: Tz) -> String {
    match &recording.deletion {
        Some(d) => format::deletion_text(
            &d.customer,
            &d.user_display_name,
            &d.user_id,
            time(d.delete_time.as_ref()).unwrap_or_default(),
            tz,
        ),
        None => String::new(),
    }
}

pub fn recording_row(r: &pb::Recording, verdicts: Verdicts, tz: Tz) -> pb::RecordingRow {
    let state = pb::RecordingState::try_from(r.state).unwrap_or_default();
    let play_state = match state {
        pb::RecordingState::Deleted => pb::PlayState::Deleted,
        pb::RecordingState::Expired => pb::PlayState::Expired,
        _ if verdicts.play == pb::Verdict::Deny => pb::PlayState::Disabled,
        _ => pb::PlayState::Enabled,
    };
    let seconds = |ts: Option<&prost_types::Timestamp>| {
        time(ts)
            .map(|at| format::start_seconds(at, tz))
            .unwrap_or_default()
    };
    pb::RecordingRow {
        recording_id: r.recording_id.clone(),
        nr: r.nr,
        play_state: play_state as i32,
        start: seconds(r.start_time.as_ref()),
        finish: seconds(r.finish_time.as_ref()),
        segments: r
            .segments
            .iter()
            .map(|s| pb::RecordingSegmentRow {
                start: seconds(s.start_time.as_ref()),
                finish: seconds(s.finish_time.as_ref()),
                queue: s.queue.clone(),
                agent: s.agent.clone(),
            })
            .collect(),
        deletion_text: deletion_text(r, tz),
        download: verdicts.download as i32,
        delete: verdicts.delete as i32,
        play: verdicts.play as i32,
    }
}

/// One line of the result table.
pub fn call_row(call: pb::Call, verdicts: Verdicts, tz: Tz) -> pb::CallRow {
    let access_point = call
        .access_point
        .as_ref()
        .map(|ap| format::access_point(&ap.number, &ap.name))
        .unwrap_or_default();
    let recordings: Vec<pb::RecordingRow> = call
        .recordings
        .iter()
        .map(|r| recording_row(r, verdicts, tz))
        .collect();
    // The row shows the deletion of its (last deleted) recording, as the seed's table does.
    let deletion_text = recordings
        .iter()
        .rev()
        .find(|r| !r.deletion_text.is_empty())
        .map(|r| r.deletion_text.clone())
        .unwrap_or_default();
    pb::CallRow {
        start: time(call.start_time.as_ref())
            .map(|at| format::start(at, tz))
            .unwrap_or_default(),
        access_point,
        recording_time: if call.recordings.is_empty() {
            String::new()
        } else {
            format::minutes_seconds(ms(call.recording_time.as_ref()))
        },
        speak_time: format::minutes_seconds(ms(call.speak_time.as_ref())),
        callers_number: call.caller_number.clone(),
        time_before_answer: format::minutes_seconds(ms(call.time_before_answer.as_ref())),
        agents: call.agents.join(", "),
        deletion_text,
        recording_tab_enabled: verdicts.play != pb::Verdict::Deny && !call.recordings.is_empty(),
        recordings,
        call: Some(call),
    }
}
