//! The audit outbox: how a service with a database of its own records the
//! audit event of a change IN THE CHANGE'S OWN TRANSACTION, and the relay that
//! delivers those events to audit-svc afterwards.
//!
//! Each such service (archive-svc, authz-svc) has an `audit_outbox` table of
//! the same shape on both backends, created by its own migrations:
//!
//! ```sql
//! audit_outbox (seq autoincrement primary key, tenant TEXT, event BLOB/BYTEA
//!               (a prost-encoded archive.v1.AuditEvent), attempts, next_attempt_us
//!               BIGINT, last_error TEXT)
//! ```
//!
//! Its stores insert with [`INSERT`] (or [`INSERT_INTO`] plus multi-row
//! values) in the transaction that makes the change, so a change that rolls
//! back leaves no event and a committed one always has its event. They
//! implement [`OutboxStore`] with [`DUE`], [`DELIVERED`], [`FAILED`] and
//! [`PENDING`] (sqlx takes `$N` on SQLite and PostgreSQL alike). The
//! [`Relay`] drains due rows in `seq` order to audit-svc's `AppendEvents`
//! and deletes what it acknowledged. Every event carries a fixed `event_id`,
//! and audit-svc appends an event id at most once per tenant, so delivering a
//! row twice (a crash between the append and the delete, two replicas'
//! relays) never duplicates an event.

mod context;
mod relay;
mod sql;
#[cfg(test)]
mod tests;

use archive_proto::v1::AuditEvent;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use context::{
    CASE_ID_MAX, CLIENT_ADDRESS_MAX, Change, Context, DETAIL_MAX, REASON_CODE_MAX, REASON_MAX,
    REQUEST_ID_MAX, USER_AGENT_MAX, bounded_detail, check_reason_code,
};
pub use relay::{Nudge, Pass, Relay};
pub use sql::SqlOutbox;

/// One event, written with the change: `$1` tenant, `$2` the encoded event,
/// `$3` when it is first due (the change's time, in µs).
pub const INSERT: &str = "INSERT INTO audit_outbox (tenant, event, attempts, next_attempt_us) \
     VALUES ($1, $2, 0, $3)";

/// The head of a multi-row insert (`QueryBuilder::push_values` with tenant,
/// event, 0, due µs per row), for changes that record many events at once.
pub const INSERT_INTO: &str =
    "INSERT INTO audit_outbox (tenant, event, attempts, next_attempt_us) ";

/// Up to `$2` rows due at `$1` (µs), oldest first. A tenant's rows wait
/// behind its oldest undelivered one while that is backing off, so the trail
/// receives each tenant's events in the order they were committed.
pub const DUE: &str = "SELECT o.seq, o.tenant, o.event, o.attempts FROM audit_outbox o \
     WHERE o.next_attempt_us <= $1 AND NOT EXISTS (SELECT 1 FROM audit_outbox b \
     WHERE b.tenant = o.tenant AND b.seq < o.seq AND b.next_attempt_us > $1) \
     ORDER BY o.seq LIMIT $2";

/// audit-svc has the event (`$1` = seq): the row goes.
pub const DELIVERED: &str = "DELETE FROM audit_outbox WHERE seq = $1";

/// Delivery of row `$1` failed: try again at `$2` (µs), keep the error `$3`.
pub const FAILED: &str = "UPDATE audit_outbox SET attempts = attempts + 1, next_attempt_us = $2, \
     last_error = $3 WHERE seq = $1";

/// Rows not yet delivered.
pub const PENDING: &str = "SELECT COUNT(*) FROM audit_outbox";

/// Most events the relay sends in one `AppendEvents` call (and reads per pass).
pub const MAX_EVENTS_PER_APPEND: usize = 500;

/// An outbox row waiting for delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub seq: i64,
    pub tenant: String,
    /// The decoded event, or why the stored bytes do not decode (such a row
    /// is kept, marked failed, and never holds back the others for long).
    pub event: Result<AuditEvent, String>,
    /// Failed deliveries so far.
    pub attempts: u32,
}

impl Pending {
    /// A row as [`DUE`] selects it (seq, tenant, attempts), with its event
    /// as the store decoded the stored bytes (`AuditEvent::decode`).
    pub fn from_row(
        (seq, tenant, attempts): (i64, String, i64),
        event: Result<AuditEvent, String>,
    ) -> Self {
        Self {
            seq,
            tenant,
            event,
            attempts: attempts.clamp(0, u32::MAX.into()) as u32,
        }
    }
}

/// What a service's store offers the relay. Each method is one short
/// transaction of its own (the events were written with their changes).
#[async_trait]
pub trait OutboxStore: Send + Sync + 'static {
    /// Up to `limit` rows due at `now`, in `seq` order ([`DUE`]).
    async fn due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Pending>, sqlx::Error>;
    /// Removes delivered rows ([`DELIVERED`]).
    async fn delivered(&self, seqs: &[i64]) -> Result<(), sqlx::Error>;
    /// Counts a failed attempt and defers the rows to `next_attempt` ([`FAILED`]).
    async fn failed(
        &self,
        seqs: &[i64],
        next_attempt: DateTime<Utc>,
        error: &str,
    ) -> Result<(), sqlx::Error>;
    /// How many rows wait ([`PENDING`]), for the metric.
    async fn pending(&self) -> Result<u64, sqlx::Error>;
}
