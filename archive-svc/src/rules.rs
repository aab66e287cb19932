//! The seed's recording rules: from a call's events, which recordings exist,
//! when they start, which agents they show and whom they are linked to.
//!
//! - Forced recording (on the system queue or on the agent) starts when the
//!   caller is connected to the agent; manual recording starts at the click.
//! - Pending recording is kept only if the agent keeps it; otherwise it is
//!   discarded and never listed.
//! - A transferred call whose next conversation is recorded too continues the
//!   same recording with another segment (2+ agents in the Recording tab).
//! - The consult part is recorded (as its own recording) only if the tenant
//!   enabled consult recording; otherwise the main recording pauses during it.
//! - Agent-to-agent calls are recorded only when the initiating agent has
//!   forced recording, and are linked to the initiator only.

use chrono::{DateTime, Utc};

use crate::model::{NewCall, NewRecording, RecordingMode, Segment};

/// What happened during a call, in the platform's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    QueueEntered {
        queue: String,
        forced: bool,
        pending: bool,
    },
    AgentConnected {
        agent: String,
        forced: bool,
    },
    ManualRecordingStarted {
        agent: String,
    },
    PendingRecordingDecided {
        agent: String,
        keep: bool,
    },
    ConsultStarted {
        agent: String,
        consulted_agent: String,
    },
    ConsultEnded {
        agent: String,
    },
    AgentDisconnected {
        agent: String,
    },
    CallEnded,
}

/// The initiator of an agent-to-agent call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initiator {
    pub agent: String,
    pub forced: bool,
}

/// A call as reported by the recording platform, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallReport {
    pub session_id: String,
    pub start: DateTime<Utc>,
    pub access_point_number: String,
    pub access_point_name: String,
    pub caller_number: String,
    pub initiator: Option<Initiator>,
    /// In time order (validated).
    pub events: Vec<(DateTime<Utc>, Event)>,
}

struct OpenRecording {
    mode: RecordingMode,
    start: DateTime<Utc>,
    segments: Vec<Segment>,
    /// The segment being recorded now, if any: (start, queue, agent).
    current: Option<(DateTime<Utc>, String, String)>,
    keep: Option<bool>,
}

impl OpenRecording {
    fn new(mode: RecordingMode, at: DateTime<Utc>, queue: &str, agent: &str) -> Self {
        Self {
            mode,
            start: at,
            segments: Vec::new(),
            current: Some((at, queue.to_owned(), agent.to_owned())),
            keep: None,
        }
    }

    fn pause(&mut self, at: DateTime<Utc>) {
        if let Some((start, queue, agent)) = self.current.take() {
            self.segments.push(Segment {
                start,
                finish: at,
                queue,
                agent,
            });
        }
    }

    fn resume(&mut self, at: DateTime<Utc>, queue: &str, agent: &str) {
        if self.current.is_none() {
            self.current = Some((at, queue.to_owned(), agent.to_owned()));
        }
    }

    fn finish(mut self, at: DateTime<Utc>) -> Option<(RecordingMode, DateTime<Utc>, Vec<Segment>)> {
        self.pause(at);
        if self.mode == RecordingMode::Pending && self.keep != Some(true) {
            return None;
        }
        Some((self.mode, self.start, self.segments))
    }
}

#[derive(Default)]
struct Walk {
    queue: Option<(String, bool, bool)>,
    queues: Vec<String>,
    agents: Vec<String>,
    connected: Option<(String, DateTime<Utc>)>,
    first_answer: Option<DateTime<Utc>>,
    speak_ms: i64,
    main: Option<OpenRecording>,
    consult: Option<OpenRecording>,
    done: Vec<(RecordingMode, DateTime<Utc>, Vec<Segment>)>,
}

fn push_unique(list: &mut Vec<String>, name: &str) {
    if !list.iter().any(|n| n == name) {
        list.push(name.to_owned());
    }
}

impl Walk {
    fn queue_name(&self) -> String {
        self.queue.as_ref().map(|q| q.0.clone()).unwrap_or_default()
    }

    /// A recording of `agent` in the current queue, from `at`.
    fn open(&self, mode: RecordingMode, at: DateTime<Utc>, agent: &str) -> Option<OpenRecording> {
        Some(OpenRecording::new(mode, at, &self.queue_name(), agent))
    }

    fn close_main(&mut self, at: DateTime<Utc>) {
        if let Some(r) = self.main.take() {
            self.done.extend(r.finish(at));
        }
    }

    fn close_consult(&mut self, at: DateTime<Utc>) {
        if let Some(r) = self.consult.take() {
            self.done.extend(r.finish(at));
        }
    }
}

