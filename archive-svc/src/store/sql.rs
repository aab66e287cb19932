//! The SQL both backends run and the one [`CallStore`] implementation,
//! [`SqlCallStore`], generic over the sqlx database. sqlx accepts `$N`
//! placeholders on SQLite and PostgreSQL alike and [`Statement`] numbers the
//! binds of request-shaped SQL for each, so every query is written once; what
//! differs per backend (column types) lives in `migrations/`. The `where`
//! clauses list what the SQL needs of a database (Rust does not carry a
//! trait's where-clauses to its users, so they are spelt out per impl).

/// Rows per multi-row INSERT: well inside SQLite's and PostgreSQL's bind limits.
pub(super) const ROWS_PER_STATEMENT: usize = 500;

pub(super) const SELECT_SETTINGS: &str = "SELECT time_zone, consult_recording, recording_retention_days, \
     metadata_retention_days, search_audit_disabled, reason_codes FROM tenant_settings WHERE tenant_id = $1";

/// Takes the settings row's write lock first (a no-op update), so the
/// "before" a settings change records is the one it replaces, on both
/// backends (SQLite has no `FOR UPDATE`, and a read-then-write transaction
/// could not upgrade its lock there).
pub(super) const LOCK_SETTINGS: &str =
    "UPDATE tenant_settings SET tenant_id = tenant_id WHERE tenant_id = $1";

pub(super) const UPSERT_SETTINGS: &str = "INSERT INTO tenant_settings (tenant_id, time_zone, \
     consult_recording, recording_retention_days, metadata_retention_days, search_audit_disabled, \
     reason_codes) VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (tenant_id) DO UPDATE SET time_zone = excluded.time_zone, \
     consult_recording = excluded.consult_recording, \
     recording_retention_days = excluded.recording_retention_days, \
     metadata_retention_days = excluded.metadata_retention_days, \
     search_audit_disabled = excluded.search_audit_disabled, \
     reason_codes = excluded.reason_codes";

/// Marks one recording unless it has a marker; returns its call when it did.
pub(super) const MARK_DELETED: &str = "UPDATE recordings SET state = $1, deleted_by_user_id = $2, \
     deleted_by_name = $3, deleted_at_us = $4 \
     WHERE tenant_id = $5 AND recording_id = $6 AND deleted_at_us IS NULL RETURNING call_id";

pub(super) const RECOUNT_LIVE_OF_RECORDING: &str = "UPDATE calls SET live_recording_count = \
     (SELECT COUNT(*) FROM recordings r WHERE r.call_id = calls.call_id AND r.deleted_at_us IS NULL) \
     WHERE call_id = (SELECT call_id FROM recordings WHERE recording_id = $1)";

pub(super) const QUEUE_MEDIA_DELETION: &str = "INSERT INTO media_deletions (recording_id, \
     tenant_id, cause, requested_at_us, attempts, next_attempt_us) VALUES ($1, $2, $3, $4, 0, $4) \
     ON CONFLICT (recording_id) DO NOTHING";

pub(super) const EXPIRE_RECORDINGS: &str = "UPDATE recordings SET state = $1 \
     WHERE tenant_id = $2 AND state = $3 AND start_us < $4 \
     AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.call_id = recordings.call_id AND c.legal_hold) \
     RETURNING recording_id, call_id";

pub(super) const LIVE_RECORDINGS_OF_OLD_CALLS: &str = "SELECT r.recording_id FROM recordings r \
     JOIN calls c ON c.call_id = r.call_id \
     WHERE c.tenant_id = $1 AND c.start_us < $2 AND NOT c.legal_hold AND r.state = $3";

pub(super) const PURGE_CALLS: &str = "DELETE FROM calls \
     WHERE tenant_id = $1 AND start_us < $2 AND NOT legal_hold RETURNING call_id, recording_count";

// The media states' numbers (model::Media::code) are written as literals
// below: a partial index (`recordings_media_pending`) serves a query only
// when its WHERE names the index's own constants, not bound parameters.

/// media-svc stored the file: records what it measured, unless the same file
/// was reported before (a retried upload changes nothing).
pub(super) const MARK_MEDIA_STORED: &str = "UPDATE recordings SET media_state = 2, \
     media_size_bytes = $1, media_duration_us = $2, media_sha256 = $3, media_stored_at_us = $4 \
     WHERE tenant_id = $5 AND recording_id = $6 AND (media_state <> 2 OR media_sha256 <> $3)";

