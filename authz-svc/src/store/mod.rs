//! Where users live: one small trait, implemented once for SQLite and
//! PostgreSQL alike ([`users`]: the SQL is the same text on both), and the
//! schema step of either backend. Every user change writes its
//! PERMISSION_CHANGED event to the store's audit outbox in the change's own
//! transaction.

mod roles;
mod tenants;
mod users;

use std::sync::Arc;

use archive_common::db::{self, grant_runtime_role, prepare_schema};
use async_trait::async_trait;
use audit_svc::outbox::{Change, SqlOutbox};

pub use tenants::Tenants;
pub use users::{PostgresStore, SqlStore, SqliteStore};

use crate::{
    Error,
    model::{User, UserSpec},
    role::{Role, RoleSpec},
    scope::Scopes,
};

/// The users of every tenant; every method is scoped to one tenant. A
/// change is made as `change` (its actor, time and context), which its
/// PERMISSION_CHANGED event records.
#[async_trait]
pub trait Store: Roles + Tenants + Send + Sync + 'static {
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

/// The tenant's own roles (the built-in ones are code, not rows); each
/// change with its PERMISSION_CHANGED event, like a user's.
#[async_trait]
pub trait Roles: Send + Sync {
    /// The tenant's roles by id.
    async fn list_roles(&self, tenant: &str) -> Result<Vec<Role>, Error>;
    /// Adds a role; `None`, and no event, when the id is taken.
    async fn insert_role(
        &self,
        tenant: &str,
        role: &RoleSpec,
        change: &Change,
    ) -> Result<Option<Role>, Error>;
    /// Replaces a role's name, rights and scopes (an event when they
    /// differ); `None` when there is no such role.
    async fn update_role(
        &self,
        tenant: &str,
        role: &RoleSpec,
        change: &Change,
    ) -> Result<Option<Role>, Error>;
    /// Removes a role nobody holds, in one transaction with the check.
    async fn delete_role(
        &self,
        tenant: &str,
        role_id: &str,
        change: &Change,
    ) -> Result<RoleRemoval, Error>;
}

/// What [`Roles::delete_role`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleRemoval {
    Removed,
    NotFound,
    /// Not removed: these users (by id, at most a page) hold it.
    Held(Vec<String>),
}

/// A stored encoded `Scopes` (empty bytes: every right over every call).
fn decode_scopes(bytes: &[u8]) -> Result<Scopes, Error> {
    use prost::Message as _;
    Scopes::decode(bytes).map_err(|e| Error::Database(sqlx::Error::Decode(Box::new(e))))
}

/// A user's roles as one column, `,a,b,` (empty: none), so that
/// `roles LIKE '%,id,%'` finds a role's holders; ids have no commas.
mod role_list {
    pub(super) fn write(roles: &[String]) -> String {
        if roles.is_empty() {
            String::new()
        } else {
            format!(",{},", roles.join(","))
        }
    }

    pub(super) fn read(column: &str) -> Vec<String> {
        column
            .split(',')
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The `LIKE` pattern of a role's holders.
    pub(super) fn holders(role_id: &str) -> String {
        format!("%,{role_id},%")
    }
}

/// The migrations of each backend.
pub static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
pub static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// What authz-svc's runtime database role is granted by `authz-svc migrate
/// --grant-to ROLE` (PostgreSQL): rows of its own tables, no DDL.
pub const RUNTIME_GRANTS: &[&str] = &[
    "SELECT, INSERT, UPDATE, DELETE ON users, roles, audit_outbox",
    "SELECT, INSERT, UPDATE ON tenants",
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
            Arc::new(SqlStore::new(p.clone()))
        }
        db::Pool::Postgres(ref p) => {
            prepare_schema(&pool, &POSTGRES_MIGRATIONS, migrate, SERVICE).await?;
            Arc::new(SqlStore::new(p.clone()))
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
