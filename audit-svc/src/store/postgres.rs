//! The PostgreSQL store (production). An append transaction takes each of
//! its tenants' advisory lock (`pg_advisory_xact_lock` on
//! [`tenant_lock_key`], in key order, so two batches never wait on each other
//! crosswise), reads the tenants' last events as their heads, so appends from
//! any number of replicas take consecutive sequences, and inserts every row
//! in one statement. Nothing is ever updated: the runtime role needs only
//! SELECT and INSERT. Connections commit with `synchronous_commit = on`
//! whatever the server default, and with `idle_in_transaction_session_timeout`
//! = [`COMMIT_BOUND`], so a transaction a frozen audit-svc leaves open is
//! aborted by the server instead of committing late. Several batches commit
//! at once, so PostgreSQL's own group commit shares WAL flushes.
//!
//! Four round trips per batch, as many as with the chain-head table before:
//! BEGIN with the locks, the heads with the stored events of the batch's
//! event ids, the insert, COMMIT (after the deadline check).

use std::{str::FromStr, time::Duration};

use archive_common::{
    Clock,
    db::{self, grant_runtime_role},
};
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::{
    Append, Attempt, Group, PostgresStore,
    appends::{StoredRow, finish, heads_map, insert_prefix, known_map},
    batch, schema,
};
use crate::{Error, client::COMMIT_BOUND, event::Event};

/// Workers committing at once (for different tenants; see the committer).
const WRITERS: usize = 8;

/// What audit-svc's runtime role is granted (besides what every runtime role gets).
pub const RUNTIME_GRANTS: &[&str] = &["SELECT, INSERT ON audit_events"];

/// Read under the locks (a statement of its own: its snapshot must be taken
/// after they are held): each tenant's last event through the primary key
/// backwards (the rows with an empty event id), and the stored events of the
/// batch's event ids, one probe of the partial unique index each (LATERAL …
/// LIMIT 1 keeps them probes, never a join over the whole trail).
const TAILS_SQL: &str = "SELECT t.tenant, '' AS event_id, h.sequence, h.hash, 0 AS kind, \
         '' AS actor_id, '' AS recording_id \
     FROM unnest($1::text[]) AS t(tenant) \
     CROSS JOIN LATERAL (SELECT sequence, hash FROM audit_events e \
         WHERE e.tenant = t.tenant ORDER BY sequence DESC LIMIT 1) AS h \
     UNION ALL \
     SELECT k.tenant, k.event_id, e.sequence, e.hash, e.kind, e.actor_id, e.recording_id \
     FROM unnest($2::text[], $3::text[]) AS k(tenant, event_id) \
     CROSS JOIN LATERAL (SELECT sequence, hash, kind, actor_id, recording_id \
         FROM audit_events e WHERE e.tenant = k.tenant AND e.event_id = k.event_id \
         AND e.event_id <> '' LIMIT 1) AS e";

