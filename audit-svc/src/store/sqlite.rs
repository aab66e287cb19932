//! The SQLite store (the embedded default). Appends run in IMMEDIATE
//! transactions (the database's write lock is taken at BEGIN, so two appends
//! never read the same chain head), and the database syncs fully on every
//! commit.

use std::{str::FromStr, time::Duration};

use archive_common::{Clock, db};
use sqlx::{
    QueryBuilder, Sqlite, SqliteConnection,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use super::{
    Append, Attempt, Group, SqliteStore,
    appends::{StoredRow, finish, heads_map, insert_prefix, known_map},
    batch,
    reads::HEAD_SQL,
    schema,
};
use crate::{Error, event::Event};

/// Rows per multi-row INSERT (19 parameters each, well under SQLite's limit).
const INSERT_CHUNK: usize = 500;
/// Event ids per lookup.
const LOOKUP_CHUNK: usize = 500;

impl SqliteStore {
    /// Opens `sqlite://path`; with `migrate`, creates the file if needed and
    /// brings the schema up to date, otherwise the database must exist and
    /// be current.
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
        schema(db::Pool::Sqlite(pool.clone()), migrate).await?;
        Ok(Self::new(pool))
    }

    /// The stored events of `tenant` among `ids`.
    async fn known(
        tx: &mut SqliteConnection,
        tenant: &str,
        ids: &[&str],
    ) -> Result<Vec<StoredRow>, sqlx::Error> {
        let mut found = Vec::new();
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            // Without statistics SQLite would rather scan the tenant's whole
            // chain by primary key than probe the unique index once per id.
            let mut query = QueryBuilder::<Sqlite>::new(
                "SELECT tenant, event_id, sequence, hash, kind, actor_id, recording_id \
                 FROM audit_events INDEXED BY audit_events_by_event_id WHERE tenant = ",
            );
            query
                .push_bind(tenant.to_owned())
                .push(" AND event_id <> '' AND event_id IN (");
            let mut list = query.separated(", ");
            for id in chunk {
                list.push_bind(id.to_string());
            }
            query.push(")");
            found.extend(query.build_query_as().fetch_all(&mut *tx).await?);
        }
        Ok(found)
    }

    async fn insert(tx: &mut SqliteConnection, rows: &[Event]) -> Result<(), sqlx::Error> {
        for chunk in rows.chunks(INSERT_CHUNK) {
            let mut insert = QueryBuilder::<Sqlite>::new(insert_prefix());
            insert.push_values(chunk, |mut row, e| {
                let b = &e.body;
                row.push_bind(b.tenant.clone())
                    .push_bind(e.sequence as i64)
                    .push_bind(b.kind)
                    .push_bind(b.actor_id.clone())
                    .push_bind(b.actor_display_name.clone())
                    .push_bind(b.call_id.clone())
                    .push_bind(b.recording_id.clone())
                    .push_bind(b.reason.clone())
                    .push_bind(b.client_address.clone())
                    .push_bind(b.user_agent.clone())
                    .push_bind(b.event_time)
                    .push_bind(b.detail.clone())
                    .push_bind(e.previous_hash.clone())
                    .push_bind(e.hash.clone())
                    .push_bind(b.event_id.clone())
                    .push_bind(b.request_id.clone())
                    .push_bind(b.reason_code.clone())
                    .push_bind(b.case_id.clone())
                    .push_bind(i64::from(e.hash_version));
            });
            insert.build().execute(&mut *tx).await?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Append for SqliteStore {
    async fn try_append(&self, groups: &[&Group], clock: &dyn Clock) -> Result<Attempt, Error> {
        let ids = batch::event_ids(groups);
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut heads = Vec::new();
        let mut known = Vec::new();
        for tenant in batch::tenants(groups) {
            let head: Option<(i64, String)> = sqlx::query_as(HEAD_SQL)
                .bind(&tenant)
                .fetch_optional(&mut *tx)
                .await?;
            let tenant_ids: Vec<&str> = ids
                .iter()
                .filter(|(t, _)| *t == tenant)
                .map(|(_, id)| id.as_str())
                .collect();
            known.extend(Self::known(&mut tx, &tenant, &tenant_ids).await?);
            if let Some((sequence, hash)) = head {
                heads.push((tenant, sequence, hash));
            }
        }
        let plan = batch::plan(groups, heads_map(heads), known_map(known));
        Self::insert(&mut tx, &plan.rows).await?;
        finish(tx, groups, clock, plan.outcomes, None).await
    }

    fn writers(&self) -> usize {
        1
    }
}