/// Decides the call and its recordings. `consult_recording` is the tenant setting.
pub fn decide(report: &CallReport, consult_recording: bool) -> NewCall {
    let mut w = Walk::default();
    let a2a = report.initiator.as_ref();
    let mut end = report.start;
    for (at, event) in &report.events {
        end = *at;
        match event {
            Event::QueueEntered {
                queue,
                forced,
                pending,
            } => {
                push_unique(&mut w.queues, queue);
                w.queue = Some((queue.clone(), *forced, *pending));
            }
            Event::AgentConnected { agent, forced } => {
                push_unique(&mut w.agents, agent);
                w.first_answer.get_or_insert(*at);
                w.connected = Some((agent.clone(), *at));
                let queue = w.queue_name();
                let (queue_forced, queue_pending) =
                    w.queue.as_ref().map_or((false, false), |q| (q.1, q.2));
                // Agent-to-agent: only the initiator's forced flag counts.
                let forced = match a2a {
                    Some(init) => init.forced,
                    None => queue_forced || *forced,
                };
                let recorded_agent = a2a.map_or(agent.as_str(), |i| i.agent.as_str());
                match (&mut w.main, forced) {
                    (Some(open), true) => open.resume(*at, &queue, recorded_agent),
                    (None, true) => w.main = w.open(RecordingMode::Forced, *at, recorded_agent),
                    (Some(_), false) => w.close_main(*at),
                    (None, false) if queue_pending && a2a.is_none() => {
                        w.main = w.open(RecordingMode::Pending, *at, agent)
                    }
                    (None, false) => {}
                }
            }
            Event::ManualRecordingStarted { agent } => {
                let allowed = a2a.is_none_or(|i| &i.agent == agent);
                if allowed && w.main.is_none() {
                    w.main = w.open(RecordingMode::Manual, *at, agent);
                }
            }
            Event::PendingRecordingDecided { keep, .. } => {
                if let Some(open) = w.main.as_mut().filter(|r| r.mode == RecordingMode::Pending) {
                    open.keep = Some(*keep);
                }
            }
            Event::ConsultStarted {
                consulted_agent, ..
            } => {
                if let Some(open) = w.main.as_mut() {
                    open.pause(*at);
                    if consult_recording {
                        w.consult = w.open(RecordingMode::Consult, *at, consulted_agent);
                    }
                }
            }
            Event::ConsultEnded { agent } => {
                w.close_consult(*at);
                let queue = w.queue_name();
                let recorded_agent = a2a.map_or(agent.as_str(), |i| i.agent.as_str());
                if let Some(open) = w.main.as_mut() {
                    open.resume(*at, &queue, recorded_agent);
                }
            }
            Event::AgentDisconnected { agent } => {
                if let Some((connected, since)) = w.connected.take() {
                    if &connected == agent {
                        w.speak_ms += (*at - since).num_milliseconds().max(0);
                    } else {
                        w.connected = Some((connected, since));
                    }
                }
                w.close_consult(*at);
                // The recording stays open across a transfer; the next agent's
                // connection decides whether it continues.
                if let Some(open) = w.main.as_mut() {
                    open.pause(*at);
                }
            }
            Event::CallEnded => {}
        }
    }
    if let Some((_, since)) = w.connected.take() {
        w.speak_ms += (end - since).num_milliseconds().max(0);
    }
    w.close_consult(end);
    w.close_main(end);

    let mut done = w.done;
    done.sort_by_key(|r| r.1);
    let recordings = done
        .into_iter()
        .enumerate()
        .map(|(i, (mode, start, segments))| {
            let finish = segments.last().map_or(start, |s| s.finish);
            let linked_agents = match a2a {
                Some(init) => vec![init.agent.clone()],
                None => {
                    let mut agents = Vec::new();
                    for s in &segments {
                        push_unique(&mut agents, &s.agent);
                    }
                    agents
                }
            };
            NewRecording {
                nr: i as u32 + 1,
                mode,
                start,
                finish,
                segments,
                linked_agents,
                owner_agent: a2a.map(|i| i.agent.clone()),
            }
        })
        .collect();

    NewCall {
        session_id: report.session_id.clone(),
        start: report.start,
        access_point_number: report.access_point_number.clone(),
        access_point_name: report.access_point_name.clone(),
        caller_number: report.caller_number.clone(),
        time_before_answer_ms: w
            .first_answer
            .map_or(0, |a| (a - report.start).num_milliseconds().max(0)),
        speak_time_ms: w.speak_ms,
        queues: w.queues,
        agents: w.agents,
        recordings,
    }
}
