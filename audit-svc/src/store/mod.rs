//! Where the audit trail lives: one small trait, one SQLite and one PostgreSQL
//! implementation sharing the SQL text, the reads and the batch logic in
//! [`batch`] (sqlx takes `$n` placeholders on both backends).
//!
//! An append transaction takes its tenants' locks (`pg_advisory_xact_lock`
//! on PostgreSQL, the database's write lock on SQLite), reads each tenant's
//! last event as the head of its chain, and inserts: the runtime role needs
//! nothing beyond SELECT and INSERT on `audit_events`.

mod batch;
mod postgres;
mod sqlite;

use std::{collections::HashMap, sync::Arc};

use archive_common::{
    Clock, SystemClock,
    db::{self, prepare_schema},
};
use async_trait::async_trait;
use sqlx::migrate::Migrator;

pub use batch::{Attempt, Group, GroupOutcome};
pub use postgres::{PostgresStore, RUNTIME_GRANTS, tenant_lock_key};
pub use sqlite::SqliteStore;

use crate::{
    Error,
    event::{Appended, Event, EventBody},
};

/// The end of a tenant's chain: its last event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub last_sequence: u64,
    pub last_hash: String,
}

/// ListEvents filters; `None` means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Inclusive, microseconds.
    pub time_from: Option<i64>,
    /// Exclusive, microseconds.
    pub time_to: Option<i64>,
    pub actor_id: Option<String>,
    pub recording_id: Option<String>,
    pub kind: Option<i32>,
    pub call_id: Option<String>,
    pub reason_code: Option<String>,
    pub case_id: Option<String>,
    pub request_id: Option<String>,
}

/// The audit events of every tenant; reads are scoped to one tenant.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Answers when the database does (readiness).
    async fn ping(&self) -> Result<(), Error>;

    /// One transaction for `groups` (see [`batch`]): takes the locks of their
    /// tenants, places each group after its tenants' last events (or answers
    /// its stored receipts, or refuses it), inserts, and then, just before
    /// COMMIT, rolls everything back if a group's deadline has passed by
    /// `clock` ([`Attempt::Expired`]). Answers only once the commit is
    /// durable. Callers use `append_groups` (on `dyn Store`), which re-runs it.
    async fn try_append(&self, groups: &[&Group], clock: &dyn Clock) -> Result<Attempt, Error>;

    /// Newest first: events matching `filter` with a sequence below `before`
    /// (all when `None`), at most `limit`.
    async fn list(
        &self,
        tenant: &str,
        filter: &EventFilter,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Event>, Error>;

    /// Oldest first: events with `from <= sequence <= to`, at most `limit`.
    async fn range(
        &self,
        tenant: &str,
        from: u64,
        to: u64,
        limit: u32,
    ) -> Result<Vec<Event>, Error>;

    /// The tenant's last event (`None` before its first).
    async fn head(&self, tenant: &str) -> Result<Option<ChainHead>, Error>;

    /// Every tenant with at least one event, sorted.
    async fn tenants(&self) -> Result<Vec<String>, Error>;

    /// How many append transactions are worth running at once, for different
    /// tenants (SQLite has a single writer; PostgreSQL commits in parallel).
    fn writers(&self) -> usize;
}

impl dyn Store {
    /// Appends `groups`, each all or none, in as few transactions as it
    /// takes: groups whose deadline has passed are answered
    /// [`Error::DeadlineExceeded`] before the transaction starts and, when
    /// one passes during it, the transaction is rolled back and run again
    /// without them. One outcome per group, in order; `Err` only when the
    /// transaction failed as a whole.
    pub async fn append_groups(
        &self,
        groups: &[Group],
        clock: &dyn Clock,
    ) -> Result<Vec<GroupOutcome>, Error> {
        let mut outcomes: Vec<Option<GroupOutcome>> = (0..groups.len()).map(|_| None).collect();
        let now = clock.now();
        let mut live: Vec<usize> = Vec::with_capacity(groups.len());
        for (i, group) in groups.iter().enumerate() {
            if group.expired(now) {
                outcomes[i] = Some(Err(Error::DeadlineExceeded));
            } else {
                live.push(i);
            }
        }
        while !live.is_empty() {
            let attempt: Vec<&Group> = live.iter().map(|&i| &groups[i]).collect();
            match self.try_append(&attempt, clock).await? {
                Attempt::Committed(results) => {
                    for (&i, result) in live.iter().zip(results) {
                        outcomes[i] = Some(result);
                    }
                    break;
                }
                Attempt::Expired(positions) => {
                    for &p in &positions {
                        outcomes[live[p]] = Some(Err(Error::DeadlineExceeded));
                    }
                    let mut position = 0;
                    live.retain(|_| {
                        let keep = !positions.contains(&position);
                        position += 1;
                        keep
                    });
                }
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.expect("every group is answered"))
            .collect())
    }

