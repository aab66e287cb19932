//! The tenant registry (`tenants` table) and its outbox writes, once for
//! both backends like [`super::users`]. Each change commits with its
//! TENANT_SETTINGS_CHANGED event in the affected tenant's trail.

use archive_common::{convert, db};
use async_trait::async_trait;
use audit_svc::outbox::Change;
use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Type};

use super::{SqlStore, users::outbox_insert};
use crate::{
    Error,
    tenants::{Tenant, TenantSpec, TenantState},
    tenants_audit,
};

/// Which tenants exist and whether their users are served. Tenants are
/// never deleted: removal is a state.
#[async_trait]
pub trait Tenants: Send + Sync + 'static {
    /// Registers a tenant, active, created at `change.at`, with its event;
    /// `None`, and no event, when the id is taken (in any state).
    async fn insert_tenant(
        &self,
        tenant: &TenantSpec,
        change: &Change,
    ) -> Result<Option<Tenant>, Error>;
    /// Registers a tenant that already has users (a `--bootstrap-admin`'s),
    /// active, named after its number, unless it is registered; with no
    /// event, as the migration registers the tenants it finds: the admin's
    /// own creation is the tenant's first event.
    async fn register_tenant(&self, tenant_id: &str, at: DateTime<Utc>) -> Result<bool, Error>;
    async fn get_tenant(&self, tenant_id: &str) -> Result<Option<Tenant>, Error>;
    /// Tenants ordered by id, those after `after` (exclusive), at most
    /// `limit`; removed ones only with `show_removed`.
    async fn list_tenants(
        &self,
        after: &str,
        limit: u32,
        show_removed: bool,
    ) -> Result<Vec<Tenant>, Error>;
    /// Moves a tenant to `to` with its event (before → after); already
    /// there: unchanged, no event; a move [`TenantState::may_become`] does
    /// not allow: FAILED_PRECONDITION. `None`: no such tenant.
    async fn set_tenant_state(
        &self,
        tenant_id: &str,
        to: TenantState,
        change: &Change,
    ) -> Result<Option<Tenant>, Error>;
}

const COLUMNS: &str = "tenant_id, display_name, state, create_time, update_time";

fn insert_sql() -> String {
    format!(
        "INSERT INTO tenants ({COLUMNS}) VALUES ($1, $2, $3, $4, $4) \
         ON CONFLICT (tenant_id) DO NOTHING RETURNING {COLUMNS}"
    )
}

fn select_sql() -> String {
    format!("SELECT {COLUMNS} FROM tenants WHERE tenant_id = $1")
}

fn list_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM tenants WHERE tenant_id > $1 AND ($2 OR state <> 'removed') \
         ORDER BY tenant_id LIMIT $3"
    )
}

fn update_sql() -> String {
    format!(
        "UPDATE tenants SET state = $2, update_time = $3 WHERE tenant_id = $1 RETURNING {COLUMNS}"
    )
}

/// Takes the row's write lock first, so the "before" a change records is
/// the row it replaces on both backends (as the users' `LOCK_SQL`).
const LOCK_SQL: &str = "UPDATE tenants SET update_time = update_time WHERE tenant_id = $1";

#[derive(sqlx::FromRow)]
struct TenantRow {
    tenant_id: String,
    display_name: String,
    state: String,
    create_time: i64,
    update_time: i64,
}

impl TryFrom<TenantRow> for Tenant {
    type Error = Error;

    fn try_from(r: TenantRow) -> Result<Self, Error> {
        // The column's CHECK allows only the three; anything else is a schema bug.
        let state = TenantState::parse(&r.state).ok_or_else(|| {
            Error::Database(sqlx::Error::Decode(
                format!("tenant {} has state {:?}", r.tenant_id, r.state).into(),
            ))
        })?;
        Ok(Self {
            tenant_id: r.tenant_id,
            display_name: r.display_name,
            state,
            create_time: convert::from_micros(r.create_time),
            update_time: convert::from_micros(r.update_time),
        })
    }
}

#[async_trait]
impl<DB> Tenants for SqlStore<DB>
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
    for<'r> i64: Decode<'r, DB>,
    db::Pool: From<Pool<DB>>,
{
    async fn insert_tenant(
        &self,
        tenant: &TenantSpec,
        change: &Change,
    ) -> Result<Option<Tenant>, Error> {
        let sql = insert_sql();
        let mut tx = self.pool.begin().await?;
        let Some(row) = sqlx::query_as::<_, TenantRow>(&sql)
            .bind(tenant.tenant_id.as_str())
            .bind(tenant.display_name.as_str())
            .bind(TenantState::Active.as_str())
            .bind(convert::micros(change.at))
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let created = Tenant::try_from(row)?;
        let event = tenants_audit::created(change, &created);
        outbox_insert(&created.tenant_id, &event, change)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(created))
    }

    async fn register_tenant(&self, tenant_id: &str, at: DateTime<Utc>) -> Result<bool, Error> {
        let name = format!("Customer {tenant_id}");
        let registered = sqlx::query_as::<_, TenantRow>(&insert_sql())
            .bind(tenant_id)
            .bind(name.as_str())
            .bind(TenantState::Active.as_str())
            .bind(convert::micros(at))
            .fetch_optional(&self.pool)
            .await?;
        Ok(registered.is_some())
    }

    async fn get_tenant(&self, tenant_id: &str) -> Result<Option<Tenant>, Error> {
        sqlx::query_as::<_, TenantRow>(&select_sql())
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?
            .map(Tenant::try_from)
            .transpose()
    }

    async fn list_tenants(
        &self,
        after: &str,
        limit: u32,
        show_removed: bool,
    ) -> Result<Vec<Tenant>, Error> {
        sqlx::query_as::<_, TenantRow>(&list_sql())
            .bind(after)
            .bind(show_removed)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(Tenant::try_from)
            .collect()
    }

    async fn set_tenant_state(
        &self,
        tenant_id: &str,
        to: TenantState,
        change: &Change,
    ) -> Result<Option<Tenant>, Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(LOCK_SQL)
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?;
        let Some(before) = sqlx::query_as::<_, TenantRow>(&select_sql())
            .bind(tenant_id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let before = Tenant::try_from(before)?;
        if before.state == to {
            return Ok(Some(before));
        }
        if !before.state.may_become(to) {
            return Err(Error::FailedPrecondition(refusal(&before, to)));
        }
        let after = sqlx::query_as::<_, TenantRow>(&update_sql())
            .bind(tenant_id)
            .bind(to.as_str())
            .bind(convert::micros(change.at))
            .fetch_one(&mut *tx)
            .await?;
        let after = Tenant::try_from(after)?;
        let event = tenants_audit::state_changed(change, &before, &after);
        outbox_insert(tenant_id, &event, change)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(after))
    }
}

/// Why a tenant cannot go from where it is to `to`, and what to do instead.
fn refusal(tenant: &Tenant, to: TenantState) -> String {
    let id = &tenant.tenant_id;
    match (tenant.state, to) {
        (TenantState::Removed, _) => format!("tenant {id} is removed, which is final"),
        (TenantState::Active, TenantState::Removed) => {
            format!("tenant {id} is active: suspend it before removing it")
        }
        (from, to) => format!(
            "tenant {id} cannot go from {} to {}",
            from.as_str(),
            to.as_str()
        ),
    }
}
