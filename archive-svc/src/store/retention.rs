//! Retention: what the sweeper (`crate::retention`) changes, each tenant's
//! recordings expired and calls purged past its retention days (legal hold
//! excepted), their files queued for deletion in the same transaction.

use audit_svc::outbox::Change;
use chrono::{DateTime, Utc};
use sqlx::{Database, Decode, Encode, Executor, IntoArguments, Type};
use uuid::Uuid;

use async_trait::async_trait;

use super::{
    Retention, StoreError, deletions::queue_media_deletion, outbox::write_events, sql::SqlCallStore,
};
use crate::{audit, model::RecordingState};

const EXPIRE_RECORDINGS: &str = "UPDATE recordings SET state = $1 \
     WHERE tenant_id = $2 AND state = $3 AND start_us < $4 \
     AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.call_id = recordings.call_id AND c.legal_hold) \
     RETURNING recording_id, call_id";

const LIVE_RECORDINGS_OF_OLD_CALLS: &str = "SELECT r.recording_id FROM recordings r \
     JOIN calls c ON c.call_id = r.call_id \
     WHERE c.tenant_id = $1 AND c.start_us < $2 AND NOT c.legal_hold AND r.state = $3";

const PURGE_CALLS: &str = "DELETE FROM calls \
     WHERE tenant_id = $1 AND start_us < $2 AND NOT legal_hold RETURNING call_id, recording_count";

const TENANTS: &str = "SELECT DISTINCT tenant_id FROM calls ORDER BY tenant_id";

#[async_trait]
impl<DB> Retention for SqlCallStore<DB>
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
{
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
            queue_media_deletion(&mut tx, tenant, *id, "expired", now).await?;
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
            queue_media_deletion(&mut tx, tenant, *id, "purged", now).await?;
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
}
