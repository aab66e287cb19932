//! Ingest: the multi-row statements that store new calls, their parties
//! (the names search is driven by) and their recordings, and the one
//! transaction that runs them with the request's CALLS_INGESTED event.

use std::collections::HashSet;

use audit_svc::outbox::Change;
use sqlx::{Database, Decode, Encode, Executor, FromRow, IntoArguments, Type};
use uuid::Uuid;

use super::{
    StoreError,
    outbox::write_events,
    rows::{CallRow, RecordingRow, to_json},
    sql::{ROWS_PER_STATEMENT, SqlCallStore},
    statement::Statement,
};
use crate::{
    audit,
    model::{NewCall, StoredCall, StoredRecording},
};

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
fn parties_of<'c>(new_calls: &[(&'c StoredCall, &'c NewCall)]) -> Vec<Party<'c>> {
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

impl<DB> SqlCallStore<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Uuid: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
    for<'r> CallRow: FromRow<'r, DB::Row>,
    for<'r> RecordingRow: FromRow<'r, DB::Row>,
{
    pub(super) async fn ingest(
        &self,
        tenant: &str,
        calls: &[NewCall],
        change: &Change,
    ) -> Result<Vec<(StoredCall, bool)>, StoreError> {
        let planned: Vec<StoredCall> = calls
            .iter()
            .map(|c| StoredCall::planned(tenant, c, change.at))
            .collect();
        let mut created = HashSet::new();
        let mut tx = self.pool.begin().await?;
        for chunk in planned.chunks(ROWS_PER_STATEMENT) {
            let (sql, args) = Statement::insert_calls(tenant, chunk).into_parts();
            let ids: Vec<(Uuid,)> = sqlx::query_as_with(&sql, args).fetch_all(&mut *tx).await?;
            created.extend(ids.into_iter().map(|(id,)| id));
        }
        let new_calls: Vec<(&StoredCall, &NewCall)> = planned
            .iter()
            .zip(calls)
            .filter(|(p, _)| created.contains(&p.call_id))
            .collect();
        let parties = parties_of(&new_calls);
        for chunk in parties.chunks(ROWS_PER_STATEMENT) {
            let (sql, args) = Statement::insert_parties(tenant, chunk).into_parts();
            sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        }
        let recordings: Vec<&StoredRecording> = new_calls
            .iter()
            .flat_map(|(s, _)| s.recordings.iter())
            .collect();
        for chunk in recordings.chunks(ROWS_PER_STATEMENT) {
            let (sql, args) = Statement::insert_recordings(tenant, chunk).into_parts();
            sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        }
        // One event per request, not per call: ingest stays one extra row per batch.
        let ingested: Vec<(Uuid, &str)> = new_calls
            .iter()
            .map(|(s, _)| (s.call_id, s.session_id.as_str()))
            .collect();
        if let Some(event) = audit::calls_ingested(change, &ingested) {
            write_events(&mut tx, tenant, &[event], change.at).await?;
        }
        tx.commit().await?;

        let mut results = Vec::with_capacity(calls.len());
        for stored in planned {
            if created.contains(&stored.call_id) {
                results.push((stored, true));
            } else {
                let session = stored.session_id.clone();
                let existing = self
                    .call_where(tenant, "session_id", session)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt("session conflict without a row".into()))?;
                results.push((existing, false));
            }
        }
        Ok(results)
    }
}