    /// Appends `events` as one group without a deadline (tools, tests,
    /// benches): their receipts, or the group's refusal.
    pub async fn append(&self, events: &[EventBody]) -> Result<Vec<Appended>, Error> {
        let group = Group {
            events: events.to_vec(),
            deadline: None,
        };
        self.append_groups(std::slice::from_ref(&group), &SystemClock)
            .await?
            .pop()
            .expect("one group, one outcome")
    }
}

/// The service name schema errors name (`audit-svc migrate`).
const SERVICE: &str = "audit-svc";
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Connects by URL for the service: with `migrate`, brings the schema up to
/// date (the owner's `migrate` step, the embedded suite); otherwise checks it
/// is current and fails naming `audit-svc migrate` if not.
pub async fn open(url: &str, migrate: bool) -> Result<Arc<dyn Store>, Error> {
    if url.starts_with("sqlite:") {
        let store = SqliteStore::open(url, migrate).await?;
        Ok(Arc::new(store))
    } else {
        let store = PostgresStore::open(url, migrate).await?;
        Ok(Arc::new(store))
    }
}

/// Connects to an existing, current audit database without changing it
/// (the `audit-verify` tool): never migrates, never creates a file.
pub async fn connect_existing(url: &str) -> Result<Arc<dyn Store>, Error> {
    open(url, false).await
}

/// Applies or checks the backend's migrations on `pool`.
async fn schema(pool: db::Pool, migrate: bool) -> Result<(), Error> {
    let migrator = match pool {
        db::Pool::Sqlite(_) => &SQLITE_MIGRATIONS,
        db::Pool::Postgres(_) => &POSTGRES_MIGRATIONS,
    };
    prepare_schema(&pool, migrator, migrate, SERVICE).await?;
    Ok(())
}

const COLUMNS: &str = "tenant, sequence, kind, actor_id, actor_display_name, call_id, \
     recording_id, reason, client_address, user_agent, event_time, detail, previous_hash, hash, \
     event_id, request_id, reason_code, case_id, hash_version";

const HEAD_SQL: &str = "SELECT sequence, hash FROM audit_events WHERE tenant = $1 \
     ORDER BY sequence DESC LIMIT 1";

/// Distinct tenants by skipping through the primary key (a loose index
/// scan), not by reading every event.
const TENANTS_SQL: &str = "WITH RECURSIVE t(tenant) AS ( \
         SELECT min(tenant) FROM audit_events \
         UNION ALL \
         SELECT (SELECT min(tenant) FROM audit_events WHERE tenant > t.tenant) \
         FROM t WHERE t.tenant IS NOT NULL) \
     SELECT tenant FROM t WHERE tenant IS NOT NULL";

fn insert_prefix() -> String {
    format!("INSERT INTO audit_events ({COLUMNS}) ")
}

fn range_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM audit_events WHERE tenant = $1 AND sequence >= $2 \
         AND sequence <= $3 ORDER BY sequence LIMIT $4"
    )
}

/// Heads as the backends read them into [`batch::plan`].
fn heads_map(rows: Vec<(String, i64, String)>) -> HashMap<String, (u64, String)> {
    rows.into_iter()
        .map(|(tenant, sequence, hash)| (tenant, (sequence as u64, hash)))
        .collect()
}

/// A stored event found by its event id.
#[derive(sqlx::FromRow)]
struct StoredRow {
    tenant: String,
    event_id: String,
    sequence: i64,
    hash: String,
    kind: i32,
    actor_id: String,
    recording_id: String,
}

fn known_map(rows: Vec<StoredRow>) -> HashMap<batch::IdKey, batch::Stored> {
    rows.into_iter()
        .map(|r| {
            (
                (r.tenant, r.event_id),
                batch::Stored {
                    sequence: r.sequence as u64,
                    hash: r.hash,
                    kind: r.kind,
                    actor_id: r.actor_id,
                    recording_id: r.recording_id,
                },
            )
        })
        .collect()
}

/// A bind parameter of a dynamically built query.
enum Param {
    Text(String),
    Int(i64),
}

/// The ListEvents query: only the filters in use appear, so each shape can
/// use its index. The text filters of the newer columns repeat their partial
/// index's `<> ''` so both planners see that the index applies.
fn list_sql(
    tenant: &str,
    filter: &EventFilter,
    before: Option<u64>,
    limit: u32,
) -> (String, Vec<Param>) {
    let mut sql = format!("SELECT {COLUMNS} FROM audit_events WHERE tenant = $1");
    let mut params = vec![Param::Text(tenant.to_owned())];
    let mut add = |clause: &str, param: Param| {
        params.push(param);
        sql.push_str(&format!(" AND {clause} ${}", params.len()));
    };
    if let Some(before) = before {
        add("sequence <", Param::Int(before as i64));
    }
    if let Some(from) = filter.time_from {
        add("event_time >=", Param::Int(from));
    }
    if let Some(to) = filter.time_to {
        add("event_time <", Param::Int(to));
    }
    if let Some(actor) = &filter.actor_id {
        add("actor_id =", Param::Text(actor.clone()));
    }
    if let Some(recording) = &filter.recording_id {
        add("recording_id =", Param::Text(recording.clone()));
    }
    if let Some(kind) = filter.kind {
        add("kind =", Param::Int(i64::from(kind)));
    }
    for (column, value) in [
        ("call_id", &filter.call_id),
        ("reason_code", &filter.reason_code),
        ("case_id", &filter.case_id),
        ("request_id", &filter.request_id),
    ] {
        if let Some(value) = value {
            add(
                &format!("{column} <> '' AND {column} ="),
                Param::Text(value.clone()),
            );
        }
    }
    params.push(Param::Int(i64::from(limit)));
    sql.push_str(&format!(" ORDER BY sequence DESC LIMIT ${}", params.len()));
    (sql, params)
}

