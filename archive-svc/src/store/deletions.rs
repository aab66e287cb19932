//! Deletion: a user's deletion markers, and the media-deletion outbox every
//! way a recording's file must go (a marker, retention, a file that arrived
//! after its recording went) queues it in, which the drainer works through
//! and media-svc reads (what it must not serve).

use chrono::{DateTime, Utc};
use sqlx::{Database, Decode, Encode, Executor, FromRow, IntoArguments, Transaction, Type};
use uuid::Uuid;

use async_trait::async_trait;

use super::{
    Deletions, MediaDeletion, StoreError,
    outbox::write_events,
    rows::{CallRow, RecordingRow},
    sql::{ROWS_PER_STATEMENT, SqlCallStore},
    statement::Statement,
};
use crate::{
    audit,
    model::{RecordingState, StoredRecording},
};
use audit_svc::outbox::Change;

/// Marks one recording unless it has a marker; returns its call when it did.
const MARK_DELETED: &str = "UPDATE recordings SET state = $1, deleted_by_user_id = $2, \
     deleted_by_name = $3, deleted_at_us = $4 \
     WHERE tenant_id = $5 AND recording_id = $6 AND deleted_at_us IS NULL RETURNING call_id";

const RECOUNT_LIVE_OF_RECORDING: &str = "UPDATE calls SET live_recording_count = \
     (SELECT COUNT(*) FROM recordings r WHERE r.call_id = calls.call_id AND r.deleted_at_us IS NULL) \
     WHERE call_id = (SELECT call_id FROM recordings WHERE recording_id = $1)";

const QUEUE_MEDIA_DELETION: &str = "INSERT INTO media_deletions (recording_id, \
     tenant_id, cause, requested_at_us, attempts, next_attempt_us) VALUES ($1, $2, $3, $4, 0, $4) \
     ON CONFLICT (recording_id) DO NOTHING";

/// Due deletions, the longest waiting first. Every query of the queue
/// selects a [`MediaDeletionRow`].
const DUE_MEDIA_DELETIONS: &str = "SELECT recording_id, tenant_id, cause, \
     requested_at_us, attempts FROM media_deletions WHERE next_attempt_us <= $1 \
     ORDER BY next_attempt_us LIMIT $2";

/// By recording id (the primary key), after a recording id: pages that
/// neither skip nor repeat a row while deletions are queued and confirmed.
const PENDING_MEDIA_DELETIONS: &str = "SELECT recording_id, tenant_id, cause, \
     requested_at_us, attempts FROM media_deletions WHERE recording_id > $1 \
     ORDER BY recording_id LIMIT $2";

const PENDING_MEDIA_DELETIONS_OF_TENANT: &str = "SELECT recording_id, tenant_id, \
     cause, requested_at_us, attempts FROM media_deletions WHERE tenant_id = $1 \
     AND recording_id > $2 ORDER BY recording_id LIMIT $3";

const QUEUED_MEDIA_DELETIONS_OF: &str = "SELECT recording_id, tenant_id, cause, \
     requested_at_us, attempts FROM media_deletions WHERE tenant_id = ";

const MEDIA_DELETION_DONE: &str = "DELETE FROM media_deletions WHERE recording_id = $1";

const MEDIA_DELETION_FAILED: &str = "UPDATE media_deletions \
     SET attempts = attempts + 1, next_attempt_us = $2, last_error = $3 WHERE recording_id = $1";

/// A row of the media-deletion queue as the queries above select it.
type MediaDeletionRow = (Uuid, String, String, i64, i64);

fn media_deletion(
    (recording_id, tenant, cause, requested_at_us, attempts): MediaDeletionRow,
) -> MediaDeletion {
    MediaDeletion {
        recording_id,
        tenant,
        cause,
        requested_at: archive_common::convert::from_micros(requested_at_us),
        attempts: u32::try_from(attempts.max(0)).unwrap_or(u32::MAX),
    }
}

/// Queues the file of the tenant's recording `id` for deletion for
/// `cause` at `at`, in `tx`, unless it is queued already.
pub(super) async fn queue_media_deletion<DB>(
    tx: &mut Transaction<'_, DB>,
    tenant: &str,
    id: Uuid,
    cause: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Uuid: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    sqlx::query(QUEUE_MEDIA_DELETION)
        .bind(id)
        .bind(tenant)
        .bind(cause)
        .bind(at.timestamp_micros())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[async_trait]
impl<DB> Deletions for SqlCallStore<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Uuid: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
    for<'r> CallRow: FromRow<'r, DB::Row>,
    for<'r> RecordingRow: FromRow<'r, DB::Row>,
{
    async fn mark_deleted(
        &self,
        tenant: &str,
        ids: &[Uuid],
        change: &Change,
    ) -> Result<Vec<StoredRecording>, StoreError> {
        let mut events = Vec::new();
        let mut tx = self.pool.begin().await?;
        for id in ids {
            let marked: Option<(Uuid,)> = sqlx::query_as(MARK_DELETED)
                .bind(i64::from(RecordingState::Deleted.code()))
                .bind(&change.actor_id)
                .bind(&change.actor_display_name)
                .bind(change.at.timestamp_micros())
                .bind(tenant)
                .bind(*id)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some((call_id,)) = marked {
                queue_media_deletion(&mut tx, tenant, *id, "deleted", change.at).await?;
                sqlx::query(RECOUNT_LIVE_OF_RECORDING)
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
                events.push(audit::recording_deleted(change, *id, call_id));
            }
        }
        write_events(&mut tx, tenant, &events, change.at).await?;
        tx.commit().await?;
        let found = self.recordings_with_calls(tenant, ids).await?;
        Ok(found.into_iter().map(|(r, _)| r).collect())
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
}
