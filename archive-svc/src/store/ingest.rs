//! Ingest: the multi-row statements that store new calls, their parties
//! (the names search is driven by) and their recordings.

use sqlx::{Database, Encode, Type};
use uuid::Uuid;

use super::{rows::to_json, statement::Statement};
use crate::model::{NewCall, StoredCall, StoredRecording};

const INSERT_CALLS: &str = "INSERT INTO calls (call_id, tenant_id, session_id, start_us, \
     access_point_number, access_point_name, caller_number, time_before_answer_ms, speak_time_ms, \
     recording_ms, recording_count, live_recording_count, queues, agents) ";

/// Ingest is idempotent per (tenant, session id): a known session inserts nothing.
const ON_SESSION_CONFLICT: &str =
    " ON CONFLICT (tenant_id, session_id) DO NOTHING RETURNING call_id";

const INSERT_PARTIES: &str = "INSERT INTO call_parties (call_id, tenant_id, role, name, start_us) ";

const INSERT_RECORDINGS: &str = "INSERT INTO recordings (recording_id, call_id, tenant_id, nr, \
     mode, start_us, finish_us, segments, owner_agent, state, media_state, ingested_at_us) ";

/// A party row: (call id, role, name, the call's start).
pub(super) type Party<'c> = (Uuid, &'c str, &'c str, i64);

/// The parties of the new calls, each once.
pub(super) fn parties_of<'c>(new_calls: &[(&'c StoredCall, &'c NewCall)]) -> Vec<Party<'c>> {
    let mut parties: Vec<Party<'c>> = Vec::new();
    for (stored, call) in new_calls {
        let start_us = stored.start.timestamp_micros();
        for a in &call.agents {
            parties.push((stored.call_id, "agent", a.as_str(), start_us));
        }
        for q in &call.queues {
            parties.push((stored.call_id, "queue", q.as_str(), start_us));
        }
        for r in &call.recordings {
            for a in &r.linked_agents {
                parties.push((stored.call_id, "linked", a.as_str(), start_us));
            }
        }
    }
    parties.sort_unstable();
    parties.dedup();
    parties
}

impl<'q, DB> Statement<'q, DB>
where
    DB: Database,
    for<'a> Uuid: Encode<'a, DB> + Type<DB>,
    for<'a> String: Encode<'a, DB> + Type<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
    for<'a> Option<String>: Encode<'a, DB> + Type<DB>,
    for<'a> Option<i64>: Encode<'a, DB> + Type<DB>,
{
    /// The calls, returning the ids of those whose session was new.
    pub(super) fn insert_calls(tenant: &str, chunk: &'q [StoredCall]) -> Self {
        let mut qb = Self::new(INSERT_CALLS);
        qb.push_values(chunk, |b, c| {
            let live = c.recordings.len() as i64;
            b.push_bind(c.call_id)
                .push_bind(tenant.to_owned())
                .push_bind(c.session_id.clone())
                .push_bind(c.start.timestamp_micros())
                .push_bind(c.access_point_number.clone())
                .push_bind(c.access_point_name.clone())
                .push_bind(c.caller_number.clone())
                .push_bind(c.time_before_answer_ms)
                .push_bind(c.speak_time_ms)
                .push_bind(c.recording_ms)
                .push_bind(live)
                .push_bind(live)
                .push_bind(to_json(&c.queues))
                .push_bind(to_json(&c.agents));
        });
        qb.push(ON_SESSION_CONFLICT);
        qb
    }

    /// The parties.
    pub(super) fn insert_parties(tenant: &str, chunk: &'q [Party<'q>]) -> Self {
        let mut qb = Self::new(INSERT_PARTIES);
        qb.push_values(chunk, |b, (call_id, role, name, start_us)| {
            b.push_bind(*call_id)
                .push_bind(tenant.to_owned())
                .push_bind(role.to_string())
                .push_bind(name.to_string())
                .push_bind(*start_us);
        });
        qb
    }

    /// The recordings.
    pub(super) fn insert_recordings(tenant: &str, chunk: &'q [&'q StoredRecording]) -> Self {
        let mut qb = Self::new(INSERT_RECORDINGS);
        qb.push_values(chunk, |b, r| {
            b.push_bind(r.recording_id)
                .push_bind(r.call_id)
                .push_bind(tenant.to_owned())
                .push_bind(i64::from(r.nr))
                .push_bind(i64::from(r.mode.code()))
                .push_bind(r.start.timestamp_micros())
                .push_bind(r.finish.timestamp_micros())
                .push_bind(to_json(&r.segments))
                .push_bind(r.owner_agent.clone())
                .push_bind(i64::from(r.state.code()))
                .push_bind(i64::from(r.media.code()))
                .push_bind(r.ingested_at.map(|at| at.timestamp_micros()));
        });
        qb
    }
}
