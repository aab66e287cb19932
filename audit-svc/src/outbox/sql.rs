//! [`SqlOutbox`]: the relay's side of an `audit_outbox` table, on either
//! backend — the same SQL ([`DUE`], [`DELIVERED`], [`FAILED`], [`PENDING`])
//! for every service that has the table, so no service writes it again.

use std::sync::Arc;

use archive_common::db::Pool;
use archive_proto::v1::AuditEvent;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use prost::Message as _;
use sqlx::{Database, Decode, Encode, Executor, IntoArguments, Type};

use super::{DELIVERED, DUE, FAILED, INSERT, OutboxStore, PENDING, Pending};

/// The outbox of the database behind a pool.
#[derive(Clone)]
pub struct SqlOutbox(Arc<dyn Table>);

impl std::fmt::Debug for SqlOutbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlOutbox").finish_non_exhaustive()
    }
}

impl SqlOutbox {
    pub fn new(pool: Pool) -> Self {
        match pool {
            Pool::Sqlite(p) => Self(Arc::new(Rows(p))),
            Pool::Postgres(p) => Self(Arc::new(Rows(p))),
        }
    }

    /// Queues `event` on its own, due at `at` (what no change of the
    /// service's carries: a refused caller).
    pub async fn record(
        &self,
        tenant: &str,
        event: &AuditEvent,
        at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        self.0.record(tenant, event.encode_to_vec(), at).await
    }
}

#[async_trait]
impl OutboxStore for SqlOutbox {
    async fn due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Pending>, sqlx::Error> {
        self.0.due(now, limit).await
    }

    async fn delivered(&self, seqs: &[i64]) -> Result<(), sqlx::Error> {
        self.0.delivered(seqs).await
    }

    async fn failed(&self, seqs: &[i64], next: DateTime<Utc>, e: &str) -> Result<(), sqlx::Error> {
        self.0.failed(seqs, next, e).await
    }

    async fn pending(&self) -> Result<u64, sqlx::Error> {
        self.0.pending().await
    }
}

/// The table on one backend's pool: what [`OutboxStore`] asks, plus a lone insert.
#[async_trait]
trait Table: Send + Sync + 'static {
    async fn record(
        &self,
        tenant: &str,
        event: Vec<u8>,
        at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error>;
    async fn due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Pending>, sqlx::Error>;
    async fn delivered(&self, seqs: &[i64]) -> Result<(), sqlx::Error>;
    async fn failed(&self, seqs: &[i64], next: DateTime<Utc>, e: &str) -> Result<(), sqlx::Error>;
    async fn pending(&self) -> Result<u64, sqlx::Error>;
}

/// The rows of `audit_outbox` behind a pool of database `DB`.
struct Rows<DB: Database>(sqlx::Pool<DB>);

#[async_trait]
impl<DB> Table for Rows<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB> + sqlx::ColumnIndex<DB::Row>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    async fn record(
        &self,
        tenant: &str,
        event: Vec<u8>,
        at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(INSERT)
            .bind(tenant)
            .bind(event)
            .bind(at.timestamp_micros())
            .execute(&self.0)
            .await
            .map(|_| ())
    }

    async fn due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Pending>, sqlx::Error> {
        let rows: Vec<(i64, String, Vec<u8>, i64)> = sqlx::query_as(DUE)
            .bind(now.timestamp_micros())
            .bind(i64::from(limit))
            .fetch_all(&self.0)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(seq, tenant, event, attempts)| {
                let event = AuditEvent::decode(event.as_slice())
                    .map_err(|e| format!("the stored event does not decode: {e}"));
                Pending::from_row((seq, tenant, attempts), event)
            })
            .collect())
    }

    async fn delivered(&self, seqs: &[i64]) -> Result<(), sqlx::Error> {
        let mut tx = self.0.begin().await?;
        for seq in seqs {
            sqlx::query(DELIVERED).bind(*seq).execute(&mut *tx).await?;
        }
        tx.commit().await
    }

    async fn failed(
        &self,
        seqs: &[i64],
        next_attempt: DateTime<Utc>,
        error: &str,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.0.begin().await?;
        for seq in seqs {
            sqlx::query(FAILED)
                .bind(*seq)
                .bind(next_attempt.timestamp_micros())
                .bind(error)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    async fn pending(&self) -> Result<u64, sqlx::Error> {
        let (n,): (i64,) = sqlx::query_as(PENDING).fetch_one(&self.0).await?;
        Ok(n.max(0) as u64)
    }
}
