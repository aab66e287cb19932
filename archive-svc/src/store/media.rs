//! Media states: a recording's file pending from ingest until media-svc
//! reports it stored, the files the recording platform still owes, and the
//! media check's answers for recordings from before media states were kept.

use chrono::{DateTime, Utc};
use sqlx::{Database, Decode, Encode, Executor, FromRow, IntoArguments, Type};
use uuid::Uuid;

use async_trait::async_trait;

use super::{
    MediaStates, StoreError,
    deletions::queue_media_deletion,
    rows::{CallRow, RECORDING_COLUMNS, RecordingRow},
    sql::SqlCallStore,
    statement::{RowsAffected, Statement},
};
use crate::model::{PendingCursor, RecordingState, StoredCall, StoredFile, StoredRecording};

// The media states' numbers (model::Media::code) are written as literals
// below: a partial index (`recordings_media_pending`) serves a query only
// when its WHERE names the index's own constants, not bound parameters.

/// media-svc stored the file: records what it measured, unless the same file
/// was reported before (a retried upload changes nothing).
const MARK_MEDIA_STORED: &str = "UPDATE recordings SET media_state = 2, \
     media_size_bytes = $1, media_duration_us = $2, media_sha256 = $3, media_stored_at_us = $4 \
     WHERE tenant_id = $5 AND recording_id = $6 AND (media_state <> 2 OR media_sha256 <> $3)";

const RECORDING_STATE: &str =
    "SELECT state FROM recordings WHERE tenant_id = $1 AND recording_id = $2";

/// Available recordings (state 1) whose file never arrived (media state 1).
const PENDING_RECORDINGS: &str =
    " FROM recordings r WHERE r.media_state = 1 AND r.state = 1 AND r.tenant_id = ";

/// Available recordings whose media state is unverified (3), in id order.
const UNVERIFIED_RECORDINGS: &str = "SELECT tenant_id, recording_id FROM recordings \
     WHERE media_state = 3 AND state = 1 AND recording_id > $1 ORDER BY recording_id LIMIT $2";

/// The media check found the file: as [`MARK_MEDIA_STORED`], unless media-svc's own report came first.
const RESOLVE_FOUND: &str = "UPDATE recordings SET media_state = 2, \
     media_size_bytes = $1, media_duration_us = $2, media_sha256 = $3, media_stored_at_us = $4 \
     WHERE tenant_id = $5 AND recording_id = $6 AND media_state = 3";

/// The media check found no file: pending since its start (when it was
/// ingested is not known), unless media-svc's report came first.
const RESOLVE_MISSING: &str = "UPDATE recordings SET media_state = 1, \
     ingested_at_us = COALESCE(ingested_at_us, start_us) \
     WHERE tenant_id = $1 AND recording_id = $2 AND media_state = 3";

/// Runs `sql` (MARK_MEDIA_STORED or RESOLVE_FOUND) for the tenant's
/// recording `id` with what media-svc measured of its file.
async fn store_file<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    sql: &str,
    tenant: &str,
    id: Uuid,
    file: &StoredFile,
) -> Result<u64, StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Uuid: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    DB::QueryResult: RowsAffected,
{
    Ok(sqlx::query(sql)
        .bind(i64::try_from(file.size_bytes).unwrap_or(i64::MAX))
        .bind(file.duration_us)
        .bind(&file.sha256)
        .bind(file.stored_at.timestamp_micros())
        .bind(tenant)
        .bind(id)
        .execute(&mut **tx)
        .await?
        .rows())
}

#[async_trait]
impl<DB> MediaStates for SqlCallStore<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Uuid: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    DB::QueryResult: RowsAffected,
    usize: sqlx::ColumnIndex<DB::Row>,
    for<'r> CallRow: FromRow<'r, DB::Row>,
    for<'r> RecordingRow: FromRow<'r, DB::Row>,
{
    async fn mark_media_stored(
        &self,
        tenant: &str,
        id: Uuid,
        file: &StoredFile,
    ) -> Result<Option<(StoredRecording, bool)>, StoreError> {
        let mut tx = self.pool.begin().await?;
        store_file(&mut tx, MARK_MEDIA_STORED, tenant, id, file).await?;
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
            let cause = "arrived-after-deletion";
            queue_media_deletion(&mut tx, tenant, id, cause, file.stored_at).await?;
        }
        tx.commit().await?;
        let recording = self.recordings_with_calls(tenant, &[id]).await?.pop();
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
            changed += store_file(&mut tx, RESOLVE_FOUND, tenant, *id, file).await?;
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
}
