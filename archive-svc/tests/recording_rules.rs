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

const ANDREAS: &str = "Andreas Wallin";
const PAAL: &str = "paal-agent";

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

/// A rule's case: an inbound call, the tenant not recording consults.
fn case(name: &'static str, events: Vec<(i64, Event)>, expected: Vec<Expected>) -> Case {
    Case {
        name,
        initiator: None,
        consult_recording: false,
        events,
        expected,
    }
}

fn cases() -> Vec<Case> {
    use RecordingMode::*;
    vec![
        case(
            "forced on the queue records from the connection to the agent",
            vec![
                (0, queue("Sales", true, false)),
                (7, connect(ANDREAS, false)),
                (164, leave(ANDREAS)),
            ],
            vec![(Forced, 7, 164, &[ANDREAS], &[ANDREAS])],
        ),
        case(
            "forced on the agent records from the connection",
            vec![
                (0, queue("Sales", false, false)),
                (18, connect(ANDREAS, true)),
                (59, leave(ANDREAS)),
            ],
            vec![(Forced, 18, 59, &[ANDREAS], &[ANDREAS])],
        ),
        case(
            "nothing forced, no click: not recorded",
            vec![
                (0, queue("Sales", false, false)),
                (5, connect(PAAL, false)),
                (60, leave(PAAL)),
            ],
            vec![],
        ),
        case(
            "manual recording starts at the click",
            vec![
                (0, queue("Sales", false, false)),
                (5, connect(PAAL, false)),
                (30, manual(PAAL)),
                (60, leave(PAAL)),
            ],
            vec![(Manual, 30, 60, &[PAAL], &[PAAL])],
        ),
        case(
            "pending recording kept by the agent",
            vec![
                (0, queue("Sales", false, true)),
                (5, connect(PAAL, false)),
                (50, pending(PAAL, true)),
                (60, leave(PAAL)),
            ],
            vec![(Pending, 5, 60, &[PAAL], &[PAAL])],
        ),
        case(
            "pending recording discarded is never listed",
            vec![
                (0, queue("Sales", false, true)),
                (5, connect(PAAL, false)),
                (50, pending(PAAL, false)),
                (60, leave(PAAL)),
            ],
            vec![],
        ),
        case(
            "pending recording without a decision is discarded",
            vec![
                (0, queue("Sales", false, true)),
                (5, connect(PAAL, false)),
                (60, leave(PAAL)),
            ],
            vec![],
        ),
        case(
            "a transfer recorded with the next agent too shows both agents",
            vec![
                (0, queue("Sales", true, false)),
                (5, connect(ANDREAS, false)),
                (40, leave(ANDREAS)),
                (45, connect(PAAL, false)),
                (90, leave(PAAL)),
            ],
            vec![(Forced, 5, 90, &[ANDREAS, PAAL], &[ANDREAS, PAAL])],
        ),
        case(
            "a transfer to an agent who is not recorded ends the recording",
            vec![
                (0, queue("Sales", false, false)),
                (5, connect(ANDREAS, true)),
                (40, leave(ANDREAS)),
                (45, connect(PAAL, false)),
                (90, leave(PAAL)),
            ],
            vec![(Forced, 5, 40, &[ANDREAS], &[ANDREAS])],
        ),
        case(
            "consult part is not recorded unless the tenant enabled it",
            consulting(),
            vec![(Forced, 5, 60, &[ANDREAS, ANDREAS], &[ANDREAS])],
        ),
        Case {
            consult_recording: true,
            ..case(
                "consult part is recorded when the tenant enabled it, as recording nr 2",
                consulting(),
                vec![
                    (Forced, 5, 60, &[ANDREAS, ANDREAS], &[ANDREAS]),
                    (Consult, 20, 30, &[PAAL], &[PAAL]),
                ],
            )
        },
        Case {
            initiator: Some((ANDREAS, true)),
            ..case(
                "agent-to-agent with forced initiator: recorded, linked to the initiator only",
                vec![(3, connect(PAAL, false)), (50, leave(PAAL))],
                vec![(Forced, 3, 50, &[ANDREAS], &[ANDREAS])],
            )
        },
        Case {
            initiator: Some((ANDREAS, false)),
            ..case(
                "agent-to-agent: initiator without forced calling a forced agent is not recorded",
                vec![(3, connect(PAAL, true)), (50, leave(PAAL))],
                vec![],
            )
        },
        case(
            "a manual recording continues with the next agent when that conversation is recorded",
            vec![
                (0, queue("Sales", false, false)),
                (5, connect(PAAL, false)),
                (10, manual(PAAL)),
                (20, leave(PAAL)),
                (25, connect(ANDREAS, true)),
                (40, leave(ANDREAS)),
            ],
            vec![(Manual, 10, 40, &[PAAL, ANDREAS], &[PAAL, ANDREAS])],
        ),
    ]
}

/// Andreas, forced on the queue, consults Paal from second 20 to 30.
fn consulting() -> Vec<(i64, Event)> {
    vec![
        (0, queue("Sales", true, false)),
        (5, connect(ANDREAS, false)),
        (20, consult(ANDREAS, PAAL)),
        (30, consult_end(ANDREAS)),
        (60, leave(ANDREAS)),
    ]
}

/// The demo number's call `s`, starting at second 0, with `events` at their seconds.
fn report(initiator: Option<(&str, bool)>, events: &[(i64, Event)]) -> CallReport {
    CallReport {
        session_id: "s".into(),
        start: t(0),
        access_point_number: "81511569".into(),
        access_point_name: "Main Demo Number".into(),
        caller_number: "95214830".into(),
        initiator: initiator.map(|(agent, forced)| Initiator {
            agent: agent.into(),
            forced,
        }),
        events: events.iter().map(|(s, e)| (t(*s), e.clone())).collect(),
    }
}

#[test]
fn every_rule() {
    let seconds = |at: DateTime<Utc>| (at - t(0)).num_seconds();
    for case in cases() {
        let call = decide(
            &report(case.initiator, &case.events),
            case.consult_recording,
        );
        let got: Vec<_> = call
            .recordings
            .iter()
            .map(|r| {
                let agents: Vec<&str> = r.segments.iter().map(|s| s.agent.as_str()).collect();
                let linked: Vec<&str> = r.linked_agents.iter().map(String::as_str).collect();
                (r.mode, seconds(r.start), seconds(r.finish), agents, linked)
            })
            .collect();
        let want: Vec<_> = case
            .expected
            .iter()
            .map(|&(mode, start, finish, agents, linked)| {
                (mode, start, finish, agents.to_vec(), linked.to_vec())
            })
            .collect();
        assert_eq!(got, want, "rule: {}", case.name);
        let nrs: Vec<u32> = call.recordings.iter().map(|r| r.nr).collect();
        let one_up: Vec<u32> = (1..=call.recordings.len() as u32).collect();
        assert_eq!(nrs, one_up, "rule: {}", case.name);
    }
}

#[test]
fn call_times_come_from_the_events() {
    let events = [
        (0, queue("Sales", true, false)),
        (7, connect(ANDREAS, false)),
        (164, leave(ANDREAS)),
        (165, Event::CallEnded),
    ];
    let call = decide(&report(None, &events), false);
    assert_eq!(call.time_before_answer_ms, 7_000);
    assert_eq!(call.speak_time_ms, 157_000);
    assert_eq!(call.recording_ms(), 157_000);
    assert_eq!(call.queues, vec!["Sales"]);
    assert_eq!(call.agents, vec![ANDREAS]);
}