/// The advisory lock key of `tenant`'s appends: the first 8 bytes of
/// SHA-256(`archive.v1.audit-append/` + tenant), big-endian. Computed here
/// rather than by the server so the keys go into the BEGIN round trip as
/// plain integers. A collision only makes two tenants wait for each other.
pub fn tenant_lock_key(tenant: &str) -> i64 {
    let digest = Sha256::new()
        .chain_update(b"archive.v1.audit-append/")
        .chain_update(tenant.as_bytes())
        .finalize();
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// BEGIN, then the tenants' locks in key order, in one round trip.
fn begin_locked(tenants: &[String]) -> String {
    let mut keys: Vec<i64> = tenants.iter().map(|t| tenant_lock_key(t)).collect();
    keys.sort_unstable();
    keys.dedup();
    // The append's statements are index probes and one insert whatever the
    // batch: planned once per connection (custom plans, which PostgreSQL
    // would otherwise keep making because the arrays' lengths change the
    // estimates, cost more than they save on every batch), and never as a
    // scan, even when that plan is made on a table still nearly empty and
    // then kept while the trail grows. Only here: ListEvents plans as usual.
    let mut sql = "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan; \
                   SET LOCAL enable_seqscan = off;"
        .to_owned();
    for key in keys {
        sql.push_str(&format!(" SELECT pg_advisory_xact_lock({key});"));
    }
    sql
}

/// Every row in one statement, whatever the batch size, so one prepared
/// statement serves every batch.
const INSERT_SQL_TAIL: &str = "SELECT * FROM unnest($1::text[], $2::int8[], $3::int4[], \
     $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], \
     $11::int8[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], \
     $17::text[], $18::text[], $19::int2[])";

impl PostgresStore {
    /// Connects to `postgres://…`; with `migrate`, brings the schema up to
    /// date, otherwise checks that it is.
    pub async fn open(url: &str, migrate: bool) -> Result<Self, Error> {
        // Set once per connection rather than once per transaction.
        let idle_ms = COMMIT_BOUND.as_millis().to_string();
        let options = PgConnectOptions::from_str(url)?.options([
            ("synchronous_commit", "on"),
            ("idle_in_transaction_session_timeout", idle_ms.as_str()),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // A request waits this long for a connection in an outage, then is UNAVAILABLE.
            .acquire_timeout(db::ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        schema(db::Pool::Postgres(pool.clone()), migrate).await?;
        Ok(Self::new(pool))
    }

    /// Grants `role` what audit-svc's runtime role needs ([`RUNTIME_GRANTS`]).
    pub async fn grant_runtime_role(&self, role: &str) -> Result<(), Error> {
        grant_runtime_role(&self.pool, role, RUNTIME_GRANTS).await?;
        Ok(())
    }

    /// Test hook: every append stalls this long after its deadline check,
    /// just before COMMIT, as a frozen process would.
    #[doc(hidden)]
    pub fn stall_before_commit(mut self, stall: Duration) -> Self {
        self.stall_before_commit = Some(stall);
        self
    }

    async fn insert(tx: &mut sqlx::PgConnection, rows: &[Event]) -> Result<(), sqlx::Error> {
        fn column<T>(rows: &[Event], f: impl Fn(&Event) -> T) -> Vec<T> {
            rows.iter().map(f).collect()
        }
        sqlx::query(&format!("{}{INSERT_SQL_TAIL}", insert_prefix()))
            .bind(column(rows, |e| e.body.tenant.clone()))
            .bind(column(rows, |e| e.sequence as i64))
            .bind(column(rows, |e| e.body.kind))
            .bind(column(rows, |e| e.body.actor_id.clone()))
            .bind(column(rows, |e| e.body.actor_display_name.clone()))
            .bind(column(rows, |e| e.body.call_id.clone()))
            .bind(column(rows, |e| e.body.recording_id.clone()))
            .bind(column(rows, |e| e.body.reason.clone()))
            .bind(column(rows, |e| e.body.client_address.clone()))
            .bind(column(rows, |e| e.body.user_agent.clone()))
            .bind(column(rows, |e| e.body.event_time))
            .bind(column(rows, |e| e.body.detail.clone()))
            .bind(column(rows, |e| e.previous_hash.clone()))
            .bind(column(rows, |e| e.hash.clone()))
            .bind(column(rows, |e| e.body.event_id.clone()))
            .bind(column(rows, |e| e.body.request_id.clone()))
            .bind(column(rows, |e| e.body.reason_code.clone()))
            .bind(column(rows, |e| e.body.case_id.clone()))
            .bind(column(rows, |e| e.hash_version as i16))
            .execute(tx)
            .await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl Append for PostgresStore {
    async fn try_append(&self, groups: &[&Group], clock: &dyn Clock) -> Result<Attempt, Error> {
        let tenants = batch::tenants(groups);
        let (id_tenants, ids): (Vec<String>, Vec<String>) =
            batch::event_ids(groups).into_iter().unzip();
        let mut tx = self.pool.begin_with(begin_locked(&tenants)).await?;
        let tails: Vec<StoredRow> = sqlx::query_as(TAILS_SQL)
            .bind(&tenants)
            .bind(&id_tenants)
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await?;
        let (heads, known): (Vec<StoredRow>, Vec<StoredRow>) =
            tails.into_iter().partition(|row| row.event_id.is_empty());
        let heads = heads
            .into_iter()
            .map(|row| (row.tenant, row.sequence, row.hash))
            .collect();
        let plan = batch::plan(groups, heads_map(heads), known_map(known));
        if !plan.rows.is_empty() {
            Self::insert(&mut tx, &plan.rows).await?;
        }
        finish(tx, groups, clock, plan.outcomes, self.stall_before_commit).await
    }

    fn writers(&self) -> usize {
        WRITERS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_are_taken_in_key_order_once_each() {
        let a = tenant_lock_key("10009");
        let b = tenant_lock_key("10010");
        assert_ne!(a, b);
        assert_eq!(a, tenant_lock_key("10009"), "the same on every replica");
        let (low, high) = (a.min(b), a.max(b));
        assert_eq!(
            begin_locked(&["10010".into(), "10009".into(), "10010".into()]),
            format!(
                "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan; \
                 SET LOCAL enable_seqscan = off; \
                 SELECT pg_advisory_xact_lock({low}); SELECT pg_advisory_xact_lock({high});"
            )
        );
    }
}
