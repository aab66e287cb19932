//! The store's audit outbox (`audit_svc::outbox`): writing a change's events
//! inside the change's transaction (the relay reads them back through
//! `audit_svc::outbox::SqlOutbox`). [`outbox_impl!`] instantiates it for a
//! concrete pool type, like `sql.rs` does for the calls.

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
    };
}

pub(super) use outbox_impl;
