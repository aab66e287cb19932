//! The store's audit outbox (`audit_svc::outbox`): writing a change's events
//! inside the change's transaction (the relay reads them back through
//! `audit_svc::outbox::SqlOutbox`).

use prost::Message as _;
use sqlx::{Database, Encode, Executor, IntoArguments, Transaction, Type};

use super::{StoreError, sql::ROWS_PER_STATEMENT, statement::Statement};

/// Writes `events` of `tenant` to the outbox in `tx`, due at `due`.
pub(super) async fn write_events<DB>(
    tx: &mut Transaction<'_, DB>,
    tenant: &str,
    events: &[archive_proto::v1::AuditEvent],
    due: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
{
    for chunk in events.chunks(ROWS_PER_STATEMENT) {
        let mut qb = Statement::<DB>::new(audit_svc::outbox::INSERT_INTO);
        qb.push_values(chunk, |b, event| {
            b.push_bind(tenant.to_owned())
                .push_bind(event.encode_to_vec())
                .push_bind(0_i64)
                .push_bind(due.timestamp_micros());
        });
        let (sql, args) = qb.into_parts();
        sqlx::query_with(&sql, args).execute(&mut **tx).await?;
    }
    Ok(())
}
