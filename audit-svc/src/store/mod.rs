//! Where the audit trail lives: one small trait, one SQLite and one PostgreSQL
//! implementation sharing the SQL text and the chaining below (sqlx takes `$n`
//! placeholders on both backends).

mod postgres;
mod sqlite;

use std::{collections::BTreeMap, sync::Arc};

use async_trait::async_trait;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use crate::{
    Error, chain,
    event::{Appended, Event, EventBody},
};

/// The end of a tenant's chain.
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
}

/// The audit events of every tenant; reads are scoped to one tenant.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Answers when the database does (readiness).
    async fn ping(&self) -> Result<(), Error>;

    /// Appends `events` in order, each at the end of its tenant's chain, in one
    /// transaction that holds each tenant's chain head locked; answers (in
    /// input order) only once the transaction is durably committed.
    async fn append(&self, events: &[EventBody]) -> Result<Vec<Appended>, Error>;

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

    async fn head(&self, tenant: &str) -> Result<Option<ChainHead>, Error>;

    /// Every tenant with a trail, sorted (the checkpointer signs each).
    async fn tenants(&self) -> Result<Vec<String>, Error>;

    /// How many append transactions are worth running at once, for different
    /// tenants (SQLite has a single writer; PostgreSQL commits in parallel).
    fn writers(&self) -> usize;
}

/// Connects by URL and brings the schema up to date (the service).
pub async fn open(url: &str) -> Result<Arc<dyn Store>, Error> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url, true).await?))
    } else {
        Ok(Arc::new(PostgresStore::open(url, true).await?))
    }
}

/// Connects to an existing audit database without changing it (the `verify` tool).
pub async fn connect_existing(url: &str) -> Result<Arc<dyn Store>, Error> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url, false).await?))
    } else {
        Ok(Arc::new(PostgresStore::open(url, false).await?))
    }
}

const COLUMNS: &str = "tenant, sequence, kind, actor_id, actor_display_name, call_id, \
     recording_id, reason, client_address, user_agent, event_time, detail, previous_hash, hash";

/// Events per multi-row INSERT (14 parameters each, well under both backends' limits).
const INSERT_CHUNK: usize = 500;

const INIT_HEAD_SQL: &str = "INSERT INTO audit_chain_heads (tenant, last_sequence, last_hash) \
     VALUES ($1, 0, $2) ON CONFLICT (tenant) DO NOTHING";
const HEAD_SQL: &str = "SELECT last_sequence, last_hash FROM audit_chain_heads WHERE tenant = $1";
const TENANTS_SQL: &str = "SELECT tenant FROM audit_chain_heads ORDER BY tenant";
const UPDATE_HEAD_SQL: &str =
    "UPDATE audit_chain_heads SET last_sequence = $2, last_hash = $3 WHERE tenant = $1";

fn insert_prefix() -> String {
    format!("INSERT INTO audit_events ({COLUMNS}) ")
}

fn range_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM audit_events WHERE tenant = $1 AND sequence >= $2 \
         AND sequence <= $3 ORDER BY sequence LIMIT $4"
    )
}

/// A bind parameter of a dynamically built query.
enum Param {
    Text(String),
    Int(i64),
}

/// The ListEvents query: only the filters in use appear, so each shape can use its index.
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
    params.push(Param::Int(i64::from(limit)));
    sql.push_str(&format!(" ORDER BY sequence DESC LIMIT ${}", params.len()));
    (sql, params)
}

/// The positions of `events` grouped by tenant, tenants in a fixed (sorted)
/// order so concurrent batches lock chain heads in the same order and cannot deadlock.
fn by_tenant(events: &[EventBody]) -> BTreeMap<&str, Vec<usize>> {
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        groups.entry(e.tenant.as_str()).or_default().push(i);
    }
    groups
}

/// Links one tenant's share of a batch after its locked head, recording the
/// acknowledgements in `acks` at the events' positions.
fn link_run(
    head: (i64, String),
    events: &[EventBody],
    positions: &[usize],
    acks: &mut [Option<Appended>],
) -> Vec<Event> {
    let mut previous = (head.0 as u64, head.1);
    let mut linked = Vec::with_capacity(positions.len());
    for &i in positions {
        let event = chain::link((previous.0, &previous.1), events[i].clone());
        previous = (event.sequence, event.hash.clone());
        acks[i] = Some(Appended {
            sequence: event.sequence,
            hash: event.hash.clone(),
        });
        linked.push(event);
    }
    linked
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
            },
            previous_hash: r.previous_hash,
            hash: r.hash,
        }
    }
}

/// Binds one event's columns, in [`COLUMNS`] order, on either backend's
/// `QueryBuilder` separated list.
macro_rules! push_event {
    ($row:expr, $e:expr) => {{
        let e: &crate::event::Event = $e;
        let b = &e.body;
        $row.push_bind(b.tenant.clone())
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
            .push_bind(e.hash.clone());
    }};
}
use push_event;

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
                Ok(sqlx::query_scalar(TENANTS_SQL).fetch_all(&self.pool).await?)
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
    }

    #[test]
    fn batches_group_by_tenant_in_sorted_order() {
        let body = |tenant: &str| EventBody {
            tenant: tenant.into(),
            kind: 1,
            actor_id: String::new(),
            actor_display_name: String::new(),
            call_id: String::new(),
            recording_id: String::new(),
            reason: String::new(),
            client_address: String::new(),
            user_agent: String::new(),
            event_time: 0,
            detail: String::new(),
        };
        let events = [body("b"), body("a"), body("b")];
        let groups: Vec<(&str, Vec<usize>)> = by_tenant(&events).into_iter().collect();
        assert_eq!(groups, [("a", vec![1]), ("b", vec![0, 2])]);
        let mut acks = vec![None; 3];
        let linked = link_run((4, "h".repeat(64)), &events, &[0, 2], &mut acks);
        assert_eq!(linked[0].sequence, 5);
        assert_eq!(linked[1].previous_hash, linked[0].hash);
        assert_eq!(acks[2].as_ref().unwrap().sequence, 6);
        assert!(acks[1].is_none());
    }
}
