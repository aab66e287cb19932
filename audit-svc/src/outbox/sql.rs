//! [`SqlOutbox`]: the relay's side of an `audit_outbox` table, on either
//! backend — the same SQL ([`DUE`], [`DELIVERED`], [`FAILED`], [`PENDING`])
//! for every service that has the table, so no service writes it again.

use archive_common::db::Pool;
use archive_proto::v1::AuditEvent;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use prost::Message as _;

use super::{DELIVERED, DUE, FAILED, INSERT, OutboxStore, PENDING, Pending};

/// The outbox of the database behind `pool`.
#[derive(Debug, Clone)]
pub struct SqlOutbox {
    pool: Pool,
}

/// `$body` with `$p` bound to the pool of whichever backend it is (sqlx's
/// pools differ in type, the SQL does not).
macro_rules! on_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            Pool::Sqlite($p) => $body,
            Pool::Postgres($p) => $body,
        }
    };
}

impl SqlOutbox {
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// Queues `event` on its own, due at `at` (what no change of the
    /// service's carries: a refused caller).
    pub async fn record(
        &self,
        tenant: &str,
        event: &AuditEvent,
        at: DateTime<Utc>,
    ) -> Result<(), sqlx::Error> {
        let bytes = event.encode_to_vec();
        on_pool!(&self.pool, p => {
            sqlx::query(INSERT)
                .bind(tenant)
                .bind(&bytes)
                .bind(at.timestamp_micros())
                .execute(p)
                .await
                .map(|_| ())
        })
    }
}

#[async_trait]
impl OutboxStore for SqlOutbox {
    async fn due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Pending>, sqlx::Error> {
        let rows: Vec<(i64, String, Vec<u8>, i64)> = on_pool!(&self.pool, p => {
            sqlx::query_as(DUE)
                .bind(now.timestamp_micros())
                .bind(i64::from(limit))
                .fetch_all(p)
                .await?
        });
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
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            for seq in seqs {
                sqlx::query(DELIVERED).bind(*seq).execute(&mut *tx).await?;
            }
            tx.commit().await
        })
    }

    async fn failed(
        &self,
        seqs: &[i64],
        next_attempt: DateTime<Utc>,
        error: &str,
    ) -> Result<(), sqlx::Error> {
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            for seq in seqs {
                sqlx::query(FAILED)
                    .bind(*seq)
                    .bind(next_attempt.timestamp_micros())
                    .bind(error)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        })
    }

    async fn pending(&self) -> Result<u64, sqlx::Error> {
        let (n,): (i64,) = on_pool!(&self.pool, p => {
            sqlx::query_as(PENDING).fetch_one(p).await?
        });
        Ok(n.max(0) as u64)
    }
}