pub(super) const RECORDING_STATE: &str =
    "SELECT state FROM recordings WHERE tenant_id = $1 AND recording_id = $2";

/// Available recordings (state 1) whose file never arrived (media state 1).
pub(super) const PENDING_RECORDINGS: &str =
    " FROM recordings r WHERE r.media_state = 1 AND r.state = 1 AND r.tenant_id = ";

/// Available recordings whose media state is unverified (3), in id order.
pub(super) const UNVERIFIED_RECORDINGS: &str = "SELECT tenant_id, recording_id FROM recordings \
     WHERE media_state = 3 AND state = 1 AND recording_id > $1 ORDER BY recording_id LIMIT $2";

/// The media check found the file: as [`MARK_MEDIA_STORED`], unless media-svc's own report came first.
pub(super) const RESOLVE_FOUND: &str = "UPDATE recordings SET media_state = 2, \
     media_size_bytes = $1, media_duration_us = $2, media_sha256 = $3, media_stored_at_us = $4 \
     WHERE tenant_id = $5 AND recording_id = $6 AND media_state = 3";

/// The media check found no file: pending since its start (when it was
/// ingested is not known), unless media-svc's report came first.
pub(super) const RESOLVE_MISSING: &str = "UPDATE recordings SET media_state = 1, \
     ingested_at_us = COALESCE(ingested_at_us, start_us) \
     WHERE tenant_id = $1 AND recording_id = $2 AND media_state = 3";

pub(super) const TENANTS: &str = "SELECT DISTINCT tenant_id FROM calls ORDER BY tenant_id";

/// Due deletions, the longest waiting first. Every query of the queue
/// selects a [`MediaDeletionRow`].
pub(super) const DUE_MEDIA_DELETIONS: &str = "SELECT recording_id, tenant_id, cause, \
     requested_at_us, attempts FROM media_deletions WHERE next_attempt_us <= $1 \
     ORDER BY next_attempt_us LIMIT $2";

/// By recording id (the primary key), after a recording id: pages that
/// neither skip nor repeat a row while deletions are queued and confirmed.
pub(super) const PENDING_MEDIA_DELETIONS: &str = "SELECT recording_id, tenant_id, cause, \
     requested_at_us, attempts FROM media_deletions WHERE recording_id > $1 \
     ORDER BY recording_id LIMIT $2";

pub(super) const PENDING_MEDIA_DELETIONS_OF_TENANT: &str = "SELECT recording_id, tenant_id, \
     cause, requested_at_us, attempts FROM media_deletions WHERE tenant_id = $1 \
     AND recording_id > $2 ORDER BY recording_id LIMIT $3";

pub(super) const QUEUED_MEDIA_DELETIONS_OF: &str = "SELECT recording_id, tenant_id, cause, \
     requested_at_us, attempts FROM media_deletions WHERE tenant_id = ";

/// A row of the media-deletion queue as the queries above select it.
pub(super) type MediaDeletionRow = (Uuid, String, String, i64, i64);

pub(super) fn media_deletion(
    (recording_id, tenant, cause, requested_at_us, attempts): MediaDeletionRow,
) -> super::MediaDeletion {
    super::MediaDeletion {
        recording_id,
        tenant,
        cause,
        requested_at: archive_common::convert::from_micros(requested_at_us),
        attempts: u32::try_from(attempts.max(0)).unwrap_or(u32::MAX),
    }
}

pub(super) const MEDIA_DELETION_DONE: &str = "DELETE FROM media_deletions WHERE recording_id = $1";

pub(super) const MEDIA_DELETION_FAILED: &str = "UPDATE media_deletions \
     SET attempts = attempts + 1, next_attempt_us = $2, last_error = $3 WHERE recording_id = $1";

/// Changes the flag only when it differs, so a change is one affected row.
pub(super) const SET_LEGAL_HOLD: &str =
    "UPDATE calls SET legal_hold = $1 WHERE tenant_id = $2 AND call_id = $3 AND legal_hold <> $1";

use std::collections::{HashMap, HashSet};

use archive_common::db::Pool as AnyPool;
use async_trait::async_trait;
use audit_svc::outbox::{Change, SqlOutbox};
use chrono::{DateTime, Utc};
use sqlx::{Database, Decode, Encode, Executor, FromRow, IntoArguments, Pool, Type};
use uuid::Uuid;

