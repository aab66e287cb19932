//! Where the audit trail lives: one small trait, implemented once by
//! [`SqlStore`], generic over the sqlx database: the reads are the same SQL
//! on both backends ([`reads`]; sqlx takes `$n` on both), the batch logic is
//! [`batch`], and only the append transaction is each backend's own
//! ([`Append`]: `sqlite`, `postgres`).
//!
//! An append transaction takes its tenants' locks (`pg_advisory_xact_lock`
//! on PostgreSQL, the database's write lock on SQLite), reads each tenant's
//! last event as the head of its chain, and inserts: the runtime role needs
//! nothing beyond SELECT and INSERT on `audit_events`.

mod appends;
mod batch;
mod postgres;
mod reads;
mod sqlite;

use std::{sync::Arc, time::Duration};

use archive_common::{
    Clock, SystemClock,
    db::{self, prepare_schema},
};
use async_trait::async_trait;
use sqlx::{Database, Pool, Postgres, Sqlite, migrate::Migrator};

pub use appends::Append;
pub use batch::{Attempt, Group, GroupOutcome};
pub use postgres::{RUNTIME_GRANTS, tenant_lock_key};

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

/// The store on the pool of either backend.
#[derive(Debug, Clone)]
pub struct SqlStore<DB: Database> {
    pool: Pool<DB>,
    /// Test hook (PostgreSQL): how long to stall between the deadline check
    /// and COMMIT (a process frozen at the worst moment).
    stall_before_commit: Option<Duration>,
}

/// The SQLite store (the embedded default).
pub type SqliteStore = SqlStore<Sqlite>;
/// The PostgreSQL store (production).
pub type PostgresStore = SqlStore<Postgres>;

impl<DB: Database> SqlStore<DB> {
    fn new(pool: Pool<DB>) -> Self {
        Self {
            pool,
            stall_before_commit: None,
        }
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
