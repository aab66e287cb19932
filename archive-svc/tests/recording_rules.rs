//! The seed's recording rules, one table row per rule.

#![allow(unused_crate_dependencies)]

use archive_svc::{
    model::RecordingMode,
    rules::{CallReport, Event, Initiator, decide},
};
use chrono::{DateTime, Duration, TimeZone, Utc};

fn t(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 11, 23, 8, 46, 0).unwrap() + Duration::seconds(seconds)
}

fn queue(name: &str, forced: bool, pending: bool) -> Event {
    Event::QueueEntered {
        queue: name.into(),
        forced,
        pending,
    }
}
fn connect(agent: &str, forced: bool) -> Event {
    Event::AgentConnected {
        agent: agent.into(),
        forced,
    }
}
fn leave(agent: &str) -> Event {
    Event::AgentDisconnected {
        agent: agent.into(),
    }
}
fn manual(agent: &str) -> Event {
    Event::ManualRecordingStarted {
        agent: agent.into(),
    }
}
fn pending(agent: &str, keep: bool) -> Event {
    Event::PendingRecordingDecided {
        agent: agent.into(),
        keep,
    }
}
fn consult(agent: &str, other: &str) -> Event {
    Event::ConsultStarted {
        agent: agent.into(),
        consulted_agent: other.into(),
    }
}
fn consult_end(agent: &str) -> Event {
    Event::ConsultEnded {
        agent: agent.into(),
    }
}

/// (mode, start second, finish second, agents of its segments, linked agents)
type Expected = (
    RecordingMode,
    i64,
    i64,
    &'static [&'static str],
    &'static [&'static str],
);

