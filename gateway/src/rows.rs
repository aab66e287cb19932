//! Result rows as the Archive's table shows them, built from archive-svc's
//! calls, the user's verdicts and the tenant's time zone.

use std::collections::HashMap;

use archive_common::convert::from_timestamp;
use archive_proto::v1 as pb;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::format;

/// What the user may do with one recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdicts {
    pub play: pb::Verdict,
    pub download: pb::Verdict,
    pub delete: pb::Verdict,
}

impl Verdicts {
    /// Sets the verdict of a row action (other actions are not on rows).
    pub fn set(&mut self, action: pb::Action, verdict: pb::Verdict) {
        match action {
            pb::Action::Play => self.play = verdict,
            pb::Action::Download => self.download = verdict,
            pb::Action::Delete => self.delete = verdict,
            _ => {}
        }
    }
}

/// The verdicts of a page's recordings: one for all (every right reaches
/// every call, or none), or decided per recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowVerdicts {
    by_recording: HashMap<String, Verdicts>,
    /// For a recording not in `by_recording`.
    otherwise: Verdicts,
}

impl RowVerdicts {
    pub fn same(verdicts: Verdicts) -> Self {
        Self {
            by_recording: HashMap::new(),
            otherwise: verdicts,
        }
    }

    pub fn per_recording(by_recording: HashMap<String, Verdicts>, otherwise: Verdicts) -> Self {
        Self {
            by_recording,
            otherwise,
        }
    }

