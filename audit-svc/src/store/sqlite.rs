//! The SQLite store (the embedded default). Appends run in IMMEDIATE
//! transactions (the write lock is taken at BEGIN, so two appends never read
//! the same chain head), and the database syncs fully on every commit.

use std::{str::FromStr, time::Duration};

use sqlx::{
    QueryBuilder, Sqlite, SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use super::{
    ChainHead, EventFilter, EventRow, HEAD_SQL, INIT_HEAD_SQL, INSERT_CHUNK, Param, Store,
    TENANTS_SQL, UPDATE_HEAD_SQL, by_tenant, insert_prefix, link_run, list_sql, push_event,
    range_sql, store_impl,
};
use crate::{
    Error,
    chain::GENESIS,
    event::{Appended, Event, EventBody},
};

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens `sqlite://path`; with `migrate`, creates the file if needed and
    /// brings the schema up to date, otherwise the database must exist.
    pub async fn open(url: &str, migrate: bool) -> Result<Self, Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(migrate)
            .journal_mode(SqliteJournalMode::Wal)
            // An acknowledged audit event must survive an OS crash or power loss.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        if migrate {
            sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        }
        Ok(Self { pool })
    }
}

store_impl!(SqliteStore, {
    async fn ping(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn append(&self, events: &[EventBody]) -> Result<Vec<Appended>, Error> {
        let mut acks = vec![None; events.len()];
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for (tenant, positions) in by_tenant(events) {
            sqlx::query(INIT_HEAD_SQL)
                .bind(tenant)
                .bind(GENESIS)
                .execute(&mut *tx)
                .await?;
            let head: (i64, String) = sqlx::query_as(HEAD_SQL)
                .bind(tenant)
                .fetch_one(&mut *tx)
                .await?;
            let linked = link_run(head, events, &positions, &mut acks);
            for chunk in linked.chunks(INSERT_CHUNK) {
                let mut insert = QueryBuilder::<Sqlite>::new(insert_prefix());
                insert.push_values(chunk, |mut row, e| push_event!(row, e));
                insert.build().execute(&mut *tx).await?;
            }
            let last = linked.last().expect("a tenant's run is never empty");
            sqlx::query(UPDATE_HEAD_SQL)
                .bind(tenant)
                .bind(last.sequence as i64)
                .bind(&last.hash)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(acks.into_iter().flatten().collect())
    }

    fn writers(&self) -> usize {
        1
    }
});