struct Case {
    name: &'static str,
    initiator: Option<(&'static str, bool)>,
    consult_recording: bool,
    events: Vec<(i64, Event)>,
    expected: Vec<Expected>,
}

fn cases() -> Vec<Case> {
    use RecordingMode::*;
    vec![
        Case {
            name: "forced on the queue records from the connection to the agent",
            initiator: None,
            consult_recording: false,
            events: vec![
                (0, queue("Sales", true, false)),
                (7, connect("Andreas Wallin", false)),
                (164, leave("Andreas Wallin")),
            ],
            expected: vec![(Forced, 7, 164, &["Andreas Wallin"], &["Andreas Wallin"])],
        },
        Case {
            name: "forced on the agent records from the connection",
            initiator: None,
            consult_recording: false,
            events: vec![
                (0, queue("Sales", false, false)),
                (18, connect("Andreas Wallin", true)),
                (59, leave("Andreas Wallin")),
            ],
            expected: vec![(Forced, 18, 59, &["Andreas Wallin"], &["Andreas Wallin"])],
        },
        Case {
            name: "nothing forced, no click: not recorded",
            initiator: None,
            consult_recording: false,
            events: vec![
                (0, queue("Sales", false, false)),
                (5, connect("paal-agent", false)),
                (60, leave("paal-agent")),
            ],
            expected: vec![],
        },
        Case {
            name: "manual recording starts at the click",
            initiator: None,
            consult_recording: false,
            events: vec![
                (0, queue("Sales", false, false)),
                (5, connect("paal-agent", false)),
                (30, manual("paal-agent")),
                (60, leave("paal-agent")),
            ],
            expected: vec![(Manual, 30, 60, &["paal-agent"], &["paal-agent"])],
        },
        Case {
            name: "pending recording kept by the agent",
            initiator: None,
            consult_recording: false,
            events: vec![
                (0, queue("Sales", false, true)),
                (5, connect("paal-agent", false)),
                (50, pending("paal-agent", true)),
                (60, leave("paal-agent")),
            ],
            expected: vec![(Pending, 5, 60, &["paal-agent"], &["paal-agent"])],
        },
        Case {
            name: "pending recording discarded is never listed",
            initiator: None,
            consult_recording: false,
            events: vec![
                (0, queue("Sales", false, true)),
                (5, connect("paal-agent", false)),
                (50, pending("paal-agent", false)),
                (60, leave("paal-agent")),
            ],
            expected: vec![],
        },
        Case {
            name: "pending recording without a decision is discarded",
            initiator: None,
            consult_recording: false,
            events: vec![
                (0, queue("Sales", false, true)),
                (5, connect("paal-agent", false)),
                (60, leave("paal-agent")),
            ],
            expected: vec![],
        },
        Case {
            name: "a transfer recorded with the next agent too shows both agents",
            initiator: None,
            consult_recording: false,
            events: vec![
                (0, queue("Sales", true, false)),
                (5, connect("Andreas Wallin", false)),
                (40, leave("Andreas Wallin")),
                (45, connect("paal-agent", false)),
                (90, leave("paal-agent")),
            ],
            expected: vec![(
                Forced,
                5,
                90,
                &["Andreas Wallin", "paal-agent"],
                &["Andreas Wallin", "paal-agent"],
            )],
        },
        Case {
            name: "a transfer to an agent who is not recorded ends the recording",
            initiator: None,
            consult_recording: false,
            events: vec![
                (0, queue("Sales", false, false)),
                (5, connect("Andreas Wallin", true)),
                (40, leave("Andreas Wallin")),
                (45, connect("paal-agent", false)),
                (90, leave("paal-agent")),
            ],
            expected: vec![(Forced, 5, 40, &["Andreas Wallin"], &["Andreas Wallin"])],
        },
        Case {
            name: "consult part is not recorded unless the tenant enabled it",
            initiator: None,
            consult_recording: false,
            events: vec![
                (0, queue("Sales", true, false)),
                (5, connect("Andreas Wallin", false)),
                (20, consult("Andreas Wallin", "paal-agent")),
                (30, consult_end("Andreas Wallin")),
                (60, leave("Andreas Wallin")),
            ],
            expected: vec![(
                Forced,
                5,
                60,
                &["Andreas Wallin", "Andreas Wallin"],
                &["Andreas Wallin"],
            )],
        },
        Case {
            name: "consult part is recorded when the tenant enabled it, as recording nr 2",
            initiator: None,
            consult_recording: true,
            events: vec![
                (0, queue("Sales", true, false)),
                (5, connect("Andreas Wallin", false)),
                (20, consult("Andreas Wallin", "paal-agent")),
                (30, consult_end("Andreas Wallin")),
                (60, leave("Andreas Wallin")),
            ],
            expected: vec![
                (
                    Forced,
                    5,
                    60,
                    &["Andreas Wallin", "Andreas Wallin"],
                    &["Andreas Wallin"],
                ),
                (Consult, 20, 30, &["paal-agent"], &["paal-agent"]),
            ],
        },
        Case {
            name: "agent-to-agent with forced initiator: recorded, linked to the initiator only",
            initiator: Some(("Andreas Wallin", true)),
            consult_recording: false,
            events: vec![(3, connect("paal-agent", false)), (50, leave("paal-agent"))],
            expected: vec![(Forced, 3, 50, &["Andreas Wallin"], &["Andreas Wallin"])],
        },
        Case {
            name: "agent-to-agent: initiator without forced calling a forced agent is not recorded",
            initiator: Some(("Andreas Wallin", false)),
            consult_recording: false,
            events: vec![(3, connect("paal-agent", true)), (50, leave("paal-agent"))],
            expected: vec![],
        },
        Case {
            name: "a manual recording continues with the next agent when that conversation is recorded",
            initiator: None,
            consult_recording: false,
            events: vec![
                (0, queue("Sales", false, false)),
                (5, connect("paal-agent", false)),
                (10, manual("paal-agent")),
                (20, leave("paal-agent")),
                (25, connect("Andreas Wallin", true)),
                (40, leave("Andreas Wallin")),
            ],
            expected: vec![(
                Manual,
                10,
                40,
                &["paal-agent", "Andreas Wallin"],
                &["paal-agent", "Andreas Wallin"],
            )],
        },
    ]
}

#[test]
fn every_rule() {
    for case in cases() {
        let report = CallReport {
            session_id: "s".into(),
            start: t(0),
            access_point_number: "81511569".into(),
            access_point_name: "Main Demo Number".into(),
            caller_number: "95214830".into(),
            initiator: case.initiator.map(|(agent, forced)| Initiator {
                agent: agent.into(),
                forced,
            }),
            events: case
                .events
                .iter()
                .map(|(s, e)| (t(*s), e.clone()))
                .collect(),
        };
        let call = decide(&report, case.consult_recording);
        let got: Vec<_> = call
            .recordings
            .iter()
            .map(|r| {
                (
                    r.mode,
                    (r.start - t(0)).num_seconds(),
                    (r.finish - t(0)).num_seconds(),
                    r.segments
                        .iter()
                        .map(|s| s.agent.clone())
                        .collect::<Vec<_>>(),
                    r.linked_agents.clone(),
                )
            })
            .collect();
        let want: Vec<_> = case
            .expected
            .iter()
            .map(|(m, s, f, agents, linked)| {
                (
                    *m,
                    *s,
                    *f,
                    agents.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                    linked.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                )
            })
            .collect();
        assert_eq!(got, want, "rule: {}", case.name);
        let nrs: Vec<u32> = call.recordings.iter().map(|r| r.nr).collect();
        assert_eq!(
            nrs,
            (1..=call.recordings.len() as u32).collect::<Vec<_>>(),
            "rule: {}",
            case.name
        );
    }
}

#[test]
fn call_times_come_from_the_events() {
    let report = CallReport {
        session_id: "s".into(),
        start: t(0),
        access_point_number: "81511569".into(),
        access_point_name: "Main Demo Number".into(),
        caller_number: "95214830".into(),
        initiator: None,
        events: vec![
            (t(0), queue("Sales", true, false)),
            (t(7), connect("Andreas Wallin", false)),
            (t(164), leave("Andreas Wallin")),
            (t(165), Event::CallEnded),
        ],
    };
    let call = decide(&report, false);
    assert_eq!(call.time_before_answer_ms, 7_000);
    assert_eq!(call.speak_time_ms, 157_000);
    assert_eq!(call.recording_ms(), 157_000);
    assert_eq!(call.queues, vec!["Sales"]);
    assert_eq!(call.agents, vec!["Andreas Wallin"]);
}
