//! The call most tests ingest: queued to Sales with forced recording,
//! answered by Andreas Wallin 7 s after `start` and ended at 164 s, so one
//! recording of 2:37, as the help page's 23.11.2023 08:46 call.

use archive_common::convert::timestamp;
use archive_proto::v1::{self as pb, call_event::Kind};
use chrono::{DateTime, TimeDelta, Utc};

pub fn recorded_call(session: &str, caller: &str, start: DateTime<Utc>) -> pb::IngestCallRequest {
    let event = |s: i64, kind| pb::CallEvent {
        time: Some(timestamp(start + TimeDelta::seconds(s))),
        kind: Some(kind),
    };
    let agent = || "Andreas Wallin".to_owned();
    pb::IngestCallRequest {
        session_id: session.into(),
        start_time: Some(timestamp(start)),
        access_point: Some(pb::AccessPoint {
            number: "81511569".into(),
            name: "Main Demo Number".into(),
        }),
        caller_number: caller.into(),
        events: vec![
            event(
                0,
                Kind::QueueEntered(pb::QueueEntered {
                    queue: "Sales".into(),
                    forced_recording: true,
                    pending_recording: false,
                }),
            ),
            event(
                7,
                Kind::AgentConnected(pb::AgentConnected {
                    agent: agent(),
                    forced_recording: false,
                }),
            ),
            event(
                164,
                Kind::AgentDisconnected(pb::AgentDisconnected { agent: agent() }),
            ),
        ],
        ..Default::default()
    }
}
