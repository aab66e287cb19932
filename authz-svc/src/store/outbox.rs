//! [`OutboxStore`](audit_svc::outbox::OutboxStore) for both backends: how the
//! relay reads and settles the outbox rows user changes wrote, with the
//! outbox's shared SQL.

/// Implements `OutboxStore` for `$store`, a struct with a `pool` field.
macro_rules! outbox_impl {
    ($store:ty) => {
        #[async_trait]
        impl audit_svc::outbox::OutboxStore for $store {
            async fn due(
                &self,
                now: DateTime<Utc>,
                limit: u32,
            ) -> Result<Vec<audit_svc::outbox::Pending>, sqlx::Error> {
                use prost::Message as _;
                let rows: Vec<(i64, String, Vec<u8>, i64)> = sqlx::query_as(audit_svc::outbox::DUE)
                    .bind(micros(now))
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
                next_attempt: DateTime<Utc>,
                error: &str,
            ) -> Result<(), sqlx::Error> {
                let mut tx = self.pool.begin().await?;
                for seq in seqs {
                    sqlx::query(audit_svc::outbox::FAILED)
                        .bind(*seq)
                        .bind(micros(next_attempt))
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