use super::{
    CallStore, MediaDeletion, StoreError,
    ingest::parties_of,
    outbox::write_events,
    rows::{
        CALL_COLUMNS, CallRow, RECORDING_COLUMNS, RecordingRow, SettingsRow, assemble, to_json,
    },
    statement::{RowsAffected, Statement},
};
use crate::{
    audit,
    model::{
        CallQuery, Cursor, NewCall, PendingCursor, RecordingState, StoredCall, StoredFile,
        StoredRecording, TenantSettings,
    },
};

/// The calls of one tenant-partitioned archive in a database `DB`.
#[derive(Debug, Clone)]
pub(crate) struct SqlCallStore<DB: Database> {
    pool: Pool<DB>,
}

impl<DB: Database> SqlCallStore<DB> {
    /// Wraps `pool`, whose schema is current (see [`super::open`]).
    pub(crate) fn new(pool: Pool<DB>) -> Self {
        Self { pool }
    }
}

impl<DB> SqlCallStore<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Uuid: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'r> CallRow: FromRow<'r, DB::Row>,
    for<'r> RecordingRow: FromRow<'r, DB::Row>,
{
    async fn load_recordings(&self, call_ids: &[Uuid]) -> Result<Vec<RecordingRow>, StoreError> {
        if call_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = Statement::<DB>::new(format!(
            "SELECT {} FROM recordings r WHERE r.call_id IN ",
            RECORDING_COLUMNS
        ));
        qb.push_list(call_ids.iter().copied());
        let (sql, args) = qb.into_parts();
        Ok(sqlx::query_as_with(&sql, args)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Each recording with its call (without the call's recordings
    /// list), in the recordings' order.
    async fn with_calls(
        &self,
        tenant: &str,
        recordings: Vec<RecordingRow>,
    ) -> Result<Vec<(StoredRecording, StoredCall)>, StoreError> {
        let mut call_ids: Vec<Uuid> = recordings.iter().map(|r| r.call_id).collect();
        call_ids.sort_unstable();
        call_ids.dedup();
        if call_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = Statement::<DB>::new(format!(
            "SELECT {} FROM calls c WHERE c.tenant_id = ",
            CALL_COLUMNS
        ));
        qb.push_bind(tenant.to_owned()).push(" AND c.call_id IN ");
        qb.push_list(call_ids.iter().copied());
        let (sql, args) = qb.into_parts();
        let calls: Vec<CallRow> = sqlx::query_as_with(&sql, args)
            .fetch_all(&self.pool)
            .await?;
        let calls: HashMap<Uuid, StoredCall> = calls
            .into_iter()
            .map(|c| c.into_call().map(|c| (c.call_id, c)))
            .collect::<Result<_, _>>()?;
        recordings
            .into_iter()
            .filter_map(|r| {
                let call = calls.get(&r.call_id)?.clone();
                Some(r.into_recording().map(|r| (r, call)))
            })
            .collect()
    }

    async fn calls_with_recordings(
        &self,
        rows: Vec<CallRow>,
    ) -> Result<Vec<StoredCall>, StoreError> {
        let ids: Vec<Uuid> = rows.iter().map(|c| c.call_id).collect();
        let recordings = self.load_recordings(&ids).await?;
        assemble(rows, recordings)
    }

    async fn find_by_session(
        &self,
        tenant: &str,
        session_id: &str,
    ) -> Result<Option<StoredCall>, StoreError> {
        let row: Option<CallRow> = sqlx::query_as(&format!(
            "SELECT {} FROM calls c WHERE c.tenant_id = $1 AND c.session_id = $2",
            CALL_COLUMNS
        ))
        .bind(tenant)
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(self
            .calls_with_recordings(row.into_iter().collect())
            .await?
            .pop())
    }
}

#[async_trait]
impl<DB> CallStore for SqlCallStore<DB>
where
    DB: Database,
    AnyPool: From<Pool<DB>>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Uuid: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    DB::QueryResult: RowsAffected,
    usize: sqlx::ColumnIndex<DB::Row>,
    for<'r> CallRow: FromRow<'r, DB::Row>,
    for<'r> RecordingRow: FromRow<'r, DB::Row>,
    for<'r> SettingsRow: FromRow<'r, DB::Row>,
{
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn outbox(&self) -> SqlOutbox {
        SqlOutbox::new(self.pool.clone().into())
    }

    async fn insert_calls(
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
                let existing = self
                    .find_by_session(tenant, &stored.session_id)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt("session conflict without a row".into()))?;
                results.push((existing, false));
            }
        }
        Ok(results)
    }

    async fn search(
        &self,
        tenant: &str,
        query: &CallQuery,
        after: Option<Cursor>,
        limit: u32,
    ) -> Result<Vec<StoredCall>, StoreError> {
        let (sql, args) = Statement::search(tenant, query, after, limit).into_parts();
        let rows: Vec<CallRow> = sqlx::query_as_with(&sql, args)
            .fetch_all(&self.pool)
            .await?;
        self.calls_with_recordings(rows).await
    }

    async fn get_call(
        &self,
        tenant: &str,
        call_id: Uuid,
    ) -> Result<Option<StoredCall>, StoreError> {
        let row: Option<CallRow> = sqlx::query_as(&format!(
            "SELECT {} FROM calls c WHERE c.tenant_id = $1 AND c.call_id = $2",
            CALL_COLUMNS
        ))
        .bind(tenant)
        .bind(call_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(self
            .calls_with_recordings(row.into_iter().collect())
            .await?
            .pop())
    }

    async fn get_recordings(
        &self,
        tenant: &str,
        ids: &[Uuid],
    ) -> Result<Vec<(StoredRecording, StoredCall)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = Statement::<DB>::new(format!(
            "SELECT {} FROM recordings r WHERE r.tenant_id = ",
            RECORDING_COLUMNS
        ));
        qb.push_bind(tenant.to_owned())
            .push(" AND r.recording_id IN ");
        qb.push_list(ids.iter().copied());
        let (sql, args) = qb.into_parts();
        let recordings: Vec<RecordingRow> = sqlx::query_as_with(&sql, args)
            .fetch_all(&self.pool)
            .await?;
        self.with_calls(tenant, recordings).await
    }

    async fn mark_deleted(
        &self,
        tenant: &str,
        ids: &[Uuid],
        change: &Change,
    ) -> Result<Vec<StoredRecording>, StoreError> {
        let at = change.at.timestamp_micros();
        let mut events = Vec::new();
        let mut tx = self.pool.begin().await?;
        for id in ids {
            let marked: Option<(Uuid,)> = sqlx::query_as(MARK_DELETED)
                .bind(i64::from(RecordingState::Deleted.code()))
                .bind(&change.actor_id)
                .bind(&change.actor_display_name)
                .bind(at)
                .bind(tenant)
                .bind(*id)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some((call_id,)) = marked {
                sqlx::query(QUEUE_MEDIA_DELETION)
                    .bind(*id)
                    .bind(tenant)
                    .bind("deleted")
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(RECOUNT_LIVE_OF_RECORDING)
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
                events.push(audit::recording_deleted(change, *id, call_id));
            }
        }
        write_events(&mut tx, tenant, &events, change.at).await?;
        tx.commit().await?;
        let found = self.get_recordings(tenant, ids).await?;
        Ok(found.into_iter().map(|(r, _)| r).collect())
    }

    async fn expire_recordings(
        &self,
        tenant: &str,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
        retention_days: u32,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let expired: Vec<(Uuid, Uuid)> = sqlx::query_as(EXPIRE_RECORDINGS)
            .bind(i64::from(RecordingState::Expired.code()))
            .bind(tenant)
            .bind(i64::from(RecordingState::Available.code()))
            .bind(cutoff.timestamp_micros())
            .fetch_all(&mut *tx)
            .await?;
        for (id, _) in &expired {
            sqlx::query(QUEUE_MEDIA_DELETION)
                .bind(*id)
                .bind(tenant)
                .bind("expired")
                .bind(now.timestamp_micros())
                .execute(&mut *tx)
                .await?;
        }
        let sweeper = Change::system(audit::RETENTION, now);
        let events: Vec<_> = expired
            .iter()
            .map(|(id, call_id)| {
                audit::retention_expired(&sweeper, *id, *call_id, retention_days, expired.len())
            })
            .collect();
        write_events(&mut tx, tenant, &events, now).await?;
        tx.commit().await?;
        Ok(expired.len() as u64)
    }

    async fn purge_calls(
        &self,
        tenant: &str,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
        metadata_retention_days: u32,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let live: Vec<(Uuid,)> = sqlx::query_as(LIVE_RECORDINGS_OF_OLD_CALLS)
            .bind(tenant)
            .bind(cutoff.timestamp_micros())
            .bind(i64::from(RecordingState::Available.code()))
            .fetch_all(&mut *tx)
            .await?;
        for (id,) in &live {
            sqlx::query(QUEUE_MEDIA_DELETION)
                .bind(*id)
                .bind(tenant)
                .bind("purged")
                .bind(now.timestamp_micros())
                .execute(&mut *tx)
                .await?;
        }
        let purged: Vec<(Uuid, i64)> = sqlx::query_as(PURGE_CALLS)
            .bind(tenant)
            .bind(cutoff.timestamp_micros())
            .fetch_all(&mut *tx)
            .await?;
        let sweeper = Change::system(audit::RETENTION, now);
        let events: Vec<_> = purged
            .iter()
            .map(|(call_id, recordings)| {
                audit::call_purged(&sweeper, *call_id, *recordings, metadata_retention_days)
            })
            .collect();
        write_events(&mut tx, tenant, &events, now).await?;
        tx.commit().await?;
        Ok(purged.len() as u64)
    }

    async fn tenants(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(TENANTS).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|(t,)| t).collect())
    }

    async fn due_media_deletions(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<MediaDeletion>, StoreError> {
        let rows: Vec<MediaDeletionRow> = sqlx::query_as(DUE_MEDIA_DELETIONS)
            .bind(now.timestamp_micros())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(media_deletion).collect())
    }

    async fn pending_media_deletions(
        &self,
        tenant: Option<&str>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<MediaDeletion>, StoreError> {
        // The nil UUID sorts before every other (both backends
        // compare UUIDs byte by byte).
        let after = after.unwrap_or(Uuid::nil());
        let query = match tenant {
            Some(tenant) => {
                sqlx::query_as(PENDING_MEDIA_DELETIONS_OF_TENANT).bind(tenant.to_owned())
            }
            None => sqlx::query_as(PENDING_MEDIA_DELETIONS),
        };
        let rows: Vec<MediaDeletionRow> = query
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(media_deletion).collect())
    }

    async fn queued_media_deletions(
        &self,
        tenant: &str,
        ids: &[Uuid],
    ) -> Result<Vec<MediaDeletion>, StoreError> {
        let mut found = Vec::new();
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            let mut qb = Statement::<DB>::new(QUEUED_MEDIA_DELETIONS_OF);
            qb.push_bind(tenant.to_owned())
                .push(" AND recording_id IN ");
            qb.push_list(chunk.iter().copied());
            let (sql, args) = qb.into_parts();
            let rows: Vec<MediaDeletionRow> = sqlx::query_as_with(&sql, args)
                .fetch_all(&self.pool)
                .await?;
            found.extend(rows.into_iter().map(media_deletion));
        }
        Ok(found)
    }

    async fn media_deletion_done(&self, recording_id: Uuid) -> Result<(), StoreError> {
        sqlx::query(MEDIA_DELETION_DONE)
            .bind(recording_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn media_deletion_failed(
        &self,
        recording_id: Uuid,
        next_attempt: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(MEDIA_DELETION_FAILED)
            .bind(recording_id)
            .bind(next_attempt.timestamp_micros())
            .bind(error)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn mark_media_stored(
        &self,
        tenant: &str,
        id: Uuid,
        file: &StoredFile,
    ) -> Result<Option<(StoredRecording, bool)>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(MARK_MEDIA_STORED)
            .bind(i64::try_from(file.size_bytes).unwrap_or(i64::MAX))
            .bind(file.duration_us)
            .bind(&file.sha256)
            .bind(file.stored_at.timestamp_micros())
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let state: Option<(i64,)> = sqlx::query_as(RECORDING_STATE)
            .bind(tenant)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some((state,)) = state else {
            return Ok(None);
        };
        // A file that arrives after its recording was deleted or
        // expired goes the way the first one went.
        let requeued = state != i64::from(RecordingState::Available.code());
        if requeued {
            sqlx::query(QUEUE_MEDIA_DELETION)
                .bind(id)
                .bind(tenant)
                .bind("arrived-after-deletion")
                .bind(file.stored_at.timestamp_micros())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        let recording = self.get_recordings(tenant, &[id]).await?.pop();
        Ok(recording.map(|(r, _)| (r, requeued)))
    }

    async fn pending_recordings(
        &self,
        tenant: &str,
        before: Option<DateTime<Utc>>,
        after: Option<PendingCursor>,
        limit: u32,
    ) -> Result<Vec<(StoredRecording, StoredCall)>, StoreError> {
        let mut qb = Statement::<DB>::new("SELECT ");
        qb.push(RECORDING_COLUMNS)
            .push(PENDING_RECORDINGS)
            .push_bind(tenant.to_owned());
        if let Some(before) = before {
            qb.push(" AND r.ingested_at_us < ")
                .push_bind(before.timestamp_micros());
        }
        if let Some(cursor) = after {
            qb.push(" AND (r.ingested_at_us, r.recording_id) > (")
                .push_bind(cursor.ingested_us)
                .push(", ")
                .push_bind(cursor.recording_id)
                .push(")");
        }
        qb.push(" ORDER BY r.ingested_at_us, r.recording_id LIMIT ")
            .push_bind(i64::from(limit));
        let (sql, args) = qb.into_parts();
        let recordings: Vec<RecordingRow> = sqlx::query_as_with(&sql, args)
            .fetch_all(&self.pool)
            .await?;
        self.with_calls(tenant, recordings).await
    }

    async fn unverified_recordings(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<(String, Uuid)>, StoreError> {
        Ok(sqlx::query_as(UNVERIFIED_RECORDINGS)
            .bind(after.unwrap_or(Uuid::nil()))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?)
    }

    async fn resolve_unverified(
        &self,
        tenant: &str,
        found: &[(Uuid, StoredFile)],
        missing: &[Uuid],
    ) -> Result<u64, StoreError> {
        let mut changed = 0;
        let mut tx = self.pool.begin().await?;
        for (id, file) in found {
            changed += sqlx::query(RESOLVE_FOUND)
                .bind(i64::try_from(file.size_bytes).unwrap_or(i64::MAX))
                .bind(file.duration_us)
                .bind(&file.sha256)
                .bind(file.stored_at.timestamp_micros())
                .bind(tenant)
                .bind(*id)
                .execute(&mut *tx)
                .await?
                .rows();
        }
        for id in missing {
            changed += sqlx::query(RESOLVE_MISSING)
                .bind(tenant)
                .bind(*id)
                .execute(&mut *tx)
                .await?
                .rows();
        }
        tx.commit().await?;
        Ok(changed)
    }

    async fn set_legal_hold(
        &self,
        tenant: &str,
        call_id: Uuid,
        hold: bool,
        change: &Change,
    ) -> Result<Option<StoredCall>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let changed = sqlx::query(SET_LEGAL_HOLD)
            .bind(hold)
            .bind(tenant)
            .bind(call_id)
            .execute(&mut *tx)
            .await?
            .rows();
        if changed > 0 {
            let event = audit::legal_hold_changed(change, call_id, hold);
            write_events(&mut tx, tenant, &[event], change.at).await?;
        }
        tx.commit().await?;
        self.get_call(tenant, call_id).await
    }

    async fn settings(&self, tenant: &str) -> Result<TenantSettings, StoreError> {
        let row: Option<SettingsRow> = sqlx::query_as(SELECT_SETTINGS)
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.into_settings())
            .transpose()
            .map(Option::unwrap_or_default)
    }

    async fn put_settings(
        &self,
        tenant: &str,
        settings: &TenantSettings,
        change: &Change,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(LOCK_SETTINGS)
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
        let row: Option<SettingsRow> = sqlx::query_as(SELECT_SETTINGS)
            .bind(tenant)
            .fetch_optional(&mut *tx)
            .await?;
        let before = row
            .map(|r| r.into_settings())
            .transpose()?
            .unwrap_or_default();
        let Some(event) = audit::settings_changed(change, &before, settings) else {
            return Ok(false);
        };
        sqlx::query(UPSERT_SETTINGS)
            .bind(tenant)
            .bind(&settings.time_zone)
            .bind(settings.consult_recording)
            .bind(i64::from(settings.recording_retention_days))
            .bind(i64::from(settings.metadata_retention_days))
            .bind(settings.search_audit_disabled)
            .bind(to_json(&settings.reason_codes))
            .execute(&mut *tx)
            .await?;
        write_events(&mut tx, tenant, &[event], change.at).await?;
        tx.commit().await?;
        Ok(true)
    }
}