/// An `audit_events` row as both backends return it.
#[derive(sqlx::FromRow)]
struct EventRow {
    tenant: String,
    sequence: i64,
    kind: i32,
    actor_id: String,
    actor_display_name: String,
    call_id: String,
    recording_id: String,
    reason: String,
    client_address: String,
    user_agent: String,
    event_time: i64,
    detail: String,
    previous_hash: String,
    hash: String,
    event_id: String,
    request_id: String,
    reason_code: String,
    case_id: String,
    hash_version: i16,
}

impl From<EventRow> for Event {
    fn from(r: EventRow) -> Self {
        Self {
            sequence: r.sequence as u64,
            body: EventBody {
                tenant: r.tenant,
                kind: r.kind,
                actor_id: r.actor_id,
                actor_display_name: r.actor_display_name,
                call_id: r.call_id,
                recording_id: r.recording_id,
                reason: r.reason,
                client_address: r.client_address,
                user_agent: r.user_agent,
                event_time: r.event_time,
                detail: r.detail,
                event_id: r.event_id,
                request_id: r.request_id,
                reason_code: r.reason_code,
                case_id: r.case_id,
            },
            previous_hash: r.previous_hash,
            hash: r.hash,
            // A negative version is no version this build knows, like any other.
            hash_version: u16::try_from(r.hash_version).unwrap_or(u16::MAX),
        }
    }
}

/// `impl Store for $store`: the backend's own methods as given, plus the
/// reads, which are the same SQL and binds on both backends and written once
/// here (each store's `self.pool` differs in type, so the macro, not a generic).
macro_rules! store_impl {
    ($store:ty, { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl Store for $store {
            $($own)*

            async fn list(
                &self,
                tenant: &str,
                filter: &EventFilter,
                before: Option<u64>,
                limit: u32,
            ) -> Result<Vec<Event>, Error> {
                let (sql, params) = list_sql(tenant, filter, before, limit);
                let mut query = sqlx::query_as::<_, EventRow>(&sql);
                for param in params {
                    query = match param {
                        Param::Text(v) => query.bind(v),
                        Param::Int(v) => query.bind(v),
                    };
                }
                let rows = query.fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(Event::from).collect())
            }

            async fn range(
                &self,
                tenant: &str,
                from: u64,
                to: u64,
                limit: u32,
            ) -> Result<Vec<Event>, Error> {
                let rows = sqlx::query_as::<_, EventRow>(&range_sql())
                    .bind(tenant)
                    .bind(from as i64)
                    .bind(to.min(i64::MAX as u64) as i64)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(Event::from).collect())
            }

            async fn head(&self, tenant: &str) -> Result<Option<ChainHead>, Error> {
                let head: Option<(i64, String)> = sqlx::query_as(HEAD_SQL)
                    .bind(tenant)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(head.map(|(sequence, hash)| ChainHead {
                    last_sequence: sequence as u64,
                    last_hash: hash,
                }))
            }

            async fn tenants(&self) -> Result<Vec<String>, Error> {
                let rows: Vec<(String,)> = sqlx::query_as(TENANTS_SQL)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(|(tenant,)| tenant).collect())
            }
        }
    };
}
use store_impl;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_sql_numbers_only_the_filters_in_use() {
        let (sql, params) = list_sql("10009", &EventFilter::default(), None, 10);
        assert!(
            sql.ends_with("WHERE tenant = $1 ORDER BY sequence DESC LIMIT $2"),
            "{sql}"
        );
        assert_eq!(params.len(), 2);
        let filter = EventFilter {
            actor_id: Some("paal".into()),
            kind: Some(3),
            ..Default::default()
        };
        let (sql, params) = list_sql("10009", &filter, Some(7), 10);
        assert!(
            sql.contains(
                "sequence < $2 AND actor_id = $3 AND kind = $4 ORDER BY sequence DESC LIMIT $5"
            ),
            "{sql}"
        );
        assert_eq!(params.len(), 5);
        let filter = EventFilter {
            case_id: Some("CASE-7".into()),
            request_id: Some("req-1".into()),
            ..Default::default()
        };
        let (sql, params) = list_sql("10009", &filter, None, 10);
        assert!(
            sql.contains(
                "case_id <> '' AND case_id = $2 AND request_id <> '' AND request_id = $3 \
                 ORDER BY sequence DESC LIMIT $4"
            ),
            "{sql}"
        );
        assert_eq!(params.len(), 4);
    }
}