    pub fn of(&self, r: &pb::Recording) -> Verdicts {
        self.by_recording
            .get(&r.recording_id)
            .copied()
            .unwrap_or(self.otherwise)
    }
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

/// Whether the recording's file has not arrived from the recording platform
/// (archive-svc's media state; "recording not available yet").
pub fn awaits_upload(r: &pb::Recording) -> bool {
    r.media_state == pb::MediaState::Pending as i32
}

pub fn recording_row(r: &pb::Recording, verdicts: Verdicts, tz: Tz) -> pb::RecordingRow {
    let state = pb::RecordingState::try_from(r.state).unwrap_or_default();
    let play_state = match state {
        pb::RecordingState::Deleted => pb::PlayState::Deleted,
        pb::RecordingState::Expired => pb::PlayState::Expired,
        _ if awaits_upload(r) => pb::PlayState::NotAvailable,
        _ if verdicts.play == pb::Verdict::Deny => pb::PlayState::Disabled,
        _ => pb::PlayState::Enabled,
    };
    let seconds = |ts: Option<&prost_types::Timestamp>| {
        time(ts)
            .map(|at| format::start_seconds(at, tz))
            .unwrap_or_default()
    };
    let (start, finish) = (
        seconds(r.start_time.as_ref()),
        seconds(r.finish_time.as_ref()),
    );
    // Most recordings are one segment, starting and finishing with the
    // recording: its text is copied, not worked out again.
    let text = |at: Option<&prost_types::Timestamp>| {
        if at == r.start_time.as_ref() {
            start.clone()
        } else if at == r.finish_time.as_ref() {
            finish.clone()
        } else {
            seconds(at)
        }
    };
    pb::RecordingRow {
        recording_id: r.recording_id.clone(),
        nr: r.nr,
        play_state: play_state as i32,
        segments: r
            .segments
            .iter()
            .map(|s| pb::RecordingSegmentRow {
                start: text(s.start_time.as_ref()),
                finish: text(s.finish_time.as_ref()),
                queue: s.queue.clone(),
                agent: s.agent.clone(),
            })
            .collect(),
        start,
        finish,
        deletion_text: deletion_text(r, tz),
        download: verdicts.download as i32,
        delete: verdicts.delete as i32,
        play: verdicts.play as i32,
    }
}

/// One line of the result table.
pub fn call_row(call: pb::Call, verdicts: &RowVerdicts, tz: Tz) -> pb::CallRow {
    let access_point = call
        .access_point
        .as_ref()
        .map(|ap| format::access_point(&ap.number, &ap.name))
        .unwrap_or_default();
    let recordings: Vec<pb::RecordingRow> = call
        .recordings
        .iter()
        .map(|r| recording_row(r, verdicts.of(r), tz))
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
        recording_tab_enabled: recordings
            .iter()
            .any(|r| r.play != pb::Verdict::Deny as i32),
        recordings,
        call: Some(call),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Option<prost_types::Timestamp> {
        Some(prost_types::Timestamp { seconds, nanos: 0 })
    }

    fn segment(from: i64, to: i64, agent: &str) -> pb::RecordingSegment {
        pb::RecordingSegment {
            start_time: at(from),
            finish_time: at(to),
            queue: "Sales".into(),
            agent: agent.into(),
        }
    }

    #[test]
    fn segments_show_their_own_times_whether_or_not_they_match_the_recording() {
        // 23.11.2023 07:46:15 UTC is 08:46:15 in Oslo.
        let start = 1_700_725_575;
        let transferred = pb::Recording {
            recording_id: "r1".into(),
            nr: 1,
            start_time: at(start),
            finish_time: at(start + 157),
            segments: vec![
                segment(start, start + 60, "Andreas Wallin"),
                segment(start + 60, start + 157, "paal-agent"),
            ],
            ..Default::default()
        };
        let verdicts = Verdicts {
            play: pb::Verdict::Allow,
            download: pb::Verdict::Allow,
            delete: pb::Verdict::Deny,
        };
        let row = recording_row(&transferred, verdicts, chrono_tz::Europe::Oslo);
        assert_eq!(
            (row.start.as_str(), row.finish.as_str()),
            ("23.11.2023 08:46:15", "23.11.2023 08:48:52")
        );
        let times: Vec<_> = row
            .segments
            .iter()
            .map(|s| (s.start.as_str(), s.finish.as_str(), s.agent.as_str()))
            .collect();
        assert_eq!(
            times,
            [
                (
                    "23.11.2023 08:46:15",
                    "23.11.2023 08:47:15",
                    "Andreas Wallin"
                ),
                ("23.11.2023 08:47:15", "23.11.2023 08:48:52", "paal-agent"),
            ]
        );
        // A segment without times shows none, even beside a recording that has them.
        let odd = pb::Recording {
            segments: vec![pb::RecordingSegment::default()],
            ..transferred
        };
        let row = recording_row(&odd, verdicts, chrono_tz::Europe::Oslo);
        assert_eq!(
            (
                row.segments[0].start.as_str(),
                row.segments[0].finish.as_str()
            ),
            ("", "")
        );
        assert_eq!(row.delete, pb::Verdict::Deny as i32);
    }

    #[test]
    fn a_recording_whose_file_never_arrived_is_not_available_unless_deleted_or_expired() {
        let allowed = Verdicts {
            play: pb::Verdict::Allow,
            download: pb::Verdict::Allow,
            delete: pb::Verdict::Allow,
        };
        let denied = Verdicts {
            play: pb::Verdict::Deny,
            ..allowed
        };
        let play_state = |state: pb::RecordingState, media: pb::MediaState, v: Verdicts| {
            let r = pb::Recording {
                state: state as i32,
                media_state: media as i32,
                ..Default::default()
            };
            pb::PlayState::try_from(recording_row(&r, v, chrono_tz::Europe::Oslo).play_state)
                .unwrap()
        };
        use pb::{MediaState as M, PlayState as P, RecordingState as S};
        assert_eq!(
            play_state(S::Available, M::Pending, allowed),
            P::NotAvailable
        );
        // Said so to users without play rights too: nobody can play it.
        assert_eq!(
            play_state(S::Available, M::Pending, denied),
            P::NotAvailable
        );
        assert_eq!(play_state(S::Available, M::Stored, allowed), P::Enabled);
        // Recordings from before media states were kept play as they did.
        assert_eq!(play_state(S::Available, M::Unverified, allowed), P::Enabled);
        assert_eq!(play_state(S::Available, M::Stored, denied), P::Disabled);
        assert_eq!(play_state(S::Deleted, M::Pending, allowed), P::Deleted);
        assert_eq!(play_state(S::Expired, M::Pending, allowed), P::Expired);
    }
}
