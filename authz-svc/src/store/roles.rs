//! The tenant's own roles ([`Roles`]), once for both backends like the
//! users: rights and scopes stored as their encoded messages, each change
//! committed with its PERMISSION_CHANGED event. A role is removed only while
//! no user holds it, checked in the removing transaction.

use archive_common::{convert, db};
use async_trait::async_trait;
use audit_svc::outbox::Change;
use prost::Message as _;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Type};

use super::{RoleRemoval, Roles, decode_scopes, role_list, users::outbox_insert};
use crate::{
    Error,
    model::Permissions,
    role::{Role, RoleSpec},
    store::SqlStore,
};

const COLUMNS: &str = "role_id, display_name, permissions, scopes, create_time, update_time";

/// Holders named in a refusal at most.
const HOLDERS_NAMED: i64 = 20;

#[derive(sqlx::FromRow)]
struct RoleRow {
    role_id: String,
    display_name: String,
    permissions: Vec<u8>,
    scopes: Vec<u8>,
    create_time: i64,
    update_time: i64,
}

impl TryFrom<RoleRow> for Role {
    type Error = Error;

    fn try_from(r: RoleRow) -> Result<Self, Error> {
        let permissions = Permissions::decode(r.permissions.as_slice())
            .map_err(|e| Error::Database(sqlx::Error::Decode(Box::new(e))))?;
        Ok(Self {
            role_id: r.role_id,
            display_name: r.display_name,
            permissions,
            scopes: decode_scopes(&r.scopes)?,
            built_in: false,
            create_time: convert::from_micros(r.create_time),
            update_time: convert::from_micros(r.update_time),
        })
    }
}

#[derive(sqlx::FromRow)]
struct Holder {
    user_id: String,
}

fn select_one() -> String {
    format!("SELECT {COLUMNS} FROM roles WHERE tenant = $1 AND role_id = $2")
}

#[async_trait]
impl<DB> Roles for SqlStore<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    for<'r> String: Decode<'r, DB>,
    for<'r> i64: Decode<'r, DB>,
    for<'r> Vec<u8>: Decode<'r, DB>,
    db::Pool: From<Pool<DB>>,
{
    async fn list_roles(&self, tenant: &str) -> Result<Vec<Role>, Error> {
        let sql = format!("SELECT {COLUMNS} FROM roles WHERE tenant = $1 ORDER BY role_id");
        let rows = sqlx::query_as::<_, RoleRow>(&sql)
            .bind(tenant)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(Role::try_from).collect()
    }

    async fn insert_role(
        &self,
        tenant: &str,
        role: &RoleSpec,
        change: &Change,
    ) -> Result<Option<Role>, Error> {
        let now = convert::micros(change.at);
        let sql = format!(
            "INSERT INTO roles (tenant, {COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (tenant, role_id) DO NOTHING RETURNING {COLUMNS}"
        );
        let mut tx = self.pool.begin().await?;
        let Some(row) = sqlx::query_as::<_, RoleRow>(&sql)
            .bind(tenant)
            .bind(role.role_id.clone())
            .bind(role.display_name.clone())
            .bind(role.permissions.encode_to_vec())
            .bind(role.scopes.encode_to_vec())
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let event = crate::audit::role_created(change, role);
        outbox_insert(tenant, &event, change)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(Role::try_from(row)?))
    }

    async fn update_role(
        &self,
        tenant: &str,
        role: &RoleSpec,
        change: &Change,
    ) -> Result<Option<Role>, Error> {
        let mut tx = self.pool.begin().await?;
        // The row's write lock first, so "before" is the row replaced.
        sqlx::query(
            "UPDATE roles SET update_time = update_time WHERE tenant = $1 AND role_id = $2",
        )
        .bind(tenant)
        .bind(role.role_id.clone())
        .execute(&mut *tx)
        .await?;
        let Some(before) = sqlx::query_as::<_, RoleRow>(&select_one())
            .bind(tenant)
            .bind(role.role_id.clone())
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let before = Role::try_from(before)?;
        let sql = format!(
            "UPDATE roles SET display_name = $3, permissions = $4, scopes = $5, update_time = $6 \
             WHERE tenant = $1 AND role_id = $2 RETURNING {COLUMNS}"
        );
        let after = sqlx::query_as::<_, RoleRow>(&sql)
            .bind(tenant)
            .bind(role.role_id.clone())
            .bind(role.display_name.clone())
            .bind(role.permissions.encode_to_vec())
            .bind(role.scopes.encode_to_vec())
            .bind(convert::micros(change.at))
            .fetch_one(&mut *tx)
            .await?;
        if let Some(event) = crate::audit::role_updated(change, &before, role) {
            outbox_insert(tenant, &event, change)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Some(Role::try_from(after)?))
    }

    async fn delete_role(
        &self,
        tenant: &str,
        role_id: &str,
        change: &Change,
    ) -> Result<RoleRemoval, Error> {
        let mut tx = self.pool.begin().await?;
        let Some(before) = sqlx::query_as::<_, RoleRow>(&format!(
            "DELETE FROM roles WHERE tenant = $1 AND role_id = $2 RETURNING {COLUMNS}"
        ))
        .bind(tenant)
        .bind(role_id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(RoleRemoval::NotFound);
        };
        let holders: Vec<Holder> = sqlx::query_as(
            "SELECT user_id FROM users WHERE tenant = $1 AND roles LIKE $2 ORDER BY user_id LIMIT $3",
        )
        .bind(tenant)
        .bind(role_list::holders(role_id))
        .bind(HOLDERS_NAMED)
        .fetch_all(&mut *tx)
        .await?;
        if !holders.is_empty() {
            // Dropping the transaction rolls the delete back.
            return Ok(RoleRemoval::Held(
                holders.into_iter().map(|h| h.user_id).collect(),
            ));
        }
        let event = crate::audit::role_deleted(change, &Role::try_from(before)?);
        outbox_insert(tenant, &event, change)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(RoleRemoval::Removed)
    }
}
