//! Where users live: one small trait, one SQLite and one PostgreSQL
//! implementation sharing the SQL text below (sqlx takes `$n` on both).
//! Every user change writes its PERMISSION_CHANGED event to the store's
//! audit outbox in the change's own transaction.

mod postgres;
mod shared;
mod sqlite;

use std::sync::Arc;

use archive_common::{
    convert,
    db::{self, grant_runtime_role, prepare_schema},
};
use async_trait::async_trait;
use audit_svc::outbox::{Change, SqlOutbox};

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use crate::{
    Error,
    model::{Permissions, User, UserSpec},
};

/// The users of every tenant; every method is scoped to one tenant. A
/// change is made as `change` (its actor, time and context), which its
/// PERMISSION_CHANGED event records.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Answers when the database does (readiness).
    async fn ping(&self) -> Result<(), Error>;
    /// The audit outbox the changes write to, for its relay.
    fn outbox(&self) -> SqlOutbox;
    /// Adds a user (created and updated at `change.at`) with its event;
    /// `None`, and no event, when the tenant already has one with that id.
    async fn insert_user(
        &self,
        tenant: &str,
        user: &UserSpec,
        change: &Change,
    ) -> Result<Option<User>, Error>;
    async fn get_user(&self, tenant: &str, user_id: &str) -> Result<Option<User>, Error>;
    /// Users ordered by id, those after `after` (exclusive), at most `limit`.
    async fn list_users(&self, tenant: &str, after: &str, limit: u32) -> Result<Vec<User>, Error>;
    /// Replaces a user's names and permissions, with an event (before →
    /// after) when they differ; `None` when there is no such user.
    async fn update_user(
        &self,
        tenant: &str,
        user: &UserSpec,
        change: &Change,
    ) -> Result<Option<User>, Error>;
    /// Whether a user was removed (with its event).
    async fn delete_user(
        &self,
        tenant: &str,
        user_id: &str,
        change: &Change,
    ) -> Result<bool, Error>;
}

/// The migrations of each backend.
pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
pub static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// What authz-svc's runtime database role is granted by `authz-svc migrate
/// --grant-to ROLE` (PostgreSQL): rows of its own tables, no DDL.
pub const RUNTIME_GRANTS: &[&str] = &[
    "SELECT, INSERT, UPDATE, DELETE ON users, audit_outbox",
    "USAGE ON SEQUENCE audit_outbox_seq_seq",
];

/// The service name the schema step reports (`authz-svc migrate`).
const SERVICE: &str = "authz-svc";

/// Connects by URL: applies the migrations when `migrate` is set (the
/// owner's `migrate` step, the embedded suite, tests), else checks the
/// schema is current and fails naming the command.
pub async fn open(url: &str, migrate: bool) -> Result<Arc<dyn Store>, Error> {
    let pool = db::connect(url).await?;
    Ok(match pool {
        db::Pool::Sqlite(ref p) => {
            prepare_schema(&pool, &SQLITE_MIGRATIONS, migrate, SERVICE).await?;
            Arc::new(SqliteStore::new(p.clone()))
        }
        db::Pool::Postgres(ref p) => {
            prepare_schema(&pool, &POSTGRES_MIGRATIONS, migrate, SERVICE).await?;
            Arc::new(PostgresStore::new(p.clone()))
        }
    })
}

/// `authz-svc migrate`: applies the migrations as the database owner and,
/// with `grant_to`, grants that role exactly what the service needs
/// ([`RUNTIME_GRANTS`]; PostgreSQL only).
pub async fn migrate(url: &str, grant_to: Option<&str>) -> Result<(), Error> {
    let pool = db::connect(url).await?;
    match &pool {
        db::Pool::Sqlite(_) => {
            if grant_to.is_some() {
                return Err(Error::GrantNeedsPostgres);
            }
            prepare_schema(&pool, &SQLITE_MIGRATIONS, true, SERVICE).await?;
        }
        db::Pool::Postgres(p) => {
            prepare_schema(&pool, &POSTGRES_MIGRATIONS, true, SERVICE).await?;
            if let Some(role) = grant_to {
                grant_runtime_role(p, role, RUNTIME_GRANTS).await?;
            }
        }
    }
    Ok(())
}

const COLUMNS: &str = "user_id, display_name, agent_name, play_recordings, download_recordings, \
     delete_recordings, require_reason, view_audit_log, admin, create_time, update_time";

fn insert_sql() -> String {
    format!(
        "INSERT INTO users (tenant, {COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (tenant, user_id) DO NOTHING RETURNING {COLUMNS}"
    )
}

fn select_sql() -> String {
    format!("SELECT {COLUMNS} FROM users WHERE tenant = $1 AND user_id = $2")
}

fn list_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM users WHERE tenant = $1 AND user_id > $2 ORDER BY user_id LIMIT $3"
    )
}

fn update_sql() -> String {
    format!(
        "UPDATE users SET display_name = $3, agent_name = $4, play_recordings = $5, \
         download_recordings = $6, delete_recordings = $7, require_reason = $8, \
         view_audit_log = $9, admin = $10, update_time = $11 \
         WHERE tenant = $1 AND user_id = $2 RETURNING {COLUMNS}"
    )
}

fn delete_sql() -> String {
    format!("DELETE FROM users WHERE tenant = $1 AND user_id = $2 RETURNING {COLUMNS}")
}

/// Takes the user row's write lock first (a no-op update), so the "before"
/// an update records is the row it replaces, on both backends (SQLite has no
/// `FOR UPDATE`, and a read-then-write transaction could not upgrade its lock).
const LOCK_SQL: &str =
    "UPDATE users SET update_time = update_time WHERE tenant = $1 AND user_id = $2";

/// A `users` row as both backends return it.
#[derive(sqlx::FromRow)]
struct UserRow {
    user_id: String,
    display_name: String,
    agent_name: String,
    play_recordings: bool,
    download_recordings: bool,
    delete_recordings: bool,
    require_reason: bool,
    view_audit_log: bool,
    admin: bool,
    create_time: i64,
    update_time: i64,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        Self {
            user_id: r.user_id,
            display_name: r.display_name,
            agent_name: r.agent_name,
            permissions: Permissions {
                play_recordings: r.play_recordings,
                download_recordings: r.download_recordings,
                delete_recordings: r.delete_recordings,
                require_reason: r.require_reason,
                view_audit_log: r.view_audit_log,
                admin: r.admin,
            },
            create_time: convert::from_micros(r.create_time),
            update_time: convert::from_micros(r.update_time),
        }
    }
}

/// Binds the parameters `$1..` of [`insert_sql`] / `$1..$11` of [`update_sql`]
/// the same way on both backends.
macro_rules! bind_user {
    ($query:expr, $tenant:expr, $user:expr, $now:expr) => {{
        let p = &$user.permissions;
        $query
            .bind($tenant)
            .bind(&$user.user_id)
            .bind(&$user.display_name)
            .bind(&$user.agent_name)
            .bind(p.play_recordings)
            .bind(p.download_recordings)
            .bind(p.delete_recordings)
            .bind(p.require_reason)
            .bind(p.view_audit_log)
            .bind(p.admin)
            .bind($now)
    }};
}
use bind_user;
