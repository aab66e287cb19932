//! The PostgreSQL store (production). Appends lock each tenant's chain head
//! row with `SELECT … FOR UPDATE` inside the insert transaction, so appends
//! from any number of replicas take consecutive sequences, and commit with
//! `synchronous_commit = on` whatever the server default. Several batches
//! commit at once, so PostgreSQL's own group commit shares WAL flushes.

use std::{str::FromStr, time::Duration};

use sqlx::{
    PgPool, Postgres, QueryBuilder,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use super::{
    ChainHead, EventFilter, EventRow, HEAD_SQL, INIT_HEAD_SQL, INSERT_CHUNK, Param, Store,
    TENANTS_SQL, by_tenant, insert_prefix, link_run, list_sql, push_event, range_sql, store_impl,
};
use crate::{
    Error,
    chain::GENESIS,
    event::{Appended, Event, EventBody},
};

/// Workers committing at once (for different tenants; see the committer).
const WRITERS: usize = 8;

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `postgres://…`; with `migrate`, brings the schema up to date.
    pub async fn open(url: &str, migrate: bool) -> Result<Self, Error> {
        // Durable commits whatever the server's default, set once per
        // connection rather than once per transaction.
        let options = PgConnectOptions::from_str(url)?.options([("synchronous_commit", "on")]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        if migrate {
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        }
        Ok(Self { pool })
    }
}

store_impl!(PostgresStore, {
    async fn ping(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Three round trips per tenant and batch: lock the head, insert the
    /// events and move the head in one statement, commit.
    async fn append(&self, events: &[EventBody]) -> Result<Vec<Appended>, Error> {
        let mut acks = vec![None; events.len()];
        let lock_head = format!("{HEAD_SQL} FOR UPDATE");
        let mut tx = self.pool.begin().await?;
        for (tenant, positions) in by_tenant(events) {
            let mut head: Option<(i64, String)> = sqlx::query_as(&lock_head)
                .bind(tenant)
                .fetch_optional(&mut *tx)
                .await?;
            if head.is_none() {
                // The tenant's first append; a racing first append waits here.
                sqlx::query(INIT_HEAD_SQL)
                    .bind(tenant)
                    .bind(GENESIS)
                    .execute(&mut *tx)
                    .await?;
                head = sqlx::query_as(&lock_head)
                    .bind(tenant)
                    .fetch_optional(&mut *tx)
                    .await?;
            }
            let head = head.expect("the head row exists now");
            let linked = link_run(head, events, &positions, &mut acks);
            let last = linked.last().expect("a tenant's run is never empty");
            let chunks: Vec<&[Event]> = linked.chunks(INSERT_CHUNK).collect();
            for (i, chunk) in chunks.iter().enumerate() {
                let mut insert = QueryBuilder::<Postgres>::new("");
                let moves_head = i + 1 == chunks.len();
                if moves_head {
                    insert.push("WITH inserted AS (");
                }
                insert.push(insert_prefix());
                insert.push_values(chunk.iter(), |mut row, e| push_event!(row, e));
                if moves_head {
                    insert
                        .push(" RETURNING 1) UPDATE audit_chain_heads SET last_sequence = ")
                        .push_bind(last.sequence as i64)
                        .push(", last_hash = ")
                        .push_bind(last.hash.clone())
                        .push(" WHERE tenant = ")
                        .push_bind(tenant.to_owned());
                }
                insert.build().execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(acks.into_iter().flatten().collect())
    }

    fn writers(&self) -> usize {
        WRITERS
    }
});
