//! Where users live: one small trait, one SQLite and one PostgreSQL
//! implementation sharing the SQL text below (sqlx takes `$n` on both).

mod postgres;
mod shared;
mod sqlite;

use std::sync::Arc;

use archive_common::{convert, db};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use crate::{
    Error,
    model::{Permissions, User, UserSpec},
};

/// The users of every tenant; every method is scoped to one tenant.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Answers when the database does (readiness).
    async fn ping(&self) -> Result<(), Error>;
    /// Adds a user; `None` when the tenant already has one with that id.
    async fn insert_user(
        &self,
        tenant: &str,
        user: &UserSpec,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, Error>;
    async fn get_user(&self, tenant: &str, user_id: &str) -> Result<Option<User>, Error>;
    /// Users ordered by id, those after `after` (exclusive), at most `limit`.
    async fn list_users(&self, tenant: &str, after: &str, limit: u32) -> Result<Vec<User>, Error>;
    /// Replaces a user's names and permissions; `None` when there is no such user.
    async fn update_user(
        &self,
        tenant: &str,
        user: &UserSpec,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, Error>;
    /// Whether a user was removed.
    async fn delete_user(&self, tenant: &str, user_id: &str) -> Result<bool, Error>;
}

/// Connects by URL and brings the schema up to date.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, Error> {
    Ok(match db::connect(url).await? {
        db::Pool::Sqlite(pool) => {
            sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
            Arc::new(SqliteStore::new(pool))
        }
        db::Pool::Postgres(pool) => {
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
            Arc::new(PostgresStore::new(pool))
        }
    })
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

const DELETE_SQL: &str = "DELETE FROM users WHERE tenant = $1 AND user_id = $2";

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
