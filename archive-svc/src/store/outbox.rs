//! The store's audit outbox (`audit_svc::outbox`): writing a change's events
//! inside the change's transaction, and [`OutboxStore`] for the relay, with
//! the outbox's shared SQL on both backends. [`outbox_impl!`] instantiates
//! it for a concrete pool type, like `sql.rs` does for the calls.
//!
//! [`OutboxStore`]: audit_svc::outbox::OutboxStore

/// Implements the outbox for `$store` (a struct with a `pool` field of
/// database `$db`).
macro_rules! outbox_impl {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Writes `events` of `tenant` to the outbox in `tx`, due at `due`.
            async fn write_events(
                tx: &mut sqlx::Transaction<'_, $db>,
                tenant: &str,
                events: &[archive_proto::v1::AuditEvent],
                due: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                use prost::Message as _;
                for chunk in events.chunks($crate::store::sql::ROWS_PER_STATEMENT) {
                    let mut qb = sqlx::QueryBuilder::<$db>::new(audit_svc::outbox::INSERT_INTO);
                    qb.push_values(chunk, |mut b, event| {
                        b.push_bind(tenant.to_owned())
                            .push_bind(event.encode_to_vec())
                            .push_bind(0_i64)
                            .push_bind(due.timestamp_micros());
                    });
                    qb.build().execute(&mut **tx).await?;
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl audit_svc::outbox::OutboxStore for $store {
            async fn due(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                limit: u32,
            ) -> Result<Vec<audit_svc::outbox::Pending>, sqlx::Error> {
                use prost::Message as _;
                let rows: Vec<(i64, String, Vec<u8>, i64)> = sqlx::query_as(audit_svc::outbox::DUE)
                    .bind(now.timestamp_micros())
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|(seq, tenant, event, attempts)| {
                        let event = archive_proto::v1::AuditEvent::decode(event.as_slice())
                            .map_err(|e| format!("the stored event does not decode: {e}"));
                        audit_svc::outbox::Pending::from_row((seq, tenant, attempts), event)
                    })
                    .collect())
            }

            async fn delivered(&self, seqs: &[i64]) -> Result<(), sqlx::Error> {
                let mut tx = self.pool.begin().await?;
                for seq in seqs {
                    sqlx::query(audit_svc::outbox::DELIVERED)
                        .bind(*seq)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await
            }

            async fn failed(
                &self,
                seqs: &[i64],
                next_attempt: chrono::DateTime<chrono::Utc>,
                error: &str,
            ) -> Result<(), sqlx::Error> {
                let mut tx = self.pool.begin().await?;
                for seq in seqs {
                    sqlx::query(audit_svc::outbox::FAILED)
                        .bind(*seq)
                        .bind(next_attempt.timestamp_micros())
                        .bind(error)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await
            }

            async fn pending(&self) -> Result<u64, sqlx::Error> {
                let (n,): (i64,) = sqlx::query_as(audit_svc::outbox::PENDING)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n.max(0) as u64)
            }
        }
    };
}

pub(super) use outbox_impl;
