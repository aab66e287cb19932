//! The users table and its outbox writes, once for both backends: the SQL is
//! the same text on SQLite and PostgreSQL (sqlx numbers `$N` on both), so
//! [`SqlStore`] is generic over the sqlx database. Each change and its audit
//! event commit in one transaction.

use archive_common::{convert, db};
use archive_proto::v1::AuditEvent;
use async_trait::async_trait;
use audit_svc::outbox::{Change, SqlOutbox};
use prost::Message as _;
use sqlx::{
    ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Postgres, Sqlite, Type,
    query::{Query, QueryAs},
};

use super::{Store, decode_scopes, role_list};
use crate::{
    Error,
    model::{Permissions, User, UserSpec},
};

/// The store on the pool of either backend.
#[derive(Debug, Clone)]
pub struct SqlStore<DB: Database> {
    pub(super) pool: Pool<DB>,
}

/// The SQLite store (the embedded default).
pub type SqliteStore = SqlStore<Sqlite>;
/// The PostgreSQL store (production).
pub type PostgresStore = SqlStore<Postgres>;

impl<DB: Database> SqlStore<DB> {
    /// Wraps a pool whose schema is already migrated (see [`super::open`]).
    pub fn new(pool: Pool<DB>) -> Self {
        Self { pool }
    }
}

const COLUMNS: &str = "user_id, display_name, agent_name, play_recordings, download_recordings, \
     delete_recordings, require_reason, view_audit_log, admin, scopes, roles, disabled, \
     create_time, update_time";

fn insert_sql() -> String {
    format!(
        "INSERT INTO users (tenant, {COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
         $11, $12, $13, $14, $15) ON CONFLICT (tenant, user_id) DO NOTHING RETURNING {COLUMNS}"
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
         view_audit_log = $9, admin = $10, scopes = $11, roles = $12, disabled = $13, \
         update_time = $14 \
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
    scopes: Vec<u8>,
    roles: String,
    disabled: bool,
    create_time: i64,
    update_time: i64,
}

impl TryFrom<UserRow> for User {
    type Error = Error;

    fn try_from(r: UserRow) -> Result<Self, Error> {
        Ok(Self {
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
            scopes: decode_scopes(&r.scopes)?,
            roles: role_list::read(&r.roles),
            disabled: r.disabled,
            create_time: convert::from_micros(r.create_time),
            update_time: convert::from_micros(r.update_time),
        })
    }
}

/// Binds the parameters `$1..$14` of [`insert_sql`] and [`update_sql`] alike.
fn bind_user<'q, DB, O>(
    query: QueryAs<'q, DB, O, DB::Arguments<'q>>,
    tenant: &'q str,
    user: &'q UserSpec,
    now: i64,
) -> QueryAs<'q, DB, O, DB::Arguments<'q>>
where
    DB: Database,
    &'q str: Encode<'q, DB> + Type<DB>,
    bool: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
    Vec<u8>: Encode<'q, DB> + Type<DB>,
    String: Encode<'q, DB> + Type<DB>,
{
    let p = &user.permissions;
    query
        .bind(tenant)
        .bind(user.user_id.as_str())
        .bind(user.display_name.as_str())
        .bind(user.agent_name.as_str())
        .bind(p.play_recordings)
        .bind(p.download_recordings)
        .bind(p.delete_recordings)
        .bind(p.require_reason)
        .bind(p.view_audit_log)
        .bind(p.admin)
        .bind(user.scopes.encode_to_vec())
        .bind(role_list::write(&user.roles))
        .bind(user.disabled)
        .bind(now)
}

/// Queues `event` in the outbox, due at the change's time.
pub(super) fn outbox_insert<'q, DB>(
    tenant: &'q str,
    event: &AuditEvent,
    change: &Change,
) -> Query<'q, DB, DB::Arguments<'q>>
where
    DB: Database,
    &'q str: Encode<'q, DB> + Type<DB>,
    Vec<u8>: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
{
    sqlx::query(audit_svc::outbox::INSERT)
        .bind(tenant)
        .bind(event.encode_to_vec())
        .bind(convert::micros(change.at))
}

#[async_trait]
impl<DB> Store for SqlStore<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> bool: Decode<'r, DB>,
    for<'r> i64: Decode<'r, DB>,
    for<'r> Vec<u8>: Decode<'r, DB>,
    for<'q> String: Encode<'q, DB>,
    db::Pool: From<Pool<DB>>,
{
    async fn ping(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn outbox(&self) -> SqlOutbox {
        SqlOutbox::new(self.pool.clone().into())
    }

    async fn insert_user(
        &self,
        tenant: &str,
        user: &UserSpec,
        change: &Change,
    ) -> Result<Option<User>, Error> {
        let now = convert::micros(change.at);
        let sql = insert_sql();
        let mut tx = self.pool.begin().await?;
        let Some(row) = bind_user(sqlx::query_as::<_, UserRow>(&sql), tenant, user, now)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let event = crate::audit::created(change, user);
        outbox_insert(tenant, &event, change)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(User::try_from(row)?))
    }

    async fn get_user(&self, tenant: &str, user_id: &str) -> Result<Option<User>, Error> {
        let row = sqlx::query_as::<_, UserRow>(&select_sql())
            .bind(tenant)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(User::try_from).transpose()
    }

    async fn list_users(&self, tenant: &str, after: &str, limit: u32) -> Result<Vec<User>, Error> {
        let rows = sqlx::query_as::<_, UserRow>(&list_sql())
            .bind(tenant)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(User::try_from).collect()
    }

    async fn update_user(
        &self,
        tenant: &str,
        user: &UserSpec,
        change: &Change,
    ) -> Result<Option<User>, Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(LOCK_SQL)
            .bind(tenant)
            .bind(user.user_id.as_str())
            .execute(&mut *tx)
            .await?;
        let Some(before) = sqlx::query_as::<_, UserRow>(&select_sql())
            .bind(tenant)
            .bind(user.user_id.as_str())
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let before = User::try_from(before)?;
        let sql = update_sql();
        let now = convert::micros(change.at);
        let after = bind_user(sqlx::query_as::<_, UserRow>(&sql), tenant, user, now)
            .fetch_one(&mut *tx)
            .await?;
        if let Some(event) = crate::audit::updated(change, &before, user) {
            outbox_insert(tenant, &event, change)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Some(User::try_from(after)?))
    }

    async fn delete_user(
        &self,
        tenant: &str,
        user_id: &str,
        change: &Change,
    ) -> Result<bool, Error> {
        let mut tx = self.pool.begin().await?;
        let Some(before) = sqlx::query_as::<_, UserRow>(&delete_sql())
            .bind(tenant)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(false);
        };
        let event = crate::audit::deleted(change, &User::try_from(before)?);
        outbox_insert(tenant, &event, change)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}
